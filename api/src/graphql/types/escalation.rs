//! `Escalation`, `Sla` and `SlaTarget`: service levels and the escalations of tickets and alerts.

use async_graphql::{Context, Object, Result, ResultExt, SimpleObject};
use chrono::{DateTime, Utc};
use entities::{alert, escalation, responsibility, sla_target, team, ticket};
use sea_orm::prelude::DateTimeUtc;

use crate::graphql::loaders::load_by_id;
use crate::graphql::types::enums::{EscalationChannel, Priority, SlaCalendar};
use crate::graphql::types::{Alert, Person, Responsibility, Team, Ticket};

/// One escalation of a ticket or alert.
pub struct Escalation(pub escalation::Model);

/// One escalation: a step of the routed entry's escalation path that was notified because
/// nobody acknowledged (alerts) or responded to (tickets) the item in time: who, by which
/// channel, when and why.
#[Object]
impl Escalation {
    /// The step's 1-based position in the path (1 for the empty-path rule's one escalation).
    async fn position(&self) -> i32 {
        self.0.position
    }

    /// The team notified, when the step names a team.
    async fn team(&self, ctx: &Context<'_>) -> Result<Option<Team>> {
        match self.0.team_id {
            Some(id) => load_by_id::<team::Entity>(ctx, id)
                .await
                .map(|found| found.map(Team))
                .extend(),
            None => Ok(None),
        }
    }

    /// The person notified, when the step names a person the caller may see.
    async fn person(&self, ctx: &Context<'_>) -> Result<Option<Person>> {
        Person::visible(ctx, self.0.person_id).await
    }

    /// How they were notified; null under the empty-path rule (the path names no channel).
    async fn channel(&self) -> Option<EscalationChannel> {
        self.0.channel.map(Into::into)
    }

    /// Why, in words: `routed` for the first step, else how long it went unanswered.
    async fn reason(&self) -> &str {
        &self.0.reason
    }

    /// When the step was due.
    async fn due_at(&self) -> DateTimeUtc {
        self.0.due_at
    }

    /// When Tandem notified it (the escalation engine's run; at most its interval after
    /// `dueAt` while a server runs).
    async fn escalated_at(&self) -> DateTimeUtc {
        self.0.escalated_at
    }

    /// The matrix entry whose path was followed.
    async fn responsibility(&self, ctx: &Context<'_>) -> Result<Option<Responsibility>> {
        match self.0.responsibility_id {
            Some(id) => load_by_id::<responsibility::Entity>(ctx, id)
                .await
                .map(|found| found.map(Responsibility))
                .extend(),
            None => Ok(None),
        }
    }

    /// The ticket escalated, for a ticket's escalation.
    async fn ticket(&self, ctx: &Context<'_>) -> Result<Option<Ticket>> {
        match self.0.ticket_id {
            Some(id) => load_by_id::<ticket::Entity>(ctx, id)
                .await
                .map(|found| found.map(Ticket))
                .extend(),
            None => Ok(None),
        }
    }

    /// The alert escalated, for an alert's escalation.
    async fn alert(&self, ctx: &Context<'_>) -> Result<Option<Alert>> {
        match self.0.alert_id {
            Some(id) => load_by_id::<alert::Entity>(ctx, id)
                .await
                .map(|found| found.map(Alert))
                .extend(),
            None => Ok(None),
        }
    }
}

/// Where a routed ticket or alert stands against its entry's SLA target for its priority.
#[derive(SimpleObject)]
pub struct Sla {
    /// When a response was due (tickets: responded to; alerts: acknowledged).
    pub response_due_at: DateTimeUtc,
    /// When resolution is due; null without a resolution target.
    pub resolution_due_at: Option<DateTimeUtc>,
    /// When it was responded to (tickets) or acknowledged (alerts).
    pub responded_at: Option<DateTimeUtc>,
    /// Whether the response came (or, without one, now is) after it was due.
    pub response_breached: bool,
    /// Whether resolution came (or, unresolved, now is) after it was due; null without a
    /// resolution target.
    pub resolution_breached: Option<bool>,
    /// The clock the due times were counted on.
    pub calendar: SlaCalendar,
}

impl Sla {
    /// The SLA state of an item, judged at `now`; `None` when routing set no target.
    pub fn of(
        response_due_at: Option<DateTime<Utc>>,
        resolution_due_at: Option<DateTime<Utc>>,
        calendar: Option<entities::enums::SlaCalendar>,
        responded_at: Option<DateTime<Utc>>,
        resolved_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<Self> {
        let (response_due_at, calendar) = (response_due_at?, calendar?);
        Some(Self {
            response_due_at,
            resolution_due_at,
            responded_at,
            response_breached: crate::sla::breached(Some(response_due_at), responded_at, now)
                .unwrap_or(false),
            resolution_breached: crate::sla::breached(resolution_due_at, resolved_at, now),
            calendar: calendar.into(),
        })
    }
}

/// A matrix entry's target for one priority.
pub struct SlaTarget(pub sla_target::Model);

/// A service level target of a matrix entry for one priority.
#[Object]
impl SlaTarget {
    /// The priority (tickets) or severity (alerts) it applies to.
    async fn priority(&self) -> Priority {
        self.0.priority.into()
    }

    /// Minutes to the first response (a ticket responded to, an alert acknowledged).
    async fn response_minutes(&self) -> i32 {
        self.0.response_minutes
    }

    /// Minutes to resolution; null: no resolution target.
    async fn resolution_minutes(&self) -> Option<i32> {
        self.0.resolution_minutes
    }

    /// The clock the minutes count on.
    async fn calendar(&self) -> SlaCalendar {
        self.0.calendar.into()
    }
}
