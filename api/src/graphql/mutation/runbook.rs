//! Runbooks: create (with the first revision), add a revision, mark reviewed, archive.
//! Revisions are immutable and numbered 1, 2, 3, ... per runbook.

use async_graphql::{Context, ID, InputObject, Object, Result, ResultExt};
use entities::enums::ChangeCategory;
use entities::{function, runbook, runbook_function, runbook_revision, runbook_system};
use sea_orm::prelude::*;
use sea_orm::{IntoActiveModel, QueryFilter, QueryOrder, Set};
use serde_json::json;

use crate::auth::Viewer;
use crate::error::ApiResult;
use crate::graphql::context::ContextExt;
use crate::graphql::mutation::change_log::MAX_REASON;
use crate::graphql::mutation::work::team_for_environment;
use crate::graphql::mutation::{
    ChangeNote, Check, CheckIds, UserErrorCode, WRITERS, payload, require_role, systems_in,
    ticket_in, visible_environment,
};
use crate::graphql::types::Runbook;
use crate::ids::NodeType;

const MAX_TITLE: usize = 200;
const MAX_BODY: usize = 200_000;
const MAX_CHANGE_SUMMARY: usize = 500;

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
    require_role(viewer, WRITERS, "createRunbook")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let title = check.text("title", &input.title, MAX_TITLE);
    let body = check.text("body", &input.body, MAX_BODY);
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    if !(1..=3650).contains(&input.review_interval_days) {
        check.fail(
            "reviewIntervalDays",
            UserErrorCode::Invalid,
            "`reviewIntervalDays` must be between 1 and 3650",
        );
    }
    let environment_id = check.id(
        "environmentId",
        NodeType::Environment,
        &input.environment_id,
    );
    let team_id = check.id("ownerTeamId", NodeType::Team, &input.owner_team_id);
    let function_ids: Vec<Uuid> = input
        .function_ids
        .iter()
        .enumerate()
        .filter_map(|(index, id)| check.id(&format!("functionIds.{index}"), NodeType::Function, id))
        .collect();
    let system_ids: Vec<Uuid> = input
        .system_ids
        .iter()
        .enumerate()
        .filter_map(|(index, id)| check.id(&format!("systemIds.{index}"), NodeType::System, id))
        .collect();
    let ticket_id = input
        .ticket_id
        .as_ref()
        .and_then(|id| check.id("ticketId", NodeType::Ticket, id));
    let environment =
        visible_environment(db, viewer, &mut check, "environmentId", environment_id).await?;
    if let Some(environment) = &environment {
        ticket_in(db, &mut check, "ticketId", environment.id, ticket_id).await?;
        team_for_environment(db, &mut check, "ownerTeamId", environment, team_id).await?;
        systems_in(db, &mut check, "systemIds", environment.id, &system_ids).await?;
        let functions = function::Entity::find()
            .filter(function::COLUMN.id.is_in(function_ids.iter().copied()))
            .all(db)
            .await?;
        let usable = functions
            .iter()
            .filter(|found| {
                found
                    .organization_id
                    .is_none_or(|owner| owner == environment.organization_id)
            })
            .count();
        if usable != function_ids.len() {
            check.fail(
                "functionIds",
                UserErrorCode::NotFound,
                "every function must be a standard one or the client's own",
            );
        }
    }
    let (Some(title), Some(body), Some(reason), Some(environment), Some(team_id), true) =
        (title, body, reason, environment, team_id, check.is_ok())
    else {
        return Ok(RunbookPayload::refused(check.into_errors()));
    };
    let mut write = crate::graphql::mutation::begin(ctx, viewer, reason, ticket_id).await?;
    let created = runbook::Model {
        id: Uuid::now_v7(),
        environment_id: environment.id,
        title,
        owner_team_id: team_id,
        review_interval_days: input.review_interval_days,
        last_reviewed_at: None,
        last_reviewed_by_id: None,
        archived_at: None,
        created_at: write.now,
        updated_at: write.now,
    }
    .into_active_model()
    .insert(&write.txn)
    .await?;
    runbook_revision::Model {
        id: Uuid::now_v7(),
        runbook_id: created.id,
        number: 1,
        body,
        change_summary: Some("First version".to_owned()),
        author_id: Some(viewer.person.id),
        created_at: write.now,
    }
    .into_active_model()
    .insert(&write.txn)
    .await?;
    if !function_ids.is_empty() {
        runbook_function::Entity::insert_many(function_ids.iter().map(|function_id| {
            runbook_function::Model {
                runbook_id: created.id,
                function_id: *function_id,
            }
            .into_active_model()
        }))
        .exec_without_returning(&write.txn)
        .await?;
    }
    if !system_ids.is_empty() {
        runbook_system::Entity::insert_many(system_ids.iter().map(|system_id| {
            runbook_system::Model {
                runbook_id: created.id,
                system_id: *system_id,
            }
            .into_active_model()
        }))
        .exec_without_returning(&write.txn)
        .await?;
    }
    write
        .record(ChangeNote {
            environment_id: environment.id,
            system_ids,
            summary: format!("Created runbook {}", created.title),
            details: json!({ "runbook": created.title, "revision": 1 }),
            category: ChangeCategory::Documentation,
        })
        .await?;
    write.commit().await?;
    Ok(RunbookPayload::done(Runbook(created)))
}

async fn visible_runbook(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    check: &mut Check,
    id: &ID,
) -> ApiResult<Option<runbook::Model>> {
    let Some(id) = check.id("runbookId", NodeType::Runbook, id) else {
        return Ok(None);
    };
    let found = runbook::Entity::find_by_id(id).one(db).await?;
    let mut silent = Check::default();
    let visible = match &found {
        Some(found) => visible_environment(
            db,
            viewer,
            &mut silent,
            "runbookId",
            Some(found.environment_id),
        )
        .await?
        .is_some(),
        None => false,
    };
    if !visible {
        check.fail(
            "runbookId",
            UserErrorCode::NotFound,
            "no runbook with this id",
        );
        return Ok(None);
    }
    Ok(found)
}

async fn add_revision(
    ctx: &Context<'_>,
    input: AddRunbookRevisionInput,
) -> ApiResult<RunbookPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, WRITERS, "addRunbookRevision")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let body = check.text("body", &input.body, MAX_BODY);
    let change_summary = check.optional_text(
        "changeSummary",
        input.change_summary.as_deref(),
        MAX_CHANGE_SUMMARY,
    );
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let current = visible_runbook(db, viewer, &mut check, &input.runbook_id).await?;
    let ticket_id = input
        .ticket_id
        .as_ref()
        .and_then(|id| check.id("ticketId", NodeType::Ticket, id));
    if let Some(current) = &current {
        ticket_in(
            db,
            &mut check,
            "ticketId",
            current.environment_id,
            ticket_id,
        )
        .await?;
    }
    if current
        .as_ref()
        .is_some_and(|found| found.archived_at.is_some())
    {
        check.fail(
            "runbookId",
            UserErrorCode::InvalidState,
            "the runbook is archived",
        );
    }
    let (Some(body), Some(change_summary), Some(reason), Some(current), true) =
        (body, change_summary, reason, current, check.is_ok())
    else {
        return Ok(RunbookPayload::refused(check.into_errors()));
    };
    let mut write = crate::graphql::mutation::begin(ctx, viewer, reason, ticket_id).await?;
    let latest = runbook_revision::Entity::find()
        .filter(runbook_revision::COLUMN.runbook_id.eq(current.id))
        .order_by_desc(runbook_revision::Column::Number)
        .one(&write.txn)
        .await?
        .map_or(0, |revision| revision.number);
    let number = latest + 1;
    // Two writers racing for the same number: the unique index lets one win; the other fails
    // and rolls back rather than renumbering history.
    runbook_revision::Model {
        id: Uuid::now_v7(),
        runbook_id: current.id,
        number,
        body,
        change_summary,
        author_id: Some(viewer.person.id),
        created_at: write.now,
    }
    .into_active_model()
    .insert(&write.txn)
    .await?;
    let mut model = current.into_active_model();
    model.updated_at = Set(write.now);
    let updated = model.update(&write.txn).await?;
    write
        .record(ChangeNote {
            environment_id: updated.environment_id,
            system_ids: Vec::new(),
            summary: format!("Revised runbook {} (revision {number})", updated.title),
            details: json!({ "runbook": updated.title, "revision": number }),
            category: ChangeCategory::Documentation,
        })
        .await?;
    write.commit().await?;
    Ok(RunbookPayload::done(Runbook(updated)))
}

/// What `markRunbookReviewed` and `archiveRunbook` do to a live runbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunbookAction {
    MarkReviewed,
    Archive,
}

async fn mark_reviewed(ctx: &Context<'_>, input: RunbookActionInput) -> ApiResult<RunbookPayload> {
    runbook_action(ctx, input, RunbookAction::MarkReviewed).await
}

async fn archive(ctx: &Context<'_>, input: RunbookActionInput) -> ApiResult<RunbookPayload> {
    runbook_action(ctx, input, RunbookAction::Archive).await
}

async fn runbook_action(
    ctx: &Context<'_>,
    input: RunbookActionInput,
    action: RunbookAction,
) -> ApiResult<RunbookPayload> {
    let viewer = ctx.viewer()?;
    let operation = match action {
        RunbookAction::MarkReviewed => "markRunbookReviewed",
        RunbookAction::Archive => "archiveRunbook",
    };
    require_role(viewer, WRITERS, operation)?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let current = visible_runbook(db, viewer, &mut check, &input.runbook_id).await?;
    let ticket_id = input
        .ticket_id
        .as_ref()
        .and_then(|id| check.id("ticketId", NodeType::Ticket, id));
    if let Some(current) = &current {
        ticket_in(
            db,
            &mut check,
            "ticketId",
            current.environment_id,
            ticket_id,
        )
        .await?;
    }
    if current
        .as_ref()
        .is_some_and(|found| found.archived_at.is_some())
    {
        let message = match action {
            RunbookAction::MarkReviewed => "the runbook is archived",
            RunbookAction::Archive => "the runbook is already archived",
        };
        check.fail("runbookId", UserErrorCode::InvalidState, message);
    }
    let (Some(reason), Some(current), true) = (reason, current, check.is_ok()) else {
        return Ok(RunbookPayload::refused(check.into_errors()));
    };
    let mut write = crate::graphql::mutation::begin(ctx, viewer, reason, ticket_id).await?;
    let mut model = current.into_active_model();
    let verb = match action {
        RunbookAction::MarkReviewed => {
            model.last_reviewed_at = Set(Some(write.now));
            model.last_reviewed_by_id = Set(Some(viewer.person.id));
            "Reviewed"
        }
        RunbookAction::Archive => {
            model.archived_at = Set(Some(write.now));
            "Archived"
        }
    };
    model.updated_at = Set(write.now);
    let updated = model.update(&write.txn).await?;
    write
        .record(ChangeNote {
            environment_id: updated.environment_id,
            system_ids: Vec::new(),
            summary: format!("{verb} runbook {}", updated.title),
            details: json!({ "runbook": updated.title }),
            category: ChangeCategory::Documentation,
        })
        .await?;
    write.commit().await?;
    Ok(RunbookPayload::done(Runbook(updated)))
}
