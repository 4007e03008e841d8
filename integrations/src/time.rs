//! Every timestamp format the vendors use, read as UTC: RFC 3339 with `Z` or an offset
//! (ConnectWise, Autotask), ISO without a zone (HaloPSA; taken as UTC), epoch seconds as a float
//! (NinjaOne) and epoch milliseconds (Datto RMM).

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

/// An ISO 8601 instant with or without a zone; without one it is taken as UTC.
#[must_use]
pub fn iso(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Some(instant.with_timezone(&Utc));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    .map(|naive| Utc.from_utc_datetime(&naive))
}

/// Epoch seconds, possibly fractional.
#[must_use]
pub fn epoch_seconds(value: f64) -> Option<DateTime<Utc>> {
    if !value.is_finite() {
        return None;
    }
    let micros = (value * 1_000_000.0).round() as i64;
    DateTime::from_timestamp_micros(micros)
}

/// Epoch milliseconds.
#[must_use]
pub fn epoch_millis(value: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(value)
}

/// A JSON value that is an ISO string or an epoch number: seconds below 10^11, else milliseconds
/// (10^11 seconds is the year 5138; 10^11 milliseconds is 1973).
#[must_use]
pub fn any(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::String(text) => iso(text),
        Value::Number(number) => {
            let raw = number.as_f64()?;
            if raw.abs() < 1e11 {
                epoch_seconds(raw)
            } else {
                epoch_millis(raw as i64)
            }
        }
        _ => None,
    }
}

/// `instant` as the vendors expect it in filters: RFC 3339, whole seconds, `Z`.
#[must_use]
pub fn format(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_vendor_format_ends_as_the_same_utc_instant() {
        let expected = Utc.with_ymd_and_hms(2025, 3, 5, 14, 2, 11).unwrap();
        assert_eq!(iso("2025-03-05T14:02:11Z"), Some(expected));
        assert_eq!(iso("2025-03-05T15:02:11+01:00"), Some(expected));
        assert_eq!(iso("2025-03-05T14:02:11"), Some(expected));
        assert_eq!(any(&json!(1_741_183_331.0)), Some(expected));
        assert_eq!(any(&json!(1_741_183_331_000_i64)), Some(expected));
        assert_eq!(
            iso("2025-03-05T14:02:11.473Z").map(|at| at.timestamp_subsec_millis()),
            Some(473)
        );
        assert_eq!(iso("yesterday"), None);
        assert_eq!(any(&json!(null)), None);
    }
}
