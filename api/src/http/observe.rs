//! One access-log line and the HTTP metrics for every request.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request},
    middleware::Next,
    response::Response,
};
use procmap_core::metrics::{HTTP_DURATION, HTTP_REQUESTS};

/// Records the request's route (its template, so ids do not multiply the series), status and
/// latency, and logs them at `info` inside the request's span, which carries its request id.
/// Probes and scrapes log at `debug`: they arrive every few seconds and say nothing new.
pub async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(request).await;
    let latency = started.elapsed();
    let status = response.status().as_u16();
    metrics::counter!(HTTP_REQUESTS, "method" => method.clone(), "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!(HTTP_DURATION, "method" => method.clone(), "route" => route.clone())
        .record(latency.as_secs_f64());
    let latency_ms = latency.as_secs_f64() * 1000.0;
    if matches!(route.as_str(), "/healthz" | "/readyz" | "/metrics") {
        tracing::debug!(%method, %route, status, latency_ms, "answered");
    } else {
        tracing::info!(%method, %route, status, latency_ms, "answered");
    }
    response
}
