//! Demo data for `tandem serve --demo`: one MSP, a co-managed client under HIPAA with its own
//! internal IT, and a fully managed client, with everything a client of the API wants to look at.
//!
//! Loaded only into an empty database (no organizations), in one transaction: either all of it
//! lands or none. Content is generated from a fixed seed, so two demo databases hold the same
//! records; only timestamps move with the current date.
//!
//! What production decides, the demo leaves to production's code, so the demo shows what a real
//! installation writes: tickets and alerts are routed by the production [`Router`] over the
//! demo's matrix, each at its own creation time, and synced ones are built by the external
//! records' constructors (`services::external`). Change log entries carry the fields production's
//! writers give them, built by the same functions: a person's write through the API
//! (`services::unit::Attribution`), a sync run's observation (`services::external::observed_entry`),
//! a step of the matrix lifecycle (`services::matrix::lifecycle_note`). Where a writer cannot be
//! called (opening a ticket, acknowledging an alert: those services open their own transaction
//! and stamp the wall clock), the demo mirrors the rows it writes and names the original.
//!
//! Organizations, teams, people, environments and systems are inserted directly: the directory
//! and inventory services each open their own transaction from the pool (on SQLite a second
//! writer would wait for the demo's own write lock), need an actor that can only be resolved
//! from committed rows, stamp the wall clock where the demo writes a history (environments and
//! systems created months ago), and write change log entries the demo's log does not have.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Duration, NaiveDate, SubsecRound, Utc};
use entities::enums::{
    AlertStatus, ChangeCategory, ChangeSource, ComplianceFramework, EscalationChannel,
    EvidenceResult, IntegrationKind, OperatingModel, OrganizationKind, PartyRole, Priority,
    ResponsibilityStatus, Role, SlaCalendar, SyncStatus, SyncTrigger, SystemKind, TicketStatus,
};
use entities::prelude::*;
use entities::{
    alert, change_log_entry, compliance_obligation, engagement, environment, escalation_step,
    evidence_file, evidence_record, evidence_signoff, function, integration, integration_mapping,
    organization, person, responsibility, responsibility_approval, responsibility_party, runbook,
    runbook_function, runbook_revision, runbook_system, sla_target, sync_run, system, system_link,
    team, team_membership, ticket, ticket_note,
};
use sea_orm::prelude::*;
use sea_orm::{
    ActiveModelTrait, DatabaseConnection, DatabaseTransaction, IntoActiveModel, TryIntoModel,
};
use serde_json::{Value, json};

use crate::matrix::{Route, Router};
use crate::services::external::{self, AlertFacts, ExternalKey, TicketFacts};
use crate::services::matrix::{Action, lifecycle_note};
use crate::services::unit::{Attribution, precise};
use crate::services::{ChangeNote, insert_entry};

/// The demo's provider admin: the subject and organization of the first printed token.
pub const PROVIDER_ADMIN: (&str, &str) = ("demo|northwind-admin", "northwind-msp");
/// The co-managed client's internal IT admin: the second printed token.
pub const CLIENT_IT_ADMIN: (&str, &str) = ("demo|harbor-it-admin", "harbor-health");

/// What [`seed`] wrote, for the start-up banner.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    pub organizations: usize,
    pub environments: usize,
    pub systems: usize,
    pub responsibilities: usize,
    pub runbooks: usize,
    pub change_log_entries: usize,
    pub tickets: usize,
    pub alerts: usize,
}

/// Loads the demo data when the database holds no organization yet.
///
/// Returns `None`, writing nothing, when the database already has data.
///
/// # Errors
/// When a write fails; nothing is left half-written.
pub async fn seed_if_empty(db: &DatabaseConnection) -> anyhow::Result<Option<DemoSummary>> {
    if Organization::find().one(db).await?.is_some() {
        return Ok(None);
    }
    let now = Utc::now().trunc_subsecs(6);
    let txn = crate::services::unit::begin_write(db).await?;
    let summary = Demo::new(now)
        .write(&txn)
        .await
        .context("cannot load demo data")?;
    // The demo inserts its matrix as it stands; its history (and when each entry was agreed)
    // is reconstructed from the entries and their sign-offs, as the migration did for entries
    // older than the history.
    migration::reconstruct_responsibility_history(&txn).await?;
    txn.commit().await?;
    Ok(Some(summary))
}

fn id() -> Uuid {
    Uuid::now_v7()
}

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("demo dates are valid")
}

/// Inserts `models` in chunks that stay far below SQLite's bound-parameter limit.
async fn insert_all<A, M>(db: &impl ConnectionTrait, models: Vec<M>) -> Result<usize, DbErr>
where
    M: IntoActiveModel<A>,
    A: ActiveModelTrait + Send,
{
    let count = models.len();
    let mut models = models
        .into_iter()
        .map(IntoActiveModel::into_active_model)
        .peekable();
    while models.peek().is_some() {
        let chunk: Vec<A> = models.by_ref().take(200).collect();
        <A::Entity as EntityTrait>::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(count)
}

/// Functions whose fully managed entries end on Cedar's transition day: the service desk and the
/// line of business applications go to Cedar's coordinator (drafted, not yet agreed), and nobody
/// has decided who runs security awareness training after the day (a gap the report finds).
const CEDAR_TAKES_OVER: [&str; 3] = [
    "service_desk",
    "line_of_business_applications",
    "security_awareness_training",
];

/// One line of the demo matrix: function key, then the responsible and accountable team keys,
/// then the consulted and informed team keys.
type MatrixRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);

/// One demo runbook: environment, title, owner team, review interval in days, days since the
/// last review, number of revisions, the function it covers, and the name prefix of its systems.
type RunbookSpec = (
    &'static str,
    &'static str,
    &'static str,
    i32,
    i64,
    usize,
    &'static str,
    &'static str,
);

/// A team or person the demo refers to by a short key.
struct Directory {
    organizations: HashMap<&'static str, organization::Model>,
    teams: HashMap<&'static str, Uuid>,
    people: HashMap<&'static str, person::Model>,
    /// Per team, the first of its people who may work tickets and alerts (`ADMIN` or `MEMBER`).
    responders: HashMap<Uuid, &'static str>,
}

struct Demo {
    now: DateTime<Utc>,
    rng: fastrand::Rng,
}

impl Demo {
    fn new(now: DateTime<Utc>) -> Self {
        Self {
            now,
            rng: fastrand::Rng::with_seed(0x7a4d_3e11),
        }
    }

    /// The day Cedar & Pine moves from fully managed to co-managed: three weeks from now.
    fn cedar_transition(&self) -> NaiveDate {
        (self.now + Duration::days(21)).date_naive()
    }

    fn cedar_transition_start(&self) -> DateTime<Utc> {
        self.cedar_transition()
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
    }

    fn ago(&mut self, min_days: i64, max_days: i64) -> DateTime<Utc> {
        let minutes = self.rng.i64(min_days * 24 * 60..max_days * 24 * 60);
        self.now - Duration::minutes(minutes)
    }

    async fn write(mut self, txn: &DatabaseTransaction) -> anyhow::Result<DemoSummary> {
        let mut summary = DemoSummary::default();
        let directory = self.write_parties(txn, &mut summary).await?;
        let environments = self
            .write_environments(txn, &directory, &mut summary)
            .await?;
        let systems = self.write_systems(txn, &environments, &mut summary).await?;
        let functions = Function::find().all(txn).await?;
        let matrix = self
            .write_matrix(
                txn,
                &directory,
                &environments,
                &systems,
                &functions,
                &mut summary,
            )
            .await?;
        self.write_cedar_transition(
            txn,
            &directory,
            &environments,
            &matrix,
            &functions,
            &mut summary,
        )
        .await?;
        self.write_runbooks(
            txn,
            &directory,
            &environments,
            &systems,
            &functions,
            &mut summary,
        )
        .await?;
        let integrations = self
            .write_integrations(txn, &directory, &environments, &systems)
            .await?;
        // Tickets and alerts are routed as production routes them: by the router over the
        // matrix just written, each at its own creation time.
        let router = Router::load(txn, environments.values().map(|found| found.id)).await?;
        let tickets = self
            .write_tickets(
                txn,
                &directory,
                &environments,
                &systems,
                &router,
                &integrations,
                &mut summary,
            )
            .await?;
        self.write_alerts(
            txn,
            &directory,
            &environments,
            &systems,
            &router,
            &integrations,
            &mut summary,
        )
        .await?;
        self.write_change_log(
            txn,
            &directory,
            &environments,
            &systems,
            &tickets,
            &integrations,
            &mut summary,
        )
        .await?;
        self.write_evidence(txn, &directory, &environments, &matrix, &mut summary)
            .await?;
        Ok(summary)
    }

    async fn write_parties(
        &mut self,
        db: &impl ConnectionTrait,
        summary: &mut DemoSummary,
    ) -> anyhow::Result<Directory> {
        let now = self.now;
        let organization = |slug: &str, name: &str, kind| organization::Model {
            id: id(),
            slug: slug.to_owned(),
            name: name.to_owned(),
            kind,
            created_at: now,
            updated_at: now,
        };
        let organizations = HashMap::from([
            (
                "msp",
                organization(
                    "northwind-msp",
                    "Northwind Managed Services",
                    OrganizationKind::Provider,
                ),
            ),
            (
                "harbor",
                organization(
                    "harbor-health",
                    "Harbor Health Partners",
                    OrganizationKind::Client,
                ),
            ),
            (
                "cedar",
                organization(
                    "cedar-pine",
                    "Cedar & Pine Accounting",
                    OrganizationKind::Client,
                ),
            ),
        ]);
        summary.organizations = insert_all(db, organizations.values().cloned().collect()).await?;

        let engagement = |client: &str, model, starts_on, ends_on| engagement::Model {
            id: id(),
            provider_id: organizations["msp"].id,
            client_id: organizations[client].id,
            operating_model: model,
            starts_on,
            ends_on,
            // The period `planTransition` opens says where it came from.
            notes: (model == OperatingModel::CoManaged)
                .then(|| "Transition from FULLY_MANAGED".to_owned()),
            created_at: now,
            updated_at: now,
        };
        insert_all(
            db,
            vec![
                // Harbor moved from fully managed to co-managed when it hired an IT manager.
                engagement(
                    "harbor",
                    OperatingModel::FullyManaged,
                    date(2023, 1, 1),
                    Some(date(2025, 3, 1)),
                ),
                engagement("harbor", OperatingModel::CoManaged, date(2025, 3, 1), None),
                // Cedar hired an office IT coordinator: a transition to co-managed is planned.
                engagement(
                    "cedar",
                    OperatingModel::FullyManaged,
                    date(2024, 6, 1),
                    Some(self.cedar_transition()),
                ),
                engagement(
                    "cedar",
                    OperatingModel::CoManaged,
                    self.cedar_transition(),
                    None,
                ),
            ],
        )
        .await?;

        let team_specs: [(&str, &str, &str, &str); 7] = [
            (
                "service_desk",
                "msp",
                "Service Desk",
                "Tier 1 and 2 support, 7:00-19:00 ET.",
            ),
            (
                "noc",
                "msp",
                "Network Operations",
                "Patching, backups, network and projects.",
            ),
            (
                "soc",
                "msp",
                "Security Operations Center",
                "24x7 monitoring, EDR and incident response.",
            ),
            (
                "vcio",
                "msp",
                "vCIO and Account Management",
                "Strategy, budgets, compliance reviews.",
            ),
            (
                "internal_it",
                "harbor",
                "Internal IT",
                "Harbor's own IT team, led by the IT manager.",
            ),
            (
                "compliance",
                "harbor",
                "Compliance Office",
                "HIPAA privacy and security officer.",
            ),
            (
                "office",
                "cedar",
                "Office Management",
                "Cedar & Pine's office manager and partners.",
            ),
        ];
        let teams: Vec<team::Model> = team_specs
            .iter()
            .map(|(_, org, name, description)| team::Model {
                id: id(),
                organization_id: organizations[org].id,
                name: (*name).to_owned(),
                description: Some((*description).to_owned()),
                created_at: now,
                updated_at: now,
            })
            .collect();
        let team_ids: HashMap<&'static str, Uuid> = team_specs
            .iter()
            .zip(&teams)
            .map(|((key, ..), team)| (*key, team.id))
            .collect();
        insert_all(db, teams).await?;

        let person_specs: [(&str, &str, &str, &str, Role, &str); 10] = [
            (
                "msp_admin",
                "msp",
                PROVIDER_ADMIN.0,
                "Morgan Reyes",
                Role::Admin,
                "vcio",
            ),
            (
                "msp_tech",
                "msp",
                "demo|northwind-tech",
                "Priya Shah",
                Role::Member,
                "service_desk",
            ),
            (
                "msp_noc",
                "msp",
                "demo|northwind-noc",
                "Jonas Weber",
                Role::Member,
                "noc",
            ),
            (
                "msp_soc",
                "msp",
                "demo|northwind-soc",
                "Aisha Bello",
                Role::Member,
                "soc",
            ),
            (
                "msp_sync",
                "msp",
                "demo|northwind-sync",
                "Northwind sync job",
                Role::Integration,
                "noc",
            ),
            (
                "harbor_admin",
                "harbor",
                CLIENT_IT_ADMIN.0,
                "Dana Whitfield",
                Role::Admin,
                "internal_it",
            ),
            (
                "harbor_tech",
                "harbor",
                "demo|harbor-it-tech",
                "Luis Ortega",
                Role::Member,
                "internal_it",
            ),
            (
                "harbor_compliance",
                "harbor",
                "demo|harbor-compliance",
                "Grace Kim",
                Role::Viewer,
                "compliance",
            ),
            (
                "cedar_admin",
                "cedar",
                "demo|cedar-office",
                "Tom Becker",
                Role::Admin,
                "office",
            ),
            (
                "cedar_partner",
                "cedar",
                "demo|cedar-partner",
                "Elena Park",
                Role::Viewer,
                "office",
            ),
        ];
        let people: Vec<person::Model> = person_specs
            .iter()
            .map(|(_, org, subject, name, role, _)| person::Model {
                id: id(),
                organization_id: organizations[org].id,
                subject: (*subject).to_owned(),
                display_name: (*name).to_owned(),
                email: Some(format!(
                    "{}@{}.example",
                    name.to_lowercase().replace(' ', "."),
                    organizations[org].slug
                )),
                role: *role,
                active: true,
                created_at: now,
                updated_at: now,
            })
            .collect();
        let memberships: Vec<team_membership::Model> = person_specs
            .iter()
            .zip(&people)
            .map(|((.., team), person)| team_membership::Model {
                team_id: team_ids[team],
                person_id: person.id,
                created_at: now,
            })
            .collect();
        let people_by_key: HashMap<&'static str, person::Model> = person_specs
            .iter()
            .zip(&people)
            .map(|((key, ..), person)| (*key, person.clone()))
            .collect();
        let mut responders = HashMap::new();
        for (key, _, _, _, role, team) in &person_specs {
            if matches!(role, Role::Admin | Role::Member) {
                responders.entry(team_ids[team]).or_insert(*key);
            }
        }
        insert_all(db, people).await?;
        insert_all(db, memberships).await?;
        Ok(Directory {
            organizations,
            teams: team_ids,
            people: people_by_key,
            responders,
        })
    }

    async fn write_environments(
        &mut self,
        db: &impl ConnectionTrait,
        directory: &Directory,
        summary: &mut DemoSummary,
    ) -> anyhow::Result<HashMap<&'static str, environment::Model>> {
        use ComplianceFramework::{CyberInsurance, FtcSafeguards, Hipaa, NistCsf2};
        let specs: [(&str, &str, &str, &str, Vec<ComplianceFramework>); 3] = [
            (
                "harbor_prod",
                "harbor",
                "Production",
                "Main clinic and data center: EHR, identity, file services.",
                vec![Hipaa, CyberInsurance, NistCsf2],
            ),
            (
                "harbor_riverside",
                "harbor",
                "Riverside Clinic",
                "Branch clinic on a site-to-site VPN.",
                vec![Hipaa],
            ),
            (
                "cedar_office",
                "cedar",
                "Main Office",
                "Single office with a file server and cloud accounting.",
                vec![FtcSafeguards, CyberInsurance],
            ),
        ];
        let environments: HashMap<&'static str, environment::Model> = specs
            .into_iter()
            .map(|(key, org, name, description, frameworks)| {
                (
                    key,
                    environment::Model {
                        id: id(),
                        organization_id: directory.organizations[org].id,
                        name: name.to_owned(),
                        description: Some(description.to_owned()),
                        compliance_frameworks: json!(frameworks),
                        archived_at: None,
                        time_zone: "America/New_York".to_owned(),
                        business_start_minute: 8 * 60,
                        business_end_minute: 18 * 60,
                        created_at: self.now - Duration::days(400),
                        updated_at: self.now - Duration::days(30),
                    },
                )
            })
            .collect();
        summary.environments = insert_all(db, environments.values().cloned().collect()).await?;
        Ok(environments)
    }

    async fn write_systems(
        &mut self,
        db: &impl ConnectionTrait,
        environments: &HashMap<&'static str, environment::Model>,
        summary: &mut DemoSummary,
    ) -> anyhow::Result<HashMap<&'static str, Vec<system::Model>>> {
        use SystemKind::{
            BackupSet, CloudTenant, Firewall, Laptop, NetworkDevice, Printer, SaasApplication,
            Server, VirtualMachine, Workstation,
        };
        let mut specs: Vec<(&'static str, String, SystemKind, Option<&str>)> = vec![
            (
                "harbor_prod",
                "HHP-DC01".into(),
                VirtualMachine,
                Some("Windows Server 2022"),
            ),
            (
                "harbor_prod",
                "HHP-EHR-APP01".into(),
                VirtualMachine,
                Some("Windows Server 2019"),
            ),
            (
                "harbor_prod",
                "HHP-EHR-DB01".into(),
                VirtualMachine,
                Some("Windows Server 2019"),
            ),
            (
                "harbor_prod",
                "HHP-FS01".into(),
                VirtualMachine,
                Some("Windows Server 2022"),
            ),
            (
                "harbor_prod",
                "HHP-HV01".into(),
                Server,
                Some("Windows Server 2022 Datacenter"),
            ),
            (
                "harbor_prod",
                "HHP-FW01".into(),
                Firewall,
                Some("FortiOS 7.4"),
            ),
            (
                "harbor_prod",
                "HHP-SW-CORE".into(),
                NetworkDevice,
                Some("Aruba CX 10.13"),
            ),
            ("harbor_prod", "HHP-AP-01".into(), NetworkDevice, None),
            (
                "harbor_prod",
                "Harbor Microsoft 365".into(),
                CloudTenant,
                None,
            ),
            (
                "harbor_prod",
                "HHP-BDR01".into(),
                BackupSet,
                Some("Datto SIRIS"),
            ),
            ("harbor_prod", "HHP-PRN-FRONT".into(), Printer, None),
            (
                "harbor_riverside",
                "HRC-FW01".into(),
                Firewall,
                Some("FortiOS 7.4"),
            ),
            (
                "harbor_riverside",
                "HRC-SW01".into(),
                NetworkDevice,
                Some("Aruba CX 10.13"),
            ),
            ("harbor_riverside", "HRC-PRN01".into(), Printer, None),
            (
                "cedar_office",
                "CP-SRV01".into(),
                Server,
                Some("Windows Server 2022"),
            ),
            (
                "cedar_office",
                "CP-FW01".into(),
                Firewall,
                Some("SonicOS 7"),
            ),
            (
                "cedar_office",
                "CP-NAS01".into(),
                BackupSet,
                Some("Synology DSM 7.2"),
            ),
            (
                "cedar_office",
                "Cedar Microsoft 365".into(),
                CloudTenant,
                None,
            ),
            (
                "cedar_office",
                "QuickBooks Online".into(),
                SaasApplication,
                None,
            ),
        ];
        for number in 1..=10 {
            specs.push((
                "harbor_prod",
                format!("HHP-WS-{number:03}"),
                Workstation,
                Some("Windows 11 23H2"),
            ));
        }
        for number in 1..=4 {
            specs.push((
                "harbor_prod",
                format!("HHP-LT-{number:03}"),
                Laptop,
                Some("Windows 11 23H2"),
            ));
            specs.push((
                "harbor_riverside",
                format!("HRC-WS-{number:03}"),
                Workstation,
                Some("Windows 11 23H2"),
            ));
        }
        for number in 1..=6 {
            specs.push((
                "cedar_office",
                format!("CP-WS-{number:03}"),
                Workstation,
                Some("Windows 11 24H2"),
            ));
        }
        let mut systems: HashMap<&'static str, Vec<system::Model>> = HashMap::new();
        let mut all = Vec::new();
        for (index, (environment_key, name, kind, operating_system)) in
            specs.into_iter().enumerate()
        {
            let physical = !matches!(kind, CloudTenant | SaasApplication);
            let model = system::Model {
                id: id(),
                environment_id: environments[environment_key].id,
                hostname: physical.then(|| name.to_lowercase()),
                serial_number: physical.then(|| format!("SN{:08X}", self.rng.u32(..))),
                mac_address: physical.then(|| {
                    format!(
                        "00:1A:2B:{:02X}:{:02X}:{:02X}",
                        index,
                        self.rng.u8(..),
                        self.rng.u8(..)
                    )
                }),
                operating_system: operating_system.map(str::to_owned),
                ip_address: physical.then(|| {
                    format!(
                        "10.{}.{}.{}",
                        10 + index / 200,
                        (index / 50) % 4,
                        10 + index % 200
                    )
                }),
                description: None,
                attributes: json!({ "location": if environment_key == "harbor_riverside" { "Riverside" } else { "Head office" } }),
                attribute_sources: json!({ "operating_system": "NINJAONE", "ip_address": "NINJAONE" }),
                retired_at: None,
                name,
                kind,
                created_at: self.now - Duration::days(300),
                updated_at: self.ago(1, 60),
            };
            systems
                .entry(environment_key)
                .or_default()
                .push(model.clone());
            all.push(model);
        }
        summary.systems = insert_all(db, all).await?;
        Ok(systems)
    }

    /// The agreed matrix of every environment, keyed by (environment, function key).
    async fn write_matrix(
        &mut self,
        db: &impl ConnectionTrait,
        directory: &Directory,
        environments: &HashMap<&'static str, environment::Model>,
        systems: &HashMap<&'static str, Vec<system::Model>>,
        functions: &[function::Model],
        summary: &mut DemoSummary,
    ) -> anyhow::Result<HashMap<(&'static str, String), responsibility::Model>> {
        // The co-managed split; a fully managed client's matrix is derived from it below.
        let co_managed: &[MatrixRow] = &[
            (
                "service_desk",
                "internal_it",
                "internal_it",
                &["service_desk"],
                &[],
            ),
            (
                "asset_inventory",
                "noc",
                "internal_it",
                &[],
                &["compliance"],
            ),
            (
                "endpoint_management",
                "noc",
                "internal_it",
                &["internal_it"],
                &[],
            ),
            (
                "patching",
                "noc",
                "internal_it",
                &["internal_it"],
                &["compliance"],
            ),
            (
                "vulnerability_management",
                "soc",
                "internal_it",
                &["noc"],
                &["compliance"],
            ),
            ("edr", "soc", "internal_it", &[], &["internal_it"]),
            (
                "security_monitoring",
                "soc",
                "internal_it",
                &[],
                &["compliance"],
            ),
            (
                "backup_recovery",
                "noc",
                "internal_it",
                &[],
                &["compliance"],
            ),
            (
                "disaster_recovery",
                "noc",
                "internal_it",
                &["internal_it", "vcio"],
                &["compliance"],
            ),
            (
                "identity_access",
                "internal_it",
                "internal_it",
                &["soc"],
                &[],
            ),
            ("network", "noc", "internal_it", &["internal_it"], &[]),
            (
                "email_security",
                "soc",
                "internal_it",
                &[],
                &["internal_it"],
            ),
            (
                "cloud_administration",
                "internal_it",
                "internal_it",
                &["noc"],
                &[],
            ),
            (
                "line_of_business_applications",
                "internal_it",
                "internal_it",
                &[],
                &["service_desk"],
            ),
            (
                "vendor_management",
                "internal_it",
                "compliance",
                &["vcio"],
                &[],
            ),
            (
                "compliance_documentation",
                "compliance",
                "compliance",
                &["internal_it", "vcio"],
                &[],
            ),
            (
                "risk_assessment",
                "compliance",
                "compliance",
                &["vcio", "soc"],
                &["internal_it"],
            ),
            (
                "incident_response",
                "soc",
                "internal_it",
                &["internal_it"],
                &["compliance"],
            ),
            (
                "security_awareness_training",
                "compliance",
                "compliance",
                &["soc"],
                &["internal_it"],
            ),
        ];
        let harbor_start = DateTime::<Utc>::from_naive_utc_and_offset(date(2025, 3, 1).into(), Utc);
        let cedar_start = DateTime::<Utc>::from_naive_utc_and_offset(date(2024, 6, 1).into(), Utc);
        let function_by_key: HashMap<&str, &function::Model> = functions
            .iter()
            .map(|function| (function.key.as_str(), function))
            .collect();

        let mut entries = Vec::new();
        let mut parties = Vec::new();
        let mut steps = Vec::new();
        let mut targets = Vec::new();
        let mut approvals = Vec::new();
        let mut matrix = HashMap::new();
        for environment_key in ["harbor_prod", "harbor_riverside", "cedar_office"] {
            let environment = &environments[environment_key];
            let harbor = environment_key.starts_with("harbor");
            for &(function_key, responsible, accountable, consulted, informed) in co_managed {
                let function = function_by_key[function_key];
                // A fully managed client leaves the work to the provider, and the provider's vCIO
                // answers for it; the client keeps only its own compliance paperwork.
                let (responsible, accountable, consulted, informed): (
                    &str,
                    &str,
                    &[&str],
                    &[&str],
                ) = if harbor {
                    (responsible, accountable, consulted, informed)
                } else if matches!(function_key, "compliance_documentation" | "risk_assessment") {
                    ("vcio", "office", &[], &[])
                } else {
                    let doer = match responsible {
                        "internal_it" | "compliance" => "service_desk",
                        other => other,
                    };
                    (doer, "vcio", &[], &["office"])
                };
                let entry = responsibility::Model {
                    id: id(),
                    environment_id: environment.id,
                    function_id: function.id,
                    system_id: None,
                    responsible_team_id: directory.teams[responsible],
                    accountable_team_id: Some(directory.teams[accountable]),
                    valid_from: if harbor { harbor_start } else { cedar_start },
                    // What Cedar's own coordinator takes over ends with the fully managed period.
                    valid_to: (!harbor && CEDAR_TAKES_OVER.contains(&function_key))
                        .then(|| self.cedar_transition_start()),
                    status: ResponsibilityStatus::Agreed,
                    notes: None,
                    supersedes_id: None,
                    created_by_id: Some(directory.people["msp_admin"].id),
                    agreed_at: None,
                    created_at: self.now - Duration::days(280),
                    updated_at: self.now - Duration::days(270),
                };
                for (role, teams) in [
                    (PartyRole::Consulted, consulted),
                    (PartyRole::Informed, informed),
                ] {
                    parties.extend(teams.iter().map(|team| responsibility_party::Model {
                        responsibility_id: entry.id,
                        team_id: directory.teams[team],
                        role,
                    }));
                }
                let escalation = [
                    (
                        Some(entry.responsible_team_id),
                        None,
                        EscalationChannel::Ticket,
                        Some(30),
                    ),
                    (
                        None,
                        Some(
                            directory.people[if harbor { "harbor_admin" } else { "msp_admin" }].id,
                        ),
                        EscalationChannel::Phone,
                        Some(60),
                    ),
                    (
                        Some(directory.teams["vcio"]),
                        None,
                        EscalationChannel::Email,
                        None,
                    ),
                ];
                // The provider's standard service levels: urgent work around the clock, the
                // rest in the environment's business hours.
                targets.extend(
                    [
                        (Priority::Critical, 30, Some(240), SlaCalendar::Always),
                        (Priority::High, 60, Some(480), SlaCalendar::Always),
                        (
                            Priority::Medium,
                            240,
                            Some(1_440),
                            SlaCalendar::BusinessHours,
                        ),
                        (Priority::Low, 480, Some(2_400), SlaCalendar::BusinessHours),
                    ]
                    .into_iter()
                    .map(
                        |(priority, response, resolution, calendar)| sla_target::Model {
                            id: id(),
                            responsibility_id: entry.id,
                            priority,
                            response_minutes: response,
                            resolution_minutes: resolution,
                            calendar,
                        },
                    ),
                );
                steps.extend(escalation.into_iter().enumerate().map(
                    |(position, (team_id, person_id, channel, minutes))| escalation_step::Model {
                        id: id(),
                        responsibility_id: entry.id,
                        position: position as i32 + 1,
                        team_id,
                        person_id,
                        channel,
                        minutes_before_next: minutes,
                    },
                ));
                let mut approvers = vec![("msp", "msp_admin")];
                if harbor {
                    approvers.push(("harbor", "harbor_admin"));
                }
                approvals.extend(approvers.into_iter().map(|(org, person)| {
                    responsibility_approval::Model {
                        id: id(),
                        responsibility_id: entry.id,
                        organization_id: directory.organizations[org].id,
                        person_id: directory.people[person].id,
                        approved_at: self.now - Duration::days(270),
                        decision: entities::enums::ApprovalDecision::Agree,
                        revoked_at: None,
                    }
                }));
                matrix.insert((environment_key, function_key.to_owned()), entry.clone());
                entries.push(entry);
            }
        }
        // System-level overrides: the EHR vendor certifies patches, so Harbor's internal IT patches
        // the EHR servers itself, in the vendor's windows.
        for system in systems["harbor_prod"]
            .iter()
            .filter(|system| system.name.starts_with("HHP-EHR"))
        {
            let default = &matrix[&("harbor_prod", "patching".to_owned())];
            let entry = responsibility::Model {
                id: id(),
                system_id: Some(system.id),
                responsible_team_id: directory.teams["internal_it"],
                notes: Some(
                    "EHR vendor certifies each patch; applied in the vendor's window.".into(),
                ),
                ..default.clone()
            };
            approvals.extend(
                [("msp", "msp_admin"), ("harbor", "harbor_admin")]
                    .into_iter()
                    .map(|(org, person)| responsibility_approval::Model {
                        id: id(),
                        responsibility_id: entry.id,
                        organization_id: directory.organizations[org].id,
                        person_id: directory.people[person].id,
                        approved_at: self.now - Duration::days(200),
                        decision: entities::enums::ApprovalDecision::Agree,
                        revoked_at: None,
                    }),
            );
            entries.push(entry);
        }
        summary.responsibilities = insert_all(db, entries).await?;
        insert_all(db, parties).await?;
        insert_all(db, steps).await?;
        insert_all(db, targets).await?;
        insert_all(db, approvals).await?;
        Ok(matrix)
    }

    /// The planned transition of Cedar & Pine to co-managed, as `planTransition` leaves it and
    /// the people involved have edited it since: every entry in force on the day drafted as its
    /// successor, except security awareness training; the service desk moves to Cedar's office
    /// and is proposed (the provider approved, Cedar has not yet); line of business applications
    /// move to Cedar's office in a draft without an accountable team or escalation path.
    ///
    /// The change log holds what production records for it: the plan (`planTransition`'s entry),
    /// then the provider's admin proposing the service desk draft and approving it for the
    /// provider (`services::matrix::transition`'s entries).
    async fn write_cedar_transition(
        &mut self,
        txn: &DatabaseTransaction,
        directory: &Directory,
        environments: &HashMap<&'static str, environment::Model>,
        matrix: &HashMap<(&'static str, String), responsibility::Model>,
        functions: &[function::Model],
        summary: &mut DemoSummary,
    ) -> anyhow::Result<()> {
        let starts = self.cedar_transition_start();
        let planned_at = self.now - Duration::days(2);
        let proposed_at = self.now - Duration::days(1) - Duration::hours(3);
        let approved_at = self.now - Duration::days(1);
        let msp_admin = &directory.people["msp_admin"];
        let function_name = |id: Uuid| {
            functions
                .iter()
                .find(|function| function.id == id)
                .map(|function| function.name.clone())
                .unwrap_or_default()
        };
        let mut lifecycle = Vec::new();
        let current: Vec<&responsibility::Model> = matrix
            .iter()
            .filter(|((environment_key, function_key), _)| {
                *environment_key == "cedar_office" && function_key != "security_awareness_training"
            })
            .map(|(_, entry)| entry)
            .collect();
        let steps = EscalationStep::find()
            .filter(
                escalation_step::COLUMN
                    .responsibility_id
                    .is_in(current.iter().map(|entry| entry.id)),
            )
            .all(txn)
            .await?;
        let parties = ResponsibilityParty::find()
            .filter(
                responsibility_party::COLUMN
                    .responsibility_id
                    .is_in(current.iter().map(|entry| entry.id)),
            )
            .all(txn)
            .await?;
        let targets = SlaTarget::find()
            .filter(
                sla_target::COLUMN
                    .responsibility_id
                    .is_in(current.iter().map(|entry| entry.id)),
            )
            .all(txn)
            .await?;
        let function_key = |entry: &responsibility::Model| {
            matrix
                .iter()
                .find(|(_, found)| found.id == entry.id)
                .map(|((_, key), _)| key.clone())
                .unwrap_or_default()
        };
        let mut drafts = Vec::new();
        let mut new_steps = Vec::new();
        let mut new_targets = Vec::new();
        let mut new_parties = Vec::new();
        let mut approvals = Vec::new();
        for entry in current {
            let key = function_key(entry);
            let mut draft = responsibility::Model {
                id: id(),
                valid_from: starts,
                valid_to: None,
                status: ResponsibilityStatus::Draft,
                supersedes_id: Some(entry.id),
                created_by_id: Some(directory.people["msp_admin"].id),
                agreed_at: None,
                created_at: planned_at,
                updated_at: planned_at,
                ..entry.clone()
            };
            let mut keep_steps = true;
            match key.as_str() {
                "service_desk" => {
                    draft.responsible_team_id = directory.teams["office"];
                    draft.accountable_team_id = Some(directory.teams["office"]);
                    draft.notes = Some(
                        "Cedar's coordinator takes first-line requests; Northwind is tier 2."
                            .into(),
                    );
                    // Proposed, then approved by the provider; the co-managed engagement in
                    // force on the day needs Cedar's approval too, so it stays proposed.
                    draft.status = ResponsibilityStatus::Proposed;
                    let name = function_name(draft.function_id);
                    lifecycle.push(by(msp_admin, proposed_at).note(lifecycle_note(
                        &draft,
                        format!("Proposed matrix entry for {name}"),
                        Action::Propose,
                    )));
                    approvals.push(responsibility_approval::Model {
                        id: id(),
                        responsibility_id: draft.id,
                        organization_id: directory.organizations["msp"].id,
                        person_id: msp_admin.id,
                        approved_at,
                        decision: entities::enums::ApprovalDecision::Agree,
                        revoked_at: None,
                    });
                    draft.updated_at = approved_at;
                    lifecycle.push(by(msp_admin, approved_at).note(lifecycle_note(
                        &draft,
                        format!(
                            "{} approved matrix entry for {name}",
                            directory.organizations["msp"].name
                        ),
                        Action::Approve,
                    )));
                }
                "line_of_business_applications" => {
                    draft.responsible_team_id = directory.teams["office"];
                    draft.accountable_team_id = None;
                    draft.notes =
                        Some("Tax software moves in-house; who answers for it is open.".into());
                    keep_steps = false;
                }
                _ => {}
            }
            if keep_steps {
                new_steps.extend(
                    steps
                        .iter()
                        .filter(|step| step.responsibility_id == entry.id)
                        .map(|step| escalation_step::Model {
                            id: id(),
                            responsibility_id: draft.id,
                            ..step.clone()
                        }),
                );
            }
            new_targets.extend(
                targets
                    .iter()
                    .filter(|target| target.responsibility_id == entry.id)
                    .map(|target| sla_target::Model {
                        id: id(),
                        responsibility_id: draft.id,
                        ..target.clone()
                    }),
            );
            new_parties.extend(
                parties
                    .iter()
                    .filter(|party| party.responsibility_id == entry.id)
                    .map(|party| responsibility_party::Model {
                        responsibility_id: draft.id,
                        ..party.clone()
                    }),
            );
            drafts.push(draft);
        }
        drafts.sort_by_key(|draft| draft.id);
        let count = drafts.len();
        let environment = &environments["cedar_office"];
        let on = self.cedar_transition();
        let to = OperatingModel::CoManaged;
        let mut plan = by(msp_admin, planned_at);
        plan.reason = Some("Cedar hired an office IT coordinator".into());
        let planned = plan.note(ChangeNote {
            environment_id: environment.id,
            system_ids: Vec::new(),
            summary: format!(
                "Planned transition to {} on {on}; drafted {count} matrix entries",
                sea_orm::ActiveEnum::to_value(&to)
            ),
            details: json!({ "from": OperatingModel::FullyManaged, "to": to, "on": on.to_string(), "drafted": count }),
            category: ChangeCategory::Ownership,
        });
        insert_all(txn, drafts).await?;
        insert_all(txn, new_steps).await?;
        insert_all(txn, new_targets).await?;
        insert_all(txn, new_parties).await?;
        insert_all(txn, approvals).await?;
        summary.responsibilities += count;
        summary.change_log_entries +=
            insert_entries(txn, std::iter::once(planned).chain(lifecycle).collect()).await?;
        Ok(())
    }

    async fn write_runbooks(
        &mut self,
        db: &impl ConnectionTrait,
        directory: &Directory,
        environments: &HashMap<&'static str, environment::Model>,
        systems: &HashMap<&'static str, Vec<system::Model>>,
        functions: &[function::Model],
        summary: &mut DemoSummary,
    ) -> anyhow::Result<()> {
        let specs: [RunbookSpec; 8] = [
            (
                "harbor_prod",
                "Monthly patch cycle",
                "noc",
                90,
                20,
                3,
                "patching",
                "HHP-WS",
            ),
            (
                "harbor_prod",
                "EHR downtime procedure",
                "internal_it",
                180,
                40,
                3,
                "line_of_business_applications",
                "HHP-EHR",
            ),
            (
                "harbor_prod",
                "Backup restore test",
                "noc",
                90,
                120,
                2,
                "backup_recovery",
                "HHP-BDR",
            ),
            (
                "harbor_prod",
                "Ransomware first response",
                "soc",
                180,
                60,
                1,
                "incident_response",
                "HHP-DC",
            ),
            (
                "harbor_prod",
                "Joiners, movers and leavers",
                "internal_it",
                365,
                100,
                2,
                "identity_access",
                "Harbor Microsoft",
            ),
            (
                "harbor_riverside",
                "Site-to-site VPN outage",
                "noc",
                180,
                30,
                1,
                "network",
                "HRC-FW",
            ),
            (
                "cedar_office",
                "Tax season readiness",
                "noc",
                365,
                300,
                2,
                "endpoint_management",
                "CP-SRV",
            ),
            (
                "cedar_office",
                "Offboarding a staff member",
                "service_desk",
                180,
                210,
                1,
                "identity_access",
                "Cedar Microsoft",
            ),
        ];
        let mut runbooks = Vec::new();
        let mut revisions = Vec::new();
        let mut covered_functions = Vec::new();
        let mut covered_systems = Vec::new();
        for (
            environment_key,
            title,
            owner,
            interval,
            reviewed_days_ago,
            revision_count,
            function_key,
            system_prefix,
        ) in specs
        {
            let runbook = runbook::Model {
                id: id(),
                environment_id: environments[environment_key].id,
                title: title.to_owned(),
                owner_team_id: directory.teams[owner],
                review_interval_days: interval,
                last_reviewed_at: Some(self.now - Duration::days(reviewed_days_ago)),
                last_reviewed_by_id: Some(directory.people["msp_admin"].id),
                archived_at: None,
                created_at: self.now
                    - Duration::days(reviewed_days_ago + 30 * revision_count as i64),
                updated_at: self.now - Duration::days(reviewed_days_ago),
            };
            for number in 1..=revision_count {
                revisions.push(runbook_revision::Model {
                    id: id(),
                    runbook_id: runbook.id,
                    number: number as i32,
                    body: format!(
                        "# {title}\n\n_Revision {number}._\n\n## When\n\nRun this when the trigger in the title occurs.\n\n\
                         ## Steps\n\n1. Open a ticket and link it here.\n2. Notify the teams the matrix lists as informed.\n\
                         3. Follow the checklist below and record each change in the change log.\n\n\
                         ## Checklist\n\n- [ ] Confirm scope\n- [ ] Execute\n- [ ] Verify\n- [ ] Close the ticket\n"
                    ),
                    change_summary: Some(if number == 1 { "First version".into() } else { format!("Revised after review {number}") }),
                    author_id: Some(directory.people[if owner == "internal_it" { "harbor_tech" } else { "msp_noc" }].id),
                    created_at: runbook.created_at + Duration::days(30 * (number as i64 - 1)),
                });
            }
            if let Some(function) = functions
                .iter()
                .find(|function| function.key == function_key)
            {
                covered_functions.push(runbook_function::Model {
                    runbook_id: runbook.id,
                    function_id: function.id,
                });
            }
            covered_systems.extend(
                systems[environment_key]
                    .iter()
                    .filter(|system| system.name.starts_with(system_prefix))
                    .map(|system| runbook_system::Model {
                        runbook_id: runbook.id,
                        system_id: system.id,
                    }),
            );
            runbooks.push(runbook);
        }
        summary.runbooks = insert_all(db, runbooks).await?;
        insert_all(db, revisions).await?;
        insert_all(db, covered_functions).await?;
        insert_all(db, covered_systems).await?;
        Ok(())
    }

    async fn write_integrations(
        &mut self,
        db: &impl ConnectionTrait,
        directory: &Directory,
        environments: &HashMap<&'static str, environment::Model>,
        systems: &HashMap<&'static str, Vec<system::Model>>,
    ) -> anyhow::Result<HashMap<&'static str, integration::Model>> {
        let integration = |name: &str, kind, base_url: &str, settings| integration::Model {
            id: id(),
            organization_id: directory.organizations["msp"].id,
            name: name.to_owned(),
            kind,
            base_url: base_url.to_owned(),
            // The demo has no vendor to talk to: no credentials, no schedule.
            credentials_ciphertext: None,
            settings,
            enabled: false,
            sync_interval_seconds: None,
            lease_owner: None,
            lease_expires_at: None,
            created_at: self.now - Duration::days(300),
            updated_at: self.now - Duration::days(300),
            deleted_at: None,
        };
        let integrations = HashMap::from([
            (
                "psa",
                integration(
                    "Northwind ConnectWise",
                    IntegrationKind::ConnectwiseManage,
                    "https://api-na.myconnectwise.net",
                    json!({ "company_id": "northwind", "codebase": "v2025_1/" }),
                ),
            ),
            (
                "rmm",
                integration(
                    "Northwind NinjaOne",
                    IntegrationKind::Ninjaone,
                    "https://app.ninjarmm.com",
                    json!({ "client_id": "demo-client" }),
                ),
            ),
        ]);
        insert_all(db, integrations.values().cloned().collect()).await?;

        let mut mappings = Vec::new();
        for (number, environment_key) in ["harbor_prod", "harbor_riverside", "cedar_office"]
            .into_iter()
            .enumerate()
        {
            for (kind, company) in [
                ("psa", format!("{}", 250 + number)),
                ("rmm", format!("{}", 10 + number)),
            ] {
                mappings.push(integration_mapping::Model {
                    id: id(),
                    integration_id: integrations[kind].id,
                    external_company_id: company,
                    external_company_name: Some(environments[environment_key].name.clone()),
                    environment_id: environments[environment_key].id,
                    created_at: self.now - Duration::days(300),
                    updated_at: self.now - Duration::days(300),
                });
            }
        }
        insert_all(db, mappings).await?;

        let mut links = Vec::new();
        for (number, system) in systems
            .values()
            .flatten()
            .filter(|system| system.hostname.is_some())
            .enumerate()
        {
            links.push(system_link::Model {
                id: id(),
                system_id: system.id,
                // Set for every link at the end of the load, from the system's environment.
                organization_id: None,
                source: "NINJAONE".into(),
                integration_id: Some(integrations["rmm"].id),
                resource: "device".into(),
                external_id: format!("{}", 1000 + number),
                external_url: Some(format!(
                    "https://app.ninjarmm.com/#/deviceDashboard/{}/overview",
                    1000 + number
                )),
                created_at: self.now - Duration::days(290),
                last_seen_at: self.ago(0, 1),
            });
            if matches!(
                system.kind,
                SystemKind::Server | SystemKind::VirtualMachine | SystemKind::Firewall
            ) {
                links.push(system_link::Model {
                    id: id(),
                    system_id: system.id,
                    organization_id: None,
                    source: "CONNECTWISE_MANAGE".into(),
                    integration_id: Some(integrations["psa"].id),
                    resource: "configuration".into(),
                    external_id: format!("{}", 5000 + number),
                    external_url: None,
                    created_at: self.now - Duration::days(290),
                    last_seen_at: self.ago(0, 1),
                });
            }
        }
        let owners: HashMap<Uuid, Uuid> = environments
            .values()
            .map(|environment| (environment.id, environment.organization_id))
            .collect();
        let system_owners: HashMap<Uuid, Uuid> = systems
            .values()
            .flatten()
            .filter_map(|system| Some((system.id, *owners.get(&system.environment_id)?)))
            .collect();
        for link in &mut links {
            link.organization_id = system_owners.get(&link.system_id).copied();
        }
        insert_all(db, links).await?;

        let runs: Vec<sync_run::Model> = (0..6)
            .map(|day| {
                let started_at = self.now - Duration::days(day) - Duration::hours(2);
                sync_run::Model {
                    id: id(),
                    integration_id: integrations[if day % 2 == 0 { "psa" } else { "rmm" }].id,
                    trigger: SyncTrigger::Schedule,
                    full: day == 5,
                    status: if day == 3 {
                        SyncStatus::Partial
                    } else {
                        SyncStatus::Succeeded
                    },
                    started_at,
                    finished_at: Some(started_at + Duration::seconds(42)),
                    records_fetched: 120,
                    records_created: 4,
                    records_updated: 11,
                    records_unchanged: 105 - i32::from(day == 3),
                    records_failed: i32::from(day == 3),
                    records_skipped: 0,
                    warnings: None,
                    error: None,
                }
            })
            .collect();
        insert_all(db, runs).await?;
        Ok(integrations)
    }

    /// Tickets: most synced from the PSA (the production constructor of a first-seen external
    /// ticket), every fifth opened by its requester in Tandem (as `createTicket` opens one). Each
    /// is routed once, by the production router, at its creation time.
    #[allow(clippy::too_many_arguments)]
    async fn write_tickets(
        &mut self,
        txn: &DatabaseTransaction,
        directory: &Directory,
        environments: &HashMap<&'static str, environment::Model>,
        systems: &HashMap<&'static str, Vec<system::Model>>,
        router: &Router,
        integrations: &HashMap<&'static str, integration::Model>,
        summary: &mut DemoSummary,
    ) -> anyhow::Result<Vec<ticket::Model>> {
        let subjects: [(&str, &str, Priority); 12] = [
            (
                "User cannot sign in to the EHR",
                "line_of_business_applications",
                Priority::High,
            ),
            (
                "Printer offline at front desk",
                "service_desk",
                Priority::Low,
            ),
            (
                "New hire laptop setup",
                "endpoint_management",
                Priority::Medium,
            ),
            (
                "Suspicious sign-in from abroad",
                "identity_access",
                Priority::Critical,
            ),
            (
                "Backup job failed overnight",
                "backup_recovery",
                Priority::High,
            ),
            ("Patch Tuesday deployment", "patching", Priority::Medium),
            ("VPN drops every afternoon", "network", Priority::High),
            (
                "Phishing email reported",
                "email_security",
                Priority::Medium,
            ),
            (
                "Disk space low on file server",
                "endpoint_management",
                Priority::Medium,
            ),
            (
                "Grant shared mailbox access",
                "identity_access",
                Priority::Low,
            ),
            ("EDR quarantined a file", "edr", Priority::High),
            (
                "Quarterly access review",
                "compliance_documentation",
                Priority::Low,
            ),
        ];
        let statuses = [
            (TicketStatus::New, "New"),
            (TicketStatus::InProgress, "In Progress"),
            (TicketStatus::Waiting, "Waiting Customer"),
            (TicketStatus::Resolved, "Resolved"),
            (TicketStatus::Closed, "Closed"),
        ];
        let mut tickets = Vec::new();
        let mut notes = Vec::new();
        // Which organization each team belongs to: a note by the assigned side is a response.
        let team_organizations: HashMap<Uuid, Uuid> = Team::find()
            .all(txn)
            .await?
            .into_iter()
            .map(|found| (found.id, found.organization_id))
            .collect();
        let mut entries = Vec::new();
        for number in 0..60_usize {
            let environment_key = [
                "harbor_prod",
                "harbor_prod",
                "harbor_riverside",
                "cedar_office",
            ][number % 4];
            let environment = &environments[environment_key];
            let (title, function_key, priority) = subjects[number % subjects.len()];
            let (status, external_status) = statuses[number % statuses.len()];
            let system =
                &systems[environment_key][self.rng.usize(..systems[environment_key].len())];
            let function_id = router
                .function_id(environment.organization_id, function_key)
                .with_context(|| format!("no function `{function_key}`"))?;
            let created_at = self.ago(1, 90);
            let updated_at =
                created_at + Duration::hours(self.rng.i64(1..72)).min(self.now - created_at);
            // The client's own person asks: Harbor's technician, Cedar's office manager.
            let requester = &directory.people[client_person(environment_key)];
            // Routing happens once, at the ticket's creation time, as production routes it.
            let route = router.route(
                environment.id,
                function_id,
                Some(system.id),
                created_at,
                priority,
            );
            let title = format!("{title} ({})", system.name);
            let description = Some(format!(
                "Reported for {}. See notes for the timeline.",
                system.name
            ));
            let synced = number % 5 != 0;
            let mut ticket = if synced {
                let external_id = 48_100 + number;
                let facts = TicketFacts {
                    environment_id: environment.id,
                    system_id: Some(system.id),
                    function_id: Some(function_id),
                    title,
                    description,
                    status,
                    priority,
                    external_status: Some(external_status.to_owned()),
                    external_priority: Some(format!(
                        "Priority {} - {:?}",
                        priority as u8 + 1,
                        priority
                    )),
                    requester: Some(requester.display_name.clone()),
                    closed_at: None,
                };
                let key = ExternalKey {
                    organization_id: environment.organization_id,
                    source: "CONNECTWISE_MANAGE".to_owned(),
                    external_id: external_id.to_string(),
                    integration_id: Some(integrations["psa"].id),
                    external_url: Some(format!(
                        "https://na.myconnectwise.net/v4_6_release/services/system_io/Service/fv_sr100_request.rails?service_recid={external_id}"
                    )),
                };
                // First seen by the PSA's sync as it stood when last updated.
                external::new_ticket(facts, key, Some(route), created_at, updated_at)
            } else {
                // Every fifth ticket is opened in Tandem (`number % 5 == 0`, so its status is
                // `NEW`, as `createTicket` leaves it).
                let (opened, entry) = opened_ticket(
                    requester,
                    OpenedTicket {
                        environment_id: environment.id,
                        system_id: system.id,
                        function_id,
                        title,
                        description,
                        priority,
                    },
                    route,
                    created_at,
                );
                entries.push(entry);
                opened
            };
            let authors = ["msp_tech", client_person(environment_key), "msp_noc"];
            for (note_number, author) in authors.into_iter().take(1 + number % 3).enumerate() {
                let created_at = created_at + Duration::minutes(20 * (note_number as i64 + 1));
                // `addTicketNote`: the actor writes it; a note touches the ticket, and the first
                // by the assigned side is its response.
                ticket.updated_at = ticket.updated_at.max(created_at);
                let assigned_side = ticket
                    .assigned_team_id
                    .and_then(|team| team_organizations.get(&team))
                    .is_some_and(|organization| {
                        *organization == directory.people[author].organization_id
                    });
                if assigned_side && ticket.responded_at.is_none() {
                    ticket.responded_at = Some(created_at);
                    ticket.next_escalation_at = None;
                }
                notes.push(ticket_note::Model {
                    id: id(),
                    ticket_id: ticket.id,
                    author_id: Some(directory.people[author].id),
                    author_name: None,
                    body: [
                        "Acknowledged, looking into it.",
                        "Checked the device; details in the change log.",
                        "Confirmed fixed with the user.",
                    ][note_number]
                        .to_owned(),
                    internal: note_number == 1,
                    created_at,
                    external_source: None,
                    external_id: None,
                    external_url: None,
                });
            }
            tickets.push(ticket);
        }
        summary.tickets = insert_all(txn, tickets.clone()).await?;
        insert_all(txn, notes).await?;
        summary.change_log_entries += insert_entries(txn, entries).await?;
        Ok(tickets)
    }

    /// RMM alerts, each first seen by the RMM's sync (the production constructor, routed at the
    /// instant it was raised). A third stay open; a third were acknowledged by a person of the
    /// team they went to (as `acknowledgeAlert` does, with its change log entry); a third were
    /// acknowledged and then cleared by the RMM.
    #[allow(clippy::too_many_arguments)]
    async fn write_alerts(
        &mut self,
        txn: &DatabaseTransaction,
        directory: &Directory,
        environments: &HashMap<&'static str, environment::Model>,
        systems: &HashMap<&'static str, Vec<system::Model>>,
        router: &Router,
        integrations: &HashMap<&'static str, integration::Model>,
        summary: &mut DemoSummary,
    ) -> anyhow::Result<()> {
        let kinds: [(&str, &str, Priority, &str); 5] = [
            (
                // Spelled out: the change log's text filter is tested to find no `%` in the demo.
                "Disk C: below 10 percent free",
                "endpoint_management",
                Priority::Medium,
                "MODERATE",
            ),
            (
                "Device offline for 15 minutes",
                "network",
                Priority::High,
                "MAJOR",
            ),
            (
                "Threat detected and quarantined",
                "edr",
                Priority::Critical,
                "CRITICAL",
            ),
            (
                "Backup job failed",
                "backup_recovery",
                Priority::High,
                "MAJOR",
            ),
            (
                "Pending reboot for 7 days",
                "patching",
                Priority::Low,
                "MINOR",
            ),
        ];
        let mut alerts = Vec::new();
        let mut entries = Vec::new();
        for number in 0..18_usize {
            let environment_key = ["harbor_prod", "harbor_riverside", "cedar_office"][number % 3];
            let environment = &environments[environment_key];
            let (message, function_key, severity, external_severity) = kinds[number % kinds.len()];
            let system =
                &systems[environment_key][self.rng.usize(..systems[environment_key].len())];
            let function_id = router
                .function_id(environment.organization_id, function_key)
                .with_context(|| format!("no function `{function_key}`"))?;
            let status = [
                AlertStatus::Open,
                AlertStatus::Acknowledged,
                AlertStatus::Resolved,
            ][number % 3];
            let raised_at = self.ago(0, 30);
            let facts = AlertFacts {
                message: format!("{message} on {}", system.name),
                severity,
                external_severity: Some(external_severity.to_owned()),
                resolved: false,
                resolved_at: None,
            };
            let key = ExternalKey {
                organization_id: environment.organization_id,
                source: "NINJAONE".to_owned(),
                external_id: format!("alert-{}", 90_000 + number),
                integration_id: Some(integrations["rmm"].id),
                external_url: None,
            };
            // Routed once, at the instant it was raised, as production routes it.
            let route = router.route(
                environment.id,
                function_id,
                Some(system.id),
                raised_at,
                severity,
            );
            // The RMM's sync sees it as it is raised.
            let mut alert = external::new_alert(
                facts.clone(),
                key,
                (environment.id, Some(system.id)),
                Some(route),
                raised_at,
                raised_at,
            );
            if status != AlertStatus::Open {
                let responder = alert
                    .assigned_team_id
                    .and_then(|team| directory.responders.get(&team))
                    .copied()
                    .unwrap_or("msp_noc");
                let (acknowledged, entry) = acknowledged_alert(
                    &directory.people[responder],
                    alert,
                    raised_at + Duration::minutes(12),
                );
                alert = acknowledged;
                entries.push(entry);
            }
            if status == AlertStatus::Resolved {
                // The RMM reports it cleared; a sync writes that without a change log entry.
                let cleared = AlertFacts {
                    resolved: true,
                    ..facts
                };
                if let Some(model) =
                    external::alert_update(&alert, &cleared, raised_at + Duration::hours(2))
                {
                    alert = model.try_into_model()?;
                }
            }
            alerts.push(alert);
        }
        summary.alerts = insert_all(txn, alerts).await?;
        summary.change_log_entries += insert_entries(txn, entries).await?;
        Ok(())
    }

    async fn write_change_log(
        &mut self,
        txn: &DatabaseTransaction,
        directory: &Directory,
        environments: &HashMap<&'static str, environment::Model>,
        systems: &HashMap<&'static str, Vec<system::Model>>,
        tickets: &[ticket::Model],
        integrations: &HashMap<&'static str, integration::Model>,
        summary: &mut DemoSummary,
    ) -> anyhow::Result<()> {
        let templates: [(ChangeCategory, &str, &str); 12] = [
            (
                ChangeCategory::Patch,
                "Installed cumulative update",
                "Monthly patch cycle",
            ),
            (
                ChangeCategory::Configuration,
                "Changed GPO: screen lock after 10 minutes",
                "HIPAA workstation security",
            ),
            (
                ChangeCategory::Access,
                "Added user to EHR-Clinicians group",
                "New hire onboarding",
            ),
            (
                ChangeCategory::Access,
                "Disabled account of departed employee",
                "Offboarding",
            ),
            (
                ChangeCategory::Network,
                "Opened firewall rule for lab interface",
                "Vendor request",
            ),
            (
                ChangeCategory::Backup,
                "Extended backup retention to 90 days",
                "Cyber insurance requirement",
            ),
            (
                ChangeCategory::Security,
                "Enabled tamper protection in EDR policy",
                "Hardening",
            ),
            (
                ChangeCategory::Deployment,
                "Deployed Adobe Reader 24.x",
                "User request",
            ),
            (
                ChangeCategory::Hardware,
                "Replaced failing SSD",
                "SMART warnings",
            ),
            (
                ChangeCategory::Maintenance,
                "Rebooted after pending updates",
                "Pending reboot alert",
            ),
            (
                ChangeCategory::Inventory,
                "Operating system updated (seen by RMM)",
                "Observed by sync",
            ),
            (
                ChangeCategory::Documentation,
                "Updated runbook after review",
                "Scheduled review",
            ),
        ];
        let keys = [
            "harbor_prod",
            "harbor_prod",
            "harbor_riverside",
            "cedar_office",
        ];
        let mut entries: Vec<Recorded> = Vec::new();
        for number in 0..240_usize {
            let environment_key = keys[number % keys.len()];
            let (category, summary_text, reason) = templates[self.rng.usize(..templates.len())];
            let source = match number % 10 {
                0..=2 => ChangeSource::Manual,
                3 | 4 => ChangeSource::Api,
                5 | 6 => ChangeSource::Psa,
                7 | 8 => ChangeSource::Rmm,
                _ => ChangeSource::System,
            };
            let system =
                &systems[environment_key][self.rng.usize(..systems[environment_key].len())];
            let environment = &environments[environment_key];
            let ticket = (number % 3 == 0)
                .then(|| {
                    tickets
                        .iter()
                        .find(|ticket| ticket.environment_id == environment.id)
                })
                .flatten();
            let occurred_at = self.ago(0, 90);
            let details =
                json!({ "system": system.name, "category": category, "sequence": number });
            let recorded = match source {
                ChangeSource::Manual | ChangeSource::Api => {
                    let key = if environment_key.starts_with("harbor") && number % 2 == 0 {
                        "harbor_tech"
                    } else {
                        "msp_noc"
                    };
                    // `recordChange` by that person, a minute after the change.
                    let mut write = by(&directory.people[key], occurred_at + Duration::minutes(1));
                    write.reason = Some(reason.to_owned());
                    write.ticket_id = ticket.map(|ticket| ticket.id);
                    let mut entry =
                        write.entry(environment.id, format!("{summary_text} on {}", system.name));
                    entry.details = details;
                    entry.category = category;
                    entry.occurred_at = occurred_at;
                    // Production's writers record `API`; `MANUAL` (a person in a client, by
                    // hand) is kept so the demo shows every source the schema has.
                    entry.source = source;
                    (entry, vec![system.id])
                }
                ChangeSource::Psa | ChangeSource::Rmm => {
                    let integration = &integrations[if source == ChangeSource::Psa {
                        "psa"
                    } else {
                        "rmm"
                    }];
                    // Seen by the vendor's sync a quarter of an hour later; the vendor names no
                    // actor and no ticket.
                    observed_change(
                        integration,
                        if source == ChangeSource::Psa {
                            "CONNECTWISE_MANAGE"
                        } else {
                            "NINJAONE"
                        },
                        environment,
                        Some(system),
                        VendorChange {
                            external_id: format!("activity-{number}"),
                            summary: summary_text.to_owned(),
                            category,
                            occurred_at,
                            details,
                            actor: None,
                        },
                        occurred_at + Duration::minutes(15),
                    )
                }
                // No production writer records as Tandem itself (`SYSTEM`); these stay as the
                // demo always wrote them.
                _ => (
                    change_log_entry::Model {
                        id: id(),
                        environment_id: environment.id,
                        summary: format!("{summary_text} on {}", system.name),
                        details,
                        reason: Some(reason.to_owned()),
                        actor_id: None,
                        actor_name: "Tandem".to_owned(),
                        source,
                        category,
                        occurred_at,
                        recorded_at: occurred_at + Duration::minutes(1),
                        ticket_id: ticket.map(|ticket| ticket.id),
                        corrects_id: None,
                        change_set_id: Some(id()),
                        integration_id: None,
                        organization_id: None,
                        principal: entities::enums::Principal::System,
                        recorded_by_id: None,
                        external_source: None,
                        external_id: None,
                        external_url: None,
                    },
                    vec![system.id],
                ),
            };
            entries.push(recorded);
        }
        // Two corrections (`correctChange` by the person who recorded the original, three hours
        // later): entries are never edited, a new entry points at the one it corrects.
        let people: HashMap<Uuid, &person::Model> = directory
            .people
            .values()
            .map(|person| (person.id, person))
            .collect();
        let corrections: Vec<Recorded> = entries
            .iter()
            .filter(|(entry, _)| entry.source == ChangeSource::Manual)
            .take(2)
            .filter_map(|(wrong, systems)| {
                let person = people.get(&wrong.actor_id?)?;
                let mut write = by(person, wrong.recorded_at + Duration::hours(3));
                write.reason = Some("Recorded against the wrong system".to_owned());
                write.ticket_id = wrong.ticket_id;
                let mut entry =
                    write.entry(wrong.environment_id, format!("Correction: {}", wrong.summary));
                entry.details = json!({ "corrected_field": "summary", "note": "the first entry named the wrong system" });
                entry.category = wrong.category;
                entry.occurred_at = wrong.occurred_at;
                entry.corrects_id = Some(wrong.id);
                // Without corrected systems a correction keeps the original's.
                Some((entry, systems.clone()))
            })
            .collect();
        entries.sort_by_key(|(entry, _)| entry.occurred_at);
        summary.change_log_entries += insert_entries(txn, entries).await?;
        summary.change_log_entries += insert_entries(txn, corrections).await?;
        Ok(())
    }
}

/// The person of a client environment's own IT who asks for and answers tickets there.
fn client_person(environment_key: &str) -> &'static str {
    if environment_key == "cedar_office" {
        "cedar_admin"
    } else {
        "harbor_tech"
    }
}

/// A change log entry with the systems it is about, as [`insert_entry`] writes them.
type Recorded = (change_log_entry::Model, Vec<Uuid>);

/// Writes `entries` with their systems, as every service does ([`insert_entry`]).
async fn insert_entries(txn: &DatabaseTransaction, entries: Vec<Recorded>) -> Result<usize, DbErr> {
    let count = entries.len();
    for (entry, system_ids) in entries {
        insert_entry(txn, entry, &system_ids).await?;
    }
    Ok(count)
}

impl Demo {
    /// Compliance evidence: every obligation of every environment's frameworks has signed
    /// evidence for its current period, produced by a person of the responsible team (or its
    /// organization's admin) and signed off by the admin of the accountable team's organization,
    /// except one. Harbor Production's yearly HIPAA risk analysis, owned by Harbor's Compliance
    /// Office, has none: the environment's first year ended over a month ago, so it shows
    /// overdue. Its backup restore test is produced by the provider's NOC with its report
    /// attached and signed off by Harbor's admin (Internal IT is accountable). Rows and change
    /// log entries are those `services::compliance` writes.
    async fn write_evidence(
        &mut self,
        txn: &DatabaseTransaction,
        directory: &Directory,
        environments: &HashMap<&'static str, environment::Model>,
        matrix: &HashMap<(&'static str, String), responsibility::Model>,
        summary: &mut DemoSummary,
    ) -> anyhow::Result<()> {
        use crate::compliance::{add_months, cadence_months, frameworks_of};
        use crate::services::compliance::sha256_hex;
        let catalog = compliance_obligation::Entity::find().all(txn).await?;
        let team_organization: HashMap<Uuid, Uuid> = team::Entity::find()
            .all(txn)
            .await?
            .into_iter()
            .map(|found| (found.id, found.organization_id))
            .collect();
        let admin_of: HashMap<Uuid, &person::Model> = ["msp_admin", "harbor_admin", "cedar_admin"]
            .into_iter()
            .map(|key| {
                let admin = &directory.people[key];
                (admin.organization_id, admin)
            })
            .collect();
        let mut entries = Vec::new();
        for environment_key in ["harbor_prod", "harbor_riverside", "cedar_office"] {
            let environment = &environments[environment_key];
            let frameworks = frameworks_of(environment);
            let mut obligations: Vec<&compliance_obligation::Model> = catalog
                .iter()
                .filter(|found| frameworks.contains(&found.framework))
                .collect();
            obligations.sort_by(|one, other| one.key.cmp(&other.key));
            for obligation in obligations {
                let restore_test = environment_key == "harbor_prod"
                    && obligation.key == "hipaa.backup_restore_test";
                if environment_key == "harbor_prod" && obligation.key == "hipaa.risk_analysis" {
                    continue;
                }
                let entry = &matrix[&(environment_key, obligation.function_key.clone())];
                let accountable = entry
                    .accountable_team_id
                    .context("every demo entry has an accountable team")?;
                let signer = admin_of[&team_organization[&accountable]];
                let recorder = if restore_test {
                    &directory.people["msp_noc"]
                } else {
                    match directory.responders.get(&entry.responsible_team_id) {
                        Some(key) => &directory.people[key],
                        None => admin_of[&team_organization[&entry.responsible_team_id]],
                    }
                };
                // The current period began a third of a cadence ago (ten days a month).
                let months = cadence_months(obligation.cadence);
                let days = i64::from(months) * 10;
                let period_start = precise(self.now - Duration::days(days));
                let recorded_at = precise(self.now - Duration::days(days / 2));
                let signed_at = recorded_at + Duration::days(1);
                let notes = if restore_test {
                    "Restored the EHR database and the file share from last night's backup to the isolated test host; checksums matched, restore took 42 minutes.".to_owned()
                } else {
                    format!("{}: done and reviewed for the period.", obligation.title)
                };
                let record = evidence_record::Model {
                    id: id(),
                    environment_id: environment.id,
                    obligation_id: obligation.id,
                    period_start,
                    period_end: add_months(period_start, months),
                    result: EvidenceResult::Passed,
                    notes: Some(notes),
                    link: None,
                    link_sha256: None,
                    supersedes_id: None,
                    recorded_by_id: Some(recorder.id),
                    recorded_at,
                }
                .into_active_model()
                .insert(txn)
                .await?;
                if restore_test {
                    let report = b"# Backup restore test\n\n- EHR database: restored, checksums match\n- File share: restored, 1,204 files verified\n- Duration: 42 minutes\n";
                    evidence_file::Model {
                        evidence_id: record.id,
                        content_type: "text/markdown".to_owned(),
                        size_bytes: i64::try_from(report.len())?,
                        sha256: sha256_hex(report),
                        content: report.to_vec(),
                        uploaded_by_id: Some(recorder.id),
                        uploaded_at: recorded_at,
                    }
                    .into_active_model()
                    .insert(txn)
                    .await?;
                }
                evidence_signoff::Model {
                    evidence_id: record.id,
                    signed_by_id: signer.id,
                    organization_id: signer.organization_id,
                    accountable_team_id: accountable,
                    responsibility_id: entry.id,
                    signed_at,
                }
                .into_active_model()
                .insert(txn)
                .await?;
                let note = |summary: String, details: Value| ChangeNote {
                    environment_id: environment.id,
                    system_ids: Vec::new(),
                    summary,
                    details,
                    category: ChangeCategory::Documentation,
                };
                entries.push(by(recorder, recorded_at).note(note(
                    format!(
                        "Recorded evidence for {} ({}): PASSED",
                        obligation.title, obligation.key
                    ),
                    json!({ "evidence": record.id, "obligation": obligation.key, "result": "PASSED" }),
                )));
                entries.push(by(signer, signed_at).note(note(
                    format!(
                        "Signed off evidence for {} ({})",
                        obligation.title, obligation.key
                    ),
                    json!({ "evidence": record.id, "obligation": obligation.key, "accountableTeam": accountable, "responsibility": entry.id }),
                )));
            }
        }
        summary.change_log_entries += insert_entries(txn, entries).await?;
        Ok(())
    }
}

/// How production attributes what `person` writes through the API at `at`, for history the
/// demo writes in the past.
fn by(person: &person::Model, at: DateTime<Utc>) -> Attribution<'_> {
    Attribution {
        person,
        integration_id: None,
        source: ChangeSource::Api,
        now: precise(at),
        change_set_id: id(),
        reason: None,
        ticket_id: None,
    }
}

/// What a PSA or an RMM reports about a change: the sync engine's change record, its company
/// and device already mapped to an environment and a system.
struct VendorChange {
    external_id: String,
    summary: String,
    category: ChangeCategory,
    occurred_at: DateTime<Utc>,
    details: Value,
    actor: Option<String>,
}

/// `change` as a sync run of `integration` (its records keyed by `source`) at `now` records it:
/// `RunContext::change_entry`, then what `PageWriter::changes` adds (the system's name in the
/// summary, the vendor's actor, the tenant, the external key) and `PageWriter::flush_entries`
/// (the page's change set), all in `sync::store`; the entry itself is built by the engine's own
/// `services::external::observed_entry`.
fn observed_change(
    integration: &integration::Model,
    source: &str,
    environment: &environment::Model,
    system: Option<&system::Model>,
    change: VendorChange,
    now: DateTime<Utc>,
) -> Recorded {
    let summary = match system {
        Some(found) if !change.summary.contains(&found.name) => {
            format!("{} on {}", change.summary, found.name)
        }
        _ => change.summary,
    };
    let mut entry = external::observed_entry(
        integration,
        environment.id,
        summary,
        change.category,
        change.occurred_at,
        change.details,
        now,
    );
    // `PageWriter::changes`: a free-text actor only when the vendor names one.
    if let Some(actor) = change.actor {
        entry.actor_name = actor;
    }
    entry.organization_id = Some(environment.organization_id);
    entry.external_source = Some(source.to_owned());
    entry.external_id = Some(change.external_id);
    // `PageWriter::flush_entries`: the page's change set (a page of one here).
    entry.change_set_id = Some(id());
    (entry, system.map(|found| found.id).into_iter().collect())
}

/// A ticket `createTicket` opens without a team: its environment, system, function, text and
/// priority.
struct OpenedTicket {
    environment_id: Uuid,
    system_id: Uuid,
    function_id: Uuid,
    title: String,
    description: Option<String>,
    priority: Priority,
}

/// The ticket `requester` opens at `created_at`, routed by `route` (the matrix's decision then),
/// and its change log entry: the rows `services::work::create_ticket` writes, mirrored because
/// that service stamps the wall clock and the demo writes history.
fn opened_ticket(
    requester: &person::Model,
    input: OpenedTicket,
    route: Route,
    created_at: DateTime<Utc>,
) -> (ticket::Model, Recorded) {
    let created_at = precise(created_at);
    let created = ticket::Model {
        id: id(),
        organization_id: None,
        environment_id: input.environment_id,
        system_id: Some(input.system_id),
        function_id: Some(input.function_id),
        integration_id: None,
        title: input.title,
        description: input.description,
        status: TicketStatus::New,
        priority: input.priority,
        external_status: None,
        external_priority: None,
        requester: Some(requester.display_name.clone()),
        assigned_team_id: route.team_id,
        assigned_person_id: None,
        routed_by_id: route.responsibility_id,
        routing_reason: Some(route.reason),
        response_due_at: route.plan.due.response_due_at,
        resolution_due_at: route.plan.due.resolution_due_at,
        sla_calendar: route.plan.due.calendar,
        escalation_level: 0,
        next_escalation_at: route.plan.next_escalation_at,
        responded_at: None,
        created_at,
        updated_at: created_at,
        resolved_at: None,
        closed_at: None,
        external_source: None,
        external_id: None,
        external_url: None,
    };
    let mut write = by(requester, created_at);
    write.ticket_id = Some(created.id);
    let entry = write.note(ChangeNote {
        environment_id: created.environment_id,
        system_ids: created.system_id.into_iter().collect(),
        summary: format!("Opened ticket: {}", created.title),
        details: json!({ "ticket": {
            "title": created.title,
            "priority": created.priority,
            "assigned_team_id": created.assigned_team_id,
            "routing_reason": created.routing_reason,
        } }),
        category: ChangeCategory::Incident,
    });
    (created, entry)
}

/// `alert` as `person` acknowledges it at `at`, and the change log entry of that: what
/// `services::work::acknowledge_alert` writes, mirrored because it stamps the wall clock.
fn acknowledged_alert(
    person: &person::Model,
    alert: alert::Model,
    at: DateTime<Utc>,
) -> (alert::Model, Recorded) {
    let mut write = by(person, at);
    write.ticket_id = alert.ticket_id;
    let previous = alert.status;
    let mut updated = alert;
    updated.status = AlertStatus::Acknowledged;
    updated.next_escalation_at = None;
    if updated.acknowledged_at.is_none() {
        updated.acknowledged_at = Some(write.now);
        updated.acknowledged_by_id = Some(person.id);
    }
    updated.updated_at = write.now;
    let entry = write.note(ChangeNote {
        environment_id: updated.environment_id,
        system_ids: updated.system_id.into_iter().collect(),
        summary: format!("Acknowledged alert: {}", updated.message),
        details: json!({ "alert": { "status": { "from": previous, "to": updated.status } } }),
        category: ChangeCategory::Incident,
    });
    (updated, entry)
}
