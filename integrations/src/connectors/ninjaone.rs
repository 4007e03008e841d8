//! NinjaOne (RMM): organizations, devices, alerts and activities.
//!
//! - Auth: OAuth2 client credentials at `{base}/ws/oauth/token` (scope `monitoring management`
//!   unless the setting `scope` says otherwise), cached, fetched again after a 401.
//! - Paging: organizations and devices by id (`pageSize`, `after` = the last id; a short page is
//!   the last); activities newest first, walked by id with `olderThan`/`newerThan` (direction
//!   read off the pages and checked on each, see `NinjaOne::activities`); alerts in one list.
//! - Changed since: only activities can be filtered (`after` = epoch seconds); organizations,
//!   devices and alerts are walked whole and the sync writes only what differs.
//! - Timestamps are epoch seconds.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use entities::enums::{ChangeCategory, IntegrationKind, Priority};
use serde_json::Value;

use super::connectwise::page_size;
use super::{at, first_text, id, records, required_id, required_text, text};
use crate::connector::{Connector, IntegrationConfig};
use crate::error::ConnectorError;
use crate::http::HttpClient;
use crate::model::{Alert, Change, Company, Device, LookupValue, Page, Record, Resource};
use crate::oauth::{Grant, OAuthConfig, TokenSource};
use crate::{normalize, time};

/// A NinjaOne tenant.
pub struct NinjaOne {
    http: HttpClient,
    base: String,
    tokens: TokenSource,
    page_size: u32,
}

impl NinjaOne {
    /// Settings: optional `scope`, `pageSize`; credentials: `clientId`, `clientSecret`.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] naming what is missing.
    pub fn new(config: IntegrationConfig, http: HttpClient) -> Result<Self, ConnectorError> {
        let base = config.root();
        let scopes = config
            .setting("scope")
            .unwrap_or_else(|_| "monitoring management".into())
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let tokens = TokenSource::new(
            OAuthConfig {
                token_url: format!("{base}/ws/oauth/token"),
                client_id: config.credential("clientId")?,
                client_secret: config.credential("clientSecret")?,
                grant: Grant::ClientCredentials { scopes },
                basic_auth: false,
                extra: Vec::new(),
            },
            &http,
        );
        Ok(Self {
            page_size: page_size(&config.settings, 1000),
            http,
            base,
            tokens,
        })
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ConnectorError> {
        let url = format!("{}{path}", self.base);
        self.tokens.get_json(&self.http, &url, query).await
    }

    /// A page of activities changed since `since`, walked by id from `token`.
    ///
    /// NinjaOne's activity pages come newest first, and the reference warns that the spec
    /// describes `olderThan`/`newerThan` the other way round from NinjaOne's own PowerShell
    /// module. So the walk reads the direction off the pages (a first page in descending id
    /// order walks down from its lowest id; an ascending one walks up from its highest) and
    /// checks every page against it: records not beyond the bound are no progress. When the
    /// intuitive parameter makes no progress the other one is tried, and the one that worked is
    /// kept in the token; when neither does, the walk is a run error, never a silent stop.
    async fn activities(
        &self,
        since: Option<DateTime<Utc>>,
        token: Option<String>,
    ) -> Result<Page, ConnectorError> {
        let mut query = vec![("pageSize", self.page_size.to_string())];
        if let Some(since) = since {
            query.push(("after", since.timestamp().to_string()));
        }
        // A token this version cannot read (a bare id left by an older version, whose walk
        // asked the wrong way) starts the walk over; what was read already writes nothing.
        let Some(walk) = token.as_deref().and_then(ActivityWalk::parse) else {
            let body = self.get("/v2/activities", &query).await?;
            let items = activity_items(&body)?;
            let descending = ids_of(items).windows(2).all(|pair| pair[0] >= pair[1]);
            let walk = if descending {
                ActivityWalk::down(items)
            } else {
                ActivityWalk::up(items)
            };
            return Ok(self.activity_page(items, walk));
        };
        let mut tried = Vec::new();
        for parameter in [walk.parameter, walk.other_parameter()] {
            let mut asked = query.clone();
            asked.push((parameter, walk.bound.to_string()));
            let body = self.get("/v2/activities", &asked).await?;
            let items = activity_items(&body)?;
            let beyond: Vec<Value> = items
                .iter()
                .filter(|item| {
                    id(item, "id")
                        .and_then(|id| id.parse().ok())
                        .is_some_and(|id| walk.beyond(id))
                })
                .cloned()
                .collect();
            if !beyond.is_empty() || items.is_empty() {
                let next = ActivityWalk { parameter, ..walk }.past(&beyond);
                // A short page is the last; the records outside the bound were read before.
                let next = (items.len() >= self.page_size as usize).then_some(next);
                return Ok(Page {
                    records: records(&beyond, activity),
                    next: next.map(|walk| walk.to_string()),
                });
            }
            tried.push(parameter);
        }
        Err(ConnectorError::Decode(format!(
            "NinjaOne activities made no progress past id {} (asked with {}): the walk stops \
             here instead of missing the rest silently",
            walk.bound,
            tried.join(" and ")
        )))
    }

    /// The first page of an activity walk going `walk`'s way.
    fn activity_page(&self, items: &[Value], walk: Option<ActivityWalk>) -> Page {
        Page {
            records: records(items, activity),
            next: walk
                .filter(|_| items.len() >= self.page_size as usize)
                .map(|walk| walk.to_string()),
        }
    }

    /// A page of a list paged by id: `after` the token, short page is the last.
    async fn by_id(
        &self,
        path: &str,
        token: Option<String>,
        read: fn(&Value) -> Result<Record, String>,
    ) -> Result<Page, ConnectorError> {
        let mut query = vec![("pageSize", self.page_size.to_string())];
        if let Some(after) = token {
            query.push(("after", after));
        }
        let items = self.get(path, &query).await?;
        let items = items
            .as_array()
            .ok_or_else(|| ConnectorError::Decode("a list is not a JSON array".into()))?;
        let next = (items.len() >= self.page_size as usize)
            .then(|| items.last().and_then(|last| id(last, "id")))
            .flatten();
        Ok(Page {
            records: records(items, read),
            next,
        })
    }
}

/// The `activities` of an activities response.
fn activity_items(body: &Value) -> Result<&Vec<Value>, ConnectorError> {
    at(body, "activities")
        .and_then(Value::as_array)
        .ok_or_else(|| ConnectorError::Decode("`activities` is missing".into()))
}

/// The numeric ids of `items`, in order.
fn ids_of(items: &[Value]) -> Vec<i64> {
    items
        .iter()
        .filter_map(|item| id(item, "id")?.parse().ok())
        .collect()
}

/// Where an activity walk is: the id bound, which way it goes, and the parameter that moved it
/// last. Written `v2.<down|up>.<parameter>.<bound>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ActivityWalk {
    /// Towards older (lower) ids.
    down: bool,
    /// `olderThan` or `newerThan`.
    parameter: &'static str,
    /// The lowest (down) or highest (up) id read so far.
    bound: i64,
}

impl ActivityWalk {
    /// The walk down from the lowest id of `items` (none when they have no id).
    fn down(items: &[Value]) -> Option<Self> {
        ids_of(items).into_iter().min().map(|bound| Self {
            down: true,
            parameter: "olderThan",
            bound,
        })
    }

    /// The walk up from the highest id of `items`.
    fn up(items: &[Value]) -> Option<Self> {
        ids_of(items).into_iter().max().map(|bound| Self {
            down: false,
            parameter: "newerThan",
            bound,
        })
    }

    /// The token `text`, or `None` when it is not one this version writes.
    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.strip_prefix("v2.")?.split('.');
        let down = match parts.next()? {
            "down" => true,
            "up" => false,
            _ => return None,
        };
        let parameter = match parts.next()? {
            "olderThan" => "olderThan",
            "newerThan" => "newerThan",
            _ => return None,
        };
        let bound = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(Self {
            down,
            parameter,
            bound,
        })
    }

    /// The parameter to try when `parameter` makes no progress.
    fn other_parameter(self) -> &'static str {
        if self.parameter == "olderThan" {
            "newerThan"
        } else {
            "olderThan"
        }
    }

    /// Whether `id` is past the bound the way the walk goes.
    fn beyond(self, id: i64) -> bool {
        if self.down {
            id < self.bound
        } else {
            id > self.bound
        }
    }

    /// The walk after reading `items` (all beyond the bound).
    fn past(self, items: &[Value]) -> Self {
        let ids = ids_of(items);
        let bound = if self.down {
            ids.into_iter().min()
        } else {
            ids.into_iter().max()
        };
        Self {
            bound: bound.unwrap_or(self.bound),
            ..self
        }
    }
}

impl std::fmt::Display for ActivityWalk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let way = if self.down { "down" } else { "up" };
        write!(f, "v2.{way}.{}.{}", self.parameter, self.bound)
    }
}

fn organization(raw: &Value) -> Result<Record, String> {
    Ok(Record::Company(Company {
        external_id: required_id(raw, "id")?,
        name: required_text(raw, "name")?,
    }))
}

fn device(raw: &Value) -> Result<Record, String> {
    let class = text(raw, "nodeClass");
    let operating_system = text(raw, "os/name");
    let name = text(raw, "displayName")
        .or_else(|| text(raw, "systemName"))
        .ok_or("`displayName` and `systemName` are both missing")?;
    Ok(Record::Device(Device {
        external_id: required_id(raw, "id")?,
        resource: "device",
        company_id: required_id(raw, "organizationId")?,
        kind: normalize::kind(
            class.as_deref().unwrap_or_default(),
            operating_system.as_deref(),
        ),
        kind_raw: class,
        hostname: text(raw, "systemName").or_else(|| text(raw, "dnsName")),
        serial_number: text(raw, "system/serialNumber"),
        mac_address: first_text(raw, "macAddresses"),
        operating_system,
        ip_address: first_text(raw, "ipAddresses"),
        rmm_uid: text(raw, "uid"),
        url: None,
        active: true,
        name,
    }))
}

fn severity(raw: &Value) -> (Priority, Option<String>) {
    let severity = text(raw, "severity");
    let normalized = match severity.as_deref() {
        Some("CRITICAL") => Priority::Critical,
        Some("MAJOR") => Priority::High,
        Some("MODERATE") => Priority::Medium,
        Some(_) => Priority::Low,
        None => text(raw, "priority").map_or(Priority::Medium, |p| normalize::priority(&p)),
    };
    (normalized, severity)
}

fn alert(raw: &Value) -> Result<Record, String> {
    let (severity, severity_raw) = severity(raw);
    let raised = at(raw, "createTime").ok_or("`createTime` is missing")?;
    Ok(Record::Alert(Alert {
        external_id: required_id(raw, "uid")?,
        company_id: None,
        device_id: id(raw, "deviceId"),
        message: text(raw, "message")
            .or_else(|| text(raw, "subject"))
            .ok_or("`message` is missing")?,
        severity,
        severity_raw,
        raised_at: time::any(raised).ok_or("`createTime` is not a timestamp")?,
        resolved: false,
        resolved_at: None,
    }))
}

fn activity(raw: &Value) -> Result<Record, String> {
    let category = match text(raw, "activityType").as_deref() {
        Some("PATCH_MANAGEMENT" | "SOFTWARE_PATCH_MANAGEMENT") => ChangeCategory::Patch,
        Some("SCRIPTING" | "ACTIONSET") => ChangeCategory::Maintenance,
        Some("SYSTEM") => ChangeCategory::Configuration,
        _ => ChangeCategory::Other,
    };
    let occurred = at(raw, "activityTime").ok_or("`activityTime` is missing")?;
    Ok(Record::Change(Change {
        external_id: required_id(raw, "id")?,
        company_id: None,
        device_id: id(raw, "deviceId"),
        summary: text(raw, "message")
            .or_else(|| text(raw, "subject"))
            .ok_or("`message` is missing")?,
        category,
        actor: text(raw, "user"),
        occurred_at: time::any(occurred).ok_or("`activityTime` is not a timestamp")?,
        details: raw.clone(),
    }))
}

#[async_trait]
impl Connector for NinjaOne {
    fn kind(&self) -> IntegrationKind {
        IntegrationKind::Ninjaone
    }

    fn resources(&self) -> &'static [Resource] {
        &[
            Resource::Companies,
            Resource::Devices,
            Resource::Alerts,
            Resource::Changes,
        ]
    }

    fn filters_by_change(&self, resource: Resource) -> bool {
        resource == Resource::Changes
    }

    async fn check(&self) -> Result<String, ConnectorError> {
        let organizations = self
            .get("/v2/organizations", &[("pageSize", "1".into())])
            .await?;
        Ok(format!(
            "NinjaOne at {}: token accepted, {} organization(s) on the first page",
            self.base,
            organizations.as_array().map_or(0, Vec::len)
        ))
    }

    async fn lookups(&self) -> Result<Vec<LookupValue>, ConnectorError> {
        // Only alerts are synced from NinjaOne, and their severities are a fixed enum.
        Ok(Vec::new())
    }

    async fn page(
        &self,
        resource: Resource,
        since: Option<DateTime<Utc>>,
        token: Option<String>,
    ) -> Result<Page, ConnectorError> {
        match resource {
            Resource::Companies => self.by_id("/v2/organizations", token, organization).await,
            Resource::Devices => self.by_id("/v2/devices-detailed", token, device).await,
            Resource::Alerts => {
                let items = self.get("/v2/alerts", &[]).await?;
                let items = items
                    .as_array()
                    .ok_or_else(|| ConnectorError::Decode("alerts are not a JSON array".into()))?;
                Ok(Page {
                    records: records(items, alert),
                    next: None,
                })
            }
            Resource::Changes => self.activities(since, token).await,
            Resource::Tickets => Err(ConnectorError::Config(
                "NinjaOne tickets are not synced; use the PSA".into(),
            )),
        }
    }
}
