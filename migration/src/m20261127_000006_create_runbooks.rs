//! Runbooks, their immutable numbered revisions, and the functions and systems they cover.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, text, text_null};

use crate::columns::{
    allow_changes, create_table, drop_tables, fk, forbid_changes, id, index, instant, instant_null,
    timestamps, unique, uuid, uuid_null,
};

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
        create_table(
            manager,
            "runbooks",
            vec![
                id(),
                uuid("environment_id"),
                text("title"),
                uuid("owner_team_id"),
                integer("review_interval_days"),
                instant_null("last_reviewed_at"),
                uuid_null("last_reviewed_by_id"),
                instant_null("archived_at"),
                created_at,
                updated_at,
            ],
            None,
            vec![
                fk(
                    "runbooks",
                    "environment_id",
                    "environments",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "runbooks",
                    "owner_team_id",
                    "teams",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "runbooks",
                    "last_reviewed_by_id",
                    "people",
                    ForeignKeyAction::SetNull,
                ),
            ],
            vec![
                index("runbooks", &["environment_id", "title"]),
                index("runbooks", &["owner_team_id"]),
            ],
        )
        .await?;

        create_table(
            manager,
            "runbook_revisions",
            vec![
                id(),
                uuid("runbook_id"),
                // 1, 2, 3, ... per runbook.
                integer("number"),
                // The procedure, in Markdown.
                text("body"),
                text_null("change_summary"),
                uuid_null("author_id"),
                instant("created_at"),
            ],
            None,
            vec![
                fk(
                    "runbook_revisions",
                    "runbook_id",
                    "runbooks",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "runbook_revisions",
                    "author_id",
                    "people",
                    ForeignKeyAction::Restrict,
                ),
            ],
            vec![unique("runbook_revisions", &["runbook_id", "number"])],
        )
        .await?;
        forbid_changes(
            manager,
            "runbook_revisions",
            "runbook revisions are immutable",
        )
        .await?;

        for (table, column, target) in [
            ("runbook_functions", "function_id", "functions"),
            ("runbook_systems", "system_id", "systems"),
        ] {
            create_table(
                manager,
                table,
                vec![uuid("runbook_id"), uuid(column)],
                Some(&["runbook_id", column]),
                vec![
                    fk(table, "runbook_id", "runbooks", ForeignKeyAction::Cascade),
                    fk(table, column, target, ForeignKeyAction::Cascade),
                ],
                vec![index(table, &[column])],
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        allow_changes(manager, "runbook_revisions").await?;
        drop_tables(
            manager,
            &[
                "runbook_systems",
                "runbook_functions",
                "runbook_revisions",
                "runbooks",
            ],
        )
        .await
    }
}
