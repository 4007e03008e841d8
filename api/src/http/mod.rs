//! GraphQL's HTTP transport: `/graphql` over HTTP (`graphql`) and subscriptions over WebSocket
//! (`ws`). The schema itself lives in `crate::graphql`, which knows nothing of HTTP.

pub mod graphql;
pub mod ws;
