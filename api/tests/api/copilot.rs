//! The copilot's sessions and model setting (seed 002, in procmap's error envelope).

use serde_json::{json, Value};

use crate::helpers::*;

const FOREIGN: &str = include_str!("../../../conformance/foreign/camunda_tickets.bpmn");
const COPILOT: &str = "generate,diagrams:read,diagrams:write";

async fn diagram(app: &TestApp, key: &str) -> String {
    let response = app
        .client
        .post(app.url("/api/v1/diagrams"))
        .bearer_auth(key)
        .json(&json!({"name": "Tickets", "bpmn_xml": FOREIGN}))
        .send()
        .await
        .expect("request");
    let (_, body) = json_with_status(response, 201).await;
    body["id"].as_str().expect("id").to_owned()
}

async fn send(
    app: &TestApp,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request")
}

#[tokio::test]
async fn a_diagram_has_one_session_found_by_its_diagram_and_deleted_alone() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let key = create_key(&app.state, "owner-a", COPILOT).await;
    let d = diagram(&app, &key).await;
    use reqwest::Method as M;

    let response = send(
        &app,
        &key,
        M::POST,
        "/api/v1/copilot/sessions",
        Some(json!({"diagram_id": d})),
    )
    .await;
    let (headers, session) = json_with_status(response, 201).await;
    let s = session["id"].as_str().expect("id").to_owned();
    assert_eq!(session["diagram_id"], d.as_str());
    assert_eq!(
        headers["location"].to_str().expect("location"),
        session["links"]["self"].as_str().expect("self")
    );
    assert!(session["links"]["diagram"]
        .as_str()
        .expect("diagram")
        .ends_with(&d));

    // A second session for the same diagram is refused, naming the first.
    let response = send(
        &app,
        &key,
        M::POST,
        "/api/v1/copilot/sessions",
        Some(json!({"diagram_id": d})),
    )
    .await;
    let (_, body) = json_with_status(response, 409).await;
    assert_eq!(body["error"]["type"], "conflict_error");
    assert_eq!(body["error"]["code"], "session_exists");
    assert!(body["error"]["message"]
        .as_str()
        .expect("message")
        .contains(&s));

    // Found by its diagram, or by its id.
    let (_, found) = json_with_status(
        send(
            &app,
            &key,
            M::GET,
            &format!("/api/v1/copilot/sessions?diagram_id={d}"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(found["id"], s.as_str());
    let (_, found) = json_with_status(
        send(
            &app,
            &key,
            M::GET,
            &format!("/api/v1/copilot/sessions/{s}"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(found["diagram_id"], d.as_str());

    // Deleting it leaves the diagram; the diagram then has no session, and may have a new one.
    let response = send(
        &app,
        &key,
        M::DELETE,
        &format!("/api/v1/copilot/sessions/{s}"),
        None,
    )
    .await;
    assert_eq!(response.status(), 204);
    let response = send(&app, &key, M::GET, &format!("/api/v1/diagrams/{d}"), None).await;
    assert_eq!(response.status(), 200);
    for path in [
        format!("/api/v1/copilot/sessions?diagram_id={d}"),
        format!("/api/v1/copilot/sessions/{s}"),
    ] {
        assert_error(
            send(&app, &key, M::GET, &path, None).await,
            404,
            "not_found_error",
            "resource_not_found",
        )
        .await;
    }
    assert_error(
        send(
            &app,
            &key,
            M::DELETE,
            &format!("/api/v1/copilot/sessions/{s}"),
            None,
        )
        .await,
        404,
        "not_found_error",
        "resource_not_found",
    )
    .await;
    let response = send(
        &app,
        &key,
        M::POST,
        "/api/v1/copilot/sessions",
        Some(json!({"diagram_id": d})),
    )
    .await;
    assert_eq!(response.status(), 201);

    // Deleting the diagram ends its session.
    let response = send(
        &app,
        &key,
        M::DELETE,
        &format!("/api/v1/diagrams/{d}"),
        None,
    )
    .await;
    assert_eq!(response.status(), 204);
    assert_error(
        send(
            &app,
            &key,
            M::GET,
            &format!("/api/v1/copilot/sessions?diagram_id={d}"),
            None,
        )
        .await,
        404,
        "not_found_error",
        "resource_not_found",
    )
    .await;
}

#[tokio::test]
async fn sessions_refuse_bad_input_other_workspaces_and_missing_scopes() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let key = create_key(&app.state, "owner-a", COPILOT).await;
    let live = create_live_key(&app.state, "owner-a", COPILOT).await;
    let stranger = create_key(&app.state, "owner-b", COPILOT).await;
    let d = diagram(&app, &key).await;
    use reqwest::Method as M;

    for (body, status, code, param) in [
        (json!({}), 400, "missing_parameter", "diagram_id"),
        (
            json!({"diagram_id": "nope"}),
            400,
            "invalid_parameter",
            "diagram_id",
        ),
        (
            json!({"diagram_id": d, "extra": 1}),
            400,
            "invalid_parameter",
            "extra",
        ),
        (
            json!({"diagram_id": "0190a9f2-0000-7000-8000-000000000000"}),
            404,
            "resource_not_found",
            "diagram_id",
        ),
    ] {
        let (_, answer) = json_with_status(
            send(
                &app,
                &key,
                M::POST,
                "/api/v1/copilot/sessions",
                Some(body.clone()),
            )
            .await,
            status,
        )
        .await;
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
        assert_eq!(answer["error"]["param"], param, "{body}: {answer}");
    }
    let param = assert_error(
        send(&app, &key, M::GET, "/api/v1/copilot/sessions", None).await,
        400,
        "invalid_request_error",
        "missing_parameter",
    )
    .await;
    assert_eq!(param, "diagram_id");

    // Another owner's diagram, or the other mode's, is not there for them.
    let (_, session) = json_with_status(
        send(
            &app,
            &key,
            M::POST,
            "/api/v1/copilot/sessions",
            Some(json!({"diagram_id": d})),
        )
        .await,
        201,
    )
    .await;
    let s = session["id"].as_str().expect("id");
    for other in [&live, &stranger] {
        assert_error(
            send(
                &app,
                other,
                M::POST,
                "/api/v1/copilot/sessions",
                Some(json!({"diagram_id": d})),
            )
            .await,
            404,
            "not_found_error",
            "resource_not_found",
        )
        .await;
        for path in [
            format!("/api/v1/copilot/sessions?diagram_id={d}"),
            format!("/api/v1/copilot/sessions/{s}"),
        ] {
            assert_error(
                send(&app, other, M::GET, &path, None).await,
                404,
                "not_found_error",
                "resource_not_found",
            )
            .await;
        }
        assert_error(
            send(
                &app,
                other,
                M::DELETE,
                &format!("/api/v1/copilot/sessions/{s}"),
                None,
            )
            .await,
            404,
            "not_found_error",
            "resource_not_found",
        )
        .await;
    }

    // Both diagrams:write and generate are needed, for every operation.
    for scopes in ["generate,diagrams:read", "diagrams:write,diagrams:read"] {
        let partial = create_key(&app.state, "owner-a", scopes).await;
        for (method, path, body) in [
            (
                M::POST,
                "/api/v1/copilot/sessions".to_owned(),
                Some(json!({"diagram_id": d})),
            ),
            (
                M::GET,
                format!("/api/v1/copilot/sessions?diagram_id={d}"),
                None,
            ),
            (M::GET, format!("/api/v1/copilot/sessions/{s}"), None),
            (M::DELETE, format!("/api/v1/copilot/sessions/{s}"), None),
            (M::GET, "/api/v1/copilot/settings/model".to_owned(), None),
            (
                M::PUT,
                "/api/v1/copilot/settings/model".to_owned(),
                Some(json!({"model": "builtin"})),
            ),
        ] {
            let response = send(&app, &partial, method.clone(), &path, body).await;
            assert_error(response, 403, "permission_error", "insufficient_scope").await;
        }
    }
}

#[tokio::test]
async fn the_model_setting_offers_builtin_and_the_operators_models_per_workspace() {
    let env = Environment::new().await;
    let app = TestApp::spawn(
        &env,
        Options {
            worker: false,
            env: &[("PROCMAP_COPILOT_MODELS", "gpt-4o, qwen2.5-coder ,")],
            ..Options::default()
        },
    )
    .await;
    let key = create_key(&app.state, "owner-a", COPILOT).await;
    let live = create_live_key(&app.state, "owner-a", COPILOT).await;
    use reqwest::Method as M;
    let path = "/api/v1/copilot/settings/model";

    let (_, setting) = json_with_status(send(&app, &key, M::GET, path, None).await, 200).await;
    assert_eq!(
        setting,
        json!({"model": "builtin", "choices": ["builtin", "gpt-4o", "qwen2.5-coder"]})
    );

    let (_, setting) = json_with_status(
        send(&app, &key, M::PUT, path, Some(json!({"model": "gpt-4o"}))).await,
        200,
    )
    .await;
    assert_eq!(setting["model"], "gpt-4o");
    let (_, setting) = json_with_status(send(&app, &key, M::GET, path, None).await, 200).await;
    assert_eq!(setting["model"], "gpt-4o");
    // The live mode chooses apart.
    let (_, setting) = json_with_status(send(&app, &live, M::GET, path, None).await, 200).await;
    assert_eq!(setting["model"], "builtin");

    // Anything else is refused, naming the choices; nothing changes.
    let (_, body) = json_with_status(
        send(
            &app,
            &key,
            M::PUT,
            path,
            Some(json!({"model": "claude-opus"})),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(body["error"]["code"], "invalid_parameter");
    assert_eq!(body["error"]["param"], "model");
    let message = body["error"]["message"].as_str().expect("message");
    for choice in ["`builtin`", "`gpt-4o`", "`qwen2.5-coder`"] {
        assert!(message.contains(choice), "{message}");
    }
    let param = assert_error(
        send(&app, &key, M::PUT, path, Some(json!({}))).await,
        400,
        "invalid_request_error",
        "missing_parameter",
    )
    .await;
    assert_eq!(param, "model");
    let (_, setting) = json_with_status(send(&app, &key, M::GET, path, None).await, 200).await;
    assert_eq!(setting["model"], "gpt-4o");
}

/// One server-sent event as the client reads it.
#[derive(Debug, Clone)]
struct Sse {
    event: String,
    data: Value,
    id: Option<String>,
}

/// The events of a whole `text/event-stream` body; keep-alive comments are skipped.
fn parse_sse(text: &str) -> Vec<Sse> {
    text.split("\n\n")
        .filter_map(|block| {
            let (mut event, mut data, mut id) = (None, String::new(), None);
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = Some(v.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = Some(v.trim().to_owned());
                }
            }
            let event = event?;
            let data = serde_json::from_str(&data)
                .unwrap_or_else(|e| panic!("event {event} carries JSON: {e}: {data}"));
            Some(Sse { event, data, id })
        })
        .collect()
}

async fn session(app: &TestApp, key: &str, diagram_id: &str) -> String {
    let response = send(
        app,
        key,
        reqwest::Method::POST,
        "/api/v1/copilot/sessions",
        Some(json!({"diagram_id": diagram_id})),
    )
    .await;
    let (_, body) = json_with_status(response, 201).await;
    body["id"].as_str().expect("id").to_owned()
}

/// Sends a chat message and reads the whole stream.
async fn chat(app: &TestApp, key: &str, session: &str, body: Value) -> Vec<Sse> {
    let response = send(
        app,
        key,
        reqwest::Method::POST,
        &format!("/api/v1/copilot/sessions/{session}/chat"),
        Some(body),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().expect("type"),
        "text/event-stream"
    );
    parse_sse(&response.text().await.expect("stream"))
}

fn last(events: &[Sse]) -> &Sse {
    events.last().expect("at least one event")
}

fn replied(events: &[Sse]) -> String {
    events
        .iter()
        .filter(|e| e.event == "content_delta")
        .map(|e| e.data["delta"].as_str().expect("delta"))
        .collect()
}

async fn conversation(app: &TestApp, key: &str, session: &str) -> Vec<Value> {
    let response = send(
        app,
        key,
        reqwest::Method::GET,
        &format!("/api/v1/copilot/sessions/{session}/messages?limit=100"),
        None,
    )
    .await;
    let (_, page) = json_with_status(response, 200).await;
    page["data"].as_array().expect("data").clone()
}

#[tokio::test]
async fn a_turn_streams_its_steps_and_a_follow_up_corrects_the_previous_turn() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::default()).await;
    let key = create_key(&app.state, "owner-a", COPILOT).await;
    let d = diagram(&app, &key).await;
    let s = session(&app, &key, &d).await;

    // The first turn: the steps in order, each a JSON object, then `complete`, last.
    let first = chat(
        &app,
        &key,
        &s,
        json!({"message": "Add a step to notify the customer after Resolve ticket"}),
    )
    .await;
    let names: Vec<&str> = first.iter().map(|e| e.event.as_str()).collect();
    let steps: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| *n != "content_delta")
        .collect();
    assert_eq!(
        steps,
        [
            "status",
            "tool_call",
            "tool_result",
            "status",
            "tool_call",
            "tool_result",
            "tool_call",
            "tool_result",
            "complete"
        ],
        "{names:?}"
    );
    assert_eq!(first[0].data["message"], "Reading the diagram…");
    assert_eq!(first[1].data["name"], "list_diagram_elements");
    assert!(first[2].data["result"]["elements"]
        .as_array()
        .is_some_and(|e| e.iter().any(|e| e["name"] == "Resolve ticket")));
    assert_eq!(first[3].data["message"], "Modifying the diagram…");
    assert_eq!(first[4].data["name"], "modify_diagram");
    assert_eq!(first[5].data["result"]["applied"], true);
    assert_eq!(first[6].data["name"], "validate_diagram");
    assert_eq!(first[7].data["result"]["valid"], true);
    assert!(
        first[..8].iter().all(|e| e.id.is_some()),
        "stored steps carry ids"
    );
    let complete = &last(&first).data;
    let content = complete["content"].as_str().expect("content");
    assert_eq!(replied(&first), content, "the deltas make the reply");
    assert!(
        content.starts_with(
            "I added \u{201c}Notify customer\u{201d} after \u{201c}Resolve ticket\u{201d}"
        ),
        "{content}"
    );
    let added = &complete["diagram_diff"]["elements"]["added"];
    assert_eq!(added.as_array().map(Vec::len), Some(1), "{complete}");
    assert_eq!(added[0]["name"], "Notify customer");
    let step = added[0]["id"].as_str().expect("id").to_owned();
    let first_answer = complete["message_id"].as_str().expect("id").to_owned();

    // The follow-up means the step the first turn added, and moves it.
    let second = chat(
        &app,
        &key,
        &s,
        json!({"message": "No, put it before Resolve ticket"}),
    )
    .await;
    let complete = &last(&second).data;
    assert_eq!(last(&second).event, "complete", "{second:?}");
    let added = &complete["diagram_diff"]["elements"]["added"];
    assert_eq!(added.as_array().map(Vec::len), Some(1), "{complete}");
    assert_eq!(added[0]["id"], step.as_str(), "the same step, moved");
    let content = complete["content"].as_str().expect("content");
    assert!(
        content.contains("before \u{201c}Resolve ticket\u{201d}"),
        "{content}"
    );
    let second_answer = complete["message_id"].as_str().expect("id").to_owned();

    // The conversation, oldest first: the user's messages and the answers with their proposals.
    let messages = conversation(&app, &key, &s).await;
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().expect("role"))
        .collect();
    assert_eq!(roles, ["user", "copilot", "user", "copilot"]);
    assert_eq!(messages[2]["content"], "No, put it before Resolve ticket");
    assert_eq!(messages[3]["id"], second_answer.as_str());
    assert_eq!(messages[3]["status"], "succeeded");
    assert_eq!(messages[3]["base_version"], 1);
    assert!(messages[3]["proposed_bpmn_xml"]
        .as_str()
        .is_some_and(|x| x.contains("Notify customer")));
    assert_eq!(messages[3]["diagram_diff"], complete["diagram_diff"]);
    // Paged forward, oldest first.
    let page = |query: String| {
        let (app, key, s) = (&app, &key, &s);
        async move {
            let response = send(
                app,
                key,
                reqwest::Method::GET,
                &format!("/api/v1/copilot/sessions/{s}/messages?limit=3{query}"),
                None,
            )
            .await;
            json_with_status(response, 200).await.1
        }
    };
    let first_page = page(String::new()).await;
    assert_eq!(first_page["has_more"], true);
    assert_eq!(first_page["data"][2]["id"], messages[2]["id"]);
    let cursor = first_page["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let second_page = page(format!("&cursor={cursor}")).await;
    assert_eq!(second_page["has_more"], false);
    assert_eq!(second_page["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(second_page["data"][0]["id"], messages[3]["id"]);
    let bad = send(
        &app,
        &key,
        reqwest::Method::GET,
        &format!("/api/v1/copilot/sessions/{s}/messages?cursor=nope"),
        None,
    )
    .await;
    assert_error(bad, 400, "invalid_request_error", "invalid_cursor").await;

    // A snapshot applies the proposal as version 2, once.
    let snapshot = |mid: String| {
        let (app, key, s) = (&app, &key, &s);
        async move {
            send(
                app,
                key,
                reqwest::Method::POST,
                &format!("/api/v1/copilot/sessions/{s}/messages/{mid}/snapshot"),
                None,
            )
            .await
        }
    };
    let (headers, made) = json_with_status(snapshot(second_answer.clone()).await, 201).await;
    assert_eq!(made["diagram_id"], d.as_str());
    assert_eq!(made["version_number"], 2);
    assert!(headers["location"]
        .to_str()
        .expect("location")
        .ends_with("?version=2"));
    let (_, version) = json_with_status(
        app.get_as(&key, &format!("/api/v1/diagrams/{d}?version=2"))
            .await,
        200,
    )
    .await;
    assert!(version["bpmn_xml"]
        .as_str()
        .is_some_and(|x| x.contains("Notify customer")));
    assert_error(
        snapshot(second_answer.clone()).await,
        409,
        "conflict_error",
        "already_applied",
    )
    .await;
    // The first proposal was based on version 1, which is no longer the latest.
    assert_error(
        snapshot(first_answer).await,
        409,
        "conflict_error",
        "stale_proposal",
    )
    .await;
    let user_message = messages[0]["id"].as_str().expect("id").to_owned();
    assert_error(
        snapshot(user_message).await,
        409,
        "conflict_error",
        "no_proposal",
    )
    .await;
    assert_error(
        snapshot(uuid::Uuid::now_v7().to_string()).await,
        404,
        "not_found_error",
        "resource_not_found",
    )
    .await;
    assert_error(
        snapshot("nope".into()).await,
        404,
        "not_found_error",
        "resource_not_found",
    )
    .await;
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_message_the_builtin_copilot_cannot_read_gets_a_reply_and_no_proposal() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::default()).await;
    let key = create_key(&app.state, "owner-a", COPILOT).await;
    let d = diagram(&app, &key).await;
    let s = session(&app, &key, &d).await;
    let events = chat(
        &app,
        &key,
        &s,
        json!({"message": "What is the weather like today"}),
    )
    .await;
    let end = last(&events);
    assert_eq!(end.event, "complete", "{events:?}");
    assert!(end.data["content"]
        .as_str()
        .is_some_and(|c| c.contains("I did not understand") && c.contains("I can:")));
    assert_eq!(end.data["has_proposal"], false);
    let mid = end.data["message_id"].as_str().expect("id");
    assert_error(
        send(
            &app,
            &key,
            reqwest::Method::POST,
            &format!("/api/v1/copilot/sessions/{s}/messages/{mid}/snapshot"),
            None,
        )
        .await,
        409,
        "conflict_error",
        "no_proposal",
    )
    .await;

    // The editor's unsaved state is what the turn edits, when the client sends it.
    let (_, version) = json_with_status(
        app.get_as(&key, &format!("/api/v1/diagrams/{d}?version=1"))
            .await,
        200,
    )
    .await;
    let edited = version["bpmn_xml"]
        .as_str()
        .expect("xml")
        .replace("name=\"Triage ticket\"", "name=\"Classify ticket\"");
    let events = chat(
        &app,
        &key,
        &s,
        json!({"message": "Remove Classify ticket", "diagram_state": edited}),
    )
    .await;
    let end = last(&events);
    assert_eq!(end.event, "complete", "{events:?}");
    let removed = &end.data["diagram_diff"]["elements"]["removed"];
    assert_eq!(removed[0]["name"], "Triage ticket", "{end:?}");
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn chat_refuses_bad_input_a_stranger_and_a_second_turn_while_one_runs() {
    let env = Environment::new().await;
    let app = TestApp::spawn(
        &env,
        Options {
            worker: false,
            wait_timeout_ms: 500,
            env: &[],
        },
    )
    .await;
    let key = create_key(&app.state, "owner-a", COPILOT).await;
    let stranger = create_key(&app.state, "owner-b", COPILOT).await;
    let reader = create_key(&app.state, "owner-a", "diagrams:read,diagrams:write").await;
    let d = diagram(&app, &key).await;
    let s = session(&app, &key, &d).await;
    let path = format!("/api/v1/copilot/sessions/{s}/chat");
    use reqwest::Method as M;

    for (body, code, param) in [
        (json!({}), "missing_parameter", "message"),
        (json!({"message": "  "}), "missing_parameter", "message"),
        (
            json!({"message": "a\u{7}b"}),
            "invalid_parameter",
            "message",
        ),
        (
            json!({"message": "x".repeat(20_001)}),
            "invalid_parameter",
            "message",
        ),
        (
            json!({"message": "Add a step", "diagram_state": "<nope"}),
            "invalid_parameter",
            "diagram_state",
        ),
        (
            json!({"message": "Add a step", "extra": 1}),
            "invalid_parameter",
            "extra",
        ),
    ] {
        let param_found = assert_error(
            send(&app, &key, M::POST, &path, Some(body.clone())).await,
            400,
            "invalid_request_error",
            code,
        )
        .await;
        assert_eq!(param_found, param, "{body}");
    }
    assert_error(
        send(
            &app,
            &stranger,
            M::POST,
            &path,
            Some(json!({"message": "Remove Triage ticket"})),
        )
        .await,
        404,
        "not_found_error",
        "resource_not_found",
    )
    .await;
    assert_error(
        send(
            &app,
            &reader,
            M::POST,
            &path,
            Some(json!({"message": "Remove Triage ticket"})),
        )
        .await,
        403,
        "permission_error",
        "insufficient_scope",
    )
    .await;

    // No worker runs: the stream ends after the wait window, saying the turn goes on.
    let events = chat(&app, &key, &s, json!({"message": "Remove Triage ticket"})).await;
    let end = last(&events);
    assert_eq!(end.event, "status", "{events:?}");
    assert_eq!(end.data["background"], true);
    assert!(end.data["message"]
        .as_str()
        .is_some_and(|m| m.contains("/messages")));
    // Another workspace finds neither the conversation nor the answer.
    let answer = end.data["message_id"].as_str().expect("id").to_owned();
    for (method, path) in [
        (M::GET, format!("/api/v1/copilot/sessions/{s}/messages")),
        (
            M::GET,
            format!("/api/v1/copilot/sessions/{s}/messages/{answer}/events"),
        ),
        (
            M::POST,
            format!("/api/v1/copilot/sessions/{s}/messages/{answer}/snapshot"),
        ),
    ] {
        assert_error(
            send(&app, &stranger, method, &path, None).await,
            404,
            "not_found_error",
            "resource_not_found",
        )
        .await;
    }
    // The user's message says whether it brought the editor's state.
    let messages = conversation(&app, &key, &s).await;
    assert_eq!(messages[0]["sent_diagram_state"], false);
    assert_eq!(messages[1]["status"], "queued");
    assert_error(
        send(
            &app,
            &key,
            M::POST,
            &path,
            Some(json!({"message": "Remove Resolve ticket"})),
        )
        .await,
        409,
        "conflict_error",
        "turn_in_progress",
    )
    .await;

    // A diagram still being generated has no version for the copilot to read.
    let response = send(
        &app,
        &key,
        M::POST,
        "/api/v1/diagrams?wait=false",
        Some(json!({"prompt": "Map the customer support ticket triage process."})),
    )
    .await;
    let (_, generating) = json_with_status(response, 202).await;
    let pending = session(&app, &key, generating["id"].as_str().expect("id")).await;
    assert_error(
        send(
            &app,
            &key,
            M::POST,
            &format!("/api/v1/copilot/sessions/{pending}/chat"),
            Some(json!({"message": "Remove Log ticket"})),
        )
        .await,
        409,
        "conflict_error",
        "diagram_not_ready",
    )
    .await;
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_client_that_disconnects_loses_nothing_and_another_replica_streams_the_answer() {
    let env = Environment::new().await;
    let asked_on = TestApp::spawn(&env, Options::without_worker()).await;
    let other = TestApp::spawn(&env, Options::without_worker()).await;
    let key = create_key(&asked_on.state, "owner-a", COPILOT).await;
    let d = diagram(&asked_on, &key).await;
    let s = session(&asked_on, &key, &d).await;

    // The client asks on one replica and goes away before anything is streamed.
    let response = send(
        &asked_on,
        &key,
        reqwest::Method::POST,
        &format!("/api/v1/copilot/sessions/{s}/chat"),
        Some(json!({"message": "Add a step to archive the ticket after Resolve ticket"})),
    )
    .await;
    assert_eq!(response.status(), 200);
    drop(response);
    let messages = conversation(&other, &key, &s).await;
    let answer = messages[1]["id"].as_str().expect("id").to_owned();
    assert_eq!(messages[1]["status"], "queued");

    // The other replica follows the answer; the worker starts only now, so every step it
    // streams reached it through the events exchange.
    let follow = tokio::spawn(
        other
            .client
            .get(other.url(&format!(
                "/api/v1/copilot/sessions/{s}/messages/{answer}/events"
            )))
            .bearer_auth(&key)
            .send(),
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let worker = start_worker(env.worker_config(&[]));
    let response = follow.await.expect("task").expect("follow");
    assert_eq!(response.status(), 200);
    let events = parse_sse(&response.text().await.expect("stream"));
    assert_eq!(last(&events).event, "complete", "{events:?}");
    assert_eq!(last(&events).data["message_id"], answer.as_str());
    assert_eq!(events[0].data["message"], "Reading the diagram…");

    // The answer is kept, and a resumed stream starts after the last step it names.
    let messages = conversation(&asked_on, &key, &s).await;
    assert_eq!(messages[1]["status"], "succeeded");
    assert_eq!(messages[1]["content"], last(&events).data["content"]);
    let resumed = asked_on
        .client
        .get(asked_on.url(&format!(
            "/api/v1/copilot/sessions/{s}/messages/{answer}/events"
        )))
        .bearer_auth(&key)
        .header("Last-Event-ID", "3")
        .send()
        .await
        .expect("resume");
    let replay = parse_sse(&resumed.text().await.expect("stream"));
    assert_eq!(replay[0].id.as_deref(), Some("4"));
    assert_eq!(replay.len(), events.len() - 3);
    let user_message = messages[0]["id"].as_str().expect("id");
    assert_error(
        send(
            &asked_on,
            &key,
            reqwest::Method::GET,
            &format!("/api/v1/copilot/sessions/{s}/messages/{user_message}/events"),
            None,
        )
        .await,
        404,
        "not_found_error",
        "resource_not_found",
    )
    .await;
    worker.cancel();
    asked_on.stop().await;
    other.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn the_relay_publishes_a_lost_turn_and_takes_back_one_whose_worker_died() {
    use procmap_core::db::copilot_turns::{self, Asked, Question};
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let key = create_key(&app.state, "owner-a", COPILOT).await;
    let d = diagram(&app, &key).await;
    let s = session(&app, &key, &d).await;
    let session_id: uuid::Uuid = s.parse().expect("uuid");
    let client = app.state.pool.get().await.expect("db");

    // A turn committed but never published (the API died before its publish), from 20 s ago.
    let ask = |message: &'static str| {
        let client = &client;
        async move {
            let Asked::Queued { answer, .. } = copilot_turns::ask(
                client,
                &Question {
                    session_id,
                    message,
                    diagram_state: None,
                    model: "builtin",
                    base_version: Some(1),
                },
            )
            .await
            .expect("ask") else {
                panic!("the session is busy");
            };
            answer
        }
    };
    let lost = ask("Remove Triage ticket").await;
    client
        .execute(
            "UPDATE copilot_messages SET created_at = now() - interval '20 seconds' WHERE id = $1",
            &[&lost],
        )
        .await
        .expect("backdate");
    assert_eq!(relay::pass(&app.state).await.expect("relay pass"), 1);
    let worker = start_worker(env.worker_config(&[]));
    let finished = |id: uuid::Uuid| {
        let (app, key, s) = (&app, &key, &s);
        async move {
            for _ in 0..100 {
                let messages = conversation(app, key, s).await;
                let answer = messages
                    .iter()
                    .find(|m| m["id"] == id.to_string().as_str())
                    .expect("the answer is listed")
                    .clone();
                if answer["status"] == "succeeded" || answer["status"] == "failed" {
                    return answer;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            panic!("the turn did not finish");
        }
    };
    let answer = finished(lost).await;
    assert_eq!(answer["status"], "succeeded", "{answer}");
    assert_eq!(
        answer["diagram_diff"]["elements"]["removed"][0]["name"],
        "Triage ticket"
    );
    worker.cancel();

    // A turn whose worker died mid-run: its lease ran out, so the relay queues it again.
    let died = ask("Remove Resolve ticket").await;
    client
        .execute(
            "UPDATE copilot_messages
             SET status = 'running', attempts = 1, lease_expires_at = now() - interval '1 second',
                 published_at = now()
             WHERE id = $1",
            &[&died],
        )
        .await
        .expect("a dead worker's turn");
    relay::pass(&app.state).await.expect("relay pass");
    let row = client
        .query_one(
            "SELECT status FROM copilot_messages WHERE id = $1",
            &[&died],
        )
        .await
        .expect("row");
    assert_eq!(row.get::<_, String>(0), "queued");
    client
        .execute(
            "UPDATE copilot_messages SET published_at = now() - interval '1 hour' WHERE id = $1",
            &[&died],
        )
        .await
        .expect("age the publish");
    relay::pass(&app.state).await.expect("relay pass");
    let worker = start_worker(env.worker_config(&[]));
    let answer = finished(died).await;
    assert_eq!(answer["status"], "succeeded", "{answer}");
    worker.cancel();
    drop(client);
    app.stop().await;
    env.teardown().await;
}

/// A language model's chat answer holding one copilot step.
fn step(action: Value) -> wiremock::ResponseTemplate {
    wiremock::ResponseTemplate::new(200).set_body_json(json!({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": json!({"action": action}).to_string()}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    }))
}

#[tokio::test]
async fn a_live_workspace_runs_its_chosen_model_in_a_bounded_tool_loop() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let server = wiremock::MockServer::start().await;
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    // A model that looks at the diagram in turn, and never replies.
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(move |request: &wiremock::Request| {
            counted.fetch_add(1, Ordering::SeqCst);
            let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
            assert_eq!(
                body["model"], "house-model",
                "the workspace's chosen model is asked"
            );
            // By the dialogue's length: each step adds the answer and the tool's result.
            let step_number = body["messages"].as_array().map_or(2, Vec::len) / 2 - 1;
            let tool = ["validate_diagram", "list_diagram_elements"][step_number % 2];
            step(json!({"tool": tool}))
        })
        .mount(&server)
        .await;
    let env = Environment::new().await;
    let app = TestApp::spawn(
        &env,
        Options {
            worker: false,
            env: &[("PROCMAP_COPILOT_MODELS", "house-model")],
            ..Default::default()
        },
    )
    .await;
    let base_url = format!("{}/v1", server.uri());
    let worker = start_worker(env.worker_config(&[
        ("PROCMAP_LLM_PROVIDER", "openai"),
        ("PROCMAP_OPENAI_BASE_URL", base_url.as_str()),
    ]));
    let key = create_live_key(&app.state, "owner-a", COPILOT).await;
    let response = send(
        &app,
        &key,
        reqwest::Method::PUT,
        "/api/v1/copilot/settings/model",
        Some(json!({"model": "house-model"})),
    )
    .await;
    json_with_status(response, 200).await;
    let d = diagram(&app, &key).await;
    let s = session(&app, &key, &d).await;
    let events = chat(&app, &key, &s, json!({"message": "Check it"})).await;
    let calls_streamed: Vec<&Sse> = events.iter().filter(|e| e.event == "tool_call").collect();
    // The worker's own look at the diagram, then the model's 25 steps.
    assert_eq!(calls_streamed.len(), 26, "{events:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 25);
    let ids: Vec<i64> = events
        .iter()
        .filter_map(|e| e.id.as_deref()?.parse().ok())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "steps in order: {ids:?}"
    );
    let end = last(&events);
    assert_eq!(end.event, "complete", "{end:?}");
    assert!(end.data["content"]
        .as_str()
        .is_some_and(|c| c.starts_with("I stopped after 25 steps")));
    assert_eq!(end.data["has_proposal"], false);
    worker.cancel();
    app.stop().await;
    env.teardown().await;
}
