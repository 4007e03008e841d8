//! Input checks shared by every service, and the bounds every input obeys.
//!
//! Text: trimmed, never containing a NUL character (PostgreSQL cannot store one, and no client
//! means one), at most a per-field number of characters. Instants: observed events (when a
//! change occurred, when a ticket or alert was raised at the vendor) lie between
//! [`EARLIEST`] and now plus [`MAX_SKEW`]; planned instants (a matrix entry's validity) between
//! [`EARLIEST`] and [`LATEST`]; neither may name a leap second. A refused input writes nothing.

use chrono::{DateTime, Duration, TimeZone, Timelike, Utc};

/// Why an input was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserErrorCode {
    /// A required value is missing or empty.
    Required,
    /// The value is malformed or out of range.
    Invalid,
    /// The text is longer than allowed.
    TooLong,
    /// No object with this id exists that the caller may see.
    NotFound,
    /// Another object already uses this value.
    Taken,
    /// The object's current state does not allow the operation.
    InvalidState,
}

/// A problem with an input; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserError {
    /// The path to the input field at fault, such as `["input", "summary"]`.
    pub field: Vec<String>,
    /// Why it was refused.
    pub code: UserErrorCode,
    /// What is wrong, for people.
    pub message: String,
}

/// How far in the future an observed instant may lie: clocks of vendors and sync hosts drift.
pub const MAX_SKEW: Duration = Duration::minutes(5);

/// The earliest instant any input may name: 1970-01-01T00:00:00Z.
pub const EARLIEST: DateTime<Utc> = DateTime::UNIX_EPOCH;

/// The latest planned instant: 2100-01-01T00:00:00Z.
pub fn latest() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Collects the user errors of one input.
#[derive(Debug, Default)]
pub struct Check {
    errors: Vec<UserError>,
}

impl Check {
    /// Records an error on `input.<field>` (`field` may be a dotted path).
    pub fn fail(&mut self, field: &str, code: UserErrorCode, message: impl Into<String>) {
        let mut path = vec!["input".to_owned()];
        path.extend(field.split('.').map(str::to_owned));
        self.errors.push(UserError {
            field: path,
            code,
            message: message.into(),
        });
    }

    /// Trimmed, non-empty text of at most `max` characters without NUL, or an error.
    pub fn text(&mut self, field: &str, value: &str, max: usize) -> Option<String> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            self.fail(
                field,
                UserErrorCode::Required,
                format!("`{}` must not be empty", last(field)),
            );
            None
        } else {
            self.bounded(field, trimmed, max).map(str::to_owned)
        }
    }

    /// Like [`Check::text`] for an optional value; empty text becomes `None`.
    pub fn optional_text(
        &mut self,
        field: &str,
        value: Option<&str>,
        max: usize,
    ) -> Option<Option<String>> {
        match value.map(str::trim) {
            None | Some("") => Some(None),
            Some(text) => self
                .bounded(field, text, max)
                .map(|text| Some(text.to_owned())),
        }
    }

    /// `text` when it has at most `max` characters and no NUL, else an error.
    pub fn bounded<'t>(&mut self, field: &str, text: &'t str, max: usize) -> Option<&'t str> {
        if text.contains('\0') {
            self.fail(
                field,
                UserErrorCode::Invalid,
                format!("`{}` must not contain a NUL character", last(field)),
            );
            None
        } else if text.chars().count() > max {
            self.fail(
                field,
                UserErrorCode::TooLong,
                format!("`{}` must be at most {max} characters", last(field)),
            );
            None
        } else {
            Some(text)
        }
    }

    /// An instant something was observed to happen: from 1970 to now plus [`MAX_SKEW`], at the
    /// precision both databases keep.
    pub fn observed_instant(
        &mut self,
        field: &str,
        value: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        self.instant_between(field, value, EARLIEST, now + MAX_SKEW, "now")
    }

    /// A planned instant, such as the start of a matrix entry: from 1970 to 2100.
    pub fn planned_instant(&mut self, field: &str, value: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.instant_between(field, value, EARLIEST, latest(), "2100-01-01")
    }

    fn instant_between(
        &mut self,
        field: &str,
        value: DateTime<Utc>,
        earliest: DateTime<Utc>,
        latest: DateTime<Utc>,
        latest_name: &str,
    ) -> Option<DateTime<Utc>> {
        // chrono keeps a leap second as a nanosecond count of a second or more.
        if value.nanosecond() >= 1_000_000_000 {
            self.fail(
                field,
                UserErrorCode::Invalid,
                format!("`{}` must not be a leap second", last(field)),
            );
            return None;
        }
        if value < earliest || value > latest {
            self.fail(
                field,
                UserErrorCode::Invalid,
                format!(
                    "`{}` must lie between 1970-01-01T00:00:00Z and {latest_name}",
                    last(field)
                ),
            );
            return None;
        }
        Some(crate::services::unit::precise(value))
    }

    /// Whether no error was recorded.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// The errors recorded.
    pub fn into_errors(self) -> Vec<UserError> {
        self.errors
    }

    /// Adds the errors of `other`.
    pub fn extend(&mut self, other: Vec<UserError>) {
        self.errors.extend(other);
    }
}

fn last(field: &str) -> &str {
    field.rsplit('.').next().unwrap_or(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_refuses_nul_and_overlong_values() {
        let mut check = Check::default();
        assert_eq!(check.text("summary", "  ok  ", 10), Some("ok".to_owned()));
        assert_eq!(check.text("summary", "a\0b", 10), None);
        assert_eq!(check.text("summary", &"x".repeat(11), 10), None);
        assert_eq!(check.optional_text("reason", Some("   "), 10), Some(None));
        let codes: Vec<_> = check.into_errors().into_iter().map(|e| e.code).collect();
        assert_eq!(codes, [UserErrorCode::Invalid, UserErrorCode::TooLong]);
    }

    #[test]
    fn observed_instants_lie_between_1970_and_now() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let mut check = Check::default();
        assert!(check.observed_instant("at", now, now).is_some());
        assert!(
            check
                .observed_instant("at", now + Duration::minutes(4), now)
                .is_some()
        );
        assert!(
            check
                .observed_instant("at", now + Duration::minutes(6), now)
                .is_none()
        );
        let year_zero = Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap();
        assert!(check.observed_instant("at", year_zero, now).is_none());
        let leap = DateTime::parse_from_rfc3339("2016-12-31T23:59:60Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(check.observed_instant("at", leap, now).is_none());
        let far = Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0).unwrap();
        assert!(check.planned_instant("at", far).is_none());
        assert_eq!(check.into_errors().len(), 4);
    }
}
