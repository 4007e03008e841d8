//! OAuth2 access tokens for the vendors that use them (HaloPSA and NinjaOne: client
//! credentials; Datto RMM: the password grant with its public client), cached until shortly
//! before they expire and fetched again when the vendor refuses one mid-sync.
//!
//! The `oauth2` crate builds the token requests and reads the responses; it talks HTTP through
//! the connectors' reqwest client.

use std::time::{Duration, Instant};

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, ClientId, ClientSecret, ResourceOwnerPassword, ResourceOwnerUsername, Scope,
    TokenResponse, TokenUrl,
};
use tokio::sync::Mutex;

use crate::error::ConnectorError;
use crate::http::HttpClient;

/// Which grant to use.
#[derive(Clone)]
pub enum Grant {
    /// Client credentials with these scopes.
    ClientCredentials {
        /// Scopes, space-joined on the wire.
        scopes: Vec<String>,
    },
    /// The resource owner password grant (Datto RMM: API key and secret).
    Password {
        /// The username (Datto: the API key).
        username: String,
        /// The password (Datto: the API secret).
        password: String,
    },
}

/// Where and how to get tokens.
#[derive(Clone)]
pub struct OAuthConfig {
    /// The token endpoint.
    pub token_url: String,
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
    /// The grant.
    pub grant: Grant,
    /// Client credentials in an HTTP Basic header (else in the form body).
    pub basic_auth: bool,
    /// Extra form parameters (HaloPSA hosted tenants: `tenant`).
    pub extra: Vec<(String, String)>,
}

struct Cached {
    token: String,
    renew_at: Instant,
}

/// A cached access token.
pub struct TokenSource {
    config: OAuthConfig,
    http: reqwest::Client,
    policy: crate::http::RetryPolicy,
    cached: Mutex<Option<Cached>>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct HttpError(String);

impl TokenSource {
    /// A token source; no request is made until a token is needed.
    #[must_use]
    pub fn new(config: OAuthConfig, http: &HttpClient) -> Self {
        Self {
            config,
            http: http.client().clone(),
            policy: http.policy(),
            cached: Mutex::new(None),
        }
    }

    /// A valid access token: the cached one, or a new one.
    ///
    /// # Errors
    /// [`ConnectorError::Unauthorized`] when the vendor refuses the credentials, other errors
    /// when it cannot be reached.
    pub async fn token(&self) -> Result<String, ConnectorError> {
        let mut cached = self.cached.lock().await;
        if let Some(found) = cached
            .as_ref()
            .filter(|found| found.renew_at > Instant::now())
        {
            return Ok(found.token.clone());
        }
        let (token, lifetime) = self.fetch_with_retries().await?;
        // Renew a minute early (or at half-life for short tokens) so no request carries a
        // token that expires in flight.
        let margin = (lifetime / 2).min(Duration::from_secs(60));
        *cached = Some(Cached {
            token: token.clone(),
            renew_at: Instant::now() + lifetime.saturating_sub(margin),
        });
        Ok(token)
    }

    /// Forgets `stale` (a token the vendor just refused), so the next call fetches a new one.
    pub async fn invalidate(&self, stale: &str) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|found| found.token == stale) {
            *cached = None;
        }
    }

    /// GETs `url` with `query` and a bearer token, as JSON. After a 401 (a token that expired or
    /// was revoked mid-sync) it forgets the token, fetches a new one and tries once more.
    ///
    /// # Errors
    /// As [`HttpClient::json`], or the token request's error.
    pub async fn get_json(
        &self,
        http: &HttpClient,
        url: &str,
        query: &[(&str, String)],
    ) -> Result<serde_json::Value, ConnectorError> {
        let mut retried = false;
        loop {
            let token = self.token().await?;
            let result = http
                .json(|| http.client().get(url).query(query).bearer_auth(&token))
                .await;
            match result {
                Err(ConnectorError::Unauthorized(_)) if !retried => {
                    self.invalidate(&token).await;
                    retried = true;
                }
                other => return other.map(|(value, _)| value),
            }
        }
    }

    /// [`Self::fetch`], again after transient failures, with the connectors' retry policy.
    async fn fetch_with_retries(&self) -> Result<(String, Duration), ConnectorError> {
        use backon::{ExponentialBuilder, Retryable};
        let policy = self.policy;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(policy.min_delay)
            .with_max_delay(policy.max_delay)
            .with_max_times(policy.attempts.saturating_sub(1))
            .with_jitter();
        (|| self.fetch())
            .retry(backoff)
            .when(ConnectorError::is_transient)
            .notify(|error, delay| tracing::warn!(%error, ?delay, "retrying a token request"))
            .await
    }

    async fn fetch(&self) -> Result<(String, Duration), ConnectorError> {
        let config = &self.config;
        let token_url = TokenUrl::new(config.token_url.clone())
            .map_err(|error| ConnectorError::Config(format!("token URL: {error}")))?;
        let client = BasicClient::new(ClientId::new(config.client_id.clone()))
            .set_client_secret(ClientSecret::new(config.client_secret.clone()))
            .set_token_uri(token_url)
            .set_auth_type(if config.basic_auth {
                AuthType::BasicAuth
            } else {
                AuthType::RequestBody
            });
        let http = self.http.clone();
        let send = move |request: oauth2::HttpRequest| {
            let http = http.clone();
            async move {
                let (parts, body) = request.into_parts();
                let response = http
                    .request(parts.method, parts.uri.to_string())
                    .headers(parts.headers)
                    .body(body)
                    .send()
                    .await
                    .map_err(|error| HttpError(error.without_url().to_string()))?;
                // An overloaded or failing token endpoint is not a refusal: retried as transient.
                let status = response.status();
                if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                    return Err(HttpError(format!("the token endpoint answered {status}")));
                }
                let mut built = http::Response::builder().status(response.status());
                for (name, value) in response.headers() {
                    built = built.header(name, value);
                }
                let body = response
                    .bytes()
                    .await
                    .map_err(|error| HttpError(error.to_string()))?;
                built
                    .body(body.to_vec())
                    .map_err(|error| HttpError(error.to_string()))
            }
        };
        let result = match &config.grant {
            Grant::ClientCredentials { scopes } => {
                let mut request = client.exchange_client_credentials();
                for scope in scopes {
                    request = request.add_scope(Scope::new(scope.clone()));
                }
                for (name, value) in &config.extra {
                    request = request.add_extra_param(name.clone(), value.clone());
                }
                request.request_async(&send).await
            }
            Grant::Password { username, password } => {
                let username = ResourceOwnerUsername::new(username.clone());
                let password = ResourceOwnerPassword::new(password.clone());
                let mut request = client.exchange_password(&username, &password);
                for (name, value) in &config.extra {
                    request = request.add_extra_param(name.clone(), value.clone());
                }
                request.request_async(&send).await
            }
        };
        match result {
            Ok(response) => Ok((
                response.access_token().secret().clone(),
                response.expires_in().unwrap_or(Duration::from_secs(3600)),
            )),
            Err(oauth2::RequestTokenError::ServerResponse(refused)) => {
                Err(ConnectorError::Unauthorized(format!(
                    "token request refused: {}",
                    refused
                        .error_description()
                        .cloned()
                        .unwrap_or_else(|| refused.error().to_string())
                )))
            }
            Err(oauth2::RequestTokenError::Request(error)) => {
                Err(ConnectorError::Transport(format!("token request: {error}")))
            }
            // The body may be a token response with an odd field: never echo it.
            Err(oauth2::RequestTokenError::Parse(_, _)) => Err(ConnectorError::Unauthorized(
                "the token endpoint answered with something other than a token or an OAuth error"
                    .to_owned(),
            )),
            Err(oauth2::RequestTokenError::Other(message)) => {
                Err(ConnectorError::Unauthorized(message))
            }
        }
    }
}
