//! The sync engine's side of sync fidelity (issue 14), on both databases against the vendor
//! mocks: a per-run throttling budget that outlasts long 429 storms and says the run is waiting.

use std::sync::Mutex;

use api::sync::engine::{Progress, SyncError};
use entities::enums::SyncStatus;
use integrations::ConnectorError;
use integrations::mock::Fault;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
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
    // Three lookups, three list pages and four notes requests (the two tickets of the unmapped
    // company need none), plus the twenty refused.
    assert_eq!(server.state.requests(), 3 + 3 + 4 + 20);
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
        "tickets   page    1: 6 read, 4 created, 0 updated, 0 unchanged, 2 skipped, 0 failed (so far: 6 read, 4 written, 0 failed)"
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

/// The last sync run as `syncRuns` shows it, and the integration's pending retries.
async fn last_run_and_pending(app: &TestApp, id: uuid::Uuid) -> anyhow::Result<(Value, Value)> {
    let gid = api::graphql::ids::encode(api::graphql::ids::NodeType::Integration, id).0;
    let data = app
        .query(
            &app.provider_admin_token(),
            "query($id: ID!) { node(id: $id) { ... on Integration { pendingRetries syncRuns(last: 1) { edges { node { status retried recordsFailed } } } } } }",
            serde_json::json!({ "id": gid }),
        )
        .await?;
    Ok((
        data["node"]["syncRuns"]["edges"][0]["node"].clone(),
        data["node"]["pendingRetries"].clone(),
    ))
}

#[tokio::test]
async fn a_record_that_failed_is_read_again_by_later_runs_until_it_is_written() -> anyhow::Result<()>
{
    use entities::{sync_cursor, ticket};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use serde_json::json;
    let app = TestApp::spawn_with_demo().await?;
    let (server, id) = connectwise(&app, 6, 1000).await?;
    tests::sync(&app, id).await;
    let title_of = |external: &'static str| {
        let db = app.db.clone();
        async move {
            ticket::Entity::find()
                .filter(ticket::Column::ExternalId.eq(external))
                .one(&db)
                .await
                .map(|found| found.map(|found| found.title))
        }
    };
    let before = title_of("48000").await?;

    // Ticket 48000 changes at the vendor into something this run cannot read.
    let changed_at = chrono::Utc::now();
    {
        let mut store = server.state.store();
        store.tickets[0]["summary"] = Value::Null;
        store.tickets[0]["_info"]["lastUpdated"] =
            json!(changed_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    let failed = tests::sync(&app, id).await;
    assert_eq!(failed.run.status, SyncStatus::Partial);
    let (run, pending) = last_run_and_pending(&app, id).await?;
    assert_eq!(
        run,
        json!({ "status": "PARTIAL", "retried": 0, "recordsFailed": 1 })
    );
    assert_eq!(pending, 1);

    // Later runs have moved the tickets' mark past the change (as an hour later) ...
    sync_cursor::Entity::update_many()
        .col_expr(
            sync_cursor::Column::ChangedSince,
            sea_orm::sea_query::Expr::value(changed_at + chrono::Duration::hours(1)),
        )
        .filter(sync_cursor::Column::IntegrationId.eq(id))
        .filter(sync_cursor::Column::Resource.eq("tickets"))
        .exec(&app.db)
        .await?;
    // ... and the record becomes readable without changing again at the vendor.
    server.state.store().tickets[0]["summary"] = json!("Printer fixed");
    let retried = tests::sync(&app, id).await;
    assert_eq!(retried.run.status, SyncStatus::Succeeded, "{retried:?}");
    assert_eq!(title_of("48000").await?, Some("Printer fixed".to_owned()));
    assert_ne!(before, Some("Printer fixed".to_owned()));
    let (run, pending) = last_run_and_pending(&app, id).await?;
    assert_eq!(
        run,
        json!({ "status": "SUCCEEDED", "retried": 1, "recordsFailed": 0 })
    );
    assert_eq!(pending, 0, "written, so off the list");

    // Once written, it is not re-read for its own sake: the next run retries nothing.
    tests::sync(&app, id).await;
    let (run, pending) = last_run_and_pending(&app, id).await?;
    assert_eq!(run["retried"], 0);
    assert_eq!(pending, 0);
    app.stop().await
}

#[tokio::test]
async fn a_lease_whose_holder_on_this_host_died_is_taken_over_at_once() -> anyhow::Result<()> {
    use crate::sync::{orphaned_run, sync_run};
    let app = TestApp::spawn_with_demo().await?;
    let (_server, id) = connectwise(&app, 3, 1000).await?;
    let host = api::sync::engine::host_name().expect("this host has a name");
    let until = chrono::Utc::now() + chrono::Duration::minutes(5);

    // A holder on this host whose process is alive keeps its lease.
    let mut alive = std::process::Command::new("sleep").arg("30").spawn()?;
    let owner = format!("{host}:{}:{}", alive.id(), uuid::Uuid::now_v7());
    let running = orphaned_run(&app, id, &owner, until).await?;
    let refused = run_with(&app, id, &|_| {}).await;
    assert!(
        matches!(refused, Err(SyncError::Busy { .. })),
        "{refused:?}"
    );
    alive.kill()?;
    alive.wait()?;

    // Once it is gone (killed, as by SIGKILL), the next run takes over at once and closes it.
    let next = run_with(&app, id, &|_| {}).await?;
    assert_eq!(next.run.status, SyncStatus::Succeeded);
    let closed = sync_run(&app, running).await?;
    assert_eq!(closed.status, SyncStatus::Interrupted, "{closed:?}");

    // A holder on another host may be alive: its lease is waited for, even with a dead pid.
    let mut gone = std::process::Command::new("true").spawn()?;
    gone.wait()?;
    let elsewhere = format!("other-{host}:{}:{}", gone.id(), uuid::Uuid::now_v7());
    let other = orphaned_run(&app, id, &elsewhere, until).await?;
    let refused = run_with(&app, id, &|_| {}).await;
    assert!(
        matches!(refused, Err(SyncError::Busy { .. })),
        "{refused:?}"
    );
    assert_eq!(sync_run(&app, other).await?.status, SyncStatus::Running);
    // And on this host the same dead pid is taken over.
    let here = format!("{host}:{}:{}", gone.id(), uuid::Uuid::now_v7());
    entities::integration::Entity::update_many()
        .col_expr(
            entities::integration::Column::LeaseOwner,
            sea_orm::sea_query::Expr::value(here),
        )
        .filter(entities::integration::Column::Id.eq(id))
        .exec(&app.db)
        .await?;
    run_with(&app, id, &|_| {}).await?;
    assert_eq!(sync_run(&app, other).await?.status, SyncStatus::Interrupted);
    app.stop().await
}

#[tokio::test]
async fn vendor_companies_are_listed_with_their_mapping_state_and_can_be_unmapped()
-> anyhow::Result<()> {
    use serde_json::json;
    let app = TestApp::spawn_with_demo().await?;
    let (_server, id) = connectwise(&app, 6, 1000).await?;
    let gid = api::graphql::ids::encode(api::graphql::ids::NodeType::Integration, id).0;
    let admin = app.provider_admin_token();
    let list = "query($id: ID!) { node(id: $id) { ... on Integration { vendorCompanies { ok message companies { externalCompanyId name mapped environment { name } } } } } }";
    let listed = app.query(&admin, list, json!({ "id": gid })).await?;
    assert_eq!(
        listed["node"]["vendorCompanies"],
        json!({ "ok": true, "message": null, "companies": [
            { "externalCompanyId": "250", "name": "Company 250", "mapped": true, "environment": { "name": "Production" } },
            { "externalCompanyId": "251", "name": "Company 251", "mapped": true, "environment": { "name": "Main Office" } },
            { "externalCompanyId": "252", "name": "Company 252", "mapped": false, "environment": null },
        ] }),
        "{listed}"
    );

    let unmap = "mutation($input: UnmapIntegrationCompanyInput!) { unmapIntegrationCompany(input: $input) { integration { mappings { nodes { externalCompanyId } } } userErrors { field code } } }";
    let unmapped = app
        .query(
            &admin,
            unmap,
            json!({ "input": { "integrationId": gid, "externalCompanyId": "251" } }),
        )
        .await?;
    assert_eq!(
        unmapped["unmapIntegrationCompany"],
        json!({ "integration": { "mappings": { "nodes": [{ "externalCompanyId": "250" }] } }, "userErrors": [] }),
        "{unmapped}"
    );
    let listed = app.query(&admin, list, json!({ "id": gid })).await?;
    assert_eq!(
        listed["node"]["vendorCompanies"]["companies"][1],
        json!({ "externalCompanyId": "251", "name": "Company 251", "mapped": false, "environment": null })
    );
    // Unmapping what is not mapped says so.
    let again = app
        .query(
            &admin,
            unmap,
            json!({ "input": { "integrationId": gid, "externalCompanyId": "251" } }),
        )
        .await?;
    assert_eq!(
        again["unmapIntegrationCompany"]["userErrors"],
        json!([{ "field": ["input", "externalCompanyId"], "code": "NOT_FOUND" }]),
        "{again}"
    );
    // Only admins of the integration's organization list the vendor's companies.
    let member = app.token(
        api::demo::PROVIDER_ADMIN.0,
        api::demo::PROVIDER_ADMIN.1,
        entities::enums::Role::Member,
    );
    let (_, refused) = app
        .graphql(Some(&member), list, json!({ "id": gid }))
        .await?;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
    // The next run skips the unmapped company's records.
    let report = tests::sync(&app, id).await;
    assert_eq!(report.run.status, SyncStatus::Succeeded);
    app.stop().await
}

#[tokio::test]
async fn external_status_is_the_vendors_label_even_where_tickets_carry_only_its_id()
-> anyhow::Result<()> {
    use entities::ticket;
    use sea_orm::QueryOrder;
    let app = TestApp::spawn_with_demo().await?;
    let server = integrations::mock::autotask::start(integrations::mock::autotask::fixture(
        3,
        9,
        chrono::Utc::now() - chrono::Duration::hours(1),
    ))
    .await;
    let (gid, id) = crate::sync::integration(
        &app,
        "AUTOTASK",
        &server.url,
        integrations::mock::autotask::configuration(),
        &[("170", "Production"), ("171", "Main Office")],
    )
    .await?;
    tests::sync(&app, id).await;
    let tickets = ticket::Entity::find()
        .filter(ticket::Column::ExternalSource.like("AUTOTASK:%"))
        .order_by_asc(ticket::Column::ExternalId)
        .all(&app.db)
        .await?;
    assert!(!tickets.is_empty());
    // The raw ids stay beside their labels in the integration's value mappings.
    let values = app
        .query(
            &app.provider_admin_token(),
            "query($id: ID!) { node(id: $id) { ... on Integration { valueMappings { nodes { domain externalValue externalLabel } } } } }",
            serde_json::json!({ "id": gid }),
        )
        .await?;
    let labels: std::collections::HashMap<String, String> =
        values["node"]["valueMappings"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|mapping| mapping["domain"] == "TICKET_STATUS")
            .map(|mapping| {
                (
                    mapping["externalValue"].as_str().unwrap().to_owned(),
                    mapping["externalLabel"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
    let raw: Vec<String> = server
        .state
        .store()
        .tickets
        .iter()
        .map(|found| found["status"].to_string())
        .collect();
    for found in &tickets {
        let status = found.external_status.as_deref().unwrap();
        assert!(
            status.parse::<i64>().is_err(),
            "a label, not an id: {status}"
        );
        assert!(
            labels.values().any(|label| label == status),
            "{status} in {labels:?}"
        );
    }
    assert!(
        raw.iter().all(|id| labels.contains_key(id)),
        "{raw:?} {labels:?}"
    );
    app.stop().await
}
