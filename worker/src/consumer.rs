//! The worker's broker side: consume with manual acks and bounded prefetch, run jobs
//! concurrently, drain in-flight jobs on shutdown, and reconnect when the broker drops us.

use std::{sync::Arc, time::Duration};

use anyhow::Context;

use procmap_core::{
    broker::{self, Broker, JobDelivery, Publisher},
    db,
    domain::GenerationStatus,
    messages::{Job, StatusEvent},
};
use procmap_engine::Modeler;
use secrecy::ExposeSecret;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::config::WorkerConfig;
use crate::job::{self, JobContext, Outcome};

/// How long shutdown waits for in-flight jobs before leaving them to redelivery.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs until `shutdown` is cancelled, reconnecting to the broker after failures.
pub async fn run(config: WorkerConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    let infrastructure = &config.infrastructure;
    let broker = Broker::new(
        infrastructure.amqp_url.clone(),
        &infrastructure.queue_prefix,
        "procmap-worker",
    );
    let context = JobContext {
        pool: db::pool(
            infrastructure.database_url.expose_secret(),
            infrastructure.database_pool_size,
        )?,
        modeler: Modeler::from_config(&config.llm_provider)?,
        events: broker.publisher(),
        config: Arc::new(config),
    };
    broker::reconnecting(
        "the worker",
        &shutdown,
        || consume(&broker, &context, &shutdown),
        || {},
    )
    .await;
    Ok(())
}

/// One session with the broker: consume until shutdown or until the broker drops us, then let
/// running jobs finish and ack; whatever is still unacked is redelivered elsewhere.
async fn consume(
    broker: &Broker,
    context: &JobContext,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let concurrency = context.config.worker_concurrency;
    let mut consumer = broker
        .consume_jobs(concurrency)
        .await
        .context("starting to consume jobs")?;
    tracing::info!(queue = %broker.topology().jobs_queue, concurrency, "worker consuming");
    let mut in_flight = JoinSet::new();
    let result = loop {
        tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            delivery = consumer.next() => match delivery {
                Some(Ok(delivery)) => {
                    in_flight.spawn(handle(delivery, context.clone()));
                }
                Some(Err(e)) => break Err(anyhow::Error::new(e).context("receiving a job")),
                None => break Err(anyhow::anyhow!("the broker closed the consumer")),
            },
        }
    };
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while in_flight.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("shutdown drain timed out; unfinished jobs will be redelivered");
    }
    consumer.close("worker stopping").await;
    result
}

async fn handle(delivery: JobDelivery, context: JobContext) {
    let job = match delivery.job() {
        Ok(job) => job,
        Err(e) => {
            // A message no code version can read: dead-letter it rather than loop on it.
            tracing::error!(error = %e, "rejecting a job message that does not parse");
            let _ = delivery.dead_letter().await;
            return;
        }
    };
    let Job::Generate { generation_id } = job;
    // Every log line of the job carries its generation.
    let span = tracing::info_span!("job", %generation_id);
    run_job(delivery, context, generation_id)
        .instrument(span)
        .await;
}

async fn run_job(delivery: JobDelivery, context: JobContext, generation_id: Uuid) {
    let running = announce(&context.events, generation_id, GenerationStatus::Running);
    let outcome = job::process(&context, generation_id, async move || running.await).await;
    match outcome {
        Ok(outcome) => {
            // Ack only now: the result (or the failure) is committed.
            if let Err(e) = delivery.ack().await {
                tracing::warn!(error = %e, "ack failed; the job may be redelivered and skipped");
            }
            if let Some(status) = outcome.status() {
                announce(&context.events, generation_id, status).await;
            }
            if outcome == Outcome::Succeeded {
                tracing::info!("generation succeeded");
            }
        }
        Err(e) => {
            tracing::warn!(
                error = format!("{:#}", e.0),
                "job hit an infrastructure error; requeueing"
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = delivery.requeue().await;
        }
    }
}

/// Tells the API replicas that a generation changed status.
async fn announce(events: &Publisher, generation_id: Uuid, status: GenerationStatus) {
    if let Some(event) = StatusEvent::new(generation_id, status) {
        if let Err(e) = events.publish_event(&event).await {
            tracing::warn!(error = %e, "could not publish status event");
        }
    }
}
