//! Two-way PSA sync (issue 15, item 4), on both databases against the vendor mocks: a routed
//! ticket's assignment and routing note arrive in the vendor's own request shape exactly once
//! (through a 429 and a 500, and a crash after the vendor wrote a note); notes and status changes
//! made in Tandem are pushed; the next sync does not echo them; a conflicting status follows the
//! documented rule (the vendor wins, Tandem's value in the change log); a refused write ends
//! `FAILED` with a clear error; an opted-out integration queues nothing; another tenant can
//! neither map teams nor see the jobs.
//!
//! The helper is table-driven over the vendor ([`Vendor`]): ConnectWise, Autotask and HaloPSA,
//! each in its own request shapes.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use entities::enums::{PsaWriteKind, PsaWriteStatus, TicketStatus};
use entities::{change_log_entry, outbox_event, psa_write, ticket, ticket_note};
use integrations::mock::{self, Fault, MockServer};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use tests::{TEST_SECRET_KEY, TestApp, sync as run};
use uuid::Uuid;

use crate::sync::integration;

/// One PSA under test: how to start its mock, which of its tickets the matrix routes to the
/// mapped team, and the request shapes it must receive.
struct Vendor {
    kind: &'static str,
    /// Vendor company id to environment name.
    companies: &'static [(&'static str, &'static str)],
    /// The vendor id of a ticket of a company whose environment's service desk is the
    /// provider's Service Desk team.
    routed: &'static str,
    /// The vendor id of a ticket routed to a team of the client (never mapped).
    unmapped: &'static str,
    /// The vendor assignee the Service Desk team is mapped to.
    group: &'static str,
    member: &'static str,
    /// `(method, path, body)` of an assignment of `routed`.
    assign: fn() -> (String, String, Value),
    /// Of a note with `text` and visibility.
    note: fn(&str, bool) -> (String, String, Value),
    /// Of a status change to the vendor's `status`.
    status: fn(&str) -> (String, String, Value),
    /// The vendor's value of Tandem's `IN_PROGRESS`, `WAITING` and `NEW`, and a label the
    /// vendor moves the ticket to itself in the conflict.
    in_progress: &'static str,
    waiting: &'static str,
    /// Moves the vendor's ticket `routed` to its resolved status, as a person in the PSA would.
    resolve_in_vendor: fn(&MockServer),
    /// Tandem's status of the vendor's resolved status.
    resolved: TicketStatus,
    resolved_name: &'static str,
    /// The path suffix a status write of `routed` goes to (refused in the test).
    status_path: &'static str,
    /// A credential of the mock's configuration, never to be shown.
    secret: &'static str,
}

async fn start(vendor: &Vendor) -> MockServer {
    match vendor.kind {
        "CONNECTWISE_MANAGE" => {
            mock::connectwise::start(mock::connectwise::fixture(
                3,
                3,
                Utc::now() - chrono::Duration::hours(1),
            ))
            .await
        }
        "AUTOTASK" => {
            mock::autotask::start(mock::autotask::fixture(
                3,
                3,
                Utc::now() - chrono::Duration::hours(1),
            ))
            .await
        }
        "HALOPSA" => {
            mock::halopsa::start(mock::halopsa::fixture(
                3,
                3,
                Utc::now() - chrono::Duration::hours(1),
            ))
            .await
        }
        other => panic!("no mock for {other}"),
    }
}

fn configuration(vendor: &Vendor) -> (Value, Value) {
    match vendor.kind {
        "CONNECTWISE_MANAGE" => mock::connectwise::configuration(),
        "AUTOTASK" => mock::autotask::configuration(),
        "HALOPSA" => mock::halopsa::configuration(),
        other => panic!("no configuration for {other}"),
    }
}

const CW: &str = "/v2025_1/apis/3.0";
const AT: &str = mock::autotask::ROOT;

fn vendors() -> Vec<Vendor> {
    vec![
        Vendor {
            kind: "CONNECTWISE_MANAGE",
            companies: &[("250", "Production"), ("251", "Main Office")],
            routed: "48001",
            unmapped: "48000",
            group: "1",
            member: "181",
            assign: || {
                (
                    "PATCH".into(),
                    format!("{CW}/service/tickets/48001"),
                    json!([
                        { "op": "replace", "path": "board", "value": { "id": 1 } },
                        { "op": "replace", "path": "owner", "value": { "id": 181 } },
                    ]),
                )
            },
            note: |text, internal| {
                (
                    "POST".into(),
                    format!("{CW}/service/tickets/48001/notes"),
                    json!({ "text": text, "internalAnalysisFlag": internal, "detailDescriptionFlag": false }),
                )
            },
            status: |status| {
                (
                    "PATCH".into(),
                    format!("{CW}/service/tickets/48001"),
                    json!([{ "op": "replace", "path": "status", "value": { "id": status.parse::<i64>().unwrap() } }]),
                )
            },
            in_progress: "17",
            waiting: "18",
            resolve_in_vendor: |server| {
                let mut store = server.state.store();
                let found = store
                    .tickets
                    .iter_mut()
                    .find(|found| found["id"] == 48001)
                    .unwrap();
                found["status"] = json!({ "id": 19, "name": "Resolved" });
                found["_info"]["lastUpdated"] = json!(integrations::time::format(Utc::now()));
            },
            resolved: TicketStatus::Resolved,
            resolved_name: "RESOLVED",
            status_path: "/service/tickets/48001",
            secret: mock::connectwise::PRIVATE_KEY,
        },
        Vendor {
            kind: "AUTOTASK",
            companies: &[("170", "Production"), ("171", "Main Office")],
            routed: "30001",
            unmapped: "30000",
            // The queue; the resource with its role.
            group: "29682900",
            member: "29682999:29683500",
            assign: || {
                (
                    "PATCH".into(),
                    format!("{AT}/Tickets"),
                    json!({ "id": 30001, "queueID": 29_682_900, "assignedResourceID": 29_682_999, "assignedResourceRoleID": 29_683_500 }),
                )
            },
            note: |text, internal| {
                (
                    "POST".into(),
                    format!("{AT}/Tickets/30001/Notes"),
                    json!({
                        "ticketID": 30001,
                        "title": text.lines().next().unwrap(),
                        "description": text,
                        "noteType": 1,
                        "publish": if internal { 2 } else { 1 },
                    }),
                )
            },
            status: |status| {
                (
                    "PATCH".into(),
                    format!("{AT}/Tickets"),
                    json!({ "id": 30001, "status": status.parse::<i64>().unwrap() }),
                )
            },
            in_progress: "8",
            waiting: "7",
            resolve_in_vendor: |server| {
                let mut store = server.state.store();
                let found = store
                    .tickets
                    .iter_mut()
                    .find(|found| found["id"] == 30001)
                    .unwrap();
                found["status"] = json!(mock::autotask::status::COMPLETE);
                found["lastActivityDate"] = json!(mock::autotask::stamp(Utc::now()));
            },
            resolved: TicketStatus::Closed,
            resolved_name: "CLOSED",
            status_path: "/Tickets",
            secret: mock::autotask::SECRET,
        },
        Vendor {
            kind: "HALOPSA",
            companies: &[("57", "Production"), ("58", "Main Office")],
            routed: "18001",
            unmapped: "18000",
            // The team name; the agent id.
            group: "2nd Line",
            member: "21",
            assign: || {
                (
                    "POST".into(),
                    "/api/Tickets".into(),
                    json!([{ "id": 18001, "team": "2nd Line", "agent_id": 21 }]),
                )
            },
            note: |text, internal| {
                (
                    "POST".into(),
                    "/api/Actions".into(),
                    json!([{
                        "ticket_id": 18001,
                        "note": text,
                        "outcome": if internal { "Private Note" } else { "Note" },
                        "hiddenfromuser": internal,
                    }]),
                )
            },
            status: |status| {
                (
                    "POST".into(),
                    "/api/Tickets".into(),
                    json!([{ "id": 18001, "status_id": status.parse::<i64>().unwrap() }]),
                )
            },
            in_progress: "2",
            waiting: "18",
            resolve_in_vendor: |server| {
                let mut store = server.state.store();
                let found = store
                    .tickets
                    .iter_mut()
                    .find(|found| found["id"] == 18001)
                    .unwrap();
                found["status_id"] = json!(mock::halopsa::status::CLOSED);
                found["status_name"] = json!("Closed");
                found["dateclosed"] = json!(mock::halopsa::stamp(Utc::now()));
                found["last_update"] = json!(mock::halopsa::stamp(Utc::now()));
            },
            resolved: TicketStatus::Closed,
            resolved_name: "CLOSED",
            status_path: "/Tickets",
            secret: mock::halopsa::CLIENT_SECRET,
        },
    ]
}

fn worker() -> api::sync::writeback::Settings {
    api::sync::writeback::Settings {
        poll: Duration::from_millis(10),
        retry_base: Duration::from_millis(1),
        give_up_after: Duration::from_secs(24 * 3600),
        policy: integrations::http::RetryPolicy::fast(),
        egress: integrations::egress::Egress::ALLOW_PRIVATE,
        key: Some(Arc::new(
            integrations::secrets::SecretKey::parse(TEST_SECRET_KEY).unwrap(),
        )),
    }
}

/// Runs worker rounds (as `owner`, a server) until no job is pending, at most 200.
async fn drain(app: &TestApp, owner: &str) -> anyhow::Result<()> {
    let settings = worker();
    for _ in 0..200 {
        api::sync::writeback::round(&app.db, &settings, owner).await?;
        let pending = psa_write::Entity::find()
            .filter(psa_write::COLUMN.status.eq(PsaWriteStatus::Pending))
            .all(&app.db)
            .await?;
        if pending.is_empty() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    anyhow::bail!("jobs still pending after 200 rounds")
}

async fn ticket_of(app: &TestApp, external_id: &str) -> anyhow::Result<ticket::Model> {
    Ok(ticket::Entity::find()
        .filter(ticket::COLUMN.external_id.eq(external_id))
        .one(&app.db)
        .await?
        .unwrap_or_else(|| panic!("no ticket {external_id}")))
}

async fn jobs_of(app: &TestApp, ticket_id: Uuid) -> anyhow::Result<Vec<psa_write::Model>> {
    Ok(psa_write::Entity::find()
        .filter(psa_write::COLUMN.ticket_id.eq(ticket_id))
        .order_by_asc(psa_write::Column::Id)
        .all(&app.db)
        .await?)
}

/// Change log entries and outbox `ticket.changed` events of a ticket: what an echo would add.
async fn traces(app: &TestApp, ticket_id: Uuid) -> anyhow::Result<(usize, usize, usize)> {
    let entries = change_log_entry::Entity::find()
        .filter(change_log_entry::COLUMN.ticket_id.eq(ticket_id))
        .all(&app.db)
        .await?
        .len();
    let changed = outbox_event::Entity::find()
        .filter(outbox_event::COLUMN.subject_id.eq(ticket_id))
        .filter(outbox_event::COLUMN.event_type.eq("ticket.changed"))
        .all(&app.db)
        .await?
        .len();
    let notes = ticket_note::Entity::find()
        .filter(ticket_note::COLUMN.ticket_id.eq(ticket_id))
        .all(&app.db)
        .await?
        .len();
    Ok((entries, changed, notes))
}

fn written(server: &MockServer) -> Vec<(String, String, Value)> {
    server
        .state
        .writes()
        .into_iter()
        .map(|write| (write.method, write.path, write.body))
        .collect()
}

async fn service_desk(app: &TestApp) -> anyhow::Result<(Value, Uuid)> {
    let data = app
        .query(
            &app.provider_admin_token(),
            "{ teams(first: 50) { edges { node { id name organization { slug } } } } }",
            Value::Null,
        )
        .await?;
    let team = data["teams"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"].clone())
        .find(|team| team["name"] == "Service Desk")
        .expect("the provider's Service Desk team");
    let id = tests::decode_uuid(&team["id"]);
    Ok((team["id"].clone(), id))
}

async fn map_team(
    app: &TestApp,
    token: &str,
    integration: &Value,
    team: &Value,
    group: &str,
    member: &str,
) -> anyhow::Result<Value> {
    let (_, body) = app
        .graphql(
            Some(token),
            "mutation($input: MapIntegrationTeamInput!) { mapIntegrationTeam(input: $input) { integration { writeBack teamMappings(first: 5) { edges { node { team { name } group member } } } } userErrors { field code message } } }",
            json!({ "input": { "integrationId": integration, "teamId": team, "group": group, "member": member } }),
        )
        .await?;
    Ok(body)
}

async fn change_status(app: &TestApp, ticket_id: Uuid, status: &str) -> anyhow::Result<()> {
    let id = api::ids::encode(api::ids::NodeType::Ticket, ticket_id);
    let data = app
        .query(
            &app.provider_admin_token(),
            "mutation($input: ChangeTicketStatusInput!) { changeTicketStatus(input: $input) { userErrors { message } } }",
            json!({ "input": { "id": id, "status": status } }),
        )
        .await?;
    assert_eq!(
        data["changeTicketStatus"]["userErrors"],
        json!([]),
        "{data}"
    );
    Ok(())
}

#[tokio::test]
async fn routed_assignment_and_note_arrive_once_tandem_changes_are_pushed_and_never_echoed()
-> anyhow::Result<()> {
    for vendor in vendors() {
        let app = TestApp::spawn_with_demo().await?;
        let server = start(&vendor).await;
        let (mut settings, credentials) = configuration(&vendor);
        settings["writeBack"] = json!(true);
        let (integration_id, _) = integration(
            &app,
            vendor.kind,
            &server.url,
            (settings, credentials),
            vendor.companies,
        )
        .await?;
        let (team, team_id) = service_desk(&app).await?;
        let mapped = map_team(
            &app,
            &app.provider_admin_token(),
            &integration_id,
            &team,
            vendor.group,
            vendor.member,
        )
        .await?;
        let payload = &mapped["data"]["mapIntegrationTeam"];
        assert_eq!(payload["userErrors"], json!([]), "{mapped}");
        assert_eq!(payload["integration"]["writeBack"], true);
        assert_eq!(
            payload["integration"]["teamMappings"]["edges"][0]["node"],
            json!({ "team": { "name": "Service Desk" }, "group": vendor.group, "member": vendor.member })
        );

        // The sync routes the ticket to the Service Desk and queues its assignment and note in
        // the page's transaction; a ticket routed to the client's own team queues nothing.
        run(&app, decode(&integration_id)).await;
        let routed = ticket_of(&app, vendor.routed).await?;
        assert_eq!(routed.assigned_team_id, Some(team_id), "{routed:?}");
        let jobs = jobs_of(&app, routed.id).await?;
        let kinds: Vec<_> = jobs.iter().map(|job| (job.kind, job.status)).collect();
        assert_eq!(
            kinds,
            [
                (PsaWriteKind::Assign, PsaWriteStatus::Pending),
                (PsaWriteKind::Note, PsaWriteStatus::Pending)
            ]
        );
        let unmapped = ticket_of(&app, vendor.unmapped).await?;
        assert!(
            unmapped
                .assigned_team_id
                .is_some_and(|team| team != team_id)
        );
        assert!(jobs_of(&app, unmapped.id).await?.is_empty());
        assert!(server.state.writes().is_empty(), "nothing sent by the sync");

        // A 429 then a 500: the HTTP layer sends the write again after the 429 (the vendor
        // did not apply it), never after the 500 (it may have); the queue retries that. Each
        // write arrives once, in order.
        server.state.inject([
            Fault::RateLimited { retry_after: 0 },
            Fault::ServerError(500),
        ]);
        // The first round takes only the ticket's oldest job (the assignment), which the 500
        // fails; the note waits behind it.
        api::sync::writeback::round(&app.db, &worker(), "server-a").await?;
        let after_one = jobs_of(&app, routed.id).await?;
        assert_eq!(after_one[0].attempts, 1);
        assert_eq!(
            after_one[1].attempts, 0,
            "the note waits for the assignment"
        );
        assert!(
            after_one[0].last_error.as_deref().unwrap().contains("500"),
            "{}: {:?}",
            vendor.kind,
            after_one[0].last_error
        );
        // Another server (a restart) takes over from the stored queue.
        drain(&app, "server-b").await?;
        let reason = routed.routing_reason.clone().unwrap();
        let routing_note = format!("Routed by Tandem: {reason}");
        assert_eq!(
            written(&server),
            vec![(vendor.assign)(), (vendor.note)(&routing_note, true)]
        );
        let jobs = jobs_of(&app, routed.id).await?;
        assert!(
            jobs.iter().all(|job| job.status == PsaWriteStatus::Done),
            "{jobs:?}"
        );
        assert_eq!(jobs[0].attempts, 2, "429 sent again and 500, then accepted");
        assert!(jobs[1].vendor_id.is_some());

        // The next sync reads the note and the moved ticket back: no echo.
        let before = traces(&app, routed.id).await?;
        run(&app, decode(&integration_id)).await;
        assert_eq!(
            traces(&app, routed.id).await?,
            before,
            "the routing write is not echoed"
        );

        // A note and a status change made in Tandem are pushed, once each.
        let ticket_gid = api::ids::encode(api::ids::NodeType::Ticket, routed.id);
        let noted = app
            .query(
                &app.provider_admin_token(),
                "mutation($input: AddTicketNoteInput!) { addTicketNote(input: $input) { userErrors { message } } }",
                json!({ "input": { "ticketId": ticket_gid, "body": "Replaced the NIC driver." } }),
            )
            .await?;
        assert_eq!(noted["addTicketNote"]["userErrors"], json!([]));
        // (The fixture's ticket is in progress already.)
        change_status(&app, routed.id, "WAITING").await?;
        drain(&app, "server-b").await?;
        let all = written(&server);
        assert_eq!(
            all[2..],
            [
                (vendor.note)("Replaced the NIC driver.", false),
                (vendor.status)(vendor.waiting)
            ]
        );
        let before = traces(&app, routed.id).await?;
        run(&app, decode(&integration_id)).await;
        assert_eq!(
            traces(&app, routed.id).await?,
            before,
            "Tandem's note and status are not echoed"
        );
        let now = ticket_of(&app, vendor.routed).await?;
        assert_eq!(now.status, TicketStatus::Waiting);

        // The jobs are visible on the ticket, without credentials.
        let seen = app
            .query(
                &app.provider_admin_token(),
                "query($id: ID!) { node(id: $id) { ... on Ticket { psaWrites(first: 10) { edges { node { kind status attempts lastError vendorId } } } } } }",
                json!({ "id": ticket_gid }),
            )
            .await?;
        let edges = seen["node"]["psaWrites"]["edges"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(edges.len(), 4, "{seen}");
        assert_eq!(edges[0]["node"]["kind"], "ASSIGN");
        assert_eq!(edges[0]["node"]["status"], "DONE");
        assert!(!seen.to_string().contains(vendor.secret));

        // A conflict: Tandem sets IN_PROGRESS, the vendor resolves the ticket before the push
        // goes out. The vendor wins, the push is dropped, Tandem's value is in the change log.
        change_status(&app, routed.id, "IN_PROGRESS").await?;
        (vendor.resolve_in_vendor)(&server);
        run(&app, decode(&integration_id)).await;
        let jobs = jobs_of(&app, routed.id).await?;
        let last = jobs.last().unwrap();
        assert_eq!(last.kind, PsaWriteKind::Status);
        assert_eq!(last.status, PsaWriteStatus::Dropped, "{last:?}");
        assert_eq!(
            ticket_of(&app, vendor.routed).await?.status,
            vendor.resolved,
            "{}",
            vendor.kind
        );
        let conflict = change_log_entry::Entity::find()
            .filter(change_log_entry::COLUMN.ticket_id.eq(routed.id))
            .all(&app.db)
            .await?
            .into_iter()
            .find(|entry| entry.details.get("conflict").is_some())
            .expect("the conflict is in the change log");
        assert_eq!(conflict.details["conflict"]["winner"], "vendor");
        assert_eq!(
            conflict.details["conflict"]["tandem"]["status"],
            "IN_PROGRESS"
        );
        assert_eq!(
            conflict.details["conflict"]["tandem"]["pushed"],
            json!([vendor.in_progress])
        );
        assert_eq!(
            conflict.details["conflict"]["vendor"]["status"],
            vendor.resolved_name
        );
        drain(&app, "server-b").await?;
        assert_eq!(written(&server).len(), 4, "the dropped push is never sent");

        // A refused write ends FAILED with a clear error and changes nothing else.
        server.state.refuse_path(vendor.status_path, 400);
        change_status(&app, routed.id, "WAITING").await?;
        drain(&app, "server-b").await?;
        server.state.allow_all();
        let failed = jobs_of(&app, routed.id).await?.pop().unwrap();
        assert_eq!(failed.status, PsaWriteStatus::Failed);
        assert_eq!(failed.attempts, 1, "a refusal is not retried");
        assert_eq!(
            failed.last_error.as_deref(),
            Some("the vendor answered 400")
        );
        assert_eq!(written(&server).len(), 4);
        assert_eq!(
            ticket_of(&app, vendor.routed).await?.status,
            TicketStatus::Waiting
        );

        // Opted out: nothing is queued any more.
        let off = app
            .query(
                &app.provider_admin_token(),
                "mutation($input: UpdateIntegrationInput!) { updateIntegration(input: $input) { integration { writeBack } userErrors { message } } }",
                json!({ "input": { "id": integration_id, "settings": configuration(&vendor).0 } }),
            )
            .await?;
        assert_eq!(
            off["updateIntegration"]["integration"]["writeBack"], false,
            "{off}"
        );
        let count = jobs_of(&app, routed.id).await?.len();
        change_status(&app, routed.id, "IN_PROGRESS").await?;
        assert_eq!(jobs_of(&app, routed.id).await?.len(), count);
        app.stop().await?;
    }
    Ok(())
}

fn decode(id: &Value) -> Uuid {
    tests::decode_uuid(id)
}

/// A demo server with `vendor`'s integration (write-back on, the Service Desk mapped), synced
/// once: the routed ticket's assignment and note are queued, nothing sent.
async fn synced_with_write_back(vendor: &Vendor) -> anyhow::Result<(TestApp, MockServer, Value)> {
    let app = TestApp::spawn_with_demo().await?;
    let server = start(vendor).await;
    let (mut settings, credentials) = configuration(vendor);
    settings["writeBack"] = json!(true);
    let (integration_id, _) = integration(
        &app,
        vendor.kind,
        &server.url,
        (settings, credentials),
        vendor.companies,
    )
    .await?;
    let (team, _) = service_desk(&app).await?;
    let mapped = map_team(
        &app,
        &app.provider_admin_token(),
        &integration_id,
        &team,
        vendor.group,
        vendor.member,
    )
    .await?;
    assert_eq!(
        mapped["data"]["mapIntegrationTeam"]["userErrors"],
        json!([]),
        "{mapped}"
    );
    run(&app, decode(&integration_id)).await;
    Ok((app, server, integration_id))
}

#[tokio::test]
async fn a_note_the_vendor_already_has_is_not_written_again_after_a_crash() -> anyhow::Result<()> {
    for vendor in vendors() {
        let (app, server, integration_id) = synced_with_write_back(&vendor).await?;
        let routed = ticket_of(&app, vendor.routed).await?;
        // The assignment goes out; then a server writes the note and dies before recording it:
        // the vendor has the note, the job is pending with its attempt counted.
        api::sync::writeback::round(&app.db, &worker(), "server-a").await?;
        let jobs = jobs_of(&app, routed.id).await?;
        assert_eq!(jobs[0].status, PsaWriteStatus::Done);
        let note = &jobs[1];
        let text = format!(
            "Routed by Tandem: {}",
            routed.routing_reason.clone().unwrap()
        );
        let connector = api::sync::engine::connector_for(
            worker().key.as_deref(),
            &entities::integration::Entity::find_by_id(decode(&integration_id))
                .one(&app.db)
                .await?
                .unwrap(),
            integrations::http::RetryPolicy::fast(),
            integrations::egress::Egress::ALLOW_PRIVATE,
        )?;
        let receipt = connector
            .write_ticket(
                vendor.routed,
                &integrations::connector::TicketWrite::Note {
                    text,
                    internal: true,
                },
            )
            .await?;
        psa_write::Entity::update_many()
            .col_expr(
                psa_write::Column::Attempts,
                sea_orm::sea_query::Expr::value(1),
            )
            .filter(psa_write::COLUMN.id.eq(note.id))
            .exec(&app.db)
            .await?;
        drain(&app, "server-b").await?;
        let writes = written(&server);
        assert_eq!(writes.len(), 2, "the note was written once: {writes:?}");
        let done = jobs_of(&app, routed.id).await?.pop().unwrap();
        assert_eq!(done.status, PsaWriteStatus::Done);
        assert_eq!(
            done.vendor_id, receipt.created_id,
            "the vendor's note is taken as the job's"
        );
        // And the sync knows it as Tandem's own.
        let before = traces(&app, routed.id).await?;
        run(&app, decode(&integration_id)).await;
        assert_eq!(traces(&app, routed.id).await?, before);
        app.stop().await?;
    }
    Ok(())
}

#[tokio::test]
async fn only_the_integrations_admins_map_its_teams_only_to_psas_and_tenants_see_only_their_jobs()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let vendor = &vendors()[0];
    let server = start(vendor).await;
    let (mut settings, credentials) = configuration(vendor);
    settings["writeBack"] = json!(true);
    let (integration_id, _) = integration(
        &app,
        vendor.kind,
        &server.url,
        (settings, credentials),
        vendor.companies,
    )
    .await?;
    let (team, _) = service_desk(&app).await?;

    // The client the integration feeds sees it read-only: it may not map teams.
    let other = map_team(
        &app,
        &app.client_admin_token(),
        &integration_id,
        &team,
        "1",
        "181",
    )
    .await?;
    assert_eq!(
        other["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{other}"
    );
    // A team of another organization (the client's) cannot be mapped.
    let client_team = app
        .query(
            &app.client_admin_token(),
            "{ teams(first: 50) { edges { node { id organization { slug } } } } }",
            Value::Null,
        )
        .await?["teams"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| edge["node"].clone())
        .find(|team| team["organization"]["slug"] != "northwind-msp")
        .expect("a client team");
    let refused = map_team(
        &app,
        &app.provider_admin_token(),
        &integration_id,
        &client_team["id"],
        "1",
        "181",
    )
    .await?;
    assert_eq!(
        refused["data"]["mapIntegrationTeam"]["userErrors"],
        json!([{ "field": ["input", "teamId"], "code": "NOT_FOUND", "message": "no team of the integration's organization has this id" }])
    );
    // An empty group is refused; mapping twice changes the one mapping.
    let empty = map_team(
        &app,
        &app.provider_admin_token(),
        &integration_id,
        &team,
        " ",
        "181",
    )
    .await?;
    assert_eq!(
        empty["data"]["mapIntegrationTeam"]["userErrors"][0]["field"],
        json!(["input", "group"])
    );
    // ConnectWise ids are numbers: a board's name or a member's login is refused when saved,
    // not when every job fails on it.
    for (group, member, field) in [("Help Desk", "181", "group"), ("1", "jsmith", "member")] {
        let named = map_team(
            &app,
            &app.provider_admin_token(),
            &integration_id,
            &team,
            group,
            member,
        )
        .await?;
        assert_eq!(
            named["data"]["mapIntegrationTeam"]["userErrors"][0]["field"],
            json!(["input", field]),
            "{named}"
        );
        assert_eq!(
            named["data"]["mapIntegrationTeam"]["userErrors"][0]["code"],
            "INVALID"
        );
    }
    map_team(
        &app,
        &app.provider_admin_token(),
        &integration_id,
        &team,
        "1",
        "181",
    )
    .await?;
    let again = map_team(
        &app,
        &app.provider_admin_token(),
        &integration_id,
        &team,
        "1",
        "190",
    )
    .await?;
    let edges = &again["data"]["mapIntegrationTeam"]["integration"]["teamMappings"]["edges"];
    assert_eq!(edges.as_array().unwrap().len(), 1);
    assert_eq!(edges[0]["node"]["member"], "190");

    // An RMM refuses write-back.
    let rmm = app
        .query(
            &app.provider_admin_token(),
            "mutation($input: CreateIntegrationInput!) { createIntegration(input: $input) { userErrors { field code message } } }",
            json!({ "input": { "name": "RMM", "kind": "NINJAONE", "baseUrl": "https://app.ninjarmm.com", "settings": { "writeBack": true } } }),
        )
        .await?;
    assert_eq!(
        rmm["createIntegration"]["userErrors"],
        json!([{ "field": ["input", "settings", "writeBack"], "code": "INVALID", "message": "`writeBack` is for PSAs only: Tandem does not write to Ninjaone" }])
    );

    // The jobs of the provider's ticket of Cedar are not Harbor's to see.
    run(&app, decode(&integration_id)).await;
    let routed = ticket_of(&app, vendor.routed).await?;
    let id = api::ids::encode(api::ids::NodeType::Ticket, routed.id);
    let harbor = app
        .query(&app.client_admin_token(), "query($id: ID!) { node(id: $id) { ... on Ticket { psaWrites(first: 5) { edges { node { status } } } } } }", json!({ "id": id }))
        .await?;
    assert_eq!(harbor["node"], Value::Null);
    app.stop().await
}

#[tokio::test]
async fn two_servers_draining_the_queue_at_the_same_instant_send_each_write_once()
-> anyhow::Result<()> {
    for vendor in vendors() {
        let (app, server, _) = synced_with_write_back(&vendor).await?;
        let routed = ticket_of(&app, vendor.routed).await?;
        // A vendor slow enough that both servers' rounds overlap each send.
        server.state.set_latency(Duration::from_millis(40));
        let (a, b) = tokio::join!(drain(&app, "server-a"), drain(&app, "server-b"));
        a?;
        b?;
        let writes = written(&server);
        assert_eq!(
            writes.len(),
            2,
            "the assignment and the note, once each: {writes:?}"
        );
        let jobs = jobs_of(&app, routed.id).await?;
        assert!(
            jobs.iter()
                .all(|job| job.status == PsaWriteStatus::Done && job.attempts == 1),
            "{jobs:?}"
        );
        app.stop().await?;
    }
    Ok(())
}
