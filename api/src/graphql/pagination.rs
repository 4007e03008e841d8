//! Relay cursor connections over keyset pagination.
//!
//! Pages are read with `WHERE id > cursor ORDER BY id LIMIT n + 1` (or the mirror image for
//! `last`/`before`), never with `OFFSET`, so a page costs the same at any depth and stays stable
//! while rows are added. Ids are UUIDv7, so this order is creation order. `totalCount` is counted
//! only when the query selects it.

use async_graphql::{Context, OutputType, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::prelude::*;
use sea_orm::{PaginatorTrait, QueryOrder, QuerySelect, Select};

use crate::error::{ApiError, ApiResult};
use crate::graphql::context::ContextExt;
use crate::graphql::loaders::Keyed;
use crate::graphql::types::{Environment, Organization};

/// Items per page when neither `first` nor `last` is given.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// Most items a page may ask for.
pub const MAX_PAGE_SIZE: u64 = 100;

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

/// One page of a list, with what it takes to fetch the pages around it.
#[derive(SimpleObject)]
#[graphql(concrete(name = "OrganizationConnection", params(Organization)))]
#[graphql(concrete(name = "EnvironmentConnection", params(Environment)))]
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

/// An item of a page, with its cursor.
#[derive(SimpleObject)]
#[graphql(concrete(name = "OrganizationEdge", params(Organization)))]
#[graphql(concrete(name = "EnvironmentEdge", params(Environment)))]
pub struct PageEdge<N: OutputType> {
    /// Pass as `after` (or `before`) to read the items after (or before) this one.
    pub cursor: String,
    /// The item.
    pub node: N,
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
    cursor: Option<Uuid>,
}

impl PageArgs {
    fn window(&self) -> ApiResult<Window> {
        let size = |field: &str, value: i32| -> ApiResult<u64> {
            let value = u64::try_from(value).map_err(|_| {
                ApiError::bad_input(field, format!("`{field}` must not be negative"))
            })?;
            if value > MAX_PAGE_SIZE {
                return Err(ApiError::bad_input(
                    field,
                    format!(
                        "`{field}` must be at most {MAX_PAGE_SIZE} (got {value}); page with `after`"
                    ),
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
                    cursor: self
                        .before
                        .as_deref()
                        .map(|cursor| decode_cursor("before", cursor))
                        .transpose()?,
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
                    cursor: self
                        .after
                        .as_deref()
                        .map(|cursor| decode_cursor("after", cursor))
                        .transpose()?,
                })
            }
        }
    }
}

/// The cursor of the row with `id`.
pub fn encode_cursor(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

fn decode_cursor(field: &str, cursor: &str) -> ApiResult<Uuid> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| Uuid::from_slice(&bytes).ok())
        .ok_or_else(|| ApiError::bad_input(field, format!("`{cursor}` is not a valid cursor")))
}

/// Reads one page of `select` as a connection of `N`.
///
/// # Errors
/// [`ApiError::BadUserInput`] for bad paging arguments; database errors otherwise.
pub async fn paginate<E, N>(
    ctx: &Context<'_>,
    select: Select<E>,
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
    let db = ctx.db()?;
    let total_count = if ctx.look_ahead().field("totalCount").exists() {
        select.clone().count(db).await?
    } else {
        0
    };
    let id = E::id_column();
    let mut query = select;
    if let Some(cursor) = window.cursor {
        query = match window.direction {
            Direction::Forward => query.filter(id.gt(cursor)),
            Direction::Backward => query.filter(id.lt(cursor)),
        };
    }
    query = match window.direction {
        Direction::Forward => query.order_by_asc(id),
        Direction::Backward => query.order_by_desc(id),
    };
    let mut rows = query.limit(window.size + 1).all(db).await?;
    let has_more = rows.len() as u64 > window.size;
    rows.truncate(window.size as usize);
    let (has_previous_page, has_next_page) = match window.direction {
        Direction::Forward => (window.cursor.is_some(), has_more),
        Direction::Backward => {
            rows.reverse();
            (has_more, window.cursor.is_some())
        }
    };
    let edges: Vec<PageEdge<N>> = rows
        .into_iter()
        .map(|row| PageEdge {
            cursor: encode_cursor(E::id_of(&row)),
            node: to_node(row),
        })
        .collect();
    let page_info = PageInfo {
        has_next_page,
        has_previous_page,
        start_cursor: edges.first().map(|edge| edge.cursor.clone()),
        end_cursor: edges.last().map(|edge| edge.cursor.clone()),
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
    fn cursors_round_trip_and_garbage_is_rejected() {
        let id = Uuid::now_v7();
        let page = PageArgs {
            first: Some(5),
            after: Some(encode_cursor(id)),
            ..PageArgs::default()
        };
        assert_eq!(page.window().unwrap().cursor, Some(id));
        let page = PageArgs {
            first: Some(5),
            after: Some("%%%".into()),
            ..PageArgs::default()
        };
        assert_eq!(
            page.window().unwrap_err().to_string(),
            "`%%%` is not a valid cursor"
        );
    }
}
