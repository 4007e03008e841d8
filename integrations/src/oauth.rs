//! OAuth2 access tokens for the vendors that use them (HaloPSA and NinjaOne: client
//! credentials; Datto RMM: the password grant with its public client), cached until shortly
//! before they expire and fetched again when the vendor refuses one mid-sync.
//!
//! The `oauth2` crate builds the token requests and reads the responses; it talks HTTP through
//! the connectors' [`HttpClient`], so token requests follow the same egress policy. A refusal is
//! reported with the token endpoint's status only: the vendor's OAuth `error` code goes to the
//! log, its `error_description` nowhere (it can quote what was sent).

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, ClientId, ClientSecret, ResourceOwnerPassword, ResourceOwnerUsername, Scope,
    TokenResponse, TokenUrl,
};
use tokio::sync::Mutex;

use crate::error::ConnectorError;
use crate::http::{HttpClient, error_for_status, host_of};

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
    http: HttpClient,
    cached: Mutex<Option<Cached>>,
}

impl TokenSource {
    /// A token source; no request is made until a token is needed.
    #[must_use]
    pub fn new(config: OAuthConfig, http: &HttpClient) -> Self {
        Self {
            config,
            http: http.clone(),
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
        // A vendor's `expires_in` is not trusted to fit an `Instant`: a day at most.
        let lifetime = lifetime.min(Duration::from_secs(24 * 60 * 60));
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
        let policy = self.http.policy();
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
        // The status of the token endpoint's last answer, for the refusal's message.
        let answered = Arc::new(AtomicU16::new(0));
        let seen = Arc::clone(&answered);
        let send = move |request: oauth2::HttpRequest| {
            let http = http.clone();
            let seen = Arc::clone(&seen);
            async move {
                let (parts, body) = request.into_parts();
                let request = http
                    .client()
                    .request(parts.method, parts.uri.to_string())
                    .headers(parts.headers)
                    .body(body)
                    .build()
                    .map_err(|error| {
                        ConnectorError::Config(format!("token URL: {}", error.without_url()))
                    })?;
                let host = host_of(request.url());
                let response = http.execute(request).await?;
                let status = response.status();
                seen.store(status.as_u16(), Ordering::Relaxed);
                // An overloaded or failing token endpoint is not a refusal: retried as
                // transient. A redirect is not followed.
                if status.is_server_error()
                    || status.is_redirection()
                    || status == reqwest::StatusCode::TOO_MANY_REQUESTS
                {
                    return Err(error_for_status(
                        status,
                        crate::http::retry_after(response.headers()),
                    ));
                }
                let mut built = http::Response::builder().status(status);
                for (name, value) in response.headers() {
                    built = built.header(name, value);
                }
                let body = crate::http::read_body(response, crate::http::MAX_TOKEN_ANSWER)
                    .await
                    .map_err(|error| match error {
                        crate::http::BodyError::TooLarge => ConnectorError::Decode(
                            "the token answer is larger than 1 MiB".to_owned(),
                        ),
                        crate::http::BodyError::Failed(_) => ConnectorError::Unreachable { host },
                    })?;
                built
                    .body(body)
                    .map_err(|error| ConnectorError::Decode(error.to_string()))
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
        let status = answered.load(Ordering::Relaxed);
        let refused =
            || ConnectorError::Unauthorized(format!("the token endpoint answered {status}"));
        match result {
            Ok(response) => Ok((
                response.access_token().secret().clone(),
                response.expires_in().unwrap_or(Duration::from_secs(3600)),
            )),
            Err(oauth2::RequestTokenError::ServerResponse(refusal)) => {
                // The OAuth error code is the vendor's vocabulary, safe to log; its description
                // can quote the request, so it is never repeated.
                tracing::warn!(
                    vendor.status = status,
                    oauth.error = %refusal.error(),
                    "a token request was refused"
                );
                Err(refused())
            }
            Err(oauth2::RequestTokenError::Request(error)) => Err(error),
            // The body may be a token response with an odd field: never echo it.
            Err(oauth2::RequestTokenError::Parse(_, _)) => {
                tracing::warn!(
                    vendor.status = status,
                    "a token endpoint answered with something other than a token or an OAuth error"
                );
                Err(refused())
            }
            Err(oauth2::RequestTokenError::Other(message)) => {
                tracing::warn!(vendor.status = status, %message, "a token request failed");
                Err(refused())
            }
        }
    }
}
