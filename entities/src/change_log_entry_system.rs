//! A system a change log entry concerns.

use sea_orm::entity::prelude::*;

/// A row of `change_log_entry_systems`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "change_log_entry_systems")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub change_log_entry_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub system_id: Uuid,
}

impl ActiveModelBehavior for ActiveModel {}
