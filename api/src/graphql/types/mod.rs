//! GraphQL object, interface and enum types. Each object wraps an entity model; only this crate
//! knows the wire format.

pub mod alert;
pub mod change_log_entry;
pub mod compliance;
pub mod engagement;
pub mod enums;
pub mod environment;
pub mod escalation;
pub mod external_id;
pub mod function;
pub mod integration;
pub mod node;
pub mod organization;
pub mod person;
pub mod responsibility;
pub mod runbook;
pub mod system;
pub mod team;
pub mod ticket;
pub mod viewer;
pub mod webhook;

pub use alert::Alert;
pub use change_log_entry::ChangeLogEntry;
pub use compliance::{ComplianceObligation, EvidenceRecord};
pub use engagement::Engagement;
pub use environment::Environment;
pub use escalation::{Escalation, Sla, SlaTarget};
pub use external_id::ExternalId;
pub use function::Function;
pub use integration::{Integration, SyncRun};
pub use node::Node;
pub use organization::Organization;
pub use person::Person;
pub use responsibility::{EscalationStep, Responsibility, Routing};
pub use runbook::{Runbook, RunbookRevision};
pub use system::System;
pub use team::Team;
pub use ticket::{Ticket, TicketNote};
pub use viewer::Viewer;
pub use webhook::{WebhookDelivery, WebhookEndpoint};
