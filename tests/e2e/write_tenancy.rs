//! Write-side tenancy matrix: every mutation of the schema, aimed at one tenant's objects, is
//! refused
//! - (a) to the admin of another tenant: Cedar & Pine (another client of the same provider),
//!   Southgate IT (another provider, inserted for this test), and where the object is not theirs
//!   to manage, Northwind (the provider, on its client's people, teams and memberships) or Harbor
//!   (the client, on its provider's integrations and engagements); plus variants where the
//!   attacker names its own object and a reference to the victim's (its own environment with the
//!   victim's system, team, ticket or person), and, for what a sync job may write, the victim's
//!   admin with an INTEGRATION token naming its provider's integration (forged attribution,
//!   which the server must reject outright: `UNAUTHENTICATED` counts as a refusal there);
//! - (b) to the victim's own admin holding a token of the role just below the one the mutation
//!   needs (MEMBER for admin and sync writes, VIEWER for member writes), and an INTEGRATION token
//!   where the mutation does not take one;
//! - (c) to a VIEWER token of the victim's own organization;
//!
//! and a dump of every table is the same afterwards. "Refused" is a top-level error coded
//! `FORBIDDEN`, `NOT_FOUND` or `BAD_USER_INPUT`, or a payload with `userErrors`; a success or any
//! other error (`INTERNAL`, a validation failure) is a hole. Every hole is collected before the
//! test fails, so one run names them all.
//!
//! The victim is Harbor Health Partners (the co-managed client) and, for what belongs to the
//! provider (its integrations, its engagements, creating clients), Northwind Managed Services.
//!
//! The mutation list is checked against the served schema and `api/schema.graphql`: a new
//! mutation fails these tests until it has a row here. A second test sends every probe's input as
//! the object's rightful caller and expects it to succeed, so no refusal in the matrix is merely a
//! malformed or ill-timed input. A third test sends each bulk upsert another tenant's
//! `(source, externalId)` into the attacker's own environment: the answer may be a record of the
//! attacker's own or a refusal, never the other tenant's record, and no row that existed before
//! may change.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::Context as _;
use chrono::{Duration, SecondsFormat, Utc};
use entities::enums::{OrganizationKind, Role};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend,
    DatabaseConnection, EntityTrait, QueryFilter, Set, Statement,
};
use serde_json::{Value, json};
use tests::TestApp;

/// Every mutation this file covers; must equal the schema's `Mutation` fields.
const COVERED: [&str; 46] = [
    "recordChange",
    "correctChange",
    "createClientOrganization",
    "updateOrganization",
    "createEngagement",
    "endEngagement",
    "createTeam",
    "updateTeam",
    "createPerson",
    "updatePerson",
    "addTeamMember",
    "removeTeamMember",
    "createEnvironment",
    "updateEnvironment",
    "archiveEnvironment",
    "createSystem",
    "updateSystem",
    "retireSystem",
    "createResponsibility",
    "proposeResponsibility",
    "approveResponsibility",
    "planTransition",
    "retireResponsibility",
    "createRunbook",
    "addRunbookRevision",
    "markRunbookReviewed",
    "archiveRunbook",
    "createTicket",
    "updateTicket",
    "assignTicket",
    "changeTicketStatus",
    "addTicketNote",
    "acknowledgeAlert",
    "resolveAlert",
    "upsertSystems",
    "upsertTickets",
    "upsertAlerts",
    "recordChanges",
    "createIntegration",
    "updateIntegration",
    "disableIntegration",
    "testIntegration",
    "triggerSync",
    "mapIntegrationCompany",
    "splitSystemLink",
    "setValueMapping",
];

/// Top-level error codes that count as a refusal.
const REFUSAL_CODES: [&str; 3] = ["FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT"];

/// Someone who sends a probe: a person's subject and organization, and the role the token claims.
#[derive(Debug, Clone, Copy)]
struct Caller {
    subject: &'static str,
    org: &'static str,
    role: Role,
    /// The integration an INTEGRATION token is issued for, if any.
    integration: Option<uuid::Uuid>,
    who: &'static str,
}

impl Caller {
    const fn with_role(self, role: Role) -> Self {
        Self { role, ..self }
    }

    /// An INTEGRATION token issued for `integration`.
    const fn for_integration(self, integration: uuid::Uuid) -> Self {
        Self {
            role: Role::Integration,
            integration: Some(integration),
            ..self
        }
    }

    fn describe(&self) -> String {
        match self.integration {
            Some(integration) => format!(
                "{} [{} token issued for integration {integration}]",
                self.who,
                role_name(self.role)
            ),
            None => format!("{} [{} token]", self.who, role_name(self.role)),
        }
    }

    fn token(&self, app: &TestApp) -> String {
        match self.integration {
            Some(integration) => app.integration_token(self.subject, self.org, integration),
            None => app.token(self.subject, self.org, self.role),
        }
    }
}

const HARBOR_ADMIN: Caller = Caller {
    subject: "demo|harbor-it-admin",
    org: "harbor-health",
    role: Role::Admin,
    integration: None,
    who: "Harbor's IT admin",
};
const HARBOR_VIEWER: Caller = Caller {
    subject: "demo|harbor-compliance",
    org: "harbor-health",
    role: Role::Viewer,
    integration: None,
    who: "Harbor's compliance officer (a VIEWER)",
};
const NORTHWIND_ADMIN: Caller = Caller {
    subject: "demo|northwind-admin",
    org: "northwind-msp",
    role: Role::Admin,
    integration: None,
    who: "Northwind's admin",
};
const NORTHWIND_SYNC: Caller = Caller {
    subject: "demo|northwind-sync",
    org: "northwind-msp",
    role: Role::Integration,
    integration: None,
    who: "Northwind's sync job",
};
const CEDAR_ADMIN: Caller = Caller {
    subject: "demo|cedar-office",
    org: "cedar-pine",
    role: Role::Admin,
    integration: None,
    who: "Cedar & Pine's admin (another client)",
};
const SOUTHGATE_ADMIN: Caller = Caller {
    subject: "wt|southgate-admin",
    org: "southgate-it",
    role: Role::Admin,
    integration: None,
    who: "Southgate IT's admin (another provider)",
};
/// Harbor's admin acting on what belongs to its provider.
const HARBOR_ON_PROVIDER: Caller = Caller {
    who: "Harbor's IT admin (a client, on its provider's objects)",
    ..HARBOR_ADMIN
};
/// Northwind's admin acting on its client's directory, which only the client's admins manage.
const NORTHWIND_ON_CLIENT_DIRECTORY: Caller = Caller {
    who: "Northwind's admin (the provider, on its client's directory)",
    ..NORTHWIND_ADMIN
};

fn role_name(role: Role) -> String {
    format!("{role:?}").to_uppercase()
}

/// Whose object a probe targets: that organization's admin and viewer send cases (b) and (c).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Harbor,
    Northwind,
}

impl Owner {
    fn admin(self) -> Caller {
        match self {
            Self::Harbor => HARBOR_ADMIN,
            Self::Northwind => NORTHWIND_ADMIN,
        }
    }

    /// A VIEWER token of the organization (Northwind has no viewer: its admin claims VIEWER).
    fn viewer(self) -> Caller {
        match self {
            Self::Harbor => HARBOR_VIEWER,
            Self::Northwind => NORTHWIND_ADMIN.with_role(Role::Viewer),
        }
    }
}

/// One mutation's row of the matrix.
struct Spec {
    mutation: &'static str,
    /// A well-formed input aimed at the victim's objects; it writes when the rightful caller
    /// sends it.
    input: Value,
    owner: Owner,
    /// The highest role that may not make this mutation.
    lower: Role,
    /// Whether a sync job's token (INTEGRATION) may make this mutation; when not, the owner's
    /// admin claiming INTEGRATION is one more case (b).
    sync_may: bool,
    /// Another organization's integration: when set, the owner's admin sends `input` with an
    /// INTEGRATION token issued for it, one more case (a).
    forged: Option<uuid::Uuid>,
    /// Case (a): other tenants sending `input`.
    attackers: Vec<Caller>,
    /// Case (a) variants: an attacker's own object with a reference to the victim's.
    mixed: Vec<(&'static str, Caller, Value)>,
    /// Who may send `input` (the second test).
    rightful: Caller,
    /// The rightful call ends, archives or disables what other rightful calls use: run it last.
    last: bool,
}

impl Spec {
    fn new(mutation: &'static str, owner: Owner, lower: Role, input: Value) -> Self {
        Self {
            mutation,
            input,
            owner,
            lower,
            sync_may: false,
            forged: None,
            attackers: vec![CEDAR_ADMIN, SOUTHGATE_ADMIN],
            mixed: Vec::new(),
            rightful: owner.admin(),
            last: false,
        }
    }

    fn attackers(mut self, attackers: &[Caller]) -> Self {
        self.attackers = attackers.to_vec();
        self
    }

    fn also(mut self, attacker: Caller) -> Self {
        self.attackers.push(attacker);
        self
    }

    fn mixed(mut self, what: &'static str, caller: Caller, input: Value) -> Self {
        self.mixed.push((what, caller, input));
        self
    }

    fn sync_may(mut self) -> Self {
        self.sync_may = true;
        self
    }

    fn rightful(mut self, caller: Caller) -> Self {
        self.rightful = caller;
        self
    }

    fn last(mut self) -> Self {
        self.last = true;
        self
    }

    /// Every refused call of this row: (case, caller, input).
    fn cases(&self) -> Vec<(String, Caller, Value)> {
        let mut cases = Vec::new();
        for attacker in &self.attackers {
            cases.push((
                format!("(a) another tenant's ids, as {}", attacker.describe()),
                *attacker,
                self.input.clone(),
            ));
        }
        for (what, caller, input) in &self.mixed {
            cases.push((
                format!("(a) {what}, as {}", caller.describe()),
                *caller,
                input.clone(),
            ));
        }
        if let Some(integration) = self.forged {
            let forged = self.owner.admin().for_integration(integration);
            cases.push((
                format!(
                    "(a) a sync token naming its provider's integration, as {}",
                    forged.describe()
                ),
                forged,
                self.input.clone(),
            ));
        }
        let lower = self.owner.admin().with_role(self.lower);
        cases.push((
            format!("(b) lower role, as {}", lower.describe()),
            lower,
            self.input.clone(),
        ));
        if !self.sync_may {
            let sync = self.owner.admin().with_role(Role::Integration);
            cases.push((
                format!(
                    "(b) a sync job's token, which this mutation does not take, as {}",
                    sync.describe()
                ),
                sync,
                self.input.clone(),
            ));
        }
        let viewer = self.owner.viewer();
        if !(viewer.subject == lower.subject && viewer.role == lower.role) {
            cases.push((
                format!("(c) viewer, as {}", viewer.describe()),
                viewer,
                self.input.clone(),
            ));
        }
        cases
    }
}

/// The objects the probes aim at, as global ids (and the external ids of one system).
struct Ids {
    harbor: String,
    northwind: String,
    harbor_engagement: String,
    internal_it: String,
    compliance: String,
    cedar_office_team: String,
    dana: String,
    cedar_partner: String,
    /// A Harbor member of Internal IT, made for the membership probes.
    member: String,
    /// A Harbor member, made for the `updatePerson` probes.
    contractor: String,
    production: String,
    riverside: String,
    cedar_environment: String,
    /// A Harbor system with a NinjaOne and a ConnectWise link.
    linked_system: String,
    linked_ninja_id: String,
    linked_connectwise_id: String,
    system: String,
    retired_system: String,
    ticket: String,
    cedar_ticket: String,
    alert: String,
    runbook: String,
    archived_runbook: String,
    draft: String,
    proposed: String,
    agreed: String,
    entry: String,
    cedar_entry: String,
    integration: String,
    /// The UUID behind `integration`, for tokens issued for it.
    integration_uuid: uuid::Uuid,
    southgate_integration: String,
}

fn instant(at: chrono::DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// One row per mutation, in the schema's order; every mutation a sync job may make is also sent
/// with a token the owner's admin had issued for its provider's integration.
fn matrix(ids: &Ids) -> Vec<Spec> {
    let mut specs = rows(ids);
    for spec in &mut specs {
        if spec.sync_may {
            spec.forged = Some(ids.integration_uuid);
        }
    }
    specs
}

fn rows(ids: &Ids) -> Vec<Spec> {
    use Owner::{Harbor, Northwind};
    use Role::{Member, Viewer};
    let hour_ago = instant(Utc::now() - Duration::hours(1));
    let directory = |spec: Spec| spec.also(NORTHWIND_ON_CLIENT_DIRECTORY);
    let provider_side = |spec: Spec| spec.also(HARBOR_ON_PROVIDER);
    vec![
        Spec::new(
            "recordChange",
            Harbor,
            Viewer,
            json!({ "environmentId": ids.production, "systemIds": [ids.system], "summary": "WT changed the firewall", "category": "CONFIGURATION" }),
        )
        .sync_may()
        .mixed(
            "its own environment with the victim's system",
            CEDAR_ADMIN,
            json!({ "environmentId": ids.cedar_environment, "systemIds": [ids.system], "summary": "WT changed the firewall", "category": "CONFIGURATION" }),
        )
        .mixed(
            "its own environment with the victim's ticket",
            CEDAR_ADMIN,
            json!({ "environmentId": ids.cedar_environment, "summary": "WT changed the firewall", "category": "CONFIGURATION", "ticketId": ids.ticket }),
        ),
        Spec::new(
            "correctChange",
            Harbor,
            Viewer,
            json!({ "changeLogEntryId": ids.entry, "summary": "WT corrected summary", "reason": "WT correction" }),
        )
        .sync_may()
        .mixed(
            "its own entry with the victim's system",
            CEDAR_ADMIN,
            json!({ "changeLogEntryId": ids.cedar_entry, "summary": "WT corrected summary", "reason": "WT correction", "systemIds": [ids.system] }),
        ),
        // No ids: the case (a) callers are clients, which may not create clients; another
        // provider creating a client of its own is no attack.
        Spec::new(
            "createClientOrganization",
            Northwind,
            Member,
            json!({ "name": "WT New Client", "slug": "wt-new-client", "operatingModel": "FULLY_MANAGED", "startsOn": Utc::now().date_naive().to_string() }),
        )
        .attackers(&[CEDAR_ADMIN, HARBOR_ON_PROVIDER]),
        Spec::new(
            "updateOrganization",
            Harbor,
            Member,
            json!({ "id": ids.harbor, "name": "WT Renamed Harbor" }),
        )
        .mixed(
            "renaming its provider",
            HARBOR_ON_PROVIDER,
            json!({ "id": ids.northwind, "name": "WT Renamed Northwind" }),
        ),
        // A past period that overlaps no other: the provider may record it.
        provider_side(Spec::new(
            "createEngagement",
            Northwind,
            Member,
            json!({ "clientId": ids.harbor, "operatingModel": "FULLY_MANAGED", "startsOn": "2020-01-01", "endsOn": "2022-12-31" }),
        )),
        Spec::new(
            "endEngagement",
            Northwind,
            Member,
            json!({ "id": ids.harbor_engagement, "endsOn": "2099-01-01" }),
        ),
        directory(Spec::new(
            "createTeam",
            Harbor,
            Member,
            json!({ "organizationId": ids.harbor, "name": "WT Shadow IT" }),
        )),
        directory(Spec::new(
            "updateTeam",
            Harbor,
            Member,
            json!({ "id": ids.internal_it, "name": "WT Renamed Internal IT" }),
        )),
        directory(Spec::new(
            "createPerson",
            Harbor,
            Member,
            json!({ "organizationId": ids.harbor, "subject": "wt|intruder", "displayName": "WT Intruder", "email": "intruder@wt.example", "role": "ADMIN" }),
        )),
        directory(Spec::new(
            "updatePerson",
            Harbor,
            Member,
            json!({ "id": ids.contractor, "displayName": "WT Renamed Contractor", "active": false }),
        )),
        directory(Spec::new(
            "addTeamMember",
            Harbor,
            Member,
            json!({ "teamId": ids.compliance, "personId": ids.member }),
        ))
        .mixed(
            "its own team with the victim's person",
            CEDAR_ADMIN,
            json!({ "teamId": ids.cedar_office_team, "personId": ids.member }),
        )
        .mixed(
            "the victim's team with its own person",
            CEDAR_ADMIN,
            json!({ "teamId": ids.compliance, "personId": ids.cedar_partner }),
        ),
        directory(Spec::new(
            "removeTeamMember",
            Harbor,
            Member,
            json!({ "teamId": ids.internal_it, "personId": ids.member }),
        )),
        Spec::new(
            "createEnvironment",
            Harbor,
            Member,
            json!({ "organizationId": ids.harbor, "name": "WT Hidden Site", "complianceFrameworks": ["HIPAA"] }),
        ),
        Spec::new(
            "updateEnvironment",
            Harbor,
            Member,
            json!({ "id": ids.production, "name": "WT Renamed Production" }),
        )
        .mixed(
            "its own environment with the victim's ticket",
            CEDAR_ADMIN,
            json!({ "id": ids.cedar_environment, "description": "WT", "ticketId": ids.ticket }),
        ),
        Spec::new(
            "archiveEnvironment",
            Harbor,
            Member,
            json!({ "id": ids.riverside, "reason": "WT" }),
        )
        .last(),
        Spec::new(
            "createSystem",
            Harbor,
            Viewer,
            json!({ "environmentId": ids.production, "name": "WT-PC-01", "kind": "WORKSTATION" }),
        )
        .mixed(
            "its own environment with the victim's ticket",
            CEDAR_ADMIN,
            json!({ "environmentId": ids.cedar_environment, "name": "WT-PC-01", "kind": "WORKSTATION", "ticketId": ids.ticket }),
        ),
        Spec::new(
            "updateSystem",
            Harbor,
            Viewer,
            json!({ "id": ids.system, "name": "WT-RENAMED-01", "ipAddress": "10.9.9.9" }),
        ),
        Spec::new(
            "retireSystem",
            Harbor,
            Viewer,
            json!({ "id": ids.retired_system, "reason": "WT" }),
        )
        .last(),
        Spec::new(
            "createResponsibility",
            Harbor,
            Member,
            json!({ "environmentId": ids.production, "function": "edr", "responsibleTeamId": ids.internal_it, "validFrom": "2032-01-01T00:00:00Z" }),
        )
        .mixed(
            "its own environment with the victim's team",
            CEDAR_ADMIN,
            json!({ "environmentId": ids.cedar_environment, "function": "edr", "responsibleTeamId": ids.internal_it, "validFrom": "2032-01-01T00:00:00Z" }),
        )
        .mixed(
            "its own environment escalating to the victim's person",
            CEDAR_ADMIN,
            json!({ "environmentId": ids.cedar_environment, "function": "edr", "responsibleTeamId": ids.cedar_office_team, "validFrom": "2032-01-01T00:00:00Z", "escalationPath": [{ "personId": ids.dana, "channel": "PHONE" }] }),
        ),
        Spec::new(
            "proposeResponsibility",
            Harbor,
            Member,
            json!({ "id": ids.draft }),
        ),
        Spec::new(
            "approveResponsibility",
            Harbor,
            Member,
            json!({ "id": ids.proposed }),
        ),
        provider_side(Spec::new(
            "planTransition",
            Northwind,
            Member,
            json!({ "clientId": ids.harbor, "operatingModel": "FULLY_MANAGED", "on": "2030-06-01" }),
        )),
        Spec::new(
            "retireResponsibility",
            Harbor,
            Member,
            json!({ "id": ids.agreed, "reason": "WT" }),
        )
        .last(),
        Spec::new(
            "createRunbook",
            Harbor,
            Viewer,
            json!({ "environmentId": ids.production, "title": "WT Runbook", "ownerTeamId": ids.internal_it, "body": "# WT\n1. Step" }),
        )
        .mixed(
            "its own environment owned by the victim's team",
            CEDAR_ADMIN,
            json!({ "environmentId": ids.cedar_environment, "title": "WT Runbook", "ownerTeamId": ids.internal_it, "body": "# WT\n1. Step" }),
        )
        .mixed(
            "its own environment covering the victim's system",
            CEDAR_ADMIN,
            json!({ "environmentId": ids.cedar_environment, "title": "WT Runbook", "ownerTeamId": ids.cedar_office_team, "body": "# WT\n1. Step", "systemIds": [ids.system] }),
        ),
        Spec::new(
            "addRunbookRevision",
            Harbor,
            Viewer,
            json!({ "runbookId": ids.runbook, "body": "# WT revision\n1. Step", "changeSummary": "WT" }),
        ),
        Spec::new(
            "markRunbookReviewed",
            Harbor,
            Viewer,
            json!({ "runbookId": ids.runbook }),
        ),
        Spec::new(
            "archiveRunbook",
            Harbor,
            Viewer,
            json!({ "runbookId": ids.archived_runbook, "reason": "WT" }),
        )
        .last(),
        Spec::new(
            "createTicket",
            Harbor,
            Viewer,
            json!({ "environmentId": ids.production, "title": "WT ticket", "priority": "LOW" }),
        )
        .sync_may()
        .mixed(
            "its own environment with the victim's system",
            CEDAR_ADMIN,
            json!({ "environmentId": ids.cedar_environment, "title": "WT ticket", "systemId": ids.system }),
        )
        .mixed(
            "its own environment assigned to the victim's team",
            CEDAR_ADMIN,
            json!({ "environmentId": ids.cedar_environment, "title": "WT ticket", "assignedTeamId": ids.internal_it }),
        ),
        Spec::new(
            "updateTicket",
            Harbor,
            Viewer,
            json!({ "id": ids.ticket, "title": "WT retitled", "priority": "CRITICAL" }),
        )
        .sync_may()
        .mixed(
            "its own ticket on the victim's system",
            CEDAR_ADMIN,
            json!({ "id": ids.cedar_ticket, "systemId": ids.system }),
        ),
        Spec::new(
            "assignTicket",
            Harbor,
            Viewer,
            json!({ "id": ids.ticket, "teamId": ids.compliance }),
        )
        .sync_may()
        .mixed(
            "its own ticket to the victim's team",
            CEDAR_ADMIN,
            json!({ "id": ids.cedar_ticket, "teamId": ids.internal_it }),
        )
        .mixed(
            "its own ticket and team to the victim's person",
            CEDAR_ADMIN,
            json!({ "id": ids.cedar_ticket, "teamId": ids.cedar_office_team, "personId": ids.dana }),
        ),
        Spec::new(
            "changeTicketStatus",
            Harbor,
            Viewer,
            json!({ "id": ids.ticket, "status": "IN_PROGRESS" }),
        )
        .sync_may(),
        Spec::new(
            "addTicketNote",
            Harbor,
            Viewer,
            json!({ "ticketId": ids.ticket, "body": "WT note", "internal": true }),
        )
        .sync_may(),
        Spec::new(
            "acknowledgeAlert",
            Harbor,
            Viewer,
            json!({ "id": ids.alert }),
        ),
        Spec::new(
            "resolveAlert",
            Harbor,
            Viewer,
            json!({ "id": ids.alert, "reason": "WT" }),
        )
        .last(),
        Spec::new(
            "upsertSystems",
            Harbor,
            Member,
            json!({ "source": "NINJAONE", "records": [{ "externalId": "wt-device-1", "environmentId": ids.production, "name": "WT-DEVICE-1", "kind": "WORKSTATION" }] }),
        )
        .sync_may()
        .rightful(NORTHWIND_SYNC),
        Spec::new(
            "upsertTickets",
            Harbor,
            Member,
            json!({ "source": "CONNECTWISE_MANAGE", "records": [{ "externalId": "wt-ticket-1", "environmentId": ids.production, "title": "WT synced ticket", "status": "NEW", "priority": "LOW" }] }),
        )
        .sync_may()
        .mixed(
            "its own environment on the victim's system",
            CEDAR_ADMIN,
            json!({ "source": "CONNECTWISE_MANAGE", "records": [{ "externalId": "wt-ticket-2", "environmentId": ids.cedar_environment, "title": "WT synced ticket", "status": "NEW", "priority": "LOW", "systemExternalId": ids.linked_connectwise_id }] }),
        )
        .rightful(NORTHWIND_SYNC),
        Spec::new(
            "upsertAlerts",
            Harbor,
            Member,
            json!({ "source": "NINJAONE", "records": [{ "externalId": "wt-alert-1", "environmentId": ids.production, "message": "WT disk full", "severity": "LOW", "raisedAt": hour_ago }] }),
        )
        .sync_may()
        .mixed(
            "its own environment on the victim's system",
            CEDAR_ADMIN,
            json!({ "source": "NINJAONE", "records": [{ "externalId": "wt-alert-2", "environmentId": ids.cedar_environment, "message": "WT disk full", "severity": "LOW", "raisedAt": hour_ago, "systemExternalId": ids.linked_ninja_id }] }),
        )
        .rightful(NORTHWIND_SYNC),
        Spec::new(
            "recordChanges",
            Harbor,
            Member,
            json!({ "source": "NINJAONE", "records": [{ "externalId": "wt-change-1", "environmentId": ids.production, "summary": "WT installed a patch", "category": "PATCH", "occurredAt": hour_ago }] }),
        )
        .sync_may()
        .mixed(
            "its own environment on the victim's system",
            CEDAR_ADMIN,
            json!({ "source": "NINJAONE", "records": [{ "externalId": "wt-change-2", "environmentId": ids.cedar_environment, "summary": "WT installed a patch", "category": "PATCH", "occurredAt": hour_ago, "systemExternalIds": [ids.linked_ninja_id] }] }),
        )
        .rightful(NORTHWIND_SYNC),
        // No ids: an integration always belongs to the caller's own organization, so there is no
        // other tenant's id to send; only the roles are probed.
        Spec::new(
            "createIntegration",
            Northwind,
            Member,
            json!({ "name": "WT Autotask", "kind": "AUTOTASK", "baseUrl": "http://127.0.0.1:9", "enabled": false }),
        )
        .attackers(&[]),
        provider_side(Spec::new(
            "updateIntegration",
            Northwind,
            Member,
            json!({ "id": ids.integration, "name": "WT Renamed", "syncIntervalSeconds": 3600 }),
        )),
        provider_side(Spec::new(
            "disableIntegration",
            Northwind,
            Member,
            json!({ "id": ids.integration }),
        ))
        .last(),
        provider_side(Spec::new(
            "testIntegration",
            Northwind,
            Member,
            json!({ "id": ids.integration }),
        )),
        provider_side(Spec::new(
            "triggerSync",
            Northwind,
            Member,
            json!({ "id": ids.integration, "resources": ["COMPANIES"] }),
        )),
        provider_side(Spec::new(
            "mapIntegrationCompany",
            Northwind,
            Member,
            json!({ "integrationId": ids.integration, "externalCompanyId": "wt-company-1", "externalCompanyName": "WT", "environmentId": ids.production }),
        ))
        .mixed(
            "its own integration into the victim's environment",
            SOUTHGATE_ADMIN,
            json!({ "integrationId": ids.southgate_integration, "externalCompanyId": "wt-company-2", "environmentId": ids.production }),
        ),
        Spec::new(
            "splitSystemLink",
            Harbor,
            Member,
            json!({ "systemId": ids.linked_system, "source": "NINJAONE", "externalId": ids.linked_ninja_id, "reason": "WT" }),
        ),
        provider_side(Spec::new(
            "setValueMapping",
            Northwind,
            Member,
            json!({ "integrationId": ids.integration, "domain": "TICKET_STATUS", "externalValue": "WT Status", "status": "CLOSED" }),
        )),
    ]
}

/// A mutation's argument and payload types, from the served schema.
struct Signature {
    input: String,
    payload: String,
}

/// The served schema's mutations by name.
async fn signatures(app: &TestApp) -> anyhow::Result<BTreeMap<String, Signature>> {
    let data = app
        .query(
            &app.provider_admin_token(),
            "{ __schema { mutationType { fields { name type { name ofType { name } } args { name type { name ofType { name } } } } } } }",
            Value::Null,
        )
        .await?;
    let mut found = BTreeMap::new();
    for field in data["__schema"]["mutationType"]["fields"]
        .as_array()
        .context("mutation fields")?
    {
        let name = field["name"].as_str().context("name")?.to_owned();
        let named = |ty: &Value| {
            ty["name"]
                .as_str()
                .or_else(|| ty["ofType"]["name"].as_str())
                .map(str::to_owned)
        };
        let input = field["args"]
            .as_array()
            .and_then(|args| args.iter().find(|arg| arg["name"] == "input"))
            .and_then(|arg| named(&arg["type"]))
            .with_context(|| format!("{name} takes no `input`"))?;
        let payload = named(&field["type"]).with_context(|| format!("{name}: payload type"))?;
        found.insert(name, Signature { input, payload });
    }
    Ok(found)
}

/// The fields of `type Mutation` in the checked-in SDL.
fn sdl_mutations() -> anyhow::Result<BTreeSet<String>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../api/schema.graphql");
    let sdl = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let body = sdl
        .split_once("\ntype Mutation {")
        .and_then(|(_, rest)| rest.split_once("\n}"))
        .map(|(body, _)| body)
        .context("no `type Mutation` in the SDL")?;
    Ok(body
        .lines()
        .filter(|line| line.starts_with('\t') && !line.starts_with("\t\t"))
        .filter_map(|line| {
            let name = line.trim().split(['(', ':']).next()?;
            (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()))
                .then(|| name.to_owned())
        })
        .collect())
}

/// What a call did.
enum Outcome {
    Refused(String),
    /// The payload.
    Succeeded(Value),
    Unexpected(String),
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 400 {
        format!("{}…", text.chars().take(400).collect::<String>())
    } else {
        text
    }
}

/// Sends `input` to `mutation` as `caller`.
async fn call(
    app: &TestApp,
    signatures: &BTreeMap<String, Signature>,
    mutation: &str,
    caller: Caller,
    input: &Value,
) -> anyhow::Result<Outcome> {
    let signature = signatures
        .get(mutation)
        .with_context(|| format!("{mutation} is not in the schema"))?;
    let extra =
        if signature.payload.starts_with("Upsert") || signature.payload == "RecordChangesPayload" {
            "counts { created updated unchanged failed } results { outcome node { id } }"
        } else if signature.payload == "TestIntegrationPayload" {
            "ok message"
        } else {
            ""
        };
    let query = format!(
        "mutation($input: {}!) {{ {mutation}(input: $input) {{ __typename {extra} userErrors {{ field code message }} }} }}",
        signature.input
    );
    let token = caller.token(app);
    let (status, body) = app
        .graphql(Some(&token), &query, json!({ "input": input }))
        .await?;
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    if !errors.is_empty() {
        let codes: Vec<&str> = errors
            .iter()
            .map(|error| error["extensions"]["code"].as_str().unwrap_or("(no code)"))
            .collect();
        let message = errors[0]["message"].as_str().unwrap_or_default();
        // A token issued for an integration its organization does not have is rejected outright.
        let refused = |code: &&str| {
            REFUSAL_CODES.contains(code)
                || (caller.integration.is_some() && *code == "UNAUTHENTICATED")
        };
        return Ok(if codes.iter().all(refused) {
            Outcome::Refused(format!("{}: {message}", codes.join(",")))
        } else {
            Outcome::Unexpected(format!("HTTP {status}, {}", short(&body)))
        });
    }
    let payload = &body["data"][mutation];
    match payload["userErrors"].as_array() {
        Some(user_errors) if !user_errors.is_empty() => Ok(Outcome::Refused(format!(
            "userErrors {}",
            short(&Value::Array(user_errors.clone()))
        ))),
        Some(_) => Ok(Outcome::Succeeded(payload.clone())),
        None => Ok(Outcome::Unexpected(format!(
            "HTTP {status}, {}",
            short(&body)
        ))),
    }
}

/// Every row of every table, each row one string, sorted: the whole database's state.
async fn dump(db: &DatabaseConnection) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let backend = db.get_database_backend();
    let mut tables = BTreeMap::new();
    for table in tests::table_names(db).await? {
        let sql = if backend == DatabaseBackend::Postgres {
            format!("SELECT row_to_json(t)::text AS r FROM \"{table}\" t")
        } else {
            let columns = db
                .query_all_raw(Statement::from_string(
                    backend,
                    format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
                ))
                .await?;
            let mut parts = Vec::new();
            for column in columns {
                let name: String = column.try_get("", "name")?;
                parts.push(format!("'{name}=' || quote(\"{name}\")"));
            }
            anyhow::ensure!(!parts.is_empty(), "{table} has no columns");
            format!(
                "SELECT {} AS r FROM \"{table}\"",
                parts.join(" || ', ' || ")
            )
        };
        let mut rows = Vec::new();
        for row in db
            .query_all_raw(Statement::from_string(backend, sql))
            .await?
        {
            let text: String = row.try_get("", "r")?;
            rows.push(text);
        }
        rows.sort();
        tables.insert(table, rows);
    }
    Ok(tables)
}

/// How many times each row occurs.
fn count(rows: &[String]) -> BTreeMap<&String, i64> {
    let mut counts: BTreeMap<&String, i64> = BTreeMap::new();
    for row in rows {
        *counts.entry(row).or_default() += 1;
    }
    counts
}

/// What differs between two dumps, table by table.
fn differences(
    before: &BTreeMap<String, Vec<String>>,
    after: &BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let mut found = Vec::new();
    let tables: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for table in tables {
        let empty = Vec::new();
        let (old, new) = (
            before.get(table).unwrap_or(&empty),
            after.get(table).unwrap_or(&empty),
        );
        if old == new {
            continue;
        }
        let (old_counts, new_counts) = (count(old), count(new));
        let mut text = format!(
            "table `{table}` changed ({} rows -> {} rows):",
            old.len(),
            new.len()
        );
        let mut shown = 0;
        for (rows, other, sign) in [
            (&old_counts, &new_counts, "-"),
            (&new_counts, &old_counts, "+"),
        ] {
            for (row, n) in rows {
                if other.get(row).copied().unwrap_or(0) < *n {
                    shown += 1;
                    if shown <= 8 {
                        let row: String = row.chars().take(500).collect();
                        let _ = write!(text, "\n      {sign} {row}");
                    }
                }
            }
        }
        if shown > 8 {
            let _ = write!(text, "\n      ... and {} more rows", shown - 8);
        }
        found.push(text);
    }
    found
}

/// Runs a setup mutation that must succeed; returns its payload.
async fn setup(
    app: &TestApp,
    caller: Caller,
    mutation: &str,
    input_type: &str,
    input: Value,
    selection: &str,
) -> anyhow::Result<Value> {
    let token = caller.token(app);
    let data = app
        .query(
            &token,
            &format!("mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ {selection} userErrors {{ field code message }} }} }}"),
            json!({ "input": input }),
        )
        .await
        .with_context(|| format!("setup: {mutation}"))?;
    let payload = data[mutation].clone();
    anyhow::ensure!(
        payload["userErrors"].as_array().is_some_and(Vec::is_empty),
        "setup: {mutation} refused: {payload}"
    );
    Ok(payload)
}

fn text_at(value: &Value, pointer: &str) -> anyhow::Result<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("nothing at {pointer} in {}", short(value)))
}

/// Finds the node of `nodes` matching `test`, as its `id`.
fn id_where(nodes: &[Value], what: &str, test: impl Fn(&Value) -> bool) -> anyhow::Result<String> {
    nodes
        .iter()
        .find(|node| test(node))
        .and_then(|node| node["id"].as_str())
        .map(str::to_owned)
        .with_context(|| format!("no {what} in the demo"))
}

/// Adds another provider, Southgate IT, with an admin: a tenant that serves nobody here.
async fn add_southgate(app: &TestApp) -> anyhow::Result<()> {
    let now = Utc::now();
    let organization_id = uuid::Uuid::new_v4();
    let mut organization = entities::organization::ActiveModel::new();
    organization.id = Set(organization_id);
    organization.slug = Set(SOUTHGATE_ADMIN.org.to_owned());
    organization.name = Set("Southgate IT Services".to_owned());
    organization.kind = Set(OrganizationKind::Provider);
    organization.created_at = Set(now);
    organization.updated_at = Set(now);
    organization.insert(&app.db).await?;
    let mut person = entities::person::ActiveModel::new();
    person.id = Set(uuid::Uuid::new_v4());
    person.organization_id = Set(organization_id);
    person.subject = Set(SOUTHGATE_ADMIN.subject.to_owned());
    person.display_name = Set("Sam Southgate".to_owned());
    person.email = Set(Some("sam@southgate-it.example".to_owned()));
    person.role = Set(Role::Admin);
    person.active = Set(true);
    person.created_at = Set(now);
    person.updated_at = Set(now);
    person.insert(&app.db).await?;
    Ok(())
}

/// Spawns the demo, adds what the probes need (another provider, people, matrix entries in every
/// state, an enabled integration), and finds the ids of the objects they aim at.
async fn prepare() -> anyhow::Result<(TestApp, Ids)> {
    let app = TestApp::spawn_with_demo().await?;
    add_southgate(&app).await?;
    let provider = app.provider_admin_token();

    let organizations = app.all_nodes(&provider, "organizations", "id slug").await?;
    let slug_is = |slug: &'static str| move |node: &Value| node["slug"] == slug;
    let harbor = id_where(&organizations, "Harbor", slug_is("harbor-health"))?;
    let northwind = id_where(&organizations, "Northwind", slug_is("northwind-msp"))?;
    let engagements = app
        .all_nodes(&provider, "engagements", "id active client { slug }")
        .await?;
    let harbor_engagement = id_where(&engagements, "active Harbor engagement", |node| {
        node["active"] == true && node["client"]["slug"] == "harbor-health"
    })?;
    let teams = app
        .all_nodes(&provider, "teams", "id name organization { slug }")
        .await?;
    let team =
        |name: &'static str| id_where(&teams, name, move |node: &Value| node["name"] == name);
    let (internal_it, compliance, cedar_office_team) = (
        team("Internal IT")?,
        team("Compliance Office")?,
        team("Office Management")?,
    );
    let people = app.all_nodes(&provider, "people", "id subject").await?;
    let subject_is = |subject: &'static str| move |node: &Value| node["subject"] == subject;
    let dana = id_where(&people, "Dana", subject_is(HARBOR_ADMIN.subject))?;
    let cedar_partner = id_where(&people, "Cedar's partner", subject_is("demo|cedar-partner"))?;
    let environments = app
        .all_nodes(&provider, "environments", "id name organization { slug }")
        .await?;
    let environment = |name: &'static str| {
        id_where(&environments, name, move |node: &Value| {
            node["name"] == name
        })
    };
    let (production, riverside, cedar_environment) = (
        environment("Production")?,
        environment("Riverside Clinic")?,
        environment("Main Office")?,
    );

    let data = app
        .query(
            &provider,
            "query($env: ID!, $cedar: ID!) {
                systems(first: 100, filter: { environmentIds: [$env] }) { edges { node { id externalIds { source id } } } }
                tickets(first: 1, filter: { environmentIds: [$env], statuses: [NEW] }) { edges { node { id } } }
                alerts(first: 1, filter: { environmentIds: [$env], statuses: [OPEN] }) { edges { node { id } } }
                runbooks(first: 2, filter: { environmentIds: [$env] }) { edges { node { id } } }
                responsibilityMatrix(environmentId: $env) { rows { default { id status } } }
                cedarTickets: tickets(first: 1, filter: { environmentIds: [$cedar] }) { edges { node { id } } }
                cedarChanges: changeLog(first: 1, filter: { environmentIds: [$cedar] }) { edges { node { id } } }
            }",
            json!({ "env": production, "cedar": cedar_environment }),
        )
        .await?;
    let systems: Vec<Value> = data["systems"]["edges"]
        .as_array()
        .context("systems")?
        .iter()
        .map(|edge| edge["node"].clone())
        .collect();
    let external = |node: &Value, source: &str| {
        node["externalIds"]
            .as_array()
            .and_then(|links| links.iter().find(|link| link["source"] == source))
            .and_then(|link| link["id"].as_str())
            .map(str::to_owned)
    };
    let linked = systems
        .iter()
        .find(|node| {
            external(node, "NINJAONE").is_some() && external(node, "CONNECTWISE_MANAGE").is_some()
        })
        .context("no Harbor system with two links")?;
    let linked_system = text_at(linked, "/id")?;
    let others: Vec<String> = systems
        .iter()
        .filter_map(|node| node["id"].as_str())
        .filter(|id| *id != linked_system)
        .map(str::to_owned)
        .collect();
    anyhow::ensure!(others.len() >= 2, "the demo has too few Harbor systems");
    let agreed = data["responsibilityMatrix"]["rows"]
        .as_array()
        .context("matrix rows")?
        .iter()
        .find(|row| row["default"]["status"] == "AGREED")
        .and_then(|row| row["default"]["id"].as_str())
        .context("no agreed entry in Harbor's production matrix")?
        .to_owned();

    // Objects of known state, made by their rightful owners before the first dump.
    let harbor_admin = HARBOR_ADMIN;
    let person = |subject: &str, name: &str| json!({ "organizationId": harbor, "subject": subject, "displayName": name, "role": "MEMBER" });
    let member = text_at(
        &setup(
            &app,
            harbor_admin,
            "createPerson",
            "CreatePersonInput",
            person("wt|member", "WT Member"),
            "person { id }",
        )
        .await?,
        "/person/id",
    )?;
    let contractor = text_at(
        &setup(
            &app,
            harbor_admin,
            "createPerson",
            "CreatePersonInput",
            person("wt|contractor", "WT Contractor"),
            "person { id }",
        )
        .await?,
        "/person/id",
    )?;
    setup(
        &app,
        harbor_admin,
        "addTeamMember",
        "TeamMembershipInput",
        json!({ "teamId": internal_it, "personId": member }),
        "team { id }",
    )
    .await?;
    let draft_input = |function: &str| json!({ "environmentId": production, "function": function, "responsibleTeamId": internal_it, "validFrom": "2031-01-01T00:00:00Z" });
    let draft = text_at(
        &setup(
            &app,
            harbor_admin,
            "createResponsibility",
            "CreateResponsibilityInput",
            draft_input("patching"),
            "responsibility { id }",
        )
        .await?,
        "/responsibility/id",
    )?;
    let proposed = text_at(
        &setup(
            &app,
            harbor_admin,
            "createResponsibility",
            "CreateResponsibilityInput",
            draft_input("backup_recovery"),
            "responsibility { id }",
        )
        .await?,
        "/responsibility/id",
    )?;
    setup(
        &app,
        harbor_admin,
        "proposeResponsibility",
        "ResponsibilityActionInput",
        json!({ "id": proposed }),
        "responsibility { status }",
    )
    .await?;
    let entry = text_at(
        &setup(
            &app,
            harbor_admin,
            "recordChange",
            "RecordChangeInput",
            json!({ "environmentId": production, "summary": "WT baseline change", "category": "CONFIGURATION" }),
            "changeLogEntry { id }",
        )
        .await?,
        "/changeLogEntry/id",
    )?;
    // Enabled, so that `triggerSync` is refused only for who calls it; no credentials and a
    // closed port, so that nothing leaves the machine.
    let integration_input = |name: &str, enabled: bool| json!({ "name": name, "kind": "NINJAONE", "baseUrl": "http://127.0.0.1:9", "enabled": enabled });
    let integration = text_at(
        &setup(
            &app,
            NORTHWIND_ADMIN,
            "createIntegration",
            "CreateIntegrationInput",
            integration_input("WT NinjaOne", true),
            "integration { id }",
        )
        .await?,
        "/integration/id",
    )?;
    let southgate_integration = text_at(
        &setup(
            &app,
            SOUTHGATE_ADMIN,
            "createIntegration",
            "CreateIntegrationInput",
            integration_input("Southgate NinjaOne", false),
            "integration { id }",
        )
        .await?,
        "/integration/id",
    )?;

    let ids = Ids {
        harbor,
        northwind,
        harbor_engagement,
        internal_it,
        compliance,
        cedar_office_team,
        dana,
        cedar_partner,
        member,
        contractor,
        production,
        riverside,
        cedar_environment,
        linked_ninja_id: external(linked, "NINJAONE").context("ninja id")?,
        linked_connectwise_id: external(linked, "CONNECTWISE_MANAGE").context("cw id")?,
        linked_system,
        system: others[0].clone(),
        retired_system: others[1].clone(),
        ticket: text_at(&data, "/tickets/edges/0/node/id")?,
        cedar_ticket: text_at(&data, "/cedarTickets/edges/0/node/id")?,
        alert: text_at(&data, "/alerts/edges/0/node/id")?,
        runbook: text_at(&data, "/runbooks/edges/0/node/id")?,
        archived_runbook: text_at(&data, "/runbooks/edges/1/node/id")?,
        draft,
        proposed,
        agreed,
        entry,
        cedar_entry: text_at(&data, "/cedarChanges/edges/0/node/id")?,
        integration,
        integration_uuid: entities::integration::Entity::find()
            .filter(entities::integration::Column::Name.eq("WT NinjaOne"))
            .one(&app.db)
            .await?
            .context("the integration made above")?
            .id,
        southgate_integration,
    };
    Ok((app, ids))
}

/// Checks that this file covers exactly the served schema's mutations and the SDL's.
async fn check_coverage(app: &TestApp) -> anyhow::Result<BTreeMap<String, Signature>> {
    let served = signatures(app).await?;
    let covered: BTreeSet<String> = COVERED.iter().map(|name| (*name).to_owned()).collect();
    let served_names: BTreeSet<String> = served.keys().cloned().collect();
    assert_eq!(
        served_names.difference(&covered).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "mutations of the schema with no row in the write tenancy matrix: add them"
    );
    assert_eq!(
        covered.difference(&served_names).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "rows of the write tenancy matrix for mutations the schema no longer has"
    );
    assert_eq!(
        sdl_mutations()?,
        served_names,
        "api/schema.graphql and the served schema list different mutations"
    );
    Ok(served)
}

#[tokio::test]
async fn every_mutation_refuses_other_tenants_lower_roles_and_viewers_and_writes_nothing()
-> anyhow::Result<()> {
    let (app, ids) = prepare().await?;
    let signatures = check_coverage(&app).await?;
    let specs = matrix(&ids);
    let rows: Vec<&str> = specs.iter().map(|spec| spec.mutation).collect();
    assert_eq!(rows, COVERED, "one row per mutation, in the schema's order");

    let before = dump(&app.db).await?;
    let mut holes = Vec::new();
    let mut calls = 0;
    for spec in &specs {
        for (case, caller, input) in spec.cases() {
            calls += 1;
            match call(&app, &signatures, spec.mutation, caller, &input).await? {
                Outcome::Refused(_) => {}
                Outcome::Succeeded(payload) => {
                    holes.push(format!(
                        "{} — {case}: SUCCEEDED: {}",
                        spec.mutation,
                        short(&payload)
                    ));
                }
                Outcome::Unexpected(response) => {
                    holes.push(format!(
                        "{} — {case}: not a refusal: {response}",
                        spec.mutation
                    ));
                }
            }
        }
    }
    // A call that got through may have started background work (a sync): let it land.
    if !holes.is_empty() {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    let after = dump(&app.db).await?;
    let changed = differences(&before, &after);
    eprintln!(
        "write tenancy matrix: {} mutations, {calls} refused calls expected, {} holes, {} tables changed",
        specs.len(),
        holes.len(),
        changed.len()
    );
    let mut report = String::new();
    for hole in &holes {
        let _ = writeln!(report, "  HOLE {hole}");
    }
    for change in &changed {
        let _ = writeln!(report, "  WRITTEN {change}");
    }
    assert!(
        holes.is_empty() && changed.is_empty(),
        "{} of {calls} calls were not refused and {} tables changed:\n{report}",
        holes.len(),
        changed.len()
    );
    app.stop().await
}

#[tokio::test]
async fn every_probe_input_succeeds_for_its_rightful_caller() -> anyhow::Result<()> {
    let (app, ids) = prepare().await?;
    let signatures = check_coverage(&app).await?;
    let specs = matrix(&ids);
    let mut failures = Vec::new();
    let ordered = specs
        .iter()
        .filter(|spec| !spec.last)
        .chain(specs.iter().filter(|spec| spec.last));
    for spec in ordered {
        match call(&app, &signatures, spec.mutation, spec.rightful, &spec.input).await? {
            Outcome::Succeeded(_) => {}
            Outcome::Refused(why) | Outcome::Unexpected(why) => failures.push(format!(
                "  {} as {}: {why}",
                spec.mutation,
                spec.rightful.describe()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "probe inputs the rightful caller cannot send (the refusals of the matrix prove nothing for these):\n{}",
        failures.join("\n")
    );
    app.stop().await
}

/// One record of each kind a bulk upsert writes, with its external key, in `environment`.
async fn external_keys(
    app: &TestApp,
    environment: &str,
) -> anyhow::Result<Vec<(&'static str, String, String, String)>> {
    let data = app
        .query(
            &app.provider_admin_token(),
            "query($env: ID!) {
                systems(first: 100, filter: { environmentIds: [$env] }) { edges { node { id externalIds { source id } } } }
                tickets(first: 100, filter: { environmentIds: [$env] }) { edges { node { id externalIds { source id } } } }
                alerts(first: 100, filter: { environmentIds: [$env] }) { edges { node { id externalIds { source id } } } }
                changeLog(first: 100, filter: { environmentIds: [$env], sources: [RMM, PSA] }) { edges { node { id externalIds { source id } } } }
            }",
            json!({ "env": environment }),
        )
        .await?;
    let mut keys = Vec::new();
    for (field, mutation) in [
        ("systems", "upsertSystems"),
        ("tickets", "upsertTickets"),
        ("alerts", "upsertAlerts"),
        ("changeLog", "recordChanges"),
    ] {
        let (id, source, external) = data[field]["edges"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|edge| {
                let link = edge["node"]["externalIds"].get(0)?;
                Some((
                    edge["node"]["id"].as_str()?.to_owned(),
                    link["source"].as_str()?.to_owned(),
                    link["id"].as_str()?.to_owned(),
                ))
            })
            .with_context(|| format!("no {field} with an external id in {environment}"))?;
        keys.push((mutation, id, source, external));
    }
    Ok(keys)
}

/// The record of `mutation` keyed `(source, external)`, in `environment`.
fn takeover_input(mutation: &str, source: &str, external: &str, environment: &str) -> Value {
    let hour_ago = instant(Utc::now() - Duration::hours(1));
    let record = match mutation {
        "upsertSystems" => {
            json!({ "externalId": external, "environmentId": environment, "name": "WT-TAKEOVER", "kind": "SERVER" })
        }
        "upsertTickets" => {
            json!({ "externalId": external, "environmentId": environment, "title": "WT takeover", "status": "RESOLVED", "priority": "LOW" })
        }
        "upsertAlerts" => {
            json!({ "externalId": external, "environmentId": environment, "message": "WT takeover", "severity": "LOW", "raisedAt": hour_ago, "resolved": true })
        }
        _ => {
            json!({ "externalId": external, "environmentId": environment, "summary": "WT takeover", "category": "OTHER", "occurredAt": hour_ago })
        }
    };
    json!({ "source": source, "records": [record] })
}

/// The bulk upserts key records by `(source, externalId)`: one tenant sending another tenant's
/// key into its own environment may get a record of its own or a refusal, but never the other
/// tenant's record, and no row that existed before changes or disappears.
#[tokio::test]
async fn another_tenants_external_keys_neither_reach_nor_reveal_its_records() -> anyhow::Result<()>
{
    let (app, ids) = prepare().await?;
    let signatures = check_coverage(&app).await?;
    let directions = [
        (HARBOR_ADMIN, &ids.production, &ids.cedar_environment),
        (CEDAR_ADMIN, &ids.cedar_environment, &ids.production),
    ];
    let mut probes = Vec::new();
    for (attacker, own, victims) in directions {
        for (mutation, victim_id, source, external) in external_keys(&app, victims).await? {
            probes.push((
                attacker,
                mutation,
                victim_id,
                takeover_input(mutation, &source, &external, own),
                format!("{source} `{external}`"),
            ));
        }
    }
    let before = dump(&app.db).await?;
    let mut holes = Vec::new();
    for (attacker, mutation, victim_id, input, key) in &probes {
        let case = format!("another tenant's key {key}, as {}", attacker.describe());
        match call(&app, &signatures, mutation, *attacker, input).await? {
            Outcome::Refused(_) => {}
            Outcome::Succeeded(payload) => {
                let answered = payload["results"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|result| result["node"]["id"].as_str())
                    .any(|id| id == victim_id);
                if answered {
                    holes.push(format!(
                        "{mutation} — {case}: answered with the other tenant's record: {}",
                        short(&payload)
                    ));
                }
            }
            Outcome::Unexpected(response) => {
                holes.push(format!("{mutation} — {case}: not a refusal: {response}"));
            }
        }
    }
    let after = dump(&app.db).await?;
    // Only additions are allowed: the attacker's own new records.
    let mut report = String::new();
    for (table, rows) in &before {
        let now = count(after.get(table).map_or(&[][..], Vec::as_slice));
        let gone: Vec<String> = count(rows)
            .into_iter()
            .filter(|(row, n)| now.get(row).copied().unwrap_or(0) < *n)
            .map(|(row, _)| row.chars().take(500).collect())
            .collect();
        if !gone.is_empty() {
            let _ = writeln!(
                report,
                "  CHANGED `{table}`: {} rows changed or vanished:\n      - {}",
                gone.len(),
                gone.join("\n      - ")
            );
        }
    }
    for hole in &holes {
        let _ = writeln!(report, "  HOLE {hole}");
    }
    assert!(
        report.is_empty(),
        "another tenant's external keys reach its records:\n{report}"
    );
    app.stop().await
}
