//! Limits shared by server and clients, so a client can refuse early what the server
//! would refuse anyway.

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
    pub const NONCE_MAX_CHARS: usize = 64;
    /// Largest JSON request body the API reads.
    pub const REQUEST_BODY_MAX_BYTES: usize = 64 * 1024;
    pub const MESSAGE_PAGE_DEFAULT: u32 = 50;
    pub const MESSAGE_PAGE_MAX: u32 = 100;
    /// Channel members per page, in user id order.
    pub const MEMBER_PAGE_DEFAULT: u32 = 1000;
    pub const MEMBER_PAGE_MAX: u32 = 1000;
    /// The longest one may mute a channel for (a year); longer is `nothing`.
    pub const CHANNEL_MUTE_MAX_SECS: u64 = 366 * 24 * 3600;
}
