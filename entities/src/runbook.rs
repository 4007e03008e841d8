//! A runbook: a versioned Markdown procedure with an owner team and a review interval.

use sea_orm::entity::prelude::*;

/// A row of `runbooks`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "runbooks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub environment_id: Uuid,
    pub title: String,
    pub owner_team_id: Uuid,
    pub review_interval_days: i32,
    pub last_reviewed_at: Option<DateTimeUtc>,
    pub last_reviewed_by_id: Option<Uuid>,
    pub archived_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
