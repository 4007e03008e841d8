//! An Autotask PSA mock: unauthenticated `zoneInformation?user=` naming the mock itself as the
//! zone, the API under `/atservicesrest/v1.0` (and the `ATServicesRest/V1.0` casing clients also
//! use), the `UserName`/`Secret`/`ApiIntegrationCode` headers, `POST /{Entity}/query` (or `GET`
//! with `?search=`) with Autotask's filter JSON and `MaxRecords` up to 500, paging through an
//! absolute `pageDetails.nextPageUrl` (followed with `GET` or `POST`), `TicketNotes` (with the
//! `in` operator a bulk read uses, at most 500 values), the tickets'
//! `entityInformation/fields` picklists, `ThresholdInformation`, and `{"errors": [...]}` bodies.
//!
//! Writes (two-way sync): `PATCH /Tickets` with a JSON object carrying `id` and the fields to
//! change (those in [`TICKET_WRITABLE`]; an assigned resource needs its role), answered
//! `{"itemId": id}`; `POST /Tickets/{id}/Notes` with `ticketID`, `title`, `description`,
//! `noteType` and `publish` (1 all users, 2 internal only), answered `{"itemId": <note id>}`.
//! Both stamp the ticket's `lastActivityDate` (a note's too), so a changed-since query sees
//! them; an unknown ticket is a 404, a malformed body a 400, each with `{"errors": [...]}`
//! (Autotask may answer such refusals with a 500; the mock keeps them apart). Each applied
//! write is recorded ([`MockState::writes`]).
//!
//! Filters name fields the entity has; an unknown field or operator is refused with a 400 (the
//! status Autotask uses for a malformed query is unconfirmed; the body is its shape).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{OriginalUri, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{MockServer, MockState, Store, apply_faults};
use crate::time;

/// The API user the mock knows.
pub const USERNAME: &str = "tandem-api@acme-msp.example";
/// Its secret.
pub const SECRET: &str = "at-secret-7Qw";
/// The API tracking identifier.
pub const INTEGRATION_CODE: &str = "TANDEMMOCKTRACKINGID0000027";
/// The REST root under the mock's URL.
pub const ROOT: &str = "/atservicesrest/v1.0";
/// The largest `MaxRecords` Autotask takes.
pub const MAX_RECORDS: i64 = 500;

/// Settings and credentials that work against the mock.
#[must_use]
pub fn configuration() -> (Value, Value) {
    (
        json!({}),
        json!({ "username": USERNAME, "secret": SECRET, "integrationCode": INTEGRATION_CODE }),
    )
}

fn error(_status: u16, message: &str) -> Value {
    json!({ "errors": [message] })
}

fn refuse(status: StatusCode, message: &str) -> Response {
    super::json(status, &error(status.as_u16(), message))
}

/// Starts the mock serving `store`.
pub async fn start(store: Store) -> MockServer {
    let state = MockState::new(store);
    let authenticated = Router::new()
        .route("/ThresholdInformation", get(threshold))
        .route("/{entity}/entityInformation/fields", get(fields))
        .route("/{entity}/query", get(query_by_get).post(query_by_post))
        .route("/{entity}/query/next", get(next).post(next))
        .route("/{entity}", patch(update))
        .route("/{entity}/{parent}/Notes", post(create_note))
        .route_layer(middleware::from_fn(authenticate))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            |State(state): State<Arc<MockState>>, request: Request, next: Next| {
                apply_faults(state, error, request, next)
            },
        ));
    // Zone lookups need no credentials and are exempt from Autotask's limits.
    let api = Router::new()
        .route("/zoneInformation", get(zone))
        .merge(authenticated);
    let router = Router::new()
        .nest(ROOT, api.clone())
        .nest("/ATServicesRest/V1.0", api)
        .fallback(|| async {
            refuse(
                StatusCode::NOT_FOUND,
                "The requested resource does not exist.",
            )
        })
        .with_state(Arc::clone(&state));
    MockServer::start(router, state).await
}

/// `http://host:port` of the mock, as the client addressed it.
fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get("host")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

async fn zone(Query(query): Query<HashMap<String, String>>, headers: HeaderMap) -> Response {
    let known = query
        .get("user")
        .is_some_and(|user| user.eq_ignore_ascii_case(USERNAME));
    if !known {
        // Autotask answers an unknown or blank user with a 500.
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Zone information could not be determined",
        );
    }
    let origin = origin(&headers);
    super::json(
        StatusCode::OK,
        &json!({ "zoneName": "Mock Zone", "url": format!("{origin}{ROOT}"), "webUrl": format!("{origin}/"), "ci": 0 }),
    )
}

async fn authenticate(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let authorized = header("username").is_some_and(|user| user.eq_ignore_ascii_case(USERNAME))
        && header("secret") == Some(SECRET)
        && header("apiintegrationcode") == Some(INTEGRATION_CODE);
    if authorized {
        next.run(request).await
    } else {
        refuse(StatusCode::UNAUTHORIZED, "User is not authenticated.")
    }
}

async fn threshold(State(state): State<Arc<MockState>>) -> Json<Value> {
    Json(json!({
        "externalRequestThreshold": 10_000,
        "requestThresholdTimeframe": 60,
        "currentTimeframeRequestCount": state.requests()
    }))
}

/// An entity the mock serves: where its records are, and the fields its filters may name.
struct Entity {
    name: &'static str,
    fields: &'static [&'static str],
    records: fn(&Store) -> &Vec<Value>,
}

const ENTITIES: [Entity; 4] = [
    Entity {
        name: "Companies",
        fields: &[
            "id",
            "companyName",
            "companyNumber",
            "companyType",
            "isActive",
            "phone",
            "webAddress",
            "ownerResourceID",
            "parentCompanyID",
            "createDate",
            "lastActivityDate",
            "lastTrackedModifiedDateTime",
        ],
        records: |store| &store.companies,
    },
    Entity {
        name: "ConfigurationItems",
        fields: &[
            "id",
            "companyID",
            "referenceTitle",
            "referenceNumber",
            "serialNumber",
            "isActive",
            "configurationItemType",
            "configurationItemCategoryID",
            "productID",
            "installDate",
            "warrantyExpirationDate",
            "rmmDeviceUID",
            "rmmDeviceID",
            "rmmDeviceAuditHostname",
            "rmmDeviceAuditIPAddress",
            "rmmDeviceAuditMacAddress",
            "rmmDeviceAuditOperatingSystem",
            "rmmOpenAlertCount",
            "createDate",
            "lastModifiedTime",
        ],
        records: |store| &store.devices,
    },
    Entity {
        name: "Tickets",
        fields: &[
            "id",
            "ticketNumber",
            "title",
            "description",
            "status",
            "priority",
            "queueID",
            "companyID",
            "contactID",
            "configurationItemID",
            "assignedResourceID",
            "assignedResourceRoleID",
            "ticketType",
            "issueType",
            "subIssueType",
            "source",
            "createDate",
            "dueDateTime",
            "lastActivityDate",
            "lastTrackedModificationDateTime",
            "completedDate",
        ],
        records: |store| &store.tickets,
    },
    Entity {
        name: "TicketNotes",
        fields: &[
            "id",
            "ticketID",
            "title",
            "description",
            "noteType",
            "publish",
            "createDateTime",
            "lastActivityDate",
            "creatorResourceID",
            "createdByContactID",
        ],
        records: |store| &store.notes,
    },
];

/// The most values an `in` condition takes (Autotask's limit on conditions in a query).
pub const MAX_IN_VALUES: usize = 500;

fn entity(name: &str) -> Result<&'static Entity, Box<Response>> {
    ENTITIES
        .iter()
        .find(|entity| entity.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            Box::new(refuse(
                StatusCode::NOT_FOUND,
                &format!("The entity {name} does not exist."),
            ))
        })
}

async fn fields(State(state): State<Arc<MockState>>, Path(name): Path<String>) -> Response {
    let entity = match entity(&name) {
        Ok(entity) => entity,
        Err(refused) => return *refused,
    };
    let store = state.store();
    let ci_types = configuration_item_types();
    let picklist = |field: &str| match (entity.name, field) {
        ("Tickets", "status") => Some(&store.statuses),
        ("Tickets", "priority") => Some(&store.priorities),
        ("ConfigurationItems", "configurationItemType") => Some(&ci_types),
        _ => None,
    };
    let fields: Vec<Value> = entity
        .fields
        .iter()
        .map(|field| {
            let values = picklist(field);
            json!({
                "name": field, "dataType": if field.ends_with("Date") || field.ends_with("Time") { "datetime" } else { "string" },
                "length": 0, "isRequired": *field == "id", "isReadOnly": *field == "id", "isQueryable": true,
                "isReference": field.ends_with("ID"), "referenceEntityType": "",
                "isPickList": values.is_some(), "picklistValues": values.cloned().map_or(Value::Null, Value::Array),
                "picklistParentValueField": "", "isSupportedWebhookField": true
            })
        })
        .collect();
    super::json(StatusCode::OK, &json!({ "fields": fields }))
}

async fn query_by_post(
    State(state): State<Arc<MockState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    match serde_json::from_str(&body) {
        Ok(search) => run(&state, &name, &headers, &search, 0),
        Err(error) => refuse(
            StatusCode::BAD_REQUEST,
            &format!("The query body is not JSON: {error}"),
        ),
    }
}

async fn query_by_get(
    State(state): State<Arc<MockState>>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    match query
        .get("search")
        .map(|search| serde_json::from_str(search))
    {
        Some(Ok(search)) => run(&state, &name, &headers, &search, 0),
        _ => refuse(
            StatusCode::BAD_REQUEST,
            "The search parameter is missing or not JSON.",
        ),
    }
}

/// `nextPageUrl`: the search again, after the last id the previous page returned.
async fn next(
    State(state): State<Arc<MockState>>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let paging: Option<Value> = query
        .get("paging")
        .and_then(|paging| serde_json::from_str(paging).ok());
    let after = paging
        .as_ref()
        .and_then(|paging| paging.get("lastIdRetrieved"))
        .and_then(Value::as_i64);
    let search: Option<Value> = query
        .get("search")
        .and_then(|search| serde_json::from_str(search).ok());
    match (after, search) {
        (Some(after), Some(search)) => run(&state, &name, &headers, &search, after),
        _ => refuse(StatusCode::BAD_REQUEST, "The paging URL is not valid."),
    }
}

/// Answers `search` on the entity `name`, from the record after id `after`.
fn run(state: &MockState, name: &str, headers: &HeaderMap, search: &Value, after: i64) -> Response {
    let entity = match entity(name) {
        Ok(entity) => entity,
        Err(refused) => return *refused,
    };
    let max = match search
        .get("MaxRecords")
        .or_else(|| search.get("maxRecords"))
    {
        None => MAX_RECORDS,
        Some(value) => match value.as_i64() {
            Some(max) if (1..=MAX_RECORDS).contains(&max) => max,
            _ => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "MaxRecords must be between 1 and 500.",
                );
            }
        },
    };
    let Some(filter) = search
        .get("filter")
        .and_then(Value::as_array)
        .filter(|filter| !filter.is_empty())
    else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "A query must have at least one filter.",
        );
    };
    if let Err(message) = filter
        .iter()
        .try_for_each(|condition| validate(condition, entity))
    {
        return refuse(StatusCode::BAD_REQUEST, &message);
    }
    let id_of = |record: &Value| record.get("id").and_then(Value::as_i64).unwrap_or_default();
    let prepared: Vec<Prepared<'_>> = filter.iter().map(Prepared::of).collect();
    let mut found: Vec<Value> = (entity.records)(&state.store())
        .iter()
        .filter(|record| id_of(record) > after)
        .filter(|record| prepared.iter().all(|condition| condition.matches(record)))
        .cloned()
        .collect();
    found.sort_by_key(|record| id_of(record));
    let more = found.len() as i64 > max;
    found.truncate(max as usize);
    let next = match found.last() {
        Some(last) if more => {
            let paging = json!({ "pageSize": max, "lastIdRetrieved": id_of(last) }).to_string();
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("paging", &paging)
                .append_pair("search", &search.to_string())
                .finish();
            json!(format!(
                "{}{ROOT}/{}/query/next?{query}",
                origin(headers),
                entity.name
            ))
        }
        _ => Value::Null,
    };
    super::json(
        StatusCode::OK,
        &json!({
            "items": found,
            "pageDetails": { "count": found.len(), "requestCount": max, "prevPageUrl": null, "nextPageUrl": next }
        }),
    )
}

/// A top-level condition ready to match many records: an `in` list as a set (a bulk read names
/// hundreds of ids, and the mock serves benchmarks of tens of thousands of records).
enum Prepared<'a> {
    In {
        field: &'a str,
        keys: std::collections::HashSet<String>,
        negated: bool,
    },
    Other(&'a Value),
}

impl<'a> Prepared<'a> {
    fn of(condition: &'a Value) -> Self {
        let op = condition
            .get("op")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase();
        match (op.as_str(), condition.get("field").and_then(Value::as_str)) {
            ("in" | "notin", Some(field)) => Self::In {
                field,
                keys: condition
                    .get("value")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(key)
                    .collect(),
                negated: op == "notin",
            },
            _ => Self::Other(condition),
        }
    }

    fn matches(&self, record: &Value) -> bool {
        match self {
            Self::In {
                field: name,
                keys,
                negated,
            } => {
                field(record, name)
                    .and_then(key)
                    .is_some_and(|found| keys.contains(&found))
                    != *negated
            }
            Self::Other(condition) => matches(record, condition),
        }
    }
}

/// A value as `compare` sees it, for set membership: numbers (or numeric strings) by value,
/// other text without case.
fn key(value: &Value) -> Option<String> {
    match value {
        Value::Number(number) => number.as_f64().map(|number| number.to_string()),
        Value::String(text) => Some(
            text.trim()
                .parse::<f64>()
                .map_or_else(|_| text.to_ascii_lowercase(), |number| number.to_string()),
        ),
        _ => None,
    }
}

const COMPARISONS: [&str; 6] = ["eq", "noteq", "gt", "gte", "lt", "lte"];

fn validate(condition: &Value, entity: &Entity) -> Result<(), String> {
    let op = condition
        .get("op")
        .and_then(Value::as_str)
        .ok_or("Every filter condition needs an op.")?
        .to_ascii_lowercase();
    if op == "and" || op == "or" {
        let items = condition
            .get("items")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("The {op} group has no items."))?;
        return items.iter().try_for_each(|item| validate(item, entity));
    }
    let field = condition
        .get("field")
        .and_then(Value::as_str)
        .ok_or("Every filter condition needs a field.")?;
    if !entity
        .fields
        .iter()
        .any(|known| known.eq_ignore_ascii_case(field))
    {
        return Err(format!(
            "Unable to find {field} in the {} entity.",
            entity.name
        ));
    }
    if op == "in" || op == "notin" {
        let values = condition
            .get("value")
            .and_then(Value::as_array)
            .filter(|values| !values.is_empty())
            .ok_or_else(|| format!("The {op} condition on {field} needs a list of values."))?;
        if values.len() > MAX_IN_VALUES {
            return Err(format!(
                "The {op} condition on {field} has {} values; the most is {MAX_IN_VALUES}.",
                values.len()
            ));
        }
        return Ok(());
    }
    if COMPARISONS.contains(&op.as_str()) {
        if condition.get("value").is_none_or(Value::is_null) {
            return Err(format!("The {op} condition on {field} has no value."));
        }
        Ok(())
    } else if op == "exist" || op == "notexist" {
        Ok(())
    } else {
        Err(format!("The operator {op} is not valid."))
    }
}

/// The record's value of `field`, matched without case as Autotask does.
fn field<'a>(record: &'a Value, field: &str) -> Option<&'a Value> {
    record
        .as_object()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(field))
        .map(|(_, value)| value)
        .filter(|value| !value.is_null())
}

/// Numbers (or numeric strings) by value, dates by instant, other text without case.
fn compare(left: &Value, right: &Value) -> Option<Ordering> {
    let number = |value: &Value| match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    };
    if let (Some(left), Some(right)) = (number(left), number(right)) {
        return left.partial_cmp(&right);
    }
    let (left, right) = (left.as_str()?, right.as_str()?);
    match (time::iso(left), time::iso(right)) {
        (Some(left), Some(right)) => Some(left.cmp(&right)),
        _ => Some(left.to_ascii_lowercase().cmp(&right.to_ascii_lowercase())),
    }
}

fn matches(record: &Value, condition: &Value) -> bool {
    let op = condition
        .get("op")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let items = || {
        condition
            .get("items")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
    };
    let name = condition
        .get("field")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let found = field(record, name);
    let ordering = || compare(found?, condition.get("value")?);
    let listed = || {
        found.is_some_and(|found| {
            condition
                .get("value")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|value| compare(found, value) == Some(Ordering::Equal))
        })
    };
    match op.as_str() {
        "and" => items().all(|item| matches(record, item)),
        "or" => items().any(|item| matches(record, item)),
        "exist" => found.is_some(),
        "notexist" => found.is_none(),
        "eq" => ordering() == Some(Ordering::Equal),
        "noteq" => ordering() != Some(Ordering::Equal),
        "gt" => ordering() == Some(Ordering::Greater),
        "gte" => matches!(ordering(), Some(Ordering::Greater | Ordering::Equal)),
        "lt" => ordering() == Some(Ordering::Less),
        "lte" => matches!(ordering(), Some(Ordering::Less | Ordering::Equal)),
        "in" => listed(),
        "notin" => !listed(),
        _ => false,
    }
}

/// Ticket fields `PATCH /Tickets` may change in the mock.
pub const TICKET_WRITABLE: [&str; 13] = [
    "title",
    "description",
    "status",
    "priority",
    "queueID",
    "assignedResourceID",
    "assignedResourceRoleID",
    "contactID",
    "configurationItemID",
    "ticketType",
    "issueType",
    "subIssueType",
    "dueDateTime",
];

/// `PATCH /{entity}`: an update of the ticket the body's `id` names.
async fn update(
    State(state): State<Arc<MockState>>,
    Path(name): Path<String>,
    OriginalUri(uri): OriginalUri,
    body: String,
) -> Response {
    if !name.eq_ignore_ascii_case("Tickets") {
        return refuse(
            StatusCode::NOT_FOUND,
            &format!("The entity {name} cannot be updated here."),
        );
    }
    let update = match serde_json::from_str::<Value>(&body) {
        Ok(update @ Value::Object(_)) => update,
        _ => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "The request body must be a JSON object.",
            );
        }
    };
    let changes = match ticket_changes(&state, &update) {
        Ok(changes) => changes,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, &message),
    };
    let Some(id) = update.get("id").and_then(Value::as_i64) else {
        return refuse(StatusCode::BAD_REQUEST, "The id of the entity is required.");
    };
    {
        let mut store = state.store();
        let Some(ticket) = store
            .tickets
            .iter_mut()
            .find(|ticket| ticket["id"].as_i64() == Some(id))
        else {
            return refuse(
                StatusCode::NOT_FOUND,
                &format!("Ticket {id} does not exist or is not accessible."),
            );
        };
        let now = Utc::now();
        for (field, value) in changes {
            if field == "status" {
                ticket["completedDate"] = if value.as_i64() == Some(status::COMPLETE) {
                    json!(stamp(now))
                } else {
                    Value::Null
                };
            }
            ticket[field] = value;
        }
        ticket["lastActivityDate"] = json!(stamp(now));
    }
    state.record_write("PATCH", uri.path(), update);
    super::json(StatusCode::OK, &json!({ "itemId": id }))
}

/// The fields a ticket update changes, by the mock's spelling, or why Autotask would refuse it.
fn ticket_changes(state: &MockState, update: &Value) -> Result<Vec<(&'static str, Value)>, String> {
    let mut changes = Vec::new();
    for (key, value) in update.as_object().into_iter().flatten() {
        if key.eq_ignore_ascii_case("id") {
            continue;
        }
        let field = TICKET_WRITABLE
            .iter()
            .find(|known| known.eq_ignore_ascii_case(key))
            .ok_or_else(|| format!("Unable to find {key} in the Tickets entity."))?;
        let numeric = !matches!(*field, "title" | "description" | "dueDateTime");
        if numeric && !(value.is_i64() || value.is_null()) {
            return Err(format!("The value of {field} must be an integer."));
        }
        if *field == "status" {
            let known = state.store().statuses.iter().any(|listed| {
                listed["value"].as_str().and_then(|v| v.parse::<i64>().ok()) == value.as_i64()
            });
            if !known {
                return Err(format!(
                    "The value {value} of status is not in its picklist."
                ));
            }
        }
        changes.push((*field, value.clone()));
    }
    if changes.is_empty() {
        return Err("The update changes no field.".into());
    }
    let set = |name: &str| {
        changes
            .iter()
            .any(|(field, value)| *field == name && !value.is_null())
    };
    if set("assignedResourceID") != set("assignedResourceRoleID") {
        return Err("assignedResourceID and assignedResourceRoleID must be set together.".into());
    }
    Ok(changes)
}

/// `POST /Tickets/{parent}/Notes`: a new note on the ticket.
async fn create_note(
    State(state): State<Arc<MockState>>,
    Path((name, parent)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
    body: String,
) -> Response {
    if !name.eq_ignore_ascii_case("Tickets") {
        return refuse(
            StatusCode::NOT_FOUND,
            &format!("The entity {name} has no notes here."),
        );
    }
    let Ok(parent) = parent.parse::<i64>() else {
        return refuse(StatusCode::BAD_REQUEST, "The parent id must be a number.");
    };
    let note: Value = match serde_json::from_str(&body) {
        Ok(note @ Value::Object(_)) => note,
        _ => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "The request body must be a JSON object.",
            );
        }
    };
    if let Err(message) = validate_note(&note, parent) {
        return refuse(StatusCode::BAD_REQUEST, &message);
    }
    let now = Utc::now();
    let id = {
        let mut store = state.store();
        let Some(ticket) = store
            .tickets
            .iter_mut()
            .find(|ticket| ticket["id"].as_i64() == Some(parent))
        else {
            return refuse(
                StatusCode::NOT_FOUND,
                &format!("Ticket {parent} does not exist or is not accessible."),
            );
        };
        // A note is activity on its ticket.
        ticket["lastActivityDate"] = json!(stamp(now));
        let id = store
            .notes
            .iter()
            .filter_map(|note| note["id"].as_i64())
            .max()
            .unwrap_or(92_000)
            .max(92_000)
            + 1;
        store.notes.push(json!({
            "id": id, "ticketID": parent, "title": note["title"], "description": note["description"],
            "noteType": note["noteType"], "publish": note["publish"], "createDateTime": stamp(now),
            "lastActivityDate": stamp(now), "creatorResourceID": null, "createdByContactID": null,
            "impersonatorCreatorResourceID": null, "impersonatorUpdaterResourceID": null
        }));
        id
    };
    state.record_write("POST", uri.path(), note);
    super::json(StatusCode::OK, &json!({ "itemId": id }))
}

/// Why Autotask would refuse `note` on ticket `parent`, if it would.
fn validate_note(note: &Value, parent: i64) -> Result<(), String> {
    const FIELDS: [&str; 5] = ["ticketID", "title", "description", "noteType", "publish"];
    if let Some(unknown) = note
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, _)| key)
        .find(|key| !FIELDS.iter().any(|known| known.eq_ignore_ascii_case(key)))
    {
        return Err(format!(
            "Unable to find {unknown} in the TicketNotes entity."
        ));
    }
    match note.get("ticketID") {
        None => {}
        Some(value) if value.as_i64() == Some(parent) => {}
        Some(_) => return Err("ticketID does not match the parent ticket.".into()),
    }
    for field in ["title", "description"] {
        let text = note.get(field).and_then(Value::as_str).unwrap_or_default();
        if text.trim().is_empty() {
            return Err(format!("{field} is required."));
        }
    }
    if note["title"].as_str().unwrap_or_default().chars().count() > 250 {
        return Err("title is longer than 250 characters.".into());
    }
    if note["description"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .count()
        > 32_000
    {
        return Err("description is longer than 32000 characters.".into());
    }
    if !note.get("noteType").is_some_and(Value::is_i64) {
        return Err("noteType is required and must be an integer.".into());
    }
    if !matches!(note.get("publish").and_then(Value::as_i64), Some(1 | 2)) {
        return Err("publish must be 1 (All Autotask Users) or 2 (Internal Only).".into());
    }
    Ok(())
}

/// An instant as Autotask writes it: UTC with milliseconds.
#[must_use]
pub fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Ticket status picklist values of the fixture.
pub mod status {
    /// New (system).
    pub const NEW: i64 = 1;
    /// Complete (system).
    pub const COMPLETE: i64 = 5;
    /// In Progress.
    pub const IN_PROGRESS: i64 = 8;
    /// Waiting Customer.
    pub const WAITING_CUSTOMER: i64 = 7;
}

/// A company as Autotask returns it, last active at `at`.
#[must_use]
pub fn company(id: i64, name: &str, at: DateTime<Utc>) -> Value {
    json!({
        "id": id, "companyName": name, "companyNumber": format!("C{id}"), "companyType": 1,
        "isActive": true, "phone": "555-0100", "webAddress": null, "ownerResourceID": 29_682_885,
        "parentCompanyID": null, "createDate": stamp(at - Duration::days(400)),
        "lastActivityDate": stamp(at), "userDefinedFields": []
    })
}

/// A configuration item as Autotask returns it (RMM-fed), last modified at `at`.
#[must_use]
pub fn configuration_item(id: i64, company: i64, name: &str, os: &str, at: DateTime<Utc>) -> Value {
    json!({
        "id": id, "companyID": company, "referenceTitle": name, "referenceNumber": format!("ref-{id}"),
        "serialNumber": format!("ASN{id}"), "isActive": true, "configurationItemType": 1,
        "configurationItemCategoryID": 10, "productID": 29_683_420,
        "installDate": "2023-01-16T00:00:00Z", "warrantyExpirationDate": "2027-01-31T00:00:00Z",
        "rmmDeviceUID": format!("rmm-uid-{id}"), "rmmDeviceID": id * 10,
        "rmmDeviceAuditHostname": name, "rmmDeviceAuditIPAddress": format!("10.20.{}.{}", company % 250, id % 250),
        "rmmDeviceAuditMacAddress": format!("3C:52:82:AA:{:02X}:{:02X}", company % 250, id % 250),
        "rmmDeviceAuditOperatingSystem": os, "rmmOpenAlertCount": 0,
        "createDate": stamp(at - Duration::days(30)), "lastModifiedTime": stamp(at),
        "userDefinedFields": []
    })
}

/// A ticket as Autotask returns it, opened two hours before `at` and last active at `at`.
#[must_use]
pub fn ticket(id: i64, company: i64, status: i64, at: DateTime<Utc>) -> Value {
    json!({
        "id": id, "ticketNumber": format!("T20250305.{:04}", id % 10_000),
        "title": format!("Ticket {id}: Outlook prompts for password"),
        "description": "User reports repeated credential prompts since Monday.",
        "status": status, "priority": 2, "queueID": 29_682_833, "companyID": company,
        "contactID": 30_701_922, "configurationItemID": null, "assignedResourceID": 29_682_885,
        "assignedResourceRoleID": 29_683_461,
        "ticketType": 1, "issueType": 10, "subIssueType": 136, "source": 4,
        "createDate": stamp(at - Duration::hours(2)), "dueDateTime": stamp(at + Duration::days(2)),
        "lastActivityDate": stamp(at),
        "completedDate": if status == status::COMPLETE { json!(stamp(at)) } else { Value::Null },
        "userDefinedFields": [{ "name": "Root Cause", "value": null }]
    })
}

/// A note on ticket `ticket` as Autotask's `TicketNotes` returns it, written at `at` by resource
/// 29682885; `publish` 1 is for all Autotask users (the customer too), 2 internal only.
#[must_use]
pub fn note(id: i64, ticket: i64, text: &str, publish: i64, at: DateTime<Utc>) -> Value {
    json!({
        "id": id, "ticketID": ticket, "title": "Note", "description": text, "noteType": 1,
        "publish": publish, "createDateTime": stamp(at), "lastActivityDate": stamp(at),
        "creatorResourceID": 29_682_885, "createdByContactID": null,
        "impersonatorCreatorResourceID": null, "impersonatorUpdaterResourceID": null
    })
}

/// Configuration item type ids of the fixture's tenant (a tenant picklist at Autotask).
pub mod ci_type {
    /// Workstation.
    pub const WORKSTATION: i64 = 1;
    /// Server.
    pub const SERVER: i64 = 2;
    /// Network Device.
    pub const NETWORK_DEVICE: i64 = 3;
    /// Printer.
    pub const PRINTER: i64 = 4;
}

/// The `configurationItemType` picklist of the fixture's tenant.
#[must_use]
pub fn configuration_item_types() -> Vec<Value> {
    vec![
        picklist_value(ci_type::WORKSTATION, "Workstation", 1, false),
        picklist_value(ci_type::SERVER, "Server", 2, false),
        picklist_value(ci_type::NETWORK_DEVICE, "Network Device", 3, false),
        picklist_value(ci_type::PRINTER, "Printer", 4, false),
    ]
}

fn picklist_value(value: i64, label: &str, sort: i64, system: bool) -> Value {
    json!({
        "value": value.to_string(), "label": label, "isDefaultValue": value == 1,
        "sortOrder": sort, "parentValue": "", "isActive": true, "isSystem": system
    })
}

/// Test data: `companies` companies (ids 170, 171, ...) with a server and a workstation each
/// (configuration items 40, 41, ...), and `tickets` tickets spread over them (ids 30000, ...;
/// two notes on the first, one published, one internal), all last changed at `at`; the status
/// and priority picklists.
#[must_use]
pub fn fixture(companies: usize, tickets: usize, at: DateTime<Utc>) -> Store {
    let company_ids: Vec<i64> = (0..companies as i64).map(|n| 170 + n).collect();
    let mut store = Store {
        companies: company_ids
            .iter()
            .map(|id| company(*id, &format!("Company {id}"), at))
            .collect(),
        ..Store::default()
    };
    for (index, company) in company_ids.iter().enumerate() {
        let base = 40 + index as i64 * 2;
        store.devices.push(configuration_item(
            base,
            *company,
            &format!("C{company}-SRV-01"),
            "Microsoft Windows Server 2022 Standard",
            at,
        ));
        let last = store.devices.len() - 1;
        store.devices[last]["configurationItemType"] = json!(ci_type::SERVER);
        store.devices.push(configuration_item(
            base + 1,
            *company,
            &format!("C{company}-WS-01"),
            "Microsoft Windows 11 Pro",
            at,
        ));
    }
    let statuses = [status::NEW, status::IN_PROGRESS, status::WAITING_CUSTOMER];
    store.tickets = (0..tickets)
        .map(|n| {
            let company = company_ids[n % company_ids.len().max(1)];
            ticket(30_000 + n as i64, company, statuses[n % 3], at)
        })
        .collect();
    if tickets > 0 {
        store.notes = vec![
            note(
                91_001,
                30_000,
                "Called the user; reset the Outlook profile.",
                1,
                at,
            ),
            note(
                91_002,
                30_000,
                "Mailbox move left a stale autodiscover record.",
                2,
                at,
            ),
        ];
    }
    store.statuses = vec![
        picklist_value(status::NEW, "New", 1, true),
        picklist_value(status::COMPLETE, "Complete", 2, true),
        picklist_value(status::WAITING_CUSTOMER, "Waiting Customer", 3, false),
        picklist_value(status::IN_PROGRESS, "In Progress", 4, false),
        picklist_value(9, "Waiting Materials", 5, false),
        picklist_value(10, "Scheduled/Dispatched", 6, false),
        picklist_value(12, "Waiting Vendor", 7, false),
    ];
    store.priorities = vec![
        picklist_value(4, "Critical", 1, false),
        picklist_value(1, "High", 2, false),
        picklist_value(2, "Medium", 3, false),
        picklist_value(3, "Low", 4, false),
    ];
    store
}
