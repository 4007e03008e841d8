//! A team consulted or informed under a responsibility.

use sea_orm::entity::prelude::*;

use crate::enums::PartyRole;

/// A row of `responsibility_parties`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "responsibility_parties")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub responsibility_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub team_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub role: PartyRole,
}

impl ActiveModelBehavior for ActiveModel {}
