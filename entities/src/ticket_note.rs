//! A note on a ticket.

use sea_orm::entity::prelude::*;

/// A row of `ticket_notes`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ticket_notes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub ticket_id: Uuid,
    pub author_id: Option<Uuid>,
    /// The author as the external system named them.
    pub author_name: Option<String>,
    pub body: String,
    /// Internal notes are not shown to the requester.
    pub internal: bool,
    pub created_at: DateTimeUtc,
    /// The external system this row mirrors, when it mirrors one.
    pub external_source: Option<String>,
    /// The record's id in that system; unique with `external_source`.
    pub external_id: Option<String>,
    /// A link to the record in that system.
    pub external_url: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
