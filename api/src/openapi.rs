//! The OpenAPI 3.1 document, generated from the handlers' annotations and the very types they
//! exchange, so it cannot drift from the code. Served unauthenticated at `/api/v1/openapi.json`.

use std::sync::LazyLock;

use axum::Json;
use utoipa::{
    openapi::{
        header::HeaderBuilder,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
        KnownFormat, ObjectBuilder, RefOr, SchemaFormat, Type,
    },
    Modify, OpenApi,
};

use crate::{
    error::ErrorEnvelope,
    routes::{
        copilot,
        diagrams::{self, CreateDiagram},
        folders,
        generations::{self, CreateGeneration, InitialRequest, RefinementRequest},
        health, images,
    },
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "procmap API",
        description = "Turns a plain-language description of a business process into BPMN 2.0 XML. \
                       POST a prompt to get three BPMN options; refine any of them with follow-up prompts."
    ),
    paths(
        generations::create,
        generations::list,
        generations::retrieve,
        generations::delete,
        generations::cancel,
        diagrams::create,
        diagrams::list,
        diagrams::retrieve,
        diagrams::update,
        diagrams::delete,
        diagrams::add_version,
        diagrams::versions,
        diagrams::export,
        images::image,
        images::generation_image,
        copilot::create,
        copilot::of_diagram,
        copilot::retrieve,
        copilot::delete,
        copilot::model,
        copilot::set_model,
        copilot::chat,
        copilot::messages,
        copilot::snapshot,
        copilot::follow,
        diagrams::refine,
        folders::create,
        folders::list,
        folders::retrieve,
        folders::update,
        folders::delete,
        health::healthz,
        health::readyz,
        health::metrics,
        openapi_json,
    ),
    components(schemas(
        ErrorEnvelope,
        CreateGeneration,
        InitialRequest,
        RefinementRequest,
        CreateDiagram
    )),
    modifiers(&BearerAuth, &SharedHeaders),
    tags(
        (name = "generations", description = "Generate and refine process maps."),
        (name = "diagrams", description = "Diagrams with versions: import, generate, export, refine in place."),
        (name = "copilot", description = "A diagram's copilot session, its streamed chat turns and their snapshots, and the copilot's model (seed 002)."),
        (name = "folders", description = "Nestable folders whose context steers generation."),
        (name = "operations", description = "Probes and the API description."),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("pm_sk_live_… or pm_sk_test_…")
                    .build(),
            ),
        );
    }
}

/// The headers every successful answer of an authenticated operation carries, declared once
/// here rather than on each operation.
struct SharedHeaders;

impl Modify for SharedHeaders {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let headers = [
            (
                "X-Request-Id",
                Type::String,
                "Identifies this request; yours is kept if you send one.",
            ),
            (
                "RateLimit-Limit",
                Type::Integer,
                "Requests allowed per window for this key.",
            ),
            (
                "RateLimit-Remaining",
                Type::Integer,
                "Requests left in this window.",
            ),
            (
                "RateLimit-Reset",
                Type::Integer,
                "Seconds until the window resets.",
            ),
        ];
        for path in openapi.paths.paths.values_mut() {
            let operations = [
                &mut path.get,
                &mut path.put,
                &mut path.post,
                &mut path.delete,
                &mut path.patch,
            ];
            for operation in operations.into_iter().flatten() {
                if operation.security.is_none() {
                    continue;
                }
                for (status, response) in operation.responses.responses.iter_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    if !status.starts_with('2') {
                        continue;
                    }
                    for (name, kind, description) in &headers {
                        let schema = match kind {
                            // As utoipa documents a u32.
                            Type::Integer => ObjectBuilder::new()
                                .schema_type(Type::Integer)
                                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
                                .minimum(Some(0)),
                            _ => ObjectBuilder::new().schema_type(kind.clone()),
                        };
                        let header = HeaderBuilder::new()
                            .schema(schema)
                            .description(Some(*description))
                            .build();
                        response.headers.insert((*name).to_owned(), header);
                    }
                }
            }
        }
    }
}

static DOCUMENT: LazyLock<serde_json::Value> =
    LazyLock::new(|| serde_json::to_value(ApiDoc::openapi()).unwrap_or(serde_json::Value::Null));

/// `GET /api/v1/openapi.json`
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "operations",
    operation_id = "getOpenApi",
    responses((status = 200, description = "This document.", content_type = "application/json", body = Object))
)]
pub async fn openapi_json() -> Json<serde_json::Value> {
    Json(DOCUMENT.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::generations::parse;

    #[test]
    fn the_document_is_openapi_3_1_and_covers_every_operation() {
        let doc = &*DOCUMENT;
        assert!(
            doc["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.1")),
            "{}",
            doc["openapi"]
        );
        let paths = doc["paths"].as_object().expect("paths");
        for (path, method) in [
            ("/api/v1/process-maps/generations", "post"),
            ("/api/v1/process-maps/generations", "get"),
            ("/api/v1/process-maps/generations/{id}", "get"),
            ("/api/v1/process-maps/generations/{id}", "delete"),
            ("/api/v1/process-maps/generations/{id}/cancel", "post"),
            ("/healthz", "get"),
            ("/readyz", "get"),
            ("/metrics", "get"),
            ("/api/v1/openapi.json", "get"),
        ] {
            assert!(
                paths.get(path).and_then(|p| p.get(method)).is_some(),
                "{method} {path} is not documented"
            );
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }

    #[test]
    fn the_documented_request_examples_are_accepted_by_the_parser() {
        let examples = &DOCUMENT["paths"]["/api/v1/process-maps/generations"]["post"]
            ["requestBody"]["content"]["application/json"]["examples"];
        let examples = examples.as_object().expect("examples");
        assert_eq!(examples.len(), 2);
        for (name, example) in examples {
            parse(&example["value"]).unwrap_or_else(|e| panic!("example {name} is refused: {e}"));
        }
    }

    #[test]
    fn the_documented_languages_are_the_accepted_ones() {
        let schemas = &DOCUMENT["components"]["schemas"];
        let shapes = schemas["CreateGeneration"]["oneOf"]
            .as_array()
            .map(Vec::len);
        assert_eq!(shapes, Some(2), "one request shape per mode");
        for variant in ["InitialRequest", "RefinementRequest"] {
            assert_eq!(
                schemas[variant]["additionalProperties"], false,
                "{variant} refuses unknown fields"
            );
            let languages = schemas[variant]["properties"]["language"]["enum"]
                .as_array()
                .expect("enum");
            let documented: Vec<&str> = languages.iter().filter_map(|v| v.as_str()).collect();
            assert_eq!(documented, procmap_core::domain::LANGUAGES);
            assert!(
                languages.contains(&serde_json::Value::Null),
                "null means the default"
            );
        }
    }
}
