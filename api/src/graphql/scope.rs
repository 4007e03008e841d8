//! Tenancy as SQL: the filters that keep every list inside the viewer's organizations.
//!
//! Root lists filter by these subqueries, so one round trip returns only visible rows, and
//! `totalCount` counts only what the caller may see. A field that leads to a person goes through
//! [`visible_person`] (or filters by [`Viewer::can_see_person`]), so every path to a
//! person applies the one rule for people.

use async_graphql::Context;
use entities::{environment, integration, person};
use sea_orm::prelude::*;
use sea_orm::sea_query::{Query, SelectStatement};

use crate::auth::Viewer;
use crate::error::ApiResult;
use crate::graphql::loaders::{MappingsOfIntegration, load_by_id, load_group, load_many};
pub use crate::services::scope::visible_integrations;

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

/// Whether the viewer may see integration `found`: the rule of [`visible_integrations`], read
/// through the request's loaders so a page of entries naming the same integration costs one
/// batch, not a statement each.
///
/// # Errors
/// Database errors.
pub async fn can_see_integration(
    ctx: &Context<'_>,
    viewer: &Viewer,
    found: &integration::Model,
) -> ApiResult<bool> {
    if viewer.can_see_organization(found.organization_id) {
        return Ok(true);
    }
    if !viewer.can_see_people_of(found.organization_id) {
        return Ok(false);
    }
    let environments: Vec<Uuid> = load_group::<MappingsOfIntegration>(ctx, found.id)
        .await?
        .iter()
        .map(|mapping| mapping.environment_id)
        .collect();
    Ok(load_many::<environment::Entity>(ctx, &environments)
        .await?
        .iter()
        .any(|environment| environment.organization_id == viewer.organization.id))
}

/// Whether the viewer sees integration `found` only read-only, through a mapping to one of its
/// environments (see [`visible_integrations`]): what the run found about other organizations'
/// records (errors, warnings) is not theirs to read.
pub fn sees_read_only(viewer: &Viewer, found: &integration::Model) -> bool {
    !viewer.can_see_organization(found.organization_id)
}
