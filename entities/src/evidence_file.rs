//! The file attached to a piece of evidence, kept in the database with the SHA-256 the server
//! computed: at most one per record, never changed (a trigger refuses `UPDATE` and `DELETE`).

use sea_orm::entity::prelude::*;

/// A row of `evidence_files`.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "evidence_files")]
pub struct Model {
    /// The evidence; its primary key, so a record has one file.
    #[sea_orm(primary_key, auto_increment = false)]
    pub evidence_id: Uuid,
    pub content_type: String,
    pub size_bytes: i64,
    /// Lowercase hex SHA-256 of `content`.
    pub sha256: String,
    #[sea_orm(column_type = "Blob")]
    pub content: Vec<u8>,
    pub uploaded_by_id: Option<Uuid>,
    pub uploaded_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
