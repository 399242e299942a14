//! The worker's RabbitMQ side: consume with manual acks and bounded prefetch, run jobs
//! concurrently, and drain in-flight jobs on shutdown.

use std::{sync::Arc, time::Duration};

use futures_util::StreamExt;
use lapin::{
    message::Delivery,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions,
    },
    types::FieldTable,
    Channel,
};
use procmap_core::{
    broker::{self, Topology},
    config::Config,
    db,
    domain::GenerationStatus,
    messages::{Job, StatusEvent},
};
use procmap_engine::Modeler;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::job::{self, Outcome};

/// How long shutdown waits for in-flight jobs before leaving them to redelivery.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs until `shutdown` is cancelled, reconnecting to the broker after failures.
/// What every job needs, built once per worker process.
#[derive(Clone)]
struct JobContext {
    pool: db::Pool,
    config: Arc<Config>,
    /// The configured provider; test-mode generations use the builtin modeler regardless.
    modeler: Modeler,
    topology: Topology,
}

pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let context = JobContext {
        pool: db::pool(&config.database_url, config.database_pool_size)?,
        topology: Topology::new(&config.queue_prefix),
        modeler: Modeler::from_config(&config.llm_provider)?,
        config: Arc::new(config),
    };
    let mut delay = Duration::from_millis(200);
    loop {
        match consume(&context, &shutdown).await {
            Ok(()) => return Ok(()),
            Err(e) => tracing::warn!(error = %e, ?delay, "worker lost the broker; reconnecting"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

async fn consume(context: &JobContext, shutdown: &CancellationToken) -> anyhow::Result<()> {
    let (config, topology) = (&context.config, &context.topology);
    let connection = broker::connect(&config.amqp_url).await?;
    let channel = connection.create_channel().await?;
    broker::declare(&channel, topology).await?;
    // Prefetch bounds how many unacked jobs this worker holds, and so how many run at once.
    channel
        .basic_qos(config.worker_concurrency, BasicQosOptions::default())
        .await?;
    let events = connection.create_channel().await?;
    let mut consumer = channel
        .basic_consume(
            &topology.jobs_queue,
            "",
            // Manual acks (no_ack false): a job is acked only after its result is committed.
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!(queue = %topology.jobs_queue, concurrency = config.worker_concurrency, "worker consuming");

    let mut in_flight = JoinSet::new();
    let result = loop {
        tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            delivery = consumer.next() => match delivery {
                Some(Ok(delivery)) => {
                    in_flight.spawn(handle(delivery, context.clone(), events.clone()));
                }
                Some(Err(e)) => break Err(e.into()),
                None => break Err(anyhow::anyhow!("the broker closed the consumer")),
            },
        }
    };
    // Drain: let running jobs finish and ack; whatever is still unacked is redelivered elsewhere.
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while in_flight.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("shutdown drain timed out; unfinished jobs will be redelivered");
    }
    let _ = channel.close(200, "worker stopping").await;
    let _ = connection.close(200, "worker stopping").await;
    result
}

async fn handle(delivery: Delivery, context: JobContext, events: Channel) {
    let topology = context.topology.clone();
    let job: Job = match serde_json::from_slice(&delivery.data) {
        Ok(job) => job,
        Err(e) => {
            // A message no code version can read: dead-letter it rather than loop on it.
            tracing::error!(error = %e, "rejecting a job message that does not parse");
            let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
            return;
        }
    };
    let Job::Generate { generation_id } = job;
    let announce = |status: GenerationStatus| {
        let events = events.clone();
        let topology = topology.clone();
        async move {
            if let Some(event) = StatusEvent::new(generation_id, status) {
                if let Err(e) = broker::publish_event(&events, &topology, &event).await {
                    tracing::warn!(%generation_id, error = %e, "could not publish status event");
                }
            }
        }
    };
    let running = announce(GenerationStatus::Running);
    let outcome = job::process(
        &context.pool,
        &context.config,
        &context.modeler,
        generation_id,
        async move || running.await,
    )
    .await;
    match outcome {
        Ok(outcome) => {
            // Ack only now: the result (or the failure) is committed.
            if let Err(e) = delivery.ack(BasicAckOptions::default()).await {
                tracing::warn!(%generation_id, error = %e, "ack failed; the job may be redelivered and skipped");
            }
            if let Some(status) = outcome.status() {
                announce(status).await;
            }
            if outcome == Outcome::Succeeded {
                tracing::info!(%generation_id, "generation succeeded");
            }
        }
        Err(e) => {
            tracing::warn!(%generation_id, error = %e, "job hit an infrastructure error; requeueing");
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                })
                .await;
        }
    }
}
