//! JSON Web Tokens: the claims Tandem reads, and the keys that verify and sign them.

use std::time::Duration;

use anyhow::Context;
use entities::enums::Role;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::config::AuthSettings;
use crate::error::ApiError;

/// The claims of a Tandem token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The person's subject (`people.subject`).
    pub sub: String,
    /// The slug of the person's organization.
    pub org: String,
    /// What the token may do.
    pub role: Role,
    /// Expiry, in seconds since the epoch. Required.
    pub exp: u64,
    /// Issued at, in seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// The integration this token was issued for (its id), for sync jobs: only such a token
    /// may record what a PSA or RMM observed. Requires the role `INTEGRATION`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration: Option<uuid::Uuid>,
    /// Issuer, checked when `TANDEM_JWT_ISSUER` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience, checked when `TANDEM_JWT_AUDIENCE` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// Where verification keys come from.
enum Verifier {
    /// One key, configured up front (HS256 secret or RS256 PEM).
    Static(DecodingKey),
    /// The identity provider's key set, fetched from its JWKS URL and cached.
    Jwks(JwksCache),
}

/// The keys and rules for verifying tokens, and, with a shared secret, for minting them.
pub struct JwtKeys {
    verifier: Verifier,
    /// Present only for HS256: an RS256 deployment verifies with a public key and cannot sign.
    encoding: Option<EncodingKey>,
    algorithm: Algorithm,
    validation: Validation,
    issuer: Option<String>,
    audience: Option<String>,
    /// The longest `exp - iat` accepted (see [`DEFAULT_MAX_LIFETIME`]).
    max_lifetime: Duration,
}

/// The longest token lifetime accepted unless configured (`TANDEM_MAX_TOKEN_LIFETIME`).
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// How far a token's clock may run ahead of ours (`nbf`, `iat`) or behind (`exp`), in seconds.
const LEEWAY: u64 = 30;

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The keys themselves are never printed.
        formatter
            .debug_struct("JwtKeys")
            .field("algorithm", &self.algorithm)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("max_lifetime", &self.max_lifetime)
            .finish_non_exhaustive()
    }
}

impl JwtKeys {
    /// HS256 with a shared secret.
    ///
    /// # Errors
    /// When the secret is shorter than 32 bytes, which would make tokens guessable.
    pub fn hs256(secret: &SecretString) -> anyhow::Result<Self> {
        let bytes = secret.expose_secret().as_bytes();
        anyhow::ensure!(
            bytes.len() >= 32,
            "TANDEM_JWT_SECRET must be at least 32 bytes long (it has {})",
            bytes.len()
        );
        Ok(Self::build(
            Algorithm::HS256,
            Verifier::Static(DecodingKey::from_secret(bytes)),
            Some(EncodingKey::from_secret(bytes)),
        ))
    }

    /// RS256 with an RSA public key in PEM form: verification only.
    ///
    /// # Errors
    /// When the PEM does not hold an RSA public key.
    pub fn rs256_public_pem(pem: &[u8]) -> anyhow::Result<Self> {
        let decoding = DecodingKey::from_rsa_pem(pem)
            .context("TANDEM_JWT_PUBLIC_KEY is not an RSA public key in PEM form")?;
        Ok(Self::build(
            Algorithm::RS256,
            Verifier::Static(decoding),
            None,
        ))
    }

    /// RS256 with the keys published at a JWKS URL, fetched on first use and cached
    /// ([`JWKS_TTL`]); a token naming an unknown key id triggers a refetch (at most every
    /// [`JWKS_RETRY`]), so the identity provider can rotate keys.
    ///
    /// # Errors
    /// When the URL is not http(s) or no HTTP client can be built.
    pub fn rs256_jwks(url: url::Url) -> anyhow::Result<Self> {
        anyhow::ensure!(
            matches!(url.scheme(), "https" | "http"),
            "TANDEM_JWT_JWKS_URL must be an http(s) URL"
        );
        let client = crate::tls::client(Duration::from_secs(10))
            .context("cannot build the JWKS HTTP client")?;
        let cache = JwksCache {
            url,
            client,
            state: tokio::sync::RwLock::new(JwksState::default()),
        };
        Ok(Self::build(Algorithm::RS256, Verifier::Jwks(cache), None))
    }

    /// A fresh random HS256 secret, for `serve --demo` without a configured one.
    ///
    /// # Errors
    /// When the operating system has no randomness to give.
    pub fn random() -> anyhow::Result<Self> {
        let mut bytes = [0u8; 48];
        getrandom::fill(&mut bytes).map_err(|error| anyhow::anyhow!("no randomness: {error}"))?;
        let secret: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        Self::hs256(&SecretString::from(secret))
    }

    /// The keys `settings` describe, or `None` when none are configured.
    ///
    /// # Errors
    /// When a configured key is unusable.
    pub fn from_settings(settings: &AuthSettings) -> anyhow::Result<Option<Self>> {
        let keys = if let Some(secret) = &settings.jwt_secret {
            Self::hs256(secret)?
        } else if let Some(url) = &settings.jwt_jwks_url {
            Self::rs256_jwks(url.clone())?
        } else if let Some(path) = &settings.jwt_public_key {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read TANDEM_JWT_PUBLIC_KEY {}", path.display()))?;
            Self::rs256_public_pem(&pem)?
        } else {
            return Ok(None);
        };
        Ok(Some(
            keys.with_issuer(settings.jwt_issuer.clone())
                .with_audience(settings.jwt_audience.clone())
                .with_max_lifetime(settings.max_token_lifetime),
        ))
    }

    fn build(algorithm: Algorithm, verifier: Verifier, encoding: Option<EncodingKey>) -> Self {
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.leeway = LEEWAY;
        Self {
            verifier,
            encoding,
            algorithm,
            validation,
            issuer: None,
            audience: None,
            max_lifetime: DEFAULT_MAX_LIFETIME,
        }
    }

    /// Refuses tokens that live longer than `max_lifetime` (and will not mint them).
    pub fn with_max_lifetime(mut self, max_lifetime: Duration) -> Self {
        self.max_lifetime = max_lifetime;
        self
    }

    /// Requires `iss` to equal `issuer` when it is `Some`.
    pub fn with_issuer(mut self, issuer: Option<String>) -> Self {
        if let Some(issuer) = &issuer {
            self.validation.set_issuer(&[issuer]);
            self.validation
                .required_spec_claims
                .insert("iss".to_owned());
        }
        self.issuer = issuer;
        self
    }

    /// Requires `aud` to contain `audience` when it is `Some`.
    pub fn with_audience(mut self, audience: Option<String>) -> Self {
        if let Some(audience) = &audience {
            self.validation.set_audience(&[audience]);
            self.validation.validate_aud = true;
            self.validation
                .required_spec_claims
                .insert("aud".to_owned());
        }
        self.audience = audience;
        self
    }

    /// Verifies `token` and returns its claims.
    ///
    /// # Errors
    /// [`ApiError::Unauthenticated`] with a message that says what is wrong (expired, bad
    /// signature, malformed, missing claim, wrong issuer or audience, `nbf` or `iat` in the
    /// future, a lifetime above the maximum), never echoing the token.
    pub async fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        let decoding = match &self.verifier {
            Verifier::Static(key) => key.clone(),
            Verifier::Jwks(cache) => cache.key_for(token).await?,
        };
        // Decoding into a map first lets a missing or malformed claim be named precisely,
        // instead of surfacing as one opaque deserialization error.
        let claims = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
            token,
            &decoding,
            &self.validation,
        )
        .map_err(|error| {
            let reason = match error.kind() {
                ErrorKind::ExpiredSignature => "token has expired".to_owned(),
                ErrorKind::InvalidSignature => "token signature is invalid".to_owned(),
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    format!("token must be signed with {:?}", self.algorithm)
                }
                ErrorKind::InvalidIssuer => "token issuer is not accepted".to_owned(),
                ErrorKind::InvalidAudience => "token audience is not accepted".to_owned(),
                ErrorKind::MissingRequiredClaim(claim) => {
                    format!("token lacks the required claim `{claim}`")
                }
                ErrorKind::ImmatureSignature => {
                    "token claim `nbf` is in the future: the token is not valid yet".to_owned()
                }
                _ => "token is malformed".to_owned(),
            };
            ApiError::Unauthenticated(reason)
        })?
        .claims;
        for claim in ["sub", "org", "role"] {
            if !claims.get(claim).is_some_and(serde_json::Value::is_string) {
                return Err(ApiError::Unauthenticated(format!(
                    "token lacks the required claim `{claim}`"
                )));
            }
        }
        self.check_times(&claims, jsonwebtoken::get_current_timestamp())?;
        serde_json::from_value(serde_json::Value::Object(claims)).map_err(|_| {
            ApiError::Unauthenticated(
                "token claim `role` must be one of ADMIN, MEMBER, VIEWER, INTEGRATION".to_owned(),
            )
        })
    }

    /// Refuses an `iat` in the future and a lifetime (`exp - iat`, or `exp - now` without
    /// `iat`) above the maximum, `now` being seconds since the epoch. `exp` and `nbf` were
    /// checked by the decoder; a token minted a year ahead, or for a year, is refused here.
    fn check_times(
        &self,
        claims: &serde_json::Map<String, serde_json::Value>,
        now: u64,
    ) -> Result<(), ApiError> {
        let number = |claim: &str| -> Result<Option<u64>, ApiError> {
            match claims.get(claim) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(value) => value.as_u64().map(Some).ok_or_else(|| {
                    ApiError::Unauthenticated(format!(
                        "token claim `{claim}` must be a number of seconds since the epoch"
                    ))
                }),
            }
        };
        let exp = number("exp")?.unwrap_or(now);
        let iat = number("iat")?;
        if let Some(iat) = iat
            && iat > now + LEEWAY
        {
            return Err(ApiError::Unauthenticated(
                "token claim `iat` is in the future: the token was issued later than now"
                    .to_owned(),
            ));
        }
        let (lifetime, from) = match iat {
            Some(iat) => (exp.saturating_sub(iat), "`exp - iat`"),
            None => (exp.saturating_sub(now), "`exp` from now"),
        };
        let max = self.max_lifetime.as_secs();
        if lifetime > max {
            return Err(ApiError::Unauthenticated(format!(
                "token claim `exp` is too far ahead: the token lives {} ({from}), longer than \
                 the maximum of {}",
                readable(lifetime),
                readable(max),
            )));
        }
        Ok(())
    }

    /// Signs a token for `sub` in `org` with `role`, valid for `ttl`.
    ///
    /// # Errors
    /// When these keys cannot sign (RS256 verification-only keys).
    pub fn mint(&self, sub: &str, org: &str, role: Role, ttl: Duration) -> anyhow::Result<String> {
        self.mint_claims(sub, org, role, None, ttl)
    }

    /// Signs a token for `sub` in `org` issued for integration `integration` (role
    /// `INTEGRATION`), valid for `ttl`.
    ///
    /// # Errors
    /// When these keys cannot sign (RS256 verification-only keys).
    pub fn mint_for_integration(
        &self,
        sub: &str,
        org: &str,
        integration: uuid::Uuid,
        ttl: Duration,
    ) -> anyhow::Result<String> {
        self.mint_claims(sub, org, Role::Integration, Some(integration), ttl)
    }

    fn mint_claims(
        &self,
        sub: &str,
        org: &str,
        role: Role,
        integration: Option<uuid::Uuid>,
        ttl: Duration,
    ) -> anyhow::Result<String> {
        let encoding = self
            .encoding
            .as_ref()
            .context("tokens can be minted only with a shared secret (TANDEM_JWT_SECRET)")?;
        anyhow::ensure!(
            ttl <= self.max_lifetime,
            "a token valid for {} would be refused: the maximum lifetime is {} \
             (TANDEM_MAX_TOKEN_LIFETIME)",
            readable(ttl.as_secs()),
            readable(self.max_lifetime.as_secs())
        );
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: sub.to_owned(),
            org: org.to_owned(),
            role,
            exp: now + ttl.as_secs(),
            iat: Some(now),
            integration,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        jsonwebtoken::encode(&Header::new(self.algorithm), &claims, encoding)
            .context("cannot sign token")
    }
}

/// `seconds` in the largest whole unit of hours, minutes or seconds: `8760h`, `90m`, `61s`.
pub(crate) fn readable(seconds: u64) -> String {
    if seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else if seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> JwtKeys {
        JwtKeys::hs256(&SecretString::from(
            "0123456789abcdef0123456789abcdef".to_owned(),
        ))
        .unwrap()
    }

    #[tokio::test]
    async fn minted_tokens_verify_with_the_same_secret() {
        let keys = keys();
        let token = keys
            .mint("alice", "acme", Role::Admin, Duration::from_secs(60))
            .unwrap();
        let claims = keys.verify(&token).await.unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.org.as_str(), claims.role),
            ("alice", "acme", Role::Admin)
        );
    }

    /// A token with `claims` as they are, signed with the test secret.
    fn signed(claims: serde_json::Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap()
    }

    async fn refusal(keys: &JwtKeys, claims: serde_json::Value) -> String {
        keys.verify(&signed(claims)).await.unwrap_err().to_string()
    }

    #[tokio::test]
    async fn refuses_tokens_from_the_future_and_tokens_that_live_too_long() {
        let now = jsonwebtoken::get_current_timestamp();
        let base = |extra: serde_json::Value| {
            let mut claims = serde_json::json!({ "sub": "alice", "org": "acme", "role": "ADMIN" });
            claims
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            claims
        };
        let keys = keys();
        let year = 365 * 24 * 3600;
        assert_eq!(
            refusal(
                &keys,
                base(serde_json::json!({ "exp": now + 7200, "nbf": now + 3600 }))
            )
            .await,
            "token claim `nbf` is in the future: the token is not valid yet"
        );
        assert_eq!(
            refusal(
                &keys,
                base(serde_json::json!({ "exp": now + year + 60, "iat": now + year }))
            )
            .await,
            "token claim `iat` is in the future: the token was issued later than now"
        );
        assert_eq!(
            refusal(
                &keys,
                base(serde_json::json!({ "exp": now + year, "iat": now }))
            )
            .await,
            "token claim `exp` is too far ahead: the token lives 8760h (`exp - iat`), longer than \
             the maximum of 24h"
        );
        // Without `iat`, the lifetime counts from now (a second may have passed).
        let without_iat = refusal(&keys, base(serde_json::json!({ "exp": now + 2 * 86400 }))).await;
        assert!(
            without_iat.starts_with("token claim `exp` is too far ahead: the token lives ")
                && without_iat.ends_with(" (`exp` from now), longer than the maximum of 24h"),
            "{without_iat}"
        );
        assert_eq!(
            refusal(
                &keys,
                base(serde_json::json!({ "exp": now + 60, "iat": "yesterday" }))
            )
            .await,
            "token claim `iat` must be a number of seconds since the epoch"
        );
        // Within the leeway, and at exactly the maximum, tokens are accepted.
        for claims in [
            serde_json::json!({ "exp": now + 3600, "nbf": now + 10, "iat": now + 10 }),
            serde_json::json!({ "exp": now + 86400, "iat": now }),
            serde_json::json!({ "exp": now + 3600 }),
        ] {
            let token = signed(base(claims.clone()));
            assert!(keys.verify(&token).await.is_ok(), "{claims}");
        }
        // The maximum is configurable.
        let longer = keys.with_max_lifetime(Duration::from_secs(2 * year));
        let token = signed(base(serde_json::json!({ "exp": now + year, "iat": now })));
        assert!(longer.verify(&token).await.is_ok());
    }

    #[test]
    fn refuses_to_mint_tokens_above_the_maximum_lifetime() {
        let keys = keys().with_max_lifetime(Duration::from_secs(3600));
        assert!(
            keys.mint("alice", "acme", Role::Admin, Duration::from_secs(3600))
                .is_ok()
        );
        let error = keys
            .mint("alice", "acme", Role::Admin, Duration::from_secs(3601))
            .unwrap_err();
        assert!(
            error.to_string().contains("TANDEM_MAX_TOKEN_LIFETIME"),
            "{error}"
        );
    }

    #[test]
    fn rejects_short_secrets() {
        let error = JwtKeys::hs256(&SecretString::from("short".to_owned())).unwrap_err();
        assert!(error.to_string().contains("at least 32 bytes"), "{error}");
    }

    #[tokio::test]
    async fn checks_issuer_and_audience_when_configured() {
        let minting = keys().with_issuer(Some("other".into()));
        let token = minting
            .mint("alice", "acme", Role::Viewer, Duration::from_secs(60))
            .unwrap();
        let verifying = keys().with_issuer(Some("tandem".into()));
        let error = verifying.verify(&token).await.unwrap_err();
        assert_eq!(error.to_string(), "token issuer is not accepted");

        let token = keys()
            .mint("alice", "acme", Role::Viewer, Duration::from_secs(60))
            .unwrap();
        let error = keys()
            .with_audience(Some("tandem".into()))
            .verify(&token)
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "token lacks the required claim `aud`");
    }
}

/// How long fetched JWKS keys are trusted before they are fetched again.
pub const JWKS_TTL: Duration = Duration::from_secs(600);
/// The least time between two fetches triggered by unknown key ids.
pub const JWKS_RETRY: Duration = Duration::from_secs(30);

struct JwksCache {
    url: url::Url,
    client: reqwest::Client,
    state: tokio::sync::RwLock<JwksState>,
}

#[derive(Default)]
struct JwksState {
    keys: std::collections::HashMap<String, DecodingKey>,
    fetched_at: Option<std::time::Instant>,
    attempted_at: Option<std::time::Instant>,
}

impl JwksCache {
    /// The key that signed `token`, by its `kid`.
    async fn key_for(&self, token: &str) -> Result<DecodingKey, ApiError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| ApiError::Unauthenticated("token is malformed".to_owned()))?;
        if header.alg != Algorithm::RS256 {
            return Err(ApiError::Unauthenticated(
                "token must be signed with RS256".to_owned(),
            ));
        }
        let kid = header
            .kid
            .ok_or_else(|| ApiError::Unauthenticated("token lacks a key id (`kid`)".to_owned()))?;
        {
            let state = self.state.read().await;
            let fresh = state.fetched_at.is_some_and(|at| at.elapsed() < JWKS_TTL);
            if let Some(key) = state.keys.get(&kid).filter(|_| fresh) {
                return Ok(key.clone());
            }
        }
        let mut state = self.state.write().await;
        let fresh = state.fetched_at.is_some_and(|at| at.elapsed() < JWKS_TTL);
        let may_retry = state
            .attempted_at
            .is_none_or(|at| at.elapsed() >= JWKS_RETRY);
        if (!fresh || !state.keys.contains_key(&kid)) && may_retry {
            state.attempted_at = Some(std::time::Instant::now());
            match self.fetch().await {
                Ok(keys) => {
                    state.keys = keys;
                    state.fetched_at = Some(std::time::Instant::now());
                }
                // Keep serving the keys we have; without them, say the service is unavailable
                // rather than blaming the token.
                Err(error) => {
                    tracing::warn!(error = %error, jwks.url = %self.url, "cannot fetch the token signing keys");
                    if state.keys.is_empty() {
                        return Err(ApiError::request(
                            crate::error::ErrorCode::ServiceUnavailable,
                            "cannot fetch the token signing keys; try again shortly",
                        ));
                    }
                }
            }
        }
        state.keys.get(&kid).cloned().ok_or_else(|| {
            ApiError::Unauthenticated("token is signed with an unknown key".to_owned())
        })
    }

    async fn fetch(&self) -> anyhow::Result<std::collections::HashMap<String, DecodingKey>> {
        let set: jsonwebtoken::jwk::JwkSet = self
            .client
            .get(self.url.clone())
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let keys: std::collections::HashMap<String, DecodingKey> = set
            .keys
            .iter()
            .filter_map(|jwk| Some((jwk.common.key_id.clone()?, DecodingKey::from_jwk(jwk).ok()?)))
            .collect();
        anyhow::ensure!(
            !keys.is_empty(),
            "the key set has no usable key with a `kid`"
        );
        Ok(keys)
    }
}
