//! Limits shared by server and clients, so a client can refuse early what the server
//! would refuse anyway: fixed ones as constants, the ones an admin sets as
//! [`ServerLimits`] in the gateway's `ready`.

use serde::{Deserialize, Serialize};

crate::constant::named_constants! {
    ALL;
    /// Passwords: length only, no composition rules (NIST SP 800-63B), counted in characters.
    pub const PASSWORD_MIN_CHARS: usize = 12;
    pub const PASSWORD_MAX_CHARS: usize = 256;
    pub const USERNAME_MIN_CHARS: usize = 2;
    pub const USERNAME_MAX_CHARS: usize = 32;
    pub const DISPLAY_NAME_MAX_CHARS: usize = 64;
    pub const EMAIL_MAX_CHARS: usize = 254;
    pub const AVATAR_URL_MAX_CHARS: usize = 2048;
    pub const CHANNEL_NAME_MAX_CHARS: usize = 64;
    pub const CHANNEL_TOPIC_MAX_CHARS: usize = 512;
    pub const GROUP_NAME_MAX_CHARS: usize = 32;
    pub const DEVICE_NAME_MAX_CHARS: usize = 128;
    /// Markdown source of one message, in characters.
    pub const MESSAGE_BODY_MAX_CHARS: usize = 4000;
    /// Files one message may carry.
    pub const MESSAGE_ATTACHMENTS_MAX: usize = 10;
    /// Characters of an attachment's file name; longer names are shortened, keeping the extension.
    pub const ATTACHMENT_FILENAME_MAX_CHARS: usize = 255;
    /// Pixels on the longer side of an image attachment's thumbnail.
    pub const ATTACHMENT_THUMBNAIL_MAX_PX: u32 = 400;
    pub const NONCE_MAX_CHARS: usize = 64;
    /// Characters of the first line a reply shows of the message it answers.
    pub const REPLY_EXCERPT_MAX_CHARS: usize = 100;
    /// Bytes of an emoji in a reaction path; the longest emoji sequences are shorter.
    pub const REACTION_EMOJI_MAX_BYTES: usize = 64;
    /// Largest JSON request body the API reads.
    pub const REQUEST_BODY_MAX_BYTES: usize = 64 * 1024;
    pub const MESSAGE_PAGE_DEFAULT: u32 = 50;
    pub const MESSAGE_PAGE_MAX: u32 = 100;
    /// Channel members per page, in user id order.
    pub const MEMBER_PAGE_DEFAULT: u32 = 1000;
    pub const MEMBER_PAGE_MAX: u32 = 1000;
    /// Search (`GET /api/search`): the query's length in characters and its words.
    pub const SEARCH_QUERY_MAX_CHARS: usize = 256;
    pub const SEARCH_TERMS_MAX: usize = 16;
    pub const SEARCH_RESULTS_DEFAULT: u32 = 25;
    pub const SEARCH_RESULTS_MAX: u32 = 100;
    /// The longest one may mute a channel for (a year); longer is `nothing`.
    pub const CHANNEL_MUTE_MAX_SECS: u64 = 366 * 24 * 3600;
}

/// Limits that are server settings, so each server has its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ServerLimits {
    /// Largest attachment the server stores, in bytes (`ATTACHMENT_MAX_BYTES`).
    pub attachment_max_bytes: u64,
}

impl ServerLimits {
    /// `ATTACHMENT_MAX_BYTES`'s default.
    pub const DEFAULT_ATTACHMENT_MAX_BYTES: u64 = 25 * 1024 * 1024;
}

impl Default for ServerLimits {
    /// The settings' defaults: what a server that does not send its limits enforces
    /// unless its admin changed them.
    fn default() -> Self {
        Self { attachment_max_bytes: Self::DEFAULT_ATTACHMENT_MAX_BYTES }
    }
}
