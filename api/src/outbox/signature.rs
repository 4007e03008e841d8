//! The signature of a delivery: `Tandem-Signature: t=<unix seconds>,v1=<hex>`, where the hex is
//! HMAC-SHA256 keyed with the endpoint's secret (its UTF-8 bytes) over `"<t>.<body>"`. Signing
//! the timestamp with the body lets a receiver refuse old deliveries replayed by someone else.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header carrying the signature.
pub const HEADER: &str = "Tandem-Signature";

/// `v1`: the hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`.
#[must_use]
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The header's value for `body` signed at `timestamp`.
#[must_use]
pub fn header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", sign(secret, timestamp, body))
}

/// A new endpoint secret: `whsec_` and 32 random bytes in hex.
///
/// # Panics
/// When the operating system has no randomness to give.
#[must_use]
pub fn new_secret() -> String {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system gives randomness");
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("whsec_{hex}")
}

#[cfg(test)]
mod tests {
    use super::{header, new_secret, sign};

    #[test]
    fn a_known_signature() {
        // printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test (and the README's
        // Python snippet) give the same.
        assert_eq!(
            sign("whsec_test", 1_700_000_000, br#"{"a":1}"#),
            "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
        assert!(header("k", 5, b"x").starts_with("t=5,v1="));
        assert_ne!(new_secret(), new_secret());
        assert_eq!(new_secret().len(), 6 + 64);
    }
}
