//! `transitionReadiness` judged at the transition instant (issue 16, item 3), and gaps per system
//! from the kinds of systems functions apply to (item 6).

use chrono::{NaiveTime, Utc};
use entities::enums::Role;
use serde_json::{Value, json};
use tests::TestApp;

use crate::sync::connectwise;

const READINESS: &str = "query($id: ID!, $at: DateTime) { transitionReadiness(environmentId: $id, at: $at) { at ready transition { operatingModel startsOn } items { kind message subjects nodes { __typename id ... on Function { key } ... on Responsibility { status } ... on Integration { name } } } highGaps { kind summary subject { id } } } }";
const GAPS: &str = "query($id: ID!, $at: DateTime) { ownershipGaps(environmentId: $id, at: $at) { gaps { kind severity summary subject { id ... on System { name } ... on Function { key } } } } }";
const CREATE: &str = "mutation($input: CreateResponsibilityInput!) { createResponsibility(input: $input) { responsibility { id status } userErrors { field code message } } }";

async fn readiness(app: &TestApp, token: &str, environment: &Value, at: Option<&str>) -> Value {
    app.query(token, READINESS, json!({ "id": environment, "at": at }))
        .await
        .expect("readiness answers")["transitionReadiness"]
        .clone()
}

fn kinds(readiness: &Value) -> Vec<&str> {
    readiness["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["kind"].as_str().unwrap())
        .collect()
}

async fn high_gaps(app: &TestApp, token: &str, environment: &Value, at: &str) -> Vec<String> {
    let data = app
        .query(token, GAPS, json!({ "id": environment, "at": at }))
        .await
        .expect("gaps answer");
    let mut high: Vec<String> = data["ownershipGaps"]["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|gap| gap["severity"] == "HIGH")
        .map(|gap| gap["summary"].as_str().unwrap().to_owned())
        .collect();
    high.sort();
    high
}

async fn act(app: &TestApp, token: &str, name: &str, id: &Value) -> Value {
    let query = format!(
        "mutation($input: ResponsibilityActionInput!) {{ {name}(input: $input) {{ responsibility {{ status }} userErrors {{ code message }} }} }}"
    );
    let data = app
        .query(token, &query, json!({ "input": { "id": id } }))
        .await
        .expect("the mutation answers");
    assert_eq!(data[name]["userErrors"], json!([]), "{name}: {data}");
    data[name]["responsibility"].clone()
}

async fn team(app: &TestApp, token: &str, name: &str) -> Value {
    let teams = app
        .query(
            token,
            "{ teams { edges { node { id name } } } }",
            Value::Null,
        )
        .await
        .expect("teams");
    teams["teams"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|edge| edge["node"]["name"] == name)
        .unwrap_or_else(|| panic!("no team {name}: {teams}"))["node"]["id"]
        .clone()
}

/// The HIGH-gap items and `highGaps` of a verdict say the same as `ownershipGaps` at its instant,
/// and a verdict with any of them is not ready.
async fn consistent_with_gaps(app: &TestApp, token: &str, environment: &Value, verdict: &Value) {
    let at = verdict["at"].as_str().unwrap();
    let expected = high_gaps(app, token, environment, at).await;
    let mut reported: Vec<String> = verdict["highGaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|gap| gap["summary"].as_str().unwrap().to_owned())
        .collect();
    reported.sort();
    assert_eq!(reported, expected, "{verdict}");
    let items = kinds(verdict)
        .into_iter()
        .filter(|kind| *kind == "HIGH_GAP")
        .count();
    assert_eq!(items, expected.len(), "{verdict}");
    if !expected.is_empty() {
        assert_eq!(verdict["ready"], false, "{verdict}");
    }
    assert_eq!(verdict["ready"], kinds(verdict).is_empty(), "{verdict}");
}

#[tokio::test]
async fn readiness_is_judged_on_the_transition_day_and_lists_its_high_gaps() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let cedar = app.token("demo|cedar-office", "cedar-pine", Role::Admin);
    let environment = app
        .query(
            &cedar,
            "{ environments(first: 1) { edges { node { id } } } }",
            Value::Null,
        )
        .await?["environments"]["edges"][0]["node"]["id"]
        .clone();

    // Without `at`, the demo's planned move of Cedar to co-managed is what is judged.
    let on_the_day = readiness(&app, &cedar, &environment, None).await;
    let day = on_the_day["transition"]["startsOn"]
        .as_str()
        .expect("the demo plans a transition")
        .to_owned();
    assert_eq!(on_the_day["transition"]["operatingModel"], "CO_MANAGED");
    let start = format!("{day}T00:00:00Z");
    assert_eq!(
        on_the_day["at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<Utc>>()?,
        start.parse::<chrono::DateTime<Utc>>()?
    );
    assert_eq!(on_the_day["ready"], false);
    // Nobody has agreed who runs security awareness training from the day: a HIGH gap then,
    // which today's matrix does not have.
    let training = |verdict: &Value| {
        verdict["items"].as_array().unwrap().iter().any(|item| {
            item["kind"] == "HIGH_GAP"
                && item["nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|node| node["key"] == "security_awareness_training")
        })
    };
    assert!(training(&on_the_day), "{on_the_day}");
    // The drafts for the day are unagreed entries of that instant, as typed nodes.
    let unagreed = on_the_day["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["kind"] == "UNAGREED_ENTRIES")
        .expect("the drafts for the day");
    assert!(
        unagreed["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|node| node["__typename"] == "Responsibility"
                && (node["status"] == "DRAFT" || node["status"] == "PROPOSED")),
        "{unagreed}"
    );
    consistent_with_gaps(&app, &cedar, &environment, &on_the_day).await;

    let now = Utc::now().to_rfc3339();
    let today = readiness(&app, &cedar, &environment, Some(&now)).await;
    assert!(!training(&today), "today the MSP runs training: {today}");
    assert!(today["transition"].is_null());
    consistent_with_gaps(&app, &cedar, &environment, &today).await;
    for offset in [1, 40, 400] {
        let later = (Utc::now() + chrono::Duration::days(offset)).to_rfc3339();
        let verdict = readiness(&app, &provider, &environment, Some(&later)).await;
        consistent_with_gaps(&app, &provider, &environment, &verdict).await;
    }

    // Agreeing an owner of training from the day clears that gap of the day; both sides sign,
    // as the engagement of that day is co-managed.
    let office = team(&app, &cedar, "Office Management").await;
    let drafted = app
        .query(&cedar, CREATE, json!({ "input": { "environmentId": environment, "function": "security_awareness_training", "responsibleTeamId": office, "accountableTeamId": office, "validFrom": start } }))
        .await?;
    let entry = drafted["createResponsibility"]["responsibility"]["id"].clone();
    assert!(entry.is_string(), "{drafted}");
    act(&app, &cedar, "proposeResponsibility", &entry).await;
    act(&app, &cedar, "approveResponsibility", &entry).await;
    let agreed = act(&app, &provider, "approveResponsibility", &entry).await;
    assert_eq!(agreed["status"], "AGREED");
    let fixed = readiness(&app, &cedar, &environment, None).await;
    assert!(!training(&fixed), "{fixed}");
    consistent_with_gaps(&app, &cedar, &environment, &fixed).await;

    // A proposal the other side rejects waits on nobody: it leaves the unagreed entries.
    let waiting = |verdict: &Value| -> Vec<Value> {
        verdict["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|item| item["kind"] == "UNAGREED_ENTRIES")
            .flat_map(|item| item["nodes"].as_array().unwrap().clone())
            .map(|node| node["id"].clone())
            .collect()
    };
    let drafts = fixed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["kind"] == "UNAGREED_ENTRIES")
        .expect("the day's drafts")["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["status"] == "DRAFT")
        .expect("a draft")["id"]
        .clone();
    act(&app, &provider, "proposeResponsibility", &drafts).await;
    assert!(waiting(&readiness(&app, &cedar, &environment, None).await).contains(&drafts));
    let rejected = app
        .query(&cedar, "mutation($input: RejectResponsibilityInput!) { rejectResponsibility(input: $input) { responsibility { status } userErrors { code message } } }",
            json!({ "input": { "id": drafts, "reason": "We keep this with Northwind" } }))
        .await?;
    assert_eq!(
        rejected["rejectResponsibility"]["userErrors"],
        json!([]),
        "{rejected}"
    );
    let after = readiness(&app, &cedar, &environment, None).await;
    assert!(!waiting(&after).contains(&drafts), "{after}");
    consistent_with_gaps(&app, &cedar, &environment, &after).await;
    app.stop().await
}

#[tokio::test]
async fn an_environment_is_ready_only_with_a_working_psa_and_no_high_gap() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let harbor = app.client_admin_token();
    let organization = app
        .query(&harbor, "{ viewer { organization { id } } }", Value::Null)
        .await?["viewer"]["organization"]["id"]
        .clone();
    let environment = app
        .query(&harbor, "mutation($input: CreateEnvironmentInput!) { createEnvironment(input: $input) { environment { id } } }", json!({ "input": { "organizationId": organization, "name": "New wing" } }))
        .await?["createEnvironment"]["environment"]["id"]
        .clone();
    let internal_it = team(&app, &harbor, "Internal IT").await;
    app.query(&harbor, "mutation($input: CreateSystemInput!) { createSystem(input: $input) { system { id } } }", json!({ "input": { "environmentId": environment, "name": "NW-PC-01", "kind": "WORKSTATION" } })).await?;
    let drafted = app
        .query(&harbor, CREATE, json!({ "input": { "environmentId": environment, "function": "service_desk", "responsibleTeamId": internal_it, "accountableTeamId": internal_it, "validFrom": "2026-01-01T00:00:00Z", "escalationPath": [{ "teamId": internal_it, "channel": "PHONE" }] } }))
        .await?;
    let entry = drafted["createResponsibility"]["responsibility"]["id"].clone();
    assert!(entry.is_string(), "{drafted}");
    act(&app, &harbor, "proposeResponsibility", &entry).await;
    act(&app, &harbor, "approveResponsibility", &entry).await;
    act(&app, &provider, "approveResponsibility", &entry).await;
    let service_desk = app
        .query(
            &harbor,
            "{ functions(first: 100) { edges { node { id key } } } }",
            Value::Null,
        )
        .await?["functions"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|edge| edge["node"]["key"] == "service_desk")
        .unwrap()["node"]["id"]
        .clone();
    app.query(&harbor, "mutation($input: CreateRunbookInput!) { createRunbook(input: $input) { runbook { id } } }", json!({ "input": { "environmentId": environment, "title": "Intake", "ownerTeamId": internal_it, "body": "# Intake", "functionIds": [service_desk] } })).await?;

    // A PSA mapped to the environment that never synced does not count as shared ticketing.
    let (_server, integration) = connectwise(&app, 4, 1000).await?;
    let gid = api::graphql::ids::encode(api::graphql::ids::NodeType::Integration, integration).0;
    let mapped = app
        .query(&provider, "mutation($input: MapIntegrationCompanyInput!) { mapIntegrationCompany(input: $input) { userErrors { message } } }",
            json!({ "input": { "integrationId": gid, "externalCompanyId": "252", "environmentId": environment } }))
        .await?;
    assert_eq!(mapped["mapIntegrationCompany"]["userErrors"], json!([]));
    let never_synced = readiness(&app, &provider, &environment, None).await;
    assert_eq!(
        kinds(&never_synced),
        ["INTEGRATION_UNHEALTHY"],
        "{never_synced}"
    );
    let item = &never_synced["items"][0];
    assert!(
        item["message"]
            .as_str()
            .unwrap()
            .contains("no successful sync"),
        "{item}"
    );
    assert_eq!(
        item["nodes"][0]["id"], gid,
        "the provider sees its integration"
    );
    // The client sees the MSP's integration that feeds its environment (read-only).
    let for_client = readiness(&app, &harbor, &environment, None).await;
    assert_eq!(kinds(&for_client), ["INTEGRATION_UNHEALTHY"]);
    assert_eq!(
        for_client["items"][0]["nodes"][0]["id"], gid,
        "{for_client}"
    );

    let report = tests::sync(&app, integration).await;
    assert_eq!(
        report.run.status,
        entities::enums::SyncStatus::Succeeded,
        "{report:?}"
    );
    let ready = readiness(&app, &harbor, &environment, None).await;
    assert_eq!(ready["ready"], true, "{ready}");
    consistent_with_gaps(&app, &harbor, &environment, &ready).await;

    // Disabled, the same integration keeps the environment from being ready.
    let disabled = app
        .query(&provider, "mutation($input: IntegrationActionInput!) { disableIntegration(input: $input) { userErrors { message } } }",
            json!({ "input": { "id": gid } }))
        .await?;
    assert_eq!(
        disabled["disableIntegration"]["userErrors"],
        json!([]),
        "{disabled}"
    );
    let off = readiness(&app, &provider, &environment, None).await;
    assert_eq!(kinds(&off), ["INTEGRATION_UNHEALTHY"], "{off}");
    assert!(
        off["items"][0]["message"]
            .as_str()
            .unwrap()
            .contains("disabled")
    );
    let enabled = app
        .query(&provider, "mutation($input: UpdateIntegrationInput!) { updateIntegration(input: $input) { userErrors { message } } }",
            json!({ "input": { "id": gid, "enabled": true } }))
        .await?;
    assert_eq!(
        enabled["updateIntegration"]["userErrors"],
        json!([]),
        "{enabled}"
    );

    // Once the environment falls under HIPAA, every function it requires without an owner is
    // a HIGH gap, and so not ready.
    let updated = app
        .query(&harbor, "mutation($input: UpdateEnvironmentInput!) { updateEnvironment(input: $input) { userErrors { message } } }",
            json!({ "input": { "id": environment, "complianceFrameworks": ["HIPAA"] } }))
        .await?;
    assert_eq!(
        updated["updateEnvironment"]["userErrors"],
        json!([]),
        "{updated}"
    );
    let hipaa = readiness(&app, &harbor, &environment, None).await;
    assert_eq!(hipaa["ready"], false);
    assert!(
        kinds(&hipaa).iter().all(|kind| *kind == "HIGH_GAP"),
        "{hipaa}"
    );
    consistent_with_gaps(&app, &harbor, &environment, &hipaa).await;

    // Another tenant's environment reads as null.
    let cedar = app.token("demo|cedar-office", "cedar-pine", Role::Admin);
    let hidden = app
        .query(&cedar, READINESS, json!({ "id": environment }))
        .await?;
    assert!(hidden["transitionReadiness"].is_null(), "{hidden}");
    app.stop().await
}

#[tokio::test]
async fn gaps_name_each_system_a_function_for_its_kind_leaves_unowned() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let harbor = app.client_admin_token();
    let organization = app
        .query(&harbor, "{ viewer { organization { id } } }", Value::Null)
        .await?["viewer"]["organization"]["id"]
        .clone();
    let environment = app
        .query(&harbor, "mutation($input: CreateEnvironmentInput!) { createEnvironment(input: $input) { environment { id } } }", json!({ "input": { "organizationId": organization, "name": "Lab", "complianceFrameworks": ["HIPAA"] } }))
        .await?["createEnvironment"]["environment"]["id"]
        .clone();
    let internal_it = team(&app, &harbor, "Internal IT").await;
    let mut systems = Vec::new();
    for (name, kind) in [
        ("LAB-SRV-01", "SERVER"),
        ("LAB-SRV-02", "SERVER"),
        ("LAB-PRN-01", "PRINTER"),
    ] {
        let created = app.query(&harbor, "mutation($input: CreateSystemInput!) { createSystem(input: $input) { system { id } } }", json!({ "input": { "environmentId": environment, "name": name, "kind": kind } })).await?;
        systems.push(created["createSystem"]["system"]["id"].clone());
    }
    let applies = app
        .query(
            &harbor,
            "{ functions(first: 100) { edges { node { key appliesTo } } } }",
            Value::Null,
        )
        .await?;
    let applies_to = |key: &str| {
        applies["functions"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|edge| edge["node"]["key"] == key)
            .unwrap()["node"]["appliesTo"]
            .clone()
    };
    assert_eq!(
        applies_to("backup_recovery"),
        json!(["SERVER", "VIRTUAL_MACHINE", "CLOUD_TENANT", "BACKUP_SET"])
    );
    assert_eq!(applies_to("risk_assessment"), json!([]));

    // Backups agreed for the first server only: the second is a server nobody backs up.
    let start =
        Utc::now().date_naive().and_time(NaiveTime::MIN).and_utc() - chrono::Duration::days(1);
    let drafted = app
        .query(&harbor, CREATE, json!({ "input": { "environmentId": environment, "function": "backup_recovery", "systemId": systems[0], "responsibleTeamId": internal_it, "accountableTeamId": internal_it, "validFrom": start.to_rfc3339() } }))
        .await?;
    let entry = drafted["createResponsibility"]["responsibility"]["id"].clone();
    assert!(entry.is_string(), "{drafted}");
    act(&app, &harbor, "proposeResponsibility", &entry).await;
    act(&app, &harbor, "approveResponsibility", &entry).await;
    act(&app, &provider, "approveResponsibility", &entry).await;
    let uncovered = |data: &Value, name: &str| -> Option<(String, String)> {
        data["ownershipGaps"]["gaps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|gap| gap["kind"] == "SYSTEM_UNCOVERED" && gap["subject"]["name"] == name)
            .map(|gap| {
                (
                    gap["severity"].as_str().unwrap().to_owned(),
                    gap["summary"].as_str().unwrap().to_owned(),
                )
            })
    };
    let found = app
        .query(&harbor, GAPS, json!({ "id": environment }))
        .await?;
    let (severity, summary) = uncovered(&found, "LAB-SRV-02").expect("the second server");
    assert_eq!(severity, "HIGH", "HIPAA requires backups: {summary}");
    assert!(
        summary.contains("Backup and recovery") && summary.contains("(SERVER)"),
        "{summary}"
    );
    let (_, first) = uncovered(&found, "LAB-SRV-01").expect("other functions still");
    assert!(!first.contains("Backup and recovery"), "{first}");
    // No function applies to a printer one by one; with nothing covering it, it is uncovered.
    let (severity, printer) = uncovered(&found, "LAB-PRN-01").expect("the printer");
    assert_eq!(severity, "MEDIUM");
    assert!(
        printer.starts_with("No agreed entry covers LAB-PRN-01"),
        "{printer}"
    );
    let per_system = found["ownershipGaps"]["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|gap| gap["kind"] == "SYSTEM_UNCOVERED")
        .count();
    assert_eq!(per_system, 3, "one gap per system: {found}");
    app.stop().await
}

#[tokio::test]
async fn readiness_answers_for_any_representable_instant() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let environment = app
        .query(
            &provider,
            "{ environments(first: 1) { edges { node { id } } } }",
            Value::Null,
        )
        .await?["environments"]["edges"][0]["node"]["id"]
        .clone();
    for at in ["1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z"] {
        let (_, data) = app
            .graphql(
                Some(&provider),
                READINESS,
                json!({ "id": environment, "at": at }),
            )
            .await?;
        assert!(data.get("errors").is_none(), "{at}: {data}");
        let verdict = &data["data"]["transitionReadiness"];
        assert_eq!(
            verdict["ready"],
            kinds(verdict).is_empty(),
            "{at}: {verdict}"
        );
        consistent_with_gaps(&app, &provider, &environment, verdict).await;
        if at.starts_with("1970") {
            // Nothing was in force in 1970: every required function is a HIGH gap then.
            assert!(kinds(verdict).contains(&"HIGH_GAP"), "{at}: {verdict}");
        }
    }
    let (_, bad) = app
        .graphql(
            Some(&provider),
            READINESS,
            json!({ "id": environment, "at": "10000-01-01T00:00:00Z" }),
        )
        .await?;
    assert!(bad["errors"][0]["extensions"]["code"].is_string(), "{bad}");
    app.stop().await
}
