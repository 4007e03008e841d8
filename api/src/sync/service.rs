//! Running syncs from the server: on demand (`triggerSync`, webhooks) in the background, and on
//! each integration's schedule (`sync_interval_seconds`). The engine's lease keeps one run per
//! integration at a time, whichever process or trigger starts it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use entities::enums::SyncTrigger;
use entities::{integration, sync_run};
use integrations::egress::Egress;
use integrations::http::RetryPolicy;
use integrations::model::Resource;
use integrations::secrets::SecretKey;
use sea_orm::prelude::*;
use sea_orm::{DatabaseConnection, QueryFilter, QueryOrder};

use crate::events::EventBus;
use crate::sync::engine::{self, SyncError, SyncOptions, SyncReport};

/// How often the scheduler looks for integrations that are due.
pub const SCHEDULER_TICK: Duration = Duration::from_secs(15);

/// What the server needs to run syncs.
#[derive(Clone)]
pub struct SyncService {
    /// The database.
    pub db: DatabaseConnection,
    /// The key credentials are sealed with, when configured.
    pub key: Option<Arc<SecretKey>>,
    /// Where committed writes are published.
    pub events: EventBus,
    /// Retries and timeouts of vendor calls.
    pub policy: RetryPolicy,
    /// Which addresses vendor calls may reach (`--allow-private-vendor-addresses`).
    pub egress: Egress,
    /// The runs this process has in flight: each run's lease owner (unique per run) to its
    /// integration. A shutdown waits for them, then marks what is left `INTERRUPTED` and frees
    /// their leases.
    pub in_flight: Arc<Mutex<HashMap<String, Uuid>>>,
}

impl SyncService {
    /// Runs `integration_id` now and waits for the result.
    ///
    /// # Errors
    /// As [`engine::run`].
    pub async fn run(
        &self,
        integration_id: Uuid,
        trigger: SyncTrigger,
        only: Option<Vec<Resource>>,
        full: bool,
    ) -> Result<SyncReport, SyncError> {
        let mut options = SyncOptions::new(trigger);
        options.only = only;
        options.full = full;
        options.policy = self.policy;
        options.egress = self.egress;
        options.events = Some(self.events.clone());
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(options.owner.clone(), integration_id);
        let outcome = engine::run(
            &self.db,
            self.key.as_deref(),
            integration_id,
            &options,
            &|_| {},
        )
        .await;
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&options.owner);
        outcome
    }

    /// Waits up to `grace` for the runs in flight to finish, then marks the rest
    /// `INTERRUPTED` and frees their leases, so nothing stays `RUNNING` after a shutdown.
    ///
    /// # Errors
    /// Database errors.
    pub async fn shutdown(&self, grace: Duration) -> Result<usize, DbErr> {
        let deadline = tokio::time::Instant::now() + grace;
        let remaining = loop {
            let remaining: Vec<(Uuid, String)> = self
                .in_flight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
                .map(|(owner, id)| (*id, owner.clone()))
                .collect();
            if remaining.is_empty() || tokio::time::Instant::now() >= deadline {
                break remaining;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let now = Utc::now();
        for (integration_id, owner) in &remaining {
            let txn = crate::services::unit::begin_write(&self.db).await?;
            let released = integration::Entity::update_many()
                .col_expr(
                    integration::Column::LeaseOwner,
                    sea_orm::sea_query::Expr::value(Option::<String>::None),
                )
                .col_expr(
                    integration::Column::LeaseExpiresAt,
                    sea_orm::sea_query::Expr::value(Option::<chrono::DateTime<Utc>>::None),
                )
                .filter(integration::COLUMN.id.eq(*integration_id))
                .filter(integration::COLUMN.lease_owner.eq(owner.clone()))
                .exec(&txn)
                .await?;
            // Only while this run still held the lease is a RUNNING run of it ours to close.
            if released.rows_affected == 1 {
                engine::interrupt_runs(&txn, *integration_id, now).await?;
            }
            txn.commit().await?;
            if released.rows_affected == 1 {
                tracing::warn!(%integration_id, "sync interrupted by shutdown");
            }
        }
        Ok(remaining.len())
    }

    /// Starts a run in the background; the outcome lands in `syncRuns` and the log.
    pub fn spawn(
        &self,
        integration_id: Uuid,
        trigger: SyncTrigger,
        only: Option<Vec<Resource>>,
        full: bool,
    ) {
        let service = self.clone();
        tokio::spawn(async move {
            match service.run(integration_id, trigger, only, full).await {
                Ok(report) => tracing::info!(
                    %integration_id,
                    run = %report.run.id,
                    status = ?report.run.status,
                    fetched = report.run.records_fetched,
                    "sync finished"
                ),
                Err(SyncError::Busy { .. }) => {
                    tracing::info!(%integration_id, "sync skipped: another run holds the lease");
                }
                Err(error) => tracing::warn!(%integration_id, %error, "sync failed"),
            }
        });
    }

    /// Starts every enabled integration whose interval has passed since its last run began.
    ///
    /// # Errors
    /// Database errors.
    pub async fn start_due(&self) -> Result<usize, DbErr> {
        let scheduled = integration::Entity::find()
            .filter(integration::COLUMN.enabled.eq(true))
            .filter(integration::COLUMN.deleted_at.is_null())
            .filter(integration::COLUMN.sync_interval_seconds.is_not_null())
            .all(&self.db)
            .await?;
        let mut started = 0;
        for found in scheduled {
            let interval = chrono::Duration::seconds(i64::from(
                found.sync_interval_seconds.unwrap_or_default().max(60),
            ));
            let last = sync_run::Entity::find()
                .filter(sync_run::COLUMN.integration_id.eq(found.id))
                .order_by_desc(sync_run::Column::StartedAt)
                .one(&self.db)
                .await?;
            if last.is_none_or(|last| last.started_at + interval <= Utc::now()) {
                self.spawn(found.id, SyncTrigger::Schedule, None, false);
                started += 1;
            }
        }
        Ok(started)
    }

    /// Checks the schedule every [`SCHEDULER_TICK`] until the process ends.
    pub fn start_scheduler(self) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SCHEDULER_TICK);
            loop {
                tick.tick().await;
                if let Err(error) = self.start_due().await {
                    tracing::warn!(%error, "cannot check the sync schedule");
                }
            }
        });
    }
}
