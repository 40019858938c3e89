//! Secrets at rest: datasource passwords are stored encrypted with AES-256-GCM under a key
//! derived from `PGDAG_SECRET_KEY` (SHA-256 of its text, which must be at least 16
//! characters). Stored form: 12-byte random nonce || ciphertext with its tag. The key never
//! leaves the process; a wrong key fails decryption with a clear message, never garbage.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use sha2::{Digest, Sha256};

pub const SECRET_KEY_VAR: &str = "PGDAG_SECRET_KEY";
const MIN_KEY_CHARS: usize = 16;
const NONCE_LEN: usize = 12;

#[derive(Clone)]
pub struct SecretKey {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    /// The key from `text` (the value of `PGDAG_SECRET_KEY`).
    pub fn new(text: &str) -> Result<SecretKey, String> {
        if text.chars().count() < MIN_KEY_CHARS {
            return Err(format!(
                "{SECRET_KEY_VAR} must be at least {MIN_KEY_CHARS} characters long"
            ));
        }
        let digest = Sha256::digest(text.as_bytes());
        let key = Key::<Aes256Gcm>::from_slice(&digest);
        Ok(SecretKey {
            cipher: Aes256Gcm::new(key),
        })
    }

    /// The key from the environment: `Ok(None)` when `PGDAG_SECRET_KEY` is unset or empty.
    pub fn from_env() -> Result<Option<SecretKey>, String> {
        match std::env::var(SECRET_KEY_VAR) {
            Ok(text) if !text.trim().is_empty() => SecretKey::new(&text).map(Some),
            _ => Ok(None),
        }
    }

    pub fn encrypt(&self, plain: &str) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(&nonce, plain.as_bytes())
            .expect("AES-GCM encryption of a short text cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        out
    }

    pub fn decrypt(&self, stored: &[u8]) -> Result<String, String> {
        if stored.len() < NONCE_LEN {
            return Err("the stored secret is truncated".into());
        }
        let (nonce, sealed) = stored.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| {
                format!("cannot decrypt the stored password: {SECRET_KEY_VAR} is not the key it was stored with")
            })?;
        String::from_utf8(plain).map_err(|_| "the stored password is not UTF-8".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_a_fresh_nonce_each_time() {
        let key = SecretKey::new("0123456789abcdef-key").unwrap();
        let a = key.encrypt("s3cret");
        let b = key.encrypt("s3cret");
        assert_ne!(a, b, "each encryption uses a new nonce");
        assert!(!a.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(key.decrypt(&a).unwrap(), "s3cret");
        assert_eq!(key.decrypt(&b).unwrap(), "s3cret");
    }

    #[test]
    fn a_wrong_key_or_damaged_text_is_an_error() {
        let key = SecretKey::new("0123456789abcdef-key").unwrap();
        let other = SecretKey::new("another key of enough length").unwrap();
        let mut sealed = key.encrypt("pw");
        assert!(other.decrypt(&sealed).unwrap_err().contains(SECRET_KEY_VAR));
        let last = sealed.len() - 1;
        sealed[last] ^= 1;
        assert!(key.decrypt(&sealed).is_err());
        assert!(key.decrypt(&[1, 2, 3]).is_err());
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(SecretKey::new("short").unwrap_err().contains("16"));
    }
}
