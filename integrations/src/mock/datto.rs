//! A Datto RMM mock: the OAuth2 password grant at `/auth/oauth/token` with the public client
//! `public-client:public` in HTTP Basic (tokens that tests can expire mid-sync), and under
//! `/api/v2` the account, `account/sites`, `account/devices` and `account/alerts/open|resolved`
//! as envelopes beside `pageDetails`, paged by `page` (0-based) and `max` (at most 250) with an
//! absolute `nextPageUrl` (null on the last page of sites, `""` elsewhere, as both occur).
//! Timestamps are epoch milliseconds.
//!
//! Datto's error body keys are unconfirmed; the mock answers Spring's default error body
//! (`timestamp`, `status`, `error`, `message`) and OAuth errors as `error`/`error_description`.
//! Query parameters an endpoint does not take are refused with a 400, so a connector's typo
//! fails a test.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Form, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::{MockServer, MockState, Store, apply_faults};

/// The API key the mock accepts.
pub const API_KEY: &str = "K7QX2M9PLA4RT8WZ3NB6CV1DF5GH0JSE";
/// The API secret the mock accepts.
pub const API_SECRET: &str = "S2LD8KQ4MZ7XV1PC9RN3TB6WF0HJ5GYA";
/// The largest `max` the mock takes.
pub const MAX_PAGE: usize = 250;

/// Settings and credentials that work against the mock.
#[must_use]
pub fn configuration() -> (Value, Value) {
    (
        json!({}),
        json!({ "apiKey": API_KEY, "apiSecret": API_SECRET }),
    )
}

fn error(status: u16, message: &str) -> Value {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("Error");
    json!({ "timestamp": Utc::now().to_rfc3339(), "status": status, "error": reason, "message": message })
}

fn refuse(status: StatusCode, message: &str) -> Response {
    super::json(status, &error(status.as_u16(), message))
}

/// Starts the mock serving `store`.
pub async fn start(store: Store) -> MockServer {
    let state = MockState::new(store);
    let api = Router::new()
        .route("/account", get(account))
        .route("/account/sites", get(sites))
        .route("/account/devices", get(devices))
        .route("/account/alerts/open", get(open_alerts))
        .route("/account/alerts/resolved", get(resolved_alerts))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            |State(state): State<Arc<MockState>>, request: Request, next: Next| async move {
                if state.bearer_valid(request.headers().get("authorization")) {
                    next.run(request).await
                } else {
                    super::json(
                        StatusCode::UNAUTHORIZED,
                        &json!({ "error": "invalid_token", "error_description": "Invalid access token" }),
                    )
                }
            },
        ))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            |State(state): State<Arc<MockState>>, request: Request, next: Next| {
                apply_faults(state, error, request, next)
            },
        ));
    let router = Router::new()
        .route("/auth/oauth/token", post(token))
        .nest("/api/v2", api)
        .with_state(Arc::clone(&state));
    MockServer::start(router, state).await
}

async fn token(
    State(state): State<Arc<MockState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("public-client:public")
    );
    let client = headers
        .get("authorization")
        .is_some_and(|value| value.as_bytes() == expected.as_bytes());
    if !client {
        return super::json(
            StatusCode::UNAUTHORIZED,
            &json!({ "error": "unauthorized", "error_description": "Full authentication is required to access this resource" }),
        );
    }
    let get = |key: &str| form.get(key).map(String::as_str);
    if get("grant_type") != Some("password") {
        return super::json(
            StatusCode::BAD_REQUEST,
            &json!({ "error": "unsupported_grant_type", "error_description": "Unsupported grant type" }),
        );
    }
    if get("username") != Some(API_KEY) || get("password") != Some(API_SECRET) {
        return super::json(
            StatusCode::BAD_REQUEST,
            &json!({ "error": "invalid_grant", "error_description": "Bad credentials" }),
        );
    }
    // Datto tokens live 100 hours.
    super::json(
        StatusCode::OK,
        &json!({ "access_token": state.issue_token(), "token_type": "bearer", "expires_in": 359_999, "scope": "default" }),
    )
}

async fn account(State(state): State<Arc<MockState>>) -> Json<Value> {
    let store = state.store();
    Json(json!({
        "id": 4021, "uid": "acct-4f9e2c", "name": "Acme MSP", "currency": "USD",
        "descriptor": { "billingEmail": "billing@acme-msp.example", "deviceLimit": 5000, "timeZone": "UTC" },
        "devicesStatus": { "numberOfDevices": store.devices.len(), "numberOfOnlineDevices": store.devices.len(), "numberOfOfflineDevices": 0 }
    }))
}

/// How a list's last page says it is the last.
#[derive(Clone, Copy)]
enum LastPage {
    Null,
    Empty,
}

/// A page of `records` under `envelope`, `path` naming the endpoint for `nextPageUrl`.
fn list(
    records: &[Value],
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    path: &str,
    envelope: &str,
    filters: &[&str],
    last: LastPage,
) -> Response {
    if let Some(unknown) = query
        .keys()
        .find(|key| !["page", "max"].contains(&key.as_str()) && !filters.contains(&key.as_str()))
    {
        return refuse(
            StatusCode::BAD_REQUEST,
            &format!("Unknown request parameter: {unknown}"),
        );
    }
    let parse = |key: &str, default: usize| match query.get(key) {
        None => Ok(default),
        Some(value) => value.parse::<usize>().map_err(|_| {
            Box::new(refuse(
                StatusCode::BAD_REQUEST,
                &format!("Failed to convert value '{value}' of parameter {key}"),
            ))
        }),
    };
    let (page, max) = match (parse("page", 0), parse("max", MAX_PAGE)) {
        (Ok(page), Ok(max)) => (page, max),
        (Err(refused), _) | (_, Err(refused)) => return *refused,
    };
    if !(1..=MAX_PAGE).contains(&max) {
        return refuse(StatusCode::BAD_REQUEST, "max must be between 1 and 250");
    }
    let items: Vec<&Value> = records.iter().skip(page * max).take(max).collect();
    let host = headers
        .get("host")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("127.0.0.1");
    let link = |page: usize| json!(format!("http://{host}/api/v2{path}?max={max}&page={page}"));
    let none = match last {
        LastPage::Null => Value::Null,
        LastPage::Empty => json!(""),
    };
    let next = if (page + 1) * max < records.len() {
        link(page + 1)
    } else {
        none
    };
    let prev = if page > 0 { link(page - 1) } else { json!("") };
    super::json(
        StatusCode::OK,
        &json!({
            "pageDetails": { "count": items.len(), "totalCount": records.len(), "prevPageUrl": prev, "nextPageUrl": next },
            envelope: items
        }),
    )
}

type Params = Query<HashMap<String, String>>;

async fn sites(
    State(state): State<Arc<MockState>>,
    Query(query): Params,
    headers: HeaderMap,
) -> Response {
    list(
        &state.store().companies,
        &query,
        &headers,
        "/account/sites",
        "sites",
        &["siteName"],
        LastPage::Null,
    )
}

async fn devices(
    State(state): State<Arc<MockState>>,
    Query(query): Params,
    headers: HeaderMap,
) -> Response {
    list(
        &state.store().devices,
        &query,
        &headers,
        "/account/devices",
        "devices",
        &[
            "filterId",
            "hostname",
            "deviceType",
            "operatingSystem",
            "siteName",
        ],
        LastPage::Empty,
    )
}

fn alerts(state: &MockState, resolved: bool) -> Vec<Value> {
    state
        .store()
        .alerts
        .iter()
        .filter(|alert| alert.get("resolved").and_then(Value::as_bool) == Some(resolved))
        .cloned()
        .collect()
}

async fn open_alerts(
    State(state): State<Arc<MockState>>,
    Query(query): Params,
    headers: HeaderMap,
) -> Response {
    list(
        &alerts(&state, false),
        &query,
        &headers,
        "/account/alerts/open",
        "alerts",
        &["muted"],
        LastPage::Empty,
    )
}

async fn resolved_alerts(
    State(state): State<Arc<MockState>>,
    Query(query): Params,
    headers: HeaderMap,
) -> Response {
    list(
        &alerts(&state, true),
        &query,
        &headers,
        "/account/alerts/resolved",
        "alerts",
        &["muted"],
        LastPage::Null,
    )
}

/// A uid in Datto's UUID layout, distinct per `kind` and `n`.
#[must_use]
pub fn uid(kind: u32, n: u64) -> String {
    format!("{kind:08x}-5b7d-4e21-a9c3-{n:012x}")
}

/// A site as Datto lists it.
#[must_use]
pub fn site(n: u64, name: &str) -> Value {
    json!({
        "id": 40_300 + n, "uid": uid(0x5173, n), "accountUid": "acct-4f9e2c", "name": name,
        "description": "", "onDemand": false, "splashtopAutoInstall": true,
        "devicesStatus": { "numberOfDevices": 2, "numberOfOnlineDevices": 2, "numberOfOfflineDevices": 0 },
        "autotaskCompanyId": null, "autotaskCompanyName": null,
        "portalUrl": format!("https://merlot.centrastage.net/csm/profile/sites/{}", 40_300 + n)
    })
}

/// A device as Datto lists it, last seen at `at`.
#[must_use]
pub fn device(
    n: u64,
    site: &Value,
    hostname: &str,
    category: &str,
    os: &str,
    at: DateTime<Utc>,
) -> Value {
    json!({
        "id": 1_183_000 + n, "uid": uid(0xde71, n),
        "siteId": site.get("id"), "siteUid": site.get("uid"), "siteName": site.get("name"),
        "deviceType": { "category": category, "type": "Physical" }, "hostname": hostname,
        "intIpAddress": format!("10.20.{}.{}", n / 250, n % 250), "extIpAddress": "203.0.113.24",
        "operatingSystem": os, "lastLoggedInUser": "NORTHWIND\\druiz", "domain": "northwind.local",
        "online": true, "suspended": false, "deleted": false, "rebootRequired": false,
        "lastSeen": at.timestamp_millis(), "lastAuditDate": (at - Duration::days(1)).timestamp_millis(),
        "creationDate": 1_673_863_495_000_i64, "deviceClass": "device", "warrantyDate": "2027-01-31",
        "portalUrl": format!("https://merlot.centrastage.net/csm/search?qs=uid%3A{}", uid(0xde71, n)),
        "udf": { "udf1": "Finance", "udf2": null }
    })
}

/// An alert as Datto lists it, raised at `at` on `device`.
#[must_use]
pub fn alert(
    n: u64,
    device: &Value,
    priority: &str,
    diagnostics: &str,
    resolved: bool,
    at: DateTime<Utc>,
) -> Value {
    json!({
        "alertUid": uid(0xa1e7, n), "priority": priority, "diagnostics": diagnostics,
        "resolved": resolved, "resolvedBy": if resolved { json!("system") } else { Value::Null },
        "resolvedOn": if resolved { json!((at + Duration::minutes(30)).timestamp_millis()) } else { Value::Null },
        "muted": false, "ticketNumber": null, "timestamp": at.timestamp_millis(),
        "alertContext": { "@class": "perf_disk_usage_ctx", "totalVolume": 256, "freeSpace": 4 },
        "alertSourceInfo": { "deviceUid": device.get("uid"), "deviceName": device.get("hostname"), "siteUid": device.get("siteUid"), "siteName": device.get("siteName") },
        "responseActions": [], "autoresolveMins": 0
    })
}

/// Test data: `sites` sites (site `n` has uid `uid(0x5173, n)`), each with a server and a laptop
/// (devices `2n` and `2n + 1`), an open High alert on every server and a resolved Moderate
/// alert on every laptop, raised at `at`.
#[must_use]
pub fn fixture(sites: u64, at: DateTime<Utc>) -> Store {
    let mut store = Store::default();
    for n in 0..sites {
        let site = site(n, &format!("Site {n}"));
        let server = device(
            2 * n,
            &site,
            &format!("S{n}-SRV-01"),
            "Server",
            "Microsoft Windows Server 2022 Standard",
            at,
        );
        let laptop = device(
            2 * n + 1,
            &site,
            &format!("S{n}-LT-01"),
            "Laptop",
            "Microsoft Windows 11 Pro 10.0.22631",
            at,
        );
        store.alerts.push(alert(
            2 * n,
            &server,
            "High",
            "Free space on C: is 4.1 GB (below 5 GB threshold)",
            false,
            at,
        ));
        store.alerts.push(alert(
            2 * n + 1,
            &laptop,
            "Moderate",
            "Antivirus definitions are out of date",
            true,
            at,
        ));
        store.companies.push(site);
        store.devices.push(server);
        store.devices.push(laptop);
    }
    store
}
