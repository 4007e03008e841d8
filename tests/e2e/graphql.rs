//! The first slice of the schema: `viewer`, `node`, `organizations`, `environments`, with
//! tenancy and cursor paging.

use serde_json::{Value, json};
use tests::TestApp;

const ENVIRONMENTS: &str = "query($first: Int, $after: String, $last: Int, $before: String) {
  environments(first: $first, after: $after, last: $last, before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id name organization { slug } } }
  }
}";

fn names(connection: &Value) -> Vec<String> {
    connection["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| edge["node"]["name"].as_str().expect("name").to_owned())
        .collect()
}

#[tokio::test]
async fn the_done_when_query_answers_for_the_printed_token() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let data = app
        .query(
            &app.provider_admin_token(),
            "{ viewer { role person { displayName } organization { slug kind } } environments(first: 5) { totalCount edges { node { name } } } }",
            Value::Null,
        )
        .await?;
    assert_eq!(
        data["viewer"]["organization"],
        json!({ "slug": "northwind-msp", "kind": "PROVIDER" })
    );
    assert_eq!(data["environments"]["totalCount"], 3);
    assert_eq!(
        names(&data["environments"]),
        ["Production", "Riverside Clinic", "Main Office"]
    );
    app.stop().await
}

#[tokio::test]
async fn each_tenant_sees_only_its_own_organizations_and_environments() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let query = "{ organizations { totalCount edges { node { slug } } } environments { totalCount edges { node { name } } } }";

    let provider = app
        .query(&app.provider_admin_token(), query, Value::Null)
        .await?;
    assert_eq!(provider["organizations"]["totalCount"], 3);

    let harbor = app
        .query(&app.client_admin_token(), query, Value::Null)
        .await?;
    assert_eq!(
        harbor["organizations"]["edges"],
        json!([{ "node": { "slug": "harbor-health" } }])
    );
    assert_eq!(
        names(&harbor["environments"]),
        ["Production", "Riverside Clinic"]
    );

    let cedar = app
        .query(
            &app.token(
                "demo|cedar-office",
                "cedar-pine",
                entities::enums::Role::Admin,
            ),
            query,
            Value::Null,
        )
        .await?;
    assert_eq!(cedar["organizations"]["totalCount"], 1);
    assert_eq!(names(&cedar["environments"]), ["Main Office"]);
    app.stop().await
}

#[tokio::test]
async fn node_returns_visible_objects_and_null_for_other_tenants() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app
        .query(
            &app.provider_admin_token(),
            ENVIRONMENTS,
            json!({ "first": 10 }),
        )
        .await?;
    let edges = provider["environments"]["edges"]
        .as_array()
        .expect("edges")
        .clone();
    let cedar_environment = edges
        .iter()
        .find(|edge| edge["node"]["organization"]["slug"] == "cedar-pine")
        .expect("cedar");
    let harbor_environment = edges
        .iter()
        .find(|edge| edge["node"]["organization"]["slug"] == "harbor-health")
        .expect("harbor");
    let node = "query($id: ID!) { node(id: $id) { id ... on Environment { name } } }";

    let harbor_token = app.client_admin_token();
    let own = app
        .query(
            &harbor_token,
            node,
            json!({ "id": harbor_environment["node"]["id"] }),
        )
        .await?;
    assert_eq!(own["node"]["name"], harbor_environment["node"]["name"]);
    // Another tenant's object and an object that does not exist look the same: null.
    let other = app
        .query(
            &harbor_token,
            node,
            json!({ "id": cedar_environment["node"]["id"] }),
        )
        .await?;
    assert_eq!(other, json!({ "node": null }));

    let nodes = app
        .query(
            &harbor_token,
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": [harbor_environment["node"]["id"], cedar_environment["node"]["id"]] }),
        )
        .await?;
    assert_eq!(nodes["nodes"][0]["id"], harbor_environment["node"]["id"]);
    assert_eq!(nodes["nodes"][1], Value::Null);
    app.stop().await
}

#[tokio::test]
async fn a_bad_id_is_a_user_error() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (status, body) = app
        .graphql(
            Some(&app.provider_admin_token()),
            "{ node(id: \"garbage\") { id } }",
            Value::Null,
        )
        .await?;
    assert_eq!(status, 200);
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(body["errors"][0]["extensions"]["field"], "id");
    assert_eq!(body["errors"][0]["message"], "`garbage` is not a valid id");
    app.stop().await
}

#[tokio::test]
async fn pages_forward_and_backward_with_cursors() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let first = app
        .query(&token, ENVIRONMENTS, json!({ "first": 2 }))
        .await?;
    let page = &first["environments"];
    assert_eq!(page["totalCount"], 3);
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    assert_eq!(page["pageInfo"]["hasPreviousPage"], false);
    assert_eq!(names(page), ["Production", "Riverside Clinic"]);

    let second = app
        .query(
            &token,
            ENVIRONMENTS,
            json!({ "first": 2, "after": page["pageInfo"]["endCursor"] }),
        )
        .await?;
    let page = &second["environments"];
    assert_eq!(names(page), ["Main Office"]);
    assert_eq!(page["pageInfo"]["hasNextPage"], false);
    assert_eq!(page["pageInfo"]["hasPreviousPage"], true);

    let back = app
        .query(
            &token,
            ENVIRONMENTS,
            json!({ "last": 2, "before": page["pageInfo"]["startCursor"] }),
        )
        .await?;
    assert_eq!(
        names(&back["environments"]),
        ["Production", "Riverside Clinic"]
    );
    assert_eq!(back["environments"]["pageInfo"]["hasNextPage"], true);

    let last = app
        .query(&token, ENVIRONMENTS, json!({ "last": 1 }))
        .await?;
    assert_eq!(names(&last["environments"]), ["Main Office"]);
    assert_eq!(last["environments"]["pageInfo"]["hasPreviousPage"], true);
    app.stop().await
}

#[tokio::test]
async fn page_sizes_over_the_cap_are_refused_clearly() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (status, body) = app
        .graphql(
            Some(&app.provider_admin_token()),
            ENVIRONMENTS,
            json!({ "first": 101 }),
        )
        .await?;
    assert_eq!(status, 200);
    assert_eq!(body["data"], Value::Null);
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(
        body["errors"][0]["message"],
        "`first` must be at most 100 (got 101); page with `after`"
    );
    let (_, body) = app
        .graphql(
            Some(&app.provider_admin_token()),
            ENVIRONMENTS,
            json!({ "first": 1, "after": "nope" }),
        )
        .await?;
    assert_eq!(body["errors"][0]["message"], "`nope` is not a valid cursor");
    app.stop().await
}
