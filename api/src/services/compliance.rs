//! Compliance evidence: record a piece of evidence for an obligation, attach its file, and have
//! the accountable side sign it off.
//!
//! Evidence is append-only (the tables' triggers refuse changes): a correction is a new record
//! that supersedes the old one, at most once. A file is attached once and only before the
//! sign-off; a record is signed once. The sign-off belongs to an admin of the organization that
//! owns the accountable team of the agreed function-level entry in force at the sign-off for the
//! obligation's function: the side that answers for the evidence, whichever side produced it.
//! Every write locks the environment first (PostgreSQL; SQLite writers already take turns), so
//! two sign-offs, or a sign-off and an upload, are decided one after the other; the tables' keys
//! back that up. Every write is a change log entry (category `DOCUMENTATION`).

use chrono::{DateTime, Duration, Utc};
use entities::enums::{ChangeCategory, EvidenceResult, Role};
use entities::{
    compliance_obligation, environment, evidence_file, evidence_record, evidence_signoff,
    organization, team,
};
use sea_orm::prelude::*;
use sea_orm::{IntoActiveModel, QueryFilter};
use serde_json::json;
use sha2::{Digest, Sha256};
use url::{Host, Url};

use crate::auth::Viewer;
use crate::compliance::{add_months, cadence_months, frameworks_of, function_by_key};
use crate::events::EventBus;
use crate::matrix;
use crate::services::change_log::MAX_REASON;
use crate::services::scope::visible_environment;
use crate::services::{
    ChangeNote, Check, ServiceError, ServiceResult, UnitOfWork, UserErrorCode, WRITERS,
    require_role,
};

/// Longest notes, in characters.
pub const MAX_NOTES: usize = 20_000;
/// Longest link, in characters.
pub const MAX_LINK: usize = 2_000;
/// Largest file, in bytes (10 MiB).
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// Longest media type, in characters.
pub const MAX_CONTENT_TYPE: usize = 127;
/// How much longer than one cadence a period may be, in days (a late assessment may cover a
/// little more than its year).
pub const PERIOD_SLACK_DAYS: i64 = 31;

/// A new piece of evidence.
pub struct NewEvidence {
    /// The environment; `None` when the front door could not decode its id.
    pub environment_id: Option<Uuid>,
    /// The obligation's key, e.g. `hipaa.risk_analysis`.
    pub obligation: String,
    /// The period covered, `[period_start, period_end)`.
    pub period_start: DateTime<Utc>,
    /// Its end.
    pub period_end: DateTime<Utc>,
    /// What it found.
    pub result: EvidenceResult,
    /// Notes.
    pub notes: Option<String>,
    /// An `https` link to the artefact.
    pub link: Option<String>,
    /// The artefact's SHA-256, hex; required with `link`.
    pub link_sha256: Option<String>,
    /// The record this one corrects.
    pub supersedes_id: Option<Uuid>,
    /// Why (goes to the change log).
    pub reason: Option<String>,
}

/// A record to sign off.
pub struct EvidenceSignoff {
    /// The record.
    pub evidence_id: Option<Uuid>,
    /// Why (goes to the change log).
    pub reason: Option<String>,
}

/// A file to attach to a record.
pub struct EvidenceUpload {
    /// The record.
    pub evidence_id: Option<Uuid>,
    /// The media type the uploader gave; `application/octet-stream` when none.
    pub content_type: Option<String>,
    /// The bytes.
    pub content: Vec<u8>,
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Records a piece of evidence, as `actor` (an admin or member of either party).
///
/// # Errors
/// [`ServiceError::Forbidden`] for a role that may not write; [`ServiceError::Refused`] for bad
/// input, an environment the actor may not see, an obligation of a framework the environment is
/// not held to, or a record to supersede that is not there or already superseded.
pub async fn record_evidence(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: NewEvidence,
    mut check: Check,
) -> ServiceResult<evidence_record::Model> {
    require_role(actor, WRITERS, "recordEvidence")?;
    let notes = check.optional_text("notes", input.notes.as_deref(), MAX_NOTES);
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let key = check.text("obligation", &input.obligation, 200);
    let link = check_link(&mut check, input.link.as_deref());
    let link_sha256 = check_sha256(&mut check, input.link_sha256.as_deref());
    if let (Some(link), Some(hash)) = (&link, &link_sha256)
        && link.is_some() != hash.is_some()
    {
        check.fail(
            if link.is_some() { "linkSha256" } else { "link" },
            UserErrorCode::Required,
            "`link` and `linkSha256` go together: the hash is what an auditor checks the linked artefact against",
        );
    }
    let period_start = check.planned_instant("periodStart", input.period_start);
    let period_end = check.planned_instant("periodEnd", input.period_end);
    let mut write = UnitOfWork::begin(db, events, actor, reason.clone().flatten(), None).await?;
    if let (Some(start), Some(end)) = (period_start, period_end) {
        if start >= end {
            check.fail(
                "periodEnd",
                UserErrorCode::Invalid,
                "`periodEnd` must be after `periodStart`",
            );
        } else if start > write.now {
            check.fail(
                "periodStart",
                UserErrorCode::Invalid,
                "`periodStart` must not be in the future: evidence is of a period that has begun",
            );
        }
    }
    let environment = visible_environment(
        &write.txn,
        actor,
        &mut check,
        "environmentId",
        input.environment_id,
    )
    .await?;
    if let Some(environment) = &environment {
        write.lock_environment(environment.id).await?;
    }
    let obligation = match (&environment, &key) {
        (Some(environment), Some(key)) => {
            obligation_of(&write.txn, &mut check, environment, key).await?
        }
        _ => None,
    };
    if let (Some(obligation), Some(start), Some(end)) = (&obligation, period_start, period_end) {
        let longest = add_months(start, cadence_months(obligation.cadence))
            + Duration::days(PERIOD_SLACK_DAYS);
        if end > longest {
            check.fail(
                "periodEnd",
                UserErrorCode::Invalid,
                format!(
                    "a period of `{}` covers at most one cadence ({} months) and {PERIOD_SLACK_DAYS} days",
                    obligation.key,
                    cadence_months(obligation.cadence)
                ),
            );
        }
    }
    if let (Some(environment), Some(obligation), Some(supersedes_id)) =
        (&environment, &obligation, input.supersedes_id)
    {
        let earlier = evidence_record::Entity::find_by_id(supersedes_id)
            .one(&write.txn)
            .await?
            .filter(|found| {
                found.environment_id == environment.id && found.obligation_id == obligation.id
            });
        if earlier.is_none() {
            check.fail(
                "supersedesId",
                UserErrorCode::NotFound,
                "no evidence with this id for the same obligation in the environment",
            );
        } else if !may_correct(&write.txn, actor, supersedes_id).await? {
            check.fail(
                "supersedesId",
                UserErrorCode::InvalidState,
                "only the side that recorded this evidence, or the side that signed it off, corrects it",
            );
        } else if evidence_record::Entity::find()
            .filter(evidence_record::COLUMN.supersedes_id.eq(supersedes_id))
            .one(&write.txn)
            .await?
            .is_some()
        {
            check.fail(
                "supersedesId",
                UserErrorCode::InvalidState,
                "this evidence is already superseded; supersede the record that replaced it",
            );
        }
    }
    let (
        Some(notes),
        Some(_),
        Some(link),
        Some(link_sha256),
        Some(start),
        Some(end),
        Some(environment),
        Some(obligation),
        true,
    ) = (
        notes,
        reason,
        link,
        link_sha256,
        period_start,
        period_end,
        environment,
        obligation,
        check.is_ok(),
    )
    else {
        return Err(check.into());
    };
    let created = evidence_record::Model {
        id: Uuid::now_v7(),
        environment_id: environment.id,
        obligation_id: obligation.id,
        period_start: start,
        period_end: end,
        result: input.result,
        notes,
        link,
        link_sha256,
        supersedes_id: input.supersedes_id,
        recorded_by_id: Some(actor.person.id),
        recorded_at: write.now,
    }
    .into_active_model()
    .insert(&write.txn)
    .await
    .map_err(|error| {
        ServiceError::taken_or(
            error,
            "supersedesId",
            "this evidence is already superseded; supersede the record that replaced it",
        )
    })?;
    let result = sea_orm::ActiveEnum::to_value(&created.result);
    write
        .record(ChangeNote {
            environment_id: environment.id,
            system_ids: Vec::new(),
            summary: format!(
                "Recorded evidence for {} ({}): {result}",
                obligation.title, obligation.key
            ),
            details: json!({
                "evidence": created.id,
                "obligation": obligation.key,
                "periodStart": created.period_start,
                "periodEnd": created.period_end,
                "result": result,
                "supersedes": created.supersedes_id,
            }),
            category: ChangeCategory::Documentation,
        })
        .await?;
    write.commit().await?;
    Ok(created)
}

/// Signs a record off, as `actor`: an admin of the organization owning the accountable team of
/// the entry in force now for the obligation's function.
///
/// # Errors
/// [`ServiceError::Forbidden`] for a role below admin or an admin of the other side;
/// [`ServiceError::Refused`] with `NOT_FOUND` for a record the actor may not see, and
/// `INVALID_STATE` for a record already signed or superseded, or an obligation nobody is
/// accountable for.
pub async fn sign_evidence(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: EvidenceSignoff,
    mut check: Check,
) -> ServiceResult<evidence_record::Model> {
    require_role(actor, &[Role::Admin], "signEvidence")?;
    let reason = check.optional_text("reason", input.reason.as_deref(), MAX_REASON);
    let mut write = UnitOfWork::begin(db, events, actor, reason.clone().flatten(), None).await?;
    let Some((record, environment)) =
        visible_record(&write, &mut check, "evidenceId", input.evidence_id).await?
    else {
        return Err(check.into());
    };
    let (Some(_), true) = (reason, check.is_ok()) else {
        return Err(check.into());
    };
    let obligation = compliance_obligation::Entity::find_by_id(record.obligation_id)
        .one(&write.txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the evidence's obligation".to_owned()))?;
    still_open(
        &write.txn,
        record.id,
        "this evidence is already signed",
        "this evidence is superseded; sign the record that replaced it",
    )
    .await?;
    let functions = matrix::functions_for(&write.txn, environment.organization_id).await?;
    let function = function_by_key(
        &functions,
        environment.organization_id,
        &obligation.function_key,
    );
    let in_force =
        matrix::in_force(&write.txn, [environment.id], write.now, Some(Vec::new())).await?;
    let entry = function
        .and_then(|found| matrix::decide(&in_force, environment.id, found.id, None))
        .map(|(entry, _)| entry.clone());
    let accountable = match entry.as_ref().and_then(|entry| entry.accountable_team_id) {
        Some(team_id) => team::Entity::find_by_id(team_id).one(&write.txn).await?,
        None => None,
    };
    let (Some(entry), Some(accountable)) = (entry, accountable) else {
        return Err(ServiceError::refused(
            "evidenceId",
            UserErrorCode::InvalidState,
            format!(
                "no agreed entry in force names a team accountable for `{}`; agree one first",
                obligation.function_key
            ),
        ));
    };
    if actor.organization.id != accountable.organization_id {
        let owner = organization::Entity::find_by_id(accountable.organization_id)
            .one(&write.txn)
            .await?
            .map_or_else(|| "its organization".to_owned(), |found| found.name);
        return Err(ServiceError::Forbidden(format!(
            "only an admin of {owner}, which owns the accountable team {}, signs this evidence off",
            accountable.name
        )));
    }
    evidence_signoff::Model {
        evidence_id: record.id,
        signed_by_id: actor.person.id,
        organization_id: actor.organization.id,
        accountable_team_id: accountable.id,
        responsibility_id: entry.id,
        signed_at: write.now,
    }
    .into_active_model()
    .insert(&write.txn)
    .await
    .map_err(|error| {
        ServiceError::taken_or(error, "evidenceId", "this evidence is already signed")
    })?;
    write
        .record(ChangeNote {
            environment_id: environment.id,
            system_ids: Vec::new(),
            summary: format!(
                "Signed off evidence for {} ({}) for {}",
                obligation.title, obligation.key, accountable.name
            ),
            details: json!({
                "evidence": record.id,
                "obligation": obligation.key,
                "accountableTeam": accountable.id,
                "responsibility": entry.id,
            }),
            category: ChangeCategory::Documentation,
        })
        .await?;
    write.commit().await?;
    Ok(record)
}

/// Attaches a file to a record not yet signed and without a file, as `actor` (an admin or member
/// of either party); the server computes its SHA-256.
///
/// # Errors
/// [`ServiceError::Forbidden`] for a role that may not write; [`ServiceError::Refused`] with
/// `NOT_FOUND` for a record the actor may not see, `REQUIRED`/`TOO_LONG` on `file` for an empty or
/// oversized file, `INVALID` on `contentType`, and `INVALID_STATE` for a signed record or one
/// that has a file.
pub async fn attach_evidence_file(
    db: &DatabaseConnection,
    events: Option<&EventBus>,
    actor: &Viewer,
    input: EvidenceUpload,
    mut check: Check,
) -> ServiceResult<evidence_file::Model> {
    require_role(actor, WRITERS, "attachEvidenceFile")?;
    if input.content.is_empty() {
        check.fail("file", UserErrorCode::Required, "the file is empty");
    } else if input.content.len() > MAX_FILE_BYTES {
        check.fail(
            "file",
            UserErrorCode::TooLong,
            format!("a file is at most {MAX_FILE_BYTES} bytes"),
        );
    }
    let content_type = check_content_type(&mut check, input.content_type.as_deref());
    let mut write = UnitOfWork::begin(db, events, actor, None, None).await?;
    let found = visible_record(&write, &mut check, "evidenceId", input.evidence_id).await?;
    let (Some((record, environment)), Some(content_type), true) =
        (found, content_type, check.is_ok())
    else {
        return Err(check.into());
    };
    still_open(
        &write.txn,
        record.id,
        "signed evidence does not change; record a new piece of evidence that supersedes it",
        "this evidence was superseded; attach the file to the record that replaced it",
    )
    .await?;
    if !may_correct(&write.txn, actor, record.id).await? {
        return Err(ServiceError::refused(
            "evidenceId",
            UserErrorCode::InvalidState,
            "only the side that recorded this evidence attaches its file",
        ));
    }
    if evidence_file::Entity::find_by_id(record.id)
        .one(&write.txn)
        .await?
        .is_some()
    {
        return Err(ServiceError::refused(
            "evidenceId",
            UserErrorCode::InvalidState,
            "this evidence has a file already; record a new piece of evidence that supersedes it",
        ));
    }
    let size_bytes = i64::try_from(input.content.len()).unwrap_or(i64::MAX);
    let sha256 = sha256_hex(&input.content);
    let stored = evidence_file::Model {
        evidence_id: record.id,
        content_type,
        size_bytes,
        sha256,
        content: input.content,
        uploaded_by_id: Some(actor.person.id),
        uploaded_at: write.now,
    }
    .into_active_model()
    .insert(&write.txn)
    .await
    .map_err(|error| {
        ServiceError::taken_or(error, "evidenceId", "this evidence has a file already")
    })?;
    write
        .record(ChangeNote {
            environment_id: environment.id,
            system_ids: Vec::new(),
            summary: format!(
                "Attached a file of {size_bytes} bytes to evidence {}",
                record.id
            ),
            details: json!({
                "evidence": record.id,
                "contentType": stored.content_type,
                "sizeBytes": size_bytes,
                "sha256": stored.sha256,
            }),
            category: ChangeCategory::Documentation,
        })
        .await?;
    write.commit().await?;
    Ok(stored)
}

/// The record `id` with its environment when the actor may see it, the environment locked;
/// else a `NOT_FOUND` user error on `field` (another tenant's record and a missing one look the
/// same).
async fn visible_record(
    write: &UnitOfWork<'_>,
    check: &mut Check,
    field: &str,
    id: Option<Uuid>,
) -> Result<Option<(evidence_record::Model, environment::Model)>, DbErr> {
    let Some(id) = id else { return Ok(None) };
    let record = evidence_record::Entity::find_by_id(id)
        .one(&write.txn)
        .await?;
    let environment = match &record {
        Some(record) => environment::Entity::find_by_id(record.environment_id)
            .one(&write.txn)
            .await?
            .filter(|found| write.actor.can_see_organization(found.organization_id)),
        None => None,
    };
    let (Some(record), Some(environment)) = (record, environment) else {
        check.fail(field, UserErrorCode::NotFound, "no evidence with this id");
        return Ok(None);
    };
    // Decided from an unlocked read, so no other tenant's row is ever held; then the
    // environment is locked and read again for the rest of the write.
    let environment = write
        .lock_environment(environment.id)
        .await?
        .unwrap_or(environment);
    Ok(Some((record, environment)))
}

/// The obligation `key` when the environment is held to its framework, else a user error.
async fn obligation_of(
    db: &impl ConnectionTrait,
    check: &mut Check,
    environment: &environment::Model,
    key: &str,
) -> Result<Option<compliance_obligation::Model>, DbErr> {
    let found = compliance_obligation::Entity::find()
        .filter(compliance_obligation::COLUMN.key.eq(key))
        .one(db)
        .await?;
    match found {
        None => {
            check.fail(
                "obligation",
                UserErrorCode::NotFound,
                "no obligation with this key; see `obligations`",
            );
            Ok(None)
        }
        Some(found) if !frameworks_of(environment).contains(&found.framework) => {
            check.fail(
                "obligation",
                UserErrorCode::Invalid,
                format!(
                    "the environment is not held to {}",
                    sea_orm::ActiveEnum::to_value(&found.framework)
                ),
            );
            Ok(None)
        }
        Some(found) => Ok(Some(found)),
    }
}

/// An optional link: `https`, with a public host (no literal private address, no `localhost` or
/// local-only name), without credentials. `Some(None)` when absent; `None` when refused.
fn check_link(check: &mut Check, value: Option<&str>) -> Option<Option<String>> {
    let text = check.optional_text("link", value, MAX_LINK)?;
    let Some(text) = text else {
        return Some(None);
    };
    let refused = |check: &mut Check, why: &str| {
        check.fail("link", UserErrorCode::Invalid, why.to_owned());
        None
    };
    let Ok(url) = Url::parse(&text) else {
        return refused(check, "`link` is not a URL");
    };
    if url.scheme() != "https" {
        return refused(check, "`link` must be an https URL");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return refused(check, "`link` must not carry credentials");
    }
    if let Err(refusal) = integrations::egress::Egress::PUBLIC_ONLY.check_url(&url) {
        return refused(check, &format!("`link`: {refusal}"));
    }
    if let Some(Host::Domain(domain)) = url.host() {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let local = domain == "localhost"
            || [".localhost", ".local", ".internal", ".lan", ".home.arpa"]
                .iter()
                .any(|suffix| domain.ends_with(suffix))
            || !domain.contains('.');
        if local {
            return refused(check, "`link` must name a public host");
        }
    }
    Some(Some(url.to_string()))
}

/// An optional SHA-256 in hex (64 digits, either case), lowercased.
fn check_sha256(check: &mut Check, value: Option<&str>) -> Option<Option<String>> {
    let text = check.optional_text("linkSha256", value, 64)?;
    match text {
        None => Some(None),
        Some(text) if text.len() == 64 && text.bytes().all(|byte| byte.is_ascii_hexdigit()) => {
            Some(Some(text.to_ascii_lowercase()))
        }
        Some(_) => {
            check.fail(
                "linkSha256",
                UserErrorCode::Invalid,
                "`linkSha256` is a SHA-256 in hex: 64 digits 0-9 and a-f",
            );
            None
        }
    }
}

/// A media type `type/subtype` (parameters allowed), printable ASCII; `application/octet-stream`
/// when none was given.
fn check_content_type(check: &mut Check, value: Option<&str>) -> Option<String> {
    let Some(value) = value.map(str::trim).filter(|value| !value.is_empty()) else {
        return Some("application/octet-stream".to_owned());
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let token = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&byte))
    };
    let valid = value.len() <= MAX_CONTENT_TYPE
        && value.bytes().all(|byte| (0x20..0x7f).contains(&byte))
        && essence
            .split_once('/')
            .is_some_and(|(kind, subtype)| token(kind) && token(subtype));
    if valid {
        Some(value.to_owned())
    } else {
        check.fail(
            "contentType",
            UserErrorCode::Invalid,
            "the content type is a media type such as application/pdf",
        );
        None
    }
}

/// Whether `actor`'s organization may correct or complete record `id`: the organization of the
/// person who recorded it, or the one that signed it off. (A record whose recorder is unknown
/// may be completed by either side.) The other side's people see it, but do not change it.
async fn may_correct(
    db: &impl sea_orm::ConnectionTrait,
    actor: &Viewer,
    id: Uuid,
) -> Result<bool, DbErr> {
    let Some(record) = evidence_record::Entity::find_by_id(id).one(db).await? else {
        return Ok(false);
    };
    let recorder = match record.recorded_by_id {
        Some(person) => entities::person::Entity::find_by_id(person)
            .one(db)
            .await?
            .map(|found| found.organization_id),
        None => None,
    };
    let signer = evidence_signoff::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(|signoff| signoff.organization_id);
    Ok(recorder.is_none() && signer.is_none()
        || recorder == Some(actor.organization.id)
        || signer == Some(actor.organization.id))
}

/// Refuses (`INVALID_STATE` on `evidenceId`) a record that is signed (`signed`) or superseded by
/// a newer one (`superseded`): the two states in which evidence takes no more changes.
async fn still_open(
    txn: &impl ConnectionTrait,
    record_id: Uuid,
    signed: &str,
    superseded: &str,
) -> Result<(), ServiceError> {
    let refused = |message: &str| {
        Err(ServiceError::refused(
            "evidenceId",
            UserErrorCode::InvalidState,
            message,
        ))
    };
    if evidence_signoff::Entity::find_by_id(record_id)
        .one(txn)
        .await?
        .is_some()
    {
        return refused(signed);
    }
    if evidence_record::Entity::find()
        .filter(evidence_record::COLUMN.supersedes_id.eq(record_id))
        .one(txn)
        .await?
        .is_some()
    {
        return refused(superseded);
    }
    Ok(())
}
