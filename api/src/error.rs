//! The one place where errors become responses: HTTP statuses, GraphQL errors and their codes.
//!
//! Services and resolvers return [`ApiError`]. Client errors carry a safe message and a stable
//! [`ErrorCode`]; [`ApiError::Internal`] is logged here, once, with its cause chain, and reaches
//! the client only as "internal error". Resolvers end service calls with `.extend()?`
//! (`async_graphql::ResultExt`), because a bare `?` would turn the error into a GraphQL error
//! through its `Display` text and skip the code.

use async_graphql::ErrorExtensions;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The closed set of `extensions.code` values a client can receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// No token, or a token that is malformed, expired, badly signed or names nobody.
    Unauthenticated,
    /// A valid token whose role or tenancy does not allow the operation.
    Forbidden,
    /// The object does not exist or the caller may not see it.
    NotFound,
    /// An argument or input value is invalid (bad id, page size over the cap, ...).
    BadUserInput,
    /// The query does not parse or does not validate against the schema.
    GraphqlValidationFailed,
    /// The query nests deeper than the server allows.
    QueryTooDeep,
    /// The query's computed cost is above the server's limit.
    QueryTooComplex,
    /// The query uses more aliases than the server allows.
    TooManyAliases,
    /// A batch holds more operations than the server allows.
    BatchTooLarge,
    /// A value (an argument, a variable, a default, a directive argument) nests lists or input
    /// objects deeper than the server allows.
    ValueTooDeep,
    /// A list in an argument or a variable holds more items than the server allows.
    ListTooLong,
    /// The document defines more fragments than the server allows.
    TooManyFragments,
    /// The document uses more directives than the server allows.
    TooManyDirectives,
    /// The HTTP request is malformed: a body that is not JSON, a missing query.
    BadRequest,
    /// The request's `Content-Type` is not one the endpoint reads.
    UnsupportedMediaType,
    /// The HTTP method may not be used for this request (a mutation over GET).
    MethodNotAllowed,
    /// The request body is larger than the server accepts.
    PayloadTooLarge,
    /// The request took longer than the server allows.
    RequestTimeout,
    /// The caller made more requests than its rate allows; `Retry-After` says when to retry.
    RateLimited,
    /// A subscription cannot resume from the `after` token it was given (malformed, unknown,
    /// pruned, not visible, or too many events missed): page the change log, then subscribe again
    /// without one.
    ResyncRequired,
    /// The database is unreachable or the schema is not migrated.
    ServiceUnavailable,
    /// Anything else; details are in the server log under the request id.
    Internal,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
            Self::QueryTooDeep => "QUERY_TOO_DEEP",
            Self::QueryTooComplex => "QUERY_TOO_COMPLEX",
            Self::TooManyAliases => "TOO_MANY_ALIASES",
            Self::BatchTooLarge => "BATCH_TOO_LARGE",
            Self::ValueTooDeep => "VALUE_TOO_DEEP",
            Self::ListTooLong => "LIST_TOO_LONG",
            Self::TooManyFragments => "TOO_MANY_FRAGMENTS",
            Self::TooManyDirectives => "TOO_MANY_DIRECTIVES",
            Self::BadRequest => "BAD_REQUEST",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::RequestTimeout => "REQUEST_TIMEOUT",
            Self::RateLimited => "RATE_LIMITED",
            Self::ResyncRequired => "RESYNC_REQUIRED",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::Internal => "INTERNAL",
        }
    }

    /// The HTTP status of a request that fails as a whole with this code.
    pub fn status(self) -> StatusCode {
        match self {
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadUserInput
            | Self::GraphqlValidationFailed
            | Self::QueryTooDeep
            | Self::QueryTooComplex
            | Self::TooManyAliases
            | Self::BatchTooLarge
            | Self::ValueTooDeep
            | Self::ListTooLong
            | Self::TooManyFragments
            | Self::TooManyDirectives
            | Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::ResyncRequired => StatusCode::CONFLICT,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error on the request path.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// See [`ErrorCode::Unauthenticated`]; the message says what is wrong with the token.
    #[error("{0}")]
    Unauthenticated(String),
    /// See [`ErrorCode::Forbidden`].
    #[error("{0}")]
    Forbidden(String),
    /// See [`ErrorCode::NotFound`].
    #[error("{0} not found")]
    NotFound(&'static str),
    /// See [`ErrorCode::BadUserInput`].
    #[error("{message}")]
    BadUserInput {
        /// The argument or input field at fault, in the schema's spelling.
        field: Option<String>,
        /// What is wrong with it.
        message: String,
    },
    /// A request refused before GraphQL runs, with the code saying why (bad JSON, media type,
    /// method, batch size).
    #[error("{message}")]
    Request {
        /// Why the request was refused.
        code: ErrorCode,
        /// What to do about it.
        message: String,
    },
    /// A request or argument over one of the server's limits (page size, ids per call, batch
    /// size, ...): the message and `extensions` state the limit and the value found.
    #[error("{message}")]
    OverLimit {
        /// Which limit (`BAD_USER_INPUT` for an argument, `BATCH_TOO_LARGE`, ...).
        code: ErrorCode,
        /// The argument at fault, in the schema's spelling, when one is.
        field: Option<String>,
        /// What was found and what is allowed.
        message: String,
        /// The most the server allows.
        limit: u64,
        /// What the request asked for.
        actual: u64,
    },
    /// See [`ErrorCode::RateLimited`].
    #[error("rate limit exceeded: retry in {} s", whole_seconds(*retry_after))]
    RateLimited {
        /// How long until the caller may make its next request.
        retry_after: std::time::Duration,
    },
    /// See [`ErrorCode::ServiceUnavailable`].
    #[error("database unavailable")]
    Unavailable(#[source] sea_orm::DbErr),
    /// Anything unexpected; never shown to the client.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The result of request-path operations.
pub type ApiResult<T, E = ApiError> = Result<T, E>;

impl ApiError {
    /// A bad value in `field`.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadUserInput {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// `actual` over `limit`, refused with `code` (on `field` when an argument is at fault).
    pub fn over_limit(
        code: ErrorCode,
        field: Option<&str>,
        message: impl Into<String>,
        limit: u64,
        actual: u64,
    ) -> Self {
        Self::OverLimit {
            code,
            field: field.map(str::to_owned),
            message: message.into(),
            limit,
            actual,
        }
    }

    /// A request refused with `code`.
    pub fn request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Request {
            code,
            message: message.into(),
        }
    }

    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::BadUserInput { .. } => ErrorCode::BadUserInput,
            Self::Request { code, .. } | Self::OverLimit { code, .. } => *code,
            Self::Unavailable(_) => ErrorCode::ServiceUnavailable,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The message a client may see. Logs internal causes, once, as a side effect.
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(cause) => {
                tracing::error!(error.chain = ?cause, "request failed: {cause:#}");
                "internal error".to_owned()
            }
            Self::Unavailable(cause) => {
                tracing::error!(error.chain = ?cause, "database unavailable: {cause}");
                self.to_string()
            }
            other => other.to_string(),
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(error: sea_orm::DbErr) -> Self {
        match error {
            sea_orm::DbErr::ConnectionAcquire(_) | sea_orm::DbErr::Conn(_) => {
                Self::Unavailable(error)
            }
            other => Self::Internal(anyhow::Error::new(other)),
        }
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        let code = self.code();
        let field = match self {
            Self::BadUserInput { field, .. } | Self::OverLimit { field, .. } => field.clone(),
            _ => None,
        };
        let limit = self.limit_and_actual();
        async_graphql::Error::new(self.public_message()).extend_with(|_, extensions| {
            extensions.set("code", code.as_str());
            if let Some(field) = &field {
                extensions.set("field", field.as_str());
            }
            if let Some((limit, actual)) = limit {
                extensions.set("limit", limit);
                extensions.set("actual", actual);
            }
        })
    }
}

/// Whole seconds, rounded up: a client that waits this long (`Retry-After`) is let through.
#[must_use]
pub fn whole_seconds(wait: std::time::Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// The JSON error body for a request that fails outside GraphQL: the GraphQL error shape, so
/// that clients parse one format whatever failed.
pub fn error_body(code: ErrorCode, message: &str, request_id: Option<&str>) -> serde_json::Value {
    let mut extensions = serde_json::json!({ "code": code });
    if let Some(request_id) = request_id {
        extensions["requestId"] = request_id.into();
    }
    serde_json::json!({ "errors": [{ "message": message, "extensions": extensions }] })
}

impl ApiError {
    /// The limit and the value found, for an [`ApiError::OverLimit`].
    pub fn limit_and_actual(&self) -> Option<(u64, u64)> {
        match self {
            Self::OverLimit { limit, actual, .. } => Some((*limit, *actual)),
            _ => None,
        }
    }

    /// The HTTP response for this error, naming `request_id` so a client can quote it; its
    /// [`ErrorCode`] is also in the response's extensions, for the access log.
    pub fn into_response_with_id(self, request_id: Option<&str>) -> Response {
        let code = self.code();
        let retry_after = match &self {
            Self::RateLimited { retry_after } => Some(whole_seconds(*retry_after)),
            _ => None,
        };
        let message = self.public_message();
        let mut body = error_body(code, &message, request_id);
        if let Some((limit, actual)) = self.limit_and_actual() {
            body["errors"][0]["extensions"]["limit"] = limit.into();
            body["errors"][0]["extensions"]["actual"] = actual.into();
        }
        let mut response = (code.status(), axum::Json(body)).into_response();
        // For the access log (`http::summary`), which cannot read the body.
        response.extensions_mut().insert(code);
        let headers = response.headers_mut();
        if code == ErrorCode::MethodNotAllowed {
            headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if code == ErrorCode::Unauthenticated {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"tandem\""),
            );
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.into_response_with_id(None)
    }
}
