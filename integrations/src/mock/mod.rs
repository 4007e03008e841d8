//! Mock vendor servers (axum) for tests and benchmarks, one module per vendor, faithful to what
//! a connector relies on: URL layout, auth (tokens that can expire mid-sync), paging, changed-
//! since filters, rate limiting with the vendor's headers, and the vendor's error bodies.
//!
//! Every mock shares [`MockState`]: the vendor's records as JSON in the vendor's own field
//! layout ([`Store`]), a queue of injected faults (a 429 storm, 5xx), request counters (in all
//! and per path), the most requests it had in flight at once, an optional latency added to every
//! API request (for benchmarks: a vendor is tens of milliseconds away, not microseconds), and
//! the access tokens it has issued.

pub mod autotask;
pub mod connectwise;
pub mod datto;
pub mod halopsa;
pub mod ninjaone;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// A failure the mock answers with instead of serving the next API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After: seconds`.
    RateLimited {
        /// The `Retry-After` header value.
        retry_after: u64,
    },
    /// A server error status (500, 502, 503, 504).
    ServerError(u16),
}

/// The records a mock serves, in the vendor's own JSON layout.
#[derive(Debug, Default, Clone)]
pub struct Store {
    /// Companies, organizations, clients or sites.
    pub companies: Vec<Value>,
    /// Devices, configurations or assets.
    pub devices: Vec<Value>,
    /// Tickets.
    pub tickets: Vec<Value>,
    /// Alerts.
    pub alerts: Vec<Value>,
    /// Activities or audit entries.
    pub changes: Vec<Value>,
    /// Ticket notes (ConnectWise: with `ticketId`; Autotask `TicketNotes` with `ticketID`; Halo
    /// actions with `ticket_id`).
    pub notes: Vec<Value>,
    /// Ticket statuses (per board for ConnectWise).
    pub statuses: Vec<Value>,
    /// Ticket priorities.
    pub priorities: Vec<Value>,
    /// NinjaOne: how `olderThan`/`newerThan` behave.
    pub activity_cursors: ActivityCursors,
}

/// How a NinjaOne mock reads the activity id cursors (the reference leaves the direction
/// unconfirmed).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum ActivityCursors {
    /// As their names say, as NinjaOne's PowerShell module documents them.
    #[default]
    AsNamed,
    /// The opposite of their names, as the spec's text reads.
    Swapped,
    /// Not at all: every request answers the newest page (a vendor bug a walk must not hide).
    Ignored,
}

/// A write request a mock accepted, as the client sent it (for tests that check the vendor's
/// request shape and that each write arrived exactly once).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedWrite {
    /// `POST`, `PATCH`, `PUT`.
    pub method: String,
    /// The path as sent, without query.
    pub path: String,
    /// The JSON body.
    pub body: Value,
}

#[derive(Debug, Default)]
struct Control {
    writes: Vec<RecordedWrite>,
    faults: VecDeque<Fault>,
    requests: usize,
    by_path: HashMap<String, usize>,
    in_flight: usize,
    max_in_flight: usize,
    latency: Duration,
    refused: Vec<(String, u16)>,
    token_requests: usize,
    tokens: HashSet<String>,
    serial: u64,
}

/// What every mock shares; tests hold it to change data and inject faults.
#[derive(Debug, Default)]
pub struct MockState {
    store: Mutex<Store>,
    control: Mutex<Control>,
}

impl MockState {
    /// A state serving `store`.
    #[must_use]
    pub fn new(store: Store) -> Arc<Self> {
        Arc::new(Self {
            store: Mutex::new(store),
            control: Mutex::default(),
        })
    }

    /// The records, to read or change.
    ///
    /// # Panics
    /// When a handler panicked while holding the lock.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().expect("mock store lock")
    }

    fn control(&self) -> MutexGuard<'_, Control> {
        self.control.lock().expect("mock control lock")
    }

    /// Answers the next API requests with `faults`, in order.
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.control().faults.extend(faults);
    }

    /// API requests served or refused so far (token requests not included).
    #[must_use]
    pub fn requests(&self) -> usize {
        self.control().requests
    }

    /// API requests so far to `path` exactly (the path as the client sent it, without query).
    #[must_use]
    pub fn requests_to(&self, path: &str) -> usize {
        self.control().by_path.get(path).copied().unwrap_or(0)
    }

    /// API requests so far by path, for tests that look for a pattern.
    #[must_use]
    pub fn requests_by_path(&self) -> HashMap<String, usize> {
        self.control().by_path.clone()
    }

    /// The most API requests the mock was serving at once so far.
    #[must_use]
    pub fn max_in_flight(&self) -> usize {
        self.control().max_in_flight
    }

    /// Starts counting in-flight requests again from now (those in flight still end).
    pub fn reset_max_in_flight(&self) {
        let mut control = self.control();
        control.max_in_flight = control.in_flight;
    }

    /// Answers every API request whose path ends with `suffix` with `status` (a 4xx: the vendor
    /// forbids or does not know that endpoint), until [`MockState::allow_all`].
    pub fn refuse_path(&self, suffix: &str, status: u16) {
        self.control().refused.push((suffix.to_owned(), status));
    }

    /// Stops refusing paths ([`MockState::refuse_path`]).
    pub fn allow_all(&self) {
        self.control().refused.clear();
    }

    /// Answers every API request `latency` later (zero, the default, for none).
    pub fn set_latency(&self, latency: Duration) {
        self.control().latency = latency;
    }

    /// Records a write the mock accepted (handlers call it once the write is applied).
    pub fn record_write(&self, method: &str, path: &str, body: Value) {
        self.control().writes.push(RecordedWrite {
            method: method.to_owned(),
            path: path.to_owned(),
            body,
        });
    }

    /// The writes accepted so far, in order.
    #[must_use]
    pub fn writes(&self) -> Vec<RecordedWrite> {
        self.control().writes.clone()
    }

    /// Token requests so far.
    #[must_use]
    pub fn token_requests(&self) -> usize {
        self.control().token_requests
    }

    /// Makes every access token issued so far invalid, as when they expire mid-sync.
    pub fn expire_tokens(&self) {
        self.control().tokens.clear();
    }

    /// Issues a new access token.
    #[must_use]
    pub fn issue_token(&self) -> String {
        let mut control = self.control();
        control.serial += 1;
        control.token_requests += 1;
        let token = format!("mock-token-{}-{}", control.serial, fastrand::u64(..));
        control.tokens.insert(token.clone());
        token
    }

    /// Whether `Authorization: Bearer <token>` names a live token.
    #[must_use]
    pub fn bearer_valid(&self, authorization: Option<&HeaderValue>) -> bool {
        authorization
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .is_some_and(|token| self.control().tokens.contains(token))
    }

    /// Counts an API request to `path` as started: the status it is refused with, if its path
    /// is refused; its fault, if any; and the latency to add.
    fn begin(&self, path: &str) -> (Option<u16>, Option<Fault>, Duration) {
        let mut control = self.control();
        control.requests += 1;
        *control.by_path.entry(path.to_owned()).or_default() += 1;
        control.in_flight += 1;
        control.max_in_flight = control.max_in_flight.max(control.in_flight);
        let refused = control
            .refused
            .iter()
            .find(|(suffix, _)| path.ends_with(suffix.as_str()))
            .map(|(_, status)| *status);
        (refused, control.faults.pop_front(), control.latency)
    }
}

/// One API request in flight; dropping it (answered, or cancelled by the client) ends it.
struct InFlight(Arc<MockState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut control = self.0.control();
        control.in_flight = control.in_flight.saturating_sub(1);
    }
}

/// A running mock server.
pub struct MockServer {
    /// Its root URL, `http://127.0.0.1:<port>`.
    pub url: String,
    /// Its state.
    pub state: Arc<MockState>,
    task: tokio::task::JoinHandle<()>,
}

impl MockServer {
    /// Serves `router` on a random local port.
    ///
    /// # Panics
    /// When no local port can be bound.
    pub async fn start(router: Router, state: Arc<MockState>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .await
                .expect("mock server runs");
        });
        Self { url, state, task }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Counts an API request (in all, by path, in flight), waits the configured latency, and answers
/// it with the next injected fault, if any, in the vendor's error body shape.
pub(crate) async fn apply_faults(
    state: Arc<MockState>,
    error_body: fn(u16, &str) -> Value,
    request: Request,
    next: Next,
) -> Response {
    let (refused, fault, latency) = state.begin(request.uri().path());
    let _in_flight = InFlight(Arc::clone(&state));
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(status) = refused {
        return json(
            StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN),
            &error_body(status, "Access to this resource is denied"),
        );
    }
    match fault {
        None => next.run(request).await,
        Some(Fault::RateLimited { retry_after }) => {
            let mut response = json(
                StatusCode::TOO_MANY_REQUESTS,
                &error_body(429, "Too many requests"),
            );
            response.headers_mut().insert(
                "retry-after",
                HeaderValue::from_str(&retry_after.to_string()).expect("digits"),
            );
            response
        }
        Some(Fault::ServerError(status)) => json(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            &error_body(status, "Internal server error"),
        ),
    }
}

/// A JSON response.
pub(crate) fn json(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, Body::from(body.to_string())).into_response();
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
}
