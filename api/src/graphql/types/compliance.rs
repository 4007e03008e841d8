//! `ComplianceObligation`, `EvidenceRecord` and `ObligationState`: what frameworks ask for, what
//! an environment recorded for it, and where each obligation stands (see [`crate::compliance`]).

use async_graphql::{Context, Enum, ID, Object, Result, ResultExt, SimpleObject};
use entities::{
    compliance_obligation, environment, evidence_record, evidence_signoff, responsibility, team,
};
use sea_orm::EntityTrait;
use sea_orm::prelude::DateTimeUtc;

use crate::compliance::{self, Derived, Evidence, FileInfo, ObligationStatus};
use crate::graphql::context::ContextExt;
use crate::graphql::loaders::{load_by_id, load_required};
use crate::graphql::types::enums::{ComplianceFramework, OrganizationKind};
use crate::graphql::types::{Environment, Function, Person, Responsibility, Team};
use crate::ids::{self, NodeType};

/// How often an obligation needs fresh evidence.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::ObligationCadence")]
pub enum ObligationCadence {
    /// Every month.
    Monthly,
    /// Every three months.
    Quarterly,
    /// Every six months.
    SemiAnnual,
    /// Every twelve months.
    Yearly,
}

/// What kind of artefact an obligation asks for.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::EvidenceKind")]
pub enum EvidenceKind {
    /// A risk assessment with its treatment plan.
    RiskAssessment,
    /// A review of who has access to what.
    AccessReview,
    /// A review of audit logs and system activity.
    AuditLogReview,
    /// A test that restores data from backup.
    BackupRestoreTest,
    /// A review of written policies and procedures.
    PolicyReview,
    /// Security awareness training completion records.
    AwarenessTraining,
    /// An incident-response exercise and its lessons.
    IncidentResponseExercise,
    /// A vulnerability scan and its remediation status.
    VulnerabilityScan,
    /// A penetration test report.
    PenetrationTest,
    /// A report of patches deployed and outstanding.
    PatchReport,
    /// What an insurer asks for: an application, attestation or questionnaire.
    InsuranceEvidence,
}

/// What a piece of evidence found.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::EvidenceResult")]
pub enum EvidenceResult {
    /// The control worked as required.
    Passed,
    /// It worked in part; the notes say what is missing.
    Partial,
    /// It did not work; the obligation stays open until evidence that passes.
    Failed,
    /// The obligation did not apply during the period.
    NotApplicable,
}

/// An obligation of the catalog.
pub struct ComplianceObligation(pub compliance_obligation::Model);

/// A piece of evidence a framework asks for on a cadence, tied to the function whose matrix entry
/// decides who produces it and who signs it off.
#[Object]
impl ComplianceObligation {
    /// Global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::ComplianceObligation, self.0.id)
    }

    /// Stable key, e.g. `hipaa.risk_analysis`; `recordEvidence` names the obligation by it.
    async fn key(&self) -> &str {
        &self.0.key
    }

    /// The framework that asks for it.
    async fn framework(&self) -> ComplianceFramework {
        self.0.framework.into()
    }

    /// Title.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// What is asked for, citing the rule.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// How often fresh evidence is needed.
    async fn cadence(&self) -> ObligationCadence {
        self.0.cadence.into()
    }

    /// Days after a period's end before missing evidence is overdue.
    async fn grace_days(&self) -> i32 {
        self.0.grace_days
    }

    /// What kind of artefact it asks for.
    async fn evidence_kind(&self) -> EvidenceKind {
        self.0.evidence_kind.into()
    }

    /// The key of the function whose matrix entry decides who produces it.
    async fn function_key(&self) -> &str {
        &self.0.function_key
    }

    /// Whether evidence of this kind is also derived from operational data (the change log and
    /// alerts).
    async fn derivable(&self) -> bool {
        compliance::derivable(self.0.evidence_kind)
    }
}

/// A piece of evidence, with its sign-off and file when they were read along with it.
pub struct EvidenceRecord {
    record: evidence_record::Model,
    loaded: Option<(Option<evidence_signoff::Model>, Option<FileInfo>)>,
}

impl EvidenceRecord {
    /// A record whose sign-off and file are read when asked for.
    pub fn new(record: evidence_record::Model) -> Self {
        Self {
            record,
            loaded: None,
        }
    }

    async fn extras(
        &self,
        ctx: &Context<'_>,
    ) -> Result<(Option<evidence_signoff::Model>, Option<FileInfo>)> {
        if let Some(loaded) = &self.loaded {
            return Ok(loaded.clone());
        }
        let db = ctx.db().extend()?;
        let signoff = evidence_signoff::Entity::find_by_id(self.record.id)
            .one(db)
            .await
            .map_err(crate::error::ApiError::from)
            .extend()?;
        let file = compliance::files_of(db, &[self.record.id], None)
            .await
            .map_err(crate::error::ApiError::from)
            .extend()?
            .remove(&self.record.id);
        Ok((signoff, file))
    }
}

impl From<Evidence> for EvidenceRecord {
    fn from(evidence: Evidence) -> Self {
        Self {
            record: evidence.record,
            loaded: Some((evidence.signoff, evidence.file)),
        }
    }
}

/// What an environment recorded for an obligation: the period covered, the result, notes, and
/// the artefact (a link with its SHA-256, or a file). Append-only: a correction is a new record
/// that supersedes it.
#[Object]
impl EvidenceRecord {
    /// Global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeType::EvidenceRecord, self.record.id)
    }

    /// The environment.
    async fn environment(&self, ctx: &Context<'_>) -> Result<Environment> {
        load_required::<environment::Entity>(ctx, self.record.environment_id)
            .await
            .map(Environment)
            .extend()
    }

    /// The obligation it is evidence for.
    async fn obligation(&self, ctx: &Context<'_>) -> Result<ComplianceObligation> {
        load_required::<compliance_obligation::Entity>(ctx, self.record.obligation_id)
            .await
            .map(ComplianceObligation)
            .extend()
    }

    /// The start of the period covered.
    async fn period_start(&self) -> DateTimeUtc {
        self.record.period_start
    }

    /// The end of the period covered (exclusive).
    async fn period_end(&self) -> DateTimeUtc {
        self.record.period_end
    }

    /// What it found.
    async fn result(&self) -> EvidenceResult {
        self.record.result.into()
    }

    /// Notes.
    async fn notes(&self) -> Option<&str> {
        self.record.notes.as_deref()
    }

    /// An https link to the artefact kept elsewhere.
    async fn link(&self) -> Option<&str> {
        self.record.link.as_deref()
    }

    /// The SHA-256 of the linked artefact (lowercase hex), as the recorder stated it.
    async fn link_sha256(&self) -> Option<&str> {
        self.record.link_sha256.as_deref()
    }

    /// The attached file, if any.
    async fn file(&self, ctx: &Context<'_>) -> Result<Option<EvidenceFile>> {
        let (_, file) = self.extras(ctx).await?;
        Ok(file.map(|file| EvidenceFile {
            size_bytes: i32::try_from(file.size_bytes).unwrap_or(i32::MAX),
            download_path: format!(
                "/evidence/{}/file",
                ids::encode(NodeType::EvidenceRecord, self.record.id).as_str()
            ),
            content_type: file.content_type,
            sha256: file.sha256,
        }))
    }

    /// The sign-off by the accountable side, if signed.
    async fn signoff(&self, ctx: &Context<'_>) -> Result<Option<EvidenceSignoff>> {
        let (signoff, _) = self.extras(ctx).await?;
        Ok(signoff.map(EvidenceSignoff))
    }

    /// Whether the accountable side signed it off.
    async fn signed(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.extras(ctx).await?.0.is_some())
    }

    /// The record this one corrects.
    async fn supersedes(&self, ctx: &Context<'_>) -> Result<Option<EvidenceRecord>> {
        let Some(id) = self.record.supersedes_id else {
            return Ok(None);
        };
        load_by_id::<evidence_record::Entity>(ctx, id)
            .await
            .map(|found| found.map(EvidenceRecord::new))
            .extend()
    }

    /// Who recorded it; null when the caller may not see them.
    async fn recorded_by(&self, ctx: &Context<'_>) -> Result<Option<Person>> {
        Person::visible(ctx, self.record.recorded_by_id).await
    }

    /// When it was recorded.
    async fn recorded_at(&self) -> DateTimeUtc {
        self.record.recorded_at
    }
}

/// The file attached to a piece of evidence.
#[derive(SimpleObject)]
pub struct EvidenceFile {
    /// Its media type, as given at upload.
    pub content_type: String,
    /// Its size in bytes.
    pub size_bytes: i32,
    /// Lowercase hex SHA-256 the server computed at upload.
    pub sha256: String,
    /// Where to download it (GET, with the bearer token).
    pub download_path: String,
}

/// A sign-off by the accountable side.
pub struct EvidenceSignoff(evidence_signoff::Model);

/// Who signed a piece of evidence off, for which accountable team and under which matrix entry.
#[Object]
impl EvidenceSignoff {
    /// Who signed; null when the caller may not see them.
    async fn signed_by(&self, ctx: &Context<'_>) -> Result<Option<Person>> {
        Person::visible(ctx, Some(self.0.signed_by_id)).await
    }

    /// When.
    async fn signed_at(&self) -> DateTimeUtc {
        self.0.signed_at
    }

    /// The accountable team the signer answered for.
    async fn accountable_team(&self, ctx: &Context<'_>) -> Result<Team> {
        load_required::<team::Entity>(ctx, self.0.accountable_team_id)
            .await
            .map(Team)
            .extend()
    }

    /// The matrix entry in force at the sign-off that named the accountable team.
    async fn responsibility(&self, ctx: &Context<'_>) -> Result<Responsibility> {
        load_required::<responsibility::Entity>(ctx, self.0.responsibility_id)
            .await
            .map(Responsibility)
            .extend()
    }
}

/// Evidence counted from operational data; it never counts as recorded or signed evidence.
#[derive(SimpleObject)]
pub struct DerivedEvidence {
    /// What was counted.
    pub description: String,
    /// How many.
    pub count: i32,
    /// The start of the window counted: one cadence before `windowEnd`.
    pub window_start: DateTimeUtc,
    /// The end of the window: the instant asked about.
    pub window_end: DateTimeUtc,
}

impl From<Derived> for DerivedEvidence {
    fn from(derived: Derived) -> Self {
        Self {
            description: derived.description,
            count: i32::try_from(derived.count).unwrap_or(i32::MAX),
            window_start: derived.window_start,
            window_end: derived.window_end,
        }
    }
}

/// Who owns an obligation at the instant asked about.
pub struct ObligationOwner(compliance::Owner);

/// The matrix entry in force for an obligation's function: the responsible team produces the
/// evidence, the accountable team's organization signs it off.
#[Object]
impl ObligationOwner {
    /// The entry in force that decides.
    async fn responsibility(&self) -> Responsibility {
        Responsibility(self.0.responsibility.clone())
    }

    /// The team that produces the evidence.
    async fn responsible_team(&self) -> Team {
        Team(self.0.responsible_team.clone())
    }

    /// Whether the responsible team is the client's or a provider's.
    async fn responsible_side(&self) -> OrganizationKind {
        self.0.responsible_side.into()
    }

    /// The team that answers for it; its organization's admins sign the evidence off.
    async fn accountable_team(&self) -> Option<Team> {
        self.0.accountable_team.clone().map(Team)
    }

    /// Whether the accountable team is the client's or a provider's.
    async fn accountable_side(&self) -> Option<OrganizationKind> {
        self.0.accountable_side.map(Into::into)
    }
}

/// One obligation of an environment at an instant.
pub struct ObligationState(pub compliance::ObligationState);

/// Where an obligation of an environment stands: the next period that needs evidence, its due
/// date, the status, the owner from the matrix in force, the evidence recorded, and evidence
/// derived from operational data.
#[Object]
impl ObligationState {
    /// The obligation.
    async fn obligation(&self) -> ComplianceObligation {
        ComplianceObligation(self.0.obligation.clone())
    }

    /// Its function as the environment's organization sees it.
    async fn function(&self) -> Option<Function> {
        self.0.function.clone().map(Function)
    }

    /// Whether the framework requires an owner for that function (overdue evidence is then a
    /// HIGH gap).
    async fn required(&self) -> bool {
        self.0.required
    }

    /// Where it stands.
    async fn status(&self) -> ObligationStatus {
        self.0.status
    }

    /// The end of the latest period with evidence that counts (recorded, not superseded, not
    /// failed); null when none.
    async fn covered_until(&self) -> Option<DateTimeUtc> {
        self.0.covered_until
    }

    /// The start of the next period that needs evidence: the later of the environment's creation
    /// and `coveredUntil`.
    async fn period_start(&self) -> DateTimeUtc {
        self.0.period_start
    }

    /// The end of that period: one cadence after its start.
    async fn period_end(&self) -> DateTimeUtc {
        self.0.period_end
    }

    /// When that period's evidence is due: its end plus the grace days.
    async fn due_at(&self) -> DateTimeUtc {
        self.0.due_at
    }

    /// Who owns it; null when no agreed entry for its function is in force.
    async fn owner(&self) -> Option<ObligationOwner> {
        self.0.owner.clone().map(ObligationOwner)
    }

    /// Evidence recorded and not superseded, newest period first (at most 12).
    async fn evidence(&self) -> Vec<EvidenceRecord> {
        self.0
            .evidence
            .iter()
            .cloned()
            .map(EvidenceRecord::from)
            .collect()
    }

    /// Evidence derived from operational data over the last cadence; never signed.
    async fn derived_evidence(&self) -> Vec<DerivedEvidence> {
        self.0
            .derived
            .iter()
            .cloned()
            .map(DerivedEvidence::from)
            .collect()
    }
}
