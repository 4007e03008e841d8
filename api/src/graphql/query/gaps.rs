//! `ownershipGaps`: the gap report of one environment at an instant (see [`crate::gaps`]).

use async_graphql::{Context, ID, Object, Result, ResultExt, SimpleObject};
use chrono::{Duration, Utc};
use sea_orm::prelude::DateTimeUtc;

use crate::error::{ApiError, ApiResult};
use crate::gaps::{self, Gap, GapKind, GapQuestion, GapSeverity, GapSubject};
use crate::graphql::context::ContextExt;
use crate::graphql::query::matrix::visible_environment;
use crate::graphql::types::{
    ChangeLogEntry, ComplianceObligation, Environment, EvidenceRecord, Function, Node,
    Responsibility, Runbook, System,
};

/// Longest documentation window, in hours (30 days).
const MAX_WINDOW_HOURS: i32 = 720;
/// Default look-back for observed changes, in days.
const DEFAULT_CHANGES_DAYS: i64 = 30;
/// Longest look-back for observed changes, in days.
const MAX_CHANGES_DAYS: i64 = 366;

/// Gap detection.
#[derive(Default)]
pub struct GapsQuery;

/// One ownership gap.
#[derive(SimpleObject)]
pub struct OwnershipGap {
    /// What kind of gap.
    pub kind: GapKind,
    /// How urgent.
    pub severity: GapSeverity,
    /// What it is about: a function, system, matrix entry, runbook, change log entry,
    /// compliance obligation or piece of evidence.
    pub subject: Node,
    /// What is wrong, for people.
    pub summary: String,
    /// What to do about it.
    pub suggested_fix: String,
}

impl OwnershipGap {
    /// The node a gap is about.
    pub fn subject_node(subject: GapSubject) -> Node {
        match subject {
            GapSubject::Function(found) => Node::Function(Function(found)),
            GapSubject::System(found) => Node::System(System(found)),
            GapSubject::Responsibility(found) => Node::Responsibility(Responsibility(found)),
            GapSubject::Runbook(found) => Node::Runbook(Runbook(found)),
            GapSubject::Change(found) => Node::ChangeLogEntry(ChangeLogEntry(found)),
            GapSubject::Obligation(found) => {
                Node::ComplianceObligation(ComplianceObligation(found))
            }
            GapSubject::Evidence(found) => Node::EvidenceRecord(EvidenceRecord::new(found)),
        }
    }
}

impl From<Gap> for OwnershipGap {
    fn from(gap: Gap) -> Self {
        Self {
            kind: gap.kind,
            severity: gap.severity,
            subject: Self::subject_node(gap.subject),
            summary: gap.summary,
            suggested_fix: gap.suggested_fix,
        }
    }
}

/// The gaps of an environment at an instant.
#[derive(SimpleObject)]
pub struct OwnershipGapReport {
    /// The environment.
    pub environment: Environment,
    /// The instant the matrix was read at.
    pub at: DateTimeUtc,
    /// The instant the matrix was read as recorded; null for the current record.
    pub as_of: Option<DateTimeUtc>,
    /// Observed changes from this instant up to `at` were checked.
    pub changes_since: DateTimeUtc,
    /// How close (in hours) a manual or API entry had to be to document an observed change.
    pub change_window_hours: i32,
    /// Every gap, most severe first.
    pub gaps: Vec<OwnershipGap>,
}

#[Object]
impl GapsQuery {
    /// What the matrix, runbooks and change log of an environment leave uncovered at `at` (now
    /// when omitted): required functions without an agreed owner, agreed entries expiring within
    /// 30 days without a successor, systems no entry covers, entries without an accountable team
    /// or escalation path, owned functions without a runbook, runbooks past review, and changes an
    /// integration saw that nobody documented. Null when the environment is not visible.
    async fn ownership_gaps(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The environment.")] environment_id: ID,
        #[graphql(desc = "The instant; now when omitted.")] at: Option<DateTimeUtc>,
        #[graphql(
            desc = "How close in time (hours, 1 to 720) a manual or API entry for the same system must be to document a change an integration saw.",
            default = 24
        )]
        change_window_hours: i32,
        #[graphql(
            desc = "Check observed changes from this instant on; 30 days before `at` when omitted, at most 366 days before."
        )]
        changes_since: Option<DateTimeUtc>,
        #[graphql(
            desc = "Read the matrix as it was recorded at this instant; the current record when omitted. Not later than now."
        )]
        as_of: Option<DateTimeUtc>,
    ) -> Result<Option<OwnershipGapReport>> {
        ownership_gaps(
            ctx,
            &environment_id,
            at,
            change_window_hours,
            changes_since,
            as_of,
        )
        .await
        .extend()
    }
}

async fn ownership_gaps(
    ctx: &Context<'_>,
    environment_id: &ID,
    at: Option<DateTimeUtc>,
    change_window_hours: i32,
    changes_since: Option<DateTimeUtc>,
    as_of: Option<DateTimeUtc>,
) -> ApiResult<Option<OwnershipGapReport>> {
    let as_of = crate::graphql::query::matrix::clock(ctx, at, as_of)?.as_of;
    if !(1..=MAX_WINDOW_HOURS).contains(&change_window_hours) {
        return Err(ApiError::bad_input(
            "changeWindowHours",
            format!("`changeWindowHours` is 1 to {MAX_WINDOW_HOURS}"),
        ));
    }
    let at = at.unwrap_or_else(Utc::now);
    let changes_since = changes_since.unwrap_or(at - Duration::days(DEFAULT_CHANGES_DAYS));
    if changes_since > at || at - changes_since > Duration::days(MAX_CHANGES_DAYS) {
        return Err(ApiError::bad_input(
            "changesSince",
            format!("`changesSince` is before `at`, by at most {MAX_CHANGES_DAYS} days"),
        ));
    }
    let Some(environment) = visible_environment(ctx, environment_id).await? else {
        return Ok(None);
    };
    let question = GapQuestion {
        at,
        as_of,
        change_window: Duration::hours(i64::from(change_window_hours)),
        changes_since,
    };
    let found = gaps::find(ctx.db()?, &environment, question).await?;
    Ok(Some(OwnershipGapReport {
        environment: Environment(environment),
        at,
        as_of,
        changes_since,
        change_window_hours,
        gaps: found.into_iter().map(OwnershipGap::from).collect(),
    }))
}
