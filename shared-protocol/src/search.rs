//! Message search (`GET /api/search`): the query, and what each hit carries.

use serde::{Deserialize, Serialize};

use crate::message::Message;
use crate::{Id, Timestamp};

/// `GET /api/search`: messages whose words start with every word of `q`, best first,
/// over the channels and direct messages the caller may read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct SearchQuery {
    /// The words to find, 1 to `SEARCH_QUERY_MAX_CHARS` characters with at most
    /// `SEARCH_TERMS_MAX` words. Punctuation separates words; each word also matches
    /// longer words it begins (`deploy` finds `deployment`); case does not matter.
    pub q: String,
    /// Only this channel (or direct message); one the caller may not read answers `404`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>))]
    pub channel_id: Option<Id>,
    /// Only messages by this user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>))]
    pub author_id: Option<Id>,
    /// Only messages that carry this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(inline))]
    pub has: Option<SearchHas>,
    /// Only messages sent before this time (ms since the epoch, exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Timestamp>,
    /// Only messages sent after this time (ms since the epoch, exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Timestamp>,
    /// 1 to `SEARCH_RESULTS_MAX` (100); default `SEARCH_RESULTS_DEFAULT` (25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// What a message must carry for `has=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SearchHas {
    /// One or more attached files.
    Attachment,
    /// An `http://` or `https://` address in the body.
    Link,
}

/// One message found, with the part of it that matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SearchHit {
    pub message: Message,
    pub channel_id: Id,
    /// An excerpt of the body around the first match, as plain-text pieces in order;
    /// `matched` pieces are the words that matched. Clients render each piece as text
    /// (never as HTML or Markdown) and mark the matched ones. `…` stands for text cut
    /// at either end.
    pub snippet: Vec<SnippetPart>,
    /// How well the message matches, higher is better; comparable within one answer
    /// only (the two databases rank on different scales).
    pub score: f64,
}

/// A piece of a [`SearchHit::snippet`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SnippetPart {
    pub text: String,
    pub matched: bool,
}
