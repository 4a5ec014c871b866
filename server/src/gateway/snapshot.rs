//! The `ready` snapshot: everything a client needs to draw its first screen.

use cromulent_protocol::channel::ChannelListEntry;
use cromulent_protocol::gateway::{ControlFrame, ReadySnapshot};
use cromulent_protocol::limits::ServerLimits;
use cromulent_protocol::Id;

use crate::access::may_see;
use crate::auth::Caller;
use crate::state::AppState;
use crate::store;

pub async fn ready(state: &AppState, caller: &Caller, session_id: Id) -> sqlx::Result<ControlFrame> {
    let pool = state.db.pool();
    let channels: Vec<ChannelListEntry> = store::channels::list_visible(pool, caller.id(), caller.is_admin())
        .await?
        .into_iter()
        .map(store::channels::VisibleChannel::into_entry)
        .collect();
    let users = store::users::list(pool).await?.iter().map(|u| u.to_public()).collect();
    let hub = &state.gateway.hub;
    // Rooms of channels the caller cannot see are left out, participants and all.
    let voice_rooms = hub
        .voice_rooms()
        .into_iter()
        .filter(|room| {
            channels.iter().any(|c| {
                c.channel.id == room.channel_id && may_see(&c.channel, c.is_member, caller.is_admin())
            })
        })
        .collect();
    let snapshot = ReadySnapshot {
        user: caller.user.to_own(),
        users,
        channels,
        presences: hub.presences(),
        voice_rooms,
        feature_flags: state.feature_flags().await?,
        limits: ServerLimits { attachment_max_bytes: state.attachments.config.attachment_max_bytes },
    };
    Ok(ControlFrame::Ready { session_id, snapshot: Box::new(snapshot) })
}
