//! `/healthz` (the process is alive) and `/readyz` (its dependencies are reachable).

use std::time::Duration;

use axum::{extract::State, http::StatusCode, Json};
use serde_json::{json, Value};

use crate::state::AppState;

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let timeout = Duration::from_secs(3);
    let postgres = tokio::time::timeout(timeout, async {
        let client = state.pool.get().await.ok()?;
        client.query_one("SELECT 1", &[]).await.ok()
    })
    .await
    .ok()
    .flatten()
    .is_some();
    let rabbitmq = tokio::time::timeout(timeout, state.publisher.channel())
        .await
        .is_ok_and(|r| r.is_ok());
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
