//! Compliance obligations (the seeded catalog of what each framework asks for, on which cadence,
//! tied to which function) and the evidence an environment records for them: records, their
//! sign-offs and their files.
//!
//! Evidence is append-only in the DDL itself: triggers refuse `UPDATE` and `DELETE` on records,
//! sign-offs and files, a record is signed at most once and has at most one file (each keyed by
//! the record), and is superseded at most once (a unique `supersedes_id`).

use chrono::{SubsecRound, Utc};
use sea_orm::prelude::Uuid;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, blob, integer, text, text_null};

use crate::columns::{
    allow_changes, create_table, drop_tables, enum_text, fk, forbid_changes, id, index, instant,
    timestamps, unique, uuid, uuid_null,
};

const FRAMEWORKS: &[&str] = &[
    "HIPAA",
    "CMMC",
    "FTC_SAFEGUARDS",
    "NIST_CSF_2",
    "CYBER_INSURANCE",
];
const CADENCES: &[&str] = &["MONTHLY", "QUARTERLY", "SEMI_ANNUAL", "YEARLY"];
const KINDS: &[&str] = &[
    "RISK_ASSESSMENT",
    "ACCESS_REVIEW",
    "AUDIT_LOG_REVIEW",
    "BACKUP_RESTORE_TEST",
    "POLICY_REVIEW",
    "AWARENESS_TRAINING",
    "INCIDENT_RESPONSE_EXERCISE",
    "VULNERABILITY_SCAN",
    "PENETRATION_TEST",
    "PATCH_REPORT",
    "INSURANCE_EVIDENCE",
];
const RESULTS: &[&str] = &["PASSED", "PARTIAL", "FAILED", "NOT_APPLICABLE"];

/// One obligation of the seeded catalog.
pub struct StandardObligation {
    pub framework: &'static str,
    /// Stable key, unique in the catalog.
    pub key: &'static str,
    pub title: &'static str,
    /// What is asked for, citing the rule.
    pub description: &'static str,
    pub cadence: &'static str,
    /// Days after a period's end before missing evidence is overdue.
    pub grace_days: i32,
    pub evidence_kind: &'static str,
    /// A key of the standard function catalog.
    pub function_key: &'static str,
}

const fn obligation(
    framework: &'static str,
    key: &'static str,
    title: &'static str,
    cadence: &'static str,
    grace_days: i32,
    evidence_kind: &'static str,
    function_key: &'static str,
    description: &'static str,
) -> StandardObligation {
    StandardObligation {
        framework,
        key,
        title,
        description,
        cadence,
        grace_days,
        evidence_kind,
        function_key,
    }
}

/// The standard catalog, in a stable order; its position gives each obligation a fixed id.
/// Where a rule says "periodically", the cadence is the common audit expectation and the
/// description says so.
pub const STANDARD_OBLIGATIONS: &[StandardObligation] = &[
    // HIPAA Security Rule, 45 CFR Part 164 Subpart C.
    obligation(
        "HIPAA",
        "hipaa.risk_analysis",
        "Security risk analysis",
        "YEARLY",
        30,
        "RISK_ASSESSMENT",
        "risk_assessment",
        "An accurate and thorough assessment of the risks to ePHI, with the risk management plan it leads to (45 CFR 164.308(a)(1)(ii)(A)-(B)). The rule says periodically; HHS and OCR expect at least yearly and after major changes.",
    ),
    obligation(
        "HIPAA",
        "hipaa.activity_review",
        "Information system activity review",
        "QUARTERLY",
        15,
        "AUDIT_LOG_REVIEW",
        "security_monitoring",
        "Regular review of audit logs, access reports and security incident tracking reports (45 CFR 164.308(a)(1)(ii)(D), 164.312(b)).",
    ),
    obligation(
        "HIPAA",
        "hipaa.access_review",
        "Workforce access review",
        "QUARTERLY",
        15,
        "ACCESS_REVIEW",
        "identity_access",
        "Review that each workforce member's access to ePHI is still authorized and appropriate (45 CFR 164.308(a)(3)(ii)(B)-(C), 164.308(a)(4)(ii)(C)).",
    ),
    obligation(
        "HIPAA",
        "hipaa.backup_restore_test",
        "Backup restore test",
        "MONTHLY",
        7,
        "BACKUP_RESTORE_TEST",
        "backup_recovery",
        "Retrievable exact copies of ePHI and a tested restore (45 CFR 164.308(a)(7)(ii)(A), (B) and (D): data backup, disaster recovery, testing and revision).",
    ),
    obligation(
        "HIPAA",
        "hipaa.awareness_training",
        "Security awareness training",
        "YEARLY",
        30,
        "AWARENESS_TRAINING",
        "security_awareness_training",
        "Security awareness and training for all workforce members, with periodic security reminders (45 CFR 164.308(a)(5)).",
    ),
    obligation(
        "HIPAA",
        "hipaa.policy_review",
        "Policy and procedure review",
        "YEARLY",
        30,
        "POLICY_REVIEW",
        "compliance_documentation",
        "Review the security policies and procedures periodically and update them as needed (45 CFR 164.316(b)(2)(iii)); documentation is kept six years (164.316(b)(2)(i)).",
    ),
    obligation(
        "HIPAA",
        "hipaa.incident_response_exercise",
        "Incident response exercise",
        "YEARLY",
        30,
        "INCIDENT_RESPONSE_EXERCISE",
        "incident_response",
        "Identify and respond to security incidents, mitigate and document them (45 CFR 164.308(a)(6)); a yearly exercise shows the procedure works.",
    ),
    // CMMC Level 2 (NIST SP 800-171 Rev. 2 practices).
    obligation(
        "CMMC",
        "cmmc.risk_assessment",
        "Risk assessment",
        "YEARLY",
        30,
        "RISK_ASSESSMENT",
        "risk_assessment",
        "Periodically assess the risk to operations, assets and individuals from processing CUI (RA.L2-3.11.1).",
    ),
    obligation(
        "CMMC",
        "cmmc.vulnerability_scan",
        "Vulnerability scan",
        "MONTHLY",
        7,
        "VULNERABILITY_SCAN",
        "vulnerability_management",
        "Scan for vulnerabilities periodically and when new ones are identified, and remediate them (RA.L2-3.11.2, RA.L2-3.11.3).",
    ),
    obligation(
        "CMMC",
        "cmmc.audit_log_review",
        "Audit log review",
        "MONTHLY",
        7,
        "AUDIT_LOG_REVIEW",
        "security_monitoring",
        "Review and correlate audit records for indications of inappropriate or unusual activity (AU.L2-3.3.1, AU.L2-3.3.5).",
    ),
    obligation(
        "CMMC",
        "cmmc.awareness_training",
        "Security awareness training",
        "YEARLY",
        30,
        "AWARENESS_TRAINING",
        "security_awareness_training",
        "Make users aware of the security risks of their activities, and train them for their duties (AT.L2-3.2.1, AT.L2-3.2.2).",
    ),
    obligation(
        "CMMC",
        "cmmc.incident_response_test",
        "Incident response test",
        "YEARLY",
        30,
        "INCIDENT_RESPONSE_EXERCISE",
        "incident_response",
        "Test the organizational incident response capability (IR.L2-3.6.3).",
    ),
    obligation(
        "CMMC",
        "cmmc.control_assessment",
        "Security control assessment",
        "YEARLY",
        30,
        "POLICY_REVIEW",
        "compliance_documentation",
        "Periodically assess the security controls, and keep the system security plan current (CA.L2-3.12.1, CA.L2-3.12.4).",
    ),
    // FTC Safeguards Rule, 16 CFR Part 314.
    obligation(
        "FTC_SAFEGUARDS",
        "ftc.risk_assessment",
        "Written risk assessment",
        "YEARLY",
        30,
        "RISK_ASSESSMENT",
        "risk_assessment",
        "A written risk assessment, and periodic further ones (16 CFR 314.4(b)(1)-(2)).",
    ),
    obligation(
        "FTC_SAFEGUARDS",
        "ftc.vulnerability_assessment",
        "Vulnerability assessment",
        "SEMI_ANNUAL",
        30,
        "VULNERABILITY_SCAN",
        "vulnerability_management",
        "Vulnerability assessments at least every six months, absent continuous monitoring (16 CFR 314.4(d)(2)(ii)).",
    ),
    obligation(
        "FTC_SAFEGUARDS",
        "ftc.penetration_test",
        "Penetration test",
        "YEARLY",
        30,
        "PENETRATION_TEST",
        "vulnerability_management",
        "Annual penetration testing based on the risk assessment, absent continuous monitoring (16 CFR 314.4(d)(2)(i)).",
    ),
    obligation(
        "FTC_SAFEGUARDS",
        "ftc.access_review",
        "Access control review",
        "QUARTERLY",
        15,
        "ACCESS_REVIEW",
        "identity_access",
        "Access controls that limit authorized users to the customer information they need, periodically reviewed (16 CFR 314.4(c)(1)).",
    ),
    obligation(
        "FTC_SAFEGUARDS",
        "ftc.awareness_training",
        "Security awareness training",
        "YEARLY",
        30,
        "AWARENESS_TRAINING",
        "security_awareness_training",
        "Security awareness training updated as the risk assessment requires (16 CFR 314.4(e)(1)).",
    ),
    obligation(
        "FTC_SAFEGUARDS",
        "ftc.annual_report",
        "Qualified Individual's annual report",
        "YEARLY",
        30,
        "POLICY_REVIEW",
        "compliance_documentation",
        "The Qualified Individual reports in writing to the board at least annually on the information security program (16 CFR 314.4(i)).",
    ),
    obligation(
        "FTC_SAFEGUARDS",
        "ftc.incident_response_plan",
        "Incident response plan review",
        "YEARLY",
        30,
        "INCIDENT_RESPONSE_EXERCISE",
        "incident_response",
        "A written incident response plan, evaluated and revised after incidents (16 CFR 314.4(h)).",
    ),
    // NIST Cybersecurity Framework 2.0 (outcomes; cadences are the common practice).
    obligation(
        "NIST_CSF_2",
        "csf.risk_assessment",
        "Risk assessment",
        "YEARLY",
        30,
        "RISK_ASSESSMENT",
        "risk_assessment",
        "Risks are identified, analysed and prioritised, and responses chosen (ID.RA-01 to ID.RA-06).",
    ),
    obligation(
        "NIST_CSF_2",
        "csf.policy_review",
        "Policy review",
        "YEARLY",
        30,
        "POLICY_REVIEW",
        "compliance_documentation",
        "The cybersecurity policy is reviewed, updated and communicated (GV.PO-01, GV.PO-02).",
    ),
    obligation(
        "NIST_CSF_2",
        "csf.access_review",
        "Access review",
        "QUARTERLY",
        15,
        "ACCESS_REVIEW",
        "identity_access",
        "Access permissions are managed, reviewed and follow least privilege (PR.AA-05).",
    ),
    obligation(
        "NIST_CSF_2",
        "csf.backup_restore_test",
        "Backup restore test",
        "MONTHLY",
        7,
        "BACKUP_RESTORE_TEST",
        "backup_recovery",
        "Backups of data are created, protected, maintained and tested (PR.DS-11).",
    ),
    obligation(
        "NIST_CSF_2",
        "csf.patch_report",
        "Patch report",
        "MONTHLY",
        7,
        "PATCH_REPORT",
        "patching",
        "Software is maintained, replaced and removed commensurate with risk (PR.PS-02).",
    ),
    obligation(
        "NIST_CSF_2",
        "csf.log_review",
        "Log review",
        "MONTHLY",
        7,
        "AUDIT_LOG_REVIEW",
        "security_monitoring",
        "Log records are generated and potentially adverse events are analysed (PR.PS-04, DE.AE-02).",
    ),
    obligation(
        "NIST_CSF_2",
        "csf.awareness_training",
        "Awareness training",
        "YEARLY",
        30,
        "AWARENESS_TRAINING",
        "security_awareness_training",
        "Personnel are provided with awareness and training (PR.AT-01, PR.AT-02).",
    ),
    obligation(
        "NIST_CSF_2",
        "csf.incident_response_exercise",
        "Incident response exercise",
        "YEARLY",
        30,
        "INCIDENT_RESPONSE_EXERCISE",
        "incident_response",
        "Incident response plans are tested, and improvements are identified from the exercises (ID.IM-02, ID.IM-04).",
    ),
    // Cyber insurance (the controls applications and renewals ask to attest).
    obligation(
        "CYBER_INSURANCE",
        "insurance.renewal_application",
        "Renewal application and attestation",
        "YEARLY",
        30,
        "INSURANCE_EVIDENCE",
        "compliance_documentation",
        "The signed renewal application or questionnaire, with the evidence behind its answers; misstatements can void cover.",
    ),
    obligation(
        "CYBER_INSURANCE",
        "insurance.mfa_attestation",
        "MFA coverage attestation",
        "YEARLY",
        30,
        "INSURANCE_EVIDENCE",
        "identity_access",
        "Proof that MFA covers email, remote access and privileged accounts, as ransomware supplements ask.",
    ),
    obligation(
        "CYBER_INSURANCE",
        "insurance.backup_restore_test",
        "Backup restore test",
        "QUARTERLY",
        15,
        "BACKUP_RESTORE_TEST",
        "backup_recovery",
        "A restore from offline or immutable backups, tested, as ransomware supplements ask.",
    ),
    obligation(
        "CYBER_INSURANCE",
        "insurance.patch_report",
        "Critical patch report",
        "MONTHLY",
        7,
        "PATCH_REPORT",
        "patching",
        "Critical and high patches deployed within the application's stated window (commonly 30 days).",
    ),
    obligation(
        "CYBER_INSURANCE",
        "insurance.phishing_training",
        "Phishing training",
        "YEARLY",
        30,
        "AWARENESS_TRAINING",
        "security_awareness_training",
        "Security awareness training with phishing simulations for all staff.",
    ),
];

/// The fixed id of the standard obligation at `position` in [`STANDARD_OBLIGATIONS`], the same on
/// every installation.
pub fn standard_obligation_id(position: usize) -> Uuid {
    Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0001_0000 | (position as u128 + 1))
}

const IMMUTABLE: [(&str, &str); 3] = [
    (
        "evidence_records",
        "evidence records are append-only: record a correction that supersedes it",
    ),
    ("evidence_signoffs", "an evidence sign-off never changes"),
    ("evidence_files", "an evidence file never changes"),
];

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let [created_at, updated_at] = timestamps();
        create_table(
            manager,
            "compliance_obligations",
            vec![
                id(),
                enum_text("framework", FRAMEWORKS),
                text("key"),
                text("title"),
                text("description"),
                enum_text("cadence", CADENCES),
                integer("grace_days"),
                enum_text("evidence_kind", KINDS),
                text("function_key"),
                created_at,
                updated_at,
            ],
            None,
            Vec::new(),
            vec![
                unique("compliance_obligations", &["key"]),
                index("compliance_obligations", &["framework"]),
            ],
        )
        .await?;
        create_table(
            manager,
            "evidence_records",
            vec![
                id(),
                uuid("environment_id"),
                uuid("obligation_id"),
                instant("period_start"),
                instant("period_end"),
                enum_text("result", RESULTS),
                text_null("notes"),
                text_null("link"),
                text_null("link_sha256"),
                uuid_null("supersedes_id"),
                uuid_null("recorded_by_id"),
                instant("recorded_at"),
            ],
            None,
            vec![
                fk(
                    "evidence_records",
                    "environment_id",
                    "environments",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "evidence_records",
                    "obligation_id",
                    "compliance_obligations",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "evidence_records",
                    "supersedes_id",
                    "evidence_records",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "evidence_records",
                    "recorded_by_id",
                    "people",
                    ForeignKeyAction::Restrict,
                ),
            ],
            vec![
                index(
                    "evidence_records",
                    &["environment_id", "obligation_id", "period_end"],
                ),
                unique("evidence_records", &["supersedes_id"]),
            ],
        )
        .await?;
        create_table(
            manager,
            "evidence_signoffs",
            vec![
                uuid("evidence_id"),
                uuid("signed_by_id"),
                uuid("organization_id"),
                uuid("accountable_team_id"),
                uuid("responsibility_id"),
                instant("signed_at"),
            ],
            Some(&["evidence_id"]),
            vec![
                fk(
                    "evidence_signoffs",
                    "evidence_id",
                    "evidence_records",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "evidence_signoffs",
                    "signed_by_id",
                    "people",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "evidence_signoffs",
                    "organization_id",
                    "organizations",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "evidence_signoffs",
                    "accountable_team_id",
                    "teams",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "evidence_signoffs",
                    "responsibility_id",
                    "responsibilities",
                    ForeignKeyAction::Restrict,
                ),
            ],
            Vec::new(),
        )
        .await?;
        create_table(
            manager,
            "evidence_files",
            vec![
                uuid("evidence_id"),
                text("content_type"),
                big_integer("size_bytes"),
                text("sha256"),
                blob("content"),
                uuid_null("uploaded_by_id"),
                instant("uploaded_at"),
            ],
            Some(&["evidence_id"]),
            vec![
                fk(
                    "evidence_files",
                    "evidence_id",
                    "evidence_records",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "evidence_files",
                    "uploaded_by_id",
                    "people",
                    ForeignKeyAction::Restrict,
                ),
            ],
            Vec::new(),
        )
        .await?;
        for (table, message) in IMMUTABLE {
            forbid_changes(manager, table, message).await?;
        }

        let now = Utc::now().trunc_subsecs(6);
        let mut insert = Query::insert();
        insert.into_table("compliance_obligations").columns([
            "id",
            "framework",
            "key",
            "title",
            "description",
            "cadence",
            "grace_days",
            "evidence_kind",
            "function_key",
            "created_at",
            "updated_at",
        ]);
        for (position, obligation) in STANDARD_OBLIGATIONS.iter().enumerate() {
            insert
                .values([
                    standard_obligation_id(position).into(),
                    obligation.framework.into(),
                    obligation.key.into(),
                    obligation.title.into(),
                    obligation.description.into(),
                    obligation.cadence.into(),
                    obligation.grace_days.into(),
                    obligation.evidence_kind.into(),
                    obligation.function_key.into(),
                    now.into(),
                    now.into(),
                ])
                .map_err(|error| DbErr::Migration(error.to_string()))?;
        }
        manager.exec_stmt(insert).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, _) in IMMUTABLE {
            allow_changes(manager, table).await?;
        }
        drop_tables(
            manager,
            &[
                "evidence_files",
                "evidence_signoffs",
                "evidence_records",
                "compliance_obligations",
            ],
        )
        .await
    }
}
