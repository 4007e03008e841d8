//! Connecting to the database (SQLite or PostgreSQL, by URL) and migrating it, and counting the
//! statements each request runs ([`StatementCount`]).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection};

use crate::config::DatabaseSettings;

/// Opens a pool on `settings.database_url`.
///
/// SQLite files run in WAL mode with a busy timeout, so readers never block the writer and
/// concurrent writers wait instead of failing; foreign keys are enforced on every connection.
///
/// # Errors
/// When the URL is invalid or the database cannot be reached.
pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<DatabaseConnection> {
    let url = &settings.database_url;
    let mut options = ConnectOptions::new(url.clone());
    options
        .max_connections(settings.database_max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        // sqlx logs every statement at INFO otherwise.
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|sqlite| {
            sqlite
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    if url.starts_with("sqlite:") && url.contains(":memory:") {
        // Every connection to `:memory:` would open its own empty database.
        options.max_connections(1);
    }
    let mut db = Database::connect(options)
        .await
        .with_context(|| format!("cannot connect to the database at {}", redact_url(url)))?;
    db.set_metric_callback(|_| count_statement());
    Ok(db)
}

tokio::task_local! {
    /// The counter of the request being served by the current task, if any.
    static STATEMENTS: StatementCount;
}

/// The SQL statements run on behalf of one request: the access log's `statements=N`, and what
/// keeps a read's round trips visible.
///
/// Every pool [`connect`] opens counts each statement it runs into the counter of the task that
/// runs it ([`StatementCount::scope`]); a DataLoader's batch runs in a task of its own and takes
/// its request's counter with it (`graphql::loaders`). Statements outside any scope (sync runs,
/// start-up) are not counted.
#[derive(Debug, Clone, Default)]
pub struct StatementCount(Arc<AtomicU32>);

impl StatementCount {
    /// How many statements were counted so far.
    pub fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }

    /// Runs `future` with this counter as the current task's.
    pub async fn scope<F: Future>(self, future: F) -> F::Output {
        STATEMENTS.scope(self, future).await
    }

    /// The current task's counter, to carry into a task it spawns.
    pub fn current() -> Option<Self> {
        STATEMENTS.try_with(Self::clone).ok()
    }
}

fn count_statement() {
    let _ = STATEMENTS.try_with(|count| count.0.fetch_add(1, Ordering::Relaxed));
}

/// Replaces the statement callback of `db` by one that still counts statements for
/// [`StatementCount`] and also hands each statement to `observer` (tests keep a log of them).
pub fn observe_statements(
    db: &mut DatabaseConnection,
    observer: impl Fn(&sea_orm::metric::Info<'_>) + Send + Sync + 'static,
) {
    db.set_metric_callback(move |info| {
        count_statement();
        observer(info);
    });
}

/// Applies every pending migration and returns how many ran.
///
/// Migrators starting together take turns instead of failing on each other's half-created
/// tables: within a process behind a mutex, and on PostgreSQL across processes and servers by a
/// session advisory lock (keyed by the schema) held on a connection of its own while it
/// migrates; the next one then finds nothing pending. The lock ends with the session, so a
/// migrator that crashes releases it. Several processes migrating one SQLite file at once are
/// not covered: SQLite serves one server.
///
/// # Errors
/// When a migration fails; the failed step is rolled back.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<usize> {
    static MIGRATING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = MIGRATING.lock().await;
    let apply = async {
        let pending = Migrator::get_pending_migrations(db).await?.len();
        Migrator::up(db, None).await.context("migration failed")?;
        anyhow::Ok(pending)
    };
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return apply.await;
    }
    use sea_orm::sqlx::{ConnectOptions, Connection};
    // A session of its own, outside the pool: the migrations need the pool's connections
    // (a pool of one would otherwise wait on itself).
    let mut session = db
        .get_postgres_connection_pool()
        .connect_options()
        .connect()
        .await
        .context("cannot open a connection for the migration lock")?;
    let taken: bool = sea_orm::sqlx::query_scalar(
        "SELECT pg_try_advisory_lock(hashtextextended('tandem:migrate:' || current_schema(), 0))",
    )
    .fetch_one(&mut session)
    .await
    .context("cannot take the migration lock")?;
    if !taken {
        tracing::info!("another server or `tandem migrate` is migrating this database; waiting");
        sea_orm::sqlx::query(
            "SELECT pg_advisory_lock(hashtextextended('tandem:migrate:' || current_schema(), 0))",
        )
        .execute(&mut session)
        .await
        .context("cannot take the migration lock")?;
    }
    let outcome = apply.await;
    // Closing the session releases the lock on every path, a failed migration's included.
    let _ = session.close().await;
    outcome
}

/// Whether the database answers and its schema is fully migrated: the readiness check.
///
/// # Errors
/// A message for operators; it never contains credentials.
pub async fn check_ready(db: &DatabaseConnection) -> Result<(), String> {
    let statement = sea_orm::Statement::from_string(
        db.get_database_backend(),
        "SELECT COUNT(*) AS applied FROM seaql_migrations",
    );
    let row = tokio::time::timeout(Duration::from_secs(3), db.query_one_raw(statement))
        .await
        .map_err(|_| "database did not answer within 3 s".to_owned())?
        .map_err(|error| format!("database query failed: {error}"))?
        .ok_or_else(|| "database returned no row".to_owned())?;
    let applied: i64 = row
        .try_get("", "applied")
        .map_err(|error| format!("unexpected answer from the database: {error}"))?;
    let known = Migrator::migrations().len() as i64;
    if applied < known {
        return Err(format!(
            "database schema is behind: {applied} of {known} migrations applied"
        ));
    }
    Ok(())
}

/// The backend's name for logs and messages.
pub fn backend_name(db: &DatabaseConnection) -> &'static str {
    match db.get_database_backend() {
        DatabaseBackend::Postgres => "postgresql",
        DatabaseBackend::Sqlite => "sqlite",
        _ => "other",
    }
}

/// `url` with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redacts_passwords_in_database_urls() {
        assert_eq!(
            redact_url("postgres://tandem:hunter2@db:5432/tandem"),
            "postgres://tandem:***@db:5432/tandem"
        );
        assert_eq!(
            redact_url("sqlite://tandem.db?mode=rwc"),
            "sqlite://tandem.db?mode=rwc"
        );
    }
}
