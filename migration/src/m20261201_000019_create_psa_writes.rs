//! Two-way PSA sync (issue #15 item 4).
//!
//! - `psa_team_mappings`: per integration, which vendor assignee (a ConnectWise board and
//!   member, an Autotask queue and resource, a HaloPSA team and agent) stands for a Tandem team
//!   of the integration's organization; one per `(integration, team)`.
//! - `psa_writes`: the write-back queue. One row per change Tandem writes to a synced PSA
//!   ticket (assignment, note, status), written in the transaction of the change itself and
//!   sent by `sync::writeback` with a lease, retries and backoff. `payload` is the
//!   `TicketWrite` as JSON; `vendor_id` the id of what the write created (a note);
//!   `note_id` the Tandem note it carries, when it carries one.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, json_binary, text, text_null};

use crate::columns::{
    create_table, drop_tables, enum_text, fk, id, index, instant_null, timestamps, unique, uuid,
    uuid_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

const KINDS: &[&str] = &["ASSIGN", "NOTE", "STATUS"];
const STATUSES: &[&str] = &["PENDING", "DONE", "FAILED", "DROPPED"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let [created_at, updated_at] = timestamps();
        create_table(
            manager,
            "psa_team_mappings",
            vec![
                id(),
                uuid("integration_id"),
                uuid("team_id"),
                text("vendor_group"),
                text_null("vendor_member"),
                created_at,
                updated_at,
            ],
            None,
            vec![
                fk(
                    "psa_team_mappings",
                    "integration_id",
                    "integrations",
                    ForeignKeyAction::Cascade,
                ),
                fk(
                    "psa_team_mappings",
                    "team_id",
                    "teams",
                    ForeignKeyAction::Cascade,
                ),
            ],
            vec![unique("psa_team_mappings", &["integration_id", "team_id"])],
        )
        .await?;

        let [created_at, updated_at] = timestamps();
        create_table(
            manager,
            "psa_writes",
            vec![
                id(),
                uuid("integration_id"),
                uuid("ticket_id"),
                enum_text("kind", KINDS),
                json_binary("payload"),
                enum_text("status", STATUSES),
                integer("attempts").default(0).take(),
                instant_null("next_attempt_at"),
                text_null("lease_owner"),
                instant_null("lease_expires_at"),
                text_null("last_error"),
                text_null("vendor_id"),
                uuid_null("note_id"),
                created_at,
                updated_at,
                instant_null("done_at"),
            ],
            None,
            vec![
                fk(
                    "psa_writes",
                    "integration_id",
                    "integrations",
                    ForeignKeyAction::Cascade,
                ),
                fk(
                    "psa_writes",
                    "ticket_id",
                    "tickets",
                    ForeignKeyAction::Cascade,
                ),
                fk(
                    "psa_writes",
                    "note_id",
                    "ticket_notes",
                    ForeignKeyAction::SetNull,
                ),
            ],
            vec![
                index("psa_writes", &["status", "next_attempt_at"]),
                index("psa_writes", &["ticket_id", "status"]),
                index("psa_writes", &["integration_id", "id"]),
            ],
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["psa_writes", "psa_team_mappings"]).await
    }
}
