//! `Person`: a member of one organization.

use async_graphql::{Context, ID, Object, Result, ResultExt};
use entities::{organization, person};
use sea_orm::prelude::DateTimeUtc;

use crate::error::ApiError;
use crate::graphql::ids::{self, NodeType};
use crate::graphql::loaders::load_by_id;
use crate::graphql::types::Organization;
use crate::graphql::types::enums::Role;

/// A member of one organization; `subject` matches the `sub` claim of their tokens.
pub struct Person(pub person::Model);

/// A member of one organization; `subject` matches the `sub` claim of their tokens.
#[Object]
impl Person {
    /// Global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Person, self.0.id)
    }

    /// The `sub` claim of the person's tokens.
    async fn subject(&self) -> &str {
        &self.0.subject
    }

    /// Name to display.
    async fn display_name(&self) -> &str {
        &self.0.display_name
    }

    /// Email address, when known.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }

    /// The highest role the person's tokens may claim.
    async fn role(&self) -> Role {
        self.0.role.into()
    }

    /// Whether the person may still sign in; deactivated people keep their history.
    async fn active(&self) -> bool {
        self.0.active
    }

    /// The person's organization.
    async fn organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        load_by_id::<organization::Entity>(ctx, self.0.organization_id)
            .await
            .and_then(|found| found.ok_or(ApiError::NotFound("organization")))
            .map(Organization)
            .extend()
    }

    /// When the person was added.
    async fn created_at(&self) -> DateTimeUtc {
        self.0.created_at
    }
}
