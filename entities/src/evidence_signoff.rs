//! The sign-off of a piece of evidence by the accountable side: at most one per record, and
//! never changed (a trigger refuses `UPDATE` and `DELETE`).

use sea_orm::entity::prelude::*;

/// A row of `evidence_signoffs`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "evidence_signoffs")]
pub struct Model {
    /// The evidence signed; its primary key, so a record is signed once.
    #[sea_orm(primary_key, auto_increment = false)]
    pub evidence_id: Uuid,
    pub signed_by_id: Uuid,
    /// The signer's organization, which owns the accountable team.
    pub organization_id: Uuid,
    pub accountable_team_id: Uuid,
    /// The matrix entry in force at the sign-off that named the accountable team.
    pub responsibility_id: Uuid,
    pub signed_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
