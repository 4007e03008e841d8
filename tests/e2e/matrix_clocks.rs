//! The matrix's two clocks: every read takes `at` (in force at) and `asOf` (as the record stood
//! at), so "who owned X on D, as the record stood on K" has one answer forever, even after
//! retroactive agreements, retirements and successors; on both databases.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};
use tests::TestApp;

const WHO: &str = "query($id: ID!, $system: ID, $function: String!, $at: DateTime, $asOf: DateTime) { whoOwns(environmentId: $id, function: $function, systemId: $system, at: $at, asOf: $asOf) { asOf decidedBy responsibility { id status validTo retroactive agreedAt } } }";

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// An instant strictly between what was written before and what is written after.
async fn pause() -> DateTime<Utc> {
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let instant = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    instant
}

async fn step(app: &TestApp, token: &str, name: &str, id: &Value) -> anyhow::Result<Value> {
    let (status, body) = app
        .mutation(
            token,
            name,
            "ResponsibilityActionInput",
            &json!({ "id": id }),
            "responsibility { status }",
        )
        .await?;
    anyhow::ensure!(status == 200 && body.get("errors").is_none(), "{body}");
    Ok(body["data"][name].clone())
}

struct Harbor {
    environment: Value,
    ehr: Value,
    internal_it: Value,
}

async fn harbor(app: &TestApp, token: &str) -> anyhow::Result<Harbor> {
    let data = app
        .query(token, "{ environments(first: 1) { edges { node { id } } } systems(filter: { text: \"HHP-EHR-APP01\" }) { edges { node { id } } } teams(first: 100) { edges { node { id name } } } }", Value::Null)
        .await?;
    let internal_it = data["teams"]["edges"]
        .as_array()
        .and_then(|edges| {
            edges
                .iter()
                .find(|edge| edge["node"]["name"] == "Internal IT")
        })
        .map(|edge| edge["node"]["id"].clone())
        .unwrap_or(Value::Null);
    Ok(Harbor {
        environment: data["environments"]["edges"][0]["node"]["id"].clone(),
        ehr: data["systems"]["edges"][0]["node"]["id"].clone(),
        internal_it,
    })
}

#[tokio::test]
async fn an_entry_agreed_today_with_a_past_start_has_one_answer_per_recorded_instant()
-> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let client = app.client_admin_token();
    let harbor = harbor(&app, &client).await?;
    let last_month = Utc::now() - Duration::days(20);
    let before_entry = pause().await;

    // Harbor's IT backs up the EHR server since last month: agreed today.
    let (_, created) = app
        .mutation(&provider, "createResponsibility", "CreateResponsibilityInput", &json!({
            "environmentId": harbor.environment, "function": "backup_recovery", "systemId": harbor.ehr,
            "responsibleTeamId": harbor.internal_it, "validFrom": stamp(Utc::now() - Duration::days(30)) }), "responsibility { id }")
        .await?;
    let id = created["data"]["createResponsibility"]["responsibility"]["id"].clone();
    step(&app, &provider, "proposeResponsibility", &id).await?;
    step(&app, &provider, "approveResponsibility", &id).await?;
    let proposed_only = pause().await;
    let agreed = step(&app, &client, "approveResponsibility", &id).await?;
    assert_eq!(agreed["responsibility"]["status"], "AGREED", "{agreed}");
    let after_agreement = pause().await;

    let who = |at: DateTime<Utc>, as_of: Option<DateTime<Utc>>| {
        let app = &app;
        let client = client.clone();
        let variables = json!({ "id": harbor.environment, "system": harbor.ehr, "function": "backup_recovery",
            "at": stamp(at), "asOf": as_of.map(stamp) });
        async move {
            let data = app.query(&client, WHO, variables).await?;
            anyhow::Ok(data["whoOwns"].clone())
        }
    };
    let answers = |expected: [&'static str; 4], at: DateTime<Utc>| {
        let who = &who;
        async move {
            let got = [
                who(at, Some(before_entry)).await?["decidedBy"].clone(),
                who(at, Some(proposed_only)).await?["decidedBy"].clone(),
                who(at, Some(after_agreement)).await?["decidedBy"].clone(),
                who(at, None).await?["decidedBy"].clone(),
            ];
            anyhow::ensure!(
                got == expected.map(Value::from),
                "at {at}: expected {expected:?} as of (before the entry, while proposed, after agreement, now), got {got:?}"
            );
            anyhow::Ok(())
        }
    };
    // Last month, as the record stood before the agreement: the function default (the MSP).
    answers(
        [
            "FUNCTION_DEFAULT",
            "FUNCTION_DEFAULT",
            "SYSTEM_ENTRY",
            "SYSTEM_ENTRY",
        ],
        last_month,
    )
    .await?;
    let now = who(last_month, None).await?;
    assert_eq!(now["responsibility"]["id"], id);
    assert_eq!(
        now["responsibility"]["retroactive"], true,
        "agreed after its validity started"
    );
    assert_eq!(now["asOf"], Value::Null);
    let echoed = who(last_month, Some(before_entry)).await?;
    assert!(echoed["asOf"].is_string(), "{echoed}");

    // Retired today: from now on the default answers again, and earlier records keep theirs.
    step(&app, &client, "retireResponsibility", &id).await?;
    assert_eq!(
        step(&app, &provider, "retireResponsibility", &id).await?["responsibility"]["status"],
        "RETIRED"
    );
    let after_retirement = pause().await;
    let tomorrow = Utc::now() + Duration::days(1);
    answers(
        [
            "FUNCTION_DEFAULT",
            "FUNCTION_DEFAULT",
            "SYSTEM_ENTRY",
            "FUNCTION_DEFAULT",
        ],
        tomorrow,
    )
    .await?;
    assert_eq!(
        who(tomorrow, Some(after_retirement)).await?["decidedBy"],
        "FUNCTION_DEFAULT"
    );
    // The past is answered as before, whatever was recorded later.
    answers(
        [
            "FUNCTION_DEFAULT",
            "FUNCTION_DEFAULT",
            "SYSTEM_ENTRY",
            "SYSTEM_ENTRY",
        ],
        last_month,
    )
    .await?;
    let as_agreed = who(tomorrow, Some(after_agreement)).await?;
    assert_eq!(
        as_agreed["responsibility"]["status"], "AGREED",
        "the entry as it was recorded then: {as_agreed}"
    );
    assert_eq!(as_agreed["responsibility"]["validTo"], Value::Null);

    // The matrix and System.owners read the same record.
    let matrix = "query($id: ID!, $at: DateTime, $asOf: DateTime) { responsibilityMatrix(environmentId: $id, at: $at, asOf: $asOf) { asOf rows { function { key } overrides { id } } } }";
    let overrides = |as_of: Option<DateTime<Utc>>| {
        let app = &app;
        let client = client.clone();
        let variables =
            json!({ "id": harbor.environment, "at": stamp(last_month), "asOf": as_of.map(stamp) });
        async move {
            let data = app.query(&client, matrix, variables).await?;
            anyhow::Ok(
                data["responsibilityMatrix"]["rows"]
                    .as_array()
                    .and_then(|rows| {
                        rows.iter()
                            .find(|row| row["function"]["key"] == "backup_recovery")
                    })
                    .map(|row| row["overrides"].clone())
                    .unwrap_or(Value::Null),
            )
        }
    };
    assert_eq!(overrides(Some(before_entry)).await?, json!([]));
    assert_eq!(overrides(None).await?, json!([{ "id": id }]));
    let owners = "query($id: ID!, $at: DateTime, $asOf: DateTime) { node(id: $id) { ... on System { owners(at: $at, asOf: $asOf) { id } } } }";
    let owned_by = |as_of: Option<DateTime<Utc>>| {
        let app = &app;
        let client = client.clone();
        let variables =
            json!({ "id": harbor.ehr, "at": stamp(last_month), "asOf": as_of.map(stamp) });
        async move {
            let data = app.query(&client, owners, variables).await?;
            anyhow::Ok(data["node"]["owners"].to_string())
        }
    };
    assert!(
        !owned_by(Some(before_entry))
            .await?
            .contains(id.as_str().unwrap())
    );
    assert!(owned_by(None).await?.contains(id.as_str().unwrap()));

    // The export takes `asOf` and marks retroactive entries.
    let export = |query: String| {
        let request = app
            .client
            .get(format!(
                "{}/environments/{}/responsibility-matrix?{query}",
                app.address,
                harbor.environment.as_str().unwrap()
            ))
            .bearer_auth(client.clone());
        async move { request.send().await }
    };
    let at = last_month.format("%Y-%m-%d").to_string();
    let row_of_entry = |csv: &str| {
        csv.lines()
            .find(|line| line.starts_with("backup_recovery,") && line.contains("HHP-EHR-APP01"))
            .map(str::to_owned)
    };
    let as_before = export(format!(
        "format=csv&at={at}&asOf={}",
        before_entry.format("%Y-%m-%dT%H:%M:%S%.6fZ")
    ))
    .await?;
    assert_eq!(as_before.status(), 200);
    assert_eq!(row_of_entry(&as_before.text().await?), None);
    let current = export(format!("format=csv&at={at}")).await?.text().await?;
    assert!(
        current
            .lines()
            .next()
            .unwrap_or_default()
            .ends_with(",agreed_at,retroactive"),
        "{current}"
    );
    let row = row_of_entry(&current).unwrap_or_default();
    assert!(
        row.ends_with(",true"),
        "the entry is marked retroactive: {row}"
    );
    let markdown = export(format!(
        "format=md&at={at}&asOf={}",
        after_agreement.format("%Y-%m-%dT%H:%M:%S%.6fZ")
    ))
    .await?
    .text()
    .await?;
    assert!(markdown.contains("(retroactive)"), "{markdown}");
    assert!(markdown.contains("as recorded at"), "{markdown}");

    // The record cannot be read as it will stand.
    let future = stamp(Utc::now() + Duration::days(1));
    let (_, body) = app
        .graphql(
            Some(&client),
            WHO,
            json!({ "id": harbor.environment, "function": "patching", "asOf": future }),
        )
        .await?;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert_eq!(
        export("format=md&asOf=2999-01-01".into()).await?.status(),
        400
    );
    assert_eq!(export("format=md&asOf=soon".into()).await?.status(), 400);
    app.stop().await
}

#[tokio::test]
async fn a_successor_takes_over_only_in_the_record_after_its_agreement() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let provider = app.provider_admin_token();
    let client = app.client_admin_token();
    let harbor = harbor(&app, &client).await?;
    let read = |at: DateTime<Utc>, as_of: Option<DateTime<Utc>>| {
        let app = &app;
        let client = client.clone();
        let variables = json!({ "id": harbor.environment, "function": "patching", "at": stamp(at), "asOf": as_of.map(stamp) });
        async move {
            let data = app.query(&client, WHO, variables).await?;
            anyhow::Ok(data["whoOwns"]["responsibility"]["id"].clone())
        }
    };
    let yesterday = Utc::now() - Duration::days(1);
    let tomorrow = Utc::now() + Duration::days(1);
    let old = read(tomorrow, None).await?;
    let (_, proposed) = app
        .mutation(
            &provider,
            "proposeResponsibilityChange",
            "ProposeResponsibilityChangeInput",
            &json!({ "id": old, "changes": { "responsibleTeamId": harbor.internal_it } }),
            "responsibility { id }",
        )
        .await?;
    let successor = proposed["data"]["proposeResponsibilityChange"]["responsibility"]["id"].clone();
    assert!(successor.is_string(), "{proposed}");
    step(&app, &provider, "approveResponsibility", &successor).await?;
    let before_agreement = pause().await;
    step(&app, &client, "approveResponsibility", &successor).await?;
    let after_agreement = pause().await;

    assert_eq!(read(tomorrow, Some(before_agreement)).await?, old);
    assert_eq!(read(tomorrow, Some(after_agreement)).await?, successor);
    assert_eq!(read(tomorrow, None).await?, successor);
    // Yesterday stays the old entry's in every record.
    for as_of in [Some(before_agreement), Some(after_agreement), None] {
        assert_eq!(read(yesterday, as_of).await?, old);
    }
    app.stop().await
}

#[tokio::test]
async fn reads_as_of_now_answer_exactly_as_the_current_record() -> anyhow::Result<()> {
    let app = TestApp::spawn_with_demo().await?;
    let client = app.client_admin_token();
    let harbor = harbor(&app, &client).await?;
    let matrix = "query($id: ID!, $at: DateTime, $asOf: DateTime) { responsibilityMatrix(environmentId: $id, at: $at, asOf: $asOf) { rows { function { key } default { id status validFrom validTo agreedAt } overrides { id status validTo } } } }";
    let now = Utc::now();
    for at in [
        now,
        now - Duration::days(100),
        now + Duration::days(60),
        "2024-01-01T00:00:00Z".parse()?,
    ] {
        let current = app
            .query(
                &client,
                matrix,
                json!({ "id": harbor.environment, "at": stamp(at) }),
            )
            .await?;
        let recorded = app
            .query(
                &client,
                matrix,
                json!({ "id": harbor.environment, "at": stamp(at), "asOf": stamp(Utc::now()) }),
            )
            .await?;
        assert_eq!(current, recorded, "at {at}");
    }

    // The gap report reads the record too: before the demo's matrix was agreed (270 days ago),
    // Harbor's HIPAA functions had no agreed owner.
    let gaps = "query($id: ID!, $asOf: DateTime) { ownershipGaps(environmentId: $id, asOf: $asOf) { asOf gaps { kind } } }";
    let kinds = |as_of: Option<DateTime<Utc>>| {
        let app = &app;
        let client = client.clone();
        let variables = json!({ "id": harbor.environment, "asOf": as_of.map(stamp) });
        async move {
            let data = app.query(&client, gaps, variables).await?;
            anyhow::Ok(data["ownershipGaps"]["gaps"].to_string())
        }
    };
    assert!(!kinds(None).await?.contains("REQUIRED_FUNCTION_UNOWNED"));
    assert!(
        kinds(Some(now - Duration::days(275)))
            .await?
            .contains("REQUIRED_FUNCTION_UNOWNED")
    );
    assert!(
        !kinds(Some(now))
            .await?
            .contains("REQUIRED_FUNCTION_UNOWNED")
    );
    app.stop().await
}

#[tokio::test]
async fn the_migration_reconstructs_the_history_of_older_entries_and_keeps_it_append_only()
-> anyhow::Result<()> {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, EntityTrait};

    let test_db = tests::TestDb::migrated().await?;
    let db = test_db.connect().await?;
    api::demo::seed_if_empty(&db).await?;
    let history = tests::count_rows(&db, "responsibility_history").await?;
    // Down to before the history (later steps first), then up again: the step reconstructs the
    // demo's history from its entries and sign-offs, as it does for any older database.
    let steps = Migrator::migrations();
    let mine = steps
        .iter()
        .position(|step| step.name() == "m20261201_000014_amend_responsibilities")
        .expect("the step is registered");
    let above = u32::try_from(steps.len() - mine)?;
    Migrator::down(&db, Some(above)).await?;
    Migrator::up(&db, None).await?;
    assert_eq!(
        tests::count_rows(&db, "responsibility_history").await?,
        history
    );
    let agreed: Vec<entities::responsibility::Model> = entities::responsibility::Entity::find()
        .all(&db)
        .await?
        .into_iter()
        .filter(|entry| entry.status == entities::enums::ResponsibilityStatus::Agreed)
        .collect();
    assert!(!agreed.is_empty());
    assert!(
        agreed.iter().all(|entry| entry.agreed_at.is_some()),
        "every agreed entry knows when it was agreed"
    );
    // As recorded now, the reconstructed history says what the entries say.
    let environments: Vec<uuid::Uuid> = agreed.iter().map(|entry| entry.environment_id).collect();
    let now = Utc::now();
    let current = api::matrix::in_force(&db, environments.clone(), now, None).await?;
    let recorded = api::matrix::in_force_as_of(
        &db,
        environments,
        api::matrix::Clock {
            at: now,
            as_of: Some(now),
        },
        None,
    )
    .await?;
    assert_eq!(current, recorded);
    for statement in [
        "UPDATE responsibility_history SET reason = 'rewritten'",
        "DELETE FROM responsibility_history",
    ] {
        assert!(
            db.execute_unprepared(statement).await.is_err(),
            "{statement}"
        );
    }
    Ok(())
}
