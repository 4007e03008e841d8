//! An RMM alert on a system, routed to the team the matrix names.

use sea_orm::entity::prelude::*;

use crate::enums::{AlertStatus, Priority, SlaCalendar};

/// A row of `alerts`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alerts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub environment_id: Uuid,
    pub system_id: Option<Uuid>,
    pub integration_id: Option<Uuid>,
    pub ticket_id: Option<Uuid>,
    pub message: String,
    pub severity: Priority,
    pub external_severity: Option<String>,
    pub status: AlertStatus,
    pub raised_at: DateTimeUtc,
    pub acknowledged_at: Option<DateTimeUtc>,
    pub acknowledged_by_id: Option<Uuid>,
    pub resolved_at: Option<DateTimeUtc>,
    pub assigned_team_id: Option<Uuid>,
    pub routed_by_id: Option<Uuid>,
    pub routing_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The external system this row mirrors, when it mirrors one.
    /// The tenant whose keyspace `(external_source, external_id)` belongs to: the organization
    /// of the environment the record was first written in.
    pub organization_id: Option<Uuid>,
    pub external_source: Option<String>,
    /// The record's id in that system; unique with `external_source`.
    pub external_id: Option<String>,
    /// A link to the record in that system.
    pub external_url: Option<String>,
    /// When a response is due (tickets: responded to; alerts: acknowledged), from the routed
    /// entry's SLA target for the priority; `None` without one.
    pub response_due_at: Option<DateTimeUtc>,
    /// When resolution is due; `None` without a resolution target.
    pub resolution_due_at: Option<DateTimeUtc>,
    /// The calendar the due times were counted on.
    pub sla_calendar: Option<SlaCalendar>,
    /// The last escalation step notified; 0 before the first.
    pub escalation_level: i32,
    /// When the next escalation is due; `None` when none is (stopped, or past the last step).
    pub next_escalation_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
