//! Autotask PSA (REST): companies, configuration items and tickets.
//!
//! - Zone: `GET {base}/atservicesrest/v1.0/zoneInformation?user={username}` (unauthenticated)
//!   names the tenant's REST root in `url`; it is cached and looked up again once when the API
//!   answers 401 (tenants move between zones). Autotask answers the lookup `url` with or without
//!   the `v1.0` segment depending on the client that documents it, so both are accepted.
//! - Auth: the headers `UserName`, `Secret` and `ApiIntegrationCode` on every call. Credentials
//!   `username`, `secret` and `integrationCode` (the API tracking identifier). The tracking
//!   identifier is issued with the API user and travels with it, so it is kept with the
//!   credentials; a setting `integrationCode` is accepted too, for integrations created before.
//!   The username (an email, not a secret) is the only credential that goes into a URL, because
//!   the zone lookup takes it as a query parameter.
//! - Queries: `POST /{Entity}/query` with `{"filter": [...], "MaxRecords": n}` (`pageSize`
//!   setting, at most 500); without a changed-since mark the filter is `id gte 0`, which Autotask
//!   needs because a query must carry a filter.
//! - Paging: follow `pageDetails.nextPageUrl` (the page token is that URL); it must be on the zone
//!   host, since every request carries the secret.
//! - Changed since: `gt` on `lastActivityDate` (companies, tickets) or `lastModifiedTime`
//!   (configuration items).
//! - Statuses and priorities are the `status` and `priority` picklists of
//!   `GET /Tickets/entityInformation/fields`; the system status `5` (Complete) is closed.
//! - Notes: for the tickets of a page whose company is mapped to an environment, one bulk query
//!   `TicketNotes` with `ticketID in [...]` (at most 500 ids a query: 500 conditions is the
//!   SOAP API's limit, assumed for REST), its pages followed like any other; none when the setting `syncNotes` is false.
//!   The body is `title` and `description`, the author the creating resource or contact (by id:
//!   a note names no one), the time `createDateTime`. `publish` 1 ("All Autotask Users") is a
//!   note the customer may see; any other value is internal (the reference lists no values, so
//!   an unknown one errs on the side of internal).
//! - Errors are `{"errors": ["..."]}`.
//! - Writes (two-way sync, [`Connector::write_ticket`]), never retried after a 5xx or a lost
//!   connection ([`HttpClient::write_json`]):
//!   - assignment: `PATCH /Tickets` `{"id", "queueID"}` plus `assignedResourceID` and
//!     `assignedResourceRoleID` when a member is mapped. Autotask assigns a resource only with
//!     one of its roles, so a mapped member is written `resourceId:roleId`; a queue alone
//!     leaves the assigned resource as it is;
//!   - status: `PATCH /Tickets` `{"id", "status"}` (the picklist integer);
//!   - note: `POST /Tickets/{id}/Notes` `{"ticketID", "title", "description", "noteType",
//!     "publish"}`: the title is the text's first line (at most 250 characters), the
//!     description the text (cut to 32,000 characters), `noteType` 1 unless the setting
//!     `noteType` names another, `publish` 1 (all Autotask users, the customer's view) or 2
//!     (internal only; assumed, as the reference lists no values). The answer's `itemId` is
//!     the note's id.
//!
//!   Ids are integers at Autotask: a ticket, queue, resource, role or status that is not one
//!   is a configuration error, sent nowhere.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use entities::enums::{IntegrationKind, TicketStatus};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::RwLock;

use super::connectwise::page_size;
use super::notes::{self, NotePlan};
use super::{at, id, records, required_id, required_text, text};
use crate::connector::{Connector, IntegrationConfig, TicketWrite, WriteReceipt};
use crate::error::ConnectorError;
use crate::http::HttpClient;
use crate::model::{
    Company, Device, LookupValue, Normalized, Page, Record, RecordError, Resource, Ticket,
    TicketNote,
};
use crate::{normalize, time};

/// The picklist value of Autotask's system status Complete.
const COMPLETE: &str = "5";

/// The `publish` value of a note all Autotask users, the customer's included, may see.
const PUBLISHED_TO_ALL: &str = "1";

/// [`PUBLISHED_TO_ALL`] as Tandem writes it.
const PUBLISH_TO_ALL: i64 = 1;

/// The `publish` value of a note Tandem writes as internal: "Internal Only" (assumed, as the
/// mock's fixture has it; the reference lists no values).
const INTERNAL_ONLY: i64 = 2;

/// The `noteType` of the notes Tandem writes unless the setting `noteType` names another
/// (1, as clients of the REST API send by default; the picklist is the tenant's).
const DEFAULT_NOTE_TYPE: i64 = 1;

/// The longest `title` of a ticket note Autotask keeps.
const NOTE_TITLE_MAX: usize = 250;

/// The longest `description` of a ticket note Autotask keeps (32,000 characters, as the mock
/// enforces; a longer note is cut rather than refused for good).
const NOTE_DESCRIPTION_MAX: usize = 32_000;

/// The most ticket ids one `TicketNotes` query names.
const NOTE_QUERY_IDS: usize = 500;

/// An Autotask tenant.
pub struct Autotask {
    http: HttpClient,
    base: String,
    username: String,
    secret: String,
    integration_code: String,
    page_size: u32,
    note_plan: NotePlan,
    note_type: i64,
    zone: RwLock<Option<String>>,
    /// The tenant's `configurationItemType` picklist, read once per connector (one sync run).
    ci_types: RwLock<Option<HashMap<String, String>>>,
}

/// Where a request goes: a path under the zone root, or a `nextPageUrl` to follow.
#[derive(Clone, Copy)]
enum Target<'a> {
    Path(&'a str),
    Url(&'a str),
}

impl Autotask {
    /// Settings: optional `pageSize` (at most 500), `syncNotes` (default true) and `noteType`
    /// (the `noteType` picklist value of written notes, default 1); credentials:
    /// `username`, `secret`, `integrationCode` (or the setting `integrationCode`).
    ///
    /// # Errors
    /// [`ConnectorError::Config`] naming what is missing.
    pub fn new(config: IntegrationConfig, http: HttpClient) -> Result<Self, ConnectorError> {
        let integration_code = config
            .credential("integrationCode")
            .or_else(|_| config.setting("integrationCode"))
            .map_err(|_| {
                ConnectorError::Config("the credential `integrationCode` is required".into())
            })?;
        Ok(Self {
            base: config.root(),
            username: config.credential("username")?,
            secret: config.credential("secret")?,
            integration_code,
            page_size: page_size(&config.settings, 500),
            note_plan: NotePlan::of(&config),
            note_type: config
                .settings
                .get("noteType")
                .and_then(Value::as_i64)
                .unwrap_or(DEFAULT_NOTE_TYPE),
            zone: RwLock::new(None),
            ci_types: RwLock::new(None),
            http,
        })
    }

    /// The REST root of the tenant's zone, looked up again when `refresh`.
    async fn zone(&self, refresh: bool) -> Result<String, ConnectorError> {
        if !refresh && let Some(found) = self.zone.read().await.clone() {
            return Ok(found);
        }
        let url = format!("{}/atservicesrest/v1.0/zoneInformation", self.base);
        let result = self
            .http
            .json::<Value>(|| {
                self.http
                    .client()
                    .get(&url)
                    .query(&[("user", &self.username)])
            })
            .await;
        let info = match result {
            Ok((info, _)) => info,
            // Autotask answers an unknown API user with a 500, not a 404.
            Err(ConnectorError::Status { status: 500 }) => {
                return Err(ConnectorError::Unauthorized(
                    "Autotask found no zone for the API user; the zone lookup answered 500".into(),
                ));
            }
            Err(other) => return Err(other),
        };
        let found = text(&info, "url")
            .map(|url| rest_root(&url))
            .ok_or_else(|| ConnectorError::Decode("the zone information names no `url`".into()))?;
        *self.zone.write().await = Some(found.clone());
        Ok(found)
    }

    /// The tenant's configuration item types (value -> label).
    async fn ci_types(&self) -> Result<HashMap<String, String>, ConnectorError> {
        if let Some(found) = self.ci_types.read().await.clone() {
            return Ok(found);
        }
        let fields = self
            .call(
                Method::GET,
                Target::Path("/ConfigurationItems/entityInformation/fields"),
                None,
            )
            .await?;
        let found: HashMap<String, String> = picklist(&fields, "configurationItemType").collect();
        *self.ci_types.write().await = Some(found.clone());
        Ok(found)
    }

    /// Gives the wanted tickets of `read` their notes, one bulk query per [`NOTE_QUERY_IDS`]
    /// tickets.
    ///
    /// # Errors
    /// As [`notes::attach`]; a query the vendor refuses fails its tickets alone.
    async fn read_notes(
        &self,
        read: &mut [Result<Record, RecordError>],
    ) -> Result<(), ConnectorError> {
        let wanted = self.note_plan.wanted(read);
        for chunk in wanted.chunks(NOTE_QUERY_IDS) {
            let ids = chunk.iter().map(|(_, ticket)| ticket.as_str());
            match self.ticket_notes(ids).await {
                Ok(mut by_ticket) => notes::attach(
                    read,
                    chunk.iter().map(|(index, ticket)| {
                        (*index, Ok(by_ticket.remove(ticket).unwrap_or_default()))
                    }),
                )?,
                Err(error) if error.refuses_the_record() => {
                    notes::refuse(read, chunk.iter().map(|(index, _)| *index), &error);
                }
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// The notes of the tickets `ids`, by ticket id, every page of the query read.
    async fn ticket_notes(
        &self,
        ids: impl Iterator<Item = &str>,
    ) -> Result<HashMap<String, Vec<TicketNote>>, ConnectorError> {
        // Ids are numbers at Autotask; one that is not is sent as it came.
        let ids: Vec<Value> = ids
            .map(|ticket| {
                ticket
                    .parse::<i64>()
                    .map_or_else(|_| json!(ticket), |number| json!(number))
            })
            .collect();
        let query = json!({
            "filter": [{ "op": "in", "field": "ticketID", "value": ids }],
            "MaxRecords": 500
        });
        let mut body = self
            .call(
                Method::POST,
                Target::Path("/TicketNotes/query"),
                Some(&query),
            )
            .await?;
        let mut found: HashMap<String, Vec<TicketNote>> = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        loop {
            let items = at(&body, "items")
                .and_then(Value::as_array)
                .ok_or_else(|| ConnectorError::Decode("`items` is missing".into()))?;
            let mut progress = items.is_empty();
            for item in items {
                // A note already read (overlapping pages) is neither progress nor read twice.
                let new = id(item, "id").is_some_and(|note| seen.insert(note));
                progress |= new;
                if !new {
                    continue;
                }
                if let (Some(ticket), Some(note)) = (id(item, "ticketID"), ticket_note(item)) {
                    found.entry(ticket).or_default().push(note);
                }
            }
            // A next page that repeats notes already read would never end the walk.
            if !progress {
                return Err(ConnectorError::Decode(
                    "Autotask's TicketNotes pages repeat notes already read; the walk stopped"
                        .into(),
                ));
            }
            match text(&body, "pageDetails/nextPageUrl").filter(|_| !items.is_empty()) {
                Some(next) => body = self.call(Method::GET, Target::Url(&next), None).await?,
                None => return Ok(found),
            }
        }
    }

    /// Sends `method` to `target` with the auth headers, looking the zone up again once after a
    /// 401.
    async fn call(
        &self,
        method: Method,
        target: Target<'_>,
        body: Option<&Value>,
    ) -> Result<Value, ConnectorError> {
        self.call_as(method, target, body, false).await
    }

    /// [`Self::call`] for a write: sent again after a 429 or a 401 (neither applied it), never
    /// after a 5xx or a lost connection (it may have been applied; the outbox decides).
    async fn write(
        &self,
        method: Method,
        path: &str,
        body: &Value,
    ) -> Result<Value, ConnectorError> {
        self.call_as(method, Target::Path(path), Some(body), true)
            .await
    }

    async fn call_as(
        &self,
        method: Method,
        target: Target<'_>,
        body: Option<&Value>,
        write: bool,
    ) -> Result<Value, ConnectorError> {
        let mut refreshed = false;
        loop {
            let zone = self.zone(refreshed).await?;
            let url = match target {
                Target::Path(path) => format!("{zone}{path}"),
                Target::Url(url) => {
                    same_host(url, &zone)?;
                    url.to_owned()
                }
            };
            let build = || {
                let request = self
                    .http
                    .client()
                    .request(method.clone(), &url)
                    .header("UserName", &self.username)
                    .header("Secret", &self.secret)
                    .header("ApiIntegrationCode", &self.integration_code)
                    .header("Accept", "application/json");
                match body {
                    Some(body) => request.json(body),
                    None => request,
                }
            };
            let result = if write {
                self.http.write_json::<Value>(build).await
            } else {
                self.http.json::<Value>(build).await
            };
            match result {
                // The tenant may have moved to another zone: look it up again, once.
                Err(ConnectorError::Unauthorized(_)) if !refreshed => refreshed = true,
                other => return other.map(|(value, _)| value),
            }
        }
    }
}

/// An Autotask id from Tandem's string: ids are integers there.
fn numeric(value: &str, what: &str) -> Result<i64, ConnectorError> {
    value.trim().parse().map_err(|_| {
        ConnectorError::Config(format!("the Autotask {what} `{value}` is not a number"))
    })
}

/// The resource and role of a mapped member, written `resourceId:roleId`: Autotask assigns a
/// resource to a ticket only with one of its roles.
fn resource_and_role(member: &str) -> Result<(i64, i64), ConnectorError> {
    let (resource, role) = member.split_once(':').ok_or_else(|| {
        ConnectorError::Config(format!(
            "the Autotask member `{member}` must be `resourceId:roleId` (a resource is assigned with a role)"
        ))
    })?;
    Ok((numeric(resource, "resource id")?, numeric(role, "role id")?))
}

/// The body of `PATCH /Tickets` or `POST /Tickets/{id}/Notes` for `write` on ticket `ticket`,
/// and whether it is a note.
fn write_body(ticket: i64, write: &TicketWrite, note_type: i64) -> Result<Value, ConnectorError> {
    Ok(match write {
        TicketWrite::Assign { assignee } => {
            let mut body =
                json!({ "id": ticket, "queueID": numeric(&assignee.group, "queue id")? });
            if let Some(member) = &assignee.member {
                let (resource, role) = resource_and_role(member)?;
                body["assignedResourceID"] = json!(resource);
                body["assignedResourceRoleID"] = json!(role);
            }
            body
        }
        TicketWrite::Status { status } => {
            json!({ "id": ticket, "status": numeric(status, "status")? })
        }
        TicketWrite::Note { text, internal } => json!({
            "ticketID": ticket,
            "title": note_title(text),
            "description": note_description(text)?,
            "noteType": note_type,
            "publish": if *internal { INTERNAL_ONLY } else { PUBLISH_TO_ALL },
        }),
    })
}

/// A note's description: its text, cut to what Autotask keeps (the cut marked with `…`).
///
/// # Errors
/// [`ConnectorError::Config`] for a blank note, which Autotask refuses.
fn note_description(text: &str) -> Result<String, ConnectorError> {
    if text.trim().is_empty() {
        return Err(ConnectorError::Config("a note needs text".into()));
    }
    if text.chars().count() <= NOTE_DESCRIPTION_MAX {
        return Ok(text.to_owned());
    }
    let mut cut: String = text.chars().take(NOTE_DESCRIPTION_MAX - 1).collect();
    cut.push('…');
    Ok(cut)
}

/// A note's title: its first line, cut to what Autotask keeps. The description then starts
/// with the title, so reading the note back gives the text alone ([`ticket_note`]).
fn note_title(text: &str) -> String {
    let first = text.trim().lines().next().unwrap_or_default().trim();
    let title: String = first.chars().take(NOTE_TITLE_MAX).collect();
    if title.is_empty() {
        "Note".to_owned()
    } else {
        title
    }
}

/// The REST root from a zone `url`, with the `v1.0` segment and without a trailing slash.
fn rest_root(url: &str) -> String {
    let trimmed = url.trim().trim_end_matches('/');
    if trimmed.to_ascii_lowercase().ends_with("/v1.0") {
        trimmed.to_owned()
    } else {
        format!("{trimmed}/v1.0")
    }
}

/// Refuses a `nextPageUrl` that is not on the zone's host: the request would carry the secret.
fn same_host(url: &str, zone: &str) -> Result<(), ConnectorError> {
    let origin = |text: &str| {
        url::Url::parse(text).ok().map(|parsed| {
            (
                parsed.scheme().to_owned(),
                parsed.host_str().map(str::to_ascii_lowercase),
                parsed.port_or_known_default(),
            )
        })
    };
    match (origin(url), origin(zone)) {
        (Some(next), Some(root)) if next == root => Ok(()),
        _ => Err(ConnectorError::Config(
            "the page token is not a page of the tenant's Autotask zone".into(),
        )),
    }
}

/// The query body: records changed after `since` on `watermark`, or every record.
fn query(watermark: &str, since: Option<DateTime<Utc>>, max_records: u32) -> Value {
    let filter = match since {
        Some(since) => json!({ "op": "gt", "field": watermark, "value": time::format(since) }),
        None => json!({ "op": "gte", "field": "id", "value": 0 }),
    };
    json!({ "filter": [filter], "MaxRecords": max_records })
}

fn company(raw: &Value) -> Result<Record, String> {
    Ok(Record::Company(Company {
        external_id: required_id(raw, "id")?,
        name: required_text(raw, "companyName")?,
    }))
}

/// A configuration item, its `configurationItemType` named by `types` (the tenant's picklist:
/// value -> label).
fn configuration_item(raw: &Value, types: &HashMap<String, String>) -> Result<Record, String> {
    let operating_system = text(raw, "rmmDeviceAuditOperatingSystem");
    let hostname = text(raw, "rmmDeviceAuditHostname");
    let name = text(raw, "referenceTitle")
        .or_else(|| hostname.clone())
        .ok_or("`referenceTitle` and `rmmDeviceAuditHostname` are both missing")?;
    // The type is a tenant picklist id: its label (workstation, server, network device,
    // printer ...) names the kind, the OS is the hint when the label says nothing.
    let type_id = id(raw, "configurationItemType");
    let type_label = type_id.as_ref().and_then(|value| types.get(value)).cloned();
    let kind = normalize::kind(
        type_label.as_deref().unwrap_or_default(),
        operating_system.as_deref(),
    );
    let kind_raw = type_label.or(type_id);
    Ok(Record::Device(Device {
        external_id: required_id(raw, "id")?,
        resource: "configuration_item",
        company_id: required_id(raw, "companyID")?,
        kind,
        kind_raw,
        hostname,
        serial_number: text(raw, "serialNumber"),
        mac_address: text(raw, "rmmDeviceAuditMacAddress"),
        operating_system,
        ip_address: text(raw, "rmmDeviceAuditIPAddress"),
        rmm_uid: text(raw, "rmmDeviceUID"),
        url: None,
        active: at(raw, "isActive").and_then(Value::as_bool).unwrap_or(true),
        name,
    }))
}

fn ticket(raw: &Value) -> Result<Record, String> {
    let created = text(raw, "createDate").ok_or("`createDate` is missing")?;
    let status = required_id(raw, "status")?;
    let completed = at(raw, "completedDate").is_some_and(|value| !value.is_null());
    Ok(Record::Ticket(Ticket {
        external_id: required_id(raw, "id")?,
        company_id: required_id(raw, "companyID")?,
        device_id: id(raw, "configurationItemID"),
        title: required_text(raw, "title")?,
        description: text(raw, "description"),
        closed: status == COMPLETE || completed,
        // `resolvedDateTime` when the tenant records resolutions apart from completion.
        closed_at: text(raw, "completedDate")
            .or_else(|| text(raw, "resolvedDateTime"))
            .and_then(|date| time::iso(&date)),
        status,
        status_label: None,
        priority: id(raw, "priority"),
        priority_label: None,
        requester: None,
        created_at: time::iso(&created)
            .ok_or_else(|| format!("`createDate` is not a date: {created}"))?,
        url: None,
        notes: None,
    }))
}

/// A note as Tandem keeps it, or `None` when it has no id, no text or no creation time.
fn ticket_note(raw: &Value) -> Option<TicketNote> {
    let body = note_body(text(raw, "title"), text(raw, "description"))?;
    Some(TicketNote {
        external_id: id(raw, "id")?,
        author: id(raw, "creatorResourceID")
            .map(|resource| format!("resource {resource}"))
            .or_else(|| id(raw, "createdByContactID").map(|contact| format!("contact {contact}"))),
        body,
        internal: id(raw, "publish").as_deref() != Some(PUBLISHED_TO_ALL),
        created_at: text(raw, "createDateTime").and_then(|date| time::iso(&date))?,
    })
}

/// A note's text from its `title` and `description` (trimmed): the description, led by the
/// title when it does not already start with it.
fn note_body(title: Option<String>, description: Option<String>) -> Option<String> {
    Some(match (title, description) {
        (Some(title), Some(description)) if !description.starts_with(&title) => {
            format!("{title}\n\n{description}")
        }
        (_, Some(description)) => description,
        (Some(title), None) => title,
        (None, None) => return None,
    })
}

/// The text a note written with `text` reads back as ([`write_body`], then [`ticket_note`]),
/// or `None` for a text Tandem never writes (a blank one).
fn written_note_body(text: &str) -> Option<String> {
    let trim = |value: String| Some(value.trim().to_owned()).filter(|value| !value.is_empty());
    note_body(trim(note_title(text)), trim(note_description(text).ok()?))
}

/// The picklist of the field `name` in an `entityInformation/fields` answer.
fn picklist<'a>(fields: &'a Value, name: &str) -> impl Iterator<Item = (String, String)> + 'a {
    let field = at(fields, "fields")
        .and_then(Value::as_array)
        .and_then(|fields| {
            fields.iter().find(|field| {
                text(field, "name").is_some_and(|found| found.eq_ignore_ascii_case(name))
            })
        });
    field
        .and_then(|field| at(field, "picklistValues"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|value| Some((id(value, "value")?, text(value, "label")?)))
}

#[async_trait]
impl Connector for Autotask {
    fn kind(&self) -> IntegrationKind {
        IntegrationKind::Autotask
    }

    fn resources(&self) -> &'static [Resource] {
        &[Resource::Companies, Resource::Devices, Resource::Tickets]
    }

    fn filters_by_change(&self, _resource: Resource) -> bool {
        true
    }

    async fn check(&self) -> Result<String, ConnectorError> {
        let usage = self
            .call(Method::GET, Target::Path("/ThresholdInformation"), None)
            .await?;
        let count = |key: &str| {
            at(&usage, key)
                .and_then(Value::as_u64)
                .map_or_else(|| "?".to_owned(), |count| count.to_string())
        };
        Ok(format!(
            "Autotask at {}: {} of {} requests used this hour",
            self.zone(false).await?,
            count("currentTimeframeRequestCount"),
            count("externalRequestThreshold")
        ))
    }

    async fn lookups(&self) -> Result<Vec<LookupValue>, ConnectorError> {
        let fields = self
            .call(
                Method::GET,
                Target::Path("/Tickets/entityInformation/fields"),
                None,
            )
            .await?;
        let statuses = picklist(&fields, "status").map(|(value, label)| LookupValue {
            suggested: Normalized::Status(if value == COMPLETE {
                TicketStatus::Closed
            } else {
                normalize::status(&label, false)
            }),
            value,
            label,
        });
        let priorities = picklist(&fields, "priority").map(|(value, label)| LookupValue {
            suggested: Normalized::Priority(normalize::priority(&label)),
            value,
            label,
        });
        Ok(statuses.chain(priorities).collect())
    }

    async fn page(
        &self,
        resource: Resource,
        since: Option<DateTime<Utc>>,
        token: Option<String>,
    ) -> Result<Page, ConnectorError> {
        let (entity, watermark) = match resource {
            Resource::Companies => ("Companies", "lastActivityDate"),
            Resource::Devices => ("ConfigurationItems", "lastModifiedTime"),
            Resource::Tickets => ("Tickets", "lastActivityDate"),
            other => {
                return Err(ConnectorError::Config(format!(
                    "Autotask does not sync {}",
                    other.as_str()
                )));
            }
        };
        let body = match token {
            Some(next) => {
                // A token of another resource would silently read the wrong entity.
                let path = format!("/{entity}/query").to_ascii_lowercase();
                if !next.to_ascii_lowercase().contains(&path) {
                    return Err(ConnectorError::Config(format!(
                        "the page token is not a page of {entity}"
                    )));
                }
                self.call(Method::GET, Target::Url(&next), None).await?
            }
            None => {
                let path = format!("/{entity}/query");
                let query = query(watermark, since, self.page_size);
                self.call(Method::POST, Target::Path(&path), Some(&query))
                    .await?
            }
        };
        let items = at(&body, "items")
            .and_then(Value::as_array)
            .ok_or_else(|| ConnectorError::Decode("`items` is missing".into()))?;
        let records = match resource {
            Resource::Companies => records(items, company),
            Resource::Devices => {
                let types = self.ci_types().await?;
                records(items, |raw| configuration_item(raw, &types))
            }
            _ => {
                let mut read = records(items, ticket);
                self.read_notes(&mut read).await?;
                read
            }
        };
        Ok(Page {
            records,
            // A next page after an empty one would never end the walk.
            next: text(&body, "pageDetails/nextPageUrl").filter(|_| !items.is_empty()),
        })
    }

    async fn write_ticket(
        &self,
        ticket: &str,
        write: &TicketWrite,
    ) -> Result<WriteReceipt, ConnectorError> {
        let number = numeric(ticket, "ticket id")?;
        let body = write_body(number, write, self.note_type)?;
        let answer = match write {
            TicketWrite::Note { .. } => {
                self.write(Method::POST, &format!("/Tickets/{number}/Notes"), &body)
                    .await?
            }
            _ => self.write(Method::PATCH, "/Tickets", &body).await?,
        };
        // An update answers the ticket's own id, which says nothing new; a note's is what the
        // next sync must know as Tandem's own, so a note without one is an error.
        let created_id = match write {
            TicketWrite::Note { .. } => Some(id(&answer, "itemId").ok_or_else(|| {
                ConnectorError::Decode("the answer to a new note names no `itemId`".into())
            })?),
            _ => None,
        };
        Ok(WriteReceipt {
            created_id,
            // Autotask does not say when; the next sync reads `lastActivityDate`.
            vendor_updated_at: None,
        })
    }

    /// The ticket's `TicketNotes` (one query), matched the way [`Self::write_ticket`] writes
    /// a note: the title its first line, the description its text (cut as Autotask keeps it).
    async fn find_note(&self, ticket: &str, body: &str) -> Result<Option<String>, ConnectorError> {
        let number = numeric(ticket, "ticket id")?;
        let Some(wanted) = written_note_body(body) else {
            return Ok(None);
        };
        let number = number.to_string();
        let mut notes = self.ticket_notes(std::iter::once(number.as_str())).await?;
        Ok(notes
            .remove(&number)
            .unwrap_or_default()
            .into_iter()
            .find(|note| note.body.trim() == wanted)
            .map(|note| note.external_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_carry_autotask_ids_as_numbers_and_a_member_with_its_role() {
        let assign = |member: Option<&str>| TicketWrite::Assign {
            assignee: crate::connector::VendorAssignee {
                group: "29682833".into(),
                member: member.map(str::to_owned),
            },
        };
        assert_eq!(
            write_body(30_000, &assign(Some("29682885:29683461")), 1).unwrap(),
            json!({ "id": 30000, "queueID": 29_682_833, "assignedResourceID": 29_682_885, "assignedResourceRoleID": 29_683_461 })
        );
        assert_eq!(
            write_body(30_000, &assign(None), 1).unwrap(),
            json!({ "id": 30000, "queueID": 29_682_833 })
        );
        for bad in ["29682885", "29682885:", "x:1", ":1"] {
            assert!(
                matches!(
                    write_body(30_000, &assign(Some(bad)), 1),
                    Err(ConnectorError::Config(_))
                ),
                "{bad}"
            );
        }
        let status = TicketWrite::Status {
            status: "In Progress".into(),
        };
        assert!(matches!(
            write_body(30_000, &status, 1),
            Err(ConnectorError::Config(_))
        ));
    }

    #[test]
    fn a_note_description_is_cut_to_what_autotask_keeps_and_a_blank_one_refused() {
        assert_eq!(note_description("short").unwrap(), "short");
        let long = "ü".repeat(NOTE_DESCRIPTION_MAX + 10);
        let cut = note_description(&long).unwrap();
        assert_eq!(cut.chars().count(), NOTE_DESCRIPTION_MAX);
        assert!(cut.ends_with('…'));
        let exact = "a".repeat(NOTE_DESCRIPTION_MAX);
        assert_eq!(note_description(&exact).unwrap(), exact);
        assert!(matches!(
            note_description(" \n "),
            Err(ConnectorError::Config(_))
        ));
    }

    #[test]
    fn a_note_title_is_its_first_line_cut_to_what_autotask_keeps() {
        assert_eq!(
            note_title("Routed to Tier 2\nbecause ..."),
            "Routed to Tier 2"
        );
        assert_eq!(note_title("  \n "), "Note");
        let long = "é".repeat(400);
        assert_eq!(note_title(&long).chars().count(), NOTE_TITLE_MAX);
    }

    #[test]
    fn the_zone_url_is_read_with_or_without_its_version() {
        assert_eq!(
            rest_root("https://webservices5.autotask.net/atservicesrest/"),
            "https://webservices5.autotask.net/atservicesrest/v1.0"
        );
        assert_eq!(
            rest_root("https://webservices5.autotask.net/ATServicesRest/V1.0/"),
            "https://webservices5.autotask.net/ATServicesRest/V1.0"
        );
    }

    #[test]
    fn only_pages_on_the_zone_host_are_followed() {
        let zone = "https://webservices5.autotask.net/atservicesrest/v1.0";
        assert!(
            same_host(
                "https://WEBSERVICES5.autotask.net/atservicesrest/v1.0/Tickets/query/next?paging=x",
                zone
            )
            .is_ok()
        );
        assert!(
            same_host(
                "https://evil.example/atservicesrest/v1.0/Tickets/query/next",
                zone
            )
            .is_err()
        );
        assert!(
            same_host(
                "http://webservices5.autotask.net/atservicesrest/v1.0/Tickets/query/next",
                zone
            )
            .is_err()
        );
        assert!(same_host("not a url", zone).is_err());
    }
}
