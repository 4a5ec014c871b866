//! Who is calling: password hashing, token minting and checking, login throttling, and
//! the extractor that turns a bearer token or a session cookie into a [`Caller`].

pub mod access_token;
pub mod caller;
pub mod cookie;
pub mod login;
pub mod password;
pub mod refresh;
pub mod secret;
pub mod throttle;

pub use caller::{AdminCaller, Caller, ModeratorCaller, Rejection};

use std::time::Duration;

/// Access tokens are short-lived, so a revoked login stops working quickly even on
/// nodes that cache nothing.
pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
/// Refresh tokens and browser sessions.
pub const SESSION_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// Links in confirmation and change-of-address mails.
pub const CONFIRM_TOKEN_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// Links in password-reset mails.
pub const RESET_TOKEN_TTL: Duration = Duration::from_secs(60 * 60);

pub fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).expect("durations here are days, not aeons")
}
