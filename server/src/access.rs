//! Who may see, read and write a channel. Every handler that touches a channel's content
//! goes through here, so the rules live in one place.
//!
//! - Public channels are visible to and readable by every signed-in user.
//! - Private channels exist only for their members and for admins; everyone else gets
//!   `404 not_found`, so their names and ids do not leak.
//! - Posting needs membership; `admin_only` channels take posts from admins only;
//!   voice channels carry no text.
//! - A public voice room is open to everyone who sees it; a private one to its members
//!   only, admins included (see [`may_join_voice`] for why).
//! - Reacting needs membership too, but admin-only channels take reactions from every
//!   member (an announcement is read and acknowledged by all).
//! - Pinning is for admins, and for a message's author where everyone may write.
//! - A user in a timeout may not post, edit, react, pin, type or join a voice room
//!   ([`ensure_not_timed_out`]).
//! - A direct message is a private channel for its participants only: admins do not
//!   see other people's. It carries text and a voice room (a call); a participant who
//!   blocked another, or was blocked by one, may not write into it ([`ensure_not_blocked`]).

use cromulent_protocol::channel::{Channel, ChannelKind, WritePermission};
use cromulent_protocol::{ErrorCode, Id};

use crate::auth::Caller;
use crate::bus::Audience;
use crate::mention::Parsed;
use crate::store::channels::ChannelRow;
use crate::store::notifications::Scope;
use crate::store::{self, Conn};
use crate::voice::rooms::RoomAccess;

/// Why the caller may not do this in a channel. Not retryable: rights or the request
/// must change first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Denied {
    /// The channel does not exist or is private and the caller is not in it; the two
    /// look the same so a private channel's existence does not leak.
    #[error("no such channel")]
    Hidden,
    #[error("join the channel first")]
    NotMember,
    #[error("only admins may post in this channel")]
    AdminsOnly,
    /// `@everyone` or `@here` in a public channel by someone who is not an admin.
    #[error("only admins may mention @everyone or @here in a public channel")]
    MassMention,
    #[error("voice channels carry no text messages")]
    NoText,
    #[error("not a voice channel")]
    NotVoice,
    #[error("private voice rooms are for members: ask an admin to add you")]
    MembersOnlyRoom,
    /// Pinning by someone who is neither an admin nor, where everyone may write, the
    /// message's author.
    #[error("only admins, and a message's author where everyone may write, may pin it")]
    NotPinner,
    /// A moderator timed the caller out until `ends_at` (ms); retryable then.
    #[error("you are timed out and may not write or talk for now")]
    TimedOut { ends_at: i64 },
    /// The caller and someone in the direct message blocked one another.
    #[error("you cannot write here: you and someone in this conversation have blocked one another")]
    Blocked,
}

impl Denied {
    pub fn code(self) -> ErrorCode {
        match self {
            Denied::Hidden => ErrorCode::NotFound,
            Denied::NoText | Denied::NotVoice => ErrorCode::ValidationFailed,
            Denied::NotMember
            | Denied::AdminsOnly
            | Denied::MassMention
            | Denied::MembersOnlyRoom
            | Denied::NotPinner => ErrorCode::Forbidden,
            Denied::TimedOut { .. } => ErrorCode::TimedOut,
            Denied::Blocked => ErrorCode::Blocked,
        }
    }

    /// For a timeout: whole seconds until it ends, at least 1.
    pub fn retry_after_secs(self) -> Option<u64> {
        match self {
            Denied::TimedOut { ends_at } => {
                let left_ms = u64::try_from(ends_at - crate::ids::now_ms()).unwrap_or(0);
                Some(left_ms.div_ceil(1000).max(1))
            }
            _ => None,
        }
    }

    /// The request field at fault, when there is one.
    pub fn field(self) -> Option<&'static str> {
        match self {
            Denied::MassMention => Some("body"),
            Denied::NoText | Denied::NotVoice => Some("channel_id"),
            _ => None,
        }
    }
}

/// A rights check that could not finish, or that refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("checking rights")]
    Store(#[from] sqlx::Error),
}

/// A channel the caller may see, with their membership.
#[derive(Debug, Clone)]
pub struct ChannelAccess {
    row: ChannelRow,
    is_member: bool,
}

impl ChannelAccess {
    pub fn channel(&self) -> &Channel {
        &self.row.channel
    }

    pub fn id(&self) -> Id {
        self.row.channel.id
    }

    pub fn is_member(&self) -> bool {
        self.is_member
    }

    pub fn is_dm(&self) -> bool {
        self.row.channel.kind == ChannelKind::Dm
    }

    /// Refuses a post (or an edit: the same rules, checked again) the caller may not
    /// make here, mentions included.
    pub fn ensure_can_post_mentioning(&self, caller: &Caller, mentions: &Parsed) -> Result<(), Denied> {
        self.ensure_can_post(caller)?;
        // `@everyone` in a public channel reaches every account on the server; only admins
        // may ring that bell. In a private channel it reaches the members, who chose it.
        let mass = mentions.everyone || mentions.here;
        if mass && !self.channel().is_private && !caller.is_admin() {
            return Err(Denied::MassMention);
        }
        Ok(())
    }

    /// Refuses a post the caller may not make here.
    pub fn ensure_can_post(&self, caller: &Caller) -> Result<(), Denied> {
        let channel = self.channel();
        if channel.kind == ChannelKind::Voice {
            return Err(Denied::NoText);
        }
        if !self.is_member {
            return Err(Denied::NotMember);
        }
        if channel.write_permission == WritePermission::AdminOnly && !caller.is_admin() {
            return Err(Denied::AdminsOnly);
        }
        Ok(())
    }

    /// Refuses a reaction the caller may not add or take back here.
    pub fn ensure_can_react(&self) -> Result<(), Denied> {
        if self.channel().kind == ChannelKind::Voice {
            return Err(Denied::NoText);
        }
        if !self.is_member {
            return Err(Denied::NotMember);
        }
        Ok(())
    }

    /// Refuses pinning or unpinning a message by `author_id` that the caller may not.
    pub fn ensure_can_pin(&self, caller: &Caller, author_id: Id) -> Result<(), Denied> {
        if caller.is_admin() {
            return Ok(());
        }
        let open = self.channel().write_permission == WritePermission::Everyone;
        if !(open && author_id == caller.id()) {
            return Err(Denied::NotPinner);
        }
        // The author must still be able to post here (a member, a text channel).
        self.ensure_can_post(caller)
    }

    /// Refuses a `voice_join` the caller may not make here. A direct message's room (its
    /// call) is for its participants, the only ones who see it.
    pub fn ensure_can_join_voice(&self) -> Result<(), Denied> {
        let channel = self.channel();
        if !holds_voice(channel.kind) {
            return Err(Denied::NotVoice);
        }
        if !may_join_voice(channel.is_private, self.is_member) {
            return Err(Denied::MembersOnlyRoom);
        }
        Ok(())
    }
}

/// Refuses a write into a direct message whose participants include someone the caller
/// blocked or who blocked the caller. Other channels are not affected: a block there
/// only folds the blocked user's messages away in the blocker's client.
pub async fn ensure_not_blocked(
    conn: &mut Conn,
    caller: &Caller,
    channel: &ChannelAccess,
) -> Result<(), Error> {
    if !channel.is_dm() {
        return Ok(());
    }
    let mut others = store::dms::participants(&mut *conn, channel.id()).await?;
    others.retain(|id| *id != caller.id());
    if store::blocks::any_between(&mut *conn, caller.id(), &others).await? {
        return Err(Denied::Blocked.into());
    }
    Ok(())
}

/// Whether a channel of this kind has a voice room: voice channels, and direct messages
/// (their calls).
pub fn holds_voice(kind: ChannelKind) -> bool {
    matches!(kind, ChannelKind::Voice | ChannelKind::Dm)
}

/// Refuses every write (post, edit, typing, voice) by a user a moderator timed out.
pub async fn ensure_not_timed_out(conn: &mut Conn, caller: &Caller) -> Result<(), Error> {
    match store::moderation::active_timeout(&mut *conn, caller.id(), crate::ids::now_ms()).await? {
        Some(timeout) => Err(Denied::TimedOut { ends_at: timeout.ends_at }.into()),
        None => Ok(()),
    }
}

/// Whether a user who sees a voice channel may be in its room.
///
/// A public voice room needs no membership. Membership of a public channel means
/// "I follow its text": posting, unread and mention counts, the member list, and
/// default channels joining everyone. A voice room has no text, so joining its
/// membership on every call would only grow a member list nobody reads, add a database
/// write and a `member_join` broadcast to every `voice_join`, and leave the question of
/// what hanging up does to it; who is in a room right now is already the room's roster.
/// It also keeps every client (web, desktop app, CLI) working as it is: none of them
/// joins a voice channel before its room.
///
/// A private channel's membership is its access list, for voice as for text: only
/// members may be in its room. Admins see every private channel but, as for posting,
/// join it by adding themselves; losing membership takes a member out of the room at
/// once ([`voice_room_access`]).
pub fn may_join_voice(is_private: bool, is_member: bool) -> bool {
    !is_private || is_member
}

/// Whether the caller may be in the voice room of `channel_id` right now (and is not
/// timed out): checked when joining and again on signaling, so a removal the room has not applied yet (a lost
/// bus message, a join racing the change) still ends at the next signaling op.
pub async fn may_stay_in_voice(conn: &mut Conn, caller: &Caller, channel_id: Id) -> sqlx::Result<bool> {
    let Some(channel) = store::channels::find(&mut *conn, channel_id).await? else { return Ok(false) };
    if !holds_voice(channel.channel.kind) {
        return Ok(false);
    }
    let is_member = store::memberships::is_member(&mut *conn, channel_id, caller.id()).await?;
    // A timeout takes its user out of the room; this catches a removal the room missed.
    let timed_out =
        store::moderation::active_timeout(&mut *conn, caller.id(), crate::ids::now_ms()).await?.is_some();
    Ok(may_join_voice(channel.channel.is_private, is_member) && !timed_out)
}

/// Who may stay in a voice channel's room after a change to it: `None` when anyone who
/// sees it may (a public channel), else its members ([`may_join_voice`]).
pub async fn voice_room_access(
    conn: &mut Conn,
    channel_id: Id,
    is_private: bool,
) -> sqlx::Result<Option<RoomAccess>> {
    if !is_private {
        return Ok(None);
    }
    let members = store::memberships::list(&mut *conn, channel_id).await?;
    Ok(Some(RoomAccess::Members { user_ids: members.into_iter().map(|(user, _)| user).collect() }))
}

/// Whether a user may see a channel, from what the rules need. Admins see every private
/// channel, to manage it, but not direct messages: those are other people's
/// conversations, with nothing to manage.
pub fn may_see(channel: &Channel, is_member: bool, is_admin: bool) -> bool {
    !channel.is_private || is_member || (is_admin && channel.kind != ChannelKind::Dm)
}

/// Who may receive real-time events about a channel: everyone for a public one; for a
/// private one its current members (and admins, which the hub adds); for a direct
/// message its participants alone.
pub async fn audience(conn: &mut Conn, scope: Scope) -> sqlx::Result<Audience> {
    let Scope { channel_id, is_private, is_dm } = scope;
    if is_dm {
        let user_ids = store::dms::participants(&mut *conn, channel_id).await?;
        return Ok(Audience::Users { user_ids });
    }
    let private_members = if is_private {
        let members = store::memberships::list(&mut *conn, channel_id).await?;
        Some(members.into_iter().map(|(user, _)| user).collect())
    } else {
        None
    };
    Ok(Audience::Channel { channel_id, private_members })
}

/// The channel, if the caller may see it; [`Denied::Hidden`] otherwise (also for
/// private channels the caller is not in, so their existence is not revealed).
pub async fn visible_channel(
    conn: &mut Conn,
    caller: &Caller,
    channel_id: Id,
) -> Result<ChannelAccess, Error> {
    let row = store::channels::find(&mut *conn, channel_id).await?.ok_or(Denied::Hidden)?;
    let is_member = store::memberships::is_member(&mut *conn, channel_id, caller.id()).await?;
    if !may_see(&row.channel, is_member, caller.is_admin()) {
        return Err(Denied::Hidden.into());
    }
    Ok(ChannelAccess { row, is_member })
}

#[cfg(test)]
mod tests {
    use cromulent_protocol::channel::{Channel, ChannelKind, WritePermission};
    use cromulent_protocol::Id;

    use super::{may_join_voice, may_see};

    fn channel(kind: ChannelKind, is_private: bool) -> Channel {
        Channel {
            id: Id(1),
            name: "c".into(),
            kind,
            topic: None,
            is_default: false,
            is_private,
            write_permission: WritePermission::Everyone,
            voice_mode: None,
            created_at: 0,
        }
    }

    #[test]
    fn public_voice_rooms_are_open_and_private_ones_for_members() {
        assert!(may_join_voice(false, false), "a public room needs no membership");
        assert!(!may_join_voice(true, false), "a private room refuses non-members, admins too");
        assert!(may_join_voice(true, true), "members of a private channel may talk in it");
    }

    #[test]
    fn private_channels_are_for_members_and_admins() {
        let (public, private) = (channel(ChannelKind::Text, false), channel(ChannelKind::Text, true));
        assert!(may_see(&public, false, false), "public channels are open to all");
        assert!(!may_see(&private, false, false), "outsiders must not see a private channel");
        assert!(may_see(&private, true, false));
        assert!(may_see(&private, false, true), "admins manage every channel");
    }

    #[test]
    fn direct_messages_are_for_their_participants_alone() {
        let dm = channel(ChannelKind::Dm, true);
        assert!(may_see(&dm, true, false), "a participant reads the conversation");
        assert!(!may_see(&dm, false, true), "an admin must not read other people's direct messages");
        assert!(may_see(&dm, true, true), "an admin reads their own");
    }
}
