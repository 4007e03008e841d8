//! `POST /webhooks/{integration}`: vendors calling back. The callback is verified before
//! anything else (a bad or missing signature gets 401 and changes nothing), then treated as a
//! hint: it starts a sync of the resources it concerns, which re-reads them from the vendor.
//!
//! Verification per vendor (see `integrations::webhooks`): ConnectWise signs with a key fetched
//! from the payload's `Metadata.key_url` (trusted hosts only), for the payload's `CompanyId`, which
//! must be the integration's; Autotask signs with the webhook's
//! secret (`X-Hook-Signature`); NinjaOne, Datto RMM and HaloPSA send the shared secret in the
//! `Authorization` or `X-Tandem-Webhook-Secret` header. The secret is the credential
//! `webhookSecret`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use entities::enums::{IntegrationKind, SyncTrigger};
use entities::integration;
use integrations::model::Resource;
use integrations::webhooks;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::ids::{self, NodeType};
use crate::services::credentials;
use crate::state::{AppState, RequestId};

/// Receives a vendor callback.
pub async fn receive(
    State(state): State<AppState>,
    request_id: RequestId,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    match accept(&state, &headers, &id, &body).await {
        Ok(resources) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({
                "accepted": true,
                "resources": resources.iter().map(|resource| resource.as_str()).collect::<Vec<_>>(),
            })),
        )
            .into_response(),
        Err(error) => error.into_response_with_id(request_id.as_deref()),
    }
}

fn refused() -> ApiError {
    ApiError::request(
        ErrorCode::Unauthenticated,
        "the webhook signature or secret does not verify",
    )
}

async fn accept(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    body: &[u8],
) -> ApiResult<Vec<Resource>> {
    let not_found = || ApiError::request(ErrorCode::NotFound, "no integration with this id");
    let uuid = uuid::Uuid::parse_str(id)
        .ok()
        .or_else(|| ids::decode_as("integration", NodeType::Integration, &id.into()).ok())
        .ok_or_else(not_found)?;
    let found = integration::Entity::find_by_id(uuid)
        .one(&state.db)
        .await?
        .filter(|found| found.deleted_at.is_none())
        .ok_or_else(not_found)?;
    let secrets = credentials::open(
        state.sync.key.as_deref(),
        found.id,
        found.credentials_ciphertext.as_deref(),
    )
    .map_err(|error| {
        tracing::warn!(integration = %found.id, %error, "webhook refused: credentials cannot be opened");
        refused()
    })?;
    let secret = secrets
        .get("webhookSecret")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let payload: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let verified = match found.kind {
        IntegrationKind::ConnectwiseManage => {
            verify_connectwise(state, &found, &payload, header("x-content-signature"), body).await
        }
        IntegrationKind::Autotask => header("x-hook-signature").is_some_and(|signature| {
            !secret.is_empty() && webhooks::verify_autotask(secret, body, signature)
        }),
        IntegrationKind::Ninjaone | IntegrationKind::DattoRmm | IntegrationKind::Halopsa => {
            header("x-tandem-webhook-secret")
                .or(header("authorization"))
                .is_some_and(|presented| webhooks::verify_shared_secret(secret, presented))
        }
    };
    if !verified {
        tracing::warn!(integration = %found.id, "webhook refused: bad signature");
        return Err(refused());
    }
    if payload.is_null() {
        return Err(ApiError::request(
            ErrorCode::BadRequest,
            "the body is not JSON",
        ));
    }
    if !found.enabled {
        return Err(ApiError::request(
            ErrorCode::NotFound,
            "the integration is disabled",
        ));
    }
    let resources = resources_of(found.kind, &payload);
    state.sync.spawn(
        found.id,
        SyncTrigger::Webhook,
        Some(resources.clone()),
        false,
    );
    Ok(resources)
}

/// Fetches ConnectWise's signing key from the payload's `Metadata.key_url` (on a trusted host
/// only) and checks the signature with it.
async fn verify_connectwise(
    state: &AppState,
    found: &integration::Model,
    payload: &Value,
    signature: Option<&str>,
    body: &[u8],
) -> bool {
    let (Some(signature), Some(key_url)) = (
        signature,
        payload.pointer("/Metadata/key_url").and_then(Value::as_str),
    ) else {
        return false;
    };
    // Any ConnectWise tenant can sign with its own key: the callback must name this tenant.
    let company = found.settings.get("companyId").and_then(Value::as_str);
    let named = payload.get("CompanyId").and_then(Value::as_str);
    if !matches!((company, named), (Some(company), Some(named)) if company.eq_ignore_ascii_case(named))
    {
        tracing::warn!(integration = %found.id, "webhook refused: the callback names another company");
        return false;
    }
    if !webhooks::connectwise_key_url_trusted(key_url, &found.base_url) {
        tracing::warn!(integration = %found.id, "webhook refused: key_url on an untrusted host");
        return false;
    }
    crate::tls::init();
    let Ok(http) = integrations::http::HttpClient::new(state.sync.policy, state.sync.egress) else {
        return false;
    };
    match http
        .json::<Value>(|| http.client().get(key_url))
        .await
        .map(|(key, _)| {
            key.get("signing_key")
                .and_then(Value::as_str)
                .map(str::to_owned)
        }) {
        Ok(Some(key)) => webhooks::verify_connectwise(&key, body, signature),
        _ => false,
    }
}

/// The resources a callback concerns; all of the vendor's when it does not say.
fn resources_of(kind: IntegrationKind, payload: &Value) -> Vec<Resource> {
    let named = ["Type", "EntityType", "entity", "event"]
        .iter()
        .find_map(|key| payload.get(*key).and_then(Value::as_str))
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let by_name = if named.contains("ticket") {
        Some(Resource::Tickets)
    } else if named.contains("config") || named.contains("device") || named.contains("asset") {
        Some(Resource::Devices)
    } else if named.contains("compan") || named.contains("client") || named.contains("site") {
        Some(Resource::Companies)
    } else if named.contains("alert") || payload.get("alertUID").is_some() {
        Some(Resource::Alerts)
    } else {
        None
    };
    match (by_name, kind) {
        (Some(resource), _) => vec![resource],
        (None, IntegrationKind::Ninjaone) => vec![Resource::Alerts, Resource::Changes],
        (None, IntegrationKind::DattoRmm) => vec![Resource::Alerts],
        (None, _) => vec![Resource::Tickets],
    }
}
