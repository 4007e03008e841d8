//! A system a runbook covers.

use sea_orm::entity::prelude::*;

/// A row of `runbook_systems`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "runbook_systems")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub runbook_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub system_id: Uuid,
}

impl ActiveModelBehavior for ActiveModel {}
