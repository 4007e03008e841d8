//! The SQL statements the hot reads cost, pinned: a change that adds a round trip to them fails
//! here (issue 13). Each read is sent once first, so the caller is known (the caller cache), and
//! then counted.

use serde_json::{Value, json};
use tests::TestApp;

/// The first environment the provider admin sees and its id.
async fn production(app: &TestApp, token: &str) -> anyhow::Result<Value> {
    let data = app
        .query(
            token,
            "{ environments(first: 1) { edges { node { id name } } } }",
            Value::Null,
        )
        .await?;
    Ok(data["environments"]["edges"][0]["node"]["id"].clone())
}

/// Runs `query` twice and returns the second run's data and statements.
async fn warm(
    app: &TestApp,
    token: &str,
    query: &str,
    variables: Value,
) -> anyhow::Result<(Value, Vec<String>)> {
    app.query(token, query, variables.clone()).await?;
    app.query_counting(token, query, variables).await
}

#[tokio::test]
async fn a_typename_query_of_a_known_caller_runs_no_statement() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let (first, resolving) = app
        .query_counting(&token, "{ __typename }", Value::Null)
        .await?;
    assert_eq!(first["__typename"], "Query");
    // Organization, person, engagements: the caller is resolved once.
    assert_eq!(resolving.len(), 3, "{resolving:#?}");
    let (_, known) = app
        .query_counting(&token, "{ __typename }", Value::Null)
        .await?;
    assert_eq!(known, Vec::<String>::new());
    app.stop().await
}

#[tokio::test]
async fn the_ticket_page_costs_four_statements() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let environment = production(&app, &token).await?;
    let query = "query($environment: ID!) { tickets(first: 50, filter: { environmentIds: [$environment] },
        orderBy: { field: CREATED_AT, direction: DESC }) { pageInfo { endCursor } edges { node { id title
        environment { name } system { name } assignedTeam { name } } } } }";
    let (data, statements) =
        warm(&app, &token, query, json!({ "environment": environment })).await?;
    let edges = data["tickets"]["edges"].as_array().expect("edges");
    assert!(!edges.is_empty());
    assert!(
        edges
            .iter()
            .any(|edge| edge["node"]["assignedTeam"]["name"].is_string())
            && edges
                .iter()
                .all(|edge| edge["node"]["environment"]["name"].is_string()),
        "{data}"
    );
    // The page, then one batch each for environments, systems and teams.
    assert_eq!(statements.len(), 4, "{statements:#?}");
    app.stop().await
}

#[tokio::test]
async fn a_change_log_page_costs_two_statements_on_page_one_and_page_two() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let environment = production(&app, &token).await?;
    let now = chrono::Utc::now();
    let window = json!({
        "environmentIds": [environment],
        "occurredAfter": (now - chrono::Duration::days(30)).to_rfc3339(),
        "occurredBefore": now.to_rfc3339(),
    });
    let query = "query($filter: ChangeLogFilter, $first: Int, $after: String) {
        changeLog(filter: $filter, first: $first, after: $after, orderBy: { field: OCCURRED_AT, direction: DESC }) {
        pageInfo { hasNextPage endCursor } edges { node { id summary occurredAt category source details environment { name } } } } }";
    let (page_one, statements) = warm(
        &app,
        &token,
        query,
        json!({ "filter": window, "first": 2, "after": null }),
    )
    .await?;
    // The page, then one batch for the environments.
    assert_eq!(statements.len(), 2, "{statements:#?}");
    let page = &page_one["changeLog"];
    assert_eq!(page["pageInfo"]["hasNextPage"], true, "{page_one}");
    let after = page["pageInfo"]["endCursor"].clone();
    let (page_two, statements) = warm(
        &app,
        &token,
        query,
        json!({ "filter": window, "first": 2, "after": after }),
    )
    .await?;
    assert_eq!(statements.len(), 2, "{statements:#?}");
    // Page two's cursor is one row-value comparison, which the keyset index serves whatever
    // plan the database picks.
    assert!(
        statements[0]
            .contains(r#"("change_log_entries"."occurred_at", "change_log_entries"."id") <"#),
        "{}",
        statements[0]
    );
    let ids = |page: &Value| -> Vec<Value> {
        page["changeLog"]["edges"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|edge| edge["node"]["id"].clone())
            .collect()
    };
    let (one, two) = (ids(&page_one), ids(&page_two));
    assert_eq!(two.len(), 2, "{page_two}");
    assert!(two.iter().all(|id| !one.contains(id)), "{one:?} {two:?}");
    let (all, _) = warm(
        &app,
        &token,
        query,
        json!({ "filter": window, "first": 4, "after": null }),
    )
    .await?;
    assert_eq!(ids(&all), [one, two].concat());
    app.stop().await
}

#[tokio::test]
async fn the_owners_of_a_page_of_systems_are_read_in_one_batch() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let query = "{ systems(first: 50) { edges { node { id owners { id } } } } }";
    let (data, statements) = warm(&app, &token, query, Value::Null).await?;
    let edges = data["systems"]["edges"].as_array().expect("edges");
    assert!(edges.len() > 5, "{data}");
    assert!(
        edges
            .iter()
            .any(|edge| !edge["node"]["owners"].as_array().unwrap().is_empty()),
        "{data}"
    );
    // The page and one batch of owners, whatever the number of systems: every system asks at
    // the request's one "now".
    assert!(statements.len() <= 3, "{statements:#?}");
    app.stop().await
}

#[tokio::test]
async fn nested_connections_read_every_parents_items_in_one_statement() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let query = "{ tickets(first: 50) { edges { node { id notes(last: 2) { totalCount nodes { body } } } } } }";
    let (data, statements) = warm(&app, &token, query, Value::Null).await?;
    let edges = data["tickets"]["edges"].as_array().expect("edges");
    assert!(
        edges
            .iter()
            .any(|edge| edge["node"]["notes"]["totalCount"].as_u64() > Some(2)),
        "{data}"
    );
    // The page, then one batch for the notes of all its tickets (not one per ticket).
    assert_eq!(statements.len(), 2, "{statements:#?}");
    let query = "{ runbooks(first: 20) { edges { node { revisions(first: 1) { totalCount nodes { number } } } } } }";
    let (_, statements) = warm(&app, &token, query, Value::Null).await?;
    assert_eq!(statements.len(), 2, "{statements:#?}");
    // Integrations, their mappings in one batch, and the mapped environments in one more (not
    // one per mapping).
    let query = "{ integrations { edges { node { mappings(first: 10) { nodes { externalCompanyId environment { name } } } } } } }";
    let (data, statements) = warm(&app, &token, query, Value::Null).await?;
    let mapped: usize = data["integrations"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| {
            edge["node"]["mappings"]["nodes"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .sum();
    assert_eq!(mapped, 6, "{data}");
    assert_eq!(statements.len(), 3, "{statements:#?}");
    app.stop().await
}

#[tokio::test]
async fn who_owns_and_the_gap_report_read_their_environment_once() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let environment = production(&app, &token).await?;
    let systems = app
        .query(
            &token,
            "query($environment: ID!) { systems(first: 1, filter: { environmentIds: [$environment] }) { nodes { id } } }",
            json!({ "environment": environment }),
        )
        .await?;
    let system = systems["systems"]["nodes"][0]["id"].clone();
    assert!(system.is_string(), "{systems}");
    let who = "query($environment: ID!, $system: ID) { whoOwns(environmentId: $environment,
        function: \"patching\", systemId: $system) { decidedBy responsibility { id
        responsibleTeam { name } accountableTeam { name } } } }";
    let (data, statements) = warm(
        &app,
        &token,
        who,
        json!({ "environment": environment, "system": system }),
    )
    .await?;
    assert!(
        data["whoOwns"]["responsibility"]["responsibleTeam"]["name"].is_string(),
        "{data}"
    );
    // The environment (once), the functions, the system, the entries in force, then one batch
    // of teams.
    assert_eq!(statements.len(), 5, "{statements:#?}");
    let environments = |statements: &[String]| {
        statements
            .iter()
            .filter(|statement| statement.contains(r#"FROM "environments""#))
            .count()
    };
    assert_eq!(environments(&statements), 1, "{statements:#?}");
    let gaps = "query($environment: ID!) { ownershipGaps(environmentId: $environment) { gaps { kind severity summary } } }";
    let (data, statements) =
        warm(&app, &token, gaps, json!({ "environment": environment })).await?;
    assert!(data["ownershipGaps"]["gaps"].is_array(), "{data}");
    assert_eq!(environments(&statements), 1, "{statements:#?}");
    // The report's fixed set of reads on the demo data (each check one batch).
    assert_eq!(statements.len(), 21, "{statements:#?}");
    // The one read still checks the tenancy: a client that may not see the environment gets
    // null from both, as for a missing one.
    let mut outsiders = 0;
    for outsider in [app.client_admin_token(), app.cedar_admin_token()] {
        let seen = app
            .query(
                &outsider,
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": environment }),
            )
            .await?;
        if !seen["node"].is_null() {
            continue;
        }
        outsiders += 1;
        let data = app
            .query(
                &outsider,
                who,
                json!({ "environment": environment, "system": system }),
            )
            .await?;
        assert!(data["whoOwns"].is_null(), "{data}");
        let data = app
            .query(&outsider, gaps, json!({ "environment": environment }))
            .await?;
        assert!(data["ownershipGaps"].is_null(), "{data}");
    }
    assert!(outsiders > 0, "a demo client may not see {environment}");
    app.stop().await
}
