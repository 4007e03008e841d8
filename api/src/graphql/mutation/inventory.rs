//! Environments (admins) and systems (members): create, update, archive or retire.

use async_graphql::{Context, ID, InputObject, Object, Result, ResultExt};
use entities::enums::{ChangeCategory, OrganizationKind, Role};
use entities::{environment, organization, system};
use sea_orm::prelude::*;
use sea_orm::{IntoActiveModel, QueryFilter, Set};
use serde_json::{Map, Value, json};

use crate::error::ApiResult;
use crate::graphql::context::ContextExt;
use crate::graphql::mutation::change_log::{MAX_REASON, check_details};
use crate::graphql::mutation::{
    ChangeNote, Check, CheckIds, UserErrorCode, WRITERS, diff, payload, require_role, ticket_in,
    visible_environment,
};
use crate::graphql::scalars::Json;
use crate::graphql::types::enums::{ComplianceFramework, SystemKind};
use crate::graphql::types::{Environment, System};
use crate::ids::NodeType;

const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 5_000;
const MAX_FIELD: usize = 255;

/// Writing environments and systems.
#[derive(Default)]
pub struct InventoryMutation;

/// A new environment of a client.
#[derive(InputObject)]
pub struct CreateEnvironmentInput {
    /// The client organization that owns it.
    pub organization_id: ID,
    /// Name, unique within the organization (at most 200 characters).
    pub name: String,
    /// What it covers.
    pub description: Option<String>,
    /// The compliance frameworks it is held to.
    #[graphql(default)]
    pub compliance_frameworks: Vec<ComplianceFramework>,
    /// Why it is added (goes to the change log).
    pub reason: Option<String>,
}

/// Changes to an environment; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateEnvironmentInput {
    /// The environment.
    pub id: ID,
    /// New name.
    pub name: Option<String>,
    /// New description (empty text clears it).
    pub description: Option<String>,
    /// New set of compliance frameworks.
    pub compliance_frameworks: Option<Vec<ComplianceFramework>>,
    /// Why (goes to the change log).
    pub reason: Option<String>,
    /// The ticket the change is made under, in the same environment.
    pub ticket_id: Option<ID>,
}

/// Archiving an environment: it keeps its history and leaves the default lists.
#[derive(InputObject)]
pub struct ArchiveEnvironmentInput {
    /// The environment.
    pub id: ID,
    /// Why (goes to the change log).
    pub reason: Option<String>,
    /// The ticket the change is made under, in the same environment.
    pub ticket_id: Option<ID>,
}

/// A new system in an environment.
#[derive(InputObject)]
pub struct CreateSystemInput {
    /// The environment it is in.
    pub environment_id: ID,
    /// Display name (at most 200 characters).
    pub name: String,
    /// What kind of system.
    pub kind: SystemKind,
    /// Network host name.
    pub hostname: Option<String>,
    /// Hardware serial number.
    pub serial_number: Option<String>,
    /// Primary MAC address, such as `00:1A:2B:3C:4D:5E`.
    pub mac_address: Option<String>,
    /// Operating system and version.
    pub operating_system: Option<String>,
    /// Primary IP address (IPv4 or IPv6).
    pub ip_address: Option<String>,
    /// Free-form description.
    pub description: Option<String>,
    /// Other facts, a JSON object.
    pub attributes: Option<Json>,
    /// Why (goes to the change log).
    pub reason: Option<String>,
    /// The ticket the change is made under.
    pub ticket_id: Option<ID>,
}

/// Changes to a system; omitted fields stay as they are, empty text clears a field.
#[derive(InputObject)]
pub struct UpdateSystemInput {
    /// The system.
    pub id: ID,
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
    pub attributes: Option<Json>,
    /// Why (goes to the change log).
    pub reason: Option<String>,
    /// The ticket the change is made under.
    pub ticket_id: Option<ID>,
}

/// Retiring a system: it keeps its history and leaves the default lists.
#[derive(InputObject)]
pub struct RetireSystemInput {
    /// The system.
    pub id: ID,
    /// Why (goes to the change log).
    pub reason: Option<String>,
    /// The ticket the change is made under.
    pub ticket_id: Option<ID>,
}

payload! {
    /// The result of an environment mutation.
    EnvironmentPayload {
        /// The environment as it is now.
        environment: Environment
    }
}

payload! {
    /// The result of a system mutation.
    SystemPayload {
        /// The system as it is now.
        system: System
    }
}

#[Object]
impl InventoryMutation {
    /// Adds an environment to a client organization (admins).
    async fn create_environment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: CreateEnvironmentInput,
    ) -> Result<EnvironmentPayload> {
        create_environment(ctx, input).await.extend()
    }

    /// Changes an environment's name, description or frameworks (admins).
    async fn update_environment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: UpdateEnvironmentInput,
    ) -> Result<EnvironmentPayload> {
        update_environment(ctx, input).await.extend()
    }

    /// Archives an environment (admins). Its history stays.
    async fn archive_environment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: ArchiveEnvironmentInput,
    ) -> Result<EnvironmentPayload> {
        archive_environment(ctx, input).await.extend()
    }

    /// Adds a system to an environment.
    async fn create_system(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: CreateSystemInput,
    ) -> Result<SystemPayload> {
        create_system(ctx, input).await.extend()
    }

    /// Changes a system; the change log entry lists every field before and after.
    async fn update_system(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: UpdateSystemInput,
    ) -> Result<SystemPayload> {
        update_system(ctx, input).await.extend()
    }

    /// Retires a system. Its history stays.
    async fn retire_system(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: RetireSystemInput,
    ) -> Result<SystemPayload> {
        retire_system(ctx, input).await.extend()
    }
}

fn frameworks_json(frameworks: &[ComplianceFramework]) -> Value {
    let mut stored: Vec<entities::enums::ComplianceFramework> =
        frameworks.iter().copied().map(Into::into).collect();
    stored.sort();
    stored.dedup();
    json!(stored)
}

async fn name_taken(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    name: &str,
    except: Option<Uuid>,
) -> ApiResult<bool> {
    let mut select = environment::Entity::find()
        .filter(environment::COLUMN.organization_id.eq(organization_id))
        .filter(environment::COLUMN.name.eq(name));
    if let Some(except) = except {
        select = select.filter(environment::COLUMN.id.ne(except));
    }
    Ok(select.one(db).await?.is_some())
}

async fn create_environment(
    ctx: &Context<'_>,
    input: CreateEnvironmentInput,
) -> ApiResult<EnvironmentPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, &[Role::Admin], "createEnvironment")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let name = check.text("name", &input.name, MAX_NAME);
    let description =
        check.optional_text("description", input.description.as_deref(), MAX_DESCRIPTION);
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let organization = match check.id(
        "organizationId",
        NodeType::Organization,
        &input.organization_id,
    ) {
        Some(id) if viewer.can_see_organization(id) => {
            organization::Entity::find_by_id(id).one(db).await?
        }
        _ => None,
    };
    match &organization {
        None => check.fail(
            "organizationId",
            UserErrorCode::NotFound,
            "no organization with this id",
        ),
        Some(organization) if organization.kind != OrganizationKind::Client => {
            check.fail(
                "organizationId",
                UserErrorCode::Invalid,
                "environments belong to client organizations",
            );
        }
        Some(organization) => {
            if let Some(name) = &name
                && name_taken(db, organization.id, name, None).await?
            {
                check.fail(
                    "name",
                    UserErrorCode::Taken,
                    "the organization already has an environment with this name",
                );
            }
        }
    }
    let (Some(name), Some(description), Some(reason), Some(organization), true) =
        (name, description, reason, organization, check.is_ok())
    else {
        return Ok(EnvironmentPayload::refused(check.into_errors()));
    };
    let mut write = crate::graphql::mutation::begin(ctx, viewer, reason, None).await?;
    let environment = environment::Model {
        id: Uuid::now_v7(),
        organization_id: organization.id,
        name,
        description,
        compliance_frameworks: frameworks_json(&input.compliance_frameworks),
        archived_at: None,
        created_at: write.now,
        updated_at: write.now,
    }
    .into_active_model()
    .insert(&write.txn)
    .await?;
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
    Ok(EnvironmentPayload::done(Environment(environment)))
}

async fn update_environment(
    ctx: &Context<'_>,
    input: UpdateEnvironmentInput,
) -> ApiResult<EnvironmentPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, &[Role::Admin], "updateEnvironment")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let id = check.id("id", NodeType::Environment, &input.id);
    let Some(current) = visible_environment(db, viewer, &mut check, "id", id).await? else {
        return Ok(EnvironmentPayload::refused(check.into_errors()));
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
    if let Some(Some(name)) = &name
        && name_taken(db, current.organization_id, name, Some(current.id)).await?
    {
        check.fail(
            "name",
            UserErrorCode::Taken,
            "the organization already has an environment with this name",
        );
    }
    let ticket_id = input
        .ticket_id
        .as_ref()
        .and_then(|id| check.id("ticketId", NodeType::Ticket, id));
    ticket_in(db, &mut check, "ticketId", current.id, ticket_id).await?;
    if !check.is_ok() {
        return Ok(EnvironmentPayload::refused(check.into_errors()));
    }
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
        diff(
            &mut changes,
            "compliance_frameworks",
            current.compliance_frameworks.clone(),
            frameworks.clone(),
        );
        model.compliance_frameworks = Set(frameworks);
    }
    if changes.is_empty() {
        return Ok(EnvironmentPayload::done(Environment(current)));
    }
    let mut write =
        crate::graphql::mutation::begin(ctx, viewer, reason.flatten(), ticket_id).await?;
    model.updated_at = Set(write.now);
    let updated = model.update(&write.txn).await?;
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
    Ok(EnvironmentPayload::done(Environment(updated)))
}

async fn archive_environment(
    ctx: &Context<'_>,
    input: ArchiveEnvironmentInput,
) -> ApiResult<EnvironmentPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, &[Role::Admin], "archiveEnvironment")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let id = check.id("id", NodeType::Environment, &input.id);
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let Some(current) = visible_environment(db, viewer, &mut check, "id", id).await? else {
        return Ok(EnvironmentPayload::refused(check.into_errors()));
    };
    if current.archived_at.is_some() {
        check.fail(
            "id",
            UserErrorCode::InvalidState,
            "the environment is already archived",
        );
    }
    let ticket_id = input
        .ticket_id
        .as_ref()
        .and_then(|id| check.id("ticketId", NodeType::Ticket, id));
    ticket_in(db, &mut check, "ticketId", current.id, ticket_id).await?;
    let (Some(reason), true) = (reason, check.is_ok()) else {
        return Ok(EnvironmentPayload::refused(check.into_errors()));
    };
    let mut write = crate::graphql::mutation::begin(ctx, viewer, reason, ticket_id).await?;
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
    Ok(EnvironmentPayload::done(Environment(archived)))
}

/// Checks the optional identifying fields of a system, normalizing MAC addresses.
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
    #[allow(clippy::too_many_arguments)]
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

async fn visible_system(
    db: &impl ConnectionTrait,
    viewer: &crate::auth::Viewer,
    check: &mut Check,
    id: &ID,
) -> ApiResult<Option<(system::Model, environment::Model)>> {
    let Some(id) = check.id("id", NodeType::System, id) else {
        return Ok(None);
    };
    let Some(found) = system::Entity::find_by_id(id).one(db).await? else {
        check.fail("id", UserErrorCode::NotFound, "no system with this id");
        return Ok(None);
    };
    let mut silent = Check::default();
    match visible_environment(db, viewer, &mut silent, "id", Some(found.environment_id)).await? {
        Some(environment) => Ok(Some((found, environment))),
        None => {
            check.fail("id", UserErrorCode::NotFound, "no system with this id");
            Ok(None)
        }
    }
}

async fn create_system(ctx: &Context<'_>, input: CreateSystemInput) -> ApiResult<SystemPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, WRITERS, "createSystem")?;
    let db = ctx.db()?;
    let mut check = Check::default();
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
    let environment_id = check.id(
        "environmentId",
        NodeType::Environment,
        &input.environment_id,
    );
    let ticket_id = input
        .ticket_id
        .as_ref()
        .and_then(|id| check.id("ticketId", NodeType::Ticket, id));
    let environment =
        visible_environment(db, viewer, &mut check, "environmentId", environment_id).await?;
    if let Some(environment) = &environment {
        ticket_in(db, &mut check, "ticketId", environment.id, ticket_id).await?;
    }
    let (Some(name), Some(attributes), Some(reason), Some(environment)) =
        (name, attributes, reason, environment)
    else {
        return Ok(SystemPayload::refused(check.into_errors()));
    };
    let SystemFields {
        hostname: Some(hostname),
        serial_number: Some(serial_number),
        mac_address: Some(mac_address),
        operating_system: Some(operating_system),
        ip_address: Some(ip_address),
        description: Some(description),
    } = fields
    else {
        return Ok(SystemPayload::refused(check.into_errors()));
    };
    if !check.is_ok() {
        return Ok(SystemPayload::refused(check.into_errors()));
    }
    let mut write = crate::graphql::mutation::begin(ctx, viewer, reason, ticket_id).await?;
    let source = json!("API");
    let sources: Map<String, Value> = [
        ("hostname", hostname.is_some()),
        ("serial_number", serial_number.is_some()),
        ("mac_address", mac_address.is_some()),
        ("operating_system", operating_system.is_some()),
        ("ip_address", ip_address.is_some()),
    ]
    .into_iter()
    .filter(|(_, set)| *set)
    .map(|(field, _)| (field.to_owned(), source.clone()))
    .collect();
    let created = system::Model {
        id: Uuid::now_v7(),
        environment_id: environment.id,
        name,
        kind: input.kind.into(),
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
    Ok(SystemPayload::done(System(created)))
}

async fn update_system(ctx: &Context<'_>, input: UpdateSystemInput) -> ApiResult<SystemPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, WRITERS, "updateSystem")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let Some((current, environment)) = visible_system(db, viewer, &mut check, &input.id).await?
    else {
        return Ok(SystemPayload::refused(check.into_errors()));
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
    let ticket_id = input
        .ticket_id
        .as_ref()
        .and_then(|id| check.id("ticketId", NodeType::Ticket, id));
    ticket_in(db, &mut check, "ticketId", environment.id, ticket_id).await?;
    let (Some(reason), Some(attributes), true) = (reason, attributes, check.is_ok()) else {
        return Ok(SystemPayload::refused(check.into_errors()));
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
        let kind: entities::enums::SystemKind = kind.into();
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
        return Ok(SystemPayload::done(System(current)));
    }
    let mut write = crate::graphql::mutation::begin(ctx, viewer, reason, ticket_id).await?;
    model.attribute_sources = Set(Value::Object(sources));
    model.updated_at = Set(write.now);
    let updated = model.update(&write.txn).await?;
    let fields_changed: Vec<&String> = changes.keys().collect();
    write
        .record(ChangeNote {
            environment_id: environment.id,
            system_ids: vec![updated.id],
            summary: format!(
                "Updated {} on system {}",
                fields_changed
                    .iter()
                    .map(|field| field.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                updated.name
            ),
            details: json!({ "changes": changes }),
            category: ChangeCategory::Configuration,
        })
        .await?;
    write.commit().await?;
    Ok(SystemPayload::done(System(updated)))
}

async fn retire_system(ctx: &Context<'_>, input: RetireSystemInput) -> ApiResult<SystemPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, WRITERS, "retireSystem")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let Some((current, environment)) = visible_system(db, viewer, &mut check, &input.id).await?
    else {
        return Ok(SystemPayload::refused(check.into_errors()));
    };
    let ticket_id = input
        .ticket_id
        .as_ref()
        .and_then(|id| check.id("ticketId", NodeType::Ticket, id));
    ticket_in(db, &mut check, "ticketId", environment.id, ticket_id).await?;
    if current.retired_at.is_some() {
        check.fail(
            "id",
            UserErrorCode::InvalidState,
            "the system is already retired",
        );
    }
    let (Some(reason), true) = (reason, check.is_ok()) else {
        return Ok(SystemPayload::refused(check.into_errors()));
    };
    let mut write = crate::graphql::mutation::begin(ctx, viewer, reason, ticket_id).await?;
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
    Ok(SystemPayload::done(System(retired)))
}
