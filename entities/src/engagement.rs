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

/// Engagements in force on `day`: started on or before it, not yet ended (`ends_on` is
/// exclusive). The one definition every reader of "an active engagement" filters by.
pub fn in_force_on(day: Date) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(Column::StartsOn.lte(day))
        .add(
            sea_orm::Condition::any()
                .add(Column::EndsOn.is_null())
                .add(Column::EndsOn.gt(day)),
        )
}
