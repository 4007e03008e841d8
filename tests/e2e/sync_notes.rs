//! Ticket notes from every PSA, on both databases against the vendor mocks (issue 14, item 10):
//! Autotask notes by bulk query and Halo actions arrive with their visibility, author and time,
//! a second run writes no duplicate; ConnectWise reads notes only for tickets of mapped
//! companies, never more than `noteConcurrency` at once; a bad `noteConcurrency` is refused.

use std::time::Duration;

use chrono::{SubsecRound, Utc};
use entities::enums::SyncStatus;
use entities::{ticket, ticket_note};
use integrations::mock::{self, MockServer};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use tests::{TestApp, sync as run};
use uuid::Uuid;

use crate::sync::integration;

/// The notes of the ticket `external_id` of a `prefix` integration, oldest id first.
async fn notes_of(
    app: &TestApp,
    prefix: &str,
    external_id: &str,
) -> anyhow::Result<Vec<ticket_note::Model>> {
    let found = ticket::Entity::find()
        .filter(ticket::Column::ExternalSource.like(format!("{prefix}:%")))
        .filter(ticket::Column::ExternalId.eq(external_id))
        .one(&app.db)
        .await?
        .unwrap_or_else(|| panic!("no {prefix} ticket {external_id}"));
    Ok(ticket_note::Entity::find()
        .filter(ticket_note::Column::TicketId.eq(found.id))
        .order_by_asc(ticket_note::Column::ExternalId)
        .all(&app.db)
        .await?)
}

/// The paths of the requests `server` answered that end with `suffix`, with their counts.
fn requests_ending(server: &MockServer, suffix: &str) -> Vec<(String, usize)> {
    let mut found: Vec<(String, usize)> = server
        .state
        .requests_by_path()
        .into_iter()
        .filter(|(path, _)| path.ends_with(suffix))
        .collect();
    found.sort();
    found
}

/// A ConnectWise integration over a fixture of `tickets` tickets of companies 250, 251 and 252
/// (252 not mapped), with `settings` added.
async fn connectwise(
    app: &TestApp,
    tickets: usize,
    settings: Value,
) -> anyhow::Result<(MockServer, Uuid)> {
    let server = mock::connectwise::start(mock::connectwise::fixture(
        3,
        tickets,
        Utc::now() - chrono::Duration::hours(1),
    ))
    .await;
    let (mut all, credentials) = mock::connectwise::configuration();
    for (key, value) in settings.as_object().into_iter().flatten() {
        all[key] = value.clone();
    }
    let (_, id) = integration(
        app,
        "CONNECTWISE_MANAGE",
        &server.url,
        (all, credentials),
        &[("250", "Production"), ("251", "Main Office")],
    )
    .await?;
    Ok((server, id))
}

#[tokio::test]
async fn autotask_notes_arrive_with_their_visibility_author_and_time_and_never_twice()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let at = (Utc::now() - chrono::Duration::hours(1)).trunc_subsecs(3);
    // Four companies, 172 and 173 not mapped (the connector tests show their tickets' notes are
    // not asked for).
    let store = mock::autotask::fixture(4, 8, at);
    let server = mock::autotask::start(store).await;
    let (_, id) = integration(
        &app,
        "AUTOTASK",
        &server.url,
        mock::autotask::configuration(),
        &[("170", "Production"), ("171", "Main Office")],
    )
    .await?;
    let report = run(&app, id).await;
    assert_eq!(report.run.status, SyncStatus::Succeeded, "{report:?}");

    let notes = notes_of(&app, "AUTOTASK", "30000").await?;
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert_eq!(notes[0].external_id.as_deref(), Some("91001"));
    assert!(!notes[0].internal, "publish 1: all Autotask users");
    assert!(notes[1].internal, "publish 2: internal only");
    assert_eq!(
        notes[0].body,
        "Note\n\nCalled the user; reset the Outlook profile."
    );
    assert_eq!(notes[0].author_name.as_deref(), Some("resource 29682885"));
    assert_eq!(notes[0].created_at, at);
    // One bulk query for the page's tickets (of mapped companies only): no request per ticket.
    let queries = requests_ending(&server, "/TicketNotes/query");
    assert_eq!(queries.len(), 1, "{queries:?}");
    assert_eq!(queries[0].1, 1);

    // `ticket.changed` items in the outbox for the ticket with those notes.
    let changed = || async {
        let ticket = ticket::Entity::find()
            .filter(ticket::Column::ExternalSource.like("AUTOTASK:%"))
            .filter(ticket::Column::ExternalId.eq("30000"))
            .one(&app.db)
            .await?
            .unwrap();
        anyhow::Ok(
            entities::outbox_event::Entity::find()
                .filter(entities::outbox_event::Column::EventType.eq("ticket.changed"))
                .filter(entities::outbox_event::Column::SubjectId.eq(ticket.id))
                .all(&app.db)
                .await?
                .len(),
        )
    };
    assert_eq!(changed().await?, 0, "created, not changed");

    // A new note moves the ticket's last activity: the incremental run brings that note alone.
    {
        let mut store = server.state.store();
        let later = Utc::now();
        store.notes.push(mock::autotask::note(
            91_004,
            30_000,
            "The user confirms it works.",
            1,
            later,
        ));
        store.tickets[0]["lastActivityDate"] = json!(mock::autotask::stamp(later));
    }
    let again = run(&app, id).await;
    assert_eq!(again.run.status, SyncStatus::Succeeded, "{again:?}");
    assert_eq!(notes_of(&app, "AUTOTASK", "30000").await?.len(), 3);
    // The ticket is otherwise unchanged; the note alone makes it changed, as one added by hand.
    assert_eq!(changed().await?, 1);
    // And a full walk of the same data writes no note twice.
    let key = integrations::secrets::SecretKey::parse(tests::TEST_SECRET_KEY)?;
    let mut options = tests::sync_options();
    options.full = true;
    let full = api::sync::run(&app.db, Some(&key), id, &options, &|_| {}).await?;
    assert_eq!(full.run.status, SyncStatus::Succeeded, "{full:?}");
    assert_eq!(notes_of(&app, "AUTOTASK", "30000").await?.len(), 3);
    assert_eq!(changed().await?, 1);
    app.stop().await
}

#[tokio::test]
async fn halo_actions_arrive_as_notes_without_system_actions_and_never_twice() -> anyhow::Result<()>
{
    let app = TestApp::spawn_with_demo().await?;
    let at = (Utc::now() - chrono::Duration::hours(1)).trunc_subsecs(0);
    let mut store = mock::halopsa::fixture(3, 6, at);
    // An action with only HTML text; and one on a ticket of client 59, which is not mapped.
    let mut html = mock::halopsa::action(4_403, 18_000, "", false, at);
    html["note_html"] = json!("<p>Replaced the <b>dock</b>&nbsp;cable.</p>");
    store.notes.push(html);
    store
        .notes
        .push(mock::halopsa::action(4_404, 18_002, "Not ours.", false, at));
    let server = mock::halopsa::start(store).await;
    let (_, id) = integration(
        &app,
        "HALOPSA",
        &server.url,
        mock::halopsa::configuration(),
        &[("57", "Production"), ("58", "Main Office")],
    )
    .await?;
    let report = run(&app, id).await;
    assert_eq!(report.run.status, SyncStatus::Succeeded, "{report:?}");

    let notes = notes_of(&app, "HALOPSA", "18000").await?;
    let bodies: Vec<&str> = notes.iter().map(|note| note.body.as_str()).collect();
    assert_eq!(
        bodies,
        [
            "Called the user; reset the Outlook profile.",
            "Mailbox move left a stale autodiscover record.",
            "Replaced the dock cable."
        ],
        "the system action is left out"
    );
    assert!(!notes[0].internal);
    assert!(notes[1].internal, "hiddenfromuser");
    assert_eq!(notes[0].author_name.as_deref(), Some("Sam Agent"));
    assert_eq!(notes[0].created_at, at);
    // Tickets of client 59 (18002, 18005) are skipped, so their actions are never asked for.
    let asked = requests_ending(&server, "/Actions");
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].1, 4);

    // A new action (Halo moves the ticket's last update): the incremental run adds it alone.
    {
        let mut store = server.state.store();
        let later = Utc::now();
        store.notes.push(mock::halopsa::action(
            4_405,
            18_000,
            "The user confirms it works.",
            false,
            later,
        ));
        store.tickets[0]["last_update"] = json!(mock::halopsa::stamp(later));
    }
    let again = run(&app, id).await;
    assert_eq!(again.run.status, SyncStatus::Succeeded, "{again:?}");
    assert_eq!(notes_of(&app, "HALOPSA", "18000").await?.len(), 4);
    let unchanged = run(&app, id).await;
    assert_eq!(unchanged.run.status, SyncStatus::Succeeded);
    assert_eq!(notes_of(&app, "HALOPSA", "18000").await?.len(), 4);
    app.stop().await
}

#[tokio::test]
async fn connectwise_reads_no_notes_for_tickets_of_unmapped_companies() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (server, id) = connectwise(&app, 9, json!({})).await?;
    let report = run(&app, id).await;
    assert_eq!(report.run.status, SyncStatus::Succeeded, "{report:?}");
    let asked = requests_ending(&server, "/notes");
    // Tickets 48000.. go to companies 250, 251, 252 in turn; 252 is not mapped.
    let tickets: Vec<String> = asked
        .iter()
        .map(|(path, count)| {
            assert_eq!(*count, 1, "{path}");
            path.rsplit('/').nth(1).unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        tickets,
        ["48000", "48001", "48003", "48004", "48006", "48007"]
    );
    assert_eq!(
        notes_of(&app, "CONNECTWISE_MANAGE", "48000").await?.len(),
        2
    );
    app.stop().await
}

#[tokio::test]
async fn note_requests_in_flight_never_exceed_note_concurrency() -> anyhow::Result<()> {
    // (tickets, settings, notes requests, the most in flight): each notes request takes 20 ms,
    // so a bound that is not reached would show.
    let cases = [
        (18, json!({ "noteConcurrency": 3 }), 12, 3),
        (30, json!({}), 20, 8),
        (6, json!({ "noteConcurrency": 1 }), 4, 1),
    ];
    for (tickets, settings, requests, most) in cases {
        let app = TestApp::spawn_with_demo().await?;
        let (server, id) = connectwise(&app, tickets, settings.clone()).await?;
        server.state.set_latency(Duration::from_millis(20));
        let report = run(&app, id).await;
        assert_eq!(report.run.status, SyncStatus::Succeeded, "{report:?}");
        assert_eq!(requests_ending(&server, "/notes").len(), requests);
        assert_eq!(server.state.max_in_flight(), most, "{settings}");
        app.stop().await?;
    }
    Ok(())
}

#[tokio::test]
async fn an_invalid_note_concurrency_is_refused_with_a_clear_error() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let (settings, credentials) = mock::connectwise::configuration();
    for (name, bad) in [
        ("zero", json!(0)),
        ("seventeen", json!(17)),
        ("text", json!("x")),
    ] {
        let mut wrong = settings.clone();
        wrong["noteConcurrency"] = bad.clone();
        let (_, body) = app
            .mutation(
                &token,
                "createIntegration",
                "CreateIntegrationInput",
                &json!({ "name": format!("CW {name}"), "kind": "CONNECTWISE_MANAGE",
                         "baseUrl": "https://api-na.myconnectwise.net", "settings": wrong,
                         "credentials": credentials }),
                "integration { id }",
            )
            .await?;
        let payload = &body["data"]["createIntegration"];
        assert_eq!(payload["integration"], Value::Null, "{body}");
        let errors = payload["userErrors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{body}");
        assert_eq!(errors[0]["code"], "INVALID");
        assert_eq!(
            errors[0]["field"],
            json!(["input", "settings", "noteConcurrency"])
        );
        let message = errors[0]["message"].as_str().unwrap();
        assert!(
            message.contains("from 1 to 16") && message.contains(&bad.to_string()),
            "{message}"
        );
    }
    // The bounds themselves are accepted, and an update is checked the same way.
    let mut fine = settings.clone();
    fine["noteConcurrency"] = json!(16);
    let (_, body) = app
        .mutation(
            &token,
            "createIntegration",
            "CreateIntegrationInput",
            &json!({ "name": "CW sixteen", "kind": "CONNECTWISE_MANAGE",
                     "baseUrl": "https://api-na.myconnectwise.net", "settings": fine,
                     "credentials": credentials }),
            "integration { id }",
        )
        .await?;
    assert_eq!(
        body["data"]["createIntegration"]["userErrors"],
        json!([]),
        "{body}"
    );
    let created = body["data"]["createIntegration"]["integration"]["id"].clone();
    let mut wrong = settings.clone();
    wrong["noteConcurrency"] = json!(0);
    let (_, body) = app
        .mutation(
            &token,
            "updateIntegration",
            "UpdateIntegrationInput",
            &json!({ "id": created, "settings": wrong }),
            "integration { id }",
        )
        .await?;
    let errors = &body["data"]["updateIntegration"]["userErrors"];
    assert_eq!(errors[0]["code"], "INVALID", "{body}");
    assert_eq!(
        errors[0]["field"],
        json!(["input", "settings", "noteConcurrency"])
    );
    app.stop().await
}
