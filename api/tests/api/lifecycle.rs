//! The worker's lifecycle against faults an operator meets: a database outage, a broker that
//! hands out more jobs than the worker should run, a shutdown mid-job, a job longer than its
//! lease, and a model server that is down for a while. Each runs the real worker against the
//! real Postgres and RabbitMQ; the model server is a local fake that speaks its protocol.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use procmap_core::broker::Topology;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use wiremock::{matchers::method, Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::*;

/// A model server whose answer to each request is chosen by a script, from the request's
/// number (counted from 0) and the time since the server started.
struct Script {
    calls: Arc<AtomicUsize>,
    started: Instant,
    reply: Box<dyn Fn(usize, Duration) -> ResponseTemplate + Send + Sync>,
}

impl Respond for Script {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        (self.reply)(n, self.started.elapsed())
    }
}

async fn model_server(
    reply: impl Fn(usize, Duration) -> ResponseTemplate + Send + Sync + 'static,
) -> (MockServer, Arc<AtomicUsize>) {
    let server = MockServer::start().await;
    let calls = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .respond_with(Script {
            calls: calls.clone(),
            started: Instant::now(),
            reply: Box::new(reply),
        })
        .mount(&server)
        .await;
    (server, calls)
}

/// A model's valid answer: a process as a block tree.
fn answer() -> ResponseTemplate {
    let spec = json!({
        "process": "Claim handling", "start": "Claim received",
        "steps": [{"task": "Check claim"}, {"task": "Pay claim"}],
        "end": "Claim closed"
    })
    .to_string();
    ResponseTemplate::new(200).set_body_json(json!({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": spec}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}
    }))
}

/// Worker settings that send live generations to `server`.
fn openai(server: &MockServer) -> Vec<(&'static str, String)> {
    vec![
        ("PROCMAP_LLM_PROVIDER", "openai".into()),
        ("PROCMAP_OPENAI_BASE_URL", format!("{}/v1", server.uri())),
        ("PROCMAP_LLM_MAX_RETRIES", "1".into()),
    ]
}

fn worker_config(
    env: &Environment,
    settings: &[(&'static str, String)],
) -> procmap_worker::WorkerConfig {
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.worker_config(&pairs)
}

/// An API without a worker, so each test starts the worker it needs, and a live key, whose
/// generations go to the configured model server.
async fn api_only() -> (Environment, TestApp, String) {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let key = create_live_key(&app.state, "owner-a", "generate").await;
    (env, app, key)
}

/// Accepts a generation without waiting; answers its id.
async fn accept(app: &TestApp, key: &str) -> Uuid {
    let body =
        json!({"mode": "initial", "prompt": "The clerk checks the claim. The manager pays it."});
    let (_, body) = json_with_status(
        app.post_generation_as(key, &body, "?wait=false", None)
            .await,
        202,
    )
    .await;
    body["id"].as_str().expect("id").parse().expect("uuid")
}

async fn row(app: &TestApp, id: Uuid) -> (String, i32) {
    let client = app.state.pool.get().await.expect("db");
    let row = client
        .query_one(
            "SELECT status, attempts FROM generations WHERE id = $1",
            &[&id],
        )
        .await
        .expect("row");
    (row.get(0), row.get(1))
}

async fn wait_for(app: &TestApp, id: Uuid, status: &str, within: Duration) -> (String, i32) {
    let deadline = Instant::now() + within;
    loop {
        let current = row(app, id).await;
        if current.0 == status {
            return current;
        }
        assert!(
            Instant::now() < deadline,
            "generation {id} is still {current:?} after {within:?}, not {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Takes this test's database away from everyone, as an outage would, until `restore`.
struct Outage {
    maintenance: tokio_postgres::Client,
    database: String,
}

impl Outage {
    async fn start(env: &Environment) -> Outage {
        let (maintenance, connection) =
            tokio_postgres::connect(&format!("{}/postgres", server_url()), tokio_postgres::NoTls)
                .await
                .expect("maintenance connection");
        tokio::spawn(connection);
        let database = env
            .database_url
            .rsplit('/')
            .next()
            .expect("database name")
            .to_owned();
        maintenance
            .batch_execute(&format!(
                "ALTER DATABASE \"{database}\" WITH ALLOW_CONNECTIONS false;
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}';"
            ))
            .await
            .expect("start the outage");
        // pg_terminate_backend only signals: wait until the backends are gone, or a query
        // sent at once may still be answered by one.
        for _ in 0..100 {
            let left: i64 = maintenance
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
                    &[&database],
                )
                .await
                .expect("count the backends")
                .get(0);
            if left == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Outage {
            maintenance,
            database,
        }
    }

    async fn end(self) {
        self.maintenance
            .batch_execute(&format!(
                "ALTER DATABASE \"{}\" WITH ALLOW_CONNECTIONS true",
                self.database
            ))
            .await
            .expect("end the outage");
    }
}

#[tokio::test]
async fn a_database_outage_is_waited_out_without_dead_lettering_or_failing_jobs() {
    let (env, app, _) = api_only().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(accept(&app, &app.key).await);
    }
    let outage = Outage::start(&env).await;
    let worker = start_worker(env.worker_config(&[]));

    // While Postgres is away, a poll is answered 503 with a time to come back.
    let response = app
        .get(&format!("/api/v1/process-maps/generations/{}", ids[0]))
        .await;
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    assert_error(response, 503, "api_error", "service_unavailable").await;
    // A new request is refused the same way: the client may retry it, nothing was stored.
    let response = app
        .post_generation(
            &json!({"mode": "initial", "prompt": "The clerk checks the claim. The manager pays it."}),
            "?wait=false",
        )
        .await;
    assert_error(response, 503, "api_error", "service_unavailable").await;

    // Longer than the queue's five deliveries at the old one-second requeue.
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(
        messages_in(&env, &Topology::new(&env.queue_prefix).dead_letter_queue).await,
        0,
        "an outage is not a poison message"
    );
    outage.end().await;
    for id in ids {
        let (_, attempts) = wait_for(&app, id, "succeeded", Duration::from_secs(30)).await;
        assert_eq!(attempts, 1, "the outage cost no attempt");
    }
    worker.cancel();
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_worker_runs_no_more_jobs_at_once_than_its_concurrency_whatever_the_broker_sends() {
    let (server, _) = model_server(|_, _| answer().set_delay(Duration::from_millis(700))).await;
    let (env, app, key) = api_only().await;
    let mut settings = openai(&server);
    // The broker may hand over ten; the worker runs two.
    settings.push(("PROCMAP_WORKER_CONCURRENCY", "2".into()));
    settings.push(("PROCMAP_WORKER_PREFETCH", "10".into()));
    let worker = start_worker(worker_config(&env, &settings));
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(accept(&app, &key).await);
    }
    let client = app.state.pool.get().await.expect("db");
    let mut most_running = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let counts = client
            .query_one(
                "SELECT count(*) FILTER (WHERE status = 'running'), count(*) FILTER (WHERE status = 'succeeded') FROM generations",
                &[],
            )
            .await
            .expect("counts");
        let (running, succeeded): (i64, i64) = (counts.get(0), counts.get(1));
        most_running = most_running.max(running);
        if succeeded == 6 {
            break;
        }
        assert!(Instant::now() < deadline, "only {succeeded} of 6 succeeded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        most_running <= 2,
        "{most_running} jobs ran at once on a worker of 2"
    );
    assert!(most_running >= 1);
    worker.cancel();
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_worker_stopped_mid_job_releases_it_unspent_and_the_next_worker_finishes_it() {
    // The first job's requests hang; the ones after answer at once.
    let (server, _) = model_server(|n, _| match n {
        0..=2 => answer().set_delay(Duration::from_secs(60)),
        _ => answer(),
    })
    .await;
    let (env, app, key) = api_only().await;
    let mut settings = openai(&server);
    settings.push(("PROCMAP_WORKER_DRAIN_SECS", "1".into()));
    let stop = CancellationToken::new();
    let first = tokio::spawn(procmap_worker::run(
        worker_config(&env, &settings),
        stop.clone(),
    ));
    let id = accept(&app, &key).await;
    wait_for(&app, id, "running", Duration::from_secs(15)).await;

    let stopping = Instant::now();
    stop.cancel();
    first
        .await
        .expect("worker task")
        .expect("worker stops cleanly");
    assert!(
        stopping.elapsed() < Duration::from_secs(10),
        "stopping waited out the model: {:?}",
        stopping.elapsed()
    );
    assert_eq!(
        row(&app, id).await,
        ("queued".to_owned(), 0),
        "released, with its attempt given back"
    );

    let second = start_worker(worker_config(&env, &openai(&server)));
    let (_, attempts) = wait_for(&app, id, "succeeded", Duration::from_secs(20)).await;
    assert_eq!(attempts, 1);
    second.cancel();
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_job_longer_than_its_lease_keeps_it_and_runs_once() {
    // Each request takes twice the lease.
    let (server, calls) = model_server(|_, _| answer().set_delay(Duration::from_secs(6))).await;
    let (env, app, key) = api_only().await;
    let mut settings = openai(&server);
    settings.push(("PROCMAP_JOB_LEASE_SECS", "3".into()));
    let worker = start_worker(worker_config(&env, &settings));
    let id = accept(&app, &key).await;
    wait_for(&app, id, "running", Duration::from_secs(15)).await;
    // The relay looks for expired leases far more often than it would on its own.
    let deadline = Instant::now() + Duration::from_secs(40);
    while row(&app, id).await.0 == "running" && Instant::now() < deadline {
        relay::pass(&app.state).await.expect("relay pass");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (status, attempts) = row(&app, id).await;
    assert_eq!(
        (status.as_str(), attempts),
        ("succeeded", 1),
        "never taken back"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "one request per option, none run twice"
    );
    worker.cancel();
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_model_outage_shorter_than_the_retry_budget_delays_jobs_but_fails_none() {
    // For the first five seconds the model server is overloaded or failing.
    let (server, _) = model_server(|n, since_start| {
        if since_start < Duration::from_secs(5) {
            if n % 2 == 0 {
                ResponseTemplate::new(429).insert_header("retry-after", "1")
            } else {
                ResponseTemplate::new(503)
            }
        } else {
            answer()
        }
    })
    .await;
    let (env, app, key) = api_only().await;
    let mut settings = openai(&server);
    settings.push(("PROCMAP_PROVIDER_RETRY_BUDGET_SECS", "60".into()));
    let worker = start_worker(worker_config(&env, &settings));
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(accept(&app, &key).await);
    }
    for id in ids {
        wait_for(&app, id, "succeeded", Duration::from_secs(60)).await;
        let (_, body) = json_with_status(
            app.get_as(&key, &format!("/api/v1/process-maps/generations/{id}"))
                .await,
            200,
        )
        .await;
        let requests = body["usage"]["requests"].as_u64().unwrap_or(0);
        assert!(
            requests > 3,
            "the usage counts the refused requests too: {body}"
        );
        let tokens = body["usage"]["total_tokens"].as_u64().unwrap_or(0);
        assert!(tokens >= 90, "three answers at least: {body}");
    }
    worker.cancel();
    app.stop().await;
    env.teardown().await;
}
