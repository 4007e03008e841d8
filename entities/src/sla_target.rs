//! A matrix entry's service level target for one priority.

use sea_orm::entity::prelude::*;

use crate::enums::{Priority, SlaCalendar};

/// A row of `sla_targets`; unique per entry and priority.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sla_targets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub responsibility_id: Uuid,
    pub priority: Priority,
    /// Minutes to the first response (a ticket responded to, an alert acknowledged).
    pub response_minutes: i32,
    /// Minutes to resolution; `None`: no resolution target.
    pub resolution_minutes: Option<i32>,
    pub calendar: SlaCalendar,
}

impl ActiveModelBehavior for ActiveModel {}
