//! `GET /metrics` (issue 12, item 6): Prometheus text for a scraper with `TANDEM_METRICS_TOKEN`,
//! counting requests by route, operation and outcome, sync runs and their records per
//! integration, open subscriptions and the database pool, with bounded labels.
//!
//! The recorder is one per process and tests run in parallel, so these assert on series this
//! test alone produces (its own operation names, its own integration id) and on lower bounds;
//! the bound on operation labels is a unit test of `api::metrics`, as flooding the process's one
//! recorder here would turn other tests' names into `other`.

use std::time::Duration;

use entities::enums::SyncStatus;
use serde_json::{Value, json};
use tests::{TestApp, test_server_settings};

const METRICS_TOKEN: &str = "scraper-token-0123456789abcdef";

async fn metrics_app(demo: bool) -> anyhow::Result<TestApp> {
    let mut settings = test_server_settings();
    settings.metrics_token = Some(METRICS_TOKEN.to_owned().into());
    TestApp::spawn_with(settings, demo).await
}

async fn scrape(app: &TestApp) -> anyhow::Result<String> {
    let response = app
        .client
        .get(format!("{}/metrics", app.address))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    Ok(response.text().await?)
}

/// Runs `selection` as the query named `name`, with `token`.
async fn named(
    app: &TestApp,
    token: &str,
    selection: &str,
    name: &str,
) -> anyhow::Result<(u16, Value)> {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .json(&json!({ "query": format!("query {name} {selection}"), "operationName": name }))
        .send()
        .await?;
    Ok((response.status().as_u16(), response.json().await?))
}

/// The value of the first sample whose line starts with `name{` and holds every label in
/// `labels` (as `key="value"`).
fn sample(body: &str, name: &str, labels: &[&str]) -> Option<f64> {
    body.lines()
        .filter(|line| {
            line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} "))
        })
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn metrics_are_served_only_with_the_scrapers_token() -> anyhow::Result<()> {
    let off = TestApp::spawn().await?;
    let response = off.get("/metrics").await?;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await?;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{body}"
    );
    off.stop().await?;

    let app = metrics_app(false).await?;
    for token in [
        None,
        Some("wrong"),
        Some(&METRICS_TOKEN[..METRICS_TOKEN.len() - 1]),
    ] {
        let mut request = app.client.get(format!("{}/metrics", app.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        assert_eq!(response.status(), 401, "{token:?}");
        let body: Value = response.json().await?;
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    }
    // A person's token is not the scraper's.
    let response = app
        .client
        .get(format!("{}/metrics", app.address))
        .bearer_auth(app.provider_admin_token())
        .send()
        .await?;
    assert_eq!(response.status(), 401);

    let mut short = test_server_settings();
    short.metrics_token = Some("short".to_owned().into());
    let refused = TestApp::spawn_with(short, false).await;
    assert!(
        refused
            .err()
            .is_some_and(|error| format!("{error:#}").contains("TANDEM_METRICS_TOKEN")),
        "a short scraper token is refused at start"
    );
    app.stop().await
}

#[tokio::test]
async fn requests_sync_runs_subscriptions_and_the_pool_are_counted() -> anyhow::Result<()> {
    let app = metrics_app(true).await?;
    let admin = app.provider_admin_token();
    for _ in 0..3 {
        let (status, _) = named(&app, &admin, "{ viewer { role } }", "MetricsProbeOk").await?;
        assert_eq!(status, 200);
    }
    let (_, refused) = named(
        &app,
        "not-a-token",
        "{ viewer { role } }",
        "MetricsProbeRefused",
    )
    .await?;
    assert!(refused["errors"].is_array());
    let body = scrape(&app).await?;
    assert_eq!(
        sample(
            &body,
            "tandem_http_requests_total",
            &[
                "route=\"/graphql\"",
                "operation=\"MetricsProbeOk\"",
                "outcome=\"OK\""
            ]
        ),
        Some(3.0),
        "{body}"
    );
    // A refused token is refused before the body is read: its operation is not known.
    assert!(
        sample(
            &body,
            "tandem_http_requests_total",
            &["route=\"/graphql\"", "outcome=\"UNAUTHENTICATED\""]
        )
        .is_some_and(|count| count >= 1.0),
        "{body}"
    );
    assert_eq!(
        sample(
            &body,
            "tandem_http_request_duration_seconds_count",
            &["operation=\"MetricsProbeOk\""]
        ),
        Some(3.0)
    );
    assert!(
        sample(
            &body,
            "tandem_http_request_duration_seconds_bucket",
            &["operation=\"MetricsProbeOk\"", "le=\"+Inf\""]
        ) == Some(3.0)
    );
    assert!(sample(&body, "tandem_db_pool_connections", &[]).is_some_and(|open| open >= 1.0));
    assert!(body.contains("# HELP tandem_http_requests_total"));

    // A 404 of an unknown path is labelled by no path of the client's choosing.
    let missing = app.get("/no/such/path/12345").await?;
    assert_eq!(missing.status(), 404);
    let body = scrape(&app).await?;
    assert!(!body.contains("12345"), "paths never become labels");
    assert!(body.contains("route=\"unmatched\""));

    // A sync run and its records, by the integration's id.
    let (_server, integration) = crate::sync::connectwise(&app, 4, 1000).await?;
    let report = tests::sync(&app, integration).await;
    assert_eq!(report.run.status, SyncStatus::Succeeded);
    let body = scrape(&app).await?;
    let id = format!("integration=\"{integration}\"");
    assert_eq!(
        sample(
            &body,
            "tandem_sync_runs_total",
            &[&id, "kind=\"CONNECTWISE_MANAGE\"", "status=\"SUCCEEDED\""]
        ),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        sample(
            &body,
            "tandem_sync_records_total",
            &[&id, "outcome=\"fetched\""]
        ),
        Some(f64::from(report.run.records_fetched))
    );

    // An open subscription is counted while it is open.
    let before = sample(&body, "tandem_subscriptions_open", &[]).unwrap_or(0.0);
    let mut socket = crate::subscriptions::connect(&app, &admin).await?;
    crate::subscriptions::subscribe(
        &mut socket,
        "1",
        "subscription { changeLogEntryRecorded { id } }",
    )
    .await?;
    let during = sample(&scrape(&app).await?, "tandem_subscriptions_open", &[]);
    assert!(
        during.is_some_and(|open| open >= 1.0),
        "{during:?} (before {before})"
    );
    drop(socket);
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.stop().await
}
