//! GraphQL's HTTP transport: `/graphql` over HTTP (`graphql`) and subscriptions over WebSocket
//! (`ws`), the GraphiQL page and its embedded assets (`graphiql`), and the access log of every
//! request (`summary`). The schema itself lives in `crate::graphql`, which knows nothing of HTTP.

pub mod graphiql;
pub mod graphql;
pub mod summary;
pub mod ws;
