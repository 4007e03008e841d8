//! The sync engine: reads an integration's vendor through its connector and writes what it finds,
//! crash-safe and idempotent.
//!
//! - `engine`: one run of one integration: the lease (one run at a time, also across processes
//!   sharing a database), the sync run record, lookups into value mappings, and per resource the
//!   page loop where each page's writes and its cursor commit in one transaction.
//! - `store`: what one page writes: companies to mapping names, devices to systems (matched across
//!   PSA and RMM), tickets and alerts (routed by the matrix when new), changes to the change log.
//! - `service`: runs from the server: on demand in the background, and on schedule.
//!
//! Sealing and opening an integration's credentials lives in `services::credentials` (the
//! integration services seal them).

pub mod engine;
pub mod service;
pub mod store;
pub mod writeback;

pub use crate::services::external::change_source;

pub use engine::{SyncError, SyncOptions, SyncReport, run};

use entities::enums::IntegrationKind;
use uuid::Uuid;

/// The `source` an integration's records carry (`external_source`, system links): the vendor's
/// name and the start of the integration's id, so two tenants of one vendor never share ids.
#[must_use]
pub fn source_of(kind: IntegrationKind, integration_id: Uuid) -> String {
    let kind = sea_orm::ActiveEnum::to_value(&kind);
    let id = integration_id.simple().to_string();
    format!("{kind}:{}", &id[id.len() - 12..])
}
