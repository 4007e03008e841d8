//! `Person`: a member of one organization.
//!
//! Every field that returns a person loads it through [`Person::visible`], which applies the one
//! rule for people ([`crate::auth::Viewer::can_see_person`]): another tenant's person is null.

use async_graphql::{Context, ID, Object, Result, ResultExt};
use entities::{organization, person, team};
use sea_orm::prelude::DateTimeUtc;

use crate::graphql::context::ContextExt;
use crate::graphql::loaders::{MembershipsOfPerson, load_group, load_many, load_required};
use crate::graphql::pagination::{Page, PageArgs, page_cost, page_in_memory};
use crate::graphql::scope::visible_person;
use crate::graphql::types::enums::Role;
use crate::graphql::types::{Organization, Team};
use crate::ids::{self, NodeType};

/// A member of one organization.
pub struct Person(pub person::Model);

impl Person {
    /// The person `id` if the caller may see them; null for none, a missing or a hidden person.
    ///
    /// # Errors
    /// No viewer in the context; database errors.
    pub async fn visible(ctx: &Context<'_>, id: Option<uuid::Uuid>) -> Result<Option<Self>> {
        let viewer = ctx.viewer().extend()?;
        visible_person(ctx, viewer, id)
            .await
            .map(|found| found.map(Self))
            .extend()
    }
}

/// A member of one organization; `subject` matches the `sub` claim of their tokens.
#[Object]
impl Person {
    /// Global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Person, self.0.id)
    }

    /// The `sub` claim of the person's tokens; null unless the caller is of the person's own
    /// organization (the other party of an engagement sees names and email, not login subjects).
    async fn subject(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        let viewer = ctx.viewer().extend()?;
        Ok(viewer
            .can_see_subject_of(&self.0)
            .then_some(self.0.subject.as_str()))
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
        load_required::<organization::Entity>(ctx, self.0.organization_id)
            .await
            .map(Organization)
            .extend()
    }

    /// The teams the person belongs to that the caller may see, by creation (their id).
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn teams(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Team>> {
        let memberships = load_group::<MembershipsOfPerson>(ctx, self.0.id)
            .await
            .extend()?;
        let ids: Vec<_> = memberships
            .iter()
            .map(|membership| membership.team_id)
            .collect();
        let teams = load_many::<team::Entity>(ctx, &ids).await.extend()?;
        // A counter-party's person is visible, their organization's internal teams are not
        // (as `node` and `teams` hide them).
        let viewer = ctx.viewer().extend()?;
        let items = teams
            .into_iter()
            .filter(|team| viewer.can_see_organization(team.organization_id))
            .map(|team| ((String::new(), team.id), Team(team)))
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

    /// When the person was added.
    async fn created_at(&self) -> DateTimeUtc {
        self.0.created_at
    }

    /// When the person was last changed.
    async fn updated_at(&self) -> DateTimeUtc {
        self.0.updated_at
    }
}
