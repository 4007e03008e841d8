//! A sync run: one run of an integration, with its counts and outcome.

use sea_orm::entity::prelude::*;

use crate::enums::{SyncStatus, SyncTrigger};

/// A row of `sync_runs`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub integration_id: Uuid,
    pub trigger: SyncTrigger,
    /// Whether cursors were ignored.
    pub full: bool,
    pub status: SyncStatus,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    pub records_fetched: i32,
    pub records_created: i32,
    pub records_updated: i32,
    pub records_unchanged: i32,
    pub records_failed: i32,
    /// Records of vendor companies no mapping names.
    pub records_skipped: i32,
    /// What the run warns about, a JSON array of strings (null: nothing).
    pub warnings: Option<String>,
    /// Why the run failed.
    pub error: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
