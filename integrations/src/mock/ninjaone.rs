//! A NinjaOne mock: OAuth2 client credentials at `/ws/oauth/token` (tokens that tests can expire
//! mid-sync), `/v2/organizations` and `/v2/devices-detailed` paged by `after` = last id,
//! `/v2/alerts` unpaged, `/v2/activities` newest first with `olderThan`/`newerThan` id cursors
//! (swapped when the store says so, as the spec's text reads) and `after`, epoch-second timestamps and
//! `{"resultCode","errorMessage"}` error bodies.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Form, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{ActivityCursors, MockServer, MockState, Store, apply_faults};

/// The client id the mock accepts.
pub const CLIENT_ID: &str = "ninja-client";
/// The client secret the mock accepts.
pub const CLIENT_SECRET: &str = "ninja-secret";

/// Settings and credentials that work against the mock.
#[must_use]
pub fn configuration() -> (Value, Value) {
    (
        json!({}),
        json!({ "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET }),
    )
}

fn error(status: u16, message: &str) -> Value {
    let code = match status {
        401 => "UNAUTHORIZED",
        400 => "BAD_REQUEST",
        429 => "TOO_MANY_REQUESTS",
        _ => "INTERNAL_ERROR",
    };
    json!({ "resultCode": code, "errorMessage": message })
}

/// Starts the mock serving `store`.
pub async fn start(store: Store) -> MockServer {
    let state = MockState::new(store);
    let api = Router::new()
        .route("/organizations", get(organizations))
        .route("/devices-detailed", get(devices))
        .route("/alerts", get(alerts))
        .route("/activities", get(activities))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            |State(state): State<Arc<MockState>>, request: Request, next: Next| async move {
                if state.bearer_valid(request.headers().get("authorization")) {
                    next.run(request).await
                } else {
                    super::json(
                        StatusCode::UNAUTHORIZED,
                        &error(401, "Invalid or expired token"),
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
        .route("/ws/oauth/token", post(token))
        .nest("/v2", api)
        .with_state(Arc::clone(&state));
    MockServer::start(router, state).await
}

async fn token(
    State(state): State<Arc<MockState>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let get = |key: &str| form.get(key).map(String::as_str);
    if get("grant_type") != Some("client_credentials") {
        return super::json(
            StatusCode::BAD_REQUEST,
            &json!({ "error": "unsupported_grant_type" }),
        );
    }
    if get("client_id") != Some(CLIENT_ID) || get("client_secret") != Some(CLIENT_SECRET) {
        return super::json(
            StatusCode::UNAUTHORIZED,
            &json!({ "error": "invalid_client", "error_description": "Client authentication failed" }),
        );
    }
    super::json(
        StatusCode::OK,
        &json!({ "access_token": state.issue_token(), "token_type": "Bearer", "expires_in": 3600, "scope": get("scope").unwrap_or("monitoring") }),
    )
}

/// The page size asked for; `None` (answered with 400) when it is out of range.
fn page_size(query: &HashMap<String, String>) -> Option<usize> {
    match query.get("pageSize").map(|size| size.parse::<usize>()) {
        None => Some(1000),
        Some(Ok(size)) if (1..=1000).contains(&size) => Some(size),
        Some(_) => None,
    }
}

fn bad_page_size() -> Response {
    super::json(
        StatusCode::BAD_REQUEST,
        &error(400, "pageSize must be 1 to 1000"),
    )
}

fn by_id(records: &[Value], query: &HashMap<String, String>) -> Response {
    let Some(size) = page_size(query) else {
        return bad_page_size();
    };
    let after: i64 = query
        .get("after")
        .and_then(|id| id.parse().ok())
        .unwrap_or(0);
    let page: Vec<Value> = records
        .iter()
        .filter(|record| record.get("id").and_then(Value::as_i64).unwrap_or_default() > after)
        .take(size)
        .cloned()
        .collect();
    super::json(StatusCode::OK, &Value::Array(page))
}

type Params = Query<HashMap<String, String>>;

async fn organizations(State(state): State<Arc<MockState>>, Query(query): Params) -> Response {
    by_id(&state.store().companies, &query)
}

async fn devices(State(state): State<Arc<MockState>>, Query(query): Params) -> Response {
    by_id(&state.store().devices, &query)
}

async fn alerts(State(state): State<Arc<MockState>>) -> Json<Value> {
    Json(Value::Array(state.store().alerts.clone()))
}

async fn activities(State(state): State<Arc<MockState>>, Query(query): Params) -> Response {
    let Some(size) = page_size(&query) else {
        return bad_page_size();
    };
    let cursor = |key: &str| -> Option<i64> { query.get(key).and_then(|id| id.parse().ok()) };
    let store = state.store();
    // (below, above): only ids below / above these.
    let (mut older_than, mut newer_than) = (cursor("olderThan"), cursor("newerThan"));
    match store.activity_cursors {
        ActivityCursors::AsNamed => {}
        ActivityCursors::Swapped => std::mem::swap(&mut older_than, &mut newer_than),
        ActivityCursors::Ignored => (older_than, newer_than) = (None, None),
    }
    let after: f64 = query
        .get("after")
        .and_then(|at| at.parse().ok())
        .unwrap_or(f64::MIN);
    let id = |activity: &Value| {
        activity
            .get("id")
            .and_then(Value::as_i64)
            .unwrap_or_default()
    };
    let mut found: Vec<&Value> = store
        .changes
        .iter()
        .filter(|activity| older_than.is_none_or(|bound| id(activity) < bound))
        .filter(|activity| newer_than.is_none_or(|bound| id(activity) > bound))
        .filter(|activity| {
            activity
                .get("activityTime")
                .and_then(Value::as_f64)
                .unwrap_or_default()
                > after
        })
        .collect();
    // Newest first, as NinjaOne lists them.
    found.sort_by_key(|activity| std::cmp::Reverse(id(activity)));
    let page: Vec<Value> = found.into_iter().take(size).cloned().collect();
    // The id of the page's last (oldest) activity.
    let last = page.last().map(id);
    super::json(
        StatusCode::OK,
        &json!({ "lastActivityId": last, "activities": page }),
    )
}

/// Epoch seconds, as NinjaOne writes instants.
#[must_use]
pub fn epoch(at: DateTime<Utc>) -> f64 {
    at.timestamp_micros() as f64 / 1_000_000.0
}

/// A device as NinjaOne returns it.
#[must_use]
pub fn device(id: i64, organization: i64, class: &str, name: &str, os: &str) -> Value {
    json!({
        "id": id, "uid": format!("uid-{id}"), "organizationId": organization, "locationId": 40,
        "nodeClass": class, "approvalStatus": "APPROVED", "offline": false,
        "displayName": name, "systemName": name, "dnsName": format!("{name}.corp.local"),
        "created": 1_673_863_495.0, "lastContact": 1_741_190_410.5, "lastUpdate": 1_741_190_402.0,
        "ipAddresses": [format!("10.30.{organization}.{}", id % 250)], "macAddresses": [format!("3C:52:82:00:{:02X}:{:02X}", organization, id % 250)],
        "os": { "name": os }, "system": { "serialNumber": format!("NSN{id}") }
    })
}

/// An activity as NinjaOne returns it.
#[must_use]
pub fn activity(id: i64, device: i64, kind: &str, message: &str, at: DateTime<Utc>) -> Value {
    json!({ "id": id, "activityTime": epoch(at), "deviceId": device, "activityType": kind, "statusCode": "COMPLETED", "status": "Completed", "message": message, "user": "system" })
}

/// An alert as NinjaOne returns it.
#[must_use]
pub fn alert(uid: &str, device: i64, severity: &str, message: &str, at: DateTime<Utc>) -> Value {
    json!({ "uid": uid, "deviceId": device, "message": message, "createTime": epoch(at), "updateTime": epoch(at), "sourceType": "CONDITION_AGENT_DISK_FREE_SPACE", "severity": severity, "priority": "HIGH", "conditionHealthStatus": "UNHEALTHY" })
}

/// Test data: `organizations` organizations (ids 1, 2, ...) with a server and a workstation
/// each, an open alert on the first server, and two patch activities per organization.
#[must_use]
pub fn fixture(organizations: usize, at: DateTime<Utc>) -> Store {
    let mut store = Store::default();
    for n in 1..=organizations as i64 {
        store.companies.push(json!({ "id": n, "name": format!("Organization {n}"), "nodeApprovalMode": "AUTOMATIC" }));
        store.devices.push(device(
            3300 + n * 2,
            n,
            "WINDOWS_SERVER",
            &format!("O{n}-SRV-01"),
            "Windows Server 2022 Standard",
        ));
        store.devices.push(device(
            3301 + n * 2,
            n,
            "WINDOWS_WORKSTATION",
            &format!("O{n}-WS-01"),
            "Windows 11 Pro",
        ));
        store.changes.push(activity(
            n * 10,
            3300 + n * 2,
            "PATCH_MANAGEMENT",
            "Installed KB5043145",
            at,
        ));
        store.changes.push(activity(
            n * 10 + 1,
            3301 + n * 2,
            "SCRIPTING",
            "Ran script: clear temp",
            at,
        ));
    }
    store
        .devices
        .sort_by_key(|device| device.get("id").and_then(Value::as_i64));
    store
        .changes
        .sort_by_key(|activity| activity.get("id").and_then(Value::as_i64));
    if organizations > 0 {
        store.alerts.push(alert(
            "a1b2c3",
            3302,
            "MAJOR",
            "Disk C: free space below 5%",
            at,
        ));
    }
    store
}
