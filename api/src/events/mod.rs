//! Events of committed writes, fanned out to GraphQL subscriptions.
//!
//! A write queues its events on its [`crate::services::UnitOfWork`]; they are published
//! only after its transaction commits, so a subscriber never sees a change that was rolled back.
//! Each event carries the organization that owns its environment, which is what tenancy checks.
//! On PostgreSQL the events of every server sharing the database reach every server's bus too
//! ([`fanout`]: LISTEN/NOTIFY); SQLite serves one process.
//! Every event of a write also has its row in the outbox (`outbox_events`), and the bus carries
//! where ([`Mark`]): that is the resume token a subscriber is given with each event, and what it
//! names to resume after a disconnect ([`resume`]: the missed events are read back from the
//! outbox, bounded). The bus itself is best effort: a subscriber that falls more than
//! [`CAPACITY`] events behind skips the oldest (and the skip is logged), and a server whose
//! listening connection dropped misses what other servers wrote meanwhile; a client that
//! reconnects with its last token gets those back, or is told to resync.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use entities::{alert, change_log_entry, escalation, ticket};
use futures_util::Stream;
use tokio::sync::broadcast;
use uuid::Uuid;

pub mod fanout;
pub mod resume;

/// Events a subscriber may fall behind by before it skips some.
pub const CAPACITY: usize = 1024;

/// Something that happened, after it was committed.
#[derive(Debug, Clone)]
pub enum Event {
    /// A change log entry was recorded.
    ChangeLogEntryRecorded {
        /// The organization that owns the entry's environment.
        organization_id: Uuid,
        /// The entry.
        entry: change_log_entry::Model,
    },
    /// A ticket was created or changed.
    TicketChanged {
        /// The organization that owns the ticket's environment.
        organization_id: Uuid,
        /// The ticket as it is now.
        ticket: ticket::Model,
    },
    /// An alert was raised.
    AlertRaised {
        /// The organization that owns the alert's environment.
        organization_id: Uuid,
        /// The alert.
        alert: alert::Model,
    },
    /// A ticket or alert was escalated: a step of its entry's escalation path was notified (or
    /// the empty-path rule's accountable team).
    Escalated {
        /// The organization that owns the item's environment.
        organization_id: Uuid,
        /// The escalation, as recorded.
        escalation: escalation::Model,
    },
    /// An alert was acknowledged or resolved (its `status` says which).
    AlertChanged {
        /// The organization that owns the alert's environment.
        organization_id: Uuid,
        /// The alert as it is now.
        alert: alert::Model,
    },
    /// The rights of some callers changed: an engagement of this organization ended, or one of
    /// its people was changed (deactivated, another role). Subscribers that may be affected
    /// resolve their rights again before they send anything that follows it on the bus.
    AccessChanged {
        /// The organization whose engagement or person changed.
        organization_id: Uuid,
    },
    /// Events of other servers may have been missed (this server's listening connection to
    /// PostgreSQL dropped and was opened again): anyone's rights may have changed meanwhile, so
    /// every subscriber resolves its rights again, and the callers epoch moves.
    EventsMissed,
}

/// Where an event stands in the outbox: its row's `seq` (commit order) and id (the resume token
/// subscribers are given).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// `outbox_events.seq`.
    pub seq: i64,
    /// `outbox_events.id`.
    pub id: Uuid,
}

/// An event on the bus, with its place in the outbox when it has one (the events of writes do;
/// `AccessChanged` and `EventsMissed` do not).
#[derive(Debug, Clone)]
pub struct Published {
    /// What happened.
    pub event: Arc<Event>,
    /// Its outbox row.
    pub mark: Option<Mark>,
}

/// The process-wide fan-out of events.
#[derive(Debug, Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Published>,
    /// Counts the committed writes that may change how a caller resolves (see
    /// [`EventBus::callers_changed`]); the caller cache (`auth::cache`) serves only what it
    /// resolved under the current value.
    callers_epoch: Arc<AtomicU64>,
    /// This server's id among the servers sharing a PostgreSQL database, when its writes are
    /// announced to them ([`fanout`]); None for a bus of this process alone.
    instance_id: Option<Uuid>,
    /// Held by a write from its outbox rows to its publication ([`EventBus::turn`]).
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
            callers_epoch: Arc::default(),
            instance_id: None,
            turn: Arc::default(),
        }
    }
}

impl EventBus {
    /// A bus whose writes are also announced to the other servers of a PostgreSQL database
    /// ([`fanout::announce`]), under a new instance id.
    pub fn across_servers() -> Self {
        Self {
            instance_id: Some(Uuid::new_v4()),
            ..Self::default()
        }
    }

    /// This process's writes take turns from their outbox rows (where `seq` is drawn) to their
    /// publication: hold the guard from before `outbox::record` until the events are published,
    /// so this bus carries them in `seq` order and a subscriber's last token has every earlier
    /// event of this server behind it (`resume`). Take it inside the write's transaction, before
    /// `outbox::record` takes PostgreSQL's commit-order lock, never after.
    pub async fn turn(&self) -> tokio::sync::OwnedMutexGuard<()> {
        Arc::clone(&self.turn).lock_owned().await
    }

    /// This server's id in [`fanout`] notifications (None: nothing is announced).
    pub fn instance_id(&self) -> Option<Uuid> {
        self.instance_id
    }

    /// Sends `event` to every current subscriber; without subscribers it is dropped. An
    /// [`Event::AccessChanged`] or [`Event::EventsMissed`] also counts as
    /// [`EventBus::callers_changed`], first.
    pub fn publish(&self, event: Event) {
        self.publish_marked(event, None);
    }

    /// [`EventBus::publish`] of an event whose outbox row is `mark`.
    pub fn publish_marked(&self, event: Event, mark: Option<Mark>) {
        if matches!(event, Event::AccessChanged { .. } | Event::EventsMissed) {
            self.callers_changed();
        }
        let _ = self.sender.send(Published {
            event: Arc::new(event),
            mark,
        });
    }

    /// Records that a committed write changed what a caller resolves to (a person, their
    /// organization, an engagement, an integration): every cached caller of this process is
    /// resolved again on its next request. Call it after the commit.
    pub fn callers_changed(&self) {
        self.callers_epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// How many times [`EventBus::callers_changed`] was called: read it before resolving a
    /// caller, and keep the result only while it is unchanged.
    pub fn callers_epoch(&self) -> u64 {
        self.callers_epoch.load(Ordering::SeqCst)
    }

    /// Every event published from now on.
    pub fn subscribe(&self) -> impl Stream<Item = Arc<Event>> + Send + use<> {
        futures_util::StreamExt::map(self.subscribe_marked(), |published| published.event)
    }

    /// Every event published from now on, with its outbox row. The subscription is taken when
    /// this is called, before the stream is first polled.
    pub fn subscribe_marked(&self) -> impl Stream<Item = Published> + Send + use<> {
        futures_util::stream::unfold(self.sender.subscribe(), |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(event) => return Some((event, receiver)),
                    Err(broadcast::error::RecvError::Lagged(skipped)) => {
                        tracing::warn!(
                            events.skipped = skipped,
                            "a subscriber fell behind and skipped events"
                        );
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
    }
}
