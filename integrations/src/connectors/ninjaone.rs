//! NinjaOne (RMM): organizations, devices, alerts and activities.
//!
//! - Auth: OAuth2 client credentials at `{base}/ws/oauth/token` (scope `monitoring management`
//!   unless the setting `scope` says otherwise), cached, fetched again after a 401.
//! - Paging: organizations and devices by id (`pageSize`, `after` = the last id; a short page is
//!   the last); activities by `newerThan` = the last activity id; alerts in one list.
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
            Resource::Changes => {
                let mut query = vec![("pageSize", self.page_size.to_string())];
                if let Some(since) = since {
                    query.push(("after", since.timestamp().to_string()));
                }
                if let Some(newer_than) = token {
                    query.push(("newerThan", newer_than));
                }
                let body = self.get("/v2/activities", &query).await?;
                let items = at(&body, "activities")
                    .and_then(Value::as_array)
                    .ok_or_else(|| ConnectorError::Decode("`activities` is missing".into()))?;
                let next = (items.len() >= self.page_size as usize)
                    .then(|| id(&body, "lastActivityId"))
                    .flatten();
                Ok(Page {
                    records: records(items, activity),
                    next,
                })
            }
            Resource::Tickets => Err(ConnectorError::Config(
                "NinjaOne tickets are not synced; use the PSA".into(),
            )),
        }
    }
}
