//! Helpers for Tandem's end-to-end tests: a fresh database per test, and the server started
//! in-process on a random port and driven over HTTP.
//!
//! - [`TestDb`]: a temporary SQLite file, or a fresh PostgreSQL database when
//!   `TANDEM_TEST_DATABASE_URL` is set; removed when dropped. Built through the migrations.
//! - [`TestApp`]: the server on `127.0.0.1:0` over a [`TestDb`], with a known JWT secret, a
//!   `reqwest` client and one method per kind of request.
//!
//! Set `TEST_LOG=1` to see the server's logs.

use std::sync::{Arc, LazyLock, Mutex, Once};
use std::time::Duration;

use anyhow::Context;
use api::auth::JwtKeys;
use api::config::{LogFormat, ServerSettings};
use api::startup::Application;
use entities::enums::Role;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The HS256 secret every test server verifies with.
pub const TEST_JWT_SECRET: &str = "tandem-test-secret-0123456789abcdef";

static TRACING: Once = Once::new();

/// The PostgreSQL server URL tests create their databases on, when set.
pub static POSTGRES_URL: LazyLock<Option<String>> = LazyLock::new(|| {
    std::env::var("TANDEM_TEST_DATABASE_URL")
        .ok()
        .filter(|url| url.starts_with("postgres"))
});

fn init_tracing() {
    TRACING.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            api::telemetry::init(LogFormat::Text);
        }
    });
}

/// A database of one test's own, deleted when dropped.
pub struct TestDb {
    /// The URL the test's server connects to.
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Postgres {
        admin_url: String,
        name: String,
    },
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    /// Another server's database ([`TestApp::spawn_beside`]): that server's `TestDb` removes it.
    Borrowed {
        postgres: bool,
    },
}

impl TestDb {
    /// A fresh, empty database (no migrations applied).
    ///
    /// # Errors
    /// When PostgreSQL is configured but unreachable, or the temp dir cannot be made.
    pub async fn empty() -> anyhow::Result<Self> {
        init_tracing();
        match POSTGRES_URL.as_deref() {
            Some(admin_url) => {
                let name = format!("tandem_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(admin_url).await.with_context(|| {
                    format!("cannot reach TANDEM_TEST_DATABASE_URL {admin_url}")
                })?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await?;
                admin.close().await?;
                let mut url = url::Url::parse(admin_url)?;
                url.set_path(&name);
                Ok(Self {
                    url: url.to_string(),
                    cleanup: Cleanup::Postgres {
                        admin_url: admin_url.to_owned(),
                        name,
                    },
                })
            }
            None => {
                let dir = tempfile::tempdir()?;
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                Ok(Self {
                    url,
                    cleanup: Cleanup::Sqlite(dir),
                })
            }
        }
    }

    /// A fresh database with every migration applied.
    ///
    /// # Errors
    /// See [`TestDb::empty`]; also when a migration fails.
    pub async fn migrated() -> anyhow::Result<Self> {
        let test_db = Self::empty().await?;
        let db = test_db.connect().await?;
        Migrator::up(&db, None).await?;
        db.close().await?;
        Ok(test_db)
    }

    /// A new pool on this database, configured as the server configures its own.
    ///
    /// # Errors
    /// When the database cannot be reached.
    pub async fn connect(&self) -> anyhow::Result<DatabaseConnection> {
        api::db::connect(&api::config::DatabaseSettings {
            database_url: self.url.clone(),
            database_max_connections: 5,
        })
        .await
    }

    /// Whether this is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        matches!(
            self.cleanup,
            Cleanup::Postgres { .. } | Cleanup::Borrowed { postgres: true }
        )
    }

    /// Drops a PostgreSQL database now, disconnecting everyone: the database is "gone".
    ///
    /// # Errors
    /// When this is not PostgreSQL or the drop fails.
    pub async fn drop_postgres_database(&self) -> anyhow::Result<()> {
        let Cleanup::Postgres { admin_url, name } = &self.cleanup else {
            anyhow::bail!("not a PostgreSQL test database");
        };
        drop_postgres(admin_url, name).await
    }
}

async fn drop_postgres(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let admin = Database::connect(admin_url).await?;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await?;
    admin.close().await?;
    Ok(())
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop cannot await, and the test's runtime may be shutting down: use a thread with
            // a runtime of its own.
            let dropped = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(anyhow::Error::from)
                    .and_then(|runtime| runtime.block_on(drop_postgres(&admin_url, &name)))
            })
            .join();
            if let Ok(Err(error)) | Err(error) =
                dropped.map_err(|_| anyhow::anyhow!("cleanup thread panicked"))
            {
                eprintln!("warning: cannot drop test database: {error:#}");
            }
        }
    }
}

/// The server, running in-process on a random port over a database of its own.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// A pool on the server's database, for direct checks.
    pub db: DatabaseConnection,
    /// The HTTP client.
    pub client: reqwest::Client,
    /// The SQL statements the server ran (through sea-orm), for N+1 checks.
    pub statements: Arc<Mutex<Vec<String>>>,
    /// Signs tokens the server accepts.
    pub keys: JwtKeys,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// Kept last so the database outlives the server's pool.
    pub test_db: TestDb,
}

/// The `TANDEM_SECRET_KEY` of test servers.
pub const TEST_SECRET_KEY: &str = "q2Gk6yq6nVnR7Ud3wq1gqz6j0qk3Vb8eXj4yP0u5c9s=";

/// Settings like `tandem serve`'s defaults, on a random port.
pub fn test_server_settings() -> ServerSettings {
    ServerSettings {
        listen: "127.0.0.1:0".parse().expect("valid address"),
        cors_origins: vec!["https://app.example.com".into()],
        body_limit: 4 * 1024 * 1024,
        request_timeout: Duration::from_secs(30),
        graphql_introspection: true,
        ws_keepalive: Duration::from_secs(15),
        demo: false,
        secret_key: Some(TEST_SECRET_KEY.to_owned().into()),
        sync_scheduler: false,
        // Tests run the escalation engine themselves, on their own clock.
        escalation_interval: Duration::ZERO,
        // The vendor mocks listen on 127.0.0.1.
        allow_private_vendor_addresses: true,
        sync_throttle_budget: Duration::from_secs(15 * 60),
        caller_cache_ttl: Duration::from_secs(5),
        // Tests call as fast as they can; the rate limit has its own tests.
        rate_limit: 0,
        rate_limit_burst: 0,
        metrics_token: None,
        // The worker's polling would show in `statements`; webhook tests turn it on.
        webhook_delivery: false,
        webhook_poll: Duration::from_millis(100),
        webhook_retry_base: Duration::from_millis(200),
        // Write-back tests run the worker's rounds themselves.
        psa_write_back: false,
    }
}

impl TestApp {
    /// Starts the server on a fresh, migrated, empty database.
    ///
    /// # Errors
    /// When the database or the server cannot start.
    pub async fn spawn() -> anyhow::Result<Self> {
        Self::spawn_with(test_server_settings(), false).await
    }

    /// Starts the server on a fresh database loaded with the demo data.
    ///
    /// # Errors
    /// When the database, the demo seed or the server fails.
    pub async fn spawn_with_demo() -> anyhow::Result<Self> {
        Self::spawn_with(test_server_settings(), true).await
    }

    /// Starts the server with `settings`, optionally on the demo data.
    ///
    /// # Errors
    /// When the database, the demo seed or the server fails.
    pub async fn spawn_with(settings: ServerSettings, demo: bool) -> anyhow::Result<Self> {
        Self::spawn_with_keys(settings, demo, test_keys()).await
    }

    /// Starts the server with `settings` and the token keys `keys` (say, a JWKS source),
    /// optionally on the demo data. [`TestApp::token`] still signs with the test secret.
    ///
    /// # Errors
    /// When the database, the demo seed or the server fails.
    pub async fn spawn_with_keys(
        settings: ServerSettings,
        demo: bool,
        keys: JwtKeys,
    ) -> anyhow::Result<Self> {
        // reqwest needs the TLS provider before any client is built, and tests never run `main`.
        api::tls::init();
        let test_db = TestDb::migrated().await?;
        let mut db = test_db.connect().await?;
        let statements = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&statements);
        // Keeps the server's own per-request count (the access log's `statements=N`) working.
        api::db::observe_statements(&mut db, move |info| {
            log.lock()
                .expect("statement log")
                .push(info.statement.sql.clone());
        });
        if demo {
            api::demo::seed_if_empty(&db)
                .await?
                .context("demo data was not loaded")?;
        }
        Self::start(settings, db, keys, statements, test_db).await
    }

    /// A second server, started with `settings` on this server's database: what two
    /// `tandem serve` processes sharing one database look like. Stop or drop it before this one,
    /// which removes the database.
    ///
    /// # Errors
    /// When the server cannot start.
    pub async fn spawn_beside(&self, settings: ServerSettings) -> anyhow::Result<Self> {
        let test_db = TestDb {
            url: self.test_db.url.clone(),
            cleanup: Cleanup::Borrowed {
                postgres: self.test_db.is_postgres(),
            },
        };
        let mut db = test_db.connect().await?;
        let statements = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&statements);
        api::db::observe_statements(&mut db, move |info| {
            log.lock()
                .expect("statement log")
                .push(info.statement.sql.clone());
        });
        Self::start(settings, db, test_keys(), statements, test_db).await
    }

    /// Builds and runs the server over `db`.
    async fn start(
        settings: ServerSettings,
        db: DatabaseConnection,
        keys: JwtKeys,
        statements: Arc<Mutex<Vec<String>>>,
        test_db: TestDb,
    ) -> anyhow::Result<Self> {
        let app = Application::build(&settings, db.clone(), keys).await?;
        let address = format!("http://{}", app.address());
        let (shutdown, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            address,
            db,
            client: {
                api::tls::init();
                reqwest::Client::builder()
            }
            .timeout(Duration::from_secs(30))
            .build()?,
            keys: test_keys(),
            statements,
            shutdown: Some(shutdown),
            server: Some(server),
            test_db,
        })
    }

    /// A token for `sub` in `org` with `role`, valid for an hour.
    pub fn token(&self, sub: &str, org: &str, role: Role) -> String {
        self.keys
            .mint(sub, org, role, Duration::from_secs(3600))
            .expect("test keys can sign")
    }

    /// A token for `sub` in `org` with `role`, valid for `ttl`.
    pub fn token_valid_for(&self, sub: &str, org: &str, role: Role, ttl: Duration) -> String {
        self.keys
            .mint(sub, org, role, ttl)
            .expect("test keys can sign")
    }

    /// A token for `sub` in `org` issued for integration `integration_id` (role `INTEGRATION`),
    /// valid for an hour.
    pub fn integration_token(&self, sub: &str, org: &str, integration_id: uuid::Uuid) -> String {
        self.keys
            .mint_for_integration(sub, org, integration_id, Duration::from_secs(3600))
            .expect("test keys can sign")
    }

    /// A token for the demo's provider admin.
    pub fn provider_admin_token(&self) -> String {
        self.token(
            api::demo::PROVIDER_ADMIN.0,
            api::demo::PROVIDER_ADMIN.1,
            Role::Admin,
        )
    }

    /// A token for the demo's co-managed client's internal IT admin.
    pub fn client_admin_token(&self) -> String {
        self.token(
            api::demo::CLIENT_IT_ADMIN.0,
            api::demo::CLIENT_IT_ADMIN.1,
            Role::Admin,
        )
    }

    /// A token for the demo's fully managed client's admin (Cedar & Pine Accounting).
    pub fn cedar_admin_token(&self) -> String {
        self.token("demo|cedar-office", "cedar-pine", Role::Admin)
    }

    /// Stops the demo's PSA and RMM from syncing Cedar & Pine (PSA company 252, RMM site 12), so
    /// that no integration feeds Cedar's environments and Cedar sees none of them. Returns the
    /// integrations' global ids.
    ///
    /// # Errors
    /// When a query fails or a mapping is refused.
    pub async fn unmap_cedar(&self) -> anyhow::Result<Vec<Value>> {
        let provider = self.provider_admin_token();
        let listed = self
            .query(
                &provider,
                "{ integrations { edges { node { id kind } } } }",
                Value::Null,
            )
            .await?;
        let mut ids = Vec::new();
        for edge in listed["integrations"]["edges"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let id = edge["node"]["id"].clone();
            let company = if edge["node"]["kind"] == "CONNECTWISE_MANAGE" {
                "252"
            } else {
                "12"
            };
            let unmapped = self
                .query(
                    &provider,
                    "mutation($input: UnmapIntegrationCompanyInput!) { unmapIntegrationCompany(input: $input) { userErrors { message } } }",
                    json!({ "input": { "integrationId": id, "externalCompanyId": company } }),
                )
                .await?;
            anyhow::ensure!(
                unmapped["unmapIntegrationCompany"]["userErrors"] == json!([]),
                "unmapping Cedar failed: {unmapped}"
            );
            ids.push(id);
        }
        Ok(ids)
    }

    /// `POST /graphql` with `token` (if any); returns the status and the JSON body.
    ///
    /// # Errors
    /// When the request fails or the body is not JSON.
    pub async fn graphql(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.address))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let body = response
            .json::<Value>()
            .await
            .context("response is not JSON")?;
        Ok((status, body))
    }

    /// `POST /graphql` that must succeed without errors; returns `data`.
    ///
    /// # Errors
    /// When the status is not 200 or the response has errors.
    pub async fn query(&self, token: &str, query: &str, variables: Value) -> anyhow::Result<Value> {
        let (status, body) = self.graphql(Some(token), query, variables).await?;
        anyhow::ensure!(
            status == 200 && body.get("errors").is_none(),
            "query failed with {status}: {body}"
        );
        Ok(body["data"].clone())
    }

    /// Runs `query` and returns its `data` and the SQL statements the server ran for it.
    ///
    /// # Errors
    /// When the query fails.
    pub async fn query_counting(
        &self,
        token: &str,
        query: &str,
        variables: Value,
    ) -> anyhow::Result<(Value, Vec<String>)> {
        let before = self.statements.lock().expect("statement log").len();
        let data = self.query(token, query, variables).await?;
        let ran = self.statements.lock().expect("statement log")[before..].to_vec();
        Ok((data, ran))
    }

    /// Every node of a root connection `field` (paging through it), as the JSON of `selection`.
    ///
    /// # Errors
    /// When a page fails.
    pub async fn all_nodes(
        &self,
        token: &str,
        field: &str,
        selection: &str,
    ) -> anyhow::Result<Vec<Value>> {
        let query = format!(
            "query($after: String) {{ {field}(first: 100, after: $after) {{ pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {selection} }} }} }} }}"
        );
        let mut nodes = Vec::new();
        let mut after = Value::Null;
        loop {
            let data = self.query(token, &query, json!({ "after": after })).await?;
            let page = &data[field];
            nodes.extend(
                page["edges"]
                    .as_array()
                    .context("edges")?
                    .iter()
                    .map(|edge| edge["node"].clone()),
            );
            if page["pageInfo"]["hasNextPage"] != true {
                return Ok(nodes);
            }
            after = page["pageInfo"]["endCursor"].clone();
        }
    }

    /// `GET <path>`.
    ///
    /// # Errors
    /// When the request fails.
    pub async fn get(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .get(format!("{}{path}", self.address))
            .send()
            .await?)
    }

    /// Counts the rows of `table`.
    ///
    /// # Errors
    /// When the query fails.
    pub async fn count(&self, table: &str) -> anyhow::Result<i64> {
        count_rows(&self.db, table).await
    }

    /// Stops the server and waits for it to finish.
    ///
    /// # Errors
    /// When the server failed.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.stop_server().await
    }

    /// Stops the server gracefully (as SIGTERM does) and keeps the database, so another server
    /// can start on it with [`TestApp::spawn_beside`]: a restart.
    ///
    /// # Errors
    /// When the server ended with an error.
    pub async fn stop_server(&mut self) -> anyhow::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await??;
        }
        Ok(())
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// The keys every test server uses.
pub fn test_keys() -> JwtKeys {
    JwtKeys::hs256(&SecretString::from(TEST_JWT_SECRET.to_owned()))
        .expect("the test secret is long enough")
}

/// Counts the rows of `table` on `db`.
///
/// # Errors
/// When the query fails.
pub async fn count_rows(db: &DatabaseConnection, table: &str) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await?
        .context("COUNT returned no row")?;
    Ok(row.try_get("", "n")?)
}

/// The user tables of `db`, sorted, without sea-orm's migration bookkeeping.
///
/// # Errors
/// When the catalog query fails.
pub async fn table_names(db: &DatabaseConnection) -> anyhow::Result<Vec<String>> {
    let sql = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => {
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1"
        }
        _ => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
        }
    };
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?;
    let mut names = Vec::new();
    for row in rows {
        let name: String = row.try_get("", "name")?;
        if name != "seaql_migrations" {
            names.push(name);
        }
    }
    Ok(names)
}

/// Sync options for tests: a CLI run with millisecond retries, allowed to reach the mocks on
/// loopback.
#[must_use]
pub fn sync_options() -> api::sync::SyncOptions {
    let mut options = api::sync::SyncOptions::new(entities::enums::SyncTrigger::Cli);
    options.policy = integrations::http::RetryPolicy::fast();
    // The vendor mocks listen on 127.0.0.1.
    options.egress = integrations::egress::Egress::ALLOW_PRIVATE;
    options
}

/// Runs the integration `id` once on `app`'s database with [`sync_options`], calling `progress`
/// after every committed page.
///
/// # Errors
/// What stopped the run.
///
/// # Panics
/// When the test key does not parse.
pub async fn sync_with(
    app: &TestApp,
    id: uuid::Uuid,
    progress: &(dyn Fn(&api::sync::engine::Progress) + Send + Sync),
) -> Result<api::sync::SyncReport, api::sync::SyncError> {
    let key = integrations::secrets::SecretKey::parse(TEST_SECRET_KEY).expect("test key");
    api::sync::run(&app.db, Some(&key), id, &sync_options(), progress).await
}

/// Runs the integration `id` once; panics when the run fails.
///
/// # Panics
/// When the run fails.
pub async fn sync(app: &TestApp, id: uuid::Uuid) -> api::sync::SyncReport {
    sync_with(app, id, &|_| {}).await.expect("the sync runs")
}

/// The UUID behind a global id (`base64url("<Type>:<uuid>")`) as the API returns it.
///
/// # Panics
/// When `id` is not a global id.
pub fn decode_uuid(id: &Value) -> uuid::Uuid {
    let id = id.as_str().expect("a global id is a string");
    api::ids::decode("id", &id.into()).expect("a global id").1
}

impl TestApp {
    /// `mutation($input: <input_type>!) { <name>(input: $input) { <selection> userErrors { field
    /// code message } } }` with `token`; returns the status and the whole body, errors included.
    ///
    /// # Errors
    /// When the request fails or the body is not JSON.
    pub async fn mutation(
        &self,
        token: &str,
        name: &str,
        input_type: &str,
        input: &Value,
        selection: &str,
    ) -> anyhow::Result<(u16, Value)> {
        let query = format!(
            "mutation($input: {input_type}!) {{ {name}(input: $input) {{ {selection} userErrors {{ field code message }} }} }}"
        );
        self.graphql(Some(token), &query, json!({ "input": input }))
            .await
    }
}

/// The rows of each table, each row one string, sorted.
pub type Dump = std::collections::BTreeMap<String, Vec<String>>;

/// Every row of every table of `db` (see [`table_names`]): the whole database's state, to show
/// that a call wrote nothing.
///
/// # Errors
/// When a query fails.
pub async fn dump(db: &DatabaseConnection) -> anyhow::Result<Dump> {
    let backend = db.get_database_backend();
    let mut tables = Dump::new();
    for table in table_names(db).await? {
        let sql = if backend == sea_orm::DatabaseBackend::Postgres {
            format!("SELECT row_to_json(t)::text AS r FROM \"{table}\" t")
        } else {
            let columns = db
                .query_all_raw(Statement::from_string(
                    backend,
                    format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
                ))
                .await?;
            let mut parts = Vec::new();
            for column in columns {
                let name: String = column.try_get("", "name")?;
                parts.push(format!("'{name}=' || quote(\"{name}\")"));
            }
            anyhow::ensure!(!parts.is_empty(), "{table} has no columns");
            format!(
                "SELECT {} AS r FROM \"{table}\"",
                parts.join(" || ', ' || ")
            )
        };
        let mut rows = Vec::new();
        for row in db
            .query_all_raw(Statement::from_string(backend, sql))
            .await?
        {
            rows.push(row.try_get::<String>("", "r")?);
        }
        rows.sort();
        tables.insert(table, rows);
    }
    Ok(tables)
}

/// A bulk call's `source` (`ExternalSourceInput`, one of `kind` and `name`): a vendor Tandem
/// knows as `kind`, any other system as `name`.
pub fn bulk_source(source: &str) -> Value {
    const KINDS: [&str; 5] = [
        "CONNECTWISE_MANAGE",
        "AUTOTASK",
        "HALOPSA",
        "NINJAONE",
        "DATTO_RMM",
    ];
    let upper = source.to_ascii_uppercase();
    if KINDS.contains(&upper.as_str()) {
        json!({ "kind": upper })
    } else {
        json!({ "name": source })
    }
}
