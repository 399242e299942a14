//! The diagram platform of seed 001: folders, diagrams and their versions, import and export,
//! refinement in place, folder context, scopes, and the walls between owners and modes.

use serde_json::{json, Value};

use crate::helpers::*;

const ALL_SCOPES: &str = "generate,diagrams:read,diagrams:write,folders:read,folders:write";
const FOREIGN: &str = include_str!("../../../conformance/foreign/camunda_tickets.bpmn");
const EXECUTABLE: &str = include_str!("../../../conformance/executable/c7_invoice_approval.bpmn");

/// A diagram another tool wrote without any drawing: procmap lays it out on import.
const WITHOUT_DI: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://example.com">
  <process id="p" isExecutable="false">
    <startEvent id="start" name="Order received"/>
    <task id="check" name="Check order"/>
    <endEvent id="end" name="Order checked"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="check"/>
    <sequenceFlow id="f2" sourceRef="check" targetRef="end"/>
  </process>
</definitions>"#;

impl TestApp {
    async fn send(
        &self,
        key: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self.client.request(method, self.url(path)).bearer_auth(key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request")
    }

    async fn post_as(&self, key: &str, path: &str, body: Value) -> reqwest::Response {
        self.send(key, reqwest::Method::POST, path, Some(body))
            .await
    }

    async fn patch_as(&self, key: &str, path: &str, body: Value) -> reqwest::Response {
        self.send(key, reqwest::Method::PATCH, path, Some(body))
            .await
    }

    async fn delete_as(&self, key: &str, path: &str) -> reqwest::Response {
        self.send(key, reqwest::Method::DELETE, path, None).await
    }
}

async fn folder(app: &TestApp, key: &str, body: Value) -> Value {
    json_with_status(app.post_as(key, "/api/v1/folders", body).await, 201)
        .await
        .1
}

async fn import(app: &TestApp, key: &str, name: &str, xml: &str, folder: Option<&Value>) -> Value {
    let mut body = json!({"name": name, "bpmn_xml": xml});
    if let Some(folder) = folder {
        body["folder_id"] = folder["id"].clone();
    }
    json_with_status(app.post_as(key, "/api/v1/diagrams", body).await, 201)
        .await
        .1
}

fn id(value: &Value) -> &str {
    value["id"].as_str().expect("id")
}

#[tokio::test]
async fn folders_nest_move_and_refuse_cycles_depth_and_non_empty_deletes() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let key = create_key(&app.state, "owner-a", ALL_SCOPES).await;

    let (headers, top) = json_with_status(
        app.post_as(
            &key,
            "/api/v1/folders",
            json!({"name": " Support ", "context": "We have agents and managers."}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(top["name"], "Support");
    assert_eq!(top["parent_id"], Value::Null);
    assert_eq!(top["context"], "We have agents and managers.");
    assert_eq!(top["livemode"], false);
    assert!(headers["location"]
        .to_str()
        .expect("text")
        .ends_with(id(&top)));
    let child = folder(
        &app,
        &key,
        json!({"name": "Tickets", "parent_id": top["id"]}),
    )
    .await;
    assert_eq!(child["parent_id"], top["id"]);

    // Read one, and list all or only a folder's children.
    let (_, got) = json_with_status(
        app.get_as(&key, &format!("/api/v1/folders/{}", id(&child)))
            .await,
        200,
    )
    .await;
    assert_eq!(got["name"], "Tickets");
    let (_, all) = json_with_status(app.get_as(&key, "/api/v1/folders").await, 200).await;
    assert_eq!(all["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(all["data"][0]["id"], child["id"], "newest first");
    let (_, children) = json_with_status(
        app.get_as(&key, &format!("/api/v1/folders?parent_id={}", id(&top)))
            .await,
        200,
    )
    .await;
    assert_eq!(children["data"].as_array().map(Vec::len), Some(1));
    let (_, page) = json_with_status(app.get_as(&key, "/api/v1/folders?limit=1").await, 200).await;
    assert_eq!(page["has_more"], true);
    let (_, rest) = json_with_status(
        app.get_as(
            &key,
            &format!(
                "/api/v1/folders?limit=1&cursor={}",
                page["next_cursor"].as_str().expect("cursor")
            ),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rest["data"][0]["id"], top["id"]);
    assert_eq!(rest["has_more"], false);

    // A folder cannot move into itself or below itself.
    for parent in [id(&top), id(&child)] {
        let response = app
            .patch_as(
                &key,
                &format!("/api/v1/folders/{}", id(&top)),
                json!({"parent_id": parent}),
            )
            .await;
        let body = json_with_status(response, 409).await.1;
        assert_eq!(body["error"]["type"], "conflict_error");
        assert_eq!(body["error"]["code"], "folder_cycle");
    }
    // Rename, clear the context, and move to the top level.
    let (_, moved) = json_with_status(
        app.patch_as(
            &key,
            &format!("/api/v1/folders/{}", id(&child)),
            json!({"name": "Escalations", "parent_id": null, "context": null}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (
            moved["name"].as_str(),
            moved["parent_id"].is_null(),
            moved["context"].is_null()
        ),
        (Some("Escalations"), true, true)
    );
    // A missing parent is 404, naming the field.
    let param = assert_error(
        app.post_as(
            &key,
            "/api/v1/folders",
            json!({"name": "x", "parent_id": uuid::Uuid::nil()}),
        )
        .await,
        404,
        "not_found_error",
        "resource_not_found",
    )
    .await;
    assert_eq!(param, "parent_id");

    // Ten levels are allowed; the eleventh is refused, whether made or moved there.
    let mut parent = top.clone();
    for level in 2..=10 {
        parent = folder(
            &app,
            &key,
            json!({"name": format!("level {level}"), "parent_id": parent["id"]}),
        )
        .await;
    }
    let body = json_with_status(
        app.post_as(
            &key,
            "/api/v1/folders",
            json!({"name": "too deep", "parent_id": parent["id"]}),
        )
        .await,
        409,
    )
    .await
    .1;
    assert_eq!(body["error"]["code"], "folder_too_deep");
    let body = json_with_status(
        app.patch_as(
            &key,
            &format!("/api/v1/folders/{}", id(&child)),
            json!({"parent_id": parent["id"]}),
        )
        .await,
        409,
    )
    .await
    .1;
    assert_eq!(body["error"]["code"], "folder_too_deep");

    // A folder holding a folder or a diagram is not deleted; an empty one is.
    let body = json_with_status(
        app.delete_as(&key, &format!("/api/v1/folders/{}", id(&top)))
            .await,
        409,
    )
    .await
    .1;
    assert_eq!(body["error"]["code"], "folder_not_empty");
    let diagram = import(&app, &key, "In a folder", FOREIGN, Some(&child)).await;
    let body = json_with_status(
        app.delete_as(&key, &format!("/api/v1/folders/{}", id(&child)))
            .await,
        409,
    )
    .await
    .1;
    assert_eq!(body["error"]["code"], "folder_not_empty");
    let response = app
        .delete_as(&key, &format!("/api/v1/diagrams/{}", id(&diagram)))
        .await;
    assert_eq!(response.status(), 204);
    let response = app
        .delete_as(&key, &format!("/api/v1/folders/{}", id(&child)))
        .await;
    assert_eq!(response.status(), 204);
    assert_error(
        app.get_as(&key, &format!("/api/v1/folders/{}", id(&child)))
            .await,
        404,
        "not_found_error",
        "resource_not_found",
    )
    .await;

    // Bad input names its field.
    for (body, code, param) in [
        (json!({}), "missing_parameter", "name"),
        (json!({"name": "  "}), "missing_parameter", "name"),
        (
            json!({"name": "x", "context": "y".repeat(4001)}),
            "invalid_parameter",
            "context",
        ),
        (
            json!({"name": "x", "parent_id": "nope"}),
            "invalid_parameter",
            "parent_id",
        ),
        (
            json!({"name": "x", "colour": "red"}),
            "invalid_parameter",
            "colour",
        ),
    ] {
        let got = assert_error(
            app.post_as(&key, "/api/v1/folders", body).await,
            400,
            "invalid_request_error",
            code,
        )
        .await;
        assert_eq!(got, param);
    }
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn an_import_is_kept_byte_for_byte_exported_versioned_and_moved() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let key = create_key(&app.state, "owner-a", ALL_SCOPES).await;
    let home = folder(&app, &key, json!({"name": "Finance"})).await;

    let diagram = import(&app, &key, "Invoice approval", EXECUTABLE, Some(&home)).await;
    assert_eq!(diagram["status"], "ready");
    assert_eq!(diagram["latest_version"], 1);
    assert_eq!(diagram["version_number"], 1);
    assert_eq!(diagram["folder_id"], home["id"]);
    assert_eq!(
        diagram["bpmn_xml"], EXECUTABLE,
        "a drawn diagram is stored as it came"
    );

    // The export is the very document, as a .bpmn file.
    let response = app
        .get_as(&key, &format!("/api/v1/diagrams/{}/export", id(&diagram)))
        .await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert!(headers["content-type"]
        .to_str()
        .expect("text")
        .starts_with("application/xml"));
    assert_eq!(
        headers["content-disposition"].to_str().expect("text"),
        "attachment; filename=\"invoice-approval-v1.bpmn\""
    );
    assert_eq!(response.text().await.expect("body"), EXECUTABLE);

    // A document without a drawing is laid out, on import and as a new version.
    let laid_out = import(&app, &key, "No drawing", WITHOUT_DI, None).await;
    let xml = laid_out["bpmn_xml"].as_str().expect("xml");
    assert!(
        xml.contains("BPMNShape") && xml.contains("bpmnElement=\"check\""),
        "{xml}"
    );
    let (_, version) = json_with_status(
        app.post_as(
            &key,
            &format!("/api/v1/diagrams/{}/versions", id(&diagram)),
            json!({"bpmn_xml": WITHOUT_DI}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(version["version_number"], 2);
    assert_eq!(version["laid_out"], true);
    assert_eq!(version["generation_id"], Value::Null);

    // Versions, newest first and paginated; any version can be read and exported.
    let (_, page) = json_with_status(
        app.get_as(
            &key,
            &format!("/api/v1/diagrams/{}/versions?limit=1", id(&diagram)),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(page["data"][0]["version_number"], 2);
    let cursor = page["next_cursor"].as_str().expect("more");
    let (_, rest) = json_with_status(
        app.get_as(
            &key,
            &format!(
                "/api/v1/diagrams/{}/versions?limit=1&cursor={cursor}",
                id(&diagram)
            ),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(rest["data"][0]["version_number"], 1);
    assert_eq!(rest["has_more"], false);
    assert_error(
        app.get_as(
            &key,
            &format!("/api/v1/diagrams/{}/versions?cursor=bogus", id(&diagram)),
        )
        .await,
        400,
        "invalid_request_error",
        "invalid_cursor",
    )
    .await;
    let (_, first) = json_with_status(
        app.get_as(
            &key,
            &format!("/api/v1/diagrams/{}?version=1", id(&diagram)),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(first["bpmn_xml"], EXECUTABLE);
    assert_eq!(first["latest_version"], 2);
    let param = assert_error(
        app.get_as(
            &key,
            &format!("/api/v1/diagrams/{}/export?version=9", id(&diagram)),
        )
        .await,
        404,
        "not_found_error",
        "resource_not_found",
    )
    .await;
    assert_eq!(param, "version");

    // Listing, filtered by folder; renaming and moving.
    let (_, in_home) = json_with_status(
        app.get_as(&key, &format!("/api/v1/diagrams?folder_id={}", id(&home)))
            .await,
        200,
    )
    .await;
    assert_eq!(in_home["data"].as_array().map(Vec::len), Some(1));
    assert!(
        in_home["data"][0].get("bpmn_xml").is_none(),
        "lists carry no BPMN"
    );
    let (_, all) = json_with_status(app.get_as(&key, "/api/v1/diagrams").await, 200).await;
    assert_eq!(all["data"].as_array().map(Vec::len), Some(2));
    let (_, moved) = json_with_status(
        app.patch_as(
            &key,
            &format!("/api/v1/diagrams/{}", id(&diagram)),
            json!({"name": "Invoices", "folder_id": null}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (moved["name"].as_str(), moved["folder_id"].is_null()),
        (Some("Invoices"), true)
    );
    let param = assert_error(
        app.patch_as(
            &key,
            &format!("/api/v1/diagrams/{}", id(&diagram)),
            json!({"folder_id": uuid::Uuid::nil()}),
        )
        .await,
        404,
        "not_found_error",
        "resource_not_found",
    )
    .await;
    assert_eq!(param, "folder_id");

    // Invalid BPMN is 422 listing the problems; the body's shape is checked first.
    let broken = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p"><task id="a"/><task id="a"/></process></definitions>"#;
    for xml in ["<not-bpmn/>", "this is not xml", broken] {
        let (_, body) = json_with_status(
            app.post_as(
                &key,
                "/api/v1/diagrams",
                json!({"name": "Bad", "bpmn_xml": xml}),
            )
            .await,
            422,
        )
        .await;
        assert_eq!(body["error"]["code"], "validation_failed", "{body}");
        assert_eq!(body["error"]["param"], "bpmn_xml");
        assert!(
            !body["error"]["problems"]
                .as_array()
                .expect("problems")
                .is_empty(),
            "{body}"
        );
    }
    for (body, status, code, param) in [
        (json!({"name": "x"}), 400, "missing_parameter", "bpmn_xml"),
        (
            json!({"bpmn_xml": FOREIGN}),
            400,
            "missing_parameter",
            "name",
        ),
        (
            json!({"name": "x", "bpmn_xml": FOREIGN, "prompt": "y"}),
            400,
            "invalid_parameter",
            "prompt",
        ),
        (
            json!({"name": "x", "bpmn_xml": "a\u{0}b"}),
            400,
            "invalid_parameter",
            "bpmn_xml",
        ),
        (
            json!({"name": "x", "bpmn_xml": FOREIGN, "folder_id": uuid::Uuid::nil()}),
            404,
            "resource_not_found",
            "folder_id",
        ),
    ] {
        let response = app.post_as(&key, "/api/v1/diagrams", body).await;
        let kind = if status == 404 {
            "not_found_error"
        } else {
            "invalid_request_error"
        };
        assert_eq!(assert_error(response, status, kind, code).await, param);
    }
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_diagram_from_a_prompt_gets_its_option_and_is_refined_in_place_with_its_folder_context() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::default()).await;
    let key = create_key(&app.state, "owner-a", ALL_SCOPES).await;
    let outer = folder(
        &app,
        &key,
        json!({"name": "Support", "context": "The support desk has agents and a manager."}),
    )
    .await;
    let inner = folder(
        &app,
        &key,
        json!({"name": "Triage", "parent_id": outer["id"], "context": "Tickets arrive by email."}),
    )
    .await;

    let (headers, diagram) = json_with_status(
        app.post_as(
            &key,
            "/api/v1/diagrams",
            json!({"prompt": SEED_PROMPT, "folder_id": inner["id"], "option_number": 2}),
        )
        .await,
        201,
    )
    .await;
    assert!(headers["location"]
        .to_str()
        .expect("text")
        .ends_with(id(&diagram)));
    assert_eq!(diagram["status"], "ready");
    assert_eq!(diagram["latest_version"], 1);
    assert_eq!(
        diagram["name"], "Map the customer support ticket triage process from intake to resolution",
        "named after the prompt's first sentence"
    );
    let generation_id = diagram["generation_id"].as_str().expect("generation");
    let generation = app.poll_until_done(generation_id).await;
    assert_eq!(generation["diagram_id"], diagram["id"]);
    assert_eq!(
        diagram["bpmn_xml"], generation["options"][1]["versions"][0]["bpmn_xml"],
        "version 1 is the chosen option"
    );
    // The generation records the contexts that steered it, outermost first.
    let contexts: Vec<&str> = generation["context"]
        .as_array()
        .expect("context")
        .iter()
        .map(|c| c["context"].as_str().expect("text"))
        .collect();
    assert_eq!(
        contexts,
        [
            "The support desk has agents and a manager.",
            "Tickets arrive by email."
        ]
    );

    // Refined in place: the result is version 2.
    let (_, refinement) = json_with_status(
        app.post_as(
            &key,
            &format!("/api/v1/diagrams/{}/refinements", id(&diagram)),
            json!({"prompt": "Add a review by the manager after triage."}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(refinement["status"], "succeeded", "{refinement}");
    assert_eq!(
        refinement["result"]["source"],
        json!({"diagram_id": diagram["id"], "version_number": 1})
    );
    assert_eq!(refinement["context"].as_array().map(Vec::len), Some(2));
    let (_, now) = json_with_status(
        app.get_as(&key, &format!("/api/v1/diagrams/{}", id(&diagram)))
            .await,
        200,
    )
    .await;
    assert_eq!(now["latest_version"], 2);
    assert_eq!(now["bpmn_xml"], refinement["result"]["bpmn_xml"]);

    // A refinement through the generations API may start from a diagram, too.
    let (_, via_generations) = json_with_status(
        app.post_generation_as(&key, &json!({"mode": "refinement", "prompt": "Add a step to close the ticket.", "source": {"diagram_id": diagram["id"], "version_number": 1}}), "", None).await,
        200,
    )
    .await;
    assert_eq!(via_generations["status"], "succeeded");
    let param = assert_error(
        app.post_generation_as(&key, &json!({"mode": "refinement", "prompt": "x", "source": {"diagram_id": uuid::Uuid::nil()}}), "", None).await,
        404,
        "not_found_error",
        "resource_not_found",
    )
    .await;
    assert_eq!(param, "source.diagram_id");

    // A stored option saved as a diagram.
    let (_, saved) = json_with_status(
        app.post_as(&key, "/api/v1/diagrams", json!({"from_generation": {"generation_id": generation_id, "option_number": 3, "version_number": 1}})).await,
        201,
    )
    .await;
    assert_eq!(
        saved["bpmn_xml"],
        generation["options"][2]["versions"][0]["bpmn_xml"]
    );
    assert_eq!(
        saved["name"],
        "Map the customer support ticket triage process from intake to resolution"
    );
    let param = assert_error(
        app.post_as(&key, "/api/v1/diagrams", json!({"from_generation": {"generation_id": generation_id, "option_number": 4, "version_number": 1}})).await,
        404,
        "not_found_error",
        "resource_not_found",
    )
    .await;
    assert_eq!(param, "from_generation.option_number");
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_diagram_from_a_prompt_honours_wait_and_the_idempotency_key() {
    let env = Environment::new().await;
    let mut app = TestApp::spawn(&env, Options::without_worker()).await;
    let key = create_key(&app.state, "owner-a", ALL_SCOPES).await;
    let body = json!({"prompt": SEED_PROMPT, "name": "Triage"});
    let first = app
        .client
        .post(app.url("/api/v1/diagrams?wait=false"))
        .bearer_auth(&key)
        .header("Idempotency-Key", "diagram-1")
        .json(&body)
        .send()
        .await
        .expect("request");
    let (headers, pending) = json_with_status(first, 202).await;
    assert!(headers.contains_key("retry-after"));
    assert_eq!(pending["status"], "generating");
    assert_eq!(pending["latest_version"], Value::Null);
    // Not ready: no export yet.
    let body_of = assert_error(
        app.get_as(&key, &format!("/api/v1/diagrams/{}/export", id(&pending)))
            .await,
        409,
        "conflict_error",
        "diagram_not_ready",
    )
    .await;
    assert_eq!(body_of, Value::Null);
    let retry = app
        .client
        .post(app.url("/api/v1/diagrams?wait=false"))
        .bearer_auth(&key)
        .header("Idempotency-Key", "diagram-1")
        .json(&body)
        .send()
        .await
        .expect("request");
    let (headers, replayed) = json_with_status(retry, 202).await;
    assert_eq!(
        replayed["id"], pending["id"],
        "a retry answers the same diagram"
    );
    assert_eq!(headers["idempotent-replayed"], "true");
    let (_, list) = json_with_status(app.get_as(&key, "/api/v1/diagrams").await, 200).await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));

    // Once a worker runs it, the diagram has its version 1.
    app.start_worker(&env);
    app.poll_until_done(pending["generation_id"].as_str().expect("generation"))
        .await;
    let (_, ready) = json_with_status(
        app.get_as(&key, &format!("/api/v1/diagrams/{}", id(&pending)))
            .await,
        200,
    )
    .await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["latest_version"], 1);
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn every_operation_needs_its_scope() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let owner = create_key(&app.state, "owner-a", ALL_SCOPES).await;
    let home = folder(&app, &owner, json!({"name": "Home"})).await;
    let diagram = import(&app, &owner, "Tickets", FOREIGN, None).await;
    let d = id(&diagram);
    let f = id(&home);
    use reqwest::Method as M;
    let cases: Vec<(M, String, Option<Value>, &str, &str)> = vec![
        (
            M::GET,
            "/api/v1/diagrams".into(),
            None,
            "diagrams:write,folders:read",
            "diagrams:read",
        ),
        (
            M::GET,
            format!("/api/v1/diagrams/{d}"),
            None,
            "diagrams:write,folders:read",
            "diagrams:read",
        ),
        (
            M::GET,
            format!("/api/v1/diagrams/{d}/versions"),
            None,
            "diagrams:write,folders:read",
            "diagrams:read",
        ),
        (
            M::GET,
            format!("/api/v1/diagrams/{d}/export"),
            None,
            "diagrams:write,folders:read",
            "diagrams:read",
        ),
        (
            M::GET,
            format!("/api/v1/diagrams/{d}/image?format=png"),
            None,
            "diagrams:write,folders:read",
            "diagrams:read",
        ),
        (
            M::POST,
            "/api/v1/diagrams".into(),
            Some(json!({"name": "x", "bpmn_xml": FOREIGN})),
            "diagrams:read,generate",
            "diagrams:write",
        ),
        (
            M::PATCH,
            format!("/api/v1/diagrams/{d}"),
            Some(json!({"name": "y"})),
            "diagrams:read",
            "diagrams:write",
        ),
        (
            M::POST,
            format!("/api/v1/diagrams/{d}/versions"),
            Some(json!({"bpmn_xml": FOREIGN})),
            "diagrams:read",
            "diagrams:write",
        ),
        (
            M::POST,
            "/api/v1/diagrams".into(),
            Some(json!({"prompt": SEED_PROMPT})),
            "diagrams:write",
            "generate",
        ),
        (
            M::POST,
            format!("/api/v1/diagrams/{d}/refinements"),
            Some(json!({"prompt": "x"})),
            "diagrams:write",
            "generate",
        ),
        (
            M::DELETE,
            format!("/api/v1/diagrams/{d}"),
            None,
            "diagrams:read",
            "diagrams:write",
        ),
        (
            M::GET,
            "/api/v1/folders".into(),
            None,
            "folders:write",
            "folders:read",
        ),
        (
            M::GET,
            format!("/api/v1/folders/{f}"),
            None,
            "folders:write",
            "folders:read",
        ),
        (
            M::POST,
            "/api/v1/folders".into(),
            Some(json!({"name": "x"})),
            "folders:read",
            "folders:write",
        ),
        (
            M::PATCH,
            format!("/api/v1/folders/{f}"),
            Some(json!({"name": "x"})),
            "folders:read",
            "folders:write",
        ),
        (
            M::DELETE,
            format!("/api/v1/folders/{f}"),
            None,
            "folders:read",
            "folders:write",
        ),
    ];
    for (method, path, body, held, missing) in cases {
        let key = create_key(&app.state, "owner-a", held).await;
        let response = app.send(&key, method.clone(), &path, body).await;
        let (_, error) = json_with_status(response, 403).await;
        assert_eq!(
            error["error"]["code"], "insufficient_scope",
            "{method} {path}"
        );
        assert!(
            error["error"]["message"]
                .as_str()
                .expect("message")
                .contains(missing),
            "{method} {path}: {error}"
        );
    }
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn another_owner_or_the_other_mode_sees_nothing() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::default()).await;
    let test = create_key(&app.state, "owner-a", ALL_SCOPES).await;
    let live = create_live_key(&app.state, "owner-a", ALL_SCOPES).await;
    let stranger = create_key(&app.state, "owner-b", ALL_SCOPES).await;
    let home = folder(&app, &test, json!({"name": "Home"})).await;
    let diagram = import(&app, &test, "Tickets", FOREIGN, Some(&home)).await;
    let (_, generation) = json_with_status(
        app.post_generation_as(
            &test,
            &json!({"mode": "initial", "prompt": SEED_PROMPT}),
            "",
            None,
        )
        .await,
        200,
    )
    .await;

    for other in [&live, &stranger] {
        for path in [
            format!("/api/v1/diagrams/{}", id(&diagram)),
            format!("/api/v1/diagrams/{}/versions", id(&diagram)),
            format!("/api/v1/diagrams/{}/export", id(&diagram)),
            format!("/api/v1/diagrams/{}/image", id(&diagram)),
            format!("/api/v1/folders/{}", id(&home)),
            format!("/api/v1/process-maps/generations/{}", id(&generation)),
        ] {
            assert_error(
                app.get_as(other, &path).await,
                404,
                "not_found_error",
                "resource_not_found",
            )
            .await;
        }
        for path in [
            "/api/v1/diagrams",
            "/api/v1/folders",
            "/api/v1/process-maps/generations",
        ] {
            let (_, list) = json_with_status(app.get_as(other, path).await, 200).await;
            assert_eq!(list["data"], json!([]), "{path}");
        }
        assert_error(
            app.patch_as(
                other,
                &format!("/api/v1/diagrams/{}", id(&diagram)),
                json!({"name": "mine"}),
            )
            .await,
            404,
            "not_found_error",
            "resource_not_found",
        )
        .await;
        assert_error(
            app.delete_as(other, &format!("/api/v1/folders/{}", id(&home)))
                .await,
            404,
            "not_found_error",
            "resource_not_found",
        )
        .await;
        assert_error(
            app.delete_as(other, &format!("/api/v1/diagrams/{}", id(&diagram)))
                .await,
            404,
            "not_found_error",
            "resource_not_found",
        )
        .await;
        // Nor can it file its own diagram in the folder, or save the generation's option.
        let param = assert_error(
            app.post_as(
                other,
                "/api/v1/diagrams",
                json!({"name": "x", "bpmn_xml": FOREIGN, "folder_id": home["id"]}),
            )
            .await,
            404,
            "not_found_error",
            "resource_not_found",
        )
        .await;
        assert_eq!(param, "folder_id");
        assert_error(
            app.post_as(other, "/api/v1/diagrams", json!({"from_generation": {"generation_id": generation["id"], "option_number": 1, "version_number": 1}})).await,
            404,
            "not_found_error",
            "resource_not_found",
        )
        .await;
    }
    // The owner's own data is untouched.
    let (_, still) = json_with_status(
        app.get_as(&test, &format!("/api/v1/diagrams/{}", id(&diagram)))
            .await,
        200,
    )
    .await;
    assert_eq!(still["name"], "Tickets");
    app.stop().await;
    env.teardown().await;
}

/// The builtin modeler takes the roles and duties a folder's context names: its lanes are the
/// context's roles, and a step the prompt gives no actor goes to the role whose duty it is.
#[tokio::test]
async fn the_builtin_modeler_draws_the_lanes_its_folder_context_names() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::default()).await;
    let key = create_key(&app.state, "owner-a", ALL_SCOPES).await;
    let home = folder(&app, &key, json!({"name": "Support", "context": "Roles: support agent.\nThe team manager approves refunds."})).await;
    let prompt = "The agent logs the ticket. Then approve the refund. The agent closes the ticket.";
    let steered = json_with_status(
        app.post_as(
            &key,
            "/api/v1/diagrams",
            json!({"prompt": prompt, "folder_id": home["id"], "option_number": 3}),
        )
        .await,
        201,
    )
    .await
    .1;
    let unsteered = json_with_status(
        app.post_as(
            &key,
            "/api/v1/diagrams",
            json!({"prompt": prompt, "option_number": 3}),
        )
        .await,
        201,
    )
    .await
    .1;
    let lanes = |diagram: &Value| -> Vec<String> {
        let xml = diagram["bpmn_xml"].as_str().expect("xml");
        xml.split("<bpmn:lane ")
            .skip(1)
            .filter_map(|l| l.split("name=\"").nth(1))
            .filter_map(|l| l.split('"').next())
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        lanes(&steered),
        ["Support agent", "Team manager"],
        "{}",
        steered["bpmn_xml"]
    );
    assert_eq!(lanes(&unsteered), ["Agent"], "{}", unsteered["bpmn_xml"]);
    app.stop().await;
    env.teardown().await;
}

/// Two results for one diagram stored in the same batch become consecutive versions, in the
/// order their generations were made, in the transaction that stores the results.
#[tokio::test]
async fn results_for_one_diagram_in_one_batch_get_consecutive_versions() {
    use procmap_core::{
        db::generations::{self, Completion, NewGeneration},
        domain::{GenerationRequest, Prompt, RefinementSource, StoredVersion},
    };
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let record = create_key_record(&app.state, "owner-a", ALL_SCOPES, false).await;
    let diagram = import(&app, &record.key, "Tickets", FOREIGN, None).await;
    let diagram_id: uuid::Uuid = id(&diagram).parse().expect("uuid");
    let mut client = app.state.pool.get().await.expect("db");
    let request = GenerationRequest::Refinement {
        prompt: Prompt::parse("Add a review").expect("prompt"),
        source: RefinementSource::Diagram {
            diagram_id,
            version_number: Some(1),
        },
    };
    let owner = Owner::parse("owner-a").expect("owner");
    let mut ids = Vec::new();
    for _ in 0..2 {
        let id = uuid::Uuid::now_v7();
        generations::insert(
            &client,
            &NewGeneration {
                id,
                owner: &owner,
                api_key_id: record.id,
                request: &request,
                request_id: "test",
                livemode: false,
                diagram: Some((diagram_id, 1)),
                context: &[],
            },
        )
        .await
        .expect("insert");
        ids.push(id);
    }
    generations::claim_many(&client, &ids, std::time::Duration::from_secs(60))
        .await
        .expect("claim");
    let results: Vec<Vec<StoredVersion>> = (0..2)
        .map(|n| {
            vec![StoredVersion {
                option_number: 1,
                version_number: 1,
                bpmn_xml: format!("<result n=\"{n}\"/>"),
            }]
        })
        .collect();
    let tx = client.transaction().await.expect("tx");
    // Given in reverse: the numbering follows the generations' order, not the batch's.
    let completions: Vec<Completion> = ids
        .iter()
        .zip(&results)
        .rev()
        .map(|(id, versions)| Completion {
            id: *id,
            attempt: 1,
            for_diagram: true,
            versions,
            usage: None,
            warnings: &[],
        })
        .collect();
    generations::complete_many(&tx, &completions)
        .await
        .expect("complete");
    tx.commit().await.expect("commit");
    drop(client);

    let (_, versions) = json_with_status(
        app.get_as(
            &record.key,
            &format!("/api/v1/diagrams/{diagram_id}/versions"),
        )
        .await,
        200,
    )
    .await;
    let got: Vec<(i64, String, String)> = versions["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|v| {
            (
                v["version_number"].as_i64().expect("number"),
                v["bpmn_xml"]
                    .as_str()
                    .expect("xml")
                    .chars()
                    .take(20)
                    .collect(),
                v["generation_id"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(got[0], (3, "<result n=\"1\"/>".into(), ids[1].to_string()));
    assert_eq!(got[1], (2, "<result n=\"0\"/>".into(), ids[0].to_string()));
    assert_eq!(got[2].0, 1);
    app.stop().await;
    env.teardown().await;
}

#[tokio::test]
async fn a_version_is_drawn_as_svg_or_png_in_either_theme_and_cached_by_its_etag() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let key = create_key(&app.state, "owner-a", ALL_SCOPES).await;
    let diagram = import(&app, &key, "Tickets", FOREIGN, None).await;
    let d = id(&diagram);
    assert!(diagram["links"]["image"]
        .as_str()
        .expect("image link")
        .ends_with(&format!("/api/v1/diagrams/{d}/image")));

    // SVG by default: every shape of the source, in bpmn-js's light colours.
    let response = app
        .get_as(&key, &format!("/api/v1/diagrams/{d}/image"))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    assert_eq!(response.headers()["cache-control"], "private, no-cache");
    let etag = response.headers()["etag"]
        .to_str()
        .expect("etag")
        .to_owned();
    let svg = response.text().await.expect("svg");
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{svg}"
    );
    for drawn in FOREIGN.split("bpmnElement=\"").skip(2) {
        let element = drawn.split('"').next().expect("id");
        assert!(
            svg.contains(&format!("data-element-id=\"{element}\"")),
            "{element}"
        );
    }
    assert!(svg.contains("#22242a") && !svg.contains("#17191e"));

    // The same picture again: 304 with no body, nothing drawn.
    let again = app
        .client
        .get(app.url(&format!("/api/v1/diagrams/{d}/image")))
        .bearer_auth(&key)
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("request");
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.expect("body").is_empty());

    // Dark PNG of version 1: a real PNG, named apart from the light SVG, cacheable for good.
    let response = app
        .get_as(
            &key,
            &format!("/api/v1/diagrams/{d}/image?format=png&theme=dark&version=1"),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    assert_eq!(
        response.headers()["cache-control"],
        "private, max-age=31536000, immutable"
    );
    assert_ne!(response.headers()["etag"].to_str().expect("etag"), etag);
    let png = response.bytes().await.expect("png");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let dark_svg = app
        .get_as(&key, &format!("/api/v1/diagrams/{d}/image?theme=dark"))
        .await
        .text()
        .await
        .expect("svg");
    assert!(dark_svg.contains("#17191e") && !dark_svg.contains("#ffffff"));

    // Bad parameters name themselves and the values allowed.
    for (query, param, allowed) in [
        ("format=gif", "format", "`svg` or `png`"),
        ("theme=blue", "theme", "`light` or `dark`"),
        ("version=0", "version", "at least 1"),
    ] {
        let (_, body) = json_with_status(
            app.get_as(&key, &format!("/api/v1/diagrams/{d}/image?{query}"))
                .await,
            400,
        )
        .await;
        assert_eq!(body["error"]["code"], "invalid_parameter", "{body}");
        assert_eq!(body["error"]["param"], param, "{body}");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains(allowed), "{message}");
    }
    // A version that is not there, and a diagram that is not there.
    assert_error(
        app.get_as(&key, &format!("/api/v1/diagrams/{d}/image?version=7"))
            .await,
        404,
        "not_found_error",
        "resource_not_found",
    )
    .await;
    assert_error(
        app.get_as(
            &key,
            "/api/v1/diagrams/0190a9f2-0000-7000-8000-000000000000/image",
        )
        .await,
        404,
        "not_found_error",
        "resource_not_found",
    )
    .await;

    // A generation nobody has run yet has nothing to draw.
    let (_, queued) = json_with_status(
        app.post_generation_as(
            &key,
            &json!({"mode": "initial", "prompt": SEED_PROMPT}),
            "",
            None,
        )
        .await,
        202,
    )
    .await;
    assert_error(
        app.get_as(
            &key,
            &format!("/api/v1/process-maps/generations/{}/image", id(&queued)),
        )
        .await,
        409,
        "conflict_error",
        "generation_not_ready",
    )
    .await;

    // A diagram imported without a drawing is laid out, so it has a picture too.
    let laid_out = import(&app, &key, "No drawing", WITHOUT_DI, None).await;
    let svg = app
        .get_as(&key, &format!("/api/v1/diagrams/{}/image", id(&laid_out)))
        .await
        .text()
        .await
        .expect("svg");
    assert!(svg.contains("data-element-id=\"check\"") && svg.contains("Check order"));
}

#[tokio::test]
async fn each_option_of_a_generation_can_be_previewed_before_it_is_saved() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::default()).await;
    let key = create_key(&app.state, "owner-a", "generate").await;
    let stranger = create_key(&app.state, "owner-b", ALL_SCOPES).await;
    let (_, generation) = json_with_status(
        app.post_generation_as(
            &key,
            &json!({"mode": "initial", "prompt": SEED_PROMPT}),
            "?wait=true",
            None,
        )
        .await,
        200,
    )
    .await;
    let g = id(&generation);
    let mut etags = Vec::new();
    for option in 1..=3 {
        let response = app
            .get_as(
                &key,
                &format!("/api/v1/process-maps/generations/{g}/image?option={option}"),
            )
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "image/svg+xml");
        etags.push(
            response.headers()["etag"]
                .to_str()
                .expect("etag")
                .to_owned(),
        );
        let svg = response.text().await.expect("svg");
        let xml = generation["options"][option - 1]["versions"][0]["bpmn_xml"]
            .as_str()
            .expect("xml");
        for drawn in xml.split("bpmnElement=\"").skip(2) {
            let element = drawn.split('"').next().expect("id");
            assert!(
                svg.contains(&format!("data-element-id=\"{element}\"")),
                "option {option}: {element}"
            );
        }
    }
    etags.dedup();
    assert_eq!(etags.len(), 3, "each option is its own picture");

    let png = app
        .get_as(
            &key,
            &format!("/api/v1/process-maps/generations/{g}/image?option=2&version=1&format=png&theme=dark"),
        )
        .await;
    assert_eq!(png.status(), 200);
    assert_eq!(png.headers()["content-type"], "image/png");
    assert_eq!(&png.bytes().await.expect("png")[..4], b"\x89PNG");

    // An option or version that is not there names itself; another owner sees nothing.
    for (query, param) in [("option=4", "option"), ("option=1&version=3", "version")] {
        let param_found = assert_error(
            app.get_as(
                &key,
                &format!("/api/v1/process-maps/generations/{g}/image?{query}"),
            )
            .await,
            404,
            "not_found_error",
            "resource_not_found",
        )
        .await;
        assert_eq!(param_found, param);
    }
    assert_error(
        app.get_as(
            &stranger,
            &format!("/api/v1/process-maps/generations/{g}/image"),
        )
        .await,
        404,
        "not_found_error",
        "resource_not_found",
    )
    .await;
    // A key that may neither generate nor read diagrams may not look either.
    let folders_only = create_key(&app.state, "owner-a", "folders:read").await;
    assert_error(
        app.get_as(
            &folders_only,
            &format!("/api/v1/process-maps/generations/{g}/image"),
        )
        .await,
        403,
        "permission_error",
        "insufficient_scope",
    )
    .await;
}

#[tokio::test]
async fn the_test_console_is_served_from_the_binary_and_loads_nothing_from_elsewhere() {
    let env = Environment::new().await;
    let app = TestApp::spawn(&env, Options::without_worker()).await;
    let response = app
        .client
        .get(app.url("/console"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .expect("policy")
        .to_owned();
    assert!(policy.starts_with("default-src 'none'") && policy.contains("connect-src 'self'"));
    let page = response.text().await.expect("page");
    // Every address the page names is this server's own.
    for attribute in ["src=\"", "href=\""] {
        for rest in page.split(attribute).skip(1) {
            let address = rest.split('"').next().expect("address");
            assert!(address.starts_with("/console/"), "{address}");
        }
    }
    for (path, content_type) in [
        ("/console/app.js", "text/javascript; charset=utf-8"),
        ("/console/app.css", "text/css; charset=utf-8"),
        ("/console/icon.svg", "image/svg+xml"),
    ] {
        let response = app.client.get(app.url(path)).send().await.expect("request");
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], content_type, "{path}");
        let body = response.text().await.expect("body");
        assert!(
            !body.contains("http://") || path.ends_with(".svg"),
            "{path} loads from elsewhere"
        );
        assert!(!body.contains("https://"), "{path} loads from elsewhere");
    }
}
