//! The copilot's tool loop with a language model, against a local server that speaks the
//! chat-completions protocol (wiremock): each step one structured answer, each tool's result
//! told back, the edits applied as typed operations, and the loop bounded.

use std::sync::{Arc, Mutex};

use procmap_engine::{
    bpmn::{reader, validate::validate},
    copilot::{modify, History, Turn, TurnEvent, MAX_STEPS},
    generate_options, LlmProvider, Modeler, OpenAiConfig,
};
use serde_json::{json, Value};
use wiremock::{matchers::method, Mock, MockServer, Request, Respond, ResponseTemplate};

const PROMPT: &str = "A customer submits an expense claim. The manager reviews the claim. \
    Finance pays the claim.";

fn completion(content: &Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-1", "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content.to_string()}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
    }))
}

/// Answers the n-th request with `script(n)`, keeping every request body.
struct Script {
    script: Box<dyn Fn(usize) -> Value + Send + Sync>,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Respond for Script {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let mut bodies = self.bodies.lock().expect("lock");
        let n = bodies.len();
        bodies.push(body);
        completion(&(self.script)(n))
    }
}

async fn server(
    script: impl Fn(usize) -> Value + Send + Sync + 'static,
) -> (MockServer, Arc<Mutex<Vec<Value>>>) {
    let server = MockServer::start().await;
    let bodies = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("POST"))
        .and(wiremock::matchers::path("/v1/chat/completions"))
        .respond_with(Script {
            script: Box::new(script),
            bodies: bodies.clone(),
        })
        .mount(&server)
        .await;
    (server, bodies)
}

fn modeler(server: &MockServer) -> Modeler {
    Modeler::from_config(&LlmProvider::OpenAi(OpenAiConfig {
        base_url: format!("{}/v1", server.uri()),
        api_key: None,
        model: "test-model".into(),
        timeout: std::time::Duration::from_secs(5),
        max_retries: 0,
        repair_rounds: 1,
        max_tokens: 1024,
    }))
    .expect("modeler")
}

async fn run(
    modeler: &Modeler,
    xml: &str,
    history: &History,
) -> (procmap_engine::copilot::Proposal, Vec<TurnEvent>) {
    let (events, mut sent) = tokio::sync::mpsc::unbounded_channel();
    let proposal = modify(
        modeler,
        &Turn {
            message: "Add a step to notify the customer after the payment",
            working_xml: xml,
            base_xml: xml,
            history,
            context: &["Finance pays within 5 days.".to_owned()],
        },
        &events,
    )
    .await
    .expect("the turn runs");
    drop(events);
    let mut all = Vec::new();
    while let Some(e) = sent.recv().await {
        all.push(e);
    }
    (proposal, all)
}

fn names(events: &[TurnEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            TurnEvent::ToolCall { name, .. } => format!("call {name}"),
            TurnEvent::ToolResult { name, .. } => format!("result {name}"),
            other => other.name().to_owned(),
        })
        .collect()
}

#[tokio::test]
async fn the_model_looks_edits_checks_and_replies_and_its_edit_is_the_proposal() {
    let xml = generate_options(PROMPT).expect("diagram").remove(0);
    let (server, bodies) = server(|n| match n {
        0 => json!({"action": {"tool": "get_element_info", "element": "Pay the claim"}}),
        // A node that does not exist: the tool says so, and the model tries again.
        1 => json!({"action": {"tool": "modify_diagram", "operations": [
            {"op": "insert_after", "node": "Wire the money", "steps": [{"task": "Notify customer"}]}]}}),
        2 => json!({"action": {"tool": "modify_diagram", "operations": [
            {"op": "insert_after", "node": "Pay the claim", "steps": [{"task": "Notify customer", "kind": "send"}]}]}}),
        3 => json!({"action": {"tool": "validate_diagram"}}),
        _ => json!({"action": {"tool": "reply", "content": "I added Notify customer after Pay the claim."}}),
    })
    .await;
    let history = History {
        messages: vec![
            (true, "Rename Review the claim to Check the claim".into()),
            (false, "I renamed it.".into()),
        ],
        last_diff: None,
    };
    let (proposal, events) = run(&modeler(&server), &xml, &history).await;
    let names = names(&events);
    assert_eq!(
        names[..11],
        [
            "status",
            "call get_element_info",
            "result get_element_info",
            "status",
            "call modify_diagram",
            "result modify_diagram",
            "status",
            "call modify_diagram",
            "result modify_diagram",
            "call validate_diagram",
            "result validate_diagram",
        ],
        "{names:?}"
    );
    assert!(
        names[11..].iter().all(|n| n == "content_delta"),
        "{names:?}"
    );
    let results: Vec<&Value> = events
        .iter()
        .filter_map(|e| match e {
            TurnEvent::ToolResult { result, .. } => Some(result),
            _ => None,
        })
        .collect();
    assert_eq!(results[0]["name"], "Pay claim", "found by a near name");
    assert_eq!(results[1]["applied"], false, "{}", results[1]);
    assert_eq!(results[2]["applied"], true, "{}", results[2]);
    assert_eq!(results[3]["valid"], true);
    assert_eq!(
        proposal.reply,
        "I added Notify customer after Pay the claim."
    );
    assert_eq!(proposal.diff.elements.added.len(), 1);
    assert_eq!(proposal.diff.elements.added[0].name, "Notify customer");
    let proposed = proposal.bpmn_xml.expect("a proposal");
    assert_eq!(validate(&proposed), vec![]);
    let model = reader::read(&proposed).expect("reads").model;
    assert!(model.nodes.iter().any(|n| n.name == "Notify customer"));
    assert_eq!(proposal.usage.expect("usage").requests, 5);

    // The model was shown the diagram, the conversation, the folders' context, and each result.
    let bodies = bodies.lock().expect("lock");
    let first = bodies[0]["messages"][1]["content"].as_str().expect("user");
    assert!(
        first.contains("\"Pay claim\"") && first.contains("User: Rename Review the claim"),
        "{first}"
    );
    assert!(first.contains("Finance pays within 5 days."), "{first}");
    assert_eq!(
        bodies[0]["response_format"]["json_schema"]["name"],
        "copilot_step"
    );
    let second = bodies[1]["messages"].as_array().expect("messages");
    assert!(second.last().expect("last")["content"]
        .as_str()
        .expect("text")
        .starts_with("get_element_info answered:"));
}

#[tokio::test]
async fn a_model_that_never_replies_is_stopped_after_the_step_limit() {
    let xml = generate_options(PROMPT).expect("diagram").remove(0);
    // Different calls each time, so only the step limit stops it.
    let (server, bodies) = server(|n| {
        let tool = [
            "list_diagram_elements",
            "validate_diagram",
            "get_folder_context",
        ][n % 3];
        json!({"action": {"tool": tool}})
    })
    .await;
    let (proposal, events) = run(&modeler(&server), &xml, &History::default()).await;
    assert_eq!(bodies.lock().expect("lock").len(), MAX_STEPS);
    let calls = events
        .iter()
        .filter(|e| matches!(e, TurnEvent::ToolCall { .. }))
        .count();
    assert_eq!(calls, MAX_STEPS);
    assert!(proposal.bpmn_xml.is_none());
    assert!(
        proposal.reply.starts_with("I stopped after 25 steps"),
        "{}",
        proposal.reply
    );
}

#[tokio::test]
async fn a_model_that_repeats_one_call_is_stopped_at_the_third() {
    let xml = generate_options(PROMPT).expect("diagram").remove(0);
    let (server, bodies) = server(|_| json!({"action": {"tool": "validate_diagram"}})).await;
    let (proposal, events) = run(&modeler(&server), &xml, &History::default()).await;
    assert_eq!(bodies.lock().expect("lock").len(), 3);
    let calls = events
        .iter()
        .filter(|e| matches!(e, TurnEvent::ToolCall { .. }))
        .count();
    assert_eq!(calls, 2, "the third call is not run");
    assert!(
        proposal
            .reply
            .starts_with("I stopped: I kept making the same call"),
        "{}",
        proposal.reply
    );
}
