//! Outbound webhook endpoints (admins of their organization): register, change, rotate the
//! secret, delete, and replay an event to an endpoint.
//!
//! The rules: only an `ADMIN` manages endpoints, only of their own organization; an endpoint's
//! URL follows the outbound-address rules of vendor base URLs (`https` at a public address
//! unless the operator allows private ones); it names at least one event type; the secret is
//! generated here, sealed with `TANDEM_SECRET_KEY` bound to the endpoint's id, and returned once
//! (on creation and rotation), never again; the integration whose events it skips is one of the
//! organization's. A replay delivers an event the endpoint's organization may see (its own, or a
//! client's it serves today) once more, as a new delivery. Endpoints, their secrets and
//! deliveries are not environment data: these writes record no change log entry.

use entities::enums::Role;
use entities::{integration, outbox_event, webhook_delivery, webhook_endpoint};
use integrations::egress::{Egress, Refusal};
use integrations::secrets::SecretKey;
use sea_orm::prelude::*;
use sea_orm::{DatabaseConnection, IntoActiveModel, QueryFilter, Set};

use crate::auth::Viewer;
use crate::events::EventBus;
use crate::outbox::worker::secret_context;
use crate::outbox::{self, EventType, signature};
use crate::services::directory::lock_organization;
use crate::services::{Check, ServiceResult, UnitOfWork, UserErrorCode, require_role};

const ADMINS: &[Role] = &[Role::Admin];
/// Longest endpoint URL, in characters.
pub const MAX_URL: usize = 2_000;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 500;
/// Most endpoints per organization.
pub const MAX_ENDPOINTS: u64 = 50;

/// An endpoint to register.
pub struct NewEndpoint {
    /// Where deliveries go.
    pub url: String,
    /// For people.
    pub description: Option<String>,
    /// What it receives.
    pub event_types: Vec<EventType>,
    /// Whether deliveries are made.
    pub enabled: bool,
    /// An integration of the organization whose own events it does not receive.
    pub skip_integration_id: Option<Uuid>,
}

/// Changes to endpoint `id`; absent fields stay.
pub struct EndpointChange {
    /// The endpoint; `None` when the front door could not decode its id.
    pub id: Option<Uuid>,
    /// New URL.
    pub url: Option<String>,
    /// New description; empty text clears it.
    pub description: Option<String>,
    /// New event types.
    pub event_types: Option<Vec<EventType>>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// `Some(None)` clears the skipped integration.
    pub skip_integration_id: Option<Option<Uuid>>,
}

/// An endpoint with its secret, shown once.
pub struct WithSecret {
    /// The endpoint.
    pub endpoint: webhook_endpoint::Model,
    /// The signing secret.
    pub secret: String,
}

/// `value` when it is a URL deliveries may go to, else an `INVALID` error on `url`.
fn check_url(check: &mut Check, egress: Egress, value: &str) -> Option<String> {
    let trimmed = check.bounded("url", value.trim(), MAX_URL)?.to_owned();
    let refusal = match url::Url::parse(&trimmed) {
        Ok(url) if matches!(url.scheme(), "https" | "http") => {
            if !url.username().is_empty() || url.password().is_some() {
                check.fail(
                    "url",
                    UserErrorCode::Invalid,
                    "`url` must not carry credentials; deliveries are signed instead",
                );
                return None;
            }
            match egress.check_url(&url) {
                Ok(()) => return Some(trimmed),
                Err(refusal) => refusal,
            }
        }
        _ => Refusal::Scheme,
    };
    let message = match refusal {
        Refusal::Scheme if trimmed.starts_with("http:") => {
            "`url` must be an https URL; plain http is allowed only when the server allows \
             private vendor addresses"
                .to_owned()
        }
        Refusal::Scheme | Refusal::NoHost => {
            "`url` is an https URL such as https://hooks.example.com/tandem".to_owned()
        }
        Refusal::Address(ip) => format!(
            "`url` names {ip}, which is not a public address; deliveries go only to public \
             addresses unless the server allows private ones"
        ),
    };
    check.fail("url", UserErrorCode::Invalid, message);
    None
}

fn check_types(check: &mut Check, types: &[EventType]) -> Option<serde_json::Value> {
    if types.is_empty() {
        check.fail(
            "eventTypes",
            UserErrorCode::Required,
            "name at least one event type",
        );
        return None;
    }
    let mut names: Vec<&str> = types.iter().map(|found| found.name()).collect();
    names.sort_unstable();
    names.dedup();
    Some(serde_json::json!(names))
}

/// The integration `id` of the actor's organization (not deleted), else `NOT_FOUND`.
async fn own_integration(
    write: &UnitOfWork<'_>,
    check: &mut Check,
    id: Option<Uuid>,
) -> Result<Option<Uuid>, DbErr> {
    let Some(id) = id else { return Ok(None) };
    let found = integration::Entity::find_by_id(id)
        .one(&write.txn)
        .await?
        .filter(|found| {
            found.organization_id == write.actor.organization.id && found.deleted_at.is_none()
        });
    if found.is_none() {
        check.fail(
            "skipIntegrationId",
            UserErrorCode::NotFound,
            "no integration with this id",
        );
    }
    Ok(found.map(|found| found.id))
}

fn seal(check: &mut Check, key: Option<&SecretKey>, id: Uuid, secret: &str) -> Option<Vec<u8>> {
    match key {
        Some(key) => Some(key.seal(&secret_context(id), secret.as_bytes())),
        None => {
            check.fail(
                "url",
                UserErrorCode::InvalidState,
                "the server has no TANDEM_SECRET_KEY to seal the endpoint's secret with",
            );
            None
        }
    }
}

/// Registers an endpoint of the actor's organization and returns it with its secret (the only
/// time it is shown).
///
/// # Errors
/// [`crate::services::ServiceError::Forbidden`] for a non-admin;
/// [`crate::services::ServiceError::Refused`] for a bad or forbidden
/// URL, no event type, an unknown integration, no secret key, or too many endpoints; database
/// errors.
pub async fn create_endpoint(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    key: Option<&SecretKey>,
    egress: Egress,
    input: NewEndpoint,
    mut check: Check,
) -> ServiceResult<WithSecret> {
    require_role(actor, ADMINS, "createWebhookEndpoint")?;
    let url = check_url(&mut check, egress, &input.url);
    let description =
        check.optional_text("description", input.description.as_deref(), MAX_DESCRIPTION);
    let types = check_types(&mut check, &input.event_types);
    let write = UnitOfWork::begin(db, events, actor, None, None).await?;
    let skip = own_integration(&write, &mut check, input.skip_integration_id).await?;
    // Two creates at once must not both count 49 and both insert: the count and the insert run
    // with the organization locked (PostgreSQL; SQLite's writers take turns).
    lock_organization(&write.txn, actor.organization.id).await?;
    let existing = webhook_endpoint::Entity::find()
        .filter(
            webhook_endpoint::COLUMN
                .organization_id
                .eq(actor.organization.id),
        )
        .filter(webhook_endpoint::COLUMN.deleted_at.is_null())
        .count(&write.txn)
        .await?;
    if existing >= MAX_ENDPOINTS {
        check.fail(
            "url",
            UserErrorCode::InvalidState,
            format!("an organization has at most {MAX_ENDPOINTS} endpoints"),
        );
    }
    let id = Uuid::now_v7();
    let secret = signature::new_secret();
    let sealed = seal(&mut check, key, id, &secret);
    let (Some(url), Some(description), Some(types), Some(sealed), true) =
        (url, description, types, sealed, check.is_ok())
    else {
        return Err(check.into());
    };
    let created = webhook_endpoint::Model {
        id,
        organization_id: actor.organization.id,
        url,
        description,
        event_types: types,
        secret_ciphertext: sealed,
        enabled: input.enabled,
        skip_integration_id: skip,
        created_at: write.now,
        updated_at: write.now,
        deleted_at: None,
    }
    .into_active_model()
    .insert(&write.txn)
    .await?;
    write.commit().await?;
    tracing::info!(endpoint = %created.id, "webhook endpoint created");
    Ok(WithSecret {
        endpoint: created,
        secret,
    })
}

/// Endpoint `id` of the actor's organization, not deleted, else `NOT_FOUND` on `field`.
async fn own_endpoint(
    write: &UnitOfWork<'_>,
    check: &mut Check,
    field: &str,
    id: Option<Uuid>,
) -> Result<Option<webhook_endpoint::Model>, DbErr> {
    let Some(id) = id else { return Ok(None) };
    let found = webhook_endpoint::Entity::find_by_id(id)
        .one(&write.txn)
        .await?
        .filter(|found| {
            found.organization_id == write.actor.organization.id && found.deleted_at.is_none()
        });
    if found.is_none() {
        check.fail(
            field,
            UserErrorCode::NotFound,
            "no webhook endpoint with this id",
        );
    }
    Ok(found)
}

/// Changes an endpoint of the actor's organization.
///
/// # Errors
/// As [`create_endpoint`]; another organization's endpoint is `NOT_FOUND`.
pub async fn update_endpoint(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    egress: Egress,
    input: EndpointChange,
    mut check: Check,
) -> ServiceResult<webhook_endpoint::Model> {
    require_role(actor, ADMINS, "updateWebhookEndpoint")?;
    let url = input
        .url
        .as_deref()
        .map(|url| check_url(&mut check, egress, url));
    let description = input
        .description
        .as_deref()
        .map(|text| check.optional_text("description", Some(text), MAX_DESCRIPTION));
    let types = input
        .event_types
        .as_deref()
        .map(|types| check_types(&mut check, types));
    let write = UnitOfWork::begin(db, events, actor, None, None).await?;
    let current = own_endpoint(&write, &mut check, "id", input.id).await?;
    let skip = match input.skip_integration_id {
        Some(Some(id)) => Some(own_integration(&write, &mut check, Some(id)).await?),
        Some(None) => Some(None),
        None => None,
    };
    let (Some(current), true) = (current, check.is_ok()) else {
        return Err(check.into());
    };
    let mut model = current.into_active_model();
    if let Some(Some(url)) = url {
        model.url = Set(url);
    }
    if let Some(Some(description)) = description {
        model.description = Set(description);
    }
    if let Some(Some(types)) = types {
        model.event_types = Set(types);
    }
    if let Some(enabled) = input.enabled {
        model.enabled = Set(enabled);
    }
    if let Some(skip) = skip {
        model.skip_integration_id = Set(skip);
    }
    model.updated_at = Set(write.now);
    let updated = model.update(&write.txn).await?;
    write.commit().await?;
    Ok(updated)
}

/// Gives an endpoint of the actor's organization a new secret and returns it (the only time it
/// is shown); deliveries from now on are signed with it.
///
/// # Errors
/// As [`update_endpoint`].
pub async fn rotate_secret(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    key: Option<&SecretKey>,
    id: Option<Uuid>,
    mut check: Check,
) -> ServiceResult<WithSecret> {
    require_role(actor, ADMINS, "rotateWebhookEndpointSecret")?;
    let write = UnitOfWork::begin(db, events, actor, None, None).await?;
    let current = own_endpoint(&write, &mut check, "id", id).await?;
    let secret = signature::new_secret();
    let sealed = current
        .as_ref()
        .and_then(|found| seal(&mut check, key, found.id, &secret));
    let (Some(current), Some(sealed), true) = (current, sealed, check.is_ok()) else {
        return Err(check.into());
    };
    let mut model = current.into_active_model();
    model.secret_ciphertext = Set(sealed);
    model.updated_at = Set(write.now);
    let updated = model.update(&write.txn).await?;
    write.commit().await?;
    tracing::info!(endpoint = %updated.id, "webhook endpoint secret rotated");
    Ok(WithSecret {
        endpoint: updated,
        secret,
    })
}

/// Deletes an endpoint of the actor's organization: nothing more is delivered to it (pending
/// deliveries fail at their next attempt); its delivery log stays readable by id.
///
/// # Errors
/// As [`update_endpoint`].
pub async fn delete_endpoint(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    id: Option<Uuid>,
    mut check: Check,
) -> ServiceResult<webhook_endpoint::Model> {
    require_role(actor, ADMINS, "deleteWebhookEndpoint")?;
    let write = UnitOfWork::begin(db, events, actor, None, None).await?;
    let (Some(current), true) = (
        own_endpoint(&write, &mut check, "id", id).await?,
        check.is_ok(),
    ) else {
        return Err(check.into());
    };
    let mut model = current.into_active_model();
    model.enabled = Set(false);
    model.deleted_at = Set(Some(write.now));
    model.updated_at = Set(write.now);
    let deleted = model.update(&write.txn).await?;
    write.commit().await?;
    Ok(deleted)
}

/// Delivers event `event_id` to endpoint `endpoint_id` once more, as a new delivery due now.
/// The event must be one the endpoint's organization may see today; its type filter and
/// skipped integration do not apply (an admin asked for it).
///
/// # Errors
/// As [`update_endpoint`]; an unknown event or one of a tenant the organization does not see is
/// `NOT_FOUND` on `eventId`.
pub async fn replay(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    event_id: Option<Uuid>,
    endpoint_id: Option<Uuid>,
    mut check: Check,
) -> ServiceResult<webhook_delivery::Model> {
    require_role(actor, ADMINS, "replayWebhookEvent")?;
    let write = UnitOfWork::begin(db, events, actor, None, None).await?;
    let endpoint = own_endpoint(&write, &mut check, "endpointId", endpoint_id).await?;
    let event = match event_id {
        Some(id) => {
            outbox_event::Entity::find()
                .filter(outbox_event::COLUMN.id.eq(id))
                .one(&write.txn)
                .await?
        }
        None => None,
    };
    let visible = match &event {
        Some(event) => {
            outbox::may_see(
                &write.txn,
                actor.organization.id,
                event.organization_id,
                write.now,
            )
            .await?
        }
        None => false,
    };
    if event_id.is_some() && !visible {
        check.fail("eventId", UserErrorCode::NotFound, "no event with this id");
    }
    let (Some(endpoint), Some(event), true) = (endpoint, event, check.is_ok()) else {
        return Err(check.into());
    };
    let delivery = outbox::pending_delivery(endpoint.id, event.id, write.now, true)
        .into_active_model()
        .insert(&write.txn)
        .await?;
    write.commit().await?;
    Ok(delivery)
}
