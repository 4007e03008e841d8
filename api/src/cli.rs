//! The `tandem` command line: `serve`, `migrate`, `token`, `schema`, `sync`.

use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use entities::enums::Role;
use migration::{Migrator, MigratorTrait};

use crate::auth::JwtKeys;
use crate::config::{AuthSettings, DatabaseSettings, LogFormat, Settings, parse_duration};
use crate::startup::{Application, shutdown_signal};
use crate::{db, demo, graphql, telemetry};

/// Tandem: the shared operating record for co-managed IT.
#[derive(Debug, Parser)]
#[command(name = "tandem", version, about, propagate_version = true)]
pub struct Cli {
    /// Format of log lines (on stderr).
    #[arg(
        long,
        env = "TANDEM_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

/// What `tandem` does.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API server (applies pending migrations first).
    Serve(Settings),
    /// Apply pending database migrations, or list them with --status.
    Migrate(MigrateArgs),
    /// Mint a signed token, for operators and tests.
    Token(TokenArgs),
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Sync one integration now, printing progress and a summary (for cron and CI jobs).
    /// Exits 0 when every record was written, 2 when some records failed (listed in the run's
    /// errors), 1 when the run failed.
    Sync(SyncArgs),
}

/// Arguments of `tandem sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub database: DatabaseSettings,

    /// The integration: its name or its id.
    #[arg(long)]
    pub integration: String,

    /// Ignore the stored cursors and read everything again (still writes only what differs).
    #[arg(long)]
    pub full: bool,

    /// The key the integration's credentials are sealed with (as for `serve`).
    #[arg(long, env = "TANDEM_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<secrecy::SecretString>,

    /// Let the vendor be reached over `http` and at private addresses (as for `serve`).
    #[arg(long, env = "TANDEM_ALLOW_PRIVATE_VENDOR_ADDRESSES")]
    pub allow_private_vendor_addresses: bool,

    /// How long the run may wait in all on a vendor that throttles it (as for `serve`).
    #[arg(long, env = "TANDEM_SYNC_THROTTLE_BUDGET", default_value = "15m", value_parser = crate::config::parse_duration)]
    pub sync_throttle_budget: std::time::Duration,
}

/// Arguments of `tandem migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub database: DatabaseSettings,

    /// List applied and pending migrations instead of applying them; exits 1 while any is
    /// pending.
    #[arg(long)]
    pub status: bool,
}

/// Arguments of `tandem token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The person's subject (`sub` claim).
    #[arg(long)]
    pub sub: String,

    /// The slug of the person's organization (`org` claim).
    #[arg(long)]
    pub org: String,

    /// ADMIN, MEMBER, VIEWER or INTEGRATION.
    #[arg(long, value_parser = parse_role)]
    pub role: Role,

    /// Issue the token for this integration (its id): a sync job's token, which alone may
    /// record what a PSA or RMM observed. Needs `--role INTEGRATION`.
    #[arg(long)]
    pub integration: Option<uuid::Uuid>,

    /// How long the token stays valid (e.g. `1h`, `30m`), at most `--max-token-lifetime`.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub ttl: Duration,

    #[command(flatten)]
    pub auth: AuthSettings,
}

fn parse_role(value: &str) -> Result<Role, String> {
    serde_json::from_value(serde_json::Value::String(value.to_uppercase()))
        .map_err(|_| format!("unknown role {value:?}; use ADMIN, MEMBER, VIEWER or INTEGRATION"))
}

/// Runs the command `cli` names.
///
/// # Errors
/// Whatever stops the command; `main` prints it with its causes and exits non-zero.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    telemetry::init(cli.log_format);
    crate::tls::init();
    match cli.command {
        Command::Serve(settings) => serve(settings).await,
        Command::Migrate(args) => migrate(args).await,
        Command::Token(args) => {
            let keys = JwtKeys::from_settings(&args.auth)?
                .context("set TANDEM_JWT_SECRET (or --jwt-secret) to mint tokens")?;
            let token = match args.integration {
                Some(integration) if args.role == Role::Integration => {
                    keys.mint_for_integration(&args.sub, &args.org, integration, args.ttl)?
                }
                Some(_) => anyhow::bail!("--integration needs --role INTEGRATION"),
                None => keys.mint(&args.sub, &args.org, args.role, args.ttl)?,
            };
            println!("{token}");
            Ok(())
        }
        Command::Schema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
        Command::Sync(args) => sync(args).await,
    }
}

async fn sync(args: SyncArgs) -> anyhow::Result<()> {
    use entities::enums::{SyncStatus, SyncTrigger};
    use entities::integration;
    use sea_orm::{EntityTrait, QueryFilter};
    use secrecy::ExposeSecret;

    let key = args
        .secret_key
        .as_ref()
        .map(|key| integrations::secrets::SecretKey::parse(key.expose_secret()))
        .transpose()
        .context("TANDEM_SECRET_KEY")?;
    let db = db::connect(&args.database).await?;
    db::migrate(&db).await?;
    let wanted = args.integration.trim();
    let by_id = uuid::Uuid::parse_str(wanted).ok().or_else(|| {
        crate::ids::decode_as(
            "integration",
            crate::ids::NodeType::Integration,
            &wanted.into(),
        )
        .ok()
    });
    let mut found = match by_id {
        Some(id) => integration::Entity::find_by_id(id).all(&db).await?,
        None => {
            // A deleted integration keeps its name in its history; names are unique among
            // the live ones only.
            integration::Entity::find()
                .filter(integration::COLUMN.name.eq(wanted))
                .filter(integration::COLUMN.deleted_at.is_null())
                .all(&db)
                .await?
        }
    };
    anyhow::ensure!(
        found.len() < 2,
        "{} integrations are named {wanted:?}; use the id",
        found.len()
    );
    let found = found
        .pop()
        .with_context(|| format!("no integration {wanted:?}"))?;
    let mut options = crate::sync::SyncOptions::new(SyncTrigger::Cli);
    options.full = args.full;
    options.egress = integrations::egress::Egress::new(args.allow_private_vendor_addresses);
    options.policy.throttle_budget = args.sync_throttle_budget;
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        // The servers on this database hear of what the run writes (`events::fanout`); this
        // process has no subscribers of its own.
        options.events = Some(crate::events::EventBus::across_servers());
    }
    println!(
        "Syncing {} ({}){}",
        found.name,
        sea_orm::ActiveEnum::to_value(&found.kind),
        if args.full { ", full" } else { "" }
    );
    let progress = |line: &crate::sync::engine::Progress| {
        println!("  {}", crate::sync::engine::progress_line(line));
    };
    let report = crate::sync::run(&db, key.as_ref(), found.id, &options, &progress).await?;
    let run = &report.run;
    let seconds = run.finished_at.map_or(0.0, |finished| {
        (finished - run.started_at).num_milliseconds() as f64 / 1000.0
    });
    println!(
        "{:?} in {seconds:.1} s: {} fetched, {} created, {} updated, {} unchanged, {} skipped, {} failed (run {})",
        run.status,
        run.records_fetched,
        run.records_created,
        run.records_updated,
        run.records_unchanged,
        run.records_skipped,
        run.records_failed,
        run.id
    );
    for warning in crate::sync::engine::warnings_of(run) {
        eprintln!("warning: {warning}");
    }
    if run.status == SyncStatus::Partial {
        eprintln!("some records failed; see the run's errors (syncRuns in the API)");
        std::process::exit(2);
    }
    Ok(())
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let keys = match JwtKeys::from_settings(&settings.auth)? {
        Some(keys) => keys,
        None if settings.server.demo => {
            tracing::warn!(
                "no TANDEM_JWT_SECRET: using a random one; the printed tokens stop working at restart"
            );
            JwtKeys::random()?.with_max_lifetime(settings.auth.max_token_lifetime)
        }
        None => anyhow::bail!(
            "no token verification key: set TANDEM_JWT_SECRET (HS256, at least 32 bytes) or \
             TANDEM_JWT_PUBLIC_KEY (RS256 PEM), or run with --demo"
        ),
    };
    let db = db::connect(&settings.database).await?;
    let applied = db::migrate(&db).await?;
    tracing::info!(
        database = db::backend_name(&db),
        migrations.applied = applied,
        "database ready at {}",
        db::redact_url(&settings.database.database_url)
    );

    let mut banner = Vec::new();
    if settings.server.demo {
        match demo::seed_if_empty(&db).await? {
            Some(summary) => banner.push(format!(
                "Loaded demo data: {} organizations, {} environments, {} systems, {} matrix entries, \
                 {} runbooks, {} change log entries, {} tickets, {} alerts.",
                summary.organizations,
                summary.environments,
                summary.systems,
                summary.responsibilities,
                summary.runbooks,
                summary.change_log_entries,
                summary.tickets,
                summary.alerts
            )),
            None => banner.push("The database already has data: demo data not loaded.".to_owned()),
        }
        // A day, unless tokens may not live that long here.
        let ttl = Duration::from_secs(24 * 3600).min(settings.auth.max_token_lifetime);
        for ((subject, org), label) in [
            (demo::PROVIDER_ADMIN, "Provider admin (Northwind MSP)"),
            (
                demo::CLIENT_IT_ADMIN,
                "Client internal IT admin (Harbor Health)",
            ),
        ] {
            banner.push(format!(
                "{label}, valid {}:\n  {}",
                crate::auth::jwt::readable(ttl.as_secs()),
                keys.mint(subject, org, Role::Admin, ttl)?
            ));
        }
    }

    let app = Application::build(&settings.server, db, keys).await?;
    let address = app.address();
    banner.push(format!(
        "GraphiQL: http://{address}/graphql (add the header Authorization: Bearer <token>)"
    ));
    println!("{}", banner.join("\n\n"));
    tracing::info!(%address, "listening");
    app.run_until_stopped(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let db = db::connect(&args.database).await?;
    if args.status {
        let applied = Migrator::get_applied_migrations(&db).await?;
        let pending = Migrator::get_pending_migrations(&db).await?;
        for migration in &applied {
            println!("applied  {}", migration.name());
        }
        for migration in &pending {
            println!("pending  {}", migration.name());
        }
        if !pending.is_empty() {
            // A deploy script can gate on it: `tandem migrate --status || tandem migrate`.
            anyhow::bail!("{} migration(s) pending", pending.len());
        }
        return Ok(());
    }
    let applied = db::migrate(&db).await?;
    println!("{applied} migration(s) applied; the schema is current");
    Ok(())
}
