//! Two or more callers changing the same row at the same instant, on both databases: the rule
//! that decides holds for exactly one of them, and the others get a user error, never INTERNAL.
//! (Matrix sign-off and bulk resends have their own races in `write_safety`.)

use entities::enums::Role;
use futures_util::future::join_all;
use serde_json::{Value, json};
use tests::TestApp;

/// How many callers race.
const CALLERS: usize = 6;

/// `CALLERS` copies of one mutation sent at once; each answer's payload, or the test fails on
/// any GraphQL error (INTERNAL included).
async fn race(
    app: &TestApp,
    tokens: &[String],
    name: &str,
    input_type: &str,
    inputs: &[Value],
    selection: &str,
) -> anyhow::Result<Vec<Value>> {
    let calls = tokens
        .iter()
        .zip(inputs)
        .map(|(token, input)| app.mutation(token, name, input_type, input, selection));
    let mut payloads = Vec::new();
    for answer in join_all(calls).await {
        let (status, body) = answer?;
        anyhow::ensure!(
            status == 200 && body.get("errors").is_none(),
            "{name} answered {status}: {body}"
        );
        payloads.push(body["data"][name].clone());
    }
    Ok(payloads)
}

/// How many payloads have no user errors, and the codes of those that have.
fn tally(payloads: &[Value]) -> (usize, Vec<String>) {
    let mut codes = Vec::new();
    let mut done = 0;
    for payload in payloads {
        match payload["userErrors"].as_array().map(Vec::as_slice) {
            Some([]) | None => done += 1,
            Some(errors) => codes.extend(
                errors
                    .iter()
                    .map(|error| error["code"].as_str().unwrap_or("?").to_owned()),
            ),
        }
    }
    (done, codes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 6)]
async fn concurrent_acknowledgements_of_one_alert_let_exactly_one_through() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let open = app
        .query(
            &provider,
            "{ alerts(first: 3, filter: { statuses: [OPEN] }) { edges { node { id } } } }",
            Value::Null,
        )
        .await?;
    let alerts = open["alerts"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    anyhow::ensure!(alerts.len() == 3, "the demo has open alerts: {open}");
    for alert in alerts {
        let input = json!({ "id": alert["node"]["id"], "reason": "on it" });
        let payloads = race(
            &app,
            &vec![provider.clone(); CALLERS],
            "acknowledgeAlert",
            "AlertActionInput",
            &vec![input; CALLERS],
            "alert { status acknowledgedAt }",
        )
        .await?;
        let (done, codes) = tally(&payloads);
        assert_eq!(done, 1, "{payloads:?}");
        assert_eq!(codes, vec!["INVALID_STATE"; CALLERS - 1], "{payloads:?}");
    }
    app.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 6)]
async fn concurrent_creates_of_one_team_name_let_exactly_one_through() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let organization = app
        .query(&harbor, "{ viewer { organization { id } } }", Value::Null)
        .await?["viewer"]["organization"]["id"]
        .clone();
    let teams_before = app.count("teams").await?;
    let input = json!({ "organizationId": organization, "name": "Night shift" });
    let payloads = race(
        &app,
        &vec![harbor.clone(); CALLERS],
        "createTeam",
        "CreateTeamInput",
        &vec![input; CALLERS],
        "team { id }",
    )
    .await?;
    let (done, codes) = tally(&payloads);
    assert_eq!(done, 1, "{payloads:?}");
    assert_eq!(codes, vec!["TAKEN"; CALLERS - 1], "{payloads:?}");
    assert_eq!(app.count("teams").await?, teams_before + 1);
    app.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_admins_deactivating_each_other_at_once_leave_one_admin() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let first = app.client_admin_token();
    let viewer = app
        .query(
            &first,
            "{ viewer { person { id } organization { id slug } } }",
            Value::Null,
        )
        .await?;
    let organization = &viewer["viewer"]["organization"];
    let first_id = viewer["viewer"]["person"]["id"].clone();
    let (_, created) = app
        .mutation(
            &first,
            "createPerson",
            "CreatePersonInput",
            &json!({ "organizationId": organization["id"], "subject": "harbor|second-admin", "displayName": "Second Admin", "role": "ADMIN" }),
            "person { id }",
        )
        .await?;
    let second_id = created["data"]["createPerson"]["person"]["id"].clone();
    let slug = organization["slug"].as_str().unwrap_or_default();
    let second = app.token("harbor|second-admin", slug, Role::Admin);
    let deactivate_second = json!({ "id": second_id, "active": false });
    let deactivate_first = json!({ "id": first_id, "active": false });
    let calls = [
        app.mutation(
            &first,
            "updatePerson",
            "UpdatePersonInput",
            &deactivate_second,
            "person { active }",
        ),
        app.mutation(
            &second,
            "updatePerson",
            "UpdatePersonInput",
            &deactivate_first,
            "person { active }",
        ),
    ];
    let answers = join_all(calls).await;
    let mut through = 0;
    for answer in answers {
        let (_, body) = answer?;
        let deactivated = body["data"]["updatePerson"]["person"]["active"] == json!(false);
        // The loser is refused by the service (FORBIDDEN) or, when the winner committed before
        // its request was authenticated, at the door (UNAUTHENTICATED: a deactivated subject).
        let code = &body["errors"][0]["extensions"]["code"];
        let refused = code == "FORBIDDEN" || code == "UNAUTHENTICATED";
        assert!(deactivated || refused, "{body}");
        through += usize::from(deactivated);
    }
    assert_eq!(through, 1, "exactly one admin deactivated the other");
    // The provider sees the client's people whichever admin is left.
    let active_admins = app
        .query(
            &app.provider_admin_token(),
            &format!(
                "{{ people(first: 100, filter: {{ organizationIds: [\"{}\"] }}) {{ edges {{ node {{ role active }} }} }} }}",
                organization["id"].as_str().unwrap_or_default()
            ),
            Value::Null,
        )
        .await?;
    let admins = active_admins["people"]["edges"]
        .as_array()
        .map(|edges| {
            edges
                .iter()
                .filter(|edge| edge["node"]["role"] == "ADMIN" && edge["node"]["active"] == true)
                .count()
        })
        .unwrap_or_default();
    assert!(
        admins >= 1,
        "the organization keeps an admin: {active_admins}"
    );
    app.stop().await
}
