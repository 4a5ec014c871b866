//! Ending voice access when a channel change takes it away: after the change commits,
//! the handler calls here, and the bus carries the room's new rights to every node.
//!
//! Like `announce`, these run after the commit and log instead of failing the request:
//! the change stands either way, and signaling re-checks rights on its own
//! ([`crate::access::may_stay_in_voice`]), so a missed message cannot keep anyone talking.

use cromulent_protocol::channel::{Channel, ChannelKind};

use super::rooms::RoomAccess;
use crate::access;
use crate::bus::BusMessage;
use crate::state::AppState;

/// After a member left `channel` or it became private: whoever is no longer admitted
/// leaves its room. Nothing to do for a text channel or a public voice channel, where
/// membership does not decide who may talk.
pub async fn recheck(state: &AppState, channel: &Channel) {
    if channel.kind != ChannelKind::Voice || !channel.is_private {
        return;
    }
    let access = async {
        let mut conn = state.db.pool().acquire().await?;
        access::voice_room_access(&mut conn, channel.id, channel.is_private).await
    };
    match access.await {
        Ok(Some(access)) => publish(state, channel, access).await,
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, channel_id = %channel.id, "could not re-check voice access"),
    }
}

/// After `channel` was deleted: everyone leaves its room.
pub async fn closed(state: &AppState, channel: &Channel) {
    if channel.kind == ChannelKind::Voice {
        publish(state, channel, RoomAccess::Closed).await;
    }
}

async fn publish(state: &AppState, channel: &Channel, access: RoomAccess) {
    state.bus.publish(BusMessage::VoiceAccess { channel_id: channel.id, access }).await;
}
