//! `Responsibility`: one entry of the responsibility matrix.

use async_graphql::{Context, ID, Object, Result, ResultExt};
use entities::enums::{ApprovalDecision, PartyRole};
use entities::{
    environment, escalation_step, function, organization, responsibility, responsibility_approval,
    system, team,
};
use sea_orm::prelude::DateTimeUtc;

use crate::graphql::loaders::{
    ApprovalsOfResponsibility, PartiesOfResponsibility, StepsOfResponsibility, load_by_id,
    load_group, load_many, load_required,
};
use crate::graphql::query::matrix::OwnershipDecision;
use crate::graphql::types::enums::{EscalationChannel, ResponsibilityStatus};
use crate::graphql::types::{Environment, Function, Organization, Person, System, Team};
use crate::ids::{self, NodeType};

/// One entry of the responsibility matrix.
pub struct Responsibility(pub responsibility::Model);

/// One entry of the responsibility matrix: for an environment and a function (and optionally one
/// system, which overrides the function-level default), who is responsible, accountable,
/// consulted and informed, from when to when, and whether both sides agreed.
#[Object]
impl Responsibility {
    /// Global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Responsibility, self.0.id)
    }

    /// The environment.
    async fn environment(&self, ctx: &Context<'_>) -> Result<Environment> {
        load_required::<environment::Entity>(ctx, self.0.environment_id)
            .await
            .map(Environment)
            .extend()
    }

    /// The function.
    async fn function(&self, ctx: &Context<'_>) -> Result<Function> {
        load_required::<function::Entity>(ctx, self.0.function_id)
            .await
            .map(Function)
            .extend()
    }

    /// The system, for a system-level entry; null for the function-level default.
    async fn system(&self, ctx: &Context<'_>) -> Result<Option<System>> {
        match self.0.system_id {
            Some(id) => load_by_id::<system::Entity>(ctx, id)
                .await
                .map(|found| found.map(System))
                .extend(),
            None => Ok(None),
        }
    }

    /// The team that does the work.
    async fn responsible_team(&self, ctx: &Context<'_>) -> Result<Team> {
        load_required::<team::Entity>(ctx, self.0.responsible_team_id)
            .await
            .map(Team)
            .extend()
    }

    /// The team that answers for it.
    async fn accountable_team(&self, ctx: &Context<'_>) -> Result<Option<Team>> {
        match self.0.accountable_team_id {
            Some(id) => load_by_id::<team::Entity>(ctx, id)
                .await
                .map(|found| found.map(Team))
                .extend(),
            None => Ok(None),
        }
    }

    /// Teams asked before the work is done.
    async fn consulted_teams(&self, ctx: &Context<'_>) -> Result<Vec<Team>> {
        parties(ctx, self.0.id, PartyRole::Consulted).await
    }

    /// Teams told after the work is done.
    async fn informed_teams(&self, ctx: &Context<'_>) -> Result<Vec<Team>> {
        parties(ctx, self.0.id, PartyRole::Informed).await
    }

    /// Start of validity, inclusive.
    async fn valid_from(&self) -> DateTimeUtc {
        self.0.valid_from
    }

    /// End of validity, exclusive; null while open-ended.
    async fn valid_to(&self) -> Option<DateTimeUtc> {
        self.0.valid_to
    }

    /// Where the entry stands in its lifecycle.
    async fn status(&self) -> ResponsibilityStatus {
        self.0.status.into()
    }

    /// Who to call, in order, when the responsible team does not answer.
    async fn escalation_path(&self, ctx: &Context<'_>) -> Result<Vec<EscalationStep>> {
        let steps = load_group::<StepsOfResponsibility>(ctx, self.0.id)
            .await
            .extend()?;
        Ok(steps.into_iter().map(EscalationStep).collect())
    }

    /// Who approved the entry for each side, oldest first.
    async fn approvals(&self, ctx: &Context<'_>) -> Result<Vec<ResponsibilityApproval>> {
        sign_offs(ctx, self.0.id, ApprovalDecision::Agree).await
    }

    /// Each side's approval of retiring the entry, oldest first. An agreed entry is retired
    /// once the sides that agree entries have all approved; until then it stays in force.
    async fn retire_approvals(&self, ctx: &Context<'_>) -> Result<Vec<ResponsibilityApproval>> {
        sign_offs(ctx, self.0.id, ApprovalDecision::Retire).await
    }

    /// Free-form notes.
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }
}

/// The sign-offs of entry `id` with `decision`, from one batched load of all its sign-offs.
async fn sign_offs(
    ctx: &Context<'_>,
    id: uuid::Uuid,
    decision: ApprovalDecision,
) -> Result<Vec<ResponsibilityApproval>> {
    let approvals = load_group::<ApprovalsOfResponsibility>(ctx, id)
        .await
        .extend()?;
    Ok(approvals
        .into_iter()
        .filter(|approval| approval.decision == decision)
        .map(ResponsibilityApproval)
        .collect())
}

async fn parties(ctx: &Context<'_>, id: uuid::Uuid, role: PartyRole) -> Result<Vec<Team>> {
    let parties = load_group::<PartiesOfResponsibility>(ctx, id)
        .await
        .extend()?;
    let ids: Vec<_> = parties
        .iter()
        .filter(|party| party.role == role)
        .map(|party| party.team_id)
        .collect();
    Ok(load_many::<team::Entity>(ctx, &ids)
        .await
        .extend()?
        .into_iter()
        .map(Team)
        .collect())
}

/// One step of an escalation path.
pub struct EscalationStep(pub escalation_step::Model);

/// One step of an escalation path: a team or a person, how to reach them, and how long to wait
/// before the next step.
#[Object]
impl EscalationStep {
    /// 1-based order in the path.
    async fn position(&self) -> i32 {
        self.0.position
    }

    /// The team to reach, when the step names a team.
    async fn team(&self, ctx: &Context<'_>) -> Result<Option<Team>> {
        match self.0.team_id {
            Some(id) => load_by_id::<team::Entity>(ctx, id)
                .await
                .map(|found| found.map(Team))
                .extend(),
            None => Ok(None),
        }
    }

    /// The person to reach, when the step names a person the caller may see.
    async fn person(&self, ctx: &Context<'_>) -> Result<Option<Person>> {
        Person::visible(ctx, self.0.person_id).await
    }

    /// How to reach them.
    async fn channel(&self) -> EscalationChannel {
        self.0.channel.into()
    }

    /// Minutes to wait for an answer before the next step; null on the last step.
    async fn minutes_before_next(&self) -> Option<i32> {
        self.0.minutes_before_next
    }
}

/// One side's approval of a matrix entry.
pub struct ResponsibilityApproval(pub responsibility_approval::Model);

/// One side's approval of a matrix entry: which organization, which admin, when.
#[Object]
impl ResponsibilityApproval {
    /// The side that approved.
    async fn organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        load_required::<organization::Entity>(ctx, self.0.organization_id)
            .await
            .map(Organization)
            .extend()
    }

    /// The admin who approved; null when the caller may not see them (an admin of a provider
    /// whose engagement has ended, say): the approving side stays in `organization`.
    async fn person(&self, ctx: &Context<'_>) -> Result<Option<Person>> {
        Person::visible(ctx, Some(self.0.person_id)).await
    }

    /// When.
    async fn approved_at(&self) -> DateTimeUtc {
        self.0.approved_at
    }
}

/// How the matrix routed a new ticket or alert.
pub struct Routing {
    /// The entry whose responsible team got the item; `None` when none was in force.
    pub responsibility_id: Option<uuid::Uuid>,
    /// Why, in words.
    pub reason: String,
}

impl Routing {
    /// The routing kept on a ticket or alert, if it was routed (not assigned by hand).
    #[must_use]
    pub fn kept(responsibility_id: Option<uuid::Uuid>, reason: Option<&str>) -> Option<Self> {
        reason.map(|reason| Self {
            responsibility_id,
            reason: reason.to_owned(),
        })
    }
}

/// How the responsibility matrix routed a new ticket or alert that came without an assignee: the
/// entry in force at its creation time whose responsible team got it, and why.
#[Object]
impl Routing {
    /// The entry that decided; null when no agreed entry was in force (the item stayed
    /// unassigned).
    async fn responsibility(&self, ctx: &Context<'_>) -> Result<Option<Responsibility>> {
        match self.responsibility_id {
            Some(id) => load_by_id::<responsibility::Entity>(ctx, id)
                .await
                .map(|found| found.map(Responsibility))
                .extend(),
            None => Ok(None),
        }
    }

    /// Which kind of entry decided.
    async fn decided_by(&self, ctx: &Context<'_>) -> Result<OwnershipDecision> {
        let Some(id) = self.responsibility_id else {
            return Ok(OwnershipDecision::Unowned);
        };
        let entry = load_by_id::<responsibility::Entity>(ctx, id)
            .await
            .extend()?;
        Ok(match entry.and_then(|entry| entry.system_id) {
            Some(_) => OwnershipDecision::SystemEntry,
            None => OwnershipDecision::FunctionDefault,
        })
    }

    /// Why, in words: the function, the kind of entry and the instant.
    async fn reason(&self) -> &str {
        &self.reason
    }
}
