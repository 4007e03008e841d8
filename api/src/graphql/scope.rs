//! Tenancy as SQL: the filters that keep every list inside the viewer's organizations.
//!
//! Root lists filter by these subqueries, so one round trip returns only visible rows, and
//! `totalCount` counts only what the caller may see. A field that leads to a person goes through
//! [`visible_person`] (or filters by [`Viewer::can_see_person`]), so every path to a
//! person applies the one rule for people.

use async_graphql::Context;
use entities::{environment, person};
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

/// The person `id`, if there is one and the viewer may see them (their own organization, or the
/// other party of an engagement active today); `None` otherwise, so a hidden person and a missing
/// one look the same.
///
/// # Errors
/// Database errors.
pub async fn visible_person(
    ctx: &Context<'_>,
    viewer: &Viewer,
    id: Option<Uuid>,
) -> ApiResult<Option<person::Model>> {
    let Some(id) = id else { return Ok(None) };
    Ok(load_by_id::<person::Entity>(ctx, id)
        .await?
        .filter(|found| viewer.can_see_person(found)))
}
