//! Resuming a subscription: the events a subscriber missed while it was away, read back from
//! the outbox.
//!
//! Every event a write publishes has its row in `outbox_events` (written in the write's own
//! transaction, `outbox::record`), and the bus carries that row's [`Mark`]. A subscriber is
//! given the row's id with each event (the resume token, opaque to clients); reconnecting, it
//! names the last one it saw, and [`replay`] reads the rows after it, in `seq` order (which is
//! commit order, see `outbox`), that its feed is made of and its organizations may see, and
//! loads their objects as `fanout` does (each row as it is now). A token that is malformed,
//! unknown, pruned (older than the outbox's retention) or of an event the caller may not see,
//! or more than [`REPLAY_LIMIT`] missed events, is refused ([`Refused::Resync`], all unknown
//! tokens alike, so a token reveals nothing): the client pages the change log and subscribes
//! again without one.

use std::collections::{HashMap, VecDeque};

use entities::outbox_event;
use sea_orm::prelude::*;
use sea_orm::{DatabaseConnection, QueryFilter, QueryOrder, QuerySelect};

use super::fanout::{self, Delivery, Notice};
use super::{Event, Mark, Published};

/// The most missed events a subscription replays; more and the client must resync.
pub const REPLAY_LIMIT: u64 = 1_000;

/// The reason given for a token that names no event the caller may resume from.
pub const UNKNOWN_TOKEN: &str = "the resume token names no event this subscription can resume \
     after (unknown, older than the 7-day retention, or not visible to you); page the change \
     log, then subscribe again without `after`";

/// The reason given for a token that is not one.
pub const MALFORMED_TOKEN: &str =
    "the resume token is malformed; page the change log, then subscribe again without `after`";

/// The reason given when more events were missed than [`REPLAY_LIMIT`].
pub const TOO_MANY_MISSED: &str = "more than 1000 events were missed since the resume token; \
     page the change log, then subscribe again without `after`";

/// What a subscription is fed: the kinds of bus events it sends, each recorded in the outbox
/// under the event types [`Feed::types`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feed {
    /// `changeLogEntryRecorded`: [`Event::ChangeLogEntryRecorded`].
    Entries,
    /// `ticketChanged`: [`Event::TicketChanged`].
    Tickets,
    /// `alertRaised`: [`Event::AlertRaised`].
    AlertsRaised,
    /// `alertChanged`: [`Event::AlertChanged`].
    AlertsChanged,
    /// `escalated`: [`Event::Escalated`].
    Escalations,
}

impl Feed {
    /// The outbox event types (`outbox::EventType::name`) of this feed's events. A new ticket's
    /// `ticket.routed` is the same bus event as its `ticket.created`, so it is not one of them.
    #[must_use]
    pub fn types(self) -> &'static [&'static str] {
        match self {
            Self::Entries => &["change.recorded"],
            Self::Tickets => &["ticket.created", "ticket.changed"],
            Self::AlertsRaised => &["alert.raised"],
            Self::AlertsChanged => &["alert.acknowledged", "alert.resolved"],
            Self::Escalations => &["ticket.escalated", "alert.escalated"],
        }
    }

    /// The feed an outbox event type belongs to.
    fn of_type(event_type: &str) -> Option<Self> {
        [
            Self::Entries,
            Self::Tickets,
            Self::AlertsRaised,
            Self::AlertsChanged,
            Self::Escalations,
        ]
        .into_iter()
        .find(|feed| feed.types().contains(&event_type))
    }

    /// The feed of a bus event and the subject its outbox row names (`outbox::Item::subject_id`).
    fn of(event: &Event) -> Option<(Self, Uuid)> {
        Some(match event {
            Event::ChangeLogEntryRecorded { entry, .. } => (Self::Entries, entry.id),
            Event::TicketChanged { ticket, .. } => (Self::Tickets, ticket.id),
            Event::AlertRaised { alert, .. } => (Self::AlertsRaised, alert.id),
            Event::AlertChanged { alert, .. } => (Self::AlertsChanged, alert.id),
            Event::Escalated { escalation, .. } => (
                Self::Escalations,
                escalation
                    .alert_id
                    .or(escalation.ticket_id)
                    .unwrap_or(escalation.id),
            ),
            Event::AccessChanged { .. } | Event::EventsMissed => return None,
        })
    }
}

/// The outbox row of each of `events` among the rows its write `recorded` (in insert order):
/// the first row not yet taken of the event's feed and subject. Events without a row (rights
/// changes) get none.
#[must_use]
pub fn marks(events: &[Event], recorded: &[outbox_event::Model]) -> Vec<Option<Mark>> {
    let mut rows: HashMap<(Feed, Uuid), VecDeque<&outbox_event::Model>> = HashMap::new();
    for row in recorded {
        if let Some(feed) = Feed::of_type(&row.event_type) {
            rows.entry((feed, row.subject_id))
                .or_default()
                .push_back(row);
        }
    }
    events
        .iter()
        .map(|event| {
            let row = rows.get_mut(&Feed::of(event)?)?.pop_front()?;
            Some(Mark {
                seq: row.seq,
                id: row.id,
            })
        })
        .collect()
}

/// The resume token of `mark`, as subscribers are given it.
#[must_use]
pub fn token(mark: Mark) -> String {
    mark.id.to_string()
}

/// Why a subscription cannot resume.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The client must page the change log and subscribe again without a token; the reason
    /// says why.
    #[error("{0}")]
    Resync(&'static str),
    /// The outbox could not be read.
    #[error(transparent)]
    Database(#[from] DbErr),
}

/// What a resuming subscription sends before its live events.
#[derive(Debug)]
pub struct Replay {
    /// The missed events of the feed, in commit order, each with its row loaded as it is now.
    pub events: Vec<Published>,
    /// The `seq` the replay reaches: live events at or below it were sent already.
    pub through: i64,
}

/// The events of `feed` after the one `after` names, among those of the organizations
/// `visible` (the subscriber's, now), at most [`REPLAY_LIMIT`].
///
/// # Errors
/// [`Refused::Resync`] when the token is not one, names no event of a `visible` organization
/// (unknown, pruned, another tenant's: the same answer), or more than [`REPLAY_LIMIT`] events
/// were missed; database errors.
pub async fn replay(
    db: &DatabaseConnection,
    after: &str,
    feed: Feed,
    visible: &[Uuid],
) -> Result<Replay, Refused> {
    let id = Uuid::parse_str(after.trim()).map_err(|_| Refused::Resync(MALFORMED_TOKEN))?;
    let from = outbox_event::Entity::find()
        .filter(outbox_event::COLUMN.id.eq(id))
        .one(db)
        .await?
        .filter(|from| visible.contains(&from.organization_id))
        .ok_or(Refused::Resync(UNKNOWN_TOKEN))?;
    let rows = outbox_event::Entity::find()
        .filter(outbox_event::COLUMN.seq.gt(from.seq))
        .filter(
            outbox_event::COLUMN
                .organization_id
                .is_in(visible.iter().copied()),
        )
        .filter(
            outbox_event::COLUMN
                .event_type
                .is_in(feed.types().iter().copied()),
        )
        .order_by_asc(outbox_event::Column::Seq)
        .limit(REPLAY_LIMIT + 1)
        .all(db)
        .await?;
    if rows.len() as u64 > REPLAY_LIMIT {
        return Err(Refused::Resync(TOO_MANY_MISSED));
    }
    let through = rows.last().map_or(from.seq, |last| last.seq);
    let notices: Vec<Notice> = rows.iter().filter_map(notice).collect();
    let events = fanout::load(db, &notices)
        .await?
        .into_iter()
        .filter_map(|delivery| match delivery {
            Delivery::Event(event, mark) => Some(Published {
                event: event.into(),
                mark,
            }),
            Delivery::Callers => None,
        })
        .collect();
    Ok(Replay { events, through })
}

/// The notice naming the object of outbox row `row`, as another server would be told of it.
fn notice(row: &outbox_event::Model) -> Option<Notice> {
    let (seq, eid, org) = (Some(row.seq), Some(row.id), row.organization_id);
    let id = row.subject_id;
    Some(match Feed::of_type(&row.event_type)? {
        Feed::Entries => Notice::Entry { id, org, seq, eid },
        Feed::Tickets => Notice::Ticket { id, org, seq, eid },
        Feed::AlertsRaised => Notice::Alert { id, org, seq, eid },
        Feed::AlertsChanged => Notice::AlertChanged { id, org, seq, eid },
        // The row's subject is the ticket or alert; the escalation is its payload's `id`.
        Feed::Escalations => Notice::Escalation {
            id: row
                .payload
                .get("id")
                .and_then(serde_json::Value::as_str)
                .and_then(|id| Uuid::parse_str(id).ok())?,
            org,
            seq,
            eid,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::Feed;
    use crate::outbox::EventType;

    #[test]
    fn every_feed_names_outbox_event_types_that_exist() {
        for feed in [
            Feed::Entries,
            Feed::Tickets,
            Feed::AlertsRaised,
            Feed::AlertsChanged,
            Feed::Escalations,
        ] {
            for name in feed.types() {
                assert!(EventType::parse(name).is_some(), "{name}");
                assert_eq!(Feed::of_type(name), Some(feed));
            }
        }
        assert_eq!(Feed::of_type("ticket.routed"), None);
    }
}
