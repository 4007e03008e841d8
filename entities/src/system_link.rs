//! A link from a system to its record in an external system (RMM device, PSA configuration).

use sea_orm::entity::prelude::*;

/// A row of `system_links`; unique on `(source, resource, external_id)`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "system_links")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub system_id: Uuid,
    /// The external system: an integration kind or a sync job's name.
    /// The tenant whose keyspace `(source, resource, external_id)` belongs to.
    pub organization_id: Option<Uuid>,
    pub source: String,
    /// The configured integration that saw the record, if any.
    pub integration_id: Option<Uuid>,
    /// The vendor resource (`device`, `configuration`, ...).
    pub resource: String,
    pub external_id: String,
    pub external_url: Option<String>,
    pub created_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
