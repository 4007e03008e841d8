//! The root `Subscription`: committed changes pushed over `GET /graphql/ws`
//! (graphql-transport-ws). Every event is checked against the subscriber's tenancy before it is
//! sent; filters narrow further.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Result, ResultExt, Subscription};
use futures_util::{Stream, StreamExt};

use crate::error::{ApiError, ApiResult};
use crate::events::{Event, EventBus};
use crate::graphql::context::ContextExt;
use crate::graphql::query::decode_ids;
use crate::graphql::types::enums::{ChangeCategory, ChangeSource, Priority, TicketStatus};
use crate::graphql::types::{Alert, ChangeLogEntry, Ticket};
use crate::ids::NodeType;

/// The root of every subscription.
#[derive(Default)]
pub struct SubscriptionRoot;

/// Narrows `changeLogEntryRecorded`.
#[derive(InputObject, Default)]
pub struct ChangeLogSubscriptionFilter {
    /// Only entries in these environments.
    pub environment_ids: Option<Vec<ID>>,
    /// Only entries from these sources.
    pub sources: Option<Vec<ChangeSource>>,
    /// Only entries of these categories.
    pub categories: Option<Vec<ChangeCategory>>,
}

/// Narrows `ticketChanged`.
#[derive(InputObject, Default)]
pub struct TicketSubscriptionFilter {
    /// Only tickets of these environments.
    pub environment_ids: Option<Vec<ID>>,
    /// Only tickets that are now in one of these statuses.
    pub statuses: Option<Vec<TicketStatus>>,
}

/// Narrows `alertRaised`.
#[derive(InputObject, Default)]
pub struct AlertSubscriptionFilter {
    /// Only alerts of these environments.
    pub environment_ids: Option<Vec<ID>>,
    /// Only alerts of these severities.
    pub severities: Option<Vec<Priority>>,
}

/// The committed events `pick` selects, among those the caller may see. Tenancy is checked
/// here, once, for every subscription.
fn scoped<T, F>(ctx: &Context<'_>, pick: F) -> ApiResult<impl Stream<Item = T> + Send + use<T, F>>
where
    T: Send + 'static,
    F: Fn(&Event) -> Option<T> + Send + 'static,
{
    let viewer = ctx.viewer()?.clone();
    let bus = ctx.data_opt::<EventBus>().ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!("no event bus in the subscription context"))
    })?;
    Ok(bus.subscribe().filter_map(move |event: Arc<Event>| {
        let picked = if viewer.can_see_organization(event.organization_id()) {
            pick(&event)
        } else {
            None
        };
        async move { picked }
    }))
}

/// Whether a filter list (absent: anything) allows `value`.
fn allows<T: PartialEq>(filter: Option<&Vec<T>>, value: &T) -> bool {
    filter.is_none_or(|allowed| allowed.contains(value))
}

/// A filter list of GraphQL enum values as the stored values events carry.
fn stored<A: Into<B>, B>(values: Option<Vec<A>>) -> Option<Vec<B>> {
    values.map(|values| values.into_iter().map(Into::into).collect())
}

/// Committed changes, pushed to the caller as they happen (`GET /graphql/ws`).
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Change log entries as they are committed, in the environments the caller may see.
    async fn change_log_entry_recorded(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows what is sent.")] filter: Option<ChangeLogSubscriptionFilter>,
    ) -> Result<impl Stream<Item = ChangeLogEntry> + use<>> {
        let filter = filter.unwrap_or_default();
        let environments = decode_ids(
            "filter.environmentIds",
            NodeType::Environment,
            filter.environment_ids.as_ref(),
        )
        .extend()?;
        let sources: Option<Vec<entities::enums::ChangeSource>> = stored(filter.sources);
        let categories: Option<Vec<entities::enums::ChangeCategory>> = stored(filter.categories);
        scoped(ctx, move |event| match event {
            Event::ChangeLogEntryRecorded { entry, .. }
                if allows(environments.as_ref(), &entry.environment_id)
                    && allows(sources.as_ref(), &entry.source)
                    && allows(categories.as_ref(), &entry.category) =>
            {
                Some(ChangeLogEntry(entry.clone()))
            }
            _ => None,
        })
        .extend()
    }

    /// Tickets as they are created or changed (committed), in the environments the caller may
    /// see.
    async fn ticket_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows what is sent.")] filter: Option<TicketSubscriptionFilter>,
    ) -> Result<impl Stream<Item = Ticket> + use<>> {
        let filter = filter.unwrap_or_default();
        let environments = decode_ids(
            "filter.environmentIds",
            NodeType::Environment,
            filter.environment_ids.as_ref(),
        )
        .extend()?;
        let statuses: Option<Vec<entities::enums::TicketStatus>> = stored(filter.statuses);
        scoped(ctx, move |event| match event {
            Event::TicketChanged { ticket, .. }
                if allows(environments.as_ref(), &ticket.environment_id)
                    && allows(statuses.as_ref(), &ticket.status) =>
            {
                Some(Ticket(ticket.clone()))
            }
            _ => None,
        })
        .extend()
    }

    /// Alerts as they are raised (committed), in the environments the caller may see.
    async fn alert_raised(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows what is sent.")] filter: Option<AlertSubscriptionFilter>,
    ) -> Result<impl Stream<Item = Alert> + use<>> {
        let filter = filter.unwrap_or_default();
        let environments = decode_ids(
            "filter.environmentIds",
            NodeType::Environment,
            filter.environment_ids.as_ref(),
        )
        .extend()?;
        let severities: Option<Vec<entities::enums::Priority>> = stored(filter.severities);
        scoped(ctx, move |event| match event {
            Event::AlertRaised { alert, .. }
                if allows(environments.as_ref(), &alert.environment_id)
                    && allows(severities.as_ref(), &alert.severity) =>
            {
                Some(Alert(alert.clone()))
            }
            _ => None,
        })
        .extend()
    }
}
