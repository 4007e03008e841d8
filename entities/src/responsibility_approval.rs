//! A sign-off of a responsibility by one side of the engagement: agreeing it, or retiring it.

use sea_orm::entity::prelude::*;

use crate::enums::ApprovalDecision;

/// A row of `responsibility_approvals`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "responsibility_approvals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub responsibility_id: Uuid,
    /// The side that approved.
    pub organization_id: Uuid,
    /// The admin who approved.
    pub person_id: Uuid,
    pub approved_at: DateTimeUtc,
    /// What the side signed off; unique per entry, side and decision among live sign-offs.
    pub decision: ApprovalDecision,
    /// When the sign-off stopped counting: its proposal was withdrawn or rejected. Live
    /// sign-offs have none; revoked rows are kept as history.
    pub revoked_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
