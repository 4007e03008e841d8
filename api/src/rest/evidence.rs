//! `PUT /evidence/{id}/file` and `GET /evidence/{id}/file`: the file of a piece of compliance
//! evidence, uploaded as the raw request body and downloaded with its media type and hash.
//!
//! Authorized like the API: a bearer token whose viewer may see the evidence's environment (else
//! 404, as if it did not exist). The upload takes the body as it is (its `Content-Type` is kept,
//! `application/octet-stream` when absent), at most [`MAX_FILE_BYTES`] (this route's own body
//! limit, above the server's default); the server computes the SHA-256, stores the bytes in the
//! database and answers `201` with the file's metadata. A file is attached once, before the
//! sign-off (`services::compliance::attach_evidence_file` holds the rules). The download answers
//! the bytes with `Content-Type`, `Content-Disposition: attachment`, `ETag` (the hex SHA-256) and
//! `Repr-Digest` (RFC 9530).

use async_graphql::ID;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use entities::enums::Role;
use entities::{environment, evidence_file, evidence_record};
use sea_orm::prelude::*;
use serde_json::json;

use crate::auth::bearer::authenticate;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::ids::{self, NodeType};
pub use crate::services::compliance::MAX_FILE_BYTES;
use crate::services::compliance::{EvidenceUpload, attach_evidence_file};
use crate::services::{Check, ServiceError, UserErrorCode};
use crate::state::{AppState, RequestId};

/// `PUT /evidence/{id}/file`.
pub async fn upload(
    State(state): State<AppState>,
    request_id: RequestId,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    match store(&state, &headers, &id, body).await {
        Ok(response) => response,
        Err(error) => error.into_response_with_id(request_id.as_deref()),
    }
}

/// `GET /evidence/{id}/file`.
pub async fn download(
    State(state): State<AppState>,
    request_id: RequestId,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    match read(&state, &headers, &id).await {
        Ok(response) => response,
        Err(error) => error.into_response_with_id(request_id.as_deref()),
    }
}

async fn store(state: &AppState, headers: &HeaderMap, id: &str, body: Body) -> ApiResult<Response> {
    // The caller first, from the headers alone: an anonymous client never gets the server to
    // hold a body.
    let viewer = authenticate(&state.jwt, &state.callers, &state.db, headers).await?;
    refuse_sync_jobs(&viewer)?;
    let evidence_id = ids::decode_as("id", NodeType::EvidenceRecord, &ID(id.to_owned()))?;
    let limit = MAX_FILE_BYTES;
    let body: Bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::request(
            ErrorCode::PayloadTooLarge,
            format!("an evidence file is at most {limit} bytes"),
        )
    })?;
    let content_type = match headers.get(header::CONTENT_TYPE) {
        Some(value) => Some(
            value
                .to_str()
                .map_err(|_| ApiError::bad_input("contentType", "the content type is not ASCII"))?
                .to_owned(),
        ),
        None => None,
    };
    let upload = EvidenceUpload {
        evidence_id: Some(evidence_id),
        content_type,
        content: body.to_vec(),
    };
    let stored = attach_evidence_file(
        &state.db,
        Some(&state.events),
        &viewer,
        upload,
        Check::default(),
    )
    .await
    .map_err(refusal)?;
    let body = json!({
        "evidenceId": id,
        "contentType": stored.content_type,
        "sizeBytes": stored.size_bytes,
        "sha256": stored.sha256,
    });
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// A service refusal as this route answers it: a record the caller may not see is 404, an
/// oversized file 413, anything else 400 naming the field.
fn refusal(error: ServiceError) -> ApiError {
    if let ServiceError::Refused(errors) = &error {
        if errors
            .iter()
            .any(|error| error.code == UserErrorCode::NotFound)
        {
            return ApiError::NotFound("evidence");
        }
        if let Some(too_long) = errors
            .iter()
            .find(|error| error.code == UserErrorCode::TooLong)
        {
            return ApiError::request(ErrorCode::PayloadTooLarge, too_long.message.clone());
        }
    }
    error.into()
}

/// Evidence is people's work: a sync job's token neither reads nor attaches it.
fn refuse_sync_jobs(viewer: &crate::auth::Viewer) -> ApiResult<()> {
    if viewer.role == Role::Integration {
        return Err(ApiError::Forbidden(
            "a sync job's token may not read or attach evidence files".to_owned(),
        ));
    }
    Ok(())
}

/// The media types a file is served as; anything else (HTML, SVG, scripts) is served as
/// `application/octet-stream`, so no browser renders it on this origin.
const SERVED_AS_IS: &[&str] = &[
    "application/pdf",
    "text/plain",
    "text/csv",
    "text/markdown",
    "application/json",
    "image/png",
    "image/jpeg",
    "image/gif",
    "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "message/rfc822",
];

fn served_type(stored: &str) -> String {
    let essence = stored
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if SERVED_AS_IS.contains(&essence.as_str()) {
        stored.to_owned()
    } else {
        "application/octet-stream".to_owned()
    }
}

async fn read(state: &AppState, headers: &HeaderMap, id: &str) -> ApiResult<Response> {
    let viewer = authenticate(&state.jwt, &state.callers, &state.db, headers).await?;
    refuse_sync_jobs(&viewer)?;
    let evidence_id = ids::decode_as("id", NodeType::EvidenceRecord, &ID(id.to_owned()))?;
    let db = &state.db;
    let record = evidence_record::Entity::find_by_id(evidence_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("evidence"))?;
    environment::Entity::find_by_id(record.environment_id)
        .one(db)
        .await?
        .filter(|found| viewer.can_see_organization(found.organization_id))
        .ok_or(ApiError::NotFound("evidence"))?;
    let file = evidence_file::Entity::find_by_id(record.id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("evidence file"))?;
    let digest: Vec<u8> = (0..file.sha256.len())
        .step_by(2)
        .filter_map(|at| u8::from_str_radix(file.sha256.get(at..at + 2)?, 16).ok())
        .collect();
    let header_value = |text: String| {
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
    };
    let mut response = Response::new(Body::from(file.content));
    let response_headers = response.headers_mut();
    response_headers.insert(
        header::CONTENT_TYPE,
        header_value(served_type(&file.content_type)),
    );
    response_headers.insert(
        header::CONTENT_DISPOSITION,
        header_value(format!("attachment; filename=\"evidence-{}\"", record.id)),
    );
    response_headers.insert(header::ETAG, header_value(format!("\"{}\"", file.sha256)));
    response_headers.insert(
        "repr-digest",
        header_value(format!("sha-256=:{}:", STANDARD.encode(digest))),
    );
    response_headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}
