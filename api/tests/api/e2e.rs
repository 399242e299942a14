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
    let _worker = spawn(&env, "procmap-worker", &[], &[]);
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
    env.teardown().await;
}
