//! GraphQL over HTTP: authenticate, execute, and decorate errors with their code and request id.

use async_graphql::http::GraphiQLSource;
use async_graphql::{ServerError, Value};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::response::{Html, IntoResponse, Response};

use crate::auth::Viewer;
use crate::error::{ApiError, ErrorCode};
use crate::graphql::loaders::Loaders;
use crate::router::{AppState, REQUEST_ID_HEADER};

/// `GET /graphql`: GraphiQL, for people exploring the API in a browser.
pub async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .title("Tandem GraphQL")
            .finish(),
    )
}

/// `POST /graphql`: runs one GraphQL request for the token's viewer.
pub async fn execute(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    let viewer = match authenticate(&state, &headers).await {
        Ok(viewer) => viewer,
        Err(error) => return error.into_response(),
    };
    tracing::debug!(person.subject = %viewer.person.subject, org = %viewer.organization.slug, "authenticated");
    let request = Loaders::attach(request.into_inner(), &state.db)
        .data(state.db.clone())
        .data(viewer);
    let mut response = state.schema.execute(request).await;
    let request_id = headers
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok());
    for error in &mut response.errors {
        decorate(error, request_id);
    }
    GraphQLResponse::from(response).into_response()
}

/// The viewer behind the request's bearer token.
///
/// # Errors
/// [`ApiError::Unauthenticated`] when the header is missing or malformed or the token is bad;
/// [`ApiError::Forbidden`] when it claims more than its subject holds.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Viewer, ApiError> {
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
    let claims = state.jwt.verify(token)?;
    Viewer::resolve(&state.db, &claims).await
}

/// Gives every error a code (errors raised by the GraphQL engine itself have none) and the
/// request id, so a client can quote it to an operator.
fn decorate(error: &mut ServerError, request_id: Option<&str>) {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        // The engine's own errors: parse and validation failures carry no path; argument
        // coercion failures carry the field's path.
        let code = if error.path.is_empty() {
            ErrorCode::GraphqlValidationFailed
        } else {
            ErrorCode::BadUserInput
        };
        extensions.set("code", code.as_str());
    }
    if let Some(request_id) = request_id {
        extensions.set("requestId", Value::from(request_id));
    }
}
