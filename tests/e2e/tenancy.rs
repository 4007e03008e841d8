//! Tenancy: for every root list and for `node`, a token of another tenant gets nothing: no rows,
//! no counts, no objects.

use std::collections::HashSet;

use serde_json::{Value, json};
use tests::TestApp;

/// Every root list, with its type name.
const ROOT_LISTS: [(&str, &str); 13] = [
    ("organizations", "Organization"),
    ("engagements", "Engagement"),
    ("teams", "Team"),
    ("people", "Person"),
    ("environments", "Environment"),
    ("systems", "System"),
    ("functions", "Function"),
    ("runbooks", "Runbook"),
    ("changeLog", "ChangeLogEntry"),
    ("tickets", "Ticket"),
    ("alerts", "Alert"),
    ("integrations", "Integration"),
    ("syncRuns", "SyncRun"),
];

async fn ids(app: &TestApp, token: &str, field: &str) -> anyhow::Result<HashSet<String>> {
    Ok(app
        .all_nodes(token, field, "id")
        .await?
        .into_iter()
        .map(|node| node["id"].as_str().expect("id").to_owned())
        .collect())
}

/// The ids of the provider's own people, as its admin lists them.
async fn provider_people(app: &TestApp, provider: &str) -> anyhow::Result<HashSet<String>> {
    Ok(app
        .all_nodes(provider, "people", "id organization { slug }")
        .await?
        .into_iter()
        .filter(|node| node["organization"]["slug"] == "northwind-msp")
        .map(|node| node["id"].as_str().expect("id").to_owned())
        .collect())
}

#[tokio::test]
async fn no_root_list_shows_another_tenants_rows() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    // The demo's integrations feed both clients, which both see them read-only
    // (`integration_visibility`): here they feed Harbor only.
    app.unmap_cedar().await?;
    let harbor = app.client_admin_token();
    let cedar = app.token(
        "demo|cedar-office",
        "cedar-pine",
        entities::enums::Role::Admin,
    );
    let provider = app.provider_admin_token();
    for (field, _) in ROOT_LISTS {
        let harbor_ids = ids(&app, &harbor, field).await?;
        let cedar_ids = ids(&app, &cedar, field).await?;
        let provider_ids = ids(&app, &provider, field).await?;
        let shared: HashSet<_> = harbor_ids.intersection(&cedar_ids).collect();
        if field == "functions" {
            // The standard catalog is everyone's.
            assert_eq!(harbor_ids, cedar_ids);
            continue;
        }
        if field == "people" {
            // People follow their own rule: each client sees the staff of the provider serving
            // it, so the two clients share exactly Northwind's people, and nobody of each other.
            let northwind = provider_people(&app, &provider).await?;
            assert!(!northwind.is_empty());
            assert_eq!(
                shared,
                northwind.iter().collect::<HashSet<_>>(),
                "people: clients share only their provider's staff"
            );
        } else {
            assert!(shared.is_empty(), "{field}: clients share {shared:?}");
        }
        if !matches!(
            field,
            "organizations" | "engagements" | "teams" | "people" | "integrations" | "syncRuns"
        ) {
            assert!(
                !harbor_ids.is_empty() && !cedar_ids.is_empty(),
                "{field}: the demo has rows for both"
            );
            assert!(
                harbor_ids.is_subset(&provider_ids),
                "{field}: the provider sees its clients' rows"
            );
            assert!(
                cedar_ids.is_subset(&provider_ids),
                "{field}: the provider sees its clients' rows"
            );
        }
        // Counts agree with what is listed: nothing hidden is counted.
        let data = app
            .query(
                &cedar,
                &format!("{{ {field} {{ totalCount }} }}"),
                Value::Null,
            )
            .await?;
        assert_eq!(
            data[field]["totalCount"].as_u64(),
            Some(cedar_ids.len() as u64),
            "{field}"
        );
    }
    // A client sees its provider's integrations only while they feed it.
    assert_eq!(ids(&app, &harbor, "integrations").await?.len(), 2);
    assert!(ids(&app, &cedar, "integrations").await?.is_empty());
    assert!(ids(&app, &cedar, "syncRuns").await?.is_empty());
    assert!(!ids(&app, &provider, "syncRuns").await?.is_empty());
    app.stop().await
}

#[tokio::test]
async fn node_returns_null_for_every_type_of_another_tenant() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    // No integration feeds Cedar (see `no_root_list_shows_another_tenants_rows`).
    app.unmap_cedar().await?;
    let harbor = app.client_admin_token();
    let cedar = app.token(
        "demo|cedar-office",
        "cedar-pine",
        entities::enums::Role::Admin,
    );
    let provider = app.provider_admin_token();
    let mut checked = Vec::new();
    for (field, type_name) in ROOT_LISTS {
        if field == "functions" {
            continue;
        }
        // The provider's integrations that do not feed a client are invisible to it; the
        // clinic's objects to the accountants.
        let owner = if matches!(field, "integrations" | "syncRuns") {
            &provider
        } else {
            &harbor
        };
        let mut candidates = ids(&app, owner, field).await?;
        if field == "people" {
            // Harbor sees its provider's staff too, and so does Cedar: probe with Harbor's own.
            candidates = &candidates - &provider_people(&app, &provider).await?;
        }
        let Some(id) = candidates.into_iter().next() else {
            panic!("{field}: no object to probe");
        };
        let query = "query($id: ID!) { node(id: $id) { __typename id } }";
        let visible = app.query(owner, query, json!({ "id": id })).await?;
        assert_eq!(visible["node"]["__typename"], type_name);
        let hidden = app.query(&cedar, query, json!({ "id": id })).await?;
        assert_eq!(
            hidden,
            json!({ "node": null }),
            "{type_name} {id} leaks to another tenant"
        );
        checked.push(type_name);
    }
    // Nested-only types: revisions and notes.
    let data = app
        .query(&harbor, "{ runbooks(first: 1) { edges { node { revisions { nodes { id } } } } } tickets(first: 1, filter: { text: \"\" }) { edges { node { notes { nodes { id } } } } } }", Value::Null)
        .await?;
    for id in [
        &data["runbooks"]["edges"][0]["node"]["revisions"]["nodes"][0]["id"],
        &data["tickets"]["edges"][0]["node"]["notes"]["nodes"][0]["id"],
    ] {
        let hidden = app
            .query(
                &cedar,
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await?;
        assert_eq!(hidden, json!({ "node": null }));
        let visible = app
            .query(
                &harbor,
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await?;
        assert_eq!(visible["node"]["id"], *id);
    }
    assert_eq!(checked.len(), 12);
    app.stop().await
}

#[tokio::test]
async fn filters_naming_another_tenants_objects_find_nothing() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let cedar = app.token(
        "demo|cedar-office",
        "cedar-pine",
        entities::enums::Role::Admin,
    );
    let harbor_environments: Vec<String> = ids(&app, &harbor, "environments")
        .await?
        .into_iter()
        .collect();
    for field in ["systems", "tickets", "alerts", "runbooks", "changeLog"] {
        let data = app
            .query(
                &cedar,
                &format!("query($ids: [ID!]) {{ {field}(filter: {{ environmentIds: $ids }}) {{ totalCount edges {{ node {{ id }} }} }} }}"),
                json!({ "ids": harbor_environments }),
            )
            .await?;
        assert_eq!(data[field]["totalCount"], 0, "{field}");
    }
    app.stop().await
}
