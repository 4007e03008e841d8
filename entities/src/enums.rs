//! The closed sets of values stored in text columns, one Rust enum each.
//!
//! Each is stored as its SCREAMING_SNAKE_CASE name, the same spelling the GraphQL schema uses, and
//! the migrations guard every such column with a `CHECK` constraint listing the same values.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

macro_rules! stored_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, EnumIter, DeriveActiveEnum,
            Serialize, Deserialize,
        )]
        #[sea_orm(rs_type = "String", db_type = "Text", rename_all = "SCREAMING_SNAKE_CASE")]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }
    };
}

stored_enum! {
    /// Whether an organization owns its IT or serves others as a managed service provider.
    OrganizationKind {
        /// A company that owns the IT environment.
        Client,
        /// A managed service provider (MSP).
        Provider,
    }
}

stored_enum! {
    /// How a provider serves a client during an engagement.
    OperatingModel {
        /// The provider runs the client's IT alone.
        FullyManaged,
        /// The client's internal IT and the provider share the work.
        CoManaged,
    }
}

stored_enum! {
    /// What a person's tokens may do.
    Role {
        /// Manages organizations, teams, the matrix and integrations, and writes everything.
        Admin,
        /// Writes operational records: changes, tickets, runbooks.
        Member,
        /// Reads only.
        Viewer,
        /// A sync job: bulk upserts of external records.
        Integration,
    }
}

stored_enum! {
    /// A compliance framework an environment is held to.
    ComplianceFramework {
        /// HIPAA Security Rule.
        Hipaa,
        /// Cybersecurity Maturity Model Certification.
        Cmmc,
        /// FTC Safeguards Rule (GLBA).
        FtcSafeguards,
        /// NIST Cybersecurity Framework 2.0.
        #[serde(rename = "NIST_CSF_2")]
        #[sea_orm(string_value = "NIST_CSF_2")]
        NistCsf2,
        /// A cyber-insurance questionnaire's controls.
        CyberInsurance,
    }
}

stored_enum! {
    /// What kind of thing a system is.
    SystemKind {
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
}

stored_enum! {
    /// The PSA or RMM product an integration talks to.
    IntegrationKind {
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
}

stored_enum! {
    /// What a value mapping translates.
    ValueMappingDomain {
        /// A vendor ticket status to a [`TicketStatus`].
        TicketStatus,
        /// A vendor ticket priority to a [`Priority`].
        TicketPriority,
        /// A vendor alert severity to a [`Priority`].
        AlertSeverity,
        /// A vendor device or configuration type to a [`SystemKind`].
        SystemKind,
    }
}

stored_enum! {
    /// What started a sync run.
    SyncTrigger {
        /// The integration's schedule inside `tandem serve`.
        Schedule,
        /// The `triggerSync` mutation.
        Manual,
        /// A vendor callback.
        Webhook,
        /// `tandem sync`.
        Cli,
    }
}

stored_enum! {
    /// How a sync run ended, or that it is still running.
    SyncStatus {
        /// Still running.
        Running,
        /// Every record synced.
        Succeeded,
        /// Finished, but some records failed validation.
        Partial,
        /// Stopped by an error.
        Failed,
        /// Stopped by a shutdown or a crash before it finished; the next run resumes from the
        /// cursors its committed pages left.
        Interrupted,
    }
}

stored_enum! {
    /// What a side of an engagement signs off on a matrix entry.
    ApprovalDecision {
        /// Agreeing a proposed entry.
        Agree,
        /// Retiring an agreed entry.
        Retire,
    }
}

stored_enum! {
    /// A step in the history of a matrix entry.
    HistoryAction {
        /// Drafted by `createResponsibility`.
        Created,
        /// Drafted by `planTransition` as the successor of an entry in force on the day.
        TransitionDrafted,
        /// A draft was edited.
        Updated,
        /// A draft was submitted for sign-off.
        Proposed,
        /// Proposed as a change of an agreed entry (its successor).
        ChangeProposed,
        /// One side approved; another must still.
        Approved,
        /// The last required side approved: the entry is agreed.
        Agreed,
        /// The proposal went back to draft; its sign-offs stopped counting.
        Withdrawn,
        /// The other side refused the proposal, with a reason; back to draft.
        Rejected,
        /// One side approved retiring the entry; another must still.
        RetirementApproved,
        /// The last required side approved retiring: the entry ends now.
        Retired,
        /// A successor was agreed and this entry ends where the successor starts.
        Superseded,
    }
}

stored_enum! {
    /// Who wrote a change log entry: the authenticated principal, not the free-text actor.
    Principal {
        /// A person's token.
        Person,
        /// An integration: its sync engine, or a token issued for it.
        Integration,
        /// Tandem itself (migrations, the demo's history).
        System,
    }
}

stored_enum! {
    /// Which clock an SLA target counts on.
    SlaCalendar {
        /// The environment's business hours, Monday to Friday in its time zone.
        BusinessHours,
        /// Around the clock, every day.
        Always,
    }
}

stored_enum! {
    /// A NIST CSF 2.0 function.
    CsfFunction {
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
}

stored_enum! {
    /// Where a responsibility stands in its lifecycle.
    ResponsibilityStatus {
        /// Being written; not in force.
        Draft,
        /// Submitted for approval; not in force.
        Proposed,
        /// Approved by the sides the engagement requires; in force during its validity.
        Agreed,
        /// No longer in force.
        Retired,
    }
}

stored_enum! {
    /// How a team takes part in a responsibility besides responsible and accountable.
    PartyRole {
        /// Asked before the work is done.
        Consulted,
        /// Told after the work is done.
        Informed,
    }
}

stored_enum! {
    /// How an escalation step reaches its team or person.
    EscalationChannel {
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
}

stored_enum! {
    /// A ticket's normalized status.
    TicketStatus {
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
}

stored_enum! {
    /// A normalized priority (tickets) or severity (alerts).
    Priority {
        /// Business stopped.
        Critical,
        /// Serious impact.
        High,
        /// Limited impact.
        Medium,
        /// Little impact.
        Low,
    }
}

stored_enum! {
    /// Where an alert stands.
    AlertStatus {
        /// Raised, nobody has acknowledged it.
        Open,
        /// Someone is on it.
        Acknowledged,
        /// Cleared.
        Resolved,
    }
}

stored_enum! {
    /// Where a change log entry came from.
    ChangeSource {
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
}

stored_enum! {
    /// What kind of change a change log entry records.
    ChangeCategory {
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
}

stored_enum! {
    /// How often a compliance obligation needs fresh evidence.
    ObligationCadence {
        /// Every calendar month's worth of time (one month from the period start).
        Monthly,
        /// Every three months.
        Quarterly,
        /// Every six months.
        SemiAnnual,
        /// Every twelve months.
        Yearly,
    }
}

stored_enum! {
    /// What kind of artefact a compliance obligation asks for.
    EvidenceKind {
        /// A risk assessment (analysis) with its treatment plan.
        RiskAssessment,
        /// A review of who has access to what, with the changes it led to.
        AccessReview,
        /// A review of audit logs and system activity.
        AuditLogReview,
        /// A test that restores data from backup.
        BackupRestoreTest,
        /// A review (and update) of written policies and procedures.
        PolicyReview,
        /// Security awareness training completion records.
        AwarenessTraining,
        /// An incident-response exercise (tabletop or live) and its lessons.
        IncidentResponseExercise,
        /// A vulnerability scan and its remediation status.
        VulnerabilityScan,
        /// A penetration test report.
        PenetrationTest,
        /// A report of patches deployed and outstanding.
        PatchReport,
        /// What an insurer asks for: an application, attestation or questionnaire.
        InsuranceEvidence,
    }
}

stored_enum! {
    /// What a piece of evidence found.
    EvidenceResult {
        /// The control worked as required.
        Passed,
        /// It worked in part; the notes say what is missing.
        Partial,
        /// It did not work; the obligation stays open until evidence that passes.
        Failed,
        /// The obligation did not apply during the period (the notes say why).
        NotApplicable,
    }
}

stored_enum! {
    /// Where one outbound webhook delivery stands.
    WebhookDeliveryStatus {
        /// Not delivered yet; tried again at `next_attempt_at`.
        Pending,
        /// The endpoint answered 2xx.
        Delivered,
        /// The endpoint refused it (a 4xx other than 408 and 429) on every try; not tried again.
        Failed,
        /// Still not delivered 24 hours after its event; not tried again (a replay can).
        GaveUp,
    }
}

stored_enum! {
    /// What a write-back job writes to a PSA ticket.
    PsaWriteKind {
        /// The board/queue/team (and member) the matrix routed it to.
        Assign,
        /// A note (the routing reason, or one written in Tandem).
        Note,
        /// A status set in Tandem.
        Status,
    }
}

stored_enum! {
    /// Where a write-back job stands.
    PsaWriteStatus {
        /// Not written yet; tried at `next_attempt_at`.
        Pending,
        /// The vendor accepted it.
        Done,
        /// The vendor refused it, or kept failing for 24 hours; not tried again.
        Failed,
        /// Superseded before it was sent (the vendor's own change won, see the README's
        /// conflict rules); the losing value is in the change log.
        Dropped,
    }
}
