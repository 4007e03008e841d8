//! A responsibility: one entry of the responsibility matrix.

use sea_orm::entity::prelude::*;

use crate::enums::ResponsibilityStatus;

/// A row of `responsibilities`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "responsibilities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub environment_id: Uuid,
    pub function_id: Uuid,
    /// Set for a system-level entry, which overrides the function-level default.
    pub system_id: Option<Uuid>,
    pub responsible_team_id: Uuid,
    pub accountable_team_id: Option<Uuid>,
    /// Start of validity, inclusive.
    pub valid_from: DateTimeUtc,
    /// End of validity, exclusive; open when `None`.
    pub valid_to: Option<DateTimeUtc>,
    pub status: ResponsibilityStatus,
    pub notes: Option<String>,
    /// The entry this one replaces.
    pub supersedes_id: Option<Uuid>,
    pub created_by_id: Option<Uuid>,
    /// When the last side whose sign-off was required signed; `None` until agreed. An entry
    /// whose `valid_from` is earlier was agreed retroactively.
    pub agreed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
