//! Runbooks: create one with its first revision, add a revision, mark it reviewed, archive it.
//!
//! Revisions are immutable and numbered 1, 2, 3, ... per runbook; an archived runbook takes no
//! new revision and no review. The reads that decide a write (the environment, its team,
//! systems, functions and ticket; the runbook's current state and its latest revision number)
//! run inside the write's transaction, with the runbook row locked on PostgreSQL, so two callers
//! changing the same runbook take turns. Every change is a change log entry (category
//! `DOCUMENTATION`).

use entities::enums::ChangeCategory;
use entities::{function, runbook, runbook_function, runbook_revision, runbook_system};
use sea_orm::prelude::*;
use sea_orm::{ConnectionTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Set};
use serde_json::json;

use crate::auth::Viewer;
use crate::events::EventBus;
use crate::services::change_log::MAX_REASON;
use crate::services::scope::{systems_in, team_for_environment, ticket_in, visible_environment};
use crate::services::{
    ChangeNote, Check, ServiceResult, UnitOfWork, UserErrorCode, WRITERS, require_role,
};

/// Longest title, in characters.
pub const MAX_TITLE: usize = 200;
/// Longest procedure body, in characters.
pub const MAX_BODY: usize = 200_000;
/// Longest summary of a revision's change, in characters.
pub const MAX_CHANGE_SUMMARY: usize = 500;

/// A new runbook with its first revision.
pub struct NewRunbook {
    /// The environment the procedure is for; `None` when the front door could not decode its id
    /// (the error is then in the `check` it passes), and likewise for every id below.
    pub environment_id: Option<Uuid>,
    /// Title.
    pub title: String,
    /// The team that keeps it current: a team of the client or of a provider serving it.
    pub owner_team_id: Option<Uuid>,
    /// Days between reviews, 1 to 3650.
    pub review_interval_days: i32,
    /// The procedure, in Markdown: revision 1.
    pub body: String,
    /// The functions it covers: standard ones or the client's own.
    pub function_ids: Vec<Uuid>,
    /// The systems it covers, in the same environment.
    pub system_ids: Vec<Uuid>,
    /// Why (goes to the change log).
    pub reason: Option<String>,
    /// The ticket the change is made under, in the same environment.
    pub ticket_id: Option<Uuid>,
}

/// A new revision of a runbook.
pub struct NewRevision {
    /// The runbook.
    pub runbook_id: Option<Uuid>,
    /// The whole procedure as it now reads, in Markdown.
    pub body: String,
    /// What changed from the previous revision.
    pub change_summary: Option<String>,
    /// Why (goes to the change log).
    pub reason: Option<String>,
    /// The ticket the change is made under, in the same environment.
    pub ticket_id: Option<Uuid>,
}

/// A runbook to mark reviewed or archive.
pub struct RunbookStep {
    /// The runbook.
    pub runbook_id: Option<Uuid>,
    /// Why (goes to the change log).
    pub reason: Option<String>,
    /// The ticket the change is made under, in the same environment.
    pub ticket_id: Option<Uuid>,
}

/// Creates a runbook with its first revision, as `actor`.
///
/// # Errors
/// [`crate::services::ServiceError::Forbidden`] for a role that may not write;
/// [`crate::services::ServiceError::Refused`] for bad input or an environment, team, system,
/// function or ticket the actor may not name; database errors.
pub async fn create_runbook(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    mut input: NewRunbook,
    mut check: Check,
) -> ServiceResult<runbook::Model> {
    require_role(actor, WRITERS, "createRunbook")?;
    // A function or system named twice is one link (the pair is the link table's key).
    for ids in [&mut input.function_ids, &mut input.system_ids] {
        ids.sort_unstable();
        ids.dedup();
    }
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
    let mut write =
        UnitOfWork::begin(db, events, actor, reason.clone().flatten(), input.ticket_id).await?;
    let environment = visible_environment(
        &write.txn,
        actor,
        &mut check,
        "environmentId",
        input.environment_id,
    )
    .await?;
    if let Some(environment) = &environment {
        ticket_in(
            &write.txn,
            &mut check,
            "ticketId",
            environment.id,
            input.ticket_id,
        )
        .await?;
        team_for_environment(
            &write.txn,
            &mut check,
            "ownerTeamId",
            environment,
            input.owner_team_id,
        )
        .await?;
        systems_in(
            &write.txn,
            &mut check,
            "systemIds",
            environment.id,
            &input.system_ids,
        )
        .await?;
        let functions = function::Entity::find()
            .filter(
                function::COLUMN
                    .id
                    .is_in(input.function_ids.iter().copied()),
            )
            .all(&write.txn)
            .await?;
        let usable = functions
            .iter()
            .filter(|found| {
                found
                    .organization_id
                    .is_none_or(|owner| owner == environment.organization_id)
            })
            .count();
        if usable != input.function_ids.len() {
            check.fail(
                "functionIds",
                UserErrorCode::NotFound,
                "every function must be a standard one or the client's own",
            );
        }
    }
    let (Some(title), Some(body), Some(_), Some(environment), Some(team_id), true) = (
        title,
        body,
        reason,
        environment,
        input.owner_team_id,
        check.is_ok(),
    ) else {
        return Err(check.into());
    };
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
        author_id: Some(actor.person.id),
        created_at: write.now,
    }
    .into_active_model()
    .insert(&write.txn)
    .await?;
    if !input.function_ids.is_empty() {
        runbook_function::Entity::insert_many(input.function_ids.iter().map(|function_id| {
            runbook_function::Model {
                runbook_id: created.id,
                function_id: *function_id,
            }
            .into_active_model()
        }))
        .exec_without_returning(&write.txn)
        .await?;
    }
    if !input.system_ids.is_empty() {
        runbook_system::Entity::insert_many(input.system_ids.iter().map(|system_id| {
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
            system_ids: input.system_ids,
            summary: format!("Created runbook {}", created.title),
            details: json!({ "runbook": created.title, "revision": 1 }),
            category: ChangeCategory::Documentation,
        })
        .await?;
    write.commit().await?;
    Ok(created)
}

/// Adds the next numbered revision of a runbook, as `actor`; earlier revisions never change.
///
/// # Errors
/// As [`create_runbook`]; an archived runbook is `INVALID_STATE`.
pub async fn add_runbook_revision(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: NewRevision,
    mut check: Check,
) -> ServiceResult<runbook::Model> {
    require_role(actor, WRITERS, "addRunbookRevision")?;
    let body = check.text("body", &input.body, MAX_BODY);
    let change_summary = check.optional_text(
        "changeSummary",
        input.change_summary.as_deref(),
        MAX_CHANGE_SUMMARY,
    );
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let mut write =
        UnitOfWork::begin(db, events, actor, reason.clone().flatten(), input.ticket_id).await?;
    let current = live_runbook(
        &write.txn,
        actor,
        &mut check,
        input.runbook_id,
        input.ticket_id,
        "the runbook is archived",
    )
    .await?;
    let (Some(body), Some(change_summary), Some(_), Some(current), true) =
        (body, change_summary, reason, current, check.is_ok())
    else {
        return Err(check.into());
    };
    // Read with the runbook locked: two writers take turns and number their revisions one after
    // the other. Should they still race (SQLite's writers already take turns), the unique index
    // lets one win and the other rolls back rather than renumbering history.
    let latest = runbook_revision::Entity::find()
        .filter(runbook_revision::COLUMN.runbook_id.eq(current.id))
        .order_by_desc(runbook_revision::Column::Number)
        .one(&write.txn)
        .await?
        .map_or(0, |revision| revision.number);
    let number = latest + 1;
    runbook_revision::Model {
        id: Uuid::now_v7(),
        runbook_id: current.id,
        number,
        body,
        change_summary,
        author_id: Some(actor.person.id),
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
    Ok(updated)
}

/// Records that the runbook was reviewed now, by `actor`; the next review falls due one
/// interval later.
///
/// # Errors
/// As [`create_runbook`]; an archived runbook is `INVALID_STATE`.
pub async fn mark_runbook_reviewed(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: RunbookStep,
    check: Check,
) -> ServiceResult<runbook::Model> {
    step(db, events, actor, input, check, Step::MarkReviewed).await
}

/// Archives a runbook, as `actor`; its revisions stay.
///
/// # Errors
/// As [`create_runbook`]; a runbook already archived is `INVALID_STATE`.
pub async fn archive_runbook(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: RunbookStep,
    check: Check,
) -> ServiceResult<runbook::Model> {
    step(db, events, actor, input, check, Step::Archive).await
}

/// What `markRunbookReviewed` and `archiveRunbook` do to a live runbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    MarkReviewed,
    Archive,
}

async fn step(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: RunbookStep,
    mut check: Check,
    action: Step,
) -> ServiceResult<runbook::Model> {
    let operation = match action {
        Step::MarkReviewed => "markRunbookReviewed",
        Step::Archive => "archiveRunbook",
    };
    require_role(actor, WRITERS, operation)?;
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let mut write =
        UnitOfWork::begin(db, events, actor, reason.clone().flatten(), input.ticket_id).await?;
    let archived = match action {
        Step::MarkReviewed => "the runbook is archived",
        Step::Archive => "the runbook is already archived",
    };
    let current = live_runbook(
        &write.txn,
        actor,
        &mut check,
        input.runbook_id,
        input.ticket_id,
        archived,
    )
    .await?;
    let (Some(_), Some(current), true) = (reason, current, check.is_ok()) else {
        return Err(check.into());
    };
    let mut model = current.into_active_model();
    let verb = match action {
        Step::MarkReviewed => {
            model.last_reviewed_at = Set(Some(write.now));
            model.last_reviewed_by_id = Set(Some(actor.person.id));
            "Reviewed"
        }
        Step::Archive => {
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
    Ok(updated)
}

/// The runbook `id`, locked for the rest of the transaction, if the actor may see it (else a
/// `NOT_FOUND` error on `runbookId`); checks that `ticket_id` is in its environment and that it
/// is not archived (else an `INVALID_STATE` error saying `archived`). `None` when any of that
/// fails, or when the id could not be decoded (its error is already in `check`).
async fn live_runbook(
    txn: &impl ConnectionTrait,
    actor: &Viewer,
    check: &mut Check,
    id: Option<Uuid>,
    ticket_id: Option<Uuid>,
    archived: &str,
) -> Result<Option<runbook::Model>, DbErr> {
    let Some(id) = id else { return Ok(None) };
    // Visibility from an unlocked read first, so no other tenant's row is ever locked.
    let unlocked = runbook::Entity::find_by_id(id).one(txn).await?;
    let visible = match &unlocked {
        Some(found) => visible_environment(
            txn,
            actor,
            // The refusal names the runbook, not its environment.
            &mut Check::default(),
            "runbookId",
            Some(found.environment_id),
        )
        .await?
        .is_some(),
        None => false,
    };
    let found = if visible {
        // Locked (`NO KEY UPDATE`: revisions that reference it are not blocked): the next
        // revision number and the archived state are decided one write at a time.
        runbook::Entity::find_by_id(id)
            .lock(sea_orm::sea_query::LockType::NoKeyUpdate)
            .one(txn)
            .await?
    } else {
        None
    };
    let Some(found) = found else {
        check.fail(
            "runbookId",
            UserErrorCode::NotFound,
            "no runbook with this id",
        );
        return Ok(None);
    };
    ticket_in(txn, check, "ticketId", found.environment_id, ticket_id).await?;
    if found.archived_at.is_some() {
        check.fail("runbookId", UserErrorCode::InvalidState, archived);
    }
    Ok(Some(found))
}
