//! `integrations` and `syncRuns`.

use async_graphql::{Context, ID, InputObject, Object, Result, ResultExt};
use entities::{integration, sync_run};
use sea_orm::QueryFilter;
use sea_orm::prelude::*;

use crate::error::ApiResult;
use crate::graphql::context::ContextExt;
use crate::graphql::order::order_by;
use crate::graphql::pagination::{Page, PageArgs, page_cost, paginate};
use crate::graphql::query::{Within, decode_ids};
use crate::graphql::scope::visible_integrations;
use crate::graphql::types::enums::{IntegrationKind, SyncStatus};
use crate::graphql::types::{Integration, SyncRun};
use crate::ids::NodeType;

/// Integrations and their sync runs.
#[derive(Default)]
pub struct IntegrationQuery;

/// Narrows `integrations`.
#[derive(InputObject, Default)]
pub struct IntegrationFilter {
    /// Only integrations with these vendor products.
    pub kinds: Option<Vec<IntegrationKind>>,
    /// Only integrations changed at or after this instant.
    pub updated_since: Option<DateTimeUtc>,
    /// Also deleted integrations (kept with their history): by default only with
    /// `updatedSince`, so that a job polling for changes sees deletions too.
    pub include_deleted: Option<bool>,
}

order_by! {
    /// How to sort integrations.
    IntegrationOrder,
    /// The fields integrations can be sorted by.
    IntegrationOrderField for integration default Name {
        /// By name.
        Name => Name as Text,
        /// By creation time.
        CreatedAt => CreatedAt as Instant,
        /// By last change.
        UpdatedAt => UpdatedAt as Instant,
    }
}

/// Narrows `syncRuns`.
#[derive(InputObject, Default)]
pub struct SyncRunFilter {
    /// Only runs of these integrations.
    pub integration_ids: Option<Vec<ID>>,
    /// Only runs that ended so (or are running).
    pub statuses: Option<Vec<SyncStatus>>,
    /// Only runs started at or after this instant.
    pub started_after: Option<DateTimeUtc>,
}

order_by! {
    /// How to sort sync runs.
    SyncRunOrder,
    /// The fields sync runs can be sorted by.
    SyncRunOrderField for sync_run default StartedAt {
        /// By start time.
        StartedAt => StartedAt as Instant,
    }
}

#[Object]
impl IntegrationQuery {
    /// The integrations the caller may see: those of the organizations it sees, and, read-only,
    /// its provider's integrations that feed its own environments. Credentials are never
    /// returned.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn integrations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<IntegrationFilter>,
        #[graphql(desc = "Sort order; by name when omitted.")] order_by: Option<IntegrationOrder>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Integration>> {
        let viewer = ctx.viewer().extend()?;
        let filter = filter.unwrap_or_default();
        let mut select = integration::Entity::find().filter(
            integration::COLUMN
                .id
                .in_subquery(visible_integrations(viewer)),
        );
        if let Some(kinds) = filter.kinds {
            let kinds: Vec<entities::enums::IntegrationKind> =
                kinds.into_iter().map(Into::into).collect();
            select = select.filter(integration::COLUMN.kind.is_in(kinds));
        }
        if let Some(since) = filter.updated_since {
            select = select.filter(integration::COLUMN.updated_at.gte(since));
        }
        if !filter
            .include_deleted
            .unwrap_or(filter.updated_since.is_some())
        {
            select = select.filter(integration::COLUMN.deleted_at.is_null());
        }
        let ordering = IntegrationOrder::ordering(order_by);
        paginate(
            ctx,
            select,
            ordering,
            PageArgs {
                first,
                after,
                last,
                before,
            },
            Integration,
        )
        .await
        .extend()
    }

    /// The sync runs of the integrations the caller may see (see `integrations`). Oldest first by
    /// default.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn sync_runs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<SyncRunFilter>,
        #[graphql(desc = "Sort order; by start, oldest first, when omitted.")] order_by: Option<
            SyncRunOrder,
        >,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<SyncRun>> {
        list_sync_runs(
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

/// Sync runs, scoped to the viewer and `within`.
///
/// # Errors
/// Bad filter ids or paging arguments; database errors.
pub async fn list_sync_runs(
    ctx: &Context<'_>,
    within: Within,
    filter: SyncRunFilter,
    order_by: Option<SyncRunOrder>,
    page: PageArgs,
) -> ApiResult<Page<SyncRun>> {
    let viewer = ctx.viewer()?;
    let mut select = sync_run::Entity::find().filter(
        sync_run::COLUMN
            .integration_id
            .in_subquery(visible_integrations(viewer)),
    );
    if let Some(integration) = within.integration {
        select = select.filter(sync_run::COLUMN.integration_id.eq(integration));
    }
    if let Some(integrations) = decode_ids(
        "filter.integrationIds",
        NodeType::Integration,
        filter.integration_ids.as_ref(),
    )? {
        select = select.filter(sync_run::COLUMN.integration_id.is_in(integrations));
    }
    if let Some(statuses) = filter.statuses {
        let statuses: Vec<entities::enums::SyncStatus> =
            statuses.into_iter().map(Into::into).collect();
        select = select.filter(sync_run::COLUMN.status.is_in(statuses));
    }
    if let Some(after) = filter.started_after {
        select = select.filter(sync_run::COLUMN.started_at.gte(after));
    }
    paginate(ctx, select, SyncRunOrder::ordering(order_by), page, SyncRun).await
}
