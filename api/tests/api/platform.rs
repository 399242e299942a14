//! Health probes and the error envelope at the edges: bad JSON, unknown routes, wrong methods.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn health_and_readiness_answer_without_a_key() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let (_, body) = json_with_status(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("request"),
        200,
    )
    .await;
    assert_eq!(body["status"], "ok");
    let (_, body) = json_with_status(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .expect("request"),
        200,
    )
    .await;
    assert_eq!(body["checks"], json!({"postgres": "ok", "rabbitmq": "ok"}));
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn every_edge_answers_in_the_error_envelope() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let url = app.url("/api/v1/process-maps/generations");

    let response = app
        .client
        .post(&url)
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_error(response, 400, "invalid_request_error", "invalid_json").await;
    let response = app
        .client
        .post(&url)
        .bearer_auth(&app.key)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .expect("request");
    assert_error(response, 400, "invalid_request_error", "invalid_json").await;
    let response = app
        .client
        .post(&url)
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .send()
        .await
        .expect("request");
    assert_error(response, 400, "invalid_request_error", "invalid_json").await;
    let huge = json!({"mode": "initial", "prompt": "x".repeat(5 * 1024 * 1024)});
    let response = app.post_generation(&huge, "").await;
    assert_error(response, 400, "invalid_request_error", "payload_too_large").await;
    let param = assert_error(
        app.post_generation(&json!({"mode": "initial", "prompt": "x"}), "?wait=maybe")
            .await,
        400,
        "invalid_request_error",
        "invalid_parameter",
    )
    .await;
    assert_eq!(param, "wait");
    let param = assert_error(
        app.post_generation(&json!({"prompt": "x"}), "").await,
        400,
        "invalid_request_error",
        "missing_parameter",
    )
    .await;
    assert_eq!(param, "mode");

    let response = app
        .client
        .get(app.url("/api/v1/nothing-here"))
        .send()
        .await
        .expect("request");
    assert_error(response, 404, "not_found_error", "resource_not_found").await;
    let response = app
        .client
        .delete(&url)
        .bearer_auth(&app.key)
        .send()
        .await
        .expect("request");
    assert_error(response, 405, "invalid_request_error", "method_not_allowed").await;
    app.stop().await;
    env.teardown().await;
}
