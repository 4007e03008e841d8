//! The ConnectWise connector against the ConnectWise mock (issue 14): forward-only paging sends
//! only what the mode documents (the mock refuses `orderBy` beside it, as a strict server
//! would), vendor close instants and inactive configurations are read.
#![cfg(feature = "mock")]

mod common;

use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use common::{connector_with, ids, walk};
use entities::enums::IntegrationKind;
use integrations::connector::Cursor;
use integrations::mock::connectwise::{self, status};
use integrations::model::{Record, Resource};
use serde_json::{Value, json};

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 5, 14, 0, 0).unwrap()
}

#[tokio::test]
async fn the_mock_refuses_order_by_beside_forward_only() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = connectwise::start(connectwise::fixture(1, 3, at())).await;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}+{}:{}",
        connectwise::COMPANY,
        connectwise::PUBLIC_KEY,
        connectwise::PRIVATE_KEY
    ));
    let get = |query: &'static str, forward_only: bool| {
        let mut request = reqwest::Client::new()
            .get(format!(
                "{}/{}/apis/3.0/service/tickets?{query}",
                server.url,
                connectwise::CODEBASE
            ))
            .header("authorization", format!("Basic {auth}"))
            .header("clientId", "0d2c5e8e-tandem-tests");
        if forward_only {
            request = request.header("pagination-type", "forward-only");
        }
        request.send()
    };
    let both = get("pageSize=2&orderBy=id%20asc", true).await.unwrap();
    assert_eq!(both.status(), 400);
    let body: Value = both.json().await.unwrap();
    assert_eq!(body["code"], "InvalidObject", "{body}");
    assert_eq!(
        get("pageSize=2", true).await.unwrap().status(),
        200,
        "forward-only alone"
    );
    assert_eq!(
        get("pageSize=2&orderBy=id%20asc", false)
            .await
            .unwrap()
            .status(),
        200,
        "orderBy with page numbers"
    );
}

/// Item 8: a first sync walks every list forward-only without `orderBy` (the mock would refuse
/// it); item 4 and 6: `closedDate` and an inactive configuration are read.
#[tokio::test]
async fn a_forward_only_walk_reads_everything_with_the_vendors_facts() {
    let mut store = connectwise::fixture(2, 5, at());
    store.tickets[0] = connectwise::ticket(
        store.tickets[0]["id"].as_i64().unwrap(),
        250,
        status::CLOSED,
        at(),
    );
    store.devices[0]["activeFlag"] = json!(false);
    let ticket_ids: Vec<String> = store
        .tickets
        .iter()
        .map(|found| found["id"].to_string())
        .collect();
    let server = connectwise::start(store).await;
    let (mut settings, credentials) = connectwise::configuration();
    settings["pageSize"] = json!(2);
    let connector = connector_with(
        IntegrationKind::ConnectwiseManage,
        &server,
        settings,
        credentials,
    );
    let tickets = walk(&*connector, Resource::Tickets, Cursor::default()).await;
    assert_eq!(ids(&tickets), ticket_ids, "three forward-only pages");
    let Ok(Record::Ticket(closed)) = &tickets[0].records[0] else {
        panic!("a ticket");
    };
    assert_eq!(
        closed.closed_at,
        Some(at() - chrono::Duration::hours(1)),
        "closedDate"
    );
    let Ok(Record::Ticket(open)) = &tickets[0].records[1] else {
        panic!("a ticket");
    };
    assert_eq!(open.closed_at, None);
    let devices = walk(&*connector, Resource::Devices, Cursor::default()).await;
    let active: Vec<bool> = devices
        .iter()
        .flat_map(|page| &page.records)
        .map(|record| match record {
            Ok(Record::Device(device)) => device.active,
            other => panic!("a device, not {other:?}"),
        })
        .collect();
    assert_eq!(active, [false, true, true, true]);
}
