//! `ChangeLogEntry`: an immutable record of one change.

use async_graphql::{Context, ID, Object, Result, ResultExt};
use entities::{change_log_entry, environment, integration, system, ticket};
use sea_orm::prelude::DateTimeUtc;

use crate::graphql::context::ContextExt;
use crate::graphql::loaders::{
    CorrectionsOfEntry, SystemLinksOfEntry, load_by_id, load_group, load_many, load_required,
};
use crate::graphql::pagination::{Page, PageArgs, instant_key, page_cost, page_in_memory};
use crate::graphql::scalars::Json;
use crate::graphql::scope::can_see_integration;
use crate::graphql::types::enums::{ChangeCategory, ChangeSource, PrincipalKind};
use crate::graphql::types::{Environment, ExternalId, Integration, Person, System, Ticket};
use crate::ids::{self, NodeType};

/// One recorded change.
pub struct ChangeLogEntry(pub change_log_entry::Model);

/// An immutable record of one change: who changed what, when and why. Never edited or deleted;
/// a mistake is corrected by a new entry that points at it (`corrects`).
#[Object]
impl ChangeLogEntry {
    /// Global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::ChangeLogEntry, self.0.id)
    }

    /// The environment changed.
    async fn environment(&self, ctx: &Context<'_>) -> Result<Environment> {
        load_required::<environment::Entity>(ctx, self.0.environment_id)
            .await
            .map(Environment)
            .extend()
    }

    /// The systems changed, by creation (their id).
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
        // Batched: a page of entries reads its links, then their systems, in one statement each.
        let links = load_group::<SystemLinksOfEntry>(ctx, self.0.id)
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

    /// One line saying what changed.
    async fn summary(&self) -> &str {
        &self.0.summary
    }

    /// Structured details (before/after values, commands, links), a JSON object.
    async fn details(&self) -> Json {
        Json(self.0.details.clone())
    }

    /// Why the change was made.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }

    /// The person who made the change, when it was a person in Tandem the caller may see
    /// (`actorName` keeps the label recorded with the entry).
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<Person>> {
        Person::visible(ctx, self.0.actor_id).await
    }

    /// Who made the change, as a label (also for sync jobs and Tandem itself).
    async fn actor_name(&self) -> &str {
        &self.0.actor_name
    }

    /// Who wrote the entry: the authenticated principal (a person's token, or an integration
    /// and the token issued for it), kept apart from `actorName`, which a sync job may supply.
    async fn recorded_by(&self) -> Principal {
        Principal {
            kind: self.0.principal.into(),
            person_id: self.0.recorded_by_id,
            integration_id: self.0.integration_id,
        }
    }

    /// Where the entry came from.
    async fn source(&self) -> ChangeSource {
        self.0.source.into()
    }

    /// What kind of change it was.
    async fn category(&self) -> ChangeCategory {
        self.0.category.into()
    }

    /// When the change happened.
    async fn occurred_at(&self) -> DateTimeUtc {
        self.0.occurred_at
    }

    /// When Tandem recorded it.
    async fn recorded_at(&self) -> DateTimeUtc {
        self.0.recorded_at
    }

    /// The ticket the change was made under.
    async fn ticket(&self, ctx: &Context<'_>) -> Result<Option<Ticket>> {
        match self.0.ticket_id {
            Some(id) => load_by_id::<ticket::Entity>(ctx, id)
                .await
                .map(|found| found.map(Ticket))
                .extend(),
            None => Ok(None),
        }
    }

    /// The entry this one corrects.
    async fn corrects(&self, ctx: &Context<'_>) -> Result<Option<ChangeLogEntry>> {
        match self.0.corrects_id {
            Some(id) => load_by_id::<change_log_entry::Entity>(ctx, id)
                .await
                .map(|found| found.map(ChangeLogEntry))
                .extend(),
            None => Ok(None),
        }
    }

    /// Entries that correct this one, oldest first (by when they were recorded).
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn corrected_by(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (default 20, at most 100).")]
        first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (at most 100).")] last: Option<i32>,
    ) -> Result<Page<ChangeLogEntry>> {
        // Batched: a page of entries reads all their corrections in one statement.
        let corrections = load_group::<CorrectionsOfEntry>(ctx, self.0.id)
            .await
            .extend()?;
        let items = corrections
            .into_iter()
            .map(|entry| {
                (
                    (instant_key(entry.recorded_at), entry.id),
                    ChangeLogEntry(entry),
                )
            })
            .collect();
        page_in_memory(
            "recorded_at",
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

    /// Groups the entries written by one mutation or one sync page: an opaque global id like
    /// every other id, to pass as `ChangeLogFilter.changeSetId`.
    async fn change_set_id(&self) -> Option<ID> {
        self.0
            .change_set_id
            .map(|id| ids::encode(NodeType::ChangeSet, id))
    }

    /// The entry's record in an external system (PSA activity, RMM event), if it came from one.
    async fn external_ids(&self) -> Vec<ExternalId> {
        ExternalId::from_columns(
            self.0.id,
            &self.0.external_source,
            &self.0.external_id,
            &self.0.external_url,
        )
    }
}

/// The authenticated principal that wrote a record.
pub struct Principal {
    kind: PrincipalKind,
    person_id: Option<uuid::Uuid>,
    integration_id: Option<uuid::Uuid>,
}

/// Who or what wrote a record.
#[Object]
impl Principal {
    /// A person's token, an integration (its sync, or a token issued for it), or Tandem.
    async fn kind(&self) -> PrincipalKind {
        self.kind
    }

    /// The person whose token wrote it, when a person's token did and the caller may see them.
    async fn person(&self, ctx: &Context<'_>) -> Result<Option<Person>> {
        Person::visible(ctx, self.person_id).await
    }

    /// The integration that wrote it, when the caller may see it.
    async fn integration(&self, ctx: &Context<'_>) -> Result<Option<Integration>> {
        let Some(id) = self.integration_id else {
            return Ok(None);
        };
        let viewer = ctx.viewer().extend()?;
        let Some(found) = load_by_id::<integration::Entity>(ctx, id).await.extend()? else {
            return Ok(None);
        };
        Ok(can_see_integration(ctx, viewer, &found)
            .await
            .extend()?
            .then_some(Integration(found)))
    }
}
