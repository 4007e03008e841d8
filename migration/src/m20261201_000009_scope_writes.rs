//! Writes scoped to their tenant, attributed to who wrote them, and runs that can be interrupted.
//!
//! - Synced notes are unique per ticket: `(ticket_id, external_source, external_id)`.
//! - External keys are unique per organization: `(external_source, external_id,
//!   organization_id)` on tickets, alerts and change log entries, `(source, resource,
//!   external_id, organization_id)` on system links (the organization last, so a page's lookup
//!   by source and a thousand ids probes the index once per id). Two tenants sending the same
//!   vendor id never meet; before, the key was global and a second tenant's upsert found (and
//!   moved) the first's record.
//! - Change log entries record the authenticated principal that wrote them (`principal`, plus
//!   `recorded_by_id` for a person and the existing `integration_id` for an integration), apart
//!   from the free-text `actor_name` a sync job may supply.
//! - `responsibility_approvals.decision`: a side signs off agreeing an entry (`AGREE`) or
//!   retiring it (`RETIRE`), once each.
//! - Sync runs may end `INTERRUPTED` (a shutdown or a crash).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

use crate::columns::unique;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tables whose rows mirror an external record, with the unique index they had and the columns
/// of the one that replaces it.
const EXTERNAL: &[(&str, &str, &[&str])] = &[
    (
        "tickets",
        "ux_tickets_external_source_external_id",
        &["external_source", "external_id", "organization_id"],
    ),
    (
        "alerts",
        "ux_alerts_external_source_external_id",
        &["external_source", "external_id", "organization_id"],
    ),
    (
        "change_log_entries",
        "ux_change_log_entries_external_source_external_id",
        &["external_source", "external_id", "organization_id"],
    ),
    (
        "system_links",
        "ux_system_links_source_resource_external_id",
        &["source", "resource", "external_id", "organization_id"],
    ),
];

/// A synced note is keyed within its ticket: the same vendor note id under a ticket of another
/// tenant is another note.
const NOTE_INDEX: &str = "ux_ticket_notes_external_source_external_id";
const NOTE_KEY: &[&str] = &["ticket_id", "external_source", "external_id"];

/// Who wrote a change log entry.
pub const PRINCIPALS: &[&str] = &["PERSON", "INTEGRATION", "SYSTEM"];

/// What a side signs off on a matrix entry: agreeing it, or retiring it.
pub const DECISIONS: &[&str] = &["AGREE", "RETIRE"];

const OLD_APPROVAL_INDEX: &str = "ux_responsibility_approvals_responsibility_id_organization_id";
const APPROVAL_KEY: &[&str] = &["responsibility_id", "organization_id", "decision"];

/// `'A', 'B'` for a `CHECK (column IN (...))`.
fn quoted(values: &[&str]) -> String {
    values
        .iter()
        .map(|value| format!("'{value}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let uuid_type = uuid_type(backend);
        // Backfilling the append-only log needs its guard lifted for this transaction only.
        guard_change_log(db, backend, false).await?;
        for (table, old_index, columns) in EXTERNAL {
            add_column(
                manager,
                table,
                "organization_id",
                &format!(
                    "{uuid_type} NULL REFERENCES organizations (id) ON DELETE RESTRICT \
                     ON UPDATE CASCADE"
                ),
            )
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
            swap_unique(manager, table, old_index, columns).await?;
        }
        swap_unique(manager, "ticket_notes", NOTE_INDEX, NOTE_KEY).await?;
        add_column(
            manager,
            "change_log_entries",
            "principal",
            &format!(
                "text NOT NULL DEFAULT 'PERSON' CHECK (principal IN ({}))",
                quoted(PRINCIPALS)
            ),
        )
        .await?;
        add_column(
            manager,
            "change_log_entries",
            "recorded_by_id",
            &format!(
                "{uuid_type} NULL REFERENCES people (id) ON DELETE RESTRICT ON UPDATE CASCADE"
            ),
        )
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
        guard_change_log(db, backend, true).await?;

        // Agreeing and retiring are both sign-offs by a side: one row per side and decision.
        add_column(
            manager,
            "responsibility_approvals",
            "decision",
            &format!(
                "text NOT NULL DEFAULT 'AGREE' CHECK (decision IN ({}))",
                quoted(DECISIONS)
            ),
        )
        .await?;
        swap_unique(
            manager,
            "responsibility_approvals",
            OLD_APPROVAL_INDEX,
            APPROVAL_KEY,
        )
        .await?;

        widen_sync_run_status(db, backend).await
    }

    /// Restores the global external keys and one approval per side (retirement sign-offs are
    /// dropped), and drops the new columns. SQLite cannot drop a column that references another
    /// table without rebuilding the table, so there `organization_id` and `recorded_by_id`
    /// stay, unused, and `up` adopts them again; `INTERRUPTED` stays allowed there too. Restoring
    /// the global keys fails, with the database's message, once two tenants share one.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let postgres = backend == DatabaseBackend::Postgres;
        for (table, old_index, columns) in EXTERNAL {
            let old_columns: Vec<&str> = columns[..columns.len() - 1].to_vec();
            restore_unique(manager, table, columns, old_index, &old_columns).await?;
            if postgres {
                db.execute_unprepared(&format!("ALTER TABLE {table} DROP COLUMN organization_id"))
                    .await?;
            }
        }
        restore_unique(
            manager,
            "ticket_notes",
            NOTE_KEY,
            NOTE_INDEX,
            &NOTE_KEY[1..],
        )
        .await?;
        db.execute_unprepared("DELETE FROM responsibility_approvals WHERE decision = 'RETIRE'")
            .await?;
        restore_unique(
            manager,
            "responsibility_approvals",
            APPROVAL_KEY,
            OLD_APPROVAL_INDEX,
            &APPROVAL_KEY[..2],
        )
        .await?;
        db.execute_unprepared("ALTER TABLE responsibility_approvals DROP COLUMN decision")
            .await?;
        guard_change_log(db, backend, false).await?;
        db.execute_unprepared("ALTER TABLE change_log_entries DROP COLUMN principal")
            .await?;
        if postgres {
            db.execute_unprepared("ALTER TABLE change_log_entries DROP COLUMN recorded_by_id")
                .await?;
        }
        guard_change_log(db, backend, true).await?;
        if postgres {
            db.execute_unprepared(
                "UPDATE sync_runs SET status = 'FAILED' WHERE status = 'INTERRUPTED';\n\
                 ALTER TABLE sync_runs DROP CONSTRAINT IF EXISTS sync_runs_status_check;\n\
                 ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_status_check CHECK \
                 (status IN ('RUNNING', 'SUCCEEDED', 'PARTIAL', 'FAILED'))",
            )
            .await?;
        } else {
            db.execute_unprepared(
                "UPDATE sync_runs SET status = 'FAILED' WHERE status = 'INTERRUPTED'",
            )
            .await?;
        }
        Ok(())
    }
}

fn uuid_type(backend: DatabaseBackend) -> &'static str {
    if backend == DatabaseBackend::Postgres {
        "uuid"
    } else {
        "uuid_text"
    }
}

/// Adds `column` to `table` unless it is there: a SQLite `down` leaves referencing columns.
async fn add_column(
    manager: &SchemaManager<'_>,
    table: &str,
    column: &str,
    definition: &str,
) -> Result<(), DbErr> {
    if manager.has_column(table, column).await? {
        return Ok(());
    }
    manager
        .get_connection()
        .execute_unprepared(&format!(
            "ALTER TABLE {table} ADD COLUMN {column} {definition}"
        ))
        .await?;
    Ok(())
}

/// Replaces unique index `old_index` of `table` with one on `columns`.
async fn swap_unique(
    manager: &SchemaManager<'_>,
    table: &'static str,
    old_index: &str,
    columns: &[&'static str],
) -> Result<(), DbErr> {
    manager
        .drop_index(Index::drop().name(old_index).table(table).to_owned())
        .await?;
    manager.create_index(unique(table, columns)).await
}

/// Undoes [`swap_unique`]: drops the index on `columns` and recreates `old_index`.
async fn restore_unique(
    manager: &SchemaManager<'_>,
    table: &'static str,
    columns: &[&'static str],
    old_index: &str,
    old_columns: &[&'static str],
) -> Result<(), DbErr> {
    manager
        .drop_index(
            Index::drop()
                .name(format!("ux_{table}_{}", columns.join("_")))
                .table(table)
                .to_owned(),
        )
        .await?;
    let mut index = unique(table, old_columns);
    index.name(old_index);
    manager.create_index(index).await
}

/// Lifts (`on = false`) or restores the triggers that keep change log entries append-only.
async fn guard_change_log(
    db: &SchemaManagerConnection<'_>,
    backend: DatabaseBackend,
    on: bool,
) -> Result<(), DbErr> {
    let statement = match (backend, on) {
        (DatabaseBackend::Postgres, false) => {
            "ALTER TABLE change_log_entries DISABLE TRIGGER change_log_entries_immutable"
        }
        (DatabaseBackend::Postgres, true) => {
            "ALTER TABLE change_log_entries ENABLE TRIGGER change_log_entries_immutable"
        }
        (_, false) => "DROP TRIGGER change_log_entries_no_update",
        (_, true) => {
            "CREATE TRIGGER change_log_entries_no_update BEFORE UPDATE ON change_log_entries \
             BEGIN SELECT RAISE(ABORT, 'change log entries are append-only'); END;"
        }
    };
    db.execute_unprepared(statement).await?;
    Ok(())
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
    if sql.contains("'INTERRUPTED'") {
        // Widened by an earlier `up`: a SQLite `down` leaves it so.
        return Ok(());
    }
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
