//! The caller of a request: the person behind a verified token and what they may see.
//!
//! Tenancy lives here. A client's people see their own organization only; a provider's people see
//! their own organization and the clients they have an engagement with that is active today.
//! Every resolver asks the [`Viewer`] before it returns an organization or anything inside one.
//!
//! People follow one rule of their own ([`Viewer::can_see_person`]): a person is visible to their
//! own organization and to the other party of an engagement active today, whichever side the
//! viewer is on. So a client's people see the staff of the provider serving them (the names and
//! addresses the two teams need to reach each other), and nobody sees the people of another
//! client of the same provider, whatever path leads to them. A person's login subject is an
//! identity-provider detail: only their own organization sees it ([`Viewer::can_see_subject_of`]).

use std::sync::Arc;

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
    /// Sorted ids of the organizations this viewer may see, their own included. Shared: a
    /// provider's list may be long, and a viewer is cloned into every request it serves.
    visible_organization_ids: Arc<[Uuid]>,
    /// Sorted ids of the organizations whose people this viewer may see: their own and the other
    /// party of each engagement active today.
    people_organization_ids: Arc<[Uuid]>,
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
                    .filter(integration::COLUMN.deleted_at.is_null())
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

        // Both sides of every engagement active today: the provider sees its clients, and the
        // people of each side see the other side's people.
        let today = Utc::now().date_naive();
        let parties: Vec<(Uuid, Uuid)> = engagement::Entity::find()
            .select_only()
            .column(engagement::Column::ProviderId)
            .column(engagement::Column::ClientId)
            .filter(
                sea_orm::Condition::any()
                    .add(engagement::COLUMN.provider_id.eq(organization.id))
                    .add(engagement::COLUMN.client_id.eq(organization.id)),
            )
            .filter(engagement::in_force_on(today))
            .into_tuple()
            .all(db)
            .await?;
        let (visible_organization_ids, people_organization_ids) =
            visible_sets(organization.id, organization.kind, &parties);
        Ok(Self {
            person,
            organization,
            role: claims.role,
            integration,
            claims: claims.clone(),
            visible_organization_ids: visible_organization_ids.into(),
            people_organization_ids: people_organization_ids.into(),
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

    /// Whether this viewer may see `person`: the one rule for people, applied by every path that
    /// returns a person (root lists, `node`, nested fields, exports).
    pub fn can_see_person(&self, person: &person::Model) -> bool {
        self.can_see_people_of(person.organization_id)
    }

    /// Whether this viewer may see the people of organization `id`: their own, or the other
    /// party of an engagement active today.
    pub fn can_see_people_of(&self, id: Uuid) -> bool {
        self.people_organization_ids.binary_search(&id).is_ok()
    }

    /// The organizations whose people this viewer may see, sorted; the filter of people lists.
    pub fn people_organization_ids(&self) -> &[Uuid] {
        &self.people_organization_ids
    }

    /// Whether this viewer may see `person`'s login subject: only within the person's own
    /// organization (the other party needs a name and an address, not an identity-provider key).
    pub fn can_see_subject_of(&self, person: &person::Model) -> bool {
        person.organization_id == self.organization.id
    }
}

/// What an organization `own` of `kind` sees, given the `(provider, client)` pairs of the
/// engagements it is a party to that are active today: the organizations (its own, and for a
/// provider its clients) and the organizations whose people it sees (its own and every other
/// party). Both sorted and without duplicates.
fn visible_sets(
    own: Uuid,
    kind: OrganizationKind,
    parties: &[(Uuid, Uuid)],
) -> (Vec<Uuid>, Vec<Uuid>) {
    let mut organizations = vec![own];
    let mut people = vec![own];
    for &(provider, client) in parties {
        if kind == OrganizationKind::Provider && provider == own {
            organizations.push(client);
        }
        if provider == own {
            people.push(client);
        }
        if client == own {
            people.push(provider);
        }
    }
    for ids in [&mut organizations, &mut people] {
        ids.sort_unstable();
        ids.dedup();
    }
    (organizations, people)
}

/// Whether a person holding `held` may use a token claiming `claimed`. An admin may use any
/// role; a member may act as a viewer; otherwise the roles must match.
fn role_allows(held: Role, claimed: Role) -> bool {
    held == claimed || held == Role::Admin || (held == Role::Member && claimed == Role::Viewer)
}

#[cfg(test)]
mod tests {
    use super::{role_allows, visible_sets};
    use entities::enums::{OrganizationKind, Role};
    use sea_orm::prelude::Uuid;

    #[test]
    fn people_are_seen_across_active_engagements_and_organizations_only_downwards() {
        let [provider, client_a, client_b] = [1u128, 2, 3].map(Uuid::from_u128);
        let parties = [(provider, client_a), (provider, client_b)];
        let (organizations, people) = visible_sets(provider, OrganizationKind::Provider, &parties);
        assert_eq!(organizations, vec![provider, client_a, client_b]);
        assert_eq!(people, vec![provider, client_a, client_b]);

        // A client sees its provider's people, not its organization's contents, and nothing
        // of the provider's other client.
        let (organizations, people) =
            visible_sets(client_a, OrganizationKind::Client, &[(provider, client_a)]);
        assert_eq!(organizations, vec![client_a]);
        assert_eq!(people, vec![provider, client_a]);

        // Without an active engagement, only the organization itself.
        let (organizations, people) = visible_sets(client_b, OrganizationKind::Client, &[]);
        assert_eq!(organizations, vec![client_b]);
        assert_eq!(people, vec![client_b]);
    }

    #[test]
    fn a_token_may_not_claim_more_than_its_subject_holds() {
        assert!(role_allows(Role::Admin, Role::Integration));
        assert!(role_allows(Role::Member, Role::Viewer));
        assert!(!role_allows(Role::Member, Role::Admin));
        assert!(!role_allows(Role::Viewer, Role::Member));
        assert!(!role_allows(Role::Integration, Role::Admin));
    }
}
