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

/// How a provider serves a client during an engagement.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::OperatingModel")]
pub enum OperatingModel {
    /// The provider runs the client's IT alone.
    FullyManaged,
    /// The client's internal IT and the provider share the work.
    CoManaged,
}

/// What a person's tokens may do.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::Role")]
pub enum Role {
    /// Manages organizations, teams, the matrix and integrations, and writes everything.
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

/// What kind of thing a system is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::SystemKind")]
pub enum SystemKind {
    /// A physical or virtual server.
    Server,
    /// A desktop workstation.
    Workstation,
    /// A laptop.
    Laptop,
    /// A virtual machine.
    VirtualMachine,
    /// A switch, router, access point or similar.
    NetworkDevice,
    /// A firewall or security appliance.
    Firewall,
    /// A printer or multifunction device.
    Printer,
    /// A phone or tablet.
    MobileDevice,
    /// A cloud tenant (Microsoft 365, Google Workspace, Azure, AWS).
    CloudTenant,
    /// A SaaS application.
    SaasApplication,
    /// A backup set or backup appliance.
    BackupSet,
    /// Anything else.
    Other,
}

/// The PSA or RMM product an integration talks to.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::IntegrationKind")]
pub enum IntegrationKind {
    /// ConnectWise Manage (PSA).
    ConnectwiseManage,
    /// Autotask PSA.
    Autotask,
    /// HaloPSA.
    Halopsa,
    /// NinjaOne (RMM).
    Ninjaone,
    /// Datto RMM.
    DattoRmm,
}

/// What started a sync run.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::SyncTrigger")]
pub enum SyncTrigger {
    /// The integration's schedule inside `tandem serve`.
    Schedule,
    /// The `triggerSync` mutation.
    Manual,
    /// A vendor callback.
    Webhook,
    /// `tandem sync`.
    Cli,
}

/// Who wrote a record.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::Principal")]
pub enum PrincipalKind {
    /// A person's token.
    Person,
    /// An integration: its sync engine, or a token issued for it.
    Integration,
    /// Tandem itself.
    System,
}

/// How a sync run ended, or that it is still running.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::SyncStatus")]
pub enum SyncStatus {
    /// Stopped by a shutdown or a crash; the next run resumes where its last page committed.
    Interrupted,
    /// Still running.
    Running,
    /// Every record synced.
    Succeeded,
    /// Finished, but some records failed validation.
    Partial,
    /// Stopped by an error.
    Failed,
}

/// A NIST CSF 2.0 function.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::CsfFunction")]
pub enum CsfFunction {
    /// Govern.
    Gv,
    /// Identify.
    Id,
    /// Protect.
    Pr,
    /// Detect.
    De,
    /// Respond.
    Rs,
    /// Recover.
    Rc,
}

/// A ticket's normalized status.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::TicketStatus")]
pub enum TicketStatus {
    /// Not yet picked up.
    New,
    /// Being worked.
    InProgress,
    /// Waiting on the requester, a vendor or a schedule.
    Waiting,
    /// Resolved, awaiting closure.
    Resolved,
    /// Closed.
    Closed,
}

/// A normalized priority (tickets) or severity (alerts).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::Priority")]
pub enum Priority {
    /// Business stopped.
    Critical,
    /// Serious impact.
    High,
    /// Limited impact.
    Medium,
    /// Little impact.
    Low,
}

/// Where an alert stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::AlertStatus")]
pub enum AlertStatus {
    /// Raised, nobody has acknowledged it.
    Open,
    /// Someone is on it.
    Acknowledged,
    /// Cleared.
    Resolved,
}

/// Where a change log entry came from.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::ChangeSource")]
pub enum ChangeSource {
    /// Written by a person in a client.
    Manual,
    /// Written through the API by a script or a mutation's side effect.
    Api,
    /// Observed by a PSA sync.
    Psa,
    /// Observed by an RMM sync.
    Rmm,
    /// Written by Tandem itself.
    System,
}

/// What kind of change a change log entry records.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::ChangeCategory")]
pub enum ChangeCategory {
    /// Settings of a system or service.
    Configuration,
    /// Accounts, groups, permissions.
    Access,
    /// Updates and patches.
    Patch,
    /// New software or services.
    Deployment,
    /// Hardware added, replaced or removed.
    Hardware,
    /// Network and firewall.
    Network,
    /// Security controls and incidents' remediation.
    Security,
    /// Backup jobs and retention.
    Backup,
    /// Incident handling.
    Incident,
    /// Planned maintenance.
    Maintenance,
    /// The responsibility matrix.
    Ownership,
    /// Runbooks and documentation.
    Documentation,
    /// The system inventory.
    Inventory,
    /// Anything else.
    Other,
}

/// Where a responsibility stands in its lifecycle.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::ResponsibilityStatus")]
pub enum ResponsibilityStatus {
    /// Being written; not in force.
    Draft,
    /// Submitted for approval; not in force.
    Proposed,
    /// Approved by the sides the engagement requires; in force during its validity.
    Agreed,
    /// No longer in force.
    Retired,
}

/// A step in the history of a matrix entry.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::HistoryAction")]
pub enum HistoryAction {
    /// Drafted by `createResponsibility`.
    Created,
    /// Drafted by `planTransition` as the successor of an entry in force on the day.
    TransitionDrafted,
    /// A draft was edited; `changes` lists the fields.
    Updated,
    /// A draft was submitted for approval.
    Proposed,
    /// Proposed as a change of an agreed entry (this entry is the successor); `changes` lists
    /// the fields that differ from the agreed entry.
    ChangeProposed,
    /// One side approved; another must still.
    Approved,
    /// The last side whose approval was required approved: the entry is agreed.
    Agreed,
    /// The proposal went back to draft; its approvals stopped counting.
    Withdrawn,
    /// A side that must sign refused the proposal, with a reason; back to draft.
    Rejected,
    /// One side approved retiring the entry; another must still.
    RetirementApproved,
    /// The last required side approved retiring: the entry ended then.
    Retired,
    /// A successor was agreed: the entry ends where the successor starts.
    Superseded,
}

/// How an escalation step reaches its team or person.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::EscalationChannel")]
pub enum EscalationChannel {
    /// A ticket in the PSA.
    Ticket,
    /// A phone call.
    Phone,
    /// An email.
    Email,
    /// A chat message.
    Chat,
    /// A pager or on-call alert.
    Pager,
}

/// Which clock an SLA target counts on.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::SlaCalendar")]
pub enum SlaCalendar {
    /// The environment's business hours, Monday to Friday, in its time zone.
    BusinessHours,
    /// Around the clock, every day.
    Always,
}

/// What a write-back job writes to a PSA ticket (two-way sync).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::PsaWriteKind")]
pub enum PsaWriteKind {
    /// The board/queue/team (and member) the matrix routed the ticket to.
    Assign,
    /// A note: the routing reason, or one written in Tandem.
    Note,
    /// A status set in Tandem.
    Status,
}

/// Where a write-back job stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::PsaWriteStatus")]
pub enum PsaWriteStatus {
    /// Not written yet; tried at `nextAttemptAt`.
    Pending,
    /// The vendor accepted it.
    Done,
    /// The vendor refused it, or kept failing for 24 hours (`lastError` says which).
    Failed,
    /// Superseded before it was sent: the vendor's own change won (README, conflict rules); the
    /// losing value is in the change log.
    Dropped,
}
