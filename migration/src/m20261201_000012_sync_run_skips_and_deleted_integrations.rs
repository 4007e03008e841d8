//! Sync runs count the records they skipped (those of vendor companies no mapping names) apart
//! from the unchanged ones, and keep warnings (a mapping that matched nothing, a run whose records
//! all belonged to unmapped companies). Integrations can be deleted while their history stays:
//! `deleted_at` marks them, and a deleted integration's name is free again.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, text_null};

use crate::columns::instant_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

const NAME_INDEX: &str = "ux_integrations_organization_id_name";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per `ALTER TABLE`.
        for column in [
            integer("records_skipped").default(0).take(),
            // A JSON array of strings; null when the run had nothing to warn about.
            text_null("warnings"),
        ] {
            manager
                .alter_table(Table::alter().table("sync_runs").add_column(column).take())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table("integrations")
                    .add_column(instant_null("deleted_at"))
                    .take(),
            )
            .await?;
        // Partial unique index (both databases have them): a deleted integration keeps its
        // name in its history without holding it against a new one.
        let db = manager.get_connection();
        db.execute_unprepared(&format!("DROP INDEX {NAME_INDEX}"))
            .await?;
        db.execute_unprepared(&format!(
            "CREATE UNIQUE INDEX {NAME_INDEX} ON integrations (organization_id, name) \
             WHERE deleted_at IS NULL"
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Deleted integrations come back as disabled ones without credentials or mappings.
        // Fails while a deleted integration and a live one share a name: rename one first.
        let db = manager.get_connection();
        db.execute_unprepared(&format!("DROP INDEX {NAME_INDEX}"))
            .await?;
        db.execute_unprepared(&format!(
            "CREATE UNIQUE INDEX {NAME_INDEX} ON integrations (organization_id, name)"
        ))
        .await?;
        for (table, column) in [
            ("integrations", "deleted_at"),
            ("sync_runs", "warnings"),
            ("sync_runs", "records_skipped"),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).take())
                .await?;
        }
        Ok(())
    }
}
