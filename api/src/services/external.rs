//! Records that mirror an external system (systems, tickets, alerts, observed changes): how they
//! are keyed, who may say a vendor observed them, and how concurrent writers of one keyspace
//! take turns.
//!
//! An external key is `(organization, source, external id)`: the organization is the tenant that
//! owns the record's environment, so two tenants sending the same vendor id never meet, and a
//! lookup never returns another tenant's record. The sync engine's sources are
//! `<KIND>:<integration id>`; that form is reserved for it, so a bulk call cannot write into an
//! integration's keyspace. Writers of one keyspace take turns ([`lock_keyspaces`]): the lookup
//! that decides between insert and update happens after the lock, inside the transaction, so a
//! resend racing the original converges on the same rows instead of failing on the unique index.
//!
//! What a synced system, ticket or alert is, how it is compared with the stored row and what an
//! update or a first sighting writes is decided here once ([`system_update`], [`new_system`],
//! [`ticket_update`], [`new_ticket`], [`alert_update`], [`new_alert`]) for both writers: the bulk mutations (`services::bulk`) and the sync engine's
//! page writer (`sync::store`).

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use entities::enums::{
    AlertStatus, ChangeCategory, ChangeSource, IntegrationKind, Principal, Priority, SystemKind,
    TicketStatus,
};
use entities::{alert, change_log_entry, system, system_link, ticket};
use sea_orm::prelude::*;
use sea_orm::sea_query::LockType;
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseTransaction, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
};
use serde_json::{Map, Value, json};

use crate::auth::Viewer;
use crate::matrix::Route;
use crate::services::{Check, UserErrorCode, diff};

/// Who observed what a bulk call records. A PSA or an RMM only when the actor's token was
/// issued for an integration of that kind and the source names it; otherwise the API, whatever
/// the source says: a person's script cannot make its writes read as a vendor's.
pub fn observed_by(actor: &Viewer, source: &str) -> ChangeSource {
    let Some(integration) = &actor.integration else {
        return ChangeSource::Api;
    };
    let kind = source
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    match <IntegrationKind as sea_orm::ActiveEnum>::try_from_value(&kind) {
        Ok(kind) if kind == integration.kind => change_source(kind),
        _ => ChangeSource::Api,
    }
}

/// Whether an integration of `kind` is a PSA or an RMM, for the change log's `source`.
#[must_use]
pub fn change_source(kind: IntegrationKind) -> ChangeSource {
    match kind {
        IntegrationKind::ConnectwiseManage
        | IntegrationKind::Autotask
        | IntegrationKind::Halopsa => ChangeSource::Psa,
        IntegrationKind::Ninjaone | IntegrationKind::DattoRmm => ChangeSource::Rmm,
    }
}

/// The change log entry of a change `integration`'s vendor observed, as its sync records it: the
/// integration as actor and principal, `PSA`/`RMM` as source, recorded `now`.
pub fn observed_entry(
    integration: &entities::integration::Model,
    environment_id: Uuid,
    summary: String,
    category: ChangeCategory,
    occurred_at: DateTime<Utc>,
    details: Value,
    now: DateTime<Utc>,
) -> change_log_entry::Model {
    change_log_entry::Model {
        id: Uuid::now_v7(),
        environment_id,
        summary,
        details,
        reason: Some(format!("observed by {}", integration.name)),
        actor_id: None,
        actor_name: integration.name.clone(),
        source: change_source(integration.kind),
        category,
        occurred_at: crate::services::unit::precise(occurred_at),
        recorded_at: crate::services::unit::precise(now),
        ticket_id: None,
        corrects_id: None,
        change_set_id: None,
        integration_id: Some(integration.id),
        organization_id: None,
        principal: Principal::Integration,
        recorded_by_id: None,
        external_source: None,
        external_id: None,
        external_url: None,
    }
}

/// The source of a bulk call: 1 to 100 letters, digits, `_`, `-`, `.` or `:`, and not the sync
/// engine's reserved `<KIND>:<uuid>` form.
pub fn check_source(check: &mut Check, source: &str) -> Option<String> {
    let source = source.trim();
    let valid = !source.is_empty()
        && source.len() <= 100
        && source
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
    if !valid {
        check.fail(
            "source",
            UserErrorCode::Invalid,
            "`source` is 1 to 100 letters, digits, `_`, `-`, `.` or `:`",
        );
        return None;
    }
    if let Some((kind, id)) = source.split_once(':')
        && <IntegrationKind as sea_orm::ActiveEnum>::try_from_value(&kind.to_ascii_uppercase())
            .is_ok()
        && Uuid::parse_str(id).is_ok()
    {
        check.fail(
            "source",
            UserErrorCode::Invalid,
            "`<KIND>:<integration id>` sources are the sync engine's own",
        );
        return None;
    }
    Some(source.to_owned())
}

/// Makes writers of the keyspaces `(organization, source)` take turns until the transaction
/// ends. PostgreSQL: transaction-scoped advisory locks, taken in a fixed order so two writers
/// never deadlock. SQLite: its writers already take turns (`BEGIN IMMEDIATE`).
///
/// # Errors
/// Database errors.
pub async fn lock_keyspaces(
    txn: &DatabaseTransaction,
    source: &str,
    organizations: impl IntoIterator<Item = Uuid>,
) -> Result<(), DbErr> {
    if txn.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let keys: BTreeSet<String> = organizations
        .into_iter()
        .map(|organization| format!("external:{organization}:{source}"))
        .collect();
    for key in keys {
        txn.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            [key.into()],
        ))
        .await?;
    }
    Ok(())
}

/// A table whose rows mirror an external record, keyed `(organization, source, external id)`.
pub trait ExternalRecord: EntityTrait {
    /// The key columns: organization, source, external id (the lookup uses the last two).
    const KEY: [Self::Column; 3];

    /// The primary key column (`id`), the order rows are locked in.
    fn primary_key_column() -> Self::Column;

    /// A row's `(organization, external id)`; `None` for a row created in Tandem.
    fn key(row: &Self::Model) -> Option<(Uuid, String)>;
}

macro_rules! external_record {
    ($($module:ident),+) => {$(
        impl ExternalRecord for entities::$module::Entity {
            const KEY: [Self::Column; 3] = [
                entities::$module::Column::OrganizationId,
                entities::$module::Column::ExternalSource,
                entities::$module::Column::ExternalId,
            ];

            fn key(row: &Self::Model) -> Option<(Uuid, String)> {
                Some((row.organization_id?, row.external_id.clone()?))
            }

            fn primary_key_column() -> Self::Column {
                entities::$module::Column::Id
            }
        }
    )+};
}

external_record!(ticket, alert, change_log_entry);

/// Whether the rows read to decide a write are locked until the transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowLock {
    /// Locked in id order (`FOR NO KEY UPDATE`), so two writers never wait on each other
    /// crosswise and a concurrent hand-written change (a ticket's status, an alert's
    /// acknowledgement) is not overwritten from a stale read. The bulk mutations lock.
    Locked,
    /// Not locked: the sync engine, the only writer of its integration's keyspace (its lease),
    /// reads a thousand rows a page, and locking each would write every row it merely compares.
    Unlocked,
}

/// The rows of `E` mirroring `keys` of `source`, by key: one `IN` query, then exact matching, so
/// a record of another tenant is never returned.
///
/// # Errors
/// Database errors.
pub async fn existing_by_key<E: ExternalRecord>(
    db: &impl ConnectionTrait,
    source: &str,
    keys: Vec<(Uuid, String)>,
    lock: RowLock,
) -> Result<HashMap<(Uuid, String), E::Model>, DbErr> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let [organization_column, source_column, id_column] = E::KEY;
    let wanted: HashSet<(Uuid, String)> = keys.into_iter().collect();
    // By source and ids: the unique index leads with them, so each id is one probe; the tenant
    // is matched below, and a row of another tenant is never returned.
    let mut select = E::find()
        .filter(source_column.eq(source))
        .filter(id_column.is_in(wanted.iter().map(|(_, id)| id.clone())));
    if lock == RowLock::Locked {
        // Naming the tenants costs a probe per tenant and id, but locks no other tenant's row.
        let organizations: BTreeSet<Uuid> = wanted
            .iter()
            .map(|(organization, _)| *organization)
            .collect();
        select = select
            .filter(organization_column.is_in(organizations))
            .order_by_asc(E::primary_key_column())
            .lock(LockType::NoKeyUpdate);
    }
    Ok(select
        .all(db)
        .await?
        .into_iter()
        .filter_map(|row| {
            E::key(&row)
                .filter(|key| wanted.contains(key))
                .map(|key| (key, row))
        })
        .collect())
}

/// Systems of `source` in their tenants' keyspaces by `(organization, external id)`, any
/// resource, for records that point at them.
///
/// # Errors
/// Database errors.
pub async fn systems_by_external_id(
    db: &impl ConnectionTrait,
    source: &str,
    keys: Vec<(Uuid, String)>,
) -> Result<HashMap<(Uuid, String), system::Model>, DbErr> {
    let links = existing_links(db, source, keys).await?;
    let systems: HashMap<Uuid, system::Model> = system::Entity::find()
        .filter(
            system::COLUMN
                .id
                .is_in(links.iter().map(|link| link.system_id)),
        )
        .order_by_asc(system::Column::Id)
        .lock(LockType::NoKeyUpdate)
        .all(db)
        .await?
        .into_iter()
        .map(|found| (found.id, found))
        .collect();
    Ok(links
        .into_iter()
        .filter_map(|link| {
            let organization = link.organization_id?;
            systems
                .get(&link.system_id)
                .map(|found| ((organization, link.external_id), found.clone()))
        })
        .collect())
}

/// The links of `source` (any resource) with `keys`, in their tenants only.
///
/// # Errors
/// Database errors.
pub async fn existing_links(
    db: &impl ConnectionTrait,
    source: &str,
    keys: Vec<(Uuid, String)>,
) -> Result<Vec<system_link::Model>, DbErr> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: HashSet<(Uuid, String)> = keys.into_iter().collect();
    // As in `existing_by_key`: the tenant is matched below.
    Ok(system_link::Entity::find()
        .filter(system_link::COLUMN.source.eq(source))
        .filter(
            system_link::COLUMN
                .external_id
                .is_in(wanted.iter().map(|(_, id)| id.clone())),
        )
        .all(db)
        .await?
        .into_iter()
        .filter(|link| {
            link.organization_id.is_some_and(|organization| {
                wanted.contains(&(organization, link.external_id.clone()))
            })
        })
        .collect())
}

/// What an external system says a ticket is now: the one set of fields every writer of synced
/// tickets (the bulk mutations, the sync engine) compares and writes.
#[derive(Debug, Clone)]
pub struct TicketFacts {
    /// The environment it is about.
    pub environment_id: Uuid,
    /// Its system, when the record names a known one.
    pub system_id: Option<Uuid>,
    /// Its function; `None` keeps the stored one (the engine's records name none).
    pub function_id: Option<Uuid>,
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
    /// When the external system says it was closed or resolved; `None` lets the time of the
    /// write stand for it.
    pub closed_at: Option<DateTime<Utc>>,
}

/// A ticket's key and provenance: the tenant, the source and id, who synced it.
#[derive(Debug, Clone)]
pub struct ExternalKey {
    /// The tenant: the organization of the record's environment.
    pub organization_id: Uuid,
    /// The source.
    pub source: String,
    /// The id at the source.
    pub external_id: String,
    /// The integration that synced it, when an integration did.
    pub integration_id: Option<Uuid>,
    /// A link to the record at the source.
    pub external_url: Option<String>,
}

/// `current` changed to `facts` at `now`: the row to write and the changes (field -> from/to,
/// for the change log), or `None` when nothing differs. A ticket keeps the instant it was first
/// resolved or closed while it stays so; reopening clears them.
pub fn ticket_update(
    current: &ticket::Model,
    facts: &TicketFacts,
    external_url: Option<&str>,
    now: DateTime<Utc>,
) -> Option<(ticket::ActiveModel, Map<String, Value>)> {
    let function_id = facts.function_id.or(current.function_id);
    let mut changes = Map::new();
    diff(
        &mut changes,
        "title",
        current.title.clone(),
        facts.title.clone(),
    );
    diff(
        &mut changes,
        "description",
        current.description.clone(),
        facts.description.clone(),
    );
    diff(
        &mut changes,
        "status",
        json!(current.status),
        json!(facts.status),
    );
    diff(
        &mut changes,
        "priority",
        json!(current.priority),
        json!(facts.priority),
    );
    diff(
        &mut changes,
        "external_status",
        current.external_status.clone(),
        facts.external_status.clone(),
    );
    diff(
        &mut changes,
        "external_priority",
        current.external_priority.clone(),
        facts.external_priority.clone(),
    );
    diff(
        &mut changes,
        "requester",
        current.requester.clone(),
        facts.requester.clone(),
    );
    diff(
        &mut changes,
        "system_id",
        json!(current.system_id),
        json!(facts.system_id),
    );
    diff(
        &mut changes,
        "environment_id",
        json!(current.environment_id),
        json!(facts.environment_id),
    );
    diff(
        &mut changes,
        "function_id",
        json!(current.function_id),
        json!(function_id),
    );
    let (resolved_at, closed_at) = terminal_instants(facts, current, now);
    // The vendor's own instants correct one written before (the sync time, by an older
    // version, or before the vendor named it).
    diff(
        &mut changes,
        "resolved_at",
        json!(current.resolved_at),
        json!(resolved_at),
    );
    diff(
        &mut changes,
        "closed_at",
        json!(current.closed_at),
        json!(closed_at),
    );
    if changes.is_empty() {
        return None;
    }
    let mut model = current.clone().into_active_model();
    model.title = Set(facts.title.clone());
    model.description = Set(facts.description.clone());
    model.status = Set(facts.status);
    model.priority = Set(facts.priority);
    model.external_status = Set(facts.external_status.clone());
    model.external_priority = Set(facts.external_priority.clone());
    model.requester = Set(facts.requester.clone());
    model.system_id = Set(facts.system_id);
    model.function_id = Set(function_id);
    model.environment_id = Set(facts.environment_id);
    if let Some(external_url) = external_url {
        model.external_url = Set(Some(external_url.to_owned()));
    }
    model.resolved_at = Set(resolved_at);
    model.closed_at = Set(closed_at);
    // The vendor moved it on from `NEW`: someone responded, and escalation stops.
    if facts.status != TicketStatus::New && current.responded_at.is_none() {
        model.responded_at = Set(Some(now));
        model.next_escalation_at = Set(None);
    }
    model.updated_at = Set(now);
    Some((model, changes))
}

/// A ticket first seen at the source, routed by `route` (the matrix's decision at its creation
/// time; `None` when it names no function).
pub fn new_ticket(
    facts: TicketFacts,
    key: ExternalKey,
    route: Option<Route>,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> ticket::Model {
    let terminal = matches!(facts.status, TicketStatus::Resolved | TicketStatus::Closed);
    let at = facts.closed_at.unwrap_or(now);
    let plan = route.as_ref().map(|route| route.plan).unwrap_or_default();
    // A ticket first seen already past `NEW` was responded to before Tandem saw it, at the
    // latest when the vendor reported it: nothing escalates it (its due times stay, for the
    // record).
    let responded = facts.status != TicketStatus::New;
    ticket::Model {
        id: Uuid::now_v7(),
        environment_id: facts.environment_id,
        system_id: facts.system_id,
        function_id: facts.function_id,
        integration_id: key.integration_id,
        title: facts.title,
        description: facts.description,
        status: facts.status,
        priority: facts.priority,
        external_status: facts.external_status,
        external_priority: facts.external_priority,
        requester: facts.requester,
        assigned_team_id: route.as_ref().and_then(|route| route.team_id),
        assigned_person_id: None,
        routed_by_id: route.as_ref().and_then(|route| route.responsibility_id),
        routing_reason: route.map(|route| route.reason),
        response_due_at: plan.due.response_due_at,
        resolution_due_at: plan.due.resolution_due_at,
        sla_calendar: plan.due.calendar,
        escalation_level: 0,
        next_escalation_at: plan.next_escalation_at.filter(|_| !responded),
        responded_at: responded.then_some(now.max(created_at)),
        created_at,
        updated_at: now,
        resolved_at: terminal.then_some(at),
        closed_at: (facts.status == TicketStatus::Closed).then_some(at),
        organization_id: Some(key.organization_id),
        external_source: Some(key.source),
        external_id: Some(key.external_id),
        external_url: key.external_url,
    }
}

/// `resolved_at` and `closed_at` of a ticket moving to `facts.status`: the external system's
/// own instant when it names one; otherwise kept from `current` while the ticket stays resolved
/// or closed, set to `now` when it becomes so; cleared when it reopens.
fn terminal_instants(
    facts: &TicketFacts,
    current: &ticket::Model,
    now: DateTime<Utc>,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let resolved = matches!(facts.status, TicketStatus::Resolved | TicketStatus::Closed);
    (
        resolved.then(|| facts.closed_at.or(current.resolved_at).unwrap_or(now)),
        (facts.status == TicketStatus::Closed)
            .then(|| facts.closed_at.or(current.closed_at).unwrap_or(now)),
    )
}

/// What an RMM says an alert is now.
#[derive(Debug, Clone)]
pub struct AlertFacts {
    /// What the RMM reported.
    pub message: String,
    /// Normalized severity.
    pub severity: Priority,
    /// The RMM's own severity.
    pub external_severity: Option<String>,
    /// Whether the RMM has cleared it.
    pub resolved: bool,
    /// When the RMM cleared it; `None` lets the time of the write stand for it.
    pub resolved_at: Option<DateTime<Utc>>,
}

/// `current` changed to `facts` at `now`, or `None` when nothing differs. An alert is resolved
/// once: a later record that still calls it open does not reopen it.
pub fn alert_update(
    current: &alert::Model,
    facts: &AlertFacts,
    now: DateTime<Utc>,
) -> Option<alert::ActiveModel> {
    let resolve = facts.resolved && current.status != AlertStatus::Resolved;
    let unchanged = !resolve
        && current.message == facts.message
        && current.severity == facts.severity
        && current.external_severity == facts.external_severity;
    if unchanged {
        return None;
    }
    let mut model = current.clone().into_active_model();
    model.message = Set(facts.message.clone());
    model.severity = Set(facts.severity);
    model.external_severity = Set(facts.external_severity.clone());
    if resolve {
        model.status = Set(AlertStatus::Resolved);
        model.resolved_at = Set(Some(facts.resolved_at.unwrap_or(now)));
        // Cleared: escalation stops.
        model.next_escalation_at = Set(None);
    }
    model.updated_at = Set(now);
    Some(model)
}

/// An alert first seen at the RMM, on `system_id` in `environment_id`, routed by `route` (the
/// matrix's decision when it was raised).
pub fn new_alert(
    facts: AlertFacts,
    key: ExternalKey,
    (environment_id, system_id): (Uuid, Option<Uuid>),
    route: Option<Route>,
    raised_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> alert::Model {
    let plan = route.as_ref().map(|route| route.plan).unwrap_or_default();
    alert::Model {
        id: Uuid::now_v7(),
        environment_id,
        system_id,
        integration_id: key.integration_id,
        ticket_id: None,
        message: facts.message,
        severity: facts.severity,
        external_severity: facts.external_severity,
        status: if facts.resolved {
            AlertStatus::Resolved
        } else {
            AlertStatus::Open
        },
        raised_at,
        acknowledged_at: None,
        acknowledged_by_id: None,
        resolved_at: facts.resolved.then(|| facts.resolved_at.unwrap_or(now)),
        assigned_team_id: route.as_ref().and_then(|route| route.team_id),
        routed_by_id: route.as_ref().and_then(|route| route.responsibility_id),
        routing_reason: route.map(|route| route.reason),
        response_due_at: plan.due.response_due_at,
        resolution_due_at: plan.due.resolution_due_at,
        sla_calendar: plan.due.calendar,
        escalation_level: 0,
        // A cleared alert needs nobody.
        next_escalation_at: plan.next_escalation_at.filter(|_| !facts.resolved),
        created_at: now,
        updated_at: now,
        organization_id: Some(key.organization_id),
        external_source: Some(key.source),
        external_id: Some(key.external_id),
        external_url: key.external_url,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use sea_orm::ActiveValue;

    use super::*;

    fn facts(status: TicketStatus) -> TicketFacts {
        TicketFacts {
            environment_id: Uuid::nil(),
            system_id: None,
            function_id: None,
            title: "Printer offline".to_owned(),
            description: None,
            status,
            priority: Priority::Medium,
            external_status: Some("New".to_owned()),
            external_priority: None,
            requester: None,
            closed_at: None,
        }
    }

    fn key() -> ExternalKey {
        ExternalKey {
            organization_id: Uuid::nil(),
            source: "CONNECTWISE_MANAGE".to_owned(),
            external_id: "4711".to_owned(),
            integration_id: None,
            external_url: None,
        }
    }

    fn set<T: Clone + Into<sea_orm::Value>>(value: &ActiveValue<T>) -> T {
        value.clone().unwrap()
    }

    #[test]
    fn a_resent_ticket_writes_nothing_and_a_changed_one_names_its_changes() {
        let now = Utc::now();
        let stored = new_ticket(facts(TicketStatus::New), key(), None, now, now);
        assert!(ticket_update(&stored, &facts(TicketStatus::New), None, now).is_none());
        let mut moved = facts(TicketStatus::InProgress);
        moved.function_id = None;
        let (_, changes) = ticket_update(&stored, &moved, None, now).expect("a change");
        assert_eq!(changes.keys().collect::<Vec<_>>(), ["status"]);
    }

    #[test]
    fn a_ticket_keeps_when_it_was_resolved_until_it_reopens() {
        let opened = Utc::now() - Duration::days(3);
        let mut stored = new_ticket(facts(TicketStatus::New), key(), None, opened, opened);
        let resolved_at = opened + Duration::days(1);
        let (model, _) =
            ticket_update(&stored, &facts(TicketStatus::Resolved), None, resolved_at).unwrap();
        assert_eq!(set(&model.resolved_at), Some(resolved_at));
        stored.status = TicketStatus::Resolved;
        stored.resolved_at = Some(resolved_at);
        let later = resolved_at + Duration::days(1);
        let (model, _) = ticket_update(&stored, &facts(TicketStatus::Closed), None, later).unwrap();
        assert_eq!(set(&model.resolved_at), Some(resolved_at), "kept");
        assert_eq!(set(&model.closed_at), Some(later));
        let (model, _) = ticket_update(&stored, &facts(TicketStatus::New), None, later).unwrap();
        assert_eq!(set(&model.resolved_at), None, "reopened");
    }

    #[test]
    fn the_vendors_close_instant_wins_over_the_time_of_the_write() {
        let now = Utc::now();
        let closed_at = now - Duration::days(400);
        let mut closed = facts(TicketStatus::Closed);
        closed.closed_at = Some(closed_at);
        let created = new_ticket(closed.clone(), key(), None, closed_at, now);
        assert_eq!(created.resolved_at, Some(closed_at));
        assert_eq!(created.closed_at, Some(closed_at));
        // A row an older version stamped with its sync time is corrected.
        let mut stamped = new_ticket(facts(TicketStatus::Closed), key(), None, closed_at, now);
        assert_eq!(
            stamped.closed_at,
            Some(now),
            "no vendor instant: the write's time"
        );
        let (model, changes) = ticket_update(&stamped, &closed, None, now).expect("a correction");
        assert_eq!(set(&model.closed_at), Some(closed_at));
        assert!(changes.contains_key("closed_at"));
        stamped.resolved_at = Some(closed_at);
        stamped.closed_at = Some(closed_at);
        assert!(ticket_update(&stamped, &closed, None, now).is_none());
        // Reopened at the vendor: cleared, whatever instant the record still carries.
        let mut reopened = closed.clone();
        reopened.status = TicketStatus::InProgress;
        let (model, _) = ticket_update(&stamped, &reopened, None, now).unwrap();
        assert_eq!(set(&model.closed_at), None);

        let resolved_at = now - Duration::hours(5);
        let alert = AlertFacts {
            message: "Disk C: 95% full".to_owned(),
            severity: Priority::High,
            external_severity: None,
            resolved: true,
            resolved_at: Some(resolved_at),
        };
        let stored = new_alert(alert.clone(), key(), (Uuid::nil(), None), None, now, now);
        assert_eq!(stored.resolved_at, Some(resolved_at));
        let open = alert::Model {
            status: AlertStatus::Open,
            resolved_at: None,
            ..stored
        };
        let model = alert_update(&open, &alert, now).expect("resolving");
        assert_eq!(set(&model.resolved_at), Some(resolved_at));
    }

    #[test]
    fn a_resolved_alert_is_not_reopened_by_a_stale_record() {
        let now = Utc::now();
        let open = AlertFacts {
            message: "Disk C: 95% full".to_owned(),
            severity: Priority::High,
            external_severity: None,
            resolved: false,
            resolved_at: None,
        };
        let mut stored = new_alert(open.clone(), key(), (Uuid::nil(), None), None, now, now);
        let resolved = AlertFacts {
            resolved: true,
            ..open.clone()
        };
        let model = alert_update(&stored, &resolved, now).expect("resolving is a change");
        assert_eq!(set(&model.status), AlertStatus::Resolved);
        stored.status = AlertStatus::Resolved;
        assert!(alert_update(&stored, &open, now).is_none());
        assert!(alert_update(&stored, &resolved, now).is_none());
    }
}

/// What an external system says a system (a device, a configuration item) is now: the one set
/// of fields the bulk mutations and the sync engine compare and write.
#[derive(Debug, Clone)]
pub struct SystemFacts {
    /// Display name.
    pub name: String,
    /// What kind of system; `OTHER` (a vendor that cannot tell) never replaces a known kind.
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
    /// Other facts, merged key by key into the stored ones.
    pub attributes: Map<String, Value>,
    /// Whether the source holds it active: `Some(false)` retires the system; `Some(true)`
    /// brings it back only when this same source retired it (an RMM that always says "active"
    /// never undoes a PSA's retirement, nor a person's); `None` says nothing.
    pub active: Option<bool>,
}

/// The columns a system's change log entry reports: what people track (attributes such as a
/// last-seen time change on every sync and would drown the log).
pub const SYSTEM_COLUMNS: [&str; 9] = [
    "name",
    "kind",
    "hostname",
    "serial_number",
    "mac_address",
    "operating_system",
    "ip_address",
    "environment_id",
    "retired_at",
];

/// `current` as `source` reports it at `now` (moved to `environment_id` when given), or `None`
/// when nothing differs. A system may be seen by several sources (a PSA and an RMM), so what a
/// source does not report never clears what another set: absent fields stay, attributes merge
/// key by key. Each field a source sets is recorded in `attribute_sources`.
pub fn system_update(
    current: &system::Model,
    facts: &SystemFacts,
    source: &str,
    environment_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Option<(system::ActiveModel, Map<String, Value>)> {
    let mut changes = Map::new();
    let mut sources = current
        .attribute_sources
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut model = current.clone().into_active_model();
    let mut changed = |field: &str, old: Option<&str>, new: Option<&str>| -> bool {
        match new {
            Some(new) if old != Some(new) => {
                changes.insert(field.to_owned(), json!({ "from": old, "to": new }));
                sources.insert(field.to_owned(), json!(source));
                true
            }
            _ => false,
        }
    };
    if changed("name", Some(&current.name), Some(&facts.name)) {
        model.name = Set(facts.name.clone());
    }
    let kind = sea_orm::ActiveEnum::to_value(&facts.kind);
    if facts.kind != SystemKind::Other
        && changed(
            "kind",
            Some(&sea_orm::ActiveEnum::to_value(&current.kind)),
            Some(&kind),
        )
    {
        model.kind = Set(facts.kind);
    }
    for (field, old, new) in [
        ("hostname", &current.hostname, &facts.hostname),
        (
            "serial_number",
            &current.serial_number,
            &facts.serial_number,
        ),
        ("mac_address", &current.mac_address, &facts.mac_address),
        (
            "operating_system",
            &current.operating_system,
            &facts.operating_system,
        ),
        ("ip_address", &current.ip_address, &facts.ip_address),
    ] {
        if changed(field, old.as_deref(), new.as_deref()) {
            let value = Set(new.clone());
            match field {
                "hostname" => model.hostname = value,
                "serial_number" => model.serial_number = value,
                "mac_address" => model.mac_address = value,
                "operating_system" => model.operating_system = value,
                _ => model.ip_address = value,
            }
        }
    }
    if let Some(environment_id) = environment_id
        && environment_id != current.environment_id
    {
        changes.insert(
            "environment_id".to_owned(),
            json!({ "from": current.environment_id, "to": environment_id }),
        );
        model.environment_id = Set(environment_id);
    }
    match facts.active {
        Some(false) if current.retired_at.is_none() => {
            changes.insert(
                "retired_at".to_owned(),
                json!({ "from": Value::Null, "to": now }),
            );
            sources.insert("retired_at".to_owned(), json!(source));
            model.retired_at = Set(Some(now));
        }
        Some(true)
            if current.retired_at.is_some()
                && sources.get("retired_at") == Some(&json!(source)) =>
        {
            changes.insert(
                "retired_at".to_owned(),
                json!({ "from": current.retired_at, "to": Value::Null }),
            );
            sources.remove("retired_at");
            model.retired_at = Set(None);
        }
        _ => {}
    }
    let mut attributes = current.attributes.as_object().cloned().unwrap_or_default();
    for (key, value) in &facts.attributes {
        if attributes.get(key) != Some(value) {
            changes.insert(
                key.clone(),
                json!({ "from": attributes.get(key), "to": value }),
            );
            attributes.insert(key.clone(), value.clone());
        }
    }
    if changes.is_empty() {
        return None;
    }
    model.attributes = Set(Value::Object(attributes));
    model.attribute_sources = Set(Value::Object(sources));
    model.updated_at = Set(now);
    Some((model, changes))
}

/// A system first seen at `source`, in `environment_id`: each field it reports recorded as set by
/// that source.
pub fn new_system(
    facts: SystemFacts,
    source: &str,
    environment_id: Uuid,
    now: DateTime<Utc>,
) -> system::Model {
    let mut sources = Map::new();
    for (field, present) in [
        ("name", true),
        ("kind", true),
        ("hostname", facts.hostname.is_some()),
        ("serial_number", facts.serial_number.is_some()),
        ("mac_address", facts.mac_address.is_some()),
        ("operating_system", facts.operating_system.is_some()),
        ("ip_address", facts.ip_address.is_some()),
        ("retired_at", facts.active == Some(false)),
    ] {
        if present {
            sources.insert(field.to_owned(), json!(source));
        }
    }
    system::Model {
        id: Uuid::now_v7(),
        environment_id,
        name: facts.name,
        kind: facts.kind,
        hostname: facts.hostname,
        serial_number: facts.serial_number,
        mac_address: facts.mac_address,
        operating_system: facts.operating_system,
        ip_address: facts.ip_address,
        description: None,
        attributes: Value::Object(facts.attributes),
        attribute_sources: Value::Object(sources),
        // A system first seen inactive (a retired configuration) is recorded, but retired.
        retired_at: (facts.active == Some(false)).then_some(now),
        created_at: now,
        updated_at: now,
    }
}

/// An observed change as the change log may hold it: a summary of 1 to
/// [`crate::services::change_log::MAX_SUMMARY`] characters without NUL, details a bounded JSON
/// object, an instant between 1970 and now. The sync engine checks each observed change with
/// it; the bulk calls check the same fields with the same limits as they read each record.
pub fn check_observed_change(
    check: &mut Check,
    path: &str,
    summary: &str,
    details: Option<Value>,
    occurred_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<(String, Value, DateTime<Utc>)> {
    let summary = check.text(
        &format!("{path}.summary"),
        summary,
        crate::services::change_log::MAX_SUMMARY,
    );
    let details =
        crate::services::change_log::check_details(check, &format!("{path}.details"), details);
    let occurred_at = check.observed_instant(&format!("{path}.occurredAt"), occurred_at, now);
    Some((summary?, details?, occurred_at?))
}

/// Whether a change already recorded under the same key says the same: a resend. A change
/// recorded with other content is refused (the log is append-only; `correctChange` corrects).
pub fn same_observation(
    recorded: &change_log_entry::Model,
    summary: &str,
    details: &Value,
    occurred_at: DateTime<Utc>,
) -> bool {
    recorded.summary == summary
        && &recorded.details == details
        && recorded.occurred_at == crate::services::unit::precise(occurred_at)
}

/// What is wrong with `facts` against the bounds every ticket obeys, whoever writes it (the
/// limits of a hand-written ticket, no NUL); empty when nothing is. The bulk calls check the
/// same fields with the same limits as they read each record.
pub fn ticket_problems(facts: &TicketFacts) -> Vec<crate::services::UserError> {
    use crate::services::inventory::MAX_FIELD;
    use crate::services::work::{MAX_TEXT, MAX_TITLE};
    let mut check = Check::default();
    check.text("title", &facts.title, MAX_TITLE);
    check.optional_text("description", facts.description.as_deref(), MAX_TEXT);
    for (field, value) in [
        ("externalStatus", &facts.external_status),
        ("externalPriority", &facts.external_priority),
        ("requester", &facts.requester),
    ] {
        check.optional_text(field, value.as_deref(), MAX_FIELD);
    }
    check.into_errors()
}
