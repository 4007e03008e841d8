//! Integrations with PSA and RMM tools, their mappings, the links from systems to external
//! records, and the bookkeeping of sync runs (runs, per-record errors, cursors).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    blob_null, boolean, integer, integer_null, json_binary, text, text_null,
};

use crate::columns::{
    create_table, drop_tables, enum_text, fk, id, index, instant, instant_null, timestamps, unique,
    uuid,
};

/// Every supported vendor, as stored in `integrations.kind`.
pub const INTEGRATION_KINDS: &[&str] = &[
    "CONNECTWISE_MANAGE",
    "AUTOTASK",
    "HALOPSA",
    "NINJAONE",
    "DATTO_RMM",
];

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
            "integrations",
            vec![
                id(),
                // The organization that configured it, usually the provider.
                uuid("organization_id"),
                text("name"),
                enum_text("kind", INTEGRATION_KINDS),
                text("base_url"),
                // Credentials are write-only: encrypted with TANDEM_SECRET_KEY, never returned.
                blob_null("credentials_ciphertext"),
                // Vendor-specific, non-secret settings (codebase, zone, client id, ...).
                json_binary("settings"),
                boolean("enabled").default(true).take(),
                integer_null("sync_interval_seconds"),
                // A lease makes one sync run per integration at a time across processes.
                text_null("lease_owner"),
                instant_null("lease_expires_at"),
                created_at,
                updated_at,
            ],
            None,
            vec![fk(
                "integrations",
                "organization_id",
                "organizations",
                ForeignKeyAction::Restrict,
            )],
            vec![unique("integrations", &["organization_id", "name"])],
        )
        .await?;

        let [created_at, updated_at] = timestamps();
        create_table(
            manager,
            "integration_mappings",
            vec![
                id(),
                uuid("integration_id"),
                // The vendor's company, organization or site id.
                text("external_company_id"),
                text_null("external_company_name"),
                uuid("environment_id"),
                created_at,
                updated_at,
            ],
            None,
            vec![
                fk(
                    "integration_mappings",
                    "integration_id",
                    "integrations",
                    ForeignKeyAction::Cascade,
                ),
                fk(
                    "integration_mappings",
                    "environment_id",
                    "environments",
                    ForeignKeyAction::Cascade,
                ),
            ],
            vec![
                unique(
                    "integration_mappings",
                    &["integration_id", "external_company_id"],
                ),
                index("integration_mappings", &["environment_id"]),
            ],
        )
        .await?;

        let [created_at, updated_at] = timestamps();
        create_table(
            manager,
            "value_mappings",
            vec![
                id(),
                uuid("integration_id"),
                // What is mapped: TICKET_STATUS, TICKET_PRIORITY, ALERT_SEVERITY, SYSTEM_KIND.
                enum_text(
                    "domain",
                    &[
                        "TICKET_STATUS",
                        "TICKET_PRIORITY",
                        "ALERT_SEVERITY",
                        "SYSTEM_KIND",
                    ],
                ),
                text("external_value"),
                text_null("external_label"),
                text("normalized_value"),
                // True once an admin has set the mapping; a lookup refresh then leaves it alone.
                boolean("overridden").default(false).take(),
                created_at,
                updated_at,
            ],
            None,
            vec![fk(
                "value_mappings",
                "integration_id",
                "integrations",
                ForeignKeyAction::Cascade,
            )],
            vec![unique(
                "value_mappings",
                &["integration_id", "domain", "external_value"],
            )],
        )
        .await?;

        create_table(
            manager,
            "system_links",
            vec![
                id(),
                uuid("system_id"),
                // The source system: an integration's kind or a sync job's own name.
                text("source"),
                crate::columns::uuid_null("integration_id"),
                // The vendor resource: `configuration`, `device`, `asset`, ...
                text("resource"),
                text("external_id"),
                text_null("external_url"),
                instant("created_at"),
                instant("last_seen_at"),
            ],
            None,
            vec![
                fk(
                    "system_links",
                    "system_id",
                    "systems",
                    ForeignKeyAction::Cascade,
                ),
                fk(
                    "system_links",
                    "integration_id",
                    "integrations",
                    ForeignKeyAction::SetNull,
                ),
            ],
            vec![
                unique("system_links", &["source", "resource", "external_id"]),
                index("system_links", &["system_id"]),
                index("system_links", &["integration_id"]),
            ],
        )
        .await?;

        create_table(
            manager,
            "sync_runs",
            vec![
                id(),
                uuid("integration_id"),
                enum_text("trigger", &["SCHEDULE", "MANUAL", "WEBHOOK", "CLI"]),
                boolean("full").default(false).take(),
                enum_text("status", &["RUNNING", "SUCCEEDED", "PARTIAL", "FAILED"]),
                instant("started_at"),
                instant_null("finished_at"),
                integer("records_fetched").default(0).take(),
                integer("records_created").default(0).take(),
                integer("records_updated").default(0).take(),
                integer("records_unchanged").default(0).take(),
                integer("records_failed").default(0).take(),
                text_null("error"),
            ],
            None,
            vec![fk(
                "sync_runs",
                "integration_id",
                "integrations",
                ForeignKeyAction::Restrict,
            )],
            vec![index("sync_runs", &["integration_id", "started_at"])],
        )
        .await?;

        create_table(
            manager,
            "sync_run_errors",
            vec![
                id(),
                uuid("sync_run_id"),
                text("resource"),
                text_null("external_id"),
                text("reason"),
                instant("occurred_at"),
            ],
            None,
            vec![fk(
                "sync_run_errors",
                "sync_run_id",
                "sync_runs",
                ForeignKeyAction::Cascade,
            )],
            vec![index("sync_run_errors", &["sync_run_id"])],
        )
        .await?;

        create_table(
            manager,
            "sync_cursors",
            vec![
                uuid("integration_id"),
                text("resource"),
                // The vendor's changed-since high-water mark, and a page token for resumption.
                instant_null("changed_since"),
                text_null("page_token"),
                instant("updated_at"),
            ],
            Some(&["integration_id", "resource"]),
            vec![fk(
                "sync_cursors",
                "integration_id",
                "integrations",
                ForeignKeyAction::Cascade,
            )],
            vec![],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            &[
                "sync_cursors",
                "sync_run_errors",
                "sync_runs",
                "system_links",
                "value_mappings",
                "integration_mappings",
                "integrations",
            ],
        )
        .await
    }
}
