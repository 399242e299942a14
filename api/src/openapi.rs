//! The OpenAPI 3.1 document, generated from the handlers' annotations and the very types they
//! exchange, so it cannot drift from the code. Served unauthenticated at `/api/v1/openapi.json`.

use std::sync::LazyLock;

use axum::Json;
use utoipa::{
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    IntoResponses, Modify, OpenApi,
};

use crate::{
    error::ErrorEnvelope,
    routes::{
        generations, health,
        request::{CreateGeneration, InitialRequest, RefinementRequest},
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
        health::healthz,
        health::readyz,
        openapi_json,
    ),
    components(schemas(ErrorEnvelope, CreateGeneration, InitialRequest, RefinementRequest)),
    modifiers(&BearerAuth),
    tags(
        (name = "generations", description = "Generate and refine process maps."),
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

/// Error answers every authenticated operation can give.
#[derive(IntoResponses)]
pub enum CommonErrors {
    /// Malformed JSON, a missing or invalid parameter, an oversized body, or a bad cursor.
    #[response(status = 400)]
    BadRequest(ErrorEnvelope),
    /// No key, an unknown key, or a revoked or expired one. Carries `WWW-Authenticate: Bearer`.
    #[response(status = 401)]
    Unauthorized(ErrorEnvelope),
    /// The key lacks the scope the operation needs (`insufficient_scope`).
    #[response(status = 403)]
    Forbidden(ErrorEnvelope),
    /// No such generation for this key's owner (`resource_not_found`), or no such route.
    #[response(status = 404)]
    NotFound(ErrorEnvelope),
    /// Wrong method for this path (`method_not_allowed`).
    #[response(status = 405)]
    MethodNotAllowed(ErrorEnvelope),
    /// The key's rate limit or generation quota is used up; see `Retry-After`.
    #[response(status = 429, headers(("Retry-After" = u64, description = "Seconds until a retry can succeed.")))]
    TooManyRequests(ErrorEnvelope),
    /// An internal error; quote the `X-Request-Id` to support.
    #[response(status = 500)]
    Internal(ErrorEnvelope),
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
    use crate::routes::request;

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
            request::parse(&example["value"])
                .unwrap_or_else(|e| panic!("example {name} is refused: {e}"));
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
