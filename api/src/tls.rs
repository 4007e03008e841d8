//! TLS for outgoing HTTPS (the JWKS endpoint, and the vendors' APIs).
//!
//! reqwest is built without a default crypto provider so that the whole process uses ring, as
//! sqlx does; a client built before a provider is installed panics. [`init`] installs it once and
//! is called before any client is built, including by tests that never run `main`.

use std::sync::Once;

static PROVIDER: Once = Once::new();

/// Installs ring as the process-wide rustls provider; later calls do nothing.
pub fn init() {
    PROVIDER.call_once(|| {
        // Another provider already installed (by an embedding program) is fine too.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// An HTTP client for outgoing calls: TLS ready, with connect and total timeouts.
///
/// # Errors
/// When the client cannot be built (no usable TLS configuration).
pub fn client(timeout: std::time::Duration) -> reqwest::Result<reqwest::Client> {
    init();
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(timeout)
        .user_agent(concat!("tandem/", env!("CARGO_PKG_VERSION")))
        .build()
}
