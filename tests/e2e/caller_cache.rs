//! The caller cache (`api::auth::cache`): a resolved caller is reused for a few seconds, but a
//! change to a person, an organization or an engagement made through this server applies to the
//! very next request, a token is verified every time, and no caller is ever served to another
//! token.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use entities::enums::Role;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use tests::{TEST_JWT_SECRET, TestApp};

const VIEWER: &str = "{ viewer { role organization { slug } person { displayName } } }";

/// Creates a person in Harbor (the client admin's organization) with `role`; returns their id.
async fn harbor_person(app: &TestApp, subject: &str, role: &str) -> anyhow::Result<Value> {
    let harbor = app.client_admin_token();
    let organization =
        app.query(&harbor, VIEWER_ORG, Value::Null).await?["viewer"]["organization"]["id"].clone();
    let (_, created) = app
        .mutation(
            &harbor,
            "createPerson",
            "CreatePersonInput",
            &json!({ "organizationId": organization, "subject": subject, "displayName": "Temp", "role": role }),
            "person { id }",
        )
        .await?;
    Ok(created["data"]["createPerson"]["person"]["id"].clone())
}

const VIEWER_ORG: &str = "{ viewer { organization { id } } }";

/// `updatePerson` as Harbor's admin; asserts it was accepted.
async fn update_person(app: &TestApp, input: Value) -> anyhow::Result<()> {
    let (status, body) = app
        .mutation(
            &app.client_admin_token(),
            "updatePerson",
            "UpdatePersonInput",
            &input,
            "person { id }",
        )
        .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["updatePerson"]["userErrors"],
        json!([]),
        "{body}"
    );
    Ok(())
}

/// Sends [`VIEWER`] with `token` twice (the second from the cache); returns the answer.
async fn known(app: &TestApp, token: &str) -> anyhow::Result<Value> {
    let first = app.query(token, VIEWER, Value::Null).await?;
    let second = app.query(token, VIEWER, Value::Null).await?;
    assert_eq!(first, second);
    Ok(second)
}

/// The error code of a refused [`VIEWER`] query with `token`.
async fn refusal(app: &TestApp, token: &str) -> anyhow::Result<Value> {
    let (_, body) = app.graphql(Some(token), VIEWER, Value::Null).await?;
    assert!(body.get("data").is_none(), "{body}");
    Ok(body["errors"][0]["extensions"]["code"].clone())
}

#[tokio::test]
async fn a_deactivated_person_is_refused_on_the_very_next_request() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let id = harbor_person(&app, "harbor|leaver", "MEMBER").await?;
    let leaver = app.token("harbor|leaver", api::demo::CLIENT_IT_ADMIN.1, Role::Member);
    known(&app, &leaver).await?;
    update_person(&app, json!({ "id": id, "active": false })).await?;
    assert_eq!(refusal(&app, &leaver).await?, "UNAUTHENTICATED");
    app.stop().await
}

#[tokio::test]
async fn a_demoted_person_is_refused_their_old_role_on_the_very_next_request() -> anyhow::Result<()>
{
    let app = TestApp::spawn_with_demo().await?;
    let id = harbor_person(&app, "harbor|demoted", "MEMBER").await?;
    let member = app.token("harbor|demoted", api::demo::CLIENT_IT_ADMIN.1, Role::Member);
    assert_eq!(known(&app, &member).await?["viewer"]["role"], "MEMBER");
    update_person(&app, json!({ "id": id, "role": "VIEWER" })).await?;
    assert_eq!(refusal(&app, &member).await?, "FORBIDDEN");
    app.stop().await
}

#[tokio::test]
async fn a_renamed_person_is_named_anew_on_the_very_next_request() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let id = harbor_person(&app, "harbor|renamed", "MEMBER").await?;
    let member = app.token("harbor|renamed", api::demo::CLIENT_IT_ADMIN.1, Role::Member);
    assert_eq!(
        known(&app, &member).await?["viewer"]["person"]["displayName"],
        "Temp"
    );
    update_person(&app, json!({ "id": id, "displayName": "Renamed" })).await?;
    assert_eq!(
        app.query(&member, VIEWER, Value::Null).await?["viewer"]["person"]["displayName"],
        "Renamed"
    );
    app.stop().await
}

const CLIENTS: &str = "{ organizations(first: 50) { edges { node { slug } } } }";

fn slugs(data: &Value) -> Vec<String> {
    data["organizations"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|edge| edge["node"]["slug"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_provider_loses_a_client_on_the_very_next_request_after_the_engagement_ends()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    app.query(&provider, CLIENTS, Value::Null).await?;
    let before = slugs(&app.query(&provider, CLIENTS, Value::Null).await?);
    assert!(before.contains(&"harbor-health".to_owned()), "{before:?}");
    let engagements = app
        .query(
            &app.client_admin_token(),
            "{ engagements(first: 10) { edges { node { id active } } } }",
            Value::Null,
        )
        .await?;
    let active = engagements["engagements"]["edges"]
        .as_array()
        .and_then(|edges| edges.iter().find(|edge| edge["node"]["active"] == true))
        .map(|edge| edge["node"]["id"].clone())
        .expect("Harbor has an active engagement");
    let (_, ended) = app
        .mutation(
            &provider,
            "endEngagement",
            "EndEngagementInput",
            &json!({ "id": active, "endsOn": chrono::Utc::now().date_naive().to_string() }),
            "engagement { active }",
        )
        .await?;
    assert_eq!(
        ended["data"]["endEngagement"]["engagement"]["active"], false,
        "{ended}"
    );
    let after = slugs(&app.query(&provider, CLIENTS, Value::Null).await?);
    assert!(!after.contains(&"harbor-health".to_owned()), "{after:?}");
    app.stop().await
}

#[tokio::test]
async fn a_provider_sees_a_new_client_on_the_very_next_request() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    app.query(&provider, CLIENTS, Value::Null).await?;
    let (_, created) = app
        .mutation(
            &provider,
            "createClientOrganization",
            "CreateClientOrganizationInput",
            &json!({ "name": "Oak Dental", "slug": "oak-dental", "operatingModel": "CO_MANAGED", "startsOn": "2026-01-01" }),
            "organization { slug }",
        )
        .await?;
    assert_eq!(
        created["data"]["createClientOrganization"]["organization"]["slug"], "oak-dental",
        "{created}"
    );
    let after = slugs(&app.query(&provider, CLIENTS, Value::Null).await?);
    assert!(after.contains(&"oak-dental".to_owned()), "{after:?}");
    app.stop().await
}

#[tokio::test]
async fn the_cache_never_serves_one_callers_viewer_to_another_token() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (provider_subject, provider_org) = api::demo::PROVIDER_ADMIN;
    let (client_subject, client_org) = api::demo::CLIENT_IT_ADMIN;
    let provider = known(&app, &app.provider_admin_token()).await?;
    assert_eq!(provider["viewer"]["organization"]["slug"], provider_org);
    // The same subject in another tenant names nobody, even with the provider admin cached.
    let elsewhere = app.token(provider_subject, client_org, Role::Admin);
    assert_eq!(refusal(&app, &elsewhere).await?, "UNAUTHENTICATED");
    // Another tenant's caller is theirs, before and after the provider's is cached.
    let client = known(&app, &app.client_admin_token()).await?;
    assert_eq!(client["viewer"]["organization"]["slug"], client_org);
    assert_ne!(
        client["viewer"]["person"], provider["viewer"]["person"],
        "{client}"
    );
    let cedar = app.token("demo|cedar-office", "cedar-pine", Role::Admin);
    assert_eq!(
        known(&app, &cedar).await?["viewer"]["organization"]["slug"],
        "cedar-pine"
    );
    // A lower role of the same person is its own entry.
    let viewer = app.token(provider_subject, provider_org, Role::Viewer);
    assert_eq!(known(&app, &viewer).await?["viewer"]["role"], "VIEWER");
    assert_eq!(
        app.query(&app.provider_admin_token(), VIEWER, Value::Null)
            .await?["viewer"]["role"],
        "ADMIN"
    );
    // A subject that does not exist in the client's organization is refused there.
    let stranger = app.token(client_subject, provider_org, Role::Admin);
    assert_eq!(refusal(&app, &stranger).await?, "UNAUTHENTICATED");
    app.stop().await
}

#[tokio::test]
async fn an_expired_token_is_refused_although_its_caller_is_cached() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (subject, organization) = api::demo::CLIENT_IT_ADMIN;
    // The caller is cached under these claims; a token of the same claims that expired an hour
    // ago (beyond the clock-skew leeway) is still verified, and refused.
    known(&app, &app.client_admin_token()).await?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let expired = jsonwebtoken::encode(
        &Header::default(),
        &json!({ "sub": subject, "org": organization, "role": "ADMIN", "exp": now - 3600 }),
        &EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
    )?;
    assert_eq!(refusal(&app, &expired).await?, "UNAUTHENTICATED");
    app.query(&app.client_admin_token(), VIEWER, Value::Null)
        .await?;
    app.stop().await
}

#[tokio::test]
async fn a_ttl_of_zero_resolves_the_caller_on_every_request() -> anyhow::Result<()> {
    let mut settings = tests::test_server_settings();
    settings.caller_cache_ttl = Duration::ZERO;
    let app = TestApp::spawn_with(settings, true).await?;
    let token = app.provider_admin_token();
    app.query(&token, "{ __typename }", Value::Null).await?;
    let (_, statements) = app
        .query_counting(&token, "{ __typename }", Value::Null)
        .await?;
    assert_eq!(statements.len(), 3, "{statements:#?}");
    app.stop().await
}
