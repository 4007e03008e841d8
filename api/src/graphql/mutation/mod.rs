//! The root `Mutation`, merged from one object per area, and what every mutation shares.
//!
//! Every mutation is a front door of a service in [`crate::services`], which holds its rules:
//! the resolver decodes the input's global ids into a [`Check`] ([`CheckIds`]), builds the
//! service's plain input, calls it, and presents the outcome (`Payload::from_outcome`).
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
//! - `compliance`: recording and signing compliance evidence.

pub mod change_log;
pub mod compliance;
pub mod directory;
pub mod integration;
pub mod inventory;
pub mod matrix;
pub mod runbook;
pub mod sync;
pub mod webhooks;
pub mod work;

use async_graphql::{Enum, ID, MaybeUndefined, MergedObject, SimpleObject};
use sea_orm::prelude::*;

use crate::ids::{self, NodeType};
pub use crate::services::{Check, UserError, UserErrorCode};

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
    compliance::ComplianceMutation,
    webhooks::WebhookMutation,
);

/// Why an input was refused.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "UserErrorCode", remote = "crate::services::UserErrorCode")]
pub enum UserErrorCodeObject {
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
#[graphql(name = "UserError")]
pub struct UserErrorObject {
    /// The path to the input field at fault, such as `["input", "summary"]`.
    pub field: Vec<String>,
    /// Why it was refused.
    pub code: UserErrorCodeObject,
    /// What is wrong, for people.
    pub message: String,
}

impl From<UserError> for UserErrorObject {
    fn from(error: UserError) -> Self {
        Self {
            field: error.field,
            code: error.code.into(),
            message: error.message,
        }
    }
}

/// The GraphQL form of a list of user errors.
pub fn user_errors(errors: Vec<UserError>) -> Vec<UserErrorObject> {
    errors.into_iter().map(Into::into).collect()
}

/// Decoding global ids into a [`Check`]: the one part of input checking that knows GraphQL.
pub trait CheckIds {
    /// The UUID behind a global id of `node_type`, or an `INVALID` error on `field`.
    fn id(&mut self, field: &str, node_type: NodeType, id: &ID) -> Option<Uuid>;
}

impl CheckIds for Check {
    fn id(&mut self, field: &str, node_type: NodeType, id: &ID) -> Option<Uuid> {
        match ids::decode_as(field, node_type, id) {
            Ok(uuid) => Some(uuid),
            Err(error) => {
                self.fail(field, UserErrorCode::Invalid, error.to_string());
                None
            }
        }
    }
}

/// A field an update may clear: omitted keeps the value, `null` or empty text clears it (the
/// services read empty text as "clear").
pub fn clearable(value: MaybeUndefined<String>) -> Option<String> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(String::new()),
        MaybeUndefined::Value(value) => Some(value),
    }
}

/// Explicit `null` in update inputs, for fields an update may change but not clear.
pub trait CheckRequired {
    /// Omitted keeps the value; `null` is an `INVALID` error on `field`, never silently ignored.
    fn required<T>(&mut self, field: &str, value: MaybeUndefined<T>) -> Option<T>;
}

impl CheckRequired for Check {
    fn required<T>(&mut self, field: &str, value: MaybeUndefined<T>) -> Option<T> {
        match value {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => {
                self.fail(
                    field,
                    UserErrorCode::Invalid,
                    format!("`{field}` cannot be cleared; omit it to keep the current value"),
                );
                None
            }
            MaybeUndefined::Value(value) => Some(value),
        }
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
            pub user_errors: Vec<$crate::graphql::mutation::UserErrorObject>,
        }

        impl $name {
            /// A payload refusing the input.
            pub fn refused(user_errors: Vec<$crate::services::UserError>) -> Self {
                Self { $field: None, user_errors: $crate::graphql::mutation::user_errors(user_errors) }
            }

            /// The payload of a service's outcome: the value, or the user errors it refused
            /// with; any other refusal is an error of the whole field.
            ///
            /// # Errors
            /// [`$crate::error::ApiError`] for a forbidden or failed call.
            pub fn from_outcome(
                outcome: $crate::services::ServiceResult<$type>,
            ) -> $crate::error::ApiResult<Self> {
                match outcome {
                    Ok(value) => Ok(Self::done(value)),
                    Err($crate::services::ServiceError::Refused(errors)) => Ok(Self::refused(errors)),
                    Err(other) => Err(other.into()),
                }
            }

            /// A payload with the changed object.
            pub fn done(value: $type) -> Self {
                Self { $field: Some(value), user_errors: Vec::new() }
            }
        }
    };
}

pub(crate) use payload;
