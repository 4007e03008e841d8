//! The sync engine's side of sync fidelity (issue 14), on both databases against the vendor
//! mocks: a per-run throttling budget that outlasts long 429 storms and says the run is waiting.

use std::sync::Mutex;

use api::sync::engine::{Progress, SyncError};
use entities::enums::SyncStatus;
use integrations::ConnectorError;
use integrations::mock::Fault;
use serde_json::Value;
use std::time::Duration;
use tests::TestApp;
use tests::sync_with as run_with;

use crate::sync::connectwise;

#[tokio::test]
async fn a_long_429_storm_is_waited_out_within_the_runs_throttling_budget() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (server, id) = connectwise(&app, 6, 1000).await?;
    // Twenty 429s in a row, each asking for a second; the test policy honours up to 20 ms a
    // wait and one second in all.
    server
        .state
        .inject([Fault::RateLimited { retry_after: 1 }; 20]);
    let lines = Mutex::new(Vec::<Progress>::new());
    let report = run_with(&app, id, &|line| lines.lock().unwrap().push(line.clone())).await?;
    assert_eq!(report.run.status, SyncStatus::Succeeded, "{report:?}");
    // Three lookups, three list pages and six notes requests, plus the twenty refused.
    assert_eq!(server.state.requests(), 3 + 3 + 6 + 20);
    let lines = lines.into_inner().unwrap();
    let waits: Vec<_> = lines.iter().filter_map(|line| line.waiting).collect();
    assert_eq!(waits.len(), 20, "every wait is reported");
    assert!(
        waits
            .iter()
            .all(|wait| wait.wait == Duration::from_millis(20))
    );
    assert_eq!(waits[19].waited, Duration::from_millis(400));
    assert_eq!(waits[19].budget, Duration::from_secs(1));
    let said =
        api::sync::engine::progress_line(lines.iter().find(|line| line.waiting.is_some()).unwrap());
    assert!(
        said.contains("waiting 0.0 s: the vendor throttles (429)"),
        "{said}"
    );
    // Page lines say what the page did, and the totals so far explicitly.
    let page = lines
        .iter()
        .find(|line| {
            line.waiting.is_none() && line.resource == integrations::model::Resource::Tickets
        })
        .unwrap();
    assert_eq!(
        api::sync::engine::progress_line(page),
        "tickets   page    1: 6 read, 4 created, 0 updated, 2 unchanged, 0 failed (so far: 6 read, 4 written, 0 failed)"
    );
    app.stop().await
}

#[tokio::test]
async fn a_429_storm_beyond_the_budget_fails_the_run_with_a_clear_error() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (server, id) = connectwise(&app, 3, 1000).await?;
    // Sixty 429s at 20 ms each outlast the one-second budget after fifty waits.
    server
        .state
        .inject([Fault::RateLimited { retry_after: 1 }; 60]);
    let failed = run_with(&app, id, &|_| {}).await.unwrap_err();
    assert!(
        matches!(
            failed,
            SyncError::Vendor {
                error: ConnectorError::ThrottleBudgetSpent { attempts: 51, waited, budget },
                ..
            } if waited == Duration::from_secs(1) && budget == Duration::from_secs(1)
        ),
        "{failed:?}"
    );
    assert_eq!(
        server.state.requests(),
        51,
        "no request after the budget is spent"
    );
    let runs = app
        .query(
            &app.provider_admin_token(),
            "{ syncRuns(last: 1) { edges { node { status error } } } }",
            Value::Null,
        )
        .await?;
    let node = &runs["syncRuns"]["edges"][0]["node"];
    assert_eq!(node["status"], "FAILED", "{runs}");
    assert_eq!(
        node["error"],
        "lookups: the vendor kept throttling (429) after 51 attempts; the run waited 1s, its whole throttling budget of 1s",
        "{runs}"
    );
    app.stop().await
}
