//! Environments (a client's IT estate or part of it) and the systems managed in them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{json_binary, text, text_null};

use crate::columns::{
    create_table, drop_tables, enum_text, fk, id, index, instant_null, timestamps, unique, uuid,
};

/// Every kind of system, as stored in `systems.kind`.
pub const SYSTEM_KINDS: &[&str] = &[
    "SERVER",
    "WORKSTATION",
    "LAPTOP",
    "VIRTUAL_MACHINE",
    "NETWORK_DEVICE",
    "FIREWALL",
    "PRINTER",
    "MOBILE_DEVICE",
    "CLOUD_TENANT",
    "SAAS_APPLICATION",
    "BACKUP_SET",
    "OTHER",
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
            "environments",
            vec![
                id(),
                uuid("organization_id"),
                text("name"),
                text_null("description"),
                // A JSON array of framework names (`HIPAA`, `CMMC`, ...).
                json_binary("compliance_frameworks"),
                instant_null("archived_at"),
                created_at,
                updated_at,
            ],
            None,
            vec![fk(
                "environments",
                "organization_id",
                "organizations",
                ForeignKeyAction::Restrict,
            )],
            vec![unique("environments", &["organization_id", "name"])],
        )
        .await?;

        let [created_at, updated_at] = timestamps();
        create_table(
            manager,
            "systems",
            vec![
                id(),
                uuid("environment_id"),
                text("name"),
                enum_text("kind", SYSTEM_KINDS),
                text_null("hostname"),
                text_null("serial_number"),
                text_null("mac_address"),
                text_null("operating_system"),
                text_null("ip_address"),
                text_null("description"),
                // Free-form facts (model, vendor, location, licence count, ...).
                json_binary("attributes"),
                // Which source last set each attribute: `{"operating_system": "NINJAONE", ...}`.
                json_binary("attribute_sources"),
                instant_null("retired_at"),
                created_at,
                updated_at,
            ],
            None,
            vec![fk(
                "systems",
                "environment_id",
                "environments",
                ForeignKeyAction::Restrict,
            )],
            vec![
                index("systems", &["environment_id", "name"]),
                index("systems", &["environment_id", "updated_at"]),
                index("systems", &["serial_number"]),
                index("systems", &["hostname"]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["systems", "environments"]).await
    }
}
