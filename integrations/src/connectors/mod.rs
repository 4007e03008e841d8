//! One module per vendor, ticket notes (`notes`, shared by the PSAs), and the small JSON
//! helpers they share.

pub mod autotask;
pub mod connectwise;
pub mod datto;
pub mod halopsa;
pub mod ninjaone;
pub mod notes;

use serde_json::Value;

use crate::model::{Record, RecordError};

/// Reads each of `items` with `read`; a record that fails becomes a [`RecordError`] with its id.
pub(crate) fn records(
    items: &[Value],
    read: impl Fn(&Value) -> Result<Record, String>,
) -> Vec<Result<Record, RecordError>> {
    items
        .iter()
        .map(|item| read(item).map_err(|reason| RecordError::of(item, reason)))
        .collect()
}

/// The value at `path` (keys separated by `/`).
pub(crate) fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('/').try_fold(value, |value, key| value.get(key))
}

/// A non-empty string at `path`.
pub(crate) fn text(value: &Value, path: &str) -> Option<String> {
    at(value, path)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

/// An id at `path`, a number or a non-empty string, as a string.
pub(crate) fn id(value: &Value, path: &str) -> Option<String> {
    match at(value, path)? {
        Value::Number(number) => Some(number.to_string()),
        Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        _ => None,
    }
}

/// A required id at `path`, or the reason it is missing.
pub(crate) fn required_id(value: &Value, path: &str) -> Result<String, String> {
    id(value, path).ok_or_else(|| format!("`{path}` is missing or not an id"))
}

/// A required non-empty string at `path`, or the reason it is missing.
pub(crate) fn required_text(value: &Value, path: &str) -> Result<String, String> {
    text(value, path).ok_or_else(|| format!("`{path}` is missing or empty"))
}

/// The first string of the array at `path`.
pub(crate) fn first_text(value: &Value, path: &str) -> Option<String> {
    at(value, path)?
        .as_array()?
        .iter()
        .find_map(|item| item.as_str().map(str::to_owned))
}
