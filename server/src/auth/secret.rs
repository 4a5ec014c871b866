//! Random secrets handed to clients, and the SHA-256 digests we store instead of them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// 32 random bytes, base64url: a refresh token, cookie value or mailed token.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps: a leaked table gives no usable token.
pub fn digest(secret: &str) -> String {
    let hash = Sha256::digest(secret.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_and_only_their_digest_is_kept() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b, "two draws of 256 random bits never match");
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).expect("base64url").len(), 32);
        assert_eq!(digest(&a).len(), 64, "hex SHA-256");
        assert_ne!(digest(&a), a);
    }
}
