//! The demo data of `serve --demo`: complete, consistent, and loaded only once.

use std::collections::HashSet;

use entities::enums::{ResponsibilityStatus, TicketStatus};
use entities::prelude::*;
use entities::{environment, function, responsibility, runbook_revision, ticket};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tests::{TestDb, count_rows};

#[tokio::test]
async fn demo_data_loads_into_an_empty_database_only_once() -> anyhow::Result<()> {
    let test_db = TestDb::migrated().await?;
    let db = test_db.connect().await?;
    let summary = api::demo::seed_if_empty(&db)
        .await?
        .expect("an empty database gets the demo");
    assert_eq!(summary.organizations, 3);
    assert!(summary.systems >= 30, "{summary:?}");
    assert!(summary.change_log_entries >= 200, "{summary:?}");

    assert_eq!(
        api::demo::seed_if_empty(&db).await?,
        None,
        "a second run writes nothing"
    );
    assert_eq!(count_rows(&db, "organizations").await?, 3);
    assert_eq!(
        count_rows(&db, "change_log_entries").await? as usize,
        summary.change_log_entries
    );
    Ok(())
}

#[tokio::test]
async fn demo_data_covers_what_the_brief_promises() -> anyhow::Result<()> {
    let test_db = TestDb::migrated().await?;
    let db = test_db.connect().await?;
    api::demo::seed_if_empty(&db).await?;

    // Tickets in every status.
    let statuses: HashSet<TicketStatus> = Ticket::find()
        .all(&db)
        .await?
        .into_iter()
        .map(|ticket| ticket.status)
        .collect();
    assert_eq!(statuses.len(), 5, "{statuses:?}");
    assert!(
        Ticket::find()
            .filter(ticket::COLUMN.external_id.is_not_null())
            .one(&db)
            .await?
            .is_some()
    );

    // A complete, agreed matrix: every environment has an agreed function-level entry for every
    // standard function.
    let functions = Function::find()
        .filter(function::COLUMN.organization_id.is_null())
        .all(&db)
        .await?;
    assert!(functions.len() >= 15);
    for environment in Environment::find().all(&db).await? {
        let covered: HashSet<_> = Responsibility::find()
            .filter(responsibility::COLUMN.environment_id.eq(environment.id))
            .filter(responsibility::COLUMN.system_id.is_null())
            .filter(
                responsibility::COLUMN
                    .status
                    .eq(ResponsibilityStatus::Agreed),
            )
            .all(&db)
            .await?
            .into_iter()
            .map(|entry| entry.function_id)
            .collect();
        assert_eq!(
            covered.len(),
            functions.len(),
            "matrix of {} is incomplete",
            environment.name
        );
    }
    // System-level overrides exist.
    assert!(
        Responsibility::find()
            .filter(responsibility::COLUMN.system_id.is_not_null())
            .one(&db)
            .await?
            .is_some()
    );

    // Runbooks with several revisions, numbered from 1.
    let revisions = RunbookRevision::find().all(&db).await?;
    assert!(
        revisions
            .iter()
            .any(|revision: &runbook_revision::Model| revision.number >= 2)
    );
    assert!(count_rows(&db, "runbooks").await? >= 5);

    // A HIPAA client under co-management and a fully managed one.
    let harbor: Vec<environment::Model> = Environment::find()
        .all(&db)
        .await?
        .into_iter()
        .filter(|environment| {
            environment
                .compliance_frameworks
                .to_string()
                .contains("HIPAA")
        })
        .collect();
    assert_eq!(harbor.len(), 2);
    // Harbor's two periods, Cedar's fully managed one and its planned co-managed one.
    assert_eq!(count_rows(&db, "engagements").await?, 4);
    assert!(count_rows(&db, "alerts").await? > 0);
    Ok(())
}

#[tokio::test]
async fn demo_shows_an_overdue_risk_analysis_and_a_signed_restore_test() -> anyhow::Result<()> {
    use api::compliance::ObligationStatus;
    use entities::enums::OrganizationKind;
    let test_db = TestDb::migrated().await?;
    let db = test_db.connect().await?;
    api::demo::seed_if_empty(&db).await?;
    let production = Environment::find()
        .filter(environment::COLUMN.name.eq("Production"))
        .one(&db)
        .await?
        .expect("Harbor's production environment");
    let states = api::compliance::obligations(&db, &production, chrono::Utc::now(), None).await?;
    let state = |key: &str| {
        states
            .iter()
            .find(|state| state.obligation.key == key)
            .unwrap_or_else(|| panic!("no {key}"))
    };

    // The HIPAA risk analysis: overdue, owned by the client's Compliance Office.
    let risk = state("hipaa.risk_analysis");
    assert_eq!(risk.status, ObligationStatus::Overdue);
    let owner = risk.owner.as_ref().expect("an owner");
    assert_eq!(owner.responsible_side, OrganizationKind::Client);
    assert_eq!(owner.responsible_team.name, "Compliance Office");

    // The backup restore test: produced by the provider, signed off by the client, with a file.
    let restore = state("hipaa.backup_restore_test");
    assert_eq!(restore.status, ObligationStatus::UpToDate);
    let owner = restore.owner.as_ref().expect("an owner");
    assert_eq!(owner.responsible_side, OrganizationKind::Provider);
    let evidence = &restore.evidence[0];
    let signoff = evidence.signoff.as_ref().expect("signed");
    assert_eq!(
        Some(signoff.accountable_team_id),
        owner.accountable_team.as_ref().map(|team| team.id)
    );
    let recorder = Person::find_by_id(evidence.record.recorded_by_id.expect("a recorder"))
        .one(&db)
        .await?
        .expect("the recorder");
    assert_eq!(
        recorder.organization_id,
        owner.responsible_team.organization_id
    );
    let file = evidence.file.as_ref().expect("the report is attached");
    assert_eq!(file.sha256.len(), 64);

    // Everything else is up to date and signed, in every environment: the risk analysis is the
    // one gap to find.
    for environment in Environment::find().all(&db).await? {
        let states =
            api::compliance::obligations(&db, &environment, chrono::Utc::now(), None).await?;
        assert!(!states.is_empty(), "{}", environment.name);
        let open: Vec<&str> = states
            .iter()
            .filter(|state| state.status != ObligationStatus::UpToDate)
            .map(|state| state.obligation.key.as_str())
            .collect();
        let expected: &[&str] = if environment.id == production.id {
            &["hipaa.risk_analysis"]
        } else {
            &[]
        };
        assert_eq!(open, expected, "{}", environment.name);
    }
    Ok(())
}
