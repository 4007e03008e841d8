//! DataLoaders: every relation is read in one batched query per request, never one per row.
//!
//! - [`ByIdLoader`] batches "find by id" for any [`Keyed`] entity (the to-one side).
//! - [`GroupLoader`] batches "all children of these parents" for any [`Grouping`] (the to-many
//!   side, and the first hop of a many-to-many through its junction table).
//!
//! [`Loaders::attach`] puts a fresh set on each request, so a cache never outlives the request
//! that filled it, and never serves one caller's rows to another.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, Request};
use entities::{
    alert, change_log_entry, change_log_entry_system, engagement, environment, escalation_step,
    function, integration, integration_mapping, organization, person, responsibility,
    responsibility_approval, responsibility_party, runbook, runbook_function, runbook_revision,
    runbook_system, sync_retry, sync_run, sync_run_error, system, system_link, team,
    team_membership, ticket, ticket_note,
};
use futures_util::future::BoxFuture;
use sea_orm::prelude::*;
use sea_orm::{DatabaseConnection, QueryOrder};

use crate::db::StatementCount;
use crate::error::{ApiError, ApiResult};

/// An entity with a UUID primary key named `id`.
pub trait Keyed: EntityTrait {
    /// The `id` column.
    fn id_column() -> Self::Column;
    /// The id of `model`.
    fn id_of(model: &Self::Model) -> Uuid;
}

macro_rules! keyed {
    ($($module:ident),+ $(,)?) => {
        $(impl Keyed for $module::Entity {
            fn id_column() -> Self::Column {
                $module::Column::Id
            }
            fn id_of(model: &Self::Model) -> Uuid {
                model.id
            }
        })+
    };
}

keyed!(
    organization,
    engagement,
    team,
    person,
    environment,
    system,
    function,
    responsibility,
    runbook,
    runbook_revision,
    change_log_entry,
    ticket,
    ticket_note,
    alert,
    integration,
    sync_run,
);

/// Batches lookups of `E` by id.
pub struct ByIdLoader<E> {
    db: DatabaseConnection,
    entity: PhantomData<fn() -> E>,
}

impl<E> Loader<Uuid> for ByIdLoader<E>
where
    E: Keyed,
    E::Model: Clone + Send + Sync + 'static,
{
    type Value = E::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let models = E::find()
            .filter(E::id_column().is_in(keys.iter().copied()))
            .all(&self.db)
            .await
            .map_err(Arc::new)?;
        Ok(models
            .into_iter()
            .map(|model| (E::id_of(&model), model))
            .collect())
    }
}

/// A to-many relation: the rows of an entity grouped by the parent id in one of its columns.
pub trait Grouping: Send + Sync + 'static {
    /// The child entity.
    type Entity: EntityTrait;
    /// The column holding the parent's id.
    fn parent_column() -> <Self::Entity as EntityTrait>::Column;
    /// The parent id of `model`; `None` when the column is null.
    fn parent_of(model: &<Self::Entity as EntityTrait>::Model) -> Option<Uuid>;
    /// The order of children within a parent.
    fn order() -> Vec<<Self::Entity as EntityTrait>::Column>;
}

macro_rules! grouping {
    ($($(#[$meta:meta])* $name:ident: $module:ident by $column:ident, $parent:ident order [$($order:ident),*];)+) => {
        $($(#[$meta])*
        pub struct $name;

        impl Grouping for $name {
            type Entity = $module::Entity;
            fn parent_column() -> $module::Column {
                $module::Column::$column
            }
            fn parent_of(model: &$module::Model) -> Option<Uuid> {
                // Required parents are `Uuid`, optional ones `Option<Uuid>`: both convert.
                model.$parent.into()
            }
            fn order() -> Vec<$module::Column> {
                vec![$($module::Column::$order),*]
            }
        })+
    };
}

grouping! {
    /// Revisions of a runbook, oldest first.
    RevisionsOfRunbook: runbook_revision by RunbookId, runbook_id order [Number];
    /// External links of a system.
    LinksOfSystem: system_link by SystemId, system_id order [Source, Resource];
    /// Notes of a ticket, oldest first.
    NotesOfTicket: ticket_note by TicketId, ticket_id order [CreatedAt, Id];
    /// Entries correcting an entry, oldest first.
    CorrectionsOfEntry: change_log_entry by CorrectsId, corrects_id order [RecordedAt, Id];
    /// Records that failed in a sync run.
    ErrorsOfSyncRun: sync_run_error by SyncRunId, sync_run_id order [OccurredAt, Id];
    /// Retry-list records a sync run wrote (taking them off the list).
    RetriesResolvedByRun: sync_retry by ResolvedByRunId, resolved_by_run_id order [Resource, ExternalId];
    /// Company mappings of an integration.
    MappingsOfIntegration: integration_mapping by IntegrationId, integration_id order [ExternalCompanyId];
    /// Junction rows: the systems an entry concerns.
    SystemLinksOfEntry: change_log_entry_system by ChangeLogEntryId, change_log_entry_id order [SystemId];
    /// Junction rows: the teams of a person.
    MembershipsOfPerson: team_membership by PersonId, person_id order [TeamId];
    /// Junction rows: the members of a team.
    MembershipsOfTeam: team_membership by TeamId, team_id order [PersonId];
    /// Junction rows: the functions a runbook covers.
    FunctionsOfRunbook: runbook_function by RunbookId, runbook_id order [FunctionId];
    /// The sign-offs (agreeing and retiring) of a responsibility, oldest first.
    ApprovalsOfResponsibility: responsibility_approval by ResponsibilityId, responsibility_id order [ApprovedAt];
    /// The escalation path of a responsibility, in order.
    StepsOfResponsibility: escalation_step by ResponsibilityId, responsibility_id order [Position];
    /// Consulted and informed teams of a responsibility.
    PartiesOfResponsibility: responsibility_party by ResponsibilityId, responsibility_id order [TeamId];
    /// Junction rows: the systems a runbook covers.
    SystemsOfRunbook: runbook_system by RunbookId, runbook_id order [SystemId];
}

/// Batches "children of these parents" for grouping `G`.
pub struct GroupLoader<G> {
    db: DatabaseConnection,
    grouping: PhantomData<fn() -> G>,
}

impl<G> Loader<Uuid> for GroupLoader<G>
where
    G: Grouping,
    <G::Entity as EntityTrait>::Model: Clone + Send + Sync + 'static,
{
    type Value = Vec<<G::Entity as EntityTrait>::Model>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let mut select = G::Entity::find().filter(G::parent_column().is_in(keys.iter().copied()));
        for column in G::order() {
            select = select.order_by_asc(column);
        }
        let models = select.all(&self.db).await.map_err(Arc::new)?;
        let mut groups: HashMap<Uuid, Self::Value> = HashMap::new();
        for model in models {
            if let Some(parent) = G::parent_of(&model) {
                groups.entry(parent).or_default().push(model);
            }
        }
        Ok(groups)
    }
}

/// Where per-request (or per-connection) data goes: a request, or a subscription's data.
pub trait DataSink: Sized {
    /// Adds `value` to the sink.
    #[must_use]
    fn data<T: std::any::Any + Send + Sync>(self, value: T) -> Self;
}

impl DataSink for Request {
    fn data<T: std::any::Any + Send + Sync>(self, value: T) -> Self {
        Request::data(self, value)
    }
}

impl DataSink for async_graphql::Data {
    fn data<T: std::any::Any + Send + Sync>(mut self, value: T) -> Self {
        self.insert(value);
        self
    }
}

/// The loaders of one request.
pub struct Loaders;

impl Loaders {
    /// Attaches a fresh set of loaders to `sink`. They batch but do not cache, so loaders that
    /// live as long as a subscription never serve stale rows.
    pub fn attach<S: DataSink>(sink: S, db: &DatabaseConnection) -> S {
        sink.data(by_id::<organization::Entity>(db))
            .data(by_id::<engagement::Entity>(db))
            .data(by_id::<team::Entity>(db))
            .data(by_id::<person::Entity>(db))
            .data(by_id::<environment::Entity>(db))
            .data(by_id::<system::Entity>(db))
            .data(by_id::<function::Entity>(db))
            .data(by_id::<responsibility::Entity>(db))
            .data(by_id::<runbook::Entity>(db))
            .data(by_id::<runbook_revision::Entity>(db))
            .data(by_id::<change_log_entry::Entity>(db))
            .data(by_id::<ticket::Entity>(db))
            .data(by_id::<ticket_note::Entity>(db))
            .data(by_id::<alert::Entity>(db))
            .data(by_id::<integration::Entity>(db))
            .data(by_id::<sync_run::Entity>(db))
            .data(group::<RevisionsOfRunbook>(db))
            .data(group::<LinksOfSystem>(db))
            .data(group::<NotesOfTicket>(db))
            .data(group::<CorrectionsOfEntry>(db))
            .data(group::<ErrorsOfSyncRun>(db))
            .data(group::<RetriesResolvedByRun>(db))
            .data(group::<MappingsOfIntegration>(db))
            .data(group::<SystemLinksOfEntry>(db))
            .data(group::<MembershipsOfPerson>(db))
            .data(group::<MembershipsOfTeam>(db))
            .data(group::<FunctionsOfRunbook>(db))
            .data(group::<SystemsOfRunbook>(db))
            .data(group::<PartiesOfResponsibility>(db))
            .data(group::<StepsOfResponsibility>(db))
            .data(group::<ApprovalsOfResponsibility>(db))
            .data(
                DataLoader::new(OwnersLoader { db: db.clone() }, spawn_batch).delay(Duration::ZERO),
            )
    }
}

/// How long a loader collects keys before it queries.
const BATCH_DELAY: Duration = Duration::from_millis(2);

/// How often a loader lets other tasks run before it queries, after [`BATCH_DELAY`].
///
/// The executor polls the resolvers of a page in slices of 32 and may run the loader in between.
/// A timer alone makes the batch depend on how fast those slices run (a loaded debug build splits
/// a page of 100 into two batches); yielding lets every slice that is ready enqueue its keys
/// first, so a page costs one query per relation whatever the machine's speed.
const BATCH_YIELDS: usize = 16;

/// Spawns a loader's batch: wait, let ready resolvers enqueue their keys, then query. The batch
/// counts its statements into the request's [`StatementCount`], as if it ran in its task.
fn spawn_batch(batch: BoxFuture<'static, ()>) {
    let statements = StatementCount::current();
    tokio::spawn(async move {
        let batch = async move {
            tokio::time::sleep(BATCH_DELAY).await;
            for _ in 0..BATCH_YIELDS {
                tokio::task::yield_now().await;
            }
            batch.await;
        };
        match statements {
            Some(statements) => statements.scope(batch).await,
            None => batch.await,
        }
    });
}

fn by_id<E: Keyed>(db: &DatabaseConnection) -> DataLoader<ByIdLoader<E>>
where
    E::Model: Clone + Send + Sync + 'static,
{
    DataLoader::new(
        ByIdLoader {
            db: db.clone(),
            entity: PhantomData,
        },
        spawn_batch,
    )
    // The wait happens in `spawn_batch`.
    .delay(Duration::ZERO)
}

fn group<G: Grouping>(db: &DatabaseConnection) -> DataLoader<GroupLoader<G>>
where
    <G::Entity as EntityTrait>::Model: Clone + Send + Sync + 'static,
{
    DataLoader::new(
        GroupLoader {
            db: db.clone(),
            grouping: PhantomData,
        },
        spawn_batch,
    )
    // The wait happens in `spawn_batch`.
    .delay(Duration::ZERO)
}

fn loader<'a, T: Send + Sync + 'static>(ctx: &'a Context<'_>) -> ApiResult<&'a T> {
    ctx.data_opt::<T>().ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!(
            "no {} in the request",
            std::any::type_name::<T>()
        ))
    })
}

/// Loads one `E` by id through the request's loader.
///
/// # Errors
/// When the request has no loader for `E` or the database fails.
pub async fn load_by_id<E: Keyed>(ctx: &Context<'_>, id: Uuid) -> ApiResult<Option<E::Model>>
where
    E::Model: Clone + Send + Sync + 'static,
{
    loader::<DataLoader<ByIdLoader<E>>>(ctx)?
        .load_one(id)
        .await
        .map_err(|error| ApiError::from(Arc::unwrap_or_clone(error)))
}

/// Loads an `E` that a foreign key guarantees to exist.
///
/// # Errors
/// [`ApiError::Internal`] when it does not (a broken invariant), or database errors.
pub async fn load_required<E: Keyed>(ctx: &Context<'_>, id: Uuid) -> ApiResult<E::Model>
where
    E::Model: Clone + Send + Sync + 'static,
{
    load_by_id::<E>(ctx, id).await?.ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!(
            "{} {id} is referenced but missing",
            E::default().table_name()
        ))
    })
}

/// Loads several `E` by id, in the order of `ids`, skipping missing ones.
///
/// # Errors
/// When the request has no loader for `E` or the database fails.
pub async fn load_many<E: Keyed>(ctx: &Context<'_>, ids: &[Uuid]) -> ApiResult<Vec<E::Model>>
where
    E::Model: Clone + Send + Sync + 'static,
{
    let mut found = loader::<DataLoader<ByIdLoader<E>>>(ctx)?
        .load_many(ids.iter().copied())
        .await
        .map_err(|error| ApiError::from(Arc::unwrap_or_clone(error)))?;
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

/// Loads the children of `parent` under grouping `G`.
///
/// # Errors
/// When the request has no loader for `G` or the database fails.
pub async fn load_group<G: Grouping>(
    ctx: &Context<'_>,
    parent: Uuid,
) -> ApiResult<Vec<<G::Entity as EntityTrait>::Model>>
where
    <G::Entity as EntityTrait>::Model: Clone + Send + Sync + 'static,
{
    Ok(loader::<DataLoader<GroupLoader<G>>>(ctx)?
        .load_one(parent)
        .await
        .map_err(|error| ApiError::from(Arc::unwrap_or_clone(error)))?
        .unwrap_or_default())
}

/// Which system, in which environment, at which instant: the key of [`OwnersLoader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OwnersKey {
    /// The system's environment.
    pub environment_id: Uuid,
    /// The system.
    pub system_id: Uuid,
    /// The instant the matrix is read at.
    pub at: chrono::DateTime<chrono::Utc>,
}

/// Batches "the agreed matrix entries in force for these systems": per function, the system's
/// own entry where there is one, else its environment's function-level default.
pub struct OwnersLoader {
    db: DatabaseConnection,
}

impl Loader<OwnersKey> for OwnersLoader {
    type Value = Vec<responsibility::Model>;
    type Error = Arc<DbErr>;

    async fn load(
        &self,
        keys: &[OwnersKey],
    ) -> Result<HashMap<OwnersKey, Self::Value>, Self::Error> {
        let mut result = HashMap::new();
        let instants: std::collections::HashSet<_> = keys.iter().map(|key| key.at).collect();
        for at in instants {
            let batch: Vec<&OwnersKey> = keys.iter().filter(|key| key.at == at).collect();
            let entries = crate::matrix::in_force(
                &self.db,
                batch.iter().map(|key| key.environment_id),
                at,
                Some(batch.iter().map(|key| key.system_id).collect()),
            )
            .await
            .map_err(Arc::new)?;
            for key in batch {
                let functions: std::collections::BTreeSet<Uuid> = entries
                    .iter()
                    .filter(|entry| entry.environment_id == key.environment_id)
                    .map(|entry| entry.function_id)
                    .collect();
                let owners = functions
                    .into_iter()
                    .filter_map(|function| {
                        crate::matrix::decide(
                            &entries,
                            key.environment_id,
                            function,
                            Some(key.system_id),
                        )
                        .map(|(entry, _)| entry.clone())
                    })
                    .collect();
                result.insert(*key, owners);
            }
        }
        Ok(result)
    }
}

/// The matrix entries that own `key`'s system at `key.at`.
///
/// # Errors
/// When the request has no owners loader or the database fails.
pub async fn load_owners(
    ctx: &Context<'_>,
    key: OwnersKey,
) -> ApiResult<Vec<responsibility::Model>> {
    Ok(loader::<DataLoader<OwnersLoader>>(ctx)?
        .load_one(key)
        .await
        .map_err(|error| ApiError::from(Arc::unwrap_or_clone(error)))?
        .unwrap_or_default())
}
