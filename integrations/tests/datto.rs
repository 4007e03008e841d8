//! The Datto RMM connector against the Datto RMM mock: the password grant with the public
//! client (tokens expiring mid-walk), 0-based `page`/`max` paging to an empty or null
//! `nextPageUrl`, open then resolved alerts, retries, bad records, refused credentials.
#![cfg(feature = "mock")]

mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::{connector_with, ids, walk};
use entities::enums::{IntegrationKind, Priority, SystemKind};
use integrations::ConnectorError;
use integrations::connector::{Connector, Cursor};
use integrations::mock::datto::{self, uid};
use integrations::mock::{Fault, MockServer};
use integrations::model::{Record, Resource};
use serde_json::{Value, json};

const SITE: u32 = 0x5173;
const DEVICE: u32 = 0xde71;
const ALERT: u32 = 0xa1e7;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 5, 14, 0, 0).unwrap()
}

fn connector(server: &MockServer, page_size: u32) -> Box<dyn Connector> {
    let (_, credentials) = datto::configuration();
    connector_with(
        IntegrationKind::DattoRmm,
        server,
        json!({ "pageSize": page_size }),
        credentials,
    )
}

fn uids(kind: u32, numbers: impl IntoIterator<Item = u64>) -> Vec<String> {
    numbers.into_iter().map(|n| uid(kind, n)).collect()
}

#[tokio::test]
async fn a_full_walk_reads_every_resource_over_several_pages() {
    let server = datto::start(datto::fixture(5, at())).await;
    let connector = connector(&server, 2);
    assert!(
        [Resource::Companies, Resource::Devices, Resource::Alerts]
            .iter()
            .all(|resource| !connector.filters_by_change(*resource)),
        "Datto has no changed-since filter"
    );

    // Sites end on a null nextPageUrl.
    let sites = walk(&*connector, Resource::Companies, Cursor::default()).await;
    let tokens: Vec<_> = sites.iter().map(|page| page.next.clone()).collect();
    assert_eq!(tokens, [Some("1".to_owned()), Some("2".to_owned()), None]);
    assert_eq!(ids(&sites), uids(SITE, 0..5));

    // Devices end on an empty nextPageUrl.
    let devices = walk(&*connector, Resource::Devices, Cursor::default()).await;
    assert_eq!(devices.len(), 5);
    assert_eq!(ids(&devices), uids(DEVICE, 0..10));
    let [
        Ok(Record::Device(server_device)),
        Ok(Record::Device(laptop)),
    ] = &devices[0].records[..]
    else {
        panic!("two devices");
    };
    assert_eq!(server_device.resource, "device");
    assert_eq!(server_device.company_id, uid(SITE, 0), "the siteUid");
    assert_eq!(server_device.kind, SystemKind::Server);
    assert_eq!(
        server_device.rmm_uid.as_deref(),
        Some(uid(DEVICE, 0).as_str())
    );
    assert_eq!(server_device.ip_address.as_deref(), Some("10.20.0.0"));
    assert_eq!(laptop.kind, SystemKind::Laptop);
    assert_eq!(laptop.kind_raw.as_deref(), Some("Laptop"));

    // Five open alerts over three pages, then five resolved ones over three more.
    let alerts = walk(&*connector, Resource::Alerts, Cursor::default()).await;
    let tokens: Vec<_> = alerts.iter().map(|page| page.next.clone()).collect();
    let expected: Vec<Option<String>> =
        ["open:1", "open:2", "resolved:0", "resolved:1", "resolved:2"]
            .into_iter()
            .map(|token| Some(token.to_owned()))
            .chain([None])
            .collect();
    assert_eq!(tokens, expected);
    let open: Vec<u64> = (0..5).map(|n| 2 * n).collect();
    let resolved: Vec<u64> = (0..5).map(|n| 2 * n + 1).collect();
    assert_eq!(
        ids(&alerts),
        [uids(ALERT, open), uids(ALERT, resolved)].concat()
    );
    let Ok(Record::Alert(first)) = &alerts[0].records[0] else {
        panic!("an alert");
    };
    assert!(!first.resolved);
    assert_eq!(first.severity, Priority::High);
    assert_eq!(first.device_id.as_deref(), Some(uid(DEVICE, 0).as_str()));
    assert_eq!(first.company_id.as_deref(), Some(uid(SITE, 0).as_str()));
    assert_eq!(first.raised_at, at(), "epoch milliseconds");
    let Ok(Record::Alert(last)) = &alerts[5].records[0] else {
        panic!("an alert");
    };
    assert!(last.resolved);
    assert_eq!(last.severity, Priority::Medium, "Moderate");
    assert_eq!(last.severity_raw.as_deref(), Some("Moderate"));
}

#[tokio::test]
async fn a_429_storm_is_waited_out() {
    let server = datto::start(datto::fixture(3, at())).await;
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
    let server = datto::start(datto::fixture(3, at())).await;
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
async fn a_malformed_record_is_a_record_error_with_its_uid() {
    let server = datto::start(datto::fixture(2, at())).await;
    server.state.store().devices[1]
        .as_object_mut()
        .expect("a device")
        .remove("hostname");
    server.state.store().alerts[2]["timestamp"] = json!("soon");
    let connector = connector(&server, 10);

    let page = connector
        .page(Resource::Devices, None, None)
        .await
        .expect("a page");
    assert_eq!(
        page.records.iter().filter(|record| record.is_ok()).count(),
        3
    );
    let refused = page.records[1].as_ref().expect_err("no hostname");
    assert_eq!(
        refused.external_id,
        Some(uid(DEVICE, 1)),
        "the uid, not the numeric id"
    );
    assert!(refused.reason.contains("hostname"), "{}", refused.reason);

    let page = connector
        .page(Resource::Alerts, None, None)
        .await
        .expect("a page");
    assert_eq!(page.records.len(), 2, "the open alerts");
    let refused = page.records[1].as_ref().expect_err("no timestamp");
    assert_eq!(refused.external_id, Some(uid(ALERT, 2)));
}

#[tokio::test]
async fn an_expired_token_mid_walk_is_replaced() {
    let server = datto::start(datto::fixture(3, at())).await;
    let connector = connector(&server, 2);
    let mut found = Vec::new();
    let mut token = None;
    loop {
        let page = connector
            .page(Resource::Devices, None, token)
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
    assert_eq!(ids(&found), uids(DEVICE, 0..6));
    assert_eq!(
        server.state.token_requests(),
        2,
        "a new token after the 401"
    );
    assert_eq!(
        server.state.requests(),
        4,
        "3 pages and the refused request"
    );
}

#[tokio::test]
async fn refused_credentials_are_unauthorized() {
    let server = datto::start(datto::fixture(1, at())).await;
    let (_, mut credentials) = datto::configuration();
    credentials["apiSecret"] = json!("WRONG");
    let error = connector_with(IntegrationKind::DattoRmm, &server, json!({}), credentials)
        .check()
        .await
        .expect_err("a wrong secret");
    assert!(
        matches!(error, ConnectorError::Unauthorized(ref message) if message == "the token endpoint answered 400"),
        "{error:?}"
    );
    assert_eq!(server.state.requests(), 0, "no API call without a token");

    let connector = connector(&server, 10);
    let message = connector.check().await.expect("a check");
    assert!(message.contains("Acme MSP"), "{message}");
    assert!(connector.lookups().await.expect("lookups").is_empty());
}

#[tokio::test]
async fn the_mock_refuses_parameters_datto_does_not_take() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = datto::start(datto::fixture(1, at())).await;
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{}/auth/oauth/token", server.url))
        .basic_auth("public-client", Some("public"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=password&username={}&password={}",
            datto::API_KEY,
            datto::API_SECRET
        ))
        .send()
        .await
        .expect("a token response")
        .json()
        .await
        .expect("JSON");
    let bearer = token["access_token"].as_str().expect("a token").to_owned();
    for query in [
        "page=0&max=251",
        "page=0&max=10&lastModified=2025-03-01",
        "page=first",
    ] {
        let response = http
            .get(format!("{}/api/v2/account/devices?{query}", server.url))
            .bearer_auth(&bearer)
            .send()
            .await
            .expect("a response");
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(body["status"], 400, "Spring's error body");
    }
}
