//! Each side's approval of retiring an agreed responsibility.

use sea_orm::entity::prelude::*;

/// A row of `responsibility_retirements`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "responsibility_retirements")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub responsibility_id: Uuid,
    /// The side that approved retiring it.
    pub organization_id: Uuid,
    /// The admin who approved retiring it.
    pub person_id: Uuid,
    pub approved_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
