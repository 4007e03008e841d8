//! Managing integrations (admins of the integration's organization): create, update, disable,
//! `testIntegration`, `triggerSync`, mapping vendor companies to environments, overriding a
//! value mapping, and splitting a wrong PSA/RMM device match. Credentials are write-only: sealed
//! with `TANDEM_SECRET_KEY` on the way in, never returned, never logged. The rules live in
//! [`services::integration`]; these resolvers decode ids and present its outcome, and start
//! what reaches the vendor (a connector check, a sync run) once the service has approved it.

use async_graphql::{
    Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, ResultExt, SimpleObject,
};
use entities::enums::{SyncTrigger, ValueMappingDomain as StoredDomain};
use integrations::egress::Egress;
use integrations::model::Resource;
use integrations::secrets::SecretKey;

use crate::error::ApiResult;
use crate::events::EventBus;
use crate::graphql::context::ContextExt;
use crate::graphql::mutation::{Check, CheckIds, CheckRequired, payload, user_errors};
use crate::graphql::scalars::Json;
use crate::graphql::types::enums::{IntegrationKind, Priority, TicketStatus};
use crate::graphql::types::{Integration, System};
use crate::ids::NodeType;
use crate::services::{self, ServiceError};
use crate::sync::engine::{SyncError, check_connection};
use crate::sync::service::SyncService;

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
    /// New name (cannot be null).
    pub name: MaybeUndefined<String>,
    /// New API root (cannot be null).
    pub base_url: MaybeUndefined<String>,
    /// New settings (replace the old ones; cannot be null, `{}` clears them).
    pub settings: MaybeUndefined<Json>,
    /// New credentials (replace the old ones; write-only; cannot be null).
    pub credentials: MaybeUndefined<Json>,
    /// New schedule in seconds (at least 60); 0 or null turns the schedule off.
    pub sync_interval_seconds: MaybeUndefined<i32>,
    /// Enable or disable it (cannot be null).
    pub enabled: MaybeUndefined<bool>,
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

/// A team of the integration's organization and the vendor assignee that stands for it.
#[derive(InputObject)]
pub struct MapIntegrationTeamInput {
    /// The integration (a PSA).
    pub integration_id: ID,
    /// The team.
    pub team_id: ID,
    /// The vendor's board id (ConnectWise), queue id (Autotask) or team name (HaloPSA).
    pub group: String,
    /// The vendor's member, resource or agent id, if the team has one person there.
    pub member: Option<String>,
}

/// A team whose mapping to remove.
#[derive(InputObject)]
pub struct UnmapIntegrationTeamInput {
    /// The integration.
    pub integration_id: ID,
    /// The team.
    pub team_id: ID,
}

/// A vendor company whose mapping to remove.
#[derive(InputObject)]
pub struct UnmapIntegrationCompanyInput {
    /// The integration.
    pub integration_id: ID,
    /// The vendor's company, organization, client or site id.
    pub external_company_id: String,
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
        system: System
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
    /// What was reached, or what failed, in Tandem's words: refused credentials or another
    /// status where the vendor answered (never the vendor's own error text), `could not reach
    /// the vendor at <host>` for any failure to get an answer (refused, timed out, unresolvable,
    /// or an address the server does not call), or a bad setting. Answers within about five
    /// seconds.
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
        act(ctx, input, Action::Disable).await.extend()
    }

    /// Deletes an integration and keeps its history: its sync runs and everything it synced
    /// stay, and it stays readable by id with `deletedAt` set. Its credentials are destroyed;
    /// its mappings, cursors, schedule and pending retries go; a run in flight stops at its next
    /// page; its name is free again.
    async fn delete_integration(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to delete; see the input type.")] input: IntegrationActionInput,
    ) -> Result<IntegrationPayload> {
        act(ctx, input, Action::Delete).await.extend()
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

    /// Removes a vendor company's mapping: later syncs skip its records; what was synced from
    /// it stays.
    async fn unmap_integration_company(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to remove; see the input type.")]
        input: UnmapIntegrationCompanyInput,
    ) -> Result<IntegrationPayload> {
        unmap_company(ctx, input).await.extend()
    }

    /// Maps a team of the integration's organization to a vendor assignee (board/queue/team and
    /// member), where two-way sync writes assignments of tickets routed to that team.
    async fn map_integration_team(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: MapIntegrationTeamInput,
    ) -> Result<IntegrationPayload> {
        map_team(ctx, input).await.extend()
    }

    /// Removes a team's mapping: tickets routed to it are no longer assigned in the PSA.
    async fn unmap_integration_team(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to remove; see the input type.")] input: UnmapIntegrationTeamInput,
    ) -> Result<IntegrationPayload> {
        unmap_team(ctx, input).await.extend()
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

/// The key credentials are sealed with, when configured.
fn secret_key<'c>(ctx: &Context<'c>) -> Option<&'c SecretKey> {
    ctx.data_unchecked::<SyncService>().key.as_deref()
}

/// Where vendor calls may go, as the operator chose.
fn egress(ctx: &Context<'_>) -> Egress {
    ctx.data_unchecked::<SyncService>().egress
}

async fn create(ctx: &Context<'_>, input: CreateIntegrationInput) -> ApiResult<IntegrationPayload> {
    let viewer = ctx.viewer()?;
    let integration = services::integration::NewIntegration {
        name: input.name,
        kind: input.kind.into(),
        base_url: input.base_url,
        settings: input.settings.map(|Json(value)| value),
        credentials: input.credentials.map(|Json(value)| value),
        sync_interval_seconds: input.sync_interval_seconds,
        enabled: input.enabled,
    };
    let outcome = services::integration::create_integration(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        secret_key(ctx),
        egress(ctx),
        integration,
        Check::default(),
    )
    .await;
    IntegrationPayload::from_outcome(outcome.map(Integration))
}

async fn update(ctx: &Context<'_>, input: UpdateIntegrationInput) -> ApiResult<IntegrationPayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let change = services::integration::IntegrationChange {
        id: check.id("id", NodeType::Integration, &input.id),
        name: check.required("name", input.name),
        base_url: check.required("baseUrl", input.base_url),
        settings: check
            .required("settings", input.settings)
            .map(|Json(value)| value),
        credentials: check
            .required("credentials", input.credentials)
            .map(|Json(value)| value),
        sync_interval_seconds: match input.sync_interval_seconds {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(0),
            MaybeUndefined::Value(seconds) => Some(seconds),
        },
        enabled: check.required("enabled", input.enabled),
    };
    let outcome = services::integration::update_integration(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        secret_key(ctx),
        egress(ctx),
        change,
        check,
    )
    .await;
    IntegrationPayload::from_outcome(outcome.map(Integration))
}

/// What `disableIntegration` and `deleteIntegration` do to an integration.
#[derive(Clone, Copy)]
enum Action {
    Disable,
    Delete,
}

/// `disableIntegration` and `deleteIntegration`: the same input and payload, their own service.
async fn act(
    ctx: &Context<'_>,
    input: IntegrationActionInput,
    action: Action,
) -> ApiResult<IntegrationPayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let id = check.id("id", NodeType::Integration, &input.id);
    let (db, events) = (ctx.db()?, ctx.data_opt::<EventBus>());
    let outcome = match action {
        Action::Disable => {
            services::integration::disable_integration(db, events, viewer, id, check).await
        }
        Action::Delete => {
            services::integration::delete_integration(db, events, viewer, id, check).await
        }
    };
    IntegrationPayload::from_outcome(outcome.map(Integration))
}

async fn test(
    ctx: &Context<'_>,
    input: IntegrationActionInput,
) -> ApiResult<TestIntegrationPayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let id = check.id("id", NodeType::Integration, &input.id);
    let found = match services::integration::integration_to_test(ctx.db()?, viewer, id, check).await
    {
        Ok(found) => found,
        Err(ServiceError::Refused(errors)) => {
            return Ok(TestIntegrationPayload {
                user_errors: user_errors(errors),
                ..Default::default()
            });
        }
        Err(other) => return Err(other.into()),
    };
    // The vendor is reached here, not in the service: the sync engine builds the connector.
    let outcome = check_connection(secret_key(ctx), &found, egress(ctx))
        .await
        .map_err(|error| match error {
            SyncError::Vendor { error, .. } | SyncError::Config(error) => error.to_string(),
            other => other.to_string(),
        });
    let (ok, message) = match outcome {
        Ok(message) => (true, message),
        Err(message) => (false, message),
    };
    Ok(TestIntegrationPayload {
        ok,
        message,
        user_errors: Vec::new(),
    })
}

async fn trigger(ctx: &Context<'_>, input: TriggerSyncInput) -> ApiResult<IntegrationPayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let request = services::integration::SyncRequest {
        integration_id: check.id("id", NodeType::Integration, &input.id),
        full: input.full,
        resources: input
            .resources
            .map(|resources| resources.into_iter().map(Resource::from).collect()),
    };
    let outcome = services::integration::sync_to_start(ctx.db()?, viewer, request, check)
        .await
        .map(|approved| {
            // The run is the sync engine's, which the services may not call.
            ctx.data_unchecked::<SyncService>().spawn(
                approved.integration.id,
                SyncTrigger::Manual,
                approved.only,
                approved.full,
            );
            Integration(approved.integration)
        });
    IntegrationPayload::from_outcome(outcome)
}

async fn map_company(
    ctx: &Context<'_>,
    input: MapIntegrationCompanyInput,
) -> ApiResult<IntegrationPayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let mapping = services::integration::CompanyMapping {
        integration_id: check.id(
            "integrationId",
            NodeType::Integration,
            &input.integration_id,
        ),
        external_company_id: input.external_company_id,
        external_company_name: input.external_company_name,
        environment_id: check.id(
            "environmentId",
            NodeType::Environment,
            &input.environment_id,
        ),
    };
    let outcome = services::integration::map_integration_company(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        mapping,
        check,
    )
    .await;
    IntegrationPayload::from_outcome(outcome.map(Integration))
}

async fn unmap_company(
    ctx: &Context<'_>,
    input: UnmapIntegrationCompanyInput,
) -> ApiResult<IntegrationPayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let id = check.id(
        "integrationId",
        NodeType::Integration,
        &input.integration_id,
    );
    let outcome = services::integration::unmap_integration_company(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        id,
        &input.external_company_id,
        check,
    )
    .await;
    IntegrationPayload::from_outcome(outcome.map(Integration))
}

async fn map_team(
    ctx: &Context<'_>,
    input: MapIntegrationTeamInput,
) -> ApiResult<IntegrationPayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let mapping = services::integration::TeamMapping {
        integration_id: check.id(
            "integrationId",
            NodeType::Integration,
            &input.integration_id,
        ),
        team_id: check.id("teamId", NodeType::Team, &input.team_id),
        group: input.group,
        member: input.member,
    };
    let outcome = services::integration::map_integration_team(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        mapping,
        check,
    )
    .await;
    IntegrationPayload::from_outcome(outcome.map(Integration))
}

async fn unmap_team(
    ctx: &Context<'_>,
    input: UnmapIntegrationTeamInput,
) -> ApiResult<IntegrationPayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let integration_id = check.id(
        "integrationId",
        NodeType::Integration,
        &input.integration_id,
    );
    let team_id = check.id("teamId", NodeType::Team, &input.team_id);
    let outcome = services::integration::unmap_integration_team(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        integration_id,
        team_id,
        check,
    )
    .await;
    IntegrationPayload::from_outcome(outcome.map(Integration))
}

async fn set_value_mapping(
    ctx: &Context<'_>,
    input: SetValueMappingInput,
) -> ApiResult<ValueMappingPayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let value = services::integration::ValueOverride {
        integration_id: check.id(
            "integrationId",
            NodeType::Integration,
            &input.integration_id,
        ),
        domain: match input.domain {
            ValueMappingDomain::TicketStatus => StoredDomain::TicketStatus,
            ValueMappingDomain::TicketPriority => StoredDomain::TicketPriority,
        },
        external_value: input.external_value,
        status: input.status.map(Into::into),
        priority: input.priority.map(Into::into),
    };
    let outcome = services::integration::set_value_mapping(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        value,
        check,
    )
    .await;
    ValueMappingPayload::from_outcome(outcome.map(|saved| ValueMapping {
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
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let split = services::integration::LinkSplit {
        system_id: check.id("systemId", NodeType::System, &input.system_id),
        source: input.source,
        external_id: input.external_id,
        reason: input.reason,
    };
    let outcome = services::integration::split_system_link(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        split,
        check,
    )
    .await;
    SplitSystemPayload::from_outcome(outcome.map(System))
}
