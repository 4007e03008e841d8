//! Resuming subscriptions (`api::events::resume`): every event carries its resume token in
//! `extensions.eventId`; a subscriber that reconnects with `after: <last token>` gets exactly what
//! it missed, in commit order, then the live events; a token it cannot resume from (garbage,
//! unknown, another tenant's, one whose rights ended, too many missed) is refused with
//! `RESYNC_REQUIRED` and reveals nothing.

use std::collections::BTreeSet;
use std::time::Duration;

use entities::outbox_event;
use futures_util::StreamExt;
use sea_orm::prelude::*;
use sea_orm::{EntityTrait, QueryFilter};
use serde_json::json;
use tests::TestApp;
use tokio_tungstenite::tungstenite::Message;

use crate::subscriptions::{
    Socket, connect, end_harbors_engagement, environment_of, next, record, subscribe,
};

/// The change log feed, resuming after `after` when given.
fn feed(after: Option<&str>) -> String {
    match after {
        Some(after) => format!(
            "subscription {{ changeLogEntryRecorded(after: {}) {{ summary }} }}",
            json!(after)
        ),
        None => "subscription { changeLogEntryRecorded { summary } }".to_owned(),
    }
}

/// The next `count` events of operation `id`: (summary, token).
async fn events(
    socket: &mut Socket,
    id: &str,
    count: usize,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut found = Vec::new();
    while found.len() < count {
        let event = next(socket).await?;
        assert_eq!(event["type"], "next", "{event}");
        assert_eq!(event["id"], id, "{event}");
        let summary = event["payload"]["data"]["changeLogEntryRecorded"]["summary"]
            .as_str()
            .unwrap_or_else(|| panic!("an entry: {event}"))
            .to_owned();
        let token = event["payload"]["extensions"]["eventId"]
            .as_str()
            .unwrap_or_else(|| panic!("every event carries its token: {event}"))
            .to_owned();
        found.push((summary, token));
    }
    Ok(found)
}

/// Nothing more arrives within 300 ms.
async fn quiet(socket: &mut Socket) {
    if let Ok(Some(Ok(Message::Text(text)))) =
        tokio::time::timeout(Duration::from_millis(300), socket.next()).await
    {
        panic!("nothing more was expected, got {text}");
    }
}

/// The refusal a resuming feed answers with: `RESYNC_REQUIRED`, no data, then `complete`; the
/// connection stays open. Returns the message.
async fn assert_resync(socket: &mut Socket, id: &str) -> anyhow::Result<String> {
    let event = next(socket).await?;
    assert_eq!(event["id"], id, "{event}");
    assert_eq!(
        event["payload"]["errors"][0]["extensions"]["code"], "RESYNC_REQUIRED",
        "{event}"
    );
    assert!(event["payload"]["data"].is_null(), "nothing leaks: {event}");
    let complete = next(socket).await?;
    assert_eq!(complete["type"], "complete", "{complete}");
    assert_eq!(complete["id"], id, "{complete}");
    Ok(event["payload"]["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// The outbox `seq` of each token, in the order given.
async fn seqs(app: &TestApp, tokens: &[String]) -> anyhow::Result<Vec<i64>> {
    let mut found = Vec::new();
    for token in tokens {
        let row = outbox_event::Entity::find()
            .filter(outbox_event::COLUMN.id.eq(Uuid::parse_str(token)?))
            .one(&app.db)
            .await?
            .expect("a token is an outbox event id");
        found.push(row.seq);
    }
    Ok(found)
}

fn summaries(events: &[(String, String)]) -> Vec<&str> {
    events.iter().map(|(summary, _)| summary.as_str()).collect()
}

#[tokio::test]
async fn a_subscriber_reconnecting_with_its_last_token_gets_exactly_what_it_missed_then_live_ones()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let environment = environment_of(&app, &harbor).await?;
    // A subscriber that stays connected throughout: the tokens the resumed one must match.
    let mut steady = connect(&app, &harbor).await?;
    subscribe(&mut steady, "s", &feed(None)).await?;
    let mut socket = connect(&app, &harbor).await?;
    subscribe(&mut socket, "r", &feed(None)).await?;
    record(&app, &harbor, &environment, "one").await?;
    let seen = events(&mut socket, "r", 1).await?;
    assert_eq!(summaries(&seen), ["one"]);
    socket.close(None).await?;

    record(&app, &harbor, &environment, "two").await?;
    record(&app, &harbor, &environment, "three").await?;
    let mut socket = connect(&app, &harbor).await?;
    subscribe(&mut socket, "r2", &feed(Some(&seen[0].1))).await?;
    let replayed = events(&mut socket, "r2", 2).await?;
    assert_eq!(summaries(&replayed), ["two", "three"]);
    record(&app, &harbor, &environment, "four").await?;
    let live = events(&mut socket, "r2", 1).await?;
    assert_eq!(summaries(&live), ["four"]);
    quiet(&mut socket).await;

    let all = events(&mut steady, "s", 4).await?;
    assert_eq!(summaries(&all), ["one", "two", "three", "four"]);
    let resumed: Vec<&(String, String)> = seen.iter().chain(&replayed).chain(&live).collect();
    assert_eq!(
        resumed.iter().map(|(_, token)| token).collect::<Vec<_>>(),
        all.iter().map(|(_, token)| token).collect::<Vec<_>>(),
        "a replayed event carries the token it had live"
    );
    // Resuming from the last token: nothing missed, nothing sent again.
    let mut again = connect(&app, &harbor).await?;
    subscribe(&mut again, "r3", &feed(Some(&live[0].1))).await?;
    quiet(&mut again).await;
    app.stop().await
}

#[tokio::test]
async fn tokens_that_cannot_be_resumed_from_are_refused_alike_and_reveal_nothing()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let cedar = app.token(
        "demo|cedar-office",
        "cedar-pine",
        entities::enums::Role::Admin,
    );
    let cedar_environment = environment_of(&app, &cedar).await?;
    // A token of Cedar's, then a Cedar change after it that Harbor must never see.
    let mut cedar_socket = connect(&app, &cedar).await?;
    subscribe(&mut cedar_socket, "c", &feed(None)).await?;
    record(&app, &cedar, &cedar_environment, "CEDAR PRIVATE one").await?;
    let cedars = events(&mut cedar_socket, "c", 1).await?;
    record(&app, &cedar, &cedar_environment, "CEDAR PRIVATE two").await?;

    let mut socket = connect(&app, &harbor).await?;
    subscribe(&mut socket, "other", &feed(Some(&cedars[0].1))).await?;
    let other_tenants = assert_resync(&mut socket, "other").await?;
    subscribe(
        &mut socket,
        "unknown",
        &feed(Some(&Uuid::now_v7().to_string())),
    )
    .await?;
    let unknown = assert_resync(&mut socket, "unknown").await?;
    assert_eq!(
        other_tenants, unknown,
        "another tenant's token and an unknown one look the same"
    );
    for (id, garbage) in [
        ("garbage", "nope"),
        ("empty", ""),
        ("long", &"x".repeat(10_000)),
        ("sql", "' OR 1=1 --"),
    ] {
        subscribe(&mut socket, id, &feed(Some(garbage))).await?;
        assert_resync(&mut socket, id).await?;
    }
    // The connection is still open and serves a feed without a token.
    subscribe(&mut socket, "fresh", &feed(None)).await?;
    let harbor_environment = environment_of(&app, &harbor).await?;
    record(&app, &harbor, &harbor_environment, "harbor").await?;
    assert_eq!(
        summaries(&events(&mut socket, "fresh", 1).await?),
        ["harbor"]
    );
    app.stop().await
}

#[tokio::test]
async fn more_missed_events_than_the_bound_require_a_resync() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let environment = environment_of(&app, &harbor).await?;
    let mut socket = connect(&app, &harbor).await?;
    subscribe(&mut socket, "r", &feed(None)).await?;
    record(&app, &harbor, &environment, "seen").await?;
    let seen = events(&mut socket, "r", 1).await?;
    let from = outbox_event::Entity::find()
        .filter(outbox_event::COLUMN.id.eq(Uuid::parse_str(&seen[0].1)?))
        .one(&app.db)
        .await?
        .expect("the token's row");
    // One more than the bound, written straight to the outbox (a thousand writes take long).
    let missed: Vec<outbox_event::ActiveModel> = (0..=api::events::resume::REPLAY_LIMIT)
        .map(|_| {
            let mut row: outbox_event::ActiveModel = outbox_event::Model {
                id: Uuid::now_v7(),
                subject_id: Uuid::now_v7(),
                ..from.clone()
            }
            .into();
            row.seq = sea_orm::ActiveValue::NotSet;
            row
        })
        .collect();
    for chunk in missed.chunks(200) {
        outbox_event::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&app.db)
            .await?;
    }
    subscribe(&mut socket, "late", &feed(Some(&seen[0].1))).await?;
    let message = assert_resync(&mut socket, "late").await?;
    assert!(message.contains("1000"), "{message}");
    app.stop().await
}

#[tokio::test]
async fn a_filtered_subscription_replays_only_the_events_its_filter_allows() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let environment = environment_of(&app, &harbor).await?;
    let filtered = |after: Option<&str>| {
        let after = after
            .map(|after| format!(", after: {}", json!(after)))
            .unwrap_or_default();
        format!(
            "subscription {{ changeLogEntryRecorded(filter: {{ categories: [SECURITY] }}{after}) {{ summary }} }}"
        )
    };
    let categorized = |summary: &'static str, category: &'static str| {
        let (app, harbor, environment) = (&app, &harbor, &environment);
        async move {
            app.query(
                harbor,
                "mutation($input: RecordChangeInput!) { recordChange(input: $input) { changeLogEntry { id } } }",
                json!({ "input": { "environmentId": environment, "summary": summary, "category": category } }),
            )
            .await
        }
    };
    let mut socket = connect(&app, &harbor).await?;
    subscribe(&mut socket, "f", &filtered(None)).await?;
    categorized("secure one", "SECURITY").await?;
    let seen = events(&mut socket, "f", 1).await?;
    socket.close(None).await?;
    categorized("patch", "PATCH").await?;
    categorized("secure two", "SECURITY").await?;
    categorized("network", "NETWORK").await?;
    let mut socket = connect(&app, &harbor).await?;
    subscribe(&mut socket, "f2", &filtered(Some(&seen[0].1))).await?;
    assert_eq!(
        summaries(&events(&mut socket, "f2", 1).await?),
        ["secure two"]
    );
    quiet(&mut socket).await;
    app.stop().await
}

#[tokio::test]
async fn a_provider_whose_engagement_ended_cannot_replay_the_clients_changes() -> anyhow::Result<()>
{
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let harbor = app.client_admin_token();
    let environment = environment_of(&app, &harbor).await?;
    let mut socket = connect(&app, &provider).await?;
    subscribe(&mut socket, "p", &feed(None)).await?;
    record(&app, &harbor, &environment, "while engaged").await?;
    let seen = events(&mut socket, "p", 1).await?;
    socket.close(None).await?;
    end_harbors_engagement(&app, &provider).await?;
    record(
        &app,
        &harbor,
        &environment,
        "CLIENT PRIVATE after the MSP left",
    )
    .await?;
    let mut socket = connect(&app, &provider).await?;
    subscribe(&mut socket, "p2", &feed(Some(&seen[0].1))).await?;
    assert_resync(&mut socket, "p2").await?;
    app.stop().await
}

/// Two writers at the same instant, many times, while a subscriber leaves and resumes: it gets
/// every entry once, in `seq` order, none twice, none lost. On PostgreSQL the writers' outbox
/// rows race for `seq`; the commit-order lock makes `seq` order commit order.
#[tokio::test]
async fn writers_at_the_same_instant_while_a_subscriber_resumes_leave_no_gap_and_no_duplicate()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let environment = environment_of(&app, &harbor).await?;
    let mut socket = connect(&app, &harbor).await?;
    subscribe(&mut socket, "w", &feed(None)).await?;
    record(&app, &harbor, &environment, "start").await?;
    let mut received = events(&mut socket, "w", 1).await?;
    const EACH: usize = 15;
    let write = |writer: &'static str| {
        let (app, harbor, environment) = (&app, &harbor, &environment);
        async move {
            for at in 0..EACH {
                record(app, harbor, environment, &format!("{writer}{at}")).await?;
            }
            anyhow::Ok(())
        }
    };
    // Leaves after a few events and comes back with its last token while the writers go on,
    // twice.
    let reader = async {
        let mut socket = socket;
        for round in 0..2 {
            let id = if round == 0 {
                "w".to_owned()
            } else {
                format!("w{round}")
            };
            received.extend(events(&mut socket, &id, 4).await?);
            socket.close(None).await?;
            tokio::time::sleep(Duration::from_millis(50)).await;
            socket = connect(&app, &harbor).await?;
            let last = received
                .last()
                .map(|(_, token)| token.clone())
                .unwrap_or_default();
            subscribe(&mut socket, &format!("w{}", round + 1), &feed(Some(&last))).await?;
        }
        anyhow::Ok(socket)
    };
    let (a, b, reader) = tokio::join!(write("a"), write("b"), reader);
    a?;
    b?;
    let mut socket = reader?;
    let rest = 1 + 2 * EACH - received.len();
    received.extend(events(&mut socket, "w2", rest).await?);
    quiet(&mut socket).await;
    let names: Vec<&str> = summaries(&received);
    let distinct: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(distinct.len(), names.len(), "none twice: {names:?}");
    let expected: BTreeSet<String> = std::iter::once("start".to_owned())
        .chain(
            ["a", "b"]
                .iter()
                .flat_map(|writer| (0..EACH).map(move |at| format!("{writer}{at}"))),
        )
        .collect();
    assert_eq!(
        distinct,
        expected.iter().map(String::as_str).collect(),
        "none lost"
    );
    let tokens: Vec<String> = received.iter().map(|(_, token)| token.clone()).collect();
    let order = seqs(&app, &tokens).await?;
    assert!(
        order.windows(2).all(|pair| pair[0] < pair[1]),
        "sent in seq order: {order:?}"
    );
    app.stop().await
}

/// PostgreSQL: a token one server gave (for an event another server committed, carried by the
/// fan-out) resumes on another server, which replays what both committed meanwhile.
#[tokio::test]
async fn a_token_from_one_server_resumes_on_another() -> anyhow::Result<()> {
    if tests::POSTGRES_URL.is_none() {
        eprintln!("skipped: several servers share a PostgreSQL database only");
        return Ok(());
    }
    let a = TestApp::spawn_with_demo().await?;
    let b = a.spawn_beside(tests::test_server_settings()).await?;
    let harbor = a.client_admin_token();
    let environment = environment_of(&a, &harbor).await?;
    let mut socket = connect(&b, &harbor).await?;
    subscribe(&mut socket, "b", &feed(None)).await?;
    record(&a, &harbor, &environment, "one, through A").await?;
    let seen = events(&mut socket, "b", 1).await?;
    assert_eq!(summaries(&seen), ["one, through A"]);
    socket.close(None).await?;
    record(&a, &harbor, &environment, "two, through A").await?;
    record(&b, &harbor, &environment, "three, through B").await?;
    let mut socket = connect(&a, &harbor).await?;
    subscribe(&mut socket, "a", &feed(Some(&seen[0].1))).await?;
    let replayed = events(&mut socket, "a", 2).await?;
    assert_eq!(summaries(&replayed), ["two, through A", "three, through B"]);
    record(&b, &harbor, &environment, "four, through B").await?;
    let live = events(&mut socket, "a", 1).await?;
    assert_eq!(summaries(&live), ["four, through B"]);
    quiet(&mut socket).await;
    let tokens: Vec<String> = seen
        .iter()
        .chain(&replayed)
        .chain(&live)
        .map(|(_, token)| token.clone())
        .collect();
    let order = seqs(&a, &tokens).await?;
    assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "{order:?}");
    b.stop().await?;
    a.stop().await
}

/// PostgreSQL: a write that has drawn its `seq` holds every later writer's outbox rows back
/// until it commits, so `seq` order is commit order (what a resumed subscriber relies on: once
/// it has seen an event, nothing below its `seq` can still appear). SQLite writers take turns
/// from `BEGIN` already.
#[tokio::test]
async fn a_later_seq_becomes_visible_only_after_every_earlier_one_committed() -> anyhow::Result<()>
{
    if tests::POSTGRES_URL.is_none() {
        eprintln!("skipped: SQLite serializes writers from BEGIN");
        return Ok(());
    }
    let app = TestApp::spawn_with_demo().await?;
    let organization = entities::organization::Entity::find()
        .one(&app.db)
        .await?
        .expect("the demo has organizations")
        .id;
    let item = || api::outbox::Item {
        event_type: api::outbox::EventType::SyncRunFailed,
        environment_id: None,
        organization_id: Some(organization),
        subject_id: Uuid::now_v7(),
        data: json!({}),
    };
    let owners = std::collections::HashMap::new();
    let first = api::services::unit::begin_write(&app.db).await?;
    let drawn =
        api::outbox::record(&first, vec![item()], &owners, None, chrono::Utc::now()).await?;
    let second = {
        let (db, owners, item) = (app.db.clone(), owners.clone(), item());
        tokio::spawn(async move {
            let txn = api::services::unit::begin_write(&db).await?;
            let rows =
                api::outbox::record(&txn, vec![item], &owners, None, chrono::Utc::now()).await?;
            txn.commit().await?;
            anyhow::Ok(rows)
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !second.is_finished(),
        "the second writer waits while the first, which drew its seq, has not committed"
    );
    first.commit().await?;
    let later = tokio::time::timeout(Duration::from_secs(5), second).await???;
    assert!(
        later[0].seq > drawn[0].seq,
        "{} > {}",
        later[0].seq,
        drawn[0].seq
    );
    app.stop().await
}
