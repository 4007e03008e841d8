//! One change Tandem writes back to a synced PSA ticket, with its attempts (the write-back
//! queue of two-way sync).

use sea_orm::entity::prelude::*;

use crate::enums::{PsaWriteKind, PsaWriteStatus};

/// A row of `psa_writes`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "psa_writes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub integration_id: Uuid,
    pub ticket_id: Uuid,
    pub kind: PsaWriteKind,
    /// The `integrations::connector::TicketWrite`, as JSON.
    pub payload: Json,
    pub status: PsaWriteStatus,
    /// Attempts made so far.
    pub attempts: i32,
    /// When it is due (again); `None` once it is no longer pending.
    pub next_attempt_at: Option<DateTimeUtc>,
    /// The worker attempting it now, until `lease_expires_at`.
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    /// Why the last attempt failed (Tandem's words; never a secret or the vendor's body).
    pub last_error: Option<String>,
    /// The vendor's id of what the write created (a note).
    pub vendor_id: Option<String>,
    /// The Tandem note the write carries, when it carries one.
    pub note_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub done_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
