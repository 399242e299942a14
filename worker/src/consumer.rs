//! The worker's broker side: consume with manual acks, run at most the configured number of
//! jobs at once, drain on shutdown and release what did not finish, and reconnect when the
//! broker drops us.

use std::sync::Arc;

use anyhow::Context;

use procmap_core::{
    broker::{self, Broker, JobDelivery, Publisher},
    db::{
        self,
        job_rows::{self, JobTable},
    },
    domain::GenerationStatus,
    messages::{Job, StatusEvent},
};
use procmap_engine::Modeler;
use secrecy::ExposeSecret;
use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::Instrument;
use uuid::Uuid;

use crate::config::WorkerConfig;
use crate::http::{self, Consuming};
use crate::job::{self, JobContext, Outcome};

/// Runs until `shutdown` is cancelled, reconnecting to the broker after failures; then drains
/// the jobs in flight and releases what does not finish in time.
pub async fn run(config: WorkerConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    procmap_core::metrics::install();
    let infrastructure = &config.infrastructure;
    let broker = Broker::new(
        infrastructure.amqp_url.clone(),
        &infrastructure.queue_prefix,
        "procmap-worker",
    );
    let consuming = Consuming::default();
    if let Some(address) = config.http_bind {
        http::serve(address, consuming.clone(), shutdown.clone()).await?;
    }
    let worker = Worker {
        consuming,
        context: JobContext::new(
            db::pool(
                infrastructure.database_url.expose_secret(),
                infrastructure.database_pool_size,
            )?,
            Modeler::from_config(&config.llm_provider)?,
            broker.publisher(),
            Arc::new(config.clone()),
        ),
        // The worker's own bound on jobs at once. The broker's prefetch should keep to it, but
        // that is the broker's promise, and some versions break it under redelivery storms.
        slots: Arc::new(Semaphore::new(usize::from(config.worker_concurrency))),
        jobs: TaskTracker::new(),
        shutdown: shutdown.clone(),
        give_up: CancellationToken::new(),
    };
    broker::reconnecting("the worker", &shutdown, || worker.consume(&broker), || {}).await;
    // Stopped while the broker was away, jobs of the last session may still run; they are
    // drained and released all the same. After a drain in `consume`, nothing is left.
    worker.drain().await;
    worker.context.events.close().await;
    Ok(())
}

struct Worker {
    context: JobContext,
    /// Told to the readiness probe.
    consuming: Consuming,
    slots: Arc<Semaphore>,
    /// Every job running, whichever broker session delivered it: a job goes on while the
    /// worker reconnects, since its result is committed to Postgres, not to the broker.
    jobs: TaskTracker,
    /// Stop taking jobs: SIGTERM, or the end of a test.
    shutdown: CancellationToken,
    /// Stop waiting for the jobs in flight: the drain timeout has passed, so they are released.
    give_up: CancellationToken,
}

impl Worker {
    /// One session with the broker: consume until shutdown or until the broker drops us. At
    /// shutdown the jobs in flight are drained before the session closes, since their acks
    /// and requeues go through it.
    async fn consume(&self, broker: &Broker) -> anyhow::Result<()> {
        let config = &self.context.config;
        let mut consumer = broker
            .consume_jobs(config.worker_prefetch)
            .await
            .context("starting to consume jobs")?;
        self.consuming.set(true);
        tracing::info!(
            queue = %broker.topology().jobs_queue,
            concurrency = config.worker_concurrency,
            prefetch = config.worker_prefetch,
            "worker consuming"
        );
        let result = loop {
            // A free slot first, so a job is taken off the broker only when it can run.
            let slot = tokio::select! {
                () = self.shutdown.cancelled() => break Ok(()),
                slot = self.slots.clone().acquire_owned() => slot.context("the job slots closed")?,
            };
            let delivery = tokio::select! {
                () = self.shutdown.cancelled() => break Ok(()),
                delivery = consumer.next() => delivery,
            };
            match delivery {
                Some(Ok(delivery)) => {
                    let context = self.context.clone();
                    let give_up = self.give_up.clone();
                    self.jobs.spawn(async move {
                        let in_flight = metrics::gauge!(procmap_core::metrics::JOBS_IN_FLIGHT);
                        in_flight.increment(1);
                        handle(delivery, context, &give_up).await;
                        in_flight.decrement(1);
                        drop(slot);
                    });
                }
                Some(Err(e)) => break Err(anyhow::Error::new(e).context("receiving a job")),
                None => break Err(anyhow::anyhow!("the broker closed the consumer")),
            }
        };
        self.consuming.set(false);
        if self.shutdown.is_cancelled() {
            consumer.cancel().await;
            self.drain().await;
        }
        consumer.close("worker stopping").await;
        result
    }

    /// Waits up to the drain timeout for the jobs in flight, then tells the rest to release
    /// their jobs, and waits for that.
    async fn drain(&self) {
        self.jobs.close();
        let timeout = self.context.config.drain_timeout;
        if !self.jobs.is_empty() {
            tracing::info!(jobs = self.jobs.len(), ?timeout, "draining jobs in flight");
        }
        if tokio::time::timeout(timeout, self.jobs.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                jobs = self.jobs.len(),
                "drain timeout passed; releasing unfinished jobs to the queue"
            );
            self.give_up.cancel();
            // Releasing is one short database update each, itself bounded.
            self.jobs.wait().await;
        }
    }
}

async fn handle(delivery: JobDelivery, context: JobContext, give_up: &CancellationToken) {
    let job = match delivery.job() {
        Ok(job) => job,
        Err(e) => {
            // A message no code version can read: dead-letter it rather than loop on it.
            tracing::error!(error = %e, "rejecting a job message that does not parse");
            let _ = delivery.dead_letter().await;
            return;
        }
    };
    let generation_id = match job {
        Job::Generate { generation_id } => generation_id,
        Job::CopilotTurn { message_id } => {
            let span = tracing::info_span!("copilot_turn", %message_id);
            procmap_core::telemetry::continue_trace(&span, |name| delivery.header(name));
            return run_turn(delivery, context, message_id, give_up)
                .instrument(span)
                .await;
        }
    };
    // Every log line of the job carries its generation.
    let span = tracing::info_span!("job", %generation_id);
    // The job continues the trace of the request that accepted it.
    procmap_core::telemetry::continue_trace(&span, |name| delivery.header(name));
    run_job(delivery, context, generation_id, give_up)
        .instrument(span)
        .await;
}

async fn run_job(
    delivery: JobDelivery,
    context: JobContext,
    generation_id: Uuid,
    give_up: &CancellationToken,
) {
    let events = context.events.clone();
    let outcome = job::process(&context, generation_id, give_up, move || {
        announce(events, generation_id, GenerationStatus::Running);
    })
    .await;
    if outcome == Outcome::Released {
        // Back to the queue for another worker; the database already says `queued`.
        if let Err(e) = delivery.requeue().await {
            // The session is gone, and with it perhaps the message (redelivered while the
            // row said `running`, and skipped): let the relay publish it again soon.
            tracing::warn!(error = %e, "could not requeue a released job; leaving it to the relay");
            let unpublished = async {
                let client = context.pool.get().await?;
                anyhow::Ok(
                    job_rows::mark_unpublished(&client, JobTable::Generations, generation_id)
                        .await?,
                )
            };
            if let Err(e) = unpublished.await {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "could not mark the released job for the relay"
                );
            }
        }
        return;
    }
    // The result (or the failure) is committed: announce it first, since a client waits on the
    // event and nothing waits on the ack, then ack.
    if let Some(status) = outcome.status() {
        announce(context.events.clone(), generation_id, status);
    }
    if let Err(e) = delivery.ack().await {
        tracing::warn!(error = %e, "ack failed; the job may be redelivered and skipped");
    }
    if outcome == Outcome::Succeeded {
        tracing::info!("generation succeeded");
    }
}

async fn run_turn(
    delivery: JobDelivery,
    context: JobContext,
    message_id: Uuid,
    give_up: &CancellationToken,
) {
    let outcome = crate::turn::process(&context, message_id, give_up).await;
    let settled = if outcome == Outcome::Released {
        // Back to the queue for another worker; the row says `queued` again.
        delivery.requeue().await
    } else {
        // Ack only now: the answer (or the failure) is committed.
        delivery.ack().await
    };
    if let Err(e) = settled {
        tracing::warn!(error = %e, "could not settle the copilot turn's delivery; the relay covers it");
    }
}

/// Tells the API replicas that a generation changed status. The job does not wait for the
/// broker's confirm: an event is a hint that wakes waiters (who then read the database), so its
/// order and its loss do not matter, and the job's slot is free for the next job at once. The
/// publishes of many jobs share one channel and the broker confirms them together.
fn announce(events: Publisher, generation_id: Uuid, status: GenerationStatus) {
    let Some(event) = StatusEvent::new(generation_id, status) else {
        return;
    };
    tokio::spawn(
        async move {
            if let Err(e) = events.publish_event(&event).await {
                tracing::warn!(error = %e, "could not publish status event");
            }
        }
        .in_current_span(),
    );
}
