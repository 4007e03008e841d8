//! The delivery worker: a background task of `tandem serve` that sends due webhook deliveries.
//!
//! Every [`Settings::poll`] it claims up to [`BATCH`] due deliveries (`PENDING`, due, no live
//! lease) with a conditional `UPDATE` each (set the lease only where it is still free and the
//! row is as it was read: still due, with the same attempt count, so a delivery another server
//! attempted and settled in between is not sent again before its backoff), so two servers on
//! one database never attempt the same delivery at once, on SQLite and PostgreSQL alike. The
//! lease is renewed just before each attempt (only where this worker still holds it), so a
//! round that spends long on slow endpoints never attempts a delivery whose lease ran out and
//! another server may hold; such a delivery is skipped. Each endpoint's deliveries are sent
//! one after the other, in event order; endpoints in parallel. An attempt POSTs the event
//! (`{id, type, occurredAt, organizationId, environmentId, data}`) signed with the endpoint's
//! secret ([`super::signature`]), with short timeouts, no redirects followed, no proxy, and the
//! egress policy of vendor calls (a name that resolves to a forbidden address is never
//! connected to). Before sending, the endpoint's organization
//! must still see the event's (the tenancy rule of [`super::may_see`], checked again at every
//! attempt: a provider whose engagement ended receives no more retries), else the delivery is
//! `FAILED`. Outcomes:
//! - 2xx: `DELIVERED`;
//! - 408, 429, 5xx, a timeout or a connection failure: tried again after
//!   `retry_base * 2^(attempts-1)` (at most an hour, ±20 % jitter), until 24 hours after the
//!   delivery was created, then `GAVE_UP`;
//! - another 4xx (or a redirect): tried [`MAX_REFUSALS`] times in all, then `FAILED`.
//!
//! Only the first [`EXCERPT`] characters of an answer are kept (in `last_error`). Delivery is
//! at least once: a server that dies mid-attempt leaves a lease that expires after [`LEASE`],
//! and the delivery is tried again; receivers deduplicate by `Tandem-Event-Id`. A graceful
//! shutdown finishes the attempts in flight first. Events older than the retention window are
//! pruned with their deliveries.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use entities::enums::WebhookDeliveryStatus;
use entities::{outbox_event, webhook_delivery, webhook_endpoint};
use futures_util::StreamExt;
use integrations::egress::Egress;
use integrations::secrets::SecretKey;
use sea_orm::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{Condition, DatabaseConnection, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::payload::global_id;
use super::signature;
use crate::ids::NodeType;

/// Deliveries claimed per round.
pub const BATCH: u64 = 50;
/// How long a claim (or its renewal before each attempt) holds a delivery: comfortably longer
/// than one attempt can take (see [`lease_for`]).
pub const LEASE: Duration = Duration::from_secs(60);
/// Attempts answered with a 4xx (other than 408 and 429) before a delivery is `FAILED`.
pub const MAX_REFUSALS: i32 = 3;
/// Characters of an endpoint's answer kept in `last_error`.
pub const EXCERPT: usize = 200;
/// Endpoints attempted at once.
const PARALLEL_ENDPOINTS: usize = 8;
/// How often old events are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// How the worker runs.
#[derive(Clone)]
pub struct Settings {
    /// Time between two rounds when nothing was due.
    pub poll: Duration,
    /// The first retry's delay; it doubles with every attempt, up to an hour.
    pub retry_base: Duration,
    /// How long after a delivery was created it is still tried.
    pub give_up_after: Duration,
    /// How long an attempt may take in all (connecting, sending, the answer's head).
    pub timeout: Duration,
    /// How long events (and their deliveries) are kept.
    pub retention: Duration,
    /// Where deliveries may go (the policy of vendor calls).
    pub egress: Egress,
    /// Opens endpoints' secrets.
    pub key: Option<Arc<SecretKey>>,
}

/// The running worker; [`Worker::stop`] ends it after the attempts in flight.
pub struct Worker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Worker {
    /// Starts the worker on `db`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn start(db: DatabaseConnection, settings: Settings) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .timeout(settings.timeout)
            .user_agent(concat!("tandem-webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(settings.egress.resolver())
            // A redirect would need its own egress check; an endpoint that redirects is wrong.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy resolves names itself, which would bypass the filtering resolver.
            .no_proxy()
            .build()?;
        let (stop, mut stopped) = watch::channel(false);
        let owner = format!("webhooks:{}", Uuid::new_v4());
        let task = tokio::spawn(async move {
            let mut pruned_at = tokio::time::Instant::now();
            loop {
                let claimed = match round(&db, &client, &settings, &owner).await {
                    Ok(claimed) => claimed,
                    Err(error) => {
                        tracing::warn!(%error, "webhook delivery round failed");
                        0
                    }
                };
                if pruned_at.elapsed() >= PRUNE_EVERY {
                    pruned_at = tokio::time::Instant::now();
                    match prune(&db, settings.retention).await {
                        Ok(0) => {}
                        Ok(pruned) => tracing::info!(pruned, "old outbox events pruned"),
                        Err(error) => tracing::warn!(%error, "cannot prune the outbox"),
                    }
                }
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
        Ok(Self { stop, task })
    }

    /// Stops claiming, lets the attempts in flight finish, and returns.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::warn!(%error, "the webhook worker ended badly");
        }
    }
}

/// One round: claims what is due and attempts it. Returns how many were claimed.
///
/// # Errors
/// Database errors.
pub async fn round(
    db: &DatabaseConnection,
    client: &reqwest::Client,
    settings: &Settings,
    owner: &str,
) -> Result<u64, DbErr> {
    let now = Utc::now().trunc_subsecs(6);
    let due = webhook_delivery::Entity::find()
        .filter(
            webhook_delivery::COLUMN
                .status
                .eq(WebhookDeliveryStatus::Pending),
        )
        .filter(webhook_delivery::COLUMN.next_attempt_at.lte(now))
        .filter(
            Condition::any()
                .add(webhook_delivery::COLUMN.lease_expires_at.is_null())
                .add(webhook_delivery::COLUMN.lease_expires_at.lt(now)),
        )
        .order_by_asc(webhook_delivery::Column::NextAttemptAt)
        .order_by_asc(webhook_delivery::Column::Id)
        .limit(BATCH)
        .all(db)
        .await?;
    let lease_until = now + chrono::Duration::from_std(lease_for(settings)).unwrap_or_default();
    let mut claimed = Vec::new();
    for found in due {
        if claim(db, owner, &found, now, lease_until).await? {
            claimed.push(found);
        }
    }
    let count = claimed.len() as u64;
    if claimed.is_empty() {
        return Ok(0);
    }
    let events: HashMap<Uuid, outbox_event::Model> = outbox_event::Entity::find()
        .filter(
            outbox_event::COLUMN
                .id
                .is_in(claimed.iter().map(|found| found.event_id)),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|event| (event.id, event))
        .collect();
    let endpoints: HashMap<Uuid, webhook_endpoint::Model> = webhook_endpoint::Entity::find()
        .filter(
            webhook_endpoint::COLUMN
                .id
                .is_in(claimed.iter().map(|found| found.endpoint_id)),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|endpoint| (endpoint.id, endpoint))
        .collect();
    // Per endpoint, in event order.
    let mut queues: BTreeMap<Uuid, Vec<webhook_delivery::Model>> = BTreeMap::new();
    for found in claimed {
        queues.entry(found.endpoint_id).or_default().push(found);
    }
    for queue in queues.values_mut() {
        queue.sort_by_key(|found| {
            events
                .get(&found.event_id)
                .map_or((i64::MAX, found.id), |event| (event.seq, found.id))
        });
    }
    let (events, endpoints) = (&events, &endpoints);
    futures_util::stream::iter(queues.into_values())
        .for_each_concurrent(PARALLEL_ENDPOINTS, |queue| async move {
            for found in queue {
                // The round may have spent long on this endpoint's earlier deliveries: attempt
                // only with a fresh lease, never one that may have run out meanwhile.
                match renew(db, settings, owner, found.id).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::info!(delivery = %found.id, "webhook lease lost; skipped");
                        continue;
                    }
                    Err(error) => {
                        tracing::warn!(delivery = %found.id, %error, "cannot renew a webhook lease");
                        continue;
                    }
                }
                let event = events.get(&found.event_id);
                let endpoint = endpoints.get(&found.endpoint_id);
                let outcome = attempt(db, client, settings, found.id, event, endpoint).await;
                if let Err(error) = settle(db, settings, owner, &found, outcome).await {
                    tracing::warn!(delivery = %found.id, %error, "cannot record a webhook attempt");
                }
            }
        })
        .await;
    Ok(count)
}

/// Claims `found` (a due delivery as read at `now`) for `owner` until `lease_until`. Returns
/// whether it did.
///
/// # Errors
/// Database errors.
pub async fn claim(
    db: &DatabaseConnection,
    owner: &str,
    found: &webhook_delivery::Model,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    // Only where the lease is still free: of two servers, one wins. And only where the row is as
    // it was read: another server may have attempted and settled it since (attempts counted,
    // next attempt pushed back), and it must not be sent again now.
    let taken = webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::LeaseOwner, Expr::value(owner))
        .col_expr(
            webhook_delivery::Column::LeaseExpiresAt,
            Expr::value(lease_until),
        )
        .filter(webhook_delivery::COLUMN.id.eq(found.id))
        .filter(
            webhook_delivery::COLUMN
                .status
                .eq(WebhookDeliveryStatus::Pending),
        )
        .filter(webhook_delivery::COLUMN.next_attempt_at.lte(now))
        .filter(webhook_delivery::COLUMN.attempts.eq(found.attempts))
        .filter(
            Condition::any()
                .add(webhook_delivery::COLUMN.lease_expires_at.is_null())
                .add(webhook_delivery::COLUMN.lease_expires_at.lt(now)),
        )
        .exec(db)
        .await?;
    Ok(taken.rows_affected == 1)
}

/// How long a claim or a renewal holds a delivery: [`LEASE`], or three attempt timeouts when
/// the timeout is configured longer, so an attempt always ends well within its lease.
#[must_use]
pub fn lease_for(settings: &Settings) -> Duration {
    LEASE.max(settings.timeout.saturating_mul(3))
}

/// Extends this worker's lease on delivery `id` from now, only where it still holds a live one.
/// Returns whether it did: `false` when the lease ran out (another server may hold it now) or
/// the delivery was settled.
///
/// # Errors
/// Database errors.
pub async fn renew(
    db: &DatabaseConnection,
    settings: &Settings,
    owner: &str,
    id: Uuid,
) -> Result<bool, DbErr> {
    let now = Utc::now().trunc_subsecs(6);
    let lease_until = now + chrono::Duration::from_std(lease_for(settings)).unwrap_or_default();
    let renewed = webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::LeaseExpiresAt,
            Expr::value(lease_until),
        )
        .filter(webhook_delivery::COLUMN.id.eq(id))
        .filter(
            webhook_delivery::COLUMN
                .status
                .eq(WebhookDeliveryStatus::Pending),
        )
        .filter(webhook_delivery::COLUMN.lease_owner.eq(owner))
        .filter(webhook_delivery::COLUMN.lease_expires_at.gt(now))
        .exec(db)
        .await?;
    Ok(renewed.rows_affected == 1)
}

/// What one attempt came to.
#[derive(Debug)]
pub enum Outcome {
    /// 2xx.
    Delivered(u16),
    /// Worth trying again: 408, 429, 5xx, no answer; with the status when there was one.
    Retry(Option<u16>, String),
    /// Refused by the endpoint (another 4xx, a redirect).
    Refused(u16, String),
    /// Never to be tried again (the endpoint is gone, its address is not allowed).
    Fail(String),
}

/// The body of a delivery of `event`.
#[must_use]
pub fn body(event: &outbox_event::Model) -> Vec<u8> {
    let message = json!({
        "id": event.id,
        "type": event.event_type,
        "occurredAt": event.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "organizationId": global_id(NodeType::Organization, event.organization_id),
        "environmentId": event.environment_id.map(|id| global_id(NodeType::Environment, id)),
        "data": event.payload,
    });
    serde_json::to_vec(&message).unwrap_or_default()
}

/// Opens `endpoint`'s signing secret.
///
/// # Errors
/// When no key is configured or the secret does not open with it.
pub fn open_secret(
    key: Option<&SecretKey>,
    endpoint: &webhook_endpoint::Model,
) -> Result<String, integrations::secrets::SecretError> {
    let key = key.ok_or(integrations::secrets::SecretError::NoKey)?;
    let opened = key.open(&secret_context(endpoint.id), &endpoint.secret_ciphertext)?;
    String::from_utf8(opened).map_err(|_| integrations::secrets::SecretError::CannotOpen)
}

/// What an endpoint's secret is bound to when sealed: its id, under a prefix of its own so it
/// never opens as anything else's.
#[must_use]
pub fn secret_context(endpoint_id: Uuid) -> Vec<u8> {
    let mut context = b"webhook-endpoint:".to_vec();
    context.extend_from_slice(endpoint_id.as_bytes());
    context
}

async fn attempt(
    db: &DatabaseConnection,
    client: &reqwest::Client,
    settings: &Settings,
    delivery_id: Uuid,
    event: Option<&outbox_event::Model>,
    endpoint: Option<&webhook_endpoint::Model>,
) -> Outcome {
    let (Some(event), Some(endpoint)) = (event, endpoint) else {
        return Outcome::Fail("the event or the endpoint no longer exists".to_owned());
    };
    if endpoint.deleted_at.is_some() {
        return Outcome::Fail("the endpoint was deleted".to_owned());
    }
    // Decided at enqueue time, but retries go on for a day: a provider whose engagement with the
    // event's organization has ended since must not receive it.
    match super::may_see(
        db,
        endpoint.organization_id,
        event.organization_id,
        Utc::now(),
    )
    .await
    {
        Ok(true) => {}
        Ok(false) => {
            return Outcome::Fail(
                "the endpoint's organization may no longer see this event".to_owned(),
            );
        }
        Err(_) => {
            return Outcome::Retry(None, "cannot check who may see the event".to_owned());
        }
    }
    if !endpoint.enabled {
        return Outcome::Retry(None, "the endpoint is disabled".to_owned());
    }
    let url = match url::Url::parse(&endpoint.url) {
        Ok(url) => url,
        Err(_) => return Outcome::Fail("the endpoint's URL does not parse".to_owned()),
    };
    if let Err(refusal) = settings.egress.check_url(&url) {
        return Outcome::Fail(format!("the endpoint's URL is not allowed: {refusal}"));
    }
    let Ok(secret) = open_secret(settings.key.as_deref(), endpoint) else {
        return Outcome::Retry(
            None,
            "the endpoint's secret cannot be opened (is TANDEM_SECRET_KEY the one it was sealed with?)"
                .to_owned(),
        );
    };
    let body = body(event);
    let timestamp = Utc::now().timestamp();
    let host = url.host_str().unwrap_or_default().to_owned();
    let sent = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            signature::HEADER,
            signature::header(&secret, timestamp, &body),
        )
        .header("Tandem-Event-Id", event.id.to_string())
        .header("Tandem-Event-Type", event.event_type.as_str())
        .header("Tandem-Delivery-Id", delivery_id.to_string())
        .body(body)
        .send()
        .await;
    let mut response = match sent {
        Ok(response) => response,
        Err(error) if error.is_timeout() => {
            return Outcome::Retry(None, format!("no answer from {host} in time"));
        }
        Err(_) => return Outcome::Retry(None, format!("could not reach {host}")),
    };
    let status = response.status();
    if status.is_success() {
        return Outcome::Delivered(status.as_u16());
    }
    // A short excerpt of the answer, never more.
    let mut excerpt = Vec::new();
    while excerpt.len() < EXCERPT * 4 {
        match response.chunk().await {
            Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let text: String = String::from_utf8_lossy(&excerpt)
        .chars()
        .filter(|c| !c.is_control())
        .take(EXCERPT)
        .collect();
    let message = format!("{host} answered {status}: {text}")
        .trim()
        .to_owned();
    let code = status.as_u16();
    if status.is_redirection() || (status.is_client_error() && !matches!(code, 408 | 429)) {
        Outcome::Refused(code, message)
    } else {
        Outcome::Retry(Some(code), message)
    }
}

/// The wait before attempt `attempts + 1`: `base * 2^(attempts-1)`, at most an hour, ±20 %.
#[must_use]
pub fn backoff(base: Duration, attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    let wait = base
        .saturating_mul(2_u32.saturating_pow(doublings))
        .min(Duration::from_secs(3600));
    wait.mul_f64(0.8 + fastrand::f64() * 0.4)
}

/// Records `outcome` on `found`, if this worker still holds its lease.
async fn settle(
    db: &DatabaseConnection,
    settings: &Settings,
    owner: &str,
    found: &webhook_delivery::Model,
    outcome: Outcome,
) -> Result<(), DbErr> {
    let now = Utc::now().trunc_subsecs(6);
    let attempts = found.attempts + 1;
    let deadline: DateTime<Utc> =
        found.created_at + chrono::Duration::from_std(settings.give_up_after).unwrap_or_default();
    let retry_at = |attempts: i32| {
        now + chrono::Duration::from_std(backoff(settings.retry_base, attempts)).unwrap_or_default()
    };
    let (status, next, last_status, last_error, label) = match outcome {
        Outcome::Delivered(code) => (
            WebhookDeliveryStatus::Delivered,
            None,
            Some(code),
            None,
            "delivered",
        ),
        Outcome::Fail(message) => (
            WebhookDeliveryStatus::Failed,
            None,
            None,
            Some(message),
            "failed",
        ),
        Outcome::Refused(code, message) if attempts >= MAX_REFUSALS => (
            WebhookDeliveryStatus::Failed,
            None,
            Some(code),
            Some(message),
            "failed",
        ),
        Outcome::Refused(code, message) => {
            let next = retry_at(attempts);
            if next > deadline {
                (
                    WebhookDeliveryStatus::GaveUp,
                    None,
                    Some(code),
                    Some(message),
                    "gave_up",
                )
            } else {
                (
                    WebhookDeliveryStatus::Pending,
                    Some(next),
                    Some(code),
                    Some(message),
                    "retry",
                )
            }
        }
        Outcome::Retry(code, message) => {
            let next = retry_at(attempts);
            if next > deadline {
                (
                    WebhookDeliveryStatus::GaveUp,
                    None,
                    code,
                    Some(message),
                    "gave_up",
                )
            } else {
                (
                    WebhookDeliveryStatus::Pending,
                    Some(next),
                    code,
                    Some(message),
                    "retry",
                )
            }
        }
    };
    let delivered_at = (status == WebhookDeliveryStatus::Delivered).then_some(now);
    let settled = webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::Status,
            Expr::value(sea_orm::ActiveEnum::to_value(&status)),
        )
        .col_expr(webhook_delivery::Column::Attempts, Expr::value(attempts))
        .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(next))
        .col_expr(
            webhook_delivery::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            webhook_delivery::Column::LeaseExpiresAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            webhook_delivery::Column::LastStatus,
            Expr::value(last_status.map(i32::from)),
        )
        .col_expr(webhook_delivery::Column::LastError, Expr::value(last_error))
        .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(now))
        .col_expr(
            webhook_delivery::Column::DeliveredAt,
            Expr::value(delivered_at),
        )
        .filter(webhook_delivery::COLUMN.id.eq(found.id))
        .filter(webhook_delivery::COLUMN.lease_owner.eq(owner))
        .exec(db)
        .await?;
    if settled.rows_affected == 1 {
        crate::metrics::webhook_attempt(label);
    }
    Ok(())
}

/// Deletes events older than `retention`, with their deliveries. Returns how many events went.
///
/// # Errors
/// Database errors.
pub async fn prune(db: &DatabaseConnection, retention: Duration) -> Result<u64, DbErr> {
    let cutoff = Utc::now() - chrono::Duration::from_std(retention).unwrap_or_default();
    let mut pruned = 0;
    loop {
        let old: Vec<Uuid> = outbox_event::Entity::find()
            .select_only()
            .column(outbox_event::Column::Id)
            .filter(outbox_event::COLUMN.occurred_at.lt(cutoff))
            .order_by_asc(outbox_event::Column::Seq)
            .limit(500)
            .into_tuple()
            .all(db)
            .await?;
        if old.is_empty() {
            return Ok(pruned);
        }
        webhook_delivery::Entity::delete_many()
            .filter(webhook_delivery::COLUMN.event_id.is_in(old.iter().copied()))
            .exec(db)
            .await?;
        pruned += outbox_event::Entity::delete_many()
            .filter(outbox_event::COLUMN.id.is_in(old))
            .exec(db)
            .await?
            .rows_affected;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::backoff;
    use crate::outbox::EventType;

    #[test]
    fn backoff_doubles_from_the_base_up_to_an_hour_with_jitter() {
        let base = Duration::from_secs(10);
        for (attempts, nominal) in [(1, 10), (2, 20), (3, 40), (12, 3600), (40, 3600)] {
            let wait = backoff(base, attempts).as_secs_f64();
            let nominal = f64::from(nominal);
            assert!(
                (nominal * 0.8..=nominal * 1.2).contains(&wait),
                "attempt {attempts}: {wait} s"
            );
        }
    }

    #[test]
    fn every_event_type_has_one_name() {
        for event_type in EventType::ALL {
            assert_eq!(EventType::parse(event_type.name()), Some(event_type));
        }
        assert_eq!(EventType::parse("ticket.deleted"), None);
    }
}
