//! Reads across the model: nested fields both ways, filters and orders, and batched loading.

use chrono::Utc;
use entities::enums::{Priority, TicketStatus};
use entities::{environment, team, ticket, ticket_note};
use sea_orm::{EntityTrait, IntoActiveModel, QueryFilter};
use serde_json::{Value, json};
use tests::TestApp;
use uuid::Uuid;

#[tokio::test]
async fn nested_fields_answer_both_ways() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.client_admin_token();
    let data = app
        .query(
            &token,
            "{ environments(first: 1) { edges { node { name
                systems(first: 3, filter: { kinds: [VIRTUAL_MACHINE] }) { totalCount edges { node { name kind externalIds { source externalId } environment { name } tickets(first: 2) { totalCount } changes(first: 1) { totalCount } } } }
                tickets(first: 2, filter: { statuses: [CLOSED] }) { edges { node { status environment { name } notes(last: 1) { nodes { body author { displayName } } } } } }
                runbooks(first: 5) { totalCount edges { node { title ownerTeam { name } currentRevision { number } revisions { nodes { number } } functions { nodes { key } } } } }
                changeLog(first: 2) { totalCount edges { node { summary environment { name } } } }
                alerts(first: 2) { totalCount }
              } } }
              organizations(first: 5) { edges { node { slug teams(first: 5) { edges { node { name members(first: 10) { nodes { displayName teams(first: 5) { nodes { name } } } } } } } people { totalCount } } } }
              engagements { totalCount edges { node { operatingModel startsOn endsOn active provider { slug } client { slug } } } } }",
            Value::Null,
        )
        .await?;
    let environment = &data["environments"]["edges"][0]["node"];
    assert_eq!(environment["name"], "Production");
    let systems = &environment["systems"];
    assert!(systems["totalCount"].as_u64() >= Some(4));
    for edge in systems["edges"].as_array().unwrap() {
        assert_eq!(edge["node"]["kind"], "VIRTUAL_MACHINE");
        assert_eq!(edge["node"]["environment"]["name"], "Production");
        let sources: Vec<&str> = edge["node"]["externalIds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| id["source"].as_str().unwrap())
            .collect();
        assert!(sources.contains(&"NINJAONE"), "{sources:?}");
    }
    for edge in environment["tickets"]["edges"].as_array().unwrap() {
        assert_eq!(edge["node"]["status"], "CLOSED");
        assert_eq!(edge["node"]["notes"]["nodes"].as_array().unwrap().len(), 1);
    }
    let runbooks = environment["runbooks"]["edges"].as_array().unwrap();
    assert!(!runbooks.is_empty());
    for edge in runbooks {
        let revisions = edge["node"]["revisions"]["nodes"].as_array().unwrap();
        assert_eq!(
            edge["node"]["currentRevision"]["number"],
            revisions.last().unwrap()["number"]
        );
    }
    assert!(environment["changeLog"]["totalCount"].as_u64() > Some(50));

    let organization = &data["organizations"]["edges"][0]["node"];
    assert_eq!(organization["slug"], "harbor-health");
    let teams = organization["teams"]["edges"].as_array().unwrap();
    assert_eq!(teams.len(), 2);
    assert!(teams.iter().any(|team| {
        team["node"]["members"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|person| person["displayName"] == "Dana Whitfield")
    }));

    // Harbor's own engagements: the finished fully managed period and the current co-managed one.
    let engagements = data["engagements"]["edges"].as_array().unwrap();
    assert_eq!(engagements.len(), 2);
    assert!(engagements.iter().any(
        |edge| edge["node"]["operatingModel"] == "CO_MANAGED" && edge["node"]["active"] == true
    ));
    assert!(
        engagements
            .iter()
            .any(|edge| edge["node"]["endsOn"] == "2025-03-01" && edge["node"]["active"] == false)
    );
    app.stop().await
}

#[tokio::test]
async fn lists_filter_sort_and_read_incrementally() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let data = app
        .query(
            &token,
            "{ byName: systems(first: 100, orderBy: { field: NAME, direction: DESC }) { edges { node { name } } }
               search: systems(filter: { text: \"hhp-ehr\" }) { totalCount }
               hipaa: functions(filter: { requiredBy: HIPAA }) { totalCount edges { node { key requiredBy } } }
               protect: functions(filter: { csfFunctions: [PR] }, orderBy: { field: CSF_CATEGORY }) { edges { node { csfCategory } } }
               open: tickets(filter: { statuses: [NEW, IN_PROGRESS], priorities: [CRITICAL, HIGH] }) { edges { node { status priority } } }
               alerts(filter: { statuses: [OPEN] }) { edges { node { status severity system { name } } } }
               integrations { edges { node { name kind hasCredentials mappings(first: 10) { nodes { externalCompanyId environment { name } } } syncRuns(first: 10) { totalCount edges { node { status recordsFetched errors(first: 2) { nodes { reason } } } } } } } } }",
            Value::Null,
        )
        .await?;
    let names: Vec<&str> = data["byName"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["name"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(names, sorted);
    assert_eq!(data["search"]["totalCount"], 2);
    assert!(
        data["hipaa"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .all(|edge| edge["node"]["requiredBy"]
                .as_array()
                .unwrap()
                .contains(&json!("HIPAA")))
    );
    assert!(data["hipaa"]["totalCount"].as_u64() < Some(19));
    let categories: Vec<&str> = data["protect"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"]["csfCategory"].as_str().unwrap())
        .collect();
    assert!(
        categories
            .iter()
            .all(|category| category.starts_with("PR."))
    );
    assert!(categories.windows(2).all(|pair| pair[0] <= pair[1]));
    for edge in data["open"]["edges"].as_array().unwrap() {
        assert!(["NEW", "IN_PROGRESS"].contains(&edge["node"]["status"].as_str().unwrap()));
        assert!(["CRITICAL", "HIGH"].contains(&edge["node"]["priority"].as_str().unwrap()));
    }
    assert!(
        data["alerts"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .all(|edge| edge["node"]["status"] == "OPEN")
    );
    let integrations = data["integrations"]["edges"].as_array().unwrap();
    assert_eq!(integrations.len(), 2);
    assert!(
        integrations
            .iter()
            .all(|edge| edge["node"]["hasCredentials"] == false)
    );
    assert_eq!(
        integrations[0]["node"]["mappings"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // Incremental reads: nothing changed since now.
    let now = Utc::now().to_rfc3339();
    for field in [
        "tickets",
        "systems",
        "alerts",
        "runbooks",
        "environments",
        "changeLog",
    ] {
        let data = app
            .query(&token, &format!("query($since: DateTime) {{ {field}(filter: {{ updatedSince: $since }}) {{ totalCount }} }}"), json!({ "since": now }))
            .await?;
        assert_eq!(data[field]["totalCount"], 0, "{field}");
    }
    app.stop().await
}

async fn add_tickets(app: &TestApp, count: usize) -> anyhow::Result<()> {
    let environment = environment::Entity::find()
        .one(&app.db)
        .await?
        .expect("an environment");
    let team = team::Entity::find()
        .filter(team::COLUMN.name.eq("Service Desk"))
        .one(&app.db)
        .await?
        .expect("a team");
    let now = Utc::now();
    let mut tickets = Vec::new();
    let mut notes = Vec::new();
    for number in 0..count {
        let id = Uuid::now_v7();
        tickets.push(
            ticket::Model {
                id,
                environment_id: environment.id,
                system_id: None,
                function_id: None,
                integration_id: None,
                title: format!("Load ticket {number}"),
                description: None,
                status: TicketStatus::New,
                priority: Priority::Low,
                external_status: None,
                external_priority: None,
                requester: None,
                assigned_team_id: Some(team.id),
                assigned_person_id: None,
                routed_by_id: None,
                routing_reason: None,
                response_due_at: None,
                resolution_due_at: None,
                sla_calendar: None,
                escalation_level: 0,
                next_escalation_at: None,
                responded_at: None,
                created_at: now,
                updated_at: now,
                resolved_at: None,
                closed_at: None,
                organization_id: None,
                external_source: None,
                external_id: None,
                external_url: None,
            }
            .into_active_model(),
        );
        for note in 0..4 {
            notes.push(
                ticket_note::Model {
                    id: Uuid::now_v7(),
                    ticket_id: id,
                    author_id: None,
                    author_name: Some("load".into()),
                    body: format!("note {note}"),
                    internal: false,
                    created_at: now,
                    external_source: None,
                    external_id: None,
                    external_url: None,
                }
                .into_active_model(),
            );
        }
    }
    for chunk in tickets.chunks(100) {
        ticket::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&app.db)
            .await?;
    }
    for chunk in notes.chunks(100) {
        ticket_note::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&app.db)
            .await?;
    }
    Ok(())
}

#[tokio::test]
async fn nested_lists_cost_the_same_statements_for_5_and_100_tickets() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    add_tickets(&app, 100).await?;
    let token = app.provider_admin_token();
    let query = "query($first: Int) { tickets(first: $first) { edges { node { title
        environment { name organization { name } } system { name } assignedTeam { name } notes(last: 3) { nodes { body author { displayName } } } } } } }";
    // The caller is resolved once, then cached: both counted requests find it known.
    app.query(&token, "{ __typename }", Value::Null).await?;
    let (five, statements_for_5) = app
        .query_counting(&token, query, json!({ "first": 5 }))
        .await?;
    let (hundred, statements_for_100) = app
        .query_counting(&token, query, json!({ "first": 100 }))
        .await?;
    assert_eq!(five["tickets"]["edges"].as_array().unwrap().len(), 5);
    assert_eq!(hundred["tickets"]["edges"].as_array().unwrap().len(), 100);
    assert!(
        hundred["tickets"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .all(|edge| edge["node"]["notes"]["nodes"].as_array().unwrap().len() <= 3)
    );
    assert_eq!(
        statements_for_5.len(),
        statements_for_100.len(),
        "statements must not grow with the page size:\n{statements_for_5:#?}\n{statements_for_100:#?}"
    );
    assert!(statements_for_100.len() <= 10, "{statements_for_100:#?}");
    eprintln!(
        "statements per request (5 and 100 tickets with nested fields): {}",
        statements_for_100.len()
    );
    app.stop().await
}

#[tokio::test]
async fn a_system_names_its_owners_per_function_with_system_level_overrides() -> anyhow::Result<()>
{
    let app = TestApp::spawn_with_demo().await?;
    let token = app.client_admin_token();
    let query = "query($text: String) { systems(filter: { text: $text }, first: 1) { edges { node { name
        owners { id function { key } system { name } responsibleTeam { name } accountableTeam { name } consultedTeams { name } status }
        before: owners(at: \"2020-01-01T00:00:00Z\") { id } } } } }";
    let owners = |data: &Value| data["systems"]["edges"][0]["node"].clone();
    let ehr = owners(
        &app.query(&token, query, json!({ "text": "HHP-EHR-APP01" }))
            .await?,
    );
    let patching = ehr["owners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["function"]["key"] == "patching")
        .expect("patching")
        .clone();
    assert_eq!(
        patching["system"]["name"], "HHP-EHR-APP01",
        "the system-level entry overrides the default"
    );
    assert_eq!(patching["responsibleTeam"]["name"], "Internal IT");
    assert_eq!(
        ehr["owners"].as_array().unwrap().len(),
        19,
        "one entry per standard function"
    );
    assert_eq!(
        ehr["before"],
        json!([]),
        "nothing was agreed before the engagement"
    );

    let workstation = owners(
        &app.query(&token, query, json!({ "text": "HHP-WS-001" }))
            .await?,
    );
    let patching = workstation["owners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["function"]["key"] == "patching")
        .expect("patching")
        .clone();
    assert_eq!(
        patching["system"],
        Value::Null,
        "the function-level default applies"
    );
    assert_eq!(patching["responsibleTeam"]["name"], "Network Operations");
    assert_eq!(patching["status"], "AGREED");

    // Matrix entries are nodes, scoped like their environment.
    let cedar = app.token(
        "demo|cedar-office",
        "cedar-pine",
        entities::enums::Role::Admin,
    );
    let hidden = app
        .query(
            &cedar,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": patching["id"] }),
        )
        .await?;
    assert_eq!(hidden, json!({ "node": null }));
    let visible = app
        .query(
            &token,
            "query($id: ID!) { node(id: $id) { ... on Responsibility { function { key } } } }",
            json!({ "id": patching["id"] }),
        )
        .await?;
    assert_eq!(visible["node"]["function"]["key"], "patching");
    app.stop().await
}
