//! Functions say which kinds of systems they apply to (`applies_to`, a JSON array of system
//! kinds; empty for functions of the environment as a whole, such as the service desk or risk
//! assessment), so a gap report can name "a server nobody backs up" system by system.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::json_binary;

#[derive(DeriveMigrationName)]
pub struct Migration;

const HOSTS: &[&str] = &["SERVER", "VIRTUAL_MACHINE"];
const ENDPOINTS: &[&str] = &[
    "SERVER",
    "WORKSTATION",
    "LAPTOP",
    "VIRTUAL_MACHINE",
    "MOBILE_DEVICE",
];
const PATCHABLE: &[&str] = &[
    "SERVER",
    "WORKSTATION",
    "LAPTOP",
    "VIRTUAL_MACHINE",
    "NETWORK_DEVICE",
    "FIREWALL",
];

/// The kinds of systems each standard function applies to, by key. Functions not named here
/// apply to the environment as a whole.
pub const STANDARD_KINDS: &[(&str, &[&str])] = &[
    ("endpoint_management", ENDPOINTS),
    ("patching", PATCHABLE),
    ("vulnerability_management", PATCHABLE),
    (
        "edr",
        &["SERVER", "WORKSTATION", "LAPTOP", "VIRTUAL_MACHINE"],
    ),
    (
        "security_monitoring",
        &["SERVER", "VIRTUAL_MACHINE", "FIREWALL", "CLOUD_TENANT"],
    ),
    (
        "backup_recovery",
        &["SERVER", "VIRTUAL_MACHINE", "CLOUD_TENANT", "BACKUP_SET"],
    ),
    ("disaster_recovery", HOSTS),
    ("identity_access", &["CLOUD_TENANT", "SAAS_APPLICATION"]),
    ("network", &["NETWORK_DEVICE", "FIREWALL"]),
    ("email_security", &["CLOUD_TENANT"]),
    (
        "cloud_administration",
        &["CLOUD_TENANT", "SAAS_APPLICATION"],
    ),
    ("line_of_business_applications", &["SAAS_APPLICATION"]),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("functions")
                    .add_column(json_binary("applies_to").default(Expr::cust("'[]'")).take())
                    .take(),
            )
            .await?;
        for (key, kinds) in STANDARD_KINDS {
            let kinds = serde_json::Value::from(kinds.to_vec());
            manager
                .exec_stmt(
                    Query::update()
                        .table("functions")
                        .value("applies_to", kinds)
                        .and_where(Expr::col("key").eq(*key))
                        .and_where(Expr::col("organization_id").is_null())
                        .take(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("functions")
                    .drop_column("applies_to")
                    .take(),
            )
            .await
    }
}
