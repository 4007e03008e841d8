//! The directory, for admins: client organizations, engagements, teams, people and team
//! memberships. Each resolver decodes the input's ids and calls `services::directory`, which
//! holds the rules (who administers an organization, who manages its people, unique names,
//! engagement periods that never overlap). These do not change an environment, so they write no
//! change log entry.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, ResultExt};

use crate::error::ApiResult;
use crate::events::EventBus;
use crate::graphql::context::ContextExt;
use crate::graphql::mutation::{Check, CheckIds, CheckRequired, clearable, payload};
use crate::graphql::scalars::Date;
use crate::graphql::types::enums::{OperatingModel, Role as GqlRole};
use crate::graphql::types::{Engagement, Organization, Person, Team};
use crate::ids::NodeType;
use crate::services::directory;

/// Writing the directory.
#[derive(Default)]
pub struct DirectoryMutation;

/// A new client of the caller's provider organization, with the engagement that serves it.
#[derive(InputObject)]
pub struct CreateClientOrganizationInput {
    /// Display name.
    pub name: String,
    /// URL-safe unique name: lowercase letters, digits and `-` (the `org` claim of its tokens).
    pub slug: String,
    /// How the caller's organization serves it.
    pub operating_model: OperatingModel,
    /// First day of the engagement.
    pub starts_on: Date,
}

/// Changes to an organization.
#[derive(InputObject)]
pub struct UpdateOrganizationInput {
    /// The organization.
    pub id: ID,
    /// New display name.
    pub name: String,
}

/// A new engagement period between the caller's provider organization and a client it serves
/// (a transition between operating models is a new period; the old one is ended).
#[derive(InputObject)]
pub struct CreateEngagementInput {
    /// The client.
    pub client_id: ID,
    /// How the provider serves it in this period.
    pub operating_model: OperatingModel,
    /// First day.
    pub starts_on: Date,
    /// Day it ends (exclusive); open-ended when omitted.
    pub ends_on: Option<Date>,
    /// Free-form notes.
    pub notes: Option<String>,
}

/// Ending an engagement.
#[derive(InputObject)]
pub struct EndEngagementInput {
    /// The engagement.
    pub id: ID,
    /// Day it ends (exclusive).
    pub ends_on: Date,
}

/// A new team.
#[derive(InputObject)]
pub struct CreateTeamInput {
    /// The organization it belongs to.
    pub organization_id: ID,
    /// Name, unique within the organization.
    pub name: String,
    /// What the team does.
    pub description: Option<String>,
}

/// Changes to a team.
#[derive(InputObject)]
pub struct UpdateTeamInput {
    /// The team.
    pub id: ID,
    /// New name (cannot be null).
    pub name: MaybeUndefined<String>,
    /// New description (null or empty text clears it).
    pub description: MaybeUndefined<String>,
}

/// A new person.
#[derive(InputObject)]
pub struct CreatePersonInput {
    /// The organization they belong to.
    pub organization_id: ID,
    /// The `sub` claim of their tokens; unique.
    pub subject: String,
    /// Name to display.
    pub display_name: String,
    /// Email address.
    pub email: Option<String>,
    /// The highest role their tokens may claim.
    pub role: GqlRole,
}

/// Changes to a person.
#[derive(InputObject)]
pub struct UpdatePersonInput {
    /// The person.
    pub id: ID,
    /// New display name (cannot be null).
    pub display_name: MaybeUndefined<String>,
    /// New email (null or empty text clears it).
    pub email: MaybeUndefined<String>,
    /// New role (cannot be null).
    pub role: MaybeUndefined<GqlRole>,
    /// Deactivate (false) or reactivate (true); deactivated people keep their history (cannot
    /// be null).
    pub active: MaybeUndefined<bool>,
}

/// A person and a team of the same organization.
#[derive(InputObject)]
pub struct TeamMembershipInput {
    /// The team.
    pub team_id: ID,
    /// The person.
    pub person_id: ID,
}

payload! {
    /// The result of an organization mutation.
    OrganizationPayload {
        /// The organization as it is now.
        organization: Organization
    }
}

payload! {
    /// The result of an engagement mutation.
    EngagementPayload {
        /// The engagement as it is now.
        engagement: Engagement
    }
}

payload! {
    /// The result of a team mutation.
    TeamPayload {
        /// The team as it is now.
        team: Team
    }
}

payload! {
    /// The result of a person mutation.
    PersonPayload {
        /// The person as they are now.
        person: Person
    }
}

#[Object]
impl DirectoryMutation {
    /// Creates a client organization served by the caller's provider organization.
    async fn create_client_organization(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")]
        input: CreateClientOrganizationInput,
    ) -> Result<OrganizationPayload> {
        create_client(ctx, input).await.extend()
    }

    /// Renames an organization the caller administers.
    async fn update_organization(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: UpdateOrganizationInput,
    ) -> Result<OrganizationPayload> {
        update_organization(ctx, input).await.extend()
    }

    /// Opens a new engagement period with a client the caller's provider organization serves.
    async fn create_engagement(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: CreateEngagementInput,
    ) -> Result<EngagementPayload> {
        create_engagement(ctx, input).await.extend()
    }

    /// Ends an engagement of the caller's organization on a day.
    async fn end_engagement(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: EndEngagementInput,
    ) -> Result<EngagementPayload> {
        end_engagement(ctx, input).await.extend()
    }

    /// Creates a team.
    async fn create_team(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: CreateTeamInput,
    ) -> Result<TeamPayload> {
        create_team(ctx, input).await.extend()
    }

    /// Renames or redescribes a team.
    async fn update_team(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: UpdateTeamInput,
    ) -> Result<TeamPayload> {
        update_team(ctx, input).await.extend()
    }

    /// Adds a person (who can then sign in with a token naming their subject).
    async fn create_person(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: CreatePersonInput,
    ) -> Result<PersonPayload> {
        create_person(ctx, input).await.extend()
    }

    /// Changes a person's name, email, role or whether they may sign in.
    async fn update_person(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: UpdatePersonInput,
    ) -> Result<PersonPayload> {
        update_person(ctx, input).await.extend()
    }

    /// Adds a person to a team of their organization.
    async fn add_team_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: TeamMembershipInput,
    ) -> Result<TeamPayload> {
        membership(ctx, input, true).await.extend()
    }

    /// Removes a person from a team.
    async fn remove_team_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: TeamMembershipInput,
    ) -> Result<TeamPayload> {
        membership(ctx, input, false).await.extend()
    }
}

async fn create_client(
    ctx: &Context<'_>,
    input: CreateClientOrganizationInput,
) -> ApiResult<OrganizationPayload> {
    let client = directory::NewClient {
        name: input.name,
        slug: input.slug,
        operating_model: input.operating_model.into(),
        starts_on: input.starts_on.0,
    };
    let outcome = directory::create_client_organization(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        ctx.viewer()?,
        client,
        Check::default(),
    )
    .await;
    OrganizationPayload::from_outcome(outcome.map(Organization))
}

async fn update_organization(
    ctx: &Context<'_>,
    input: UpdateOrganizationInput,
) -> ApiResult<OrganizationPayload> {
    let mut check = Check::default();
    let change = directory::OrganizationChange {
        id: check.id("id", NodeType::Organization, &input.id),
        name: input.name,
    };
    let outcome = directory::update_organization(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        ctx.viewer()?,
        change,
        check,
    )
    .await;
    OrganizationPayload::from_outcome(outcome.map(Organization))
}

async fn create_engagement(
    ctx: &Context<'_>,
    input: CreateEngagementInput,
) -> ApiResult<EngagementPayload> {
    let mut check = Check::default();
    let engagement = directory::NewEngagement {
        client_id: check.id("clientId", NodeType::Organization, &input.client_id),
        operating_model: input.operating_model.into(),
        starts_on: input.starts_on.0,
        ends_on: input.ends_on.map(|date| date.0),
        notes: input.notes,
    };
    let outcome = directory::create_engagement(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        ctx.viewer()?,
        engagement,
        check,
    )
    .await;
    EngagementPayload::from_outcome(outcome.map(Engagement))
}

async fn end_engagement(
    ctx: &Context<'_>,
    input: EndEngagementInput,
) -> ApiResult<EngagementPayload> {
    let mut check = Check::default();
    let end = directory::EngagementEnd {
        id: check.id("id", NodeType::Engagement, &input.id),
        ends_on: input.ends_on.0,
    };
    let outcome = directory::end_engagement(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        ctx.viewer()?,
        end,
        check,
    )
    .await;
    EngagementPayload::from_outcome(outcome.map(Engagement))
}

async fn create_team(ctx: &Context<'_>, input: CreateTeamInput) -> ApiResult<TeamPayload> {
    let mut check = Check::default();
    let team = directory::NewTeam {
        organization_id: check.id(
            "organizationId",
            NodeType::Organization,
            &input.organization_id,
        ),
        name: input.name,
        description: input.description,
    };
    let outcome = directory::create_team(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        ctx.viewer()?,
        team,
        check,
    )
    .await;
    TeamPayload::from_outcome(outcome.map(Team))
}

async fn update_team(ctx: &Context<'_>, input: UpdateTeamInput) -> ApiResult<TeamPayload> {
    let mut check = Check::default();
    let change = directory::TeamChange {
        id: check.id("id", NodeType::Team, &input.id),
        name: check.required("name", input.name),
        description: clearable(input.description),
    };
    let outcome = directory::update_team(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        ctx.viewer()?,
        change,
        check,
    )
    .await;
    TeamPayload::from_outcome(outcome.map(Team))
}

async fn create_person(ctx: &Context<'_>, input: CreatePersonInput) -> ApiResult<PersonPayload> {
    let mut check = Check::default();
    let person = directory::NewPerson {
        organization_id: check.id(
            "organizationId",
            NodeType::Organization,
            &input.organization_id,
        ),
        subject: input.subject,
        display_name: input.display_name,
        email: input.email,
        role: input.role.into(),
    };
    let outcome = directory::create_person(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        ctx.viewer()?,
        person,
        check,
    )
    .await;
    PersonPayload::from_outcome(outcome.map(Person))
}

async fn update_person(ctx: &Context<'_>, input: UpdatePersonInput) -> ApiResult<PersonPayload> {
    let mut check = Check::default();
    let change = directory::PersonChange {
        id: check.id("id", NodeType::Person, &input.id),
        display_name: check.required("displayName", input.display_name),
        email: clearable(input.email),
        role: check.required("role", input.role).map(Into::into),
        active: check.required("active", input.active),
    };
    let outcome = directory::update_person(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        ctx.viewer()?,
        change,
        check,
    )
    .await;
    PersonPayload::from_outcome(outcome.map(Person))
}

async fn membership(
    ctx: &Context<'_>,
    input: TeamMembershipInput,
    add: bool,
) -> ApiResult<TeamPayload> {
    let mut check = Check::default();
    let membership = directory::Membership {
        team_id: check.id("teamId", NodeType::Team, &input.team_id),
        person_id: check.id("personId", NodeType::Person, &input.person_id),
    };
    let (db, events, viewer) = (ctx.db()?, ctx.data_opt::<EventBus>(), ctx.viewer()?);
    let outcome = if add {
        directory::add_team_member(db, events, viewer, membership, check).await
    } else {
        directory::remove_team_member(db, events, viewer, membership, check).await
    };
    TeamPayload::from_outcome(outcome.map(Team))
}
