//! Transition readiness: what an environment still lacks, at the instant a transition takes
//! effect (or any instant asked about), before both teams can work it side by side.
//!
//! It is judged at that instant, not today: the matrix in force then, every HIGH ownership gap of
//! that instant ([`crate::gaps`], so readiness is never `ready` while the gap report of the same
//! instant has a HIGH gap), the entries still unagreed whose validity covers it, and whether the
//! integrations mapped to the environment work (enabled, with credentials, a recent successful
//! sync). Like the gap report, it reads each table once and decides in memory.

use std::collections::HashSet;

use async_graphql::Enum;
use chrono::{DateTime, Duration, NaiveTime, Utc};
use entities::enums::{IntegrationKind, ResponsibilityStatus, SyncStatus};
use entities::{
    engagement, environment, function, integration, integration_mapping, responsibility, sync_run,
    system,
};
use sea_orm::prelude::*;
use sea_orm::{ConnectionTrait, QueryFilter, QueryOrder};

use crate::gaps::{self, Gap, GapQuestion, GapSeverity};
use crate::matrix;

/// How recent an integration's last successful sync must be for it to count as working.
pub const RECENT_SYNC_DAYS: i64 = 7;

/// What may keep an environment from being worked side by side.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReadinessKind {
    /// A HIGH ownership gap at the instant: a required function unowned, an entry expiring
    /// without a successor, a system a required function leaves unowned, overdue evidence.
    HighGap,
    /// Matrix entries whose validity covers the instant are still drafts or proposals.
    UnagreedEntries,
    /// Functions with an agreed owner at the instant have no runbook.
    FunctionWithoutRunbook,
    /// The environment has no live systems at the instant.
    EmptyInventory,
    /// No PSA integration is mapped to the environment, so the two teams share no tickets.
    NoTicketingIntegration,
    /// An integration mapped to the environment does not work: disabled, without credentials,
    /// or without a successful sync in the last 7 days.
    IntegrationUnhealthy,
    /// Agreed entries in force at the instant name nobody to escalate to.
    NoEscalationPath,
}

/// What an item is about.
#[derive(Debug, Clone)]
pub enum ReadinessSubject {
    /// A function.
    Function(function::Model),
    /// A matrix entry.
    Responsibility(responsibility::Model),
    /// An integration.
    Integration(integration::Model),
    /// A gap's subject, as the gap report names it.
    Gap(gaps::GapSubject),
}

/// One thing still missing.
#[derive(Debug, Clone)]
pub struct ReadinessItem {
    /// What is missing.
    pub kind: ReadinessKind,
    /// What is missing, for people, with what to do.
    pub message: String,
    /// What it is about.
    pub subjects: Vec<ReadinessSubject>,
}

/// The verdict for one environment at one instant.
#[derive(Debug, Clone)]
pub struct Readiness {
    /// The instant judged.
    pub at: DateTime<Utc>,
    /// The engagement that starts at `at`, when `at` is a planned transition's first day.
    pub transition: Option<engagement::Model>,
    /// Everything missing, most urgent first; ready when empty.
    pub items: Vec<ReadinessItem>,
    /// The HIGH gaps of the gap report at `at`.
    pub high_gaps: Vec<Gap>,
}

impl Readiness {
    /// Whether nothing is missing.
    pub fn ready(&self) -> bool {
        self.items.is_empty()
    }
}

/// The next transition of `environment`'s client: the earliest engagement that starts after
/// `now`'s day, and its first instant (midnight UTC of its first day, the instant
/// `planTransition`'s drafts take effect).
///
/// # Errors
/// Database errors.
pub async fn next_transition(
    db: &impl ConnectionTrait,
    environment: &environment::Model,
    now: DateTime<Utc>,
) -> Result<Option<(DateTime<Utc>, engagement::Model)>, DbErr> {
    let found = engagement::Entity::find()
        .filter(engagement::COLUMN.client_id.eq(environment.organization_id))
        .filter(engagement::COLUMN.starts_on.gt(now.date_naive()))
        .order_by_asc(engagement::Column::StartsOn)
        .one(db)
        .await?;
    Ok(found.map(|found| (start_of(found.starts_on), found)))
}

fn start_of(day: chrono::NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

/// What `environment` lacks at `at`; `now` bounds what "a recent sync" can mean (a future
/// instant is judged on the syncs that happened so far).
///
/// # Errors
/// Database errors.
pub async fn assess(
    db: &impl ConnectionTrait,
    environment: &environment::Model,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Readiness, DbErr> {
    let transition = engagement::Entity::find()
        .filter(engagement::COLUMN.client_id.eq(environment.organization_id))
        .filter(engagement::COLUMN.starts_on.eq(at.date_naive()))
        .one(db)
        .await?
        .filter(|found| start_of(found.starts_on) == at);
    let mut items = Vec::new();

    let found_gaps = gaps::find(
        db,
        environment,
        GapQuestion {
            at,
            change_window: Duration::hours(24),
            changes_since: at - Duration::days(30),
            // As the record stands now: readiness is a question about the plan of today.
            as_of: None,
        },
    )
    .await?;
    let high_gaps: Vec<Gap> = found_gaps
        .into_iter()
        .filter(|gap| gap.severity == GapSeverity::High)
        .collect();
    for gap in &high_gaps {
        items.push(ReadinessItem {
            kind: ReadinessKind::HighGap,
            message: format!("{} ({})", gap.summary, gap.suggested_fix),
            subjects: vec![ReadinessSubject::Gap(gap.subject.clone())],
        });
    }

    let covers = |entry: &responsibility::Model| {
        entry.valid_from <= at && entry.valid_to.is_none_or(|to| to > at)
    };
    let entries = responsibility::Entity::find()
        .filter(responsibility::COLUMN.environment_id.eq(environment.id))
        .order_by_asc(responsibility::Column::Id)
        .all(db)
        .await?;
    let pending: Vec<&responsibility::Model> = entries
        .iter()
        .filter(|entry| {
            matches!(
                entry.status,
                ResponsibilityStatus::Draft | ResponsibilityStatus::Proposed
            ) && covers(entry)
        })
        .collect();
    // A draft whose proposal was sent back (withdrawn or rejected) and not proposed again waits
    // on nobody's sign-off: it is left out, so a refused proposal does not hold readiness
    // forever (whether its function then has an owner is the gap report's question).
    let sent_back = sent_back(
        db,
        pending
            .iter()
            .filter(|entry| entry.status == ResponsibilityStatus::Draft)
            .map(|entry| entry.id),
    )
    .await?;
    let unagreed: Vec<&responsibility::Model> = pending
        .into_iter()
        .filter(|entry| !sent_back.contains(&entry.id))
        .collect();
    if !unagreed.is_empty() {
        let proposed = unagreed
            .iter()
            .filter(|entry| entry.status == ResponsibilityStatus::Proposed)
            .count();
        items.push(ReadinessItem {
            kind: ReadinessKind::UnagreedEntries,
            message: format!(
                "{} matrix entries that would be in force then are not agreed ({proposed} proposed, {} drafts); propose them and have each side approve",
                unagreed.len(),
                unagreed.len() - proposed
            ),
            subjects: unagreed
                .iter()
                .map(|entry| ReadinessSubject::Responsibility((*entry).clone()))
                .collect(),
        });
    }

    let in_force: Vec<&responsibility::Model> = entries
        .iter()
        .filter(|entry| matrix::IN_FORCE.contains(&entry.status) && covers(entry))
        .collect();
    let functions = matrix::functions_for(db, environment.organization_id).await?;
    let (_, covered) = gaps::live_runbooks(db, environment.id, at).await?;
    let owned: HashSet<Uuid> = in_force.iter().map(|entry| entry.function_id).collect();
    let without_runbook: Vec<&function::Model> = functions
        .iter()
        .filter(|function| owned.contains(&function.id) && !covered.contains(&function.id))
        .collect();
    if !without_runbook.is_empty() {
        items.push(ReadinessItem {
            kind: ReadinessKind::FunctionWithoutRunbook,
            message: format!(
                "{} owned functions have no runbook; write one per function",
                without_runbook.len()
            ),
            subjects: without_runbook
                .into_iter()
                .map(|function| ReadinessSubject::Function(function.clone()))
                .collect(),
        });
    }

    let systems = system::Entity::find()
        .filter(system::COLUMN.environment_id.eq(environment.id))
        .filter(system::COLUMN.created_at.lte(at))
        .filter(
            sea_orm::Condition::any()
                .add(system::COLUMN.retired_at.is_null())
                .add(system::COLUMN.retired_at.gt(at)),
        )
        .count(db)
        .await?;
    if systems == 0 {
        items.push(ReadinessItem {
            kind: ReadinessKind::EmptyInventory,
            message: "the environment has no systems; sync them from the RMM or add them"
                .to_owned(),
            subjects: Vec::new(),
        });
    }

    items.extend(integration_health(db, environment, at.min(now)).await?);

    let with_steps = gaps::with_escalation_path(db, in_force.iter().map(|entry| entry.id)).await?;
    let without_path: Vec<&&responsibility::Model> = in_force
        .iter()
        .filter(|entry| !with_steps.contains(&entry.id))
        .collect();
    if !without_path.is_empty() {
        items.push(ReadinessItem {
            kind: ReadinessKind::NoEscalationPath,
            message: format!(
                "{} agreed entries name nobody to escalate to; add an escalation path",
                without_path.len()
            ),
            subjects: without_path
                .into_iter()
                .map(|entry| ReadinessSubject::Responsibility((*entry).clone()))
                .collect(),
        });
    }
    items.sort_by_key(|item| item.kind);
    Ok(Readiness {
        at,
        transition,
        items,
        high_gaps,
    })
}

/// The integrations mapped to `environment` (not deleted) that do not work as of `as_of`, and
/// an item when no PSA is mapped at all.
async fn integration_health(
    db: &impl ConnectionTrait,
    environment: &environment::Model,
    as_of: DateTime<Utc>,
) -> Result<Vec<ReadinessItem>, DbErr> {
    let mapped: Vec<Uuid> = integration_mapping::Entity::find()
        .filter(
            integration_mapping::COLUMN
                .environment_id
                .eq(environment.id),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|mapping| mapping.integration_id)
        .collect();
    let integrations = integration::Entity::find()
        .filter(integration::COLUMN.id.is_in(mapped))
        .filter(integration::COLUMN.deleted_at.is_null())
        .order_by_asc(integration::Column::Name)
        .order_by_asc(integration::Column::Id)
        .all(db)
        .await?;
    let since = as_of - Duration::days(RECENT_SYNC_DAYS);
    let runs = sync_run::Entity::find()
        .filter(
            sync_run::COLUMN
                .integration_id
                .is_in(integrations.iter().map(|found| found.id)),
        )
        .filter(sync_run::COLUMN.finished_at.gte(since))
        .filter(sync_run::COLUMN.finished_at.lte(as_of))
        .order_by_asc(sync_run::Column::FinishedAt)
        .order_by_asc(sync_run::Column::Id)
        .all(db)
        .await?;
    let mut items = Vec::new();
    let psa = |kind: IntegrationKind| {
        matches!(
            kind,
            IntegrationKind::ConnectwiseManage
                | IntegrationKind::Autotask
                | IntegrationKind::Halopsa
        )
    };
    if !integrations.iter().any(|found| psa(found.kind)) {
        items.push(ReadinessItem {
            kind: ReadinessKind::NoTicketingIntegration,
            message: "no PSA integration is mapped to the environment; map the client's company so both teams share tickets".to_owned(),
            subjects: Vec::new(),
        });
    }
    for found in integrations {
        let own: Vec<&sync_run::Model> = runs
            .iter()
            .filter(|run| run.integration_id == found.id)
            .collect();
        let succeeded = own
            .iter()
            .any(|run| matches!(run.status, SyncStatus::Succeeded | SyncStatus::Partial));
        let mut problems = Vec::new();
        if !found.enabled {
            problems.push("it is disabled".to_owned());
        }
        if found.credentials_ciphertext.is_none() {
            problems.push("it has no credentials".to_owned());
        }
        if !succeeded {
            problems.push(format!(
                "it has no successful sync in the {RECENT_SYNC_DAYS} days before {}",
                as_of.format("%Y-%m-%d")
            ));
        } else if own
            .last()
            .is_some_and(|run| run.status == SyncStatus::Failed)
        {
            problems.push("its last sync failed".to_owned());
        }
        if problems.is_empty() {
            continue;
        }
        let kind = if psa(found.kind) { "PSA" } else { "RMM" };
        items.push(ReadinessItem {
            kind: ReadinessKind::IntegrationUnhealthy,
            message: format!(
                "a {kind} integration mapped to the environment does not work: {}; enable it, test it (testIntegration) and sync it (triggerSync)",
                problems.join(", ")
            ),
            subjects: vec![ReadinessSubject::Integration(found)],
        });
    }
    Ok(items)
}

/// Which of the drafts `ids` were last sent back: their latest history step is a withdrawal or
/// a rejection.
async fn sent_back(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashSet<Uuid>, DbErr> {
    use entities::enums::HistoryAction;
    use entities::responsibility_history;
    let ids: Vec<Uuid> = ids.into_iter().collect();
    let mut latest: std::collections::HashMap<Uuid, HistoryAction> =
        std::collections::HashMap::new();
    // Chunked: an IN list is bounded by the databases' parameter limits.
    for chunk in ids.chunks(5_000) {
        for row in responsibility_history::Entity::find()
            .filter(
                responsibility_history::COLUMN
                    .responsibility_id
                    .is_in(chunk.iter().copied()),
            )
            .order_by_asc(responsibility_history::Column::RecordedAt)
            .order_by_asc(responsibility_history::Column::Id)
            .all(db)
            .await?
        {
            latest.insert(row.responsibility_id, row.action);
        }
    }
    Ok(latest
        .into_iter()
        .filter(|(_, action)| matches!(action, HistoryAction::Withdrawn | HistoryAction::Rejected))
        .map(|(id, _)| id)
        .collect())
}
