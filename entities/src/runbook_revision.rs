//! An immutable numbered revision of a runbook.

use sea_orm::entity::prelude::*;

/// A row of `runbook_revisions`; the database rejects updates and deletes.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "runbook_revisions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub runbook_id: Uuid,
    /// 1, 2, 3, ... per runbook.
    pub number: i32,
    /// The procedure, in Markdown.
    pub body: String,
    pub change_summary: Option<String>,
    pub author_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
