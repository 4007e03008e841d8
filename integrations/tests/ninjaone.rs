//! The NinjaOne connector's activity walk against the NinjaOne mock (issue 14 item 3): pages come
//! newest first, every page is read whichever way `olderThan`/`newerThan` turn out to work, and
//! a page that makes no progress is an error, never the silent end of the walk.
#![cfg(feature = "mock")]

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{connector_with, ids, walk};
use entities::enums::IntegrationKind;
use integrations::connector::{Connector, Cursor};
use integrations::mock::{ActivityCursors, MockServer, ninjaone};
use integrations::model::Resource;
use serde_json::json;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 5, 14, 0, 0).unwrap()
}

/// A mock with `count` activities (ids 1 to `count`, one minute apart) read as `cursors` says.
async fn server(count: i64, cursors: ActivityCursors) -> MockServer {
    let mut store = ninjaone::fixture(0, at());
    store.changes = (1..=count)
        .map(|id| {
            ninjaone::activity(
                id,
                3302,
                "SCRIPTING",
                &format!("Ran script {id}"),
                at() + Duration::minutes(id),
            )
        })
        .collect();
    store.activity_cursors = cursors;
    ninjaone::start(store).await
}

fn connector(server: &MockServer, page_size: u32) -> Box<dyn Connector> {
    let (mut settings, credentials) = ninjaone::configuration();
    settings["pageSize"] = json!(page_size);
    connector_with(IntegrationKind::Ninjaone, server, settings, credentials)
}

/// Every id from 1 to `count`, sorted as strings sort them.
fn every(count: i64) -> Vec<String> {
    let mut all: Vec<String> = (1..=count).map(|id| id.to_string()).collect();
    all.sort();
    all
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test]
async fn every_activity_page_is_read_newest_first() {
    let server = server(25, ActivityCursors::AsNamed).await;
    let connector = connector(&server, 10);
    let pages = walk(&*connector, Resource::Changes, Cursor::default()).await;
    assert_eq!(pages.len(), 3, "10 + 10 + 5");
    let read = ids(&pages);
    assert_eq!(read[..3], ["25", "24", "23"], "newest first");
    assert_eq!(sorted(read), every(25), "each once");
    assert_eq!(
        pages[0].next.as_deref(),
        Some("v2.down.olderThan.16"),
        "down from the oldest of the page"
    );
}

#[tokio::test]
async fn swapped_cursors_are_detected_and_every_page_is_read() {
    let server = server(25, ActivityCursors::Swapped).await;
    let connector = connector(&server, 10);
    let pages = walk(&*connector, Resource::Changes, Cursor::default()).await;
    assert_eq!(sorted(ids(&pages)), every(25));
    assert_eq!(pages[1].next.as_deref(), Some("v2.down.newerThan.6"));
    // Page 2 tried `olderThan` (no progress) then `newerThan`; page 3 asked `newerThan` at once.
    assert_eq!(server.state.requests(), 1 + 2 + 1);
}

#[tokio::test]
async fn a_changed_since_walk_reads_every_newer_activity() {
    let server = server(25, ActivityCursors::AsNamed).await;
    let connector = connector(&server, 10);
    let cursor = Cursor {
        changed_since: Some(at() + Duration::minutes(3)),
        page_token: None,
    };
    let pages = walk(&*connector, Resource::Changes, cursor).await;
    let expected: Vec<String> = sorted((4..=25).map(|id| id.to_string()).collect());
    assert_eq!(sorted(ids(&pages)), expected);
}

#[tokio::test]
async fn a_page_that_makes_no_progress_is_an_error() {
    let server = server(25, ActivityCursors::Ignored).await;
    let connector = connector(&server, 10);
    let first = connector
        .page(Resource::Changes, None, None)
        .await
        .expect("the first page");
    let error = connector
        .page(Resource::Changes, None, first.next)
        .await
        .map(|_| ())
        .expect_err("no progress is an error");
    let message = error.to_string();
    assert!(message.contains("no progress past id 16"), "{message}");
}

#[tokio::test]
async fn an_old_token_starts_the_walk_over() {
    let server = server(25, ActivityCursors::AsNamed).await;
    let connector = connector(&server, 10);
    let page = connector
        .page(Resource::Changes, None, Some("16".to_owned()))
        .await
        .expect("a page");
    assert_eq!(ids(std::slice::from_ref(&page))[0], "25", "from the newest");
}
