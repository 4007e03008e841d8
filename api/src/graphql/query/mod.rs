//! The root `Query`, merged from one object per area.
//!
//! - `node`: `viewer`, `node`, `nodes`.
//! - `lookup`: one typed field per node type (`environment(id:)`, `ticket(id:)`, ...).
//! - `directory`: `organizations`, `engagements`, `teams`, `people`.
//! - `inventory`: `environments`, `systems`, `functions`, `runbooks`.
//! - `change_log`: `changeLog`, the query scripts and auditors live on.
//! - `work`: `tickets`, `alerts`.
//! - `integration`: `integrations`, `syncRuns`.
//! - `matrix`: `responsibilityMatrix`, `whoOwns`, `transitionReadiness`.
//! - `gaps`: `ownershipGaps`.
//! - `sla`: `slaReport`.
//! - `compliance`: `obligations`, `complianceObligations`.
//!
//! Each list is a `list_*` function that nested fields reuse with a [`Within`], so a list reads
//! the same, with the same tenancy, wherever it appears. Every list starts from the viewer's
//! visible organizations (see `graphql::scope`).

pub mod change_log;
pub mod compliance;
pub mod directory;
pub mod gaps;
pub mod integration;
pub mod inventory;
pub mod lookup;
pub mod matrix;
pub mod node;
pub mod sla;
pub mod webhooks;
pub mod work;

use async_graphql::{ID, MergedObject};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::ids::{self, NodeType};

/// The root of every read.
#[derive(MergedObject, Default)]
pub struct Query(
    node::NodeQuery,
    lookup::LookupQuery,
    directory::DirectoryQuery,
    inventory::InventoryQuery,
    change_log::ChangeLogQuery,
    work::WorkQuery,
    integration::IntegrationQuery,
    matrix::MatrixQuery,
    gaps::GapsQuery,
    sla::SlaQuery,
    compliance::ComplianceQuery,
    webhooks::WebhookQuery,
);

/// Pins a list to one parent when it is read as a nested field (`environment.systems`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Within {
    /// Only rows of this organization.
    pub organization: Option<Uuid>,
    /// Only rows of this environment.
    pub environment: Option<Uuid>,
    /// Only rows about this system.
    pub system: Option<Uuid>,
    /// Only rows under this ticket.
    pub ticket: Option<Uuid>,
    /// Only rows of this integration.
    pub integration: Option<Uuid>,
}

/// Decodes a filter's list of global ids of `node_type`.
///
/// # Errors
/// [`crate::error::ApiError::BadUserInput`] naming `field` for an invalid id.
pub fn decode_ids(
    field: &str,
    node_type: NodeType,
    ids: Option<&Vec<ID>>,
) -> ApiResult<Option<Vec<Uuid>>> {
    ids.map(|ids| {
        ids.iter()
            .map(|id| ids::decode_as(field, node_type, id))
            .collect()
    })
    .transpose()
}
