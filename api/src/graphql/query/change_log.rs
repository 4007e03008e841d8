//! `changeLog`: the query scripts and auditors live on.
//!
//! Ordered by occurrence (or recording) time, then id, and paged by keyset in both directions,
//! so a script can walk a time range page by page and never miss or repeat an entry while new
//! ones arrive.

use async_graphql::{Context, ID, InputObject, Object, Result, ResultExt};
use entities::{change_log_entry, change_log_entry_system};
use sea_orm::ExprTrait;
use sea_orm::prelude::*;
use sea_orm::sea_query::{Expr, Query as SqlQuery};
use sea_orm::{Condition, QueryFilter};

use crate::error::{ApiError, ApiResult};
use crate::graphql::context::ContextExt;
use crate::graphql::order::order_by;
use crate::graphql::pagination::{Page, PageArgs, page_cost, paginate};
use crate::graphql::query::inventory::contains_text;
use crate::graphql::query::{Within, decode_ids};
use crate::graphql::scope::visible_environments;
use crate::graphql::types::ChangeLogEntry;
use crate::graphql::types::enums::{ChangeCategory, ChangeSource};
use crate::ids::{self, NodeType};

/// The change log.
#[derive(Default)]
pub struct ChangeLogQuery;

/// Narrows `changeLog`. Conditions combine with AND; list values match any of their items.
#[derive(InputObject, Default, Clone)]
pub struct ChangeLogFilter {
    /// Only entries in these environments.
    pub environment_ids: Option<Vec<ID>>,
    /// Only entries concerning at least one of these systems.
    pub system_ids: Option<Vec<ID>>,
    /// Only changes that occurred at or after this instant.
    pub occurred_after: Option<DateTimeUtc>,
    /// Only changes that occurred before this instant (exclusive).
    pub occurred_before: Option<DateTimeUtc>,
    /// Only entries from these sources.
    pub sources: Option<Vec<ChangeSource>>,
    /// Only entries of these categories.
    pub categories: Option<Vec<ChangeCategory>>,
    /// Only changes made by these people.
    pub actor_ids: Option<Vec<ID>>,
    /// Only changes made under this ticket.
    pub ticket_id: Option<ID>,
    /// Only the entries of this change set (`ChangeLogEntry.changeSetId`): what one mutation
    /// or one sync page wrote.
    pub change_set_id: Option<ID>,
    /// Only entries whose summary or details contain this text (any case).
    pub text: Option<String>,
    /// Only entries recorded at or after this instant (entries never change once recorded).
    pub updated_since: Option<DateTimeUtc>,
}

order_by! {
    /// How to sort the change log.
    ChangeLogOrder,
    /// The instants the change log can be sorted by.
    ChangeLogOrderField for change_log_entry default OccurredAt {
        /// When the change happened.
        OccurredAt => OccurredAt as Instant,
        /// When Tandem recorded it.
        RecordedAt => RecordedAt as Instant,
    }
}

#[Object]
impl ChangeLogQuery {
    /// The change log of the environments the caller may see: who changed what, when and why.
    /// By occurrence, oldest first, by default; ties are broken by id.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn change_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<ChangeLogFilter>,
        #[graphql(desc = "Sort order; by occurrence, oldest first, when omitted.")]
        order_by: Option<ChangeLogOrder>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<ChangeLogEntry>> {
        list_changes(
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

/// The change log entries `filter` selects, scoped to `viewer` and `within`: the one query the
/// GraphQL list and the export share.
///
/// # Errors
/// [`ApiError::BadUserInput`] for bad ids or an empty time range.
pub fn select_changes(
    viewer: &crate::auth::Viewer,
    within: Within,
    filter: &ChangeLogFilter,
) -> ApiResult<Select<change_log_entry::Entity>> {
    let mut select = change_log_entry::Entity::find().filter(
        change_log_entry::COLUMN
            .environment_id
            .in_subquery(visible_environments(viewer)),
    );
    if let Some(environment) = within.environment {
        select = select.filter(change_log_entry::COLUMN.environment_id.eq(environment));
    }
    if let Some(ticket) = within.ticket {
        select = select.filter(change_log_entry::COLUMN.ticket_id.eq(ticket));
    }
    let mut systems = within.system.map(|system| vec![system]);
    if let Some(filtered) = decode_ids(
        "filter.systemIds",
        NodeType::System,
        filter.system_ids.as_ref(),
    )? {
        systems = Some(match systems {
            Some(pinned) => pinned
                .into_iter()
                .filter(|system| filtered.contains(system))
                .collect(),
            None => filtered,
        });
    }
    if let Some(systems) = systems {
        select = select.filter(
            change_log_entry::COLUMN.id.in_subquery(
                SqlQuery::select()
                    .column(change_log_entry_system::Column::ChangeLogEntryId)
                    .from(change_log_entry_system::Entity)
                    .and_where(change_log_entry_system::Column::SystemId.is_in(systems))
                    .to_owned(),
            ),
        );
    }
    if let Some(environments) = decode_ids(
        "filter.environmentIds",
        NodeType::Environment,
        filter.environment_ids.as_ref(),
    )? {
        select = select.filter(change_log_entry::COLUMN.environment_id.is_in(environments));
    }
    if let (Some(after), Some(before)) = (filter.occurred_after, filter.occurred_before)
        && after >= before
    {
        return Err(ApiError::bad_input(
            "filter.occurredBefore",
            "`occurredBefore` must be later than `occurredAfter`",
        ));
    }
    if let Some(after) = filter.occurred_after {
        select = select.filter(change_log_entry::COLUMN.occurred_at.gte(after));
    }
    if let Some(before) = filter.occurred_before {
        select = select.filter(change_log_entry::COLUMN.occurred_at.lt(before));
    }
    if let Some(sources) = &filter.sources {
        let sources: Vec<entities::enums::ChangeSource> =
            sources.iter().copied().map(Into::into).collect();
        select = select.filter(change_log_entry::COLUMN.source.is_in(sources));
    }
    if let Some(categories) = &filter.categories {
        let categories: Vec<entities::enums::ChangeCategory> =
            categories.iter().copied().map(Into::into).collect();
        select = select.filter(change_log_entry::COLUMN.category.is_in(categories));
    }
    if let Some(actors) = decode_ids(
        "filter.actorIds",
        NodeType::Person,
        filter.actor_ids.as_ref(),
    )? {
        select = select.filter(change_log_entry::COLUMN.actor_id.is_in(actors));
    }
    if let Some(ticket) = &filter.ticket_id {
        let ticket = ids::decode_as("filter.ticketId", NodeType::Ticket, ticket)?;
        select = select.filter(change_log_entry::COLUMN.ticket_id.eq(ticket));
    }
    if let Some(set) = &filter.change_set_id {
        let set = ids::decode_as("filter.changeSetId", NodeType::ChangeSet, set)?;
        select = select.filter(change_log_entry::COLUMN.change_set_id.eq(set));
    }
    if let Some(text) = crate::graphql::query::inventory::filter_text(filter.text.as_deref())? {
        select = select.filter(
            Condition::any()
                .add(contains_text(
                    Expr::col(change_log_entry::Column::Summary),
                    text,
                ))
                .add(contains_text(
                    Expr::col(change_log_entry::Column::Details).cast_as("TEXT"),
                    text,
                )),
        );
    }
    if let Some(since) = filter.updated_since {
        select = select.filter(change_log_entry::COLUMN.recorded_at.gte(since));
    }
    Ok(select)
}

/// One page of the change log.
///
/// # Errors
/// See [`select_changes`]; bad paging arguments; database errors.
pub async fn list_changes(
    ctx: &Context<'_>,
    within: Within,
    filter: ChangeLogFilter,
    order_by: Option<ChangeLogOrder>,
    page: PageArgs,
) -> ApiResult<Page<ChangeLogEntry>> {
    let select = select_changes(ctx.viewer()?, within, &filter)?;
    paginate(
        ctx,
        select,
        ChangeLogOrder::ordering(order_by),
        page,
        ChangeLogEntry,
    )
    .await
}
