//! Directory mutations for admins: a provider onboards a client, its teams and people.

use entities::enums::Role;
use serde_json::{Value, json};
use tests::TestApp;

async fn mutate(
    app: &TestApp,
    token: &str,
    name: &str,
    input: Value,
    selection: &str,
) -> anyhow::Result<Value> {
    let input_type = match name {
        "addTeamMember" | "removeTeamMember" => "TeamMembershipInput".to_owned(),
        _ => format!("{}{}Input", name[..1].to_uppercase(), &name[1..]),
    };
    let query = format!(
        "mutation($input: {input_type}!) {{ {name}(input: $input) {{ {selection} userErrors {{ field code message }} }} }}"
    );
    Ok(app.query(token, &query, json!({ "input": input })).await?[name].clone())
}

fn codes(payload: &Value) -> Vec<String> {
    payload["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["code"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_provider_onboards_a_client_with_teams_and_people_who_can_sign_in() -> anyhow::Result<()>
{
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let payload = mutate(&app, &provider, "createClientOrganization", json!({ "name": "Oak Dental", "slug": "oak-dental", "operatingModel": "CO_MANAGED", "startsOn": "2026-01-01" }), "organization { id slug kind }").await?;
    assert!(codes(&payload).is_empty(), "{payload}");
    let organization = payload["organization"]["id"].clone();
    assert_eq!(payload["organization"]["kind"], "CLIENT");
    let again = mutate(&app, &provider, "createClientOrganization", json!({ "name": "Oak", "slug": "oak-dental", "operatingModel": "CO_MANAGED", "startsOn": "2026-01-01" }), "organization { id }").await?;
    assert_eq!(codes(&again), ["TAKEN"]);
    let bad = mutate(&app, &provider, "createClientOrganization", json!({ "name": "Oak", "slug": "Oak Dental!", "operatingModel": "CO_MANAGED", "startsOn": "2026-01-01" }), "organization { id }").await?;
    assert_eq!(codes(&bad), ["INVALID"]);

    let team = mutate(
        &app,
        &provider,
        "createTeam",
        json!({ "organizationId": organization, "name": "Front office IT" }),
        "team { id name organization { slug } }",
    )
    .await?;
    assert_eq!(team["team"]["organization"]["slug"], "oak-dental");
    let person = mutate(&app, &provider, "createPerson", json!({ "organizationId": organization, "subject": "oak|admin", "displayName": "Ida Oak", "email": "ida@oak.example", "role": "ADMIN" }), "person { id role }").await?;
    assert!(codes(&person).is_empty(), "{person}");
    // From its first admin on, the client manages its own people; the provider no longer may.
    let oak = app.token("oak|admin", "oak-dental", Role::Admin);
    let provider_again = app
        .query(&provider, "mutation($input: CreatePersonInput!) { createPerson(input: $input) { person { id } } }", json!({ "input": { "organizationId": organization, "subject": "oak|second", "displayName": "Second", "role": "ADMIN" } }))
        .await;
    assert!(provider_again.is_err(), "{provider_again:?}");
    let duplicate = mutate(&app, &oak, "createPerson", json!({ "organizationId": organization, "subject": "oak|admin", "displayName": "Again", "email": "not-an-email", "role": "VIEWER" }), "person { id }").await?;
    assert_eq!(codes(&duplicate), ["INVALID", "TAKEN"]);
    let member = mutate(
        &app,
        &oak,
        "addTeamMember",
        json!({ "teamId": team["team"]["id"], "personId": person["person"]["id"] }),
        "team { members { nodes { displayName } } }",
    )
    .await?;
    assert_eq!(
        member["team"]["members"]["nodes"],
        json!([{ "displayName": "Ida Oak" }])
    );
    // Adding twice is a no-op, so retries are safe.
    let member = mutate(
        &app,
        &oak,
        "addTeamMember",
        json!({ "teamId": team["team"]["id"], "personId": person["person"]["id"] }),
        "team { members { nodes { displayName } } }",
    )
    .await?;
    assert_eq!(
        member["team"]["members"]["nodes"].as_array().map(Vec::len),
        Some(1)
    );

    // The new person signs in and sees their organization and its provider relationship.
    let data = app.query(&oak, "{ viewer { organization { slug } } engagements { edges { node { operatingModel active provider { slug } } } } }", Value::Null).await?;
    assert_eq!(data["viewer"]["organization"]["slug"], "oak-dental");
    assert_eq!(
        data["engagements"]["edges"][0]["node"]["provider"]["slug"],
        "northwind-msp"
    );

    // A client cannot create clients, and cannot manage another tenant's teams.
    let payload = mutate(&app, &oak, "createClientOrganization", json!({ "name": "X", "slug": "x-corp", "operatingModel": "CO_MANAGED", "startsOn": "2026-01-01" }), "organization { id }").await?;
    assert_eq!(codes(&payload), ["INVALID_STATE"]);
    let harbor_team = app
        .query(
            &app.client_admin_token(),
            "{ teams(first: 1) { edges { node { id } } } }",
            Value::Null,
        )
        .await?["teams"]["edges"][0]["node"]["id"]
        .clone();
    let payload = mutate(
        &app,
        &oak,
        "updateTeam",
        json!({ "id": harbor_team, "name": "Hijacked" }),
        "team { id }",
    )
    .await?;
    assert_eq!(codes(&payload), ["NOT_FOUND"]);

    // Deactivating a person stops their tokens; an admin cannot deactivate themselves.
    let payload = mutate(
        &app,
        &oak,
        "updatePerson",
        json!({ "id": person["person"]["id"], "active": false }),
        "person { active }",
    )
    .await?;
    assert_eq!(codes(&payload), ["INVALID_STATE"]);
    // Nor may the provider, now that the client has its own admin.
    let (_, refused) = app
        .graphql(
            Some(&provider),
            "mutation($input: UpdatePersonInput!) { updatePerson(input: $input) { person { active } } }",
            json!({ "input": { "id": person["person"]["id"], "active": false } }),
        )
        .await?;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
    let tech = mutate(&app, &oak, "createPerson", json!({ "organizationId": organization, "subject": "oak|tech", "displayName": "Tom Oak", "role": "MEMBER" }), "person { id }").await?;
    let tech_token = app.token("oak|tech", "oak-dental", Role::Member);
    let (status, _) = app
        .graphql(Some(&tech_token), "{ viewer { role } }", Value::Null)
        .await?;
    assert_eq!(status, 200);
    let payload = mutate(
        &app,
        &oak,
        "updatePerson",
        json!({ "id": tech["person"]["id"], "active": false }),
        "person { active }",
    )
    .await?;
    assert_eq!(payload["person"]["active"], false);
    let (status, _) = app
        .graphql(Some(&tech_token), "{ viewer { role } }", Value::Null)
        .await?;
    assert_eq!(status, 401);
    app.stop().await
}

#[tokio::test]
async fn engagement_periods_do_not_overlap_and_end_on_a_day() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let harbor = app
        .query(
            &provider,
            "{ organizations(filter: { kind: CLIENT }) { edges { node { id slug } } } }",
            Value::Null,
        )
        .await?;
    let harbor = harbor["organizations"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|edge| edge["node"]["slug"] == "harbor-health")
        .unwrap()["node"]["id"]
        .clone();
    let overlapping = mutate(
        &app,
        &provider,
        "createEngagement",
        json!({ "clientId": harbor, "operatingModel": "FULLY_MANAGED", "startsOn": "2027-01-01" }),
        "engagement { id }",
    )
    .await?;
    assert_eq!(codes(&overlapping), ["INVALID_STATE"], "{overlapping}");

    let today = chrono::Utc::now().date_naive();
    let current = app.query(&provider, &format!("{{ engagements(filter: {{ activeOn: \"{today}\" }}) {{ edges {{ node {{ id client {{ slug }} }} }} }} }}"), Value::Null).await?;
    let current = current["engagements"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|edge| edge["node"]["client"]["slug"] == "harbor-health")
        .unwrap()["node"]["id"]
        .clone();
    let ended = mutate(
        &app,
        &provider,
        "endEngagement",
        json!({ "id": current, "endsOn": "2027-01-01" }),
        "engagement { endsOn }",
    )
    .await?;
    assert_eq!(ended["engagement"]["endsOn"], "2027-01-01");
    let next = mutate(
        &app,
        &provider,
        "createEngagement",
        json!({ "clientId": harbor, "operatingModel": "FULLY_MANAGED", "startsOn": "2027-01-01" }),
        "engagement { operatingModel startsOn active }",
    )
    .await?;
    assert!(codes(&next).is_empty(), "{next}");
    assert_eq!(
        next["engagement"]["active"], false,
        "it starts in the future"
    );
    let backwards = mutate(&app, &provider, "createEngagement", json!({ "clientId": harbor, "operatingModel": "FULLY_MANAGED", "startsOn": "2030-01-01", "endsOn": "2029-01-01" }), "engagement { id }").await?;
    assert!(codes(&backwards).contains(&"INVALID".to_owned()));
    app.stop().await
}
