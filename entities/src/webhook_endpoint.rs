//! An outbound webhook endpoint: where an organization wants its events delivered.

use sea_orm::entity::prelude::*;

/// A row of `webhook_endpoints`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The organization that registered it.
    pub organization_id: Uuid,
    pub url: String,
    pub description: Option<String>,
    /// The event types it receives, a JSON array of names such as `"ticket.created"`.
    #[sea_orm(column_type = "JsonBinary")]
    pub event_types: Json,
    /// The signing secret, sealed with `TANDEM_SECRET_KEY`; never returned after creation.
    pub secret_ciphertext: Vec<u8>,
    pub enabled: bool,
    /// Events caused by this integration (its tokens, its syncs) are not delivered here.
    pub skip_integration_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// When it was deleted: nothing is delivered any more; its log stays.
    pub deleted_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
