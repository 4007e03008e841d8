//! `ownership_gap.opened` / `ownership_gap.closed`: writes that change an environment's
//! ownership gaps emit one event per gap that opened or closed, in their own transaction, to the
//! endpoints that may see the environment; unrelated writes and unchanged syncs emit none.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use entities::outbox_event;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use tests::{TestApp, test_server_settings};

/// What the receiver got: the path's name and the body.
type Got = Arc<Mutex<Vec<(String, Value)>>>;

/// A local receiver on a random port: records each body it got, by path.
#[derive(Clone, Default)]
struct Receiver {
    base: String,
    got: Got,
}

impl Receiver {
    async fn start() -> anyhow::Result<Self> {
        let got: Got = Arc::default();
        let app = axum::Router::new()
            .route("/{name}", axum::routing::post(receive))
            .with_state(Arc::clone(&got));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { base, got })
    }

    fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.base)
    }

    fn at(&self, name: &str) -> Vec<Value> {
        self.got
            .lock()
            .expect("receiver")
            .iter()
            .filter(|(path, _)| path == name)
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// Waits (at most 20 s) until `name` got a body for which `done` holds.
    async fn wait_for(&self, name: &str, done: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        for _ in 0..200 {
            if let Some(found) = self.at(name).into_iter().find(|body| done(body)) {
                return Ok(found);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("{name} never got it: {:?}", self.at(name))
    }
}

async fn receive(
    State(got): State<Got>,
    Path(name): Path<String>,
    body: Bytes,
) -> axum::http::StatusCode {
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    got.lock().expect("receiver").push((name, body));
    axum::http::StatusCode::OK
}

fn settings() -> api::config::ServerSettings {
    let mut settings = test_server_settings();
    settings.webhook_delivery = true;
    settings
}

async fn endpoint(app: &TestApp, token: &str, url: &str) -> anyhow::Result<Value> {
    let data = app
        .query(
            token,
            "mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } userErrors { field code message } } }",
            json!({ "input": { "url": url, "eventTypes": ["OWNERSHIP_GAP_OPENED", "OWNERSHIP_GAP_CLOSED"] } }),
        )
        .await?;
    assert_eq!(
        data["createWebhookEndpoint"]["userErrors"],
        json!([]),
        "{data}"
    );
    Ok(data["createWebhookEndpoint"]["endpoint"]["id"].clone())
}

/// A new environment of Harbor's under the FTC Safeguards Rule (twelve required functions).
async fn annex(app: &TestApp) -> anyhow::Result<Value> {
    let harbor = app.client_admin_token();
    let organization = app
        .query(&harbor, "{ viewer { organization { id } } }", Value::Null)
        .await?["viewer"]["organization"]["id"]
        .clone();
    let created = app
        .query(&harbor, "mutation($input: CreateEnvironmentInput!) { createEnvironment(input: $input) { environment { id } userErrors { message } } }", json!({ "input": { "organizationId": organization, "name": "Annex", "complianceFrameworks": ["FTC_SAFEGUARDS"] } }))
        .await?;
    let id = created["createEnvironment"]["environment"]["id"].clone();
    assert!(id.is_string(), "{created}");
    Ok(id)
}

/// The ownership gap events in the outbox, oldest first.
async fn gap_events(app: &TestApp) -> anyhow::Result<Vec<outbox_event::Model>> {
    Ok(outbox_event::Entity::find()
        .filter(outbox_event::Column::EventType.like("ownership_gap.%"))
        .order_by_asc(outbox_event::Column::Seq)
        .all(&app.db)
        .await?)
}

async fn team(app: &TestApp, token: &str, name: &str) -> anyhow::Result<Value> {
    Ok(app
        .all_nodes(token, "teams", "id name")
        .await?
        .into_iter()
        .find(|team| team["name"] == name)
        .unwrap_or_else(|| panic!("no team {name}"))["id"]
        .clone())
}

async fn step(app: &TestApp, token: &str, action: &str, id: &Value) -> anyhow::Result<()> {
    let done = app
        .query(token, &format!("mutation($input: ResponsibilityActionInput!) {{ {action}(input: $input) {{ userErrors {{ message }} }} }}"), json!({ "input": { "id": id } }))
        .await?;
    assert_eq!(done[action]["userErrors"], json!([]), "{action}: {done}");
    Ok(())
}

/// The global id of the function `key` as the gap report names it.
async fn function_id(app: &TestApp, environment: &Value, key: &str) -> anyhow::Result<Value> {
    let data = app
        .query(&app.client_admin_token(), "query($id: ID!) { ownershipGaps(environmentId: $id) { gaps { kind subject { id ... on Function { key } } } } }", json!({ "id": environment }))
        .await?;
    Ok(data["ownershipGaps"]["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|gap| gap["kind"] == "REQUIRED_FUNCTION_UNOWNED" && gap["subject"]["key"] == key)
        .unwrap_or_else(|| panic!("no gap for {key}: {data}"))["subject"]["id"]
        .clone())
}

#[tokio::test]
async fn agreeing_closes_a_required_functions_gap_and_retiring_opens_it_for_those_who_may_see_it()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with(settings(), true).await?;
    let receiver = Receiver::start().await?;
    let harbor = app.client_admin_token();
    let provider = app.provider_admin_token();
    endpoint(&app, &harbor, &receiver.url("harbor")).await?;
    endpoint(&app, &provider, &receiver.url("northwind")).await?;
    // Another client of the same provider: never sees Harbor's environments.
    let cedar = endpoint(&app, &app.cedar_admin_token(), &receiver.url("cedar")).await?;

    // A new environment under a framework opens a gap per required function, with it.
    let environment = annex(&app).await?;
    let opened = gap_events(&app).await?;
    assert_eq!(opened.len(), 12, "{opened:#?}");
    assert!(
        opened
            .iter()
            .all(|event| event.event_type == "ownership_gap.opened")
    );
    let patching = function_id(&app, &environment, "patching").await?;

    // Agreeing a patching default closes that gap, and only that one.
    let internal_it = team(&app, &harbor, "Internal IT").await?;
    let created = app
        .query(&harbor, "mutation($input: CreateResponsibilityInput!) { createResponsibility(input: $input) { responsibility { id } userErrors { field message } } }", json!({ "input": { "environmentId": environment, "function": "patching", "responsibleTeamId": internal_it, "accountableTeamId": internal_it, "validFrom": "2026-01-01T00:00:00Z" } }))
        .await?;
    let entry = created["createResponsibility"]["responsibility"]["id"].clone();
    assert!(entry.is_string(), "{created}");
    step(&app, &harbor, "proposeResponsibility", &entry).await?;
    step(&app, &harbor, "approveResponsibility", &entry).await?;
    assert_eq!(
        gap_events(&app).await?.len(),
        12,
        "drafts, proposals and a first approval change no gap"
    );
    step(&app, &provider, "approveResponsibility", &entry).await?;
    let events = gap_events(&app).await?;
    assert_eq!(events.len(), 13, "{events:#?}");
    let closed = &events[12];
    assert_eq!(closed.event_type, "ownership_gap.closed");
    assert_eq!(closed.payload["change"], "CLOSED");
    assert_eq!(closed.payload["kind"], "REQUIRED_FUNCTION_UNOWNED");
    assert_eq!(closed.payload["severity"], "HIGH");
    assert_eq!(closed.payload["environmentId"], environment);
    assert_eq!(
        closed.payload["subject"],
        json!({ "__typename": "Function", "id": patching })
    );

    // The webhook reaches Harbor and its provider, signed and typed.
    for name in ["harbor", "northwind"] {
        let body = receiver
            .wait_for(name, |body| body["type"] == "ownership_gap.closed")
            .await?;
        assert_eq!(body["data"]["subject"]["id"], patching, "{body}");
        assert_eq!(body["environmentId"], environment, "{body}");
    }

    // An unrelated write (a ticket) emits none.
    let ticket = app
        .query(&harbor, "mutation($input: CreateTicketInput!) { createTicket(input: $input) { userErrors { code } } }", json!({ "input": { "environmentId": environment, "title": "Printer jam" } }))
        .await?;
    assert_eq!(ticket["createTicket"]["userErrors"], json!([]), "{ticket}");
    assert_eq!(gap_events(&app).await?.len(), 13);

    // Retiring the entry opens the gap again.
    step(&app, &harbor, "retireResponsibility", &entry).await?;
    assert_eq!(gap_events(&app).await?.len(), 13, "one side only");
    step(&app, &provider, "retireResponsibility", &entry).await?;
    let events = gap_events(&app).await?;
    assert_eq!(events.len(), 14, "{events:#?}");
    assert_eq!(events[13].event_type, "ownership_gap.opened");
    assert_eq!(events[13].payload["change"], "OPENED");
    assert_eq!(events[13].payload["subject"]["id"], patching);
    receiver
        .wait_for("harbor", |body| {
            body["type"] == "ownership_gap.opened" && body["data"]["subject"]["id"] == patching
        })
        .await?;

    // Cedar's endpoint had no delivery of any of it.
    let deliveries = entities::webhook_delivery::Entity::find()
        .filter(entities::webhook_delivery::Column::EndpointId.eq(tests::decode_uuid(&cedar)))
        .all(&app.db)
        .await?;
    assert!(deliveries.is_empty(), "{deliveries:#?}");
    assert!(receiver.at("cedar").is_empty());
    app.stop().await
}

#[tokio::test]
async fn systems_added_or_retired_and_frameworks_dropped_open_and_close_their_gaps()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let environment = annex(&app).await?;
    let before = gap_events(&app).await?.len();
    let created = app
        .query(&harbor, "mutation($input: CreateSystemInput!) { createSystem(input: $input) { system { id } userErrors { message } } }", json!({ "input": { "environmentId": environment, "name": "ANX-SRV-01", "kind": "SERVER" } }))
        .await?;
    let system = created["createSystem"]["system"]["id"].clone();
    assert!(system.is_string(), "{created}");
    let events = gap_events(&app).await?;
    assert_eq!(events.len(), before + 1, "{events:#?}");
    assert_eq!(events[before].event_type, "ownership_gap.opened");
    assert_eq!(events[before].payload["kind"], "SYSTEM_UNCOVERED");
    assert_eq!(events[before].payload["subject"]["id"], system);

    // Renaming it changes no gap.
    let renamed = app
        .query(&harbor, "mutation($input: UpdateSystemInput!) { updateSystem(input: $input) { userErrors { message } } }", json!({ "input": { "id": system, "name": "ANX-SRV-1" } }))
        .await?;
    assert_eq!(
        renamed["updateSystem"]["userErrors"],
        json!([]),
        "{renamed}"
    );
    assert_eq!(gap_events(&app).await?.len(), before + 1);

    // Retiring it closes its gap.
    let retired = app
        .query(&harbor, "mutation($input: RetireSystemInput!) { retireSystem(input: $input) { userErrors { message } } }", json!({ "input": { "id": system } }))
        .await?;
    assert_eq!(
        retired["retireSystem"]["userErrors"],
        json!([]),
        "{retired}"
    );
    let events = gap_events(&app).await?;
    assert_eq!(events.len(), before + 2, "{events:#?}");
    assert_eq!(events[before + 1].event_type, "ownership_gap.closed");
    assert_eq!(events[before + 1].payload["subject"]["id"], system);

    // Dropping the framework closes every required function's gap.
    let changed = app
        .query(&harbor, "mutation($input: UpdateEnvironmentInput!) { updateEnvironment(input: $input) { userErrors { message } } }", json!({ "input": { "id": environment, "complianceFrameworks": [] } }))
        .await?;
    assert_eq!(
        changed["updateEnvironment"]["userErrors"],
        json!([]),
        "{changed}"
    );
    let events = gap_events(&app).await?;
    let closed: Vec<_> = events[before + 2..]
        .iter()
        .filter(|event| event.event_type == "ownership_gap.closed")
        .collect();
    assert_eq!(closed.len(), 12, "{events:#?}");
    assert_eq!(events.len(), before + 14);
    app.stop().await
}

#[tokio::test]
async fn a_sync_discovering_systems_opens_their_gaps_once() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let environment = annex(&app).await?;
    let server = integrations::mock::ninjaone::start(integrations::mock::ninjaone::fixture(
        3,
        chrono::Utc::now() - chrono::Duration::hours(1),
    ))
    .await;
    let (mut settings, mut credentials) = integrations::mock::ninjaone::configuration();
    settings["pageSize"] = json!(1);
    credentials["webhookSecret"] = json!("ninja-hook-secret");
    let (_, id) = crate::sync::integration(
        &app,
        "NINJAONE",
        &server.url,
        (settings, credentials),
        &[("1", "Annex")],
    )
    .await?;
    let before = gap_events(&app).await?.len();
    let report = tests::sync(&app, id).await;
    assert_eq!(
        report.run.status,
        entities::enums::SyncStatus::Succeeded,
        "{report:?}"
    );
    let systems = entities::system::Entity::find()
        .filter(entities::system::Column::EnvironmentId.eq(tests::decode_uuid(&environment)))
        .all(&app.db)
        .await?;
    assert!(!systems.is_empty());
    let events = gap_events(&app).await?;
    let opened = &events[before..];
    assert_eq!(opened.len(), systems.len(), "{opened:#?}");
    for event in opened {
        assert_eq!(event.event_type, "ownership_gap.opened");
        assert_eq!(event.payload["kind"], "SYSTEM_UNCOVERED");
        assert_eq!(event.caused_by_integration_id, Some(id));
        assert!(systems.iter().any(|found| found.id == event.subject_id));
    }

    // Nothing changed at the vendor: no gap event.
    let again = tests::sync(&app, id).await;
    assert_eq!(again.run.records_created + again.run.records_updated, 0);
    assert_eq!(gap_events(&app).await?.len(), events.len());
    app.stop().await
}

#[tokio::test]
async fn a_typical_agree_reads_the_gaps_in_seven_statements_more() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let provider = app.provider_admin_token();
    let environment = annex(&app).await?;
    let internal_it = team(&app, &harbor, "Internal IT").await?;
    let created = app
        .query(&harbor, "mutation($input: CreateResponsibilityInput!) { createResponsibility(input: $input) { responsibility { id } userErrors { field message } } }", json!({ "input": { "environmentId": environment, "function": "patching", "responsibleTeamId": internal_it, "accountableTeamId": internal_it, "validFrom": "2026-01-01T00:00:00Z" } }))
        .await?;
    let entry = created["createResponsibility"]["responsibility"]["id"].clone();
    step(&app, &harbor, "proposeResponsibility", &entry).await?;
    let approve = "mutation($input: ResponsibilityActionInput!) { approveResponsibility(input: $input) { userErrors { message } } }";
    let (_, first) = app
        .query_counting(&harbor, approve, json!({ "input": { "id": entry } }))
        .await?;
    let (_, last) = app
        .query_counting(&provider, approve, json!({ "input": { "id": entry } }))
        .await?;
    let reads_functions = |statements: &[String]| {
        statements
            .iter()
            .filter(|sql| sql.contains("FROM \"functions\""))
            .count()
    };
    // The first approval agrees nothing: no gap is read. The last reads them before and after
    // (the functions once each time, beyond the function name both read for the change log).
    assert_eq!(
        reads_functions(&last),
        reads_functions(&first) + 2,
        "{first:#?} {last:#?}"
    );
    println!(
        "statements: first approval {}, agreeing approval {}",
        first.len(),
        last.len()
    );
    app.stop().await
}
