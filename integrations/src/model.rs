//! The neutral records connectors return: what Tandem needs of a vendor's companies, devices,
//! tickets, alerts and change events, with the vendor's own values kept beside the normalized
//! ones (raw status and priority ids, device class).

use chrono::{DateTime, Utc};
use entities::enums::{ChangeCategory, Priority, SystemKind};
use serde_json::Value;

/// What a connector can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    /// Companies, organizations, clients or sites: mapped to environments.
    Companies,
    /// Devices, configurations, configuration items or assets: systems.
    Devices,
    /// Tickets.
    Tickets,
    /// Monitoring alerts.
    Alerts,
    /// Activities, audit entries and configuration changes: change log entries.
    Changes,
}

impl Resource {
    /// The name kept in cursors and sync run errors.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Companies => "companies",
            Self::Devices => "devices",
            Self::Tickets => "tickets",
            Self::Alerts => "alerts",
            Self::Changes => "changes",
        }
    }

    /// The resource named `name`.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Companies,
            Self::Devices,
            Self::Tickets,
            Self::Alerts,
            Self::Changes,
        ]
        .into_iter()
        .find(|resource| resource.as_str() == name)
    }
}

/// A company, organization, client or site.
#[derive(Debug, Clone, PartialEq)]
pub struct Company {
    /// The vendor's id.
    pub external_id: String,
    /// Its name.
    pub name: String,
}

/// A device, configuration, configuration item or asset.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    /// The vendor's id.
    pub external_id: String,
    /// The vendor resource (`configuration`, `device`, `asset`, `configuration_item`).
    pub resource: &'static str,
    /// The vendor id of its company.
    pub company_id: String,
    /// Display name.
    pub name: String,
    /// Normalized kind.
    pub kind: SystemKind,
    /// The vendor's own class or type.
    pub kind_raw: Option<String>,
    /// Host name.
    pub hostname: Option<String>,
    /// Serial number.
    pub serial_number: Option<String>,
    /// Primary MAC address.
    pub mac_address: Option<String>,
    /// Operating system.
    pub operating_system: Option<String>,
    /// Primary IP address.
    pub ip_address: Option<String>,
    /// The RMM's device id as the record carries it (a PSA's cross-link field, or the RMM's own
    /// uid), used to match one device seen by a PSA and an RMM.
    pub rmm_uid: Option<String>,
    /// A link to the record in the vendor's UI.
    pub url: Option<String>,
    /// Whether the vendor holds it active; an inactive, retired or archived one is read so its
    /// system is marked retired instead of looking active.
    pub active: bool,
}

/// A ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    /// The vendor's id.
    pub external_id: String,
    /// The vendor id of its company.
    pub company_id: String,
    /// The vendor id of its device, if it names one.
    pub device_id: Option<String>,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// The vendor's status value (an id or a name), looked up in the value mappings.
    pub status: String,
    /// The status's label.
    pub status_label: Option<String>,
    /// Whether the vendor flags it closed.
    pub closed: bool,
    /// When the vendor says it was closed or resolved (ConnectWise `closedDate`, Autotask
    /// `completedDate`, Halo `dateclosed`); `None` when it gives none.
    pub closed_at: Option<DateTime<Utc>>,
    /// The vendor's priority value, looked up in the value mappings.
    pub priority: Option<String>,
    /// The priority's label.
    pub priority_label: Option<String>,
    /// Who asked.
    pub requester: Option<String>,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// A link to it in the vendor's UI.
    pub url: Option<String>,
    /// Its notes, when the connector reads them (ConnectWise); `None` leaves stored notes alone.
    pub notes: Option<Vec<TicketNote>>,
}

/// A note on a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketNote {
    /// The vendor's id.
    pub external_id: String,
    /// Who wrote it, as the vendor names them.
    pub author: Option<String>,
    /// The text.
    pub body: String,
    /// Whether the requester does not see it.
    pub internal: bool,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// A monitoring alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The vendor's id.
    pub external_id: String,
    /// The vendor id of its company, when the alert names one.
    pub company_id: Option<String>,
    /// The vendor id of the alerting device.
    pub device_id: Option<String>,
    /// What the vendor reported.
    pub message: String,
    /// Normalized severity.
    pub severity: Priority,
    /// The vendor's own severity.
    pub severity_raw: Option<String>,
    /// When it was raised.
    pub raised_at: DateTime<Utc>,
    /// Whether the vendor has cleared it.
    pub resolved: bool,
    /// When the vendor cleared it (Datto `resolvedOn`); `None` when it gives none.
    pub resolved_at: Option<DateTime<Utc>>,
}

/// A change the vendor recorded (an activity, an audit entry).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The vendor's id for the event.
    pub external_id: String,
    /// The vendor id of its company, when it names one.
    pub company_id: Option<String>,
    /// The vendor id of the device changed, if any.
    pub device_id: Option<String>,
    /// One line for people.
    pub summary: String,
    /// What kind of change.
    pub category: ChangeCategory,
    /// Who made it, as the vendor names them.
    pub actor: Option<String>,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// The vendor's record, for the entry's details.
    pub details: Value,
}

/// One record of a page.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A company.
    Company(Company),
    /// A device.
    Device(Device),
    /// A ticket.
    Ticket(Ticket),
    /// An alert.
    Alert(Alert),
    /// A change.
    Change(Change),
}

impl Record {
    /// The vendor's id of the record.
    #[must_use]
    pub fn external_id(&self) -> &str {
        match self {
            Self::Company(found) => &found.external_id,
            Self::Device(found) => &found.external_id,
            Self::Ticket(found) => &found.external_id,
            Self::Alert(found) => &found.external_id,
            Self::Change(found) => &found.external_id,
        }
    }
}

/// A record the connector could not read; the run records it and goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// Its id, when it has a readable one.
    pub external_id: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl RecordError {
    /// An error about the record `raw` (its `id`, `uid` or `alertUid` when present).
    #[must_use]
    pub fn of(raw: &Value, reason: impl Into<String>) -> Self {
        let external_id = ["id", "uid", "alertUid"]
            .iter()
            .find_map(|key| match raw.get(*key) {
                Some(Value::String(text)) => Some(text.clone()),
                Some(Value::Number(number)) => Some(number.to_string()),
                _ => None,
            });
        Self {
            external_id,
            reason: reason.into(),
        }
    }
}

/// One page of a resource.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Its records, each read or refused on its own.
    pub records: Vec<Result<Record, RecordError>>,
    /// The token of the next page; `None` on the last.
    pub next: Option<String>,
}

/// A normalized value a vendor value maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalized {
    /// A ticket status.
    Status(entities::enums::TicketStatus),
    /// A ticket priority or alert severity.
    Priority(Priority),
}

/// A vendor lookup value (a status or priority), with the mapping the vendor's own signals
/// suggest; it seeds the integration's value mappings, which an admin can override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupValue {
    /// The vendor's value (the id tickets carry).
    pub value: String,
    /// Its label.
    pub label: String,
    /// What it means.
    pub suggested: Normalized,
}
