//! The responsibility matrix lifecycle: `DRAFT -> PROPOSED -> AGREED -> RETIRED`, and its sign-off.
//!
//! An entry becomes `AGREED` only when the sides its engagement requires have approved it (an
//! admin of each, signing for their own organization only): under a co-managed engagement both
//! the client and the provider, under a fully managed one the provider, with no engagement the
//! client. Retiring an agreed entry needs the same sides. Two agreed entries for the same
//! environment, function and system may not overlap in time; the refusal names the other entry.
//!
//! The past never changes: retiring ends an entry at the instant the last side signs (it stays
//! in force before it, so every read at an earlier instant answers as before), and agreeing an
//! entry that supersedes another ends the old one no earlier than now.
//!
//! Every decision runs with the environment locked (PostgreSQL `FOR UPDATE`; SQLite's writers
//! take turns), and re-reads the entry and its approvals inside that transaction: two sides
//! approving at the same instant, or two overlapping entries approved at once, are decided one
//! after the other. Every step is a change log entry (category `OWNERSHIP`).

use chrono::{DateTime, Utc};
use entities::enums::{
    ApprovalDecision, ChangeCategory, OperatingModel, ResponsibilityStatus, Role,
};
use entities::{engagement, environment, function, responsibility, responsibility_approval};
use sea_orm::prelude::*;
use sea_orm::{ConnectionTrait, IntoActiveModel, QueryFilter, Set};
use serde_json::json;

use crate::auth::Viewer;
use crate::events::EventBus;
use crate::services::{
    ChangeNote, ServiceError, ServiceResult, UnitOfWork, UserErrorCode, require_role,
};

/// A step of the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `DRAFT -> PROPOSED`.
    Propose,
    /// The actor's side approves a `PROPOSED` entry; `AGREED` once every side has.
    Approve,
    /// The actor's side approves retiring an `AGREED` entry; `RETIRED` once every side has.
    Retire,
}

impl Action {
    fn operation(self) -> &'static str {
        match self {
            Self::Propose => "proposeResponsibility",
            Self::Approve => "approveResponsibility",
            Self::Retire => "retireResponsibility",
        }
    }
}

/// Moves entry `id` one step, as `actor`.
///
/// # Errors
/// [`ServiceError::Forbidden`] for a non-admin; [`ServiceError::Refused`] for an unknown or
/// invisible entry, a wrong state, a side that is not the engagement's, a second approval by the
/// same side, or an overlap; database errors.
pub async fn transition(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    id: Uuid,
    action: Action,
    reason: Option<String>,
) -> ServiceResult<responsibility::Model> {
    require_role(actor, &[Role::Admin], action.operation())?;
    let not_found = || {
        ServiceError::refused(
            "id",
            UserErrorCode::NotFound,
            "no matrix entry with this id",
        )
    };
    let mut write = UnitOfWork::begin(db, events, actor, reason, None).await?;
    // Read without a lock first only to learn the environment; everything that decides is read
    // again after the environment is locked.
    let Some(found) = responsibility::Entity::find_by_id(id)
        .one(&write.txn)
        .await?
    else {
        return Err(not_found());
    };
    let Some(environment) = write
        .lock_environment(found.environment_id)
        .await?
        .filter(|found| actor.can_see_organization(found.organization_id))
    else {
        return Err(not_found());
    };
    let Some(current) = responsibility::Entity::find_by_id(id)
        .one(&write.txn)
        .await?
    else {
        return Err(not_found());
    };
    let expected = match action {
        Action::Propose => ResponsibilityStatus::Draft,
        Action::Approve => ResponsibilityStatus::Proposed,
        Action::Retire => ResponsibilityStatus::Agreed,
    };
    if current.status != expected {
        return Err(ServiceError::refused(
            "id",
            UserErrorCode::InvalidState,
            format!(
                "the entry is {}; only a {} entry can be {}",
                sea_orm::ActiveEnum::to_value(&current.status),
                sea_orm::ActiveEnum::to_value(&expected),
                match action {
                    Action::Propose => "proposed",
                    Action::Approve => "approved",
                    Action::Retire => "retired",
                }
            ),
        ));
    }
    let function = function::Entity::find_by_id(current.function_id)
        .one(&write.txn)
        .await?
        .map(|found| found.name)
        .unwrap_or_default();
    let now = write.now;
    let mut model = current.clone().into_active_model();
    let summary = match action {
        Action::Propose => {
            model.status = Set(ResponsibilityStatus::Proposed);
            format!("Proposed matrix entry for {function}")
        }
        Action::Approve => {
            let sides = required_sides(&write.txn, &environment, current.valid_from).await?;
            let approved = sign(&write, &sides, ApprovalDecision::Agree, current.id).await?;
            if sides.iter().all(|side| approved.contains(side)) {
                // An entry that supersedes an agreed one takes over from its start: the old
                // entry ends there (never before now: the past stays as it was).
                if let Some(superseded) = current.supersedes_id {
                    let old = responsibility::Entity::find_by_id(superseded)
                        .one(&write.txn)
                        .await?;
                    let end = current.valid_from.max(now);
                    if let Some(old) = old.filter(|old| {
                        old.status == ResponsibilityStatus::Agreed
                            && old.valid_to.is_none_or(|to| to > end)
                    }) {
                        let mut ended = old.into_active_model();
                        ended.valid_to = Set(Some(end));
                        ended.updated_at = Set(now);
                        ended.update(&write.txn).await?;
                    }
                }
                if let Some(conflict) = overlapping(&write.txn, &current).await? {
                    // Dropping the transaction rolls the approval back: nothing changes.
                    return Err(ServiceError::refused(
                        "id",
                        UserErrorCode::InvalidState,
                        format!(
                            "overlaps the agreed entry {} (valid from {} to {}); retire it or change the dates",
                            // The public id, so a client can act on the other entry.
                            crate::ids::encode(crate::ids::NodeType::Responsibility, conflict.id).0,
                            conflict.valid_from.format("%Y-%m-%d"),
                            conflict.valid_to.map_or_else(
                                || "open end".to_owned(),
                                |to| to.format("%Y-%m-%d").to_string()
                            )
                        ),
                    ));
                }
                model.status = Set(ResponsibilityStatus::Agreed);
                format!("Agreed matrix entry for {function}")
            } else {
                format!(
                    "{} approved matrix entry for {function}",
                    actor.organization.name
                )
            }
        }
        Action::Retire => {
            let sides = required_sides(&write.txn, &environment, now).await?;
            let approved = sign(&write, &sides, ApprovalDecision::Retire, current.id).await?;
            if sides.iter().all(|side| approved.contains(side)) {
                model.status = Set(ResponsibilityStatus::Retired);
                // It owned what it owned until now; from now on it owns nothing.
                let end = now.max(current.valid_from);
                if current.valid_to.is_none_or(|to| to > end) {
                    model.valid_to = Set(Some(end));
                }
                format!("Retired matrix entry for {function}")
            } else {
                format!(
                    "{} approved retiring matrix entry for {function}; the other side must approve too",
                    actor.organization.name
                )
            }
        }
    };
    model.updated_at = Set(now);
    let updated = model.update(&write.txn).await?;
    write
        .record(ChangeNote {
            environment_id: environment.id,
            system_ids: updated.system_id.into_iter().collect(),
            summary,
            details: json!({ "responsibility": updated.id, "status": updated.status, "action": format!("{action:?}").to_uppercase() }),
            category: ChangeCategory::Ownership,
        })
        .await?;
    write.commit().await?;
    Ok(updated)
}

/// Records the actor's side's sign-off `decision` on entry `id` and returns every side that has
/// signed it. The actor signs only for their own organization, which must be one of `sides`.
async fn sign(
    write: &UnitOfWork<'_>,
    sides: &[Uuid],
    decision: ApprovalDecision,
    id: Uuid,
) -> ServiceResult<Vec<Uuid>> {
    let actor = write.actor;
    if !sides.contains(&actor.organization.id) {
        return Err(ServiceError::refused(
            "id",
            UserErrorCode::InvalidState,
            "the caller's organization is not a side of this environment's engagement",
        ));
    }
    let signed: Vec<Uuid> = responsibility_approval::Entity::find()
        .filter(responsibility_approval::COLUMN.responsibility_id.eq(id))
        .filter(responsibility_approval::COLUMN.decision.eq(decision))
        .all(&write.txn)
        .await?
        .into_iter()
        .map(|approval| approval.organization_id)
        .collect();
    if signed.contains(&actor.organization.id) {
        return Err(ServiceError::refused(
            "id",
            UserErrorCode::InvalidState,
            "the caller's side has already approved this",
        ));
    }
    responsibility_approval::Model {
        id: Uuid::now_v7(),
        responsibility_id: id,
        organization_id: actor.organization.id,
        person_id: actor.person.id,
        approved_at: write.now,
        decision,
    }
    .into_active_model()
    .insert(&write.txn)
    .await?;
    Ok(signed.into_iter().chain([actor.organization.id]).collect())
}

/// The organizations whose admins must sign entries of `environment` in force at `at`.
///
/// # Errors
/// Database errors.
pub async fn required_sides(
    db: &impl ConnectionTrait,
    environment: &environment::Model,
    at: DateTime<Utc>,
) -> Result<Vec<Uuid>, DbErr> {
    let day = at.date_naive();
    let engagement = engagement::Entity::find()
        .filter(engagement::COLUMN.client_id.eq(environment.organization_id))
        .filter(engagement::in_force_on(day))
        .one(db)
        .await?;
    Ok(match engagement {
        Some(found) if found.operating_model == OperatingModel::CoManaged => {
            vec![found.client_id, found.provider_id]
        }
        Some(found) => vec![found.provider_id],
        None => vec![environment.organization_id],
    })
}

/// Another agreed entry for the same environment, function and system whose validity overlaps
/// `entry`'s.
///
/// # Errors
/// Database errors.
pub async fn overlapping(
    db: &impl ConnectionTrait,
    entry: &responsibility::Model,
) -> Result<Option<responsibility::Model>, DbErr> {
    let mut select = responsibility::Entity::find()
        .filter(
            responsibility::COLUMN
                .environment_id
                .eq(entry.environment_id),
        )
        .filter(responsibility::COLUMN.function_id.eq(entry.function_id))
        .filter(responsibility::COLUMN.status.is_in(crate::matrix::IN_FORCE))
        .filter(responsibility::COLUMN.id.ne(entry.id));
    select = match entry.system_id {
        Some(system) => select.filter(responsibility::COLUMN.system_id.eq(system)),
        None => select.filter(responsibility::COLUMN.system_id.is_null()),
    };
    Ok(select.all(db).await?.into_iter().find(|other| {
        let other_ends_after = other.valid_to.is_none_or(|to| entry.valid_from < to);
        let entry_ends_after = entry.valid_to.is_none_or(|to| other.valid_from < to);
        other_ends_after && entry_ends_after
    }))
}
