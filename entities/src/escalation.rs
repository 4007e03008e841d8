//! One escalation of a ticket or alert: a step of its entry's path, notified.

use sea_orm::entity::prelude::*;

use crate::enums::EscalationChannel;

/// A row of `escalations` (append-only); unique per item and position.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "escalations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub environment_id: Uuid,
    /// Set for a ticket's escalation; exactly one of ticket and alert is.
    pub ticket_id: Option<Uuid>,
    pub alert_id: Option<Uuid>,
    /// The matrix entry whose path was followed.
    pub responsibility_id: Option<Uuid>,
    /// The step's 1-based position.
    pub position: i32,
    /// Who was notified: a team or a person.
    pub team_id: Option<Uuid>,
    pub person_id: Option<Uuid>,
    /// How; `None` under the empty-path rule.
    pub channel: Option<EscalationChannel>,
    /// Why, in words.
    pub reason: String,
    /// When it was due.
    pub due_at: DateTimeUtc,
    /// When it was notified.
    pub escalated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
