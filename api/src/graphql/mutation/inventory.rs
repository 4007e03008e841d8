//! Environments (admins) and systems (members): create, update, archive or retire. Each
//! resolver decodes the input's ids and calls `services::inventory`, which holds the rules and
//! records each change in the change log.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, ResultExt};

use crate::error::ApiResult;
use crate::events::EventBus;
use crate::graphql::context::ContextExt;
use crate::graphql::mutation::{Check, CheckIds, CheckRequired, clearable, payload};
use crate::graphql::scalars::Json;
use crate::graphql::types::enums::{ComplianceFramework, SystemKind};
use crate::graphql::types::{Environment, System};
use crate::ids::NodeType;
use crate::services::inventory;

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
    /// The IANA time zone business-hours SLA targets count in, such as `America/New_York`
    /// (default `UTC`).
    pub time_zone: Option<String>,
    /// Start of business hours, Monday to Friday, in minutes after local midnight (default
    /// 480: 08:00).
    pub business_start_minute: Option<i32>,
    /// End of business hours in minutes after local midnight, after the start (default 1080:
    /// 18:00).
    pub business_end_minute: Option<i32>,
    /// Why it is added (goes to the change log).
    pub reason: Option<String>,
}

/// Changes to an environment; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateEnvironmentInput {
    /// The environment.
    pub id: ID,
    /// New name (cannot be null).
    pub name: MaybeUndefined<String>,
    /// New description (null or empty text clears it).
    pub description: MaybeUndefined<String>,
    /// New set of compliance frameworks (an empty list clears them; cannot be null).
    pub compliance_frameworks: MaybeUndefined<Vec<ComplianceFramework>>,
    /// New IANA time zone for business-hours SLA targets (due times already set stay).
    pub time_zone: Option<String>,
    /// New start of business hours, in minutes after local midnight.
    pub business_start_minute: Option<i32>,
    /// New end of business hours, in minutes after local midnight.
    pub business_end_minute: Option<i32>,
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
    /// New name (cannot be null).
    pub name: MaybeUndefined<String>,
    /// New kind (cannot be null).
    pub kind: MaybeUndefined<SystemKind>,
    /// New host name (null or empty text clears it).
    pub hostname: MaybeUndefined<String>,
    /// New serial number (null or empty text clears it).
    pub serial_number: MaybeUndefined<String>,
    /// New MAC address (null or empty text clears it).
    pub mac_address: MaybeUndefined<String>,
    /// New operating system (null or empty text clears it).
    pub operating_system: MaybeUndefined<String>,
    /// New IP address (null or empty text clears it).
    pub ip_address: MaybeUndefined<String>,
    /// New description (null or empty text clears it).
    pub description: MaybeUndefined<String>,
    /// Attributes to set (merged into the existing ones; a null value removes one; the object
    /// itself cannot be null).
    pub attributes: MaybeUndefined<Json>,
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

async fn create_environment(
    ctx: &Context<'_>,
    input: CreateEnvironmentInput,
) -> ApiResult<EnvironmentPayload> {
    let mut check = Check::default();
    let environment = inventory::NewEnvironment {
        organization_id: check.id(
            "organizationId",
            NodeType::Organization,
            &input.organization_id,
        ),
        name: input.name,
        description: input.description,
        compliance_frameworks: frameworks(input.compliance_frameworks),
        calendar: inventory::CalendarChange {
            time_zone: input.time_zone,
            business_start_minute: input.business_start_minute,
            business_end_minute: input.business_end_minute,
        },
        reason: input.reason,
    };
    let outcome = inventory::create_environment(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        ctx.viewer()?,
        environment,
        check,
    )
    .await;
    EnvironmentPayload::from_outcome(outcome.map(Environment))
}

async fn update_environment(
    ctx: &Context<'_>,
    input: UpdateEnvironmentInput,
) -> ApiResult<EnvironmentPayload> {
    let mut check = Check::default();
    let change = inventory::EnvironmentChange {
        id: check.id("id", NodeType::Environment, &input.id),
        name: check.required("name", input.name),
        description: clearable(input.description),
        compliance_frameworks: check
            .required("complianceFrameworks", input.compliance_frameworks)
            .map(frameworks),
        calendar: inventory::CalendarChange {
            time_zone: input.time_zone,
            business_start_minute: input.business_start_minute,
            business_end_minute: input.business_end_minute,
        },
        reason: input.reason,
        ticket_id: ticket_id(&mut check, input.ticket_id.as_ref()),
    };
    let outcome = inventory::update_environment(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        ctx.viewer()?,
        change,
        check,
    )
    .await;
    EnvironmentPayload::from_outcome(outcome.map(Environment))
}

async fn archive_environment(
    ctx: &Context<'_>,
    input: ArchiveEnvironmentInput,
) -> ApiResult<EnvironmentPayload> {
    let mut check = Check::default();
    let archival = inventory::Removal {
        id: check.id("id", NodeType::Environment, &input.id),
        reason: input.reason,
        ticket_id: ticket_id(&mut check, input.ticket_id.as_ref()),
    };
    let outcome = inventory::archive_environment(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        ctx.viewer()?,
        archival,
        check,
    )
    .await;
    EnvironmentPayload::from_outcome(outcome.map(Environment))
}

async fn create_system(ctx: &Context<'_>, input: CreateSystemInput) -> ApiResult<SystemPayload> {
    let mut check = Check::default();
    let system = inventory::NewSystem {
        environment_id: check.id(
            "environmentId",
            NodeType::Environment,
            &input.environment_id,
        ),
        name: input.name,
        kind: input.kind.into(),
        hostname: input.hostname,
        serial_number: input.serial_number,
        mac_address: input.mac_address,
        operating_system: input.operating_system,
        ip_address: input.ip_address,
        description: input.description,
        attributes: input.attributes.map(|Json(value)| value),
        reason: input.reason,
        ticket_id: ticket_id(&mut check, input.ticket_id.as_ref()),
    };
    let outcome = inventory::create_system(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        ctx.viewer()?,
        system,
        check,
    )
    .await;
    SystemPayload::from_outcome(outcome.map(System))
}

async fn update_system(ctx: &Context<'_>, input: UpdateSystemInput) -> ApiResult<SystemPayload> {
    let mut check = Check::default();
    let change = inventory::SystemChange {
        id: check.id("id", NodeType::System, &input.id),
        name: check.required("name", input.name),
        kind: check.required("kind", input.kind).map(Into::into),
        hostname: clearable(input.hostname),
        serial_number: clearable(input.serial_number),
        mac_address: clearable(input.mac_address),
        operating_system: clearable(input.operating_system),
        ip_address: clearable(input.ip_address),
        description: clearable(input.description),
        attributes: check
            .required("attributes", input.attributes)
            .map(|Json(value)| value),
        reason: input.reason,
        ticket_id: ticket_id(&mut check, input.ticket_id.as_ref()),
    };
    let outcome = inventory::update_system(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        ctx.viewer()?,
        change,
        check,
    )
    .await;
    SystemPayload::from_outcome(outcome.map(System))
}

async fn retire_system(ctx: &Context<'_>, input: RetireSystemInput) -> ApiResult<SystemPayload> {
    let mut check = Check::default();
    let retirement = inventory::Removal {
        id: check.id("id", NodeType::System, &input.id),
        reason: input.reason,
        ticket_id: ticket_id(&mut check, input.ticket_id.as_ref()),
    };
    let outcome = inventory::retire_system(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        ctx.viewer()?,
        retirement,
        check,
    )
    .await;
    SystemPayload::from_outcome(outcome.map(System))
}

fn frameworks(frameworks: Vec<ComplianceFramework>) -> Vec<entities::enums::ComplianceFramework> {
    frameworks.into_iter().map(Into::into).collect()
}

/// The input's optional `ticketId`, decoded.
fn ticket_id(check: &mut Check, id: Option<&ID>) -> Option<uuid::Uuid> {
    id.and_then(|id| check.id("ticketId", NodeType::Ticket, id))
}
