//! Compliance obligations of an environment at an instant: for each obligation of its
//! frameworks, the period that needs evidence, when it is due, where it stands, who owns it (the
//! matrix in force), the evidence recorded for it, and evidence derived from operational data.
//!
//! A report reads a fixed number of queries (obligations, functions, the matrix in force, its
//! teams and their organizations, evidence records, sign-offs, file metadata, and the change log
//! and alerts of the derivation window) and decides in memory.
//!
//! **The period rule.** Periods follow the obligation's cadence (1, 3, 6 or 12 months). Evidence
//! *counts* when it was recorded by the instant asked about, is not superseded by a record also
//! recorded by then, and did not fail (`FAILED` leaves the obligation open). The obligation is
//! covered until the latest end of a counting period (`coveredUntil`). The next period starts at
//! the later of the environment's creation and `coveredUntil`, lasts one cadence, and its evidence
//! is due at its end plus the obligation's grace days. Status at instant `at`:
//! - `UP_TO_DATE`: covered beyond `at`, and the record that covers longest is signed by `at`;
//! - `UNSIGNED`: covered beyond `at`, but that record has no sign-off yet;
//! - `OVERDUE`: not covered at `at`, and `at` is past the due date;
//! - `DUE`: not covered at `at`, and not due yet.
//!
//! **Derived evidence** is counted over the cadence's length up to `at`, never counts as
//! covering and is never signed: patch reports count `PATCH` changes an RMM recorded; backup
//! restore tests count `BACKUP` changes and resolved alerts on backup sets; access reviews count
//! `ACCESS` changes; audit-log reviews count `SECURITY` changes and acknowledged alerts.

use std::collections::{HashMap, HashSet};

use async_graphql::Enum;
use chrono::{DateTime, Duration, Months, Utc};
use entities::enums::{
    ChangeCategory, ChangeSource, ComplianceFramework, EvidenceKind, EvidenceResult,
    ObligationCadence, OrganizationKind, SystemKind,
};
use entities::{
    alert, change_log_entry, compliance_obligation, environment, evidence_file, evidence_record,
    evidence_signoff, function, organization, responsibility, system, team,
};
use sea_orm::prelude::*;
use sea_orm::{ConnectionTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait};

use crate::matrix;

/// Records shown per obligation, newest period first.
pub const EVIDENCE_SHOWN: usize = 12;

/// Where an obligation stands at an instant (see the module docs for the rule).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObligationStatus {
    /// Evidence covers the instant and is signed by the accountable side.
    UpToDate,
    /// Evidence covers the instant but nobody accountable has signed it yet.
    Unsigned,
    /// The current period has no evidence yet, and it is not due yet.
    Due,
    /// The current period has no evidence and its due date has passed.
    Overdue,
}

/// How many months one period of `cadence` lasts.
pub fn cadence_months(cadence: ObligationCadence) -> u32 {
    match cadence {
        ObligationCadence::Monthly => 1,
        ObligationCadence::Quarterly => 3,
        ObligationCadence::SemiAnnual => 6,
        ObligationCadence::Yearly => 12,
    }
}

/// `at` plus `months` months (the end of a period), or the latest instant chrono keeps.
pub fn add_months(at: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    at.checked_add_months(Months::new(months))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Who owns an obligation: the entry in force for its function, its responsible team (and that
/// team's side) and its accountable team.
#[derive(Debug, Clone)]
pub struct Owner {
    /// The matrix entry in force that decides.
    pub responsibility: responsibility::Model,
    /// The team that produces the evidence.
    pub responsible_team: team::Model,
    /// Whether the responsible team is the client's or a provider's.
    pub responsible_side: OrganizationKind,
    /// The team that answers for it and signs the evidence off.
    pub accountable_team: Option<team::Model>,
    /// Whether the accountable team is the client's or a provider's.
    pub accountable_side: Option<OrganizationKind>,
}

impl Owner {
    /// The owner in words, for gap summaries.
    pub fn describe(&self) -> String {
        let side = |kind: OrganizationKind| match kind {
            OrganizationKind::Client => "client",
            OrganizationKind::Provider => "provider",
        };
        let accountable = match (&self.accountable_team, self.accountable_side) {
            (Some(team), Some(kind)) => format!("{} ({})", team.name, side(kind)),
            _ => "nobody".to_owned(),
        };
        format!(
            "produced by {} ({}), accountable: {accountable}",
            self.responsible_team.name,
            side(self.responsible_side)
        )
    }
}

/// A file's metadata (its bytes are read only by the download route).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// The media type given at upload.
    pub content_type: String,
    /// Its size in bytes.
    pub size_bytes: i64,
    /// Lowercase hex SHA-256 the server computed.
    pub sha256: String,
}

/// A record with what belongs to it.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// The record.
    pub record: evidence_record::Model,
    /// Its sign-off, if signed by the instant asked about.
    pub signoff: Option<evidence_signoff::Model>,
    /// Its file, if one was attached by then.
    pub file: Option<FileInfo>,
}

/// Evidence counted from operational data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    /// What was counted, in words.
    pub description: String,
    /// How many.
    pub count: i64,
    /// The start of the window counted.
    pub window_start: DateTime<Utc>,
    /// Its end (the instant asked about).
    pub window_end: DateTime<Utc>,
}

/// One obligation of an environment at an instant.
#[derive(Debug, Clone)]
pub struct ObligationState {
    /// The obligation.
    pub obligation: compliance_obligation::Model,
    /// Its function as the environment's organization sees it, if the catalog has it.
    pub function: Option<function::Model>,
    /// Whether the function is one the obligation's framework requires an owner for.
    pub required: bool,
    /// Where it stands.
    pub status: ObligationStatus,
    /// The end of the latest period with counting evidence.
    pub covered_until: Option<DateTime<Utc>>,
    /// The next period that needs evidence.
    pub period_start: DateTime<Utc>,
    /// Its end.
    pub period_end: DateTime<Utc>,
    /// When that period's evidence is due: its end plus the grace days.
    pub due_at: DateTime<Utc>,
    /// Who owns it at the instant; `None` when no agreed entry is in force.
    pub owner: Option<Owner>,
    /// Records not superseded, newest period first (at most [`EVIDENCE_SHOWN`]).
    pub evidence: Vec<Evidence>,
    /// Records not signed by the instant (not superseded), for gaps.
    pub unsigned: Vec<evidence_record::Model>,
    /// Evidence derived from operational data.
    pub derived: Vec<Derived>,
}

/// The obligations of the catalog, of `framework` when given, by framework and key.
///
/// # Errors
/// Database errors.
pub async fn catalog(
    db: &impl ConnectionTrait,
    framework: Option<ComplianceFramework>,
) -> Result<Vec<compliance_obligation::Model>, DbErr> {
    let mut select = compliance_obligation::Entity::find();
    if let Some(framework) = framework {
        select = select.filter(compliance_obligation::COLUMN.framework.eq(framework));
    }
    select
        .order_by_asc(compliance_obligation::Column::Framework)
        .order_by_asc(compliance_obligation::Column::Key)
        .all(db)
        .await
}

/// The frameworks `environment` is held to.
pub fn frameworks_of(environment: &environment::Model) -> Vec<ComplianceFramework> {
    serde_json::from_value(environment.compliance_frameworks.clone()).unwrap_or_default()
}

/// The function `key` as `organization_id` sees it: its own first, else the standard one.
pub fn function_by_key<'a>(
    functions: &'a [function::Model],
    organization_id: Uuid,
    key: &str,
) -> Option<&'a function::Model> {
    functions
        .iter()
        .filter(|found| found.key == key)
        .filter(|found| {
            found
                .organization_id
                .is_none_or(|owner| owner == organization_id)
        })
        .max_by_key(|found| found.organization_id.is_some())
}

/// Every obligation of `environment`'s frameworks at `at`, by framework and key, with the
/// owners the matrix in force then names as recorded `as_of` (the current record when `None`).
///
/// # Errors
/// Database errors.
pub async fn obligations(
    db: &impl ConnectionTrait,
    environment: &environment::Model,
    at: DateTime<Utc>,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<ObligationState>, DbErr> {
    let frameworks = frameworks_of(environment);
    if frameworks.is_empty() {
        return Ok(Vec::new());
    }
    let obligations = compliance_obligation::Entity::find()
        .filter(compliance_obligation::COLUMN.framework.is_in(frameworks))
        .order_by_asc(compliance_obligation::Column::Framework)
        .order_by_asc(compliance_obligation::Column::Key)
        .all(db)
        .await?;
    let functions = matrix::functions_for(db, environment.organization_id).await?;
    // Function-level defaults only: obligations are about the environment, not one system.
    let in_force = matrix::in_force_as_of(
        db,
        [environment.id],
        matrix::Clock { at, as_of },
        Some(Vec::new()),
    )
    .await?;
    let team_ids: HashSet<Uuid> = in_force
        .iter()
        .flat_map(|entry| {
            std::iter::once(entry.responsible_team_id).chain(entry.accountable_team_id)
        })
        .collect();
    let teams: HashMap<Uuid, team::Model> = team::Entity::find()
        .filter(team::COLUMN.id.is_in(team_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|found| (found.id, found))
        .collect();
    let kinds: HashMap<Uuid, OrganizationKind> = organization::Entity::find()
        .filter(
            organization::COLUMN
                .id
                .is_in(teams.values().map(|found| found.organization_id)),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|found| (found.id, found.kind))
        .collect();
    let records = evidence_record::Entity::find()
        .filter(evidence_record::COLUMN.environment_id.eq(environment.id))
        .filter(evidence_record::COLUMN.recorded_at.lte(at))
        .order_by_desc(evidence_record::Column::PeriodEnd)
        .order_by_desc(evidence_record::Column::Id)
        .all(db)
        .await?;
    let record_ids: Vec<Uuid> = records.iter().map(|record| record.id).collect();
    let signoffs = signoffs_of(db, &record_ids, at).await?;
    let files = files_of(db, &record_ids, Some(at)).await?;
    let superseded: HashSet<Uuid> = records
        .iter()
        .filter_map(|record| record.supersedes_id)
        .collect();
    let derived = Derivation::load(db, environment.id, &obligations, at).await?;

    let mut states = Vec::new();
    for obligation in obligations {
        let function = function_by_key(
            &functions,
            environment.organization_id,
            &obligation.function_key,
        );
        let required = function.is_some_and(|found| {
            serde_json::from_value::<Vec<ComplianceFramework>>(found.required_by.clone())
                .unwrap_or_default()
                .contains(&obligation.framework)
        });
        let owner = function
            .and_then(|found| matrix::decide(&in_force, environment.id, found.id, None))
            .and_then(|(entry, _)| {
                let responsible_team = teams.get(&entry.responsible_team_id)?.clone();
                let accountable_team = entry
                    .accountable_team_id
                    .and_then(|id| teams.get(&id))
                    .cloned();
                Some(Owner {
                    responsibility: entry.clone(),
                    responsible_side: *kinds.get(&responsible_team.organization_id)?,
                    accountable_side: accountable_team
                        .as_ref()
                        .and_then(|found| kinds.get(&found.organization_id).copied()),
                    responsible_team,
                    accountable_team,
                })
            });
        let live: Vec<&evidence_record::Model> = records
            .iter()
            .filter(|record| record.obligation_id == obligation.id)
            .filter(|record| !superseded.contains(&record.id))
            .collect();
        // `live` is newest period first, so the first counting record covers longest.
        let covering = live
            .iter()
            .find(|record| record.result != EvidenceResult::Failed);
        let covered_until = covering.map(|record| record.period_end);
        let months = cadence_months(obligation.cadence);
        let period_start = covered_until.map_or(environment.created_at, |until| {
            until.max(environment.created_at)
        });
        let period_end = add_months(period_start, months);
        let due_at = period_end + Duration::days(i64::from(obligation.grace_days));
        let status = match covering {
            Some(record) if record.period_end > at => {
                if signoffs.contains_key(&record.id) {
                    ObligationStatus::UpToDate
                } else {
                    ObligationStatus::Unsigned
                }
            }
            _ if at > due_at => ObligationStatus::Overdue,
            _ => ObligationStatus::Due,
        };
        let unsigned = live
            .iter()
            .filter(|record| !signoffs.contains_key(&record.id))
            .map(|record| (*record).clone())
            .collect();
        let evidence = live
            .iter()
            .take(EVIDENCE_SHOWN)
            .map(|record| Evidence {
                record: (*record).clone(),
                signoff: signoffs.get(&record.id).cloned(),
                file: files.get(&record.id).cloned(),
            })
            .collect();
        let derived = derived.for_obligation(&obligation, at);
        states.push(ObligationState {
            function: function.cloned(),
            required,
            status,
            covered_until,
            period_start,
            period_end,
            due_at,
            owner,
            evidence,
            unsigned,
            derived,
            obligation,
        });
    }
    Ok(states)
}

/// The sign-offs of `record_ids` made by `at`, by record.
///
/// # Errors
/// Database errors.
pub async fn signoffs_of(
    db: &impl ConnectionTrait,
    record_ids: &[Uuid],
    at: DateTime<Utc>,
) -> Result<HashMap<Uuid, evidence_signoff::Model>, DbErr> {
    let mut found = HashMap::new();
    // Chunked: an IN list is bounded by the databases' parameter limits.
    for chunk in record_ids.chunks(5_000) {
        for signoff in evidence_signoff::Entity::find()
            .filter(
                evidence_signoff::COLUMN
                    .evidence_id
                    .is_in(chunk.iter().copied()),
            )
            .filter(evidence_signoff::COLUMN.signed_at.lte(at))
            .all(db)
            .await?
        {
            found.insert(signoff.evidence_id, signoff);
        }
    }
    Ok(found)
}

/// The metadata of the files of `record_ids` (uploaded by `at`, when given), by record; never
/// their bytes.
///
/// # Errors
/// Database errors.
pub async fn files_of(
    db: &impl ConnectionTrait,
    record_ids: &[Uuid],
    at: Option<DateTime<Utc>>,
) -> Result<HashMap<Uuid, FileInfo>, DbErr> {
    let mut found = HashMap::new();
    for chunk in record_ids.chunks(5_000) {
        let rows: Vec<(Uuid, String, i64, String)> = evidence_file::Entity::find()
            .select_only()
            .column(evidence_file::Column::EvidenceId)
            .column(evidence_file::Column::ContentType)
            .column(evidence_file::Column::SizeBytes)
            .column(evidence_file::Column::Sha256)
            .filter(
                evidence_file::COLUMN
                    .evidence_id
                    .is_in(chunk.iter().copied()),
            )
            .apply_if(at, |select, at| {
                select.filter(evidence_file::COLUMN.uploaded_at.lte(at))
            })
            .into_tuple()
            .all(db)
            .await?;
        for (evidence_id, content_type, size_bytes, sha256) in rows {
            found.insert(
                evidence_id,
                FileInfo {
                    content_type,
                    size_bytes,
                    sha256,
                },
            );
        }
    }
    Ok(found)
}

/// An optional instant of an alert (acknowledged, resolved).
type AlertInstant = Option<DateTime<Utc>>;

/// The operational rows derived evidence counts, read once for every obligation's window.
struct Derivation {
    /// `(occurred_at, category, source)` of changes in the widest window.
    changes: Vec<(DateTime<Utc>, ChangeCategory, ChangeSource)>,
    /// `(acknowledged_at, resolved_at, on a backup set)` of alerts in the widest window.
    alerts: Vec<(AlertInstant, AlertInstant, bool)>,
}

impl Derivation {
    /// Reads what the derivable obligations among `obligations` count, over the longest cadence
    /// up to `at`.
    async fn load(
        db: &impl ConnectionTrait,
        environment_id: Uuid,
        obligations: &[compliance_obligation::Model],
        at: DateTime<Utc>,
    ) -> Result<Self, DbErr> {
        let longest = obligations
            .iter()
            .filter(|obligation| derivable(obligation.evidence_kind))
            .map(|obligation| cadence_months(obligation.cadence))
            .max();
        let Some(months) = longest else {
            return Ok(Self {
                changes: Vec::new(),
                alerts: Vec::new(),
            });
        };
        let since = window_start(at, months);
        let changes = change_log_entry::Entity::find()
            .select_only()
            .column(change_log_entry::Column::OccurredAt)
            .column(change_log_entry::Column::Category)
            .column(change_log_entry::Column::Source)
            .filter(change_log_entry::COLUMN.environment_id.eq(environment_id))
            .filter(change_log_entry::COLUMN.category.is_in([
                ChangeCategory::Patch,
                ChangeCategory::Backup,
                ChangeCategory::Access,
                ChangeCategory::Security,
            ]))
            .filter(change_log_entry::COLUMN.occurred_at.gte(since))
            .filter(change_log_entry::COLUMN.occurred_at.lte(at))
            .into_tuple()
            .all(db)
            .await?;
        let backup_sets: HashSet<Uuid> = system::Entity::find()
            .select_only()
            .column(system::Column::Id)
            .filter(system::COLUMN.environment_id.eq(environment_id))
            .filter(system::COLUMN.kind.eq(SystemKind::BackupSet))
            .into_tuple::<Uuid>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        let alerts: Vec<(Option<Uuid>, AlertInstant, AlertInstant)> = alert::Entity::find()
            .select_only()
            .column(alert::Column::SystemId)
            .column(alert::Column::AcknowledgedAt)
            .column(alert::Column::ResolvedAt)
            .filter(alert::COLUMN.environment_id.eq(environment_id))
            .filter(
                sea_orm::Condition::any()
                    .add(alert::COLUMN.acknowledged_at.between(since, at))
                    .add(alert::COLUMN.resolved_at.between(since, at)),
            )
            .into_tuple()
            .all(db)
            .await?;
        Ok(Self {
            changes,
            alerts: alerts
                .into_iter()
                .map(|(system_id, acknowledged, resolved)| {
                    let backup = system_id.is_some_and(|id| backup_sets.contains(&id));
                    (acknowledged, resolved, backup)
                })
                .collect(),
        })
    }

    /// The derived evidence of `obligation` over its cadence up to `at`.
    fn for_obligation(
        &self,
        obligation: &compliance_obligation::Model,
        at: DateTime<Utc>,
    ) -> Vec<Derived> {
        let since = window_start(at, cadence_months(obligation.cadence));
        let within = |instant: DateTime<Utc>| instant >= since && instant <= at;
        let changes = |category: ChangeCategory, rmm_only: bool| {
            self.changes
                .iter()
                .filter(|(occurred, found, source)| {
                    *found == category
                        && within(*occurred)
                        && (!rmm_only || *source == ChangeSource::Rmm)
                })
                .count()
        };
        let alerts = |acknowledged: bool, backup_only: bool| {
            self.alerts
                .iter()
                .filter(|(acknowledged_at, resolved_at, backup)| {
                    let instant = if acknowledged {
                        *acknowledged_at
                    } else {
                        *resolved_at
                    };
                    instant.is_some_and(within) && (!backup_only || *backup)
                })
                .count()
        };
        let derived = |description: &str, count: usize| Derived {
            description: description.to_owned(),
            count: i64::try_from(count).unwrap_or(i64::MAX),
            window_start: since,
            window_end: at,
        };
        match obligation.evidence_kind {
            EvidenceKind::PatchReport => vec![derived(
                "PATCH changes an RMM integration recorded",
                changes(ChangeCategory::Patch, true),
            )],
            EvidenceKind::BackupRestoreTest => vec![
                derived(
                    "BACKUP changes in the change log",
                    changes(ChangeCategory::Backup, false),
                ),
                derived("alerts on backup sets resolved", alerts(false, true)),
            ],
            EvidenceKind::AccessReview => vec![derived(
                "ACCESS changes in the change log",
                changes(ChangeCategory::Access, false),
            )],
            EvidenceKind::AuditLogReview => vec![
                derived(
                    "SECURITY changes in the change log",
                    changes(ChangeCategory::Security, false),
                ),
                derived("alerts acknowledged", alerts(true, false)),
            ],
            _ => Vec::new(),
        }
    }
}

/// Whether evidence of `kind` can be derived from operational data.
pub fn derivable(kind: EvidenceKind) -> bool {
    matches!(
        kind,
        EvidenceKind::PatchReport
            | EvidenceKind::BackupRestoreTest
            | EvidenceKind::AccessReview
            | EvidenceKind::AuditLogReview
    )
}

/// The start of the derivation window of a `months`-month cadence ending at `at`.
fn window_start(at: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    at.checked_sub_months(Months::new(months))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_ends_whole_months_later() {
        let start: DateTime<Utc> = "2026-01-31T00:00:00Z".parse().unwrap();
        assert_eq!(
            add_months(start, 1),
            "2026-02-28T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            add_months(start, cadence_months(ObligationCadence::Yearly)),
            "2027-01-31T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }
}
