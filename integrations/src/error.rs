//! What can go wrong talking to a vendor, in terms a sync run and an admin can act on.
//!
//! Messages name the vendor's status and its own error text, never a credential: request URLs
//! carry no secrets (they travel in headers or form bodies), and bodies are cut to 300 characters.

use std::time::Duration;

/// An error from a connector.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The vendor refused the credentials (after a fresh token, where there are tokens).
    #[error("the vendor refused the credentials: {0}")]
    Unauthorized(String),
    /// The credentials work but may not read this resource.
    #[error("the vendor refused access: {0}")]
    Forbidden(String),
    /// The vendor kept answering 429 after every retry.
    #[error("rate limited by the vendor after {attempts} attempts")]
    RateLimited {
        /// Attempts made.
        attempts: usize,
        /// The last `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// Any other HTTP error status (5xx after retries, 4xx at once).
    #[error("the vendor answered {status}: {message}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The vendor's own message, or the start of its body.
        message: String,
    },
    /// The request could not be made or timed out (after retries).
    #[error("cannot reach the vendor: {0}")]
    Transport(String),
    /// A whole response (not one record) could not be read.
    #[error("unexpected response from the vendor: {0}")]
    Decode(String),
    /// The integration's settings or credentials are incomplete.
    #[error("invalid integration configuration: {0}")]
    Config(String),
}

impl ConnectorError {
    /// Whether trying the same request again may succeed.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport(_) | Self::RateLimited { .. } => true,
            Self::Status { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

/// The start of a response body, for error messages.
#[must_use]
pub fn snippet(body: &str) -> String {
    let trimmed = body.trim();
    match trimmed.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_owned(),
    }
}
