//! The test harness: each test gets its own database and queue prefix, an API on a free port,
//! optionally an in-process worker, and a key.

use std::{collections::HashMap, time::Duration};

use procmap_api::{keys, ApiConfig, AppState, Application};
use procmap_core::{broker::Broker, config::Vars, db};
use procmap_worker::WorkerConfig;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const BASE_URL: &str = "http://procmap.test";
pub const SEED_PROMPT: &str =
    "Map the customer support ticket triage process from intake to resolution.";

pub fn server_url() -> String {
    std::env::var("PROCMAP_TEST_DATABASE_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

pub fn amqp_url() -> String {
    std::env::var("PROCMAP_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

pub use procmap_core::domain::{Owner, Scope};

/// One isolated environment: a database and a queue prefix.
pub struct Environment {
    pub database_url: String,
    pub queue_prefix: String,
}

impl Environment {
    pub async fn new() -> Environment {
        let tag = Uuid::new_v4().simple().to_string();
        let env = Environment {
            database_url: format!("{}/procmap_test_{tag}", server_url()),
            queue_prefix: format!("procmap_test_{tag}"),
        };
        db::create_database_if_missing(&env.database_url)
            .await
            .expect("create test database");
        let pool = db::pool(&env.database_url, 2).expect("pool");
        db::migrate(&pool).await.expect("migrate test database");
        env
    }

    pub fn vars(&self, extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut vars: HashMap<String, String> = [
            ("PROCMAP_DATABASE_URL", self.database_url.as_str()),
            ("PROCMAP_AMQP_URL", &amqp_url()),
            ("PROCMAP_QUEUE_PREFIX", self.queue_prefix.as_str()),
            ("PROCMAP_BIND", "127.0.0.1:0"),
            ("PROCMAP_PUBLIC_BASE_URL", BASE_URL),
            ("PROCMAP_WAIT_TIMEOUT_MS", "20000"),
            ("PROCMAP_DATABASE_POOL_SIZE", "8"),
            // Many workers run in one test process: each takes a free port.
            ("PROCMAP_WORKER_HTTP_BIND", "127.0.0.1:0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (k, v) in extra {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        vars
    }

    pub fn api_config(&self, extra: &[(&str, &str)]) -> ApiConfig {
        ApiConfig::from_vars(&Vars::from_map(self.vars(extra))).expect("test config")
    }

    pub fn worker_config(&self, extra: &[(&str, &str)]) -> WorkerConfig {
        WorkerConfig::from_vars(&Vars::from_map(self.vars(extra))).expect("test config")
    }

    /// The broker as this environment's processes see it, for tests that look at the queues.
    pub fn broker(&self) -> Broker {
        Broker::new(amqp_url().into(), &self.queue_prefix, "procmap-tests")
    }

    pub async fn teardown(self) {
        let _ = self.broker().delete_topology().await;
        let _ = db::drop_database(&self.database_url).await;
    }
}

/// An API instance (and possibly a worker) serving one environment.
pub struct TestApp {
    pub address: String,
    pub state: AppState,
    pub client: reqwest::Client,
    pub key: String,
    stop: CancellationToken,
    worker: Option<CancellationToken>,
}

pub struct Options {
    pub worker: bool,
    pub wait_timeout_ms: u64,
    /// Further PROCMAP_* settings for this API instance.
    pub env: &'static [(&'static str, &'static str)],
}

impl Default for Options {
    fn default() -> Self {
        Options {
            worker: true,
            wait_timeout_ms: 20_000,
            env: &[],
        }
    }
}

impl Options {
    /// An API alone, for tests that start the worker they need, or none.
    pub fn without_worker() -> Self {
        Options {
            worker: false,
            ..Default::default()
        }
    }
}

impl TestApp {
    pub async fn spawn(env: &Environment, options: Options) -> TestApp {
        let wait = options.wait_timeout_ms.to_string();
        let mut settings = vec![("PROCMAP_WAIT_TIMEOUT_MS", wait.as_str())];
        settings.extend_from_slice(options.env);
        let mut app = Application::build(env.api_config(&settings))
            .await
            .expect("build app");
        assert!(
            app.events_ready(Duration::from_secs(15)).await,
            "event listener did not start"
        );
        let address = format!("http://{}", app.local_addr().expect("address"));
        let state = app.state().clone();
        let stop = CancellationToken::new();
        tokio::spawn(app.run_until(stop.clone()));
        let worker = options
            .worker
            .then(|| start_worker(env.worker_config(&settings)));
        let key = create_key(&state, "owner-a", "generate,diagrams:read").await;
        TestApp {
            address,
            state,
            client: reqwest::Client::new(),
            key,
            stop,
            worker,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_generation(&self, body: &Value, query: &str) -> reqwest::Response {
        self.post_generation_as(&self.key, body, query, None).await
    }

    pub async fn post_generation_as(
        &self,
        key: &str,
        body: &Value,
        query: &str,
        idempotency_key: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url(&format!("/api/v1/process-maps/generations{query}")))
            .bearer_auth(key)
            .json(body);
        if let Some(k) = idempotency_key {
            request = request.header("Idempotency-Key", k);
        }
        request.send().await.expect("request")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.get_as(&self.key, path).await
    }

    pub async fn get_as(&self, key: &str, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .expect("request")
    }

    /// Polls a generation until it is terminal.
    pub async fn poll_until_done(&self, id: &str) -> Value {
        for _ in 0..200 {
            let body: Value = self
                .get(&format!("/api/v1/process-maps/generations/{id}"))
                .await
                .json()
                .await
                .expect("json");
            if body["status"] == "succeeded" || body["status"] == "failed" {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("generation {id} did not finish");
    }

    pub fn start_worker(&mut self, env: &Environment) {
        self.worker = Some(start_worker(env.worker_config(&[])));
    }

    pub async fn stop(self) {
        if let Some(w) = self.worker {
            w.cancel();
        }
        self.stop.cancel();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn start_worker(config: WorkerConfig) -> CancellationToken {
    let token = CancellationToken::new();
    tokio::spawn(procmap_worker::run(config, token.clone()));
    token
}

/// A test-mode key: its generations always use the builtin modeler.
pub async fn create_key(state: &AppState, owner: &str, scopes: &str) -> String {
    create_key_in_mode(state, owner, scopes, false).await
}

/// A live key: its generations go to the worker's configured provider.
pub async fn create_live_key(state: &AppState, owner: &str, scopes: &str) -> String {
    create_key_in_mode(state, owner, scopes, true).await
}

async fn create_key_in_mode(state: &AppState, owner: &str, scopes: &str, live: bool) -> String {
    create_key_record(state, owner, scopes, live).await.key
}

/// A key with its id, for tests that revoke it or look at its rows.
pub async fn create_key_record(
    state: &AppState,
    owner: &str,
    scopes: &str,
    live: bool,
) -> keys::CreatedKey {
    keys::create(
        &state.pool,
        &Owner::parse(owner).expect("owner"),
        keys::parse_scopes(scopes).expect("scopes"),
        live,
        None,
    )
    .await
    .expect("create key")
}

/// Parses a response as JSON, checking the status first and always the X-Request-Id header.
pub async fn json_with_status(
    response: reqwest::Response,
    status: u16,
) -> (reqwest::header::HeaderMap, Value) {
    let actual = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    assert_eq!(actual, status, "unexpected status; body: {text}");
    assert!(
        headers.contains_key("x-request-id"),
        "every answer carries X-Request-Id"
    );
    (
        headers,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")),
    )
}

/// Checks an error envelope and answers its `param`.
pub async fn assert_error(
    response: reqwest::Response,
    status: u16,
    r#type: &str,
    code: &str,
) -> Value {
    let (headers, body) = json_with_status(response, status).await;
    assert_eq!(body["error"]["type"], r#type, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    if status == 401 {
        assert_eq!(
            headers
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            Some("Bearer")
        );
    }
    body["error"]["param"].clone()
}

/// How many messages wait in one of the environment's queues.
pub async fn messages_in(env: &Environment, queue: &str) -> u32 {
    let channel = env.broker().publisher().channel().await.expect("channel");
    channel
        .queue_declare(
            queue,
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await
        .expect("queue")
        .message_count()
}

/// How many jobs wait in the environment's jobs queue.
pub async fn jobs_in_queue(env: &Environment) -> u32 {
    let queue = procmap_core::broker::Topology::new(&env.queue_prefix).jobs_queue;
    messages_in(env, &queue).await
}

/// The relay, as the messaging tests drive it: one pass now, without waiting for its timer.
pub mod relay {
    use procmap_api::AppState;

    pub async fn pass(state: &AppState) -> anyhow::Result<usize> {
        state.relay.pass().await
    }
}
