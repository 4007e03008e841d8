//! Hardening found by an outside probe: security headers on every response, request ids a client
//! cannot use to forge log lines, tokens from the future or for too long refused, the request id
//! in every error body, and messages that name the caller's own field and no other tenant's value.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use entities::enums::Role;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use tests::{TEST_JWT_SECRET, TestApp, test_keys, test_server_settings};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after the epoch")
        .as_secs()
}

/// A token for the demo's client admin with `times` (`exp`, `iat`, `nbf`) as given.
fn token_with(times: Value) -> String {
    let mut claims = json!({
        "sub": api::demo::CLIENT_IT_ADMIN.0,
        "org": api::demo::CLIENT_IT_ADMIN.1,
        "role": "ADMIN",
    });
    claims
        .as_object_mut()
        .expect("an object")
        .extend(times.as_object().expect("an object").clone());
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
    )
    .expect("test tokens sign")
}

fn assert_security_headers(response: &reqwest::Response, what: &str) {
    let headers = response.headers();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header("x-frame-options"), "DENY", "{what}");
    assert_eq!(header("referrer-policy"), "no-referrer", "{what}");
    let policy = header("content-security-policy");
    assert!(
        policy.contains("frame-ancestors 'none'"),
        "{what}: {policy}"
    );
    assert!(policy.starts_with("default-src 'none'"), "{what}: {policy}");
}

/// The response's request id header, and the `requestId` of its JSON error body.
async fn ids_of(response: reqwest::Response) -> anyhow::Result<(u16, String, Value)> {
    let status = response.status().as_u16();
    let header = response.headers()["x-request-id"].to_str()?.to_owned();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    Ok((status, header, body))
}

#[tokio::test]
async fn every_response_has_the_security_headers() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.client_admin_token();

    let ok = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&token)
        .json(&json!({ "query": "{ viewer { role } }" }))
        .send()
        .await?;
    assert_eq!(ok.status(), 200);
    assert_security_headers(&ok, "a 200");
    let policy = ok.headers()["content-security-policy"].to_str()?;
    assert!(!policy.contains("unpkg"), "JSON needs no scripts: {policy}");

    let refused = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": "{ viewer { role } }" }))
        .send()
        .await?;
    assert_eq!(refused.status(), 401);
    assert_security_headers(&refused, "a 401");

    let missing = app.get("/no/such/route").await?;
    assert_eq!(missing.status(), 404);
    assert_security_headers(&missing, "a 404");
    let too_large = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("content-type", "application/json")
        .body(vec![b' '; 5 * 1024 * 1024])
        .send()
        .await?;
    assert_eq!(too_large.status(), 413);
    assert_security_headers(&too_large, "a 413 from the body limit");

    let graphiql = app
        .client
        .get(format!("{}/graphql", app.address))
        .header("accept", "text/html")
        .send()
        .await?;
    assert_eq!(graphiql.status(), 200);
    assert!(
        graphiql.headers()["content-type"]
            .to_str()?
            .starts_with("text/html")
    );
    assert_security_headers(&graphiql, "GraphiQL");
    // The page loads its scripts and styles from this server only (embedded in the binary) and
    // calls the API; no inline script (inline styles only, for GraphiQL's dialogs), no other
    // origin.
    let policy = graphiql.headers()["content-security-policy"]
        .to_str()?
        .to_owned();
    for allowed in [
        "script-src 'self';",
        "style-src 'self' 'unsafe-inline';",
        "connect-src 'self'",
    ] {
        assert!(policy.contains(allowed), "{allowed} missing from {policy}");
    }
    assert!(!policy.contains("unsafe-eval"), "{policy}");
    assert_eq!(policy.matches("unsafe").count(), 1, "{policy}");
    assert!(!policy.contains("https:"), "{policy}");
    let html = graphiql.text().await?;
    assert!(!html.contains("unpkg"), "{html}");
    assert!(html.contains("graphql/assets/graphiql.min.js?v="), "{html}");
    app.stop().await
}

#[tokio::test]
async fn request_ids_that_could_forge_log_lines_are_replaced() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let send = |id: reqwest::header::HeaderValue| {
        app.client
            .post(format!("{}/graphql", app.address))
            .header("x-request-id", id)
            .json(&json!({ "query": "{ viewer { role } }" }))
            .send()
    };
    let huge = "a".repeat(10 * 1024);
    for sent in [
        huge.as_bytes(),
        b"abc\\nINFO request status=200".as_slice(),
        b"abc\tforged=1".as_slice(),
        b"caf\xc3\xa9".as_slice(),
        b"a\"b".as_slice(),
    ] {
        let (status, header, body) =
            ids_of(send(reqwest::header::HeaderValue::from_bytes(sent)?).await?).await?;
        assert_eq!(status, 401);
        let replacement = uuid::Uuid::parse_str(&header)
            .unwrap_or_else(|_| panic!("{header} replaces {:?}", String::from_utf8_lossy(sent)));
        assert_eq!(replacement.get_version_num(), 4);
        assert_eq!(
            body["errors"][0]["extensions"]["requestId"], header,
            "the body names the replacement: {body}"
        );
    }

    let valid = "trace:2026-12.01_a-Z9";
    let (status, header, body) = ids_of(send(valid.parse()?).await?).await?;
    assert_eq!((status, header.as_str()), (401, valid));
    assert_eq!(body["errors"][0]["extensions"]["requestId"], valid);
    let longest = "x".repeat(128);
    let (_, header, _) = ids_of(send(longest.parse()?).await?).await?;
    assert_eq!(header, longest);
    let (_, header, _) = ids_of(send("x".repeat(129).parse()?).await?).await?;
    assert!(uuid::Uuid::parse_str(&header).is_ok(), "{header}");
    app.stop().await
}

async fn assert_unauthenticated(app: &TestApp, token: &str, claim: &str) -> anyhow::Result<()> {
    let (status, body) = app
        .graphql(Some(token), "{ viewer { role } }", Value::Null)
        .await?;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(&format!("token claim `{claim}` ")),
        "{message} names `{claim}`"
    );
    Ok(())
}

#[tokio::test]
async fn tokens_from_the_future_or_for_too_long_are_refused() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let now = now();
    let year = 365 * 24 * 3600;
    assert_unauthenticated(
        &app,
        &token_with(json!({ "exp": now + 7200, "nbf": now + 3600, "iat": now })),
        "nbf",
    )
    .await?;
    assert_unauthenticated(
        &app,
        &token_with(json!({ "exp": now + year + 3600, "iat": now + year })),
        "iat",
    )
    .await?;
    // The default maximum lifetime is a day.
    assert_unauthenticated(
        &app,
        &token_with(json!({ "exp": now + 86400 + 3600, "iat": now })),
        "exp",
    )
    .await?;
    assert_unauthenticated(&app, &token_with(json!({ "exp": now + year })), "exp").await?;

    // The harness's tokens, and a token for exactly a day, are fine.
    let data = app
        .query(
            &token_with(json!({ "exp": now + 86400, "iat": now, "nbf": now })),
            "{ viewer { role } }",
            Value::Null,
        )
        .await?;
    assert_eq!(data["viewer"]["role"], "ADMIN");
    app.query(
        &app.client_admin_token(),
        "{ viewer { role } }",
        Value::Null,
    )
    .await?;
    app.stop().await
}

#[tokio::test]
async fn the_maximum_token_lifetime_is_configurable() -> anyhow::Result<()> {
    let keys = test_keys().with_max_lifetime(Duration::from_secs(3600));
    let app = TestApp::spawn_with_keys(test_server_settings(), true, keys).await?;
    let (subject, org) = api::demo::CLIENT_IT_ADMIN;
    let two_hours = app.token_valid_for(subject, org, Role::Admin, Duration::from_secs(7200));
    assert_unauthenticated(&app, &two_hours, "exp").await?;
    let half_hour = app.token_valid_for(subject, org, Role::Admin, Duration::from_secs(1800));
    app.query(&half_hour, "{ viewer { role } }", Value::Null)
        .await?;
    app.stop().await
}

#[tokio::test]
async fn rest_errors_carry_the_request_id() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.client_admin_token();
    let environment = app
        .query(
            &token,
            "{ environments(first: 1) { edges { node { id } } } }",
            Value::Null,
        )
        .await?["environments"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let get = |path: String, token: Option<&str>| {
        let mut request = app.client.get(format!("{}{path}", app.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let cases = [
        (
            get("/export/change-log?format=csv".into(), None).await?,
            401,
            "UNAUTHENTICATED",
        ),
        (
            get("/export/change-log?format=xml".into(), Some(&token)).await?,
            400,
            "BAD_USER_INPUT",
        ),
        (
            get(
                format!("/environments/{environment}/responsibility-matrix?format=pdf"),
                Some(&token),
            )
            .await?,
            400,
            "BAD_USER_INPUT",
        ),
        (
            get(
                "/environments/nope/responsibility-matrix?format=md".into(),
                Some(&token),
            )
            .await?,
            400,
            "BAD_USER_INPUT",
        ),
        // A query string the extractor refuses (one `format` only) gets the same JSON shape.
        (
            get(
                format!("/environments/{environment}/responsibility-matrix?format=md&format=csv"),
                Some(&token),
            )
            .await?,
            400,
            "BAD_REQUEST",
        ),
        (
            app.client
                .post(format!("{}/webhooks/{}", app.address, uuid::Uuid::new_v4()))
                .body("{}")
                .send()
                .await?,
            404,
            "NOT_FOUND",
        ),
        (get("/no/such/route".into(), None).await?, 404, "NOT_FOUND"),
    ];
    for (index, (response, status, code)) in cases.into_iter().enumerate() {
        let (actual, header, body) = ids_of(response).await?;
        assert_eq!(actual, status, "case {index}: {body}");
        let errors = body["errors"].as_array().map(Vec::len);
        assert_eq!(errors, Some(1), "case {index}: one error: {body}");
        let extensions = &body["errors"][0]["extensions"];
        assert_eq!(extensions["code"], code, "case {index}: {body}");
        assert_eq!(extensions["requestId"], header, "case {index}: {body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .is_some_and(|message| !message.is_empty()),
            "case {index}: {body}"
        );
    }
    app.stop().await
}

#[tokio::test]
async fn taken_values_are_refused_without_naming_another_tenant() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let harbor_org = app
        .query(&harbor, "{ viewer { organization { id } } }", Value::Null)
        .await?["viewer"]["organization"]["id"]
        .clone();
    // The provider's admin's subject, created again in the client's directory.
    let (status, body) = app
        .mutation(
            &harbor,
            "createPerson",
            "CreatePersonInput",
            &json!({ "organizationId": harbor_org, "subject": api::demo::PROVIDER_ADMIN.0, "displayName": "Copy", "role": "VIEWER" }),
            "person { id }",
        )
        .await?;
    assert_eq!(status, 200);
    let errors = &body["data"]["createPerson"]["userErrors"];
    assert_eq!(
        errors,
        &json!([{ "field": ["input", "subject"], "code": "TAKEN", "message": "this subject is already taken" }]),
        "{body}"
    );
    let text = body.to_string();
    for secret in ["northwind", "Northwind", api::demo::PROVIDER_ADMIN.0] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }

    // Another client's slug, taken by a provider creating a client.
    let (status, body) = app
        .mutation(
            &app.provider_admin_token(),
            "createClientOrganization",
            "CreateClientOrganizationInput",
            &json!({ "name": "Copy", "slug": "cedar-pine", "operatingModel": "CO_MANAGED", "startsOn": "2026-01-01" }),
            "organization { id }",
        )
        .await?;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["createClientOrganization"]["userErrors"],
        json!([{ "field": ["input", "slug"], "code": "TAKEN", "message": "this slug is already taken" }]),
        "{body}"
    );
    let text = body.to_string();
    for secret in ["cedar", "Cedar"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    app.stop().await
}

#[tokio::test]
async fn messages_name_the_callers_own_field() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.client_admin_token();
    let environment = app
        .query(
            &token,
            "{ environments(first: 1) { edges { node { id } } } }",
            Value::Null,
        )
        .await?["environments"]["edges"][0]["node"]["id"]
        .clone();
    let (_, body) = app
        .mutation(
            &token,
            "createSystem",
            "CreateSystemInput",
            &json!({ "environmentId": environment, "name": "X-1", "kind": "SERVER", "attributes": "str" }),
            "system { id }",
        )
        .await?;
    assert_eq!(
        body["data"]["createSystem"]["userErrors"],
        json!([{ "field": ["input", "attributes"], "code": "INVALID", "message": "`attributes` must be a JSON object" }]),
        "{body}"
    );
    let (_, body) = app
        .mutation(
            &token,
            "recordChange",
            "RecordChangeInput",
            &json!({ "environmentId": environment, "summary": "s", "category": "CONFIGURATION", "details": [1] }),
            "changeLogEntry { id }",
        )
        .await?;
    assert_eq!(
        body["data"]["recordChange"]["userErrors"],
        json!([{ "field": ["input", "details"], "code": "INVALID", "message": "`details` must be a JSON object" }]),
        "{body}"
    );
    app.stop().await
}
