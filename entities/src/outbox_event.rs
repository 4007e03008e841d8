//! An event of a committed write, kept in the outbox for outbound webhooks (and for readers that
//! resume from an event): written in the same transaction as the write it describes.

use sea_orm::entity::prelude::*;

/// A row of `outbox_events`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_events")]
pub struct Model {
    /// Increases with every event written (the order readers resume in).
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// The public event id.
    #[sea_orm(unique)]
    pub id: Uuid,
    /// The event type as deliveries name it, such as `ticket.created`.
    pub event_type: String,
    /// The organization that owns the event's environment (or its integration).
    pub organization_id: Uuid,
    /// The environment, when the event belongs to one.
    pub environment_id: Option<Uuid>,
    /// The object the event is about.
    pub subject_id: Uuid,
    /// The integration whose token (or sync run) caused it.
    pub caused_by_integration_id: Option<Uuid>,
    pub occurred_at: DateTimeUtc,
    /// The object as the API shows it.
    #[sea_orm(column_type = "JsonBinary")]
    pub payload: Json,
}

impl ActiveModelBehavior for ActiveModel {}
