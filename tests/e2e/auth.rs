//! Tokens: missing, malformed, expired, badly signed, naming nobody, or claiming too much.

use std::time::{SystemTime, UNIX_EPOCH};

use entities::enums::Role;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use tests::{TEST_JWT_SECRET, TestApp};

const QUERY: &str = "{ viewer { role person { displayName } } }";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after the epoch")
        .as_secs()
}

fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("test tokens sign")
}

async fn assert_refused(
    app: &TestApp,
    token: Option<&str>,
    status: u16,
    code: &str,
    message: &str,
) -> anyhow::Result<()> {
    let (actual, body) = app.graphql(token, QUERY, Value::Null).await?;
    assert_eq!(actual, status, "{body}");
    assert!(body.get("data").is_none(), "no data on refusal: {body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], code, "{body}");
    assert_eq!(body["errors"][0]["message"], message, "{body}");
    Ok(())
}

#[tokio::test]
async fn a_valid_token_reaches_its_viewer() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let data = app
        .query(&app.client_admin_token(), QUERY, Value::Null)
        .await?;
    assert_eq!(
        data,
        json!({ "viewer": { "role": "ADMIN", "person": { "displayName": "Dana Whitfield" } } })
    );
    app.stop().await
}

#[tokio::test]
async fn a_missing_or_malformed_header_is_unauthenticated() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    assert_refused(
        &app,
        None,
        401,
        "UNAUTHENTICATED",
        "missing `Authorization: Bearer <token>` header",
    )
    .await?;
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .json(&json!({ "query": QUERY }))
        .send()
        .await?;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"tandem\""
    );
    let body = response.json::<Value>().await?;
    assert_eq!(
        body["errors"][0]["message"],
        "the Authorization header must be `Bearer <token>`"
    );
    assert_refused(
        &app,
        Some("not-a-jwt"),
        401,
        "UNAUTHENTICATED",
        "token is malformed",
    )
    .await?;
    app.stop().await
}

#[tokio::test]
async fn an_expired_token_is_unauthenticated() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (sub, org) = api::demo::CLIENT_IT_ADMIN;
    let expired = sign(
        &json!({ "sub": sub, "org": org, "role": "ADMIN", "exp": now() - 3600 }),
        TEST_JWT_SECRET,
    );
    assert_refused(
        &app,
        Some(&expired),
        401,
        "UNAUTHENTICATED",
        "token has expired",
    )
    .await?;
    app.stop().await
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_unauthenticated() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (sub, org) = api::demo::CLIENT_IT_ADMIN;
    let forged = sign(
        &json!({ "sub": sub, "org": org, "role": "ADMIN", "exp": now() + 3600 }),
        "another-secret-another-secret-0123456789",
    );
    assert_refused(
        &app,
        Some(&forged),
        401,
        "UNAUTHENTICATED",
        "token signature is invalid",
    )
    .await?;
    app.stop().await
}

#[tokio::test]
async fn a_token_without_expiry_or_with_bad_claims_is_unauthenticated() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (sub, org) = api::demo::CLIENT_IT_ADMIN;
    let no_exp = sign(
        &json!({ "sub": sub, "org": org, "role": "ADMIN" }),
        TEST_JWT_SECRET,
    );
    assert_refused(
        &app,
        Some(&no_exp),
        401,
        "UNAUTHENTICATED",
        "token lacks the required claim `exp`",
    )
    .await?;
    let bad_role = sign(
        &json!({ "sub": sub, "org": org, "role": "ROOT", "exp": now() + 60 }),
        TEST_JWT_SECRET,
    );
    assert_refused(
        &app,
        Some(&bad_role),
        401,
        "UNAUTHENTICATED",
        "token claim `role` must be one of ADMIN, MEMBER, VIEWER, INTEGRATION",
    )
    .await?;
    let no_org = sign(
        &json!({ "sub": sub, "role": "ADMIN", "exp": now() + 60 }),
        TEST_JWT_SECRET,
    );
    assert_refused(
        &app,
        Some(&no_org),
        401,
        "UNAUTHENTICATED",
        "token lacks the required claim `org`",
    )
    .await?;
    app.stop().await
}

#[tokio::test]
async fn a_token_naming_nobody_is_unauthenticated() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let unknown_org = app.token("demo|harbor-it-admin", "no-such-org", Role::Admin);
    assert_refused(
        &app,
        Some(&unknown_org),
        401,
        "UNAUTHENTICATED",
        "token names an unknown organization `no-such-org`",
    )
    .await?;
    // A real person, but of another organization than the token claims.
    let wrong_org = app.token("demo|harbor-it-admin", "cedar-pine", Role::Admin);
    assert_refused(
        &app,
        Some(&wrong_org),
        401,
        "UNAUTHENTICATED",
        "token subject is not a member of organization `cedar-pine`",
    )
    .await?;
    app.stop().await
}

#[tokio::test]
async fn a_token_may_not_claim_more_than_its_subject_holds() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let escalated = app.token("demo|harbor-compliance", "harbor-health", Role::Admin);
    assert_refused(
        &app,
        Some(&escalated),
        403,
        "FORBIDDEN",
        "token claims role ADMIN but its subject holds VIEWER",
    )
    .await?;
    // Claiming less is fine.
    let data = app
        .query(
            &app.token("demo|harbor-it-tech", "harbor-health", Role::Viewer),
            QUERY,
            Value::Null,
        )
        .await?;
    assert_eq!(data["viewer"]["role"], "VIEWER");
    app.stop().await
}
