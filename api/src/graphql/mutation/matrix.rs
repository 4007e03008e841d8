//! The responsibility matrix lifecycle: `DRAFT -> PROPOSED -> AGREED -> RETIRED`.
//!
//! An entry becomes `AGREED` only when the sides its engagement requires have approved it (an
//! admin of each): under a co-managed engagement both the client and the provider, under a fully
//! managed one the provider, with no engagement the client. Two agreed entries for the same
//! environment, function and system may not overlap in time; the refusal names the other entry.
//! Every step is a change log entry (category `OWNERSHIP`).

use async_graphql::{Context, ID, InputObject, Object, Result, ResultExt};
use chrono::{DateTime, SubsecRound, Utc};
use entities::enums::{ChangeCategory, OperatingModel, PartyRole, ResponsibilityStatus, Role};
use entities::{
    engagement, environment, escalation_step, person, responsibility, responsibility_party,
};
use sea_orm::prelude::*;
use sea_orm::{IntoActiveModel, QueryFilter, Set};
use serde_json::json;

use crate::auth::Viewer;
use crate::error::ApiResult;
use crate::events::EventBus;
use crate::graphql::context::ContextExt;
use crate::graphql::mutation::change_log::MAX_REASON;
use crate::graphql::mutation::{
    ChangeNote, Check, CheckIds, UserErrorCode, payload, require_role, visible_environment,
};
use crate::graphql::query::directory::active_on;
use crate::graphql::types::Responsibility;
use crate::graphql::types::enums::EscalationChannel;
use crate::ids::NodeType;
use crate::services::scope::team_for_environment;
use crate::services::{self, matrix::Action};

/// Writing the matrix.
#[derive(Default)]
pub struct MatrixMutation;

/// One step of an escalation path.
#[derive(InputObject)]
pub struct EscalationStepInput {
    /// The team to reach (give a team or a person).
    pub team_id: Option<ID>,
    /// The person to reach (give a team or a person).
    pub person_id: Option<ID>,
    /// How to reach them.
    pub channel: EscalationChannel,
    /// Minutes to wait before the next step; omit on the last.
    pub minutes_before_next: Option<i32>,
}

/// A new matrix entry, as a draft.
#[derive(InputObject)]
pub struct CreateResponsibilityInput {
    /// The environment.
    pub environment_id: ID,
    /// The function's key, such as `patching`.
    pub function: String,
    /// A system, for an entry that overrides the function's default on it.
    pub system_id: Option<ID>,
    /// The team that does the work.
    pub responsible_team_id: ID,
    /// The team that answers for it.
    pub accountable_team_id: Option<ID>,
    /// Teams asked before the work is done.
    #[graphql(default)]
    pub consulted_team_ids: Vec<ID>,
    /// Teams told after the work is done.
    #[graphql(default)]
    pub informed_team_ids: Vec<ID>,
    /// Who to call, in order.
    #[graphql(default)]
    pub escalation_path: Vec<EscalationStepInput>,
    /// Start of validity (inclusive).
    pub valid_from: DateTimeUtc,
    /// End of validity (exclusive); open-ended when omitted.
    pub valid_to: Option<DateTimeUtc>,
    /// Free-form notes.
    pub notes: Option<String>,
    /// Why (goes to the change log).
    pub reason: Option<String>,
}

/// A matrix entry to move along its lifecycle.
#[derive(InputObject)]
pub struct ResponsibilityActionInput {
    /// The entry.
    pub id: ID,
    /// Why (goes to the change log).
    pub reason: Option<String>,
}

payload! {
    /// The result of a matrix mutation.
    ResponsibilityPayload {
        /// The entry as it is now.
        responsibility: Responsibility
    }
}

#[Object]
impl MatrixMutation {
    /// Drafts a matrix entry (admins); it is not in force until agreed.
    async fn create_responsibility(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: CreateResponsibilityInput,
    ) -> Result<ResponsibilityPayload> {
        create(ctx, input).await.extend()
    }

    /// Submits a draft for approval.
    async fn propose_responsibility(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: ResponsibilityActionInput,
    ) -> Result<ResponsibilityPayload> {
        transition(ctx, input, Action::Propose).await.extend()
    }

    /// Approves a proposed entry for the caller's side; it becomes agreed once every side the
    /// engagement requires has approved, unless it would overlap another agreed entry.
    async fn approve_responsibility(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: ResponsibilityActionInput,
    ) -> Result<ResponsibilityPayload> {
        transition(ctx, input, Action::Approve).await.extend()
    }

    /// Plans a transition of a client to another operating model on a day (the provider's
    /// admins): the current engagement ends that day, a new one starts, and every agreed matrix
    /// entry in force that day is copied as a draft that supersedes it, for both teams to edit
    /// and agree before the date. Agreeing a draft ends the entry it supersedes.
    async fn plan_transition(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: PlanTransitionInput,
    ) -> Result<PlanTransitionPayload> {
        plan_transition(ctx, input).await.extend()
    }

    /// Retires an entry: it is no longer in force.
    async fn retire_responsibility(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: ResponsibilityActionInput,
    ) -> Result<ResponsibilityPayload> {
        transition(ctx, input, Action::Retire).await.extend()
    }
}

async fn create(
    ctx: &Context<'_>,
    input: CreateResponsibilityInput,
) -> ApiResult<ResponsibilityPayload> {
    let viewer = ctx.viewer()?;
    require_role(viewer, &[Role::Admin], "createResponsibility")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let notes = check.optional_text("notes", input.notes.as_deref(), 5_000);
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let valid_from = check
        .planned_instant("validFrom", input.valid_from)
        .unwrap_or(input.valid_from.trunc_subsecs(6));
    let valid_to = input.valid_to.map(|instant| {
        check
            .planned_instant("validTo", instant)
            .unwrap_or(instant.trunc_subsecs(6))
    });
    if valid_to.is_some_and(|valid_to| valid_to <= valid_from) {
        check.fail(
            "validTo",
            UserErrorCode::Invalid,
            "`validTo` must be after `validFrom`",
        );
    }
    let environment_id = check.id(
        "environmentId",
        NodeType::Environment,
        &input.environment_id,
    );
    let environment =
        visible_environment(db, viewer, &mut check, "environmentId", environment_id).await?;
    let Some(environment) = environment else {
        return Ok(ResponsibilityPayload::refused(check.into_errors()));
    };
    let function = crate::matrix::functions_for(db, environment.organization_id)
        .await?
        .into_iter()
        .find(|function| function.key == input.function.trim());
    if function.is_none() {
        check.fail(
            "function",
            UserErrorCode::NotFound,
            format!("no function with the key `{}`", input.function.trim()),
        );
    }
    let system_id = input
        .system_id
        .as_ref()
        .and_then(|id| check.id("systemId", NodeType::System, id));
    if let Some(system_id) = system_id {
        let found = entities::system::Entity::find_by_id(system_id)
            .one(db)
            .await?;
        if found.is_none_or(|found| found.environment_id != environment.id) {
            check.fail(
                "systemId",
                UserErrorCode::NotFound,
                "no system with this id in the environment",
            );
        }
    }
    let team = |field: &str, id: &ID, check: &mut Check| check.id(field, NodeType::Team, id);
    let responsible = team("responsibleTeamId", &input.responsible_team_id, &mut check);
    let accountable = input
        .accountable_team_id
        .as_ref()
        .and_then(|id| team("accountableTeamId", id, &mut check));
    let consulted: Vec<Uuid> = input
        .consulted_team_ids
        .iter()
        .enumerate()
        .filter_map(|(index, id)| team(&format!("consultedTeamIds.{index}"), id, &mut check))
        .collect();
    let informed: Vec<Uuid> = input
        .informed_team_ids
        .iter()
        .enumerate()
        .filter_map(|(index, id)| team(&format!("informedTeamIds.{index}"), id, &mut check))
        .collect();
    for (field, id) in [
        ("responsibleTeamId", responsible),
        ("accountableTeamId", accountable),
    ] {
        team_for_environment(db, &mut check, field, &environment, id).await?;
    }
    for (field, ids) in [
        ("consultedTeamIds", &consulted),
        ("informedTeamIds", &informed),
    ] {
        for id in ids {
            team_for_environment(db, &mut check, field, &environment, Some(*id)).await?;
        }
    }
    let mut steps = Vec::new();
    for (index, step) in input.escalation_path.iter().enumerate() {
        let field = format!("escalationPath.{index}");
        let team_id = step
            .team_id
            .as_ref()
            .and_then(|id| check.id(&format!("{field}.teamId"), NodeType::Team, id));
        let person_id = step
            .person_id
            .as_ref()
            .and_then(|id| check.id(&format!("{field}.personId"), NodeType::Person, id));
        if team_id.is_some() == person_id.is_some() {
            check.fail(
                &field,
                UserErrorCode::Invalid,
                "a step names a team or a person, not both",
            );
        }
        team_for_environment(
            db,
            &mut check,
            &format!("{field}.teamId"),
            &environment,
            team_id,
        )
        .await?;
        if let Some(person_id) = person_id {
            let found = person::Entity::find_by_id(person_id).one(db).await?;
            if found.is_none_or(|found| !viewer.can_see_organization(found.organization_id)) {
                check.fail(
                    &format!("{field}.personId"),
                    UserErrorCode::NotFound,
                    "no person with this id",
                );
            }
        }
        if step.minutes_before_next.is_some_and(|minutes| minutes <= 0) {
            check.fail(
                &format!("{field}.minutesBeforeNext"),
                UserErrorCode::Invalid,
                "`minutesBeforeNext` must be positive",
            );
        }
        steps.push((team_id, person_id, step.channel, step.minutes_before_next));
    }
    let (Some(notes), Some(reason), Some(function), Some(responsible), true) =
        (notes, reason, function, responsible, check.is_ok())
    else {
        return Ok(ResponsibilityPayload::refused(check.into_errors()));
    };
    let mut write = crate::graphql::mutation::begin(ctx, viewer, reason, None).await?;
    let created = responsibility::Model {
        id: Uuid::now_v7(),
        environment_id: environment.id,
        function_id: function.id,
        system_id,
        responsible_team_id: responsible,
        accountable_team_id: accountable,
        valid_from,
        valid_to,
        status: ResponsibilityStatus::Draft,
        notes,
        supersedes_id: None,
        created_by_id: Some(viewer.person.id),
        created_at: write.now,
        updated_at: write.now,
    }
    .into_active_model()
    .insert(&write.txn)
    .await?;
    let parties = consulted
        .iter()
        .map(|id| (id, PartyRole::Consulted))
        .chain(informed.iter().map(|id| (id, PartyRole::Informed)));
    for (team_id, role) in parties {
        responsibility_party::Model {
            responsibility_id: created.id,
            team_id: *team_id,
            role,
        }
        .into_active_model()
        .insert(&write.txn)
        .await?;
    }
    for (position, (team_id, person_id, channel, minutes)) in steps.into_iter().enumerate() {
        escalation_step::Model {
            id: Uuid::now_v7(),
            responsibility_id: created.id,
            position: position as i32 + 1,
            team_id,
            person_id,
            channel: channel.into(),
            minutes_before_next: minutes,
        }
        .into_active_model()
        .insert(&write.txn)
        .await?;
    }
    write
        .record(ChangeNote {
            environment_id: environment.id,
            system_ids: system_id.into_iter().collect(),
            summary: format!("Drafted matrix entry for {}", function.name),
            details: json!({ "responsibility": created.id, "status": "DRAFT" }),
            category: ChangeCategory::Ownership,
        })
        .await?;
    write.commit().await?;
    Ok(ResponsibilityPayload::done(Responsibility(created)))
}

async fn transition(
    ctx: &Context<'_>,
    input: ResponsibilityActionInput,
    action: Action,
) -> ApiResult<ResponsibilityPayload> {
    let viewer: &Viewer = ctx.viewer()?;
    let mut check = Check::default();
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let id = check.id("id", NodeType::Responsibility, &input.id);
    let (Some(id), Some(reason)) = (id, reason) else {
        return Ok(ResponsibilityPayload::refused(check.into_errors()));
    };
    let outcome = services::matrix::transition(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        id,
        action,
        reason,
    )
    .await;
    ResponsibilityPayload::from_outcome(outcome.map(Responsibility))
}

/// A transition to plan.
#[derive(InputObject)]
pub struct PlanTransitionInput {
    /// The client.
    pub client_id: ID,
    /// The operating model from `on`.
    pub operating_model: crate::graphql::types::enums::OperatingModel,
    /// The first day under the new model.
    pub on: crate::graphql::scalars::Date,
    /// Why (goes to the change log).
    pub reason: Option<String>,
}

/// The result of `planTransition`.
#[derive(async_graphql::SimpleObject, Default)]
pub struct PlanTransitionPayload {
    /// The new engagement period.
    pub engagement: Option<crate::graphql::types::Engagement>,
    /// The drafted matrix that takes effect on the day, once agreed.
    pub drafted: Vec<Responsibility>,
    /// Problems with the input; when any, nothing was written.
    pub user_errors: Vec<crate::graphql::mutation::UserErrorObject>,
}

async fn plan_transition(
    ctx: &Context<'_>,
    input: PlanTransitionInput,
) -> ApiResult<PlanTransitionPayload> {
    use entities::enums::OrganizationKind;
    let viewer = ctx.viewer()?;
    require_role(viewer, &[Role::Admin], "planTransition")?;
    let db = ctx.db()?;
    let mut check = Check::default();
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let refused = |check: Check| {
        Ok(PlanTransitionPayload {
            user_errors: crate::graphql::mutation::user_errors(check.into_errors()),
            ..Default::default()
        })
    };
    if viewer.organization.kind != OrganizationKind::Provider {
        check.fail(
            "clientId",
            UserErrorCode::InvalidState,
            "transitions are planned by the provider",
        );
        return refused(check);
    }
    let Some(client_id) = check.id("clientId", NodeType::Organization, &input.client_id) else {
        return refused(check);
    };
    let on = input.on.0;
    let current = active_on(engagement::Entity::find(), on)
        .filter(engagement::COLUMN.client_id.eq(client_id))
        .filter(engagement::COLUMN.provider_id.eq(viewer.organization.id))
        .one(db)
        .await?;
    let model: OperatingModel = input.operating_model.into();
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
    let (Some(reason), Some(current), true) = (reason, current, check.is_ok()) else {
        return refused(check);
    };
    let mut write = crate::graphql::mutation::begin(ctx, viewer, reason, None).await?;
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

    let starts: DateTime<Utc> = on.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
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
    let mut drafted = Vec::with_capacity(entries.len());
    for entry in &entries {
        let draft = responsibility::Model {
            id: Uuid::now_v7(),
            valid_from: starts,
            status: ResponsibilityStatus::Draft,
            supersedes_id: Some(entry.id),
            created_by_id: Some(viewer.person.id),
            created_at: write.now,
            updated_at: write.now,
            ..entry.clone()
        }
        .into_active_model()
        .insert(&write.txn)
        .await?;
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
    Ok(PlanTransitionPayload {
        engagement: Some(crate::graphql::types::Engagement(next)),
        drafted: drafted.into_iter().map(Responsibility).collect(),
        user_errors: Vec::new(),
    })
}
