//! The outbox: every event of a committed write, kept in `outbox_events`, and the outbound
//! webhooks fed from it.
//!
//! - **Recording** ([`record`]): a write hands its events ([`Item`]) to its
//!   [`crate::services::UnitOfWork`] (the sync engine to its page), which calls [`record`] inside
//!   its own transaction just before COMMIT: the events and one `webhook_deliveries` row per
//!   matching endpoint commit with the write or not at all, so a rolled-back write emits nothing
//!   and a crash after the commit loses nothing. An event belongs to the organization that owns
//!   its environment; it reaches the endpoints of that organization and of the providers with
//!   an engagement in force with it that day (the tenancy rule of every read), that subscribe to
//!   its type and do not skip the integration that caused it.
//! - **Payloads** ([`payload`]): the object as the API shows it, with global ids.
//! - **Delivering** ([`worker`]): a background task of `tandem serve` claims due deliveries
//!   with a lease, POSTs them signed ([`signature`]) and retries with backoff for 24 hours.
//! - **Order and retention**: `seq` increases with every event written, and is commit order:
//!   on PostgreSQL [`record`] takes a transaction advisory lock ([`COMMIT_ORDER_LOCK`]) before
//!   the sequence values are drawn, held until the write commits (which follows at once), so an
//!   event with a higher `seq` becomes visible only once every lower one is committed or gone;
//!   SQLite serializes writers already. A reader that resumes after the last `seq` it saw
//!   (subscriptions, `events::resume`) therefore misses nothing. Events older than the retention
//!   window (7 days) are pruned with their deliveries.

pub mod payload;
pub mod signature;
pub mod worker;

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use entities::enums::WebhookDeliveryStatus;
use entities::{engagement, outbox_event, webhook_delivery, webhook_endpoint};
use sea_orm::prelude::*;
use sea_orm::{ConnectionTrait, IntoActiveModel, QueryFilter, QuerySelect};
use serde_json::Value;

/// Rows per insert statement.
const INSERT_CHUNK: usize = 500;

/// The key of the PostgreSQL transaction advisory lock that makes `seq` order commit order
/// (`pg_advisory_xact_lock`; the bytes of "tandemox").
pub const COMMIT_ORDER_LOCK: i64 = 0x7461_6e64_656d_6f78;

/// What happened, as deliveries name it (`type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// A change log entry was recorded.
    ChangeRecorded,
    /// A ticket was opened (by a person, a sync job or a sync run).
    TicketCreated,
    /// A ticket was changed (fields, assignment, status, a note).
    TicketChanged,
    /// A new ticket was routed by the matrix to a team.
    TicketRouted,
    /// A ticket was escalated (`services::escalation`).
    TicketEscalated,
    /// An alert was raised.
    AlertRaised,
    /// An alert was acknowledged.
    AlertAcknowledged,
    /// An alert was resolved.
    AlertResolved,
    /// An alert was escalated (`services::escalation`).
    AlertEscalated,
    /// A matrix entry (or a change of one) was proposed.
    ResponsibilityProposed,
    /// A matrix entry was agreed by every side it needs.
    ResponsibilityAgreed,
    /// A matrix entry was retired.
    ResponsibilityRetired,
    /// An ownership gap opened: a write made one of [`crate::gaps::WATCHED`] appear
    /// (`services::UnitOfWork::watch_gaps`).
    OwnershipGapOpened,
    /// An ownership gap closed (as [`EventType::OwnershipGapOpened`]).
    OwnershipGapClosed,
    /// A sync run failed.
    SyncRunFailed,
}

impl EventType {
    /// Every type, in the order the README lists them.
    pub const ALL: [Self; 15] = [
        Self::ChangeRecorded,
        Self::TicketCreated,
        Self::TicketChanged,
        Self::TicketRouted,
        Self::TicketEscalated,
        Self::AlertRaised,
        Self::AlertAcknowledged,
        Self::AlertResolved,
        Self::AlertEscalated,
        Self::ResponsibilityProposed,
        Self::ResponsibilityAgreed,
        Self::ResponsibilityRetired,
        Self::OwnershipGapOpened,
        Self::OwnershipGapClosed,
        Self::SyncRunFailed,
    ];

    /// The name in deliveries and in `outbox_events.event_type`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::ChangeRecorded => "change.recorded",
            Self::TicketCreated => "ticket.created",
            Self::TicketChanged => "ticket.changed",
            Self::TicketRouted => "ticket.routed",
            Self::TicketEscalated => "ticket.escalated",
            Self::AlertRaised => "alert.raised",
            Self::AlertAcknowledged => "alert.acknowledged",
            Self::AlertResolved => "alert.resolved",
            Self::AlertEscalated => "alert.escalated",
            Self::ResponsibilityProposed => "responsibility.proposed",
            Self::ResponsibilityAgreed => "responsibility.agreed",
            Self::ResponsibilityRetired => "responsibility.retired",
            Self::OwnershipGapOpened => "ownership_gap.opened",
            Self::OwnershipGapClosed => "ownership_gap.closed",
            Self::SyncRunFailed => "sync_run.failed",
        }
    }

    /// The type named `name`.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|found| found.name() == name)
    }
}

/// One event a write emits, before its transaction commits.
#[derive(Debug, Clone)]
pub struct Item {
    /// What happened.
    pub event_type: EventType,
    /// The environment it happened in; `None` for an organization's own affairs (a sync run).
    pub environment_id: Option<Uuid>,
    /// The owning organization, when there is no environment to read it from.
    pub organization_id: Option<Uuid>,
    /// The object it is about.
    pub subject_id: Uuid,
    /// The object as the API shows it ([`payload`]).
    pub data: Value,
}

/// Writes `items` to the outbox with the deliveries they make, on `txn` (the write's own
/// transaction). `owners` maps each environment named to its organization (items whose
/// environment is missing from it are dropped); `caused_by` is the integration whose token or
/// run wrote. Returns the events written, with their `seq`.
///
/// On PostgreSQL it first takes the [`COMMIT_ORDER_LOCK`] for the rest of the transaction:
/// call it last, just before COMMIT, so the lock is held only for the commit.
///
/// # Errors
/// Database errors; the write must then not commit.
pub async fn record(
    txn: &impl ConnectionTrait,
    items: Vec<Item>,
    owners: &HashMap<Uuid, Uuid>,
    caused_by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Vec<outbox_event::Model>, DbErr> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let events: Vec<outbox_event::Model> = items
        .into_iter()
        .filter_map(|item| {
            let organization_id = match item.environment_id {
                Some(environment) => *owners.get(&environment)?,
                None => item.organization_id?,
            };
            Some(outbox_event::Model {
                seq: 0,
                id: Uuid::now_v7(),
                event_type: item.event_type.name().to_owned(),
                organization_id,
                environment_id: item.environment_id,
                subject_id: item.subject_id,
                caused_by_integration_id: caused_by,
                occurred_at: now,
                payload: item.data,
            })
        })
        .collect();
    if events.is_empty() {
        return Ok(events);
    }
    if txn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        // Writers take turns from here to their COMMIT: `seq` values are drawn in commit order.
        txn.execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [COMMIT_ORDER_LOCK.into()],
        ))
        .await?;
    }
    // In chunks: a bulk write's events times the endpoints stay under both databases' limits on
    // bound parameters.
    for chunk in events.chunks(INSERT_CHUNK) {
        let inserts = chunk.iter().cloned().map(|event| {
            let mut model = event.into_active_model();
            // The database numbers the events.
            model.seq = sea_orm::ActiveValue::NotSet;
            model
        });
        outbox_event::Entity::insert_many(inserts)
            .exec_without_returning(txn)
            .await?;
    }
    // The numbers the database gave them: the resume marks of the events published after commit.
    let mut numbered: HashMap<Uuid, i64> = HashMap::with_capacity(events.len());
    for chunk in events.chunks(INSERT_CHUNK) {
        let rows: Vec<(Uuid, i64)> = outbox_event::Entity::find()
            .select_only()
            .column(outbox_event::Column::Id)
            .column(outbox_event::Column::Seq)
            .filter(
                outbox_event::COLUMN
                    .id
                    .is_in(chunk.iter().map(|event| event.id)),
            )
            .into_tuple()
            .all(txn)
            .await?;
        numbered.extend(rows);
    }
    let mut events = events;
    for event in &mut events {
        event.seq = numbered.get(&event.id).copied().unwrap_or_default();
    }
    let deliveries = deliveries_for(txn, &events, now).await?;
    for chunk in deliveries.chunks(INSERT_CHUNK) {
        webhook_delivery::Entity::insert_many(
            chunk
                .iter()
                .cloned()
                .map(IntoActiveModel::into_active_model),
        )
        .exec_without_returning(txn)
        .await?;
    }
    Ok(events)
}

/// The organizations that see organization `owner`'s environments on `day`: itself and the
/// providers with an engagement in force with it.
async fn audiences(
    db: &impl ConnectionTrait,
    owners: &BTreeSet<Uuid>,
    day: chrono::NaiveDate,
) -> Result<HashMap<Uuid, BTreeSet<Uuid>>, DbErr> {
    let mut seen: HashMap<Uuid, BTreeSet<Uuid>> = owners
        .iter()
        .map(|owner| (*owner, BTreeSet::from([*owner])))
        .collect();
    for found in engagement::Entity::find()
        .filter(engagement::COLUMN.client_id.is_in(owners.iter().copied()))
        .filter(engagement::in_force_on(day))
        .all(db)
        .await?
    {
        seen.entry(found.client_id)
            .or_default()
            .insert(found.provider_id);
    }
    Ok(seen)
}

/// Whether `endpoint` wants events of `event_type`.
#[must_use]
pub fn subscribes(endpoint: &webhook_endpoint::Model, event_type: &str) -> bool {
    endpoint
        .event_types
        .as_array()
        .is_some_and(|types| types.iter().any(|name| name.as_str() == Some(event_type)))
}

/// One pending delivery per event and endpoint that may see the event, wants its type and does
/// not skip the integration that caused it.
async fn deliveries_for(
    db: &impl ConnectionTrait,
    events: &[outbox_event::Model],
    now: DateTime<Utc>,
) -> Result<Vec<webhook_delivery::Model>, DbErr> {
    let owners: BTreeSet<Uuid> = events.iter().map(|event| event.organization_id).collect();
    let audiences = audiences(db, &owners, now.date_naive()).await?;
    let recipients: BTreeSet<Uuid> = audiences.values().flatten().copied().collect();
    let endpoints = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::COLUMN.organization_id.is_in(recipients))
        .filter(webhook_endpoint::COLUMN.enabled.eq(true))
        .filter(webhook_endpoint::COLUMN.deleted_at.is_null())
        .all(db)
        .await?;
    let mut deliveries = Vec::new();
    for event in events {
        let Some(audience) = audiences.get(&event.organization_id) else {
            continue;
        };
        for endpoint in &endpoints {
            let skipped = endpoint.skip_integration_id.is_some()
                && endpoint.skip_integration_id == event.caused_by_integration_id;
            if audience.contains(&endpoint.organization_id)
                && subscribes(endpoint, &event.event_type)
                && !skipped
            {
                deliveries.push(pending_delivery(endpoint.id, event.id, now, false));
            }
        }
    }
    Ok(deliveries)
}

/// A delivery of event `event_id` to `endpoint_id`, due now.
#[must_use]
pub fn pending_delivery(
    endpoint_id: Uuid,
    event_id: Uuid,
    now: DateTime<Utc>,
    replay: bool,
) -> webhook_delivery::Model {
    webhook_delivery::Model {
        id: Uuid::now_v7(),
        endpoint_id,
        event_id,
        status: WebhookDeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: Some(now),
        lease_owner: None,
        lease_expires_at: None,
        last_status: None,
        last_error: None,
        replay,
        created_at: now,
        updated_at: now,
        delivered_at: None,
    }
}

/// Whether organization `viewer` may see the events of organization `owner` today: the same
/// organization, or a provider with an engagement in force with it.
///
/// # Errors
/// Database errors.
pub async fn may_see(
    db: &impl ConnectionTrait,
    viewer: Uuid,
    owner: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    if viewer == owner {
        return Ok(true);
    }
    let audiences = audiences(db, &BTreeSet::from([owner]), now.date_naive()).await?;
    Ok(audiences
        .get(&owner)
        .is_some_and(|audience| audience.contains(&viewer)))
}
