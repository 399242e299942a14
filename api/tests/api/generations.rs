//! Creating, waiting for, refining, retrieving and listing generations.

use std::{collections::HashSet, time::Duration};

use procmap_engine::bpmn::{reader, validate::validate};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::*;

fn ids_of(xml: &str) -> HashSet<String> {
    let model = reader::read(xml).expect("readable").model;
    model
        .nodes
        .iter()
        .map(|n| n.id.clone())
        .chain(model.flows.iter().map(|f| f.id.clone()))
        .collect()
}

fn is_rfc3339_millis_utc(value: &Value) -> bool {
    let Some(s) = value.as_str() else {
        return false;
    };
    s.len() == 24
        && s.ends_with('Z')
        && s.as_bytes()[19] == b'.'
        && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

#[tokio::test]
async fn an_initial_generation_with_wait_answers_three_valid_distinct_options() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::default()).await;

    let response = app
        .client
        .post(app.url("/api/v1/process-maps/generations"))
        .bearer_auth(&app.key)
        .header("X-Request-Id", "req-seed-example")
        .json(&json!({"mode": "initial", "prompt": SEED_PROMPT, "language": "english"}))
        .send()
        .await
        .expect("request");
    let (headers, body) = json_with_status(response, 200).await;

    let id = body["id"].as_str().expect("id");
    assert_eq!(body["status"], "succeeded");
    assert_eq!(body["mode"], "initial");
    assert_eq!(body["request_id"], "req-seed-example");
    assert_eq!(headers["x-request-id"], "req-seed-example");
    assert!(
        is_rfc3339_millis_utc(&body["created_at"]),
        "{}",
        body["created_at"]
    );
    assert!(
        is_rfc3339_millis_utc(&body["completed_at"]),
        "{}",
        body["completed_at"]
    );
    assert_eq!(
        body["links"]["self"],
        format!("{BASE_URL}/api/v1/process-maps/generations/{id}")
    );
    assert!(body.get("result").is_none());

    let options = body["options"].as_array().expect("options");
    assert_eq!(options.len(), 3);
    let mut documents = Vec::new();
    for (i, option) in options.iter().enumerate() {
        assert_eq!(option["option_number"], i + 1);
        let versions = option["versions"].as_array().expect("versions");
        assert_eq!(versions.len(), 1);
        assert_eq!(versions[0]["version_number"], 1);
        let xml = versions[0]["bpmn_xml"].as_str().expect("xml");
        assert!(xml.starts_with("<?xml version=\"1.0\""));
        assert_eq!(validate(xml), vec![], "option {} is invalid", i + 1);
        documents.push(xml.to_owned());
    }
    assert_ne!(documents[0], documents[1]);
    assert_ne!(documents[1], documents[2]);
    assert!(
        documents[2].contains("<bpmn:laneSet"),
        "option 3 has a lane per actor"
    );
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn wait_false_answers_202_at_once_and_polling_reaches_succeeded() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::default()).await;
    let response = app.post_generation(&json!({"mode": "initial", "prompt": "The clerk checks the order. The clerk ships it."}), "?wait=false").await;
    let (headers, body) = json_with_status(response, 202).await;
    assert!(
        matches!(body["status"].as_str(), Some("queued" | "running")),
        "{body}"
    );
    assert!(body.get("options").is_none());
    assert_eq!(body["completed_at"], Value::Null);
    let id = body["id"].as_str().expect("id");
    assert_eq!(
        headers["location"],
        format!("{BASE_URL}/api/v1/process-maps/generations/{id}").as_str()
    );

    let done = app.poll_until_done(id).await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["options"].as_array().map(Vec::len), Some(3));
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn wait_true_answers_202_when_the_window_ends_first() {
    let env = Environment::new().await;
    // No worker: nothing will finish, so the 300 ms window must end the wait.
    let app = TestApp::spawn(
        &env,
        Options {
            worker: false,
            wait_timeout_ms: 300,
            env: &[],
        },
    )
    .await;
    let started = std::time::Instant::now();
    let response = app
        .post_generation(&json!({"mode": "initial", "prompt": SEED_PROMPT}), "")
        .await;
    let (headers, body) = json_with_status(response, 202).await;
    assert_eq!(body["status"], "queued");
    assert_eq!(headers["retry-after"], "2", "when to poll");
    assert!(body["links"]["self"]
        .as_str()
        .is_some_and(|s| s.starts_with(BASE_URL)));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(app.state.events.waiting(), 0, "the waiter unsubscribed");

    // A poll of the unfinished generation says when to poll again; a finished one would not.
    let id = body["id"].as_str().expect("id");
    let (headers, _) = json_with_status(
        app.get(&format!("/api/v1/process-maps/generations/{id}"))
            .await,
        200,
    )
    .await;
    assert_eq!(headers["retry-after"], "2");
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_replica_shutting_down_answers_waiting_requests_at_once_and_reports_not_ready() {
    let env = Environment::new().await;
    // No worker, and a window far longer than the test: only the drain can end the wait.
    let app = TestApp::spawn(
        &env,
        Options {
            worker: false,
            wait_timeout_ms: 120_000,
            env: &[],
        },
    )
    .await;
    let started = std::time::Instant::now();
    let body = json!({"mode": "initial", "prompt": SEED_PROMPT});
    let waiting = app.post_generation(&body, "");
    let drain = async {
        while app.state.events.waiting() == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        app.state.draining.cancel();
        app.get("/readyz").await
    };
    let (waited, ready) = tokio::join!(waiting, drain);
    let (_, body) = json_with_status(waited, 202).await;
    assert_eq!(body["status"], "queued");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(ready.status().as_u16(), 503);
    let ready: Value = ready.json().await.expect("json");
    assert_eq!(ready["status"], "draining");
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_replica_at_its_limit_turns_requests_away_at_once_and_takes_them_again_after() {
    let env = Environment::new().await;
    // One request at a time, and no worker: a wait=true request holds the only permit for
    // its whole 1.5 s window.
    let app = TestApp::spawn(
        &env,
        Options {
            worker: false,
            wait_timeout_ms: 1_500,
            env: &[("PROCMAP_MAX_IN_FLIGHT", "1")],
        },
    )
    .await;
    let body = json!({"mode": "initial", "prompt": SEED_PROMPT});
    let waiting = app.post_generation(&body, "");
    let turned_away = async {
        while app.state.events.waiting() == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let started = std::time::Instant::now();
        let refused = app.get("/api/v1/process-maps/generations").await;
        let refused_in = started.elapsed();
        // Probes and metrics are not /api/v1 requests: they answer while the replica is full.
        let health = app.get("/healthz").await;
        (refused, refused_in, health)
    };
    let (waited, (refused, refused_in, health)) = tokio::join!(waiting, turned_away);
    assert_eq!(waited.status().as_u16(), 202, "the waiting request ran");
    assert_eq!(health.status().as_u16(), 200);
    assert!(
        refused_in < std::time::Duration::from_secs(1),
        "turned away at once, not queued: {refused_in:?}"
    );
    let (headers, body) = json_with_status(refused, 503).await;
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(body["error"]["type"], "api_error", "{body}");
    assert_eq!(body["error"]["code"], "overloaded", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("limit of 1 request")),
        "{body}"
    );
    // Nothing was spent on the refused request, and its permit came back with the answer.
    let (_, page) = json_with_status(app.get("/api/v1/process-maps/generations").await, 200).await;
    assert_eq!(page["data"].as_array().map(Vec::len), Some(1));
    app.stop().await;
    env.teardown().await;
}

/// Sends `GET /healthz` on a raw connection and reads the start of the answer.
async fn health_over(stream: &mut tokio::net::TcpStream, within: Duration) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: procmap\r\n\r\n")
        .await
        .expect("send");
    let mut answer = [0u8; 64];
    let read = tokio::time::timeout(within, stream.read(&mut answer))
        .await
        .ok()?
        .expect("read");
    Some(String::from_utf8_lossy(&answer[..read]).into_owned())
}

#[tokio::test]
async fn a_replica_at_its_connection_limit_accepts_the_next_when_one_closes() {
    let env = Environment::new().await;
    let app = TestApp::spawn(
        &env,
        Options {
            worker: false,
            env: &[("PROCMAP_MAX_CONNECTIONS", "1")],
            ..Default::default()
        },
    )
    .await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut held = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let first = health_over(&mut held, Duration::from_secs(5)).await;
    assert!(first.is_some_and(|a| a.starts_with("HTTP/1.1 200")));
    // The kernel completes the handshake, but the replica does not accept it while `held`
    // stays open (keep-alive), so the request is not read.
    let mut next = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let early = health_over(&mut next, Duration::from_millis(500)).await;
    assert_eq!(early, None, "answered past the connection limit");
    drop(held);
    let mut answer = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(5), {
        use tokio::io::AsyncReadExt;
        next.read(&mut answer)
    })
    .await
    .expect("answered once the first connection closed")
    .expect("read");
    assert!(String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 200"));
    drop(next);
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_refinement_of_a_stored_option_adds_an_escalation_and_keeps_the_source_ids() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::default()).await;
    let (_, initial) = json_with_status(
        app.post_generation(&json!({"mode": "initial", "prompt": SEED_PROMPT}), "")
            .await,
        200,
    )
    .await;
    let source_xml = initial["options"][1]["versions"][0]["bpmn_xml"]
        .as_str()
        .expect("xml")
        .to_owned();
    let source = json!({"generation_id": initial["id"], "option_number": 2, "version_number": 1});

    let response = app
        .post_generation(&json!({"mode": "refinement", "prompt": "Add an escalation path for high-severity tickets.", "source": source}), "")
        .await;
    let (_, body) = json_with_status(response, 200).await;
    assert_eq!(body["mode"], "refinement");
    assert_eq!(body["status"], "succeeded");
    assert!(body.get("options").is_none());
    assert_eq!(body["result"]["option_number"], 1);
    assert_eq!(body["result"]["version_number"], 1);
    assert_eq!(
        body["result"]["source"], source,
        "the result echoes its source"
    );

    let refined = body["result"]["bpmn_xml"].as_str().expect("xml");
    assert_eq!(validate(refined), vec![]);
    let before = ids_of(&source_xml);
    let after = ids_of(refined);
    assert!(
        before.is_subset(&after),
        "source ids lost: {:?}",
        before.difference(&after).collect::<Vec<_>>()
    );
    let model = reader::read(refined).expect("readable").model;
    assert!(
        model
            .nodes
            .iter()
            .any(|n| n.name == "High-severity ticket?"),
        "a decision was added"
    );
    assert!(
        model.nodes.iter().any(|n| n.name.starts_with("Escalate")),
        "an escalation step was added"
    );
    app.stop().await;
    env.teardown().await;
}

/// A diagram as Camunda Modeler saves it: its own prefixes, extension elements, a text annotation.
pub const FOREIGN_BPMN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn2:definitions xmlns:bpmn2="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="sample-diagram" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn2:process id="Ticketing" isExecutable="true">
    <bpmn2:startEvent id="Start_Ticket" name="Ticket received"><bpmn2:outgoing>f1</bpmn2:outgoing></bpmn2:startEvent>
    <bpmn2:userTask id="Task_Triage" name="Triage ticket" camunda:assignee="agent"><bpmn2:incoming>f1</bpmn2:incoming><bpmn2:outgoing>f2</bpmn2:outgoing></bpmn2:userTask>
    <bpmn2:serviceTask id="Task_Resolve" name="Resolve ticket"><bpmn2:incoming>f2</bpmn2:incoming><bpmn2:outgoing>f3</bpmn2:outgoing></bpmn2:serviceTask>
    <bpmn2:endEvent id="End_Ticket" name="Ticket closed"><bpmn2:incoming>f3</bpmn2:incoming></bpmn2:endEvent>
    <bpmn2:sequenceFlow id="f1" sourceRef="Start_Ticket" targetRef="Task_Triage" />
    <bpmn2:sequenceFlow id="f2" sourceRef="Task_Triage" targetRef="Task_Resolve" />
    <bpmn2:sequenceFlow id="f3" sourceRef="Task_Resolve" targetRef="End_Ticket" />
    <bpmn2:textAnnotation id="Note_1"><bpmn2:text>SLA 4h</bpmn2:text></bpmn2:textAnnotation>
  </bpmn2:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="Ticketing">
      <bpmndi:BPMNShape id="s1" bpmnElement="Start_Ticket"><dc:Bounds x="100" y="100" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="s2" bpmnElement="Task_Triage"><dc:Bounds x="200" y="78" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="s3" bpmnElement="Task_Resolve"><dc:Bounds x="360" y="78" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="s4" bpmnElement="End_Ticket"><dc:Bounds x="520" y="100" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="e1" bpmnElement="f1"><di:waypoint x="136" y="118" /><di:waypoint x="200" y="118" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="e2" bpmnElement="f2"><di:waypoint x="300" y="118" /><di:waypoint x="360" y="118" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="e3" bpmnElement="f3"><di:waypoint x="460" y="118" /><di:waypoint x="520" y="118" /></bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn2:definitions>"#;

#[tokio::test]
async fn a_diagram_from_another_tool_can_be_refined_inline() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::default()).await;
    let source = json!({"bpmn_xml": FOREIGN_BPMN});
    let response = app
        .post_generation(&json!({"mode": "refinement", "prompt": "Add an escalation path for high-severity tickets.", "source": source}), "")
        .await;
    let (_, body) = json_with_status(response, 200).await;
    assert_eq!(body["result"]["source"], source);
    let refined = body["result"]["bpmn_xml"].as_str().expect("xml");
    assert_eq!(validate(refined), vec![]);
    let model = reader::read(refined).expect("readable").model;
    for id in [
        "Start_Ticket",
        "Task_Triage",
        "Task_Resolve",
        "End_Ticket",
        "f1",
        "f2",
        "f3",
    ] {
        assert!(ids_of(refined).contains(id), "{id} was not kept");
    }
    // The escalation goes right after triage.
    let after_triage: Vec<_> = model
        .outgoing("Task_Triage")
        .map(|f| f.target.clone())
        .collect();
    assert_eq!(
        model.node(&after_triage[0]).map(|n| n.name.as_str()),
        Some("High-severity ticket?")
    );
    // Untouched shapes stay where the source drew them; the new ones find free space.
    let drawn = reader::read(refined).expect("readable").layout;
    for (id, x, y) in [
        ("Start_Ticket", 100, 100),
        ("Task_Triage", 200, 78),
        ("Task_Resolve", 360, 78),
        ("End_Ticket", 520, 100),
    ] {
        let b = drawn.nodes[id];
        assert_eq!((b.x, b.y), (x, y), "{id} moved");
    }
    assert_eq!(
        drawn.flows["f1"],
        vec![(136, 118), (200, 118)],
        "f1 was redrawn"
    );
    // What the process model has no place for is kept as it was and reported to the client.
    assert!(refined.contains("<bpmn2:text>SLA 4h</bpmn2:text>"));
    let warnings = body["warnings"].as_array().expect("warnings");
    assert!(
        warnings.iter().any(|w| w
            .as_str()
            .is_some_and(|w| w.contains("Note_1") && w.contains("kept as it was"))),
        "{warnings:?}"
    );
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn inline_xml_that_is_not_bpmn_is_a_validation_error() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    for xml in [
        "<html><body>hi</body></html>",
        "not xml <<<",
        r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>"#,
    ] {
        let body =
            json!({"mode": "refinement", "prompt": "Add a step", "source": {"bpmn_xml": xml}});
        let response = app.post_generation(&body, "").await;
        let param = assert_error(response, 422, "validation_error", "validation_failed").await;
        assert_eq!(param, "source.bpmn_xml");
    }
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn an_inline_source_that_is_not_xml_or_too_large_to_refine_is_refused_and_nothing_stored() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    // A NUL is not XML, and Postgres could not store it.
    let with_nul = FOREIGN_BPMN.replacen("name=\"Triage ticket\"", "name=\"Triage\u{0}ticket\"", 1);
    assert_ne!(with_nul, FOREIGN_BPMN);
    let body =
        json!({"mode": "refinement", "prompt": "Add a step", "source": {"bpmn_xml": with_nul}});
    let param = assert_error(
        app.post_generation(&body, "").await,
        400,
        "invalid_request_error",
        "invalid_parameter",
    )
    .await;
    assert_eq!(param, "source.bpmn_xml");

    // Within the size limit, but more elements than a refinement handles in good time.
    let tasks: String = (0..10_001)
        .map(|i| format!(r#"<task id="T{i}" name="Task {i}"/>"#))
        .collect();
    let huge = format!(
        r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" targetNamespace="http://x"><process id="P">{tasks}</process></definitions>"#
    );
    let body = json!({"mode": "refinement", "prompt": "Add a step", "source": {"bpmn_xml": huge}});
    let (_, refused) = json_with_status(app.post_generation(&body, "").await, 422).await;
    assert_eq!(
        refused["error"]["problems"][0]["code"], "too_large",
        "{refused}"
    );

    let client = app.state.pool.get().await.expect("db");
    let stored: i64 = client
        .query_one("SELECT count(*) FROM generations", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(stored, 0);
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_client_request_id_is_kept_only_when_it_is_a_reasonable_one() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::default()).await;
    let body = json!({"mode": "initial", "prompt": SEED_PROMPT});
    let send = |id: String| {
        app.client
            .post(app.url("/api/v1/process-maps/generations"))
            .bearer_auth(&app.key)
            .header("X-Request-Id", id)
            .json(&body)
            .send()
    };
    let kept = "r".repeat(200);
    let (headers, done) = json_with_status(send(kept.clone()).await.expect("request"), 200).await;
    assert_eq!(headers["x-request-id"], kept.as_str());
    assert_eq!(done["request_id"], kept.as_str());

    for unusable in ["r".repeat(10_000), "two words".to_owned()] {
        let (headers, done) =
            json_with_status(send(unusable.clone()).await.expect("request"), 200).await;
        let given = headers["x-request-id"].to_str().expect("ascii");
        assert!(
            Uuid::parse_str(given).is_ok(),
            "a fresh id, not {given:.40}"
        );
        assert_eq!(done["request_id"], given);
    }
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_refinement_of_a_missing_option_or_another_owners_generation_is_not_found() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::default()).await;
    let (_, initial) = json_with_status(
        app.post_generation(&json!({"mode": "initial", "prompt": SEED_PROMPT}), "")
            .await,
        200,
    )
    .await;
    let missing_option = json!({"mode": "refinement", "prompt": "Add a step", "source": {"generation_id": initial["id"], "option_number": 7, "version_number": 1}});
    let param = assert_error(
        app.post_generation(&missing_option, "").await,
        404,
        "not_found_error",
        "resource_not_found",
    )
    .await;
    assert_eq!(param, "source.option_number");

    let other = create_key(&app.state, "owner-b", "generate").await;
    let theirs = json!({"mode": "refinement", "prompt": "Add a step", "source": {"generation_id": initial["id"], "option_number": 1, "version_number": 1}});
    let param = assert_error(
        app.post_generation_as(&other, &theirs, "", None).await,
        404,
        "not_found_error",
        "resource_not_found",
    )
    .await;
    assert_eq!(param, "source.generation_id");
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn generations_are_private_to_their_owner() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let (_, mine) = json_with_status(
        app.post_generation(
            &json!({"mode": "initial", "prompt": SEED_PROMPT}),
            "?wait=false",
        )
        .await,
        202,
    )
    .await;
    let id = mine["id"].as_str().expect("id");
    let other = create_key(&app.state, "owner-b", "generate,diagrams:read").await;

    let response = app
        .get_as(&other, &format!("/api/v1/process-maps/generations/{id}"))
        .await;
    assert_error(response, 404, "not_found_error", "resource_not_found").await;
    let (_, theirs) = json_with_status(
        app.get_as(&other, "/api/v1/process-maps/generations").await,
        200,
    )
    .await;
    assert_eq!(theirs["data"], json!([]));
    let (_, own) = json_with_status(
        app.get(&format!("/api/v1/process-maps/generations/{id}"))
            .await,
        200,
    )
    .await;
    assert_eq!(own["id"], id);
    let response = app.get("/api/v1/process-maps/generations/not-a-uuid").await;
    assert_error(response, 404, "not_found_error", "resource_not_found").await;
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn the_list_pages_newest_first_with_an_opaque_cursor() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let mut created = Vec::new();
    for i in 0..5 {
        let (_, body) = json_with_status(
            app.post_generation(
                &json!({"mode": "initial", "prompt": format!("Process {i}: the clerk files it.")}),
                "?wait=false",
            )
            .await,
            202,
        )
        .await;
        created.push(body["id"].as_str().expect("id").to_owned());
    }
    created.reverse();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/process-maps/generations?limit=2&cursor={c}"),
            None => "/api/v1/process-maps/generations?limit=2".to_owned(),
        };
        let (_, page) = json_with_status(app.get(&path).await, 200).await;
        let data = page["data"].as_array().expect("data");
        assert!(data.len() <= 2);
        seen.extend(
            data.iter()
                .map(|g| g["id"].as_str().expect("id").to_owned()),
        );
        if page["has_more"] == false {
            assert_eq!(page["next_cursor"], Value::Null);
            break;
        }
        cursor = Some(page["next_cursor"].as_str().expect("cursor").to_owned());
    }
    assert_eq!(seen, created, "every generation once, newest first");

    let (_, default_page) =
        json_with_status(app.get("/api/v1/process-maps/generations").await, 200).await;
    assert_eq!(default_page["data"].as_array().map(Vec::len), Some(5));
    assert_eq!(default_page["has_more"], false);

    let param = assert_error(
        app.get("/api/v1/process-maps/generations?cursor=bogus")
            .await,
        400,
        "invalid_request_error",
        "invalid_cursor",
    )
    .await;
    assert_eq!(param, "cursor");
    for limit in ["0", "101", "ten"] {
        let param = assert_error(
            app.get(&format!("/api/v1/process-maps/generations?limit={limit}"))
                .await,
            400,
            "invalid_request_error",
            "invalid_parameter",
        )
        .await;
        assert_eq!(param, "limit");
    }
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_failed_generation_shows_its_error() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::default()).await;
    let (_, initial) = json_with_status(
        app.post_generation(&json!({"mode": "initial", "prompt": SEED_PROMPT}), "")
            .await,
        200,
    )
    .await;
    app.stop().await;

    // Accept a refinement while no worker runs, then remove its source before a worker gets to it.
    let mut app2 = TestApp::spawn(&env, Options::without_worker()).await;
    let owner_key = create_key(&app2.state, "owner-a", "generate,diagrams:read").await;
    let body = json!({"mode": "refinement", "prompt": "Add a step", "source": {"generation_id": initial["id"], "option_number": 1, "version_number": 1}});
    let (_, accepted) = json_with_status(
        app2.post_generation_as(&owner_key, &body, "?wait=false", None)
            .await,
        202,
    )
    .await;
    let client = app2.state.pool.get().await.expect("db");
    let source_id: uuid::Uuid = initial["id"].as_str().expect("id").parse().expect("uuid");
    client
        .execute(
            "DELETE FROM generation_versions WHERE generation_id = $1",
            &[&source_id],
        )
        .await
        .expect("delete");
    drop(client);
    app2.start_worker(&env);

    let done = app2
        .poll_until_done(accepted["id"].as_str().expect("id"))
        .await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["error"]["code"], "invalid_source");
    assert!(done["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    assert!(done.get("result").is_none());
    app2.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_follow_up_the_builtin_modeler_cannot_read_fails_with_a_clear_error() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::default()).await;
    for vague in ["Please make it nicer.", "make it nicer"] {
        let body =
            json!({"mode": "refinement", "prompt": vague, "source": {"bpmn_xml": FOREIGN_BPMN}});
        let (_, done) = json_with_status(app.post_generation(&body, "").await, 200).await;
        assert_eq!(done["status"], "failed", "{vague}: {done}");
        assert_eq!(done["error"]["code"], "unsupported_instruction");
        assert!(
            done["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("rename X to Y")),
            "{done}"
        );
        assert!(done.get("result").is_none());
    }
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn stored_diagram_xml_is_compressed_with_lz4_and_reads_back_whole() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::default()).await;
    let response = app
        .post_generation(
            &json!({"mode": "initial", "prompt": SEED_PROMPT}),
            "?wait=true",
        )
        .await;
    let (_, body) = json_with_status(response, 200).await;
    let id: Uuid = body["id"].as_str().expect("id").parse().expect("uuid");

    // Migration 0011; the server the tests run on is built with LZ4, as Debian's is.
    let client = app.state.pool.get().await.expect("db");
    let rows = client
        .query(
            "SELECT option_number, pg_column_compression(bpmn_xml), bpmn_xml \
             FROM generation_versions WHERE generation_id = $1 ORDER BY option_number",
            &[&id],
        )
        .await
        .expect("versions");
    assert_eq!(rows.len(), 3);
    for (row, option) in rows
        .iter()
        .zip(body["options"].as_array().expect("options"))
    {
        let method: Option<&str> = row.get(1);
        assert_eq!(method, Some("lz4"), "option {}", row.get::<_, i32>(0));
        let stored: &str = row.get(2);
        assert_eq!(Some(stored), option["versions"][0]["bpmn_xml"].as_str());
    }
    let columns: Vec<String> = client
        .query(
            "SELECT attrelid::regclass::text || '.' || attname FROM pg_attribute \
             WHERE attcompression = 'l' AND attrelid::regclass::text NOT LIKE 'pg_%' ORDER BY 1",
            &[],
        )
        .await
        .expect("columns")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        columns,
        [
            "copilot_messages.diagram_state",
            "copilot_messages.proposed_bpmn",
            "diagram_versions.bpmn_xml",
            "generation_versions.bpmn_xml"
        ]
    );
    drop(client);
    app.stop().await;
    env.teardown().await;
}
