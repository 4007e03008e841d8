//! A ticket: a work item, created in Tandem or synced from a PSA.

use sea_orm::entity::prelude::*;

use crate::enums::{Priority, SlaCalendar, TicketStatus};

/// A row of `tickets`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tickets")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub environment_id: Uuid,
    pub system_id: Option<Uuid>,
    pub function_id: Option<Uuid>,
    pub integration_id: Option<Uuid>,
    pub title: String,
    pub description: Option<String>,
    pub status: TicketStatus,
    pub priority: Priority,
    /// The external system's own status value.
    pub external_status: Option<String>,
    /// The external system's own priority value.
    pub external_priority: Option<String>,
    pub requester: Option<String>,
    pub assigned_team_id: Option<Uuid>,
    pub assigned_person_id: Option<Uuid>,
    /// The responsibility whose responsible team the ticket was routed to.
    pub routed_by_id: Option<Uuid>,
    pub routing_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub resolved_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
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
    /// When the ticket was first responded to: its first status change away from `NEW`, or the
    /// first note by a person of its assigned team's organization.
    pub responded_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
