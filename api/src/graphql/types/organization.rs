//! `Organization`: a client or a provider.

use async_graphql::{Context, ID, Object, Result, ResultExt};
use entities::{environment, organization};
use sea_orm::QueryFilter;
use sea_orm::prelude::*;

use crate::graphql::ids::{self, NodeType};
use crate::graphql::pagination::{Ordering, Page, PageArgs, paginate};
use crate::graphql::types::Environment;
use crate::graphql::types::enums::OrganizationKind;

/// A company: a client that owns its IT, or a provider (MSP) that serves clients.
pub struct Organization(pub organization::Model);

/// A company: a client that owns its IT, or a provider (MSP) that serves clients.
#[Object]
impl Organization {
    /// Global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Organization, self.0.id)
    }

    /// URL-safe unique name; the `org` claim of tokens.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Client or provider.
    async fn kind(&self) -> OrganizationKind {
        self.0.kind.into()
    }

    /// When the organization was created.
    async fn created_at(&self) -> DateTimeUtc {
        self.0.created_at
    }

    /// When the organization was last changed.
    async fn updated_at(&self) -> DateTimeUtc {
        self.0.updated_at
    }

    /// The organization's environments (a provider has none of its own), oldest first.
    async fn environments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Environment>> {
        let select =
            environment::Entity::find().filter(environment::COLUMN.organization_id.eq(self.0.id));
        paginate(
            ctx,
            select,
            Ordering::by_id(),
            PageArgs {
                first,
                after,
                last,
                before,
            },
            Environment,
        )
        .await
        .extend()
    }
}
