//! The access log: one compact `INFO` line per request.
//!
//! The router's [`access_log`] middleware times each request and, when the response is ready,
//! logs its method, path, status, latency in milliseconds (a number), the SQL statements the
//! request ran until its response head (`statements`, from [`StatementCount`]; a streamed
//! export's later pages are not in it), request id, and what the
//! handler knows that the middleware cannot: the GraphQL operation name and the first error
//! code. A handler passes those as a [`RequestSummary`] in the response's extensions; every
//! [`ApiError`](crate::error::ApiError) response carries its [`ErrorCode`] there already.
//!
//! The line is emitted outside the request's tracing span, so it holds its own fields and
//! nothing more, in either log format. Everything a client chose (request id, operation name)
//! is validated or replaced before it is logged, so a line cannot be split or forged.

use std::time::Instant;

use async_graphql::{BatchRequest, BatchResponse};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use crate::db::StatementCount;
use crate::error::ErrorCode;
use crate::state::REQUEST_ID_HEADER;

/// The `target` of the access log lines, so they can be filtered on their own
/// (`RUST_LOG=info,tandem::access=warn` silences them).
pub const TARGET: &str = "tandem::access";

/// The longest path logged; the rest is cut (a URL can be tens of kilobytes).
const MAX_PATH: usize = 256;
/// The longest operation name logged.
const MAX_OPERATION: usize = 100;

/// What a handler tells the access log about its request, through the response's extensions:
/// `response.extensions_mut().insert(summary)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestSummary {
    /// The GraphQL operation name the client gave (`operationName`), when it is a valid name.
    pub operation: Option<String>,
    /// The first `extensions.code` of the response's errors, if any.
    pub error_code: Option<String>,
}

impl RequestSummary {
    /// A summary naming `operation` (dropped unless it is a GraphQL name of at most 100
    /// characters) and `error_code`.
    pub fn new(operation: Option<&str>, error_code: Option<&str>) -> Self {
        Self {
            operation: operation
                .filter(|name| is_graphql_name(name))
                .map(str::to_owned),
            error_code: error_code
                .filter(|code| is_error_code(code))
                .map(str::to_owned),
        }
    }

    /// The summary of a GraphQL batch: the operation names the client gave (joined with `,`
    /// for a batch), and the first error code of the responses.
    pub fn graphql(operations: Option<&str>, response: &BatchResponse) -> Self {
        let responses: Vec<&async_graphql::Response> = match response {
            BatchResponse::Single(single) => vec![single],
            BatchResponse::Batch(many) => many.iter().collect(),
        };
        let error_code = responses
            .iter()
            .flat_map(|single| &single.errors)
            .find_map(|error| match error.extensions.as_ref()?.get("code")? {
                async_graphql::Value::String(code) => Some(code.clone()),
                _ => None,
            });
        Self {
            operation: operations
                .filter(|names| names.split(',').all(is_graphql_name))
                .map(str::to_owned),
            error_code: error_code.filter(|code| is_error_code(code)),
        }
    }
}

/// The `operationName`s of a request, joined with `,` for a batch; `None` when none is given.
/// Read it before the request is executed (execution consumes it).
pub fn operation_names(request: &BatchRequest) -> Option<String> {
    let names: Vec<&str> = match request {
        BatchRequest::Single(single) => single.operation_name.as_deref().into_iter().collect(),
        BatchRequest::Batch(many) => many
            .iter()
            .filter_map(|single| single.operation_name.as_deref())
            .collect(),
    };
    (!names.is_empty()).then(|| names.join(","))
}

/// A GraphQL name (`[_A-Za-z][_0-9A-Za-z]*`) of at most [`MAX_OPERATION`] characters.
fn is_graphql_name(name: &str) -> bool {
    let mut characters = name.chars();
    name.len() <= MAX_OPERATION
        && characters
            .next()
            .is_some_and(|first| first == '_' || first.is_ascii_alphabetic())
        && characters.all(|rest| rest == '_' || rest.is_ascii_alphanumeric())
}

/// An error code as `ErrorCode` spells them: `SCREAMING_SNAKE_CASE`, short.
fn is_error_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 64
        && code
            .chars()
            .all(|character| character == '_' || character.is_ascii_uppercase())
}

/// The middleware that logs the line; see the module documentation. Placed inside the layer
/// that sets the request id, so it logs the id the client is given.
pub async fn access_log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = truncate(request.uri().path(), MAX_PATH).to_owned();
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    // A route template, never the path itself: the metrics' labels stay bounded.
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(
            || "unmatched".to_owned(),
            |matched| matched.as_str().to_owned(),
        );
    let statements = StatementCount::default();
    let (mut response, admission) =
        crate::auth::rate::scope(statements.clone().scope(next.run(request))).await;
    if let Some(admission) = admission {
        crate::auth::rate::add_headers(response.headers_mut(), admission);
    }
    let summary = response.extensions().get::<RequestSummary>();
    let error_code = summary
        .and_then(|summary| summary.error_code.as_deref())
        .or_else(|| {
            response
                .extensions()
                .get::<ErrorCode>()
                .map(|code| code.as_str())
        });
    let latency = started.elapsed();
    let status = response.status();
    let outcome = match error_code {
        Some(code) => code.to_owned(),
        None if status.is_client_error() || status.is_server_error() => {
            format!("HTTP_{}", status.as_u16())
        }
        None => "OK".to_owned(),
    };
    crate::metrics::request(
        &route,
        summary.and_then(|summary| summary.operation.as_deref()),
        &outcome,
        latency,
    );
    log_line(&Line {
        method: method.as_str(),
        path: &path,
        status: response.status().as_u16(),
        latency_ms: latency.as_secs_f64() * 1000.0,
        statements: statements.get(),
        operation: summary.and_then(|summary| summary.operation.as_deref()),
        error_code,
        request_id: request_id.as_deref(),
    });
    response
}

/// The fields of one access log line.
#[derive(Debug)]
pub struct Line<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The URL path, without the query string (which may hold filters worth keeping private).
    pub path: &'a str,
    /// The response status.
    pub status: u16,
    /// From the request's arrival to the response's head, in milliseconds.
    pub latency_ms: f64,
    /// The SQL statements the request ran until its response head.
    pub statements: u32,
    /// See [`RequestSummary::operation`].
    pub operation: Option<&'a str>,
    /// See [`RequestSummary::error_code`].
    pub error_code: Option<&'a str>,
    /// The request id (validated by the router), as returned in `x-request-id`.
    pub request_id: Option<&'a str>,
}

/// Logs `line` at `INFO` as a root event (outside any span), absent fields omitted.
pub fn log_line(line: &Line<'_>) {
    // Rounded to 0.1 ms: more digits are noise, and a short number keeps the line short.
    let latency_ms = (line.latency_ms * 10.0).round() / 10.0;
    // Displayed, not debugged: `method=GET`, not `method="GET"`. Every value is free of spaces
    // and control characters by then, so the text line still splits on spaces.
    tracing::info!(
        target: TARGET,
        parent: None,
        method = %line.method,
        path = %line.path,
        status = line.status,
        latency_ms,
        statements = line.statements,
        operation = line.operation.map(tracing::field::display),
        error_code = line.error_code.map(tracing::field::display),
        request_id = line.request_id.map(tracing::field::display),
        "request"
    );
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::get;
    use tower::ServiceExt;
    use tracing_subscriber::fmt::MakeWriter;

    use super::*;
    use crate::config::LogFormat;

    /// A log sink the test reads back.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Buffer {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Self;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// Serves one request through a router with the access log and a span around the handler
    /// (as the real router has), under a subscriber in `format` at `info`, and returns the log.
    /// What the test handler answers with.
    #[derive(Clone)]
    enum Answer {
        /// A bare 400 with a summary.
        Summary(RequestSummary),
        /// A bare 400 with nothing for the log.
        Bare,
        /// An [`ApiError`](crate::error::ApiError) response (its code only).
        ApiError,
    }

    async fn logged(format: LogFormat, answer: Answer) -> String {
        let buffer = Buffer::default();
        let subscriber =
            crate::telemetry::subscriber(format, "info".parse().unwrap(), false, buffer.clone());
        let _guard = tracing::subscriber::set_default(subscriber);
        let router = Router::new()
            .route(
                "/graphql",
                get(move || async move {
                    tracing::debug!("a detail that stays out of the INFO log");
                    let mut response = (StatusCode::BAD_REQUEST, "no").into_response();
                    match answer {
                        Answer::Summary(summary) => {
                            response.extensions_mut().insert(summary);
                        }
                        Answer::Bare => {}
                        Answer::ApiError => {
                            response = crate::error::ApiError::bad_input("x", "bad")
                                .into_response_with_id(Some("abc-123"));
                        }
                    }
                    response
                }),
            )
            .layer(
                tower_http::trace::TraceLayer::new_for_http().make_span_with(
                    |_: &Request<Body>| tracing::info_span!("request", request_id = "span-field"),
                ),
            )
            .layer(axum::middleware::from_fn(access_log));
        let request = Request::get("/graphql?query=secret")
            .header(REQUEST_ID_HEADER, "abc-123")
            .body(Body::empty())
            .unwrap();
        let response = router.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        buffer.text()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn one_text_line_with_every_field() {
        let summary = RequestSummary::new(Some("Viewer"), Some("UNAUTHENTICATED"));
        let log = logged(LogFormat::Text, Answer::Summary(summary)).await;
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 1, "{log}");
        let line = lines[0];
        for field in [
            " INFO ",
            "tandem::access: request",
            "method=GET",
            "path=/graphql",
            "status=400",
            "latency_ms=",
            "statements=0",
            "operation=Viewer",
            "error_code=UNAUTHENTICATED",
            "request_id=abc-123",
        ] {
            assert!(line.contains(field), "{field} missing from {line}");
        }
        assert!(
            !line.contains("secret"),
            "the query string is not logged: {line}"
        );
        assert!(!line.contains("span-field"), "outside the span: {line}");
        let latency = line
            .split("latency_ms=")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .unwrap();
        assert!(latency.parse::<f64>().is_ok(), "{latency} is a number");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn one_json_object_with_a_numeric_latency() {
        let summary = RequestSummary::new(Some("Viewer"), Some("FORBIDDEN"));
        let log = logged(LogFormat::Json, Answer::Summary(summary)).await;
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 1, "{log}");
        let line: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["target"], TARGET);
        let fields = &line["fields"];
        assert_eq!(fields["method"], "GET");
        assert_eq!(fields["path"], "/graphql");
        assert_eq!(fields["status"], 400);
        assert!(fields["latency_ms"].is_f64(), "{fields}");
        assert_eq!(fields["operation"], "Viewer");
        assert_eq!(fields["error_code"], "FORBIDDEN");
        assert_eq!(fields["request_id"], "abc-123");
        assert!(line.get("span").is_none(), "outside the span: {line}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn absent_fields_are_left_out() {
        let log = logged(LogFormat::Json, Answer::Bare).await;
        let line: serde_json::Value = serde_json::from_str(log.trim()).unwrap();
        let fields = line["fields"].as_object().unwrap();
        assert!(!fields.contains_key("operation"), "{line}");
        assert!(!fields.contains_key("error_code"), "{line}");
        assert_eq!(fields["status"], 400);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn api_errors_give_their_code() {
        let log = logged(LogFormat::Json, Answer::ApiError).await;
        let line: serde_json::Value = serde_json::from_str(log.trim()).unwrap();
        assert_eq!(line["fields"]["error_code"], "BAD_USER_INPUT", "{line}");
        assert!(line["fields"].get("operation").is_none(), "{line}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_line_counts_the_statements_of_the_request_and_of_the_tasks_it_hands_them_to() {
        let buffer = Buffer::default();
        let subscriber = crate::telemetry::subscriber(
            LogFormat::Json,
            "info".parse().unwrap(),
            false,
            buffer.clone(),
        );
        let _guard = tracing::subscriber::set_default(subscriber);
        let db = crate::db::connect(&crate::config::DatabaseSettings {
            database_url: "sqlite::memory:".into(),
            database_max_connections: 1,
        })
        .await
        .unwrap();
        fn select(value: u8) -> sea_orm::Statement {
            sea_orm::Statement::from_string(
                sea_orm::DatabaseBackend::Sqlite,
                format!("SELECT {value}"),
            )
        }
        let router = Router::new()
            .route(
                "/graphql",
                get(move || async move {
                    use sea_orm::ConnectionTrait;
                    db.query_one_raw(select(1)).await.unwrap();
                    db.query_one_raw(select(2)).await.unwrap();
                    // A task spawned with the request's counter counts into it (as a
                    // subscription's loader batches do); one without it does not.
                    let counted = crate::db::StatementCount::current().unwrap();
                    let carried = db.clone();
                    tokio::spawn(counted.scope(async move {
                        carried.query_one_raw(select(3)).await.unwrap();
                    }))
                    .await
                    .unwrap();
                    let uncounted = db.clone();
                    tokio::spawn(async move {
                        uncounted.query_one_raw(select(4)).await.unwrap();
                    })
                    .await
                    .unwrap();
                    StatusCode::OK
                }),
            )
            .layer(axum::middleware::from_fn(access_log));
        let request = Request::get("/graphql").body(Body::empty()).unwrap();
        let response = router.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let log = buffer.text();
        let line: serde_json::Value = serde_json::from_str(log.trim()).unwrap();
        assert_eq!(line["fields"]["statements"], 3, "{line}");
    }

    #[test]
    fn client_chosen_values_are_kept_only_when_well_formed() {
        let forged = RequestSummary::new(Some("Viewer\nINFO forged=1"), Some("bad code\n"));
        assert_eq!(forged, RequestSummary::default());
        let long = "a".repeat(MAX_OPERATION + 1);
        assert_eq!(RequestSummary::new(Some(&long), None).operation, None);
        assert_eq!(
            RequestSummary::new(Some("_Viewer2"), Some("NOT_FOUND")),
            RequestSummary {
                operation: Some("_Viewer2".into()),
                error_code: Some("NOT_FOUND".into())
            }
        );
        assert_eq!(truncate("héllo", 2), "h");
    }

    #[test]
    fn graphql_summaries_take_the_names_and_the_first_code() {
        let request: BatchRequest = serde_json::from_value(serde_json::json!([
            { "query": "query A { a }", "operationName": "A" },
            { "query": "query B { b }", "operationName": "B" },
        ]))
        .unwrap();
        assert_eq!(operation_names(&request).as_deref(), Some("A,B"));
        let mut failed = async_graphql::Response::new(async_graphql::Value::Null);
        let mut error = async_graphql::ServerError::new("no", None);
        let mut extensions = async_graphql::ErrorExtensionValues::default();
        extensions.set("code", "NOT_FOUND");
        error.extensions = Some(extensions);
        failed.errors.push(error);
        let response = BatchResponse::Batch(vec![
            async_graphql::Response::new(async_graphql::Value::Null),
            failed,
        ]);
        assert_eq!(
            RequestSummary::graphql(Some("A,B"), &response),
            RequestSummary {
                operation: Some("A,B".into()),
                error_code: Some("NOT_FOUND".into())
            }
        );
    }
}
