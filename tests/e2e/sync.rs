//! The sync engine against mock vendors, on both databases: full and incremental syncs, 429
//! storms, 5xx, malformed records, token expiry, a crash between pages and the resume, the lease,
//! webhooks, and integration management through the API.

use std::sync::Arc;

use api::sync::engine::{Progress, SyncError, SyncReport};
use entities::enums::{ChangeSource, SyncStatus, TicketStatus};
use entities::{alert, change_log_entry, sync_cursor, sync_run_error, system, system_link, ticket};
use integrations::http::RetryPolicy;
use integrations::mock::{self, Fault, MockServer};
use integrations::secrets::SecretKey;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tests::TestApp;
use tests::{sync as run, sync_options as options, sync_with as run_with};
use uuid::Uuid;

/// Fetched, created, updated, unchanged, skipped (unmapped company) and failed.
fn counts(report: &SyncReport) -> [i32; 6] {
    let run = &report.run;
    [
        run.records_fetched,
        run.records_created,
        run.records_updated,
        run.records_unchanged,
        run.records_skipped,
        run.records_failed,
    ]
}

pub(crate) async fn environment(app: &TestApp, name: &str) -> anyhow::Result<Value> {
    let data = app
        .query(
            &app.provider_admin_token(),
            "{ environments(first: 100) { edges { node { id name } } } }",
            Value::Null,
        )
        .await?;
    Ok(data["environments"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|edge| edge["node"]["name"] == name)
        .unwrap_or_else(|| panic!("no environment {name}"))["node"]["id"]
        .clone())
}

/// Creates an integration through the API and maps vendor companies to environments by name.
pub(crate) async fn integration(
    app: &TestApp,
    kind: &str,
    url: &str,
    (settings, credentials): (Value, Value),
    companies: &[(&str, &str)],
) -> anyhow::Result<(Value, Uuid)> {
    let token = app.provider_admin_token();
    let created = app
        .query(&token, "mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { integration { id hasCredentials enabled } userErrors { field code message } } }",
            json!({ "input": { "name": format!("{kind} under test"), "kind": kind, "baseUrl": url, "settings": settings, "credentials": credentials } }))
        .await?;
    let payload = &created["createIntegration"];
    assert_eq!(payload["userErrors"], json!([]), "{created}");
    assert_eq!(payload["integration"]["hasCredentials"], true);
    let id = payload["integration"]["id"].clone();
    for (company, environment_name) in companies {
        let environment = environment(app, environment_name).await?;
        let mapped = app
            .query(&token, "mutation($input: MapIntegrationCompanyInput!) { mapIntegrationCompany(input: $input) { userErrors { message } } }",
                json!({ "input": { "integrationId": id, "externalCompanyId": company, "environmentId": environment } }))
            .await?;
        assert_eq!(mapped["mapIntegrationCompany"]["userErrors"], json!([]));
    }
    let uuid = api::graphql::ids::decode_as(
        "id",
        api::graphql::ids::NodeType::Integration,
        &id.as_str().unwrap().into(),
    )?;
    Ok((id, uuid))
}

pub(crate) async fn connectwise(
    app: &TestApp,
    tickets: usize,
    page_size: u64,
) -> anyhow::Result<(MockServer, Uuid)> {
    let server = mock::connectwise::start(mock::connectwise::fixture(
        3,
        tickets,
        chrono::Utc::now() - chrono::Duration::hours(1),
    ))
    .await;
    let (mut settings, mut credentials) = mock::connectwise::configuration();
    settings["pageSize"] = json!(page_size);
    credentials["webhookSecret"] = json!("unused-for-connectwise");
    let (_, id) = integration(
        app,
        "CONNECTWISE_MANAGE",
        &server.url,
        (settings, credentials),
        &[("250", "Production"), ("251", "Main Office")],
    )
    .await?;
    Ok((server, id))
}

async fn synced_tickets(app: &TestApp) -> anyhow::Result<Vec<ticket::Model>> {
    Ok(ticket::Entity::find()
        .filter(ticket::Column::ExternalSource.like("CONNECTWISE_MANAGE:%"))
        .all(&app.db)
        .await?)
}

#[tokio::test]
async fn connectwise_full_then_incremental_sync_writes_only_what_changed() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (server, id) = connectwise(&app, 9, 4).await?;

    let first = run(&app, id).await;
    assert_eq!(first.run.status, SyncStatus::Succeeded);
    // 3 companies (2 mapped, names recorded), 6 configurations (4 of mapped companies), 9
    // tickets (6 of mapped companies).
    assert_eq!(counts(&first), [18, 10, 2, 0, 6, 0], "{first:?}");
    let tickets = synced_tickets(&app).await?;
    assert_eq!(tickets.len(), 6);
    // Vendor statuses map through the per-integration table seeded from the board's signals.
    let status_of = |external: &str| {
        tickets
            .iter()
            .find(|found| found.external_id.as_deref() == Some(external))
            .map(|found| (found.status, found.external_status.clone()))
    };
    assert_eq!(
        status_of("48000"),
        Some((TicketStatus::New, Some("New".into())))
    );
    assert_eq!(
        status_of("48001"),
        Some((TicketStatus::InProgress, Some("In Progress".into()))),
        "company 251 is Cedar's"
    );
    assert_eq!(
        status_of("48002"),
        None,
        "company 252 is mapped to no environment"
    );
    // New synced tickets are routed by the matrix: Harbor's service desk is its internal IT.
    let harbor_ticket = tickets
        .iter()
        .find(|found| found.external_id.as_deref() == Some("48000"))
        .unwrap();
    assert!(harbor_ticket.assigned_team_id.is_some() && harbor_ticket.routed_by_id.is_some());
    let mappings = app
        .query(&app.provider_admin_token(), "query($id: ID!) { node(id: $id) { ... on Integration { mappings { nodes { externalCompanyId externalCompanyName } } syncRuns { edges { node { status recordsFetched } } } } } }",
            json!({ "id": api::graphql::ids::encode(api::graphql::ids::NodeType::Integration, id).0 }))
        .await?;
    assert_eq!(
        mappings["node"]["mappings"]["nodes"][0]["externalCompanyName"], "Company 250",
        "{mappings}"
    );
    assert_eq!(
        mappings["node"]["syncRuns"]["edges"][0]["node"]["status"],
        "SUCCEEDED"
    );

    // Ticket notes come along, internal ones marked.
    let notes = entities::ticket_note::Entity::find()
        .filter(entities::ticket_note::Column::TicketId.eq(harbor_ticket.id))
        .all(&app.db)
        .await?;
    assert_eq!(notes.len(), 2);
    assert_eq!(notes.iter().filter(|note| note.internal).count(), 1);
    assert_eq!(notes[0].author_name.as_deref(), Some("Jo Marsh"));

    // The board's statuses seeded the value mappings; an admin's override survives later runs.
    let gid = api::graphql::ids::encode(api::graphql::ids::NodeType::Integration, id).0;
    let overridden = app
        .query(&app.provider_admin_token(), "mutation($input: SetValueMappingInput!) { setValueMapping(input: $input) { mapping { normalizedValue overridden } userErrors { message } } }",
            json!({ "input": { "integrationId": gid, "domain": "TICKET_STATUS", "externalValue": "17", "status": "WAITING" } }))
        .await?;
    assert_eq!(
        overridden["setValueMapping"]["mapping"],
        json!({ "normalizedValue": "WAITING", "overridden": true }),
        "{overridden}"
    );

    // A second run with no vendor changes writes nothing.
    let entries_before = app.count("change_log_entries").await?;
    let again = run(&app, id).await;
    assert_eq!(
        again.run.records_created + again.run.records_updated,
        0,
        "{again:?}"
    );
    assert_eq!(app.count("change_log_entries").await?, entries_before);

    let values = app
        .query(&app.provider_admin_token(), "query($id: ID!) { node(id: $id) { ... on Integration { valueMappings { nodes { domain externalValue externalLabel normalizedValue overridden } } } } }", json!({ "id": gid }))
        .await?;
    let values = values["node"]["valueMappings"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(values.len(), 9, "five statuses, four priorities");
    let seventeen = values
        .iter()
        .find(|value| value["externalValue"] == "17")
        .unwrap();
    assert_eq!(
        seventeen["normalizedValue"], "WAITING",
        "the override survived the run"
    );
    let resolved = values
        .iter()
        .find(|value| value["externalValue"] == "19")
        .unwrap();
    assert_eq!(resolved["normalizedValue"], "RESOLVED");
    assert_eq!(resolved["overridden"], false);
    let emergency = values
        .iter()
        .find(|value| value["externalLabel"] == "Priority 1 - Emergency Response")
        .unwrap();
    assert_eq!(emergency["normalizedValue"], "CRITICAL");

    let notes_before = app.count("ticket_notes").await? - 2;
    // The vendor resolves one ticket and opens another: only those two are read and written.
    {
        let mut store = server.state.store();
        let now = chrono::Utc::now();
        let resolved = store
            .tickets
            .iter_mut()
            .find(|found| found["id"] == 48000)
            .unwrap();
        *resolved = mock::connectwise::ticket(48000, 250, mock::connectwise::status::RESOLVED, now);
        store.tickets.push(mock::connectwise::ticket(
            48100,
            250,
            mock::connectwise::status::NEW,
            now,
        ));
    }
    let incremental = run(&app, id).await;
    assert_eq!(counts(&incremental), [2, 1, 1, 0, 0, 0], "{incremental:?}");
    let resolved = ticket::Entity::find()
        .filter(ticket::Column::ExternalId.eq("48000"))
        .one(&app.db)
        .await?
        .unwrap();
    assert_eq!(resolved.status, TicketStatus::Resolved);
    assert!(resolved.resolved_at.is_some());
    // A note added at the vendor (which moves the ticket's lastUpdated) is the only change.
    {
        let mut store = server.state.store();
        let now = chrono::Utc::now();
        store.notes.push(mock::connectwise::note(
            70_003,
            48003,
            "Rebooted; user confirms it works.",
            false,
            now,
        ));
        let noted = store
            .tickets
            .iter_mut()
            .find(|found| found["id"] == 48003)
            .unwrap();
        noted["_info"]["lastUpdated"] = json!(integrations::time::format(
            now + chrono::Duration::seconds(1)
        ));
    }
    let noted = run(&app, id).await;
    // The two tickets of the last run are read again (the changed-since mark keeps a minute for
    // clock skew) and found unchanged.
    assert_eq!(counts(&noted), [3, 0, 1, 2, 0, 0], "{noted:?}");
    assert_eq!(app.count("ticket_notes").await? - notes_before, 3);

    let logged = change_log_entry::Entity::find()
        .filter(change_log_entry::Column::TicketId.eq(resolved.id))
        .all(&app.db)
        .await?;
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].source, ChangeSource::Psa);
    assert!(
        logged[0].summary.ends_with("to RESOLVED"),
        "{}",
        logged[0].summary
    );
    app.stop().await
}

#[tokio::test]
async fn rate_limits_server_errors_and_bad_records_do_not_stop_a_sync() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (server, id) = connectwise(&app, 6, 1000).await?;
    server.state.store().tickets[0]["summary"] = Value::Null;

    // A 429 storm honoring Retry-After, then a 503: retried, and the run completes.
    server.state.inject([
        Fault::RateLimited { retry_after: 0 },
        Fault::RateLimited { retry_after: 0 },
        Fault::RateLimited { retry_after: 0 },
        Fault::ServerError(503),
    ]);
    let report = run(&app, id).await;
    assert_eq!(report.run.status, SyncStatus::Partial, "one record failed");
    assert_eq!(report.run.records_failed, 1);
    // Three lookups, three list pages and the notes of the three readable tickets of mapped
    // companies (the unmapped company's two are skipped), plus the four faults that were
    // answered and retried.
    assert_eq!(server.state.requests(), 3 + 3 + 3 + 4);
    let errors = sync_run_error::Entity::find()
        .filter(sync_run_error::Column::SyncRunId.eq(report.run.id))
        .all(&app.db)
        .await?;
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].external_id.as_deref(), Some("48000"));
    assert_eq!(errors[0].resource, "tickets");
    assert!(errors[0].reason.contains("summary"), "{}", errors[0].reason);
    assert_eq!(
        synced_tickets(&app).await?.len(),
        3,
        "the other mapped tickets are written"
    );

    // The same ticket twice in a page is one ticket; a title with a NUL byte breaks the rules
    // every ticket obeys (on both databases) and fails alone.
    {
        let mut store = server.state.store();
        let duplicate = store.tickets[3].clone();
        store.tickets.insert(4, duplicate);
        store.tickets[5]["summary"] = json!("Printer jam \u{0} tray 2");
    }
    let mut full = options();
    full.full = true;
    let key = SecretKey::parse(tests::TEST_SECRET_KEY)?;
    let refused = api::sync::run(&app.db, Some(&key), id, &full, &|_| {}).await?;
    assert_eq!(refused.run.status, SyncStatus::Partial, "{refused:?}");
    assert_eq!(refused.run.records_failed, 2, "{refused:?}");
    let errors = sync_run_error::Entity::find()
        .filter(sync_run_error::Column::SyncRunId.eq(refused.run.id))
        .all(&app.db)
        .await?;
    assert!(
        errors
            .iter()
            .any(|error| error.external_id.as_deref() == Some("48004")
                && error.reason.contains("NUL")),
        "{errors:?}"
    );
    assert_eq!(
        synced_tickets(&app).await?.len(),
        3,
        "the duplicate is one ticket"
    );

    // A vendor that keeps failing fails the run with its message, and the run says so.
    server.state.inject([Fault::ServerError(500); 6]);
    let failed = run_with(&app, id, &|_| {}).await.unwrap_err();
    assert!(failed.to_string().contains("500"), "{failed}");
    let runs = app
        .query(
            &app.provider_admin_token(),
            "{ syncRuns(last: 1) { edges { node { status error } } } }",
            Value::Null,
        )
        .await?;
    assert_eq!(
        runs["syncRuns"]["edges"][0]["node"]["status"], "FAILED",
        "{runs}"
    );
    app.stop().await
}

#[tokio::test]
async fn a_crash_between_pages_resumes_without_loss_or_duplicates() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (server, id) = connectwise(&app, 30, 3).await?;
    let state = Arc::clone(&server.state);
    // After the second page of tickets commits, the vendor goes down for good.
    let crash = move |progress: &Progress| {
        if progress.resource == integrations::model::Resource::Tickets && progress.pages == 2 {
            state.inject([Fault::ServerError(502); 6]);
        }
    };
    assert!(run_with(&app, id, &crash).await.is_err());
    let written = synced_tickets(&app).await?.len();
    assert_eq!(
        written, 4,
        "two pages of three tickets, two thirds of them mapped"
    );
    let cursor = sync_cursor::Entity::find_by_id((id, "tickets".to_owned()))
        .one(&app.db)
        .await?
        .unwrap();
    assert!(
        cursor.page_token.is_some(),
        "the cursor names the next page"
    );
    assert!(
        cursor.changed_since.is_none(),
        "the mark moves only when a resource completes"
    );

    let resumed = run(&app, id).await;
    assert_eq!(resumed.run.status, SyncStatus::Succeeded);
    let tickets = synced_tickets(&app).await?;
    assert_eq!(tickets.len(), 20, "every mapped ticket, none twice");
    let mut ids: Vec<_> = tickets
        .iter()
        .filter_map(|found| found.external_id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
    let tickets_run = resumed
        .resources
        .iter()
        .find(|(resource, _)| *resource == integrations::model::Resource::Tickets)
        .unwrap();
    assert_eq!(
        tickets_run.1.fetched, 24,
        "the resumed run reads from the first uncommitted page"
    );
    app.stop().await
}

#[tokio::test]
async fn one_run_per_integration_at_a_time() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (_server, id) = connectwise(&app, 3, 1000).await?;
    let mut busy = options();
    busy.owner = "other-process:1".into();
    let key = SecretKey::parse(tests::TEST_SECRET_KEY)?;
    // Another process holds the lease: this run refuses to start and writes nothing.
    entities::integration::Entity::update_many()
        .col_expr(
            entities::integration::Column::LeaseOwner,
            sea_orm::sea_query::Expr::value("other-process:1"),
        )
        .col_expr(
            entities::integration::Column::LeaseExpiresAt,
            sea_orm::sea_query::Expr::value(chrono::Utc::now() + chrono::Duration::minutes(5)),
        )
        .filter(entities::integration::Column::Id.eq(id))
        .exec(&app.db)
        .await?;
    let refused = api::sync::run(&app.db, Some(&key), id, &options(), &|_| {}).await;
    assert!(
        matches!(refused, Err(SyncError::Busy { .. })),
        "{refused:?}"
    );
    assert_eq!(synced_tickets(&app).await?.len(), 0);
    // Even a run naming the holder as its owner is refused: a lease is only taken when free or
    // expired, and every run names itself uniquely.
    let refused = api::sync::run(&app.db, Some(&key), id, &busy, &|_| {}).await;
    assert!(
        matches!(refused, Err(SyncError::Busy { .. })),
        "{refused:?}"
    );
    // A lease whose holder died expires, and the next run takes it over.
    entities::integration::Entity::update_many()
        .col_expr(
            entities::integration::Column::LeaseExpiresAt,
            sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)),
        )
        .filter(entities::integration::Column::Id.eq(id))
        .exec(&app.db)
        .await?;
    run(&app, id).await;
    let released = entities::integration::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .unwrap();
    assert_eq!(released.lease_owner, None, "released at the end of the run");
    app.stop().await
}

pub(crate) async fn ninja(app: &TestApp, page_size: u64) -> anyhow::Result<(MockServer, Uuid)> {
    let server = mock::ninjaone::start(mock::ninjaone::fixture(
        3,
        chrono::Utc::now() - chrono::Duration::hours(1),
    ))
    .await;
    let (mut settings, mut credentials) = mock::ninjaone::configuration();
    settings["pageSize"] = json!(page_size);
    credentials["webhookSecret"] = json!("ninja-hook-secret");
    let (_, id) = integration(
        app,
        "NINJAONE",
        &server.url,
        (settings, credentials),
        &[("1", "Production"), ("2", "Main Office")],
    )
    .await?;
    Ok((server, id))
}

#[tokio::test]
async fn ninjaone_syncs_devices_alerts_and_activities_and_survives_token_expiry()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (server, id) = ninja(&app, 1).await?;
    let state = Arc::clone(&server.state);
    // The access token expires after the first page of devices.
    let expire = move |progress: &Progress| {
        if progress.resource == integrations::model::Resource::Devices && progress.pages == 1 {
            state.expire_tokens();
        }
    };
    let report = run_with(&app, id, &expire).await?;
    assert_eq!(report.run.status, SyncStatus::Succeeded, "{report:?}");
    assert_eq!(
        server.state.token_requests(),
        2,
        "one new token after the expiry"
    );
    let linked = system_link::Entity::find()
        .filter(system_link::Column::Source.like("NINJAONE:%"))
        .count(&app.db)
        .await?;
    assert_eq!(linked, 4, "two devices of each mapped organization");
    let open = alert::Entity::find()
        .filter(alert::Column::ExternalSource.like("NINJAONE:%"))
        .all(&app.db)
        .await?;
    assert_eq!(open.len(), 1);
    assert!(open[0].assigned_team_id.is_some(), "routed by the matrix");
    let activities = change_log_entry::Entity::find()
        .filter(change_log_entry::Column::ExternalSource.like("NINJAONE:%"))
        .all(&app.db)
        .await?;
    assert_eq!(activities.len(), 4);
    assert!(
        activities
            .iter()
            .all(|entry| entry.source == ChangeSource::Rmm)
    );

    // Nothing changed at the vendor: nothing is written.
    let again = run(&app, id).await;
    assert_eq!(
        again.run.records_created + again.run.records_updated,
        0,
        "{again:?}"
    );

    // The alert clears (NinjaOne lists only active alerts) and the server's OS is upgraded.
    {
        let mut store = server.state.store();
        store.alerts.clear();
        store.devices[0]["os"]["name"] = json!("Windows Server 2025 Standard");
    }
    let changed = run(&app, id).await;
    assert_eq!(changed.run.records_updated, 1, "{changed:?}");
    let cleared = alert::Entity::find_by_id(open[0].id)
        .one(&app.db)
        .await?
        .unwrap();
    assert_eq!(cleared.status, entities::enums::AlertStatus::Resolved);
    let upgraded = system::Entity::find()
        .filter(system::Column::OperatingSystem.eq("Windows Server 2025 Standard"))
        .one(&app.db)
        .await?
        .unwrap();
    assert_eq!(
        upgraded.attribute_sources["operating_system"]
            .as_str()
            .map(|s| s.starts_with("NINJAONE:")),
        Some(true)
    );
    let observed = change_log_entry::Entity::find()
        .filter(change_log_entry::Column::Summary.like("%operating_system change%"))
        .count(&app.db)
        .await?;
    assert_eq!(observed, 1);
    app.stop().await
}

#[tokio::test]
async fn the_same_device_seen_by_the_psa_and_the_rmm_is_one_system() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (cw, cw_id) = connectwise(&app, 0, 1000).await?;
    let (ninja_server, ninja_id) = ninja(&app, 1000).await?;
    // NinjaOne's server of organization 1 is ConnectWise's first configuration of company 250:
    // the same serial number.
    let serial = cw.state.store().devices[0]["serialNumber"].clone();
    ninja_server.state.store().devices[0]["system"]["serialNumber"] = serial.clone();
    run(&app, cw_id).await;
    run(&app, ninja_id).await;
    let matched = system::Entity::find()
        .filter(system::Column::SerialNumber.eq(serial.as_str().unwrap()))
        .all(&app.db)
        .await?;
    assert_eq!(matched.len(), 1, "one system");
    let links = system_link::Entity::find()
        .filter(system_link::Column::SystemId.eq(matched[0].id))
        .all(&app.db)
        .await?;
    let mut sources: Vec<&str> = links
        .iter()
        .map(|link| link.source.split(':').next().unwrap())
        .collect();
    sources.sort_unstable();
    assert_eq!(sources, ["CONNECTWISE_MANAGE", "NINJAONE"]);
    assert_eq!(
        matched[0].attribute_sources["name"]
            .as_str()
            .map(|s| s.split(':').next().unwrap()),
        Some("NINJAONE"),
        "the RMM named it last"
    );

    // An admin splits the match: the PSA's configuration becomes a system of its own, with the
    // attributes the PSA set, and later syncs keep them apart.
    let psa_link = links
        .iter()
        .find(|link| link.source.starts_with("CONNECTWISE_MANAGE"))
        .unwrap();
    let split = app
        .query(&app.provider_admin_token(), "mutation($input: SplitSystemLinkInput!) { splitSystemLink(input: $input) { system { id name serialNumber externalIds { source externalId } } userErrors { field code message } } }",
            json!({ "input": { "systemId": api::graphql::ids::encode(api::graphql::ids::NodeType::System, matched[0].id).0, "source": psa_link.source, "externalId": psa_link.external_id, "reason": "two different machines" } }))
        .await?;
    let new_system = &split["splitSystemLink"]["system"];
    assert_eq!(
        new_system["externalIds"][0]["externalId"],
        json!(psa_link.external_id),
        "{split}"
    );
    assert_eq!(
        new_system["serialNumber"], serial,
        "the PSA set the serial number (the RMM agreed)"
    );
    run(&app, cw_id).await;
    run(&app, ninja_id).await;
    for link in &links {
        let now = system_link::Entity::find_by_id(link.id)
            .one(&app.db)
            .await?
            .unwrap();
        assert_eq!(
            now.system_id == matched[0].id,
            link.source.starts_with("NINJAONE"),
            "{}",
            link.source
        );
    }
    let again = app
        .query(&app.provider_admin_token(), "mutation($input: SplitSystemLinkInput!) { splitSystemLink(input: $input) { userErrors { code } } }",
            json!({ "input": { "systemId": new_system["id"], "source": psa_link.source, "externalId": psa_link.external_id } }))
        .await?;
    assert_eq!(
        again["splitSystemLink"]["userErrors"][0]["code"], "INVALID_STATE",
        "its only link"
    );
    app.stop().await
}

#[tokio::test]
async fn webhooks_with_a_bad_signature_are_refused_and_change_nothing() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (server, id) = connectwise(&app, 3, 1000).await?;
    let body = json!({ "MessageId": "m1", "Action": "updated", "Type": "Ticket", "ID": 48000, "CompanyId": "acme",
        "Metadata": { "key_url": format!("{}/callbackkey", server.url) } })
    .to_string();
    let post = |signature: String, body: String| {
        app.client
            .post(format!("{}/webhooks/{id}", app.address))
            .header("content-type", "application/json")
            .header("x-content-signature", signature)
            .body(body)
            .send()
    };
    let runs_before = app.count("sync_runs").await?;
    let forged = post("bm90IGEgc2lnbmF0dXJl".into(), body.clone()).await?;
    // Another tenant's callback, correctly signed with that tenant's key, is refused too.
    let other_tenant = json!({ "Type": "Ticket", "ID": 1, "CompanyId": "someone-else",
        "Metadata": { "key_url": format!("{}/callbackkey", server.url) } })
    .to_string();
    let signed = integrations::webhooks::connectwise_signature(
        mock::connectwise::SIGNING_KEY,
        other_tenant.as_bytes(),
    );
    assert_eq!(post(signed, other_tenant).await?.status(), 401);
    assert_eq!(forged.status(), 401);
    let error: Value = forged.json().await?;
    assert_eq!(
        error["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{error}"
    );
    // A key URL on another host is never fetched.
    let elsewhere =
        json!({ "Type": "Ticket", "ID": 1, "Metadata": { "key_url": "https://evil.example/key" } })
            .to_string();
    let signed_elsewhere =
        integrations::webhooks::connectwise_signature("whatever", elsewhere.as_bytes());
    assert_eq!(post(signed_elsewhere, elsewhere).await?.status(), 401);
    assert_eq!(app.count("sync_runs").await?, runs_before, "no run started");

    let signature = integrations::webhooks::connectwise_signature(
        mock::connectwise::SIGNING_KEY,
        body.as_bytes(),
    );
    let accepted = post(signature, body).await?;
    assert_eq!(accepted.status(), 202);
    assert_eq!(
        accepted.json::<Value>().await?["resources"],
        json!(["tickets"])
    );
    // The targeted sync runs in the background.
    for _ in 0..100 {
        if synced_tickets(&app).await?.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(synced_tickets(&app).await?.len(), 2);

    // NinjaOne sends a shared secret.
    let (_ninja, ninja_id) = ninja(&app, 1000).await?;
    let shared = |secret: &'static str| {
        app.client
            .post(format!("{}/webhooks/{ninja_id}", app.address))
            .header("x-tandem-webhook-secret", secret)
            .json(&json!({ "activityType": "CONDITION", "statusCode": "TRIGGERED" }))
            .send()
    };
    assert_eq!(shared("wrong").await?.status(), 401);
    assert_eq!(shared("ninja-hook-secret").await?.status(), 202);
    app.stop().await
}

#[tokio::test]
async fn integrations_are_managed_through_the_api_and_never_show_their_credentials()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let server =
        mock::connectwise::start(mock::connectwise::fixture(1, 1, chrono::Utc::now())).await;
    let token = app.provider_admin_token();
    let (settings, credentials) = mock::connectwise::configuration();
    let (gid, _) = integration(
        &app,
        "CONNECTWISE_MANAGE",
        &server.url,
        (settings, credentials),
        &[],
    )
    .await?;

    let test = "mutation($input: IntegrationActionInput!) { testIntegration(input: $input) { ok message } }";
    let tested = app
        .query(&token, test, json!({ "input": { "id": gid } }))
        .await?;
    assert_eq!(tested["testIntegration"]["ok"], true, "{tested}");
    assert!(
        tested["testIntegration"]["message"]
            .as_str()
            .unwrap()
            .contains("v2025_1")
    );

    // Wrong keys: the test says the vendor refused them, and nothing echoes the secret.
    let update = "mutation($input: UpdateIntegrationInput!) { updateIntegration(input: $input) { integration { enabled syncIntervalSeconds } userErrors { field code message } } }";
    app.query(&token, update, json!({ "input": { "id": gid, "credentials": { "publicKey": "pubkey", "privateKey": "wrong-private-key" } } })).await?;
    let refused = app
        .query(&token, test, json!({ "input": { "id": gid } }))
        .await?;
    assert_eq!(refused["testIntegration"]["ok"], false);
    let message = refused["testIntegration"]["message"].as_str().unwrap();
    assert!(message.contains("refused the credentials"), "{message}");
    assert!(!message.contains("wrong-private-key"));
    let everything = app
        .query(&token, "query($id: ID!) { node(id: $id) { ... on Integration { name kind baseUrl enabled hasCredentials } } }", json!({ "id": gid }))
        .await?;
    assert!(!everything.to_string().contains("wrong-private-key"));

    let runs_before_trigger = app.count("sync_runs").await?;
    // Moving the integration to another host without giving the credentials again is refused.
    let moved = app
        .query(
            &token,
            update,
            json!({ "input": { "id": gid, "baseUrl": "https://attacker.example" } }),
        )
        .await?;
    assert_eq!(
        moved["updateIntegration"]["userErrors"][0]["field"],
        json!(["input", "credentials"]),
        "{moved}"
    );

    let bad = app
        .query(
            &token,
            update,
            json!({ "input": { "id": gid, "syncIntervalSeconds": 5, "baseUrl": "ftp://x" } }),
        )
        .await?;
    let fields: Vec<&str> = bad["updateIntegration"]["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"][1].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"baseUrl") && fields.contains(&"syncIntervalSeconds"),
        "{bad}"
    );
    let nothing = app
        .query(&token, "mutation($input: TriggerSyncInput!) { triggerSync(input: $input) { userErrors { field code } } }", json!({ "input": { "id": gid, "resources": [] } }))
        .await?;
    assert_eq!(
        nothing["triggerSync"]["userErrors"],
        json!([{ "field": ["input", "resources"], "code": "INVALID" }]),
        "{nothing}"
    );
    assert_eq!(
        app.count("sync_runs").await?,
        runs_before_trigger,
        "nothing started"
    );
    let disabled = app
        .query(&token, "mutation($input: IntegrationActionInput!) { disableIntegration(input: $input) { integration { enabled } } }", json!({ "input": { "id": gid } }))
        .await?;
    assert_eq!(
        disabled["disableIntegration"]["integration"]["enabled"],
        false
    );
    let trigger = app
        .query(&token, "mutation($input: TriggerSyncInput!) { triggerSync(input: $input) { userErrors { code message } } }", json!({ "input": { "id": gid } }))
        .await?;
    assert_eq!(
        trigger["triggerSync"]["userErrors"][0]["code"],
        "INVALID_STATE"
    );

    // Only the integration's own admins manage it.
    let client = app.client_admin_token();
    let foreign = app
        .query(&client, "mutation($input: IntegrationActionInput!) { testIntegration(input: $input) { ok userErrors { code } } }", json!({ "input": { "id": gid } }))
        .await?;
    assert_eq!(
        foreign["testIntegration"]["userErrors"][0]["code"], "NOT_FOUND",
        "{foreign}"
    );
    let member = app.token(
        "demo|northwind-tech",
        "northwind-msp",
        entities::enums::Role::Member,
    );
    let (_, body) = app
        .graphql(Some(&member), test, json!({ "input": { "id": gid } }))
        .await?;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    // Each mutation names itself when it refuses.
    for mutation in ["disableIntegration", "updateIntegration"] {
        let input = if mutation == "disableIntegration" {
            "IntegrationActionInput"
        } else {
            "UpdateIntegrationInput"
        };
        let (_, body) = app
            .graphql(
                Some(&member),
                &format!("mutation($input: {input}!) {{ {mutation}(input: $input) {{ userErrors {{ code }} }} }}"),
                json!({ "input": { "id": gid } }),
            )
            .await?;
        assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
        assert_eq!(
            body["errors"][0]["message"],
            format!("{mutation} needs the role ADMIN"),
            "{body}"
        );
    }
    app.stop().await
}

#[tokio::test]
async fn the_scheduler_starts_integrations_that_are_due() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (server, id) = connectwise(&app, 3, 1000).await?;
    let token = app.provider_admin_token();
    let gid = api::graphql::ids::encode(api::graphql::ids::NodeType::Integration, id).0;
    app.query(&token, "mutation($input: UpdateIntegrationInput!) { updateIntegration(input: $input) { userErrors { message } } }",
        json!({ "input": { "id": gid, "syncIntervalSeconds": 3600 } }))
        .await?;
    let service = api::sync::service::SyncService {
        db: app.db.clone(),
        key: Some(Arc::new(SecretKey::parse(tests::TEST_SECRET_KEY)?)),
        events: api::events::EventBus::default(),
        policy: RetryPolicy::fast(),
        egress: integrations::egress::Egress::ALLOW_PRIVATE,
        in_flight: Default::default(),
    };
    assert_eq!(service.start_due().await?, 1, "never synced: due");
    for _ in 0..100 {
        if synced_tickets(&app).await?.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(synced_tickets(&app).await?.len(), 2);
    // Its last run began moments ago: not due again for an hour.
    assert_eq!(service.start_due().await?, 0);
    drop(server);
    app.stop().await
}

/// A run as a process leaves it when it dies mid-run: `RUNNING`, holding the lease as `owner`
/// until `lease_until`.
pub(crate) async fn orphaned_run(
    app: &TestApp,
    id: Uuid,
    owner: &str,
    lease_until: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Uuid> {
    use sea_orm::{ActiveModelTrait, IntoActiveModel};
    entities::integration::Entity::update_many()
        .col_expr(
            entities::integration::Column::LeaseOwner,
            sea_orm::sea_query::Expr::value(owner),
        )
        .col_expr(
            entities::integration::Column::LeaseExpiresAt,
            sea_orm::sea_query::Expr::value(lease_until),
        )
        .filter(entities::integration::Column::Id.eq(id))
        .exec(&app.db)
        .await?;
    let started = chrono::Utc::now() - chrono::Duration::minutes(20);
    let orphan = entities::sync_run::Model {
        id: Uuid::now_v7(),
        integration_id: id,
        trigger: entities::enums::SyncTrigger::Schedule,
        full: false,
        status: SyncStatus::Running,
        started_at: started,
        finished_at: None,
        records_fetched: 0,
        records_created: 0,
        records_updated: 0,
        records_unchanged: 0,
        records_failed: 0,
        records_skipped: 0,
        warnings: None,
        error: None,
    }
    .into_active_model()
    .insert(&app.db)
    .await?;
    Ok(orphan.id)
}

pub(crate) async fn sync_run(app: &TestApp, id: Uuid) -> anyhow::Result<entities::sync_run::Model> {
    entities::sync_run::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no run {id}"))
}

#[tokio::test]
async fn a_run_left_running_by_a_crash_is_closed_by_the_next_run() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (_server, id) = connectwise(&app, 3, 1000).await?;
    // The process died 20 minutes ago; its lease has since expired.
    let orphan = orphaned_run(
        &app,
        id,
        "dead-process:7",
        chrono::Utc::now() - chrono::Duration::minutes(1),
    )
    .await?;
    let next = run(&app, id).await;
    assert_eq!(next.run.status, SyncStatus::Succeeded);
    let closed = sync_run(&app, orphan).await?;
    assert_eq!(closed.status, SyncStatus::Interrupted);
    assert!(
        closed
            .finished_at
            .is_some_and(|at| at <= next.run.started_at + chrono::Duration::seconds(1)),
        "{closed:?}"
    );
    assert!(
        closed
            .error
            .as_deref()
            .is_some_and(|error| error.contains("interrupted")),
        "{closed:?}"
    );
    assert_eq!(
        entities::sync_run::Entity::find()
            .filter(entities::sync_run::Column::Status.eq(SyncStatus::Running))
            .count(&app.db)
            .await?,
        0
    );
    app.stop().await
}

#[tokio::test]
async fn a_shutdown_interrupts_its_own_runs_and_frees_their_leases() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (_server, id) = connectwise(&app, 3, 1000).await?;
    let until = chrono::Utc::now() + chrono::Duration::minutes(5);
    let ours = orphaned_run(&app, id, "this-process:1", until).await?;
    let service = api::sync::service::SyncService {
        db: app.db.clone(),
        key: Some(Arc::new(SecretKey::parse(tests::TEST_SECRET_KEY)?)),
        events: api::events::EventBus::default(),
        policy: RetryPolicy::fast(),
        egress: integrations::egress::Egress::ALLOW_PRIVATE,
        in_flight: Default::default(),
    };
    service
        .in_flight
        .lock()
        .unwrap()
        .insert("this-process:1".to_owned(), id);
    let started = std::time::Instant::now();
    assert_eq!(
        service
            .shutdown(std::time::Duration::from_millis(300))
            .await?,
        1
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(300),
        "it waited for the run first"
    );
    assert_eq!(sync_run(&app, ours).await?.status, SyncStatus::Interrupted);
    let integration = entities::integration::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .unwrap();
    assert_eq!(integration.lease_owner, None, "the lease is free again");
    assert_eq!(run(&app, id).await.run.status, SyncStatus::Succeeded);

    // A run whose lease another process took over is that process's to close, not ours.
    let theirs = orphaned_run(&app, id, "other-process:2", until).await?;
    service
        .in_flight
        .lock()
        .unwrap()
        .insert("this-process:3".to_owned(), id);
    service.shutdown(std::time::Duration::ZERO).await?;
    assert_eq!(sync_run(&app, theirs).await?.status, SyncStatus::Running);
    let integration = entities::integration::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .unwrap();
    assert_eq!(integration.lease_owner.as_deref(), Some("other-process:2"));
    app.stop().await
}

#[tokio::test]
async fn moving_an_integration_resets_its_cursors_and_revokes_its_lease_together()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (_server, id) = connectwise(&app, 3, 1000).await?;
    run(&app, id).await;
    let cursors = || {
        sync_cursor::Entity::find()
            .filter(sync_cursor::Column::IntegrationId.eq(id))
            .count(&app.db)
    };
    assert!(cursors().await? > 0, "a finished run leaves cursors");
    // A run elsewhere is fetching from the old host.
    orphaned_run(
        &app,
        id,
        "other-process:9",
        chrono::Utc::now() + chrono::Duration::minutes(5),
    )
    .await?;
    let (_, credentials) = mock::connectwise::configuration();
    let gid = api::graphql::ids::encode(api::graphql::ids::NodeType::Integration, id).0;
    let moved = app
        .query(&app.provider_admin_token(), "mutation($input: UpdateIntegrationInput!) { updateIntegration(input: $input) { integration { baseUrl } userErrors { field message } } }",
            json!({ "input": { "id": gid, "baseUrl": "https://other-host.example", "credentials": credentials } }))
        .await?;
    assert_eq!(
        moved["updateIntegration"]["integration"]["baseUrl"], "https://other-host.example",
        "{moved}"
    );
    assert_eq!(cursors().await?, 0, "the next sync starts from scratch");
    let integration = entities::integration::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .unwrap();
    assert_eq!(
        integration.lease_owner, None,
        "the run on the old host lost its lease and writes no further page"
    );
    app.stop().await
}

#[tokio::test]
async fn remapping_a_company_to_another_client_gives_it_records_of_its_own() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (server, id) = connectwise(&app, 6, 1000).await?;
    run(&app, id).await;
    let first = synced_tickets(&app).await?;
    let harbor_environment = environment(&app, "Production").await?;
    let harbor_environment = tests::decode_uuid(&harbor_environment);
    let harbor: Vec<&ticket::Model> = first
        .iter()
        .filter(|found| found.environment_id == harbor_environment)
        .collect();
    assert!(
        !harbor.is_empty(),
        "company 250 maps to Harbor's Production"
    );

    let harbor_systems: Vec<system::Model> = system::Entity::find()
        .filter(system::Column::EnvironmentId.eq(harbor_environment))
        .all(&app.db)
        .await?;
    let synced_systems = system_link::Entity::find()
        .filter(system_link::Column::IntegrationId.eq(id))
        .count(&app.db)
        .await?;
    assert!(
        synced_systems > 0,
        "the vendor's configurations became systems"
    );

    // The provider remaps company 250 to Cedar's office, then a full sync walks the vendor.
    let cedar = environment(&app, "Main Office").await?;
    let gid = api::ids::encode(api::ids::NodeType::Integration, id).0;
    let mapped = app
        .query(&app.provider_admin_token(), "mutation($input: MapIntegrationCompanyInput!) { mapIntegrationCompany(input: $input) { userErrors { message } } }",
            json!({ "input": { "integrationId": gid, "externalCompanyId": "250", "environmentId": cedar } }))
        .await?;
    assert_eq!(
        mapped["mapIntegrationCompany"]["userErrors"],
        json!([]),
        "{mapped}"
    );
    let key = SecretKey::parse(tests::TEST_SECRET_KEY)?;
    let mut full = options();
    full.full = true;
    api::sync::run(&app.db, Some(&key), id, &full, &|_| {}).await?;

    // Harbor's rows are where they were, as they were; Cedar got records of its own.
    for before in &harbor {
        let now = ticket::Entity::find_by_id(before.id)
            .one(&app.db)
            .await?
            .expect("never deleted");
        assert_eq!(now.environment_id, before.environment_id);
        assert_eq!(now.organization_id, before.organization_id);
        assert_eq!(now.title, before.title);
        let copies = ticket::Entity::find()
            .filter(ticket::Column::ExternalId.eq(before.external_id.clone()))
            .filter(ticket::Column::ExternalSource.eq(before.external_source.clone()))
            .all(&app.db)
            .await?;
        assert_eq!(copies.len(), 2, "one per tenant: {copies:?}");
        assert!(
            copies
                .iter()
                .any(|copy| copy.organization_id != before.organization_id)
        );
    }
    // Company 250's configurations are Cedar's own systems now; Harbor's stay Harbor's.
    let cedar_environment = tests::decode_uuid(&cedar);
    let cedar_links = system_link::Entity::find()
        .filter(system_link::Column::IntegrationId.eq(id))
        .count(&app.db)
        .await?;
    assert!(
        cedar_links > synced_systems,
        "new links for Cedar: {synced_systems} -> {cedar_links}"
    );
    let linked_in_cedar = system::Entity::find()
        .filter(system::Column::EnvironmentId.eq(cedar_environment))
        .count(&app.db)
        .await?;
    assert!(linked_in_cedar > 0);
    for before in &harbor_systems {
        let now = system::Entity::find_by_id(before.id)
            .one(&app.db)
            .await?
            .expect("never deleted");
        assert_eq!(now.environment_id, before.environment_id, "{now:?}");
    }
    drop(server);
    app.stop().await
}

#[tokio::test]
async fn observed_changes_obey_the_change_logs_bounds_and_are_never_rewritten() -> anyhow::Result<()>
{
    let app = TestApp::spawn_with_demo().await?;
    let (server, id) = ninja(&app, 100).await?;
    run(&app, id).await;
    let recorded = change_log_entry::Entity::find()
        .filter(change_log_entry::Column::IntegrationId.eq(id))
        .count(&app.db)
        .await?;
    assert!(recorded > 0, "the fixture's activities are recorded");
    {
        let mut store = server.state.store();
        let device = store.changes[0]["deviceId"].clone();
        let far = chrono::Utc::now() + chrono::Duration::days(3650);
        let mut future = mock::ninjaone::activity(900, 0, "SCRIPTING", "From the future", far);
        future["deviceId"] = device.clone();
        let mut nul =
            mock::ninjaone::activity(901, 0, "SCRIPTING", "Ran \u{0} script", chrono::Utc::now());
        nul["deviceId"] = device.clone();
        let mut long =
            mock::ninjaone::activity(902, 0, "SCRIPTING", &"x".repeat(600), chrono::Utc::now());
        long["deviceId"] = device;
        // The vendor rewrites an activity it already reported.
        store.changes[0]["message"] = json!("Installed something else");
        store.changes.extend([future, nul, long]);
    }
    let mut full = options();
    full.full = true;
    let key = SecretKey::parse(tests::TEST_SECRET_KEY)?;
    let report = api::sync::run(&app.db, Some(&key), id, &full, &|_| {}).await?;
    assert_eq!(report.run.status, SyncStatus::Partial, "{report:?}");
    let errors = sync_run_error::Entity::find()
        .filter(sync_run_error::Column::SyncRunId.eq(report.run.id))
        .all(&app.db)
        .await?;
    let reason = |id: &str| {
        errors
            .iter()
            .find(|error| error.external_id.as_deref() == Some(id))
            .map(|error| error.reason.clone())
            .unwrap_or_default()
    };
    assert!(reason("900").contains("occurredAt"), "{errors:?}");
    assert!(reason("901").contains("NUL"), "{errors:?}");
    assert!(reason("902").contains("at most"), "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|error| error.reason.contains("already recorded")),
        "{errors:?}"
    );
    assert_eq!(
        change_log_entry::Entity::find()
            .filter(change_log_entry::Column::IntegrationId.eq(id))
            .count(&app.db)
            .await?,
        recorded,
        "nothing new reached the append-only log"
    );
    drop(server);
    app.stop().await
}

#[tokio::test]
async fn an_alert_the_vendor_resolves_reaches_the_outbox_as_resolved() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let raised = chrono::Utc::now() - chrono::Duration::hours(3);
    let raised = raised - chrono::Duration::nanoseconds(i64::from(raised.timestamp_subsec_nanos()));
    // One site: an open alert on its server, a resolved one on its laptop.
    let datto = mock::datto::start(mock::datto::fixture(1, raised)).await;
    let (settings, mut credentials) = mock::datto::configuration();
    credentials["webhookSecret"] = json!("hook-secret");
    let (_, id) = integration(
        &app,
        "DATTO_RMM",
        &datto.url,
        (settings, credentials),
        &[(&mock::datto::uid(0x5173, 0), "Production")],
    )
    .await?;
    assert_eq!(run(&app, id).await.run.status, SyncStatus::Succeeded);
    let open = alert::Entity::find()
        .filter(alert::Column::ExternalSource.like("DATTO_RMM:%"))
        .filter(alert::Column::Status.eq(entities::enums::AlertStatus::Open))
        .all(&app.db)
        .await?;
    assert_eq!(open.len(), 1);
    let resolved_events = || {
        entities::outbox_event::Entity::find()
            .filter(entities::outbox_event::Column::EventType.eq("alert.resolved"))
            .all(&app.db)
    };
    // Created resolved (the laptop's): raised, not resolved by anyone here.
    assert_eq!(resolved_events().await?.len(), 0);

    // The vendor resolves the server's alert: the next sync resolves it and says so.
    {
        let mut store = datto.state.store();
        let alert = &mut store.alerts[0];
        alert["resolved"] = json!(true);
        alert["resolvedBy"] = json!("system");
        alert["resolvedOn"] = json!((raised + chrono::Duration::minutes(30)).timestamp_millis());
    }
    let report = run(&app, id).await;
    assert_eq!(report.run.records_updated, 1, "{report:?}");
    let stored = alert::Entity::find_by_id(open[0].id)
        .one(&app.db)
        .await?
        .unwrap();
    assert_eq!(stored.status, entities::enums::AlertStatus::Resolved);
    assert_eq!(stored.next_escalation_at, None);
    let events = resolved_events().await?;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].subject_id, open[0].id);
    assert_eq!(events[0].caused_by_integration_id, Some(id));
    // Nothing more on a sync that changes nothing.
    run(&app, id).await;
    assert_eq!(resolved_events().await?.len(), 1);
    app.stop().await
}
