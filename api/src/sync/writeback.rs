//! The write-back worker: a background task of `tandem serve` that sends due `psa_writes` jobs
//! with their integration's connector.
//!
//! Every [`Settings::poll`] a round reads due pending jobs (no live lease), keeps for each ticket
//! only its oldest pending job (a ticket's writes go out in the order they were made: the
//! assignment before its note, status changes in order), and claims each, just before sending it, with a conditional
//! `UPDATE` that takes the lease and counts the attempt only on the row as it was read, so two
//! servers never send the same job at once. Outcomes:
//! - accepted: `DONE`, with the vendor's id of what it created, and the echo suppressed (see
//!   [`crate::writeback`]);
//! - 429, 5xx, no answer: tried again after `retry_base * 2^(attempts-1)` (at most an hour,
//!   ±20 %) until [`Settings::give_up_after`] (24 hours) after it was queued, then `FAILED`;
//! - a refusal (400, 404, bad configuration, ...): `FAILED` at once with Tandem's words for it.
//!
//! A note job attempted before (a crash after the vendor answered, a lost answer) first asks the
//! vendor whether the ticket already has a note with its text ([`Connector::find_note`]) and
//! takes that note instead of writing it again, so a restart never writes a note twice.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use entities::enums::{PsaWriteStatus, ValueMappingDomain};
use entities::{integration, psa_write, ticket, ticket_note, value_mapping};
use integrations::connector::{Connector, TicketWrite, WriteReceipt};
use integrations::egress::Egress;
use integrations::error::ConnectorError;
use integrations::http::RetryPolicy;
use integrations::secrets::SecretKey;
use sea_orm::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{
    Condition, DatabaseConnection, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::outbox::worker::backoff;

/// Jobs claimed per round.
pub const BATCH: u64 = 50;
/// How long a claim holds a job: longer than a vendor call with its timeouts takes.
pub const LEASE: Duration = Duration::from_secs(120);

/// How the worker runs.
#[derive(Clone)]
pub struct Settings {
    /// Time between two rounds when nothing was due.
    pub poll: Duration,
    /// The first retry's delay; it doubles with every attempt, up to an hour.
    pub retry_base: Duration,
    /// How long after a job was queued it is still tried.
    pub give_up_after: Duration,
    /// Timeouts of vendor calls (each job is one attempt per round: retries are the queue's).
    pub policy: RetryPolicy,
    /// Where vendor calls may go.
    pub egress: Egress,
    /// Opens integrations' credentials.
    pub key: Option<Arc<SecretKey>>,
}

/// The running worker; [`Worker::stop`] ends it after the round in flight.
pub struct Worker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Worker {
    /// Starts the worker on `db`.
    #[must_use]
    pub fn start(db: DatabaseConnection, settings: Settings) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let owner = format!("writeback:{}", Uuid::new_v4());
        let task = tokio::spawn(async move {
            loop {
                let claimed = match round(&db, &settings, &owner).await {
                    Ok(claimed) => claimed,
                    Err(error) => {
                        tracing::warn!(%error, "write-back round failed");
                        0
                    }
                };
                if *stopped.borrow() {
                    return;
                }
                if claimed < BATCH {
                    tokio::select! {
                        () = tokio::time::sleep(settings.poll) => {}
                        _ = stopped.changed() => return,
                    }
                }
            }
        });
        Self { stop, task }
    }

    /// Stops claiming, lets the round in flight finish, and returns.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::warn!(%error, "the write-back worker ended badly");
        }
    }
}

/// One round: claims the due jobs (each ticket's oldest pending one) and sends them. Returns how
/// many were claimed.
///
/// # Errors
/// Database errors.
pub async fn round(
    db: &DatabaseConnection,
    settings: &Settings,
    owner: &str,
) -> Result<u64, DbErr> {
    let now = Utc::now().trunc_subsecs(6);
    // Each ticket's oldest pending job only: a later one waits for it, even when it is due (in
    // SQL, so that one ticket's long queue behind a job in backoff cannot fill every batch).
    let due = psa_write::Entity::find()
        .filter(psa_write::COLUMN.status.eq(PsaWriteStatus::Pending))
        .filter(psa_write::COLUMN.next_attempt_at.lte(now))
        .filter(
            Condition::any()
                .add(psa_write::COLUMN.lease_expires_at.is_null())
                .add(psa_write::COLUMN.lease_expires_at.lt(now)),
        )
        .filter(Expr::cust(
            "NOT EXISTS (SELECT 1 FROM psa_writes AS earlier \
             WHERE earlier.ticket_id = psa_writes.ticket_id \
             AND earlier.status = 'PENDING' AND earlier.id < psa_writes.id)",
        ))
        .order_by_asc(psa_write::Column::Id)
        .limit(BATCH)
        .all(db)
        .await?;
    let mut count = 0;
    let mut connectors: std::collections::HashMap<Uuid, Result<Box<dyn Connector>, String>> =
        std::collections::HashMap::new();
    for job in due {
        // Claimed just before it is sent, not with the whole batch: a batch behind a slow
        // vendor would otherwise outlive its leases and another server would send it too.
        let claimed_at = Utc::now().trunc_subsecs(6);
        let lease_until = claimed_at + chrono::Duration::from_std(LEASE).unwrap_or_default();
        if !claim(db, owner, &job, claimed_at, lease_until).await? {
            continue;
        }
        count += 1;
        let outcome = match integration::Entity::find_by_id(job.integration_id)
            .one(db)
            .await?
        {
            None => Err(Refusal::Final("the integration is gone".to_owned())),
            Some(found) if !crate::writeback::enabled(&found) || found.deleted_at.is_some() => {
                Err(Refusal::Final(
                    "write-back is off for this integration (or it was deleted)".to_owned(),
                ))
            }
            Some(found) => {
                let connector = connectors.entry(found.id).or_insert_with(|| {
                    crate::sync::engine::connector_for(
                        settings.key.as_deref(),
                        &found,
                        settings.policy,
                        settings.egress,
                    )
                    .map_err(|error| error.to_string())
                });
                match connector {
                    Ok(connector) => send(db, connector.as_ref(), &job).await?,
                    Err(error) => Err(Refusal::Final(error.clone())),
                }
            }
        };
        settle(db, settings, owner, &job, outcome, claimed_at).await?;
    }
    Ok(count)
}

/// Takes `job`'s lease and counts its attempt, only where it is as it was read.
async fn claim(
    db: &DatabaseConnection,
    owner: &str,
    job: &psa_write::Model,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let taken = psa_write::Entity::update_many()
        .col_expr(psa_write::Column::LeaseOwner, Expr::value(owner))
        .col_expr(psa_write::Column::LeaseExpiresAt, Expr::value(lease_until))
        .col_expr(psa_write::Column::Attempts, Expr::value(job.attempts + 1))
        .filter(psa_write::COLUMN.id.eq(job.id))
        .filter(psa_write::COLUMN.status.eq(PsaWriteStatus::Pending))
        .filter(psa_write::COLUMN.attempts.eq(job.attempts))
        .filter(
            Condition::any()
                .add(psa_write::COLUMN.lease_expires_at.is_null())
                .add(psa_write::COLUMN.lease_expires_at.lt(now)),
        )
        .exec(db)
        .await?;
    Ok(taken.rows_affected == 1)
}

/// Why a job was not written.
enum Refusal {
    /// Worth trying again (429, 5xx, no answer).
    Transient(String),
    /// Not worth trying again.
    Final(String),
}

/// What a job's attempt ended with.
type Outcome = Result<(ticket::Model, TicketWrite, WriteReceipt), Refusal>;

async fn send(
    db: &DatabaseConnection,
    connector: &dyn Connector,
    job: &psa_write::Model,
) -> Result<Outcome, DbErr> {
    let Some(found) = ticket::Entity::find_by_id(job.ticket_id).one(db).await? else {
        return Ok(Err(Refusal::Final("the ticket is gone".to_owned())));
    };
    let Some(external_id) = found.external_id.clone() else {
        return Ok(Err(Refusal::Final("the ticket is not synced".to_owned())));
    };
    let Ok(write) = serde_json::from_value::<TicketWrite>(job.payload.clone()) else {
        return Ok(Err(Refusal::Final(
            "the stored write cannot be read".to_owned(),
        )));
    };
    let result = match &write {
        // Attempted before: the vendor may have it already.
        TicketWrite::Note { text, .. } if job.attempts > 0 => {
            match connector.find_note(&external_id, text).await {
                Ok(Some(id)) => Ok(WriteReceipt {
                    created_id: Some(id),
                    vendor_updated_at: None,
                }),
                Ok(None) => connector.write_ticket(&external_id, &write).await,
                Err(error) => Err(error),
            }
        }
        _ => connector.write_ticket(&external_id, &write).await,
    };
    Ok(match result {
        Ok(receipt) => Ok((found, write, receipt)),
        Err(error) if transient(&error) => Err(Refusal::Transient(error.to_string())),
        Err(error) => Err(Refusal::Final(error.to_string())),
    })
}

/// Whether `error` may pass: a throttling, failing or unreachable vendor.
fn transient(error: &ConnectorError) -> bool {
    error.is_transient() || matches!(error, ConnectorError::ThrottleBudgetSpent { .. })
}

/// Records the outcome of `job`'s attempt, if this worker still holds its lease; a written job
/// suppresses its echo in the same transaction.
async fn settle(
    db: &DatabaseConnection,
    settings: &Settings,
    owner: &str,
    job: &psa_write::Model,
    outcome: Outcome,
    started: DateTime<Utc>,
) -> Result<(), DbErr> {
    let now = Utc::now().trunc_subsecs(6);
    let txn = db.begin().await?;
    // The job's row first, then the ticket's (echo suppression): the order a sync page takes
    // them in, so the two cannot deadlock.
    let still_ours = psa_write::Entity::update_many()
        .col_expr(psa_write::Column::UpdatedAt, Expr::value(now))
        .filter(psa_write::COLUMN.id.eq(job.id))
        .filter(psa_write::COLUMN.lease_owner.eq(owner))
        .filter(psa_write::COLUMN.status.eq(PsaWriteStatus::Pending))
        .exec(&txn)
        .await?;
    if still_ours.rows_affected != 1 {
        // The lease ran out and another server took the job, or the sync dropped it meanwhile:
        // its outcome is theirs to record.
        return txn.rollback().await;
    }
    let mut update = psa_write::Entity::update_many()
        .col_expr(
            psa_write::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            psa_write::Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(psa_write::Column::UpdatedAt, Expr::value(now));
    match outcome {
        Ok((found, write, receipt)) => {
            let note_id = suppress_echo(&txn, job, &found, &write, &receipt, now).await?;
            update = update
                .col_expr(psa_write::Column::Status, Expr::value(PsaWriteStatus::Done))
                .col_expr(
                    psa_write::Column::NextAttemptAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .col_expr(psa_write::Column::DoneAt, Expr::value(now))
                .col_expr(
                    psa_write::Column::LastError,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(psa_write::Column::VendorId, Expr::value(receipt.created_id))
                .col_expr(psa_write::Column::NoteId, Expr::value(note_id));
        }
        Err(Refusal::Transient(error))
            if started - job.created_at
                < chrono::Duration::from_std(settings.give_up_after).unwrap_or_default() =>
        {
            let wait = backoff(settings.retry_base, job.attempts + 1);
            update = update
                .col_expr(
                    psa_write::Column::NextAttemptAt,
                    Expr::value(now + chrono::Duration::from_std(wait).unwrap_or_default()),
                )
                .col_expr(psa_write::Column::LastError, Expr::value(error));
        }
        Err(Refusal::Transient(error)) => {
            update = update
                .col_expr(
                    psa_write::Column::Status,
                    Expr::value(PsaWriteStatus::Failed),
                )
                .col_expr(
                    psa_write::Column::NextAttemptAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .col_expr(
                    psa_write::Column::LastError,
                    Expr::value(format!("gave up after retrying for 24 hours: {error}")),
                );
        }
        Err(Refusal::Final(error)) => {
            update = update
                .col_expr(
                    psa_write::Column::Status,
                    Expr::value(PsaWriteStatus::Failed),
                )
                .col_expr(
                    psa_write::Column::NextAttemptAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .col_expr(psa_write::Column::LastError, Expr::value(error));
        }
    }
    let settled = update
        .filter(psa_write::COLUMN.id.eq(job.id))
        .filter(psa_write::COLUMN.lease_owner.eq(owner))
        .filter(psa_write::COLUMN.status.eq(PsaWriteStatus::Pending))
        .exec(&txn)
        .await?;
    if settled.rows_affected == 1 {
        txn.commit().await
    } else {
        // The lease ran out and another server took the job, or the sync dropped it meanwhile:
        // its outcome is theirs to record.
        txn.rollback().await
    }
}

/// Makes the next sync know what `write` created or changed as Tandem's own: a created note's
/// vendor id on its Tandem note (a routing note gets one), a pushed status's label on the
/// ticket's `external_status`. Returns the Tandem note the job carries.
async fn suppress_echo(
    txn: &sea_orm::DatabaseTransaction,
    job: &psa_write::Model,
    found: &ticket::Model,
    write: &TicketWrite,
    receipt: &WriteReceipt,
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, DbErr> {
    match write {
        TicketWrite::Note { text, internal } => {
            let Some(created) = receipt.created_id.clone() else {
                return Ok(job.note_id);
            };
            if let Some(note_id) = job.note_id {
                ticket_note::Entity::update_many()
                    .col_expr(
                        ticket_note::Column::ExternalSource,
                        Expr::value(found.external_source.clone()),
                    )
                    .col_expr(ticket_note::Column::ExternalId, Expr::value(created))
                    .filter(ticket_note::COLUMN.id.eq(note_id))
                    .filter(ticket_note::COLUMN.external_id.is_null())
                    .exec(txn)
                    .await?;
                return Ok(Some(note_id));
            }
            let note = ticket_note::Model {
                id: Uuid::now_v7(),
                ticket_id: found.id,
                author_id: None,
                author_name: Some("Tandem".to_owned()),
                body: text.clone(),
                internal: *internal,
                created_at: now,
                external_source: found.external_source.clone(),
                external_id: Some(created),
                external_url: None,
            };
            let id = note.id;
            note.into_active_model().insert(txn).await?;
            Ok(Some(id))
        }
        TicketWrite::Status { status } => {
            let label = value_mapping::Entity::find()
                .filter(value_mapping::COLUMN.integration_id.eq(job.integration_id))
                .filter(
                    value_mapping::COLUMN
                        .domain
                        .eq(ValueMappingDomain::TicketStatus),
                )
                .filter(value_mapping::COLUMN.external_value.eq(status.clone()))
                .one(txn)
                .await?
                .and_then(|found| found.external_label)
                .unwrap_or_else(|| status.clone());
            let mut model = found.clone().into_active_model();
            model.external_status = Set(Some(label));
            model.update(txn).await?;
            Ok(None)
        }
        TicketWrite::Assign { .. } => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_throttling_budget_is_tried_again_later_and_a_refusal_is_final() {
        let spent = ConnectorError::ThrottleBudgetSpent {
            attempts: 3,
            waited: Duration::from_secs(60),
            budget: Duration::from_secs(60),
        };
        assert!(!spent.is_transient(), "not transient for a sync run");
        assert!(transient(&spent), "the queue tries the write again later");
        assert!(transient(&ConnectorError::Status { status: 500 }));
        assert!(!transient(&ConnectorError::Status { status: 400 }));
    }
}
