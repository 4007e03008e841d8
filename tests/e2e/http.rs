//! GraphQL over HTTP: media types, methods, status codes, batching, and the abuse limits.

use serde_json::{Value, json};
use tests::{TestApp, test_server_settings};

async fn post_raw(
    app: &TestApp,
    token: &str,
    content_type: &str,
    accept: Option<&str>,
    body: String,
) -> anyhow::Result<(u16, String, Value)> {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let media_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    Ok((status, media_type, body))
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn media_types_and_status_codes_follow_graphql_over_http() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let valid = json!({ "query": "{ viewer { role } }" }).to_string();
    let invalid = json!({ "query": "{ viewer { nosuchfield } }" }).to_string();

    let (status, media_type, body) = post_raw(
        &app,
        &token,
        "application/json",
        Some("application/graphql-response+json"),
        valid.clone(),
    )
    .await?;
    assert_eq!(
        (status, media_type.as_str()),
        (200, "application/graphql-response+json")
    );
    assert_eq!(body["data"]["viewer"]["role"], "ADMIN");
    assert!(
        body["extensions"]["analyzer"]["complexity"].as_u64() > Some(0),
        "the cost is reported: {body}"
    );

    let (status, media_type, body) = post_raw(
        &app,
        &token,
        "application/json",
        Some("application/graphql-response+json"),
        invalid.clone(),
    )
    .await?;
    assert_eq!(
        (status, media_type.as_str()),
        (400, "application/graphql-response+json"),
        "{body}"
    );
    assert_eq!(code(&body), "GRAPHQL_VALIDATION_FAILED");

    // Legacy clients (no Accept, or application/json) get 200 once GraphQL ran.
    for accept in [None, Some("application/json")] {
        let (status, media_type, body) =
            post_raw(&app, &token, "application/json", accept, invalid.clone()).await?;
        assert_eq!(
            (status, media_type.as_str()),
            (200, "application/json"),
            "{body}"
        );
        assert_eq!(code(&body), "GRAPHQL_VALIDATION_FAILED");
    }

    let (status, _, body) = post_raw(&app, &token, "text/plain", None, valid.clone()).await?;
    assert_eq!(
        (status, code(&body)),
        (415, "UNSUPPORTED_MEDIA_TYPE"),
        "{body}"
    );
    let (status, _, body) =
        post_raw(&app, &token, "application/json", None, "{ not json".into()).await?;
    assert_eq!((status, code(&body)), (400, "BAD_REQUEST"), "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("the body is not a GraphQL request in JSON")
    );
    let (status, _, body) = post_raw(
        &app,
        &token,
        "application/json",
        None,
        json!({ "variables": {} }).to_string(),
    )
    .await?;
    assert_eq!(
        (status, code(&body)),
        (400, "BAD_REQUEST"),
        "a request without a query: {body}"
    );

    let response = app
        .client
        .put(format!("{}/graphql", app.address))
        .send()
        .await?;
    assert_eq!(response.status(), 405);
    assert_eq!(code(&response.json::<Value>().await?), "METHOD_NOT_ALLOWED");
    app.stop().await
}

#[tokio::test]
async fn get_runs_queries_and_refuses_mutations() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let url = |pairs: &[(&str, &str)]| {
        let mut url = url::Url::parse(&format!("{}/graphql", app.address)).expect("a URL");
        url.query_pairs_mut().extend_pairs(pairs);
        url
    };
    let get = |query: &str| {
        app.client
            .get(url(&[("query", query)]))
            .bearer_auth(&token)
            .send()
    };
    let response = get("query Who($n: Int) { organizations(first: $n) { totalCount } }").await?;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await?["data"]["organizations"]["totalCount"],
        3
    );
    let response = app
        .client
        .get(url(&[
            (
                "query",
                "query Few($n: Int) { organizations(first: $n) { edges { node { slug } } } }",
            ),
            ("variables", "{\"n\": 1}"),
        ]))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(
        response.json::<Value>().await?["data"]["organizations"]["edges"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    let response = get("mutation { anything }").await?;
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    assert_eq!(code(&response.json::<Value>().await?), "METHOD_NOT_ALLOWED");

    let response = app
        .client
        .get(format!("{}/graphql", app.address))
        .header("accept", "application/json")
        .send()
        .await?;
    assert_eq!(response.status(), 400);
    assert_eq!(code(&response.json::<Value>().await?), "BAD_REQUEST");
    app.stop().await
}

#[tokio::test]
async fn batches_run_up_to_the_cap() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let batch = |count: usize| {
        json!(
            (0..count)
                .map(|_| json!({ "query": "{ viewer { role } }" }))
                .collect::<Vec<_>>()
        )
        .to_string()
    };
    let (status, _, body) = post_raw(&app, &token, "application/json", None, batch(2)).await?;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().map(Vec::len), Some(2));
    assert_eq!(body[1]["data"]["viewer"]["role"], "ADMIN");
    let (status, _, body) = post_raw(&app, &token, "application/json", None, batch(11)).await?;
    assert_eq!((status, code(&body)), (400, "BATCH_TOO_LARGE"), "{body}");
    assert_eq!(
        body["errors"][0]["message"],
        "the batch holds 11 operations; at most 10 are allowed"
    );
    let (status, _, body) = post_raw(&app, &token, "application/json", None, "[]".into()).await?;
    assert_eq!((status, code(&body)), (400, "BAD_REQUEST"));
    app.stop().await
}

#[tokio::test]
async fn deep_costly_and_alias_heavy_queries_are_refused() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();

    let mut deep = "slug".to_owned();
    for _ in 0..5 {
        deep = format!(
            "environments(first: 1) {{ edges {{ node {{ organization {{ {deep} }} }} }} }}"
        );
    }
    let (_, body) = app
        .graphql(
            Some(&token),
            &format!("{{ organizations(first: 1) {{ edges {{ node {{ {deep} }} }} }} }}"),
            Value::Null,
        )
        .await?;
    assert_eq!(code(&body), "QUERY_TOO_DEEP", "{body}");
    assert_eq!(body["data"], Value::Null);

    let costly = "{ environments(first: 100) { edges { node { systems(first: 100) { edges { node { changes(first: 100) { edges { node { summary } } } } } } } } } }";
    let (_, body) = app.graphql(Some(&token), costly, Value::Null).await?;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body}");

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
    assert_eq!(code(&body), "TOO_MANY_ALIASES", "{body}");
    assert_eq!(
        body["errors"][0]["message"],
        "the query uses 31 aliases; at most 30 are allowed"
    );

    // A page of 100 with a handful of fields is fine.
    let data = app
        .query(
            &token,
            "{ changeLog(first: 100) { edges { node { summary environment { name } } } } }",
            Value::Null,
        )
        .await?;
    assert_eq!(
        data["changeLog"]["edges"].as_array().map(Vec::len),
        Some(100)
    );
    app.stop().await
}

#[tokio::test]
async fn introspection_can_be_switched_off() -> anyhow::Result<()> {
    let mut settings = test_server_settings();
    settings.graphql_introspection = false;
    let app = TestApp::spawn_with(settings, true).await?;
    let token = app.provider_admin_token();
    let (_, body) = app
        .graphql(Some(&token), "{ __schema { types { name } } }", Value::Null)
        .await?;
    // The schema is not revealed.
    assert!(body["data"]["__schema"].is_null(), "{body}");
    // Ordinary queries still work.
    app.query(&token, "{ viewer { role } }", Value::Null)
        .await?;
    app.stop().await?;

    let app = TestApp::spawn_with_demo().await?;
    let data = app
        .query(
            &app.provider_admin_token(),
            "{ __schema { queryType { name } } }",
            Value::Null,
        )
        .await?;
    assert_eq!(data["__schema"]["queryType"]["name"], "Query");
    app.stop().await
}
