//! A record on an integration's retry list: it failed in a sync run and is read again by later
//! runs until one writes it.

use sea_orm::entity::prelude::*;

/// A row of `sync_retries`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_retries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub integration_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub resource: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub external_id: String,
    /// The changed-since mark of the pass it failed in; `None` for a pass from the beginning.
    pub changed_since: Option<DateTimeUtc>,
    /// Why it failed last.
    pub reason: String,
    /// Runs it failed in since it was last resolved.
    pub attempts: i32,
    pub first_failed_at: DateTimeUtc,
    pub last_failed_at: DateTimeUtc,
    /// When a run wrote it; `None` while it is pending.
    pub resolved_at: Option<DateTimeUtc>,
    /// The run that wrote it.
    pub resolved_by_run_id: Option<Uuid>,
}

impl ActiveModelBehavior for ActiveModel {}
