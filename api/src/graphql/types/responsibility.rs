//! `Responsibility`: one entry of the responsibility matrix.

use async_graphql::{Context, ID, Object, Result, ResultExt};
use entities::enums::{ApprovalDecision, PartyRole};
use entities::{
    environment, escalation_step, function, organization, responsibility, responsibility_approval,
    responsibility_history, system, team,
};
use sea_orm::prelude::DateTimeUtc;

use crate::graphql::loaders::{
    ApprovalsOfResponsibility, HistoryOfResponsibility, PartiesOfResponsibility,
    SlaTargetsOfResponsibility, StepsOfResponsibility, load_by_id, load_group, load_many,
    load_required,
};
use crate::graphql::pagination::{Page, PageArgs, instant_key, page_cost, page_in_memory};
use crate::graphql::query::matrix::OwnershipDecision;
use crate::graphql::types::enums::{EscalationChannel, HistoryAction, ResponsibilityStatus};
use crate::graphql::types::{Environment, Function, Organization, Person, SlaTarget, System, Team};
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

    /// Its service level targets, one per priority at most.
    async fn sla_targets(&self, ctx: &Context<'_>) -> Result<Vec<SlaTarget>> {
        let targets = load_group::<SlaTargetsOfResponsibility>(ctx, self.0.id)
            .await
            .extend()?;
        Ok(targets.into_iter().map(SlaTarget).collect())
    }

    /// When the entry was recorded (drafted): the record's clock, apart from its validity.
    async fn recorded_at(&self) -> DateTimeUtc {
        self.0.created_at
    }

    /// When the last side whose approval was required approved it; null until agreed.
    async fn agreed_at(&self) -> Option<DateTimeUtc> {
        self.0.agreed_at
    }

    /// Whether the entry was agreed after its validity started (`validFrom` before
    /// `agreedAt`): before `agreedAt`, the record did not say it was in force.
    async fn retroactive(&self) -> bool {
        crate::matrix::retroactive(&self.0)
    }

    /// The entry this one supersedes (a change proposal's or a transition draft's agreed
    /// entry); null for a first entry.
    async fn supersedes(&self, ctx: &Context<'_>) -> Result<Option<Responsibility>> {
        match self.0.supersedes_id {
            Some(id) => load_by_id::<responsibility::Entity>(ctx, id)
                .await
                .map(|found| found.map(Responsibility))
                .extend(),
            None => Ok(None),
        }
    }

    /// Field by field, how this entry differs from the one it supersedes (empty for a first
    /// entry): what signing it changes.
    async fn changes(&self, ctx: &Context<'_>) -> Result<Vec<ResponsibilityFieldChange>> {
        let Some(old_id) = self.0.supersedes_id else {
            return Ok(Vec::new());
        };
        let Some(old) = load_by_id::<responsibility::Entity>(ctx, old_id)
            .await
            .extend()?
        else {
            return Ok(Vec::new());
        };
        let mut parties = load_group::<PartiesOfResponsibility>(ctx, self.0.id)
            .await
            .extend()?;
        parties.extend(
            load_group::<PartiesOfResponsibility>(ctx, old.id)
                .await
                .extend()?,
        );
        let mut steps = load_group::<StepsOfResponsibility>(ctx, self.0.id)
            .await
            .extend()?;
        steps.extend(
            load_group::<StepsOfResponsibility>(ctx, old.id)
                .await
                .extend()?,
        );
        let mut targets = load_group::<SlaTargetsOfResponsibility>(ctx, self.0.id)
            .await
            .extend()?;
        targets.extend(
            load_group::<SlaTargetsOfResponsibility>(ctx, old.id)
                .await
                .extend()?,
        );
        let before = crate::matrix::Terms::of(&old, &parties, &steps, &targets);
        let after = crate::matrix::Terms::of(&self.0, &parties, &steps, &targets);
        Ok(crate::matrix::difference(&before, &after)
            .into_iter()
            .map(ResponsibilityFieldChange::from)
            .collect())
    }

    /// Every step of the entry's lifecycle, oldest first: who (side and admin), when, why,
    /// what changed, and the status and validity after it. Append-only: later steps never
    /// rewrite earlier ones.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<ResponsibilityHistoryEntry>> {
        // Batched: a page of entries reads all their histories in one statement.
        let rows = load_group::<HistoryOfResponsibility>(ctx, self.0.id)
            .await
            .extend()?;
        let items = rows
            .into_iter()
            .map(|row| {
                (
                    (instant_key(row.recorded_at), row.id),
                    ResponsibilityHistoryEntry(row),
                )
            })
            .collect();
        page_in_memory(
            "recorded_at",
            items,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .extend()
    }

    /// Who approved the entry for each side, oldest first. Approvals of a proposal that was
    /// later withdrawn or rejected no longer count and are not listed (the history keeps them).
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
        .filter(|approval| approval.decision == decision && approval.revoked_at.is_none())
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

/// One field that differs between a matrix entry and the one it supersedes.
#[derive(async_graphql::SimpleObject)]
pub struct ResponsibilityFieldChange {
    /// The field, as the input types name it (`responsibleTeamId`, `validTo`, ...).
    pub field: String,
    /// The value before, in words (global ids, RFC 3339 instants); null when empty.
    pub before: Option<String>,
    /// The value after; null when empty.
    pub after: Option<String>,
}

impl From<crate::matrix::FieldChange> for ResponsibilityFieldChange {
    fn from(change: crate::matrix::FieldChange) -> Self {
        Self {
            field: change.field.to_owned(),
            before: change.before,
            after: change.after,
        }
    }
}

/// One step in the history of a matrix entry.
pub struct ResponsibilityHistoryEntry(pub responsibility_history::Model);

/// One step in the history of a matrix entry: what happened, when it was recorded, which side
/// and admin took it, why, what changed, and the entry's status and validity after it.
#[Object]
impl ResponsibilityHistoryEntry {
    /// What happened.
    async fn action(&self) -> HistoryAction {
        self.0.action.into()
    }

    /// When it was recorded.
    async fn recorded_at(&self) -> DateTimeUtc {
        self.0.recorded_at
    }

    /// The side that took the step; null when not known (history reconstructed for entries
    /// older than the history itself).
    async fn organization(&self, ctx: &Context<'_>) -> Result<Option<Organization>> {
        match self.0.organization_id {
            Some(id) => load_by_id::<organization::Entity>(ctx, id)
                .await
                .map(|found| found.map(Organization))
                .extend(),
            None => Ok(None),
        }
    }

    /// The admin who took it; null when unknown or not visible to the caller.
    async fn person(&self, ctx: &Context<'_>) -> Result<Option<Person>> {
        Person::visible(ctx, self.0.person_id).await
    }

    /// Why, as given (a rejection's reason).
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }

    /// For an edit or a change proposal, the fields that changed.
    async fn changes(&self) -> Vec<ResponsibilityFieldChange> {
        let Some(serde_json::Value::Array(items)) = &self.0.changes else {
            return Vec::new();
        };
        let text = |item: &serde_json::Value, key: &str| {
            item.get(key)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        items
            .iter()
            .map(|item| ResponsibilityFieldChange {
                field: text(item, "field").unwrap_or_default(),
                before: text(item, "before"),
                after: text(item, "after"),
            })
            .collect()
    }

    /// The entry's status after the step.
    async fn status(&self) -> ResponsibilityStatus {
        self.0.status_after.into()
    }

    /// The entry's start of validity after the step.
    async fn valid_from(&self) -> DateTimeUtc {
        self.0.valid_from_after
    }

    /// The entry's end of validity after the step.
    async fn valid_to(&self) -> Option<DateTimeUtc> {
        self.0.valid_to_after
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
