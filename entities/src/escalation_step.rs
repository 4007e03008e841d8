//! One step of a responsibility's escalation path.

use sea_orm::entity::prelude::*;

use crate::enums::EscalationChannel;

/// A row of `escalation_steps`; exactly one of team and person is set.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "escalation_steps")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub responsibility_id: Uuid,
    /// 1-based order in the path.
    pub position: i32,
    pub team_id: Option<Uuid>,
    pub person_id: Option<Uuid>,
    pub channel: EscalationChannel,
    /// Minutes before the next step; `None` on the last.
    pub minutes_before_next: Option<i32>,
}

impl ActiveModelBehavior for ActiveModel {}
