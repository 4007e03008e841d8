//! `slaReport`: how the routed tickets and alerts of a period did against their SLA targets,
//! per team and side (see [`crate::sla::report`]).

use async_graphql::{Context, Enum, ID, Object, Result, ResultExt, SimpleObject};
use chrono::{Duration, Utc};
use entities::environment;
use sea_orm::prelude::DateTimeUtc;
use sea_orm::{EntityTrait, QueryFilter};

use crate::error::{ApiError, ApiResult};
use crate::graphql::context::ContextExt;
use crate::graphql::query::matrix::visible_environment;
use crate::graphql::types::Team;

/// The SLA report.
#[derive(Default)]
pub struct SlaQuery;

/// Which side a team works for.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaSide {
    /// A team of the managed service provider.
    Msp,
    /// A team of the client's own IT.
    InternalIt,
}

/// One team's routed items of the period.
#[derive(SimpleObject)]
pub struct SlaReportRow {
    /// The team the items were routed to.
    pub team: Team,
    /// The side it works for, from its organization's kind.
    pub side: SlaSide,
    /// Tickets and alerts routed to it with an SLA target.
    pub items: u64,
    /// Responded to (tickets) or acknowledged (alerts) by the response due time.
    pub response_met: u64,
    /// Responded to late, or still unanswered past the due time.
    pub response_breached: u64,
    /// Resolved by the resolution due time (items with a resolution target).
    pub resolution_met: u64,
    /// Resolved late, or still open past the due time.
    pub resolution_breached: u64,
}

#[Object]
impl SlaQuery {
    /// Per team, how the tickets and alerts created (raised) in `[from, to)` and routed with an
    /// SLA target did: response and resolution met or breached, judged now for what is still
    /// open (an item open before its due time counts in neither). One environment, or every
    /// environment the caller may see when `environmentId` is omitted; empty for an
    /// environment the caller may not see. The period is at most 366 days.
    async fn sla_report(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The environment; every visible one when omitted.")]
        environment_id: Option<ID>,
        #[graphql(desc = "Start of the period (inclusive).")] from: DateTimeUtc,
        #[graphql(desc = "End of the period (exclusive).")] to: DateTimeUtc,
    ) -> Result<Vec<SlaReportRow>> {
        sla_report(ctx, environment_id.as_ref(), from, to)
            .await
            .extend()
    }
}

async fn sla_report(
    ctx: &Context<'_>,
    environment_id: Option<&ID>,
    from: DateTimeUtc,
    to: DateTimeUtc,
) -> ApiResult<Vec<SlaReportRow>> {
    if to <= from || to - from > Duration::days(crate::sla::MAX_REPORT_DAYS) {
        return Err(ApiError::bad_input(
            "to",
            format!(
                "`to` is after `from`, by at most {} days",
                crate::sla::MAX_REPORT_DAYS
            ),
        ));
    }
    let db = ctx.db()?;
    let environment_ids: Vec<uuid::Uuid> = match environment_id {
        Some(id) => visible_environment(ctx, id)
            .await?
            .map(|found| found.id)
            .into_iter()
            .collect(),
        None => environment::Entity::find()
            .filter(
                environment::COLUMN
                    .organization_id
                    .is_in(ctx.viewer()?.visible_organization_ids().iter().copied()),
            )
            .all(db)
            .await?
            .into_iter()
            .map(|found| found.id)
            .collect(),
    };
    if environment_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = crate::sla::report(db, &environment_ids, from, to, Utc::now()).await?;
    Ok(rows
        .into_iter()
        .map(|row| SlaReportRow {
            side: match row.side {
                entities::enums::OrganizationKind::Provider => SlaSide::Msp,
                entities::enums::OrganizationKind::Client => SlaSide::InternalIt,
            },
            team: Team(row.team),
            items: row.items,
            response_met: row.response_met,
            response_breached: row.response_breached,
            resolution_met: row.resolution_met,
            resolution_breached: row.resolution_breached,
        })
        .collect())
}
