//! A person: a member of one organization, identified in tokens by `subject`.

use sea_orm::entity::prelude::*;

use crate::enums::Role;

/// A row of `people`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "people")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub organization_id: Uuid,
    /// The `sub` claim of the person's tokens; unique.
    #[sea_orm(unique)]
    pub subject: String,
    pub display_name: String,
    pub email: Option<String>,
    /// The highest role the person's tokens may claim.
    pub role: Role,
    /// Inactive people keep their history but are refused tokens.
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
