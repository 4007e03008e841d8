//! A client's people see, read-only, the provider's integrations that feed their environments and
//! those integrations' sync runs: never credentials, never what a run found about another
//! client's records, never another provider's integrations, and no write.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tests::TestApp;

const LIST: &str = "{ integrations(first: 10) { totalCount edges { node { id name kind hasCredentials
    organization { slug } mappings(first: 5) { nodes { externalCompanyId environment { id name } } }
    syncRuns(first: 10) { totalCount edges { node { id status recordsFailed warnings errors(first: 5) { nodes { externalId reason } } } } } } } }
    syncRuns(first: 50) { totalCount } }";

/// Gives the demo's partial run (3 days ago) a failed record and a warning naming another
/// client's company, as a real run would.
async fn plant_run_findings(app: &TestApp) -> anyhow::Result<uuid::Uuid> {
    let run = entities::sync_run::Entity::find()
        .filter(entities::sync_run::COLUMN.records_failed.eq(1))
        .one(&app.db)
        .await?
        .expect("the demo has a partial run");
    entities::sync_run_error::ActiveModel {
        id: Set(uuid::Uuid::new_v4()),
        sync_run_id: Set(run.id),
        resource: Set("tickets".to_owned()),
        external_id: Set(Some("cedar-ticket-77".to_owned())),
        reason: Set("summary is empty (Cedar & Pine Accounting)".to_owned()),
        occurred_at: Set(run.started_at),
    }
    .insert(&app.db)
    .await?;
    let mut active: entities::sync_run::ActiveModel = run.clone().into();
    active.warnings = Set(Some(
        json!(["company 260 (Cedar & Pine Accounting) has 3 unmapped sites"]).to_string(),
    ));
    active.update(&app.db).await?;
    Ok(run.id)
}

fn run_of<'a>(data: &'a Value, run_gid: &str) -> Option<&'a Value> {
    data["integrations"]["edges"]
        .as_array()?
        .iter()
        .flat_map(|edge| edge["node"]["syncRuns"]["edges"].as_array().unwrap().iter())
        .map(|edge| &edge["node"])
        .find(|node| node["id"] == run_gid)
}

#[tokio::test]
async fn a_client_sees_its_providers_integrations_that_feed_it_read_only() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let run = plant_run_findings(&app).await?;
    let run_gid = api::graphql::ids::encode(api::graphql::ids::NodeType::SyncRun, run).0;

    let provider = app
        .query(&app.provider_admin_token(), LIST, Value::Null)
        .await?;
    let harbor = app
        .query(&app.client_admin_token(), LIST, Value::Null)
        .await?;

    assert_eq!(provider["integrations"]["totalCount"], 2);
    assert_eq!(harbor["integrations"]["totalCount"], 2, "{harbor}");
    assert_eq!(provider["syncRuns"]["totalCount"], 6);
    assert_eq!(harbor["syncRuns"]["totalCount"], 6);
    for edge in harbor["integrations"]["edges"].as_array().unwrap() {
        let node = &edge["node"];
        assert_eq!(node["organization"]["slug"], "northwind-msp");
        assert_eq!(node["hasCredentials"], false);
        // Only Harbor's own environments; Cedar's mapping is not Harbor's to see.
        let mut environments: Vec<&str> = node["mappings"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|mapping| mapping["environment"]["name"].as_str().unwrap())
            .collect();
        environments.sort_unstable();
        assert_eq!(environments, ["Production", "Riverside Clinic"], "{node}");
    }
    // The provider reads what the run found; the client reads the counts, not the records.
    let for_provider = run_of(&provider, &run_gid).expect("the provider sees the run");
    assert_eq!(
        for_provider["errors"]["nodes"][0]["externalId"],
        "cedar-ticket-77"
    );
    assert_eq!(for_provider["warnings"].as_array().unwrap().len(), 1);
    let for_client = run_of(&harbor, &run_gid).expect("the client sees the run");
    assert_eq!(for_client["status"], "PARTIAL");
    assert_eq!(for_client["recordsFailed"], 1);
    assert_eq!(for_client["errors"]["nodes"], json!([]));
    assert_eq!(for_client["warnings"], json!([]));

    // By id too, and as the integration that wrote a change log entry.
    let integration = harbor["integrations"]["edges"][0]["node"]["id"].clone();
    let by_id = app
        .query(
            &app.client_admin_token(),
            "query($i: ID!, $r: ID!) { node(id: $i) { id } integration(id: $i) { name } syncRun(id: $r) { status errors { nodes { reason } } } }",
            json!({ "i": integration, "r": run_gid }),
        )
        .await?;
    assert_eq!(by_id["node"]["id"], integration);
    assert!(by_id["integration"]["name"].is_string());
    assert_eq!(by_id["syncRun"]["errors"]["nodes"], json!([]));
    let written = app
        .query(
            &app.client_admin_token(),
            "{ changeLog(first: 100, filter: { sources: [PSA, RMM] }) { edges { node { recordedBy { kind integration { name } } } } } }",
            Value::Null,
        )
        .await?;
    let by_integrations: Vec<&Value> = written["changeLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|edge| edge["node"]["recordedBy"]["kind"] == "INTEGRATION")
        .collect();
    assert!(!by_integrations.is_empty(), "{written}");
    assert!(
        by_integrations
            .iter()
            .all(|edge| edge["node"]["recordedBy"]["integration"]["name"].is_string()),
        "{written}"
    );
    app.stop().await
}

#[tokio::test]
async fn a_client_cannot_change_or_read_the_vendor_through_its_providers_integration()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let listed = app.query(&harbor, LIST, Value::Null).await?;
    let integration = listed["integrations"]["edges"][0]["node"]["id"].clone();
    let before = tests::dump(&app.db).await?;

    for (mutation, input) in [
        (
            "updateIntegration",
            json!({ "id": integration, "name": "Mine now" }),
        ),
        ("triggerSync", json!({ "id": integration })),
        (
            "mapIntegrationCompany",
            json!({ "integrationId": integration, "externalCompanyId": "999", "environmentId": listed["integrations"]["edges"][0]["node"]["mappings"]["nodes"][0]["environment"]["id"] }),
        ),
        (
            "unmapIntegrationCompany",
            json!({ "integrationId": integration, "externalCompanyId": "250" }),
        ),
    ] {
        let input_type = format!("{}{}Input", mutation[..1].to_uppercase(), &mutation[1..]);
        let query = format!(
            "mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ __typename }} }}"
        );
        let (status, body) = app
            .graphql(Some(&harbor), &query, json!({ "input": input }))
            .await?;
        assert_eq!(status, 200, "{body}");
        let codes: Vec<&str> = body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|error| error["extensions"]["code"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(codes, ["FORBIDDEN"], "{mutation}: {body}");
    }
    let (_, vendor) = app
        .graphql(
            Some(&harbor),
            "query($i: ID!) { integration(id: $i) { vendorCompanies { ok } } }",
            json!({ "i": integration }),
        )
        .await?;
    assert_eq!(
        vendor["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{vendor}"
    );
    assert_eq!(
        tests::dump(&app.db).await?,
        before,
        "a read-only caller changed nothing"
    );
    app.stop().await
}

#[tokio::test]
async fn a_client_whose_environments_no_integration_feeds_sees_none() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let cedar = app.cedar_admin_token();
    let seen = app.query(&cedar, LIST, Value::Null).await?;
    assert_eq!(
        seen["integrations"]["totalCount"], 2,
        "Cedar is fed by both"
    );
    // The provider stops syncing Cedar: Cedar no longer sees its integrations or their runs.
    let ids = app.unmap_cedar().await?;
    assert_eq!(ids.len(), 2);
    let after = app.query(&cedar, LIST, Value::Null).await?;
    assert_eq!(after["integrations"]["totalCount"], 0, "{after}");
    assert_eq!(after["syncRuns"]["totalCount"], 0);
    let by_id = app
        .query(
            &cedar,
            "query($i: ID!) { node(id: $i) { id } integration(id: $i) { id } }",
            json!({ "i": ids[0] }),
        )
        .await?;
    assert_eq!(by_id, json!({ "node": null, "integration": null }));
    // Now unknown to Cedar: a write is NOT_FOUND, as for any id it cannot see.
    let refused = app
        .query(
            &cedar,
            "mutation($input: TriggerSyncInput!) { triggerSync(input: $input) { userErrors { field code } } }",
            json!({ "input": { "id": ids[0] } }),
        )
        .await?;
    assert_eq!(
        refused["triggerSync"]["userErrors"],
        json!([{ "field": ["input", "id"], "code": "NOT_FOUND" }])
    );
    // Harbor still sees both.
    let harbor = app
        .query(&app.client_admin_token(), LIST, Value::Null)
        .await?;
    assert_eq!(harbor["integrations"]["totalCount"], 2);
    app.stop().await
}

#[tokio::test]
async fn a_read_only_client_reads_neither_the_providers_setup_nor_other_clients_records()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let harbor = app.client_admin_token();
    let run = plant_run_findings(&app).await?;
    // A URL stored before base URLs were checked for secrets, and a run that failed.
    let psa = entities::integration::Entity::find()
        .filter(
            entities::integration::COLUMN
                .kind
                .eq(entities::enums::IntegrationKind::ConnectwiseManage),
        )
        .one(&app.db)
        .await?
        .expect("the demo has a PSA");
    let mut active: entities::integration::ActiveModel = psa.clone().into();
    active.base_url =
        Set("https://user:hunter2@psa.example.com/v4_6_release/apis/3.0?token=abc#frag".to_owned());
    active.update(&app.db).await?;
    let mut failed: entities::sync_run::ActiveModel = entities::sync_run::Entity::find_by_id(run)
        .one(&app.db)
        .await?
        .expect("planted")
        .into();
    failed.error = Set(Some(
        "vendor answered 500 for company 252 (Cedar & Pine)".to_owned(),
    ));
    failed.update(&app.db).await?;
    let psa_gid = api::graphql::ids::encode(api::graphql::ids::NodeType::Integration, psa.id).0;
    let run_gid = api::graphql::ids::encode(api::graphql::ids::NodeType::SyncRun, run).0;
    let set = app
        .query(&provider, "mutation($input: SetValueMappingInput!) { setValueMapping(input: $input) { userErrors { message } } }",
            json!({ "input": { "integrationId": psa_gid, "domain": "TICKET_STATUS", "externalValue": "Waiting on vendor", "status": "IN_PROGRESS" } }))
        .await?;
    assert_eq!(set["setValueMapping"]["userErrors"], json!([]), "{set}");

    let read = "query($i: ID!, $r: ID!) { integration(id: $i) { baseUrl pendingRetries valueMappings { nodes { externalValue } } } syncRun(id: $r) { error } }";
    let variables = json!({ "i": psa_gid, "r": run_gid });
    let own = app.query(&provider, read, variables.clone()).await?;
    assert_eq!(
        own["integration"]["baseUrl"],
        "https://user:hunter2@psa.example.com/v4_6_release/apis/3.0?token=abc#frag"
    );
    assert!(own["integration"]["pendingRetries"].is_number(), "{own}");
    assert_eq!(
        own["integration"]["valueMappings"]["nodes"],
        json!([{ "externalValue": "Waiting on vendor" }])
    );
    assert_eq!(
        own["syncRun"]["error"],
        "vendor answered 500 for company 252 (Cedar & Pine)"
    );
    let seen = app.query(&harbor, read, variables).await?;
    assert_eq!(
        seen,
        json!({
            "integration": {
                "baseUrl": "https://psa.example.com/v4_6_release/apis/3.0",
                "pendingRetries": null,
                "valueMappings": { "nodes": [] },
            },
            "syncRun": { "error": "the run failed; the integration's organization sees why" },
        })
    );
    assert!(!seen.to_string().contains("hunter2"));

    // Nor can such a URL be stored any more.
    let refused = app
        .query(&provider, "mutation($input: UpdateIntegrationInput!) { updateIntegration(input: $input) { userErrors { field code } } }",
            json!({ "input": { "id": psa_gid, "baseUrl": "https://user:pw@psa.example.com/api" } }))
        .await?;
    assert_eq!(
        refused["updateIntegration"]["userErrors"],
        json!([{ "field": ["input", "baseUrl"], "code": "INVALID" }])
    );
    app.stop().await
}

#[tokio::test]
async fn a_client_whose_engagement_ended_no_longer_sees_the_providers_integrations()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let harbor = app.client_admin_token();
    let before = app.query(&harbor, LIST, Value::Null).await?;
    assert_eq!(before["integrations"]["totalCount"], 2);
    let integration = before["integrations"]["edges"][0]["node"]["id"].clone();
    let engagements = app
        .query(
            &provider,
            "{ engagements(first: 100) { edges { node { id active client { slug } } } } }",
            Value::Null,
        )
        .await?;
    let today = chrono::Utc::now().date_naive().to_string();
    for edge in engagements["engagements"]["edges"].as_array().unwrap() {
        if edge["node"]["client"]["slug"] == "harbor-health" && edge["node"]["active"] == true {
            let ended = app
                .query(&provider, "mutation($input: EndEngagementInput!) { endEngagement(input: $input) { userErrors { message } } }",
                    json!({ "input": { "id": edge["node"]["id"], "endsOn": today } }))
                .await?;
            assert_eq!(ended["endEngagement"]["userErrors"], json!([]), "{ended}");
        }
    }
    // The mappings still name Harbor's environments, but the provider no longer serves it.
    let after = app.query(&harbor, LIST, Value::Null).await?;
    assert_eq!(after["integrations"]["totalCount"], 0, "{after}");
    assert_eq!(after["syncRuns"]["totalCount"], 0);
    let by_id = app
        .query(
            &harbor,
            "query($i: ID!) { node(id: $i) { id } integration(id: $i) { id } }",
            json!({ "i": integration }),
        )
        .await?;
    assert_eq!(by_id, json!({ "node": null, "integration": null }));
    app.stop().await
}
