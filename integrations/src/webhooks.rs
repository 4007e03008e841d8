//! Is a vendor's callback genuine? Each vendor signs differently:
//! - ConnectWise: `x-content-signature` = base64(HMAC-SHA256(key = SHA-256(signing key), body)),
//!   the signing key fetched from the payload's `Metadata.key_url`, on a trusted host only;
//! - Autotask: `X-Hook-Signature: sha1=` base64(HMAC-SHA1(secret key, body));
//! - NinjaOne, Datto RMM and HaloPSA do not sign: the receiver checks a shared secret that the
//!   webhook configuration sends in a header.
//!
//! Every comparison runs in constant time.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Compares in time that depends only on the lengths.
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `x-content-signature` ConnectWise sends for `body` signed with `signing_key`.
#[must_use]
pub fn connectwise_signature(signing_key: &str, body: &[u8]) -> String {
    let key = Sha256::digest(signing_key.as_bytes());
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(body);
    base64(&mac.finalize().into_bytes())
}

/// Whether `signature` is ConnectWise's for `body` with `signing_key`.
#[must_use]
pub fn verify_connectwise(signing_key: &str, body: &[u8], signature: &str) -> bool {
    constant_time_eq(
        connectwise_signature(signing_key, body).as_bytes(),
        signature.trim().as_bytes(),
    )
}

/// Whether a ConnectWise `key_url` may be fetched: HTTPS on `*.myconnectwise.net`, or the
/// integration's own origin (on-premise installs and mocks). Any other host could hand out a key
/// of the sender's choosing.
#[must_use]
pub fn connectwise_key_url_trusted(key_url: &str, base_url: &str) -> bool {
    let (Ok(key), Ok(base)) = (url::Url::parse(key_url), url::Url::parse(base_url)) else {
        return false;
    };
    let same_origin = key.origin() == base.origin();
    let cloud = key.scheme() == "https"
        && key
            .host_str()
            .is_some_and(|host| host.ends_with(".myconnectwise.net"));
    same_origin || cloud
}

/// The `X-Hook-Signature` Autotask sends for `body` with the webhook's `secret`.
#[must_use]
pub fn autotask_signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha1={}", base64(&mac.finalize().into_bytes()))
}

/// Whether `signature` is Autotask's for `body` with `secret`.
#[must_use]
pub fn verify_autotask(secret: &str, body: &[u8], signature: &str) -> bool {
    constant_time_eq(
        autotask_signature(secret, body).as_bytes(),
        signature.trim().as_bytes(),
    )
}

/// Whether a shared-secret header carries `secret` (as is, or after `Bearer `).
#[must_use]
pub fn verify_shared_secret(secret: &str, header: &str) -> bool {
    let header = header.trim();
    let presented = header.strip_prefix("Bearer ").unwrap_or(header);
    !secret.is_empty() && constant_time_eq(secret.as_bytes(), presented.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_for_the_same_key_and_body() {
        let body = br#"{"ID":48213,"Action":"updated"}"#;
        let signature = connectwise_signature("key-1", body);
        assert!(verify_connectwise("key-1", body, &signature));
        assert!(!verify_connectwise("key-2", body, &signature));
        assert!(!verify_connectwise("key-1", b"{}", &signature));
        let hook = autotask_signature("secret", body);
        assert!(hook.starts_with("sha1="));
        assert!(verify_autotask("secret", body, &hook));
        assert!(!verify_autotask("other", body, &hook));
        assert!(verify_shared_secret("s3", "Bearer s3"));
        assert!(!verify_shared_secret("s3", "Bearer s4"));
        assert!(!verify_shared_secret("", ""));
        assert!(connectwise_key_url_trusted(
            "https://api-na.myconnectwise.net/v4_6_release/system/callbackkey/index.rails?id=1",
            "https://api-na.myconnectwise.net"
        ));
        assert!(!connectwise_key_url_trusted(
            "https://evil.example/key",
            "https://api-na.myconnectwise.net"
        ));
        assert!(connectwise_key_url_trusted(
            "http://127.0.0.1:4000/key",
            "http://127.0.0.1:4000"
        ));
    }
}
