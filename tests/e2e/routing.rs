//! Routing: a new or synced ticket or alert without an assignee goes to the team the matrix names
//! responsible for its system (or function) at its creation time, and keeps why.

use entities::enums::Role;
use serde_json::{Value, json};
use tests::TestApp;

const ROUTING: &str =
    "routing { decidedBy reason responsibility { id function { key } system { name } } }";

struct Harbor {
    environment: Value,
    ehr: Value,
    ehr_device: String,
}

async fn harbor(app: &TestApp) -> anyhow::Result<Harbor> {
    let data = app
        .query(&app.client_admin_token(), "{ environments(first: 1) { edges { node { id } } } systems(filter: { text: \"HHP-EHR-APP01\" }) { edges { node { id externalIds { source externalId } } } } }", Value::Null)
        .await?;
    let ehr = &data["systems"]["edges"][0]["node"];
    let device = ehr["externalIds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|link| link["source"] == "NINJAONE")
        .expect("the EHR server is linked to NinjaOne");
    Ok(Harbor {
        environment: data["environments"]["edges"][0]["node"]["id"].clone(),
        ehr: ehr["id"].clone(),
        ehr_device: device["externalId"].as_str().unwrap().to_owned(),
    })
}

async fn owner(
    app: &TestApp,
    harbor: &Harbor,
    function: &str,
    system: Option<&Value>,
) -> anyhow::Result<Value> {
    Ok(app
        .query(
            &app.client_admin_token(),
            "query($id: ID!, $function: String!, $system: ID) { whoOwns(environmentId: $id, function: $function, systemId: $system) { responsibility { id responsibleTeam { name } } } }",
            json!({ "id": harbor.environment, "function": function, "system": system }),
        )
        .await?["whoOwns"]["responsibility"]
        .clone())
}

#[tokio::test]
async fn synced_tickets_and_alerts_go_to_the_team_the_matrix_names_at_their_creation_time()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let sync = app.token("demo|northwind-sync", "northwind-msp", Role::Integration);
    let harbor = harbor(&app).await?;
    let environment = &harbor.environment;
    let records = json!([
        { "externalId": "T-1", "environmentId": environment, "title": "Patch fails on EHR app server", "status": "NEW", "priority": "HIGH", "systemExternalId": harbor.ehr_device, "functionKey": "patching" },
        { "externalId": "T-2", "environmentId": environment, "title": "Patch Tuesday follow-up", "status": "NEW", "priority": "MEDIUM", "functionKey": "patching" },
        { "externalId": "T-3", "environmentId": environment, "title": "Printer jams", "status": "NEW", "priority": "LOW" },
        { "externalId": "T-4", "environmentId": environment, "title": "Opened before the matrix", "status": "CLOSED", "priority": "LOW", "createdAt": "2024-01-01T09:00:00Z" },
        { "externalId": "T-5", "environmentId": environment, "title": "Knit a scarf", "status": "NEW", "priority": "LOW", "functionKey": "knitting" },
    ]);
    let query = format!(
        "mutation($input: UpsertTicketsInput!) {{ upsertTickets(input: $input) {{ results {{ index outcome node {{ title functionKey: function {{ key }} assignedTeam {{ name }} {ROUTING} }} }} counts {{ created unchanged failed }} userErrors {{ field code message }} }} }}"
    );
    let input = json!({ "input": { "source": { "kind": "NINJAONE" }, "records": records } });
    let first = app.query(&sync, &query, input.clone()).await?["upsertTickets"].clone();
    assert_eq!(
        first["userErrors"],
        json!([{ "field": ["input", "records", "4", "functionKey"], "code": "NOT_FOUND", "message": "no function `knitting`" }]),
        "{first}"
    );
    assert_eq!(
        first["counts"],
        json!({ "created": 4, "unchanged": 0, "failed": 1 })
    );
    let results = first["results"].as_array().unwrap();
    let node = |index: usize| results[index]["node"].clone();

    // A system-level entry overrides the function default: Harbor patches its EHR servers itself.
    let on_ehr = owner(&app, &harbor, "patching", Some(&harbor.ehr)).await?;
    assert_eq!(node(0)["assignedTeam"]["name"], "Internal IT");
    assert_eq!(node(0)["functionKey"]["key"], "patching");
    assert_eq!(node(0)["routing"]["decidedBy"], "SYSTEM_ENTRY");
    assert_eq!(node(0)["routing"]["responsibility"]["id"], on_ehr["id"]);
    assert_eq!(
        node(0)["routing"]["responsibility"]["system"]["name"],
        "HHP-EHR-APP01"
    );
    let reason = node(0)["routing"]["reason"].as_str().unwrap().to_owned();
    assert!(
        reason.starts_with("Patch management: the agreed entry for this system"),
        "{reason}"
    );

    // Without a system the function default decides.
    let patching = owner(&app, &harbor, "patching", None).await?;
    assert_eq!(
        node(1)["assignedTeam"]["name"],
        patching["responsibleTeam"]["name"]
    );
    assert_eq!(node(1)["assignedTeam"]["name"], "Network Operations");
    assert_eq!(node(1)["routing"]["decidedBy"], "FUNCTION_DEFAULT");
    assert_eq!(node(1)["routing"]["responsibility"]["id"], patching["id"]);

    // Without a function a ticket falls under the service desk.
    let service_desk = owner(&app, &harbor, "service_desk", None).await?;
    assert_eq!(node(2)["functionKey"], Value::Null);
    assert_eq!(
        node(2)["routing"]["responsibility"]["function"]["key"],
        "service_desk"
    );
    assert_eq!(
        node(2)["assignedTeam"]["name"],
        service_desk["responsibleTeam"]["name"]
    );

    // Routing reads the matrix at the ticket's own creation time: in 2024 nothing was agreed.
    assert_eq!(node(3)["assignedTeam"], Value::Null);
    assert_eq!(node(3)["routing"]["decidedBy"], "UNOWNED");
    assert_eq!(node(3)["routing"]["responsibility"], Value::Null);
    assert!(
        node(3)["routing"]["reason"]
            .as_str()
            .unwrap()
            .contains("no agreed entry was in force at 2024-01-01T09:00:00Z"),
        "{}",
        node(3)
    );

    // A resend changes nothing, routing included.
    let again = app.query(&sync, &query, input).await?["upsertTickets"].clone();
    assert_eq!(
        again["counts"],
        json!({ "created": 0, "unchanged": 4, "failed": 1 })
    );
    assert_eq!(again["results"][0]["node"], node(0));

    // Alerts: the EHR server's alert without a function falls under endpoint management.
    let alert = app
        .query(
            &sync,
            &format!("mutation($input: UpsertAlertsInput!) {{ upsertAlerts(input: $input) {{ results {{ node {{ assignedTeam {{ name }} {ROUTING} }} }} userErrors {{ message }} }} }}"),
            json!({ "input": { "source": { "kind": "NINJAONE" }, "records": [
                { "externalId": "A-1", "environmentId": environment, "message": "Disk C: 95% full", "severity": "HIGH", "raisedAt": "2026-11-20T10:00:00Z", "systemExternalId": harbor.ehr_device },
                { "externalId": "A-2", "environmentId": environment, "message": "Backup job failed", "severity": "CRITICAL", "raisedAt": "2026-11-20T10:00:00Z", "systemExternalId": harbor.ehr_device, "functionKey": "backup_recovery" },
            ] } }),
        )
        .await?["upsertAlerts"]
        .clone();
    assert_eq!(alert["userErrors"], json!([]));
    let endpoint = owner(&app, &harbor, "endpoint_management", Some(&harbor.ehr)).await?;
    let backup = owner(&app, &harbor, "backup_recovery", Some(&harbor.ehr)).await?;
    let alerts = alert["results"].as_array().unwrap();
    assert_eq!(
        alerts[0]["node"]["routing"]["responsibility"]["id"],
        endpoint["id"]
    );
    assert_eq!(
        alerts[0]["node"]["assignedTeam"]["name"],
        endpoint["responsibleTeam"]["name"]
    );
    assert_eq!(
        alerts[1]["node"]["routing"]["responsibility"]["function"]["key"],
        "backup_recovery"
    );
    assert_eq!(
        alerts[1]["node"]["assignedTeam"]["name"],
        backup["responsibleTeam"]["name"]
    );
    app.stop().await
}

#[tokio::test]
async fn a_ticket_opened_without_a_team_is_routed_and_one_with_a_team_is_not() -> anyhow::Result<()>
{
    let app = TestApp::spawn_with_demo().await?;
    let token = app.client_admin_token();
    let harbor = harbor(&app).await?;
    let patching = app
        .query(
            &token,
            "{ functions(first: 100) { edges { node { id key } } } teams { edges { node { id name } } } }",
            Value::Null,
        )
        .await?;
    let id_of = |list: &str, field: &str, value: &str| {
        patching[list]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|edge| edge["node"][field] == value)
            .unwrap()["node"]["id"]
            .clone()
    };
    let function = id_of("functions", "key", "patching");
    let compliance = id_of("teams", "name", "Compliance Office");
    let create = format!(
        "mutation($input: CreateTicketInput!) {{ createTicket(input: $input) {{ ticket {{ id assignedTeam {{ name }} {ROUTING} }} userErrors {{ message }} }} }}"
    );
    let routed = app
        .query(&token, &create, json!({ "input": { "environmentId": harbor.environment, "title": "EHR patch window", "systemId": harbor.ehr, "functionId": function } }))
        .await?["createTicket"]["ticket"]
        .clone();
    assert_eq!(routed["assignedTeam"]["name"], "Internal IT");
    assert_eq!(routed["routing"]["decidedBy"], "SYSTEM_ENTRY");

    // The change log entry of the new ticket says where it went and why.
    let logged = app
        .query(&token, "query($id: ID!) { node(id: $id) { ... on Ticket { changes(first: 1) { edges { node { details } } } } } }", json!({ "id": routed["id"] }))
        .await?;
    let details = &logged["node"]["changes"]["edges"][0]["node"]["details"]["ticket"];
    assert!(
        details["routing_reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("the agreed entry for this system")),
        "{logged}"
    );

    let assigned = app
        .query(&token, &create, json!({ "input": { "environmentId": harbor.environment, "title": "EHR patch window", "systemId": harbor.ehr, "functionId": function, "assignedTeamId": compliance } }))
        .await?["createTicket"]["ticket"]
        .clone();
    assert_eq!(assigned["assignedTeam"]["name"], "Compliance Office");
    assert_eq!(assigned["routing"], Value::Null);
    app.stop().await
}
