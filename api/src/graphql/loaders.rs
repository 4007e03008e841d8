//! DataLoaders: every relation is read in one batched query per request, never one per row.
//!
//! - [`ByIdLoader`] batches "find by id" for any [`Keyed`] entity (the to-one side).
//! - [`GroupLoader`] batches "all children of these parents" for any [`Grouping`] (the to-many
//!   side, and the first hop of a many-to-many through its junction table).
//!
//! [`Loaders::attach`] puts a fresh set on each request, so a cache never outlives the request
//! that filled it, and never serves one caller's rows to another. A request's batches run in its
//! own task ([`BatchQueue::drive`]) as soon as every resolver that can run has enqueued its keys;
//! a subscription's run in tasks of their own after a short wait ([`Batches`]).

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, Request};
use entities::{
    alert, change_log_entry, change_log_entry_system, compliance_obligation, engagement,
    environment, escalation, escalation_step, evidence_record, function, integration,
    integration_mapping, organization, outbox_event, person, psa_team_mapping, psa_write,
    responsibility, responsibility_approval, responsibility_history, responsibility_party, runbook,
    runbook_function, runbook_revision, runbook_system, sla_target, sync_retry, sync_run,
    sync_run_error, system, system_link, team, team_membership, ticket, ticket_note,
    webhook_delivery, webhook_endpoint,
};
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::task::AtomicWaker;
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
    compliance_obligation,
    evidence_record,
    system_link,
    webhook_endpoint,
    webhook_delivery,
    outbox_event,
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
    /// Team mappings (two-way sync) of an integration.
    TeamMappingsOfIntegration: psa_team_mapping by IntegrationId, integration_id order [TeamId];
    /// Write-back jobs of a ticket, oldest first.
    WritesOfTicket: psa_write by TicketId, ticket_id order [Id];
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
    /// The history of a responsibility, oldest first.
    HistoryOfResponsibility: responsibility_history by ResponsibilityId, responsibility_id order [RecordedAt, Id];
    /// The escalation path of a responsibility, in order.
    StepsOfResponsibility: escalation_step by ResponsibilityId, responsibility_id order [Position];
    /// Consulted and informed teams of a responsibility.
    PartiesOfResponsibility: responsibility_party by ResponsibilityId, responsibility_id order [TeamId];
    /// The SLA targets of a responsibility.
    SlaTargetsOfResponsibility: sla_target by ResponsibilityId, responsibility_id order [Priority];
    /// The escalations of a ticket, in step order (at most one per step, and a path has at most
    /// 50 steps).
    EscalationsOfTicket: escalation by TicketId, ticket_id order [Position];
    /// The escalations of an alert, in step order.
    EscalationsOfAlert: escalation by AlertId, alert_id order [Position];
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

/// The loaders of one request (or one subscription): made on first use, so a request that
/// loads nothing (say `{ __typename }`) builds none. They batch but do not cache, so loaders
/// that live as long as a subscription never serve stale rows.
pub struct Loaders {
    db: DatabaseConnection,
    batches: Batches,
    made: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl Loaders {
    /// Attaches a fresh set of loaders on `db` to `sink`, running their batches as `batches`
    /// says.
    pub fn attach<S: DataSink>(sink: S, db: &DatabaseConnection, batches: Batches) -> S {
        sink.data(Self {
            db: db.clone(),
            batches,
            made: Mutex::default(),
        })
    }

    /// The loader of type `T`, made by `make` the first time it is asked for.
    fn get<T: Any + Send + Sync>(&self, make: impl FnOnce(&Self) -> T) -> Arc<T> {
        let mut made = self.made.lock().unwrap_or_else(PoisonError::into_inner);
        let loader = Arc::clone(
            made.entry(TypeId::of::<T>())
                .or_insert_with(|| Arc::new(make(self)) as Arc<dyn Any + Send + Sync>),
        );
        drop(made);
        loader
            .downcast::<T>()
            .unwrap_or_else(|_| unreachable!("loaders are keyed by their own type"))
    }

    fn by_id<E: Keyed>(&self) -> Arc<DataLoader<ByIdLoader<E>>>
    where
        E::Model: Clone + Send + Sync + 'static,
    {
        self.get(|loaders| {
            loaders.loader(ByIdLoader {
                db: loaders.db.clone(),
                entity: PhantomData,
            })
        })
    }

    fn group<G: Grouping>(&self) -> Arc<DataLoader<GroupLoader<G>>>
    where
        <G::Entity as EntityTrait>::Model: Clone + Send + Sync + 'static,
    {
        self.get(|loaders| {
            loaders.loader(GroupLoader {
                db: loaders.db.clone(),
                grouping: PhantomData,
            })
        })
    }

    fn owners(&self) -> Arc<DataLoader<OwnersLoader>> {
        self.get(|loaders| {
            loaders.loader(OwnersLoader {
                db: loaders.db.clone(),
            })
        })
    }

    fn loader<L: Send + Sync + 'static>(&self, loader: L) -> DataLoader<L> {
        let batches = self.batches.clone();
        // The wait, if any, is the batches' own (see `Batches`).
        DataLoader::new(loader, move |batch| batches.run(batch)).delay(Duration::ZERO)
    }
}

/// How a request's loaders run their batches.
#[derive(Clone)]
pub enum Batches {
    /// In the request's own task, once every resolver that can run has enqueued its keys: see
    /// [`BatchQueue::drive`]. No timer, no other task, one query per relation and level.
    Local(BatchQueue),
    /// Each in a task of its own after a short wait ([`BATCH_DELAY`], then [`BATCH_YIELDS`]
    /// yields): for subscriptions, whose execution the server does not drive itself.
    Spawned,
}

impl Batches {
    fn run(&self, batch: BoxFuture<'static, ()>) {
        match self {
            Self::Local(queue) => queue.push(batch),
            Self::Spawned => spawn_batch(batch),
        }
    }
}

/// The batches of one request, run by the request's own task ([`BatchQueue::drive`]).
#[derive(Clone, Default)]
pub struct BatchQueue(Arc<QueueInner>);

#[derive(Default)]
struct QueueInner {
    /// Batches enqueued and not yet started.
    waiting: Mutex<Vec<BoxFuture<'static, ()>>>,
    /// The task driving the request, woken when a batch is enqueued.
    driver: AtomicWaker,
}

impl BatchQueue {
    fn push(&self, batch: BoxFuture<'static, ()>) {
        self.0
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(batch);
        self.0.driver.wake();
    }

    /// Runs `work` (the execution of a request whose loaders use this queue) and its batches
    /// together, in the calling task.
    ///
    /// A batch starts only after a poll of `work` that ended without waking itself: every
    /// resolver that could run has run up to its load and enqueued its keys. A poll that woke
    /// itself is a cooperative yield (the executor polls a long list in slices of 32), after
    /// which more keys are on their way; a timer would guess how long that takes, this knows.
    pub async fn drive<F: Future>(&self, work: F) -> F::Output {
        let mut work = std::pin::pin!(work);
        let mut running = FuturesUnordered::new();
        std::future::poll_fn(|cx| {
            self.0.driver.register(cx.waker());
            let woken = Arc::new(WokenFlag {
                woken: AtomicBool::new(false),
                task: cx.waker().clone(),
            });
            let waker = Waker::from(Arc::clone(&woken));
            if let Poll::Ready(output) = work.as_mut().poll(&mut TaskContext::from_waker(&waker)) {
                return Poll::Ready(output);
            }
            if !woken.woken.load(AtomicOrdering::SeqCst) {
                running.extend(
                    self.0
                        .waiting
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .drain(..),
                );
            }
            while let Poll::Ready(Some(())) = running.poll_next_unpin(cx) {}
            Poll::Pending
        })
        .await
    }
}

/// A waker that notes it was woken, then wakes the task.
struct WokenFlag {
    woken: AtomicBool,
    task: Waker,
}

impl Wake for WokenFlag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, AtomicOrdering::SeqCst);
        self.task.wake_by_ref();
    }
}

/// How long a spawned batch collects keys before it queries.
const BATCH_DELAY: Duration = Duration::from_millis(2);

/// How often a spawned batch lets other tasks run before it queries, after [`BATCH_DELAY`].
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

fn loaders<'a>(ctx: &'a Context<'_>) -> ApiResult<&'a Loaders> {
    ctx.data_opt::<Loaders>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no loaders in the request")))
}

/// Loads one `E` by id through the request's loader.
///
/// # Errors
/// When the request has no loader for `E` or the database fails.
pub async fn load_by_id<E: Keyed>(ctx: &Context<'_>, id: Uuid) -> ApiResult<Option<E::Model>>
where
    E::Model: Clone + Send + Sync + 'static,
{
    loaders(ctx)?
        .by_id::<E>()
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
    let mut found = loaders(ctx)?
        .by_id::<E>()
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
    Ok(loaders(ctx)?
        .group::<G>()
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
    /// The instant the record is read as it stood; `None` for the current record.
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,
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
        let clocks: std::collections::HashSet<_> =
            keys.iter().map(|key| (key.at, key.as_of)).collect();
        for (at, as_of) in clocks {
            let batch: Vec<&OwnersKey> = keys
                .iter()
                .filter(|key| (key.at, key.as_of) == (at, as_of))
                .collect();
            let entries = crate::matrix::in_force_as_of(
                &self.db,
                batch.iter().map(|key| key.environment_id),
                crate::matrix::Clock { at, as_of },
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
    Ok(loaders(ctx)?
        .owners()
        .load_one(key)
        .await
        .map_err(|error| ApiError::from(Arc::unwrap_or_clone(error)))?
        .unwrap_or_default())
}
