//! `Organization`: a client or a provider.

use async_graphql::{Context, ID, Object, Result, ResultExt};
use entities::organization;
use sea_orm::prelude::*;

use crate::graphql::pagination::{Page, PageArgs, page_cost};
use crate::graphql::query::Within;
use crate::graphql::query::directory::{
    PersonFilter, PersonOrder, TeamFilter, TeamOrder, list_people, list_teams,
};
use crate::graphql::query::inventory::{EnvironmentFilter, EnvironmentOrder, list_environments};
use crate::graphql::types::enums::OrganizationKind;
use crate::graphql::types::{Environment, Person, Team};
use crate::ids::{self, NodeType};

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
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn environments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<EnvironmentFilter>,
        #[graphql(desc = "Sort order; oldest first when omitted.")] order_by: Option<
            EnvironmentOrder,
        >,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Environment>> {
        let within = Within {
            organization: Some(self.0.id),
            ..Within::default()
        };
        list_environments(
            ctx,
            within,
            filter.unwrap_or_default(),
            order_by,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .await
        .extend()
    }

    /// The organization's teams.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn teams(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<TeamFilter>,
        #[graphql(desc = "Sort order; by name when omitted.")] order_by: Option<TeamOrder>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Team>> {
        let within = Within {
            organization: Some(self.0.id),
            ..Within::default()
        };
        list_teams(
            ctx,
            within,
            filter.unwrap_or_default(),
            order_by,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .await
        .extend()
    }

    /// The organization's people the caller may see (see `Query.people`).
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn people(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<PersonFilter>,
        #[graphql(desc = "Sort order; by display name when omitted.")] order_by: Option<
            PersonOrder,
        >,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Person>> {
        let within = Within {
            organization: Some(self.0.id),
            ..Within::default()
        };
        list_people(
            ctx,
            within,
            filter.unwrap_or_default(),
            order_by,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .await
        .extend()
    }
}
