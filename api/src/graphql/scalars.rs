//! Scalars beyond GraphQL's own: `Date` (a calendar day) and `JSON` (free-form objects).
//! `DateTime` (an RFC 3339 instant, always UTC on output) comes from async-graphql, with our
//! own description (`super::DATE_TIME_DESCRIPTION`).

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::NaiveDate;

/// A calendar date, `YYYY-MM-DD`, with no time zone: contracts start and end on days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub NaiveDate);

/// A calendar date, `YYYY-MM-DD` (ISO 8601), with no time zone.
#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| {
                    InputValueError::custom(format!("`{text}` is not a date like 2026-03-01"))
                }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

/// Free-form structured data: a JSON object (or any JSON value) passed through as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Json(pub serde_json::Value);

/// Free-form structured data, as JSON.
#[Scalar(name = "JSON")]
impl ScalarType for Json {
    fn parse(value: Value) -> InputValueResult<Self> {
        value
            .into_json()
            .map(Json)
            .map_err(|error| InputValueError::custom(error.to_string()))
    }

    fn to_value(&self) -> Value {
        // Walked by reference: `Value::from_json` wants an owned copy and goes through serde, a
        // second deep copy of every change log entry's `details` on a page.
        graphql_value(&self.0)
    }
}

/// `json` as a GraphQL value, in one pass.
fn graphql_value(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(value) => Value::Boolean(*value),
        serde_json::Value::Number(number) => Value::Number(number.clone()),
        serde_json::Value::String(text) => Value::String(text.clone()),
        serde_json::Value::Array(items) => Value::List(items.iter().map(graphql_value).collect()),
        serde_json::Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, value)| (async_graphql::Name::new(name), graphql_value(value)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_converts_to_the_value_serde_would_give() {
        let json = serde_json::json!({
            "before": { "ports": [80, 443], "enabled": true, "ratio": 0.5, "owner": null },
            "after": "text with \"quotes\"",
            "count": -3,
        });
        assert_eq!(
            Json(json.clone()).to_value(),
            Value::from_json(json).unwrap()
        );
    }
}
