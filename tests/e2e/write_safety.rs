//! Write safety (issue 10): each problem found by probing the write path from outside, shown
//! fixed on both databases.
//!
//! - External keys are scoped to the tenant: another tenant sending the same `(source,
//!   externalId)` to `upsertTickets`, `upsertAlerts` or `upsertSystems` gets a record of its own
//!   and never reads, moves or changes the first tenant's.
//! - State changes are race-free: both sides approving at once always agree the entry;
//!   overlapping entries approved at once end with exactly one agreed; a page resent while the
//!   first send is in flight converges with no error; concurrent `createTicket` callers never fail.
//! - Governance: a provider manages none of a client's people, teams or memberships, and never
//!   signs as the client.
//! - Retiring an entry needs the sides that agreed it and never changes what reads at earlier
//!   instants answer.
//! - Attribution: every change log entry shows the principal that wrote it, and only an
//!   integration's token writes `PSA`/`RMM` entries.
//! - Bounded input: implausible instants, NUL bytes and oversized text are refused with nothing
//!   written (never `INTERNAL`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};
use entities::enums::Role;
use serde_json::{Value, json};
use tests::TestApp;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A token for Cedar & Pine's admin (the fully managed client).
fn cedar_admin(app: &TestApp) -> String {
    app.token("demo|cedar-office", "cedar-pine", Role::Admin)
}

/// A token for the provider's sync job person (role `INTEGRATION`, no integration claim).
fn sync_token(app: &TestApp) -> String {
    app.token("demo|northwind-sync", "northwind-msp", Role::Integration)
}

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The GraphQL input type of mutation `name`.
fn input_type(name: &str) -> String {
    match name {
        "proposeResponsibility" | "approveResponsibility" | "retireResponsibility" => {
            "ResponsibilityActionInput".into()
        }
        "addTeamMember" | "removeTeamMember" => "TeamMembershipInput".into(),
        _ => format!("{}{}Input", name[..1].to_uppercase(), &name[1..]),
    }
}

/// Sends mutation `name` with `input`, selecting `selection` and the user errors; returns the
/// whole response body, errors included.
async fn send(
    app: &TestApp,
    token: &str,
    name: &str,
    input: &Value,
    selection: &str,
) -> anyhow::Result<Value> {
    Ok(app
        .mutation(token, name, &input_type(name), input, selection)
        .await?
        .1)
}

/// Like [`send`], but the call must answer without GraphQL errors; returns the payload.
async fn mutate(
    app: &TestApp,
    token: &str,
    name: &str,
    input: &Value,
    selection: &str,
) -> anyhow::Result<Value> {
    let body = send(app, token, name, input, selection).await?;
    anyhow::ensure!(body.get("errors").is_none(), "{name} failed: {body}");
    Ok(body["data"][name].clone())
}

/// A bulk upsert: `results { index outcome node { <node> } } counts { .. } userErrors { .. }`.
async fn upsert(
    app: &TestApp,
    token: &str,
    name: &str,
    input: &Value,
    node: &str,
) -> anyhow::Result<Value> {
    mutate(
        app,
        token,
        name,
        input,
        &format!(
            "results {{ index outcome node {{ {node} }} }} counts {{ created updated unchanged failed }}"
        ),
    )
    .await
}

fn outcomes(payload: &Value) -> Vec<String> {
    payload["results"]
        .as_array()
        .map(|results| {
            results
                .iter()
                .map(|result| result["outcome"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The user errors of a payload as `(field path, code)`.
fn user_errors(payload: &Value) -> Vec<(String, String)> {
    payload["userErrors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|error| {
                    let field = error["field"]
                        .as_array()
                        .map(|parts| {
                            parts
                                .iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join(".")
                        })
                        .unwrap_or_default();
                    (field, error["code"].as_str().unwrap_or_default().to_owned())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The `extensions.code` of every GraphQL error of a response.
fn error_codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|error| {
                    error["extensions"]["code"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a mutation response answered with no GraphQL error and no user error.
fn clean(body: &Value, name: &str) -> bool {
    body.get("errors").is_none() && user_errors(&body["data"][name]).is_empty()
}

/// Asserts that a mutation response is a user error `code` on `field` and no GraphQL error.
fn assert_user_error(body: &Value, name: &str, field: &str, code: &str) {
    assert!(body.get("errors").is_none(), "{name}: {body}");
    let found = user_errors(&body["data"][name]);
    assert!(
        found.contains(&(field.to_owned(), code.to_owned())),
        "{name}: expected {code} on {field}, got {found:?}"
    );
}

/// Asserts that a response failed with exactly the GraphQL error `code`.
fn assert_error_code(body: &Value, code: &str) {
    assert_eq!(error_codes(body), [code], "{body}");
}

/// Fails naming the first few of `failed` (out of `of`) when there are any.
fn assert_none_failed(failed: &[String], of: usize, what: &str) {
    assert!(
        failed.is_empty(),
        "{} of {of} {what}; the first:\n{}",
        failed.len(),
        failed
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The id of the node named `name` (`displayName` for people) in the root list `list`, as
/// `token` sees it.
async fn id_named(app: &TestApp, token: &str, list: &str, name: &str) -> anyhow::Result<Value> {
    let field = if list == "people" {
        "displayName"
    } else {
        "name"
    };
    let nodes = app.all_nodes(token, list, &format!("id {field}")).await?;
    nodes
        .iter()
        .find(|node| node[field] == name)
        .map(|node| node["id"].clone())
        .ok_or_else(|| anyhow::anyhow!("no {list} named {name} in {nodes:?}"))
}

/// Asserts that the database is exactly `before`: `what` wrote nothing, anywhere.
async fn assert_nothing_written(
    app: &TestApp,
    before: &tests::Dump,
    what: &str,
) -> anyhow::Result<()> {
    let after = tests::dump(&app.db).await?;
    let changed: BTreeSet<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|table| before.get(*table) != after.get(*table))
        .collect();
    assert!(changed.is_empty(), "{what} wrote to {changed:?}");
    Ok(())
}

/// Asserts that nothing `token` can read (change log, tickets, alerts, systems) mentions any of
/// `markers`.
async fn assert_sees_none_of(app: &TestApp, token: &str, markers: &[&str]) -> anyhow::Result<()> {
    for (list, selection) in [
        ("changeLog", "summary details reason actorName"),
        ("tickets", "title description"),
        ("alerts", "message"),
        ("systems", "name"),
    ] {
        let seen = Value::Array(app.all_nodes(token, list, selection).await?).to_string();
        for marker in markers {
            assert!(
                !seen.contains(marker),
                "{list} shows another tenant's `{marker}`"
            );
        }
    }
    Ok(())
}

const ACTION: &str = "responsibility { id status approvals { organization { slug } person { displayName } } retireApprovals { organization { name } } }";

/// Creates a matrix entry as `token` and proposes it; returns its id.
async fn proposed_entry(app: &TestApp, token: &str, input: &Value) -> anyhow::Result<Value> {
    let created = mutate(
        app,
        token,
        "createResponsibility",
        input,
        "responsibility { id }",
    )
    .await?;
    anyhow::ensure!(user_errors(&created).is_empty(), "{created}");
    let id = created["responsibility"]["id"].clone();
    let proposed = mutate(
        app,
        token,
        "proposeResponsibility",
        &json!({ "id": id }),
        ACTION,
    )
    .await?;
    anyhow::ensure!(
        proposed["responsibility"]["status"] == "PROPOSED",
        "{proposed}"
    );
    Ok(id)
}

/// A lifecycle action (`approveResponsibility`, `retireResponsibility`), whole body returned.
async fn act(app: &TestApp, token: &str, name: &str, id: &Value) -> anyhow::Result<Value> {
    send(app, token, name, &json!({ "id": id }), ACTION).await
}

/// An entry's status and the slugs of the sides that approved it, sorted.
type EntryState = (String, Vec<String>);

fn state(status: &str, sides: &[&str]) -> EntryState {
    (
        status.to_owned(),
        sides.iter().map(|side| (*side).to_owned()).collect(),
    )
}

/// Both sides of Harbor's co-managed engagement.
const BOTH_SIDES: [&str; 2] = ["harbor-health", "northwind-msp"];

/// An entry's state as stored now.
async fn entry_state(app: &TestApp, token: &str, id: &Value) -> anyhow::Result<EntryState> {
    let data = app
        .query(
            token,
            "query($id: ID!) { node(id: $id) { ... on Responsibility { status approvals { organization { slug } } } } }",
            json!({ "id": id }),
        )
        .await?;
    let mut sides: Vec<String> = data["node"]["approvals"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|approval| approval["organization"]["slug"].as_str())
        .map(str::to_owned)
        .collect();
    sides.sort();
    Ok((
        data["node"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        sides,
    ))
}

/// What a matrix read shows of an entry; every field here describes the entry at the instant
/// asked, so none of it may change when the entry is later retired.
const ENTRY: &str = "id function { key } system { name } responsibleTeam { name } accountableTeam { name } consultedTeams { name } informedTeams { name } validFrom escalationPath { position channel team { name } person { displayName } minutesBeforeNext } approvals { organization { slug } person { displayName } approvedAt }";

/// Runs `query` (variables `$id`, `$at`) on `environment` at `at`.
async fn read_at(
    app: &TestApp,
    token: &str,
    query: &str,
    environment: &Value,
    at: DateTime<Utc>,
) -> anyhow::Result<Value> {
    app.query(token, query, json!({ "id": environment, "at": stamp(at) }))
        .await
}

fn who_owns_service_desk() -> String {
    format!(
        "query($id: ID!, $at: DateTime) {{ whoOwns(environmentId: $id, function: \"service_desk\", at: $at) {{ at decidedBy responsibility {{ {ENTRY} }} }} }}"
    )
}

/// What `whoOwns(service_desk)` and `responsibilityMatrix` of `environment` answer at `at`.
async fn matrix_reads(
    app: &TestApp,
    token: &str,
    environment: &Value,
    at: DateTime<Utc>,
) -> anyhow::Result<[Value; 2]> {
    let matrix = format!(
        "query($id: ID!, $at: DateTime) {{ responsibilityMatrix(environmentId: $id, at: $at) {{ at rows {{ function {{ key }} default {{ {ENTRY} }} overrides {{ {ENTRY} }} }} }} }}"
    );
    Ok([
        read_at(app, token, &who_owns_service_desk(), environment, at).await?,
        read_at(app, token, &matrix, environment, at).await?,
    ])
}

/// The id of the entry that owns the service desk of `environment` a minute from now, after
/// whatever retirement just happened.
async fn service_desk_owner_soon(
    app: &TestApp,
    token: &str,
    environment: &Value,
) -> anyhow::Result<Value> {
    let soon = Utc::now() + Duration::minutes(1);
    let who_owns = read_at(app, token, &who_owns_service_desk(), environment, soon).await?;
    Ok(who_owns["whoOwns"]["responsibility"]["id"].clone())
}

/// The strings at `pointer` in each item of the array `values`.
fn names(values: &Value, pointer: &str) -> BTreeSet<String> {
    values
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.pointer(pointer).and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// 1. Cross-tenant upserts
// ---------------------------------------------------------------------------------------------

/// A bulk upsert's record that the provider sends into Cedar's environment, and another with the
/// same `(source, externalId)` that Harbor's admin sends into Harbor's.
struct SameKey {
    mutation: &'static str,
    source: &'static str,
    /// The records' GraphQL type and table.
    type_name: &'static str,
    table: &'static str,
    /// What to read of a record; includes `id` and `environment { name }`.
    node: &'static str,
    /// Each tenant's record without `externalId` and `environmentId`; Cedar's text starts with
    /// `CEDAR-`.
    cedar: Value,
    harbor: Value,
}

/// Harbor gets a record of its own; Cedar's is untouched, hidden from Harbor, and still found by
/// its key. Returns Cedar's and Harbor's record.
async fn same_key_in_two_tenants(app: &TestApp, case: SameKey) -> anyhow::Result<(Value, Value)> {
    let (provider, harbor, cedar) = (
        app.provider_admin_token(),
        app.client_admin_token(),
        cedar_admin(app),
    );
    let keyed = |mut record: Value, environment: Value| {
        record["externalId"] = json!("4711");
        record["environmentId"] = environment;
        json!({ "source": tests::bulk_source(case.source), "records": [record] })
    };
    let cedar_page = keyed(
        case.cedar,
        id_named(app, &cedar, "environments", "Main Office").await?,
    );
    let harbor_page = keyed(
        case.harbor,
        id_named(app, &harbor, "environments", "Production").await?,
    );
    let first = upsert(app, &provider, case.mutation, &cedar_page, case.node).await?;
    assert_eq!(outcomes(&first), ["CREATED"], "{first}");
    let cedar_record = first["results"][0]["node"].clone();
    assert_eq!(cedar_record["environment"]["name"], "Main Office");
    let rows_before = app.count(case.table).await?;

    let second = upsert(app, &harbor, case.mutation, &harbor_page, case.node).await?;
    assert_eq!(outcomes(&second), ["CREATED"], "{second}");
    assert!(user_errors(&second).is_empty(), "{second}");
    let harbor_record = second["results"][0]["node"].clone();
    assert_ne!(harbor_record["id"], cedar_record["id"]);
    assert_eq!(harbor_record["environment"]["name"], "Production");
    assert_eq!(app.count(case.table).await?, rows_before + 1);

    // Cedar's record is exactly as the provider's sync left it, and Harbor sees nothing of it.
    let node_query = format!(
        "query($id: ID!) {{ node(id: $id) {{ ... on {} {{ {} }} }} }}",
        case.type_name, case.node
    );
    let by_id = json!({ "id": cedar_record["id"] });
    let seen = app.query(&cedar, &node_query, by_id.clone()).await?;
    assert_eq!(seen["node"], cedar_record, "Cedar's record is untouched");
    let hidden = app.query(&harbor, &node_query, by_id).await?;
    assert_eq!(hidden["node"], Value::Null);
    assert_sees_none_of(app, &harbor, &["CEDAR-", "Main Office"]).await?;

    // Cedar's key still finds Cedar's record.
    let again = upsert(app, &provider, case.mutation, &cedar_page, case.node).await?;
    assert_eq!(outcomes(&again), ["UNCHANGED"], "{again}");
    assert_eq!(again["results"][0]["node"], cedar_record);
    Ok((cedar_record, harbor_record))
}

#[tokio::test]
async fn another_tenants_ticket_with_the_same_external_id_is_a_ticket_of_its_own()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (_, harbor_ticket) = same_key_in_two_tenants(
        &app,
        SameKey {
            mutation: "upsertTickets",
            source: "CONNECTWISE_MANAGE",
            type_name: "Ticket",
            table: "tickets",
            node: "id title description status environment { name }",
            cedar: json!({ "title": "CEDAR-4711 ledger server unreachable",
                "description": "CEDAR-SECRET payroll share offline since the partners' meeting",
                "status": "NEW", "priority": "HIGH" }),
            harbor: json!({ "title": "Label printer jammed", "description": "Front desk",
                "status": "IN_PROGRESS", "priority": "LOW" }),
        },
    )
    .await?;
    assert_eq!(harbor_ticket["title"], "Label printer jammed");
    app.stop().await
}

#[tokio::test]
async fn another_tenant_resolving_the_same_external_alert_leaves_the_first_tenants_alert_open()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let raised = stamp(Utc::now() - Duration::hours(2));
    let (cedar_alert, harbor_alert) = same_key_in_two_tenants(
        &app,
        SameKey {
            mutation: "upsertAlerts",
            source: "NINJAONE",
            type_name: "Alert",
            table: "alerts",
            node: "id message status resolvedAt environment { name }",
            cedar: json!({ "message": "CEDAR-4711 disk almost full on the ledger server",
                "severity": "HIGH", "raisedAt": raised }),
            harbor: json!({ "message": "Backup job late", "severity": "LOW", "raisedAt": raised,
                "resolved": true }),
        },
    )
    .await?;
    assert_eq!(cedar_alert["status"], "OPEN");
    assert_eq!(harbor_alert["message"], "Backup job late");
    app.stop().await
}

#[tokio::test]
async fn another_tenants_system_with_the_same_external_id_is_a_system_of_its_own()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    same_key_in_two_tenants(
        &app,
        SameKey {
            mutation: "upsertSystems",
            source: "NINJAONE",
            type_name: "System",
            table: "systems",
            node: "id name kind operatingSystem environment { name } externalIds { source externalId }",
            cedar: json!({ "name": "CEDAR-4711-LEDGER", "kind": "SERVER",
                "operatingSystem": "Windows Server 2022" }),
            harbor: json!({ "name": "HHP-WS-4711", "kind": "WORKSTATION",
                "operatingSystem": "Windows 11 24H2" }),
        },
    )
    .await?;
    app.stop().await
}

// ---------------------------------------------------------------------------------------------
// 2 and 3. Concurrent approvals
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn both_sides_approving_at_the_same_instant_always_agree_the_entry() -> anyhow::Result<()> {
    const TRIALS: i64 = 50;
    let app = TestApp::spawn_with_demo().await?;
    let (provider, harbor) = (app.provider_admin_token(), app.client_admin_token());
    let environment = id_named(&app, &harbor, "environments", "Production").await?;
    let ehr = id_named(&app, &harbor, "systems", "HHP-EHR-APP01").await?;
    let internal_it = id_named(&app, &harbor, "teams", "Internal IT").await?;
    let start = Utc.with_ymd_and_hms(2031, 1, 1, 0, 0, 0).unwrap();
    let mut failed = Vec::new();
    for trial in 0..TRIALS {
        // One day each: no trial's entry overlaps another's.
        let from = start + Duration::days(trial);
        let id = proposed_entry(&app, &provider, &json!({ "environmentId": environment, "function": "backup_recovery",
            "systemId": ehr, "responsibleTeamId": internal_it, "validFrom": stamp(from), "validTo": stamp(from + Duration::days(1)) }))
        .await?;
        let (by_provider, by_harbor) = tokio::join!(
            act(&app, &provider, "approveResponsibility", &id),
            act(&app, &harbor, "approveResponsibility", &id)
        );
        let (by_provider, by_harbor) = (by_provider?, by_harbor?);
        let stored = entry_state(&app, &harbor, &id).await?;
        if !clean(&by_provider, "approveResponsibility")
            || !clean(&by_harbor, "approveResponsibility")
            || stored != state("AGREED", &BOTH_SIDES)
        {
            failed.push(format!(
                "trial {trial}: {stored:?}; provider: {by_provider}; harbor: {by_harbor}"
            ));
        }
    }
    assert_none_failed(
        &failed,
        TRIALS as usize,
        "trials did not end AGREED with both approvals",
    );
    app.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn overlapping_entries_approved_at_the_same_instant_end_with_exactly_one_agreed()
-> anyhow::Result<()> {
    const TRIALS: i64 = 15;
    let app = TestApp::spawn_with_demo().await?;
    let (provider, cedar) = (app.provider_admin_token(), cedar_admin(&app));
    let environment = id_named(&app, &cedar, "environments", "Main Office").await?;
    let system = app
        .query(
            &cedar,
            "{ systems(first: 1) { edges { node { id } } } }",
            Value::Null,
        )
        .await?["systems"]["edges"][0]["node"]["id"]
        .clone();
    let office = id_named(&app, &cedar, "teams", "Office Management").await?;
    // Cedar stays fully managed for three weeks: the provider alone agrees entries before then.
    let start = (Utc::now() + Duration::days(2))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    let mut failed = Vec::new();
    for trial in 0..TRIALS {
        // Each trial's two entries overlap each other by an hour and no other trial's.
        let base = start + Duration::hours(4 * trial);
        let entry = |from: DateTime<Utc>| {
            json!({ "environmentId": environment, "function": "line_of_business_applications", "systemId": system,
                "responsibleTeamId": office, "validFrom": stamp(from), "validTo": stamp(from + Duration::hours(2)) })
        };
        let first = proposed_entry(&app, &provider, &entry(base)).await?;
        let second = proposed_entry(&app, &provider, &entry(base + Duration::hours(1))).await?;
        let (one, other) = tokio::join!(
            act(&app, &provider, "approveResponsibility", &first),
            act(&app, &provider, "approveResponsibility", &second)
        );
        let answers = [one?, other?];
        let agreed: Vec<usize> = (0..2)
            .filter(|&index| {
                clean(&answers[index], "approveResponsibility")
                    && answers[index]["data"]["approveResponsibility"]["responsibility"]["status"]
                        == "AGREED"
            })
            .collect();
        let refused: Vec<usize> = (0..2)
            .filter(|&index| {
                answers[index].get("errors").is_none()
                    && user_errors(&answers[index]["data"]["approveResponsibility"])
                        .iter()
                        .any(|(_, code)| code == "INVALID_STATE")
            })
            .collect();
        let states = [
            entry_state(&app, &provider, &first).await?,
            entry_state(&app, &provider, &second).await?,
        ];
        let stored_agreed = states
            .iter()
            .filter(|(status, _)| status == "AGREED")
            .count();
        let ok = agreed.len() == 1
            && refused.len() == 1
            && agreed[0] != refused[0]
            && stored_agreed == 1
            && states[refused[0]] == state("PROPOSED", &[]);
        if !ok {
            failed.push(format!(
                "trial {trial}: stored {states:?}; answers {} / {}",
                answers[0], answers[1]
            ));
        }
    }
    assert_none_failed(
        &failed,
        TRIALS as usize,
        "trials did not end with exactly one AGREED",
    );
    app.stop().await
}

// ---------------------------------------------------------------------------------------------
// 4. Concurrent resends of a page
// ---------------------------------------------------------------------------------------------

/// The size of the page the issue resent (1,000 tickets).
const PAGE: usize = 1000;

fn ticket_page(environment: &Value, prefix: &str) -> Value {
    let records: Vec<Value> = (0..PAGE)
        .map(|number| {
            json!({ "externalId": format!("{prefix}-{number}"), "environmentId": environment,
                "title": format!("Resent ticket {number}"), "status": "NEW", "priority": "LOW",
                "externalStatus": "New" })
        })
        .collect();
    json!({ "source": { "kind": "CONNECTWISE_MANAGE" }, "records": records })
}

/// Sends `page` to `upsertTickets`; returns the body and when the call started and answered.
async fn send_page(
    app: &TestApp,
    token: &str,
    page: &Value,
) -> anyhow::Result<(Value, Instant, Instant)> {
    let sent = Instant::now();
    let body = send(
        app,
        token,
        "upsertTickets",
        page,
        "results { index outcome node { id } } counts { created updated unchanged failed }",
    )
    .await?;
    Ok((body, sent, Instant::now()))
}

fn node_ids(body: &Value) -> Vec<Value> {
    body["data"]["upsertTickets"]["results"]
        .as_array()
        .map(|results| {
            results
                .iter()
                .map(|result| result["node"]["id"].clone())
                .collect()
        })
        .unwrap_or_default()
}

/// Sends one page twice at once (the second `offset` later, while the first is in flight),
/// then a third time.
async fn resend_converges(offset: StdDuration, prefix: &str) -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let token = sync_token(&app);
    let environment = id_named(
        &app,
        &app.client_admin_token(),
        "environments",
        "Production",
    )
    .await?;
    let page = ticket_page(&environment, prefix);
    let tickets_before = app.count("tickets").await?;

    let (first, second) = tokio::join!(send_page(&app, &token, &page), async {
        tokio::time::sleep(offset).await;
        send_page(&app, &token, &page).await
    });
    let ((first, _, first_answered), (second, resent, _)) = (first?, second?);
    assert!(
        resent < first_answered,
        "the resend started {:?} after the first send answered: the sends did not overlap",
        resent - first_answered
    );
    let answers = [first, second];
    for (index, body) in answers.iter().enumerate() {
        assert!(
            body.get("errors").is_none(),
            "send {index} answered errors: {}",
            body["errors"]
        );
        let payload = &body["data"]["upsertTickets"];
        assert!(
            user_errors(payload).is_empty(),
            "send {index}: {:?}",
            user_errors(payload)
        );
        assert_eq!(payload["counts"]["failed"], 0, "send {index}");
        assert_eq!(node_ids(body).len(), PAGE, "send {index}");
    }
    assert_eq!(
        node_ids(&answers[0]),
        node_ids(&answers[1]),
        "both sends name the same tickets"
    );
    let created: i64 = answers
        .iter()
        .map(|body| {
            body["data"]["upsertTickets"]["counts"]["created"]
                .as_i64()
                .unwrap_or_default()
        })
        .sum();
    assert_eq!(created, PAGE as i64, "each ticket is created exactly once");
    assert_eq!(app.count("tickets").await?, tickets_before + PAGE as i64);
    let distinct: BTreeSet<String> = node_ids(&answers[0])
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(distinct.len(), PAGE);

    let (third, _, _) = send_page(&app, &token, &page).await?;
    assert!(third.get("errors").is_none(), "{}", third["errors"]);
    assert_eq!(
        third["data"]["upsertTickets"]["counts"],
        json!({ "created": 0, "updated": 0, "unchanged": PAGE, "failed": 0 })
    );
    assert!(
        outcomes(&third["data"]["upsertTickets"])
            .iter()
            .all(|outcome| outcome == "UNCHANGED")
    );
    assert_eq!(node_ids(&third), node_ids(&answers[0]));
    assert_eq!(app.count("tickets").await?, tickets_before + PAGE as i64);
    app.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_page_sent_twice_at_once_converges_without_errors() -> anyhow::Result<()> {
    resend_converges(StdDuration::ZERO, "TWIN").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_page_resent_50_ms_into_the_first_send_converges_without_errors() -> anyhow::Result<()> {
    resend_converges(StdDuration::from_millis(50), "LATE").await
}

// ---------------------------------------------------------------------------------------------
// 5. Concurrent createTicket callers
// ---------------------------------------------------------------------------------------------

/// One worker thread per caller.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn eight_concurrent_create_ticket_callers_never_see_an_error() -> anyhow::Result<()> {
    const CALLERS: usize = 8;
    /// "For several seconds" (the issue): each caller makes dozens of calls even on a loaded
    /// machine.
    const LOAD: StdDuration = StdDuration::from_secs(3);
    let app = TestApp::spawn_with_demo().await?;
    let tokens = [app.provider_admin_token(), app.client_admin_token()];
    let environment = id_named(&app, &tokens[1], "environments", "Production").await?;
    let tickets_before = app.count("tickets").await?;
    let deadline = Instant::now() + LOAD;
    let callers = (0..CALLERS).map(|caller| {
        let (app, token, environment) = (&app, &tokens[caller % 2], &environment);
        async move {
            let (mut successes, mut failures) = (0_usize, Vec::new());
            let mut number = 0;
            while Instant::now() < deadline {
                number += 1;
                // No team given: the ticket is routed by the matrix, a read before the write.
                let input = json!({ "environmentId": environment,
                    "title": format!("Load {caller}-{number}"), "priority": "LOW" });
                match send(app, token, "createTicket", &input, "ticket { id }").await {
                    Ok(body)
                        if clean(&body, "createTicket")
                            && body["data"]["createTicket"]["ticket"]["id"].is_string() =>
                    {
                        successes += 1;
                    }
                    Ok(body) => failures.push(body.to_string()),
                    Err(error) => failures.push(format!("{error:#}")),
                }
            }
            (successes, failures)
        }
    });
    let results = futures_util::future::join_all(callers).await;
    let successes: usize = results.iter().map(|(successes, _)| successes).sum();
    let failures: Vec<String> = results
        .iter()
        .flat_map(|(_, failures)| failures.iter().cloned())
        .collect();
    assert_none_failed(&failures, failures.len() + successes, "calls failed");
    assert!(
        results.iter().all(|(successes, _)| *successes > 0),
        "every caller got calls through: {:?}",
        results
            .iter()
            .map(|(successes, _)| successes)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        app.count("tickets").await?,
        tickets_before + successes as i64
    );
    app.stop().await
}

// ---------------------------------------------------------------------------------------------
// 6. Governance
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_provider_manages_none_of_the_clients_people_teams_or_memberships() -> anyhow::Result<()>
{
    let app = TestApp::spawn_with_demo().await?;
    let (provider, harbor) = (app.provider_admin_token(), app.client_admin_token());
    let harbor_org = app
        .query(&harbor, "{ viewer { organization { id } } }", Value::Null)
        .await?["viewer"]["organization"]["id"]
        .clone();
    let dana = id_named(&app, &harbor, "people", "Dana Whitfield").await?;
    let luis = id_named(&app, &harbor, "people", "Luis Ortega").await?;
    let morgan = id_named(&app, &provider, "people", "Morgan Reyes").await?;
    let internal_it = id_named(&app, &harbor, "teams", "Internal IT").await?;
    let compliance = id_named(&app, &harbor, "teams", "Compliance Office").await?;
    let before = tests::dump(&app.db).await?;

    let attempts = [
        (
            "createPerson",
            json!({ "organizationId": harbor_org, "subject": "northwind|shadow-admin", "displayName": "Shadow Admin", "role": "ADMIN" }),
        ),
        ("updatePerson", json!({ "id": dana, "active": false })),
        ("updatePerson", json!({ "id": dana, "role": "VIEWER" })),
        (
            "updatePerson",
            json!({ "id": dana, "displayName": "Dana (left)", "email": "dana@northwind-msp.example" }),
        ),
        (
            "createTeam",
            json!({ "organizationId": harbor_org, "name": "Shadow IT" }),
        ),
        (
            "updateTeam",
            json!({ "id": internal_it, "name": "Northwind-run IT" }),
        ),
        (
            "addTeamMember",
            json!({ "teamId": compliance, "personId": luis }),
        ),
        (
            "addTeamMember",
            json!({ "teamId": internal_it, "personId": morgan }),
        ),
        (
            "removeTeamMember",
            json!({ "teamId": internal_it, "personId": dana }),
        ),
    ];
    let mut accepted = Vec::new();
    for (name, input) in &attempts {
        let body = send(&app, &provider, name, input, "__typename").await?;
        let forbidden = error_codes(&body) == ["FORBIDDEN"];
        let user_error =
            body.get("errors").is_none() && !user_errors(&body["data"][name]).is_empty();
        if !(forbidden || user_error) {
            accepted.push(format!("{name} {input}: {body}"));
        }
    }
    assert!(
        accepted.is_empty(),
        "the provider's calls on the client's directory were not refused:\n{}",
        accepted.join("\n")
    );
    assert_nothing_written(&app, &before, "the provider's refused calls").await?;
    // The client's admin still signs in; the provider got no identity in the client.
    let viewer = app
        .query(
            &harbor,
            "{ viewer { role person { displayName active } } }",
            Value::Null,
        )
        .await?;
    assert_eq!(
        viewer["viewer"],
        json!({ "role": "ADMIN", "person": { "displayName": "Dana Whitfield", "active": true } })
    );
    let shadow = app.token("northwind|shadow-admin", "harbor-health", Role::Admin);
    let (_, body) = app
        .graphql(Some(&shadow), "{ viewer { role } }", Value::Null)
        .await?;
    assert_error_code(&body, "UNAUTHENTICATED");

    // The same calls are well formed: the client's own admin makes each of them.
    let control = [
        (
            "createPerson",
            json!({ "organizationId": harbor_org, "subject": "harbor|new-tech", "displayName": "New Tech", "role": "MEMBER" }),
        ),
        (
            "updatePerson",
            json!({ "id": luis, "displayName": "Luis Ortega-Diaz" }),
        ),
        (
            "createTeam",
            json!({ "organizationId": harbor_org, "name": "Help Desk" }),
        ),
        (
            "updateTeam",
            json!({ "id": compliance, "description": "HIPAA privacy and security." }),
        ),
        (
            "addTeamMember",
            json!({ "teamId": compliance, "personId": luis }),
        ),
        (
            "removeTeamMember",
            json!({ "teamId": compliance, "personId": luis }),
        ),
    ];
    for (name, input) in &control {
        let body = send(&app, &harbor, name, input, "__typename").await?;
        assert!(clean(&body, name), "{name} {input}: {body}");
    }
    app.stop().await
}

#[tokio::test]
async fn a_providers_person_never_approves_as_the_client() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (provider, harbor) = (app.provider_admin_token(), app.client_admin_token());
    let environment = id_named(&app, &harbor, "environments", "Production").await?;
    let ehr = id_named(&app, &harbor, "systems", "HHP-EHR-APP01").await?;
    let internal_it = id_named(&app, &harbor, "teams", "Internal IT").await?;
    let id = proposed_entry(
        &app,
        &provider,
        &json!({ "environmentId": environment, "function": "backup_recovery",
        "systemId": ehr, "responsibleTeamId": internal_it, "validFrom": "2030-01-01T00:00:00Z" }),
    )
    .await?;

    let first = act(&app, &provider, "approveResponsibility", &id).await?;
    assert!(clean(&first, "approveResponsibility"), "{first}");
    let approvals = &first["data"]["approveResponsibility"]["responsibility"]["approvals"];
    assert_eq!(
        *approvals,
        json!([{ "organization": { "slug": "northwind-msp" }, "person": { "displayName": "Morgan Reyes" } }]),
        "recorded with the token's own organization"
    );
    let provider_only = state("PROPOSED", &["northwind-msp"]);
    assert_eq!(entry_state(&app, &harbor, &id).await?, provider_only);

    // Approving again does not count as the other side.
    let again = act(&app, &provider, "approveResponsibility", &id).await?;
    assert_user_error(&again, "approveResponsibility", "input.id", "INVALID_STATE");
    assert_eq!(entry_state(&app, &harbor, &id).await?, provider_only);
    // A token naming the client's organization for the provider's subject is refused.
    let disguised = app.token(api::demo::PROVIDER_ADMIN.0, "harbor-health", Role::Admin);
    let disguised_answer = act(&app, &disguised, "approveResponsibility", &id).await?;
    assert_error_code(&disguised_answer, "UNAUTHENTICATED");
    assert_eq!(entry_state(&app, &harbor, &id).await?, provider_only);

    let agreed = act(&app, &harbor, "approveResponsibility", &id).await?;
    assert!(clean(&agreed, "approveResponsibility"), "{agreed}");
    assert_eq!(
        entry_state(&app, &harbor, &id).await?,
        state("AGREED", &BOTH_SIDES)
    );
    app.stop().await
}

// ---------------------------------------------------------------------------------------------
// 7. Retirement never changes the past
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn retiring_a_co_managed_entry_takes_both_sides_and_leaves_earlier_reads_unchanged()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (provider, harbor) = (app.provider_admin_token(), app.client_admin_token());
    let environment = id_named(&app, &harbor, "environments", "Production").await?;
    let earlier = Utc::now() - Duration::hours(1);
    let before = matrix_reads(&app, &harbor, &environment, earlier).await?;
    assert_eq!(before[0]["whoOwns"]["decidedBy"], "FUNCTION_DEFAULT");
    let entry = before[0]["whoOwns"]["responsibility"]["id"].clone();
    assert!(entry.is_string(), "{}", before[0]);

    // One side alone does not retire it.
    let first = act(&app, &provider, "retireResponsibility", &entry).await?;
    assert!(clean(&first, "retireResponsibility"), "{first}");
    let payload = &first["data"]["retireResponsibility"]["responsibility"];
    assert_eq!(payload["status"], "AGREED", "{first}");
    assert_eq!(
        payload["retireApprovals"],
        json!([{ "organization": { "name": "Northwind Managed Services" } }])
    );
    assert_eq!(
        service_desk_owner_soon(&app, &harbor, &environment).await?,
        entry,
        "still in force after one side's retirement"
    );

    let second = act(&app, &harbor, "retireResponsibility", &entry).await?;
    assert!(clean(&second, "retireResponsibility"), "{second}");
    let payload = &second["data"]["retireResponsibility"]["responsibility"];
    assert_eq!(payload["status"], "RETIRED", "{second}");
    assert_eq!(
        names(&payload["retireApprovals"], "/organization/name"),
        BTreeSet::from([
            "Harbor Health Partners".to_owned(),
            "Northwind Managed Services".to_owned()
        ])
    );

    // The past answers exactly as before, to both sides; from now on the entry is gone.
    assert_eq!(
        matrix_reads(&app, &harbor, &environment, earlier).await?,
        before
    );
    assert_eq!(
        matrix_reads(&app, &provider, &environment, earlier).await?,
        before
    );
    assert_ne!(
        service_desk_owner_soon(&app, &harbor, &environment).await?,
        entry
    );
    app.stop().await
}

#[tokio::test]
async fn the_provider_alone_retires_a_fully_managed_entry_and_earlier_reads_stay_unchanged()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (provider, cedar) = (app.provider_admin_token(), cedar_admin(&app));
    let environment = id_named(&app, &cedar, "environments", "Main Office").await?;
    // The service desk entry ends with the fully managed period: the provider's alone.
    let earlier = Utc::now() - Duration::days(3);
    let before = matrix_reads(&app, &cedar, &environment, earlier).await?;
    let entry = before[0]["whoOwns"]["responsibility"]["id"].clone();
    assert!(entry.is_string(), "{}", before[0]);

    let retired = act(&app, &provider, "retireResponsibility", &entry).await?;
    assert!(clean(&retired, "retireResponsibility"), "{retired}");
    let payload = &retired["data"]["retireResponsibility"]["responsibility"];
    assert_eq!(payload["status"], "RETIRED", "{retired}");
    assert_eq!(
        payload["retireApprovals"],
        json!([{ "organization": { "name": "Northwind Managed Services" } }])
    );

    assert_eq!(
        matrix_reads(&app, &cedar, &environment, earlier).await?,
        before
    );
    assert_ne!(
        service_desk_owner_soon(&app, &cedar, &environment).await?,
        entry
    );
    app.stop().await
}

// ---------------------------------------------------------------------------------------------
// 8. Honest attribution
// ---------------------------------------------------------------------------------------------

const ENTRY_ATTRIBUTION: &str =
    "id source actorName recordedBy { kind person { displayName } integration { id } }";
const FORGED_ACTOR: &str = "Jonas Weber (Northwind NOC)";

#[tokio::test]
async fn a_token_without_an_integration_cannot_forge_an_rmm_entry() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let environment = id_named(&app, &harbor, "environments", "Production").await?;
    let occurred = stamp(Utc::now() - Duration::hours(1));
    let tokens = [
        // Every client admin can hold an INTEGRATION token of their own.
        (
            app.token(
                api::demo::CLIENT_IT_ADMIN.0,
                "harbor-health",
                Role::Integration,
            ),
            "Dana Whitfield",
        ),
        (harbor.clone(), "Dana Whitfield"),
        (sync_token(&app), "Northwind sync job"),
    ];
    for (index, (token, person)) in tokens.iter().enumerate() {
        let payload = upsert(
            &app,
            token,
            "recordChanges",
            &json!({ "source": { "kind": "NINJAONE" }, "records": [{
            "externalId": format!("forged-{index}"), "environmentId": environment,
            "summary": format!("Disabled EDR on HHP-DC01 ({index})"), "category": "SECURITY",
            "occurredAt": occurred, "actorName": FORGED_ACTOR }] }),
            ENTRY_ATTRIBUTION,
        )
        .await?;
        assert_eq!(outcomes(&payload), ["CREATED"], "{payload}");
        let entry = &payload["results"][0]["node"];
        assert_eq!(entry["source"], "API", "token {index}: {entry}");
        assert_eq!(entry["actorName"], FORGED_ACTOR);
        assert_eq!(
            entry["recordedBy"],
            json!({ "kind": "PERSON", "person": { "displayName": person }, "integration": null }),
            "token {index}"
        );
    }
    let rmm = app
        .query(
            &app.provider_admin_token(),
            "{ changeLog(filter: { text: \"Disabled EDR\", sources: [RMM, PSA] }) { totalCount } }",
            Value::Null,
        )
        .await?;
    assert_eq!(rmm["changeLog"]["totalCount"], 0);

    // A person's own change is the person's.
    let payload = mutate(
        &app,
        &harbor,
        "recordChange",
        &json!({ "environmentId": environment,
        "summary": "Rotated the VPN pre-shared key", "category": "SECURITY" }),
        &format!("changeLogEntry {{ {ENTRY_ATTRIBUTION} }}"),
    )
    .await?;
    assert_eq!(
        payload["changeLogEntry"]["recordedBy"],
        json!({ "kind": "PERSON", "person": { "displayName": "Dana Whitfield" }, "integration": null })
    );
    assert_eq!(payload["changeLogEntry"]["source"], "API");
    app.stop().await
}

#[tokio::test]
async fn an_integrations_token_writes_rmm_entries_recorded_by_the_integration() -> anyhow::Result<()>
{
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let environment = id_named(
        &app,
        &app.client_admin_token(),
        "environments",
        "Production",
    )
    .await?;
    let ninja = app
        .all_nodes(&provider, "integrations", "id kind")
        .await?
        .into_iter()
        .find(|node| node["kind"] == "NINJAONE")
        .expect("the provider sees its NinjaOne integration")["id"]
        .clone();
    let token = app.integration_token(
        "demo|northwind-sync",
        "northwind-msp",
        tests::decode_uuid(&ninja),
    );
    let payload = upsert(&app, &token, "recordChanges", &json!({ "source": { "kind": "NINJAONE" }, "records": [{
        "externalId": "activity-1", "environmentId": environment, "summary": "Agent updated on HHP-DC01",
        "category": "PATCH", "occurredAt": stamp(Utc::now() - Duration::hours(1)), "actorName": "NinjaOne policy" }] }),
        ENTRY_ATTRIBUTION).await?;
    assert_eq!(outcomes(&payload), ["CREATED"], "{payload}");
    let entry = &payload["results"][0]["node"];
    assert_eq!(entry["source"], "RMM", "{entry}");
    assert_eq!(entry["actorName"], "NinjaOne policy");
    assert_eq!(entry["recordedBy"]["kind"], "INTEGRATION", "{entry}");
    assert_eq!(entry["recordedBy"]["integration"]["id"], ninja);

    // Every entry names its principal; no person's token ever wrote a PSA or RMM entry.
    let entries = app
        .all_nodes(
            &provider,
            "changeLog",
            "source recordedBy { kind person { id } integration { id } }",
        )
        .await?;
    assert!(entries.len() > 1, "the demo's log and this test's entry");
    // Problem (with the entry's source) -> how many entries have it, and one of them.
    let mut problems: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for entry in &entries {
        let recorded_by = &entry["recordedBy"];
        let kind = recorded_by["kind"].as_str().unwrap_or_default();
        let vendor = matches!(entry["source"].as_str(), Some("PSA" | "RMM"));
        let problem = match kind {
            "PERSON" if !recorded_by["person"]["id"].is_string() => "PERSON without a person",
            "PERSON" if vendor => "a person's token wrote a PSA/RMM entry",
            "INTEGRATION" if !recorded_by["integration"]["id"].is_string() => {
                "INTEGRATION without an integration"
            }
            "PERSON" | "INTEGRATION" | "SYSTEM" => continue,
            _ => "an unknown principal",
        };
        let found = problems
            .entry(format!("{problem} (source {})", entry["source"]))
            .or_insert_with(|| (0, entry.to_string()));
        found.0 += 1;
    }
    assert!(
        problems.is_empty(),
        "of {} entries: {problems:#?}",
        entries.len()
    );
    app.stop().await
}

// ---------------------------------------------------------------------------------------------
// 9. Bounded input
// ---------------------------------------------------------------------------------------------

/// Sends each `(token, mutation, input, field, code)`, asserts that it answers a user error
/// `code` on `field` (a path such as `input.summary`) and that it writes nothing.
async fn assert_each_refused(
    app: &TestApp,
    calls: &[(&str, &str, Value, &str, &str)],
) -> anyhow::Result<()> {
    let before = tests::dump(&app.db).await?;
    for (index, (token, name, input, field, code)) in calls.iter().enumerate() {
        let body = send(app, token, name, input, "__typename").await?;
        assert_user_error(&body, name, field, code);
        assert_nothing_written(app, &before, &format!("call {index} ({name})")).await?;
    }
    Ok(())
}

#[tokio::test]
async fn implausible_instants_are_refused_and_nothing_is_written() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (harbor, sync) = (app.client_admin_token(), sync_token(&app));
    let environment = id_named(&app, &harbor, "environments", "Production").await?;
    let change = |occurred: &str| json!({ "environmentId": environment, "summary": "Rebooted the firewall", "category": "OTHER", "occurredAt": occurred });
    assert_each_refused(
        &app,
        &[
            (
                &sync,
                "recordChanges",
                json!({ "source": { "kind": "NINJAONE" }, "records": [{
                "externalId": "act-9999", "environmentId": environment, "summary": "Agent updated",
                "category": "PATCH", "occurredAt": "9999-12-31T00:00:00Z" }] }),
                "input.records.0.occurredAt",
                "INVALID",
            ),
            (
                &harbor,
                "recordChange",
                change("0000-01-01T00:00:00Z"),
                "input.occurredAt",
                "INVALID",
            ),
            (
                &harbor,
                "recordChange",
                change("-0001-01-01T00:00:00Z"),
                "input.occurredAt",
                "INVALID",
            ),
            // A leap second.
            (
                &harbor,
                "recordChange",
                change("2016-12-31T23:59:60Z"),
                "input.occurredAt",
                "INVALID",
            ),
            (
                &sync,
                "upsertTickets",
                json!({ "source": { "kind": "CONNECTWISE_MANAGE" }, "records": [{
                "externalId": "T-0", "environmentId": environment, "title": "From before the epoch",
                "status": "NEW", "priority": "LOW", "createdAt": "0000-01-01T00:00:00Z" }] }),
                "input.records.0.createdAt",
                "INVALID",
            ),
        ],
    )
    .await?;
    app.stop().await
}

#[tokio::test]
async fn nul_bytes_and_oversized_text_are_refused_and_nothing_is_written() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (harbor, sync) = (app.client_admin_token(), sync_token(&app));
    let environment = id_named(&app, &harbor, "environments", "Production").await?;
    assert_each_refused(
        &app,
        &[
            (
                &harbor,
                "recordChange",
                json!({ "environmentId": environment, "summary": "Rotated\u{0}the key", "category": "SECURITY" }),
                "input.summary",
                "INVALID",
            ),
            (
                &harbor,
                "createTicket",
                json!({ "environmentId": environment, "title": "Printer\u{0}offline" }),
                "input.title",
                "INVALID",
            ),
            (
                &sync,
                "upsertTickets",
                json!({ "source": { "kind": "CONNECTWISE_MANAGE" }, "records": [{
                "externalId": "T-NUL", "environmentId": environment, "title": "Backup\u{0}failed",
                "status": "NEW", "priority": "LOW" }] }),
                "input.records.0.title",
                "INVALID",
            ),
            // 1 MiB: far over any text limit, well under the request body limit.
            (
                &harbor,
                "recordChange",
                json!({ "environmentId": environment, "summary": "x".repeat(1024 * 1024), "category": "OTHER" }),
                "input.summary",
                "TOO_LONG",
            ),
        ],
    )
    .await?;
    app.stop().await
}

#[tokio::test]
async fn a_nul_byte_in_a_filter_is_bad_user_input() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let (_, body) = app
        .graphql(
            Some(&app.provider_admin_token()),
            "query($text: String) { changeLog(filter: { text: $text }) { totalCount } }",
            json!({ "text": "firewall\u{0}" }),
        )
        .await?;
    assert_error_code(&body, "BAD_USER_INPUT");
    app.stop().await
}
