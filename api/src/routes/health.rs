//! `/healthz` (the process is alive), `/readyz` (its dependencies are reachable) and
//! `/metrics` (Prometheus text).

use std::time::Duration;

use axum::{extract::State, http::StatusCode, Json};
use serde_json::{json, Value};

use crate::state::AppState;

/// Liveness: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", operation_id = "healthz",
    responses((status = 200, description = "Alive.", body = Object, example = json!({"status": "ok"}))))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Prometheus metrics of this process, in the text exposition format. No key, like the probes:
/// expose the port to the scraper, not to the internet.
#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "metrics",
    responses((status = 200, description = "Prometheus text exposition format.", body = String, content_type = "text/plain")))]
pub async fn metrics() -> ([(axum::http::HeaderName, &'static str); 1], String) {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        procmap_core::metrics::render(),
    )
}

/// Readiness: Postgres and RabbitMQ are reachable, and the replica is not shutting down.
#[utoipa::path(get, path = "/readyz", tag = "operations", operation_id = "readyz",
    responses(
        (status = 200, description = "Ready.", body = Object,
            example = json!({"status": "ready", "checks": {"postgres": "ok", "rabbitmq": "ok"}})),
        (status = 503, description = "A dependency is unreachable, or the replica is shutting down (`status` `draining`).", body = Object,
            example = json!({"status": "unavailable", "checks": {"postgres": "ok", "rabbitmq": "unavailable"}})),
    ))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if state.draining.is_cancelled() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "draining"})),
        );
    }
    let timeout = Duration::from_secs(3);
    let postgres = tokio::time::timeout(timeout, async {
        let client = state.pool.get().await.ok()?;
        client.query_one("SELECT 1", &[]).await.ok()
    })
    .await
    .ok()
    .flatten()
    .is_some();
    let rabbitmq = tokio::time::timeout(timeout, state.publisher.is_reachable())
        .await
        .unwrap_or(false);
    let ready = postgres && rabbitmq;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    (
        status,
        Json(
            json!({"status": if ready { "ready" } else { "unavailable" }, "checks": {"postgres": word(postgres), "rabbitmq": word(rabbitmq)}}),
        ),
    )
}
