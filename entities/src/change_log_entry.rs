//! A change log entry: an immutable record of one change.

use sea_orm::entity::prelude::*;

use crate::enums::{ChangeCategory, ChangeSource, Principal};

/// A row of `change_log_entries`; the database rejects updates and deletes.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "change_log_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub environment_id: Uuid,
    pub summary: String,
    /// Structured details, a JSON object.
    #[sea_orm(column_type = "JsonBinary")]
    pub details: Json,
    pub reason: Option<String>,
    /// The person who made the change, when it was a person in Tandem.
    pub actor_id: Option<Uuid>,
    /// Who made the change, as a label.
    pub actor_name: String,
    pub source: ChangeSource,
    pub category: ChangeCategory,
    /// When the change happened.
    pub occurred_at: DateTimeUtc,
    /// When Tandem recorded it.
    pub recorded_at: DateTimeUtc,
    pub ticket_id: Option<Uuid>,
    /// The entry this one corrects.
    pub corrects_id: Option<Uuid>,
    /// Groups the entries written by one mutation or sync page.
    pub change_set_id: Option<Uuid>,
    pub integration_id: Option<Uuid>,
    /// The tenant whose keyspace `(external_source, external_id)` belongs to.
    pub organization_id: Option<Uuid>,
    /// The authenticated principal that wrote the entry (whatever `actor_name` says).
    pub principal: Principal,
    /// The person whose token wrote the entry, when a person's token did.
    pub recorded_by_id: Option<Uuid>,
    /// The external system this row mirrors, when it mirrors one.
    pub external_source: Option<String>,
    /// The record's id in that system; unique with `external_source`.
    pub external_id: Option<String>,
    /// A link to the record in that system.
    pub external_url: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
