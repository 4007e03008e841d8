//! `Function`: an area of responsibility, mapped to NIST CSF 2.0.

use async_graphql::{Context, ID, Object, Result, ResultExt};
use entities::{function, organization};
use sea_orm::prelude::DateTimeUtc;

use crate::error::ApiError;
use crate::graphql::loaders::load_required;
use crate::graphql::types::Organization;
use crate::graphql::types::enums::{ComplianceFramework, CsfFunction, SystemKind};
use crate::ids::{self, NodeType};

/// An area of responsibility.
pub struct Function(pub function::Model);

/// An area of responsibility (service desk, patching, EDR, backup and recovery, ...), mapped to a
/// NIST CSF 2.0 function and category. Standard functions are shared by everyone; an organization
/// may add its own.
#[Object]
impl Function {
    /// Global id. Standard functions have the same id on every installation.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Function, self.0.id)
    }

    /// Stable key, such as `patching`.
    async fn key(&self) -> &str {
        &self.0.key
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What the function covers.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// The NIST CSF 2.0 function.
    async fn csf_function(&self) -> CsfFunction {
        self.0.csf_function.into()
    }

    /// The NIST CSF 2.0 category, such as `PR.PS`.
    async fn csf_category(&self) -> &str {
        &self.0.csf_category
    }

    /// The compliance frameworks that require an owner for this function.
    async fn required_by(&self) -> Result<Vec<ComplianceFramework>> {
        let frameworks: Vec<entities::enums::ComplianceFramework> =
            serde_json::from_value(self.0.required_by.clone())
                .map_err(|error| ApiError::Internal(error.into()))
                .extend()?;
        Ok(frameworks.into_iter().map(Into::into).collect())
    }

    /// The kinds of systems it applies to one by one (backup and recovery: servers, virtual
    /// machines, cloud tenants, backup sets); empty for a function of the environment as a whole
    /// (the service desk, risk assessment). The gap report checks each live system of these kinds
    /// for an agreed owner of the function.
    async fn applies_to(&self) -> Vec<SystemKind> {
        crate::matrix::applies_to(&self.0)
            .into_iter()
            .map(Into::into)
            .collect()
    }

    /// Whether this is a standard function (shared by everyone) rather than an organization's own.
    async fn standard(&self) -> bool {
        self.0.organization_id.is_none()
    }

    /// The organization that added it; null for standard functions.
    async fn organization(&self, ctx: &Context<'_>) -> Result<Option<Organization>> {
        match self.0.organization_id {
            Some(id) => load_required::<organization::Entity>(ctx, id)
                .await
                .map(|found| Some(Organization(found)))
                .extend(),
            None => Ok(None),
        }
    }

    /// When the function was added.
    async fn created_at(&self) -> DateTimeUtc {
        self.0.created_at
    }

    /// When the function was last changed.
    async fn updated_at(&self) -> DateTimeUtc {
        self.0.updated_at
    }
}
