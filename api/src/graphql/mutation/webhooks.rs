//! Managing outbound webhook endpoints (admins of their organization): create, update, rotate
//! the secret, delete, and replay an event. The rules live in [`services::webhooks`]; these
//! resolvers decode ids and present the outcome. The secret is returned only by
//! `createWebhookEndpoint` and `rotateWebhookEndpointSecret`, once.

use async_graphql::{
    Context, ID, InputObject, MaybeUndefined, Object, Result, ResultExt, SimpleObject,
};

use crate::error::ApiResult;
use crate::events::EventBus;
use crate::graphql::context::ContextExt;
use crate::graphql::mutation::{
    Check, CheckIds, CheckRequired, UserErrorCode, payload, user_errors,
};
use crate::graphql::types::webhook::{WebhookEventType, parse_event_id};
use crate::graphql::types::{WebhookDelivery, WebhookEndpoint};
use crate::ids::NodeType;
use crate::services::{self, ServiceError};
use crate::sync::service::SyncService;

/// Managing outbound webhooks.
#[derive(Default)]
pub struct WebhookMutation;

/// A new endpoint.
#[derive(InputObject)]
pub struct CreateWebhookEndpointInput {
    /// Where deliveries are POSTed: an https URL at a public address (the rules of vendor base
    /// URLs).
    pub url: String,
    /// For people (at most 500 characters).
    pub description: Option<String>,
    /// The event types it receives (at least one).
    pub event_types: Vec<WebhookEventType>,
    /// Whether deliveries are made (default true).
    #[graphql(default = true)]
    pub enabled: bool,
    /// An integration of the organization whose own events (its tokens' writes, its sync runs)
    /// are not delivered here, so two-way automations do not loop.
    pub skip_integration_id: Option<ID>,
}

/// Changes to an endpoint; omitted fields stay as they are.
#[derive(InputObject)]
pub struct UpdateWebhookEndpointInput {
    /// The endpoint.
    pub id: ID,
    /// New URL (cannot be null).
    pub url: MaybeUndefined<String>,
    /// New description; null or empty clears it.
    pub description: MaybeUndefined<String>,
    /// New event types (cannot be null).
    pub event_types: MaybeUndefined<Vec<WebhookEventType>>,
    /// Enable or disable it (cannot be null).
    pub enabled: MaybeUndefined<bool>,
    /// The integration whose events it skips; null clears it.
    pub skip_integration_id: MaybeUndefined<ID>,
}

/// An endpoint to act on.
#[derive(InputObject)]
pub struct WebhookEndpointActionInput {
    /// The endpoint.
    pub id: ID,
}

/// An event to deliver again.
#[derive(InputObject)]
pub struct ReplayWebhookEventInput {
    /// The event's id (`Tandem-Event-Id`, the body's `id`, `WebhookDelivery.eventId`).
    pub event_id: String,
    /// The endpoint to deliver it to.
    pub endpoint_id: ID,
}

/// The result of a mutation that makes a secret: the endpoint and, this once, its secret.
#[derive(SimpleObject, Default)]
pub struct WebhookEndpointSecretPayload {
    /// The endpoint as it is now.
    pub endpoint: Option<WebhookEndpoint>,
    /// The signing secret: shown only here, now; store it where the receiver can read it.
    pub secret: Option<String>,
    /// Problems with the input; when any, nothing was written.
    pub user_errors: Vec<crate::graphql::mutation::UserErrorObject>,
}

impl WebhookEndpointSecretPayload {
    fn from_outcome(
        outcome: services::ServiceResult<services::webhooks::WithSecret>,
    ) -> ApiResult<Self> {
        match outcome {
            Ok(made) => Ok(Self {
                endpoint: Some(WebhookEndpoint(made.endpoint)),
                secret: Some(made.secret),
                user_errors: Vec::new(),
            }),
            Err(ServiceError::Refused(errors)) => Ok(Self {
                user_errors: user_errors(errors),
                ..Self::default()
            }),
            Err(other) => Err(other.into()),
        }
    }
}

payload! {
    /// The result of `updateWebhookEndpoint` and `deleteWebhookEndpoint`.
    WebhookEndpointPayload {
        /// The endpoint as it is now.
        endpoint: WebhookEndpoint
    }
}

payload! {
    /// The result of `replayWebhookEvent`.
    ReplayWebhookEventPayload {
        /// The new delivery, due now.
        delivery: WebhookDelivery
    }
}

#[Object]
impl WebhookMutation {
    /// Registers an outbound webhook endpoint of the caller's organization (admins) and returns
    /// its signing secret, once.
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: CreateWebhookEndpointInput,
    ) -> Result<WebhookEndpointSecretPayload> {
        create(ctx, input).await.extend()
    }

    /// Changes an endpoint's URL, description, event types, state or skipped integration.
    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: UpdateWebhookEndpointInput,
    ) -> Result<WebhookEndpointPayload> {
        update(ctx, input).await.extend()
    }

    /// Gives an endpoint a new signing secret and returns it, once; the old one stops at once.
    async fn rotate_webhook_endpoint_secret(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint.")] input: WebhookEndpointActionInput,
    ) -> Result<WebhookEndpointSecretPayload> {
        rotate(ctx, input).await.extend()
    }

    /// Deletes an endpoint: nothing more is delivered to it; its log stays readable.
    async fn delete_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint.")] input: WebhookEndpointActionInput,
    ) -> Result<WebhookEndpointPayload> {
        delete(ctx, input).await.extend()
    }

    /// Delivers an event to an endpoint once more, as a new delivery (for an event the
    /// endpoint's organization may see, within the retention window).
    async fn replay_webhook_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to replay; see the input type.")] input: ReplayWebhookEventInput,
    ) -> Result<ReplayWebhookEventPayload> {
        replay(ctx, input).await.extend()
    }
}

fn key<'c>(ctx: &Context<'c>) -> Option<&'c integrations::secrets::SecretKey> {
    ctx.data_unchecked::<SyncService>().key.as_deref()
}

fn egress(ctx: &Context<'_>) -> integrations::egress::Egress {
    ctx.data_unchecked::<SyncService>().egress
}

async fn create(
    ctx: &Context<'_>,
    input: CreateWebhookEndpointInput,
) -> ApiResult<WebhookEndpointSecretPayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let skip = input
        .skip_integration_id
        .as_ref()
        .and_then(|id| check.id("skipIntegrationId", NodeType::Integration, id));
    let endpoint = services::webhooks::NewEndpoint {
        url: input.url,
        description: input.description,
        event_types: input.event_types.into_iter().map(Into::into).collect(),
        enabled: input.enabled,
        skip_integration_id: skip,
    };
    let outcome = services::webhooks::create_endpoint(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        key(ctx),
        egress(ctx),
        endpoint,
        check,
    )
    .await;
    WebhookEndpointSecretPayload::from_outcome(outcome)
}

async fn update(
    ctx: &Context<'_>,
    input: UpdateWebhookEndpointInput,
) -> ApiResult<WebhookEndpointPayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let skip = match input.skip_integration_id {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(id) => {
            Some(check.id("skipIntegrationId", NodeType::Integration, &id))
        }
    };
    let change = services::webhooks::EndpointChange {
        id: check.id("id", NodeType::WebhookEndpoint, &input.id),
        url: check.required("url", input.url),
        description: crate::graphql::mutation::clearable(input.description),
        event_types: check
            .required("eventTypes", input.event_types)
            .map(|types| types.into_iter().map(Into::into).collect()),
        enabled: check.required("enabled", input.enabled),
        skip_integration_id: skip,
    };
    let outcome = services::webhooks::update_endpoint(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        egress(ctx),
        change,
        check,
    )
    .await;
    WebhookEndpointPayload::from_outcome(outcome.map(WebhookEndpoint))
}

async fn rotate(
    ctx: &Context<'_>,
    input: WebhookEndpointActionInput,
) -> ApiResult<WebhookEndpointSecretPayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let id = check.id("id", NodeType::WebhookEndpoint, &input.id);
    let outcome = services::webhooks::rotate_secret(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        key(ctx),
        id,
        check,
    )
    .await;
    WebhookEndpointSecretPayload::from_outcome(outcome)
}

async fn delete(
    ctx: &Context<'_>,
    input: WebhookEndpointActionInput,
) -> ApiResult<WebhookEndpointPayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let id = check.id("id", NodeType::WebhookEndpoint, &input.id);
    let outcome = services::webhooks::delete_endpoint(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        id,
        check,
    )
    .await;
    WebhookEndpointPayload::from_outcome(outcome.map(WebhookEndpoint))
}

async fn replay(
    ctx: &Context<'_>,
    input: ReplayWebhookEventInput,
) -> ApiResult<ReplayWebhookEventPayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let event_id = parse_event_id(&input.event_id);
    if event_id.is_none() {
        check.fail(
            "eventId",
            UserErrorCode::Invalid,
            "`eventId` is an event id as deliveries send it",
        );
    }
    let endpoint_id = check.id("endpointId", NodeType::WebhookEndpoint, &input.endpoint_id);
    let outcome = services::webhooks::replay(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        event_id,
        endpoint_id,
        check,
    )
    .await;
    ReplayWebhookEventPayload::from_outcome(outcome.map(WebhookDelivery))
}
