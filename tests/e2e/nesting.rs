//! Limits on what a request can nest or repeat: a value nested thousands of levels deep, in any
//! place a value can stand and over any transport, is refused with a clear code, and the server
//! keeps answering.

use serde_json::{Value, json};
use tests::TestApp;

/// `open` and `close` repeated `depth` times around a string.
fn nested(open: &str, close: &str, depth: usize) -> String {
    format!("{}\"x\"{}", open.repeat(depth), close.repeat(depth))
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

/// The server still answers an ordinary query.
async fn still_answers(app: &TestApp, token: &str) -> anyhow::Result<()> {
    let data = app.query(token, "{ viewer { role } }", Value::Null).await?;
    assert_eq!(data["viewer"]["role"], "ADMIN");
    Ok(())
}

#[tokio::test]
async fn values_nested_thousands_deep_are_refused_in_every_place() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let list = nested("[", "]", 1_800);
    let object = nested("{a: ", "}", 1_800);
    let documents = [
        format!("{{ node(id: {list}) {{ id }} }}"),
        format!("{{ tickets(first: 5, filter: {object}) {{ totalCount }} }}"),
        format!("query($v: [[Int]] = {list}) {{ viewer {{ role }} }}"),
        format!("{{ viewer @include(if: {list}) {{ role }} }}"),
        format!("{{ viewer @include(if: {object}) {{ role }} }}"),
        // An unclosed block string: the parser reads `""` and goes on, so brackets after it count.
        format!("{{ node(id: [\"\"\" \", {list}]) {{ id }} }}"),
    ];
    for document in &documents {
        let (status, body) = app.graphql(Some(&token), document, Value::Null).await?;
        assert_eq!(status, 200, "{body}");
        assert_eq!(code(&body), "VALUE_TOO_DEEP", "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("at most 32"), "{message}");
        assert_eq!(body["data"], Value::Null, "{body}");
        still_answers(&app, &token).await?;
    }

    // Selection sets nested as deep: refused before the parser sees them too.
    let selections = format!("{}{}", "{ viewer ".repeat(1_800), "}".repeat(1_800));
    let (_, body) = app.graphql(Some(&token), &selections, Value::Null).await?;
    assert_eq!(code(&body), "QUERY_TOO_DEEP", "{body}");
    still_answers(&app, &token).await?;

    // Over GET, where the server itself looks at the document before GraphQL runs it.
    for document in &documents[..3] {
        let url = format!("{}/graphql", app.address);
        let response = app
            .client
            .get(url)
            .query(&[("query", document.as_str())])
            .bearer_auth(&token)
            .send()
            .await?;
        let body: Value = response.json().await?;
        assert_eq!(code(&body), "VALUE_TOO_DEEP", "{body}");
        still_answers(&app, &token).await?;
    }
    app.stop().await
}

#[tokio::test]
async fn the_limit_still_lets_ordinary_values_through() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    // 32 levels of lists in a variable's default: allowed (and then refused by the type, as
    // GraphQL says), not by the nesting limit.
    let document = format!(
        "query($v: [[Int]] = {}) {{ viewer {{ role }} }}",
        nested("[", "]", 32)
    );
    let (_, body) = app.graphql(Some(&token), &document, Value::Null).await?;
    assert_ne!(code(&body), "VALUE_TOO_DEEP", "{body}");
    let data = app
        .query(
            &token,
            "query($first: Int, $statuses: [TicketStatus!]) { tickets(first: $first, filter: { statuses: $statuses }) { totalCount } }",
            json!({ "first": 5, "statuses": ["NEW", "IN_PROGRESS"] }),
        )
        .await?;
    assert!(data["tickets"]["totalCount"].as_i64().is_some(), "{data}");
    app.stop().await
}

#[tokio::test]
async fn variables_are_held_to_the_same_limits() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let query = "query($v: JSON) { viewer { role } }";

    // 100 levels: within what the JSON reader accepts, beyond what a value may nest.
    let mut deep = json!("x");
    for _ in 0..100 {
        deep = json!([deep]);
    }
    let (_, body) = app
        .graphql(Some(&token), query, json!({ "v": deep }))
        .await?;
    assert_eq!(code(&body), "VALUE_TOO_DEEP", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("`$v`")),
        "{body}"
    );

    // Thousands of levels: refused while the body is read.
    let body = format!(
        "{{\"query\": \"{{ viewer {{ role }} }}\", \"variables\": {{\"v\": {}}}}}",
        nested("[", "]", 5_000)
    );
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await?;
    assert_eq!(code(&body), "BAD_REQUEST", "{body}");

    // Lists longer than any request may hold.
    let ids: Vec<String> = (0..=api::graphql::limits::MAX_LIST_LENGTH)
        .map(|n| format!("id{n}"))
        .collect();
    let (_, body) = app
        .graphql(Some(&token), query, json!({ "v": ids }))
        .await?;
    assert_eq!(code(&body), "LIST_TOO_LONG", "{body}");
    let literal = format!(
        "{{ tickets(first: 1, filter: {{ environmentIds: [{}] }}) {{ totalCount }} }}",
        ids.iter()
            .map(|id| format!("\"{id}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    let (_, body) = app.graphql(Some(&token), &literal, Value::Null).await?;
    assert_eq!(code(&body), "LIST_TOO_LONG", "{body}");

    // Fragments and directives.
    let fragments: String = (0..201)
        .map(|n| format!(" fragment F{n} on Query {{ viewer {{ role }} }}"))
        .collect();
    let (_, body) = app
        .graphql(
            Some(&token),
            &format!("{{ viewer {{ role }} }}{fragments}"),
            Value::Null,
        )
        .await?;
    assert_eq!(code(&body), "TOO_MANY_FRAGMENTS", "{body}");
    let directives = "@include(if: true) ".repeat(201);
    let (_, body) = app
        .graphql(
            Some(&token),
            &format!("{{ viewer {directives} {{ role }} }}"),
            Value::Null,
        )
        .await?;
    assert_eq!(code(&body), "TOO_MANY_DIRECTIVES", "{body}");
    still_answers(&app, &token).await?;
    app.stop().await
}
