//! `ownershipGaps`: each kind of gap shows while it exists and goes once it is fixed; the demo's
//! planned transition of Cedar & Pine has gaps to find.

use chrono::{Duration, SecondsFormat, Utc};
use entities::enums::Role;
use serde_json::{Value, json};
use tests::TestApp;

const REPORT: &str = "query($id: ID!, $at: DateTime, $window: Int = 24) { ownershipGaps(environmentId: $id, at: $at, changeWindowHours: $window) { at changeWindowHours gaps { kind severity summary suggestedFix subject { __typename id ... on Function { key } ... on System { name } ... on Runbook { title } ... on ChangeLogEntry { summary source } ... on Responsibility { status function { key } } } } } }";

async fn gaps(
    app: &TestApp,
    token: &str,
    environment: &Value,
    at: Option<String>,
) -> anyhow::Result<Vec<Value>> {
    gaps_within(app, token, environment, at, 24).await
}

async fn gaps_within(
    app: &TestApp,
    token: &str,
    environment: &Value,
    at: Option<String>,
    window: i32,
) -> anyhow::Result<Vec<Value>> {
    let data = app
        .query(
            token,
            REPORT,
            json!({ "id": environment, "at": at, "window": window }),
        )
        .await?;
    Ok(data["ownershipGaps"]["gaps"].as_array().unwrap().clone())
}

fn of_kind<'a>(gaps: &'a [Value], kind: &str) -> Vec<&'a Value> {
    gaps.iter().filter(|gap| gap["kind"] == kind).collect()
}

fn function_keys(gaps: &[Value], kind: &str) -> Vec<String> {
    of_kind(gaps, kind)
        .iter()
        .map(|gap| gap["subject"]["key"].as_str().unwrap().to_owned())
        .collect()
}

fn stamp(at: chrono::DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

async fn id_by(
    app: &TestApp,
    token: &str,
    list: &str,
    field: &str,
    value: &str,
) -> anyhow::Result<Value> {
    let data = app
        .query(
            token,
            &format!("{{ {list}(first: 100) {{ edges {{ node {{ id {field} }} }} }} }}"),
            Value::Null,
        )
        .await?;
    Ok(data[list]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|edge| edge["node"][field] == value)
        .unwrap_or_else(|| panic!("no {list} with {field} {value}"))["node"]["id"]
        .clone())
}

/// Creates an entry and has both sides of the co-managed engagement agree it.
async fn agree(app: &TestApp, input: Value) -> anyhow::Result<Value> {
    let harbor = app.client_admin_token();
    let provider = app.provider_admin_token();
    let created = app
        .query(&harbor, "mutation($input: CreateResponsibilityInput!) { createResponsibility(input: $input) { responsibility { id } userErrors { field message } } }", json!({ "input": input }))
        .await?;
    let id = created["createResponsibility"]["responsibility"]["id"].clone();
    assert!(id.is_string(), "{created}");
    for (token, action) in [
        (&harbor, "proposeResponsibility"),
        (&harbor, "approveResponsibility"),
        (&provider, "approveResponsibility"),
    ] {
        let done = app
            .query(token, &format!("mutation($input: ResponsibilityActionInput!) {{ {action}(input: $input) {{ userErrors {{ message }} }} }}"), json!({ "input": { "id": id } }))
            .await?;
        assert_eq!(done[action]["userErrors"], json!([]), "{done}");
    }
    Ok(id)
}

#[tokio::test]
async fn each_gap_kind_shows_until_it_is_fixed() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    // Only a token issued for an integration records what an RMM observed.
    let rmm = app
        .query(
            &app.provider_admin_token(),
            "{ integrations(first: 10) { edges { node { id kind } } } }",
            Value::Null,
        )
        .await?["integrations"]["edges"]
        .as_array()
        .and_then(|edges| edges.iter().find(|edge| edge["node"]["kind"] == "NINJAONE"))
        .map(|edge| edge["node"]["id"].clone())
        .expect("the demo has a NinjaOne integration");
    let rmm = tests::decode_uuid(&rmm);
    let sync = app.integration_token("demo|northwind-sync", "northwind-msp", rmm);
    let organization = app
        .query(&harbor, "{ viewer { organization { id } } }", Value::Null)
        .await?["viewer"]["organization"]["id"]
        .clone();
    let environment = app
        .query(&harbor, "mutation($input: CreateEnvironmentInput!) { createEnvironment(input: $input) { environment { id } } }", json!({ "input": { "organizationId": organization, "name": "Annex", "complianceFrameworks": ["FTC_SAFEGUARDS"] } }))
        .await?["createEnvironment"]["environment"]["id"]
        .clone();
    let internal_it = id_by(&app, &harbor, "teams", "name", "Internal IT").await?;

    // Nothing agreed: every function the FTC Safeguards Rule requires is a high-severity gap.
    let found = gaps(&app, &harbor, &environment, None).await?;
    let required = function_keys(&found, "REQUIRED_FUNCTION_UNOWNED");
    assert_eq!(required.len(), 12, "{required:?}");
    assert!(required.contains(&"patching".to_owned()));
    let patching_gap = of_kind(&found, "REQUIRED_FUNCTION_UNOWNED")
        .into_iter()
        .find(|gap| gap["subject"]["key"] == "patching")
        .unwrap();
    assert_eq!(patching_gap["severity"], "HIGH");
    assert!(
        patching_gap["summary"]
            .as_str()
            .unwrap()
            .starts_with("Patch management is required by FTC_SAFEGUARDS but has no agreed owner"),
        "{patching_gap}"
    );
    assert!(
        of_kind(&found, "SYSTEM_UNCOVERED").is_empty(),
        "no systems yet"
    );

    // A device the RMM reports is a system no entry covers (its discovery is not a change).
    let upserted = app
        .query(&sync, "mutation($input: UpsertSystemsInput!) { upsertSystems(input: $input) { results { node { id } } userErrors { message } } }", json!({ "input": { "source": { "kind": "NINJAONE" }, "records": [{ "externalId": "anx-1", "environmentId": environment, "name": "ANX-PC-01", "kind": "WORKSTATION" }] } }))
        .await?;
    let system = upserted["upsertSystems"]["results"][0]["node"]["id"].clone();
    let found = gaps(&app, &harbor, &environment, None).await?;
    let uncovered = of_kind(&found, "SYSTEM_UNCOVERED");
    assert_eq!(uncovered.len(), 1);
    assert_eq!(uncovered[0]["subject"]["name"], "ANX-PC-01");
    assert!(
        of_kind(&found, "UNDOCUMENTED_CHANGE").is_empty(),
        "{found:?}"
    );

    // An agreed patching default without accountable team or escalation path, ending in ten days.
    let now = Utc::now();
    let ends = now + Duration::days(10);
    let first = agree(
        &app,
        json!({ "environmentId": environment, "function": "patching", "responsibleTeamId": internal_it, "validFrom": "2026-01-01T00:00:00Z", "validTo": stamp(ends) }),
    )
    .await?;
    let found = gaps(&app, &harbor, &environment, None).await?;
    assert!(!function_keys(&found, "REQUIRED_FUNCTION_UNOWNED").contains(&"patching".to_owned()));
    // The patching default covers the workstation for patching; the other functions that apply
    // to a workstation still have nobody, and the FTC Safeguards Rule requires some of them.
    let uncovered = of_kind(&found, "SYSTEM_UNCOVERED");
    assert_eq!(uncovered.len(), 1, "{found:?}");
    let summary = uncovered[0]["summary"].as_str().unwrap();
    assert!(
        !summary.contains("Patch management") && summary.contains("Vulnerability management"),
        "{summary}"
    );
    assert_eq!(uncovered[0]["severity"], "HIGH", "{summary}");
    for kind in [
        "NO_ACCOUNTABLE_TEAM",
        "NO_ESCALATION_PATH",
        "EXPIRING_WITHOUT_SUCCESSOR",
    ] {
        let matching = of_kind(&found, kind);
        assert_eq!(matching.len(), 1, "{kind}: {found:?}");
        assert_eq!(matching[0]["subject"]["id"], first, "{kind}");
    }
    assert_eq!(
        of_kind(&found, "EXPIRING_WITHOUT_SUCCESSOR")[0]["severity"],
        "HIGH"
    );
    assert_eq!(
        function_keys(&found, "FUNCTION_WITHOUT_RUNBOOK"),
        ["patching"]
    );

    // Its agreed successor, complete this time, closes the expiry gap now and the other two from
    // the day it takes over.
    agree(
        &app,
        json!({ "environmentId": environment, "function": "patching", "responsibleTeamId": internal_it, "accountableTeamId": internal_it,
                "escalationPath": [{ "teamId": internal_it, "channel": "TICKET", "minutesBeforeNext": 30 }],
                "validFrom": stamp(ends) }),
    )
    .await?;
    let found = gaps(&app, &harbor, &environment, None).await?;
    assert!(
        of_kind(&found, "EXPIRING_WITHOUT_SUCCESSOR").is_empty(),
        "{found:?}"
    );
    let later = gaps(
        &app,
        &harbor,
        &environment,
        Some(stamp(ends + Duration::days(1))),
    )
    .await?;
    assert!(
        of_kind(&later, "NO_ACCOUNTABLE_TEAM").is_empty(),
        "{later:?}"
    );
    assert!(
        of_kind(&later, "NO_ESCALATION_PATH").is_empty(),
        "{later:?}"
    );

    // A runbook for patching; one with a one-day review interval is overdue two days later until
    // it is archived.
    let function = id_by(&app, &harbor, "functions", "key", "patching").await?;
    let create_runbook = "mutation($input: CreateRunbookInput!) { createRunbook(input: $input) { runbook { id } userErrors { message } } }";
    app.query(&harbor, create_runbook, json!({ "input": { "environmentId": environment, "title": "Patch cycle", "ownerTeamId": internal_it, "body": "# Patch cycle", "functionIds": [function] } }))
        .await?;
    let stale = app
        .query(&harbor, create_runbook, json!({ "input": { "environmentId": environment, "title": "Daily checks", "ownerTeamId": internal_it, "reviewIntervalDays": 1, "body": "# Daily" } }))
        .await?["createRunbook"]["runbook"]["id"]
        .clone();
    let found = gaps(&app, &harbor, &environment, None).await?;
    assert!(
        of_kind(&found, "FUNCTION_WITHOUT_RUNBOOK").is_empty(),
        "{found:?}"
    );
    assert!(
        of_kind(&found, "RUNBOOK_REVIEW_OVERDUE").is_empty(),
        "not due yet"
    );
    let in_two_days = Some(stamp(now + Duration::days(2)));
    let overdue = gaps(&app, &harbor, &environment, in_two_days.clone()).await?;
    let overdue = of_kind(&overdue, "RUNBOOK_REVIEW_OVERDUE");
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0]["subject"]["title"], "Daily checks");
    app.query(&harbor, "mutation($input: RunbookActionInput!) { archiveRunbook(input: $input) { userErrors { message } } }", json!({ "input": { "runbookId": stale } }))
        .await?;
    let found = gaps(&app, &harbor, &environment, in_two_days).await?;
    assert!(
        of_kind(&found, "RUNBOOK_REVIEW_OVERDUE").is_empty(),
        "{found:?}"
    );

    // The RMM sees software installed that nobody asked for in a ticket or recorded.
    let observed_at = now - Duration::hours(3);
    let recorded = app
        .query(&sync, "mutation($input: RecordChangesInput!) { recordChanges(input: $input) { results { node { source } } userErrors { message } } }", json!({ "input": { "source": { "kind": "NINJAONE" }, "records": [{ "externalId": "act-1", "environmentId": environment, "summary": "Installed AnyDesk on ANX-PC-01", "category": "DEPLOYMENT", "occurredAt": stamp(observed_at), "systemExternalIds": ["anx-1"] }] } }))
        .await?;
    assert_eq!(
        recorded["recordChanges"]["results"][0]["node"]["source"], "RMM",
        "{recorded}"
    );
    let found = gaps(&app, &harbor, &environment, None).await?;
    let undocumented = of_kind(&found, "UNDOCUMENTED_CHANGE");
    assert_eq!(undocumented.len(), 1, "{found:?}");
    assert_eq!(
        undocumented[0]["subject"]["summary"],
        "Installed AnyDesk on ANX-PC-01"
    );
    assert_eq!(undocumented[0]["subject"]["__typename"], "ChangeLogEntry");

    // A change recorded for no system does not document it; one for the same system within
    // the window does, and a narrower window undoes that.
    app.query(&harbor, "mutation($input: RecordChangeInput!) { recordChange(input: $input) { userErrors { message } } }", json!({ "input": { "environmentId": environment, "summary": "Rotated Wi-Fi key", "category": "NETWORK" } }))
        .await?;
    assert_eq!(
        of_kind(
            &gaps(&app, &harbor, &environment, None).await?,
            "UNDOCUMENTED_CHANGE"
        )
        .len(),
        1
    );
    app.query(&harbor, "mutation($input: RecordChangeInput!) { recordChange(input: $input) { userErrors { message } } }", json!({ "input": { "environmentId": environment, "systemIds": [system], "summary": "Installed AnyDesk for the vendor's remote session", "category": "DEPLOYMENT", "occurredAt": stamp(now) } }))
        .await?;
    let found = gaps(&app, &harbor, &environment, None).await?;
    assert!(
        of_kind(&found, "UNDOCUMENTED_CHANGE").is_empty(),
        "{found:?}"
    );
    let narrow = gaps_within(&app, &harbor, &environment, None, 1).await?;
    assert_eq!(of_kind(&narrow, "UNDOCUMENTED_CHANGE").len(), 1);

    // Most severe first.
    let severities: Vec<&str> = narrow
        .iter()
        .map(|gap| gap["severity"].as_str().unwrap())
        .collect();
    let mut sorted = severities.clone();
    sorted.sort_by_key(|severity| ["HIGH", "MEDIUM", "LOW"].iter().position(|s| s == severity));
    assert_eq!(severities, sorted);
    app.stop().await
}

#[tokio::test]
async fn the_demo_transition_of_cedar_has_gaps_to_find() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let cedar = app.token("demo|cedar-office", "cedar-pine", Role::Admin);
    let data = app
        .query(&cedar, "{ environments(first: 1) { edges { node { id } } } engagements { edges { node { operatingModel startsOn endsOn } } } }", Value::Null)
        .await?;
    let environment = data["environments"]["edges"][0]["node"]["id"].clone();
    let transition = (Utc::now() + Duration::days(21)).date_naive();
    let engagements = data["engagements"]["edges"].as_array().unwrap();
    assert!(
        engagements
            .iter()
            .any(|edge| edge["node"]["operatingModel"] == "CO_MANAGED"
                && edge["node"]["startsOn"] == transition.to_string()),
        "{data}"
    );

    // Today: three agreed entries end on the day with no agreed successor.
    let today = gaps(&app, &cedar, &environment, None).await?;
    let expiring = of_kind(&today, "EXPIRING_WITHOUT_SUCCESSOR");
    let mut keys: Vec<&str> = expiring
        .iter()
        .map(|gap| gap["subject"]["function"]["key"].as_str().unwrap())
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "line_of_business_applications",
            "security_awareness_training",
            "service_desk"
        ]
    );
    let fix_of = |key: &str| {
        expiring
            .iter()
            .find(|gap| gap["subject"]["function"]["key"] == key)
            .unwrap()["suggestedFix"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(fix_of("service_desk").starts_with("Agree its successor (now PROPOSED)"));
    assert!(fix_of("security_awareness_training").starts_with("Create the entry that takes over"));
    let overdue = of_kind(&today, "RUNBOOK_REVIEW_OVERDUE");
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0]["subject"]["title"], "Offboarding a staff member");

    // Reviewing the runbook clears its gap.
    app.query(&cedar, "mutation($input: RunbookActionInput!) { markRunbookReviewed(input: $input) { userErrors { message } } }", json!({ "input": { "runbookId": overdue[0]["subject"]["id"] } }))
        .await?;
    let reviewed = gaps(&app, &cedar, &environment, None).await?;
    assert!(of_kind(&reviewed, "RUNBOOK_REVIEW_OVERDUE").is_empty());

    // On the day: nobody owns security awareness training, and the drafted line of business
    // entry names no accountable team and no escalation path.
    let day = format!("{transition}T00:00:00Z");
    let on_the_day = gaps(&app, &cedar, &environment, Some(day)).await?;
    assert_eq!(
        function_keys(&on_the_day, "REQUIRED_FUNCTION_UNOWNED"),
        ["security_awareness_training"]
    );
    for kind in ["NO_ACCOUNTABLE_TEAM", "NO_ESCALATION_PATH"] {
        let matching = of_kind(&on_the_day, kind);
        assert_eq!(matching.len(), 1, "{kind}: {on_the_day:?}");
        assert_eq!(
            matching[0]["subject"]["function"]["key"],
            "line_of_business_applications"
        );
        assert_eq!(matching[0]["subject"]["status"], "DRAFT");
    }

    // Bad arguments are refused; another tenant's environment is not there.
    let (_, body) = app
        .graphql(
            Some(&cedar),
            REPORT,
            json!({ "id": environment, "window": 0 }),
        )
        .await?;
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let hidden = app
        .query(
            &app.client_admin_token(),
            REPORT,
            json!({ "id": environment }),
        )
        .await?;
    assert_eq!(hidden, json!({ "ownershipGaps": null }));
    app.stop().await
}
