//! `Engagement`: a provider serving a client for a period.

use async_graphql::{Context, ID, Object, Result, ResultExt};
use chrono::Utc;
use entities::{engagement, organization};
use sea_orm::prelude::DateTimeUtc;

use crate::graphql::loaders::load_required;
use crate::graphql::scalars::Date;
use crate::graphql::types::Organization;
use crate::graphql::types::enums::OperatingModel;
use crate::ids::{self, NodeType};

/// A provider serving a client.
pub struct Engagement(pub engagement::Model);

/// A provider serving a client under an operating model, from a start date to an optional end
/// date. A transition between operating models is a new engagement; the old one keeps its history.
#[Object]
impl Engagement {
    /// Global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Engagement, self.0.id)
    }

    /// The managed service provider.
    async fn provider(&self, ctx: &Context<'_>) -> Result<Organization> {
        load_required::<organization::Entity>(ctx, self.0.provider_id)
            .await
            .map(Organization)
            .extend()
    }

    /// The client served.
    async fn client(&self, ctx: &Context<'_>) -> Result<Organization> {
        load_required::<organization::Entity>(ctx, self.0.client_id)
            .await
            .map(Organization)
            .extend()
    }

    /// Fully managed or co-managed.
    async fn operating_model(&self) -> OperatingModel {
        self.0.operating_model.into()
    }

    /// First day of the engagement.
    async fn starts_on(&self) -> Date {
        Date(self.0.starts_on)
    }

    /// Day the engagement ends (exclusive); null while open-ended.
    async fn ends_on(&self) -> Option<Date> {
        self.0.ends_on.map(Date)
    }

    /// Whether the engagement is in force today (UTC).
    async fn active(&self) -> bool {
        let today = Utc::now().date_naive();
        self.0.starts_on <= today && self.0.ends_on.is_none_or(|ends_on| today < ends_on)
    }

    /// Free-form notes.
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }

    /// When the engagement was recorded.
    async fn created_at(&self) -> DateTimeUtc {
        self.0.created_at
    }

    /// When the engagement was last changed.
    async fn updated_at(&self) -> DateTimeUtc {
        self.0.updated_at
    }
}
