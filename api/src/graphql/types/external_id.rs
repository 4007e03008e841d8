//! `ExternalId`: where an object lives in an external system (PSA, RMM, a sync job's source).
//!
//! Each external record is a node of its own, so normalizing caches (Apollo, Relay, urql) keep
//! two records apart even when two vendors use the same id. Its global id is made from the row
//! that holds the link: the system link for a system's records, the ticket, alert or change log
//! entry itself for theirs (each of those rows holds at most one external id). Row ids are
//! UUIDv7 and never shared between tables, so `node(id:)` finds the one row (`find_external`).

use async_graphql::{ID, Object};
use uuid::Uuid;

use crate::graphql::types::enums::IntegrationKind;
use crate::ids::{self, NodeType};

/// A record in an external system that this object mirrors or is linked to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalId {
    /// The row holding the link (see the module documentation).
    holder: Uuid,
    source: String,
    external_id: String,
    url: Option<String>,
}

/// A record in an external system (PSA, RMM, a sync job's source) that a Tandem object mirrors
/// or is linked to. A node of its own: two records never share an `id`, even when two vendors
/// use the same `externalId`.
#[Object]
impl ExternalId {
    /// Global id of this external record (not the vendor's id: that is `externalId`).
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::ExternalId, self.holder)
    }

    /// The external system: an integration kind (`CONNECTWISE_MANAGE`, `NINJAONE`, ...) or the
    /// name a sync job gave.
    async fn source(&self) -> &str {
        &self.source
    }

    /// The vendor, when `source` is one Tandem knows (a bulk call's `kind`, or an
    /// integration's `NINJAONE:<id>`); null for another system's name.
    async fn kind(&self) -> Option<IntegrationKind> {
        let vendor = self.source.split(':').next().unwrap_or_default();
        <entities::enums::IntegrationKind as sea_orm::ActiveEnum>::try_from_value(
            &vendor.to_owned(),
        )
        .ok()
        .map(IntegrationKind::from)
    }

    /// The record's own id in that system, as the vendor spells it.
    async fn external_id(&self) -> &str {
        &self.external_id
    }

    /// A link to the record in that system, when known.
    async fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }
}

impl ExternalId {
    /// The external record held by the row `holder` (a system link, or a ticket, alert or
    /// change log entry).
    pub fn new(holder: Uuid, source: String, external_id: String, url: Option<String>) -> Self {
        Self {
            holder,
            source,
            external_id,
            url,
        }
    }

    /// The external id held in the `external_source`/`external_id`/`external_url` columns of
    /// the row `holder`.
    pub fn from_columns(
        holder: Uuid,
        source: &Option<String>,
        id: &Option<String>,
        url: &Option<String>,
    ) -> Vec<Self> {
        match (source, id) {
            (Some(source), Some(id)) => {
                vec![Self::new(holder, source.clone(), id.clone(), url.clone())]
            }
            _ => Vec::new(),
        }
    }
}
