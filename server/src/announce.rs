//! Telling clients about committed changes: each function is called by a handler right
//! after its transaction commits (never before: a rolled-back change must not reach
//! anyone) and publishes the matching events on the bus, to exactly the sessions that
//! may see them.

use cromulent_protocol::channel::Channel;
use cromulent_protocol::event::Event;
use cromulent_protocol::feature_flag::FeatureFlags;
use cromulent_protocol::group::Group;
use cromulent_protocol::user::User;
use cromulent_protocol::Id;

use crate::access;
use crate::bus::{Audience, BusMessage};
use crate::state::AppState;
use crate::store;

/// Who may see `channel` right now.
async fn audience_of(state: &AppState, channel: &Channel) -> sqlx::Result<Audience> {
    let mut conn = state.db.pool().acquire().await?;
    access::audience(&mut conn, channel.id, channel.is_private).await
}

/// Logs instead of failing the request: the write is committed either way, and a
/// client that missed an event catches up over REST.
fn log_failure(what: &str, result: sqlx::Result<()>) {
    if let Err(e) = result {
        tracing::error!(error = %e, what, "could not announce a change");
    }
}

pub async fn channel_created(state: &AppState, channel: &Channel) {
    let result = async {
        let audience = audience_of(state, channel).await?;
        state.bus.event(audience, Event::ChannelCreate { channel: channel.clone() }).await;
        Ok(())
    };
    log_failure("channel_create", result.await);
}

/// `was_private` is the channel's privacy before the change: users who lost sight of
/// it are told it is gone for them, users who gained it are told it exists.
pub async fn channel_updated(state: &AppState, channel: &Channel, was_private: bool) {
    let result = async {
        let audience = audience_of(state, channel).await?;
        state.bus.event(audience, Event::ChannelUpdate { channel: channel.clone() }).await;
        if channel.is_private != was_private {
            let user_ids = store::memberships::outsiders(state.db.pool(), channel.id).await?;
            let event = if channel.is_private {
                Event::ChannelDelete { channel_id: channel.id }
            } else {
                Event::ChannelCreate { channel: channel.clone() }
            };
            state.bus.event(Audience::Users { user_ids }, event).await;
        }
        Ok(())
    };
    log_failure("channel_update", result.await);
}

/// `audience` must be read before the delete, while the memberships still exist.
pub async fn channel_deleted(state: &AppState, channel_id: Id, audience: Audience) {
    state.bus.event(audience, Event::ChannelDelete { channel_id }).await;
}

pub async fn member_joined(state: &AppState, channel: &Channel, user_id: Id) {
    let result = async {
        let audience = audience_of(state, channel).await?;
        state.bus.event(audience, Event::MemberJoin { channel_id: channel.id, user_id }).await;
        if channel.is_private {
            // The new member could not see the channel until now.
            let users = Audience::Users { user_ids: vec![user_id] };
            state.bus.event(users, Event::ChannelCreate { channel: channel.clone() }).await;
        }
        Ok(())
    };
    log_failure("member_join", result.await);
}

/// After the membership is gone: the remaining audience and the user hear of it; a
/// user who lost sight of a private channel is told it is gone for them, at once.
pub async fn member_left(state: &AppState, channel: &Channel, user_id: Id) {
    let result = async {
        let audience = audience_of(state, channel).await?;
        let event = Event::MemberLeave { channel_id: channel.id, user_id };
        state.bus.event(audience, event.clone()).await;
        let user = Audience::Users { user_ids: vec![user_id] };
        if channel.is_private {
            let is_admin =
                store::users::find_by_id(state.db.pool(), user_id).await?.is_some_and(|u| u.is_admin());
            state.bus.event(user.clone(), event).await;
            if !is_admin {
                state.bus.event(user, Event::ChannelDelete { channel_id: channel.id }).await;
            }
        }
        Ok(())
    };
    log_failure("member_leave", result.await);
}

pub async fn user_updated(state: &AppState, user: User) {
    state.bus.event(Audience::Everyone, Event::UserUpdate { user }).await;
}

/// A new role changes what the user may see (admins see every private channel).
pub async fn role_changed(state: &AppState, user: User) {
    let is_admin = user.role == cromulent_protocol::user::Role::Admin;
    state.bus.publish(BusMessage::RoleChange { user_id: user.id, is_admin }).await;
    user_updated(state, user).await;
}

pub async fn group_updated(state: &AppState, group: Group) {
    state.bus.event(Audience::Everyone, Event::GroupUpdate { group }).await;
}

pub async fn group_deleted(state: &AppState, group_id: Id) {
    state.bus.event(Audience::Everyone, Event::GroupDelete { group_id }).await;
}

pub async fn flags_updated(state: &AppState, feature_flags: FeatureFlags) {
    state.bus.event(Audience::Everyone, Event::FeatureFlagsUpdate { feature_flags }).await;
}
