//! `responsibilityMatrix` and `whoOwns`: the matrix in force at any instant, past or future, and
//! who owns one function (on one system) with the entry that decided it.

use async_graphql::{Context, Enum, ID, Object, Result, ResultExt, SimpleObject};
use chrono::Utc;
use entities::system;
use sea_orm::prelude::*;

use crate::error::{ApiError, ApiResult};
use crate::gaps::GapSubject;
use crate::graphql::context::ContextExt;
use crate::graphql::query::gaps::OwnershipGap;
use crate::graphql::types::{
    Engagement, Environment, Function, Integration, Node, Responsibility, System,
};
use crate::ids::{self, NodeType};
use crate::matrix::{self, Decision};
use crate::readiness::ReadinessKind;

/// The responsibility matrix.
#[derive(Default)]
pub struct MatrixQuery;

/// The matrix of an environment in force at an instant.
#[derive(SimpleObject)]
pub struct ResponsibilityMatrix {
    /// The environment.
    pub environment: Environment,
    /// The instant the matrix is in force at.
    pub at: DateTimeUtc,
    /// The instant the record is read as it stood; null for the current record.
    pub as_of: Option<DateTimeUtc>,
    /// One row per function: its default and its system-level overrides, by function key.
    pub rows: Vec<MatrixRow>,
}

/// One function's row of the matrix.
#[derive(SimpleObject)]
pub struct MatrixRow {
    /// The function.
    pub function: Function,
    /// The function-level entry in force; null when the function has no agreed owner.
    pub default: Option<Responsibility>,
    /// Entries for single systems, which override the default for those systems.
    pub overrides: Vec<Responsibility>,
}

/// Which kind of entry decided an ownership answer.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnershipDecision {
    /// An agreed entry for the very system asked about.
    SystemEntry,
    /// The agreed function-level default of the environment.
    FunctionDefault,
    /// No agreed entry is in force: nobody owns it (a gap).
    Unowned,
}

/// Who owns a function (on a system) at an instant, and which entry says so.
#[derive(SimpleObject)]
pub struct Ownership {
    /// The function asked about.
    pub function: Function,
    /// The system asked about, if any.
    pub system: Option<System>,
    /// The instant asked about.
    pub at: DateTimeUtc,
    /// The instant the record was read as it stood; null for the current record.
    pub as_of: Option<DateTimeUtc>,
    /// The entry that decided; null when unowned.
    pub responsibility: Option<Responsibility>,
    /// Why that entry decided.
    pub decided_by: OwnershipDecision,
}

/// One thing still missing before a transition.
#[derive(SimpleObject)]
pub struct ReadinessItem {
    /// What is missing.
    pub kind: ReadinessKind,
    /// What is missing, for people, with what to do.
    pub message: String,
    /// Function keys, and global ids of the other subjects.
    #[graphql(deprecation = "Mixes function keys and global ids; use `nodes`.")]
    pub subjects: Vec<String>,
    /// What the item is about: functions, matrix entries, systems, integrations (only those the
    /// caller may see), runbooks or change log entries.
    pub nodes: Vec<Node>,
}

/// What an environment still lacks at an instant before both teams can work it side by side.
#[derive(SimpleObject)]
pub struct TransitionReadiness {
    /// The environment.
    pub environment: Environment,
    /// The instant judged: the planned transition's first instant unless another was asked for.
    pub at: DateTimeUtc,
    /// The engagement that starts at `at`, when `at` is a planned transition's first day.
    pub transition: Option<Engagement>,
    /// Whether nothing is missing. Never true while `ownershipGaps` at `at` has a HIGH gap.
    pub ready: bool,
    /// What is missing, most urgent first.
    pub items: Vec<ReadinessItem>,
    /// The HIGH gaps of the gap report at `at`, each also an item of kind `HIGH_GAP`.
    pub high_gaps: Vec<OwnershipGap>,
}

#[Object]
impl MatrixQuery {
    /// What an environment still lacks before both teams can work it side by side, judged at
    /// `at`: by default the first instant of the client's next planned transition (midnight UTC
    /// of the day its next engagement starts), or now when none is planned. Lists every HIGH
    /// ownership gap of that instant, matrix entries covering it that are not agreed, owned
    /// functions without a runbook, an empty inventory, no mapped PSA, mapped integrations that
    /// do not work (disabled, no credentials, no successful sync in the last 7 days), and agreed
    /// entries without an escalation path. Null when the environment is not visible.
    async fn transition_readiness(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The environment.")] environment_id: ID,
        #[graphql(
            desc = "The instant to judge; the next planned transition's first instant, else now, when omitted."
        )]
        at: Option<DateTimeUtc>,
    ) -> Result<Option<TransitionReadiness>> {
        transition_readiness(ctx, &environment_id, at)
            .await
            .extend()
    }

    /// The responsibility matrix of an environment in force at `at` (now when omitted): only
    /// agreed entries whose validity covers the instant. Time travel works both ways: a past date
    /// shows what was agreed then, a future one what is planned. With `asOf`, the matrix as the
    /// record stood at that instant (entries agreed later are left out, retirements and
    /// successors recorded later are undone), so a question about the past has one answer
    /// forever; the entries show their status and validity as of then.
    async fn responsibility_matrix(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The environment.")] environment_id: ID,
        #[graphql(desc = "The instant the matrix is in force at; now when omitted.")] at: Option<
            DateTimeUtc,
        >,
        #[graphql(
            desc = "The instant the record is read as it stood; the current record when omitted. Not later than now."
        )]
        as_of: Option<DateTimeUtc>,
    ) -> Result<Option<ResponsibilityMatrix>> {
        responsibility_matrix(ctx, &environment_id, at, as_of)
            .await
            .extend()
    }

    /// Who owns `function` (a function key such as `patching`) in an environment, on `systemId`
    /// when given, at `at` (now when omitted), as the record stood at `asOf` (the current record
    /// when omitted): a system's own entry overrides the function-level default, and the answer
    /// names the entry that decided. Null when the environment or system is not visible.
    async fn who_owns(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The environment.")] environment_id: ID,
        #[graphql(desc = "The function's key, such as `patching`.")] function: String,
        #[graphql(desc = "A system of the environment, to consider its own entries.")]
        system_id: Option<ID>,
        #[graphql(desc = "The instant the matrix is in force at; now when omitted.")] at: Option<
            DateTimeUtc,
        >,
        #[graphql(
            desc = "The instant the record is read as it stood; the current record when omitted. Not later than now."
        )]
        as_of: Option<DateTimeUtc>,
    ) -> Result<Option<Ownership>> {
        who_owns(
            ctx,
            &environment_id,
            &function,
            system_id.as_ref(),
            at,
            as_of,
        )
        .await
        .extend()
    }
}

pub(crate) async fn visible_environment(
    ctx: &Context<'_>,
    id: &ID,
) -> ApiResult<Option<entities::environment::Model>> {
    let viewer = ctx.viewer()?;
    let uuid = ids::decode_as("environmentId", NodeType::Environment, id)?;
    // One load, checked here: the loaders batch but do not cache, so asking
    // `can_see_environment` first would read the row twice.
    Ok(
        crate::graphql::loaders::load_by_id::<entities::environment::Entity>(ctx, uuid)
            .await?
            .filter(|environment| viewer.can_see_organization(environment.organization_id)),
    )
}

/// The clock of a read: `at` (now when omitted) and a checked `as_of`.
///
/// # Errors
/// `BAD_USER_INPUT` for an `asOf` in the future.
pub(crate) fn clock(
    ctx: &Context<'_>,
    at: Option<DateTimeUtc>,
    as_of: Option<DateTimeUtc>,
) -> ApiResult<matrix::Clock> {
    let now = ctx.now();
    let as_of =
        matrix::check_as_of(as_of, now).map_err(|message| ApiError::bad_input("asOf", message))?;
    Ok(matrix::Clock {
        at: at.unwrap_or(now),
        as_of,
    })
}

async fn responsibility_matrix(
    ctx: &Context<'_>,
    environment_id: &ID,
    at: Option<DateTimeUtc>,
    as_of: Option<DateTimeUtc>,
) -> ApiResult<Option<ResponsibilityMatrix>> {
    let clock = clock(ctx, at, as_of)?;
    let Some(environment) = visible_environment(ctx, environment_id).await? else {
        return Ok(None);
    };
    let db = ctx.db()?;
    let at = clock.at;
    let entries = matrix::in_force_as_of(db, [environment.id], clock, None).await?;
    let rows = matrix::functions_for(db, environment.organization_id)
        .await?
        .into_iter()
        .map(|function| {
            let default = matrix::decide(&entries, environment.id, function.id, None)
                .map(|(entry, _)| Responsibility(entry.clone()));
            let overrides = entries
                .iter()
                .filter(|entry| entry.function_id == function.id && entry.system_id.is_some())
                .cloned()
                .map(Responsibility)
                .collect();
            MatrixRow {
                function: Function(function),
                default,
                overrides,
            }
        })
        .collect();
    Ok(Some(ResponsibilityMatrix {
        environment: Environment(environment),
        at,
        as_of: clock.as_of,
        rows,
    }))
}

async fn who_owns(
    ctx: &Context<'_>,
    environment_id: &ID,
    function_key: &str,
    system_id: Option<&ID>,
    at: Option<DateTimeUtc>,
    as_of: Option<DateTimeUtc>,
) -> ApiResult<Option<Ownership>> {
    let clock = clock(ctx, at, as_of)?;
    let Some(environment) = visible_environment(ctx, environment_id).await? else {
        return Ok(None);
    };
    let db = ctx.db()?;
    let at = clock.at;
    let function = matrix::functions_for(db, environment.organization_id)
        .await?
        .into_iter()
        .find(|function| function.key == function_key)
        .ok_or_else(|| {
            ApiError::bad_input(
                "function",
                format!("no function with the key `{function_key}`"),
            )
        })?;
    let system = match system_id {
        Some(id) => {
            let uuid = ids::decode_as("systemId", NodeType::System, id)?;
            match system::Entity::find_by_id(uuid)
                .one(db)
                .await?
                .filter(|found| found.environment_id == environment.id)
            {
                Some(found) => Some(found),
                None => return Ok(None),
            }
        }
        None => None,
    };
    let entries = matrix::in_force_as_of(
        db,
        [environment.id],
        clock,
        Some(system.iter().map(|found| found.id).collect()),
    )
    .await?;
    let decided = matrix::decide(
        &entries,
        environment.id,
        function.id,
        system.as_ref().map(|found| found.id),
    );
    let (responsibility, decided_by) = match decided {
        Some((entry, Decision::SystemEntry)) => (
            Some(Responsibility(entry.clone())),
            OwnershipDecision::SystemEntry,
        ),
        Some((entry, Decision::FunctionDefault)) => (
            Some(Responsibility(entry.clone())),
            OwnershipDecision::FunctionDefault,
        ),
        None => (None, OwnershipDecision::Unowned),
    };
    Ok(Some(Ownership {
        function: Function(function),
        system: system.map(System),
        at,
        as_of: clock.as_of,
        responsibility,
        decided_by,
    }))
}

async fn transition_readiness(
    ctx: &Context<'_>,
    environment_id: &ID,
    at: Option<DateTimeUtc>,
) -> ApiResult<Option<TransitionReadiness>> {
    use crate::readiness::{self, ReadinessSubject};

    let Some(environment) = visible_environment(ctx, environment_id).await? else {
        return Ok(None);
    };
    let db = ctx.db()?;
    let viewer = ctx.viewer()?;
    let now = Utc::now();
    let at = match at {
        Some(at) => at,
        None => readiness::next_transition(db, &environment, now)
            .await?
            .map_or(now, |(at, _)| at),
    };
    let found = readiness::assess(db, &environment, at, now).await?;
    let ready = found.ready();
    let items = found
        .items
        .into_iter()
        .map(|item| {
            let mut subjects = Vec::new();
            let mut nodes = Vec::new();
            for subject in item.subjects {
                let node = match subject {
                    ReadinessSubject::Function(found) => {
                        subjects.push(found.key.clone());
                        Node::Function(Function(found))
                    }
                    ReadinessSubject::Responsibility(found) => {
                        subjects.push(ids::encode(NodeType::Responsibility, found.id).0);
                        Node::Responsibility(Responsibility(found))
                    }
                    ReadinessSubject::Integration(found) => {
                        // Whoever may not see the integration learns that it is unhealthy, not
                        // the integration.
                        if !crate::services::scope::sees_integration_feeding(
                            viewer,
                            &environment,
                            &found,
                        ) {
                            continue;
                        }
                        subjects.push(ids::encode(NodeType::Integration, found.id).0);
                        Node::Integration(Integration(found))
                    }
                    ReadinessSubject::Gap(found) => {
                        subjects.push(match &found {
                            GapSubject::Function(function) => function.key.clone(),
                            GapSubject::System(system) => {
                                ids::encode(NodeType::System, system.id).0
                            }
                            GapSubject::Responsibility(entry) => {
                                ids::encode(NodeType::Responsibility, entry.id).0
                            }
                            GapSubject::Runbook(runbook) => {
                                ids::encode(NodeType::Runbook, runbook.id).0
                            }
                            GapSubject::Change(change) => {
                                ids::encode(NodeType::ChangeLogEntry, change.id).0
                            }
                            GapSubject::Obligation(obligation) => {
                                ids::encode(NodeType::ComplianceObligation, obligation.id).0
                            }
                            GapSubject::Evidence(evidence) => {
                                ids::encode(NodeType::EvidenceRecord, evidence.id).0
                            }
                        });
                        OwnershipGap::subject_node(found)
                    }
                };
                nodes.push(node);
            }
            ReadinessItem {
                kind: item.kind,
                message: item.message,
                subjects,
                nodes,
            }
        })
        .collect();
    Ok(Some(TransitionReadiness {
        environment: Environment(environment),
        at,
        transition: found.transition.map(Engagement),
        ready,
        items,
        high_gaps: found
            .high_gaps
            .into_iter()
            .map(OwnershipGap::from)
            .collect(),
    }))
}
