//! The root `Query`: the caller, global object lookup, and the root lists.
//!
//! Every root list starts from [`crate::auth::Viewer::visible_organization_ids`], so a caller
//! never sees, counts or pages over another tenant's rows.

use async_graphql::{Context, ID, InputObject, Object, Result, ResultExt};
use entities::{environment, organization, person};
use sea_orm::QueryFilter;
use sea_orm::prelude::*;

use crate::error::{ApiError, ApiResult};
use crate::graphql::context::ContextExt;
use crate::graphql::ids::{self, NodeType};
use crate::graphql::loaders::load_by_id;
use crate::graphql::pagination::{MAX_PAGE_SIZE, Ordering, Page, PageArgs, paginate};
use crate::graphql::types::enums::OrganizationKind;
use crate::graphql::types::{Environment, Node, Organization, Person, Viewer};

/// The root of every read.
pub struct Query;

/// Narrows `organizations`.
#[derive(InputObject, Default)]
pub struct OrganizationFilter {
    /// Only organizations of this kind.
    pub kind: Option<OrganizationKind>,
}

/// Narrows `environments`.
#[derive(InputObject, Default)]
pub struct EnvironmentFilter {
    /// Only environments of these organizations.
    pub organization_ids: Option<Vec<ID>>,
    /// Include archived environments (default: false).
    #[graphql(default)]
    pub include_archived: bool,
}

/// The root of every read.
#[Object]
impl Query {
    /// The caller: the person and organization the token names, and the role it claims.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Viewer> {
        ctx.viewer().cloned().map(Viewer).extend()
    }

    /// The object with this global id, or null when it does not exist or the caller may not see
    /// it (the two are indistinguishable on purpose).
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global id.")] id: ID,
    ) -> Result<Option<Node>> {
        find_node(ctx, &id).await.extend()
    }

    /// The objects with these global ids, in the same order; null where `node` would be null.
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global ids, at most 100.")] ids: Vec<ID>,
    ) -> Result<Vec<Option<Node>>> {
        if ids.len() as u64 > MAX_PAGE_SIZE {
            return Err(ApiError::bad_input(
                "ids",
                format!("at most {MAX_PAGE_SIZE} ids per call"),
            ))
            .extend();
        }
        let mut nodes = Vec::with_capacity(ids.len());
        for id in &ids {
            nodes.push(find_node(ctx, id).await.extend()?);
        }
        Ok(nodes)
    }

    /// The organizations the caller may see: their own, and for a provider the clients it has an
    /// active engagement with. Oldest first.
    async fn organizations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<OrganizationFilter>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Organization>> {
        let viewer = ctx.viewer().extend()?;
        let filter = filter.unwrap_or_default();
        let mut select = organization::Entity::find().filter(
            organization::COLUMN
                .id
                .is_in(viewer.visible_organization_ids().iter().copied()),
        );
        if let Some(kind) = filter.kind {
            select = select.filter(
                organization::COLUMN
                    .kind
                    .eq(entities::enums::OrganizationKind::from(kind)),
            );
        }
        paginate(
            ctx,
            select,
            Ordering::by_id(),
            PageArgs {
                first,
                after,
                last,
                before,
            },
            Organization,
        )
        .await
        .extend()
    }

    /// The environments of the organizations the caller may see. Oldest first.
    async fn environments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<EnvironmentFilter>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Environment>> {
        let viewer = ctx.viewer().extend()?;
        let filter = filter.unwrap_or_default();
        let mut organization_ids = viewer.visible_organization_ids().to_vec();
        if let Some(requested) = &filter.organization_ids {
            let requested = requested
                .iter()
                .map(|id| ids::decode_as("filter.organizationIds", NodeType::Organization, id))
                .collect::<ApiResult<Vec<_>>>()
                .extend()?;
            organization_ids.retain(|id| requested.contains(id));
        }
        let mut select = environment::Entity::find()
            .filter(environment::COLUMN.organization_id.is_in(organization_ids));
        if !filter.include_archived {
            select = select.filter(environment::COLUMN.archived_at.is_null());
        }
        paginate(
            ctx,
            select,
            Ordering::by_id(),
            PageArgs {
                first,
                after,
                last,
                before,
            },
            Environment,
        )
        .await
        .extend()
    }
}

/// Resolves a global id to a node the viewer may see.
async fn find_node(ctx: &Context<'_>, id: &ID) -> ApiResult<Option<Node>> {
    let viewer = ctx.viewer()?;
    let (node_type, uuid) = ids::decode("id", id)?;
    let node = match node_type {
        NodeType::Organization => load_by_id::<organization::Entity>(ctx, uuid)
            .await?
            .filter(|found| viewer.can_see_organization(found.id))
            .map(|found| Node::Organization(Organization(found))),
        NodeType::Environment => load_by_id::<environment::Entity>(ctx, uuid)
            .await?
            .filter(|found| viewer.can_see_organization(found.organization_id))
            .map(|found| Node::Environment(Environment(found))),
        NodeType::Person => load_by_id::<person::Entity>(ctx, uuid)
            .await?
            .filter(|found| viewer.can_see_organization(found.organization_id))
            .map(|found| Node::Person(Person(found))),
    };
    Ok(node)
}
