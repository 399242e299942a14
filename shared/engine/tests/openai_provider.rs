//! The OpenAI-compatible provider against a local server that speaks the chat-completions
//! protocol (wiremock): structured output, repair rounds, retries, timeouts and 429 storms.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use procmap_engine::{
    bpmn::{self, reader, validate::validate},
    builtin::builder::{build, describe},
    model::{NodeKind, ProcessModel},
    options::OptionStyle,
    EngineError, LlmProvider, Modeler, OpenAiConfig,
};
use serde_json::{json, Value};
use wiremock::{matchers::method, Mock, MockServer, Request, Respond, ResponseTemplate};

const PROMPT: &str = "Map the customer support ticket triage process.";

/// A process as a model writes it: a block tree with a choice, actors and an early end.
fn valid_answer() -> String {
    json!({
        "process": "Ticket triage", "start": "Ticket submitted",
        "steps": [
            {"task": "Log ticket", "actor": "Support agent"},
            {"task": "Classify ticket", "actor": "Support agent", "kind": "user"},
            {"choice": "Known issue?", "branches": [
                {"when": "Yes", "steps": [{"task": "Send solution", "kind": "send"}]},
                {"when": "Duplicate", "steps": [{"end": "Ticket merged"}]},
                {"when": "No", "steps": [{"task": "Investigate issue", "actor": "Engineer"}]}
            ]},
            {"task": "Close ticket", "actor": "Support agent"}
        ],
        "end": "Ticket closed"
    })
    .to_string()
}

/// Well-formed JSON that is not a process: a step of no known kind, and no steps at all.
fn answer_outside_the_schema() -> String {
    json!({"process": "x", "start": "a", "steps": [{"rocket": "launch"}], "end": "b"}).to_string()
}

fn completion(content: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-1", "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}
    }))
}

/// Answers by conversation stage (how many messages the request carries), so concurrent
/// conversations get the same script; also counts and keeps every request body.
struct Script {
    reply: Box<dyn Fn(usize, usize) -> ResponseTemplate + Send + Sync>,
    calls: Arc<AtomicUsize>,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Respond for Script {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let messages = body["messages"].as_array().map_or(0, Vec::len);
        self.bodies.lock().expect("lock").push(body);
        (self.reply)(n, messages)
    }
}

struct Fake {
    server: MockServer,
    calls: Arc<AtomicUsize>,
    bodies: Arc<Mutex<Vec<Value>>>,
}

/// `reply(call_number, message_count)`: message_count is 2 on a first try, 4 after one repair.
async fn fake(reply: impl Fn(usize, usize) -> ResponseTemplate + Send + Sync + 'static) -> Fake {
    let server = MockServer::start().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("POST"))
        .and(wiremock::matchers::path("/v1/chat/completions"))
        .respond_with(Script {
            reply: Box::new(reply),
            calls: calls.clone(),
            bodies: bodies.clone(),
        })
        .mount(&server)
        .await;
    Fake {
        server,
        calls,
        bodies,
    }
}

fn modeler(fake: &Fake, timeout: Duration, max_retries: usize) -> Modeler {
    Modeler::from_config(&LlmProvider::OpenAi(OpenAiConfig {
        base_url: format!("{}/v1", fake.server.uri()),
        api_key: Some("sk-test".into()),
        model: "test-model".into(),
        timeout,
        max_retries,
        repair_rounds: 2,
        max_tokens: 4096,
    }))
    .expect("modeler")
}

#[tokio::test]
async fn three_valid_answers_become_three_valid_distinct_options_with_usage() {
    let fake = fake(|_, _| completion(&valid_answer())).await;
    let output = modeler(&fake, Duration::from_secs(5), 2)
        .generate(PROMPT, "english")
        .await
        .expect("generated");
    assert_eq!(output.bpmn_xml.len(), 3);
    for xml in &output.bpmn_xml {
        assert_eq!(validate(xml), vec![]);
    }
    // The fake answered the same model three times; the engine made the options differ.
    assert_ne!(output.bpmn_xml[0], output.bpmn_xml[1]);
    assert_ne!(output.bpmn_xml[1], output.bpmn_xml[2]);
    assert_ne!(output.bpmn_xml[0], output.bpmn_xml[2]);
    let usage = output.usage.expect("usage");
    assert_eq!(
        (usage.requests, usage.total_tokens, usage.repair_rounds),
        (3, 450, 0)
    );

    {
        let bodies = fake.bodies.lock().expect("lock");
        let format = &bodies[0]["response_format"];
        assert_eq!(format["type"], "json_schema");
        assert!(
            format["json_schema"]["schema"]
                .to_string()
                .contains("parallel"),
            "the block tree's schema is sent"
        );
        assert_eq!(bodies[0]["model"], "test-model");
    }
    let requests = fake.server.received_requests().await.expect("recorded");
    assert_eq!(
        requests[0]
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap_or("")),
        Some("Bearer sk-test")
    );
}

#[tokio::test]
async fn malformed_json_is_sent_back_and_repaired() {
    let fake = fake(|_, messages| {
        if messages == 2 {
            completion("this is not JSON {")
        } else {
            completion(&valid_answer())
        }
    })
    .await;
    let output = modeler(&fake, Duration::from_secs(5), 0)
        .generate(PROMPT, "english")
        .await
        .expect("repaired");
    assert_eq!(
        output.usage.expect("usage").repair_rounds,
        3,
        "one repair round per option"
    );
    let bodies = fake.bodies.lock().expect("lock");
    let repair = bodies
        .iter()
        .find(|b| b["messages"].as_array().map_or(0, Vec::len) == 4)
        .expect("a repair request");
    assert!(repair["messages"][3]["content"]
        .as_str()
        .unwrap_or("")
        .contains("does not match the schema"));
}

#[tokio::test]
async fn schema_violating_output_is_repaired() {
    let bad = json!({"process": "x", "start": "a", "steps": [{"task": "Go", "kind": "rocket_launch"}], "end": "b"}).to_string();
    let fake = fake(move |_, messages| {
        if messages == 2 {
            completion(&bad)
        } else {
            completion(&valid_answer())
        }
    })
    .await;
    let output = modeler(&fake, Duration::from_secs(5), 0)
        .generate(PROMPT, "english")
        .await
        .expect("repaired");
    assert!(output.bpmn_xml.iter().all(|xml| validate(xml).is_empty()));
}

#[tokio::test]
async fn an_answer_that_is_not_a_process_is_shown_back_with_what_is_wrong() {
    let fake = fake(|_, messages| {
        if messages == 2 {
            completion(&answer_outside_the_schema())
        } else {
            completion(&valid_answer())
        }
    })
    .await;
    let output = modeler(&fake, Duration::from_secs(5), 0)
        .generate(PROMPT, "english")
        .await
        .expect("repaired");
    assert_eq!(output.usage.expect("usage").repair_rounds, 3);
    let bodies = fake.bodies.lock().expect("lock");
    let repair = bodies
        .iter()
        .find(|b| b["messages"].as_array().map_or(0, Vec::len) == 4)
        .expect("a repair request");
    let feedback = repair["messages"][3]["content"].as_str().unwrap_or("");
    assert!(feedback.contains("does not match the schema"), "{feedback}");
    assert_eq!(
        repair["messages"][2]["role"], "assistant",
        "the bad answer is shown back"
    );
}

#[tokio::test]
async fn a_model_that_never_becomes_valid_fails_cleanly_after_the_repair_rounds() {
    let fake = fake(|_, _| completion(&answer_outside_the_schema())).await;
    let error = modeler(&fake, Duration::from_secs(5), 0)
        .generate(PROMPT, "english")
        .await
        .expect_err("never valid");
    assert!(
        matches!(error.error, EngineError::InvalidOutput(ref problems) if !problems.is_empty()),
        "{error}"
    );
    assert_eq!(error.code(), "invalid_output");
    // What the failed attempt spent is still accounted for: at least the conversation that gave
    // up (three requests, two of them repairs), 150 tokens an answer.
    let usage = error.usage.clone().expect("usage of a failed generation");
    assert!(usage.repair_rounds >= 2, "{usage:?}");
    assert!(usage.requests >= 3, "{usage:?}");
    // Requests cut off when the generation stopped were sent, but their tokens never reported.
    assert!(
        usage.total_tokens >= 450 && usage.total_tokens % 150 == 0,
        "{usage:?}"
    );
    // The conversation that gave up had tried once and been sent back twice (6 messages).
    let bodies = fake.bodies.lock().expect("lock");
    assert!(bodies
        .iter()
        .any(|b| b["messages"].as_array().map_or(0, Vec::len) == 6));
    assert!(
        !bodies
            .iter()
            .any(|b| b["messages"].as_array().map_or(0, Vec::len) > 6),
        "no third repair"
    );
}

#[tokio::test]
async fn timeouts_are_retried_then_reported_as_provider_unavailable() {
    let fake = fake(|_, _| completion(&valid_answer()).set_delay(Duration::from_secs(3))).await;
    let error = modeler(&fake, Duration::from_millis(200), 2)
        .generate(PROMPT, "english")
        .await
        .expect_err("times out");
    assert_eq!(error.code(), "provider_unavailable");
    assert!(
        error.to_string().contains("3 attempts"),
        "1 + 2 retries: {error}"
    );
    // The first option to give up ends the generation; the others stop where they are.
    assert!((3..=9).contains(&fake.calls.load(Ordering::SeqCst)));
}

#[tokio::test]
async fn a_429_storm_is_ridden_out_honouring_retry_after() {
    // The first four requests are refused; Retry-After: 1 on the first makes its retry wait a second.
    let fake = fake(|n, _| match n {
        0 => ResponseTemplate::new(429)
            .insert_header("retry-after", "1")
            .set_body_string("slow down"),
        1..=3 => ResponseTemplate::new(429)
            .insert_header("retry-after", "0")
            .set_body_string("slow down"),
        _ => completion(&valid_answer()),
    })
    .await;
    let started = Instant::now();
    let output = modeler(&fake, Duration::from_secs(5), 4)
        .generate(PROMPT, "english")
        .await
        .expect("generated");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    assert_eq!(
        output.usage.expect("usage").requests,
        7,
        "three answers after four refusals"
    );

    let storm = fake_always_429().await;
    let error = modeler(&storm, Duration::from_secs(5), 2)
        .generate(PROMPT, "english")
        .await
        .expect_err("never admitted");
    assert_eq!(error.code(), "provider_unavailable");
    assert!(
        error.to_string().contains("429") && error.to_string().contains("3 attempts"),
        "{error}"
    );
    assert!((3..=9).contains(&storm.calls.load(Ordering::SeqCst)));
}

#[tokio::test]
async fn retries_after_a_429_are_spread_rather_than_sent_together() {
    // Two generations send six requests at once; each is told to come back in one second.
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let seen = arrivals.clone();
    let fake = fake(move |n, _| {
        seen.lock().expect("arrivals").push(Instant::now());
        if n < 6 {
            ResponseTemplate::new(429).insert_header("retry-after", "1")
        } else {
            completion(&valid_answer())
        }
    })
    .await;
    let modeler = modeler(&fake, Duration::from_secs(5), 2);
    let (a, b) = tokio::join!(
        modeler.generate(PROMPT, "english"),
        modeler.generate(PROMPT, "english")
    );
    a.expect("first generated");
    b.expect("second generated");
    let arrivals = arrivals.lock().expect("arrivals");
    let (first, retries) = arrivals.split_at(6);
    let told = first[5] + Duration::from_secs(1);
    assert!(
        retries
            .iter()
            .all(|&at| at >= told - Duration::from_millis(100)),
        "each retry waits the second it was told"
    );
    let earliest = retries.iter().min().expect("retries");
    let latest = retries.iter().max().expect("retries");
    // Up to half a second of spread each; six landing within 25 ms of each other would be
    // a chance of about one in a million.
    assert!(
        *latest - *earliest >= Duration::from_millis(25),
        "retries landed together: {:?}",
        *latest - *earliest
    );
}

async fn fake_always_429() -> Fake {
    fake(|_, _| ResponseTemplate::new(429).insert_header("retry-after", "0")).await
}

#[tokio::test]
async fn server_errors_are_retried_but_client_errors_are_not() {
    let flaky = fake(|n, _| {
        if n < 3 {
            ResponseTemplate::new(503)
        } else {
            completion(&valid_answer())
        }
    })
    .await;
    modeler(&flaky, Duration::from_secs(5), 3)
        .generate(PROMPT, "english")
        .await
        .expect("recovered");

    let refused = fake(|_, _| ResponseTemplate::new(401).set_body_string("bad key")).await;
    let error = modeler(&refused, Duration::from_secs(5), 3)
        .generate(PROMPT, "english")
        .await
        .expect_err("refused");
    assert_eq!(error.code(), "provider_unavailable");
    assert!(error.to_string().contains("401"), "{error}");
    // At most one request per option: a 401 is never retried (the first ends the generation).
    assert!(
        (1..=3).contains(&refused.calls.load(Ordering::SeqCst)),
        "no retries of a 401"
    );
}

#[tokio::test]
async fn a_refinement_is_answered_with_edit_operations_that_keep_untouched_ids() {
    let source = bpmn::compile(&build(&describe(PROMPT), OptionStyle::Concise));
    let source_model = reader::read(&source).expect("readable").model;
    let first_task = source_model
        .nodes
        .iter()
        .find(|n| matches!(n.kind, NodeKind::Task(_)))
        .expect("a task")
        .id
        .clone();
    let wrong =
        json!({"operations": [{"op": "rename", "id": "NoSuchNode", "name": "x"}]}).to_string();
    let right =
        json!({"operations": [{"op": "rename", "id": first_task, "name": "Register ticket"}]})
            .to_string();
    let fake = fake(move |_, messages| {
        if messages == 2 {
            completion(&wrong)
        } else {
            completion(&right)
        }
    })
    .await;

    let output = modeler(&fake, Duration::from_secs(5), 0)
        .refine(&source, "Call the first step Register ticket")
        .await
        .expect("refined");
    let refined = reader::read(&output.bpmn_xml[0]).expect("readable").model;
    assert_eq!(
        refined.node(&first_task).map(|n| n.name.as_str()),
        Some("Register ticket")
    );
    let ids = |m: &ProcessModel| m.nodes.iter().map(|n| n.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&refined), ids(&source_model), "every id kept");
    assert_eq!(
        output.usage.expect("usage").repair_rounds,
        1,
        "the unknown id was sent back once"
    );
    let bodies = fake.bodies.lock().expect("lock");
    assert!(
        bodies[0]["response_format"]["json_schema"]["schema"]
            .to_string()
            .contains("move_to_lane"),
        "the edit schema is sent"
    );
}

#[tokio::test]
async fn a_refinement_may_restate_a_part_as_steps_naming_nodes_by_name() {
    let source = bpmn::compile(&build(&describe(PROMPT), OptionStyle::Concise));
    let source_model = reader::read(&source).expect("readable").model;
    let plan = json!({"operations": [
        {"op": "insert_after", "node": "Resolve ticket", "steps": [
            {"choice": "Customer satisfied?", "branches": [
                {"when": "No", "steps": [{"task": "Reopen ticket"}]},
                {"when": "Yes", "steps": []}
            ]}
        ]},
        {"op": "replace_with_steps", "node": "develop fix", "steps": [
            {"task": "Reproduce problem"}, {"task": "Write fix", "deadline": {"after": "2 days", "steps": [{"task": "Escalate"}]}}
        ]}
    ]})
    .to_string();
    let fake = fake(move |_, _| completion(&plan)).await;
    let output = modeler(&fake, Duration::from_secs(5), 0)
        .refine(
            &source,
            "Ask whether the customer is satisfied, and break the fix down",
        )
        .await
        .expect("refined");
    let xml = &output.bpmn_xml[0];
    assert_eq!(validate(xml), vec![]);
    let refined = reader::read(xml).expect("readable").model;
    let id_of = |m: &ProcessModel, name: &str| {
        m.nodes
            .iter()
            .find(|n| n.name == name)
            .map(|n| n.id.clone())
    };
    let resolve = id_of(&source_model, "Resolve ticket").expect("resolve");
    let satisfied = id_of(&refined, "Customer satisfied?").expect("the choice was added");
    assert!(
        refined.outgoing(&resolve).any(|f| f.target == satisfied),
        "right after Resolve ticket"
    );
    assert!(id_of(&refined, "Develop fix").is_none(), "replaced");
    assert!(
        id_of(&refined, "Reproduce problem").is_some() && id_of(&refined, "Escalate").is_some()
    );
    for node in &source_model.nodes {
        if node.name != "Develop fix" {
            assert!(refined.node(&node.id).is_some(), "{} kept its id", node.id);
        }
    }
}
