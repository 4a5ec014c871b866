//! Messages: Markdown source with server-parsed mentions.

use serde::{Deserialize, Serialize};

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
