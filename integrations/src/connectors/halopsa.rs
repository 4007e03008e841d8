//! HaloPSA: clients, assets and tickets.
//!
//! - Auth: OAuth2 client credentials at `{base}/auth/token` (or `{authUrl}/token` when the
//!   setting `authUrl` names a separate authorisation server, as Halo-hosted tenants may have),
//!   scope `all` unless the setting `scope` says otherwise; hosted tenants add the setting
//!   `tenant`, sent as `?tenant=` on the token URL as Halo's own clients do. Cached, fetched
//!   again after a 401.
//! - API under `{base}/api`; lists are envelopes (`clients`, `assets`, `tickets`).
//! - Paging: `pageinate=true&page_size=N&page_no=K` (1-based; Halo's own spelling), `page_size`
//!   at most 100 (`pageSize` setting); there are ceil(`record_count` / `page_size`) pages. The
//!   page token is `v2.<next page>.<record_count>`: a list that shrank since (records deleted)
//!   makes the walk step back rather than skip the records that moved up.
//! - Closed/completed tickets and inactive assets are asked for (`includeclosed`,
//!   `includecompleted`, `includeinactive`); Halo leaves them out otherwise.
//! - Changed since: `lastupdatefromdate=YYYY-MM-DDTHH:MM:SS`, UTC without a zone.
//! - Datetimes have no zone and are read as UTC; Halo writes `1900-01-01T00:00:00` for "none".
//! - Statuses from `GET /api/Status`, priorities from `GET /api/Priority` (one entry per SLA
//!   and priority level, so priority ids repeat).
//! - Notes: a ticket's actions, `GET /api/Actions?ticket_id=N&excludesys=true` (`actions`; system
//!   actions such as status changes left out), for each ticket a page returns whose client is
//!   mapped to an environment, at most `noteConcurrency` (1 to 16, default 8) at once, inside
//!   the run's throttling budget; none when the setting `syncNotes` is false. `note` is the
//!   text (`note_html` without its tags when `note` is empty; actions with neither are left
//!   out), `hiddenfromuser` marks it internal, `who` (or the agent id) is the author,
//!   `datetime` (or `actiondatecreated`) the time.
//! - Writes (two-way sync, [`Connector::write_ticket`]) are `POST`s of a JSON array of one
//!   object, never retried after a 5xx or a lost connection ([`HttpClient::write_json`]); a
//!   401 gets a new token and one more try. Assignment: `POST /api/Tickets`
//!   `[{"id", "team", "agent_id"}]` (`agent_id` only when a member is mapped; the team by
//!   name, as tickets carry it); status: `[{"id", "status_id"}]`; note: `POST /api/Actions`
//!   `[{"ticket_id", "note", "outcome", "hiddenfromuser"}]` with the stock outcome `Note`, or
//!   `Private Note` for an internal one. Halo answers the created or updated object, or an
//!   array of them: the (first) action's `id` is the note's id.
//! - Halo ignores query parameters it does not know, so a misspelt filter returns everything;
//!   the names here are the ones its API document lists.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Utc};
use entities::enums::IntegrationKind;
use serde_json::{Value, json};

use super::connectwise::page_size;
use super::notes::NotePlan;
use super::{at, id, records, required_id, required_text, text};
use crate::connector::{Connector, IntegrationConfig, TicketWrite, WriteReceipt};
use crate::error::ConnectorError;
use crate::http::HttpClient;
use crate::model::{
    Company, Device, LookupValue, Normalized, Page, Record, Resource, Ticket, TicketNote,
};
use crate::oauth::{Grant, OAuthConfig, TokenSource};
use crate::{normalize, time};

/// A HaloPSA tenant.
pub struct HaloPsa {
    http: HttpClient,
    base: String,
    tokens: TokenSource,
    page_size: u32,
    note_plan: NotePlan,
}

impl HaloPsa {
    /// Settings: optional `tenant`, `authUrl`, `scope`, `pageSize` (at most 100), `syncNotes`
    /// (default true) and `noteConcurrency` (default 8); credentials:
    /// `clientId`, `clientSecret`.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] naming what is missing or malformed.
    pub fn new(config: IntegrationConfig, http: HttpClient) -> Result<Self, ConnectorError> {
        // Admins paste either the site root or the API root.
        let base = config.root().trim_end_matches("/api").to_owned();
        let auth = config.setting("authUrl").map_or_else(
            |_| format!("{base}/auth"),
            |url| url.trim_end_matches('/').to_owned(),
        );
        let mut token_url = url::Url::parse(&format!("{auth}/token"))
            .map_err(|error| ConnectorError::Config(format!("the token URL: {error}")))?;
        if let Ok(tenant) = config.setting("tenant") {
            token_url.query_pairs_mut().append_pair("tenant", &tenant);
        }
        let scopes = config
            .setting("scope")
            .unwrap_or_else(|_| "all".into())
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let tokens = TokenSource::new(
            OAuthConfig {
                token_url: token_url.to_string(),
                client_id: config.credential("clientId")?,
                client_secret: config.credential("clientSecret")?,
                grant: Grant::ClientCredentials { scopes },
                basic_auth: false,
                extra: Vec::new(),
            },
            &http,
        );
        Ok(Self {
            page_size: page_size(&config.settings, 100),
            note_plan: NotePlan::of(&config),
            http,
            base,
            tokens,
        })
    }

    /// GETs `path` (under `/api`) with `query`, with a new token after a 401, once.
    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ConnectorError> {
        let url = format!("{}/api{path}", self.base);
        self.tokens.get_json(&self.http, &url, query).await
    }

    /// The query of page `page_no` of `resource`, changed since `since`.
    fn query(
        &self,
        resource: Resource,
        since: Option<DateTime<Utc>>,
        page_no: u64,
    ) -> Vec<(&'static str, String)> {
        let mut query = vec![
            ("pageinate", "true".to_owned()),
            ("page_size", self.page_size.to_string()),
            ("page_no", page_no.to_string()),
            // Oldest first, so records created during a walk join its end instead of moving
            // the pages not yet read (Halo's API document lists `order`/`orderdesc`; whether
            // every version honours them is unconfirmed, and the step back on a shrinking
            // count below does not rely on it).
            ("order", "id".to_owned()),
            ("orderdesc", "false".to_owned()),
        ];
        match resource {
            // Halo leaves closed and completed tickets out of lists unless asked (its exact
            // defaults are unconfirmed, so both are asked for): without them a ticket closed
            // at Halo would stay open here forever.
            Resource::Tickets => {
                query.push(("includeclosed", "true".to_owned()));
                query.push(("includecompleted", "true".to_owned()));
            }
            // Inactive assets likewise; they are read and marked inactive.
            Resource::Devices => query.push(("includeinactive", "true".to_owned())),
            _ => {}
        }
        if let Some(since) = since {
            query.push((
                "lastupdatefromdate",
                since.format("%Y-%m-%dT%H:%M:%S").to_string(),
            ));
        }
        query
    }

    /// The notes of ticket `ticket`: its actions other than system ones.
    async fn notes(&self, ticket: &str) -> Result<Vec<TicketNote>, ConnectorError> {
        let body = self
            .get(
                "/Actions",
                &[
                    ("ticket_id", ticket.to_owned()),
                    ("excludesys", "true".to_owned()),
                ],
            )
            .await?;
        let actions = match &body {
            Value::Array(items) => items.as_slice(),
            other => at(other, "actions")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .ok_or_else(|| ConnectorError::Decode("`actions` is missing".into()))?,
        };
        Ok(actions.iter().filter_map(action_note).collect())
    }

    /// POSTs `body` to `path` (under `/api`) as a write: sent again after a 429, or once with a
    /// new token after a 401 (neither applied it), never after a 5xx or a lost connection.
    async fn post(&self, path: &str, body: &Value) -> Result<Value, ConnectorError> {
        let url = format!("{}/api{path}", self.base);
        let mut retried = false;
        loop {
            let token = self.tokens.token().await?;
            let result = self
                .http
                .write_json::<Value>(|| {
                    self.http.client().post(&url).bearer_auth(&token).json(body)
                })
                .await;
            match result {
                Err(ConnectorError::Unauthorized(_)) if !retried => {
                    self.tokens.invalidate(&token).await;
                    retried = true;
                }
                other => return other.map(|(value, _)| value),
            }
        }
    }

    /// A list that is a bare array or an envelope under `key`.
    async fn list(&self, path: &str, key: &str) -> Result<Vec<Value>, ConnectorError> {
        let body = self.get(path, &[]).await?;
        match body {
            Value::Array(items) => Ok(items),
            other => at(&other, key)
                .and_then(Value::as_array)
                .cloned()
                .ok_or_else(|| ConnectorError::Decode(format!("`{path}` is not a list"))),
        }
    }
}

/// The action `outcome` of a note Tandem writes that the end user may see (Halo's stock
/// outcomes; a tenant can rename them).
const NOTE_OUTCOME: &str = "Note";

/// The action `outcome` of an internal note Tandem writes.
const PRIVATE_NOTE_OUTCOME: &str = "Private Note";

/// A Halo id from Tandem's string: ticket, agent and status ids are integers there.
fn numeric(value: &str, what: &str) -> Result<i64, ConnectorError> {
    value.trim().parse().map_err(|_| {
        ConnectorError::Config(format!("the HaloPSA {what} `{value}` is not a number"))
    })
}

/// The path and body (an array of one object, as Halo's writes take) of `write` on ticket
/// `ticket`.
fn write_request(
    ticket: i64,
    write: &TicketWrite,
) -> Result<(&'static str, Value), ConnectorError> {
    Ok(match write {
        TicketWrite::Assign { assignee } => {
            let team = assignee.group.trim();
            if team.is_empty() {
                return Err(ConnectorError::Config("the HaloPSA team is empty".into()));
            }
            let mut update = json!({ "id": ticket, "team": team });
            if let Some(agent) = &assignee.member {
                update["agent_id"] = json!(numeric(agent, "agent id")?);
            }
            ("/Tickets", json!([update]))
        }
        TicketWrite::Status { status } => (
            "/Tickets",
            json!([{ "id": ticket, "status_id": numeric(status, "status id")? }]),
        ),
        TicketWrite::Note { text, .. } if text.trim().is_empty() => {
            return Err(ConnectorError::Config("a note needs text".into()));
        }
        TicketWrite::Note { text, internal } => (
            "/Actions",
            json!([{
                "ticket_id": ticket,
                "note": text,
                "outcome": if *internal { PRIVATE_NOTE_OUTCOME } else { NOTE_OUTCOME },
                "hiddenfromuser": internal,
            }]),
        ),
    })
}

/// The first object Halo answered a write with (it answers the created or updated object, or
/// an array of them), and its `id`.
fn written(answer: &Value) -> Result<(&Value, String), ConnectorError> {
    let object = match answer {
        Value::Array(items) => items.first(),
        Value::Object(_) => Some(answer),
        _ => None,
    }
    .ok_or_else(|| ConnectorError::Decode("the answer to a write names no record".into()))?;
    let found = id(object, "id")
        .ok_or_else(|| ConnectorError::Decode("the answer to a write names no `id`".into()))?;
    Ok((object, found))
}

/// How many times in a row one page request may step back before the walk gives up.
const MAX_REWINDS: u32 = 5;

/// Where a walk is: the next page and the list's `record_count` when the previous page was read,
/// so a list that shrank in between (even across a crash and a resume) is noticed. Written
/// `v2.<page_no>.<record_count>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WalkToken {
    page_no: u64,
    record_count: u64,
}

impl WalkToken {
    /// The token `text`, or `None` when it is not one this version writes.
    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.strip_prefix("v2.")?.split('.');
        let page_no = parts.next()?.parse().ok().filter(|page| *page >= 1)?;
        let record_count = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(Self {
            page_no,
            record_count,
        })
    }
}

impl std::fmt::Display for WalkToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v2.{}.{}", self.page_no, self.record_count)
    }
}

/// A Halo datetime at `key`, or `None` when absent, unreadable or Halo's 1900 "no date".
fn date(raw: &Value, key: &str) -> Option<DateTime<Utc>> {
    text(raw, key)
        .and_then(|value| time::iso(&value))
        .filter(|instant| instant.year() > 1900)
}

/// The value of the custom field named one of `names` in the asset's `fields`.
fn field(raw: &Value, names: &[&str]) -> Option<String> {
    at(raw, "fields")?.as_array()?.iter().find_map(|field| {
        let name = text(field, "name")?;
        names
            .iter()
            .any(|wanted| name.eq_ignore_ascii_case(wanted))
            .then(|| text(field, "value"))
            .flatten()
    })
}

/// An action as a note, or `None` when it has no id, no text or no time.
fn action_note(raw: &Value) -> Option<TicketNote> {
    let body = text(raw, "note").or_else(|| {
        text(raw, "note_html")
            .map(|html| strip_html(&html))
            .filter(|plain| !plain.is_empty())
    })?;
    Some(TicketNote {
        external_id: id(raw, "id")?,
        author: text(raw, "who")
            .or_else(|| id(raw, "who_agentid").map(|agent| format!("agent {agent}"))),
        body,
        internal: at(raw, "hiddenfromuser").and_then(Value::as_bool) == Some(true),
        created_at: date(raw, "datetime").or_else(|| date(raw, "actiondatecreated"))?,
    })
}

/// `html` as plain text: tags dropped (a line break for `<br>` and block ends), the common
/// entities decoded, blank runs collapsed.
fn strip_html(html: &str) -> String {
    let mut plain = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        plain.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            rest = "";
            break;
        };
        let tag = rest[start + 1..start + end]
            .trim_start_matches('/')
            .to_ascii_lowercase();
        if ["br", "p", "div", "li", "tr"].iter().any(|block| {
            tag == *block
                || tag.starts_with(&format!("{block} "))
                || tag.starts_with(&format!("{block}/"))
        }) {
            plain.push('\n');
        }
        rest = &rest[start + end + 1..];
    }
    plain.push_str(rest);
    let decoded = plain
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    decoded
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` with each line trimmed and blank lines dropped, as [`strip_html`] leaves a note.
fn plain_lines(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn client(raw: &Value) -> Result<Record, String> {
    Ok(Record::Company(Company {
        external_id: required_id(raw, "id")?,
        name: required_text(raw, "name")?,
    }))
}

fn asset(raw: &Value) -> Result<Record, String> {
    let kind_raw = text(raw, "assettype_name");
    let operating_system = field(raw, &["Operating System", "OS"]);
    let name = text(raw, "inventory_number")
        .or_else(|| text(raw, "key_field"))
        .ok_or("`inventory_number` and `key_field` are both missing")?;
    // A Halo id of 0 means "not linked".
    let rmm_uid = ["ninjarmm_id", "datto_id"]
        .iter()
        .filter_map(|key| id(raw, key))
        .find(|linked| linked != "0");
    Ok(Record::Device(Device {
        external_id: required_id(raw, "id")?,
        resource: "asset",
        company_id: required_id(raw, "client_id")?,
        kind: normalize::kind(
            kind_raw.as_deref().unwrap_or_default(),
            operating_system.as_deref(),
        ),
        kind_raw,
        hostname: field(
            raw,
            &["Hostname", "Host Name", "Computer Name", "Device Name"],
        )
        .or_else(|| text(raw, "key_field")),
        // The reference's example carries the serial in `key_field2`; a custom field also counts.
        serial_number: text(raw, "key_field2")
            .or_else(|| field(raw, &["Serial Number", "Serial No", "Serial"])),
        mac_address: field(raw, &["MAC Address", "MAC"]),
        operating_system,
        ip_address: field(raw, &["IP Address", "IP"]),
        rmm_uid,
        url: None,
        active: !at(raw, "inactive")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        name,
    }))
}

fn ticket(raw: &Value) -> Result<Record, String> {
    let created = date(raw, "dateoccurred").ok_or("`dateoccurred` is missing or not a date")?;
    Ok(Record::Ticket(Ticket {
        external_id: required_id(raw, "id")?,
        company_id: required_id(raw, "client_id")?,
        device_id: None,
        title: required_text(raw, "summary")?,
        description: text(raw, "details"),
        status: required_id(raw, "status_id")?,
        status_label: text(raw, "status_name"),
        closed: date(raw, "dateclosed").is_some(),
        closed_at: date(raw, "dateclosed"),
        priority: id(raw, "priority_id"),
        priority_label: text(raw, "priority_name"),
        requester: text(raw, "user_name"),
        created_at: created,
        url: None,
        notes: None,
    }))
}

#[async_trait]
impl Connector for HaloPsa {
    fn kind(&self) -> IntegrationKind {
        IntegrationKind::Halopsa
    }

    fn resources(&self) -> &'static [Resource] {
        &[Resource::Companies, Resource::Devices, Resource::Tickets]
    }

    fn filters_by_change(&self, _resource: Resource) -> bool {
        true
    }

    async fn check(&self) -> Result<String, ConnectorError> {
        let clients = self
            .get(
                "/Client",
                &[
                    ("pageinate", "true".into()),
                    ("page_size", "1".into()),
                    ("page_no", "1".into()),
                ],
            )
            .await?;
        Ok(format!(
            "HaloPSA at {}: token accepted, {} client(s)",
            self.base,
            at(&clients, "record_count")
                .and_then(Value::as_u64)
                .map_or_else(
                    || "an unknown number of".to_owned(),
                    |count| count.to_string()
                )
        ))
    }

    async fn lookups(&self) -> Result<Vec<LookupValue>, ConnectorError> {
        let mut found = Vec::new();
        for status in self.list("/Status", "statuses").await? {
            let (Some(value), Some(label)) = (id(&status, "id"), text(&status, "name")) else {
                continue;
            };
            found.push(LookupValue {
                suggested: Normalized::Status(normalize::status(&label, false)),
                value,
                label,
            });
        }
        let mut seen = HashSet::new();
        for priority in self.list("/Priority", "priorities").await? {
            let (Some(value), Some(label)) = (id(&priority, "priorityid"), text(&priority, "name"))
            else {
                continue;
            };
            // One entry per SLA: the first name of each level stands for it.
            if seen.insert(value.clone()) {
                found.push(LookupValue {
                    suggested: Normalized::Priority(normalize::priority(&label)),
                    value,
                    label,
                });
            }
        }
        Ok(found)
    }

    async fn page(
        &self,
        resource: Resource,
        since: Option<DateTime<Utc>>,
        token: Option<String>,
    ) -> Result<Page, ConnectorError> {
        let (path, envelope, read): (&str, &str, fn(&Value) -> Result<Record, String>) =
            match resource {
                Resource::Companies => ("/Client", "clients", client),
                Resource::Devices => ("/Asset", "assets", asset),
                Resource::Tickets => ("/Tickets", "tickets", ticket),
                other => {
                    return Err(ConnectorError::Config(format!(
                        "HaloPSA does not sync {}",
                        other.as_str()
                    )));
                }
            };
        let (mut page_no, mut known) = match token.as_deref().map(WalkToken::parse) {
            None => (1, None),
            Some(Some(token)) => (token.page_no, Some(token.record_count)),
            // A token this version cannot read (a bare page number from an interrupted run of
            // an older version): start the walk over. Re-reading is harmless: records that did
            // not change write nothing.
            Some(None) => (1, None),
        };
        let mut attempts = 0;
        let (body, total) = loop {
            attempts += 1;
            let body = self
                .get(path, &self.query(resource, since, page_no))
                .await?;
            let total = at(&body, "record_count").and_then(Value::as_u64);
            // Page numbers address positions, so when records leave the list (deleted; closed
            // ones stay listed since we ask for them) every later record moves up by as many
            // places, and up to that many records of this page slid onto pages already read.
            // Step back by the shrink (to a page boundary) and read again; records read twice
            // write nothing the second time.
            match (known, total) {
                (Some(before), Some(now)) if now < before => {
                    let start = (page_no - 1) * u64::from(self.page_size);
                    let back_to = start.saturating_sub(before - now);
                    let earlier = back_to / u64::from(self.page_size) + 1;
                    known = Some(now);
                    if earlier == page_no {
                        break (body, total);
                    }
                    if attempts >= MAX_REWINDS {
                        return Err(ConnectorError::Decode(format!(
                            "HaloPSA's {} list kept shrinking while it was read ({attempts} \
                             times in a row); nothing was skipped silently: run the sync again",
                            resource.as_str()
                        )));
                    }
                    page_no = earlier;
                }
                _ => break (body, total),
            }
        };
        let items = at(&body, envelope)
            .and_then(Value::as_array)
            .ok_or_else(|| ConnectorError::Decode(format!("`{envelope}` is missing")))?;
        let more = match total {
            Some(total) => page_no * u64::from(self.page_size) < total,
            // Without a count, a full page may have a successor.
            None => items.len() >= self.page_size as usize,
        };
        let next = WalkToken {
            page_no: page_no + 1,
            // Without a count the shrink cannot be seen; 0 never triggers a step back.
            record_count: total.or(known).unwrap_or(0),
        };
        let mut read = records(items, read);
        if resource == Resource::Tickets {
            self.note_plan
                .read_per_ticket(&mut read, |ticket| async move { self.notes(&ticket).await })
                .await?;
        }
        Ok(Page {
            records: read,
            next: (more && !items.is_empty()).then(|| next.to_string()),
        })
    }

    async fn write_ticket(
        &self,
        ticket: &str,
        write: &TicketWrite,
    ) -> Result<WriteReceipt, ConnectorError> {
        let (path, body) = write_request(numeric(ticket, "ticket id")?, write)?;
        let answer = self.post(path, &body).await?;
        Ok(match write {
            // The new action's id is what the next sync must know as Tandem's own: without
            // it the write is reported as not understood.
            TicketWrite::Note { .. } => {
                let (object, found) = written(&answer)?;
                WriteReceipt {
                    created_id: Some(found),
                    vendor_updated_at: date(object, "datetime")
                        .or_else(|| date(object, "actiondatecreated")),
                }
            }
            // An update was applied whatever else the answer says.
            _ => WriteReceipt {
                created_id: None,
                vendor_updated_at: written(&answer)
                    .ok()
                    .and_then(|(object, _)| date(object, "last_update")),
            },
        })
    }

    /// The ticket's actions (`GET /Actions?ticket_id=…`), matched on their `note` (or, when
    /// Halo keeps only `note_html`, its plain text) against the text written.
    async fn find_note(&self, ticket: &str, body: &str) -> Result<Option<String>, ConnectorError> {
        let number = numeric(ticket, "ticket id")?;
        let wanted = plain_lines(body);
        if wanted.is_empty() {
            return Ok(None);
        }
        Ok(self
            .notes(&number.to_string())
            .await?
            .into_iter()
            .find(|note| note.body.trim() == body.trim() || plain_lines(&note.body) == wanted)
            .map(|note| note.external_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::VendorAssignee;

    #[test]
    fn a_write_answer_is_read_as_an_object_or_an_array() {
        let object = json!({ "id": 4410, "ticket_id": 18000, "datetime": "2025-03-05T15:00:00" });
        assert_eq!(written(&object).unwrap().1, "4410");
        let array = json!([{ "id": 4411 }, { "id": 4412 }]);
        assert_eq!(written(&array).unwrap().1, "4411", "the first of several");
        for bad in [
            json!([]),
            json!("Ticket saved"),
            json!([{ "ticket_id": 1 }]),
            json!(null),
        ] {
            assert!(
                matches!(written(&bad), Err(ConnectorError::Decode(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn writes_are_arrays_of_one_object_in_halos_field_names() {
        let assign = TicketWrite::Assign {
            assignee: VendorAssignee {
                group: "2nd Line".into(),
                member: Some("21".into()),
            },
        };
        assert_eq!(
            write_request(18_000, &assign).unwrap(),
            (
                "/Tickets",
                json!([{ "id": 18000, "team": "2nd Line", "agent_id": 21 }])
            )
        );
        let note = TicketWrite::Note {
            text: "Routed by Tandem".into(),
            internal: true,
        };
        assert_eq!(
            write_request(18_000, &note).unwrap(),
            (
                "/Actions",
                json!([{ "ticket_id": 18000, "note": "Routed by Tandem", "outcome": "Private Note", "hiddenfromuser": true }])
            )
        );
        let bad_agent = TicketWrite::Assign {
            assignee: VendorAssignee {
                group: "2nd Line".into(),
                member: Some("Sam".into()),
            },
        };
        assert!(matches!(
            write_request(18_000, &bad_agent),
            Err(ConnectorError::Config(_))
        ));
        let no_team = TicketWrite::Assign {
            assignee: VendorAssignee {
                group: " ".into(),
                member: None,
            },
        };
        assert!(matches!(
            write_request(18_000, &no_team),
            Err(ConnectorError::Config(_))
        ));
    }
}
