//! One procmap deployment on the private services: its own database and queue prefix, the
//! built binaries as separate processes, a live key whose generations go to the fake model,
//! and clients that behave as an integrator's should: every request carries an
//! `Idempotency-Key` and is retried with it until procmap accepts it.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::Duration,
};

use anyhow::{bail, Context};
use serde_json::{json, Value};
use tokio::{
    process::{Child, Command},
    time::Instant,
};
use uuid::Uuid;

use crate::{
    infra::{free_port, Postgres, RabbitMq},
    model::FakeModel,
};

pub struct Deployment {
    bin_dir: PathBuf,
    log_dir: PathBuf,
    vars: Vec<(String, String)>,
    amqp_url: String,
    jobs_queue: String,
    pub database_url: String,
    pub key: String,
}

/// A running procmap binary; killed when dropped.
pub struct Process {
    child: Child,
    pub base_url: String,
}

impl Process {
    /// Sends `signal` (`KILL`, `TERM`) to the process.
    pub fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let pid = self.child.id().context("the process has already exited")?;
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()?;
        if !status.success() {
            bail!("kill -{signal} {pid} failed");
        }
        Ok(())
    }

    /// Waits for the process to end, at most `within`.
    pub async fn exited(&mut self, within: Duration) -> anyhow::Result<()> {
        tokio::time::timeout(within, self.child.wait())
            .await
            .context("the process did not exit in time")??;
        Ok(())
    }
}

impl Deployment {
    /// Creates database and prefix `name`, migrates it, and makes a live key.
    pub async fn new(
        name: &str,
        bin_dir: &Path,
        log_dir: &Path,
        postgres: &Postgres,
        rabbitmq: &RabbitMq,
        model: &FakeModel,
    ) -> anyhow::Result<Deployment> {
        let (admin, connection) =
            tokio_postgres::connect(&postgres.url("postgres"), tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await?;
        std::fs::create_dir_all(log_dir)?;
        let database_url = postgres.url(name);
        let vars = [
            ("PROCMAP_DATABASE_URL", database_url.clone()),
            ("PROCMAP_AMQP_URL", rabbitmq.url()),
            ("PROCMAP_QUEUE_PREFIX", name.to_owned()),
            ("PROCMAP_LLM_PROVIDER", "openai".to_owned()),
            ("PROCMAP_OPENAI_BASE_URL", model.base_url.clone()),
            ("PROCMAP_OPENAI_API_KEY", "sk-faults".to_owned()),
            ("PROCMAP_OPENAI_MODEL", "fake-model".to_owned()),
            // The faults are about delivery, not the per-key limits.
            ("PROCMAP_RATE_LIMIT", "1000000".to_owned()),
            ("PROCMAP_GENERATION_QUOTA", "1000000".to_owned()),
            ("PROCMAP_WORKER_HTTP_BIND", "off".to_owned()),
            ("RUST_LOG", "info".to_owned()),
            ("NO_COLOR", "1".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .to_vec();
        let mut deployment = Deployment {
            bin_dir: bin_dir.to_owned(),
            log_dir: log_dir.to_owned(),
            vars,
            amqp_url: rabbitmq.url(),
            jobs_queue: format!("{name}.jobs"),
            database_url,
            key: String::new(),
        };
        deployment.cli(&["migrate"]).await?;
        let created = deployment
            .cli(&[
                "keys", "create", "--owner", "faults", "--scopes", "generate", "--json",
            ])
            .await?;
        let created: Value = serde_json::from_str(created.trim())
            .with_context(|| format!("parsing the created key: {created}"))?;
        deployment.key = created["key"]
            .as_str()
            .context("no key in `keys create`'s answer")?
            .to_owned();
        Ok(deployment)
    }

    async fn cli(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = Command::new(self.bin_dir.join("procmap-api"))
            .args(args)
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "warn")
            .output()
            .await?;
        if !output.status.success() {
            bail!(
                "procmap-api {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn spawn(
        &self,
        binary: &str,
        args: &[&str],
        label: &str,
        extra: &[(&str, String)],
    ) -> anyhow::Result<Child> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_dir.join(format!("{label}.log")))?;
        Command::new(self.bin_dir.join(binary))
            .args(args)
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .envs(extra.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {binary} from {}", self.bin_dir.display()))
    }

    /// Starts an API replica on `port` (a free one when `None`) and waits until it is ready.
    pub async fn api(&self, label: &str, port: Option<u16>) -> anyhow::Result<Process> {
        let port = match port {
            Some(port) => port,
            None => free_port()?,
        };
        let base_url = format!("http://127.0.0.1:{port}");
        let child = self.spawn(
            "procmap-api",
            &["serve"],
            label,
            &[
                ("PROCMAP_BIND", format!("127.0.0.1:{port}")),
                ("PROCMAP_PUBLIC_BASE_URL", base_url.clone()),
            ],
        )?;
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = client
                .get(format!("{base_url}/readyz"))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Ok(Process { child, base_url });
            }
            if Instant::now() > deadline {
                bail!("{label} did not become ready within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts a worker. It consumes once [`Deployment::wait_consumers`] says so.
    pub fn worker(&self, label: &str, extra: &[(&str, String)]) -> anyhow::Result<Process> {
        Ok(Process {
            child: self.spawn("procmap-worker", &[], label, extra)?,
            base_url: String::new(),
        })
    }

    /// Starts one worker per entry of `settings` (`worker-1`, `worker-2`, …, each with those
    /// variables) and waits until all of them consume.
    pub async fn workers(&self, settings: &[&[(&str, String)]]) -> anyhow::Result<Vec<Process>> {
        let workers = settings
            .iter()
            .zip(1..)
            .map(|(extra, n)| self.worker(&format!("worker-{n}"), extra))
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.wait_consumers(settings.len() as u32).await?;
        Ok(workers)
    }

    /// Waits until `count` consumers listen on the jobs queue: the workers are up. Read from
    /// the broker, so it holds for any version of the worker.
    pub async fn wait_consumers(&self, count: u32) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.consumers().await.unwrap_or(0) >= count {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{count} workers did not start consuming within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn consumers(&self) -> anyhow::Result<u32> {
        let connection =
            lapin::Connection::connect(&self.amqp_url, lapin::ConnectionProperties::default())
                .await?;
        let channel = connection.create_channel().await?;
        let queue = channel
            .queue_declare(
                &self.jobs_queue,
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await?;
        let _ = connection.close(200, "done").await;
        Ok(queue.consumer_count())
    }

    /// The generations as the database holds them; errors while it is away.
    pub async fn rows(&self) -> anyhow::Result<Vec<Row>> {
        tokio::time::timeout(Duration::from_secs(3), async {
            let (client, connection) =
                tokio_postgres::connect(&self.database_url, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            let rows = client
                .query(
                    "SELECT id, status, attempts, published_at IS NOT NULL, request->>'prompt' FROM generations",
                    &[],
                )
                .await?;
            anyhow::Ok(
                rows.iter()
                    .map(|row| Row {
                        id: row.get(0),
                        status: row.get(1),
                        attempts: row.get(2),
                        published: row.get(3),
                        prompt: row.get::<_, Option<String>>(4).unwrap_or_default(),
                    })
                    .collect(),
            )
        })
        .await
        .context("the database did not answer within 3 s")?
    }

    /// Waits until at least `count` generations are `running`.
    pub async fn running(&self, count: usize) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let rows = self.rows().await.unwrap_or_default();
            if rows.iter().filter(|r| r.status == "running").count() >= count {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{count} jobs were not running within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

pub struct Row {
    pub id: Uuid,
    pub status: String,
    pub attempts: i32,
    pub published: bool,
    pub prompt: String,
}

/// One logical request, as the client saw it.
#[derive(Debug)]
pub struct Request {
    pub marker: String,
    /// Every generation id procmap answered for this request; more than one is a duplicate.
    pub ids: BTreeSet<Uuid>,
    /// The longest any try waited for procmap's answer (tries that got one).
    pub slowest_answer: Duration,
    /// Why the client gave up, if it did before procmap accepted the request.
    pub refused: Option<String>,
}

/// The API base URLs the clients spread their tries over.
pub type Apis = Arc<Vec<String>>;

/// Sends `count` requests, one every `every`, each to all of `apis` at once when
/// `to_every_api` (concurrent retries of one request), else to one; answers them when every one
/// is accepted or given up.
pub async fn submit(
    apis: Apis,
    key: String,
    tag: String,
    count: usize,
    every: Duration,
    to_every_api: bool,
) -> Vec<Request> {
    let client = reqwest::Client::new();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..count {
        let marker = format!("{tag}-{n:03}");
        let idempotency_key = Uuid::new_v4().to_string();
        let copies = if to_every_api { apis.len() } else { 1 };
        for copy in 0..copies {
            let (client, apis, key, marker, idempotency_key) = (
                client.clone(),
                apis.clone(),
                key.clone(),
                marker.clone(),
                idempotency_key.clone(),
            );
            tasks.spawn(async move {
                let request = one(&client, &apis, n + copy, &key, &marker, &idempotency_key).await;
                (marker, request)
            });
        }
        tokio::time::sleep(every).await;
    }
    let mut requests: std::collections::BTreeMap<String, Request> = Default::default();
    while let Some(Ok((marker, result))) = tasks.join_next().await {
        let request = requests.entry(marker.clone()).or_insert(Request {
            marker,
            ids: BTreeSet::new(),
            slowest_answer: Duration::ZERO,
            refused: None,
        });
        match result {
            Ok((id, slowest)) => {
                request.ids.insert(id);
                request.slowest_answer = request.slowest_answer.max(slowest);
            }
            Err(why) => request.refused = Some(why),
        }
    }
    requests.into_values().collect()
}

/// Tries one request until procmap accepts it (any 2xx with an id), for at most two minutes.
/// Transport errors, 409 (the same key in flight), 429 and 5xx are tried again with the same
/// `Idempotency-Key`, on the next API in turn. Answers the generation and the longest wait
/// for an answer.
async fn one(
    client: &reqwest::Client,
    apis: &[String],
    first: usize,
    key: &str,
    marker: &str,
    idempotency_key: &str,
) -> Result<(Uuid, Duration), String> {
    let body = json!({
        "mode": "initial",
        "prompt": format!("The clerk checks claim {marker}. The manager pays it."),
        "language": "english",
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = String::new();
    let mut attempt = first;
    let mut slowest = Duration::ZERO;
    loop {
        if Instant::now() > deadline {
            return Err(format!("not accepted within 120 s; last answer: {last}"));
        }
        let base = &apis[attempt % apis.len()];
        let began = Instant::now();
        let sent = client
            .post(format!("{base}/api/v1/process-maps/generations?wait=false"))
            .bearer_auth(key)
            .header("Idempotency-Key", idempotency_key)
            .json(&body)
            // Generous: an answer waits for the database, never for the broker.
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        if sent.is_ok() {
            slowest = slowest.max(began.elapsed());
        }
        match sent {
            Ok(response) if response.status().is_success() => {
                let status = response.status();
                let answer: Value = response.json().await.unwrap_or_default();
                return answer["id"]
                    .as_str()
                    .and_then(|id| id.parse().ok())
                    .map(|id| (id, slowest))
                    .ok_or_else(|| format!("{status} without an id: {answer}"));
            }
            Ok(response) => {
                let status = response.status();
                last = format!("{status} {}", response.text().await.unwrap_or_default());
                let retry = status.is_server_error() || status == 409 || status == 429;
                if !retry {
                    return Err(last);
                }
            }
            Err(e) => last = e.to_string(),
        }
        attempt += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
