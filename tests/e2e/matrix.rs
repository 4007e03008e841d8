//! The responsibility matrix: in force at any instant, `whoOwns` with the deciding entry, and the
//! Markdown and CSV exports.

use serde_json::{Value, json};
use tests::TestApp;

async fn harbor_production(app: &TestApp, token: &str) -> anyhow::Result<(Value, Value)> {
    let data = app
        .query(token, "{ environments(first: 1) { edges { node { id } } } systems(filter: { text: \"HHP-EHR-APP01\" }) { edges { node { id } } } }", Value::Null)
        .await?;
    Ok((
        data["environments"]["edges"][0]["node"]["id"].clone(),
        data["systems"]["edges"][0]["node"]["id"].clone(),
    ))
}

#[tokio::test]
async fn the_matrix_in_force_travels_in_time_and_who_owns_names_the_deciding_entry()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.client_admin_token();
    let (environment, ehr) = harbor_production(&app, &token).await?;
    let query = "query($id: ID!, $at: DateTime) { responsibilityMatrix(environmentId: $id, at: $at) { at rows { function { key } default { responsibleTeam { name } escalationPath { position channel team { name } person { displayName } minutesBeforeNext } } overrides { system { name } } } } }";
    let now = app
        .query(&token, query, json!({ "id": environment }))
        .await?;
    let rows = now["responsibilityMatrix"]["rows"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rows.len(), 19);
    assert!(
        rows.iter().all(|row| !row["default"].is_null()),
        "every function has an agreed owner"
    );
    let patching = rows
        .iter()
        .find(|row| row["function"]["key"] == "patching")
        .unwrap();
    assert_eq!(
        patching["overrides"].as_array().map(Vec::len),
        Some(2),
        "the two EHR servers"
    );
    let path = patching["default"]["escalationPath"].as_array().unwrap();
    assert_eq!(path.len(), 3);
    assert_eq!(path[1]["person"]["displayName"], "Dana Whitfield");
    assert_eq!(path[2]["minutesBeforeNext"], Value::Null);

    // Before the co-managed engagement began nothing in this matrix was in force.
    let before = app
        .query(
            &token,
            query,
            json!({ "id": environment, "at": "2024-01-01T00:00:00Z" }),
        )
        .await?;
    assert!(
        before["responsibilityMatrix"]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|row| row["default"].is_null())
    );

    let who = "query($id: ID!, $system: ID, $function: String!) { whoOwns(environmentId: $id, function: $function, systemId: $system) { decidedBy responsibility { id responsibleTeam { name } system { name } } } }";
    let on_ehr = app
        .query(
            &token,
            who,
            json!({ "id": environment, "system": ehr, "function": "patching" }),
        )
        .await?;
    assert_eq!(on_ehr["whoOwns"]["decidedBy"], "SYSTEM_ENTRY");
    assert_eq!(
        on_ehr["whoOwns"]["responsibility"]["responsibleTeam"]["name"],
        "Internal IT"
    );
    let default = app
        .query(
            &token,
            who,
            json!({ "id": environment, "function": "patching" }),
        )
        .await?;
    assert_eq!(default["whoOwns"]["decidedBy"], "FUNCTION_DEFAULT");
    assert_eq!(
        default["whoOwns"]["responsibility"]["responsibleTeam"]["name"],
        "Network Operations"
    );
    let (_, body) = app
        .graphql(
            Some(&token),
            who,
            json!({ "id": environment, "function": "knitting" }),
        )
        .await?;
    assert_eq!(
        body["errors"][0]["message"],
        "no function with the key `knitting`"
    );

    // Another tenant learns nothing.
    let cedar = app.token(
        "demo|cedar-office",
        "cedar-pine",
        entities::enums::Role::Admin,
    );
    let hidden = app
        .query(&cedar, query, json!({ "id": environment }))
        .await?;
    assert_eq!(hidden, json!({ "responsibilityMatrix": null }));
    app.stop().await
}

#[tokio::test]
async fn the_matrix_exports_as_markdown_and_csv() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.client_admin_token();
    let (environment, _) = harbor_production(&app, &token).await?;
    let environment = environment.as_str().unwrap().to_owned();
    let client = app.client.clone();
    let base = format!(
        "{}/environments/{environment}/responsibility-matrix",
        app.address
    );
    let get = |query: String, token: String| {
        let request = client.get(format!("{base}?{query}")).bearer_auth(token);
        async move { request.send().await }
    };

    let response = get("format=md&at=2026-11-01".into(), token.clone()).await?;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/markdown; charset=utf-8"
    );
    let markdown = response.text().await?;
    assert!(
        markdown.starts_with("# Responsibility matrix: Harbor Health Partners — Production"),
        "{markdown}"
    );
    assert!(markdown.contains("In force at 2026-11-01T00:00:00Z"));
    assert!(
        markdown.contains("| Patch management | PR.PS | HHP-EHR-APP01 | Internal IT |"),
        "{markdown}"
    );
    assert!(markdown.contains("1. Network Operations (ticket, 30 min) → 2. Dana Whitfield (phone, 60 min) → 3. vCIO and Account Management (email)"));

    let response = get("format=csv".into(), token.clone()).await?;
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let csv = response.text().await?;
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(&reader.headers()?[0], "function_key");
    let records: Vec<csv::StringRecord> = reader.records().collect::<Result<_, _>>()?;
    assert_eq!(
        records.len(),
        19 + 2,
        "a row per function, plus the two system overrides"
    );

    let old = get("format=csv&at=2020-01-01".into(), token.clone())
        .await?
        .text()
        .await?;
    assert!(old.contains("(no agreed owner)"));

    for (query, status) in [
        ("format=pdf", 400),
        ("", 400),
        ("format=md&at=yesterday", 400),
    ] {
        assert_eq!(
            get(query.into(), token.clone()).await?.status(),
            status,
            "{query}"
        );
    }
    let cedar = app.token(
        "demo|cedar-office",
        "cedar-pine",
        entities::enums::Role::Admin,
    );
    let response = get("format=md".into(), cedar).await?;
    assert_eq!(
        response.status(),
        404,
        "another tenant's environment does not exist for it"
    );
    let response = app
        .client
        .get(format!(
            "{}/environments/{environment}/responsibility-matrix?format=md",
            app.address
        ))
        .send()
        .await?;
    assert_eq!(response.status(), 401);
    app.stop().await
}

async fn lifecycle(app: &TestApp, token: &str, name: &str, id: &Value) -> anyhow::Result<Value> {
    let query = format!(
        "mutation($input: ResponsibilityActionInput!) {{ {name}(input: $input) {{ responsibility {{ id status approvals {{ organization {{ slug }} person {{ displayName }} }} }} userErrors {{ field code message }} }} }}"
    );
    Ok(app
        .query(token, &query, json!({ "input": { "id": id } }))
        .await?[name]
        .clone())
}

const CREATE: &str = "mutation($input: CreateResponsibilityInput!) { createResponsibility(input: $input) { responsibility { id status } userErrors { field code message } } }";

#[tokio::test]
async fn co_managed_entries_need_both_sides_and_may_not_overlap() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let harbor = app.client_admin_token();
    let (environment, ehr) = harbor_production(&app, &harbor).await?;
    let teams = app
        .query(
            &harbor,
            "{ teams { edges { node { id name } } } }",
            Value::Null,
        )
        .await?;
    let internal_it = teams["teams"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|edge| edge["node"]["name"] == "Internal IT")
        .unwrap()["node"]["id"]
        .clone();
    let dana = app
        .query(&harbor, "{ viewer { person { id } } }", Value::Null)
        .await?["viewer"]["person"]["id"]
        .clone();

    // An EHR backup entry starting next year: no agreed entry covers the EHR server's backups yet.
    let created = app
        .query(&provider, CREATE, json!({ "input": {
            "environmentId": environment, "function": "backup_recovery", "systemId": ehr,
            "responsibleTeamId": internal_it, "accountableTeamId": internal_it,
            "escalationPath": [{ "teamId": internal_it, "channel": "TICKET", "minutesBeforeNext": 15 }, { "personId": dana, "channel": "PHONE" }],
            "validFrom": "2027-01-01T00:00:00Z" } }))
        .await?;
    let entry = created["createResponsibility"]["responsibility"].clone();
    assert_eq!(entry["status"], "DRAFT", "{created}");
    let early = lifecycle(&app, &provider, "approveResponsibility", &entry["id"]).await?;
    assert_eq!(
        early["userErrors"][0]["code"], "INVALID_STATE",
        "a draft is proposed before it is approved"
    );
    assert_eq!(
        lifecycle(&app, &provider, "proposeResponsibility", &entry["id"]).await?["responsibility"]
            ["status"],
        "PROPOSED"
    );

    let provider_side = lifecycle(&app, &provider, "approveResponsibility", &entry["id"]).await?;
    assert_eq!(
        provider_side["responsibility"]["status"], "PROPOSED",
        "co-managed: the client must approve too"
    );
    let twice = lifecycle(&app, &provider, "approveResponsibility", &entry["id"]).await?;
    assert_eq!(twice["userErrors"][0]["code"], "INVALID_STATE");
    let agreed = lifecycle(&app, &harbor, "approveResponsibility", &entry["id"]).await?;
    assert_eq!(agreed["responsibility"]["status"], "AGREED", "{agreed}");
    let sides: Vec<&str> = agreed["responsibility"]["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|approval| approval["organization"]["slug"].as_str().unwrap())
        .collect();
    assert_eq!(sides, ["northwind-msp", "harbor-health"]);

    // It is in force from its start date, and whoOwns names it there.
    let who = "query($id: ID!, $system: ID, $at: DateTime) { whoOwns(environmentId: $id, function: \"backup_recovery\", systemId: $system, at: $at) { decidedBy responsibility { id } } }";
    let before = app
        .query(
            &harbor,
            who,
            json!({ "id": environment, "system": ehr, "at": "2026-12-31T00:00:00Z" }),
        )
        .await?;
    assert_eq!(before["whoOwns"]["decidedBy"], "FUNCTION_DEFAULT");
    let after = app
        .query(
            &harbor,
            who,
            json!({ "id": environment, "system": ehr, "at": "2027-01-02T00:00:00Z" }),
        )
        .await?;
    assert_eq!(after["whoOwns"]["responsibility"]["id"], entry["id"]);

    // A second entry for the same system and function overlapping it is refused at agreement,
    // naming the entry in the way; nothing changes.
    let second = app
        .query(&provider, CREATE, json!({ "input": { "environmentId": environment, "function": "backup_recovery", "systemId": ehr,
            "responsibleTeamId": internal_it, "validFrom": "2027-06-01T00:00:00Z", "validTo": "2028-01-01T00:00:00Z" } }))
        .await?["createResponsibility"]["responsibility"]["id"]
        .clone();
    lifecycle(&app, &provider, "proposeResponsibility", &second).await?;
    lifecycle(&app, &provider, "approveResponsibility", &second).await?;
    let refused = lifecycle(&app, &harbor, "approveResponsibility", &second).await?;
    let message = refused["userErrors"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains(entry["id"].as_str().unwrap())
            && message.starts_with("overlaps the agreed entry"),
        "{refused}"
    );
    let still = app.query(&harbor, "query($id: ID!) { node(id: $id) { ... on Responsibility { status approvals { organization { slug } } } } }", json!({ "id": second })).await?;
    assert_eq!(still["node"]["status"], "PROPOSED");
    assert_eq!(
        still["node"]["approvals"].as_array().map(Vec::len),
        Some(1),
        "the refused approval was rolled back"
    );

    // Retiring the first (both sides of the co-managed engagement) lets the second be agreed.
    assert_eq!(
        lifecycle(&app, &harbor, "retireResponsibility", &entry["id"]).await?["responsibility"]["status"],
        "AGREED",
        "one side alone cannot retire a co-managed entry"
    );
    assert_eq!(
        lifecycle(&app, &provider, "retireResponsibility", &entry["id"]).await?["responsibility"]["status"],
        "RETIRED"
    );
    assert_eq!(
        lifecycle(&app, &harbor, "approveResponsibility", &second).await?["responsibility"]["status"],
        "AGREED"
    );

    // Every step is in the change log.
    let log = app.query(&harbor, "query($id: ID!) { node(id: $id) { ... on Environment { changeLog(filter: { categories: [OWNERSHIP] }) { totalCount } } } }", json!({ "id": environment })).await?;
    assert!(
        log["node"]["changeLog"]["totalCount"].as_u64() >= Some(8),
        "{log}"
    );
    app.stop().await
}

#[tokio::test]
async fn fully_managed_entries_need_the_provider_only() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let cedar = app.token(
        "demo|cedar-office",
        "cedar-pine",
        entities::enums::Role::Admin,
    );
    let data = app
        .query(
            &cedar,
            "{ environments(first: 1) { edges { node { id } } } teams { edges { node { id } } } systems(first: 1) { edges { node { id } } } }",
            Value::Null,
        )
        .await?;
    let environment = data["environments"]["edges"][0]["node"]["id"].clone();
    let office = data["teams"]["edges"][0]["node"]["id"].clone();
    let system = data["systems"]["edges"][0]["node"]["id"].clone();
    // Tomorrow Cedar is still fully managed (the demo's transition is three weeks out).
    let created = app
        .query(&provider, CREATE, json!({ "input": { "environmentId": environment, "function": "line_of_business_applications", "systemId": system,
            "responsibleTeamId": office, "validFrom": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339() } }))
        .await?;
    let id = created["createResponsibility"]["responsibility"]["id"].clone();
    lifecycle(&app, &provider, "proposeResponsibility", &id).await?;
    // The client is not a side under full management.
    let client = lifecycle(&app, &cedar, "approveResponsibility", &id).await?;
    assert_eq!(client["userErrors"][0]["code"], "INVALID_STATE", "{client}");
    let agreed = lifecycle(&app, &provider, "approveResponsibility", &id).await?;
    assert_eq!(agreed["responsibility"]["status"], "AGREED", "{agreed}");

    let bad = app
        .query(&provider, CREATE, json!({ "input": { "environmentId": environment, "function": "nope", "responsibleTeamId": office,
            "validFrom": "2030-01-01T00:00:00Z", "validTo": "2029-01-01T00:00:00Z", "escalationPath": [{ "channel": "PHONE" }] } }))
        .await?;
    let codes: Vec<&str> = bad["createResponsibility"]["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"NOT_FOUND") && codes.contains(&"INVALID"),
        "{bad}"
    );
    app.stop().await
}

#[tokio::test]
async fn transition_readiness_lists_what_is_missing_until_it_is_fixed() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let organization = app
        .query(&harbor, "{ viewer { organization { id } } }", Value::Null)
        .await?["viewer"]["organization"]["id"]
        .clone();
    let created = app
        .query(&harbor, "mutation($input: CreateEnvironmentInput!) { createEnvironment(input: $input) { environment { id } } }", json!({ "input": { "organizationId": organization, "name": "New wing" } }))
        .await?;
    let environment = created["createEnvironment"]["environment"]["id"].clone();
    let readiness = "query($id: ID!) { transitionReadiness(environmentId: $id) { ready items { kind message subjects } } }";
    let kinds = |data: &Value| -> Vec<String> {
        data["transitionReadiness"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["kind"].as_str().unwrap().to_owned())
            .collect()
    };
    let before = app
        .query(&harbor, readiness, json!({ "id": environment }))
        .await?;
    assert_eq!(before["transitionReadiness"]["ready"], false);
    assert_eq!(
        kinds(&before),
        ["EMPTY_INVENTORY", "NO_TICKETING_INTEGRATION"]
    );

    // A drafted entry without an escalation path shows up until it is agreed with one.
    let teams = app
        .query(
            &harbor,
            "{ teams { edges { node { id name } } } }",
            Value::Null,
        )
        .await?;
    let internal_it = teams["teams"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|edge| edge["node"]["name"] == "Internal IT")
        .unwrap()["node"]["id"]
        .clone();
    let draft = app
        .query(&harbor, CREATE, json!({ "input": { "environmentId": environment, "function": "service_desk", "responsibleTeamId": internal_it, "validFrom": "2026-01-01T00:00:00Z" } }))
        .await?["createResponsibility"]["responsibility"]["id"]
        .clone();
    let after_draft = app
        .query(&harbor, readiness, json!({ "id": environment }))
        .await?;
    assert!(kinds(&after_draft).contains(&"UNAGREED_ENTRIES".to_owned()));
    let provider = app.provider_admin_token();
    lifecycle(&app, &harbor, "proposeResponsibility", &draft).await?;
    lifecycle(&app, &harbor, "approveResponsibility", &draft).await?;
    lifecycle(&app, &provider, "approveResponsibility", &draft).await?;
    let agreed = app
        .query(&harbor, readiness, json!({ "id": environment }))
        .await?;
    let found = kinds(&agreed);
    assert!(!found.contains(&"UNAGREED_ENTRIES".to_owned()), "{agreed}");
    assert!(
        found.contains(&"NO_ESCALATION_PATH".to_owned())
            && found.contains(&"FUNCTION_WITHOUT_RUNBOOK".to_owned()),
        "{agreed}"
    );
    let item = agreed["transitionReadiness"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["kind"] == "FUNCTION_WITHOUT_RUNBOOK")
        .unwrap();
    assert_eq!(item["subjects"], json!(["service_desk"]));

    // Adding a system and a runbook for the function clears those two items.
    app.query(&harbor, "mutation($input: CreateSystemInput!) { createSystem(input: $input) { system { id } } }", json!({ "input": { "environmentId": environment, "name": "NW-PC-01", "kind": "WORKSTATION" } })).await?;
    let function = app
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
    app.query(
        &harbor,
        "mutation($input: CreateRunbookInput!) { createRunbook(input: $input) { runbook { id } userErrors { message } } }",
        json!({ "input": { "environmentId": environment, "title": "Service desk intake", "ownerTeamId": internal_it, "body": "# Intake", "functionIds": [function] } }),
    )
    .await?;
    let fixed = kinds(
        &app.query(&harbor, readiness, json!({ "id": environment }))
            .await?,
    );
    assert!(
        !fixed.contains(&"EMPTY_INVENTORY".to_owned())
            && !fixed.contains(&"FUNCTION_WITHOUT_RUNBOOK".to_owned()),
        "{fixed:?}"
    );
    assert!(fixed.contains(&"NO_TICKETING_INTEGRATION".to_owned()));
    app.stop().await
}

#[tokio::test]
async fn a_planned_transition_drafts_the_next_matrix_which_takes_over_on_the_day()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let cedar = app.token(
        "demo|cedar-office",
        "cedar-pine",
        entities::enums::Role::Admin,
    );
    let client = app
        .query(
            &cedar,
            "{ viewer { organization { id } } environments(first: 1) { edges { node { id } } } }",
            Value::Null,
        )
        .await?;
    let (client_id, environment) = (
        client["viewer"]["organization"]["id"].clone(),
        client["environments"]["edges"][0]["node"]["id"].clone(),
    );
    // The demo plans Cedar's move to co-managed three weeks out; this plan comes a week out.
    let day = (chrono::Utc::now() + chrono::Duration::days(7)).date_naive();
    let later = day + chrono::Duration::days(31);
    let eve = format!("{}T12:00:00Z", day - chrono::Duration::days(1));
    let plan = "mutation($input: PlanTransitionInput!) { planTransition(input: $input) { engagement { operatingModel startsOn } drafted { id status validFrom function { key } } userErrors { field code message } } }";
    let planned = app.query(&provider, plan, json!({ "input": { "clientId": client_id, "operatingModel": "CO_MANAGED", "on": day.to_string(), "reason": "Cedar hired an IT lead" } })).await?;
    let payload = &planned["planTransition"];
    assert_eq!(
        payload["engagement"],
        json!({ "operatingModel": "CO_MANAGED", "startsOn": day.to_string() }),
        "{payload}"
    );
    let drafted = payload["drafted"].as_array().unwrap();
    assert_eq!(
        drafted.len(),
        19,
        "every agreed entry in force that day is drafted"
    );
    assert!(drafted.iter().all(|draft| {
        draft["status"] == "DRAFT"
            && draft["validFrom"]
                .as_str()
                .unwrap()
                .starts_with(&day.to_string())
    }));
    let again = app.query(&provider, plan, json!({ "input": { "clientId": client_id, "operatingModel": "CO_MANAGED", "on": later.to_string() } })).await?;
    assert_eq!(
        again["planTransition"]["userErrors"][0]["code"], "INVALID",
        "already co-managed then: {again}"
    );

    // Agreeing one draft, now under co-management, takes both sides; the old entry ends on the day.
    let draft = drafted
        .iter()
        .find(|draft| draft["function"]["key"] == "patching")
        .unwrap()["id"]
        .clone();
    lifecycle(&app, &provider, "proposeResponsibility", &draft).await?;
    let half = lifecycle(&app, &provider, "approveResponsibility", &draft).await?;
    assert_eq!(
        half["responsibility"]["status"], "PROPOSED",
        "the client is a side from the transition day"
    );
    let agreed = lifecycle(&app, &cedar, "approveResponsibility", &draft).await?;
    assert_eq!(agreed["responsibility"]["status"], "AGREED", "{agreed}");

    let who = "query($id: ID!, $at: DateTime) { whoOwns(environmentId: $id, function: \"patching\", at: $at) { responsibility { id validTo } } }";
    let before = app
        .query(&cedar, who, json!({ "id": environment, "at": eve }))
        .await?;
    assert_ne!(before["whoOwns"]["responsibility"]["id"], draft);
    assert!(
        before["whoOwns"]["responsibility"]["validTo"]
            .as_str()
            .unwrap()
            .starts_with(&day.to_string()),
        "the old entry ends on the day: {before}"
    );
    let after = app
        .query(
            &cedar,
            who,
            json!({ "id": environment, "at": format!("{day}T00:00:00Z") }),
        )
        .await?;
    assert_eq!(after["whoOwns"]["responsibility"]["id"], draft);

    // Every engagement period is kept: fully managed, co-managed from this plan's day, and the
    // demo's co-managed period from its own day.
    let engagements = app
        .query(
            &cedar,
            "{ engagements { edges { node { operatingModel startsOn endsOn } } } }",
            Value::Null,
        )
        .await?;
    assert_eq!(
        engagements["engagements"]["edges"].as_array().map(Vec::len),
        Some(3)
    );
    app.stop().await
}
