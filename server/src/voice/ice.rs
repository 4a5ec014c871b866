//! The ICE servers and transport policy handed to clients joining a voice room.

use cromulent_protocol::voice::{IceServer, IceTransportPolicy};
use cromulent_protocol::{Id, Timestamp};

use crate::state::AppState;
use crate::store::voice_privacy as privacy;
use crate::turn::Turn;

/// What a client needs to set up its peer connections.
#[derive(Debug, Clone, PartialEq)]
pub struct IceAccess {
    pub ice_servers: Vec<IceServer>,
    pub ice_transport_policy: IceTransportPolicy,
    /// When the TURN credentials stop working (ms since the epoch).
    pub expires_at: Timestamp,
}

/// STUN from the settings and the built-in server; TURN with fresh REST credentials
/// for `user_id` unless the `turn` feature flag is off.
pub fn ice_servers(
    stun_urls: &[String],
    turn: &Turn,
    turn_on: bool,
    user_id: Id,
) -> (Vec<IceServer>, Timestamp) {
    let mut servers = Vec::new();
    let stun: Vec<String> = stun_urls.iter().chain(turn.stun_urls()).cloned().collect();
    if !stun.is_empty() {
        servers.push(IceServer { urls: stun, username: None, credential: None });
    }
    let credentials = turn.credentials(user_id);
    if turn_on && !turn.turn_urls().is_empty() {
        servers.push(IceServer {
            urls: turn.turn_urls().to_vec(),
            username: Some(credentials.username),
            credential: Some(credentials.password),
        });
    }
    let expires_at = i64::try_from(credentials.expires_at).unwrap_or(i64::MAX / 1000) * 1000;
    (servers, expires_at)
}

/// Everything for `user_id`: servers, and `relay` when they or an admin chose it.
/// Relay-only stays `relay` even when TURN is off: the call then fails rather than
/// revealing addresses the user asked to keep private.
pub async fn for_user(state: &AppState, user_id: Id) -> sqlx::Result<IceAccess> {
    let flags = state.feature_flags().await?;
    let mut conn = state.db.pool().acquire().await?;
    let (own, forced) = privacy::for_user(&mut conn, user_id).await?;
    drop(conn);
    let (ice_servers, expires_at) = ice_servers(&state.config.stun_urls, &state.turn, flags.turn, user_id);
    let ice_transport_policy =
        if own || forced { IceTransportPolicy::Relay } else { IceTransportPolicy::All };
    Ok(IceAccess { ice_servers, ice_transport_policy, expires_at })
}
