//! Outbound webhooks: signed deliveries from the outbox, to the endpoints that may see the event
//! and asked for its type; retries after 5xx; nothing lost or doubled across a restart or with
//! two servers, or by a claim made on a stale read; a lost lease not renewed; an ended
//! engagement stopping pending retries; replay by event id; an integration's own events skipped;
//! admins only; the URL rules of vendor base URLs; the cap on endpoints under concurrent creates;
//! the secret shown once.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use entities::enums::Role;
use hmac::{Hmac, Mac};
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use sha2::Sha256;
use tests::{TestApp, test_server_settings};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
    answered: u16,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a delivery is JSON")
    }
}

#[derive(Default)]
struct Script {
    received: Vec<Received>,
    /// Answer 500 to this many requests first.
    fail_next: usize,
    /// Answer 500 to everything.
    always_fail: bool,
}

/// A local receiver on a random port: records every request, answers as scripted.
#[derive(Clone)]
struct Receiver {
    base: String,
    script: Arc<Mutex<Script>>,
}

impl Receiver {
    async fn start() -> anyhow::Result<Self> {
        let script = Arc::new(Mutex::new(Script::default()));
        let app = axum::Router::new()
            .route("/{name}", axum::routing::post(receive))
            .with_state(Arc::clone(&script));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { base, script })
    }

    fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.base)
    }

    fn at(&self, name: &str) -> Vec<Received> {
        let path = format!("/{name}");
        self.script
            .lock()
            .expect("script")
            .received
            .iter()
            .filter(|found| found.path == path)
            .cloned()
            .collect()
    }

    fn delivered_at(&self, name: &str) -> Vec<Received> {
        self.at(name)
            .into_iter()
            .filter(|found| found.answered == 200)
            .collect()
    }

    fn script(&self, change: impl FnOnce(&mut Script)) {
        change(&mut self.script.lock().expect("script"));
    }

    /// Waits (at most 20 s) until `done` holds for what `name` received.
    async fn wait(&self, name: &str, done: impl Fn(&[Received]) -> bool) -> anyhow::Result<()> {
        for _ in 0..200 {
            if done(&self.at(name)) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("{name} never got what was expected: {:?}", self.at(name))
    }
}

async fn receive(
    State(script): State<Arc<Mutex<Script>>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut script = script.lock().expect("script");
    let fail = script.always_fail || script.fail_next > 0;
    script.fail_next = script.fail_next.saturating_sub(1);
    let status = if fail {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    script.received.push(Received {
        path: format!("/{name}"),
        headers,
        body: body.to_vec(),
        answered: status.as_u16(),
    });
    status
}

/// Whether `received` carries a valid `Tandem-Signature` for `secret`, made within 5 minutes:
/// what the README's snippet does.
fn verifies(secret: &str, received: &Received) -> bool {
    let header = received.header("tandem-signature");
    let mut timestamp = None;
    let mut signature = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signature = decode_hex(value),
            _ => {}
        }
    }
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return false;
    };
    if (chrono::Utc::now().timestamp() - timestamp).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&received.body);
    mac.verify_slice(&signature).is_ok()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

fn settings() -> api::config::ServerSettings {
    let mut settings = test_server_settings();
    settings.webhook_delivery = true;
    settings
}

const CREATE: &str = "mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id url eventTypes enabled } secret userErrors { field code message } } }";

/// Registers an endpoint; returns its id and secret.
async fn endpoint(
    app: &TestApp,
    token: &str,
    url: &str,
    types: &[&str],
    skip: Option<&Value>,
) -> anyhow::Result<(Value, String)> {
    let mut input = json!({ "url": url, "eventTypes": types });
    if let Some(skip) = skip {
        input["skipIntegrationId"] = skip.clone();
    }
    let data = app.query(token, CREATE, json!({ "input": input })).await?;
    let payload = &data["createWebhookEndpoint"];
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    let secret = payload["secret"].as_str().expect("a secret").to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    Ok((payload["endpoint"]["id"].clone(), secret))
}

async fn environment_of(app: &TestApp, token: &str) -> anyhow::Result<Value> {
    Ok(app
        .query(
            token,
            "{ environments(first: 1) { edges { node { id } } } }",
            Value::Null,
        )
        .await?["environments"]["edges"][0]["node"]["id"]
        .clone())
}

async fn ticket(
    app: &TestApp,
    token: &str,
    environment: &Value,
    title: &str,
) -> anyhow::Result<Value> {
    let data = app
        .query(
            token,
            "mutation($input: CreateTicketInput!) { createTicket(input: $input) { ticket { id } userErrors { code } } }",
            json!({ "input": { "environmentId": environment, "title": title } }),
        )
        .await?;
    assert_eq!(data["createTicket"]["userErrors"], json!([]), "{data}");
    Ok(data["createTicket"]["ticket"]["id"].clone())
}

/// The delivery log of `endpoint`, oldest first.
async fn log(app: &TestApp, token: &str, endpoint: &Value) -> anyhow::Result<Vec<Value>> {
    let data = app
        .query(
            token,
            "query($id: ID!) { node(id: $id) { ... on WebhookEndpoint { deliveries(first: 100) { nodes { id eventId eventType status attempts lastStatus lastError replay } } } } }",
            json!({ "id": endpoint }),
        )
        .await?;
    Ok(data["node"]["deliveries"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

fn ninja_token(app: &TestApp, ninja: &Value) -> String {
    app.integration_token(
        "demo|northwind-sync",
        "northwind-msp",
        tests::decode_uuid(ninja),
    )
}

async fn ninja(app: &TestApp) -> anyhow::Result<Value> {
    Ok(app
        .all_nodes(&app.provider_admin_token(), "integrations", "id kind")
        .await?
        .into_iter()
        .find(|node| node["kind"] == "NINJAONE")
        .expect("the provider's NinjaOne integration")["id"]
        .clone())
}

#[tokio::test]
async fn a_ticket_reaches_each_matching_endpoint_once_signed_and_no_other_tenant()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with(settings(), true).await?;
    let receiver = Receiver::start().await?;
    let provider = app.provider_admin_token();
    let harbor = app.client_admin_token();
    let cedar = app.token("demo|cedar-office", "cedar-pine", Role::Admin);
    let (provider_tickets, provider_secret) = endpoint(
        &app,
        &provider,
        &receiver.url("a"),
        &["TICKET_CREATED"],
        None,
    )
    .await?;
    let (provider_alerts, alerts_secret) =
        endpoint(&app, &provider, &receiver.url("b"), &["ALERT_RAISED"], None).await?;
    endpoint(
        &app,
        &cedar,
        &receiver.url("c"),
        &["TICKET_CREATED", "CHANGE_RECORDED"],
        None,
    )
    .await?;
    let (_, harbor_secret) = endpoint(
        &app,
        &harbor,
        &receiver.url("h"),
        &["TICKET_CREATED", "CHANGE_RECORDED"],
        None,
    )
    .await?;
    let environment = environment_of(&app, &harbor).await?;
    let harbor_org = app
        .query(&harbor, "{ viewer { organization { id } } }", Value::Null)
        .await?["viewer"]["organization"]["id"]
        .clone();
    let ticket = ticket(&app, &harbor, &environment, "Printer on fire").await?;

    receiver.wait("a", |got| got.len() == 1).await?;
    receiver.wait("h", |got| got.len() == 2).await?;
    // Time for anything that should not come.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        receiver.at("a").len(),
        1,
        "one delivery per matching endpoint"
    );
    assert_eq!(receiver.at("b").len(), 0, "the type filter holds");
    assert_eq!(
        receiver.at("c").len(),
        0,
        "another tenant's endpoint gets nothing"
    );
    let harbor_types: BTreeSet<String> = receiver
        .at("h")
        .iter()
        .map(|got| got.json()["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        harbor_types,
        BTreeSet::from(["change.recorded".to_owned(), "ticket.created".to_owned()])
    );

    let got = &receiver.at("a")[0];
    assert!(verifies(&provider_secret, got), "the signature verifies");
    assert!(
        !verifies(&alerts_secret, got),
        "another endpoint's secret does not"
    );
    assert!(!verifies(&harbor_secret, got));
    let body = got.json();
    assert_eq!(body["type"], "ticket.created");
    assert_eq!(body["data"]["id"], ticket);
    assert_eq!(body["data"]["title"], "Printer on fire");
    assert_eq!(body["data"]["status"], "NEW");
    assert_eq!(body["environmentId"], environment);
    assert_eq!(body["organizationId"], harbor_org);
    assert_eq!(
        got.header("tandem-event-id"),
        body["id"].as_str().unwrap_or("?")
    );
    assert_eq!(got.header("tandem-event-type"), "ticket.created");
    assert_eq!(got.header("content-type"), "application/json");

    let deliveries = log(&app, &provider, &provider_tickets).await?;
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(deliveries[0]["status"], "DELIVERED");
    assert_eq!(deliveries[0]["attempts"], 1);
    assert_eq!(deliveries[0]["lastStatus"], 200);
    assert_eq!(deliveries[0]["eventType"], "TICKET_CREATED");
    assert_eq!(deliveries[0]["eventId"], body["id"]);
    assert_eq!(
        tests::decode_uuid(&deliveries[0]["id"]).to_string(),
        got.header("tandem-delivery-id")
    );
    assert_eq!(log(&app, &provider, &provider_alerts).await?.len(), 0);

    // The secret is shown once: no query returns it.
    let listed = app
        .query(
            &provider,
            "{ webhookEndpoints { totalCount nodes { id url eventTypes enabled skipIntegrationId } } }",
            Value::Null,
        )
        .await?;
    assert_eq!(listed["webhookEndpoints"]["totalCount"], 2, "{listed}");
    let text = listed.to_string();
    assert!(!text.contains(&provider_secret) && !text.contains(&alerts_secret));
    // Harbor's admin does not see the provider's endpoints, by list or by id.
    let harbor_list = app
        .query(&harbor, "{ webhookEndpoints { totalCount } }", Value::Null)
        .await?;
    assert_eq!(harbor_list["webhookEndpoints"]["totalCount"], 1);
    let node = app
        .query(
            &harbor,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": provider_tickets }),
        )
        .await?;
    assert_eq!(node["node"], Value::Null);
    app.stop().await
}

#[tokio::test]
async fn acknowledging_and_resolving_an_alert_emit_events() -> anyhow::Result<()> {
    let app = TestApp::spawn_with(settings(), true).await?;
    let receiver = Receiver::start().await?;
    let provider = app.provider_admin_token();
    let (_, secret) = endpoint(
        &app,
        &provider,
        &receiver.url("alerts"),
        &["ALERT_ACKNOWLEDGED", "ALERT_RESOLVED"],
        None,
    )
    .await?;
    let alert = app
        .query(
            &provider,
            "{ alerts(first: 1, filter: { statuses: [OPEN] }) { edges { node { id } } } }",
            Value::Null,
        )
        .await?["alerts"]["edges"][0]["node"]["id"]
        .clone();
    // The bus hears of them too: `alertChanged` subscribers get both steps.
    let mut socket = crate::subscriptions::connect(&app, &provider).await?;
    crate::subscriptions::subscribe(
        &mut socket,
        "a",
        "subscription { alertChanged { id status } }",
    )
    .await?;
    for operation in ["acknowledgeAlert", "resolveAlert"] {
        let data = app
            .query(
                &provider,
                &format!("mutation($input: AlertActionInput!) {{ {operation}(input: $input) {{ userErrors {{ code }} }} }}"),
                json!({ "input": { "id": alert } }),
            )
            .await?;
        assert_eq!(data[operation]["userErrors"], json!([]), "{data}");
    }
    receiver.wait("alerts", |got| got.len() == 2).await?;
    let got = receiver.at("alerts");
    let bodies: Vec<Value> = got.iter().map(Received::json).collect();
    assert_eq!(bodies[0]["type"], "alert.acknowledged");
    assert_eq!(bodies[0]["data"]["status"], "ACKNOWLEDGED");
    assert_eq!(bodies[1]["type"], "alert.resolved");
    assert_eq!(bodies[1]["data"]["status"], "RESOLVED");
    assert_eq!(bodies[0]["data"]["id"], alert);
    assert_eq!(bodies[1]["data"]["id"], alert);
    assert!(got.iter().all(|found| verifies(&secret, found)));
    for status in ["ACKNOWLEDGED", "RESOLVED"] {
        let event = crate::subscriptions::next(&mut socket).await?;
        assert_eq!(
            event["payload"]["data"]["alertChanged"],
            json!({ "id": alert, "status": status }),
            "{event}"
        );
    }
    app.stop().await
}

#[tokio::test]
async fn a_receiver_answering_500_twice_gets_it_on_the_third_attempt() -> anyhow::Result<()> {
    let app = TestApp::spawn_with(settings(), true).await?;
    let receiver = Receiver::start().await?;
    receiver.script(|script| script.fail_next = 2);
    let provider = app.provider_admin_token();
    let (id, secret) = endpoint(
        &app,
        &provider,
        &receiver.url("r"),
        &["TICKET_CREATED"],
        None,
    )
    .await?;
    let environment = environment_of(&app, &app.client_admin_token()).await?;
    ticket(&app, &provider, &environment, "Flaky receiver").await?;
    receiver
        .wait("r", |got| got.iter().any(|found| found.answered == 200))
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = receiver.at("r");
    let answers: Vec<u16> = got.iter().map(|found| found.answered).collect();
    assert_eq!(answers, [500, 500, 200]);
    let events: BTreeSet<&str> = got
        .iter()
        .map(|found| found.header("tandem-event-id"))
        .collect();
    let deliveries: BTreeSet<&str> = got
        .iter()
        .map(|found| found.header("tandem-delivery-id"))
        .collect();
    assert_eq!(
        (events.len(), deliveries.len()),
        (1, 1),
        "the same delivery, retried"
    );
    assert!(got.iter().all(|found| verifies(&secret, found)));
    let log = log(&app, &provider, &id).await?;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["status"], "DELIVERED");
    assert_eq!(log[0]["attempts"], 3);
    assert_eq!(log[0]["lastStatus"], 200);
    assert_eq!(log[0]["lastError"], Value::Null);
    app.stop().await
}

#[tokio::test]
async fn pending_deliveries_survive_a_restart_and_are_delivered_once() -> anyhow::Result<()> {
    let mut app = TestApp::spawn_with(settings(), true).await?;
    let receiver = Receiver::start().await?;
    receiver.script(|script| script.always_fail = true);
    let provider = app.provider_admin_token();
    let (id, _) = endpoint(
        &app,
        &provider,
        &receiver.url("r"),
        &["TICKET_CREATED"],
        None,
    )
    .await?;
    let environment = environment_of(&app, &app.client_admin_token()).await?;
    let mut tickets = BTreeSet::new();
    for title in ["Before restart 1", "Before restart 2", "Before restart 3"] {
        tickets.insert(
            ticket(&app, &provider, &environment, title)
                .await?
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    receiver.wait("r", |got| got.len() >= 3).await?;
    app.stop_server().await?;
    let pending = tests::count_rows(&app.db, "webhook_deliveries").await?;
    assert_eq!(pending, 3);
    receiver.script(|script| script.always_fail = false);

    let restarted = app.spawn_beside(settings()).await?;
    receiver
        .wait("r", |got| {
            got.iter().filter(|found| found.answered == 200).count() == 3
        })
        .await?;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let delivered = receiver.delivered_at("r");
    assert_eq!(delivered.len(), 3, "nothing doubled");
    let titles: BTreeSet<String> = delivered
        .iter()
        .map(|found| {
            found.json()["data"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(titles, tickets, "nothing lost");
    let log = log(&restarted, &provider, &id).await?;
    assert_eq!(log.len(), 3);
    assert!(
        log.iter().all(|found| found["status"] == "DELIVERED"),
        "{log:?}"
    );
    restarted.stop().await?;
    app.stop().await
}

#[tokio::test]
async fn two_servers_on_one_database_deliver_each_event_once() -> anyhow::Result<()> {
    let app = TestApp::spawn_with(settings(), true).await?;
    let other = app.spawn_beside(settings()).await?;
    let receiver = Receiver::start().await?;
    let provider = app.provider_admin_token();
    endpoint(
        &app,
        &provider,
        &receiver.url("r"),
        &["TICKET_CREATED"],
        None,
    )
    .await?;
    let environment = environment_of(&app, &app.client_admin_token()).await?;
    for index in 0..10 {
        let server = if index % 2 == 0 { &app } else { &other };
        ticket(server, &provider, &environment, &format!("Ticket {index}")).await?;
    }
    receiver.wait("r", |got| got.len() >= 10).await?;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let got = receiver.at("r");
    let events: BTreeSet<&str> = got
        .iter()
        .map(|found| found.header("tandem-event-id"))
        .collect();
    assert_eq!(got.len(), 10, "each event once");
    assert_eq!(events.len(), 10);
    other.stop().await?;
    app.stop().await
}

#[tokio::test]
async fn an_event_is_replayed_by_its_id_to_an_endpoint_that_may_see_it() -> anyhow::Result<()> {
    let app = TestApp::spawn_with(settings(), true).await?;
    let receiver = Receiver::start().await?;
    let provider = app.provider_admin_token();
    let cedar = app.token("demo|cedar-office", "cedar-pine", Role::Admin);
    let (id, secret) = endpoint(
        &app,
        &provider,
        &receiver.url("r"),
        &["TICKET_CREATED"],
        None,
    )
    .await?;
    let (cedar_endpoint, _) =
        endpoint(&app, &cedar, &receiver.url("c"), &["TICKET_CREATED"], None).await?;
    let environment = environment_of(&app, &app.client_admin_token()).await?;
    ticket(&app, &provider, &environment, "Replay me").await?;
    receiver.wait("r", |got| got.len() == 1).await?;
    let event_id = log(&app, &provider, &id).await?[0]["eventId"].clone();

    let replay = "mutation($input: ReplayWebhookEventInput!) { replayWebhookEvent(input: $input) { delivery { id status replay } userErrors { field code } } }";
    let data = app
        .query(
            &provider,
            replay,
            json!({ "input": { "eventId": event_id, "endpointId": id } }),
        )
        .await?;
    let payload = &data["replayWebhookEvent"];
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    assert_eq!(payload["delivery"]["replay"], true);
    receiver.wait("r", |got| got.len() == 2).await?;
    let got = receiver.at("r");
    assert_eq!(
        got[0].header("tandem-event-id"),
        got[1].header("tandem-event-id")
    );
    assert_ne!(
        got[0].header("tandem-delivery-id"),
        got[1].header("tandem-delivery-id")
    );
    assert_eq!(got[0].body, got[1].body, "the same event");
    assert!(verifies(&secret, &got[1]));
    let log = log(&app, &provider, &id).await?;
    assert_eq!(
        log.iter()
            .map(|found| found["replay"].clone())
            .collect::<Vec<_>>(),
        [json!(false), json!(true)]
    );

    // Another tenant cannot replay it to its own endpoint; a malformed id is invalid.
    let data = app
        .query(
            &cedar,
            replay,
            json!({ "input": { "eventId": event_id, "endpointId": cedar_endpoint } }),
        )
        .await?;
    assert_eq!(
        data["replayWebhookEvent"]["userErrors"],
        json!([{ "field": ["input", "eventId"], "code": "NOT_FOUND" }])
    );
    let data = app
        .query(
            &provider,
            replay,
            json!({ "input": { "eventId": "nope", "endpointId": id } }),
        )
        .await?;
    assert_eq!(
        data["replayWebhookEvent"]["userErrors"][0]["code"],
        "INVALID"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.at("c").len(), 0);
    app.stop().await
}

#[tokio::test]
async fn an_integrations_own_events_skip_the_endpoint_that_asks() -> anyhow::Result<()> {
    let app = TestApp::spawn_with(settings(), true).await?;
    let receiver = Receiver::start().await?;
    let provider = app.provider_admin_token();
    let ninja = ninja(&app).await?;
    endpoint(
        &app,
        &provider,
        &receiver.url("skip"),
        &["TICKET_CREATED"],
        Some(&ninja),
    )
    .await?;
    endpoint(
        &app,
        &provider,
        &receiver.url("all"),
        &["TICKET_CREATED"],
        None,
    )
    .await?;
    let environment = environment_of(&app, &app.client_admin_token()).await?;
    ticket(
        &app,
        &ninja_token(&app, &ninja),
        &environment,
        "From NinjaOne",
    )
    .await?;
    ticket(&app, &provider, &environment, "From a person").await?;
    receiver.wait("all", |got| got.len() == 2).await?;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let skipped = receiver.at("skip");
    assert_eq!(skipped.len(), 1, "the integration's own ticket is skipped");
    assert_eq!(skipped[0].json()["data"]["title"], "From a person");
    app.stop().await
}

#[tokio::test]
async fn only_admins_register_endpoints_at_allowed_addresses() -> anyhow::Result<()> {
    let mut settings = settings();
    settings.allow_private_vendor_addresses = false;
    let app = TestApp::spawn_with(settings, true).await?;
    let harbor = app.client_admin_token();
    let member = app.token(
        "demo|harbor-it-tech",
        api::demo::CLIENT_IT_ADMIN.1,
        Role::Member,
    );
    let input = json!({ "input": { "url": "https://hooks.example.com/tandem", "eventTypes": ["TICKET_CREATED"] } });
    let (_, body) = app.graphql(Some(&member), CREATE, input.clone()).await?;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    let (_, body) = app
        .graphql(
            Some(&member),
            "{ webhookEndpoints { totalCount } }",
            Value::Null,
        )
        .await?;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );

    for url in [
        "http://hooks.example.com/tandem",
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest",
        "https://[::1]/hook",
        "https://10.1.2.3/hook",
        "ftp://hooks.example.com",
        "https://user:pass@hooks.example.com/",
    ] {
        let data = app
            .query(
                &harbor,
                CREATE,
                json!({ "input": { "url": url, "eventTypes": ["TICKET_CREATED"] } }),
            )
            .await?;
        let payload = &data["createWebhookEndpoint"];
        assert_eq!(
            payload["userErrors"][0]["field"],
            json!(["input", "url"]),
            "{url}: {payload}"
        );
        assert_eq!(payload["userErrors"][0]["code"], "INVALID", "{url}");
        assert_eq!(payload["secret"], Value::Null);
    }
    let data = app
        .query(
            &harbor,
            CREATE,
            json!({ "input": { "url": "https://hooks.example.com/tandem", "eventTypes": [] } }),
        )
        .await?;
    assert_eq!(
        data["createWebhookEndpoint"]["userErrors"][0]["code"],
        "REQUIRED"
    );
    assert_eq!(tests::count_rows(&app.db, "webhook_endpoints").await?, 0);

    let (id, secret) = endpoint(
        &app,
        &harbor,
        "https://hooks.example.com/tandem",
        &["TICKET_CREATED", "TICKET_CREATED", "ALERT_RAISED"],
        None,
    )
    .await?;
    let rotated = app
        .query(
            &harbor,
            "mutation($input: WebhookEndpointActionInput!) { rotateWebhookEndpointSecret(input: $input) { secret endpoint { eventTypes } } }",
            json!({ "input": { "id": id } }),
        )
        .await?;
    let new_secret = rotated["rotateWebhookEndpointSecret"]["secret"]
        .as_str()
        .unwrap_or_default();
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);
    assert_eq!(
        rotated["rotateWebhookEndpointSecret"]["endpoint"]["eventTypes"],
        json!(["ALERT_RAISED", "TICKET_CREATED"])
    );
    // The stored secret is sealed: neither secret is in the table in the clear.
    let stored = entities::webhook_endpoint::Entity::find()
        .all(&app.db)
        .await?;
    assert_eq!(stored.len(), 1);
    let sealed = String::from_utf8_lossy(&stored[0].secret_ciphertext).into_owned();
    assert!(!sealed.contains(new_secret) && !sealed.contains(&secret[6..]));
    let deleted = app
        .query(
            &harbor,
            "mutation($input: WebhookEndpointActionInput!) { deleteWebhookEndpoint(input: $input) { endpoint { deletedAt enabled } } }",
            json!({ "input": { "id": id } }),
        )
        .await?;
    assert_eq!(
        deleted["deleteWebhookEndpoint"]["endpoint"]["enabled"],
        false
    );
    let listed = app
        .query(&harbor, "{ webhookEndpoints { totalCount } }", Value::Null)
        .await?;
    assert_eq!(listed["webhookEndpoints"]["totalCount"], 0);
    app.stop().await
}

#[tokio::test]
async fn matrix_lifecycle_steps_emit_proposed_and_agreed() -> anyhow::Result<()> {
    let app = TestApp::spawn_with(settings(), true).await?;
    let receiver = Receiver::start().await?;
    let provider = app.provider_admin_token();
    let harbor = app.client_admin_token();
    endpoint(
        &app,
        &provider,
        &receiver.url("m"),
        &["RESPONSIBILITY_PROPOSED", "RESPONSIBILITY_AGREED"],
        None,
    )
    .await?;
    let data = app
        .query(&harbor, "{ environments(first: 1) { edges { node { id } } } systems(filter: { text: \"HHP-EHR-APP01\" }) { edges { node { id } } } }", Value::Null)
        .await?;
    let environment = data["environments"]["edges"][0]["node"]["id"].clone();
    let ehr = data["systems"]["edges"][0]["node"]["id"].clone();
    let internal_it = app
        .all_nodes(&harbor, "teams", "id name")
        .await?
        .into_iter()
        .find(|team| team["name"] == "Internal IT")
        .expect("Harbor's Internal IT")["id"]
        .clone();
    let created = app
        .query(
            &harbor,
            "mutation($input: CreateResponsibilityInput!) { createResponsibility(input: $input) { responsibility { id } userErrors { code } } }",
            json!({ "input": { "environmentId": environment, "function": "backup_recovery", "systemId": ehr, "responsibleTeamId": internal_it, "accountableTeamId": internal_it, "validFrom": "2027-01-01T00:00:00Z" } }),
        )
        .await?;
    let entry = created["createResponsibility"]["responsibility"]["id"].clone();
    for (token, step) in [
        (&harbor, "proposeResponsibility"),
        (&harbor, "approveResponsibility"),
        (&provider, "approveResponsibility"),
    ] {
        let data = app
            .query(
                token,
                &format!("mutation($input: ResponsibilityActionInput!) {{ {step}(input: $input) {{ userErrors {{ code }} }} }}"),
                json!({ "input": { "id": entry } }),
            )
            .await?;
        assert_eq!(data[step]["userErrors"], json!([]), "{step}: {data}");
    }
    receiver.wait("m", |got| got.len() == 2).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let bodies: Vec<Value> = receiver.at("m").iter().map(Received::json).collect();
    assert_eq!(
        bodies.len(),
        2,
        "a draft and a first approval emit nothing: {bodies:?}"
    );
    assert_eq!(bodies[0]["type"], "responsibility.proposed");
    assert_eq!(bodies[0]["data"]["status"], "PROPOSED");
    assert_eq!(bodies[1]["type"], "responsibility.agreed");
    assert_eq!(bodies[1]["data"]["status"], "AGREED");
    assert_eq!(bodies[1]["data"]["id"], entry);
    app.stop().await
}

#[tokio::test]
async fn a_failed_sync_run_reaches_its_organizations_endpoint() -> anyhow::Result<()> {
    let app = TestApp::spawn_with(settings(), true).await?;
    let receiver = Receiver::start().await?;
    let provider = app.provider_admin_token();
    let ninja = ninja(&app).await?;
    // Skipping the integration does not hide its failures: they are not data it wrote.
    endpoint(
        &app,
        &provider,
        &receiver.url("s"),
        &["SYNC_RUN_FAILED"],
        Some(&ninja),
    )
    .await?;
    let created = app
        .query(
            &provider,
            "mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { integration { id } userErrors { code } } }",
            json!({ "input": { "name": "Nowhere", "kind": "NINJAONE", "baseUrl": "http://127.0.0.1:9", "credentials": { "clientId": "a", "clientSecret": "b" } } }),
        )
        .await?;
    let integration = created["createIntegration"]["integration"]["id"].clone();
    let outcome = tests::sync_with(&app, tests::decode_uuid(&integration), &|_| {}).await;
    assert!(outcome.is_err(), "nothing listens on port 9");
    receiver.wait("s", |got| got.len() == 1).await?;
    let body = receiver.at("s")[0].json();
    assert_eq!(body["type"], "sync_run.failed");
    assert_eq!(body["data"]["status"], "FAILED");
    assert_eq!(body["data"]["integrationId"], integration);
    assert_eq!(body["environmentId"], Value::Null);
    app.stop().await
}

#[tokio::test]
async fn a_sync_runs_tickets_reach_the_outbox_even_when_a_page_is_written_record_by_record()
-> anyhow::Result<()> {
    use sea_orm::{ColumnTrait, QueryFilter};
    // No worker: the outbox and its deliveries are read from the database.
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let (endpoint_id, _) = endpoint(
        &app,
        &provider,
        "https://hooks.example.com/sync",
        &["TICKET_CREATED"],
        None,
    )
    .await?;
    let (server, id) = crate::sync::connectwise(&app, 6, 1000).await?;
    // The page is written again record by record when the database refuses one, and the
    // events of the records written must survive the rolled-back attempts.
    // A ticket the database refuses (a trigger stands in for a value a column cannot hold).
    let trigger = if app.test_db.is_postgres() {
        "CREATE FUNCTION wt_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.title = 'Refused' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$; \
         CREATE TRIGGER wt_refuse BEFORE INSERT ON tickets FOR EACH ROW EXECUTE FUNCTION wt_refuse();"
    } else {
        "CREATE TRIGGER wt_refuse BEFORE INSERT ON tickets WHEN NEW.title = 'Refused' \
         BEGIN SELECT RAISE(ABORT, 'refused'); END;"
    };
    sea_orm::ConnectionTrait::execute_unprepared(&app.db, trigger).await?;
    // Tickets go round companies 250, 251, 252 (unmapped): the fifth is the last mapped one.
    server.state.store().tickets[4]["summary"] = json!("Refused");
    // `tests::sync_with` runs without an event bus, as `tandem sync` does.
    let report = tests::sync_with(&app, id, &|_| {}).await?;
    assert_eq!(report.run.records_failed, 1, "{report:?}");
    let synced: Vec<uuid::Uuid> = entities::ticket::Entity::find()
        .filter(entities::ticket::Column::ExternalSource.like("CONNECTWISE_MANAGE:%"))
        .all(&app.db)
        .await?
        .into_iter()
        .map(|found| found.id)
        .collect();
    assert!(!synced.is_empty());
    let events = entities::outbox_event::Entity::find()
        .filter(entities::outbox_event::Column::EventType.eq("ticket.created"))
        .all(&app.db)
        .await?;
    let mut subjects: Vec<uuid::Uuid> = events.iter().map(|event| event.subject_id).collect();
    subjects.sort();
    let mut expected = synced.clone();
    expected.sort();
    assert_eq!(subjects, expected, "one ticket.created per synced ticket");
    assert!(
        events
            .iter()
            .all(|event| event.caused_by_integration_id == Some(id)),
        "caused by the integration"
    );
    let deliveries = entities::webhook_delivery::Entity::find()
        .filter(entities::webhook_delivery::Column::EndpointId.eq(tests::decode_uuid(&endpoint_id)))
        .all(&app.db)
        .await?;
    assert_eq!(deliveries.len(), synced.len());
    app.stop().await
}

#[tokio::test]
async fn escalations_reach_the_endpoints_that_want_them_once_each() -> anyhow::Result<()> {
    let app = TestApp::spawn_with(settings(), true).await?;
    let receiver = Receiver::start().await?;
    let provider = app.provider_admin_token();
    let (_, secret) = endpoint(
        &app,
        &provider,
        &receiver.url("escalations"),
        &["ALERT_ESCALATED", "TICKET_ESCALATED"],
        None,
    )
    .await?;
    // The demo's open items are overdue: one run of the engine escalates them (its own writes,
    // with no token behind them), and a second run at the same instant adds nothing.
    let now = chrono::Utc::now();
    let run = api::services::escalation::escalate_due(&app.db, None, now).await?;
    let again = api::services::escalation::escalate_due(&app.db, None, now).await?;
    let escalated = app.count("escalations").await?;
    assert!(escalated > 0, "{run:?}");
    assert_eq!(app.count("escalations").await?, escalated, "{again:?}");
    let expected = usize::try_from(escalated)?;
    receiver
        .wait("escalations", |got| got.len() >= expected)
        .await?;
    // Nothing more arrives: each escalation was delivered once.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let got = receiver.at("escalations");
    assert_eq!(got.len(), expected);
    assert!(got.iter().all(|found| verifies(&secret, found)));
    let bodies: Vec<Value> = got.iter().map(Received::json).collect();
    let ids: std::collections::HashSet<&str> = bodies
        .iter()
        .map(|body| body["data"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), expected, "one delivery per escalation");
    for body in &bodies {
        let kind = body["type"].as_str().unwrap();
        let subject = if kind == "alert.escalated" {
            "alertId"
        } else {
            assert_eq!(kind, "ticket.escalated");
            "ticketId"
        };
        assert!(body["data"][subject].is_string(), "{body}");
        assert!(body["data"]["position"].as_i64() >= Some(1), "{body}");
        assert!(body["data"]["reason"].is_string(), "{body}");
    }
    assert!(bodies.iter().any(|body| body["type"] == "alert.escalated"));
    app.stop().await
}

/// The deliveries of endpoint `endpoint`, read from the database.
async fn deliveries_of(
    app: &TestApp,
    endpoint: &Value,
) -> anyhow::Result<Vec<entities::webhook_delivery::Model>> {
    use sea_orm::{ColumnTrait, QueryFilter};
    Ok(entities::webhook_delivery::Entity::find()
        .filter(entities::webhook_delivery::Column::EndpointId.eq(tests::decode_uuid(endpoint)))
        .all(&app.db)
        .await?)
}

/// The worker's settings of a test server (whose own worker is off), for rounds run by hand.
fn worker_settings() -> anyhow::Result<api::outbox::worker::Settings> {
    let key = integrations::secrets::SecretKey::parse(tests::TEST_SECRET_KEY)?;
    let mut worker = test_server_settings().webhook_worker(Some(Arc::new(key)));
    // Far enough that a settled delivery is not due again while the test looks at it.
    worker.retry_base = Duration::from_secs(600);
    Ok(worker)
}

#[tokio::test]
async fn a_claim_made_on_a_stale_read_does_not_send_again_and_a_lost_lease_is_not_renewed()
-> anyhow::Result<()> {
    use api::outbox::worker;
    // No worker of the server's own: the rounds run here, one step at a time.
    let app = TestApp::spawn_with(test_server_settings(), true).await?;
    let receiver = Receiver::start().await?;
    receiver.script(|script| script.always_fail = true);
    let provider = app.provider_admin_token();
    let (id, _) = endpoint(
        &app,
        &provider,
        &receiver.url("r"),
        &["TICKET_CREATED"],
        None,
    )
    .await?;
    let environment = environment_of(&app, &app.client_admin_token()).await?;
    ticket(&app, &provider, &environment, "Read twice").await?;
    let settings = worker_settings()?;
    let client = reqwest::Client::new();

    // Server B reads the due delivery; meanwhile server A claims, attempts (500) and settles it.
    let stale = deliveries_of(&app, &id).await?.remove(0);
    assert_eq!(
        (stale.attempts, stale.status),
        (0, entities::enums::WebhookDeliveryStatus::Pending)
    );
    assert_eq!(worker::round(&app.db, &client, &settings, "a").await?, 1);
    assert_eq!(receiver.at("r").len(), 1);
    let settled = deliveries_of(&app, &id).await?.remove(0);
    assert_eq!(settled.attempts, 1);
    assert_eq!(settled.lease_owner, None);
    assert!(settled.next_attempt_at > Some(chrono::Utc::now()));

    // B's claim on what it read affects nothing: the delivery waits for its backoff.
    let now = chrono::Utc::now();
    let until = now + chrono::Duration::seconds(60);
    assert!(!worker::claim(&app.db, "b", &stale, now, until).await?);
    assert_eq!(worker::round(&app.db, &client, &settings, "b").await?, 0);
    let after = deliveries_of(&app, &id).await?.remove(0);
    assert_eq!(
        (after.attempts, after.lease_owner, after.next_attempt_at),
        (1, None, settled.next_attempt_at)
    );
    assert_eq!(receiver.at("r").len(), 1, "not sent again");

    // Once due, a fresh read claims it; the lease is renewed only by its holder while it lasts.
    sea_orm::ConnectionTrait::execute_unprepared(
        &app.db,
        "UPDATE webhook_deliveries SET next_attempt_at = created_at",
    )
    .await?;
    let fresh = deliveries_of(&app, &id).await?.remove(0);
    let now = chrono::Utc::now();
    assert!(
        worker::claim(
            &app.db,
            "b",
            &fresh,
            now,
            now + chrono::Duration::seconds(60)
        )
        .await?
    );
    assert!(
        !worker::claim(
            &app.db,
            "c",
            &fresh,
            now,
            now + chrono::Duration::seconds(60)
        )
        .await?
    );
    assert!(worker::renew(&app.db, &settings, "b", fresh.id).await?);
    assert!(!worker::renew(&app.db, &settings, "c", fresh.id).await?);
    sea_orm::ConnectionTrait::execute_unprepared(
        &app.db,
        "UPDATE webhook_deliveries SET lease_expires_at = created_at",
    )
    .await?;
    assert!(
        !worker::renew(&app.db, &settings, "b", fresh.id).await?,
        "an expired lease is lost"
    );
    assert_eq!(receiver.at("r").len(), 1);
    app.stop().await
}

#[tokio::test]
async fn an_ended_engagement_stops_pending_retries_to_the_providers_endpoint() -> anyhow::Result<()>
{
    let app = TestApp::spawn_with(settings(), true).await?;
    let receiver = Receiver::start().await?;
    receiver.script(|script| script.always_fail = true);
    let provider = app.provider_admin_token();
    let harbor = app.client_admin_token();
    let (id, _) = endpoint(
        &app,
        &provider,
        &receiver.url("provider"),
        &["TICKET_CREATED"],
        None,
    )
    .await?;
    let environment = environment_of(&app, &harbor).await?;
    ticket(&app, &harbor, &environment, "Before the engagement ends").await?;
    receiver.wait("provider", |got| !got.is_empty()).await?;

    let engagements = app
        .query(
            &harbor,
            "{ engagements(first: 10) { edges { node { id active } } } }",
            Value::Null,
        )
        .await?;
    let active = engagements["engagements"]["edges"]
        .as_array()
        .and_then(|edges| edges.iter().find(|edge| edge["node"]["active"] == true))
        .map(|edge| edge["node"]["id"].clone())
        .expect("Harbor has an active engagement");
    let (_, ended) = app
        .mutation(
            &provider,
            "endEngagement",
            "EndEngagementInput",
            &json!({ "id": active, "endsOn": chrono::Utc::now().date_naive().to_string() }),
            "engagement { active }",
        )
        .await?;
    assert_eq!(
        ended["data"]["endEngagement"]["engagement"]["active"], false,
        "{ended}"
    );

    let mut failed = None;
    for _ in 0..200 {
        let found = deliveries_of(&app, &id).await?.remove(0);
        if found.status != entities::enums::WebhookDeliveryStatus::Pending {
            failed = Some(found);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let failed = failed.expect("the pending delivery is settled");
    let sent = receiver.at("provider").len();
    assert_eq!(
        failed.status,
        entities::enums::WebhookDeliveryStatus::Failed
    );
    assert_eq!(
        failed.last_error.as_deref(),
        Some("the endpoint's organization may no longer see this event")
    );
    assert_eq!(failed.last_status, None);
    assert_eq!(
        usize::try_from(failed.attempts)?,
        sent + 1,
        "the last attempt sent nothing"
    );
    // Nothing more goes out to the provider.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.at("provider").len(), sent);
    app.stop().await
}

#[tokio::test]
async fn concurrent_creates_at_the_cap_leave_at_most_fifty_endpoints() -> anyhow::Result<()> {
    use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter};
    let app = TestApp::spawn_with(test_server_settings(), true).await?;
    let provider = app.provider_admin_token();
    for index in 0..49 {
        endpoint(
            &app,
            &provider,
            &format!("https://hooks.example.com/{index}"),
            &["TICKET_CREATED"],
            None,
        )
        .await?;
    }
    let creates = (0..4).map(|index| {
        app.query(
            &provider,
            CREATE,
            json!({ "input": { "url": format!("https://hooks.example.com/last-{index}"), "eventTypes": ["TICKET_CREATED"] } }),
        )
    });
    let answers = futures_util::future::try_join_all(creates).await?;
    let created = answers
        .iter()
        .filter(|data| data["createWebhookEndpoint"]["userErrors"] == json!([]))
        .count();
    assert_eq!(created, 1, "{answers:?}");
    for data in &answers {
        let errors = &data["createWebhookEndpoint"]["userErrors"];
        assert!(
            *errors == json!([])
                || *errors
                    == json!([{ "field": ["input", "url"], "code": "INVALID_STATE", "message": "an organization has at most 50 endpoints" }]),
            "{data}"
        );
    }
    let provider_id = entities::organization::Entity::find()
        .filter(entities::organization::Column::Slug.eq("northwind-msp"))
        .one(&app.db)
        .await?
        .expect("the provider")
        .id;
    let live = entities::webhook_endpoint::Entity::find()
        .filter(entities::webhook_endpoint::Column::OrganizationId.eq(provider_id))
        .filter(entities::webhook_endpoint::Column::DeletedAt.is_null())
        .count(&app.db)
        .await?;
    assert_eq!(live, 50);
    app.stop().await
}

#[tokio::test]
async fn an_alert_its_source_reports_resolved_reaches_alert_changed_and_the_outbox()
-> anyhow::Result<()> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let raised_at = chrono::Utc::now() - chrono::Duration::hours(1);
    let id = crate::escalation::raise(&app, "RESOLVED-AT-SOURCE", "HIGH", raised_at).await?;
    let mut socket = crate::subscriptions::connect(&app, &provider).await?;
    crate::subscriptions::subscribe(
        &mut socket,
        "a",
        "subscription { alertChanged { id status nextEscalationAt } }",
    )
    .await?;
    // The RMM reports it resolved through the bulk upsert.
    let (environment, device) = crate::escalation::harbor(&app).await?;
    let sync = app.token("demo|northwind-sync", "northwind-msp", Role::Integration);
    let data = app
        .query(
            &sync,
            "mutation($input: UpsertAlertsInput!) { upsertAlerts(input: $input) { results { outcome node { status } } userErrors { message } } }",
            json!({ "input": { "source": { "kind": "NINJAONE" }, "records": [
                { "externalId": "RESOLVED-AT-SOURCE", "environmentId": environment, "message": "Backup job failed (RESOLVED-AT-SOURCE)", "severity": "HIGH", "raisedAt": raised_at.to_rfc3339(), "systemExternalId": device, "functionKey": "backup_recovery", "resolved": true },
            ] } }),
        )
        .await?;
    assert_eq!(
        data["upsertAlerts"]["results"],
        json!([{ "outcome": "UPDATED", "node": { "status": "RESOLVED" } }]),
        "{data}"
    );
    let event = crate::subscriptions::next(&mut socket).await?;
    assert_eq!(
        event["payload"]["data"]["alertChanged"],
        json!({ "id": id, "status": "RESOLVED", "nextEscalationAt": null }),
        "{event}"
    );
    let outbox = entities::outbox_event::Entity::find()
        .filter(entities::outbox_event::Column::EventType.eq("alert.resolved"))
        .all(&app.db)
        .await?;
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    assert_eq!(outbox[0].subject_id, tests::decode_uuid(&id));
    app.stop().await
}
