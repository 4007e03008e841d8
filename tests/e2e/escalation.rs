//! The escalation engine on a test clock: routed alerts and tickets nobody answers walk their
//! entry's escalation path step by step, recorded on the item and in the change log; answering
//! stops it; two runs at once, or a second server after a restart, neither lose nor double a
//! step; an entry without a path escalates once, on the response target's breach.
//!
//! The demo's Harbor entries have a three-step path: the responsible team by TICKET, 30 minutes,
//! Harbor's admin by PHONE, 60 minutes, then the vCIO team by EMAIL.

use api::services::escalation::{EscalationRun, escalate_due};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use entities::enums::Role;
use entities::{change_log_entry, escalation};
use futures_util::StreamExt;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use tests::{TestApp, decode_uuid, test_server_settings};

const STATE: &str = "escalationLevel nextEscalationAt status sla { responseDueAt resolutionDueAt respondedAt responseBreached resolutionBreached calendar } assignedTeam { name } escalations { position channel reason dueAt escalatedAt team { name } person { displayName } }";

/// The demo's Harbor production environment and its EHR server's NinjaOne device id.
pub(crate) async fn harbor(app: &TestApp) -> anyhow::Result<(Value, String)> {
    let data = app
        .query(&app.client_admin_token(), "{ environments(first: 1) { edges { node { id } } } systems(filter: { text: \"HHP-EHR-APP01\" }) { edges { node { externalIds { source externalId } } } } }", Value::Null)
        .await?;
    let device = data["systems"]["edges"][0]["node"]["externalIds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|link| link["source"] == "NINJAONE")
        .expect("the EHR server is linked to NinjaOne")["externalId"]
        .as_str()
        .unwrap()
        .to_owned();
    Ok((
        data["environments"]["edges"][0]["node"]["id"].clone(),
        device,
    ))
}

/// An instant of the test clock, at the precision both databases keep.
fn clock(days_ago: i64) -> DateTime<Utc> {
    (Utc::now() - Duration::days(days_ago)).trunc_subsecs(0)
}

fn at(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("an instant, not {value}"))
        .parse()
        .unwrap()
}

/// Raises an alert through the sync token's bulk upsert: routed by the matrix as it was then.
pub(crate) async fn raise(
    app: &TestApp,
    external_id: &str,
    severity: &str,
    raised_at: DateTime<Utc>,
) -> anyhow::Result<Value> {
    let (environment, device) = harbor(app).await?;
    let sync = app.token("demo|northwind-sync", "northwind-msp", Role::Integration);
    let data = app
        .query(
            &sync,
            "mutation($input: UpsertAlertsInput!) { upsertAlerts(input: $input) { results { node { id } } userErrors { message } } }",
            json!({ "input": { "source": { "kind": "NINJAONE" }, "records": [
                { "externalId": external_id, "environmentId": environment, "message": format!("Backup job failed ({external_id})"), "severity": severity, "raisedAt": raised_at.to_rfc3339(), "systemExternalId": device, "functionKey": "backup_recovery" },
            ] } }),
        )
        .await?;
    assert_eq!(data["upsertAlerts"]["userErrors"], json!([]), "{data}");
    Ok(data["upsertAlerts"]["results"][0]["node"]["id"].clone())
}

async fn alert(app: &TestApp, id: &Value) -> anyhow::Result<Value> {
    Ok(app
        .query(
            &app.client_admin_token(),
            &format!("query($id: ID!) {{ alert(id: $id) {{ message {STATE} }} }}"),
            json!({ "id": id }),
        )
        .await?["alert"]
        .clone())
}

async fn escalate(app: &TestApp, now: DateTime<Utc>) -> anyhow::Result<EscalationRun> {
    Ok(escalate_due(&app.db, None, now).await?)
}

/// The escalation rows of alert `id`, by position.
async fn rows(app: &TestApp, id: &Value) -> anyhow::Result<Vec<escalation::Model>> {
    Ok(escalation::Entity::find()
        .filter(escalation::COLUMN.alert_id.eq(decode_uuid(id)))
        .order_by_asc(escalation::Column::Position)
        .all(&app.db)
        .await?)
}

async fn acknowledge(app: &TestApp, id: &Value) -> anyhow::Result<()> {
    let data = app
        .query(
            &app.client_admin_token(),
            "mutation($id: ID!) { acknowledgeAlert(input: { id: $id }) { userErrors { message } } }",
            json!({ "id": id }),
        )
        .await?;
    assert_eq!(data["acknowledgeAlert"]["userErrors"], json!([]), "{data}");
    Ok(())
}

#[tokio::test]
async fn an_unacknowledged_alert_escalates_step_by_step_and_stops_when_acknowledged()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let t0 = clock(2);
    let id = raise(&app, "ESC-1", "HIGH", t0).await?;

    // Routed with the entry's HIGH target (60 min, around the clock), not yet escalated: the
    // first step is due at once.
    let routed = alert(&app, &id).await?;
    assert_eq!(routed["escalationLevel"], 0);
    assert_eq!(at(&routed["nextEscalationAt"]), t0);
    assert_eq!(
        at(&routed["sla"]["responseDueAt"]),
        t0 + Duration::minutes(60)
    );
    assert_eq!(
        at(&routed["sla"]["resolutionDueAt"]),
        t0 + Duration::minutes(480)
    );
    assert_eq!(routed["sla"]["calendar"], "ALWAYS");
    // Judged now, two days later, it is breached.
    assert_eq!(routed["sla"]["responseBreached"], true);
    assert_eq!(routed["escalations"], json!([]));
    let team = routed["assignedTeam"]["name"].as_str().unwrap().to_owned();

    // Step 1 at routing: the responsible team, by ticket.
    escalate(&app, t0).await?;
    let first = alert(&app, &id).await?;
    assert_eq!(first["escalationLevel"], 1);
    assert_eq!(at(&first["nextEscalationAt"]), t0 + Duration::minutes(30));
    assert_eq!(first["escalations"].as_array().unwrap().len(), 1);
    let step = &first["escalations"][0];
    assert_eq!(step["position"], 1);
    assert_eq!(step["channel"], "TICKET");
    assert_eq!(step["reason"], "routed");
    assert_eq!(step["team"]["name"], team.as_str());
    assert_eq!(step["person"], Value::Null);
    assert_eq!(at(&step["dueAt"]), t0);
    assert_eq!(at(&step["escalatedAt"]), t0);

    // A minute early nothing moves.
    escalate(&app, t0 + Duration::minutes(29)).await?;
    assert_eq!(alert(&app, &id).await?["escalationLevel"], 1);

    // After 30 minutes: step 2, Harbor's admin by phone.
    escalate(&app, t0 + Duration::minutes(30)).await?;
    let second = alert(&app, &id).await?;
    assert_eq!(second["escalationLevel"], 2);
    assert_eq!(at(&second["nextEscalationAt"]), t0 + Duration::minutes(90));
    let step = &second["escalations"][1];
    assert_eq!(step["position"], 2);
    assert_eq!(step["channel"], "PHONE");
    assert_eq!(
        step["reason"],
        "after 30 min without acknowledgement at step 1"
    );
    assert_eq!(step["team"], Value::Null);
    assert_eq!(step["person"]["displayName"], "Dana Whitfield");

    // Each escalation is in the change log, recorded by Tandem itself.
    let entries = change_log_entry::Entity::find()
        .filter(change_log_entry::COLUMN.summary.contains("(ESC-1)"))
        .filter(change_log_entry::COLUMN.summary.starts_with("Escalated"))
        .order_by_asc(change_log_entry::Column::RecordedAt)
        .all(&app.db)
        .await?;
    let summaries: Vec<&str> = entries.iter().map(|entry| entry.summary.as_str()).collect();
    assert_eq!(
        summaries,
        vec![
            format!("Escalated alert: Backup job failed (ESC-1) to {team} by TICKET (step 1): routed"),
            "Escalated alert: Backup job failed (ESC-1) to Dana Whitfield by PHONE (step 2): after 30 min without acknowledgement at step 1".to_owned(),
        ]
    );
    assert!(
        entries.iter().all(
            |entry| entry.principal == entities::enums::Principal::System
                && entry.actor_id.is_none()
                && entry.category == entities::enums::ChangeCategory::Incident
        ),
        "{entries:?}"
    );
    assert_eq!(entries[1].occurred_at, t0 + Duration::minutes(30));

    // Acknowledged: it stops, whatever the clock says later.
    acknowledge(&app, &id).await?;
    let acknowledged = alert(&app, &id).await?;
    assert_eq!(acknowledged["nextEscalationAt"], Value::Null);
    assert_eq!(acknowledged["sla"]["responseBreached"], true);
    escalate(&app, t0 + Duration::days(1)).await?;
    let after = alert(&app, &id).await?;
    assert_eq!(after["escalationLevel"], 2);
    assert_eq!(after["escalations"].as_array().unwrap().len(), 2);
    assert_eq!(rows(&app, &id).await?.len(), 2);
    app.stop().await
}

#[tokio::test]
async fn a_restart_in_the_middle_loses_and_doubles_nothing() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let t0 = clock(2);
    let id = raise(&app, "ESC-2", "HIGH", t0).await?;
    escalate(&app, t0).await?;
    assert_eq!(
        rows(&app, &id)
            .await?
            .iter()
            .map(|row| row.position)
            .collect::<Vec<_>>(),
        vec![1]
    );

    // The server stops after step 1 was committed; a new one starts on the same database and
    // runs its engine in the background, on the wall clock: it catches up steps 2 and 3, each
    // once, from the schedule fixed at routing. The test's own runs race it meanwhile.
    let settings = api::config::ServerSettings {
        escalation_interval: std::time::Duration::from_millis(50),
        ..test_server_settings()
    };
    let restarted = app.spawn_beside(settings).await?;
    let other = app.test_db.connect().await?;
    let now = Utc::now();
    let (first, second) = tokio::join!(
        escalate_due(&app.db, None, now),
        escalate_due(&other, None, now)
    );
    let (first, second) = (first?, second?);
    assert_eq!(first.failed + second.failed, 0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while rows(&app, &id).await?.len() < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let recorded = rows(&app, &id).await?;
    assert_eq!(
        recorded
            .iter()
            .map(|row| (row.position, row.due_at))
            .collect::<Vec<_>>(),
        vec![
            (1, t0),
            (2, t0 + Duration::minutes(30)),
            (3, t0 + Duration::minutes(90)),
        ]
    );
    let state = alert(&app, &id).await?;
    assert_eq!(state["escalationLevel"], 3);
    assert_eq!(state["nextEscalationAt"], Value::Null);
    assert_eq!(state["escalations"][2]["channel"], "EMAIL");
    assert_eq!(
        state["escalations"][2]["reason"],
        "after 60 min without acknowledgement at step 2"
    );
    // Past the last step nothing more is due, on any server.
    escalate(&app, now + Duration::days(30)).await?;
    escalate_due(&restarted.db, None, now + Duration::days(30)).await?;
    assert_eq!(rows(&app, &id).await?.len(), 3);
    let entries = change_log_entry::Entity::find()
        .filter(change_log_entry::COLUMN.summary.contains("(ESC-2)"))
        .filter(change_log_entry::COLUMN.summary.starts_with("Escalated"))
        .all(&app.db)
        .await?;
    assert_eq!(entries.len(), 3);
    drop(other);
    restarted.stop().await?;
    app.stop().await
}

#[tokio::test]
async fn two_runs_at_the_same_instant_record_each_escalation_once() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let t0 = clock(3);
    let ids = [
        raise(&app, "ESC-3", "HIGH", t0).await?,
        raise(&app, "ESC-4", "CRITICAL", t0 + Duration::minutes(1)).await?,
    ];
    let other = app.test_db.connect().await?;
    // Three instants, each run twice at once from two pools (two servers).
    for minutes in [0, 31, 91] {
        let now = t0 + Duration::minutes(minutes);
        let (first, second) = tokio::join!(
            escalate_due(&app.db, None, now),
            escalate_due(&other, None, now)
        );
        let (first, second) = (first?, second?);
        assert_eq!(first.failed + second.failed, 0);
    }
    for id in &ids {
        let positions: Vec<i32> = rows(&app, id)
            .await?
            .iter()
            .map(|row| row.position)
            .collect();
        assert_eq!(positions, vec![1, 2, 3], "{id}");
    }
    // The unique (item, step) pair refuses a second row whatever writes it.
    let first = rows(&app, &ids[0]).await?.remove(0);
    let copy = escalation::Model {
        id: uuid::Uuid::now_v7(),
        ..first
    };
    let refused = sea_orm::ActiveModelTrait::insert(
        sea_orm::IntoActiveModel::into_active_model(copy),
        &app.db,
    )
    .await;
    assert!(
        matches!(
            refused.as_ref().map_err(sea_orm::DbErr::sql_err),
            Err(Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
        ),
        "{refused:?}"
    );
    drop(other);
    app.stop().await
}

#[tokio::test]
async fn escalations_are_published_to_subscribers_of_the_bus() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let t0 = clock(2);
    let id = raise(&app, "ESC-5", "HIGH", t0).await?;
    let bus = api::events::EventBus::default();
    let mut events = Box::pin(bus.subscribe());
    escalate_due(&app.db, Some(&bus), t0).await?;
    let alert_id = decode_uuid(&id);
    let mut found = None;
    while let Ok(Some(event)) =
        tokio::time::timeout(std::time::Duration::from_secs(2), events.next()).await
    {
        if let api::events::Event::Escalated { escalation, .. } = &*event
            && escalation.alert_id == Some(alert_id)
        {
            found = Some(escalation.clone());
            break;
        }
    }
    let found = found.expect("an Escalated event for the alert");
    assert_eq!((found.position, found.reason.as_str()), (1, "routed"));
    app.stop().await
}

/// A ticket opened in Tandem, routed to the service desk entry.
async fn open_ticket(app: &TestApp, title: &str) -> anyhow::Result<Value> {
    let (environment, _) = harbor(app).await?;
    let data = app
        .query(
            &app.client_admin_token(),
            &format!("mutation($input: CreateTicketInput!) {{ createTicket(input: $input) {{ ticket {{ id createdAt {STATE} }} userErrors {{ message }} }} }}"),
            json!({ "input": { "environmentId": environment, "title": title, "priority": "HIGH" } }),
        )
        .await?;
    assert_eq!(data["createTicket"]["userErrors"], json!([]), "{data}");
    Ok(data["createTicket"]["ticket"].clone())
}

async fn ticket(app: &TestApp, id: &Value) -> anyhow::Result<Value> {
    Ok(app
        .query(
            &app.client_admin_token(),
            &format!("query($id: ID!) {{ ticket(id: $id) {{ respondedAt {STATE} }} }}"),
            json!({ "id": id }),
        )
        .await?["ticket"]
        .clone())
}

#[tokio::test]
async fn a_ticket_stops_escalating_once_responded_to() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let opened = open_ticket(&app, "Scanner offline").await?;
    let id = opened["id"].clone();
    let t0 = at(&opened["createdAt"]);
    assert_eq!(at(&opened["nextEscalationAt"]), t0);
    assert_eq!(
        at(&opened["sla"]["responseDueAt"]),
        t0 + Duration::minutes(60)
    );
    escalate(&app, t0).await?;
    escalate(&app, t0 + Duration::minutes(30)).await?;
    let escalated = ticket(&app, &id).await?;
    assert_eq!(escalated["escalationLevel"], 2);
    assert_eq!(
        escalated["escalations"][1]["reason"],
        "after 30 min without a response at step 1"
    );

    // The ticket went to a team of one side; a note by the other side is not a response.
    let side = app
        .query(
            &app.client_admin_token(),
            "query($id: ID!) { ticket(id: $id) { assignedTeam { organization { kind } } } }",
            json!({ "id": id }),
        )
        .await?["ticket"]["assignedTeam"]["organization"]["kind"]
        .clone();
    let (assigned, other) = if side == "CLIENT" {
        (app.client_admin_token(), app.provider_admin_token())
    } else {
        (app.provider_admin_token(), app.client_admin_token())
    };
    let note = |token: String, body: &'static str| {
        let (app, id) = (&app, &id);
        async move {
            let data = app
                .query(
                    &token,
                    "mutation($id: ID!, $body: String!) { addTicketNote(input: { ticketId: $id, body: $body }) { userErrors { message } } }",
                    json!({ "id": id, "body": body }),
                )
                .await?;
            assert_eq!(data["addTicketNote"]["userErrors"], json!([]), "{data}");
            anyhow::Ok(())
        }
    };
    note(other, "Any news?").await?;
    let waiting = ticket(&app, &id).await?;
    assert_eq!(waiting["respondedAt"], Value::Null);
    assert_eq!(at(&waiting["nextEscalationAt"]), t0 + Duration::minutes(90));

    // The assigned side answers: responded, and escalation stops.
    note(assigned, "On it.").await?;
    let responded = ticket(&app, &id).await?;
    assert!(responded["respondedAt"].is_string(), "{responded}");
    assert_eq!(responded["nextEscalationAt"], Value::Null);
    assert_eq!(responded["sla"]["respondedAt"], responded["respondedAt"]);
    assert_eq!(responded["sla"]["responseBreached"], false);
    escalate(&app, t0 + Duration::days(1)).await?;
    assert_eq!(ticket(&app, &id).await?["escalationLevel"], 2);
    app.stop().await
}

/// The tokens of the side `id` is assigned to, and of the other side.
async fn sides(app: &TestApp, id: &Value) -> anyhow::Result<(String, String)> {
    let side = app
        .query(
            &app.client_admin_token(),
            "query($id: ID!) { ticket(id: $id) { assignedTeam { organization { kind } } } }",
            json!({ "id": id }),
        )
        .await?["ticket"]["assignedTeam"]["organization"]["kind"]
        .clone();
    Ok(if side == "CLIENT" {
        (app.client_admin_token(), app.provider_admin_token())
    } else {
        (app.provider_admin_token(), app.client_admin_token())
    })
}

#[tokio::test]
async fn moving_a_ticket_on_from_new_is_its_response_only_by_the_assigned_side()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let opened = open_ticket(&app, "Printer jams").await?;
    let id = opened["id"].clone();
    let t0 = at(&opened["createdAt"]);
    escalate(&app, t0).await?;
    let (assigned, other) = sides(&app, &id).await?;
    let move_to = |token: String, status: &'static str| {
        let (app, id) = (&app, &id);
        async move {
            let data = app
                .query(
                    &token,
                    "mutation($id: ID!, $status: TicketStatus!) { changeTicketStatus(input: { id: $id, status: $status }) { ticket { respondedAt } userErrors { message } } }",
                    json!({ "id": id, "status": status }),
                )
                .await?;
            assert_eq!(
                data["changeTicketStatus"]["userErrors"],
                json!([]),
                "{data}"
            );
            anyhow::Ok(data["changeTicketStatus"]["ticket"]["respondedAt"].clone())
        }
    };

    // The requester's side moving it on answers nothing: escalation goes on.
    assert_eq!(move_to(other, "IN_PROGRESS").await?, Value::Null);
    let waiting = ticket(&app, &id).await?;
    assert_eq!(waiting["respondedAt"], Value::Null);
    assert_eq!(at(&waiting["nextEscalationAt"]), t0 + Duration::minutes(30));
    escalate(&app, t0 + Duration::minutes(30)).await?;
    assert_eq!(ticket(&app, &id).await?["escalationLevel"], 2);

    // The assigned side moving it is the response: escalation stops.
    let responded_at = move_to(assigned, "WAITING").await?;
    assert!(responded_at.is_string(), "{responded_at}");
    let responded = ticket(&app, &id).await?;
    assert_eq!(responded["respondedAt"], responded_at);
    assert_eq!(responded["nextEscalationAt"], Value::Null);
    escalate(&app, t0 + Duration::days(1)).await?;
    let later = ticket(&app, &id).await?;
    assert_eq!(later["escalationLevel"], 2);
    assert_eq!(later["escalations"].as_array().unwrap().len(), 2);
    app.stop().await
}

#[tokio::test]
async fn a_run_past_a_full_batch_of_cleared_items_still_escalates_the_next_due_one()
-> anyhow::Result<()> {
    use sea_orm::sea_query::Expr;
    let app = TestApp::spawn_with_demo().await?;
    let (environment, device) = harbor(&app).await?;
    let sync = app.token("demo|northwind-sync", "northwind-msp", Role::Integration);
    let t0 = clock(2);
    // 101 alerts due at t0 that are already past their path's last step (as after a path was
    // shortened): each is only cleared, and they fill a whole batch of the due order.
    let records: Vec<Value> = (0..101)
        .map(|n| json!({ "externalId": format!("PAST-{n}"), "environmentId": environment, "message": format!("Backup job failed (PAST-{n})"), "severity": "HIGH", "raisedAt": t0.to_rfc3339(), "systemExternalId": device, "functionKey": "backup_recovery" }))
        .collect();
    let data = app
        .query(
            &sync,
            "mutation($input: UpsertAlertsInput!) { upsertAlerts(input: $input) { userErrors { message } } }",
            json!({ "input": { "source": { "kind": "NINJAONE" }, "records": records } }),
        )
        .await?;
    assert_eq!(data["upsertAlerts"]["userErrors"], json!([]), "{data}");
    let past = entities::alert::Entity::update_many()
        .col_expr(entities::alert::Column::EscalationLevel, Expr::value(3))
        .filter(entities::alert::COLUMN.message.like("%(PAST-%"))
        .exec(&app.db)
        .await?;
    assert_eq!(past.rows_affected, 101);
    let next = raise(&app, "NEXT", "HIGH", t0 + Duration::minutes(1)).await?;
    // The demo's own due items are caught up first, so that only ours are due below.
    escalate(&app, t0 - Duration::seconds(1)).await?;

    let run = escalate(&app, t0 + Duration::minutes(2)).await?;
    assert_eq!(run.failed, 0);
    let escalated = alert(&app, &next).await?;
    assert_eq!(escalated["escalationLevel"], 1, "{run:?}");
    assert_eq!(escalated["escalations"].as_array().unwrap().len(), 1);
    let still_armed = entities::alert::Entity::find()
        .filter(entities::alert::COLUMN.message.like("%(PAST-%"))
        .filter(entities::alert::COLUMN.next_escalation_at.is_not_null())
        .all(&app.db)
        .await?;
    assert_eq!(still_armed.len(), 0, "every cleared item is disarmed");
    let recorded = escalation::Entity::find()
        .filter(escalation::COLUMN.alert_id.is_not_null())
        .filter(escalation::COLUMN.position.gt(3))
        .all(&app.db)
        .await?;
    assert_eq!(
        recorded.len(),
        0,
        "nothing past the last step: {recorded:?}"
    );
    app.stop().await
}

#[tokio::test]
async fn an_entry_without_a_path_escalates_once_to_its_accountable_team_on_breach()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    // The entry that routes backup alerts of Harbor's EHR server, with its path removed (as an
    // entry agreed without one would be).
    let probe = raise(&app, "ESC-6-probe", "HIGH", clock(3)).await?;
    let owner = app
        .query(
            &app.client_admin_token(),
            "query($id: ID!) { alert(id: $id) { routing { responsibility { id accountableTeam { name } } } } }",
            json!({ "id": probe }),
        )
        .await?["alert"]["routing"]["responsibility"]
        .clone();
    let entry = decode_uuid(&owner["id"]);
    entities::escalation_step::Entity::delete_many()
        .filter(
            entities::escalation_step::COLUMN
                .responsibility_id
                .eq(entry),
        )
        .exec(&app.db)
        .await?;
    let t0 = clock(2);
    let id = raise(&app, "ESC-6", "HIGH", t0).await?;
    let routed = alert(&app, &id).await?;
    // Nothing at routing: the first look is at the response due time.
    assert_eq!(at(&routed["nextEscalationAt"]), t0 + Duration::minutes(60));
    escalate(&app, t0 + Duration::minutes(59)).await?;
    assert_eq!(alert(&app, &id).await?["escalations"], json!([]));
    escalate(&app, t0 + Duration::minutes(60)).await?;
    let breached = alert(&app, &id).await?;
    assert_eq!(breached["escalationLevel"], 1);
    assert_eq!(breached["nextEscalationAt"], Value::Null);
    let only = &breached["escalations"];
    assert_eq!(only.as_array().unwrap().len(), 1);
    assert_eq!(only[0]["channel"], Value::Null);
    assert_eq!(only[0]["team"]["name"], owner["accountableTeam"]["name"]);
    assert_eq!(
        only[0]["reason"],
        "response target breached without acknowledgement; the entry has no escalation path, so its accountable team is told"
    );
    escalate(&app, t0 + Duration::days(1)).await?;
    assert_eq!(rows(&app, &id).await?.len(), 1);
    app.stop().await
}

#[tokio::test]
async fn another_tenant_sees_no_escalation() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let t0 = clock(2);
    let id = raise(&app, "ESC-7", "HIGH", t0).await?;
    escalate(&app, t0).await?;
    let data = app
        .query(
            &app.cedar_admin_token(),
            &format!("query($id: ID!) {{ alert(id: $id) {{ {STATE} }} }}"),
            json!({ "id": id }),
        )
        .await?;
    assert_eq!(data["alert"], Value::Null, "{data}");
    app.stop().await
}

#[tokio::test]
async fn the_demos_oldest_open_alert_is_breached_and_one_run_catches_up_its_path()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let oldest = entities::alert::Entity::find()
        .filter(
            entities::alert::COLUMN
                .status
                .eq(entities::enums::AlertStatus::Open),
        )
        .filter(entities::alert::COLUMN.routed_by_id.is_not_null())
        .order_by_asc(entities::alert::Column::RaisedAt)
        .one(&app.db)
        .await?
        .expect("the demo has an open routed alert");
    let raised = oldest.raised_at;
    assert!(Utc::now() - raised > Duration::days(7), "{raised}");
    let id = json!(api::ids::encode(api::ids::NodeType::Alert, oldest.id).0);
    let before = alert(&app, &id).await?;
    assert_eq!(before["escalationLevel"], 0);
    assert_eq!(before["sla"]["responseBreached"], true);
    assert_eq!(at(&before["nextEscalationAt"]), raised);

    // The first run after the server starts (serve runs one at once) walks the whole path.
    let now = Utc::now().trunc_subsecs(0);
    escalate(&app, now).await?;
    let after = alert(&app, &id).await?;
    assert_eq!(after["escalationLevel"], 3);
    assert_eq!(after["nextEscalationAt"], Value::Null);
    let steps = after["escalations"].as_array().unwrap();
    assert_eq!(
        steps
            .iter()
            .map(|step| (
                step["position"].clone(),
                at(&step["dueAt"]),
                at(&step["escalatedAt"])
            ))
            .collect::<Vec<_>>(),
        vec![
            (json!(1), raised, now),
            (json!(2), raised + Duration::minutes(30), now),
            (json!(3), raised + Duration::minutes(90), now),
        ]
    );
    app.stop().await
}

#[tokio::test]
async fn a_server_running_the_engine_pushes_escalations_to_subscribers_of_the_tenant_only()
-> anyhow::Result<()> {
    use crate::subscriptions::{connect, next, subscribe};
    let settings = api::config::ServerSettings {
        escalation_interval: std::time::Duration::from_millis(100),
        ..test_server_settings()
    };
    let app = TestApp::spawn_with(settings, true).await?;
    let query = "subscription { escalated { position channel reason alert { message } } }";
    let mut harbor = connect(&app, &app.client_admin_token()).await?;
    subscribe(&mut harbor, "h", query).await?;
    let mut cedar = connect(&app, &app.cedar_admin_token()).await?;
    subscribe(&mut cedar, "c", query).await?;
    // Raised two hours ago: the running engine walks its whole path at its next run.
    raise(&app, "ESC-8", "HIGH", clock(0) - Duration::hours(2)).await?;
    let ours = |event: &Value| {
        event["payload"]["data"]["escalated"]["alert"]["message"] == "Backup job failed (ESC-8)"
    };
    let mut positions = Vec::new();
    while positions.len() < 3 {
        let event = next(&mut harbor).await?;
        if ours(&event) {
            positions.push(event["payload"]["data"]["escalated"]["position"].clone());
        }
    }
    assert_eq!(positions, vec![json!(1), json!(2), json!(3)]);
    // Cedar hears none of Harbor's (its own demo items aside).
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(800);
    while std::time::Instant::now() < deadline {
        if let Ok(event) =
            tokio::time::timeout(std::time::Duration::from_millis(200), next(&mut cedar)).await
        {
            assert!(!ours(&event?), "Cedar saw Harbor's escalation");
        }
    }
    app.stop().await
}

#[tokio::test]
async fn escalations_by_one_server_reach_subscribers_of_another() -> anyhow::Result<()> {
    use crate::subscriptions::{connect, next, subscribe};
    if tests::POSTGRES_URL.is_none() {
        eprintln!("skipped: events fan out across servers on PostgreSQL only");
        return Ok(());
    }
    // A serves the subscriber and runs no engine; B, beside it, runs the engine.
    let a = TestApp::spawn_with_demo().await?;
    let b = a
        .spawn_beside(api::config::ServerSettings {
            escalation_interval: std::time::Duration::from_millis(100),
            ..test_server_settings()
        })
        .await?;
    let mut harbor = connect(&a, &a.client_admin_token()).await?;
    subscribe(
        &mut harbor,
        "h",
        "subscription { escalated { position alert { message } } }",
    )
    .await?;
    raise(&a, "ESC-9", "HIGH", clock(0) - Duration::hours(2)).await?;
    let mut positions = Vec::new();
    while positions.len() < 3 {
        let event = next(&mut harbor).await?;
        let escalated = &event["payload"]["data"]["escalated"];
        if escalated["alert"]["message"] == "Backup job failed (ESC-9)" {
            positions.push(escalated["position"].clone());
        }
    }
    assert_eq!(positions, vec![json!(1), json!(2), json!(3)]);
    b.stop().await?;
    a.stop().await
}

#[tokio::test]
async fn a_step_in_the_middle_of_a_path_needs_its_minutes() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor_token = app.client_admin_token();
    let (environment, _) = harbor(&app).await?;
    let team = app
        .query(
            &harbor_token,
            "{ teams(first: 1) { edges { node { id } } } }",
            Value::Null,
        )
        .await?["teams"]["edges"][0]["node"]["id"]
        .clone();
    let create = |path: Value| {
        let (app, token, environment, team) = (&app, &harbor_token, &environment, &team);
        async move {
            let data = app
                .query(
                    token,
                    "mutation($input: CreateResponsibilityInput!) { createResponsibility(input: $input) { responsibility { escalationPath { position minutesBeforeNext } } userErrors { field code message } } }",
                    json!({ "input": {
                        "environmentId": environment, "function": "backup_recovery",
                        "responsibleTeamId": team, "escalationPath": path,
                        "validFrom": "2031-01-01T00:00:00Z" } }),
                )
                .await?;
            anyhow::Ok(data["createResponsibility"].clone())
        }
    };
    // Without minutes on the middle step the path would end there: refused, naming the field.
    let refused = create(json!([
        { "teamId": team, "channel": "TICKET", "minutesBeforeNext": 15 },
        { "teamId": team, "channel": "PHONE" },
        { "teamId": team, "channel": "EMAIL" },
    ]))
    .await?;
    assert_eq!(refused["responsibility"], Value::Null);
    assert_eq!(
        refused["userErrors"],
        json!([{ "field": ["input", "escalationPath", "1", "minutesBeforeNext"], "code": "INVALID", "message": "`minutesBeforeNext` is required on every step but the last" }])
    );
    // The last step needs none.
    let created = create(json!([
        { "teamId": team, "channel": "TICKET", "minutesBeforeNext": 15 },
        { "teamId": team, "channel": "PHONE", "minutesBeforeNext": 30 },
        { "teamId": team, "channel": "EMAIL" },
    ]))
    .await?;
    assert_eq!(created["userErrors"], json!([]), "{created}");
    assert_eq!(
        created["responsibility"]["escalationPath"],
        json!([
            { "position": 1, "minutesBeforeNext": 15 },
            { "position": 2, "minutesBeforeNext": 30 },
            { "position": 3, "minutesBeforeNext": null },
        ])
    );
    app.stop().await
}

const WHO_OWNS: &str = "query($id: ID!, $system: ID) { whoOwns(environmentId: $id, function: \"backup_recovery\", systemId: $system) { responsibility { id } } }";

/// The entry that routed alert `id`.
async fn routed_by(app: &TestApp, id: &Value) -> anyhow::Result<Value> {
    Ok(app
        .query(
            &app.client_admin_token(),
            "query($id: ID!) { alert(id: $id) { routing { responsibility { id } } system { id } } }",
            json!({ "id": id }),
        )
        .await?["alert"]["routing"]["responsibility"]["id"]
        .clone())
}

/// Has both sides take `action` on entry `id` (the provider first).
async fn both(app: &TestApp, action: &str, id: &Value) -> anyhow::Result<()> {
    for token in [app.provider_admin_token(), app.client_admin_token()] {
        let data = app
            .query(
                &token,
                &format!("mutation($input: ResponsibilityActionInput!) {{ {action}(input: $input) {{ userErrors {{ message }} }} }}"),
                json!({ "input": { "id": id } }),
            )
            .await?;
        assert_eq!(data[action]["userErrors"], json!([]), "{action}: {data}");
    }
    Ok(())
}

/// The wall clock a minute on, at the precision both databases keep: after every write made so
/// far, as the engine's clock.
fn soon(minutes: i64) -> DateTime<Utc> {
    (Utc::now() + Duration::minutes(minutes)).trunc_subsecs(0)
}

#[tokio::test]
async fn a_superseded_entry_hands_its_path_on_and_no_owner_left_stops_escalation_with_a_reason()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    // Raised ten minutes ago: its steps fall due after the writes below.
    let t0 = (Utc::now() - Duration::minutes(10)).trunc_subsecs(0);
    let id = raise(&app, "ESC-SUP", "HIGH", t0).await?;
    escalate(&app, t0).await?;
    let old = routed_by(&app, &id).await?;
    assert!(old.is_string());

    // The entry is amended (its successor keeps the path) and agreed now.
    let (_, proposed) = app
        .mutation(
            &provider,
            "proposeResponsibilityChange",
            "ProposeResponsibilityChangeInput",
            &json!({ "id": old, "changes": { "notes": "Amended while the alert is open" } }),
            "responsibility { id }",
        )
        .await?;
    let successor = proposed["data"]["proposeResponsibilityChange"]["responsibility"]["id"].clone();
    assert!(successor.is_string(), "{proposed}");
    both(&app, "approveResponsibility", &successor).await?;

    // Step 2 follows the successor's path; the alert stays routed as it was.
    escalate(&app, t0 + Duration::minutes(30)).await?;
    let escalated = rows(&app, &id).await?;
    assert_eq!(escalated.len(), 2, "{escalated:?}");
    assert_eq!(escalated[0].responsibility_id, Some(decode_uuid(&old)));
    assert_eq!(
        escalated[1].responsibility_id,
        Some(decode_uuid(&successor))
    );
    assert_eq!(escalated[1].position, 2);
    assert!(
        escalated[1].reason.ends_with(
            "following the entry in force now, as the one that routed it was retired or superseded"
        ),
        "{}",
        escalated[1].reason
    );
    assert_eq!(routed_by(&app, &id).await?, old);

    // Every entry that could own it is retired: escalation stops, and says why.
    let (environment, _) = harbor(&app).await?;
    let system = app
        .query(
            &app.client_admin_token(),
            "query($id: ID!) { alert(id: $id) { system { id } } }",
            json!({ "id": id }),
        )
        .await?["alert"]["system"]["id"]
        .clone();
    loop {
        let owner = app
            .query(
                &app.client_admin_token(),
                WHO_OWNS,
                json!({ "id": environment, "system": system }),
            )
            .await?["whoOwns"]["responsibility"]["id"]
            .clone();
        if owner.is_null() {
            break;
        }
        both(&app, "retireResponsibility", &owner).await?;
    }
    let later = t0 + Duration::minutes(90);
    escalate(&app, later).await?;
    let stopped = alert(&app, &id).await?;
    assert_eq!(stopped["nextEscalationAt"], Value::Null, "{stopped}");
    assert_eq!(stopped["escalationLevel"], 2);
    assert_eq!(rows(&app, &id).await?.len(), 2);
    let why = change_log_entry::Entity::find()
        .filter(
            change_log_entry::COLUMN
                .summary
                .starts_with("Stopped escalating alert: Backup job failed (ESC-SUP)"),
        )
        .all(&app.db)
        .await?;
    assert_eq!(why.len(), 1, "{why:?}");
    assert!(
        why[0].summary.contains("no agreed entry owns"),
        "{}",
        why[0].summary
    );
    assert_eq!(why[0].principal, entities::enums::Principal::System);
    // Nothing more, however late.
    escalate(&app, later + Duration::days(1)).await?;
    assert_eq!(rows(&app, &id).await?.len(), 2);
    app.stop().await
}

/// Deactivates the demo's Harbor admin on step 2 of the path (a setup write: the directory's
/// own rules are tested elsewhere).
async fn deactivate_dana(app: &TestApp) -> anyhow::Result<()> {
    use sea_orm::sea_query::Expr;
    let updated = entities::person::Entity::update_many()
        .col_expr(entities::person::Column::Active, Expr::value(false))
        .filter(entities::person::COLUMN.display_name.eq("Dana Whitfield"))
        .exec(&app.db)
        .await?;
    assert_eq!(updated.rows_affected, 1);
    Ok(())
}

#[tokio::test]
async fn a_deactivated_person_is_skipped_for_the_next_step_with_the_reason_recorded()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let t0 = clock(2);
    let id = raise(&app, "ESC-DEACT", "HIGH", t0).await?;
    escalate(&app, t0).await?;
    deactivate_dana(&app).await?;
    escalate(&app, t0 + Duration::minutes(30)).await?;
    let state = alert(&app, &id).await?;
    let escalations = state["escalations"].as_array().unwrap();
    assert_eq!(escalations.len(), 2, "{state}");
    // Step 3 (the vCIO team by email) at once, in place of Dana at step 2.
    assert_eq!(escalations[1]["position"], 3);
    assert_eq!(escalations[1]["channel"], "EMAIL");
    assert_eq!(escalations[1]["person"], Value::Null);
    assert_eq!(
        escalations[1]["reason"],
        "after 30 min without acknowledgement at step 1; step 2 skipped: Dana Whitfield is deactivated"
    );
    assert_eq!(state["escalationLevel"], 3);
    assert_eq!(state["nextEscalationAt"], Value::Null, "the last step");
    let entry = change_log_entry::Entity::find()
        .filter(change_log_entry::COLUMN.summary.contains("(ESC-DEACT)"))
        .filter(change_log_entry::COLUMN.summary.contains("(step 3)"))
        .one(&app.db)
        .await?
        .expect("the escalation's change log entry");
    assert_eq!(
        entry.details["escalation"]["skipped"][0]["reason"],
        "Dana Whitfield is deactivated"
    );
    assert_eq!(entry.details["escalation"]["skipped"][0]["position"], 2);
    app.stop().await
}

#[tokio::test]
async fn with_the_providers_engagement_ended_and_the_person_deactivated_the_accountable_team_is_told()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor_token = app.client_admin_token();
    let t0 = clock(2);
    let id = raise(&app, "ESC-END", "HIGH", t0).await?;
    escalate(&app, t0).await?;
    deactivate_dana(&app).await?;
    // Harbor ends its engagement with Northwind today.
    let engagement = app
        .query(
            &harbor_token,
            "{ engagements(first: 10) { edges { node { id provider { name } endsOn } } } }",
            Value::Null,
        )
        .await?["engagements"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|edge| edge["node"]["endsOn"].is_null())
        .expect("Harbor's open engagement")["node"]["id"]
        .clone();
    let today = Utc::now().date_naive().to_string();
    let ended = app
        .query(&harbor_token, "mutation($input: EndEngagementInput!) { endEngagement(input: $input) { userErrors { message } } }", json!({ "input": { "id": engagement, "endsOn": today } }))
        .await?;
    assert_eq!(ended["endEngagement"]["userErrors"], json!([]), "{ended}");

    // The engine runs on today's date: Dana is deactivated and the vCIO team is Northwind's.
    escalate(&app, soon(1)).await?;
    let found = rows(&app, &id).await?;
    assert_eq!(found.len(), 2, "{found:?}");
    let told = &found[1];
    assert_eq!(told.position, 4, "past the three steps of the path");
    assert_eq!(told.channel, None);
    assert_eq!(told.person_id, None);
    let team = entities::team::Entity::find_by_id(told.team_id.expect("a team"))
        .one(&app.db)
        .await?
        .expect("the team");
    let harbor_org = entities::person::Entity::find()
        .filter(entities::person::COLUMN.display_name.eq("Dana Whitfield"))
        .one(&app.db)
        .await?
        .expect("Dana")
        .organization_id;
    assert_eq!(
        team.organization_id, harbor_org,
        "Harbor's own accountable team"
    );
    assert!(
        told.reason
            .contains("step 2 skipped: Dana Whitfield is deactivated")
            && told.reason.contains("step 3 skipped: ")
            && told.reason.contains("engagement with the client has ended")
            && told
                .reason
                .ends_with("so the entry's accountable team is told"),
        "{}",
        told.reason
    );
    // Nothing more is due.
    escalate(&app, soon(60 * 24)).await?;
    assert_eq!(rows(&app, &id).await?.len(), 2);
    app.stop().await
}
