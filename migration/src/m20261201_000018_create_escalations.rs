//! SLAs and escalations (issue #15 items 1-2).
//!
//! - Environments get a time zone (an IANA name, `UTC` by default) and business hours (minutes
//!   after local midnight, Monday to Friday, 08:00-18:00 by default): the calendar SLA targets
//!   of `BUSINESS_HOURS` count in.
//! - `sla_targets`: a matrix entry's response and resolution targets, at most one per priority.
//! - Tickets and alerts keep what routing decided about them: their due times and calendar, and
//!   the escalation state the engine moves (`escalation_level`: the last step notified, 0 for
//!   none; `next_escalation_at`: when the next one is due, indexed for the engine's scan).
//!   Tickets also get `responded_at`.
//! - `escalations`: one row per item and step position. The unique `(item, position)` pair is
//!   what keeps two servers (or a server restarted mid-run) from notifying a step twice; the
//!   rows are append-only.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, integer_null, text};

use crate::columns::{
    allow_changes, create_table, drop_tables, enum_text, fk, forbid_changes, id, index, instant,
    instant_null, unique, uuid, uuid_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

const PRIORITIES: &[&str] = &["CRITICAL", "HIGH", "MEDIUM", "LOW"];
const CALENDARS: &[&str] = &["BUSINESS_HOURS", "ALWAYS"];
const CHANNELS: &[&str] = &["TICKET", "PHONE", "EMAIL", "CHAT", "PAGER"];

/// One `ALTER TABLE … ADD COLUMN` (SQLite takes one change per statement).
async fn add_column(
    manager: &SchemaManager<'_>,
    table: &'static str,
    column: ColumnDef,
) -> Result<(), DbErr> {
    let mut column = column;
    manager
        .alter_table(Table::alter().table(table).add_column(&mut column).take())
        .await
}

async fn drop_column(
    manager: &SchemaManager<'_>,
    table: &'static str,
    column: &'static str,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).drop_column(column).take())
        .await
}

/// An optional calendar column (`CHECK`ed like [`enum_text`], null allowed).
fn calendar_null(name: &'static str) -> ColumnDef {
    sea_orm_migration::schema::text_null(name)
        .check(Expr::col(name).is_in(CALENDARS.iter().copied()))
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_column(
            manager,
            "environments",
            text("time_zone").default("UTC").take(),
        )
        .await?;
        add_column(
            manager,
            "environments",
            integer("business_start_minute")
                .default(8 * 60)
                .check(Expr::col("business_start_minute").between(0, 1439))
                .take(),
        )
        .await?;
        add_column(
            manager,
            "environments",
            integer("business_end_minute")
                .default(18 * 60)
                .check(Expr::col("business_end_minute").between(1, 1440))
                .take(),
        )
        .await?;

        create_table(
            manager,
            "sla_targets",
            vec![
                id(),
                uuid("responsibility_id"),
                enum_text("priority", PRIORITIES),
                integer("response_minutes")
                    .check(Expr::col("response_minutes").gt(0))
                    .take(),
                integer_null("resolution_minutes")
                    .check(Expr::col("resolution_minutes").gt(0))
                    .take(),
                enum_text("calendar", CALENDARS),
            ],
            None,
            vec![fk(
                "sla_targets",
                "responsibility_id",
                "responsibilities",
                ForeignKeyAction::Cascade,
            )],
            vec![unique("sla_targets", &["responsibility_id", "priority"])],
        )
        .await?;

        for table in ["tickets", "alerts"] {
            add_column(manager, table, instant_null("response_due_at")).await?;
            add_column(manager, table, instant_null("resolution_due_at")).await?;
            add_column(manager, table, calendar_null("sla_calendar")).await?;
            add_column(
                manager,
                table,
                integer("escalation_level").default(0).take(),
            )
            .await?;
            add_column(manager, table, instant_null("next_escalation_at")).await?;
            manager
                .create_index(index(table, &["next_escalation_at"]))
                .await?;
        }
        add_column(manager, "tickets", instant_null("responded_at")).await?;

        create_table(
            manager,
            "escalations",
            vec![
                id(),
                uuid("environment_id"),
                uuid_null("ticket_id"),
                uuid_null("alert_id"),
                uuid_null("responsibility_id"),
                // 1-based: the step of the path notified (1 for the empty-path rule's one).
                integer("position")
                    .check(Expr::col("position").gt(0))
                    .take(),
                uuid_null("team_id"),
                uuid_null("person_id"),
                // Null for the empty-path rule: the path named no channel.
                sea_orm_migration::schema::text_null("channel")
                    .check(Expr::col("channel").is_in(CHANNELS.iter().copied()))
                    .take(),
                text("reason"),
                // When it was due (routing, or the previous step's due time plus its minutes),
                // and when the engine notified it.
                instant("due_at"),
                instant("escalated_at"),
            ],
            None,
            vec![
                fk(
                    "escalations",
                    "environment_id",
                    "environments",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "escalations",
                    "ticket_id",
                    "tickets",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "escalations",
                    "alert_id",
                    "alerts",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "escalations",
                    "responsibility_id",
                    "responsibilities",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "escalations",
                    "team_id",
                    "teams",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "escalations",
                    "person_id",
                    "people",
                    ForeignKeyAction::Restrict,
                ),
            ],
            vec![
                unique("escalations", &["ticket_id", "position"]),
                unique("escalations", &["alert_id", "position"]),
                index("escalations", &["environment_id", "escalated_at"]),
            ],
        )
        .await?;
        // Exactly one item per row.
        let exactly_one = "(ticket_id IS NULL) <> (alert_id IS NULL)";
        if manager.get_database_backend() == sea_orm_migration::sea_orm::DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "ALTER TABLE escalations ADD CONSTRAINT ck_escalations_one_item CHECK ({exactly_one})"
                ))
                .await?;
        } else {
            // SQLite cannot add a constraint to a table: a trigger refuses the row instead.
            manager
                .get_connection()
                .execute_unprepared(
                    "CREATE TRIGGER escalations_one_item BEFORE INSERT ON escalations \
                     WHEN (NEW.ticket_id IS NULL) = (NEW.alert_id IS NULL) \
                     BEGIN SELECT RAISE(ABORT, 'an escalation names exactly one ticket or alert'); END;",
                )
                .await?;
        }
        forbid_changes(manager, "escalations", "escalations are append-only").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        allow_changes(manager, "escalations").await?;
        drop_tables(manager, &["escalations", "sla_targets"]).await?;
        drop_column(manager, "tickets", "responded_at").await?;
        for table in ["tickets", "alerts"] {
            let mut statement = Index::drop();
            statement
                .name(format!("ix_{table}_next_escalation_at"))
                .table(table);
            manager.drop_index(statement.to_owned()).await?;
            for column in [
                "next_escalation_at",
                "escalation_level",
                "sla_calendar",
                "resolution_due_at",
                "response_due_at",
            ] {
                drop_column(manager, table, column).await?;
            }
        }
        for column in ["business_end_minute", "business_start_minute", "time_zone"] {
            drop_column(manager, "environments", column).await?;
        }
        Ok(())
    }
}
