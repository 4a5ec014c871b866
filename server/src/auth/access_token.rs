//! Short-lived access tokens: HMAC-SHA256 over user, session and expiry.
//!
//! They are checked without a database round trip for their signature; the caller
//! extractor still confirms the session is alive, so logout and revocation take effect
//! at once.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cromulent_protocol::Id;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const VERSION: &str = "v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claims {
    pub user_id: Id,
    pub session_id: Id,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccessTokenError {
    #[error("malformed or forged access token")]
    Invalid,
    #[error("access token expired")]
    Expired,
}

/// Signs and checks access tokens with a key derived from the secret key base.
#[derive(Clone)]
pub struct AccessTokens {
    key: Vec<u8>,
}

impl std::fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessTokens(<redacted>)")
    }
}

impl AccessTokens {
    pub fn new(secret_key_base: &[u8]) -> Self {
        // A purpose-bound subkey: the secret key base may sign other things later.
        let mut mac = HmacSha256::new_from_slice(secret_key_base).expect("HMAC takes any key length");
        mac.update(b"cromulent access token v1");
        Self { key: mac.finalize().into_bytes().to_vec() }
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length")
    }

    pub fn mint(&self, claims: Claims) -> String {
        let payload = format!("{VERSION}:{}:{}:{}", claims.user_id, claims.session_id, claims.expires_at);
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let sig = mac.finalize().into_bytes();
        format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(sig))
    }

    pub fn check(&self, token: &str, now: i64) -> Result<Claims, AccessTokenError> {
        let (payload_b64, sig_b64) = token.split_once('.').ok_or(AccessTokenError::Invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| AccessTokenError::Invalid)?;
        let sig = URL_SAFE_NO_PAD.decode(sig_b64).map_err(|_| AccessTokenError::Invalid)?;
        let mut mac = self.mac();
        mac.update(&payload);
        mac.verify_slice(&sig).map_err(|_| AccessTokenError::Invalid)?;
        let payload = std::str::from_utf8(&payload).map_err(|_| AccessTokenError::Invalid)?;
        let mut parts = payload.split(':');
        let (Some(VERSION), Some(user), Some(session), Some(exp), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AccessTokenError::Invalid);
        };
        let claims = Claims {
            user_id: user.parse().map_err(|_| AccessTokenError::Invalid)?,
            session_id: session.parse().map_err(|_| AccessTokenError::Invalid)?,
            expires_at: exp.parse().map_err(|_| AccessTokenError::Invalid)?,
        };
        if claims.expires_at <= now {
            return Err(AccessTokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(expires_at: i64) -> Claims {
        Claims { user_id: Id(7), session_id: Id(9), expires_at }
    }

    #[test]
    fn a_minted_token_checks_out_until_it_expires() {
        let tokens = AccessTokens::new(b"0123456789abcdef0123456789abcdef");
        let token = tokens.mint(claims(1_000));
        assert_eq!(tokens.check(&token, 999), Ok(claims(1_000)));
        assert_eq!(tokens.check(&token, 1_000), Err(AccessTokenError::Expired));
    }

    #[test]
    fn another_key_or_a_changed_payload_is_refused() {
        let tokens = AccessTokens::new(b"0123456789abcdef0123456789abcdef");
        let other = AccessTokens::new(b"fedcba9876543210fedcba9876543210");
        let token = tokens.mint(claims(1_000));
        assert_eq!(other.check(&token, 0), Err(AccessTokenError::Invalid), "wrong key must fail");
        let (_, sig) = token.split_once('.').expect("two parts");
        let forged = format!("{}.{sig}", URL_SAFE_NO_PAD.encode("v1:1:9:1000"));
        assert_eq!(tokens.check(&forged, 0), Err(AccessTokenError::Invalid), "a user swap must fail");
        assert_eq!(tokens.check("garbage", 0), Err(AccessTokenError::Invalid));
    }
}
