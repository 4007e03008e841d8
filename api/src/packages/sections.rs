//! The sections packages are made of. Each reads its tables once (a fixed number of queries),
//! decides in memory, orders its rows, caps them at [`MAX_ROWS`], and returns its part of the
//! index and its files.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use entities::enums::{
    AlertStatus, ApprovalDecision, ChangeCategory, ChangeSource, PartyRole, ResponsibilityStatus,
    TicketStatus,
};
use entities::{
    alert, change_log_entry, change_log_entry_system, escalation_step, function, integration,
    integration_mapping, organization, person, responsibility, responsibility_approval,
    responsibility_party, runbook_revision, system, team, ticket,
};
use sea_orm::prelude::*;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ActiveEnum, Condition, DatabaseTransaction, QueryFilter, QueryOrder, QuerySelect};

use super::archive::PackageFile;
use super::document::Block;
use super::{MAX_ROWS, Section, Subject, slug, stamp};
use crate::error::{ApiError, ApiResult};
use crate::gaps::{self, GapQuestion, GapSubject};
use crate::ids::{self, NodeType};
use crate::matrix;

/// The window in which a manual entry documents an observed change, as `ownershipGaps`
/// defaults it.
const GAP_CHANGE_WINDOW_HOURS: i64 = 24;
/// The most runbook content a package holds, in bytes (a body is at most 200,000 characters;
/// an environment's runbooks together could otherwise fill memory).
const MAX_RUNBOOK_CONTENT_BYTES: usize = 64 * 1024 * 1024;
/// How far back the gap report looks for undocumented changes, as `ownershipGaps` defaults it.
const GAP_CHANGES_DAYS: i64 = 30;

/// Spreadsheet programs run cells that start with `=`, `+`, `-`, `@` as formulas; an auditor
/// opening a package must not run what someone typed into a summary (the rule of the change log
/// export).
fn neutralize(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// `rows` as a CSV file with `header`, every cell neutralized.
fn csv_file(name: &str, header: &[&str], rows: &[Vec<String>]) -> ApiResult<PackageFile> {
    let internal = |error: csv::Error| ApiError::Internal(error.into());
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header).map_err(internal)?;
    for row in rows {
        writer
            .write_record(row.iter().map(|cell| neutralize(cell)))
            .map_err(internal)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|error| ApiError::Internal(anyhow::anyhow!("{error}")))?;
    Ok(PackageFile {
        name: name.to_owned(),
        bytes,
    })
}

/// Caps `rows` at [`MAX_ROWS`]; returns whether some were dropped.
fn cap<T>(rows: &mut Vec<T>) -> bool {
    let capped = rows.len() > MAX_ROWS;
    rows.truncate(MAX_ROWS);
    capped
}

/// The index's note on a capped list.
fn capped_note(what: &str, total: Option<u64>) -> Block {
    Block::Paragraph(match total {
        Some(total) => format!(
            "Capped: only the first {MAX_ROWS} of {total} {what} are listed (in this index and its file)."
        ),
        None => format!(
            "Capped: only the first {MAX_ROWS} {what} are listed (in this index and its file); there are more."
        ),
    })
}

fn optional(value: Option<&str>) -> String {
    value.unwrap_or_default().to_owned()
}

fn optional_stamp(at: Option<DateTime<Utc>>) -> String {
    at.map(stamp).unwrap_or_default()
}

/// A Rust variant name (`RequiredFunctionUnowned`) as the API spells it
/// (`REQUIRED_FUNCTION_UNOWNED`).
fn screaming(name: &str) -> String {
    let mut out = String::new();
    for (index, character) in name.chars().enumerate() {
        if character.is_uppercase() && index > 0 {
            out.push('_');
        }
        out.push(character.to_ascii_uppercase());
    }
    out
}

/// Names of the teams, systems, people and organizations a set of rows mentions.
#[derive(Default)]
struct Names {
    teams: HashMap<Uuid, String>,
    systems: HashMap<Uuid, String>,
    people: HashMap<Uuid, String>,
    organizations: HashMap<Uuid, String>,
}

impl Names {
    fn team(&self, id: Uuid) -> String {
        self.teams.get(&id).cloned().unwrap_or_default()
    }

    fn system(&self, id: Option<Uuid>) -> String {
        id.and_then(|id| self.systems.get(&id).cloned())
            .unwrap_or_default()
    }

    async fn teams(
        db: &DatabaseTransaction,
        ids: HashSet<Uuid>,
    ) -> Result<HashMap<Uuid, String>, DbErr> {
        Ok(team::Entity::find()
            .filter(team::COLUMN.id.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .map(|found| (found.id, found.name))
            .collect())
    }

    async fn systems(
        db: &DatabaseTransaction,
        ids: HashSet<Uuid>,
    ) -> Result<HashMap<Uuid, String>, DbErr> {
        Ok(system::Entity::find()
            .filter(system::COLUMN.id.is_in(ids))
            .all(db)
            .await?
            .into_iter()
            .map(|found| (found.id, found.name))
            .collect())
    }
}

/// The rows of matrix entries, with who signed them off.
struct EntryRows {
    /// One row per entry, in [`MATRIX_HEADER`] order.
    rows: Vec<Vec<String>>,
    /// The entries' global ids, in row order.
    ids: Vec<String>,
    /// The entries' function keys, in row order.
    keys: Vec<String>,
    /// One row per sign-off, in [`SIGN_OFF_HEADER`] order.
    sign_offs: Vec<Vec<String>>,
}

const MATRIX_HEADER: [&str; 13] = [
    "Function",
    "NIST CSF 2.0",
    "Scope",
    "Responsible",
    "Accountable",
    "Consulted",
    "Informed",
    "Escalation",
    "In force from",
    "In force until",
    "Status",
    "Agreed by",
    "Retired by",
];

/// The columns of `matrix.csv`: the entry's id and function key, then [`MATRIX_HEADER`]'s.
const MATRIX_CSV_HEADER: [&str; 15] = [
    "entry_id",
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
    "status",
    "agreed_by",
    "retired_by",
];

const SIGN_OFF_HEADER: [&str; 7] = [
    "entry_id",
    "function_key",
    "scope",
    "decision",
    "organization",
    "person",
    "at",
];

/// Sorts `entries` (function key, then function defaults before system entries by system
/// name, then start, then id) and describes them: parties, escalation and sign-offs. Six
/// queries whatever the number of entries.
async fn entry_rows(
    subject: &Subject<'_>,
    functions: &[function::Model],
    entries: &mut [responsibility::Model],
) -> ApiResult<EntryRows> {
    let db = subject.db;
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
        .order_by_asc(escalation_step::Column::Id)
        .all(db)
        .await?;
    let approvals = responsibility_approval::Entity::find()
        .filter(
            responsibility_approval::COLUMN
                .responsibility_id
                .is_in(entry_ids.iter().copied()),
        )
        .order_by_asc(responsibility_approval::Column::ApprovedAt)
        .order_by_asc(responsibility_approval::Column::Id)
        .all(db)
        .await?;
    let team_ids: HashSet<Uuid> = entries
        .iter()
        .flat_map(|entry| [Some(entry.responsible_team_id), entry.accountable_team_id])
        .flatten()
        .chain(parties.iter().map(|party| party.team_id))
        .chain(steps.iter().filter_map(|step| step.team_id))
        .collect();
    let person_ids: HashSet<Uuid> = steps
        .iter()
        .filter_map(|step| step.person_id)
        .chain(approvals.iter().map(|approval| approval.person_id))
        .collect();
    let mut names = Names {
        teams: Names::teams(db, team_ids).await?,
        systems: Names::systems(
            db,
            entries.iter().filter_map(|entry| entry.system_id).collect(),
        )
        .await?,
        ..Names::default()
    };
    names.people = person::Entity::find()
        .filter(person::COLUMN.id.is_in(person_ids))
        .all(db)
        .await?
        .into_iter()
        .filter(|found| subject.viewer.can_see_person(found))
        .map(|found| (found.id, found.display_name))
        .collect();
    names.organizations = organization::Entity::find()
        .filter(
            organization::COLUMN
                .id
                .is_in(approvals.iter().map(|approval| approval.organization_id)),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|found| (found.id, found.name))
        .collect();

    let function_of: HashMap<Uuid, &function::Model> =
        functions.iter().map(|found| (found.id, found)).collect();
    let key_of = |entry: &responsibility::Model| {
        function_of
            .get(&entry.function_id)
            .map(|found| found.key.clone())
            .unwrap_or_default()
    };
    entries.sort_by_cached_key(|entry| {
        (
            key_of(entry),
            entry.system_id.is_some(),
            names.system(entry.system_id),
            entry.valid_from,
            entry.id,
        )
    });

    let person_name = |person_id: Uuid, organization_id: Option<Uuid>| {
        names.people.get(&person_id).cloned().unwrap_or_else(|| {
            // A person the caller may not see is not named (as in the API).
            match organization_id.and_then(|id| names.organizations.get(&id)) {
                Some(organization) => format!("a person of {organization}"),
                None => "(not visible)".to_owned(),
            }
        })
    };
    let mut rows = EntryRows {
        rows: Vec::new(),
        ids: Vec::new(),
        keys: Vec::new(),
        sign_offs: Vec::new(),
    };
    for entry in entries.iter() {
        let function = function_of.get(&entry.function_id);
        let scope = entry
            .system_id
            .map_or_else(|| "All systems".to_owned(), |id| names.system(Some(id)));
        let named = |role: PartyRole| {
            let mut teams: Vec<String> = parties
                .iter()
                .filter(|party| party.responsibility_id == entry.id && party.role == role)
                .map(|party| names.team(party.team_id))
                .collect();
            teams.sort();
            teams.join(", ")
        };
        let escalation = steps
            .iter()
            .filter(|step| step.responsibility_id == entry.id)
            .map(|step| {
                let who = step
                    .team_id
                    .map(|id| names.team(id))
                    .or_else(|| step.person_id.map(|id| person_name(id, None)))
                    .unwrap_or_default();
                let channel = step.channel.to_value().to_lowercase();
                match step.minutes_before_next {
                    Some(minutes) => format!("{}. {who} ({channel}, {minutes} min)", step.position),
                    None => format!("{}. {who} ({channel})", step.position),
                }
            })
            .collect::<Vec<_>>()
            .join(" → ");
        let signed = |decision: ApprovalDecision| {
            approvals
                .iter()
                .filter(|approval| {
                    approval.responsibility_id == entry.id && approval.decision == decision
                })
                .map(|approval| {
                    format!(
                        "{} ({}) at {}",
                        person_name(approval.person_id, Some(approval.organization_id)),
                        names
                            .organizations
                            .get(&approval.organization_id)
                            .cloned()
                            .unwrap_or_default(),
                        stamp(approval.approved_at)
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        let id = ids::encode(NodeType::Responsibility, entry.id).0;
        for approval in approvals
            .iter()
            .filter(|approval| approval.responsibility_id == entry.id)
        {
            rows.sign_offs.push(vec![
                id.clone(),
                key_of(entry),
                scope.clone(),
                approval.decision.to_value(),
                names
                    .organizations
                    .get(&approval.organization_id)
                    .cloned()
                    .unwrap_or_default(),
                person_name(approval.person_id, Some(approval.organization_id)),
                stamp(approval.approved_at),
            ]);
        }
        rows.rows.push(vec![
            function.map(|found| found.name.clone()).unwrap_or_default(),
            function
                .map(|found| found.csf_category.clone())
                .unwrap_or_default(),
            scope,
            names.team(entry.responsible_team_id),
            entry
                .accountable_team_id
                .map(|id| names.team(id))
                .unwrap_or_default(),
            named(PartyRole::Consulted),
            named(PartyRole::Informed),
            escalation,
            stamp(entry.valid_from),
            optional_stamp(entry.valid_to),
            entry.status.to_value(),
            signed(ApprovalDecision::Agree),
            signed(ApprovalDecision::Retire),
        ]);
        rows.ids.push(id);
        rows.keys.push(key_of(entry));
    }
    Ok(rows)
}

/// The matrix CSV: the entry's id, then the index's columns.
fn matrix_csv(name: &str, rows: &EntryRows) -> ApiResult<PackageFile> {
    let lines: Vec<Vec<String>> = rows
        .ids
        .iter()
        .zip(&rows.keys)
        .zip(&rows.rows)
        .map(|((id, key), row)| {
            [id.clone(), key.clone()]
                .into_iter()
                .chain(row.iter().cloned())
                .collect()
        })
        .collect();
    csv_file(name, &MATRIX_CSV_HEADER, &lines)
}

/// Entries that owned something at some instant of `[start, end)`.
async fn entries_overlapping(
    subject: &Subject<'_>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    statuses: &[ResponsibilityStatus],
) -> Result<Vec<responsibility::Model>, DbErr> {
    responsibility::Entity::find()
        .filter(
            responsibility::COLUMN
                .environment_id
                .eq(subject.environment.id),
        )
        .filter(
            responsibility::COLUMN
                .status
                .is_in(statuses.iter().copied()),
        )
        .filter(responsibility::COLUMN.valid_from.lt(end))
        .filter(
            Condition::any()
                .add(responsibility::COLUMN.valid_to.is_null())
                .add(responsibility::COLUMN.valid_to.gt(start)),
        )
        .order_by_asc(responsibility::Column::Id)
        .limit(MAX_ROWS as u64 + 1)
        .all(subject.db)
        .await
}

/// Evidence: every entry in force at some instant of `[start, end)`, with its sign-offs.
pub async fn matrix_across(
    subject: &Subject<'_>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> ApiResult<Section> {
    let functions = matrix::functions_for(subject.db, subject.environment.organization_id).await?;
    let mut entries = entries_overlapping(subject, start, end, &matrix::IN_FORCE).await?;
    let capped = cap(&mut entries);
    let rows = entry_rows(subject, &functions, &mut entries).await?;
    let mut blocks = vec![Block::Paragraph(format!(
        "{} agreed entries were in force at some instant of the period (an entry retired since is listed with the period it was in force). An entry for a system overrides the function's default for that system. Each entry names who agreed it and who retired it, and when.",
        rows.rows.len()
    ))];
    if capped {
        blocks.push(capped_note("entries", None));
    }
    blocks.push(Block::table(&MATRIX_HEADER, rows.rows.clone()));
    Ok(Section {
        title: "Responsibility matrix across the period".to_owned(),
        files: vec![
            matrix_csv("matrix.csv", &rows)?,
            csv_file("sign-offs.csv", &SIGN_OFF_HEADER, &rows.sign_offs)?,
        ],
        blocks,
    })
}

/// Handoff and exit: the matrix in force at `at`, and the drafts and proposals that would
/// be in force then once agreed.
pub async fn matrix_at(subject: &Subject<'_>, at: DateTime<Utc>) -> ApiResult<Section> {
    let functions = matrix::functions_for(subject.db, subject.environment.organization_id).await?;
    let next = at + Duration::microseconds(1);
    let mut entries = entries_overlapping(
        subject,
        at,
        next,
        &[
            ResponsibilityStatus::Agreed,
            ResponsibilityStatus::Retired,
            ResponsibilityStatus::Draft,
            ResponsibilityStatus::Proposed,
        ],
    )
    .await?;
    let capped = cap(&mut entries);
    let rows = entry_rows(subject, &functions, &mut entries).await?;
    let (mut in_force, mut pending) = (Vec::new(), Vec::new());
    for (entry, row) in entries.iter().zip(&rows.rows) {
        if matrix::IN_FORCE.contains(&entry.status) {
            in_force.push(row.clone());
        } else {
            pending.push(row.clone());
        }
    }
    let owned: HashSet<Uuid> = entries
        .iter()
        .filter(|entry| matrix::IN_FORCE.contains(&entry.status) && entry.system_id.is_none())
        .map(|entry| entry.function_id)
        .collect();
    let unowned: Vec<String> = functions
        .iter()
        .filter(|found| !owned.contains(&found.id))
        .map(|found| format!("{} ({})", found.name, found.key))
        .collect();
    let mut blocks = vec![Block::Paragraph(format!(
        "In force at {}: {} agreed entries. An entry for a system overrides the function's default for that system.",
        stamp(at),
        in_force.len()
    ))];
    if capped {
        blocks.push(capped_note("entries", None));
    }
    blocks.push(Block::table(&MATRIX_HEADER, in_force));
    blocks.push(Block::Heading(3, "Drafts and proposals".to_owned()));
    blocks.push(Block::Paragraph(format!(
        "{} entries covering {} are not agreed yet (DRAFT or PROPOSED): they own nothing until both sides approve them.",
        pending.len(),
        stamp(at)
    )));
    if !pending.is_empty() {
        blocks.push(Block::table(&MATRIX_HEADER, pending));
    }
    blocks.push(Block::Heading(
        3,
        "Functions without an agreed default".to_owned(),
    ));
    blocks.push(if unowned.is_empty() {
        Block::Paragraph("None: every function has an agreed owner.".to_owned())
    } else {
        Block::List(unowned)
    });
    Ok(Section {
        title: "Responsibility matrix".to_owned(),
        files: vec![
            matrix_csv("matrix.csv", &rows)?,
            csv_file("sign-offs.csv", &SIGN_OFF_HEADER, &rows.sign_offs)?,
        ],
        blocks,
    })
}

/// How much of a period a function had an agreed owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coverage {
    Whole,
    Partial,
    Never,
}

/// How much of `[start, end)` the union of `intervals` covers.
fn coverage_of(
    mut intervals: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Coverage {
    intervals.sort();
    let mut reached = start;
    let mut any = false;
    for (from, to) in intervals {
        let to = to.unwrap_or(end).min(end);
        let from = from.max(start);
        if to <= from {
            continue;
        }
        any = true;
        if from <= reached {
            reached = reached.max(to);
        }
    }
    match (reached >= end, any) {
        (true, _) => Coverage::Whole,
        (false, true) => Coverage::Partial,
        (false, false) => Coverage::Never,
    }
}

/// Evidence: per NIST CSF 2.0 category, which functions had an agreed owner (a function-level
/// default) during the whole period, part of it, or never, and which `framework` requires.
pub async fn coverage(
    subject: &Subject<'_>,
    framework: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> ApiResult<Section> {
    let functions = matrix::functions_for(subject.db, subject.environment.organization_id).await?;
    let defaults: Vec<responsibility::Model> =
        entries_overlapping(subject, start, end, &matrix::IN_FORCE)
            .await?
            .into_iter()
            .filter(|entry| entry.system_id.is_none())
            .collect();
    let teams = Names::teams(
        subject.db,
        defaults
            .iter()
            .map(|entry| entry.responsible_team_id)
            .collect(),
    )
    .await?;
    // Category -> (functions, whole, partial, never, required).
    let mut categories: BTreeMap<String, [usize; 5]> = BTreeMap::new();
    let mut rows = Vec::new();
    let mut ordered: Vec<&function::Model> = functions.iter().collect();
    ordered.sort_by(|a, b| (&a.csf_category, &a.key).cmp(&(&b.csf_category, &b.key)));
    for found in ordered {
        let owners: Vec<&responsibility::Model> = defaults
            .iter()
            .filter(|entry| entry.function_id == found.id)
            .collect();
        let coverage = coverage_of(
            owners
                .iter()
                .map(|entry| (entry.valid_from, entry.valid_to))
                .collect(),
            start,
            end,
        );
        let required_by: Vec<String> =
            serde_json::from_value(found.required_by.clone()).unwrap_or_default();
        let required = required_by.iter().any(|name| name == framework);
        let counts = categories.entry(found.csf_category.clone()).or_default();
        counts[0] += 1;
        counts[match coverage {
            Coverage::Whole => 1,
            Coverage::Partial => 2,
            Coverage::Never => 3,
        }] += 1;
        counts[4] += usize::from(required);
        let mut responsible: Vec<String> = owners
            .iter()
            .map(|entry| {
                teams
                    .get(&entry.responsible_team_id)
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        responsible.sort();
        responsible.dedup();
        rows.push(vec![
            found.csf_category.clone(),
            found.key.clone(),
            found.name.clone(),
            if required { "yes" } else { "no" }.to_owned(),
            match coverage {
                Coverage::Whole => "whole period",
                Coverage::Partial => "part of the period",
                Coverage::Never => "never",
            }
            .to_owned(),
            responsible.join(", "),
        ]);
    }
    let required_header = format!("Required by {framework}");
    let summary: Vec<Vec<String>> = categories
        .iter()
        .map(|(category, counts)| {
            std::iter::once(category.clone())
                .chain(counts.iter().map(ToString::to_string))
                .collect()
        })
        .collect();
    let never_required = rows
        .iter()
        .filter(|row| row[3] == "yes" && row[4] != "whole period")
        .count();
    let blocks = vec![
        Block::Paragraph(format!(
            "A function is owned when an agreed function-level entry is in force. {never_required} of the functions {framework} requires were not owned during the whole period."
        )),
        Block::table(
            &[
                "NIST CSF 2.0 category",
                "Functions",
                "Owned the whole period",
                "Owned part of the period",
                "Never owned",
                &required_header,
            ],
            summary,
        ),
        Block::Heading(3, "Functions".to_owned()),
        Block::table(
            &[
                "Category",
                "Key",
                "Function",
                &required_header,
                "Owned",
                "Responsible teams",
            ],
            rows.clone(),
        ),
    ];
    Ok(Section {
        title: "Coverage per NIST CSF 2.0 category".to_owned(),
        files: vec![csv_file(
            "coverage.csv",
            &[
                "csf_category",
                "function_key",
                "function",
                "required",
                "owned",
                "responsible_teams",
            ],
            &rows,
        )?],
        blocks,
    })
}

/// The change log of `[from, to)`: counts by category and source, and the entries as CSV.
pub async fn change_log(
    subject: &Subject<'_>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ApiResult<Section> {
    let db = subject.db;
    let in_range = || {
        change_log_entry::Entity::find()
            .filter(
                change_log_entry::COLUMN
                    .environment_id
                    .eq(subject.environment.id),
            )
            .filter(change_log_entry::COLUMN.occurred_at.gte(from))
            .filter(change_log_entry::COLUMN.occurred_at.lt(to))
    };
    let counted: Vec<(String, String, i64)> = in_range()
        .select_only()
        .column(change_log_entry::Column::Category)
        .column(change_log_entry::Column::Source)
        .column_as(
            Expr::from(Func::count(Expr::col(change_log_entry::Column::Id))),
            "entries",
        )
        .group_by(change_log_entry::Column::Category)
        .group_by(change_log_entry::Column::Source)
        .into_tuple()
        .all(db)
        .await?;
    let total: i64 = counted.iter().map(|(.., count)| count).sum();
    let mut entries = in_range()
        .order_by_asc(change_log_entry::Column::OccurredAt)
        .order_by_asc(change_log_entry::Column::Id)
        .limit(MAX_ROWS as u64 + 1)
        .all(db)
        .await?;
    let capped = cap(&mut entries);
    let links = change_log_entry_system::Entity::find()
        .filter(
            change_log_entry_system::COLUMN
                .change_log_entry_id
                .is_in(entries.iter().map(|entry| entry.id)),
        )
        .all(db)
        .await?;
    let systems = Names::systems(db, links.iter().map(|link| link.system_id).collect()).await?;
    let mut systems_of: HashMap<Uuid, Vec<String>> = HashMap::new();
    for link in &links {
        systems_of
            .entry(link.change_log_entry_id)
            .or_default()
            .push(systems.get(&link.system_id).cloned().unwrap_or_default());
    }

    let sources: Vec<ChangeSource> = <ChangeSource as sea_orm::Iterable>::iter().collect();
    let mut header = vec!["Category".to_owned(), "Entries".to_owned()];
    header.extend(sources.iter().map(ActiveEnum::to_value));
    let mut table = Vec::new();
    for category in <ChangeCategory as sea_orm::Iterable>::iter() {
        let name = category.to_value();
        let of = |source: Option<&str>| -> i64 {
            counted
                .iter()
                .filter(|(found, from, _)| {
                    *found == name && source.is_none_or(|source| source == from)
                })
                .map(|(.., count)| count)
                .sum()
        };
        let mut row = vec![name.clone(), of(None).to_string()];
        row.extend(
            sources
                .iter()
                .map(|source| of(Some(&source.to_value())).to_string()),
        );
        table.push(row);
    }
    let mut blocks = vec![Block::Paragraph(format!(
        "{total} change log entries occurred from {} up to {}. Each entry is in change-log.csv (oldest first).",
        stamp(from),
        stamp(to)
    ))];
    if capped {
        blocks.push(capped_note("entries", u64::try_from(total).ok()));
    }
    blocks.push(Block::Table {
        header,
        rows: table,
    });
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|entry| {
            let mut names = systems_of.get(&entry.id).cloned().unwrap_or_default();
            names.sort();
            vec![
                ids::encode(NodeType::ChangeLogEntry, entry.id).0,
                stamp(entry.occurred_at),
                stamp(entry.recorded_at),
                entry.category.to_value(),
                entry.source.to_value(),
                entry.principal.to_value(),
                entry.actor_name.clone(),
                entry.summary.clone(),
                optional(entry.reason.as_deref()),
                names.join("; "),
                entry
                    .ticket_id
                    .map(|id| ids::encode(NodeType::Ticket, id).0)
                    .unwrap_or_default(),
                entry
                    .corrects_id
                    .map(|id| ids::encode(NodeType::ChangeLogEntry, id).0)
                    .unwrap_or_default(),
                entry.details.to_string(),
            ]
        })
        .collect();
    Ok(Section {
        title: "Change log by category".to_owned(),
        files: vec![csv_file(
            "change-log.csv",
            &[
                "id",
                "occurred_at",
                "recorded_at",
                "category",
                "source",
                "principal",
                "actor",
                "summary",
                "reason",
                "systems",
                "ticket_id",
                "corrects_id",
                "details",
            ],
            &rows,
        )?],
        blocks,
    })
}

/// The ownership gaps open at `at` ([`crate::gaps`], with `ownershipGaps`' default windows).
pub async fn gaps(subject: &Subject<'_>, at: DateTime<Utc>) -> ApiResult<Section> {
    let question = GapQuestion {
        at,
        change_window: Duration::hours(GAP_CHANGE_WINDOW_HOURS),
        changes_since: at - Duration::days(GAP_CHANGES_DAYS),
        as_of: None,
    };
    let mut found = gaps::find(subject.db, &subject.environment, question).await?;
    let total = found.len();
    let capped = cap(&mut found);
    let rows: Vec<Vec<String>> = found
        .iter()
        .map(|gap| {
            let about = match &gap.subject {
                GapSubject::Function(function) => format!("function {}", function.key),
                GapSubject::System(system) => format!("system {}", system.name),
                GapSubject::Responsibility(entry) => format!(
                    "entry {}",
                    ids::encode(NodeType::Responsibility, entry.id).0
                ),
                GapSubject::Runbook(runbook) => format!("runbook {}", runbook.title),
                GapSubject::Change(change) => format!(
                    "change {}",
                    ids::encode(NodeType::ChangeLogEntry, change.id).0
                ),
                GapSubject::Obligation(obligation) => format!("obligation {}", obligation.key),
                GapSubject::Evidence(evidence) => format!(
                    "evidence {}",
                    ids::encode(NodeType::EvidenceRecord, evidence.id).0
                ),
            };
            vec![
                screaming(&format!("{:?}", gap.severity)),
                screaming(&format!("{:?}", gap.kind)),
                about,
                gap.summary.clone(),
                gap.suggested_fix.clone(),
            ]
        })
        .collect();
    let mut blocks = vec![Block::Paragraph(format!(
        "{total} gaps are open at {}, most severe first (undocumented changes looked for from {}, documented within {GAP_CHANGE_WINDOW_HOURS} hours).",
        stamp(at),
        stamp(question.changes_since)
    ))];
    if capped {
        blocks.push(capped_note("gaps", u64::try_from(total).ok()));
    }
    if !rows.is_empty() {
        blocks.push(Block::table(
            &["Severity", "Kind", "About", "Gap", "Suggested fix"],
            rows.clone(),
        ));
    }
    Ok(Section {
        title: "Open gaps".to_owned(),
        files: vec![csv_file(
            "gaps.csv",
            &["severity", "kind", "about", "summary", "suggested_fix"],
            &rows,
        )?],
        blocks,
    })
}

/// The systems in the inventory at `at` (created by then, not retired).
pub async fn inventory(subject: &Subject<'_>, at: DateTime<Utc>) -> ApiResult<Section> {
    let mut systems = system::Entity::find()
        .filter(system::COLUMN.environment_id.eq(subject.environment.id))
        .filter(system::COLUMN.created_at.lte(at))
        .filter(
            Condition::any()
                .add(system::COLUMN.retired_at.is_null())
                .add(system::COLUMN.retired_at.gt(at)),
        )
        .order_by_asc(system::Column::Name)
        .order_by_asc(system::Column::Id)
        .limit(MAX_ROWS as u64 + 1)
        .all(subject.db)
        .await?;
    let capped = cap(&mut systems);
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for found in &systems {
        *kinds.entry(found.kind.to_value()).or_default() += 1;
    }
    let rows: Vec<Vec<String>> = systems
        .iter()
        .map(|found| {
            vec![
                ids::encode(NodeType::System, found.id).0,
                found.name.clone(),
                found.kind.to_value(),
                optional(found.hostname.as_deref()),
                optional(found.operating_system.as_deref()),
                optional(found.ip_address.as_deref()),
                optional(found.serial_number.as_deref()),
                optional(found.mac_address.as_deref()),
                optional(found.description.as_deref()),
                stamp(found.created_at),
            ]
        })
        .collect();
    let mut blocks = vec![Block::Paragraph(format!(
        "{} systems at {}; each is in systems.csv.",
        systems.len(),
        stamp(at)
    ))];
    if capped {
        blocks.push(capped_note("systems", None));
    }
    blocks.push(Block::table(
        &["Kind", "Systems"],
        kinds
            .into_iter()
            .map(|(kind, count)| vec![kind, count.to_string()])
            .collect(),
    ));
    Ok(Section {
        title: "Inventory".to_owned(),
        files: vec![csv_file(
            "systems.csv",
            &[
                "id",
                "name",
                "kind",
                "hostname",
                "operating_system",
                "ip_address",
                "serial_number",
                "mac_address",
                "description",
                "in_inventory_since",
            ],
            &rows,
        )?],
        blocks,
    })
}

/// The runbooks live at `at`, each with the content of its latest revision by then, as a file
/// under `runbooks/`.
pub async fn runbooks(subject: &Subject<'_>, at: DateTime<Utc>) -> ApiResult<Section> {
    let db = subject.db;
    let (mut live, _) = gaps::live_runbooks(db, subject.environment.id, at).await?;
    live.sort_by(|a, b| (&a.title, a.id).cmp(&(&b.title, b.id)));
    let capped = cap(&mut live);
    // Numbers first, bodies only of the revisions that are current at `at`.
    let numbered: Vec<(Uuid, Uuid, i32)> = runbook_revision::Entity::find()
        .select_only()
        .column(runbook_revision::Column::Id)
        .column(runbook_revision::Column::RunbookId)
        .column(runbook_revision::Column::Number)
        .filter(
            runbook_revision::COLUMN
                .runbook_id
                .is_in(live.iter().map(|found| found.id)),
        )
        .filter(runbook_revision::COLUMN.created_at.lte(at))
        .into_tuple()
        .all(db)
        .await?;
    let mut current: HashMap<Uuid, (i32, Uuid)> = HashMap::new();
    for (id, runbook_id, number) in numbered {
        let slot = current.entry(runbook_id).or_insert((number, id));
        if number > slot.0 {
            *slot = (number, id);
        }
    }
    let revisions: HashMap<Uuid, runbook_revision::Model> = runbook_revision::Entity::find()
        .filter(
            runbook_revision::COLUMN
                .id
                .is_in(current.values().map(|(_, id)| *id)),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|found| (found.runbook_id, found))
        .collect();
    let teams = Names::teams(db, live.iter().map(|found| found.owner_team_id).collect()).await?;
    let mut rows = Vec::new();
    let mut files = Vec::new();
    let (mut content_bytes, mut content_capped) = (0, false);
    for (index, found) in live.iter().enumerate() {
        let revision = revisions.get(&found.id);
        let file = format!("runbooks/{:03}-{}.md", index + 1, slug(&found.title));
        let due = found.last_reviewed_at.unwrap_or(found.created_at)
            + Duration::days(i64::from(found.review_interval_days));
        // Within the content budget, the file; beyond it, the row alone (the revision is in
        // the API).
        let fits = revision.is_some_and(|revision| {
            content_bytes + revision.body.len() <= MAX_RUNBOOK_CONTENT_BYTES
        });
        if let Some(revision) = revision.filter(|_| fits) {
            content_bytes += revision.body.len();
            files.push(PackageFile::text(file.clone(), revision.body.clone()));
        }
        content_capped |= revision.is_some() && !fits;
        rows.push(vec![
            if fits { file } else { String::new() },
            found.title.clone(),
            teams.get(&found.owner_team_id).cloned().unwrap_or_default(),
            revision
                .map(|revision| revision.number.to_string())
                .unwrap_or_default(),
            optional_stamp(revision.map(|revision| revision.created_at)),
            stamp(due),
        ]);
    }
    let mut blocks = vec![Block::Paragraph(format!(
        "{} runbooks at {}; each file holds the content of its latest revision by then, exactly as written.",
        live.len(),
        stamp(at)
    ))];
    if capped {
        blocks.push(capped_note("runbooks", None));
    }
    if content_capped {
        blocks.push(Block::Paragraph(format!(
            "Capped: runbook contents stop at {} MiB; the runbooks listed without a file are in the API.",
            MAX_RUNBOOK_CONTENT_BYTES / (1024 * 1024)
        )));
    }
    blocks.push(Block::table(
        &[
            "File",
            "Title",
            "Owner",
            "Revision",
            "Revised at",
            "Review due",
        ],
        rows.clone(),
    ));
    files.push(csv_file(
        "runbooks.csv",
        &[
            "file",
            "title",
            "owner",
            "revision",
            "revised_at",
            "review_due",
        ],
        &rows,
    )?);
    Ok(Section {
        title: "Runbooks".to_owned(),
        files,
        blocks,
    })
}

/// Open at `at`: not done by then (each of `done_at` empty or later), and either open now or
/// done only after `at` (a record synced as done without a date counts as done).
fn open_at<C: ColumnTrait>(
    open_now: impl Into<Condition>,
    done_at: &[C],
    at: DateTime<Utc>,
) -> Condition {
    let mut reopened = Condition::any().add(open_now.into());
    let mut condition = Condition::all();
    for column in done_at {
        reopened = reopened.add(column.gt(at));
        condition = condition.add(Condition::any().add(column.is_null()).add(column.gt(at)));
    }
    condition.add(reopened)
}

/// The tickets and alerts open at `at`.
pub async fn open_work(subject: &Subject<'_>, at: DateTime<Utc>) -> ApiResult<Section> {
    let db = subject.db;
    let mut tickets = ticket::Entity::find()
        .filter(ticket::COLUMN.environment_id.eq(subject.environment.id))
        .filter(ticket::COLUMN.created_at.lte(at))
        .filter(open_at(
            ticket::COLUMN.status.is_in([
                TicketStatus::New,
                TicketStatus::InProgress,
                TicketStatus::Waiting,
            ]),
            &[ticket::Column::ResolvedAt, ticket::Column::ClosedAt],
            at,
        ))
        .order_by_asc(ticket::Column::CreatedAt)
        .order_by_asc(ticket::Column::Id)
        .limit(MAX_ROWS as u64 + 1)
        .all(db)
        .await?;
    let tickets_capped = cap(&mut tickets);
    let mut alerts = alert::Entity::find()
        .filter(alert::COLUMN.environment_id.eq(subject.environment.id))
        .filter(alert::COLUMN.raised_at.lte(at))
        .filter(open_at(
            alert::COLUMN.status.ne(AlertStatus::Resolved),
            &[alert::Column::ResolvedAt],
            at,
        ))
        .order_by_asc(alert::Column::RaisedAt)
        .order_by_asc(alert::Column::Id)
        .limit(MAX_ROWS as u64 + 1)
        .all(db)
        .await?;
    let alerts_capped = cap(&mut alerts);
    let teams = Names::teams(
        db,
        tickets
            .iter()
            .filter_map(|found| found.assigned_team_id)
            .chain(alerts.iter().filter_map(|found| found.assigned_team_id))
            .collect(),
    )
    .await?;
    let systems = Names::systems(
        db,
        tickets
            .iter()
            .filter_map(|found| found.system_id)
            .chain(alerts.iter().filter_map(|found| found.system_id))
            .collect(),
    )
    .await?;
    let names = Names {
        teams,
        systems,
        ..Names::default()
    };
    let ticket_rows: Vec<Vec<String>> = tickets
        .iter()
        .map(|found| {
            vec![
                ids::encode(NodeType::Ticket, found.id).0,
                optional(found.external_id.as_deref()),
                found.title.clone(),
                found.priority.to_value(),
                found.status.to_value(),
                found
                    .assigned_team_id
                    .map(|id| names.team(id))
                    .unwrap_or_default(),
                names.system(found.system_id),
                stamp(found.created_at),
            ]
        })
        .collect();
    let alert_rows: Vec<Vec<String>> = alerts
        .iter()
        .map(|found| {
            vec![
                ids::encode(NodeType::Alert, found.id).0,
                found.message.clone(),
                found.severity.to_value(),
                found.status.to_value(),
                found
                    .assigned_team_id
                    .map(|id| names.team(id))
                    .unwrap_or_default(),
                names.system(found.system_id),
                stamp(found.raised_at),
                optional_stamp(found.acknowledged_at),
            ]
        })
        .collect();
    let mut by_priority: BTreeMap<_, [usize; 2]> = BTreeMap::new();
    for found in &tickets {
        by_priority.entry(found.priority).or_default()[0] += 1;
    }
    for found in &alerts {
        by_priority.entry(found.severity).or_default()[1] += 1;
    }
    let mut blocks = vec![Block::Paragraph(format!(
        "{} tickets and {} alerts open at {} (created by then, not resolved or closed by then; the status shown is today's). Each is in tickets.csv and alerts.csv.",
        tickets.len(),
        alerts.len(),
        stamp(at)
    ))];
    if tickets_capped {
        blocks.push(capped_note("tickets", None));
    }
    if alerts_capped {
        blocks.push(capped_note("alerts", None));
    }
    blocks.push(Block::table(
        &["Priority", "Tickets", "Alerts"],
        by_priority
            .into_iter()
            .map(|(priority, [tickets, alerts])| {
                vec![priority.to_value(), tickets.to_string(), alerts.to_string()]
            })
            .collect(),
    ));
    Ok(Section {
        title: "Open tickets and alerts".to_owned(),
        files: vec![
            csv_file(
                "tickets.csv",
                &[
                    "id",
                    "external_id",
                    "title",
                    "priority",
                    "status",
                    "assigned_team",
                    "system",
                    "created_at",
                ],
                &ticket_rows,
            )?,
            csv_file(
                "alerts.csv",
                &[
                    "id",
                    "message",
                    "severity",
                    "status",
                    "assigned_team",
                    "system",
                    "raised_at",
                    "acknowledged_at",
                ],
                &alert_rows,
            )?,
        ],
        blocks,
    })
}

/// The integrations that feed the environment (a company mapped to it) at `at` that the caller
/// may see (`services::scope::sees_integration_feeding`): what they are and what they map, never their
/// credentials or settings.
pub async fn integrations(subject: &Subject<'_>, at: DateTime<Utc>) -> ApiResult<Section> {
    let db = subject.db;
    let mappings = integration_mapping::Entity::find()
        .filter(
            integration_mapping::COLUMN
                .environment_id
                .eq(subject.environment.id),
        )
        .order_by_asc(integration_mapping::Column::ExternalCompanyId)
        .order_by_asc(integration_mapping::Column::Id)
        .all(db)
        .await?;
    let mut found: Vec<integration::Model> = integration::Entity::find()
        .filter(
            integration::COLUMN
                .id
                .is_in(mappings.iter().map(|mapping| mapping.integration_id)),
        )
        .all(db)
        .await?
        .into_iter()
        .filter(|found| {
            crate::services::scope::sees_integration_feeding(
                subject.viewer,
                &subject.environment,
                found,
            )
        })
        .filter(|found| {
            found.created_at <= at && found.deleted_at.is_none_or(|deleted| deleted > at)
        })
        .collect();
    found.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
    let capped = cap(&mut found);
    let organizations: HashMap<Uuid, String> = organization::Entity::find()
        .filter(
            organization::COLUMN
                .id
                .is_in(found.iter().map(|found| found.organization_id)),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|found| (found.id, found.name))
        .collect();
    let rows: Vec<Vec<String>> = found
        .iter()
        .map(|found| {
            let companies: Vec<String> = mappings
                .iter()
                .filter(|mapping| mapping.integration_id == found.id)
                .map(|mapping| match &mapping.external_company_name {
                    Some(name) => format!("{} ({name})", mapping.external_company_id),
                    None => mapping.external_company_id.clone(),
                })
                .collect();
            vec![
                ids::encode(NodeType::Integration, found.id).0,
                found.name.clone(),
                found.kind.to_value(),
                organizations
                    .get(&found.organization_id)
                    .cloned()
                    .unwrap_or_default(),
                crate::services::integration::public_url(&found.base_url),
                if found.enabled { "yes" } else { "no" }.to_owned(),
                found
                    .sync_interval_seconds
                    .map(|seconds| seconds.to_string())
                    .unwrap_or_default(),
                companies.join("; "),
            ]
        })
        .collect();
    let header = [
        "id",
        "name",
        "kind",
        "organization",
        "base_url",
        "enabled",
        "sync_interval_seconds",
        "mapped_companies",
    ];
    let mut blocks = vec![Block::Paragraph(format!(
        "{} integrations feed this environment at {} (those the downloader may see). Credentials and settings are never exported.",
        found.len(),
        stamp(at)
    ))];
    if capped {
        blocks.push(capped_note("integrations", None));
    }
    if !rows.is_empty() {
        blocks.push(Block::table(
            &[
                "Name",
                "Kind",
                "Organization",
                "Base URL",
                "Enabled",
                "Sync every (s)",
                "Mapped companies",
            ],
            rows.iter().map(|row| row[1..].to_vec()).collect(),
        ));
    }
    Ok(Section {
        title: "Integrations".to_owned(),
        files: vec![csv_file("integrations.csv", &header, &rows)?],
        blocks,
    })
}

/// An instant after every sign-off (as both databases store and compare instants; no clock is
/// read, so the package stays reproducible).
const END_OF_RECORD: DateTime<Utc> =
    DateTime::from_timestamp(253_402_300_799, 0).expect("9999-12-31T23:59:59Z");

/// The most bytes of evidence files an evidence package carries; files past it are listed with
/// their hashes only.
const MAX_EVIDENCE_FILE_BYTES: i64 = 64 * 1024 * 1024;

/// Evidence: each obligation of `framework` as it stood at the period's last second (status,
/// due date, owner), and every evidence record whose period overlaps the period: result,
/// hashes, who recorded and who signed it off, and its file under `evidence/`.
pub async fn obligations(
    subject: &Subject<'_>,
    framework: entities::enums::ComplianceFramework,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> ApiResult<Section> {
    use entities::{evidence_file, evidence_record};

    let db = subject.db;
    let last_second = end - Duration::seconds(1);
    let states: Vec<crate::compliance::ObligationState> =
        crate::compliance::obligations(db, &subject.environment, last_second, None)
            .await?
            .into_iter()
            .filter(|state| state.obligation.framework == framework)
            .collect();
    let obligation_ids: Vec<Uuid> = states.iter().map(|state| state.obligation.id).collect();
    let mut records = evidence_record::Entity::find()
        .filter(
            evidence_record::COLUMN
                .environment_id
                .eq(subject.environment.id),
        )
        .filter(evidence_record::COLUMN.obligation_id.is_in(obligation_ids))
        .filter(evidence_record::COLUMN.period_start.lt(end))
        .filter(evidence_record::COLUMN.period_end.gt(start))
        .order_by_asc(evidence_record::Column::PeriodStart)
        .order_by_asc(evidence_record::Column::Id)
        // One past the cap tells whether there are more, without reading them all.
        .limit(u64::try_from(MAX_ROWS).unwrap_or(u64::MAX) + 1)
        .all(db)
        .await?;
    let capped = cap(&mut records);
    let total = records.len();
    let ids: Vec<Uuid> = records.iter().map(|record| record.id).collect();
    // Sign-offs and files as the record stands now: an auditor wants the evidence, even when
    // it was signed after the period ended.
    let signoffs = crate::compliance::signoffs_of(db, &ids, END_OF_RECORD).await?;
    let files = crate::compliance::files_of(db, &ids, None).await?;
    let superseded: HashSet<Uuid> = records
        .iter()
        .filter_map(|record| record.supersedes_id)
        .collect();
    let person_ids: HashSet<Uuid> = records
        .iter()
        .filter_map(|record| record.recorded_by_id)
        .chain(signoffs.values().map(|signoff| signoff.signed_by_id))
        .collect();
    let people: HashMap<Uuid, String> = person::Entity::find()
        .filter(person::COLUMN.id.is_in(person_ids))
        .all(db)
        .await?
        .into_iter()
        .filter(|found| subject.viewer.can_see_person(found))
        .map(|found| (found.id, found.display_name))
        .collect();
    let organizations: HashMap<Uuid, String> = organization::Entity::find()
        .filter(
            organization::COLUMN
                .id
                .is_in(signoffs.values().map(|signoff| signoff.organization_id)),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|found| (found.id, found.name))
        .collect();
    // The files to carry, oldest period first, within the byte budget: one query for their
    // bytes.
    let mut budget = MAX_EVIDENCE_FILE_BYTES;
    let carried: Vec<Uuid> = records
        .iter()
        .filter(|record| {
            files.get(&record.id).is_some_and(|file| {
                let fits = file.size_bytes <= budget;
                if fits {
                    budget -= file.size_bytes;
                }
                fits
            })
        })
        .map(|record| record.id)
        .collect();
    let mut contents: HashMap<Uuid, Vec<u8>> = HashMap::new();
    for chunk in carried.chunks(500) {
        for file in evidence_file::Entity::find()
            .filter(
                evidence_file::COLUMN
                    .evidence_id
                    .is_in(chunk.iter().copied()),
            )
            .all(db)
            .await?
        {
            contents.insert(file.evidence_id, file.content);
        }
    }

    let key_of: HashMap<Uuid, &str> = states
        .iter()
        .map(|state| (state.obligation.id, state.obligation.key.as_str()))
        .collect();
    let mut package_files = Vec::new();
    let mut evidence_rows = Vec::new();
    let mut left_out = 0_usize;
    for record in &records {
        let key = key_of
            .get(&record.obligation_id)
            .copied()
            .unwrap_or_default();
        let id = ids::encode(NodeType::EvidenceRecord, record.id).0;
        let file = files.get(&record.id);
        let archived = match (file, contents.remove(&record.id)) {
            (Some(info), Some(bytes)) => {
                let name = format!(
                    "evidence/{}/{}{}",
                    slug(key),
                    record.id,
                    extension(&info.content_type)
                );
                package_files.push(PackageFile {
                    name: name.clone(),
                    bytes,
                });
                name
            }
            (Some(_), None) => {
                left_out += 1;
                String::new()
            }
            _ => String::new(),
        };
        let signoff = signoffs.get(&record.id);
        evidence_rows.push(vec![
            key.to_owned(),
            id,
            stamp(record.period_start),
            stamp(record.period_end),
            screaming(&format!("{:?}", record.result)),
            stamp(record.recorded_at),
            record
                .recorded_by_id
                .and_then(|person| people.get(&person).cloned())
                .unwrap_or_default(),
            record.link.clone().unwrap_or_default(),
            record.link_sha256.clone().unwrap_or_default(),
            file.map(|info| info.sha256.clone()).unwrap_or_default(),
            file.map(|info| info.size_bytes.to_string())
                .unwrap_or_default(),
            archived,
            signoff
                .map(|signoff| {
                    format!(
                        "{} ({})",
                        people
                            .get(&signoff.signed_by_id)
                            .cloned()
                            .unwrap_or_default(),
                        organizations
                            .get(&signoff.organization_id)
                            .cloned()
                            .unwrap_or_default()
                    )
                })
                .unwrap_or_default(),
            signoff
                .map(|signoff| stamp(signoff.signed_at))
                .unwrap_or_default(),
            if superseded.contains(&record.id) {
                "yes"
            } else {
                "no"
            }
            .to_owned(),
            record.notes.clone().unwrap_or_default(),
        ]);
    }
    let obligation_rows: Vec<Vec<String>> = states
        .iter()
        .map(|state| {
            vec![
                state.obligation.key.clone(),
                state.obligation.title.clone(),
                screaming(&format!("{:?}", state.obligation.cadence)),
                state.obligation.function_key.clone(),
                screaming(&format!("{:?}", state.status)),
                state.covered_until.map(stamp).unwrap_or_default(),
                stamp(state.due_at),
                state
                    .owner
                    .as_ref()
                    .map(crate::compliance::Owner::describe)
                    .unwrap_or_else(|| "nobody: no agreed entry is in force".to_owned()),
            ]
        })
        .collect();
    let counted = |status: &str| {
        obligation_rows
            .iter()
            .filter(|row| row[4] == status)
            .count()
    };
    let mut blocks = vec![Block::Paragraph(format!(
        "{} obligations of the framework as they stood at {}: {} up to date, {} unsigned, {} due, {} overdue. {total}{} evidence records cover some of the period; {} carry a file in `evidence/`.",
        obligation_rows.len(),
        stamp(last_second),
        counted("UP_TO_DATE"),
        counted("UNSIGNED"),
        counted("DUE"),
        counted("OVERDUE"),
        if capped { " or more" } else { "" },
        package_files.len()
    ))];
    if !obligation_rows.is_empty() {
        blocks.push(Block::table(
            &[
                "Obligation",
                "Title",
                "Cadence",
                "Function",
                "Status",
                "Covered until",
                "Due",
                "Owner",
            ],
            obligation_rows.clone(),
        ));
    }
    if capped {
        blocks.push(capped_note("evidence records", None));
    }
    if left_out > 0 {
        blocks.push(Block::Paragraph(format!(
            "{left_out} evidence files are not in the archive (more than {} MiB in all); `evidence.csv` gives their SHA-256, and `GET /evidence/{{id}}/file` downloads each.",
            MAX_EVIDENCE_FILE_BYTES / (1024 * 1024)
        )));
    }
    if !evidence_rows.is_empty() {
        blocks.push(Block::table(
            &[
                "Obligation",
                "Evidence",
                "From",
                "To",
                "Result",
                "Recorded",
                "Recorded by",
                "Link",
                "Link SHA-256",
                "File SHA-256",
                "File bytes",
                "In the archive",
                "Signed off by",
                "Signed at",
                "Superseded",
                "Notes",
            ],
            evidence_rows.clone(),
        ));
    }
    let mut section_files = vec![
        csv_file(
            "obligations.csv",
            &[
                "obligation",
                "title",
                "cadence",
                "function_key",
                "status",
                "covered_until",
                "due_at",
                "owner",
            ],
            &obligation_rows,
        )?,
        csv_file(
            "evidence.csv",
            &[
                "obligation",
                "evidence_id",
                "period_start",
                "period_end",
                "result",
                "recorded_at",
                "recorded_by",
                "link",
                "link_sha256",
                "file_sha256",
                "file_bytes",
                "archive_path",
                "signed_off_by",
                "signed_at",
                "superseded",
                "notes",
            ],
            &evidence_rows,
        )?,
    ];
    section_files.extend(package_files);
    Ok(Section {
        title: "Obligations and evidence".to_owned(),
        blocks,
        files: section_files,
    })
}

/// A file extension for a media type the archive's reader will open; `.bin` for the rest.
fn extension(content_type: &str) -> &'static str {
    match content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
        .as_str()
    {
        "application/pdf" => ".pdf",
        "text/plain" => ".txt",
        "text/csv" => ".csv",
        "text/markdown" => ".md",
        "application/json" => ".json",
        "image/png" => ".png",
        "image/jpeg" => ".jpg",
        "application/zip" => ".zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => ".docx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => ".xlsx",
        _ => ".bin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn coverage_is_whole_only_without_a_hole() {
        let (start, end) = (at("2026-01-01T00:00:00Z"), at("2026-02-01T00:00:00Z"));
        let mid = at("2026-01-15T00:00:00Z");
        assert_eq!(
            coverage_of(vec![(at("2025-01-01T00:00:00Z"), None)], start, end),
            Coverage::Whole
        );
        assert_eq!(
            coverage_of(
                vec![(mid, None), (at("2025-06-01T00:00:00Z"), Some(mid))],
                start,
                end
            ),
            Coverage::Whole
        );
        assert_eq!(
            coverage_of(
                vec![(start, Some(mid)), (mid + Duration::hours(1), None)],
                start,
                end
            ),
            Coverage::Partial
        );
        assert_eq!(coverage_of(vec![(end, None)], start, end), Coverage::Never);
        assert_eq!(coverage_of(Vec::new(), start, end), Coverage::Never);
    }

    #[test]
    fn urls_lose_anything_that_could_be_a_secret() {
        assert_eq!(
            crate::services::integration::public_url(
                "https://user:hunter2@psa.example.com/api?token=abc#x"
            ),
            "https://psa.example.com/api"
        );
        assert_eq!(
            screaming("RequiredFunctionUnowned"),
            "REQUIRED_FUNCTION_UNOWNED"
        );
    }
}
