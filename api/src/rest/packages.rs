//! The package downloads (`crate::packages` builds them):
//!
//! - `GET /environments/{id}/packages/evidence?framework=HIPAA&from=YYYY-MM-DD&to=YYYY-MM-DD`
//! - `GET /environments/{id}/packages/handoff?on=YYYY-MM-DD`
//! - `GET /environments/{id}/packages/exit[?engagement=<id>]`
//!
//! Authorized like the API (a bearer token; an environment the caller may not see is 404, as if
//! it did not exist); parameters are checked before anything is read, and a parameter the route
//! does not take, or one given twice, is refused rather than ignored. The archive is built in
//! memory (every section is capped) and sent with a file name made of its inputs.

use std::collections::HashMap;

use async_graphql::ID;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use entities::enums::ComplianceFramework;

use crate::auth::bearer::authenticate;
use crate::error::{ApiError, ApiResult};
use crate::ids::{self, NodeType};
use crate::packages::{self, Package, Period};
use crate::state::{AppState, RequestId};

/// `GET /environments/{id}/packages/evidence`.
pub async fn evidence(
    State(state): State<AppState>,
    request_id: RequestId,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let built = async {
        let viewer = authenticate(&state.jwt, &state.callers, &state.db, &headers).await?;
        let parameters = parameters(query.as_deref(), &["framework", "from", "to"])?;
        let framework = match parameters.get("framework") {
            Some(value) => serde_json::from_value::<ComplianceFramework>(
                serde_json::Value::String(value.to_uppercase()),
            )
            .map_err(|_| {
                ApiError::bad_input(
                    "framework",
                    format!(
                        "unknown framework `{}`; use HIPAA, CMMC, FTC_SAFEGUARDS, NIST_CSF_2 or CYBER_INSURANCE",
                        shown(value)
                    ),
                )
            })?,
            None => return Err(required("framework")),
        };
        let from = day(&parameters, "from")?;
        let to = day(&parameters, "to")?;
        let period = Period::new(from, to)?;
        let environment_id = environment_id(&id)?;
        packages::evidence(&state.db, &viewer, environment_id, framework, period).await
    }
    .await;
    respond(built, request_id)
}

/// `GET /environments/{id}/packages/handoff`.
pub async fn handoff(
    State(state): State<AppState>,
    request_id: RequestId,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let built = async {
        let viewer = authenticate(&state.jwt, &state.callers, &state.db, &headers).await?;
        let parameters = parameters(query.as_deref(), &["on"])?;
        let on = day(&parameters, "on")?;
        let environment_id = environment_id(&id)?;
        packages::handoff(&state.db, &viewer, environment_id, on).await
    }
    .await;
    respond(built, request_id)
}

/// `GET /environments/{id}/packages/exit`.
pub async fn exit(
    State(state): State<AppState>,
    request_id: RequestId,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let built = async {
        let viewer = authenticate(&state.jwt, &state.callers, &state.db, &headers).await?;
        let parameters = parameters(query.as_deref(), &["engagement"])?;
        let engagement = parameters
            .get("engagement")
            .map(|value| ids::decode_as("engagement", NodeType::Engagement, &ID(value.clone())))
            .transpose()?;
        let environment_id = environment_id(&id)?;
        packages::exit(&state.db, &viewer, environment_id, engagement).await
    }
    .await;
    respond(built, request_id)
}

fn respond(built: ApiResult<Package>, request_id: RequestId) -> Response {
    match built.and_then(attachment) {
        Ok(response) => response,
        Err(error) => error.into_response_with_id(request_id.as_deref()),
    }
}

fn attachment(package: Package) -> ApiResult<Response> {
    let mut response = package.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{}\"", package.file_name))
            .map_err(|error| ApiError::Internal(error.into()))?,
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// A value as an error message quotes it: at most 40 characters, control characters escaped
/// (a refusal never echoes a megabyte or a NUL back).
fn shown(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(40)
        .flat_map(char::escape_debug)
        .collect();
    if value.chars().nth(40).is_some() {
        out.push('…');
    }
    out
}

fn required(name: &str) -> ApiError {
    ApiError::bad_input(name, format!("`{name}` is required"))
}

/// The query string as one value per name, refusing names outside `allowed` and repeats.
fn parameters(query: Option<&str>, allowed: &[&str]) -> ApiResult<HashMap<String, String>> {
    let mut parameters = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if !allowed.contains(&name.as_ref()) {
            return Err(ApiError::bad_input(
                shown(&name),
                format!(
                    "unknown parameter `{}`; this package takes {}",
                    shown(&name),
                    allowed.join(", ")
                ),
            ));
        }
        if parameters
            .insert(name.clone().into_owned(), value.into_owned())
            .is_some()
        {
            return Err(ApiError::bad_input(
                name.as_ref(),
                format!("`{name}` takes one value"),
            ));
        }
    }
    Ok(parameters)
}

/// The required day `name`, written `YYYY-MM-DD`.
fn day(parameters: &HashMap<String, String>, name: &str) -> ApiResult<NaiveDate> {
    let value = parameters.get(name).ok_or_else(|| required(name))?;
    let valid = value.len() == 10 && value.as_bytes()[4] == b'-' && value.as_bytes()[7] == b'-';
    valid
        .then(|| NaiveDate::parse_from_str(value, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| {
            ApiError::bad_input(
                name,
                format!("`{}` is not a day like 2026-03-31", shown(value)),
            )
        })
}

fn environment_id(id: &str) -> ApiResult<sea_orm::prelude::Uuid> {
    ids::decode_as("id", NodeType::Environment, &ID(id.to_owned()))
}
