//! `responsibilityMatrix` and `whoOwns`: the matrix in force at any instant, past or future, and
//! who owns one function (on one system) with the entry that decided it.

use async_graphql::{Context, Enum, ID, Object, Result, ResultExt, SimpleObject};
use chrono::Utc;
use entities::system;
use sea_orm::PaginatorTrait;
use sea_orm::prelude::*;

use crate::error::{ApiError, ApiResult};
use crate::graphql::context::ContextExt;
use crate::graphql::scope::can_see_environment;
use crate::graphql::types::{Environment, Function, Responsibility, System};
use crate::ids::{self, NodeType};
use crate::matrix::{self, Decision};

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

/// What may keep an environment from being worked side by side.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadinessKind {
    /// Matrix entries are still drafts or proposals.
    UnagreedEntries,
    /// Functions with an agreed owner have no runbook.
    FunctionWithoutRunbook,
    /// The environment has no systems.
    EmptyInventory,
    /// No PSA integration is mapped to the environment, so the two teams share no tickets.
    NoTicketingIntegration,
    /// Agreed entries name nobody to escalate to.
    NoEscalationPath,
}

/// One thing still missing before a transition.
#[derive(SimpleObject)]
pub struct ReadinessItem {
    /// What is missing.
    pub kind: ReadinessKind,
    /// What is missing, for people, with what to do.
    pub message: String,
    /// The function keys, system or entry ids concerned, when the item has any.
    pub subjects: Vec<String>,
}

/// What an environment still lacks before both teams can work it side by side.
#[derive(SimpleObject)]
pub struct TransitionReadiness {
    /// The environment.
    pub environment: Environment,
    /// Whether nothing is missing.
    pub ready: bool,
    /// What is missing.
    pub items: Vec<ReadinessItem>,
}

#[Object]
impl MatrixQuery {
    /// What an environment still lacks before a transition: unagreed matrix entries, owned
    /// functions without a runbook, an empty inventory, no shared ticketing integration, agreed
    /// entries without an escalation path. Null when the environment is not visible.
    async fn transition_readiness(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The environment.")] environment_id: ID,
    ) -> Result<Option<TransitionReadiness>> {
        transition_readiness(ctx, &environment_id).await.extend()
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
    if !can_see_environment(ctx, viewer, uuid).await? {
        return Ok(None);
    }
    crate::graphql::loaders::load_by_id::<entities::environment::Entity>(ctx, uuid).await
}

/// The clock of a read: `at` (now when omitted) and a checked `as_of`.
///
/// # Errors
/// `BAD_USER_INPUT` for an `asOf` in the future.
pub(crate) fn clock(
    at: Option<DateTimeUtc>,
    as_of: Option<DateTimeUtc>,
) -> ApiResult<matrix::Clock> {
    let now = Utc::now();
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
    let clock = clock(at, as_of)?;
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
    let clock = clock(at, as_of)?;
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
) -> ApiResult<Option<TransitionReadiness>> {
    use entities::enums::{IntegrationKind, ResponsibilityStatus};
    use entities::{integration, integration_mapping, responsibility};
    use sea_orm::QueryFilter;

    let Some(environment) = visible_environment(ctx, environment_id).await? else {
        return Ok(None);
    };
    let db = ctx.db()?;
    let mut items = Vec::new();

    let unagreed = responsibility::Entity::find()
        .filter(responsibility::COLUMN.environment_id.eq(environment.id))
        .filter(
            responsibility::COLUMN
                .status
                .is_in([ResponsibilityStatus::Draft, ResponsibilityStatus::Proposed]),
        )
        .all(db)
        .await?;
    if !unagreed.is_empty() {
        items.push(ReadinessItem {
            kind: ReadinessKind::UnagreedEntries,
            message: format!(
                "{} matrix entries are not agreed yet; propose them and have each side approve",
                unagreed.len()
            ),
            subjects: unagreed
                .iter()
                .map(|entry| ids::encode(NodeType::Responsibility, entry.id).0)
                .collect(),
        });
    }

    let in_force = matrix::in_force(db, [environment.id], Utc::now(), None).await?;
    let functions = matrix::functions_for(db, environment.organization_id).await?;
    let (_, covered) = crate::gaps::live_runbooks(db, environment.id, Utc::now()).await?;
    let without_runbook: Vec<String> = functions
        .iter()
        .filter(|function| {
            in_force
                .iter()
                .any(|entry| entry.function_id == function.id)
                && !covered.contains(&function.id)
        })
        .map(|function| function.key.clone())
        .collect();
    if !without_runbook.is_empty() {
        items.push(ReadinessItem {
            kind: ReadinessKind::FunctionWithoutRunbook,
            message: format!(
                "{} owned functions have no runbook; write one per function",
                without_runbook.len()
            ),
            subjects: without_runbook,
        });
    }

    let systems = system::Entity::find()
        .filter(system::COLUMN.environment_id.eq(environment.id))
        .filter(system::COLUMN.retired_at.is_null())
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
    let ticketing = integration::Entity::find()
        .filter(integration::COLUMN.id.is_in(mapped))
        .filter(integration::COLUMN.kind.is_in([
            IntegrationKind::ConnectwiseManage,
            IntegrationKind::Autotask,
            IntegrationKind::Halopsa,
        ]))
        .count(db)
        .await?;
    if ticketing == 0 {
        items.push(ReadinessItem {
            kind: ReadinessKind::NoTicketingIntegration,
            message: "no PSA integration is mapped to the environment; map the client's company so both teams share tickets".to_owned(),
            subjects: Vec::new(),
        });
    }

    let with_steps =
        crate::gaps::with_escalation_path(db, in_force.iter().map(|entry| entry.id)).await?;
    let without_path: Vec<String> = in_force
        .iter()
        .filter(|entry| !with_steps.contains(&entry.id))
        .map(|entry| ids::encode(NodeType::Responsibility, entry.id).0)
        .collect();
    if !without_path.is_empty() {
        items.push(ReadinessItem {
            kind: ReadinessKind::NoEscalationPath,
            message: format!(
                "{} agreed entries name nobody to escalate to; add an escalation path",
                without_path.len()
            ),
            subjects: without_path,
        });
    }

    Ok(Some(TransitionReadiness {
        environment: Environment(environment),
        ready: items.is_empty(),
        items,
    }))
}
