//! Tickets (create, update, assign, change status, add a note) and alerts (acknowledge,
//! resolve). Each change to a ticket or alert is also a change log entry of its environment;
//! notes are conversation, not changes, and write none.

use async_graphql::{Context, ID, InputObject, Object, Result, ResultExt};
use chrono::{SubsecRound, Utc};
use entities::enums::{AlertStatus, ChangeCategory};
use entities::{
    alert, engagement, environment, function, person, system, team, ticket, ticket_note,
};
use sea_orm::prelude::*;
use sea_orm::{IntoActiveModel, QueryFilter, Set};
use serde_json::{Map, Value, json};

use crate::auth::Viewer;
use crate::error::ApiResult;
use crate::graphql::context::ContextExt;
use crate::graphql::mutation::change_log::MAX_REASON;
use crate::graphql::mutation::{
    ChangeNote, Check, CheckIds, UserErrorCode, WRITERS, WRITERS_AND_SYNC, diff, payload,
    require_role, visible_environment,
};
use crate::graphql::query::directory::active_on;
use crate::graphql::types::enums::{Priority, TicketStatus};
use crate::graphql::types::{Alert, Ticket, TicketNote};
use crate::ids::NodeType;
use crate::matrix::{DEFAULT_TICKET_FUNCTION, Router};

const MAX_TITLE: usize = 300;
const MAX_TEXT: usize = 20_000;

/// Writing tickets and alerts.
#[derive(Default)]
pub struct WorkMutation;

/// A new ticket.
#[derive(InputObject)]
pub struct CreateTicketInput {
    /// The environment it is about.
    pub environment_id: ID,
    /// Title (at most 300 characters).
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Priority (default MEDIUM).
    #[graphql(default_with = "Priority::Medium")]
    pub priority: Priority,
    /// The system it is about, in the same environment.
    pub system_id: Option<ID>,
    /// The function it falls under.
    pub function_id: Option<ID>,
    /// The team to work it: the client's or a provider's serving the client. When omitted, the
    /// ticket is routed to the team the matrix names responsible for its system and function
    /// (`service_desk` when no function is given); see `Ticket.routing`.
    pub assigned_team_id: Option<ID>,
    /// Who asked.
    pub requester: Option<String>,
    /// Why (goes to the change log).
    pub reason: Option<String>,
}

/// Changes to a ticket; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateTicketInput {
    /// The ticket.
    pub id: ID,
    /// New title.
    pub title: Option<String>,
    /// New description (empty text clears it).
    pub description: Option<String>,
    /// New priority.
    pub priority: Option<Priority>,
    /// New system, in the same environment.
    pub system_id: Option<ID>,
    /// New function.
    pub function_id: Option<ID>,
    /// Why (goes to the change log).
    pub reason: Option<String>,
}

/// Who should work a ticket.
#[derive(InputObject)]
pub struct AssignTicketInput {
    /// The ticket.
    pub id: ID,
    /// The team: the client's or a provider's serving the client.
    pub team_id: ID,
    /// A person of that team, if one person should work it.
    pub person_id: Option<ID>,
    /// Why (goes to the change log).
    pub reason: Option<String>,
}

/// A ticket's new status.
#[derive(InputObject)]
pub struct ChangeTicketStatusInput {
    /// The ticket.
    pub id: ID,
    /// The new status.
    pub status: TicketStatus,
    /// Why (goes to the change log).
    pub reason: Option<String>,
}

/// A note on a ticket.
#[derive(InputObject)]
pub struct AddTicketNoteInput {
    /// The ticket.
    pub ticket_id: ID,
    /// The note (at most 20,000 characters).
    pub body: String,
    /// Internal notes are not shown to the requester (default false).
    #[graphql(default)]
    pub internal: bool,
}

/// An alert to acknowledge or resolve.
#[derive(InputObject)]
pub struct AlertActionInput {
    /// The alert.
    pub id: ID,
    /// Why (goes to the change log).
    pub reason: Option<String>,
}

payload! {
    /// The result of a ticket mutation.
    TicketPayload {
        /// The ticket as it is now.
        ticket: Ticket
    }
}

payload! {
    /// The result of `addTicketNote`.
    TicketNotePayload {
        /// The note.
        note: TicketNote
    }
}

payload! {
    /// The result of an alert mutation.
    AlertPayload {
        /// The alert as it is now.
        alert: Alert
    }
}

#[Object]
impl WorkMutation {
    /// Opens a ticket (status NEW).
    async fn create_ticket(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: CreateTicketInput,
    ) -> Result<TicketPayload> {
        create_ticket(ctx, input).await.extend()
    }

    /// Changes a ticket's title, description, priority, system or function.
    async fn update_ticket(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: UpdateTicketInput,
    ) -> Result<TicketPayload> {
        update_ticket(ctx, input).await.extend()
    }

    /// Assigns a ticket to a team (and optionally one of its people).
    async fn assign_ticket(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: AssignTicketInput,
    ) -> Result<TicketPayload> {
        assign_ticket(ctx, input).await.extend()
    }

    /// Moves a ticket to another status; resolving and closing stamp their times, reopening
    /// clears them.
    async fn change_ticket_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: ChangeTicketStatusInput,
    ) -> Result<TicketPayload> {
        change_ticket_status(ctx, input).await.extend()
    }

    /// Adds a note to a ticket.
    async fn add_ticket_note(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: AddTicketNoteInput,
    ) -> Result<TicketNotePayload> {
        add_ticket_note(ctx, input).await.extend()
    }

    /// Acknowledges an open alert: someone is on it.
    async fn acknowledge_alert(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: AlertActionInput,
    ) -> Result<AlertPayload> {
        alert_action(ctx, input, AlertStatus::Acknowledged)
            .await
            .extend()
    }

    /// Resolves an alert.
    async fn resolve_alert(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: AlertActionInput,
    ) -> Result<AlertPayload> {
        alert_action(ctx, input, AlertStatus::Resolved)
            .await
            .extend()
    }
}

/// The team `id` if it may work in `environment`: a team of the client, or of a provider with an
/// engagement active today; else a `NOT_FOUND` user error on `field`.
///
/// # Errors
/// Database errors.
pub async fn team_for_environment(
    db: &impl ConnectionTrait,
    check: &mut Check,
    field: &str,
    environment: &environment::Model,
    id: Option<Uuid>,
) -> ApiResult<Option<team::Model>> {
    let Some(id) = id else { return Ok(None) };
    let found = team::Entity::find_by_id(id).one(db).await?;
    let allowed = match &found {
        Some(found) if found.organization_id == environment.organization_id => true,
        Some(found) => active_on(engagement::Entity::find(), Utc::now().date_naive())
            .filter(engagement::COLUMN.client_id.eq(environment.organization_id))
            .filter(engagement::COLUMN.provider_id.eq(found.organization_id))
            .one(db)
            .await?
            .is_some(),
        None => false,
    };
    if !allowed {
        check.fail(
            field,
            UserErrorCode::NotFound,
            "no team with this id works in the environment",
        );
        return Ok(None);
    }
    Ok(found)
}

async fn system_in(
    db: &impl ConnectionTrait,
    check: &mut Check,
    field: &str,
    environment_id: Uuid,
    id: Option<Uuid>,
) -> ApiResult<Option<system::Model>> {
    let Some(id) = id else { return Ok(None) };
    let found = system::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|found| found.environment_id == environment_id);
    if found.is_none() {
        check.fail(
            field,
            UserErrorCode::NotFound,
            "no system with this id in the environment",
        );
    }
    Ok(found)
}

async fn function_for(
    db: &impl ConnectionTrait,
    check: &mut Check,
    field: &str,
    environment: &environment::Model,
    id: Option<Uuid>,
) -> ApiResult<Option<function::Model>> {
    let Some(id) = id else { return Ok(None) };
    let found = function::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|found| {
            found
                .organization_id
                .is_none_or(|owner| owner == environment.organization_id)
        });
    if found.is_none() {
        check.fail(field, UserErrorCode::NotFound, "no function with this id");
    }
    Ok(found)
}

async fn visible_ticket(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    check: &mut Check,
    field: &str,
    id: &ID,
) -> ApiResult<Option<(ticket::Model, environment::Model)>> {
    let Some(id) = check.id(field, NodeType::Ticket, id) else {
        return Ok(None);
    };
    let Some(found) = ticket::Entity::find_by_id(id).one(db).await? else {
        check.fail(field, UserErrorCode::NotFound, "no ticket with this id");
        return Ok(None);
    };
    match visible_environment(
        db,
        viewer,
        &mut Check::default(),
        field,
        Some(found.environment_id),
    )
    .await?
    {
        Some(environment) => Ok(Some((found, environment))),
        None => {
            check.fail(field, UserErrorCode::NotFound, "no ticket with this id");
            Ok(None)
        }
    }
}

async fn create_ticket(ctx: &Context<'_>, input: CreateTicketInput) -> ApiResult<TicketPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, WRITERS_AND_SYNC, "createTicket")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let title = check.text("title", &input.title, MAX_TITLE);
    let description = check.optional_text("description", input.description.as_deref(), MAX_TEXT);
    let requester = check.optional_text("requester", input.requester.as_deref(), MAX_TITLE);
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let environment_id = check.id(
        "environmentId",
        NodeType::Environment,
        &input.environment_id,
    );
    let system_id = input
        .system_id
        .as_ref()
        .and_then(|id| check.id("systemId", NodeType::System, id));
    let function_id = input
        .function_id
        .as_ref()
        .and_then(|id| check.id("functionId", NodeType::Function, id));
    let team_id = input
        .assigned_team_id
        .as_ref()
        .and_then(|id| check.id("assignedTeamId", NodeType::Team, id));
    let environment =
        visible_environment(db, viewer, &mut check, "environmentId", environment_id).await?;
    if let Some(environment) = &environment {
        system_in(db, &mut check, "systemId", environment.id, system_id).await?;
        function_for(db, &mut check, "functionId", environment, function_id).await?;
        team_for_environment(db, &mut check, "assignedTeamId", environment, team_id).await?;
    }
    let (Some(title), Some(description), Some(requester), Some(reason), Some(environment), true) = (
        title,
        description,
        requester,
        reason,
        environment,
        check.is_ok(),
    ) else {
        return Ok(TicketPayload::refused(check.into_errors()));
    };
    let mut write = crate::graphql::mutation::begin(ctx, viewer, reason, None).await?;
    let route = match team_id {
        Some(_) => None,
        None => {
            let router = Router::load(&write.txn, [environment.id]).await?;
            function_id
                .or_else(|| {
                    router.function_id(environment.organization_id, DEFAULT_TICKET_FUNCTION)
                })
                .map(|function| router.route(environment.id, function, system_id, write.now))
        }
    };
    let created = ticket::Model {
        id: Uuid::now_v7(),
        organization_id: None,
        environment_id: environment.id,
        system_id,
        function_id,
        integration_id: None,
        title,
        description,
        status: entities::enums::TicketStatus::New,
        priority: input.priority.into(),
        external_status: None,
        external_priority: None,
        requester,
        assigned_team_id: team_id.or(route.as_ref().and_then(|route| route.team_id)),
        assigned_person_id: None,
        routed_by_id: route.as_ref().and_then(|route| route.responsibility_id),
        routing_reason: route.map(|route| route.reason),
        created_at: write.now,
        updated_at: write.now,
        resolved_at: None,
        closed_at: None,
        external_source: None,
        external_id: None,
        external_url: None,
    }
    .into_active_model()
    .insert(&write.txn)
    .await?;
    write.ticket_id = Some(created.id);
    write.ticket_changed(&created);
    write
        .record(ChangeNote {
            environment_id: environment.id,
            system_ids: system_id.into_iter().collect(),
            summary: format!("Opened ticket: {}", created.title),
            details: json!({ "ticket": {
                "title": created.title,
                "priority": created.priority,
                "assigned_team_id": created.assigned_team_id,
                "routing_reason": created.routing_reason,
            } }),
            category: ChangeCategory::Incident,
        })
        .await?;
    write.commit().await?;
    Ok(TicketPayload::done(Ticket(created)))
}

async fn save_ticket(
    ctx: &Context<'_>,
    viewer: &Viewer,
    current: ticket::Model,
    mut model: ticket::ActiveModel,
    changes: Map<String, Value>,
    reason: Option<String>,
    summary: String,
) -> ApiResult<TicketPayload> {
    if changes.is_empty() {
        return Ok(TicketPayload::done(Ticket(current)));
    }
    let mut write = crate::graphql::mutation::begin(ctx, viewer, reason, Some(current.id)).await?;
    model.updated_at = Set(write.now);
    let updated = model.update(&write.txn).await?;
    write.ticket_changed(&updated);
    write
        .record(ChangeNote {
            environment_id: updated.environment_id,
            system_ids: updated.system_id.into_iter().collect(),
            summary,
            details: json!({ "changes": changes }),
            category: ChangeCategory::Incident,
        })
        .await?;
    write.commit().await?;
    Ok(TicketPayload::done(Ticket(updated)))
}

async fn update_ticket(ctx: &Context<'_>, input: UpdateTicketInput) -> ApiResult<TicketPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, WRITERS_AND_SYNC, "updateTicket")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let Some((current, environment)) =
        visible_ticket(db, viewer, &mut check, "id", &input.id).await?
    else {
        return Ok(TicketPayload::refused(check.into_errors()));
    };
    let title = input
        .title
        .as_deref()
        .map(|title| check.text("title", title, MAX_TITLE));
    let description = input
        .description
        .as_deref()
        .map(|text| check.optional_text("description", Some(text), MAX_TEXT));
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let system_id = input
        .system_id
        .as_ref()
        .and_then(|id| check.id("systemId", NodeType::System, id));
    let function_id = input
        .function_id
        .as_ref()
        .and_then(|id| check.id("functionId", NodeType::Function, id));
    system_in(db, &mut check, "systemId", environment.id, system_id).await?;
    function_for(db, &mut check, "functionId", &environment, function_id).await?;
    let (Some(reason), true) = (reason, check.is_ok()) else {
        return Ok(TicketPayload::refused(check.into_errors()));
    };
    let mut changes = Map::new();
    let mut model = current.clone().into_active_model();
    if let Some(Some(title)) = title {
        diff(&mut changes, "title", current.title.clone(), title.clone());
        model.title = Set(title);
    }
    if let Some(Some(description)) = description {
        diff(
            &mut changes,
            "description",
            current.description.clone(),
            description.clone(),
        );
        model.description = Set(description);
    }
    if let Some(priority) = input.priority {
        let priority: entities::enums::Priority = priority.into();
        diff(
            &mut changes,
            "priority",
            json!(current.priority),
            json!(priority),
        );
        model.priority = Set(priority);
    }
    if let Some(system_id) = system_id {
        diff(
            &mut changes,
            "system_id",
            current.system_id.map(|id| id.to_string()),
            system_id.to_string(),
        );
        model.system_id = Set(Some(system_id));
    }
    if let Some(function_id) = function_id {
        diff(
            &mut changes,
            "function_id",
            current.function_id.map(|id| id.to_string()),
            function_id.to_string(),
        );
        model.function_id = Set(Some(function_id));
    }
    let summary = format!("Updated ticket: {}", current.title);
    save_ticket(ctx, viewer, current, model, changes, reason, summary).await
}

async fn assign_ticket(ctx: &Context<'_>, input: AssignTicketInput) -> ApiResult<TicketPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, WRITERS_AND_SYNC, "assignTicket")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let Some((current, environment)) =
        visible_ticket(db, viewer, &mut check, "id", &input.id).await?
    else {
        return Ok(TicketPayload::refused(check.into_errors()));
    };
    let team_id = check.id("teamId", NodeType::Team, &input.team_id);
    let team = team_for_environment(db, &mut check, "teamId", &environment, team_id).await?;
    let person_id = input
        .person_id
        .as_ref()
        .and_then(|id| check.id("personId", NodeType::Person, id));
    if let (Some(team), Some(person_id)) = (&team, person_id) {
        let member = entities::team_membership::Entity::find()
            .filter(entities::team_membership::COLUMN.team_id.eq(team.id))
            .filter(entities::team_membership::COLUMN.person_id.eq(person_id))
            .one(db)
            .await?;
        if member.is_none() {
            check.fail(
                "personId",
                UserErrorCode::NotFound,
                "no person with this id in the team",
            );
        }
    }
    let (Some(reason), Some(team), true) = (reason, team, check.is_ok()) else {
        return Ok(TicketPayload::refused(check.into_errors()));
    };
    let mut changes = Map::new();
    diff(
        &mut changes,
        "assigned_team_id",
        current.assigned_team_id.map(|id| id.to_string()),
        team.id.to_string(),
    );
    diff(
        &mut changes,
        "assigned_person_id",
        current.assigned_person_id.map(|id| id.to_string()),
        person_id.map(|id| id.to_string()),
    );
    let person_name = match person_id {
        Some(id) => person::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|found| format!(" ({})", found.display_name)),
        None => None,
    };
    let mut model = current.clone().into_active_model();
    model.assigned_team_id = Set(Some(team.id));
    model.assigned_person_id = Set(person_id);
    // A manual assignment replaces the matrix's routing decision.
    model.routed_by_id = Set(None);
    model.routing_reason = Set(Some(format!("assigned by {}", viewer.person.display_name)));
    let summary = format!(
        "Assigned ticket to {}{}: {}",
        team.name,
        person_name.unwrap_or_default(),
        current.title
    );
    save_ticket(ctx, viewer, current, model, changes, reason, summary).await
}

async fn change_ticket_status(
    ctx: &Context<'_>,
    input: ChangeTicketStatusInput,
) -> ApiResult<TicketPayload> {
    use entities::enums::TicketStatus as Stored;
    let viewer = ctx.viewer()?;
    require_role(viewer, WRITERS_AND_SYNC, "changeTicketStatus")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let Some((current, _)) = visible_ticket(db, viewer, &mut check, "id", &input.id).await? else {
        return Ok(TicketPayload::refused(check.into_errors()));
    };
    let status: Stored = input.status.into();
    if current.status == Stored::Closed && status == Stored::Resolved {
        check.fail(
            "status",
            UserErrorCode::InvalidState,
            "a closed ticket is reopened to IN_PROGRESS, not resolved again",
        );
    }
    let (Some(reason), true) = (reason, check.is_ok()) else {
        return Ok(TicketPayload::refused(check.into_errors()));
    };
    let mut changes = Map::new();
    diff(&mut changes, "status", json!(current.status), json!(status));
    let now = Utc::now().trunc_subsecs(6);
    let mut model = current.clone().into_active_model();
    model.status = Set(status);
    match status {
        Stored::Resolved => model.resolved_at = Set(Some(current.resolved_at.unwrap_or(now))),
        Stored::Closed => {
            model.resolved_at = Set(Some(current.resolved_at.unwrap_or(now)));
            model.closed_at = Set(Some(now));
        }
        _ => {
            model.resolved_at = Set(None);
            model.closed_at = Set(None);
        }
    }
    let summary = format!(
        "Ticket {}: {}",
        sea_orm::ActiveEnum::to_value(&status),
        current.title
    );
    save_ticket(ctx, viewer, current, model, changes, reason, summary).await
}

async fn add_ticket_note(
    ctx: &Context<'_>,
    input: AddTicketNoteInput,
) -> ApiResult<TicketNotePayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, WRITERS_AND_SYNC, "addTicketNote")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let body = check.text("body", &input.body, MAX_TEXT);
    let ticket = visible_ticket(db, viewer, &mut check, "ticketId", &input.ticket_id).await?;
    let (Some(body), Some((ticket, _)), true) = (body, ticket, check.is_ok()) else {
        return Ok(TicketNotePayload::refused(check.into_errors()));
    };
    let mut write = crate::graphql::mutation::begin(ctx, viewer, None, Some(ticket.id)).await?;
    let note = ticket_note::Model {
        id: Uuid::now_v7(),
        ticket_id: ticket.id,
        author_id: Some(viewer.person.id),
        author_name: None,
        body,
        internal: input.internal,
        created_at: write.now,
        external_source: None,
        external_id: None,
        external_url: None,
    }
    .into_active_model()
    .insert(&write.txn)
    .await?;
    let mut model = ticket.into_active_model();
    model.updated_at = Set(write.now);
    let updated = model.update(&write.txn).await?;
    write.ticket_changed(&updated);
    write.commit().await?;
    Ok(TicketNotePayload::done(TicketNote(note)))
}

async fn alert_action(
    ctx: &Context<'_>,
    input: AlertActionInput,
    target: AlertStatus,
) -> ApiResult<AlertPayload> {
    let viewer = ctx.viewer()?;
    let operation = if target == AlertStatus::Acknowledged {
        "acknowledgeAlert"
    } else {
        "resolveAlert"
    };
    require_role(viewer, WRITERS, operation)?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let id = check.id("id", NodeType::Alert, &input.id);
    let found = match id {
        Some(id) => alert::Entity::find_by_id(id).one(db).await?,
        None => None,
    };
    let visible = match &found {
        Some(found) => visible_environment(
            db,
            viewer,
            &mut Check::default(),
            "id",
            Some(found.environment_id),
        )
        .await?
        .is_some(),
        None => false,
    };
    if id.is_some() && !visible {
        check.fail("id", UserErrorCode::NotFound, "no alert with this id");
    }
    if let Some(found) = found.as_ref().filter(|_| visible) {
        match (found.status, target) {
            (AlertStatus::Resolved, _) => check.fail(
                "id",
                UserErrorCode::InvalidState,
                "the alert is already resolved",
            ),
            (AlertStatus::Acknowledged, AlertStatus::Acknowledged) => {
                check.fail(
                    "id",
                    UserErrorCode::InvalidState,
                    "the alert is already acknowledged",
                );
            }
            _ => {}
        }
    }
    let (Some(reason), Some(current), true) = (reason, found, check.is_ok()) else {
        return Ok(AlertPayload::refused(check.into_errors()));
    };
    let mut write = crate::graphql::mutation::begin(ctx, viewer, reason, current.ticket_id).await?;
    let mut model = current.clone().into_active_model();
    model.status = Set(target);
    if current.acknowledged_at.is_none() {
        model.acknowledged_at = Set(Some(write.now));
        model.acknowledged_by_id = Set(Some(viewer.person.id));
    }
    if target == AlertStatus::Resolved {
        model.resolved_at = Set(Some(write.now));
    }
    model.updated_at = Set(write.now);
    let updated = model.update(&write.txn).await?;
    let verb = if target == AlertStatus::Acknowledged {
        "Acknowledged"
    } else {
        "Resolved"
    };
    write
        .record(ChangeNote {
            environment_id: updated.environment_id,
            system_ids: updated.system_id.into_iter().collect(),
            summary: format!("{verb} alert: {}", updated.message),
            details: json!({ "alert": { "status": { "from": current.status, "to": updated.status } } }),
            category: ChangeCategory::Incident,
        })
        .await?;
    write.commit().await?;
    Ok(AlertPayload::done(Alert(updated)))
}
