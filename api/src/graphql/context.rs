//! What resolvers read from the request context, with errors instead of panics.

use async_graphql::Context;
use sea_orm::DatabaseConnection;

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};

/// Typed access to the per-request data every resolver needs.
pub trait ContextExt {
    /// The authenticated caller.
    ///
    /// # Errors
    /// [`ApiError::Unauthenticated`] when the request carries no viewer.
    fn viewer(&self) -> ApiResult<&Viewer>;

    /// The database pool.
    ///
    /// # Errors
    /// [`ApiError::Internal`] when the schema was executed without one.
    fn db(&self) -> ApiResult<&DatabaseConnection>;

    /// "Now" for this request: one instant for every field that reads "now", so a list of
    /// systems asks the matrix once (the loaders group by instant); the clock where the request
    /// did not set one (subscriptions).
    fn now(&self) -> chrono::DateTime<chrono::Utc>;
}

/// The instant an HTTP request started, shared by every field of it that reads "now".
#[derive(Debug, Clone, Copy)]
pub struct RequestNow(pub chrono::DateTime<chrono::Utc>);

impl ContextExt for Context<'_> {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.data_opt::<RequestNow>()
            .map_or_else(chrono::Utc::now, |now| now.0)
    }

    fn viewer(&self) -> ApiResult<&Viewer> {
        self.data_opt::<Viewer>()
            .ok_or_else(|| ApiError::Unauthenticated("authentication required".to_owned()))
    }

    fn db(&self) -> ApiResult<&DatabaseConnection> {
        self.data_opt::<DatabaseConnection>().ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!("no database in the GraphQL context"))
        })
    }
}
