//! Postgres access: the pool, migrations, and one module per table.
//!
//! Every query function takes `&impl GenericClient`, so the same code runs on a pooled
//! connection or inside a transaction.
//!
//! **Lock order.** A transaction that locks a diagram's row and rows that hang off it (its
//! generations, its copilot session's messages) locks the diagram's row first. Deleting a
//! diagram does so by itself: its cascade reaches those rows after the diagram's. Anything
//! that took the other order would deadlock with a delete, and Postgres would abort one of the
//! two after a second's wait.

pub mod api_keys;
pub mod copilot;
pub mod copilot_turns;
pub mod diagrams;
pub mod folders;
pub mod generations;
pub mod idempotency;
pub mod job_rows;
pub mod limits;
mod tls;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, RecyclingMethod};
use uuid::Uuid;

pub use deadpool_postgres::{GenericClient, Object as Client, Pool};

/// A row that could not be read: Postgres failed, or a text column holds a value the code does
/// not know, because something other than this code's migrations changed the database.
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
    #[error("row {id} has an unknown {column} {value:?}")]
    Corrupt {
        id: Uuid,
        column: &'static str,
        value: String,
    },
}

/// Whether an error means Postgres could not be reached or used right now, rather than that a
/// query was wrong: no connection could be had, the connection broke, or the server refuses
/// connections while it starts or shuts down. Callers answer 503 for these and 500 for the rest.
pub fn is_outage(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        if let Some(e) = cause.downcast_ref::<deadpool_postgres::PoolError>() {
            return matches!(
                e,
                deadpool_postgres::PoolError::Backend(_) | deadpool_postgres::PoolError::Timeout(_)
            );
        }
        if let Some(e) = cause.downcast_ref::<tokio_postgres::Error>() {
            if e.is_closed() {
                return true;
            }
            return match e.code() {
                // Class 08 is connection exceptions; 57P01 to 57P03 an administrator or a
                // starting server ending or refusing the session; 3D000 a database not there.
                Some(code) => {
                    let code = code.code();
                    code.starts_with("08") || ["57P01", "57P02", "57P03", "3D000"].contains(&code)
                }
                None => false,
            };
        }
        cause.downcast_ref::<std::io::Error>().is_some()
    })
}

/// Prepares a statement that finds rows by an array of ids (`id = ANY($1)`, a join on
/// `unnest`) for a single execution, so that Postgres plans it for the table as it is now.
///
/// A statement from the connection's cache (`prepare_cached`) gets a generic plan after five
/// executions, kept until the table's statistics change. Planned while the table was small, that
/// plan reads the whole table, and goes on doing so for every batch as the table grows: one
/// two-minute accept run on a fresh database made 2,820 sequential scans of `generations`,
/// reading 38 M rows. Only an analyze replaces the plan, and autovacuum may be minutes away, or
/// off (as on the CI machines). The statements that use this run once per batch of jobs, so the
/// round trip to prepare is small beside the batch. (A lookup by `id = $1` needs none of this:
/// its generic plan uses the primary key at any size.)
pub async fn prepare_for_now(
    client: &impl GenericClient,
    sql: &str,
) -> Result<tokio_postgres::Statement, tokio_postgres::Error> {
    client.prepare(sql).await
}

/// The numbered migrations, applied in order. Never edit one that has landed; add a new one.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_core",
        include_str!("../../../../migrations/0001_core.sql"),
    ),
    (
        "0002_platform",
        include_str!("../../../../migrations/0002_platform.sql"),
    ),
    (
        "0003_usage",
        include_str!("../../../../migrations/0003_usage.sql"),
    ),
    (
        "0004_warnings",
        include_str!("../../../../migrations/0004_warnings.sql"),
    ),
    (
        "0005_budgets",
        include_str!("../../../../migrations/0005_budgets.sql"),
    ),
    (
        "0006_diagrams",
        include_str!("../../../../migrations/0006_diagrams.sql"),
    ),
    (
        "0007_copilot",
        include_str!("../../../../migrations/0007_copilot.sql"),
    ),
    (
        "0008_copilot_turns",
        include_str!("../../../../migrations/0008_copilot_turns.sql"),
    ),
    (
        "0009_quota_leases",
        include_str!("../../../../migrations/0009_quota_leases.sql"),
    ),
    (
        "0010_unlocked_key_reference",
        include_str!("../../../../migrations/0010_unlocked_key_reference.sql"),
    ),
    (
        "0011_lz4_diagram_xml",
        include_str!("../../../../migrations/0011_lz4_diagram_xml.sql"),
    ),
    (
        "0012_diagram_reference_indexes",
        include_str!("../../../../migrations/0012_diagram_reference_indexes.sql"),
    ),
];

/// Builds a connection pool. Connections are opened lazily, so this does not touch the network.
/// The URL's `sslmode` (and `sslrootcert`) choose TLS as libpq's do; see [`tls`].
pub fn pool(database_url: &str, max_size: usize) -> anyhow::Result<Pool> {
    let tls::Connect { config, tls } = tls::connect(database_url)?;
    build_pool(config, tls, max_size)
}

/// A pool for the per-key budgets of [`limits`]: its sessions commit without waiting for the
/// WAL flush (`synchronous_commit = off`), so a budget row's lock is held for a statement, not
/// for a disk write. Only counters whose last moments a crash may forget belong here.
pub fn budget_pool(database_url: &str, max_size: usize) -> anyhow::Result<Pool> {
    let tls::Connect { mut config, tls } = tls::connect(database_url)?;
    let options = match config.get_options() {
        Some(given) => format!("{given} -c synchronous_commit=off"),
        None => "-c synchronous_commit=off".to_owned(),
    };
    config.options(&options);
    build_pool(config, tls, max_size)
}

fn build_pool(
    config: tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    max_size: usize,
) -> anyhow::Result<Pool> {
    let manager = Manager::from_config(
        config,
        tls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(std::time::Duration::from_secs(10)))
        .create_timeout(Some(std::time::Duration::from_secs(10)))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .context("building the database pool")
}

/// Applies every migration not yet applied. Safe to run from several processes at once.
pub async fn migrate(pool: &Pool) -> anyhow::Result<Vec<&'static str>> {
    let mut client = pool
        .get()
        .await
        .context("connecting to the database to migrate it")?;
    let tx = client
        .transaction()
        .await
        .context("opening a transaction")?;
    // Serialises concurrent migrators; released at commit.
    tx.execute("SELECT pg_advisory_xact_lock(7262011)", &[])
        .await
        .context("waiting for other migrators")?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             name text PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await
    .context("creating the migrations table")?;
    let mut applied = Vec::new();
    for (name, sql) in MIGRATIONS {
        let done = tx
            .query_opt("SELECT 1 FROM schema_migrations WHERE name = $1", &[name])
            .await
            .context("reading which migrations ran")?
            .is_some();
        if !done {
            tx.batch_execute(sql)
                .await
                .with_context(|| format!("migration {name} failed"))?;
            tx.execute("INSERT INTO schema_migrations (name) VALUES ($1)", &[name])
                .await
                .context("recording a migration")?;
            applied.push(*name);
        }
    }
    tx.commit().await.context("committing the migrations")?;
    Ok(applied)
}

/// Creates the database named in `database_url` if it does not exist, connecting to the
/// `postgres` maintenance database of the same server to do so.
pub async fn create_database_if_missing(database_url: &str) -> anyhow::Result<()> {
    let maintenance = Maintenance::connect(database_url).await?;
    let name = maintenance.database.as_deref().unwrap_or("postgres");
    let exists = maintenance
        .client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .context("looking for the database")?
        .is_some();
    if !exists {
        let created = maintenance
            .client
            .batch_execute(&format!("CREATE DATABASE {}", quoted(name)))
            .await;
        match created {
            // Another process may have created it between our check and our CREATE.
            Err(e) if e.code() != Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {
                return Err(anyhow::Error::new(e).context(format!("creating the database {name}")))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Drops the database named in `database_url`, disconnecting anyone still using it.
pub async fn drop_database(database_url: &str) -> anyhow::Result<()> {
    let maintenance = Maintenance::connect(database_url).await?;
    let name = maintenance.database.clone().unwrap_or_default();
    maintenance
        .client
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quoted(&name)
        ))
        .await
        .with_context(|| format!("dropping the database {name}"))
}

/// A connection to the `postgres` maintenance database of the server a URL names, for creating
/// and dropping the database the URL names. Closed when dropped.
struct Maintenance {
    client: tokio_postgres::Client,
    connection: tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>,
    /// The database the URL names.
    database: Option<String>,
}

impl Maintenance {
    async fn connect(database_url: &str) -> anyhow::Result<Self> {
        let tls::Connect { mut config, tls } = tls::connect(database_url)?;
        let database = config.get_dbname().map(str::to_owned);
        config.dbname("postgres");
        let (client, connection) = config
            .connect(tls)
            .await
            .context("connecting to the server's postgres database")?;
        Ok(Maintenance {
            client,
            connection: tokio::spawn(connection),
            database,
        })
    }
}

impl Drop for Maintenance {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

/// A database name as an identifier: names cannot be bound as parameters.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

    #[test]
    fn every_migration_file_is_applied_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("migrations directory")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|name| name.strip_suffix(".sql").map(str::to_owned))
            .collect();
        files.sort();
        let listed: Vec<&str> = MIGRATIONS.iter().map(|(name, _)| *name).collect();
        assert_eq!(
            listed, files,
            "MIGRATIONS must list every file in migrations/, in order"
        );
    }
}
