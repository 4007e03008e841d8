//! A function a runbook covers.

use sea_orm::entity::prelude::*;

/// A row of `runbook_functions`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "runbook_functions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub runbook_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub function_id: Uuid,
}

impl ActiveModelBehavior for ActiveModel {}
