//! The root `Subscription`: committed changes pushed over `GET /graphql/ws`
//! (graphql-transport-ws). Every event is checked against the subscriber's tenancy and current
//! [`Standing`] before it is sent; filters narrow further.
//!
//! Each event goes out with its resume token in the response's `extensions.eventId`
//! ([`ResumeTokens`]); a field given `after: <token>` first sends what the caller missed since
//! (`events::resume`: read back from the outbox, through the same tenancy check and filter),
//! then the live events committed after the last one replayed: the bus is subscribed to before
//! the outbox is read, and live events at or below the replay's last `seq` are dropped, so
//! nothing is sent twice and nothing falls between. A token it cannot resume from is refused
//! with `RESYNC_REQUIRED` and the feed completes.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextSubscribe,
};
use async_graphql::{
    Context, ErrorExtensions, ID, InputObject, Request, Response, Result, ResultExt, ServerResult,
    Subscription, Value,
};
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};

use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::events::resume::{self, Feed, Refused};
use crate::events::{Event, EventBus, Published};
use crate::graphql::context::ContextExt;
use crate::graphql::query::decode_ids;
use crate::graphql::types::enums::{ChangeCategory, ChangeSource, Priority, TicketStatus};
use crate::graphql::types::{Alert, ChangeLogEntry, Escalation, Ticket};
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

/// Narrows `escalated`.
#[derive(InputObject, Default)]
pub struct EscalationSubscriptionFilter {
    /// Only escalations of these environments.
    pub environment_ids: Option<Vec<ID>>,
}

/// How long a subscriber's rights are trusted before they are resolved again from the database.
/// Changes made through this server, or through another server on the same PostgreSQL database
/// (`events::fanout`), announce themselves on the bus (`Event::AccessChanged`) and are checked
/// before the next event; this bounds the rest (the database edited by hand, a server on its
/// own) to this time of the next event, or the keep-alive interval without events.
pub const REAUTHORIZE_AFTER: Duration = Duration::from_secs(1);

/// graphql-transport-ws's close code for a caller whose authentication failed or lapsed.
pub const CLOSE_UNAUTHORIZED: u16 = 4401;
/// graphql-transport-ws's close code for a caller who is authenticated but no longer allowed.
pub const CLOSE_FORBIDDEN: u16 = 4403;
/// The WebSocket close code for a server that cannot go on (here: it could not check rights).
pub const CLOSE_INTERNAL: u16 = 1011;
/// The close code of a caller over its rate: WebSocket's "try again later" (the reason says
/// when).
pub const CLOSE_TRY_AGAIN_LATER: u16 = 1013;

/// Why a connection's rights ended, as its close frame says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// The close code: [`CLOSE_UNAUTHORIZED`], [`CLOSE_FORBIDDEN`] or [`CLOSE_INTERNAL`].
    pub code: u16,
    /// The reason, for people.
    pub reason: String,
}

impl Ended {
    /// The close frame for a refusal: authentication failures close with 4401, a lack of
    /// rights with 4403, anything else (the database could not be asked) with 1011.
    pub fn from_error(error: &ApiError) -> Self {
        let code = match error.code() {
            ErrorCode::Unauthenticated => CLOSE_UNAUTHORIZED,
            ErrorCode::Forbidden => CLOSE_FORBIDDEN,
            ErrorCode::RateLimited => CLOSE_TRY_AGAIN_LATER,
            _ => CLOSE_INTERNAL,
        };
        Self {
            code,
            reason: error.public_message(),
        }
    }

    /// The error a feed sends before it completes.
    fn to_error(&self) -> ApiError {
        match self.code {
            CLOSE_UNAUTHORIZED => ApiError::Unauthenticated(self.reason.clone()),
            CLOSE_FORBIDDEN => ApiError::Forbidden(self.reason.clone()),
            _ => ApiError::Internal(anyhow::anyhow!("{}", self.reason)),
        }
    }
}

/// A subscriber's standing over the life of a connection: the rights it connected with, and its
/// rights now, resolved again from the database when they are older than
/// [`REAUTHORIZE_AFTER`]. It ends, for good, when the token expires, when the person or their
/// organization no longer authenticates, when the token's role is no longer held, or when an
/// organization the caller could see at `connection_init` is no longer visible (an engagement
/// ended); the connection is then closed (`http::ws`) with [`Ended`]'s code.
pub struct Standing {
    db: DatabaseConnection,
    /// The organizations visible at `connection_init`, and those whose people were: losing any
    /// of them ends the connection (nested fields resolve with the viewer of `connection_init`,
    /// so a connection whose people rights narrowed must not go on).
    opened_with: Vec<Uuid>,
    people_opened_with: Vec<Uuid>,
    now: tokio::sync::Mutex<(Viewer, Instant)>,
    ended: std::sync::Mutex<Option<Ended>>,
    /// Where the end is announced, so the connection is closed (none outside a WebSocket).
    close: Option<tokio::sync::mpsc::UnboundedSender<Ended>>,
}

impl Standing {
    /// The standing of `viewer`, as resolved at `connection_init`.
    pub fn new(
        db: DatabaseConnection,
        viewer: Viewer,
        close: Option<tokio::sync::mpsc::UnboundedSender<Ended>>,
    ) -> Self {
        Self {
            db,
            opened_with: viewer.visible_organization_ids().to_vec(),
            people_opened_with: viewer.people_organization_ids().to_vec(),
            now: tokio::sync::Mutex::new((viewer, Instant::now())),
            ended: std::sync::Mutex::new(None),
            close,
        }
    }

    /// Whether the caller may still see organization `id`, or why its rights ended.
    ///
    /// # Errors
    /// [`Ended`] once the standing is lost (and ever after).
    pub async fn can_see(&self, id: Uuid) -> Result<bool, Ended> {
        let now = self.check(false).await?;
        Ok(now.0.can_see_organization(id))
    }

    /// The organizations the caller may see, resolved again now (a replay reads history: rights
    /// that ended must not read it).
    ///
    /// # Errors
    /// [`Ended`] once the standing is lost (and ever after).
    pub async fn visible(&self) -> Result<Vec<Uuid>, Ended> {
        let now = self.check(true).await?;
        Ok(now.0.visible_organization_ids().to_vec())
    }

    /// Resolves the caller's rights again now if a change of `organization_id`'s engagements or
    /// people may touch them (the caller sees that organization or its people).
    ///
    /// # Errors
    /// [`Ended`] once the standing is lost (and ever after).
    pub async fn affected_by(&self, organization_id: Uuid) -> Result<(), Ended> {
        let touched = {
            let now = self.now.lock().await;
            now.0.can_see_organization(organization_id) || now.0.can_see_people_of(organization_id)
        };
        if touched {
            self.recheck().await
        } else {
            self.check(false).await.map(drop)
        }
    }

    /// Resolves the caller's rights again now, whatever their age (the keep-alive tick does,
    /// so that a connection without events is closed too).
    ///
    /// # Errors
    /// [`Ended`] once the standing is lost (and ever after).
    pub async fn recheck(&self) -> Result<(), Ended> {
        self.check(true).await.map(drop)
    }

    async fn check(
        &self,
        force: bool,
    ) -> Result<tokio::sync::MutexGuard<'_, (Viewer, Instant)>, Ended> {
        if let Some(ended) = self.ended_already() {
            return Err(ended);
        }
        let mut now = self.now.lock().await;
        let verdict = if now.0.expired_at(jsonwebtoken::get_current_timestamp()) {
            Err(Ended {
                code: CLOSE_UNAUTHORIZED,
                reason: "the token expired; connect again with a new one".to_owned(),
            })
        } else if force || now.1.elapsed() >= REAUTHORIZE_AFTER {
            match Viewer::resolve(&self.db, &now.0.claims).await {
                Ok(resolved)
                    if self.opened_with.iter().any(|id| !resolved.can_see_organization(*id))
                        || self
                            .people_opened_with
                            .iter()
                            .any(|id| !resolved.can_see_people_of(*id)) =>
                {
                    Err(Ended {
                        code: CLOSE_FORBIDDEN,
                        reason: "an engagement this connection could see through has ended; connect again".to_owned(),
                    })
                }
                Ok(resolved) => {
                    *now = (resolved, Instant::now());
                    Ok(())
                }
                Err(error) => Err(Ended::from_error(&error)),
            }
        } else {
            Ok(())
        };
        match verdict {
            Ok(()) => Ok(now),
            Err(ended) => Err(self.end(ended)),
        }
    }

    fn ended_already(&self) -> Option<Ended> {
        self.ended
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Records the end (the first one stands) and announces it once.
    fn end(&self, ended: Ended) -> Ended {
        let mut slot = self
            .ended
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(first) = slot.as_ref() {
            return first.clone();
        }
        tracing::info!(code = ended.code, reason = %ended.reason, "subscription rights ended");
        if let Some(close) = &self.close {
            // A closed receiver means the connection is already going away.
            let _ = close.send(ended.clone());
        }
        *slot = Some(ended.clone());
        ended
    }
}

/// The feed of the alerts `pick` selects among committed events, narrowed by `filter`: what
/// `alertRaised` and `alertChanged` share.
fn alert_feed(
    ctx: &Context<'_>,
    filter: Option<AlertSubscriptionFilter>,
    (feed, after): (Feed, Option<String>),
    pick: fn(&Event) -> Option<&entities::alert::Model>,
) -> Result<impl Stream<Item = Result<Alert>> + use<>> {
    let filter = filter.unwrap_or_default();
    let environments = decode_ids(
        "filter.environmentIds",
        NodeType::Environment,
        filter.environment_ids.as_ref(),
    )
    .extend()?;
    let severities: Option<Vec<entities::enums::Priority>> = stored(filter.severities);
    scoped(ctx, feed, after, move |event| {
        pick(event)
            .filter(|alert| {
                allows(environments.as_ref(), &alert.environment_id)
                    && allows(severities.as_ref(), &alert.severity)
            })
            .map(|alert| Alert(alert.clone()))
    })
    .extend()
}

/// The committed events `pick` selects, among those the caller may see, after the event the
/// resume token `after` names when there is one (`feed` says which outbox rows make this
/// subscription's events). Tenancy is checked here, once, for every subscription, and against
/// the caller's [`Standing`] as it is now: a feed whose rights ended sends one error saying why,
/// then completes, and the connection is closed with the protocol's code.
fn scoped<T, F>(
    ctx: &Context<'_>,
    feed: Feed,
    after: Option<String>,
    pick: F,
) -> ApiResult<impl Stream<Item = Result<T>> + Send + use<T, F>>
where
    T: Send + 'static,
    F: Fn(&Event) -> Option<T> + Send + Sync + 'static,
{
    let standing = match ctx.data_opt::<Arc<Standing>>() {
        Some(standing) => Arc::clone(standing),
        // Outside a WebSocket connection (an in-process stream): the same rules, nothing to close.
        None => Arc::new(Standing::new(
            ctx.db()?.clone(),
            ctx.viewer()?.clone(),
            None,
        )),
    };
    let bus = ctx.data_opt::<EventBus>().ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!("no event bus in the subscription context"))
    })?;
    // Subscribed before the outbox is read back: whatever commits from here on is on the bus.
    let live = bus.subscribe_marked();
    let db = ctx.db()?.clone();
    let tokens = ctx.data_opt::<EventIds>().cloned();
    // The last `seq` the replay sent (none: nothing to drop).
    let through = Arc::new(AtomicI64::new(i64::MIN));
    let replayed = {
        let (standing, through) = (Arc::clone(&standing), Arc::clone(&through));
        futures_util::stream::once(async move {
            let Some(after) = after else {
                return Vec::new();
            };
            let visible = match standing.visible().await {
                Ok(visible) => visible,
                Err(ended) => return vec![Step::Stop(ended.to_error())],
            };
            match resume::replay(&db, &after, feed, &visible).await {
                Ok(replay) => {
                    through.store(replay.through, Ordering::SeqCst);
                    replay.events.into_iter().map(Step::Event).collect()
                }
                Err(Refused::Resync(reason)) => vec![Step::Stop(ApiError::Request {
                    code: ErrorCode::ResyncRequired,
                    message: reason.to_owned(),
                })],
                Err(Refused::Database(error)) => vec![Step::Stop(error.into())],
            }
        })
        .flat_map(futures_util::stream::iter)
    };
    let live = live
        .filter(move |published| {
            let seen = published
                .mark
                .is_some_and(|mark| mark.seq <= through.load(Ordering::SeqCst));
            std::future::ready(!seen)
        })
        .map(Step::Event);
    let pick = Arc::new(pick);
    let stream = replayed.chain(live).then(move |step: Step| {
        let (standing, pick) = (Arc::clone(&standing), Arc::clone(&pick));
        async move {
            let published = match step {
                Step::Event(published) => published,
                Step::Stop(error) => return Delivery::Ended(error),
            };
            let event = &*published.event;
            let organization_id = match event {
                // Rights may have ended just now: check them before anything that follows.
                Event::AccessChanged { organization_id } => {
                    return match standing.affected_by(*organization_id).await {
                        Ok(()) => Delivery::Skip,
                        Err(ended) => Delivery::Ended(ended.to_error()),
                    };
                }
                // Another server's changes may have been missed: anyone's rights may have ended.
                Event::EventsMissed => {
                    return match standing.recheck().await {
                        Ok(()) => Delivery::Skip,
                        Err(ended) => Delivery::Ended(ended.to_error()),
                    };
                }
                Event::ChangeLogEntryRecorded {
                    organization_id, ..
                }
                | Event::TicketChanged {
                    organization_id, ..
                }
                | Event::AlertRaised {
                    organization_id, ..
                }
                | Event::Escalated {
                    organization_id, ..
                }
                | Event::AlertChanged {
                    organization_id, ..
                } => *organization_id,
            };
            match standing.can_see(organization_id).await {
                Ok(true) => pick(event).map_or(Delivery::Skip, |value| {
                    Delivery::Send(value, published.mark.map(resume::token))
                }),
                Ok(false) => Delivery::Skip,
                Err(ended) => Delivery::Ended(ended.to_error()),
            }
        }
    });
    // Send what may be sent; after a refusal (sent as an error) end at once, without waiting
    // for another event.
    // The gauge of open subscriptions counts this one until the stream is dropped.
    let open = crate::metrics::OpenSubscription::open();
    Ok(futures_util::stream::unfold(
        (Box::pin(stream), false, open, tokens),
        |(mut stream, ended, open, tokens)| async move {
            if ended {
                return None;
            }
            loop {
                match stream.next().await? {
                    Delivery::Send(value, token) => {
                        if let Some(tokens) = &tokens {
                            tokens.push(token);
                        }
                        return Some((Ok(value), (stream, false, open, tokens)));
                    }
                    Delivery::Skip => {}
                    Delivery::Ended(error) => {
                        if let Some(tokens) = &tokens {
                            tokens.push(None);
                        }
                        return Some((Err(error.extend()), (stream, true, open, tokens)));
                    }
                }
            }
        },
    ))
}

/// One step of a feed: an event (replayed or live), or the end of a replay that cannot be.
enum Step {
    Event(Published),
    Stop(ApiError),
}

/// The resume tokens of one subscription's events, in the order they are sent: the feed pushes
/// each event's token (`None` for an error) as it yields it, and [`ResumeTokens`] takes it for
/// the response that event becomes.
#[derive(Clone, Default)]
pub struct EventIds(Arc<std::sync::Mutex<VecDeque<Option<String>>>>);

impl EventIds {
    fn push(&self, token: Option<String>) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push_back(token);
    }

    fn pop(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front()
            .flatten()
    }
}

/// The extension that puts each subscription event's resume token in its response's
/// `extensions.eventId` (graphql-transport-ws's `next` payload), so the payload types stay as
/// they are. A subscription operation has one root field (the GraphQL spec's rule), so its
/// responses come one per event of one feed, in order.
#[derive(Default)]
pub struct ResumeTokens;

impl ExtensionFactory for ResumeTokens {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ResumeTokensExtension(EventIds::default()))
    }
}

struct ResumeTokensExtension(EventIds);

#[async_trait::async_trait]
impl Extension for ResumeTokensExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        next.run(ctx, request.data(self.0.clone())).await
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let tokens = self.0.clone();
        next.run(ctx, stream)
            .map(move |mut response| {
                if let Some(token) = tokens.pop() {
                    response
                        .extensions
                        .insert("eventId".to_owned(), Value::String(token));
                }
                response
            })
            .boxed()
    }
}

/// What one event means for one subscriber.
enum Delivery<T> {
    /// Send it, with its resume token.
    Send(T, Option<String>),
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
        #[graphql(
            desc = "Resume after this event: the last `extensions.eventId` received. The events \
                    missed since are sent first (at most 1000), then live ones; a token that \
                    cannot be resumed from is refused with `RESYNC_REQUIRED`."
        )]
        after: Option<String>,
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
        scoped(ctx, Feed::Entries, after, move |event| match event {
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
        #[graphql(
            desc = "Resume after this event: the last `extensions.eventId` received. The events \
                    missed since are sent first (at most 1000), then live ones; a token that \
                    cannot be resumed from is refused with `RESYNC_REQUIRED`."
        )]
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<Ticket>> + use<>> {
        let filter = filter.unwrap_or_default();
        let environments = decode_ids(
            "filter.environmentIds",
            NodeType::Environment,
            filter.environment_ids.as_ref(),
        )
        .extend()?;
        let statuses: Option<Vec<entities::enums::TicketStatus>> = stored(filter.statuses);
        scoped(ctx, Feed::Tickets, after, move |event| match event {
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
        #[graphql(
            desc = "Resume after this event: the last `extensions.eventId` received. The events \
                    missed since are sent first (at most 1000), then live ones; a token that \
                    cannot be resumed from is refused with `RESYNC_REQUIRED`."
        )]
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<Alert>> + use<>> {
        alert_feed(
            ctx,
            filter,
            (Feed::AlertsRaised, after),
            |event| match event {
                Event::AlertRaised { alert, .. } => Some(alert),
                _ => None,
            },
        )
    }

    /// Alerts as they are acknowledged or resolved (committed), in the environments the caller
    /// may see; `status` says which.
    async fn alert_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows what is sent.")] filter: Option<AlertSubscriptionFilter>,
        #[graphql(
            desc = "Resume after this event: the last `extensions.eventId` received. The events \
                    missed since are sent first (at most 1000), then live ones; a token that \
                    cannot be resumed from is refused with `RESYNC_REQUIRED`."
        )]
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<Alert>> + use<>> {
        alert_feed(
            ctx,
            filter,
            (Feed::AlertsChanged, after),
            |event| match event {
                Event::AlertChanged { alert, .. } => Some(alert),
                _ => None,
            },
        )
    }

    /// Escalations of tickets and alerts as they are committed, in the environments the caller
    /// may see.
    async fn escalated(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows what is sent.")] filter: Option<EscalationSubscriptionFilter>,
        #[graphql(
            desc = "Resume after this event: the last `extensions.eventId` received. The events \
                    missed since are sent first (at most 1000), then live ones; a token that \
                    cannot be resumed from is refused with `RESYNC_REQUIRED`."
        )]
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<Escalation>> + use<>> {
        let filter = filter.unwrap_or_default();
        let environments = decode_ids(
            "filter.environmentIds",
            NodeType::Environment,
            filter.environment_ids.as_ref(),
        )
        .extend()?;
        scoped(ctx, Feed::Escalations, after, move |event| match event {
            Event::Escalated { escalation, .. }
                if allows(environments.as_ref(), &escalation.environment_id) =>
            {
                Some(Escalation(escalation.clone()))
            }
            _ => None,
        })
        .extend()
    }
}
