//! Subscriptions over graphql-transport-ws: the token in `connection_init`, tenancy on every
//! event, and only committed writes.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tests::TestApp;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn open(app: &TestApp, payload: Value) -> anyhow::Result<Socket> {
    let mut request =
        format!("{}/graphql/ws", app.address.replace("http://", "ws://")).into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await?;
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "graphql-transport-ws"
    );
    socket
        .send(Message::Text(
            json!({ "type": "connection_init", "payload": payload })
                .to_string()
                .into(),
        ))
        .await?;
    Ok(socket)
}

pub(crate) async fn connect(app: &TestApp, token: &str) -> anyhow::Result<Socket> {
    let mut socket = open(app, json!({ "Authorization": format!("Bearer {token}") })).await?;
    let ack = next(&mut socket).await?;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    Ok(socket)
}

/// The next JSON message, within 5 seconds.
pub(crate) async fn next(socket: &mut Socket) -> anyhow::Result<Value> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .map_err(|_| anyhow::anyhow!("no message within 5 s"))?
            .ok_or_else(|| anyhow::anyhow!("socket closed"))??;
        match message {
            Message::Text(text) => return Ok(serde_json::from_str(&text)?),
            Message::Close(frame) => {
                return Ok(
                    json!({ "type": "closed", "code": frame.as_ref().map(|frame| u16::from(frame.code)), "reason": frame.map(|frame| frame.reason.to_string()) }),
                );
            }
            _ => continue,
        }
    }
}

pub(crate) async fn subscribe(socket: &mut Socket, id: &str, query: &str) -> anyhow::Result<()> {
    socket
        .send(Message::Text(
            json!({ "id": id, "type": "subscribe", "payload": { "query": query } })
                .to_string()
                .into(),
        ))
        .await?;
    // Give the server a moment to register the subscription before events are produced.
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(())
}

pub(crate) async fn record(
    app: &TestApp,
    token: &str,
    environment: &Value,
    summary: &str,
) -> anyhow::Result<Value> {
    let data = app
        .query(
            token,
            "mutation($input: RecordChangeInput!) { recordChange(input: $input) { changeLogEntry { id } userErrors { code } } }",
            json!({ "input": { "environmentId": environment, "summary": summary, "category": "OTHER" } }),
        )
        .await?;
    Ok(data["recordChange"].clone())
}

pub(crate) async fn environment_of(app: &TestApp, token: &str) -> anyhow::Result<Value> {
    Ok(app
        .query(
            token,
            "{ environments(first: 1) { edges { node { id } } } }",
            Value::Null,
        )
        .await?["environments"]["edges"][0]["node"]["id"]
        .clone())
}

#[tokio::test]
async fn change_log_events_reach_only_their_tenant_and_only_after_commit() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let harbor = app.client_admin_token();
    let cedar = app.token(
        "demo|cedar-office",
        "cedar-pine",
        entities::enums::Role::Admin,
    );
    let harbor_environment = environment_of(&app, &harbor).await?;
    let cedar_environment = environment_of(&app, &cedar).await?;

    let query = "subscription { changeLogEntryRecorded { summary source environment { id } actor { displayName } } }";
    let mut harbor_socket = connect(&app, &harbor).await?;
    subscribe(&mut harbor_socket, "h", query).await?;
    let mut cedar_socket = connect(&app, &cedar).await?;
    subscribe(&mut cedar_socket, "c", query).await?;

    // A refused write publishes nothing.
    let refused = record(&app, &provider, &harbor_environment, "   ").await?;
    assert_eq!(refused["userErrors"][0]["code"], "REQUIRED");
    record(&app, &provider, &harbor_environment, "Harbor change").await?;
    record(&app, &provider, &cedar_environment, "Cedar change").await?;

    let event = next(&mut harbor_socket).await?;
    assert_eq!(event["type"], "next", "{event}");
    assert_eq!(event["id"], "h");
    assert_eq!(
        event["payload"]["data"]["changeLogEntryRecorded"]["summary"],
        "Harbor change"
    );
    assert_eq!(
        event["payload"]["data"]["changeLogEntryRecorded"]["actor"]["displayName"],
        "Morgan Reyes"
    );
    // Cedar's first event is its own: Harbor's change never reached it.
    let event = next(&mut cedar_socket).await?;
    assert_eq!(
        event["payload"]["data"]["changeLogEntryRecorded"]["summary"], "Cedar change",
        "{event}"
    );
    app.stop().await
}

#[tokio::test]
async fn ticket_events_follow_the_filter() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let environment = environment_of(&app, &harbor).await?;
    let mut socket = connect(&app, &harbor).await?;
    subscribe(
        &mut socket,
        "t",
        "subscription { ticketChanged(filter: { statuses: [RESOLVED] }) { title status } }",
    )
    .await?;
    let created = app
        .query(
            &harbor,
            "mutation($input: CreateTicketInput!) { createTicket(input: $input) { ticket { id } } }",
            json!({ "input": { "environmentId": environment, "title": "Badge reader" } }),
        )
        .await?;
    let ticket = &created["createTicket"]["ticket"]["id"];
    app.query(
        &harbor,
        "mutation($input: ChangeTicketStatusInput!) { changeTicketStatus(input: $input) { ticket { status } } }",
        json!({ "input": { "id": ticket, "status": "RESOLVED" } }),
    )
    .await?;
    let event = next(&mut socket).await?;
    assert_eq!(
        event["payload"]["data"]["ticketChanged"],
        json!({ "title": "Badge reader", "status": "RESOLVED" }),
        "the NEW ticket was filtered out: {event}"
    );
    app.stop().await
}

#[tokio::test]
async fn a_bad_token_closes_the_connection() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    for (payload, reason) in [
        (json!({}), "missing `Authorization: Bearer <token>` header"),
        (
            json!({ "Authorization": "Bearer nope" }),
            "token is malformed",
        ),
    ] {
        let mut socket = open(&app, payload).await?;
        let closed = next(&mut socket).await?;
        assert_eq!(closed["type"], "closed", "{closed}");
        // graphql-transport-ws: 4401 for a caller who is not authenticated, with the reason.
        assert_eq!(closed["code"], 4401);
        assert_eq!(closed["reason"], reason);
    }
    app.stop().await
}

#[tokio::test]
async fn new_alerts_from_a_sync_job_are_pushed_once() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let environment = environment_of(&app, &harbor).await?;
    let mut socket = connect(&app, &harbor).await?;
    subscribe(&mut socket, "a", "subscription { alertRaised(filter: { severities: [CRITICAL] }) { message severity externalIds { externalId } } }").await?;
    let sync = app.token(
        "demo|northwind-sync",
        "northwind-msp",
        entities::enums::Role::Integration,
    );
    let upsert = "mutation($input: UpsertAlertsInput!) { upsertAlerts(input: $input) { counts { created unchanged } } }";
    let alert = |id: &str, severity: &str| json!({ "externalId": id, "environmentId": environment, "message": format!("{severity} alert {id}"), "severity": severity, "raisedAt": "2026-11-27T06:00:00Z" });
    let input = json!({ "input": { "source": { "kind": "NINJAONE" }, "records": [alert("a-1", "LOW"), alert("a-2", "CRITICAL")] } });
    let data = app.query(&sync, upsert, input.clone()).await?;
    assert_eq!(
        data["upsertAlerts"]["counts"],
        json!({ "created": 2, "unchanged": 0 })
    );
    // Resending raises nothing new.
    let data = app.query(&sync, upsert, input).await?;
    assert_eq!(
        data["upsertAlerts"]["counts"],
        json!({ "created": 0, "unchanged": 2 })
    );
    let data = app
        .query(
            &sync,
            upsert,
            json!({ "input": { "source": { "kind": "NINJAONE" }, "records": [alert("a-3", "CRITICAL")] } }),
        )
        .await?;
    assert_eq!(data["upsertAlerts"]["counts"]["created"], 1);

    let event = next(&mut socket).await?;
    assert_eq!(
        event["payload"]["data"]["alertRaised"]["externalIds"][0]["externalId"], "a-2",
        "the LOW alert was filtered: {event}"
    );
    let event = next(&mut socket).await?;
    assert_eq!(
        event["payload"]["data"]["alertRaised"]["externalIds"][0]["externalId"], "a-3",
        "the resend raised nothing: {event}"
    );
    app.stop().await
}

/// Asserts that `socket` receives nothing for `wait`.
async fn quiet(socket: &mut Socket, wait: Duration) -> anyhow::Result<()> {
    match tokio::time::timeout(wait, socket.next()).await {
        Err(_) => Ok(()),
        Ok(message) => anyhow::bail!("expected silence, got {message:?}"),
    }
}

/// The next messages after the feed's rights ended: an error with `code`, then `complete`, then
/// the connection's close frame with `close`.
async fn assert_ended(socket: &mut Socket, id: &str, code: &str, close: u16) -> anyhow::Result<()> {
    let event = next(socket).await?;
    assert_eq!(event["id"], id, "{event}");
    assert_eq!(
        event["payload"]["errors"][0]["extensions"]["code"], code,
        "{event}"
    );
    assert!(event["payload"]["data"].is_null(), "nothing leaks: {event}");
    let complete = next(socket).await?;
    assert_eq!(complete["type"], "complete", "{complete}");
    let closed = next(socket).await?;
    assert_eq!(closed["type"], "closed", "{closed}");
    assert_eq!(closed["code"], close, "{closed}");
    assert!(
        closed["reason"]
            .as_str()
            .is_some_and(|reason| !reason.is_empty()),
        "{closed}"
    );
    Ok(())
}

/// Ends Harbor's active engagement today, as `actor`; returns the mutation's answer.
pub(crate) async fn end_harbors_engagement(app: &TestApp, actor: &str) -> anyhow::Result<Value> {
    let engagements = app
        .query(
            &app.client_admin_token(),
            "{ engagements(first: 10) { edges { node { id active } } } }",
            Value::Null,
        )
        .await?;
    let active = engagements["engagements"]["edges"]
        .as_array()
        .and_then(|edges| edges.iter().find(|edge| edge["node"]["active"] == true))
        .map(|edge| edge["node"]["id"].clone())
        .expect("Harbor has an active engagement");
    let today = chrono::Utc::now().date_naive().to_string();
    let (_, ended) = app
        .mutation(
            actor,
            "endEngagement",
            "EndEngagementInput",
            &json!({ "id": active, "endsOn": today }),
            "engagement { active }",
        )
        .await?;
    Ok(ended)
}

const FEED: &str = "subscription { changeLogEntryRecorded { summary } }";

#[tokio::test]
async fn a_feed_ends_when_its_token_expires() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let environment = environment_of(&app, &harbor).await?;
    let short = app.token_valid_for(
        api::demo::CLIENT_IT_ADMIN.0,
        api::demo::CLIENT_IT_ADMIN.1,
        entities::enums::Role::Admin,
        Duration::from_secs(2),
    );
    let mut socket = connect(&app, &short).await?;
    subscribe(&mut socket, "s", FEED).await?;
    record(&app, &harbor, &environment, "while the token is valid").await?;
    let event = next(&mut socket).await?;
    assert_eq!(
        event["payload"]["data"]["changeLogEntryRecorded"]["summary"],
        "while the token is valid"
    );
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    record(&app, &harbor, &environment, "after the token expired").await?;
    assert_ended(&mut socket, "s", "UNAUTHENTICATED", 4401).await?;
    app.stop().await
}

#[tokio::test]
async fn a_deactivated_person_stops_receiving_events() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let environment = environment_of(&app, &harbor).await?;
    let organization = app
        .query(&harbor, "{ viewer { organization { id } } }", Value::Null)
        .await?["viewer"]["organization"]["id"]
        .clone();
    let (_, created) = app
        .mutation(
            &harbor,
            "createPerson",
            "CreatePersonInput",
            &json!({ "organizationId": organization, "subject": "harbor|temp", "displayName": "Temp", "role": "VIEWER" }),
            "person { id }",
        )
        .await?;
    let temp = app.token(
        "harbor|temp",
        api::demo::CLIENT_IT_ADMIN.1,
        entities::enums::Role::Viewer,
    );
    let mut socket = connect(&app, &temp).await?;
    subscribe(&mut socket, "t", FEED).await?;
    record(&app, &harbor, &environment, "before the offboarding").await?;
    let event = next(&mut socket).await?;
    assert_eq!(event["type"], "next", "{event}");
    app.mutation(
        &harbor,
        "updatePerson",
        "UpdatePersonInput",
        &json!({ "id": created["data"]["createPerson"]["person"]["id"], "active": false }),
        "person { active }",
    )
    .await?;
    tokio::time::sleep(api::graphql::subscription::REAUTHORIZE_AFTER).await;
    record(&app, &harbor, &environment, "after the offboarding").await?;
    assert_ended(&mut socket, "t", "UNAUTHENTICATED", 4401).await?;
    app.stop().await
}

#[tokio::test]
async fn a_provider_whose_engagement_ended_stops_receiving_the_clients_changes()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let harbor = app.client_admin_token();
    let environment = environment_of(&app, &harbor).await?;
    let mut socket = connect(&app, &provider).await?;
    subscribe(&mut socket, "p", FEED).await?;
    record(&app, &harbor, &environment, "while engaged").await?;
    let event = next(&mut socket).await?;
    assert_eq!(
        event["payload"]["data"]["changeLogEntryRecorded"]["summary"],
        "while engaged"
    );
    let ended = end_harbors_engagement(&app, &provider).await?;
    assert_eq!(
        ended["data"]["endEngagement"]["engagement"]["active"], false,
        "{ended}"
    );
    tokio::time::sleep(api::graphql::subscription::REAUTHORIZE_AFTER).await;
    record(
        &app,
        &harbor,
        &environment,
        "CLIENT PRIVATE change after the MSP left",
    )
    .await?;
    assert_ended(&mut socket, "p", "FORBIDDEN", 4403).await?;
    app.stop().await
}

/// A server that pings (and rechecks rights) every `keepalive`.
async fn spawn_with_keepalive(keepalive: Duration) -> anyhow::Result<TestApp> {
    let mut settings = tests::test_server_settings();
    settings.ws_keepalive = keepalive;
    TestApp::spawn_with(settings, true).await
}

/// The close frame that ends the connection, skipping anything before it (within 5 s).
async fn closed(socket: &mut Socket) -> anyhow::Result<Value> {
    loop {
        let message = next(socket).await?;
        if message["type"] == "closed" {
            return Ok(message);
        }
    }
}

#[tokio::test]
async fn rights_that_end_without_any_event_close_the_connection() -> anyhow::Result<()> {
    let app = spawn_with_keepalive(Duration::from_millis(300)).await?;
    let short = app.token_valid_for(
        api::demo::CLIENT_IT_ADMIN.0,
        api::demo::CLIENT_IT_ADMIN.1,
        entities::enums::Role::Admin,
        Duration::from_secs(2),
    );
    let mut socket = connect(&app, &short).await?;
    subscribe(&mut socket, "s", FEED).await?;
    let started = std::time::Instant::now();
    let expired = closed(&mut socket).await?;
    assert_eq!(expired["code"], 4401, "{expired}");
    assert!(
        expired["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("expired")),
        "{expired}"
    );
    // Expiry is checked at each ping: closed within one interval of it.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );

    // An engagement that ends while nothing happens: 4403 at the next ping.
    let provider = app.provider_admin_token();
    let mut socket = connect(&app, &provider).await?;
    subscribe(&mut socket, "p", FEED).await?;
    end_harbors_engagement(&app, &provider).await?;
    let ended = closed(&mut socket).await?;
    assert_eq!(ended["code"], 4403, "{ended}");
    app.stop().await
}

#[tokio::test]
async fn the_server_pings_and_drops_clients_that_stop_answering() -> anyhow::Result<()> {
    let app = spawn_with_keepalive(Duration::from_millis(200)).await?;
    let token = app.client_admin_token();

    // A client that reads (and so answers pings, as browsers do) stays connected.
    let mut socket = connect(&app, &token).await?;
    subscribe(&mut socket, "s", FEED).await?;
    let mut pings = 0;
    let until = tokio::time::Instant::now() + Duration::from_millis(1_200);
    while let Ok(message) = tokio::time::timeout_at(until, socket.next()).await {
        match message.transpose()? {
            Some(Message::Ping(_)) => pings += 1,
            Some(Message::Close(frame)) => anyhow::bail!("closed a live client: {frame:?}"),
            Some(other) => anyhow::bail!("unexpected {other:?}"),
            None => anyhow::bail!("socket ended"),
        }
    }
    assert!(pings >= 3, "{pings} pings in 1.2 s at a 200 ms interval");
    let environment = environment_of(&app, &token).await?;
    record(&app, &token, &environment, "still subscribed").await?;
    let event = next(&mut socket).await?;
    assert_eq!(
        event["payload"]["data"]["changeLogEntryRecorded"]["summary"],
        "still subscribed"
    );

    // A client that stops reading answers no ping: dropped after two intervals.
    let mut silent = connect(&app, &token).await?;
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let dropped = closed(&mut silent).await?;
    assert_eq!(dropped["code"], 1001, "{dropped}");
    app.stop().await
}

#[tokio::test]
async fn protocol_errors_close_with_graphql_transport_ws_codes() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    // `subscribe` before `connection_init`: 4401.
    let mut request =
        format!("{}/graphql/ws", app.address.replace("http://", "ws://")).into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    socket
        .send(Message::Text(
            json!({ "id": "1", "type": "subscribe", "payload": { "query": FEED } })
                .to_string()
                .into(),
        ))
        .await?;
    assert_eq!(closed(&mut socket).await?["code"], 4401);

    // A message that is not the protocol's: 4400.
    let mut socket = connect(&app, &app.client_admin_token()).await?;
    socket
        .send(Message::Text("{\"type\": \"nonsense\"}".into()))
        .await?;
    assert_eq!(closed(&mut socket).await?["code"], 4400);

    // A token whose role its subject does not hold: authenticated, not allowed (4403).
    let harbor = app.client_admin_token();
    let organization = app
        .query(&harbor, "{ viewer { organization { id } } }", Value::Null)
        .await?["viewer"]["organization"]["id"]
        .clone();
    app.mutation(
        &harbor,
        "createPerson",
        "CreatePersonInput",
        &json!({ "organizationId": organization, "subject": "harbor|reader", "displayName": "Reader", "role": "VIEWER" }),
        "person { id }",
    )
    .await?;
    let overreach = app.token(
        "harbor|reader",
        api::demo::CLIENT_IT_ADMIN.1,
        entities::enums::Role::Admin,
    );
    let mut socket = open(
        &app,
        json!({ "Authorization": format!("Bearer {overreach}") }),
    )
    .await?;
    let refused = closed(&mut socket).await?;
    assert_eq!(refused["code"], 4403, "{refused}");

    // No subprotocol offered: a plain 400 before any upgrade.
    let request =
        format!("{}/graphql/ws", app.address.replace("http://", "ws://")).into_client_request()?;
    let error = tokio_tungstenite::connect_async(request).await.unwrap_err();
    assert!(error.to_string().contains("400"), "{error}");
    app.stop().await
}

#[tokio::test]
async fn a_subscribe_nested_thousands_deep_is_refused_and_the_connection_lives()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.client_admin_token();
    let mut socket = connect(&app, &token).await?;
    let list = format!("{}\"x\"{}", "[".repeat(1_800), "]".repeat(1_800));
    subscribe(
        &mut socket,
        "deep",
        &format!("subscription {{ changeLogEntryRecorded(filter: {{ environmentIds: {list} }}) {{ summary }} }}"),
    )
    .await?;
    let refused = next(&mut socket).await?;
    // async-graphql sends a request error as `next` with `errors`, then `complete`.
    assert_eq!(refused["id"], "deep");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "VALUE_TOO_DEEP",
        "{refused}"
    );
    assert_eq!(next(&mut socket).await?["type"], "complete");

    subscribe(&mut socket, "ok", FEED).await?;
    let environment = environment_of(&app, &token).await?;
    record(&app, &token, &environment, "after the refusal").await?;
    let event = next(&mut socket).await?;
    assert_eq!(event["id"], "ok", "{event}");
    assert_eq!(
        event["payload"]["data"]["changeLogEntryRecorded"]["summary"],
        "after the refusal"
    );
    quiet(&mut socket, Duration::from_millis(200)).await?;
    app.stop().await
}

#[tokio::test]
async fn a_connection_is_bounded_in_time_to_authenticate_and_in_operations() -> anyhow::Result<()> {
    let app = spawn_with_keepalive(Duration::from_millis(200)).await?;
    // No `connection_init`: closed with 4408 after two keep-alive intervals.
    let mut request =
        format!("{}/graphql/ws", app.address.replace("http://", "ws://")).into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    let (mut silent, _) = tokio_tungstenite::connect_async(request).await?;
    let timeout = closed(&mut silent).await?;
    assert_eq!(timeout["code"], 4408, "{timeout}");

    // A second operation under a running id: 4409.
    let token = app.client_admin_token();
    let mut socket = connect(&app, &token).await?;
    subscribe(&mut socket, "same", FEED).await?;
    subscribe(&mut socket, "same", FEED).await?;
    let duplicate = closed(&mut socket).await?;
    assert_eq!(duplicate["code"], 4409, "{duplicate}");

    // More operations at once than a connection may run: 4400, naming the limit.
    let mut socket = connect(&app, &token).await?;
    for number in 0..=api::http::ws::MAX_OPERATIONS {
        socket
            .send(Message::Text(
                json!({ "id": format!("s{number}"), "type": "subscribe", "payload": { "query": FEED } })
                    .to_string()
                    .into(),
            ))
            .await?;
    }
    let crowded = closed(&mut socket).await?;
    assert_eq!(crowded["code"], 4400, "{crowded}");
    assert!(
        crowded["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("at most 100")),
        "{crowded}"
    );

    // Operations that completed free their place: a query completes at once.
    let mut socket = connect(&app, &token).await?;
    for number in 0..=api::http::ws::MAX_OPERATIONS {
        socket
            .send(Message::Text(
                json!({ "id": "q", "type": "subscribe", "payload": { "query": "subscription { changeLogEntryRecorded(filter: { environmentIds: [\"bogus\"] }) { summary } }" } })
                    .to_string()
                    .into(),
            ))
            .await?;
        let refused = next(&mut socket).await?;
        assert_eq!(refused["id"], "q", "{refused} after {number}");
        let complete = next(&mut socket).await?;
        assert_eq!(complete["type"], "complete", "{complete}");
    }
    app.stop().await
}

#[tokio::test]
async fn an_ended_engagement_stops_both_sides_before_the_next_event_without_waiting()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let harbor = app.client_admin_token();
    let environment = environment_of(&app, &harbor).await?;
    let mut msp = connect(&app, &provider).await?;
    subscribe(&mut msp, "p", FEED).await?;
    let mut client = connect(&app, &harbor).await?;
    subscribe(&mut client, "c", FEED).await?;
    // An event just now: both standings are fresh, so only the announcement can stop them.
    record(&app, &harbor, &environment, "while engaged").await?;
    assert_eq!(next(&mut msp).await?["type"], "next");
    assert_eq!(next(&mut client).await?["type"], "next");

    end_harbors_engagement(&app, &harbor).await?;
    // No pause: the next change is private to the client.
    record(
        &app,
        &harbor,
        &environment,
        "CLIENT PRIVATE change after the MSP left",
    )
    .await?;
    assert_ended(&mut msp, "p", "FORBIDDEN", 4403).await?;
    // The client's connection could see the provider's people: it ends too.
    assert_ended(&mut client, "c", "FORBIDDEN", 4403).await?;
    app.stop().await
}

/// A sync job's feed ends as soon as its integration is deleted: the token names an integration
/// that no longer exists, before any later event reaches it.
#[tokio::test]
async fn a_feed_of_an_integration_token_ends_when_the_integration_is_deleted() -> anyhow::Result<()>
{
    let app = TestApp::spawn_with_demo().await?;
    let (_server, integration) = crate::sync::connectwise(&app, 1, 1000).await?;
    let provider = app.provider_admin_token();
    let harbor = app.client_admin_token();
    let environment = environment_of(&app, &harbor).await?;
    let robot = app.integration_token("demo|northwind-sync", "northwind-msp", integration);
    let mut socket = connect(&app, &robot).await?;
    subscribe(&mut socket, "s", FEED).await?;
    record(&app, &harbor, &environment, "while the integration lives").await?;
    assert_eq!(next(&mut socket).await?["type"], "next");

    let deleted = app
        .query(
            &provider,
            "mutation($id: ID!) { deleteIntegration(input: { id: $id }) { userErrors { code } } }",
            json!({ "id": api::graphql::ids::encode(api::graphql::ids::NodeType::Integration, integration).0 }),
        )
        .await?;
    assert_eq!(deleted["deleteIntegration"]["userErrors"], json!([]));
    // No pause: the change right after the delete must not reach the deleted integration's feed.
    record(
        &app,
        &harbor,
        &environment,
        "after the integration was deleted",
    )
    .await?;
    assert_ended(&mut socket, "s", "UNAUTHENTICATED", 4401).await?;
    app.stop().await
}
