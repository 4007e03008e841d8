//! `GET /metrics`: Prometheus text format (see [`crate::metrics`]), for a scraper that presents
//! `TANDEM_METRICS_TOKEN` as a bearer token. Without that setting the route answers 404, so an
//! installation exposes nothing it did not choose to.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;

use crate::error::{ApiError, ErrorCode};
use crate::state::{AppState, RequestId};

/// The media type of the Prometheus text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics`.
pub async fn scrape(
    State(state): State<AppState>,
    request_id: RequestId,
    headers: HeaderMap,
) -> Response {
    let Some(expected) = &state.metrics_token else {
        return ApiError::request(
            ErrorCode::NotFound,
            "metrics are not served: set TANDEM_METRICS_TOKEN to serve them",
        )
        .into_response_with_id(request_id.as_deref());
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !integrations::webhooks::constant_time_eq(
        presented.as_bytes(),
        expected.expose_secret().as_bytes(),
    ) {
        return ApiError::Unauthenticated(
            "`/metrics` needs `Authorization: Bearer <TANDEM_METRICS_TOKEN>`".to_owned(),
        )
        .into_response_with_id(request_id.as_deref());
    }
    match crate::metrics::render(&state.db) {
        Some(body) => {
            let mut response = body.into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
            response
        }
        None => ApiError::Internal(anyhow::anyhow!(
            "another metrics recorder was installed first"
        ))
        .into_response_with_id(request_id.as_deref()),
    }
}
