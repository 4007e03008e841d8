//! The GraphQL schema: types, the query root, and what every request carries.
//!
//! - `pagination`: cursor connections with keyset paging, the page-size cap and `totalCount`.
//! - `loaders`: DataLoaders, one per relation, created per request so caches never go stale.
//! - `query`: the root `Query` object.
//! - `types`: one module per GraphQL object; each wraps an entity model.
//!
//! Resolvers stay thin: they read the [`crate::auth::Viewer`] from the context, apply its
//! tenancy, and map models to types. Every error leaves through [`crate::error::ApiError`].

pub mod context;
/// Relay global ids, kept under this path for callers that name it here.
pub use crate::ids;
pub mod limits;
pub mod loaders;
pub mod mutation;
pub mod order;
pub mod pagination;
pub mod query;
pub mod scalars;
pub mod scope;
pub mod shape;
pub mod subscription;
pub mod types;

use async_graphql::Schema;

/// Deepest query accepted.
pub const MAX_DEPTH: usize = 12;
/// Largest query complexity accepted.
pub const MAX_COMPLEXITY: usize = 5_000;

/// The executable schema.
pub type AppSchema = Schema<query::Query, mutation::Mutation, subscription::SubscriptionRoot>;

/// Options of the executable schema.
#[derive(Debug, Clone, Copy)]
pub struct SchemaOptions {
    /// Whether `__schema` and `__type` answer (on by default; off hides the schema from
    /// clients that do not already have it).
    pub introspection: bool,
}

impl Default for SchemaOptions {
    fn default() -> Self {
        Self {
            introspection: true,
        }
    }
}

/// The description of the `DateTime` scalar (the library's own says only "RFC3339").
pub const DATE_TIME_DESCRIPTION: &str = "An instant, as an RFC 3339 string. \
Output is always UTC, written with the offset `+00:00`, with fractional seconds only when they \
are not zero (3 or 6 digits), e.g. `2026-03-01T09:30:00+00:00` or \
`2026-03-01T09:30:00.123456+00:00`. Input takes any RFC 3339 offset (`Z`, `+02:00`, ...) and \
is converted to UTC. Instants are stored to the microsecond on both databases, so finer \
digits do not come back.";

/// Builds the schema. Per-request data (viewer, loaders) is attached to each request instead.
///
/// Every response reports the query's computed cost and depth in `extensions.analyzer`.
pub fn build_schema(options: SchemaOptions) -> AppSchema {
    let builder = Schema::build(
        query::Query::default(),
        mutation::Mutation::default(),
        subscription::SubscriptionRoot,
    )
    // Depth and cost are checked by `limits::Limits` (`limits::check_selection`, and the cost
    // after validation): the library's own depth limit counts introspection too, and refused
    // every standard tool's introspection query; its cost error names neither the cost nor the
    // limit. The same extension reports each response's cost and depth.
    .override_output_type_description::<chrono::DateTime<chrono::Utc>>(DATE_TIME_DESCRIPTION)
    // `Shape` puts every response in selection order and propagates nulls as the spec says, and
    // runs the limits in its own hooks: the library wraps every field's resolution in every
    // registered extension, so each extension costs every field. `ResumeTokens` is outermost,
    // so each subscription event's final response gets its resume token.
    .extension(subscription::ResumeTokens)
    .extension(shape::Shape::with_limits());
    if options.introspection {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    }
}

/// The schema in SDL, as `tandem schema` prints it and `api/schema.graphql` stores it.
pub fn sdl() -> String {
    build_schema(SchemaOptions::default()).sdl()
}
