//! Datto RMM: sites, devices and alerts (open, then resolved).
//!
//! - Auth: the OAuth2 password grant at `{base}/auth/oauth/token` with Datto's fixed public
//!   client `public-client:public` in HTTP Basic; the user's API key and secret (credentials
//!   `apiKey`, `apiSecret`) are the username and password. Tokens live 100 hours; one is fetched
//!   again after a 401.
//! - API under `{base}/api/v2`; lists are envelopes (`sites`, `devices`, `alerts`) beside
//!   `pageDetails`.
//! - Paging: `page` (0-based) and `max` (`pageSize` setting, at most 250); a page is the last
//!   when `pageDetails.nextPageUrl` is empty or null. The page token is the next page number;
//!   for alerts it also names the list (`open:3`, then `resolved:0`).
//! - No changed-since filter on sites, devices or alerts: every run walks them whole and the
//!   sync writes only what differs.
//! - Ids are the `uid`s (sites and devices also carry numeric `id`s, which the rest of the API
//!   does not take); timestamps are epoch milliseconds.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use entities::enums::{IntegrationKind, Priority};
use serde_json::Value;

use super::connectwise::page_size;
use super::{at, id, required_id, required_text, text};
use crate::connector::{Connector, IntegrationConfig};
use crate::error::ConnectorError;
use crate::http::HttpClient;
use crate::model::{Alert, Company, Device, LookupValue, Page, Record, RecordError, Resource};
use crate::oauth::{Grant, OAuthConfig, TokenSource};
use crate::{normalize, time};

/// A Datto RMM account.
pub struct DattoRmm {
    http: HttpClient,
    base: String,
    tokens: TokenSource,
    page_size: u32,
}

/// Which alert list a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Open,
    Resolved,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
        }
    }
}

impl DattoRmm {
    /// Settings: optional `pageSize` (at most 250); credentials: `apiKey`, `apiSecret`.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] naming what is missing.
    pub fn new(config: IntegrationConfig, http: HttpClient) -> Result<Self, ConnectorError> {
        // Admins paste either the platform host or the API root.
        let base = config.root().trim_end_matches("/api").to_owned();
        let tokens = TokenSource::new(
            OAuthConfig {
                token_url: format!("{base}/auth/oauth/token"),
                client_id: "public-client".into(),
                client_secret: "public".into(),
                grant: Grant::Password {
                    username: config.credential("apiKey")?,
                    password: config.credential("apiSecret")?,
                },
                basic_auth: true,
                extra: Vec::new(),
            },
            &http,
        );
        Ok(Self {
            page_size: page_size(&config.settings, 250),
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

    /// Page `page` of the list at `path`, its records under `envelope`, and the next page's
    /// number.
    async fn list(
        &self,
        path: &str,
        envelope: &str,
        page: u64,
        read: impl Fn(&Value) -> Result<Record, String>,
    ) -> Result<(Vec<Result<Record, RecordError>>, Option<u64>), ConnectorError> {
        let query = [
            ("page", page.to_string()),
            ("max", self.page_size.to_string()),
        ];
        let body = self.get(path, &query).await?;
        let items = at(&body, envelope)
            .and_then(Value::as_array)
            .ok_or_else(|| ConnectorError::Decode(format!("`{envelope}` is missing")))?;
        // `text` reads "" and null alike as absent: both mean the last page. A next page that
        // does not move forward, or follows an empty page, would never end the walk.
        let next = text(&body, "pageDetails/nextPageUrl")
            .filter(|_| !items.is_empty())
            .map(|url| {
                next_page_number(&url)
                    .filter(|next| *next > page)
                    .unwrap_or(page + 1)
            });
        let records = items
            .iter()
            .map(|item| {
                read(item).map_err(|reason| RecordError {
                    // The uid, not the numeric `id` RecordError::of would pick.
                    external_id: id(item, "uid").or_else(|| id(item, "alertUid")),
                    reason,
                })
            })
            .collect();
        Ok((records, next))
    }
}

/// The `page` of a `nextPageUrl`.
fn next_page_number(url: &str) -> Option<u64> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(key, _)| key == "page")
        .and_then(|(_, value)| value.parse().ok())
}

/// A page number token.
fn page_number(token: &str) -> Result<u64, ConnectorError> {
    token
        .parse()
        .map_err(|_| ConnectorError::Config(format!("the page token `{token}` is not a page")))
}

/// An alert page token: `open:K` or `resolved:K`.
fn alert_token(token: Option<&str>) -> Result<(Phase, u64), ConnectorError> {
    let Some(token) = token else {
        return Ok((Phase::Open, 0));
    };
    let (phase, page) = token.split_once(':').ok_or_else(|| {
        ConnectorError::Config(format!("the page token `{token}` is not an alert page"))
    })?;
    let phase = match phase {
        "open" => Phase::Open,
        "resolved" => Phase::Resolved,
        _ => {
            return Err(ConnectorError::Config(format!(
                "the page token `{token}` is not an alert page"
            )));
        }
    };
    Ok((phase, page_number(page)?))
}

fn site(raw: &Value) -> Result<Record, String> {
    Ok(Record::Company(Company {
        external_id: required_id(raw, "uid")?,
        name: required_text(raw, "name")?,
    }))
}

fn device(raw: &Value) -> Result<Record, String> {
    let class = text(raw, "deviceClass");
    let category = text(raw, "deviceType/category");
    let operating_system = text(raw, "operatingSystem");
    // The class says printer, ESXi host or network device; the category says server, desktop
    // or laptop for the rest.
    let signal = format!(
        "{} {}",
        class.as_deref().unwrap_or_default(),
        category.as_deref().unwrap_or_default()
    );
    let uid = required_id(raw, "uid")?;
    Ok(Record::Device(Device {
        resource: "device",
        company_id: required_id(raw, "siteUid")?,
        name: required_text(raw, "hostname")?,
        kind: normalize::kind(&signal, operating_system.as_deref()),
        kind_raw: category.or(class),
        hostname: text(raw, "hostname"),
        serial_number: None,
        mac_address: None,
        operating_system,
        ip_address: text(raw, "intIpAddress"),
        rmm_uid: Some(uid.clone()),
        url: text(raw, "portalUrl"),
        active: true,
        external_id: uid,
    }))
}

fn severity(label: Option<&str>) -> Priority {
    match label {
        Some("Critical") => Priority::Critical,
        Some("High") => Priority::High,
        Some("Moderate") => Priority::Medium,
        Some("Low" | "Information") => Priority::Low,
        Some(other) => normalize::priority(other),
        None => Priority::Medium,
    }
}

fn alert(raw: &Value, phase: Phase) -> Result<Record, String> {
    let severity_raw = text(raw, "priority");
    let raised = at(raw, "timestamp").ok_or("`timestamp` is missing")?;
    let device_name = text(raw, "alertSourceInfo/deviceName");
    // Some alert kinds carry no diagnostics; their context class and device still say what.
    let message = text(raw, "diagnostics")
        .or_else(|| {
            let class = text(raw, "alertContext/@class")?;
            Some(match &device_name {
                Some(device) => format!("{class} on {device}"),
                None => class,
            })
        })
        .ok_or("`diagnostics` and `alertContext` are both missing")?;
    Ok(Record::Alert(Alert {
        external_id: required_id(raw, "alertUid")?,
        company_id: id(raw, "alertSourceInfo/siteUid"),
        device_id: id(raw, "alertSourceInfo/deviceUid"),
        message,
        severity: severity(severity_raw.as_deref()),
        severity_raw,
        raised_at: time::any(raised).ok_or("`timestamp` is not a timestamp")?,
        resolved: phase == Phase::Resolved
            || at(raw, "resolved").and_then(Value::as_bool) == Some(true),
        // Epoch milliseconds (despite the spec), read like `timestamp`.
        resolved_at: at(raw, "resolvedOn").and_then(time::any),
    }))
}

#[async_trait]
impl Connector for DattoRmm {
    fn kind(&self) -> IntegrationKind {
        IntegrationKind::DattoRmm
    }

    fn resources(&self) -> &'static [Resource] {
        &[Resource::Companies, Resource::Devices, Resource::Alerts]
    }

    fn filters_by_change(&self, _resource: Resource) -> bool {
        false
    }

    async fn check(&self) -> Result<String, ConnectorError> {
        let account = self.get("/v2/account", &[]).await?;
        Ok(format!(
            "Datto RMM account {} ({}) at {}",
            text(&account, "name").unwrap_or_else(|| "without a name".into()),
            id(&account, "uid").unwrap_or_else(|| "uid unknown".into()),
            self.base
        ))
    }

    async fn lookups(&self) -> Result<Vec<LookupValue>, ConnectorError> {
        // No tickets in an RMM, and alert priorities are a fixed enum mapped in `severity`.
        Ok(Vec::new())
    }

    async fn page(
        &self,
        resource: Resource,
        _since: Option<DateTime<Utc>>,
        token: Option<String>,
    ) -> Result<Page, ConnectorError> {
        let (records, next) = match resource {
            Resource::Companies | Resource::Devices => {
                let page = token.as_deref().map(page_number).transpose()?.unwrap_or(0);
                let (records, next) = if resource == Resource::Companies {
                    self.list("/v2/account/sites", "sites", page, site).await?
                } else {
                    self.list("/v2/account/devices", "devices", page, device)
                        .await?
                };
                (records, next.map(|page| page.to_string()))
            }
            Resource::Alerts => {
                let (phase, page) = alert_token(token.as_deref())?;
                let path = format!("/v2/account/alerts/{}", phase.as_str());
                let (records, next) = self
                    .list(&path, "alerts", page, |raw| alert(raw, phase))
                    .await?;
                let next = match (next, phase) {
                    (Some(page), _) => Some(format!("{}:{page}", phase.as_str())),
                    // After the open alerts, the resolved ones: they say which cleared.
                    (None, Phase::Open) => Some("resolved:0".to_owned()),
                    (None, Phase::Resolved) => None,
                };
                (records, next)
            }
            other => {
                return Err(ConnectorError::Config(format!(
                    "Datto RMM does not sync {}",
                    other.as_str()
                )));
            }
        };
        Ok(Page { records, next })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_tokens_name_the_list_and_the_page() {
        assert_eq!(alert_token(None).unwrap(), (Phase::Open, 0));
        assert_eq!(alert_token(Some("open:3")).unwrap(), (Phase::Open, 3));
        assert_eq!(
            alert_token(Some("resolved:0")).unwrap(),
            (Phase::Resolved, 0)
        );
        assert!(alert_token(Some("closed:1")).is_err());
        assert!(alert_token(Some("open:x")).is_err());
        assert_eq!(
            next_page_number(
                "https://merlot-api.centrastage.net/api/v2/account/devices?max=250&page=4"
            ),
            Some(4)
        );
    }

    #[test]
    fn alert_priorities_map_to_severities() {
        assert_eq!(severity(Some("Critical")), Priority::Critical);
        assert_eq!(severity(Some("High")), Priority::High);
        assert_eq!(severity(Some("Moderate")), Priority::Medium);
        assert_eq!(severity(Some("Information")), Priority::Low);
        assert_eq!(severity(Some("Low")), Priority::Low);
    }
}
