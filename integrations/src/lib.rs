//! Connectors to the PSA and RMM tools MSPs run (ConnectWise Manage, Autotask, HaloPSA,
//! NinjaOne, Datto RMM): the shared HTTP layer, OAuth2 tokens, the [`Connector`] trait every
//! vendor implements, the neutral records they return, credential sealing, webhook signature
//! checks, and (feature `mock`) mock vendor servers for tests and benchmarks.
//!
//! Layout:
//! - `egress`: where vendor calls may go (public `https` only, unless the operator allows
//!   private addresses), checked on URLs and at connect time.
//! - `http`: reqwest with timeouts, backoff with jitter, 429 and `Retry-After`.
//! - `oauth`: cached OAuth2 tokens (client credentials, password grant).
//! - `model`: the neutral records ([`model::Record`]) and their vendor values.
//! - `connector`: the [`Connector`] trait, paging as streams, [`connector::build`].
//! - `connectors`: one module per vendor.
//! - `normalize`: seeding status, priority and device-kind mappings from vendor signals.
//! - `time`: every vendor timestamp format to UTC.
//! - `secrets`: sealing credentials with `TANDEM_SECRET_KEY`.
//! - `webhooks`: verifying each vendor's callback signature or shared secret.
//! - `mock` (feature): axum mock servers faithful to each vendor's paging, filters, auth, rate
//!   limiting and error bodies.
//!
//! Invariants:
//! - no database here: connectors return neutral records; `api::sync` writes them, one
//!   transaction per page with its cursor;
//! - credentials never appear in logs or errors (they travel in headers and form bodies, never
//!   in URLs);
//! - every outbound call goes through [`http::HttpClient`], which applies [`egress::Egress`]:
//!   only public addresses unless the operator allows private ones, no redirects followed;
//! - errors never carry a vendor's body or OAuth error text, and every failure to get an
//!   answer reads the same ([`ConnectorError`]);
//! - axum only behind the `mock` feature.

pub mod connector;
pub mod connectors;
pub mod egress;
pub mod error;
pub mod http;
#[cfg(feature = "mock")]
pub mod mock;
pub mod model;
pub mod normalize;
pub mod oauth;
pub mod secrets;
pub mod time;
pub mod webhooks;

pub use connector::{Connector, Cursor};
pub use error::ConnectorError;
