//! The Cromulent wire protocol: every type that crosses between server and clients.
//!
//! REST bodies live in one module per resource (`account`, `auth`, `user`, `channel`, `message`, `attachment`,
//! `group`, `notification`, `feature_flag`, `invite`, `moderation`, `search`); `error` holds the `{code, message}` body
//! every failure answers with, and `id` the time-ordered 64-bit ids that double as
//! paging cursors. `gateway` and `event` describe the WebSocket protocol, `voice` the
//! rooms and relay settings it carries. `limits` and the gateway's constants are
//! [`constant::NamedConstant`] lists, so clients get them generated too. Only serde types
//! and their conversions (`calendar`: timestamps as dates) live here, so the server, the native client and the generated
//! TypeScript agree on one definition.

pub mod account;
pub mod attachment;
pub mod auth;
pub mod calendar;
pub mod channel;
pub mod constant;
pub mod dm;
pub mod error;
pub mod event;
pub mod feature_flag;
pub mod gateway;
pub mod group;
pub mod id;
pub mod invite;
pub mod limits;
pub mod message;
pub mod moderation;
pub mod notification;
mod number;
mod patch;
pub mod search;
#[cfg(feature = "ts")]
pub mod typescript;
pub mod user;
pub mod voice;

pub use error::{ApiError, ErrorCode};
pub use id::Id;

/// Milliseconds since the Unix epoch, UTC. Every `*_at` field on the wire uses it.
pub type Timestamp = i64;
