//! The mention inbox: one row per user a message calls out, and who those users are.

use std::collections::BTreeSet;

use cromulent_protocol::channel::Channel;
use cromulent_protocol::message::Mention;
use cromulent_protocol::notification::{Notification, NotificationKind};
use cromulent_protocol::Id;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::Conn;

/// Read with [`VISIBLE_JOIN`]: a notification from a direct message is of that kind.
const COLUMNS: &str = "n.id, n.channel_id, n.message_id, n.actor_id, n.excerpt, n.created_at, n.read_at, \
                       CASE WHEN c.dm_key IS NULL THEN 0 ELSE 1 END AS in_dm";

/// Characters of the message kept in a notification.
pub const EXCERPT_CHARS: usize = 140;

/// Rows per multi-row insert: 100 rows of 7 parameters stay far below both databases'
/// limits on parameters per statement.
const INSERT_CHUNK: usize = 100;
const PARAMS_PER_ROW: usize = 7;

/// The start of a message body, for the inbox and OS notifications.
pub fn excerpt(body: &str) -> String {
    body.chars().take(EXCERPT_CHARS).collect()
}

fn from_row(row: &AnyRow) -> sqlx::Result<Notification> {
    Ok(Notification {
        id: Id(row.try_get("id")?),
        // The column holds `mention` for both kinds (its CHECK constraint allows no other);
        // where the message was tells them apart.
        kind: if super::flag(row, "in_dm")? {
            NotificationKind::DirectMessage
        } else {
            NotificationKind::Mention
        },
        channel_id: Id(row.try_get("channel_id")?),
        message_id: Id(row.try_get("message_id")?),
        actor_id: Id(row.try_get("actor_id")?),
        excerpt: row.try_get("excerpt")?,
        created_at: row.try_get("created_at")?,
        read_at: row.try_get("read_at")?,
    })
}

/// The channel a message was posted in, as far as who may see it goes.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub channel_id: Id,
    pub is_private: bool,
    /// A direct message: its participants alone see it, admins included.
    pub is_dm: bool,
}

impl Scope {
    pub fn of(channel: &Channel) -> Self {
        Self {
            channel_id: channel.id,
            is_private: channel.is_private,
            is_dm: channel.kind == cromulent_protocol::channel::ChannelKind::Dm,
        }
    }
}

/// Every user a message's mentions reach, without its author: named users, group
/// members, `@here` = whoever may see the channel and is `online` now, `@everyone` =
/// whoever may see the channel. Only users who may see the channel are notified (a
/// private channel: its members and admins).
pub async fn recipients(
    conn: &mut Conn,
    scope: Scope,
    mentions: &[Mention],
    author_id: Id,
    online: &BTreeSet<Id>,
) -> sqlx::Result<BTreeSet<Id>> {
    if mentions.is_empty() {
        return Ok(BTreeSet::new());
    }
    let viewers = viewers(conn, scope).await?;
    let mut users = BTreeSet::new();
    for mention in mentions {
        match mention {
            Mention::User { user_id } => {
                users.insert(*user_id);
            }
            Mention::Group { group_id } => {
                let members: Vec<i64> =
                    sqlx::query_scalar("SELECT user_id FROM group_memberships WHERE group_id = $1")
                        .bind(group_id.0)
                        .fetch_all(&mut *conn)
                        .await?;
                users.extend(members.into_iter().map(Id));
            }
            Mention::Here => users.extend(viewers.intersection(online).copied()),
            Mention::Everyone => users.extend(viewers.iter().copied()),
        }
    }
    users.retain(|id| viewers.contains(id) && *id != author_id);
    Ok(users)
}

/// Users who may see the channel: everyone for a public one; members and admins for a
/// private one; participants alone for a direct message (the rule of
/// [`crate::access::may_see`]).
async fn viewers(conn: &mut Conn, scope: Scope) -> sqlx::Result<BTreeSet<Id>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT u.id FROM users u WHERE $1 = 0 OR (u.role = 'admin' AND $3 = 0) \
         OR EXISTS (SELECT 1 FROM channel_memberships m WHERE m.channel_id = $2 AND m.user_id = u.id)",
    )
    .bind(super::flag_value(scope.is_private))
    .bind(scope.channel_id.0)
    .bind(super::flag_value(scope.is_dm))
    .fetch_all(&mut *conn)
    .await?;
    Ok(ids.into_iter().map(Id).collect())
}

/// The participants of a direct message who hear of every message in it: all but the
/// author, except those who chose `mentions` (their mentions come through
/// [`recipients`]) or `nothing`. No setting means every message, the default there.
pub async fn dm_recipients(conn: &mut Conn, channel_id: Id, author_id: Id) -> sqlx::Result<BTreeSet<Id>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT m.user_id FROM channel_memberships m \
         LEFT JOIN channel_notification_settings ns \
           ON ns.channel_id = m.channel_id AND ns.user_id = m.user_id \
         WHERE m.channel_id = $1 AND m.user_id <> $2 AND (ns.level IS NULL OR ns.level = 'all')",
    )
    .bind(channel_id.0)
    .bind(author_id.0)
    .fetch_all(&mut *conn)
    .await?;
    Ok(ids.into_iter().map(Id).collect())
}

/// Users who already hold a notification for the message.
pub async fn notified_users<'e>(
    ex: impl Executor<'e, Database = Any>,
    message_id: Id,
) -> sqlx::Result<BTreeSet<Id>> {
    let ids: Vec<i64> = sqlx::query_scalar("SELECT user_id FROM notifications WHERE message_id = $1")
        .bind(message_id.0)
        .fetch_all(ex)
        .await?;
    Ok(ids.into_iter().map(Id).collect())
}

/// Stores one notification per `(notification id, recipient)`, all about one message.
pub async fn insert_many(conn: &mut Conn, template: &Notification, to: &[(Id, Id)]) -> sqlx::Result<()> {
    for chunk in to.chunks(INSERT_CHUNK) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| {
                let p: Vec<String> =
                    (1..=PARAMS_PER_ROW).map(|n| format!("${}", i * PARAMS_PER_ROW + n)).collect();
                format!("({}, 'mention', {}, NULL)", p[..2].join(", "), p[2..].join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO notifications \
             (id, user_id, kind, channel_id, message_id, actor_id, excerpt, created_at, read_at) VALUES {}",
            rows.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for (id, user_id) in chunk {
            query = query
                .bind(id.0)
                .bind(user_id.0)
                .bind(template.channel_id.0)
                .bind(template.message_id.0)
                .bind(template.actor_id.0)
                .bind(&template.excerpt)
                .bind(template.created_at);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A notification stays readable while its owner may read the channel: a private
/// channel's excerpts are hidden from someone who has left it (admins see every channel
/// but other people's direct messages). Used with [`VISIBLE_JOIN`]; the admin flag is
/// bound as parameter `admin_param`.
fn visible(admin_param: u8) -> String {
    format!("(c.is_private = 0 OR m.user_id IS NOT NULL OR (${admin_param} = 1 AND c.dm_key IS NULL))")
}
const VISIBLE_JOIN: &str = "JOIN channels c ON c.id = n.channel_id \
     LEFT JOIN channel_memberships m ON m.channel_id = n.channel_id AND m.user_id = n.user_id";

/// One page of a user's inbox.
#[derive(Debug, Clone, Copy)]
pub struct InboxPage {
    pub user_id: Id,
    /// Admins see every private channel, so their notifications there stay listed.
    pub is_admin: bool,
    pub unread_only: bool,
    pub before: Option<Id>,
    pub limit: u32,
}

/// Newest first. Notifications from private channels the user has since left are
/// hidden: their excerpts would leak what the channel now keeps from them.
pub async fn list<'e>(
    ex: impl Executor<'e, Database = Any>,
    page: &InboxPage,
) -> sqlx::Result<Vec<Notification>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM notifications n {VISIBLE_JOIN}
         WHERE n.user_id = $1 AND n.id < $2 AND ($3 = 0 OR n.read_at IS NULL) AND {}
         ORDER BY n.id DESC LIMIT $5",
        visible(4)
    );
    let rows = sqlx::query(&sql)
        .bind(page.user_id.0)
        .bind(page.before.map_or(i64::MAX, |id| id.0))
        .bind(super::flag_value(page.unread_only))
        .bind(super::flag_value(page.is_admin))
        .bind(i64::from(page.limit))
        .fetch_all(ex)
        .await?;
    rows.iter().map(from_row).collect()
}

/// The user's own notification, if they may still read its channel; someone else's,
/// or one from a private channel they have left, is `None`.
pub async fn find_own<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: Id,
    user_id: Id,
    is_admin: bool,
) -> sqlx::Result<Option<Notification>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM notifications n {VISIBLE_JOIN} WHERE n.id = $1 AND n.user_id = $2 AND {}",
        visible(3)
    );
    let row = sqlx::query(&sql)
        .bind(id.0)
        .bind(user_id.0)
        .bind(super::flag_value(is_admin))
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Marks one of the user's notifications read (keeping the first time it was read).
pub async fn mark_read<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: Id,
    user_id: Id,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE notifications SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND user_id = $3",
    )
    .bind(now)
    .bind(id.0)
    .bind(user_id.0)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks read the user's notifications in a channel up to and including a message.
pub async fn mark_read_up_to<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: Id,
    channel_id: Id,
    message_id: Id,
    now: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE notifications SET read_at = $1 \
         WHERE user_id = $2 AND channel_id = $3 AND message_id <= $4 AND read_at IS NULL",
    )
    .bind(now)
    .bind(user_id.0)
    .bind(channel_id.0)
    .bind(message_id.0)
    .execute(ex)
    .await?;
    Ok(done.rows_affected())
}

/// Marks every unread notification of the user read; returns how many.
pub async fn mark_all_read<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: Id,
    now: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query("UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL")
        .bind(now)
        .bind(user_id.0)
        .execute(ex)
        .await?;
    Ok(done.rows_affected())
}
