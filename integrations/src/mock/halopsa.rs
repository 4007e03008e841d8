//! A HaloPSA mock: OAuth2 client credentials at `/auth/token` (client in the form body or HTTP
//! Basic, `?tenant=` or a `tenant` form field for the hosted tenant, tokens that tests can expire
//! mid-sync), `/api/Client`, `/api/Asset` and `/api/Tickets` as envelopes paged by
//! `pageinate=true&page_size&page_no` with `record_count`, `lastupdatefromdate` /
//! `lastupdatetodate` without a zone, closed tickets and inactive assets left out unless asked
//! (`includeclosed`/`includecompleted`, `includeinactive`), `/api/Actions?ticket_id=` (the
//! `actions` of one ticket; `excludesys=true` leaves system actions out), and bare-array
//! `/api/Status` and `/api/Priority`.
//!
//! Writes (two-way sync) take a JSON array of objects, as Halo's do: `POST /api/Tickets`
//! updates each ticket its `id` names (`team`, `agent_id`, `status_id`, `summary`, `details`,
//! `priority_id`; the mock creates no tickets) and answers the updated ticket (an array when
//! several were sent); `POST /api/Actions` adds an action (`ticket_id`, `note`, `outcome`,
//! `hiddenfromuser`) and answers it likewise. Both stamp the ticket's `last_update` and
//! `lastactiondate`, so `lastupdatefromdate` sees the change; a new action is listed by
//! `GET /api/Actions` with its id. An unknown ticket is a 404, a malformed body or an unknown
//! field a 400 (the mock refuses what Halo may silently ignore), and nothing of a refused
//! request is applied. Each applied write is recorded ([`MockState::writes`]).
//!
//! Halo itself ignores query parameters it does not know, so a misspelt filter returns every
//! record; this mock refuses them with a 400 instead, so a connector's typo fails a test. Halo's
//! error body has no documented shape; the mock answers a JSON string with the message.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Form, OriginalUri, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use serde_json::{Value, json};

use super::{MockServer, MockState, Store, apply_faults};

/// The client id the mock accepts.
pub const CLIENT_ID: &str = "halo-client-5b0e";
/// The client secret the mock accepts.
pub const CLIENT_SECRET: &str = "halo-secret-91af";
/// The hosted tenant the token endpoint expects.
pub const TENANT: &str = "acmemsp";
/// The largest `page_size` Halo's API document allows.
pub const MAX_PAGE_SIZE: usize = 100;

/// Settings and credentials that work against the mock.
#[must_use]
pub fn configuration() -> (Value, Value) {
    (
        json!({ "tenant": TENANT }),
        json!({ "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET }),
    )
}

fn error(_status: u16, message: &str) -> Value {
    Value::String(message.to_owned())
}

fn refuse(status: StatusCode, message: &str) -> Response {
    super::json(status, &error(status.as_u16(), message))
}

/// Starts the mock serving `store`.
pub async fn start(store: Store) -> MockServer {
    let state = MockState::new(store);
    let api = Router::new()
        .route("/Client", get(clients))
        .route("/Asset", get(assets))
        .route("/Tickets", get(tickets).post(update_tickets))
        .route("/Actions", get(actions).post(create_actions))
        .route("/Status", get(statuses))
        .route("/Priority", get(priorities))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            |State(state): State<Arc<MockState>>, request: Request, next: Next| async move {
                if state.bearer_valid(request.headers().get("authorization")) {
                    next.run(request).await
                } else {
                    refuse(
                        StatusCode::UNAUTHORIZED,
                        "Authorization has been denied for this request.",
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
        .route("/auth/token", post(token))
        .nest("/api", api)
        .with_state(Arc::clone(&state));
    MockServer::start(router, state).await
}

fn oauth_error(error: &str, description: &str) -> Response {
    super::json(
        StatusCode::BAD_REQUEST,
        &json!({ "error": error, "error_description": description }),
    )
}

/// The client id and secret from HTTP Basic, if sent that way.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

async fn token(
    State(state): State<Arc<MockState>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let get = |key: &str| form.get(key).map(String::as_str);
    let tenant = query.get("tenant").map(String::as_str).or(get("tenant"));
    if tenant != Some(TENANT) {
        return oauth_error("invalid_request", "Unknown or missing tenant");
    }
    if get("grant_type") != Some("client_credentials") {
        return oauth_error(
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    let client = basic(&headers).or_else(|| {
        Some((
            get("client_id")?.to_owned(),
            get("client_secret")?.to_owned(),
        ))
    });
    if client != Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())) {
        return oauth_error("invalid_client", "Client authentication failed");
    }
    let known = [
        "all",
        "all:standard",
        "admin",
        "read:tickets",
        "read:customers",
        "read:assets",
        "edit:tickets",
    ];
    let scope = get("scope").unwrap_or_default();
    if scope.is_empty() || !scope.split(' ').all(|scope| known.contains(&scope)) {
        return oauth_error("invalid_scope", "The requested scope is not granted");
    }
    super::json(
        StatusCode::OK,
        &json!({ "access_token": state.issue_token(), "token_type": "Bearer", "expires_in": 3600, "scope": scope }),
    )
}

/// A Halo datetime parameter: ISO without a zone (a zone is refused, as Halo would misread it).
fn date_parameter(value: &str) -> Result<DateTime<Utc>, Box<Response>> {
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(value, format).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .ok()
                .map(|day| day.and_time(NaiveTime::MIN))
        })
        .map(|naive| Utc.from_utc_datetime(&naive))
        .ok_or_else(|| {
            Box::new(refuse(
                StatusCode::BAD_REQUEST,
                &format!("'{value}' is not a valid date without a time zone"),
            ))
        })
}

/// A list endpoint: the `envelope` of `records`, filtered on the `watermark` field and paged.
fn list(
    records: &[Value],
    query: &HashMap<String, String>,
    envelope: &str,
    watermark: &str,
    hidden: Hidden,
) -> Response {
    const KNOWN: [&str; 12] = [
        "pageinate",
        "page_size",
        "page_no",
        "lastupdatefromdate",
        "lastupdatetodate",
        "count",
        "order",
        "orderdesc",
        "search",
        "includeclosed",
        "includecompleted",
        "includeinactive",
    ];
    // Halo binds parameters without case.
    let query: HashMap<String, &String> = query
        .iter()
        .map(|(key, value)| (key.to_ascii_lowercase(), value))
        .collect();
    if let Some(unknown) = query.keys().find(|key| !KNOWN.contains(&key.as_str())) {
        return refuse(
            StatusCode::BAD_REQUEST,
            &format!("Unknown query parameter '{unknown}'"),
        );
    }
    let number = |key: &str| -> Result<Option<usize>, Box<Response>> {
        query
            .get(key)
            .map(|value| {
                value.parse().map_err(|_| {
                    Box::new(refuse(
                        StatusCode::BAD_REQUEST,
                        &format!("'{value}' is not a valid value for {key}"),
                    ))
                })
            })
            .transpose()
    };
    let bound = |key: &str| -> Result<Option<DateTime<Utc>>, Box<Response>> {
        query
            .get(key)
            .map(|value| date_parameter(value))
            .transpose()
    };
    let (from, to) = match (bound("lastupdatefromdate"), bound("lastupdatetodate")) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(refused), _) | (_, Err(refused)) => return *refused,
    };
    let updated = |record: &Value| {
        record
            .get(watermark)
            .and_then(Value::as_str)
            .and_then(crate::time::iso)
    };
    let asked = |key: &str| {
        query
            .get(key)
            .is_some_and(|value| value.eq_ignore_ascii_case("true"))
    };
    let closed = |record: &Value| {
        record
            .get("dateclosed")
            .and_then(Value::as_str)
            .is_some_and(|date| date != NO_DATE)
    };
    let inactive = |record: &Value| record.get("inactive").and_then(Value::as_bool) == Some(true);
    let mut found: Vec<&Value> = records
        .iter()
        .filter(|record| match hidden {
            Hidden::Nothing => true,
            // Closed tickets are left out unless asked for (`includeclosed`; the mock takes
            // `includecompleted` as the same, as Halo's defaults are unconfirmed).
            Hidden::Closed => {
                !closed(record) || asked("includeclosed") || asked("includecompleted")
            }
            Hidden::Inactive => !inactive(record) || asked("includeinactive"),
        })
        .filter(|record| {
            let at = updated(record);
            from.is_none_or(|from| at.is_some_and(|at| at >= from))
                && to.is_none_or(|to| at.is_some_and(|at| at <= to))
        })
        .collect();
    found.sort_by_key(|record| record.get("id").and_then(Value::as_i64));
    let total = found.len();
    let paginate = query
        .get("pageinate")
        .is_some_and(|value| value.eq_ignore_ascii_case("true"));
    if !paginate {
        // Without `pageinate` Halo ignores `page_size`; `count` caps the list.
        let count = match number("count") {
            Ok(count) => count.unwrap_or(total),
            Err(refused) => return *refused,
        };
        let page: Vec<&Value> = found.into_iter().take(count).collect();
        return super::json(
            StatusCode::OK,
            &json!({ "record_count": total, envelope: page }),
        );
    }
    let (size, number) = match (number("page_size"), number("page_no")) {
        (Ok(size), Ok(number)) => (size.unwrap_or(50), number.unwrap_or(1)),
        (Err(refused), _) | (_, Err(refused)) => return *refused,
    };
    if !(1..=MAX_PAGE_SIZE).contains(&size) || number == 0 {
        return refuse(
            StatusCode::BAD_REQUEST,
            "page_size must be 1 to 100 and page_no at least 1",
        );
    }
    let page: Vec<&Value> = found
        .into_iter()
        .skip((number - 1) * size)
        .take(size)
        .collect();
    super::json(
        StatusCode::OK,
        &json!({ "page_no": number, "page_size": size, "record_count": total, envelope: page }),
    )
}

/// What a list leaves out unless asked.
#[derive(Debug, Clone, Copy)]
enum Hidden {
    Nothing,
    Closed,
    Inactive,
}

type Params = Query<HashMap<String, String>>;

async fn clients(State(state): State<Arc<MockState>>, Query(query): Params) -> Response {
    list(
        &state.store().companies,
        &query,
        "clients",
        "alastupdate",
        Hidden::Nothing,
    )
}

async fn assets(State(state): State<Arc<MockState>>, Query(query): Params) -> Response {
    list(
        &state.store().devices,
        &query,
        "assets",
        "last_modified",
        Hidden::Inactive,
    )
}

async fn tickets(State(state): State<Arc<MockState>>, Query(query): Params) -> Response {
    list(
        &state.store().tickets,
        &query,
        "tickets",
        "last_update",
        Hidden::Closed,
    )
}

/// `GET /Actions?ticket_id=N`: the ticket's actions, system ones left out when
/// `excludesys=true`.
async fn actions(State(state): State<Arc<MockState>>, Query(query): Params) -> Response {
    const KNOWN: [&str; 4] = ["ticket_id", "excludesys", "count", "agentonly"];
    let query: HashMap<String, &String> = query
        .iter()
        .map(|(key, value)| (key.to_ascii_lowercase(), value))
        .collect();
    if let Some(unknown) = query.keys().find(|key| !KNOWN.contains(&key.as_str())) {
        return refuse(
            StatusCode::BAD_REQUEST,
            &format!("Unknown query parameter '{unknown}'"),
        );
    }
    let Some(ticket) = query.get("ticket_id").and_then(|id| id.parse::<i64>().ok()) else {
        return refuse(StatusCode::BAD_REQUEST, "ticket_id is required");
    };
    let exclude_system = query
        .get("excludesys")
        .is_some_and(|value| value.eq_ignore_ascii_case("true"));
    let found: Vec<Value> = state
        .store()
        .notes
        .iter()
        .filter(|action| action["ticket_id"] == ticket)
        .filter(|action| !(exclude_system && action["outcome"] == "System"))
        .cloned()
        .collect();
    super::json(
        StatusCode::OK,
        &json!({ "record_count": found.len(), "actions": found }),
    )
}

/// The objects of a write's body: a non-empty JSON array of objects, as Halo's writes take.
fn write_objects(body: &str) -> Result<Vec<serde_json::Map<String, Value>>, String> {
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(body) else {
        return Err("The request body must be a JSON array of objects".into());
    };
    if items.is_empty() {
        return Err("The request body is an empty array".into());
    }
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(object) => Ok(object),
            _ => Err("Every element of the request body must be an object".into()),
        })
        .collect()
}

/// Refuses a field not in `known` (Halo would ignore it; the mock catches a connector's typo).
fn known_fields(object: &serde_json::Map<String, Value>, known: &[&str]) -> Result<(), String> {
    match object.keys().find(|key| !known.contains(&key.as_str())) {
        Some(unknown) => Err(format!("Unknown field '{unknown}'")),
        None => Ok(()),
    }
}

/// What a write answers: the one object, or the array of several.
fn written(mut objects: Vec<Value>) -> Response {
    let body = if objects.len() == 1 {
        objects.remove(0)
    } else {
        Value::Array(objects)
    };
    super::json(StatusCode::CREATED, &body)
}

/// `POST /Tickets`: updates of existing tickets, all or none.
async fn update_tickets(
    State(state): State<Arc<MockState>>,
    OriginalUri(uri): OriginalUri,
    body: String,
) -> Response {
    const KNOWN: [&str; 7] = [
        "id",
        "team",
        "agent_id",
        "status_id",
        "summary",
        "details",
        "priority_id",
    ];
    let updates = match write_objects(&body) {
        Ok(updates) => updates,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, &message),
    };
    let mut store = state.store();
    // Validate every update before applying any.
    for update in &updates {
        if let Err(message) = known_fields(update, &KNOWN) {
            return refuse(StatusCode::BAD_REQUEST, &message);
        }
        let Some(id) = update.get("id").and_then(Value::as_i64) else {
            return refuse(
                StatusCode::BAD_REQUEST,
                "The mock only updates tickets: every object needs its integer id",
            );
        };
        let checks = [
            (
                "team",
                update
                    .get("team")
                    .is_none_or(|team| team.as_str().is_some_and(|team| !team.trim().is_empty())),
            ),
            ("agent_id", update.get("agent_id").is_none_or(Value::is_i64)),
            (
                "priority_id",
                update.get("priority_id").is_none_or(Value::is_i64),
            ),
            (
                "summary",
                update.get("summary").is_none_or(Value::is_string),
            ),
            (
                "details",
                update.get("details").is_none_or(Value::is_string),
            ),
        ];
        if let Some((field, _)) = checks.iter().find(|(_, valid)| !valid) {
            return refuse(StatusCode::BAD_REQUEST, &format!("'{field}' is not valid"));
        }
        if let Some(status) = update.get("status_id") {
            let known =
                status.is_i64() && store.statuses.iter().any(|listed| listed["id"] == *status);
            if !known {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    &format!("Status {status} does not exist"),
                );
            }
        }
        if !store
            .tickets
            .iter()
            .any(|ticket| ticket["id"].as_i64() == Some(id))
        {
            return refuse(StatusCode::NOT_FOUND, &format!("Ticket {id} not found"));
        }
    }
    let now = Utc::now();
    let mut answered = Vec::new();
    for update in &updates {
        let status = update.get("status_id").and_then(|status| {
            store
                .statuses
                .iter()
                .find(|listed| listed["id"] == *status)
                .cloned()
        });
        let ticket = store
            .tickets
            .iter_mut()
            .find(|ticket| ticket["id"] == update["id"])
            .expect("checked above");
        for (field, value) in update {
            if field != "id" {
                ticket[field.as_str()] = value.clone();
            }
        }
        if let Some(status) = status {
            ticket["status_name"] = status["name"].clone();
            // A status of type 1 closes the ticket (the fixture's "Closed").
            ticket["dateclosed"] = if status["type"] == 1 {
                json!(stamp(now))
            } else {
                json!(NO_DATE)
            };
        }
        ticket["last_update"] = json!(stamp(now));
        ticket["lastactiondate"] = json!(stamp(now));
        answered.push(ticket.clone());
    }
    drop(store);
    state.record_write(
        "POST",
        uri.path(),
        Value::Array(updates.into_iter().map(Value::Object).collect()),
    );
    written(answered)
}

/// `POST /Actions`: new actions on existing tickets, all or none.
async fn create_actions(
    State(state): State<Arc<MockState>>,
    OriginalUri(uri): OriginalUri,
    body: String,
) -> Response {
    const KNOWN: [&str; 7] = [
        "ticket_id",
        "note",
        "note_html",
        "outcome",
        "outcome_id",
        "hiddenfromuser",
        "timetaken",
    ];
    let actions = match write_objects(&body) {
        Ok(actions) => actions,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, &message),
    };
    let mut store = state.store();
    for action in &actions {
        if let Err(message) = known_fields(action, &KNOWN) {
            return refuse(StatusCode::BAD_REQUEST, &message);
        }
        let Some(ticket) = action.get("ticket_id").and_then(Value::as_i64) else {
            return refuse(StatusCode::BAD_REQUEST, "ticket_id is required");
        };
        let text = |key: &str| {
            action
                .get(key)
                .and_then(Value::as_str)
                .is_some_and(|text| !text.trim().is_empty())
        };
        if !text("note") {
            return refuse(StatusCode::BAD_REQUEST, "note is required");
        }
        if !text("outcome") {
            return refuse(StatusCode::BAD_REQUEST, "outcome is required");
        }
        if !action.get("hiddenfromuser").is_none_or(Value::is_boolean) {
            return refuse(
                StatusCode::BAD_REQUEST,
                "hiddenfromuser must be true or false",
            );
        }
        if !store
            .tickets
            .iter()
            .any(|found| found["id"].as_i64() == Some(ticket))
        {
            return refuse(StatusCode::NOT_FOUND, &format!("Ticket {ticket} not found"));
        }
    }
    let now = Utc::now();
    let mut answered = Vec::new();
    for request in &actions {
        let next = store
            .notes
            .iter()
            .filter_map(|action| action["id"].as_i64())
            .max()
            .unwrap_or(4_500)
            .max(4_500)
            + 1;
        let ticket = request["ticket_id"].as_i64().unwrap_or_default();
        let mut created = action(
            next,
            ticket,
            request["note"].as_str().unwrap_or_default(),
            request.get("hiddenfromuser").and_then(Value::as_bool) == Some(true),
            now,
        );
        created["outcome"] = request["outcome"].clone();
        created["who"] = json!("API User");
        created["who_agentid"] = json!(0);
        created["timetaken"] = json!(0);
        created["new_status"] = Value::Null;
        store.notes.push(created.clone());
        if let Some(found) = store
            .tickets
            .iter_mut()
            .find(|found| found["id"].as_i64() == Some(ticket))
        {
            found["last_update"] = json!(stamp(now));
            found["lastactiondate"] = json!(stamp(now));
        }
        answered.push(created);
    }
    drop(store);
    state.record_write(
        "POST",
        uri.path(),
        Value::Array(actions.into_iter().map(Value::Object).collect()),
    );
    written(answered)
}

/// An action on ticket `ticket` as Halo lists it, written at `at` by agent 14; `hidden` for one
/// the end user does not see. `note` empty leaves only `note_html`.
#[must_use]
pub fn action(id: i64, ticket: i64, note: &str, hidden: bool, at: DateTime<Utc>) -> Value {
    json!({
        "id": id, "ticket_id": ticket, "outcome": if hidden { "Private Note" } else { "Note" },
        "outcome_id": if hidden { 7 } else { 1 }, "who": "Sam Agent", "who_agentid": 14,
        "note": note, "note_html": format!("<p>{note}</p>"), "datetime": stamp(at),
        "actiondatecreated": stamp(at), "hiddenfromuser": hidden, "timetaken": 0.25,
        "new_status": 2, "emailfrom": "", "emailto": ""
    })
}

async fn statuses(State(state): State<Arc<MockState>>) -> Json<Value> {
    Json(Value::Array(state.store().statuses.clone()))
}

async fn priorities(State(state): State<Arc<MockState>>) -> Json<Value> {
    Json(Value::Array(state.store().priorities.clone()))
}

/// An instant as Halo writes it: ISO without a zone.
#[must_use]
pub fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// Halo's "no date".
pub const NO_DATE: &str = "1900-01-01T00:00:00";

/// Status ids of the fixture.
pub mod status {
    /// New.
    pub const NEW: i64 = 1;
    /// In Progress.
    pub const IN_PROGRESS: i64 = 2;
    /// Action Required.
    pub const ACTION_REQUIRED: i64 = 3;
    /// With User.
    pub const WITH_USER: i64 = 4;
    /// Closed.
    pub const CLOSED: i64 = 9;
    /// Waiting for Customer.
    pub const WAITING_CUSTOMER: i64 = 18;
}

/// A client as Halo lists it, last updated at `at`.
#[must_use]
pub fn client(id: i64, name: &str, at: DateTime<Utc>) -> Value {
    json!({ "id": id, "name": name, "toplevel_id": 1, "toplevel_name": "Top Level", "inactive": false, "colour": "#2b7bb9", "alastupdate": stamp(at) })
}

/// An asset as Halo lists it, last modified at `at`, linked to NinjaOne device `ninja` (0 for
/// none).
#[must_use]
pub fn asset(id: i64, client: i64, kind: &str, name: &str, ninja: i64, at: DateTime<Utc>) -> Value {
    json!({
        "id": id, "inventory_number": name, "key_field": name, "key_field2": format!("HSN{id}"),
        "client_id": client, "client_name": format!("Client {client}"), "site_id": client * 10 + 1,
        "site_name": "Main Office", "assettype_id": 4, "assettype_name": kind, "status_id": 1,
        "status_name": "Active", "username": "Dana Ruiz", "warranty_end": "2027-01-31T00:00:00",
        "inactive": false, "ninjarmm_id": ninja, "datto_id": null,
        "fields": [
            { "id": 12, "name": "IP Address", "value": format!("10.40.{}.{}", client % 250, id % 250) },
            { "id": 13, "name": "Serial Number", "value": format!("HSN{id}") },
            { "id": 14, "name": "Operating System", "value": if kind.contains("Server") { "Windows Server 2022" } else { "Windows 11 Pro" } }
        ],
        "last_modified": stamp(at)
    })
}

/// A ticket as Halo lists it, opened two hours before `at` and last updated at `at`.
#[must_use]
pub fn ticket(id: i64, client: i64, status: i64, at: DateTime<Utc>) -> Value {
    let names = HashMap::from([
        (status::NEW, "New"),
        (status::IN_PROGRESS, "In Progress"),
        (status::ACTION_REQUIRED, "Action Required"),
        (status::WITH_USER, "With User"),
        (status::CLOSED, "Closed"),
        (status::WAITING_CUSTOMER, "Waiting for Customer"),
    ]);
    json!({
        "id": id, "summary": format!("Ticket {id}: Outlook prompts for password"),
        "details": "User reports repeated credential prompts since Monday.",
        "status_id": status, "status_name": names.get(&status).copied().unwrap_or("Custom"),
        "tickettype_id": 1, "tickettype_name": "Incident", "priority_id": 3, "sla_id": 1,
        "client_id": client, "client_name": format!("Client {client}"), "site_id": client * 10 + 1,
        "site_name": "Main Office", "user_id": 612, "user_name": "Dana Ruiz", "agent_id": 14,
        "team": "1st Line", "category_1": "Email",
        "dateoccurred": stamp(at - Duration::hours(2)), "respondbydate": stamp(at),
        "fixbydate": stamp(at + Duration::days(2)), "lastactiondate": stamp(at), "last_update": stamp(at),
        "dateclosed": if status == status::CLOSED { stamp(at) } else { NO_DATE.to_owned() },
        "onhold": status == status::WAITING_CUSTOMER, "inactive": false
    })
}

/// Test data: `clients` clients (ids 57, 58, ...) with a server and a laptop asset each (ids
/// 2200, ...; the server linked to NinjaOne), `tickets` tickets spread over them (ids 18000,
/// ...; on the first, a note, a private note and a system action), all last updated at `at`;
/// the statuses, and priorities for two SLAs.
#[must_use]
pub fn fixture(clients: usize, tickets: usize, at: DateTime<Utc>) -> Store {
    let client_ids: Vec<i64> = (0..clients as i64).map(|n| 57 + n).collect();
    let mut store = Store {
        companies: client_ids
            .iter()
            .map(|id| client(*id, &format!("Client {id}"), at))
            .collect(),
        ..Store::default()
    };
    for (index, client) in client_ids.iter().enumerate() {
        let id = 2200 + index as i64 * 2;
        store.devices.push(asset(
            id,
            *client,
            "Server",
            &format!("C{client}-SRV-01"),
            3300 + id,
            at,
        ));
        store.devices.push(asset(
            id + 1,
            *client,
            "Laptop",
            &format!("C{client}-LT-01"),
            0,
            at,
        ));
    }
    let statuses = [status::NEW, status::IN_PROGRESS, status::WAITING_CUSTOMER];
    store.tickets = (0..tickets)
        .map(|n| {
            let client = client_ids[n % client_ids.len().max(1)];
            ticket(18_000 + n as i64, client, statuses[n % 3], at)
        })
        .collect();
    if tickets > 0 {
        let mut system = action(4_402, 18_000, "Status changed to In Progress", false, at);
        system["outcome"] = json!("System");
        store.notes = vec![
            action(
                4_400,
                18_000,
                "Called the user; reset the Outlook profile.",
                false,
                at,
            ),
            action(
                4_401,
                18_000,
                "Mailbox move left a stale autodiscover record.",
                true,
                at,
            ),
            system,
        ];
    }
    store.statuses = [
        (status::NEW, "New", 0),
        (status::IN_PROGRESS, "In Progress", 0),
        (status::ACTION_REQUIRED, "Action Required", 0),
        (status::WITH_USER, "With User", 0),
        (status::WAITING_CUSTOMER, "Waiting for Customer", 0),
        (status::CLOSED, "Closed", 1),
    ]
    .into_iter()
    .enumerate()
    .map(|(sequence, (id, name, kind))| {
        json!({ "id": id, "name": name, "shortname": name.chars().take(3).collect::<String>(), "type": kind, "sequence": sequence, "slaaction": if id == status::WAITING_CUSTOMER { 1 } else { 0 }, "colour": "#cccccc" })
    })
    .collect();
    for sla in [1, 2] {
        for (id, name, hours) in [
            (1, "Critical", 1),
            (2, "High", 4),
            (3, "Medium", 8),
            (4, "Low", 24),
        ] {
            store.priorities.push(json!({ "priorityid": id, "name": name, "slaid": sla, "responsetime": hours, "fixtime": hours * 4 }));
        }
    }
    store
}
