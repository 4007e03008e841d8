//! `Alert`: an RMM alert on a system.

use async_graphql::{Context, ID, Object, Result, ResultExt};
use entities::{alert, environment, system, team, ticket};
use sea_orm::prelude::DateTimeUtc;

use crate::graphql::loaders::{EscalationsOfAlert, load_by_id, load_group, load_required};
use crate::graphql::types::enums::{AlertStatus, Priority};
use crate::graphql::types::{
    Environment, Escalation, ExternalId, Person, Routing, Sla, System, Team, Ticket,
};
use crate::ids::{self, NodeType};

/// An RMM alert.
pub struct Alert(pub alert::Model);

/// An RMM alert on a system, routed to the team the responsibility matrix names.
#[Object]
impl Alert {
    /// Global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Alert, self.0.id)
    }

    /// What the RMM reported.
    async fn message(&self) -> &str {
        &self.0.message
    }

    /// Normalized severity.
    async fn severity(&self) -> Priority {
        self.0.severity.into()
    }

    /// The RMM's own severity value.
    async fn external_severity(&self) -> Option<&str> {
        self.0.external_severity.as_deref()
    }

    /// Open, acknowledged or resolved.
    async fn status(&self) -> AlertStatus {
        self.0.status.into()
    }

    /// The environment of the alerting system.
    async fn environment(&self, ctx: &Context<'_>) -> Result<Environment> {
        load_required::<environment::Entity>(ctx, self.0.environment_id)
            .await
            .map(Environment)
            .extend()
    }

    /// The alerting system.
    async fn system(&self, ctx: &Context<'_>) -> Result<Option<System>> {
        match self.0.system_id {
            Some(id) => load_by_id::<system::Entity>(ctx, id)
                .await
                .map(|found| found.map(System))
                .extend(),
            None => Ok(None),
        }
    }

    /// The ticket opened for the alert.
    async fn ticket(&self, ctx: &Context<'_>) -> Result<Option<Ticket>> {
        match self.0.ticket_id {
            Some(id) => load_by_id::<ticket::Entity>(ctx, id)
                .await
                .map(|found| found.map(Ticket))
                .extend(),
            None => Ok(None),
        }
    }

    /// How the responsibility matrix routed the alert when it came without an assignee; null when
    /// it came with an assignee.
    async fn routing(&self) -> Option<Routing> {
        Routing::kept(self.0.routed_by_id, self.0.routing_reason.as_deref())
    }

    /// The team the alert is routed to.
    async fn assigned_team(&self, ctx: &Context<'_>) -> Result<Option<Team>> {
        match self.0.assigned_team_id {
            Some(id) => load_by_id::<team::Entity>(ctx, id)
                .await
                .map(|found| found.map(Team))
                .extend(),
            None => Ok(None),
        }
    }

    /// When the RMM raised the alert.
    async fn raised_at(&self) -> DateTimeUtc {
        self.0.raised_at
    }

    /// When someone acknowledged it.
    async fn acknowledged_at(&self) -> Option<DateTimeUtc> {
        self.0.acknowledged_at
    }

    /// Who acknowledged it; null when the caller may not see them.
    async fn acknowledged_by(&self, ctx: &Context<'_>) -> Result<Option<Person>> {
        Person::visible(ctx, self.0.acknowledged_by_id).await
    }

    /// When it was resolved.
    async fn resolved_at(&self) -> Option<DateTimeUtc> {
        self.0.resolved_at
    }

    /// The alert's record in the RMM.
    async fn external_ids(&self) -> Vec<ExternalId> {
        ExternalId::from_columns(
            self.0.id,
            &self.0.external_source,
            &self.0.external_id,
            &self.0.external_url,
        )
    }

    /// Where it stands against its routed entry's SLA target for its severity, judged now; null
    /// when routing found no target.
    async fn sla(&self) -> Option<Sla> {
        Sla::of(
            self.0.response_due_at,
            self.0.resolution_due_at,
            self.0.sla_calendar,
            self.0.acknowledged_at,
            self.0.resolved_at,
            chrono::Utc::now(),
        )
    }

    /// The last step of the escalation path notified; 0 before the first.
    async fn escalation_level(&self) -> i32 {
        self.0.escalation_level
    }

    /// When the next escalation is due; null when none is (acknowledged, responded to,
    /// resolved, past the last step, or never routed).
    async fn next_escalation_at(&self) -> Option<DateTimeUtc> {
        self.0.next_escalation_at
    }

    /// Its escalations, in step order: a plain list, since a path has at most 50 steps and each
    /// is notified at most once.
    async fn escalations(&self, ctx: &Context<'_>) -> Result<Vec<Escalation>> {
        let found = load_group::<EscalationsOfAlert>(ctx, self.0.id)
            .await
            .extend()?;
        Ok(found.into_iter().map(Escalation).collect())
    }

    /// When Tandem first saw the alert.
    async fn created_at(&self) -> DateTimeUtc {
        self.0.created_at
    }

    /// When the alert last changed.
    async fn updated_at(&self) -> DateTimeUtc {
        self.0.updated_at
    }
}
