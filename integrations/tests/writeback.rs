//! Two-way sync, the vendor side: `Connector::write_ticket` for Autotask and HaloPSA against
//! their mocks. Each write kind is checked for the exact request the vendor receives (once),
//! the id it answers, and that the next incremental read sees it; throttling (retried, applied
//! once), server errors (not retried: a write may have been applied), unknown tickets (refused
//! for good), malformed input (refused before any request), and RMMs (unsupported).
#![cfg(feature = "mock")]

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::connector_with;
use entities::enums::IntegrationKind;
use integrations::ConnectorError;
use integrations::connector::{Connector, TicketWrite, VendorAssignee};
use integrations::mock::autotask::{self, ROOT};
use integrations::mock::{Fault, MockServer, RecordedWrite, datto, halopsa, ninjaone};
use integrations::model::{Record, Resource, Ticket};
use serde_json::{Value, json};

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 5, 14, 0, 0).unwrap()
}

fn assign(group: &str, member: Option<&str>) -> TicketWrite {
    TicketWrite::Assign {
        assignee: VendorAssignee {
            group: group.to_owned(),
            member: member.map(str::to_owned),
        },
    }
}

fn note(text: &str, internal: bool) -> TicketWrite {
    TicketWrite::Note {
        text: text.to_owned(),
        internal,
    }
}

fn status(value: &str) -> TicketWrite {
    TicketWrite::Status {
        status: value.to_owned(),
    }
}

fn recorded(method: &str, path: &str, body: Value) -> RecordedWrite {
    RecordedWrite {
        method: method.to_owned(),
        path: path.to_owned(),
        body,
    }
}

/// The tickets of one changed-since page (the only page: the fixtures are small).
async fn changed_tickets(connector: &dyn Connector, since: DateTime<Utc>) -> Vec<Ticket> {
    let page = connector
        .page(Resource::Tickets, Some(since), None)
        .await
        .expect("the page reads");
    assert_eq!(page.next, None);
    page.records
        .into_iter()
        .map(|record| match record {
            Ok(Record::Ticket(ticket)) => ticket,
            other => panic!("a ticket: {other:?}"),
        })
        .collect()
}

// ---------------------------------------------------------------- Autotask

fn autotask_connector(server: &MockServer) -> Box<dyn Connector> {
    let (_, credentials) = autotask::configuration();
    connector_with(IntegrationKind::Autotask, server, json!({}), credentials)
}

fn autotask_ticket(server: &MockServer, id: i64) -> Value {
    server
        .state
        .store()
        .tickets
        .iter()
        .find(|ticket| ticket["id"] == id)
        .cloned()
        .expect("the ticket")
}

#[tokio::test]
async fn autotask_writes_each_kind_once_in_its_rest_shape_and_the_next_sync_reads_it() {
    let server = autotask::start(autotask::fixture(2, 3, at())).await;
    let connector = autotask_connector(&server);
    let tickets = format!("{ROOT}/Tickets");

    // Assignment: the queue, and the resource with its role.
    let receipt = connector
        .write_ticket("30001", &assign("29682900", Some("29682999:29683500")))
        .await
        .expect("assigned");
    assert_eq!(receipt.created_id, None, "an update creates nothing");
    assert_eq!(
        server.state.writes(),
        [recorded(
            "PATCH",
            &tickets,
            json!({ "id": 30001, "queueID": 29_682_900, "assignedResourceID": 29_682_999, "assignedResourceRoleID": 29_683_500 })
        )]
    );
    let ticket = autotask_ticket(&server, 30_001);
    assert_eq!(ticket["queueID"], 29_682_900);
    assert_eq!(ticket["assignedResourceID"], 29_682_999);
    assert_eq!(ticket["assignedResourceRoleID"], 29_683_500);

    // A queue alone leaves the resource as it is.
    connector
        .write_ticket("30002", &assign("29682901", None))
        .await
        .expect("queued");
    assert_eq!(
        server.state.writes()[1],
        recorded(
            "PATCH",
            &tickets,
            json!({ "id": 30002, "queueID": 29_682_901 })
        )
    );

    // Status: the picklist integer.
    let receipt = connector
        .write_ticket("30001", &status("7"))
        .await
        .expect("status set");
    assert_eq!(receipt.created_id, None);
    assert_eq!(
        server.state.writes()[2],
        recorded("PATCH", &tickets, json!({ "id": 30001, "status": 7 }))
    );

    // Notes: a child of the ticket; the answer's itemId is the note.
    let public = connector
        .write_ticket("30001", &note("Routed to Tier 2\nby the matrix.", false))
        .await
        .expect("a note")
        .created_id
        .expect("the note's id");
    let internal = connector
        .write_ticket("30001", &note("Internal analysis", true))
        .await
        .expect("an internal note")
        .created_id
        .expect("the note's id");
    assert_ne!(public, internal);
    let writes = server.state.writes();
    assert_eq!(writes.len(), 5, "each write arrived once: {writes:#?}");
    let notes = format!("{ROOT}/Tickets/30001/Notes");
    assert_eq!(
        writes[3],
        recorded(
            "POST",
            &notes,
            json!({ "ticketID": 30001, "title": "Routed to Tier 2", "description": "Routed to Tier 2\nby the matrix.", "noteType": 1, "publish": 1 })
        )
    );
    assert_eq!(
        writes[4],
        recorded(
            "POST",
            &notes,
            json!({ "ticketID": 30001, "title": "Internal analysis", "description": "Internal analysis", "noteType": 1, "publish": 2 })
        )
    );

    // The next incremental sync sees exactly the tickets written, with the new values and notes.
    let changed = changed_tickets(&*connector, at()).await;
    let ids: Vec<&str> = changed.iter().map(|t| t.external_id.as_str()).collect();
    assert_eq!(ids, ["30001", "30002"], "only the written tickets changed");
    assert_eq!(changed[0].status, "7");
    let read = changed[0].notes.as_ref().expect("notes read");
    let by_id = |id: &str| {
        read.iter()
            .find(|note| note.external_id == id)
            .unwrap_or_else(|| panic!("note {id} in {read:#?}"))
    };
    assert_eq!(by_id(&public).body, "Routed to Tier 2\nby the matrix.");
    assert!(!by_id(&public).internal);
    assert_eq!(by_id(&internal).body, "Internal analysis");
    assert!(by_id(&internal).internal);
}

#[tokio::test]
async fn autotask_completes_a_ticket_and_honours_the_note_type_setting() {
    let server = autotask::start(autotask::fixture(1, 1, at())).await;
    let (_, credentials) = autotask::configuration();
    let connector = connector_with(
        IntegrationKind::Autotask,
        &server,
        json!({ "noteType": 3 }),
        credentials,
    );
    connector
        .write_ticket("30000", &status(&autotask::status::COMPLETE.to_string()))
        .await
        .expect("completed");
    connector
        .write_ticket("30000", &note("Done", false))
        .await
        .expect("a note");
    assert_eq!(server.state.writes()[1].body["noteType"], 3);
    let changed = changed_tickets(&*connector, at()).await;
    assert!(changed[0].closed, "Complete closes the ticket");
    assert!(changed[0].closed_at.is_some());
}

#[tokio::test]
async fn autotask_a_throttled_write_is_sent_again_and_applied_once() {
    let server = autotask::start(autotask::fixture(1, 1, at())).await;
    let connector = autotask_connector(&server);
    // The zone lookup is outside the faulted API; warm it so the faults hit the write.
    connector.check().await.expect("reachable");
    server.state.inject([
        Fault::RateLimited { retry_after: 0 },
        Fault::RateLimited { retry_after: 0 },
    ]);
    let receipt = connector
        .write_ticket("30000", &note("After the storm", false))
        .await
        .expect("written after the 429s");
    // The mock counts requests by the path under the API root.
    assert_eq!(
        server.state.requests_to("/Tickets/30000/Notes"),
        3,
        "two 429s, then the write"
    );
    let writes = server.state.writes();
    assert_eq!(writes.len(), 1, "applied once");
    let notes: Vec<Value> = server.state.store().notes.clone();
    let created: Vec<&Value> = notes
        .iter()
        .filter(|note| note["description"] == "After the storm")
        .collect();
    assert_eq!(created.len(), 1);
    assert_eq!(
        Some(created[0]["id"].to_string()),
        receipt.created_id,
        "the receipt names the note"
    );
}

#[tokio::test]
async fn autotask_a_server_error_is_transient_and_the_write_is_not_sent_again() {
    let server = autotask::start(autotask::fixture(1, 1, at())).await;
    let connector = autotask_connector(&server);
    connector.check().await.expect("reachable");
    let before = autotask_ticket(&server, 30_000);
    for (write, path) in [
        // The mock counts requests by the path under the API root.
        (status("7"), "/Tickets"),
        (note("Maybe applied", true), "/Tickets/30000/Notes"),
    ] {
        server.state.inject([Fault::ServerError(500)]);
        let error = connector
            .write_ticket("30000", &write)
            .await
            .expect_err("a 500");
        assert!(error.is_transient(), "{error:?}: the outbox tries again");
        assert!(!error.refuses_the_record());
        assert_eq!(
            server.state.requests_to(path),
            1,
            "not retried by the client"
        );
    }
    assert!(server.state.writes().is_empty());
    assert_eq!(autotask_ticket(&server, 30_000), before);
    assert_eq!(server.state.store().notes.len(), 2, "the fixture's two");
}

#[tokio::test]
async fn autotask_an_unknown_ticket_refuses_the_record_and_bad_input_sends_nothing() {
    let server = autotask::start(autotask::fixture(1, 1, at())).await;
    let connector = autotask_connector(&server);
    for write in [
        status("7"),
        note("Nobody reads this", false),
        assign("1", None),
    ] {
        let error = connector
            .write_ticket("99999", &write)
            .await
            .expect_err("no such ticket");
        assert!(error.refuses_the_record(), "{write:?}: {error:?}");
        assert!(!error.is_transient());
    }
    // Input Autotask cannot take fails before any request.
    let requests = server.state.requests();
    for (ticket, write) in [
        ("30000", assign("29682900", Some("29682999"))),
        ("30000", assign("Tier 2", None)),
        ("30000", status("Waiting Customer")),
        ("30000", note("  \n ", false)),
        ("T20250305.0001", status("7")),
    ] {
        let error = connector
            .write_ticket(ticket, &write)
            .await
            .expect_err("refused");
        assert!(matches!(error, ConnectorError::Config(_)), "{error:?}");
    }
    assert_eq!(server.state.requests(), requests);
    assert!(server.state.writes().is_empty());
}

#[tokio::test]
async fn the_autotask_mock_refuses_malformed_writes_in_autotasks_error_shape() {
    let server = autotask::start(autotask::fixture(1, 1, at())).await;
    let client = reqwest::Client::new();
    let (_, credentials) = autotask::configuration();
    let send = |method: reqwest::Method, path: &str, body: &str| {
        client
            .request(method, format!("{}{ROOT}{path}", server.url))
            .header("UserName", credentials["username"].as_str().unwrap())
            .header("Secret", credentials["secret"].as_str().unwrap())
            .header(
                "ApiIntegrationCode",
                credentials["integrationCode"].as_str().unwrap(),
            )
            .header("Content-Type", "application/json")
            .body(body.to_owned())
            .send()
    };
    let patch = reqwest::Method::PATCH;
    let post = reqwest::Method::POST;
    for (method, path, body, expected) in [
        (patch.clone(), "/Tickets", "not json", 400),
        (patch.clone(), "/Tickets", "[]", 400),
        (patch.clone(), "/Tickets", r#"{"status": 7}"#, 400),
        (patch.clone(), "/Tickets", r#"{"id": 30000}"#, 400),
        (
            patch.clone(),
            "/Tickets",
            r#"{"id": 30000, "queue": 1}"#,
            400,
        ),
        (
            patch.clone(),
            "/Tickets",
            r#"{"id": 30000, "status": "7"}"#,
            400,
        ),
        (
            patch.clone(),
            "/Tickets",
            r#"{"id": 30000, "status": 77}"#,
            400,
        ),
        (
            patch.clone(),
            "/Tickets",
            r#"{"id": 30000, "assignedResourceID": 5}"#,
            400,
        ),
        (patch.clone(), "/Tickets", r#"{"id": 1, "status": 7}"#, 404),
        (patch.clone(), "/Companies", r#"{"id": 170}"#, 404),
        (post.clone(), "/Tickets/30000/Notes", "{}", 400),
        (
            post.clone(),
            "/Tickets/30000/Notes",
            r#"{"ticketID": 30001, "title": "t", "description": "d", "noteType": 1, "publish": 1}"#,
            400,
        ),
        (
            post.clone(),
            "/Tickets/30000/Notes",
            r#"{"title": "t", "description": "d", "noteType": 1, "publish": 9}"#,
            400,
        ),
        (
            post.clone(),
            "/Tickets/30000/Notes",
            r#"{"title": "", "description": "d", "noteType": 1, "publish": 1}"#,
            400,
        ),
        (
            post.clone(),
            "/Tickets/30000/Notes",
            r#"{"title": "t", "description": "d", "noteType": 1, "publish": 1, "secret": 1}"#,
            400,
        ),
        (
            post.clone(),
            "/Tickets/1/Notes",
            r#"{"title": "t", "description": "d", "noteType": 1, "publish": 1}"#,
            404,
        ),
    ] {
        let response = send(method.clone(), path, body).await.expect("an answer");
        assert_eq!(
            response.status().as_u16(),
            expected,
            "{method} {path} {body}"
        );
        let answer: Value = response.json().await.expect("JSON");
        assert!(
            answer["errors"][0].is_string(),
            "Autotask's error shape: {answer}"
        );
    }
    // Without credentials, nothing is written.
    let response = client
        .patch(format!("{}{ROOT}/Tickets", server.url))
        .body(r#"{"id": 30000, "status": 7}"#)
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 401);
    assert!(server.state.writes().is_empty());
    assert_eq!(autotask_ticket(&server, 30_000)["status"], 1);
}

// ---------------------------------------------------------------- HaloPSA

fn halo_connector(server: &MockServer) -> Box<dyn Connector> {
    let (settings, credentials) = halopsa::configuration();
    connector_with(IntegrationKind::Halopsa, server, settings, credentials)
}

fn halo_ticket(server: &MockServer, id: i64) -> Value {
    server
        .state
        .store()
        .tickets
        .iter()
        .find(|ticket| ticket["id"] == id)
        .cloned()
        .expect("the ticket")
}

#[tokio::test]
async fn halo_writes_each_kind_once_as_an_array_and_the_next_sync_reads_it() {
    let server = halopsa::start(halopsa::fixture(2, 3, at())).await;
    let connector = halo_connector(&server);

    let receipt = connector
        .write_ticket("18001", &assign("2nd Line", Some("21")))
        .await
        .expect("assigned");
    assert_eq!(receipt.created_id, None);
    assert!(
        receipt.vendor_updated_at.is_some(),
        "Halo answers the ticket"
    );
    assert_eq!(
        server.state.writes(),
        [recorded(
            "POST",
            "/api/Tickets",
            json!([{ "id": 18001, "team": "2nd Line", "agent_id": 21 }])
        )]
    );
    let ticket = halo_ticket(&server, 18_001);
    assert_eq!(ticket["team"], "2nd Line");
    assert_eq!(ticket["agent_id"], 21);

    connector
        .write_ticket("18002", &assign("Projects", None))
        .await
        .expect("a team alone");
    assert_eq!(
        server.state.writes()[1],
        recorded(
            "POST",
            "/api/Tickets",
            json!([{ "id": 18002, "team": "Projects" }])
        )
    );
    assert_eq!(
        halo_ticket(&server, 18_002)["agent_id"],
        14,
        "the agent stays"
    );

    let waiting = halopsa::status::WAITING_CUSTOMER.to_string();
    connector
        .write_ticket("18001", &status(&waiting))
        .await
        .expect("status set");
    assert_eq!(
        server.state.writes()[2],
        recorded(
            "POST",
            "/api/Tickets",
            json!([{ "id": 18001, "status_id": halopsa::status::WAITING_CUSTOMER }])
        )
    );

    let public = connector
        .write_ticket("18001", &note("Routed to 2nd Line.", false))
        .await
        .expect("a note")
        .created_id
        .expect("the action's id");
    let internal = connector
        .write_ticket("18001", &note("Internal analysis", true))
        .await
        .expect("an internal note")
        .created_id
        .expect("the action's id");
    assert_ne!(public, internal);
    let writes = server.state.writes();
    assert_eq!(writes.len(), 5, "each write arrived once: {writes:#?}");
    assert_eq!(
        writes[3],
        recorded(
            "POST",
            "/api/Actions",
            json!([{ "ticket_id": 18001, "note": "Routed to 2nd Line.", "outcome": "Note", "hiddenfromuser": false }])
        )
    );
    assert_eq!(
        writes[4],
        recorded(
            "POST",
            "/api/Actions",
            json!([{ "ticket_id": 18001, "note": "Internal analysis", "outcome": "Private Note", "hiddenfromuser": true }])
        )
    );

    // Halo's filter is inclusive and to the second: a second later than the fixture's stamp.
    let changed = changed_tickets(&*connector, at() + Duration::seconds(1)).await;
    let ids: Vec<&str> = changed.iter().map(|t| t.external_id.as_str()).collect();
    assert_eq!(ids, ["18001", "18002"], "only the written tickets changed");
    assert_eq!(changed[0].status, waiting);
    assert_eq!(
        changed[0].status_label.as_deref(),
        Some("Waiting for Customer")
    );
    let read = changed[0].notes.as_ref().expect("notes read");
    let by_id = |id: &str| {
        read.iter()
            .find(|note| note.external_id == id)
            .unwrap_or_else(|| panic!("action {id} in {read:#?}"))
    };
    assert_eq!(by_id(&public).body, "Routed to 2nd Line.");
    assert!(!by_id(&public).internal);
    assert_eq!(by_id(&internal).body, "Internal analysis");
    assert!(by_id(&internal).internal);
}

#[tokio::test]
async fn halo_closes_a_ticket_and_writes_with_a_new_token_after_a_401() {
    let server = halopsa::start(halopsa::fixture(1, 1, at())).await;
    let connector = halo_connector(&server);
    connector.check().await.expect("a token");
    server.state.expire_tokens();
    connector
        .write_ticket("18000", &status(&halopsa::status::CLOSED.to_string()))
        .await
        .expect("closed with a new token");
    assert_eq!(server.state.token_requests(), 2);
    assert_eq!(
        server.state.writes().len(),
        1,
        "the refused one was not applied"
    );
    let changed = changed_tickets(&*connector, at() + Duration::seconds(1)).await;
    assert!(changed[0].closed);
}

#[tokio::test]
async fn halo_a_throttled_write_is_sent_again_and_applied_once() {
    let server = halopsa::start(halopsa::fixture(1, 1, at())).await;
    let connector = halo_connector(&server);
    connector.check().await.expect("a token");
    server.state.inject([Fault::RateLimited { retry_after: 0 }]);
    let receipt = connector
        .write_ticket("18000", &note("After the storm", false))
        .await
        .expect("written after the 429");
    assert_eq!(
        server.state.requests_to("/Actions"),
        2,
        "a 429, then the write"
    );
    assert_eq!(server.state.writes().len(), 1, "applied once");
    let created: Vec<Value> = server
        .state
        .store()
        .notes
        .iter()
        .filter(|action| action["note"] == "After the storm")
        .cloned()
        .collect();
    assert_eq!(created.len(), 1);
    assert_eq!(Some(created[0]["id"].to_string()), receipt.created_id);
}

#[tokio::test]
async fn halo_a_server_error_is_transient_and_the_write_is_not_sent_again() {
    let server = halopsa::start(halopsa::fixture(1, 1, at())).await;
    let connector = halo_connector(&server);
    connector.check().await.expect("a token");
    let before = halo_ticket(&server, 18_000);
    for (write, path) in [
        // The mock counts requests by the path under `/api`.
        (status("2"), "/Tickets"),
        (note("Maybe applied", true), "/Actions"),
    ] {
        server.state.inject([Fault::ServerError(503)]);
        let error = connector
            .write_ticket("18000", &write)
            .await
            .expect_err("a 503");
        assert!(error.is_transient(), "{error:?}");
        assert_eq!(
            server.state.requests_to(path),
            1,
            "not retried by the client"
        );
    }
    assert!(server.state.writes().is_empty());
    assert_eq!(halo_ticket(&server, 18_000), before);
    assert_eq!(server.state.store().notes.len(), 3, "the fixture's three");
}

#[tokio::test]
async fn halo_an_unknown_ticket_refuses_the_record_and_bad_input_sends_nothing() {
    let server = halopsa::start(halopsa::fixture(1, 1, at())).await;
    let connector = halo_connector(&server);
    for write in [
        status("2"),
        note("Nobody reads this", false),
        assign("1st Line", None),
    ] {
        let error = connector
            .write_ticket("99999", &write)
            .await
            .expect_err("no such ticket");
        assert!(error.refuses_the_record(), "{write:?}: {error:?}");
    }
    // A status Halo does not have is the vendor's refusal of this record too.
    let error = connector
        .write_ticket("18000", &status("777"))
        .await
        .expect_err("no such status");
    assert!(error.refuses_the_record(), "{error:?}");
    let requests = server.state.requests();
    for (ticket, write) in [
        ("18000", assign("1st Line", Some("Sam Agent"))),
        ("18000", assign("  ", None)),
        ("18000", status("Closed")),
        ("18000", note("", true)),
        ("not-a-number", status("2")),
    ] {
        let error = connector
            .write_ticket(ticket, &write)
            .await
            .expect_err("refused");
        assert!(matches!(error, ConnectorError::Config(_)), "{error:?}");
    }
    assert_eq!(server.state.requests(), requests);
    assert!(server.state.writes().is_empty());
}

#[tokio::test]
async fn the_halo_mock_refuses_malformed_writes_and_applies_none_of_a_refused_batch() {
    let server = halopsa::start(halopsa::fixture(1, 2, at())).await;
    let token = server.state.issue_token();
    let client = reqwest::Client::new();
    for (path, body, expected) in [
        ("/api/Tickets", "not json", 400),
        ("/api/Tickets", r#"{"id": 18000, "status_id": 2}"#, 400),
        ("/api/Tickets", "[]", 400),
        ("/api/Tickets", "[1]", 400),
        ("/api/Tickets", r#"[{"status_id": 2}]"#, 400),
        ("/api/Tickets", r#"[{"id": 18000, "statusid": 2}]"#, 400),
        ("/api/Tickets", r#"[{"id": 18000, "agent_id": "Sam"}]"#, 400),
        ("/api/Tickets", r#"[{"id": 18000, "team": ""}]"#, 400),
        // The first update is valid, the second names no ticket: neither is applied.
        (
            "/api/Tickets",
            r#"[{"id": 18000, "status_id": 2}, {"id": 1, "status_id": 2}]"#,
            404,
        ),
        (
            "/api/Actions",
            r#"[{"ticket_id": 18000, "outcome": "Note"}]"#,
            400,
        ),
        (
            "/api/Actions",
            r#"[{"ticket_id": 18000, "note": "x"}]"#,
            400,
        ),
        (
            "/api/Actions",
            r#"[{"ticket_id": 18000, "note": "x", "outcome": "Note", "hiddenfromuser": "yes"}]"#,
            400,
        ),
        (
            "/api/Actions",
            r#"[{"ticket_id": 18000, "note": "x", "outcome": "Note"}, {"ticket_id": 1, "note": "x", "outcome": "Note"}]"#,
            404,
        ),
    ] {
        let response = client
            .post(format!("{}{path}", server.url))
            .bearer_auth(&token)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status().as_u16(), expected, "{path} {body}");
        let answer: Value = response.json().await.expect("JSON");
        assert!(answer.is_string(), "the mock's Halo error shape: {answer}");
    }
    let response = client
        .post(format!("{}/api/Tickets", server.url))
        .body(r#"[{"id": 18000, "status_id": 2}]"#)
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 401, "no token, no write");
    assert!(server.state.writes().is_empty());
    assert_eq!(
        halo_ticket(&server, 18_000)["status_id"],
        halopsa::status::NEW
    );
    assert_eq!(server.state.store().notes.len(), 3);

    // Several in one request: answered as an array, each applied.
    let response = client
        .post(format!("{}/api/Tickets", server.url))
        .bearer_auth(&token)
        .json(&json!([{ "id": 18000, "status_id": 2 }, { "id": 18001, "status_id": 2 }]))
        .send()
        .await
        .expect("an answer");
    assert!(response.status().is_success());
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(answer.as_array().map(Vec::len), Some(2), "{answer}");
    assert_eq!(halo_ticket(&server, 18_001)["status_name"], "In Progress");
}

// ---------------------------------------------------------------- RMMs

#[tokio::test]
async fn rmm_connectors_take_no_writes() {
    let datto_server = datto::start(datto::fixture(1, at())).await;
    let ninja_server = ninjaone::start(ninjaone::fixture(1, at())).await;
    let (settings, credentials) = datto::configuration();
    let datto = connector_with(
        IntegrationKind::DattoRmm,
        &datto_server,
        settings,
        credentials,
    );
    let (settings, credentials) = ninjaone::configuration();
    let ninja = connector_with(
        IntegrationKind::Ninjaone,
        &ninja_server,
        settings,
        credentials,
    );
    for connector in [&datto, &ninja] {
        for write in [status("1"), note("x", false), assign("1", None)] {
            let error = connector
                .write_ticket("1", &write)
                .await
                .expect_err("unsupported");
            assert!(matches!(error, ConnectorError::Unsupported(_)), "{error:?}");
            assert!(!error.is_transient() && !error.refuses_the_record());
        }
    }
    assert_eq!(datto_server.state.requests(), 0);
    assert_eq!(ninja_server.state.requests(), 0);
}

#[tokio::test]
async fn autotask_an_oversized_note_is_cut_to_what_autotask_keeps_not_refused() {
    let server = autotask::start(autotask::fixture(1, 1, at())).await;
    let connector = autotask_connector(&server);
    let text = format!("Log excerpt\n{}", "x".repeat(40_000));
    let created = connector
        .write_ticket("30000", &note(&text, true))
        .await
        .expect("written, cut")
        .created_id
        .expect("the note's id");
    let sent = &server.state.writes()[0].body;
    assert_eq!(sent["title"], "Log excerpt");
    assert_eq!(
        sent["description"].as_str().unwrap().chars().count(),
        32_000
    );
    let changed = changed_tickets(&*connector, at()).await;
    let read = changed[0].notes.as_ref().expect("notes read");
    assert!(read.iter().any(|found| found.external_id == created));
}

#[tokio::test]
async fn concurrent_writes_each_land_once_with_their_own_ids() {
    let autotask_server = autotask::start(autotask::fixture(1, 2, at())).await;
    let halo_server = halopsa::start(halopsa::fixture(1, 2, at())).await;
    let autotask = autotask_connector(&autotask_server);
    let halo = halo_connector(&halo_server);
    for (connector, server, tickets) in [
        (&autotask, &autotask_server, ["30000", "30001"]),
        (&halo, &halo_server, ["18000", "18001"]),
    ] {
        let writes: Vec<_> = (0..8)
            .map(|n| {
                let connector = &**connector;
                let ticket = tickets[n % 2];
                async move {
                    connector
                        .write_ticket(ticket, &note(&format!("Note {n}"), n % 3 == 0))
                        .await
                }
            })
            .collect();
        let ids: Vec<String> = futures_util::future::join_all(writes)
            .await
            .into_iter()
            .map(|receipt| receipt.expect("written").created_id.expect("an id"))
            .collect();
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), 8, "one id each: {ids:?}");
        assert_eq!(server.state.writes().len(), 8);
    }
}

#[tokio::test]
async fn autotask_finds_a_written_note_by_its_text_and_no_other() {
    let server = autotask::start(autotask::fixture(2, 3, at())).await;
    let connector = autotask_connector(&server);
    let text = "Routed to Network\nRule: firewall tickets go to the network queue";
    assert_eq!(
        connector.find_note("30001", text).await.expect("read"),
        None,
        "not written yet"
    );
    let receipt = connector
        .write_ticket("30001", &note(text, true))
        .await
        .expect("written");
    let written = receipt.created_id.expect("the note id");
    let queries = server.state.requests_to("/TicketNotes/query");
    assert_eq!(
        connector.find_note("30001", text).await.expect("read"),
        Some(written.clone()),
        "title = first line, description = text, read back as the text"
    );
    assert_eq!(
        server.state.requests_to("/TicketNotes/query"),
        queries + 1,
        "one query for the ticket's notes"
    );
    // Surrounding blanks are not part of what Autotask keeps.
    assert_eq!(
        connector
            .find_note("30001", &format!("  {text}\n"))
            .await
            .expect("read"),
        Some(written)
    );
    // Another text, another ticket, a blank text: nothing.
    assert_eq!(
        connector
            .find_note("30001", "Routed to Network")
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        connector.find_note("30002", text).await.expect("read"),
        None
    );
    assert_eq!(
        connector.find_note("30001", "  ").await.expect("read"),
        None
    );
    assert!(matches!(
        connector.find_note("not-a-number", text).await,
        Err(ConnectorError::Config(_))
    ));
    assert!(server.state.writes().len() == 1, "finding writes nothing");
}

#[tokio::test]
async fn autotask_finds_an_oversized_note_under_the_text_it_was_cut_to() {
    let server = autotask::start(autotask::fixture(1, 1, at())).await;
    let connector = autotask_connector(&server);
    let text = format!("Long\n{}", "x".repeat(40_000));
    let receipt = connector
        .write_ticket("30000", &note(&text, false))
        .await
        .expect("written, cut");
    assert_eq!(
        connector.find_note("30000", &text).await.expect("read"),
        receipt.created_id
    );
}

#[tokio::test]
async fn halo_finds_a_written_note_by_its_text_and_no_other() {
    let server = halopsa::start(halopsa::fixture(2, 3, at())).await;
    let connector = halo_connector(&server);
    let text = "Routed to 2nd Line\nRule: servers go to 2nd line";
    assert_eq!(
        connector.find_note("18001", text).await.expect("read"),
        None
    );
    let receipt = connector
        .write_ticket("18001", &note(text, false))
        .await
        .expect("written");
    let written = receipt.created_id.expect("the action id");
    let reads = server.state.requests_to("/Actions");
    assert_eq!(
        connector.find_note("18001", text).await.expect("read"),
        Some(written)
    );
    assert_eq!(
        server.state.requests_to("/Actions"),
        reads + 1,
        "one GET of the ticket's actions"
    );
    assert_eq!(
        connector
            .find_note("18001", "Routed to 2nd Line")
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        connector.find_note("18002", text).await.expect("read"),
        None
    );
    assert_eq!(connector.find_note("18001", "").await.expect("read"), None);
    assert!(matches!(
        connector.find_note("x18001", text).await,
        Err(ConnectorError::Config(_))
    ));
    assert_eq!(server.state.writes().len(), 1, "finding writes nothing");
}
