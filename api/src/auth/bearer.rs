//! Bearer authentication: the `Authorization: Bearer <token>` header of a request, verified and
//! resolved to the [`Viewer`] it names. Every HTTP front door (GraphQL, exports) calls it.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use sea_orm::DatabaseConnection;

use crate::auth::cache::CallerCache;
use crate::auth::{JwtKeys, Viewer};
use crate::error::ApiError;

/// The viewer behind the request's bearer token. The token is verified on every call (so an
/// expired one is refused at once); what it resolves to may come from `callers`.
///
/// # Errors
/// [`ApiError::Unauthenticated`] when the header is missing or malformed or the token is bad;
/// [`ApiError::Forbidden`] when it claims more than its subject holds.
pub async fn authenticate(
    jwt: &JwtKeys,
    callers: &CallerCache,
    db: &DatabaseConnection,
    headers: &HeaderMap,
) -> Result<Viewer, ApiError> {
    let header = headers.get(AUTHORIZATION).ok_or_else(|| {
        ApiError::Unauthenticated("missing `Authorization: Bearer <token>` header".to_owned())
    })?;
    let token = header
        .to_str()
        .ok()
        .and_then(|value| {
            value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            ApiError::Unauthenticated(
                "the Authorization header must be `Bearer <token>`".to_owned(),
            )
        })?;
    let claims = jwt.verify(token).await?;
    // Before anything reads the database: a caller over its rate costs no query.
    callers.admit(&claims)?;
    callers.resolve(db, &claims).await
}
