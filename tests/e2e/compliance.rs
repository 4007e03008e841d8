//! Compliance obligations and evidence: an obligation is due, evidence is recorded, signed off by
//! the accountable side and the obligation is up to date; overdue and unsigned evidence are gaps
//! with their owner; only the accountable side's admins sign, once, even when two try at once;
//! files round-trip with their SHA-256; hostile input writes nothing; derived evidence counts
//! what the RMM recorded.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use entities::enums::Role;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use tests::TestApp;

const REPORT: &str = "query($id: ID!, $at: DateTime) { complianceObligations(environmentId: $id, at: $at) { at obligations { obligation { key framework cadence evidenceKind } required status coveredUntil periodStart periodEnd dueAt owner { responsibleTeam { name } responsibleSide accountableTeam { name } accountableSide } evidence { id result signed notes link linkSha256 file { sha256 sizeBytes contentType downloadPath } signoff { signedBy { displayName } accountableTeam { name } } } derivedEvidence { description count windowStart windowEnd } } } }";
const GAPS: &str = "query($id: ID!, $at: DateTime) { ownershipGaps(environmentId: $id, at: $at) { gaps { kind severity summary subject { __typename id ... on ComplianceObligation { key } ... on EvidenceRecord { result } } } } }";
const RECORD: &str = "mutation($input: RecordEvidenceInput!) { recordEvidence(input: $input) { evidence { id result signed } userErrors { field code message } } }";
const SIGN: &str = "mutation($input: SignEvidenceInput!) { signEvidence(input: $input) { evidence { id signed } userErrors { field code message } } }";

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn noc_token(app: &TestApp) -> String {
    app.token("demo|northwind-noc", "northwind-msp", Role::Member)
}

fn harbor_member_token(app: &TestApp) -> String {
    app.token("demo|harbor-it-tech", "harbor-health", Role::Member)
}

fn harbor_viewer_token(app: &TestApp) -> String {
    app.token("demo|harbor-compliance", "harbor-health", Role::Viewer)
}

fn cedar_admin_token(app: &TestApp) -> String {
    app.token("demo|cedar-office", "cedar-pine", Role::Admin)
}

async fn team(app: &TestApp, name: &str) -> anyhow::Result<Value> {
    let data = app
        .query(
            &app.provider_admin_token(),
            "{ teams(first: 100) { edges { node { id name } } } }",
            Value::Null,
        )
        .await?;
    Ok(data["teams"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|edge| edge["node"]["name"] == name)
        .unwrap_or_else(|| panic!("no team {name}"))["node"]["id"]
        .clone())
}

async fn environment_named(app: &TestApp, name: &str) -> anyhow::Result<Value> {
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

/// A new Harbor environment held to `frameworks`, with an agreed backup-and-recovery default:
/// the provider's NOC responsible, Harbor's Internal IT accountable.
async fn annex(app: &TestApp, frameworks: Value) -> anyhow::Result<Value> {
    let harbor = app.client_admin_token();
    let provider = app.provider_admin_token();
    let organization = app
        .query(&harbor, "{ viewer { organization { id } } }", Value::Null)
        .await?["viewer"]["organization"]["id"]
        .clone();
    let environment = app
        .query(&harbor, "mutation($input: CreateEnvironmentInput!) { createEnvironment(input: $input) { environment { id } } }", json!({ "input": { "organizationId": organization, "name": "Annex", "complianceFrameworks": frameworks } }))
        .await?["createEnvironment"]["environment"]["id"]
        .clone();
    assert!(environment.is_string());
    let (noc, internal_it) = (
        team(app, "Network Operations").await?,
        team(app, "Internal IT").await?,
    );
    let created = app
        .query(&harbor, "mutation($input: CreateResponsibilityInput!) { createResponsibility(input: $input) { responsibility { id } userErrors { field message } } }", json!({ "input": { "environmentId": environment, "function": "backup_recovery", "responsibleTeamId": noc, "accountableTeamId": internal_it, "validFrom": "2026-01-01T00:00:00Z" } }))
        .await?;
    let id = created["createResponsibility"]["responsibility"]["id"].clone();
    assert!(id.is_string(), "{created}");
    for (token, action) in [
        (&harbor, "proposeResponsibility"),
        (&harbor, "approveResponsibility"),
        (&provider, "approveResponsibility"),
    ] {
        let done = app
            .query(token, &format!("mutation($input: ResponsibilityActionInput!) {{ {action}(input: $input) {{ userErrors {{ message }} }} }}"), json!({ "input": { "id": id } }))
            .await?;
        assert_eq!(done[action]["userErrors"], json!([]), "{done}");
    }
    Ok(environment)
}

async fn report(
    app: &TestApp,
    token: &str,
    environment: &Value,
    at: Option<DateTime<Utc>>,
) -> anyhow::Result<Vec<Value>> {
    let data = app
        .query(
            token,
            REPORT,
            json!({ "id": environment, "at": at.map(stamp) }),
        )
        .await?;
    Ok(data["complianceObligations"]["obligations"]
        .as_array()
        .unwrap()
        .clone())
}

fn obligation<'a>(states: &'a [Value], key: &str) -> &'a Value {
    states
        .iter()
        .find(|state| state["obligation"]["key"] == key)
        .unwrap_or_else(|| panic!("no obligation {key}"))
}

async fn gaps(
    app: &TestApp,
    token: &str,
    environment: &Value,
    at: Option<DateTime<Utc>>,
) -> anyhow::Result<Vec<Value>> {
    let data = app
        .query(
            token,
            GAPS,
            json!({ "id": environment, "at": at.map(stamp) }),
        )
        .await?;
    Ok(data["ownershipGaps"]["gaps"].as_array().unwrap().clone())
}

fn of_kind<'a>(gaps: &'a [Value], kind: &str) -> Vec<&'a Value> {
    gaps.iter().filter(|gap| gap["kind"] == kind).collect()
}

/// Sends `query` with `input` as `token`; returns the payload at `field` (user errors included)
/// or the top-level error codes.
async fn mutate(
    app: &TestApp,
    token: &str,
    query: &str,
    field: &str,
    input: Value,
) -> anyhow::Result<Result<Value, Vec<String>>> {
    let (_, body) = app
        .graphql(Some(token), query, json!({ "input": input }))
        .await?;
    if let Some(errors) = body["errors"].as_array() {
        return Ok(Err(errors
            .iter()
            .map(|error| {
                error["extensions"]["code"]
                    .as_str()
                    .unwrap_or("?")
                    .to_owned()
            })
            .collect()));
    }
    Ok(Ok(body["data"][field].clone()))
}

/// A month of backup restore testing, from a day ago.
fn restore_test(environment: &Value) -> Value {
    let start = Utc::now() - Duration::days(1);
    json!({
        "environmentId": environment,
        "obligation": "hipaa.backup_restore_test",
        "periodStart": stamp(start),
        "periodEnd": stamp(start + Duration::days(30)),
        "result": "PASSED",
        "notes": "Restored the file share to the test host.",
        "link": "https://evidence.example.com/restore-test.pdf",
        "linkSha256": "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08",
    })
}

async fn recorded(app: &TestApp, token: &str, input: Value) -> anyhow::Result<Value> {
    let payload = mutate(app, token, RECORD, "recordEvidence", input)
        .await?
        .expect("recordEvidence answers");
    assert_eq!(payload["userErrors"], json!([]), "{payload}");
    Ok(payload["evidence"]["id"].clone())
}

#[tokio::test]
async fn evidence_goes_from_due_to_recorded_to_signed_to_up_to_date() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let environment = annex(&app, json!(["HIPAA"])).await?;

    let states = report(&app, &harbor, &environment, None).await?;
    assert_eq!(states.len(), 7, "HIPAA's catalog: {states:?}");
    let restore = obligation(&states, "hipaa.backup_restore_test");
    assert_eq!(restore["status"], "DUE");
    assert_eq!(restore["obligation"]["cadence"], "MONTHLY");
    assert_eq!(restore["required"], true);
    assert_eq!(
        restore["owner"]["responsibleTeam"]["name"],
        "Network Operations"
    );
    assert_eq!(restore["owner"]["responsibleSide"], "PROVIDER");
    assert_eq!(restore["owner"]["accountableTeam"]["name"], "Internal IT");
    assert_eq!(restore["owner"]["accountableSide"], "CLIENT");
    assert_eq!(restore["coveredUntil"], Value::Null);
    // The first period starts when the environment was created, and is due a month and the
    // grace days later.
    let start: DateTime<Utc> = restore["periodStart"].as_str().unwrap().parse()?;
    let due: DateTime<Utc> = restore["dueAt"].as_str().unwrap().parse()?;
    assert!((Utc::now() - start).num_minutes().abs() < 5, "{restore}");
    assert!(
        (28 + 7..=31 + 7).contains(&(due - start).num_days()),
        "{restore}"
    );

    // The provider's NOC produces it: recorded, not yet signed.
    let evidence = recorded(&app, &noc_token(&app), restore_test(&environment)).await?;
    let states = report(&app, &harbor, &environment, None).await?;
    let restore = obligation(&states, "hipaa.backup_restore_test");
    assert_eq!(restore["status"], "UNSIGNED");
    assert_eq!(restore["evidence"][0]["id"], evidence);
    assert_eq!(
        restore["evidence"][0]["linkSha256"],
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    );
    let found = gaps(&app, &harbor, &environment, None).await?;
    let unsigned = of_kind(&found, "EVIDENCE_UNSIGNED");
    assert_eq!(unsigned.len(), 1, "{found:?}");
    assert_eq!(unsigned[0]["severity"], "MEDIUM");
    assert_eq!(unsigned[0]["subject"]["id"], evidence);
    let summary = unsigned[0]["summary"].as_str().unwrap();
    assert!(
        summary.contains(
            "produced by Network Operations (provider), accountable: Internal IT (client)"
        ),
        "{summary}"
    );

    // Harbor's admin signs it off (Internal IT, Harbor's team, is accountable).
    let signed = mutate(
        &app,
        &harbor,
        SIGN,
        "signEvidence",
        json!({ "evidenceId": evidence }),
    )
    .await?
    .expect("signEvidence answers");
    assert_eq!(signed["userErrors"], json!([]), "{signed}");
    assert_eq!(signed["evidence"]["signed"], true);
    let states = report(&app, &harbor, &environment, None).await?;
    let restore = obligation(&states, "hipaa.backup_restore_test");
    assert_eq!(restore["status"], "UP_TO_DATE");
    assert_eq!(
        restore["evidence"][0]["signoff"]["signedBy"]["displayName"],
        "Dana Whitfield"
    );
    assert_eq!(
        restore["evidence"][0]["signoff"]["accountableTeam"]["name"],
        "Internal IT"
    );
    let found = gaps(&app, &harbor, &environment, None).await?;
    assert!(of_kind(&found, "EVIDENCE_UNSIGNED").is_empty(), "{found:?}");
    assert!(
        !of_kind(&found, "EVIDENCE_OVERDUE")
            .iter()
            .any(|gap| gap["subject"]["key"] == "hipaa.backup_restore_test"),
        "{found:?}"
    );

    // A second sign-off is refused.
    let again = mutate(
        &app,
        &harbor,
        SIGN,
        "signEvidence",
        json!({ "evidenceId": evidence }),
    )
    .await?
    .expect("signEvidence answers");
    assert_eq!(again["userErrors"][0]["code"], "INVALID_STATE", "{again}");

    // Once the covered month and the next one pass without evidence, it is overdue: a HIGH gap
    // naming its owner.
    let later = Utc::now() + Duration::days(80);
    let states = report(&app, &harbor, &environment, Some(later)).await?;
    assert_eq!(
        obligation(&states, "hipaa.backup_restore_test")["status"],
        "OVERDUE"
    );
    let found = gaps(&app, &harbor, &environment, Some(later)).await?;
    let overdue: Vec<&Value> = of_kind(&found, "EVIDENCE_OVERDUE")
        .into_iter()
        .filter(|gap| gap["subject"]["key"] == "hipaa.backup_restore_test")
        .collect();
    assert_eq!(overdue.len(), 1, "{found:?}");
    assert_eq!(overdue[0]["severity"], "HIGH");
    assert!(
        overdue[0]["summary"]
            .as_str()
            .unwrap()
            .contains("produced by Network Operations (provider)"),
        "{}",
        overdue[0]
    );
    // An obligation whose function nobody owns is overdue too, and says so.
    let risk = of_kind(&found, "EVIDENCE_OVERDUE")
        .into_iter()
        .find(|gap| gap["subject"]["key"] == "hipaa.risk_analysis");
    assert!(
        risk.is_none(),
        "a yearly analysis is not due within 80 days"
    );
    let much_later = Utc::now() + Duration::days(400);
    let found = gaps(&app, &harbor, &environment, Some(much_later)).await?;
    let risk = of_kind(&found, "EVIDENCE_OVERDUE")
        .into_iter()
        .find(|gap| gap["subject"]["key"] == "hipaa.risk_analysis")
        .expect("the risk analysis is overdue after 400 days");
    assert!(
        risk["summary"]
            .as_str()
            .unwrap()
            .contains("no agreed entry owns its function"),
        "{risk}"
    );
    app.stop().await
}

#[tokio::test]
async fn the_demos_overdue_risk_analysis_is_a_high_gap_owned_by_the_client() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let production = environment_named(&app, "Production").await?;
    let states = report(&app, &harbor, &production, None).await?;
    let risk = obligation(&states, "hipaa.risk_analysis");
    assert_eq!(risk["status"], "OVERDUE");
    assert_eq!(
        risk["owner"]["responsibleTeam"]["name"],
        "Compliance Office"
    );
    assert_eq!(risk["owner"]["responsibleSide"], "CLIENT");
    let restore = obligation(&states, "hipaa.backup_restore_test");
    assert_eq!(restore["status"], "UP_TO_DATE");
    assert_eq!(restore["owner"]["responsibleSide"], "PROVIDER");
    assert_eq!(restore["evidence"][0]["signed"], true);
    let found = gaps(&app, &harbor, &production, None).await?;
    let overdue = of_kind(&found, "EVIDENCE_OVERDUE")
        .into_iter()
        .find(|gap| gap["subject"]["key"] == "hipaa.risk_analysis")
        .expect("the overdue risk analysis is a gap");
    assert_eq!(overdue["severity"], "HIGH");
    assert!(
        overdue["summary"].as_str().unwrap().contains(
            "produced by Compliance Office (client), accountable: Compliance Office (client)"
        ),
        "{overdue}"
    );
    // The provider sees the same report; another client sees nothing.
    let provider = report(&app, &app.provider_admin_token(), &production, None).await?;
    assert_eq!(provider.len(), states.len());
    let cedar = app
        .query(
            &cedar_admin_token(&app),
            REPORT,
            json!({ "id": production }),
        )
        .await?;
    assert_eq!(cedar["complianceObligations"], Value::Null);
    app.stop().await
}

#[tokio::test]
async fn the_wrong_side_role_or_tenant_cannot_sign_and_nothing_changes() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let environment = annex(&app, json!(["HIPAA"])).await?;
    let evidence = recorded(&app, &noc_token(&app), restore_test(&environment)).await?;
    let before = tests::dump(&app.db).await?;
    // The provider produced it, but Harbor's Internal IT is accountable: the provider's admin may
    // not sign; Harbor's member and viewer lack the role; Cedar does not see it at all.
    for (who, token, expected) in [
        (
            "the provider's admin",
            app.provider_admin_token(),
            "FORBIDDEN",
        ),
        ("Harbor's member", harbor_member_token(&app), "FORBIDDEN"),
        ("Harbor's viewer", harbor_viewer_token(&app), "FORBIDDEN"),
        (
            "the NOC member who recorded it",
            noc_token(&app),
            "FORBIDDEN",
        ),
    ] {
        let outcome = mutate(
            &app,
            &token,
            SIGN,
            "signEvidence",
            json!({ "evidenceId": evidence }),
        )
        .await?;
        assert_eq!(outcome, Err(vec![expected.to_owned()]), "{who}");
    }
    let cedar = mutate(
        &app,
        &cedar_admin_token(&app),
        SIGN,
        "signEvidence",
        json!({ "evidenceId": evidence }),
    )
    .await?
    .expect("a payload");
    assert_eq!(cedar["userErrors"][0]["code"], "NOT_FOUND", "{cedar}");
    assert_eq!(
        cedar["userErrors"][0]["field"],
        json!(["input", "evidenceId"])
    );
    // Cedar cannot record evidence into Harbor's environment either, nor read its file.
    let into_harbor = mutate(
        &app,
        &cedar_admin_token(&app),
        RECORD,
        "recordEvidence",
        restore_test(&environment),
    )
    .await?
    .expect("a payload");
    assert_eq!(into_harbor["userErrors"][0]["code"], "NOT_FOUND");
    let viewer_records = mutate(
        &app,
        &harbor_viewer_token(&app),
        RECORD,
        "recordEvidence",
        restore_test(&environment),
    )
    .await?;
    assert_eq!(viewer_records, Err(vec!["FORBIDDEN".to_owned()]));
    let node = app
        .query(
            &cedar_admin_token(&app),
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": evidence }),
        )
        .await?;
    assert_eq!(node["node"], Value::Null);
    assert_eq!(
        tests::dump(&app.db).await?,
        before,
        "a refusal writes nothing"
    );
    // Evidence is append-only in the database itself, whatever writes.
    for statement in [
        "UPDATE evidence_records SET notes = 'rewritten'",
        "DELETE FROM evidence_signoffs",
        "UPDATE evidence_files SET sha256 = 'forged'",
    ] {
        assert!(
            app.db.execute_unprepared(statement).await.is_err(),
            "{statement}"
        );
    }
    assert_eq!(tests::dump(&app.db).await?, before);
    app.stop().await
}

#[tokio::test]
async fn two_sign_offs_at_once_are_decided_once() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let environment = annex(&app, json!(["HIPAA"])).await?;
    let harbor = app.client_admin_token();
    let signoffs = app.count("evidence_signoffs").await?;
    for trial in 0..5 {
        let mut input = restore_test(&environment);
        input["notes"] = json!(format!("Trial {trial}"));
        let evidence = recorded(&app, &noc_token(&app), input).await?;
        let sign = || {
            mutate(
                &app,
                &harbor,
                SIGN,
                "signEvidence",
                json!({ "evidenceId": evidence }),
            )
        };
        let (first, second) = tokio::join!(sign(), sign());
        let outcomes = [first?.expect("a payload"), second?.expect("a payload")];
        let signed = outcomes
            .iter()
            .filter(|payload| payload["userErrors"] == json!([]))
            .count();
        assert_eq!(signed, 1, "trial {trial}: {outcomes:?}");
        assert!(
            outcomes
                .iter()
                .any(|payload| payload["userErrors"][0]["code"] == "INVALID_STATE"),
            "trial {trial}: {outcomes:?}"
        );
    }
    assert_eq!(app.count("evidence_signoffs").await?, signoffs + 5);
    app.stop().await
}

#[tokio::test]
async fn a_file_round_trips_with_its_sha256() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let environment = annex(&app, json!(["HIPAA"])).await?;
    let noc = noc_token(&app);
    let mut input = restore_test(&environment);
    input.as_object_mut().unwrap().remove("link");
    input.as_object_mut().unwrap().remove("linkSha256");
    let evidence = recorded(&app, &noc, input).await?;
    let path = format!("/evidence/{}/file", evidence.as_str().unwrap());
    let url = format!("{}{path}", app.address);
    let content: Vec<u8> = (0..200_000u32).map(|at| (at % 251) as u8).collect();
    let put = |token: String, body: Vec<u8>| {
        app.client
            .put(&url)
            .bearer_auth(token)
            .header("content-type", "application/pdf")
            .body(body)
            .send()
    };

    // A viewer may not upload; another tenant does not see the evidence.
    assert_eq!(
        put(harbor_viewer_token(&app), content.clone())
            .await?
            .status(),
        403
    );
    assert_eq!(
        put(cedar_admin_token(&app), content.clone())
            .await?
            .status(),
        404
    );
    // An 11 MB file is over the limit.
    let huge = put(noc.clone(), vec![7u8; 11 * 1024 * 1024]).await?;
    assert_eq!(huge.status(), 413);
    assert_eq!(app.count("evidence_files").await?, 1, "only the demo's");

    let stored = put(noc.clone(), content.clone()).await?;
    assert_eq!(stored.status(), 201);
    let stored: Value = stored.json().await?;
    let expected = api::services::compliance::sha256_hex(&content);
    assert_eq!(stored["sha256"], expected);
    assert_eq!(stored["sizeBytes"], 200_000);

    let downloaded = app
        .client
        .get(&url)
        .bearer_auth(app.client_admin_token())
        .send()
        .await?;
    assert_eq!(downloaded.status(), 200);
    assert_eq!(downloaded.headers()["content-type"], "application/pdf");
    assert_eq!(
        downloaded.headers()["etag"].to_str()?,
        format!("\"{expected}\"")
    );
    assert!(downloaded.headers().contains_key("repr-digest"));
    assert_eq!(downloaded.bytes().await?.to_vec(), content);
    let foreign = app
        .client
        .get(&url)
        .bearer_auth(cedar_admin_token(&app))
        .send()
        .await?;
    assert_eq!(foreign.status(), 404);
    assert_eq!(app.get(&path).await?.status(), 401, "no token, no file");

    let states = report(&app, &app.client_admin_token(), &environment, None).await?;
    let file = &obligation(&states, "hipaa.backup_restore_test")["evidence"][0]["file"];
    assert_eq!(file["sha256"], expected);
    assert_eq!(file["contentType"], "application/pdf");
    assert_eq!(file["downloadPath"], path);

    // A file is attached once; after the sign-off nothing changes.
    let second = put(noc.clone(), b"other".to_vec()).await?;
    assert_eq!(second.status(), 400);
    let signed = mutate(
        &app,
        &app.client_admin_token(),
        SIGN,
        "signEvidence",
        json!({ "evidenceId": evidence }),
    )
    .await?
    .expect("a payload");
    assert_eq!(signed["userErrors"], json!([]));
    let mut fresh = restore_test(&environment);
    fresh["notes"] = json!("Another month");
    let unsigned = recorded(&app, &noc, fresh).await?;
    let signed_first = mutate(
        &app,
        &app.client_admin_token(),
        SIGN,
        "signEvidence",
        json!({ "evidenceId": unsigned }),
    )
    .await?
    .expect("a payload");
    assert_eq!(signed_first["userErrors"], json!([]));
    let late = app
        .client
        .put(format!(
            "{}/evidence/{}/file",
            app.address,
            unsigned.as_str().unwrap()
        ))
        .bearer_auth(&noc)
        .body(b"too late".to_vec())
        .send()
        .await?;
    assert_eq!(late.status(), 400, "signed evidence takes no file");
    assert_eq!(app.count("evidence_files").await?, 2);
    app.stop().await
}

#[tokio::test]
async fn hostile_input_is_refused_and_writes_nothing() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let environment = annex(&app, json!(["HIPAA"])).await?;
    let noc = noc_token(&app);
    let base = restore_test(&environment);
    let with = |changes: Value| {
        let mut input = base.clone();
        for (key, value) in changes.as_object().unwrap() {
            input[key] = value.clone();
        }
        input
    };
    let now = Utc::now();
    let cases = [
        (
            "a NUL byte in the notes",
            with(json!({ "notes": "ok\u{0}no" })),
            "notes",
            "INVALID",
        ),
        (
            "notes of a megabyte",
            with(json!({ "notes": "x".repeat(1_000_000) })),
            "notes",
            "TOO_LONG",
        ),
        (
            "a NUL byte in the obligation",
            with(json!({ "obligation": "hipaa\u{0}" })),
            "obligation",
            "INVALID",
        ),
        (
            "the year 9999",
            with(json!({ "periodEnd": "9999-12-31T00:00:00Z" })),
            "periodEnd",
            "INVALID",
        ),
        (
            "a period starting in the future",
            with(
                json!({ "periodStart": stamp(now + Duration::days(3)), "periodEnd": stamp(now + Duration::days(20)) }),
            ),
            "periodStart",
            "INVALID",
        ),
        (
            "a period that ends before it starts",
            with(json!({ "periodEnd": stamp(now - Duration::days(2)) })),
            "periodEnd",
            "INVALID",
        ),
        (
            "a period of a year for a monthly test",
            with(json!({ "periodEnd": stamp(now + Duration::days(360)) })),
            "periodEnd",
            "INVALID",
        ),
        (
            "an http link",
            with(json!({ "link": "http://evidence.example.com/report.pdf" })),
            "link",
            "INVALID",
        ),
        (
            "a private address",
            with(json!({ "link": "https://10.1.2.3/report.pdf" })),
            "link",
            "INVALID",
        ),
        (
            "loopback",
            with(json!({ "link": "https://127.0.0.1/report.pdf" })),
            "link",
            "INVALID",
        ),
        (
            "localhost",
            with(json!({ "link": "https://localhost/report.pdf" })),
            "link",
            "INVALID",
        ),
        (
            "a local name",
            with(json!({ "link": "https://nas.local/report.pdf" })),
            "link",
            "INVALID",
        ),
        (
            "credentials in the link",
            with(json!({ "link": "https://user:secret@evidence.example.com/r.pdf" })),
            "link",
            "INVALID",
        ),
        (
            "not a URL",
            with(json!({ "link": "report.pdf" })),
            "link",
            "INVALID",
        ),
        (
            "a link without its hash",
            with(json!({ "linkSha256": null })),
            "linkSha256",
            "REQUIRED",
        ),
        (
            "a hash that is not hex",
            with(json!({ "linkSha256": "z".repeat(64) })),
            "linkSha256",
            "INVALID",
        ),
        (
            "an unknown obligation",
            with(json!({ "obligation": "hipaa.knitting" })),
            "obligation",
            "NOT_FOUND",
        ),
        (
            "another framework's obligation",
            with(json!({ "obligation": "cmmc.risk_assessment" })),
            "obligation",
            "INVALID",
        ),
    ];
    let before = tests::dump(&app.db).await?;
    for (what, input, field, code) in cases {
        let payload = mutate(&app, &noc, RECORD, "recordEvidence", input)
            .await?
            .unwrap_or_else(|codes| panic!("{what}: {codes:?}"));
        let errors = payload["userErrors"].as_array().unwrap();
        assert!(
            errors
                .iter()
                .any(|error| error["field"] == json!(["input", field]) && error["code"] == code),
            "{what}: {payload}"
        );
        assert_eq!(payload["evidence"], Value::Null, "{what}");
    }
    // Superseding: only once, and only a record of the same obligation and environment.
    assert_eq!(
        tests::dump(&app.db).await?,
        before,
        "a refusal writes nothing"
    );
    let first = recorded(&app, &noc, base.clone()).await?;
    let correction = recorded(
        &app,
        &noc,
        with(json!({ "supersedesId": first, "result": "PARTIAL" })),
    )
    .await?;
    let twice = mutate(
        &app,
        &noc,
        RECORD,
        "recordEvidence",
        with(json!({ "supersedesId": first })),
    )
    .await?
    .expect("a payload");
    assert_eq!(twice["userErrors"][0]["code"], "INVALID_STATE", "{twice}");
    let states = report(&app, &app.client_admin_token(), &environment, None).await?;
    let evidence = &obligation(&states, "hipaa.backup_restore_test")["evidence"];
    assert_eq!(
        evidence.as_array().unwrap().len(),
        1,
        "the superseded record is not shown"
    );
    assert_eq!(evidence[0]["id"], correction);
    // A superseded record is not signed.
    let stale = mutate(
        &app,
        &app.client_admin_token(),
        SIGN,
        "signEvidence",
        json!({ "evidenceId": first }),
    )
    .await?
    .expect("a payload");
    assert_eq!(stale["userErrors"][0]["code"], "INVALID_STATE", "{stale}");
    app.stop().await
}

#[tokio::test]
async fn derived_evidence_counts_the_changes_the_rmm_recorded() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let harbor = app.client_admin_token();
    let environment = annex(&app, json!(["NIST_CSF_2"])).await?;
    let rmm = app
        .query(
            &app.provider_admin_token(),
            "{ integrations(first: 10) { edges { node { id kind } } } }",
            Value::Null,
        )
        .await?["integrations"]["edges"]
        .as_array()
        .and_then(|edges| edges.iter().find(|edge| edge["node"]["kind"] == "NINJAONE"))
        .map(|edge| tests::decode_uuid(&edge["node"]["id"]))
        .expect("the demo has a NinjaOne integration");
    let sync = app.integration_token("demo|northwind-sync", "northwind-msp", rmm);
    let now = Utc::now();
    let records: Vec<Value> = [
        ("p-1", "PATCH", 2),
        ("p-2", "PATCH", 10),
        ("p-3", "PATCH", 20),
        // Older than the monthly window.
        ("p-old", "PATCH", 45),
        ("b-1", "BACKUP", 3),
    ]
    .iter()
    .map(|(id, category, days)| json!({ "externalId": id, "environmentId": environment, "summary": format!("Change {id}"), "category": category, "occurredAt": stamp(now - Duration::days(*days)) }))
    .collect();
    let written = app
        .query(&sync, "mutation($input: RecordChangesInput!) { recordChanges(input: $input) { results { node { source } } userErrors { message } } }", json!({ "input": { "source": { "kind": "NINJAONE" }, "records": records } }))
        .await?;
    assert_eq!(
        written["recordChanges"]["userErrors"],
        json!([]),
        "{written}"
    );
    // A patch recorded by hand is not what the RMM saw.
    app.query(&harbor, "mutation($input: RecordChangeInput!) { recordChange(input: $input) { userErrors { message } } }", json!({ "input": { "environmentId": environment, "summary": "Patched the NAS by hand", "category": "PATCH" } }))
        .await?;

    let states = report(&app, &harbor, &environment, None).await?;
    let patching = obligation(&states, "csf.patch_report");
    let derived = &patching["derivedEvidence"][0];
    assert_eq!(derived["count"], 3, "{patching}");
    assert!(derived["description"].as_str().unwrap().contains("RMM"));
    let window_start: DateTime<Utc> = derived["windowStart"].as_str().unwrap().parse()?;
    let window_end: DateTime<Utc> = derived["windowEnd"].as_str().unwrap().parse()?;
    assert!((28..=31).contains(&(window_end - window_start).num_days()));
    // Derived evidence never covers the obligation.
    assert_eq!(patching["status"], "DUE");
    assert_eq!(patching["evidence"], json!([]));
    let restore = obligation(&states, "csf.backup_restore_test");
    assert_eq!(restore["derivedEvidence"][0]["count"], 1, "{restore}");
    // A catalog read needs no environment; one framework's obligations, each tied to a function.
    let catalog = app
        .query(
            &harbor,
            "{ obligations(framework: NIST_CSF_2) { key framework functionKey derivable description } }",
            Value::Null,
        )
        .await?;
    let catalog = catalog["obligations"].as_array().unwrap();
    assert!(catalog.len() >= 5);
    assert!(
        catalog
            .iter()
            .all(|found| found["framework"] == "NIST_CSF_2")
    );
    assert!(
        catalog
            .iter()
            .any(|found| found["key"] == "csf.patch_report" && found["derivable"] == true)
    );
    app.stop().await
}

#[tokio::test]
async fn only_the_side_that_recorded_evidence_completes_or_corrects_it() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let environment = annex(&app, json!(["HIPAA"])).await?;
    let noc = noc_token(&app);
    let harbor = harbor_member_token(&app);
    let mut input = restore_test(&environment);
    input.as_object_mut().unwrap().remove("link");
    input.as_object_mut().unwrap().remove("linkSha256");
    let evidence = recorded(&app, &noc, input.clone()).await?;
    let url = format!(
        "{}/evidence/{}/file",
        app.address,
        evidence.as_str().unwrap()
    );
    let put = |token: String| {
        app.client
            .put(&url)
            .bearer_auth(token)
            .header("content-type", "application/pdf")
            .body(b"%PDF-1.7 report".to_vec())
            .send()
    };
    // The client's member sees the MSP's record but neither attaches to it nor replaces it.
    assert_eq!(put(harbor.clone()).await?.status(), 400);
    let mut correction = input.clone();
    correction["supersedesId"] = evidence.clone();
    let refused = mutate(&app, &harbor, RECORD, "recordEvidence", correction.clone())
        .await?
        .expect("recordEvidence answers");
    assert_eq!(
        refused["userErrors"][0]["code"], "INVALID_STATE",
        "{refused}"
    );
    assert_eq!(app.count("evidence_files").await?, 1, "only the demo's");
    // The recorder corrects it; the record it replaced takes no file any more.
    let replacement = recorded(&app, &noc, correction).await?;
    assert!(replacement.is_string());
    assert_eq!(put(noc.clone()).await?.status(), 400, "superseded");
    // A sync job's token (of the demo's own RMM integration) neither reads nor attaches
    // evidence files.
    let rmm = app
        .query(
            &app.provider_admin_token(),
            "{ integrations(first: 10) { edges { node { id kind } } } }",
            Value::Null,
        )
        .await?["integrations"]["edges"]
        .as_array()
        .and_then(|edges| edges.iter().find(|edge| edge["node"]["kind"] == "NINJAONE"))
        .map(|edge| tests::decode_uuid(&edge["node"]["id"]))
        .expect("the demo has a NinjaOne integration");
    let sync = app.integration_token("demo|northwind-sync", "northwind-msp", rmm);
    let file_of = |id: &Value| format!("{}/evidence/{}/file", app.address, id.as_str().unwrap());
    let read = app
        .client
        .get(file_of(&replacement))
        .bearer_auth(&sync)
        .send()
        .await?;
    assert_eq!(read.status(), 403, "a sync token reads no evidence");
    let attach = app
        .client
        .put(file_of(&replacement))
        .bearer_auth(&sync)
        .header("content-type", "application/pdf")
        .body(b"%PDF".to_vec())
        .send()
        .await?;
    assert_eq!(attach.status(), 403, "a sync token attaches no evidence");
    app.stop().await
}
