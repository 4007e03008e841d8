//! Managing integrations (admins of the integration's organization): create, update, disable,
//! `testIntegration`, `triggerSync`, mapping vendor companies to environments, overriding a
//! value mapping, and splitting a wrong PSA/RMM device match. Credentials are write-only: sealed with `TANDEM_SECRET_KEY` on the way in,
//! never returned, never logged.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, ResultExt, SimpleObject};
use chrono::{SubsecRound, Utc};
use entities::enums::{Role, SyncTrigger, ValueMappingDomain as StoredDomain};
use entities::{integration, integration_mapping, value_mapping};
use integrations::model::Resource;
use sea_orm::prelude::*;
use sea_orm::{IntoActiveModel, QueryFilter, Set};
use serde_json::Value;

use crate::auth::Viewer;
use crate::error::ApiResult;
use crate::graphql::context::ContextExt;
use crate::graphql::mutation::{
    Check, CheckIds, UserErrorCode, payload, require_role, visible_environment,
};
use crate::graphql::scalars::Json;
use crate::graphql::types::Integration;
use crate::graphql::types::enums::{IntegrationKind, Priority, TicketStatus};
use crate::ids::NodeType;
use crate::sync::engine::connector_for;
use crate::sync::service::SyncService;

/// Shortest schedule: vendors' rate limits are shared by every integration of a tenant.
const MIN_INTERVAL_SECONDS: i32 = 60;

/// Managing integrations.
#[derive(Default)]
pub struct IntegrationMutation;

/// A new integration.
#[derive(InputObject)]
pub struct CreateIntegrationInput {
    /// Display name, unique within the organization (1 to 100 characters).
    pub name: String,
    /// The vendor.
    pub kind: IntegrationKind,
    /// The vendor's API root, such as `https://api-na.myconnectwise.net` or
    /// `https://app.ninjarmm.com`.
    pub base_url: String,
    /// Non-secret settings, a JSON object (ConnectWise: `companyId`, `clientId`; see the README).
    pub settings: Option<Json>,
    /// Secrets, a JSON object (ConnectWise: `publicKey`, `privateKey`; OAuth vendors:
    /// `clientId`, `clientSecret`; ...). Write-only: stored sealed, never returned.
    pub credentials: Option<Json>,
    /// Seconds between scheduled syncs (at least 60); none when omitted.
    pub sync_interval_seconds: Option<i32>,
    /// Whether it syncs (default true).
    #[graphql(default = true)]
    pub enabled: bool,
}

/// Changes to an integration; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateIntegrationInput {
    /// The integration.
    pub id: ID,
    /// New name.
    pub name: Option<String>,
    /// New API root.
    pub base_url: Option<String>,
    /// New settings (replace the old ones).
    pub settings: Option<Json>,
    /// New credentials (replace the old ones; write-only).
    pub credentials: Option<Json>,
    /// New schedule in seconds (at least 60); 0 turns the schedule off.
    pub sync_interval_seconds: Option<i32>,
    /// Enable or disable it.
    pub enabled: Option<bool>,
}

/// An integration to act on.
#[derive(InputObject)]
pub struct IntegrationActionInput {
    /// The integration.
    pub id: ID,
}

/// What a sync reads.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncResource {
    /// Companies, organizations, clients or sites.
    Companies,
    /// Devices, configurations or assets.
    Devices,
    /// Tickets.
    Tickets,
    /// Alerts.
    Alerts,
    /// Activities and audit entries.
    Changes,
}

impl From<SyncResource> for Resource {
    fn from(value: SyncResource) -> Self {
        match value {
            SyncResource::Companies => Self::Companies,
            SyncResource::Devices => Self::Devices,
            SyncResource::Tickets => Self::Tickets,
            SyncResource::Alerts => Self::Alerts,
            SyncResource::Changes => Self::Changes,
        }
    }
}

/// A sync to start.
#[derive(InputObject)]
pub struct TriggerSyncInput {
    /// The integration.
    pub id: ID,
    /// Ignore the cursors and read everything again (default false).
    #[graphql(default)]
    pub full: bool,
    /// Only these resources; all when omitted.
    pub resources: Option<Vec<SyncResource>>,
}

/// A vendor company mapped to an environment.
#[derive(InputObject)]
pub struct MapIntegrationCompanyInput {
    /// The integration.
    pub integration_id: ID,
    /// The vendor's company, organization, client or site id.
    pub external_company_id: String,
    /// Its name, for people.
    pub external_company_name: Option<String>,
    /// The environment its records go to.
    pub environment_id: ID,
}

/// What a value mapping translates.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueMappingDomain {
    /// A vendor ticket status.
    TicketStatus,
    /// A vendor ticket priority.
    TicketPriority,
}

/// An admin's override of a vendor value's meaning.
#[derive(InputObject)]
pub struct SetValueMappingInput {
    /// The integration.
    pub integration_id: ID,
    /// Status or priority.
    pub domain: ValueMappingDomain,
    /// The vendor's value (the id its tickets carry).
    pub external_value: String,
    /// For `TICKET_STATUS`: the status it means.
    pub status: Option<TicketStatus>,
    /// For `TICKET_PRIORITY`: the priority it means.
    pub priority: Option<Priority>,
}

/// A wrong match to undo: one external link of a system that became one system with another
/// source's record.
#[derive(InputObject)]
pub struct SplitSystemLinkInput {
    /// The system holding both links.
    pub system_id: ID,
    /// The link's source, as `System.externalIds` shows it.
    pub source: String,
    /// The link's external id.
    pub external_id: String,
    /// Why (goes to the change log).
    pub reason: Option<String>,
}

payload! {
    /// The result of `splitSystemLink`.
    SplitSystemPayload {
        /// The new system that now holds the link.
        system: crate::graphql::types::System
    }
}

payload! {
    /// The result of an integration mutation.
    IntegrationPayload {
        /// The integration as it is now.
        integration: Integration
    }
}

/// The result of `testIntegration`.
#[derive(SimpleObject, Default)]
pub struct TestIntegrationPayload {
    /// Whether the vendor accepted the credentials and configuration.
    pub ok: bool,
    /// What was reached, or what failed (refused credentials, unreachable host, bad setting).
    pub message: String,
    /// Problems with the input.
    pub user_errors: Vec<crate::graphql::mutation::UserErrorObject>,
}

/// A value mapping.
#[derive(SimpleObject)]
pub struct ValueMapping {
    /// What it translates.
    pub domain: ValueMappingDomain,
    /// The vendor's value.
    pub external_value: String,
    /// The vendor's label.
    pub external_label: Option<String>,
    /// The Tandem value it means.
    pub normalized_value: String,
    /// Whether an admin set it (a lookup refresh leaves it alone).
    pub overridden: bool,
}

payload! {
    /// The result of `setValueMapping`.
    ValueMappingPayload {
        /// The mapping as it is now.
        mapping: ValueMapping
    }
}

#[Object]
impl IntegrationMutation {
    /// Adds an integration to the caller's organization.
    async fn create_integration(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: CreateIntegrationInput,
    ) -> Result<IntegrationPayload> {
        create(ctx, input).await.extend()
    }

    /// Changes an integration's name, URL, settings, credentials, schedule or state.
    async fn update_integration(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: UpdateIntegrationInput,
    ) -> Result<IntegrationPayload> {
        update(ctx, input).await.extend()
    }

    /// Disables an integration: no scheduled, triggered or webhook sync runs until it is enabled.
    async fn disable_integration(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: IntegrationActionInput,
    ) -> Result<IntegrationPayload> {
        update(
            ctx,
            UpdateIntegrationInput {
                id: input.id,
                name: None,
                base_url: None,
                settings: None,
                credentials: None,
                sync_interval_seconds: None,
                enabled: Some(false),
            },
        )
        .await
        .extend()
    }

    /// Checks the credentials and configuration against the vendor with one cheap call and says
    /// what it reached or what failed.
    async fn test_integration(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: IntegrationActionInput,
    ) -> Result<TestIntegrationPayload> {
        test(ctx, input).await.extend()
    }

    /// Starts a sync in the background; follow it in `syncRuns`. A sync already running for the
    /// integration makes this one a no-op.
    async fn trigger_sync(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: TriggerSyncInput,
    ) -> Result<IntegrationPayload> {
        trigger(ctx, input).await.extend()
    }

    /// Maps a vendor company to an environment (or moves an existing mapping there).
    async fn map_integration_company(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: MapIntegrationCompanyInput,
    ) -> Result<IntegrationPayload> {
        map_company(ctx, input).await.extend()
    }

    /// Undoes a wrong PSA/RMM match: moves one external link of a system to a new system of its
    /// own, with the attributes that link's source set. Later syncs keep them apart.
    async fn split_system_link(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: SplitSystemLinkInput,
    ) -> Result<SplitSystemPayload> {
        split_link(ctx, input).await.extend()
    }

    /// Overrides what a vendor status or priority means; later lookup refreshes keep it.
    async fn set_value_mapping(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: SetValueMappingInput,
    ) -> Result<ValueMappingPayload> {
        set_value_mapping(ctx, input).await.extend()
    }
}

/// The integration `id` if the caller administers its organization; else a `NOT_FOUND` error.
async fn administered(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    check: &mut Check,
    field: &str,
    id: &ID,
) -> ApiResult<Option<integration::Model>> {
    let Some(id) = check.id(field, NodeType::Integration, id) else {
        return Ok(None);
    };
    let found = integration::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|found| found.organization_id == viewer.organization.id);
    if found.is_none() {
        check.fail(
            field,
            UserErrorCode::NotFound,
            "no integration with this id",
        );
    }
    Ok(found)
}

fn check_url(check: &mut Check, value: &str) -> Option<String> {
    let trimmed = value.trim().trim_end_matches('/');
    match url::Url::parse(trimmed) {
        Ok(url) if matches!(url.scheme(), "https" | "http") && url.has_host() => {
            Some(trimmed.to_owned())
        }
        _ => {
            check.fail(
                "baseUrl",
                UserErrorCode::Invalid,
                "`baseUrl` is an http(s) URL such as https://api-na.myconnectwise.net",
            );
            None
        }
    }
}

fn check_object(check: &mut Check, field: &str, value: Option<Json>) -> Option<Value> {
    match value.map(|json| json.0) {
        None => Some(Value::Object(serde_json::Map::new())),
        Some(object @ Value::Object(_)) => Some(object),
        Some(_) => {
            check.fail(
                field,
                UserErrorCode::Invalid,
                format!("`{field}` is a JSON object"),
            );
            None
        }
    }
}

fn check_interval(check: &mut Check, value: Option<i32>) -> Option<Option<i32>> {
    match value {
        None | Some(0) => Some(None),
        Some(seconds) if seconds >= MIN_INTERVAL_SECONDS => Some(Some(seconds)),
        Some(_) => {
            check.fail(
                "syncIntervalSeconds",
                UserErrorCode::Invalid,
                format!("`syncIntervalSeconds` is at least {MIN_INTERVAL_SECONDS} (or 0 for none)"),
            );
            None
        }
    }
}

async fn name_taken(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    name: &str,
    except: Option<Uuid>,
) -> ApiResult<bool> {
    Ok(integration::Entity::find()
        .filter(integration::COLUMN.organization_id.eq(organization_id))
        .filter(integration::COLUMN.name.eq(name))
        .all(db)
        .await?
        .into_iter()
        .any(|found| Some(found.id) != except))
}

fn seal(
    ctx: &Context<'_>,
    check: &mut Check,
    id: Uuid,
    credentials: &Value,
) -> ApiResult<Option<Vec<u8>>> {
    let service = ctx.data_unchecked::<SyncService>();
    match crate::sync::credentials::seal(service.key.as_deref(), id, credentials) {
        Ok(sealed) => Ok(Some(sealed)),
        Err(error) => {
            check.fail(
                "credentials",
                UserErrorCode::InvalidState,
                error.to_string(),
            );
            Ok(None)
        }
    }
}

async fn create(ctx: &Context<'_>, input: CreateIntegrationInput) -> ApiResult<IntegrationPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, &[Role::Admin], "createIntegration")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let name = check.text("name", &input.name, 100);
    let base_url = check_url(&mut check, &input.base_url);
    let settings = check_object(&mut check, "settings", input.settings);
    let credentials = check_object(&mut check, "credentials", input.credentials);
    let interval = check_interval(&mut check, input.sync_interval_seconds);
    if let Some(name) = &name
        && name_taken(db, viewer.organization.id, name, None).await?
    {
        check.fail(
            "name",
            UserErrorCode::Taken,
            "another integration has this name",
        );
    }
    let id = Uuid::now_v7();
    let sealed = match &credentials {
        Some(credentials) if credentials.as_object().is_some_and(|map| !map.is_empty()) => {
            seal(ctx, &mut check, id, credentials)?
        }
        _ => None,
    };
    let (Some(name), Some(base_url), Some(settings), Some(interval), true) =
        (name, base_url, settings, interval, check.is_ok())
    else {
        return Ok(IntegrationPayload::refused(check.into_errors()));
    };
    let now = Utc::now().trunc_subsecs(6);
    let created = integration::Model {
        id,
        organization_id: viewer.organization.id,
        name,
        kind: input.kind.into(),
        base_url,
        credentials_ciphertext: sealed,
        settings,
        enabled: input.enabled,
        sync_interval_seconds: interval,
        lease_owner: None,
        lease_expires_at: None,
        created_at: now,
        updated_at: now,
    }
    .into_active_model()
    .insert(db)
    .await?;
    tracing::info!(integration = %created.id, kind = ?created.kind, "integration created");
    Ok(IntegrationPayload::done(Integration(created)))
}

async fn update(ctx: &Context<'_>, input: UpdateIntegrationInput) -> ApiResult<IntegrationPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, &[Role::Admin], "updateIntegration")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let Some(current) = administered(db, viewer, &mut check, "id", &input.id).await? else {
        return Ok(IntegrationPayload::refused(check.into_errors()));
    };
    let mut model = current.clone().into_active_model();
    if let Some(name) = input
        .name
        .as_deref()
        .and_then(|name| check.text("name", name, 100))
    {
        if name_taken(db, current.organization_id, &name, Some(current.id)).await? {
            check.fail(
                "name",
                UserErrorCode::Taken,
                "another integration has this name",
            );
        }
        model.name = Set(name);
    }
    let mut moved = false;
    if let Some(url) = input
        .base_url
        .as_deref()
        .and_then(|url| check_url(&mut check, url))
    {
        // Stored credentials go only to the host they were given for.
        if url != current.base_url {
            moved = true;
            if input.credentials.is_none() && current.credentials_ciphertext.is_some() {
                check.fail(
                    "credentials",
                    UserErrorCode::Required,
                    "changing `baseUrl` needs the credentials again",
                );
            }
        }
        model.base_url = Set(url);
    }
    if input.settings.is_some()
        && let Some(settings) = check_object(&mut check, "settings", input.settings)
    {
        model.settings = Set(settings);
    }
    if input.credentials.is_some()
        && let Some(credentials) = check_object(&mut check, "credentials", input.credentials)
    {
        let sealed = seal(ctx, &mut check, current.id, &credentials)?;
        model.credentials_ciphertext = Set(sealed);
    }
    if input.sync_interval_seconds.is_some()
        && let Some(interval) = check_interval(&mut check, input.sync_interval_seconds)
    {
        model.sync_interval_seconds = Set(interval);
    }
    if let Some(enabled) = input.enabled {
        model.enabled = Set(enabled);
    }
    if !check.is_ok() {
        return Ok(IntegrationPayload::refused(check.into_errors()));
    }
    model.updated_at = Set(Utc::now().trunc_subsecs(6));
    // The new address, the cursor reset and the revoked lease commit together: a run still
    // fetching from the old host loses its lease at its next page and writes nothing more.
    let txn = crate::services::unit::begin_write(db).await?;
    if moved {
        model.lease_owner = Set(None);
        model.lease_expires_at = Set(None);
    }
    let updated = model.update(&txn).await?;
    if moved {
        // Another host may be another tenant: the next sync starts from scratch.
        entities::sync_cursor::Entity::delete_many()
            .filter(entities::sync_cursor::COLUMN.integration_id.eq(updated.id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    tracing::info!(integration = %updated.id, enabled = updated.enabled, "integration updated");
    Ok(IntegrationPayload::done(Integration(updated)))
}

async fn test(
    ctx: &Context<'_>,
    input: IntegrationActionInput,
) -> ApiResult<TestIntegrationPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, &[Role::Admin], "testIntegration")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let Some(found) = administered(db, viewer, &mut check, "id", &input.id).await? else {
        return Ok(TestIntegrationPayload {
            user_errors: crate::graphql::mutation::user_errors(check.into_errors()),
            ..Default::default()
        });
    };
    let service = ctx.data_unchecked::<SyncService>();
    let outcome = match connector_for(service.key.as_deref(), &found, service.policy) {
        Ok(connector) => connector.check().await.map_err(|error| error.to_string()),
        Err(error) => Err(error.to_string()),
    };
    Ok(match outcome {
        Ok(message) => TestIntegrationPayload {
            ok: true,
            message,
            user_errors: Vec::new(),
        },
        Err(message) => TestIntegrationPayload {
            ok: false,
            message,
            user_errors: Vec::new(),
        },
    })
}

async fn trigger(ctx: &Context<'_>, input: TriggerSyncInput) -> ApiResult<IntegrationPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, &[Role::Admin], "triggerSync")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let Some(found) = administered(db, viewer, &mut check, "id", &input.id).await? else {
        return Ok(IntegrationPayload::refused(check.into_errors()));
    };
    if !found.enabled {
        check.fail(
            "id",
            UserErrorCode::InvalidState,
            "the integration is disabled",
        );
        return Ok(IntegrationPayload::refused(check.into_errors()));
    }
    if input.resources.as_ref().is_some_and(Vec::is_empty) {
        check.fail(
            "resources",
            UserErrorCode::Invalid,
            "name at least one resource, or omit `resources` for all",
        );
        return Ok(IntegrationPayload::refused(check.into_errors()));
    }
    let only = input
        .resources
        .map(|resources| resources.into_iter().map(Resource::from).collect());
    ctx.data_unchecked::<SyncService>()
        .spawn(found.id, SyncTrigger::Manual, only, input.full);
    Ok(IntegrationPayload::done(Integration(found)))
}

async fn map_company(
    ctx: &Context<'_>,
    input: MapIntegrationCompanyInput,
) -> ApiResult<IntegrationPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, &[Role::Admin], "mapIntegrationCompany")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let found = administered(
        db,
        viewer,
        &mut check,
        "integrationId",
        &input.integration_id,
    )
    .await?;
    let external = check.text("externalCompanyId", &input.external_company_id, 255);
    let name = check.optional_text(
        "externalCompanyName",
        input.external_company_name.as_deref(),
        300,
    );
    let environment_id = check.id(
        "environmentId",
        NodeType::Environment,
        &input.environment_id,
    );
    let environment =
        visible_environment(db, viewer, &mut check, "environmentId", environment_id).await?;
    let (Some(found), Some(external), Some(name), Some(environment), true) =
        (found, external, name, environment, check.is_ok())
    else {
        return Ok(IntegrationPayload::refused(check.into_errors()));
    };
    let now = Utc::now().trunc_subsecs(6);
    let existing = integration_mapping::Entity::find()
        .filter(integration_mapping::COLUMN.integration_id.eq(found.id))
        .filter(
            integration_mapping::COLUMN
                .external_company_id
                .eq(external.clone()),
        )
        .one(db)
        .await?;
    match existing {
        Some(existing) => {
            let mut model = existing.into_active_model();
            model.environment_id = Set(environment.id);
            if name.is_some() {
                model.external_company_name = Set(name);
            }
            model.updated_at = Set(now);
            model.update(db).await?;
        }
        None => {
            integration_mapping::Model {
                id: Uuid::now_v7(),
                integration_id: found.id,
                external_company_id: external,
                external_company_name: name,
                environment_id: environment.id,
                created_at: now,
                updated_at: now,
            }
            .into_active_model()
            .insert(db)
            .await?;
        }
    }
    Ok(IntegrationPayload::done(Integration(found)))
}

async fn set_value_mapping(
    ctx: &Context<'_>,
    input: SetValueMappingInput,
) -> ApiResult<ValueMappingPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, &[Role::Admin], "setValueMapping")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let found = administered(
        db,
        viewer,
        &mut check,
        "integrationId",
        &input.integration_id,
    )
    .await?;
    let external = check.text("externalValue", &input.external_value, 255);
    let (domain, normalized) = match (input.domain, input.status, input.priority) {
        (ValueMappingDomain::TicketStatus, Some(status), None) => (
            StoredDomain::TicketStatus,
            Some(sea_orm::ActiveEnum::to_value(
                &entities::enums::TicketStatus::from(status),
            )),
        ),
        (ValueMappingDomain::TicketPriority, None, Some(priority)) => (
            StoredDomain::TicketPriority,
            Some(sea_orm::ActiveEnum::to_value(
                &entities::enums::Priority::from(priority),
            )),
        ),
        (ValueMappingDomain::TicketStatus, ..) => {
            check.fail(
                "status",
                UserErrorCode::Required,
                "a status mapping names `status` only",
            );
            (StoredDomain::TicketStatus, None)
        }
        (ValueMappingDomain::TicketPriority, ..) => {
            check.fail(
                "priority",
                UserErrorCode::Required,
                "a priority mapping names `priority` only",
            );
            (StoredDomain::TicketPriority, None)
        }
    };
    let (Some(found), Some(external), Some(normalized), true) =
        (found, external, normalized, check.is_ok())
    else {
        return Ok(ValueMappingPayload::refused(check.into_errors()));
    };
    let now = Utc::now().trunc_subsecs(6);
    let existing = value_mapping::Entity::find()
        .filter(value_mapping::COLUMN.integration_id.eq(found.id))
        .filter(value_mapping::COLUMN.domain.eq(domain))
        .filter(value_mapping::COLUMN.external_value.eq(external.clone()))
        .one(db)
        .await?;
    let saved = match existing {
        Some(existing) => {
            let mut model = existing.into_active_model();
            model.normalized_value = Set(normalized);
            model.overridden = Set(true);
            model.updated_at = Set(now);
            model.update(db).await?
        }
        None => {
            value_mapping::Model {
                id: Uuid::now_v7(),
                integration_id: found.id,
                domain,
                external_value: external,
                external_label: None,
                normalized_value: normalized,
                overridden: true,
                created_at: now,
                updated_at: now,
            }
            .into_active_model()
            .insert(db)
            .await?
        }
    };
    Ok(ValueMappingPayload::done(ValueMapping {
        domain: input.domain,
        external_value: saved.external_value,
        external_label: saved.external_label,
        normalized_value: saved.normalized_value,
        overridden: saved.overridden,
    }))
}

async fn split_link(
    ctx: &Context<'_>,
    input: SplitSystemLinkInput,
) -> ApiResult<SplitSystemPayload> {
    use entities::enums::ChangeCategory;
    use entities::{system, system_link};
    let viewer = ctx.viewer()?;
    require_role(viewer, &[Role::Admin], "splitSystemLink")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let reason = check.optional_text(
        "reason",
        input.reason.as_deref(),
        crate::graphql::mutation::change_log::MAX_REASON,
    );
    let system_id = check.id("systemId", NodeType::System, &input.system_id);
    let current = match system_id {
        Some(id) => system::Entity::find_by_id(id).one(db).await?,
        None => None,
    };
    let environment = match &current {
        Some(found) => {
            visible_environment(
                db,
                viewer,
                &mut check,
                "systemId",
                Some(found.environment_id),
            )
            .await?
        }
        None => {
            check.fail(
                "systemId",
                UserErrorCode::NotFound,
                "no system with this id",
            );
            None
        }
    };
    let links = match &current {
        Some(found) => {
            system_link::Entity::find()
                .filter(system_link::COLUMN.system_id.eq(found.id))
                .all(db)
                .await?
        }
        None => Vec::new(),
    };
    let link = links
        .iter()
        .find(|link| {
            link.source == input.source.trim() && link.external_id == input.external_id.trim()
        })
        .cloned();
    if current.is_some() && link.is_none() {
        check.fail(
            "externalId",
            UserErrorCode::NotFound,
            "the system has no such link",
        );
    } else if link.is_some() && links.len() < 2 {
        check.fail(
            "externalId",
            UserErrorCode::InvalidState,
            "this is the system's only link; there is nothing to split from",
        );
    }
    let (Some(current), Some(_environment), Some(link), Some(reason), true) =
        (current, environment, link, reason, check.is_ok())
    else {
        return Ok(SplitSystemPayload::refused(check.into_errors()));
    };
    let mut write = crate::graphql::mutation::begin(ctx, viewer, reason, None).await?;
    // The new system takes the attributes the split source set; the old keeps the rest.
    let sources = current
        .attribute_sources
        .as_object()
        .cloned()
        .unwrap_or_default();
    let from_link =
        |field: &str| sources.get(field).and_then(Value::as_str) == Some(link.source.as_str());
    let pick = |field: &str, value: &Option<String>| {
        if from_link(field) {
            value.clone()
        } else {
            None
        }
    };
    let moved: serde_json::Map<String, Value> = sources
        .iter()
        .filter(|(_, source)| source.as_str() == Some(link.source.as_str()))
        .map(|(field, source)| (field.clone(), source.clone()))
        .collect();
    let created = system::Model {
        id: Uuid::now_v7(),
        environment_id: current.environment_id,
        name: format!("{} ({} {})", current.name, link.resource, link.external_id),
        kind: current.kind,
        hostname: pick("hostname", &current.hostname),
        serial_number: pick("serial_number", &current.serial_number),
        mac_address: pick("mac_address", &current.mac_address),
        operating_system: pick("operating_system", &current.operating_system),
        ip_address: pick("ip_address", &current.ip_address),
        description: None,
        attributes: Value::Object(serde_json::Map::new()),
        attribute_sources: Value::Object(moved),
        retired_at: None,
        created_at: write.now,
        updated_at: write.now,
    }
    .into_active_model()
    .insert(&write.txn)
    .await?;
    let mut moved_link = link.clone().into_active_model();
    moved_link.system_id = Set(created.id);
    moved_link.update(&write.txn).await?;
    write
        .record(crate::graphql::mutation::ChangeNote {
            environment_id: current.environment_id,
            system_ids: vec![current.id, created.id],
            summary: format!(
                "Split {} {} off {} into its own system",
                link.source, link.external_id, current.name
            ),
            details: serde_json::json!({ "from": current.id.to_string(), "to": created.id.to_string(), "source": link.source, "external_id": link.external_id }),
            category: ChangeCategory::Inventory,
        })
        .await?;
    write.commit().await?;
    Ok(SplitSystemPayload::done(crate::graphql::types::System(
        created,
    )))
}
