//! The trait every vendor connector implements, and building one from an integration's stored
//! configuration.
//!
//! A connector reads one page at a time ([`Connector::page`]); [`pages`] turns that into an
//! async stream. The page token a page returns is what a crash-safe sync stores with the page's
//! writes, so a resumed run asks for exactly the next page.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use entities::enums::IntegrationKind;
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::connectors;
use crate::egress::Egress;
use crate::error::ConnectorError;
use crate::http::{HttpClient, RetryPolicy, Throttle};
use crate::model::{LookupValue, Page, Resource};

/// Where a resource's sync stands: the vendor changed-since mark of the last complete run, and
/// the token of the next page of an interrupted one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Only records changed after this instant (where the vendor can filter).
    pub changed_since: Option<DateTime<Utc>>,
    /// Resume at this page.
    pub page_token: Option<String>,
}

/// What an integration is configured with.
#[derive(Debug, Clone)]
pub struct IntegrationConfig {
    /// The vendor.
    pub kind: IntegrationKind,
    /// The vendor's API root (`https://api-na.myconnectwise.net`, `https://app.ninjarmm.com`, ...).
    pub base_url: String,
    /// Non-secret settings, a JSON object (company id, client id, region, ...).
    pub settings: Value,
    /// The decrypted credentials, a JSON object.
    pub credentials: Value,
    /// Retries and timeouts.
    pub policy: RetryPolicy,
    /// Which addresses its calls may reach (the operator's choice, from the server's settings).
    pub egress: Egress,
    /// The vendor ids of the companies mapped to an environment, when the caller knows them (a
    /// sync run loads them as it starts). A connector that reads notes per ticket reads them
    /// only for tickets of these companies: the sync skips any other ticket, so its notes
    /// would be requests spent for nothing. `None` (a connection test, listing the vendor's
    /// companies) reads every ticket's notes.
    pub mapped_companies: Option<Arc<HashSet<String>>>,
}

impl IntegrationConfig {
    /// The string setting `key`.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] naming `key` when it is missing or empty.
    pub fn setting(&self, key: &str) -> Result<String, ConnectorError> {
        text(&self.settings, key)
            .ok_or_else(|| ConnectorError::Config(format!("the setting `{key}` is required")))
    }

    /// The string credential `key`.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] naming `key` (never its value) when it is missing or empty.
    pub fn credential(&self, key: &str) -> Result<String, ConnectorError> {
        text(&self.credentials, key)
            .ok_or_else(|| ConnectorError::Config(format!("the credential `{key}` is required")))
    }

    /// The boolean setting `key`, `default` when it is absent or not a boolean.
    #[must_use]
    pub fn flag(&self, key: &str, default: bool) -> bool {
        self.settings
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or(default)
    }

    /// The API root without a trailing slash.
    #[must_use]
    pub fn root(&self) -> String {
        self.base_url.trim_end_matches('/').to_owned()
    }
}

fn text(object: &Value, key: &str) -> Option<String> {
    object
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

/// A PSA or RMM connector.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The vendor.
    fn kind(&self) -> IntegrationKind;

    /// What it reads, in the order a sync takes them (companies before what refers to them).
    fn resources(&self) -> &'static [Resource];

    /// Whether the vendor can filter `resource` by change time; when it cannot, every run walks
    /// the whole resource and the sync writes only what differs.
    fn filters_by_change(&self, resource: Resource) -> bool;

    /// Checks the credentials and configuration with one cheap call, saying what it reached.
    ///
    /// # Errors
    /// What failed, for the admin: refused credentials, an unreachable host, a bad setting.
    async fn check(&self) -> Result<String, ConnectorError>;

    /// The vendor's status and priority lookup lists, with the mapping its own signals suggest.
    ///
    /// # Errors
    /// When the vendor cannot be read.
    async fn lookups(&self) -> Result<Vec<LookupValue>, ConnectorError>;

    /// One page of `resource`: the first (for `token: None`) or the one `token` names, of the
    /// records changed after `since` where the vendor can filter.
    ///
    /// # Errors
    /// When the page cannot be read after retries; a bad record is a per-record error instead.
    async fn page(
        &self,
        resource: Resource,
        since: Option<DateTime<Utc>>,
        token: Option<String>,
    ) -> Result<Page, ConnectorError>;

    /// Writes `write` to the vendor's ticket `ticket` (its vendor id) in the vendor's own request
    /// shape. PSA connectors with two-way sync implement it; the others refuse.
    ///
    /// # Errors
    /// [`ConnectorError::Unsupported`] for a vendor Tandem does not write to; otherwise as a
    /// read (a transient error is retried by the outbox, a refusal of the record is final).
    async fn write_ticket(
        &self,
        ticket: &str,
        write: &TicketWrite,
    ) -> Result<WriteReceipt, ConnectorError> {
        let _ = (ticket, write);
        Err(ConnectorError::Unsupported(format!(
            "{:?} does not take writes from Tandem",
            self.kind()
        )))
    }

    /// The vendor id of a note on ticket `ticket` whose text is `body`, if there is one: the
    /// write-back queue asks before sending a note again whose earlier attempt may have reached
    /// the vendor (a crash or a lost answer), so the note is not written twice. The default
    /// finds none.
    ///
    /// # Errors
    /// As a read.
    async fn find_note(&self, ticket: &str, body: &str) -> Result<Option<String>, ConnectorError> {
        let _ = (ticket, body);
        Ok(None)
    }
}

/// Where Tandem puts a ticket in a PSA: the vendor's own grouping (a ConnectWise service board,
/// an Autotask queue, a HaloPSA team) and, when the integration's team mapping names one, a
/// person in it (a ConnectWise member, an Autotask resource, a HaloPSA agent). Values are the
/// vendor's ids as strings (Halo's team is its name, as Halo's tickets carry it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorAssignee {
    /// Board id (ConnectWise), queue id (Autotask), team name (HaloPSA).
    pub group: String,
    /// Member id (ConnectWise), resource id (Autotask), agent id (HaloPSA), when mapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
}

/// One change Tandem writes back to a synced PSA ticket (two-way sync). Serialized into the
/// outbox, so its shape is stored: add fields with defaults only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TicketWrite {
    /// Put the ticket where the matrix routed it.
    Assign {
        /// The vendor's board/queue/team (and member).
        assignee: VendorAssignee,
    },
    /// Add a note (the routing reason, or a note written in Tandem).
    Note {
        /// The text, plain.
        text: String,
        /// Whether the requester must not see it (an internal note / analysis).
        internal: bool,
    },
    /// Set the vendor's status: the vendor value as the integration's value mappings hold it
    /// (a status id for ConnectWise and Autotask, a status id for HaloPSA).
    Status {
        /// The vendor's status value.
        status: String,
    },
}

/// What the vendor answered to a [`TicketWrite`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteReceipt {
    /// The vendor's id of what the write created (a note's id), so the next sync knows the
    /// record as Tandem's own and does not take it for a new change.
    pub created_id: Option<String>,
    /// When the vendor says it changed the ticket, if it says.
    pub vendor_updated_at: Option<DateTime<Utc>>,
}

/// The pages of `resource` from `cursor` on, as a stream that ends after the last page or the
/// first error.
pub fn pages<'a>(
    connector: &'a dyn Connector,
    resource: Resource,
    cursor: Cursor,
) -> impl Stream<Item = Result<Page, ConnectorError>> + Send + 'a {
    let since = cursor.changed_since;
    futures_util::stream::unfold(Some(cursor.page_token), move |state| async move {
        let token = state?;
        match connector.page(resource, since, token).await {
            // The last page (no next token) ends the stream after it is yielded.
            Ok(page) => {
                let next = page.next.clone().map(Some);
                Some((Ok(page), next))
            }
            Err(error) => Some((Err(error), None)),
        }
    })
}

/// The connector for `config.kind`.
///
/// # Errors
/// [`ConnectorError::Config`] when a required setting or credential is missing.
pub fn build(config: IntegrationConfig) -> Result<Box<dyn Connector>, ConnectorError> {
    build_with(config, Throttle::default())
}

/// [`build`] with the connector's waits on a throttling vendor counted by `throttle` (a sync
/// run's, which reports them as progress).
///
/// # Errors
/// As [`build`].
pub fn build_with(
    config: IntegrationConfig,
    throttle: Throttle,
) -> Result<Box<dyn Connector>, ConnectorError> {
    let http = HttpClient::new(config.policy, config.egress)?.with_throttle(throttle);
    Ok(match config.kind {
        IntegrationKind::ConnectwiseManage => {
            Box::new(connectors::connectwise::ConnectWise::new(config, http)?)
        }
        IntegrationKind::Ninjaone => Box::new(connectors::ninjaone::NinjaOne::new(config, http)?),
        IntegrationKind::Autotask => Box::new(connectors::autotask::Autotask::new(config, http)?),
        IntegrationKind::Halopsa => Box::new(connectors::halopsa::HaloPsa::new(config, http)?),
        IntegrationKind::DattoRmm => Box::new(connectors::datto::DattoRmm::new(config, http)?),
    })
}
