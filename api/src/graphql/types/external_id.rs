//! `ExternalId`: where an object lives in an external system (PSA, RMM, a sync job's source).

use async_graphql::SimpleObject;

/// A record in an external system that this object mirrors or is linked to.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct ExternalId {
    /// The external system: an integration kind (`CONNECTWISE_MANAGE`, `NINJAONE`, ...) or the
    /// name a sync job gave.
    pub source: String,
    /// The record's id in that system.
    pub id: String,
    /// A link to the record in that system, when known.
    pub url: Option<String>,
}

impl ExternalId {
    /// The external id held in a row's `external_source`/`external_id`/`external_url` columns.
    pub fn from_columns(
        source: &Option<String>,
        id: &Option<String>,
        url: &Option<String>,
    ) -> Vec<Self> {
        match (source, id) {
            (Some(source), Some(id)) => {
                vec![Self {
                    source: source.clone(),
                    id: id.clone(),
                    url: url.clone(),
                }]
            }
            _ => Vec::new(),
        }
    }
}
