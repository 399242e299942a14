//! Tracing across processes: the API and the worker, run as their own processes, export OTLP
//! to a local receiver, and one generation is one trace from the request to the commit.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{body::Bytes, extract::State, http::StatusCode, routing::post, Router};
use procmap_api::keys;
use procmap_core::db;
use serde_json::{json, Value};
use wiremock::{matchers::method, Mock, MockServer, ResponseTemplate};

use crate::{helpers::*, processes::*};

/// One span as the receiver saw it.
#[derive(Debug, Clone)]
struct Span {
    service: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    name: String,
    attributes: HashMap<String, Value>,
}

/// A local OTLP/HTTP receiver taking JSON (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`): it keeps
/// every span it is sent. Answers its base URL and the spans so far.
async fn otlp_receiver() -> (String, Arc<Mutex<Vec<Span>>>) {
    let spans = Arc::new(Mutex::new(Vec::new()));
    let router = Router::new()
        .route("/v1/traces", post(receive))
        .with_state(spans.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (base, spans)
}

async fn receive(State(spans): State<Arc<Mutex<Vec<Span>>>>, body: Bytes) -> StatusCode {
    let Ok(export) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let mut received = spans.lock().expect("spans");
    for resource in export["resourceSpans"].as_array().into_iter().flatten() {
        let service = resource["resource"]["attributes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["key"] == "service.name")
            .map(|a| text(&a["value"]["stringValue"]))
            .unwrap_or_default();
        for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
            for span in scope["spans"].as_array().into_iter().flatten() {
                received.push(Span {
                    service: service.clone(),
                    trace_id: text(&span["traceId"]),
                    span_id: text(&span["spanId"]),
                    parent_span_id: text(&span["parentSpanId"]),
                    name: text(&span["name"]),
                    attributes: span["attributes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|a| (text(&a["key"]), a["value"].clone()))
                        .collect(),
                });
            }
        }
    }
    StatusCode::OK
}

#[tokio::test]
async fn one_generation_is_one_trace_from_the_request_through_the_queue_to_the_commit() {
    let (receiver, spans) = otlp_receiver().await;
    let model_server = MockServer::start().await;
    let answer = json!({
        "process": "Claim handling", "start": "Claim received",
        "steps": [{"task": "Check claim"}, {"task": "Pay claim"}],
        "end": "Claim closed"
    })
    .to_string();
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "model": "test-model-2026",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}
        })))
        .mount(&model_server)
        .await;

    let env = Environment::new().await;
    let client = reqwest::Client::new();
    let otel = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let (_api, base) = spawn_api_with(&env, &client, &otel).await;
    let model_url = format!("{}/v1", model_server.uri());
    let mut worker_vars = otel.to_vec();
    worker_vars.extend([
        ("PROCMAP_LLM_PROVIDER", "openai"),
        ("PROCMAP_OPENAI_BASE_URL", model_url.as_str()),
        ("PROCMAP_OPENAI_MODEL", "test-model"),
    ]);
    let (_worker, _) = spawn_worker_with(&env, &client, &worker_vars).await;
    let pool = db::pool(&env.database_url, 2).expect("pool");
    let key = keys::create(
        &pool,
        &Owner::parse("traces").expect("owner"),
        keys::parse_scopes("generate").expect("scopes"),
        true,
        None,
    )
    .await
    .expect("key")
    .key;

    // The caller traces its own request; procmap's spans join that trace.
    let (caller_trace, caller_span) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let response = client
        .post(format!("{base}/api/v1/process-maps/generations"))
        .bearer_auth(&key)
        .header("traceparent", format!("00-{caller_trace}-{caller_span}-01"))
        .json(&json!({"mode": "initial", "prompt": SEED_PROMPT}))
        .send()
        .await
        .expect("post");
    let (_, done) = json_with_status(response, 200).await;
    assert_eq!(done["status"], "succeeded", "{done}");

    // The caller's trace, once the worker's commit has arrived in it.
    let deadline = Instant::now() + Duration::from_secs(20);
    let trace = loop {
        let received = spans.lock().expect("spans").clone();
        let trace: Vec<Span> = received
            .iter()
            .filter(|s| s.trace_id == caller_trace)
            .cloned()
            .collect();
        // The worker's commit may be exported before the API's request span ends (it ends
        // once the answer is written), so wait for both.
        let has = |name: &str| trace.iter().any(|s| s.name == name);
        if has("commit result") && has("request") {
            break trace;
        }
        assert!(
            Instant::now() < deadline,
            "no complete trace; received: {:?}",
            received
                .iter()
                .map(|s| (&s.service, &s.name, &s.trace_id))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let services: HashSet<&str> = trace.iter().map(|s| s.service.as_str()).collect();
    assert_eq!(services, HashSet::from(["procmap-api", "procmap-worker"]));
    let named = |name: &str| {
        trace
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no {name} span in {trace:#?}"))
    };
    let request = named("request");
    assert_eq!(
        request.parent_span_id, caller_span,
        "the request continues the caller's span"
    );
    let job = named("job");
    assert_eq!(
        job.parent_span_id, request.span_id,
        "the job continues the request that published it"
    );
    for stage in ["claim", "engine.generate", "commit result"] {
        assert_eq!(named(stage).service, "procmap-worker");
    }
    // Each model call carries OpenTelemetry's GenAI attributes.
    let chats: Vec<&Span> = trace
        .iter()
        .filter(|s| s.name == "chat test-model")
        .collect();
    assert_eq!(chats.len(), 3, "one per option");
    let attribute = |span: &Span, key: &str| span.attributes.get(key).cloned().unwrap_or_default();
    for chat in chats {
        assert_eq!(
            attribute(chat, "gen_ai.request.model")["stringValue"],
            "test-model"
        );
        assert_eq!(
            attribute(chat, "gen_ai.response.model")["stringValue"],
            "test-model-2026"
        );
        assert_eq!(
            attribute(chat, "gen_ai.usage.input_tokens")["intValue"],
            "10"
        );
        assert_eq!(
            attribute(chat, "gen_ai.usage.output_tokens")["intValue"],
            "20"
        );
    }
    env.teardown().await;
}
