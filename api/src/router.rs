//! Every HTTP route and middleware layer, in one place.
//!
//! Layers, outermost first: a client's `x-request-id` that is not a valid id is dropped, and a
//! request id is set (the client's valid one is kept, else a fresh UUID); the access log
//! (`http::summary`) times the request; security headers are added to every response; a
//! tracing span carrying the id wraps the request, the id is copied to the response, then CORS,
//! the JSON error bodies, the timeout and the body limit apply.

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, put};
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::config::ServerSettings;
use crate::error::{ApiError, ErrorCode};
use crate::http;
use crate::http::summary;
use crate::rest::{evidence, export, health, matrix_export, metrics, packages, webhooks};
use crate::state::{AppState, REQUEST_ID_HEADER, valid_request_id};

/// The application's routes with their middleware.
pub fn router(state: AppState, settings: &ServerSettings) -> Router {
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request<_>| {
            let request_id = request
                .headers()
                .get(REQUEST_ID_HEADER)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!(
                "request",
                request_id = %request_id,
                method = %request.method(),
                path = %request.uri().path(),
            )
        })
        // The access log has the one INFO line per request; these are the details.
        .on_response(DefaultOnResponse::new().level(Level::DEBUG))
        .on_failure(
            |failure: ServerErrorsFailureClass, latency: Duration, _: &tracing::Span| {
                match failure {
                    // A 5xx is in the access log already, and its cause was logged where it
                    // was handled (`error.rs`).
                    ServerErrorsFailureClass::StatusCode(status) => {
                        tracing::debug!(%status, ?latency, "request failed");
                    }
                    // A response body that broke off (an export aborted mid-stream) is seen
                    // nowhere else.
                    ServerErrorsFailureClass::Error(error) => {
                        tracing::warn!(%error, ?latency, "response failed");
                    }
                }
            },
        );

    Router::new()
        .route(
            "/graphql",
            get(http::graphql::get).post(http::graphql::post),
        )
        .route("/graphql/ws", get(http::ws::subscribe))
        .route("/graphql/assets/{name}", get(http::graphiql::asset))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::scrape))
        .route("/export/change-log", get(export::change_log))
        .route(
            "/environments/{id}/responsibility-matrix",
            get(matrix_export::export),
        )
        .route(
            "/environments/{id}/packages/evidence",
            get(packages::evidence),
        )
        .route(
            "/environments/{id}/packages/handoff",
            get(packages::handoff),
        )
        .route("/environments/{id}/packages/exit", get(packages::exit))
        .route("/webhooks/{integration}", post(webhooks::receive))
        .layer(DefaultBodyLimit::max(settings.body_limit))
        .layer(RequestBodyLimitLayer::new(settings.body_limit))
        // Evidence files have a limit of their own, above the default (merged after the default
        // limit's layers, so only theirs applies).
        .merge(
            Router::new()
                .route(
                    "/evidence/{id}/file",
                    put(evidence::upload).get(evidence::download),
                )
                .layer(DefaultBodyLimit::max(evidence::MAX_FILE_BYTES))
                .layer(RequestBodyLimitLayer::new(evidence::MAX_FILE_BYTES)),
        )
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            settings.request_timeout,
        ))
        // Outside the limit and the timeout, so that their bare 413 and 408 get the JSON body.
        .layer(middleware::from_fn(json_errors))
        .layer(cors(&settings.cors_origins))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(trace)
        .layer(middleware::map_response(security_headers))
        .layer(middleware::from_fn(summary::access_log))
        // `SetRequestIdLayer` keeps a request id the client sent: an invalid one is dropped
        // first, so that it is replaced by a fresh one.
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(middleware::map_request(drop_invalid_request_id))
}

/// Removes a client's `x-request-id` that [`valid_request_id`] refuses (the response then
/// carries the fresh id that replaced it).
async fn drop_invalid_request_id(mut request: axum::extract::Request) -> axum::extract::Request {
    let headers = request.headers_mut();
    let values = headers.get_all(REQUEST_ID_HEADER);
    let mut values = values.iter();
    let keep = match (values.next(), values.next()) {
        (Some(value), None) => valid_request_id(value.as_bytes()),
        // Several ids: none is trusted.
        (Some(_), Some(_)) => false,
        (None, _) => true,
    };
    if !keep {
        headers.remove(REQUEST_ID_HEADER);
    }
    request
}

/// The policy of API (JSON) responses: nothing may be framed, sniffed or scripted.
const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The policy of the GraphiQL page: its scripts and style sheets come from this origin only
/// (embedded in the binary, `http::graphiql`; no inline script), its fonts and icons are in the
/// style sheet as `data:` URLs, and it calls `/graphql` and `/graphql/ws` on this origin. Inline
/// styles are allowed (not scripts): GraphiQL's dialogs add `<style>` elements without a nonce.
const GRAPHIQL_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     font-src data:; img-src 'self' data:; connect-src 'self'; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Adds the security headers to every response, errors included: no MIME sniffing, no
/// framing, no referrer, and a content security policy (a looser one for the HTML of
/// GraphiQL, the only page).
async fn security_headers(mut response: Response) -> Response {
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(if is_html { GRAPHIQL_CSP } else { API_CSP }),
    );
    response
}

/// Gives every error response that is not JSON already (413 from the body limit, 408 from the
/// timeout, 405 and 404 from routing, 400 from a path or query the extractors refuse) the JSON
/// error body every other error has, with its code and the request id. The status is kept.
async fn json_errors(request: axum::extract::Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let response = next.run(request).await;
    let status = response.status();
    // `application/json` or a JSON subtype (`application/graphql-response+json`).
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.split(';').next().unwrap_or_default().trim())
        .is_some_and(|media| {
            media.eq_ignore_ascii_case("application/json")
                || (media.starts_with("application/") && media.ends_with("+json"))
        });
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (code, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            ErrorCode::PayloadTooLarge,
            "the request body is larger than the server accepts",
        ),
        StatusCode::REQUEST_TIMEOUT => (
            ErrorCode::RequestTimeout,
            "the request took longer than the server allows",
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorCode::MethodNotAllowed,
            "this endpoint does not take that HTTP method",
        ),
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "no such endpoint"),
        StatusCode::UNAUTHORIZED => (ErrorCode::Unauthenticated, "authentication required"),
        StatusCode::FORBIDDEN => (ErrorCode::Forbidden, "forbidden"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            ErrorCode::UnsupportedMediaType,
            "the request's media type is not one this endpoint reads",
        ),
        StatusCode::SERVICE_UNAVAILABLE => (
            ErrorCode::ServiceUnavailable,
            "the service is unavailable; try again shortly",
        ),
        status if status.is_server_error() => (ErrorCode::Internal, "internal error"),
        _ => (ErrorCode::BadRequest, "the request is malformed"),
    };
    let (parts, body) = response.into_parts();
    // The plain-text reason axum's extractors give ("Invalid URL: ...") says what to fix; it is
    // about the client's own request, and short.
    let reason = match code {
        ErrorCode::BadRequest => axum::body::to_bytes(body, 1024)
            .await
            .ok()
            .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty()),
        _ => None,
    };
    let mut replaced = ApiError::request(code, reason.as_deref().unwrap_or(message))
        .into_response_with_id(request_id.as_deref());
    *replaced.status_mut() = status;
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        replaced.headers_mut().insert(header::ALLOW, allow.clone());
    }
    replaced
}

/// CORS for the configured origins: none means same-origin only, `*` means any origin.
fn cors(origins: &[String]) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static(REQUEST_ID_HEADER),
        ])
        // Browser clients read the request id and, to back off, the rate limit's headers.
        .expose_headers([
            HeaderName::from_static(REQUEST_ID_HEADER),
            header::RETRY_AFTER,
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderName::from_static("x-ratelimit-reset"),
        ]);
    if origins.iter().any(|origin| origin == "*") {
        layer.allow_origin(Any)
    } else {
        let origins: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|origin| HeaderValue::from_str(origin.trim()).ok())
            .collect();
        layer.allow_origin(AllowOrigin::list(origins))
    }
}
