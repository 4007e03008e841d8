//! A system: anything managed in an environment, possibly linked to RMM/PSA records.

use sea_orm::entity::prelude::*;

use crate::enums::SystemKind;

/// A row of `systems`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "systems")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub environment_id: Uuid,
    pub name: String,
    pub kind: SystemKind,
    pub hostname: Option<String>,
    pub serial_number: Option<String>,
    pub mac_address: Option<String>,
    pub operating_system: Option<String>,
    pub ip_address: Option<String>,
    pub description: Option<String>,
    /// Free-form facts, a JSON object.
    #[sea_orm(column_type = "JsonBinary")]
    pub attributes: Json,
    /// Which source last set each attribute, a JSON object of attribute name to source.
    #[sea_orm(column_type = "JsonBinary")]
    pub attribute_sources: Json,
    pub retired_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
