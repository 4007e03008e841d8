//! Tandem's schema migrations, one file per step, for SQLite and PostgreSQL alike.
//!
//! Layout:
//! - [`Migrator`] lists every migration in the order it runs. `tandem migrate` and `tandem serve`
//!   apply the pending ones; tests build every database through it, never from entities.
//! - `columns` holds the column and foreign-key shapes every table repeats (UUID keys, UTC
//!   timestamps, enum columns guarded by `CHECK`), so the DDL stays uniform across tables.
//! - `mYYYYMMDD_NNNNNN_<verb>_<noun>.rs`: one step each. A merged migration is never edited; a
//!   change to the schema is a new step.
//!
//! Invariants kept by the DDL itself, not only by the application:
//! - every reference is a foreign key; deleting a parent never silently drops history (change
//!   log entries, runbook revisions and sync runs restrict deletion);
//! - external records are unique per source (`(external_source, external_id)` and
//!   `(source, resource, external_id)` for system links);
//! - change log entries, runbook revisions and the matrix history are immutable: triggers
//!   reject `UPDATE` and `DELETE` on both databases;
//! - every timestamp is `timestamp with time zone` on PostgreSQL and RFC 3339 UTC text on SQLite.

// `MigrationTrait` elides `SchemaManager`'s lifetime, and spelling it out in an impl does not
// match the trait's (late-bound) one, so the 2018-idioms lint cannot be met in migrations.
#![allow(elided_lifetimes_in_paths)]

pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261127_000001_create_organizations;
mod m20261127_000002_create_environments;
mod m20261127_000003_create_integrations;
mod m20261127_000004_create_functions;
mod m20261127_000005_create_responsibilities;
mod m20261127_000006_create_runbooks;
mod m20261127_000007_create_tickets;
mod m20261127_000008_create_change_log;
mod m20261201_000009_scope_writes;
mod m20261201_000011_create_sync_retries;
mod m20261201_000012_sync_run_skips_and_deleted_integrations;
mod m20261201_000013_keyset_indexes;
mod m20261201_000014_amend_responsibilities;
mod m20261201_000015_function_system_kinds;
mod m20261201_000016_create_compliance_evidence;
mod m20261201_000017_create_webhook_outbox;
mod m20261201_000018_create_escalations;
mod m20261201_000019_create_psa_writes;

pub use m20261201_000014_amend_responsibilities::reconstruct_history as reconstruct_responsibility_history;

/// Every migration, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_create_organizations::Migration),
            Box::new(m20261127_000002_create_environments::Migration),
            Box::new(m20261127_000003_create_integrations::Migration),
            Box::new(m20261127_000004_create_functions::Migration),
            Box::new(m20261127_000005_create_responsibilities::Migration),
            Box::new(m20261127_000006_create_runbooks::Migration),
            Box::new(m20261127_000007_create_tickets::Migration),
            Box::new(m20261127_000008_create_change_log::Migration),
            Box::new(m20261201_000009_scope_writes::Migration),
            Box::new(m20261201_000011_create_sync_retries::Migration),
            Box::new(m20261201_000012_sync_run_skips_and_deleted_integrations::Migration),
            Box::new(m20261201_000013_keyset_indexes::Migration),
            Box::new(m20261201_000014_amend_responsibilities::Migration),
            Box::new(m20261201_000015_function_system_kinds::Migration),
            Box::new(m20261201_000016_create_compliance_evidence::Migration),
            Box::new(m20261201_000017_create_webhook_outbox::Migration),
            Box::new(m20261201_000018_create_escalations::Migration),
            Box::new(m20261201_000019_create_psa_writes::Migration),
        ]
    }
}
