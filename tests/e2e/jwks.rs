//! RS256 tokens verified against an identity provider's JWKS URL, fetched once and cached.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::get;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tests::{TestApp, test_server_settings};

// A key pair made for these tests only; it protects nothing.
const PRIVATE_KEY: &[u8] = include_bytes!("../fixtures/jwt/rsa-private.pem");
const JWKS: &str = include_str!("../fixtures/jwt/jwks.json");

/// Serves the fixture key set and counts how often it was fetched.
async fn identity_provider() -> anyhow::Result<(url::Url, Arc<AtomicUsize>)> {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&fetches);
    let router = Router::new().route(
        "/.well-known/jwks.json",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { ([("content-type", "application/json")], JWKS) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok((
        format!("http://{address}/.well-known/jwks.json").parse()?,
        fetches,
    ))
}

fn rs256(kid: Option<&str>, subject: &str, organization: &str) -> String {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(
        &header,
        &json!({ "sub": subject, "org": organization, "role": "ADMIN", "exp": exp }),
        &EncodingKey::from_rsa_pem(PRIVATE_KEY).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn tokens_verify_against_cached_jwks_keys() -> anyhow::Result<()> {
    let (url, fetches) = identity_provider().await?;
    let keys = api::auth::JwtKeys::rs256_jwks(url)?;
    let app = TestApp::spawn_with_keys(test_server_settings(), true, keys).await?;
    let (subject, organization) = api::demo::CLIENT_IT_ADMIN;
    let token = rs256(Some("test-key-1"), subject, organization);
    for _ in 0..3 {
        let data = app
            .query(&token, "{ viewer { person { displayName } } }", Value::Null)
            .await?;
        assert_eq!(data["viewer"]["person"]["displayName"], "Dana Whitfield");
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "the key set is cached");

    let cases = [
        (
            rs256(Some("rotated-away"), subject, organization),
            "token is signed with an unknown key",
        ),
        (
            rs256(None, subject, organization),
            "token lacks a key id (`kid`)",
        ),
        (
            app.token(subject, organization, entities::enums::Role::Admin),
            "token must be signed with RS256",
        ),
    ];
    for (token, message) in cases {
        let (status, body) = app
            .graphql(Some(&token), "{ viewer { role } }", Value::Null)
            .await?;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["errors"][0]["message"], message);
    }
    // An unknown key id may trigger a refetch, but not within the retry interval of the last
    // one: a flood of bad tokens cannot hammer the identity provider.
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    app.stop().await
}

#[tokio::test]
async fn an_unreachable_identity_provider_is_a_503_not_a_bad_token() -> anyhow::Result<()> {
    let keys = api::auth::JwtKeys::rs256_jwks("http://127.0.0.1:9/.well-known/jwks.json".parse()?)?;
    let app = TestApp::spawn_with_keys(test_server_settings(), true, keys).await?;
    let (subject, organization) = api::demo::CLIENT_IT_ADMIN;
    let (status, body) = app
        .graphql(
            Some(&rs256(Some("test-key-1"), subject, organization)),
            "{ viewer { role } }",
            Value::Null,
        )
        .await?;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "SERVICE_UNAVAILABLE"
    );
    app.stop().await
}
