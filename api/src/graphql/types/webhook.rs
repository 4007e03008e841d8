//! `WebhookEndpoint` and `WebhookDelivery`: where an organization's events go, and the log of
//! each delivery. Only admins of the endpoint's organization read them; the signing secret is
//! never returned here (only once, by the mutation that makes it).

use async_graphql::{Context, Enum, ID, Object, Result, ResultExt};
use entities::enums::WebhookDeliveryStatus as StoredStatus;
use entities::{outbox_event, webhook_delivery, webhook_endpoint};
use sea_orm::prelude::{DateTimeUtc, Uuid};

use crate::graphql::pagination::{Page, PageArgs, page_cost};
use crate::graphql::query::webhooks::list_deliveries;
use crate::ids::{self, NodeType};
use crate::outbox::EventType;

/// What happened, as a delivery's `type` names it (`TICKET_CREATED` is `ticket.created`).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookEventType {
    /// `change.recorded`: a change log entry was recorded.
    ChangeRecorded,
    /// `ticket.created`: a ticket was opened.
    TicketCreated,
    /// `ticket.changed`: a ticket's fields, assignment or status changed, or a note was added.
    TicketChanged,
    /// `ticket.routed`: the matrix chose a new ticket's team.
    TicketRouted,
    /// `ticket.escalated`: the escalation engine notified a step of a ticket's escalation path.
    TicketEscalated,
    /// `alert.raised`: an alert was raised.
    AlertRaised,
    /// `alert.acknowledged`: an alert was acknowledged.
    AlertAcknowledged,
    /// `alert.resolved`: an alert was resolved.
    AlertResolved,
    /// `alert.escalated`: the escalation engine notified a step of an alert's escalation path.
    AlertEscalated,
    /// `responsibility.proposed`: a matrix entry or a change of one was proposed.
    ResponsibilityProposed,
    /// `responsibility.agreed`: a matrix entry was agreed.
    ResponsibilityAgreed,
    /// `responsibility.retired`: a matrix entry was retired.
    ResponsibilityRetired,
    /// `ownership_gap.opened`: a write opened an ownership gap (a required function unowned, an
    /// entry expiring without successor, a system uncovered).
    OwnershipGapOpened,
    /// `ownership_gap.closed`: a write closed such an ownership gap.
    OwnershipGapClosed,
    /// `sync_run.failed`: a sync run failed.
    SyncRunFailed,
}

impl From<WebhookEventType> for EventType {
    fn from(value: WebhookEventType) -> Self {
        match value {
            WebhookEventType::ChangeRecorded => Self::ChangeRecorded,
            WebhookEventType::TicketCreated => Self::TicketCreated,
            WebhookEventType::TicketChanged => Self::TicketChanged,
            WebhookEventType::TicketRouted => Self::TicketRouted,
            WebhookEventType::TicketEscalated => Self::TicketEscalated,
            WebhookEventType::AlertRaised => Self::AlertRaised,
            WebhookEventType::AlertAcknowledged => Self::AlertAcknowledged,
            WebhookEventType::AlertResolved => Self::AlertResolved,
            WebhookEventType::AlertEscalated => Self::AlertEscalated,
            WebhookEventType::ResponsibilityProposed => Self::ResponsibilityProposed,
            WebhookEventType::ResponsibilityAgreed => Self::ResponsibilityAgreed,
            WebhookEventType::ResponsibilityRetired => Self::ResponsibilityRetired,
            WebhookEventType::OwnershipGapOpened => Self::OwnershipGapOpened,
            WebhookEventType::OwnershipGapClosed => Self::OwnershipGapClosed,
            WebhookEventType::SyncRunFailed => Self::SyncRunFailed,
        }
    }
}

impl WebhookEventType {
    const ALL: [Self; 15] = [
        Self::ChangeRecorded,
        Self::TicketCreated,
        Self::TicketChanged,
        Self::TicketRouted,
        Self::TicketEscalated,
        Self::AlertRaised,
        Self::AlertAcknowledged,
        Self::AlertResolved,
        Self::AlertEscalated,
        Self::ResponsibilityProposed,
        Self::ResponsibilityAgreed,
        Self::ResponsibilityRetired,
        Self::OwnershipGapOpened,
        Self::OwnershipGapClosed,
        Self::SyncRunFailed,
    ];

    /// The type whose wire name is `name`.
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|found| EventType::from(*found).name() == name)
    }
}

/// Where a delivery stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::WebhookDeliveryStatus")]
pub enum WebhookDeliveryStatus {
    /// Not delivered yet; tried again at `nextAttemptAt`.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// The endpoint refused it (a 4xx other than 408 and 429, three times), or it can never
    /// be delivered (the endpoint was deleted); not tried again.
    Failed,
    /// Not delivered within 24 hours; not tried again (`replayWebhookEvent` can).
    GaveUp,
}

/// An outbound webhook endpoint.
pub struct WebhookEndpoint(pub webhook_endpoint::Model);

/// Where an organization's events are delivered, signed with the endpoint's secret (never shown
/// here).
#[Object]
impl WebhookEndpoint {
    /// Global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::WebhookEndpoint, self.0.id)
    }

    /// Where deliveries are POSTed.
    async fn url(&self) -> &str {
        &self.0.url
    }

    /// For people.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// The event types it receives.
    async fn event_types(&self) -> Vec<WebhookEventType> {
        self.0
            .event_types
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|name| WebhookEventType::from_name(name.as_str()?))
            .collect()
    }

    /// Whether deliveries are made.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }

    /// The integration whose own events (its tokens' writes, its sync runs) are not delivered
    /// here, so two-way automations do not loop.
    async fn skip_integration_id(&self) -> Option<ID> {
        self.0
            .skip_integration_id
            .map(|id| ids::encode(NodeType::Integration, id))
    }

    /// The organization it belongs to.
    async fn organization_id(&self) -> ID {
        ids::encode(NodeType::Organization, self.0.organization_id)
    }

    /// When it was registered.
    async fn created_at(&self) -> DateTimeUtc {
        self.0.created_at
    }

    /// When it last changed.
    async fn updated_at(&self) -> DateTimeUtc {
        self.0.updated_at
    }

    /// When it was deleted (its log stays).
    async fn deleted_at(&self) -> Option<DateTimeUtc> {
        self.0.deleted_at
    }

    /// Its delivery log, oldest first.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only deliveries with these statuses.")] statuses: Option<
            Vec<WebhookDeliveryStatus>,
        >,
        #[graphql(desc = "Only deliveries of this event id.")] event_id: Option<String>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<WebhookDelivery>> {
        let statuses: Option<Vec<StoredStatus>> =
            statuses.map(|found| found.into_iter().map(Into::into).collect());
        list_deliveries(
            ctx,
            self.0.id,
            statuses,
            event_id,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .await
        .extend()
    }
}

/// One delivery of an event to an endpoint.
pub struct WebhookDelivery(pub webhook_delivery::Model);

/// One delivery of an event to an endpoint, with its attempts so far.
#[Object]
impl WebhookDelivery {
    /// Global id (also sent as `Tandem-Delivery-Id`, as the UUID).
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::WebhookDelivery, self.0.id)
    }

    /// The event's id (`Tandem-Event-Id`, the body's `id`); pass it to `replayWebhookEvent`.
    async fn event_id(&self) -> String {
        self.0.event_id.to_string()
    }

    /// The event's type.
    async fn event_type(&self, ctx: &Context<'_>) -> Result<Option<WebhookEventType>> {
        let event =
            crate::graphql::loaders::load_by_id::<outbox_event::Entity>(ctx, self.0.event_id)
                .await
                .extend()?;
        Ok(event.and_then(|found| WebhookEventType::from_name(&found.event_type)))
    }

    /// The endpoint.
    async fn endpoint_id(&self) -> ID {
        ids::encode(NodeType::WebhookEndpoint, self.0.endpoint_id)
    }

    /// Where it stands.
    async fn status(&self) -> WebhookDeliveryStatus {
        self.0.status.into()
    }

    /// Attempts made so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }

    /// When it is tried next (pending only).
    async fn next_attempt_at(&self) -> Option<DateTimeUtc> {
        self.0.next_attempt_at
    }

    /// The HTTP status of the last answer.
    async fn last_status(&self) -> Option<i32> {
        self.0.last_status
    }

    /// Why the last attempt failed (at most a short excerpt of the endpoint's answer).
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    /// Whether an admin asked for it (`replayWebhookEvent`).
    async fn replay(&self) -> bool {
        self.0.replay
    }

    /// When it was created (with its event, or by a replay).
    async fn created_at(&self) -> DateTimeUtc {
        self.0.created_at
    }

    /// When it was delivered.
    async fn delivered_at(&self) -> Option<DateTimeUtc> {
        self.0.delivered_at
    }
}

/// The UUID behind an event id as deliveries show it.
#[must_use]
pub fn parse_event_id(text: &str) -> Option<Uuid> {
    Uuid::parse_str(text.trim()).ok()
}
