//! The router: every route, the request-id layers, and envelope-shaped fallbacks.
//!
//! - [`generations`]: `/api/v1/process-maps/generations`, behind the key check.
//! - [`diagrams`], [`images`] and [`folders`]: the diagram platform's `/api/v1/diagrams` and
//!   `/api/v1/folders`, behind the key check.
//! - [`health`]: the liveness and readiness probes.
//! - [`copilot`]: `/api/v1/copilot`, a diagram's copilot session, its streamed chat turns and
//!   their snapshots, and the model setting.
//! - [`console`]: the Test Console page, `/console`, and its script and style.
//! - `/api/v1/openapi.json`: the API's description, from [`crate::openapi`].

pub mod console;
pub mod copilot;
pub mod diagrams;
pub mod folders;
pub mod generations;
pub mod health;
pub mod images;

use axum::{
    body::Body,
    http::{HeaderName, Request},
    middleware,
    routing::{get, post},
    Router,
};
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnFailure, TraceLayer},
};

use crate::{error::ApiError, http, state::AppState};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Longest `X-Request-Id` kept from a client.
pub const MAX_REQUEST_ID_LEN: usize = 200;

pub fn router(state: AppState) -> Router {
    let generations = Router::new()
        .route(
            "/api/v1/process-maps/generations",
            get(generations::list).post(generations::create),
        )
        .route(
            "/api/v1/process-maps/generations/{id}",
            get(generations::retrieve).delete(generations::delete),
        )
        .route(
            "/api/v1/process-maps/generations/{id}/cancel",
            post(generations::cancel),
        )
        .route(
            "/api/v1/diagrams",
            get(diagrams::list).post(diagrams::create),
        )
        .route(
            "/api/v1/diagrams/{id}",
            get(diagrams::retrieve)
                .patch(diagrams::update)
                .delete(diagrams::delete),
        )
        .route(
            "/api/v1/diagrams/{id}/versions",
            get(diagrams::versions).post(diagrams::add_version),
        )
        .route("/api/v1/diagrams/{id}/export", get(diagrams::export))
        .route("/api/v1/diagrams/{id}/image", get(images::image))
        .route(
            "/api/v1/process-maps/generations/{id}/image",
            get(images::generation_image),
        )
        .route("/api/v1/diagrams/{id}/refinements", post(diagrams::refine))
        .route("/api/v1/folders", get(folders::list).post(folders::create))
        .route(
            "/api/v1/copilot/sessions",
            get(copilot::of_diagram).post(copilot::create),
        )
        .route(
            "/api/v1/copilot/sessions/{id}",
            get(copilot::retrieve).delete(copilot::delete),
        )
        .route("/api/v1/copilot/sessions/{id}/chat", post(copilot::chat))
        .route(
            "/api/v1/copilot/sessions/{id}/messages",
            get(copilot::messages),
        )
        .route(
            "/api/v1/copilot/sessions/{id}/messages/{mid}/snapshot",
            post(copilot::snapshot),
        )
        .route(
            "/api/v1/copilot/sessions/{id}/messages/{mid}/events",
            get(copilot::follow),
        )
        .route(
            "/api/v1/copilot/settings/model",
            get(copilot::model).put(copilot::set_model),
        )
        .route(
            "/api/v1/folders/{id}",
            get(folders::retrieve)
                .patch(folders::update)
                .delete(folders::delete),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            http::authenticate,
        ))
        // Outside authentication, so a request turned away costs no database work.
        .route_layer(middleware::from_fn_with_state(state.clone(), http::admit));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/api/v1/openapi.json", get(crate::openapi::openapi_json))
        .route("/console", get(console::page))
        .route("/console/app.js", get(console::script))
        .route("/console/app.css", get(console::style))
        .route("/console/icon.svg", get(console::icon))
        .merge(generations)
        .fallback(|| async { ApiError::not_found(None, "no such route") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state)
        // Inside the trace span, so the access-log line carries the request id.
        .layer(middleware::from_fn(http::observe::observe))
        .layer(
            TraceLayer::new_for_http()
                // A 5xx is logged where it arises, with its cause (an internal error at ERROR,
                // an outage at WARN); a shed request is counted, not logged, so an overload does
                // not also flood the log.
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG))
                .make_span_with(|request: &Request<_>| {
                let id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
                // Only method, path and request id: headers (and so API keys) are never logged.
                // A handler records the generation it works on, so every line of the request has it.
                let span = tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id, generation_id = tracing::field::Empty);
                // A caller that traces its own request makes ours part of its trace.
                procmap_core::telemetry::continue_trace(&span, |name| {
                    request.headers().get(name).and_then(|v| v.to_str().ok())
                });
                span
            }),
        )
        // Outermost: every answer, errors included, carries X-Request-Id; a client's own id is kept.
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(middleware::map_request(drop_unusable_request_id))
}

/// A client's `X-Request-Id` is kept when it is 1 to [`MAX_REQUEST_ID_LEN`] printable ASCII
/// characters. Any other is dropped before the layer that makes one up, so the request gets a
/// fresh id rather than an unbounded string in every log line and stored generation; the
/// answer's `X-Request-Id` says which id it got.
async fn drop_unusable_request_id(mut request: Request<Body>) -> Request<Body> {
    let usable = request.headers().get(&REQUEST_ID).is_none_or(|value| {
        let bytes = value.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= MAX_REQUEST_ID_LEN
            && bytes.iter().all(u8::is_ascii_graphic)
    });
    if !usable {
        request.headers_mut().remove(&REQUEST_ID);
    }
    request
}
