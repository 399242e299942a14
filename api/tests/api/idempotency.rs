//! Idempotency-Key: retries never create a second generation or a second job.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn eight_concurrent_retries_on_two_replicas_create_one_generation_and_one_job() {
    let env = Environment::new().await;
    // No worker, so the one job stays in the queue to be counted.
    let a = TestApp::spawn(&env, Options::without_worker()).await;
    let b = TestApp::spawn(&env, Options::without_worker()).await;
    let body = json!({"mode": "initial", "prompt": SEED_PROMPT});

    let requests = (0..8).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        app.post_generation_as(&a.key, &body, "?wait=false", Some("retry-me-1"))
    });
    let responses = join_all(requests).await;
    let mut ids = Vec::new();
    let mut replayed = 0;
    for response in responses {
        if response
            .headers()
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true")
        {
            replayed += 1;
        }
        let (_, body) = json_with_status(response, 202).await;
        ids.push(body["id"].as_str().expect("id").to_owned());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every retry names the same generation");
    assert_eq!(replayed, 7, "all but the first are replays");

    let client = a.state.pool.get().await.expect("db");
    let count: i64 = client
        .query_one("SELECT count(*) FROM generations", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(count, 1);
    // The job is published after the answer: wait for it, then for any second one.
    let published = tokio::time::Instant::now();
    while jobs_in_queue(&env).await == 0 && published.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        jobs_in_queue(&env).await,
        1,
        "exactly one job was published"
    );
    a.stop().await;
    b.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_replay_answers_the_current_state_and_the_same_key_with_another_body_is_422() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::default()).await;
    let body = json!({"mode": "initial", "prompt": SEED_PROMPT});
    let (headers, first) = json_with_status(
        app.post_generation_as(&app.key, &body, "", Some("k-2"))
            .await,
        200,
    )
    .await;
    assert!(headers.get("idempotent-replayed").is_none());

    // The default language makes no difference to the body's identity.
    let same = json!({"mode": "initial", "prompt": SEED_PROMPT, "language": "english"});
    let (headers, replay) = json_with_status(
        app.post_generation_as(&app.key, &same, "?wait=false", Some("k-2"))
            .await,
        200,
    )
    .await;
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(replay["id"], first["id"]);
    assert_eq!(replay["status"], "succeeded");
    assert_eq!(replay["options"], first["options"]);

    let other = json!({"mode": "initial", "prompt": "Something else entirely."});
    let param = assert_error(
        app.post_generation_as(&app.key, &other, "", Some("k-2"))
            .await,
        422,
        "validation_error",
        "validation_failed",
    )
    .await;
    assert_eq!(param, "Idempotency-Key");

    // Keys are scoped to their owner: another owner's same key is a new generation.
    let stranger = create_key(&app.state, "owner-b", "generate").await;
    let (headers, theirs) = json_with_status(
        app.post_generation_as(&stranger, &body, "", Some("k-2"))
            .await,
        200,
    )
    .await;
    assert!(headers.get("idempotent-replayed").is_none());
    assert_ne!(theirs["id"], first["id"]);

    let too_long = "x".repeat(256);
    let param = assert_error(
        app.post_generation_as(&app.key, &body, "", Some(&too_long))
            .await,
        400,
        "invalid_request_error",
        "invalid_parameter",
    )
    .await;
    assert_eq!(param, "Idempotency-Key");
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_test_key_and_a_live_key_of_one_owner_have_their_own_idempotency_keys() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let live = create_live_key(&app.state, "owner-a", "generate").await;
    let by_test = json!({"mode": "initial", "prompt": SEED_PROMPT});
    let by_live =
        json!({"mode": "initial", "prompt": "The clerk files the claim. The manager pays it."});
    let (_, first) = json_with_status(
        app.post_generation_as(&app.key, &by_test, "?wait=false", Some("shared-key"))
            .await,
        202,
    )
    .await;
    // Another body under the same key is not a mistake in the other mode: it is another key.
    let (headers, second) = json_with_status(
        app.post_generation_as(&live, &by_live, "?wait=false", Some("shared-key"))
            .await,
        202,
    )
    .await;
    assert_ne!(first["id"], second["id"]);
    assert!(!headers.contains_key("idempotent-replayed"));
    assert_eq!(second["livemode"], true);
    app.stop().await;
    env.teardown().await;
}
