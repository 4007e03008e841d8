//! Tandem's server: the GraphQL API over HTTP, and everything the `tandem` binary does.
//!
//! Layout:
//! - `cli`: the `tandem` subcommands (`serve`, `migrate`, `token`, `schema`); `main.rs` only
//!   calls [`cli::run`].
//! - `config`: typed settings from flags and `TANDEM_*` variables; the only reader of the
//!   environment.
//! - `startup`: [`startup::Application`] binds the listener and runs the server until a
//!   shutdown signal; tests start it on port 0.
//! - `router`: every HTTP route and middleware layer in one function; `state`: what every
//!   handler shares; `http`: GraphQL's HTTP and WebSocket transport.
//! - `rest`: the few non-GraphQL routes (health, readiness, exports, packages).
//! - `graphql`: the schema, its types and loaders; `ids`: the public global ids
//!   (`base64url("<Type>:<uuid>")`) every front door decodes.
//! - `auth`: tokens and the [`auth::Viewer`] that scopes every read to a tenant.
//! - `db`: connecting and migrating; `demo`: the demo data of `serve --demo`.
//! - `matrix`: which responsibility decides who owns what, at an instant, and where new tickets
//!   and alerts are routed; `gaps`: what an environment's matrix leaves uncovered;
//!   `packages`: evidence, handoff and exit archives (read models, built byte for byte).
//!   `compliance`: the obligations of an environment's frameworks, their periods, evidence and owners.
//!   `sla`: due times on an environment's calendar, and breaches.
//! - `services`: every rule that changes data, shared by GraphQL, REST, the CLI, the sync
//!   engine and the demo loader; GraphQL resolvers only adapt them.
//! - `error`: [`error::ApiError`], the single place errors become responses.
//! - `events`: committed writes fanned out to GraphQL subscriptions.
//! - `sync`: the sync engine writing what integrations' connectors read.
//! - `telemetry`: logging; `tls`: the TLS provider and HTTP client for outgoing calls.

pub mod auth;
pub mod cli;
pub mod compliance;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod events;
pub mod gaps;
pub mod graphql;
pub mod http;
pub mod ids;
pub mod matrix;
pub mod metrics;
pub mod outbox;
pub mod packages;
pub mod readiness;
pub mod rest;
pub mod router;
pub mod services;
pub mod sla;
pub mod startup;
pub mod state;
pub mod sync;
pub mod telemetry;
pub mod tls;
pub mod writeback;
