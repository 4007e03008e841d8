//! Relay cursor connections over keyset pagination, in any order a list offers.
//!
//! A page is read with `WHERE (key, id) > (cursor.key, cursor.id) ORDER BY key, id LIMIT n + 1`,
//! or its mirror image for `last`/`before` and for descending orders. The comparison is written
//! as a row value, never as `key > k OR (key = k AND id > i)`: PostgreSQL turns a row value into
//! an index range whatever plan it picks, while the `OR` form, once a prepared statement switches
//! to its generic plan, becomes a filter over every row before the cursor (issue 13: 4,105
//! buffers against 108 on page 40 of a change log window). SQLite reads row values since 3.15. Never `OFFSET`: a page costs the
//! same at any depth, and paging stays stable while rows are added. A cursor records the order it
//! was made for, so a cursor from one order is refused under another instead of skipping rows.
//! `totalCount` is counted only when the query selects it.

use std::sync::Arc;

use async_graphql::{Context, Enum, OutputType, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{PaginatorTrait, QueryOrder, QuerySelect, Select};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiResult};
use crate::graphql::context::ContextExt;
use crate::graphql::loaders::Keyed;
use crate::graphql::mutation::integration::ValueMapping;
use crate::graphql::types::integration::{
    IntegrationMapping, IntegrationTeamMapping, SyncRunError,
};
use crate::graphql::types::responsibility::ResponsibilityHistoryEntry;
use crate::graphql::types::ticket::PsaWrite;
use crate::graphql::types::{
    Alert, ChangeLogEntry, Engagement, Environment, Function, Integration, Organization, Person,
    Runbook, RunbookRevision, SyncRun, System, Team, Ticket, TicketNote, WebhookDelivery,
    WebhookEndpoint,
};

/// Items per page when neither `first` nor `last` is given.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// Most items a page may ask for.
pub const MAX_PAGE_SIZE: u64 = 100;

/// The cost of a connection field for the complexity limit: the page size it may return (the
/// default when unset, the cap when above it) times the cost of one item, plus one for itself.
pub fn page_cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let size = first.or(last).map_or(DEFAULT_PAGE_SIZE, |size| {
        u64::try_from(size).unwrap_or(0).min(MAX_PAGE_SIZE)
    });
    1 + size as usize * child_complexity
}

/// The paging arguments of a connection field.
#[derive(Debug, Default, Clone)]
pub struct PageArgs {
    /// Items after `after`, at most this many.
    pub first: Option<i32>,
    /// Cursor to read forward from.
    pub after: Option<String>,
    /// Items before `before`, at most this many.
    pub last: Option<i32>,
    /// Cursor to read backward from.
    pub before: Option<String>,
}

/// Which way a list is sorted.
#[derive(Enum, Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum OrderDirection {
    /// Smallest (or oldest) first.
    #[default]
    Asc,
    /// Largest (or newest) first.
    Desc,
}

/// How a sort column's values are written into cursors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKind {
    /// Text, compared as stored.
    Text,
    /// A UTC instant, written as RFC 3339 at the precision stored.
    Instant,
}

/// The order of a list: an optional sort column, then the id as tie-breaker.
#[derive(Debug, Clone, Copy)]
pub struct Ordering<C> {
    /// The column sorted by; `None` sorts by id alone (creation order, ids being UUIDv7).
    pub key: Option<(C, SortKind)>,
    /// Ascending or descending.
    pub direction: OrderDirection,
}

impl<C> Ordering<C> {
    /// Creation order, oldest first.
    pub fn by_id() -> Self {
        Self {
            key: None,
            direction: OrderDirection::Asc,
        }
    }

    /// By `column` (of `kind`), then id, in `direction`.
    pub fn by(column: C, kind: SortKind, direction: OrderDirection) -> Self {
        Self {
            key: Some((column, kind)),
            direction,
        }
    }
}

/// One page of a list, with what it takes to fetch the pages around it.
#[derive(SimpleObject)]
#[graphql(complex)]
#[graphql(concrete(name = "OrganizationConnection", params(Organization)))]
#[graphql(concrete(name = "EngagementConnection", params(Engagement)))]
#[graphql(concrete(name = "TeamConnection", params(Team)))]
#[graphql(concrete(name = "PersonConnection", params(Person)))]
#[graphql(concrete(name = "EnvironmentConnection", params(Environment)))]
#[graphql(concrete(name = "SystemConnection", params(System)))]
#[graphql(concrete(name = "FunctionConnection", params(Function)))]
#[graphql(concrete(name = "RunbookConnection", params(Runbook)))]
#[graphql(concrete(name = "ChangeLogEntryConnection", params(ChangeLogEntry)))]
#[graphql(concrete(name = "TicketConnection", params(Ticket)))]
#[graphql(concrete(name = "AlertConnection", params(Alert)))]
#[graphql(concrete(name = "IntegrationConnection", params(Integration)))]
#[graphql(concrete(name = "SyncRunConnection", params(SyncRun)))]
#[graphql(concrete(name = "TicketNoteConnection", params(TicketNote)))]
#[graphql(concrete(name = "RunbookRevisionConnection", params(RunbookRevision)))]
#[graphql(concrete(name = "SyncRunErrorConnection", params(SyncRunError)))]
#[graphql(concrete(name = "IntegrationMappingConnection", params(IntegrationMapping)))]
#[graphql(concrete(
    name = "IntegrationTeamMappingConnection",
    params(IntegrationTeamMapping)
))]
#[graphql(concrete(name = "PsaWriteConnection", params(PsaWrite)))]
#[graphql(concrete(name = "ValueMappingConnection", params(ValueMapping)))]
#[graphql(concrete(
    name = "ResponsibilityHistoryEntryConnection",
    params(ResponsibilityHistoryEntry)
))]
#[graphql(concrete(name = "WebhookEndpointConnection", params(WebhookEndpoint)))]
#[graphql(concrete(name = "WebhookDeliveryConnection", params(WebhookDelivery)))]
pub struct Page<N>
where
    N: OutputType,
    PageEdge<N>: OutputType,
{
    /// The items of this page, in order, each with its cursor.
    pub edges: Vec<PageEdge<N>>,
    /// Where this page sits in the list.
    pub page_info: PageInfo,
    /// How many items match, across all pages.
    pub total_count: u64,
}

#[async_graphql::ComplexObject]
impl<N> Page<N>
where
    N: OutputType,
    PageEdge<N>: OutputType,
{
    /// The items of this page, in order, without their cursors: `edges { node }` for clients
    /// that do not page by item.
    async fn nodes(&self) -> Vec<&N> {
        self.edges.iter().map(|edge| &edge.node).collect()
    }
}

/// An item of a page, with its cursor.
#[derive(SimpleObject)]
#[graphql(complex)]
#[graphql(concrete(name = "OrganizationEdge", params(Organization)))]
#[graphql(concrete(name = "EngagementEdge", params(Engagement)))]
#[graphql(concrete(name = "TeamEdge", params(Team)))]
#[graphql(concrete(name = "PersonEdge", params(Person)))]
#[graphql(concrete(name = "EnvironmentEdge", params(Environment)))]
#[graphql(concrete(name = "SystemEdge", params(System)))]
#[graphql(concrete(name = "FunctionEdge", params(Function)))]
#[graphql(concrete(name = "RunbookEdge", params(Runbook)))]
#[graphql(concrete(name = "ChangeLogEntryEdge", params(ChangeLogEntry)))]
#[graphql(concrete(name = "TicketEdge", params(Ticket)))]
#[graphql(concrete(name = "AlertEdge", params(Alert)))]
#[graphql(concrete(name = "IntegrationEdge", params(Integration)))]
#[graphql(concrete(name = "SyncRunEdge", params(SyncRun)))]
#[graphql(concrete(name = "TicketNoteEdge", params(TicketNote)))]
#[graphql(concrete(name = "RunbookRevisionEdge", params(RunbookRevision)))]
#[graphql(concrete(name = "SyncRunErrorEdge", params(SyncRunError)))]
#[graphql(concrete(name = "IntegrationMappingEdge", params(IntegrationMapping)))]
#[graphql(concrete(name = "IntegrationTeamMappingEdge", params(IntegrationTeamMapping)))]
#[graphql(concrete(name = "PsaWriteEdge", params(PsaWrite)))]
#[graphql(concrete(name = "ValueMappingEdge", params(ValueMapping)))]
#[graphql(concrete(
    name = "ResponsibilityHistoryEntryEdge",
    params(ResponsibilityHistoryEntry)
))]
#[graphql(concrete(name = "WebhookEndpointEdge", params(WebhookEndpoint)))]
#[graphql(concrete(name = "WebhookDeliveryEdge", params(WebhookDelivery)))]
pub struct PageEdge<N: OutputType> {
    /// The item.
    pub node: N,
    /// What the edge's cursor is made of, encoded only when the query selects it: a page's
    /// queries mostly ask for `pageInfo { endCursor }`, not each edge's.
    #[graphql(skip)]
    cursor: EdgeCursor,
}

/// An edge's [`Cursor`], not yet encoded; the order's name is shared by the edges of a page.
struct EdgeCursor {
    order: Arc<str>,
    key: Option<String>,
    id: Uuid,
}

impl EdgeCursor {
    /// The same text as [`Cursor::encode`] of the same values.
    fn encode(&self) -> String {
        /// [`Cursor`], borrowed.
        #[derive(Serialize)]
        struct Borrowed<'a> {
            #[serde(rename = "o")]
            order: &'a str,
            #[serde(rename = "k", skip_serializing_if = "Option::is_none")]
            key: Option<&'a str>,
            #[serde(rename = "i")]
            id: Uuid,
        }
        let borrowed = Borrowed {
            order: &self.order,
            key: self.key.as_deref(),
            id: self.id,
        };
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&borrowed).expect("a cursor serializes"))
    }
}

#[async_graphql::ComplexObject]
impl<N: OutputType> PageEdge<N> {
    /// Pass as `after` (or `before`) to read the items after (or before) this one.
    async fn cursor(&self) -> String {
        self.cursor.encode()
    }
}

/// Where a page sits in its list (Relay `PageInfo`).
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct PageInfo {
    /// Whether items follow this page.
    pub has_next_page: bool,
    /// Whether items precede this page.
    pub has_previous_page: bool,
    /// The cursor of the first item of this page.
    pub start_cursor: Option<String>,
    /// The cursor of the last item of this page.
    pub end_cursor: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
enum Direction {
    Forward,
    Backward,
}

#[derive(Debug)]
struct Window {
    direction: Direction,
    size: u64,
    cursor: Option<String>,
}

impl PageArgs {
    fn window(&self) -> ApiResult<Window> {
        let size = |field: &str, value: i32| -> ApiResult<u64> {
            let value = u64::try_from(value).map_err(|_| {
                ApiError::bad_input(field, format!("`{field}` must not be negative"))
            })?;
            if value > MAX_PAGE_SIZE {
                return Err(ApiError::over_limit(
                    crate::error::ErrorCode::BadUserInput,
                    Some(field),
                    format!(
                        "`{field}` must be at most {MAX_PAGE_SIZE} (got {value}); page with `after`"
                    ),
                    MAX_PAGE_SIZE,
                    value,
                ));
            }
            Ok(value)
        };
        match (self.first, self.last) {
            (Some(_), Some(_)) => Err(ApiError::bad_input(
                "last",
                "pass `first` or `last`, not both",
            )),
            (_, Some(last)) => {
                if self.after.is_some() {
                    return Err(ApiError::bad_input("after", "use `before` with `last`"));
                }
                Ok(Window {
                    direction: Direction::Backward,
                    size: size("last", last)?,
                    cursor: self.before.clone(),
                })
            }
            (first, None) => {
                if self.before.is_some() {
                    return Err(ApiError::bad_input("before", "use `after` with `first`"));
                }
                Ok(Window {
                    direction: Direction::Forward,
                    size: first
                        .map(|first| size("first", first))
                        .transpose()?
                        .unwrap_or(DEFAULT_PAGE_SIZE),
                    cursor: self.after.clone(),
                })
            }
        }
    }
}

/// What a cursor holds: the order it was made for, the sort value and the id of its row.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Cursor {
    /// The sort column's name, or `id`.
    #[serde(rename = "o")]
    order: String,
    /// The sort value, as text; absent when sorting by id.
    #[serde(rename = "k", default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    /// The row's id.
    #[serde(rename = "i")]
    id: Uuid,
}

impl Cursor {
    /// Edges encode through [`EdgeCursor::encode`]; this one is what the tests compare it with.
    #[cfg(test)]
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("a cursor serializes"))
    }

    fn decode(field: &str, text: &str) -> ApiResult<Self> {
        URL_SAFE_NO_PAD
            .decode(text)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| ApiError::bad_input(field, format!("`{text}` is not a valid cursor")))
    }
}

fn order_name<C: ColumnTrait>(key: Option<&(C, SortKind)>) -> Arc<str> {
    key.map_or_else(|| "id".into(), |(column, _)| column.as_str().into())
}

/// The cursor value of `value`, a sort column's content.
fn key_text(value: sea_orm::Value) -> ApiResult<String> {
    match value {
        sea_orm::Value::String(Some(text)) => Ok(text),
        // Full precision: a rounded cursor would sort before its own row and repeat it.
        sea_orm::Value::ChronoDateTimeUtc(Some(instant)) => {
            Ok(instant.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        }
        other => Err(ApiError::Internal(anyhow::anyhow!(
            "cannot sort by a value like {other:?}"
        ))),
    }
}

/// The database value of a cursor's sort text.
fn key_value(field: &str, kind: SortKind, text: &str) -> ApiResult<sea_orm::Value> {
    match kind {
        SortKind::Text => Ok(text.to_owned().into()),
        SortKind::Instant => DateTime::parse_from_rfc3339(text)
            .map(|instant| instant.with_timezone(&Utc).into())
            .map_err(|_| ApiError::bad_input(field, format!("`{text}` is not a valid cursor"))),
    }
}

/// `(columns) > (values)` when `ascending`, else `(columns) < (values)`: the keyset condition of
/// a page after a cursor, as one row-value comparison (see the module documentation).
pub fn beyond<const N: usize>(ascending: bool, columns: [Expr; N], values: [Expr; N]) -> Expr {
    // Scoped: the trait's `min`/`max` would shadow `Ord`'s on every number in this module.
    use sea_orm::sea_query::ExprTrait as _;
    let (columns, values) = (Expr::tuple(columns), Expr::tuple(values));
    if ascending {
        columns.gt(values)
    } else {
        columns.lt(values)
    }
}

/// Reads one page of `select`, in `ordering`, as a connection of `N`.
///
/// # Errors
/// [`ApiError::BadUserInput`] for bad paging arguments or a cursor of another order; database
/// errors otherwise.
pub async fn paginate<E, N>(
    ctx: &Context<'_>,
    select: Select<E>,
    ordering: Ordering<E::Column>,
    args: PageArgs,
    to_node: impl Fn(E::Model) -> N,
) -> ApiResult<Page<N>>
where
    E: Keyed,
    E::Model: Send + Sync,
    N: OutputType,
    PageEdge<N>: OutputType,
{
    let window = args.window()?;
    let cursor_field = if window.direction == Direction::Forward {
        "after"
    } else {
        "before"
    };
    let order = order_name(ordering.key.as_ref());
    let cursor = window
        .cursor
        .as_deref()
        .map(|text| {
            let cursor = Cursor::decode(cursor_field, text)?;
            if *cursor.order != *order {
                return Err(ApiError::bad_input(
                    cursor_field,
                    format!("`{text}` was made for another order of this list"),
                ));
            }
            Ok(cursor)
        })
        .transpose()?;

    let db = ctx.db()?;
    let total_count = if ctx.look_ahead().field("totalCount").exists() {
        select.clone().count(db).await?
    } else {
        0
    };

    // Reading backward is reading the reversed order forward, then flipping the page.
    let ascending =
        (ordering.direction == OrderDirection::Asc) == (window.direction == Direction::Forward);
    let id = E::id_column();
    let mut query = select;
    if let Some(cursor) = &cursor {
        query = match (&ordering.key, &cursor.key) {
            (Some((column, kind)), Some(text)) => {
                let value = key_value(cursor_field, *kind, text)?;
                query.filter(beyond(
                    ascending,
                    [
                        Expr::col((E::default(), *column)),
                        Expr::col((E::default(), id)),
                    ],
                    [Expr::val(value), Expr::val(cursor.id)],
                ))
            }
            (None, _) => query.filter(if ascending {
                id.gt(cursor.id)
            } else {
                id.lt(cursor.id)
            }),
            (Some(_), None) => {
                return Err(ApiError::bad_input(
                    cursor_field,
                    "the cursor was made for another order of this list",
                ));
            }
        };
    }
    let sort = if ascending {
        sea_orm::Order::Asc
    } else {
        sea_orm::Order::Desc
    };
    if let Some((column, _)) = &ordering.key {
        query = query.order_by(*column, sort.clone());
    }
    query = query.order_by(id, sort);

    let mut rows = query.limit(window.size + 1).all(db).await?;
    let has_more = rows.len() as u64 > window.size;
    rows.truncate(window.size as usize);
    let (has_previous_page, has_next_page) = match window.direction {
        Direction::Forward => (cursor.is_some(), has_more),
        Direction::Backward => {
            rows.reverse();
            (has_more, cursor.is_some())
        }
    };
    let mut edges = Vec::with_capacity(rows.len());
    for row in rows {
        let key = ordering
            .key
            .as_ref()
            .map(|(column, _)| key_text(row.get(*column)))
            .transpose()?;
        let cursor = EdgeCursor {
            order: Arc::clone(&order),
            key,
            id: E::id_of(&row),
        };
        edges.push(PageEdge {
            cursor,
            node: to_node(row),
        });
    }
    let page_info = PageInfo {
        has_next_page,
        has_previous_page,
        start_cursor: edges.first().map(|edge| edge.cursor.encode()),
        end_cursor: edges.last().map(|edge| edge.cursor.encode()),
    };
    Ok(Page {
        edges,
        page_info,
        total_count,
    })
}

/// The sort key of an item of a list paged in memory: a text that sorts as the list does, then
/// the item's row id.
pub type MemoryKey = (String, Uuid);

/// `instant` as a fixed-width text (microseconds, as stored), so such keys sort by time.
pub fn instant_key(instant: DateTime<Utc>) -> String {
    instant.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The prefix of the order names in the cursors of [`page_in_memory`].
const IN_MEMORY_ORDER: &str = "mem:";

/// One page of a nested list that was read whole in one batch for every parent of a page (a
/// DataLoader group), so a page of parents costs one statement for all their lists instead of
/// one per parent. Same arguments, cursors and limits as [`paginate`]: `items` are sorted by
/// their key and id here, and a cursor names the key and id of its item, so paging stays
/// stable when items are added or removed. `order` names the order in cursors.
///
/// # Errors
/// [`ApiError::BadUserInput`] for bad paging arguments or a cursor of another order.
pub fn page_in_memory<N>(
    order: &str,
    mut items: Vec<(MemoryKey, N)>,
    args: PageArgs,
) -> ApiResult<Page<N>>
where
    N: OutputType,
    PageEdge<N>: OutputType,
{
    // Tagged apart from the orders of database-paged lists, whose keys are written otherwise
    // (a `tickets` cursor must not be compared as text with a note's key).
    let order: Arc<str> = format!("{IN_MEMORY_ORDER}{order}").into();
    let window = args.window()?;
    let cursor_field = if window.direction == Direction::Forward {
        "after"
    } else {
        "before"
    };
    let cursor = window
        .cursor
        .as_deref()
        .map(|text| {
            let cursor = Cursor::decode(cursor_field, text)?;
            if *cursor.order != *order {
                return Err(ApiError::bad_input(
                    cursor_field,
                    format!("`{text}` was made for another order of this list"),
                ));
            }
            Ok((cursor.key.unwrap_or_default(), cursor.id))
        })
        .transpose()?;
    items.sort_by(|left, right| left.0.cmp(&right.0));
    let total_count = items.len() as u64;
    let size = usize::try_from(window.size).unwrap_or(usize::MAX);
    // The items strictly beyond the cursor, in reading order.
    let (start, end) = match (&window.direction, &cursor) {
        (Direction::Forward, Some(cursor)) => {
            (items.partition_point(|item| &item.0 <= cursor), items.len())
        }
        (Direction::Backward, Some(cursor)) => (0, items.partition_point(|item| &item.0 < cursor)),
        (_, None) => (0, items.len()),
    };
    let (from, to, has_previous_page, has_next_page) = match window.direction {
        Direction::Forward => {
            let to = end.min(start + size);
            (start, to, cursor.is_some(), to < end)
        }
        Direction::Backward => {
            let from = end.saturating_sub(size).max(start);
            (from, end, from > start, cursor.is_some())
        }
    };
    let edges: Vec<PageEdge<N>> = items
        .into_iter()
        .skip(from)
        .take(to - from)
        .map(|((key, id), node)| PageEdge {
            cursor: EdgeCursor {
                order: Arc::clone(&order),
                key: Some(key),
                id,
            },
            node,
        })
        .collect();
    let page_info = PageInfo {
        has_next_page,
        has_previous_page,
        start_cursor: edges.first().map(|edge| edge.cursor.encode()),
        end_cursor: edges.last().map(|edge| edge.cursor.encode()),
    };
    Ok(Page {
        edges,
        page_info,
        total_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(first: Option<i32>, last: Option<i32>) -> PageArgs {
        PageArgs {
            first,
            last,
            ..PageArgs::default()
        }
    }

    #[test]
    fn page_size_defaults_to_twenty_and_is_capped_at_one_hundred() {
        assert_eq!(args(None, None).window().unwrap().size, DEFAULT_PAGE_SIZE);
        assert_eq!(args(Some(100), None).window().unwrap().size, 100);
        let error = args(Some(101), None).window().unwrap_err();
        assert_eq!(
            error.to_string(),
            "`first` must be at most 100 (got 101); page with `after`"
        );
        let error = args(None, Some(-1)).window().unwrap_err();
        assert_eq!(error.to_string(), "`last` must not be negative");
        assert!(args(Some(1), Some(1)).window().is_err());
    }

    #[test]
    fn an_edge_encodes_its_cursor_as_the_cursor_itself_does() {
        let id = Uuid::now_v7();
        for key in [Some("2026-01-01T00:00:00.000000Z"), None] {
            let cursor = Cursor {
                order: "occurred_at".into(),
                key: key.map(str::to_owned),
                id,
            };
            let edge = EdgeCursor {
                order: "occurred_at".into(),
                key: key.map(str::to_owned),
                id,
            };
            assert_eq!(edge.encode(), cursor.encode());
            assert_eq!(Cursor::decode("after", &edge.encode()).unwrap(), cursor);
        }
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_rejected() {
        let cursor = Cursor {
            order: "occurred_at".into(),
            key: Some("2026-01-01T00:00:00.000000Z".into()),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode("after", &cursor.encode()).unwrap(), cursor);
        let error = Cursor::decode("after", "%%%").unwrap_err();
        assert_eq!(error.to_string(), "`%%%` is not a valid cursor");
    }

    #[test]
    fn instants_in_cursors_keep_their_full_precision() {
        let instant = DateTime::parse_from_rfc3339("2026-11-27T06:00:00.123456789Z")
            .unwrap()
            .with_timezone(&Utc);
        let text = key_text(instant.into()).unwrap();
        assert_eq!(text, "2026-11-27T06:00:00.123456789Z");
        assert_eq!(
            key_value("after", SortKind::Instant, &text).unwrap(),
            instant.into()
        );
    }
}
