//! The escalation engine: walks the escalation path of routed tickets and alerts nobody answers.
//!
//! Routing arms an item ([`crate::matrix::Plan`]): `next_escalation_at` is the routing instant
//! when its entry has an escalation path, so the first step is notified at once (reason
//! `routed`); each later step is due `minutes_before_next` of the step before it after that
//! step was due, so the schedule is fixed at routing and a server that was down catches up
//! step by step, each recorded with the reason it is due for. After the last step nothing more
//! is due. **Empty path:** an entry without a path escalates once, when the response target of
//! the item's priority is breached, to the entry's accountable team (its responsible team when
//! none is accountable), with no channel; without a target nothing escalates. Unrouted items
//! have nobody to escalate to: they show as ownership gaps instead.
//!
//! **The entry followed** is the one that owns the item at the run's instant by the matrix rule
//! ([`crate::matrix::decide`], same function, same system): the routing entry while it still
//! decides; the entry that superseded it, or the default left when a system's entry was retired,
//! once it no longer does (the item keeps its level, so the next position of that path is next;
//! the escalation names the entry followed and says so). When no agreed entry owns the item any
//! more, escalation stops and a change log entry says why.
//! **Who is told**: a step whose person is deactivated, or whose person or team belongs to a
//! provider with no engagement in force with the environment's organization that day, is
//! skipped (each skip is in the escalation's reason and its change log entry's details), and the
//! next step that can be told is told at once. When none is left, the entry's accountable team
//! (responsible when none) is told instead, once; when it cannot be told either, escalation
//! stops with the reason recorded.
//!
//! What stops it: acknowledging or resolving an alert; responding to a ticket (its first status
//! change away from `NEW` or its first note, by a person of its assigned team's organization),
//! resolving or closing it, or assigning it by hand (which replaces the matrix's decision). Those
//! services clear `next_escalation_at`, and the engine checks the item's state again itself.
//!
//! Durability: each step is one transaction that reads the item locked, claims it with a
//! conditional `UPDATE … WHERE escalation_level = <the level read>`, inserts the escalation row
//! (unique per item and position), records the change log entry (principal `SYSTEM`) and commits;
//! the bus event is published after the commit. Two servers, or two runs of one, at the same
//! instant: one claims, the other finds the level moved (or, at worst, the unique row taken)
//! and writes nothing. A crash before the commit leaves the step due, so the next run does it.
//! [`escalate_due`] is a plain function of the database and an instant, so tests run it on a
//! clock of their own; `serve` runs it every `TANDEM_ESCALATION_INTERVAL`.

use chrono::{DateTime, Duration, Utc};
use entities::enums::{AlertStatus, ChangeCategory};
use entities::{
    alert, engagement, environment, escalation, escalation_step, person, responsibility, team,
    ticket,
};
use sea_orm::prelude::*;
use sea_orm::sea_query::LockType;
use sea_orm::{
    DatabaseConnection, DatabaseTransaction, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use serde_json::json;

use crate::events::EventBus;
use crate::services::ChangeNote;
use crate::services::unit::SystemWork;

/// Items read per scan; a run scans again until nothing is due.
const BATCH: u64 = 100;

/// What one run of the engine did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EscalationRun {
    /// Escalations recorded.
    pub escalated: usize,
    /// Items whose step failed with a database error (put off a minute, tried again then).
    pub failed: usize,
}

/// A ticket or an alert, as the engine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Ticket(Uuid),
    Alert(Uuid),
}

/// Escalates every routed ticket and alert whose next escalation is due at `now` and that is
/// still unanswered, step by step until nothing is due at `now`.
///
/// # Errors
/// When the due items cannot be read; a step that fails is counted in
/// [`EscalationRun::failed`] and tried again a minute after `now`.
pub async fn escalate_due(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    now: DateTime<Utc>,
) -> Result<EscalationRun, DbErr> {
    let mut run = EscalationRun::default();
    // Each pass moves every due item on: one step, cleared (answered, unrouted, past its last
    // step), or put off a minute after a failure; so passes end, as a path has at most 50 steps,
    // and nothing read stays due to fill the next pass's batch ahead of the items behind it.
    // The bound only guards against rows that keep reappearing.
    for _ in 0..64 {
        let due = due_items(db, now).await?;
        let mut moved = 0;
        for item in due {
            match escalate_one(db, events, item, now).await {
                Ok(escalated) => {
                    run.escalated += usize::from(escalated);
                    moved += 1;
                }
                Err(error) => {
                    run.failed += 1;
                    tracing::error!(?item, %error, "escalation step failed; tried again in a minute");
                    match put_off(db, item, now).await {
                        Ok(()) => moved += 1,
                        Err(error) => {
                            tracing::error!(?item, %error, "cannot put off a failed escalation step");
                        }
                    }
                }
            }
        }
        if moved == 0 {
            break;
        }
    }
    Ok(run)
}

/// How long a step that failed waits before it is tried again.
const RETRY_AFTER: Duration = Duration::minutes(1);

/// Moves a failed item's next escalation to a minute after `now`, in a statement of its own,
/// so that an item that keeps failing neither holds the head of the due order nor is retried
/// within the same run. Its step is then recorded as due at that later instant.
async fn put_off(db: &DatabaseConnection, item: Item, now: DateTime<Utc>) -> Result<(), DbErr> {
    let later = now + RETRY_AFTER;
    match item {
        Item::Alert(id) => {
            alert::Entity::update_many()
                .col_expr(alert::Column::NextEscalationAt, Expr::value(later))
                .filter(alert::COLUMN.id.eq(id))
                .filter(alert::COLUMN.next_escalation_at.lte(now))
                .exec(db)
                .await?;
        }
        Item::Ticket(id) => {
            ticket::Entity::update_many()
                .col_expr(ticket::Column::NextEscalationAt, Expr::value(later))
                .filter(ticket::COLUMN.id.eq(id))
                .filter(ticket::COLUMN.next_escalation_at.lte(now))
                .exec(db)
                .await?;
        }
    }
    Ok(())
}

/// Up to [`BATCH`] tickets and alerts each that are unanswered and due at `now`, earliest first.
async fn due_items(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<Vec<Item>, DbErr> {
    let alerts = alert::Entity::find()
        .select_only()
        .column(alert::Column::Id)
        .filter(alert::COLUMN.next_escalation_at.lte(now))
        .filter(alert::COLUMN.status.eq(AlertStatus::Open))
        .order_by_asc(alert::Column::NextEscalationAt)
        .order_by_asc(alert::Column::Id)
        .limit(BATCH)
        .into_tuple::<Uuid>()
        .all(db)
        .await?;
    let tickets = ticket::Entity::find()
        .select_only()
        .column(ticket::Column::Id)
        .filter(ticket::COLUMN.next_escalation_at.lte(now))
        .filter(ticket::COLUMN.responded_at.is_null())
        .filter(ticket::COLUMN.resolved_at.is_null())
        .order_by_asc(ticket::Column::NextEscalationAt)
        .order_by_asc(ticket::Column::Id)
        .limit(BATCH)
        .into_tuple::<Uuid>()
        .all(db)
        .await?;
    Ok(alerts
        .into_iter()
        .map(Item::Alert)
        .chain(tickets.into_iter().map(Item::Ticket))
        .collect())
}

/// What the engine needs of an item, read locked.
struct State {
    environment_id: Uuid,
    system_id: Option<Uuid>,
    /// The ticket its change log entries are filed under.
    ticket_id: Option<Uuid>,
    routed_by_id: Option<Uuid>,
    level: i32,
    next_escalation_at: Option<DateTime<Utc>>,
    response_due_at: Option<DateTime<Utc>>,
    /// Still unanswered: an open alert; a ticket not responded to nor resolved.
    unanswered: bool,
    /// For the change log: "alert: Disk C: full" or "ticket: Printer jams".
    label: String,
}

async fn locked_state(txn: &DatabaseTransaction, item: Item) -> Result<Option<State>, DbErr> {
    Ok(match item {
        Item::Alert(id) => alert::Entity::find_by_id(id)
            .lock(LockType::NoKeyUpdate)
            .one(txn)
            .await?
            .map(|found| State {
                environment_id: found.environment_id,
                system_id: found.system_id,
                ticket_id: found.ticket_id,
                routed_by_id: found.routed_by_id,
                level: found.escalation_level,
                next_escalation_at: found.next_escalation_at,
                response_due_at: found.response_due_at,
                unanswered: found.status == AlertStatus::Open,
                label: format!("alert: {}", found.message),
            }),
        Item::Ticket(id) => ticket::Entity::find_by_id(id)
            .lock(LockType::NoKeyUpdate)
            .one(txn)
            .await?
            .map(|found| State {
                environment_id: found.environment_id,
                system_id: found.system_id,
                ticket_id: Some(found.id),
                routed_by_id: found.routed_by_id,
                level: found.escalation_level,
                next_escalation_at: found.next_escalation_at,
                response_due_at: found.response_due_at,
                unanswered: found.responded_at.is_none() && found.resolved_at.is_none(),
                label: format!("ticket: {}", found.title),
            }),
    })
}

/// The step to notify: who, how, why, and when the one after it is due.
struct Step {
    position: i32,
    team_id: Option<Uuid>,
    person_id: Option<Uuid>,
    channel: Option<entities::enums::EscalationChannel>,
    reason: String,
    next: Option<DateTime<Utc>>,
    /// The steps passed over on the way, each with why.
    skipped: Vec<serde_json::Value>,
}

/// What is next for an item.
enum Next {
    /// Notify this step.
    Step(Step),
    /// Nothing more is due (answered, unrouted, past the last step).
    Done,
    /// Nothing more can be done, for this reason (recorded in the change log).
    Stop(String),
}

/// Where an escalation must not go: why the step's person or team cannot be told on `day`, or
/// `None` when they can. A deactivated person is not told; nor is a person or team of a
/// provider whose engagement with `owner` (the environment's organization) is not in force.
async fn unreachable(
    txn: &DatabaseTransaction,
    owner: Uuid,
    team_id: Option<Uuid>,
    person_id: Option<Uuid>,
    day: chrono::NaiveDate,
) -> Result<Option<String>, DbErr> {
    if let Some(id) = person_id {
        let Some(found) = person::Entity::find_by_id(id).one(txn).await? else {
            return Ok(Some("the person no longer exists".to_owned()));
        };
        if !found.active {
            return Ok(Some(format!("{} is deactivated", found.display_name)));
        }
        if !engaged(txn, owner, found.organization_id, day).await? {
            return Ok(Some(format!(
                "{}'s organization no longer has an engagement with the client",
                found.display_name
            )));
        }
    }
    if let Some(id) = team_id {
        let Some(found) = team::Entity::find_by_id(id).one(txn).await? else {
            return Ok(Some("the team no longer exists".to_owned()));
        };
        if !engaged(txn, owner, found.organization_id, day).await? {
            return Ok(Some(format!(
                "{} belongs to a provider whose engagement with the client has ended",
                found.name
            )));
        }
    }
    Ok(None)
}

/// Whether `organization` is `owner` or a provider with an engagement in force with it on `day`.
async fn engaged(
    txn: &DatabaseTransaction,
    owner: Uuid,
    organization: Uuid,
    day: chrono::NaiveDate,
) -> Result<bool, DbErr> {
    if organization == owner {
        return Ok(true);
    }
    Ok(engagement::Entity::find()
        .filter(engagement::COLUMN.provider_id.eq(organization))
        .filter(engagement::COLUMN.client_id.eq(owner))
        .filter(engagement::in_force_on(day))
        .one(txn)
        .await?
        .is_some())
}

/// The step after `state.level` of `entry`'s path that can be reached at `now`: steps whose
/// person is deactivated, or whose person or team belongs to a provider no longer engaged, are
/// passed over (each recorded with why); when none is left, the entry's accountable team (its
/// responsible team when none is accountable) is told instead, once.
async fn next_step(
    txn: &DatabaseTransaction,
    item: Item,
    state: &State,
    entry: &responsibility::Model,
    due_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Next, DbErr> {
    let steps = escalation_step::Entity::find()
        .filter(escalation_step::COLUMN.responsibility_id.eq(entry.id))
        .order_by_asc(escalation_step::Column::Position)
        .all(txn)
        .await?;
    let waiting = match item {
        Item::Alert(_) => "without acknowledgement",
        Item::Ticket(_) => "without a response",
    };
    let owner = environment::Entity::find_by_id(state.environment_id)
        .one(txn)
        .await?
        .map_or(Uuid::nil(), |found| found.organization_id);
    let day = now.date_naive();
    let accountable = entry
        .accountable_team_id
        .unwrap_or(entry.responsible_team_id);
    if steps.is_empty() {
        // The empty-path rule: once, on the response target's breach, to the accountable team.
        if state.level != 0 || state.response_due_at.is_none() {
            return Ok(Next::Done);
        }
        if let Some(why) = unreachable(txn, owner, Some(accountable), None, day).await? {
            return Ok(Next::Stop(format!(
                "the entry has no escalation path and its accountable team cannot be told: {why}"
            )));
        }
        return Ok(Next::Step(Step {
            position: 1,
            team_id: Some(accountable),
            person_id: None,
            channel: None,
            reason: format!(
                "response target breached {waiting}; the entry has no escalation path, so its accountable team is told"
            ),
            next: None,
            skipped: Vec::new(),
        }));
    }
    let Some(first) = usize::try_from(state.level)
        .ok()
        .filter(|index| *index < steps.len())
    else {
        return Ok(Next::Done);
    };
    // Why the step at `first` is due.
    let due_reason = match first.checked_sub(1).map(|previous| &steps[previous]) {
        None => "routed".to_owned(),
        Some(previous) => format!(
            "after {} min {waiting} at step {}",
            previous.minutes_before_next.unwrap_or(0),
            previous.position
        ),
    };
    let mut skipped = Vec::new();
    let mut passed = Vec::new();
    for (index, step) in steps.iter().enumerate().skip(first) {
        if let Some(why) = unreachable(txn, owner, step.team_id, step.person_id, day).await? {
            passed.push(format!("step {} skipped: {why}", index + 1));
            skipped.push(json!({ "position": index + 1, "team_id": step.team_id, "person_id": step.person_id, "reason": why }));
            continue;
        }
        let next = step
            .minutes_before_next
            .filter(|_| index + 1 < steps.len())
            .map(|minutes| due_at + Duration::minutes(i64::from(minutes)));
        let reason = if passed.is_empty() {
            due_reason
        } else {
            format!("{due_reason}; {}", passed.join("; "))
        };
        return Ok(Next::Step(Step {
            position: i32::try_from(index + 1).unwrap_or(i32::MAX),
            team_id: step.team_id,
            person_id: step.person_id,
            channel: Some(step.channel),
            reason,
            next,
            skipped,
        }));
    }
    // Nobody left on the path can be told: the accountable team answers for the outcome.
    if let Some(why) = unreachable(txn, owner, Some(accountable), None, day).await? {
        return Ok(Next::Stop(format!(
            "{}; and the accountable team cannot be told either: {why}",
            passed.join("; ")
        )));
    }
    Ok(Next::Step(Step {
        position: i32::try_from(steps.len() + 1).unwrap_or(i32::MAX),
        team_id: Some(accountable),
        person_id: None,
        channel: None,
        reason: format!(
            "{due_reason}; {}; nobody left on the path can be told, so the entry's accountable team is told",
            passed.join("; ")
        ),
        next: None,
        skipped,
    }))
}

/// The entry that owns `state`'s item at `now` by the matrix rule ([`crate::matrix::decide`]):
/// the entry that routed it while it is still in force and decides; otherwise the entry in
/// force that decides now for the same function and system (one that superseded it, a default
/// after a system's entry was retired); `None` when nothing owns it.
async fn owner_now(
    txn: &DatabaseTransaction,
    state: &State,
    routed: &responsibility::Model,
    now: DateTime<Utc>,
) -> Result<Option<responsibility::Model>, DbErr> {
    let entries = crate::matrix::recorded(txn, [state.environment_id], None, None).await?;
    let in_force: Vec<responsibility::Model> = entries
        .into_iter()
        .filter(|entry| {
            crate::matrix::IN_FORCE.contains(&entry.status)
                && entry.valid_from <= now
                && entry.valid_to.is_none_or(|to| to > now)
        })
        .collect();
    Ok(crate::matrix::decide(
        &in_force,
        state.environment_id,
        routed.function_id,
        state.system_id,
    )
    .map(|(entry, _)| entry.clone()))
}

/// Moves `item` one step on, if it is still due and unanswered at `now`; `true` when an
/// escalation was recorded, `false` when it was cleared or is no longer due (another run moved
/// it on, or it was answered or removed).
async fn escalate_one(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    item: Item,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let mut work = SystemWork::begin(db, events, now).await?;
    let Some(state) = locked_state(&work.txn, item).await? else {
        return Ok(false);
    };
    let Some(due_at) = state.next_escalation_at.filter(|due| *due <= work.now) else {
        // Another run moved it on, or something answered it, since it was read.
        return Ok(false);
    };
    let routed = match state.routed_by_id.filter(|_| state.unanswered) {
        Some(id) => {
            responsibility::Entity::find_by_id(id)
                .one(&work.txn)
                .await?
        }
        None => None,
    };
    // The path followed is that of the entry owning the item now: the one that routed it may
    // have been retired or superseded since (routing itself is kept as it was).
    let (next, entry) = match &routed {
        None => (Next::Done, None),
        Some(routed) => match owner_now(&work.txn, &state, routed, work.now).await? {
            Some(current) => (
                next_step(&work.txn, item, &state, &current, due_at, work.now).await?,
                Some(current),
            ),
            None => (
                Next::Stop(format!(
                    "the entry that routed it was retired or has ended, and no agreed entry owns {} now",
                    if state.system_id.is_some() {
                        "its function on its system"
                    } else {
                        "its function"
                    }
                )),
                None,
            ),
        },
    };
    let mut step = match next {
        Next::Step(step) => step,
        Next::Done => {
            // Answered, unrouted, or past the last step: nothing more is due.
            set_state(&work.txn, item, state.level, state.level, None).await?;
            work.commit().await?;
            return Ok(false);
        }
        Next::Stop(why) => {
            if !set_state(&work.txn, item, state.level, state.level, None).await? {
                return Ok(false);
            }
            work.record(
                ChangeNote {
                    environment_id: state.environment_id,
                    system_ids: state.system_id.into_iter().collect(),
                    summary: format!("Stopped escalating {}: {why}", state.label),
                    details: json!({ "escalation_stopped": {
                        "level": state.level,
                        "reason": why,
                        "routed_by_id": state.routed_by_id,
                        "due_at": due_at,
                    } }),
                    category: ChangeCategory::Incident,
                },
                state.ticket_id,
            )
            .await?;
            work.commit().await?;
            return Ok(false);
        }
    };
    let followed = entry.as_ref().map(|found| found.id);
    if followed != state.routed_by_id {
        step.reason = format!(
            "{}; following the entry in force now, as the one that routed it was retired or superseded",
            step.reason
        );
    }
    // The claim: only the run that still sees the level it read moves it.
    if !set_state(&work.txn, item, state.level, step.position, step.next).await? {
        return Ok(false);
    }
    let stored = escalation::Model {
        id: Uuid::now_v7(),
        environment_id: state.environment_id,
        ticket_id: match item {
            Item::Ticket(id) => Some(id),
            Item::Alert(_) => None,
        },
        alert_id: match item {
            Item::Alert(id) => Some(id),
            Item::Ticket(_) => None,
        },
        responsibility_id: followed,
        position: step.position,
        team_id: step.team_id,
        person_id: step.person_id,
        channel: step.channel,
        reason: step.reason.clone(),
        due_at,
        escalated_at: work.now,
    };
    let stored = match stored.into_active_model().insert(&work.txn).await {
        Ok(stored) => stored,
        // A second server got there first (possible only where the claim did not serialize).
        Err(error)
            if matches!(
                error.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            return Ok(false);
        }
        Err(error) => return Err(error),
    };
    let whom = whom(&work.txn, step.team_id, step.person_id).await?;
    let channel = step.channel.map_or_else(String::new, |channel| {
        format!(" by {}", sea_orm::ActiveEnum::to_value(&channel))
    });
    work.record(
        ChangeNote {
            environment_id: state.environment_id,
            system_ids: state.system_id.into_iter().collect(),
            summary: format!(
                "Escalated {} to {whom}{channel} (step {}): {}",
                state.label, step.position, step.reason
            ),
            details: json!({ "escalation": {
                "position": step.position,
                "team_id": step.team_id,
                "person_id": step.person_id,
                "channel": step.channel,
                "reason": step.reason,
                "due_at": due_at,
                "responsibility_id": followed,
                "skipped": step.skipped,
                "alert_id": stored.alert_id,
                "ticket_id": stored.ticket_id,
            } }),
            category: ChangeCategory::Incident,
        },
        state.ticket_id,
    )
    .await?;
    work.escalated(&stored);
    if let Item::Ticket(id) = item
        && let Some(changed) = ticket::Entity::find_by_id(id).one(&work.txn).await?
    {
        work.ticket_changed(&changed);
    }
    work.commit().await?;
    Ok(true)
}

/// Sets `item`'s level and next escalation, if its level is still `expected`; `true` when it
/// was.
async fn set_state(
    txn: &DatabaseTransaction,
    item: Item,
    expected: i32,
    level: i32,
    next: Option<DateTime<Utc>>,
) -> Result<bool, DbErr> {
    let updated = match item {
        Item::Alert(id) => {
            alert::Entity::update_many()
                .col_expr(alert::Column::EscalationLevel, Expr::value(level))
                .col_expr(alert::Column::NextEscalationAt, Expr::value(next))
                .filter(alert::COLUMN.id.eq(id))
                .filter(alert::COLUMN.escalation_level.eq(expected))
                .exec(txn)
                .await?
        }
        Item::Ticket(id) => {
            ticket::Entity::update_many()
                .col_expr(ticket::Column::EscalationLevel, Expr::value(level))
                .col_expr(ticket::Column::NextEscalationAt, Expr::value(next))
                .filter(ticket::COLUMN.id.eq(id))
                .filter(ticket::COLUMN.escalation_level.eq(expected))
                .exec(txn)
                .await?
        }
    };
    Ok(updated.rows_affected == 1)
}

/// The name of who is notified, for the change log.
async fn whom(
    txn: &DatabaseTransaction,
    team_id: Option<Uuid>,
    person_id: Option<Uuid>,
) -> Result<String, DbErr> {
    if let Some(id) = team_id
        && let Some(found) = team::Entity::find_by_id(id).one(txn).await?
    {
        return Ok(found.name);
    }
    if let Some(id) = person_id
        && let Some(found) = person::Entity::find_by_id(id).one(txn).await?
    {
        return Ok(found.display_name);
    }
    Ok("nobody".to_owned())
}

/// The engine running in the background of `serve`: a run every interval, from now on the
/// wall clock. Dropped, it stops (a step cut short rolls back and is due again).
pub struct EscalationTask(tokio::task::JoinHandle<()>);

impl EscalationTask {
    /// Starts running [`escalate_due`] every `interval`.
    #[must_use]
    pub fn start(db: DatabaseConnection, events: EventBus, interval: std::time::Duration) -> Self {
        Self(tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match escalate_due(&db, Some(&events), Utc::now()).await {
                    Ok(run) if run.escalated > 0 || run.failed > 0 => {
                        tracing::info!(
                            escalated = run.escalated,
                            failed = run.failed,
                            "escalation run"
                        );
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "cannot read what is due to escalate"),
                }
            }
        }))
    }
}

impl Drop for EscalationTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}
