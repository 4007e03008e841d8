//! ConnectWise Manage (PSA): companies, configurations and service tickets.
//!
//! - Host and codebase: `{base}/{codebase}apis/3.0`; the codebase comes from the setting
//!   `codebase` or from `GET {base}/login/companyinfo/{companyId}`, is cached, and is looked up
//!   again once when the API answers 404 (hosted tenants move between codebases).
//! - Auth: HTTP Basic `{companyId}+{publicKey}:{privateKey}` and the `clientId` header.
//! - Paging: forward-only (`pagination-type: forward-only`, `pageId` from the `Link` header's
//!   `rel="next"`), `pageSize` up to 1,000, and nothing else the mode does not document (no
//!   `orderBy`: the mode orders by id itself).
//! - Changed since: `conditions=lastUpdated > [2025-03-01T00:00:00Z]`.
//! - Notes: `/service/tickets/{id}/notes` for each ticket a page returns (a changed ticket's
//!   `lastUpdated` moves when a note is added) whose company is mapped to an environment (the
//!   sync skips other tickets, so their notes would be wasted requests), at most
//!   `noteConcurrency` (1 to 16, default 8) requests at once, inside the run's throttling
//!   budget; none when the setting `syncNotes` is false. ConnectWise has no bulk notes query.
//! - Statuses are per board (`/service/boards/{id}/statuses`: `closedStatus`,
//!   `escalationStatus`); priorities rank by `sortOrder`.
//! - Writes (two-way sync, [`Connector::write_ticket`]): the assignment and the status are a
//!   JSON-Patch `PATCH /service/tickets/{id}` (`[{"op":"replace","path":"board","value":{"id":N}}]`,
//!   plus `owner` when a member is mapped; `status` likewise); a note is
//!   `POST /service/tickets/{id}/notes` with `{"text", "internalAnalysisFlag",
//!   "detailDescriptionFlag": false}`, answered with the note and its `id`. Each write is sent
//!   again after a 429 only ([`HttpClient::send_write`]): a write that reached the vendor and
//!   whose answer was lost (a 5xx, a timeout) must not be repeated blindly; the caller (the write-back queue) retries transient
//!   failures and looks for the note first ([`Connector::find_note`]).

use async_trait::async_trait;
use base64::Engine;
use chrono::{DateTime, Utc};
use entities::enums::{IntegrationKind, TicketStatus};
use reqwest::header::HeaderMap;
use serde_json::Value;
use tokio::sync::RwLock;

use super::notes::NotePlan;
use super::{at, id, records, required_id, required_text, text};
use crate::connector::{Connector, IntegrationConfig, TicketWrite, WriteReceipt};
use crate::error::ConnectorError;
use crate::http::HttpClient;
use crate::model::{
    Company, Device, LookupValue, Normalized, Page, Record, Resource, Ticket, TicketNote,
};
use crate::{normalize, time};

const ACCEPT: &str = "application/vnd.connectwise.com+json; version=2025.16";

/// A ConnectWise Manage tenant.
pub struct ConnectWise {
    http: HttpClient,
    base: String,
    company_id: String,
    client_id: String,
    authorization: String,
    page_size: u32,
    note_plan: NotePlan,
    codebase: RwLock<Option<String>>,
}

impl ConnectWise {
    /// Settings: `companyId`, `clientId`, optional `codebase`, `pageSize`, `syncNotes`
    /// (default true) and `noteConcurrency` (default 8); credentials: `publicKey`, `privateKey`.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] naming what is missing.
    pub fn new(config: IntegrationConfig, http: HttpClient) -> Result<Self, ConnectorError> {
        let company_id = config.setting("companyId")?;
        let login = format!(
            "{company_id}+{}:{}",
            config.credential("publicKey")?,
            config.credential("privateKey")?
        );
        Ok(Self {
            http,
            base: config.root(),
            client_id: config.setting("clientId")?,
            authorization: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(login)
            ),
            page_size: page_size(&config.settings, 1000),
            note_plan: NotePlan::of(&config),
            codebase: RwLock::new(
                config
                    .setting("codebase")
                    .ok()
                    .map(|codebase| format!("{}/", codebase.trim_matches('/'))),
            ),
            company_id,
        })
    }

    async fn codebase(&self, refresh: bool) -> Result<String, ConnectorError> {
        if !refresh && let Some(found) = self.codebase.read().await.clone() {
            return Ok(found);
        }
        let url = format!("{}/login/companyinfo/{}", self.base, self.company_id);
        let (info, _): (Value, _) = self.http.json(|| self.http.client().get(&url)).await?;
        let found = text(&info, "Codebase").ok_or_else(|| {
            ConnectorError::Config(format!(
                "ConnectWise knows no company `{}` at {}",
                self.company_id, self.base
            ))
        })?;
        *self.codebase.write().await = Some(found.clone());
        Ok(found)
    }

    /// GETs `path` (under `apis/3.0`) with `query`, looking the codebase up again after a 404.
    async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        forward_only: bool,
    ) -> Result<(Value, HeaderMap), ConnectorError> {
        let mut refreshed = false;
        loop {
            let url = format!(
                "{}/{}apis/3.0{path}",
                self.base,
                self.codebase(refreshed).await?
            );
            let result = self
                .http
                .json(|| {
                    let request = self
                        .http
                        .client()
                        .get(&url)
                        .query(query)
                        .header("Authorization", &self.authorization)
                        .header("clientId", &self.client_id)
                        .header("Accept", ACCEPT);
                    if forward_only {
                        request.header("pagination-type", "forward-only")
                    } else {
                        request
                    }
                })
                .await;
            match result {
                Err(ConnectorError::Status { status: 404, .. }) if !refreshed => refreshed = true,
                other => return other,
            }
        }
    }

    /// The notes of ticket `id` (`/service/tickets/{id}/notes`); notes without an id or text
    /// are left out.
    async fn notes(&self, ticket: &str) -> Result<Vec<TicketNote>, ConnectorError> {
        let (items, _) = self
            .get(
                &format!("/service/tickets/{ticket}/notes"),
                &[
                    ("pageSize", "1000".to_owned()),
                    ("orderBy", "id asc".to_owned()),
                ],
                false,
            )
            .await?;
        // An answer that is not a list is not "no notes": the ticket fails instead of being
        // written without them.
        let items = items
            .as_array()
            .ok_or_else(|| ConnectorError::Decode("the notes are not a JSON array".into()))?;
        Ok(items
            .iter()
            .filter_map(|note| {
                Some(TicketNote {
                    external_id: id(note, "id")?,
                    author: text(note, "member/name")
                        .or_else(|| text(note, "contact/name"))
                        .or_else(|| text(note, "createdBy")),
                    body: text(note, "text")?,
                    internal: at(note, "internalAnalysisFlag").and_then(Value::as_bool)
                        == Some(true)
                        || at(note, "internalFlag").and_then(Value::as_bool) == Some(true),
                    created_at: text(note, "dateCreated").and_then(|date| time::iso(&date))?,
                })
            })
            .collect())
    }

    /// Sends one write (`PATCH`/`POST` of `body` to `path` under `apis/3.0`), again only after a
    /// 429 ([`HttpClient::send_write`]), and reads the answer as JSON (`Null` for an empty one).
    async fn write(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> Result<Value, ConnectorError> {
        let url = format!(
            "{}/{}apis/3.0{path}",
            self.base,
            self.codebase(false).await?
        );
        // Sent again after a 429 only: after a 5xx or a lost connection ConnectWise may have
        // applied it, and the write-back outbox (with its note dedupe) decides.
        let response = self
            .http
            .send_write(|| {
                self.http
                    .client()
                    .request(method.clone(), &url)
                    .header("Authorization", &self.authorization)
                    .header("clientId", &self.client_id)
                    .header("Accept", ACCEPT)
                    .json(body)
            })
            .await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|_| ConnectorError::Decode("the answer could not be read".into()))?;
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes)
            .map_err(|_| ConnectorError::Decode("the answer is not the JSON expected".into()))
    }

    async fn list(&self, path: &str) -> Result<Vec<Value>, ConnectorError> {
        let (items, _) = self
            .get(path, &[("pageSize", "1000".to_owned())], false)
            .await?;
        Ok(items.as_array().cloned().unwrap_or_default())
    }
}

/// The page size setting, within `1..=max`.
pub(crate) fn page_size(settings: &Value, max: u32) -> u32 {
    settings
        .get("pageSize")
        .and_then(Value::as_u64)
        .map_or(max, |size| size.clamp(1, u64::from(max)) as u32)
}

/// The `pageId` of the `rel="next"` link of a `Link` header.
fn next_page_id(headers: &HeaderMap) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        if !params.contains("rel=\"next\"") {
            return None;
        }
        let target = target.trim().trim_start_matches('<').trim_end_matches('>');
        let url = url::Url::parse(target).ok()?;
        url.query_pairs()
            .find(|(key, _)| key == "pageId")
            .map(|(_, value)| value.into_owned())
    })
}

/// A vendor id Tandem writes (a board, member or status id): ConnectWise's are integers.
fn numeric(what: &str, value: &str) -> Result<i64, ConnectorError> {
    value.trim().parse().map_err(|_| {
        ConnectorError::Config(format!(
            "a ConnectWise {what} id is a number, not `{value}`"
        ))
    })
}

/// The JSON-Patch operations of a write that changes the ticket's own fields.
fn patch_of(write: &TicketWrite) -> Result<Option<Value>, ConnectorError> {
    Ok(match write {
        TicketWrite::Assign { assignee } => {
            let mut operations = vec![serde_json::json!({
                "op": "replace", "path": "board", "value": { "id": numeric("board", &assignee.group)? }
            })];
            if let Some(member) = &assignee.member {
                operations.push(serde_json::json!({
                    "op": "replace", "path": "owner", "value": { "id": numeric("member", member)? }
                }));
            }
            Some(Value::Array(operations))
        }
        TicketWrite::Status { status } => Some(serde_json::json!([
            { "op": "replace", "path": "status", "value": { "id": numeric("status", status)? } }
        ])),
        TicketWrite::Note { .. } => None,
    })
}

fn company(raw: &Value) -> Result<Record, String> {
    Ok(Record::Company(Company {
        external_id: required_id(raw, "id")?,
        name: required_text(raw, "name")?,
    }))
}

fn configuration(raw: &Value) -> Result<Record, String> {
    let kind_raw = text(raw, "type/name");
    let operating_system = text(raw, "osType");
    Ok(Record::Device(Device {
        external_id: required_id(raw, "id")?,
        resource: "configuration",
        company_id: required_id(raw, "company/id")?,
        name: required_text(raw, "name")?,
        kind: normalize::kind(
            kind_raw.as_deref().unwrap_or_default(),
            operating_system.as_deref(),
        ),
        kind_raw,
        hostname: text(raw, "name"),
        serial_number: text(raw, "serialNumber"),
        mac_address: text(raw, "macAddress"),
        operating_system,
        ip_address: text(raw, "ipAddress"),
        rmm_uid: text(raw, "deviceIdentifier"),
        url: None,
        // `activeFlag` false, or a status the tenant named inactive or retired.
        active: at(raw, "activeFlag")
            .and_then(Value::as_bool)
            .unwrap_or(true)
            && !text(raw, "status/name").is_some_and(|status| {
                let status = status.to_ascii_lowercase();
                ["inactive", "retired", "decommissioned", "disposed"]
                    .iter()
                    .any(|word| status.contains(word))
            }),
    }))
}

fn ticket(raw: &Value) -> Result<Record, String> {
    let created = text(raw, "_info/dateEntered").ok_or("`_info/dateEntered` is missing")?;
    Ok(Record::Ticket(Ticket {
        external_id: required_id(raw, "id")?,
        company_id: required_id(raw, "company/id")?,
        device_id: None,
        title: required_text(raw, "summary")?,
        description: text(raw, "initialDescription"),
        status: required_id(raw, "status/id")?,
        status_label: text(raw, "status/name"),
        closed_at: text(raw, "closedDate").and_then(|date| time::iso(&date)),
        closed: at(raw, "closedFlag")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        priority: id(raw, "priority/id"),
        priority_label: text(raw, "priority/name"),
        requester: text(raw, "contact/name"),
        created_at: time::iso(&created)
            .ok_or_else(|| format!("`_info/dateEntered` is not a date: {created}"))?,
        url: None,
        notes: None,
    }))
}

#[async_trait]
impl Connector for ConnectWise {
    fn kind(&self) -> IntegrationKind {
        IntegrationKind::ConnectwiseManage
    }

    fn resources(&self) -> &'static [Resource] {
        &[Resource::Companies, Resource::Devices, Resource::Tickets]
    }

    fn filters_by_change(&self, _resource: Resource) -> bool {
        true
    }

    async fn check(&self) -> Result<String, ConnectorError> {
        let (info, _) = self.get("/system/info", &[], false).await?;
        Ok(format!(
            "ConnectWise Manage {} ({})",
            text(&info, "version").unwrap_or_else(|| "version unknown".into()),
            self.codebase(false).await?.trim_end_matches('/')
        ))
    }

    async fn lookups(&self) -> Result<Vec<LookupValue>, ConnectorError> {
        let mut found = Vec::new();
        for board in self.list("/service/boards").await? {
            let Some(board_id) = id(&board, "id") else {
                continue;
            };
            for status in self
                .list(&format!("/service/boards/{board_id}/statuses"))
                .await?
            {
                let (Some(value), Some(label)) = (id(&status, "id"), text(&status, "name")) else {
                    continue;
                };
                let closed = at(&status, "closedStatus").and_then(Value::as_bool) == Some(true);
                let suggested = match text(&status, "escalationStatus").as_deref() {
                    _ if closed => normalize::status(&label, true),
                    Some("NotResponded") => TicketStatus::New,
                    Some("Resolved") => TicketStatus::Resolved,
                    Some("Responded" | "ResolutionPlan") => {
                        match normalize::status(&label, false) {
                            TicketStatus::Waiting => TicketStatus::Waiting,
                            _ => TicketStatus::InProgress,
                        }
                    }
                    _ => normalize::status(&label, false),
                };
                found.push(LookupValue {
                    value,
                    label,
                    suggested: Normalized::Status(suggested),
                });
            }
        }
        let mut priorities = self.list("/service/priorities").await?;
        priorities.sort_by_key(|priority| at(priority, "sortOrder").and_then(Value::as_i64));
        let count = priorities.len();
        for (rank, priority) in priorities.iter().enumerate() {
            let (Some(value), Some(label)) = (id(priority, "id"), text(priority, "name")) else {
                continue;
            };
            found.push(LookupValue {
                value,
                suggested: Normalized::Priority(
                    if label.to_ascii_lowercase().contains("priority") {
                        normalize::priority(&label)
                    } else {
                        normalize::priority_by_rank(rank, count)
                    },
                ),
                label,
            });
        }
        Ok(found)
    }

    async fn page(
        &self,
        resource: Resource,
        since: Option<DateTime<Utc>>,
        token: Option<String>,
    ) -> Result<Page, ConnectorError> {
        let (path, read): (&str, fn(&Value) -> Result<Record, String>) = match resource {
            Resource::Companies => ("/company/companies", company),
            Resource::Devices => ("/company/configurations", configuration),
            Resource::Tickets => ("/service/tickets", ticket),
            other => {
                return Err(ConnectorError::Config(format!(
                    "ConnectWise does not sync {}",
                    other.as_str()
                )));
            }
        };
        // Forward-only paging orders by id itself (`pageId` is an `id > pageId` condition); an
        // `orderBy` beside it is an undocumented combination a strict server refuses.
        let mut query = vec![("pageSize", self.page_size.to_string())];
        if let Some(since) = since {
            query.push((
                "conditions",
                format!("lastUpdated > [{}]", time::format(since)),
            ));
        }
        if let Some(token) = token {
            query.push(("pageId", token));
        }
        let (items, headers) = self.get(path, &query, true).await?;
        let items = items
            .as_array()
            .ok_or_else(|| ConnectorError::Decode("a list is not a JSON array".into()))?;
        let mut read = records(items, read);
        if resource == Resource::Tickets {
            // Notes live under each ticket: one request per ticket of a mapped company, at most
            // `noteConcurrency` at once.
            self.note_plan
                .read_per_ticket(&mut read, |ticket| async move { self.notes(&ticket).await })
                .await?;
        }
        Ok(Page {
            records: read,
            next: next_page_id(&headers),
        })
    }

    async fn write_ticket(
        &self,
        ticket: &str,
        write: &TicketWrite,
    ) -> Result<WriteReceipt, ConnectorError> {
        let ticket = numeric("ticket", ticket)?;
        let answer = match (write, patch_of(write)?) {
            (TicketWrite::Note { text, internal }, _) => {
                self.write(
                    reqwest::Method::POST,
                    &format!("/service/tickets/{ticket}/notes"),
                    &serde_json::json!({
                        "text": text,
                        "internalAnalysisFlag": internal,
                        "detailDescriptionFlag": false,
                    }),
                )
                .await?
            }
            (_, patch) => {
                self.write(
                    reqwest::Method::PATCH,
                    &format!("/service/tickets/{ticket}"),
                    &patch.unwrap_or(Value::Array(Vec::new())),
                )
                .await?
            }
        };
        Ok(WriteReceipt {
            created_id: match write {
                TicketWrite::Note { .. } => Some(id(&answer, "id").ok_or_else(|| {
                    ConnectorError::Decode("the created note has no `id`".into())
                })?),
                _ => None,
            },
            vendor_updated_at: text(&answer, "_info/lastUpdated").and_then(|at| time::iso(&at)),
        })
    }

    async fn find_note(&self, ticket: &str, body: &str) -> Result<Option<String>, ConnectorError> {
        let ticket = numeric("ticket", ticket)?;
        Ok(self
            .notes(&ticket.to_string())
            .await?
            .into_iter()
            .find(|note| note.body.trim() == body.trim())
            .map(|note| note.external_id))
    }
}
