//! The directory, for admins: client organizations, engagements, teams, people and team
//! memberships. An admin manages their own organization; a provider's admin also manages the
//! clients it serves. These do not change an environment, so they write no change log entry.

use async_graphql::{Context, ID, InputObject, Object, Result, ResultExt};
use chrono::{SubsecRound, Utc};
use entities::enums::{OrganizationKind, Role};
use entities::{engagement, organization, person, team, team_membership};
use sea_orm::prelude::*;
use sea_orm::{ConnectionTrait, IntoActiveModel, QueryFilter, Set};

use crate::auth::Viewer;
use crate::error::ApiResult;
use crate::graphql::context::ContextExt;
use crate::graphql::mutation::{Check, CheckIds, UserErrorCode, payload, require_role};
use crate::graphql::scalars::Date;
use crate::graphql::types::enums::{OperatingModel, Role as GqlRole};
use crate::graphql::types::{Engagement, Organization, Person, Team};
use crate::ids::NodeType;
use crate::services;

const MAX_NAME: usize = 200;
const ADMINS: &[Role] = &[Role::Admin];

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
    /// New name.
    pub name: Option<String>,
    /// New description (empty text clears it).
    pub description: Option<String>,
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
    /// New display name.
    pub display_name: Option<String>,
    /// New email (empty text clears it).
    pub email: Option<String>,
    /// New role.
    pub role: Option<GqlRole>,
    /// Deactivate (false) or reactivate (true); deactivated people keep their history.
    pub active: Option<bool>,
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

/// The organization `id` if the viewer administers it: their own, or a client their provider
/// organization serves; else a `NOT_FOUND` user error on `field`.
async fn administered(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    check: &mut Check,
    field: &str,
    id: &ID,
) -> ApiResult<Option<organization::Model>> {
    let Some(id) = check.id(field, NodeType::Organization, id) else {
        return Ok(None);
    };
    let found = organization::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|found| {
            found.id == viewer.organization.id
                || (viewer.organization.kind == OrganizationKind::Provider
                    && viewer.can_see_organization(found.id))
        });
    if found.is_none() {
        check.fail(
            field,
            UserErrorCode::NotFound,
            "no organization with this id",
        );
    }
    Ok(found)
}

fn valid_slug(slug: &str) -> bool {
    (2..=63).contains(&slug.len())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
}

async fn create_client(
    ctx: &Context<'_>,
    input: CreateClientOrganizationInput,
) -> ApiResult<OrganizationPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, ADMINS, "createClientOrganization")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    if viewer.organization.kind != OrganizationKind::Provider {
        check.fail(
            "slug",
            UserErrorCode::InvalidState,
            "only a provider organization creates clients",
        );
    }
    let name = check.text("name", &input.name, MAX_NAME);
    let slug = input.slug.trim().to_owned();
    if !valid_slug(&slug) {
        check.fail(
            "slug",
            UserErrorCode::Invalid,
            "`slug` is 2 to 63 lowercase letters, digits and inner `-`",
        );
    } else if organization::Entity::find()
        .filter(organization::COLUMN.slug.eq(slug.as_str()))
        .one(db)
        .await?
        .is_some()
    {
        check.fail(
            "slug",
            UserErrorCode::Taken,
            "another organization uses this slug",
        );
    }
    let (Some(name), true) = (name, check.is_ok()) else {
        return Ok(OrganizationPayload::refused(check.into_errors()));
    };
    let now = Utc::now().trunc_subsecs(6);
    let txn = crate::services::unit::begin_write(db).await?;
    let created = organization::Model {
        id: Uuid::now_v7(),
        slug,
        name,
        kind: OrganizationKind::Client,
        created_at: now,
        updated_at: now,
    }
    .into_active_model()
    .insert(&txn)
    .await?;
    engagement::Model {
        id: Uuid::now_v7(),
        provider_id: viewer.organization.id,
        client_id: created.id,
        operating_model: input.operating_model.into(),
        starts_on: input.starts_on.0,
        ends_on: None,
        notes: None,
        created_at: now,
        updated_at: now,
    }
    .into_active_model()
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(OrganizationPayload::done(Organization(created)))
}

async fn update_organization(
    ctx: &Context<'_>,
    input: UpdateOrganizationInput,
) -> ApiResult<OrganizationPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, ADMINS, "updateOrganization")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let name = check.text("name", &input.name, MAX_NAME);
    let found = administered(db, viewer, &mut check, "id", &input.id).await?;
    let (Some(name), Some(found), true) = (name, found, check.is_ok()) else {
        return Ok(OrganizationPayload::refused(check.into_errors()));
    };
    let mut model = found.into_active_model();
    model.name = Set(name);
    model.updated_at = Set(Utc::now().trunc_subsecs(6));
    Ok(OrganizationPayload::done(Organization(
        model.update(db).await?,
    )))
}

async fn create_engagement(
    ctx: &Context<'_>,
    input: CreateEngagementInput,
) -> ApiResult<EngagementPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, ADMINS, "createEngagement")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    if viewer.organization.kind != OrganizationKind::Provider {
        check.fail(
            "clientId",
            UserErrorCode::InvalidState,
            "engagements are opened by the provider",
        );
    }
    let client = administered(db, viewer, &mut check, "clientId", &input.client_id).await?;
    if client
        .as_ref()
        .is_some_and(|client| client.kind != OrganizationKind::Client)
    {
        check.fail(
            "clientId",
            UserErrorCode::Invalid,
            "the other party must be a client",
        );
    }
    if input
        .ends_on
        .is_some_and(|ends_on| ends_on <= input.starts_on)
    {
        check.fail(
            "endsOn",
            UserErrorCode::Invalid,
            "`endsOn` must be after `startsOn`",
        );
    }
    let notes = check.optional_text("notes", input.notes.as_deref(), 5_000);
    if let Some(client) = &client {
        // Periods of one provider and client may not overlap: a transition ends one and opens
        // the next.
        let overlapping = engagement::Entity::find()
            .filter(engagement::COLUMN.provider_id.eq(viewer.organization.id))
            .filter(engagement::COLUMN.client_id.eq(client.id))
            .all(db)
            .await?
            .into_iter()
            .find(|existing| {
                let starts_before_other_ends = input
                    .ends_on
                    .is_none_or(|ends_on| existing.starts_on < ends_on.0);
                let other_starts_before_end = existing
                    .ends_on
                    .is_none_or(|ends_on| input.starts_on.0 < ends_on);
                starts_before_other_ends && other_starts_before_end
            });
        if let Some(existing) = overlapping {
            check.fail(
                "startsOn",
                UserErrorCode::InvalidState,
                format!(
                    "overlaps the engagement starting {}; end it first",
                    existing.starts_on
                ),
            );
        }
    }
    let (Some(client), Some(notes), true) = (client, notes, check.is_ok()) else {
        return Ok(EngagementPayload::refused(check.into_errors()));
    };
    let now = Utc::now().trunc_subsecs(6);
    let created = engagement::Model {
        id: Uuid::now_v7(),
        provider_id: viewer.organization.id,
        client_id: client.id,
        operating_model: input.operating_model.into(),
        starts_on: input.starts_on.0,
        ends_on: input.ends_on.map(|date| date.0),
        notes,
        created_at: now,
        updated_at: now,
    }
    .into_active_model()
    .insert(db)
    .await?;
    Ok(EngagementPayload::done(Engagement(created)))
}

async fn end_engagement(
    ctx: &Context<'_>,
    input: EndEngagementInput,
) -> ApiResult<EngagementPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, ADMINS, "endEngagement")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let found = match check.id("id", NodeType::Engagement, &input.id) {
        Some(id) => engagement::Entity::find_by_id(id)
            .one(db)
            .await?
            .filter(|found| {
                found.provider_id == viewer.organization.id
                    || found.client_id == viewer.organization.id
            }),
        None => None,
    };
    match &found {
        None => check.fail("id", UserErrorCode::NotFound, "no engagement with this id"),
        Some(found) if input.ends_on.0 <= found.starts_on => {
            check.fail(
                "endsOn",
                UserErrorCode::Invalid,
                "`endsOn` must be after the engagement starts",
            );
        }
        Some(found)
            if found
                .ends_on
                .is_some_and(|ends_on| ends_on <= Utc::now().date_naive()) =>
        {
            check.fail(
                "id",
                UserErrorCode::InvalidState,
                "the engagement has already ended",
            );
        }
        Some(_) => {}
    }
    let (Some(found), true) = (found, check.is_ok()) else {
        return Ok(EngagementPayload::refused(check.into_errors()));
    };
    let mut model = found.into_active_model();
    model.ends_on = Set(Some(input.ends_on.0));
    model.updated_at = Set(Utc::now().trunc_subsecs(6));
    Ok(EngagementPayload::done(Engagement(model.update(db).await?)))
}

async fn team_name_taken(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
    name: &str,
    except: Option<Uuid>,
) -> ApiResult<bool> {
    let mut select = team::Entity::find()
        .filter(team::COLUMN.organization_id.eq(organization_id))
        .filter(team::COLUMN.name.eq(name));
    if let Some(except) = except {
        select = select.filter(team::COLUMN.id.ne(except));
    }
    Ok(select.one(db).await?.is_some())
}

async fn create_team(ctx: &Context<'_>, input: CreateTeamInput) -> ApiResult<TeamPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, ADMINS, "createTeam")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let name = check.text("name", &input.name, MAX_NAME);
    let description = check.optional_text("description", input.description.as_deref(), 5_000);
    let owner = administered(
        db,
        viewer,
        &mut check,
        "organizationId",
        &input.organization_id,
    )
    .await?;
    if let Some(owner) = &owner {
        services::directory::require_own_directory(db, viewer, owner.id).await?;
    }
    if let (Some(owner), Some(name)) = (&owner, &name)
        && team_name_taken(db, owner.id, name, None).await?
    {
        check.fail(
            "name",
            UserErrorCode::Taken,
            "the organization already has a team with this name",
        );
    }
    let (Some(name), Some(description), Some(owner), true) =
        (name, description, owner, check.is_ok())
    else {
        return Ok(TeamPayload::refused(check.into_errors()));
    };
    let now = Utc::now().trunc_subsecs(6);
    let created = team::Model {
        id: Uuid::now_v7(),
        organization_id: owner.id,
        name,
        description,
        created_at: now,
        updated_at: now,
    }
    .into_active_model()
    .insert(db)
    .await?;
    Ok(TeamPayload::done(Team(created)))
}

async fn visible_team(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    check: &mut Check,
    field: &str,
    id: &ID,
) -> ApiResult<Option<team::Model>> {
    let Some(id) = check.id(field, NodeType::Team, id) else {
        return Ok(None);
    };
    let found = team::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|found| viewer.can_see_organization(found.organization_id));
    if let Some(found) = &found {
        services::directory::require_own_directory(db, viewer, found.organization_id).await?;
    } else {
        check.fail(field, UserErrorCode::NotFound, "no team with this id");
    }
    Ok(found)
}

async fn update_team(ctx: &Context<'_>, input: UpdateTeamInput) -> ApiResult<TeamPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, ADMINS, "updateTeam")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let found = visible_team(db, viewer, &mut check, "id", &input.id).await?;
    let name = input
        .name
        .as_deref()
        .map(|name| check.text("name", name, MAX_NAME));
    let description = input
        .description
        .as_deref()
        .map(|text| check.optional_text("description", Some(text), 5_000));
    if let (Some(found), Some(Some(name))) = (&found, &name)
        && team_name_taken(db, found.organization_id, name, Some(found.id)).await?
    {
        check.fail(
            "name",
            UserErrorCode::Taken,
            "the organization already has a team with this name",
        );
    }
    let (Some(found), true) = (found, check.is_ok()) else {
        return Ok(TeamPayload::refused(check.into_errors()));
    };
    let mut model = found.into_active_model();
    if let Some(Some(name)) = name {
        model.name = Set(name);
    }
    if let Some(Some(description)) = description {
        model.description = Set(description);
    }
    model.updated_at = Set(Utc::now().trunc_subsecs(6));
    Ok(TeamPayload::done(Team(model.update(db).await?)))
}

fn valid_email(email: &str) -> bool {
    let mut parts = email.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(local), Some(domain), None)
        if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !email.contains(char::is_whitespace))
}

async fn create_person(ctx: &Context<'_>, input: CreatePersonInput) -> ApiResult<PersonPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, ADMINS, "createPerson")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let subject = check.text("subject", &input.subject, 255);
    let display_name = check.text("displayName", &input.display_name, MAX_NAME);
    let email = check.optional_text("email", input.email.as_deref(), 320);
    if let Some(Some(email)) = &email
        && !valid_email(email)
    {
        check.fail(
            "email",
            UserErrorCode::Invalid,
            format!("`{email}` is not an email address"),
        );
    }
    if let Some(subject) = &subject
        && person::Entity::find()
            .filter(person::COLUMN.subject.eq(subject.as_str()))
            .one(db)
            .await?
            .is_some()
    {
        check.fail(
            "subject",
            UserErrorCode::Taken,
            "another person has this subject",
        );
    }
    let owner = administered(
        db,
        viewer,
        &mut check,
        "organizationId",
        &input.organization_id,
    )
    .await?;
    if let Some(owner) = &owner {
        services::directory::require_own_directory(db, viewer, owner.id).await?;
    }
    let (Some(subject), Some(display_name), Some(email), Some(owner), true) =
        (subject, display_name, email, owner, check.is_ok())
    else {
        return Ok(PersonPayload::refused(check.into_errors()));
    };
    let now = Utc::now().trunc_subsecs(6);
    let created = person::Model {
        id: Uuid::now_v7(),
        organization_id: owner.id,
        subject,
        display_name,
        email,
        role: input.role.into(),
        active: true,
        created_at: now,
        updated_at: now,
    }
    .into_active_model()
    .insert(db)
    .await?;
    Ok(PersonPayload::done(Person(created)))
}

async fn update_person(ctx: &Context<'_>, input: UpdatePersonInput) -> ApiResult<PersonPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, ADMINS, "updatePerson")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let found = match check.id("id", NodeType::Person, &input.id) {
        Some(id) => person::Entity::find_by_id(id)
            .one(db)
            .await?
            .filter(|found| viewer.can_see_organization(found.organization_id)),
        None => None,
    };
    match &found {
        Some(found) => {
            services::directory::require_own_directory(db, viewer, found.organization_id).await?
        }
        None => check.fail("id", UserErrorCode::NotFound, "no person with this id"),
    }
    if found
        .as_ref()
        .is_some_and(|found| found.id == viewer.person.id)
        && (input.active == Some(false) || input.role.is_some_and(|role| role != GqlRole::Admin))
    {
        check.fail(
            "id",
            UserErrorCode::InvalidState,
            "admins cannot deactivate or demote themselves",
        );
    }
    let display_name = input
        .display_name
        .as_deref()
        .map(|name| check.text("displayName", name, MAX_NAME));
    let email = input
        .email
        .as_deref()
        .map(|email| check.optional_text("email", Some(email), 320));
    if let Some(Some(Some(email))) = &email
        && !valid_email(email)
    {
        check.fail(
            "email",
            UserErrorCode::Invalid,
            format!("`{email}` is not an email address"),
        );
    }
    let (Some(found), true) = (found, check.is_ok()) else {
        return Ok(PersonPayload::refused(check.into_errors()));
    };
    let mut model = found.into_active_model();
    if let Some(Some(name)) = display_name {
        model.display_name = Set(name);
    }
    if let Some(Some(email)) = email {
        model.email = Set(email);
    }
    if let Some(role) = input.role {
        model.role = Set(role.into());
    }
    if let Some(active) = input.active {
        model.active = Set(active);
    }
    model.updated_at = Set(Utc::now().trunc_subsecs(6));
    Ok(PersonPayload::done(Person(model.update(db).await?)))
}

async fn membership(
    ctx: &Context<'_>,
    input: TeamMembershipInput,
    add: bool,
) -> ApiResult<TeamPayload> {
    let viewer = ctx.viewer()?;
    require_role(
        viewer,
        ADMINS,
        if add {
            "addTeamMember"
        } else {
            "removeTeamMember"
        },
    )?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let found = visible_team(db, viewer, &mut check, "teamId", &input.team_id).await?;
    let person = match check.id("personId", NodeType::Person, &input.person_id) {
        Some(id) => person::Entity::find_by_id(id).one(db).await?,
        None => None,
    };
    let person = person.filter(|person| {
        found
            .as_ref()
            .is_some_and(|team| team.organization_id == person.organization_id)
    });
    if person.is_none() {
        check.fail(
            "personId",
            UserErrorCode::NotFound,
            "no person with this id in the team's organization",
        );
    }
    let (Some(found), Some(person), true) = (found, person, check.is_ok()) else {
        return Ok(TeamPayload::refused(check.into_errors()));
    };
    let existing = team_membership::Entity::find()
        .filter(team_membership::COLUMN.team_id.eq(found.id))
        .filter(team_membership::COLUMN.person_id.eq(person.id))
        .one(db)
        .await?;
    match (add, existing) {
        (true, None) => {
            team_membership::Model {
                team_id: found.id,
                person_id: person.id,
                created_at: Utc::now().trunc_subsecs(6),
            }
            .into_active_model()
            .insert(db)
            .await?;
        }
        (false, Some(existing)) => {
            existing.into_active_model().delete(db).await?;
        }
        // Adding a member twice or removing a non-member changes nothing: retries are safe.
        _ => {}
    }
    Ok(TeamPayload::done(Team(found)))
}
