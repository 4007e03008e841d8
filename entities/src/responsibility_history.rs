//! One step in the history of a responsibility: append-only, written in the same transaction as
//! the step, with the status and validity the entry had after it.

use sea_orm::entity::prelude::*;

use crate::enums::{HistoryAction, ResponsibilityStatus};

/// A row of `responsibility_history`; the database rejects updates and deletes.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "responsibility_history")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub responsibility_id: Uuid,
    pub environment_id: Uuid,
    /// When the step was recorded: the second clock of the matrix.
    pub recorded_at: DateTimeUtc,
    pub action: HistoryAction,
    /// The entry's status after the step.
    pub status_after: ResponsibilityStatus,
    /// The entry's start of validity after the step.
    pub valid_from_after: DateTimeUtc,
    /// The entry's end of validity after the step.
    pub valid_to_after: Option<DateTimeUtc>,
    /// The side that took the step; `None` when not known (reconstructed history).
    pub organization_id: Option<Uuid>,
    /// The admin who took the step; `None` when not known.
    pub person_id: Option<Uuid>,
    pub reason: Option<String>,
    /// `[{field, before, after}]` for edits and change proposals.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub changes: Option<Json>,
}

impl ActiveModelBehavior for ActiveModel {}
