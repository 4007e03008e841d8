//! What one page of vendor records writes, inside the page's transaction.
//!
//! Every write is keyed by the record's external id under the integration's source, and compares
//! before it writes: a page that matches what is stored writes nothing. Records of companies no
//! mapping names are counted skipped and not written (an MSP's PSA holds every client; only the
//! mapped ones are Tandem environments). A queries-per-page budget keeps bulk runs fast: each
//! resource reads what it needs for the whole page in a few `IN` queries and inserts new rows in
//! batches.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, SubsecRound, Utc};
use entities::enums::{AlertStatus, ChangeCategory, Priority, TicketStatus, ValueMappingDomain};
use entities::{
    alert, change_log_entry, change_log_entry_system, environment, integration, sync_run_error,
    system, system_link, ticket, ticket_note, value_mapping,
};
use integrations::model::{
    Alert, Change, Device, Record, RecordError, Resource, Ticket, TicketNote,
};
use integrations::normalize;
use sea_orm::prelude::*;
use sea_orm::{
    ActiveModelTrait, DatabaseTransaction, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use serde_json::{Map, Value, json};

use crate::events::{Event, EventBus};
use crate::gaps::{Gap, GapKey};
use crate::matrix::{DEFAULT_ALERT_FUNCTION, DEFAULT_TICKET_FUNCTION, Router};
use crate::outbox::{self, EventType, Item};
use crate::services::Check;
use crate::services::external::{self, AlertFacts, ExternalKey, RowLock, SystemFacts, TicketFacts};
use crate::services::unit::{
    alert_item, created_ticket_items, escalation_item, gap_changes, ticket_item,
};
use crate::sync::engine::{company_mappings, run_error};
use crate::sync::source_of;

/// Rows per insert statement: below SQLite's and PostgreSQL's bound-parameter limits for the
/// widest table.
const INSERT_CHUNK: usize = 500;

/// What a page (or a run) did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Records read.
    pub fetched: i32,
    /// Records that created something.
    pub created: i32,
    /// Records that changed something.
    pub updated: i32,
    /// Records that matched what was stored.
    pub unchanged: i32,
    /// Records of vendor companies no mapping names: read, not written.
    pub skipped: i32,
    /// Records that could not be read or written.
    pub failed: i32,
}

impl Counts {
    /// Adds `other`.
    pub fn add(&mut self, other: &Self) {
        self.fetched += other.fetched;
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.skipped += other.skipped;
        self.failed += other.failed;
    }
}

/// What a run knows for all its pages.
pub struct RunContext {
    integration: integration::Model,
    run_id: Uuid,
    source: String,
    /// Vendor company id to environment.
    environments: HashMap<String, Uuid>,
    /// Environment to its organization.
    organizations: HashMap<Uuid, Uuid>,
    /// (domain, vendor value) to the normalized value's name.
    mappings: HashMap<(ValueMappingDomain, String), String>,
    /// (domain, vendor value) to the vendor's label of it, from its lookup lists.
    labels: HashMap<(ValueMappingDomain, String), String>,
    router: Router,
    events: Option<EventBus>,
    pending: Vec<Event>,
    /// The outbox rows of `pending`, once the page's outbox is written (`announce_pending`).
    marks: Vec<Option<crate::events::Mark>>,
    /// Outbox items of the page being written, each with the length `pending` had when it was
    /// queued (so a rolled-back savepoint drops its items with its events).
    outbox: Vec<(usize, Item)>,
    /// The vendor company ids read by this run's companies pass.
    listed_companies: HashSet<String>,
    /// The team mapping of an integration that writes back (two-way sync), else `None`.
    team_mapping: Option<HashMap<Uuid, integrations::connector::VendorAssignee>>,
}

impl RunContext {
    /// The vendor company ids the companies pass read (emptied: a run reads them once).
    pub fn take_listed_companies(&mut self) -> HashSet<String> {
        std::mem::take(&mut self.listed_companies)
    }

    /// Loads the company mappings, value mappings and matrix of `found`.
    ///
    /// # Errors
    /// Database errors.
    pub async fn load(
        db: &impl ConnectionTrait,
        found: &integration::Model,
        run_id: Uuid,
        events: Option<EventBus>,
    ) -> Result<Self, DbErr> {
        let mappings = company_mappings(db, found.id).await?;
        let environments: HashMap<String, Uuid> = mappings
            .iter()
            .map(|mapping| (mapping.external_company_id.clone(), mapping.environment_id))
            .collect();
        let organizations = environment::Entity::find()
            .filter(environment::COLUMN.id.is_in(environments.values().copied()))
            .all(db)
            .await?
            .into_iter()
            .map(|found| (found.id, found.organization_id))
            .collect();
        let found_values = value_mapping::Entity::find()
            .filter(value_mapping::COLUMN.integration_id.eq(found.id))
            .all(db)
            .await?;
        let labels = found_values
            .iter()
            .filter_map(|mapping| {
                let label = mapping.external_label.clone()?;
                Some(((mapping.domain, mapping.external_value.clone()), label))
            })
            .collect();
        let values = found_values
            .into_iter()
            .map(|mapping| {
                (
                    (mapping.domain, mapping.external_value),
                    mapping.normalized_value,
                )
            })
            .collect();
        let team_mapping = if crate::writeback::enabled(found) {
            Some(crate::writeback::team_mapping(db, found.id).await?)
        } else {
            None
        };
        Ok(Self {
            team_mapping,
            router: Router::load(db, environments.values().copied()).await?,
            integration: found.clone(),
            run_id,
            source: source_of(found.kind, found.id),
            environments,
            organizations,
            mappings: values,
            labels,
            events,
            pending: Vec::new(),
            marks: Vec::new(),
            outbox: Vec::new(),
            listed_companies: HashSet::new(),
        })
    }

    /// The run this context writes for.
    #[must_use]
    pub fn run_id(&self) -> Uuid {
        self.run_id
    }

    /// This process's turn to write a page's outbox rows, commit and publish
    /// (`EventBus::turn`): hold it from before [`RunContext::announce_pending`] until after
    /// [`RunContext::publish_committed`]. None without a bus.
    pub async fn turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match &self.events {
            Some(bus) => Some(bus.turn().await),
            None => None,
        }
    }

    /// How many events wait for the page to commit.
    #[must_use]
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Forgets the events queued after the first `keep` (their writes were rolled back).
    pub fn discard_pending(&mut self, keep: usize) {
        self.pending.truncate(keep);
        self.outbox.retain(|(mark, _)| *mark < keep);
    }

    /// Writes the page's events to the outbox (outbound webhooks; caused by this integration)
    /// and announces what the page will publish to the other servers of a PostgreSQL database
    /// (`events::fanout`): call it on the page's transaction just before its commit.
    ///
    /// # Errors
    /// Database errors, or PostgreSQL refusing the notification; the page must then not commit.
    pub async fn announce_pending(&mut self, txn: &DatabaseTransaction) -> Result<(), DbErr> {
        let items = std::mem::take(&mut self.outbox)
            .into_iter()
            .map(|(_, item)| item)
            .collect();
        let recorded = outbox::record(
            txn,
            items,
            &self.organizations,
            Some(self.integration.id),
            Utc::now().trunc_subsecs(6),
        )
        .await?;
        self.marks = crate::events::resume::marks(&self.pending, &recorded);
        match &self.events {
            Some(bus) => {
                crate::events::fanout::announce(txn, bus, false, &self.pending, &self.marks).await
            }
            None => Ok(()),
        }
    }

    /// Publishes what the last committed page wrote to subscribers.
    pub fn publish_committed(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        let marks = std::mem::take(&mut self.marks);
        if let Some(events) = &self.events {
            for (at, event) in pending.into_iter().enumerate() {
                events.publish_marked(event, marks.get(at).copied().flatten());
            }
        }
    }

    fn environment(&self, company_id: Option<&str>) -> Option<Uuid> {
        company_id.and_then(|company| self.environments.get(company).copied())
    }

    /// The tenant of `environment_id`: whose keyspace the records written there belong to.
    fn tenant(&self, environment_id: Uuid) -> Option<Uuid> {
        self.organizations.get(&environment_id).copied()
    }

    fn status(&self, record: &Ticket) -> TicketStatus {
        self.mappings
            .get(&(ValueMappingDomain::TicketStatus, record.status.clone()))
            .and_then(|name| <TicketStatus as sea_orm::ActiveEnum>::try_from_value(name).ok())
            .unwrap_or_else(|| {
                normalize::status(
                    record.status_label.as_deref().unwrap_or(&record.status),
                    record.closed,
                )
            })
    }

    /// The vendor's label of `value` in `domain`: what the record says, else the vendor's lookup
    /// list, else the value itself. Some vendors (Autotask) send only the id on a ticket; the id
    /// stays in the integration's value mappings (`externalValue` beside `externalLabel`).
    fn label(&self, domain: ValueMappingDomain, said: Option<&String>, value: &str) -> String {
        said.or_else(|| self.labels.get(&(domain, value.to_owned())))
            .map_or_else(|| value.to_owned(), Clone::clone)
    }

    fn priority(&self, record: &Ticket) -> Priority {
        let Some(value) = &record.priority else {
            return Priority::Medium;
        };
        self.mappings
            .get(&(ValueMappingDomain::TicketPriority, value.clone()))
            .and_then(|name| <Priority as sea_orm::ActiveEnum>::try_from_value(name).ok())
            .unwrap_or_else(|| {
                normalize::priority(record.priority_label.as_deref().unwrap_or(value))
            })
    }

    /// Queues the event `make` builds for the page's commit, and its outbox items (`items`, or
    /// the event's own: `change.recorded`, `ticket.changed`, `alert.raised`).
    fn event_with(
        &mut self,
        environment_id: Uuid,
        items: Option<Vec<Item>>,
        make: impl FnOnce(Uuid) -> Event,
    ) {
        let Some(&organization_id) = self.organizations.get(&environment_id) else {
            return;
        };
        let event = make(organization_id);
        let items = items.unwrap_or_else(|| match &event {
            Event::ChangeLogEntryRecorded { entry, .. } => vec![Item {
                event_type: EventType::ChangeRecorded,
                environment_id: Some(entry.environment_id),
                organization_id: None,
                subject_id: entry.id,
                data: crate::outbox::payload::change(entry),
            }],
            Event::TicketChanged { ticket, .. } => {
                vec![ticket_item(EventType::TicketChanged, ticket)]
            }
            Event::AlertRaised { alert, .. } => vec![alert_item(EventType::AlertRaised, alert)],
            Event::AlertChanged { alert, .. } => {
                vec![alert_item(EventType::AlertResolved, alert)]
            }
            Event::Escalated { escalation, .. } => vec![escalation_item(escalation)],
            Event::AccessChanged { .. } | Event::EventsMissed => Vec::new(),
        });
        let mark = self.pending.len();
        self.outbox
            .extend(items.into_iter().map(|item| (mark, item)));
        // Queued even without a bus (nothing is published then): its place in `pending` is what
        // a rolled-back savepoint discards its outbox items by.
        self.pending.push(event);
    }

    fn event(&mut self, environment_id: Uuid, make: impl FnOnce(Uuid) -> Event) {
        self.event_with(environment_id, None, make);
    }

    fn change_entry(
        &self,
        environment_id: Uuid,
        summary: String,
        category: ChangeCategory,
        occurred_at: DateTime<Utc>,
        details: Value,
    ) -> change_log_entry::Model {
        external::observed_entry(
            &self.integration,
            environment_id,
            summary,
            category,
            occurred_at,
            details,
            Utc::now(),
        )
    }
}

/// Writes one page in its transaction.
pub struct PageWriter<'a> {
    txn: &'a DatabaseTransaction,
    ctx: &'a mut RunContext,
    change_set_id: Uuid,
    entries: Vec<(change_log_entry::Model, Vec<Uuid>)>,
}

impl<'a> PageWriter<'a> {
    /// A writer for one page.
    pub fn new(txn: &'a DatabaseTransaction, ctx: &'a mut RunContext) -> Self {
        Self {
            txn,
            ctx,
            change_set_id: Uuid::now_v7(),
            entries: Vec::new(),
        }
    }

    /// Writes `records` of `resource`; `seen`, when given, collects the external ids read (to
    /// find what a complete snapshot no longer lists).
    ///
    /// # Errors
    /// Database errors; a bad record is counted failed and recorded on the run instead.
    pub async fn write(
        &mut self,
        resource: Resource,
        records: Vec<Result<Record, RecordError>>,
        seen: Option<&mut HashSet<String>>,
    ) -> Result<Counts, DbErr> {
        let mut counts = Counts {
            fetched: records.len() as i32,
            ..Counts::default()
        };
        let mut errors = Vec::new();
        let mut good = Vec::new();
        for record in records {
            match record {
                Ok(record) => good.push(record),
                Err(error) => errors.push(run_error(
                    self.ctx.run_id,
                    resource,
                    error.external_id,
                    error.reason,
                )),
            }
        }
        counts.failed = errors.len() as i32;
        if resource == Resource::Companies {
            // A company the vendor lists but that could not be read is still listed: a mapping
            // to it does not "match nothing".
            self.ctx
                .listed_companies
                .extend(errors.iter().filter_map(|error| error.external_id.clone()));
        }
        if let Some(seen) = seen {
            // A record the vendor still lists but that could not be read is not gone.
            seen.extend(good.iter().map(|record| record.external_id().to_owned()));
            seen.extend(errors.iter().filter_map(|error| error.external_id.clone()));
        }
        match resource {
            Resource::Companies => self.companies(good, &mut counts).await?,
            Resource::Devices => self.devices(good, &mut counts).await?,
            Resource::Tickets => self.tickets(good, &mut counts, &mut errors).await?,
            Resource::Alerts => self.alerts(good, &mut counts).await?,
            Resource::Changes => self.changes(good, &mut counts, &mut errors).await?,
        }
        self.flush_entries().await?;
        for chunk in errors.chunks(INSERT_CHUNK) {
            sync_run_error::Entity::insert_many(
                chunk
                    .iter()
                    .cloned()
                    .map(IntoActiveModel::into_active_model),
            )
            .exec_without_returning(self.txn)
            .await?;
        }
        Ok(counts)
    }

    async fn companies(&mut self, records: Vec<Record>, counts: &mut Counts) -> Result<(), DbErr> {
        use entities::integration_mapping;
        let mappings = company_mappings(self.txn, self.ctx.integration.id).await?;
        for record in records {
            let Record::Company(company) = record else {
                continue;
            };
            self.ctx
                .listed_companies
                .insert(company.external_id.clone());
            match mappings
                .iter()
                .find(|mapping| mapping.external_company_id == company.external_id)
            {
                Some(mapping)
                    if mapping.external_company_name.as_deref() != Some(&company.name) =>
                {
                    let mut model = mapping.clone().into_active_model();
                    model.external_company_name = Set(Some(company.name));
                    model.updated_at = Set(Utc::now().trunc_subsecs(6));
                    integration_mapping::ActiveModel::update(model, self.txn).await?;
                    counts.updated += 1;
                }
                Some(_) => counts.unchanged += 1,
                None => counts.skipped += 1,
            }
        }
        Ok(())
    }

    /// Systems of the integration's source with these external ids, by external id.
    async fn linked(
        &self,
        external_ids: impl IntoIterator<Item = String>,
        lock: RowLock,
    ) -> Result<HashMap<String, system::Model>, DbErr> {
        let ids: Vec<String> = external_ids.into_iter().collect();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let links = system_link::Entity::find()
            .filter(system_link::COLUMN.source.eq(self.ctx.source.clone()))
            .filter(system_link::COLUMN.external_id.is_in(ids))
            .all(self.txn)
            .await?;
        let mut select = system::Entity::find().filter(
            system::COLUMN
                .id
                .is_in(links.iter().map(|link| link.system_id)),
        );
        // Systems this page writes are locked in id order, as the bulk upserts lock the systems
        // they write; systems a ticket or alert merely points at are not.
        if lock == RowLock::Locked {
            select = select
                .order_by_asc(system::Column::Id)
                .lock(sea_orm::sea_query::LockType::NoKeyUpdate);
        }
        let systems: HashMap<Uuid, system::Model> = select
            .all(self.txn)
            .await?
            .into_iter()
            .map(|found| (found.id, found))
            .collect();
        Ok(links
            .into_iter()
            .filter_map(|link| Some((link.external_id, systems.get(&link.system_id)?.clone())))
            .collect())
    }

    async fn devices(&mut self, records: Vec<Record>, counts: &mut Counts) -> Result<(), DbErr> {
        let devices: Vec<Device> = records
            .into_iter()
            .filter_map(|record| match record {
                Record::Device(device) => Some(device),
                _ => None,
            })
            .collect();
        let linked = self
            .linked(
                devices.iter().map(|device| device.external_id.clone()),
                RowLock::Locked,
            )
            .await?;
        // Only devices seen for the first time are matched against other sources' systems; a
        // page of known devices (every run after the first) reads no candidates.
        let environments: HashSet<Uuid> = devices
            .iter()
            .filter(|device| !linked.contains_key(&device.external_id))
            .filter_map(|device| self.ctx.environment(Some(&device.company_id)))
            .collect();
        // Candidates for matching a device another source already brought in: systems this
        // source has not linked yet (two of its own devices are never one system).
        let mut candidates = if environments.is_empty() {
            Vec::new()
        } else {
            system::Entity::find()
                .filter(system::COLUMN.environment_id.is_in(environments))
                .filter(system::COLUMN.retired_at.is_null())
                .all(self.txn)
                .await?
        };
        let own: HashSet<Uuid> = if candidates.is_empty() {
            HashSet::new()
        } else {
            system_link::Entity::find()
                .filter(system_link::COLUMN.source.eq(self.ctx.source.clone()))
                .filter(
                    system_link::COLUMN
                        .system_id
                        .is_in(candidates.iter().map(|found| found.id)),
                )
                .all(self.txn)
                .await?
                .into_iter()
                .map(|link| link.system_id)
                .collect()
        };
        candidates.retain(|found| !own.contains(&found.id));
        let now = Utc::now().trunc_subsecs(6);
        let gaps_before = self.gaps_before(&devices, &linked, now).await?;
        for device in devices {
            let Some(environment_id) = self.ctx.environment(Some(&device.company_id)) else {
                counts.skipped += 1;
                continue;
            };
            // A device linked to a system of another tenant (its company was remapped) is a new
            // device for this one: the other tenant's system is never moved over.
            let tenant = self.ctx.tenant(environment_id);
            let current = match linked
                .get(&device.external_id)
                .filter(|found| self.ctx.tenant(found.environment_id) == tenant)
            {
                Some(found) => Some(found.clone()),
                None => {
                    let matched = match_device(&candidates, environment_id, &device).cloned();
                    if let Some(found) = &matched {
                        self.link(found.id, environment_id, &device, now).await?;
                        candidates.retain(|candidate| candidate.id != found.id);
                    }
                    matched
                }
            };
            match current {
                Some(current) => {
                    let Some((model, changed)) = self.apply(&current, &device, now) else {
                        counts.unchanged += 1;
                        continue;
                    };
                    let updated = model.update(self.txn).await?;
                    let observed: Vec<&str> = changed
                        .keys()
                        .map(String::as_str)
                        .filter(|field| external::SYSTEM_COLUMNS.contains(field))
                        .collect();
                    if !observed.is_empty() {
                        let entry = self.ctx.change_entry(
                            environment_id,
                            format!(
                                "{} saw {} change on {}",
                                self.ctx.integration.name,
                                observed.join(", "),
                                updated.name
                            ),
                            ChangeCategory::Inventory,
                            now,
                            json!({ "source": self.ctx.source, "external_id": device.external_id, "changes": changed }),
                        );
                        self.entries.push((entry, vec![updated.id]));
                    }
                    counts.updated += 1;
                }
                None => {
                    let created = self.create_system(environment_id, &device, now).await?;
                    let entry = self.ctx.change_entry(
                        environment_id,
                        format!("{} discovered system {}", self.ctx.integration.name, created.name),
                        ChangeCategory::Inventory,
                        now,
                        json!({ "source": self.ctx.source, "external_id": device.external_id, "discovered": true }),
                    );
                    self.entries.push((entry, vec![created.id]));
                    counts.created += 1;
                }
            }
        }
        let mark = self.ctx.pending.len();
        for item in gap_changes(self.txn, gaps_before, now).await? {
            self.ctx.outbox.push((mark, item));
        }
        Ok(())
    }

    /// The ownership gaps, before this page, of the environments where a device of it adds a
    /// system, changes one's kind, retires or revives one (see `UnitOfWork::watch_gaps`): a
    /// page of known, unchanged devices reads nothing.
    async fn gaps_before(
        &self,
        devices: &[Device],
        linked: &HashMap<String, system::Model>,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<Uuid, BTreeMap<GapKey, Gap>>, DbErr> {
        let mut watched = BTreeSet::new();
        for device in devices {
            let Some(environment_id) = self.ctx.environment(Some(&device.company_id)) else {
                continue;
            };
            match linked.get(&device.external_id) {
                Some(found)
                    if found.environment_id == environment_id
                        && found.kind == device.kind
                        && found.retired_at.is_none() == device.active => {}
                Some(found) => {
                    watched.insert(environment_id);
                    watched.insert(found.environment_id);
                }
                None => {
                    watched.insert(environment_id);
                }
            }
        }
        // Only environments this run writes to (its tenant's).
        watched.retain(|id| self.ctx.organizations.contains_key(id));
        let mut before = BTreeMap::new();
        if watched.is_empty() {
            return Ok(before);
        }
        for found in environment::Entity::find()
            .filter(environment::COLUMN.id.is_in(watched))
            .all(self.txn)
            .await?
        {
            let gaps = crate::gaps::watched(self.txn, &found, now).await?;
            before.insert(found.id, gaps);
        }
        Ok(before)
    }

    async fn link(
        &self,
        system_id: Uuid,
        environment_id: Uuid,
        device: &Device,
        now: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        system_link::Model {
            id: Uuid::now_v7(),
            organization_id: self.ctx.tenant(environment_id),
            system_id,
            source: self.ctx.source.clone(),
            integration_id: Some(self.ctx.integration.id),
            resource: device.resource.to_owned(),
            external_id: device.external_id.clone(),
            external_url: device.url.clone(),
            created_at: now,
            last_seen_at: now,
        }
        .into_active_model()
        .insert(self.txn)
        .await?;
        Ok(())
    }

    async fn create_system(
        &self,
        environment_id: Uuid,
        device: &Device,
        now: DateTime<Utc>,
    ) -> Result<system::Model, DbErr> {
        let created =
            external::new_system(device_facts(device), &self.ctx.source, environment_id, now)
                .into_active_model()
                .insert(self.txn)
                .await?;
        self.link(created.id, created.environment_id, device, now)
            .await?;
        Ok(created)
    }

    /// The changes `device` brings to `current` (`services::external::system_update`): what
    /// the vendor does not report is left as another source set it.
    fn apply(
        &self,
        current: &system::Model,
        device: &Device,
        now: DateTime<Utc>,
    ) -> Option<(system::ActiveModel, Map<String, Value>)> {
        external::system_update(current, &device_facts(device), &self.ctx.source, None, now)
    }

    async fn tickets(
        &mut self,
        records: Vec<Record>,
        counts: &mut Counts,
        errors: &mut Vec<sync_run_error::Model>,
    ) -> Result<(), DbErr> {
        let tickets: Vec<Ticket> = records
            .into_iter()
            .filter_map(|record| match record {
                Record::Ticket(found) => Some(found),
                _ => None,
            })
            .collect();
        // Keyed within the tenant of the environment each record maps to: a record whose company
        // now maps to another client's environment is that client's own record, never the
        // first client's row moved over.
        let keys = tickets
            .iter()
            .filter_map(|found| {
                let environment = self.ctx.environment(Some(&found.company_id))?;
                Some((self.ctx.tenant(environment)?, found.external_id.clone()))
            })
            .collect();
        let existing = external::existing_by_key::<ticket::Entity>(
            self.txn,
            &self.ctx.source,
            keys,
            RowLock::Unlocked,
        )
        .await?;
        let devices = self
            .linked(
                tickets.iter().filter_map(|found| found.device_id.clone()),
                RowLock::Unlocked,
            )
            .await?;
        let now = Utc::now().trunc_subsecs(6);
        let mut created = Vec::new();
        // Two-way sync: Tandem's status pushes still pending for these tickets (see the
        // conflict rule below), and the writes routing queues.
        let pending = if self.ctx.team_mapping.is_some() {
            crate::writeback::pending_statuses(self.txn, existing.values().map(|found| found.id))
                .await?
        } else {
            HashMap::new()
        };
        let mut jobs = Vec::new();
        // Per ticket: its notes as the vendor has them, and the ticket when it was otherwise
        // unchanged (its `ticket.changed` is then the notes' to emit).
        let mut note_sets = Vec::new();
        for mut record in tickets {
            let Some(environment_id) = self.ctx.environment(Some(&record.company_id)) else {
                counts.skipped += 1;
                continue;
            };
            let notes = record.notes.take();
            let system_id = record
                .device_id
                .as_ref()
                .and_then(|id| devices.get(id))
                .filter(|found| found.environment_id == environment_id)
                .map(|found| found.id);
            let Some(organization_id) = self.ctx.tenant(environment_id) else {
                counts.skipped += 1;
                continue;
            };
            let mut facts = TicketFacts {
                environment_id,
                system_id,
                function_id: None,
                title: record.title.clone(),
                description: record.description.clone(),
                status: self.ctx.status(&record),
                priority: self.ctx.priority(&record),
                external_status: Some(self.ctx.label(
                    ValueMappingDomain::TicketStatus,
                    record.status_label.as_ref(),
                    &record.status,
                )),
                external_priority: record
                    .priority
                    .as_deref()
                    .map(|value| {
                        self.ctx.label(
                            ValueMappingDomain::TicketPriority,
                            record.priority_label.as_ref(),
                            value,
                        )
                    })
                    .or_else(|| record.priority_label.clone()),
                requester: record.requester.clone(),
                // Checked like every observed instant; one out of bounds (before 1970, in the
                // future) is not believed and the sync time stands for it.
                closed_at: record.closed_at.and_then(|at| {
                    Check::default().observed_instant("closedAt", at.trunc_subsecs(6), now)
                }),
            };
            let problems = external::ticket_problems(&facts);
            if !problems.is_empty() {
                let reasons: Vec<String> = problems
                    .into_iter()
                    .map(|problem| problem.message)
                    .collect();
                errors.push(run_error(
                    self.ctx.run_id,
                    Resource::Tickets,
                    Some(record.external_id.clone()),
                    reasons.join("; "),
                ));
                counts.failed += 1;
                continue;
            }
            match existing.get(&(organization_id, record.external_id.clone())) {
                Some(current) => {
                    if let Some(pushes) = pending.get(&current.id) {
                        let landed = facts.external_status.as_ref().is_some_and(|vendor| {
                            pushes
                                .iter()
                                .filter_map(crate::writeback::pushed_status)
                                .any(|pushed| &pushed == vendor)
                        });
                        // `landed`: the vendor shows what a push in flight sent (the worker has
                        // not recorded it yet): Tandem's own value, not a conflict.
                        if landed || facts.external_status == current.external_status {
                            // The vendor did not move the status: Tandem's pending push stands
                            // (the vendor's old value must not revert it before it goes out).
                            facts.status = current.status;
                            facts.closed_at = current.closed_at;
                        } else {
                            // The vendor moved it while Tandem's push was pending: the vendor
                            // wins, the push is dropped, and Tandem's value is kept here.
                            let vendor = facts.external_status.clone().unwrap_or_default();
                            crate::writeback::drop_superseded(self.txn, pushes, &vendor, now)
                                .await?;
                            let mut entry = self.ctx.change_entry(
                                environment_id,
                                format!(
                                    "Status conflict on ticket {}: {} set {}, Tandem's {} was not pushed",
                                    current.title,
                                    self.ctx.integration.name,
                                    vendor,
                                    sea_orm::ActiveEnum::to_value(&current.status)
                                ),
                                ChangeCategory::Incident,
                                now,
                                json!({
                                    "source": self.ctx.source,
                                    "external_id": record.external_id,
                                    "conflict": {
                                        "field": "status",
                                        "winner": "vendor",
                                        "vendor": { "status": facts.status, "external_status": vendor },
                                        "tandem": {
                                            "status": current.status,
                                            "pushed": pushes.iter().filter_map(crate::writeback::pushed_status).collect::<Vec<_>>(),
                                        },
                                    },
                                }),
                            );
                            entry.ticket_id = Some(current.id);
                            self.entries.push((entry, system_id.into_iter().collect()));
                        }
                    }
                    let Some((model, changes)) =
                        external::ticket_update(current, &facts, record.url.as_deref(), now)
                    else {
                        counts.unchanged += 1;
                        if let Some(notes) = notes {
                            note_sets.push((current.id, notes, Some(current.clone())));
                        }
                        continue;
                    };
                    if let Some(notes) = notes {
                        note_sets.push((current.id, notes, None));
                    }
                    let updated = model.update(self.txn).await?;
                    if changes.contains_key("status") {
                        let mut entry = self.ctx.change_entry(
                            environment_id,
                            format!(
                                "{} moved ticket {} to {}",
                                self.ctx.integration.name,
                                updated.title,
                                sea_orm::ActiveEnum::to_value(&updated.status)
                            ),
                            ChangeCategory::Incident,
                            now,
                            json!({ "source": self.ctx.source, "external_id": record.external_id, "changes": changes }),
                        );
                        entry.ticket_id = Some(updated.id);
                        self.entries.push((entry, system_id.into_iter().collect()));
                    }
                    self.ctx
                        .event(environment_id, |organization_id| Event::TicketChanged {
                            organization_id,
                            ticket: updated.clone(),
                        });
                    counts.updated += 1;
                }
                None => {
                    let created_at = record.created_at.trunc_subsecs(6);
                    let route = self
                        .ctx
                        .router
                        .function_id(organization_id, DEFAULT_TICKET_FUNCTION)
                        .map(|function| {
                            self.ctx.router.route(
                                environment_id,
                                function,
                                system_id,
                                created_at,
                                facts.priority,
                            )
                        });
                    let key = ExternalKey {
                        organization_id,
                        source: self.ctx.source.clone(),
                        external_id: record.external_id,
                        integration_id: Some(self.ctx.integration.id),
                        external_url: record.url,
                    };
                    let model = external::new_ticket(facts, key, route, created_at, now);
                    if let Some(mapping) = &self.ctx.team_mapping {
                        jobs.extend(crate::writeback::routed(mapping, &model, now));
                    }
                    self.ctx.event_with(
                        environment_id,
                        Some(created_ticket_items(&model)),
                        |organization_id| Event::TicketChanged {
                            organization_id,
                            ticket: model.clone(),
                        },
                    );
                    if let Some(notes) = notes {
                        note_sets.push((model.id, notes, None));
                    }
                    created.push(model);
                    counts.created += 1;
                }
            }
        }
        for chunk in created.chunks(INSERT_CHUNK) {
            ticket::Entity::insert_many(
                chunk
                    .iter()
                    .cloned()
                    .map(IntoActiveModel::into_active_model),
            )
            .exec_without_returning(self.txn)
            .await?;
        }
        // After the tickets they write to, in the page's transaction.
        crate::writeback::enqueue(self.txn, jobs).await?;
        // A ticket whose only change is a new or edited note counts as updated.
        let noted = self.notes(note_sets).await?;
        counts.unchanged -= noted;
        counts.updated += noted;
        Ok(())
    }

    /// Writes tickets' notes: new ones inserted, edited ones updated, others left alone. Returns
    /// how many tickets that were otherwise unchanged (given with their row) had a note
    /// written; each of those is published as changed, as a note added by hand is.
    async fn notes(
        &mut self,
        sets: Vec<(Uuid, Vec<TicketNote>, Option<ticket::Model>)>,
    ) -> Result<i32, DbErr> {
        if sets.iter().all(|(_, notes, _)| notes.is_empty()) {
            return Ok(0);
        }
        let ids: Vec<String> = sets
            .iter()
            .flat_map(|(_, notes, _)| notes.iter().map(|note| note.external_id.clone()))
            .collect();
        // A note is keyed within its ticket (tickets are keyed within their tenant).
        let existing: HashMap<(Uuid, String), ticket_note::Model> = ticket_note::Entity::find()
            .filter(
                ticket_note::COLUMN
                    .external_source
                    .eq(self.ctx.source.clone()),
            )
            .filter(
                ticket_note::COLUMN
                    .ticket_id
                    .is_in(sets.iter().map(|(ticket_id, _, _)| *ticket_id)),
            )
            .filter(ticket_note::COLUMN.external_id.is_in(ids))
            .all(self.txn)
            .await?
            .into_iter()
            .filter_map(|found| Some(((found.ticket_id, found.external_id.clone()?), found)))
            .collect();
        let mut inserts = Vec::new();
        let mut noted = 0;
        for (ticket_id, notes, was_unchanged) in sets {
            let mut changed = false;
            for note in notes {
                match existing.get(&(ticket_id, note.external_id.clone())) {
                    Some(current)
                        if current.body == note.body && current.internal == note.internal => {}
                    Some(current) => {
                        let mut model = current.clone().into_active_model();
                        model.body = Set(note.body);
                        model.internal = Set(note.internal);
                        model.update(self.txn).await?;
                        changed = true;
                    }
                    None => {
                        inserts.push(ticket_note::Model {
                            id: Uuid::now_v7(),
                            ticket_id,
                            author_id: None,
                            author_name: note.author,
                            body: note.body,
                            internal: note.internal,
                            created_at: note.created_at.trunc_subsecs(6),
                            external_source: Some(self.ctx.source.clone()),
                            external_id: Some(note.external_id),
                            external_url: None,
                        });
                        changed = true;
                    }
                }
            }
            if changed && let Some(unchanged) = was_unchanged {
                noted += 1;
                self.ctx.event(unchanged.environment_id, |organization_id| {
                    Event::TicketChanged {
                        organization_id,
                        ticket: unchanged,
                    }
                });
            }
        }
        for chunk in inserts.chunks(INSERT_CHUNK) {
            ticket_note::Entity::insert_many(
                chunk
                    .iter()
                    .cloned()
                    .map(IntoActiveModel::into_active_model),
            )
            .exec_without_returning(self.txn)
            .await?;
        }
        Ok(noted)
    }

    async fn alerts(&mut self, records: Vec<Record>, counts: &mut Counts) -> Result<(), DbErr> {
        let alerts: Vec<Alert> = records
            .into_iter()
            .filter_map(|record| match record {
                Record::Alert(found) => Some(found),
                _ => None,
            })
            .collect();
        let devices = self
            .linked(
                alerts.iter().filter_map(|found| found.device_id.clone()),
                RowLock::Unlocked,
            )
            .await?;
        let keys = alerts
            .iter()
            .filter_map(|found| {
                let environment = self.ctx.environment(found.company_id.as_deref()).or(found
                    .device_id
                    .as_ref()
                    .and_then(|id| devices.get(id))
                    .map(|system| system.environment_id))?;
                Some((self.ctx.tenant(environment)?, found.external_id.clone()))
            })
            .collect();
        let existing = external::existing_by_key::<alert::Entity>(
            self.txn,
            &self.ctx.source,
            keys,
            RowLock::Unlocked,
        )
        .await?;
        let now = Utc::now().trunc_subsecs(6);
        for record in alerts {
            let system = record.device_id.as_ref().and_then(|id| devices.get(id));
            let Some(environment_id) = self
                .ctx
                .environment(record.company_id.as_deref())
                .or(system.map(|found| found.environment_id))
            else {
                counts.skipped += 1;
                continue;
            };
            let system_id = system.map(|found| found.id);
            let Some(organization_id) = self.ctx.tenant(environment_id) else {
                counts.skipped += 1;
                continue;
            };
            let facts = AlertFacts {
                message: record.message,
                severity: record.severity,
                external_severity: record.severity_raw,
                resolved: record.resolved,
                // An instant out of the observed bounds (before 1970, in the future) is not
                // believed: the sync time stands for it, as when the RMM names none.
                resolved_at: record.resolved_at.and_then(|at| {
                    Check::default().observed_instant("resolvedAt", at.trunc_subsecs(6), now)
                }),
            };
            match existing.get(&(organization_id, record.external_id.clone())) {
                Some(current) => {
                    let Some(model) = external::alert_update(current, &facts, now) else {
                        counts.unchanged += 1;
                        continue;
                    };
                    let updated = model.update(self.txn).await?;
                    // Resolved by the vendor: `alertChanged` subscribers and `alert.resolved`
                    // endpoints hear of it, as when `resolveAlert` does it.
                    if current.status != AlertStatus::Resolved
                        && updated.status == AlertStatus::Resolved
                    {
                        self.ctx
                            .event(environment_id, |organization_id| Event::AlertChanged {
                                organization_id,
                                alert: updated,
                            });
                    }
                    counts.updated += 1;
                }
                None => {
                    let raised_at = record.raised_at.trunc_subsecs(6);
                    let route = self
                        .ctx
                        .router
                        .function_id(organization_id, DEFAULT_ALERT_FUNCTION)
                        .map(|function| {
                            self.ctx.router.route(
                                environment_id,
                                function,
                                system_id,
                                raised_at,
                                facts.severity,
                            )
                        });
                    let key = ExternalKey {
                        organization_id,
                        source: self.ctx.source.clone(),
                        external_id: record.external_id,
                        integration_id: Some(self.ctx.integration.id),
                        external_url: None,
                    };
                    let created = external::new_alert(
                        facts,
                        key,
                        (environment_id, system_id),
                        route,
                        raised_at,
                        now,
                    )
                    .into_active_model()
                    .insert(self.txn)
                    .await?;
                    self.ctx
                        .event(environment_id, |organization_id| Event::AlertRaised {
                            organization_id,
                            alert: created,
                        });
                    counts.created += 1;
                }
            }
        }
        Ok(())
    }

    /// Resolves the integration's open alerts a complete snapshot no longer lists.
    ///
    /// # Errors
    /// Database errors.
    pub async fn resolve_missing_alerts(&mut self, seen: &HashSet<String>) -> Result<(), DbErr> {
        let now = Utc::now().trunc_subsecs(6);
        let open = alert::Entity::find()
            .filter(alert::COLUMN.external_source.eq(self.ctx.source.clone()))
            .filter(alert::COLUMN.status.ne(AlertStatus::Resolved))
            .all(self.txn)
            .await?;
        for found in open {
            if found
                .external_id
                .as_ref()
                .is_some_and(|id| seen.contains(id))
            {
                continue;
            }
            let environment_id = found.environment_id;
            let mut model = found.into_active_model();
            model.status = Set(AlertStatus::Resolved);
            model.resolved_at = Set(Some(now));
            // Cleared: escalation stops (as `external::alert_update` does).
            model.next_escalation_at = Set(None);
            model.updated_at = Set(now);
            let resolved = model.update(self.txn).await?;
            self.ctx
                .event(environment_id, |organization_id| Event::AlertChanged {
                    organization_id,
                    alert: resolved,
                });
        }
        Ok(())
    }

    async fn changes(
        &mut self,
        records: Vec<Record>,
        counts: &mut Counts,
        errors: &mut Vec<sync_run_error::Model>,
    ) -> Result<(), DbErr> {
        let changes: Vec<Change> = records
            .into_iter()
            .filter_map(|record| match record {
                Record::Change(found) => Some(found),
                _ => None,
            })
            .collect();
        let devices = self
            .linked(
                changes.iter().filter_map(|found| found.device_id.clone()),
                RowLock::Unlocked,
            )
            .await?;
        let tenant_of = |change: &Change| {
            let environment = self
                .ctx
                .environment(change.company_id.as_deref())
                .or(change
                    .device_id
                    .as_ref()
                    .and_then(|id| devices.get(id))
                    .map(|system| system.environment_id))?;
            self.ctx.tenant(environment)
        };
        let keys = changes
            .iter()
            .filter_map(|change| Some((tenant_of(change)?, change.external_id.clone())))
            .collect();
        let recorded = external::existing_by_key::<change_log_entry::Entity>(
            self.txn,
            &self.ctx.source,
            keys,
            RowLock::Unlocked,
        )
        .await?;
        let now = Utc::now();
        for change in changes {
            let mut check = Check::default();
            let Some((summary, details, occurred_at)) = external::check_observed_change(
                &mut check,
                "change",
                &change.summary,
                Some(change.details.clone()),
                change.occurred_at,
                now,
            ) else {
                let reasons: Vec<String> = check
                    .into_errors()
                    .into_iter()
                    .map(|problem| problem.message)
                    .collect();
                errors.push(run_error(
                    self.ctx.run_id,
                    Resource::Changes,
                    Some(change.external_id.clone()),
                    reasons.join("; "),
                ));
                counts.failed += 1;
                continue;
            };
            let already = tenant_of(&change)
                .and_then(|tenant| recorded.get(&(tenant, change.external_id.clone())));
            if let Some(recorded) = already {
                // The summary as recorded names the system it was on; compare the vendor's own.
                let same = recorded.summary.starts_with(summary.as_str())
                    && recorded.details == details
                    && recorded.occurred_at == occurred_at;
                if same {
                    counts.unchanged += 1;
                } else {
                    errors.push(run_error(
                        self.ctx.run_id,
                        Resource::Changes,
                        Some(change.external_id.clone()),
                        "already recorded with other content; the change log is append-only".into(),
                    ));
                    counts.failed += 1;
                }
                continue;
            }
            let system = change.device_id.as_ref().and_then(|id| devices.get(id));
            let Some(environment_id) = self
                .ctx
                .environment(change.company_id.as_deref())
                .or(system.map(|found| found.environment_id))
            else {
                counts.skipped += 1;
                continue;
            };
            let summary = match system {
                Some(found) if !summary.contains(&found.name) => {
                    format!("{summary} on {}", found.name)
                }
                _ => summary,
            };
            let mut entry = self.ctx.change_entry(
                environment_id,
                summary,
                change.category,
                occurred_at,
                details,
            );
            if let Some(actor) = change.actor {
                entry.actor_name = actor;
            }
            entry.organization_id = self.ctx.tenant(environment_id);
            entry.external_source = Some(self.ctx.source.clone());
            entry.external_id = Some(change.external_id);
            self.entries
                .push((entry, system.map(|found| found.id).into_iter().collect()));
            counts.created += 1;
        }
        Ok(())
    }

    /// Inserts the page's change log entries (one change set) and their systems.
    async fn flush_entries(&mut self) -> Result<(), DbErr> {
        if self.entries.is_empty() {
            return Ok(());
        }
        let entries = std::mem::take(&mut self.entries);
        let mut links = Vec::new();
        let mut models = Vec::with_capacity(entries.len());
        for (mut entry, systems) in entries {
            entry.change_set_id = Some(self.change_set_id);
            links.extend(
                systems
                    .into_iter()
                    .map(|system_id| change_log_entry_system::Model {
                        change_log_entry_id: entry.id,
                        system_id,
                    }),
            );
            self.ctx.event(entry.environment_id, |organization_id| {
                Event::ChangeLogEntryRecorded {
                    organization_id,
                    entry: entry.clone(),
                }
            });
            models.push(entry);
        }
        for chunk in models.chunks(INSERT_CHUNK) {
            change_log_entry::Entity::insert_many(
                chunk
                    .iter()
                    .cloned()
                    .map(IntoActiveModel::into_active_model),
            )
            .exec_without_returning(self.txn)
            .await?;
        }
        for chunk in links.chunks(INSERT_CHUNK) {
            change_log_entry_system::Entity::insert_many(
                chunk
                    .iter()
                    .cloned()
                    .map(IntoActiveModel::into_active_model),
            )
            .exec_without_returning(self.txn)
            .await?;
        }
        Ok(())
    }
}

/// What a device says its system is.
fn device_facts(device: &Device) -> SystemFacts {
    SystemFacts {
        name: device.name.clone(),
        kind: device.kind,
        hostname: device.hostname.clone(),
        serial_number: device.serial_number.clone(),
        mac_address: device.mac_address.clone(),
        operating_system: device.operating_system.clone(),
        ip_address: device.ip_address.clone(),
        attributes: match device_attributes(device) {
            Value::Object(attributes) => attributes,
            _ => Map::new(),
        },
        active: Some(device.active),
    }
}

/// What a device reports beyond the system's columns, kept in its attributes.
fn device_attributes(device: &Device) -> Value {
    let mut attributes = Map::new();
    if let Some(uid) = &device.rmm_uid {
        attributes.insert("rmm_uid".into(), json!(uid));
    }
    if let Some(kind) = &device.kind_raw {
        attributes.insert("vendor_kind".into(), json!(kind));
    }
    Value::Object(attributes)
}

/// Serial numbers that firmware and vendors fill in when there is none; they match nothing.
fn real_serial(serial: &str) -> bool {
    let lower = serial.trim().to_ascii_lowercase();
    lower.len() >= 4
        && !lower.chars().all(|c| c == '0')
        && ![
            "to be filled by o.e.m.",
            "default string",
            "system serial number",
            "not specified",
            "none",
            "n/a",
            "unknown",
            "0123456789",
        ]
        .contains(&lower.as_str())
}

fn mac(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii_hexdigit)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The system of `environment_id` that is `device` as another source saw it: same RMM device id
/// (a PSA's cross-link field or the RMM's own uid), else same serial number, else same MAC
/// address, else same host name; hostnames collide and get reused, so they come last.
fn match_device<'s>(
    systems: &'s [system::Model],
    environment_id: Uuid,
    device: &Device,
) -> Option<&'s system::Model> {
    let in_environment = || {
        systems
            .iter()
            .filter(move |found| found.environment_id == environment_id)
    };
    let same = |a: Option<&str>, b: Option<&str>| match (a, b) {
        (Some(a), Some(b)) => !a.is_empty() && a.eq_ignore_ascii_case(b),
        _ => false,
    };
    device
        .rmm_uid
        .as_deref()
        .and_then(|uid| {
            in_environment()
                .find(|found| found.attributes.get("rmm_uid").and_then(Value::as_str) == Some(uid))
        })
        .or_else(|| {
            let serial = device
                .serial_number
                .as_deref()
                .filter(|serial| real_serial(serial))?;
            in_environment().find(|found| same(found.serial_number.as_deref(), Some(serial)))
        })
        .or_else(|| {
            let wanted = device
                .mac_address
                .as_deref()
                .map(mac)
                .filter(|found| found.len() == 12)?;
            in_environment().find(|found| {
                found.mac_address.as_deref().map(mac).as_deref() == Some(wanted.as_str())
            })
        })
        .or_else(|| {
            in_environment()
                .find(|found| same(found.hostname.as_deref(), device.hostname.as_deref()))
        })
}
