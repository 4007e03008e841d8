//! The responsibility matrix's mutations: `createResponsibility`, `updateResponsibility`,
//! `proposeResponsibility`, `withdrawResponsibility`, `rejectResponsibility`,
//! `approveResponsibility`, `proposeResponsibilityChange`, `retireResponsibility` and
//! `planTransition`, the GraphQL front door of [`crate::services::matrix`], which holds the
//! lifecycle, its amendments and its sign-off rules.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, ResultExt};
use sea_orm::prelude::*;

use crate::auth::Viewer;
use crate::error::ApiResult;
use crate::events::EventBus;
use crate::graphql::context::ContextExt;
use crate::graphql::mutation::{Check, CheckIds, CheckRequired, payload};
use crate::graphql::types::Responsibility;
use crate::graphql::types::enums::{EscalationChannel, Priority, SlaCalendar};
use crate::ids::NodeType;
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
    /// Minutes to wait before the next step: required on every step but the last, omitted there.
    pub minutes_before_next: Option<i32>,
}

/// A service level target of a matrix entry for one priority.
#[derive(InputObject)]
pub struct SlaTargetInput {
    /// The priority (tickets) or severity (alerts) it applies to; at most one target each.
    pub priority: Priority,
    /// Minutes to the first response (a ticket responded to, an alert acknowledged), 1 to
    /// 525600.
    pub response_minutes: i32,
    /// Minutes to resolution, at least the response minutes; omit for no resolution target.
    pub resolution_minutes: Option<i32>,
    /// The clock the minutes count on: the environment's business hours, or around the clock.
    pub calendar: SlaCalendar,
}

impl SlaTargetInput {
    fn target(&self) -> crate::matrix::Target {
        crate::matrix::Target {
            priority: self.priority.into(),
            response_minutes: self.response_minutes,
            resolution_minutes: self.resolution_minutes,
            calendar: self.calendar.into(),
        }
    }
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
    /// Response and resolution targets, at most one per priority: items routed by the entry
    /// are due by them.
    #[graphql(default)]
    pub sla_targets: Vec<SlaTargetInput>,
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

/// Changes to a matrix entry's terms: an omitted field keeps its value, `null` clears a field
/// that may be empty; lists replace the whole list.
#[derive(InputObject, Default)]
pub struct ResponsibilityChangesInput {
    /// The team that does the work (cannot be cleared).
    pub responsible_team_id: MaybeUndefined<ID>,
    /// The team that answers for it.
    pub accountable_team_id: MaybeUndefined<ID>,
    /// Teams asked before the work is done; `null` or `[]` leaves none.
    pub consulted_team_ids: MaybeUndefined<Vec<ID>>,
    /// Teams told after the work is done; `null` or `[]` leaves none.
    pub informed_team_ids: MaybeUndefined<Vec<ID>>,
    /// Who to call, in order; `null` or `[]` leaves none.
    pub escalation_path: MaybeUndefined<Vec<EscalationStepInput>>,
    /// Response and resolution targets, at most one per priority (replaces them all); `null` or
    /// `[]` leaves none.
    pub sla_targets: MaybeUndefined<Vec<SlaTargetInput>>,
    /// Start of validity (inclusive; cannot be cleared). For a change of an agreed entry,
    /// omitted means "from its agreement".
    pub valid_from: MaybeUndefined<DateTimeUtc>,
    /// End of validity (exclusive); `null` makes it open-ended.
    pub valid_to: MaybeUndefined<DateTimeUtc>,
    /// Free-form notes.
    pub notes: MaybeUndefined<String>,
}

/// A draft to edit.
#[derive(InputObject)]
pub struct UpdateResponsibilityInput {
    /// The draft.
    pub id: ID,
    /// What changes.
    pub changes: ResponsibilityChangesInput,
    /// Why (goes to the change log and the entry's history).
    pub reason: Option<String>,
}

/// A change of an agreed entry to propose.
#[derive(InputObject)]
pub struct ProposeResponsibilityChangeInput {
    /// The agreed entry.
    pub id: ID,
    /// What changes; the rest is copied from the entry.
    pub changes: ResponsibilityChangesInput,
    /// Why (goes to the change log and the entry's history).
    pub reason: Option<String>,
}

/// A proposal to reject.
#[derive(InputObject)]
pub struct RejectResponsibilityInput {
    /// The proposed entry.
    pub id: ID,
    /// Why it is rejected (required; the proposing side reads it in the entry's history).
    pub reason: String,
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

    /// Edits a draft (admins), with the same checks as `createResponsibility`.
    async fn update_responsibility(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: UpdateResponsibilityInput,
    ) -> Result<ResponsibilityPayload> {
        amend(ctx, input.id, input.changes, input.reason, false)
            .await
            .extend()
    }

    /// Submits a draft for approval.
    async fn propose_responsibility(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: ResponsibilityActionInput,
    ) -> Result<ResponsibilityPayload> {
        transition(ctx, input, Action::Propose).await.extend()
    }

    /// Takes a proposal back to draft (an admin of either side). Its approvals stop counting:
    /// once proposed again, every side signs again.
    async fn withdraw_responsibility(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: ResponsibilityActionInput,
    ) -> Result<ResponsibilityPayload> {
        transition(ctx, input, Action::Withdraw).await.extend()
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

    /// Rejects a proposal with a reason (an admin of a side that must sign it and did not
    /// propose it): it goes back to draft, its approvals stop counting, and the rejection stays
    /// in its history.
    async fn reject_responsibility(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: RejectResponsibilityInput,
    ) -> Result<ResponsibilityPayload> {
        let input = ResponsibilityActionInput {
            id: input.id,
            reason: Some(input.reason),
        };
        transition(ctx, input, Action::Reject).await.extend()
    }

    /// Proposes a change of an agreed entry in one step (admins): a successor with the changes
    /// applied, proposed, that needs the same approvals; once agreed it takes over and the entry
    /// ends where it starts. Without a new `validFrom` it starts when it is agreed.
    async fn propose_responsibility_change(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")]
        input: ProposeResponsibilityChangeInput,
    ) -> Result<ResponsibilityPayload> {
        amend(ctx, input.id, input.changes, input.reason, true)
            .await
            .extend()
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

/// A list an update replaces: omitted keeps it, an explicit `null` clears it as `[]` does.
fn listed<T>(value: MaybeUndefined<Vec<T>>) -> Option<Vec<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(Vec::new()),
        MaybeUndefined::Value(items) => Some(items),
    }
}

/// Decodes `changes` into the service's amendment, recording bad ids and `null`s in `check`.
fn amendment(
    check: &mut Check,
    changes: ResponsibilityChangesInput,
) -> services::matrix::Amendment {
    let team = |field: &str, id: &ID, check: &mut Check| check.id(field, NodeType::Team, id);
    let responsible_team_id = check
        .required("changes.responsibleTeamId", changes.responsible_team_id)
        .and_then(|id| team("changes.responsibleTeamId", &id, check));
    let accountable_team_id = match changes.accountable_team_id {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(id) => Some(team("changes.accountableTeamId", &id, check)),
    };
    let mut teams = |field: &str, ids: Option<Vec<ID>>| {
        ids.map(|ids| {
            ids.iter()
                .enumerate()
                .filter_map(|(index, id)| team(&format!("changes.{field}.{index}"), id, check))
                .collect::<Vec<_>>()
        })
    };
    let consulted_team_ids = teams("consultedTeamIds", listed(changes.consulted_team_ids));
    let informed_team_ids = teams("informedTeamIds", listed(changes.informed_team_ids));
    let escalation_path = listed(changes.escalation_path)
        .map(|steps| escalation_steps(check, "changes.escalationPath", &steps));
    services::matrix::Amendment {
        responsible_team_id,
        accountable_team_id,
        consulted_team_ids,
        informed_team_ids,
        escalation_path,
        sla_targets: listed(changes.sla_targets)
            .map(|targets| targets.iter().map(SlaTargetInput::target).collect()),
        valid_from: check.required("changes.validFrom", changes.valid_from),
        valid_to: match changes.valid_to {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(to) => Some(Some(to)),
        },
        notes: match changes.notes {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(notes) => Some(Some(notes)),
        },
    }
}

/// Decodes an escalation path's ids into `check`.
fn escalation_steps(
    check: &mut Check,
    prefix: &str,
    steps: &[EscalationStepInput],
) -> Vec<services::matrix::NewStep> {
    steps
        .iter()
        .enumerate()
        .map(|(index, step)| services::matrix::NewStep {
            team_id: step
                .team_id
                .as_ref()
                .and_then(|id| check.id(&format!("{prefix}.{index}.teamId"), NodeType::Team, id)),
            person_id: step.person_id.as_ref().and_then(|id| {
                check.id(&format!("{prefix}.{index}.personId"), NodeType::Person, id)
            }),
            channel: step.channel.into(),
            minutes_before_next: step.minutes_before_next,
        })
        .collect()
}

/// `updateResponsibility` (`change == false`) and `proposeResponsibilityChange`.
async fn amend(
    ctx: &Context<'_>,
    id: ID,
    changes: ResponsibilityChangesInput,
    reason: Option<String>,
    change: bool,
) -> ApiResult<ResponsibilityPayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let id = check.id("id", NodeType::Responsibility, &id);
    let amendment = amendment(&mut check, changes);
    let db = ctx.db()?;
    let events = ctx.data_opt::<EventBus>();
    let outcome = if change {
        services::matrix::propose_change(db, events, viewer, id, amendment, reason, check).await
    } else {
        services::matrix::update_responsibility(db, events, viewer, id, amendment, reason, check)
            .await
    };
    ResponsibilityPayload::from_outcome(outcome.map(Responsibility))
}

async fn create(
    ctx: &Context<'_>,
    input: CreateResponsibilityInput,
) -> ApiResult<ResponsibilityPayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let environment_id = check.id(
        "environmentId",
        NodeType::Environment,
        &input.environment_id,
    );
    let system_id = input
        .system_id
        .as_ref()
        .and_then(|id| check.id("systemId", NodeType::System, id));
    let team = |field: &str, id: &ID, check: &mut Check| check.id(field, NodeType::Team, id);
    let responsible_team_id = team("responsibleTeamId", &input.responsible_team_id, &mut check);
    let accountable_team_id = input
        .accountable_team_id
        .as_ref()
        .and_then(|id| team("accountableTeamId", id, &mut check));
    let consulted_team_ids = input
        .consulted_team_ids
        .iter()
        .enumerate()
        .filter_map(|(index, id)| team(&format!("consultedTeamIds.{index}"), id, &mut check))
        .collect();
    let informed_team_ids = input
        .informed_team_ids
        .iter()
        .enumerate()
        .filter_map(|(index, id)| team(&format!("informedTeamIds.{index}"), id, &mut check))
        .collect();
    let escalation_path = escalation_steps(&mut check, "escalationPath", &input.escalation_path);
    let entry = services::matrix::NewResponsibility {
        environment_id,
        function: input.function,
        system_id,
        responsible_team_id,
        accountable_team_id,
        consulted_team_ids,
        informed_team_ids,
        escalation_path,
        sla_targets: input
            .sla_targets
            .iter()
            .map(SlaTargetInput::target)
            .collect(),
        valid_from: input.valid_from,
        valid_to: input.valid_to,
        notes: input.notes,
        reason: input.reason,
    };
    let outcome = services::matrix::create_responsibility(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        entry,
        check,
    )
    .await;
    ResponsibilityPayload::from_outcome(outcome.map(Responsibility))
}

async fn transition(
    ctx: &Context<'_>,
    input: ResponsibilityActionInput,
    action: Action,
) -> ApiResult<ResponsibilityPayload> {
    let viewer: &Viewer = ctx.viewer()?;
    let mut check = Check::default();
    let id = check.id("id", NodeType::Responsibility, &input.id);
    let outcome = services::matrix::transition(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        id,
        action,
        input.reason,
        check,
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
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let plan = services::matrix::TransitionPlan {
        client_id: check.id("clientId", NodeType::Organization, &input.client_id),
        operating_model: input.operating_model.into(),
        on: input.on.0,
        reason: input.reason,
    };
    let outcome = services::matrix::plan_transition(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        plan,
        check,
    )
    .await;
    match outcome {
        Ok((engagement, drafted)) => Ok(PlanTransitionPayload {
            engagement: Some(crate::graphql::types::Engagement(engagement)),
            drafted: drafted.into_iter().map(Responsibility).collect(),
            user_errors: Vec::new(),
        }),
        Err(services::ServiceError::Refused(errors)) => Ok(PlanTransitionPayload {
            user_errors: crate::graphql::mutation::user_errors(errors),
            ..Default::default()
        }),
        Err(other) => Err(other.into()),
    }
}
