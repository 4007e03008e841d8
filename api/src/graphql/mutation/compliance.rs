//! Compliance evidence: `recordEvidence` and `signEvidence`. The rules live in
//! [`services::compliance`]; these resolvers decode ids and present its outcome. Files are
//! uploaded over REST (`PUT /evidence/{id}/file`, see `rest::evidence`).

use async_graphql::{Context, ID, InputObject, Object, Result, ResultExt};
use sea_orm::prelude::DateTimeUtc;

use crate::error::ApiResult;
use crate::events::EventBus;
use crate::graphql::context::ContextExt;
use crate::graphql::mutation::{Check, CheckIds, payload};
use crate::graphql::types::EvidenceRecord;
use crate::graphql::types::compliance::EvidenceResult;
use crate::ids::NodeType;
use crate::services;

/// Recording and signing compliance evidence.
#[derive(Default)]
pub struct ComplianceMutation;

/// A new piece of evidence.
#[derive(InputObject)]
pub struct RecordEvidenceInput {
    /// The environment.
    pub environment_id: ID,
    /// The obligation's key (see `obligations`), of a framework the environment is held to.
    pub obligation: String,
    /// The start of the period covered; not in the future.
    pub period_start: DateTimeUtc,
    /// The end of the period covered (exclusive): at most one cadence and 31 days after its start.
    pub period_end: DateTimeUtc,
    /// What it found.
    pub result: EvidenceResult,
    /// Notes (at most 20,000 characters).
    pub notes: Option<String>,
    /// An https link to the artefact on a public host; give `linkSha256` with it. For a file,
    /// leave it out and upload the file with `PUT /evidence/{id}/file`.
    pub link: Option<String>,
    /// The linked artefact's SHA-256, 64 hex digits.
    pub link_sha256: Option<String>,
    /// The record this one corrects (same environment and obligation); a record is superseded
    /// once.
    pub supersedes_id: Option<ID>,
    /// Why (goes to the change log).
    pub reason: Option<String>,
}

/// A piece of evidence to sign off.
#[derive(InputObject)]
pub struct SignEvidenceInput {
    /// The evidence.
    pub evidence_id: ID,
    /// Why (goes to the change log).
    pub reason: Option<String>,
}

payload! {
    /// The result of an evidence mutation.
    EvidencePayload {
        /// The evidence as it is now.
        evidence: EvidenceRecord
    }
}

#[Object]
impl ComplianceMutation {
    /// Records a piece of evidence for an obligation of an environment (an admin or member of
    /// either party). Evidence is append-only: a correction is a new record naming the one it
    /// supersedes.
    async fn record_evidence(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: RecordEvidenceInput,
    ) -> Result<EvidencePayload> {
        record_evidence(ctx, input).await.extend()
    }

    /// Signs a piece of evidence off: only an admin of the organization that owns the accountable
    /// team of the agreed entry in force for the obligation's function, once.
    async fn sign_evidence(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to write; see the input type.")] input: SignEvidenceInput,
    ) -> Result<EvidencePayload> {
        sign_evidence(ctx, input).await.extend()
    }
}

async fn record_evidence(
    ctx: &Context<'_>,
    input: RecordEvidenceInput,
) -> ApiResult<EvidencePayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let environment_id = check.id(
        "environmentId",
        NodeType::Environment,
        &input.environment_id,
    );
    let supersedes_id = input
        .supersedes_id
        .as_ref()
        .and_then(|id| check.id("supersedesId", NodeType::EvidenceRecord, id));
    let evidence = services::compliance::NewEvidence {
        environment_id,
        obligation: input.obligation,
        period_start: input.period_start,
        period_end: input.period_end,
        result: input.result.into(),
        notes: input.notes,
        link: input.link,
        link_sha256: input.link_sha256,
        supersedes_id,
        reason: input.reason,
    };
    let outcome = services::compliance::record_evidence(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        evidence,
        check,
    )
    .await;
    EvidencePayload::from_outcome(outcome.map(EvidenceRecord::new))
}

async fn sign_evidence(ctx: &Context<'_>, input: SignEvidenceInput) -> ApiResult<EvidencePayload> {
    let viewer = ctx.viewer()?;
    let mut check = Check::default();
    let evidence_id = check.id("evidenceId", NodeType::EvidenceRecord, &input.evidence_id);
    let signoff = services::compliance::EvidenceSignoff {
        evidence_id,
        reason: input.reason,
    };
    let outcome = services::compliance::sign_evidence(
        ctx.db()?,
        ctx.data_opt::<EventBus>(),
        viewer,
        signoff,
        check,
    )
    .await;
    EvidencePayload::from_outcome(outcome.map(EvidenceRecord::new))
}
