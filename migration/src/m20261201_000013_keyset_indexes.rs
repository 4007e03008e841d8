//! Indexes that match the keyset pages of tickets and alerts: `(environment_id, <sort>, id)`.
//!
//! A page of one environment's tickets, newest first, after a cursor reads
//! `environment_id = e AND (updated_at, id) < (x, y) ORDER BY updated_at DESC, id DESC LIMIT n`.
//! With the id in the index that is one index range read backwards, stopping after `n` rows; the
//! old `(environment_id, updated_at)` index left ties on the instant to a sort. Tickets get the
//! same for `createdAt`, alerts for their default order (`raisedAt`). The change log already has
//! `(environment_id, occurred_at, id)` (`m20261127_000008`). The replaced two-column indexes are
//! dropped: the new ones serve every query they served.

use sea_orm_migration::prelude::*;

use crate::columns::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns of an index.
type Columns = &'static [&'static str];

/// `(table, the index replaced, if any, the columns of the new one)`.
const INDEXES: [(&str, Option<Columns>, Columns); 3] = [
    (
        "tickets",
        Some(&["environment_id", "updated_at"]),
        &["environment_id", "updated_at", "id"],
    ),
    ("tickets", None, &["environment_id", "created_at", "id"]),
    (
        "alerts",
        Some(&["environment_id", "raised_at"]),
        &["environment_id", "raised_at", "id"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, replaced, columns) in INDEXES {
            manager.create_index(index(table, columns)).await?;
            if let Some(replaced) = replaced {
                manager.drop_index(drop(table, replaced)).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, replaced, columns) in INDEXES.into_iter().rev() {
            if let Some(replaced) = replaced {
                manager.create_index(index(table, replaced)).await?;
            }
            manager.drop_index(drop(table, columns)).await?;
        }
        Ok(())
    }
}

/// Drops the index [`index`] names for `table` and `columns`.
fn drop(table: &'static str, columns: &[&'static str]) -> IndexDropStatement {
    let mut statement = Index::drop();
    statement
        .name(format!("ix_{table}_{}", columns.join("_")))
        .table(table);
    statement.to_owned()
}
