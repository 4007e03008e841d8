//! People: one visibility rule on every path. A person is visible to their own organization and
//! to the other party of an engagement active today; their login subject only to their own
//! organization. Writes name only people of the environment's two parties.
//!
//! The fixture is the demo: Northwind (provider) serves Harbor (client A, the co-managed clinic)
//! and Cedar (client B, the accountants).

use std::collections::HashSet;

use chrono::Utc;
use entities::enums::{ApprovalDecision, EscalationChannel, ResponsibilityStatus};
use entities::prelude::*;
use entities::{
    change_log_entry, engagement, environment, escalation_step, organization, person,
    responsibility, responsibility_approval, runbook, runbook_revision, team, team_membership,
    ticket, ticket_note,
};
use sea_orm::prelude::*;
use sea_orm::{ActiveModelTrait, IntoActiveModel, QueryFilter, QueryOrder, Set};
use serde_json::{Value, json};
use tests::{TestApp, TestDb, decode_uuid};

/// The demo's Cedar admin: client B's person, never to be shown to client A.
const CEDAR_SUBJECT: &str = "demo|cedar-office";
const CEDAR_NAME: &str = "Tom Becker";

fn cedar_token(app: &TestApp) -> String {
    app.token(CEDAR_SUBJECT, "cedar-pine", entities::enums::Role::Admin)
}

async fn organization_id(app: &TestApp, slug: &str) -> anyhow::Result<Uuid> {
    Ok(Organization::find()
        .filter(organization::COLUMN.slug.eq(slug))
        .one(&app.db)
        .await?
        .expect("demo organization")
        .id)
}

async fn person_by_subject(app: &TestApp, subject: &str) -> anyhow::Result<person::Model> {
    Ok(Person::find()
        .filter(person::COLUMN.subject.eq(subject))
        .one(&app.db)
        .await?
        .expect("demo person"))
}

fn global_person(id: Uuid) -> String {
    api::ids::encode(api::ids::NodeType::Person, id).0
}

/// Harbor's production environment, one of its agreed function-level entries in force now (with
/// its function key), as Harbor reads them.
async fn harbor_entry(app: &TestApp, harbor: &str) -> anyhow::Result<(Value, Value, String)> {
    let data = app
        .query(
            harbor,
            "{ environments(first: 1) { edges { node { id name } } } }",
            Value::Null,
        )
        .await?;
    let environment = data["environments"]["edges"][0]["node"]["id"].clone();
    assert!(environment.is_string(), "{data}");
    let matrix = app
        .query(
            harbor,
            "query($id: ID!) { responsibilityMatrix(environmentId: $id) { rows { function { key } default { id } } } }",
            json!({ "id": environment }),
        )
        .await?;
    let row = matrix["responsibilityMatrix"]["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row["function"]["key"] == "patching"))
        .cloned()
        .expect("a patching row");
    Ok((
        environment,
        row["default"]["id"].clone(),
        "patching".to_owned(),
    ))
}

const CREATE: &str = "mutation($input: CreateResponsibilityInput!) { createResponsibility(input: $input) { responsibility { id escalationPath { person { id } } } userErrors { field code message } } }";

#[tokio::test]
async fn another_clients_person_cannot_enter_an_escalation_path_even_by_the_provider_admin()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let harbor = app.client_admin_token();
    let (environment, _, _) = harbor_entry(&app, &harbor).await?;
    let team = app
        .query(
            &harbor,
            "{ teams(first: 10) { edges { node { id name } } } }",
            Value::Null,
        )
        .await?["teams"]["edges"][0]["node"]["id"]
        .clone();
    let cedar_person = person_by_subject(&app, CEDAR_SUBJECT).await?;
    let msp_person = person_by_subject(&app, api::demo::PROVIDER_ADMIN.0).await?;
    let harbor_person = person_by_subject(&app, api::demo::CLIENT_IT_ADMIN.0).await?;
    let input = |person: Uuid| {
        json!({ "input": {
            "environmentId": environment, "function": "backup_recovery",
            "responsibleTeamId": team,
            "escalationPath": [{ "personId": global_person(person), "channel": "PHONE" }],
            "validFrom": "2031-01-01T00:00:00Z" } })
    };

    // The provider admin sees Cedar's people (it serves Cedar), but Cedar is not a party of
    // Harbor's environment.
    let before = app.count("escalation_steps").await?;
    let entries_before = app.count("responsibilities").await?;
    let refused = app.query(&provider, CREATE, input(cedar_person.id)).await?;
    let payload = &refused["createResponsibility"];
    assert_eq!(payload["responsibility"], Value::Null, "{refused}");
    assert_eq!(
        payload["userErrors"],
        json!([{
            "field": ["input", "escalationPath", "0", "personId"],
            "code": "NOT_FOUND",
            "message": "no person with this id works in the environment",
        }]),
        "{refused}"
    );
    assert_eq!(app.count("escalation_steps").await?, before);
    assert_eq!(app.count("responsibilities").await?, entries_before);

    // The error is the same as for an id that names nobody.
    let nobody = app.query(&provider, CREATE, input(Uuid::now_v7())).await?;
    assert_eq!(
        nobody["createResponsibility"]["userErrors"], payload["userErrors"],
        "a person elsewhere and no person look the same"
    );

    // Harbor's admin cannot either (it never could see Cedar).
    let refused = app.query(&harbor, CREATE, input(cedar_person.id)).await?;
    assert_eq!(
        refused["createResponsibility"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );

    // Both parties of the environment may be named, by either side.
    for (token, person) in [(&provider, harbor_person.id), (&harbor, msp_person.id)] {
        let created = app.query(token, CREATE, input(person)).await?;
        assert_eq!(
            created["createResponsibility"]["userErrors"],
            json!([]),
            "{created}"
        );
        assert_eq!(
            created["createResponsibility"]["responsibility"]["escalationPath"][0]["person"]["id"],
            global_person(person)
        );
    }
    assert_eq!(app.count("escalation_steps").await?, before + 2);
    app.stop().await
}

#[tokio::test]
async fn an_assignee_must_be_a_party_of_the_environment() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let harbor_org = organization_id(&app, "harbor-health").await?;
    let harbor_ticket = Ticket::find()
        .filter(
            ticket::COLUMN.environment_id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(environment::Column::Id)
                    .from(environment::Entity)
                    .and_where(environment::Column::OrganizationId.eq(harbor_org))
                    .to_owned(),
            ),
        )
        .one(&app.db)
        .await?
        .expect("a Harbor ticket");
    let cedar_person = person_by_subject(&app, CEDAR_SUBJECT).await?;
    // Even a team membership written around the service layer does not make Cedar's person an
    // assignee of Harbor's ticket.
    let cedar_team = Team::find()
        .filter(
            team::COLUMN
                .organization_id
                .eq(cedar_person.organization_id),
        )
        .one(&app.db)
        .await?
        .expect("a Cedar team");
    let (_, body) = app
        .mutation(
            &provider,
            "assignTicket",
            "AssignTicketInput",
            &json!({
                "id": api::ids::encode(api::ids::NodeType::Ticket, harbor_ticket.id).0,
                "teamId": api::ids::encode(api::ids::NodeType::Team, cedar_team.id).0,
                "personId": global_person(cedar_person.id),
            }),
            "ticket { id }",
        )
        .await?;
    let errors = &body["data"]["assignTicket"]["userErrors"];
    let fields: HashSet<String> = errors
        .as_array()
        .expect("user errors")
        .iter()
        .map(|error| {
            assert_eq!(error["code"], "NOT_FOUND", "{body}");
            error["field"].to_string()
        })
        .collect();
    assert!(
        fields.contains(&json!(["input", "personId"]).to_string()),
        "{body}"
    );
    let unchanged = Ticket::find_by_id(harbor_ticket.id)
        .one(&app.db)
        .await?
        .expect("ticket");
    assert_eq!(
        unchanged.assigned_person_id,
        harbor_ticket.assigned_person_id
    );
    app.stop().await
}

/// Writes, around the service layer, what the probe found written before the rule existed: Cedar's
/// person in every person reference of Harbor's data. Returns the ids to look at.
struct Planted {
    ticket: Uuid,
    alert: Uuid,
    runbook: Uuid,
    entry: Uuid,
    team: Uuid,
}

async fn plant_cedar_person_in_harbor(
    app: &TestApp,
    responsibility_id: Uuid,
    cedar: &person::Model,
) -> anyhow::Result<Planted> {
    let db = &app.db;
    let now = Utc::now();
    let entry = Responsibility::find_by_id(responsibility_id)
        .one(db)
        .await?
        .expect("entry");
    assert_eq!(entry.status, ResponsibilityStatus::Agreed);
    let harbor_environment = entry.environment_id;
    escalation_step::Model {
        id: Uuid::now_v7(),
        responsibility_id,
        position: 99,
        team_id: None,
        person_id: Some(cedar.id),
        channel: EscalationChannel::Phone,
        minutes_before_next: None,
    }
    .into_active_model()
    .insert(db)
    .await?;
    responsibility_approval::Model {
        id: Uuid::now_v7(),
        responsibility_id,
        organization_id: cedar.organization_id,
        person_id: cedar.id,
        approved_at: now,
        decision: ApprovalDecision::Agree,
        revoked_at: None,
    }
    .into_active_model()
    .insert(db)
    .await?;

    let ticket = Ticket::find()
        .filter(ticket::COLUMN.environment_id.eq(harbor_environment))
        .filter(ticket::COLUMN.assigned_team_id.is_not_null())
        .one(db)
        .await?
        .expect("a Harbor ticket with a team");
    let mut assigned = ticket.clone().into_active_model();
    assigned.assigned_person_id = Set(Some(cedar.id));
    assigned.update(db).await?;
    ticket_note::Model {
        id: Uuid::now_v7(),
        ticket_id: ticket.id,
        author_id: Some(cedar.id),
        author_name: None,
        body: "planted note".to_owned(),
        internal: false,
        created_at: now,
        external_source: None,
        external_id: None,
        external_url: None,
    }
    .into_active_model()
    .insert(db)
    .await?;
    let harbor = Environment::find_by_id(harbor_environment)
        .one(db)
        .await?
        .expect("environment")
        .organization_id;
    let team = Team::find()
        .filter(team::COLUMN.organization_id.eq(harbor))
        .one(db)
        .await?
        .expect("a Harbor team")
        .id;
    team_membership::Model {
        team_id: team,
        person_id: cedar.id,
        created_at: now,
    }
    .into_active_model()
    .insert(db)
    .await?;

    let alert = Alert::find()
        .filter(
            entities::alert::COLUMN
                .environment_id
                .eq(harbor_environment),
        )
        .one(db)
        .await?
        .expect("a Harbor alert");
    let mut acknowledged = alert.clone().into_active_model();
    acknowledged.acknowledged_by_id = Set(Some(cedar.id));
    acknowledged.acknowledged_at = Set(Some(now));
    acknowledged.update(db).await?;

    let runbook = Runbook::find()
        .filter(runbook::COLUMN.environment_id.eq(harbor_environment))
        .one(db)
        .await?
        .expect("a Harbor runbook");
    let mut reviewed = runbook.clone().into_active_model();
    reviewed.last_reviewed_by_id = Set(Some(cedar.id));
    reviewed.update(db).await?;
    let last = RunbookRevision::find()
        .filter(runbook_revision::COLUMN.runbook_id.eq(runbook.id))
        .order_by_desc(runbook_revision::Column::Number)
        .one(db)
        .await?
        .map_or(0, |revision| revision.number);
    runbook_revision::Model {
        id: Uuid::now_v7(),
        runbook_id: runbook.id,
        number: last + 1,
        body: "# planted".to_owned(),
        change_summary: None,
        author_id: Some(cedar.id),
        created_at: now,
    }
    .into_active_model()
    .insert(db)
    .await?;

    let template = ChangeLogEntry::find()
        .filter(
            change_log_entry::COLUMN
                .environment_id
                .eq(harbor_environment),
        )
        .filter(change_log_entry::COLUMN.actor_id.is_not_null())
        .one(db)
        .await?
        .expect("a Harbor entry by a person");
    let entry = change_log_entry::Model {
        id: Uuid::now_v7(),
        summary: "planted entry".to_owned(),
        actor_id: Some(cedar.id),
        actor_name: "someone".to_owned(),
        recorded_by_id: Some(cedar.id),
        corrects_id: None,
        change_set_id: None,
        ticket_id: None,
        external_source: None,
        external_id: None,
        external_url: None,
        recorded_at: now,
        occurred_at: now,
        ..template
    }
    .into_active_model()
    .insert(db)
    .await?;
    Ok(Planted {
        ticket: ticket.id,
        alert: alert.id,
        runbook: runbook.id,
        entry: entry.id,
        team,
    })
}

const EVERY_PATH: &str = r"
query($environment: ID!, $function: String!, $ticket: ID!, $alert: ID!, $runbook: ID!, $entry: ID!, $team: ID!, $person: ID!) {
  responsibilityMatrix(environmentId: $environment) { rows { default { escalationPath { position person { id displayName email subject } } approvals { person { id displayName } } } } }
  whoOwns(environmentId: $environment, function: $function) { responsibility { escalationPath { position person { id displayName } } approvals { organization { slug } person { id displayName } } } }
  ticket: node(id: $ticket) { ... on Ticket { assignedPerson { id displayName } assignedTeam { members { nodes { id displayName email subject } } } notes { nodes { body author { id displayName } } } } }
  alert: node(id: $alert) { ... on Alert { acknowledgedBy { id displayName } } }
  runbook: node(id: $runbook) { ... on Runbook { lastReviewedBy { id displayName } revisions { nodes { number author { id displayName } } } currentRevision { author { id } } } }
  entry: node(id: $entry) { ... on ChangeLogEntry { summary actor { id displayName } recordedBy { person { id displayName } } } }
  team: node(id: $team) { ... on Team { members { nodes { id displayName } } } }
  person: node(id: $person) { id }
  people(first: 100) { totalCount edges { node { id displayName organization { slug } } } }
  changeLog(first: 100) { edges { node { actor { id } recordedBy { person { id } } } } }
}";

#[tokio::test]
async fn no_nested_path_shows_another_tenants_person_to_a_clients_users() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let (environment, entry, function) = harbor_entry(&app, &harbor).await?;
    let cedar = person_by_subject(&app, CEDAR_SUBJECT).await?;
    let planted = plant_cedar_person_in_harbor(&app, decode_uuid(&entry), &cedar).await?;
    let variables = json!({
        "environment": environment,
        "function": function,
        "ticket": api::ids::encode(api::ids::NodeType::Ticket, planted.ticket).0,
        "alert": api::ids::encode(api::ids::NodeType::Alert, planted.alert).0,
        "runbook": api::ids::encode(api::ids::NodeType::Runbook, planted.runbook).0,
        "entry": api::ids::encode(api::ids::NodeType::ChangeLogEntry, planted.entry).0,
        "team": api::ids::encode(api::ids::NodeType::Team, planted.team).0,
        "person": global_person(cedar.id),
    });

    // Cedar's own admin sees the person: the rows exist and the query reaches them.
    let cedar_view = app
        .query(
            &cedar_token(&app),
            "query($person: ID!) { node(id: $person) { ... on Person { displayName subject } } }",
            json!({ "person": global_person(cedar.id) }),
        )
        .await?;
    assert_eq!(
        cedar_view["node"],
        json!({ "displayName": CEDAR_NAME, "subject": CEDAR_SUBJECT })
    );

    for token in [
        harbor.clone(),
        app.token(
            "demo|harbor-compliance",
            "harbor-health",
            entities::enums::Role::Viewer,
        ),
    ] {
        let data = app.query(&token, EVERY_PATH, variables.clone()).await?;
        let text = data.to_string();
        for secret in [
            global_person(cedar.id).as_str(),
            CEDAR_NAME,
            CEDAR_SUBJECT,
            cedar.email.as_deref().expect("demo email"),
        ] {
            assert!(!text.contains(secret), "{secret} leaks: {data}");
        }
        // Each planted reference reads as null (or is left out of a list).
        let step = data["responsibilityMatrix"]["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .flat_map(|row| {
                row["default"]["escalationPath"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .find(|step| step["position"] == 99)
            .expect("the planted step is listed");
        assert_eq!(step["person"], Value::Null);
        let who = &data["whoOwns"]["responsibility"];
        assert_eq!(
            who["escalationPath"]
                .as_array()
                .expect("path")
                .iter()
                .find(|step| step["position"] == 99)
                .expect("planted step")["person"],
            Value::Null
        );
        assert!(
            who["approvals"]
                .as_array()
                .expect("approvals")
                .iter()
                .any(|approval| approval["organization"]["slug"] == "cedar-pine"
                    && approval["person"].is_null()),
            "{who}"
        );
        assert_eq!(data["ticket"]["assignedPerson"], Value::Null);
        let note = data["ticket"]["notes"]["nodes"]
            .as_array()
            .expect("notes")
            .iter()
            .find(|note| note["body"] == "planted note")
            .expect("planted note");
        assert_eq!(note["author"], Value::Null);
        assert_eq!(data["alert"]["acknowledgedBy"], Value::Null);
        assert_eq!(data["runbook"]["lastReviewedBy"], Value::Null);
        assert_eq!(data["runbook"]["currentRevision"]["author"], Value::Null);
        assert_eq!(data["entry"]["summary"], "planted entry");
        assert_eq!(data["entry"]["actor"], Value::Null);
        assert_eq!(data["entry"]["recordedBy"]["person"], Value::Null);
        assert_eq!(data["person"], Value::Null);
        // Team members: Harbor's own and Northwind's staff stay; Cedar's person is filtered.
        let members = data["team"]["members"]["nodes"]
            .as_array()
            .expect("members");
        assert!(!members.is_empty());
        // Root list: Harbor's and Northwind's people only, and the count agrees.
        let slugs: HashSet<&str> = data["people"]["edges"]
            .as_array()
            .expect("people")
            .iter()
            .map(|edge| edge["node"]["organization"]["slug"].as_str().expect("slug"))
            .collect();
        assert_eq!(
            slugs,
            HashSet::from(["harbor-health", "northwind-msp"]),
            "{data}"
        );
        assert_eq!(
            data["people"]["totalCount"].as_u64(),
            Some(data["people"]["edges"].as_array().expect("edges").len() as u64)
        );
    }

    // The matrix export names no one Harbor may not see.
    let response = app
        .client
        .get(format!(
            "{}/environments/{}/responsibility-matrix?format=csv",
            app.address,
            environment.as_str().expect("id")
        ))
        .bearer_auth(&harbor)
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    let csv = response.text().await?;
    assert!(!csv.contains(CEDAR_NAME), "{csv}");
    assert!(csv.contains("99. (not visible) (phone)"), "{csv}");
    app.stop().await
}

#[tokio::test]
async fn login_subjects_are_seen_only_within_the_persons_own_organization() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let provider = app.provider_admin_token();
    let query = "{ people(first: 100) { edges { node { subject displayName email organization { slug } } } } tickets(first: 50) { edges { node { assignedTeam { organization { slug } members(first: 5) { nodes { subject displayName email organization { slug } } } } } } } }";

    // A client's users: their colleagues' subjects, Northwind staff's names and addresses only.
    let data = app.query(&harbor, query, Value::Null).await?;
    let mut people: Vec<Value> = data["people"]["edges"]
        .as_array()
        .expect("people")
        .iter()
        .map(|edge| edge["node"].clone())
        .collect();
    people.extend(
        data["tickets"]["edges"]
            .as_array()
            .expect("tickets")
            .iter()
            .flat_map(|edge| {
                edge["node"]["assignedTeam"]["members"]["nodes"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            }),
    );
    let mut seen = HashSet::new();
    for person in &people {
        let slug = person["organization"]["slug"].as_str().expect("slug");
        seen.insert(slug.to_owned());
        assert!(person["displayName"].is_string());
        assert!(person["email"].is_string(), "{person}");
        match slug {
            "harbor-health" => assert!(
                person["subject"]
                    .as_str()
                    .is_some_and(|subject| subject.starts_with("demo|harbor")),
                "{person}"
            ),
            "northwind-msp" => assert_eq!(person["subject"], Value::Null, "{person}"),
            other => panic!("Harbor sees a person of {other}"),
        }
    }
    assert_eq!(
        seen,
        HashSet::from(["harbor-health".to_owned(), "northwind-msp".to_owned()]),
        "MSP staff reach Harbor through assigned teams and the people list"
    );

    // The provider's staff: their colleagues' subjects, none of the clients' people's.
    let data = app.query(&provider, query, Value::Null).await?;
    let mut own = 0;
    for edge in data["people"]["edges"].as_array().expect("people") {
        let person = &edge["node"];
        if person["organization"]["slug"] == "northwind-msp" {
            own += 1;
            assert!(
                person["subject"]
                    .as_str()
                    .is_some_and(|subject| subject.starts_with("demo|northwind")),
                "{person}"
            );
        } else {
            assert_eq!(person["subject"], Value::Null, "{person}");
            assert!(person["email"].is_string(), "{person}");
        }
    }
    assert!(own >= 4, "{data}");
    let viewer = app
        .query(&harbor, "{ viewer { person { subject } } }", Value::Null)
        .await?;
    assert_eq!(
        viewer["viewer"]["person"]["subject"],
        api::demo::CLIENT_IT_ADMIN.0
    );

    // A counter-party's person is visible; their organization's internal teams are not (as
    // `node` and `teams` hide them), while the provider sees its own staff's teams.
    let teams = "{ people(first: 100) { edges { node { organization { slug } teams(first: 5) { nodes { name organization { slug } } } } } } }";
    let seen_by_harbor = app.query(&harbor, teams, Value::Null).await?;
    let mut provider_people = 0;
    for edge in seen_by_harbor["people"]["edges"]
        .as_array()
        .expect("people")
    {
        let person = &edge["node"];
        if person["organization"]["slug"] == "northwind-msp" {
            provider_people += 1;
            assert_eq!(person["teams"]["nodes"], json!([]), "{person}");
        }
    }
    assert!(provider_people > 0, "{seen_by_harbor}");
    let seen_by_provider = app.query(&provider, teams, Value::Null).await?;
    assert!(
        seen_by_provider["people"]["edges"]
            .as_array()
            .expect("people")
            .iter()
            .any(
                |edge| edge["node"]["organization"]["slug"] == "northwind-msp"
                    && edge["node"]["teams"]["nodes"]
                        .as_array()
                        .is_some_and(|teams| !teams.is_empty())
            ),
        "{seen_by_provider}"
    );
    app.stop().await
}

#[tokio::test]
async fn once_the_engagement_ends_neither_side_sees_the_others_people() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let provider = app.provider_admin_token();
    let msp_person = person_by_subject(&app, "demo|northwind-noc").await?;
    let harbor_person = person_by_subject(&app, "demo|harbor-it-tech").await?;
    let node = "query($id: ID!) { node(id: $id) { ... on Person { displayName subject } } }";
    let paths = "{ people(first: 100) { edges { node { organization { slug } } } } tickets(first: 40) { edges { node { assignedTeam { members(first: 5) { nodes { id } } } notes(first: 5) { nodes { author { id } } } } } } changeLog(first: 40) { edges { node { actor { id } recordedBy { person { id } } } } } runbooks(first: 10) { edges { node { lastReviewedBy { id } revisions(first: 5) { nodes { author { id } } } } } } }";

    // While engaged, each side sees the other's people (not their subjects).
    let seen = app
        .query(&harbor, node, json!({ "id": global_person(msp_person.id) }))
        .await?;
    assert_eq!(
        seen["node"],
        json!({ "displayName": msp_person.display_name, "subject": null })
    );
    let seen = app
        .query(
            &provider,
            node,
            json!({ "id": global_person(harbor_person.id) }),
        )
        .await?;
    assert_eq!(
        seen["node"],
        json!({ "displayName": harbor_person.display_name, "subject": null })
    );
    let before = app.query(&harbor, paths, Value::Null).await?.to_string();
    assert!(
        before.contains(&global_person(msp_person.id)),
        "the NOC's work shows in Harbor's data while engaged"
    );

    let harbor_org = organization_id(&app, "harbor-health").await?;
    let active = Engagement::find()
        .filter(engagement::COLUMN.client_id.eq(harbor_org))
        .filter(engagement::in_force_on(Utc::now().date_naive()))
        .one(&app.db)
        .await?
        .expect("Harbor is engaged");
    let (_, ended) = app
        .mutation(
            &provider,
            "endEngagement",
            "EndEngagementInput",
            &json!({
                "id": api::ids::encode(api::ids::NodeType::Engagement, active.id).0,
                "endsOn": Utc::now().date_naive().to_string(),
            }),
            "engagement { active }",
        )
        .await?;
    assert_eq!(
        ended["data"]["endEngagement"]["engagement"]["active"], false,
        "{ended}"
    );

    let hidden = app
        .query(&harbor, node, json!({ "id": global_person(msp_person.id) }))
        .await?;
    assert_eq!(hidden["node"], Value::Null);
    let hidden = app
        .query(
            &provider,
            node,
            json!({ "id": global_person(harbor_person.id) }),
        )
        .await?;
    assert_eq!(hidden["node"], Value::Null);
    let after = app.query(&harbor, paths, Value::Null).await?;
    let slugs: HashSet<&str> = after["people"]["edges"]
        .as_array()
        .expect("people")
        .iter()
        .map(|edge| edge["node"]["organization"]["slug"].as_str().expect("slug"))
        .collect();
    assert_eq!(slugs, HashSet::from(["harbor-health"]));
    let msp_ids: Vec<String> = Person::find()
        .filter(
            person::COLUMN
                .organization_id
                .eq(msp_person.organization_id),
        )
        .all(&app.db)
        .await?
        .into_iter()
        .map(|found| global_person(found.id))
        .collect();
    let text = after.to_string();
    for id in &msp_ids {
        assert!(!text.contains(id.as_str()), "{id} still shows: {after}");
    }
    // Harbor's own people still show on the same paths.
    assert!(text.contains(&global_person(harbor_person.id)), "{after}");
    // And the provider no longer lists Harbor's people.
    let provider_people = app
        .query(
            &provider,
            "{ people(first: 100) { edges { node { organization { slug } } } } }",
            Value::Null,
        )
        .await?;
    assert!(
        !provider_people.to_string().contains("harbor-health"),
        "{provider_people}"
    );
    app.stop().await
}

#[tokio::test]
async fn the_demo_names_only_people_of_each_environments_parties() -> anyhow::Result<()> {
    let test_db = TestDb::migrated().await?;
    let db = test_db.connect().await?;
    api::demo::seed_if_empty(&db).await?;
    let people: std::collections::HashMap<Uuid, Uuid> = Person::find()
        .all(&db)
        .await?
        .into_iter()
        .map(|found| (found.id, found.organization_id))
        .collect();
    let engagements = Engagement::find().all(&db).await?;
    let environments: std::collections::HashMap<Uuid, HashSet<Uuid>> = Environment::find()
        .all(&db)
        .await?
        .into_iter()
        .map(|found| {
            let mut parties: HashSet<Uuid> = engagements
                .iter()
                .filter(|engagement| engagement.client_id == found.organization_id)
                .map(|engagement| engagement.provider_id)
                .collect();
            parties.insert(found.organization_id);
            (found.id, parties)
        })
        .collect();
    let mut checked = 0;
    let mut check = |what: &str, environment: Uuid, person: Option<Uuid>| {
        let Some(person) = person else { return };
        checked += 1;
        let organization = people[&person];
        assert!(
            environments[&environment].contains(&organization),
            "{what}: a person of {organization} is named in environment {environment}"
        );
    };

    let tickets: std::collections::HashMap<Uuid, ticket::Model> = Ticket::find()
        .all(&db)
        .await?
        .into_iter()
        .map(|found| (found.id, found))
        .collect();
    let mut notes = 0;
    for note in TicketNote::find().all(&db).await? {
        notes += usize::from(note.author_id.is_some());
        check(
            "ticket note author",
            tickets[&note.ticket_id].environment_id,
            note.author_id,
        );
    }
    assert!(notes > 20, "the demo has notes by people");
    for found in tickets.values() {
        check(
            "ticket assignee",
            found.environment_id,
            found.assigned_person_id,
        );
    }
    for found in Alert::find().all(&db).await? {
        check(
            "alert acknowledger",
            found.environment_id,
            found.acknowledged_by_id,
        );
    }
    let runbooks: std::collections::HashMap<Uuid, runbook::Model> = Runbook::find()
        .all(&db)
        .await?
        .into_iter()
        .map(|found| (found.id, found))
        .collect();
    for found in runbooks.values() {
        check(
            "runbook reviewer",
            found.environment_id,
            found.last_reviewed_by_id,
        );
    }
    for revision in RunbookRevision::find().all(&db).await? {
        check(
            "runbook revision author",
            runbooks[&revision.runbook_id].environment_id,
            revision.author_id,
        );
    }
    let entries: std::collections::HashMap<Uuid, responsibility::Model> = Responsibility::find()
        .all(&db)
        .await?
        .into_iter()
        .map(|found| (found.id, found))
        .collect();
    for step in EscalationStep::find().all(&db).await? {
        check(
            "escalation step",
            entries[&step.responsibility_id].environment_id,
            step.person_id,
        );
    }
    for approval in ResponsibilityApproval::find().all(&db).await? {
        check(
            "approval",
            entries[&approval.responsibility_id].environment_id,
            Some(approval.person_id),
        );
    }
    for entry in ChangeLogEntry::find().all(&db).await? {
        check("change log actor", entry.environment_id, entry.actor_id);
        check(
            "change log recorder",
            entry.environment_id,
            entry.recorded_by_id,
        );
    }
    assert!(checked > 300, "{checked} references checked");
    Ok(())
}
