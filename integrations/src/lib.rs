//! Connectors to the PSA and RMM tools MSPs run (ConnectWise Manage, Autotask, HaloPSA,
//! NinjaOne, Datto RMM), and the sync engine that writes what they return.
//!
//! The crate exists so that the dependency direction is fixed from the start:
//! `api -> integrations -> entities`. Its connectors and sync engine arrive with the integrations
//! issue; the tables they write (`integrations`, `integration_mappings`, `value_mappings`,
//! `system_links`, `sync_runs`, `sync_run_errors`, `sync_cursors`) already exist.
//!
//! Invariants, to keep when the code lands:
//! - no axum or async-graphql here: connectors return neutral records, not wire types;
//! - only the sync module writes to the database, one transaction per page with its cursor;
//! - credentials never appear in logs or errors.
