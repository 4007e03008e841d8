//! An organization: a client that owns its IT, or a provider (MSP) that serves clients.

use sea_orm::entity::prelude::*;

use crate::enums::OrganizationKind;

/// A row of `organizations`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// URL-safe, unique; the `org` claim of tokens names it.
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    pub kind: OrganizationKind,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
