//! Ticket notes, shared by the PSA connectors: which tickets of a page get their notes read
//! (settings `syncNotes` and `noteConcurrency`, and only tickets of mapped companies), reading
//! them one request per ticket with bounded concurrency (ConnectWise, HaloPSA), and attaching
//! what came back, however it was read (Autotask reads a page's notes in bulk).
//!
//! Every request goes through the connector's one [`crate::http::HttpClient`], so note requests
//! draw on the same retry policy and run throttling budget as the page that asked for them.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use futures_util::StreamExt;

use crate::connector::IntegrationConfig;
use crate::error::ConnectorError;
use crate::model::{Record, RecordError, TicketNote};

/// The least note requests in flight at once (`noteConcurrency`): one ticket at a time.
pub const MIN_NOTE_CONCURRENCY: u64 = 1;
/// The most note requests in flight at once (`noteConcurrency`): more would look like abuse to
/// a vendor that publishes no limit (Autotask allows three threads per endpoint).
pub const MAX_NOTE_CONCURRENCY: u64 = 16;
/// Note requests in flight at once when `noteConcurrency` is not set.
pub const DEFAULT_NOTE_CONCURRENCY: u64 = 8;

/// What a connector does about the notes of the tickets it reads.
#[derive(Debug, Clone)]
pub(crate) struct NotePlan {
    /// The setting `syncNotes` (default true).
    pub(crate) enabled: bool,
    /// The setting `noteConcurrency`, within its bounds.
    pub(crate) concurrency: usize,
    /// The companies whose tickets the sync keeps; `None` for all.
    mapped: Option<Arc<HashSet<String>>>,
}

impl NotePlan {
    /// The plan `config` describes. A `noteConcurrency` out of bounds (the API refuses one, so
    /// only an old or hand-written setting can be) is brought within them.
    pub(crate) fn of(config: &IntegrationConfig) -> Self {
        let concurrency = config
            .settings
            .get("noteConcurrency")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(DEFAULT_NOTE_CONCURRENCY)
            .clamp(MIN_NOTE_CONCURRENCY, MAX_NOTE_CONCURRENCY);
        Self {
            enabled: config.flag("syncNotes", true),
            concurrency: usize::try_from(concurrency).unwrap_or(1),
            mapped: config.mapped_companies.clone(),
        }
    }

    /// The tickets of `read` whose notes are wanted, as (index in `read`, vendor id): none when
    /// notes are off, else the tickets read whose company is mapped (all, when the mappings are
    /// unknown).
    pub(crate) fn wanted(&self, read: &[Result<Record, RecordError>]) -> Vec<(usize, String)> {
        if !self.enabled {
            return Vec::new();
        }
        read.iter()
            .enumerate()
            .filter_map(|(index, record)| match record {
                Ok(Record::Ticket(ticket))
                    if self
                        .mapped
                        .as_ref()
                        .is_none_or(|mapped| mapped.contains(&ticket.company_id)) =>
                {
                    Some((index, ticket.external_id.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// Reads the notes of the wanted tickets of `read` with `fetch` (one call per ticket, at
    /// most [`NotePlan::concurrency`] at once) and attaches them as [`attach`] does.
    ///
    /// # Errors
    /// As [`attach`].
    pub(crate) async fn read_per_ticket<F, Fut>(
        &self,
        read: &mut [Result<Record, RecordError>],
        fetch: F,
    ) -> Result<(), ConnectorError>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<Vec<TicketNote>, ConnectorError>>,
    {
        let wanted = self.wanted(read);
        if wanted.is_empty() {
            return Ok(());
        }
        let fetched: Vec<(usize, Result<Vec<TicketNote>, ConnectorError>)> =
            futures_util::stream::iter(wanted)
                .map(|(index, ticket)| {
                    let notes = fetch(ticket);
                    async move { (index, notes.await) }
                })
                .buffer_unordered(self.concurrency)
                .collect()
                .await;
        attach(read, fetched)
    }
}

/// Gives each ticket of `read` named by index in `fetched` its notes, or its error.
///
/// # Errors
/// The first error that is not about one ticket (the vendor still failing after retries,
/// credentials refused, the throttling budget spent): the whole page fails, and is read again.
/// A ticket whose notes the vendor refuses (gone, forbidden, malformed) fails alone, as a
/// [`RecordError`].
pub(crate) fn attach(
    read: &mut [Result<Record, RecordError>],
    fetched: impl IntoIterator<Item = (usize, Result<Vec<TicketNote>, ConnectorError>)>,
) -> Result<(), ConnectorError> {
    for (index, notes) in fetched {
        match notes {
            Ok(mut notes) => {
                // A note listed twice (vendor pages that overlap) is one note.
                let mut seen = std::collections::HashSet::new();
                notes.retain(|note| seen.insert(note.external_id.clone()));
                if let Ok(Record::Ticket(found)) = &mut read[index] {
                    found.notes = Some(notes);
                }
            }
            Err(error) if error.refuses_the_record() => refuse(read, [index], &error),
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Fails the tickets of `read` at `indexes` alone: the vendor refused to give their notes.
pub(crate) fn refuse(
    read: &mut [Result<Record, RecordError>],
    indexes: impl IntoIterator<Item = usize>,
    error: &ConnectorError,
) {
    for index in indexes {
        let external_id = match &read[index] {
            Ok(record) => Some(record.external_id().to_owned()),
            Err(failed) => failed.external_id.clone(),
        };
        read[index] = Err(RecordError {
            external_id,
            reason: format!("its notes cannot be read: {error}"),
        });
    }
}
