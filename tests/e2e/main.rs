//! End-to-end tests: one binary, one module per area. Each test gets its own database (SQLite
//! by default, PostgreSQL when `TANDEM_TEST_DATABASE_URL` is set) and its own server.

mod auth;
mod change_log;
mod demo;
mod directory;
mod egress;
mod export;
mod fuzz;
mod gaps;
mod graphql;
mod hardening;
mod health;
mod http;
mod jwks;
mod matrix;
mod migrations;
mod mutations;
mod nesting;
mod people_visibility;
mod races;
mod reads;
mod routing;
mod schema;
mod subscriptions;
mod sync;
mod sync_engine;
mod sync_fidelity;
mod sync_notes;
mod tenancy;
mod upserts;
mod vendors;
mod write_safety;
mod write_tenancy;
