//! Events across servers: several `tandem serve` processes on one PostgreSQL database see each
//! other's committed writes through LISTEN/NOTIFY on the channel [`CHANNEL`], with no broker.
//!
//! - **Sending** ([`announce`]): a write names its events in a compact notification (kind, ids,
//!   organization, the sending server's instance id; never row contents, never a secret), sent
//!   with `pg_notify` inside the write's own transaction, just before COMMIT. PostgreSQL delivers
//!   a notification only when its transaction commits, and delivers them in commit order: a
//!   rolled-back write notifies nobody, and every listener sees the writes of all servers in the
//!   order they committed. (PostgreSQL serializes the commits of notifying transactions, which
//!   is what orders them; a write whose NOTIFY fails fails as a whole.) A notification holds at
//!   most [`MAX_PAYLOAD`] bytes (PostgreSQL's limit is 8000); a write with more events sends
//!   several, in order.
//! - **Receiving** ([`listen`]): each server listens on a connection of its own (application
//!   name `tandem fan-out <instance id>`), skips its own notifications (its bus had those
//!   events already), loads the named rows by id and publishes them on its bus in the order
//!   received, each row as it is when loaded. The organization an event belongs to is read from
//!   the database, never taken from the payload: anyone who can connect may NOTIFY, so a payload
//!   only names rows. `AccessChanged` and the callers epoch travel the same way, so a person or
//!   engagement changed through another server drops this server's cached callers and has its
//!   subscribers check their rights again.
//! - **Losses**: delivery is at most once. When the listening connection drops it is opened
//!   again, with backoff; what other servers committed meanwhile is not replayed, so after every
//!   reconnect the server publishes [`Event::EventsMissed`] (logged as a warning): the whole
//!   caller cache is dropped and every subscriber resolves its rights again. A notice carries
//!   its event's outbox row (`seq`, `eid`), published with the event as its [`Mark`], so a
//!   subscriber of any server gets the same resume token; clients that missed events resume
//!   from their last one (`super::resume`).

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use entities::{alert, change_log_entry, environment, escalation, ticket};
use sea_orm::prelude::*;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sea_orm::{DatabaseBackend, DatabaseConnection, QueryFilter, Statement};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use super::{Event, EventBus, Mark};

/// The PostgreSQL notification channel every server sends on and listens to.
pub const CHANNEL: &str = "tandem_events";

/// Most bytes in one notification's payload (PostgreSQL refuses 8000 and more).
pub const MAX_PAYLOAD: usize = 7_900;

/// The first wait before listening again after a failed attempt; it doubles up to
/// [`LONGEST_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(100);
/// The longest wait between two attempts to listen again.
const LONGEST_RETRY: Duration = Duration::from_secs(30);
/// A connection lost sooner than this after the previous loss waits before it is opened again,
/// so a connection that keeps dropping does not spin.
const FLAPPING: Duration = Duration::from_secs(1);
/// How often a server sends itself a probe through the channel. A probe not back by the next
/// one means the listening connection is gone without having said so (a NAT or a failover that
/// dropped it silently): it is reopened, and events may have been missed.
const PROBE_EVERY: Duration = Duration::from_secs(30);

/// One event as a notification names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// What some caller resolves to changed ([`EventBus::callers_changed`]).
    Callers,
    /// [`Event::AccessChanged`] of organization `org`.
    Access {
        /// The organization.
        org: Uuid,
    },
    /// [`Event::ChangeLogEntryRecorded`]: the entry `id` of organization `org`.
    Entry {
        /// The change log entry.
        id: Uuid,
        /// The organization that owns its environment.
        org: Uuid,
        /// Its outbox row's `seq` (the receiver publishes it as the event's [`Mark`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<i64>,
        /// Its outbox row's id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        eid: Option<Uuid>,
    },
    /// [`Event::TicketChanged`].
    Ticket {
        /// The ticket.
        id: Uuid,
        /// The organization that owns its environment.
        org: Uuid,
        /// Its outbox row's `seq` (the receiver publishes it as the event's [`Mark`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<i64>,
        /// Its outbox row's id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        eid: Option<Uuid>,
    },
    /// [`Event::AlertRaised`].
    Alert {
        /// The alert.
        id: Uuid,
        /// The organization that owns its environment.
        org: Uuid,
        /// Its outbox row's `seq` (the receiver publishes it as the event's [`Mark`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<i64>,
        /// Its outbox row's id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        eid: Option<Uuid>,
    },
    /// [`Event::Escalated`].
    Escalation {
        /// The escalation.
        id: Uuid,
        /// The organization that owns its environment.
        org: Uuid,
        /// Its outbox row's `seq` (the receiver publishes it as the event's [`Mark`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<i64>,
        /// Its outbox row's id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        eid: Option<Uuid>,
    },
    /// [`Event::AlertChanged`].
    AlertChanged {
        /// The alert.
        id: Uuid,
        /// The organization that owns its environment.
        org: Uuid,
        /// Its outbox row's `seq` (the receiver publishes it as the event's [`Mark`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<i64>,
        /// Its outbox row's id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        eid: Option<Uuid>,
    },
}

impl Notice {
    /// How `event`, whose outbox row is `mark`, is named in a notification;
    /// [`Event::EventsMissed`] is this server's own affair and is not sent.
    pub fn of(event: &Event, mark: Option<Mark>) -> Option<Self> {
        let (seq, eid) = (mark.map(|mark| mark.seq), mark.map(|mark| mark.id));
        Some(match event {
            Event::ChangeLogEntryRecorded {
                organization_id,
                entry,
            } => Self::Entry {
                id: entry.id,
                org: *organization_id,
                seq,
                eid,
            },
            Event::TicketChanged {
                organization_id,
                ticket,
            } => Self::Ticket {
                id: ticket.id,
                org: *organization_id,
                seq,
                eid,
            },
            Event::AlertRaised {
                organization_id,
                alert,
            } => Self::Alert {
                id: alert.id,
                org: *organization_id,
                seq,
                eid,
            },
            Event::Escalated {
                organization_id,
                escalation,
            } => Self::Escalation {
                id: escalation.id,
                org: *organization_id,
                seq,
                eid,
            },
            Event::AlertChanged {
                organization_id,
                alert,
            } => Self::AlertChanged {
                id: alert.id,
                org: *organization_id,
                seq,
                eid,
            },
            Event::AccessChanged { organization_id } => Self::Access {
                org: *organization_id,
            },
            Event::EventsMissed => return None,
        })
    }
}

/// A notification's payload: who sent it and what it names, in commit order.
#[derive(Debug, Serialize, Deserialize)]
pub struct Payload {
    /// The sending server's instance id ([`EventBus::instance_id`]).
    pub from: Uuid,
    /// The events, in the order the sender published them.
    pub events: Vec<Notice>,
    /// Set on a server's probe of its own listening connection (and then no event is named).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<u64>,
}

/// The payloads naming `notices` from server `from`, in order, each at most [`MAX_PAYLOAD`]
/// bytes.
pub fn payloads(from: Uuid, notices: &[Notice]) -> Vec<String> {
    let head = format!(r#"{{"from":"{from}","events":["#);
    let tail = "]}";
    let mut sent = Vec::new();
    let mut items = String::new();
    for notice in notices {
        // A notice is a tag and at most two UUIDs: it always serializes, to under 100 bytes.
        let Ok(item) = serde_json::to_string(notice) else {
            continue;
        };
        if !items.is_empty() && head.len() + items.len() + 1 + item.len() + tail.len() > MAX_PAYLOAD
        {
            sent.push(format!("{head}{items}{tail}"));
            items.clear();
        }
        if !items.is_empty() {
            items.push(',');
        }
        items.push_str(&item);
    }
    if !items.is_empty() {
        sent.push(format!("{head}{items}{tail}"));
    }
    sent
}

/// Announces a write's events to the other servers of its PostgreSQL database: call it on the
/// write's transaction just before its COMMIT, with the events it publishes after and their
/// outbox rows (`marks`, in the same order; and `callers_changed` when it moves the callers
/// epoch). Nothing is sent on SQLite, for a bus
/// that is not [`EventBus::across_servers`], or for a write without events.
///
/// # Errors
/// When PostgreSQL refuses the notification; the write must then not commit.
pub async fn announce(
    txn: &impl ConnectionTrait,
    bus: &EventBus,
    callers_changed: bool,
    events: &[Event],
    marks: &[Option<Mark>],
) -> Result<(), DbErr> {
    let Some(from) = bus.instance_id() else {
        return Ok(());
    };
    if txn.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let notices: Vec<Notice> = callers_changed
        .then_some(Notice::Callers)
        .into_iter()
        .chain(
            events
                .iter()
                .enumerate()
                .filter_map(|(at, event)| Notice::of(event, marks.get(at).copied().flatten())),
        )
        .collect();
    for payload in payloads(from, &notices) {
        txn.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), payload.into()],
        ))
        .await?;
    }
    Ok(())
}

/// This server listening to the others; dropping it stops the listening.
#[derive(Debug)]
pub struct Listening {
    task: JoinHandle<()>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The application name of `bus`'s listening connection, as `pg_stat_activity` shows it.
pub fn application_name(bus: &EventBus) -> String {
    match bus.instance_id() {
        Some(id) => format!("tandem fan-out {id}"),
        None => "tandem fan-out".to_owned(),
    }
}

/// Starts listening on [`CHANNEL`] with a connection of its own, configured as `db`'s pool
/// (a PostgreSQL one), and publishing other servers' events on `bus` until the returned
/// [`Listening`] is dropped. It returns once the server listens, so no write committed after
/// it is missed.
///
/// # Errors
/// When the connection cannot be opened or `LISTEN` fails.
pub async fn listen(
    db: &DatabaseConnection,
    bus: &EventBus,
) -> Result<Listening, sea_orm::sqlx::Error> {
    let options = db
        .get_postgres_connection_pool()
        .connect_options()
        .as_ref()
        .clone()
        .application_name(&application_name(bus));
    let listener = open(&options).await?;
    tracing::info!(channel = CHANNEL, "listening for other servers' events");
    Ok(Listening {
        task: tokio::spawn(run(listener, options, db.clone(), bus.clone())),
    })
}

/// A listener on [`CHANNEL`] over a pool of one connection of its own, so the server's pool
/// keeps every connection for requests.
async fn open(options: &PgConnectOptions) -> Result<PgListener, sea_orm::sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy_with(options.clone());
    let mut listener = PgListener::connect_with(&pool).await?;
    // A lost connection is reported (`Ok(None)`) rather than replaced behind our back: the
    // loop below reopens it, with backoff, and then says that events may have been missed.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Receives notifications until aborted, reopening the connection whenever it is lost.
async fn run(
    mut listener: PgListener,
    options: PgConnectOptions,
    db: DatabaseConnection,
    bus: EventBus,
) {
    let mut last_loss: Option<Instant> = None;
    let mut probes = tokio::time::interval(PROBE_EVERY);
    probes.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    probes.tick().await;
    let (mut sent, mut awaiting): (u64, Option<u64>) = (0, None);
    loop {
        let error = tokio::select! {
            received = listener.try_recv() => match received {
                Ok(Some(notification)) => {
                    if let Some(probe) = receive(&db, &bus, notification.payload()).await
                        && awaiting == Some(probe)
                    {
                        awaiting = None;
                    }
                    continue;
                }
                Ok(None) => None,
                Err(error) => Some(error.to_string()),
            },
            _ = probes.tick() => {
                if awaiting.is_none() {
                    sent += 1;
                    awaiting = Some(sent);
                    probe(&db, &bus, sent).await;
                    continue;
                }
                Some("the listener's own probe did not come back".to_owned())
            }
        };
        tracing::warn!(
            error,
            "the connection listening for other servers' events was lost; listening again"
        );
        let flapping = last_loss.is_some_and(|at| at.elapsed() < FLAPPING);
        listener = reopen(&options, flapping).await;
        last_loss = Some(Instant::now());
        awaiting = None;
        missed(&bus);
    }
}

/// A listener again: at once, unless the connection is `flapping`, then after waits that
/// double from [`FIRST_RETRY`] to [`LONGEST_RETRY`] with jitter (servers that lost the database
/// together do not come back in step).
async fn reopen(options: &PgConnectOptions, flapping: bool) -> PgListener {
    let mut delay = FIRST_RETRY;
    if flapping {
        tokio::time::sleep(FLAPPING).await;
    }
    loop {
        match open(options).await {
            Ok(listener) => return listener,
            Err(error) => {
                let wait = delay.mul_f64(0.5 + fastrand::f64());
                tracing::warn!(
                    %error,
                    retry_in_ms = wait.as_millis() as u64,
                    "cannot listen for other servers' events yet"
                );
                tokio::time::sleep(wait).await;
                delay = (delay * 2).min(LONGEST_RETRY);
            }
        }
    }
}

/// Says that other servers' events may have been missed: cached callers go and subscribers
/// check their rights again.
fn missed(bus: &EventBus) {
    tracing::warn!(
        "events committed through other servers while this one was not listening may have been \
         missed: cached callers dropped, subscribers recheck their rights; clients catch up by \
         paging the change log"
    );
    bus.publish(Event::EventsMissed);
}

/// Sends this server's probe `number` through the channel, over the server's pool (not the
/// listening connection, whose health is the question).
async fn probe(db: &DatabaseConnection, bus: &EventBus, number: u64) {
    let Some(from) = bus.instance_id() else {
        return;
    };
    let payload = Payload {
        from,
        events: Vec::new(),
        probe: Some(number),
    };
    let Ok(text) = serde_json::to_string(&payload) else {
        return;
    };
    if let Err(error) = db
        .execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), text.into()],
        ))
        .await
    {
        // The next tick finds the probe missing and reopens the listener.
        tracing::debug!(%error, "cannot send the listener's probe");
    }
}

/// Publishes what the notification `text` names, unless this server sent it; returns the
/// number of this server's own probe when it is one.
async fn receive(db: &DatabaseConnection, bus: &EventBus, text: &str) -> Option<u64> {
    let payload = match serde_json::from_str::<Payload>(text) {
        Ok(payload) => payload,
        Err(error) => {
            tracing::warn!(
                %error,
                bytes = text.len(),
                "ignored a notification on {CHANNEL} that is not one of Tandem's"
            );
            return None;
        }
    };
    if Some(payload.from) == bus.instance_id() {
        return payload.probe;
    }
    if payload.probe.is_some() {
        return None;
    }
    match load(db, &payload.events).await {
        Ok(deliveries) => {
            for delivery in deliveries {
                match delivery {
                    Delivery::Callers => bus.callers_changed(),
                    Delivery::Event(event, mark) => bus.publish_marked(*event, mark),
                }
            }
        }
        Err(error) => {
            tracing::warn!(%error, "cannot load the rows another server's events name");
            missed(bus);
        }
    }
    None
}

/// What one notice becomes on this server's bus.
pub(crate) enum Delivery {
    Callers,
    Event(Box<Event>, Option<Mark>),
}

/// The events `notices` name, in their order, with their rows loaded (one query per kind and
/// one for the environments' owners); a row that is gone is skipped.
pub(crate) async fn load(
    db: &DatabaseConnection,
    notices: &[Notice],
) -> Result<Vec<Delivery>, DbErr> {
    let (mut entry_ids, mut ticket_ids, mut alert_ids, mut escalation_ids) = (
        BTreeSet::new(),
        BTreeSet::new(),
        BTreeSet::new(),
        BTreeSet::new(),
    );
    for notice in notices {
        match notice {
            Notice::Entry { id, .. } => entry_ids.insert(*id),
            Notice::Ticket { id, .. } => ticket_ids.insert(*id),
            Notice::Alert { id, .. } | Notice::AlertChanged { id, .. } => alert_ids.insert(*id),
            Notice::Escalation { id, .. } => escalation_ids.insert(*id),
            Notice::Callers | Notice::Access { .. } => false,
        };
    }
    let entries: HashMap<Uuid, change_log_entry::Model> = if entry_ids.is_empty() {
        HashMap::new()
    } else {
        change_log_entry::Entity::find()
            .filter(change_log_entry::COLUMN.id.is_in(entry_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|found| (found.id, found))
            .collect()
    };
    let tickets: HashMap<Uuid, ticket::Model> = if ticket_ids.is_empty() {
        HashMap::new()
    } else {
        ticket::Entity::find()
            .filter(ticket::COLUMN.id.is_in(ticket_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|found| (found.id, found))
            .collect()
    };
    let alerts: HashMap<Uuid, alert::Model> = if alert_ids.is_empty() {
        HashMap::new()
    } else {
        alert::Entity::find()
            .filter(alert::COLUMN.id.is_in(alert_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|found| (found.id, found))
            .collect()
    };
    let escalations: HashMap<Uuid, escalation::Model> = if escalation_ids.is_empty() {
        HashMap::new()
    } else {
        escalation::Entity::find()
            .filter(escalation::COLUMN.id.is_in(escalation_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|found| (found.id, found))
            .collect()
    };
    let environment_ids: BTreeSet<Uuid> = entries
        .values()
        .map(|found| found.environment_id)
        .chain(tickets.values().map(|found| found.environment_id))
        .chain(alerts.values().map(|found| found.environment_id))
        .chain(escalations.values().map(|found| found.environment_id))
        .collect();
    let owners: HashMap<Uuid, Uuid> = if environment_ids.is_empty() {
        HashMap::new()
    } else {
        environment::Entity::find()
            .filter(environment::COLUMN.id.is_in(environment_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|found| (found.id, found.organization_id))
            .collect()
    };
    let owner = |environment_id: Uuid| owners.get(&environment_id).copied();
    let marked = |seq: &Option<i64>, eid: &Option<Uuid>| match (seq, eid) {
        (Some(seq), Some(id)) => Some(Mark { seq: *seq, id: *id }),
        _ => None,
    };
    Ok(notices
        .iter()
        .filter_map(|notice| match notice {
            Notice::Callers => Some(Delivery::Callers),
            Notice::Access { org } => Some(Delivery::Event(
                Box::new(Event::AccessChanged {
                    organization_id: *org,
                }),
                None,
            )),
            Notice::Entry { id, seq, eid, .. } => {
                let entry = entries.get(id)?;
                Some(Delivery::Event(
                    Box::new(Event::ChangeLogEntryRecorded {
                        organization_id: owner(entry.environment_id)?,
                        entry: entry.clone(),
                    }),
                    marked(seq, eid),
                ))
            }
            Notice::Ticket { id, seq, eid, .. } => {
                let ticket = tickets.get(id)?;
                Some(Delivery::Event(
                    Box::new(Event::TicketChanged {
                        organization_id: owner(ticket.environment_id)?,
                        ticket: ticket.clone(),
                    }),
                    marked(seq, eid),
                ))
            }
            Notice::Alert { id, seq, eid, .. } => {
                let alert = alerts.get(id)?;
                Some(Delivery::Event(
                    Box::new(Event::AlertRaised {
                        organization_id: owner(alert.environment_id)?,
                        alert: alert.clone(),
                    }),
                    marked(seq, eid),
                ))
            }
            Notice::Escalation { id, seq, eid, .. } => {
                let escalation = escalations.get(id)?;
                Some(Delivery::Event(
                    Box::new(Event::Escalated {
                        organization_id: owner(escalation.environment_id)?,
                        escalation: escalation.clone(),
                    }),
                    marked(seq, eid),
                ))
            }
            Notice::AlertChanged { id, seq, eid, .. } => {
                let alert = alerts.get(id)?;
                Some(Delivery::Event(
                    Box::new(Event::AlertChanged {
                        organization_id: owner(alert.environment_id)?,
                        alert: alert.clone(),
                    }),
                    marked(seq, eid),
                ))
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::{MAX_PAYLOAD, Notice, Payload, payloads};
    use uuid::Uuid;

    #[test]
    fn payloads_stay_under_the_limit_and_keep_every_notice_in_order() {
        let from = Uuid::now_v7();
        let notices: Vec<Notice> = std::iter::once(Notice::Callers)
            .chain((0..500).map(|at| Notice::Entry {
                id: Uuid::now_v7(),
                org: Uuid::now_v7(),
                seq: Some(at),
                eid: Some(Uuid::now_v7()),
            }))
            .collect();
        let sent = payloads(from, &notices);
        assert!(sent.len() > 1, "500 entries need several notifications");
        let mut received = Vec::new();
        for payload in &sent {
            assert!(payload.len() <= MAX_PAYLOAD, "{} bytes", payload.len());
            let parsed: Payload = serde_json::from_str(payload).expect("a payload parses");
            assert_eq!(parsed.from, from);
            received.extend(parsed.events);
        }
        assert_eq!(received, notices);
        assert!(
            payloads(from, &[]).is_empty(),
            "nothing to say sends nothing"
        );
    }

    #[test]
    fn a_notice_names_ids_only() {
        let id = Uuid::nil();
        let text = serde_json::to_string(&Notice::Ticket {
            id,
            org: id,
            seq: None,
            eid: None,
        })
        .expect("serializes");
        assert_eq!(
            text,
            r#"{"kind":"ticket","id":"00000000-0000-0000-0000-000000000000","org":"00000000-0000-0000-0000-000000000000"}"#
        );
    }
}
