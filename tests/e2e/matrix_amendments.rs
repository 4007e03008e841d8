//! Amending the matrix: a draft is edited, a proposal is withdrawn or rejected (back to draft,
//! its approvals no longer count), an agreed entry changes by one change proposal, and every
//! step is in the entry's history, on both databases.

use entities::enums::Role;
use serde_json::{Value, json};
use tests::TestApp;

const ENTRY: &str = "responsibility { id status validFrom validTo notes agreedAt retroactive approvals { organization { slug } } accountableTeam { name } supersedes { id } changes { field before after } history { nodes { action status organization { slug } reason changes { field before after } } } }";

/// Sends mutation `name` with `input` (of type `input_type`) as `token`; the payload, or the
/// test fails on a GraphQL error.
async fn send(
    app: &TestApp,
    token: &str,
    name: &str,
    input_type: &str,
    input: Value,
) -> anyhow::Result<Value> {
    let (status, body) = app.mutation(token, name, input_type, &input, ENTRY).await?;
    anyhow::ensure!(
        status == 200 && body.get("errors").is_none(),
        "{name} answered {status}: {body}"
    );
    Ok(body["data"][name].clone())
}

async fn step(app: &TestApp, token: &str, name: &str, id: &Value) -> anyhow::Result<Value> {
    send(
        app,
        token,
        name,
        "ResponsibilityActionInput",
        json!({ "id": id }),
    )
    .await
}

/// Entry `id` as `token` sees it, with the fields of [`ENTRY`].
async fn read(app: &TestApp, token: &str, id: &Value) -> anyhow::Result<Value> {
    let query = format!(
        "query($id: ID!) {{ node(id: $id) {{ ... on Responsibility {} }} }}",
        &ENTRY["responsibility ".len()..]
    );
    Ok(app.query(token, &query, json!({ "id": id })).await?["node"].clone())
}

fn code(payload: &Value) -> &str {
    payload["userErrors"][0]["code"].as_str().unwrap_or("none")
}

fn actions(entry: &Value) -> Vec<String> {
    entry["history"]["nodes"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|row| row["action"].as_str().unwrap_or("?").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Harbor's production environment, its EHR application server, and the ids of its teams by name.
struct Harbor {
    environment: Value,
    ehr: Value,
    internal_it: Value,
    network_operations: Value,
}

async fn harbor(app: &TestApp, token: &str) -> anyhow::Result<Harbor> {
    let data = app
        .query(token, "{ environments(first: 1) { edges { node { id } } } systems(filter: { text: \"HHP-EHR-APP01\" }) { edges { node { id } } } }", Value::Null)
        .await?;
    // The provider sees its own teams and its clients'.
    let teams = app
        .query(
            &app.provider_admin_token(),
            "{ teams(first: 100) { edges { node { id name } } } }",
            Value::Null,
        )
        .await?;
    let team = |name: &str| {
        teams["teams"]["edges"]
            .as_array()
            .and_then(|edges| edges.iter().find(|edge| edge["node"]["name"] == name))
            .map(|edge| edge["node"]["id"].clone())
            .unwrap_or(Value::Null)
    };
    Ok(Harbor {
        environment: data["environments"]["edges"][0]["node"]["id"].clone(),
        ehr: data["systems"]["edges"][0]["node"]["id"].clone(),
        internal_it: team("Internal IT"),
        network_operations: team("Network Operations"),
    })
}

/// A draft for backups of the EHR server from 2027, by `token`.
async fn draft(app: &TestApp, token: &str, harbor: &Harbor) -> anyhow::Result<Value> {
    let created = send(
        app,
        token,
        "createResponsibility",
        "CreateResponsibilityInput",
        json!({ "environmentId": harbor.environment, "function": "backup_recovery", "systemId": harbor.ehr,
            "responsibleTeamId": harbor.internal_it, "validFrom": "2027-01-01T00:00:00Z", "notes": "first" }),
    )
    .await?;
    anyhow::ensure!(
        created["userErrors"] == json!([]),
        "create refused: {created}"
    );
    Ok(created["responsibility"]["id"].clone())
}

#[tokio::test]
async fn a_draft_is_edited_and_a_rejected_proposal_goes_back_to_draft_with_its_history()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let client = app.client_admin_token();
    let harbor = harbor(&app, &client).await?;
    let id = draft(&app, &provider, &harbor).await?;
    let update = |changes: Value, token: String| {
        let app = &app;
        let id = id.clone();
        async move {
            send(
                app,
                &token,
                "updateResponsibility",
                "UpdateResponsibilityInput",
                json!({ "id": id, "changes": changes }),
            )
            .await
        }
    };

    // An edit changes only what it names, with the checks of a new entry.
    let edited = update(
        json!({ "accountableTeamId": harbor.internal_it, "validTo": "2028-01-01T00:00:00Z" }),
        provider.clone(),
    )
    .await?;
    let entry = &edited["responsibility"];
    assert_eq!(entry["notes"], "first", "{edited}");
    assert_eq!(entry["accountableTeam"]["name"], "Internal IT");
    assert!(
        entry["validTo"]
            .as_str()
            .unwrap_or_default()
            .starts_with("2028-01-01")
    );
    let fields: Vec<&str> = entry["history"]["nodes"][1]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| change["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["accountableTeamId", "validTo"]);
    // Explicit null clears a clearable field; the history keeps what it was.
    let cleared = update(json!({ "notes": null, "validTo": null }), provider.clone()).await?;
    assert_eq!(cleared["responsibility"]["notes"], Value::Null, "{cleared}");
    assert_eq!(cleared["responsibility"]["validTo"], Value::Null);
    assert_eq!(
        cleared["responsibility"]["history"]["nodes"][2]["changes"][1],
        json!({ "field": "notes", "before": "first", "after": null })
    );

    // Hostile input is refused and writes nothing.
    for (changes, field) in [
        (json!({ "notes": "a\u{0}b" }), "notes"),
        (json!({ "notes": "x".repeat(1024 * 1024) }), "notes"),
        (json!({ "validFrom": "9999-01-01T00:00:00Z" }), "validFrom"),
        (json!({ "validTo": "2026-01-01T00:00:00Z" }), "validTo"),
        (json!({ "responsibleTeamId": null }), "responsibleTeamId"),
    ] {
        let refused = update(changes, provider.clone()).await?;
        assert_eq!(
            refused["userErrors"][0]["field"],
            json!(["input", "changes", field]),
            "{refused}"
        );
        assert!(refused["responsibility"].is_null());
    }
    let unchanged = read(&app, &client, &id).await?;
    assert_eq!(actions(&unchanged), ["CREATED", "UPDATED", "UPDATED"]);
    // A lower role, and another tenant's admin, change nothing.
    let member = app.token("demo|harbor-it-admin", "harbor-health", Role::Member);
    let (_, body) = app
        .mutation(
            &member,
            "updateResponsibility",
            "UpdateResponsibilityInput",
            &json!({ "id": id, "changes": { "notes": "member" } }),
            "responsibility { id }",
        )
        .await?;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    let cedar = app.token("demo|cedar-office", "cedar-pine", Role::Admin);
    for (name, input_type, input) in [
        (
            "updateResponsibility",
            "UpdateResponsibilityInput",
            json!({ "id": id, "changes": { "notes": "cedar" } }),
        ),
        (
            "withdrawResponsibility",
            "ResponsibilityActionInput",
            json!({ "id": id }),
        ),
        (
            "rejectResponsibility",
            "RejectResponsibilityInput",
            json!({ "id": id, "reason": "no" }),
        ),
        (
            "proposeResponsibilityChange",
            "ProposeResponsibilityChangeInput",
            json!({ "id": id, "changes": { "notes": "cedar" } }),
        ),
    ] {
        let refused = send(&app, &cedar, name, input_type, input).await?;
        assert_eq!(code(&refused), "NOT_FOUND", "{name}: {refused}");
    }

    // Proposed by the provider, approved by it; then Harbor rejects it with a reason.
    assert_eq!(
        step(&app, &provider, "proposeResponsibility", &id).await?["responsibility"]["status"],
        "PROPOSED"
    );
    let frozen = update(json!({ "notes": "late" }), provider.clone()).await?;
    assert_eq!(code(&frozen), "INVALID_STATE", "only drafts are edited");
    step(&app, &provider, "approveResponsibility", &id).await?;
    let reject = |token: String, reason: &'static str| {
        let app = &app;
        let id = id.clone();
        async move {
            send(
                app,
                &token,
                "rejectResponsibility",
                "RejectResponsibilityInput",
                json!({ "id": id, "reason": reason }),
            )
            .await
        }
    };
    let own = reject(provider.clone(), "changed our mind").await?;
    assert_eq!(
        code(&own),
        "INVALID_STATE",
        "the proposing side withdraws, it does not reject: {own}"
    );
    let silent = reject(client.clone(), "  ").await?;
    assert_eq!(code(&silent), "REQUIRED", "a rejection needs a reason");
    let rejected = reject(client.clone(), "Backups of the EHR stay with the MSP").await?;
    let entry = &rejected["responsibility"];
    assert_eq!(entry["status"], "DRAFT", "{rejected}");
    assert_eq!(
        entry["approvals"],
        json!([]),
        "the provider's approval no longer counts"
    );
    let last = entry["history"]["nodes"]
        .as_array()
        .unwrap()
        .last()
        .unwrap();
    assert_eq!(last["action"], "REJECTED");
    assert_eq!(last["organization"]["slug"], "harbor-health");
    assert_eq!(last["reason"], "Backups of the EHR stay with the MSP");

    // Proposed again, every side signs again.
    step(&app, &provider, "proposeResponsibility", &id).await?;
    let once = step(&app, &provider, "approveResponsibility", &id).await?;
    assert_eq!(once["responsibility"]["status"], "PROPOSED", "{once}");
    let agreed = step(&app, &client, "approveResponsibility", &id).await?;
    assert_eq!(agreed["responsibility"]["status"], "AGREED", "{agreed}");
    assert_eq!(
        actions(&agreed["responsibility"]),
        [
            "CREATED", "UPDATED", "UPDATED", "PROPOSED", "APPROVED", "REJECTED", "PROPOSED",
            "APPROVED", "AGREED"
        ]
    );
    assert!(agreed["responsibility"]["agreedAt"].is_string());
    assert_eq!(agreed["responsibility"]["retroactive"], false);
    let stale = reject(client.clone(), "too late").await?;
    assert_eq!(code(&stale), "INVALID_STATE");

    // Each step still writes its change log entry.
    let log = app.query(&client, "query($id: ID!) { node(id: $id) { ... on Environment { changeLog(filter: { categories: [OWNERSHIP] }) { edges { node { summary } } } } } }", json!({ "id": harbor.environment })).await?;
    let summaries = log["node"]["changeLog"]["edges"].to_string();
    assert!(
        summaries.contains("rejected the proposed matrix entry"),
        "{summaries}"
    );
    assert!(
        summaries.contains("Edited draft matrix entry"),
        "{summaries}"
    );
    app.stop().await
}

#[tokio::test]
async fn a_withdrawn_proposal_is_a_draft_again_and_only_its_proposer_withdraws_it()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let client = app.client_admin_token();
    let harbor = harbor(&app, &client).await?;
    let id = draft(&app, &client, &harbor).await?;
    let early = step(&app, &client, "withdrawResponsibility", &id).await?;
    assert_eq!(code(&early), "INVALID_STATE", "a draft is not withdrawn");
    step(&app, &client, "proposeResponsibility", &id).await?;
    step(&app, &client, "approveResponsibility", &id).await?;
    // The other side says no by rejecting, with a reason; it does not withdraw.
    let theirs = step(&app, &provider, "withdrawResponsibility", &id).await?;
    assert_eq!(code(&theirs), "INVALID_STATE", "{theirs}");
    let withdrawn = step(&app, &client, "withdrawResponsibility", &id).await?;
    assert_eq!(
        withdrawn["responsibility"]["status"], "DRAFT",
        "{withdrawn}"
    );
    assert_eq!(withdrawn["responsibility"]["approvals"], json!([]));
    assert_eq!(
        actions(&withdrawn["responsibility"]),
        ["CREATED", "PROPOSED", "APPROVED", "WITHDRAWN"]
    );
    // The revoked approval is kept in the table (history), and a new one may follow it.
    step(&app, &client, "proposeResponsibility", &id).await?;
    let again = step(&app, &client, "approveResponsibility", &id).await?;
    assert_eq!(again["userErrors"], json!([]), "{again}");
    assert_eq!(
        again["responsibility"]["approvals"],
        json!([{ "organization": { "slug": "harbor-health" } }])
    );
    app.stop().await
}

#[tokio::test]
async fn one_change_proposal_hands_a_function_to_the_client() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let client = app.client_admin_token();
    let harbor = harbor(&app, &client).await?;
    let who = "query($id: ID!, $at: DateTime) { whoOwns(environmentId: $id, function: \"patching\", at: $at) { responsibility { id validTo responsibleTeam { name } } } }";
    let current = app
        .query(&client, who, json!({ "id": harbor.environment }))
        .await?["whoOwns"]["responsibility"]
        .clone();
    assert_eq!(current["responsibleTeam"]["name"], "Network Operations");
    let old = current["id"].clone();

    let change = |token: String, id: Value, changes: Value| {
        let app = &app;
        async move {
            send(
                app,
                &token,
                "proposeResponsibilityChange",
                "ProposeResponsibilityChangeInput",
                json!({ "id": id, "changes": changes, "reason": "Harbor's IT takes over patching" }),
            )
            .await
        }
    };
    let nothing = change(provider.clone(), old.clone(), json!({})).await?;
    assert_eq!(
        code(&nothing),
        "INVALID",
        "a change changes something: {nothing}"
    );
    let proposed = change(
        provider.clone(),
        old.clone(),
        json!({ "responsibleTeamId": harbor.internal_it }),
    )
    .await?;
    let successor = proposed["responsibility"].clone();
    assert_eq!(successor["status"], "PROPOSED", "{proposed}");
    assert_eq!(successor["supersedes"]["id"], old);
    assert_eq!(
        successor["changes"][0]["field"], "responsibleTeamId",
        "{successor}"
    );
    assert_eq!(
        successor["changes"][0]["after"], harbor.internal_it,
        "the field-by-field difference names the new team"
    );
    assert_eq!(successor["changes"][0]["before"], harbor.network_operations);
    assert_eq!(actions(&successor), ["CHANGE_PROPOSED"]);
    // One change at a time: a second successor could never be agreed after the first.
    let second = change(
        client.clone(),
        old.clone(),
        json!({ "notes": "a second change" }),
    )
    .await?;
    assert_eq!(code(&second), "INVALID_STATE", "{second}");
    let on_draft = change(
        provider.clone(),
        successor["id"].clone(),
        json!({ "notes": "x" }),
    )
    .await?;
    assert_eq!(
        code(&on_draft),
        "INVALID_STATE",
        "only agreed entries change this way"
    );

    // Until both sides sign, the provider still patches.
    step(&app, &provider, "approveResponsibility", &successor["id"]).await?;
    let still = app
        .query(&client, who, json!({ "id": harbor.environment }))
        .await?;
    assert_eq!(still["whoOwns"]["responsibility"]["id"], old);
    let agreed = step(&app, &client, "approveResponsibility", &successor["id"]).await?;
    let entry = &agreed["responsibility"];
    assert_eq!(entry["status"], "AGREED", "{agreed}");
    assert_eq!(
        entry["validFrom"], entry["agreedAt"],
        "without a new validFrom it takes over when agreed"
    );
    let now = app
        .query(&client, who, json!({ "id": harbor.environment }))
        .await?;
    assert_eq!(now["whoOwns"]["responsibility"]["id"], successor["id"]);
    assert_eq!(
        now["whoOwns"]["responsibility"]["responsibleTeam"]["name"],
        "Internal IT"
    );
    let ended = read(&app, &client, &old).await?;
    assert_eq!(
        ended["validTo"], entry["validFrom"],
        "the old entry ends where the new one starts"
    );
    assert_eq!(
        actions(&ended).last().map(String::as_str),
        Some("SUPERSEDED")
    );
    app.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_withdrawal_and_the_last_approval_at_the_same_instant_are_decided_one_after_the_other()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let client = app.client_admin_token();
    let harbor = harbor(&app, &client).await?;
    let mut outcomes = Vec::new();
    for trial in 0..6 {
        let created = send(&app, &provider, "createResponsibility", "CreateResponsibilityInput",
            json!({ "environmentId": harbor.environment, "function": "backup_recovery", "systemId": harbor.ehr,
                "responsibleTeamId": harbor.internal_it, "validFrom": format!("{}-01-01T00:00:00Z", 2030 + trial),
                "validTo": format!("{}-01-01T00:00:00Z", 2031 + trial) })).await?;
        let id = created["responsibility"]["id"].clone();
        step(&app, &provider, "proposeResponsibility", &id).await?;
        step(&app, &provider, "approveResponsibility", &id).await?;
        // Harbor's last approval against the provider withdrawing, and Harbor rejecting.
        let (approve, withdraw, reject) = tokio::join!(
            step(&app, &client, "approveResponsibility", &id),
            step(&app, &provider, "withdrawResponsibility", &id),
            send(
                &app,
                &client,
                "rejectResponsibility",
                "RejectResponsibilityInput",
                json!({ "id": id, "reason": "race" })
            ),
        );
        let (approve, withdraw, reject) = (approve?, withdraw?, reject?);
        let won: Vec<&str> = [
            ("approve", &approve),
            ("withdraw", &withdraw),
            ("reject", &reject),
        ]
        .into_iter()
        .filter(|(_, payload)| payload["userErrors"] == json!([]))
        .map(|(name, _)| name)
        .collect();
        assert_eq!(
            won.len(),
            1,
            "exactly one decides: {won:?} {approve} {withdraw} {reject}"
        );
        for loser in [&approve, &withdraw, &reject] {
            if loser["userErrors"] != json!([]) {
                assert_eq!(code(loser), "INVALID_STATE", "{loser}");
            }
        }
        let state = read(&app, &client, &id).await?;
        let history = actions(&state);
        match won[0] {
            "approve" => {
                assert_eq!(state["status"], "AGREED");
                assert_eq!(state["approvals"].as_array().map(Vec::len), Some(2));
                assert_eq!(history.last().map(String::as_str), Some("AGREED"));
            }
            other => {
                assert_eq!(state["status"], "DRAFT", "{other}");
                assert_eq!(state["approvals"], json!([]));
                assert!(matches!(
                    history.last().map(String::as_str),
                    Some("WITHDRAWN" | "REJECTED")
                ));
            }
        }
        assert_eq!(
            history.len(),
            4,
            "one step decided, nothing else recorded: {history:?}"
        );
        outcomes.push(won[0]);
    }
    eprintln!("race winners: {outcomes:?}");
    app.stop().await
}

#[tokio::test]
async fn where_one_side_signs_it_rejects_what_the_other_party_proposed() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let cedar = app.token("demo|cedar-office", "cedar-pine", Role::Admin);
    let data = app
        .query(
            &cedar,
            "{ environments(first: 1) { edges { node { id } } } teams { edges { node { id } } } systems(first: 1) { edges { node { id } } } }",
            Value::Null,
        )
        .await?;
    // Tomorrow Cedar is still fully managed: the provider alone signs.
    let input = json!({ "environmentId": data["environments"]["edges"][0]["node"]["id"],
        "function": "line_of_business_applications", "systemId": data["systems"]["edges"][0]["node"]["id"],
        "responsibleTeamId": data["teams"]["edges"][0]["node"]["id"],
        "validFrom": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339() });
    let reject = |token: String, id: Value| {
        let app = &app;
        async move {
            send(
                app,
                &token,
                "rejectResponsibility",
                "RejectResponsibilityInput",
                json!({ "id": id, "reason": "not ours to decide" }),
            )
            .await
        }
    };
    let by_client = send(
        &app,
        &cedar,
        "createResponsibility",
        "CreateResponsibilityInput",
        input.clone(),
    )
    .await?["responsibility"]["id"]
        .clone();
    step(&app, &cedar, "proposeResponsibility", &by_client).await?;
    let not_a_signer = reject(cedar.clone(), by_client.clone()).await?;
    assert_eq!(code(&not_a_signer), "INVALID_STATE", "{not_a_signer}");
    let rejected = reject(provider.clone(), by_client.clone()).await?;
    assert_eq!(rejected["responsibility"]["status"], "DRAFT", "{rejected}");

    let by_provider = send(
        &app,
        &provider,
        "createResponsibility",
        "CreateResponsibilityInput",
        input,
    )
    .await?["responsibility"]["id"]
        .clone();
    step(&app, &provider, "proposeResponsibility", &by_provider).await?;
    let own = reject(provider.clone(), by_provider.clone()).await?;
    assert_eq!(code(&own), "INVALID_STATE", "it withdraws its own: {own}");
    let withdrawn = step(&app, &provider, "withdrawResponsibility", &by_provider).await?;
    assert_eq!(withdrawn["responsibility"]["status"], "DRAFT");
    app.stop().await
}

#[tokio::test]
async fn an_entry_names_at_most_fifty_parties_or_steps() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let client = app.client_admin_token();
    let harbor = harbor(&app, &client).await?;
    let steps: Vec<Value> = (0..51)
        .map(|_| json!({ "teamId": harbor.internal_it, "channel": "PHONE" }))
        .collect();
    let before = app.count("responsibilities").await?;
    let refused = send(
        &app,
        &client,
        "createResponsibility",
        "CreateResponsibilityInput",
        json!({ "environmentId": harbor.environment, "function": "backup_recovery", "systemId": harbor.ehr,
            "responsibleTeamId": harbor.internal_it, "validFrom": "2027-01-01T00:00:00Z", "escalationPath": steps }),
    )
    .await?;
    assert_eq!(
        refused["userErrors"][0]["field"],
        json!(["input", "escalationPath"]),
        "{refused}"
    );
    assert_eq!(code(&refused), "INVALID");
    assert_eq!(
        app.count("responsibilities").await?,
        before,
        "nothing written"
    );
    app.stop().await
}
