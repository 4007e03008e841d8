//! `viewer`, `node` and `nodes`.

use async_graphql::{Context, ID, Object, Result, ResultExt};
use entities::{
    alert, change_log_entry, compliance_obligation, engagement, environment, evidence_record,
    function, integration, organization, responsibility, runbook, runbook_revision, sync_run,
    system, system_link, team, ticket, ticket_note, webhook_delivery, webhook_endpoint,
};

use crate::auth;
use crate::error::{ApiError, ApiResult};
use crate::graphql::context::ContextExt;
use crate::graphql::loaders::load_by_id;
use crate::graphql::pagination::MAX_PAGE_SIZE;
use crate::graphql::query::webhooks::manages_webhooks_of;
use crate::graphql::scope::{can_see_environment, can_see_integration, visible_person};
use crate::graphql::types::{
    Alert, ChangeLogEntry, ComplianceObligation, Engagement, Environment, EvidenceRecord,
    ExternalId, Function, Integration, Node, Organization, Person, Responsibility, Runbook,
    RunbookRevision, SyncRun, System, Team, Ticket, TicketNote, Viewer, WebhookDelivery,
    WebhookEndpoint,
};
use crate::ids::{self, NodeType};

/// The caller and global object lookup.
#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
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
    #[graphql(complexity = "1 + ids.len() * child_complexity")]
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global ids, at most 100.")] ids: Vec<ID>,
    ) -> Result<Vec<Option<Node>>> {
        if ids.len() as u64 > MAX_PAGE_SIZE {
            return Err(ApiError::over_limit(
                crate::error::ErrorCode::BadUserInput,
                Some("ids"),
                format!("at most {MAX_PAGE_SIZE} ids per call (got {})", ids.len()),
                MAX_PAGE_SIZE,
                ids.len() as u64,
            ))
            .extend();
        }
        let lookups = ids.iter().map(|id| find_node(ctx, id));
        let nodes = futures_util::future::try_join_all(lookups).await.extend()?;
        Ok(nodes)
    }
}

/// Resolves a global id to a node the viewer may see.
///
/// # Errors
/// [`ApiError::BadUserInput`] for an id Tandem did not issue; database errors.
pub async fn find_node(ctx: &Context<'_>, id: &ID) -> ApiResult<Option<Node>> {
    let viewer = ctx.viewer()?;
    let (node_type, uuid) = ids::decode("id", id)?;
    let node = match node_type {
        NodeType::Organization => load_by_id::<organization::Entity>(ctx, uuid)
            .await?
            .filter(|found| viewer.can_see_organization(found.id))
            .map(|found| Node::Organization(Organization(found))),
        NodeType::Engagement => load_by_id::<engagement::Entity>(ctx, uuid)
            .await?
            .filter(|found| is_party(viewer, found))
            .map(|found| Node::Engagement(Engagement(found))),
        NodeType::Team => load_by_id::<team::Entity>(ctx, uuid)
            .await?
            .filter(|found| viewer.can_see_organization(found.organization_id))
            .map(|found| Node::Team(Team(found))),
        NodeType::Person => visible_person(ctx, viewer, Some(uuid))
            .await?
            .map(|found| Node::Person(Person(found))),
        NodeType::Environment => load_by_id::<environment::Entity>(ctx, uuid)
            .await?
            .filter(|found| viewer.can_see_organization(found.organization_id))
            .map(|found| Node::Environment(Environment(found))),
        NodeType::Function => load_by_id::<function::Entity>(ctx, uuid)
            .await?
            .filter(|found| {
                found
                    .organization_id
                    .is_none_or(|owner| viewer.can_see_organization(owner))
            })
            .map(|found| Node::Function(Function(found))),
        NodeType::Integration => visible_integration(ctx, viewer, uuid)
            .await?
            .map(|found| Node::Integration(Integration(found))),
        NodeType::SyncRun => match load_by_id::<sync_run::Entity>(ctx, uuid).await? {
            Some(run) => visible_integration(ctx, viewer, run.integration_id)
                .await?
                .map(|_| Node::SyncRun(SyncRun(run))),
            None => None,
        },
        NodeType::System => {
            in_environment::<system::Entity>(ctx, viewer, uuid, |found| found.environment_id)
                .await?
                .map(|found| Node::System(System(found)))
        }
        NodeType::Responsibility => {
            in_environment::<responsibility::Entity>(ctx, viewer, uuid, |found| {
                found.environment_id
            })
            .await?
            .map(|found| Node::Responsibility(Responsibility(found)))
        }
        NodeType::Runbook => {
            in_environment::<runbook::Entity>(ctx, viewer, uuid, |found| found.environment_id)
                .await?
                .map(|found| Node::Runbook(Runbook(found)))
        }
        NodeType::ChangeLogEntry => {
            in_environment::<change_log_entry::Entity>(ctx, viewer, uuid, |found| {
                found.environment_id
            })
            .await?
            .map(|found| Node::ChangeLogEntry(ChangeLogEntry(found)))
        }
        NodeType::Ticket => {
            in_environment::<ticket::Entity>(ctx, viewer, uuid, |found| found.environment_id)
                .await?
                .map(|found| Node::Ticket(Ticket(found)))
        }
        NodeType::Alert => {
            in_environment::<alert::Entity>(ctx, viewer, uuid, |found| found.environment_id)
                .await?
                .map(|found| Node::Alert(Alert(found)))
        }
        NodeType::RunbookRevision => match load_by_id::<runbook_revision::Entity>(ctx, uuid).await?
        {
            Some(revision) => {
                in_environment::<runbook::Entity>(ctx, viewer, revision.runbook_id, |found| {
                    found.environment_id
                })
                .await?
                .map(|_| Node::RunbookRevision(RunbookRevision(revision)))
            }
            None => None,
        },
        NodeType::TicketNote => match load_by_id::<ticket_note::Entity>(ctx, uuid).await? {
            Some(note) => in_environment::<ticket::Entity>(ctx, viewer, note.ticket_id, |found| {
                found.environment_id
            })
            .await?
            .map(|_| Node::TicketNote(TicketNote(note))),
            None => None,
        },
        // The catalog is the same for everyone.
        NodeType::ComplianceObligation => load_by_id::<compliance_obligation::Entity>(ctx, uuid)
            .await?
            .map(|found| Node::ComplianceObligation(ComplianceObligation(found))),
        NodeType::EvidenceRecord => {
            in_environment::<evidence_record::Entity>(ctx, viewer, uuid, |found| {
                found.environment_id
            })
            .await?
            .map(|found| Node::EvidenceRecord(EvidenceRecord::new(found)))
        }
        NodeType::ExternalId => find_external(ctx, viewer, uuid)
            .await?
            .map(Node::ExternalId),
        // A change set is a filter value, not an object.
        NodeType::ChangeSet => None,
        // Endpoints and their deliveries: admins of the endpoint's organization only.
        NodeType::WebhookEndpoint => load_by_id::<webhook_endpoint::Entity>(ctx, uuid)
            .await?
            .filter(|found| manages_webhooks_of(viewer, found.organization_id))
            .map(|found| Node::WebhookEndpoint(WebhookEndpoint(found))),
        NodeType::WebhookDelivery => match load_by_id::<webhook_delivery::Entity>(ctx, uuid).await?
        {
            Some(delivery) => load_by_id::<webhook_endpoint::Entity>(ctx, delivery.endpoint_id)
                .await?
                .filter(|found| manages_webhooks_of(viewer, found.organization_id))
                .map(|_| Node::WebhookDelivery(WebhookDelivery(delivery))),
            None => None,
        },
    };
    Ok(node)
}

/// The integration `id` if the viewer may see it (see `visible_integrations`).
async fn visible_integration(
    ctx: &Context<'_>,
    viewer: &auth::Viewer,
    id: uuid::Uuid,
) -> ApiResult<Option<integration::Model>> {
    let Some(found) = load_by_id::<integration::Entity>(ctx, id).await? else {
        return Ok(None);
    };
    Ok(can_see_integration(ctx, viewer, &found)
        .await?
        .then_some(found))
}

/// The external record held by the row `holder`: a system link, or the ticket, alert or change
/// log entry whose own columns hold it; null when none holds one or the caller may not see it.
async fn find_external(
    ctx: &Context<'_>,
    viewer: &auth::Viewer,
    holder: uuid::Uuid,
) -> ApiResult<Option<ExternalId>> {
    if let Some(link) = load_by_id::<system_link::Entity>(ctx, holder).await? {
        let system = in_environment::<system::Entity>(ctx, viewer, link.system_id, |found| {
            found.environment_id
        })
        .await?;
        return Ok(system
            .map(|_| ExternalId::new(link.id, link.source, link.external_id, link.external_url)));
    }
    if let Some(found) =
        in_environment::<ticket::Entity>(ctx, viewer, holder, |found| found.environment_id).await?
    {
        return Ok(ExternalId::from_columns(
            found.id,
            &found.external_source,
            &found.external_id,
            &found.external_url,
        )
        .pop());
    }
    if let Some(found) =
        in_environment::<alert::Entity>(ctx, viewer, holder, |found| found.environment_id).await?
    {
        return Ok(ExternalId::from_columns(
            found.id,
            &found.external_source,
            &found.external_id,
            &found.external_url,
        )
        .pop());
    }
    Ok(
        in_environment::<change_log_entry::Entity>(ctx, viewer, holder, |found| {
            found.environment_id
        })
        .await?
        .and_then(|found| {
            ExternalId::from_columns(
                found.id,
                &found.external_source,
                &found.external_id,
                &found.external_url,
            )
            .pop()
        }),
    )
}

/// Whether the viewer's organization is a party to `engagement`.
pub fn is_party(viewer: &auth::Viewer, engagement: &engagement::Model) -> bool {
    viewer.organization.id == engagement.client_id
        || viewer.organization.id == engagement.provider_id
}

/// Loads an environment-scoped `E` and keeps it only if the viewer may see its environment.
async fn in_environment<E>(
    ctx: &Context<'_>,
    viewer: &auth::Viewer,
    id: uuid::Uuid,
    environment_of: impl Fn(&E::Model) -> uuid::Uuid,
) -> ApiResult<Option<E::Model>>
where
    E: crate::graphql::loaders::Keyed,
    E::Model: Clone + Send + Sync + 'static,
{
    let Some(found) = load_by_id::<E>(ctx, id).await? else {
        return Ok(None);
    };
    Ok(can_see_environment(ctx, viewer, environment_of(&found))
        .await?
        .then_some(found))
}
