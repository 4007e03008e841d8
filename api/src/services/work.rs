//! Tickets (open, update, assign, change status, add a note) and alerts (acknowledge, resolve).
//!
//! The rules: a new ticket without a team is routed by the matrix in force at its creation
//! ([`Router`], [`DEFAULT_TICKET_FUNCTION`] when no function is given) and keeps that decision;
//! a ticket is worked by a team of the client or of a provider with an engagement active today;
//! a closed ticket is reopened, never resolved again, and resolving and closing stamp their
//! times while reopening clears them; a note is written by the actor; an alert is acknowledged
//! once and resolved once. Answering stops escalation (`services::escalation`): acknowledging or
//! resolving an alert; a ticket's first status change away from `NEW` or first note by a person
//! of its assigned team's organization (its `responded_at`), resolving or closing it, or
//! assigning it by hand. Each change to a ticket or alert is a change log entry of its
//! environment (category `INCIDENT`); notes are conversation, not changes, and write none.
//!
//! Every read that decides runs inside the write's transaction, and the ticket or alert being
//! changed is read locked (`FOR UPDATE` on PostgreSQL; SQLite's writers take turns), so two
//! callers changing the same row at once are decided one after the other, each from the state
//! the other left.

use entities::enums::{AlertStatus, ChangeCategory, Priority, TicketStatus};
use entities::{alert, environment, function, system, team_membership, ticket, ticket_note};
use sea_orm::prelude::*;
use sea_orm::sea_query::LockType;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, IntoActiveModel, QueryFilter, QuerySelect, Set,
};
use serde_json::{Map, Value, json};

use crate::auth::Viewer;
use crate::events::EventBus;
use crate::matrix::{DEFAULT_TICKET_FUNCTION, Router};
use crate::services::change_log::MAX_REASON;
use crate::services::scope::{person_for_environment, team_for_environment, visible_environment};
use crate::services::{
    ChangeNote, Check, ServiceResult, UnitOfWork, UserErrorCode, WRITERS, WRITERS_AND_SYNC, diff,
    require_role,
};

/// Longest ticket title or requester, in characters.
pub const MAX_TITLE: usize = 300;
/// Longest ticket description or note, in characters.
pub const MAX_TEXT: usize = 20_000;

/// A ticket to open. Ids are `None` when absent, or when the front door could not decode them
/// (the error is then in the `check` it passes).
pub struct NewTicket {
    /// The environment it is about.
    pub environment_id: Option<Uuid>,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Priority.
    pub priority: Priority,
    /// The system it is about, in the same environment.
    pub system_id: Option<Uuid>,
    /// The function it falls under.
    pub function_id: Option<Uuid>,
    /// The team to work it; routed by the matrix when absent.
    pub assigned_team_id: Option<Uuid>,
    /// Who asked.
    pub requester: Option<String>,
    /// Why (goes to the change log).
    pub reason: Option<String>,
}

/// Changes to ticket `id`; absent fields stay as they are.
pub struct TicketChanges {
    /// The ticket; `None` when the front door could not decode its id.
    pub id: Option<Uuid>,
    /// New title.
    pub title: Option<String>,
    /// New description; empty text clears it.
    pub description: Option<String>,
    /// New priority.
    pub priority: Option<Priority>,
    /// New system, in the same environment.
    pub system_id: Option<Uuid>,
    /// New function.
    pub function_id: Option<Uuid>,
    /// Why (goes to the change log).
    pub reason: Option<String>,
}

/// Who should work ticket `id`.
pub struct Assignment {
    /// The ticket; `None` when the front door could not decode its id.
    pub id: Option<Uuid>,
    /// The team; `None` when the front door could not decode its id.
    pub team_id: Option<Uuid>,
    /// A person of that team, if one person should work it.
    pub person_id: Option<Uuid>,
    /// Why (goes to the change log).
    pub reason: Option<String>,
}

/// Ticket `id`'s new status.
pub struct StatusChange {
    /// The ticket; `None` when the front door could not decode its id.
    pub id: Option<Uuid>,
    /// The new status.
    pub status: TicketStatus,
    /// Why (goes to the change log).
    pub reason: Option<String>,
}

/// A note on ticket `ticket_id`.
pub struct NewNote {
    /// The ticket; `None` when the front door could not decode its id.
    pub ticket_id: Option<Uuid>,
    /// The note.
    pub body: String,
    /// Internal notes are not shown to the requester.
    pub internal: bool,
}

/// Alert `id` to acknowledge or resolve.
pub struct AlertAction {
    /// The alert; `None` when the front door could not decode its id.
    pub id: Option<Uuid>,
    /// Why (goes to the change log).
    pub reason: Option<String>,
}

/// The system `id` if it is in `environment_id`, else a `NOT_FOUND` user error on `field`.
async fn system_in(
    db: &impl ConnectionTrait,
    check: &mut Check,
    field: &str,
    environment_id: Uuid,
    id: Option<Uuid>,
) -> Result<Option<system::Model>, DbErr> {
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

/// The function `id` if it is in the shared catalog or the environment's organization's own,
/// else a `NOT_FOUND` user error on `field`.
async fn function_for(
    db: &impl ConnectionTrait,
    check: &mut Check,
    field: &str,
    environment: &environment::Model,
    id: Option<Uuid>,
) -> Result<Option<function::Model>, DbErr> {
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

/// Ticket `id` and its environment if the actor may see it, else a `NOT_FOUND` user error on
/// `field` (another tenant's ticket and a missing one look the same). The ticket is read locked:
/// it is the row the write decides on and changes, so a concurrent change of it waits for this
/// transaction and then decides from what this one left.
async fn visible_ticket(
    write: &UnitOfWork<'_>,
    check: &mut Check,
    field: &str,
    id: Option<Uuid>,
) -> Result<Option<(ticket::Model, environment::Model)>, DbErr> {
    let Some(id) = id else { return Ok(None) };
    // Visibility first, from an unlocked read, so no other tenant's row is ever locked; then the
    // ticket is read again, locked (`NO KEY UPDATE`: notes and entries that reference it are not
    // blocked).
    let unlocked = ticket::Entity::find_by_id(id).one(&write.txn).await?;
    let environment = visible_environment(
        &write.txn,
        write.actor,
        &mut Check::default(),
        field,
        unlocked.as_ref().map(|found| found.environment_id),
    )
    .await?;
    let found = match environment {
        Some(environment) => ticket::Entity::find_by_id(id)
            .lock(LockType::NoKeyUpdate)
            .one(&write.txn)
            .await?
            .filter(|found| found.environment_id == environment.id)
            .map(|found| (found, environment)),
        None => None,
    };
    if found.is_none() {
        check.fail(field, UserErrorCode::NotFound, "no ticket with this id");
    }
    Ok(found)
}

/// Opens a ticket (status `NEW`) as `actor`. Without a team it is routed by the matrix in force
/// now: the entry for its system and function (`service_desk` when no function is given), and
/// the decision is kept on the ticket.
///
/// # Errors
/// [`ServiceError::Forbidden`](crate::services::ServiceError::Forbidden) for a role that may not
/// write; [`ServiceError::Refused`](crate::services::ServiceError::Refused) for bad text or an
/// environment, system, function or team the actor cannot name; database errors.
pub async fn create_ticket(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: NewTicket,
    mut check: Check,
) -> ServiceResult<ticket::Model> {
    require_role(actor, WRITERS_AND_SYNC, "createTicket")?;
    let title = check.text("title", &input.title, MAX_TITLE);
    let description = check.optional_text("description", input.description.as_deref(), MAX_TEXT);
    let requester = check.optional_text("requester", input.requester.as_deref(), MAX_TITLE);
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let mut write = UnitOfWork::begin(db, events, actor, reason.clone().flatten(), None).await?;
    let environment = visible_environment(
        &write.txn,
        actor,
        &mut check,
        "environmentId",
        input.environment_id,
    )
    .await?;
    if let Some(environment) = &environment {
        system_in(
            &write.txn,
            &mut check,
            "systemId",
            environment.id,
            input.system_id,
        )
        .await?;
        function_for(
            &write.txn,
            &mut check,
            "functionId",
            environment,
            input.function_id,
        )
        .await?;
        team_for_environment(
            &write.txn,
            &mut check,
            "assignedTeamId",
            environment,
            input.assigned_team_id,
        )
        .await?;
    }
    let (Some(title), Some(description), Some(requester), Some(_), Some(environment), true) = (
        title,
        description,
        requester,
        reason,
        environment,
        check.is_ok(),
    ) else {
        return Err(check.into());
    };
    // Routing happens once, here, at the ticket's creation time; later matrix changes never
    // rewrite it.
    let route = match input.assigned_team_id {
        Some(_) => None,
        None => {
            let router = Router::load(&write.txn, [environment.id]).await?;
            input
                .function_id
                .or_else(|| {
                    router.function_id(environment.organization_id, DEFAULT_TICKET_FUNCTION)
                })
                .map(|function| {
                    router.route(
                        environment.id,
                        function,
                        input.system_id,
                        write.now,
                        input.priority,
                    )
                })
        }
    };
    let plan = route.as_ref().map(|route| route.plan).unwrap_or_default();
    let created = ticket::Model {
        id: Uuid::now_v7(),
        organization_id: None,
        environment_id: environment.id,
        system_id: input.system_id,
        function_id: input.function_id,
        integration_id: None,
        title,
        description,
        status: TicketStatus::New,
        priority: input.priority,
        external_status: None,
        external_priority: None,
        requester,
        assigned_team_id: input
            .assigned_team_id
            .or(route.as_ref().and_then(|route| route.team_id)),
        assigned_person_id: None,
        routed_by_id: route.as_ref().and_then(|route| route.responsibility_id),
        response_due_at: plan.due.response_due_at,
        resolution_due_at: plan.due.resolution_due_at,
        sla_calendar: plan.due.calendar,
        escalation_level: 0,
        next_escalation_at: plan.next_escalation_at,
        responded_at: None,
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
    write.ticket_created(&created);
    write
        .record(ChangeNote {
            environment_id: environment.id,
            system_ids: input.system_id.into_iter().collect(),
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
    Ok(created)
}

/// Writes `model` (the changed columns of `current`) with its change log entry, and commits.
/// Without `changes` nothing is written and `current` is the answer.
async fn save_ticket(
    mut write: UnitOfWork<'_>,
    current: ticket::Model,
    mut model: ticket::ActiveModel,
    changes: Map<String, Value>,
    summary: String,
) -> ServiceResult<ticket::Model> {
    if changes.is_empty() {
        // Dropping the transaction rolls it back; there is nothing to write.
        return Ok(current);
    }
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
    Ok(updated)
}

/// Changes a ticket's title, description, priority, system or function, as `actor`.
///
/// # Errors
/// [`ServiceError::Forbidden`](crate::services::ServiceError::Forbidden) for a role that may not
/// write; [`ServiceError::Refused`](crate::services::ServiceError::Refused) for bad text or a
/// ticket, system or function the actor cannot name; database errors.
pub async fn update_ticket(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: TicketChanges,
    mut check: Check,
) -> ServiceResult<ticket::Model> {
    require_role(actor, WRITERS_AND_SYNC, "updateTicket")?;
    let mut write = UnitOfWork::begin(db, events, actor, None, input.id).await?;
    let Some((current, environment)) = visible_ticket(&write, &mut check, "id", input.id).await?
    else {
        return Err(check.into());
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
    system_in(
        &write.txn,
        &mut check,
        "systemId",
        environment.id,
        input.system_id,
    )
    .await?;
    function_for(
        &write.txn,
        &mut check,
        "functionId",
        &environment,
        input.function_id,
    )
    .await?;
    let (Some(reason), true) = (reason, check.is_ok()) else {
        return Err(check.into());
    };
    write.reason = reason;
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
        diff(
            &mut changes,
            "priority",
            json!(current.priority),
            json!(priority),
        );
        model.priority = Set(priority);
    }
    if let Some(system_id) = input.system_id {
        diff(
            &mut changes,
            "system_id",
            current.system_id.map(|id| id.to_string()),
            system_id.to_string(),
        );
        model.system_id = Set(Some(system_id));
    }
    if let Some(function_id) = input.function_id {
        diff(
            &mut changes,
            "function_id",
            current.function_id.map(|id| id.to_string()),
            function_id.to_string(),
        );
        model.function_id = Set(Some(function_id));
    }
    let summary = format!("Updated ticket: {}", current.title);
    save_ticket(write, current, model, changes, summary).await
}

/// Assigns a ticket to a team (a team of the client or of a provider serving it) and optionally
/// one of its people, as `actor`. A manual assignment replaces the matrix's routing decision.
///
/// # Errors
/// [`ServiceError::Forbidden`](crate::services::ServiceError::Forbidden) for a role that may not
/// write; [`ServiceError::Refused`](crate::services::ServiceError::Refused) for bad text, a
/// ticket or team the actor cannot name, or a person who is not in the team; database errors.
pub async fn assign_ticket(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: Assignment,
    mut check: Check,
) -> ServiceResult<ticket::Model> {
    require_role(actor, WRITERS_AND_SYNC, "assignTicket")?;
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let write = UnitOfWork::begin(db, events, actor, reason.clone().flatten(), input.id).await?;
    let Some((current, environment)) = visible_ticket(&write, &mut check, "id", input.id).await?
    else {
        return Err(check.into());
    };
    let team = team_for_environment(
        &write.txn,
        &mut check,
        "teamId",
        &environment,
        input.team_id,
    )
    .await?;
    let person = person_for_environment(
        &write.txn,
        &mut check,
        "personId",
        &environment,
        input.person_id,
    )
    .await?;
    if let (Some(team), Some(person_id)) = (&team, person.as_ref().map(|found| found.id)) {
        let member = team_membership::Entity::find()
            .filter(team_membership::COLUMN.team_id.eq(team.id))
            .filter(team_membership::COLUMN.person_id.eq(person_id))
            .one(&write.txn)
            .await?;
        if member.is_none() {
            check.fail(
                "personId",
                UserErrorCode::NotFound,
                "no person with this id in the team",
            );
        }
    }
    let (Some(_), Some(team), true) = (reason, team, check.is_ok()) else {
        return Err(check.into());
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
        input.person_id.map(|id| id.to_string()),
    );
    let person_name = person.map(|found| format!(" ({})", found.display_name));
    let mut model = current.clone().into_active_model();
    model.assigned_team_id = Set(Some(team.id));
    model.assigned_person_id = Set(input.person_id);
    // A manual assignment replaces the matrix's routing decision, its escalation path with it.
    model.routed_by_id = Set(None);
    model.next_escalation_at = Set(None);
    model.routing_reason = Set(Some(format!("assigned by {}", actor.person.display_name)));
    let summary = format!(
        "Assigned ticket to {}{}: {}",
        team.name,
        person_name.unwrap_or_default(),
        current.title
    );
    save_ticket(write, current, model, changes, summary).await
}

/// Moves a ticket to `status`, as `actor`: resolving stamps `resolved_at` (kept when already
/// set), closing stamps `closed_at` (and `resolved_at` when unset), any other status clears
/// both. A closed ticket is reopened to `IN_PROGRESS`, never resolved again.
///
/// # Errors
/// [`ServiceError::Forbidden`](crate::services::ServiceError::Forbidden) for a role that may not
/// write; [`ServiceError::Refused`](crate::services::ServiceError::Refused) for bad text, a
/// ticket the actor cannot see, or a closed ticket to resolve; database errors.
pub async fn change_ticket_status(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: StatusChange,
    mut check: Check,
) -> ServiceResult<ticket::Model> {
    require_role(actor, WRITERS_AND_SYNC, "changeTicketStatus")?;
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let write = UnitOfWork::begin(db, events, actor, reason.clone().flatten(), input.id).await?;
    // The status decided on is the locked row's: of two concurrent changes, the second sees the
    // first one's result.
    let Some((current, _)) = visible_ticket(&write, &mut check, "id", input.id).await? else {
        return Err(check.into());
    };
    let status = input.status;
    if current.status == TicketStatus::Closed && status == TicketStatus::Resolved {
        check.fail(
            "status",
            UserErrorCode::InvalidState,
            "a closed ticket is reopened to IN_PROGRESS, not resolved again",
        );
    }
    let (Some(_), true) = (reason, check.is_ok()) else {
        return Err(check.into());
    };
    let mut changes = Map::new();
    diff(&mut changes, "status", json!(current.status), json!(status));
    let now = write.now;
    let mut model = current.clone().into_active_model();
    model.status = Set(status);
    // The first move away from `NEW` by the side the ticket is assigned to is the response (as
    // for notes: the requester's side moving it on answers nothing); it, or resolving, stops
    // escalation.
    if status != TicketStatus::New
        && current.responded_at.is_none()
        && by_assigned_side(&write.txn, &current, actor).await?
    {
        model.responded_at = Set(Some(now));
        model.next_escalation_at = Set(None);
    }
    if matches!(status, TicketStatus::Resolved | TicketStatus::Closed) {
        model.next_escalation_at = Set(None);
    }
    match status {
        TicketStatus::Resolved => {
            model.resolved_at = Set(Some(current.resolved_at.unwrap_or(now)));
        }
        TicketStatus::Closed => {
            model.resolved_at = Set(Some(current.resolved_at.unwrap_or(now)));
            model.closed_at = Set(Some(now));
        }
        _ => {
            model.resolved_at = Set(None);
            model.closed_at = Set(None);
        }
    }
    // Two-way sync: the new status goes to the PSA the ticket is synced from, in this
    // transaction (when a vendor value means it).
    if status != current.status
        && let Some(target) = crate::writeback::target(
            &write.txn,
            &current,
            actor.integration.as_ref().map(|found| found.id),
        )
        .await?
        && let Some(value) = crate::writeback::vendor_status(&write.txn, target.id, status).await?
    {
        crate::writeback::enqueue(
            &write.txn,
            vec![crate::writeback::job(
                target.id,
                current.id,
                &integrations::connector::TicketWrite::Status {
                    status: value.external_value,
                },
                None,
                now,
            )],
        )
        .await?;
    }
    let summary = format!(
        "Ticket {}: {}",
        sea_orm::ActiveEnum::to_value(&status),
        current.title
    );
    save_ticket(write, current, model, changes, summary).await
}

/// Adds a note by `actor` (its author) to a ticket and touches the ticket's `updated_at`. A note
/// is conversation, not a change: it writes no change log entry.
///
/// # Errors
/// [`ServiceError::Forbidden`](crate::services::ServiceError::Forbidden) for a role that may not
/// write; [`ServiceError::Refused`](crate::services::ServiceError::Refused) for a bad body or a
/// ticket the actor cannot see; database errors.
pub async fn add_ticket_note(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: NewNote,
    mut check: Check,
) -> ServiceResult<ticket_note::Model> {
    require_role(actor, WRITERS_AND_SYNC, "addTicketNote")?;
    let body = check.text("body", &input.body, MAX_TEXT);
    let mut write = UnitOfWork::begin(db, events, actor, None, input.ticket_id).await?;
    let ticket = visible_ticket(&write, &mut check, "ticketId", input.ticket_id).await?;
    let (Some(body), Some((ticket, _)), true) = (body, ticket, check.is_ok()) else {
        return Err(check.into());
    };
    let note = ticket_note::Model {
        id: Uuid::now_v7(),
        ticket_id: ticket.id,
        // The author is the actor, always a party of the environment: `visible_ticket` found the
        // ticket only in the actor's own organization or in a client it serves today.
        author_id: Some(actor.person.id),
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
    // Two-way sync: the note goes to the PSA the ticket is synced from, in this transaction.
    if let Some(target) = crate::writeback::target(
        &write.txn,
        &ticket,
        actor.integration.as_ref().map(|found| found.id),
    )
    .await?
    {
        crate::writeback::enqueue(
            &write.txn,
            vec![crate::writeback::job(
                target.id,
                ticket.id,
                &integrations::connector::TicketWrite::Note {
                    text: note.body.clone(),
                    internal: note.internal,
                },
                Some(note.id),
                write.now,
            )],
        )
        .await?;
    }
    // The first note by the side the ticket is assigned to is its response, and stops
    // escalation; a note by the requester's side is not.
    let by_assigned_side =
        ticket.responded_at.is_none() && by_assigned_side(&write.txn, &ticket, actor).await?;
    let mut model = ticket.into_active_model();
    model.updated_at = Set(write.now);
    if by_assigned_side {
        model.responded_at = Set(Some(write.now));
        model.next_escalation_at = Set(None);
    }
    let updated = model.update(&write.txn).await?;
    write.ticket_changed(&updated);
    write.commit().await?;
    Ok(note)
}

/// Whether `actor` belongs to the organization of the team `ticket` is assigned to: only that
/// side's notes and status changes are a response. An unassigned ticket has no such side.
async fn by_assigned_side(
    txn: &sea_orm::DatabaseTransaction,
    ticket: &ticket::Model,
    actor: &Viewer,
) -> Result<bool, DbErr> {
    let Some(team_id) = ticket.assigned_team_id else {
        return Ok(false);
    };
    Ok(entities::team::Entity::find_by_id(team_id)
        .one(txn)
        .await?
        .is_some_and(|team| team.organization_id == actor.organization.id))
}

/// Acknowledges an open alert as `actor`: someone is on it.
///
/// # Errors
/// As [`resolve_alert`]; an alert already acknowledged is refused too.
pub async fn acknowledge_alert(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: AlertAction,
    check: Check,
) -> ServiceResult<alert::Model> {
    alert_action(db, events, actor, input, check, AlertStatus::Acknowledged).await
}

/// Resolves an alert as `actor`; one that nobody acknowledged counts as acknowledged by the
/// actor now.
///
/// # Errors
/// [`ServiceError::Forbidden`](crate::services::ServiceError::Forbidden) for a role other than
/// `ADMIN` or `MEMBER`; [`ServiceError::Refused`](crate::services::ServiceError::Refused) for
/// bad text, an alert the actor cannot see, or one already resolved; database errors.
pub async fn resolve_alert(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: AlertAction,
    check: Check,
) -> ServiceResult<alert::Model> {
    alert_action(db, events, actor, input, check, AlertStatus::Resolved).await
}

/// Moves an alert to `target` (`ACKNOWLEDGED` or `RESOLVED`) with its change log entry.
async fn alert_action(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: AlertAction,
    mut check: Check,
    target: AlertStatus,
) -> ServiceResult<alert::Model> {
    let operation = if target == AlertStatus::Acknowledged {
        "acknowledgeAlert"
    } else {
        "resolveAlert"
    };
    require_role(actor, WRITERS, operation)?;
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let mut write = UnitOfWork::begin(db, events, actor, reason.clone().flatten(), None).await?;
    // Visibility from an unlocked read first (no other tenant's row is ever locked), then the
    // alert read again locked: two acknowledgements at once are decided one after the other,
    // and the second sees the first one's `ACKNOWLEDGED`.
    let unlocked = match input.id {
        Some(id) => alert::Entity::find_by_id(id).one(&write.txn).await?,
        None => None,
    };
    let visible = match &unlocked {
        Some(found) => visible_environment(
            &write.txn,
            actor,
            &mut Check::default(),
            "id",
            Some(found.environment_id),
        )
        .await?
        .is_some(),
        None => false,
    };
    let found = match input.id.filter(|_| visible) {
        Some(id) => {
            alert::Entity::find_by_id(id)
                .lock(LockType::NoKeyUpdate)
                .one(&write.txn)
                .await?
        }
        None => None,
    };
    if input.id.is_some() && !visible {
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
    let (Some(_), Some(current), true) = (reason, found, check.is_ok()) else {
        return Err(check.into());
    };
    write.ticket_id = current.ticket_id;
    let mut model = current.clone().into_active_model();
    model.status = Set(target);
    if current.acknowledged_at.is_none() {
        model.acknowledged_at = Set(Some(write.now));
        model.acknowledged_by_id = Set(Some(actor.person.id));
    }
    if target == AlertStatus::Resolved {
        model.resolved_at = Set(Some(write.now));
    }
    // Someone is on it: escalation stops.
    model.next_escalation_at = Set(None);
    model.updated_at = Set(write.now);
    let updated = model.update(&write.txn).await?;
    write.alert_changed(&updated);
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
    Ok(updated)
}
