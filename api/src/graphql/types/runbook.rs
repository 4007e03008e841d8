//! `Runbook` and `RunbookRevision`: versioned procedures.

use async_graphql::{Context, ID, Object, Result, ResultExt};
use chrono::{Duration, Utc};
use entities::{environment, function, runbook, runbook_revision, system, team};
use sea_orm::prelude::DateTimeUtc;

use crate::graphql::loaders::{
    FunctionsOfRunbook, RevisionsOfRunbook, SystemsOfRunbook, load_group, load_many, load_required,
};
use crate::graphql::pagination::{Page, PageArgs, page_cost, page_in_memory};
use crate::graphql::types::{Environment, Function, Person, System, Team};
use crate::ids::{self, NodeType};

/// A versioned procedure.
pub struct Runbook(pub runbook::Model);

/// A Markdown procedure for an environment, with an owner team, immutable numbered revisions and
/// a review interval.
#[Object]
impl Runbook {
    /// Global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::Runbook, self.0.id)
    }

    /// Title.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// The environment the procedure is for.
    async fn environment(&self, ctx: &Context<'_>) -> Result<Environment> {
        load_required::<environment::Entity>(ctx, self.0.environment_id)
            .await
            .map(Environment)
            .extend()
    }

    /// The team that keeps the runbook current.
    async fn owner_team(&self, ctx: &Context<'_>) -> Result<Team> {
        load_required::<team::Entity>(ctx, self.0.owner_team_id)
            .await
            .map(Team)
            .extend()
    }

    /// Days between reviews.
    async fn review_interval_days(&self) -> i32 {
        self.0.review_interval_days
    }

    /// When the runbook was last reviewed.
    async fn last_reviewed_at(&self) -> Option<DateTimeUtc> {
        self.0.last_reviewed_at
    }

    /// Who last reviewed it; null when the caller may not see them.
    async fn last_reviewed_by(&self, ctx: &Context<'_>) -> Result<Option<Person>> {
        Person::visible(ctx, self.0.last_reviewed_by_id).await
    }

    /// When the next review is due: the last review (or creation) plus the interval.
    async fn review_due_at(&self) -> DateTimeUtc {
        review_due_at(&self.0)
    }

    /// Whether the review is past due.
    async fn review_overdue(&self) -> bool {
        self.0.archived_at.is_none() && review_due_at(&self.0) < Utc::now()
    }

    /// The newest revision.
    async fn current_revision(&self, ctx: &Context<'_>) -> Result<Option<RunbookRevision>> {
        let revisions = load_group::<RevisionsOfRunbook>(ctx, self.0.id)
            .await
            .extend()?;
        Ok(revisions.into_iter().last().map(RunbookRevision))
    }

    /// Every revision, oldest first; `last: 1` gives the newest.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn revisions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<RunbookRevision>> {
        // Batched: a page of runbooks reads all their revisions in one statement.
        let revisions = load_group::<RevisionsOfRunbook>(ctx, self.0.id)
            .await
            .extend()?;
        let items = revisions
            .into_iter()
            .map(|revision| {
                // Zero-padded so the text sorts as the number does.
                let key = format!("{:010}", revision.number);
                ((key, revision.id), RunbookRevision(revision))
            })
            .collect();
        page_in_memory(
            "number",
            items,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .extend()
    }

    /// The functions the runbook covers, by id.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn functions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<Function>> {
        let links = load_group::<FunctionsOfRunbook>(ctx, self.0.id)
            .await
            .extend()?;
        let ids: Vec<_> = links.iter().map(|link| link.function_id).collect();
        let items = load_many::<function::Entity>(ctx, &ids)
            .await
            .extend()?
            .into_iter()
            .map(|function| ((String::new(), function.id), Function(function)))
            .collect();
        page_in_memory(
            "id",
            items,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .extend()
    }

    /// The systems the runbook covers, by creation (their id).
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn systems(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<System>> {
        let links = load_group::<SystemsOfRunbook>(ctx, self.0.id)
            .await
            .extend()?;
        let ids: Vec<_> = links.iter().map(|link| link.system_id).collect();
        let items = load_many::<system::Entity>(ctx, &ids)
            .await
            .extend()?
            .into_iter()
            .map(|system| ((String::new(), system.id), System(system)))
            .collect();
        page_in_memory(
            "id",
            items,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
        .extend()
    }

    /// When the runbook was archived; archived runbooks keep their revisions.
    async fn archived_at(&self) -> Option<DateTimeUtc> {
        self.0.archived_at
    }

    /// When the runbook was created.
    async fn created_at(&self) -> DateTimeUtc {
        self.0.created_at
    }

    /// When the runbook was last changed.
    async fn updated_at(&self) -> DateTimeUtc {
        self.0.updated_at
    }
}

fn review_due_at(runbook: &runbook::Model) -> DateTimeUtc {
    runbook.last_reviewed_at.unwrap_or(runbook.created_at)
        + Duration::days(i64::from(runbook.review_interval_days))
}

/// One revision of a runbook.
pub struct RunbookRevision(pub runbook_revision::Model);

/// An immutable numbered revision of a runbook.
#[Object]
impl RunbookRevision {
    /// Global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::RunbookRevision, self.0.id)
    }

    /// 1, 2, 3, ... per runbook.
    async fn number(&self) -> i32 {
        self.0.number
    }

    /// The procedure, in Markdown.
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// What changed from the previous revision.
    async fn change_summary(&self) -> Option<&str> {
        self.0.change_summary.as_deref()
    }

    /// Who wrote the revision; null when the caller may not see them.
    async fn author(&self, ctx: &Context<'_>) -> Result<Option<Person>> {
        Person::visible(ctx, self.0.author_id).await
    }

    /// The runbook.
    async fn runbook(&self, ctx: &Context<'_>) -> Result<Runbook> {
        load_required::<runbook::Entity>(ctx, self.0.runbook_id)
            .await
            .map(Runbook)
            .extend()
    }

    /// When the revision was written.
    async fn created_at(&self) -> DateTimeUtc {
        self.0.created_at
    }
}
