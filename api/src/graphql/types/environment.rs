//! `Environment`: a client's IT estate or a part of it.

use async_graphql::{Context, ID, Object, Result, ResultExt};
use entities::{environment, organization};
use sea_orm::prelude::DateTimeUtc;

use crate::error::ApiError;
use crate::graphql::ids::{self, NodeType};
use crate::graphql::loaders::load_by_id;
use crate::graphql::types::Organization;
use crate::graphql::types::enums::ComplianceFramework;

/// A client's IT estate or a part of it (production, one office), with its compliance frameworks.
pub struct Environment(pub environment::Model);

/// A client's IT estate or a part of it (production, one office), with its compliance frameworks.
#[Object]
impl Environment {
    /// Global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Environment, self.0.id)
    }

    /// Name, unique within the organization.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What the environment covers.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    /// The compliance frameworks the environment is held to.
    async fn compliance_frameworks(&self) -> Result<Vec<ComplianceFramework>> {
        let frameworks: Vec<entities::enums::ComplianceFramework> =
            serde_json::from_value(self.0.compliance_frameworks.clone())
                .map_err(|error| ApiError::Internal(error.into()))
                .extend()?;
        Ok(frameworks.into_iter().map(Into::into).collect())
    }

    /// The client organization that owns the environment.
    async fn organization(&self, ctx: &Context<'_>) -> Result<Organization> {
        load_by_id::<organization::Entity>(ctx, self.0.organization_id)
            .await
            .and_then(|found| found.ok_or(ApiError::NotFound("organization")))
            .map(Organization)
            .extend()
    }

    /// When the environment was archived; archived environments keep their history.
    async fn archived_at(&self) -> Option<DateTimeUtc> {
        self.0.archived_at
    }

    /// When the environment was created.
    async fn created_at(&self) -> DateTimeUtc {
        self.0.created_at
    }

    /// When the environment was last changed.
    async fn updated_at(&self) -> DateTimeUtc {
        self.0.updated_at
    }
}
