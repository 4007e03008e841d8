//! One delivery of an outbox event to a webhook endpoint, with its attempts.

use sea_orm::entity::prelude::*;

use crate::enums::WebhookDeliveryStatus;

/// A row of `webhook_deliveries`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub endpoint_id: Uuid,
    /// The outbox event's public id.
    pub event_id: Uuid,
    pub status: WebhookDeliveryStatus,
    /// Attempts made so far.
    pub attempts: i32,
    /// When it is due (again); `None` once it is no longer pending.
    pub next_attempt_at: Option<DateTimeUtc>,
    /// The worker attempting it now, until `lease_expires_at`.
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTimeUtc>,
    /// The HTTP status of the last answer.
    pub last_status: Option<i32>,
    /// Why the last attempt failed, in Tandem's words (never a secret, at most a short excerpt
    /// of the endpoint's answer).
    pub last_error: Option<String>,
    /// Whether an admin asked for it (`replayWebhookEvent`).
    pub replay: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
