//! A ConnectWise Manage mock: `/login/companyinfo/{company}` for the codebase, the API under
//! `/{codebase}/apis/3.0`, Basic auth with `{company}+{public}:{private}` and a `clientId`
//! header, `pageSize` up to 1,000 with page numbers or forward-only `pageId` paging and the
//! `Link` header (refusing `orderBy` beside forward-only, as a strict server would),
//! `conditions=lastUpdated > [ISO]`, and `{"code","message"}` error bodies.
//!
//! Writes (two-way sync): `PATCH /service/tickets/{id}` takes a JSON-Patch array of `replace`
//! operations on `board`, `owner` and `status` (each `{"id": N}`; a board must be one the mock
//! knows from its statuses, a status one of the ticket's board, an owner any positive id), and
//! `POST /service/tickets/{id}/notes` takes `{"text", "internalAnalysisFlag",
//! "detailDescriptionFlag"}`; both apply the change to the store (moving the ticket's
//! `_info.lastUpdated`, so the next changed-since sync reads it), record the request
//! ([`MockState::writes`]) and answer the ticket or the created note. Anything else is a 400
//! `InvalidObject`; an unknown ticket a 404.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, patch};
use axum::{Json, Router};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::{MockServer, MockState, Store, apply_faults};
use crate::time;

/// The company id the mock knows.
pub const COMPANY: &str = "acme";
/// The codebase it reports.
pub const CODEBASE: &str = "v2025_1";
/// The API member's public key.
pub const PUBLIC_KEY: &str = "pubkey";
/// The API member's private key.
pub const PRIVATE_KEY: &str = "privkey";
/// The key callbacks are signed with, served at `/callbackkey` like `Metadata.key_url`.
pub const SIGNING_KEY: &str = "cw-signing-key";

/// Settings and credentials that work against the mock at `url`.
#[must_use]
pub fn configuration() -> (Value, Value) {
    (
        json!({ "companyId": COMPANY, "clientId": "0d2c5e8e-tandem-tests" }),
        json!({ "publicKey": PUBLIC_KEY, "privateKey": PRIVATE_KEY }),
    )
}

fn error(status: u16, message: &str) -> Value {
    let code = match status {
        401 => "Unauthorized",
        404 => "NotFound",
        400 => "InvalidObject",
        429 => "TooManyRequests",
        _ => "ConnectWiseApi",
    };
    json!({ "code": code, "message": message, "errors": [] })
}

fn refuse(status: StatusCode, message: &str) -> Response {
    super::json(status, &error(status.as_u16(), message))
}

/// Starts the mock serving `store`.
pub async fn start(store: Store) -> MockServer {
    let state = MockState::new(store);
    let api = Router::new()
        .route("/system/info", get(info))
        .route("/company/companies", get(companies))
        .route("/company/configurations", get(configurations))
        .route("/service/tickets", get(tickets))
        .route("/service/tickets/{ticket}", patch(patch_ticket))
        .route("/service/tickets/{ticket}/notes", get(notes).post(add_note))
        .route("/service/boards", get(boards))
        .route("/service/boards/{board}/statuses", get(statuses))
        .route("/service/priorities", get(priorities))
        .layer(middleware::from_fn(authenticate))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            |State(state): State<Arc<MockState>>, request: Request, next: Next| {
                apply_faults(state, error, request, next)
            },
        ));
    let router = Router::new()
        .route("/login/companyinfo/{company}", get(company_info))
        .route(
            "/callbackkey",
            get(|| async { Json(json!({ "signing_key": SIGNING_KEY })) }),
        )
        .nest(&format!("/{CODEBASE}/apis/3.0"), api)
        .fallback(|| async { refuse(StatusCode::NOT_FOUND, "No route matches the request") })
        .with_state(Arc::clone(&state));
    MockServer::start(router, state).await
}

async fn company_info(Path(company): Path<String>) -> Json<Value> {
    Json(if company.eq_ignore_ascii_case(COMPANY) {
        json!({ "CompanyName": "Acme MSP", "Codebase": format!("{CODEBASE}/"), "VersionCode": "v2025.1", "CompanyID": COMPANY, "IsCloud": true, "SiteUrl": "mock" })
    } else {
        Value::Null
    })
}

async fn authenticate(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{COMPANY}+{PUBLIC_KEY}:{PRIVATE_KEY}"))
    );
    let authorized = headers
        .get("authorization")
        .is_some_and(|value| value.as_bytes() == expected.as_bytes());
    if !authorized {
        return refuse(StatusCode::UNAUTHORIZED, "UserNotAuthenticated");
    }
    if headers.get("clientid").is_none() {
        return refuse(StatusCode::UNAUTHORIZED, "clientId header is required");
    }
    next.run(request).await
}

async fn info() -> Json<Value> {
    Json(
        json!({ "version": "v2025.1.10421", "isCloud": true, "serverTimeZone": "Eastern Standard Time" }),
    )
}

/// `lastUpdated > [ISO]` (optionally `_info/lastUpdated`), the only condition the connector
/// sends; anything else is refused like ConnectWise refuses a bad condition.
fn updated_after(conditions: Option<&String>) -> Result<Option<DateTime<Utc>>, String> {
    let Some(conditions) = conditions else {
        return Ok(None);
    };
    let parsed = conditions
        .trim()
        .strip_prefix("_info/")
        .unwrap_or(conditions.trim())
        .strip_prefix("lastUpdated > [")
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(time::iso);
    parsed
        .map(Some)
        .ok_or_else(|| format!("Cannot parse conditions: {conditions}"))
}

fn last_updated(record: &Value) -> Option<DateTime<Utc>> {
    record
        .pointer("/_info/lastUpdated")
        .and_then(Value::as_str)
        .and_then(time::iso)
}

fn list(
    records: &[Value],
    query: &std::collections::HashMap<String, String>,
    headers: &HeaderMap,
    path: &str,
) -> Response {
    let size: usize = match query.get("pageSize").map(|size| size.parse()) {
        None => 25,
        Some(Ok(size)) if (1..=1000).contains(&size) => size,
        Some(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "pageSize must be between 1 and 1000",
            );
        }
    };
    let after = match updated_after(query.get("conditions")) {
        Ok(after) => after,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, &message),
    };
    let matches = |record: &&Value| {
        after.is_none_or(|after| last_updated(record).is_some_and(|updated| updated > after))
    };
    let id_of = |record: &Value| record.get("id").and_then(Value::as_i64).unwrap_or_default();
    let forward_only = headers
        .get("pagination-type")
        .is_some_and(|value| value == "forward-only");
    // Forward-only mode orders by id itself; a strict server refuses another order beside it.
    if forward_only && query.keys().any(|key| key.eq_ignore_ascii_case("orderBy")) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "orderBy is not supported with pagination-type forward-only",
        );
    }
    let (page, more): (Vec<Value>, bool) = if forward_only {
        let from: i64 = query
            .get("pageId")
            .and_then(|id| id.parse().ok())
            .unwrap_or(0);
        // Records are kept in id order, so the page starts at a binary search.
        let start = records.partition_point(|record| id_of(record) <= from);
        let mut found = records[start..].iter().filter(matches);
        let page: Vec<Value> = found.by_ref().take(size).cloned().collect();
        (page, found.next().is_some())
    } else {
        let number: usize = query
            .get("page")
            .and_then(|page| page.parse().ok())
            .unwrap_or(1)
            .max(1);
        let all: Vec<&Value> = records.iter().filter(matches).collect();
        let page = all
            .iter()
            .skip((number - 1) * size)
            .take(size)
            .map(|record| (*record).clone())
            .collect();
        (page, all.len() > number * size)
    };
    let mut response = super::json(StatusCode::OK, &Value::Array(page.clone()));
    if more {
        let next = if forward_only {
            format!("pageId={}", page.last().map(id_of).unwrap_or_default())
        } else {
            let number: usize = query
                .get("page")
                .and_then(|page| page.parse().ok())
                .unwrap_or(1);
            format!("page={}", number + 1)
        };
        let link = format!(
            "<https://mock.example/{CODEBASE}/apis/3.0{path}?pageSize={size}&{next}>; rel=\"next\""
        );
        response
            .headers_mut()
            .insert("link", link.parse().expect("a header value"));
    }
    response
}

type Params = Query<std::collections::HashMap<String, String>>;

async fn companies(
    State(state): State<Arc<MockState>>,
    Query(query): Params,
    headers: HeaderMap,
) -> Response {
    list(
        &state.store().companies,
        &query,
        &headers,
        "/company/companies",
    )
}

async fn configurations(
    State(state): State<Arc<MockState>>,
    Query(query): Params,
    headers: HeaderMap,
) -> Response {
    list(
        &state.store().devices,
        &query,
        &headers,
        "/company/configurations",
    )
}

async fn tickets(
    State(state): State<Arc<MockState>>,
    Query(query): Params,
    headers: HeaderMap,
) -> Response {
    list(&state.store().tickets, &query, &headers, "/service/tickets")
}

async fn notes(
    State(state): State<Arc<MockState>>,
    Path(ticket): Path<i64>,
    Query(query): Params,
    headers: HeaderMap,
) -> Response {
    let store = state.store();
    // Tickets are kept in id order (the lists rely on it): a binary search, so a benchmark's
    // twenty thousand notes requests do not each scan every ticket.
    let id_of = |record: &Value| record.get("id").and_then(Value::as_i64).unwrap_or_default();
    if store.tickets.binary_search_by_key(&ticket, id_of).is_err() {
        return refuse(StatusCode::NOT_FOUND, &format!("Ticket {ticket} not found"));
    }
    let notes: Vec<Value> = store
        .notes
        .iter()
        .filter(|note| note["ticketId"] == ticket)
        .cloned()
        .collect();
    list(
        &notes,
        &query,
        &headers,
        &format!("/service/tickets/{ticket}/notes"),
    )
}

fn ticket_index(store: &Store, ticket: i64) -> Option<usize> {
    let id_of = |record: &Value| record.get("id").and_then(Value::as_i64).unwrap_or_default();
    store.tickets.binary_search_by_key(&ticket, id_of).ok()
}

/// `{"id": N}` with a positive integer N.
fn reference(value: &Value) -> Option<i64> {
    value.get("id").and_then(Value::as_i64).filter(|id| *id > 0)
}

async fn patch_ticket(
    State(state): State<Arc<MockState>>,
    Path(ticket): Path<i64>,
    body: Option<Json<Value>>,
) -> Response {
    let Some(Json(body)) = body else {
        return refuse(StatusCode::BAD_REQUEST, "The body is not JSON");
    };
    let path = format!("/{CODEBASE}/apis/3.0/service/tickets/{ticket}");
    let answer = {
        let mut store = state.store();
        let Some(index) = ticket_index(&store, ticket) else {
            return refuse(StatusCode::NOT_FOUND, &format!("Ticket {ticket} not found"));
        };
        let Some(operations) = body.as_array().filter(|ops| !ops.is_empty()) else {
            return refuse(
                StatusCode::BAD_REQUEST,
                "A patch is a non-empty array of operations",
            );
        };
        let mut updated = store.tickets[index].clone();
        for operation in operations {
            let (Some("replace"), Some(field), Some(id)) = (
                operation.get("op").and_then(Value::as_str),
                operation.get("path").and_then(Value::as_str),
                operation.get("value").and_then(reference),
            ) else {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "Each operation is {op: replace, path, value: {id}}",
                );
            };
            let boards = |board: i64| {
                store.statuses.iter().any(|status| {
                    status.pointer("/board/id").and_then(Value::as_i64) == Some(board)
                })
            };
            match field.trim_start_matches('/') {
                "board" if boards(id) => {
                    updated["board"] = json!({ "id": id, "name": format!("Board {id}") });
                }
                "owner" => {
                    updated["owner"] = json!({ "id": id, "identifier": format!("member{id}") });
                }
                "status" => {
                    let board = updated.pointer("/board/id").and_then(Value::as_i64);
                    let Some(found) = store.statuses.iter().find(|status| {
                        status.get("id").and_then(Value::as_i64) == Some(id)
                            && status.pointer("/board/id").and_then(Value::as_i64) == board
                    }) else {
                        return refuse(
                            StatusCode::BAD_REQUEST,
                            &format!("Status {id} is not a status of the ticket's board"),
                        );
                    };
                    let closed = found.get("closedStatus").and_then(Value::as_bool) == Some(true);
                    updated["status"] = json!({ "id": id, "name": found["name"] });
                    updated["closedFlag"] = json!(closed);
                }
                other => {
                    return refuse(
                        StatusCode::BAD_REQUEST,
                        &format!("Cannot replace `{other}` with id {id}"),
                    );
                }
            }
        }
        updated["_info"]["lastUpdated"] = json!(time::format(Utc::now()));
        store.tickets[index] = updated.clone();
        updated
    };
    state.record_write("PATCH", &path, body);
    super::json(StatusCode::OK, &answer)
}

async fn add_note(
    State(state): State<Arc<MockState>>,
    Path(ticket): Path<i64>,
    body: Option<Json<Value>>,
) -> Response {
    let Some(Json(body)) = body else {
        return refuse(StatusCode::BAD_REQUEST, "The body is not JSON");
    };
    let path = format!("/{CODEBASE}/apis/3.0/service/tickets/{ticket}/notes");
    let created = {
        let mut store = state.store();
        let Some(index) = ticket_index(&store, ticket) else {
            return refuse(StatusCode::NOT_FOUND, &format!("Ticket {ticket} not found"));
        };
        let Some(text) = body
            .get("text")
            .and_then(Value::as_str)
            .filter(|text| !text.trim().is_empty())
        else {
            return refuse(StatusCode::BAD_REQUEST, "text is required");
        };
        let flag = |key: &str| body.get(key).and_then(Value::as_bool).unwrap_or(false);
        let id = store
            .notes
            .iter()
            .filter_map(|note| note.get("id").and_then(Value::as_i64))
            .max()
            .unwrap_or(80_000)
            .max(80_000)
            + 1;
        let now = Utc::now();
        let mut created = note(id, ticket, text, flag("internalAnalysisFlag"), now);
        created["detailDescriptionFlag"] = json!(flag("detailDescriptionFlag"));
        created["member"] = json!({ "id": 190, "identifier": "tandem", "name": "Tandem API" });
        created["createdBy"] = json!("tandem");
        store.notes.push(created.clone());
        // A note moves its ticket's `lastUpdated`, as in ConnectWise.
        store.tickets[index]["_info"]["lastUpdated"] = json!(time::format(now));
        created
    };
    state.record_write("POST", &path, body);
    super::json(StatusCode::OK, &created)
}

/// A note on ticket `ticket` as ConnectWise returns it.
#[must_use]
pub fn note(id: i64, ticket: i64, text: &str, internal: bool, at: DateTime<Utc>) -> Value {
    json!({
        "id": id, "ticketId": ticket, "text": text, "detailDescriptionFlag": !internal,
        "internalAnalysisFlag": internal, "resolutionFlag": false,
        "member": { "id": 181, "identifier": "jmarsh", "name": "Jo Marsh" },
        "dateCreated": time::format(at), "createdBy": "jmarsh",
        "_info": { "lastUpdated": time::format(at) }
    })
}

async fn boards(State(state): State<Arc<MockState>>) -> Json<Value> {
    let mut ids: Vec<i64> = state
        .store()
        .statuses
        .iter()
        .filter_map(|status| status.pointer("/board/id").and_then(Value::as_i64))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    Json(Value::Array(
        ids.into_iter()
            .map(|id| json!({ "id": id, "name": format!("Board {id}") }))
            .collect(),
    ))
}

async fn statuses(State(state): State<Arc<MockState>>, Path(board): Path<i64>) -> Json<Value> {
    Json(Value::Array(
        state
            .store()
            .statuses
            .iter()
            .filter(|status| status.pointer("/board/id").and_then(Value::as_i64) == Some(board))
            .cloned()
            .collect(),
    ))
}

async fn priorities(State(state): State<Arc<MockState>>) -> Json<Value> {
    Json(Value::Array(state.store().priorities.clone()))
}

/// Status ids of the fixture's help desk board.
pub mod status {
    /// New (not responded).
    pub const NEW: i64 = 16;
    /// In progress (responded).
    pub const IN_PROGRESS: i64 = 17;
    /// Waiting on the customer.
    pub const WAITING_CUSTOMER: i64 = 18;
    /// Resolved.
    pub const RESOLVED: i64 = 19;
    /// Closed.
    pub const CLOSED: i64 = 20;
}

/// A ticket as ConnectWise returns it.
#[must_use]
pub fn ticket(id: i64, company: i64, status: i64, updated: DateTime<Utc>) -> Value {
    let names = [
        "New",
        "In Progress",
        "Waiting Customer",
        "Resolved",
        "Closed",
    ];
    let name = names[usize::try_from(status - status::NEW).unwrap_or(0).min(4)];
    json!({
        "id": id,
        "summary": format!("Ticket {id}: Outlook prompts for password"),
        "recordType": "ServiceTicket",
        "board": { "id": 1, "name": "Help Desk" },
        "status": { "id": status, "name": name },
        "priority": { "id": 8, "name": "Priority 3 - Normal Response", "sort": 6 },
        "company": { "id": company, "identifier": format!("Company{company}"), "name": format!("Company {company}") },
        "contact": { "id": 1402, "name": "Dana Ruiz" },
        "closedFlag": status == status::CLOSED,
        "closedDate": if status == status::CLOSED { json!(time::format(updated - Duration::hours(1))) } else { Value::Null },
        "_info": { "dateEntered": time::format(updated - Duration::hours(2)), "lastUpdated": time::format(updated) }
    })
}

/// Test data: `companies` companies (ids 250, 251, ...), two configurations each, `tickets`
/// tickets spread over them (two notes on the first), last updated at `at`.
#[must_use]
pub fn fixture(companies: usize, tickets: usize, at: DateTime<Utc>) -> Store {
    let company_ids: Vec<i64> = (0..companies as i64).map(|n| 250 + n).collect();
    let stamp = time::format(at);
    let mut store = Store {
        companies: company_ids
            .iter()
            .map(|id| json!({ "id": id, "identifier": format!("Company{id}"), "name": format!("Company {id}"), "_info": { "lastUpdated": stamp } }))
            .collect(),
        ..Store::default()
    };
    for (index, company) in company_ids.iter().enumerate() {
        for (offset, (kind, os)) in [
            ("Managed Server", "Windows Server 2022"),
            ("Managed Workstation", "Windows 11 Pro"),
        ]
        .into_iter()
        .enumerate()
        {
            let id = 9000 + (index * 2 + offset) as i64;
            store.devices.push(json!({
                "id": id, "name": format!("C{company}-DEV-{offset}"), "type": { "id": 12, "name": kind },
                "status": { "id": 2, "name": "Active" }, "company": { "id": company },
                "activeFlag": true, "deviceIdentifier": format!("uid-{company}-{offset}"),
                "serialNumber": format!("SN{id}"), "ipAddress": format!("10.20.{index}.{offset}"),
                "macAddress": format!("3C-52-82-AA-{index:02X}-{offset:02X}"), "osType": os,
                "_info": { "lastUpdated": stamp }
            }));
        }
    }
    store.tickets = (0..tickets as i64)
        .map(|n| {
            let company = company_ids[(n as usize) % company_ids.len().max(1)];
            ticket(48_000 + n, company, status::NEW + n % 3, at)
        })
        .collect();
    if tickets > 0 {
        store.notes = vec![
            note(
                70_001,
                48_000,
                "Called the user; reset the Outlook profile.",
                false,
                at,
            ),
            note(
                70_002,
                48_000,
                "Mailbox move left a stale autodiscover record.",
                true,
                at,
            ),
        ];
    }
    store.statuses = [
        (status::NEW, "New", "NotResponded", false),
        (status::IN_PROGRESS, "In Progress", "Responded", false),
        (status::WAITING_CUSTOMER, "Waiting Customer", "Responded", false),
        (status::RESOLVED, "Resolved", "Resolved", false),
        (status::CLOSED, "Closed", "NoEscalation", true),
    ]
    .into_iter()
    .map(|(id, name, escalation, closed)| {
        json!({ "id": id, "name": name, "board": { "id": 1 }, "escalationStatus": escalation, "closedStatus": closed, "defaultFlag": id == status::NEW, "inactive": false })
    })
    .collect();
    store.priorities = [
        (6, "Priority 1 - Emergency Response", 1),
        (7, "Priority 2 - Quick Response", 2),
        (8, "Priority 3 - Normal Response", 3),
        (9, "Priority 4 - Schedule Maintenance", 4),
    ]
    .into_iter()
    .map(|(id, name, sort)| json!({ "id": id, "name": name, "sortOrder": sort, "color": "Custom", "defaultFlag": id == 8 }))
    .collect();
    store
}
