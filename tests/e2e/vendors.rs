//! Autotask, HaloPSA and Datto RMM through the sync engine, on both databases (ConnectWise and
//! NinjaOne have their own module): for each, a full sync over several pages, a no-change run
//! that writes nothing, an incremental change, a 429 storm and a 5xx, a malformed record, token
//! expiry mid-sync (OAuth vendors), a crash between pages then the resume, and a webhook with a
//! bad signature.

use std::sync::Arc;

use api::sync::engine::Progress;
use chrono::{Duration, Utc};
use entities::enums::{SyncStatus, TicketStatus};
use entities::{alert, sync_run_error, system_link, ticket};
use integrations::mock::{self, Fault, MockServer};
use integrations::model::Resource;
use integrations::secrets::SecretKey;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tests::{TestApp, sync as run, sync_options as options, sync_with as run_with};
use uuid::Uuid;

/// Request headers to add.
type Headers = Vec<(&'static str, String)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vendor {
    Autotask,
    Halo,
    Datto,
}

impl Vendor {
    fn kind(self) -> &'static str {
        match self {
            Self::Autotask => "AUTOTASK",
            Self::Halo => "HALOPSA",
            Self::Datto => "DATTO_RMM",
        }
    }

    fn source_prefix(self) -> String {
        format!("{}:%", self.kind())
    }

    /// The vendor ids of the first two companies (mapped to Production and Main Office).
    fn companies(self) -> [String; 2] {
        match self {
            Self::Autotask => ["170".into(), "171".into()],
            Self::Halo => ["57".into(), "58".into()],
            Self::Datto => [mock::datto::uid(0x5173, 0), mock::datto::uid(0x5173, 1)],
        }
    }

    async fn start(self) -> MockServer {
        let at = Utc::now() - Duration::hours(1);
        match self {
            Self::Autotask => mock::autotask::start(mock::autotask::fixture(3, 9, at)).await,
            Self::Halo => mock::halopsa::start(mock::halopsa::fixture(3, 9, at)).await,
            Self::Datto => mock::datto::start(mock::datto::fixture(3, at)).await,
        }
    }

    fn configuration(self) -> (Value, Value) {
        match self {
            Self::Autotask => mock::autotask::configuration(),
            Self::Halo => mock::halopsa::configuration(),
            Self::Datto => mock::datto::configuration(),
        }
    }

    /// Breaks the first record of the resource a sync reads last, returning its external id.
    fn break_a_record(self, server: &MockServer) -> String {
        let mut store = server.state.store();
        match self {
            Self::Autotask => {
                store.tickets[0]["title"] = Value::Null;
                store.tickets[0]["id"].to_string()
            }
            Self::Halo => {
                store.tickets[0]["summary"] = Value::Null;
                store.tickets[0]["id"].to_string()
            }
            Self::Datto => {
                store.devices[0]["hostname"] = Value::Null;
                store.devices[0]["uid"].as_str().unwrap().to_owned()
            }
        }
    }

    /// Changes one record at the vendor, as of now.
    fn change_a_record(self, server: &MockServer) {
        let now = Utc::now();
        let mut store = server.state.store();
        match self {
            Self::Autotask => {
                store.tickets[0] = mock::autotask::ticket(
                    store.tickets[0]["id"].as_i64().unwrap(),
                    170,
                    mock::autotask::status::COMPLETE,
                    now,
                );
            }
            Self::Halo => {
                store.tickets[0] = mock::halopsa::ticket(
                    store.tickets[0]["id"].as_i64().unwrap(),
                    57,
                    mock::halopsa::status::CLOSED,
                    now,
                );
            }
            Self::Datto => {
                // The open alert of site 0's server clears.
                let cleared = store
                    .alerts
                    .iter_mut()
                    .find(|found| found["resolved"] == false)
                    .unwrap();
                cleared["resolved"] = json!(true);
            }
        }
    }

    fn uses_tokens(self) -> bool {
        matches!(self, Self::Halo | Self::Datto)
    }

    /// What a correct webhook request carries, and a forged one.
    fn webhook(self, body: &[u8]) -> (Headers, Headers) {
        match self {
            Self::Autotask => (
                vec![(
                    "x-hook-signature",
                    integrations::webhooks::autotask_signature("hook-secret", body),
                )],
                vec![(
                    "x-hook-signature",
                    integrations::webhooks::autotask_signature("guessed", body),
                )],
            ),
            Self::Halo | Self::Datto => (
                vec![("authorization", "Bearer hook-secret".into())],
                vec![("authorization", "Bearer guessed".into())],
            ),
        }
    }
}

async fn setup(app: &TestApp, vendor: Vendor, server: &MockServer) -> anyhow::Result<Uuid> {
    let token = app.provider_admin_token();
    let (mut settings, mut credentials) = vendor.configuration();
    settings["pageSize"] = json!(2);
    credentials["webhookSecret"] = json!("hook-secret");
    let created = app
        .query(&token, "mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { integration { id } userErrors { message } } }",
            json!({ "input": { "name": format!("{} under test", vendor.kind()), "kind": vendor.kind(), "baseUrl": server.url, "settings": settings, "credentials": credentials } }))
        .await?;
    let id = created["createIntegration"]["integration"]["id"].clone();
    assert!(id.is_string(), "{created}");
    let environments = app
        .query(
            &token,
            "{ environments(first: 100) { edges { node { id name } } } }",
            Value::Null,
        )
        .await?;
    for (company, name) in vendor.companies().iter().zip(["Production", "Main Office"]) {
        let environment = environments["environments"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|edge| edge["node"]["name"] == name)
            .unwrap()["node"]["id"]
            .clone();
        app.query(&token, "mutation($input: MapIntegrationCompanyInput!) { mapIntegrationCompany(input: $input) { userErrors { message } } }",
            json!({ "input": { "integrationId": id, "externalCompanyId": company, "environmentId": environment } }))
            .await?;
    }
    Ok(api::graphql::ids::decode_as(
        "id",
        api::graphql::ids::NodeType::Integration,
        &id.as_str().unwrap().into(),
    )?)
}

async fn systems(app: &TestApp, vendor: Vendor) -> anyhow::Result<u64> {
    Ok(system_link::Entity::find()
        .filter(system_link::Column::Source.like(vendor.source_prefix()))
        .count(&app.db)
        .await?)
}

async fn tickets(app: &TestApp, vendor: Vendor) -> anyhow::Result<Vec<ticket::Model>> {
    Ok(ticket::Entity::find()
        .filter(ticket::Column::ExternalSource.like(vendor.source_prefix()))
        .all(&app.db)
        .await?)
}

async fn exercise(vendor: Vendor) -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let server = vendor.start().await;
    let id = setup(&app, vendor, &server).await?;

    // Full sync, several pages per resource (page size 2); the token expires after a page.
    let state = Arc::clone(&server.state);
    let expire = move |progress: &Progress| {
        if progress.resource == Resource::Devices && progress.pages == 1 {
            state.expire_tokens();
        }
    };
    let first = run_with(&app, id, &expire).await?;
    assert_eq!(
        first.run.status,
        SyncStatus::Succeeded,
        "{vendor:?}: {first:?}"
    );
    if vendor.uses_tokens() {
        assert_eq!(
            server.state.token_requests(),
            2,
            "{vendor:?}: a new token after expiry"
        );
    }
    assert_eq!(
        systems(&app, vendor).await?,
        4,
        "{vendor:?}: the mapped companies' devices"
    );
    match vendor {
        Vendor::Datto => {
            let open = alert::Entity::find()
                .filter(alert::Column::ExternalSource.like(vendor.source_prefix()))
                .all(&app.db)
                .await?;
            assert_eq!(
                open.len(),
                4,
                "{vendor:?}: open and resolved alerts of mapped sites"
            );
            assert!(
                open.iter().any(|found| found.assigned_team_id.is_some()),
                "routed"
            );
        }
        _ => {
            let synced = tickets(&app, vendor).await?;
            assert_eq!(
                synced.len(),
                6,
                "{vendor:?}: tickets of the mapped companies"
            );
            assert!(
                synced.iter().all(|found| found.routed_by_id.is_some()),
                "{vendor:?}: routed"
            );
            assert!(
                synced
                    .iter()
                    .any(|found| found.status == TicketStatus::InProgress)
            );
        }
    }

    // Nothing changed at the vendor: nothing is written.
    let again = run(&app, id).await;
    assert_eq!(
        again.run.records_created + again.run.records_updated,
        0,
        "{vendor:?}: {again:?}"
    );

    // One change at the vendor is picked up.
    vendor.change_a_record(&server);
    let changed = run(&app, id).await;
    assert_eq!(changed.run.records_updated, 1, "{vendor:?}: {changed:?}");
    if vendor != Vendor::Datto {
        assert!(
            changed.run.records_fetched < first.run.records_fetched,
            "{vendor:?}: an incremental run reads only what changed"
        );
        assert!(
            tickets(&app, vendor)
                .await?
                .iter()
                .any(|found| found.status == TicketStatus::Closed)
        );
    }

    // A 429 storm and a 503, then success; a malformed record fails alone.
    let broken = vendor.break_a_record(&server);
    server.state.inject([
        Fault::RateLimited { retry_after: 0 },
        Fault::RateLimited { retry_after: 0 },
        Fault::RateLimited { retry_after: 0 },
        Fault::ServerError(503),
    ]);
    let mut full = options();
    full.full = true;
    let key = SecretKey::parse(tests::TEST_SECRET_KEY)?;
    let stormy = api::sync::run(&app.db, Some(&key), id, &full, &|_| {}).await?;
    assert_eq!(
        stormy.run.status,
        SyncStatus::Partial,
        "{vendor:?}: {stormy:?}"
    );
    let errors = sync_run_error::Entity::find()
        .filter(sync_run_error::Column::SyncRunId.eq(stormy.run.id))
        .all(&app.db)
        .await?;
    assert_eq!(errors.len(), 1, "{vendor:?}: {errors:?}");
    assert_eq!(
        errors[0].external_id.as_deref(),
        Some(broken.as_str()),
        "{vendor:?}"
    );

    // The vendor goes down after the first page of devices: the run fails; the next resumes.
    let before = (
        systems(&app, vendor).await?,
        tickets(&app, vendor).await?.len(),
    );
    let state = Arc::clone(&server.state);
    let crash = move |progress: &Progress| {
        if progress.resource == Resource::Devices && progress.pages == 1 {
            state.inject([Fault::ServerError(502); 6]);
        }
    };
    let mut full = options();
    full.full = true;
    let failed = api::sync::run(&app.db, Some(&key), id, &full, &crash).await;
    assert!(failed.is_err(), "{vendor:?}");
    let resumed = run(&app, id).await;
    assert_ne!(
        resumed.run.status,
        SyncStatus::Failed,
        "{vendor:?}: {resumed:?}"
    );
    assert_eq!(
        (
            systems(&app, vendor).await?,
            tickets(&app, vendor).await?.len()
        ),
        before,
        "{vendor:?}: nothing lost, nothing twice"
    );

    // Webhooks: a bad signature or secret gets 401 and starts nothing.
    let body = json!({ "EntityType": "Ticket", "Id": 1, "Action": "Update" }).to_string();
    let (good, forged) = vendor.webhook(body.as_bytes());
    let send = |headers: Headers| {
        let mut request = app
            .client
            .post(format!("{}/webhooks/{id}", app.address))
            .header("content-type", "application/json")
            .body(body.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    let runs = app.count("sync_runs").await?;
    assert_eq!(send(forged).await?.status(), 401, "{vendor:?}");
    assert_eq!(
        send(Vec::new()).await?.status(),
        401,
        "{vendor:?}: unsigned"
    );
    assert_eq!(app.count("sync_runs").await?, runs, "{vendor:?}");
    assert_eq!(send(good).await?.status(), 202, "{vendor:?}");
    app.stop().await
}

#[tokio::test]
async fn autotask_syncs_end_to_end() -> anyhow::Result<()> {
    exercise(Vendor::Autotask).await
}

#[tokio::test]
async fn halopsa_syncs_end_to_end() -> anyhow::Result<()> {
    exercise(Vendor::Halo).await
}

#[tokio::test]
async fn datto_rmm_syncs_end_to_end() -> anyhow::Result<()> {
    exercise(Vendor::Datto).await
}
