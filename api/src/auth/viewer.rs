//! The caller of a request: the person behind a verified token and what they may see.
//!
//! Tenancy lives here. A client's people see their own organization only; a provider's people see
//! their own organization and the clients they have an engagement with that is active today.
//! Every resolver asks the [`Viewer`] before it returns an organization or anything inside one.

use chrono::Utc;
use entities::enums::{OrganizationKind, Role};
use entities::{engagement, integration, organization, person};
use sea_orm::prelude::*;
use sea_orm::{ActiveEnum, DatabaseConnection, QuerySelect};

use crate::auth::Claims;
use crate::error::{ApiError, ApiResult};

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The person the token's `sub` names.
    pub person: person::Model,
    /// The organization the token's `org` names; the person's own.
    pub organization: organization::Model,
    /// The role the token claims, within what the person holds.
    pub role: Role,
    /// The integration the token was issued for: this viewer writes as that integration (what
    /// it records is attributed to it, and may say a PSA or RMM observed it).
    pub integration: Option<integration::Model>,
    /// The verified claims it was resolved from: what a long-lived connection resolves again
    /// (and whose `exp` ends it).
    pub claims: Claims,
    /// Sorted ids of the organizations this viewer may see, their own included.
    visible_organization_ids: Vec<Uuid>,
}

impl Viewer {
    /// Resolves verified `claims` to a viewer.
    ///
    /// # Errors
    /// [`ApiError::Unauthenticated`] when the organization or person is unknown or the person is
    /// deactivated; [`ApiError::Forbidden`] when the token claims a role above the person's.
    pub async fn resolve(db: &DatabaseConnection, claims: &Claims) -> ApiResult<Self> {
        let organization = organization::Entity::find()
            .filter(organization::COLUMN.slug.eq(claims.org.as_str()))
            .one(db)
            .await?
            .ok_or_else(|| {
                ApiError::Unauthenticated(format!(
                    "token names an unknown organization `{}`",
                    claims.org
                ))
            })?;
        let person = person::Entity::find()
            .filter(person::COLUMN.subject.eq(claims.sub.as_str()))
            .filter(person::COLUMN.organization_id.eq(organization.id))
            .one(db)
            .await?
            .ok_or_else(|| {
                ApiError::Unauthenticated(format!(
                    "token subject is not a member of organization `{}`",
                    claims.org
                ))
            })?;
        if !person.active {
            return Err(ApiError::Unauthenticated(
                "token subject is deactivated".to_owned(),
            ));
        }
        if !role_allows(person.role, claims.role) {
            return Err(ApiError::Forbidden(format!(
                "token claims role {} but its subject holds {}",
                claims.role.to_value(),
                person.role.to_value()
            )));
        }

        let integration = match claims.integration {
            None => None,
            Some(_) if claims.role != Role::Integration => {
                return Err(ApiError::Unauthenticated(
                    "a token issued for an integration must claim the role INTEGRATION".to_owned(),
                ));
            }
            Some(id) => Some(
                integration::Entity::find_by_id(id)
                    .filter(integration::COLUMN.organization_id.eq(organization.id))
                    .one(db)
                    .await?
                    .ok_or_else(|| {
                        ApiError::Unauthenticated(format!(
                            "token names an integration that organization `{}` does not have",
                            claims.org
                        ))
                    })?,
            ),
        };

        let mut visible_organization_ids = vec![organization.id];
        if organization.kind == OrganizationKind::Provider {
            let today = Utc::now().date_naive();
            let clients: Vec<Uuid> = engagement::Entity::find()
                .select_only()
                .column(engagement::Column::ClientId)
                .filter(engagement::COLUMN.provider_id.eq(organization.id))
                .filter(engagement::in_force_on(today))
                .into_tuple()
                .all(db)
                .await?;
            visible_organization_ids.extend(clients);
        }
        visible_organization_ids.sort_unstable();
        visible_organization_ids.dedup();
        Ok(Self {
            person,
            organization,
            role: claims.role,
            integration,
            claims: claims.clone(),
            visible_organization_ids,
        })
    }

    /// Whether the token this viewer was resolved from has expired at `now` (seconds since the
    /// epoch).
    pub fn expired_at(&self, now: u64) -> bool {
        self.claims.exp <= now
    }

    /// Whether this viewer may see organization `id` and everything inside it.
    pub fn can_see_organization(&self, id: Uuid) -> bool {
        self.visible_organization_ids.binary_search(&id).is_ok()
    }

    /// The organizations this viewer may see, sorted; the filter every root list applies.
    pub fn visible_organization_ids(&self) -> &[Uuid] {
        &self.visible_organization_ids
    }
}

/// Whether a person holding `held` may use a token claiming `claimed`. An admin may use any
/// role; a member may act as a viewer; otherwise the roles must match.
fn role_allows(held: Role, claimed: Role) -> bool {
    held == claimed || held == Role::Admin || (held == Role::Member && claimed == Role::Viewer)
}

#[cfg(test)]
mod tests {
    use super::role_allows;
    use entities::enums::Role;

    #[test]
    fn a_token_may_not_claim_more_than_its_subject_holds() {
        assert!(role_allows(Role::Admin, Role::Integration));
        assert!(role_allows(Role::Member, Role::Viewer));
        assert!(!role_allows(Role::Member, Role::Admin));
        assert!(!role_allows(Role::Viewer, Role::Member));
        assert!(!role_allows(Role::Integration, Role::Admin));
    }
}
