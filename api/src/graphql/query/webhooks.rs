//! `webhookEndpoints` and the delivery log (`WebhookEndpoint.deliveries`): admins of the
//! endpoint's organization only, never another organization's, whatever it sees otherwise.

use async_graphql::{Context, Object, Result, ResultExt};
use entities::enums::{Role, WebhookDeliveryStatus};
use entities::{webhook_delivery, webhook_endpoint};
use sea_orm::QueryFilter;
use sea_orm::prelude::*;

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};
use crate::graphql::context::ContextExt;
use crate::graphql::order::order_by;
use crate::graphql::pagination::{Page, PageArgs, page_cost, paginate};
use crate::graphql::types::{WebhookDelivery, WebhookEndpoint};

/// Outbound webhook endpoints.
#[derive(Default)]
pub struct WebhookQuery;

order_by! {
    /// How to sort webhook endpoints.
    WebhookEndpointOrder,
    /// The fields webhook endpoints can be sorted by.
    WebhookEndpointOrderField for webhook_endpoint default CreatedAt {
        /// By creation time.
        CreatedAt => CreatedAt as Instant,
    }
}

order_by! {
    /// How to sort webhook deliveries.
    WebhookDeliveryOrder,
    /// The fields webhook deliveries can be sorted by.
    WebhookDeliveryOrderField for webhook_delivery default CreatedAt {
        /// By creation time.
        CreatedAt => CreatedAt as Instant,
    }
}

/// Whether `viewer` manages the webhooks of organization `id`: an admin of it.
#[must_use]
pub fn manages_webhooks_of(viewer: &Viewer, id: Uuid) -> bool {
    viewer.role == Role::Admin && viewer.organization.id == id
}

#[Object]
impl WebhookQuery {
    /// The outbound webhook endpoints of the caller's organization, oldest first (admins only;
    /// deleted ones only with `includeDeleted`). Secrets are never returned.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn webhook_endpoints(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Also deleted endpoints (their logs stay).", default)]
        include_deleted: bool,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<WebhookEndpoint>> {
        list_endpoints(
            ctx,
            include_deleted,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .await
        .extend()
    }
}

async fn list_endpoints(
    ctx: &Context<'_>,
    include_deleted: bool,
    page: PageArgs,
) -> ApiResult<Page<WebhookEndpoint>> {
    let viewer = ctx.viewer()?;
    if viewer.role != Role::Admin {
        return Err(ApiError::Forbidden(
            "webhookEndpoints needs the role ADMIN".to_owned(),
        ));
    }
    let mut select = webhook_endpoint::Entity::find().filter(
        webhook_endpoint::COLUMN
            .organization_id
            .eq(viewer.organization.id),
    );
    if !include_deleted {
        select = select.filter(webhook_endpoint::COLUMN.deleted_at.is_null());
    }
    paginate(
        ctx,
        select,
        WebhookEndpointOrder::ordering(None),
        page,
        WebhookEndpoint,
    )
    .await
}

/// The deliveries of endpoint `endpoint_id` (already shown to the viewer), oldest first.
///
/// # Errors
/// A malformed event id or bad paging arguments; database errors.
pub async fn list_deliveries(
    ctx: &Context<'_>,
    endpoint_id: Uuid,
    statuses: Option<Vec<WebhookDeliveryStatus>>,
    event_id: Option<String>,
    page: PageArgs,
) -> ApiResult<Page<WebhookDelivery>> {
    let mut select = webhook_delivery::Entity::find()
        .filter(webhook_delivery::COLUMN.endpoint_id.eq(endpoint_id));
    if let Some(statuses) = statuses {
        select = select.filter(webhook_delivery::COLUMN.status.is_in(statuses));
    }
    if let Some(text) = event_id {
        let id = crate::graphql::types::webhook::parse_event_id(&text).ok_or_else(|| {
            ApiError::BadUserInput {
                field: Some("eventId".to_owned()),
                message: "`eventId` is an event id as deliveries send it".to_owned(),
            }
        })?;
        select = select.filter(webhook_delivery::COLUMN.event_id.eq(id));
    }
    paginate(
        ctx,
        select,
        WebhookDeliveryOrder::ordering(None),
        page,
        WebhookDelivery,
    )
    .await
}
