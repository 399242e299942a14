//! Prometheus metrics of both binaries: the names, what each means, and the process's one
//! recorder, rendered as Prometheus text on `/metrics`.
//!
//! Code records through the `metrics` crate's macros with the names below; the README lists
//! the same table. Durations are histograms in seconds, with buckets from 5 ms to 10 minutes,
//! so a generation of the builtin modeler and one of a slow model both land in a bucket.

use std::{sync::OnceLock, time::Duration};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

// The API.
/// Counter: HTTP requests answered, by `method`, `route` (the route's template) and `status`.
pub const HTTP_REQUESTS: &str = "procmap_http_requests_total";
/// Histogram: time to answer an HTTP request, by `method` and `route`.
pub const HTTP_DURATION: &str = "procmap_http_request_duration_seconds";
/// Counter: `/api/v1` requests answered 503 `overloaded` because the replica was at its
/// `PROCMAP_MAX_IN_FLIGHT`.
pub const REQUESTS_SHED: &str = "procmap_requests_shed_total";
/// Counter: generations accepted (a new row and job), by `mode` and `livemode`.
pub const GENERATIONS_ACCEPTED: &str = "procmap_generations_accepted_total";
/// Counter: accepted generations whose job the API did not publish, left for the relay, by
/// `reason` (`busy`: too many publishes under way; `failed`: the broker refused or was away;
/// `unconfirmed`: no confirm within the timeout).
pub const JOBS_LEFT_TO_RELAY: &str = "procmap_jobs_left_to_relay_total";
/// Counter: jobs the relay published again because their publish was lost.
pub const RELAY_REPUBLISHED: &str = "procmap_relay_republished_total";
/// Counter: jobs the relay took back because their worker's lease ran out.
pub const LEASE_TAKEBACKS: &str = "procmap_relay_lease_takebacks_total";
/// Counter: jobs the relay failed after their last attempt's lease ran out.
pub const ATTEMPTS_EXHAUSTED: &str = "procmap_relay_attempts_exhausted_total";
/// Gauge: messages waiting in the dead-letter queue, as the relay last saw it.
pub const DEAD_LETTERED: &str = "procmap_dead_lettered_messages";

// The worker.
/// Counter: generations a worker finished, by `mode`, `provider` and `outcome`
/// (`succeeded` or `failed`), and for a failure its error `code`.
pub const GENERATIONS_FINISHED: &str = "procmap_generations_finished_total";
/// Histogram: time from a generation's acceptance to a worker's claim, by `mode`.
pub const QUEUE_WAIT: &str = "procmap_job_queue_wait_seconds";
/// Histogram: time from a worker's claim to the stored outcome, by `mode`, `provider` and
/// `outcome`.
pub const RUN_TIME: &str = "procmap_job_run_seconds";
/// Gauge: jobs a worker is running now.
pub const JOBS_IN_FLIGHT: &str = "procmap_jobs_in_flight";
/// Counter: jobs a stopping worker gave back to the queue unfinished.
pub const JOBS_RELEASED: &str = "procmap_jobs_released_total";
/// Counter: jobs whose lease was taken back while their worker still ran them.
pub const LEASES_LOST: &str = "procmap_job_leases_lost_total";
/// Counter: database steps of a job tried again after Postgres failed, by `step`.
pub const DATABASE_RETRIES: &str = "procmap_job_database_retries_total";
/// Counter: jobs tried again later because the model server was unavailable.
pub const PROVIDER_RETRIES: &str = "procmap_job_provider_retries_total";
/// Histogram: requests one batched write carried, by `batch` (`claim`, `result`, `publish`).
pub const BATCH_SIZE: &str = "procmap_batch_size";
/// Counter: tokens a model spent, by `provider` and `kind` (`prompt` or `completion`).
pub const MODEL_TOKENS: &str = "procmap_model_tokens_total";
/// Counter: requests sent to a model server, retries included, by `provider`.
pub const MODEL_REQUESTS: &str = "procmap_model_requests_total";
/// Counter: rounds in which validation problems went back to the model, by `provider`.
pub const REPAIR_ROUNDS: &str = "procmap_model_repair_rounds_total";

/// Every metric with its help text, for `/metrics`' `# HELP` lines and the README.
pub const ALL: &[(&str, &str)] = &[
    (
        HTTP_REQUESTS,
        "HTTP requests answered, by method, route and status.",
    ),
    (
        HTTP_DURATION,
        "Time to answer an HTTP request, by method and route.",
    ),
    (
        REQUESTS_SHED,
        "API requests answered 503 overloaded: the replica was at PROCMAP_MAX_IN_FLIGHT.",
    ),
    (
        GENERATIONS_ACCEPTED,
        "Generations accepted, by mode and livemode.",
    ),
    (
        JOBS_LEFT_TO_RELAY,
        "Accepted generations whose job was not published at once, left for the relay, by reason.",
    ),
    (
        RELAY_REPUBLISHED,
        "Jobs the relay published again because their publish was lost.",
    ),
    (
        LEASE_TAKEBACKS,
        "Jobs the relay took back because their worker's lease ran out.",
    ),
    (
        ATTEMPTS_EXHAUSTED,
        "Jobs the relay failed after their last attempt's lease ran out.",
    ),
    (
        DEAD_LETTERED,
        "Messages waiting in the dead-letter queue, as the relay last saw it.",
    ),
    (
        GENERATIONS_FINISHED,
        "Generations a worker finished, by mode, provider, outcome and error code.",
    ),
    (
        QUEUE_WAIT,
        "Time from a generation's acceptance to a worker's claim, by mode.",
    ),
    (
        RUN_TIME,
        "Time from a worker's claim to the stored outcome, by mode, provider and outcome.",
    ),
    (JOBS_IN_FLIGHT, "Jobs this worker is running now."),
    (
        JOBS_RELEASED,
        "Jobs a stopping worker gave back to the queue unfinished.",
    ),
    (
        LEASES_LOST,
        "Jobs whose lease was taken back while their worker still ran them.",
    ),
    (
        DATABASE_RETRIES,
        "Database steps of a job tried again after Postgres failed, by step.",
    ),
    (
        PROVIDER_RETRIES,
        "Jobs tried again later because the model server was unavailable.",
    ),
    (
        BATCH_SIZE,
        "Requests one batched write carried, by batch (claim, result, publish).",
    ),
    (
        MODEL_TOKENS,
        "Tokens a model spent, by provider and kind (prompt or completion).",
    ),
    (
        MODEL_REQUESTS,
        "Requests sent to a model server, retries included, by provider.",
    ),
    (
        REPAIR_ROUNDS,
        "Rounds in which validation problems went back to the model, by provider.",
    ),
];

/// Histogram buckets for every `_seconds` metric.
const SECONDS_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0, 600.0,
];

/// Buckets for [`BATCH_SIZE`]: requests per batch.
const BATCH_BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// How often the recorder's upkeep runs.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the process's recorder, and starts its upkeep. Call it before anything records:
/// until then the `metrics` macros record into nothing.
///
/// The exporter keeps every sample a histogram records (about 8 bytes each) until its upkeep
/// folds them into the buckets, and installed this way it leaves the upkeep to its user: only
/// rendering `/metrics` ran it. Unscraped, an API kept a few samples per request (its duration,
/// the insert and publish batches) and a worker a few per job, for as long as it ran; the
/// side-by-side's million requests, with the worker's metrics port off, are one such case. A
/// thread of its own, so it runs whatever the runtime is doing, for the life of the process.
pub fn install() {
    static UPKEEP: OnceLock<()> = OnceLock::new();
    let handle = handle();
    UPKEEP.get_or_init(|| {
        let started = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
            });
        if let Err(e) = started {
            tracing::warn!(error = %e, "metrics upkeep not started; histograms grow until scraped");
        }
    });
}

/// The process's recorder, installed on first use, and the handle that renders it. Tests run an
/// API and a worker in one process, so both share it there; in production each binary has its
/// own.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = || {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)
                .and_then(|builder| {
                    builder.set_buckets_for_metric(Matcher::Full(BATCH_SIZE.into()), &BATCH_BUCKETS)
                })
        };
        let handle = match builder().and_then(PrometheusBuilder::install_recorder) {
            Ok(handle) => handle,
            Err(e) => {
                // Another recorder is installed (only possible when embedded): render ours,
                // which then stays empty, rather than stop the process.
                tracing::warn!(error = %e, "metrics recorder not installed; /metrics stays empty");
                PrometheusBuilder::new().build_recorder().handle()
            }
        };
        for (name, help) in ALL {
            metrics::describe_counter!(*name, *help);
        }
        handle
    })
}

/// The Prometheus text of every metric recorded so far.
pub fn render() -> String {
    handle().render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_lists_every_metric() {
        let readme = include_str!("../../../README.md");
        for (name, _) in ALL {
            assert!(
                readme.contains(&format!("| `{name}` |")),
                "README's metrics table lacks {name}"
            );
        }
    }
}
