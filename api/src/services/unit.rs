//! [`UnitOfWork`]: one write transaction with its actor, its change set and its events.
//! [`SystemWork`] is the same for what Tandem writes on its own, with no caller behind it (the
//! escalation engine): its change log entries have principal `SYSTEM` and no actor.
//!
//! Every write opens one from the database pool. On SQLite it begins `IMMEDIATE`: the write lock
//! is taken up front, so a transaction that reads before it writes never has to upgrade (SQLite
//! refuses an upgrade with "database is locked" when another writer got there first, whatever
//! the busy timeout); writers queue on the lock instead. On PostgreSQL the reads that decide a
//! write lock their deciding row ([`UnitOfWork::lock_environment`]) so two callers take turns.

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use entities::enums::{ChangeCategory, ChangeSource, Principal};
use entities::{change_log_entry, change_log_entry_system, environment, person, ticket};
use sea_orm::prelude::*;
use sea_orm::{
    DatabaseBackend, DatabaseConnection, DatabaseTransaction, IntoActiveModel, QueryFilter,
    QuerySelect, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::auth::Viewer;
use crate::events::{Event, EventBus, fanout, resume};
use crate::gaps::{Gap, GapKey};
use crate::outbox::{self, EventType, Item, payload};

/// `instant` at the precision both databases keep (microseconds).
pub fn precise(instant: DateTime<Utc>) -> DateTime<Utc> {
    instant.trunc_subsecs(6)
}

/// Opens a write transaction: `BEGIN IMMEDIATE` on SQLite, a plain `BEGIN` elsewhere.
///
/// # Errors
/// When the database is unavailable.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    if db.get_database_backend() == DatabaseBackend::Sqlite {
        db.begin_with_options(TransactionOptions {
            isolation_level: None,
            access_mode: None,
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        })
        .await
    } else {
        db.begin().await
    }
}

/// One write's transaction, with what its change log entries share.
pub struct UnitOfWork<'a> {
    /// The open transaction; dropped without commit, it rolls back.
    pub txn: DatabaseTransaction,
    /// The actor.
    pub actor: &'a Viewer,
    /// The instant of the write, at the precision both databases keep.
    pub now: DateTime<Utc>,
    /// Groups every entry this write records.
    pub change_set_id: Uuid,
    /// The input's `reason`.
    pub reason: Option<String>,
    /// The input's `ticketId`.
    pub ticket_id: Option<Uuid>,
    /// Where the entries it records come from: `API`, or `PSA`/`RMM` for what an integration
    /// observed (only an actor whose token was issued for an integration may say so).
    pub source: ChangeSource,
    /// Events to publish once the transaction has committed, never before.
    pending: Vec<Pending>,
    /// Organizations whose callers' rights this write changes, announced after commit ahead of
    /// its other events.
    access_changed: Vec<Uuid>,
    /// Whether this write changes what a caller resolves to without changing their rights (a
    /// name, an integration): cached callers are resolved again after commit.
    callers_changed: bool,
    /// Where events go; absent when nothing subscribes (tests, `schema`).
    events: Option<EventBus>,
    /// Events for the outbox (outbound webhooks), written in this transaction just before it
    /// commits. Behind a lock so helpers holding `&UnitOfWork` can emit.
    outbox: std::sync::Mutex<Vec<Item>>,
    /// Environments whose ownership gaps this write may change, with their watched gaps before
    /// it ([`UnitOfWork::watch_gaps`]); compared again just before COMMIT.
    gaps_before: std::collections::BTreeMap<Uuid, std::collections::BTreeMap<GapKey, Gap>>,
}

/// An event waiting for its transaction to commit.
enum Pending {
    Entry(change_log_entry::Model),
    Ticket(ticket::Model),
    Alert(entities::alert::Model),
    Escalation(entities::escalation::Model),
    AlertChanged(entities::alert::Model),
}

impl Pending {
    fn environment_id(&self) -> Uuid {
        match self {
            Self::Entry(entry) => entry.environment_id,
            Self::Ticket(ticket) => ticket.environment_id,
            Self::Alert(alert) | Self::AlertChanged(alert) => alert.environment_id,
            Self::Escalation(escalation) => escalation.environment_id,
        }
    }
}

/// Who records a write's change log entries, and in which change set: a person's token (or a
/// token issued for an integration), at the write's instant. [`UnitOfWork::attribution`] is the
/// usual way to get one; the demo builds one for history it writes in the past.
pub struct Attribution<'p> {
    /// The person whose token writes.
    pub person: &'p person::Model,
    /// The integration the token was issued for.
    pub integration_id: Option<Uuid>,
    /// `API`, or `PSA`/`RMM` for what an integration's token says its vendor observed.
    pub source: ChangeSource,
    /// When.
    pub now: DateTime<Utc>,
    /// The change set the entries share.
    pub change_set_id: Uuid,
    /// The input's `reason`.
    pub reason: Option<String>,
    /// The input's `ticketId`.
    pub ticket_id: Option<Uuid>,
}

impl Attribution<'_> {
    /// An entry of `summary` in `environment_id`: the person as actor and as the recording
    /// principal (or the integration its token was issued for).
    pub fn entry(&self, environment_id: Uuid, summary: String) -> change_log_entry::Model {
        change_log_entry::Model {
            id: Uuid::now_v7(),
            environment_id,
            summary,
            details: serde_json::json!({}),
            reason: self.reason.clone(),
            actor_id: Some(self.person.id),
            actor_name: self.person.display_name.clone(),
            source: self.source,
            category: ChangeCategory::Other,
            occurred_at: self.now,
            recorded_at: self.now,
            ticket_id: self.ticket_id,
            corrects_id: None,
            change_set_id: Some(self.change_set_id),
            integration_id: self.integration_id,
            organization_id: None,
            principal: if self.integration_id.is_some() {
                Principal::Integration
            } else {
                Principal::Person
            },
            recorded_by_id: Some(self.person.id),
            external_source: None,
            external_id: None,
            external_url: None,
        }
    }

    /// The entry of `note`.
    pub fn note(&self, note: ChangeNote) -> (change_log_entry::Model, Vec<Uuid>) {
        let mut entry = self.entry(note.environment_id, note.summary);
        entry.details = note.details;
        entry.category = note.category;
        (entry, note.system_ids)
    }
}

/// What a write's change log entry says.
pub struct ChangeNote {
    /// The environment changed.
    pub environment_id: Uuid,
    /// The systems changed.
    pub system_ids: Vec<Uuid>,
    /// One line for people.
    pub summary: String,
    /// Structured details.
    pub details: serde_json::Value,
    /// What kind of change.
    pub category: ChangeCategory,
}

impl<'a> UnitOfWork<'a> {
    /// Opens the transaction of one write by `actor`.
    ///
    /// # Errors
    /// When the database is unavailable.
    pub async fn begin(
        db: &DatabaseConnection,
        events: Option<&EventBus>,
        actor: &'a Viewer,
        reason: Option<String>,
        ticket_id: Option<Uuid>,
    ) -> Result<Self, DbErr> {
        Ok(Self {
            txn: begin_write(db).await?,
            actor,
            now: precise(Utc::now()),
            change_set_id: Uuid::now_v7(),
            reason,
            ticket_id,
            source: ChangeSource::Api,
            pending: Vec::new(),
            access_changed: Vec::new(),
            callers_changed: false,
            events: events.cloned(),
            outbox: std::sync::Mutex::default(),
            gaps_before: std::collections::BTreeMap::new(),
        })
    }

    /// Reads the ownership gaps of `environment` (as read in this transaction) as they are before this write
    /// ([`crate::gaps::watched`]: three statements), once per environment: just before COMMIT
    /// they are read again (three more) and one `ownership_gap.opened` or
    /// `ownership_gap.closed` is emitted per gap that differs. Call it, after the locks the
    /// write takes, from every write that can change the matrix in force, the live systems or an
    /// environment's frameworks, for each environment it touches. A new environment has no
    /// gaps before it: watch it once it is written.
    ///
    /// # Errors
    /// Database errors.
    pub async fn watch_gaps(&mut self, environment: &environment::Model) -> Result<(), DbErr> {
        if self.gaps_before.contains_key(&environment.id) {
            return Ok(());
        }
        let before = crate::gaps::watched(&self.txn, environment, self.now).await?;
        self.gaps_before.insert(environment.id, before);
        Ok(())
    }

    /// Has a new environment's gaps announced at commit, from none.
    pub fn watch_new_environment(&mut self, environment_id: Uuid) {
        self.gaps_before.entry(environment_id).or_default();
    }

    /// Locks environment `id` (`FOR NO KEY UPDATE`) for the rest of the transaction and reads it again: writes whose
    /// rules read the environment's other rows (the matrix's overlap and sign-off rules) take
    /// turns per environment. SQLite needs no row lock: its writers already take turns.
    ///
    /// # Errors
    /// Database errors.
    pub async fn lock_environment(&self, id: Uuid) -> Result<Option<environment::Model>, DbErr> {
        // `FOR NO KEY UPDATE`: writers of the environment's rules take turns, while inserts that
        // merely reference it (systems, tickets, entries) are not blocked and cannot deadlock
        // against this lock.
        environment::Entity::find_by_id(id)
            .lock(sea_orm::sea_query::LockType::NoKeyUpdate)
            .one(&self.txn)
            .await
    }

    /// Takes the write's instant again, now that the locks that order it are held: two writes
    /// decided one after the other under the same lock get instants in that order (the one
    /// that began first but waited is stamped after the one it waited for), which is what the
    /// matrix history's "as recorded at" reads rely on.
    pub fn restamp(&mut self) {
        self.now = self.now.max(precise(Utc::now()));
    }

    /// Announces, once the transaction commits, that callers of `organization_id` may have lost
    /// rights (an engagement ended, a person changed), so open subscriptions check theirs again.
    pub fn access_changed(&mut self, organization_id: Uuid) {
        self.access_changed.push(organization_id);
    }

    /// Has the caller cache of this process resolve every caller again once the transaction
    /// commits: the write changes what a viewer holds (a person's or organization's name, an
    /// integration) but nobody's rights. [`UnitOfWork::access_changed`] implies it.
    pub fn callers_changed(&mut self) {
        self.callers_changed = true;
    }

    /// Publishes `entry` to subscribers once the transaction commits (and emits
    /// `change.recorded`).
    pub fn entry_recorded(&mut self, entry: &change_log_entry::Model) {
        self.pending.push(Pending::Entry(entry.clone()));
        self.emit(Item {
            event_type: EventType::ChangeRecorded,
            environment_id: Some(entry.environment_id),
            organization_id: None,
            subject_id: entry.id,
            data: payload::change(entry),
        });
    }

    /// Publishes `ticket` to subscribers once the transaction commits (and emits
    /// `ticket.changed`).
    pub fn ticket_changed(&mut self, ticket: &ticket::Model) {
        self.pending.push(Pending::Ticket(ticket.clone()));
        self.emit(ticket_item(EventType::TicketChanged, ticket));
    }

    /// Publishes the new `ticket` to subscribers once the transaction commits (and emits
    /// `ticket.created`, then `ticket.routed` when the matrix chose its team).
    pub fn ticket_created(&mut self, ticket: &ticket::Model) {
        self.pending.push(Pending::Ticket(ticket.clone()));
        for item in created_ticket_items(ticket) {
            self.emit(item);
        }
    }

    /// Publishes `alert` as raised once the transaction commits (and emits `alert.raised`).
    pub fn alert_raised(&mut self, alert: &entities::alert::Model) {
        self.pending.push(Pending::Alert(alert.clone()));
        self.emit(alert_item(EventType::AlertRaised, alert));
    }

    /// Publishes `alert` as acknowledged or resolved once the transaction commits (and emits
    /// `alert.acknowledged` or `alert.resolved`, after its status).
    pub fn alert_changed(&mut self, alert: &entities::alert::Model) {
        self.pending.push(Pending::AlertChanged(alert.clone()));
        let event_type = if alert.status == entities::enums::AlertStatus::Resolved {
            EventType::AlertResolved
        } else {
            EventType::AlertAcknowledged
        };
        self.emit(alert_item(event_type, alert));
    }

    /// Emits `item` to the outbox (outbound webhooks) with this write's commit.
    pub fn emit(&self, item: Item) {
        self.outbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(item);
    }

    /// How this write's entries are attributed: to its actor, at its instant, in its change set.
    pub fn attribution(&self) -> Attribution<'_> {
        Attribution {
            person: &self.actor.person,
            integration_id: self.actor.integration.as_ref().map(|found| found.id),
            source: self.source,
            now: self.now,
            change_set_id: self.change_set_id,
            reason: self.reason.clone(),
            ticket_id: self.ticket_id,
        }
    }

    /// A change log entry of this write, attributed to its actor: the actor's person as actor
    /// and as the recording principal (or the integration its token was issued for).
    pub fn entry(&self, environment_id: Uuid, summary: String) -> change_log_entry::Model {
        self.attribution().entry(environment_id, summary)
    }

    /// Writes the change log entry of `note`, attributed to the actor.
    ///
    /// # Errors
    /// Database errors.
    pub async fn record(&mut self, note: ChangeNote) -> Result<change_log_entry::Model, DbErr> {
        let (entry, system_ids) = self.attribution().note(note);
        let stored = insert_entry(&self.txn, entry, &system_ids).await?;
        self.entry_recorded(&stored);
        Ok(stored)
    }

    /// Publishes `escalation` to subscribers once the transaction commits (and emits
    /// `ticket.escalated` or `alert.escalated`).
    pub fn escalated(&mut self, escalation: &entities::escalation::Model) {
        self.pending.push(Pending::Escalation(escalation.clone()));
        self.emit(escalation_item(escalation));
    }

    /// Commits the write, then publishes its events. On PostgreSQL they are also announced to
    /// the other servers of the database, inside the transaction just before COMMIT
    /// (`events::fanout`): only a committed write is heard of, in commit order.
    ///
    /// # Errors
    /// When the announcement or the commit fails; nothing was written then.
    pub async fn commit(self) -> Result<(), DbErr> {
        let Self {
            txn,
            pending,
            events,
            access_changed,
            callers_changed,
            outbox,
            actor,
            now,
            gaps_before,
            ..
        } = self;
        let mut items = outbox
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        items.extend(gap_changes(&txn, gaps_before, now).await?);
        let caused_by = actor.integration.as_ref().map(|found| found.id);
        commit_and_publish(
            txn,
            events,
            pending,
            Outboxed {
                items,
                caused_by,
                now,
            },
            access_changed,
            callers_changed,
        )
        .await
    }
}

/// A write Tandem makes on its own, with no person's token behind it (the escalation engine):
/// its change log entries are the system's, and its events are published after commit like a
/// [`UnitOfWork`]'s.
pub struct SystemWork {
    /// The open transaction; dropped without commit, it rolls back.
    pub txn: DatabaseTransaction,
    /// The instant of the write.
    pub now: DateTime<Utc>,
    /// Groups every entry this write records.
    pub change_set_id: Uuid,
    pending: Vec<Pending>,
    /// Events for the outbox, written just before COMMIT as a [`UnitOfWork`]'s.
    outbox: Vec<Item>,
    events: Option<EventBus>,
}

impl SystemWork {
    /// Opens the transaction of one system write at `now`.
    ///
    /// # Errors
    /// When the database is unavailable.
    pub async fn begin(
        db: &DatabaseConnection,
        events: Option<&EventBus>,
        now: DateTime<Utc>,
    ) -> Result<Self, DbErr> {
        Ok(Self {
            txn: begin_write(db).await?,
            now: precise(now),
            change_set_id: Uuid::now_v7(),
            pending: Vec::new(),
            outbox: Vec::new(),
            events: events.cloned(),
        })
    }

    /// Writes `note` as a change log entry of Tandem itself (principal `SYSTEM`, no actor) about
    /// ticket `ticket_id`, and publishes it after commit.
    ///
    /// # Errors
    /// Database errors.
    pub async fn record(
        &mut self,
        note: ChangeNote,
        ticket_id: Option<Uuid>,
    ) -> Result<change_log_entry::Model, DbErr> {
        let entry = change_log_entry::Model {
            id: Uuid::now_v7(),
            environment_id: note.environment_id,
            summary: note.summary,
            details: note.details,
            reason: None,
            actor_id: None,
            actor_name: "Tandem".to_owned(),
            source: ChangeSource::Api,
            category: note.category,
            occurred_at: self.now,
            recorded_at: self.now,
            ticket_id,
            corrects_id: None,
            change_set_id: Some(self.change_set_id),
            integration_id: None,
            organization_id: None,
            principal: Principal::System,
            recorded_by_id: None,
            external_source: None,
            external_id: None,
            external_url: None,
        };
        let stored = insert_entry(&self.txn, entry, &note.system_ids).await?;
        self.outbox.push(Item {
            event_type: EventType::ChangeRecorded,
            environment_id: Some(stored.environment_id),
            organization_id: None,
            subject_id: stored.id,
            data: payload::change(&stored),
        });
        self.pending.push(Pending::Entry(stored.clone()));
        Ok(stored)
    }

    /// Publishes `ticket` to subscribers once the transaction commits (and emits
    /// `ticket.changed`).
    pub fn ticket_changed(&mut self, ticket: &ticket::Model) {
        self.pending.push(Pending::Ticket(ticket.clone()));
        self.outbox
            .push(ticket_item(EventType::TicketChanged, ticket));
    }

    /// Publishes `escalation` to subscribers once the transaction commits (and emits
    /// `ticket.escalated` or `alert.escalated`).
    pub fn escalated(&mut self, escalation: &entities::escalation::Model) {
        self.pending.push(Pending::Escalation(escalation.clone()));
        self.outbox.push(escalation_item(escalation));
    }

    /// Commits, then publishes the events (announced to other servers first, as
    /// [`UnitOfWork::commit`] does).
    ///
    /// # Errors
    /// When the announcement or the commit fails; nothing was written then.
    pub async fn commit(self) -> Result<(), DbErr> {
        let outboxed = Outboxed {
            items: self.outbox,
            caused_by: None,
            now: self.now,
        };
        commit_and_publish(
            self.txn,
            self.events,
            self.pending,
            outboxed,
            Vec::new(),
            false,
        )
        .await
    }
}

/// The `ownership_gap.opened` and `ownership_gap.closed` items of a write: for each watched
/// environment, its watched gaps now (in the write's transaction) against `before`; opened
/// first, each in key order.
///
/// # Errors
/// Database errors.
pub async fn gap_changes(
    txn: &impl sea_orm::ConnectionTrait,
    before: std::collections::BTreeMap<Uuid, std::collections::BTreeMap<GapKey, Gap>>,
    now: DateTime<Utc>,
) -> Result<Vec<Item>, DbErr> {
    let mut items = Vec::new();
    for (environment_id, before) in before {
        let after = match environment::Entity::find_by_id(environment_id)
            .one(txn)
            .await?
        {
            Some(found) => crate::gaps::watched(txn, &found, now).await?,
            None => std::collections::BTreeMap::new(),
        };
        let opened = after
            .iter()
            .filter(|(key, _)| !before.contains_key(key))
            .map(|(_, gap)| (EventType::OwnershipGapOpened, "OPENED", gap));
        let closed = before
            .iter()
            .filter(|(key, _)| !after.contains_key(key))
            .map(|(_, gap)| (EventType::OwnershipGapClosed, "CLOSED", gap));
        for (event_type, change, gap) in opened.chain(closed) {
            let key = gap.key(environment_id);
            items.push(Item {
                event_type,
                environment_id: Some(environment_id),
                organization_id: None,
                // The function or system it is about, else the environment.
                subject_id: key.system_id.or(key.function_id).unwrap_or(environment_id),
                data: payload::ownership_gap(environment_id, gap, change),
            });
        }
    }
    Ok(items)
}

/// What a write leaves in the outbox: its items, the integration whose token or run caused them,
/// and the write's instant.
struct Outboxed {
    items: Vec<Item>,
    caused_by: Option<Uuid>,
    now: DateTime<Utc>,
}

/// Writes `outboxed` to the outbox and commits `txn`, then publishes `pending` (after the
/// `access_changed` announcements) on `events`; on PostgreSQL they are announced to the other
/// servers just before COMMIT. The outbox commits with the write or not at all.
async fn commit_and_publish(
    txn: DatabaseTransaction,
    events: Option<EventBus>,
    pending: Vec<Pending>,
    outboxed: Outboxed,
    access_changed: Vec<Uuid>,
    callers_changed: bool,
) -> Result<(), DbErr> {
    let environment_ids: std::collections::BTreeSet<Uuid> = pending
        .iter()
        .map(Pending::environment_id)
        .chain(outboxed.items.iter().filter_map(|item| item.environment_id))
        .collect();
    let owners: HashMap<Uuid, Uuid> = if environment_ids.is_empty() {
        HashMap::new()
    } else {
        environment::Entity::find()
            .filter(environment::COLUMN.id.is_in(environment_ids))
            .all(&txn)
            .await?
            .into_iter()
            .map(|found| (found.id, found.organization_id))
            .collect()
    };
    // This process's writes publish in `seq` order (`EventBus::turn`), held until published.
    // A write with no outbox items has no `seq` to keep in order and does not wait.
    let _turn = match &events {
        Some(bus) if !outboxed.items.is_empty() => Some(bus.turn().await),
        _ => None,
    };
    // The outbox rows are the last thing written, under the commit-order lock (`outbox::record`).
    let recorded = outbox::record(
        &txn,
        outboxed.items,
        &owners,
        outboxed.caused_by,
        outboxed.now,
    )
    .await?;
    let Some(bus) = events else {
        return txn.commit().await;
    };
    // Rights first: a subscriber checks them before anything that follows.
    let committed: Vec<Event> = access_changed
        .into_iter()
        .map(|organization_id| Event::AccessChanged { organization_id })
        .chain(pending.into_iter().filter_map(|event| {
            let organization_id = *owners.get(&event.environment_id())?;
            Some(match event {
                Pending::Entry(entry) => Event::ChangeLogEntryRecorded {
                    organization_id,
                    entry,
                },
                Pending::Ticket(ticket) => Event::TicketChanged {
                    organization_id,
                    ticket,
                },
                Pending::Alert(alert) => Event::AlertRaised {
                    organization_id,
                    alert,
                },
                Pending::AlertChanged(alert) => Event::AlertChanged {
                    organization_id,
                    alert,
                },
                Pending::Escalation(escalation) => Event::Escalated {
                    organization_id,
                    escalation,
                },
            })
        }))
        .collect();
    let marks = resume::marks(&committed, &recorded);
    fanout::announce(&txn, &bus, callers_changed, &committed, &marks).await?;
    txn.commit().await?;
    if callers_changed {
        bus.callers_changed();
    }
    for (event, mark) in committed.into_iter().zip(marks) {
        bus.publish_marked(event, mark);
    }
    Ok(())
}

/// The outbox item of `event_type` about `ticket`.
#[must_use]
pub fn ticket_item(event_type: EventType, ticket: &ticket::Model) -> Item {
    Item {
        event_type,
        environment_id: Some(ticket.environment_id),
        organization_id: None,
        subject_id: ticket.id,
        data: payload::ticket(ticket),
    }
}

/// The outbox items of a new `ticket`: `ticket.created`, and `ticket.routed` when the matrix
/// chose its team.
#[must_use]
pub fn created_ticket_items(ticket: &ticket::Model) -> Vec<Item> {
    let mut items = vec![ticket_item(EventType::TicketCreated, ticket)];
    if ticket.routed_by_id.is_some() {
        items.push(ticket_item(EventType::TicketRouted, ticket));
    }
    items
}

/// The outbox item of `event_type` about `alert`.
#[must_use]
pub fn alert_item(event_type: EventType, alert: &entities::alert::Model) -> Item {
    Item {
        event_type,
        environment_id: Some(alert.environment_id),
        organization_id: None,
        subject_id: alert.id,
        data: payload::alert(alert),
    }
}

/// The outbox item of `escalation`: `ticket.escalated` or `alert.escalated`.
#[must_use]
pub fn escalation_item(escalation: &entities::escalation::Model) -> Item {
    let event_type = if escalation.alert_id.is_some() {
        EventType::AlertEscalated
    } else {
        EventType::TicketEscalated
    };
    Item {
        event_type,
        environment_id: Some(escalation.environment_id),
        organization_id: None,
        subject_id: escalation
            .alert_id
            .or(escalation.ticket_id)
            .unwrap_or(escalation.id),
        data: payload::escalation(escalation),
    }
}

/// Inserts `entry` and its system links.
///
/// # Errors
/// Database errors.
pub async fn insert_entry(
    txn: &DatabaseTransaction,
    entry: change_log_entry::Model,
    system_ids: &[Uuid],
) -> Result<change_log_entry::Model, DbErr> {
    let stored = entry.into_active_model().insert(txn).await?;
    // A system named twice is one link (the pair is the table's key).
    let system_ids: std::collections::BTreeSet<&Uuid> = system_ids.iter().collect();
    if !system_ids.is_empty() {
        let links = system_ids.into_iter().map(|system_id| {
            change_log_entry_system::Model {
                change_log_entry_id: stored.id,
                system_id: *system_id,
            }
            .into_active_model()
        });
        change_log_entry_system::Entity::insert_many(links)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(stored)
}

/// Records in `changes` that `field` went from `before` to `after`, when they differ: the
/// `details.changes` of an update's change log entry.
pub fn diff(
    changes: &mut serde_json::Map<String, serde_json::Value>,
    field: &str,
    before: impl Into<serde_json::Value>,
    after: impl Into<serde_json::Value>,
) {
    let (before, after) = (before.into(), after.into());
    if before != after {
        changes.insert(
            field.to_owned(),
            serde_json::json!({ "from": before, "to": after }),
        );
    }
}
