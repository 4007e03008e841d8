//! An engagement: a provider serving a client under an operating model for a period.

use sea_orm::entity::prelude::*;

use crate::enums::OperatingModel;

/// A row of `engagements`. A transition between operating models is a new row; history is kept.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "engagements")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The provider organization.
    pub provider_id: Uuid,
    /// The client organization.
    pub client_id: Uuid,
    pub operating_model: OperatingModel,
    /// First day of the engagement.
    pub starts_on: Date,
    /// Day the engagement ends (exclusive); open-ended when `None`.
    pub ends_on: Option<Date>,
    pub notes: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
