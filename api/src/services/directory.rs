//! Who may manage an organization's directory: its people, teams and team memberships.
//!
//! The organization's own admins. A provider's admins may onboard a client they serve only
//! until the client has an active admin of its own; from then on they never manage the client's
//! people: otherwise a provider could create an admin in the client's organization (or deactivate
//! the client's real one) and approve matrix entries "as the client", defeating dual sign-off.

use entities::enums::{OrganizationKind, Role};
use entities::person;
use sea_orm::prelude::*;
use sea_orm::{ConnectionTrait, QueryFilter};

use crate::auth::Viewer;
use crate::services::{ServiceError, ServiceResult};

/// Refuses unless `actor` may manage the people, teams and memberships of `organization_id`.
///
/// # Errors
/// [`ServiceError::Forbidden`] for another organization's directory; database errors.
pub async fn require_own_directory(
    db: &impl ConnectionTrait,
    actor: &Viewer,
    organization_id: Uuid,
) -> ServiceResult<()> {
    if organization_id == actor.organization.id {
        return Ok(());
    }
    let onboarding = actor.organization.kind == OrganizationKind::Provider
        && actor.can_see_organization(organization_id)
        && person::Entity::find()
            .filter(person::COLUMN.organization_id.eq(organization_id))
            .filter(person::COLUMN.role.eq(Role::Admin))
            .filter(person::COLUMN.active.eq(true))
            .one(db)
            .await?
            .is_none();
    if onboarding {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(
            "only an organization's own admins manage its people, teams and memberships (a \
             provider onboards a client only until the client has an admin)"
                .to_owned(),
        ))
    }
}
