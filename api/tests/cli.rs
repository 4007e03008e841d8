//! The `tandem` binary as operators run it: every subcommand, and `serve --demo` end to end.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use serde_json::{Value, json};

const SECRET: &str = "cli-test-secret-0123456789abcdef0123";

fn tandem() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tandem"));
    for variable in [
        "TANDEM_JWT_SECRET",
        "TANDEM_JWT_PUBLIC_KEY",
        "TANDEM_DATABASE_URL",
        "TANDEM_LISTEN",
        "TANDEM_DEMO",
        "TANDEM_SECRET_KEY",
        "TANDEM_DATABASE_URL_FILE",
        "TANDEM_JWT_SECRET_FILE",
        "TANDEM_SECRET_KEY_FILE",
    ] {
        command.env_remove(variable);
    }
    command.env("RUST_LOG", "warn");
    command
}

fn run(command: &mut Command) -> (bool, String, String) {
    let output = command.output().expect("tandem runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn every_subcommand_has_help() {
    let (ok, stdout, _) = run(tandem().arg("--help"));
    assert!(ok);
    for subcommand in ["serve", "migrate", "token", "schema", "sync"] {
        assert!(
            stdout.contains(subcommand),
            "--help lists {subcommand}: {stdout}"
        );
        let (ok, help, _) = run(tandem().args([subcommand, "--help"]));
        assert!(ok, "{subcommand} --help succeeds");
        assert!(help.contains("Usage: tandem"), "{help}");
    }
    let (_, serve_help, _) = run(tandem().args(["serve", "--help"]));
    for flag in [
        "--listen",
        "TANDEM_LISTEN",
        "--database-url",
        "TANDEM_DATABASE_URL",
        "--demo",
        "TANDEM_JWT_SECRET",
        "--allow-private-vendor-addresses",
        "TANDEM_ALLOW_PRIVATE_VENDOR_ADDRESSES",
    ] {
        assert!(serve_help.contains(flag), "serve --help mentions {flag}");
    }
}

#[test]
fn schema_prints_the_sdl() {
    let (ok, stdout, _) = run(tandem().arg("schema"));
    assert!(ok);
    assert!(stdout.contains("type Query {"), "{stdout}");
    assert!(stdout.contains("interface Node {"));
}

#[tokio::test]
async fn token_mints_with_a_secret_and_explains_without_one() {
    let (ok, _, stderr) =
        run(tandem().args(["token", "--sub", "a", "--org", "b", "--role", "ADMIN"]));
    assert!(!ok);
    assert!(stderr.contains("TANDEM_JWT_SECRET"), "{stderr}");

    let (ok, stdout, stderr) = run(tandem()
        .args([
            "token", "--sub", "alice", "--org", "acme", "--role", "viewer", "--ttl", "2h",
        ])
        .env("TANDEM_JWT_SECRET", SECRET));
    assert!(ok, "{stderr}");
    let token = stdout.trim();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let keys =
        api::auth::JwtKeys::hs256(&secrecy::SecretString::from(SECRET.to_owned())).expect("keys");
    let claims = keys.verify(token).await.expect("the minted token verifies");
    assert_eq!(
        (claims.sub.as_str(), claims.org.as_str()),
        ("alice", "acme")
    );
    let ttl = claims.exp - claims.iat.expect("iat is set");
    assert_eq!(ttl, 7200);

    let (ok, _, stderr) =
        run(tandem().args(["token", "--sub", "a", "--org", "b", "--role", "ROOT"]));
    assert!(!ok);
    assert!(stderr.contains("unknown role"), "{stderr}");
}

#[test]
fn migrate_applies_every_migration_and_reports_status() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("tandem.db").display()
    );
    let steps = Migrator::migrations().len();
    // Before migrating, `--status` lists every step as pending and fails, so a deploy script
    // can gate on it.
    let (ok, stdout, stderr) = run(tandem()
        .args(["migrate", "--status"])
        .env("TANDEM_DATABASE_URL", &url));
    assert!(!ok, "{stdout}");
    assert_eq!(
        stdout
            .lines()
            .filter(|line| line.starts_with("pending"))
            .count(),
        steps,
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!("{steps} migration(s) pending")),
        "{stderr}"
    );
    let (ok, stdout, stderr) = run(tandem().args(["migrate", "--database-url", &url]));
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with(&format!("{steps} migration(s) applied")),
        "{stdout}"
    );
    let (ok, stdout, _) = run(tandem()
        .args(["migrate", "--status"])
        .env("TANDEM_DATABASE_URL", &url));
    assert!(ok);
    assert_eq!(
        stdout
            .lines()
            .filter(|line| line.starts_with("applied"))
            .count(),
        steps,
        "{stdout}"
    );
    assert!(!stdout.contains("pending"));
}

#[tokio::test]
async fn secrets_can_come_from_files_named_by_file_variables() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("tandem.db").display()
    );
    let url_file = dir.path().join("database-url");
    std::fs::write(&url_file, format!("{url}\n")).expect("written");
    let (ok, stdout, stderr) = run(tandem()
        .args(["migrate"])
        .env("TANDEM_DATABASE_URL_FILE", &url_file));
    assert!(ok, "{stderr}");
    assert!(stdout.contains("migration(s) applied"), "{stdout}");

    // A token signed with the secret from a file verifies with that secret.
    let secret_file = dir.path().join("jwt-secret");
    std::fs::write(
        &secret_file,
        "a-file-secret-that-is-long-enough-for-hs256\n",
    )
    .expect("written");
    let (ok, token, stderr) = run(tandem()
        .args(["token", "--sub", "a", "--org", "b", "--role", "ADMIN"])
        .env("TANDEM_JWT_SECRET_FILE", &secret_file));
    assert!(ok, "{stderr}");
    let keys = api::auth::JwtKeys::hs256(&secrecy::SecretString::from(
        "a-file-secret-that-is-long-enough-for-hs256".to_owned(),
    ))
    .expect("keys");
    keys.verify(token.trim())
        .await
        .expect("signed with the file's secret, without its newline");

    // Both, a missing file or an empty one: refused before anything runs, naming the variable.
    for (env, expected) in [
        (
            vec![
                ("TANDEM_JWT_SECRET", "x".repeat(40)),
                ("TANDEM_JWT_SECRET_FILE", secret_file.display().to_string()),
            ],
            "set TANDEM_JWT_SECRET or TANDEM_JWT_SECRET_FILE, not both",
        ),
        (
            vec![("TANDEM_SECRET_KEY_FILE", "/nonexistent/key".to_owned())],
            "cannot read TANDEM_SECRET_KEY_FILE (/nonexistent/key)",
        ),
        (
            vec![("TANDEM_JWT_SECRET_FILE", "/dev/null".to_owned())],
            "TANDEM_JWT_SECRET_FILE (/dev/null) is empty",
        ),
    ] {
        let mut command = tandem();
        command.args(["token", "--sub", "a", "--org", "b", "--role", "ADMIN"]);
        for (name, value) in env {
            command.env(name, value);
        }
        let (ok, _, stderr) = run(&mut command);
        assert!(!ok);
        assert!(stderr.contains(expected), "{stderr}");
        assert!(
            !stderr.contains("a-file-secret"),
            "never echoes a secret: {stderr}"
        );
    }
}

#[test]
fn serve_refuses_to_start_without_a_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ok, _, stderr) = run(tandem().arg("serve").current_dir(dir.path()));
    assert!(!ok);
    assert!(
        stderr.contains("TANDEM_JWT_SECRET") && stderr.contains("--demo"),
        "{stderr}"
    );
}

/// Kills the server if a test fails before stopping it.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

#[tokio::test]
async fn serve_demo_prints_tokens_that_work_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = Server(
        tandem()
            .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts"),
    );
    let stdout = server.0.stdout.take().expect("stdout is piped");
    let banner = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("utf-8 output");
            let done = line.starts_with("GraphiQL:");
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    })
    .await
    .expect("banner read");
    assert!(
        banner[0].starts_with("Loaded demo data: 3 organizations"),
        "{banner:?}"
    );
    assert!(
        dir.path().join("tandem.db").exists(),
        "the embedded database is a file in the working directory"
    );
    let tokens: Vec<&str> = banner
        .iter()
        .map(|line| line.trim())
        .filter(|line| line.starts_with("eyJ"))
        .collect();
    assert_eq!(tokens.len(), 2, "{banner:?}");
    let graphiql = banner.last().expect("GraphiQL line");
    let address = graphiql
        .split_whitespace()
        .nth(1)
        .expect("url")
        .trim_end_matches("/graphql")
        .to_owned();

    api::tls::init();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let health = client
        .get(format!("{address}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    let page = client
        .get(format!("{address}/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("graphiql");
    assert!(page.text().await.expect("html").contains("graphiql"));

    for (token, environments) in [(tokens[0], 3), (tokens[1], 2)] {
        let body: Value = client
            .post(format!("{address}/graphql"))
            .bearer_auth(token)
            .json(&json!({ "query": "{ viewer { role person { displayName } } environments(first: 5) { totalCount edges { node { name } } } }" }))
            .send()
            .await
            .expect("graphql")
            .json()
            .await
            .expect("json");
        assert_eq!(body["data"]["viewer"]["role"], "ADMIN", "{body}");
        assert_eq!(
            body["data"]["environments"]["totalCount"], environments,
            "{body}"
        );
    }

    let terminated = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(terminated.success());
    let status = tokio::task::spawn_blocking(move || server.0.wait())
        .await
        .expect("join")
        .expect("wait");
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_runs_an_integration_and_exits_by_its_outcome() {
    use entities::{integration, integration_mapping};
    use integrations::mock::connectwise;
    use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel};

    const KEY: &str = "q2Gk6yq6nVnR7Ud3wq1gqz6j0qk3Vb8eXj4yP0u5c9s=";
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/sync.db?mode=rwc", dir.path().display());
    let db = api::db::connect(&api::config::DatabaseSettings {
        database_url: url.clone(),
        database_max_connections: 2,
    })
    .await
    .expect("database");
    api::db::migrate(&db).await.expect("migrations");
    api::demo::seed_if_empty(&db).await.expect("demo");
    let server = connectwise::start(connectwise::fixture(
        1,
        4,
        chrono::Utc::now() - chrono::Duration::hours(1),
    ))
    .await;
    let (settings, credentials) = connectwise::configuration();
    let key = integrations::secrets::SecretKey::parse(KEY).expect("key");
    let provider = entities::organization::Entity::find()
        .all(&db)
        .await
        .expect("organizations")
        .into_iter()
        .find(|found| found.slug == "northwind-msp")
        .expect("the demo provider");
    let environment = entities::environment::Entity::find()
        .one(&db)
        .await
        .expect("environments")
        .expect("a demo environment");
    let id = uuid::Uuid::now_v7();
    let now = chrono::Utc::now();
    integration::Model {
        id,
        organization_id: provider.id,
        name: "CW cli".into(),
        kind: entities::enums::IntegrationKind::ConnectwiseManage,
        base_url: server.url.clone(),
        credentials_ciphertext: Some(
            api::services::credentials::seal(Some(&key), id, &credentials).expect("sealed"),
        ),
        settings,
        enabled: true,
        sync_interval_seconds: None,
        lease_owner: None,
        lease_expires_at: None,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    }
    .into_active_model()
    .insert(&db)
    .await
    .expect("integration");
    integration_mapping::Model {
        id: uuid::Uuid::now_v7(),
        integration_id: id,
        external_company_id: "250".into(),
        external_company_name: None,
        environment_id: environment.id,
        created_at: now,
        updated_at: now,
    }
    .into_active_model()
    .insert(&db)
    .await
    .expect("mapping");

    let sync = |args: &[&str], key: Option<&str>| {
        let mut command = tandem();
        command
            .env("TANDEM_DATABASE_URL", &url)
            .arg("sync")
            // The mock listens on 127.0.0.1.
            .arg("--allow-private-vendor-addresses")
            .args(args);
        if let Some(key) = key {
            command.env("TANDEM_SECRET_KEY", key);
        }
        let output = command.output().expect("tandem runs");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = sync(&["--integration", "CW cli"], Some(KEY));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("tickets   page    1: 4 read, 4 created"),
        "{stdout}"
    );
    assert!(stdout.contains("Succeeded in"), "{stdout}");

    let (code, stdout, _) = sync(&["--integration", &id.to_string()], Some(KEY));
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("0 created, 0 updated"),
        "nothing changed: {stdout}"
    );

    server.state.store().tickets[1]["summary"] = serde_json::Value::Null;
    let (code, stdout, stderr) = sync(&["--integration", "CW cli", "--full"], Some(KEY));
    assert_eq!(code, Some(2), "some records failed: {stdout}{stderr}");
    assert!(stdout.contains("Partial"), "{stdout}");
    assert!(stderr.contains("some records failed"), "{stderr}");

    let (code, _, stderr) = sync(&["--integration", "nope"], Some(KEY));
    assert_eq!(code, Some(1));
    assert!(stderr.contains("no integration"), "{stderr}");
    let (code, _, stderr) = sync(&["--integration", "CW cli"], None);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("TANDEM_SECRET_KEY"), "{stderr}");

    // Without the flag the mock on loopback is not called: the run fails with the uniform message.
    let requests = server.state.requests();
    let output = tandem()
        .env("TANDEM_DATABASE_URL", &url)
        .env("TANDEM_SECRET_KEY", KEY)
        .args(["sync", "--integration", "CW cli"])
        .output()
        .expect("tandem runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let host = server.url.trim_start_matches("http://");
    assert!(
        stderr.contains(&format!("could not reach the vendor at {host}")),
        "{stderr}"
    );
    assert_eq!(server.state.requests(), requests, "the mock was not called");
}

/// Two `tandem migrate` processes on one new PostgreSQL database: one applies every step, the
/// other waits on the migration lock and finds nothing pending; neither fails. PostgreSQL only
/// (`TANDEM_TEST_DATABASE_URL`): SQLite serves one server.
#[tokio::test]
async fn two_migrate_processes_on_one_postgres_database_take_turns() {
    use sea_orm::ConnectionTrait;
    let Ok(base) = std::env::var("TANDEM_TEST_DATABASE_URL") else {
        eprintln!("skipped: TANDEM_TEST_DATABASE_URL is not set");
        return;
    };
    let admin = sea_orm::Database::connect(&base).await.expect("connects");
    let name = format!("tandem_cli_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("created");
    let mut url = url::Url::parse(&base).expect("a URL");
    url.set_path(&name);
    let spawn = || {
        tandem()
            .args(["migrate", "--database-url", url.as_str()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tandem runs")
    };
    let (one, two) = (spawn(), spawn());
    let outputs = [one, two].map(|child| child.wait_with_output().expect("finished"));
    let steps = Migrator::migrations().len();
    let mut applied: Vec<usize> = outputs
        .iter()
        .map(|output| {
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success(),
                "{stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            );
            stdout
                .split(' ')
                .next()
                .and_then(|count| count.parse().ok())
                .expect("says how many it applied")
        })
        .collect();
    applied.sort_unstable();
    assert_eq!(applied, [0, steps]);
    admin
        .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .await
        .expect("dropped");
}
