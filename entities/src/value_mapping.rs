//! A per-integration translation of a vendor value (status, priority, ...) to Tandem's.

use sea_orm::entity::prelude::*;

use crate::enums::ValueMappingDomain;

/// A row of `value_mappings`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "value_mappings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub integration_id: Uuid,
    pub domain: ValueMappingDomain,
    pub external_value: String,
    pub external_label: Option<String>,
    /// The Tandem enum value, by name.
    pub normalized_value: String,
    /// Set by an admin; a lookup refresh leaves it alone.
    pub overridden: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
