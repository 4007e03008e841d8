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
