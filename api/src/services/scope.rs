//! Reads that decide a write: whether an environment, its systems and its tickets exist for the
//! actor, and which teams and people may be named in an environment's data (its two parties
//! only). Each records a `NOT_FOUND` user error when not, so an object of another tenant and a
//! missing one look the same. Run them on the write's transaction.

use std::collections::HashSet;

use chrono::Utc;
use entities::{engagement, environment, person, system, team, ticket};
use sea_orm::prelude::*;
use sea_orm::{ConnectionTrait, QueryFilter};

use crate::auth::Viewer;
use crate::services::{Check, UserErrorCode};

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
