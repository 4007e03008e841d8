//! Runbooks: create (with the first revision), add a revision, mark reviewed, archive.
//! Revisions are immutable and numbered 1, 2, 3, ... per runbook. The rules live in
//! [`services::runbook`]; these resolvers decode ids and present its outcome.

use async_graphql::{Context, ID, InputObject, Object, Result, ResultExt};
use sea_orm::prelude::*;

use crate::error::ApiResult;
use crate::events::EventBus;
use crate::graphql::context::ContextExt;
use crate::graphql::mutation::{Check, CheckIds, payload};
use crate::graphql::types::Runbook;
use crate::ids::NodeType;
use crate::services;

/// Writing runbooks.
#[derive(Default)]
pub struct RunbookMutation;

/// A new runbook with its first revision.
#[derive(InputObject)]
pub struct CreateRunbookInput {
    /// The environment the procedure is for.
    pub environment_id: ID,
    /// Title (at most 200 characters).
    pub title: String,
    /// The team that keeps it current: a team of the client or of a provider serving it.
    pub owner_team_id: ID,
    /// Days between reviews, 1 to 3650 (default 180).
    #[graphql(default = 180)]
    pub review_interval_days: i32,
    /// The procedure, in Markdown: revision 1.
    pub body: String,
    /// The functions it covers.
    #[graphql(default)]
    pub function_ids: Vec<ID>,
    /// The systems it covers, in the same environment.
    #[graphql(default)]
    pub system_ids: Vec<ID>,
    /// Why (goes to the change log).
    pub reason: Option<String>,
    /// The ticket the change is made under, in the same environment.
    pub ticket_id: Option<ID>,
}

/// A new revision of a runbook.
#[derive(InputObject)]
pub struct AddRunbookRevisionInput {
    /// The runbook.
    pub runbook_id: ID,
    /// The whole procedure as it now reads, in Markdown.
    pub body: String,
    /// What changed from the previous revision.
    pub change_summary: Option<String>,
    /// Why (goes to the change log).
    pub reason: Option<String>,
    /// The ticket the change is made under, in the same environment.
    pub ticket_id: Option<ID>,
}

/// A runbook to mark reviewed or archive.
#[derive(InputObject)]
pub struct RunbookActionInput {
    /// The runbook.
    pub runbook_id: ID,
    /// Why (goes to the change log).
    pub reason: Option<String>,
    /// The ticket the change is made under, in the same environment.
    pub ticket_id: Option<ID>,
}

payload! {
    /// The result of a runbook mutation.
    RunbookPayload {
        /// The runbook as it is now.
        runbook: Runbook
    }
}

#[Object]
impl RunbookMutation {
    /// Creates a runbook with its first revision.
    async fn create_runbook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: CreateRunbookInput,
    ) -> Result<RunbookPayload> {
        create_runbook(ctx, input).await.extend()
    }

    /// Adds the next numbered revision; earlier revisions never change.
    async fn add_runbook_revision(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: AddRunbookRevisionInput,
    ) -> Result<RunbookPayload> {
        add_revision(ctx, input).await.extend()
    }

    /// Records that the runbook was reviewed now, by the caller; the next review falls due one
    /// interval later.
    async fn mark_runbook_reviewed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: RunbookActionInput,
    ) -> Result<RunbookPayload> {
        mark_reviewed(ctx, input).await.extend()
    }

    /// Archives a runbook; its revisions stay.
    async fn archive_runbook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: RunbookActionInput,
    ) -> Result<RunbookPayload> {
        archive(ctx, input).await.extend()
    }
}

async fn create_runbook(ctx: &Context<'_>, input: CreateRunbookInput) -> ApiResult<RunbookPayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let environment_id = check.id(
        "environmentId",
        NodeType::Environment,
        &input.environment_id,
    );
    let owner_team_id = check.id("ownerTeamId", NodeType::Team, &input.owner_team_id);
    let function_ids = ids(
        &mut check,
        "functionIds",
        NodeType::Function,
        &input.function_ids,
    );
    let system_ids = ids(&mut check, "systemIds", NodeType::System, &input.system_ids);
    let ticket_id = ticket_id(&mut check, input.ticket_id.as_ref());
    let runbook = services::runbook::NewRunbook {
        environment_id,
        title: input.title,
        owner_team_id,
        review_interval_days: input.review_interval_days,
        body: input.body,
        function_ids,
        system_ids,
        reason: input.reason,
        ticket_id,
    };
    let outcome = services::runbook::create_runbook(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        runbook,
        check,
    )
    .await;
    RunbookPayload::from_outcome(outcome.map(Runbook))
}

async fn add_revision(
    ctx: &Context<'_>,
    input: AddRunbookRevisionInput,
) -> ApiResult<RunbookPayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let runbook_id = check.id("runbookId", NodeType::Runbook, &input.runbook_id);
    let ticket_id = ticket_id(&mut check, input.ticket_id.as_ref());
    let revision = services::runbook::NewRevision {
        runbook_id,
        body: input.body,
        change_summary: input.change_summary,
        reason: input.reason,
        ticket_id,
    };
    let outcome = services::runbook::add_runbook_revision(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        revision,
        check,
    )
    .await;
    RunbookPayload::from_outcome(outcome.map(Runbook))
}

async fn mark_reviewed(ctx: &Context<'_>, input: RunbookActionInput) -> ApiResult<RunbookPayload> {
    let viewer = ctx.viewer()?;
    let (step, check) = step(input);
    let outcome = services::runbook::mark_runbook_reviewed(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        step,
        check,
    )
    .await;
    RunbookPayload::from_outcome(outcome.map(Runbook))
}

async fn archive(ctx: &Context<'_>, input: RunbookActionInput) -> ApiResult<RunbookPayload> {
    let viewer = ctx.viewer()?;
    let (step, check) = step(input);
    let outcome = services::runbook::archive_runbook(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        step,
        check,
    )
    .await;
    RunbookPayload::from_outcome(outcome.map(Runbook))
}

/// The service's input for `markRunbookReviewed` and `archiveRunbook`, with the id errors.
fn step(input: RunbookActionInput) -> (services::runbook::RunbookStep, Check) {
    let mut check = Check::default();
    let runbook_id = check.id("runbookId", NodeType::Runbook, &input.runbook_id);
    let ticket_id = ticket_id(&mut check, input.ticket_id.as_ref());
    let step = services::runbook::RunbookStep {
        runbook_id,
        reason: input.reason,
        ticket_id,
    };
    (step, check)
}

/// The ids of `node_type` in the list `field`; one `INVALID` error per id that does not decode.
fn ids(check: &mut Check, field: &str, node_type: NodeType, ids: &[ID]) -> Vec<Uuid> {
    ids.iter()
        .enumerate()
        .filter_map(|(index, id)| check.id(&format!("{field}.{index}"), node_type, id))
        .collect()
}

fn ticket_id(check: &mut Check, id: Option<&ID>) -> Option<Uuid> {
    id.and_then(|id| check.id("ticketId", NodeType::Ticket, id))
}
