//! What every HTTP handler shares: [`AppState`], and the request id: its header, the rule a
//! client's id must follow, and the [`RequestId`] extractor.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sea_orm::DatabaseConnection;

use crate::auth::JwtKeys;
use crate::auth::cache::CallerCache;
use crate::events::EventBus;
use crate::graphql::AppSchema;

/// The header carrying the request id, in both directions.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest request id a client may choose.
pub const MAX_REQUEST_ID: usize = 128;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The database pool.
    pub db: DatabaseConnection,
    /// Verifies bearer tokens.
    pub jwt: Arc<JwtKeys>,
    /// Resolved callers, reused for a few seconds (`TANDEM_CALLER_CACHE_TTL`).
    pub callers: Arc<CallerCache>,
    /// The executable GraphQL schema.
    pub schema: AppSchema,
    /// Runs syncs: on demand, from webhooks, on schedule.
    pub sync: crate::sync::service::SyncService,
    /// Committed writes, fanned out to subscriptions.
    pub events: EventBus,
    /// How often WebSocket clients are pinged and their rights rechecked.
    pub ws_keepalive: std::time::Duration,
    /// Largest WebSocket message accepted (the HTTP body limit).
    pub ws_max_message: usize,
    /// What a scraper presents at `GET /metrics`; `None`: metrics are not served.
    pub metrics_token: Option<Arc<secrecy::SecretString>>,
}

/// Whether a client's request id may be kept: 1 to [`MAX_REQUEST_ID`] characters of
/// `[A-Za-z0-9._:-]`. Anything else (a newline that would forge a log line, 10 KB of noise) is
/// replaced by the router before any handler or log reads it.
pub fn valid_request_id(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b':' | b'-'))
}

/// The request's id, as the router set it (so always valid), for a handler's error body.
#[derive(Debug, Clone, Default)]
pub struct RequestId(pub Option<String>);

impl RequestId {
    /// The id, if the request has one.
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .headers
                .get(REQUEST_ID_HEADER)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_short_and_plain() {
        for valid in [
            "a",
            "abc-123",
            "trace:01HX.9_z",
            &"x".repeat(MAX_REQUEST_ID),
        ] {
            assert!(valid_request_id(valid.as_bytes()), "{valid}");
        }
        for invalid in [
            "",
            "a b",
            "a\nINFO forged",
            "é",
            "a/b",
            "{}",
            &"x".repeat(MAX_REQUEST_ID + 1),
        ] {
            assert!(!valid_request_id(invalid.as_bytes()), "{invalid:?}");
        }
    }
}
