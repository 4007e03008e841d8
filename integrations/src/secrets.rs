//! Sealing integration credentials at rest with the key from `TANDEM_SECRET_KEY`
//! (ChaCha20-Poly1305 from ring, a fresh random nonce per seal). A sealed value is
//! `version (1 byte) | nonce (12 bytes) | ciphertext and tag`; the integration's id is bound as
//! associated data, so a ciphertext copied to another integration does not open.

use base64::Engine;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

const VERSION: u8 = 1;

/// Why credentials cannot be sealed or opened; never says anything about their content.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// `TANDEM_SECRET_KEY` is not 32 bytes in base64 or hex.
    #[error(
        "TANDEM_SECRET_KEY must be 32 bytes, base64- or hex-encoded (e.g. `openssl rand -base64 32`)"
    )]
    BadKey,
    /// No key is configured, so credentials cannot be stored or read.
    #[error("TANDEM_SECRET_KEY is not set; integration credentials cannot be stored or read")]
    NoKey,
    /// The sealed value was altered, belongs to another integration, or was sealed with another key.
    #[error("the stored credentials cannot be opened with this TANDEM_SECRET_KEY")]
    CannotOpen,
}

/// The key credentials are sealed with.
pub struct SecretKey(LessSafeKey);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    /// The key encoded in `text` (base64, standard or URL-safe, or 64 hex digits).
    ///
    /// # Errors
    /// [`SecretError::BadKey`] unless it decodes to exactly 32 bytes.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&text[i * 2..i * 2 + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| SecretError::BadKey)?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text))
                .map_err(|_| SecretError::BadKey)?
        };
        let key = UnboundKey::new(&CHACHA20_POLY1305, &bytes).map_err(|_| SecretError::BadKey)?;
        Ok(Self(LessSafeKey::new(key)))
    }

    /// Seals `plaintext` for the integration `context` (its id).
    ///
    /// # Panics
    /// When the system random source fails, which leaves nothing safe to do.
    #[must_use]
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0_u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .expect("the system random source works");
        let mut sealed = plaintext.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut sealed,
            )
            .expect("ChaCha20-Poly1305 seals any length below 256 GiB");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens what [`Self::seal`] sealed for `context`.
    ///
    /// # Errors
    /// [`SecretError::CannotOpen`] when it was altered, sealed for another context or key.
    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SecretError> {
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != VERSION {
            return Err(SecretError::CannotOpen);
        }
        let nonce = Nonce::try_assume_unique_for_key(&sealed[1..=NONCE_LEN])
            .map_err(|_| SecretError::CannotOpen)?;
        let mut buffer = sealed[1 + NONCE_LEN..].to_vec();
        let opened = self
            .0
            .open_in_place(nonce, Aad::from(context), &mut buffer)
            .map_err(|_| SecretError::CannotOpen)?;
        Ok(opened.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "q2Gk6yq6nVnR7Ud3wq1gqz6j0qk3Vb8eXj4yP0u5c9s=";

    #[test]
    fn sealed_credentials_open_only_with_the_same_key_and_integration() {
        let key = SecretKey::parse(KEY).unwrap();
        let sealed = key.seal(b"integration-1", br#"{"privateKey":"s3cret"}"#);
        assert!(!sealed.windows(6).any(|window| window == b"s3cret"));
        assert_eq!(
            key.open(b"integration-1", &sealed).unwrap(),
            br#"{"privateKey":"s3cret"}"#
        );
        assert_eq!(
            key.open(b"integration-2", &sealed),
            Err(SecretError::CannotOpen)
        );
        let other = SecretKey::parse(&"ab".repeat(32)).unwrap();
        assert_eq!(
            other.open(b"integration-1", &sealed),
            Err(SecretError::CannotOpen)
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(
            key.open(b"integration-1", &tampered),
            Err(SecretError::CannotOpen)
        );
        assert_ne!(
            sealed,
            key.seal(b"integration-1", br#"{"privateKey":"s3cret"}"#),
            "fresh nonce"
        );
        assert_eq!(SecretKey::parse("short").unwrap_err(), SecretError::BadKey);
    }
}
