//! Several servers on one PostgreSQL database (`api::events::fanout`): what is committed through
//! one server reaches the subscribers of the others, in commit order and within its tenant; a
//! rolled-back write reaches nobody; person changes drop the other servers' cached callers and
//! close their subscriptions; a listener whose connection is killed listens again.
//!
//! PostgreSQL only: SQLite serves one process, so on SQLite every test says so and passes.

use std::collections::BTreeSet;
use std::time::Duration;

use entities::enums::Role;
use futures_util::{SinkExt, StreamExt};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use serde_json::{Value, json};
use tests::{TestApp, decode_uuid, test_server_settings};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const FEED: &str = "subscription { changeLogEntryRecorded { summary } }";

/// Two servers on one demo database: `A`, and `B` started beside it with `settings`; None on
/// SQLite (with a note), where one process serves.
async fn two_servers(
    settings: api::config::ServerSettings,
) -> anyhow::Result<Option<(TestApp, TestApp)>> {
    if tests::POSTGRES_URL.is_none() {
        eprintln!(
            "skipped: events fan out across servers on PostgreSQL only (set TANDEM_TEST_DATABASE_URL)"
        );
        return Ok(None);
    }
    let a = TestApp::spawn_with_demo().await?;
    let b = a.spawn_beside(settings).await?;
    Ok(Some((a, b)))
}

/// Settings under which nothing but the fan-out can end a subscription or drop a cached caller
/// within a test: callers cached for ten minutes, keep-alive pings (and their rights checks)
/// every two minutes.
fn slow_to_notice() -> api::config::ServerSettings {
    let mut settings = test_server_settings();
    settings.caller_cache_ttl = Duration::from_secs(600);
    settings.ws_keepalive = Duration::from_secs(120);
    settings
}

async fn connect(app: &TestApp, token: &str) -> anyhow::Result<Socket> {
    let mut request =
        format!("{}/graphql/ws", app.address.replace("http://", "ws://")).into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    socket
        .send(Message::Text(
            json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } })
                .to_string()
                .into(),
        ))
        .await?;
    let ack = next(&mut socket).await?;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    Ok(socket)
}

/// The next JSON message (or the close frame as `{"type": "closed"}`), within 5 seconds.
async fn next(socket: &mut Socket) -> anyhow::Result<Value> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .map_err(|_| anyhow::anyhow!("no message within 5 s"))?
            .ok_or_else(|| anyhow::anyhow!("socket closed"))??;
        match message {
            Message::Text(text) => return Ok(serde_json::from_str(&text)?),
            Message::Close(frame) => {
                return Ok(
                    json!({ "type": "closed", "code": frame.as_ref().map(|frame| u16::from(frame.code)) }),
                );
            }
            _ => continue,
        }
    }
}

/// Asserts that nothing arrives on `socket` for half a second.
async fn quiet(socket: &mut Socket) {
    if let Ok(Some(message)) = tokio::time::timeout(Duration::from_millis(500), socket.next()).await
    {
        panic!("expected nothing more, got {message:?}");
    }
}

async fn subscribe(socket: &mut Socket, id: &str, query: &str) -> anyhow::Result<()> {
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

/// The summaries of the next `count` entries on `socket`.
async fn summaries(socket: &mut Socket, count: usize) -> anyhow::Result<Vec<String>> {
    let mut seen = Vec::new();
    while seen.len() < count {
        let event = next(socket).await?;
        assert_eq!(event["type"], "next", "{event}");
        seen.push(
            event["payload"]["data"]["changeLogEntryRecorded"]["summary"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    Ok(seen)
}

/// `recordChange` through `app`; returns the whole answer.
async fn record(
    app: &TestApp,
    token: &str,
    environment: &Value,
    summary: &str,
) -> anyhow::Result<Value> {
    let (status, body) = app
        .mutation(
            token,
            "recordChange",
            "RecordChangeInput",
            &json!({ "environmentId": environment, "summary": summary, "category": "OTHER" }),
            "changeLogEntry { id }",
        )
        .await?;
    assert_eq!(status, 200, "{body}");
    Ok(body)
}

/// `recordChange` that must be accepted; returns the entry's id.
async fn recorded(
    app: &TestApp,
    token: &str,
    environment: &Value,
    summary: &str,
) -> anyhow::Result<Value> {
    let body = record(app, token, environment, summary).await?;
    assert_eq!(
        body["data"]["recordChange"]["userErrors"],
        json!([]),
        "{body}"
    );
    Ok(body["data"]["recordChange"]["changeLogEntry"]["id"].clone())
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

fn cedar_token(app: &TestApp) -> String {
    app.token("demo|cedar-office", "cedar-pine", Role::Admin)
}

/// Creates the Harbor viewer `harbor|temp` through `app`; returns their id and a token.
async fn temp_person(app: &TestApp) -> anyhow::Result<(Value, String)> {
    let harbor = app.client_admin_token();
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
    let id = created["data"]["createPerson"]["person"]["id"].clone();
    assert!(id.is_string(), "{created}");
    let token = app.token("harbor|temp", api::demo::CLIENT_IT_ADMIN.1, Role::Viewer);
    Ok((id, token))
}

const VIEWER: &str = "{ viewer { role } }";

/// The error code `app` answers [`VIEWER`] with for `token` (null when it answers).
async fn refusal(app: &TestApp, token: &str) -> anyhow::Result<Value> {
    let (_, body) = app.graphql(Some(token), VIEWER, Value::Null).await?;
    Ok(body["errors"][0]["extensions"]["code"].clone())
}

/// The feed's error and close frame after its rights ended.
async fn assert_ended(socket: &mut Socket, id: &str, code: &str, close: u16) -> anyhow::Result<()> {
    let event = next(socket).await?;
    assert_eq!(event["id"], id, "{event}");
    assert_eq!(
        event["payload"]["errors"][0]["extensions"]["code"], code,
        "{event}"
    );
    assert!(event["payload"]["data"].is_null(), "nothing leaks: {event}");
    assert_eq!(next(socket).await?["type"], "complete");
    let closed = next(socket).await?;
    assert_eq!(closed["type"], "closed", "{closed}");
    assert_eq!(closed["code"], close, "{closed}");
    Ok(())
}

async fn notify(app: &TestApp, payload: &str) -> anyhow::Result<()> {
    app.db
        .execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [api::events::fanout::CHANNEL.into(), payload.into()],
        ))
        .await?;
    Ok(())
}

/// The backend pids of the servers' listening connections on `app`'s database.
async fn listener_pids(app: &TestApp) -> anyhow::Result<BTreeSet<i32>> {
    let rows = app
        .db
        .query_all_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'tandem fan-out %'",
        ))
        .await?;
    rows.iter()
        .map(|row| Ok(row.try_get::<i32>("", "pid")?))
        .collect()
}

#[tokio::test]
async fn a_subscriber_on_one_server_sees_what_another_commits_in_its_commit_order_and_tenant()
-> anyhow::Result<()> {
    let Some((a, b)) = two_servers(test_server_settings()).await? else {
        return Ok(());
    };
    let harbor = a.client_admin_token();
    let cedar = cedar_token(&a);
    let harbor_environment = environment_of(&a, &harbor).await?;
    let cedar_environment = environment_of(&a, &cedar).await?;
    let mut on_b = connect(&b, &harbor).await?;
    subscribe(&mut on_b, "c", FEED).await?;
    let mut tickets_on_b = connect(&b, &harbor).await?;
    subscribe(
        &mut tickets_on_b,
        "t",
        "subscription { ticketChanged { title status } }",
    )
    .await?;
    let mut cedar_on_b = connect(&b, &cedar).await?;
    subscribe(&mut cedar_on_b, "x", FEED).await?;
    let mut on_a = connect(&a, &harbor).await?;
    subscribe(&mut on_a, "a", FEED).await?;

    let mut expected = Vec::new();
    for change in 0..10 {
        if change == 5 {
            let created = a
                .query(
                    &harbor,
                    "mutation($input: CreateTicketInput!) { createTicket(input: $input) { ticket { id } } }",
                    json!({ "input": { "environmentId": harbor_environment, "title": "Badge reader" } }),
                )
                .await?;
            assert!(created["createTicket"]["ticket"]["id"].is_string());
            expected.push("Opened ticket: Badge reader".to_owned());
        }
        let summary = format!("change {change} through A");
        recorded(&a, &harbor, &harbor_environment, &summary).await?;
        expected.push(summary);
    }
    assert_eq!(summaries(&mut on_b, expected.len()).await?, expected);
    let ticket = next(&mut tickets_on_b).await?;
    assert_eq!(
        ticket["payload"]["data"]["ticketChanged"],
        json!({ "title": "Badge reader", "status": "NEW" }),
        "{ticket}"
    );
    // A's own subscriber had each of A's events once: A ignores its own notifications.
    assert_eq!(summaries(&mut on_a, expected.len()).await?, expected);
    quiet(&mut on_a).await;

    // The other way round, and another tenant's change reaches only that tenant.
    recorded(&b, &harbor, &harbor_environment, "through B").await?;
    assert_eq!(summaries(&mut on_a, 1).await?, ["through B"]);
    recorded(&a, &cedar, &cedar_environment, "Cedar change").await?;
    assert_eq!(
        summaries(&mut cedar_on_b, 1).await?,
        ["Cedar change"],
        "none of Harbor's changes reached Cedar"
    );
    assert_eq!(summaries(&mut on_b, 1).await?, ["through B"]);
    quiet(&mut on_b).await;
    b.stop().await?;
    a.stop().await
}

#[tokio::test]
async fn a_write_rolled_back_on_one_server_reaches_no_subscriber_anywhere() -> anyhow::Result<()> {
    let Some((a, b)) = two_servers(test_server_settings()).await? else {
        return Ok(());
    };
    // A check that fails only at COMMIT, after the write has sent its notification.
    a.db.execute_unprepared(
        "CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN IF NEW.summary LIKE 'ROLL BACK%' THEN RAISE EXCEPTION 'refused at commit'; END IF; \
         RETURN NULL; END $$; \
         CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON change_log_entries \
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit()",
    )
    .await?;
    let harbor = a.client_admin_token();
    let environment = environment_of(&a, &harbor).await?;
    let mut on_b = connect(&b, &harbor).await?;
    subscribe(&mut on_b, "b", FEED).await?;
    let mut on_a = connect(&a, &harbor).await?;
    subscribe(&mut on_a, "a", FEED).await?;

    let refused = record(&a, &harbor, &environment, "   ").await?;
    assert_eq!(
        refused["data"]["recordChange"]["userErrors"][0]["code"], "REQUIRED",
        "{refused}"
    );
    let failed = record(&a, &harbor, &environment, "ROLL BACK at commit").await?;
    assert_eq!(
        failed["errors"][0]["extensions"]["code"], "INTERNAL",
        "{failed}"
    );
    assert_eq!(
        a.count("change_log_entries WHERE summary LIKE 'ROLL BACK%'")
            .await?,
        0
    );
    recorded(&a, &harbor, &environment, "kept").await?;
    assert_eq!(summaries(&mut on_b, 1).await?, ["kept"]);
    assert_eq!(summaries(&mut on_a, 1).await?, ["kept"]);
    b.stop().await?;
    a.stop().await
}

#[tokio::test]
async fn a_person_deactivated_through_one_server_is_refused_by_another_at_once_and_closed_there()
-> anyhow::Result<()> {
    let Some((a, b)) = two_servers(slow_to_notice()).await? else {
        return Ok(());
    };
    let harbor = a.client_admin_token();
    let environment = environment_of(&a, &harbor).await?;
    let (id, temp) = temp_person(&a).await?;
    // B resolves and caches the caller, and opens their feed.
    assert_eq!(refusal(&b, &temp).await?, Value::Null);
    assert_eq!(refusal(&b, &temp).await?, Value::Null);
    let mut socket = connect(&b, &temp).await?;
    subscribe(&mut socket, "t", FEED).await?;
    recorded(&a, &harbor, &environment, "before the offboarding").await?;
    assert_eq!(summaries(&mut socket, 1).await?, ["before the offboarding"]);

    let (status, body) = a
        .mutation(
            &harbor,
            "updatePerson",
            "UpdatePersonInput",
            &json!({ "id": id, "active": false }),
            "person { active }",
        )
        .await?;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["updatePerson"]["person"]["active"], false,
        "{body}"
    );
    // No event follows and no ping is due: only A's announcement can end the feed on B.
    assert_ended(&mut socket, "t", "UNAUTHENTICATED", 4401).await?;
    // By then B's cached callers are gone: the ten-minute cache does not serve the leaver.
    assert_eq!(refusal(&b, &temp).await?, "UNAUTHENTICATED");
    b.stop().await?;
    a.stop().await
}

#[tokio::test]
async fn forged_notifications_neither_cross_tenants_nor_stop_the_listener() -> anyhow::Result<()> {
    let Some((a, b)) = two_servers(test_server_settings()).await? else {
        return Ok(());
    };
    let harbor = a.client_admin_token();
    let cedar = cedar_token(&a);
    let harbor_environment = environment_of(&a, &harbor).await?;
    let cedar_environment = environment_of(&a, &cedar).await?;
    let cedar_organization = decode_uuid(
        &a.query(&cedar, "{ viewer { organization { id } } }", Value::Null)
            .await?["viewer"]["organization"]["id"],
    );
    let mut harbor_on_b = connect(&b, &harbor).await?;
    subscribe(&mut harbor_on_b, "h", FEED).await?;
    let mut cedar_on_b = connect(&b, &cedar).await?;
    subscribe(&mut cedar_on_b, "c", FEED).await?;
    let secret = recorded(&a, &harbor, &harbor_environment, "Harbor only").await?;
    assert_eq!(summaries(&mut harbor_on_b, 1).await?, ["Harbor only"]);

    let stranger = uuid::Uuid::new_v4();
    for garbage in [
        "not json".to_owned(),
        "x".repeat(7_999),
        json!({ "from": stranger, "events": [{ "kind": "entry", "id": uuid::Uuid::new_v4(), "org": cedar_organization }] }).to_string(),
        json!({ "from": stranger, "events": [{ "kind": "nonsense" }] }).to_string(),
        json!({ "from": stranger, "events": "9999-12-31T23:59:59Z" }).to_string(),
    ] {
        notify(&a, &garbage).await?;
    }
    // Harbor's entry, claimed for Cedar: the owner is read from the database, not the payload.
    notify(
        &a,
        &json!({ "from": stranger, "events": [{ "kind": "entry", "id": decode_uuid(&secret), "org": cedar_organization }] }).to_string(),
    )
    .await?;
    assert_eq!(
        summaries(&mut harbor_on_b, 1).await?,
        ["Harbor only"],
        "the listener survived the garbage and gave the entry to its own tenant"
    );
    recorded(&a, &cedar, &cedar_environment, "Cedar change").await?;
    assert_eq!(
        summaries(&mut cedar_on_b, 1).await?,
        ["Cedar change"],
        "Harbor's entry never reached Cedar"
    );
    b.stop().await?;
    a.stop().await
}

#[tokio::test]
async fn a_listener_whose_connection_is_killed_listens_again_and_drops_what_it_may_have_missed()
-> anyhow::Result<()> {
    let Some((a, b)) = two_servers(slow_to_notice()).await? else {
        return Ok(());
    };
    let harbor = a.client_admin_token();
    let environment = environment_of(&a, &harbor).await?;
    let (_, temp) = temp_person(&a).await?;
    assert_eq!(refusal(&b, &temp).await?, Value::Null);
    let mut temp_on_b = connect(&b, &temp).await?;
    subscribe(&mut temp_on_b, "t", FEED).await?;
    let mut harbor_on_b = connect(&b, &harbor).await?;
    subscribe(&mut harbor_on_b, "h", FEED).await?;

    // Edited by hand: no server hears of it, and B keeps serving its cached caller.
    a.db.execute_unprepared("UPDATE people SET active = false WHERE subject = 'harbor|temp'")
        .await?;
    assert_eq!(refusal(&b, &temp).await?, Value::Null);

    let killed = listener_pids(&a).await?;
    assert_eq!(killed.len(), 2, "one listening connection per server");
    for pid in &killed {
        a.db.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_terminate_backend($1)",
            [(*pid).into()],
        ))
        .await?;
    }
    // Once listening again, B says it may have missed events: its subscribers recheck their
    // rights and its cached callers are dropped.
    assert_ended(&mut temp_on_b, "t", "UNAUTHENTICATED", 4401).await?;
    assert_eq!(refusal(&b, &temp).await?, "UNAUTHENTICATED");

    recorded(&a, &harbor, &environment, "after the reconnect").await?;
    assert_eq!(
        summaries(&mut harbor_on_b, 1).await?,
        ["after the reconnect"]
    );
    let mut listening = listener_pids(&a).await?;
    for _ in 0..50 {
        if listening.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        listening = listener_pids(&a).await?;
    }
    assert_eq!(listening.len(), 2, "both servers listen again");
    assert!(listening.is_disjoint(&killed), "{listening:?} {killed:?}");
    b.stop().await?;
    a.stop().await
}

/// Records "`server` 0" to "`server` 9" through `app`, one after another.
async fn write_ten(
    app: &TestApp,
    token: &str,
    environment: &Value,
    server: &str,
) -> anyhow::Result<()> {
    for change in 0..10 {
        recorded(app, token, environment, &format!("{server} {change}")).await?;
    }
    Ok(())
}

#[tokio::test]
async fn two_servers_writing_at_once_deliver_every_entry_once_to_both_in_each_servers_order()
-> anyhow::Result<()> {
    let Some((a, b)) = two_servers(test_server_settings()).await? else {
        return Ok(());
    };
    let harbor = a.client_admin_token();
    let environment = environment_of(&a, &harbor).await?;
    let mut on_a = connect(&a, &harbor).await?;
    subscribe(&mut on_a, "a", FEED).await?;
    let mut on_b = connect(&b, &harbor).await?;
    subscribe(&mut on_b, "b", FEED).await?;
    let (through_a, through_b) = tokio::join!(
        write_ten(&a, &harbor, &environment, "A"),
        write_ten(&b, &harbor, &environment, "B")
    );
    through_a?;
    through_b?;
    for socket in [&mut on_a, &mut on_b] {
        let seen = summaries(socket, 20).await?;
        for server in ["A", "B"] {
            let mine: Vec<&String> = seen
                .iter()
                .filter(|summary| summary.starts_with(server))
                .collect();
            let expected: Vec<String> =
                (0..10).map(|change| format!("{server} {change}")).collect();
            assert_eq!(
                mine,
                expected.iter().collect::<Vec<_>>(),
                "each server's entries once, in its order: {seen:?}"
            );
        }
        quiet(socket).await;
    }
    b.stop().await?;
    a.stop().await
}
