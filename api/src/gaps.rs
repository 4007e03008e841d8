//! Ownership gaps: what an environment's matrix, runbooks and change log leave uncovered at an
//! instant, each with a severity and what to do about it.
//!
//! The checks read the environment once per table and decide in memory, so a report costs a
//! fixed number of queries however large the matrix. They follow the matrix rule of
//! [`crate::matrix`]: only entries in force ([`crate::matrix::IN_FORCE`]) whose validity covers the
//! instant own anything.

use std::collections::{HashMap, HashSet};

use async_graphql::Enum;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use entities::enums::{ChangeSource, ResponsibilityStatus};
use entities::{
    change_log_entry, change_log_entry_system, environment, escalation_step, function,
    responsibility, runbook, runbook_function, system,
};
use sea_orm::prelude::*;
use sea_orm::{ConnectionTrait, QueryFilter, QueryOrder};

use crate::matrix::{self, decide};

/// How far ahead an agreed entry's end counts as expiring.
pub const EXPIRY_HORIZON_DAYS: i64 = 30;

/// What kind of gap.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GapKind {
    /// A function the environment's compliance frameworks require has no agreed owner.
    RequiredFunctionUnowned,
    /// An agreed entry ends within 30 days and no agreed entry takes over.
    ExpiringWithoutSuccessor,
    /// A live system that a function applying to its kind (backup and recovery for a server,
    /// patching for a laptop) leaves without an agreed owner: no entry for the system and no
    /// function-level default. A system of a kind no function applies to is uncovered when no
    /// entry at all covers it.
    SystemUncovered,
    /// An entry names no accountable team.
    NoAccountableTeam,
    /// An entry names nobody to escalate to.
    NoEscalationPath,
    /// A function with an agreed owner has no runbook.
    FunctionWithoutRunbook,
    /// A runbook is past its review date.
    RunbookReviewOverdue,
    /// A change an integration saw (source PSA or RMM) has no ticket, and nobody recorded it by
    /// hand or through the API for the same system within the window.
    UndocumentedChange,
    /// A compliance obligation's evidence is past its due date (HIGH when the framework requires
    /// an owner for the obligation's function).
    EvidenceOverdue,
    /// A piece of compliance evidence has no sign-off by the accountable side.
    EvidenceUnsigned,
}

/// How urgent a gap is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GapSeverity {
    /// Compliance or continuity is at risk now: fix first.
    High,
    /// Work may fall between the teams.
    Medium,
    /// Housekeeping that auditors will ask about.
    Low,
}

/// What a gap is about.
#[derive(Debug, Clone)]
pub enum GapSubject {
    /// A function.
    Function(function::Model),
    /// A system.
    System(system::Model),
    /// A matrix entry.
    Responsibility(responsibility::Model),
    /// A runbook.
    Runbook(runbook::Model),
    /// A change log entry.
    Change(change_log_entry::Model),
    /// A compliance obligation.
    Obligation(entities::compliance_obligation::Model),
    /// A piece of compliance evidence.
    Evidence(entities::evidence_record::Model),
}

/// One gap.
#[derive(Debug, Clone)]
pub struct Gap {
    /// What kind.
    pub kind: GapKind,
    /// How urgent.
    pub severity: GapSeverity,
    /// What it is about.
    pub subject: GapSubject,
    /// What is wrong, in words.
    pub summary: String,
    /// What to do about it.
    pub suggested_fix: String,
}

/// What a report looks at.
#[derive(Debug, Clone, Copy)]
pub struct GapQuestion {
    /// The instant the matrix is read at.
    pub at: DateTime<Utc>,
    /// The matrix as recorded at this instant (see [`crate::matrix::Clock`]); `None` for the
    /// current record. Runbooks and the change log are read as they are.
    pub as_of: Option<DateTime<Utc>>,
    /// How close in time a manual or API entry must be to document an observed change.
    pub change_window: Duration,
    /// Observed changes from this instant up to `at` are checked.
    pub changes_since: DateTime<Utc>,
}

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Every gap of `environment` for `question`, most severe first.
///
/// # Errors
/// Database errors.
pub async fn find(
    db: &impl ConnectionTrait,
    environment: &environment::Model,
    question: GapQuestion,
) -> Result<Vec<Gap>, DbErr> {
    let at = question.at;
    let functions = matrix::functions_for(db, environment.organization_id).await?;
    let function_name: HashMap<Uuid, &str> = functions
        .iter()
        .map(|found| (found.id, found.name.as_str()))
        .collect();
    // Retired entries too: before their retirement they were in force, and a report at such an
    // instant answers as it did then. Each as recorded at `as_of`, when asked.
    let entries = matrix::recorded(db, [environment.id], question.as_of, None).await?;
    let covers = |entry: &responsibility::Model, instant: DateTime<Utc>| {
        entry.valid_from <= instant && entry.valid_to.is_none_or(|to| to > instant)
    };
    let in_force: Vec<responsibility::Model> = entries
        .iter()
        .filter(|entry| matrix::IN_FORCE.contains(&entry.status) && covers(entry, at))
        .cloned()
        .collect();
    let frameworks: Vec<String> =
        serde_json::from_value(environment.compliance_frameworks.clone()).unwrap_or_default();
    let mut gaps = required_unowned(environment, &functions, &in_force, &frameworks, at);
    gaps.extend(expiring(&entries, &in_force, &function_name, at));
    gaps.extend(uncovered_systems(db, environment, &functions, &in_force, &frameworks, at).await?);

    // Entries that will decide ownership at `at` once agreed count too: a gap in a draft is
    // cheaper to fix before both sides sign it.
    let current: Vec<&responsibility::Model> =
        entries.iter().filter(|entry| covers(entry, at)).collect();
    let with_steps = with_escalation_path(db, current.iter().map(|entry| entry.id)).await?;
    for entry in &current {
        let function = function_name
            .get(&entry.function_id)
            .copied()
            .unwrap_or("?");
        let status = sea_orm::ActiveEnum::to_value(&entry.status);
        if entry.accountable_team_id.is_none() {
            gaps.push(Gap {
                kind: GapKind::NoAccountableTeam,
                severity: GapSeverity::Medium,
                summary: format!("The {status} entry for {function} names no accountable team"),
                suggested_fix: "Name the team that answers for the outcome; under co-managed this is usually the client's IT".to_owned(),
                subject: GapSubject::Responsibility((*entry).clone()),
            });
        }
        if !with_steps.contains(&entry.id) {
            gaps.push(Gap {
                kind: GapKind::NoEscalationPath,
                severity: GapSeverity::Medium,
                summary: format!("The {status} entry for {function} names nobody to escalate to"),
                suggested_fix: "Add an escalation path: who to reach, on which channel, and after how many minutes to go on".to_owned(),
                subject: GapSubject::Responsibility((*entry).clone()),
            });
        }
    }

    let (runbooks, with_runbook) = live_runbooks(db, environment.id, at).await?;
    let owned: HashSet<Uuid> = in_force.iter().map(|entry| entry.function_id).collect();
    for function in functions
        .iter()
        .filter(|function| owned.contains(&function.id) && !with_runbook.contains(&function.id))
    {
        gaps.push(Gap {
            kind: GapKind::FunctionWithoutRunbook,
            severity: GapSeverity::Low,
            summary: format!("{} has an agreed owner but no runbook", function.name),
            suggested_fix: format!(
                "Write a runbook for `{}` owned by its responsible team and link it to the function",
                function.key
            ),
            subject: GapSubject::Function(function.clone()),
        });
    }
    for found in &runbooks {
        let due = found.last_reviewed_at.unwrap_or(found.created_at)
            + Duration::days(i64::from(found.review_interval_days));
        if due < at {
            gaps.push(Gap {
                kind: GapKind::RunbookReviewOverdue,
                severity: GapSeverity::Low,
                summary: format!(
                    "Runbook \"{}\" was due for review at {}",
                    found.title,
                    stamp(due)
                ),
                suggested_fix:
                    "Review it (markRunbookReviewed), revise it if it is out of date, or archive it"
                        .to_owned(),
                subject: GapSubject::Runbook(found.clone()),
            });
        }
    }

    gaps.extend(undocumented_changes(db, environment, question).await?);
    gaps.extend(compliance_evidence(db, environment, at, question.as_of).await?);
    gaps.sort_by_key(|gap| (gap.severity, gap.kind));
    Ok(gaps)
}

/// The kinds of gap that writes open and close, announced as `ownership_gap.opened` and
/// `ownership_gap.closed` ([`watched`], `services::UnitOfWork::watch_gaps`): the ones decided by
/// the agreed matrix, the live systems and the environment's frameworks alone. The others follow
/// drafts, runbooks, the change log or evidence, or open with the passage of time.
pub const WATCHED: [GapKind; 3] = [
    GapKind::RequiredFunctionUnowned,
    GapKind::ExpiringWithoutSuccessor,
    GapKind::SystemUncovered,
];

/// Where a gap is, stable across writes (its summary names the instant; its subject may be a
/// newer version of the same entry): one gap of each kind per environment, function and system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GapKey {
    /// The environment.
    pub environment_id: Uuid,
    /// The function it is about, if any.
    pub function_id: Option<Uuid>,
    /// The system it is about, if any (for a gap about a runbook, change, obligation or piece
    /// of evidence: that object).
    pub system_id: Option<Uuid>,
    /// Its kind.
    pub kind: GapKind,
}

impl Gap {
    /// Its key in `environment_id`.
    #[must_use]
    pub fn key(&self, environment_id: Uuid) -> GapKey {
        let (function_id, system_id) = match &self.subject {
            GapSubject::Function(found) => (Some(found.id), None),
            GapSubject::System(found) => (None, Some(found.id)),
            GapSubject::Responsibility(found) => (Some(found.function_id), found.system_id),
            GapSubject::Runbook(found) => (None, Some(found.id)),
            GapSubject::Change(found) => (None, Some(found.id)),
            GapSubject::Obligation(found) => (None, Some(found.id)),
            GapSubject::Evidence(found) => (None, Some(found.id)),
        };
        GapKey {
            environment_id,
            function_id,
            system_id,
            kind: self.kind,
        }
    }
}

/// The [`WATCHED`] gaps of `environment` at `at` on the current record, by key, as
/// [`find`] reports them: three statements (functions, entries, live systems).
///
/// # Errors
/// Database errors.
pub async fn watched(
    db: &impl ConnectionTrait,
    environment: &environment::Model,
    at: DateTime<Utc>,
) -> Result<std::collections::BTreeMap<GapKey, Gap>, DbErr> {
    let functions = matrix::functions_for(db, environment.organization_id).await?;
    let function_name: HashMap<Uuid, &str> = functions
        .iter()
        .map(|found| (found.id, found.name.as_str()))
        .collect();
    let entries = matrix::recorded(db, [environment.id], None, None).await?;
    let in_force: Vec<responsibility::Model> = entries
        .iter()
        .filter(|entry| {
            matrix::IN_FORCE.contains(&entry.status)
                && entry.valid_from <= at
                && entry.valid_to.is_none_or(|to| to > at)
        })
        .cloned()
        .collect();
    let frameworks: Vec<String> =
        serde_json::from_value(environment.compliance_frameworks.clone()).unwrap_or_default();
    let mut gaps = required_unowned(environment, &functions, &in_force, &frameworks, at);
    gaps.extend(expiring(&entries, &in_force, &function_name, at));
    gaps.extend(uncovered_systems(db, environment, &functions, &in_force, &frameworks, at).await?);
    let mut keyed = std::collections::BTreeMap::new();
    for gap in gaps {
        keyed.entry(gap.key(environment.id)).or_insert(gap);
    }
    Ok(keyed)
}

/// The functions the environment's frameworks require that no entry in `in_force` owns at `at`.
fn required_unowned(
    environment: &environment::Model,
    functions: &[function::Model],
    in_force: &[responsibility::Model],
    frameworks: &[String],
    at: DateTime<Utc>,
) -> Vec<Gap> {
    let mut gaps = Vec::new();
    for function in functions {
        let required: Vec<String> =
            serde_json::from_value(function.required_by.clone()).unwrap_or_default();
        let requiring: Vec<&str> = required
            .iter()
            .filter(|framework| frameworks.contains(framework))
            .map(String::as_str)
            .collect();
        if requiring.is_empty() || decide(in_force, environment.id, function.id, None).is_some() {
            continue;
        }
        gaps.push(Gap {
            kind: GapKind::RequiredFunctionUnowned,
            severity: GapSeverity::High,
            summary: format!(
                "{} is required by {} but has no agreed owner at {}",
                function.name,
                requiring.join(", "),
                stamp(at)
            ),
            suggested_fix: format!(
                "Create an entry for `{}` naming a responsible and an accountable team, propose it, and have each side approve it",
                function.key
            ),
            subject: GapSubject::Function(function.clone()),
        });
    }

    gaps
}

/// The entries of `in_force` that end within [`EXPIRY_HORIZON_DAYS`] of `at` with no agreed
/// entry of `entries` taking over.
fn expiring(
    entries: &[responsibility::Model],
    in_force: &[responsibility::Model],
    function_name: &HashMap<Uuid, &str>,
    at: DateTime<Utc>,
) -> Vec<Gap> {
    let covers = |entry: &responsibility::Model, instant: DateTime<Utc>| {
        entry.valid_from <= instant && entry.valid_to.is_none_or(|to| to > instant)
    };
    let mut gaps = Vec::new();
    let horizon = at + Duration::days(EXPIRY_HORIZON_DAYS);
    for entry in in_force {
        let Some(valid_to) = entry.valid_to.filter(|to| *to <= horizon) else {
            continue;
        };
        let same_key = |other: &&responsibility::Model| {
            other.id != entry.id
                && other.function_id == entry.function_id
                && other.system_id == entry.system_id
        };
        let agreed_successor = entries
            .iter()
            .filter(same_key)
            .any(|other| matrix::IN_FORCE.contains(&other.status) && covers(other, valid_to));
        if agreed_successor {
            continue;
        }
        let pending = entries.iter().filter(same_key).find(|other| {
            matches!(
                other.status,
                ResponsibilityStatus::Draft | ResponsibilityStatus::Proposed
            ) && (other.supersedes_id == Some(entry.id) || covers(other, valid_to))
        });
        let function = function_name
            .get(&entry.function_id)
            .copied()
            .unwrap_or("?");
        gaps.push(Gap {
            kind: GapKind::ExpiringWithoutSuccessor,
            severity: GapSeverity::High,
            summary: format!(
                "The agreed entry for {function} ends at {} and no agreed entry takes over",
                stamp(valid_to)
            ),
            suggested_fix: match pending {
                Some(successor) if successor.status == ResponsibilityStatus::Proposed => format!(
                    "Agree its successor (now PROPOSED): have each side approve it before {}",
                    stamp(valid_to)
                ),
                Some(_) => format!(
                    "Agree its successor (now DRAFT): propose it and have each side approve it before {}",
                    stamp(valid_to)
                ),
                None => format!(
                    "Create the entry that takes over from {} (or extend this one with a new entry), and agree it",
                    stamp(valid_to)
                ),
            },
            subject: GapSubject::Responsibility(entry.clone()),
        });
    }

    gaps
}

/// The live systems of `environment` at `at` that a function applying to their kind leaves
/// without an agreed owner in `in_force`, one gap per system naming each such function: HIGH
/// when one of them is required by the environment's frameworks ("a server nobody backs up"),
/// else MEDIUM. A system of a kind no function applies to is uncovered only when nothing covers
/// it: no entry of its own and no function default at all.
async fn uncovered_systems(
    db: &impl ConnectionTrait,
    environment: &environment::Model,
    functions: &[function::Model],
    in_force: &[responsibility::Model],
    frameworks: &[String],
    at: DateTime<Utc>,
) -> Result<Vec<Gap>, DbErr> {
    let systems = system::Entity::find()
        .filter(system::COLUMN.environment_id.eq(environment.id))
        .filter(system::COLUMN.created_at.lte(at))
        .filter(
            sea_orm::Condition::any()
                .add(system::COLUMN.retired_at.is_null())
                .add(system::COLUMN.retired_at.gt(at)),
        )
        .order_by_asc(system::Column::Name)
        .order_by_asc(system::Column::Id)
        .all(db)
        .await?;
    let kinds: Vec<(&function::Model, Vec<entities::enums::SystemKind>, bool)> = functions
        .iter()
        .map(|function| {
            let required: Vec<String> =
                serde_json::from_value(function.required_by.clone()).unwrap_or_default();
            let required = required
                .iter()
                .any(|framework| frameworks.contains(framework));
            (function, matrix::applies_to(function), required)
        })
        .collect();
    let has_default = in_force.iter().any(|entry| entry.system_id.is_none());
    let mut gaps = Vec::new();
    for found in &systems {
        let applying: Vec<&(&function::Model, _, bool)> = kinds
            .iter()
            .filter(|(_, kinds, _)| kinds.contains(&found.kind))
            .collect();
        let kind = sea_orm::ActiveEnum::to_value(&found.kind);
        if applying.is_empty() {
            let own = in_force
                .iter()
                .any(|entry| entry.system_id == Some(found.id));
            if !has_default && !own {
                gaps.push(Gap {
                    kind: GapKind::SystemUncovered,
                    severity: GapSeverity::Medium,
                    summary: format!("No agreed entry covers {} at {}", found.name, stamp(at)),
                    suggested_fix:
                        "Agree function-level defaults for the environment, or entries for this system"
                            .to_owned(),
                    subject: GapSubject::System(found.clone()),
                });
            }
            continue;
        }
        let unowned: Vec<&&(&function::Model, _, bool)> = applying
            .iter()
            .filter(|(function, _, _)| {
                decide(in_force, environment.id, function.id, Some(found.id)).is_none()
            })
            .collect();
        if unowned.is_empty() {
            continue;
        }
        let names: Vec<&str> = unowned
            .iter()
            .map(|(function, _, _)| function.name.as_str())
            .collect();
        let keys: Vec<String> = unowned
            .iter()
            .map(|(function, _, _)| format!("`{}`", function.key))
            .collect();
        gaps.push(Gap {
            kind: GapKind::SystemUncovered,
            severity: if unowned.iter().any(|(_, _, required)| *required) {
                GapSeverity::High
            } else {
                GapSeverity::Medium
            },
            summary: format!(
                "Nobody owns {} for {} ({kind}) at {}",
                names.join(", "),
                found.name,
                stamp(at)
            ),
            suggested_fix: format!(
                "Agree a function-level default for {}, or an entry for this system",
                keys.join(", ")
            ),
            subject: GapSubject::System(found.clone()),
        });
    }
    Ok(gaps)
}

/// Which of `entry_ids` have an escalation path.
///
/// # Errors
/// Database errors.
pub async fn with_escalation_path(
    db: &impl ConnectionTrait,
    entry_ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashSet<Uuid>, DbErr> {
    Ok(escalation_step::Entity::find()
        .filter(escalation_step::COLUMN.responsibility_id.is_in(entry_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|step| step.responsibility_id)
        .collect())
}

/// The runbooks of `environment_id` live at `at` (created, not yet archived), by title, and the
/// functions they cover.
///
/// # Errors
/// Database errors.
pub async fn live_runbooks(
    db: &impl ConnectionTrait,
    environment_id: Uuid,
    at: DateTime<Utc>,
) -> Result<(Vec<runbook::Model>, HashSet<Uuid>), DbErr> {
    let runbooks = runbook::Entity::find()
        .filter(runbook::COLUMN.environment_id.eq(environment_id))
        .filter(runbook::COLUMN.created_at.lte(at))
        .filter(
            sea_orm::Condition::any()
                .add(runbook::COLUMN.archived_at.is_null())
                .add(runbook::COLUMN.archived_at.gt(at)),
        )
        .order_by_asc(runbook::Column::Title)
        .order_by_asc(runbook::Column::Id)
        .all(db)
        .await?;
    if runbooks.is_empty() {
        return Ok((runbooks, HashSet::new()));
    }
    let covered = runbook_function::Entity::find()
        .filter(
            runbook_function::COLUMN
                .runbook_id
                .is_in(runbooks.iter().map(|found| found.id)),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|link| link.function_id)
        .collect();
    Ok((runbooks, covered))
}

/// Observed changes (source PSA or RMM, no ticket, not a first sighting) in `[changes_since, at]`
/// that no manual or
/// API entry documents: one sharing a system with it (or, for a change naming no system, any in
/// the environment) whose `occurred_at` is within `change_window` of it.
async fn undocumented_changes(
    db: &impl ConnectionTrait,
    environment: &environment::Model,
    question: GapQuestion,
) -> Result<Vec<Gap>, DbErr> {
    let window = question.change_window;
    let observed = change_log_entry::Entity::find()
        .filter(change_log_entry::COLUMN.environment_id.eq(environment.id))
        .filter(
            change_log_entry::COLUMN
                .source
                .is_in([ChangeSource::Psa, ChangeSource::Rmm]),
        )
        .filter(change_log_entry::COLUMN.ticket_id.is_null())
        .filter(
            change_log_entry::COLUMN
                .occurred_at
                .gte(question.changes_since),
        )
        .filter(change_log_entry::COLUMN.occurred_at.lte(question.at))
        .order_by_asc(change_log_entry::Column::OccurredAt)
        .order_by_asc(change_log_entry::Column::Id)
        .all(db)
        .await?;
    // A device a sync sees for the first time is inventory, not a change someone made: a first
    // sync would otherwise report every device.
    let observed: Vec<change_log_entry::Model> = observed
        .into_iter()
        .filter(|entry| entry.details.get("discovered") != Some(&serde_json::Value::Bool(true)))
        .collect();
    if observed.is_empty() {
        return Ok(Vec::new());
    }
    let documenting = change_log_entry::Entity::find()
        .filter(change_log_entry::COLUMN.environment_id.eq(environment.id))
        .filter(
            change_log_entry::COLUMN
                .source
                .is_in([ChangeSource::Manual, ChangeSource::Api]),
        )
        .filter(
            change_log_entry::COLUMN
                .occurred_at
                .gte(question.changes_since - window),
        )
        .filter(
            change_log_entry::COLUMN
                .occurred_at
                .lte(question.at + window),
        )
        .all(db)
        .await?;
    let mut systems_of: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    let ids: Vec<Uuid> = observed
        .iter()
        .chain(&documenting)
        .map(|entry| entry.id)
        .collect();
    // Chunked: an IN list is bounded by the databases' parameter limits.
    for chunk in ids.chunks(5_000) {
        for link in change_log_entry_system::Entity::find()
            .filter(
                change_log_entry_system::COLUMN
                    .change_log_entry_id
                    .is_in(chunk.iter().copied()),
            )
            .all(db)
            .await?
        {
            systems_of
                .entry(link.change_log_entry_id)
                .or_default()
                .push(link.system_id);
        }
    }
    let no_systems = Vec::new();
    let mut gaps = Vec::new();
    for change in observed {
        let systems = systems_of.get(&change.id).unwrap_or(&no_systems);
        let documented = documenting.iter().any(|other| {
            (other.occurred_at - change.occurred_at).abs() <= window
                && (systems.is_empty()
                    || systems_of
                        .get(&other.id)
                        .is_some_and(|theirs| theirs.iter().any(|id| systems.contains(id))))
        });
        if documented {
            continue;
        }
        gaps.push(Gap {
            kind: GapKind::UndocumentedChange,
            severity: GapSeverity::Medium,
            summary: format!(
                "{} saw \"{}\" at {} with no ticket and no documented change",
                sea_orm::ActiveEnum::to_value(&change.source),
                change.summary,
                stamp(change.occurred_at)
            ),
            suggested_fix: format!(
                "Find out who made it: link the ticket that asked for it, or record it (recordChange) for the same system within {} hours",
                window.num_hours()
            ),
            subject: GapSubject::Change(change),
        });
    }
    Ok(gaps)
}

/// Compliance obligations of `environment` whose evidence is overdue at `at`, and evidence not
/// signed off by then, each with its owner from the matrix in force (see [`crate::compliance`]).
async fn compliance_evidence(
    db: &impl ConnectionTrait,
    environment: &environment::Model,
    at: DateTime<Utc>,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<Gap>, DbErr> {
    use crate::compliance::{ObligationStatus, obligations};
    let mut gaps = Vec::new();
    // Owners as the matrix was recorded `as_of`, like every other gap of the report.
    for state in obligations(db, environment, at, as_of).await? {
        let owner = state.owner.as_ref().map_or_else(
            || "no agreed entry owns its function".to_owned(),
            crate::compliance::Owner::describe,
        );
        let framework = sea_orm::ActiveEnum::to_value(&state.obligation.framework);
        if state.status == ObligationStatus::Overdue {
            gaps.push(Gap {
                kind: GapKind::EvidenceOverdue,
                severity: if state.required {
                    GapSeverity::High
                } else {
                    GapSeverity::Medium
                },
                summary: format!(
                    "{framework} {}: no evidence for the period from {} was recorded by its due date {}; {owner}",
                    state.obligation.title,
                    stamp(state.period_start),
                    stamp(state.due_at)
                ),
                suggested_fix: format!(
                    "Have the responsible team produce it and record it (recordEvidence, obligation `{}`), then have the accountable side sign it off",
                    state.obligation.key
                ),
                subject: GapSubject::Obligation(state.obligation.clone()),
            });
        }
        for record in &state.unsigned {
            gaps.push(Gap {
                kind: GapKind::EvidenceUnsigned,
                severity: GapSeverity::Medium,
                summary: format!(
                    "{framework} {}: the evidence for {} to {} is not signed off; {owner}",
                    state.obligation.title,
                    stamp(record.period_start),
                    stamp(record.period_end)
                ),
                suggested_fix: "An admin of the accountable team's organization signs it off (signEvidence), or records a correction that supersedes it".to_owned(),
                subject: GapSubject::Evidence(record.clone()),
            });
        }
    }
    Ok(gaps)
}
