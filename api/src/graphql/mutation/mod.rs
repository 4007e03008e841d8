//! The root `Mutation`, merged from one object per area, and what every mutation shares.
//!
//! Conventions (the same for every mutation):
//! - one `input` argument; a payload with the changed object and `userErrors`;
//! - bad input (a missing name, an unknown id, a transition that is not allowed) is a
//!   [`UserError`] in the payload, and nothing is written; a caller whose role may not do the
//!   operation gets a top-level `FORBIDDEN` error;
//! - every write that touches an environment runs in one transaction with its change log entry
//!   (source `API`, actor = the caller, one change-set id per mutation, the input's optional
//!   `reason` and `ticketId`), so nothing changes undocumented.
//!
//! - `change_log`: `recordChange`, `correctChange`.
//! - `directory`: organizations, engagements, teams, people, memberships (admins).
//! - `inventory`: environments and systems.
//! - `matrix`: the responsibility matrix lifecycle (draft, propose, approve, retire).
//! - `runbook`: runbooks and their revisions.
//! - `work`: tickets, notes and alerts.
//! - `sync`: bulk, idempotent upserts for sync jobs.

pub mod change_log;
pub mod directory;
pub mod integration;
pub mod inventory;
pub mod matrix;
pub mod runbook;
pub mod sync;
pub mod work;

use async_graphql::{Context, Enum, ID, MergedObject, SimpleObject};
use chrono::{DateTime, SubsecRound, Utc};
use entities::enums::{ChangeCategory, ChangeSource, Role};
use entities::{change_log_entry, change_log_entry_system, environment, system, ticket};
use sea_orm::prelude::*;
use sea_orm::{DatabaseTransaction, IntoActiveModel, QueryFilter, TransactionTrait};

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};
use crate::events::{Event, EventBus};
use crate::graphql::context::ContextExt;
use crate::graphql::ids::{self, NodeType};

/// The root of every write.
#[derive(MergedObject, Default)]
pub struct Mutation(
    change_log::ChangeLogMutation,
    directory::DirectoryMutation,
    inventory::InventoryMutation,
    matrix::MatrixMutation,
    runbook::RunbookMutation,
    work::WorkMutation,
    sync::SyncMutation,
    integration::IntegrationMutation,
);

/// Why an input was refused.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserErrorCode {
    /// A required value is missing or empty.
    Required,
    /// The value is malformed or out of range.
    Invalid,
    /// The text is longer than allowed.
    TooLong,
    /// No object with this id exists that the caller may see.
    NotFound,
    /// Another object already uses this value.
    Taken,
    /// The object's current state does not allow the operation.
    InvalidState,
}

/// A problem with a mutation's input; nothing was written.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct UserError {
    /// The path to the input field at fault, such as `["input", "summary"]`.
    pub field: Vec<String>,
    /// Why it was refused.
    pub code: UserErrorCode,
    /// What is wrong, for people.
    pub message: String,
}

/// Collects the user errors of one input.
#[derive(Debug, Default)]
pub struct Check {
    errors: Vec<UserError>,
}

impl Check {
    /// Records an error on `input.<field>`.
    pub fn fail(&mut self, field: &str, code: UserErrorCode, message: impl Into<String>) {
        let mut path = vec!["input".to_owned()];
        path.extend(field.split('.').map(str::to_owned));
        self.errors.push(UserError {
            field: path,
            code,
            message: message.into(),
        });
    }

    /// Trimmed, non-empty text of at most `max` characters, or an error.
    pub fn text(&mut self, field: &str, value: &str, max: usize) -> Option<String> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            self.fail(
                field,
                UserErrorCode::Required,
                format!("`{}` must not be empty", last(field)),
            );
            None
        } else if trimmed.chars().count() > max {
            self.fail(
                field,
                UserErrorCode::TooLong,
                format!("`{}` must be at most {max} characters", last(field)),
            );
            None
        } else {
            Some(trimmed.to_owned())
        }
    }

    /// Like [`Check::text`] for an optional value; empty text becomes `None`.
    pub fn optional_text(
        &mut self,
        field: &str,
        value: Option<&str>,
        max: usize,
    ) -> Option<Option<String>> {
        match value.map(str::trim) {
            None | Some("") => Some(None),
            Some(text) if text.chars().count() > max => {
                self.fail(
                    field,
                    UserErrorCode::TooLong,
                    format!("`{}` must be at most {max} characters", last(field)),
                );
                None
            }
            Some(text) => Some(Some(text.to_owned())),
        }
    }

    /// The UUID behind a global id of `node_type`, or an error.
    pub fn id(&mut self, field: &str, node_type: NodeType, id: &ID) -> Option<Uuid> {
        match ids::decode_as(field, node_type, id) {
            Ok(uuid) => Some(uuid),
            Err(error) => {
                self.fail(field, UserErrorCode::Invalid, error.to_string());
                None
            }
        }
    }

    /// Whether no error was recorded.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// The errors recorded.
    pub fn into_errors(self) -> Vec<UserError> {
        self.errors
    }
}

fn last(field: &str) -> &str {
    field.rsplit('.').next().unwrap_or(field)
}

/// Refuses the operation unless the viewer's role is one of `allowed`.
///
/// # Errors
/// [`ApiError::Forbidden`] naming the roles that may.
pub fn require_role(viewer: &Viewer, allowed: &[Role], operation: &str) -> ApiResult<()> {
    if allowed.contains(&viewer.role) {
        return Ok(());
    }
    let names: Vec<String> = allowed.iter().map(sea_orm::ActiveEnum::to_value).collect();
    Err(ApiError::Forbidden(format!(
        "{operation} needs the role {}",
        names.join(" or ")
    )))
}

/// Roles that write operational records (changes, tickets, runbooks, systems).
pub const WRITERS: &[Role] = &[Role::Admin, Role::Member];
/// Roles that write operational records, and sync jobs.
pub const WRITERS_AND_SYNC: &[Role] = &[Role::Admin, Role::Member, Role::Integration];

/// One mutation's transaction, with what its change log entries share.
pub struct Write<'a> {
    /// The open transaction; dropped without commit, it rolls back.
    pub txn: DatabaseTransaction,
    /// The caller.
    pub viewer: &'a Viewer,
    /// The instant of the mutation, at the precision both databases keep.
    pub now: DateTime<Utc>,
    /// Groups every entry this mutation writes.
    pub change_set_id: Uuid,
    /// The input's `reason`.
    pub reason: Option<String>,
    /// The input's `ticketId`.
    pub ticket_id: Option<Uuid>,
    /// Where the entries it records come from: `API`, or `PSA`/`RMM` for what a sync observed.
    pub source: ChangeSource,
    /// Events to publish once the transaction has committed, never before.
    pending: Vec<Pending>,
    /// Where events go; absent when the schema runs without subscriptions (tests, `schema`).
    events: Option<EventBus>,
}

/// An event waiting for its transaction to commit.
enum Pending {
    Entry(change_log_entry::Model),
    Ticket(ticket::Model),
    Alert(entities::alert::Model),
}

impl Pending {
    fn environment_id(&self) -> Uuid {
        match self {
            Self::Entry(entry) => entry.environment_id,
            Self::Ticket(ticket) => ticket.environment_id,
            Self::Alert(alert) => alert.environment_id,
        }
    }
}

/// What a mutation's change log entry says.
pub struct ChangeNote {
    /// The environment changed.
    pub environment_id: Uuid,
    /// The systems changed.
    pub system_ids: Vec<Uuid>,
    /// One line for people.
    pub summary: String,
    /// Structured details.
    pub details: serde_json::Value,
    /// What kind of change.
    pub category: ChangeCategory,
}

impl<'a> Write<'a> {
    /// Opens the transaction of one mutation.
    ///
    /// # Errors
    /// When the database is unavailable.
    pub async fn begin(
        ctx: &Context<'_>,
        viewer: &'a Viewer,
        reason: Option<String>,
        ticket_id: Option<Uuid>,
    ) -> ApiResult<Self> {
        Ok(Self {
            txn: ctx.db()?.begin().await?,
            viewer,
            now: Utc::now().trunc_subsecs(6),
            change_set_id: Uuid::now_v7(),
            reason,
            ticket_id,
            source: ChangeSource::Api,
            pending: Vec::new(),
            events: ctx.data_opt::<EventBus>().cloned(),
        })
    }

    /// Publishes `entry` to subscribers once the transaction commits.
    pub fn entry_recorded(&mut self, entry: &change_log_entry::Model) {
        self.pending.push(Pending::Entry(entry.clone()));
    }

    /// Publishes `ticket` to subscribers once the transaction commits.
    pub fn ticket_changed(&mut self, ticket: &ticket::Model) {
        self.pending.push(Pending::Ticket(ticket.clone()));
    }

    /// Publishes `alert` as raised once the transaction commits.
    pub fn alert_raised(&mut self, alert: &entities::alert::Model) {
        self.pending.push(Pending::Alert(alert.clone()));
    }

    /// Writes the change log entry of `note`, attributed to the caller.
    ///
    /// # Errors
    /// Database errors.
    pub async fn record(&mut self, note: ChangeNote) -> ApiResult<change_log_entry::Model> {
        let entry = change_log_entry::Model {
            id: Uuid::now_v7(),
            environment_id: note.environment_id,
            summary: note.summary,
            details: note.details,
            reason: self.reason.clone(),
            actor_id: Some(self.viewer.person.id),
            actor_name: self.viewer.person.display_name.clone(),
            source: self.source,
            category: note.category,
            occurred_at: self.now,
            recorded_at: self.now,
            ticket_id: self.ticket_id,
            corrects_id: None,
            change_set_id: Some(self.change_set_id),
            integration_id: None,
            external_source: None,
            external_id: None,
            external_url: None,
        };
        let stored = insert_entry(&self.txn, entry, &note.system_ids).await?;
        self.entry_recorded(&stored);
        Ok(stored)
    }

    /// Commits the mutation.
    ///
    /// # Errors
    /// When the commit fails; nothing was written then.
    pub async fn commit(self) -> ApiResult<()> {
        let Self {
            txn,
            pending,
            events,
            ..
        } = self;
        let owners: std::collections::HashMap<Uuid, Uuid> =
            if events.is_some() && !pending.is_empty() {
                environment::Entity::find()
                    .filter(
                        environment::COLUMN
                            .id
                            .is_in(pending.iter().map(Pending::environment_id)),
                    )
                    .all(&txn)
                    .await?
                    .into_iter()
                    .map(|found| (found.id, found.organization_id))
                    .collect()
            } else {
                Default::default()
            };
        txn.commit().await?;
        if let Some(events) = events {
            for event in pending {
                let Some(&organization_id) = owners.get(&event.environment_id()) else {
                    continue;
                };
                events.publish(match event {
                    Pending::Entry(entry) => Event::ChangeLogEntryRecorded {
                        organization_id,
                        entry,
                    },
                    Pending::Ticket(ticket) => Event::TicketChanged {
                        organization_id,
                        ticket,
                    },
                    Pending::Alert(alert) => Event::AlertRaised {
                        organization_id,
                        alert,
                    },
                });
            }
        }
        Ok(())
    }
}

/// Inserts `entry` and its system links.
///
/// # Errors
/// Database errors.
pub async fn insert_entry(
    txn: &DatabaseTransaction,
    entry: change_log_entry::Model,
    system_ids: &[Uuid],
) -> ApiResult<change_log_entry::Model> {
    let stored = entry.into_active_model().insert(txn).await?;
    if !system_ids.is_empty() {
        let links = system_ids.iter().map(|system_id| {
            change_log_entry_system::Model {
                change_log_entry_id: stored.id,
                system_id: *system_id,
            }
            .into_active_model()
        });
        change_log_entry_system::Entity::insert_many(links)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(stored)
}

/// The environment `id` if the viewer may see it, else a `NOT_FOUND` user error on `field`.
///
/// # Errors
/// Database errors.
pub async fn visible_environment(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    check: &mut Check,
    field: &str,
    id: Option<Uuid>,
) -> ApiResult<Option<environment::Model>> {
    let Some(id) = id else { return Ok(None) };
    let found = environment::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|found| viewer.can_see_organization(found.organization_id));
    if found.is_none() {
        check.fail(
            field,
            UserErrorCode::NotFound,
            "no environment with this id",
        );
    }
    Ok(found)
}

/// The systems `ids`, which must all be in `environment_id`, else a `NOT_FOUND` user error.
///
/// # Errors
/// Database errors.
pub async fn systems_in(
    db: &impl ConnectionTrait,
    check: &mut Check,
    field: &str,
    environment_id: Uuid,
    ids: &[Uuid],
) -> ApiResult<Vec<system::Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found = system::Entity::find()
        .filter(system::COLUMN.id.is_in(ids.iter().copied()))
        .filter(system::COLUMN.environment_id.eq(environment_id))
        .all(db)
        .await?;
    if found.len() != ids.iter().collect::<std::collections::HashSet<_>>().len() {
        check.fail(
            field,
            UserErrorCode::NotFound,
            "every system must exist in the same environment",
        );
    }
    Ok(found)
}

/// The ticket `id`, which must be in `environment_id`, else a `NOT_FOUND` user error.
///
/// # Errors
/// Database errors.
pub async fn ticket_in(
    db: &impl ConnectionTrait,
    check: &mut Check,
    field: &str,
    environment_id: Uuid,
    id: Option<Uuid>,
) -> ApiResult<Option<ticket::Model>> {
    let Some(id) = id else { return Ok(None) };
    let found = ticket::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|found| found.environment_id == environment_id);
    if found.is_none() {
        check.fail(
            field,
            UserErrorCode::NotFound,
            "no ticket with this id in the environment",
        );
    }
    Ok(found)
}

/// Records in `changes` that `field` went from `before` to `after`, when they differ: the
/// `details.changes` of an update's change log entry.
pub fn diff(
    changes: &mut serde_json::Map<String, serde_json::Value>,
    field: &str,
    before: impl Into<serde_json::Value>,
    after: impl Into<serde_json::Value>,
) {
    let (before, after) = (before.into(), after.into());
    if before != after {
        changes.insert(
            field.to_owned(),
            serde_json::json!({ "from": before, "to": after }),
        );
    }
}

/// Declares a mutation payload: the changed object under `$field`, and `userErrors`.
macro_rules! payload {
    ($(#[$meta:meta])* $name:ident { $(#[$field_meta:meta])* $field:ident: $type:ty }) => {
        $(#[$meta])*
        #[derive(async_graphql::SimpleObject, Default)]
        pub struct $name {
            $(#[$field_meta])*
            pub $field: Option<$type>,
            /// Problems with the input; when any, nothing was written.
            pub user_errors: Vec<$crate::graphql::mutation::UserError>,
        }

        impl $name {
            /// A payload refusing the input.
            pub fn refused(user_errors: Vec<$crate::graphql::mutation::UserError>) -> Self {
                Self { $field: None, user_errors }
            }

            /// A payload with the changed object.
            pub fn done(value: $type) -> Self {
                Self { $field: Some(value), user_errors: Vec::new() }
            }
        }
    };
}

pub(crate) use payload;
