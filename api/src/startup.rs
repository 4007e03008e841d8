//! [`Application`]: the server bound to its listener, ready to run until told to stop.
//!
//! `tandem serve` builds one from the settings and runs it until SIGINT or SIGTERM; tests build
//! one on port 0 and stop it when they finish. Connecting and migrating the database happen
//! before, in the caller, so that tests can hand in a database of their own. On PostgreSQL the
//! server listens for the events of other servers on the same database before it serves
//! (`events::fanout`), and stops listening when it stops.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::http::HeaderValue;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

use crate::auth::JwtKeys;
use crate::auth::cache::CallerCache;
use crate::auth::rate::RateLimit;
use crate::config::ServerSettings;
use crate::events::{EventBus, fanout};
use crate::graphql;
use crate::router::router;
use crate::services::escalation::EscalationTask;
use crate::state::AppState;
use crate::sync::service::SyncService;
use integrations::secrets::SecretKey;
use secrecy::ExposeSecret;

/// A bound, not yet running server.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    address: SocketAddr,
    /// Kept to stop background syncs cleanly once the server has stopped.
    sync: SyncService,
    /// Other servers' events reaching this one's subscribers (PostgreSQL); dropped, it stops.
    fanout: Option<fanout::Listening>,
    /// The escalation engine's runs, when enabled; dropped, they stop.
    escalations: Option<EscalationTask>,
    /// Delivers outbound webhooks; stopped after the server, once its attempts in flight end.
    webhooks: Option<crate::outbox::worker::Worker>,
    /// The two-way sync write-back worker, when enabled.
    write_back: Option<crate::sync::writeback::Worker>,
}

impl Application {
    /// Validates `settings` and binds the listener.
    ///
    /// # Errors
    /// When a CORS origin is not a valid origin, the address cannot be bound, or (PostgreSQL)
    /// the connection listening for other servers' events cannot be opened.
    pub async fn build(
        settings: &ServerSettings,
        db: DatabaseConnection,
        jwt: JwtKeys,
    ) -> anyhow::Result<Self> {
        for origin in settings
            .cors_origins
            .iter()
            .filter(|origin| origin.as_str() != "*")
        {
            let valid = url::Url::parse(origin).is_ok_and(|url| url.has_host())
                && HeaderValue::from_str(origin).is_ok();
            anyhow::ensure!(
                valid,
                "TANDEM_CORS_ORIGINS: {origin:?} is not an origin like https://app.example.com"
            );
        }
        anyhow::ensure!(
            settings
                .metrics_token
                .as_ref()
                .is_none_or(|token| token.expose_secret().len() >= 16),
            "TANDEM_METRICS_TOKEN: use at least 16 characters (`openssl rand -hex 16`)"
        );
        let key = settings
            .secret_key
            .as_ref()
            .map(|key| SecretKey::parse(key.expose_secret()).map(Arc::new))
            .transpose()
            .context("TANDEM_SECRET_KEY")?;
        let postgres = db.get_database_backend() == sea_orm::DatabaseBackend::Postgres;
        // SQLite serves one process: its bus is this process's alone.
        let events = if postgres {
            EventBus::across_servers()
        } else {
            EventBus::default()
        };
        // Listening before serving: no write committed after this server answers is missed.
        let fanout = if postgres {
            Some(
                fanout::listen(&db, &events)
                    .await
                    .context("cannot listen for other servers' events on PostgreSQL")?,
            )
        } else {
            None
        };
        let sync = SyncService {
            db: db.clone(),
            key,
            events: events.clone(),
            policy: settings.retry_policy(),
            egress: settings.egress(),
            in_flight: Arc::default(),
        };
        if settings.sync_scheduler {
            sync.clone().start_scheduler();
        }
        let escalations = (!settings.escalation_interval.is_zero()).then(|| {
            EscalationTask::start(db.clone(), events.clone(), settings.escalation_interval)
        });
        let webhooks = if settings.webhook_delivery {
            Some(
                crate::outbox::worker::Worker::start(
                    db.clone(),
                    settings.webhook_worker(sync.key.clone()),
                )
                .context("cannot start the webhook worker")?,
            )
        } else {
            None
        };
        let write_back = settings.psa_write_back.then(|| {
            crate::sync::writeback::Worker::start(
                db.clone(),
                // Built here rather than in `config`, which must not depend on the write-back
                // module (it reaches the services, which read the configuration).
                crate::sync::writeback::Settings {
                    poll: settings.webhook_poll,
                    retry_base: settings.webhook_retry_base,
                    give_up_after: std::time::Duration::from_secs(24 * 3600),
                    policy: settings.retry_policy(),
                    egress: settings.egress(),
                    key: sync.key.clone(),
                },
            )
        });
        let state = AppState {
            db,
            sync: sync.clone(),
            jwt: Arc::new(jwt),
            callers: Arc::new(
                CallerCache::new(settings.caller_cache_ttl, events.clone()).with_rate_limit(
                    RateLimit::new(settings.rate_limit, settings.rate_limit_burst),
                ),
            ),
            schema: graphql::build_schema(graphql::SchemaOptions {
                introspection: settings.graphql_introspection,
            }),
            events,
            ws_keepalive: settings.ws_keepalive,
            ws_max_message: settings.body_limit,
            metrics_token: settings.metrics_token.clone().map(Arc::new),
        };
        forget_idle_callers(Arc::downgrade(&state.callers));
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let address = listener.local_addr()?;
        Ok(Self {
            listener,
            router: router(state, settings),
            address,
            sync,
            fanout,
            escalations,
            write_back,
            webhooks,
        })
    }

    /// The address the server listens on (the real port when bound to port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    ///
    /// # Errors
    /// When the server fails while running.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
            .context("server error")?;
        drop(self.escalations);
        drop(self.fanout);
        if let Some(webhooks) = self.webhooks {
            webhooks.stop().await;
        }
        if let Some(write_back) = self.write_back {
            write_back.stop().await;
        }
        let interrupted = self
            .sync
            .shutdown(SYNC_SHUTDOWN_GRACE)
            .await
            .context("cannot close the syncs in flight")?;
        if interrupted > 0 {
            tracing::warn!(
                interrupted,
                "syncs still running at shutdown were interrupted"
            );
        }
        Ok(())
    }
}

/// How long a shutdown waits for syncs in flight before it marks them `INTERRUPTED`.
pub const SYNC_SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}

/// Every minute, drops the rate-limit buckets of callers who are back to a whole burst, until
/// the server's caller cache is gone.
fn forget_idle_callers(callers: std::sync::Weak<CallerCache>) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            let Some(callers) = callers.upgrade() else {
                return;
            };
            if let Some(rate) = callers.rate_limit() {
                rate.forget_idle();
            }
        }
    });
}
