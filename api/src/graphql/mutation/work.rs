//! Tickets (create, update, assign, change status, add a note) and alerts (acknowledge,
//! resolve): decoding ids and presenting outcomes. The rules live in [`crate::services::work`].

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, ResultExt};

use crate::error::ApiResult;
use crate::events::EventBus;
use crate::graphql::context::ContextExt;
use crate::graphql::mutation::{Check, CheckIds, CheckRequired, clearable, payload};
use crate::graphql::types::enums::{Priority, TicketStatus};
use crate::graphql::types::{Alert, Ticket, TicketNote};
use crate::ids::NodeType;
use crate::services::work;

// The matrix and runbook mutations still check their teams here until they move too.

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
    /// New title (cannot be null).
    pub title: MaybeUndefined<String>,
    /// New description (null or empty text clears it).
    pub description: MaybeUndefined<String>,
    /// New priority (cannot be null).
    pub priority: MaybeUndefined<Priority>,
    /// New system, in the same environment (cannot be null).
    pub system_id: MaybeUndefined<ID>,
    /// New function (cannot be null).
    pub function_id: MaybeUndefined<ID>,
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
        acknowledge_alert(ctx, input).await.extend()
    }

    /// Resolves an alert.
    async fn resolve_alert(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: AlertActionInput,
    ) -> Result<AlertPayload> {
        resolve_alert(ctx, input).await.extend()
    }
}

async fn create_ticket(ctx: &Context<'_>, input: CreateTicketInput) -> ApiResult<TicketPayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
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
    let assigned_team_id = input
        .assigned_team_id
        .as_ref()
        .and_then(|id| check.id("assignedTeamId", NodeType::Team, id));
    let ticket = work::NewTicket {
        environment_id,
        title: input.title,
        description: input.description,
        priority: input.priority.into(),
        system_id,
        function_id,
        assigned_team_id,
        requester: input.requester,
        reason: input.reason,
    };
    let outcome =
        work::create_ticket(ctx.db()?, ctx.data_opt::<EventBus>(), viewer, ticket, check).await;
    TicketPayload::from_outcome(outcome.map(Ticket))
}

async fn update_ticket(ctx: &Context<'_>, input: UpdateTicketInput) -> ApiResult<TicketPayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let id = check.id("id", NodeType::Ticket, &input.id);
    let system_id = check
        .required("systemId", input.system_id)
        .and_then(|id| check.id("systemId", NodeType::System, &id));
    let function_id = check
        .required("functionId", input.function_id)
        .and_then(|id| check.id("functionId", NodeType::Function, &id));
    let changes = work::TicketChanges {
        id,
        title: check.required("title", input.title),
        description: clearable(input.description),
        priority: check.required("priority", input.priority).map(Into::into),
        system_id,
        function_id,
        reason: input.reason,
    };
    let outcome = work::update_ticket(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        changes,
        check,
    )
    .await;
    TicketPayload::from_outcome(outcome.map(Ticket))
}

async fn assign_ticket(ctx: &Context<'_>, input: AssignTicketInput) -> ApiResult<TicketPayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let id = check.id("id", NodeType::Ticket, &input.id);
    let team_id = check.id("teamId", NodeType::Team, &input.team_id);
    let person_id = input
        .person_id
        .as_ref()
        .and_then(|id| check.id("personId", NodeType::Person, id));
    let assignment = work::Assignment {
        id,
        team_id,
        person_id,
        reason: input.reason,
    };
    let outcome = work::assign_ticket(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        assignment,
        check,
    )
    .await;
    TicketPayload::from_outcome(outcome.map(Ticket))
}

async fn change_ticket_status(
    ctx: &Context<'_>,
    input: ChangeTicketStatusInput,
) -> ApiResult<TicketPayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let id = check.id("id", NodeType::Ticket, &input.id);
    let change = work::StatusChange {
        id,
        status: input.status.into(),
        reason: input.reason,
    };
    let outcome =
        work::change_ticket_status(ctx.db()?, ctx.data_opt::<EventBus>(), viewer, change, check)
            .await;
    TicketPayload::from_outcome(outcome.map(Ticket))
}

async fn add_ticket_note(
    ctx: &Context<'_>,
    input: AddTicketNoteInput,
) -> ApiResult<TicketNotePayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let ticket_id = check.id("ticketId", NodeType::Ticket, &input.ticket_id);
    let note = work::NewNote {
        ticket_id,
        body: input.body,
        internal: input.internal,
    };
    let outcome =
        work::add_ticket_note(ctx.db()?, ctx.data_opt::<EventBus>(), viewer, note, check).await;
    TicketNotePayload::from_outcome(outcome.map(TicketNote))
}

/// The service input of an alert action, and the id errors found decoding it.
fn alert_action(input: AlertActionInput) -> (work::AlertAction, Check) {
    let mut check = Check::default();
    let id = check.id("id", NodeType::Alert, &input.id);
    let action = work::AlertAction {
        id,
        reason: input.reason,
    };
    (action, check)
}

async fn acknowledge_alert(ctx: &Context<'_>, input: AlertActionInput) -> ApiResult<AlertPayload> {
    let viewer = ctx.viewer()?;
    let (action, check) = alert_action(input);
    let outcome =
        work::acknowledge_alert(ctx.db()?, ctx.data_opt::<EventBus>(), viewer, action, check).await;
    AlertPayload::from_outcome(outcome.map(Alert))
}

async fn resolve_alert(ctx: &Context<'_>, input: AlertActionInput) -> ApiResult<AlertPayload> {
    let viewer = ctx.viewer()?;
    let (action, check) = alert_action(input);
    let outcome =
        work::resolve_alert(ctx.db()?, ctx.data_opt::<EventBus>(), viewer, action, check).await;
    AlertPayload::from_outcome(outcome.map(Alert))
}
