//! Amendments of matrix entries and the two clocks of the matrix.
//!
//! - `responsibilities.agreed_at`: when the last side whose sign-off was required signed (apart
//!   from `valid_from`, when the entry is in force, and `created_at`, when it was recorded).
//! - `responsibility_approvals.revoked_at`: a sign-off that stopped counting because its
//!   proposal was withdrawn or rejected. The row stays (it is history); the unique key of one
//!   live sign-off per entry, side and decision becomes a partial index over live rows.
//! - `responsibility_history`: every lifecycle step of every entry, append-only (triggers reject
//!   `UPDATE` and `DELETE`), with the status and validity the entry had after it. "What did the
//!   record say at K" is the latest row recorded at or before K.
//!
//! Existing entries get a history reconstructed by [`reconstruct_history`]: what cannot be known
//! is written down there.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{json_binary_null, text_null};
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};
use uuid::Uuid;

use crate::columns::{
    allow_changes, create_table, drop_tables, enum_text, fk, forbid_changes, id, index, instant,
    instant_null, uuid, uuid_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The steps of an entry's lifecycle, as `responsibility_history.action` stores them.
pub const HISTORY_ACTIONS: &[&str] = &[
    "CREATED",
    "TRANSITION_DRAFTED",
    "UPDATED",
    "PROPOSED",
    "CHANGE_PROPOSED",
    "APPROVED",
    "AGREED",
    "WITHDRAWN",
    "REJECTED",
    "RETIREMENT_APPROVED",
    "RETIRED",
    "SUPERSEDED",
];

const STATUSES: &[&str] = &["DRAFT", "PROPOSED", "AGREED", "RETIRED"];
const APPROVAL_INDEX: &str =
    "ux_responsibility_approvals_responsibility_id_organization_id_decision";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        manager
            .alter_table(
                Table::alter()
                    .table("responsibilities")
                    .add_column(instant_null("agreed_at"))
                    .take(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("responsibility_approvals")
                    .add_column(instant_null("revoked_at"))
                    .take(),
            )
            .await?;
        // One live sign-off per entry, side and decision; revoked ones are kept beside it.
        // Partial indexes are written the same way on both databases.
        db.execute_unprepared(&format!(
            "DROP INDEX {APPROVAL_INDEX};\n\
             CREATE UNIQUE INDEX {APPROVAL_INDEX} ON responsibility_approvals \
             (responsibility_id, organization_id, decision) WHERE revoked_at IS NULL"
        ))
        .await?;
        create_table(
            manager,
            "responsibility_history",
            vec![
                id(),
                uuid("responsibility_id"),
                // Copied from the entry so a report over an environment reads one index.
                uuid("environment_id"),
                instant("recorded_at"),
                enum_text("action", HISTORY_ACTIONS),
                // The entry as it stood after the step: what an as-of read answers with.
                enum_text("status_after", STATUSES),
                instant("valid_from_after"),
                instant_null("valid_to_after"),
                // The side and the admin who took the step; null when unknown (reconstructed).
                uuid_null("organization_id"),
                uuid_null("person_id"),
                text_null("reason"),
                // Field-by-field difference: `[{field, before, after}]` for edits and changes.
                json_binary_null("changes"),
            ],
            None,
            vec![
                fk(
                    "responsibility_history",
                    "responsibility_id",
                    "responsibilities",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "responsibility_history",
                    "environment_id",
                    "environments",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "responsibility_history",
                    "organization_id",
                    "organizations",
                    ForeignKeyAction::Restrict,
                ),
                fk(
                    "responsibility_history",
                    "person_id",
                    "people",
                    ForeignKeyAction::Restrict,
                ),
            ],
            vec![
                index(
                    "responsibility_history",
                    &["responsibility_id", "recorded_at", "id"],
                ),
                index("responsibility_history", &["environment_id", "recorded_at"]),
            ],
        )
        .await?;
        reconstruct_history(db).await?;
        forbid_changes(
            manager,
            "responsibility_history",
            "responsibility history is append-only",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        allow_changes(manager, "responsibility_history").await?;
        drop_tables(manager, &["responsibility_history"]).await?;
        // Revoked sign-offs cannot live beside live ones under the full unique key.
        db.execute_unprepared(&format!(
            "DELETE FROM responsibility_approvals WHERE revoked_at IS NOT NULL;\n\
             DROP INDEX {APPROVAL_INDEX};\n\
             CREATE UNIQUE INDEX {APPROVAL_INDEX} ON responsibility_approvals \
             (responsibility_id, organization_id, decision)"
        ))
        .await?;
        for (table, column) in [
            ("responsibility_approvals", "revoked_at"),
            ("responsibilities", "agreed_at"),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).take())
                .await?;
        }
        Ok(())
    }
}

/// A sign-off as stored: decision, side, admin, instant.
type SignOff = (String, Uuid, Uuid, DateTime<Utc>);

/// One reconstructed history row.
struct Row {
    action: &'static str,
    at: DateTime<Utc>,
    status: &'static str,
    valid_to: Option<DateTime<Utc>>,
    organization_id: Option<Uuid>,
    person_id: Option<Uuid>,
}

/// Writes a history for every entry that has none, from what the entry and its sign-offs still
/// say, and sets `agreed_at` of agreed and retired entries. Returns how many entries it wrote.
///
/// What it can know: the creation (`created_at`, `created_by_id`), each side's sign-off with its
/// instant and admin, and so when an entry was agreed and retired. What it cannot: when a
/// proposal was made (recorded at the first sign-off, or the creation, by the creator's side),
/// edits of drafts, and an end of validity that retiring or a successor cut later (the entry's
/// current `valid_to` is recorded from its agreement on). A successor's agreement is not
/// recorded on the entry it superseded. The demo uses this for the history it inserts directly.
///
/// # Errors
/// Database errors.
pub async fn reconstruct_history(db: &impl ConnectionTrait) -> Result<usize, DbErr> {
    let backend = db.get_database_backend();
    let entries = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT r.id, r.environment_id, r.status, r.valid_from, r.valid_to, r.created_at, \
             r.created_by_id, p.organization_id AS creator_organization_id \
             FROM responsibilities r LEFT JOIN people p ON p.id = r.created_by_id \
             WHERE NOT EXISTS (SELECT 1 FROM responsibility_history h \
                               WHERE h.responsibility_id = r.id) \
             ORDER BY r.id",
        ))
        .await?;
    let mut sign_offs: HashMap<Uuid, Vec<SignOff>> = HashMap::new();
    for row in db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT responsibility_id, decision, organization_id, person_id, approved_at \
             FROM responsibility_approvals ORDER BY approved_at, id",
        ))
        .await?
    {
        sign_offs
            .entry(row.try_get("", "responsibility_id")?)
            .or_default()
            .push((
                row.try_get("", "decision")?,
                row.try_get("", "organization_id")?,
                row.try_get("", "person_id")?,
                row.try_get("", "approved_at")?,
            ));
    }
    let mut written = 0;
    for entry in &entries {
        let id: Uuid = entry.try_get("", "id")?;
        let environment_id: Uuid = entry.try_get("", "environment_id")?;
        let status: String = entry.try_get("", "status")?;
        let valid_from: DateTime<Utc> = entry.try_get("", "valid_from")?;
        let valid_to: Option<DateTime<Utc>> = entry.try_get("", "valid_to")?;
        let created_at: DateTime<Utc> = entry.try_get("", "created_at")?;
        let creator: Option<Uuid> = entry.try_get("", "created_by_id")?;
        let creator_side: Option<Uuid> = entry.try_get("", "creator_organization_id")?;
        let signed = sign_offs.remove(&id).unwrap_or_default();
        let (agreeing, retiring): (Vec<_>, Vec<_>) = signed
            .into_iter()
            .partition(|(decision, ..)| decision == "AGREE");
        let mut rows = vec![Row {
            action: "CREATED",
            at: created_at,
            status: "DRAFT",
            valid_to,
            organization_id: creator_side,
            person_id: creator,
        }];
        if status != "DRAFT" {
            rows.push(Row {
                action: "PROPOSED",
                at: agreeing.first().map_or(created_at, |(.., at)| *at),
                status: "PROPOSED",
                valid_to,
                organization_id: creator_side,
                person_id: creator,
            });
        }
        let agreed = matches!(status.as_str(), "AGREED" | "RETIRED");
        let mut agreed_at = None;
        for (index, (_, organization_id, person_id, at)) in agreeing.iter().enumerate() {
            let last = agreed && index + 1 == agreeing.len();
            if last {
                agreed_at = Some(*at);
            }
            rows.push(Row {
                action: if last { "AGREED" } else { "APPROVED" },
                at: *at,
                status: if last { "AGREED" } else { "PROPOSED" },
                valid_to,
                organization_id: Some(*organization_id),
                person_id: Some(*person_id),
            });
        }
        if agreed && agreed_at.is_none() {
            // Agreed without a recorded sign-off: the creation is all that is known.
            agreed_at = Some(created_at);
            rows.push(Row {
                action: "AGREED",
                at: created_at,
                status: "AGREED",
                valid_to,
                organization_id: None,
                person_id: None,
            });
        }
        for (index, (_, organization_id, person_id, at)) in retiring.iter().enumerate() {
            let last = status == "RETIRED" && index + 1 == retiring.len();
            rows.push(Row {
                action: if last {
                    "RETIRED"
                } else {
                    "RETIREMENT_APPROVED"
                },
                at: *at,
                status: if last { "RETIRED" } else { "AGREED" },
                valid_to,
                organization_id: Some(*organization_id),
                person_id: Some(*person_id),
            });
        }
        let mut insert = Query::insert();
        insert.into_table("responsibility_history").columns([
            "id",
            "responsibility_id",
            "environment_id",
            "recorded_at",
            "action",
            "status_after",
            "valid_from_after",
            "valid_to_after",
            "organization_id",
            "person_id",
        ]);
        for row in rows {
            insert.values_panic([
                Uuid::now_v7().into(),
                id.into(),
                environment_id.into(),
                row.at.into(),
                row.action.into(),
                row.status.into(),
                valid_from.into(),
                row.valid_to.into(),
                row.organization_id.into(),
                row.person_id.into(),
            ]);
        }
        db.execute(&insert).await?;
        if let Some(agreed_at) = agreed_at {
            db.execute(
                Query::update()
                    .table("responsibilities")
                    .value("agreed_at", agreed_at)
                    .and_where(Expr::col("id").eq(id))
                    .and_where(Expr::col("agreed_at").is_null()),
            )
            .await?;
        }
        written += 1;
    }
    Ok(written)
}
