//! Typed settings for `tandem serve`, read from flags and their `TANDEM_*` environment variables.
//!
//! Only this crate reads the environment; everything downstream receives these structs. There are
//! no production defaults for secrets: without a JWT secret or public key, `serve` refuses to
//! start (except `--demo`, which mints a throw-away secret for the session).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use secrecy::SecretString;

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// Database URL: `sqlite://<file>?mode=rwc` (embedded default) or `postgres://...`.
    #[arg(
        long,
        env = "TANDEM_DATABASE_URL",
        default_value = "sqlite://tandem.db?mode=rwc",
        // It may carry a password: `--help` must not print it.
        hide_env_values = true
    )]
    pub database_url: String,

    /// Largest number of pooled database connections.
    #[arg(long, env = "TANDEM_DATABASE_MAX_CONNECTIONS", default_value_t = 10)]
    pub database_max_connections: u32,
}

/// How tokens are verified (and, for `tandem token`, signed).
#[derive(Debug, Clone, Args)]
pub struct AuthSettings {
    /// Shared secret for HS256 tokens.
    #[arg(long, env = "TANDEM_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<SecretString>,

    /// PEM file with the RSA public key for RS256 tokens (instead of a shared secret).
    #[arg(long, env = "TANDEM_JWT_PUBLIC_KEY", conflicts_with = "jwt_secret")]
    pub jwt_public_key: Option<PathBuf>,

    /// JWKS URL of your identity provider, for RS256 tokens (keys are cached and refreshed).
    #[arg(long, env = "TANDEM_JWT_JWKS_URL", conflicts_with_all = ["jwt_secret", "jwt_public_key"])]
    pub jwt_jwks_url: Option<url::Url>,

    /// Required `iss` claim, checked when set.
    #[arg(long, env = "TANDEM_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// Required `aud` claim, checked when set.
    #[arg(long, env = "TANDEM_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// Longest lifetime a token may have (`exp - iat`, or `exp - now` without `iat`), e.g.
    /// `24h`, `90m`: a longer-lived token is refused, and `tandem token` will not mint one.
    #[arg(long, env = "TANDEM_MAX_TOKEN_LIFETIME", default_value = "24h", value_parser = parse_duration)]
    pub max_token_lifetime: Duration,
}

/// The format of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// The HTTP server.
#[derive(Debug, Clone, Args)]
pub struct ServerSettings {
    /// Address and port to listen on.
    #[arg(long, env = "TANDEM_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Origins allowed by CORS, comma-separated, or `*` for any. None: same-origin only.
    #[arg(long, env = "TANDEM_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Largest accepted request body, in bytes (room for a bulk upsert of 1,000 records).
    #[arg(long, env = "TANDEM_BODY_LIMIT", default_value_t = 4 * 1024 * 1024)]
    pub body_limit: usize,

    /// Longest a request may take before it is answered with 408 (e.g. `30s`, `2m`).
    #[arg(long, env = "TANDEM_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// How often the server pings WebSocket clients and rechecks their rights (e.g. `15s`); a
    /// client not heard from for two intervals is dropped.
    #[arg(long, env = "TANDEM_WS_KEEPALIVE", default_value = "15s", value_parser = parse_positive_duration)]
    pub ws_keepalive: Duration,

    /// Whether the GraphQL schema answers introspection queries.
    #[arg(long, env = "TANDEM_GRAPHQL_INTROSPECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub graphql_introspection: bool,

    /// Load demo data into an empty database and print ready-to-use tokens.
    #[arg(long, env = "TANDEM_DEMO")]
    pub demo: bool,

    /// The key integration credentials are sealed with: 32 bytes, base64- or hex-encoded
    /// (`openssl rand -base64 32`). Without it integrations cannot store or use credentials.
    #[arg(long, env = "TANDEM_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<SecretString>,

    /// Whether `serve` syncs integrations on their schedules.
    #[arg(long, env = "TANDEM_SYNC_SCHEDULER", default_value_t = true, action = clap::ArgAction::Set)]
    pub sync_scheduler: bool,

    /// How often `serve` escalates routed tickets and alerts nobody answered in time (`30s`;
    /// `0s` turns the engine off on this server). Every server may run it: a step is recorded
    /// once whichever server takes it.
    #[arg(long, env = "TANDEM_ESCALATION_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    pub escalation_interval: Duration,

    /// Let integrations reach vendors over plain `http` and at loopback, private, link-local and
    /// unique-local addresses (on-premises vendor installs, tests against local mocks). Off:
    /// vendor calls go only to `https` URLs at public addresses.
    #[arg(long, env = "TANDEM_ALLOW_PRIVATE_VENDOR_ADDRESSES")]
    pub allow_private_vendor_addresses: bool,

    /// How long one sync run may wait in all on a vendor that throttles it (429 with
    /// `Retry-After`) before it fails (`90s`, `15m`).
    #[arg(long, env = "TANDEM_SYNC_THROTTLE_BUDGET", default_value = "15m", value_parser = parse_duration)]
    pub sync_throttle_budget: Duration,

    /// How long a resolved caller (person, organization, role, visible organizations) is reused
    /// for further requests with the same claims (`5s`; `0s` resolves every request). Changes
    /// made through this server take effect at once; the TTL bounds how long one made through
    /// another server (or the CLI) may go unseen.
    #[arg(long, env = "TANDEM_CALLER_CACHE_TTL", default_value = "5s", value_parser = parse_duration)]
    pub caller_cache_ttl: Duration,

    /// Requests a second each caller (a token's organization, subject and integration) may
    /// make; 0 turns the limit off. Over it: 429 with `Retry-After`.
    #[arg(long, env = "TANDEM_RATE_LIMIT", default_value_t = 50)]
    pub rate_limit: u32,

    /// Requests a caller may make at once before the rate applies.
    #[arg(long, env = "TANDEM_RATE_LIMIT_BURST", default_value_t = 100)]
    pub rate_limit_burst: u32,

    /// The bearer token a Prometheus scraper presents at `GET /metrics` (at least 16
    /// characters). Unset: `/metrics` answers 404.
    #[arg(long, env = "TANDEM_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<SecretString>,

    /// Whether `serve` delivers outbound webhooks (events are recorded in the outbox either
    /// way, and delivered by any server that does).
    #[arg(long, env = "TANDEM_WEBHOOK_DELIVERY", default_value_t = true, action = clap::ArgAction::Set)]
    pub webhook_delivery: bool,

    /// How often the webhook worker looks for due deliveries (`1s`).
    #[arg(long, env = "TANDEM_WEBHOOK_POLL", default_value = "1s", value_parser = parse_positive_duration)]
    pub webhook_poll: Duration,

    /// The wait before a failed delivery's first retry (`10s`); it doubles with every attempt,
    /// up to an hour, for 24 hours.
    #[arg(long, env = "TANDEM_WEBHOOK_RETRY_BASE", default_value = "10s", value_parser = parse_positive_duration)]
    pub webhook_retry_base: Duration,

    /// Whether `serve` sends two-way sync writes to PSAs (`psa_writes`; queued either way, and
    /// sent by any server that does). It polls and backs off as the webhook worker does.
    #[arg(long, env = "TANDEM_PSA_WRITE_BACK", default_value_t = true, action = clap::ArgAction::Set)]
    pub psa_write_back: bool,
}

impl ServerSettings {
    /// Where vendor calls may go, as the operator chose.
    #[must_use]
    pub fn egress(&self) -> integrations::egress::Egress {
        integrations::egress::Egress::new(self.allow_private_vendor_addresses)
    }

    /// How the webhook worker runs, with the key that opens endpoints' secrets.
    #[must_use]
    pub fn webhook_worker(
        &self,
        key: Option<std::sync::Arc<integrations::secrets::SecretKey>>,
    ) -> crate::outbox::worker::Settings {
        crate::outbox::worker::Settings {
            poll: self.webhook_poll,
            retry_base: self.webhook_retry_base,
            give_up_after: Duration::from_secs(24 * 3600),
            timeout: Duration::from_secs(10),
            retention: Duration::from_secs(7 * 24 * 3600),
            egress: self.egress(),
            key,
        }
    }

    /// The retry policy of vendor calls, with the operator's throttling budget.
    #[must_use]
    pub fn retry_policy(&self) -> integrations::http::RetryPolicy {
        integrations::http::RetryPolicy {
            throttle_budget: self.sync_throttle_budget,
            ..integrations::http::RetryPolicy::default()
        }
    }
}

/// Everything `tandem serve` needs.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    #[command(flatten)]
    pub server: ServerSettings,
    #[command(flatten)]
    pub database: DatabaseSettings,
    #[command(flatten)]
    pub auth: AuthSettings,
}

/// Parses `90s`, `15m`, `1h`, `7d` and the like.
///
/// # Errors
/// A message naming the bad value.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    humantime::parse_duration(value).map_err(|error| format!("invalid duration {value:?}: {error}"))
}

/// Like [`parse_duration`], for intervals: zero is refused.
///
/// # Errors
/// A message naming the bad value.
pub fn parse_positive_duration(value: &str) -> Result<Duration, String> {
    match parse_duration(value)? {
        Duration::ZERO => Err(format!("{value:?} must be longer than zero")),
        duration => Ok(duration),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_must_be_longer_than_zero() {
        assert!(parse_positive_duration("0s").is_err());
        assert_eq!(parse_positive_duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }
}
