//! The worker's small HTTP port: `/healthz` (the process is alive), `/readyz` (it is consuming
//! jobs and not shutting down) and `/metrics` (Prometheus text). Workers take no traffic, so
//! readiness only tells an operator, or an orchestrator, which workers are at work.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};

use anyhow::Context;
use axum::{extract::State, http::StatusCode, routing::get, Json, Router};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Whether the worker holds a live consumer on the jobs queue.
#[derive(Clone, Default)]
pub(crate) struct Consuming(Arc<AtomicBool>);

impl Consuming {
    pub(crate) fn set(&self, consuming: bool) {
        self.0.store(consuming, Ordering::Relaxed);
    }

    fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Clone)]
struct Probe {
    consuming: Consuming,
    shutdown: CancellationToken,
}

/// Binds `address` and serves the probes and metrics until `shutdown`. Answers the address
/// bound, which tells a test the port it asked the system to pick.
pub(crate) async fn serve(
    address: SocketAddr,
    consuming: Consuming,
    shutdown: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("listening on {address} for probes and metrics"))?;
    let bound = listener.local_addr()?;
    let router = Router::new()
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .route(
            "/metrics",
            get(|| async {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4",
                    )],
                    procmap_core::metrics::render(),
                )
            }),
        )
        .with_state(Probe {
            consuming,
            shutdown: shutdown.clone(),
        });
    tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "the probe and metrics port stopped");
        }
    });
    tracing::info!(address = %bound, "worker probes and metrics listening");
    Ok(bound)
}

async fn readyz(State(probe): State<Probe>) -> (StatusCode, Json<Value>) {
    if probe.shutdown.is_cancelled() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "draining"})),
        )
    } else if probe.consuming.get() {
        (StatusCode::OK, Json(json!({"status": "ready"})))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not consuming"})),
        )
    }
}
