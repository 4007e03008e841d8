//! The one HTTP client layer every connector uses: reqwest over rustls with connect and request
//! timeouts, retries with exponential backoff and jitter on timeouts, connection errors and 5xx,
//! and 429 handling that waits what the vendor asks (`Retry-After`, in seconds or as an HTTP
//! date, or a `RateLimit-Reset`/`X-RateLimit-Reset` header), capped by the policy.
//!
//! Throttling is budgeted per run, not per request: a 429 is retried however many times it
//! comes, each time after the wait the vendor asks (at least the policy's `min_delay`, at most
//! its `max_retry_after`), until the waits of the whole run ([`Throttle`], shared by every
//! request of one connector) would pass the policy's `throttle_budget`; then the request fails
//! with [`ConnectorError::ThrottleBudgetSpent`]. Each wait is reported to whoever holds the throttle's
//! receiver ([`Throttle::reporting`]), so a run can say that it is waiting.
//!
//! Writes are not idempotent: [`HttpClient::send_write`] / [`HttpClient::write_json`] send one
//! again after a 429 only (the vendor refused it unapplied), never after a 5xx, a timeout or a
//! dropped connection, which may come after the vendor applied it; the caller (the write-back
//! outbox, with its own dedupe) decides. Reads keep every retry, including those sent as `POST`
//! (Autotask's queries), which is why the rule follows the call, not the HTTP method.
//!
//! Every request goes through [`HttpClient::execute`], which applies the egress policy
//! ([`crate::egress`]) to the request's URL, and the client resolves names through the
//! policy's filtering resolver. Redirects are never followed and proxies from the environment
//! are not used (a proxy would resolve names itself, past the filter). What a vendor said in an
//! error body, and why a connection failed, go to the log at WARN; callers get the uniform
//! [`ConnectorError`] wording.

use std::error::Error as StdError;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::header::HeaderMap;
use reqwest::{Request, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::egress::{self, Egress};
use crate::error::{ConnectorError, snippet};

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per request after timeouts, connection errors and 5xx, the first included
    /// (429s do not count: they draw on `throttle_budget`).
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
    /// How long one run may wait in all for a vendor that throttles it (429).
    pub throttle_budget: Duration,
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
            // A busy tenant throttles for minutes; a run waits that out rather than fail.
            throttle_budget: Duration::from_secs(15 * 60),
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
            // Fifty waits of the longest `Retry-After` this policy honours.
            throttle_budget: Duration::from_secs(1),
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
            throttle_budget: Duration::ZERO,
        }
    }
}

/// One wait on a throttling vendor, as reported to a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleWait {
    /// How long this wait lasts.
    pub wait: Duration,
    /// The run's waits so far, this one included.
    pub waited: Duration,
    /// The run's budget.
    pub budget: Duration,
}

/// The time one run has spent waiting on 429s, shared by every request of its connector (clones
/// share it), and where each wait is reported.
#[derive(Debug, Clone, Default)]
pub struct Throttle {
    waited: Arc<Mutex<Duration>>,
    report: Option<tokio::sync::mpsc::UnboundedSender<ThrottleWait>>,
}

impl Throttle {
    /// A throttle that sends every wait to the receiver it returns.
    #[must_use]
    pub fn reporting() -> (Self, tokio::sync::mpsc::UnboundedReceiver<ThrottleWait>) {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        (
            Self {
                waited: Arc::default(),
                report: Some(sender),
            },
            receiver,
        )
    }

    /// The waits so far.
    ///
    /// # Panics
    /// When a thread panicked while holding the lock.
    #[must_use]
    pub fn waited(&self) -> Duration {
        *self.waited.lock().expect("throttle lock")
    }

    /// Takes `wait` from `budget` and reports it; `None` (taking nothing) when the waits would
    /// pass the budget.
    fn spend(&self, wait: Duration, budget: Duration) -> Option<ThrottleWait> {
        let mut waited = self.waited.lock().expect("throttle lock");
        let total = waited.saturating_add(wait);
        if total > budget {
            return None;
        }
        *waited = total;
        let spent = ThrottleWait {
            wait,
            waited: total,
            budget,
        };
        if let Some(report) = &self.report {
            // A run that stopped listening still waits; nobody is told.
            let _ = report.send(spent);
        }
        Some(spent)
    }
}

/// A reqwest client with the retry policy and the egress policy.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    policy: RetryPolicy,
    egress: Egress,
    throttle: Throttle,
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
            throttle: Throttle::default(),
        })
    }

    /// This client with its waits on 429s counted (and reported) by `throttle`, which a run
    /// shares with every client it uses.
    #[must_use]
    pub fn with_throttle(mut self, throttle: Throttle) -> Self {
        self.throttle = throttle;
        self
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
    /// successful response. Timeouts, connection errors and 5xx are retried with exponential
    /// backoff up to the policy's attempts; 429s as long as the run's throttling budget lasts.
    ///
    /// # Errors
    /// A [`ConnectorError`] for a non-retryable status, the last error once attempts run out, or
    /// [`ConnectorError::ThrottleBudgetSpent`] once the throttling budget is spent.
    pub async fn send(
        &self,
        build: impl Fn() -> RequestBuilder + Send + Sync,
    ) -> Result<Response, ConnectorError> {
        self.send_as(Repeat::Transient, build).await
    }

    /// [`Self::send`] for a request that is not safe to repeat (a write): after a 429 it is
    /// sent again (the vendor did not apply it), after anything else it is not. A 5xx, a
    /// timeout or a dropped connection may come after the vendor applied the write, so the
    /// caller (the write-back outbox, with its own dedupe) decides whether to try again.
    ///
    /// # Errors
    /// As [`Self::send`], with the first transient failure returned as it came.
    pub async fn send_write(
        &self,
        build: impl Fn() -> RequestBuilder + Send + Sync,
    ) -> Result<Response, ConnectorError> {
        self.send_as(Repeat::Throttled, build).await
    }

    async fn send_as(
        &self,
        repeat: Repeat,
        build: impl Fn() -> RequestBuilder + Send + Sync,
    ) -> Result<Response, ConnectorError> {
        let policy = self.policy;
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(policy.min_delay)
            .with_max_delay(policy.max_delay)
            .with_max_times(policy.attempts.saturating_sub(1))
            .with_jitter()
            .build();
        // A 429 without a wait named: back off exponentially, up to the longest wait honoured.
        let mut unnamed = ExponentialBuilder::default()
            .with_min_delay(policy.min_delay)
            .with_max_delay(policy.max_retry_after.max(policy.min_delay))
            .without_max_times()
            .build();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let error = match self.attempt(build()).await {
                Ok(response) => return Ok(response),
                Err(error) => error,
            };
            let delay = match error {
                ConnectorError::RateLimited { retry_after, .. } => {
                    // Never less than the policy's shortest delay (and a millisecond), so
                    // `Retry-After: 0` forever still spends the budget instead of spinning.
                    let floor = policy.min_delay.max(Duration::from_millis(1));
                    let wait = retry_after
                        .or_else(|| unnamed.next())
                        .unwrap_or(policy.max_retry_after)
                        .min(policy.max_retry_after)
                        .max(floor);
                    let Some(spent) = self.throttle.spend(wait, policy.throttle_budget) else {
                        tracing::warn!(
                            attempts,
                            waited = ?self.throttle.waited(),
                            budget = ?policy.throttle_budget,
                            "the vendor still throttles and the run's throttling budget is spent"
                        );
                        return Err(ConnectorError::ThrottleBudgetSpent {
                            attempts,
                            waited: self.throttle.waited(),
                            budget: policy.throttle_budget,
                        });
                    };
                    tracing::info!(?wait, waited = ?spent.waited, budget = ?spent.budget, "the vendor throttles: waiting");
                    wait
                }
                ref transient if transient.is_transient() && repeat == Repeat::Transient => {
                    match backoff.next() {
                        Some(delay) => {
                            tracing::warn!(error = %transient, ?delay, "retrying a vendor request");
                            delay
                        }
                        None => return Err(error),
                    }
                }
                _ => return Err(error),
            };
            tokio::time::sleep(delay).await;
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
        Self::read_json(response).await
    }

    /// [`Self::send_write`] and reads the body as JSON `T`, with the response headers.
    ///
    /// # Errors
    /// As [`Self::send_write`], or [`ConnectorError::Decode`] when the body is not a `T`.
    pub async fn write_json<T: DeserializeOwned>(
        &self,
        build: impl Fn() -> RequestBuilder + Send + Sync,
    ) -> Result<(T, HeaderMap), ConnectorError> {
        let response = self.send_write(build).await?;
        Self::read_json(response).await
    }

    async fn read_json<T: DeserializeOwned>(
        response: Response,
    ) -> Result<(T, HeaderMap), ConnectorError> {
        let host = host_of(response.url());
        let headers = response.headers().clone();
        let body = read_body(response, MAX_ANSWER)
            .await
            .map_err(|error| match error {
                BodyError::TooLarge => ConnectorError::Decode(format!(
                    "the answer is larger than {} MiB",
                    MAX_ANSWER >> 20
                )),
                BodyError::Failed(error) => no_answer(host.clone(), &error),
            })?;
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
            // Only for the log: the start of an error answer is enough.
            let body = read_body(response, MAX_ERROR_ANSWER)
                .await
                .map(|body| String::from_utf8_lossy(&body).into_owned())
                .unwrap_or_default();
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

/// Which failures a request is sent again after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    /// 429s, and timeouts, connection errors and 5xx (reads, and queries sent as `POST`).
    Transient,
    /// 429s only (writes: the vendor may have applied one that failed otherwise).
    Throttled,
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
/// Most bytes read from one vendor answer: pages are far smaller, and an answer that never ends
/// must not fill the server's memory.
pub const MAX_ANSWER: usize = 64 * 1024 * 1024;
/// Most bytes read from a token endpoint's answer.
pub(crate) const MAX_TOKEN_ANSWER: usize = 1024 * 1024;
/// Most bytes read from an error answer (it is only logged).
const MAX_ERROR_ANSWER: usize = 64 * 1024;

/// Why an answer's body could not be read.
pub(crate) enum BodyError {
    /// It is longer than the cap.
    TooLarge,
    /// The connection failed while reading it.
    Failed(reqwest::Error),
}

/// Reads `response`'s body, chunk by chunk, refusing one longer than `cap` bytes.
pub(crate) async fn read_body(mut response: Response, cap: usize) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|length| length > cap as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Failed)? {
        if body.len() + chunk.len() > cap {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

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
    fn a_throttle_spends_its_budget_across_clones_and_reports_each_wait() {
        let (throttle, mut waits) = Throttle::reporting();
        let shared = throttle.clone();
        let budget = Duration::from_millis(50);
        let twenty = Duration::from_millis(20);
        assert!(throttle.spend(twenty, budget).is_some());
        assert!(shared.spend(twenty, budget).is_some());
        assert_eq!(throttle.waited(), Duration::from_millis(40));
        // A wait past the budget is refused and not counted.
        assert_eq!(shared.spend(twenty, budget), None);
        assert_eq!(throttle.waited(), Duration::from_millis(40));
        assert!(throttle.spend(Duration::from_millis(10), budget).is_some());
        let reported: Vec<_> = std::iter::from_fn(|| waits.try_recv().ok())
            .map(|wait| wait.waited.as_millis())
            .collect();
        assert_eq!(reported, [20, 40, 50]);
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
