//! Functions (areas of responsibility) and the seeded catalog of standard functions.
//!
//! A standard function has no organization; an organization may add its own. Each maps to a
//! NIST CSF 2.0 function and category and lists the compliance frameworks that require an owner
//! for it, which gap detection reads.

use chrono::{SubsecRound, Utc};
use sea_orm::prelude::Uuid;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{json_binary, text};

use crate::columns::{create_table, drop_tables, enum_text, fk, id, timestamps, unique, uuid_null};

/// The NIST CSF 2.0 functions: Govern, Identify, Protect, Detect, Respond, Recover.
pub const CSF_FUNCTIONS: &[&str] = &["GV", "ID", "PR", "DE", "RS", "RC"];

/// One standard function of the seeded catalog.
pub struct StandardFunction {
    /// Stable key, unique among standard functions.
    pub key: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// NIST CSF 2.0 category, e.g. `PR.PS`; its first two letters are the CSF function.
    pub csf_category: &'static str,
    /// Frameworks that require an owner for this function.
    pub required_by: &'static [&'static str],
}

const ALL: &[&str] = &[
    "HIPAA",
    "CMMC",
    "FTC_SAFEGUARDS",
    "NIST_CSF_2",
    "CYBER_INSURANCE",
];

/// The standard catalog, in a stable order; its position gives each function a fixed id.
pub const STANDARD_FUNCTIONS: &[StandardFunction] = &[
    StandardFunction {
        key: "service_desk",
        name: "Service desk",
        description: "First-line support: intake, triage and resolution of user requests and incidents.",
        csf_category: "RS.MA",
        required_by: &["NIST_CSF_2"],
    },
    StandardFunction {
        key: "asset_inventory",
        name: "Asset inventory",
        description: "Keeping the inventory of hardware, software, services and data current.",
        csf_category: "ID.AM",
        required_by: &["HIPAA", "CMMC", "FTC_SAFEGUARDS", "NIST_CSF_2"],
    },
    StandardFunction {
        key: "endpoint_management",
        name: "Endpoint management",
        description: "Provisioning, configuring and retiring workstations, laptops and servers.",
        csf_category: "PR.PS",
        required_by: &["CMMC", "NIST_CSF_2"],
    },
    StandardFunction {
        key: "patching",
        name: "Patch management",
        description: "Testing and deploying operating system and application updates on schedule.",
        csf_category: "PR.PS",
        required_by: ALL,
    },
    StandardFunction {
        key: "vulnerability_management",
        name: "Vulnerability management",
        description: "Scanning for, prioritising and tracking remediation of vulnerabilities.",
        csf_category: "ID.RA",
        required_by: &["CMMC", "FTC_SAFEGUARDS", "NIST_CSF_2", "CYBER_INSURANCE"],
    },
    StandardFunction {
        key: "edr",
        name: "Endpoint detection and response",
        description: "Operating the EDR/antivirus agents and acting on their detections.",
        csf_category: "DE.CM",
        required_by: &["CMMC", "NIST_CSF_2", "CYBER_INSURANCE"],
    },
    StandardFunction {
        key: "security_monitoring",
        name: "Security monitoring",
        description: "Collecting and reviewing logs and alerts (SIEM/SOC) for adverse events.",
        csf_category: "DE.CM",
        required_by: ALL,
    },
    StandardFunction {
        key: "backup_recovery",
        name: "Backup and recovery",
        description: "Running, protecting and monitoring backups, with periodic restore tests.",
        csf_category: "PR.DS",
        required_by: ALL,
    },
    StandardFunction {
        key: "disaster_recovery",
        name: "Disaster recovery",
        description: "Maintaining and exercising the plan to restore operations after a major incident.",
        csf_category: "RC.RP",
        required_by: &["HIPAA", "NIST_CSF_2", "CYBER_INSURANCE"],
    },
    StandardFunction {
        key: "identity_access",
        name: "Identity and access management",
        description: "Accounts, MFA, privileged access, joiners, movers and leavers, access reviews.",
        csf_category: "PR.AA",
        required_by: ALL,
    },
    StandardFunction {
        key: "network",
        name: "Network and firewall",
        description: "Switching, routing, Wi-Fi, firewalls, VPN and segmentation.",
        csf_category: "PR.IR",
        required_by: &["CMMC", "FTC_SAFEGUARDS", "NIST_CSF_2"],
    },
    StandardFunction {
        key: "email_security",
        name: "Email security",
        description: "Mail filtering, SPF/DKIM/DMARC, phishing reporting and response.",
        csf_category: "PR.PS",
        required_by: &["CYBER_INSURANCE"],
    },
    StandardFunction {
        key: "cloud_administration",
        name: "Cloud and Microsoft 365 administration",
        description: "Tenant configuration, licensing and security baselines of cloud services.",
        csf_category: "PR.PS",
        required_by: &["CMMC", "NIST_CSF_2"],
    },
    StandardFunction {
        key: "line_of_business_applications",
        name: "Line-of-business applications",
        description: "Administration of ERP, EHR, accounting and other business applications.",
        csf_category: "ID.AM",
        required_by: &[],
    },
    StandardFunction {
        key: "vendor_management",
        name: "Vendor management",
        description: "Managing third parties: contracts, BAAs, security reviews and offboarding.",
        csf_category: "GV.SC",
        required_by: &["HIPAA", "CMMC", "FTC_SAFEGUARDS", "NIST_CSF_2"],
    },
    StandardFunction {
        key: "compliance_documentation",
        name: "Compliance documentation",
        description: "Policies, procedures and evidence kept current for audits and questionnaires.",
        csf_category: "GV.PO",
        required_by: ALL,
    },
    StandardFunction {
        key: "risk_assessment",
        name: "Risk assessment",
        description: "Periodic assessment of risks to systems and data, with a treatment plan.",
        csf_category: "ID.RA",
        required_by: &["HIPAA", "CMMC", "FTC_SAFEGUARDS", "NIST_CSF_2"],
    },
    StandardFunction {
        key: "incident_response",
        name: "After-hours incident response",
        description: "Responding to security and availability incidents outside business hours.",
        csf_category: "RS.MA",
        required_by: ALL,
    },
    StandardFunction {
        key: "security_awareness_training",
        name: "Security awareness training",
        description: "Training staff and running phishing simulations, with completion records.",
        csf_category: "PR.AT",
        required_by: ALL,
    },
];

/// The fixed id of the standard function at `position` in [`STANDARD_FUNCTIONS`], the same on
/// every installation so that clients may keep references to it.
pub fn standard_function_id(position: usize) -> Uuid {
    Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0000 | (position as u128 + 1))
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // SQLite runs DDL in transactions too: a failed step leaves nothing half-applied.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let [created_at, updated_at] = timestamps();
        create_table(
            manager,
            "functions",
            vec![
                id(),
                // Null for the standard catalog.
                uuid_null("organization_id"),
                text("key"),
                text("name"),
                text("description"),
                enum_text("csf_function", CSF_FUNCTIONS),
                text("csf_category"),
                // A JSON array of the frameworks that require an owner for this function.
                json_binary("required_by"),
                created_at,
                updated_at,
            ],
            None,
            vec![fk(
                "functions",
                "organization_id",
                "organizations",
                ForeignKeyAction::Cascade,
            )],
            vec![unique("functions", &["organization_id", "key"])],
        )
        .await?;
        // NULLs are distinct in a unique index, so the standard catalog needs its own.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_functions_standard_key ON functions (key) \
                 WHERE organization_id IS NULL",
            )
            .await?;

        let now = Utc::now().trunc_subsecs(6);
        let mut insert = Query::insert();
        insert.into_table("functions").columns([
            "id",
            "key",
            "name",
            "description",
            "csf_function",
            "csf_category",
            "required_by",
            "created_at",
            "updated_at",
        ]);
        for (position, function) in STANDARD_FUNCTIONS.iter().enumerate() {
            let required_by = serde_json::Value::from(function.required_by.to_vec());
            insert
                .values([
                    standard_function_id(position).into(),
                    function.key.into(),
                    function.name.into(),
                    function.description.into(),
                    function.csf_category[..2].into(),
                    function.csf_category.into(),
                    required_by.into(),
                    now.into(),
                    now.into(),
                ])
                .map_err(|error| DbErr::Migration(error.to_string()))?;
        }
        manager.exec_stmt(insert).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["functions"]).await
    }
}
