//! The Relay `Node` interface: every object with a global id.

use async_graphql::{ID, Interface};

use crate::graphql::types::{
    Alert, ChangeLogEntry, ComplianceObligation, Engagement, Environment, EvidenceRecord,
    ExternalId, Function, Integration, Organization, Person, Responsibility, Runbook,
    RunbookRevision, SyncRun, System, Team, Ticket, TicketNote, WebhookDelivery, WebhookEndpoint,
};

/// An object with a global id, fetchable with `node(id:)`.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Global id."))]
pub enum Node {
    /// An organization.
    Organization(Organization),
    /// An engagement.
    Engagement(Engagement),
    /// A team.
    Team(Team),
    /// A person.
    Person(Person),
    /// An environment.
    Environment(Environment),
    /// A system.
    System(System),
    /// A function.
    Function(Function),
    /// A matrix entry.
    Responsibility(Responsibility),
    /// A runbook.
    Runbook(Runbook),
    /// A runbook revision.
    RunbookRevision(RunbookRevision),
    /// A change log entry.
    ChangeLogEntry(ChangeLogEntry),
    /// A ticket.
    Ticket(Ticket),
    /// A ticket note.
    TicketNote(TicketNote),
    /// An alert.
    Alert(Alert),
    /// An integration.
    Integration(Integration),
    /// A sync run.
    SyncRun(SyncRun),
    /// A compliance obligation of the catalog.
    ComplianceObligation(ComplianceObligation),
    /// A piece of compliance evidence.
    EvidenceRecord(EvidenceRecord),
    /// A record in an external system.
    ExternalId(ExternalId),
    /// An outbound webhook endpoint (admins of its organization).
    WebhookEndpoint(WebhookEndpoint),
    /// A delivery of an event to a webhook endpoint (admins of its organization).
    WebhookDelivery(WebhookDelivery),
}
