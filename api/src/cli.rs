//! The commands of `procmap-api`: `serve`, `migrate`, `keys create` / `keys revoke`, and
//! `jobs requeue-dead`.

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use procmap_core::{
    broker::Broker, db, domain::Owner, messages::KeyRevoked, relay::Relay, shutdown,
};
use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::{keys, ApiConfig, Application};

#[derive(Parser)]
#[command(
    name = "procmap-api",
    version,
    about = "The procmap HTTP API. Configured by PROCMAP_* environment variables."
)]
pub struct Cli {
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
    /// Operate on the job queues.
    #[command(subcommand)]
    Jobs(JobsCommand),
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Publish again every dead-lettered job whose generation is still queued; drop those the
    /// database already finished; leave unreadable messages in the dead-letter queue.
    RequeueDead,
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

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = ApiConfig::from_env()?;
    match cli.command {
        Command::Serve => {
            let app = Application::build(config).await?;
            tracing::info!(address = %app.local_addr()?, "procmap-api listening");
            app.run_until(shutdown::on_signal()).await
        }
        Command::Migrate => migrate(&config).await,
        Command::Keys(KeysCommand::Create {
            owner,
            scopes,
            test,
            expires_at,
            json,
        }) => {
            let owner = Owner::parse(&owner).map_err(keys::KeyError::from)?;
            let scopes = keys::parse_scopes(&scopes)?;
            let created = keys::create(&pool(&config)?, &owner, scopes, !test, expires_at).await?;
            print_key(&created, json)
        }
        Command::Jobs(JobsCommand::RequeueDead) => {
            let relay = Relay {
                pool: pool(&config)?,
                publisher: Broker::new(
                    config.infrastructure.amqp_url.clone(),
                    &config.infrastructure.queue_prefix,
                    "procmap-api",
                )
                .publisher(),
                max_attempts: config.max_attempts,
            };
            let report = relay.requeue_dead_letters().await;
            relay.publisher.close().await;
            let report = report?;
            println!(
                "Requeued {} dead-lettered jobs; dropped {} whose generation had finished or was running; left {} unreadable messages.",
                report.requeued, report.dropped, report.unreadable
            );
            Ok(())
        }
        Command::Keys(KeysCommand::Revoke { id }) => {
            keys::revoke(&pool(&config)?, id).await?;
            // The revocation is committed; the announcement only makes running replicas drop
            // their cached keys now rather than within the cache's lifetime.
            let publisher = Broker::new(
                config.infrastructure.amqp_url.clone(),
                &config.infrastructure.queue_prefix,
                "procmap-api",
            )
            .publisher();
            let announced = publisher
                .publish_key_revoked(&KeyRevoked { api_key_id: id })
                .await;
            publisher.close().await;
            match announced {
                Ok(()) => println!("Revoked API key {id}."),
                Err(e) => println!(
                    "Revoked API key {id}. Running API replicas could not be told ({e}); they refuse it within {} s.",
                    config.key_cache_ttl.as_secs()
                ),
            }
            Ok(())
        }
    }
}

/// A small pool for a command that makes a few queries.
fn pool(config: &ApiConfig) -> anyhow::Result<db::Pool> {
    db::pool(config.infrastructure.database_url.expose_secret(), 2)
}

async fn migrate(config: &ApiConfig) -> anyhow::Result<()> {
    db::create_database_if_missing(config.infrastructure.database_url.expose_secret())
        .await
        .context("creating the database")?;
    let applied = db::migrate(&pool(config)?)
        .await
        .context("migrating the database")?;
    tracing::info!(?applied, "database is up to date");
    Ok(())
}

/// The new key, shown this once: as text, or as one JSON line.
fn print_key(created: &keys::CreatedKey, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(created)?);
    } else {
        let scopes: Vec<&str> = created.scopes.iter().map(|s| s.as_str()).collect();
        println!(
            "Created API key {} for {} (scopes: {}).",
            created.id,
            created.owner,
            scopes.join(",")
        );
        println!("Secret, shown only now: {}", created.key);
    }
    Ok(())
}
