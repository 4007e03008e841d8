//! Recording and correcting changes. Entries are never edited or deleted: a correction is a new
//! entry that points at the one it corrects. Every entry records its actor (the caller) and the
//! authenticated principal; the reads that decide an entry (the environment, its systems, the
//! ticket, the original) run inside the write's transaction.

use chrono::{DateTime, Utc};
use entities::enums::ChangeCategory;
use entities::{change_log_entry, change_log_entry_system};
use sea_orm::prelude::*;
use sea_orm::{DatabaseConnection, QueryFilter};
use serde_json::Value;

use crate::auth::Viewer;
use crate::events::EventBus;
use crate::services::scope::{systems_in, ticket_in, visible_environment};
use crate::services::{
    Check, ServiceResult, UnitOfWork, UserErrorCode, WRITERS_AND_SYNC, insert_entry, require_role,
};

/// Longest summary, in characters.
pub const MAX_SUMMARY: usize = 500;
/// Longest reason, in characters.
pub const MAX_REASON: usize = 2_000;
/// Largest `details` object, in bytes of JSON.
pub const MAX_DETAILS_BYTES: usize = 64 * 1024;

/// A change to record.
pub struct NewChange {
    /// The environment changed; `None` when the front door could not decode its id (the error
    /// is then in the `check` it passes).
    pub environment_id: Option<Uuid>,
    /// The systems changed, all in that environment.
    pub system_ids: Vec<Uuid>,
    /// One line saying what changed.
    pub summary: String,
    /// Structured details, a JSON object; `{}` when absent.
    pub details: Option<Value>,
    /// Why.
    pub reason: Option<String>,
    /// What kind of change.
    pub category: ChangeCategory,
    /// When it happened; now when absent.
    pub occurred_at: Option<DateTime<Utc>>,
    /// The ticket it was made under, in the same environment.
    pub ticket_id: Option<Uuid>,
}

/// A correction of entry `entry_id`; each absent field keeps the original's value.
pub struct Correction {
    /// The entry corrected; `None` when the front door could not decode its id.
    pub entry_id: Option<Uuid>,
    /// The corrected summary.
    pub summary: String,
    /// Why it is corrected (required).
    pub reason: String,
    /// Corrected details.
    pub details: Option<Value>,
    /// Corrected category.
    pub category: Option<ChangeCategory>,
    /// Corrected systems.
    pub system_ids: Option<Vec<Uuid>>,
    /// Corrected time of the change.
    pub occurred_at: Option<DateTime<Utc>>,
}

/// Checks a JSON object input (`details`, `attributes`): an object of at most
/// [`MAX_DETAILS_BYTES`]; `{}` when absent.
pub fn check_details(check: &mut Check, field: &str, details: Option<Value>) -> Option<Value> {
    let details = details.unwrap_or_else(|| serde_json::json!({}));
    let name = field.rsplit('.').next().unwrap_or(field);
    if !details.is_object() {
        check.fail(
            field,
            UserErrorCode::Invalid,
            format!("`{name}` must be a JSON object"),
        );
        return None;
    }
    if contains_nul(&details) {
        check.fail(
            field,
            UserErrorCode::Invalid,
            format!("`{name}` must not contain a NUL character"),
        );
        return None;
    }
    if details.to_string().len() > MAX_DETAILS_BYTES {
        check.fail(
            field,
            UserErrorCode::TooLong,
            format!("`{name}` must be at most {MAX_DETAILS_BYTES} bytes of JSON"),
        );
        return None;
    }
    Some(details)
}

/// Whether a NUL character appears in any key or string of `value` (PostgreSQL's `jsonb` cannot
/// store one).
fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(fields) => fields
            .iter()
            .any(|(key, value)| key.contains('\0') || contains_nul(value)),
        _ => false,
    }
}

/// Records `change` as `actor`. `check` holds what the front door already found wrong with the
/// input (ids it could not decode); they are reported together with the service's own.
///
/// # Errors
/// [`ServiceError::Forbidden`] for a role that may not write; [`ServiceError::Refused`] for bad
/// input or an environment, system or ticket the actor cannot see; database errors.
pub async fn record_change(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    change: NewChange,
    mut check: Check,
) -> ServiceResult<change_log_entry::Model> {
    require_role(actor, WRITERS_AND_SYNC, "recordChange")?;
    let summary = check.text("summary", &change.summary, MAX_SUMMARY);
    let reason = check.optional_text("reason", change.reason.as_deref(), MAX_REASON);
    let details = check_details(&mut check, "details", change.details);
    let now = Utc::now();
    let occurred_at = check.observed_instant("occurredAt", change.occurred_at.unwrap_or(now), now);
    let mut write = UnitOfWork::begin(
        db,
        events,
        actor,
        reason.clone().flatten(),
        change.ticket_id,
    )
    .await?;
    let environment = visible_environment(
        &write.txn,
        actor,
        &mut check,
        "environmentId",
        change.environment_id,
    )
    .await?;
    if let Some(environment) = &environment {
        systems_in(
            &write.txn,
            &mut check,
            "systemIds",
            environment.id,
            &change.system_ids,
        )
        .await?;
        ticket_in(
            &write.txn,
            &mut check,
            "ticketId",
            environment.id,
            change.ticket_id,
        )
        .await?;
    }
    let (Some(summary), Some(_), Some(details), Some(occurred_at), Some(environment), true) = (
        summary,
        reason,
        details,
        occurred_at,
        environment,
        check.is_ok(),
    ) else {
        return Err(check.into());
    };
    let mut entry = write.entry(environment.id, summary);
    entry.details = details;
    entry.category = change.category;
    entry.occurred_at = occurred_at;
    let stored = insert_entry(&write.txn, entry, &change.system_ids).await?;
    write.entry_recorded(&stored);
    write.commit().await?;
    Ok(stored)
}

/// Records `correction` as `actor`: a new entry pointing at the original, which stays.
///
/// # Errors
/// As [`record_change`]; an original the actor cannot see is `NOT_FOUND`.
pub async fn correct_change(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    correction: Correction,
    mut check: Check,
) -> ServiceResult<change_log_entry::Model> {
    require_role(actor, WRITERS_AND_SYNC, "correctChange")?;
    let summary = check.text("summary", &correction.summary, MAX_SUMMARY);
    let reason = check.text("reason", &correction.reason, MAX_REASON);
    let mut write = UnitOfWork::begin(db, events, actor, reason.clone(), None).await?;
    let original = match correction.entry_id {
        Some(id) => {
            change_log_entry::Entity::find_by_id(id)
                .one(&write.txn)
                .await?
        }
        None => None,
    };
    let environment = visible_environment(
        &write.txn,
        actor,
        &mut Check::default(),
        "changeLogEntryId",
        original.as_ref().map(|entry| entry.environment_id),
    )
    .await?;
    let Some((original, environment)) = original.zip(environment) else {
        if correction.entry_id.is_some() {
            check.fail(
                "changeLogEntryId",
                UserErrorCode::NotFound,
                "no change log entry with this id",
            );
        }
        return Err(check.into());
    };
    let details = match correction.details {
        Some(details) => check_details(&mut check, "details", Some(details)),
        None => Some(original.details.clone()),
    };
    let occurred_at = match correction.occurred_at {
        Some(occurred_at) => check.observed_instant("occurredAt", occurred_at, Utc::now()),
        None => Some(original.occurred_at),
    };
    let system_ids: Vec<Uuid> = match correction.system_ids {
        Some(ids) => {
            systems_in(&write.txn, &mut check, "systemIds", environment.id, &ids).await?;
            ids
        }
        None => change_log_entry_system::Entity::find()
            .filter(
                change_log_entry_system::COLUMN
                    .change_log_entry_id
                    .eq(original.id),
            )
            .all(&write.txn)
            .await?
            .into_iter()
            .map(|link| link.system_id)
            .collect(),
    };
    let (Some(summary), Some(_), Some(details), Some(occurred_at), true) =
        (summary, reason, details, occurred_at, check.is_ok())
    else {
        return Err(check.into());
    };
    write.ticket_id = original.ticket_id;
    let mut entry = write.entry(environment.id, summary);
    entry.details = details;
    entry.category = correction.category.unwrap_or(original.category);
    entry.occurred_at = occurred_at;
    entry.corrects_id = Some(original.id);
    let stored = insert_entry(&write.txn, entry, &system_ids).await?;
    write.entry_recorded(&stored);
    write.commit().await?;
    Ok(stored)
}
