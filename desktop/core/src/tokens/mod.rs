//! Token storage: the refresh token in the OS keyring, in a type that never prints it.
//!
//! [`Secret`] wraps every token and password; [`TokenStore`] keeps the refresh token in
//! a keyring probed at start ([`TokenStore::open_default`]), or refuses with
//! [`StoreError::NoSecureStore`] when no safe store exists; [`KeyringSink`] writes each
//! rotated refresh token back to it.

mod secret;
mod sink;
mod store;

pub use secret::{Secret, Sensitive};
pub use sink::{KeyringSink, RefreshTokenSink};
pub use store::{Backend, StoreError, TokenKey, TokenStore};
