//! Managing integrations: create, update (and disable), delete (keeping history), map a vendor company to an environment,
//! override a value mapping, split a wrong PSA/RMM device match; and the checks that decide
//! whether `testIntegration` and `triggerSync` may reach the vendor.
//!
//! Only admins of the integration's own organization manage it: anyone else's integration looks
//! missing (`NOT_FOUND`). Credentials are write-only: sealed with `TANDEM_SECRET_KEY`, bound to
//! the integration's id ([`credentials`]), on the way in, never returned, never logged; and they
//! go only to the host they were given for, so a new `baseUrl` needs them again, and the new
//! address, the reset cursors and the revoked sync lease commit together. A `baseUrl` is an
//! `https` URL whose host, when it is a literal IP address, is public, as the server's
//! [`Egress`] policy says (`http` and private addresses only when the operator allows them);
//! host names are judged again when the vendor is called, since DNS can change. Company
//! mappings point only at environments the actor may see.
//!
//! The reads that decide a write (the integration, a name already taken, the mapping or system
//! being changed) run inside its transaction; the row being changed is locked on PostgreSQL.
//! Reaching the vendor (a connector check, a sync run) is not a service's business: the sync
//! engine depends on the services, not the other way round, so the front door starts it with
//! what [`integration_to_test`] and [`sync_to_start`] approved.

use entities::enums::ValueMappingDomain;
use entities::enums::{ChangeCategory, IntegrationKind, Priority, Role, TicketStatus};
use entities::{
    integration, integration_mapping, sync_cursor, sync_retry, system, system_link, value_mapping,
};
use integrations::egress::{Egress, Refusal};
use integrations::model::Resource;
use integrations::secrets::SecretKey;
use sea_orm::prelude::*;
use sea_orm::{ConnectionTrait, IntoActiveModel, QueryFilter, QuerySelect, Set};
use serde_json::Value;

use crate::auth::Viewer;
use crate::events::EventBus;
use crate::services::change_log::MAX_REASON;
use crate::services::scope::visible_environment;
use crate::services::{
    ChangeNote, Check, ServiceError, ServiceResult, UnitOfWork, UserErrorCode, credentials,
    require_role,
};

/// Longest name, in characters.
pub const MAX_NAME: usize = 100;

const NAME_TAKEN: &str = "another integration has this name";
/// Longest vendor id (a company id, a status or priority value), in characters.
pub const MAX_EXTERNAL_ID: usize = 255;
/// Longest vendor company name, in characters.
pub const MAX_COMPANY_NAME: usize = 300;
/// Shortest schedule: vendors' rate limits are shared by every integration of a tenant.
pub const MIN_INTERVAL_SECONDS: i32 = 60;

/// Who manages integrations.
const ADMINS: &[Role] = &[Role::Admin];

/// A new integration of the actor's organization.
pub struct NewIntegration {
    /// Display name, unique within the organization.
    pub name: String,
    /// The vendor.
    pub kind: IntegrationKind,
    /// The vendor's API root.
    pub base_url: String,
    /// Non-secret settings, a JSON object; `{}` when absent.
    pub settings: Option<Value>,
    /// Secrets, a JSON object; none stored when absent or empty.
    pub credentials: Option<Value>,
    /// Seconds between scheduled syncs; none when absent or 0.
    pub sync_interval_seconds: Option<i32>,
    /// Whether it syncs.
    pub enabled: bool,
}

/// Changes to an integration; absent fields stay as they are.
pub struct IntegrationChange {
    /// The integration; `None` when the front door could not decode its id (the error is then
    /// in the `check` it passes), and likewise for every id below.
    pub id: Option<Uuid>,
    /// New name.
    pub name: Option<String>,
    /// New API root; needs `credentials` again when some are stored.
    pub base_url: Option<String>,
    /// New settings (replace the old ones).
    pub settings: Option<Value>,
    /// New credentials (replace the old ones).
    pub credentials: Option<Value>,
    /// New schedule in seconds; 0 turns it off.
    pub sync_interval_seconds: Option<i32>,
    /// Enable or disable it.
    pub enabled: Option<bool>,
}

/// A sync the actor asks for.
pub struct SyncRequest {
    /// The integration.
    pub integration_id: Option<Uuid>,
    /// Ignore the cursors and read everything again.
    pub full: bool,
    /// Only these resources (at least one); all when absent.
    pub resources: Option<Vec<Resource>>,
}

/// A sync [`sync_to_start`] approved: what the front door hands the sync engine.
pub struct SyncToStart {
    /// The integration: the actor's organization's own, and enabled.
    pub integration: integration::Model,
    /// Only these resources; all when `None`.
    pub only: Option<Vec<Resource>>,
    /// Ignore the cursors.
    pub full: bool,
}

/// A vendor company to map to an environment (or to move there).
pub struct CompanyMapping {
    /// The integration.
    pub integration_id: Option<Uuid>,
    /// The vendor's company, organization, client or site id.
    pub external_company_id: String,
    /// Its name, for people; an existing mapping keeps its name when absent.
    pub external_company_name: Option<String>,
    /// The environment its records go to.
    pub environment_id: Option<Uuid>,
}

/// An admin's override of what a vendor value means.
pub struct ValueOverride {
    /// The integration.
    pub integration_id: Option<Uuid>,
    /// Ticket status or ticket priority.
    pub domain: ValueMappingDomain,
    /// The vendor's value (the id its tickets carry).
    pub external_value: String,
    /// For [`ValueMappingDomain::TicketStatus`] (only): the status it means.
    pub status: Option<TicketStatus>,
    /// For [`ValueMappingDomain::TicketPriority`] (only): the priority it means.
    pub priority: Option<Priority>,
}

/// A wrong match to undo: one external link of a system that became one system with another
/// source's record.
pub struct LinkSplit {
    /// The system holding both links.
    pub system_id: Option<Uuid>,
    /// The link's source.
    pub source: String,
    /// The link's external id.
    pub external_id: String,
    /// Why (goes to the change log).
    pub reason: Option<String>,
}

/// Adds an integration to the actor's organization, sealing its credentials with `key`; its
/// `baseUrl` must be one `egress` permits.
///
/// # Errors
/// [`crate::services::ServiceError::Forbidden`] for a non-admin;
/// [`crate::services::ServiceError::Refused`] for bad input (a `baseUrl` that is not `https`
/// or names a non-public address is `INVALID`), a name the organization already uses, or
/// credentials when no key is configured; database errors.
pub async fn create_integration(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    key: Option<&SecretKey>,
    egress: Egress,
    input: NewIntegration,
    mut check: Check,
) -> ServiceResult<integration::Model> {
    require_role(actor, ADMINS, "createIntegration")?;
    let name = check.text("name", &input.name, MAX_NAME);
    let base_url = check_url(&mut check, egress, &input.base_url);
    let settings = check_settings(&mut check, input.kind, input.settings);
    let credentials = check_object(&mut check, "credentials", input.credentials);
    let interval = check_interval(&mut check, input.sync_interval_seconds);
    let write = UnitOfWork::begin(db, events, actor, None, None).await?;
    if let Some(name) = &name
        && name_taken(&write.txn, actor.organization.id, name, None).await?
    {
        check.fail("name", UserErrorCode::Taken, NAME_TAKEN);
    }
    let id = Uuid::now_v7();
    let sealed = match &credentials {
        Some(credentials) if credentials.as_object().is_some_and(|map| !map.is_empty()) => {
            seal(&mut check, key, id, credentials)
        }
        _ => None,
    };
    let (Some(name), Some(base_url), Some(settings), Some(interval), true) =
        (name, base_url, settings, interval, check.is_ok())
    else {
        return Err(check.into());
    };
    let created = integration::Model {
        id,
        organization_id: actor.organization.id,
        name,
        kind: input.kind,
        base_url,
        credentials_ciphertext: sealed,
        settings,
        enabled: input.enabled,
        sync_interval_seconds: interval,
        lease_owner: None,
        lease_expires_at: None,
        created_at: write.now,
        updated_at: write.now,
        deleted_at: None,
    }
    .into_active_model()
    .insert(&write.txn)
    .await
    .map_err(|error| ServiceError::taken_or(error, "name", NAME_TAKEN))?;
    write.commit().await?;
    tracing::info!(integration = %created.id, kind = ?created.kind, "integration created");
    Ok(created)
}

/// Changes an integration of the actor's organization, sealing new credentials with `key`.
/// A new `baseUrl` needs the credentials again (when some are stored); it resets the sync
/// cursors and revokes the sync lease in the same transaction, so a run still fetching from the
/// old host loses its lease at its next page and writes nothing more.
///
/// # Errors
/// As [`create_integration`]; another organization's integration is `NOT_FOUND`.
pub async fn update_integration(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    key: Option<&SecretKey>,
    egress: Egress,
    input: IntegrationChange,
    check: Check,
) -> ServiceResult<integration::Model> {
    change_integration(
        db,
        events,
        actor,
        key,
        egress,
        input,
        check,
        "updateIntegration",
    )
    .await
}

/// Disables an integration of the actor's organization: no scheduled, triggered or webhook
/// sync runs until it is enabled again.
///
/// # Errors
/// As [`update_integration`], naming `disableIntegration`.
pub async fn disable_integration(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    id: Option<Uuid>,
    check: Check,
) -> ServiceResult<integration::Model> {
    let change = IntegrationChange {
        id,
        name: None,
        base_url: None,
        settings: None,
        credentials: None,
        sync_interval_seconds: None,
        enabled: Some(false),
    };
    // Nothing is sealed and no address is checked: the change touches neither.
    change_integration(
        db,
        events,
        actor,
        None,
        Egress::PUBLIC_ONLY,
        change,
        check,
        "disableIntegration",
    )
    .await
}

/// Deletes an integration of the actor's organization and keeps its history: its sync runs,
/// their errors, and everything it synced (tickets, systems and their links, change log entries
/// recorded by it) stay, and the integration itself stays readable by id with `deletedAt` set.
/// What configured future syncs goes in the same transaction: the credentials (destroyed, not
/// merely hidden), company and value mappings, cursors, the records still on the retry list, the
/// schedule and the sync lease (a run in flight stops at its next page). Its name is free again,
/// its webhooks and tokens naming it are refused, and every later change to it is `NOT_FOUND`.
///
/// # Errors
/// As [`update_integration`], naming `deleteIntegration`.
pub async fn delete_integration(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    id: Option<Uuid>,
    mut check: Check,
) -> ServiceResult<integration::Model> {
    require_role(actor, ADMINS, "deleteIntegration")?;
    let mut write = UnitOfWork::begin(db, events, actor, None, None).await?;
    let Some(current) = administered(&write.txn, actor, &mut check, "id", id, true).await? else {
        return Err(check.into());
    };
    integration_mapping::Entity::delete_many()
        .filter(integration_mapping::COLUMN.integration_id.eq(current.id))
        .exec(&write.txn)
        .await?;
    value_mapping::Entity::delete_many()
        .filter(value_mapping::COLUMN.integration_id.eq(current.id))
        .exec(&write.txn)
        .await?;
    sync_cursor::Entity::delete_many()
        .filter(sync_cursor::COLUMN.integration_id.eq(current.id))
        .exec(&write.txn)
        .await?;
    // Resolved rows stay: they are how a past run says what it made good (`SyncRun.retried`).
    sync_retry::Entity::delete_many()
        .filter(sync_retry::COLUMN.integration_id.eq(current.id))
        .filter(sync_retry::COLUMN.resolved_at.is_null())
        .exec(&write.txn)
        .await?;
    let mut model = current.into_active_model();
    model.deleted_at = Set(Some(write.now));
    model.enabled = Set(false);
    model.credentials_ciphertext = Set(None);
    model.sync_interval_seconds = Set(None);
    model.lease_owner = Set(None);
    model.lease_expires_at = Set(None);
    model.updated_at = Set(write.now);
    let deleted = model.update(&write.txn).await?;
    // Tokens issued for it stop working at once: cached callers are resolved again, and open
    // subscriptions check their rights.
    write.access_changed(deleted.organization_id);
    write.commit().await?;
    tracing::info!(integration = %deleted.id, "integration deleted; its history stays");
    Ok(deleted)
}

/// [`update_integration`] and [`disable_integration`], refused in the name of `operation`.
async fn change_integration(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    key: Option<&SecretKey>,
    egress: Egress,
    input: IntegrationChange,
    mut check: Check,
    operation: &str,
) -> ServiceResult<integration::Model> {
    require_role(actor, ADMINS, operation)?;
    let mut write = UnitOfWork::begin(db, events, actor, None, None).await?;
    // Locked: the host check below compares with the stored address, which a concurrent
    // update must not change in between.
    let Some(current) = administered(&write.txn, actor, &mut check, "id", input.id, true).await?
    else {
        return Err(check.into());
    };
    let mut model = current.clone().into_active_model();
    if let Some(name) = input
        .name
        .as_deref()
        .and_then(|name| check.text("name", name, MAX_NAME))
    {
        if name_taken(&write.txn, current.organization_id, &name, Some(current.id)).await? {
            check.fail("name", UserErrorCode::Taken, NAME_TAKEN);
        }
        model.name = Set(name);
    }
    let mut moved = false;
    if let Some(url) = input
        .base_url
        .as_deref()
        .and_then(|url| check_url(&mut check, egress, url))
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
        && let Some(settings) = check_settings(&mut check, current.kind, input.settings)
    {
        model.settings = Set(settings);
    }
    if input.credentials.is_some()
        && let Some(credentials) = check_object(&mut check, "credentials", input.credentials)
    {
        model.credentials_ciphertext = Set(seal(&mut check, key, current.id, &credentials));
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
        return Err(check.into());
    }
    model.updated_at = Set(write.now);
    // Cached callers of its tokens hold the integration as it was.
    write.callers_changed();
    if moved {
        model.lease_owner = Set(None);
        model.lease_expires_at = Set(None);
    }
    let updated = model
        .update(&write.txn)
        .await
        .map_err(|error| ServiceError::taken_or(error, "name", NAME_TAKEN))?;
    if moved {
        // Another host may be another tenant: the next sync starts from scratch.
        sync_cursor::Entity::delete_many()
            .filter(sync_cursor::COLUMN.integration_id.eq(updated.id))
            .exec(&write.txn)
            .await?;
    }
    write.commit().await?;
    tracing::info!(integration = %updated.id, enabled = updated.enabled, "integration updated");
    Ok(updated)
}

/// Records of `integration_id` on its retry list: they failed in a run and no later run has
/// written them yet (see `sync::engine`).
///
/// # Errors
/// Database errors.
pub async fn pending_retries(
    db: &impl ConnectionTrait,
    integration_id: Uuid,
) -> Result<u64, DbErr> {
    use entities::sync_retry;
    use sea_orm::PaginatorTrait;
    sync_retry::Entity::find()
        .filter(sync_retry::COLUMN.integration_id.eq(integration_id))
        .filter(sync_retry::COLUMN.resolved_at.is_null())
        .count(db)
        .await
}

/// The integration `id` whose credentials and configuration the actor may test against the
/// vendor: one of the actor's organization's own. The front door then runs the connector check.
///
/// # Errors
/// [`crate::services::ServiceError::Forbidden`] for a non-admin;
/// [`crate::services::ServiceError::Refused`] for an integration the actor does not manage;
/// database errors.
pub async fn integration_to_test(
    db: &DatabaseConnection,
    actor: &Viewer,
    id: Option<Uuid>,
    mut check: Check,
) -> ServiceResult<integration::Model> {
    require_role(actor, ADMINS, "testIntegration")?;
    match administered(db, actor, &mut check, "id", id, false).await? {
        Some(found) if check.is_ok() => Ok(found),
        _ => Err(check.into()),
    }
}

/// The sync the actor may start: an enabled integration of the actor's organization, and at
/// least one resource when it names any. The front door then hands it to the sync engine.
///
/// # Errors
/// As [`integration_to_test`]; a disabled integration is `INVALID_STATE`, an empty list of
/// resources `INVALID`.
pub async fn sync_to_start(
    db: &DatabaseConnection,
    actor: &Viewer,
    request: SyncRequest,
    mut check: Check,
) -> ServiceResult<SyncToStart> {
    require_role(actor, ADMINS, "triggerSync")?;
    let Some(found) =
        administered(db, actor, &mut check, "id", request.integration_id, false).await?
    else {
        return Err(check.into());
    };
    if !found.enabled {
        check.fail(
            "id",
            UserErrorCode::InvalidState,
            "the integration is disabled",
        );
        return Err(check.into());
    }
    if request.resources.as_ref().is_some_and(Vec::is_empty) {
        check.fail(
            "resources",
            UserErrorCode::Invalid,
            "name at least one resource, or omit `resources` for all",
        );
        return Err(check.into());
    }
    if !check.is_ok() {
        return Err(check.into());
    }
    Ok(SyncToStart {
        integration: found,
        only: request.resources,
        full: request.full,
    })
}

/// Maps a vendor company to an environment the actor may see (or moves its mapping there), for
/// an integration of the actor's organization. Answers the integration.
///
/// # Errors
/// As [`integration_to_test`]; an environment the actor cannot see is `NOT_FOUND`.
pub async fn map_integration_company(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: CompanyMapping,
    mut check: Check,
) -> ServiceResult<integration::Model> {
    require_role(actor, ADMINS, "mapIntegrationCompany")?;
    let write = UnitOfWork::begin(db, events, actor, None, None).await?;
    // Locked: a sync page holds the integration row while it writes under the current mappings.
    let found = administered(
        &write.txn,
        actor,
        &mut check,
        "integrationId",
        input.integration_id,
        true,
    )
    .await?;
    let external = check.text(
        "externalCompanyId",
        &input.external_company_id,
        MAX_EXTERNAL_ID,
    );
    let name = check.optional_text(
        "externalCompanyName",
        input.external_company_name.as_deref(),
        MAX_COMPANY_NAME,
    );
    let environment = visible_environment(
        &write.txn,
        actor,
        &mut check,
        "environmentId",
        input.environment_id,
    )
    .await?;
    let (Some(found), Some(external), Some(name), Some(environment), true) =
        (found, external, name, environment, check.is_ok())
    else {
        return Err(check.into());
    };
    let existing = integration_mapping::Entity::find()
        .filter(integration_mapping::COLUMN.integration_id.eq(found.id))
        .filter(
            integration_mapping::COLUMN
                .external_company_id
                .eq(external.clone()),
        )
        .lock_exclusive()
        .one(&write.txn)
        .await?;
    match existing {
        Some(existing) => {
            let mut model = existing.into_active_model();
            model.environment_id = Set(environment.id);
            if name.is_some() {
                model.external_company_name = Set(name);
            }
            model.updated_at = Set(write.now);
            model.update(&write.txn).await?;
        }
        None => {
            integration_mapping::Model {
                id: Uuid::now_v7(),
                integration_id: found.id,
                external_company_id: external,
                external_company_name: name,
                environment_id: environment.id,
                created_at: write.now,
                updated_at: write.now,
            }
            .into_active_model()
            .insert(&write.txn)
            .await
            .map_err(|error| {
                ServiceError::taken_or(
                    error,
                    "externalCompanyId",
                    "this company was mapped at the same moment by another caller; try again",
                )
            })?;
        }
    }
    // As for a `baseUrl` change: a run in flight stops at its next page.
    revoke_lease(&write.txn, found.id).await?;
    write.commit().await?;
    Ok(found)
}

/// Removes the mapping of a vendor company from an integration of the actor's organization:
/// later runs skip its records. What was synced from it stays (history is never dropped).
/// Answers the integration.
///
/// # Errors
/// As [`integration_to_test`]; a company that is not mapped is `NOT_FOUND` on
/// `externalCompanyId`.
pub async fn unmap_integration_company(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    integration_id: Option<Uuid>,
    external_company_id: &str,
    mut check: Check,
) -> ServiceResult<integration::Model> {
    require_role(actor, ADMINS, "unmapIntegrationCompany")?;
    let write = UnitOfWork::begin(db, events, actor, None, None).await?;
    // Locked, as for mapping: a sync page holds the row while it writes under the mappings.
    let found = administered(
        &write.txn,
        actor,
        &mut check,
        "integrationId",
        integration_id,
        true,
    )
    .await?;
    let external = check.text("externalCompanyId", external_company_id, MAX_EXTERNAL_ID);
    let (Some(found), Some(external), true) = (found, external, check.is_ok()) else {
        return Err(check.into());
    };
    let removed = integration_mapping::Entity::delete_many()
        .filter(integration_mapping::COLUMN.integration_id.eq(found.id))
        .filter(integration_mapping::COLUMN.external_company_id.eq(external))
        .exec(&write.txn)
        .await?;
    if removed.rows_affected == 0 {
        return Err(ServiceError::refused(
            "externalCompanyId",
            UserErrorCode::NotFound,
            "this company is not mapped",
        ));
    }
    revoke_lease(&write.txn, found.id).await?;
    write.commit().await?;
    Ok(found)
}

/// A Tandem team to stand for a vendor assignee in a PSA (two-way sync).
pub struct TeamMapping {
    /// The integration (a PSA of the actor's organization).
    pub integration_id: Option<Uuid>,
    /// A team of the integration's organization.
    pub team_id: Option<Uuid>,
    /// The vendor's board id (ConnectWise), queue id (Autotask), team name (HaloPSA).
    pub group: String,
    /// The vendor's member/resource/agent id, if any.
    pub member: Option<String>,
}

/// Maps a team of the integration's organization to a vendor assignee (or changes its
/// mapping: one per team). Answers the integration.
///
/// # Errors
/// As [`integration_to_test`]; an RMM is `INVALID` on `integrationId`; a team of another
/// organization (or none) is `NOT_FOUND` on `teamId`; an empty or overlong group or member is
/// refused.
pub async fn map_integration_team(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: TeamMapping,
    mut check: Check,
) -> ServiceResult<integration::Model> {
    use entities::psa_team_mapping;
    require_role(actor, ADMINS, "mapIntegrationTeam")?;
    let write = UnitOfWork::begin(db, events, actor, None, None).await?;
    let found = administered(
        &write.txn,
        actor,
        &mut check,
        "integrationId",
        input.integration_id,
        true,
    )
    .await?;
    if let Some(found) = &found
        && !crate::writeback::writes_to(found.kind)
    {
        check.fail(
            "integrationId",
            UserErrorCode::Invalid,
            format!("Tandem writes to PSAs only, not to {:?}", found.kind),
        );
    }
    let group = check.text("group", &input.group, MAX_EXTERNAL_ID);
    let member = check.optional_text("member", input.member.as_deref(), MAX_EXTERNAL_ID);
    if let (Some(found), Some(group), Some(member)) = (&found, &group, &member)
        && let Some((field, message)) =
            crate::writeback::assignee_problem(found.kind, group, member.as_deref())
    {
        check.fail(field, UserErrorCode::Invalid, message);
    }
    let team = match (&found, input.team_id) {
        (Some(found), Some(team_id)) => entities::team::Entity::find_by_id(team_id)
            .one(&write.txn)
            .await?
            .filter(|team| team.organization_id == found.organization_id),
        _ => None,
    };
    if team.is_none() && found.is_some() {
        check.fail(
            "teamId",
            UserErrorCode::NotFound,
            "no team of the integration's organization has this id",
        );
    }
    let (Some(found), Some(team), Some(group), Some(member), true) =
        (found, team, group, member, check.is_ok())
    else {
        return Err(check.into());
    };
    let existing = psa_team_mapping::Entity::find()
        .filter(psa_team_mapping::COLUMN.integration_id.eq(found.id))
        .filter(psa_team_mapping::COLUMN.team_id.eq(team.id))
        .one(&write.txn)
        .await?;
    match existing {
        Some(existing) => {
            let mut model = existing.into_active_model();
            model.vendor_group = Set(group);
            model.vendor_member = Set(member);
            model.updated_at = Set(write.now);
            model.update(&write.txn).await?;
        }
        None => psa_team_mapping::Model {
            id: Uuid::now_v7(),
            integration_id: found.id,
            team_id: team.id,
            vendor_group: group,
            vendor_member: member,
            created_at: write.now,
            updated_at: write.now,
        }
        .into_active_model()
        .insert(&write.txn)
        .await
        .map_err(|error| {
            ServiceError::taken_or(
                error,
                "teamId",
                "this team was mapped at the same moment by another caller; try again",
            )
        })
        .map(drop)?,
    }
    // A run in flight read the mapping when it started: it stops at its next page.
    revoke_lease(&write.txn, found.id).await?;
    write.commit().await?;
    Ok(found)
}

/// Removes a team's mapping from an integration of the actor's organization. Answers the
/// integration.
///
/// # Errors
/// As [`integration_to_test`]; a team that is not mapped is `NOT_FOUND` on `teamId`.
pub async fn unmap_integration_team(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    integration_id: Option<Uuid>,
    team_id: Option<Uuid>,
    mut check: Check,
) -> ServiceResult<integration::Model> {
    use entities::psa_team_mapping;
    require_role(actor, ADMINS, "unmapIntegrationTeam")?;
    let write = UnitOfWork::begin(db, events, actor, None, None).await?;
    let found = administered(
        &write.txn,
        actor,
        &mut check,
        "integrationId",
        integration_id,
        true,
    )
    .await?;
    let (Some(found), Some(team_id), true) = (found, team_id, check.is_ok()) else {
        return Err(check.into());
    };
    let removed = psa_team_mapping::Entity::delete_many()
        .filter(psa_team_mapping::COLUMN.integration_id.eq(found.id))
        .filter(psa_team_mapping::COLUMN.team_id.eq(team_id))
        .exec(&write.txn)
        .await?;
    if removed.rows_affected == 0 {
        return Err(ServiceError::refused(
            "teamId",
            UserErrorCode::NotFound,
            "this team is not mapped",
        ));
    }
    revoke_lease(&write.txn, found.id).await?;
    write.commit().await?;
    Ok(found)
}

/// Revokes the integration's sync lease: a run in flight read the mappings when it started, so
/// it stops at its next page and the next run writes under the new mappings.
async fn revoke_lease(txn: &impl ConnectionTrait, integration_id: Uuid) -> Result<(), DbErr> {
    integration::Entity::update_many()
        .col_expr(
            integration::Column::LeaseOwner,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .col_expr(
            integration::Column::LeaseExpiresAt,
            sea_orm::sea_query::Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .filter(integration::COLUMN.id.eq(integration_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// A company, organization or site as the vendor lists it, with where it is mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorCompany {
    /// The vendor's id.
    pub external_id: String,
    /// The vendor's name.
    pub name: String,
    /// The environment its records go to; `None` when it is not mapped.
    pub environment_id: Option<Uuid>,
}

/// The integration `id` whose vendor companies the actor may list: an admin of its
/// organization. The front door then reads them from the vendor.
///
/// # Errors
/// As [`integration_to_test`].
pub async fn integration_to_list_companies(
    db: &DatabaseConnection,
    actor: &Viewer,
    id: Uuid,
) -> ServiceResult<integration::Model> {
    require_role(actor, ADMINS, "vendorCompanies")?;
    let mut check = Check::default();
    match administered(db, actor, &mut check, "id", Some(id), false).await? {
        Some(found) if check.is_ok() => Ok(found),
        _ => Err(check.into()),
    }
}

/// `companies` as the vendor listed them, each with its mapping state on `integration_id`.
///
/// # Errors
/// Database errors.
pub async fn with_mapping_state(
    db: &impl ConnectionTrait,
    integration_id: Uuid,
    companies: Vec<integrations::model::Company>,
) -> Result<Vec<VendorCompany>, DbErr> {
    let mapped: std::collections::HashMap<String, Uuid> = integration_mapping::Entity::find()
        .filter(
            integration_mapping::COLUMN
                .integration_id
                .eq(integration_id),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|mapping| (mapping.external_company_id, mapping.environment_id))
        .collect();
    Ok(companies
        .into_iter()
        .map(|company| VendorCompany {
            environment_id: mapped.get(&company.external_id).copied(),
            external_id: company.external_id,
            name: company.name,
        })
        .collect())
}

/// Overrides what a vendor status or priority means for an integration of the actor's
/// organization; later lookup refreshes keep it.
///
/// # Errors
/// As [`integration_to_test`]; a status mapping must name a status only, a priority mapping a
/// priority only (`REQUIRED`).
pub async fn set_value_mapping(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: ValueOverride,
    mut check: Check,
) -> ServiceResult<value_mapping::Model> {
    require_role(actor, ADMINS, "setValueMapping")?;
    let write = UnitOfWork::begin(db, events, actor, None, None).await?;
    // Locked, as the sync engine's seeding of value mappings locks it.
    let found = administered(
        &write.txn,
        actor,
        &mut check,
        "integrationId",
        input.integration_id,
        true,
    )
    .await?;
    let external = check.text("externalValue", &input.external_value, MAX_EXTERNAL_ID);
    let normalized = match (input.domain, input.status, input.priority) {
        (ValueMappingDomain::TicketStatus, Some(status), None) => {
            Some(sea_orm::ActiveEnum::to_value(&status))
        }
        (ValueMappingDomain::TicketPriority, None, Some(priority)) => {
            Some(sea_orm::ActiveEnum::to_value(&priority))
        }
        (ValueMappingDomain::TicketStatus, ..) => {
            check.fail(
                "status",
                UserErrorCode::Required,
                "a status mapping names `status` only",
            );
            None
        }
        (ValueMappingDomain::TicketPriority, ..) => {
            check.fail(
                "priority",
                UserErrorCode::Required,
                "a priority mapping names `priority` only",
            );
            None
        }
        (ValueMappingDomain::AlertSeverity | ValueMappingDomain::SystemKind, ..) => {
            check.fail(
                "domain",
                UserErrorCode::Invalid,
                "only ticket statuses and priorities can be overridden",
            );
            None
        }
    };
    let (Some(found), Some(external), Some(normalized), true) =
        (found, external, normalized, check.is_ok())
    else {
        return Err(check.into());
    };
    let existing = value_mapping::Entity::find()
        .filter(value_mapping::COLUMN.integration_id.eq(found.id))
        .filter(value_mapping::COLUMN.domain.eq(input.domain))
        .filter(value_mapping::COLUMN.external_value.eq(external.clone()))
        .lock_exclusive()
        .one(&write.txn)
        .await?;
    let saved = match existing {
        Some(existing) => {
            let mut model = existing.into_active_model();
            model.normalized_value = Set(normalized);
            model.overridden = Set(true);
            model.updated_at = Set(write.now);
            model.update(&write.txn).await?
        }
        None => value_mapping::Model {
            id: Uuid::now_v7(),
            integration_id: found.id,
            domain: input.domain,
            external_value: external,
            external_label: None,
            normalized_value: normalized,
            overridden: true,
            created_at: write.now,
            updated_at: write.now,
        }
        .into_active_model()
        .insert(&write.txn)
        .await
        .map_err(|error| {
            ServiceError::taken_or(
                error,
                "externalValue",
                "this value was mapped at the same moment by another caller; try again",
            )
        })?,
    };
    write.commit().await?;
    Ok(saved)
}

/// Undoes a wrong PSA/RMM match: moves one external link of a system the actor may see to a new
/// system of its own, with the attributes that link's source set; the old system keeps the
/// rest. Answers the new system. Recorded in the change log (category `INVENTORY`).
///
/// # Errors
/// [`crate::services::ServiceError::Forbidden`] for a non-admin;
/// [`crate::services::ServiceError::Refused`] for a system the actor cannot see, a link it does
/// not hold, or its only link (`INVALID_STATE`); database errors.
pub async fn split_system_link(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: LinkSplit,
    mut check: Check,
) -> ServiceResult<system::Model> {
    require_role(actor, ADMINS, "splitSystemLink")?;
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let mut write = UnitOfWork::begin(db, events, actor, reason.clone().flatten(), None).await?;
    let unlocked = match input.system_id {
        Some(id) => system::Entity::find_by_id(id).one(&write.txn).await?,
        None => None,
    };
    // Another tenant's system and a missing one get the same answer, decided before any lock.
    let environment = match &unlocked {
        Some(found) => {
            visible_environment(
                &write.txn,
                actor,
                &mut Check::default(),
                "systemId",
                Some(found.environment_id),
            )
            .await?
        }
        None => None,
    };
    // Locked (`NO KEY UPDATE`) once visible: two splits of the same system's links take turns,
    // so the second sees the first's outcome and never splits off the system's last link.
    let current = match (input.system_id, &environment) {
        (Some(id), Some(_)) => {
            system::Entity::find_by_id(id)
                .lock(sea_orm::sea_query::LockType::NoKeyUpdate)
                .one(&write.txn)
                .await?
        }
        _ => None,
    };
    let environment = match environment {
        Some(environment) => Some(environment),
        None => {
            if input.system_id.is_some() {
                check.fail(
                    "systemId",
                    UserErrorCode::NotFound,
                    "no system with this id",
                );
            }
            None
        }
    };
    // Another tenant's system looks missing: nothing is said about its links.
    let (Some(current), Some(_)) = (current, environment) else {
        return Err(check.into());
    };
    let links = system_link::Entity::find()
        .filter(system_link::COLUMN.system_id.eq(current.id))
        .all(&write.txn)
        .await?;
    let link = links
        .iter()
        .find(|link| {
            link.source == input.source.trim() && link.external_id == input.external_id.trim()
        })
        .cloned();
    if link.is_none() {
        check.fail(
            "externalId",
            UserErrorCode::NotFound,
            "the system has no such link",
        );
    } else if links.len() < 2 {
        check.fail(
            "externalId",
            UserErrorCode::InvalidState,
            "this is the system's only link; there is nothing to split from",
        );
    }
    let (Some(link), Some(_), true) = (link, reason, check.is_ok()) else {
        return Err(check.into());
    };
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
        .record(ChangeNote {
            environment_id: current.environment_id,
            system_ids: vec![current.id, created.id],
            summary: format!(
                "Split {} {} off {} into its own system",
                link.source, link.external_id, current.name
            ),
            details: serde_json::json!({
                "from": current.id.to_string(),
                "to": created.id.to_string(),
                "source": link.source,
                "external_id": link.external_id,
            }),
            category: ChangeCategory::Inventory,
        })
        .await?;
    write.commit().await?;
    Ok(created)
}

/// The integration `id` if the actor's organization owns it; else a `NOT_FOUND` error on
/// `field`, or `FORBIDDEN` when the actor sees it read-only (a client seeing its provider's
/// integration that feeds its environments). `None` too when the id could not be decoded (its
/// error is already in `check`). `lock` locks the row for the rest of the transaction
/// (PostgreSQL).
async fn administered(
    db: &impl ConnectionTrait,
    actor: &Viewer,
    check: &mut Check,
    field: &str,
    id: Option<Uuid>,
    lock: bool,
) -> Result<Option<integration::Model>, ServiceError> {
    let Some(id) = id else { return Ok(None) };
    // The organization is part of the condition, so another tenant's row is never locked.
    let mut select = integration::Entity::find_by_id(id).filter(
        integration::COLUMN
            .organization_id
            .eq(actor.organization.id),
    );
    if lock {
        // `NO KEY UPDATE`: writers of the integration take turns, while a sync page's inserts
        // that reference it are not blocked.
        select = select.lock(sea_orm::sea_query::LockType::NoKeyUpdate);
    }
    // A deleted integration is history: it can be read, never changed.
    let found = select
        .one(db)
        .await?
        .filter(|found| found.deleted_at.is_none());
    if found.is_none() {
        let seen_read_only = match integration::Entity::find_by_id(id).one(db).await? {
            Some(other)
                if !actor.can_see_organization(other.organization_id)
                    && other.deleted_at.is_none() =>
            {
                crate::services::scope::can_see_integration(db, actor, &other).await?
            }
            _ => false,
        };
        if seen_read_only {
            return Err(ServiceError::Forbidden(
                "this integration belongs to the provider that configured it: your organization \
                 sees it read-only"
                    .to_owned(),
            ));
        }
        check.fail(
            field,
            UserErrorCode::NotFound,
            "no integration with this id",
        );
    }
    Ok(found)
}

/// `url` without anything that could be a secret: no user, password, query or fragment. What
/// is shown of a base URL to anyone but its organization's people (packages, read-only
/// viewers), including URLs stored before `check_url` refused those parts.
pub fn public_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.set_fragment(None);
            parsed.to_string()
        }
        Err(_) => "(not a valid URL)".to_owned(),
    }
}

/// An `https` URL (or `http`, when `egress` allows private addresses) with a host that, when
/// it is a literal IP address, `egress` permits, and no user, password, query or fragment (they
/// would be secrets outside the credentials, or break the paths joined to it); without a
/// trailing slash. Else an `INVALID` error on `baseUrl`.
fn check_url(check: &mut Check, egress: Egress, value: &str) -> Option<String> {
    let trimmed = value.trim().trim_end_matches('/');
    if let Ok(url) = url::Url::parse(trimmed)
        && (!url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some())
    {
        check.fail(
            "baseUrl",
            UserErrorCode::Invalid,
            "`baseUrl` is the API root alone: put no user, password, query or fragment in it \
             (credentials go in `credentials`)",
        );
        return None;
    }
    let refusal = match url::Url::parse(trimmed) {
        Ok(url) if matches!(url.scheme(), "https" | "http") => match egress.check_url(&url) {
            Ok(()) => return Some(trimmed.to_owned()),
            Err(refusal) => refusal,
        },
        _ => Refusal::Scheme,
    };
    let message = match refusal {
        Refusal::Scheme if trimmed.starts_with("http:") => {
            "`baseUrl` must be an https URL; plain http is allowed only when the server allows \
             private vendor addresses"
                .to_owned()
        }
        Refusal::Scheme | Refusal::NoHost => {
            "`baseUrl` is an https URL such as https://api-na.myconnectwise.net".to_owned()
        }
        Refusal::Address(ip) => format!(
            "`baseUrl` names {ip}, which is not a public address; vendors are reached only at \
             public addresses unless the server allows private ones"
        ),
    };
    check.fail("baseUrl", UserErrorCode::Invalid, message);
    None
}

/// A JSON object, `{}` when absent; else an `INVALID` error on `field`.
fn check_object(check: &mut Check, field: &str, value: Option<Value>) -> Option<Value> {
    match value {
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

/// Settings: a JSON object (as [`check_object`]) whose settings shared by every connector hold:
/// `syncNotes` a boolean, `noteConcurrency` an integer from 1 to 16 (note requests in flight at
/// once). Else an `INVALID` error on the setting (`settings.noteConcurrency`).
///
/// `writeBack` (two-way sync) is a boolean, and `true` only for a PSA: Tandem writes to no RMM.
fn check_settings(check: &mut Check, kind: IntegrationKind, value: Option<Value>) -> Option<Value> {
    use integrations::connectors::notes::{MAX_NOTE_CONCURRENCY, MIN_NOTE_CONCURRENCY};
    let settings = check_object(check, "settings", value)?;
    let mut valid = true;
    if let Some(found) = settings.get("noteConcurrency")
        && !found
            .as_u64()
            .is_some_and(|count| (MIN_NOTE_CONCURRENCY..=MAX_NOTE_CONCURRENCY).contains(&count))
    {
        check.fail(
            "settings.noteConcurrency",
            UserErrorCode::Invalid,
            format!(
                "`noteConcurrency` is a whole number from {MIN_NOTE_CONCURRENCY} to \
                 {MAX_NOTE_CONCURRENCY} (note requests in flight at once), not {found}"
            ),
        );
        valid = false;
    }
    match settings.get(crate::writeback::SETTING) {
        None | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) if crate::writeback::writes_to(kind) => {}
        Some(Value::Bool(true)) => {
            check.fail(
                "settings.writeBack",
                UserErrorCode::Invalid,
                format!("`writeBack` is for PSAs only: Tandem does not write to {kind:?}"),
            );
            valid = false;
        }
        Some(found) => {
            check.fail(
                "settings.writeBack",
                UserErrorCode::Invalid,
                format!("`writeBack` is true or false, not {found}"),
            );
            valid = false;
        }
    }
    if let Some(found) = settings.get("syncNotes")
        && !found.is_boolean()
    {
        check.fail(
            "settings.syncNotes",
            UserErrorCode::Invalid,
            format!("`syncNotes` is true or false, not {found}"),
        );
        valid = false;
    }
    valid.then_some(settings)
}

/// A schedule: `None` for none (absent or 0), else at least [`MIN_INTERVAL_SECONDS`].
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

/// Whether another integration of `organization_id` than `except` is named `name`.
async fn name_taken(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    name: &str,
    except: Option<Uuid>,
) -> Result<bool, DbErr> {
    Ok(integration::Entity::find()
        .filter(integration::COLUMN.organization_id.eq(organization_id))
        .filter(integration::COLUMN.name.eq(name))
        .filter(integration::COLUMN.deleted_at.is_null())
        .all(db)
        .await?
        .into_iter()
        .any(|found| Some(found.id) != except))
}

/// `credentials` sealed for the integration `id`; else (no key configured) an `INVALID_STATE`
/// error on `credentials`.
fn seal(
    check: &mut Check,
    key: Option<&SecretKey>,
    id: Uuid,
    credentials: &Value,
) -> Option<Vec<u8>> {
    match credentials::seal(key, id, credentials) {
        Ok(sealed) => Some(sealed),
        Err(error) => {
            check.fail(
                "credentials",
                UserErrorCode::InvalidState,
                error.to_string(),
            );
            None
        }
    }
}
