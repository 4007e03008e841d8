//! `GET /environments/{id}/responsibility-matrix?format=md|csv&at=&asOf=`: the matrix in force at a
//! date, as a document auditors and insurers can take away. Authorized like the API: a bearer
//! token whose viewer may see the environment (else 404, as if it did not exist).

use std::collections::HashMap;

use async_graphql::ID;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use entities::enums::PartyRole;
use entities::{
    environment, escalation_step, organization, person, responsibility_party, system, team,
};
use sea_orm::prelude::*;
use sea_orm::{QueryFilter, QueryOrder};
use serde::Deserialize;

use crate::auth::bearer::authenticate;
use crate::error::{ApiError, ApiResult};
use crate::ids::{self, NodeType};
use crate::matrix;
use crate::state::{AppState, RequestId};

/// The query string of the export.
#[derive(Debug, Deserialize)]
pub struct MatrixExportQuery {
    /// `md` or `csv`.
    format: Option<String>,
    /// An RFC 3339 instant or a date (midnight UTC); now when omitted.
    at: Option<String>,
    /// The instant the record is read as it stood (RFC 3339 or a date); the current record when
    /// omitted. Not later than now.
    #[serde(rename = "asOf")]
    as_of: Option<String>,
}

/// One line of the export.
struct Line {
    function_key: String,
    function: String,
    csf_category: String,
    scope: String,
    responsible: String,
    accountable: String,
    consulted: String,
    informed: String,
    escalation: String,
    valid_from: String,
    valid_to: String,
    agreed_at: String,
    retroactive: bool,
}

/// `GET /environments/{id}/responsibility-matrix`.
pub async fn export(
    State(state): State<AppState>,
    request_id: RequestId,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<MatrixExportQuery>,
) -> Response {
    match render(&state, &headers, &id, query).await {
        Ok(response) => response,
        Err(error) => error.into_response_with_id(request_id.as_deref()),
    }
}

fn parse_at(value: Option<&str>) -> ApiResult<DateTime<Utc>> {
    Ok(parse_instant("at", value)?.unwrap_or_else(Utc::now))
}

fn parse_instant(field: &str, value: Option<&str>) -> ApiResult<Option<DateTime<Utc>>> {
    let Some(value) = value else {
        return Ok(None);
    };
    if let Ok(instant) = DateTime::parse_from_rfc3339(value) {
        return Ok(Some(instant.with_timezone(&Utc)));
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map(|date| {
            Some(
                date.and_hms_opt(0, 0, 0)
                    .expect("midnight exists")
                    .and_utc(),
            )
        })
        .map_err(|_| {
            ApiError::bad_input(
                field,
                format!("`{value}` is not a date like 2026-03-01 or an RFC 3339 instant"),
            )
        })
}

async fn render(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    query: MatrixExportQuery,
) -> ApiResult<Response> {
    let viewer = authenticate(&state.jwt, &state.callers, &state.db, headers).await?;
    let markdown = match query.format.as_deref() {
        Some("md") => true,
        Some("csv") => false,
        Some(other) => {
            return Err(ApiError::bad_input(
                "format",
                format!("unknown format `{other}`; use md or csv"),
            ));
        }
        None => {
            return Err(ApiError::bad_input(
                "format",
                "`format` is required: md or csv",
            ));
        }
    };
    let at = parse_at(query.at.as_deref())?;
    let as_of = matrix::check_as_of(parse_instant("asOf", query.as_of.as_deref())?, Utc::now())
        .map_err(|message| ApiError::bad_input("asOf", message))?;
    let environment_id = ids::decode_as("id", NodeType::Environment, &ID(id.to_owned()))?;
    let db = &state.db;
    let environment = environment::Entity::find_by_id(environment_id)
        .one(db)
        .await?
        .filter(|found| viewer.can_see_organization(found.organization_id))
        .ok_or(ApiError::NotFound("environment"))?;
    let client = organization::Entity::find_by_id(environment.organization_id)
        .one(db)
        .await?
        .ok_or(ApiError::NotFound("organization"))?;

    let functions = matrix::functions_for(db, environment.organization_id).await?;
    let entries =
        matrix::in_force_as_of(db, [environment.id], matrix::Clock { at, as_of }, None).await?;
    let entry_ids: Vec<Uuid> = entries.iter().map(|entry| entry.id).collect();
    let parties = responsibility_party::Entity::find()
        .filter(
            responsibility_party::COLUMN
                .responsibility_id
                .is_in(entry_ids.iter().copied()),
        )
        .all(db)
        .await?;
    let steps = escalation_step::Entity::find()
        .filter(
            escalation_step::COLUMN
                .responsibility_id
                .is_in(entry_ids.iter().copied()),
        )
        .order_by_asc(escalation_step::Column::Position)
        .all(db)
        .await?;
    let team_ids: std::collections::HashSet<Uuid> = entries
        .iter()
        .flat_map(|entry| [Some(entry.responsible_team_id), entry.accountable_team_id])
        .flatten()
        .chain(parties.iter().map(|party| party.team_id))
        .chain(steps.iter().filter_map(|step| step.team_id))
        .collect();
    let teams: HashMap<Uuid, String> = team::Entity::find()
        .filter(team::COLUMN.id.is_in(team_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|found| (found.id, found.name))
        .collect();
    let people: HashMap<Uuid, String> = person::Entity::find()
        .filter(
            person::COLUMN
                .id
                .is_in(steps.iter().filter_map(|step| step.person_id)),
        )
        .all(db)
        .await?
        .into_iter()
        .filter(|found| viewer.can_see_person(found))
        .map(|found| (found.id, found.display_name))
        .collect();
    let systems: HashMap<Uuid, String> = system::Entity::find()
        .filter(
            system::COLUMN
                .id
                .is_in(entries.iter().filter_map(|entry| entry.system_id)),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|found| (found.id, found.name))
        .collect();
    let team_name = |id: Uuid| teams.get(&id).cloned().unwrap_or_default();
    let date = |instant: DateTime<Utc>| instant.format("%Y-%m-%d").to_string();

    let mut lines = Vec::new();
    for function in &functions {
        let mut function_entries: Vec<_> = entries
            .iter()
            .filter(|entry| entry.function_id == function.id)
            .collect();
        function_entries.sort_by_key(|entry| {
            (
                entry.system_id.is_some(),
                entry.system_id.and_then(|id| systems.get(&id).cloned()),
            )
        });
        if function_entries.is_empty() {
            lines.push(Line {
                function_key: function.key.clone(),
                function: function.name.clone(),
                csf_category: function.csf_category.clone(),
                scope: "All systems".into(),
                responsible: "(no agreed owner)".into(),
                accountable: String::new(),
                consulted: String::new(),
                informed: String::new(),
                escalation: String::new(),
                valid_from: String::new(),
                valid_to: String::new(),
                agreed_at: String::new(),
                retroactive: false,
            });
            continue;
        }
        for entry in function_entries {
            let named = |role: PartyRole| {
                parties
                    .iter()
                    .filter(|party| party.responsibility_id == entry.id && party.role == role)
                    .map(|party| team_name(party.team_id))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let escalation = steps
                .iter()
                .filter(|step| step.responsibility_id == entry.id)
                .map(|step| {
                    let who = step
                        .team_id
                        .map(team_name)
                        .or_else(|| {
                            // A person the caller may not see is not named (as in the API).
                            step.person_id.map(|id| {
                                people
                                    .get(&id)
                                    .cloned()
                                    .unwrap_or_else(|| "(not visible)".to_owned())
                            })
                        })
                        .unwrap_or_default();
                    let channel = sea_orm::ActiveEnum::to_value(&step.channel).to_lowercase();
                    match step.minutes_before_next {
                        Some(minutes) => {
                            format!("{}. {who} ({channel}, {minutes} min)", step.position)
                        }
                        None => format!("{}. {who} ({channel})", step.position),
                    }
                })
                .collect::<Vec<_>>()
                .join(" → ");
            lines.push(Line {
                function_key: function.key.clone(),
                function: function.name.clone(),
                csf_category: function.csf_category.clone(),
                scope: entry
                    .system_id
                    .and_then(|id| systems.get(&id).cloned())
                    .unwrap_or_else(|| "All systems".into()),
                responsible: team_name(entry.responsible_team_id),
                accountable: entry.accountable_team_id.map(team_name).unwrap_or_default(),
                consulted: named(PartyRole::Consulted),
                informed: named(PartyRole::Informed),
                escalation,
                valid_from: date(entry.valid_from),
                valid_to: entry.valid_to.map(date).unwrap_or_default(),
                agreed_at: entry.agreed_at.map(date).unwrap_or_default(),
                retroactive: matrix::retroactive(entry),
            });
        }
    }

    let mut at_text = at.to_rfc3339_opts(SecondsFormat::Secs, true);
    if let Some(as_of) = as_of {
        at_text.push_str(&format!(
            ", as recorded at {}",
            as_of.to_rfc3339_opts(SecondsFormat::Secs, true)
        ));
    }
    let slug = format!(
        "{}-{}",
        client.slug,
        environment
            .name
            .to_lowercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    );
    let (body, content_type, extension) = if markdown {
        (
            to_markdown(&client.name, &environment, &at_text, &lines),
            "text/markdown; charset=utf-8",
            "md",
        )
    } else {
        (to_csv(&lines)?, "text/csv; charset=utf-8", "csv")
    };
    let mut response = body.into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response_headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!(
            "attachment; filename=\"responsibility-matrix-{slug}-{}.{extension}\"",
            at.format("%Y-%m-%d")
        ))
        .map_err(|error| ApiError::Internal(error.into()))?,
    );
    Ok(response)
}

fn cell(text: &str) -> String {
    let text = text.replace('|', "\\|").replace(['\n', '\r'], " ");
    if text.is_empty() {
        "—".to_owned()
    } else {
        text
    }
}

fn to_markdown(client: &str, environment: &environment::Model, at: &str, lines: &[Line]) -> String {
    let frameworks: Vec<String> =
        serde_json::from_value(environment.compliance_frameworks.clone()).unwrap_or_default();
    let mut out = format!(
        "# Responsibility matrix: {} — {}\n\nIn force at {at}. Compliance frameworks: {}.\n\n\
         Only agreed entries count; an entry for a system overrides the function's default. \
         An entry agreed after its validity started is marked retroactive.\n\n\
         | Function | NIST CSF 2.0 | Scope | Responsible | Accountable | Consulted | Informed | Escalation | Valid from | Valid to | Agreed |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
        cell(client),
        cell(&environment.name),
        if frameworks.is_empty() {
            "none".to_owned()
        } else {
            frameworks.join(", ")
        },
    );
    for line in lines {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            cell(&line.function),
            cell(&line.csf_category),
            cell(&line.scope),
            cell(&line.responsible),
            cell(&line.accountable),
            cell(&line.consulted),
            cell(&line.informed),
            cell(&line.escalation),
            cell(&line.valid_from),
            cell(&line.valid_to),
            cell(&if line.retroactive {
                format!("{} (retroactive)", line.agreed_at)
            } else {
                line.agreed_at.clone()
            }),
        ));
    }
    out
}

fn to_csv(lines: &[Line]) -> ApiResult<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let internal = |error: csv::Error| ApiError::Internal(error.into());
    writer
        .write_record([
            "function_key",
            "function",
            "csf_category",
            "scope",
            "responsible",
            "accountable",
            "consulted",
            "informed",
            "escalation",
            "valid_from",
            "valid_to",
            "agreed_at",
            "retroactive",
        ])
        .map_err(internal)?;
    for line in lines {
        writer
            .write_record([
                line.function_key.as_str(),
                line.function.as_str(),
                line.csf_category.as_str(),
                line.scope.as_str(),
                line.responsible.as_str(),
                line.accountable.as_str(),
                line.consulted.as_str(),
                line.informed.as_str(),
                line.escalation.as_str(),
                line.valid_from.as_str(),
                line.valid_to.as_str(),
                line.agreed_at.as_str(),
                if line.retroactive { "true" } else { "false" },
            ])
            .map_err(internal)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|error| ApiError::Internal(anyhow::anyhow!("{error}")))?;
    String::from_utf8(bytes).map_err(|error| ApiError::Internal(error.into()))
}
