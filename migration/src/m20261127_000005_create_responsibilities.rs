//! The responsibility matrix: entries, their consulted and informed teams, escalation paths and
//! the approvals that make an entry agreed.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, integer_null, text_null};

use crate::columns::{
    create_table, drop_tables, enum_text, fk, id, index, instant, instant_null, timestamps, unique,
    uuid, uuid_null,
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
            "responsibilities",
            vec![
                id(),
                uuid("environment_id"),
                uuid("function_id"),
                // Null for the function-level default; set for a system-level override.
                uuid_null("system_id"),
                uuid("responsible_team_id"),
                uuid_null("accountable_team_id"),
                // In force during [valid_from, valid_to); an open end means until further notice.
                instant("valid_from"),
                instant_null("valid_to"),
                enum_text("status", &["DRAFT", "PROPOSED", "AGREED", "RETIRED"]),
                text_null("notes"),
                // The entry this one replaces, which keeps the history of an entry as a chain.
                uuid_null("supersedes_id"),
                uuid_null("created_by_id"),
                created_at,
                updated_at,
            ],
            None,
            vec![
                fk(
                    "responsibilities",
                    "environment_id",
                    "environments",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "responsibilities",
                    "function_id",
                    "functions",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "responsibilities",
                    "system_id",
                    "systems",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "responsibilities",
                    "responsible_team_id",
                    "teams",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "responsibilities",
                    "accountable_team_id",
                    "teams",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "responsibilities",
                    "supersedes_id",
                    "responsibilities",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "responsibilities",
                    "created_by_id",
                    "people",
                    ForeignKeyAction::SetNull,
                ),
            ],
            vec![
                index(
                    "responsibilities",
                    &["environment_id", "function_id", "system_id", "valid_from"],
                ),
                index("responsibilities", &["system_id"]),
                index("responsibilities", &["responsible_team_id"]),
            ],
        )
        .await?;

        create_table(
            manager,
            "responsibility_parties",
            vec![
                uuid("responsibility_id"),
                uuid("team_id"),
                enum_text("role", &["CONSULTED", "INFORMED"]),
            ],
            Some(&["responsibility_id", "team_id", "role"]),
            vec![
                fk(
                    "responsibility_parties",
                    "responsibility_id",
                    "responsibilities",
                    ForeignKeyAction::Cascade,
                ),
                fk(
                    "responsibility_parties",
                    "team_id",
                    "teams",
                    ForeignKeyAction::Restrict,
                ),
            ],
            vec![index("responsibility_parties", &["team_id"])],
        )
        .await?;

        create_table(
            manager,
            "escalation_steps",
            vec![
                id(),
                uuid("responsibility_id"),
                // 1-based order of the step in the path.
                integer("position"),
                // Exactly one of team and person is set.
                uuid_null("team_id"),
                uuid_null("person_id"),
                enum_text("channel", &["TICKET", "PHONE", "EMAIL", "CHAT", "PAGER"]),
                // Minutes to wait for an answer before the next step; null on the last step.
                integer_null("minutes_before_next"),
            ],
            None,
            vec![
                fk(
                    "escalation_steps",
                    "responsibility_id",
                    "responsibilities",
                    ForeignKeyAction::Cascade,
                ),
                fk(
                    "escalation_steps",
                    "team_id",
                    "teams",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "escalation_steps",
                    "person_id",
                    "people",
                    ForeignKeyAction::Restrict,
                ),
            ],
            vec![unique(
                "escalation_steps",
                &["responsibility_id", "position"],
            )],
        )
        .await?;

        create_table(
            manager,
            "responsibility_approvals",
            vec![
                id(),
                uuid("responsibility_id"),
                // The side that approved: the client or the provider of the engagement.
                uuid("organization_id"),
                uuid("person_id"),
                instant("approved_at"),
            ],
            None,
            vec![
                fk(
                    "responsibility_approvals",
                    "responsibility_id",
                    "responsibilities",
                    ForeignKeyAction::Cascade,
                ),
                fk(
                    "responsibility_approvals",
                    "organization_id",
                    "organizations",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "responsibility_approvals",
                    "person_id",
                    "people",
                    ForeignKeyAction::Restrict,
                ),
            ],
            vec![unique(
                "responsibility_approvals",
                &["responsibility_id", "organization_id"],
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            &[
                "responsibility_approvals",
                "escalation_steps",
                "responsibility_parties",
                "responsibilities",
            ],
        )
        .await
    }
}
