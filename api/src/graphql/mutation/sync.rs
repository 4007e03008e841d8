//! `upsertSystems`, `upsertTickets`, `upsertAlerts`, `recordChanges`: the GraphQL front door of
//! [`crate::services::bulk`], which holds every rule (keys, checks, what goes to the change log).
//! Resolvers decode the records' global ids, call the service and present its result.

use async_graphql::{
    Context, Enum, ID, InputObject, Object, OneofObject, Result, ResultExt, SimpleObject,
};
use sea_orm::prelude::*;

use crate::error::ApiResult;
use crate::events::EventBus;
use crate::graphql::context::ContextExt;
use crate::graphql::mutation::{Check, CheckIds, UserErrorObject, user_errors};
use crate::graphql::scalars::Json;
use crate::graphql::types::enums::{
    ChangeCategory as GqlChangeCategory, IntegrationKind, Priority, SystemKind, TicketStatus,
};
use crate::graphql::types::{Alert, ChangeLogEntry, System, Ticket};
use crate::ids::NodeType;
use crate::services::ServiceError;
use crate::services::bulk::{self, Bulk, BulkResult};

/// Bulk upserts for sync jobs.
#[derive(Default)]
pub struct SyncMutation;

/// What happened to one record.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::services::bulk::UpsertOutcome")]
pub enum UpsertOutcome {
    /// A new object was created.
    Created,
    /// An existing object was changed.
    Updated,
    /// The stored object already matched; nothing was written.
    Unchanged,
}

/// Counts of what a bulk call did.
#[derive(SimpleObject, Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UpsertCounts {
    /// Records that created an object.
    pub created: i32,
    /// Records that changed an object.
    pub updated: i32,
    /// Records that matched what was stored.
    pub unchanged: i32,
    /// Records refused with user errors.
    pub failed: i32,
}

impl From<bulk::Counts> for UpsertCounts {
    fn from(counts: bulk::Counts) -> Self {
        Self {
            created: counts.created,
            updated: counts.updated,
            unchanged: counts.unchanged,
            failed: counts.failed,
        }
    }
}

macro_rules! bulk_payload {
    ($(#[$meta:meta])* $name:ident, $result:ident, $type:ty, $field_doc:literal) => {
        /// One record's result.
        #[derive(SimpleObject)]
        pub struct $result {
            /// The record's position in `input.records`.
            pub index: i32,
            /// What happened.
            pub outcome: UpsertOutcome,
            #[doc = $field_doc]
            pub node: $type,
        }

        $(#[$meta])*
        #[derive(SimpleObject, Default)]
        pub struct $name {
            /// One result per record written or found unchanged, in input order.
            pub results: Vec<$result>,
            /// What the call did.
            pub counts: UpsertCounts,
            /// Problems with records (under `input.records.<index>`); those records were skipped.
            pub user_errors: Vec<UserErrorObject>,
        }

        impl $name {
            /// The payload of the service's outcome: its results, or the call refused.
            fn from_outcome<M>(
                outcome: crate::services::ServiceResult<BulkResult<M>>,
                node: impl Fn(M) -> $type,
            ) -> ApiResult<Self> {
                match outcome {
                    Ok(done) => Ok(Self {
                        results: done
                            .results
                            .into_iter()
                            .map(|result| $result {
                                index: result.index as i32,
                                outcome: result.outcome.into(),
                                node: node(result.node),
                            })
                            .collect(),
                        counts: done.counts.into(),
                        user_errors: user_errors(done.user_errors),
                    }),
                    Err(ServiceError::Refused(errors)) => Ok(Self {
                        user_errors: user_errors(errors),
                        ..Default::default()
                    }),
                    Err(other) => Err(other.into()),
                }
            }
        }
    };
}

bulk_payload!(
    /// The result of `upsertSystems`.
    UpsertSystemsPayload, SystemUpsertResult, System, "The system as stored."
);
bulk_payload!(
    /// The result of `upsertTickets`.
    UpsertTicketsPayload, TicketUpsertResult, Ticket, "The ticket as stored."
);
bulk_payload!(
    /// The result of `upsertAlerts`.
    UpsertAlertsPayload, AlertUpsertResult, Alert, "The alert as stored."
);
bulk_payload!(
    /// The result of `recordChanges`.
    RecordChangesPayload, ChangeUpsertResult, ChangeLogEntry, "The entry as stored."
);

/// Where a bulk call's records come from: exactly one of `kind` and `name` (`@oneOf`). Records
/// are keyed by `(organization, source, externalId)`, so each source is a keyspace of its own.
#[derive(OneofObject)]
pub enum ExternalSourceInput {
    /// A vendor Tandem knows (`CONNECTWISE_MANAGE`, `AUTOTASK`, `HALOPSA`: PSA; `NINJAONE`,
    /// `DATTO_RMM`: RMM). The change log source of the call's entries comes from the token,
    /// not from here: a token issued for an integration records them as its kind (PSA or
    /// RMM), any other token as API.
    Kind(IntegrationKind),
    /// Any other system (a CMDB, a script): 1 to 100 letters, digits, `_`, `-`, `.` or `:`. A
    /// vendor's own spelling in any case (`NINJAONE`, `ninjaone`, `NinjaOne:eu`) is refused: pass
    /// it as `kind`.
    Name(String),
}

impl ExternalSourceInput {
    /// The source as the bulk service keys records: a vendor's stored name, or the name given.
    fn into_text(self, check: &mut Check) -> String {
        match self {
            Self::Kind(kind) => {
                sea_orm::ActiveEnum::to_value(&entities::enums::IntegrationKind::from(kind))
            }
            Self::Name(name) => {
                // In any case and with any `:` suffix: the sync engine keys its records
                // `<KIND>:<integration>`, and a vendor's spelling in another case would key the
                // same records apart from `kind`'s.
                let prefix = name
                    .trim()
                    .split(':')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_uppercase();
                let vendor =
                    <entities::enums::IntegrationKind as sea_orm::ActiveEnum>::try_from_value(
                        &prefix,
                    );
                if vendor.is_ok() {
                    check.fail(
                        "source.name",
                        crate::services::UserErrorCode::Invalid,
                        format!(
                            "`{}` is a vendor Tandem knows: pass it as `kind`",
                            name.trim()
                        ),
                    );
                }
                name
            }
        }
    }
}

/// Systems seen by a sync job.
#[derive(InputObject)]
pub struct UpsertSystemsInput {
    /// The external system the records come from: a vendor Tandem knows (`{ kind: NINJAONE }`)
    /// or another system by name (`{ name: "my-cmdb" }`).
    pub source: ExternalSourceInput,
    /// At most 1,000 systems.
    pub records: Vec<SystemRecordInput>,
}

/// One system as the external system sees it.
#[derive(InputObject)]
pub struct SystemRecordInput {
    /// Its id in the external system.
    pub external_id: String,
    /// The external resource (`device`, `configuration`, ...); default `device`.
    pub resource: Option<String>,
    /// A link to it in the external system.
    pub external_url: Option<String>,
    /// The environment it is in.
    pub environment_id: ID,
    /// Display name.
    pub name: String,
    /// What kind of system.
    pub kind: SystemKind,
    /// Network host name.
    pub hostname: Option<String>,
    /// Hardware serial number.
    pub serial_number: Option<String>,
    /// Primary MAC address.
    pub mac_address: Option<String>,
    /// Operating system and version.
    pub operating_system: Option<String>,
    /// Primary IP address.
    pub ip_address: Option<String>,
    /// Other facts, a JSON object, merged key by key into the stored ones.
    pub attributes: Option<Json>,
}

/// Tickets seen by a sync job.
#[derive(InputObject)]
pub struct UpsertTicketsInput {
    /// The external system the records come from: a vendor Tandem knows (`{ kind: NINJAONE }`)
    /// or another system by name (`{ name: "my-cmdb" }`).
    pub source: ExternalSourceInput,
    /// At most 1,000 tickets.
    pub records: Vec<TicketRecordInput>,
}

/// One ticket as the external system sees it.
#[derive(InputObject)]
pub struct TicketRecordInput {
    /// Its id in the external system.
    pub external_id: String,
    /// A link to it in the external system.
    pub external_url: Option<String>,
    /// The environment it is about.
    pub environment_id: ID,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Normalized status.
    pub status: TicketStatus,
    /// Normalized priority.
    pub priority: Priority,
    /// The external system's own status.
    pub external_status: Option<String>,
    /// The external system's own priority.
    pub external_priority: Option<String>,
    /// Who asked.
    pub requester: Option<String>,
    /// The external id of its system, as sent with `upsertSystems` from the same source.
    pub system_external_id: Option<String>,
    /// The key of the function it falls under (such as `patching`). A new ticket is routed to
    /// the team the matrix names responsible for it (`service_desk` when omitted).
    pub function_key: Option<String>,
    /// When it was opened in the external system; now when omitted.
    pub created_at: Option<DateTimeUtc>,
}

/// Alerts seen by a sync job.
#[derive(InputObject)]
pub struct UpsertAlertsInput {
    /// The external system the records come from: a vendor Tandem knows (`{ kind: NINJAONE }`)
    /// or another system by name (`{ name: "my-cmdb" }`).
    pub source: ExternalSourceInput,
    /// At most 1,000 alerts.
    pub records: Vec<AlertRecordInput>,
}

/// One alert as the RMM sees it.
#[derive(InputObject)]
pub struct AlertRecordInput {
    /// Its id in the RMM.
    pub external_id: String,
    /// A link to it in the RMM.
    pub external_url: Option<String>,
    /// The environment of the alerting system.
    pub environment_id: ID,
    /// What the RMM reported.
    pub message: String,
    /// Normalized severity.
    pub severity: Priority,
    /// The RMM's own severity.
    pub external_severity: Option<String>,
    /// When the RMM raised it.
    pub raised_at: DateTimeUtc,
    /// Whether the RMM has cleared it (default false).
    #[graphql(default)]
    pub resolved: bool,
    /// The external id of the alerting system, as sent with `upsertSystems` from the same source.
    pub system_external_id: Option<String>,
    /// The key of the function the alert falls under (such as `backup_recovery`). A new alert is
    /// routed to the team the matrix names responsible for it (`endpoint_management` when
    /// omitted).
    pub function_key: Option<String>,
}

/// Change log entries observed by a sync job.
#[derive(InputObject)]
pub struct RecordChangesInput {
    /// The external system the records come from: a vendor Tandem knows (`{ kind: NINJAONE }`)
    /// or another system by name (`{ name: "my-cmdb" }`).
    pub source: ExternalSourceInput,
    /// At most 1,000 entries.
    pub records: Vec<ChangeRecordInput>,
}

/// One change as the external system recorded it.
#[derive(InputObject)]
pub struct ChangeRecordInput {
    /// Its id in the external system (an activity or audit-log id).
    pub external_id: String,
    /// A link to it in the external system.
    pub external_url: Option<String>,
    /// The environment changed.
    pub environment_id: ID,
    /// One line saying what changed.
    pub summary: String,
    /// Structured details, a JSON object.
    pub details: Option<Json>,
    /// What kind of change.
    pub category: GqlChangeCategory,
    /// When it happened.
    pub occurred_at: DateTimeUtc,
    /// Who made it, as the external system names them; the caller when omitted.
    pub actor_name: Option<String>,
    /// Why, when the external system says.
    pub reason: Option<String>,
    /// External ids of the systems changed, as sent with `upsertSystems` from the same source.
    #[graphql(default)]
    pub system_external_ids: Vec<String>,
}

#[Object]
impl SyncMutation {
    /// Creates or updates systems by `(source, externalId)`; changes to name, kind, host name,
    /// serial number, MAC, OS, IP or environment go to the change log. A field a record leaves
    /// out keeps its stored value (another source may have set it); the sync engine writes
    /// systems by the same rules.
    async fn upsert_systems(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: UpsertSystemsInput,
    ) -> Result<UpsertSystemsPayload> {
        let outcome = match plain(input.source, input.records) {
            Ok((input, check)) => {
                bulk::upsert_systems(
                    ctx.db().extend()?,
                    ctx.data_opt::<EventBus>(),
                    ctx.viewer().extend()?,
                    input,
                    check,
                )
                .await
            }
            Err(refused) => Err(refused),
        };
        UpsertSystemsPayload::from_outcome(outcome, System).extend()
    }

    /// Creates or updates tickets by `(source, externalId)`; status changes go to the change log.
    async fn upsert_tickets(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: UpsertTicketsInput,
    ) -> Result<UpsertTicketsPayload> {
        let outcome = match plain(input.source, input.records) {
            Ok((input, check)) => {
                bulk::upsert_tickets(
                    ctx.db().extend()?,
                    ctx.data_opt::<EventBus>(),
                    ctx.viewer().extend()?,
                    input,
                    check,
                )
                .await
            }
            Err(refused) => Err(refused),
        };
        UpsertTicketsPayload::from_outcome(outcome, Ticket).extend()
    }

    /// Creates or updates alerts by `(source, externalId)`; new ones are pushed to `alertRaised`.
    async fn upsert_alerts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: UpsertAlertsInput,
    ) -> Result<UpsertAlertsPayload> {
        let outcome = match plain(input.source, input.records) {
            Ok((input, check)) => {
                bulk::upsert_alerts(
                    ctx.db().extend()?,
                    ctx.data_opt::<EventBus>(),
                    ctx.viewer().extend()?,
                    input,
                    check,
                )
                .await
            }
            Err(refused) => Err(refused),
        };
        UpsertAlertsPayload::from_outcome(outcome, Alert).extend()
    }

    /// Records change log entries by `(source, externalId)`. An entry already recorded is
    /// unchanged; one recorded with other content is refused (correct it with `correctChange`).
    async fn record_changes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: RecordChangesInput,
    ) -> Result<RecordChangesPayload> {
        let outcome = match plain(input.source, input.records) {
            Ok((input, check)) => {
                bulk::record_changes(
                    ctx.db().extend()?,
                    ctx.data_opt::<EventBus>(),
                    ctx.viewer().extend()?,
                    input,
                    check,
                )
                .await
            }
            Err(refused) => Err(refused),
        };
        RecordChangesPayload::from_outcome(outcome, ChangeLogEntry).extend()
    }
}

/// A record input as the bulk service takes it: its global ids decoded into `check`.
trait PlainRecord {
    type Plain;

    fn plain(self, check: &mut Check, index: usize) -> Self::Plain;
}

/// A bulk call's records as the service takes them, with the errors of their ids; a source
/// refused refuses the whole call, as the service's own checks of the call do.
fn plain<R: PlainRecord>(
    source: ExternalSourceInput,
    records: Vec<R>,
) -> Result<(Bulk<R::Plain>, Check), ServiceError> {
    let mut call = Check::default();
    let source = source.into_text(&mut call);
    if !call.is_ok() {
        return Err(ServiceError::Refused(call.into_errors()));
    }
    let mut check = Check::default();
    let records = records
        .into_iter()
        .enumerate()
        .map(|(index, record)| record.plain(&mut check, index))
        .collect();
    Ok((Bulk { source, records }, check))
}

/// The environment a record names, or `None` with an `INVALID` error under its path.
fn environment(check: &mut Check, index: usize, id: &ID) -> Option<Uuid> {
    check.id(
        &format!("records.{index}.environmentId"),
        NodeType::Environment,
        id,
    )
}

impl PlainRecord for SystemRecordInput {
    type Plain = bulk::SystemRecord;

    fn plain(self, check: &mut Check, index: usize) -> bulk::SystemRecord {
        let environment_id = environment(check, index, &self.environment_id);
        bulk::SystemRecord {
            external_id: self.external_id,
            resource: self.resource,
            external_url: self.external_url,
            environment_id,
            name: self.name,
            kind: self.kind.into(),
            hostname: self.hostname,
            serial_number: self.serial_number,
            mac_address: self.mac_address,
            operating_system: self.operating_system,
            ip_address: self.ip_address,
            attributes: self.attributes.map(|Json(value)| value),
        }
    }
}

impl PlainRecord for TicketRecordInput {
    type Plain = bulk::TicketRecord;

    fn plain(self, check: &mut Check, index: usize) -> bulk::TicketRecord {
        let environment_id = environment(check, index, &self.environment_id);
        bulk::TicketRecord {
            external_id: self.external_id,
            external_url: self.external_url,
            environment_id,
            title: self.title,
            description: self.description,
            status: self.status.into(),
            priority: self.priority.into(),
            external_status: self.external_status,
            external_priority: self.external_priority,
            requester: self.requester,
            system_external_id: self.system_external_id,
            function_key: self.function_key,
            created_at: self.created_at,
        }
    }
}

impl PlainRecord for AlertRecordInput {
    type Plain = bulk::AlertRecord;

    fn plain(self, check: &mut Check, index: usize) -> bulk::AlertRecord {
        let environment_id = environment(check, index, &self.environment_id);
        bulk::AlertRecord {
            external_id: self.external_id,
            external_url: self.external_url,
            environment_id,
            message: self.message,
            severity: self.severity.into(),
            external_severity: self.external_severity,
            raised_at: self.raised_at,
            resolved: self.resolved,
            system_external_id: self.system_external_id,
            function_key: self.function_key,
        }
    }
}

impl PlainRecord for ChangeRecordInput {
    type Plain = bulk::ChangeRecord;

    fn plain(self, check: &mut Check, index: usize) -> bulk::ChangeRecord {
        let environment_id = environment(check, index, &self.environment_id);
        bulk::ChangeRecord {
            external_id: self.external_id,
            external_url: self.external_url,
            environment_id,
            summary: self.summary,
            details: self.details.map(|Json(value)| value),
            category: self.category.into(),
            occurred_at: self.occurred_at,
            actor_name: self.actor_name,
            reason: self.reason,
            system_external_ids: self.system_external_ids,
        }
    }
}
