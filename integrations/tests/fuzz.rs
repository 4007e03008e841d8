//! Property-based fuzzing of every vendor payload parser, through the connectors' public surface:
//! a hostile vendor answers every request (token endpoints included) with generated bodies,
//! statuses and paging headers, in the vendors' own field names with values of any type, and
//! every connector's `check`, `lookups` and `page` of every resource must return (a page or a
//! [`ConnectorError`]) within a bounded time, never panic.
//!
//! Cases per run: `TANDEM_FUZZ_CASES` (default 64); CI runs more (see README, Development).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Response, StatusCode};
use entities::enums::IntegrationKind;
use integrations::connector::{Connector, IntegrationConfig, build};
use integrations::egress::Egress;
use integrations::http::RetryPolicy;
use integrations::mock;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};

/// Field names the connectors read, and the envelopes their pages come in.
const FIELDS: &[&str] = &[
    "id",
    "name",
    "summary",
    "status",
    "priority",
    "company",
    "closedDate",
    "completedDate",
    "resolvedOn",
    "dateEntered",
    "_info",
    "lastUpdated",
    "createDate",
    "createTime",
    "dateCreated",
    "activityTime",
    "activityType",
    "alertContext",
    "alertSourceInfo",
    "alertUid",
    "assettype_name",
    "client_id",
    "closedFlag",
    "companyID",
    "companyName",
    "configurationItemID",
    "configurationItemType",
    "contact",
    "createdBy",
    "description",
    "details",
    "deviceClass",
    "deviceId",
    "deviceIdentifier",
    "deviceType",
    "diagnostics",
    "displayName",
    "dnsName",
    "fields",
    "hostname",
    "initialDescription",
    "intIpAddress",
    "internalAnalysisFlag",
    "internalFlag",
    "inventory_number",
    "ipAddress",
    "ipAddresses",
    "key_field",
    "label",
    "macAddress",
    "macAddresses",
    "member",
    "message",
    "nodeClass",
    "operatingSystem",
    "organizationId",
    "os",
    "osType",
    "picklistValues",
    "portalUrl",
    "priority_id",
    "priority_name",
    "referenceTitle",
    "resolved",
    "rmmDeviceAuditHostname",
    "rmmDeviceAuditIPAddress",
    "rmmDeviceAuditMacAddress",
    "rmmDeviceAuditOperatingSystem",
    "rmmDeviceUID",
    "serialNumber",
    "severity",
    "siteUid",
    "sortOrder",
    "status_id",
    "status_name",
    "subject",
    "system",
    "systemName",
    "text",
    "timestamp",
    "title",
    "type",
    "uid",
    "user",
    "user_name",
    "value",
    "@class",
    "category",
    "serialNumber",
    "isActive",
    "isActive",
];
const ENVELOPES: &[&str] = &[
    "items",
    "pageDetails",
    "nextPageUrl",
    "prevPageUrl",
    "count",
    "record_count",
    "tickets",
    "assets",
    "clients",
    "devices",
    "alerts",
    "sites",
    "activities",
    "lastActivityId",
    "data",
    "access_token",
    "token_type",
    "expires_in",
    "url",
    "zoneName",
    "codebase",
    "Codebase",
    "version",
    "fields",
    "picklistValues",
    "page_no",
    "page_size",
    "error",
    "errors",
    "code",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,24}",
        Just(String::new()),
        Just("\u{0}".to_owned()),
        Just("9999-12-31T23:59:59Z".to_owned()),
        Just("0001-01-01T00:00:00".to_owned()),
        Just("1900-01-01T00:00:00".to_owned()),
        Just("2024-02-30T25:61:61Z".to_owned()),
        Just("2026-11-30T10:00:00.1234567+14:00".to_owned()),
        Just("-1".to_owned()),
        Just("1e400".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("x".repeat(70_000)),
        Just("../../../etc/passwd".to_owned()),
        Just("https://evil.example/steal?x=1".to_owned()),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e300f64..1e300).prop_map(Value::from),
        (0i64..5_000).prop_map(Value::from),
        text().prop_map(Value::from),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => proptest::sample::select(FIELDS).prop_map(str::to_owned),
        2 => proptest::sample::select(ENVELOPES).prop_map(str::to_owned),
        1 => ".{0,8}",
    ]
}

/// Any JSON, its objects keyed mostly by the names connectors read.
fn json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(5, 48, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..10)
                .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A record-like object: many known fields, values of any type.
fn record() -> BoxedStrategy<Value> {
    proptest::collection::vec((proptest::sample::select(FIELDS), json()), 0..16)
        .prop_map(|fields| {
            Value::Object(
                fields
                    .into_iter()
                    .map(|(key, value)| (key.to_owned(), value))
                    .collect(),
            )
        })
        .boxed()
}

/// A page body: records bare or in one of the envelopes, or something that is not a page.
fn page(url: String) -> impl Strategy<Value = Value> {
    let records = proptest::collection::vec(record(), 0..6).boxed();
    let next = prop_oneof![
        Just(Value::Null),
        text().prop_map(Value::from),
        (0u32..5).prop_map(move |page| Value::from(format!("{url}/next?page={page}"))),
    ];
    prop_oneof![
        3 => records.clone().prop_map(Value::Array),
        6 => (proptest::sample::select(ENVELOPES), records.clone(), next, any::<Option<u16>>())
            .prop_map(|(envelope, records, next, count)| {
                json!({
                    envelope: records,
                    "pageDetails": { "nextPageUrl": next, "count": count },
                    "record_count": count,
                    "lastActivityId": count,
                })
            }),
        2 => json(),
    ]
}

/// What the hostile vendor answers.
#[derive(Debug, Clone)]
struct Scenario {
    status: u16,
    body: Vec<u8>,
    /// What token endpoints answer (a working token most of the time, so parsing gets further).
    token: Vec<u8>,
    headers: Vec<(&'static str, String)>,
}

fn scenario(url: String) -> impl Strategy<Value = Scenario> {
    let status = prop_oneof![
        8 => Just(200u16),
        1 => proptest::sample::select(vec![201u16, 204, 301, 400, 401, 403, 404, 409, 429, 500, 502, 503]),
    ];
    let body = prop_oneof![
        8 => page(url.clone()).prop_map(|value| value.to_string().into_bytes()),
        1 => proptest::collection::vec(any::<u8>(), 0..64),
        1 => page(url.clone()).prop_map(|value| {
            let text = value.to_string();
            text.as_bytes()[..text.len() / 2].to_vec()
        }),
        1 => Just(format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000)).into_bytes()),
    ];
    let token = prop_oneof![
        6 => Just(json!({ "access_token": "t0ken", "token_type": "Bearer", "expires_in": 3600 }).to_string().into_bytes()),
        1 => json().prop_map(|value| value.to_string().into_bytes()),
        1 => Just(json!({ "error": "invalid_client", "error_description": "x".repeat(5_000) }).to_string().into_bytes()),
        1 => Just(json!({ "access_token": "t0ken", "token_type": "Bearer", "expires_in": u64::MAX }).to_string().into_bytes()),
    ];
    let headers = proptest::collection::vec(
        (
            proptest::sample::select(vec![
                "link",
                "retry-after",
                "x-ratelimit-reset",
                "ratelimit-reset",
                "content-type",
            ]),
            prop_oneof![
                text(),
                Just(format!("<{url}/next?pageId=2>; rel=\"next\"")),
                Just("<https://evil.example/x>; rel=\"next\"".to_owned()),
                Just("0".to_owned()),
                Just("Wed, 21 Oct 2015 07:28:00 GMT".to_owned()),
            ],
        ),
        0..3,
    );
    (status, body, token, headers).prop_map(|(status, body, token, headers)| Scenario {
        status,
        body,
        token,
        headers,
    })
}

type Shared = Arc<Mutex<Option<Scenario>>>;

async fn answer(State(shared): State<Shared>, request: axum::extract::Request) -> Response<Body> {
    let scenario = shared
        .lock()
        .expect("scenario")
        .clone()
        .expect("a scenario is set before connectors run");
    let path = request.uri().path().to_ascii_lowercase();
    let is_token = path.contains("token") || path.contains("auth");
    let (status, body) = if is_token {
        (200, scenario.token)
    } else {
        (scenario.status, scenario.body)
    };
    let mut response =
        Response::builder().status(StatusCode::from_u16(status).unwrap_or(StatusCode::OK));
    response = response.header("content-type", "application/json");
    for (name, value) in &scenario.headers {
        if let Ok(value) = axum::http::HeaderValue::from_str(value) {
            response = response.header(*name, value);
        }
    }
    response.body(Body::from(body)).expect("a response")
}

fn cases() -> u32 {
    std::env::var("TANDEM_FUZZ_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(64)
}

fn connectors(url: &str) -> Vec<Box<dyn Connector>> {
    let configurations = [
        (
            IntegrationKind::ConnectwiseManage,
            mock::connectwise::configuration(),
        ),
        (IntegrationKind::Autotask, mock::autotask::configuration()),
        (IntegrationKind::Halopsa, mock::halopsa::configuration()),
        (IntegrationKind::Ninjaone, mock::ninjaone::configuration()),
        (IntegrationKind::DattoRmm, mock::datto::configuration()),
    ];
    configurations
        .into_iter()
        .map(|(kind, (settings, credentials))| {
            build(IntegrationConfig {
                kind,
                base_url: url.to_owned(),
                settings,
                credentials,
                policy: RetryPolicy::fast(),
                // The hostile vendor listens on loopback.
                egress: Egress::ALLOW_PRIVATE,
                mapped_companies: None,
            })
            .expect("a connector")
        })
        .collect()
}

/// Runs every call of every connector once against the current scenario.
async fn exercise(connectors: &[Box<dyn Connector>]) -> Result<(), TestCaseError> {
    const BOUND: Duration = Duration::from_secs(20);
    for connector in connectors {
        let kind = connector.kind();
        let check = tokio::time::timeout(BOUND, connector.check())
            .await
            .map_err(|_| TestCaseError::fail(format!("{kind:?} check hung")))?;
        if let Err(error) = check {
            prop_assert!(!error.to_string().is_empty());
        }
        let lookups = tokio::time::timeout(BOUND, connector.lookups())
            .await
            .map_err(|_| TestCaseError::fail(format!("{kind:?} lookups hung")))?;
        if let Err(error) = lookups {
            prop_assert!(!error.to_string().is_empty());
        }
        for &resource in connector.resources() {
            for token in [None, Some("2".to_owned())] {
                let page = tokio::time::timeout(BOUND, connector.page(resource, None, token))
                    .await
                    .map_err(|_| TestCaseError::fail(format!("{kind:?} {resource:?} hung")))?;
                match page {
                    Ok(page) => {
                        for record in &page.records {
                            match record {
                                Ok(record) => prop_assert!(
                                    !record.external_id().is_empty(),
                                    "{kind:?} {resource:?}: a record without an id"
                                ),
                                Err(error) => prop_assert!(!error.reason.is_empty()),
                            }
                        }
                    }
                    Err(error) => prop_assert!(!error.to_string().is_empty()),
                }
            }
        }
    }
    Ok(())
}

#[test]
fn hostile_vendor_payloads_never_panic_or_hang() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let shared: Shared = Arc::default();
    let url = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&shared));
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    });
    let connectors = connectors(&url);
    let cases = cases();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&scenario(url), |scenario| {
        *shared.lock().expect("scenario") = Some(scenario);
        runtime.block_on(exercise(&connectors))
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    eprintln!("hostile vendor payloads: {cases} cases x 5 connectors, no panic, no hang");
}

#[test]
fn an_answer_that_never_ends_is_cut_off() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let endless = || async {
            let chunk = axum::body::Bytes::from(vec![b' '; 1 << 20]);
            let stream = futures_util::stream::repeat_with(move || {
                Ok::<_, std::convert::Infallible>(chunk.clone())
            });
            Body::from_stream(stream)
        };
        let app = Router::new().route("/endless", axum::routing::get(endless));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let http = integrations::http::HttpClient::new(RetryPolicy::fast(), Egress::ALLOW_PRIVATE)
            .expect("a client");
        for path in ["/endless"] {
            let started = std::time::Instant::now();
            let answer = http
                .json::<Value>(|| http.client().get(format!("{url}{path}")))
                .await;
            let error = answer.expect_err("an answer beyond the cap");
            assert!(
                error.to_string().contains("larger than 64 MiB"),
                "{path}: {error}"
            );
            assert!(started.elapsed() < Duration::from_secs(10), "{path}");
        }
    });
}
