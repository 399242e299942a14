//! End to end through the built binaries: two API processes and one worker process.

use std::time::Duration;

use procmap_api::keys;
use procmap_core::db;
use serde_json::{json, Value};

use crate::{helpers::*, processes::*};

#[tokio::test]
async fn two_api_processes_and_a_worker_process_serve_the_seed_example() {
    let env = Environment::new().await;
    let client = reqwest::Client::new();
    let (_api_a, base_a) = spawn_api(&env, &client).await;
    let (_api_b, base_b) = spawn_api(&env, &client).await;
    let pool = db::pool(&env.database_url, 2).expect("pool");
    let key = keys::create(
        &pool,
        &Owner::parse("e2e").expect("owner"),
        keys::parse_scopes("generate,diagrams:read").expect("scopes"),
        true,
        None,
    )
    .await
    .expect("key")
    .key;

    // A accepts and publishes; no worker runs yet, so the job waits.
    let body = json!({"mode": "initial", "prompt": SEED_PROMPT, "language": "english"});
    let post = |base: &str, query: &str| {
        client
            .post(format!("{base}/api/v1/process-maps/generations{query}"))
            .bearer_auth(&key)
            .header("Idempotency-Key", "e2e-1")
            .json(&body)
            .send()
    };
    let (_, accepted) =
        json_with_status(post(&base_a, "?wait=false").await.expect("post to A"), 202).await;
    assert_eq!(accepted["status"], "queued");

    // B, which did not publish, waits on the same generation...
    let waiting = tokio::spawn({
        let request = post(&base_b, "?wait=true");
        async move { request.await.expect("post to B") }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !waiting.is_finished(),
        "B must be waiting while no worker runs"
    );

    // ...and answers as soon as a worker process finishes the job, through status events.
    let started = std::time::Instant::now();
    let (_worker, worker_base) = spawn_worker(&env, &client).await;
    let response = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("B answered in time")
        .expect("task");
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    let (_, done) = json_with_status(response, 200).await;
    assert_eq!(replayed.as_deref(), Some("true"));
    assert_eq!(done["id"], accepted["id"]);
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["options"].as_array().map(Vec::len), Some(3));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "B answered from an event, not the end of its window"
    );

    // A fresh wait=true request on either instance is answered with the result.
    let fresh = json!({"mode": "refinement", "prompt": "Add an escalation path for high-severity tickets.", "source": {"generation_id": done["id"], "option_number": 2, "version_number": 1}});
    let response = client
        .post(format!("{base_b}/api/v1/process-maps/generations"))
        .bearer_auth(&key)
        .json(&fresh)
        .send()
        .await
        .expect("post");
    let (_, refined): (_, Value) = json_with_status(response, 200).await;
    assert_eq!(refined["status"], "succeeded");
    assert!(refined["links"]["self"]
        .as_str()
        .is_some_and(|s| s.starts_with(&base_b)));

    // Each process tells a scraper what it did: A accepted the first generation, B the
    // refinement, and the worker ran both.
    let scrape = |base: String| {
        let client = client.clone();
        async move {
            let response = client
                .get(format!("{base}/metrics"))
                .send()
                .await
                .expect("scrape");
            assert_eq!(response.status(), 200);
            response.text().await.expect("text")
        }
    };
    let (a, b, worker) = (
        scrape(base_a).await,
        scrape(base_b).await,
        scrape(worker_base).await,
    );
    let accepted = "procmap_generations_accepted_total";
    assert!(has_sample(&a, accepted, &[r#"mode="initial""#]), "{a}");
    assert!(has_sample(&b, accepted, &[r#"mode="refinement""#]), "{b}");
    assert!(
        has_sample(
            &a,
            "procmap_http_requests_total",
            &[
                r#"route="/api/v1/process-maps/generations""#,
                r#"method="POST""#,
                r#"status="202""#
            ]
        ),
        "{a}"
    );
    assert!(has_sample(
        &a,
        "procmap_http_request_duration_seconds_bucket",
        &[r#"le="0.005""#]
    ));
    for mode in ["initial", "refinement"] {
        assert!(
            has_sample(
                &worker,
                "procmap_generations_finished_total",
                &[
                    &format!(r#"mode="{mode}""#),
                    r#"outcome="succeeded""#,
                    r#"provider="builtin""#
                ]
            ),
            "{worker}"
        );
    }
    assert!(
        has_sample(&worker, "procmap_job_queue_wait_seconds_count", &[]),
        "{worker}"
    );
    assert!(
        has_sample(&worker, "procmap_job_run_seconds_bucket", &[]),
        "{worker}"
    );
    assert!(
        has_sample(&worker, "procmap_jobs_in_flight", &[]),
        "{worker}"
    );
    assert!(
        !has_sample(&worker, "procmap_generations_accepted_total", &[]),
        "the worker accepts nothing"
    );
    env.teardown().await;
}

#[tokio::test]
async fn with_json_logs_each_request_is_one_line_carrying_its_request_id() {
    let env = Environment::new().await;
    let client = reqwest::Client::new();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut api = tokio::process::Command::new(binary("procmap-api"))
        .arg("serve")
        .envs(env.vars(&[("PROCMAP_BIND", &format!("127.0.0.1:{port}"))]))
        .env("PROCMAP_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    wait_ready(&client, &base).await;
    let response = client
        .get(format!("{base}/api/v1/process-maps/generations"))
        .header("X-Request-Id", "log-line-1")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 401);
    api.start_kill().expect("kill");
    let output = api.wait_with_output().await.expect("output");
    let logs = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<Value> = logs
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let answered: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "answered")
        .collect();
    assert_eq!(
        answered.len(),
        1,
        "one access line, probes at debug: {logs}"
    );
    assert_eq!(answered[0]["status"], 401);
    assert_eq!(answered[0]["route"], "/api/v1/process-maps/generations");
    assert_eq!(answered[0]["span"]["request_id"], "log-line-1");
    assert!(answered[0]["latency_ms"].is_number());

    let refused = tokio::process::Command::new(binary("procmap-api"))
        .arg("serve")
        .envs(env.vars(&[]))
        .env("PROCMAP_LOG_FORMAT", "xml")
        .output()
        .await
        .expect("run");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("PROCMAP_LOG_FORMAT"));
    env.teardown().await;
}

#[tokio::test]
async fn a_copilot_turn_asked_of_one_api_process_is_streamed_by_the_other() {
    let env = Environment::new().await;
    let client = reqwest::Client::new();
    let (_api_a, base_a) = spawn_api(&env, &client).await;
    let (_api_b, base_b) = spawn_api(&env, &client).await;
    let pool = db::pool(&env.database_url, 2).expect("pool");
    let key = keys::create(
        &pool,
        &Owner::parse("e2e-copilot").expect("owner"),
        keys::parse_scopes("generate,diagrams:read,diagrams:write").expect("scopes"),
        false,
        None,
    )
    .await
    .expect("key")
    .key;
    let post = |url: String, body: Value| client.post(url).bearer_auth(&key).json(&body).send();
    let tickets = include_str!("../../../conformance/foreign/camunda_tickets.bpmn");
    let response = post(
        format!("{base_a}/api/v1/diagrams"),
        json!({"name": "Tickets", "bpmn_xml": tickets}),
    )
    .await
    .expect("diagram");
    let (_, diagram) = json_with_status(response, 201).await;
    let response = post(
        format!("{base_a}/api/v1/copilot/sessions"),
        json!({"diagram_id": diagram["id"]}),
    )
    .await
    .expect("session");
    let (_, session) = json_with_status(response, 201).await;
    let s = session["id"].as_str().expect("id").to_owned();

    // A takes the message and publishes the turn; its client goes away at once, and no
    // worker runs yet.
    let response = post(
        format!("{base_a}/api/v1/copilot/sessions/{s}/chat"),
        json!({"message": "Remove Triage ticket"}),
    )
    .await
    .expect("chat on A");
    assert_eq!(response.status(), 200);
    drop(response);
    let response = client
        .get(format!("{base_b}/api/v1/copilot/sessions/{s}/messages"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("messages on B");
    let (_, page) = json_with_status(response, 200).await;
    let answer = page["data"][1]["id"].as_str().expect("answer").to_owned();

    // B follows the answer; every step reaches it through the events exchange once a worker
    // process runs the turn.
    let following = tokio::spawn(
        client
            .get(format!(
                "{base_b}/api/v1/copilot/sessions/{s}/messages/{answer}/events"
            ))
            .bearer_auth(&key)
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_worker, _) = spawn_worker(&env, &client).await;
    let response = tokio::time::timeout(Duration::from_secs(30), following)
        .await
        .expect("B streamed in time")
        .expect("task")
        .expect("follow on B");
    assert_eq!(response.status(), 200);
    let stream = response.text().await.expect("stream");
    let events: Vec<&str> = stream
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(events.first(), Some(&"status"), "{stream}");
    assert_eq!(events.last(), Some(&"complete"), "{stream}");
    assert!(
        stream.contains("I removed \u{201c}Triage ticket\u{201d}"),
        "{stream}"
    );
    env.teardown().await;
}
