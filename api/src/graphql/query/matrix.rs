//! `responsibilityMatrix` and `whoOwns`: the matrix in force at any instant, past or future, and
//! who owns one function (on one system) with the entry that decided it.

use async_graphql::{Context, Enum, ID, Object, Result, ResultExt, SimpleObject};
use chrono::Utc;
use entities::system;
use sea_orm::prelude::*;

use crate::error::{ApiError, ApiResult};
use crate::graphql::context::ContextExt;
use crate::graphql::ids::{self, NodeType};
use crate::graphql::scope::can_see_environment;
use crate::graphql::types::{Environment, Function, Responsibility, System};
use crate::matrix::{self, Decision};

/// The responsibility matrix.
#[derive(Default)]
pub struct MatrixQuery;

/// The matrix of an environment in force at an instant.
#[derive(SimpleObject)]
pub struct ResponsibilityMatrix {
    /// The environment.
    pub environment: Environment,
    /// The instant the matrix is read at.
    pub at: DateTimeUtc,
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
    /// The entry that decided; null when unowned.
    pub responsibility: Option<Responsibility>,
    /// Why that entry decided.
    pub decided_by: OwnershipDecision,
}

#[Object]
impl MatrixQuery {
    /// The responsibility matrix of an environment in force at `at` (now when omitted): only
    /// agreed entries whose validity covers the instant. Time travel works both ways: a past date
    /// shows what was agreed then, a future one what is planned.
    async fn responsibility_matrix(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The environment.")] environment_id: ID,
        #[graphql(desc = "The instant; now when omitted.")] at: Option<DateTimeUtc>,
    ) -> Result<Option<ResponsibilityMatrix>> {
        responsibility_matrix(ctx, &environment_id, at)
            .await
            .extend()
    }

    /// Who owns `function` (a function key such as `patching`) in an environment, on `systemId`
    /// when given, at `at` (now when omitted): a system's own entry overrides the function-level
    /// default, and the answer names the entry that decided. Null when the environment or system
    /// is not visible.
    async fn who_owns(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The environment.")] environment_id: ID,
        #[graphql(desc = "The function's key, such as `patching`.")] function: String,
        #[graphql(desc = "A system of the environment, to consider its own entries.")]
        system_id: Option<ID>,
        #[graphql(desc = "The instant; now when omitted.")] at: Option<DateTimeUtc>,
    ) -> Result<Option<Ownership>> {
        who_owns(ctx, &environment_id, &function, system_id.as_ref(), at)
            .await
            .extend()
    }
}

async fn visible_environment(
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

async fn responsibility_matrix(
    ctx: &Context<'_>,
    environment_id: &ID,
    at: Option<DateTimeUtc>,
) -> ApiResult<Option<ResponsibilityMatrix>> {
    let Some(environment) = visible_environment(ctx, environment_id).await? else {
        return Ok(None);
    };
    let db = ctx.db()?;
    let at = at.unwrap_or_else(Utc::now);
    let entries = matrix::in_force(db, [environment.id], at, None).await?;
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
        rows,
    }))
}

async fn who_owns(
    ctx: &Context<'_>,
    environment_id: &ID,
    function_key: &str,
    system_id: Option<&ID>,
    at: Option<DateTimeUtc>,
) -> ApiResult<Option<Ownership>> {
    let Some(environment) = visible_environment(ctx, environment_id).await? else {
        return Ok(None);
    };
    let db = ctx.db()?;
    let at = at.unwrap_or_else(Utc::now);
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
    let entries = matrix::in_force(
        db,
        [environment.id],
        at,
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
        responsibility,
        decided_by,
    }))
}
