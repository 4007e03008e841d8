//! `tickets` and `alerts`.

use async_graphql::{Context, ID, InputObject, Object, Result, ResultExt};
use entities::{alert, ticket};
use sea_orm::QueryFilter;
use sea_orm::prelude::*;
use sea_orm::sea_query::Expr;

use crate::error::ApiResult;
use crate::graphql::context::ContextExt;
use crate::graphql::order::order_by;
use crate::graphql::pagination::{Page, PageArgs, page_cost, paginate};
use crate::graphql::query::inventory::contains_text;
use crate::graphql::query::{Within, decode_ids};
use crate::graphql::scope::visible_environments;
use crate::graphql::types::enums::{AlertStatus, Priority, TicketStatus};
use crate::graphql::types::{Alert, Ticket};
use crate::ids::NodeType;

/// Tickets and alerts.
#[derive(Default)]
pub struct WorkQuery;

/// Narrows `tickets`. Conditions combine with AND; list values match any of their items.
#[derive(InputObject, Default)]
pub struct TicketFilter {
    /// Only tickets of these environments.
    pub environment_ids: Option<Vec<ID>>,
    /// Only tickets about these systems.
    pub system_ids: Option<Vec<ID>>,
    /// Only tickets in these statuses.
    pub statuses: Option<Vec<TicketStatus>>,
    /// Only tickets of these priorities.
    pub priorities: Option<Vec<Priority>>,
    /// Only tickets assigned to these teams.
    pub assigned_team_ids: Option<Vec<ID>>,
    /// Only tickets whose title contains this text (any case).
    pub text: Option<String>,
    /// Only tickets changed at or after this instant.
    pub updated_since: Option<DateTimeUtc>,
}

order_by! {
    /// How to sort tickets.
    TicketOrder,
    /// The fields tickets can be sorted by.
    TicketOrderField for ticket default UpdatedAt {
        /// By last change.
        UpdatedAt => UpdatedAt as Instant,
        /// By creation time.
        CreatedAt => CreatedAt as Instant,
    }
}

/// Narrows `alerts`. Conditions combine with AND; list values match any of their items.
#[derive(InputObject, Default)]
pub struct AlertFilter {
    /// Only alerts of these environments.
    pub environment_ids: Option<Vec<ID>>,
    /// Only alerts on these systems.
    pub system_ids: Option<Vec<ID>>,
    /// Only alerts in these statuses.
    pub statuses: Option<Vec<AlertStatus>>,
    /// Only alerts of these severities.
    pub severities: Option<Vec<Priority>>,
    /// Only alerts changed at or after this instant.
    pub updated_since: Option<DateTimeUtc>,
}

order_by! {
    /// How to sort alerts.
    AlertOrder,
    /// The fields alerts can be sorted by.
    AlertOrderField for alert default RaisedAt {
        /// By when the RMM raised it.
        RaisedAt => RaisedAt as Instant,
        /// By last change.
        UpdatedAt => UpdatedAt as Instant,
    }
}

#[Object]
impl WorkQuery {
    /// The tickets of the environments the caller may see. By last change, oldest first, by
    /// default, which suits incremental reads with `updatedSince`.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn tickets(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<TicketFilter>,
        #[graphql(desc = "Sort order; by last change, oldest first, when omitted.")]
        order_by: Option<TicketOrder>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Ticket>> {
        list_tickets(
            ctx,
            Within::default(),
            filter.unwrap_or_default(),
            order_by,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .await
        .extend()
    }

    /// The alerts of the environments the caller may see. Oldest first by default.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn alerts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<AlertFilter>,
        #[graphql(desc = "Sort order; by when raised, oldest first, when omitted.")]
        order_by: Option<AlertOrder>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Alert>> {
        list_alerts(
            ctx,
            Within::default(),
            filter.unwrap_or_default(),
            order_by,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .await
        .extend()
    }
}

/// Tickets, scoped to the viewer and `within`.
///
/// # Errors
/// Bad filter ids or paging arguments; database errors.
pub async fn list_tickets(
    ctx: &Context<'_>,
    within: Within,
    filter: TicketFilter,
    order_by: Option<TicketOrder>,
    page: PageArgs,
) -> ApiResult<Page<Ticket>> {
    let viewer = ctx.viewer()?;
    let mut select = ticket::Entity::find().filter(
        ticket::COLUMN
            .environment_id
            .in_subquery(visible_environments(viewer)),
    );
    if let Some(environment) = within.environment {
        select = select.filter(ticket::COLUMN.environment_id.eq(environment));
    }
    if let Some(system) = within.system {
        select = select.filter(ticket::COLUMN.system_id.eq(system));
    }
    if let Some(environments) = decode_ids(
        "filter.environmentIds",
        NodeType::Environment,
        filter.environment_ids.as_ref(),
    )? {
        select = select.filter(ticket::COLUMN.environment_id.is_in(environments));
    }
    if let Some(systems) = decode_ids(
        "filter.systemIds",
        NodeType::System,
        filter.system_ids.as_ref(),
    )? {
        select = select.filter(ticket::COLUMN.system_id.is_in(systems));
    }
    if let Some(statuses) = filter.statuses {
        let statuses: Vec<entities::enums::TicketStatus> =
            statuses.into_iter().map(Into::into).collect();
        select = select.filter(ticket::COLUMN.status.is_in(statuses));
    }
    if let Some(priorities) = filter.priorities {
        let priorities: Vec<entities::enums::Priority> =
            priorities.into_iter().map(Into::into).collect();
        select = select.filter(ticket::COLUMN.priority.is_in(priorities));
    }
    if let Some(teams) = decode_ids(
        "filter.assignedTeamIds",
        NodeType::Team,
        filter.assigned_team_ids.as_ref(),
    )? {
        select = select.filter(ticket::COLUMN.assigned_team_id.is_in(teams));
    }
    if let Some(text) = crate::graphql::query::inventory::filter_text(filter.text.as_deref())? {
        select = select.filter(contains_text(Expr::col(ticket::Column::Title), text));
    }
    if let Some(since) = filter.updated_since {
        select = select.filter(ticket::COLUMN.updated_at.gte(since));
    }
    paginate(ctx, select, TicketOrder::ordering(order_by), page, Ticket).await
}

/// Alerts, scoped to the viewer and `within`.
///
/// # Errors
/// Bad filter ids or paging arguments; database errors.
pub async fn list_alerts(
    ctx: &Context<'_>,
    within: Within,
    filter: AlertFilter,
    order_by: Option<AlertOrder>,
    page: PageArgs,
) -> ApiResult<Page<Alert>> {
    let viewer = ctx.viewer()?;
    let mut select = alert::Entity::find().filter(
        alert::COLUMN
            .environment_id
            .in_subquery(visible_environments(viewer)),
    );
    if let Some(environment) = within.environment {
        select = select.filter(alert::COLUMN.environment_id.eq(environment));
    }
    if let Some(system) = within.system {
        select = select.filter(alert::COLUMN.system_id.eq(system));
    }
    if let Some(environments) = decode_ids(
        "filter.environmentIds",
        NodeType::Environment,
        filter.environment_ids.as_ref(),
    )? {
        select = select.filter(alert::COLUMN.environment_id.is_in(environments));
    }
    if let Some(systems) = decode_ids(
        "filter.systemIds",
        NodeType::System,
        filter.system_ids.as_ref(),
    )? {
        select = select.filter(alert::COLUMN.system_id.is_in(systems));
    }
    if let Some(statuses) = filter.statuses {
        let statuses: Vec<entities::enums::AlertStatus> =
            statuses.into_iter().map(Into::into).collect();
        select = select.filter(alert::COLUMN.status.is_in(statuses));
    }
    if let Some(severities) = filter.severities {
        let severities: Vec<entities::enums::Priority> =
            severities.into_iter().map(Into::into).collect();
        select = select.filter(alert::COLUMN.severity.is_in(severities));
    }
    if let Some(since) = filter.updated_since {
        select = select.filter(alert::COLUMN.updated_at.gte(since));
    }
    paginate(ctx, select, AlertOrder::ordering(order_by), page, Alert).await
}
