//! An integration: a configured connection to one PSA or RMM instance.

use sea_orm::entity::prelude::*;

use crate::enums::IntegrationKind;

/// A row of `integrations`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "integrations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The organization that configured it.
    pub organization_id: Uuid,
    pub name: String,
    pub kind: IntegrationKind,
    pub base_url: String,
    /// Encrypted credentials; write-only, never returned by the API.
    pub credentials_ciphertext: Option<Vec<u8>>,
    /// Non-secret vendor settings, a JSON object.
    #[sea_orm(column_type = "JsonBinary")]
    pub settings: Json,
    pub enabled: bool,
    /// How often `tandem serve` syncs it; never when `None`.
    pub sync_interval_seconds: Option<i32>,
    /// The process holding the sync lease.
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// When it was deleted: its history (sync runs, synced records) stays, nothing syncs.
    pub deleted_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
