//! Packages: one zip archive of an environment's record for someone outside the day-to-day work.
//!
//! - The **evidence package** (auditors, insurers) covers a framework and a period: the matrix
//!   with its sign-offs across the period, coverage per NIST CSF 2.0 category, the change log by
//!   category, the framework's obligations with their evidence (hashes, sign-offs, files), and
//!   the gaps open at the period's end.
//! - The **handoff package** (a transition) and the **exit package** (an engagement's end) state
//!   the same facts at one instant: the matrix in force and the drafts and proposals for it, the
//!   inventory, current runbooks, open tickets and alerts, the last 90 days of the change log,
//!   integrations (never a secret), and the open gaps.
//!
//! A package is a read model: plain reads scoped to what the caller may see (an environment of
//! another tenant is `NOT_FOUND`, as if missing), a fixed number of queries per section, all in
//! one read transaction ([`begin_read`]) so the sections agree, nothing written. Each package is a list of [`Section`]s; every section adds its part of the index
//! (`index.md` and `index.html`, rendered from one [`document::Block`] list) and its files. The
//! same inputs give the same bytes ([`archive`]): no clock is read, rows are ordered, and every
//! table is capped at [`MAX_ROWS`] rows, saying so in the index when it is.
//!
//! Adding a section: write `async fn <name>(subject: &Subject<'_>, ...) -> ApiResult<Section>`
//! (its files under a name of their own) and add it to the package's list in [`evidence`] or
//! `state_sections`; the index's contents follow the list, so it never names a section that is
//! not there.

pub mod archive;
pub mod document;
mod sections;

use chrono::{DateTime, Datelike, Duration, NaiveDate, SecondsFormat, Utc};
use entities::enums::{ComplianceFramework, OrganizationKind, Role};
use entities::{engagement, environment, organization};
use sea_orm::prelude::*;
use sea_orm::{
    AccessMode, ActiveEnum, DatabaseBackend, DatabaseTransaction, IsolationLevel, QueryFilter,
    QueryOrder, TransactionTrait,
};

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};
use crate::ids::{self, NodeType};
use archive::PackageFile;
use document::Block;

/// The most rows a section lists (in its table and in its CSV file); the index says when a
/// section holds more.
pub const MAX_ROWS: usize = 5_000;
/// The earliest day a package may name (zip timestamps start in 1980).
pub const EARLIEST_DAY: (i32, u32, u32) = (1980, 1, 1);
/// The latest day a package may name (as far as planned instants go).
pub const LATEST_DAY: (i32, u32, u32) = (2100, 12, 31);
/// The longest evidence period, in days: ten years.
pub const MAX_PERIOD_DAYS: i64 = 3_653;
/// How far back the change log of a handoff or exit package reaches.
pub const HANDOFF_CHANGE_DAYS: i64 = 90;
/// The roles that may download an evidence package: everyone who reads the environment (a
/// compliance officer often holds a viewer's token); not a sync job's.
pub const EVIDENCE_ROLES: &[Role] = &[Role::Admin, Role::Member, Role::Viewer];
/// The roles that may download a handoff or exit package: admins of either side (it describes
/// the whole estate and its integrations, and is handed to whoever takes over).
pub const HANDOFF_ROLES: &[Role] = &[Role::Admin];

/// A built package: the archive and the file name it is offered under.
#[derive(Debug, Clone)]
pub struct Package {
    /// `<kind>-<client>-<environment>-<inputs>.zip`, from the inputs only.
    pub file_name: String,
    /// The zip archive.
    pub bytes: Vec<u8>,
}

/// One section of a package.
#[derive(Debug, Clone, Default)]
pub struct Section {
    /// Its heading in the index.
    pub title: String,
    /// Its content in the index.
    pub blocks: Vec<Block>,
    /// The files it adds to the archive.
    pub files: Vec<PackageFile>,
}

/// What every section reads: the environment (visible to the caller), its client, who asks,
/// and the one read transaction of the package.
pub struct Subject<'a> {
    /// The package's read transaction ([`begin_read`]): every section sees the same snapshot.
    pub db: &'a DatabaseTransaction,
    /// The caller; names of people are given only where they may see them.
    pub viewer: &'a Viewer,
    /// The environment.
    pub environment: environment::Model,
    /// The organization that owns it.
    pub client: organization::Model,
}

/// An evidence period: whole days, `from` to `to` inclusive, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// The first day.
    pub from: NaiveDate,
    /// The last day.
    pub to: NaiveDate,
}

impl Period {
    /// The period from `from` to `to`, both included.
    ///
    /// # Errors
    /// [`ApiError::BadUserInput`] when a day is outside [`EARLIEST_DAY`]..=[`LATEST_DAY`], `to`
    /// is before `from`, or the period is longer than [`MAX_PERIOD_DAYS`].
    pub fn new(from: NaiveDate, to: NaiveDate) -> ApiResult<Self> {
        check_day("from", from)?;
        check_day("to", to)?;
        if to < from {
            return Err(ApiError::bad_input("to", "`to` is before `from`"));
        }
        if (to - from).num_days() + 1 > MAX_PERIOD_DAYS {
            return Err(ApiError::bad_input(
                "to",
                format!("a period is at most {MAX_PERIOD_DAYS} days (ten years)"),
            ));
        }
        Ok(Self { from, to })
    }

    /// The first instant of the period.
    #[must_use]
    pub fn start(&self) -> DateTime<Utc> {
        midnight(self.from)
    }

    /// The first instant after the period.
    #[must_use]
    pub fn end(&self) -> DateTime<Utc> {
        midnight(self.to) + Duration::days(1)
    }
}

/// Checks that `day` is one a package may name.
///
/// # Errors
/// [`ApiError::BadUserInput`] on `field` otherwise.
pub fn check_day(field: &str, day: NaiveDate) -> ApiResult<()> {
    let bound = |(year, month, day)| NaiveDate::from_ymd_opt(year, month, day).expect("valid");
    let (earliest, latest) = (bound(EARLIEST_DAY), bound(LATEST_DAY));
    if day < earliest || day > latest {
        return Err(ApiError::bad_input(
            field,
            format!("`{field}` is a day from {earliest} to {latest}"),
        ));
    }
    Ok(())
}

/// The first instant of `day`, UTC.
fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
}

/// An instant as every package writes it.
fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `text` as a file-name part: lowercase ASCII letters and digits, runs of anything else one
/// dash, at most 60 characters.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for character in text.chars().flat_map(char::to_lowercase) {
        if character.is_ascii_alphanumeric() {
            out.push(character);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out.trim_matches('-').chars().take(60).collect();
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() { "x".to_owned() } else { out }
}

/// Opens the read transaction a package is built in, so that its sections agree with each
/// other even while writes go on: on PostgreSQL a read-only `REPEATABLE READ` snapshot; on
/// SQLite (WAL) a deferred transaction reads one snapshot from its first read on.
///
/// # Errors
/// Database errors.
pub async fn begin_read(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    if db.get_database_backend() == DatabaseBackend::Postgres {
        db.begin_with_config(
            Some(IsolationLevel::RepeatableRead),
            Some(AccessMode::ReadOnly),
        )
        .await
    } else {
        db.begin().await
    }
}

fn require_role(viewer: &Viewer, allowed: &[Role], package: &str) -> ApiResult<()> {
    if allowed.contains(&viewer.role) {
        return Ok(());
    }
    let names: Vec<String> = allowed.iter().map(ActiveEnum::to_value).collect();
    Err(ApiError::Forbidden(format!(
        "the {package} package needs the role {}",
        names.join(" or ")
    )))
}

impl<'a> Subject<'a> {
    /// The environment `environment_id` as `viewer` sees it.
    ///
    /// # Errors
    /// [`ApiError::NotFound`] when it does not exist or belongs to a tenant the viewer may not
    /// see; database errors.
    pub async fn load(
        db: &'a DatabaseTransaction,
        viewer: &'a Viewer,
        environment_id: Uuid,
    ) -> ApiResult<Self> {
        let environment = environment::Entity::find_by_id(environment_id)
            .one(db)
            .await?
            .filter(|found| viewer.can_see_organization(found.organization_id))
            .ok_or(ApiError::NotFound("environment"))?;
        let client = organization::Entity::find_by_id(environment.organization_id)
            .one(db)
            .await?
            .ok_or(ApiError::NotFound("environment"))?;
        Ok(Self {
            db,
            viewer,
            environment,
            client,
        })
    }

    /// The compliance frameworks the environment is held to.
    #[must_use]
    pub fn frameworks(&self) -> Vec<String> {
        serde_json::from_value(self.environment.compliance_frameworks.clone()).unwrap_or_default()
    }

    /// `<client>-<environment>`, for file names.
    fn slug(&self) -> String {
        format!(
            "{}-{}",
            slug(&self.client.slug),
            slug(&self.environment.name)
        )
    }

    fn environment_id(&self) -> String {
        ids::encode(NodeType::Environment, self.environment.id).0
    }
}

/// The evidence package of `environment_id` for `framework` over `period`.
///
/// # Errors
/// `FORBIDDEN` for a role outside [`EVIDENCE_ROLES`]; `NOT_FOUND` for an environment the caller
/// may not see; `BAD_USER_INPUT` (`framework`) when the environment is not held to
/// `framework`; database errors.
pub async fn evidence(
    db: &DatabaseConnection,
    viewer: &Viewer,
    environment_id: Uuid,
    framework: ComplianceFramework,
    period: Period,
) -> ApiResult<Package> {
    require_role(viewer, EVIDENCE_ROLES, "evidence")?;
    let txn = begin_read(db).await?;
    let subject = Subject::load(&txn, viewer, environment_id).await?;
    let framework_name = framework.to_value();
    let frameworks = subject.frameworks();
    if !frameworks.contains(&framework_name) {
        return Err(ApiError::bad_input(
            "framework",
            format!(
                "the environment is not held to {framework_name}; it is held to {}",
                if frameworks.is_empty() {
                    "none".to_owned()
                } else {
                    frameworks.join(", ")
                }
            ),
        ));
    }
    let (start, end) = (period.start(), period.end());
    // The gaps "at the end of the period" are those of its last second.
    let last_second = end - Duration::seconds(1);
    let sections = vec![
        sections::matrix_across(&subject, start, end).await?,
        sections::coverage(&subject, &framework_name, start, end).await?,
        sections::change_log(&subject, start, end).await?,
        sections::obligations(&subject, framework, start, end).await?,
        sections::gaps(&subject, last_second).await?,
    ];
    let title = format!(
        "Evidence package: {} — {}",
        subject.client.name, subject.environment.name
    );
    let introduction = vec![
        Block::Paragraph(format!(
            "Framework: {framework_name}. Period: {} to {} inclusive (UTC), that is from {} up to {}.",
            period.from,
            period.to,
            stamp(start),
            stamp(end)
        )),
        Block::Paragraph(format!(
            "Environment: {} of {}, held to {}.",
            subject.environment.name,
            subject.client.name,
            frameworks.join(", ")
        )),
    ];
    let inputs = serde_json::json!({
        "environment": subject.environment_id(),
        "framework": framework_name,
        "from": period.from.to_string(),
        "to": period.to.to_string(),
    });
    let file_name = format!(
        "evidence-{}-{}-{}-to-{}.zip",
        subject.slug(),
        slug(&framework_name),
        period.from,
        period.to
    );
    txn.commit().await?;
    assemble(
        "evidence",
        &title,
        introduction,
        sections,
        &inputs,
        period.to,
        file_name,
    )
}

/// The transition handoff package of `environment_id` on `day`: the record at its first
/// instant (midnight UTC), when the new matrix takes over.
///
/// # Errors
/// `FORBIDDEN` for a role outside [`HANDOFF_ROLES`]; `NOT_FOUND` for an environment the caller
/// may not see; `BAD_USER_INPUT` (`on`) for a day out of bounds; database errors.
pub async fn handoff(
    db: &DatabaseConnection,
    viewer: &Viewer,
    environment_id: Uuid,
    day: NaiveDate,
) -> ApiResult<Package> {
    require_role(viewer, HANDOFF_ROLES, "handoff")?;
    check_day("on", day)?;
    let txn = begin_read(db).await?;
    let subject = Subject::load(&txn, viewer, environment_id).await?;
    let at = midnight(day);
    let sections = state_sections(&subject, at).await?;
    let title = format!(
        "Handoff package: {} — {}",
        subject.client.name, subject.environment.name
    );
    let introduction = vec![Block::Paragraph(format!(
        "The record of {} of {} on {day}, read at {} (UTC): what whoever takes over needs on the day.",
        subject.environment.name,
        subject.client.name,
        stamp(at)
    ))];
    let inputs = serde_json::json!({
        "environment": subject.environment_id(),
        "on": day.to_string(),
    });
    let file_name = format!("handoff-{}-{day}.zip", subject.slug());
    txn.commit().await?;
    assemble(
        "handoff",
        &title,
        introduction,
        sections,
        &inputs,
        day,
        file_name,
    )
}

/// The exit package of `environment_id`: the record at the last second of an engagement of
/// its client that has an end date; `engagement_id`, or else the one that ends last (for a
/// provider, among its own).
///
/// # Errors
/// `FORBIDDEN` for a role outside [`HANDOFF_ROLES`]; `NOT_FOUND` for an environment or an
/// engagement the caller may not see; `BAD_USER_INPUT` (`engagement`) when no such engagement
/// has an end date; database errors.
pub async fn exit(
    db: &DatabaseConnection,
    viewer: &Viewer,
    environment_id: Uuid,
    engagement_id: Option<Uuid>,
) -> ApiResult<Package> {
    require_role(viewer, HANDOFF_ROLES, "exit")?;
    let txn = begin_read(db).await?;
    let subject = Subject::load(&txn, viewer, environment_id).await?;
    let (found, provider) = ending_engagement(&subject, engagement_id).await?;
    let ends_on = found
        .ends_on
        .expect("only engagements with an end date are read");
    check_day("engagement", ends_on)?;
    // The engagement is in force on days before `ends_on`: its last instant is one second
    // before that midnight.
    let at = midnight(ends_on) - Duration::seconds(1);
    let last_day = ends_on.pred_opt().unwrap_or(ends_on);
    let sections = state_sections(&subject, at).await?;
    let title = format!(
        "Exit package: {} — {} (engagement of {})",
        subject.client.name, subject.environment.name, provider.name
    );
    let introduction = vec![
        Block::Paragraph(format!(
            "The engagement of {} serving {} ({}) starts on {} and ends on {ends_on} (its last day is {last_day}).",
            provider.name,
            subject.client.name,
            found.operating_model.to_value(),
            found.starts_on
        )),
        Block::Paragraph(format!(
            "The record of {} as of {} (UTC), the engagement's last second.",
            subject.environment.name,
            stamp(at)
        )),
    ];
    let inputs = serde_json::json!({
        "environment": subject.environment_id(),
        "engagement": ids::encode(NodeType::Engagement, found.id).0,
        "endsOn": ends_on.to_string(),
    });
    let file_name = format!(
        "exit-{}-{}-{ends_on}.zip",
        subject.slug(),
        slug(&provider.slug)
    );
    txn.commit().await?;
    assemble(
        "exit",
        &title,
        introduction,
        sections,
        &inputs,
        last_day,
        file_name,
    )
}

/// The sections of a handoff or exit package at `at`.
async fn state_sections(subject: &Subject<'_>, at: DateTime<Utc>) -> ApiResult<Vec<Section>> {
    Ok(vec![
        sections::matrix_at(subject, at).await?,
        sections::inventory(subject, at).await?,
        sections::runbooks(subject, at).await?,
        sections::open_work(subject, at).await?,
        sections::change_log(subject, at - Duration::days(HANDOFF_CHANGE_DAYS), at).await?,
        sections::integrations(subject, at).await?,
        sections::gaps(subject, at).await?,
    ])
}

/// The engagement an exit package is about, and its provider.
async fn ending_engagement(
    subject: &Subject<'_>,
    engagement_id: Option<Uuid>,
) -> ApiResult<(engagement::Model, organization::Model)> {
    let viewer = subject.viewer;
    let mut select = engagement::Entity::find()
        .filter(engagement::COLUMN.client_id.eq(subject.client.id))
        .filter(engagement::COLUMN.ends_on.is_not_null());
    // A provider answers for its own engagements only.
    if viewer.organization.kind == OrganizationKind::Provider {
        select = select.filter(engagement::COLUMN.provider_id.eq(viewer.organization.id));
    }
    let found = match engagement_id {
        Some(id) => select
            .filter(engagement::COLUMN.id.eq(id))
            .one(subject.db)
            .await?
            .ok_or(ApiError::NotFound("engagement"))?,
        None => select
            .order_by_desc(engagement::Column::EndsOn)
            .order_by_desc(engagement::Column::Id)
            .one(subject.db)
            .await?
            .ok_or_else(|| {
                ApiError::bad_input(
                    "engagement",
                    format!(
                        "no engagement serving {} has an end date: end it first (endEngagement)",
                        subject.client.name
                    ),
                )
            })?,
    };
    let provider = organization::Entity::find_by_id(found.provider_id)
        .one(subject.db)
        .await?
        .ok_or(ApiError::NotFound("engagement"))?;
    Ok((found, provider))
}

/// Builds the index from the sections and zips everything.
fn assemble(
    kind: &str,
    title: &str,
    introduction: Vec<Block>,
    sections: Vec<Section>,
    inputs: &serde_json::Value,
    date: NaiveDate,
    file_name: String,
) -> ApiResult<Package> {
    let mut blocks = vec![Block::Heading(1, title.to_owned())];
    blocks.extend(introduction);
    blocks.push(Block::Paragraph(
        "Built from the record as the downloader may see it: a person is named only where they may see them. The same inputs build the same bytes; SHA256SUMS and manifest.json hold each file's SHA-256.".to_owned(),
    ));
    blocks.push(Block::Heading(2, "Contents".to_owned()));
    let mut contents = vec!["index.md and index.html: this index".to_owned()];
    for section in &sections {
        let files: Vec<&str> = section
            .files
            .iter()
            .map(|file| file.name.as_str())
            .collect();
        contents.push(if files.is_empty() {
            section.title.clone()
        } else if files.len() > 3 {
            format!("{}: {} files", section.title, files.len())
        } else {
            format!("{}: {}", section.title, files.join(", "))
        });
    }
    contents.push(format!(
        "{} and {}: the SHA-256 of every other file",
        archive::MANIFEST,
        archive::SHA256SUMS
    ));
    blocks.push(Block::List(contents));
    let mut files = Vec::new();
    for section in sections {
        blocks.push(Block::Heading(2, section.title));
        blocks.extend(section.blocks);
        files.extend(section.files);
    }
    files.push(PackageFile::text(
        "index.md",
        document::to_markdown(&blocks),
    ));
    files.push(PackageFile::text(
        "index.html",
        document::to_html(title, &blocks),
    ));
    let date = clamp_zip_day(date);
    let bytes = archive::write(kind, inputs, files, date)?;
    Ok(Package { file_name, bytes })
}

/// Zip timestamps run from 1980 to 2107.
fn clamp_zip_day(day: NaiveDate) -> NaiveDate {
    let earliest = NaiveDate::from_ymd_opt(1980, 1, 1).expect("valid");
    let latest = NaiveDate::from_ymd_opt(2107, 12, 31).expect("valid");
    if day.year() < 1980 {
        earliest
    } else {
        day.min(latest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn periods_out_of_bounds_are_refused_with_their_field() {
        let field = |result: ApiResult<Period>| match result {
            Err(ApiError::BadUserInput { field, .. }) => field.unwrap(),
            other => panic!("{other:?}"),
        };
        assert!(Period::new(day("2026-01-01"), day("2026-12-31")).is_ok());
        assert_eq!(
            field(Period::new(day("2026-01-01"), day("9999-12-31"))),
            "to"
        );
        assert_eq!(
            field(Period::new(day("1900-01-01"), day("2026-12-31"))),
            "from"
        );
        assert_eq!(
            field(Period::new(day("2026-02-01"), day("2026-01-31"))),
            "to"
        );
        assert_eq!(
            field(Period::new(day("2010-01-01"), day("2026-01-01"))),
            "to"
        );
        let period = Period::new(day("2026-01-01"), day("2026-01-31")).unwrap();
        assert_eq!(stamp(period.start()), "2026-01-01T00:00:00Z");
        assert_eq!(stamp(period.end()), "2026-02-01T00:00:00Z");
    }

    #[test]
    fn slugs_are_plain_ascii() {
        assert_eq!(slug("Cedar & Pine: Main Office!"), "cedar-pine-main-office");
        assert_eq!(slug("../../etc"), "etc");
        assert_eq!(slug("—"), "x");
    }
}
