//! The one HTTP client layer every connector uses: reqwest over rustls with connect and request
//! timeouts, retries with exponential backoff and jitter on timeouts, connection errors and 5xx,
//! and 429 handling that waits what the vendor asks (`Retry-After`, in seconds or as an HTTP
//! date, or a `RateLimit-Reset`/`X-RateLimit-Reset` header), capped by the policy.
//!
//! Every request goes through [`HttpClient::execute`], which applies the egress policy
//! ([`crate::egress`]) to the request's URL, and the client resolves names through the
//! policy's filtering resolver. Redirects are never followed and proxies from the environment
//! are not used (a proxy would resolve names itself, past the filter). What a vendor said in an
//! error body, and why a connection failed, go to the log at WARN; callers get the uniform
//! [`ConnectorError`] wording.

use std::error::Error as StdError;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::HeaderMap;
use reqwest::{Request, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::egress::{self, Egress};
use crate::error::{ConnectorError, snippet};

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub attempts: usize,
    /// The first backoff delay.
    pub min_delay: Duration,
    /// The longest backoff delay.
    pub max_delay: Duration,
    /// The longest wait a vendor's `Retry-After` can impose.
    pub max_retry_after: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 6,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Millisecond delays, for tests and benchmarks against local mocks.
    #[must_use]
    pub fn fast() -> Self {
        Self {
            attempts: 6,
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(20),
            max_retry_after: Duration::from_millis(20),
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
        }
    }

    /// One attempt with short timeouts (3 s to connect, 5 s in all), for `testIntegration`:
    /// an admin is waiting for the answer, and a dead host must not hold the request.
    #[must_use]
    pub fn probe() -> Self {
        Self {
            attempts: 1,
            min_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
            max_retry_after: Duration::ZERO,
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(5),
        }
    }
}

/// A reqwest client with the retry policy and the egress policy.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    policy: RetryPolicy,
    egress: Egress,
}

impl HttpClient {
    /// A client with `policy`'s timeouts that reaches only what `egress` permits. The process
    /// must have installed a rustls crypto provider first (the server and tests do, through
    /// `api::tls::init`).
    ///
    /// # Errors
    /// When the TLS stack cannot be set up.
    pub fn new(policy: RetryPolicy, egress: Egress) -> Result<Self, ConnectorError> {
        let client = reqwest::Client::builder()
            .connect_timeout(policy.connect_timeout)
            .timeout(policy.request_timeout)
            .user_agent(concat!("tandem/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(egress.resolver())
            // A redirect would need its own egress check and would carry the credentials on; a
            // vendor API that redirects has a wrong `baseUrl`, which the admin should fix.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy resolves names itself, which would bypass the filtering resolver.
            .no_proxy()
            .build()
            .map_err(|error| ConnectorError::Config(format!("HTTP client: {error}")))?;
        Ok(Self {
            client,
            policy,
            egress,
        })
    }

    /// The retry policy.
    #[must_use]
    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// The egress policy.
    #[must_use]
    pub fn egress(&self) -> Egress {
        self.egress
    }

    /// The underlying client, to build requests with; send them with [`Self::send`],
    /// [`Self::json`] or [`Self::execute`], which apply the egress policy.
    #[must_use]
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends `request` once, if the egress policy permits its URL, and returns whatever the
    /// vendor answered (any status).
    ///
    /// # Errors
    /// [`ConnectorError::Blocked`] for an address the policy refuses (by URL or once resolved),
    /// [`ConnectorError::Unreachable`] for no answer at all; the cause is logged at WARN.
    pub async fn execute(&self, request: Request) -> Result<Response, ConnectorError> {
        let host = host_of(request.url());
        if let Err(refusal) = self.egress.check_url(request.url()) {
            tracing::warn!(vendor.host = %host, %refusal, "vendor call refused by the egress policy");
            return Err(ConnectorError::Blocked { host });
        }
        self.client
            .execute(request)
            .await
            .map_err(|error| no_answer(host, &error))
    }

    /// Sends the request `build` makes, again after transient failures, and returns the first
    /// successful response.
    ///
    /// # Errors
    /// A [`ConnectorError`] for a non-retryable status, or the last error once attempts run out.
    pub async fn send(
        &self,
        build: impl Fn() -> RequestBuilder + Send + Sync,
    ) -> Result<Response, ConnectorError> {
        let policy = self.policy;
        let attempts = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&attempts);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(policy.min_delay)
            .with_max_delay(policy.max_delay)
            .with_max_times(policy.attempts.saturating_sub(1))
            .with_jitter();
        let result = (|| {
            counter.fetch_add(1, Ordering::Relaxed);
            self.attempt(build())
        })
        .retry(backoff)
        .when(ConnectorError::is_transient)
        .adjust(move |error, delay| match error {
            ConnectorError::RateLimited {
                retry_after: Some(after),
                ..
            } => delay.map(|_| (*after).min(policy.max_retry_after)),
            _ => delay,
        })
        .notify(|error, delay| tracing::warn!(%error, ?delay, "retrying a vendor request"))
        .await;
        match result {
            Err(ConnectorError::RateLimited { retry_after, .. }) => {
                Err(ConnectorError::RateLimited {
                    attempts: attempts.load(Ordering::Relaxed),
                    retry_after,
                })
            }
            other => other,
        }
    }

    /// [`Self::send`] and reads the body as JSON `T`, with the response headers.
    ///
    /// # Errors
    /// As [`Self::send`], or [`ConnectorError::Decode`] when the body is not a `T`.
    pub async fn json<T: DeserializeOwned>(
        &self,
        build: impl Fn() -> RequestBuilder + Send + Sync,
    ) -> Result<(T, HeaderMap), ConnectorError> {
        let response = self.send(build).await?;
        let host = host_of(response.url());
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|error| no_answer(host.clone(), &error))?;
        let parsed = serde_json::from_slice(&body).map_err(|error| {
            // serde's message can quote the body: it goes to the log only.
            tracing::warn!(vendor.host = %host, %error, "a vendor answer is not the JSON expected");
            ConnectorError::Decode("the answer is not the JSON expected".to_owned())
        })?;
        Ok((parsed, headers))
    }

    /// One attempt: the request `builder` describes, and its status read as an error unless it
    /// is a success.
    async fn attempt(&self, builder: RequestBuilder) -> Result<Response, ConnectorError> {
        let request = builder.build().map_err(|error| {
            ConnectorError::Config(format!("cannot build the request: {}", error.without_url()))
        })?;
        let host = host_of(request.url());
        let response = self.execute(request).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = retry_after(response.headers());
        if status != StatusCode::TOO_MANY_REQUESTS {
            let body = response.text().await.unwrap_or_default();
            tracing::warn!(
                vendor.host = %host,
                status = status.as_u16(),
                vendor.message = %vendor_message(&body),
                "a vendor answered with an error"
            );
        }
        Err(error_for_status(status, retry_after))
    }
}

/// The error a non-success `status` means (the vendor's words are never part of it).
#[must_use]
pub fn error_for_status(status: StatusCode, retry_after: Option<Duration>) -> ConnectorError {
    match status {
        StatusCode::TOO_MANY_REQUESTS => ConnectorError::RateLimited {
            attempts: 1,
            retry_after,
        },
        StatusCode::UNAUTHORIZED => ConnectorError::Unauthorized(status.as_u16().to_string()),
        StatusCode::FORBIDDEN => ConnectorError::Forbidden(status.as_u16().to_string()),
        _ if status.is_redirection() => ConnectorError::Redirected {
            status: status.as_u16(),
        },
        _ => ConnectorError::Status {
            status: status.as_u16(),
        },
    }
}

/// The host of `url` with its port when it names one, as the uniform message shows it.
#[must_use]
pub fn host_of(url: &url::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => "an address without a host".to_owned(),
    }
}

/// The uniform error for a request that got no answer, with its cause logged.
fn no_answer(host: String, error: &reqwest::Error) -> ConnectorError {
    let mut cause = String::new();
    let mut source: Option<&(dyn StdError + 'static)> = error.source();
    while let Some(found) = source {
        cause.push_str(": ");
        cause.push_str(&found.to_string());
        source = found.source();
    }
    if egress::is_blocked(error) {
        tracing::warn!(vendor.host = %host, cause = %cause, "vendor call refused by the egress policy");
        return ConnectorError::Blocked { host };
    }
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connect failed"
    } else {
        "request failed"
    };
    tracing::warn!(vendor.host = %host, kind, cause = %cause, "could not reach a vendor");
    ConnectorError::Unreachable { host }
}

/// How long the vendor asks to wait: `Retry-After` (seconds or an HTTP date), else a
/// `RateLimit-Reset` / `X-RateLimit-Reset` in seconds.
#[must_use]
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(value) = header("retry-after") {
        if let Ok(seconds) = value.trim().parse::<f64>() {
            // A wait too long for a `Duration` is as long as one can be; the policy caps it.
            return (seconds >= 0.0)
                .then(|| Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX));
        }
        if let Ok(at) = chrono::DateTime::parse_from_rfc2822(value.trim()) {
            let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
            return Some(wait.to_std().unwrap_or_default());
        }
    }
    // Some vendors send the reset as an epoch timestamp rather than seconds to wait.
    let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or_default();
    ["ratelimit-reset", "x-ratelimit-reset"]
        .iter()
        .find_map(|name| header(name)?.trim().parse::<u64>().ok())
        .map(|value| {
            if value > 1_000_000_000 {
                Duration::from_secs(value.saturating_sub(now))
            } else {
                Duration::from_secs(value)
            }
        })
}

/// The vendor's own error message from a body, for the server's log: the keys ConnectWise
/// (`message`), NinjaOne (`errorMessage`, `error`), Autotask (`errors[]`) and Datto (`message`,
/// `detail`) use, else the start of the body.
#[must_use]
pub fn vendor_message(body: &str) -> String {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return snippet(body);
    };
    let text = |value: &Value| value.as_str().map(str::to_owned);
    [
        "message",
        "errorMessage",
        "error",
        "detail",
        "error_description",
    ]
    .iter()
    .find_map(|key| value.get(*key).and_then(text))
    .or_else(|| {
        let first = value.get("errors")?.get(0)?;
        text(first).or_else(|| first.get("message").and_then(text))
    })
    .map_or_else(|| snippet(body), |message| snippet(&message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn the_wait_comes_from_retry_after_or_the_reset_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO), "a past date");
        // Found by fuzzing: a wait beyond what a `Duration` holds panicked the sync.
        for huge in ["18446744073709551616", "1e400", "inf"] {
            headers.insert("retry-after", HeaderValue::from_static(huge));
            assert_eq!(retry_after(&headers), Some(Duration::MAX), "{huge}");
        }
        for bad in ["NaN", "-1"] {
            headers.insert("retry-after", HeaderValue::from_static(bad));
            assert_eq!(retry_after(&headers), None, "{bad}");
        }
    }

    #[test]
    fn vendor_messages_are_read_from_each_vendors_error_body() {
        assert_eq!(
            vendor_message(r#"{"code":"NotFound","message":"Ticket not found"}"#),
            "Ticket not found"
        );
        assert_eq!(
            vendor_message(r#"{"resultCode":"X","errorMessage":"bad org"}"#),
            "bad org"
        );
        assert_eq!(
            vendor_message(r#"{"errors":["Missing filter"]}"#),
            "Missing filter"
        );
        assert_eq!(
            vendor_message("<html>gateway</html>"),
            "<html>gateway</html>"
        );
    }
}
