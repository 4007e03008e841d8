//! The migrations themselves: up, down and up again, and the invariants the DDL enforces.

use chrono::Utc;
use entities::enums::{ChangeCategory, ChangeSource, OrganizationKind};
use entities::{change_log_entry, environment, organization};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, Statement};
use serde_json::json;
use tests::{TestDb, count_rows, table_names};
use uuid::Uuid;

const TABLES: [&str; 41] = [
    "alerts",
    "change_log_entries",
    "change_log_entry_systems",
    "compliance_obligations",
    "engagements",
    "environments",
    "escalation_steps",
    "escalations",
    "evidence_files",
    "evidence_records",
    "evidence_signoffs",
    "functions",
    "integration_mappings",
    "integrations",
    "organizations",
    "outbox_events",
    "people",
    "psa_team_mappings",
    "psa_writes",
    "responsibilities",
    "responsibility_approvals",
    "responsibility_history",
    "responsibility_parties",
    "runbook_functions",
    "runbook_revisions",
    "runbook_systems",
    "runbooks",
    "sla_targets",
    "sync_cursors",
    "sync_retries",
    "sync_run_errors",
    "sync_runs",
    "system_links",
    "systems",
    "team_memberships",
    "teams",
    "ticket_notes",
    "tickets",
    "value_mappings",
    "webhook_deliveries",
    "webhook_endpoints",
];

#[tokio::test]
async fn migrations_run_up_down_and_up_again() -> anyhow::Result<()> {
    let test_db = TestDb::empty().await?;
    let db = test_db.connect().await?;
    assert!(table_names(&db).await?.is_empty());

    Migrator::up(&db, None).await?;
    assert_eq!(table_names(&db).await?, TABLES);
    assert_eq!(
        count_rows(&db, "functions").await?,
        19,
        "the standard catalog is seeded"
    );
    assert!(Migrator::get_pending_migrations(&db).await?.is_empty());

    Migrator::down(&db, None).await?;
    assert!(
        table_names(&db).await?.is_empty(),
        "down removes every table"
    );
    assert_eq!(
        Migrator::get_pending_migrations(&db).await?.len(),
        Migrator::migrations().len()
    );

    Migrator::up(&db, None).await?;
    assert_eq!(table_names(&db).await?, TABLES);
    assert_eq!(count_rows(&db, "functions").await?, 19);
    Ok(())
}

/// Two servers (or `tandem migrate` runs) starting together on a new database: one applies
/// every step, the other waits for it and finds nothing pending. Across processes this rests on
/// PostgreSQL's advisory lock; here two connection pools stand in for two servers.
#[tokio::test]
async fn migrators_starting_together_take_turns() -> anyhow::Result<()> {
    let test_db = TestDb::empty().await?;
    let (one, two) = (test_db.connect().await?, test_db.connect().await?);
    let (first, second) = tokio::join!(api::db::migrate(&one), api::db::migrate(&two));
    let mut applied = [first?, second?];
    applied.sort_unstable();
    assert_eq!(applied, [0, Migrator::migrations().len()]);
    assert_eq!(table_names(&two).await?, TABLES);
    Ok(())
}

#[tokio::test]
async fn each_migration_step_reverses_cleanly() -> anyhow::Result<()> {
    let test_db = TestDb::empty().await?;
    let db = test_db.connect().await?;
    let steps = Migrator::migrations().len() as u32;
    for _ in 0..steps {
        Migrator::up(&db, Some(1)).await?;
    }
    for remaining in (0..steps).rev() {
        Migrator::down(&db, Some(1)).await?;
        assert_eq!(
            Migrator::get_applied_migrations(&db).await?.len() as u32,
            remaining
        );
    }
    assert!(table_names(&db).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn change_log_entries_cannot_be_edited_or_deleted() -> anyhow::Result<()> {
    let test_db = TestDb::migrated().await?;
    let db = test_db.connect().await?;
    let now = Utc::now();
    let organization = organization::Model {
        id: Uuid::now_v7(),
        slug: "acme".into(),
        name: "Acme".into(),
        kind: OrganizationKind::Client,
        created_at: now,
        updated_at: now,
    };
    organization.clone().into_active_model().insert(&db).await?;
    let environment = environment::Model {
        id: Uuid::now_v7(),
        organization_id: organization.id,
        name: "Production".into(),
        description: None,
        compliance_frameworks: json!([]),
        archived_at: None,
        time_zone: "UTC".into(),
        business_start_minute: 480,
        business_end_minute: 1080,
        created_at: now,
        updated_at: now,
    };
    environment.clone().into_active_model().insert(&db).await?;
    let entry = change_log_entry::Model {
        id: Uuid::now_v7(),
        environment_id: environment.id,
        summary: "Rotated the VPN pre-shared key".into(),
        details: json!({}),
        reason: None,
        actor_id: None,
        actor_name: "test".into(),
        source: ChangeSource::Manual,
        category: ChangeCategory::Security,
        occurred_at: now,
        recorded_at: now,
        ticket_id: None,
        corrects_id: None,
        change_set_id: None,
        integration_id: None,
        organization_id: None,
        principal: entities::enums::Principal::System,
        recorded_by_id: None,
        external_source: None,
        external_id: None,
        external_url: None,
    };
    entry.clone().into_active_model().insert(&db).await?;

    let backend = db.get_database_backend();
    let update = db
        .execute_raw(Statement::from_string(
            backend,
            "UPDATE change_log_entries SET summary = 'edited'",
        ))
        .await
        .expect_err("an update must be rejected");
    assert!(update.to_string().contains("append-only"), "{update}");
    let delete = db
        .execute_raw(Statement::from_string(
            backend,
            "DELETE FROM change_log_entries",
        ))
        .await
        .expect_err("a delete must be rejected");
    assert!(delete.to_string().contains("append-only"), "{delete}");
    let stored = change_log_entry::Entity::find_by_id(entry.id)
        .one(&db)
        .await?
        .expect("entry is still there");
    assert_eq!(stored.summary, "Rotated the VPN pre-shared key");
    Ok(())
}

#[tokio::test]
async fn enum_columns_reject_values_outside_their_set() -> anyhow::Result<()> {
    let test_db = TestDb::migrated().await?;
    let db = test_db.connect().await?;
    let backend = db.get_database_backend();
    let now = Utc::now().to_rfc3339();
    let error = db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DatabaseBackend::Postgres => {
                    "INSERT INTO organizations (id, slug, name, kind, created_at, updated_at) \
                     VALUES ($1, 'x', 'X', 'VENDOR', $2::timestamptz, $2::timestamptz)"
                }
                _ => {
                    "INSERT INTO organizations (id, slug, name, kind, created_at, updated_at) \
                     VALUES ($1, 'x', 'X', 'VENDOR', $2, $2)"
                }
            },
            [Uuid::now_v7().into(), now.into()],
        ))
        .await
        .expect_err("an unknown organization kind must be rejected");
    assert!(
        error.to_string().to_lowercase().contains("check"),
        "{error}"
    );
    Ok(())
}

#[tokio::test]
async fn foreign_keys_are_enforced() -> anyhow::Result<()> {
    let test_db = TestDb::migrated().await?;
    let db = test_db.connect().await?;
    let now = Utc::now();
    let orphan = environment::Model {
        id: Uuid::now_v7(),
        organization_id: Uuid::now_v7(),
        name: "Orphan".into(),
        description: None,
        compliance_frameworks: json!([]),
        archived_at: None,
        time_zone: "UTC".into(),
        business_start_minute: 480,
        business_end_minute: 1080,
        created_at: now,
        updated_at: now,
    };
    let error = orphan
        .into_active_model()
        .insert(&db)
        .await
        .expect_err("a dangling reference must be rejected");
    assert!(
        error.to_string().to_lowercase().contains("foreign key"),
        "{error}"
    );
    Ok(())
}

#[tokio::test]
async fn the_write_scoping_step_goes_down_and_up_again_on_demo_data() -> anyhow::Result<()> {
    let test_db = TestDb::migrated().await?;
    let db = test_db.connect().await?;
    api::demo::seed_if_empty(&db).await?;
    let tickets = count_rows(&db, "tickets").await?;
    let entries = count_rows(&db, "change_log_entries").await?;
    Migrator::down(&db, Some(1)).await?;
    Migrator::up(&db, Some(1)).await?;
    assert!(Migrator::get_pending_migrations(&db).await?.is_empty());
    assert_eq!(count_rows(&db, "tickets").await?, tickets);
    assert_eq!(count_rows(&db, "change_log_entries").await?, entries);
    let backend = db.get_database_backend();
    // The backfill ran again: every external record has its tenant, every entry its principal.
    let unscoped = db
        .query_one_raw(sea_orm::Statement::from_string(
            backend,
            "SELECT COUNT(*) AS n FROM tickets WHERE external_id IS NOT NULL AND organization_id IS NULL",
        ))
        .await?
        .map(|row| row.try_get::<i64>("", "n"))
        .transpose()?;
    assert_eq!(unscoped, Some(0));
    // And the log is append-only again.
    let edited = db
        .execute_unprepared("UPDATE change_log_entries SET summary = 'rewritten'")
        .await;
    assert!(edited.is_err(), "the append-only guard is back");
    Ok(())
}
