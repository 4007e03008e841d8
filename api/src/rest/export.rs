//! `GET /export/change-log?format=csv|ndjson&...`: the change log as a file, for scripts and
//! auditors.
//!
//! Takes the same filter as the GraphQL `changeLog` field (same names, lists comma-separated or
//! repeated), is authorized like it (bearer token, the viewer's tenancy), and streams: rows are
//! read in keyset chunks of [`CHUNK_ROWS`] and written as they come, so memory stays flat however
//! many rows match. Parameters are checked before the first byte is sent; a database failure
//! mid-stream aborts the response rather than ending it as if it were complete.

use std::collections::HashMap;

use async_graphql::ID;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use entities::{change_log_entry, change_log_entry_system, environment, system};
use sea_orm::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{DatabaseConnection, QueryOrder, QuerySelect, Select};
use serde::Serialize;

use crate::error::{ApiError, ApiResult};
use crate::graphql::pagination::beyond;
use crate::graphql::query::Within;
use crate::graphql::query::change_log::{ChangeLogFilter, select_changes};
use crate::ids::{self, NodeType};
use crate::state::{AppState, RequestId};

/// Rows read per database round trip.
pub const CHUNK_ROWS: u64 = 500;

/// The file formats of the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// Comma-separated values with a header row (RFC 4180).
    Csv,
    /// One JSON object per line.
    Ndjson,
}

/// The parameters the export accepts besides the filter's.
const OWN_PARAMETERS: [&str; 2] = ["format", "order"];
/// The filter's parameters, as the GraphQL `ChangeLogFilter` names them.
const FILTER_PARAMETERS: [&str; 10] = [
    "environmentIds",
    "systemIds",
    "occurredAfter",
    "occurredBefore",
    "sources",
    "categories",
    "actorIds",
    "ticketId",
    "text",
    "updatedSince",
];

/// `GET /export/change-log`.
pub async fn change_log(
    State(state): State<AppState>,
    request_id: RequestId,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match prepare(&state, &headers, query.as_deref().unwrap_or_default()).await {
        Ok(response) => response,
        Err(error) => error.into_response_with_id(request_id.as_deref()),
    }
}

async fn prepare(state: &AppState, headers: &HeaderMap, query: &str) -> ApiResult<Response> {
    let viewer =
        crate::auth::bearer::authenticate(&state.jwt, &state.callers, &state.db, headers).await?;
    let parameters = parse_parameters(query)?;
    let format = match parameters
        .get("format")
        .and_then(|values| values.first())
        .map(String::as_str)
    {
        Some("csv") => Format::Csv,
        Some("ndjson") => Format::Ndjson,
        Some(other) => {
            return Err(ApiError::bad_input(
                "format",
                format!("unknown format `{other}`; use csv or ndjson"),
            ));
        }
        None => {
            return Err(ApiError::bad_input(
                "format",
                "`format` is required: csv or ndjson",
            ));
        }
    };
    let descending = match parameters
        .get("order")
        .and_then(|values| values.first())
        .map(String::as_str)
    {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(ApiError::bad_input(
                "order",
                format!("unknown order `{other}`; use asc or desc"),
            ));
        }
    };
    let filter = parse_filter(&parameters)?;
    let select = select_changes(&viewer, Within::default(), &filter)?;
    tracing::debug!(person.subject = %viewer.person.subject, ?format, "change log export started");

    let (content_type, extension) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Ndjson => ("application/x-ndjson", "ndjson"),
    };
    let stream = export_stream(state.db.clone(), select, format, descending);
    let mut response = Body::from_stream(stream).into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response_headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"change-log.{extension}\""))
            .map_err(|error| ApiError::Internal(error.into()))?,
    );
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Parses `a=1&b=2,3&b=4` into `{a: [1], b: [2, 3, 4]}`, refusing unknown parameters so that a
/// typo cannot silently widen an export.
fn parse_parameters(query: &str) -> ApiResult<HashMap<String, Vec<String>>> {
    let mut parameters: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if !OWN_PARAMETERS.contains(&name.as_ref()) && !FILTER_PARAMETERS.contains(&name.as_ref()) {
            return Err(ApiError::bad_input(
                name.as_ref(),
                format!(
                    "unknown parameter `{name}`; the filter takes {}",
                    FILTER_PARAMETERS.join(", ")
                ),
            ));
        }
        let is_text = name == "text";
        let values = parameters.entry(name.into_owned()).or_default();
        if is_text {
            values.push(value.into_owned());
        } else {
            values.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|value| !value.is_empty())
                    .map(str::to_owned),
            );
        }
    }
    Ok(parameters)
}

fn parse_filter(parameters: &HashMap<String, Vec<String>>) -> ApiResult<ChangeLogFilter> {
    let ids = |name: &str| {
        parameters
            .get(name)
            .map(|values| values.iter().map(|value| ID(value.clone())).collect())
    };
    let single = |name: &str| -> ApiResult<Option<&String>> {
        match parameters.get(name).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([value]) => Ok(Some(value)),
            Some(_) => Err(ApiError::bad_input(
                name,
                format!("`{name}` takes one value"),
            )),
        }
    };
    let instant = |name: &str| -> ApiResult<Option<DateTime<Utc>>> {
        single(name)?
            .map(|value| {
                DateTime::parse_from_rfc3339(value)
                    .map(|instant| instant.with_timezone(&Utc))
                    .map_err(|_| {
                        ApiError::bad_input(
                            name,
                            format!(
                                "`{value}` is not an RFC 3339 instant like 2026-01-31T00:00:00Z"
                            ),
                        )
                    })
            })
            .transpose()
    };
    Ok(ChangeLogFilter {
        environment_ids: ids("environmentIds"),
        system_ids: ids("systemIds"),
        occurred_after: instant("occurredAfter")?,
        occurred_before: instant("occurredBefore")?,
        sources: parameters
            .get("sources")
            .map(|values| {
                values
                    .iter()
                    .map(|value| {
                        parse_enum::<entities::enums::ChangeSource>("sources", value)
                            .map(Into::into)
                    })
                    .collect()
            })
            .transpose()?,
        categories: parameters
            .get("categories")
            .map(|values| {
                values
                    .iter()
                    .map(|value| {
                        parse_enum::<entities::enums::ChangeCategory>("categories", value)
                            .map(Into::into)
                    })
                    .collect()
            })
            .transpose()?,
        actor_ids: ids("actorIds"),
        ticket_id: single("ticketId")?.map(|value| ID(value.clone())),
        change_set_id: single("changeSetId")?.map(|value| ID(value.clone())),
        text: single("text")?.cloned(),
        updated_since: instant("updatedSince")?,
    })
}

fn parse_enum<T: serde::de::DeserializeOwned>(name: &str, value: &str) -> ApiResult<T> {
    serde_json::from_value(serde_json::Value::String(value.to_uppercase())).map_err(|_| {
        ApiError::bad_input(name, format!("`{value}` is not a valid value of `{name}`"))
    })
}

/// One exported row.
#[derive(Serialize)]
struct ExportRow {
    id: String,
    occurred_at: String,
    recorded_at: String,
    environment_id: String,
    environment: String,
    system_ids: String,
    systems: String,
    summary: String,
    details: String,
    reason: String,
    actor_id: String,
    actor: String,
    source: String,
    category: String,
    ticket_id: String,
    corrects_id: String,
    change_set_id: String,
    external_source: String,
    external_id: String,
}

/// NDJSON keeps types: details stay an object, lists stay lists.
#[derive(Serialize)]
struct NdjsonRow<'a> {
    id: &'a str,
    occurred_at: &'a str,
    recorded_at: &'a str,
    environment_id: &'a str,
    environment: &'a str,
    system_ids: Vec<String>,
    systems: Vec<String>,
    summary: &'a str,
    details: &'a serde_json::Value,
    reason: Option<&'a str>,
    actor_id: Option<String>,
    actor: &'a str,
    source: &'a entities::enums::ChangeSource,
    category: &'a entities::enums::ChangeCategory,
    ticket_id: Option<String>,
    corrects_id: Option<String>,
    change_set_id: Option<String>,
    external_source: Option<&'a str>,
    external_id: Option<&'a str>,
}

struct Cursor {
    occurred_at: DateTime<Utc>,
    id: Uuid,
}

enum ExportState {
    Start,
    After(Cursor),
    Done,
}

fn export_stream(
    db: DatabaseConnection,
    select: Select<change_log_entry::Entity>,
    format: Format,
    descending: bool,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::try_unfold(ExportState::Start, move |state| {
        let db = db.clone();
        let select = select.clone();
        async move {
            let mut header = None;
            let mut query = select;
            match state {
                ExportState::Done => return Ok(None),
                ExportState::Start => {
                    if format == Format::Csv {
                        header = Some(csv_header());
                    }
                }
                ExportState::After(cursor) => {
                    query = query.filter(beyond(
                        !descending,
                        [
                            Expr::col((
                                change_log_entry::Entity,
                                change_log_entry::Column::OccurredAt,
                            )),
                            Expr::col((change_log_entry::Entity, change_log_entry::Column::Id)),
                        ],
                        [Expr::val(cursor.occurred_at), Expr::val(cursor.id)],
                    ));
                }
            }
            let order = if descending {
                sea_orm::Order::Desc
            } else {
                sea_orm::Order::Asc
            };
            let rows = query
                .order_by(change_log_entry::Column::OccurredAt, order.clone())
                .order_by(change_log_entry::Column::Id, order)
                .limit(CHUNK_ROWS)
                .all(&db)
                .await
                .map_err(|error| {
                    tracing::error!(error = %error, "change log export failed mid-stream");
                    std::io::Error::other("change log export failed")
                })?;
            let next = match rows.last() {
                Some(last) if rows.len() as u64 == CHUNK_ROWS => ExportState::After(Cursor {
                    occurred_at: last.occurred_at,
                    id: last.id,
                }),
                _ => ExportState::Done,
            };
            if rows.is_empty() && header.is_none() {
                return Ok(None);
            }
            let bytes = encode_chunk(&db, &rows, format, header)
                .await
                .map_err(|error| {
                    tracing::error!(error = %error, "change log export failed mid-stream");
                    std::io::Error::other("change log export failed")
                })?;
            Ok(Some((Bytes::from(bytes), next)))
        }
    })
}

fn csv_header() -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record([
        "id",
        "occurred_at",
        "recorded_at",
        "environment_id",
        "environment",
        "system_ids",
        "systems",
        "summary",
        "details",
        "reason",
        "actor_id",
        "actor",
        "source",
        "category",
        "ticket_id",
        "corrects_id",
        "change_set_id",
        "external_source",
        "external_id",
    ]);
    writer.into_inner().unwrap_or_default()
}

fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Spreadsheet programs run cells that start with `=`, `+`, `-`, `@` as formulas; an auditor
/// opening an export must not run what someone typed into a summary.
fn neutralize(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

async fn encode_chunk(
    db: &DatabaseConnection,
    rows: &[change_log_entry::Model],
    format: Format,
    header: Option<Vec<u8>>,
) -> ApiResult<Vec<u8>> {
    // Three batched reads per chunk: environment names, the entries' system links, and the
    // linked systems' names.
    let environment_ids: Vec<Uuid> = rows.iter().map(|row| row.environment_id).collect();
    let environments: HashMap<Uuid, String> = environment::Entity::find()
        .filter(environment::COLUMN.id.is_in(environment_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|found| (found.id, found.name))
        .collect();
    let entry_ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let links = change_log_entry_system::Entity::find()
        .filter(
            change_log_entry_system::COLUMN
                .change_log_entry_id
                .is_in(entry_ids),
        )
        .all(db)
        .await?;
    let system_names: HashMap<Uuid, String> = system::Entity::find()
        .filter(
            system::COLUMN
                .id
                .is_in(links.iter().map(|link| link.system_id)),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|found| (found.id, found.name))
        .collect();
    let mut systems: HashMap<Uuid, Vec<(Uuid, String)>> = HashMap::new();
    for link in links {
        let name = system_names
            .get(&link.system_id)
            .cloned()
            .unwrap_or_default();
        systems
            .entry(link.change_log_entry_id)
            .or_default()
            .push((link.system_id, name));
    }

    let mut out = header.unwrap_or_default();
    let global = |node_type: NodeType, id: Uuid| ids::encode(node_type, id).0;
    match format {
        Format::Csv => {
            let mut writer = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(&mut out);
            for row in rows {
                let row_systems = systems.get(&row.id).map(Vec::as_slice).unwrap_or_default();
                writer
                    .serialize(ExportRow {
                        id: global(NodeType::ChangeLogEntry, row.id),
                        occurred_at: rfc3339(row.occurred_at),
                        recorded_at: rfc3339(row.recorded_at),
                        environment_id: global(NodeType::Environment, row.environment_id),
                        environment: neutralize(
                            environments
                                .get(&row.environment_id)
                                .map(String::as_str)
                                .unwrap_or_default(),
                        ),
                        system_ids: row_systems
                            .iter()
                            .map(|(id, _)| global(NodeType::System, *id))
                            .collect::<Vec<_>>()
                            .join(";"),
                        systems: neutralize(
                            &row_systems
                                .iter()
                                .map(|(_, name)| name.as_str())
                                .collect::<Vec<_>>()
                                .join(";"),
                        ),
                        summary: neutralize(&row.summary),
                        details: row.details.to_string(),
                        reason: neutralize(row.reason.as_deref().unwrap_or_default()),
                        actor_id: row
                            .actor_id
                            .map(|id| global(NodeType::Person, id))
                            .unwrap_or_default(),
                        actor: neutralize(&row.actor_name),
                        source: row.source.to_value(),
                        category: row.category.to_value(),
                        ticket_id: row
                            .ticket_id
                            .map(|id| global(NodeType::Ticket, id))
                            .unwrap_or_default(),
                        corrects_id: row
                            .corrects_id
                            .map(|id| global(NodeType::ChangeLogEntry, id))
                            .unwrap_or_default(),
                        change_set_id: row
                            .change_set_id
                            .map(|id| global(NodeType::ChangeSet, id))
                            .unwrap_or_default(),
                        external_source: row.external_source.clone().unwrap_or_default(),
                        external_id: row.external_id.clone().unwrap_or_default(),
                    })
                    .map_err(|error| ApiError::Internal(error.into()))?;
            }
            writer
                .flush()
                .map_err(|error| ApiError::Internal(error.into()))?;
        }
        Format::Ndjson => {
            for row in rows {
                let row_systems = systems.get(&row.id).map(Vec::as_slice).unwrap_or_default();
                let id = global(NodeType::ChangeLogEntry, row.id);
                let occurred_at = rfc3339(row.occurred_at);
                let recorded_at = rfc3339(row.recorded_at);
                let environment_id = global(NodeType::Environment, row.environment_id);
                let line = NdjsonRow {
                    id: &id,
                    occurred_at: &occurred_at,
                    recorded_at: &recorded_at,
                    environment_id: &environment_id,
                    environment: environments
                        .get(&row.environment_id)
                        .map(String::as_str)
                        .unwrap_or_default(),
                    system_ids: row_systems
                        .iter()
                        .map(|(id, _)| global(NodeType::System, *id))
                        .collect(),
                    systems: row_systems.iter().map(|(_, name)| name.clone()).collect(),
                    summary: &row.summary,
                    details: &row.details,
                    reason: row.reason.as_deref(),
                    actor_id: row.actor_id.map(|id| global(NodeType::Person, id)),
                    actor: &row.actor_name,
                    source: &row.source,
                    category: &row.category,
                    ticket_id: row.ticket_id.map(|id| global(NodeType::Ticket, id)),
                    corrects_id: row
                        .corrects_id
                        .map(|id| global(NodeType::ChangeLogEntry, id)),
                    change_set_id: row.change_set_id.map(|id| global(NodeType::ChangeSet, id)),
                    external_source: row.external_source.as_deref(),
                    external_id: row.external_id.as_deref(),
                };
                serde_json::to_writer(&mut out, &line)
                    .map_err(|error| ApiError::Internal(error.into()))?;
                out.push(b'\n');
            }
        }
    }
    Ok(out)
}
