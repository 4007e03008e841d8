//! Tenancy as SQL: the filters that keep every list inside the viewer's organizations.
//!
//! Root lists filter by these subqueries, so one round trip returns only visible rows, and
//! `totalCount` counts only what the caller may see.

use async_graphql::Context;
use entities::environment;
use sea_orm::prelude::*;
use sea_orm::sea_query::{Query, SelectStatement};

use crate::auth::Viewer;
use crate::error::ApiResult;
use crate::graphql::loaders::load_by_id;

/// `SELECT id FROM environments WHERE organization_id IN (<visible organizations>)`.
pub fn visible_environments(viewer: &Viewer) -> SelectStatement {
    Query::select()
        .column(environment::Column::Id)
        .from(environment::Entity)
        .and_where(
            environment::Column::OrganizationId
                .is_in(viewer.visible_organization_ids().iter().copied()),
        )
        .to_owned()
}

/// Whether the viewer may see environment `id` (and so what is inside it).
///
/// # Errors
/// Database errors.
pub async fn can_see_environment(ctx: &Context<'_>, viewer: &Viewer, id: Uuid) -> ApiResult<bool> {
    Ok(load_by_id::<environment::Entity>(ctx, id)
        .await?
        .is_some_and(|environment| viewer.can_see_organization(environment.organization_id)))
}
