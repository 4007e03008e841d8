//! A compliance obligation: a piece of evidence a framework asks for on a cadence, tied to the
//! function whose matrix entry decides who produces it and who answers for it.

use sea_orm::entity::prelude::*;

use crate::enums::{ComplianceFramework, EvidenceKind, ObligationCadence};

/// A row of `compliance_obligations`: the standard catalog, seeded by its migration.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "compliance_obligations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The framework that asks for it.
    pub framework: ComplianceFramework,
    /// Stable key, unique in the catalog, e.g. `hipaa.risk_analysis`.
    pub key: String,
    pub title: String,
    /// What is asked for, citing the rule.
    pub description: String,
    pub cadence: ObligationCadence,
    /// Days after a period's end before missing evidence is overdue.
    pub grace_days: i32,
    pub evidence_kind: EvidenceKind,
    /// The key of the function whose matrix entry decides who produces the evidence.
    pub function_key: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
