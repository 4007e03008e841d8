//! `environments`, `systems`, `functions`, `runbooks`.

use async_graphql::{Context, ID, InputObject, Object, Result, ResultExt};
use entities::{environment, function, runbook, system};
use sea_orm::ExprTrait;
use sea_orm::prelude::*;
use sea_orm::sea_query::{Expr, Func, LikeExpr, SimpleExpr};
use sea_orm::{ActiveEnum, Condition, QueryFilter};

use crate::error::ApiResult;
use crate::graphql::context::ContextExt;
use crate::graphql::order::order_by;
use crate::graphql::pagination::{Page, PageArgs, page_cost, paginate};
use crate::graphql::query::{Within, decode_ids};
use crate::graphql::scope::visible_environments;
use crate::graphql::types::enums::{ComplianceFramework, CsfFunction, SystemKind};
use crate::graphql::types::{Environment, Function, Runbook, System};
use crate::ids::NodeType;

/// Environments, systems, functions and runbooks.
#[derive(Default)]
pub struct InventoryQuery;

/// Narrows `environments`.
#[derive(InputObject, Default)]
pub struct EnvironmentFilter {
    /// Only environments of these organizations.
    pub organization_ids: Option<Vec<ID>>,
    /// Include archived environments (default: false).
    #[graphql(default)]
    pub include_archived: bool,
    /// Only environments changed at or after this instant.
    pub updated_since: Option<DateTimeUtc>,
}

order_by! {
    /// How to sort environments.
    EnvironmentOrder,
    /// The fields environments can be sorted by.
    EnvironmentOrderField for environment default CreatedAt {
        /// By name.
        Name => Name as Text,
        /// By creation time.
        CreatedAt => CreatedAt as Instant,
        /// By last change.
        UpdatedAt => UpdatedAt as Instant,
    }
}

/// Narrows `systems`.
#[derive(InputObject, Default)]
pub struct SystemFilter {
    /// Only systems in these environments.
    pub environment_ids: Option<Vec<ID>>,
    /// Only systems of these kinds.
    pub kinds: Option<Vec<SystemKind>>,
    /// Only systems whose name, host name or serial number contains this text (any case).
    pub text: Option<String>,
    /// Include retired systems (default: false).
    #[graphql(default)]
    pub include_retired: bool,
    /// Only systems changed at or after this instant.
    pub updated_since: Option<DateTimeUtc>,
}

order_by! {
    /// How to sort systems.
    SystemOrder,
    /// The fields systems can be sorted by.
    SystemOrderField for system default Name {
        /// By name.
        Name => Name as Text,
        /// By creation time.
        CreatedAt => CreatedAt as Instant,
        /// By last change.
        UpdatedAt => UpdatedAt as Instant,
    }
}

/// Narrows `functions`.
#[derive(InputObject, Default)]
pub struct FunctionFilter {
    /// Only functions under these NIST CSF 2.0 functions.
    pub csf_functions: Option<Vec<CsfFunction>>,
    /// Only functions this framework requires an owner for.
    pub required_by: Option<ComplianceFramework>,
    /// Only the standard catalog (default: false, which adds the caller's organizations' own).
    #[graphql(default)]
    pub standard_only: bool,
    /// Only functions changed at or after this instant.
    pub updated_since: Option<DateTimeUtc>,
}

order_by! {
    /// How to sort functions.
    FunctionOrder,
    /// The fields functions can be sorted by.
    FunctionOrderField for function default Key {
        /// By key.
        Key => Key as Text,
        /// By name.
        Name => Name as Text,
        /// By NIST CSF 2.0 category.
        CsfCategory => CsfCategory as Text,
    }
}

/// Narrows `runbooks`.
#[derive(InputObject, Default)]
pub struct RunbookFilter {
    /// Only runbooks of these environments.
    pub environment_ids: Option<Vec<ID>>,
    /// Only runbooks these teams own.
    pub owner_team_ids: Option<Vec<ID>>,
    /// Include archived runbooks (default: false).
    #[graphql(default)]
    pub include_archived: bool,
    /// Only runbooks changed at or after this instant.
    pub updated_since: Option<DateTimeUtc>,
}

order_by! {
    /// How to sort runbooks.
    RunbookOrder,
    /// The fields runbooks can be sorted by.
    RunbookOrderField for runbook default Title {
        /// By title.
        Title => Title as Text,
        /// By creation time.
        CreatedAt => CreatedAt as Instant,
        /// By last change.
        UpdatedAt => UpdatedAt as Instant,
    }
}

#[Object]
impl InventoryQuery {
    /// The environments of the organizations the caller may see. Oldest first by default.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn environments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<EnvironmentFilter>,
        #[graphql(desc = "Sort order; oldest first when omitted.")] order_by: Option<
            EnvironmentOrder,
        >,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Environment>> {
        list_environments(
            ctx,
            Within::default(),
            filter.unwrap_or_default(),
            order_by,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .await
        .extend()
    }

    /// The systems of the environments the caller may see. By name by default.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn systems(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<SystemFilter>,
        #[graphql(desc = "Sort order; by name when omitted.")] order_by: Option<SystemOrder>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<System>> {
        list_systems(
            ctx,
            Within::default(),
            filter.unwrap_or_default(),
            order_by,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .await
        .extend()
    }

    /// The standard functions and those the caller's organizations added. By key by default.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn functions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<FunctionFilter>,
        #[graphql(desc = "Sort order; by key when omitted.")] order_by: Option<FunctionOrder>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Function>> {
        let viewer = ctx.viewer().extend()?;
        let filter = filter.unwrap_or_default();
        let mut owners = Condition::any().add(function::COLUMN.organization_id.is_null());
        if !filter.standard_only {
            owners = owners.add(
                function::COLUMN
                    .organization_id
                    .is_in(viewer.visible_organization_ids().iter().copied()),
            );
        }
        let mut select = function::Entity::find().filter(owners);
        if let Some(csf_functions) = filter.csf_functions {
            let csf_functions: Vec<entities::enums::CsfFunction> =
                csf_functions.into_iter().map(Into::into).collect();
            select = select.filter(function::COLUMN.csf_function.is_in(csf_functions));
        }
        if let Some(framework) = filter.required_by {
            // `required_by` is a JSON array of names; the quoted name cannot match a longer one.
            let name = entities::enums::ComplianceFramework::from(framework).to_value();
            select = select.filter(
                Expr::expr(Expr::col(function::Column::RequiredBy).cast_as("TEXT"))
                    .like(LikeExpr::new(format!("%\"{name}\"%"))),
            );
        }
        if let Some(since) = filter.updated_since {
            select = select.filter(function::COLUMN.updated_at.gte(since));
        }
        let ordering = FunctionOrder::ordering(order_by);
        paginate(
            ctx,
            select,
            ordering,
            PageArgs {
                first,
                after,
                last,
                before,
            },
            Function,
        )
        .await
        .extend()
    }

    /// The runbooks of the environments the caller may see. By title by default.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn runbooks(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list.")] filter: Option<RunbookFilter>,
        #[graphql(desc = "Sort order; by title when omitted.")] order_by: Option<RunbookOrder>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Runbook>> {
        list_runbooks(
            ctx,
            Within::default(),
            filter.unwrap_or_default(),
            order_by,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .await
        .extend()
    }
}

/// Longest text a filter searches for.
pub const MAX_FILTER_TEXT: usize = 200;

/// A filter's `text`: `None` when absent or empty; a NUL character or more than
/// [`MAX_FILTER_TEXT`] characters is bad input (PostgreSQL cannot compare a NUL).
///
/// # Errors
/// [`ApiError::BadUserInput`] on `filter.text`.
pub fn filter_text(text: Option<&str>) -> crate::error::ApiResult<Option<&str>> {
    match text {
        None | Some("") => Ok(None),
        Some(text) if text.contains('\0') => Err(crate::error::ApiError::bad_input(
            "filter.text",
            "`text` must not contain a NUL character",
        )),
        Some(text) if text.chars().count() > MAX_FILTER_TEXT => {
            Err(crate::error::ApiError::bad_input(
                "filter.text",
                format!("`text` must be at most {MAX_FILTER_TEXT} characters"),
            ))
        }
        Some(text) => Ok(Some(text)),
    }
}

/// `LOWER(expression) LIKE '%text%'`, with the user's `%`, `_` and `\` taken literally.
pub fn contains_text(expression: impl Into<SimpleExpr>, text: &str) -> SimpleExpr {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Expr::expr(Func::lower(expression.into()))
        .like(LikeExpr::new(format!("%{escaped}%")).escape('\\'))
}

/// Environments, scoped to the viewer and `within`.
///
/// # Errors
/// Bad filter ids or paging arguments; database errors.
pub async fn list_environments(
    ctx: &Context<'_>,
    within: Within,
    filter: EnvironmentFilter,
    order_by: Option<EnvironmentOrder>,
    page: PageArgs,
) -> ApiResult<Page<Environment>> {
    let viewer = ctx.viewer()?;
    let mut select = environment::Entity::find().filter(
        environment::COLUMN
            .organization_id
            .is_in(viewer.visible_organization_ids().iter().copied()),
    );
    if let Some(organization) = within.organization {
        select = select.filter(environment::COLUMN.organization_id.eq(organization));
    }
    if let Some(organizations) = decode_ids(
        "filter.organizationIds",
        NodeType::Organization,
        filter.organization_ids.as_ref(),
    )? {
        select = select.filter(environment::COLUMN.organization_id.is_in(organizations));
    }
    if !filter.include_archived {
        select = select.filter(environment::COLUMN.archived_at.is_null());
    }
    if let Some(since) = filter.updated_since {
        select = select.filter(environment::COLUMN.updated_at.gte(since));
    }
    paginate(
        ctx,
        select,
        EnvironmentOrder::ordering(order_by),
        page,
        Environment,
    )
    .await
}

/// Systems, scoped to the viewer and `within`.
///
/// # Errors
/// Bad filter ids or paging arguments; database errors.
pub async fn list_systems(
    ctx: &Context<'_>,
    within: Within,
    filter: SystemFilter,
    order_by: Option<SystemOrder>,
    page: PageArgs,
) -> ApiResult<Page<System>> {
    let viewer = ctx.viewer()?;
    let mut select = system::Entity::find().filter(
        system::COLUMN
            .environment_id
            .in_subquery(visible_environments(viewer)),
    );
    if let Some(environment) = within.environment {
        select = select.filter(system::COLUMN.environment_id.eq(environment));
    }
    if let Some(environments) = decode_ids(
        "filter.environmentIds",
        NodeType::Environment,
        filter.environment_ids.as_ref(),
    )? {
        select = select.filter(system::COLUMN.environment_id.is_in(environments));
    }
    if let Some(kinds) = filter.kinds {
        let kinds: Vec<entities::enums::SystemKind> = kinds.into_iter().map(Into::into).collect();
        select = select.filter(system::COLUMN.kind.is_in(kinds));
    }
    if let Some(text) = filter_text(filter.text.as_deref())? {
        select = select.filter(
            Condition::any()
                .add(contains_text(Expr::col(system::Column::Name), text))
                .add(contains_text(Expr::col(system::Column::Hostname), text))
                .add(contains_text(Expr::col(system::Column::SerialNumber), text)),
        );
    }
    if !filter.include_retired {
        select = select.filter(system::COLUMN.retired_at.is_null());
    }
    if let Some(since) = filter.updated_since {
        select = select.filter(system::COLUMN.updated_at.gte(since));
    }
    paginate(ctx, select, SystemOrder::ordering(order_by), page, System).await
}

/// Runbooks, scoped to the viewer and `within`.
///
/// # Errors
/// Bad filter ids or paging arguments; database errors.
pub async fn list_runbooks(
    ctx: &Context<'_>,
    within: Within,
    filter: RunbookFilter,
    order_by: Option<RunbookOrder>,
    page: PageArgs,
) -> ApiResult<Page<Runbook>> {
    let viewer = ctx.viewer()?;
    let mut select = runbook::Entity::find().filter(
        runbook::COLUMN
            .environment_id
            .in_subquery(visible_environments(viewer)),
    );
    if let Some(environment) = within.environment {
        select = select.filter(runbook::COLUMN.environment_id.eq(environment));
    }
    if let Some(environments) = decode_ids(
        "filter.environmentIds",
        NodeType::Environment,
        filter.environment_ids.as_ref(),
    )? {
        select = select.filter(runbook::COLUMN.environment_id.is_in(environments));
    }
    if let Some(teams) = decode_ids(
        "filter.ownerTeamIds",
        NodeType::Team,
        filter.owner_team_ids.as_ref(),
    )? {
        select = select.filter(runbook::COLUMN.owner_team_id.is_in(teams));
    }
    if !filter.include_archived {
        select = select.filter(runbook::COLUMN.archived_at.is_null());
    }
    if let Some(since) = filter.updated_since {
        select = select.filter(runbook::COLUMN.updated_at.gte(since));
    }
    paginate(ctx, select, RunbookOrder::ordering(order_by), page, Runbook).await
}
