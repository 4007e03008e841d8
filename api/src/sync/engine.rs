//! One sync run of one integration.
//!
//! Crash safety: per resource, each page's writes and the cursor naming the next page commit in
//! one transaction, so a run killed anywhere resumes at the first page whose writes did not
//! commit, and writes nothing twice (every write is keyed by the record's external id). The
//! changed-since mark moves only when a resource's last page commits, to the instant the run
//! began (less a minute for clock skew between Tandem and the vendor).
//!
//! One run per integration at a time: a lease on the integration row (`lease_owner`,
//! `lease_expires_at`), taken with a conditional update, renewed after every page, and released
//! at the end. A lease whose holder is provably gone is taken over at once: the owner names its
//! host and process id (`<host>:<pid>:<run>`), and a holder on this host (same host name) whose
//! process no longer exists (no `/proc/<pid>`) cannot renew it; its `RUNNING` run is closed as
//! `INTERRUPTED` by the taker. Holders on other hosts, or where `/proc` cannot tell, keep the
//! lease until it expires.
//!
//! Records that fail (the connector cannot read one, or the database refuses it) go on the
//! integration's retry list (`sync_retries`) with the changed-since mark of the pass they failed
//! in. The connectors cannot read one record by id for every vendor, so a later incremental pass
//! of that resource re-reads from the oldest pending failure's mark instead (from the beginning
//! when a record failed in a pass from the beginning) until the record is written; then its row is
//! resolved by that run (`SyncRun.retried`). Writes being idempotent, the wider re-read costs
//! requests, not duplicates.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{SubsecRound, Utc};
use entities::enums::{SyncStatus, SyncTrigger, ValueMappingDomain};
use entities::{
    integration, integration_mapping, sync_cursor, sync_retry, sync_run, sync_run_error,
    value_mapping,
};
use futures_util::StreamExt;
use integrations::connector::{self, Cursor, IntegrationConfig};
use integrations::egress::Egress;
use integrations::http::{RetryPolicy, Throttle, ThrottleWait};
use integrations::model::{LookupValue, Normalized, Resource};
use integrations::secrets::{SecretError, SecretKey};
use integrations::{Connector, ConnectorError};
use sea_orm::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{DatabaseConnection, IntoActiveModel, QueryFilter, Set, TransactionTrait};

use crate::services::credentials;
use crate::sync::store::{Counts, PageWriter, RunContext};

/// Why a run did not happen or stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No integration with this id.
    #[error("no integration with this id")]
    NotFound,
    /// The integration is disabled.
    #[error("the integration is disabled")]
    Disabled,
    /// Another run holds the integration's lease.
    #[error("another sync of this integration is running (lease held by {owner} until {until})")]
    Busy {
        /// Who holds it.
        owner: String,
        /// Until when.
        until: String,
    },
    /// The lease expired and another run took it; this run stopped without writing its page.
    #[error("the sync lease was lost to another run; this run stopped")]
    LeaseLost,
    /// The credentials cannot be opened.
    #[error(transparent)]
    Credentials(#[from] SecretError),
    /// The vendor failed (after retries).
    #[error("{resource}: {error}")]
    Vendor {
        /// The resource being read.
        resource: &'static str,
        /// What failed.
        error: ConnectorError,
    },
    /// The connector cannot be built from the configuration.
    #[error(transparent)]
    Config(ConnectorError),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

/// How to run.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Ignore the cursors: read everything again (writes are still only what differs).
    pub full: bool,
    /// What started the run.
    pub trigger: SyncTrigger,
    /// Only these resources (a webhook's targeted sync); all when `None`.
    pub only: Option<Vec<Resource>>,
    /// Who takes the lease (host, process and run).
    pub owner: String,
    /// How long a lease lasts without renewal.
    pub lease: Duration,
    /// Retries and timeouts of vendor calls.
    pub policy: RetryPolicy,
    /// Which addresses vendor calls may reach.
    pub egress: Egress,
    /// Where committed writes are published for subscriptions (inside `tandem serve`).
    pub events: Option<crate::events::EventBus>,
}

impl SyncOptions {
    /// Options for `trigger` with the default lease (5 minutes) and retry policy, reaching
    /// public addresses only.
    #[must_use]
    pub fn new(trigger: SyncTrigger) -> Self {
        Self {
            full: false,
            trigger,
            only: None,
            // Unique per run: two runs in one process must not share a lease. The host and pid
            // let a later run on this host see that the holder died (`holder_is_gone`).
            owner: format!(
                "{}:{}:{}",
                host_name().unwrap_or_else(|| "unknown-host".into()),
                std::process::id(),
                Uuid::now_v7()
            ),
            lease: Duration::from_secs(300),
            policy: RetryPolicy::default(),
            egress: Egress::PUBLIC_ONLY,
            events: None,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct SyncReport {
    /// The run as recorded.
    pub run: sync_run::Model,
    /// Per resource, in order.
    pub resources: Vec<(Resource, Counts)>,
}

/// A line of progress, for `tandem sync`: after every committed page, and whenever the run
/// waits on a throttling vendor (`waiting`).
#[derive(Debug, Clone)]
pub struct Progress {
    /// The resource.
    pub resource: Resource,
    /// Pages committed so far.
    pub pages: usize,
    /// Counts so far, cumulative over the resource's pages.
    pub counts: Counts,
    /// What the last committed page itself read and wrote (zero in a line about waiting).
    pub page: Counts,
    /// Set when the line says the run waits on a 429 (how long, and the budget so far) rather
    /// than that a page committed.
    pub waiting: Option<ThrottleWait>,
}

/// `line` as `tandem sync` prints it: what the page itself did, then the resource's totals so
/// far; or how long the run waits on a throttling vendor.
#[must_use]
pub fn progress_line(line: &Progress) -> String {
    let resource = line.resource.as_str();
    if let Some(wait) = line.waiting {
        return format!(
            "{resource:<9} waiting {:.1} s: the vendor throttles (429); {:.1} s of the run's {:.0} s throttling budget used",
            wait.wait.as_secs_f64(),
            wait.waited.as_secs_f64(),
            wait.budget.as_secs_f64()
        );
    }
    let (page, total) = (line.page, line.counts);
    format!(
        "{resource:<9} page {:>4}: {} read, {} created, {} updated, {} unchanged, {} skipped, \
         {} failed (so far: {} read, {} written, {} failed)",
        line.pages,
        page.fetched,
        page.created,
        page.updated,
        page.unchanged,
        page.skipped,
        page.failed,
        total.fetched,
        total.created + total.updated,
        total.failed
    )
}

/// Runs `integration_id` once.
///
/// # Errors
/// [`SyncError`] when the run cannot start or stops; the run record says the same.
pub async fn run(
    db: &DatabaseConnection,
    key: Option<&SecretKey>,
    integration_id: Uuid,
    options: &SyncOptions,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<SyncReport, SyncError> {
    let found = integration::Entity::find_by_id(integration_id)
        .one(db)
        .await?
        .filter(|found| found.deleted_at.is_none())
        .ok_or(SyncError::NotFound)?;
    if !found.enabled {
        return Err(SyncError::Disabled);
    }
    take_lease(db, &found, options).await?;
    let started = Utc::now().trunc_subsecs(6);
    interrupt_runs(db, integration_id, started).await?;
    let record = sync_run::Model {
        id: Uuid::now_v7(),
        integration_id,
        trigger: options.trigger,
        full: options.full,
        status: SyncStatus::Running,
        started_at: started,
        finished_at: None,
        records_fetched: 0,
        records_created: 0,
        records_updated: 0,
        records_unchanged: 0,
        records_failed: 0,
        records_skipped: 0,
        warnings: None,
        error: None,
    }
    .into_active_model()
    .insert(db)
    .await?;
    let beat = heartbeat(db.clone(), integration_id, options.clone());
    let outcome = sync(db, key, &found, options, &record, progress).await;
    beat.abort();
    let (status, error, resources, warnings) = match &outcome {
        Ok((resources, warnings)) => {
            let failed = resources.iter().any(|(_, counts)| counts.failed > 0);
            (
                if failed {
                    SyncStatus::Partial
                } else {
                    SyncStatus::Succeeded
                },
                None,
                resources.clone(),
                warnings.clone(),
            )
        }
        Err(error) => (
            SyncStatus::Failed,
            Some(error.to_string()),
            Vec::new(),
            Vec::new(),
        ),
    };
    for warning in &warnings {
        tracing::warn!(integration = %integration_id, run = %record.id, "{warning}");
    }
    let finished = sync_run::Entity::find_by_id(record.id)
        .one(db)
        .await?
        .unwrap_or(record);
    let mut model = finished.into_active_model();
    model.status = Set(status);
    model.error = Set(error);
    model.warnings = Set((!warnings.is_empty()).then(|| serde_json::json!(warnings).to_string()));
    let now = Utc::now().trunc_subsecs(6);
    model.finished_at = Set(Some(now));
    // A failed run's outcome and its `sync_run.failed` event commit together.
    let txn = crate::services::unit::begin_write(db).await?;
    let finished = model.update(&txn).await?;
    if finished.status == SyncStatus::Failed {
        let failed = crate::outbox::Item {
            event_type: crate::outbox::EventType::SyncRunFailed,
            environment_id: None,
            organization_id: Some(found.organization_id),
            subject_id: finished.id,
            data: crate::outbox::payload::sync_run(&finished),
        };
        crate::outbox::record(
            &txn,
            vec![failed],
            &std::collections::HashMap::new(),
            // Not data the integration wrote: an endpoint skipping its echoes still hears it.
            None,
            now,
        )
        .await?;
    }
    txn.commit().await?;
    crate::metrics::sync_run(&found, &finished);
    release_lease(db, integration_id, &options.owner).await?;
    outcome.map(|_| SyncReport {
        run: finished,
        resources,
    })
}

/// Marks the integration's runs still `RUNNING` as `INTERRUPTED`: called by the holder of its
/// lease, so any such run lost its process (a crash, a kill) or was stopped by a shutdown. What
/// its committed pages wrote stays; the next run resumes from their cursors.
///
/// # Errors
/// Database errors.
pub async fn interrupt_runs(
    db: &impl ConnectionTrait,
    integration_id: Uuid,
    now: chrono::DateTime<Utc>,
) -> Result<u64, DbErr> {
    let closed = sync_run::Entity::update_many()
        .col_expr(
            sync_run::Column::Status,
            Expr::value(sea_orm::ActiveEnum::to_value(&SyncStatus::Interrupted)),
        )
        .col_expr(sync_run::Column::FinishedAt, Expr::value(now))
        .col_expr(
            sync_run::Column::Error,
            Expr::value(
                "interrupted before it finished (a shutdown or a crash); the next run resumed \
                 from its last committed page",
            ),
        )
        .filter(sync_run::COLUMN.integration_id.eq(integration_id))
        .filter(sync_run::COLUMN.status.eq(SyncStatus::Running))
        .exec(db)
        .await?;
    Ok(closed.rows_affected)
}

/// This machine's host name: `HOSTNAME`, else the kernel's; `None` when neither says.
#[must_use]
pub fn host_name() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty() && !name.contains(':'))
}

/// Whether the lease `owner` (`<host>:<pid>:<run>`) provably belongs to a process that no longer
/// exists: it names this host, and `/proc` (which this host has) has no such process. Anything
/// else (another host, an owner in another format, no `/proc`) is not proof.
#[must_use]
pub fn holder_is_gone(owner: &str) -> bool {
    let mut parts = owner.splitn(3, ':');
    let (Some(host), Some(pid), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    let proc = std::path::Path::new("/proc");
    host_name().as_deref() == Some(host)
        && pid != std::process::id()
        && proc.join("self").exists()
        && !proc.join(pid.to_string()).exists()
}

async fn take_lease(
    db: &DatabaseConnection,
    found: &integration::Model,
    options: &SyncOptions,
) -> Result<(), SyncError> {
    match try_take_lease(db, found, options, None).await {
        Err(SyncError::Busy { owner, .. }) if holder_is_gone(&owner) => {
            tracing::warn!(integration = %found.id, holder = %owner, "the sync lease's holder on this host is gone; taking the lease over");
            try_take_lease(db, found, options, Some(&owner)).await
        }
        other => other,
    }
}

/// Takes the lease when it is free or expired, or (with `from`) held by `from`: the holder
/// found gone is replaced only if it still holds it, so two runs never both take it over.
async fn try_take_lease(
    db: &DatabaseConnection,
    found: &integration::Model,
    options: &SyncOptions,
    from: Option<&str>,
) -> Result<(), SyncError> {
    let now = Utc::now();
    let until = now + chrono::Duration::from_std(options.lease).unwrap_or_default();
    let taken = integration::Entity::update_many()
        .col_expr(
            integration::Column::LeaseOwner,
            Expr::value(options.owner.clone()),
        )
        .col_expr(integration::Column::LeaseExpiresAt, Expr::value(until))
        .filter(integration::COLUMN.id.eq(found.id))
        // Decided again in the update itself: a delete or disable that committed after `run`
        // read the row leaves no lease to take.
        .filter(integration::COLUMN.deleted_at.is_null())
        .filter(integration::COLUMN.enabled.eq(true))
        .filter(match from {
            Some(gone) => sea_orm::Condition::all().add(integration::COLUMN.lease_owner.eq(gone)),
            None => sea_orm::Condition::any()
                .add(integration::COLUMN.lease_owner.is_null())
                .add(integration::COLUMN.lease_expires_at.lt(now)),
        })
        .exec(db)
        .await?;
    if taken.rows_affected == 1 {
        return Ok(());
    }
    let holder = integration::Entity::find_by_id(found.id).one(db).await?;
    match &holder {
        None => return Err(SyncError::NotFound),
        Some(holder) if holder.deleted_at.is_some() => return Err(SyncError::NotFound),
        Some(holder) if !holder.enabled => return Err(SyncError::Disabled),
        Some(_) => {}
    }
    Err(SyncError::Busy {
        owner: holder
            .as_ref()
            .and_then(|holder| holder.lease_owner.clone())
            .unwrap_or_default(),
        until: holder
            .and_then(|holder| holder.lease_expires_at)
            .map(|until| until.to_rfc3339())
            .unwrap_or_default(),
    })
}

/// Extends the lease if `options.owner` still holds it; `false` when another run took it.
async fn renew_lease(
    db: &impl ConnectionTrait,
    integration_id: Uuid,
    options: &SyncOptions,
) -> Result<bool, DbErr> {
    let until = Utc::now() + chrono::Duration::from_std(options.lease).unwrap_or_default();
    let renewed = integration::Entity::update_many()
        .col_expr(integration::Column::LeaseExpiresAt, Expr::value(until))
        .filter(integration::COLUMN.id.eq(integration_id))
        .filter(integration::COLUMN.lease_owner.eq(options.owner.clone()))
        .exec(db)
        .await?;
    Ok(renewed.rows_affected == 1)
}

/// Renews the lease every third of its length while a run fetches (a slow vendor can take
/// longer than a lease between two pages); stops when dropped.
fn heartbeat(
    db: DatabaseConnection,
    integration_id: Uuid,
    options: SyncOptions,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(options.lease / 3);
        tick.tick().await;
        loop {
            tick.tick().await;
            match renew_lease(&db, integration_id, &options).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(error) => {
                    tracing::warn!(%integration_id, %error, "cannot renew the sync lease")
                }
            }
        }
    })
}

async fn release_lease(
    db: &DatabaseConnection,
    integration_id: Uuid,
    owner: &str,
) -> Result<(), DbErr> {
    integration::Entity::update_many()
        .col_expr(
            integration::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            integration::Column::LeaseExpiresAt,
            Expr::value(Option::<DateTimeUtc>::None),
        )
        .filter(integration::COLUMN.id.eq(integration_id))
        .filter(integration::COLUMN.lease_owner.eq(owner))
        .exec(db)
        .await?;
    Ok(())
}

/// The connector of `found`, with its credentials opened.
///
/// # Errors
/// When the credentials cannot be opened or the configuration is incomplete.
pub fn connector_for(
    key: Option<&SecretKey>,
    found: &integration::Model,
    policy: RetryPolicy,
    egress: Egress,
) -> Result<Box<dyn Connector>, SyncError> {
    throttled_connector_for(key, found, policy, egress, Throttle::default(), None)
}

/// [`connector_for`] with its waits on 429s counted against one run's budget by `throttle`,
/// and the companies a run keeps records of (`mapped_companies`: see
/// [`IntegrationConfig::mapped_companies`]).
fn throttled_connector_for(
    key: Option<&SecretKey>,
    found: &integration::Model,
    policy: RetryPolicy,
    egress: Egress,
    throttle: Throttle,
    mapped_companies: Option<Arc<HashSet<String>>>,
) -> Result<Box<dyn Connector>, SyncError> {
    crate::tls::init();
    let credentials = credentials::open(key, found.id, found.credentials_ciphertext.as_deref())?;
    connector::build_with(
        IntegrationConfig {
            kind: found.kind,
            base_url: found.base_url.clone(),
            settings: found.settings.clone(),
            credentials,
            policy,
            egress,
            mapped_companies,
        },
        throttle,
    )
    .map_err(SyncError::Config)
}

/// Awaits `work`, calling `report` for every wait on a throttling vendor meanwhile.
async fn reporting_waits<T>(
    work: impl std::future::Future<Output = T>,
    waits: &mut tokio::sync::mpsc::UnboundedReceiver<ThrottleWait>,
    report: impl Fn(ThrottleWait),
) -> T {
    let mut work = std::pin::pin!(work);
    loop {
        tokio::select! {
            biased;
            Some(wait) = waits.recv() => report(wait),
            done = &mut work => return done,
        }
    }
}

/// The longest `testIntegration` waits for the vendor, whatever the connector's check does
/// (an OAuth vendor's check is a token request and an API call).
pub const CHECK_DEADLINE: Duration = Duration::from_secs(5);

/// Checks `found`'s credentials and configuration against its vendor with one cheap call, for
/// `testIntegration`: one attempt with short timeouts ([`RetryPolicy::probe`]) and
/// [`CHECK_DEADLINE`] in all, so a dead host answers within seconds. Answers what was reached.
///
/// # Errors
/// What failed, in the uniform wording of [`ConnectorError`]: no answer of any kind reads
/// `could not reach the vendor at <host>`.
pub async fn check_connection(
    key: Option<&SecretKey>,
    found: &integration::Model,
    egress: Egress,
) -> Result<String, SyncError> {
    let connector = connector_for(key, found, RetryPolicy::probe(), egress)?;
    match tokio::time::timeout(CHECK_DEADLINE, connector.check()).await {
        Ok(outcome) => outcome.map_err(|error| SyncError::Vendor {
            resource: "check",
            error,
        }),
        Err(_) => {
            let host = url::Url::parse(&found.base_url)
                .map(|url| integrations::http::host_of(&url))
                .unwrap_or_default();
            tracing::warn!(integration = %found.id, vendor.host = %host, "testIntegration: the vendor did not answer in time");
            Err(SyncError::Vendor {
                resource: "check",
                error: ConnectorError::Unreachable { host },
            })
        }
    }
}

/// The most companies [`vendor_companies`] lists.
pub const MAX_VENDOR_COMPANIES: usize = 10_000;

/// The vendor's companies, organizations or sites, read from the beginning, for an admin
/// choosing what to map: two attempts a request, a few seconds of throttling, and 30 s in all,
/// since someone is waiting. At most [`MAX_VENDOR_COMPANIES`].
///
/// # Errors
/// What failed, as for [`check_connection`].
pub async fn vendor_companies(
    key: Option<&SecretKey>,
    found: &integration::Model,
    egress: Egress,
) -> Result<Vec<integrations::model::Company>, SyncError> {
    let policy = RetryPolicy {
        attempts: 2,
        max_retry_after: Duration::from_secs(5),
        throttle_budget: Duration::from_secs(10),
        request_timeout: Duration::from_secs(15),
        ..RetryPolicy::default()
    };
    let connector = connector_for(key, found, policy, egress)?;
    let walk = async {
        let mut companies = Vec::new();
        let mut stream = std::pin::pin!(connector::pages(
            connector.as_ref(),
            Resource::Companies,
            Cursor::default()
        ));
        while let Some(page) = stream.next().await {
            for record in page?.records {
                if let Ok(integrations::model::Record::Company(company)) = record {
                    companies.push(company);
                }
            }
            if companies.len() >= MAX_VENDOR_COMPANIES {
                companies.truncate(MAX_VENDOR_COMPANIES);
                break;
            }
        }
        Ok(companies)
    };
    let host = || {
        url::Url::parse(&found.base_url)
            .map(|url| integrations::http::host_of(&url))
            .unwrap_or_default()
    };
    match tokio::time::timeout(Duration::from_secs(30), walk).await {
        Ok(outcome) => outcome.map_err(|error| SyncError::Vendor {
            resource: "companies",
            error,
        }),
        Err(_) => Err(SyncError::Vendor {
            resource: "companies",
            error: ConnectorError::Unreachable { host: host() },
        }),
    }
}

async fn sync(
    db: &DatabaseConnection,
    key: Option<&SecretKey>,
    found: &integration::Model,
    options: &SyncOptions,
    record: &sync_run::Model,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<(Vec<(Resource, Counts)>, Vec<String>), SyncError> {
    // One throttling budget for the whole run, whichever request draws on it.
    let (throttle, mut waits) = Throttle::reporting();
    // Notes are read only for tickets of mapped companies: the store skips the others.
    let mapped: HashSet<String> = company_mappings(db, found.id)
        .await?
        .into_iter()
        .map(|mapping| mapping.external_company_id)
        .collect();
    let connector = throttled_connector_for(
        key,
        found,
        options.policy,
        options.egress,
        throttle,
        Some(Arc::new(mapped)),
    )?;
    let first = connector.resources().first().copied();
    let lookups = reporting_waits(connector.lookups(), &mut waits, |wait| {
        if let Some(resource) = first {
            progress(&Progress {
                resource,
                pages: 0,
                counts: Counts::default(),
                page: Counts::default(),
                waiting: Some(wait),
            });
        }
    })
    .await
    .map_err(|error| SyncError::Vendor {
        resource: "lookups",
        error,
    })?;
    seed_value_mappings(db, found.id, options, &lookups).await?;
    let mut context = RunContext::load(db, found, record.id, options.events.clone()).await?;
    let mut done = Vec::new();
    let mut companies_listed = None;
    for &resource in connector.resources() {
        if options
            .only
            .as_ref()
            .is_some_and(|only| !only.contains(&resource))
        {
            continue;
        }
        let stored = sync_cursor::Entity::find_by_id((found.id, resource.as_str().to_owned()))
            .one(db)
            .await?;
        // A resumed pass keeps the start of the pass it resumes: records changed after that
        // start on pages already read must be read by the next pass.
        let resumed = stored
            .as_ref()
            .filter(|_| !options.full)
            .and_then(|stored| stored.page_token.as_deref())
            .and_then(PassToken::parse);
        let filters = connector.filters_by_change(resource);
        let mut cursor = match (&stored, options.full) {
            (Some(stored), false) => Cursor {
                changed_since: stored.changed_since.filter(|_| filters),
                page_token: resumed.as_ref().map(|pass| pass.token.clone()),
            },
            _ => Cursor::default(),
        };
        if resumed.is_none() {
            cursor.changed_since = retry_from(db, found.id, resource, cursor.changed_since).await?;
        }
        let pass_started = resumed.map_or(record.started_at, |pass| pass.started);
        // The vendor's clock may run behind ours: the next pass asks for a minute more.
        let mark = pass_started - chrono::Duration::minutes(1);
        // A resource the vendor cannot filter is a whole snapshot each run; what is missing
        // from a complete snapshot of alerts has cleared.
        let snapshot = !filters && cursor.page_token.is_none();
        // Every company the vendor lists passes through a pass from the beginning without a
        // change filter: only then can a mapping be found to match none of them.
        let listing = resource == Resource::Companies
            && cursor.changed_since.is_none()
            && cursor.page_token.is_none();
        let mut seen = HashSet::new();
        let mut counts = Counts::default();
        let mut pages = 0;
        let mut stream = std::pin::pin!(connector::pages(
            connector.as_ref(),
            resource,
            cursor.clone()
        ));
        let mut analyze_at = 1_000;
        let mut fetch_started = std::time::Instant::now();
        loop {
            let next = reporting_waits(stream.next(), &mut waits, |wait| {
                progress(&Progress {
                    resource,
                    pages,
                    counts,
                    page: Counts::default(),
                    waiting: Some(wait),
                });
            })
            .await;
            let Some(page) = next else { break };
            let page = page.map_err(|error| SyncError::Vendor {
                resource: resource.as_str(),
                error,
            })?;
            let fetched_in = fetch_started.elapsed();
            let write_started = std::time::Instant::now();
            let txn = crate::services::unit::begin_write(db).await?;
            // Renewing first locks the integration row before any record or cursor row, in the
            // order `updateIntegration` takes them too (so the two never deadlock), and holds
            // the lease for the rest of the transaction.
            if !renew_lease(&txn, found.id, options).await? {
                // Another run took over an expired lease: this page writes nothing.
                return Err(SyncError::LeaseLost);
            }
            let read: Vec<String> = page
                .records
                .iter()
                .filter_map(|record| match record {
                    Ok(found) => Some(found.external_id().to_owned()),
                    Err(error) => error.external_id.clone(),
                })
                .collect();
            let page_counts = write_page(
                &txn,
                &mut context,
                resource,
                page.records,
                snapshot.then_some(&mut seen),
            )
            .await?;
            track_retries(
                &txn,
                found.id,
                record.id,
                resource,
                cursor.changed_since,
                read,
            )
            .await?;
            let last = page.next.is_none();
            if last && snapshot && resource == Resource::Alerts {
                PageWriter::new(&txn, &mut context)
                    .resolve_missing_alerts(&seen)
                    .await?;
            }
            let next = if last {
                Cursor {
                    changed_since: filters.then_some(mark).or(cursor.changed_since),
                    page_token: None,
                }
            } else {
                Cursor {
                    changed_since: cursor.changed_since,
                    page_token: page.next.clone().map(|token| {
                        PassToken {
                            started: pass_started,
                            token,
                        }
                        .to_string()
                    }),
                }
            };
            save_cursor(&txn, found.id, resource, &next).await?;
            add_to_run(&txn, record.id, &page_counts).await?;
            let turn = context.turn().await;
            context.announce_pending(&txn).await?;
            txn.commit().await?;
            tracing::debug!(
                resource = resource.as_str(),
                records = page_counts.fetched,
                fetch_ms = fetched_in.as_millis() as u64,
                write_ms = write_started.elapsed().as_millis() as u64,
                "page committed"
            );
            fetch_started = std::time::Instant::now();
            context.publish_committed();
            drop(turn);
            counts.add(&page_counts);
            if counts.created >= analyze_at {
                refresh_statistics(db, resource).await?;
                analyze_at = counts.created.saturating_mul(2);
            }
            pages += 1;
            progress(&Progress {
                resource,
                pages,
                counts,
                page: page_counts,
                waiting: None,
            });
        }
        if listing {
            companies_listed = Some(context.take_listed_companies());
        }
        done.push((resource, counts));
    }
    let warnings = run_warnings(db, found.id, &done, companies_listed.as_ref()).await?;
    Ok((done, warnings))
}

/// The warnings `run` recorded, in order.
#[must_use]
pub fn warnings_of(run: &sync_run::Model) -> Vec<String> {
    run.warnings
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default()
}

/// What a finished run warns an admin about: records skipped because no company is mapped at
/// all, and mappings that match no company the vendor lists (known only when the run read the
/// vendor's companies from the beginning).
async fn run_warnings(
    db: &DatabaseConnection,
    integration_id: Uuid,
    done: &[(Resource, Counts)],
    listed: Option<&HashSet<String>>,
) -> Result<Vec<String>, DbErr> {
    let mappings = company_mappings(db, integration_id).await?;
    let skipped: i32 = done.iter().map(|(_, counts)| counts.skipped).sum();
    let mut warnings = Vec::new();
    if mappings.is_empty() && skipped > 0 {
        warnings.push(format!(
            "no vendor company is mapped to an environment, so all {skipped} records read were \
             skipped: map them with mapIntegrationCompany (Integration.vendorCompanies lists \
             the vendor's companies)"
        ));
    }
    if let Some(listed) = listed {
        for mapping in mappings
            .iter()
            .filter(|mapping| !listed.contains(&mapping.external_company_id))
        {
            let name = mapping
                .external_company_name
                .as_deref()
                .map(|name| format!(" ({name})"))
                .unwrap_or_default();
            warnings.push(format!(
                "the mapping of vendor company `{}`{name} matches no company the vendor lists: \
                 none of its records can arrive; correct or remove it (unmapIntegrationCompany)",
                mapping.external_company_id
            ));
        }
    }
    Ok(warnings)
}

/// Refreshes PostgreSQL's planner statistics of the table `resource` fills. A first sync grows a
/// table from nothing within minutes, before autovacuum analyzes it; with statistics of an empty
/// table the planner reads each page's lookup by external id as a sequential scan, and a
/// 100,000-ticket load slows down tenfold. Called at doubling counts, so a run analyzes a few
/// times at most. SQLite plans by its indexes and needs nothing.
async fn refresh_statistics(db: &DatabaseConnection, resource: Resource) -> Result<(), DbErr> {
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    let table = match resource {
        Resource::Companies => return Ok(()),
        Resource::Devices => "systems, system_links",
        Resource::Tickets => "tickets",
        Resource::Alerts => "alerts",
        Resource::Changes => "change_log_entries, change_log_entry_systems",
    };
    db.execute_unprepared(&format!("ANALYZE {table}")).await?;
    Ok(())
}

/// Writes a page in a savepoint of `txn`. When the database refuses the page (a value a column
/// cannot hold, a record twice in one page), the page is written again one record per savepoint,
/// and each record the database still refuses is recorded on the run: one bad record must not
/// hold back the cursor, and with it every later run.
async fn write_page(
    txn: &sea_orm::DatabaseTransaction,
    context: &mut RunContext,
    resource: Resource,
    records: Vec<Result<integrations::model::Record, integrations::model::RecordError>>,
    mut seen: Option<&mut HashSet<String>>,
) -> Result<Counts, DbErr> {
    let events = context.pending_len();
    let savepoint = txn.begin().await?;
    let attempt = PageWriter::new(&savepoint, context)
        .write(resource, records.clone(), seen.as_deref_mut())
        .await;
    match attempt {
        Ok(counts) => {
            savepoint.commit().await?;
            return Ok(counts);
        }
        Err(error) => {
            savepoint.rollback().await?;
            context.discard_pending(events);
            tracing::warn!(resource = resource.as_str(), %error, "page refused; writing it record by record");
        }
    }
    let mut counts = Counts::default();
    let mut refused = Vec::new();
    for record in records {
        let events = context.pending_len();
        let external_id = match &record {
            Ok(found) => Some(found.external_id().to_owned()),
            Err(error) => error.external_id.clone(),
        };
        let savepoint = txn.begin().await?;
        let attempt = PageWriter::new(&savepoint, context)
            .write(resource, vec![record], seen.as_deref_mut())
            .await;
        match attempt {
            Ok(one) => {
                savepoint.commit().await?;
                counts.add(&one);
            }
            Err(error) => {
                savepoint.rollback().await?;
                context.discard_pending(events);
                counts.fetched += 1;
                counts.failed += 1;
                refused.push(run_error(
                    context.run_id(),
                    resource,
                    external_id,
                    format!("the database refused the record: {error}"),
                ));
            }
        }
    }
    for error in refused {
        error.into_active_model().insert(txn).await?;
    }
    Ok(counts)
}

/// Where a new pass of `resource` starts: `stored`, or earlier when records failed in a pass
/// that started earlier and are still pending on the retry list (`None`: from the beginning).
async fn retry_from(
    db: &impl ConnectionTrait,
    integration_id: Uuid,
    resource: Resource,
    stored: Option<DateTimeUtc>,
) -> Result<Option<DateTimeUtc>, DbErr> {
    let pending = sync_retry::Entity::find()
        .filter(sync_retry::COLUMN.integration_id.eq(integration_id))
        .filter(sync_retry::COLUMN.resource.eq(resource.as_str()))
        .filter(sync_retry::COLUMN.resolved_at.is_null())
        .all(db)
        .await?;
    Ok(pending
        .iter()
        .fold(stored, |from, retry| match (from, retry.changed_since) {
            (Some(from), Some(failed)) => Some(from.min(failed)),
            _ => None,
        }))
}

/// Keeps the retry list of one page: the records `read` that failed (as the run's errors say)
/// go on it, or stay with one more attempt; those written are resolved by `run_id`.
async fn track_retries(
    txn: &impl ConnectionTrait,
    integration_id: Uuid,
    run_id: Uuid,
    resource: Resource,
    since: Option<DateTimeUtc>,
    read: Vec<String>,
) -> Result<(), DbErr> {
    if read.is_empty() {
        return Ok(());
    }
    let now = Utc::now().trunc_subsecs(6);
    let mut failed = std::collections::HashMap::new();
    for chunk in read.chunks(500) {
        for error in sync_run_error::Entity::find()
            .filter(sync_run_error::COLUMN.sync_run_id.eq(run_id))
            .filter(sync_run_error::COLUMN.resource.eq(resource.as_str()))
            .filter(sync_run_error::COLUMN.external_id.is_in(chunk.to_vec()))
            .all(txn)
            .await?
        {
            if let Some(id) = error.external_id {
                failed.insert(id, error.reason);
            }
        }
    }
    for (external_id, reason) in &failed {
        let key = (
            integration_id,
            resource.as_str().to_owned(),
            external_id.clone(),
        );
        match sync_retry::Entity::find_by_id(key).one(txn).await? {
            Some(pending) if pending.resolved_at.is_none() => {
                let attempts = pending.attempts + 1;
                let mut row = pending.into_active_model();
                row.attempts = Set(attempts);
                row.reason = Set(reason.clone());
                row.last_failed_at = Set(now);
                row.update(txn).await?;
            }
            reopened => {
                let row = sync_retry::Model {
                    integration_id,
                    resource: resource.as_str().to_owned(),
                    external_id: external_id.clone(),
                    changed_since: since,
                    reason: reason.clone(),
                    attempts: 1,
                    first_failed_at: now,
                    last_failed_at: now,
                    resolved_at: None,
                    resolved_by_run_id: None,
                }
                .into_active_model();
                if reopened.is_some() {
                    row.reset_all().update(txn).await?;
                } else {
                    row.insert(txn).await?;
                }
            }
        }
    }
    let written: Vec<String> = read
        .into_iter()
        .filter(|id| !failed.contains_key(id))
        .collect();
    for chunk in written.chunks(500) {
        sync_retry::Entity::update_many()
            .col_expr(sync_retry::Column::ResolvedAt, Expr::value(now))
            .col_expr(sync_retry::Column::ResolvedByRunId, Expr::value(run_id))
            .filter(sync_retry::COLUMN.integration_id.eq(integration_id))
            .filter(sync_retry::COLUMN.resource.eq(resource.as_str()))
            .filter(sync_retry::COLUMN.resolved_at.is_null())
            .filter(sync_retry::COLUMN.external_id.is_in(chunk.to_vec()))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// What a cursor stores mid-pass: the vendor's token of the next page, and when the pass began.
struct PassToken {
    started: DateTimeUtc,
    token: String,
}

impl PassToken {
    fn parse(stored: &str) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_str(stored).ok()?;
        Some(Self {
            started: value.get("pass_started")?.as_str()?.parse().ok()?,
            token: value.get("token")?.as_str()?.to_owned(),
        })
    }
}

impl std::fmt::Display for PassToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value =
            serde_json::json!({ "pass_started": self.started.to_rfc3339(), "token": self.token });
        write!(f, "{value}")
    }
}

async fn save_cursor(
    db: &impl ConnectionTrait,
    integration_id: Uuid,
    resource: Resource,
    cursor: &Cursor,
) -> Result<(), DbErr> {
    sync_cursor::Entity::insert(
        sync_cursor::Model {
            integration_id,
            resource: resource.as_str().to_owned(),
            changed_since: cursor.changed_since,
            page_token: cursor.page_token.clone(),
            updated_at: Utc::now().trunc_subsecs(6),
        }
        .into_active_model(),
    )
    .on_conflict(
        OnConflict::columns([
            sync_cursor::Column::IntegrationId,
            sync_cursor::Column::Resource,
        ])
        .update_columns([
            sync_cursor::Column::ChangedSince,
            sync_cursor::Column::PageToken,
            sync_cursor::Column::UpdatedAt,
        ])
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

async fn add_to_run(db: &impl ConnectionTrait, run_id: Uuid, counts: &Counts) -> Result<(), DbErr> {
    let add = |column: sync_run::Column, by: i32| {
        sea_orm::sea_query::ExprTrait::add(Expr::col(column), by)
    };
    sync_run::Entity::update_many()
        .col_expr(
            sync_run::Column::RecordsFetched,
            add(sync_run::Column::RecordsFetched, counts.fetched),
        )
        .col_expr(
            sync_run::Column::RecordsCreated,
            add(sync_run::Column::RecordsCreated, counts.created),
        )
        .col_expr(
            sync_run::Column::RecordsUpdated,
            add(sync_run::Column::RecordsUpdated, counts.updated),
        )
        .col_expr(
            sync_run::Column::RecordsUnchanged,
            add(sync_run::Column::RecordsUnchanged, counts.unchanged),
        )
        .col_expr(
            sync_run::Column::RecordsFailed,
            add(sync_run::Column::RecordsFailed, counts.failed),
        )
        .col_expr(
            sync_run::Column::RecordsSkipped,
            add(sync_run::Column::RecordsSkipped, counts.skipped),
        )
        .filter(sync_run::COLUMN.id.eq(run_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Adds the vendor's lookup values to the integration's value mappings, and follows a changed
/// suggestion where no admin has overridden the mapping.
async fn seed_value_mappings(
    db: &DatabaseConnection,
    integration_id: Uuid,
    options: &SyncOptions,
    lookups: &[LookupValue],
) -> Result<(), SyncError> {
    if lookups.is_empty() {
        return Ok(());
    }
    let now = Utc::now().trunc_subsecs(6);
    let txn = crate::services::unit::begin_write(db).await?;
    // The integration row first (as `setValueMapping` locks it), through the lease: an admin's
    // override committed while this runs is read here, never overwritten from a stale copy, and
    // a run whose integration was deleted or remapped meanwhile seeds nothing.
    if !renew_lease(&txn, integration_id, options).await? {
        return Err(SyncError::LeaseLost);
    }
    let stored = value_mapping::Entity::find()
        .filter(value_mapping::COLUMN.integration_id.eq(integration_id))
        .all(&txn)
        .await?;
    for lookup in lookups {
        let (domain, normalized) = match lookup.suggested {
            Normalized::Status(status) => (
                ValueMappingDomain::TicketStatus,
                sea_orm::ActiveEnum::to_value(&status),
            ),
            Normalized::Priority(priority) => (
                ValueMappingDomain::TicketPriority,
                sea_orm::ActiveEnum::to_value(&priority),
            ),
        };
        match stored
            .iter()
            .find(|found| found.domain == domain && found.external_value == lookup.value)
        {
            None => {
                value_mapping::Model {
                    id: Uuid::now_v7(),
                    integration_id,
                    domain,
                    external_value: lookup.value.clone(),
                    external_label: Some(lookup.label.clone()),
                    normalized_value: normalized,
                    overridden: false,
                    created_at: now,
                    updated_at: now,
                }
                .into_active_model()
                .insert(&txn)
                .await?;
            }
            Some(found)
                if !found.overridden
                    && (found.normalized_value != normalized
                        || found.external_label.as_deref() != Some(lookup.label.as_str())) =>
            {
                let mut model = found.clone().into_active_model();
                model.normalized_value = Set(normalized);
                model.external_label = Set(Some(lookup.label.clone()));
                model.updated_at = Set(now);
                model.update(&txn).await?;
            }
            Some(_) => {}
        }
    }
    txn.commit().await?;
    Ok(())
}

/// Records a record that could not be written or read on the run.
pub(crate) fn run_error(
    run_id: Uuid,
    resource: Resource,
    external_id: Option<String>,
    reason: String,
) -> sync_run_error::Model {
    sync_run_error::Model {
        id: Uuid::now_v7(),
        sync_run_id: run_id,
        resource: resource.as_str().to_owned(),
        external_id,
        reason,
        occurred_at: Utc::now().trunc_subsecs(6),
    }
}

/// The mappings of an integration's companies to environments.
pub(crate) async fn company_mappings(
    db: &impl ConnectionTrait,
    integration_id: Uuid,
) -> Result<Vec<integration_mapping::Model>, DbErr> {
    integration_mapping::Entity::find()
        .filter(
            integration_mapping::COLUMN
                .integration_id
                .eq(integration_id),
        )
        .all(db)
        .await
}
