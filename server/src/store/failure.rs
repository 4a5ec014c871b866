//! What a failed query means to whoever asked: the database is away, a name that must be
//! unique is taken, or a bug. Both edges (HTTP and the gateway) answer from this, so a
//! failure carries the same code wherever it surfaces.

use cromulent_protocol::ErrorCode;

/// A unique constraint a request can run into. Handlers check these names before they
/// write; the constraint decides only the lost race between two identical requests.
/// Ids, secrets and invite codes are drawn at random and have no variant here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unique {
    /// `users_email_key`: the address is registered.
    Email,
    /// `users_username_key`: the name is taken (compared case-insensitively).
    Username,
    /// `channels_name_key`.
    ChannelName,
    /// `groups_name_key` (compared case-insensitively).
    GroupName,
    /// `messages_author_nonce_key`: the author sent this nonce before.
    MessageNonce,
}

/// Each constraint by its PostgreSQL name and by the columns SQLite names instead (it
/// reports `UNIQUE constraint failed: users.email`, never the constraint's name). Both
/// come from the `CONSTRAINT … UNIQUE` lines of the two migration folders.
const UNIQUE_CONSTRAINTS: [(&str, &str, Unique); 5] = [
    ("users_email_key", "users.email", Unique::Email),
    ("users_username_key", "users.username_key", Unique::Username),
    ("channels_name_key", "channels.name", Unique::ChannelName),
    ("groups_name_key", "groups.name_key", Unique::GroupName),
    ("messages_author_nonce_key", "messages.author_id, messages.nonce", Unique::MessageNonce),
];

/// SQLite's prefix before the columns of a violated unique constraint.
const SQLITE_UNIQUE_PREFIX: &str = "UNIQUE constraint failed: ";

impl Unique {
    /// The named constraint `err` violated, if it is a unique violation of one of ours.
    pub fn violated_by(err: &sqlx::Error) -> Option<Self> {
        let sqlx::Error::Database(db) = err else { return None };
        if !db.is_unique_violation() {
            return None;
        }
        match db.constraint() {
            Some(name) => UNIQUE_CONSTRAINTS.iter().find(|(pg, _, _)| *pg == name),
            None => {
                let columns = db.message().strip_prefix(SQLITE_UNIQUE_PREFIX)?;
                UNIQUE_CONSTRAINTS.iter().find(|(_, sqlite, _)| *sqlite == columns)
            }
        }
        .map(|(_, _, unique)| *unique)
    }

    pub fn code(self) -> ErrorCode {
        match self {
            Unique::Email => ErrorCode::EmailTaken,
            Unique::Username => ErrorCode::UsernameTaken,
            Unique::ChannelName => ErrorCode::ChannelNameTaken,
            Unique::GroupName => ErrorCode::GroupNameTaken,
            Unique::MessageNonce => ErrorCode::Conflict,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Unique::Email => "that email address is already registered",
            Unique::Username => "that username is taken",
            Unique::ChannelName => "a channel with that name exists",
            Unique::GroupName => "a group with that name exists",
            Unique::MessageNonce => "this nonce was used before",
        }
    }
}

/// A failed query, as the caller should hear of it. Built with `From<sqlx::Error>`,
/// which logs what the caller is not told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// The database cannot be reached (pool timed out or closed, I/O). Retryable.
    #[error("database unavailable")]
    Unavailable,
    /// A name that must be unique is taken. Not retryable with the same name.
    #[error("{}", .0.message())]
    Taken(Unique),
    /// Some other unique key exists already (a random id drawn twice). Retryable.
    #[error("already exists")]
    Duplicate,
    /// Anything else: a bug. Details are in the log.
    #[error("internal error")]
    Internal,
}

impl Failure {
    pub fn code(self) -> ErrorCode {
        match self {
            Failure::Unavailable => ErrorCode::Unavailable,
            Failure::Taken(unique) => unique.code(),
            Failure::Duplicate => ErrorCode::Conflict,
            Failure::Internal => ErrorCode::Internal,
        }
    }
}

impl From<sqlx::Error> for Failure {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                tracing::error!(error = %err, "database unavailable");
                Failure::Unavailable
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Unique::violated_by(&err).map_or(Failure::Duplicate, Failure::Taken)
            }
            _ => {
                tracing::error!(error = ?err, "database error");
                Failure::Internal
            }
        }
    }
}

impl From<Unique> for Failure {
    fn from(unique: Unique) -> Self {
        Failure::Taken(unique)
    }
}
