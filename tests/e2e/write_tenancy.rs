//! Write-side tenancy matrix: every mutation of the schema, aimed at one tenant's objects, is
//! refused
//! - (a) to the admin of another tenant: Cedar & Pine (another client of the same provider),
//!   Southgate IT (another provider, inserted for this test), and where the object is not theirs
//!   to manage, Northwind (the provider, on its client's people, teams and memberships) or Harbor
//!   (the client, on its provider's integrations and engagements); plus variants where the
//!   attacker names its own object and a reference to the victim's (its own environment with the
//!   victim's system, team, ticket or person), which must be refused on the field naming the
//!   victim's object; and, for what a sync job may write, the victim's admin with an INTEGRATION
//!   token naming its provider's integration (forged attribution, which the server must reject
//!   outright: `UNAUTHENTICATED` counts as a refusal there);
//! - (b) to the victim's own admin holding a token of the role just below the one the mutation
//!   needs (MEMBER for admin and sync writes, VIEWER for member writes), and an INTEGRATION token
//!   where the mutation does not take one;
//! - (c) to a VIEWER token of the victim's own organization;
//!
//! and a dump of every table is the same afterwards. "Refused" is a top-level error coded
//! `FORBIDDEN` or `NOT_FOUND`, or a payload with `userErrors`; a success or any other error
//! (`INTERNAL`, an input the schema rejects) is a hole. Every hole is collected before the test
//! fails, so one run names them all.
//!
//! The victim is Harbor Health Partners (the co-managed client) and, for what belongs to the
//! provider (its integrations, its engagements, creating clients), Northwind Managed Services.
//!
//! The rows are checked against the served schema and `api/schema.graphql`: a new mutation fails
//! these tests until it has a row here. A second test sends every row's input as the object's
//! rightful caller and expects it to succeed, so no refusal in the matrix is merely a malformed
//! or ill-timed input. A third test sends each bulk upsert another tenant's `(source,
//! externalId)` into the attacker's own environment: the answer may be a record of the attacker's
//! own or a refusal, never the other tenant's record, and no row that existed before may change.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::Context as _;
use chrono::{Duration, SecondsFormat, Utc};
use entities::enums::{OrganizationKind, Role};
use sea_orm::{ActiveModelBehavior, ActiveModelTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Value, json};
use tests::{Dump, TestApp};

/// Top-level error codes that count as a refusal. `BAD_USER_INPUT` does not: the probes' ids
/// are well-formed ids of the right type, so it would mean an input the schema rejects.
const REFUSAL_CODES: [&str; 2] = ["FORBIDDEN", "NOT_FOUND"];

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
    /// Whether a sync job's token (INTEGRATION) may make this mutation: when it may, the owner's
    /// admin sends `input` with a token issued for its provider's integration, one more case
    /// (a); when not, the owner's admin claiming INTEGRATION is one more case (b).
    sync_may: bool,
    /// Case (a): other tenants sending `input`.
    attackers: Vec<Caller>,
    /// Case (a) variants: an attacker's own object with a reference to the victim's.
    mixed: Vec<Case>,
    /// Who may send `input` (the second test).
    rightful: Caller,
    /// The rightful call ends, archives or disables what other rightful calls use: run it last.
    last: bool,
}

/// One call the matrix expects refused.
#[derive(Clone)]
struct Case {
    label: String,
    caller: Caller,
    input: Value,
    /// For a variant naming the attacker's own object and the victim's, the input field (its path
    /// under `input`) that names the victim's object: the refusal must name it, so that the
    /// variant cannot pass for another reason.
    blame: Option<&'static str>,
}

impl Case {
    fn new(what: &str, caller: Caller, input: Value, blame: Option<&'static str>) -> Self {
        Self {
            label: format!("{what}, as {}", caller.describe()),
            caller,
            input,
            blame,
        }
    }
}

impl Spec {
    fn new(mutation: &'static str, owner: Owner, lower: Role, input: Value) -> Self {
        Self {
            mutation,
            input,
            owner,
            lower,
            sync_may: false,
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

    /// A case (a) variant, `what` by `caller`: this row's input with the fields of `changes`
    /// set, to be refused on the field `blame`.
    fn mixed(
        mut self,
        what: &'static str,
        caller: Caller,
        blame: &'static str,
        changes: Value,
    ) -> Self {
        let input = with(&self.input, changes);
        self.mixed.push(Case::new(
            &format!("(a) {what}"),
            caller,
            input,
            Some(blame),
        ));
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

    /// Every refused call of this row; `provider_integration` is the victim's provider's.
    fn cases(&self, provider_integration: uuid::Uuid) -> Vec<Case> {
        let admin = self.owner.admin();
        let mut own_side = Vec::new();
        if self.sync_may {
            own_side.push((
                "(a) a sync token naming its provider's integration",
                admin.for_integration(provider_integration),
            ));
        }
        own_side.push(("(b) lower role", admin.with_role(self.lower)));
        if !self.sync_may {
            own_side.push((
                "(b) a sync job's token, which this mutation does not take",
                admin.with_role(Role::Integration),
            ));
        }
        own_side.push(("(c) viewer", self.owner.viewer()));
        let plain =
            |(what, caller): (&str, Caller)| Case::new(what, caller, self.input.clone(), None);
        self.attackers
            .iter()
            .map(|attacker| plain(("(a) another tenant's ids", *attacker)))
            .chain(self.mixed.iter().cloned())
            .chain(own_side.into_iter().map(plain))
            .collect()
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
    /// A Northwind ConnectWise integration (a PSA: team mappings are for PSAs only).
    psa_integration: String,
    /// Northwind's Service Desk team.
    service_desk: String,
    /// A piece of Harbor evidence (its risk analysis, which Harbor's Compliance Office answers
    /// for), not signed.
    evidence: String,
    /// A Harbor outbound webhook endpoint.
    webhook_endpoint: String,
    /// An outbox event of Harbor's (the UUID a delivery names it by).
    webhook_event: String,
}

fn instant(at: chrono::DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `base`, an object, with the fields of `changes` added or replaced.
fn with(base: &Value, changes: Value) -> Value {
    let mut merged = base.clone();
    if let (Some(fields), Value::Object(changes)) = (merged.as_object_mut(), changes) {
        fields.extend(changes);
    }
    merged
}

/// One row per mutation, in the schema's order.
fn matrix(ids: &Ids) -> Vec<Spec> {
    use Owner::{Harbor, Northwind};
    use Role::{Member, Viewer};
    let hour_ago = instant(Utc::now() - Duration::hours(1));
    let directory = |spec: Spec| spec.also(NORTHWIND_ON_CLIENT_DIRECTORY);
    let provider_side = |spec: Spec| spec.also(HARBOR_ON_PROVIDER);
    let in_cedar = &ids.cedar_environment;
    // One record of each bulk upsert, into Harbor's production environment.
    let device = json!({ "externalId": "wt-device-1", "environmentId": ids.production, "name": "WT-DEVICE-1", "kind": "WORKSTATION" });
    let ticket = json!({ "externalId": "wt-ticket-1", "environmentId": ids.production, "title": "WT synced ticket", "status": "NEW", "priority": "LOW" });
    let alert = json!({ "externalId": "wt-alert-1", "environmentId": ids.production, "message": "WT disk full", "severity": "LOW", "raisedAt": hour_ago });
    let change = json!({ "externalId": "wt-change-1", "environmentId": ids.production, "summary": "WT installed a patch", "category": "PATCH", "occurredAt": hour_ago });
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
            "systemIds",
            json!({ "environmentId": in_cedar }),
        )
        .mixed(
            "its own environment with the victim's ticket",
            CEDAR_ADMIN,
            "ticketId",
            json!({ "environmentId": in_cedar, "systemIds": [], "ticketId": ids.ticket }),
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
            "systemIds",
            json!({ "changeLogEntryId": ids.cedar_entry, "systemIds": [ids.system] }),
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
            "id",
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
            "personId",
            json!({ "teamId": ids.cedar_office_team }),
        )
        .mixed(
            "the victim's team with its own person",
            CEDAR_ADMIN,
            "teamId",
            json!({ "personId": ids.cedar_partner }),
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
            "ticketId",
            json!({ "id": in_cedar, "ticketId": ids.ticket }),
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
            "ticketId",
            json!({ "environmentId": in_cedar, "ticketId": ids.ticket }),
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
            "responsibleTeamId",
            json!({ "environmentId": in_cedar }),
        )
        .mixed(
            "its own environment escalating to the victim's person",
            CEDAR_ADMIN,
            "escalationPath.0.personId",
            json!({ "environmentId": in_cedar, "responsibleTeamId": ids.cedar_office_team, "escalationPath": [{ "personId": ids.dana, "channel": "PHONE" }] }),
        ),
        Spec::new(
            "updateResponsibility",
            Harbor,
            Member,
            json!({ "id": ids.draft, "changes": { "notes": "WT", "accountableTeamId": ids.internal_it } }),
        ),
        Spec::new(
            "proposeResponsibility",
            Harbor,
            Member,
            json!({ "id": ids.draft }),
        ),
        Spec::new(
            "withdrawResponsibility",
            Harbor,
            Member,
            json!({ "id": ids.draft, "reason": "WT" }),
        ),
        Spec::new(
            "approveResponsibility",
            Harbor,
            Member,
            json!({ "id": ids.proposed }),
        ),
        // Harbor proposed it: the provider's side rejects it.
        Spec::new(
            "rejectResponsibility",
            Harbor,
            Member,
            json!({ "id": ids.proposed, "reason": "WT" }),
        )
        .rightful(NORTHWIND_ADMIN),
        Spec::new(
            "proposeResponsibilityChange",
            Harbor,
            Member,
            json!({ "id": ids.agreed, "changes": { "notes": "WT change" }, "reason": "WT" }),
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
            "ownerTeamId",
            json!({ "environmentId": in_cedar }),
        )
        .mixed(
            "its own environment covering the victim's system",
            CEDAR_ADMIN,
            "systemIds",
            json!({ "environmentId": in_cedar, "ownerTeamId": ids.cedar_office_team, "systemIds": [ids.system] }),
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
            "systemId",
            json!({ "environmentId": in_cedar, "systemId": ids.system }),
        )
        .mixed(
            "its own environment assigned to the victim's team",
            CEDAR_ADMIN,
            "assignedTeamId",
            json!({ "environmentId": in_cedar, "assignedTeamId": ids.internal_it }),
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
            "systemId",
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
            "teamId",
            json!({ "id": ids.cedar_ticket, "teamId": ids.internal_it }),
        )
        .mixed(
            "its own ticket and team to the victim's person",
            CEDAR_ADMIN,
            "personId",
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
            json!({ "source": { "kind": "NINJAONE" }, "records": [device] }),
        )
        .sync_may()
        .rightful(NORTHWIND_SYNC),
        Spec::new(
            "upsertTickets",
            Harbor,
            Member,
            json!({ "source": { "kind": "CONNECTWISE_MANAGE" }, "records": [ticket] }),
        )
        .sync_may()
        .mixed(
            "its own environment on the victim's system",
            CEDAR_ADMIN,
            "records.0.systemExternalId",
            json!({ "records": [with(&ticket, json!({ "externalId": "wt-ticket-2", "environmentId": in_cedar, "systemExternalId": ids.linked_connectwise_id }))] }),
        )
        .rightful(NORTHWIND_SYNC),
        Spec::new(
            "upsertAlerts",
            Harbor,
            Member,
            json!({ "source": { "kind": "NINJAONE" }, "records": [alert] }),
        )
        .sync_may()
        .mixed(
            "its own environment on the victim's system",
            CEDAR_ADMIN,
            "records.0.systemExternalId",
            json!({ "records": [with(&alert, json!({ "externalId": "wt-alert-2", "environmentId": in_cedar, "systemExternalId": ids.linked_ninja_id }))] }),
        )
        .rightful(NORTHWIND_SYNC),
        Spec::new(
            "recordChanges",
            Harbor,
            Member,
            json!({ "source": { "kind": "NINJAONE" }, "records": [change] }),
        )
        .sync_may()
        .mixed(
            "its own environment on the victim's system",
            CEDAR_ADMIN,
            "records.0.systemExternalIds",
            json!({ "records": [with(&change, json!({ "externalId": "wt-change-2", "environmentId": in_cedar, "systemExternalIds": [ids.linked_ninja_id] }))] }),
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
        // After every other row that needs the integration: deleting it is final.
        provider_side(Spec::new(
            "deleteIntegration",
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
            "environmentId",
            json!({ "integrationId": ids.southgate_integration, "externalCompanyId": "wt-company-2" }),
        ),
        // After the row above, whose mapping it removes.
        provider_side(Spec::new(
            "unmapIntegrationCompany",
            Northwind,
            Member,
            json!({ "integrationId": ids.integration, "externalCompanyId": "wt-company-1" }),
        )),
        provider_side(Spec::new(
            "mapIntegrationTeam",
            Northwind,
            Member,
            json!({ "integrationId": ids.psa_integration, "teamId": ids.service_desk, "group": "1", "member": "181" }),
        )),
        // After the row above, whose mapping it removes.
        provider_side(Spec::new(
            "unmapIntegrationTeam",
            Northwind,
            Member,
            json!({ "integrationId": ids.psa_integration, "teamId": ids.service_desk }),
        )),
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
        Spec::new(
            "recordEvidence",
            Harbor,
            Viewer,
            json!({ "environmentId": ids.production, "obligation": "hipaa.policy_review", "periodStart": "2026-01-01T00:00:00Z", "periodEnd": "2027-01-01T00:00:00Z", "result": "PASSED", "notes": "WT" }),
        ),
        Spec::new(
            "signEvidence",
            Harbor,
            Member,
            json!({ "evidenceId": ids.evidence }),
        )
        .also(NORTHWIND_ADMIN),
        // No ids: an endpoint always belongs to the caller's own organization.
        Spec::new(
            "createWebhookEndpoint",
            Harbor,
            Member,
            json!({ "url": "https://hooks.example.com/wt", "eventTypes": ["TICKET_CREATED"] }),
        )
        .attackers(&[]),
        // The provider sees Harbor's environments, never Harbor's endpoints.
        Spec::new(
            "updateWebhookEndpoint",
            Harbor,
            Member,
            json!({ "id": ids.webhook_endpoint, "url": "https://hooks.example.com/wt-moved" }),
        )
        .also(NORTHWIND_ADMIN),
        Spec::new(
            "rotateWebhookEndpointSecret",
            Harbor,
            Member,
            json!({ "id": ids.webhook_endpoint }),
        )
        .also(NORTHWIND_ADMIN),
        Spec::new(
            "deleteWebhookEndpoint",
            Harbor,
            Member,
            json!({ "id": ids.webhook_endpoint }),
        )
        .also(NORTHWIND_ADMIN)
        .last(),
        Spec::new(
            "replayWebhookEvent",
            Harbor,
            Member,
            json!({ "eventId": ids.webhook_event, "endpointId": ids.webhook_endpoint }),
        )
        .also(NORTHWIND_ADMIN),
    ]
}

/// A mutation's argument and payload types, from the served schema.
struct Signature {
    input: String,
    payload: String,
}

/// The server under test, with the signatures of the mutations it serves.
struct Target {
    app: TestApp,
    signatures: BTreeMap<String, Signature>,
    /// The served mutations, in the schema's order.
    mutations: Vec<String>,
}

/// What a call did.
enum Outcome {
    /// Why, and the input fields the user errors name (none for a top-level error).
    Refused {
        why: String,
        fields: Vec<String>,
    },
    /// The payload.
    Succeeded(Value),
    Unexpected(String),
}

impl Target {
    /// Reads the served schema's mutations.
    async fn new(app: TestApp) -> anyhow::Result<Self> {
        let data = app
            .query(
                &app.provider_admin_token(),
                "{ __schema { mutationType { fields { name type { name ofType { name } } args { name type { name ofType { name } } } } } } }",
                Value::Null,
            )
            .await?;
        let named = |ty: &Value| {
            ty["name"]
                .as_str()
                .or_else(|| ty["ofType"]["name"].as_str())
                .map(str::to_owned)
        };
        let (mut signatures, mut mutations) = (BTreeMap::new(), Vec::new());
        for field in data["__schema"]["mutationType"]["fields"]
            .as_array()
            .context("mutation fields")?
        {
            let name = field["name"].as_str().context("name")?.to_owned();
            let input = field["args"]
                .as_array()
                .and_then(|args| args.iter().find(|arg| arg["name"] == "input"))
                .and_then(|arg| named(&arg["type"]))
                .with_context(|| format!("{name} takes no `input`"))?;
            let payload = named(&field["type"]).with_context(|| format!("{name}: payload type"))?;
            signatures.insert(name.clone(), Signature { input, payload });
            mutations.push(name);
        }
        Ok(Self {
            app,
            signatures,
            mutations,
        })
    }

    /// Sends `input` to `mutation` as `caller`, selecting `selection` and the user errors.
    async fn send(
        &self,
        caller: Caller,
        mutation: &str,
        input: &Value,
        selection: &str,
    ) -> anyhow::Result<(u16, Value)> {
        let signature = self
            .signatures
            .get(mutation)
            .with_context(|| format!("{mutation} is not in the schema"))?;
        self.app
            .mutation(
                &caller.token(&self.app),
                mutation,
                &signature.input,
                input,
                selection,
            )
            .await
    }

    /// Sends `input` to `mutation` as `caller` and judges the answer.
    async fn call(&self, caller: Caller, mutation: &str, input: &Value) -> anyhow::Result<Outcome> {
        let bulk = self.signatures.get(mutation).is_some_and(|signature| {
            signature.payload.starts_with("Upsert") || signature.payload == "RecordChangesPayload"
        });
        let selection = if bulk {
            "__typename counts { created updated unchanged failed } results { outcome node { id } }"
        } else {
            "__typename"
        };
        let (status, body) = self.send(caller, mutation, input, selection).await?;
        let errors = body["errors"].as_array().cloned().unwrap_or_default();
        if !errors.is_empty() {
            let codes: Vec<&str> = errors
                .iter()
                .map(|error| error["extensions"]["code"].as_str().unwrap_or("(no code)"))
                .collect();
            let message = errors[0]["message"].as_str().unwrap_or_default();
            // A token issued for an integration its organization does not have is rejected
            // outright.
            let refused = |code: &&str| {
                REFUSAL_CODES.contains(code)
                    || (caller.integration.is_some() && *code == "UNAUTHENTICATED")
            };
            return Ok(if codes.iter().all(refused) {
                Outcome::Refused {
                    why: format!("{}: {message}", codes.join(",")),
                    fields: Vec::new(),
                }
            } else {
                Outcome::Unexpected(format!("HTTP {status}, {}", short(&body)))
            });
        }
        let payload = &body["data"][mutation];
        Ok(match payload["userErrors"].as_array() {
            Some(user_errors) if !user_errors.is_empty() => Outcome::Refused {
                why: format!("userErrors {}", short(&payload["userErrors"])),
                fields: user_errors
                    .iter()
                    .map(|error| {
                        error["field"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .skip(1) // `input`
                            .collect::<Vec<_>>()
                            .join(".")
                    })
                    .collect(),
            },
            Some(_) => Outcome::Succeeded(payload.clone()),
            None => Outcome::Unexpected(format!("HTTP {status}, {}", short(&body))),
        })
    }

    /// Runs a setup mutation that must succeed; returns the id of the `object` its payload
    /// names (such as `person`).
    async fn setup(
        &self,
        caller: Caller,
        mutation: &str,
        input: &Value,
        object: &str,
    ) -> anyhow::Result<String> {
        let (status, body) = self
            .send(caller, mutation, input, &format!("{object} {{ id }}"))
            .await?;
        let payload = &body["data"][mutation];
        anyhow::ensure!(
            status == 200
                && body.get("errors").is_none()
                && payload["userErrors"].as_array().is_some_and(Vec::is_empty),
            "setup: {mutation} failed with {status}: {body}"
        );
        text_at(payload, &format!("/{object}/id"))
    }
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

/// Asserts that the matrix has one row per served mutation, in the schema's order, and that
/// the checked-in SDL lists the same mutations.
fn check_coverage(target: &Target, specs: &[Spec]) -> anyhow::Result<()> {
    let rows: Vec<&str> = specs.iter().map(|spec| spec.mutation).collect();
    let served: Vec<&str> = target.mutations.iter().map(String::as_str).collect();
    let missing: Vec<&&str> = served.iter().filter(|name| !rows.contains(name)).collect();
    assert!(
        missing.is_empty(),
        "mutations of the schema with no row in the write tenancy matrix: add them: {missing:?}"
    );
    let stale: Vec<&&str> = rows.iter().filter(|name| !served.contains(name)).collect();
    assert!(
        stale.is_empty(),
        "rows of the write tenancy matrix for mutations the schema no longer has: {stale:?}"
    );
    assert_eq!(rows, served, "one row per mutation, in the schema's order");
    assert_eq!(
        sdl_mutations()?,
        target.mutations.iter().cloned().collect::<BTreeSet<_>>(),
        "api/schema.graphql and the served schema list different mutations"
    );
    Ok(())
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 400 {
        format!("{}…", text.chars().take(400).collect::<String>())
    } else {
        text
    }
}

/// The rows of `old` that `new` lacks, each as often as it is missing.
fn missing_rows<'a>(old: &'a [String], new: &[String]) -> Vec<&'a str> {
    let mut left: BTreeMap<&str, usize> = BTreeMap::new();
    for row in new {
        *left.entry(row).or_default() += 1;
    }
    old.iter()
        .map(String::as_str)
        .filter(|row| match left.get_mut(row) {
            Some(count) if *count > 0 => {
                *count -= 1;
                false
            }
            _ => true,
        })
        .collect()
}

/// A table whose rows differ between two dumps.
struct TableChange<'a> {
    table: &'a str,
    /// Rows only the first dump has (changed or deleted since).
    removed: Vec<&'a str>,
    /// Rows only the second dump has (changed or inserted since).
    added: Vec<&'a str>,
}

impl TableChange<'_> {
    /// One line for the table and at most 8 of its rows, each cut to 500 characters.
    fn describe(&self) -> String {
        const SHOWN: usize = 8;
        let rows: Vec<(&str, &str)> = (self.removed.iter().map(|row| ("-", *row)))
            .chain(self.added.iter().map(|row| ("+", *row)))
            .collect();
        let mut text = format!(
            "table `{}`: {} rows changed or deleted, {} changed or inserted:",
            self.table,
            self.removed.len(),
            self.added.len()
        );
        for (sign, row) in rows.iter().take(SHOWN) {
            let row: String = row.chars().take(500).collect();
            let _ = write!(text, "\n      {sign} {row}");
        }
        if rows.len() > SHOWN {
            let _ = write!(text, "\n      ... and {} more rows", rows.len() - SHOWN);
        }
        text
    }
}

/// What differs between two dumps, table by table.
fn changes<'a>(before: &'a Dump, after: &'a Dump) -> Vec<TableChange<'a>> {
    let tables: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    tables
        .into_iter()
        .filter_map(|table| {
            let old = before.get(table).map_or(&[][..], Vec::as_slice);
            let new = after.get(table).map_or(&[][..], Vec::as_slice);
            (old != new).then(|| TableChange {
                table,
                removed: missing_rows(old, new),
                added: missing_rows(new, old),
            })
        })
        .collect()
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
/// state, an enabled integration), finds the ids of the objects they aim at, and checks that the
/// matrix covers the served schema.
async fn prepare() -> anyhow::Result<(Target, Ids)> {
    let app = TestApp::spawn_with_demo().await?;
    add_southgate(&app).await?;
    let target = Target::new(app).await?;
    let app = &target.app;
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
    let (internal_it, compliance, cedar_office_team, service_desk) = (
        team("Internal IT")?,
        team("Compliance Office")?,
        team("Office Management")?,
        team("Service Desk")?,
    );
    // By name: the provider sees its clients' people, not their login subjects.
    let people = app.all_nodes(&provider, "people", "id displayName").await?;
    let named = |name: &'static str| move |node: &Value| node["displayName"] == name;
    let dana = id_where(&people, "Dana", named("Dana Whitfield"))?;
    let cedar_partner = id_where(&people, "Cedar's partner", named("Elena Park"))?;
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
                systems(first: 100, filter: { environmentIds: [$env] }) { edges { node { id externalIds { source externalId } } } }
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
            .and_then(|link| link["externalId"].as_str())
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
    let person = |subject: &str, name: &str| json!({ "organizationId": harbor, "subject": subject, "displayName": name, "role": "MEMBER" });
    let member = target
        .setup(
            HARBOR_ADMIN,
            "createPerson",
            &person("wt|member", "WT Member"),
            "person",
        )
        .await?;
    let contractor = target
        .setup(
            HARBOR_ADMIN,
            "createPerson",
            &person("wt|contractor", "WT Contractor"),
            "person",
        )
        .await?;
    target
        .setup(
            HARBOR_ADMIN,
            "addTeamMember",
            &json!({ "teamId": internal_it, "personId": member }),
            "team",
        )
        .await?;
    let draft_input = |function: &str| json!({ "environmentId": production, "function": function, "responsibleTeamId": internal_it, "validFrom": "2031-01-01T00:00:00Z" });
    let draft = target
        .setup(
            HARBOR_ADMIN,
            "createResponsibility",
            &draft_input("patching"),
            "responsibility",
        )
        .await?;
    let proposed = target
        .setup(
            HARBOR_ADMIN,
            "createResponsibility",
            &draft_input("backup_recovery"),
            "responsibility",
        )
        .await?;
    target
        .setup(
            HARBOR_ADMIN,
            "proposeResponsibility",
            &json!({ "id": proposed }),
            "responsibility",
        )
        .await?;
    let entry = target
        .setup(
            HARBOR_ADMIN,
            "recordChange",
            &json!({ "environmentId": production, "summary": "WT baseline change", "category": "CONFIGURATION" }),
            "changeLogEntry",
        )
        .await?;
    // Enabled, so that `triggerSync` is refused only for who calls it; no credentials and a
    // closed port, so that nothing leaves the machine.
    let integration_input = |name: &str, enabled: bool| json!({ "name": name, "kind": "NINJAONE", "baseUrl": "http://127.0.0.1:9", "enabled": enabled });
    let integration = target
        .setup(
            NORTHWIND_ADMIN,
            "createIntegration",
            &integration_input("WT NinjaOne", true),
            "integration",
        )
        .await?;
    let southgate_integration = target
        .setup(
            SOUTHGATE_ADMIN,
            "createIntegration",
            &integration_input("Southgate NinjaOne", false),
            "integration",
        )
        .await?;
    let psa_integration = target
        .setup(
            NORTHWIND_ADMIN,
            "createIntegration",
            &json!({ "name": "WT ConnectWise", "kind": "CONNECTWISE_MANAGE", "baseUrl": "http://127.0.0.1:9", "enabled": false, "settings": { "writeBack": true } }),
            "integration",
        )
        .await?;

    let evidence = target
        .setup(
            HARBOR_ADMIN,
            "recordEvidence",
            &json!({ "environmentId": production, "obligation": "hipaa.risk_analysis", "periodStart": "2026-01-01T00:00:00Z", "periodEnd": "2027-01-01T00:00:00Z", "result": "PARTIAL" }),
            "evidence",
        )
        .await?;

    let webhook_endpoint = target
        .setup(
            HARBOR_ADMIN,
            "createWebhookEndpoint",
            &json!({ "url": "https://hooks.example.com/wt-setup", "eventTypes": ["CHANGE_RECORDED"] }),
            "endpoint",
        )
        .await?;
    // Recording the evidence above wrote a change log entry, so Harbor has an event.
    let harbor_uuid = tests::decode_uuid(&json!(harbor));
    let webhook_event = entities::outbox_event::Entity::find()
        .filter(
            entities::outbox_event::COLUMN
                .organization_id
                .eq(harbor_uuid),
        )
        .one(&target.app.db)
        .await?
        .context("Harbor has an outbox event")?
        .id
        .to_string();

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
        integration_uuid: tests::decode_uuid(&json!(integration)),
        integration,
        southgate_integration,
        psa_integration,
        service_desk,
        evidence,
        webhook_endpoint,
        webhook_event,
    };
    check_coverage(&target, &matrix(&ids))?;
    Ok((target, ids))
}

#[tokio::test]
async fn every_mutation_refuses_other_tenants_lower_roles_and_viewers_and_writes_nothing()
-> anyhow::Result<()> {
    let (target, ids) = prepare().await?;
    let specs = matrix(&ids);
    let before = tests::dump(&target.app.db).await?;
    let mut holes = Vec::new();
    let mut calls = 0;
    for spec in &specs {
        for case in spec.cases(ids.integration_uuid) {
            calls += 1;
            let hole = match target.call(case.caller, spec.mutation, &case.input).await? {
                Outcome::Refused { why, fields } => case
                    .blame
                    .filter(|blame| !fields.iter().any(|field| field == blame))
                    .map(|blame| format!("refused, but not on `{blame}`: {why}")),
                Outcome::Succeeded(payload) => Some(format!("SUCCEEDED: {}", short(&payload))),
                Outcome::Unexpected(response) => Some(format!("not a refusal: {response}")),
            };
            if let Some(hole) = hole {
                holes.push(format!("{} — {}: {hole}", spec.mutation, case.label));
            }
        }
    }
    // A call that got through may have started background work (a sync): give it a moment to
    // land, so that the dump shows what it wrote. Only on the way to failing.
    if !holes.is_empty() {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    let after = tests::dump(&target.app.db).await?;
    let changed = changes(&before, &after);
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
        let _ = writeln!(report, "  WRITTEN {}", change.describe());
    }
    assert!(
        holes.is_empty() && changed.is_empty(),
        "{} of {calls} calls were not refused and {} tables changed:\n{report}",
        holes.len(),
        changed.len()
    );
    target.app.stop().await
}

#[tokio::test]
async fn every_probe_input_succeeds_for_its_rightful_caller() -> anyhow::Result<()> {
    let (target, ids) = prepare().await?;
    let specs = matrix(&ids);
    let mut failures = Vec::new();
    let ordered = specs
        .iter()
        .filter(|spec| !spec.last)
        .chain(specs.iter().filter(|spec| spec.last));
    for spec in ordered {
        match target
            .call(spec.rightful, spec.mutation, &spec.input)
            .await?
        {
            Outcome::Succeeded(_) => {}
            Outcome::Refused { why, .. } | Outcome::Unexpected(why) => failures.push(format!(
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
    target.app.stop().await
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
                systems(first: 100, filter: { environmentIds: [$env] }) { edges { node { id externalIds { source externalId } } } }
                tickets(first: 100, filter: { environmentIds: [$env] }) { edges { node { id externalIds { source externalId } } } }
                alerts(first: 100, filter: { environmentIds: [$env] }) { edges { node { id externalIds { source externalId } } } }
                changeLog(first: 100, filter: { environmentIds: [$env], sources: [RMM, PSA] }) { edges { node { id externalIds { source externalId } } } }
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
                    link["externalId"].as_str()?.to_owned(),
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
    json!({ "source": tests::bulk_source(source), "records": [record] })
}

/// The bulk upserts key records by `(source, externalId)`: one tenant sending another tenant's
/// key into its own environment may get a record of its own or a refusal, but never the other
/// tenant's record, and no row that existed before changes or disappears.
#[tokio::test]
async fn another_tenants_external_keys_neither_reach_nor_reveal_its_records() -> anyhow::Result<()>
{
    let (target, ids) = prepare().await?;
    let app = &target.app;
    let directions = [
        (HARBOR_ADMIN, &ids.production, &ids.cedar_environment),
        (CEDAR_ADMIN, &ids.cedar_environment, &ids.production),
    ];
    let mut probes = Vec::new();
    for (attacker, own, victims) in directions {
        for (mutation, victim_id, source, external) in external_keys(app, victims).await? {
            probes.push((
                attacker,
                mutation,
                victim_id,
                takeover_input(mutation, &source, &external, own),
                format!("{source} `{external}`"),
            ));
        }
    }
    let before = tests::dump(&app.db).await?;
    let mut report = String::new();
    for (attacker, mutation, victim_id, input, key) in &probes {
        let case = format!("another tenant's key {key}, as {}", attacker.describe());
        match target.call(*attacker, mutation, input).await? {
            Outcome::Refused { .. } => {}
            Outcome::Succeeded(payload) => {
                let answered = payload["results"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|result| result["node"]["id"].as_str())
                    .any(|id| id == victim_id);
                if answered {
                    let _ = writeln!(
                        report,
                        "  HOLE {mutation} — {case}: answered with the other tenant's record: {}",
                        short(&payload)
                    );
                }
            }
            Outcome::Unexpected(response) => {
                let _ = writeln!(
                    report,
                    "  HOLE {mutation} — {case}: not a refusal: {response}"
                );
            }
        }
    }
    // Only additions are allowed: the attackers' own new records.
    let after = tests::dump(&app.db).await?;
    for change in changes(&before, &after) {
        if !change.removed.is_empty() {
            let _ = writeln!(report, "  CHANGED {}", change.describe());
        }
    }
    assert!(
        report.is_empty(),
        "another tenant's external keys reach its records:\n{report}"
    );
    target.app.stop().await
}
