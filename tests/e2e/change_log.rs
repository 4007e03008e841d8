//! `changeLog`: every filter, and keyset paging in both directions that stays stable while new
//! entries arrive.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use entities::enums::{ChangeCategory, ChangeSource};
use entities::{change_log_entry, environment};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, QueryOrder};
use serde_json::{Value, json};
use tests::TestApp;
use uuid::Uuid;

const SELECTION: &str = "id summary occurredAt source category environment { id name } systems(first: 10) { nodes { id } } actor { id } ticket { id } details";

fn instant(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().expect("an instant"))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

async fn page(app: &TestApp, token: &str, filter: Value) -> anyhow::Result<Value> {
    let data = app
        .query(
            token,
            &format!("query($filter: ChangeLogFilter) {{ changeLog(filter: $filter, first: 100) {{ totalCount edges {{ node {{ {SELECTION} }} }} }} }}"),
            json!({ "filter": filter }),
        )
        .await?;
    Ok(data["changeLog"].clone())
}

fn nodes(page: &Value) -> Vec<Value> {
    page["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| edge["node"].clone())
        .collect()
}

#[tokio::test]
async fn walks_the_whole_log_forward_and_backward_in_occurrence_order() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let expected: Vec<Uuid> = change_log_entry::Entity::find()
        .order_by_asc(change_log_entry::Column::OccurredAt)
        .order_by_asc(change_log_entry::Column::Id)
        .all(&app.db)
        .await?
        .into_iter()
        .map(|entry| entry.id)
        .collect();
    assert!(expected.len() >= 200);

    let forward = app.all_nodes(&token, "changeLog", "id occurredAt").await?;
    assert_eq!(forward.len(), expected.len());
    let times: Vec<DateTime<Utc>> = forward
        .iter()
        .map(|node| instant(&node["occurredAt"]))
        .collect();
    assert!(
        times.windows(2).all(|pair| pair[0] <= pair[1]),
        "ordered by occurrence"
    );

    // Backward from the end with `last`/`before` gives the same entries, reversed page by page.
    let query = "query($before: String) { changeLog(last: 37, before: $before) { pageInfo { hasPreviousPage startCursor } edges { node { id } } } }";
    let mut backward = Vec::new();
    let mut before = Value::Null;
    loop {
        let data = app
            .query(&token, query, json!({ "before": before }))
            .await?;
        let mut ids: Vec<Value> = nodes(&data["changeLog"])
            .into_iter()
            .map(|node| node["id"].clone())
            .collect();
        ids.extend(backward);
        backward = ids;
        if data["changeLog"]["pageInfo"]["hasPreviousPage"] != true {
            break;
        }
        before = data["changeLog"]["pageInfo"]["startCursor"].clone();
    }
    let forward_ids: Vec<Value> = forward.iter().map(|node| node["id"].clone()).collect();
    assert_eq!(backward, forward_ids);

    // Newest first with DESC is the reverse.
    let data = app
        .query(
            &token,
            "{ changeLog(first: 5, orderBy: { direction: DESC }) { edges { node { id } } } }",
            Value::Null,
        )
        .await?;
    let newest: Vec<Value> = nodes(&data["changeLog"])
        .into_iter()
        .map(|node| node["id"].clone())
        .collect();
    let mut reversed = forward_ids.clone();
    reversed.reverse();
    assert_eq!(newest, reversed[..5]);
    app.stop().await
}

#[tokio::test]
async fn paging_is_stable_while_new_entries_arrive() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let query = "query($after: String) { changeLog(first: 50, after: $after) { pageInfo { hasNextPage endCursor } edges { node { id occurredAt } } } }";
    let first = app.query(&token, query, json!({ "after": null })).await?;
    let cursor_time =
        instant(&nodes(&first["changeLog"]).last().expect("a full page")["occurredAt"]);

    // While a script pages, entries land both behind its cursor (late-recorded history) and ahead.
    let environment = environment::Entity::find()
        .one(&app.db)
        .await?
        .expect("an environment");
    let mut inserted = Vec::new();
    for occurred_at in [
        cursor_time - Duration::days(1),
        Utc::now() + Duration::minutes(1),
    ] {
        let entry = change_log_entry::Model {
            id: Uuid::now_v7(),
            environment_id: environment.id,
            summary: "Arrived while paging".into(),
            details: json!({}),
            reason: None,
            actor_id: None,
            actor_name: "test".into(),
            source: ChangeSource::Api,
            category: ChangeCategory::Other,
            occurred_at,
            recorded_at: Utc::now(),
            ticket_id: None,
            corrects_id: None,
            change_set_id: None,
            integration_id: None,
            organization_id: None,
            principal: entities::enums::Principal::System,
            recorded_by_id: None,
            external_source: None,
            external_id: None,
            external_url: None,
        };
        entry.clone().into_active_model().insert(&app.db).await?;
        inserted.push(entry.id);
    }

    let mut seen: Vec<String> = nodes(&first["changeLog"])
        .iter()
        .map(|node| node["id"].as_str().unwrap().to_owned())
        .collect();
    let mut after = first["changeLog"]["pageInfo"]["endCursor"].clone();
    loop {
        let data = app.query(&token, query, json!({ "after": after })).await?;
        seen.extend(
            nodes(&data["changeLog"])
                .iter()
                .map(|node| node["id"].as_str().unwrap().to_owned()),
        );
        if data["changeLog"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = data["changeLog"]["pageInfo"]["endCursor"].clone();
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no entry is returned twice");
    let total = change_log_entry::Entity::find().all(&app.db).await?.len();
    // Everything but the entry that landed behind the cursor is seen exactly once; the one ahead
    // of the cursor is picked up.
    assert_eq!(seen.len(), total - 1);
    app.stop().await
}

#[tokio::test]
async fn every_filter_narrows_to_matching_entries() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let all = page(&app, &token, json!({})).await?;
    let total = all["totalCount"].as_u64().expect("count");

    let sample = nodes(&all);
    let environment = sample[0]["environment"].clone();
    let by_environment = page(
        &app,
        &token,
        json!({ "environmentIds": [environment["id"]] }),
    )
    .await?;
    assert!(by_environment["totalCount"].as_u64() < Some(total));
    assert!(
        nodes(&by_environment)
            .iter()
            .all(|node| node["environment"]["id"] == environment["id"])
    );

    let by_source = page(&app, &token, json!({ "sources": ["RMM", "PSA"] })).await?;
    assert!(by_source["totalCount"].as_u64() > Some(0));
    assert!(
        nodes(&by_source)
            .iter()
            .all(|node| node["source"] == "RMM" || node["source"] == "PSA")
    );

    let by_category = page(&app, &token, json!({ "categories": ["PATCH"] })).await?;
    assert!(
        nodes(&by_category)
            .iter()
            .all(|node| node["category"] == "PATCH")
    );

    let cut = instant(&sample[40]["occurredAt"]);
    let window = page(
        &app,
        &token,
        json!({ "occurredAfter": sample[10]["occurredAt"], "occurredBefore": sample[40]["occurredAt"] }),
    )
    .await?;
    assert_eq!(window["totalCount"], 30, "[after, before) is half-open");
    assert!(
        nodes(&window)
            .iter()
            .all(|node| instant(&node["occurredAt"]) < cut)
    );

    let system = sample
        .iter()
        .find_map(|node| node["systems"]["nodes"][0]["id"].as_str())
        .expect("a system")
        .to_owned();
    let by_system = page(&app, &token, json!({ "systemIds": [system] })).await?;
    assert!(by_system["totalCount"].as_u64() > Some(0));
    assert!(nodes(&by_system).iter().all(|node| {
        node["systems"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == system)
    }));

    let actor = sample
        .iter()
        .find_map(|node| node["actor"]["id"].as_str())
        .expect("an actor")
        .to_owned();
    let by_actor = page(&app, &token, json!({ "actorIds": [actor] })).await?;
    assert!(
        nodes(&by_actor)
            .iter()
            .all(|node| node["actor"]["id"] == actor)
    );

    let ticket = sample
        .iter()
        .find_map(|node| node["ticket"]["id"].as_str())
        .expect("a ticket")
        .to_owned();
    let by_ticket = page(&app, &token, json!({ "ticketId": ticket })).await?;
    assert!(by_ticket["totalCount"].as_u64() > Some(0));
    assert!(
        nodes(&by_ticket)
            .iter()
            .all(|node| node["ticket"]["id"] == ticket)
    );

    // Text matches the summary or the details, in any case; `%` and `_` are literal.
    let by_text = page(&app, &token, json!({ "text": "FIREWALL RULE" })).await?;
    assert!(by_text["totalCount"].as_u64() > Some(0));
    assert!(nodes(&by_text).iter().all(|node| {
        node["summary"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("firewall rule")
    }));
    // Only the corrections' details say this; their summaries do not.
    let in_details = page(&app, &token, json!({ "text": "NAMED THE WRONG" })).await?;
    assert_eq!(in_details["totalCount"], 2, "details are searched");
    assert!(
        nodes(&in_details)
            .iter()
            .all(|node| node["summary"].as_str().unwrap().starts_with("Correction:"))
    );
    assert_eq!(
        page(&app, &token, json!({ "text": "%" })).await?["totalCount"],
        0
    );

    let combined = page(&app, &token, json!({ "environmentIds": [environment["id"]], "sources": ["MANUAL"], "categories": ["ACCESS", "PATCH"] })).await?;
    assert!(
        nodes(&combined)
            .iter()
            .all(|node| node["environment"]["id"] == environment["id"]
                && node["source"] == "MANUAL"
                && (node["category"] == "ACCESS" || node["category"] == "PATCH"))
    );
    app.stop().await
}

#[tokio::test]
async fn bad_filters_are_user_errors() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let query = "query($filter: ChangeLogFilter) { changeLog(filter: $filter) { totalCount } }";
    let cases = [
        (
            json!({ "occurredAfter": "2026-02-01T00:00:00Z", "occurredBefore": "2026-01-01T00:00:00Z" }),
            "`occurredBefore` must be later than `occurredAfter`",
        ),
        (
            json!({ "environmentIds": ["bogus"] }),
            "`bogus` is not a valid id",
        ),
    ];
    for (filter, message) in cases {
        let (_, body) = app
            .graphql(Some(&token), query, json!({ "filter": filter }))
            .await?;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert_eq!(body["errors"][0]["message"], message);
    }
    let (_, body) = app
        .graphql(
            Some(&token),
            query,
            json!({ "filter": { "occurredAfter": "yesterday" } }),
        )
        .await?;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );

    // A cursor made under one order is refused under another.
    let data = app
        .query(
            &token,
            "{ changeLog(first: 1) { pageInfo { endCursor } } }",
            Value::Null,
        )
        .await?;
    let cursor = data["changeLog"]["pageInfo"]["endCursor"].clone();
    let (_, body) = app
        .graphql(
            Some(&token),
            "query($after: String) { changeLog(first: 1, after: $after, orderBy: { field: RECORDED_AT }) { totalCount } }",
            json!({ "after": cursor }),
        )
        .await?;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("another order"),
        "{body}"
    );
    app.stop().await
}

#[tokio::test]
async fn a_nul_inside_details_is_refused_and_a_system_named_twice_is_linked_once()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.client_admin_token();
    let systems = app
        .query(
            &token,
            "{ environments(first: 1) { edges { node { id systems(first: 1) { edges { node { id } } } } } } }",
            Value::Null,
        )
        .await?;
    let environment = &systems["environments"]["edges"][0]["node"];
    let system = environment["systems"]["edges"][0]["node"]["id"].clone();
    let query = "mutation($input: RecordChangeInput!) { recordChange(input: $input) { changeLogEntry { systems { nodes { id } } } userErrors { field code } } }";
    let before = app.count("change_log_entries").await?;
    for details in [
        json!({ "note": "a\u{0}b" }),
        json!({ "a\u{0}b": 1 }),
        json!({ "deep": [{ "x": "\u{0}" }] }),
    ] {
        let refused = app
            .query(&token, query, json!({ "input": { "environmentId": environment["id"], "summary": "NUL in details", "category": "OTHER", "details": details } }))
            .await?;
        assert_eq!(
            refused["recordChange"]["userErrors"],
            json!([{ "field": ["input", "details"], "code": "INVALID" }]),
            "{refused}"
        );
    }
    assert_eq!(
        app.count("change_log_entries").await?,
        before,
        "nothing written"
    );
    let twice = app
        .query(&token, query, json!({ "input": { "environmentId": environment["id"], "summary": "Same system twice", "category": "OTHER", "systemIds": [system, system] } }))
        .await?;
    assert_eq!(twice["recordChange"]["userErrors"], json!([]), "{twice}");
    assert_eq!(
        twice["recordChange"]["changeLogEntry"]["systems"]["nodes"],
        json!([{ "id": system }])
    );
    app.stop().await
}
