//! The service layer: every rule that changes data, in one place outside GraphQL.
//!
//! A service takes the database, the actor (an authenticated [`Viewer`]: a person's token or a
//! token issued for an integration) and the event bus, never an `async_graphql` or `axum` type.
//! It opens a [`UnitOfWork`], makes the reads that decide the write inside that transaction
//! (with the deciding row locked where two callers could race), writes, records the change log
//! entry, and commits; events reach subscribers only after the commit. It answers with a typed
//! outcome: the value, or a [`ServiceError`] (refused with [`UserError`]s, forbidden, not found,
//! internal). GraphQL resolvers, REST routes, the CLI, the sync engine and the demo loader are
//! front doors: they decode their input, call a service and present its outcome; the GraphQL
//! mapping of a [`ServiceError`] lives in `error.rs`.
//!
//! - `check`: [`Check`] and the bounds every input obeys (text without NUL, instants in range).
//! - `bulk`: bulk, idempotent upserts of external records for sync jobs.
//! - `change_log`: recording and correcting changes.
//! - `compliance`: compliance evidence: recording it, attaching its file, its sign-off.
//! - `unit`: [`UnitOfWork`], one write transaction with its actor, change set and events.
//! - `external`: the one writer of external records (systems, tickets, alerts, observed
//!   changes) shared by the bulk mutations and the sync engine, keyed per tenant.
//! - `matrix`: the responsibility matrix lifecycle and its dual sign-off.
//! - `scope`: the reads that decide a write: which environment, systems and tickets the actor
//!   may name.
//! - `escalation`: the escalation engine, which walks the escalation path of routed tickets and
//!   alerts nobody answers (`escalate_due`).
//! - `directory`: who may manage an organization's people, teams and memberships.
//! - `webhooks`: outbound webhook endpoints (admins): register, change, rotate, delete, replay.
//! - `credentials`: sealing and opening an integration's credentials with `TANDEM_SECRET_KEY`.

pub mod bulk;
pub mod change_log;
pub mod check;
pub mod compliance;
pub mod credentials;
pub mod directory;
pub mod escalation;
pub mod external;
pub mod integration;
pub mod inventory;
pub mod matrix;
pub mod runbook;
pub mod scope;
pub mod unit;
pub mod webhooks;
pub mod work;

use entities::enums::Role;

use crate::auth::Viewer;
use crate::error::ApiError;

pub use check::{Check, MAX_SKEW, UserError, UserErrorCode};
pub use unit::{ChangeNote, UnitOfWork, diff, insert_entry};

/// What a service refuses with, when it does not answer with its value.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input is bad; nothing was written. Shown as the payload's `userErrors`.
    #[error("input refused")]
    Refused(Vec<UserError>),
    /// The actor's role or side may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// A database fault; nothing was written.
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
}

impl ServiceError {
    /// A refusal with one error on `input.<field>`.
    pub fn refused(field: &str, code: UserErrorCode, message: impl Into<String>) -> Self {
        let mut check = Check::default();
        check.fail(field, code, message);
        Self::Refused(check.into_errors())
    }
}

impl ServiceError {
    /// `error` as a service error; a unique violation (a concurrent caller took the value
    /// between the check and the write) becomes a `TAKEN` refusal on `field` with `message`.
    pub fn taken_or(error: sea_orm::DbErr, field: &str, message: &str) -> Self {
        if matches!(
            error.sql_err(),
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
        ) {
            Self::refused(field, UserErrorCode::Taken, message)
        } else {
            Self::Database(error)
        }
    }
}

impl From<Check> for ServiceError {
    fn from(check: Check) -> Self {
        Self::Refused(check.into_errors())
    }
}

/// How the API shows a service's refusal when it cannot put it in a payload (a payload's
/// `userErrors` is the usual place, see the GraphQL `payload!` macro): one mapping, here, so the
/// lower `error` module needs nothing of the services.
impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Forbidden(message) => Self::Forbidden(message),
            ServiceError::Database(cause) => cause.into(),
            // A refusal belongs in the payload; a caller that could not put it there reports
            // the first problem as bad input on its field.
            ServiceError::Refused(errors) => match errors.into_iter().next() {
                Some(first) => Self::BadUserInput {
                    field: first.field.last().cloned(),
                    message: first.message,
                },
                None => Self::BadUserInput {
                    field: None,
                    message: "input refused".to_owned(),
                },
            },
        }
    }
}

/// The outcome of a service.
pub type ServiceResult<T> = Result<T, ServiceError>;

/// Refuses the operation unless the actor's role is one of `allowed`.
///
/// # Errors
/// [`ServiceError::Forbidden`] naming the roles that may.
pub fn require_role(actor: &Viewer, allowed: &[Role], operation: &str) -> ServiceResult<()> {
    if allowed.contains(&actor.role) {
        return Ok(());
    }
    let names: Vec<String> = allowed.iter().map(sea_orm::ActiveEnum::to_value).collect();
    Err(ServiceError::Forbidden(format!(
        "{operation} needs the role {}",
        names.join(" or ")
    )))
}

/// Roles that write operational records (changes, tickets, runbooks, systems).
pub const WRITERS: &[Role] = &[Role::Admin, Role::Member];
/// Roles that write operational records, and sync jobs.
pub const WRITERS_AND_SYNC: &[Role] = &[Role::Admin, Role::Member, Role::Integration];
