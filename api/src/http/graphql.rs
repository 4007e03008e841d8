//! GraphQL over HTTP: the media types, methods and status codes of the GraphQL-over-HTTP
//! specification, authentication, and errors decorated with their code and the request id.
//!
//! - `POST /graphql` with `Content-Type: application/json`: one operation, or a batch (a JSON
//!   array) of at most [`MAX_BATCH`]. Other media types get 415, a body that is not JSON 400.
//! - `GET /graphql?query=...`: queries only; a mutation gets 405 with `Allow: POST`. Without a
//!   `query`, a browser gets GraphiQL (`http::graphiql`).
//! - The response is `application/graphql-response+json` when the client accepts it (a request
//!   error such as a validation failure is then a 400), else `application/json` (always 200 once
//!   GraphQL ran, as legacy clients expect).

use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse, ServerError, Value, Variables};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::auth::Viewer;
use crate::auth::bearer::authenticate;
use crate::error::{ApiError, ErrorCode};
use crate::graphql::limits::{MAX_BATCH, check_document};
use crate::graphql::loaders::{BatchQueue, Batches, Loaders};
use crate::http::summary;
use crate::state::{AppState, REQUEST_ID_HEADER};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// `GET /graphql`: a query in the URL, or GraphiQL for a browser.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let request_id = request_id(&headers);
    let parameters: Vec<(String, String)> =
        url::form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
    let parameter = |name: &str| {
        parameters
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let Some(document) = parameter("query") else {
        if accepts(&headers, "text/html") {
            return crate::http::graphiql::page();
        }
        return ApiError::request(
            ErrorCode::BadRequest,
            "a GET request needs a `query` parameter",
        )
        .into_response_with_id(request_id.as_deref());
    };
    let result = async {
        let viewer = authenticate(&state.jwt, &state.callers, &state.db, &headers).await?;
        let mut request = async_graphql::Request::new(document);
        if let Some(name) = parameter("operationName") {
            request = request.operation_name(name);
        }
        if let Some(variables) = parameter("variables") {
            let variables: serde_json::Value =
                serde_json::from_str(variables).map_err(|error| {
                    ApiError::request(
                        ErrorCode::BadRequest,
                        format!("`variables` is not JSON: {error}"),
                    )
                })?;
            request = request.variables(Variables::from_json(variables));
        }
        // This parse happens before the schema's own limits run: check first what the parser
        // would be given.
        check_document(document)
            .map_err(|refused| ApiError::request(refused.code, refused.message))?;
        // GET must not change anything: refuse mutations before they run.
        if let Ok(parsed) = async_graphql::parser::parse_query(document) {
            let operation = match parameter("operationName") {
                Some(name) => parsed
                    .operations
                    .iter()
                    .find(|(operation_name, _)| operation_name.map(|n| n.as_str()) == Some(name)),
                None => parsed.operations.iter().next(),
            };
            if let Some((_, operation)) = operation
                && operation.node.ty != OperationType::Query
            {
                return Err(ApiError::request(
                    ErrorCode::MethodNotAllowed,
                    "only queries may be sent with GET; send mutations and subscriptions with POST",
                ));
            }
        }
        Ok((viewer, BatchRequest::Single(request)))
    }
    .await;
    match result {
        Ok((viewer, request)) => run(&state, &headers, viewer, request).await,
        Err(error) => error.into_response_with_id(request_id.as_deref()),
    }
}

/// `POST /graphql`: one operation or a batch.
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let request_id = request_id(&headers);
    let result = async {
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        if !media_type.eq_ignore_ascii_case(JSON) {
            return Err(ApiError::request(
                ErrorCode::UnsupportedMediaType,
                format!(
                    "send the request as `Content-Type: application/json` (got `{content_type}`)"
                ),
            ));
        }
        let viewer = authenticate(&state.jwt, &state.callers, &state.db, &headers).await?;
        let json: serde_json::Value = serde_json::from_slice(&body).map_err(|error| {
            ApiError::request(
                ErrorCode::BadRequest,
                format!("the body is not a GraphQL request in JSON: {error}"),
            )
        })?;
        let operations = match &json {
            serde_json::Value::Array(operations) => operations.iter().collect(),
            single => vec![single],
        };
        if operations.is_empty() {
            return Err(ApiError::request(
                ErrorCode::BadRequest,
                "the batch is empty",
            ));
        }
        if operations.len() > MAX_BATCH {
            return Err(ApiError::over_limit(
                ErrorCode::BatchTooLarge,
                None,
                format!(
                    "the batch holds {} operations; at most {MAX_BATCH} are allowed",
                    operations.len()
                ),
                MAX_BATCH as u64,
                operations.len() as u64,
            ));
        }
        if operations.iter().any(|operation| {
            !operation
                .get("query")
                .is_some_and(serde_json::Value::is_string)
        }) {
            return Err(ApiError::request(
                ErrorCode::BadRequest,
                "each request needs a `query` string",
            ));
        }
        let request: BatchRequest = serde_json::from_value(json).map_err(|error| {
            ApiError::request(
                ErrorCode::BadRequest,
                format!("the body is not a GraphQL request in JSON: {error}"),
            )
        })?;
        Ok((viewer, request))
    }
    .await;
    match result {
        Ok((viewer, request)) => run(&state, &headers, viewer, request).await,
        Err(error) => error.into_response_with_id(request_id.as_deref()),
    }
}

async fn run(
    state: &AppState,
    headers: &HeaderMap,
    viewer: Viewer,
    request: BatchRequest,
) -> Response {
    tracing::debug!(person.subject = %viewer.person.subject, org = %viewer.organization.slug, "authenticated");
    let request_id = request_id(headers);
    // Every operation's loaders run their batches in this task (see `BatchQueue::drive`).
    let batches = BatchQueue::default();
    let now = crate::graphql::context::RequestNow(sea_orm::prelude::DateTimeUtc::from(
        crate::services::unit::precise(chrono::Utc::now()),
    ));
    let prepare = |request: async_graphql::Request| {
        Loaders::attach(request, &state.db, Batches::Local(batches.clone()))
            .data(now)
            .data(state.db.clone())
            .data(state.events.clone())
            .data(state.sync.clone())
            .data(viewer.clone())
    };
    let request = match request {
        BatchRequest::Single(request) => BatchRequest::Single(prepare(request)),
        BatchRequest::Batch(requests) => {
            BatchRequest::Batch(requests.into_iter().map(prepare).collect())
        }
    };
    let operations = summary::operation_names(&request);
    let mut response = batches.drive(state.schema.execute_batch(request)).await;
    let responses: Vec<&mut async_graphql::Response> = match &mut response {
        BatchResponse::Single(single) => vec![single],
        BatchResponse::Batch(many) => many.iter_mut().collect(),
    };
    let mut request_error = false;
    for single in responses {
        for error in &mut single.errors {
            decorate(error, request_id.as_deref());
        }
        // A request error: GraphQL refused the document before executing it.
        request_error |= single.data == Value::Null
            && !single.errors.is_empty()
            && single.errors.iter().all(|error| error.path.is_empty());
    }
    // Legacy clients send no `Accept` or `application/json`; only a client that names the new
    // media type gets it, with its status codes (GraphQL over HTTP, "watershed" rules).
    let graphql_response = accepts(headers, GRAPHQL_RESPONSE);
    let status =
        if graphql_response && request_error && matches!(response, BatchResponse::Single(_)) {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
    let content_type = if graphql_response {
        GRAPHQL_RESPONSE
    } else {
        JSON
    };
    let body = match serde_json::to_vec(&response) {
        Ok(body) => body,
        Err(error) => {
            return ApiError::Internal(error.into()).into_response_with_id(request_id.as_deref());
        }
    };
    let mut http_response = (status, body).into_response();
    http_response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    http_response
        .extensions_mut()
        .insert(summary::RequestSummary::graphql(
            operations.as_deref(),
            &response,
        ));
    http_response
}

/// Whether the client's `Accept` header names `media_type` explicitly.
fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| {
            accept
                .split(',')
                .map(|item| item.split(';').next().unwrap_or_default().trim())
                .any(|item| item.eq_ignore_ascii_case(media_type))
        })
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// Gives every error a code (errors raised by the GraphQL engine itself have none) and the
/// request id, so a client can quote it to an operator.
fn decorate(error: &mut ServerError, request_id: Option<&str>) {
    let code = match error.message.as_str() {
        "Query is nested too deep." => Some(ErrorCode::QueryTooDeep),
        "Query is too complex." => Some(ErrorCode::QueryTooComplex),
        _ => None,
    };
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if let Some(code) = code {
        extensions.set("code", code.as_str());
    }
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
