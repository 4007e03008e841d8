//! The root `Subscription`: committed changes pushed over `GET /graphql/ws`
//! (graphql-transport-ws). Every event is checked against the subscriber's tenancy before it is
//! sent; filters narrow further.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::{Context, ErrorExtensions, ID, InputObject, Result, ResultExt, Subscription};
use futures_util::{Stream, StreamExt};

use crate::auth::Viewer;
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

/// How long a subscriber's rights are trusted before they are resolved again from the database:
/// a deactivated person or an ended engagement stops the feed within this time of the next
/// event.
pub const REAUTHORIZE_AFTER: Duration = Duration::from_secs(1);

/// The committed events `pick` selects, among those the caller may see. Tenancy is checked
/// here, once, for every subscription, and against the caller's rights as they are now: before
/// an event is sent, an expired token ends the feed, and rights older than
/// [`REAUTHORIZE_AFTER`] are resolved again (a deactivated person, a role or an engagement that
/// ended since `connection_init`). A feed whose rights ended sends one error saying why, then
/// completes.
fn scoped<T, F>(
    ctx: &Context<'_>,
    pick: F,
) -> ApiResult<impl Stream<Item = Result<T>> + Send + use<T, F>>
where
    T: Send + 'static,
    F: Fn(&Event) -> Option<T> + Send + Sync + 'static,
{
    let viewer = ctx.viewer()?.clone();
    let db = ctx.db()?.clone();
    let bus = ctx.data_opt::<EventBus>().ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!("no event bus in the subscription context"))
    })?;
    let rights = Arc::new(tokio::sync::Mutex::new((viewer, Instant::now())));
    let pick = Arc::new(pick);
    let stream = bus.subscribe().then(move |event: Arc<Event>| {
        let (rights, db, pick) = (Arc::clone(&rights), db.clone(), Arc::clone(&pick));
        async move {
            let mut rights = rights.lock().await;
            if rights.0.expired_at(jsonwebtoken::get_current_timestamp()) {
                return Delivery::Ended(ApiError::Unauthenticated(
                    "the token expired; subscribe again with a new one".to_owned(),
                ));
            }
            if rights.1.elapsed() >= REAUTHORIZE_AFTER {
                match Viewer::resolve(&db, &rights.0.claims).await {
                    Ok(now) => *rights = (now, Instant::now()),
                    Err(error) => return Delivery::Ended(error),
                }
            }
            if rights.0.can_see_organization(event.organization_id()) {
                pick(&event).map_or(Delivery::Skip, Delivery::Send)
            } else {
                Delivery::Skip
            }
        }
    });
    // Send what may be sent; after a refusal (sent as an error) end at once, without waiting
    // for another event.
    Ok(futures_util::stream::unfold(
        (Box::pin(stream), false),
        |(mut stream, ended)| async move {
            if ended {
                return None;
            }
            loop {
                match stream.next().await? {
                    Delivery::Send(value) => return Some((Ok(value), (stream, false))),
                    Delivery::Skip => {}
                    Delivery::Ended(error) => {
                        tracing::info!(%error, "subscription ended: its rights ended");
                        return Some((Err(error.extend()), (stream, true)));
                    }
                }
            }
        },
    ))
}

/// What one event means for one subscriber.
enum Delivery<T> {
    /// Send it.
    Send(T),
    /// Not for this subscriber (another tenant, or outside its filter).
    Skip,
    /// The subscriber's rights ended: say why and stop.
    Ended(ApiError),
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
    ) -> Result<impl Stream<Item = Result<ChangeLogEntry>> + use<>> {
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
    ) -> Result<impl Stream<Item = Result<Ticket>> + use<>> {
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
    ) -> Result<impl Stream<Item = Result<Alert>> + use<>> {
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
