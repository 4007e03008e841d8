//! GraphQL enums mirroring the stored enums of `entities::enums`, converted both ways.

use async_graphql::Enum;

/// Whether an organization owns its IT or serves others as a managed service provider.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::OrganizationKind")]
pub enum OrganizationKind {
    /// A company that owns the IT environment.
    Client,
    /// A managed service provider (MSP).
    Provider,
}

/// What a token may do.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::Role")]
pub enum Role {
    /// Manages organizations, teams, the responsibility matrix and integrations; writes everything.
    Admin,
    /// Writes operational records: changes, tickets, runbooks.
    Member,
    /// Reads only.
    Viewer,
    /// A sync job: bulk upserts of external records.
    Integration,
}

/// A compliance framework an environment is held to.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::ComplianceFramework")]
pub enum ComplianceFramework {
    /// HIPAA Security Rule.
    Hipaa,
    /// Cybersecurity Maturity Model Certification.
    Cmmc,
    /// FTC Safeguards Rule (GLBA).
    FtcSafeguards,
    /// NIST Cybersecurity Framework 2.0.
    NistCsf2,
    /// A cyber-insurance questionnaire's controls.
    CyberInsurance,
}
