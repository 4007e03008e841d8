//! Tandem's data model: one sea-orm entity per table, and the enums stored in them.
//!
//! This crate knows nothing about GraphQL, HTTP or configuration; `api` and `integrations` build
//! on it. The schema itself is created by the `migration` crate, never from these entities.
//!
//! Relations are not declared on the models: every relation is read in batches by foreign key
//! (`Entity::find().filter(COLUMN.x_id.is_in(ids))`), which is what the API's DataLoaders do, so
//! that no caller can fall into one query per row.

pub mod enums;
pub mod prelude;

pub mod alert;
pub mod change_log_entry;
pub mod change_log_entry_system;
pub mod compliance_obligation;
pub mod engagement;
pub mod environment;
pub mod escalation;
pub mod escalation_step;
pub mod evidence_file;
pub mod evidence_record;
pub mod evidence_signoff;
pub mod function;
pub mod integration;
pub mod integration_mapping;
pub mod organization;
pub mod outbox_event;
pub mod person;
pub mod psa_team_mapping;
pub mod psa_write;
pub mod responsibility;
pub mod responsibility_approval;
pub mod responsibility_history;
pub mod responsibility_party;
pub mod runbook;
pub mod runbook_function;
pub mod runbook_revision;
pub mod runbook_system;
pub mod sla_target;
pub mod sync_cursor;
pub mod sync_retry;
pub mod sync_run;
pub mod sync_run_error;
pub mod system;
pub mod system_link;
pub mod team;
pub mod team_membership;
pub mod ticket;
pub mod ticket_note;
pub mod value_mapping;
pub mod webhook_delivery;
pub mod webhook_endpoint;
