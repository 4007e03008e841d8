//! Bulk upserts for sync jobs: idempotent by `(source, externalId)`, per-record errors, the
//! change log for what changed, and `alertRaised` for new alerts.

use entities::enums::Role;
use serde_json::{Value, json};
use tests::TestApp;

fn sync_token(app: &TestApp) -> String {
    app.token("demo|northwind-sync", "northwind-msp", Role::Integration)
}

async fn call(
    app: &TestApp,
    token: &str,
    name: &str,
    input: Value,
    node: &str,
) -> anyhow::Result<Value> {
    let input_type = format!("{}{}Input", name[..1].to_uppercase(), &name[1..]);
    let query = format!(
        "mutation($input: {input_type}!) {{ {name}(input: $input) {{ results {{ index outcome node {{ {node} }} }} counts {{ created updated unchanged failed }} userErrors {{ field code message }} }} }}"
    );
    Ok(app.query(token, &query, json!({ "input": input })).await?[name].clone())
}

fn outcomes(payload: &Value) -> Vec<&str> {
    payload["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| result["outcome"].as_str().unwrap())
        .collect()
}

async fn environment(app: &TestApp) -> anyhow::Result<Value> {
    Ok(app
        .query(
            &app.client_admin_token(),
            "{ environments(first: 1) { edges { node { id } } } }",
            Value::Null,
        )
        .await?["environments"]["edges"][0]["node"]["id"]
        .clone())
}

#[tokio::test]
async fn systems_upsert_idempotently_and_log_what_changed() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = sync_token(&app);
    let environment = environment(&app).await?;
    let records = json!([
        { "externalId": "dev-1", "environmentId": environment, "name": "LAB-PC-01", "kind": "WORKSTATION", "operatingSystem": "Windows 11 23H2", "ipAddress": "10.9.0.1" },
        { "externalId": "dev-2", "environmentId": environment, "name": "LAB-PC-02", "kind": "WORKSTATION" },
    ]);
    let node = "id name operatingSystem attributeSources externalIds { source externalId }";
    let first = call(
        &app,
        &token,
        "upsertSystems",
        json!({ "source": { "name": "acme-cmdb" }, "records": records }),
        node,
    )
    .await?;
    assert_eq!(outcomes(&first), ["CREATED", "CREATED"], "{first}");
    assert_eq!(
        first["results"][0]["node"]["externalIds"],
        json!([{ "source": "acme-cmdb", "externalId": "dev-1" }])
    );
    assert_eq!(
        first["results"][0]["node"]["attributeSources"]["operating_system"],
        "acme-cmdb"
    );

    // The key is (resource, externalId): the same id under another resource is another record.
    let other_resource = call(
        &app,
        &token,
        "upsertSystems",
        json!({ "source": { "name": "acme-cmdb" }, "records": [{ "externalId": "dev-1", "resource": "configuration", "environmentId": environment, "name": "LAB-PC-01 config", "kind": "OTHER" }] }),
        node,
    )
    .await?;
    assert_eq!(outcomes(&other_resource), ["CREATED"]);
    assert_ne!(
        other_resource["results"][0]["node"]["id"],
        first["results"][0]["node"]["id"]
    );

    // Resending the same page writes nothing, not even change log entries.
    let entries = app.count("change_log_entries").await?;
    let again = call(
        &app,
        &token,
        "upsertSystems",
        json!({ "source": { "name": "acme-cmdb" }, "records": records }),
        node,
    )
    .await?;
    assert_eq!(outcomes(&again), ["UNCHANGED", "UNCHANGED"]);
    assert_eq!(
        again["results"][0]["node"]["id"],
        first["results"][0]["node"]["id"]
    );
    assert_eq!(app.count("change_log_entries").await?, entries);
    assert_eq!(app.count("systems").await?, 43 + 3);

    // An OS upgrade is an update and a change log entry that says what changed.
    let mut changed = records.clone();
    changed[0]["operatingSystem"] = json!("Windows 11 24H2");
    let update = call(
        &app,
        &token,
        "upsertSystems",
        json!({ "source": { "name": "acme-cmdb" }, "records": changed }),
        node,
    )
    .await?;
    assert_eq!(outcomes(&update), ["UPDATED", "UNCHANGED"]);
    assert_eq!(app.count("change_log_entries").await?, entries + 1);
    let data = app
        .query(&token, "query($id: ID!) { node(id: $id) { ... on System { changes(orderBy: { direction: DESC }, first: 1) { edges { node { summary details } } } } } }", json!({ "id": first["results"][0]["node"]["id"] }))
        .await?;
    let entry = &data["node"]["changes"]["edges"][0]["node"];
    assert_eq!(
        entry["details"]["changes"]["operating_system"],
        json!({ "from": "Windows 11 23H2", "to": "Windows 11 24H2" })
    );
    assert!(
        entry["summary"]
            .as_str()
            .unwrap()
            .contains("operating_system"),
        "{entry}"
    );
    app.stop().await
}

#[tokio::test]
async fn bad_records_are_refused_one_by_one_and_the_rest_land() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = sync_token(&app);
    let environment = environment(&app).await?;
    let payload = call(
        &app,
        &token,
        "upsertSystems",
        json!({ "source": { "name": "acme-cmdb" }, "records": [
            { "externalId": "ok-1", "environmentId": environment, "name": "GOOD", "kind": "SERVER" },
            { "externalId": "bad-1", "environmentId": environment, "name": " ", "kind": "SERVER" },
            { "externalId": "bad-2", "environmentId": "nope", "name": "X", "kind": "SERVER" },
            { "externalId": "ok-1", "environmentId": environment, "name": "DUPLICATE", "kind": "SERVER" },
        ] }),
        "name",
    )
    .await?;
    assert_eq!(
        payload["counts"],
        json!({ "created": 1, "updated": 0, "unchanged": 0, "failed": 3 })
    );
    let fields: Vec<String> = payload["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| {
            error["field"]
                .as_array()
                .unwrap()
                .iter()
                .map(|part| part.as_str().unwrap())
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect();
    assert!(
        fields.contains(&"input.records.1.name".to_owned()),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"input.records.2.environmentId".to_owned()),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"input.records.3.externalId".to_owned()),
        "{fields:?}"
    );
    assert_eq!(payload["results"][0]["node"]["name"], "GOOD");

    let too_many: Vec<Value> = (0..1001).map(|number| json!({ "externalId": format!("x{number}"), "environmentId": environment, "name": "X", "kind": "OTHER" })).collect();
    let payload = call(
        &app,
        &token,
        "upsertSystems",
        json!({ "source": { "name": "acme-cmdb" }, "records": too_many }),
        "name",
    )
    .await?;
    assert_eq!(payload["userErrors"][0]["code"], "TOO_LONG");
    assert_eq!(
        app.count("systems").await?,
        44,
        "nothing of an oversized call is written"
    );

    let payload = call(
        &app,
        &token,
        "upsertSystems",
        json!({ "source": { "name": "bad source!" }, "records": [] }),
        "name",
    )
    .await?;
    assert_eq!(payload["userErrors"][0]["code"], "INVALID");

    // Members do not run sync jobs.
    let member = app.token("demo|harbor-it-tech", "harbor-health", Role::Member);
    let (_, body) = app
        .graphql(Some(&member), "mutation($input: UpsertSystemsInput!) { upsertSystems(input: $input) { counts { created } } }", json!({ "input": { "source": { "name": "x" }, "records": [] } }))
        .await?;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    app.stop().await
}

#[tokio::test]
async fn tickets_and_changes_upsert_idempotently() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = sync_token(&app);
    let environment = environment(&app).await?;
    call(&app, &token, "upsertSystems", json!({ "source": { "name": "psa" }, "records": [{ "externalId": "cfg-9", "environmentId": environment, "name": "HHP-NEW", "kind": "SERVER" }] }), "id").await?;
    let ticket = json!({ "externalId": "T-100", "environmentId": environment, "title": "Backup failed", "status": "NEW", "priority": "HIGH", "externalStatus": "New", "systemExternalId": "cfg-9" });
    let node = "id status externalStatus system { name } externalIds { source externalId } changes { totalCount }";
    let first = call(
        &app,
        &token,
        "upsertTickets",
        json!({ "source": { "name": "psa" }, "records": [ticket] }),
        node,
    )
    .await?;
    assert_eq!(outcomes(&first), ["CREATED"], "{first}");
    assert_eq!(first["results"][0]["node"]["system"]["name"], "HHP-NEW");
    let again = call(
        &app,
        &token,
        "upsertTickets",
        json!({ "source": { "name": "psa" }, "records": [ticket] }),
        node,
    )
    .await?;
    assert_eq!(outcomes(&again), ["UNCHANGED"]);
    let mut resolved = ticket.clone();
    resolved["status"] = json!("RESOLVED");
    resolved["externalStatus"] = json!("Completed");
    let update = call(
        &app,
        &token,
        "upsertTickets",
        json!({ "source": { "name": "psa" }, "records": [resolved] }),
        node,
    )
    .await?;
    assert_eq!(outcomes(&update), ["UPDATED"]);
    assert_eq!(
        update["results"][0]["node"]["changes"]["totalCount"], 1,
        "the status change is in the ticket's change log"
    );
    let unknown = call(&app, &token, "upsertTickets", json!({ "source": { "name": "psa" }, "records": [{ "externalId": "T-101", "environmentId": environment, "title": "x", "status": "NEW", "priority": "LOW", "systemExternalId": "nope" }] }), node).await?;
    assert_eq!(unknown["userErrors"][0]["code"], "NOT_FOUND");

    let change = json!({ "externalId": "act-1", "environmentId": environment, "summary": "Agent updated", "category": "PATCH", "occurredAt": "2026-11-01T10:00:00.123456Z", "actorName": "RMM policy", "systemExternalIds": ["cfg-9"] });
    let node =
        "id summary actorName source systems { nodes { name } } externalIds { source externalId }";
    let first = call(
        &app,
        &token,
        "recordChanges",
        json!({ "source": { "name": "psa" }, "records": [change] }),
        node,
    )
    .await?;
    assert_eq!(outcomes(&first), ["CREATED"], "{first}");
    assert_eq!(first["results"][0]["node"]["actorName"], "RMM policy");
    assert_eq!(
        first["results"][0]["node"]["systems"]["nodes"][0]["name"],
        "HHP-NEW"
    );
    let again = call(
        &app,
        &token,
        "recordChanges",
        json!({ "source": { "name": "psa" }, "records": [change] }),
        node,
    )
    .await?;
    assert_eq!(outcomes(&again), ["UNCHANGED"]);
    assert_eq!(
        again["results"][0]["node"]["id"],
        first["results"][0]["node"]["id"]
    );
    let mut altered = change.clone();
    altered["summary"] = json!("Agent removed");
    let refused = call(
        &app,
        &token,
        "recordChanges",
        json!({ "source": { "name": "psa" }, "records": [altered] }),
        node,
    )
    .await?;
    assert_eq!(refused["userErrors"][0]["code"], "INVALID_STATE");
    app.stop().await
}
