//! DataLoaders: every relation is read in one batched query per request, never one per row.
//!
//! [`Keyed`] says how to read an entity's id; [`ByIdLoader`] batches "find by id" for any keyed
//! entity. [`Loaders::attach`] puts a fresh set on each request, so a cache never outlives the
//! request that filled it.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, Request};
use entities::{environment, organization, person};
use sea_orm::DatabaseConnection;
use sea_orm::prelude::*;

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

keyed!(organization, environment, person);

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

/// The loaders of one request.
pub struct Loaders;

impl Loaders {
    /// Attaches a fresh set of loaders to `request`.
    pub fn attach(request: Request, db: &DatabaseConnection) -> Request {
        request
            .data(by_id::<organization::Entity>(db))
            .data(by_id::<environment::Entity>(db))
            .data(by_id::<person::Entity>(db))
    }
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
        tokio::spawn,
    )
}

/// Loads one `E` by id through the request's loader.
///
/// # Errors
/// When the request has no loader for `E` or the database fails.
pub async fn load_by_id<E: Keyed>(ctx: &Context<'_>, id: Uuid) -> ApiResult<Option<E::Model>>
where
    E::Model: Clone + Send + Sync + 'static,
{
    let loader = ctx.data_opt::<DataLoader<ByIdLoader<E>>>().ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!(
            "no loader for {}",
            E::default().table_name()
        ))
    })?;
    loader
        .load_one(id)
        .await
        .map_err(|error| ApiError::from(Arc::unwrap_or_clone(error)))
}
