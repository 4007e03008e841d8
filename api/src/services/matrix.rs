//! The responsibility matrix lifecycle: `DRAFT -> PROPOSED -> AGREED -> RETIRED`, its sign-off,
//! and its amendments.
//!
//! Amendments: a draft is edited ([`update_responsibility`]); a proposal goes back to draft when
//! withdrawn by either side or rejected, with a reason, by a side that must sign and did not
//! propose it ([`send_back`]; when a single side signs, it rejects proposals the other party
//! made and withdraws its own). Either way its sign-offs stop counting (`revoked_at`), so it
//! must be signed again. An agreed entry changes by a successor ([`propose_change`]: a copy
//! with the changes, `PROPOSED`, needing the same sign-offs); agreeing it ends the old entry where
//! it starts. A successor never starts before it is agreed: when its start has passed by then,
//! it starts at the agreement.
//!
//! Every step writes a row of the entry's history (`responsibility_history`, append-only) in the
//! same transaction, with the side, the admin, the reason, the changed fields and the status and
//! validity after the step: the record the matrix's `asOf` reads rewind ([`crate::matrix`]).
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

use chrono::NaiveDate;
use chrono::{DateTime, Utc};
use entities::enums::{
    ApprovalDecision, ChangeCategory, EscalationChannel, HistoryAction, OperatingModel,
    OrganizationKind, PartyRole, ResponsibilityStatus, Role,
};
use entities::{
    engagement, environment, escalation_step, function, responsibility, responsibility_approval,
    responsibility_history, responsibility_party, sla_target,
};
use sea_orm::prelude::*;
use sea_orm::{ConnectionTrait, IntoActiveModel, QueryFilter, QueryOrder, Set};
use serde_json::json;

use crate::auth::Viewer;
use crate::events::EventBus;
use crate::matrix::{FieldChange, Target, Terms, difference};
use crate::outbox::{EventType, Item};
use crate::services::change_log::MAX_REASON;
use crate::services::directory::lock_organization;
use crate::services::scope::{person_for_environment, team_for_environment, visible_environment};
use crate::services::{
    ChangeNote, Check, ServiceError, ServiceResult, UnitOfWork, UserErrorCode, require_role,
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
    /// `PROPOSED -> DRAFT` by either side; its sign-offs stop counting.
    Withdraw,
    /// `PROPOSED -> DRAFT` by a side that must sign and did not propose it, with a reason.
    Reject,
}

impl Action {
    fn operation(self) -> &'static str {
        match self {
            Self::Propose => "proposeResponsibility",
            Self::Approve => "approveResponsibility",
            Self::Retire => "retireResponsibility",
            Self::Withdraw => "withdrawResponsibility",
            Self::Reject => "rejectResponsibility",
        }
    }
}

/// Most consulted teams, informed teams or escalation steps an entry names.
pub const MAX_PARTIES: usize = 50;

/// Longest notes of an entry, in characters.
pub const MAX_NOTES: usize = 5_000;

/// A new matrix entry, as a draft. Ids are `None` when the front door could not decode them.
pub struct NewResponsibility {
    /// The environment.
    pub environment_id: Option<Uuid>,
    /// The function's key, such as `patching`.
    pub function: String,
    /// A system, for an entry that overrides the function's default on it.
    pub system_id: Option<Uuid>,
    /// The team that does the work.
    pub responsible_team_id: Option<Uuid>,
    /// The team that answers for it.
    pub accountable_team_id: Option<Uuid>,
    /// Teams asked before the work is done.
    pub consulted_team_ids: Vec<Uuid>,
    /// Teams told after the work is done.
    pub informed_team_ids: Vec<Uuid>,
    /// Who to call, in order.
    pub escalation_path: Vec<NewStep>,
    /// Service level targets, at most one per priority.
    pub sla_targets: Vec<Target>,
    /// Start of validity (inclusive).
    pub valid_from: DateTime<Utc>,
    /// End of validity (exclusive); open-ended when `None`.
    pub valid_to: Option<DateTime<Utc>>,
    /// Free-form notes.
    pub notes: Option<String>,
    /// Why (goes to the change log).
    pub reason: Option<String>,
}

/// One step of an escalation path: a team or a person, reached by a channel.
pub struct NewStep {
    /// The team to reach.
    pub team_id: Option<Uuid>,
    /// The person to reach.
    pub person_id: Option<Uuid>,
    /// How to reach them.
    pub channel: EscalationChannel,
    /// Minutes to wait before the next step.
    pub minutes_before_next: Option<i32>,
}

/// Changes to an entry's terms: a field left `None` keeps its value; `Some(None)` clears a
/// clearable one. Lists replace the whole list.
#[derive(Default)]
pub struct Amendment {
    /// The team that does the work.
    pub responsible_team_id: Option<Uuid>,
    /// The team that answers for it.
    pub accountable_team_id: Option<Option<Uuid>>,
    /// Teams asked before the work is done.
    pub consulted_team_ids: Option<Vec<Uuid>>,
    /// Teams told after the work is done.
    pub informed_team_ids: Option<Vec<Uuid>>,
    /// Who to call, in order.
    pub escalation_path: Option<Vec<NewStep>>,
    /// Service level targets, at most one per priority.
    pub sla_targets: Option<Vec<Target>>,
    /// Start of validity (inclusive).
    pub valid_from: Option<DateTime<Utc>>,
    /// End of validity (exclusive).
    pub valid_to: Option<Option<DateTime<Utc>>>,
    /// Free-form notes.
    pub notes: Option<Option<String>>,
}

/// Terms as given, before they are checked: what a new entry, an edit or a change proposal
/// writes.
struct GivenTerms {
    responsible_team_id: Option<Uuid>,
    accountable_team_id: Option<Uuid>,
    consulted_team_ids: Vec<Uuid>,
    informed_team_ids: Vec<Uuid>,
    escalation_path: Vec<NewStep>,
    sla_targets: Vec<Target>,
    valid_from: DateTime<Utc>,
    valid_to: Option<DateTime<Utc>>,
    notes: Option<String>,
}

/// Terms that passed every check, ready to write.
struct CheckedTerms {
    responsible_team_id: Uuid,
    accountable_team_id: Option<Uuid>,
    consulted_team_ids: Vec<Uuid>,
    informed_team_ids: Vec<Uuid>,
    escalation_path: Vec<NewStep>,
    sla_targets: Vec<Target>,
    valid_from: DateTime<Utc>,
    valid_to: Option<DateTime<Utc>>,
    notes: Option<String>,
}

impl CheckedTerms {
    /// The terms as [`Terms`], to compare with another entry's.
    fn terms(&self) -> Terms {
        Terms {
            responsible_team_id: self.responsible_team_id,
            accountable_team_id: self.accountable_team_id,
            consulted_team_ids: self.consulted_team_ids.clone(),
            informed_team_ids: self.informed_team_ids.clone(),
            escalation_path: self
                .escalation_path
                .iter()
                .map(|step| crate::matrix::Step {
                    team_id: step.team_id,
                    person_id: step.person_id,
                    channel: step.channel,
                    minutes_before_next: step.minutes_before_next,
                })
                .collect(),
            sla_targets: crate::matrix::sorted_targets(self.sla_targets.clone()),
            valid_from: self.valid_from,
            valid_to: self.valid_to,
            notes: self.notes.clone(),
        }
    }
}

impl GivenTerms {
    /// `current`'s terms with `amendment` applied.
    fn amended(current: &Terms, amendment: Amendment) -> Self {
        let steps = current
            .escalation_path
            .iter()
            .map(|step| NewStep {
                team_id: step.team_id,
                person_id: step.person_id,
                channel: step.channel,
                minutes_before_next: step.minutes_before_next,
            })
            .collect();
        Self {
            responsible_team_id: Some(
                amendment
                    .responsible_team_id
                    .unwrap_or(current.responsible_team_id),
            ),
            accountable_team_id: amendment
                .accountable_team_id
                .unwrap_or(current.accountable_team_id),
            consulted_team_ids: amendment
                .consulted_team_ids
                .unwrap_or_else(|| current.consulted_team_ids.clone()),
            informed_team_ids: amendment
                .informed_team_ids
                .unwrap_or_else(|| current.informed_team_ids.clone()),
            escalation_path: amendment.escalation_path.unwrap_or(steps),
            sla_targets: amendment
                .sla_targets
                .unwrap_or_else(|| current.sla_targets.clone()),
            valid_from: amendment.valid_from.unwrap_or(current.valid_from),
            valid_to: amendment.valid_to.unwrap_or(current.valid_to),
            notes: amendment.notes.unwrap_or_else(|| current.notes.clone()),
        }
    }
}

/// A transition of a client to another operating model on a day.
pub struct TransitionPlan {
    /// The client; `None` when the front door could not decode the id.
    pub client_id: Option<Uuid>,
    /// The operating model from `on`.
    pub operating_model: OperatingModel,
    /// The first day under the new model.
    pub on: NaiveDate,
    /// Why (goes to the change log).
    pub reason: Option<String>,
}

/// Drafts `entry` as `actor`: not in force until agreed.
///
/// # Errors
/// [`ServiceError::Forbidden`] for a non-admin; [`ServiceError::Refused`] for bad input, an
/// environment, system, team or person the actor may not name; database errors.
pub async fn create_responsibility(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    entry: NewResponsibility,
    mut check: Check,
) -> ServiceResult<responsibility::Model> {
    require_role(actor, &[Role::Admin], "createResponsibility")?;
    let reason = check.optional_text("reason", entry.reason.as_deref(), MAX_REASON);
    let mut write = UnitOfWork::begin(db, events, actor, reason.clone().flatten(), None).await?;
    let environment = visible_environment(
        &write.txn,
        actor,
        &mut check,
        "environmentId",
        entry.environment_id,
    )
    .await?;
    let Some(environment) = environment else {
        return Err(check.into());
    };
    let key = entry.function.trim();
    let function = crate::matrix::functions_for(&write.txn, environment.organization_id)
        .await?
        .into_iter()
        .find(|function| function.key == key);
    if function.is_none() {
        check.fail(
            "function",
            UserErrorCode::NotFound,
            format!("no function with the key `{key}`"),
        );
    }
    if let Some(system_id) = entry.system_id {
        let found = entities::system::Entity::find_by_id(system_id)
            .one(&write.txn)
            .await?;
        if found.is_none_or(|found| found.environment_id != environment.id) {
            check.fail(
                "systemId",
                UserErrorCode::NotFound,
                "no system with this id in the environment",
            );
        }
    }
    let given = GivenTerms {
        responsible_team_id: entry.responsible_team_id,
        accountable_team_id: entry.accountable_team_id,
        consulted_team_ids: entry.consulted_team_ids,
        informed_team_ids: entry.informed_team_ids,
        escalation_path: entry.escalation_path,
        sla_targets: entry.sla_targets,
        valid_from: entry.valid_from,
        valid_to: entry.valid_to,
        notes: entry.notes,
    };
    let terms = check_terms(&write.txn, &mut check, &environment, given, "").await?;
    let (Some(_), Some(function), Some(terms), true) = (reason, function, terms, check.is_ok())
    else {
        return Err(check.into());
    };
    let created = responsibility::Model {
        id: Uuid::now_v7(),
        environment_id: environment.id,
        function_id: function.id,
        system_id: entry.system_id,
        responsible_team_id: terms.responsible_team_id,
        accountable_team_id: terms.accountable_team_id,
        valid_from: terms.valid_from,
        valid_to: terms.valid_to,
        status: ResponsibilityStatus::Draft,
        notes: terms.notes.clone(),
        supersedes_id: None,
        created_by_id: Some(actor.person.id),
        agreed_at: None,
        created_at: write.now,
        updated_at: write.now,
    }
    .into_active_model()
    .insert(&write.txn)
    .await?;
    write_terms(&write.txn, created.id, terms).await?;
    record_history(&write, &created, HistoryAction::Created, &[]).await?;
    write
        .record(ChangeNote {
            environment_id: environment.id,
            system_ids: entry.system_id.into_iter().collect(),
            summary: format!("Drafted matrix entry for {}", function.name),
            details: json!({ "responsibility": public_id(created.id), "status": "DRAFT" }),
            category: ChangeCategory::Ownership,
        })
        .await?;
    write.commit().await?;
    Ok(created)
}

/// Checks `given` against `environment` (the same checks for a new entry, an edit and a change
/// proposal) and returns the terms to write, or `None` when a check failed (in `check`).
async fn check_terms(
    txn: &impl ConnectionTrait,
    check: &mut Check,
    environment: &environment::Model,
    mut given: GivenTerms,
    prefix: &str,
) -> ServiceResult<Option<CheckedTerms>> {
    let at = |field: &str| format!("{prefix}{field}");
    // A team named twice in one role is one party (the triple is the party table's key).
    for ids in [&mut given.consulted_team_ids, &mut given.informed_team_ids] {
        ids.sort_unstable();
        ids.dedup();
    }
    let notes = check.optional_text(&at("notes"), given.notes.as_deref(), MAX_NOTES);
    let valid_from = check.planned_instant(&at("validFrom"), given.valid_from);
    let valid_to = given
        .valid_to
        .map(|instant| check.planned_instant(&at("validTo"), instant));
    if let (Some(from), Some(Some(to))) = (valid_from, valid_to)
        && to <= from
    {
        check.fail(
            &at("validTo"),
            UserErrorCode::Invalid,
            "`validTo` must be after `validFrom`",
        );
    }
    for (field, id) in [
        ("responsibleTeamId", given.responsible_team_id),
        ("accountableTeamId", given.accountable_team_id),
    ] {
        team_for_environment(txn, check, &at(field), environment, id).await?;
    }
    // Bounded before anything is read: each name costs reads while the environment is locked.
    for (field, count) in [
        ("consultedTeamIds", given.consulted_team_ids.len()),
        ("informedTeamIds", given.informed_team_ids.len()),
        ("escalationPath", given.escalation_path.len()),
    ] {
        if count > MAX_PARTIES {
            check.fail(
                &at(field),
                UserErrorCode::Invalid,
                format!("at most {MAX_PARTIES} items"),
            );
            return Ok(None);
        }
    }
    for (field, ids) in [
        ("consultedTeamIds", &given.consulted_team_ids),
        ("informedTeamIds", &given.informed_team_ids),
    ] {
        for id in ids {
            team_for_environment(txn, check, &at(field), environment, Some(*id)).await?;
        }
    }
    for (index, step) in given.escalation_path.iter().enumerate() {
        let field = at(&format!("escalationPath.{index}"));
        if step.team_id.is_some() == step.person_id.is_some() {
            check.fail(
                &field,
                UserErrorCode::Invalid,
                "a step names a team or a person, not both",
            );
        }
        team_for_environment(
            txn,
            check,
            &format!("{field}.teamId"),
            environment,
            step.team_id,
        )
        .await?;
        // Only the environment's two parties, not everyone the actor can see: a provider's
        // admin serving two clients cannot name one client's person in the other's path.
        person_for_environment(
            txn,
            check,
            &format!("{field}.personId"),
            environment,
            step.person_id,
        )
        .await?;
        if step.minutes_before_next.is_some_and(|minutes| minutes <= 0) {
            check.fail(
                &format!("{field}.minutesBeforeNext"),
                UserErrorCode::Invalid,
                "`minutesBeforeNext` must be positive",
            );
        }
        // Without it, a step in the middle would silently end the path there.
        if step.minutes_before_next.is_none() && index + 1 < given.escalation_path.len() {
            check.fail(
                &format!("{field}.minutesBeforeNext"),
                UserErrorCode::Invalid,
                "`minutesBeforeNext` is required on every step but the last",
            );
        }
    }
    check_targets(check, &at("slaTargets"), &given.sla_targets);
    let (Some(notes), Some(responsible), Some(valid_from), Some(valid_to)) = (
        notes,
        given.responsible_team_id,
        valid_from,
        valid_to.map_or(Some(None), |to| to.map(Some)),
    ) else {
        return Ok(None);
    };
    Ok(Some(CheckedTerms {
        responsible_team_id: responsible,
        accountable_team_id: given.accountable_team_id,
        consulted_team_ids: given.consulted_team_ids,
        informed_team_ids: given.informed_team_ids,
        escalation_path: given.escalation_path,
        sla_targets: given.sla_targets,
        valid_from,
        valid_to,
        notes,
    }))
}

/// Checks SLA targets: positive minutes up to a year, a resolution target no shorter than
/// the response one, at most one target per priority.
fn check_targets(check: &mut Check, field: &str, targets: &[Target]) {
    let max = crate::sla::MAX_TARGET_MINUTES;
    for (index, target) in targets.iter().enumerate() {
        let field = format!("{field}.{index}");
        if !(1..=max).contains(&target.response_minutes) {
            check.fail(
                &format!("{field}.responseMinutes"),
                UserErrorCode::Invalid,
                format!("`responseMinutes` must be from 1 to {max}"),
            );
        }
        if let Some(minutes) = target.resolution_minutes
            && !(target.response_minutes.max(1)..=max).contains(&minutes)
        {
            check.fail(
                &format!("{field}.resolutionMinutes"),
                UserErrorCode::Invalid,
                format!("`resolutionMinutes` must be from `responseMinutes` to {max}"),
            );
        }
        if targets[..index]
            .iter()
            .any(|earlier| earlier.priority == target.priority)
        {
            check.fail(
                &format!("{field}.priority"),
                UserErrorCode::Invalid,
                "at most one target per priority",
            );
        }
    }
}

/// Writes the consulted and informed teams, the escalation path and the SLA targets of entry
/// `id`, replacing any it had.
async fn write_terms(
    txn: &impl ConnectionTrait,
    id: Uuid,
    terms: CheckedTerms,
) -> Result<(), DbErr> {
    responsibility_party::Entity::delete_many()
        .filter(responsibility_party::COLUMN.responsibility_id.eq(id))
        .exec(txn)
        .await?;
    escalation_step::Entity::delete_many()
        .filter(escalation_step::COLUMN.responsibility_id.eq(id))
        .exec(txn)
        .await?;
    sla_target::Entity::delete_many()
        .filter(sla_target::COLUMN.responsibility_id.eq(id))
        .exec(txn)
        .await?;
    for target in &terms.sla_targets {
        sla_target::Model {
            id: Uuid::now_v7(),
            responsibility_id: id,
            priority: target.priority,
            response_minutes: target.response_minutes,
            resolution_minutes: target.resolution_minutes,
            calendar: target.calendar,
        }
        .into_active_model()
        .insert(txn)
        .await?;
    }
    let parties = terms
        .consulted_team_ids
        .iter()
        .map(|team| (team, PartyRole::Consulted))
        .chain(
            terms
                .informed_team_ids
                .iter()
                .map(|team| (team, PartyRole::Informed)),
        );
    for (team_id, role) in parties {
        responsibility_party::Model {
            responsibility_id: id,
            team_id: *team_id,
            role,
        }
        .into_active_model()
        .insert(txn)
        .await?;
    }
    for (position, step) in terms.escalation_path.into_iter().enumerate() {
        escalation_step::Model {
            id: Uuid::now_v7(),
            responsibility_id: id,
            position: position as i32 + 1,
            team_id: step.team_id,
            person_id: step.person_id,
            channel: step.channel,
            minutes_before_next: step.minutes_before_next,
        }
        .into_active_model()
        .insert(txn)
        .await?;
    }
    Ok(())
}

/// The current terms of `entry`, read in `txn`.
async fn current_terms(
    txn: &impl ConnectionTrait,
    entry: &responsibility::Model,
) -> Result<Terms, DbErr> {
    let parties = responsibility_party::Entity::find()
        .filter(responsibility_party::COLUMN.responsibility_id.eq(entry.id))
        .all(txn)
        .await?;
    let steps = escalation_step::Entity::find()
        .filter(escalation_step::COLUMN.responsibility_id.eq(entry.id))
        .all(txn)
        .await?;
    let targets = sla_target::Entity::find()
        .filter(sla_target::COLUMN.responsibility_id.eq(entry.id))
        .all(txn)
        .await?;
    Ok(Terms::of(entry, &parties, &steps, &targets))
}

/// Appends one step to `entry`'s history (as the entry is after the step), taken by the
/// write's actor for their side, with the write's reason.
async fn record_history(
    write: &UnitOfWork<'_>,
    entry: &responsibility::Model,
    action: HistoryAction,
    changes: &[FieldChange],
) -> Result<responsibility_history::Model, DbErr> {
    // The lifecycle steps outbound webhooks hear of, with the entry as it is after the step.
    let event_type = match action {
        HistoryAction::Proposed | HistoryAction::ChangeProposed => {
            Some(EventType::ResponsibilityProposed)
        }
        HistoryAction::Agreed => Some(EventType::ResponsibilityAgreed),
        HistoryAction::Retired => Some(EventType::ResponsibilityRetired),
        _ => None,
    };
    if let Some(event_type) = event_type {
        write.emit(Item {
            event_type,
            environment_id: Some(entry.environment_id),
            organization_id: None,
            subject_id: entry.id,
            data: crate::outbox::payload::responsibility(entry),
        });
    }
    responsibility_history::Model {
        id: Uuid::now_v7(),
        responsibility_id: entry.id,
        environment_id: entry.environment_id,
        recorded_at: write.now,
        action,
        status_after: entry.status,
        valid_from_after: entry.valid_from,
        valid_to_after: entry.valid_to,
        organization_id: Some(write.actor.organization.id),
        person_id: Some(write.actor.person.id),
        reason: write.reason.clone(),
        changes: (!changes.is_empty())
            .then(|| serde_json::Value::Array(changes.iter().map(FieldChange::to_json).collect())),
    }
    .into_active_model()
    .insert(&write.txn)
    .await
}

/// Opens entry `id` for a decision: reads it without a lock only to learn its environment and
/// client, locks them (the client first, as engagement changes and transitions lock it: which
/// sides must sign depends on its engagements), then reads the entry again.
async fn locked_entry(
    write: &UnitOfWork<'_>,
    id: Uuid,
) -> ServiceResult<(environment::Model, responsibility::Model)> {
    let not_found = || {
        ServiceError::refused(
            "id",
            UserErrorCode::NotFound,
            "no matrix entry with this id",
        )
    };
    let Some(found) = responsibility::Entity::find_by_id(id)
        .one(&write.txn)
        .await?
    else {
        return Err(not_found());
    };
    let Some(owner) = environment::Entity::find_by_id(found.environment_id)
        .one(&write.txn)
        .await?
        .map(|found| found.organization_id)
        .filter(|owner| write.actor.can_see_organization(*owner))
    else {
        return Err(not_found());
    };
    lock_organization(&write.txn, owner).await?;
    let Some(environment) = write.lock_environment(found.environment_id).await? else {
        return Err(not_found());
    };
    let Some(current) = responsibility::Entity::find_by_id(id)
        .one(&write.txn)
        .await?
    else {
        return Err(not_found());
    };
    Ok((environment, current))
}

/// The refusal of a step that `current`'s status does not allow.
fn wrong_state(
    current: &responsibility::Model,
    expected: ResponsibilityStatus,
    done: &str,
) -> ServiceError {
    ServiceError::refused(
        "id",
        UserErrorCode::InvalidState,
        format!(
            "the entry is {}; only a {} entry can be {done}",
            sea_orm::ActiveEnum::to_value(&current.status),
            sea_orm::ActiveEnum::to_value(&expected),
        ),
    )
}

/// The name of `entry`'s function, for change log summaries.
async fn function_name(
    txn: &impl ConnectionTrait,
    entry: &responsibility::Model,
) -> Result<String, DbErr> {
    Ok(function::Entity::find_by_id(entry.function_id)
        .one(txn)
        .await?
        .map(|found| found.name)
        .unwrap_or_default())
}

/// Edits draft `id` as `actor` (an admin): the same checks as a new entry.
///
/// # Errors
/// [`ServiceError::Forbidden`] for a non-admin; [`ServiceError::Refused`] for an unknown or
/// invisible entry, one that is not a draft, or bad input; database errors.
pub async fn update_responsibility(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    id: Option<Uuid>,
    amendment: Amendment,
    reason: Option<String>,
    mut check: Check,
) -> ServiceResult<responsibility::Model> {
    require_role(actor, &[Role::Admin], "updateResponsibility")?;
    let reason = check.optional_text("reason", reason.as_deref(), MAX_REASON);
    let (Some(id), Some(reason), true) = (id, reason, check.is_ok()) else {
        return Err(check.into());
    };
    let mut write = UnitOfWork::begin(db, events, actor, reason, None).await?;
    let (environment, current) = locked_entry(&write, id).await?;
    write.restamp();
    if current.status != ResponsibilityStatus::Draft {
        return Err(wrong_state(&current, ResponsibilityStatus::Draft, "edited"));
    }
    let before = current_terms(&write.txn, &current).await?;
    let given = GivenTerms::amended(&before, amendment);
    let terms = check_terms(&write.txn, &mut check, &environment, given, "changes.").await?;
    let (Some(terms), true) = (terms, check.is_ok()) else {
        return Err(check.into());
    };
    let changes = difference(&before, &terms.terms());
    let mut model = current.clone().into_active_model();
    model.responsible_team_id = Set(terms.responsible_team_id);
    model.accountable_team_id = Set(terms.accountable_team_id);
    model.valid_from = Set(terms.valid_from);
    model.valid_to = Set(terms.valid_to);
    model.notes = Set(terms.notes.clone());
    model.updated_at = Set(write.now);
    let updated = model.update(&write.txn).await?;
    write_terms(&write.txn, updated.id, terms).await?;
    let summary = format!(
        "Edited draft matrix entry for {}",
        function_name(&write.txn, &updated).await?
    );
    finish_step(write, &updated, HistoryAction::Updated, &changes, summary).await?;
    Ok(updated)
}

/// Records `entry`'s step `action` in its history and the change log, and commits.
async fn finish_step(
    mut write: UnitOfWork<'_>,
    entry: &responsibility::Model,
    action: HistoryAction,
    changes: &[FieldChange],
    summary: String,
) -> ServiceResult<()> {
    record_history(&write, entry, action, changes).await?;
    let mut note = ChangeNote {
        environment_id: entry.environment_id,
        system_ids: entry.system_id.into_iter().collect(),
        summary,
        details: json!({ "responsibility": public_id(entry.id), "status": entry.status, "action": action }),
        category: ChangeCategory::Ownership,
    };
    if !changes.is_empty()
        && let Some(details) = note.details.as_object_mut()
    {
        details.insert(
            "changes".to_owned(),
            serde_json::Value::Array(changes.iter().map(FieldChange::to_json).collect()),
        );
    }
    write.record(note).await?;
    write.commit().await?;
    Ok(())
}

/// Proposes a change of agreed entry `id` as `actor` (an admin): a successor with `amendment`
/// applied, `PROPOSED`, that needs the same sign-offs; agreeing it ends `id` where it starts.
/// Without a new `validFrom` the successor starts when it is agreed.
///
/// # Errors
/// [`ServiceError::Forbidden`] for a non-admin; [`ServiceError::Refused`] for an unknown or
/// invisible entry, one that is not agreed, no change at all, or bad input; database errors.
pub async fn propose_change(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    id: Option<Uuid>,
    amendment: Amendment,
    reason: Option<String>,
    mut check: Check,
) -> ServiceResult<responsibility::Model> {
    require_role(actor, &[Role::Admin], "proposeResponsibilityChange")?;
    let reason = check.optional_text("reason", reason.as_deref(), MAX_REASON);
    let (Some(id), Some(reason), true) = (id, reason, check.is_ok()) else {
        return Err(check.into());
    };
    let mut write = UnitOfWork::begin(db, events, actor, reason, None).await?;
    let (environment, current) = locked_entry(&write, id).await?;
    write.restamp();
    if current.status != ResponsibilityStatus::Agreed {
        return Err(wrong_state(
            &current,
            ResponsibilityStatus::Agreed,
            "changed",
        ));
    }
    // One change at a time: a second successor would overlap the first once that is agreed
    // and could then never be agreed itself.
    if let Some(pending) = responsibility::Entity::find()
        .filter(responsibility::COLUMN.supersedes_id.eq(current.id))
        .filter(
            responsibility::COLUMN
                .status
                .is_in([ResponsibilityStatus::Draft, ResponsibilityStatus::Proposed]),
        )
        .one(&write.txn)
        .await?
    {
        return Err(ServiceError::refused(
            "id",
            UserErrorCode::InvalidState,
            format!(
                "the entry already has a pending successor {} ({}); agree, withdraw or reject it first",
                public_id(pending.id),
                sea_orm::ActiveEnum::to_value(&pending.status)
            ),
        ));
    }
    let before = current_terms(&write.txn, &current).await?;
    let starts_now = amendment.valid_from.is_none();
    let mut given = GivenTerms::amended(&before, amendment);
    if starts_now {
        // It takes over no earlier than its agreement (which moves the start again then), and
        // never before the entry it changes starts.
        given.valid_from = write.now.max(current.valid_from);
    }
    let terms = check_terms(&write.txn, &mut check, &environment, given, "changes.").await?;
    let (Some(terms), true) = (terms, check.is_ok()) else {
        return Err(check.into());
    };
    let changes = difference(&before, &terms.terms());
    if changes
        .iter()
        .all(|change| starts_now && change.field == "validFrom")
    {
        return Err(ServiceError::refused(
            "changes",
            UserErrorCode::Invalid,
            "the change changes nothing; give at least one field",
        ));
    }
    let successor = responsibility::Model {
        id: Uuid::now_v7(),
        environment_id: current.environment_id,
        function_id: current.function_id,
        system_id: current.system_id,
        responsible_team_id: terms.responsible_team_id,
        accountable_team_id: terms.accountable_team_id,
        valid_from: terms.valid_from,
        valid_to: terms.valid_to,
        status: ResponsibilityStatus::Proposed,
        notes: terms.notes.clone(),
        supersedes_id: Some(current.id),
        created_by_id: Some(actor.person.id),
        agreed_at: None,
        created_at: write.now,
        updated_at: write.now,
    }
    .into_active_model()
    .insert(&write.txn)
    .await?;
    write_terms(&write.txn, successor.id, terms).await?;
    let summary = format!(
        "Proposed a change of the matrix entry for {}",
        function_name(&write.txn, &successor).await?
    );
    finish_step(
        write,
        &successor,
        HistoryAction::ChangeProposed,
        &changes,
        summary,
    )
    .await?;
    Ok(successor)
}

/// Sends proposal `id` back to draft as `actor`: [`Action::Withdraw`] by an admin of the side
/// that proposed it (either side when the history does not say), [`Action::Reject`] (with a required reason) by an admin of a side that must sign it and
/// did not propose it. Its sign-offs stop counting (they are kept, revoked).
///
/// # Errors
/// [`ServiceError::Forbidden`] for a non-admin; [`ServiceError::Refused`] for an unknown or
/// invisible entry, one that is not proposed, a missing reason, or a side that may not reject;
/// database errors.
pub async fn send_back(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    id: Option<Uuid>,
    action: Action,
    reason: Option<String>,
    mut check: Check,
) -> ServiceResult<responsibility::Model> {
    require_role(actor, &[Role::Admin], action.operation())?;
    let reason = check.optional_text("reason", reason.as_deref(), MAX_REASON);
    if action == Action::Reject && matches!(reason, Some(None)) {
        check.fail(
            "reason",
            UserErrorCode::Required,
            "a rejection says why: give a reason",
        );
    }
    let (Some(id), Some(reason), true) = (id, reason, check.is_ok()) else {
        return Err(check.into());
    };
    let mut write = UnitOfWork::begin(db, events, actor, reason, None).await?;
    let (environment, current) = locked_entry(&write, id).await?;
    write.restamp();
    let verb = if action == Action::Reject {
        "rejected"
    } else {
        "withdrawn"
    };
    if current.status != ResponsibilityStatus::Proposed {
        return Err(wrong_state(&current, ResponsibilityStatus::Proposed, verb));
    }
    let proposer = responsibility_history::Entity::find()
        .filter(responsibility_history::COLUMN.responsibility_id.eq(id))
        .filter(
            responsibility_history::COLUMN
                .action
                .is_in([HistoryAction::Proposed, HistoryAction::ChangeProposed]),
        )
        .order_by_desc(responsibility_history::Column::RecordedAt)
        .order_by_desc(responsibility_history::Column::Id)
        .one(&write.txn)
        .await?
        .and_then(|row| row.organization_id);
    // Withdrawing is the proposer's own step; the other side says no with a reason, by
    // rejecting. (A proposal whose proposer the history does not know, from before it was
    // kept, may be withdrawn by either side.)
    if action == Action::Withdraw && proposer.is_some_and(|side| side != actor.organization.id) {
        return Err(ServiceError::refused(
            "id",
            UserErrorCode::InvalidState,
            "only the side that proposed the entry withdraws it; the other side rejects it with a reason",
        ));
    }
    if action == Action::Reject {
        let sides = required_sides(&write.txn, &environment, current.valid_from).await?;
        if !sides.contains(&actor.organization.id) {
            return Err(ServiceError::refused(
                "id",
                UserErrorCode::InvalidState,
                "only a side that must sign the entry rejects it",
            ));
        }
        if proposer == Some(actor.organization.id) {
            return Err(ServiceError::refused(
                "id",
                UserErrorCode::InvalidState,
                "the caller's side proposed the entry; withdraw it instead",
            ));
        }
    }
    responsibility_approval::Entity::update_many()
        .col_expr(
            responsibility_approval::Column::RevokedAt,
            Expr::value(write.now),
        )
        .filter(responsibility_approval::COLUMN.responsibility_id.eq(id))
        .filter(
            responsibility_approval::COLUMN
                .decision
                .eq(ApprovalDecision::Agree),
        )
        .filter(responsibility_approval::COLUMN.revoked_at.is_null())
        .exec(&write.txn)
        .await?;
    let mut model = current.into_active_model();
    model.status = Set(ResponsibilityStatus::Draft);
    model.updated_at = Set(write.now);
    let updated = model.update(&write.txn).await?;
    let name = function_name(&write.txn, &updated).await?;
    let (history, summary) = if action == Action::Reject {
        (
            HistoryAction::Rejected,
            format!(
                "{} rejected the proposed matrix entry for {name}",
                actor.organization.name
            ),
        )
    } else {
        (
            HistoryAction::Withdrawn,
            format!(
                "{} withdrew the proposed matrix entry for {name}",
                actor.organization.name
            ),
        )
    };
    finish_step(write, &updated, history, &[], summary).await?;
    Ok(updated)
}

/// Plans `plan` as `actor` (a provider's admin): the current engagement ends on the day, the
/// next one starts, and every entry in force that day is copied as a draft that supersedes it.
/// The client is locked first, so engagement changes of the client take turns with it.
///
/// # Errors
/// [`ServiceError::Forbidden`] for a non-admin; [`ServiceError::Refused`] for a caller who is
/// not a provider, a client without an engagement in force that day, the same model, or a day
/// not after the current engagement starts; database errors.
pub async fn plan_transition(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    plan: TransitionPlan,
    mut check: Check,
) -> ServiceResult<(engagement::Model, Vec<responsibility::Model>)> {
    require_role(actor, &[Role::Admin], "planTransition")?;
    let reason = check.optional_text("reason", plan.reason.as_deref(), MAX_REASON);
    if actor.organization.kind != OrganizationKind::Provider {
        check.fail(
            "clientId",
            UserErrorCode::InvalidState,
            "transitions are planned by the provider",
        );
        return Err(check.into());
    }
    let Some(client_id) = plan.client_id else {
        return Err(check.into());
    };
    let on = plan.on;
    let mut write = UnitOfWork::begin(db, events, actor, reason.clone().flatten(), None).await?;
    lock_organization(&write.txn, client_id).await?;
    // The entries in force on the day are copied below: their environments' matrix decisions
    // wait until this commits (in id order, as every environment lock is taken one at a time).
    for environment in environment::Entity::find()
        .filter(environment::COLUMN.organization_id.eq(client_id))
        .order_by_asc(environment::Column::Id)
        .all(&write.txn)
        .await?
    {
        write.lock_environment(environment.id).await?;
    }
    let current = engagement::Entity::find()
        .filter(engagement::in_force_on(on))
        .filter(engagement::COLUMN.client_id.eq(client_id))
        .filter(engagement::COLUMN.provider_id.eq(actor.organization.id))
        .one(&write.txn)
        .await?;
    let model = plan.operating_model;
    match &current {
        None => check.fail(
            "clientId",
            UserErrorCode::NotFound,
            "no engagement with this client is in force on that day",
        ),
        Some(found) if found.operating_model == model => {
            check.fail(
                "operatingModel",
                UserErrorCode::Invalid,
                "the client is already served under this operating model then",
            );
        }
        Some(found) if found.starts_on >= on => {
            check.fail(
                "on",
                UserErrorCode::Invalid,
                "the day must fall after the current engagement starts",
            );
        }
        Some(_) => {}
    }
    let (Some(_), Some(current), true) = (reason, current, check.is_ok()) else {
        return Err(check.into());
    };
    let mut ended = current.clone().into_active_model();
    ended.ends_on = Set(Some(on));
    ended.updated_at = Set(write.now);
    ended.update(&write.txn).await?;
    let next = engagement::Model {
        id: Uuid::now_v7(),
        provider_id: current.provider_id,
        client_id,
        operating_model: model,
        starts_on: on,
        ends_on: current.ends_on.filter(|ends_on| *ends_on > on),
        notes: Some(format!(
            "Transition from {}",
            sea_orm::ActiveEnum::to_value(&current.operating_model)
        )),
        created_at: write.now,
        updated_at: write.now,
    }
    .into_active_model()
    .insert(&write.txn)
    .await?;

    let starts: DateTime<Utc> = on.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let environments = environment::Entity::find()
        .filter(environment::COLUMN.organization_id.eq(client_id))
        .all(&write.txn)
        .await?;
    let entries = crate::matrix::in_force(
        &write.txn,
        environments.iter().map(|found| found.id),
        starts,
        None,
    )
    .await?;
    let entry_ids: Vec<Uuid> = entries.iter().map(|entry| entry.id).collect();
    let parties = responsibility_party::Entity::find()
        .filter(
            responsibility_party::COLUMN
                .responsibility_id
                .is_in(entry_ids.iter().copied()),
        )
        .all(&write.txn)
        .await?;
    let steps = escalation_step::Entity::find()
        .filter(
            escalation_step::COLUMN
                .responsibility_id
                .is_in(entry_ids.iter().copied()),
        )
        .all(&write.txn)
        .await?;
    let targets = sla_target::Entity::find()
        .filter(
            sla_target::COLUMN
                .responsibility_id
                .is_in(entry_ids.iter().copied()),
        )
        .all(&write.txn)
        .await?;
    let mut drafted = Vec::with_capacity(entries.len());
    for entry in &entries {
        let draft = responsibility::Model {
            id: Uuid::now_v7(),
            valid_from: starts,
            status: ResponsibilityStatus::Draft,
            supersedes_id: Some(entry.id),
            created_by_id: Some(actor.person.id),
            agreed_at: None,
            created_at: write.now,
            updated_at: write.now,
            ..entry.clone()
        }
        .into_active_model()
        .insert(&write.txn)
        .await?;
        record_history(&write, &draft, HistoryAction::TransitionDrafted, &[]).await?;
        for party in parties
            .iter()
            .filter(|party| party.responsibility_id == entry.id)
        {
            responsibility_party::Model {
                responsibility_id: draft.id,
                ..party.clone()
            }
            .into_active_model()
            .insert(&write.txn)
            .await?;
        }
        for step in steps
            .iter()
            .filter(|step| step.responsibility_id == entry.id)
        {
            escalation_step::Model {
                id: Uuid::now_v7(),
                responsibility_id: draft.id,
                ..step.clone()
            }
            .into_active_model()
            .insert(&write.txn)
            .await?;
        }
        for target in targets
            .iter()
            .filter(|target| target.responsibility_id == entry.id)
        {
            sla_target::Model {
                id: Uuid::now_v7(),
                responsibility_id: draft.id,
                ..target.clone()
            }
            .into_active_model()
            .insert(&write.txn)
            .await?;
        }
        drafted.push(draft);
    }
    for found in &environments {
        let count = drafted
            .iter()
            .filter(|draft| draft.environment_id == found.id)
            .count();
        write
            .record(ChangeNote {
                environment_id: found.id,
                system_ids: Vec::new(),
                summary: format!(
                    "Planned transition to {} on {on}; drafted {count} matrix entries",
                    sea_orm::ActiveEnum::to_value(&model)
                ),
                details: json!({ "from": current.operating_model, "to": model, "on": on.to_string(), "drafted": count }),
                category: ChangeCategory::Ownership,
            })
            .await?;
    }
    write.commit().await?;
    Ok((next, drafted))
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
    id: Option<Uuid>,
    action: Action,
    reason: Option<String>,
    mut check: Check,
) -> ServiceResult<responsibility::Model> {
    if matches!(action, Action::Withdraw | Action::Reject) {
        return send_back(db, events, actor, id, action, reason, check).await;
    }
    require_role(actor, &[Role::Admin], action.operation())?;
    let reason = check.optional_text("reason", reason.as_deref(), MAX_REASON);
    let (Some(id), Some(reason), true) = (id, reason, check.is_ok()) else {
        return Err(check.into());
    };
    let mut write = UnitOfWork::begin(db, events, actor, reason, None).await?;
    let (environment, current) = locked_entry(&write, id).await?;
    write.restamp();
    let (expected, done) = match action {
        Action::Propose => (ResponsibilityStatus::Draft, "proposed"),
        Action::Approve => (ResponsibilityStatus::Proposed, "approved"),
        Action::Retire | Action::Withdraw | Action::Reject => {
            (ResponsibilityStatus::Agreed, "retired")
        }
    };
    if current.status != expected {
        return Err(wrong_state(&current, expected, done));
    }
    let function = function_name(&write.txn, &current).await?;
    let now = write.now;
    let mut model = current.clone().into_active_model();
    let mut step = HistoryAction::Proposed;
    let summary = match action {
        Action::Propose => {
            model.status = Set(ResponsibilityStatus::Proposed);
            format!("Proposed matrix entry for {function}")
        }
        Action::Approve => {
            let sides = required_sides(&write.txn, &environment, current.valid_from).await?;
            let approved = sign(&write, &sides, ApprovalDecision::Agree, current.id).await?;
            step = HistoryAction::Approved;
            if sides.iter().all(|side| approved.contains(side)) {
                // The entry (and the one it supersedes) change the matrix in force: its gaps
                // are announced.
                write.watch_gaps(&environment).await?;
                let mut agreed = current.clone();
                // An entry that supersedes an agreed one takes over from its start, and never
                // before it is agreed: the old entry ends there (the past stays as it was).
                if let Some(superseded) = current.supersedes_id {
                    agreed.valid_from = current.valid_from.max(now);
                    if agreed.valid_to.is_some_and(|to| to <= agreed.valid_from) {
                        return Err(ServiceError::refused(
                            "id",
                            UserErrorCode::InvalidState,
                            "the entry's validity ended before it could take over; withdraw it and change the dates",
                        ));
                    }
                    let old = responsibility::Entity::find_by_id(superseded)
                        .one(&write.txn)
                        .await?;
                    let end = agreed.valid_from;
                    if let Some(old) = old.filter(|old| {
                        old.status == ResponsibilityStatus::Agreed
                            && old.valid_to.is_none_or(|to| to > end)
                    }) {
                        let mut ended = old.into_active_model();
                        ended.valid_to = Set(Some(end));
                        ended.updated_at = Set(now);
                        let ended = ended.update(&write.txn).await?;
                        record_history(&write, &ended, HistoryAction::Superseded, &[]).await?;
                    }
                }
                if let Some(conflict) = overlapping(&write.txn, &agreed).await? {
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
                model.valid_from = Set(agreed.valid_from);
                model.agreed_at = Set(Some(now));
                step = HistoryAction::Agreed;
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
            step = HistoryAction::RetirementApproved;
            if sides.iter().all(|side| approved.contains(side)) {
                write.watch_gaps(&environment).await?;
                step = HistoryAction::Retired;
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
        Action::Withdraw | Action::Reject => String::new(),
    };
    model.updated_at = Set(now);
    let updated = model.update(&write.txn).await?;
    record_history(&write, &updated, step, &[]).await?;
    write
        .record(lifecycle_note(&updated, summary, action))
        .await?;
    write.commit().await?;
    Ok(updated)
}

/// The global id of matrix entry `id`, as clients (and change log details) name it.
fn public_id(id: Uuid) -> String {
    crate::ids::encode(crate::ids::NodeType::Responsibility, id).0
}

/// The change log entry of one lifecycle step of `entry` (as it is after the step).
pub fn lifecycle_note(
    entry: &responsibility::Model,
    summary: String,
    action: Action,
) -> ChangeNote {
    ChangeNote {
        environment_id: entry.environment_id,
        system_ids: entry.system_id.into_iter().collect(),
        summary,
        details: json!({ "responsibility": public_id(entry.id), "status": entry.status, "action": format!("{action:?}").to_uppercase() }),
        category: ChangeCategory::Ownership,
    }
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
        .filter(responsibility_approval::COLUMN.revoked_at.is_null())
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
        revoked_at: None,
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
