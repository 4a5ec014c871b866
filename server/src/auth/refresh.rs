//! Trading a refresh token for the next one: rotation, reuse detection, and a short
//! grace for the retry of a refresh whose answer was lost on the way.

use std::time::Duration;

use super::secret;
use crate::bus::BusMessage;
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store;
use crate::store::sessions::{SecretKind, SessionKind, SessionRow};

/// Why a refresh token was not traded. None is retryable with the same token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    #[error("unknown refresh token")]
    Unknown,
    /// The login was revoked or expired. Sign in again.
    #[error("this login has ended; sign in again")]
    LoginEnded,
    /// The token was spent before: two holders, so the login is now revoked.
    #[error("this refresh token was already used; the login is revoked for safety")]
    Reused,
    #[error("rotating the refresh token")]
    Store(#[from] sqlx::Error),
}

/// Spends `presented` and returns its login with the refresh token that replaces it.
///
/// A token presented a second time means two holders: the login is revoked, unless it
/// is the immediately previous token, back within `grace` from the address that last
/// refreshed, and its replacement was never used: that is our own client retrying after
/// a lost response, and revoking would sign it out for the network's fault.
pub async fn rotate(
    state: &AppState,
    presented: &str,
    ip: Option<&str>,
    grace: Duration,
) -> Result<(SessionRow, String), RefreshError> {
    let digest = secret::digest(presented.trim());
    let mut tx = state.db.begin_write().await?;
    let (session, token) = store::sessions::find_by_secret(&mut *tx, &digest)
        .await?
        .filter(|(s, t)| s.kind == SessionKind::Refresh && t.kind == SecretKind::Refresh)
        .ok_or(RefreshError::Unknown)?;
    // A token's successor is the secret created when it was spent, found by that time:
    // every step of a login's chain must get a later millisecond than the one before,
    // or two rotations within one millisecond (or a clock stepping back) would make a
    // spent token's successor ambiguous, and a retry could void a token already traded.
    let now = now_ms().max(token.created_at + 1).max(token.spent_at.map_or(0, |spent| spent + 1));
    if !session.is_active(now) {
        return Err(RefreshError::LoginEnded);
    }
    let accepted = match token.spent_at {
        None => store::sessions::spend_secret(&mut *tx, &digest, now).await?,
        Some(_) if token.voided_at.is_some() => false,
        Some(spent_at) => {
            let recent = now - spent_at < super::ms(grace);
            let same_device = ip.is_some() && session.ip_address.as_deref() == ip;
            recent
                && same_device
                && store::sessions::void_unused_successor(&mut *tx, session.id, spent_at, now).await?
        }
    };
    if !accepted {
        store::sessions::revoke(&mut *tx, session.id, now).await?;
        tx.commit().await?;
        state.bus.publish(BusMessage::EndLogin { login_id: session.id }).await;
        tracing::warn!(session_id = %session.id, "refresh token reused; login revoked");
        return Err(RefreshError::Reused);
    }
    let next = secret::generate();
    store::sessions::add_secret(&mut *tx, &secret::digest(&next), SecretKind::Refresh, session.id, now)
        .await?;
    store::sessions::touch(&mut *tx, session.id, now, ip).await?;
    tx.commit().await?;
    Ok((session, next))
}
