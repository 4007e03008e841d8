//! Typed lookups by global id (`environment(id:)`, `ticket(id:)`, ...): the same answer and the
//! same visibility as `node(id:)`, and a clear error for an id of another type.

use entities::enums::Role;
use serde_json::{Value, json};
use tests::TestApp;

#[tokio::test]
async fn typed_lookups_answer_as_node_does_and_refuse_ids_of_another_type() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let page = app
        .query(
            &provider,
            "{ tickets(first: 50) { edges { node { id title environment { id name organization { slug } } } } } }",
            Value::Null,
        )
        .await?;
    let edges = page["tickets"]["edges"].as_array().unwrap();
    let harbor = edges
        .iter()
        .find(|edge| edge["node"]["environment"]["organization"]["slug"] == "harbor-health")
        .expect("a Harbor ticket")["node"]
        .clone();
    let other = edges
        .iter()
        .find(|edge| edge["node"]["environment"]["organization"]["slug"] != "harbor-health")
        .expect("a ticket of another client")["node"]
        .clone();

    let lookup = "query($ticket: ID!, $environment: ID!) { ticket(id: $ticket) { id title } environment(id: $environment) { name } node(id: $ticket) { ... on Ticket { title } } }";
    let found = app
        .query(
            &provider,
            lookup,
            json!({ "ticket": harbor["id"], "environment": harbor["environment"]["id"] }),
        )
        .await?;
    assert_eq!(found["ticket"]["title"], harbor["title"], "{found}");
    assert_eq!(found["ticket"]["title"], found["node"]["title"]);
    assert_eq!(found["environment"]["name"], harbor["environment"]["name"]);

    // Another client's objects are null for Harbor's admin, exactly as `node` answers.
    let client = app.token(
        api::demo::CLIENT_IT_ADMIN.0,
        api::demo::CLIENT_IT_ADMIN.1,
        Role::Admin,
    );
    let hidden = app
        .query(
            &client,
            lookup,
            json!({ "ticket": other["id"], "environment": other["environment"]["id"] }),
        )
        .await?;
    assert_eq!(
        hidden,
        json!({ "ticket": null, "environment": null, "node": null })
    );

    // An id of another type, or not an id at all, is the client's mistake and says so.
    for (id, says) in [
        (
            harbor["environment"]["id"].clone(),
            "is not an id of type Ticket",
        ),
        (json!("bogus"), "is not a valid id"),
    ] {
        let (_, body) = app
            .graphql(
                Some(&provider),
                "query($id: ID!) { ticket(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await?;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{message}");
    }
    app.stop().await
}

/// Every connection also offers `nodes`: its page's items in order, without cursors.
#[tokio::test]
async fn connections_offer_their_nodes_in_page_order() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let page = app
        .query(
            &token,
            "{ tickets(first: 5) { nodes { id title } edges { node { id title } } } environments(first: 2) { nodes { name systems(first: 2) { nodes { name } } } } }",
            Value::Null,
        )
        .await?;
    let nodes = page["tickets"]["nodes"].as_array().unwrap();
    let edges: Vec<Value> = page["tickets"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"].clone())
        .collect();
    assert_eq!(nodes.len(), 5, "{page}");
    assert_eq!(nodes, &edges);
    assert_eq!(page["environments"]["nodes"].as_array().unwrap().len(), 2);
    assert!(page["environments"]["nodes"][0]["systems"]["nodes"].is_array());
    app.stop().await
}
