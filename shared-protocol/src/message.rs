//! Messages: Markdown source with server-parsed mentions.

use serde::{Deserialize, Serialize};

use crate::{Id, Timestamp};

/// Who a message mentions, as parsed by the server from `@name` tokens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Mention {
    User { user_id: Id },
    Group { group_id: Id },
    Here,
    Everyone,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
pub struct SendMessageRequest {
    pub body: String,
    /// Client-chosen, unique per author: resending with the same nonce returns the
    /// message already stored instead of a second one.
    #[serde(default)]
    pub nonce: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EditMessageRequest {
    pub body: String,
}
