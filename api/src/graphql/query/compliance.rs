//! `obligations` (the catalog) and `complianceObligations` (where each obligation of an
//! environment stands at an instant; see [`crate::compliance`]).

use async_graphql::{Context, ID, Object, Result, ResultExt, SimpleObject};
use chrono::Utc;
use sea_orm::prelude::DateTimeUtc;

use crate::compliance;
use crate::error::ApiResult;
use crate::graphql::context::ContextExt;
use crate::graphql::query::matrix::visible_environment;
use crate::graphql::types::Environment;
use crate::graphql::types::compliance::{ComplianceObligation, ObligationState};
use crate::graphql::types::enums::ComplianceFramework;

/// Compliance obligations and evidence.
#[derive(Default)]
pub struct ComplianceQuery;

/// The obligations of an environment at an instant.
#[derive(SimpleObject)]
pub struct ComplianceReport {
    /// The environment.
    pub environment: Environment,
    /// The instant the report is for.
    pub at: DateTimeUtc,
    /// One entry per obligation of the environment's frameworks, by framework and key.
    pub obligations: Vec<ObligationState>,
}

#[Object]
impl ComplianceQuery {
    /// The catalog of compliance obligations, of one framework when given: what each framework
    /// asks for, how often, and which function's owner produces it.
    async fn obligations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this framework's obligations.")] framework: Option<
            ComplianceFramework,
        >,
    ) -> Result<Vec<ComplianceObligation>> {
        let found = compliance::catalog(ctx.db().extend()?, framework.map(Into::into))
            .await
            .map_err(crate::error::ApiError::from)
            .extend()?;
        Ok(found.into_iter().map(ComplianceObligation).collect())
    }

    /// Where each compliance obligation of an environment's frameworks stands at `at` (now when
    /// omitted): the next period that needs evidence, its due date, the status, the owner from
    /// the matrix in force, the evidence recorded and evidence derived from operational data.
    /// Null when the environment is not visible.
    async fn compliance_obligations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The environment.")] environment_id: ID,
        #[graphql(desc = "The instant; now when omitted.")] at: Option<DateTimeUtc>,
    ) -> Result<Option<ComplianceReport>> {
        compliance_obligations(ctx, &environment_id, at)
            .await
            .extend()
    }
}

async fn compliance_obligations(
    ctx: &Context<'_>,
    environment_id: &ID,
    at: Option<DateTimeUtc>,
) -> ApiResult<Option<ComplianceReport>> {
    let Some(environment) = visible_environment(ctx, environment_id).await? else {
        return Ok(None);
    };
    let at = at.unwrap_or_else(Utc::now);
    let states = compliance::obligations(ctx.db()?, &environment, at, None).await?;
    Ok(Some(ComplianceReport {
        environment: Environment(environment),
        at,
        obligations: states.into_iter().map(ObligationState).collect(),
    }))
}
