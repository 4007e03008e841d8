//! The directory: client organizations, engagements, teams, people and team memberships.
//!
//! Who administers an organization: its own admins; a provider's admins also administer the
//! clients they serve today (they rename them, open and end engagement periods with them).
//!
//! Who manages an organization's people, teams and memberships ([`require_own_directory`]): the
//! organization's own admins. A provider's admins may onboard a client they serve only until the
//! client has an active admin of its own; from then on they never manage the client's people:
//! otherwise a provider could create an admin in the client's organization (or deactivate the
//! client's real one) and approve matrix entries "as the client", defeating dual sign-off. An
//! admin never deactivates or demotes themselves, so an organization that has an admin keeps one.
//!
//! Every write runs in one [`UnitOfWork`]. The organization whose directory changes is locked
//! first (PostgreSQL `FOR NO KEY UPDATE`, which still lets other writers insert rows that refer
//! to it; SQLite's writers already take turns), so the reads that decide (is a name or slug
//! taken, does the client have an admin yet, do two engagement periods overlap) cannot be
//! passed by two callers at once. A slug, subject or team name that a concurrent caller took
//! between the check and the insert is refused as `TAKEN` all the same (the database's unique
//! index decides), never an internal error.
//!
//! These writes change no environment, so they record no change log entry.

use chrono::NaiveDate;
use entities::enums::{OperatingModel, OrganizationKind, Role};
use entities::{engagement, organization, person, team, team_membership};
use sea_orm::prelude::*;
use sea_orm::sea_query::LockType;
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, IntoActiveModel, QueryFilter, QuerySelect, Set, SqlErr,
};

use crate::auth::Viewer;
use crate::events::EventBus;
use crate::services::{
    Check, ServiceError, ServiceResult, UnitOfWork, UserErrorCode, require_role,
};

/// Longest organization, team or person name, in characters.
pub const MAX_NAME: usize = 200;
/// Longest team description or engagement note, in characters.
pub const MAX_DESCRIPTION: usize = 5_000;
/// Longest subject (the `sub` claim), in characters.
pub const MAX_SUBJECT: usize = 255;
/// Longest email address, in characters.
pub const MAX_EMAIL: usize = 320;

const ADMINS: &[Role] = &[Role::Admin];
// Slugs and subjects are unique across tenants: a refusal says the value is taken, never by
// whom (the holder may be another tenant the caller cannot see).
const SLUG_TAKEN: &str = "this slug is already taken";
const SUBJECT_TAKEN: &str = "this subject is already taken";
const TEAM_NAME_TAKEN: &str = "the organization already has a team with this name";

/// A new client of the actor's provider organization, with the engagement that serves it.
pub struct NewClient {
    /// Display name.
    pub name: String,
    /// URL-safe unique name (the `org` claim of its tokens).
    pub slug: String,
    /// How the actor's organization serves it.
    pub operating_model: OperatingModel,
    /// First day of the engagement.
    pub starts_on: NaiveDate,
}

/// A new name for an organization.
pub struct OrganizationChange {
    /// The organization; `None` when the front door could not decode its id.
    pub id: Option<Uuid>,
    /// New display name.
    pub name: String,
}

/// A new engagement period between the actor's provider organization and a client it serves.
pub struct NewEngagement {
    /// The client; `None` when the front door could not decode its id.
    pub client_id: Option<Uuid>,
    /// How the provider serves it in this period.
    pub operating_model: OperatingModel,
    /// First day.
    pub starts_on: NaiveDate,
    /// Day it ends (exclusive); open-ended when absent.
    pub ends_on: Option<NaiveDate>,
    /// Free-form notes.
    pub notes: Option<String>,
}

/// The end of an engagement period.
pub struct EngagementEnd {
    /// The engagement; `None` when the front door could not decode its id.
    pub id: Option<Uuid>,
    /// Day it ends (exclusive).
    pub ends_on: NaiveDate,
}

/// A new team.
pub struct NewTeam {
    /// Its organization; `None` when the front door could not decode its id.
    pub organization_id: Option<Uuid>,
    /// Name, unique within the organization.
    pub name: String,
    /// What the team does.
    pub description: Option<String>,
}

/// Changes to a team; absent fields stay as they are.
pub struct TeamChange {
    /// The team; `None` when the front door could not decode its id.
    pub id: Option<Uuid>,
    /// New name.
    pub name: Option<String>,
    /// New description (empty text clears it).
    pub description: Option<String>,
}

/// A new person.
pub struct NewPerson {
    /// Their organization; `None` when the front door could not decode its id.
    pub organization_id: Option<Uuid>,
    /// The `sub` claim of their tokens; unique.
    pub subject: String,
    /// Name to display.
    pub display_name: String,
    /// Email address.
    pub email: Option<String>,
    /// The highest role their tokens may claim.
    pub role: Role,
}

/// Changes to a person; absent fields stay as they are.
pub struct PersonChange {
    /// The person; `None` when the front door could not decode its id.
    pub id: Option<Uuid>,
    /// New display name.
    pub display_name: Option<String>,
    /// New email (empty text clears it).
    pub email: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// Deactivate (false) or reactivate (true).
    pub active: Option<bool>,
}

/// A person and a team of the same organization.
pub struct Membership {
    /// The team; `None` when the front door could not decode its id.
    pub team_id: Option<Uuid>,
    /// The person; `None` when the front door could not decode its id.
    pub person_id: Option<Uuid>,
}

/// Refuses unless `actor` may manage the people, teams and memberships of `organization_id`.
/// Run it on the write's transaction, after locking the organization, so that whether the
/// client has an admin yet cannot change before the write commits.
///
/// # Errors
/// [`ServiceError::Forbidden`] for another organization's directory; database errors.
pub async fn require_own_directory(
    db: &impl ConnectionTrait,
    actor: &Viewer,
    organization_id: Uuid,
) -> ServiceResult<()> {
    if organization_id == actor.organization.id {
        return Ok(());
    }
    let onboarding = actor.organization.kind == OrganizationKind::Provider
        && actor.can_see_organization(organization_id)
        && person::Entity::find()
            .filter(person::COLUMN.organization_id.eq(organization_id))
            .filter(person::COLUMN.role.eq(Role::Admin))
            .filter(person::COLUMN.active.eq(true))
            .one(db)
            .await?
            .is_none();
    if onboarding {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(
            "only an organization's own admins manage its people, teams and memberships (a \
             provider onboards a client only until the client has an admin)"
                .to_owned(),
        ))
    }
}

/// Creates a client organization served by the actor's provider organization, and the
/// engagement that serves it from `starts_on`.
///
/// # Errors
/// [`ServiceError::Forbidden`] for a non-admin; [`ServiceError::Refused`] when the actor's
/// organization is not a provider, the name or slug is bad, or the slug is taken; database
/// errors.
pub async fn create_client_organization(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: NewClient,
    mut check: Check,
) -> ServiceResult<organization::Model> {
    require_role(actor, ADMINS, "createClientOrganization")?;
    if actor.organization.kind != OrganizationKind::Provider {
        check.fail(
            "slug",
            UserErrorCode::InvalidState,
            "only a provider organization creates clients",
        );
    }
    let name = check.text("name", &input.name, MAX_NAME);
    let slug = input.slug.trim().to_owned();
    let slug_valid = valid_slug(&slug);
    if !slug_valid {
        check.fail(
            "slug",
            UserErrorCode::Invalid,
            "`slug` is 2 to 63 lowercase letters, digits and inner `-`",
        );
    }
    let write = UnitOfWork::begin(db, events, actor, None, None).await?;
    if slug_valid
        && organization::Entity::find()
            .filter(organization::COLUMN.slug.eq(slug.as_str()))
            .one(&write.txn)
            .await?
            .is_some()
    {
        check.fail("slug", UserErrorCode::Taken, SLUG_TAKEN);
    }
    let (Some(name), true) = (name, check.is_ok()) else {
        return Err(check.into());
    };
    let created = organization::Model {
        id: Uuid::now_v7(),
        slug,
        name,
        kind: OrganizationKind::Client,
        created_at: write.now,
        updated_at: write.now,
    }
    .into_active_model()
    .insert(&write.txn)
    .await
    .map_err(|error| ServiceError::taken_or(error, "slug", SLUG_TAKEN))?;
    engagement::Model {
        id: Uuid::now_v7(),
        provider_id: actor.organization.id,
        client_id: created.id,
        operating_model: input.operating_model,
        starts_on: input.starts_on,
        ends_on: None,
        notes: None,
        created_at: write.now,
        updated_at: write.now,
    }
    .into_active_model()
    .insert(&write.txn)
    .await?;
    // The provider's callers see the new client from now on.
    let mut write = write;
    write.access_changed(actor.organization.id);
    write.access_changed(created.id);
    write.commit().await?;
    Ok(created)
}

/// Renames an organization the actor administers.
///
/// # Errors
/// [`ServiceError::Forbidden`] for a non-admin; [`ServiceError::Refused`] for a bad name or an
/// organization the actor does not administer; database errors.
pub async fn update_organization(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: OrganizationChange,
    mut check: Check,
) -> ServiceResult<organization::Model> {
    require_role(actor, ADMINS, "updateOrganization")?;
    let name = check.text("name", &input.name, MAX_NAME);
    let write = UnitOfWork::begin(db, events, actor, None, None).await?;
    let found = administered(&write.txn, actor, &mut check, "id", input.id).await?;
    let (Some(name), Some(found), true) = (name, found, check.is_ok()) else {
        return Err(check.into());
    };
    let mut model = found.into_active_model();
    model.name = Set(name);
    model.updated_at = Set(write.now);
    let updated = model.update(&write.txn).await?;
    // Callers of the organization hold its name.
    let mut write = write;
    write.callers_changed();
    write.commit().await?;
    Ok(updated)
}

/// Opens a new engagement period between the actor's provider organization and a client it
/// serves. Periods of one provider and client never overlap: a transition ends one and opens
/// the next.
///
/// # Errors
/// [`ServiceError::Forbidden`] for a non-admin; [`ServiceError::Refused`] when the actor is not
/// a provider, the other party is not a client it serves, the dates are out of order or the
/// period overlaps another; database errors.
pub async fn create_engagement(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: NewEngagement,
    mut check: Check,
) -> ServiceResult<engagement::Model> {
    require_role(actor, ADMINS, "createEngagement")?;
    if actor.organization.kind != OrganizationKind::Provider {
        check.fail(
            "clientId",
            UserErrorCode::InvalidState,
            "engagements are opened by the provider",
        );
    }
    let write = UnitOfWork::begin(db, events, actor, None, None).await?;
    // Locks the client: engagement periods of one client are decided one at a time.
    let client = administered(&write.txn, actor, &mut check, "clientId", input.client_id).await?;
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
    let notes = check.optional_text("notes", input.notes.as_deref(), MAX_DESCRIPTION);
    if let Some(client) = &client
        && let Some(existing) = overlapping_engagement(
            &write.txn,
            actor.organization.id,
            client.id,
            input.starts_on,
            input.ends_on,
            None,
        )
        .await?
    {
        check.fail(
            "startsOn",
            UserErrorCode::InvalidState,
            format!(
                "overlaps the engagement starting {}; end it first",
                existing.starts_on
            ),
        );
    }
    let (Some(client), Some(notes), true) = (client, notes, check.is_ok()) else {
        return Err(check.into());
    };
    let created = engagement::Model {
        id: Uuid::now_v7(),
        provider_id: actor.organization.id,
        client_id: client.id,
        operating_model: input.operating_model,
        starts_on: input.starts_on,
        ends_on: input.ends_on,
        notes,
        created_at: write.now,
        updated_at: write.now,
    }
    .into_active_model()
    .insert(&write.txn)
    .await?;
    // A period that starts today changes what both parties see at once.
    let mut write = write;
    write.access_changed(created.provider_id);
    write.access_changed(created.client_id);
    write.commit().await?;
    Ok(created)
}

/// Ends an engagement of the actor's organization (either side) on a day. An engagement that
/// has ended stays ended; a new end may not make it overlap another period of the same provider
/// and client.
///
/// # Errors
/// [`ServiceError::Forbidden`] for a non-admin; [`ServiceError::Refused`] for an engagement of
/// other organizations, an end before the start, an engagement that has already ended, or an
/// end that overlaps the next period; database errors.
pub async fn end_engagement(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: EngagementEnd,
    mut check: Check,
) -> ServiceResult<engagement::Model> {
    require_role(actor, ADMINS, "endEngagement")?;
    let write = UnitOfWork::begin(db, events, actor, None, None).await?;
    let side = |found: &engagement::Model| {
        found.provider_id == actor.organization.id || found.client_id == actor.organization.id
    };
    let found = match input.id {
        Some(id) => engagement::Entity::find_by_id(id)
            .one(&write.txn)
            .await?
            .filter(side),
        None => None,
    };
    // Lock the client as creating a period does, then read the engagement again: its end is
    // decided against the client's other periods as they are now.
    let found = match found {
        Some(found) => {
            lock_organization(&write.txn, found.client_id).await?;
            engagement::Entity::find_by_id(found.id)
                .one(&write.txn)
                .await?
                .filter(side)
        }
        None => None,
    };
    let today = write.now.date_naive();
    match &found {
        None if input.id.is_some() => {
            check.fail("id", UserErrorCode::NotFound, "no engagement with this id");
        }
        None => {}
        Some(found) if input.ends_on <= found.starts_on => {
            check.fail(
                "endsOn",
                UserErrorCode::Invalid,
                "`endsOn` must be after the engagement starts",
            );
        }
        Some(found) if found.ends_on.is_some_and(|ends_on| ends_on <= today) => {
            check.fail(
                "id",
                UserErrorCode::InvalidState,
                "the engagement has already ended",
            );
        }
        Some(found) => {
            if let Some(other) = overlapping_engagement(
                &write.txn,
                found.provider_id,
                found.client_id,
                found.starts_on,
                Some(input.ends_on),
                Some(found.id),
            )
            .await?
            {
                check.fail(
                    "endsOn",
                    UserErrorCode::InvalidState,
                    format!(
                        "overlaps the engagement starting {}; end before it starts",
                        other.starts_on
                    ),
                );
            }
        }
    }
    let (Some(found), true) = (found, check.is_ok()) else {
        return Err(check.into());
    };
    let (provider, client) = (found.provider_id, found.client_id);
    let mut model = found.into_active_model();
    model.ends_on = Set(Some(input.ends_on));
    model.updated_at = Set(write.now);
    let updated = model.update(&write.txn).await?;
    let mut write = write;
    write.access_changed(provider);
    write.access_changed(client);
    write.commit().await?;
    Ok(updated)
}

/// Creates a team in an organization whose directory the actor manages.
///
/// # Errors
/// [`ServiceError::Forbidden`] for a non-admin or another organization's directory (see
/// [`require_own_directory`]); [`ServiceError::Refused`] for bad text, an organization the
/// actor does not administer, or a name the organization already uses; database errors.
pub async fn create_team(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: NewTeam,
    mut check: Check,
) -> ServiceResult<team::Model> {
    require_role(actor, ADMINS, "createTeam")?;
    let name = check.text("name", &input.name, MAX_NAME);
    let description =
        check.optional_text("description", input.description.as_deref(), MAX_DESCRIPTION);
    let write = UnitOfWork::begin(db, events, actor, None, None).await?;
    let owner = administered(
        &write.txn,
        actor,
        &mut check,
        "organizationId",
        input.organization_id,
    )
    .await?;
    if let Some(owner) = &owner {
        require_own_directory(&write.txn, actor, owner.id).await?;
    }
    if let (Some(owner), Some(name)) = (&owner, &name)
        && team_name_taken(&write.txn, owner.id, name, None).await?
    {
        check.fail("name", UserErrorCode::Taken, TEAM_NAME_TAKEN);
    }
    let (Some(name), Some(description), Some(owner), true) =
        (name, description, owner, check.is_ok())
    else {
        return Err(check.into());
    };
    let created = team::Model {
        id: Uuid::now_v7(),
        organization_id: owner.id,
        name,
        description,
        created_at: write.now,
        updated_at: write.now,
    }
    .into_active_model()
    .insert(&write.txn)
    .await
    .map_err(|error| ServiceError::taken_or(error, "name", TEAM_NAME_TAKEN))?;
    write.commit().await?;
    Ok(created)
}

/// Renames or redescribes a team whose organization's directory the actor manages.
///
/// # Errors
/// As [`create_team`]; a team the actor cannot see is `NOT_FOUND`.
pub async fn update_team(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: TeamChange,
    mut check: Check,
) -> ServiceResult<team::Model> {
    require_role(actor, ADMINS, "updateTeam")?;
    let write = UnitOfWork::begin(db, events, actor, None, None).await?;
    let found = directory_team(&write.txn, actor, &mut check, "id", input.id).await?;
    let name = input
        .name
        .as_deref()
        .map(|name| check.text("name", name, MAX_NAME));
    let description = input
        .description
        .as_deref()
        .map(|text| check.optional_text("description", Some(text), MAX_DESCRIPTION));
    if let (Some(found), Some(Some(name))) = (&found, &name)
        && team_name_taken(&write.txn, found.organization_id, name, Some(found.id)).await?
    {
        check.fail("name", UserErrorCode::Taken, TEAM_NAME_TAKEN);
    }
    let (Some(found), true) = (found, check.is_ok()) else {
        return Err(check.into());
    };
    let mut model = found.into_active_model();
    if let Some(Some(name)) = name {
        model.name = Set(name);
    }
    if let Some(Some(description)) = description {
        model.description = Set(description);
    }
    model.updated_at = Set(write.now);
    let updated = model
        .update(&write.txn)
        .await
        .map_err(|error| ServiceError::taken_or(error, "name", TEAM_NAME_TAKEN))?;
    write.commit().await?;
    Ok(updated)
}

/// Adds a person to an organization whose directory the actor manages.
///
/// # Errors
/// [`ServiceError::Forbidden`] for a non-admin or another organization's directory;
/// [`ServiceError::Refused`] for bad text or email, a subject another person has, or an
/// organization the actor does not administer; database errors.
pub async fn create_person(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: NewPerson,
    mut check: Check,
) -> ServiceResult<person::Model> {
    require_role(actor, ADMINS, "createPerson")?;
    let subject = check.text("subject", &input.subject, MAX_SUBJECT);
    let display_name = check.text("displayName", &input.display_name, MAX_NAME);
    let email = check.optional_text("email", input.email.as_deref(), MAX_EMAIL);
    if let Some(Some(email)) = &email {
        check_email(&mut check, email);
    }
    let write = UnitOfWork::begin(db, events, actor, None, None).await?;
    let owner = administered(
        &write.txn,
        actor,
        &mut check,
        "organizationId",
        input.organization_id,
    )
    .await?;
    if let Some(owner) = &owner {
        require_own_directory(&write.txn, actor, owner.id).await?;
    }
    // Only a caller who may create the person learns whether the subject is taken.
    if owner.is_some()
        && let Some(subject) = &subject
        && person::Entity::find()
            .filter(person::COLUMN.subject.eq(subject.as_str()))
            .one(&write.txn)
            .await?
            .is_some()
    {
        check.fail("subject", UserErrorCode::Taken, SUBJECT_TAKEN);
    }
    let (Some(subject), Some(display_name), Some(email), Some(owner), true) =
        (subject, display_name, email, owner, check.is_ok())
    else {
        return Err(check.into());
    };
    let created = person::Model {
        id: Uuid::now_v7(),
        organization_id: owner.id,
        subject,
        display_name,
        email,
        role: input.role,
        active: true,
        created_at: write.now,
        updated_at: write.now,
    }
    .into_active_model()
    .insert(&write.txn)
    .await
    .map_err(|error| ServiceError::taken_or(error, "subject", SUBJECT_TAKEN))?;
    write.commit().await?;
    Ok(created)
}

/// Changes a person's name, email, role or whether they may sign in. Admins never deactivate or
/// demote themselves.
///
/// # Errors
/// [`ServiceError::Forbidden`] for a non-admin, another organization's directory, or an actor
/// who has stopped being an active admin since their token was checked;
/// [`ServiceError::Refused`] for a person the actor cannot see, an admin deactivating or
/// demoting themselves, or bad text or email; database errors.
pub async fn update_person(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: PersonChange,
    mut check: Check,
) -> ServiceResult<person::Model> {
    require_role(actor, ADMINS, "updatePerson")?;
    let write = UnitOfWork::begin(db, events, actor, None, None).await?;
    let visible = |found: &person::Model| actor.can_see_organization(found.organization_id);
    let found = match input.id {
        Some(id) => person::Entity::find_by_id(id)
            .one(&write.txn)
            .await?
            .filter(visible),
        None => None,
    };
    // Lock the person's organization, then read the person again: who is an active admin there
    // is decided one write at a time.
    let found = match found {
        Some(found) => {
            lock_organization(&write.txn, found.organization_id).await?;
            person::Entity::find_by_id(found.id)
                .one(&write.txn)
                .await?
                .filter(visible)
        }
        None => None,
    };
    match &found {
        Some(found) => require_own_directory(&write.txn, actor, found.organization_id).await?,
        None if input.id.is_some() => {
            check.fail("id", UserErrorCode::NotFound, "no person with this id");
        }
        None => {}
    }
    let removes_admin =
        input.active == Some(false) || input.role.is_some_and(|role| role != Role::Admin);
    if let Some(found) = &found
        && removes_admin
    {
        if found.id == actor.person.id {
            check.fail(
                "id",
                UserErrorCode::InvalidState,
                "admins cannot deactivate or demote themselves",
            );
        } else if found.active && found.role == Role::Admin {
            // Two admins deactivating each other at once would leave the organization with no
            // admin (and open it to its provider): the second finds the first has removed them.
            require_active_admin(&write.txn, actor).await?;
        }
    }
    let display_name = input
        .display_name
        .as_deref()
        .map(|name| check.text("displayName", name, MAX_NAME));
    let email = input
        .email
        .as_deref()
        .map(|email| check.optional_text("email", Some(email), MAX_EMAIL));
    if let Some(Some(Some(email))) = &email {
        check_email(&mut check, email);
    }
    let (Some(found), true) = (found, check.is_ok()) else {
        return Err(check.into());
    };
    let mut model = found.into_active_model();
    if let Some(Some(name)) = display_name {
        model.display_name = Set(name);
    }
    if let Some(Some(email)) = email {
        model.email = Set(email);
    }
    if let Some(role) = input.role {
        model.role = Set(role);
    }
    if let Some(active) = input.active {
        model.active = Set(active);
    }
    model.updated_at = Set(write.now);
    let updated = model.update(&write.txn).await?;
    let mut write = write;
    if input.role.is_some() || input.active.is_some() {
        write.access_changed(updated.organization_id);
    } else {
        // A cached caller holds the person's name, which their change log entries record.
        write.callers_changed();
    }
    write.commit().await?;
    Ok(updated)
}

/// Adds a person to a team of their organization; adding a member again changes nothing, so
/// retries are safe. Answers the team.
///
/// # Errors
/// [`ServiceError::Forbidden`] for a non-admin or another organization's directory;
/// [`ServiceError::Refused`] for a team the actor cannot see or a person outside the team's
/// organization; database errors.
pub async fn add_team_member(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: Membership,
    check: Check,
) -> ServiceResult<team::Model> {
    membership(db, events, actor, input, check, true).await
}

/// Removes a person from a team; removing a non-member changes nothing. Answers the team.
///
/// # Errors
/// As [`add_team_member`].
pub async fn remove_team_member(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: Membership,
    check: Check,
) -> ServiceResult<team::Model> {
    membership(db, events, actor, input, check, false).await
}

async fn membership(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: Membership,
    mut check: Check,
    add: bool,
) -> ServiceResult<team::Model> {
    require_role(
        actor,
        ADMINS,
        if add {
            "addTeamMember"
        } else {
            "removeTeamMember"
        },
    )?;
    let write = UnitOfWork::begin(db, events, actor, None, None).await?;
    let found = directory_team(&write.txn, actor, &mut check, "teamId", input.team_id).await?;
    let person = match input.person_id {
        Some(id) => person::Entity::find_by_id(id).one(&write.txn).await?,
        None => None,
    };
    let person = person.filter(|person| {
        found
            .as_ref()
            .is_some_and(|team| team.organization_id == person.organization_id)
    });
    if person.is_none() && input.person_id.is_some() {
        check.fail(
            "personId",
            UserErrorCode::NotFound,
            "no person with this id in the team's organization",
        );
    }
    let (Some(found), Some(person), true) = (found, person, check.is_ok()) else {
        return Err(check.into());
    };
    let existing = team_membership::Entity::find()
        .filter(team_membership::COLUMN.team_id.eq(found.id))
        .filter(team_membership::COLUMN.person_id.eq(person.id))
        .one(&write.txn)
        .await?;
    match (add, existing) {
        (true, None) => {
            let inserted = team_membership::Model {
                team_id: found.id,
                person_id: person.id,
                created_at: write.now,
            }
            .into_active_model()
            .insert(&write.txn)
            .await;
            match inserted {
                Ok(_) => {}
                // A concurrent call added the same member: the outcome is the one asked for.
                // The failed statement ended the transaction (PostgreSQL), so nothing commits.
                Err(error)
                    if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) =>
                {
                    return Ok(found);
                }
                Err(error) => return Err(error.into()),
            }
        }
        (false, Some(existing)) => {
            existing.into_active_model().delete(&write.txn).await?;
        }
        // Adding a member twice or removing a non-member changes nothing: retries are safe.
        _ => return Ok(found),
    }
    write.commit().await?;
    Ok(found)
}

/// Locks organization `id` for the rest of the transaction and reads it again. PostgreSQL
/// `FOR NO KEY UPDATE`: other directory writes of the organization (and engagement changes of a
/// client, which lock the client) wait, inserts that refer to it do not. SQLite needs no row
/// lock: its writers already take turns.
///
/// # Errors
/// Database errors.
pub async fn lock_organization(
    txn: &DatabaseTransaction,
    id: Uuid,
) -> Result<Option<organization::Model>, DbErr> {
    organization::Entity::find_by_id(id)
        .lock(LockType::NoKeyUpdate)
        .one(txn)
        .await
}

/// The organization `id`, locked, if the actor administers it: their own, or a client their
/// provider organization serves; else a `NOT_FOUND` user error on `field`.
async fn administered(
    txn: &DatabaseTransaction,
    actor: &Viewer,
    check: &mut Check,
    field: &str,
    id: Option<Uuid>,
) -> Result<Option<organization::Model>, DbErr> {
    let Some(id) = id else { return Ok(None) };
    // Decided on the id alone, so no other tenant's row is ever locked.
    let administers = id == actor.organization.id
        || (actor.organization.kind == OrganizationKind::Provider
            && actor.can_see_organization(id));
    let found = if administers {
        lock_organization(txn, id).await?
    } else {
        None
    };
    if found.is_none() {
        check.fail(
            field,
            UserErrorCode::NotFound,
            "no organization with this id",
        );
    }
    Ok(found)
}

/// The team `id` if the actor may see it, with its organization locked and the actor allowed
/// to manage that organization's directory; else a `NOT_FOUND` user error on `field`.
async fn directory_team(
    txn: &DatabaseTransaction,
    actor: &Viewer,
    check: &mut Check,
    field: &str,
    id: Option<Uuid>,
) -> ServiceResult<Option<team::Model>> {
    let Some(id) = id else { return Ok(None) };
    let visible = |found: &team::Model| actor.can_see_organization(found.organization_id);
    let found = team::Entity::find_by_id(id).one(txn).await?.filter(visible);
    let found = match found {
        Some(found) => {
            lock_organization(txn, found.organization_id).await?;
            team::Entity::find_by_id(id).one(txn).await?.filter(visible)
        }
        None => None,
    };
    match &found {
        Some(found) => require_own_directory(txn, actor, found.organization_id).await?,
        None => check.fail(field, UserErrorCode::NotFound, "no team with this id"),
    }
    Ok(found)
}

/// Refuses unless the actor's person is, as of this transaction, an active admin.
async fn require_active_admin(txn: &DatabaseTransaction, actor: &Viewer) -> ServiceResult<()> {
    let current = person::Entity::find_by_id(actor.person.id).one(txn).await?;
    if current.is_some_and(|current| current.active && current.role == Role::Admin) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(
            "the caller is no longer an active admin".to_owned(),
        ))
    }
}

/// Another engagement period of `provider_id` and `client_id` (not `except`) that overlaps
/// `[starts_on, ends_on)`.
async fn overlapping_engagement(
    txn: &DatabaseTransaction,
    provider_id: Uuid,
    client_id: Uuid,
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
    except: Option<Uuid>,
) -> Result<Option<engagement::Model>, DbErr> {
    Ok(engagement::Entity::find()
        .filter(engagement::COLUMN.provider_id.eq(provider_id))
        .filter(engagement::COLUMN.client_id.eq(client_id))
        .all(txn)
        .await?
        .into_iter()
        .filter(|existing| Some(existing.id) != except)
        .find(|existing| {
            let starts_before_other_ends =
                ends_on.is_none_or(|ends_on| existing.starts_on < ends_on);
            let other_starts_before_end = existing
                .ends_on
                .is_none_or(|other_ends_on| starts_on < other_ends_on);
            starts_before_other_ends && other_starts_before_end
        }))
}

async fn team_name_taken(
    txn: &DatabaseTransaction,
    organization_id: Uuid,
    name: &str,
    except: Option<Uuid>,
) -> Result<bool, DbErr> {
    let mut select = team::Entity::find()
        .filter(team::COLUMN.organization_id.eq(organization_id))
        .filter(team::COLUMN.name.eq(name));
    if let Some(except) = except {
        select = select.filter(team::COLUMN.id.ne(except));
    }
    Ok(select.one(txn).await?.is_some())
}

fn valid_slug(slug: &str) -> bool {
    (2..=63).contains(&slug.len())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
}

/// Records an `INVALID` error on `email` unless it looks like an email address.
fn check_email(check: &mut Check, email: &str) {
    let mut parts = email.split('@');
    let valid = matches!((parts.next(), parts.next(), parts.next()), (Some(local), Some(domain), None)
        if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !email.contains(char::is_whitespace));
    if !valid {
        check.fail(
            "email",
            UserErrorCode::Invalid,
            format!("`{email}` is not an email address"),
        );
    }
}
