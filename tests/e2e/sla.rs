//! SLAs: targets per matrix entry and priority, due times on the environment's calendar (its
//! business hours in its time zone, across weekends), breach state on tickets and alerts, and the
//! per-team report of a period, scoped to what the caller sees.
//!
//! The demo's entries carry the provider's standard targets: CRITICAL 30/240 min and HIGH 60/480
//! min around the clock, MEDIUM 240/1440 and LOW 480/2400 business minutes; its environments keep
//! New York business hours (08:00-18:00).

use chrono::{DateTime, Duration, SubsecRound, Utc};
use entities::enums::Role;
use serde_json::{Value, json};
use tests::TestApp;

const SLA: &str = "sla { responseDueAt resolutionDueAt respondedAt responseBreached resolutionBreached calendar }";

fn at(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("an instant, not {value}"))
        .parse()
        .unwrap()
}

fn instant(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

async fn environment(app: &TestApp) -> anyhow::Result<Value> {
    Ok(app
        .query(
            &app.client_admin_token(),
            "{ environments(first: 1) { edges { node { id timeZone businessStartMinute businessEndMinute } } } }",
            Value::Null,
        )
        .await?["environments"]["edges"][0]["node"]
        .clone())
}

/// Upserts one ticket (routed to the service desk entry) through the sync token.
async fn synced_ticket(
    app: &TestApp,
    environment: &Value,
    external_id: &str,
    priority: &str,
    created_at: DateTime<Utc>,
) -> anyhow::Result<Value> {
    synced_ticket_for(app, environment, external_id, priority, created_at, None).await
}

/// Upserts one ticket of `function` (the service desk when `None`) through the sync token.
async fn synced_ticket_for(
    app: &TestApp,
    environment: &Value,
    external_id: &str,
    priority: &str,
    created_at: DateTime<Utc>,
    function: Option<&str>,
) -> anyhow::Result<Value> {
    let sync = app.token("demo|northwind-sync", "northwind-msp", Role::Integration);
    let data = app
        .query(
            &sync,
            &format!("mutation($input: UpsertTicketsInput!) {{ upsertTickets(input: $input) {{ results {{ node {{ id assignedTeam {{ id name }} {SLA} }} }} userErrors {{ message }} }} }}"),
            json!({ "input": { "source": { "kind": "CONNECTWISE_MANAGE" }, "records": [
                { "externalId": external_id, "environmentId": environment["id"], "title": format!("Ticket {external_id}"), "status": "NEW", "priority": priority, "createdAt": created_at.to_rfc3339(), "functionKey": function },
            ] } }),
        )
        .await?;
    assert_eq!(data["upsertTickets"]["userErrors"], json!([]), "{data}");
    Ok(data["upsertTickets"]["results"][0]["node"].clone())
}

#[tokio::test]
async fn business_minutes_count_in_the_environments_zone_across_a_weekend() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = environment(&app).await?;
    assert_eq!(harbor["timeZone"], "America/New_York");
    assert_eq!(
        (&harbor["businessStartMinute"], &harbor["businessEndMinute"]),
        (&json!(480), &json!(1080))
    );

    // Friday 17:30 in New York (EST) + 240 business minutes: 30 on Friday, 210 on Monday from
    // 08:00, so Monday 11:30 there; 1440 minutes to resolve end on Wednesday 11:30.
    let friday = synced_ticket(
        &app,
        &harbor,
        "SLA-1",
        "MEDIUM",
        instant("2026-11-20T22:30:00Z"),
    )
    .await?;
    assert_eq!(friday["sla"]["calendar"], "BUSINESS_HOURS");
    assert_eq!(
        at(&friday["sla"]["responseDueAt"]),
        instant("2026-11-23T16:30:00Z")
    );
    assert_eq!(
        at(&friday["sla"]["resolutionDueAt"]),
        instant("2026-11-25T16:30:00Z")
    );
    // Nobody answered it: breached now, on both targets.
    assert_eq!(friday["sla"]["responseBreached"], true);
    assert_eq!(friday["sla"]["resolutionBreached"], true);
    assert_eq!(friday["sla"]["respondedAt"], Value::Null);

    // HIGH counts around the clock: 60 and 480 minutes, weekend or not.
    let high = synced_ticket(
        &app,
        &harbor,
        "SLA-2",
        "HIGH",
        instant("2026-11-20T22:30:00Z"),
    )
    .await?;
    assert_eq!(high["sla"]["calendar"], "ALWAYS");
    assert_eq!(
        at(&high["sla"]["responseDueAt"]),
        instant("2026-11-20T23:30:00Z")
    );

    // Another zone and other hours: Berlin, 09:00-17:00. A bad zone name is refused.
    let update = "mutation($input: UpdateEnvironmentInput!) { updateEnvironment(input: $input) { environment { timeZone businessStartMinute businessEndMinute } userErrors { field code message } } }";
    let refused = app
        .query(
            &app.client_admin_token(),
            update,
            json!({ "input": { "id": harbor["id"], "timeZone": "Mars/Olympus_Mons" } }),
        )
        .await?;
    assert_eq!(
        refused["updateEnvironment"]["userErrors"],
        json!([{ "field": ["input", "timeZone"], "code": "INVALID", "message": "not an IANA time zone name, such as `America/New_York`" }])
    );
    let refused = app
        .query(
            &app.client_admin_token(),
            update,
            json!({ "input": { "id": harbor["id"], "businessStartMinute": 1000, "businessEndMinute": 900 } }),
        )
        .await?;
    assert_eq!(
        refused["updateEnvironment"]["userErrors"][0]["field"],
        json!(["input", "businessEndMinute"])
    );
    let changed = app
        .query(
            &app.client_admin_token(),
            update,
            json!({ "input": { "id": harbor["id"], "timeZone": "Europe/Berlin", "businessStartMinute": 540, "businessEndMinute": 1020 } }),
        )
        .await?;
    assert_eq!(
        changed["updateEnvironment"],
        json!({ "environment": { "timeZone": "Europe/Berlin", "businessStartMinute": 540, "businessEndMinute": 1020 }, "userErrors": [] })
    );
    // Friday 16:30 in Berlin (CET) + 240: 30 on Friday, 210 on Monday from 09:00: 12:30 there.
    let berlin = synced_ticket(
        &app,
        &harbor,
        "SLA-3",
        "MEDIUM",
        instant("2026-11-27T15:30:00Z"),
    )
    .await?;
    assert_eq!(
        at(&berlin["sla"]["responseDueAt"]),
        instant("2026-11-30T11:30:00Z")
    );
    // Due times set before stay as they were.
    let again = app
        .query(
            &app.client_admin_token(),
            &format!("query($id: ID!) {{ ticket(id: $id) {{ {SLA} }} }}"),
            json!({ "id": friday["id"] }),
        )
        .await?;
    assert_eq!(again["ticket"]["sla"], friday["sla"]);
    app.stop().await
}

#[tokio::test]
async fn targets_are_part_of_an_entrys_terms_and_are_checked() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = app.client_admin_token();
    let harbor = environment(&app).await?;
    let teams = app
        .query(
            &token,
            "{ teams { edges { node { id name } } } }",
            Value::Null,
        )
        .await?;
    let team = teams["teams"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|edge| edge["node"]["name"] == "Internal IT")
        .unwrap()["node"]["id"]
        .clone();
    let create = "mutation($input: CreateResponsibilityInput!) { createResponsibility(input: $input) { responsibility { id slaTargets { priority responseMinutes resolutionMinutes calendar } } userErrors { field code message } } }";
    let input = |targets: Value| json!({ "input": { "environmentId": harbor["id"], "function": "patching", "responsibleTeamId": team, "validFrom": "2027-01-01T00:00:00Z", "slaTargets": targets } });
    let refused = app
        .query(
            &token,
            create,
            input(json!([
                { "priority": "HIGH", "responseMinutes": 0, "calendar": "ALWAYS" },
                { "priority": "HIGH", "responseMinutes": 60, "resolutionMinutes": 30, "calendar": "ALWAYS" },
            ])),
        )
        .await?;
    let fields: Vec<Value> = refused["createResponsibility"]["userErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].clone())
        .collect();
    assert_eq!(
        fields,
        vec![
            json!(["input", "slaTargets", "0", "responseMinutes"]),
            json!(["input", "slaTargets", "1", "resolutionMinutes"]),
            json!(["input", "slaTargets", "1", "priority"]),
        ],
        "{refused}"
    );
    assert_eq!(
        refused["createResponsibility"]["responsibility"],
        Value::Null
    );

    let created = app
        .query(
            &token,
            create,
            input(json!([
                { "priority": "LOW", "responseMinutes": 480, "calendar": "BUSINESS_HOURS" },
                { "priority": "CRITICAL", "responseMinutes": 15, "resolutionMinutes": 120, "calendar": "ALWAYS" },
            ])),
        )
        .await?;
    assert_eq!(
        created["createResponsibility"]["userErrors"],
        json!([]),
        "{created}"
    );
    let entry = &created["createResponsibility"]["responsibility"];
    assert_eq!(
        entry["slaTargets"],
        json!([
            { "priority": "CRITICAL", "responseMinutes": 15, "resolutionMinutes": 120, "calendar": "ALWAYS" },
            { "priority": "LOW", "responseMinutes": 480, "resolutionMinutes": null, "calendar": "BUSINESS_HOURS" },
        ])
    );

    // Editing the draft replaces them, and its history says so.
    let updated = app
        .query(
            &token,
            "mutation($id: ID!) { updateResponsibility(input: { id: $id, changes: { slaTargets: [{ priority: LOW, responseMinutes: 960, calendar: BUSINESS_HOURS }] } }) { responsibility { slaTargets { priority responseMinutes } history(last: 100) { nodes { changes { field before after } } } } userErrors { message } } }",
            json!({ "id": entry["id"] }),
        )
        .await?;
    let updated = &updated["updateResponsibility"];
    assert_eq!(updated["userErrors"], json!([]), "{updated}");
    assert_eq!(
        updated["responsibility"]["slaTargets"],
        json!([{ "priority": "LOW", "responseMinutes": 960 }])
    );
    let history = updated["responsibility"]["history"]["nodes"]
        .as_array()
        .unwrap();
    assert_eq!(
        history.last().unwrap()["changes"],
        json!([{
            "field": "slaTargets",
            "before": "CRITICAL: respond 15 min, resolve 120 min, ALWAYS; LOW: respond 480 min, BUSINESS_HOURS",
            "after": "LOW: respond 960 min, BUSINESS_HOURS",
        }])
    );
    app.stop().await
}

#[tokio::test]
async fn the_report_counts_per_team_and_side_and_shows_another_tenant_nothing() -> anyhow::Result<()>
{
    let app = TestApp::spawn_with_demo().await?;
    let harbor = environment(&app).await?;
    let now = Utc::now().trunc_subsecs(0);
    let (from, to) = (now - Duration::hours(6), now + Duration::minutes(5));
    let report = "query($id: ID, $from: DateTime!, $to: DateTime!) { slaReport(environmentId: $id, from: $from, to: $to) { team { id name } side items responseMet responseBreached resolutionMet resolutionBreached } }";
    let read = |token: String, id: Value| {
        let app = &app;
        async move {
            let data = app
                .query(
                    &token,
                    report,
                    json!({ "id": id, "from": from.to_rfc3339(), "to": to.to_rfc3339() }),
                )
                .await?;
            anyhow::Ok(data["slaReport"].clone())
        }
    };
    let before = read(app.client_admin_token(), harbor["id"].clone()).await?;

    // Three HIGH tickets (60/480 min around the clock): one opened 3 hours ago and never
    // answered (response breached, resolution still within its time), one opened half an hour
    // ago and moved on at its vendor now (response met), one just now (neither yet).
    let late = synced_ticket(&app, &harbor, "REP-1", "HIGH", now - Duration::hours(3)).await?;
    synced_ticket(&app, &harbor, "REP-2", "HIGH", now - Duration::minutes(30)).await?;
    let sync = app.token("demo|northwind-sync", "northwind-msp", Role::Integration);
    let answered = app
        .query(
            &sync,
            "mutation($input: UpsertTicketsInput!) { upsertTickets(input: $input) { userErrors { message } } }",
            json!({ "input": { "source": { "kind": "CONNECTWISE_MANAGE" }, "records": [
                { "externalId": "REP-2", "environmentId": harbor["id"], "title": "Ticket REP-2", "status": "IN_PROGRESS", "priority": "HIGH", "createdAt": (now - Duration::minutes(30)).to_rfc3339() },
            ] } }),
        )
        .await?;
    assert_eq!(answered["upsertTickets"]["userErrors"], json!([]));
    synced_ticket(&app, &harbor, "REP-3", "HIGH", now - Duration::minutes(1)).await?;

    // One more, for patching: the provider's Network Operations team.
    let patch = synced_ticket_for(
        &app,
        &harbor,
        "REP-4",
        "HIGH",
        now - Duration::minutes(1),
        Some("patching"),
    )
    .await?;

    let after = read(app.client_admin_token(), harbor["id"].clone()).await?;
    let row = |rows: &Value, team: &Value| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|row| row["team"]["id"] == *team)
            .cloned()
            .unwrap_or_else(|| json!({ "items": 0, "responseMet": 0, "responseBreached": 0, "resolutionMet": 0, "resolutionBreached": 0 }))
    };
    let delta = |team: &Value| {
        let (was, is) = (row(&before, team), row(&after, team));
        let delta = |field: &str| is[field].as_i64().unwrap() - was[field].as_i64().unwrap();
        (
            is["side"].clone(),
            [
                delta("items"),
                delta("responseMet"),
                delta("responseBreached"),
                delta("resolutionMet"),
                delta("resolutionBreached"),
            ],
        )
    };
    // Harbor's service desk is its own internal IT.
    let team = late["assignedTeam"]["id"].clone();
    assert_eq!(late["assignedTeam"]["name"], "Internal IT");
    assert_eq!(
        delta(&team),
        (json!("INTERNAL_IT"), [3, 1, 1, 0, 0]),
        "{after}"
    );
    assert_eq!(patch["assignedTeam"]["name"], "Network Operations");
    assert_eq!(
        delta(&patch["assignedTeam"]["id"]),
        (json!("MSP"), [1, 0, 0, 0, 0]),
        "{after}"
    );

    // Another client sees none of it: nothing for Harbor's environment, and no Harbor team.
    assert_eq!(
        read(app.cedar_admin_token(), harbor["id"].clone()).await?,
        json!([])
    );
    let cedar = read(app.cedar_admin_token(), Value::Null).await?;
    assert!(
        cedar
            .as_array()
            .unwrap()
            .iter()
            .all(|row| row["team"]["id"] != team && row["team"]["name"] != "Internal IT"),
        "{cedar}"
    );
    app.stop().await
}
