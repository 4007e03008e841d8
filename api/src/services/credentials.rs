//! An integration's credentials at rest: a JSON object sealed with `TANDEM_SECRET_KEY`, bound to
//! the integration's id. Sealed by the integration services (`services::integration`), opened
//! only in memory by the sync engine (for a run and for `testIntegration`) and the webhook
//! receiver; never returned, never logged.

use integrations::secrets::{SecretError, SecretKey};
use serde_json::Value;
use uuid::Uuid;

/// Seals `credentials` for the integration `id`.
///
/// # Errors
/// [`SecretError::NoKey`] when no key is configured.
pub fn seal(
    key: Option<&SecretKey>,
    id: Uuid,
    credentials: &Value,
) -> Result<Vec<u8>, SecretError> {
    let key = key.ok_or(SecretError::NoKey)?;
    Ok(key.seal(id.as_bytes(), credentials.to_string().as_bytes()))
}

/// Opens the credentials of the integration `id`; an integration without stored credentials has
/// an empty object.
///
/// # Errors
/// [`SecretError::NoKey`] or [`SecretError::CannotOpen`].
pub fn open(
    key: Option<&SecretKey>,
    id: Uuid,
    sealed: Option<&[u8]>,
) -> Result<Value, SecretError> {
    let Some(sealed) = sealed else {
        return Ok(Value::Object(serde_json::Map::new()));
    };
    let key = key.ok_or(SecretError::NoKey)?;
    let opened = key.open(id.as_bytes(), sealed)?;
    serde_json::from_slice(&opened).map_err(|_| SecretError::CannotOpen)
}
