//! What can go wrong talking to a vendor, in terms a sync run and an admin can act on.
//!
//! Messages are Tandem's own words: they name the vendor's HTTP status where the vendor answered,
//! never its body or its OAuth `error`/`error_description`, and never a credential. Every way
//! of not getting an answer (refused, reset, timed out, a name that does not resolve, an address
//! the egress policy refuses) reads the same, `could not reach the vendor at <host>`, so the
//! API cannot be used to probe which hosts and ports exist. The details go to the server's log
//! at WARN ([`crate::http`]).

use std::time::Duration;

/// An error from a connector.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The vendor refused the credentials (after a fresh token, where there are tokens); the
    /// text is the status or Tandem's description of the refusal, never the vendor's.
    #[error("the vendor refused the credentials ({0})")]
    Unauthorized(String),
    /// The credentials work but may not read this resource; the text as for `Unauthorized`.
    #[error("the vendor refused access ({0})")]
    Forbidden(String),
    /// The vendor kept answering 429 after every retry.
    #[error("rate limited by the vendor after {attempts} attempts")]
    RateLimited {
        /// Attempts made.
        attempts: usize,
        /// The last `Retry-After`, if any.
        retry_after: Option<Duration>,
    },
    /// The vendor kept throttling until the run's throttling budget was spent
    /// ([`crate::http::RetryPolicy::throttle_budget`]).
    #[error(
        "the vendor kept throttling (429) after {attempts} attempts; the run waited {}s, its whole throttling budget of {}s",
        waited.as_secs_f64().round(), budget.as_secs_f64().round()
    )]
    ThrottleBudgetSpent {
        /// Attempts of the request that failed.
        attempts: usize,
        /// What the run waited in all.
        waited: Duration,
        /// The run's budget.
        budget: Duration,
    },
    /// Any other HTTP error status (5xx after retries, 4xx at once).
    #[error("the vendor answered {status}")]
    Status {
        /// The HTTP status.
        status: u16,
    },
    /// The vendor answered with a redirect, which vendor calls do not follow.
    #[error(
        "the vendor answered with a redirect ({status}), which is not followed; check `baseUrl`"
    )]
    Redirected {
        /// The HTTP status.
        status: u16,
    },
    /// No answer: refused, reset, timed out, or the name did not resolve (after retries).
    #[error("could not reach the vendor at {host}")]
    Unreachable {
        /// The host (and port, when the URL names one).
        host: String,
    },
    /// The egress policy refused the address ([`crate::egress`]); never retried, and worded as
    /// [`Self::Unreachable`] so that a caller cannot tell the two apart.
    #[error("could not reach the vendor at {host}")]
    Blocked {
        /// The host (and port, when the URL names one).
        host: String,
    },
    /// A whole response (not one record) could not be read.
    #[error("unexpected response from the vendor: {0}")]
    Decode(String),
    /// The vendor or connector does not support what was asked (a write to an RMM).
    #[error("not supported: {0}")]
    Unsupported(String),
    /// The integration's settings or credentials are incomplete.
    #[error("invalid integration configuration: {0}")]
    Config(String),
}

impl ConnectorError {
    /// Whether trying the same request again may succeed.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::RateLimited { .. } => true,
            Self::Status { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    /// Whether the vendor refused this one request's record (forbidden, gone, malformed), so
    /// that only the record it was about fails. Anything else (credentials refused, the
    /// throttling budget spent, the vendor unreachable or failing) would fail every record
    /// after it as well, and fails the page or the run instead.
    #[must_use]
    pub fn refuses_the_record(&self) -> bool {
        match self {
            Self::Forbidden(_) | Self::Decode(_) => true,
            Self::Status { status, .. } => matches!(*status, 400 | 404 | 410 | 422),
            _ => false,
        }
    }
}

/// The start of a response body, for the server's log.
#[must_use]
pub fn snippet(body: &str) -> String {
    let trimmed = body.trim();
    match trimmed.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_refusals_of_one_record_fail_that_record_alone() {
        let status = |status| ConnectorError::Status { status };
        for refusal in [
            ConnectorError::Forbidden(String::new()),
            ConnectorError::Decode(String::new()),
            status(404),
            status(410),
        ] {
            assert!(refusal.refuses_the_record(), "{refusal:?}");
        }
        // Whatever would fail every later record as well fails the page or the run.
        for wider in [
            ConnectorError::Unauthorized(String::new()),
            ConnectorError::Unreachable { host: "h".into() },
            status(401),
            status(429),
            status(503),
        ] {
            assert!(!wider.refuses_the_record(), "{wider:?}");
        }
    }
}
