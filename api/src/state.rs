//! What every HTTP handler shares: [`AppState`], and the request id header.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::auth::JwtKeys;
use crate::events::EventBus;
use crate::graphql::AppSchema;

/// The header carrying the request id, in both directions.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The database pool.
    pub db: DatabaseConnection,
    /// Verifies bearer tokens.
    pub jwt: Arc<JwtKeys>,
    /// The executable GraphQL schema.
    pub schema: AppSchema,
    /// Runs syncs: on demand, from webhooks, on schedule.
    pub sync: crate::sync::service::SyncService,
    /// Committed writes, fanned out to subscriptions.
    pub events: EventBus,
    /// How often WebSocket clients are pinged and their rights rechecked.
    pub ws_keepalive: std::time::Duration,
}
