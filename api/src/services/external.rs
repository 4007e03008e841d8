//! Records that mirror an external system (systems, tickets, alerts, observed changes): how they
//! are keyed, who may say a vendor observed them, and how concurrent writers of one keyspace
//! take turns.
//!
//! An external key is `(organization, source, external id)`: the organization is the tenant that
//! owns the record's environment, so two tenants sending the same vendor id never meet, and a
//! lookup never returns another tenant's record. The sync engine's sources are
//! `<KIND>:<integration id>`; that form is reserved for it, so a bulk call cannot write into an
//! integration's keyspace. Writers of one keyspace take turns ([`lock_keyspaces`]): the lookup
//! that decides between insert and update happens after the lock, inside the transaction, so a
//! resend racing the original converges on the same rows instead of failing on the unique index.

use std::collections::{BTreeSet, HashMap, HashSet};

use entities::enums::{ChangeSource, IntegrationKind};
use entities::{system, system_link};
use sea_orm::prelude::*;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, QueryFilter, Statement};

use crate::auth::Viewer;
use crate::services::{Check, UserErrorCode};

/// Who observed what a bulk call records. A PSA or an RMM only when the actor's token was
/// issued for an integration of that kind and the source names it; otherwise the API, whatever
/// the source says: a person's script cannot make its writes read as a vendor's.
pub fn observed_by(actor: &Viewer, source: &str) -> ChangeSource {
    let Some(integration) = &actor.integration else {
        return ChangeSource::Api;
    };
    let kind = source
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    match <IntegrationKind as sea_orm::ActiveEnum>::try_from_value(&kind) {
        Ok(kind) if kind == integration.kind => change_source(kind),
        _ => ChangeSource::Api,
    }
}

/// Whether an integration of `kind` is a PSA or an RMM, for the change log's `source`.
#[must_use]
pub fn change_source(kind: IntegrationKind) -> ChangeSource {
    match kind {
        IntegrationKind::ConnectwiseManage
        | IntegrationKind::Autotask
        | IntegrationKind::Halopsa => ChangeSource::Psa,
        IntegrationKind::Ninjaone | IntegrationKind::DattoRmm => ChangeSource::Rmm,
    }
}

/// The source of a bulk call: 1 to 100 letters, digits, `_`, `-`, `.` or `:`, and not the sync
/// engine's reserved `<KIND>:<uuid>` form.
pub fn check_source(check: &mut Check, source: &str) -> Option<String> {
    let source = source.trim();
    let valid = !source.is_empty()
        && source.len() <= 100
        && source
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'));
    if !valid {
        check.fail(
            "source",
            UserErrorCode::Invalid,
            "`source` is 1 to 100 letters, digits, `_`, `-`, `.` or `:`",
        );
        return None;
    }
    if let Some((kind, id)) = source.split_once(':')
        && <IntegrationKind as sea_orm::ActiveEnum>::try_from_value(&kind.to_ascii_uppercase())
            .is_ok()
        && Uuid::parse_str(id).is_ok()
    {
        check.fail(
            "source",
            UserErrorCode::Invalid,
            "`<KIND>:<integration id>` sources are the sync engine's own",
        );
        return None;
    }
    Some(source.to_owned())
}

/// Makes writers of the keyspaces `(organization, source)` take turns until the transaction
/// ends. PostgreSQL: transaction-scoped advisory locks, taken in a fixed order so two writers
/// never deadlock. SQLite: its writers already take turns (`BEGIN IMMEDIATE`).
///
/// # Errors
/// Database errors.
pub async fn lock_keyspaces(
    txn: &DatabaseTransaction,
    source: &str,
    organizations: impl IntoIterator<Item = Uuid>,
) -> Result<(), DbErr> {
    if txn.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let keys: BTreeSet<String> = organizations
        .into_iter()
        .map(|organization| format!("external:{organization}:{source}"))
        .collect();
    for key in keys {
        txn.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            [key.into()],
        ))
        .await?;
    }
    Ok(())
}

/// A table whose rows mirror an external record, keyed `(organization, source, external id)`.
pub trait ExternalRecord: EntityTrait {
    /// The key columns: organization, source, external id.
    const KEY: [Self::Column; 3];

    /// A row's `(organization, external id)`; `None` for a row created in Tandem.
    fn key(row: &Self::Model) -> Option<(Uuid, String)>;
}

macro_rules! external_record {
    ($($module:ident),+) => {$(
        impl ExternalRecord for entities::$module::Entity {
            const KEY: [Self::Column; 3] = [
                entities::$module::Column::OrganizationId,
                entities::$module::Column::ExternalSource,
                entities::$module::Column::ExternalId,
            ];

            fn key(row: &Self::Model) -> Option<(Uuid, String)> {
                Some((row.organization_id?, row.external_id.clone()?))
            }
        }
    )+};
}

external_record!(ticket, alert, change_log_entry);

/// The rows of `E` mirroring `keys` of `source`, by key: one `IN` query, then exact matching, so
/// a record of another tenant is never returned.
///
/// # Errors
/// Database errors.
pub async fn existing_by_key<E: ExternalRecord>(
    db: &impl ConnectionTrait,
    source: &str,
    keys: Vec<(Uuid, String)>,
) -> Result<HashMap<(Uuid, String), E::Model>, DbErr> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let [organization_column, source_column, id_column] = E::KEY;
    let organizations: BTreeSet<Uuid> =
        keys.iter().map(|(organization, _)| *organization).collect();
    let wanted: HashSet<(Uuid, String)> = keys.into_iter().collect();
    Ok(E::find()
        .filter(source_column.eq(source))
        .filter(organization_column.is_in(organizations))
        .filter(id_column.is_in(wanted.iter().map(|(_, id)| id.clone())))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|row| {
            E::key(&row)
                .filter(|key| wanted.contains(key))
                .map(|key| (key, row))
        })
        .collect())
}

/// Systems of `source` in their tenants' keyspaces by `(organization, external id)`, any
/// resource, for records that point at them.
///
/// # Errors
/// Database errors.
pub async fn systems_by_external_id(
    db: &impl ConnectionTrait,
    source: &str,
    keys: Vec<(Uuid, String)>,
) -> Result<HashMap<(Uuid, String), system::Model>, DbErr> {
    let links = existing_links(db, source, keys).await?;
    let systems: HashMap<Uuid, system::Model> = system::Entity::find()
        .filter(
            system::COLUMN
                .id
                .is_in(links.iter().map(|link| link.system_id)),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|found| (found.id, found))
        .collect();
    Ok(links
        .into_iter()
        .filter_map(|link| {
            let organization = link.organization_id?;
            systems
                .get(&link.system_id)
                .map(|found| ((organization, link.external_id), found.clone()))
        })
        .collect())
}

/// The links of `source` (any resource) with `keys`, in their tenants only.
///
/// # Errors
/// Database errors.
pub async fn existing_links(
    db: &impl ConnectionTrait,
    source: &str,
    keys: Vec<(Uuid, String)>,
) -> Result<Vec<system_link::Model>, DbErr> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let organizations: BTreeSet<Uuid> =
        keys.iter().map(|(organization, _)| *organization).collect();
    let wanted: HashSet<(Uuid, String)> = keys.into_iter().collect();
    Ok(system_link::Entity::find()
        .filter(system_link::COLUMN.source.eq(source))
        .filter(system_link::COLUMN.organization_id.is_in(organizations))
        .filter(
            system_link::COLUMN
                .external_id
                .is_in(wanted.iter().map(|(_, id)| id.clone())),
        )
        .all(db)
        .await?
        .into_iter()
        .filter(|link| {
            link.organization_id.is_some_and(|organization| {
                wanted.contains(&(organization, link.external_id.clone()))
            })
        })
        .collect())
}
