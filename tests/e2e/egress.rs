//! Outbound calls go only where they should: vendor base URLs are `https` at public addresses
//! unless the operator allows private ones (`allow_private_vendor_addresses`), checked when an
//! integration is saved and again when the vendor is called (a name resolving to loopback);
//! redirects are not followed; and `testIntegration` answers in seconds with one uniform
//! message for every failure to get an answer, never repeating what the remote host said.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use entities::enums::SyncStatus;
use integrations::egress::Egress;
use integrations::mock;
use integrations::secrets::SecretKey;
use sea_orm::{EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tests::{TestApp, test_server_settings};

const CREATE: &str = "mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { integration { id baseUrl } userErrors { field code message } } }";
const UPDATE: &str = "mutation($input: UpdateIntegrationInput!) { updateIntegration(input: $input) { integration { baseUrl } userErrors { field code message } } }";
const TEST: &str = "mutation($input: IntegrationActionInput!) { testIntegration(input: $input) { ok message userErrors { code } } }";

/// Base URLs at loopback, private, link-local (cloud metadata), shared and IPv6 loopback
/// addresses, over https so that only the address is at fault.
const PRIVATE_URLS: &[&str] = &[
    "https://127.0.0.1:8443",
    "https://10.0.0.5",
    "https://172.16.4.1",
    "https://192.168.1.10/api",
    "https://169.254.169.254/latest/meta-data",
    "https://100.64.0.1",
    "https://[::1]:5432",
    "https://[fd00::1]",
    "https://[::ffff:127.0.0.1]",
];

/// A server with the demo data that calls only public https vendors (the default).
async fn strict_app() -> anyhow::Result<TestApp> {
    let mut settings = test_server_settings();
    settings.allow_private_vendor_addresses = false;
    TestApp::spawn_with(settings, true).await
}

/// Creates a `kind` integration at `base_url` as `token`; answers the payload.
async fn create(
    app: &TestApp,
    token: &str,
    name: &str,
    kind: &str,
    base_url: &str,
    (settings, credentials): (Value, Value),
) -> anyhow::Result<Value> {
    let created = app
        .query(
            token,
            CREATE,
            json!({ "input": { "name": name, "kind": kind, "baseUrl": base_url, "settings": settings, "credentials": credentials } }),
        )
        .await?;
    Ok(created["createIntegration"].clone())
}

/// Creates a `kind` integration (ConnectWise or NinjaOne, with the mocks' settings and
/// credentials) at `base_url` (it must be accepted), runs
/// `testIntegration` on it, and answers its payload and how long it took.
async fn tested(app: &TestApp, kind: &str, base_url: &str) -> anyhow::Result<(Value, Duration)> {
    let token = app.provider_admin_token();
    let configuration = match kind {
        "NINJAONE" => mock::ninjaone::configuration(),
        _ => mock::connectwise::configuration(),
    };
    let name = format!("{kind} at {base_url}");
    let created = create(app, &token, &name, kind, base_url, configuration).await?;
    assert_eq!(created["userErrors"], json!([]), "{created}");
    let id = created["integration"]["id"].clone();
    let started = Instant::now();
    let test = app
        .query(&token, TEST, json!({ "input": { "id": id } }))
        .await?;
    Ok((test["testIntegration"].clone(), started.elapsed()))
}

/// Serves every path with `status`, `headers` and `body`.
async fn answering(
    status: StatusCode,
    headers: Vec<(header::HeaderName, String)>,
    body: &'static str,
) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let router = Router::new().fallback(move || {
        let headers = headers.clone();
        async move {
            let mut response = (status, body).into_response();
            for (name, value) in headers {
                response
                    .headers_mut()
                    .insert(name, value.parse().expect("a header value"));
            }
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            );
            response
        }
    });
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(url)
}

/// A listener that counts the connections made to it and answers none of them.
async fn counting() -> anyhow::Result<(u16, Arc<AtomicUsize>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    Ok((port, connections))
}

fn assert_invalid_base_url(payload: &Value, context: &str) {
    assert_eq!(payload["integration"], Value::Null, "{context}: {payload}");
    assert_eq!(
        payload["userErrors"][0]["field"],
        json!(["input", "baseUrl"]),
        "{context}: {payload}"
    );
    assert_eq!(
        payload["userErrors"][0]["code"], "INVALID",
        "{context}: {payload}"
    );
}

#[tokio::test]
async fn private_addresses_and_http_are_refused_at_create_and_update_without_the_flag()
-> anyhow::Result<()> {
    let app = strict_app().await?;
    let provider = app.provider_admin_token();
    // Any admin may try, a client's included.
    let client = app.client_admin_token();
    let before = app.count("integrations").await?;
    for (index, url) in PRIVATE_URLS.iter().enumerate() {
        let token = if index % 2 == 0 { &provider } else { &client };
        let created = create(
            &app,
            token,
            &format!("private {index}"),
            "CONNECTWISE_MANAGE",
            url,
            (json!({}), json!({})),
        )
        .await?;
        assert_invalid_base_url(&created, url);
        let message = created["userErrors"][0]["message"].as_str().unwrap();
        assert!(message.contains("not a public address"), "{url}: {message}");
    }
    let plain = create(
        &app,
        &provider,
        "plain http",
        "CONNECTWISE_MANAGE",
        "http://api.example.com",
        (json!({}), json!({})),
    )
    .await?;
    assert_invalid_base_url(&plain, "http");
    let message = plain["userErrors"][0]["message"].as_str().unwrap();
    assert!(message.contains("https"), "{message}");
    assert_eq!(
        app.count("integrations").await?,
        before,
        "nothing was stored"
    );

    // A public https address is accepted; moving it to a private one is refused.
    let created = create(
        &app,
        &provider,
        "public",
        "CONNECTWISE_MANAGE",
        "https://api-na.myconnectwise.net",
        (json!({}), json!({})),
    )
    .await?;
    assert_eq!(created["userErrors"], json!([]), "{created}");
    let id = created["integration"]["id"].clone();
    for url in PRIVATE_URLS.iter().chain(&["http://api.example.com"]) {
        let updated = app
            .query(
                &provider,
                UPDATE,
                json!({ "input": { "id": id, "baseUrl": url } }),
            )
            .await?;
        assert_invalid_base_url(&updated["updateIntegration"], url);
    }
    let stored = app
        .query(
            &provider,
            "query($id: ID!) { node(id: $id) { ... on Integration { baseUrl } } }",
            json!({ "id": id }),
        )
        .await?;
    assert_eq!(
        stored["node"]["baseUrl"], "https://api-na.myconnectwise.net",
        "{stored}"
    );
    app.stop().await
}

#[tokio::test]
async fn private_addresses_and_http_are_accepted_with_the_flag() -> anyhow::Result<()> {
    // The test settings allow private vendor addresses, as an on-premises install would.
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let mut first_id = None;
    for (index, url) in PRIVATE_URLS
        .iter()
        .chain(&["http://10.0.0.5:8080", "http://[::1]:5432"])
        .enumerate()
    {
        let created = create(
            &app,
            &token,
            &format!("on premises {index}"),
            "CONNECTWISE_MANAGE",
            url,
            (json!({}), json!({})),
        )
        .await?;
        assert_eq!(created["userErrors"], json!([]), "{url}: {created}");
        assert_eq!(created["integration"]["baseUrl"], url.trim_end_matches('/'));
        first_id.get_or_insert(created["integration"]["id"].clone());
    }
    let updated = app
        .query(
            &token,
            UPDATE,
            json!({ "input": { "id": first_id, "baseUrl": "http://169.254.169.254" } }),
        )
        .await?;
    assert_eq!(
        updated["updateIntegration"]["userErrors"],
        json!([]),
        "{updated}"
    );
    assert_eq!(
        updated["updateIntegration"]["integration"]["baseUrl"],
        "http://169.254.169.254"
    );
    // Other schemes stay refused.
    let ftp = create(
        &app,
        &token,
        "ftp",
        "CONNECTWISE_MANAGE",
        "ftp://10.0.0.5",
        (json!({}), json!({})),
    )
    .await?;
    assert_invalid_base_url(&ftp, "ftp");
    app.stop().await
}

#[tokio::test]
async fn a_name_that_resolves_to_loopback_is_refused_when_the_vendor_is_called()
-> anyhow::Result<()> {
    let app = strict_app().await?;
    let server =
        mock::connectwise::start(mock::connectwise::fixture(2, 3, chrono::Utc::now())).await;
    let port = url::Url::parse(&server.url)?.port().unwrap();
    // A name passes when saved (DNS can change); it is judged when resolved.
    let base_url = format!("https://localhost:{port}");
    let (test, elapsed) = tested(&app, "CONNECTWISE_MANAGE", &base_url).await?;
    assert_eq!(test["ok"], false, "{test}");
    assert_eq!(
        test["message"],
        format!("could not reach the vendor at localhost:{port}"),
        "{test}"
    );
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert_eq!(server.state.requests(), 0, "the mock was never reached");

    // A sync run under the same policy fails the same way and stores nothing.
    let id = entities::integration::Entity::find()
        .filter(entities::integration::COLUMN.base_url.eq(base_url.clone()))
        .one(&app.db)
        .await?
        .expect("the integration")
        .id;
    let systems = app.count("systems").await?;
    let tickets = app.count("tickets").await?;
    let mut options = tests::sync_options();
    options.egress = Egress::PUBLIC_ONLY;
    let key = SecretKey::parse(tests::TEST_SECRET_KEY)?;
    let refused = api::sync::run(&app.db, Some(&key), id, &options, &|_| {})
        .await
        .expect_err("the vendor is not reached");
    let expected = format!("lookups: could not reach the vendor at localhost:{port}");
    assert_eq!(refused.to_string(), expected);
    let runs = entities::sync_run::Entity::find()
        .filter(entities::sync_run::COLUMN.integration_id.eq(id))
        .all(&app.db)
        .await?;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].status, SyncStatus::Failed);
    assert_eq!(runs[0].error.as_deref(), Some(expected.as_str()));
    assert_eq!(app.count("systems").await?, systems);
    assert_eq!(app.count("tickets").await?, tickets);
    assert_eq!(app.count("sync_run_errors").await?, 0);
    assert_eq!(server.state.requests(), 0);
    app.stop().await
}

#[tokio::test]
async fn redirects_are_not_followed() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (port, connections) = counting().await?;
    let vendor = answering(
        StatusCode::FOUND,
        vec![(
            header::LOCATION,
            format!("http://127.0.0.1:{port}/latest/meta-data"),
        )],
        "",
    )
    .await?;
    let (test, _) = tested(&app, "CONNECTWISE_MANAGE", &vendor).await?;
    assert_eq!(test["ok"], false, "{test}");
    assert_eq!(
        test["message"],
        "the vendor answered with a redirect (302), which is not followed; check `baseUrl`"
    );
    assert!(!test["message"].as_str().unwrap().contains("meta-data"));
    // Nor for a token request.
    let (test, _) = tested(&app, "NINJAONE", &vendor).await?;
    assert_eq!(test["ok"], false, "{test}");
    assert_eq!(
        test["message"],
        "the vendor answered with a redirect (302), which is not followed; check `baseUrl`"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "the redirect target was never called"
    );
    app.stop().await
}

#[tokio::test]
async fn what_the_remote_host_said_is_never_repeated() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let marker = "MARKER-7f3a";
    let refusing = answering(
        StatusCode::UNAUTHORIZED,
        Vec::new(),
        r#"{"message":"MARKER-7f3a: postgres at 10.1.2.3 says hello"}"#,
    )
    .await?;
    let (test, _) = tested(&app, "CONNECTWISE_MANAGE", &refusing).await?;
    assert_eq!(test["ok"], false, "{test}");
    assert_eq!(test["message"], "the vendor refused the credentials (401)");

    let failing = answering(
        StatusCode::INTERNAL_SERVER_ERROR,
        Vec::new(),
        "<html>MARKER-7f3a Redis 7.2 ready</html>",
    )
    .await?;
    let (test, _) = tested(&app, "CONNECTWISE_MANAGE", &failing).await?;
    assert_eq!(test["message"], "the vendor answered 500", "{test}");

    // An OAuth vendor's token endpoint: neither its `error` nor its description comes back.
    let oauth = answering(
        StatusCode::BAD_REQUEST,
        Vec::new(),
        r#"{"error":"invalid_client","error_description":"MARKER-7f3a: no such client"}"#,
    )
    .await?;
    let (test, _) = tested(&app, "NINJAONE", &oauth).await?;
    assert_eq!(test["ok"], false, "{test}");
    assert_eq!(
        test["message"],
        "the vendor refused the credentials (the token endpoint answered 400)"
    );
    let text = test["message"].as_str().unwrap();
    assert!(!text.contains(marker) && !text.contains("invalid_client"));
    app.stop().await
}

#[tokio::test]
async fn every_failure_to_get_an_answer_reads_the_same_and_comes_back_within_seconds()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    // A port nobody listens on: the connection is refused at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?;
    let closed_port = closed.local_addr()?.port();
    drop(closed);
    let (test, _) = tested(
        &app,
        "CONNECTWISE_MANAGE",
        &format!("http://127.0.0.1:{closed_port}"),
    )
    .await?;
    assert_eq!(test["ok"], false, "{test}");
    assert_eq!(
        test["message"],
        format!("could not reach the vendor at 127.0.0.1:{closed_port}")
    );

    // A listener that never accepts: the kernel completes the handshake and nothing answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0")?;
    let silent_port = silent.local_addr()?.port();
    for kind in ["CONNECTWISE_MANAGE", "NINJAONE"] {
        let (test, elapsed) =
            tested(&app, kind, &format!("http://127.0.0.1:{silent_port}")).await?;
        assert_eq!(test["ok"], false, "{kind}: {test}");
        assert_eq!(
            test["message"],
            format!("could not reach the vendor at 127.0.0.1:{silent_port}"),
            "{kind}"
        );
        assert!(
            elapsed < Duration::from_secs(6),
            "{kind}: testIntegration took {elapsed:?}"
        );
    }
    drop(silent);
    app.stop().await
}
