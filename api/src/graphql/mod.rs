//! The GraphQL schema: types, the query root, and what every request carries.
//!
//! - `ids`: Relay global ids (`node(id:)`), opaque to clients.
//! - `pagination`: cursor connections with keyset paging, the page-size cap and `totalCount`.
//! - `loaders`: DataLoaders, one per relation, created per request so caches never go stale.
//! - `query`: the root `Query` object.
//! - `types`: one module per GraphQL object; each wraps an entity model.
//!
//! Resolvers stay thin: they read the [`crate::auth::Viewer`] from the context, apply its
//! tenancy, and map models to types. Every error leaves through [`crate::error::ApiError`].

pub mod context;
pub mod http;
pub mod ids;
pub mod loaders;
pub mod order;
pub mod pagination;
pub mod query;
pub mod scalars;
pub mod scope;
pub mod types;

use async_graphql::{EmptyMutation, EmptySubscription, Schema};

/// Deepest query accepted.
pub const MAX_DEPTH: usize = 12;
/// Largest query complexity accepted.
pub const MAX_COMPLEXITY: usize = 5_000;

/// The executable schema.
pub type AppSchema = Schema<query::Query, EmptyMutation, EmptySubscription>;

/// Builds the schema. Per-request data (viewer, loaders) is attached to each request instead.
pub fn build_schema() -> AppSchema {
    Schema::build(query::Query::default(), EmptyMutation, EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .finish()
}

/// The schema in SDL, as `tandem schema` prints it and `api/schema.graphql` stores it.
pub fn sdl() -> String {
    build_schema().sdl()
}
