//! `procmap-api`: serve the API, migrate the database, and manage API keys.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use procmap_api::{keys, Application};
use procmap_core::{config::Config, db, telemetry};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[derive(Parser)]
#[command(
    name = "procmap-api",
    version,
    about = "The procmap HTTP API. Configured by PROCMAP_* environment variables."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API on PROCMAP_BIND.
    Serve,
    /// Create the database if needed and apply pending migrations.
    Migrate,
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key and print its secret, which is shown only this once.
    Create {
        /// Whose generations the key creates and reads.
        #[arg(long)]
        owner: String,
        /// Comma-separated scopes: generate, diagrams:read, diagrams:write, folders:read, folders:write.
        #[arg(long, default_value = "generate,diagrams:read")]
        scopes: String,
        /// A test-mode key (pm_sk_test_…), which always uses the builtin modeler.
        #[arg(long)]
        test: bool,
        /// When the key stops working, in RFC 3339 (2026-12-31T23:59:59Z).
        #[arg(long, value_parser = parse_time)]
        expires_at: Option<DateTime<Utc>>,
        /// Print one JSON line instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by its id.
    Revoke { id: Uuid },
}

fn parse_time(value: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("not RFC 3339: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("procmap-api: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    match cli.command {
        Command::Serve => {
            let app = Application::build(config).await?;
            tracing::info!(address = %app.local_addr()?, "procmap-api listening");
            let stop = CancellationToken::new();
            tokio::spawn(stop_on_signal(stop.clone()));
            app.run_until(stop).await
        }
        Command::Migrate => {
            db::create_database_if_missing(&config.database_url).await?;
            let pool = db::pool(&config.database_url, 2)?;
            let applied = db::migrate(&pool).await?;
            tracing::info!(?applied, "database is up to date");
            Ok(())
        }
        Command::Keys(KeysCommand::Create {
            owner,
            scopes,
            test,
            expires_at,
            json,
        }) => {
            let pool = db::pool(&config.database_url, 2)?;
            let created = keys::create(
                &pool,
                &owner,
                keys::parse_scopes(&scopes)?,
                !test,
                expires_at,
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string(&created)?);
            } else {
                println!(
                    "Created API key {} for {} (scopes: {}).",
                    created.id,
                    created.owner,
                    created.scopes.join(",")
                );
                println!("Secret, shown only now: {}", created.key);
            }
            Ok(())
        }
        Command::Keys(KeysCommand::Revoke { id }) => {
            let pool = db::pool(&config.database_url, 2)?;
            keys::revoke(&pool, id).await?;
            println!("Revoked API key {id}.");
            Ok(())
        }
    }
}

/// Cancels `stop` on SIGINT or SIGTERM, for a graceful drain.
async fn stop_on_signal(stop: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    stop.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    stop.cancel();
}
