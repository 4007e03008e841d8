//! `Team`: a group inside one organization.

use async_graphql::{Context, ID, Object, Result, ResultExt};
use entities::{organization, person, team};
use sea_orm::prelude::DateTimeUtc;

use crate::graphql::context::ContextExt;
use crate::graphql::loaders::{MembershipsOfTeam, load_group, load_many, load_required};
use crate::graphql::pagination::{Page, PageArgs, page_cost, page_in_memory};
use crate::graphql::types::{Organization, Person};
use crate::ids::{self, NodeType};

/// A group inside one organization.
pub struct Team(pub team::Model);

/// A group inside one organization: the client's internal IT, the MSP's service desk, its SOC.
#[Object]
impl Team {
    /// Global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Team, self.0.id)
    }

    /// Name, unique within the organization.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What the team does.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// The organization the team belongs to.
    async fn organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        load_required::<organization::Entity>(ctx, self.0.organization_id)
            .await
            .map(Organization)
            .extend()
    }

    /// The team's members the caller may see (their own organization's, or the other party's of
    /// an engagement active today); another tenant's team lists nobody.
    /// By when they were added to Tandem (their id).
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn members(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Person>> {
        let viewer = ctx.viewer().extend()?;
        let memberships = load_group::<MembershipsOfTeam>(ctx, self.0.id)
            .await
            .extend()?;
        let ids: Vec<_> = memberships
            .iter()
            .map(|membership| membership.person_id)
            .collect();
        let people = load_many::<person::Entity>(ctx, &ids).await.extend()?;
        // Hidden people are left out before paging, so `totalCount` counts only visible ones.
        let items = people
            .into_iter()
            .filter(|found| viewer.can_see_person(found))
            .map(|found| ((String::new(), found.id), Person(found)))
            .collect();
        page_in_memory(
            "id",
            items,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .extend()
    }

    /// When the team was created.
    async fn created_at(&self) -> DateTimeUtc {
        self.0.created_at
    }

    /// When the team was last changed.
    async fn updated_at(&self) -> DateTimeUtc {
        self.0.updated_at
    }
}
