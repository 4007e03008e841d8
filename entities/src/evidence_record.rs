//! A piece of compliance evidence: what was done for an obligation in an environment, for which
//! period, with what result, and where the artefact is (a link with its hash, or a file).
//!
//! Rows are append-only (a trigger refuses `UPDATE` and `DELETE`): a correction is a new record
//! that supersedes the old one. Its sign-off and its file are rows of their own.

use sea_orm::entity::prelude::*;

use crate::enums::EvidenceResult;

/// A row of `evidence_records`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "evidence_records")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub environment_id: Uuid,
    pub obligation_id: Uuid,
    /// The period covered: `[period_start, period_end)`.
    pub period_start: DateTimeUtc,
    pub period_end: DateTimeUtc,
    pub result: EvidenceResult,
    pub notes: Option<String>,
    /// An `https` link to the artefact kept elsewhere.
    pub link: Option<String>,
    /// The SHA-256 of the linked artefact, lowercase hex, as the recorder computed it.
    pub link_sha256: Option<String>,
    /// The record this one corrects; a record is superseded at most once.
    pub supersedes_id: Option<Uuid>,
    pub recorded_by_id: Option<Uuid>,
    pub recorded_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
