//! `recordChange` and `correctChange`. Entries are never edited or deleted: a correction is a new
//! entry that points at the one it corrects.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, ResultExt};
use sea_orm::prelude::*;

use crate::error::ApiResult;
use crate::events::EventBus;
use crate::graphql::context::ContextExt;
use crate::graphql::mutation::{Check, CheckIds, CheckRequired, payload};
use crate::graphql::scalars::Json;
use crate::graphql::types::ChangeLogEntry;
use crate::graphql::types::enums::ChangeCategory;
use crate::ids::NodeType;
use crate::services;

pub use crate::services::change_log::{MAX_DETAILS_BYTES, MAX_REASON, MAX_SUMMARY};

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
    /// Corrected details; the original's when omitted, none (`{}`) when `null`.
    pub details: MaybeUndefined<Json>,
    /// Corrected category; the original's when omitted (cannot be `null`).
    pub category: MaybeUndefined<ChangeCategory>,
    /// Corrected systems; the original's when omitted, none when `null`.
    pub system_ids: MaybeUndefined<Vec<ID>>,
    /// Corrected time of the change; the original's when omitted (cannot be `null`).
    pub occurred_at: MaybeUndefined<DateTimeUtc>,
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

/// Checks `details` (see [`services::change_log::check_details`]).
pub fn check_details(
    check: &mut Check,
    field: &str,
    details: Option<Json>,
) -> Option<serde_json::Value> {
    services::change_log::check_details(check, field, details.map(|Json(value)| value))
}

async fn record_change(
    ctx: &Context<'_>,
    input: RecordChangeInput,
) -> ApiResult<RecordChangePayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
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
    let change = services::change_log::NewChange {
        environment_id,
        system_ids,
        summary: input.summary,
        details: input.details.map(|Json(value)| value),
        reason: input.reason,
        category: input.category.into(),
        occurred_at: input.occurred_at,
        ticket_id,
    };
    let outcome = services::change_log::record_change(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        change,
        check,
    )
    .await;
    RecordChangePayload::from_outcome(outcome.map(ChangeLogEntry))
}

async fn correct_change(
    ctx: &Context<'_>,
    input: CorrectChangeInput,
) -> ApiResult<CorrectChangePayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let entry_id = check.id(
        "changeLogEntryId",
        NodeType::ChangeLogEntry,
        &input.change_log_entry_id,
    );
    // `null` clears what may be empty (details, systems) and is refused where a value is
    // required (category, time), never silently read as "keep".
    let system_ids = match input.system_ids {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(Vec::new()),
        MaybeUndefined::Value(ids) => Some(
            ids.iter()
                .enumerate()
                .filter_map(|(index, id)| {
                    check.id(&format!("systemIds.{index}"), NodeType::System, id)
                })
                .collect(),
        ),
    };
    let details = match input.details {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(serde_json::json!({})),
        MaybeUndefined::Value(Json(value)) => Some(value),
    };
    let category = check.required("category", input.category).map(Into::into);
    let occurred_at = check.required("occurredAt", input.occurred_at);
    let correction = services::change_log::Correction {
        entry_id,
        summary: input.summary,
        reason: input.reason,
        details,
        category,
        system_ids,
        occurred_at,
    };
    let outcome = services::change_log::correct_change(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        correction,
        check,
    )
    .await;
    CorrectChangePayload::from_outcome(outcome.map(ChangeLogEntry))
}
