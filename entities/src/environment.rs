//! An environment: a client's IT estate or a part of it, with its compliance frameworks.

use sea_orm::entity::prelude::*;

/// A row of `environments`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "environments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The client organization that owns the environment.
    pub organization_id: Uuid,
    /// Unique within the organization.
    pub name: String,
    pub description: Option<String>,
    /// A JSON array of [`crate::enums::ComplianceFramework`] names.
    #[sea_orm(column_type = "JsonBinary")]
    pub compliance_frameworks: Json,
    pub archived_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
