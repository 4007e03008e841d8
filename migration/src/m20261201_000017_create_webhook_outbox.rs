//! The outbox of committed events and the outbound webhooks fed from it.
//!
//! - `outbox_events`: every event a write emits, written in the write's own transaction (so a
//!   rolled-back write emits nothing and a crash after commit loses nothing), ordered by `seq`,
//!   pruned after the retention window.
//! - `webhook_endpoints`: where an organization wants its events; the signing secret is sealed.
//! - `webhook_deliveries`: one row per event and endpoint (written in the event's transaction),
//!   claimed by the delivery worker with a lease, retried with backoff.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_pk_auto, blob, boolean, integer, integer_null, json_binary, text, text_null,
};

use crate::columns::{
    create_table, drop_tables, enum_text, fk, id, index, instant, instant_null, timestamps, unique,
    uuid, uuid_null,
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
            "outbox_events",
            vec![
                big_pk_auto("seq"),
                uuid("id"),
                text("event_type"),
                uuid("organization_id"),
                uuid_null("environment_id"),
                uuid("subject_id"),
                uuid_null("caused_by_integration_id"),
                instant("occurred_at"),
                json_binary("payload"),
            ],
            None,
            vec![
                fk(
                    "outbox_events",
                    "organization_id",
                    "organizations",
                    ForeignKeyAction::Cascade,
                ),
                fk(
                    "outbox_events",
                    "environment_id",
                    "environments",
                    ForeignKeyAction::Cascade,
                ),
                fk(
                    "outbox_events",
                    "caused_by_integration_id",
                    "integrations",
                    ForeignKeyAction::SetNull,
                ),
            ],
            vec![
                unique("outbox_events", &["id"]),
                index("outbox_events", &["organization_id", "seq"]),
                index("outbox_events", &["occurred_at"]),
            ],
        )
        .await?;
        let [created_at, updated_at] = timestamps();
        create_table(
            manager,
            "webhook_endpoints",
            vec![
                id(),
                uuid("organization_id"),
                text("url"),
                text_null("description"),
                json_binary("event_types"),
                blob("secret_ciphertext"),
                boolean("enabled").default(true).take(),
                uuid_null("skip_integration_id"),
                created_at,
                updated_at,
                instant_null("deleted_at"),
            ],
            None,
            vec![
                fk(
                    "webhook_endpoints",
                    "organization_id",
                    "organizations",
                    ForeignKeyAction::Cascade,
                ),
                fk(
                    "webhook_endpoints",
                    "skip_integration_id",
                    "integrations",
                    ForeignKeyAction::SetNull,
                ),
            ],
            vec![index("webhook_endpoints", &["organization_id", "id"])],
        )
        .await?;
        let [created_at, updated_at] = timestamps();
        create_table(
            manager,
            "webhook_deliveries",
            vec![
                id(),
                uuid("endpoint_id"),
                uuid("event_id"),
                enum_text("status", &["PENDING", "DELIVERED", "FAILED", "GAVE_UP"]),
                integer("attempts").default(0).take(),
                instant_null("next_attempt_at"),
                text_null("lease_owner"),
                instant_null("lease_expires_at"),
                integer_null("last_status"),
                text_null("last_error"),
                boolean("replay").default(false).take(),
                created_at,
                updated_at,
                instant_null("delivered_at"),
            ],
            None,
            vec![
                fk(
                    "webhook_deliveries",
                    "endpoint_id",
                    "webhook_endpoints",
                    ForeignKeyAction::Cascade,
                ),
                fk(
                    "webhook_deliveries",
                    "event_id",
                    "outbox_events",
                    ForeignKeyAction::Cascade,
                ),
            ],
            vec![
                index("webhook_deliveries", &["status", "next_attempt_at"]),
                index("webhook_deliveries", &["endpoint_id", "id"]),
                index("webhook_deliveries", &["event_id"]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            &["webhook_deliveries", "webhook_endpoints", "outbox_events"],
        )
        .await
    }
}
