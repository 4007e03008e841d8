//! A function: an area of responsibility, mapped to NIST CSF 2.0.

use sea_orm::entity::prelude::*;

use crate::enums::CsfFunction;

/// A row of `functions`. Standard functions have no organization.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "functions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The organization that added it; `None` for the standard catalog.
    pub organization_id: Option<Uuid>,
    /// Stable key, unique per organization (and among standard functions).
    pub key: String,
    pub name: String,
    pub description: String,
    pub csf_function: CsfFunction,
    /// The CSF 2.0 category, e.g. `PR.PS`.
    pub csf_category: String,
    /// A JSON array of the frameworks that require an owner for it.
    #[sea_orm(column_type = "JsonBinary")]
    pub required_by: Json,
    /// A JSON array of the system kinds it applies to, system by system; empty for a function of
    /// the environment as a whole.
    #[sea_orm(column_type = "JsonBinary")]
    pub applies_to: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
