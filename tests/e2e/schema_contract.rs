//! The schema's contract for typed clients (issue 12, item 4): nested lists are cursor
//! connections, external records are nodes of their own, change sets are global ids, an explicit
//! `null` is never ignored, limit errors state the limit and the value found, and `DateTime`
//! says what it holds.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tests::TestApp;

/// The demo's second client, which shares nothing with the first.
fn cedar(app: &TestApp) -> String {
    app.token(
        "demo|cedar-office",
        "cedar-pine",
        entities::enums::Role::Admin,
    )
}

fn ids(nodes: &Value) -> Vec<String> {
    nodes
        .as_array()
        .expect("a list")
        .iter()
        .map(|node| node["id"].as_str().expect("an id").to_owned())
        .collect()
}

#[tokio::test]
async fn ticket_notes_page_forward_and_backward_with_cursors_and_a_total() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let data = app
        .query(
            &token,
            "{ tickets(first: 100) { nodes { id notes(first: 1) { totalCount } } } }",
            Value::Null,
        )
        .await?;
    let ticket = data["tickets"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|ticket| ticket["notes"]["totalCount"].as_u64() >= Some(3))
        .expect("a demo ticket with three notes or more")
        .clone();
    let data = app
        .query(
            &token,
            "query($id: ID!) { node(id: $id) { ... on Ticket { notes(first: 100) { totalCount nodes { id } } } } }",
            json!({ "id": ticket["id"] }),
        )
        .await?;
    let all = ids(&data["node"]["notes"]["nodes"]);
    assert_eq!(
        data["node"]["notes"]["totalCount"].as_u64(),
        Some(all.len() as u64)
    );
    assert_eq!(
        ticket["notes"]["totalCount"].as_u64(),
        Some(all.len() as u64)
    );

    let page = "query($id: ID!, $after: String, $before: String, $first: Int, $last: Int) {
        node(id: $id) { ... on Ticket { notes(first: $first, after: $after, last: $last, before: $before) {
        totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { id } } nodes { id } } } } }";
    // Forward, two at a time, to the end.
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .query(
                &token,
                page,
                json!({ "id": ticket["id"], "first": 2, "after": after }),
            )
            .await?;
        let notes = &data["node"]["notes"];
        assert_eq!(notes["totalCount"].as_u64(), Some(all.len() as u64));
        let page_ids = ids(&notes["nodes"]);
        let edge_ids: Vec<String> = notes["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|edge| edge["node"]["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(page_ids, edge_ids, "`nodes` is `edges {{ node }}`");
        assert_eq!(notes["pageInfo"]["hasPreviousPage"], !seen.is_empty());
        seen.extend(page_ids);
        if notes["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = notes["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, all, "paging forward reads every note once, in order");

    // `last: 2` is the two newest; `before` their start reads the ones before.
    let data = app
        .query(&token, page, json!({ "id": ticket["id"], "last": 2 }))
        .await?;
    let notes = &data["node"]["notes"];
    assert_eq!(ids(&notes["nodes"]), all[all.len() - 2..].to_vec());
    assert_eq!(notes["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(notes["pageInfo"]["hasNextPage"], false);
    let before = notes["pageInfo"]["startCursor"].clone();
    let data = app
        .query(
            &token,
            page,
            json!({ "id": ticket["id"], "last": 1, "before": before }),
        )
        .await?;
    assert_eq!(
        ids(&data["node"]["notes"]["nodes"]),
        vec![all[all.len() - 3].clone()]
    );

    // Over the cap: the error names the argument, the limit and the value.
    let (_, body) = app
        .graphql(
            Some(&token),
            page,
            json!({ "id": ticket["id"], "first": 101 }),
        )
        .await?;
    let mut extensions = body["errors"][0]["extensions"].clone();
    extensions.as_object_mut().unwrap().remove("requestId");
    assert_eq!(
        extensions,
        json!({ "code": "BAD_USER_INPUT", "field": "first", "limit": 100, "actual": 101 }),
        "{body}"
    );
    // Another tenant sees neither the ticket nor its notes.
    let hidden = app
        .query(
            &cedar(&app),
            page,
            json!({ "id": ticket["id"], "first": 2 }),
        )
        .await?;
    assert_eq!(hidden, json!({ "node": null }));
    app.stop().await
}

#[tokio::test]
async fn nested_lists_are_connections_with_counts_that_match_their_items() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    // Pages small enough for the cost limit: a nested connection costs its page size.
    let mut data = json!({});
    for query in [
        "{ runbooks(first: 5) { nodes { revisions(first: 100) { totalCount nodes { number } }
           functions(first: 50) { totalCount nodes { id } } systems(first: 50) { totalCount nodes { id } } } } }",
        "{ changeLog(first: 20) { nodes { systems(first: 20) { totalCount nodes { id } }
           correctedBy(first: 20) { totalCount nodes { id } } } } }",
        "{ teams(first: 10) { nodes { members(first: 20) { totalCount nodes { id teams(first: 5) { totalCount nodes { id } } } } } } }",
        "{ integrations(first: 3) { nodes { mappings(first: 100) { totalCount nodes { externalCompanyId } }
           valueMappings(first: 100) { totalCount nodes { externalValue } }
           syncRuns(first: 5) { nodes { errors(first: 20) { totalCount nodes { reason } } } } } } }",
    ] {
        let part = app.query(&token, query, Value::Null).await?;
        data.as_object_mut()
            .unwrap()
            .extend(part.as_object().unwrap().clone());
    }
    let mut checked = 0;
    let mut check = |connection: &Value| {
        let nodes = connection["nodes"].as_array().expect("nodes");
        assert_eq!(
            connection["totalCount"].as_u64(),
            Some(nodes.len() as u64),
            "{connection}"
        );
        checked += 1;
    };
    for entry in data["changeLog"]["nodes"].as_array().unwrap() {
        check(&entry["systems"]);
        check(&entry["correctedBy"]);
    }
    for runbook in data["runbooks"]["nodes"].as_array().unwrap() {
        check(&runbook["revisions"]);
        check(&runbook["functions"]);
        check(&runbook["systems"]);
        let numbers: Vec<i64> = runbook["revisions"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|revision| revision["number"].as_i64().unwrap())
            .collect();
        let expected: Vec<i64> = (1..=numbers.len() as i64).collect();
        assert_eq!(numbers, expected, "revisions oldest first");
    }
    let mut members = 0;
    for team in data["teams"]["nodes"].as_array().unwrap() {
        check(&team["members"]);
        for member in team["members"]["nodes"].as_array().unwrap() {
            check(&member["teams"]);
            members += 1;
        }
    }
    assert!(members > 0, "{data}");
    for integration in data["integrations"]["nodes"].as_array().unwrap() {
        check(&integration["mappings"]);
        check(&integration["valueMappings"]);
        for run in integration["syncRuns"]["nodes"].as_array().unwrap() {
            check(&run["errors"]);
        }
    }
    assert!(checked > 10, "{data}");
    app.stop().await
}

#[tokio::test]
async fn external_ids_are_distinct_nodes_resolvable_by_node() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.client_admin_token();
    let data = app
        .query(
            &token,
            "{ systems(first: 100) { nodes { externalIds { id source kind externalId url } } }
               tickets(first: 100) { nodes { externalIds { id source kind externalId url } } } }",
            Value::Null,
        )
        .await?;
    let mut records = Vec::new();
    for list in ["systems", "tickets"] {
        for node in data[list]["nodes"].as_array().unwrap() {
            records.extend(node["externalIds"].as_array().unwrap().iter().cloned());
        }
    }
    let system_record = data["systems"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|node| node["externalIds"].get(0).cloned())
        .expect("a linked system");
    let ticket_record = data["tickets"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|node| node["externalIds"].get(0).cloned())
        .expect("a synced ticket");
    let unique: std::collections::HashSet<&str> = records
        .iter()
        .map(|record| record["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        unique.len(),
        records.len(),
        "every external record has its own id"
    );
    for record in [&system_record, &ticket_record] {
        let id = record["id"].as_str().unwrap();
        let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(id)?)?;
        assert!(decoded.starts_with("ExternalId:"), "{decoded}");
        assert_ne!(record["id"], record["externalId"]);
        let query = "query($id: ID!) { node(id: $id) { __typename ... on ExternalId { id source kind externalId url } } }";
        let found = app.query(&token, query, json!({ "id": id })).await?;
        let mut expected = record.clone();
        expected["__typename"] = json!("ExternalId");
        assert_eq!(found["node"], expected);
        let hidden = app.query(&cedar(&app), query, json!({ "id": id })).await?;
        assert_eq!(hidden, json!({ "node": null }));
    }
    app.stop().await
}

#[tokio::test]
async fn a_change_set_id_is_a_global_id_that_filters_the_change_log() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let data = app
        .query(
            &token,
            "{ changeLog(first: 100) { nodes { id changeSetId } } }",
            Value::Null,
        )
        .await?;
    let entries = data["changeLog"]["nodes"].as_array().unwrap();
    let set = entries
        .iter()
        .find_map(|entry| entry["changeSetId"].as_str())
        .expect("an entry written in a change set")
        .to_owned();
    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(&set)?)?;
    assert!(decoded.starts_with("ChangeSet:"), "{decoded}");
    let members: Vec<&Value> = entries
        .iter()
        .filter(|entry| entry["changeSetId"] == set.as_str())
        .collect();
    let filtered = app
        .query(
            &token,
            "query($set: ID!) { changeLog(first: 100, filter: { changeSetId: $set }) { totalCount nodes { id changeSetId } } }",
            json!({ "set": set }),
        )
        .await?;
    assert_eq!(
        filtered["changeLog"]["totalCount"].as_u64(),
        Some(members.len() as u64),
        "{filtered}"
    );
    assert!(
        filtered["changeLog"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|entry| entry["changeSetId"] == set.as_str())
    );
    // Not an object: `node` answers null; another type's id is refused by the filter.
    let node = app
        .query(
            &token,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": set }),
        )
        .await?;
    assert_eq!(node, json!({ "node": null }));
    let (_, body) = app
        .graphql(
            Some(&token),
            "query($set: ID!) { changeLog(filter: { changeSetId: $set }) { totalCount } }",
            json!({ "set": entries[0]["id"] }),
        )
        .await?;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "filter.changeSetId",
        "{body}"
    );
    // Another tenant's filter by it finds nothing.
    let other = app
        .query(
            &cedar(&app),
            "query($set: ID!) { changeLog(filter: { changeSetId: $set }) { totalCount } }",
            json!({ "set": set }),
        )
        .await?;
    assert_eq!(other["changeLog"]["totalCount"], 0);
    app.stop().await
}

#[tokio::test]
async fn an_explicit_null_clears_what_may_be_empty_and_is_refused_where_a_value_is_required()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let data = app
        .query(
            &token,
            "{ changeLog(first: 100) { nodes { id category occurredAt systems(first: 5) { nodes { id } } } } }",
            Value::Null,
        )
        .await?;
    let entry = data["changeLog"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| !entry["systems"]["nodes"].as_array().unwrap().is_empty())
        .expect("an entry about a system")
        .clone();
    let selection = "changeLogEntry { category occurredAt details systems { nodes { id } } }";
    let input = |extra: Value| {
        let mut input =
            json!({ "changeLogEntryId": entry["id"], "summary": "Corrected", "reason": "typo" });
        input
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        input
    };
    // `null` on a field that must have a value: refused, naming the field, nothing written.
    for field in ["category", "occurredAt"] {
        let before = app.count("change_log_entries").await?;
        let (_, body) = app
            .mutation(
                &token,
                "correctChange",
                "CorrectChangeInput",
                &input(json!({ field: null })),
                selection,
            )
            .await?;
        let payload = &body["data"]["correctChange"];
        assert_eq!(payload["changeLogEntry"], Value::Null, "{body}");
        assert_eq!(
            payload["userErrors"][0]["field"],
            json!(["input", field]),
            "{body}"
        );
        assert_eq!(payload["userErrors"][0]["code"], "INVALID", "{body}");
        assert_eq!(app.count("change_log_entries").await?, before);
    }
    // `null` on a list or free-form value: cleared; omitted: kept.
    let (_, body) = app
        .mutation(
            &token,
            "correctChange",
            "CorrectChangeInput",
            &input(json!({ "systemIds": null, "details": null })),
            selection,
        )
        .await?;
    let corrected = &body["data"]["correctChange"]["changeLogEntry"];
    assert_eq!(corrected["systems"]["nodes"], json!([]), "{body}");
    assert_eq!(corrected["details"], json!({}), "{body}");
    assert_eq!(corrected["category"], entry["category"]);
    assert_eq!(corrected["occurredAt"], entry["occurredAt"]);
    app.stop().await
}

#[tokio::test]
async fn limit_errors_state_the_limit_and_the_value_found() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let extensions = |body: &Value| {
        let mut extensions = body["errors"][0]["extensions"].clone();
        if let Some(object) = extensions.as_object_mut() {
            object.remove("requestId");
        }
        extensions
    };

    // Cost: environments 1 + 100 × (nodes 1 + systems (1 + 100 × (nodes 1 + name 1))).
    let costly =
        "{ environments(first: 100) { nodes { systems(first: 100) { nodes { name } } } } }";
    let (_, body) = app.graphql(Some(&token), costly, Value::Null).await?;
    assert_eq!(
        extensions(&body),
        json!({ "code": "QUERY_TOO_COMPLEX", "limit": 5000, "actual": 20201 }),
        "{body}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("costs 20201; at most 5000"), "{message}");

    // Aliases.
    let aliases: Vec<String> = (0..31)
        .map(|number| format!("a{number}: viewer {{ role }}"))
        .collect();
    let (_, body) = app
        .graphql(
            Some(&token),
            &format!("{{ {} }}", aliases.join(" ")),
            Value::Null,
        )
        .await?;
    assert_eq!(
        extensions(&body),
        json!({ "code": "TOO_MANY_ALIASES", "limit": 30, "actual": 31 }),
        "{body}"
    );

    // Depth.
    let deep = "{ viewer { person { organization { teams { nodes { members { nodes { teams { nodes { organization { teams { nodes { id } } } } } } } } } } } } }";
    let (_, body) = app.graphql(Some(&token), deep, Value::Null).await?;
    assert_eq!(
        extensions(&body),
        json!({ "code": "QUERY_TOO_DEEP", "limit": 12, "actual": 13 }),
        "{body}"
    );

    // Ids per `nodes` call.
    let many: Vec<String> = (0..101).map(|_| "x".to_owned()).collect();
    let (_, body) = app
        .graphql(
            Some(&token),
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": many }),
        )
        .await?;
    assert_eq!(
        extensions(&body),
        json!({ "code": "BAD_USER_INPUT", "field": "ids", "limit": 100, "actual": 101 }),
        "{body}"
    );

    // Operations per batch (refused before GraphQL runs).
    let batch: Vec<Value> = (0..11)
        .map(|_| json!({ "query": "{ __typename }" }))
        .collect();
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&token)
        .json(&batch)
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await?;
    assert_eq!(
        extensions(&body),
        json!({ "code": "BATCH_TOO_LARGE", "limit": 10, "actual": 11 }),
        "{body}"
    );
    app.stop().await
}

#[tokio::test]
async fn the_date_time_scalar_describes_its_format() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let data = app
        .query(
            &app.provider_admin_token(),
            "{ __type(name: \"DateTime\") { kind description } viewer { person { createdAt } } }",
            Value::Null,
        )
        .await?;
    assert_eq!(data["__type"]["kind"], "SCALAR");
    assert_eq!(
        data["__type"]["description"],
        api::graphql::DATE_TIME_DESCRIPTION
    );
    // What it says: UTC, written `+00:00`.
    let created = data["viewer"]["person"]["createdAt"].as_str().unwrap();
    assert!(created.ends_with("+00:00"), "{created}");
    assert!(chrono::DateTime::parse_from_rfc3339(created).is_ok());
    app.stop().await
}

#[tokio::test]
async fn a_bulk_source_is_a_vendor_kind_or_a_name_never_both() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.client_admin_token();
    let environment = app
        .query(
            &token,
            "{ environments(first: 1) { nodes { id } } }",
            Value::Null,
        )
        .await?["environments"]["nodes"][0]["id"]
        .clone();
    let upsert = |source: Value, external: &str| {
        json!({ "source": source, "records": [{ "externalId": external, "environmentId": environment,
            "name": format!("SC-{external}"), "kind": "SERVER" }] })
    };
    let selection = "results { node { externalIds { source kind externalId } } }";
    // A vendor by kind: stored under its name, and typed on the way out.
    let (_, body) = app
        .mutation(
            &token,
            "upsertSystems",
            "UpsertSystemsInput",
            &upsert(json!({ "kind": "NINJAONE" }), "sc-1"),
            selection,
        )
        .await?;
    assert_eq!(
        body["data"]["upsertSystems"]["results"][0]["node"]["externalIds"],
        json!([{ "source": "NINJAONE", "kind": "NINJAONE", "externalId": "sc-1" }]),
        "{body}"
    );
    // Another system by name: no kind.
    let (_, body) = app
        .mutation(
            &token,
            "upsertSystems",
            "UpsertSystemsInput",
            &upsert(json!({ "name": "acme-cmdb" }), "sc-2"),
            selection,
        )
        .await?;
    assert_eq!(
        body["data"]["upsertSystems"]["results"][0]["node"]["externalIds"],
        json!([{ "source": "acme-cmdb", "kind": null, "externalId": "sc-2" }]),
        "{body}"
    );
    // A vendor's spelling as a name, in any case or with a suffix, is refused, naming the
    // field; nothing is written.
    let before = app.count("systems").await?;
    for name in [
        "NINJAONE",
        "ninjaone",
        " NinjaOne:eu",
        "datto_rmm:0123456789ab",
    ] {
        let (_, body) = app
            .mutation(
                &token,
                "upsertSystems",
                "UpsertSystemsInput",
                &upsert(json!({ "name": name }), "sc-3"),
                selection,
            )
            .await?;
        assert_eq!(
            body["data"]["upsertSystems"]["userErrors"][0]["field"],
            json!(["input", "source", "name"]),
            "{name}: {body}"
        );
    }
    assert_eq!(app.count("systems").await?, before);
    // Both, or neither: the schema refuses it (`@oneOf`).
    for source in [
        json!({ "kind": "NINJAONE", "name": "acme-cmdb" }),
        json!({}),
    ] {
        let (_, body) = app
            .mutation(
                &token,
                "upsertSystems",
                "UpsertSystemsInput",
                &upsert(source, "sc-4"),
                selection,
            )
            .await?;
        // A variable that does not fit its type fails validation, before anything runs.
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
            "{body}"
        );
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .is_some_and(|message| message.contains("exactly one field")),
            "{body}"
        );
    }
    assert_eq!(app.count("systems").await?, before);
    app.stop().await
}

#[tokio::test]
async fn a_nested_list_refuses_a_cursor_of_a_database_paged_list() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let tickets = app
        .query(
            &token,
            "{ tickets(first: 1, orderBy: { field: CREATED_AT }) { pageInfo { endCursor } edges { node { id } } } }",
            Value::Null,
        )
        .await?;
    let cursor = tickets["tickets"]["pageInfo"]["endCursor"].clone();
    let ticket = tickets["tickets"]["edges"][0]["node"]["id"].clone();
    let (status, body) = app
        .graphql(
            Some(&token),
            "query($t: ID!, $c: String) { ticket(id: $t) { notes(first: 5, after: $c) { totalCount } } }",
            json!({ "t": ticket, "c": cursor }),
        )
        .await?;
    assert_eq!(status, 200);
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    app.stop().await
}
