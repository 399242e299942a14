//! The OpenAI-compatible provider against a real language model: llama.cpp's server (xllamacpp)
//! with SmolLM2-135M, through the built binaries, as deployed.
//!
//! `bash deploy/real_model.sh` starts that server and runs this test; a plain `cargo test` skips
//! it, since it needs the server. The small model's content is poor, but it writes a block tree,
//! which cannot be structurally wrong: every generation must succeed with three options that
//! pass the validator, and what the model was asked, repairs included, is recorded as usage.
//! The options are written to `PROCMAP_TEST_LLM_OUT` when it is set, so that the script can check
//! them against the BPMN 2.0 XSD and bpmnlint as well.
//!
//! Then a copilot turn on one of those diagrams runs the model's tool loop: every step is one
//! structured answer, so the turn must finish within its 25 steps, with a reply, and whatever it
//! proposes must be valid.

use std::time::{Duration, Instant};

use procmap_api::keys;
use procmap_core::db;
use procmap_engine::bpmn::validate;
use serde_json::{json, Value};

use crate::{helpers::*, processes::*};

const PROMPTS: [&str; 3] = [
    SEED_PROMPT,
    "A customer submits an expense report. The manager reviews it. If it is approved, finance pays it; otherwise the employee is told why.",
    "1. Receive the order 2. Check stock 3. Ship the goods 4. Send the invoice",
];

/// Repairs allowed per option: the worker's default, so the test runs the model as users do.
const REPAIR_ROUNDS: u32 = 2;

#[tokio::test]
#[ignore = "needs a local model server: run `bash deploy/real_model.sh`"]
async fn a_real_model_gives_three_valid_options_for_every_prompt_with_usage_recorded() {
    let base_url = std::env::var("PROCMAP_TEST_LLM_BASE_URL")
        .expect("PROCMAP_TEST_LLM_BASE_URL (deploy/real_model.sh sets it)");
    let env = Environment::new().await;
    let repair_rounds = REPAIR_ROUNDS.to_string();
    let llm = [
        ("PROCMAP_LLM_PROVIDER", "openai"),
        ("PROCMAP_OPENAI_BASE_URL", base_url.as_str()),
        ("PROCMAP_OPENAI_MODEL", "smollm2"),
        ("PROCMAP_LLM_REPAIR_ROUNDS", repair_rounds.as_str()),
        ("PROCMAP_LLM_MAX_TOKENS", "1024"),
        ("PROCMAP_LLM_TIMEOUT_SECS", "600"),
    ];
    let client = reqwest::Client::new();
    let (_api, api) = spawn_api_with(&env, &client, &[("PROCMAP_COPILOT_MODELS", "smollm2")]).await;
    let _worker = spawn(&env, "procmap-worker", &[], &llm);
    // A live key: test-mode keys always use the builtin modeler.
    let pool = db::pool(&env.database_url, 2).expect("pool");
    let key = keys::create(
        &pool,
        &Owner::parse("real-model").expect("owner"),
        keys::parse_scopes("generate,diagrams:read,diagrams:write").expect("scopes"),
        true,
        None,
    )
    .await
    .expect("key")
    .key;

    let mut ids = Vec::new();
    for prompt in PROMPTS {
        let response = client
            .post(format!("{api}/api/v1/process-maps/generations?wait=false"))
            .bearer_auth(&key)
            .json(&json!({"mode": "initial", "prompt": prompt, "language": "english"}))
            .send()
            .await
            .expect("post");
        let (_, accepted) = json_with_status(response, 202).await;
        ids.push(accepted["id"].as_str().expect("id").to_owned());
    }

    let started = Instant::now();
    let mut results = Vec::new();
    for id in &ids {
        results.push(poll_until_done(&client, &api, &key, id, started).await);
    }

    let out = std::env::var_os("PROCMAP_TEST_LLM_OUT").map(std::path::PathBuf::from);
    for (n, generation) in results.iter().enumerate() {
        assert_eq!(generation["livemode"], true, "a live key reaches the model");
        // The figures that matter, for messages; the diagrams themselves are long.
        let result = json!({
            "id": generation["id"], "status": generation["status"],
            "error": generation["error"], "usage": generation["usage"],
        });
        let usage = &generation["usage"];
        let (Some(requests), Some(rounds)) =
            (usage["requests"].as_u64(), usage["repair_rounds"].as_u64())
        else {
            panic!("no usage recorded: {result}");
        };
        println!(
            "real model: {} {} in {:?}; usage {usage}",
            result["id"], result["status"], result["error"]["code"]
        );
        assert_eq!(result["status"], "succeeded", "{result}");
        assert!(usage["total_tokens"].as_u64().unwrap_or(0) > 0, "{result}");
        assert!(rounds <= 3 * u64::from(REPAIR_ROUNDS), "{result}");
        // One answer per option, one more per repair round (retries would add more).
        assert!(requests >= 3 + rounds, "{result}");
        let options = generation["options"].as_array().expect("options");
        assert_eq!(options.len(), 3, "{result}");
        for (i, option) in options.iter().enumerate() {
            let xml = option["versions"][0]["bpmn_xml"]
                .as_str()
                .expect("bpmn_xml");
            let problems = validate::validate(xml);
            assert!(
                problems.is_empty(),
                "an emitted option is invalid: {problems:?}"
            );
            if let Some(out) = &out {
                let file = out.join(format!("prompt{n}_option{}.bpmn", i + 1));
                std::fs::write(&file, xml).expect("write the option");
            }
        }
    }
    let diagram = results[1]["options"][0]["versions"][0]["bpmn_xml"]
        .as_str()
        .expect("an option");
    copilot_turn(&client, &api, &key, diagram, out.as_deref()).await;
    env.teardown().await;
}

/// One copilot turn with the model: a session on a diagram, the model chosen, a message, the
/// stream read to its end, then the stored answer.
async fn copilot_turn(
    client: &reqwest::Client,
    api: &str,
    key: &str,
    diagram: &str,
    out: Option<&std::path::Path>,
) {
    let send = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut request = client
            .request(method, format!("{api}{path}"))
            .bearer_auth(key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };
    use reqwest::Method as M;
    let response = send(
        M::PUT,
        "/api/v1/copilot/settings/model",
        Some(json!({"model": "smollm2"})),
    )
    .await
    .expect("model");
    json_with_status(response, 200).await;
    let response = send(
        M::POST,
        "/api/v1/diagrams",
        Some(json!({"name": "Expenses", "bpmn_xml": diagram})),
    )
    .await
    .expect("diagram");
    let (_, made) = json_with_status(response, 201).await;
    let response = send(
        M::POST,
        "/api/v1/copilot/sessions",
        Some(json!({"diagram_id": made["id"]})),
    )
    .await
    .expect("session");
    let (_, session) = json_with_status(response, 201).await;
    let s = session["id"].as_str().expect("id");
    let started = Instant::now();
    let response = send(
        M::POST,
        &format!("/api/v1/copilot/sessions/{s}/chat"),
        Some(json!({"message": "Add a step to notify the employee after the payment."})),
    )
    .await
    .expect("chat");
    assert_eq!(response.status(), 200);
    let stream = response.text().await.expect("stream");
    let mut names = Vec::new();
    let mut last = Value::Null;
    for block in stream.split("\n\n").filter(|b| b.contains("data:")) {
        let field = |name: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
        };
        let data: Value =
            serde_json::from_str(field("data:").expect("data")).expect("every event is JSON");
        let name = field("event:").expect("every event is named").to_owned();
        if name == "tool_call" {
            println!("real model copilot: {data}");
        }
        names.push(name);
        last = data;
    }
    let calls = names.iter().filter(|n| *n == "tool_call").count();
    println!(
        "real model copilot: the stream sent {} events, {calls} tool calls, ending {:?} {last}",
        names.len(),
        names.last()
    );
    assert!(
        matches!(
            names.last().map(String::as_str),
            Some("complete" | "status")
        ),
        "the stream ends with complete, or a status when the wait window ends first: {names:?}"
    );
    // The worker's own look at the diagram, then at most 25 of the model's.
    assert!(calls <= 26, "at most 25 steps, made {calls}");
    // The stream may end with the wait window while the model works on; the answer is stored.
    let answer = loop {
        let response = send(
            M::GET,
            &format!("/api/v1/copilot/sessions/{s}/messages"),
            None,
        )
        .await
        .expect("messages");
        let (_, page) = json_with_status(response, 200).await;
        let answer = page["data"][1].clone();
        if matches!(answer["status"].as_str(), Some("succeeded" | "failed")) {
            break answer;
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "the turn did not finish"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    println!(
        "real model copilot: {} in {:?}, {calls} tool calls; reply {:?}; diff {}",
        answer["status"],
        started.elapsed(),
        answer["content"],
        answer["diagram_diff"]
    );
    assert_eq!(answer["status"], "succeeded", "{answer}");
    assert!(answer["content"]
        .as_str()
        .is_some_and(|c| !c.trim().is_empty()));
    if let Some(xml) = answer["proposed_bpmn_xml"].as_str() {
        assert_eq!(validate::validate(xml), vec![], "the proposal is valid");
        if let Some(out) = out {
            std::fs::write(out.join("copilot_proposal.bpmn"), xml).expect("write the proposal");
        }
    }
}

async fn poll_until_done(
    client: &reqwest::Client,
    api: &str,
    key: &str,
    id: &str,
    started: Instant,
) -> Value {
    // Two cores decode every request of three generations in turn; allow for a slow machine.
    while started.elapsed() < Duration::from_secs(1500) {
        let response = client
            .get(format!("{api}/api/v1/process-maps/generations/{id}"))
            .bearer_auth(key)
            .send()
            .await
            .expect("get");
        let (_, generation) = json_with_status(response, 200).await;
        if matches!(generation["status"].as_str(), Some("succeeded" | "failed")) {
            return generation;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    panic!("generation {id} did not finish within the test's time");
}
