//! The inventory: environments (admins) and the systems in them (members).
//!
//! Lifecycle: an environment is created, updated and archived (once; it keeps its history and
//! leaves the default lists); a system is created, updated and retired (once, likewise).
//! Environment names are unique within their organization. Every change is a change log entry
//! in the same transaction (category `INVENTORY` for what exists, `CONFIGURATION` for how it is
//! set up; an update's entry lists each field before and after), attributed to the actor, with
//! the input's `reason` and `ticketId`; an update that changes nothing writes nothing.
//!
//! The reads that decide run inside the write's transaction: the environment, system or ticket
//! the actor names, whether a name is taken, and the current state of the row being changed,
//! which is locked first (PostgreSQL `FOR NO KEY UPDATE`: two updates of one row take turns,
//! inserts that refer to it do not wait; SQLite's writers already take turns). A name that a
//! concurrent caller took between the check and the write is refused as `TAKEN` all the same.

use entities::enums::{ChangeCategory, ComplianceFramework, OrganizationKind, Role, SystemKind};
use entities::{environment, organization, system};
use sea_orm::prelude::*;
use sea_orm::sea_query::LockType;
use sea_orm::{DatabaseTransaction, IntoActiveModel, QueryFilter, QuerySelect, Set};
use serde_json::{Map, Value, json};

use crate::auth::Viewer;
use crate::events::EventBus;
use crate::services::ServiceError;
use crate::services::change_log::{MAX_REASON, check_details};
use crate::services::scope::{ticket_in, visible_environment};
use crate::services::{
    ChangeNote, Check, ServiceResult, UnitOfWork, UserErrorCode, WRITERS, diff, require_role,
};

/// Longest environment or system name, in characters.
pub const MAX_NAME: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 5_000;
/// Longest identifying field of a system (host name, serial number, ...), in characters.
pub const MAX_FIELD: usize = 255;

const ADMINS: &[Role] = &[Role::Admin];
const ENVIRONMENT_NAME_TAKEN: &str = "the organization already has an environment with this name";

/// A new environment of a client.
pub struct NewEnvironment {
    /// The client organization; `None` when the front door could not decode its id.
    pub organization_id: Option<Uuid>,
    /// Name, unique within the organization.
    pub name: String,
    /// What it covers.
    pub description: Option<String>,
    /// The compliance frameworks it is held to.
    pub compliance_frameworks: Vec<ComplianceFramework>,
    /// Its clock for SLA targets; absent parts take the defaults (`UTC`, 08:00-18:00).
    pub calendar: CalendarChange,
    /// Why it is added.
    pub reason: Option<String>,
}

/// An environment's clock for business-hours SLA targets; absent fields stay as they are.
#[derive(Debug, Default, Clone)]
pub struct CalendarChange {
    /// An IANA time zone name, such as `America/New_York`.
    pub time_zone: Option<String>,
    /// Start of business hours, minutes after local midnight (0-1439).
    pub business_start_minute: Option<i32>,
    /// End of business hours, minutes after local midnight, after the start (1-1440).
    pub business_end_minute: Option<i32>,
}

impl CalendarChange {
    /// `current` (zone, start, end) with this change, or `None` with the problems in `check`.
    fn apply(&self, check: &mut Check, current: (&str, i32, i32)) -> Option<(String, i32, i32)> {
        let zone = match self.time_zone.as_deref().map(str::trim) {
            Some(name) if crate::sla::parse_zone(name).is_none() => {
                check.fail(
                    "timeZone",
                    UserErrorCode::Invalid,
                    "not an IANA time zone name, such as `America/New_York`",
                );
                None
            }
            Some(name) => Some(name.to_owned()),
            None => Some(current.0.to_owned()),
        };
        let start = self.business_start_minute.unwrap_or(current.1);
        let end = self.business_end_minute.unwrap_or(current.2);
        if !(0..1440).contains(&start) {
            check.fail(
                "businessStartMinute",
                UserErrorCode::Invalid,
                "minutes after midnight, 0 to 1439",
            );
        } else if !(1..=1440).contains(&end) || end <= start {
            check.fail(
                "businessEndMinute",
                UserErrorCode::Invalid,
                "minutes after midnight, after the start, at most 1440",
            );
        }
        zone.map(|zone| (zone, start, end))
    }
}

/// Changes to an environment; absent fields stay as they are.
pub struct EnvironmentChange {
    /// The environment; `None` when the front door could not decode its id.
    pub id: Option<Uuid>,
    /// New name.
    pub name: Option<String>,
    /// New description (empty text clears it).
    pub description: Option<String>,
    /// New set of compliance frameworks.
    pub compliance_frameworks: Option<Vec<ComplianceFramework>>,
    /// New clock for SLA targets (due times already set on tickets and alerts stay).
    pub calendar: CalendarChange,
    /// Why.
    pub reason: Option<String>,
    /// The ticket the change is made under, in the same environment.
    pub ticket_id: Option<Uuid>,
}

/// An environment to archive, or a system to retire.
pub struct Removal {
    /// The environment or system; `None` when the front door could not decode its id.
    pub id: Option<Uuid>,
    /// Why.
    pub reason: Option<String>,
    /// The ticket the change is made under, in the same environment.
    pub ticket_id: Option<Uuid>,
}

/// A new system in an environment.
pub struct NewSystem {
    /// The environment; `None` when the front door could not decode its id.
    pub environment_id: Option<Uuid>,
    /// Display name.
    pub name: String,
    /// What kind of system.
    pub kind: SystemKind,
    /// Network host name.
    pub hostname: Option<String>,
    /// Hardware serial number.
    pub serial_number: Option<String>,
    /// Primary MAC address (normalized to `00:1A:2B:3C:4D:5E`).
    pub mac_address: Option<String>,
    /// Operating system and version.
    pub operating_system: Option<String>,
    /// Primary IP address (IPv4 or IPv6).
    pub ip_address: Option<String>,
    /// Free-form description.
    pub description: Option<String>,
    /// Other facts, a JSON object.
    pub attributes: Option<Value>,
    /// Why.
    pub reason: Option<String>,
    /// The ticket the change is made under, in the same environment.
    pub ticket_id: Option<Uuid>,
}

/// Changes to a system; absent fields stay as they are, empty text clears a field.
pub struct SystemChange {
    /// The system; `None` when the front door could not decode its id.
    pub id: Option<Uuid>,
    /// New name.
    pub name: Option<String>,
    /// New kind.
    pub kind: Option<SystemKind>,
    /// New host name.
    pub hostname: Option<String>,
    /// New serial number.
    pub serial_number: Option<String>,
    /// New MAC address.
    pub mac_address: Option<String>,
    /// New operating system.
    pub operating_system: Option<String>,
    /// New IP address.
    pub ip_address: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// Attributes to set (merged into the existing ones; a null value removes one).
    pub attributes: Option<Value>,
    /// Why.
    pub reason: Option<String>,
    /// The ticket the change is made under, in the same environment.
    pub ticket_id: Option<Uuid>,
}

/// Adds an environment to a client organization the actor may see.
///
/// # Errors
/// [`ServiceError::Forbidden`](crate::services::ServiceError::Forbidden) for a non-admin;
/// [`ServiceError::Refused`](crate::services::ServiceError::Refused) for bad text, an
/// organization the actor cannot see or that is not a client, or a name the organization
/// already uses; database errors.
pub async fn create_environment(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: NewEnvironment,
    mut check: Check,
) -> ServiceResult<environment::Model> {
    require_role(actor, ADMINS, "createEnvironment")?;
    let name = check.text("name", &input.name, MAX_NAME);
    let description =
        check.optional_text("description", input.description.as_deref(), MAX_DESCRIPTION);
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let calendar = input.calendar.apply(&mut check, ("UTC", 8 * 60, 18 * 60));
    let mut write = UnitOfWork::begin(db, events, actor, reason.clone().flatten(), None).await?;
    // The organization is locked: its environment names are decided one write at a time.
    let organization = match input.organization_id {
        Some(id) if actor.can_see_organization(id) => {
            organization::Entity::find_by_id(id)
                .lock(LockType::NoKeyUpdate)
                .one(&write.txn)
                .await?
        }
        _ => None,
    };
    match &organization {
        None if input.organization_id.is_some() => check.fail(
            "organizationId",
            UserErrorCode::NotFound,
            "no organization with this id",
        ),
        None => {}
        Some(organization) if organization.kind != OrganizationKind::Client => {
            check.fail(
                "organizationId",
                UserErrorCode::Invalid,
                "environments belong to client organizations",
            );
        }
        Some(organization) => {
            if let Some(name) = &name
                && environment_name_taken(&write.txn, organization.id, name, None).await?
            {
                check.fail("name", UserErrorCode::Taken, ENVIRONMENT_NAME_TAKEN);
            }
        }
    }
    let (Some(name), Some(description), Some(_), Some(organization), Some(calendar), true) = (
        name,
        description,
        reason,
        organization,
        calendar,
        check.is_ok(),
    ) else {
        return Err(check.into());
    };
    let environment = environment::Model {
        id: Uuid::now_v7(),
        organization_id: organization.id,
        name,
        description,
        compliance_frameworks: frameworks_json(&input.compliance_frameworks),
        archived_at: None,
        time_zone: calendar.0,
        business_start_minute: calendar.1,
        business_end_minute: calendar.2,
        created_at: write.now,
        updated_at: write.now,
    }
    .into_active_model()
    .insert(&write.txn)
    .await
    .map_err(|error| ServiceError::taken_or(error, "name", ENVIRONMENT_NAME_TAKEN))?;
    if !input.compliance_frameworks.is_empty() {
        // Its frameworks require functions nobody owns yet: those gaps open with it.
        write.watch_new_environment(environment.id);
    }
    write
        .record(ChangeNote {
            environment_id: environment.id,
            system_ids: Vec::new(),
            summary: format!("Created environment {}", environment.name),
            details: json!({ "environment": { "name": environment.name, "compliance_frameworks": environment.compliance_frameworks } }),
            category: ChangeCategory::Inventory,
        })
        .await?;
    write.commit().await?;
    Ok(environment)
}

/// Changes an environment's name, description or frameworks; the change log entry lists each
/// field before and after.
///
/// # Errors
/// As [`create_environment`]; an environment the actor cannot see, or a ticket outside it, is
/// `NOT_FOUND`.
pub async fn update_environment(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: EnvironmentChange,
    mut check: Check,
) -> ServiceResult<environment::Model> {
    require_role(actor, ADMINS, "updateEnvironment")?;
    let mut write = UnitOfWork::begin(db, events, actor, None, None).await?;
    let Some(current) = locked_environment(&write.txn, actor, &mut check, input.id).await? else {
        return Err(check.into());
    };
    let name = input
        .name
        .as_deref()
        .map(|name| check.text("name", name, MAX_NAME));
    let description = input
        .description
        .as_deref()
        .map(|text| check.optional_text("description", Some(text), MAX_DESCRIPTION));
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let calendar = input.calendar.apply(
        &mut check,
        (
            &current.time_zone,
            current.business_start_minute,
            current.business_end_minute,
        ),
    );
    if let Some(Some(name)) = &name
        && environment_name_taken(&write.txn, current.organization_id, name, Some(current.id))
            .await?
    {
        check.fail("name", UserErrorCode::Taken, ENVIRONMENT_NAME_TAKEN);
    }
    ticket_in(
        &write.txn,
        &mut check,
        "ticketId",
        current.id,
        input.ticket_id,
    )
    .await?;
    let (Some(reason), true) = (reason, check.is_ok()) else {
        return Err(check.into());
    };
    let mut changes = Map::new();
    let mut model = current.clone().into_active_model();
    if let Some(Some(name)) = name {
        diff(&mut changes, "name", current.name.clone(), name.clone());
        model.name = Set(name);
    }
    if let Some(Some(description)) = description {
        diff(
            &mut changes,
            "description",
            current.description.clone(),
            description.clone(),
        );
        model.description = Set(description);
    }
    if let Some(frameworks) = &input.compliance_frameworks {
        let frameworks = frameworks_json(frameworks);
        if frameworks != current.compliance_frameworks {
            // Other frameworks require other functions: their gaps are announced.
            write.watch_gaps(&current).await?;
        }
        diff(
            &mut changes,
            "compliance_frameworks",
            current.compliance_frameworks.clone(),
            frameworks.clone(),
        );
        model.compliance_frameworks = Set(frameworks);
    }
    if let Some((zone, start, end)) = calendar {
        diff(
            &mut changes,
            "time_zone",
            current.time_zone.clone(),
            zone.clone(),
        );
        diff(
            &mut changes,
            "business_start_minute",
            current.business_start_minute,
            start,
        );
        diff(
            &mut changes,
            "business_end_minute",
            current.business_end_minute,
            end,
        );
        model.time_zone = Set(zone);
        model.business_start_minute = Set(start);
        model.business_end_minute = Set(end);
    }
    if changes.is_empty() {
        // Nothing changes, so nothing is written (the transaction rolls back).
        return Ok(current);
    }
    write.reason = reason;
    write.ticket_id = input.ticket_id;
    model.updated_at = Set(write.now);
    let updated = model
        .update(&write.txn)
        .await
        .map_err(|error| ServiceError::taken_or(error, "name", ENVIRONMENT_NAME_TAKEN))?;
    write
        .record(ChangeNote {
            environment_id: updated.id,
            system_ids: Vec::new(),
            summary: format!("Updated environment {}", updated.name),
            details: json!({ "changes": changes }),
            category: ChangeCategory::Configuration,
        })
        .await?;
    write.commit().await?;
    Ok(updated)
}

/// Archives an environment; its history stays. An archived environment cannot be archived
/// again.
///
/// # Errors
/// As [`update_environment`]; an archived environment is `INVALID_STATE`.
pub async fn archive_environment(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: Removal,
    mut check: Check,
) -> ServiceResult<environment::Model> {
    require_role(actor, ADMINS, "archiveEnvironment")?;
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let mut write =
        UnitOfWork::begin(db, events, actor, reason.clone().flatten(), input.ticket_id).await?;
    let Some(current) = locked_environment(&write.txn, actor, &mut check, input.id).await? else {
        return Err(check.into());
    };
    if current.archived_at.is_some() {
        check.fail(
            "id",
            UserErrorCode::InvalidState,
            "the environment is already archived",
        );
    }
    ticket_in(
        &write.txn,
        &mut check,
        "ticketId",
        current.id,
        input.ticket_id,
    )
    .await?;
    let (Some(_), true) = (reason, check.is_ok()) else {
        return Err(check.into());
    };
    let mut model = current.into_active_model();
    model.archived_at = Set(Some(write.now));
    model.updated_at = Set(write.now);
    let archived = model.update(&write.txn).await?;
    write
        .record(ChangeNote {
            environment_id: archived.id,
            system_ids: Vec::new(),
            summary: format!("Archived environment {}", archived.name),
            details: json!({}),
            category: ChangeCategory::Inventory,
        })
        .await?;
    write.commit().await?;
    Ok(archived)
}

/// Adds a system to an environment the actor may see.
///
/// # Errors
/// [`ServiceError::Forbidden`](crate::services::ServiceError::Forbidden) for a role that may not
/// write; [`ServiceError::Refused`](crate::services::ServiceError::Refused) for bad text, a bad
/// MAC or IP address, attributes that are not a JSON object, or an environment or ticket the
/// actor cannot name; database errors.
pub async fn create_system(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: NewSystem,
    mut check: Check,
) -> ServiceResult<system::Model> {
    require_role(actor, WRITERS, "createSystem")?;
    let name = check.text("name", &input.name, MAX_NAME);
    let fields = SystemFields::check(
        &mut check,
        input.hostname.as_deref(),
        input.serial_number.as_deref(),
        input.mac_address.as_deref(),
        input.operating_system.as_deref(),
        input.ip_address.as_deref(),
        input.description.as_deref(),
    );
    let attributes = check_details(&mut check, "attributes", input.attributes);
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let mut write =
        UnitOfWork::begin(db, events, actor, reason.clone().flatten(), input.ticket_id).await?;
    let environment = visible_environment(
        &write.txn,
        actor,
        &mut check,
        "environmentId",
        input.environment_id,
    )
    .await?;
    if let Some(environment) = &environment {
        ticket_in(
            &write.txn,
            &mut check,
            "ticketId",
            environment.id,
            input.ticket_id,
        )
        .await?;
    }
    let (
        Some(name),
        Some(attributes),
        Some(_),
        Some(environment),
        SystemFields {
            hostname: Some(hostname),
            serial_number: Some(serial_number),
            mac_address: Some(mac_address),
            operating_system: Some(operating_system),
            ip_address: Some(ip_address),
            description: Some(description),
        },
        true,
    ) = (name, attributes, reason, environment, fields, check.is_ok())
    else {
        return Err(check.into());
    };
    // Which source set each identifying field: the API, for now; a sync may later take over.
    let sources: Map<String, Value> = [
        ("hostname", hostname.is_some()),
        ("serial_number", serial_number.is_some()),
        ("mac_address", mac_address.is_some()),
        ("operating_system", operating_system.is_some()),
        ("ip_address", ip_address.is_some()),
    ]
    .into_iter()
    .filter(|(_, set)| *set)
    .map(|(field, _)| (field.to_owned(), json!("API")))
    .collect();
    // A new system may be one nobody backs up: its gaps are announced.
    write.watch_gaps(&environment).await?;
    let created = system::Model {
        id: Uuid::now_v7(),
        environment_id: environment.id,
        name,
        kind: input.kind,
        hostname,
        serial_number,
        mac_address,
        operating_system,
        ip_address,
        description,
        attributes,
        attribute_sources: Value::Object(sources),
        retired_at: None,
        created_at: write.now,
        updated_at: write.now,
    }
    .into_active_model()
    .insert(&write.txn)
    .await?;
    write
        .record(ChangeNote {
            environment_id: environment.id,
            system_ids: vec![created.id],
            summary: format!("Added system {}", created.name),
            details: json!({ "system": { "name": created.name, "kind": created.kind } }),
            category: ChangeCategory::Inventory,
        })
        .await?;
    write.commit().await?;
    Ok(created)
}

/// Changes a system; the change log entry lists every field before and after, and each
/// identifying field the API changes is marked as set by the API.
///
/// # Errors
/// As [`create_system`]; a system the actor cannot see is `NOT_FOUND`.
pub async fn update_system(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: SystemChange,
    mut check: Check,
) -> ServiceResult<system::Model> {
    require_role(actor, WRITERS, "updateSystem")?;
    let mut write = UnitOfWork::begin(db, events, actor, None, None).await?;
    let Some((current, environment)) =
        locked_system(&write.txn, actor, &mut check, input.id).await?
    else {
        return Err(check.into());
    };
    let name = input
        .name
        .as_deref()
        .map(|name| check.text("name", name, MAX_NAME));
    let fields = SystemFields::check(
        &mut check,
        input.hostname.as_deref(),
        input.serial_number.as_deref(),
        input.mac_address.as_deref(),
        input.operating_system.as_deref(),
        input.ip_address.as_deref(),
        input.description.as_deref(),
    );
    let attributes = match input.attributes {
        Some(attributes) => check_details(&mut check, "attributes", Some(attributes)).map(Some),
        None => Some(None),
    };
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    ticket_in(
        &write.txn,
        &mut check,
        "ticketId",
        environment.id,
        input.ticket_id,
    )
    .await?;
    let (Some(reason), Some(attributes), true) = (reason, attributes, check.is_ok()) else {
        return Err(check.into());
    };

    let mut changes = Map::new();
    let mut sources = current
        .attribute_sources
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut model = current.clone().into_active_model();
    if let Some(Some(name)) = name {
        diff(&mut changes, "name", current.name.clone(), name.clone());
        model.name = Set(name);
    }
    if let Some(kind) = input.kind {
        if kind != current.kind {
            // Other functions apply to another kind: its gaps are announced.
            write.watch_gaps(&environment).await?;
        }
        diff(&mut changes, "kind", json!(current.kind), json!(kind));
        model.kind = Set(kind);
    }
    macro_rules! optional_field {
        ($field:ident, $name:literal) => {
            // Only fields given in the input change; the check above left `Some(...)` for them.
            if input.$field.is_some()
                && let Some(value) = fields.$field.clone()
            {
                if current.$field != value {
                    diff(&mut changes, $name, current.$field.clone(), value.clone());
                    sources.insert($name.to_owned(), json!("API"));
                }
                model.$field = Set(value);
            }
        };
    }
    optional_field!(hostname, "hostname");
    optional_field!(serial_number, "serial_number");
    optional_field!(mac_address, "mac_address");
    optional_field!(operating_system, "operating_system");
    optional_field!(ip_address, "ip_address");
    optional_field!(description, "description");
    if let Some(Value::Object(update)) = attributes {
        let mut merged = current.attributes.as_object().cloned().unwrap_or_default();
        for (key, value) in update {
            if value.is_null() {
                merged.remove(&key);
            } else {
                merged.insert(key, value);
            }
        }
        let merged = Value::Object(merged);
        diff(
            &mut changes,
            "attributes",
            current.attributes.clone(),
            merged.clone(),
        );
        model.attributes = Set(merged);
    }
    if changes.is_empty() {
        // Nothing changes, so nothing is written (the transaction rolls back).
        return Ok(current);
    }
    write.reason = reason;
    write.ticket_id = input.ticket_id;
    model.attribute_sources = Set(Value::Object(sources));
    model.updated_at = Set(write.now);
    let updated = model.update(&write.txn).await?;
    let fields_changed: Vec<&str> = changes.keys().map(String::as_str).collect();
    write
        .record(ChangeNote {
            environment_id: environment.id,
            system_ids: vec![updated.id],
            summary: format!(
                "Updated {} on system {}",
                fields_changed.join(", "),
                updated.name
            ),
            details: json!({ "changes": changes }),
            category: ChangeCategory::Configuration,
        })
        .await?;
    write.commit().await?;
    Ok(updated)
}

/// Retires a system; its history stays. A retired system cannot be retired again.
///
/// # Errors
/// As [`update_system`]; a retired system is `INVALID_STATE`.
pub async fn retire_system(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: Removal,
    mut check: Check,
) -> ServiceResult<system::Model> {
    require_role(actor, WRITERS, "retireSystem")?;
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let mut write =
        UnitOfWork::begin(db, events, actor, reason.clone().flatten(), input.ticket_id).await?;
    let Some((current, environment)) =
        locked_system(&write.txn, actor, &mut check, input.id).await?
    else {
        return Err(check.into());
    };
    ticket_in(
        &write.txn,
        &mut check,
        "ticketId",
        environment.id,
        input.ticket_id,
    )
    .await?;
    if current.retired_at.is_some() {
        check.fail(
            "id",
            UserErrorCode::InvalidState,
            "the system is already retired",
        );
    }
    let (Some(_), true) = (reason, check.is_ok()) else {
        return Err(check.into());
    };
    write.watch_gaps(&environment).await?;
    let mut model = current.into_active_model();
    model.retired_at = Set(Some(write.now));
    model.updated_at = Set(write.now);
    let retired = model.update(&write.txn).await?;
    write
        .record(ChangeNote {
            environment_id: environment.id,
            system_ids: vec![retired.id],
            summary: format!("Retired system {}", retired.name),
            details: json!({}),
            category: ChangeCategory::Inventory,
        })
        .await?;
    write.commit().await?;
    Ok(retired)
}

/// The frameworks as stored: sorted, each once.
fn frameworks_json(frameworks: &[ComplianceFramework]) -> Value {
    let mut stored = frameworks.to_vec();
    stored.sort();
    stored.dedup();
    json!(stored)
}

async fn environment_name_taken(
    txn: &DatabaseTransaction,
    organization_id: Uuid,
    name: &str,
    except: Option<Uuid>,
) -> Result<bool, DbErr> {
    let mut select = environment::Entity::find()
        .filter(environment::COLUMN.organization_id.eq(organization_id))
        .filter(environment::COLUMN.name.eq(name));
    if let Some(except) = except {
        select = select.filter(environment::COLUMN.id.ne(except));
    }
    Ok(select.one(txn).await?.is_some())
}

/// The environment `id` if the actor may see it (else a `NOT_FOUND` user error on `id`), locked
/// for the rest of the transaction and read again: its state decides the write.
async fn locked_environment(
    txn: &DatabaseTransaction,
    actor: &Viewer,
    check: &mut Check,
    id: Option<Uuid>,
) -> Result<Option<environment::Model>, DbErr> {
    // Visibility first, so no other tenant's row is ever locked.
    let Some(found) = visible_environment(txn, actor, check, "id", id).await? else {
        return Ok(None);
    };
    environment::Entity::find_by_id(found.id)
        .lock(LockType::NoKeyUpdate)
        .one(txn)
        .await
}

/// The system `id` and its environment if the actor may see them (else a `NOT_FOUND` user error
/// on `id`), the system locked for the rest of the transaction and read again.
async fn locked_system(
    txn: &DatabaseTransaction,
    actor: &Viewer,
    check: &mut Check,
    id: Option<Uuid>,
) -> Result<Option<(system::Model, environment::Model)>, DbErr> {
    let Some(id) = id else { return Ok(None) };
    let found = system::Entity::find_by_id(id).one(txn).await?;
    let environment = match &found {
        // The environment's own NOT_FOUND would name the wrong object; the system's is below.
        Some(found) => {
            visible_environment(
                txn,
                actor,
                &mut Check::default(),
                "id",
                Some(found.environment_id),
            )
            .await?
        }
        None => None,
    };
    let locked = match environment {
        Some(environment) => system::Entity::find_by_id(id)
            .lock(LockType::NoKeyUpdate)
            .one(txn)
            .await?
            .map(|locked| (locked, environment)),
        None => None,
    };
    if locked.is_none() {
        check.fail("id", UserErrorCode::NotFound, "no system with this id");
    }
    Ok(locked)
}

/// The optional identifying fields of a system, checked; MAC addresses normalized.
struct SystemFields {
    hostname: Option<Option<String>>,
    serial_number: Option<Option<String>>,
    mac_address: Option<Option<String>>,
    operating_system: Option<Option<String>>,
    ip_address: Option<Option<String>>,
    description: Option<Option<String>>,
}

impl SystemFields {
    /// Each field: `None` when invalid (an error was recorded), `Some(None)` to clear.
    fn check(
        check: &mut Check,
        hostname: Option<&str>,
        serial_number: Option<&str>,
        mac_address: Option<&str>,
        operating_system: Option<&str>,
        ip_address: Option<&str>,
        description: Option<&str>,
    ) -> Self {
        let mac_address = check
            .optional_text("macAddress", mac_address, MAX_FIELD)
            .map(|mac| {
                mac.and_then(|mac| {
                    let hex: String = mac.chars().filter(char::is_ascii_hexdigit).collect();
                    let separators_only = mac
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '-' | '.'));
                    if hex.len() == 12 && separators_only {
                        Some(
                            hex.as_bytes()
                                .chunks(2)
                                .map(|pair| String::from_utf8_lossy(pair).to_uppercase())
                                .collect::<Vec<_>>()
                                .join(":"),
                        )
                    } else {
                        check.fail(
                            "macAddress",
                            UserErrorCode::Invalid,
                            format!("`{mac}` is not a MAC address like 00:1A:2B:3C:4D:5E"),
                        );
                        None
                    }
                })
            });
        let ip_address = check
            .optional_text("ipAddress", ip_address, MAX_FIELD)
            .map(|ip| {
                ip.filter(|ip| {
                    let valid = ip.parse::<std::net::IpAddr>().is_ok();
                    if !valid {
                        check.fail(
                            "ipAddress",
                            UserErrorCode::Invalid,
                            format!("`{ip}` is not an IPv4 or IPv6 address"),
                        );
                    }
                    valid
                })
            });
        Self {
            hostname: check.optional_text("hostname", hostname, MAX_FIELD),
            serial_number: check.optional_text("serialNumber", serial_number, MAX_FIELD),
            mac_address,
            operating_system: check.optional_text("operatingSystem", operating_system, MAX_FIELD),
            ip_address,
            description: check.optional_text("description", description, MAX_DESCRIPTION),
        }
    }
}
