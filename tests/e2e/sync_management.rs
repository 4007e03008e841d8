//! Managing what syncs (issue 14, item 11), on both databases against the ConnectWise mock:
//! records of unmapped vendor companies are counted skipped, a run warns about a mapping that
//! matches nothing, and deleting an integration stops everything while keeping its history.

use entities::enums::{Role, SyncStatus};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tests::TestApp;

use crate::sync::{connectwise, environment};

const RUNS: &str = "query($id: ID!) { node(id: $id) { ... on Integration { name deletedAt syncRuns(first: 5) { edges { node { status recordsFetched recordsCreated recordsUnchanged recordsSkipped recordsFailed warnings } } } } } }";

fn gid(id: uuid::Uuid) -> String {
    api::graphql::ids::encode(api::graphql::ids::NodeType::Integration, id).0
}

#[tokio::test]
async fn unmapped_records_are_skipped_and_a_mapping_that_matches_nothing_warns()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    // Three vendor companies (250 and 251 mapped, 252 not), 6 configurations, 6 tickets.
    let (_server, id) = connectwise(&app, 6, 1000).await?;
    let admin = app.provider_admin_token();
    // A mapping of a company the vendor does not have (a typo in the id).
    let staging = environment(&app, "Riverside Clinic").await?;
    let mapped = app
        .query(&admin, "mutation($input: MapIntegrationCompanyInput!) { mapIntegrationCompany(input: $input) { userErrors { message } } }",
            json!({ "input": { "integrationId": gid(id), "externalCompanyId": "2500", "environmentId": staging } }))
        .await?;
    assert_eq!(mapped["mapIntegrationCompany"]["userErrors"], json!([]));

    let report = tests::sync(&app, id).await;
    assert_eq!(report.run.status, SyncStatus::Succeeded, "{report:?}");
    // Company 252, its two configurations and its two tickets are skipped, not "unchanged".
    assert_eq!(report.run.records_skipped, 5, "{report:?}");
    let runs = app.query(&admin, RUNS, json!({ "id": gid(id) })).await?;
    let run = &runs["node"]["syncRuns"]["edges"][0]["node"];
    assert_eq!(run["recordsSkipped"], 5, "{runs}");
    assert_eq!(run["recordsFetched"], 15, "{runs}");
    assert_eq!(
        run["recordsFetched"].as_i64().unwrap(),
        ["recordsCreated", "recordsUnchanged", "recordsSkipped", "recordsFailed"]
            .iter()
            .map(|field| run[field].as_i64().unwrap())
            .sum::<i64>()
            // Two mapped company names were recorded (updated).
            + 2,
        "every record read is accounted for once: {runs}"
    );
    let warnings = run["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{runs}");
    let warning = warnings[0].as_str().unwrap();
    assert!(
        warning.contains("vendor company `2500`") && warning.contains("matches no company"),
        "{warning}"
    );

    // With the stray mapping removed, the next run warns about nothing.
    let unmapped = app
        .query(&admin, "mutation($input: UnmapIntegrationCompanyInput!) { unmapIntegrationCompany(input: $input) { userErrors { message } } }",
            json!({ "input": { "integrationId": gid(id), "externalCompanyId": "2500" } }))
        .await?;
    assert_eq!(unmapped["unmapIntegrationCompany"]["userErrors"], json!([]));
    let report = tests::sync(&app, id).await;
    assert_eq!(
        api::sync::engine::warnings_of(&report.run),
        Vec::<String>::new()
    );
    assert!(report.run.warnings.is_none());
    app.stop().await
}

#[tokio::test]
async fn a_run_with_no_company_mapped_says_why_everything_was_skipped() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (_server, id) = connectwise(&app, 6, 1000).await?;
    let admin = app.provider_admin_token();
    for company in ["250", "251"] {
        app.query(&admin, "mutation($input: UnmapIntegrationCompanyInput!) { unmapIntegrationCompany(input: $input) { userErrors { message } } }",
            json!({ "input": { "integrationId": gid(id), "externalCompanyId": company } }))
            .await?;
    }
    let report = tests::sync(&app, id).await;
    assert_eq!(report.run.status, SyncStatus::Succeeded);
    assert_eq!(
        (
            report.run.records_created,
            report.run.records_unchanged,
            report.run.records_skipped
        ),
        (0, 0, 15),
        "{report:?}"
    );
    let warnings = api::sync::engine::warnings_of(&report.run);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with(
            "no vendor company is mapped to an environment, so all 15 records read were skipped"
        ),
        "{warnings:?}"
    );
    app.stop().await
}

#[tokio::test]
async fn deleting_an_integration_stops_everything_and_keeps_its_history() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (server, id) = connectwise(&app, 6, 1000).await?;
    let admin = app.provider_admin_token();
    let first = tests::sync(&app, id).await;
    assert_eq!(first.run.status, SyncStatus::Succeeded);
    let synced = app.count("tickets").await?;

    // Only the integration's own admins delete it: a client it feeds sees it read-only, a
    // member of its organization may not.
    let delete = "mutation($input: IntegrationActionInput!) { deleteIntegration(input: $input) { integration { id enabled hasCredentials deletedAt mappings { nodes { externalCompanyId } } } userErrors { field code message } } }";
    let client = app.token(
        api::demo::CLIENT_IT_ADMIN.0,
        api::demo::CLIENT_IT_ADMIN.1,
        Role::Admin,
    );
    let (_, foreign) = app
        .graphql(Some(&client), delete, json!({ "input": { "id": gid(id) } }))
        .await?;
    assert_eq!(
        foreign["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{foreign}"
    );
    let member = app.token(
        api::demo::PROVIDER_ADMIN.0,
        api::demo::PROVIDER_ADMIN.1,
        Role::Member,
    );
    let (_, refused) = app
        .graphql(Some(&member), delete, json!({ "input": { "id": gid(id) } }))
        .await?;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
    let stored = entities::integration::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .unwrap();
    assert!(stored.deleted_at.is_none() && stored.credentials_ciphertext.is_some());

    let robot = app.integration_token("demo|northwind-sync", "northwind-msp", id);
    let (_, before) = app
        .graphql(Some(&robot), "{ viewer { role } }", json!({}))
        .await?;
    assert_eq!(before["data"]["viewer"]["role"], "INTEGRATION", "{before}");

    let deleted = app
        .query(&admin, delete, json!({ "input": { "id": gid(id) } }))
        .await?;
    let payload = &deleted["deleteIntegration"];
    assert_eq!(payload["userErrors"], json!([]), "{deleted}");
    assert_eq!(payload["integration"]["enabled"], false);
    assert_eq!(payload["integration"]["hasCredentials"], false);
    assert_eq!(payload["integration"]["mappings"]["nodes"], json!([]));
    assert!(payload["integration"]["deletedAt"].is_string(), "{deleted}");

    // The credentials are destroyed, not hidden; configuration for future runs is gone.
    let stored = entities::integration::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .unwrap();
    assert!(stored.credentials_ciphertext.is_none());
    assert!(stored.sync_interval_seconds.is_none() && stored.lease_owner.is_none());
    let left = (
        entities::integration_mapping::Entity::find()
            .filter(entities::integration_mapping::Column::IntegrationId.eq(id))
            .count(&app.db)
            .await?,
        entities::value_mapping::Entity::find()
            .filter(entities::value_mapping::Column::IntegrationId.eq(id))
            .count(&app.db)
            .await?,
        entities::sync_cursor::Entity::find()
            .filter(entities::sync_cursor::Column::IntegrationId.eq(id))
            .count(&app.db)
            .await?,
    );
    assert_eq!(left, (0, 0, 0), "mappings, value mappings, cursors");

    // History stays: the runs, the synced tickets, and the integration itself by id.
    assert_eq!(app.count("tickets").await?, synced);
    assert_eq!(
        entities::sync_run::Entity::find()
            .filter(entities::sync_run::Column::IntegrationId.eq(id))
            .count(&app.db)
            .await?,
        1
    );
    let history = app.query(&admin, RUNS, json!({ "id": gid(id) })).await?;
    assert_eq!(
        history["node"]["syncRuns"]["edges"][0]["node"]["status"], "SUCCEEDED",
        "{history}"
    );
    assert!(history["node"]["deletedAt"].is_string());

    // Lists leave it out unless asked.
    let list = "query($filter: IntegrationFilter) { integrations(filter: $filter) { edges { node { id deletedAt } } } }";
    let live = app.query(&admin, list, json!({})).await?;
    assert!(
        !live["integrations"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|edge| edge["node"]["id"] == gid(id)),
        "{live}"
    );
    let all = app
        .query(
            &admin,
            list,
            json!({ "filter": { "includeDeleted": true } }),
        )
        .await?;
    assert!(
        all["integrations"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|edge| edge["node"]["id"] == gid(id)),
        "{all}"
    );
    // A job polling for changes sees the deletion without asking for deleted ones.
    let changed = app
        .query(
            &admin,
            list,
            json!({ "filter": { "updatedSince": first.run.started_at.to_rfc3339() } }),
        )
        .await?;
    assert!(
        changed["integrations"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|edge| edge["node"]["id"] == gid(id) && edge["node"]["deletedAt"].is_string()),
        "{changed}"
    );

    // Nothing changes it or runs it any more.
    let again = app
        .query(&admin, delete, json!({ "input": { "id": gid(id) } }))
        .await?;
    assert_eq!(
        again["deleteIntegration"]["userErrors"][0]["code"], "NOT_FOUND",
        "{again}"
    );
    for mutation in [
        "mutation($id: ID!) { updateIntegration(input: { id: $id, enabled: true }) { userErrors { code } } }",
        "mutation($id: ID!) { triggerSync(input: { id: $id }) { userErrors { code } } }",
        "mutation($id: ID!) { testIntegration(input: { id: $id }) { userErrors { code } } }",
    ] {
        let refused = app
            .query(&admin, mutation, json!({ "id": gid(id) }))
            .await?;
        let payload = refused.as_object().unwrap().values().next().unwrap();
        assert_eq!(payload["userErrors"][0]["code"], "NOT_FOUND", "{refused}");
    }
    let run = api::sync::run(
        &app.db,
        None,
        id,
        &api::sync::SyncOptions::new(entities::enums::SyncTrigger::Manual),
        &|_| {},
    )
    .await;
    assert!(
        matches!(run, Err(api::sync::SyncError::NotFound)),
        "{run:?}"
    );
    let webhook = app
        .client
        .post(format!("{}/webhooks/{id}", app.address))
        .header("content-type", "application/json")
        .body(json!({ "Type": "Ticket", "ID": 48000, "Metadata": { "key_url": format!("{}/callbackkey", server.url) } }).to_string())
        .send()
        .await?;
    assert_eq!(webhook.status(), 404);

    // A token issued for it no longer authenticates.
    let (_, after) = app
        .graphql(Some(&robot), "{ viewer { role } }", json!({}))
        .await?;
    assert_eq!(
        after["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{after}"
    );

    // Its name is free again.
    let created = app
        .query(&admin, "mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { integration { name } userErrors { code } } }",
            json!({ "input": { "name": "CONNECTWISE_MANAGE under test", "kind": "CONNECTWISE_MANAGE", "baseUrl": "https://api-na.myconnectwise.net" } }))
        .await?;
    assert_eq!(
        created["createIntegration"]["userErrors"],
        json!([]),
        "{created}"
    );
    app.stop().await
}

#[tokio::test]
async fn two_admins_deleting_one_integration_at_once_succeed_once() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (_server, id) = connectwise(&app, 3, 1000).await?;
    let admin = app.provider_admin_token();
    let delete = "mutation($input: IntegrationActionInput!) { deleteIntegration(input: $input) { integration { id } userErrors { code } } }";
    let variables = json!({ "input": { "id": gid(id) } });
    let (one, two) = tokio::join!(
        app.query(&admin, delete, variables.clone()),
        app.query(&admin, delete, variables.clone())
    );
    let mut codes: Vec<Value> = [one?, two?]
        .iter()
        .map(|outcome| outcome["deleteIntegration"]["userErrors"].clone())
        .collect();
    codes.sort_by_key(Value::to_string);
    assert_eq!(
        codes,
        vec![json!([]), json!([{ "code": "NOT_FOUND" }])],
        "exactly one delete wins"
    );
    app.stop().await
}

#[tokio::test]
async fn a_run_in_flight_when_its_integration_is_deleted_writes_nothing_more() -> anyhow::Result<()>
{
    let app = TestApp::spawn_with_demo().await?;
    let (server, id) = connectwise(&app, 6, 1000).await?;
    // The run waits out twenty 429s (20 ms each under the test policy) before its first page.
    server
        .state
        .inject([integrations::mock::Fault::RateLimited { retry_after: 1 }; 20]);
    let waiting = tokio::sync::Notify::new();
    let progress = |line: &api::sync::engine::Progress| {
        if line.waiting.is_some() {
            waiting.notify_one();
        }
    };
    let delete = async {
        waiting.notified().await;
        app.query(
            &app.provider_admin_token(),
            "mutation($input: IntegrationActionInput!) { deleteIntegration(input: $input) { userErrors { code } } }",
            json!({ "input": { "id": gid(id) } }),
        )
        .await
    };
    let (outcome, deleted) = tokio::join!(tests::sync_with(&app, id, &progress), delete);
    assert_eq!(deleted?["deleteIntegration"]["userErrors"], json!([]));
    let error = outcome.expect_err("the run lost its lease");
    assert!(
        matches!(error, api::sync::SyncError::LeaseLost),
        "{error:?}"
    );
    assert_eq!(
        entities::ticket::Entity::find()
            .filter(entities::ticket::Column::ExternalSource.like("CONNECTWISE_MANAGE:%"))
            .count(&app.db)
            .await?,
        0,
        "no page was written after the delete"
    );
    let run = entities::sync_run::Entity::find()
        .filter(entities::sync_run::Column::IntegrationId.eq(id))
        .one(&app.db)
        .await?
        .unwrap();
    assert_eq!(run.status, SyncStatus::Failed, "{run:?}");
    app.stop().await
}
