//! The `data` of an event: the object as the API shows it (camelCase fields, global ids, enum
//! values as in the schema, instants in RFC 3339), built from the row the write committed.

use chrono::{DateTime, Utc};
use entities::{alert, change_log_entry, escalation, responsibility, sync_run, ticket};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::ids::{NodeType, encode};

/// The global id of `id` as a `node_type`.
#[must_use]
pub fn global_id(node_type: NodeType, id: Uuid) -> String {
    encode(node_type, id).0
}

fn optional_id(node_type: NodeType, id: Option<Uuid>) -> Value {
    id.map_or(Value::Null, |id| Value::String(global_id(node_type, id)))
}

fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn optional_instant(at: Option<DateTime<Utc>>) -> Value {
    at.map_or(Value::Null, |at| Value::String(instant(at)))
}

fn external(source: Option<&String>, id: Option<&String>, url: Option<&String>) -> Value {
    match (source, id) {
        (Some(source), Some(id)) => json!({ "source": source, "id": id, "url": url }),
        _ => Value::Null,
    }
}

/// A `Ticket`.
#[must_use]
pub fn ticket(ticket: &ticket::Model) -> Value {
    json!({
        "id": global_id(NodeType::Ticket, ticket.id),
        "environmentId": global_id(NodeType::Environment, ticket.environment_id),
        "systemId": optional_id(NodeType::System, ticket.system_id),
        "functionId": optional_id(NodeType::Function, ticket.function_id),
        "title": ticket.title,
        "description": ticket.description,
        "status": ticket.status,
        "priority": ticket.priority,
        "requester": ticket.requester,
        "assignedTeamId": optional_id(NodeType::Team, ticket.assigned_team_id),
        "assignedPersonId": optional_id(NodeType::Person, ticket.assigned_person_id),
        "routedById": optional_id(NodeType::Responsibility, ticket.routed_by_id),
        "routingReason": ticket.routing_reason,
        "createdAt": instant(ticket.created_at),
        "updatedAt": instant(ticket.updated_at),
        "resolvedAt": optional_instant(ticket.resolved_at),
        "closedAt": optional_instant(ticket.closed_at),
        "external": external(ticket.external_source.as_ref(), ticket.external_id.as_ref(), ticket.external_url.as_ref()),
    })
}

/// An `Alert`.
#[must_use]
pub fn alert(alert: &alert::Model) -> Value {
    json!({
        "id": global_id(NodeType::Alert, alert.id),
        "environmentId": global_id(NodeType::Environment, alert.environment_id),
        "systemId": optional_id(NodeType::System, alert.system_id),
        "ticketId": optional_id(NodeType::Ticket, alert.ticket_id),
        "message": alert.message,
        "severity": alert.severity,
        "status": alert.status,
        "raisedAt": instant(alert.raised_at),
        "acknowledgedAt": optional_instant(alert.acknowledged_at),
        "acknowledgedById": optional_id(NodeType::Person, alert.acknowledged_by_id),
        "resolvedAt": optional_instant(alert.resolved_at),
        "assignedTeamId": optional_id(NodeType::Team, alert.assigned_team_id),
        "routedById": optional_id(NodeType::Responsibility, alert.routed_by_id),
        "routingReason": alert.routing_reason,
        "updatedAt": instant(alert.updated_at),
        "external": external(alert.external_source.as_ref(), alert.external_id.as_ref(), alert.external_url.as_ref()),
    })
}

/// An `Escalation` of a ticket or an alert (no global id of its own: `id` is its uuid).
#[must_use]
pub fn escalation(escalation: &escalation::Model) -> Value {
    json!({
        "id": escalation.id,
        "environmentId": global_id(NodeType::Environment, escalation.environment_id),
        "ticketId": optional_id(NodeType::Ticket, escalation.ticket_id),
        "alertId": optional_id(NodeType::Alert, escalation.alert_id),
        "responsibilityId": optional_id(NodeType::Responsibility, escalation.responsibility_id),
        "position": escalation.position,
        "teamId": optional_id(NodeType::Team, escalation.team_id),
        "personId": optional_id(NodeType::Person, escalation.person_id),
        "channel": escalation.channel,
        "reason": escalation.reason,
        "dueAt": instant(escalation.due_at),
        "escalatedAt": instant(escalation.escalated_at),
    })
}

/// A `ChangeLogEntry`.
#[must_use]
pub fn change(entry: &change_log_entry::Model) -> Value {
    json!({
        "id": global_id(NodeType::ChangeLogEntry, entry.id),
        "environmentId": global_id(NodeType::Environment, entry.environment_id),
        "summary": entry.summary,
        "details": entry.details,
        "reason": entry.reason,
        "actorId": optional_id(NodeType::Person, entry.actor_id),
        "actorName": entry.actor_name,
        "source": entry.source,
        "category": entry.category,
        "principal": entry.principal,
        "integrationId": optional_id(NodeType::Integration, entry.integration_id),
        "ticketId": optional_id(NodeType::Ticket, entry.ticket_id),
        "correctsId": optional_id(NodeType::ChangeLogEntry, entry.corrects_id),
        "changeSetId": entry.change_set_id,
        "occurredAt": instant(entry.occurred_at),
        "recordedAt": instant(entry.recorded_at),
        "external": external(entry.external_source.as_ref(), entry.external_id.as_ref(), entry.external_url.as_ref()),
    })
}

/// A `Responsibility` (a matrix entry).
#[must_use]
pub fn responsibility(entry: &responsibility::Model) -> Value {
    json!({
        "id": global_id(NodeType::Responsibility, entry.id),
        "environmentId": global_id(NodeType::Environment, entry.environment_id),
        "functionId": global_id(NodeType::Function, entry.function_id),
        "systemId": optional_id(NodeType::System, entry.system_id),
        "responsibleTeamId": global_id(NodeType::Team, entry.responsible_team_id),
        "accountableTeamId": optional_id(NodeType::Team, entry.accountable_team_id),
        "status": entry.status,
        "validFrom": instant(entry.valid_from),
        "validTo": optional_instant(entry.valid_to),
        "notes": entry.notes,
        "supersedesId": optional_id(NodeType::Responsibility, entry.supersedes_id),
        "agreedAt": optional_instant(entry.agreed_at),
        "updatedAt": instant(entry.updated_at),
    })
}

/// A `SyncRun`.
#[must_use]
pub fn sync_run(run: &sync_run::Model) -> Value {
    json!({
        "id": global_id(NodeType::SyncRun, run.id),
        "integrationId": global_id(NodeType::Integration, run.integration_id),
        "trigger": run.trigger,
        "full": run.full,
        "status": run.status,
        "startedAt": instant(run.started_at),
        "finishedAt": optional_instant(run.finished_at),
        "error": run.error,
    })
}

/// The schema name of a GraphQL enum value (`REQUIRED_FUNCTION_UNOWNED`, `HIGH`).
fn enum_name(value: &impl async_graphql::InputType) -> Value {
    match value.to_value() {
        async_graphql::Value::Enum(name) => Value::String(name.to_string()),
        other => Value::String(other.to_string()),
    }
}

/// An `OwnershipGap` of `environment_id` that a write opened or closed (`change`: `OPENED` or
/// `CLOSED`): its fields as `ownershipGaps` shows them, its subject as `{__typename, id}`.
#[must_use]
pub fn ownership_gap(environment_id: Uuid, gap: &crate::gaps::Gap, change: &str) -> Value {
    use crate::gaps::GapSubject;
    let (typename, node_type, id) = match &gap.subject {
        GapSubject::Function(found) => ("Function", NodeType::Function, found.id),
        GapSubject::System(found) => ("System", NodeType::System, found.id),
        GapSubject::Responsibility(found) => ("Responsibility", NodeType::Responsibility, found.id),
        GapSubject::Runbook(found) => ("Runbook", NodeType::Runbook, found.id),
        GapSubject::Change(found) => ("ChangeLogEntry", NodeType::ChangeLogEntry, found.id),
        GapSubject::Obligation(found) => (
            "ComplianceObligation",
            NodeType::ComplianceObligation,
            found.id,
        ),
        GapSubject::Evidence(found) => ("EvidenceRecord", NodeType::EvidenceRecord, found.id),
    };
    json!({
        "environmentId": global_id(NodeType::Environment, environment_id),
        "change": change,
        "kind": enum_name(&gap.kind),
        "severity": enum_name(&gap.severity),
        "subject": { "__typename": typename, "id": global_id(node_type, id) },
        "summary": gap.summary,
        "suggestedFix": gap.suggested_fix,
    })
}
