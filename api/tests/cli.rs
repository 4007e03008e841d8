//! The `tandem` binary as operators run it: every subcommand, and `serve --demo` end to end.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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
    for subcommand in ["serve", "migrate", "token", "schema"] {
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
    let (ok, stdout, stderr) = run(tandem().args(["migrate", "--database-url", &url]));
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("8 migration(s) applied"), "{stdout}");
    let (ok, stdout, _) = run(tandem()
        .args(["migrate", "--status"])
        .env("TANDEM_DATABASE_URL", &url));
    assert!(ok);
    assert_eq!(
        stdout
            .lines()
            .filter(|line| line.starts_with("applied"))
            .count(),
        8,
        "{stdout}"
    );
    assert!(!stdout.contains("pending"));
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
