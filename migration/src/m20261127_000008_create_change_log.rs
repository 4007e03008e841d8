//! The change log: an append-only record of who changed what, when and why.
//!
//! Entries are never edited or deleted (triggers enforce it); a mistake is corrected by a new
//! entry whose `corrects_id` points at the old one. The hot path, "changes in an environment in a
//! time range", is served by the `(environment_id, occurred_at, id)` index, which is also the
//! keyset the API pages by.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{json_binary, text, text_null};

use crate::columns::{
    allow_changes, create_table, drop_tables, enum_text, external_columns, external_unique, fk,
    forbid_changes, id, index, instant, uuid, uuid_null,
};

/// Where an entry came from.
pub const SOURCES: &[&str] = &["MANUAL", "API", "PSA", "RMM", "SYSTEM"];

/// What kind of change an entry records.
pub const CATEGORIES: &[&str] = &[
    "CONFIGURATION",
    "ACCESS",
    "PATCH",
    "DEPLOYMENT",
    "HARDWARE",
    "NETWORK",
    "SECURITY",
    "BACKUP",
    "INCIDENT",
    "MAINTENANCE",
    "OWNERSHIP",
    "DOCUMENTATION",
    "INVENTORY",
    "OTHER",
];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // SQLite runs DDL in transactions too: a failed step leaves nothing half-applied.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut columns = vec![
            id(),
            uuid("environment_id"),
            text("summary"),
            // Structured details (before/after values, commands, links), a JSON object.
            json_binary("details"),
            text_null("reason"),
            uuid_null("actor_id"),
            // Who made the change as a label, also for actors that are not people (a sync job).
            text("actor_name"),
            enum_text("source", SOURCES),
            enum_text("category", CATEGORIES),
            instant("occurred_at"),
            instant("recorded_at"),
            uuid_null("ticket_id"),
            uuid_null("corrects_id"),
            // Groups the entries written by one mutation or one sync page.
            uuid_null("change_set_id"),
            uuid_null("integration_id"),
        ];
        columns.extend(external_columns());
        create_table(
            manager,
            "change_log_entries",
            columns,
            None,
            vec![
                fk(
                    "change_log_entries",
                    "environment_id",
                    "environments",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "change_log_entries",
                    "actor_id",
                    "people",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "change_log_entries",
                    "ticket_id",
                    "tickets",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "change_log_entries",
                    "corrects_id",
                    "change_log_entries",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "change_log_entries",
                    "integration_id",
                    "integrations",
                    ForeignKeyAction::Restrict,
                ),
            ],
            vec![
                index(
                    "change_log_entries",
                    &["environment_id", "occurred_at", "id"],
                ),
                index("change_log_entries", &["occurred_at", "id"]),
                index("change_log_entries", &["ticket_id"]),
                index("change_log_entries", &["corrects_id"]),
                index("change_log_entries", &["change_set_id"]),
                external_unique("change_log_entries"),
            ],
        )
        .await?;
        forbid_changes(
            manager,
            "change_log_entries",
            "change log entries are append-only",
        )
        .await?;

        create_table(
            manager,
            "change_log_entry_systems",
            vec![uuid("change_log_entry_id"), uuid("system_id")],
            Some(&["change_log_entry_id", "system_id"]),
            vec![
                fk(
                    "change_log_entry_systems",
                    "change_log_entry_id",
                    "change_log_entries",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "change_log_entry_systems",
                    "system_id",
                    "systems",
                    ForeignKeyAction::Restrict,
                ),
            ],
            vec![index(
                "change_log_entry_systems",
                &["system_id", "change_log_entry_id"],
            )],
        )
        .await?;
        forbid_changes(
            manager,
            "change_log_entry_systems",
            "change log entries are append-only",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        allow_changes(manager, "change_log_entry_systems").await?;
        allow_changes(manager, "change_log_entries").await?;
        drop_tables(manager, &["change_log_entry_systems", "change_log_entries"]).await
    }
}
