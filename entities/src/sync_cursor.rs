//! Where the next incremental sync of one resource of one integration starts.

use sea_orm::entity::prelude::*;

/// A row of `sync_cursors`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_cursors")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub integration_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub resource: String,
    /// The vendor changed-since high-water mark.
    pub changed_since: Option<DateTimeUtc>,
    /// A page token to resume an interrupted run.
    pub page_token: Option<String>,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
