//! Reads that decide a write: whether an environment, its systems and its tickets exist for the
//! actor, and which teams and people may be named in an environment's data (its two parties
//! only). Each records a `NOT_FOUND` user error when not, so an object of another tenant and a
//! missing one look the same. Run them on the write's transaction.
//!
//! It also holds the one rule for seeing integrations ([`visible_integrations`]), which reads
//! and writes both apply.

use std::collections::HashSet;

use chrono::Utc;
use entities::{
    engagement, environment, integration, integration_mapping, person, system, team, ticket,
};
use sea_orm::prelude::*;
use sea_orm::sea_query::{Condition, Query, SelectStatement};
use sea_orm::{ConnectionTrait, QueryFilter};

use crate::auth::Viewer;
use crate::services::{Check, UserErrorCode};

/// `SELECT id FROM integrations WHERE <the viewer may see it>`: the integrations of the
/// organizations the viewer sees, and, read-only, those of an organization it has an engagement
/// with today that feed one of the viewer's own environments (a client sees its provider's PSA
/// and RMM connections that sync its environments, never the provider's other ones).
pub fn visible_integrations(viewer: &Viewer) -> SelectStatement {
    let own_environments = Query::select()
        .column(environment::Column::Id)
        .from(environment::Entity)
        .and_where(environment::Column::OrganizationId.eq(viewer.organization.id))
        .to_owned();
    let feeding_own = Query::select()
        .column(integration_mapping::Column::IntegrationId)
        .from(integration_mapping::Entity)
        .and_where(integration_mapping::Column::EnvironmentId.in_subquery(own_environments))
        .to_owned();
    Query::select()
        .column(integration::Column::Id)
        .from(integration::Entity)
        .cond_where(
            Condition::any()
                .add(
                    integration::Column::OrganizationId
                        .is_in(viewer.visible_organization_ids().iter().copied()),
                )
                .add(
                    Condition::all()
                        .add(
                            integration::Column::OrganizationId
                                .is_in(viewer.people_organization_ids().iter().copied()),
                        )
                        .add(integration::Column::Id.in_subquery(feeding_own)),
                ),
        )
        .to_owned()
}

/// Whether the viewer may see `found` (see [`visible_integrations`]).
///
/// # Errors
/// Database errors.
pub async fn can_see_integration(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    found: &integration::Model,
) -> Result<bool, DbErr> {
    if viewer.can_see_organization(found.organization_id) {
        return Ok(true);
    }
    if !viewer.can_see_people_of(found.organization_id) {
        return Ok(false);
    }
    Ok(integration::Entity::find_by_id(found.id)
        .filter(
            integration::COLUMN
                .id
                .in_subquery(visible_integrations(viewer)),
        )
        .count(db)
        .await?
        > 0)
}

/// Whether the viewer sees `found`, an integration known to feed `environment` (a mapping):
/// the rule of [`visible_integrations`] without a query, for readers that start from the
/// environment's mappings (transition readiness, packages).
pub fn sees_integration_feeding(
    viewer: &Viewer,
    environment: &environment::Model,
    found: &integration::Model,
) -> bool {
    viewer.can_see_organization(found.organization_id)
        || (environment.organization_id == viewer.organization.id
            && viewer.can_see_people_of(found.organization_id))
}

/// The environment `id` if the viewer may see it, else a `NOT_FOUND` user error on `field`.
///
/// # Errors
/// Database errors.
pub async fn visible_environment(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    check: &mut Check,
    field: &str,
    id: Option<Uuid>,
) -> Result<Option<environment::Model>, DbErr> {
    let Some(id) = id else { return Ok(None) };
    let found = environment::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|found| viewer.can_see_organization(found.organization_id));
    if found.is_none() {
        check.fail(
            field,
            UserErrorCode::NotFound,
            "no environment with this id",
        );
    }
    Ok(found)
}

/// The systems `ids`, which must all be in `environment_id`, else a `NOT_FOUND` user error.
///
/// # Errors
/// Database errors.
pub async fn systems_in(
    db: &impl ConnectionTrait,
    check: &mut Check,
    field: &str,
    environment_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<system::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found = system::Entity::find()
        .filter(system::COLUMN.id.is_in(ids.iter().copied()))
        .filter(system::COLUMN.environment_id.eq(environment_id))
        .all(db)
        .await?;
    if found.len() != ids.iter().collect::<HashSet<_>>().len() {
        check.fail(
            field,
            UserErrorCode::NotFound,
            "every system must exist in the same environment",
        );
    }
    Ok(found)
}

/// The ticket `id`, which must be in `environment_id`, else a `NOT_FOUND` user error.
///
/// # Errors
/// Database errors.
pub async fn ticket_in(
    db: &impl ConnectionTrait,
    check: &mut Check,
    field: &str,
    environment_id: Uuid,
    id: Option<Uuid>,
) -> Result<Option<ticket::Model>, DbErr> {
    let Some(id) = id else { return Ok(None) };
    let found = ticket::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|found| found.environment_id == environment_id);
    if found.is_none() {
        check.fail(
            field,
            UserErrorCode::NotFound,
            "no ticket with this id in the environment",
        );
    }
    Ok(found)
}

/// The team `id` if it may work in `environment`: a team of the client, or of a provider with an
/// engagement active today; else a `NOT_FOUND` user error on `field`. Run it on the write's
/// transaction.
///
/// # Errors
/// Database errors.
pub async fn team_for_environment(
    db: &impl ConnectionTrait,
    check: &mut Check,
    field: &str,
    environment: &environment::Model,
    id: Option<Uuid>,
) -> Result<Option<team::Model>, DbErr> {
    let Some(id) = id else { return Ok(None) };
    let found = team::Entity::find_by_id(id).one(db).await?;
    let organization = found.as_ref().map(|found| found.organization_id);
    let allowed = of_a_party(db, check, field, environment, organization, "team").await?;
    Ok(found.filter(|_| allowed))
}

/// The person `id` if they may be named in `environment`'s data (an escalation step, an
/// assignment): a person of the client, or of a provider with an engagement active today; else
/// a `NOT_FOUND` user error on `field`. What the actor can see elsewhere does not matter: a
/// provider serving two clients cannot put one client's person into the other's data, and the
/// error does not say whether the person exists. Run it on the write's transaction.
///
/// # Errors
/// Database errors.
pub async fn person_for_environment(
    db: &impl ConnectionTrait,
    check: &mut Check,
    field: &str,
    environment: &environment::Model,
    id: Option<Uuid>,
) -> Result<Option<person::Model>, DbErr> {
    let Some(id) = id else { return Ok(None) };
    let found = person::Entity::find_by_id(id).one(db).await?;
    let organization = found.as_ref().map(|found| found.organization_id);
    let allowed = of_a_party(db, check, field, environment, organization, "person").await?;
    Ok(found.filter(|_| allowed))
}

/// Whether `organization` (of the team or person found; `None` when none was) is a party of
/// `environment`; if not, a `NOT_FOUND` user error on `field` that does not say whether the
/// `what` exists elsewhere.
async fn of_a_party(
    db: &impl ConnectionTrait,
    check: &mut Check,
    field: &str,
    environment: &environment::Model,
    organization: Option<Uuid>,
    what: &str,
) -> Result<bool, DbErr> {
    let allowed = match organization {
        Some(id) => is_party(db, environment, id).await?,
        None => false,
    };
    if !allowed {
        check.fail(
            field,
            UserErrorCode::NotFound,
            format!("no {what} with this id works in the environment"),
        );
    }
    Ok(allowed)
}

/// Whether `organization_id` is a party of `environment`: its client, or a provider with an
/// engagement with that client active today.
async fn is_party(
    db: &impl ConnectionTrait,
    environment: &environment::Model,
    organization_id: Uuid,
) -> Result<bool, DbErr> {
    if organization_id == environment.organization_id {
        return Ok(true);
    }
    Ok(engagement::Entity::find()
        .filter(engagement::in_force_on(Utc::now().date_naive()))
        .filter(engagement::COLUMN.client_id.eq(environment.organization_id))
        .filter(engagement::COLUMN.provider_id.eq(organization_id))
        .one(db)
        .await?
        .is_some())
}
