//! Writes scoped to their tenant, attributed to who wrote them, and runs that can be interrupted.
//!
//! - External keys are unique per organization: `(organization_id, external_source,
//!   external_id)` on tickets, alerts and change log entries, `(organization_id, source,
//!   resource, external_id)` on system links. Two tenants sending the same vendor id never meet;
//!   before, the key was global and a second tenant's upsert found (and moved) the first's record.
//! - Change log entries record the authenticated principal that wrote them (`principal`, plus
//!   `recorded_by_id` for a person and the existing `integration_id` for an integration), apart
//!   from the free-text `actor_name` a sync job may supply.
//! - `responsibility_retirements`: each side's approval of retiring an agreed entry.
//! - Sync runs may end `INTERRUPTED` (a shutdown or a crash).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

use crate::columns::{create_table, drop_tables, fk, id, instant, unique, uuid};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tables whose rows mirror an external record, with the unique index they had and the columns
/// of the one that replaces it.
const EXTERNAL: &[(&str, &str, &[&str])] = &[
    (
        "tickets",
        "ux_tickets_external_source_external_id",
        &["organization_id", "external_source", "external_id"],
    ),
    (
        "alerts",
        "ux_alerts_external_source_external_id",
        &["organization_id", "external_source", "external_id"],
    ),
    (
        "change_log_entries",
        "ux_change_log_entries_external_source_external_id",
        &["organization_id", "external_source", "external_id"],
    ),
    (
        "system_links",
        "ux_system_links_source_resource_external_id",
        &["organization_id", "source", "resource", "external_id"],
    ),
];

/// Who wrote a change log entry.
pub const PRINCIPALS: &[&str] = &["PERSON", "INTEGRATION", "SYSTEM"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let postgres = backend == DatabaseBackend::Postgres;
        // Backfilling the append-only log needs its guard lifted for this transaction only.
        if postgres {
            db.execute_unprepared(
                "ALTER TABLE change_log_entries DISABLE TRIGGER change_log_entries_immutable",
            )
            .await?;
        } else {
            db.execute_unprepared("DROP TRIGGER change_log_entries_no_update")
                .await?;
        }
        for (table, old_index, columns) in EXTERNAL {
            let uuid_type = if postgres { "uuid" } else { "uuid_text" };
            db.execute_unprepared(&format!(
                "ALTER TABLE {table} ADD COLUMN organization_id {uuid_type} NULL \
                 REFERENCES organizations (id) ON DELETE RESTRICT ON UPDATE CASCADE"
            ))
            .await?;
            let owner = if *table == "system_links" {
                "SELECT e.organization_id FROM systems s JOIN environments e \
                 ON e.id = s.environment_id WHERE s.id = system_links.system_id"
                    .to_owned()
            } else {
                format!(
                    "SELECT e.organization_id FROM environments e WHERE e.id = {table}.environment_id"
                )
            };
            db.execute_unprepared(&format!("UPDATE {table} SET organization_id = ({owner})"))
                .await?;
            manager
                .drop_index(Index::drop().name(*old_index).table(*table).to_owned())
                .await?;
            manager.create_index(unique(table, columns)).await?;
        }

        let principal_check = PRINCIPALS
            .iter()
            .map(|value| format!("'{value}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let uuid_type = if postgres { "uuid" } else { "uuid_text" };
        db.execute_unprepared(&format!(
            "ALTER TABLE change_log_entries ADD COLUMN principal text NOT NULL DEFAULT 'PERSON' \
             CHECK (principal IN ({principal_check}))"
        ))
        .await?;
        db.execute_unprepared(&format!(
            "ALTER TABLE change_log_entries ADD COLUMN recorded_by_id {uuid_type} NULL \
             REFERENCES people (id) ON DELETE RESTRICT ON UPDATE CASCADE"
        ))
        .await?;
        // What was written before: a sync run's entries by its integration, the system's by
        // Tandem, every other by the person named as actor.
        db.execute_unprepared(
            "UPDATE change_log_entries SET \
               principal = CASE WHEN integration_id IS NOT NULL THEN 'INTEGRATION' \
                                WHEN source = 'SYSTEM' THEN 'SYSTEM' ELSE 'PERSON' END, \
               recorded_by_id = CASE WHEN integration_id IS NULL THEN actor_id END",
        )
        .await?;
        if postgres {
            db.execute_unprepared(
                "ALTER TABLE change_log_entries ENABLE TRIGGER change_log_entries_immutable",
            )
            .await?;
        } else {
            db.execute_unprepared(
                "CREATE TRIGGER change_log_entries_no_update BEFORE UPDATE ON change_log_entries \
                 BEGIN SELECT RAISE(ABORT, 'change log entries are append-only'); END;",
            )
            .await?;
        }

        create_table(
            manager,
            "responsibility_retirements",
            vec![
                id(),
                uuid("responsibility_id"),
                // The side that approved retiring the entry.
                uuid("organization_id"),
                uuid("person_id"),
                instant("approved_at"),
            ],
            None,
            vec![
                fk(
                    "responsibility_retirements",
                    "responsibility_id",
                    "responsibilities",
                    ForeignKeyAction::Cascade,
                ),
                fk(
                    "responsibility_retirements",
                    "organization_id",
                    "organizations",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "responsibility_retirements",
                    "person_id",
                    "people",
                    ForeignKeyAction::Restrict,
                ),
            ],
            vec![unique(
                "responsibility_retirements",
                &["responsibility_id", "organization_id"],
            )],
        )
        .await?;

        widen_sync_run_status(db, backend).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["responsibility_retirements"]).await?;
        // The added columns and indexes stay: narrowing keys again could fail on data written
        // since, and nothing older reads them.
        Ok(())
    }
}

/// Lets `sync_runs.status` be `INTERRUPTED`.
///
/// SQLite cannot alter a `CHECK`; its documented way to widen one (ALTER TABLE, "other kinds of
/// table schema changes") rewrites the table's stored `CREATE TABLE` text in place, which is safe
/// here because every existing row satisfies the wider check.
async fn widen_sync_run_status(
    db: &SchemaManagerConnection<'_>,
    backend: DatabaseBackend,
) -> Result<(), DbErr> {
    if backend == DatabaseBackend::Postgres {
        db.execute_unprepared(
            "ALTER TABLE sync_runs DROP CONSTRAINT IF EXISTS sync_runs_status_check;\n\
             ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_status_check CHECK \
             (status IN ('RUNNING', 'SUCCEEDED', 'PARTIAL', 'FAILED', 'INTERRUPTED'))",
        )
        .await?;
        return Ok(());
    }
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'sync_runs'",
        ))
        .await?
        .ok_or_else(|| DbErr::Migration("sync_runs is missing".to_owned()))?;
    let sql: String = row.try_get("", "sql")?;
    let old = "'RUNNING', 'SUCCEEDED', 'PARTIAL', 'FAILED')";
    if !sql.contains(old) {
        return Err(DbErr::Migration(format!(
            "unexpected sync_runs definition: {sql}"
        )));
    }
    let widened = sql.replace(
        old,
        "'RUNNING', 'SUCCEEDED', 'PARTIAL', 'FAILED', 'INTERRUPTED')",
    );
    let version_row = db
        .query_one_raw(Statement::from_string(backend, "PRAGMA schema_version"))
        .await?
        .ok_or_else(|| DbErr::Migration("no schema version".to_owned()))?;
    let version: i64 = version_row.try_get_by_index(0)?;
    db.execute_unprepared("PRAGMA writable_schema = ON").await?;
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'sync_runs'",
        [widened.into()],
    ))
    .await?;
    db.execute_unprepared(&format!("PRAGMA schema_version = {}", version + 1))
        .await?;
    db.execute_unprepared("PRAGMA writable_schema = OFF")
        .await?;
    Ok(())
}
