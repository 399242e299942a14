//! API keys: the CLI, hashing, and the 401 answers.

use std::process::Command;

use serde_json::{json, Value};

use crate::helpers::*;

fn api_binary() -> &'static str {
    env!("CARGO_BIN_EXE_procmap-api")
}

fn cli(env: &Environment, args: &[&str]) -> std::process::Output {
    Command::new(api_binary())
        .args(args)
        .envs(env.vars(&[]))
        .env("RUST_LOG", "error")
        .output()
        .expect("run procmap-api")
}

#[tokio::test]
async fn keys_create_prints_the_secret_once_and_stores_only_its_hash() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let output = cli(
        &env,
        &[
            "keys",
            "create",
            "--owner",
            "acme",
            "--scopes",
            "generate,diagrams:read",
            "--json",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    assert_eq!(stdout.lines().count(), 1, "--json prints one line");
    let created: Value = serde_json::from_str(stdout.trim()).expect("json");
    let secret = created["key"].as_str().expect("key");
    assert!(secret.starts_with("pm_sk_live_"));
    assert_eq!(created["owner"], "acme");
    assert_eq!(created["scopes"], json!(["generate", "diagrams:read"]));

    let client = app.state.pool.get().await.expect("db");
    let leaked: i64 = client
        .query_one("SELECT count(*) FROM api_keys WHERE position($1::bytea in secret_hash) > 0 OR owner = $2", &[&secret.as_bytes(), &secret])
        .await
        .expect("query")
        .get(0);
    assert_eq!(leaked, 0, "the secret itself is not stored");
    drop(client);

    let (_, list) = json_with_status(
        app.get_as(secret, "/api/v1/process-maps/generations").await,
        200,
    )
    .await;
    assert_eq!(list["data"], json!([]));

    let test_key = cli(
        &env,
        &[
            "keys", "create", "--owner", "acme", "--scopes", "generate", "--test", "--json",
        ],
    );
    let test_key: Value = serde_json::from_slice(&test_key.stdout).expect("json");
    assert!(test_key["key"]
        .as_str()
        .is_some_and(|k| k.starts_with("pm_sk_test_")));
    assert_eq!(test_key["livemode"], false);

    let bad_scope = cli(
        &env,
        &["keys", "create", "--owner", "acme", "--scopes", "root"],
    );
    assert!(!bad_scope.status.success());
    assert!(String::from_utf8_lossy(&bad_scope.stderr).contains("unknown scope"));

    let revoked = cli(
        &env,
        &["keys", "revoke", created["id"].as_str().expect("id")],
    );
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    // The replica cached the key above; the revocation reaches it by announcement, which is
    // asynchronous, so it is refused within moments rather than on the very next request.
    refused_within(&app, secret, std::time::Duration::from_secs(5)).await;
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn requests_without_a_valid_key_are_401_with_www_authenticate() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let url = app.url("/api/v1/process-maps/generations");
    let body = json!({"mode": "initial", "prompt": SEED_PROMPT});

    let response = app
        .client
        .post(&url)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_error(response, 401, "authentication_error", "missing_api_key").await;
    let response = app
        .client
        .post(&url)
        .bearer_auth("pm_sk_live_wrongwrongwrongwrongwrongwrong00")
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_error(response, 401, "authentication_error", "invalid_api_key").await;
    let response = app
        .client
        .get(&url)
        .bearer_auth("not-even-a-key")
        .send()
        .await
        .expect("request");
    assert_error(response, 401, "authentication_error", "invalid_api_key").await;
    let response = app
        .client
        .get(&url)
        .basic_auth("user", Some("pass"))
        .send()
        .await
        .expect("request");
    assert_error(response, 401, "authentication_error", "invalid_api_key").await;
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn an_expired_key_and_a_key_without_the_scope_are_refused() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let yesterday = chrono::Utc::now() - chrono::Duration::days(1);
    let expired = procmap_api::keys::create(
        &app.state.pool,
        &Owner::parse("owner-a").expect("owner"),
        vec![Scope::Generate],
        true,
        Some(yesterday),
    )
    .await
    .expect("key")
    .key;
    let response = app
        .get_as(&expired, "/api/v1/process-maps/generations")
        .await;
    assert_error(response, 401, "authentication_error", "expired_api_key").await;

    let reader = create_key(&app.state, "owner-a", "diagrams:read").await;
    let (_, _) = json_with_status(
        app.get_as(&reader, "/api/v1/process-maps/generations")
            .await,
        200,
    )
    .await;
    let response = app
        .post_generation_as(
            &reader,
            &json!({"mode": "initial", "prompt": SEED_PROMPT}),
            "",
            None,
        )
        .await;
    assert_error(response, 403, "permission_error", "insufficient_scope").await;
    let folders = create_key(&app.state, "owner-a", "folders:read").await;
    let response = app
        .get_as(&folders, "/api/v1/process-maps/generations")
        .await;
    assert_error(response, 403, "permission_error", "insufficient_scope").await;
    app.stop().await;
    env.teardown().await;
}

/// Polls until `key` is refused with `revoked_api_key`, for at most `within`.
async fn refused_within(app: &TestApp, key: &str, within: std::time::Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let response = app.get_as(key, "/api/v1/process-maps/generations").await;
        if response.status() == 401 {
            assert_error(response, 401, "authentication_error", "revoked_api_key").await;
            return;
        }
        assert_eq!(response.status(), 200);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the revoked key was still accepted after {within:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_revocation_reaches_every_running_replica_at_once() {
    let env = Environment::new().await;
    let a = TestApp::spawn(&env, Options::without_worker()).await;
    let b = TestApp::spawn(&env, Options::without_worker()).await;
    let created = create_key_record(&a.state, "acme", "generate", false).await;
    // Both replicas have read the key, so both answer it from their caches.
    for app in [&a, &b] {
        let response = app
            .get_as(&created.key, "/api/v1/process-maps/generations")
            .await;
        assert_eq!(response.status(), 200);
    }
    let revoked = cli(&env, &["keys", "revoke", &created.id.to_string()]);
    assert!(revoked.status.success());
    assert_eq!(
        String::from_utf8_lossy(&revoked.stdout).trim(),
        format!("Revoked API key {}.", created.id)
    );
    // The announcement is on its way when the command returns; the caches live 60 s, so a
    // refusal within a few seconds can only come from the announcement.
    for app in [&a, &b] {
        refused_within(app, &created.key, std::time::Duration::from_secs(5)).await;
    }
    a.stop().await;
    b.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_revocation_never_announced_takes_effect_within_the_cache_lifetime() {
    let env = Environment::new().await;
    let app = TestApp::spawn(
        &env,
        Options {
            worker: false,
            env: &[("PROCMAP_KEY_CACHE_TTL_SECS", "2")],
            ..Default::default()
        },
    )
    .await;
    let created = create_key_record(&app.state, "acme", "generate", false).await;
    let response = app
        .get_as(&created.key, "/api/v1/process-maps/generations")
        .await;
    assert_eq!(response.status(), 200);
    // Revoked in the database only, as when the broker was down for `keys revoke`.
    procmap_api::keys::revoke(&app.state.pool, created.id)
        .await
        .expect("revoke");
    refused_within(&app, &created.key, std::time::Duration::from_secs(10)).await;
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_key_that_generations_name_cannot_be_deleted_only_revoked() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let used = create_key_record(&app.state, "acme", "generate", false).await;
    let unused = create_key_record(&app.state, "acme", "generate", false).await;
    let response = app
        .post_generation_as(
            &used.key,
            &json!({"mode": "initial", "prompt": SEED_PROMPT}),
            "",
            None,
        )
        .await;
    assert_eq!(response.status(), 202);

    // No foreign-key constraint checks a generation's key on insert (migration 0010); a
    // trigger refuses the delete the constraint used to refuse.
    let client = app.state.pool.get().await.expect("db");
    let refused = client
        .execute("DELETE FROM api_keys WHERE id = $1", &[&used.id])
        .await
        .expect_err("a key its generations name is kept");
    assert_eq!(
        refused.code(),
        Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION),
        "{refused}"
    );
    let deleted = client
        .execute("DELETE FROM api_keys WHERE id = $1", &[&unused.id])
        .await
        .expect("a key nothing names can go");
    assert_eq!(deleted, 1);
    drop(client);
    app.stop().await;
    env.teardown().await;
}
