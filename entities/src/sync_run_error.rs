//! A record that failed during a sync run, with why.

use sea_orm::entity::prelude::*;

/// A row of `sync_run_errors`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_run_errors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub sync_run_id: Uuid,
    pub resource: String,
    pub external_id: Option<String>,
    pub reason: String,
    pub occurred_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
