//! `/healthz`, `/readyz`, and the HTTP plumbing every route shares.

use serde_json::Value;
use tests::{TestApp, test_server_settings};

#[tokio::test]
async fn healthz_answers_ok_without_a_token() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let response = app.get("/healthz").await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await?["status"], "ok");
    app.stop().await
}

#[tokio::test]
async fn readyz_is_ready_while_the_database_answers_and_not_after_it_is_gone() -> anyhow::Result<()>
{
    let app = TestApp::spawn().await?;
    let response = app.get("/readyz").await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await?["status"], "ready");

    if app.test_db.is_postgres() {
        // The real thing: the database disappears under the running server.
        app.test_db.drop_postgres_database().await?;
    } else {
        // An embedded database cannot vanish under open handles; closing the server's pool is
        // the same failure as seen from the server.
        app.db.close_by_ref().await?;
    }
    let response = app.get("/readyz").await?;
    assert_eq!(response.status(), 503);
    let body = response.json::<Value>().await?;
    assert_eq!(body["status"], "unavailable");
    assert!(
        body["reason"]
            .as_str()
            .is_some_and(|reason| !reason.is_empty()),
        "{body}"
    );
    // Liveness does not depend on the database.
    assert_eq!(app.get("/healthz").await?.status(), 200);
    Ok(())
}

#[tokio::test]
async fn readyz_is_not_ready_on_an_unmigrated_database() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    <migration::Migrator as migration::MigratorTrait>::down(&app.db, Some(1)).await?;
    let response = app.get("/readyz").await?;
    assert_eq!(response.status(), 503);
    let body = response.json::<Value>().await?;
    assert!(
        body["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("schema is behind"),
        "{body}"
    );
    app.stop().await
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_the_callers() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let response = app.get("/healthz").await?;
    let generated = response.headers()["x-request-id"].to_str()?.to_owned();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");

    let response = app
        .client
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "trace-me-42")
        .send()
        .await?;
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
    app.stop().await
}

#[tokio::test]
async fn graphql_errors_name_the_request_id() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.provider_admin_token();
    let (status, body) = app
        .graphql(Some(&token), "{ nosuchfield }", Value::Null)
        .await?;
    assert_eq!(status, 200);
    let extensions = &body["errors"][0]["extensions"];
    assert_eq!(extensions["code"], "GRAPHQL_VALIDATION_FAILED");
    assert_eq!(
        extensions["requestId"].as_str().map(str::len),
        Some(36),
        "{body}"
    );
    app.stop().await
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_with_413() -> anyhow::Result<()> {
    let mut settings = test_server_settings();
    settings.body_limit = 64 * 1024;
    let app = TestApp::spawn_with(settings, false).await?;
    let huge = format!(
        "{{\"query\":\"{{ viewer {{ role }} }}\",\"padding\":\"{}\"}}",
        "x".repeat(100 * 1024)
    );
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth("irrelevant")
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await?;
    assert_eq!(response.status(), 413);
    let body = response.json::<Value>().await?;
    assert_eq!(body["errors"][0]["extensions"]["code"], "PAYLOAD_TOO_LARGE");
    assert_eq!(
        body["errors"][0]["extensions"]["requestId"]
            .as_str()
            .map(str::len),
        Some(36)
    );
    app.stop().await
}

#[tokio::test]
async fn cors_allows_configured_origins_only() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.address))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    let allowed = preflight("https://app.example.com").await?;
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let refused = preflight("https://evil.example.com").await?;
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    app.stop().await
}

#[tokio::test]
async fn graphiql_is_served_to_browsers() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let response = app
        .client
        .get(format!("{}/graphql", app.address))
        .header("accept", "text/html")
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()?
            .starts_with("text/html")
    );
    assert!(response.text().await?.contains("graphiql"));
    app.stop().await
}

#[tokio::test]
async fn the_server_stops_gracefully() -> anyhow::Result<()> {
    let app = TestApp::spawn().await?;
    let address = app.address.clone();
    app.stop().await?;
    let refused = reqwest::get(format!("{address}/healthz")).await;
    assert!(refused.is_err(), "the listener is closed after shutdown");
    Ok(())
}
