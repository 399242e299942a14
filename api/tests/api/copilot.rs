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
