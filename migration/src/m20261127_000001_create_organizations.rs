//! Organizations (clients and providers), the engagements between them, their teams and people.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{boolean, date, date_null, text, text_null};

use crate::columns::{
    create_table, drop_tables, enum_text, fk, id, index, instant, timestamps, unique, uuid,
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
            "organizations",
            vec![
                id(),
                text("slug").unique_key().take(),
                text("name"),
                enum_text("kind", &["CLIENT", "PROVIDER"]),
                created_at,
                updated_at,
            ],
            None,
            vec![],
            vec![],
        )
        .await?;

        let [created_at, updated_at] = timestamps();
        create_table(
            manager,
            "engagements",
            vec![
                id(),
                uuid("provider_id"),
                uuid("client_id"),
                enum_text("operating_model", &["FULLY_MANAGED", "CO_MANAGED"]),
                // Dates, not instants: contracts start and end on calendar days.
                date("starts_on"),
                date_null("ends_on"),
                text_null("notes"),
                created_at,
                updated_at,
            ],
            None,
            vec![
                fk(
                    "engagements",
                    "provider_id",
                    "organizations",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "engagements",
                    "client_id",
                    "organizations",
                    ForeignKeyAction::Restrict,
                ),
            ],
            vec![
                index("engagements", &["client_id", "starts_on"]),
                index("engagements", &["provider_id", "starts_on"]),
            ],
        )
        .await?;

        let [created_at, updated_at] = timestamps();
        create_table(
            manager,
            "teams",
            vec![
                id(),
                uuid("organization_id"),
                text("name"),
                text_null("description"),
                created_at,
                updated_at,
            ],
            None,
            vec![fk(
                "teams",
                "organization_id",
                "organizations",
                ForeignKeyAction::Cascade,
            )],
            vec![unique("teams", &["organization_id", "name"])],
        )
        .await?;

        let [created_at, updated_at] = timestamps();
        create_table(
            manager,
            "people",
            vec![
                id(),
                uuid("organization_id"),
                // The `sub` claim of the person's tokens.
                text("subject").unique_key().take(),
                text("display_name"),
                text_null("email"),
                enum_text("role", &["ADMIN", "MEMBER", "VIEWER", "INTEGRATION"]),
                boolean("active").default(true).take(),
                created_at,
                updated_at,
            ],
            None,
            vec![fk(
                "people",
                "organization_id",
                "organizations",
                ForeignKeyAction::Cascade,
            )],
            vec![index("people", &["organization_id", "display_name"])],
        )
        .await?;

        create_table(
            manager,
            "team_memberships",
            vec![uuid("team_id"), uuid("person_id"), instant("created_at")],
            Some(&["team_id", "person_id"]),
            vec![
                fk(
                    "team_memberships",
                    "team_id",
                    "teams",
                    ForeignKeyAction::Cascade,
                ),
                fk(
                    "team_memberships",
                    "person_id",
                    "people",
                    ForeignKeyAction::Cascade,
                ),
            ],
            vec![index("team_memberships", &["person_id"])],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            &[
                "team_memberships",
                "people",
                "teams",
                "engagements",
                "organizations",
            ],
        )
        .await
    }
}
