//! The responsibility matrix as a question: which entries are in force at an instant, and which
//! one decides who owns a function (on a system) in an environment.
//!
//! The rule, used everywhere the answer is needed (GraphQL, the export, routing of new tickets
//! and alerts): only entries that were agreed count ([`IN_FORCE`]), an entry is in force during
//! `[valid_from, valid_to)`, and an entry for the system overrides the function-level default.
//!
//! The matrix has two clocks. `at` is the instant the matrix is in force at; `as_of` is the
//! instant the record is read as it stood ([`Clock`]). Every lifecycle step is a row of
//! `responsibility_history` with the status and validity the entry had after it, so an entry
//! as recorded at K is its latest history row recorded at or before K ([`as_recorded`]); an entry
//! with no row by then did not exist yet. Terms (teams, escalation path, notes) change only while
//! an entry is a draft, so the status and validity are all an as-of read has to rewind. Reads
//! without `as_of` take the current rows directly ([`in_force`]): every step writes its history
//! row in the same transaction as the entry, so both paths agree when `as_of` is now.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entities::enums::ResponsibilityStatus;
use entities::{responsibility, responsibility_history};
use sea_orm::prelude::*;
use sea_orm::{Condition, ConnectionTrait, QueryFilter, QueryOrder};

/// Statuses whose entries owned something during their validity: an agreed entry, and a retired
/// one before it was retired (retiring sets its `valid_to` to that instant, so every read at an
/// earlier instant answers as before).
pub const IN_FORCE: [ResponsibilityStatus; 2] =
    [ResponsibilityStatus::Agreed, ResponsibilityStatus::Retired];

/// Why an entry answers "who owns this".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// An entry for this very system.
    SystemEntry,
    /// The function-level default of the environment.
    FunctionDefault,
}

/// The agreed entries of `environment_ids` in force at `at`: function-level defaults, and
/// system-level entries (for `system_ids` only, when given).
///
/// # Errors
/// Database errors.
pub async fn in_force(
    db: &impl ConnectionTrait,
    environment_ids: impl IntoIterator<Item = Uuid>,
    at: DateTime<Utc>,
    system_ids: Option<Vec<Uuid>>,
) -> Result<Vec<responsibility::Model>, DbErr> {
    let mut systems = Condition::any().add(responsibility::COLUMN.system_id.is_null());
    systems = match system_ids {
        Some(ids) => systems.add(responsibility::COLUMN.system_id.is_in(ids)),
        None => systems.add(responsibility::COLUMN.system_id.is_not_null()),
    };
    responsibility::Entity::find()
        .filter(responsibility::COLUMN.environment_id.is_in(environment_ids))
        // A retired entry answers for the instants before its retirement (its `valid_to`).
        .filter(responsibility::COLUMN.status.is_in(IN_FORCE))
        .filter(responsibility::COLUMN.valid_from.lte(at))
        .filter(
            Condition::any()
                .add(responsibility::COLUMN.valid_to.is_null())
                .add(responsibility::COLUMN.valid_to.gt(at)),
        )
        .filter(systems)
        .order_by_asc(responsibility::Column::FunctionId)
        .order_by_asc(responsibility::Column::Id)
        .all(db)
        .await
}

/// The two clocks of a matrix read: in force at `at`, as the record stood at `as_of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// The instant the matrix is in force at.
    pub at: DateTime<Utc>,
    /// The instant the record is read as it stood; `None` for the current record.
    pub as_of: Option<DateTime<Utc>>,
}

impl Clock {
    /// The current record, in force at `at`.
    #[must_use]
    pub fn at(at: DateTime<Utc>) -> Self {
        Self { at, as_of: None }
    }
}

/// How far past the server's clock an `asOf` may lie: none, since a step recorded in the next
/// few seconds would change the answer to a question asked "as of" them.
pub const AS_OF_LEEWAY_SECONDS: i64 = 0;

/// Checks a read's `as_of` against `now`: the record cannot be read as it will stand, so an
/// instant later than now (beyond [`AS_OF_LEEWAY_SECONDS`]) is refused rather than clamped: a
/// clamped answer could change later, and an `(at, asOf)` question has one answer forever.
///
/// # Errors
/// The message to refuse the input with.
pub fn check_as_of(
    as_of: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, String> {
    match as_of {
        Some(as_of) if as_of > now + chrono::Duration::seconds(AS_OF_LEEWAY_SECONDS) => Err(
            "`asOf` is in the future; the record can only be read as it stood until now".to_owned(),
        ),
        other => Ok(other),
    }
}

/// Whether `entry` (as recorded) owned anything at `at`: an agreed (or retired) entry whose
/// validity covers the instant.
#[must_use]
pub fn owns_at(entry: &responsibility::Model, at: DateTime<Utc>) -> bool {
    IN_FORCE.contains(&entry.status)
        && entry.valid_from <= at
        && entry.valid_to.is_none_or(|to| to > at)
}

/// Whether an entry was agreed after the start of its validity: it was not on record as in
/// force for the instants between the two.
#[must_use]
pub fn retroactive(entry: &responsibility::Model) -> bool {
    entry
        .agreed_at
        .is_some_and(|agreed_at| entry.valid_from < agreed_at)
}

/// `entries` as the record stood at `as_of`: each with the status and validity of its latest
/// history row recorded at or before then (`history` may hold any rows of their environments);
/// entries with no such row are left out. `agreed_at` is kept only where the entry was agreed
/// by then.
#[must_use]
pub fn as_recorded(
    entries: Vec<responsibility::Model>,
    history: &[responsibility_history::Model],
    as_of: DateTime<Utc>,
) -> Vec<responsibility::Model> {
    let mut latest: HashMap<Uuid, &responsibility_history::Model> = HashMap::new();
    for row in history.iter().filter(|row| row.recorded_at <= as_of) {
        let newer = latest
            .get(&row.responsibility_id)
            .is_none_or(|seen| (seen.recorded_at, seen.id) < (row.recorded_at, row.id));
        if newer {
            latest.insert(row.responsibility_id, row);
        }
    }
    entries
        .into_iter()
        .filter_map(|mut entry| {
            let row = latest.get(&entry.id)?;
            entry.status = row.status_after;
            entry.valid_from = row.valid_from_after;
            entry.valid_to = row.valid_to_after;
            entry.agreed_at = entry
                .agreed_at
                .filter(|agreed_at| IN_FORCE.contains(&row.status_after) && *agreed_at <= as_of);
            Some(entry)
        })
        .collect()
}

/// Every entry of `environment_ids` (for `system_ids` only, and function-level defaults, when
/// given) as recorded at `as_of`, or as it is now when `as_of` is `None`, in id order.
///
/// # Errors
/// Database errors.
pub async fn recorded(
    db: &impl ConnectionTrait,
    environment_ids: impl IntoIterator<Item = Uuid>,
    as_of: Option<DateTime<Utc>>,
    system_ids: Option<Vec<Uuid>>,
) -> Result<Vec<responsibility::Model>, DbErr> {
    let environment_ids: Vec<Uuid> = environment_ids.into_iter().collect();
    let mut select = responsibility::Entity::find().filter(
        responsibility::COLUMN
            .environment_id
            .is_in(environment_ids.clone()),
    );
    if let Some(ids) = system_ids {
        select = select.filter(
            Condition::any()
                .add(responsibility::COLUMN.system_id.is_null())
                .add(responsibility::COLUMN.system_id.is_in(ids)),
        );
    }
    let entries = select
        .order_by_asc(responsibility::Column::Id)
        .all(db)
        .await?;
    let Some(as_of) = as_of else {
        return Ok(entries);
    };
    let history = responsibility_history::Entity::find()
        .filter(
            responsibility_history::COLUMN
                .environment_id
                .is_in(environment_ids),
        )
        .filter(responsibility_history::COLUMN.recorded_at.lte(as_of))
        .all(db)
        .await?;
    Ok(as_recorded(entries, &history, as_of))
}

/// [`in_force`] on both clocks: the entries of `environment_ids` that the record as it stood at
/// `clock.as_of` says were in force at `clock.at`. Without `as_of`, exactly [`in_force`].
///
/// # Errors
/// Database errors.
pub async fn in_force_as_of(
    db: &impl ConnectionTrait,
    environment_ids: impl IntoIterator<Item = Uuid>,
    clock: Clock,
    system_ids: Option<Vec<Uuid>>,
) -> Result<Vec<responsibility::Model>, DbErr> {
    if clock.as_of.is_none() {
        return in_force(db, environment_ids, clock.at, system_ids).await;
    }
    let mut entries: Vec<responsibility::Model> =
        recorded(db, environment_ids, clock.as_of, system_ids)
            .await?
            .into_iter()
            .filter(|entry| owns_at(entry, clock.at))
            .collect();
    // The order `in_force` answers in.
    entries.sort_by_key(|entry| (entry.function_id, entry.id));
    Ok(entries)
}

/// One step of an escalation path, as [`Terms`] compare it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The team to reach.
    pub team_id: Option<Uuid>,
    /// The person to reach.
    pub person_id: Option<Uuid>,
    /// How.
    pub channel: entities::enums::EscalationChannel,
    /// Minutes before the next step.
    pub minutes_before_next: Option<i32>,
}

/// An SLA target of an entry, as [`Terms`] compare it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The priority it applies to.
    pub priority: entities::enums::Priority,
    /// Minutes to the first response.
    pub response_minutes: i32,
    /// Minutes to resolution.
    pub resolution_minutes: Option<i32>,
    /// The clock the minutes count on.
    pub calendar: entities::enums::SlaCalendar,
}

/// What an entry says, apart from what it is about (environment, function, system) and where it
/// stands: what editing a draft and proposing a change may change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    /// The team that does the work.
    pub responsible_team_id: Uuid,
    /// The team that answers for it.
    pub accountable_team_id: Option<Uuid>,
    /// Consulted teams, in id order.
    pub consulted_team_ids: Vec<Uuid>,
    /// Informed teams, in id order.
    pub informed_team_ids: Vec<Uuid>,
    /// Who to call, in order.
    pub escalation_path: Vec<Step>,
    /// Service level targets, in priority order.
    pub sla_targets: Vec<Target>,
    /// Start of validity.
    pub valid_from: DateTime<Utc>,
    /// End of validity.
    pub valid_to: Option<DateTime<Utc>>,
    /// Free-form notes.
    pub notes: Option<String>,
}

impl Terms {
    /// The terms of `entry` with its consulted and informed `parties`, escalation `steps` and
    /// SLA `targets` (rows of other entries are ignored).
    #[must_use]
    pub fn of(
        entry: &responsibility::Model,
        parties: &[entities::responsibility_party::Model],
        steps: &[entities::escalation_step::Model],
        targets: &[entities::sla_target::Model],
    ) -> Self {
        use entities::enums::PartyRole;
        let teams = |role: PartyRole| {
            let mut ids: Vec<Uuid> = parties
                .iter()
                .filter(|party| party.responsibility_id == entry.id && party.role == role)
                .map(|party| party.team_id)
                .collect();
            ids.sort_unstable();
            ids
        };
        let mut own_steps: Vec<&entities::escalation_step::Model> = steps
            .iter()
            .filter(|step| step.responsibility_id == entry.id)
            .collect();
        own_steps.sort_by_key(|step| step.position);
        Self {
            responsible_team_id: entry.responsible_team_id,
            accountable_team_id: entry.accountable_team_id,
            consulted_team_ids: teams(PartyRole::Consulted),
            informed_team_ids: teams(PartyRole::Informed),
            escalation_path: own_steps
                .into_iter()
                .map(|step| Step {
                    team_id: step.team_id,
                    person_id: step.person_id,
                    channel: step.channel,
                    minutes_before_next: step.minutes_before_next,
                })
                .collect(),
            sla_targets: sorted_targets(
                targets
                    .iter()
                    .filter(|target| target.responsibility_id == entry.id)
                    .map(|target| Target {
                        priority: target.priority,
                        response_minutes: target.response_minutes,
                        resolution_minutes: target.resolution_minutes,
                        calendar: target.calendar,
                    })
                    .collect(),
            ),
            valid_from: entry.valid_from,
            valid_to: entry.valid_to,
            notes: entry.notes.clone(),
        }
    }
}

/// `targets` in priority order (most urgent first), the order [`Terms`] compare them in.
#[must_use]
pub fn sorted_targets(mut targets: Vec<Target>) -> Vec<Target> {
    targets.sort_by_key(|target| target.priority);
    targets
}

/// One field whose value differs between two entries' [`Terms`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    /// The field, as the GraphQL input names it (`responsibleTeamId`, `validTo`, ...).
    pub field: &'static str,
    /// The value before, in words (global ids, RFC 3339 instants); `None` when empty.
    pub before: Option<String>,
    /// The value after; `None` when empty.
    pub after: Option<String>,
}

impl FieldChange {
    /// The change as JSON: `{"field", "before", "after"}`.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "field": self.field, "before": self.before, "after": self.after })
    }
}

/// The fields whose values differ from `before` to `after`, in input order.
#[must_use]
pub fn difference(before: &Terms, after: &Terms) -> Vec<FieldChange> {
    use crate::ids::{NodeType, encode};
    let team = |id: Uuid| encode(NodeType::Team, id).0;
    let teams = |ids: &[Uuid]| {
        (!ids.is_empty()).then(|| {
            ids.iter()
                .map(|id| team(*id))
                .collect::<Vec<_>>()
                .join(", ")
        })
    };
    let instant = |at: DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    let path = |steps: &[Step]| {
        (!steps.is_empty()).then(|| {
            steps
                .iter()
                .map(|step| {
                    let who = match (step.team_id, step.person_id) {
                        (Some(id), _) => team(id),
                        (None, Some(id)) => encode(NodeType::Person, id).0,
                        (None, None) => String::new(),
                    };
                    let channel = sea_orm::ActiveEnum::to_value(&step.channel);
                    match step.minutes_before_next {
                        Some(minutes) => format!("{who} by {channel}, {minutes} min"),
                        None => format!("{who} by {channel}"),
                    }
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
    };
    let targets = |targets: &[Target]| {
        (!targets.is_empty()).then(|| {
            targets
                .iter()
                .map(|target| {
                    let priority = sea_orm::ActiveEnum::to_value(&target.priority);
                    let calendar = sea_orm::ActiveEnum::to_value(&target.calendar);
                    match target.resolution_minutes {
                        Some(minutes) => format!(
                            "{priority}: respond {} min, resolve {minutes} min, {calendar}",
                            target.response_minutes
                        ),
                        None => format!(
                            "{priority}: respond {} min, {calendar}",
                            target.response_minutes
                        ),
                    }
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
    };
    let fields = [
        (
            "responsibleTeamId",
            Some(team(before.responsible_team_id)),
            Some(team(after.responsible_team_id)),
        ),
        (
            "accountableTeamId",
            before.accountable_team_id.map(team),
            after.accountable_team_id.map(team),
        ),
        (
            "consultedTeamIds",
            teams(&before.consulted_team_ids),
            teams(&after.consulted_team_ids),
        ),
        (
            "informedTeamIds",
            teams(&before.informed_team_ids),
            teams(&after.informed_team_ids),
        ),
        (
            "escalationPath",
            path(&before.escalation_path),
            path(&after.escalation_path),
        ),
        (
            "slaTargets",
            targets(&before.sla_targets),
            targets(&after.sla_targets),
        ),
        (
            "validFrom",
            Some(instant(before.valid_from)),
            Some(instant(after.valid_from)),
        ),
        (
            "validTo",
            before.valid_to.map(instant),
            after.valid_to.map(instant),
        ),
        ("notes", before.notes.clone(), after.notes.clone()),
    ];
    fields
        .into_iter()
        .filter(|(_, before, after)| before != after)
        .map(|(field, before, after)| FieldChange {
            field,
            before,
            after,
        })
        .collect()
}

/// The functions an organization's matrix covers: the standard catalog and its own, by key.
///
/// # Errors
/// Database errors.
pub async fn functions_for(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
) -> Result<Vec<entities::function::Model>, DbErr> {
    use entities::function;
    function::Entity::find()
        .filter(
            Condition::any()
                .add(function::COLUMN.organization_id.is_null())
                .add(function::COLUMN.organization_id.eq(organization_id)),
        )
        .order_by_asc(function::Column::Key)
        .all(db)
        .await
}

/// The kinds of systems `function` applies to system by system; empty for a function of the
/// environment as a whole. A stored value that is not a list of kinds reads as empty.
pub fn applies_to(function: &entities::function::Model) -> Vec<entities::enums::SystemKind> {
    serde_json::from_value(function.applies_to.clone()).unwrap_or_default()
}

/// The entry among `entries` that decides who owns `function_id` in `environment_id`, on
/// `system_id` when given, and why.
pub fn decide<'a>(
    entries: impl IntoIterator<Item = &'a responsibility::Model>,
    environment_id: Uuid,
    function_id: Uuid,
    system_id: Option<Uuid>,
) -> Option<(&'a responsibility::Model, Decision)> {
    let candidates = entries
        .into_iter()
        .filter(|entry| entry.environment_id == environment_id && entry.function_id == function_id);
    let mut default = None;
    for entry in candidates {
        match entry.system_id {
            Some(system) if Some(system) == system_id => {
                return Some((entry, Decision::SystemEntry));
            }
            None => default = default.or(Some(entry)),
            Some(_) => {}
        }
    }
    default.map(|entry| (entry, Decision::FunctionDefault))
}

/// The function a ticket falls under when nobody said: the first line of support.
pub const DEFAULT_TICKET_FUNCTION: &str = "service_desk";
/// The function an RMM alert falls under when nobody said: watching the endpoints.
pub const DEFAULT_ALERT_FUNCTION: &str = "endpoint_management";

/// Where routing sent a new ticket or alert: the responsible team of the entry that decided, or
/// nobody (with the reason, so an unrouted item explains itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The entry that decided; `None` when no agreed entry was in force.
    pub responsibility_id: Option<Uuid>,
    /// Its responsible team.
    pub team_id: Option<Uuid>,
    /// Why, in words.
    pub reason: String,
    /// What the entry's SLA target for the item's priority makes due, and when the escalation
    /// engine first looks at the item (see [`Router::route`]).
    pub plan: Plan,
}

/// What routing decides about an item's service level and its escalation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Plan {
    /// Due times from the entry's target for the priority; none without a target.
    pub due: crate::sla::DueTimes,
    /// When the engine first escalates: at routing when the entry has an escalation path (its
    /// first step is notified then); at the response due time when the path is empty and a
    /// target exists (the empty-path rule: the accountable team is told once, on breach);
    /// otherwise never.
    pub next_escalation_at: Option<DateTime<Utc>>,
}

/// Routes new tickets and alerts of some environments by their matrices. Loads every agreed
/// entry of those environments once, so a bulk upsert of a thousand records routes each at its
/// own creation time without a query per record.
pub struct Router {
    entries: Vec<responsibility::Model>,
    functions: Vec<entities::function::Model>,
    /// SLA targets of the entries.
    targets: Vec<entities::sla_target::Model>,
    /// Entries with a non-empty escalation path.
    with_path: std::collections::HashSet<Uuid>,
    /// Business hours by environment.
    hours: std::collections::HashMap<Uuid, crate::sla::BusinessHours>,
}

impl Router {
    /// Loads the agreed entries of `environment_ids` (all validity periods) and the function
    /// catalog of their organizations.
    ///
    /// # Errors
    /// Database errors.
    pub async fn load(
        db: &impl ConnectionTrait,
        environment_ids: impl IntoIterator<Item = Uuid>,
    ) -> Result<Self, DbErr> {
        use entities::{environment, function};
        let environment_ids: Vec<Uuid> = environment_ids.into_iter().collect();
        let environments = environment::Entity::find()
            .filter(environment::COLUMN.id.is_in(environment_ids.clone()))
            .all(db)
            .await?;
        let organizations: Vec<Uuid> = environments
            .iter()
            .map(|found| found.organization_id)
            .collect();
        let hours = environments
            .iter()
            .map(|found| (found.id, crate::sla::BusinessHours::of(found)))
            .collect();
        let entries = responsibility::Entity::find()
            .filter(responsibility::COLUMN.environment_id.is_in(environment_ids))
            .filter(responsibility::COLUMN.status.is_in(IN_FORCE))
            .order_by_asc(responsibility::Column::Id)
            .all(db)
            .await?;
        let functions = function::Entity::find()
            .filter(
                Condition::any()
                    .add(function::COLUMN.organization_id.is_null())
                    .add(function::COLUMN.organization_id.is_in(organizations)),
            )
            .all(db)
            .await?;
        let entry_ids: Vec<Uuid> = entries.iter().map(|entry| entry.id).collect();
        let targets = entities::sla_target::Entity::find()
            .filter(
                entities::sla_target::COLUMN
                    .responsibility_id
                    .is_in(entry_ids.clone()),
            )
            .all(db)
            .await?;
        let with_path = entities::escalation_step::Entity::find()
            .filter(
                entities::escalation_step::COLUMN
                    .responsibility_id
                    .is_in(entry_ids),
            )
            .all(db)
            .await?
            .into_iter()
            .map(|step| step.responsibility_id)
            .collect();
        Ok(Self {
            entries,
            functions,
            targets,
            with_path,
            hours,
        })
    }

    /// The id of the function `key` as `organization_id` sees it (its own catalog first).
    #[must_use]
    pub fn function_id(&self, organization_id: Uuid, key: &str) -> Option<Uuid> {
        self.functions
            .iter()
            .filter(|found| found.key == key)
            .filter(|found| {
                found
                    .organization_id
                    .is_none_or(|owner| owner == organization_id)
            })
            .max_by_key(|found| found.organization_id.is_some())
            .map(|found| found.id)
    }

    /// Where an item of `environment_id` about `function_id` (on `system_id`) created at `at`
    /// with `priority` goes: the responsible team of the entry [`decide`] picks among those in
    /// force then, with the entry's [`Plan`] for that priority.
    #[must_use]
    pub fn route(
        &self,
        environment_id: Uuid,
        function_id: Uuid,
        system_id: Option<Uuid>,
        at: DateTime<Utc>,
        priority: entities::enums::Priority,
    ) -> Route {
        let function = self
            .functions
            .iter()
            .find(|found| found.id == function_id)
            .map_or("the function", |found| found.name.as_str());
        let in_force = self
            .entries
            .iter()
            .filter(|entry| entry.valid_from <= at && entry.valid_to.is_none_or(|to| to > at));
        let decided = decide(in_force, environment_id, function_id, system_id);
        let routed_at = at;
        let at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        match decided {
            Some((entry, decision)) => Route {
                responsibility_id: Some(entry.id),
                team_id: Some(entry.responsible_team_id),
                plan: self.plan(entry, priority, routed_at),
                reason: match decision {
                    Decision::SystemEntry => format!(
                        "{function}: the agreed entry for this system, in force at {at}, names the responsible team"
                    ),
                    Decision::FunctionDefault => format!(
                        "{function}: the agreed default of the environment, in force at {at}, names the responsible team"
                    ),
                },
            },
            None => Route {
                responsibility_id: None,
                team_id: None,
                reason: format!(
                    "{function}: no agreed entry was in force at {at}, so nobody was assigned"
                ),
                plan: Plan::default(),
            },
        }
    }

    /// The [`Plan`] of an item with `priority` routed by `entry` at `at`.
    fn plan(
        &self,
        entry: &responsibility::Model,
        priority: entities::enums::Priority,
        at: DateTime<Utc>,
    ) -> Plan {
        let hours = self
            .hours
            .get(&entry.environment_id)
            .copied()
            .unwrap_or_default();
        let due = self
            .targets
            .iter()
            .find(|target| target.responsibility_id == entry.id && target.priority == priority)
            .map(|target| crate::sla::DueTimes::of(target, &hours, at))
            .unwrap_or_default();
        let next_escalation_at = if self.with_path.contains(&entry.id) {
            Some(at)
        } else {
            due.response_due_at
        };
        Plan {
            due,
            next_escalation_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn entry(function_id: Uuid, system_id: Option<Uuid>) -> responsibility::Model {
        responsibility::Model {
            id: Uuid::now_v7(),
            environment_id: Uuid::nil(),
            function_id,
            system_id,
            responsible_team_id: Uuid::now_v7(),
            accountable_team_id: None,
            valid_from: Utc::now(),
            valid_to: None,
            status: ResponsibilityStatus::Agreed,
            notes: None,
            supersedes_id: None,
            created_by_id: None,
            agreed_at: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn function(key: &str, organization_id: Option<Uuid>) -> entities::function::Model {
        entities::function::Model {
            id: Uuid::now_v7(),
            organization_id,
            key: key.to_owned(),
            name: key.to_owned(),
            description: String::new(),
            csf_function: entities::enums::CsfFunction::Pr,
            csf_category: "PR.PS".to_owned(),
            required_by: serde_json::json!([]),
            applies_to: serde_json::json!([]),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn routing_reads_the_matrix_at_the_creation_time() {
        let patching = function("patching", None);
        let mut early = entry(patching.id, None);
        early.valid_from = "2026-01-01T00:00:00Z".parse().unwrap();
        early.valid_to = Some("2026-07-01T00:00:00Z".parse().unwrap());
        let mut late = entry(patching.id, None);
        late.valid_from = "2026-07-01T00:00:00Z".parse().unwrap();
        let router = Router {
            entries: vec![early.clone(), late.clone()],
            functions: vec![patching.clone()],
            targets: Vec::new(),
            with_path: std::collections::HashSet::new(),
            hours: std::collections::HashMap::new(),
        };
        let at = |instant: &str| {
            router.route(
                Uuid::nil(),
                patching.id,
                None,
                instant.parse().unwrap(),
                entities::enums::Priority::Medium,
            )
        };
        assert_eq!(
            at("2026-06-30T23:59:59Z").team_id,
            Some(early.responsible_team_id)
        );
        assert_eq!(at("2026-07-01T00:00:00Z").responsibility_id, Some(late.id));
        let before = at("2025-12-31T00:00:00Z");
        assert_eq!((before.responsibility_id, before.team_id), (None, None));
        assert_eq!(
            before.reason,
            "patching: no agreed entry was in force at 2025-12-31T00:00:00Z, so nobody was assigned"
        );
    }

    #[test]
    fn an_organization_function_shadows_the_standard_one_of_the_same_key() {
        let organization = Uuid::now_v7();
        let standard = function("patching", None);
        let own = function("patching", Some(organization));
        let other = function("patching", Some(Uuid::now_v7()));
        let router = Router {
            entries: Vec::new(),
            functions: vec![standard.clone(), own.clone(), other],
            targets: Vec::new(),
            with_path: std::collections::HashSet::new(),
            hours: std::collections::HashMap::new(),
        };
        assert_eq!(router.function_id(organization, "patching"), Some(own.id));
        assert_eq!(
            router.function_id(Uuid::now_v7(), "patching"),
            Some(standard.id)
        );
        assert_eq!(router.function_id(organization, "knitting"), None);
    }

    #[test]
    fn a_system_entry_overrides_the_function_default() {
        let (patching, server, other) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let entries = vec![entry(patching, None), entry(patching, Some(server))];
        let (chosen, decision) = decide(&entries, Uuid::nil(), patching, Some(server)).unwrap();
        assert_eq!(
            (chosen.id, decision),
            (entries[1].id, Decision::SystemEntry)
        );
        let (chosen, decision) = decide(&entries, Uuid::nil(), patching, Some(other)).unwrap();
        assert_eq!(
            (chosen.id, decision),
            (entries[0].id, Decision::FunctionDefault)
        );
        assert!(decide(&entries, Uuid::nil(), Uuid::now_v7(), None).is_none());
    }
}
