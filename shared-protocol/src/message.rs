//! Messages: Markdown source with server-parsed mentions.

use serde::{Deserialize, Serialize};

use crate::attachment::Attachment;
use crate::{Id, Timestamp};

/// Who a message mentions, as parsed by the server from `@name` tokens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Mention {
    User { user_id: Id },
    Group { group_id: Id },
    Here,
    Everyone,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Message {
    pub id: Id,
    pub channel_id: Id,
    pub author_id: Id,
    /// Markdown source; clients render it safely.
    pub body: String,
    /// The client's nonce, echoed so a sender can match its pending message.
    pub nonce: Option<String>,
    pub mentions: Vec<Mention>,
    pub created_at: Timestamp,
    pub edited_at: Option<Timestamp>,
    /// The message this one answers, or `null` when it answers none.
    #[serde(default)]
    pub reply_to: Option<MessageReference>,
    /// Who reacted with what, one entry per emoji ordered by the earliest reaction with it. `me` is
    /// the caller's own reaction in REST answers; gateway events go to many readers at
    /// once, so there `me` is `false` and clients keep their own from `reaction_add` and
    /// `reaction_remove`.
    #[serde(default)]
    pub reactions: Vec<Reaction>,
    /// The files sent with the message, in the order `attachment_ids` named them.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

/// What a reply shows of the message it answers. When that message is deleted the
/// reference stays, with `deleted` set and an empty `excerpt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MessageReference {
    pub id: Id,
    pub author_id: Id,
    /// The author's display name, else their username; empty if the account is gone.
    pub author_name: String,
    /// The first line of the body, at most `REPLY_EXCERPT_MAX_CHARS` characters.
    pub excerpt: String,
    pub deleted: bool,
}

/// One emoji under a message: how many reacted with it, and whether the caller did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Reaction {
    pub emoji: String,
    pub count: u32,
    pub me: bool,
}

/// A pinned message of a channel (`GET /api/channels/{id}/pins`), newest pin first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Pin {
    pub message: Message,
    pub pinned_by: Id,
    pub pinned_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct SendMessageRequest {
    pub body: String,
    /// Client-chosen, unique per author: resending with the same nonce returns the
    /// message already stored instead of a second one.
    #[serde(default)]
    pub nonce: Option<String>,
    /// Answer this message of the same channel.
    #[serde(default)]
    pub reply_to: Option<Id>,
    /// With `reply_to`: whether its author gets a notification as for a mention
    /// (default `true`).
    #[serde(default)]
    pub notify_reply_author: Option<bool>,
    /// Uploads (`POST /api/channels/{id}/attachments`) to send with the message: the
    /// caller's own, into this channel, not yet sent and less than a day old; at most
    /// `MESSAGE_ATTACHMENTS_MAX`. With at least one, `body` may be empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "ts", ts(as = "Option<Vec<Id>>"))]
    pub attachment_ids: Vec<Id>,
}

impl SendMessageRequest {
    /// A plain message: no reply, a fresh nonce chosen by the caller.
    pub fn new(body: impl Into<String>, nonce: Option<String>) -> Self {
        Self {
            body: body.into(),
            nonce,
            reply_to: None,
            notify_reply_author: None,
            attachment_ids: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct EditMessageRequest {
    pub body: String,
}

/// `GET /api/channels/{id}/messages`: a page of history, newest first. At most one of
/// `before`, `after` and `around`; with none, the newest messages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct ListMessagesQuery {
    /// Messages older than this id (paging back in time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>))]
    pub before: Option<Id>,
    /// Messages newer than this id (catching up). Ids grow in commit order within a
    /// channel, so walking forward with `after` never skips a message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>))]
    pub after: Option<Id>,
    /// Up to `limit / 2` older messages, this one, and newer ones up to `limit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>))]
    pub around: Option<Id>,
    /// 1 to `MESSAGE_PAGE_MAX` (100); default `MESSAGE_PAGE_DEFAULT` (50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// What a page says about itself (Open Graph, else `<title>` and the description meta),
/// fetched by the server for `GET /api/link_preview`. Every field is plain text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LinkPreview {
    /// The address asked about, as given.
    pub url: String,
    pub title: Option<String>,
    pub description: Option<String>,
    /// An absolute http(s) address; clients load it as an image only.
    pub image_url: Option<String>,
    pub site_name: Option<String>,
}

/// The query of `GET /api/link_preview`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LinkPreviewQuery {
    /// An http or https address.
    pub url: String,
}
