//! The HaloPSA connector against the HaloPSA mock: client-credentials tokens (expiring
//! mid-walk), `pageinate` paging, `lastupdatefromdate`, retries, bad records, refused
//! credentials, status and priority lookups; closed tickets and inactive assets asked for; walks
//! that skip nothing when the list shrinks underneath them.
#![cfg(feature = "mock")]

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{connector_with, ids, range, walk};
use entities::enums::{IntegrationKind, Priority, SystemKind, TicketStatus};
use integrations::ConnectorError;
use integrations::connector::{Connector, Cursor};
use integrations::mock::halopsa::{self, status};
use integrations::mock::{Fault, MockServer};
use integrations::model::{Normalized, Record, Resource};
use serde_json::{Value, json};

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 5, 14, 0, 0).unwrap()
}

fn connector(server: &MockServer, page_size: u32) -> Box<dyn Connector> {
    let (mut settings, credentials) = halopsa::configuration();
    settings["pageSize"] = json!(page_size);
    connector_with(IntegrationKind::Halopsa, server, settings, credentials)
}

#[tokio::test]
async fn a_full_walk_reads_every_resource_over_several_pages() {
    let server = halopsa::start(halopsa::fixture(5, 7, at())).await;
    let connector = connector(&server, 2);

    let clients = walk(&*connector, Resource::Companies, Cursor::default()).await;
    assert_eq!(clients.len(), 3, "5 clients, 2 a page");
    assert_eq!(ids(&clients), range(57, 5));
    let tokens: Vec<_> = clients.iter().map(|page| page.next.clone()).collect();
    assert_eq!(
        tokens,
        [Some("v2.2.5".to_owned()), Some("v2.3.5".to_owned()), None],
        "the next page and the count it was read at"
    );

    let assets = walk(&*connector, Resource::Devices, Cursor::default()).await;
    assert_eq!(assets.len(), 5);
    assert_eq!(ids(&assets), range(2200, 10));
    let [Ok(Record::Device(server_asset)), Ok(Record::Device(laptop))] = &assets[0].records[..]
    else {
        panic!("two assets");
    };
    assert_eq!(server_asset.resource, "asset");
    assert_eq!(server_asset.company_id, "57");
    assert_eq!(server_asset.kind, SystemKind::Server);
    assert_eq!(server_asset.rmm_uid.as_deref(), Some("5500"), "ninjarmm_id");
    assert_eq!(server_asset.ip_address.as_deref(), Some("10.40.57.200"));
    assert_eq!(server_asset.serial_number.as_deref(), Some("HSN2200"));
    assert_eq!(laptop.kind, SystemKind::Laptop);
    assert_eq!(laptop.rmm_uid, None, "a 0 link is no link");

    let tickets = walk(&*connector, Resource::Tickets, Cursor::default()).await;
    assert_eq!(tickets.len(), 4);
    assert_eq!(ids(&tickets), range(18_000, 7));
    let Ok(Record::Ticket(ticket)) = &tickets[0].records[0] else {
        panic!("a ticket");
    };
    assert_eq!(ticket.status, status::NEW.to_string());
    assert_eq!(ticket.status_label.as_deref(), Some("New"));
    assert!(!ticket.closed, "1900-01-01 is no closing date");
    assert_eq!(ticket.requester.as_deref(), Some("Dana Ruiz"));
    assert_eq!(
        ticket.created_at,
        at() - Duration::hours(2),
        "zone-less is UTC"
    );
    assert_eq!(
        server.state.token_requests(),
        1,
        "one token for the whole walk"
    );
}

#[tokio::test]
async fn a_changed_since_walk_returns_only_changed_records() {
    let server = halopsa::start(halopsa::fixture(3, 6, at())).await;
    let later = at() + Duration::hours(1);
    {
        let mut store = server.state.store();
        store.tickets[1] = halopsa::ticket(18_001, 58, status::CLOSED, later);
        store.tickets[4] = halopsa::ticket(18_004, 58, status::IN_PROGRESS, later);
        store.companies[0] = halopsa::client(57, "Client 57 (renamed)", later);
        store.devices[5]["last_modified"] = json!(halopsa::stamp(later));
    }
    let connector = connector(&server, 1);
    let since = Cursor {
        changed_since: Some(at() + Duration::minutes(1)),
        page_token: None,
    };
    let tickets = walk(&*connector, Resource::Tickets, since.clone()).await;
    assert_eq!(tickets.len(), 2, "one a page");
    assert_eq!(ids(&tickets), ["18001", "18004"]);
    let Ok(Record::Ticket(closed)) = &tickets[0].records[0] else {
        panic!("a ticket");
    };
    assert!(closed.closed);
    assert_eq!(
        ids(&walk(&*connector, Resource::Companies, since.clone()).await),
        ["57"]
    );
    assert_eq!(
        ids(&walk(&*connector, Resource::Devices, since).await),
        ["2205"]
    );
}

#[tokio::test]
async fn a_429_storm_is_waited_out() {
    let server = halopsa::start(halopsa::fixture(3, 0, at())).await;
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
    let server = halopsa::start(halopsa::fixture(3, 0, at())).await;
    let connector = connector(&server, 10);
    server.state.inject([Fault::ServerError(503)]);
    let page = connector
        .page(Resource::Devices, None, None)
        .await
        .expect("the page after the 503");
    assert_eq!(page.records.len(), 6);
    assert_eq!(server.state.requests(), 2);
}

#[tokio::test]
async fn a_malformed_record_is_a_record_error_and_the_rest_are_read() {
    let server = halopsa::start(halopsa::fixture(2, 4, at())).await;
    server.state.store().tickets[1]["summary"] = json!("");
    server.state.store().tickets[2]["dateoccurred"] = json!("1900-01-01T00:00:00");
    let connector = connector(&server, 10);
    let page = connector
        .page(Resource::Tickets, None, None)
        .await
        .expect("a page");
    let refused: Vec<_> = page
        .records
        .iter()
        .filter_map(|record| record.as_ref().err())
        .collect();
    assert_eq!(page.records.len() - refused.len(), 2);
    assert_eq!(refused[0].external_id.as_deref(), Some("18001"));
    assert!(
        refused[0].reason.contains("summary"),
        "{}",
        refused[0].reason
    );
    assert_eq!(refused[1].external_id.as_deref(), Some("18002"));
    assert!(
        refused[1].reason.contains("dateoccurred"),
        "{}",
        refused[1].reason
    );
}

#[tokio::test]
async fn an_expired_token_mid_walk_is_replaced() {
    let server = halopsa::start(halopsa::fixture(2, 5, at())).await;
    let connector = connector(&server, 2);
    let mut found = Vec::new();
    let mut token = None;
    loop {
        let page = connector
            .page(Resource::Tickets, None, token)
            .await
            .expect("a page, with a new token if need be");
        // Every token issued so far stops working between the first and second page.
        if found.is_empty() {
            server.state.expire_tokens();
        }
        found.push(page.clone());
        token = page.next;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(ids(&found), range(18_000, 5));
    assert_eq!(
        server.state.token_requests(),
        2,
        "a new token after the 401"
    );
    assert_eq!(
        server.state.requests(),
        4 + 5,
        "3 pages, the refused request, and the actions of each ticket"
    );
}

#[tokio::test]
async fn refused_credentials_are_unauthorized() {
    let server = halopsa::start(halopsa::fixture(1, 0, at())).await;
    let (settings, mut credentials) = halopsa::configuration();
    credentials["clientSecret"] = json!("wrong");
    let error = connector_with(IntegrationKind::Halopsa, &server, settings, credentials)
        .check()
        .await
        .expect_err("a wrong secret");
    assert!(
        matches!(error, ConnectorError::Unauthorized(_)),
        "{error:?}"
    );

    // A hosted tenant without its `tenant` setting cannot get a token either.
    let (_, credentials) = halopsa::configuration();
    let error = connector_with(IntegrationKind::Halopsa, &server, json!({}), credentials)
        .check()
        .await
        .expect_err("no tenant");
    assert!(
        matches!(error, ConnectorError::Unauthorized(ref message) if message == "the token endpoint answered 400"),
        "{error:?}"
    );
    assert_eq!(server.state.requests(), 0, "no API call without a token");

    let message = connector(&server, 10).check().await.expect("a check");
    assert!(message.contains("1 client(s)"), "{message}");
}

#[tokio::test]
async fn lookups_suggest_from_statuses_and_priorities() {
    let server = halopsa::start(halopsa::fixture(1, 0, at())).await;
    let lookups = connector(&server, 10).lookups().await.expect("lookups");
    let statuses: Vec<_> = lookups
        .iter()
        .filter_map(|lookup| match lookup.suggested {
            Normalized::Status(status) => Some((lookup.value.as_str(), status)),
            Normalized::Priority(_) => None,
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("1", TicketStatus::New),
            ("2", TicketStatus::InProgress),
            ("3", TicketStatus::InProgress),
            ("4", TicketStatus::Resolved),
            ("18", TicketStatus::Waiting),
            ("9", TicketStatus::Closed),
        ]
    );
    let priorities: Vec<_> = lookups
        .iter()
        .filter_map(|lookup| match lookup.suggested {
            Normalized::Priority(priority) => Some((lookup.value.as_str(), priority)),
            Normalized::Status(_) => None,
        })
        .collect();
    assert_eq!(
        priorities,
        [
            ("1", Priority::Critical),
            ("2", Priority::High),
            ("3", Priority::Medium),
            ("4", Priority::Low),
        ],
        "one entry per level though two SLAs list them"
    );
}

#[tokio::test]
async fn the_mock_refuses_what_halo_would_misread() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = halopsa::start(halopsa::fixture(2, 2, at())).await;
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!(
            "{}/auth/token?tenant={}",
            server.url,
            halopsa::TENANT
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&scope=all",
            halopsa::CLIENT_ID,
            halopsa::CLIENT_SECRET
        ))
        .send()
        .await
        .expect("a token response")
        .json()
        .await
        .expect("JSON");
    let bearer = token["access_token"].as_str().expect("a token").to_owned();
    let get = |query: &'static str| {
        http.get(format!("{}/api/Tickets?{query}", server.url))
            .bearer_auth(&bearer)
            .send()
    };
    let misspelt = get("pageinate=true&lastupdatedfromdate=2025-03-01T00:00:00")
        .await
        .expect("a response");
    assert_eq!(misspelt.status(), 400);
    let zoned = get("lastupdatefromdate=2025-03-01T00:00:00Z")
        .await
        .expect("a response");
    assert_eq!(zoned.status(), 400);
    let fine = get("lastupdatefromdate=2025-03-01T00:00:00")
        .await
        .expect("a response");
    assert_eq!(fine.status(), 200);
    let body: Value = fine.json().await.expect("JSON");
    assert_eq!(body["record_count"], 2);
}

/// Issue 14 item 1: Halo leaves closed tickets and inactive assets out unless asked.
#[tokio::test]
async fn closed_tickets_and_inactive_assets_are_asked_for() {
    let mut store = halopsa::fixture(2, 4, at());
    store.tickets[1] = halopsa::ticket(18_001, 58, status::CLOSED, at());
    store.devices[1]["inactive"] = json!(true);
    let server = halopsa::start(store).await;
    let connector = connector(&server, 100);

    let tickets = walk(&*connector, Resource::Tickets, Cursor::default()).await;
    assert_eq!(ids(&tickets), range(18_000, 4), "the closed ticket too");
    let Ok(Record::Ticket(closed)) = &tickets[0].records[1] else {
        panic!("a ticket");
    };
    assert!(closed.closed);
    assert_eq!(closed.status, status::CLOSED.to_string());

    let assets = walk(&*connector, Resource::Devices, Cursor::default()).await;
    assert_eq!(ids(&assets), range(2200, 4), "the inactive asset too");
    let active: Vec<bool> = assets[0]
        .records
        .iter()
        .map(|record| match record {
            Ok(Record::Device(device)) => device.active,
            other => panic!("a device, not {other:?}"),
        })
        .collect();
    assert_eq!(active, [true, false, true, true]);
}

/// Issue 14 item 6 (Halo): the serial is `key_field2`, and the asset type wins over an OS guess.
#[tokio::test]
async fn the_serial_is_read_and_the_asset_type_wins_over_the_os() {
    let mut store = halopsa::fixture(1, 0, at());
    store.devices[1]["key_field2"] = json!("5CG2481XQZ");
    store.devices[1]["fields"] = json!([
        { "id": 14, "name": "Operating System", "value": "Windows Server 2022" }
    ]);
    let server = halopsa::start(store).await;
    let connector = connector(&server, 100);
    let assets = walk(&*connector, Resource::Devices, Cursor::default()).await;
    let Ok(Record::Device(laptop)) = &assets[0].records[1] else {
        panic!("a device");
    };
    assert_eq!(laptop.serial_number.as_deref(), Some("5CG2481XQZ"));
    assert_eq!(laptop.kind_raw.as_deref(), Some("Laptop"));
    assert_eq!(laptop.kind, SystemKind::Laptop, "not SERVER from the OS");
}

/// Issue 14 item 2: records that leave the list between two pages (or between a crash and the
/// resume) move the rest up; the walk steps back instead of skipping the records that moved.
#[tokio::test]
async fn a_list_that_shrinks_between_pages_skips_nothing() {
    let server = halopsa::start(halopsa::fixture(2, 7, at())).await;
    let connector = connector(&server, 2);
    let first = connector
        .page(Resource::Tickets, None, None)
        .await
        .expect("page 1");
    assert_eq!(ids(std::slice::from_ref(&first)), range(18_000, 2));
    // Both records of page 1 are deleted at Halo before page 2 is read: the list shifts by two.
    server
        .state
        .store()
        .tickets
        .retain(|ticket| ticket["id"] != 18_000 && ticket["id"] != 18_001);
    let rest = walk(
        &*connector,
        Resource::Tickets,
        Cursor {
            changed_since: None,
            page_token: first.next.clone(),
        },
    )
    .await;
    assert_eq!(
        ids(&rest),
        range(18_002, 5),
        "18002 and 18003 moved onto page 1 and are read all the same"
    );
}

/// Issue 14 item 2: a bare page number (the token of an older version, left by an interrupted
/// run) starts the walk over instead of failing or resuming at a shifted position.
#[tokio::test]
async fn an_unreadable_token_starts_the_walk_over() {
    let server = halopsa::start(halopsa::fixture(2, 7, at())).await;
    let connector = connector(&server, 2);
    for old in ["3", "v2.x.7", "garbage"] {
        let page = connector
            .page(Resource::Tickets, None, Some(old.to_owned()))
            .await
            .expect("a page");
        assert_eq!(ids(std::slice::from_ref(&page)), range(18_000, 2), "{old}");
        assert_eq!(page.next.as_deref(), Some("v2.2.7"));
    }
}

#[tokio::test]
async fn actions_are_read_for_tickets_of_mapped_clients_at_most_note_concurrency_at_once() {
    let mut store = halopsa::fixture(2, 8, at());
    let mut html = halopsa::action(4_410, 18_002, "", true, at());
    html["note_html"] = json!("<div>Swapped the <b>PSU</b>.<br/>Works &amp; boots.</div>");
    store.notes.push(html);
    let server = halopsa::start(store).await;
    server
        .state
        .set_latency(std::time::Duration::from_millis(10));
    let (mut settings, credentials) = halopsa::configuration();
    settings["noteConcurrency"] = json!(2);
    let connector = common::connector_mapped(
        IntegrationKind::Halopsa,
        &server,
        settings,
        credentials,
        Some(&["57"]),
    );
    let page = connector
        .page(Resource::Tickets, None, None)
        .await
        .expect("a page");
    let mut asked = 0;
    for record in &page.records {
        let Ok(Record::Ticket(ticket)) = record else {
            panic!("{record:?}")
        };
        if ticket.company_id == "57" {
            asked += 1;
            let notes = ticket.notes.as_ref().expect("a mapped client's ticket");
            match ticket.external_id.as_str() {
                "18000" => {
                    assert_eq!(notes.len(), 2, "the system action is left out");
                    assert!(!notes[0].internal && notes[1].internal);
                    assert_eq!(notes[0].author.as_deref(), Some("Sam Agent"));
                    assert_eq!(notes[0].created_at, at());
                }
                "18002" => {
                    assert_eq!(notes.len(), 1);
                    assert_eq!(notes[0].body, "Swapped the PSU.\nWorks & boots.");
                }
                _ => assert!(notes.is_empty()),
            }
        } else {
            assert_eq!(ticket.notes, None, "client 58 is not mapped");
        }
    }
    assert_eq!(asked, 4);
    assert_eq!(server.state.max_in_flight(), 2);

    // A ticket whose actions are refused fails alone.
    server.state.refuse_path("/Actions", 403);
    let page = connector
        .page(Resource::Tickets, None, None)
        .await
        .expect("the page: only its tickets fail");
    assert_eq!(
        page.records.iter().filter(|record| record.is_err()).count(),
        4
    );
}
