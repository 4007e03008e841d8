//! Mock vendor servers (axum) for tests and benchmarks, one module per vendor, faithful to what
//! a connector relies on: URL layout, auth (tokens that can expire mid-sync), paging, changed-
//! since filters, rate limiting with the vendor's headers, and the vendor's error bodies.
//!
//! Every mock shares [`MockState`]: the vendor's records as JSON in the vendor's own field
//! layout ([`Store`]), a queue of injected faults (a 429 storm, 5xx), a request counter, and the
//! access tokens it has issued.

pub mod autotask;
pub mod connectwise;
pub mod datto;
pub mod halopsa;
pub mod ninjaone;

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

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
    /// Ticket notes (ConnectWise: with `ticketId`).
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

#[derive(Debug, Default)]
struct Control {
    faults: VecDeque<Fault>,
    requests: usize,
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

    fn next_fault(&self) -> Option<Fault> {
        let mut control = self.control();
        control.requests += 1;
        control.faults.pop_front()
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

/// Counts an API request and answers it with the next injected fault, if any, in the vendor's
/// error body shape.
pub(crate) async fn apply_faults(
    state: Arc<MockState>,
    error_body: fn(u16, &str) -> Value,
    request: Request,
    next: Next,
) -> Response {
    match state.next_fault() {
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
