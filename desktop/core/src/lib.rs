//! Cromulent's native client: everything the desktop app and the `cromulent` command
//! need that is not UI.
//!
//! - [`api`]: the REST client, typed by `cromulent-protocol`, and the server origin every
//!   call stays on.
//! - [`account`]: the account store of a native app: servers, login, automatic login
//!   from the keyring, logout, and the client the UI's REST calls go through.
//! - [`gateway`]: the WebSocket gateway connection — identify, heartbeat, resume and
//!   reconnect with jittered backoff.
//! - [`session`]: channels, messages, presence and voice rooms kept current from events.
//! - [`tokens`]: the refresh token in the OS keyring, in a type that never prints it.
//! - [`voice`]: the native voice engine — audio threads, Opus, jitter buffers, the mesh of
//!   WebRTC peer connections negotiated through the gateway.
//! - [`ptt`]: push-to-talk key sources.
//! - [`cli`]: the `cromulent` command.

pub mod account;
pub mod api;
pub mod cli;
pub mod gateway;
pub mod ptt;
pub mod session;
pub mod tokens;
pub mod voice;
