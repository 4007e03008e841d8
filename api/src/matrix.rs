//! The responsibility matrix as a question: which entries are in force at an instant, and which
//! one decides who owns a function (on a system) in an environment.
//!
//! The rule, used everywhere the answer is needed (GraphQL, the export, routing later): only
//! `AGREED` entries count, an entry is in force during `[valid_from, valid_to)`, and an entry for
//! the system overrides the function-level default.

use chrono::{DateTime, Utc};
use entities::enums::ResponsibilityStatus;
use entities::responsibility;
use sea_orm::prelude::*;
use sea_orm::{Condition, ConnectionTrait, QueryFilter, QueryOrder};

/// Why an entry answers "who owns this".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// An entry for this very system.
    SystemEntry,
    /// The function-level default of the environment.
    FunctionDefault,
}

/// The agreed entries of `environment_ids` in force at `at`: function-level defaults, and
/// system-level entries (for `system_ids` only, when given).
///
/// # Errors
/// Database errors.
pub async fn in_force(
    db: &impl ConnectionTrait,
    environment_ids: impl IntoIterator<Item = Uuid>,
    at: DateTime<Utc>,
    system_ids: Option<Vec<Uuid>>,
) -> Result<Vec<responsibility::Model>, DbErr> {
    let mut systems = Condition::any().add(responsibility::COLUMN.system_id.is_null());
    systems = match system_ids {
        Some(ids) => systems.add(responsibility::COLUMN.system_id.is_in(ids)),
        None => systems.add(responsibility::COLUMN.system_id.is_not_null()),
    };
    responsibility::Entity::find()
        .filter(responsibility::COLUMN.environment_id.is_in(environment_ids))
        .filter(
            responsibility::COLUMN
                .status
                .eq(ResponsibilityStatus::Agreed),
        )
        .filter(responsibility::COLUMN.valid_from.lte(at))
        .filter(
            Condition::any()
                .add(responsibility::COLUMN.valid_to.is_null())
                .add(responsibility::COLUMN.valid_to.gt(at)),
        )
        .filter(systems)
        .order_by_asc(responsibility::Column::FunctionId)
        .order_by_asc(responsibility::Column::Id)
        .all(db)
        .await
}

/// The functions an organization's matrix covers: the standard catalog and its own, by key.
///
/// # Errors
/// Database errors.
pub async fn functions_for(
    db: &impl ConnectionTrait,
    organization_id: Uuid,
) -> Result<Vec<entities::function::Model>, DbErr> {
    use entities::function;
    function::Entity::find()
        .filter(
            Condition::any()
                .add(function::COLUMN.organization_id.is_null())
                .add(function::COLUMN.organization_id.eq(organization_id)),
        )
        .order_by_asc(function::Column::Key)
        .all(db)
        .await
}

/// The entry among `entries` that decides who owns `function_id` in `environment_id`, on
/// `system_id` when given, and why.
pub fn decide(
    entries: &[responsibility::Model],
    environment_id: Uuid,
    function_id: Uuid,
    system_id: Option<Uuid>,
) -> Option<(&responsibility::Model, Decision)> {
    let candidates = entries
        .iter()
        .filter(|entry| entry.environment_id == environment_id && entry.function_id == function_id);
    let mut default = None;
    for entry in candidates {
        match entry.system_id {
            Some(system) if Some(system) == system_id => {
                return Some((entry, Decision::SystemEntry));
            }
            None => default = default.or(Some(entry)),
            Some(_) => {}
        }
    }
    default.map(|entry| (entry, Decision::FunctionDefault))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn entry(function_id: Uuid, system_id: Option<Uuid>) -> responsibility::Model {
        responsibility::Model {
            id: Uuid::now_v7(),
            environment_id: Uuid::nil(),
            function_id,
            system_id,
            responsible_team_id: Uuid::now_v7(),
            accountable_team_id: None,
            valid_from: Utc::now(),
            valid_to: None,
            status: ResponsibilityStatus::Agreed,
            notes: None,
            supersedes_id: None,
            created_by_id: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn a_system_entry_overrides_the_function_default() {
        let (patching, server, other) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let entries = vec![entry(patching, None), entry(patching, Some(server))];
        let (chosen, decision) = decide(&entries, Uuid::nil(), patching, Some(server)).unwrap();
        assert_eq!(
            (chosen.id, decision),
            (entries[1].id, Decision::SystemEntry)
        );
        let (chosen, decision) = decide(&entries, Uuid::nil(), patching, Some(other)).unwrap();
        assert_eq!(
            (chosen.id, decision),
            (entries[0].id, Decision::FunctionDefault)
        );
        assert!(decide(&entries, Uuid::nil(), Uuid::now_v7(), None).is_none());
    }
}
