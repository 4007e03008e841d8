//! What every connector test needs: a connector against a mock, walking a resource, the ids read.
#![allow(dead_code)]

use entities::enums::IntegrationKind;
use futures_util::TryStreamExt;
use integrations::connector::{Connector, Cursor, IntegrationConfig, build, pages};
use integrations::egress::Egress;
use integrations::http::RetryPolicy;
use integrations::mock::MockServer;
use integrations::model::{Page, Resource};
use serde_json::Value;

/// A `kind` connector against `server`, with millisecond retries.
pub fn connector_with(
    kind: IntegrationKind,
    server: &MockServer,
    settings: Value,
    credentials: Value,
) -> Box<dyn Connector> {
    connector_mapped(kind, server, settings, credentials, None)
}

/// [`connector_with`] for a sync run that maps only `mapped` companies (`None`: unknown).
pub fn connector_mapped(
    kind: IntegrationKind,
    server: &MockServer,
    settings: Value,
    credentials: Value,
    mapped: Option<&[&str]>,
) -> Box<dyn Connector> {
    // reqwest needs the TLS provider before any client is built.
    let _ = rustls::crypto::ring::default_provider().install_default();
    build(IntegrationConfig {
        kind,
        base_url: server.url.clone(),
        settings,
        credentials,
        policy: RetryPolicy::fast(),
        // The mocks listen on loopback.
        egress: Egress::ALLOW_PRIVATE,
        mapped_companies: mapped.map(|companies| {
            std::sync::Arc::new(
                companies
                    .iter()
                    .map(|company| (*company).to_owned())
                    .collect(),
            )
        }),
    })
    .expect("a connector")
}

/// Every page of `resource` from `cursor` on.
pub async fn walk(connector: &dyn Connector, resource: Resource, cursor: Cursor) -> Vec<Page> {
    pages(connector, resource, cursor)
        .try_collect()
        .await
        .expect("every page reads")
}

/// The external ids of every record of `pages`, in order; panics on a record error.
pub fn ids(pages: &[Page]) -> Vec<String> {
    pages
        .iter()
        .flat_map(|page| &page.records)
        .map(|record| {
            record
                .as_ref()
                .expect("a readable record")
                .external_id()
                .to_owned()
        })
        .collect()
}

/// `count` consecutive ids from `from`, as strings.
pub fn range(from: i64, count: i64) -> Vec<String> {
    (from..from + count).map(|id| id.to_string()).collect()
}
