//! The Autotask connector against the Autotask mock: zone discovery, query paging through
//! `nextPageUrl`, changed-since filters, retries, bad records, refused credentials, picklists.
#![cfg(feature = "mock")]

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{connector_with, ids, range, walk};
use entities::enums::{IntegrationKind, Priority, SystemKind, TicketStatus};
use integrations::ConnectorError;
use integrations::connector::{Connector, Cursor};
use integrations::mock::autotask::{self, status};
use integrations::mock::{Fault, MockServer};
use integrations::model::{Normalized, Record, Resource};
use serde_json::{Value, json};

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 5, 14, 0, 0).unwrap()
}

fn connector(server: &MockServer, page_size: u32) -> Box<dyn Connector> {
    let (_, credentials) = autotask::configuration();
    connector_with(
        IntegrationKind::Autotask,
        server,
        json!({ "pageSize": page_size }),
        credentials,
    )
}

#[tokio::test]
async fn a_full_walk_reads_every_resource_over_several_pages() {
    let server = autotask::start(autotask::fixture(5, 7, at())).await;
    let connector = connector(&server, 2);

    let companies = walk(&*connector, Resource::Companies, Cursor::default()).await;
    assert_eq!(companies.len(), 3, "5 companies, 2 a page");
    assert_eq!(ids(&companies), range(170, 5));
    for page in &companies[..2] {
        let next = page.next.as_deref().expect("a next page");
        assert!(
            next.starts_with(&format!(
                "{}/atservicesrest/v1.0/Companies/query/next?",
                server.url
            )),
            "the token is the absolute nextPageUrl: {next}"
        );
    }

    let devices = walk(&*connector, Resource::Devices, Cursor::default()).await;
    assert_eq!(devices.len(), 5);
    assert_eq!(ids(&devices), range(40, 10));
    let Ok(Record::Device(server_ci)) = &devices[0].records[0] else {
        panic!("a configuration item");
    };
    assert_eq!(server_ci.resource, "configuration_item");
    assert_eq!(server_ci.company_id, "170");
    assert_eq!(server_ci.kind, SystemKind::Server, "from the audited OS");
    assert_eq!(server_ci.rmm_uid.as_deref(), Some("rmm-uid-40"));
    assert_eq!(server_ci.hostname.as_deref(), Some("C170-SRV-01"));

    let tickets = walk(&*connector, Resource::Tickets, Cursor::default()).await;
    assert_eq!(tickets.len(), 4);
    assert_eq!(ids(&tickets), range(30_000, 7));
    let Ok(Record::Ticket(ticket)) = &tickets[0].records[0] else {
        panic!("a ticket");
    };
    assert_eq!(ticket.status, status::NEW.to_string());
    assert!(!ticket.closed);
    assert_eq!(ticket.priority.as_deref(), Some("2"));
    assert_eq!(ticket.created_at, at() - Duration::hours(2));
}

#[tokio::test]
async fn a_changed_since_walk_returns_only_changed_records() {
    let server = autotask::start(autotask::fixture(3, 6, at())).await;
    let later = at() + Duration::hours(1);
    {
        let mut store = server.state.store();
        store.tickets[1] = autotask::ticket(30_001, 171, status::COMPLETE, later);
        store.tickets[4] = autotask::ticket(30_004, 171, status::IN_PROGRESS, later);
        store.companies[2] = autotask::company(172, "Company 172 (renamed)", later);
        // lastModifiedTime, not lastActivityDate, marks a changed configuration item.
        store.devices[3]["lastModifiedTime"] = json!(autotask::stamp(later));
    }
    // One record a page, so the filter has to survive into nextPageUrl.
    let connector = connector(&server, 1);
    let since = Cursor {
        changed_since: Some(at()),
        page_token: None,
    };

    let tickets = walk(&*connector, Resource::Tickets, since.clone()).await;
    assert_eq!(ids(&tickets), ["30001", "30004"]);
    let Ok(Record::Ticket(completed)) = &tickets[0].records[0] else {
        panic!("a ticket");
    };
    assert!(completed.closed, "Complete is closed");
    assert_eq!(
        ids(&walk(&*connector, Resource::Companies, since.clone()).await),
        ["172"]
    );
    assert_eq!(
        ids(&walk(&*connector, Resource::Devices, since).await),
        ["43"]
    );
}

#[tokio::test]
async fn a_429_storm_is_waited_out() {
    let server = autotask::start(autotask::fixture(3, 0, at())).await;
    let connector = connector(&server, 10);
    server
        .state
        .inject([Fault::RateLimited { retry_after: 0 }; 3]);
    let page = connector
        .page(Resource::Companies, None, None)
        .await
        .expect("the page after the storm");
    assert_eq!(page.records.len(), 3);
    assert_eq!(server.state.requests(), 4, "three refused, one served");
}

#[tokio::test]
async fn a_server_error_is_retried() {
    let server = autotask::start(autotask::fixture(3, 0, at())).await;
    let connector = connector(&server, 10);
    server.state.inject([Fault::ServerError(503)]);
    let page = connector
        .page(Resource::Devices, None, None)
        .await
        .expect("the page after the 503");
    assert_eq!(page.records.len(), 6);
    assert_eq!(
        server.state.requests(),
        3,
        "the 503, its retry, and the type picklist"
    );
}

#[tokio::test]
async fn a_malformed_record_is_a_record_error_and_the_rest_are_read() {
    let server = autotask::start(autotask::fixture(2, 4, at())).await;
    server.state.store().tickets[2]["title"] = Value::Null;
    server.state.store().tickets[3]["createDate"] = json!("last Tuesday");
    let connector = connector(&server, 10);
    let page = connector
        .page(Resource::Tickets, None, None)
        .await
        .expect("a page");
    let (read, refused): (Vec<_>, Vec<_>) = page.records.iter().partition(|record| record.is_ok());
    assert_eq!(read.len(), 2);
    let refused: Vec<_> = refused
        .into_iter()
        .map(|record| record.as_ref().unwrap_err())
        .collect();
    assert_eq!(refused[0].external_id.as_deref(), Some("30002"));
    assert!(refused[0].reason.contains("title"), "{}", refused[0].reason);
    assert_eq!(refused[1].external_id.as_deref(), Some("30003"));
    assert!(
        refused[1].reason.contains("createDate"),
        "{}",
        refused[1].reason
    );
}

#[tokio::test]
async fn refused_credentials_are_unauthorized_after_one_zone_lookup_again() {
    let server = autotask::start(autotask::fixture(1, 0, at())).await;
    let (_, mut credentials) = autotask::configuration();
    credentials["secret"] = json!("wrong");
    let connector = connector_with(IntegrationKind::Autotask, &server, json!({}), credentials);
    let error = connector.check().await.expect_err("a wrong secret");
    assert!(
        matches!(error, ConnectorError::Unauthorized(_)),
        "{error:?}"
    );
    assert_eq!(
        server.state.requests(),
        2,
        "once, then again in a fresh zone"
    );

    let (_, mut credentials) = autotask::configuration();
    credentials["username"] = json!("nobody@example.com");
    let connector = connector_with(IntegrationKind::Autotask, &server, json!({}), credentials);
    let error = connector.check().await.expect_err("an unknown user");
    assert!(
        matches!(error, ConnectorError::Unauthorized(ref message) if message.contains("zone")),
        "{error:?}"
    );
    assert_eq!(server.state.requests(), 2, "no API call without a zone");
}

#[tokio::test]
async fn check_reports_the_zone_and_the_request_budget() {
    let server = autotask::start(autotask::fixture(1, 0, at())).await;
    let message = connector(&server, 10).check().await.expect("a check");
    assert!(message.contains(&server.url), "{message}");
    assert!(message.contains("of 10000 requests"), "{message}");
}

#[tokio::test]
async fn a_page_token_off_the_zone_host_is_refused_before_sending_the_secret() {
    let server = autotask::start(autotask::fixture(1, 0, at())).await;
    let connector = connector(&server, 10);
    let foreign = "http://attacker.example/atservicesrest/v1.0/Tickets/query/next?paging=%7B%7D";
    let error = connector
        .page(Resource::Tickets, None, Some(foreign.into()))
        .await
        .expect_err("a foreign host");
    assert!(matches!(error, ConnectorError::Config(_)), "{error:?}");
    let other_entity = format!(
        "{}/atservicesrest/v1.0/Companies/query/next?paging=%7B%7D",
        server.url
    );
    let error = connector
        .page(Resource::Tickets, None, Some(other_entity))
        .await
        .expect_err("a companies token for tickets");
    assert!(matches!(error, ConnectorError::Config(_)), "{error:?}");
    assert_eq!(server.state.requests(), 0);
}

#[tokio::test]
async fn lookups_suggest_from_the_picklists() {
    let server = autotask::start(autotask::fixture(1, 0, at())).await;
    let lookups = connector(&server, 10).lookups().await.expect("lookups");
    let suggested = |value: &str, status: bool| {
        lookups
            .iter()
            .find(|lookup| {
                lookup.value == value && matches!(lookup.suggested, Normalized::Status(_)) == status
            })
            .map(|lookup| lookup.suggested)
    };
    assert_eq!(
        suggested("5", true),
        Some(Normalized::Status(TicketStatus::Closed))
    );
    assert_eq!(
        suggested("1", true),
        Some(Normalized::Status(TicketStatus::New))
    );
    assert_eq!(
        suggested("7", true),
        Some(Normalized::Status(TicketStatus::Waiting))
    );
    assert_eq!(
        suggested("8", true),
        Some(Normalized::Status(TicketStatus::InProgress))
    );
    assert_eq!(
        suggested("4", false),
        Some(Normalized::Priority(Priority::Critical))
    );
    assert_eq!(
        suggested("1", false),
        Some(Normalized::Priority(Priority::High))
    );
    assert_eq!(
        suggested("2", false),
        Some(Normalized::Priority(Priority::Medium))
    );
    assert_eq!(
        suggested("3", false),
        Some(Normalized::Priority(Priority::Low))
    );
    assert_eq!(lookups.len(), 7 + 4);
}

#[tokio::test]
async fn the_mock_refuses_unknown_filter_fields_like_autotask() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = autotask::start(autotask::fixture(1, 0, at())).await;
    let response = reqwest::Client::new()
        .post(format!("{}/atservicesrest/v1.0/ConfigurationItems/query", server.url))
        .header("UserName", autotask::USERNAME)
        .header("Secret", autotask::SECRET)
        .header("ApiIntegrationCode", autotask::INTEGRATION_CODE)
        .json(&json!({ "filter": [{ "op": "gt", "field": "lastActivityDate", "value": "2025-01-01T00:00:00Z" }] }))
        .send()
        .await
        .expect("a response");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(
        body,
        json!({ "errors": ["Unable to find lastActivityDate in the ConfigurationItems entity."] })
    );
}

/// Issue 14 item 6: the `configurationItemType` picklist names the kind (the OS only hints),
/// and a configuration item with `isActive` false is read as inactive.
#[tokio::test]
async fn configuration_item_types_and_inactive_items_are_read() {
    let mut store = autotask::fixture(1, 0, at());
    let printer = autotask::configuration_item(90, 170, "C170-PRN-01", "", at());
    let mut switch = autotask::configuration_item(91, 170, "C170-SW-01", "", at());
    store.devices.push(printer);
    store.devices[2]["configurationItemType"] = json!(autotask::ci_type::PRINTER);
    switch["configurationItemType"] = json!(autotask::ci_type::NETWORK_DEVICE);
    switch["isActive"] = json!(false);
    store.devices.push(switch);
    let server = autotask::start(store).await;
    let connector = connector(&server, 10);
    let pages = walk(&*connector, Resource::Devices, Cursor::default()).await;
    let devices: Vec<(String, SystemKind, Option<String>, bool)> = pages[0]
        .records
        .iter()
        .map(|record| match record {
            Ok(Record::Device(device)) => (
                device.external_id.clone(),
                device.kind,
                device.kind_raw.clone(),
                device.active,
            ),
            other => panic!("a device, not {other:?}"),
        })
        .collect();
    assert_eq!(
        devices,
        [
            (
                "40".to_owned(),
                SystemKind::Server,
                Some("Server".to_owned()),
                true
            ),
            (
                "41".to_owned(),
                SystemKind::Workstation,
                Some("Workstation".to_owned()),
                true
            ),
            (
                "90".to_owned(),
                SystemKind::Printer,
                Some("Printer".to_owned()),
                true
            ),
            (
                "91".to_owned(),
                SystemKind::NetworkDevice,
                Some("Network Device".to_owned()),
                false
            ),
        ]
    );
}

/// The notes each ticket of `page` carries, by ticket id (`None`: not read).
fn notes_by_ticket(
    page: &integrations::model::Page,
) -> Vec<(String, Option<Vec<integrations::model::TicketNote>>)> {
    page.records
        .iter()
        .filter_map(|record| match record {
            Ok(Record::Ticket(ticket)) => Some((ticket.external_id.clone(), ticket.notes.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn ticket_notes_are_read_in_bulk_for_mapped_companies_over_every_page_of_the_query() {
    // 300 tickets over companies 170 and 171, four notes on each (two internal): the 150 of
    // company 170 have 600, two pages of the query.
    let mut store = autotask::fixture(2, 300, at());
    store.notes = (0..300)
        .flat_map(|n| {
            [1, 2, 3, 4].map(|k| {
                let publish = if k % 2 == 1 { 1 } else { 2 };
                autotask::note(100_000 + n * 4 + k, 30_000 + n, "Checked.", publish, at())
            })
        })
        .collect();
    let server = autotask::start(store).await;
    let (_, credentials) = autotask::configuration();
    let connector = common::connector_mapped(
        IntegrationKind::Autotask,
        &server,
        json!({ "pageSize": 500 }),
        credentials,
        Some(&["170"]),
    );
    let page = connector
        .page(Resource::Tickets, None, None)
        .await
        .expect("a page");
    let notes = notes_by_ticket(&page);
    assert_eq!(notes.len(), 300);
    for (ticket, found) in &notes {
        let number: i64 = ticket.parse().unwrap();
        if number % 2 == 0 {
            let found = found
                .as_ref()
                .expect("a mapped company's ticket has its notes");
            assert_eq!(found.len(), 4, "{ticket}");
            assert_eq!(
                found.iter().filter(|note| note.internal).count(),
                2,
                "publish 2 is internal"
            );
            assert_eq!(found[0].author.as_deref(), Some("resource 29682885"));
            assert_eq!(found[0].created_at, at());
        } else {
            assert_eq!(found, &None, "company 171 is not mapped: {ticket}");
        }
    }
    let by_path = server.state.requests_by_path();
    let count = |suffix: &str| {
        by_path
            .iter()
            .filter(|(path, _)| path.ends_with(suffix))
            .map(|(_, count)| count)
            .sum::<usize>()
    };
    assert_eq!(count("/TicketNotes/query"), 1, "{by_path:?}");
    assert_eq!(count("/TicketNotes/query/next"), 1, "600 notes, two pages");
}

#[tokio::test]
async fn a_refused_notes_query_fails_its_tickets_alone_and_notes_can_be_turned_off() {
    let server = autotask::start(autotask::fixture(1, 3, at())).await;
    let connector = connector(&server, 10);
    server.state.refuse_path("/TicketNotes/query", 403);
    let page = connector
        .page(Resource::Tickets, None, None)
        .await
        .expect("the page: only its tickets fail");
    assert_eq!(page.records.len(), 3);
    for record in &page.records {
        let failed = record.as_ref().expect_err("the notes were refused");
        assert!(failed.reason.contains("notes cannot be read"), "{failed:?}");
        assert!(failed.external_id.is_some());
    }
    server.state.allow_all();
    let page = connector
        .page(Resource::Tickets, None, None)
        .await
        .expect("a page");
    assert_eq!(notes_by_ticket(&page)[0].1.as_ref().map(Vec::len), Some(2));

    server.state.store().notes[0]["createDateTime"] = Value::Null;
    let page = connector
        .page(Resource::Tickets, None, None)
        .await
        .expect("a page");
    assert_eq!(
        notes_by_ticket(&page)[0].1.as_ref().map(Vec::len),
        Some(1),
        "a note without a time is left out"
    );

    let (_, credentials) = autotask::configuration();
    let quiet = connector_with(
        IntegrationKind::Autotask,
        &server,
        json!({ "syncNotes": false }),
        credentials,
    );
    let before = server.state.requests();
    let page = quiet
        .page(Resource::Tickets, None, None)
        .await
        .expect("a page");
    assert!(
        notes_by_ticket(&page)
            .iter()
            .all(|(_, notes)| notes.is_none())
    );
    assert_eq!(server.state.requests() - before, 1, "the ticket page alone");
}
