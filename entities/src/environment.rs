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
    /// The IANA time zone business hours are counted in, such as `America/New_York`.
    pub time_zone: String,
    /// Start of business hours, in minutes after local midnight (Monday to Friday).
    pub business_start_minute: i32,
    /// End of business hours, in minutes after local midnight, after the start.
    pub business_end_minute: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
