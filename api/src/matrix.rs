//! The responsibility matrix as a question: which entries are in force at an instant, and which
//! one decides who owns a function (on a system) in an environment.
//!
//! The rule, used everywhere the answer is needed (GraphQL, the export, routing of new tickets
//! and alerts): only entries that were agreed count ([`IN_FORCE`]), an entry is in force during
//! `[valid_from, valid_to)`, and an entry for the system overrides the function-level default.

use chrono::{DateTime, Utc};
use entities::enums::ResponsibilityStatus;
use entities::responsibility;
use sea_orm::prelude::*;
use sea_orm::{Condition, ConnectionTrait, QueryFilter, QueryOrder};

/// Statuses whose entries owned something during their validity: an agreed entry, and a retired
/// one before it was retired (retiring sets its `valid_to` to that instant, so every read at an
/// earlier instant answers as before).
pub const IN_FORCE: [ResponsibilityStatus; 2] =
    [ResponsibilityStatus::Agreed, ResponsibilityStatus::Retired];

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
        // A retired entry answers for the instants before its retirement (its `valid_to`).
        .filter(responsibility::COLUMN.status.is_in(IN_FORCE))
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

/// The kinds of systems `function` applies to system by system; empty for a function of the
/// environment as a whole. A stored value that is not a list of kinds reads as empty.
pub fn applies_to(function: &entities::function::Model) -> Vec<entities::enums::SystemKind> {
    serde_json::from_value(function.applies_to.clone()).unwrap_or_default()
}

/// The entry among `entries` that decides who owns `function_id` in `environment_id`, on
/// `system_id` when given, and why.
pub fn decide<'a>(
    entries: impl IntoIterator<Item = &'a responsibility::Model>,
    environment_id: Uuid,
    function_id: Uuid,
    system_id: Option<Uuid>,
) -> Option<(&'a responsibility::Model, Decision)> {
    let candidates = entries
        .into_iter()
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

/// The function a ticket falls under when nobody said: the first line of support.
pub const DEFAULT_TICKET_FUNCTION: &str = "service_desk";
/// The function an RMM alert falls under when nobody said: watching the endpoints.
pub const DEFAULT_ALERT_FUNCTION: &str = "endpoint_management";

/// Where routing sent a new ticket or alert: the responsible team of the entry that decided, or
/// nobody (with the reason, so an unrouted item explains itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The entry that decided; `None` when no agreed entry was in force.
    pub responsibility_id: Option<Uuid>,
    /// Its responsible team.
    pub team_id: Option<Uuid>,
    /// Why, in words.
    pub reason: String,
}

/// Routes new tickets and alerts of some environments by their matrices. Loads every agreed
/// entry of those environments once, so a bulk upsert of a thousand records routes each at its
/// own creation time without a query per record.
pub struct Router {
    entries: Vec<responsibility::Model>,
    functions: Vec<entities::function::Model>,
}

impl Router {
    /// Loads the agreed entries of `environment_ids` (all validity periods) and the function
    /// catalog of their organizations.
    ///
    /// # Errors
    /// Database errors.
    pub async fn load(
        db: &impl ConnectionTrait,
        environment_ids: impl IntoIterator<Item = Uuid>,
    ) -> Result<Self, DbErr> {
        use entities::{environment, function};
        let environment_ids: Vec<Uuid> = environment_ids.into_iter().collect();
        let organizations: Vec<Uuid> = environment::Entity::find()
            .filter(environment::COLUMN.id.is_in(environment_ids.clone()))
            .all(db)
            .await?
            .into_iter()
            .map(|found| found.organization_id)
            .collect();
        let entries = responsibility::Entity::find()
            .filter(responsibility::COLUMN.environment_id.is_in(environment_ids))
            .filter(responsibility::COLUMN.status.is_in(IN_FORCE))
            .order_by_asc(responsibility::Column::Id)
            .all(db)
            .await?;
        let functions = function::Entity::find()
            .filter(
                Condition::any()
                    .add(function::COLUMN.organization_id.is_null())
                    .add(function::COLUMN.organization_id.is_in(organizations)),
            )
            .all(db)
            .await?;
        Ok(Self { entries, functions })
    }

    /// The id of the function `key` as `organization_id` sees it (its own catalog first).
    #[must_use]
    pub fn function_id(&self, organization_id: Uuid, key: &str) -> Option<Uuid> {
        self.functions
            .iter()
            .filter(|found| found.key == key)
            .filter(|found| {
                found
                    .organization_id
                    .is_none_or(|owner| owner == organization_id)
            })
            .max_by_key(|found| found.organization_id.is_some())
            .map(|found| found.id)
    }

    /// Where an item of `environment_id` about `function_id` (on `system_id`) created at `at`
    /// goes: the responsible team of the entry [`decide`] picks among those in force then.
    #[must_use]
    pub fn route(
        &self,
        environment_id: Uuid,
        function_id: Uuid,
        system_id: Option<Uuid>,
        at: DateTime<Utc>,
    ) -> Route {
        let function = self
            .functions
            .iter()
            .find(|found| found.id == function_id)
            .map_or("the function", |found| found.name.as_str());
        let in_force = self
            .entries
            .iter()
            .filter(|entry| entry.valid_from <= at && entry.valid_to.is_none_or(|to| to > at));
        let decided = decide(in_force, environment_id, function_id, system_id);
        let at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        match decided {
            Some((entry, decision)) => Route {
                responsibility_id: Some(entry.id),
                team_id: Some(entry.responsible_team_id),
                reason: match decision {
                    Decision::SystemEntry => format!(
                        "{function}: the agreed entry for this system, in force at {at}, names the responsible team"
                    ),
                    Decision::FunctionDefault => format!(
                        "{function}: the agreed default of the environment, in force at {at}, names the responsible team"
                    ),
                },
            },
            None => Route {
                responsibility_id: None,
                team_id: None,
                reason: format!(
                    "{function}: no agreed entry was in force at {at}, so nobody was assigned"
                ),
            },
        }
    }
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

    fn function(key: &str, organization_id: Option<Uuid>) -> entities::function::Model {
        entities::function::Model {
            id: Uuid::now_v7(),
            organization_id,
            key: key.to_owned(),
            name: key.to_owned(),
            description: String::new(),
            csf_function: entities::enums::CsfFunction::Pr,
            csf_category: "PR.PS".to_owned(),
            required_by: serde_json::json!([]),
            applies_to: serde_json::json!([]),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn routing_reads_the_matrix_at_the_creation_time() {
        let patching = function("patching", None);
        let mut early = entry(patching.id, None);
        early.valid_from = "2026-01-01T00:00:00Z".parse().unwrap();
        early.valid_to = Some("2026-07-01T00:00:00Z".parse().unwrap());
        let mut late = entry(patching.id, None);
        late.valid_from = "2026-07-01T00:00:00Z".parse().unwrap();
        let router = Router {
            entries: vec![early.clone(), late.clone()],
            functions: vec![patching.clone()],
        };
        let at =
            |instant: &str| router.route(Uuid::nil(), patching.id, None, instant.parse().unwrap());
        assert_eq!(
            at("2026-06-30T23:59:59Z").team_id,
            Some(early.responsible_team_id)
        );
        assert_eq!(at("2026-07-01T00:00:00Z").responsibility_id, Some(late.id));
        let before = at("2025-12-31T00:00:00Z");
        assert_eq!((before.responsibility_id, before.team_id), (None, None));
        assert_eq!(
            before.reason,
            "patching: no agreed entry was in force at 2025-12-31T00:00:00Z, so nobody was assigned"
        );
    }

    #[test]
    fn an_organization_function_shadows_the_standard_one_of_the_same_key() {
        let organization = Uuid::now_v7();
        let standard = function("patching", None);
        let own = function("patching", Some(organization));
        let other = function("patching", Some(Uuid::now_v7()));
        let router = Router {
            entries: Vec::new(),
            functions: vec![standard.clone(), own.clone(), other],
        };
        assert_eq!(router.function_id(organization, "patching"), Some(own.id));
        assert_eq!(
            router.function_id(Uuid::now_v7(), "patching"),
            Some(standard.id)
        );
        assert_eq!(router.function_id(organization, "knitting"), None);
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
