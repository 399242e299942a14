//! The pipeline with the OpenAI-compatible provider, against a local server that speaks its
//! protocol: usage is recorded, and test-mode keys never reach the model server.

use serde_json::json;
use wiremock::{matchers::method, Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

#[tokio::test]
async fn live_keys_use_the_configured_model_and_test_keys_the_builtin_modeler() {
    let model_server = MockServer::start().await;
    // A process as a model writes it: a block tree.
    let spec = json!({
        "process": "Ticket triage", "start": "Ticket submitted",
        "steps": [
            {"task": "Log ticket", "actor": "Support agent"},
            {"choice": "Known issue?", "branches": [
                {"when": "Yes", "steps": [{"task": "Send solution"}]},
                {"when": "No", "steps": [{"task": "Investigate issue", "actor": "Engineer"}]}
            ]},
            {"task": "Close ticket"}
        ],
        "end": "Ticket closed"
    })
    .to_string();
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "choices": [{"index": 0, "message": {"role": "assistant", "content": spec}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}
        })))
        .mount(&model_server)
        .await;

    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let base_url = format!("{}/v1", model_server.uri());
    let _worker = start_worker(env.worker_config(&[
        ("PROCMAP_LLM_PROVIDER", "openai"),
        ("PROCMAP_OPENAI_BASE_URL", &base_url),
    ]));
    let live = create_live_key(&app.state, "owner-a", "generate").await;
    let test = create_key(&app.state, "owner-a", "generate").await;
    let body = json!({"mode": "initial", "prompt": SEED_PROMPT});

    let (_, by_live) =
        json_with_status(app.post_generation_as(&live, &body, "", None).await, 200).await;
    assert_eq!(by_live["status"], "succeeded", "{by_live}");
    assert_eq!(by_live["livemode"], true);
    assert_eq!(by_live["usage"]["requests"], 3);
    assert_eq!(by_live["usage"]["total_tokens"], 90);
    assert_eq!(by_live["options"].as_array().map(Vec::len), Some(3));
    let to_model_server = model_server
        .received_requests()
        .await
        .expect("recorded")
        .len();
    assert_eq!(to_model_server, 3);

    let (_, by_test) =
        json_with_status(app.post_generation_as(&test, &body, "", None).await, 200).await;
    assert_eq!(by_test["status"], "succeeded");
    assert_eq!(by_test["livemode"], false);
    assert!(
        by_test.get("usage").is_none(),
        "the builtin modeler spends no tokens"
    );
    assert_eq!(
        model_server
            .received_requests()
            .await
            .expect("recorded")
            .len(),
        to_model_server,
        "a test key never reaches the model"
    );
    app.stop().await;
    env.teardown().await;
}
