//! Who may see, read and write a channel. Every handler that touches a channel's content
//! goes through here, so the rules live in one place.
//!
//! - Public channels are visible to and readable by every signed-in user.
//! - Private channels exist only for their members and for admins; everyone else gets
//!   `404 not_found`, so their names and ids do not leak.
//! - Posting needs membership; `admin_only` channels take posts from admins only;
//!   voice channels carry no text.

use cromulent_protocol::channel::{ChannelKind, WritePermission};
use cromulent_protocol::Id;

use crate::auth::Caller;
use crate::bus::Audience;
use crate::http::error::{HttpError, HttpResult};
use crate::store::channels::ChannelRow;
use crate::store::{self, Conn};

/// A channel the caller may see, with their membership.
#[derive(Debug, Clone)]
pub struct ChannelAccess {
    pub channel: ChannelRow,
    pub is_member: bool,
}

impl ChannelAccess {
    pub fn id(&self) -> Id {
        self.channel.channel.id
    }

    /// Refuses a post the caller may not make here.
    pub fn ensure_can_post(&self, caller: &Caller) -> HttpResult<()> {
        let channel = &self.channel.channel;
        if channel.kind == ChannelKind::Voice {
            return Err(HttpError::invalid("channel_id", "voice channels carry no text messages"));
        }
        if !self.is_member {
            return Err(HttpError::forbidden("join the channel first"));
        }
        if channel.write_permission == WritePermission::AdminOnly && !caller.is_admin() {
            return Err(HttpError::forbidden("only admins may post in this channel"));
        }
        Ok(())
    }
}

/// Whether a user may see a channel, from what the rules need.
pub fn may_see(is_private: bool, is_member: bool, is_admin: bool) -> bool {
    !is_private || is_member || is_admin
}

/// Who may receive real-time events about a channel: everyone for a public one; for a
/// private one its current members (and admins, which the hub adds).
pub async fn audience(conn: &mut Conn, channel_id: Id, is_private: bool) -> sqlx::Result<Audience> {
    let private_members = if is_private {
        let members = store::memberships::list(&mut *conn, channel_id).await?;
        Some(members.into_iter().map(|(user, _)| user).collect())
    } else {
        None
    };
    Ok(Audience::Channel { channel_id, private_members })
}

/// The channel, if the caller may see it; `404` otherwise (also for private channels the
/// caller is not in, so their existence is not revealed).
pub async fn visible_channel(conn: &mut Conn, caller: &Caller, channel_id: Id) -> HttpResult<ChannelAccess> {
    let channel = store::channels::find(&mut *conn, channel_id)
        .await?
        .ok_or_else(|| HttpError::not_found("channel"))?;
    let is_member = store::memberships::is_member(&mut *conn, channel_id, caller.id()).await?;
    if !may_see(channel.channel.is_private, is_member, caller.is_admin()) {
        return Err(HttpError::not_found("channel"));
    }
    Ok(ChannelAccess { channel, is_member })
}

#[cfg(test)]
mod tests {
    use super::may_see;

    #[test]
    fn private_channels_are_for_members_and_admins() {
        assert!(may_see(false, false, false), "public channels are open to all");
        assert!(!may_see(true, false, false), "outsiders must not see a private channel");
        assert!(may_see(true, true, false));
        assert!(may_see(true, false, true), "admins manage every channel");
    }
}
