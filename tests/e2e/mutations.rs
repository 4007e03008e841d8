//! Mutations: every write returns its object or user errors, is refused to roles that may not
//! make it, and lands in one transaction with its change log entry.

use entities::enums::Role;
use serde_json::{Value, json};
use tests::TestApp;

/// Runs `mutation { name(input: $input) { <selection> userErrors { field code message } } }`.
async fn mutate(
    app: &TestApp,
    token: &str,
    name: &str,
    input: Value,
    selection: &str,
) -> anyhow::Result<Value> {
    let query = format!(
        "mutation($input: {}Input!) {{ {name}(input: $input) {{ {selection} userErrors {{ field code message }} }} }}",
        input_type(name)
    );
    let data = app.query(token, &query, json!({ "input": input })).await?;
    Ok(data[name].clone())
}

fn input_type(name: &str) -> String {
    let pascal = format!("{}{}", name[..1].to_uppercase(), &name[1..]);
    match name {
        "markRunbookReviewed" | "archiveRunbook" => "RunbookAction".into(),
        "acknowledgeAlert" | "resolveAlert" => "AlertAction".into(),
        _ => pascal,
    }
}

fn errors(payload: &Value) -> Vec<(String, String)> {
    payload["userErrors"]
        .as_array()
        .expect("userErrors")
        .iter()
        .map(|error| {
            (
                error["field"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|part| part.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join("."),
                error["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn first_id(
    app: &TestApp,
    token: &str,
    query: &str,
    pointer: &str,
) -> anyhow::Result<String> {
    let data = app.query(token, query, Value::Null).await?;
    Ok(data
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("nothing at {pointer} in {data}"))
        .to_owned())
}

async fn harbor_environment(app: &TestApp, token: &str) -> anyhow::Result<String> {
    first_id(
        app,
        token,
        "{ environments(first: 1) { edges { node { id } } } }",
        "/environments/edges/0/node/id",
    )
    .await
}

#[tokio::test]
async fn record_change_writes_an_attributed_entry_and_refuses_bad_input() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.client_admin_token();
    let environment = harbor_environment(&app, &token).await?;
    let system = first_id(
        &app,
        &token,
        "{ systems(first: 1, filter: { text: \"HHP-DC01\" }) { edges { node { id } } } }",
        "/systems/edges/0/node/id",
    )
    .await?;
    let before = app.count("change_log_entries").await?;

    let payload = mutate(
        &app,
        &token,
        "recordChange",
        json!({ "environmentId": environment, "systemIds": [system], "summary": "  Raised the domain functional level  ", "details": { "from": "2016", "to": "2025" }, "reason": "Audit finding 7", "category": "CONFIGURATION" }),
        "changeLogEntry { id summary source actorName actor { displayName } reason category systems { nodes { id } } details changeSetId }",
    )
    .await?;
    assert!(errors(&payload).is_empty(), "{payload}");
    let entry = &payload["changeLogEntry"];
    assert_eq!(
        entry["summary"], "Raised the domain functional level",
        "trimmed"
    );
    assert_eq!(entry["source"], "API");
    assert_eq!(entry["actor"]["displayName"], "Dana Whitfield");
    assert_eq!(entry["systems"]["nodes"][0]["id"], system);
    assert_eq!(entry["details"]["to"], "2025");
    assert!(entry["changeSetId"].is_string());
    assert_eq!(app.count("change_log_entries").await?, before + 1);

    // Bad input: a user error per problem, and nothing written.
    let cedar_token = app.token("demo|cedar-office", "cedar-pine", Role::Admin);
    let cedar_system = first_id(
        &app,
        &cedar_token,
        "{ systems(first: 1) { edges { node { id } } } }",
        "/systems/edges/0/node/id",
    )
    .await?;
    let payload = mutate(
        &app,
        &token,
        "recordChange",
        json!({ "environmentId": environment, "systemIds": [cedar_system], "summary": " ", "details": [1, 2], "category": "PATCH", "occurredAt": "2999-01-01T00:00:00Z" }),
        "changeLogEntry { id }",
    )
    .await?;
    assert_eq!(payload["changeLogEntry"], Value::Null);
    let found = errors(&payload);
    for expected in [
        ("input.summary", "REQUIRED"),
        ("input.details", "INVALID"),
        ("input.occurredAt", "INVALID"),
        ("input.systemIds", "NOT_FOUND"),
    ] {
        assert!(
            found.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} in {found:?}"
        );
    }
    // Another tenant's environment does not exist for this caller.
    let cedar_environment = harbor_environment(&app, &cedar_token).await?;
    let payload = mutate(
        &app,
        &token,
        "recordChange",
        json!({ "environmentId": cedar_environment, "summary": "x", "category": "OTHER" }),
        "changeLogEntry { id }",
    )
    .await?;
    assert_eq!(
        errors(&payload),
        [("input.environmentId".to_owned(), "NOT_FOUND".to_owned())]
    );
    assert_eq!(app.count("change_log_entries").await?, before + 1);
    app.stop().await
}

#[tokio::test]
async fn corrections_point_at_the_original_which_stays() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let original = first_id(
        &app,
        &token,
        "{ changeLog(first: 1, filter: { sources: [MANUAL] }) { edges { node { id } } } }",
        "/changeLog/edges/0/node/id",
    )
    .await?;
    let payload = mutate(&app, &token, "correctChange", json!({ "changeLogEntryId": original, "summary": "Installed the update on HHP-FS01", "reason": "Wrong server named" }), "changeLogEntry { id summary reason corrects { id summary } }").await?;
    assert!(errors(&payload).is_empty(), "{payload}");
    assert_eq!(payload["changeLogEntry"]["corrects"]["id"], original);
    assert_eq!(payload["changeLogEntry"]["reason"], "Wrong server named");
    let data = app.query(&token, "query($id: ID!) { node(id: $id) { ... on ChangeLogEntry { summary correctedBy { nodes { id } } } } }", json!({ "id": original })).await?;
    assert_eq!(
        data["node"]["correctedBy"]["nodes"][0]["id"],
        payload["changeLogEntry"]["id"]
    );
    assert_ne!(
        data["node"]["summary"], "Installed the update on HHP-FS01",
        "the original is unchanged"
    );

    let payload = mutate(
        &app,
        &token,
        "correctChange",
        json!({ "changeLogEntryId": original, "summary": "x", "reason": "" }),
        "changeLogEntry { id }",
    )
    .await?;
    assert_eq!(
        errors(&payload),
        [("input.reason".to_owned(), "REQUIRED".to_owned())]
    );
    app.stop().await
}

#[tokio::test]
async fn roles_that_may_not_write_are_forbidden_and_nothing_changes() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let viewer = app.token("demo|harbor-compliance", "harbor-health", Role::Viewer);
    let environment = harbor_environment(&app, &viewer).await?;
    let before = app.count("change_log_entries").await?;
    let (status, body) = app
        .graphql(
            Some(&viewer),
            "mutation($input: RecordChangeInput!) { recordChange(input: $input) { changeLogEntry { id } } }",
            json!({ "input": { "environmentId": environment, "summary": "sneaky", "category": "OTHER" } }),
        )
        .await?;
    assert_eq!(status, 200);
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["message"],
        "recordChange needs the role ADMIN or MEMBER or INTEGRATION"
    );
    assert_eq!(app.count("change_log_entries").await?, before);

    // A member writes operational records but does not manage environments.
    let member = app.token("demo|harbor-it-tech", "harbor-health", Role::Member);
    let organization = first_id(
        &app,
        &member,
        "{ viewer { organization { id } } }",
        "/viewer/organization/id",
    )
    .await?;
    let (_, body) = app
        .graphql(
            Some(&member),
            "mutation($input: CreateEnvironmentInput!) { createEnvironment(input: $input) { environment { id } } }",
            json!({ "input": { "organizationId": organization, "name": "Lab" } }),
        )
        .await?;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    assert_eq!(app.count("environments").await?, 3);
    app.stop().await
}

#[tokio::test]
async fn environments_are_created_updated_and_archived_with_their_history() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.client_admin_token();
    let organization = first_id(
        &app,
        &token,
        "{ viewer { organization { id } } }",
        "/viewer/organization/id",
    )
    .await?;
    let selection = "environment { id name complianceFrameworks archivedAt changeLog { totalCount edges { node { summary category details } } } }";
    let payload = mutate(&app, &token, "createEnvironment", json!({ "organizationId": organization, "name": "Lab", "complianceFrameworks": ["HIPAA", "HIPAA", "NIST_CSF_2"], "reason": "New research lab" }), selection).await?;
    assert!(errors(&payload).is_empty(), "{payload}");
    let environment = payload["environment"].clone();
    assert_eq!(
        environment["complianceFrameworks"],
        json!(["HIPAA", "NIST_CSF_2"])
    );
    assert_eq!(environment["changeLog"]["totalCount"], 1);

    let payload = mutate(
        &app,
        &token,
        "createEnvironment",
        json!({ "organizationId": organization, "name": "Lab" }),
        selection,
    )
    .await?;
    assert_eq!(
        errors(&payload),
        [("input.name".to_owned(), "TAKEN".to_owned())]
    );
    let provider = app.provider_admin_token();
    let msp = first_id(
        &app,
        &provider,
        "{ viewer { organization { id } } }",
        "/viewer/organization/id",
    )
    .await?;
    let payload = mutate(
        &app,
        &provider,
        "createEnvironment",
        json!({ "organizationId": msp, "name": "Ours" }),
        selection,
    )
    .await?;
    assert_eq!(
        errors(&payload),
        [("input.organizationId".to_owned(), "INVALID".to_owned())]
    );

    let payload = mutate(&app, &token, "updateEnvironment", json!({ "id": environment["id"], "name": "Research lab", "complianceFrameworks": ["HIPAA"] }), selection).await?;
    assert_eq!(payload["environment"]["name"], "Research lab");
    let changes = &payload["environment"]["changeLog"]["edges"][1]["node"]["details"]["changes"];
    assert_eq!(
        changes["name"],
        json!({ "from": "Lab", "to": "Research lab" })
    );
    assert_eq!(changes["compliance_frameworks"]["to"], json!(["HIPAA"]));

    let payload = mutate(
        &app,
        &token,
        "archiveEnvironment",
        json!({ "id": environment["id"], "reason": "Lab closed" }),
        selection,
    )
    .await?;
    assert!(payload["environment"]["archivedAt"].is_string());
    let payload = mutate(
        &app,
        &token,
        "archiveEnvironment",
        json!({ "id": environment["id"] }),
        selection,
    )
    .await?;
    assert_eq!(
        errors(&payload),
        [("input.id".to_owned(), "INVALID_STATE".to_owned())]
    );
    let data = app.query(&token, "{ environments { totalCount } all: environments(filter: { includeArchived: true }) { totalCount } }", Value::Null).await?;
    assert_eq!(
        (
            data["environments"]["totalCount"].as_u64(),
            data["all"]["totalCount"].as_u64()
        ),
        (Some(2), Some(3))
    );
    app.stop().await
}

#[tokio::test]
async fn systems_record_every_field_change() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.client_admin_token();
    let environment = harbor_environment(&app, &token).await?;
    let selection = "system { id name macAddress ipAddress operatingSystem attributes attributeSources retiredAt changes { totalCount edges { node { summary details source } } } }";
    let payload = mutate(&app, &token, "createSystem", json!({ "environmentId": environment, "name": "HHP-WS-011", "kind": "WORKSTATION", "macAddress": "001a2b3c4d5e", "ipAddress": "10.0.0.50", "attributes": { "room": "3.14" } }), selection).await?;
    assert!(errors(&payload).is_empty(), "{payload}");
    let system = payload["system"].clone();
    assert_eq!(system["macAddress"], "00:1A:2B:3C:4D:5E", "normalized");
    assert_eq!(system["changes"]["totalCount"], 1);

    let payload = mutate(&app, &token, "createSystem", json!({ "environmentId": environment, "name": "bad", "kind": "SERVER", "macAddress": "nope", "ipAddress": "10.0.0.500" }), selection).await?;
    let found = errors(&payload);
    assert!(
        found.contains(&("input.macAddress".to_owned(), "INVALID".to_owned())),
        "{found:?}"
    );
    assert!(
        found.contains(&("input.ipAddress".to_owned(), "INVALID".to_owned())),
        "{found:?}"
    );

    let payload = mutate(&app, &token, "updateSystem", json!({ "id": system["id"], "operatingSystem": "Windows 11 24H2", "ipAddress": "10.0.0.51", "attributes": { "room": null, "owner": "front desk" } }), selection).await?;
    assert!(errors(&payload).is_empty(), "{payload}");
    assert_eq!(
        payload["system"]["attributes"],
        json!({ "owner": "front desk" })
    );
    assert_eq!(
        payload["system"]["attributeSources"]["operating_system"],
        "API"
    );
    let latest = &payload["system"]["changes"]["edges"][1]["node"];
    assert_eq!(
        latest["details"]["changes"]["ip_address"],
        json!({ "from": "10.0.0.50", "to": "10.0.0.51" })
    );
    assert_eq!(latest["source"], "API");

    // Another tenant cannot touch it, and learns nothing.
    let cedar = app.token("demo|cedar-office", "cedar-pine", Role::Admin);
    let payload = mutate(
        &app,
        &cedar,
        "updateSystem",
        json!({ "id": system["id"], "name": "pwned" }),
        "system { id }",
    )
    .await?;
    assert_eq!(
        errors(&payload),
        [("input.id".to_owned(), "NOT_FOUND".to_owned())]
    );

    let payload = mutate(
        &app,
        &token,
        "retireSystem",
        json!({ "id": system["id"], "reason": "Replaced" }),
        selection,
    )
    .await?;
    assert!(payload["system"]["retiredAt"].is_string());
    assert_eq!(payload["system"]["changes"]["totalCount"], 3);
    assert_eq!(payload["system"]["name"], "HHP-WS-011");
    app.stop().await
}

#[tokio::test]
async fn runbooks_keep_numbered_revisions_and_reviews() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.client_admin_token();
    let environment = harbor_environment(&app, &token).await?;
    let team = first_id(
        &app,
        &token,
        "{ teams(first: 1) { edges { node { id } } } }",
        "/teams/edges/0/node/id",
    )
    .await?;
    let function = first_id(
        &app,
        &token,
        "{ functions(first: 1) { edges { node { id } } } }",
        "/functions/edges/0/node/id",
    )
    .await?;
    let selection = "runbook { id title reviewDueAt reviewOverdue lastReviewedBy { displayName } archivedAt currentRevision { number body author { displayName } } revisions { nodes { number } } functions { nodes { id } } }";
    let payload = mutate(&app, &token, "createRunbook", json!({ "environmentId": environment, "title": "Printer jam", "ownerTeamId": team, "reviewIntervalDays": 30, "body": "# Printer jam\n\n1. Open tray", "functionIds": [function] }), selection).await?;
    assert!(errors(&payload).is_empty(), "{payload}");
    let runbook = payload["runbook"]["id"].clone();
    assert_eq!(payload["runbook"]["currentRevision"]["number"], 1);
    assert_eq!(payload["runbook"]["functions"]["nodes"][0]["id"], function);

    let payload = mutate(&app, &token, "addRunbookRevision", json!({ "runbookId": runbook, "body": "# Printer jam\n\n1. Open tray\n2. Pull paper", "changeSummary": "Step 2" }), selection).await?;
    assert_eq!(
        payload["runbook"]["revisions"]["nodes"],
        json!([{ "number": 1 }, { "number": 2 }])
    );
    assert_eq!(
        payload["runbook"]["currentRevision"]["author"]["displayName"],
        "Dana Whitfield"
    );

    // A change made under a ticket is on that ticket's change log; a ticket of another
    // environment is refused.
    let ticket = first_id(
        &app,
        &token,
        "{ tickets(first: 1, filter: { text: \"HHP\" }) { edges { node { id } } } }",
        "/tickets/edges/0/node/id",
    )
    .await?;
    let payload = mutate(&app, &token, "addRunbookRevision", json!({ "runbookId": runbook, "body": "# Printer jam\n\n3. Call the vendor", "ticketId": ticket }), selection).await?;
    assert_eq!(
        payload["runbook"]["revisions"]["nodes"]
            .as_array()
            .map(Vec::len),
        Some(3),
        "{payload}"
    );
    let changes = app.query(&token, "query($id: ID!) { node(id: $id) { ... on Ticket { changes(orderBy: { direction: DESC }, first: 1) { edges { node { summary } } } } } }", json!({ "id": ticket })).await?;
    assert_eq!(
        changes["node"]["changes"]["edges"][0]["node"]["summary"],
        "Revised runbook Printer jam (revision 3)"
    );
    let cedar_token = app.token("demo|cedar-office", "cedar-pine", Role::Admin);
    let cedar_ticket = first_id(
        &app,
        &cedar_token,
        "{ tickets(first: 1) { edges { node { id } } } }",
        "/tickets/edges/0/node/id",
    )
    .await?;
    let payload = mutate(
        &app,
        &token,
        "addRunbookRevision",
        json!({ "runbookId": runbook, "body": "x", "ticketId": cedar_ticket }),
        selection,
    )
    .await?;
    assert_eq!(
        errors(&payload),
        [("input.ticketId".to_owned(), "NOT_FOUND".to_owned())]
    );

    let payload = mutate(
        &app,
        &token,
        "markRunbookReviewed",
        json!({ "runbookId": runbook }),
        selection,
    )
    .await?;
    assert_eq!(
        payload["runbook"]["lastReviewedBy"]["displayName"],
        "Dana Whitfield"
    );
    assert_eq!(payload["runbook"]["reviewOverdue"], false);

    let payload = mutate(
        &app,
        &token,
        "archiveRunbook",
        json!({ "runbookId": runbook, "reason": "Printer replaced" }),
        selection,
    )
    .await?;
    assert!(payload["runbook"]["archivedAt"].is_string());
    let payload = mutate(
        &app,
        &token,
        "addRunbookRevision",
        json!({ "runbookId": runbook, "body": "late" }),
        selection,
    )
    .await?;
    assert_eq!(
        errors(&payload),
        [("input.runbookId".to_owned(), "INVALID_STATE".to_owned())]
    );

    // The owner must be a team that works in the environment.
    let cedar = app.token("demo|cedar-office", "cedar-pine", Role::Admin);
    let cedar_team = first_id(
        &app,
        &cedar,
        "{ teams(first: 1) { edges { node { id } } } }",
        "/teams/edges/0/node/id",
    )
    .await?;
    let payload = mutate(&app, &token, "createRunbook", json!({ "environmentId": environment, "title": "x", "ownerTeamId": cedar_team, "body": "x", "reviewIntervalDays": 0 }), selection).await?;
    let found = errors(&payload);
    assert!(
        found.contains(&("input.ownerTeamId".to_owned(), "NOT_FOUND".to_owned())),
        "{found:?}"
    );
    assert!(
        found.contains(&("input.reviewIntervalDays".to_owned(), "INVALID".to_owned())),
        "{found:?}"
    );
    assert_eq!(
        app.query(
            &token,
            "query($id: ID!) { node(id: $id) { ... on Runbook { revisions { nodes { number } } } } }",
            json!({ "id": runbook })
        )
        .await?["node"]["revisions"]["nodes"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    app.stop().await
}

#[tokio::test]
async fn tickets_move_through_their_lifecycle_with_change_log_entries() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let harbor = app.client_admin_token();
    let environment = harbor_environment(&app, &harbor).await?;
    let service_desk = first_id(
        &app,
        &token,
        "{ teams(filter: {}, first: 10) { edges { node { id name } } } }",
        "/teams/edges/0/node/id",
    )
    .await?;
    let selection = "ticket { id status priority resolvedAt closedAt assignedTeam { name } assignedPerson { displayName } notes { nodes { body internal } } changes { totalCount edges { node { summary ticket { id } } } } }";
    let payload = mutate(&app, &token, "createTicket", json!({ "environmentId": environment, "title": "Scanner offline", "priority": "HIGH", "assignedTeamId": service_desk }), selection).await?;
    assert!(errors(&payload).is_empty(), "{payload}");
    let ticket = payload["ticket"]["id"].clone();
    assert_eq!(payload["ticket"]["status"], "NEW");
    assert_eq!(
        payload["ticket"]["changes"]["edges"][0]["node"]["ticket"]["id"],
        ticket
    );

    let payload = mutate(
        &app,
        &token,
        "changeTicketStatus",
        json!({ "id": ticket, "status": "RESOLVED", "reason": "Driver reinstalled" }),
        selection,
    )
    .await?;
    assert!(payload["ticket"]["resolvedAt"].is_string());
    let payload = mutate(
        &app,
        &token,
        "changeTicketStatus",
        json!({ "id": ticket, "status": "CLOSED" }),
        selection,
    )
    .await?;
    assert!(payload["ticket"]["closedAt"].is_string());
    let payload = mutate(
        &app,
        &token,
        "changeTicketStatus",
        json!({ "id": ticket, "status": "RESOLVED" }),
        selection,
    )
    .await?;
    assert_eq!(
        errors(&payload),
        [("input.status".to_owned(), "INVALID_STATE".to_owned())]
    );
    let payload = mutate(
        &app,
        &token,
        "changeTicketStatus",
        json!({ "id": ticket, "status": "IN_PROGRESS" }),
        selection,
    )
    .await?;
    assert_eq!(
        payload["ticket"]["resolvedAt"],
        Value::Null,
        "reopening clears the times"
    );

    // Assigning to a person outside the team is refused.
    let member_of_other_team = first_id(
        &app,
        &harbor,
        "{ viewer { person { id } } }",
        "/viewer/person/id",
    )
    .await?;
    let payload = mutate(
        &app,
        &token,
        "assignTicket",
        json!({ "id": ticket, "teamId": service_desk, "personId": member_of_other_team }),
        selection,
    )
    .await?;
    assert_eq!(
        errors(&payload),
        [("input.personId".to_owned(), "NOT_FOUND".to_owned())]
    );

    let before = app.count("change_log_entries").await?;
    let note = mutate(
        &app,
        &token,
        "addTicketNote",
        json!({ "ticketId": ticket, "body": "Called the user", "internal": true }),
        "note { body internal author { displayName } }",
    )
    .await?;
    assert_eq!(note["note"]["author"]["displayName"], "Morgan Reyes");
    assert_eq!(
        app.count("change_log_entries").await?,
        before,
        "notes are conversation, not changes"
    );
    let payload = mutate(
        &app,
        &token,
        "updateTicket",
        json!({ "id": ticket, "priority": "LOW" }),
        selection,
    )
    .await?;
    assert_eq!(payload["ticket"]["priority"], "LOW");
    assert_eq!(
        payload["ticket"]["notes"]["nodes"][0]["body"],
        "Called the user"
    );
    assert_eq!(payload["ticket"]["changes"]["totalCount"], 5);
    app.stop().await
}

#[tokio::test]
async fn alerts_are_acknowledged_then_resolved() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let alert = first_id(
        &app,
        &token,
        "{ alerts(first: 1, filter: { statuses: [OPEN] }) { edges { node { id } } } }",
        "/alerts/edges/0/node/id",
    )
    .await?;
    let selection = "alert { status acknowledgedAt acknowledgedBy { displayName } resolvedAt }";
    let payload = mutate(
        &app,
        &token,
        "acknowledgeAlert",
        json!({ "id": alert }),
        selection,
    )
    .await?;
    assert_eq!(payload["alert"]["status"], "ACKNOWLEDGED");
    assert_eq!(
        payload["alert"]["acknowledgedBy"]["displayName"],
        "Morgan Reyes"
    );
    let payload = mutate(
        &app,
        &token,
        "acknowledgeAlert",
        json!({ "id": alert }),
        selection,
    )
    .await?;
    assert_eq!(
        errors(&payload),
        [("input.id".to_owned(), "INVALID_STATE".to_owned())]
    );
    let payload = mutate(
        &app,
        &token,
        "resolveAlert",
        json!({ "id": alert, "reason": "Disk cleaned" }),
        selection,
    )
    .await?;
    assert_eq!(payload["alert"]["status"], "RESOLVED");
    assert!(payload["alert"]["resolvedAt"].is_string());
    let payload = mutate(
        &app,
        &token,
        "resolveAlert",
        json!({ "id": alert }),
        selection,
    )
    .await?;
    assert_eq!(
        errors(&payload),
        [("input.id".to_owned(), "INVALID_STATE".to_owned())]
    );
    app.stop().await
}

/// An explicit `null` in an update input means something: it clears a field that may be empty,
/// and it is refused on a field that may not (it used to be ignored as if omitted). Omitted
/// fields stay as they are.
#[tokio::test]
async fn explicit_null_in_an_update_clears_or_is_refused_never_ignored() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.client_admin_token();
    let environment = harbor_environment(&app, &token).await?;
    let selection = "system { id name hostname description operatingSystem }";
    let created = mutate(&app, &token, "createSystem", json!({ "environmentId": environment, "name": "HHP-WS-012", "kind": "WORKSTATION", "hostname": "hhp-ws-012", "description": "Front desk", "operatingSystem": "Windows 11" }), selection).await?;
    assert!(errors(&created).is_empty(), "{created}");
    let id = created["system"]["id"].clone();

    let cleared = mutate(
        &app,
        &token,
        "updateSystem",
        json!({ "id": id, "hostname": null, "description": null }),
        selection,
    )
    .await?;
    assert!(errors(&cleared).is_empty(), "{cleared}");
    assert_eq!(
        cleared["system"],
        json!({ "id": id, "name": "HHP-WS-012", "hostname": null, "description": null, "operatingSystem": "Windows 11" }),
        "null cleared; omitted stayed"
    );

    let refused = mutate(
        &app,
        &token,
        "updateSystem",
        json!({ "id": id, "name": null, "kind": null, "operatingSystem": null }),
        selection,
    )
    .await?;
    assert_eq!(
        errors(&refused),
        vec![
            ("input.name".to_owned(), "INVALID".to_owned()),
            ("input.kind".to_owned(), "INVALID".to_owned()),
        ],
        "{refused}"
    );
    assert!(refused["system"].is_null());
    let message = refused["userErrors"][0]["message"].as_str().unwrap();
    assert!(message.contains("cannot be cleared; omit it"), "{message}");
    // Nothing of a refused call is written, not even its valid part.
    let after = app
        .query(
            &token,
            "query($id: ID!) { system(id: $id) { operatingSystem } }",
            json!({ "id": id }),
        )
        .await?;
    assert_eq!(after["system"]["operatingSystem"], "Windows 11");

    let environment_change = mutate(
        &app,
        &token,
        "updateEnvironment",
        json!({ "id": environment, "description": null, "complianceFrameworks": null }),
        "environment { description }",
    )
    .await?;
    assert_eq!(
        errors(&environment_change),
        vec![(
            "input.complianceFrameworks".to_owned(),
            "INVALID".to_owned()
        )],
        "{environment_change}"
    );
    let environment_change = mutate(
        &app,
        &token,
        "updateEnvironment",
        json!({ "id": environment, "description": null }),
        "environment { description }",
    )
    .await?;
    assert!(
        errors(&environment_change).is_empty(),
        "{environment_change}"
    );
    assert_eq!(
        environment_change["environment"]["description"],
        Value::Null
    );
    app.stop().await
}
