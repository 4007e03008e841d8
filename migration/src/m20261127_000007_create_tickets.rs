//! Tickets and their notes (synced from a PSA or created in Tandem), and RMM alerts.
//!
//! Both keep the normalized status and priority beside the external system's own values, and the
//! routing decision: the responsibility that named the assigned team, and why.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{boolean, text, text_null};

use crate::columns::{
    create_table, drop_tables, enum_text, external_columns, external_unique, fk, id, index,
    instant, instant_null, timestamps, uuid, uuid_null,
};

/// Normalized ticket priorities; alerts use the same scale for their severity.
pub const PRIORITIES: &[&str] = &["CRITICAL", "HIGH", "MEDIUM", "LOW"];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // SQLite runs DDL in transactions too: a failed step leaves nothing half-applied.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let [created_at, updated_at] = timestamps();
        let mut columns = vec![
            id(),
            uuid("environment_id"),
            uuid_null("system_id"),
            uuid_null("function_id"),
            uuid_null("integration_id"),
            text("title"),
            text_null("description"),
            enum_text(
                "status",
                &["NEW", "IN_PROGRESS", "WAITING", "RESOLVED", "CLOSED"],
            ),
            enum_text("priority", PRIORITIES),
            text_null("external_status"),
            text_null("external_priority"),
            text_null("requester"),
            uuid_null("assigned_team_id"),
            uuid_null("assigned_person_id"),
            uuid_null("routed_by_id"),
            text_null("routing_reason"),
            created_at,
            updated_at,
            instant_null("resolved_at"),
            instant_null("closed_at"),
        ];
        columns.extend(external_columns());
        create_table(
            manager,
            "tickets",
            columns,
            None,
            vec![
                fk(
                    "tickets",
                    "environment_id",
                    "environments",
                    ForeignKeyAction::Restrict,
                ),
                fk("tickets", "system_id", "systems", ForeignKeyAction::SetNull),
                fk(
                    "tickets",
                    "function_id",
                    "functions",
                    ForeignKeyAction::SetNull,
                ),
                fk(
                    "tickets",
                    "integration_id",
                    "integrations",
                    ForeignKeyAction::SetNull,
                ),
                fk(
                    "tickets",
                    "assigned_team_id",
                    "teams",
                    ForeignKeyAction::SetNull,
                ),
                fk(
                    "tickets",
                    "assigned_person_id",
                    "people",
                    ForeignKeyAction::SetNull,
                ),
                fk(
                    "tickets",
                    "routed_by_id",
                    "responsibilities",
                    ForeignKeyAction::SetNull,
                ),
            ],
            vec![
                index("tickets", &["environment_id", "updated_at"]),
                index("tickets", &["system_id"]),
                index("tickets", &["assigned_team_id"]),
                index("tickets", &["updated_at"]),
                external_unique("tickets"),
            ],
        )
        .await?;

        let mut columns = vec![
            id(),
            uuid("ticket_id"),
            uuid_null("author_id"),
            // The author's name as the external system gave it, when not a person in Tandem.
            text_null("author_name"),
            text("body"),
            boolean("internal").default(false).take(),
            instant("created_at"),
        ];
        columns.extend(external_columns());
        create_table(
            manager,
            "ticket_notes",
            columns,
            None,
            vec![
                fk(
                    "ticket_notes",
                    "ticket_id",
                    "tickets",
                    ForeignKeyAction::Cascade,
                ),
                fk(
                    "ticket_notes",
                    "author_id",
                    "people",
                    ForeignKeyAction::SetNull,
                ),
            ],
            vec![
                index("ticket_notes", &["ticket_id", "created_at"]),
                external_unique("ticket_notes"),
            ],
        )
        .await?;

        let [created_at, updated_at] = timestamps();
        let mut columns = vec![
            id(),
            uuid("environment_id"),
            uuid_null("system_id"),
            uuid_null("integration_id"),
            uuid_null("ticket_id"),
            text("message"),
            enum_text("severity", PRIORITIES),
            text_null("external_severity"),
            enum_text("status", &["OPEN", "ACKNOWLEDGED", "RESOLVED"]),
            instant("raised_at"),
            instant_null("acknowledged_at"),
            uuid_null("acknowledged_by_id"),
            instant_null("resolved_at"),
            uuid_null("assigned_team_id"),
            uuid_null("routed_by_id"),
            text_null("routing_reason"),
            created_at,
            updated_at,
        ];
        columns.extend(external_columns());
        create_table(
            manager,
            "alerts",
            columns,
            None,
            vec![
                fk(
                    "alerts",
                    "environment_id",
                    "environments",
                    ForeignKeyAction::Restrict,
                ),
                fk("alerts", "system_id", "systems", ForeignKeyAction::SetNull),
                fk(
                    "alerts",
                    "integration_id",
                    "integrations",
                    ForeignKeyAction::SetNull,
                ),
                fk("alerts", "ticket_id", "tickets", ForeignKeyAction::SetNull),
                fk(
                    "alerts",
                    "acknowledged_by_id",
                    "people",
                    ForeignKeyAction::SetNull,
                ),
                fk(
                    "alerts",
                    "assigned_team_id",
                    "teams",
                    ForeignKeyAction::SetNull,
                ),
                fk(
                    "alerts",
                    "routed_by_id",
                    "responsibilities",
                    ForeignKeyAction::SetNull,
                ),
            ],
            vec![
                index("alerts", &["environment_id", "raised_at"]),
                index("alerts", &["system_id"]),
                index("alerts", &["updated_at"]),
                external_unique("alerts"),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["alerts", "ticket_notes", "tickets"]).await
    }
}
