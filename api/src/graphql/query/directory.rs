//! `organizations`, `engagements`, `teams`, `people`.

use async_graphql::{Context, ID, InputObject, Object, Result, ResultExt};
use chrono::NaiveDate;
use entities::{engagement, organization, person, team, team_membership};
use sea_orm::prelude::*;
use sea_orm::sea_query::Query as SqlQuery;
use sea_orm::{Condition, QueryFilter};

use crate::error::ApiResult;
use crate::graphql::context::ContextExt;
use crate::graphql::order::order_by;
use crate::graphql::pagination::{Page, PageArgs, page_cost, paginate};
use crate::graphql::query::{Within, decode_ids};
use crate::graphql::scalars::Date;
use crate::graphql::types::enums::{OperatingModel, OrganizationKind};
use crate::graphql::types::{Engagement, Organization, Person, Team};
use crate::ids::NodeType;

/// Organizations, engagements, teams and people.
#[derive(Default)]
pub struct DirectoryQuery;

/// Narrows `organizations`.
#[derive(InputObject, Default)]
pub struct OrganizationFilter {
    /// Only organizations of this kind.
    pub kind: Option<OrganizationKind>,
    /// Only organizations changed at or after this instant.
    pub updated_since: Option<DateTimeUtc>,
}

order_by! {
    /// How to sort organizations.
    OrganizationOrder,
    /// The fields organizations can be sorted by.
    OrganizationOrderField for organization default CreatedAt {
        /// By name.
        Name => Name as Text,
        /// By creation time.
        CreatedAt => CreatedAt as Instant,
        /// By last change.
        UpdatedAt => UpdatedAt as Instant,
    }
}

/// Narrows `engagements`.
#[derive(InputObject, Default)]
pub struct EngagementFilter {
    /// Only engagements in force on this day.
    pub active_on: Option<Date>,
    /// Only engagements under these operating models.
    pub operating_models: Option<Vec<OperatingModel>>,
    /// Only engagements with these clients.
    pub client_ids: Option<Vec<ID>>,
    /// Only engagements changed at or after this instant.
    pub updated_since: Option<DateTimeUtc>,
}

order_by! {
    /// How to sort engagements.
    EngagementOrder,
    /// The fields engagements can be sorted by.
    EngagementOrderField for engagement default CreatedAt {
        /// By creation time.
        CreatedAt => CreatedAt as Instant,
        /// By last change.
        UpdatedAt => UpdatedAt as Instant,
    }
}

/// Narrows `teams`.
#[derive(InputObject, Default)]
pub struct TeamFilter {
    /// Only teams of these organizations.
    pub organization_ids: Option<Vec<ID>>,
    /// Only teams changed at or after this instant.
    pub updated_since: Option<DateTimeUtc>,
}

order_by! {
    /// How to sort teams.
    TeamOrder,
    /// The fields teams can be sorted by.
    TeamOrderField for team default Name {
        /// By name.
        Name => Name as Text,
        /// By creation time.
        CreatedAt => CreatedAt as Instant,
        /// By last change.
        UpdatedAt => UpdatedAt as Instant,
    }
}

/// Narrows `people`.
#[derive(InputObject, Default)]
pub struct PersonFilter {
    /// Only people of these organizations.
    pub organization_ids: Option<Vec<ID>>,
    /// Only members of these teams.
    pub team_ids: Option<Vec<ID>>,
    /// Include deactivated people (default: false).
    #[graphql(default)]
    pub include_inactive: bool,
    /// Only people changed at or after this instant.
    pub updated_since: Option<DateTimeUtc>,
}

order_by! {
    /// How to sort people.
    PersonOrder,
    /// The fields people can be sorted by.
    PersonOrderField for person default DisplayName {
        /// By display name.
        DisplayName => DisplayName as Text,
        /// By creation time.
        CreatedAt => CreatedAt as Instant,
        /// By last change.
        UpdatedAt => UpdatedAt as Instant,
    }
}

#[Object]
impl DirectoryQuery {
    /// The organizations the caller may see: their own, and for a provider the clients it has an
    /// active engagement with. Oldest first by default.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn organizations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<OrganizationFilter>,
        #[graphql(desc = "Sort order; oldest first when omitted.")] order_by: Option<
            OrganizationOrder,
        >,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Organization>> {
        let viewer = ctx.viewer().extend()?;
        let filter = filter.unwrap_or_default();
        let mut select = organization::Entity::find().filter(
            organization::COLUMN
                .id
                .is_in(viewer.visible_organization_ids().iter().copied()),
        );
        if let Some(kind) = filter.kind {
            select = select.filter(
                organization::COLUMN
                    .kind
                    .eq(entities::enums::OrganizationKind::from(kind)),
            );
        }
        if let Some(since) = filter.updated_since {
            select = select.filter(organization::COLUMN.updated_at.gte(since));
        }
        let ordering = OrganizationOrder::ordering(order_by);
        paginate(
            ctx,
            select,
            ordering,
            PageArgs {
                first,
                after,
                last,
                before,
            },
            Organization,
        )
        .await
        .extend()
    }

    /// The engagements the caller's organization is a party to (as client or as provider),
    /// past, present and planned.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn engagements(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<EngagementFilter>,
        #[graphql(desc = "Sort order; oldest first when omitted.")] order_by: Option<
            EngagementOrder,
        >,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Engagement>> {
        let viewer = ctx.viewer().extend()?;
        let filter = filter.unwrap_or_default();
        let own = viewer.organization.id;
        let mut select = engagement::Entity::find().filter(
            Condition::any()
                .add(engagement::COLUMN.client_id.eq(own))
                .add(engagement::COLUMN.provider_id.eq(own)),
        );
        if let Some(Date(day)) = filter.active_on {
            select = active_on(select, day);
        }
        if let Some(models) = filter.operating_models {
            let models: Vec<entities::enums::OperatingModel> =
                models.into_iter().map(Into::into).collect();
            select = select.filter(engagement::COLUMN.operating_model.is_in(models));
        }
        if let Some(clients) = decode_ids(
            "filter.clientIds",
            NodeType::Organization,
            filter.client_ids.as_ref(),
        )
        .extend()?
        {
            select = select.filter(engagement::COLUMN.client_id.is_in(clients));
        }
        if let Some(since) = filter.updated_since {
            select = select.filter(engagement::COLUMN.updated_at.gte(since));
        }
        let ordering = EngagementOrder::ordering(order_by);
        paginate(
            ctx,
            select,
            ordering,
            PageArgs {
                first,
                after,
                last,
                before,
            },
            Engagement,
        )
        .await
        .extend()
    }

    /// The teams of the organizations the caller may see.
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
        list_teams(
            ctx,
            Within::default(),
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

    /// The people the caller may see: their own organization's and those of the other party of
    /// each engagement active today (a client sees its provider's staff; nobody sees another
    /// client's people).
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
        list_people(
            ctx,
            Within::default(),
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

/// Engagements in force on `day`.
pub fn active_on(select: Select<engagement::Entity>, day: NaiveDate) -> Select<engagement::Entity> {
    select.filter(engagement::in_force_on(day))
}

/// Teams, scoped to the viewer and `within`.
///
/// # Errors
/// Bad filter ids or paging arguments; database errors.
pub async fn list_teams(
    ctx: &Context<'_>,
    within: Within,
    filter: TeamFilter,
    order_by: Option<TeamOrder>,
    page: PageArgs,
) -> ApiResult<Page<Team>> {
    let viewer = ctx.viewer()?;
    let mut select = team::Entity::find().filter(
        team::COLUMN
            .organization_id
            .is_in(viewer.visible_organization_ids().iter().copied()),
    );
    if let Some(organization) = within.organization {
        select = select.filter(team::COLUMN.organization_id.eq(organization));
    }
    if let Some(organizations) = decode_ids(
        "filter.organizationIds",
        NodeType::Organization,
        filter.organization_ids.as_ref(),
    )? {
        select = select.filter(team::COLUMN.organization_id.is_in(organizations));
    }
    if let Some(since) = filter.updated_since {
        select = select.filter(team::COLUMN.updated_at.gte(since));
    }
    paginate(ctx, select, TeamOrder::ordering(order_by), page, Team).await
}

/// People, scoped to the viewer (the one rule for people, [`crate::auth::Viewer::can_see_person`],
/// as SQL) and `within`.
///
/// # Errors
/// Bad filter ids or paging arguments; database errors.
pub async fn list_people(
    ctx: &Context<'_>,
    within: Within,
    filter: PersonFilter,
    order_by: Option<PersonOrder>,
    page: PageArgs,
) -> ApiResult<Page<Person>> {
    let viewer = ctx.viewer()?;
    let mut select = person::Entity::find().filter(
        person::COLUMN
            .organization_id
            .is_in(viewer.people_organization_ids().iter().copied()),
    );
    if let Some(organization) = within.organization {
        select = select.filter(person::COLUMN.organization_id.eq(organization));
    }
    if let Some(organizations) = decode_ids(
        "filter.organizationIds",
        NodeType::Organization,
        filter.organization_ids.as_ref(),
    )? {
        select = select.filter(person::COLUMN.organization_id.is_in(organizations));
    }
    if let Some(teams) = decode_ids("filter.teamIds", NodeType::Team, filter.team_ids.as_ref())? {
        select = select.filter(
            person::COLUMN.id.in_subquery(
                SqlQuery::select()
                    .column(team_membership::Column::PersonId)
                    .from(team_membership::Entity)
                    .and_where(team_membership::Column::TeamId.is_in(teams))
                    .to_owned(),
            ),
        );
    }
    if !filter.include_inactive {
        select = select.filter(person::COLUMN.active.eq(true));
    }
    if let Some(since) = filter.updated_since {
        select = select.filter(person::COLUMN.updated_at.gte(since));
    }
    paginate(ctx, select, PersonOrder::ordering(order_by), page, Person).await
}
