//! Prometheus metrics, served at `GET /metrics` to a scraper holding `TANDEM_METRICS_TOKEN`.
//!
//! Counters and histograms go through the `metrics` facade into one process-wide Prometheus
//! recorder (installed on first use); gauges that describe a moment (the database pool) are read
//! when a scrape renders. Every label value is bounded: routes are the router's path templates,
//! outcomes are error codes or status classes, integrations are ids, and operation names, which
//! clients choose, are kept only while fewer than [`MAX_OPERATIONS`] distinct ones have been seen
//! (the rest count as `other`), so no client can grow the scrape without bound.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use entities::{integration, sync_run};
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sea_orm::DatabaseConnection;

/// Distinct GraphQL operation names kept as labels; later new names count as `other`.
pub const MAX_OPERATIONS: usize = 200;

const REQUESTS: &str = "tandem_http_requests_total";
const LATENCY: &str = "tandem_http_request_duration_seconds";
const RATE_LIMITED: &str = "tandem_rate_limited_total";
const SUBSCRIPTIONS: &str = "tandem_subscriptions_open";
const SYNC_RUNS: &str = "tandem_sync_runs_total";
const SYNC_RECORDS: &str = "tandem_sync_records_total";
const WEBHOOK_ATTEMPTS: &str = "tandem_webhook_delivery_attempts_total";
const POOL_SIZE: &str = "tandem_db_pool_connections";
const POOL_IDLE: &str = "tandem_db_pool_idle_connections";

/// Latency buckets, in seconds: from a cached `{ __typename }` to the request timeout.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
static OPERATIONS: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();

/// The process's recorder, installed on first use; `None` when another recorder was installed
/// first (then nothing is recorded here and `/metrics` says so).
pub fn handle() -> Option<&'static PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(LATENCY.to_owned()), BUCKETS)
                .ok()?
                .install_recorder()
                .ok()?;
            describe();
            // Histogram samples wait in buffers until drained: drain them even when nobody
            // scrapes, so memory stays flat.
            let upkeep = recorder.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".to_owned())
                .spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                })
                .ok()?;
            Some(recorder)
        })
        .as_ref()
}

fn describe() {
    describe_counter!(
        REQUESTS,
        "HTTP requests by route template, GraphQL operation name and outcome (error code, or OK)."
    );
    describe_histogram!(
        LATENCY,
        metrics::Unit::Seconds,
        "HTTP request latency until the response head, by route and operation."
    );
    describe_counter!(
        RATE_LIMITED,
        "Requests refused with 429 because their caller exceeded the rate limit."
    );
    describe_gauge!(SUBSCRIPTIONS, "GraphQL subscriptions open now.");
    describe_counter!(
        SYNC_RUNS,
        "Finished sync runs by integration id, vendor kind and status."
    );
    describe_counter!(
        SYNC_RECORDS,
        "Records of finished sync runs by integration id and outcome (fetched, created, updated, unchanged, skipped, failed)."
    );
    describe_counter!(
        WEBHOOK_ATTEMPTS,
        "Outbound webhook delivery attempts by outcome (delivered, retry, failed, gave_up)."
    );
    describe_gauge!(POOL_SIZE, "Database connections open in the pool.");
    describe_gauge!(POOL_IDLE, "Database connections idle in the pool.");
}

/// The label for a client's `operationName`: itself while the set of names seen is small,
/// `other` after, `anonymous` without one, `batch` for a batch.
/// Only a request answered without an error adds a new name: an `operationName` the document
/// does not have, or a document that does not validate, cannot take one of the places.
fn operation_label(operation: Option<&str>, register: bool) -> String {
    label_among(
        OPERATIONS.get_or_init(|| Mutex::new(HashSet::new())),
        operation,
        register,
    )
}

fn label_among(seen: &Mutex<HashSet<String>>, operation: Option<&str>, register: bool) -> String {
    let Some(name) = operation else {
        return "anonymous".to_owned();
    };
    if name.contains(',') {
        return "batch".to_owned();
    }
    let mut seen = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if seen.contains(name)
        || register && seen.len() < MAX_OPERATIONS && seen.insert(name.to_owned())
    {
        name.to_owned()
    } else {
        "other".to_owned()
    }
}

/// Counts one answered request. `operation` is a validated GraphQL name (or names joined with
/// `,`), `outcome` an error code or `OK`.
pub fn request(route: &str, operation: Option<&str>, outcome: &str, latency: Duration) {
    if handle().is_none() {
        return;
    }
    let operation = operation_label(operation, outcome == "OK");
    counter!(REQUESTS, "route" => route.to_owned(), "operation" => operation.clone(), "outcome" => outcome.to_owned())
        .increment(1);
    histogram!(LATENCY, "route" => route.to_owned(), "operation" => operation)
        .record(latency.as_secs_f64());
}

/// Counts a request refused by the rate limit.
pub fn rate_limited() {
    if handle().is_some() {
        counter!(RATE_LIMITED).increment(1);
    }
}

/// Holds one open subscription in the gauge until dropped.
#[derive(Debug)]
pub struct OpenSubscription(());

impl OpenSubscription {
    /// Counts a subscription that just opened.
    pub fn open() -> Self {
        if handle().is_some() {
            gauge!(SUBSCRIPTIONS).increment(1.0);
        }
        Self(())
    }
}

impl Drop for OpenSubscription {
    fn drop(&mut self) {
        if handle().is_some() {
            gauge!(SUBSCRIPTIONS).decrement(1.0);
        }
    }
}

/// Counts a finished sync run of `found` and its records.
pub fn sync_run(found: &integration::Model, run: &sync_run::Model) {
    if handle().is_none() {
        return;
    }
    let id = found.id.to_string();
    let kind = sea_orm::ActiveEnum::to_value(&found.kind);
    let status = sea_orm::ActiveEnum::to_value(&run.status);
    counter!(SYNC_RUNS, "integration" => id.clone(), "kind" => kind, "status" => status)
        .increment(1);
    for (outcome, count) in [
        ("fetched", run.records_fetched),
        ("created", run.records_created),
        ("updated", run.records_updated),
        ("unchanged", run.records_unchanged),
        ("skipped", run.records_skipped),
        ("failed", run.records_failed),
    ] {
        counter!(SYNC_RECORDS, "integration" => id.clone(), "outcome" => outcome)
            .increment(u64::try_from(count).unwrap_or(0));
    }
}

/// Counts one outbound webhook delivery attempt with its `outcome`: `delivered`, `retry`,
/// `failed` or `gave_up`.
pub fn webhook_attempt(outcome: &'static str) {
    if handle().is_some() {
        counter!(WEBHOOK_ATTEMPTS, "outcome" => outcome).increment(1);
    }
}

/// The scrape: the pool's gauges read now, then everything recorded, in Prometheus text format.
pub fn render(db: &DatabaseConnection) -> Option<String> {
    let handle = handle()?;
    let (size, idle) = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        sea_orm::DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => (0, 0),
    };
    gauge!(POOL_SIZE).set(f64::from(size));
    gauge!(POOL_IDLE).set(idle as f64);
    Some(handle.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_labels_stay_bounded_and_keep_the_names_seen_first() {
        let seen = Mutex::new(HashSet::new());
        let labels: Vec<String> = (0..MAX_OPERATIONS + 50)
            .map(|index| label_among(&seen, Some(&format!("Flood{index}")), true))
            .collect();
        assert_eq!(labels[0], "Flood0");
        assert_eq!(
            labels[MAX_OPERATIONS - 1],
            format!("Flood{}", MAX_OPERATIONS - 1)
        );
        assert!(
            labels[MAX_OPERATIONS..]
                .iter()
                .all(|label| label == "other")
        );
        assert_eq!(seen.lock().unwrap().len(), MAX_OPERATIONS);
        // A name kept before the cap keeps its label after it.
        assert_eq!(label_among(&seen, Some("Flood7"), false), "Flood7");
        assert_eq!(label_among(&seen, None, true), "anonymous");
        let fresh = Mutex::new(HashSet::new());
        assert_eq!(
            label_among(&fresh, Some("Failed"), false),
            "other",
            "a failing request adds no name"
        );
        assert!(fresh.lock().unwrap().is_empty());
        assert_eq!(label_among(&seen, Some("A,B"), true), "batch");
    }
}
