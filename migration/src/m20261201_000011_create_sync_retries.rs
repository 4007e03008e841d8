//! The retry list of sync runs: records a run could not read or write stay on it until a later
//! run writes them, so the changed-since mark moving past them does not leave them stale.
//!
//! A row is kept after it is resolved (`resolved_at`, `resolved_by_run_id`), so a run can say how
//! many earlier failures it made good; a record that fails again reopens its row.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, text};

use crate::columns::{
    create_table, drop_tables, fk, index, instant, instant_null, uuid, uuid_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_table(
            manager,
            "sync_retries",
            vec![
                uuid("integration_id"),
                text("resource"),
                text("external_id"),
                // The changed-since mark of the pass the record failed in (null: a pass from the
                // beginning); later passes re-read from the oldest pending one.
                instant_null("changed_since"),
                text("reason"),
                integer("attempts"),
                instant("first_failed_at"),
                instant("last_failed_at"),
                instant_null("resolved_at"),
                uuid_null("resolved_by_run_id"),
            ],
            Some(&["integration_id", "resource", "external_id"]),
            vec![
                fk(
                    "sync_retries",
                    "integration_id",
                    "integrations",
                    ForeignKeyAction::Cascade,
                ),
                fk(
                    "sync_retries",
                    "resolved_by_run_id",
                    "sync_runs",
                    ForeignKeyAction::SetNull,
                ),
            ],
            vec![index("sync_retries", &["resolved_by_run_id"])],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["sync_retries"]).await
    }
}
