//! Sync fidelity against the vendor mocks, on both databases (issue 14): every record the vendor
//! holds arrives (closed tickets, inactive assets, lists that shift under a resumed walk, every
//! activity page), with the vendor's own facts (close and resolve instants, inactive state,
//! device kinds), and with only the request parameters each vendor documents.

use std::sync::Arc;

use api::sync::engine::Progress;
use chrono::{Duration, Utc};
use entities::enums::{AlertStatus, SyncStatus, TicketStatus};
use entities::{alert, change_log_entry, system, system_link, ticket};
use integrations::mock::{self, ActivityCursors, Fault, MockServer};
use integrations::model::Resource;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tests::{TestApp, sync as run, sync_with as run_with};
use uuid::Uuid;

use crate::sync::integration;

/// A HaloPSA integration over `server`, `page_size` a page, clients 57 and 58 mapped.
async fn halo(app: &TestApp, server: &MockServer, page_size: u64) -> anyhow::Result<Uuid> {
    let (mut settings, mut credentials) = mock::halopsa::configuration();
    settings["pageSize"] = json!(page_size);
    credentials["webhookSecret"] = json!("hook-secret");
    let (_, id) = integration(
        app,
        "HALOPSA",
        &server.url,
        (settings, credentials),
        &[("57", "Production"), ("58", "Main Office")],
    )
    .await?;
    Ok(id)
}

/// The tickets a `prefix` integration synced, by external id.
async fn tickets(app: &TestApp, prefix: &str) -> anyhow::Result<Vec<ticket::Model>> {
    let mut found = ticket::Entity::find()
        .filter(ticket::Column::ExternalSource.like(format!("{prefix}:%")))
        .all(&app.db)
        .await?;
    found.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    Ok(found)
}

/// The system linked to `external_id` of a `prefix` integration.
async fn system_of(
    app: &TestApp,
    prefix: &str,
    external_id: &str,
) -> anyhow::Result<system::Model> {
    let link = system_link::Entity::find()
        .filter(system_link::Column::Source.like(format!("{prefix}:%")))
        .filter(system_link::Column::ExternalId.eq(external_id))
        .one(&app.db)
        .await?
        .unwrap_or_else(|| panic!("no system for {prefix} {external_id}"));
    Ok(system::Entity::find_by_id(link.system_id)
        .one(&app.db)
        .await?
        .expect("the linked system"))
}

/// What the API says of a system.
async fn system_node(app: &TestApp, id: Uuid) -> anyhow::Result<Value> {
    let data = app
        .query(
            &app.provider_admin_token(),
            "query($id: ID!) { node(id: $id) { ... on System { name kind serialNumber retiredAt } } }",
            json!({ "id": api::graphql::ids::encode(api::graphql::ids::NodeType::System, id).0 }),
        )
        .await?;
    Ok(data["node"].clone())
}

/// Item 1: closed tickets arrive (and a ticket closed at Halo closes here), inactive assets
/// arrive retired; item 6 (Halo): the serial and the asset type are the vendor's.
#[tokio::test]
async fn halo_closed_tickets_and_inactive_assets_arrive() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let at = Utc::now() - Duration::hours(1);
    let mut store = mock::halopsa::fixture(2, 6, at);
    store.tickets[1] = mock::halopsa::ticket(18_001, 58, mock::halopsa::status::CLOSED, at);
    store.devices[1]["inactive"] = json!(true);
    store.devices[1]["fields"] = json!([
        { "id": 14, "name": "Operating System", "value": "Windows Server 2022" }
    ]);
    let server = mock::halopsa::start(store).await;
    let id = halo(&app, &server, 2).await?;
    let report = run(&app, id).await;
    assert_eq!(report.run.status, SyncStatus::Succeeded);

    let synced = tickets(&app, "HALOPSA").await?;
    assert_eq!(synced.len(), 6, "the closed ticket too");
    let closed = synced
        .iter()
        .find(|found| found.external_id.as_deref() == Some("18001"))
        .unwrap();
    assert_eq!(closed.status, TicketStatus::Closed);

    let laptop = system_of(&app, "HALOPSA", "2201").await?;
    let node = system_node(&app, laptop.id).await?;
    assert!(node["retiredAt"].is_string(), "inactive at Halo: {node}");
    assert_eq!(node["kind"], "LAPTOP", "the asset type wins over the OS");
    assert_eq!(node["serialNumber"], "HSN2201", "key_field2");
    let server_asset = system_of(&app, "HALOPSA", "2200").await?;
    assert_eq!(
        system_node(&app, server_asset.id).await?["retiredAt"],
        Value::Null
    );

    // A ticket that closes at Halo later closes here on the next (incremental) run.
    {
        let mut store = server.state.store();
        store.tickets[0] =
            mock::halopsa::ticket(18_000, 57, mock::halopsa::status::CLOSED, Utc::now());
    }
    let again = run(&app, id).await;
    assert_eq!(again.run.status, SyncStatus::Succeeded);
    let reclosed = tickets(&app, "HALOPSA")
        .await?
        .into_iter()
        .find(|found| found.external_id.as_deref() == Some("18000"))
        .unwrap();
    assert_eq!(reclosed.status, TicketStatus::Closed);
    assert!(reclosed.closed_at.is_some());
    app.stop().await
}

/// Item 2: tickets deleted at Halo between a crash and the resume move the rest of the list up;
/// the resumed walk steps back and skips nothing.
#[tokio::test]
async fn halo_resume_after_the_list_shifted_skips_nothing() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let server = mock::halopsa::start(mock::halopsa::fixture(
        2,
        12,
        Utc::now() - Duration::hours(1),
    ))
    .await;
    let id = halo(&app, &server, 3).await?;
    let state = Arc::clone(&server.state);
    let crash = move |progress: &Progress| {
        if progress.resource == Resource::Tickets && progress.pages == 2 {
            state.inject([Fault::ServerError(502); 6]);
        }
    };
    assert!(run_with(&app, id, &crash).await.is_err());
    assert_eq!(
        tickets(&app, "HALOPSA").await?.len(),
        6,
        "two pages of three"
    );
    // Halo deletes the first page's tickets: the third page now starts three records later.
    server
        .state
        .store()
        .tickets
        .retain(|found| found["id"].as_i64().is_some_and(|id| id >= 18_003));

    let resumed = run(&app, id).await;
    assert_eq!(resumed.run.status, SyncStatus::Succeeded);
    let ids: Vec<String> = tickets(&app, "HALOPSA")
        .await?
        .into_iter()
        .filter_map(|found| found.external_id)
        .collect();
    let expected: Vec<String> = (18_000..18_012).map(|id| id.to_string()).collect();
    assert_eq!(ids, expected, "every ticket arrived, 18006 to 18008 too");
    app.stop().await
}

/// Adds `count` NinjaOne activities from id `first` on the server of organization 1, at `at`.
fn add_activities(server: &MockServer, first: i64, count: i64, at: chrono::DateTime<Utc>) {
    let mut store = server.state.store();
    for id in first..first + count {
        store.changes.push(mock::ninjaone::activity(
            id,
            3302,
            "SCRIPTING",
            &format!("Ran script {id}"),
            at,
        ));
    }
}

async fn ninja_entries(app: &TestApp) -> anyhow::Result<u64> {
    Ok(change_log_entry::Entity::find()
        .filter(change_log_entry::Column::ExternalSource.like("NINJAONE:%"))
        .count(&app.db)
        .await?)
}

/// Item 3: every NinjaOne activity page is read (newest first), whichever way the id cursors
/// work, and a vendor that answers the same page again fails the run instead of ending it.
#[tokio::test]
async fn ninja_activities_are_walked_to_the_end() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (server, id) = crate::sync::ninja(&app, 10).await?;
    add_activities(&server, 100, 25, Utc::now() - Duration::minutes(30));
    let first = run(&app, id).await;
    assert_eq!(first.run.status, SyncStatus::Succeeded);
    assert_eq!(
        ninja_entries(&app).await?,
        4 + 25,
        "the fixture's 4 mapped activities and all 25 added, over four pages"
    );

    // The cursors turn out to mean the opposite of their names: still every page.
    server.state.store().activity_cursors = ActivityCursors::Swapped;
    add_activities(&server, 200, 23, Utc::now());
    let second = run(&app, id).await;
    assert_eq!(second.run.status, SyncStatus::Succeeded);
    assert_eq!(ninja_entries(&app).await?, 4 + 25 + 23);

    // A vendor that ignores the cursors answers the newest page again: a run error naming it.
    server.state.store().activity_cursors = ActivityCursors::Ignored;
    add_activities(&server, 300, 15, Utc::now());
    let error = run_with(&app, id, &|_| {})
        .await
        .expect_err("no progress fails the run");
    assert!(error.to_string().contains("no progress"), "{error}");
    app.stop().await
}

/// The synced ticket `external_id` of a `prefix` integration.
async fn ticket_of(
    app: &TestApp,
    prefix: &str,
    external_id: &str,
) -> anyhow::Result<ticket::Model> {
    Ok(tickets(app, prefix)
        .await?
        .into_iter()
        .find(|found| found.external_id.as_deref() == Some(external_id))
        .unwrap_or_else(|| panic!("no ticket {prefix} {external_id}")))
}

/// Item 4: the vendors' close and resolve instants (ConnectWise `closedDate`, Autotask
/// `completedDate`, Datto `resolvedOn`) become the tickets' and alerts' own, not the sync time.
#[tokio::test]
async fn vendor_close_and_resolve_times_are_kept() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let closed_at = chrono::DateTime::parse_from_rfc3339("2024-09-16T10:30:00Z")?.to_utc();

    // ConnectWise: a ticket closed long ago, and one that closes between two runs.
    let (cw, cw_id) = crate::sync::connectwise(&app, 6, 100).await?;
    {
        let mut store = cw.state.store();
        store.tickets[0]["status"] =
            json!({ "id": mock::connectwise::status::CLOSED, "name": "Closed" });
        store.tickets[0]["closedFlag"] = json!(true);
        store.tickets[0]["closedDate"] = json!("2024-09-16T10:30:00Z");
    }
    let external_id = cw.state.store().tickets[0]["id"].to_string();
    assert_eq!(run(&app, cw_id).await.run.status, SyncStatus::Succeeded);
    let old = ticket_of(&app, "CONNECTWISE_MANAGE", &external_id).await?;
    assert_eq!(old.status, TicketStatus::Closed);
    assert_eq!(old.closed_at, Some(closed_at));
    assert_eq!(old.resolved_at, Some(closed_at));
    let node = app
        .query(
            &app.provider_admin_token(),
            "query($id: ID!) { node(id: $id) { ... on Ticket { resolvedAt closedAt } } }",
            json!({ "id": api::graphql::ids::encode(api::graphql::ids::NodeType::Ticket, old.id).0 }),
        )
        .await?;
    assert_eq!(
        node["node"]["closedAt"], "2024-09-16T10:30:00+00:00",
        "{node}"
    );
    assert_eq!(node["node"]["resolvedAt"], "2024-09-16T10:30:00+00:00");
    // Open tickets keep none.
    let open_id = cw.state.store().tickets[1]["id"].to_string();
    assert_eq!(
        ticket_of(&app, "CONNECTWISE_MANAGE", &open_id)
            .await?
            .closed_at,
        None
    );

    // Autotask: `completedDate`.
    let at_server = mock::autotask::start(mock::autotask::fixture(
        2,
        3,
        Utc::now() - Duration::hours(1),
    ))
    .await;
    {
        let mut store = at_server.state.store();
        let id = store.tickets[0]["id"].as_i64().unwrap();
        store.tickets[0] =
            mock::autotask::ticket(id, 170, mock::autotask::status::COMPLETE, closed_at);
    }
    let completed_id = at_server.state.store().tickets[0]["id"].to_string();
    let (mut settings, mut credentials) = mock::autotask::configuration();
    settings["pageSize"] = json!(100);
    credentials["webhookSecret"] = json!("hook-secret");
    let (_, at_id) = integration(
        &app,
        "AUTOTASK",
        &at_server.url,
        (settings, credentials),
        &[("170", "Production"), ("171", "Main Office")],
    )
    .await?;
    assert_eq!(run(&app, at_id).await.run.status, SyncStatus::Succeeded);
    let completed = ticket_of(&app, "AUTOTASK", &completed_id).await?;
    assert_eq!(completed.closed_at, Some(closed_at));

    // Datto RMM: every resolved alert carries `resolvedOn` (30 minutes after it was raised).
    let raised = Utc::now() - Duration::hours(3);
    let raised = raised - Duration::nanoseconds(i64::from(raised.timestamp_subsec_nanos()));
    let datto = mock::datto::start(mock::datto::fixture(2, raised)).await;
    let (settings, mut credentials) = mock::datto::configuration();
    credentials["webhookSecret"] = json!("hook-secret");
    let (_, datto_id) = integration(
        &app,
        "DATTO_RMM",
        &datto.url,
        (settings, credentials),
        &[
            (&mock::datto::uid(0x5173, 0), "Production"),
            (&mock::datto::uid(0x5173, 1), "Main Office"),
        ],
    )
    .await?;
    assert_eq!(run(&app, datto_id).await.run.status, SyncStatus::Succeeded);
    let resolved: Vec<alert::Model> = alert::Entity::find()
        .filter(alert::Column::ExternalSource.like("DATTO_RMM:%"))
        .filter(alert::Column::Status.eq(AlertStatus::Resolved))
        .all(&app.db)
        .await?;
    assert_eq!(resolved.len(), 2, "one resolved alert per site");
    for found in &resolved {
        assert_eq!(found.resolved_at, Some(raised + Duration::minutes(30)));
    }
    app.stop().await
}

/// Item 6: an inactive ConnectWise configuration and an inactive Autotask configuration item
/// arrive retired; Autotask's configuration item types name the systems' kinds; a system
/// brought back to active at the vendor that retired it is active again.
#[tokio::test]
async fn inactive_configurations_are_retired_and_types_name_kinds() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (cw, cw_id) = crate::sync::connectwise(&app, 0, 100).await?;
    let (retired_id, status_id) = {
        let mut store = cw.state.store();
        store.devices[0]["activeFlag"] = json!(false);
        store.devices[1]["status"] = json!({ "id": 3, "name": "Retired" });
        (
            store.devices[0]["id"].to_string(),
            store.devices[1]["id"].to_string(),
        )
    };
    assert_eq!(run(&app, cw_id).await.run.status, SyncStatus::Succeeded);
    let inactive = system_of(&app, "CONNECTWISE_MANAGE", &retired_id).await?;
    assert!(inactive.retired_at.is_some(), "activeFlag false");
    assert!(
        system_of(&app, "CONNECTWISE_MANAGE", &status_id)
            .await?
            .retired_at
            .is_some(),
        "a status named Retired"
    );
    let active_id = cw.state.store().devices[2]["id"].to_string();
    assert_eq!(
        system_of(&app, "CONNECTWISE_MANAGE", &active_id)
            .await?
            .retired_at,
        None
    );
    // Reactivated at ConnectWise: active again here.
    cw.state.store().devices[0]["activeFlag"] = json!(true);
    cw.state.store().devices[0]["_info"]["lastUpdated"] =
        json!(integrations::time::format(Utc::now()));
    assert_eq!(run(&app, cw_id).await.run.status, SyncStatus::Succeeded);
    let back = system_of(&app, "CONNECTWISE_MANAGE", &retired_id).await?;
    assert_eq!(system_node(&app, back.id).await?["retiredAt"], Value::Null);

    let mut store = mock::autotask::fixture(2, 0, Utc::now() - Duration::hours(1));
    store.devices[1]["configurationItemType"] = json!(mock::autotask::ci_type::PRINTER);
    store.devices[1]["isActive"] = json!(false);
    let at_server = mock::autotask::start(store).await;
    let (settings, mut credentials) = mock::autotask::configuration();
    credentials["webhookSecret"] = json!("hook-secret");
    let (_, at_id) = integration(
        &app,
        "AUTOTASK",
        &at_server.url,
        (settings, credentials),
        &[("170", "Production"), ("171", "Main Office")],
    )
    .await?;
    assert_eq!(run(&app, at_id).await.run.status, SyncStatus::Succeeded);
    let printer = system_of(&app, "AUTOTASK", "41").await?;
    let node = system_node(&app, printer.id).await?;
    assert_eq!(node["kind"], "PRINTER", "{node}");
    assert!(node["retiredAt"].is_string(), "isActive false: {node}");
    let workstation = system_node(&app, system_of(&app, "AUTOTASK", "43").await?.id).await?;
    assert_eq!(workstation["kind"], "WORKSTATION");
    assert_eq!(workstation["retiredAt"], Value::Null);
    app.stop().await
}
