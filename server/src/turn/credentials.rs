//! TURN REST credentials: username `expiry:user_id`, password = base64(HMAC-SHA1(secret,
//! username)). coturn's `use-auth-secret` checks the same pair, so one secret serves
//! the built-in relay and an external one.

use std::fmt;

use base64::Engine;
use cromulent_protocol::Id;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;

/// What the default secret is derived for; a new label gives an unrelated secret.
const DERIVATION_LABEL: &[u8] = b"cromulent turn rest secret v1";

/// The shared secret. `Debug` never prints it.
#[derive(Clone)]
pub struct TurnSecret(String);

impl fmt::Debug for TurnSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TurnSecret(<redacted>)")
    }
}

impl TurnSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// A secret of its own for TURN, from the server's key base: knowing it does not
    /// reveal the key base (HMAC-SHA256 with a purpose label).
    pub fn derive(secret_key_base: &[u8]) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret_key_base).expect("HMAC takes keys of any length");
        mac.update(DERIVATION_LABEL);
        let bytes = mac.finalize().into_bytes();
        Self(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// base64(HMAC-SHA1(secret, username)): the password for `username`.
    pub fn password(&self, username: &str) -> String {
        let mut mac = Hmac::<Sha1>::new_from_slice(self.0.as_bytes()).expect("HMAC takes keys of any length");
        mac.update(username.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }

    /// Credentials for `user_id` that work until `expires_at` (Unix seconds).
    pub fn issue(&self, user_id: Id, expires_at: u64) -> Credentials {
        let username = format!("{expires_at}:{user_id}");
        Credentials { password: self.password(&username), username, expires_at }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    /// Unix seconds.
    pub expires_at: u64,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The parts of a REST username. coturn allows any text after the colon; ours is a
/// user id, and a name without one (`expiry` alone) is accepted with no user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestUsername {
    pub expires_at: u64,
    pub user_id: Option<Id>,
}

impl RestUsername {
    pub fn parse(username: &str) -> Option<Self> {
        let (expiry, user) = match username.split_once(':') {
            Some((expiry, user)) => (expiry, Some(user)),
            None => (username, None),
        };
        let expires_at = expiry.parse().ok()?;
        let user_id = match user {
            Some(user) => Some(user.parse().ok()?),
            None => None,
        };
        Some(Self { expires_at, user_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_the_rest_scheme_hmac() {
        // RFC 2202 test case 2: HMAC-SHA1 with key "Jefe" over "what do ya want for nothing?".
        let secret = TurnSecret::new("Jefe");
        let expected =
            base64::engine::general_purpose::STANDARD.encode(hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"));
        assert_eq!(secret.password("what do ya want for nothing?"), expected, "coturn computes the same");
    }

    #[test]
    fn issued_usernames_carry_expiry_and_user() {
        let creds = TurnSecret::new("s").issue(Id(42), 1_700_000_000);
        assert_eq!(creds.username, "1700000000:42");
        assert_eq!(
            RestUsername::parse(&creds.username),
            Some(RestUsername { expires_at: 1_700_000_000, user_id: Some(Id(42)) })
        );
        assert_eq!(RestUsername::parse("nope:42"), None, "the expiry must be a number");
        assert_eq!(RestUsername::parse("17:ann"), None, "our users are ids");
    }

    #[test]
    fn derived_secrets_depend_on_the_key_base_and_hide_it() {
        let a = TurnSecret::derive(b"key base one, long enough for a real server");
        let b = TurnSecret::derive(b"key base two, long enough for a real server");
        assert_ne!(a.0, b.0, "another key base must give another secret");
        assert!(!a.0.contains("key base"), "the key base must not show through");
        assert_eq!(format!("{a:?}"), "TurnSecret(<redacted>)");
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
    }
}
