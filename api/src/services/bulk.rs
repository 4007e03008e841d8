//! Bulk, idempotent upserts of external records for sync jobs written by others: systems,
//! tickets, alerts and observed changes (`upsertSystems`, `upsertTickets`, `upsertAlerts`,
//! `recordChanges`).
//!
//! Records are keyed by `(organization, source, externalId)` ([`crate::services::external`]),
//! so a job can resend a page after a timeout, or while the first send is still in flight, and
//! nothing is duplicated; a record that matches what is stored writes nothing. Each record is
//! checked on its own: a bad record gets user errors under `input.records.<index>` and the others
//! are still written, all valid ones in one transaction, after the keyspaces' lock. At most
//! [`MAX_RECORDS`] per call. What a sync observes changing (a system's OS or IP, a ticket's
//! status) is written to the change log, one change set per call; as a PSA's or RMM's only when
//! the actor's token was issued for such an integration.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, SubsecRound, Utc};
use entities::enums::{ChangeCategory, Priority, Role, SystemKind, TicketStatus};
use entities::{alert, change_log_entry, environment, system, system_link, ticket};
use sea_orm::prelude::*;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::{Value, json};

use crate::auth::Viewer;
use crate::events::EventBus;
use crate::matrix::{DEFAULT_ALERT_FUNCTION, DEFAULT_TICKET_FUNCTION, Router};
use crate::services::change_log::{MAX_REASON, MAX_SUMMARY, check_details};
use crate::services::external::{AlertFacts, ExternalKey, RowLock, SystemFacts, TicketFacts};
use crate::services::{
    ChangeNote, Check, ServiceError, ServiceResult, UnitOfWork, UserError, UserErrorCode, external,
    insert_entry, require_role,
};

// A synced record obeys the same limits as one written by hand.
use crate::services::inventory::{MAX_FIELD, MAX_NAME};
use crate::services::work::{MAX_TEXT, MAX_TITLE};

/// Most records per call.
pub const MAX_RECORDS: usize = 1_000;
/// Who may upsert: sync jobs, and admins running one by hand.
pub const SYNCERS: &[Role] = &[Role::Integration, Role::Admin];

/// One bulk call: where the records come from, and the records.
pub struct Bulk<R> {
    /// The external system, such as `CONNECTWISE_MANAGE` or `my-cmdb`.
    pub source: String,
    /// At most [`MAX_RECORDS`].
    pub records: Vec<R>,
}

/// What happened to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertOutcome {
    /// A new object was created.
    Created,
    /// An existing object was changed.
    Updated,
    /// The stored object already matched; nothing was written.
    Unchanged,
}

/// Counts of what a bulk call did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Records that created an object.
    pub created: i32,
    /// Records that changed an object.
    pub updated: i32,
    /// Records that matched what was stored.
    pub unchanged: i32,
    /// Records refused with user errors.
    pub failed: i32,
}

impl Counts {
    fn add(&mut self, outcome: UpsertOutcome) {
        match outcome {
            UpsertOutcome::Created => self.created += 1,
            UpsertOutcome::Updated => self.updated += 1,
            UpsertOutcome::Unchanged => self.unchanged += 1,
        }
    }
}

/// One record's result.
pub struct Upserted<M> {
    /// The record's position in the call.
    pub index: usize,
    /// What happened.
    pub outcome: UpsertOutcome,
    /// The object as stored.
    pub node: M,
}

/// What a bulk call did: one result per record written or found unchanged, in input order, the
/// counts, and the user errors of the records it refused.
pub struct BulkResult<M> {
    /// Results, in input order.
    pub results: Vec<Upserted<M>>,
    /// Counts.
    pub counts: Counts,
    /// Problems with records (under `input.records.<index>`); those records were skipped.
    pub user_errors: Vec<UserError>,
}

/// One system as the external system sees it.
pub struct SystemRecord {
    /// Its id there.
    pub external_id: String,
    /// The external resource (`device`, `configuration`, ...); default `device`.
    pub resource: Option<String>,
    /// A link to it there.
    pub external_url: Option<String>,
    /// The environment it is in; `None` when the front door could not decode the id.
    pub environment_id: Option<Uuid>,
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
    /// Other facts, a JSON object (replaces the stored ones).
    pub attributes: Option<Value>,
}

/// One ticket as the external system sees it.
pub struct TicketRecord {
    /// Its id there.
    pub external_id: String,
    /// A link to it there.
    pub external_url: Option<String>,
    /// The environment it is about; `None` when the front door could not decode the id.
    pub environment_id: Option<Uuid>,
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
    /// The external id of its system, from the same source.
    pub system_external_id: Option<String>,
    /// The key of its function; routing of a new ticket uses it (`service_desk` when absent).
    pub function_key: Option<String>,
    /// When it was opened there; now when absent.
    pub created_at: Option<DateTime<Utc>>,
}

/// One alert as the RMM sees it.
pub struct AlertRecord {
    /// Its id there.
    pub external_id: String,
    /// A link to it there.
    pub external_url: Option<String>,
    /// The environment of the alerting system; `None` when the front door could not decode it.
    pub environment_id: Option<Uuid>,
    /// What the RMM reported.
    pub message: String,
    /// Normalized severity.
    pub severity: Priority,
    /// The RMM's own severity.
    pub external_severity: Option<String>,
    /// When the RMM raised it.
    pub raised_at: DateTime<Utc>,
    /// Whether the RMM has cleared it.
    pub resolved: bool,
    /// The external id of the alerting system, from the same source.
    pub system_external_id: Option<String>,
    /// The key of its function; routing of a new alert uses it (`endpoint_management` when
    /// absent).
    pub function_key: Option<String>,
}

/// One change as the external system recorded it.
pub struct ChangeRecord {
    /// Its id there (an activity or audit-log id).
    pub external_id: String,
    /// A link to it there.
    pub external_url: Option<String>,
    /// The environment changed; `None` when the front door could not decode the id.
    pub environment_id: Option<Uuid>,
    /// One line saying what changed.
    pub summary: String,
    /// Structured details, a JSON object.
    pub details: Option<Value>,
    /// What kind of change.
    pub category: ChangeCategory,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Who made it, as the external system names them (free text); the actor when absent.
    pub actor_name: Option<String>,
    /// Why, when the external system says.
    pub reason: Option<String>,
    /// External ids of the systems changed, from the same source.
    pub system_external_ids: Vec<String>,
}

/// What every bulk call checks first: the source, the record count, duplicate ids, and the
/// environments the records name (all visible to the caller).
struct Batch {
    source: String,
    check: Check,
    failed: HashSet<usize>,
    environments: HashMap<Uuid, environment::Model>,
    /// Per record: its key and environment, decoded once; `None` for a record already refused.
    targets: Vec<Option<Target>>,
}

/// Where one record of a bulk call goes.
#[derive(Clone)]
struct Target {
    /// The trimmed external id.
    external_id: String,
    environment_id: Uuid,
    /// The tenant whose keyspace the record's key belongs to.
    organization_id: Uuid,
}

impl Batch {
    /// Starts a bulk call `operation` as `actor`: the role, then [`Batch::open`]; a call refused
    /// as a whole answers its user errors.
    async fn start<'r>(
        db: &impl ConnectionTrait,
        actor: &Viewer,
        operation: &str,
        source: &str,
        keys: impl Iterator<Item = (&'r str, Option<Uuid>)>,
        check: Check,
    ) -> ServiceResult<Self> {
        require_role(actor, SYNCERS, operation)?;
        let keys: Vec<(&str, Option<Uuid>)> = keys.collect();
        Self::open(db, actor, source, &keys, check)
            .await?
            .map_err(ServiceError::Refused)
    }

    /// Checks the source, the record count and each record's key, and reads the environments
    /// the records name. `check` holds what the front door found (ids it could not decode: those
    /// records name no environment); on a call-level refusal, the errors to answer with.
    async fn open(
        db: &impl ConnectionTrait,
        actor: &Viewer,
        source: &str,
        records: &[(&str, Option<Uuid>)],
        check: Check,
    ) -> Result<Result<Self, Vec<UserError>>, DbErr> {
        // Problems of the call as a whole refuse every record; a record's own problems (in
        // `check` already, or found below) refuse only that record.
        let mut call = Check::default();
        let source = external::check_source(&mut call, source).unwrap_or_default();
        if records.len() > MAX_RECORDS {
            call.fail(
                "records",
                UserErrorCode::TooLong,
                format!("at most {MAX_RECORDS} records per call"),
            );
        }
        if !call.is_ok() {
            return Ok(Err(call.into_errors()));
        }
        let mut batch = Self {
            source,
            check,
            failed: HashSet::new(),
            environments: HashMap::new(),
            targets: vec![None; records.len()],
        };
        let mut seen = HashSet::new();
        let mut wanted = HashMap::new();
        for (index, (external_id, environment_id)) in records.iter().enumerate() {
            let external_id = external_id.trim();
            if external_id.is_empty() || external_id.len() > 255 || external_id.contains('\0') {
                batch.fail(
                    index,
                    "externalId",
                    UserErrorCode::Invalid,
                    "`externalId` is 1 to 255 characters",
                );
            } else if !seen.insert(external_id.to_owned()) {
                batch.fail(
                    index,
                    "externalId",
                    UserErrorCode::Taken,
                    "the same `externalId` appears earlier in this call",
                );
            }
            match environment_id {
                Some(id) => {
                    wanted.insert(index, *id);
                }
                // The front door already said why.
                None => {
                    batch.failed.insert(index);
                }
            }
        }
        let found = environment::Entity::find()
            .filter(
                environment::COLUMN
                    .id
                    .is_in(wanted.values().copied().collect::<HashSet<_>>()),
            )
            .all(db)
            .await?;
        batch.environments = found
            .into_iter()
            .filter(|found| actor.can_see_organization(found.organization_id))
            .map(|found| (found.id, found))
            .collect();
        for (index, id) in wanted {
            match batch.environments.get(&id) {
                Some(environment) => {
                    batch.targets[index] = Some(Target {
                        external_id: records[index].0.trim().to_owned(),
                        environment_id: id,
                        organization_id: environment.organization_id,
                    });
                }
                None => batch.fail(
                    index,
                    "environmentId",
                    UserErrorCode::NotFound,
                    "no environment with this id",
                ),
            }
        }
        Ok(Ok(batch))
    }

    fn fail(&mut self, index: usize, field: &str, code: UserErrorCode, message: impl Into<String>) {
        self.failed.insert(index);
        self.check
            .fail(&format!("records.{index}.{field}"), code, message);
    }

    /// Where record `index` goes, unless it was refused.
    fn target(&self, index: usize) -> Option<&Target> {
        self.targets[index]
            .as_ref()
            .filter(|_| !self.failed.contains(&index))
    }

    /// The tenant of record `index`'s environment, refused or not.
    fn organization_of(&self, index: usize) -> Option<Uuid> {
        self.targets[index]
            .as_ref()
            .map(|target| target.organization_id)
    }

    /// The keys `(organization, external id)` of the records not refused so far.
    fn keys(&self) -> Vec<(Uuid, String)> {
        (0..self.targets.len())
            .filter_map(|index| self.target(index))
            .map(|target| (target.organization_id, target.external_id.clone()))
            .collect()
    }

    fn counts(&self, mut counts: Counts) -> Counts {
        counts.failed = self.failed.len() as i32;
        counts
    }
}

impl Batch {
    /// Runs one check on record `index`'s `field`; a failure refuses the record.
    fn check_field<T>(
        &mut self,
        index: usize,
        field: &str,
        run: impl FnOnce(&mut Check, &str) -> Option<T>,
    ) -> Option<T> {
        let mut check = Check::default();
        let value = run(&mut check, &format!("records.{index}.{field}"));
        if !check.is_ok() {
            self.failed.insert(index);
            self.check.extend(check.into_errors());
        }
        value
    }

    /// Refuses record `index` when its required text `field` is blank, too long or has a NUL.
    fn require(&mut self, index: usize, field: &str, value: &str, max: usize) {
        self.check_field(index, field, |check, path| check.text(path, value, max));
    }

    /// Refuses record `index` when its optional text `field` is too long or has a NUL.
    fn optional(&mut self, index: usize, field: &str, value: Option<&str>, max: usize) {
        self.check_field(index, field, |check, path| {
            check.optional_text(path, value, max)
        });
    }

    /// Refuses record `index` when `value` is not a plausible instant for something observed.
    fn observed(&mut self, index: usize, field: &str, value: DateTimeUtc, now: DateTimeUtc) {
        self.check_field(index, field, |check, path| {
            check.observed_instant(path, value, now)
        });
    }

    /// The distinct tenants the records write into.
    fn organizations(&self) -> HashSet<Uuid> {
        self.environments
            .values()
            .map(|found| found.organization_id)
            .collect()
    }

    /// The systems of this source the records name (one optional `systemExternalId` per record,
    /// in record order, within its record's tenant); a record naming an unknown one is refused.
    async fn named_systems(
        &mut self,
        db: &impl ConnectionTrait,
        named: Vec<Option<String>>,
    ) -> Result<HashMap<(Uuid, String), system::Model>, DbErr> {
        let keys: Vec<(Uuid, String)> = named
            .iter()
            .enumerate()
            .filter_map(|(index, id)| Some((self.organization_of(index)?, id.clone()?)))
            .collect();
        let systems = external::systems_by_external_id(db, &self.source, keys).await?;
        for (index, system) in named.iter().enumerate() {
            if let (Some(organization), Some(system)) = (self.organization_of(index), system)
                && !systems.contains_key(&(organization, system.clone()))
            {
                let message = format!("no system `{system}` from {}", self.source);
                self.fail(index, "systemExternalId", UserErrorCode::NotFound, message);
            }
        }
        Ok(systems)
    }
}

fn optional(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

/// What a page of tickets or alerts needs once the call's keyspaces are locked: the systems the
/// records name, the matrix router with each record's function, and the stored rows of their
/// keys.
struct Routed<M> {
    systems: HashMap<(Uuid, String), system::Model>,
    router: Router,
    functions: HashMap<usize, Uuid>,
    existing: HashMap<(Uuid, String), M>,
}

/// Opens the call's unit of work (keyspaces locked) and reads, inside it, what routing records
/// of `E` needs; `named` is each record's `(systemExternalId, functionKey)`.
async fn routed<'a, E: external::ExternalRecord>(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &'a Viewer,
    batch: &mut Batch,
    named: Vec<(Option<String>, &Option<String>)>,
    default_function: &str,
) -> Result<(UnitOfWork<'a>, Routed<E::Model>), DbErr> {
    let write = begin(db, events, actor, batch).await?;
    let (systems, function_keys): (Vec<_>, Vec<_>) = named.into_iter().unzip();
    let systems = batch.named_systems(&write.txn, systems).await?;
    let router = Router::load(&write.txn, batch.environments.keys().copied()).await?;
    let functions = record_functions(batch, &router, function_keys.into_iter(), default_function);
    let existing =
        external::existing_by_key::<E>(&write.txn, &batch.source, batch.keys(), RowLock::Locked)
            .await?;
    Ok((
        write,
        Routed {
            systems,
            router,
            functions,
            existing,
        },
    ))
}

/// The function each record names by `functionKey` (or `default`), as the organization of its
/// environment sees it, by record index; a user error under `functionKey` when there is none.
/// Records whose environment is unknown are skipped (they already failed).
fn record_functions<'r>(
    batch: &mut Batch,
    router: &Router,
    keys: impl Iterator<Item = &'r Option<String>>,
    default: &str,
) -> HashMap<usize, Uuid> {
    let mut found = HashMap::new();
    for (index, key) in keys.enumerate() {
        let Some(organization) = batch.organization_of(index) else {
            continue;
        };
        let key = optional(key);
        match router.function_id(organization, key.as_deref().unwrap_or(default)) {
            Some(function) => {
                found.insert(index, function);
            }
            None => batch.fail(
                index,
                "functionKey",
                UserErrorCode::NotFound,
                format!("no function `{}`", key.as_deref().unwrap_or(default)),
            ),
        }
    }
    found
}

async fn begin<'a>(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &'a Viewer,
    batch: &Batch,
) -> Result<UnitOfWork<'a>, DbErr> {
    let mut write = UnitOfWork::begin(
        db,
        events,
        actor,
        Some(format!("observed by {}", batch.source)),
        None,
    )
    .await?;
    write.source = external::observed_by(actor, &batch.source);
    // The lookups that decide between insert and update run after this, in the transaction.
    external::lock_keyspaces(&write.txn, &batch.source, batch.organizations()).await?;
    Ok(write)
}

/// `upsertSystems`: writes `input`'s records as `actor`, each checked on its own; see the module
/// documentation.
///
/// # Errors
/// [`ServiceError::Forbidden`] for a role that may not sync; [`ServiceError::Refused`] when the
/// call as a whole is refused (a bad source, too many records); database errors.
pub async fn upsert_systems(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: Bulk<SystemRecord>,
    check: Check,
) -> ServiceResult<BulkResult<system::Model>> {
    let keys = input
        .records
        .iter()
        .map(|record| (record.external_id.as_str(), record.environment_id));
    let mut batch = Batch::start(db, actor, "upsertSystems", &input.source, keys, check).await?;
    for (index, record) in input.records.iter().enumerate() {
        batch.require(index, "name", &record.name, MAX_NAME);
        for (field, value) in [
            ("resource", &record.resource),
            ("externalUrl", &record.external_url),
            ("hostname", &record.hostname),
            ("serialNumber", &record.serial_number),
            ("macAddress", &record.mac_address),
            ("operatingSystem", &record.operating_system),
            ("ipAddress", &record.ip_address),
        ] {
            batch.optional(index, field, value.as_deref(), MAX_FIELD);
        }
        if record.attributes.is_some() {
            batch.check_field(index, "attributes", |check, path| {
                check_details(check, path, record.attributes.clone())
            });
        }
    }
    let source = batch.source.clone();
    let mut write = begin(db, events, actor, &batch).await?;
    let links = external::existing_links(&write.txn, &source, batch.keys()).await?;
    // Locked in id order: a system with links from two sources is also written by the sync
    // engine, which locks its systems in the same order.
    let linked: HashMap<Uuid, system::Model> = system::Entity::find()
        .filter(
            system::COLUMN
                .id
                .is_in(links.iter().map(|link| link.system_id)),
        )
        .order_by_asc(system::Column::Id)
        .lock(sea_orm::sea_query::LockType::NoKeyUpdate)
        .all(&write.txn)
        .await?
        .into_iter()
        .map(|found| (found.id, found))
        .collect();
    // The environments where a record adds a system, changes one's kind or moves one: their
    // ownership gaps are announced (a batch of known, unchanged systems reads none).
    let mut watched = std::collections::BTreeSet::new();
    for (index, record) in input.records.iter().enumerate() {
        let Some(target) = batch.target(index) else {
            continue;
        };
        let resource = optional(&record.resource).unwrap_or_else(|| "device".to_owned());
        let current = links
            .iter()
            .find(|link| {
                link.external_id == target.external_id
                    && link.resource == resource
                    && link.organization_id == Some(target.organization_id)
            })
            .and_then(|link| linked.get(&link.system_id));
        match current {
            None => {
                watched.insert(target.environment_id);
            }
            Some(current)
                if current.kind != record.kind
                    || current.environment_id != target.environment_id =>
            {
                watched.insert(target.environment_id);
                watched.insert(current.environment_id);
            }
            Some(_) => {}
        }
    }
    for environment_id in watched {
        if let Some(environment) = batch.environments.get(&environment_id) {
            write.watch_gaps(environment).await?;
        }
    }
    let mut results = Vec::new();
    let mut counts = Counts::default();
    for (index, record) in input.records.into_iter().enumerate() {
        let Some(Target {
            external_id,
            environment_id,
            organization_id,
        }) = batch.target(index).cloned()
        else {
            continue;
        };
        let resource = optional(&record.resource).unwrap_or_else(|| "device".to_owned());
        let link = links.iter().find(|link| {
            link.external_id == external_id
                && link.resource == resource
                && link.organization_id == Some(organization_id)
        });
        // Keyed by (resource, external id): the same id under another resource is another record.
        let current = link.and_then(|link| linked.get(&link.system_id));
        let facts = SystemFacts {
            name: record.name.trim().to_owned(),
            kind: record.kind,
            hostname: optional(&record.hostname),
            serial_number: optional(&record.serial_number),
            mac_address: optional(&record.mac_address),
            operating_system: optional(&record.operating_system),
            ip_address: optional(&record.ip_address),
            attributes: record
                .attributes
                .and_then(|attributes| attributes.as_object().cloned())
                .unwrap_or_default(),
            // The bulk call says nothing about retirement.
            active: None,
        };
        let (stored, outcome) = match current {
            Some(current) => match external::system_update(
                current,
                &facts,
                &source,
                Some(environment_id),
                write.now,
            ) {
                None => (current.clone(), UpsertOutcome::Unchanged),
                Some((model, changes)) => {
                    let updated = model.update(&write.txn).await?;
                    let fields: Vec<&str> = changes
                        .keys()
                        .map(String::as_str)
                        .filter(|field| external::SYSTEM_COLUMNS.contains(field))
                        .collect();
                    if !fields.is_empty() {
                        write
                            .record(ChangeNote {
                                environment_id,
                                system_ids: vec![updated.id],
                                summary: format!(
                                    "{source} saw {} change on {}",
                                    fields.join(", "),
                                    updated.name
                                ),
                                details: json!({ "source": source, "external_id": external_id, "changes": changes }),
                                category: ChangeCategory::Inventory,
                            })
                            .await?;
                    }
                    (updated, UpsertOutcome::Updated)
                }
            },
            None => {
                let created = external::new_system(facts, &source, environment_id, write.now)
                    .into_active_model()
                    .insert(&write.txn)
                    .await?;
                system_link::Model {
                    id: Uuid::now_v7(),
                    organization_id: Some(organization_id),
                    system_id: created.id,
                    source: source.clone(),
                    // A token issued for an integration writes as that integration.
                    integration_id: actor.integration.as_ref().map(|found| found.id),
                    resource: resource.clone(),
                    external_id: external_id.clone(),
                    external_url: optional(&record.external_url),
                    created_at: write.now,
                    last_seen_at: write.now,
                }
                .into_active_model()
                .insert(&write.txn)
                .await?;
                write
                    .record(ChangeNote {
                        environment_id,
                        system_ids: vec![created.id],
                        summary: format!("{source} discovered system {}", created.name),
                        details: json!({ "source": source, "external_id": external_id, "discovered": true }),
                        category: ChangeCategory::Inventory,
                    })
                    .await?;
                (created, UpsertOutcome::Created)
            }
        };
        counts.add(outcome);
        results.push(Upserted {
            index,
            outcome,
            node: stored,
        });
    }
    write.commit().await?;
    Ok(BulkResult {
        results,
        counts: batch.counts(counts),
        user_errors: batch.check.into_errors(),
    })
}

/// `upsertTickets`: writes `input`'s records as `actor`, each checked on its own; see the module
/// documentation.
///
/// # Errors
/// [`ServiceError::Forbidden`] for a role that may not sync; [`ServiceError::Refused`] when the
/// call as a whole is refused (a bad source, too many records); database errors.
pub async fn upsert_tickets(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: Bulk<TicketRecord>,
    check: Check,
) -> ServiceResult<BulkResult<ticket::Model>> {
    let keys = input
        .records
        .iter()
        .map(|record| (record.external_id.as_str(), record.environment_id));
    let mut batch = Batch::start(db, actor, "upsertTickets", &input.source, keys, check).await?;
    let source = batch.source.clone();
    let now = Utc::now();
    for (index, record) in input.records.iter().enumerate() {
        batch.require(index, "title", &record.title, MAX_TITLE);
        batch.optional(
            index,
            "description",
            record.description.as_deref(),
            MAX_TEXT,
        );
        for (field, value) in [
            ("externalUrl", &record.external_url),
            ("externalStatus", &record.external_status),
            ("externalPriority", &record.external_priority),
            ("requester", &record.requester),
            ("systemExternalId", &record.system_external_id),
            ("functionKey", &record.function_key),
        ] {
            batch.optional(index, field, value.as_deref(), MAX_FIELD);
        }
        if let Some(created_at) = record.created_at {
            batch.observed(index, "createdAt", created_at, now);
        }
    }
    let named = input
        .records
        .iter()
        .map(|record| (optional(&record.system_external_id), &record.function_key))
        .collect();
    let (
        mut write,
        Routed {
            systems,
            router,
            functions,
            existing,
        },
    ) = routed::<ticket::Entity>(
        db,
        events,
        actor,
        &mut batch,
        named,
        DEFAULT_TICKET_FUNCTION,
    )
    .await?;
    let mut results = Vec::new();
    let mut counts = Counts::default();
    for (index, record) in input.records.into_iter().enumerate() {
        let Some(Target {
            external_id,
            environment_id,
            organization_id,
        }) = batch.target(index).cloned()
        else {
            continue;
        };
        let system_id = optional(&record.system_external_id)
            .and_then(|id| systems.get(&(organization_id, id)))
            .map(|found| found.id);
        let facts = TicketFacts {
            environment_id,
            system_id,
            // A record without a function key keeps the stored function.
            function_id: optional(&record.function_key).and(functions.get(&index).copied()),
            title: record.title.trim().to_owned(),
            description: optional(&record.description),
            status: record.status,
            priority: record.priority,
            external_status: optional(&record.external_status),
            external_priority: optional(&record.external_priority),
            requester: optional(&record.requester),
            // The bulk call names no close instant: the write's time stands for it.
            closed_at: None,
        };
        let external_url = optional(&record.external_url);
        let (stored, outcome) = match existing.get(&(organization_id, external_id.clone())) {
            Some(current) => {
                match external::ticket_update(current, &facts, external_url.as_deref(), write.now) {
                    None => (current.clone(), UpsertOutcome::Unchanged),
                    Some((model, changes)) => {
                        let updated = model.update(&write.txn).await?;
                        write.ticket_changed(&updated);
                        if changes.contains_key("status") {
                            let previous_ticket = write.ticket_id.replace(updated.id);
                            write
                            .record(ChangeNote {
                                environment_id,
                                system_ids: system_id.into_iter().collect(),
                                summary: format!(
                                    "{source} moved ticket {} to {}",
                                    updated.title,
                                    sea_orm::ActiveEnum::to_value(&updated.status)
                                ),
                                details: json!({ "source": source, "external_id": external_id, "changes": changes }),
                                category: ChangeCategory::Incident,
                            })
                            .await?;
                            write.ticket_id = previous_ticket;
                        }
                        (updated, UpsertOutcome::Updated)
                    }
                }
            }
            None => {
                let created_at = record
                    .created_at
                    .map_or(write.now, |instant| instant.trunc_subsecs(6));
                let route = functions.get(&index).map(|function| {
                    router.route(
                        environment_id,
                        *function,
                        system_id,
                        created_at,
                        facts.priority,
                    )
                });
                let key = ExternalKey {
                    organization_id,
                    source: source.clone(),
                    external_id,
                    // A token issued for an integration writes as that integration.
                    integration_id: actor.integration.as_ref().map(|found| found.id),
                    external_url,
                };
                let created = external::new_ticket(facts, key, route, created_at, write.now)
                    .into_active_model()
                    .insert(&write.txn)
                    .await?;
                write.ticket_created(&created);
                (created, UpsertOutcome::Created)
            }
        };
        counts.add(outcome);
        results.push(Upserted {
            index,
            outcome,
            node: stored,
        });
    }
    write.commit().await?;
    Ok(BulkResult {
        results,
        counts: batch.counts(counts),
        user_errors: batch.check.into_errors(),
    })
}

/// `upsertAlerts`: writes `input`'s records as `actor`, each checked on its own; see the module
/// documentation.
///
/// # Errors
/// [`ServiceError::Forbidden`] for a role that may not sync; [`ServiceError::Refused`] when the
/// call as a whole is refused (a bad source, too many records); database errors.
pub async fn upsert_alerts(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: Bulk<AlertRecord>,
    check: Check,
) -> ServiceResult<BulkResult<alert::Model>> {
    let keys = input
        .records
        .iter()
        .map(|record| (record.external_id.as_str(), record.environment_id));
    let mut batch = Batch::start(db, actor, "upsertAlerts", &input.source, keys, check).await?;
    let source = batch.source.clone();
    let now = Utc::now();
    for (index, record) in input.records.iter().enumerate() {
        batch.require(index, "message", &record.message, MAX_TEXT);
        for (field, value) in [
            ("externalUrl", &record.external_url),
            ("externalSeverity", &record.external_severity),
            ("systemExternalId", &record.system_external_id),
            ("functionKey", &record.function_key),
        ] {
            batch.optional(index, field, value.as_deref(), MAX_FIELD);
        }
        batch.observed(index, "raisedAt", record.raised_at, now);
    }
    let named = input
        .records
        .iter()
        .map(|record| (optional(&record.system_external_id), &record.function_key))
        .collect();
    let (
        mut write,
        Routed {
            systems,
            router,
            functions,
            existing,
        },
    ) = routed::<alert::Entity>(db, events, actor, &mut batch, named, DEFAULT_ALERT_FUNCTION)
        .await?;
    let mut results = Vec::new();
    let mut counts = Counts::default();
    for (index, record) in input.records.into_iter().enumerate() {
        let Some(Target {
            external_id,
            environment_id,
            organization_id,
        }) = batch.target(index).cloned()
        else {
            continue;
        };
        let system_id = optional(&record.system_external_id)
            .and_then(|id| systems.get(&(organization_id, id)))
            .map(|found| found.id);
        let severity = record.severity;
        let facts = AlertFacts {
            message: record.message.trim().to_owned(),
            severity,
            external_severity: optional(&record.external_severity),
            resolved: record.resolved,
            resolved_at: None,
        };
        let (stored, outcome) = match existing.get(&(organization_id, external_id.clone())) {
            Some(current) => match external::alert_update(current, &facts, write.now) {
                None => (current.clone(), UpsertOutcome::Unchanged),
                Some(model) => {
                    let updated = model.update(&write.txn).await?;
                    // Resolved by the source: published and emitted as `resolveAlert` does.
                    if current.status != entities::enums::AlertStatus::Resolved
                        && updated.status == entities::enums::AlertStatus::Resolved
                    {
                        write.alert_changed(&updated);
                    }
                    (updated, UpsertOutcome::Updated)
                }
            },
            None => {
                let raised_at = record.raised_at.trunc_subsecs(6);
                let route = functions.get(&index).map(|function| {
                    router.route(
                        environment_id,
                        *function,
                        system_id,
                        raised_at,
                        facts.severity,
                    )
                });
                let key = ExternalKey {
                    organization_id,
                    source: source.clone(),
                    external_id,
                    // A token issued for an integration writes as that integration.
                    integration_id: actor.integration.as_ref().map(|found| found.id),
                    external_url: optional(&record.external_url),
                };
                let created = external::new_alert(
                    facts,
                    key,
                    (environment_id, system_id),
                    route,
                    raised_at,
                    write.now,
                )
                .into_active_model()
                .insert(&write.txn)
                .await?;
                write.alert_raised(&created);
                (created, UpsertOutcome::Created)
            }
        };
        counts.add(outcome);
        results.push(Upserted {
            index,
            outcome,
            node: stored,
        });
    }
    write.commit().await?;
    Ok(BulkResult {
        results,
        counts: batch.counts(counts),
        user_errors: batch.check.into_errors(),
    })
}

/// `recordChanges`: writes `input`'s records as `actor`, each checked on its own; see the module
/// documentation.
///
/// # Errors
/// [`ServiceError::Forbidden`] for a role that may not sync; [`ServiceError::Refused`] when the
/// call as a whole is refused (a bad source, too many records); database errors.
pub async fn record_changes(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: Bulk<ChangeRecord>,
    check: Check,
) -> ServiceResult<BulkResult<change_log_entry::Model>> {
    let keys = input
        .records
        .iter()
        .map(|record| (record.external_id.as_str(), record.environment_id));
    let mut batch = Batch::start(db, actor, "recordChanges", &input.source, keys, check).await?;
    let source = batch.source.clone();
    let mut write = begin(db, events, actor, &batch).await?;
    let mut named = Vec::new();
    for (index, record) in input.records.iter().enumerate() {
        if let Some(organization) = batch.organization_of(index) {
            named.extend(
                record
                    .system_external_ids
                    .iter()
                    .map(|id| (organization, id.clone())),
            );
        }
    }
    let systems = external::systems_by_external_id(&write.txn, &source, named).await?;
    let existing = external::existing_by_key::<change_log_entry::Entity>(
        &write.txn,
        &source,
        batch.keys(),
        RowLock::Unlocked,
    )
    .await?;
    let now = Utc::now();
    let mut details = Vec::with_capacity(input.records.len());
    for (index, record) in input.records.iter().enumerate() {
        let summary = record.summary.trim();
        batch.require(index, "summary", summary, MAX_SUMMARY);
        batch.optional(index, "actorName", record.actor_name.as_deref(), MAX_FIELD);
        batch.optional(index, "reason", record.reason.as_deref(), MAX_REASON);
        batch.optional(
            index,
            "externalUrl",
            record.external_url.as_deref(),
            MAX_FIELD,
        );
        batch.observed(index, "occurredAt", record.occurred_at, now);
        let organization = batch.organization_of(index);
        for external_id in &record.system_external_ids {
            let known = organization.is_some_and(|organization| {
                systems.contains_key(&(organization, external_id.clone()))
            });
            if !known {
                batch.fail(
                    index,
                    "systemExternalIds",
                    UserErrorCode::NotFound,
                    format!("no system `{external_id}` from {source}"),
                );
            }
        }
        let checked = batch.check_field(index, "details", |check, path| {
            check_details(check, path, record.details.clone())
        });
        let current = organization.and_then(|organization| {
            existing.get(&(organization, record.external_id.trim().to_owned()))
        });
        if let (Some(current), Some(checked)) = (current, &checked)
            && !external::same_observation(current, summary, checked, record.occurred_at)
        {
            batch.fail(
                index,
                "externalId",
                UserErrorCode::InvalidState,
                "already recorded with other content; entries are corrected with correctChange",
            );
        }
        details.push(checked);
    }
    let mut results = Vec::new();
    let mut counts = Counts::default();
    for ((index, record), details) in input.records.into_iter().enumerate().zip(details) {
        let Some(Target {
            external_id,
            environment_id,
            organization_id,
        }) = batch.target(index).cloned()
        else {
            continue;
        };
        if let Some(current) = existing.get(&(organization_id, external_id.clone())) {
            counts.add(UpsertOutcome::Unchanged);
            results.push(Upserted {
                index,
                outcome: UpsertOutcome::Unchanged,
                node: current.clone(),
            });
            continue;
        }
        let system_ids: Vec<Uuid> = record
            .system_external_ids
            .iter()
            .filter_map(|id| systems.get(&(organization_id, id.clone())))
            .map(|found| found.id)
            .collect();
        // The actor's name is what the sync job says (free text); who recorded the entry is
        // the authenticated principal, kept apart in `principal` and `recorded_by_id`.
        let mut entry = write.entry(environment_id, record.summary.trim().to_owned());
        entry.details = details.unwrap_or_else(|| json!({}));
        entry.reason = optional(&record.reason);
        if let Some(actor_name) = optional(&record.actor_name) {
            entry.actor_id = None;
            entry.actor_name = actor_name;
        }
        entry.category = record.category;
        entry.occurred_at = record.occurred_at.trunc_subsecs(6);
        entry.ticket_id = None;
        entry.organization_id = Some(organization_id);
        entry.external_source = Some(source.clone());
        entry.external_id = Some(external_id);
        entry.external_url = optional(&record.external_url);
        let stored = insert_entry(&write.txn, entry, &system_ids).await?;
        write.entry_recorded(&stored);
        counts.add(UpsertOutcome::Created);
        results.push(Upserted {
            index,
            outcome: UpsertOutcome::Created,
            node: stored,
        });
    }
    write.commit().await?;
    Ok(BulkResult {
        results,
        counts: batch.counts(counts),
        user_errors: batch.check.into_errors(),
    })
}
