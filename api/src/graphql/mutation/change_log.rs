//! `recordChange` and `correctChange`. Entries are never edited or deleted: a correction is a new
//! entry that points at the one it corrects.

use async_graphql::{Context, ID, InputObject, Object, Result, ResultExt};
use chrono::Utc;
use entities::{change_log_entry, change_log_entry_system};
use sea_orm::QueryFilter;
use sea_orm::prelude::*;

use crate::error::ApiResult;
use crate::graphql::context::ContextExt;
use crate::graphql::ids::NodeType;
use crate::graphql::mutation::{
    Check, CheckIds, UserErrorCode, WRITERS_AND_SYNC, payload, require_role, systems_in, ticket_in,
    visible_environment,
};
use crate::graphql::scalars::Json;
use crate::graphql::types::ChangeLogEntry;
use crate::graphql::types::enums::ChangeCategory;

/// Longest summary, in characters.
pub const MAX_SUMMARY: usize = 500;
/// Longest reason, in characters.
pub const MAX_REASON: usize = 2_000;
/// Largest `details` object, in bytes of JSON.
pub const MAX_DETAILS_BYTES: usize = 64 * 1024;

/// Writing the change log.
#[derive(Default)]
pub struct ChangeLogMutation;

/// A change to record.
#[derive(InputObject)]
pub struct RecordChangeInput {
    /// The environment changed.
    pub environment_id: ID,
    /// The systems changed, all in that environment.
    #[graphql(default)]
    pub system_ids: Vec<ID>,
    /// One line saying what changed (at most 500 characters).
    pub summary: String,
    /// Structured details: a JSON object of at most 64 KiB.
    pub details: Option<Json>,
    /// Why the change was made (at most 2,000 characters).
    pub reason: Option<String>,
    /// What kind of change it was.
    pub category: ChangeCategory,
    /// When the change happened; now when omitted. May not be in the future.
    pub occurred_at: Option<DateTimeUtc>,
    /// The ticket the change was made under, in the same environment.
    pub ticket_id: Option<ID>,
}

/// A correction of a recorded change. The original stays; the correction points at it.
#[derive(InputObject)]
pub struct CorrectChangeInput {
    /// The entry to correct.
    pub change_log_entry_id: ID,
    /// The corrected summary.
    pub summary: String,
    /// Why the entry is being corrected (required; at most 2,000 characters).
    pub reason: String,
    /// Corrected details; the original's when omitted.
    pub details: Option<Json>,
    /// Corrected category; the original's when omitted.
    pub category: Option<ChangeCategory>,
    /// Corrected systems; the original's when omitted.
    pub system_ids: Option<Vec<ID>>,
    /// Corrected time of the change; the original's when omitted.
    pub occurred_at: Option<DateTimeUtc>,
}

payload! {
    /// The result of `recordChange`.
    RecordChangePayload {
        /// The recorded entry.
        change_log_entry: ChangeLogEntry
    }
}

payload! {
    /// The result of `correctChange`.
    CorrectChangePayload {
        /// The correcting entry (its `corrects` is the original).
        change_log_entry: ChangeLogEntry
    }
}

#[Object]
impl ChangeLogMutation {
    /// Records a change: who (the caller) changed what, when and why.
    async fn record_change(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: RecordChangeInput,
    ) -> Result<RecordChangePayload> {
        record_change(ctx, input).await.extend()
    }

    /// Corrects a recorded change with a new entry that points at it; the original is kept.
    async fn correct_change(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: CorrectChangeInput,
    ) -> Result<CorrectChangePayload> {
        correct_change(ctx, input).await.extend()
    }
}

/// Checks `details`: a JSON object of bounded size.
pub fn check_details(
    check: &mut Check,
    field: &str,
    details: Option<Json>,
) -> Option<serde_json::Value> {
    let details = details.map_or_else(|| serde_json::json!({}), |Json(value)| value);
    if !details.is_object() {
        check.fail(
            field,
            UserErrorCode::Invalid,
            "`details` must be a JSON object",
        );
        return None;
    }
    if details.to_string().len() > MAX_DETAILS_BYTES {
        check.fail(
            field,
            UserErrorCode::TooLong,
            format!("`details` must be at most {MAX_DETAILS_BYTES} bytes of JSON"),
        );
        return None;
    }
    Some(details)
}

/// Checks that `occurred_at` is not in the future (allowing for clock skew).
pub fn check_occurred_at(
    check: &mut Check,
    field: &str,
    occurred_at: Option<DateTimeUtc>,
) -> Option<DateTimeUtc> {
    let now = Utc::now();
    check.observed_instant(field, occurred_at.unwrap_or(now), now)
}

async fn record_change(
    ctx: &Context<'_>,
    input: RecordChangeInput,
) -> ApiResult<RecordChangePayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, WRITERS_AND_SYNC, "recordChange")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let summary = check.text("summary", &input.summary, MAX_SUMMARY);
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let details = check_details(&mut check, "details", input.details);
    let occurred_at = check_occurred_at(&mut check, "occurredAt", input.occurred_at);
    let environment_id = check.id(
        "environmentId",
        NodeType::Environment,
        &input.environment_id,
    );
    let system_ids: Vec<_> = input
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
        systems_in(db, &mut check, "systemIds", environment.id, &system_ids).await?;
        ticket_in(db, &mut check, "ticketId", environment.id, ticket_id).await?;
    }
    let (Some(summary), Some(reason), Some(details), Some(occurred_at), Some(environment)) =
        (summary, reason, details, occurred_at, environment)
    else {
        return Ok(RecordChangePayload::refused(check.into_errors()));
    };
    if !check.is_ok() {
        return Ok(RecordChangePayload::refused(check.into_errors()));
    }
    let mut write = crate::graphql::mutation::begin(ctx, viewer, reason, ticket_id).await?;
    let mut entry = change_log_entry::Model {
        id: Uuid::now_v7(),
        environment_id: environment.id,
        summary,
        details,
        reason: write.reason.clone(),
        actor_id: Some(viewer.person.id),
        actor_name: viewer.person.display_name.clone(),
        source: entities::enums::ChangeSource::Api,
        category: input.category.into(),
        occurred_at,
        recorded_at: write.now,
        ticket_id,
        corrects_id: None,
        change_set_id: Some(write.change_set_id),
        integration_id: viewer.integration.as_ref().map(|found| found.id),
        organization_id: None,
        principal: write.principal(),
        recorded_by_id: Some(viewer.person.id),
        external_source: None,
        external_id: None,
        external_url: None,
    };
    entry = crate::graphql::mutation::insert_entry(&write.txn, entry, &system_ids).await?;
    write.entry_recorded(&entry);
    write.commit().await?;
    Ok(RecordChangePayload::done(ChangeLogEntry(entry)))
}

async fn correct_change(
    ctx: &Context<'_>,
    input: CorrectChangeInput,
) -> ApiResult<CorrectChangePayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, WRITERS_AND_SYNC, "correctChange")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let summary = check.text("summary", &input.summary, MAX_SUMMARY);
    let reason = check.text("reason", &input.reason, MAX_REASON);
    let original_id = check.id(
        "changeLogEntryId",
        NodeType::ChangeLogEntry,
        &input.change_log_entry_id,
    );
    let original = match original_id {
        Some(id) => change_log_entry::Entity::find_by_id(id).one(db).await?,
        None => None,
    };
    let environment = visible_environment(
        db,
        viewer,
        &mut Check::default(),
        "changeLogEntryId",
        original.as_ref().map(|entry| entry.environment_id),
    )
    .await?;
    let Some((original, environment)) = original.zip(environment) else {
        if original_id.is_some() {
            check.fail(
                "changeLogEntryId",
                UserErrorCode::NotFound,
                "no change log entry with this id",
            );
        }
        return Ok(CorrectChangePayload::refused(check.into_errors()));
    };
    let details = match input.details {
        Some(details) => check_details(&mut check, "details", Some(details)),
        None => Some(original.details.clone()),
    };
    let occurred_at = match input.occurred_at {
        Some(occurred_at) => check_occurred_at(&mut check, "occurredAt", Some(occurred_at)),
        None => Some(original.occurred_at),
    };
    let system_ids: Vec<Uuid> = match &input.system_ids {
        Some(ids) => {
            let ids: Vec<_> = ids
                .iter()
                .enumerate()
                .filter_map(|(index, id)| {
                    check.id(&format!("systemIds.{index}"), NodeType::System, id)
                })
                .collect();
            systems_in(db, &mut check, "systemIds", environment.id, &ids).await?;
            ids
        }
        None => change_log_entry_system::Entity::find()
            .filter(
                change_log_entry_system::COLUMN
                    .change_log_entry_id
                    .eq(original.id),
            )
            .all(db)
            .await?
            .into_iter()
            .map(|link| link.system_id)
            .collect(),
    };
    let (Some(summary), Some(reason), Some(details), Some(occurred_at)) =
        (summary, reason, details, occurred_at)
    else {
        return Ok(CorrectChangePayload::refused(check.into_errors()));
    };
    if !check.is_ok() {
        return Ok(CorrectChangePayload::refused(check.into_errors()));
    }
    let mut write =
        crate::graphql::mutation::begin(ctx, viewer, Some(reason), original.ticket_id).await?;
    let correction = change_log_entry::Model {
        id: Uuid::now_v7(),
        environment_id: environment.id,
        summary,
        details,
        reason: write.reason.clone(),
        actor_id: Some(viewer.person.id),
        actor_name: viewer.person.display_name.clone(),
        source: entities::enums::ChangeSource::Api,
        category: input.category.map_or(original.category, Into::into),
        occurred_at,
        recorded_at: write.now,
        ticket_id: original.ticket_id,
        corrects_id: Some(original.id),
        change_set_id: Some(write.change_set_id),
        integration_id: viewer.integration.as_ref().map(|found| found.id),
        organization_id: None,
        principal: write.principal(),
        recorded_by_id: Some(viewer.person.id),
        external_source: None,
        external_id: None,
        external_url: None,
    };
    let stored =
        crate::graphql::mutation::insert_entry(&write.txn, correction, &system_ids).await?;
    write.entry_recorded(&stored);
    write.commit().await?;
    Ok(CorrectChangePayload::done(ChangeLogEntry(stored)))
}
