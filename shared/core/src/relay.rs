//! The relay: republishes jobs whose publish was lost, and takes back jobs whose worker died.
//!
//! It is part of a job's lifecycle, beside the claim and the lease, so it lives here; the API
//! process runs one per replica (see the README). `FOR UPDATE SKIP LOCKED` keeps replicas
//! from taking the same rows at once, and a job published twice is harmless because workers
//! claim conditionally.

use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::{
    broker::Publisher,
    db::{
        generations,
        job_rows::{self, JobTable},
        Pool,
    },
    domain::GenerationStatus,
    messages::{Job, StatusEvent, TurnProgress},
};

/// How often the relay looks for lost work.
const INTERVAL: Duration = Duration::from_secs(5);
/// A job never confirmed after this long is republished.
pub const UNCONFIRMED_AFTER: Duration = Duration::from_secs(10);
/// A confirmed job still queued after this long is republished, in case the broker lost it.
const STALE_AFTER: Duration = Duration::from_secs(300);

/// What `requeue_dead_letters` did with the messages it found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DeadLetters {
    /// Jobs whose generation is still queued: published again.
    pub requeued: usize,
    /// Jobs whose generation finished, was canceled or deleted, or is running: dropped.
    pub dropped: usize,
    /// Messages no code version can read: left in the dead-letter queue for a person.
    pub unreadable: usize,
}

/// Whether a pass takes back the jobs whose lease ran out.
enum Leases {
    TakeBackExpired,
    Keep,
}

#[derive(Clone)]
pub struct Relay {
    pub pool: Pool,
    pub publisher: Publisher,
    /// Attempts after which a job whose worker keeps dying is failed instead of taken back.
    pub max_attempts: i32,
}

impl Relay {
    /// Makes a pass every few seconds until `shutdown`.
    ///
    /// After a failed pass (the database was away) the next one takes no lease back: every
    /// lease ran out during the outage, yet most of their workers are alive and were only
    /// waiting for the database too. One pass of grace lets them renew or commit first, rather
    /// than having their jobs run again from the start.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut after_failure = false;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(INTERVAL) => {}
            }
            let leases = if after_failure {
                Leases::Keep
            } else {
                Leases::TakeBackExpired
            };
            match self.pass_with(leases).await {
                Ok(_) => after_failure = false,
                Err(e) => {
                    after_failure = true;
                    tracing::warn!(error = format!("{e:#}"), "relay pass failed; will retry");
                }
            }
        }
    }

    /// Reports what waits in the dead-letter queue: a gauge, and a warning while it is not
    /// empty, naming the command that puts the jobs back.
    async fn watch_dead_letters(&self) {
        match self.publisher.dead_lettered().await {
            Ok(count) => {
                metrics::gauge!(crate::metrics::DEAD_LETTERED).set(f64::from(count));
                if count > 0 {
                    tracing::warn!(
                        count,
                        "messages wait in the dead-letter queue; `procmap-api jobs requeue-dead` puts back those whose generation can still run"
                    );
                }
            }
            Err(e) => tracing::debug!(error = %e, "could not read the dead-letter queue"),
        }
    }

    /// Puts back what the dead-letter queue holds and can still run: each job whose
    /// generation is still `queued` is published again and its dead letter acked. A job whose
    /// generation is done, gone or running is dropped, since the database already has it; a
    /// message that does not parse stays where it is.
    pub async fn requeue_dead_letters(&self) -> anyhow::Result<DeadLetters> {
        let waiting = self
            .publisher
            .dead_lettered()
            .await
            .context("reading the dead-letter queue")?;
        let channel = self
            .publisher
            .channel()
            .await
            .context("opening a channel to the broker")?;
        let dead_letter_queue = &self.publisher.topology().dead_letter_queue;
        let client = self
            .pool
            .get()
            .await
            .context("getting a database connection")?;
        let mut report = DeadLetters::default();
        // At most what was there at the start, so unreadable messages put back are not met again.
        for _ in 0..waiting {
            let Some(message) = channel
                .basic_get(
                    dead_letter_queue,
                    lapin::options::BasicGetOptions::default(),
                )
                .await
                .context("taking a dead letter")?
            else {
                break;
            };
            let delivery = message.delivery;
            let Ok(job) = serde_json::from_slice::<Job>(&delivery.data) else {
                report.unreadable += 1;
                delivery
                    .nack(lapin::options::BasicNackOptions {
                        requeue: true,
                        ..Default::default()
                    })
                    .await
                    .context("leaving an unreadable dead letter")?;
                continue;
            };
            if self.still_queued(&client, &job).await? {
                self.publisher
                    .publish_job(&job)
                    .await
                    .context("publishing a dead-lettered job again")?;
                let (table, id) = row(&job);
                job_rows::mark_published(&client, table, id)
                    .await
                    .context("marking the job published")?;
                report.requeued += 1;
            } else {
                report.dropped += 1;
            }
            delivery
                .ack(lapin::options::BasicAckOptions::default())
                .await
                .context("acking a dead letter")?;
        }
        Ok(report)
    }

    /// Tells the API replicas that a job failed for good: its waiters, or its stream.
    async fn announce_failed(&self, job: &Job) {
        let _ = match *job {
            Job::Generate { generation_id } => {
                match StatusEvent::new(generation_id, GenerationStatus::Failed) {
                    Some(event) => self.publisher.publish_event(&event).await,
                    None => Ok(()),
                }
            }
            Job::CopilotTurn { message_id } => {
                self.publisher
                    .publish_turn_progress(&TurnProgress { message_id })
                    .await
            }
        };
    }

    /// Whether a job's row still waits for a worker.
    async fn still_queued(
        &self,
        client: &impl crate::db::GenericClient,
        job: &Job,
    ) -> anyhow::Result<bool> {
        Ok(match job {
            Job::Generate { generation_id } => generations::get(client, *generation_id)
                .await
                .context("reading a dead letter's generation")?
                .is_some_and(|g| g.status == GenerationStatus::Queued),
            Job::CopilotTurn { message_id } => client
                .query_opt(
                    "SELECT 1 FROM copilot_messages WHERE id = $1 AND status = 'queued'",
                    &[message_id],
                )
                .await
                .context("reading a dead letter's copilot answer")?
                .is_some(),
        })
    }

    /// One pass: takes back expired leases, then republishes what may be lost. Answers how
    /// many jobs it published.
    pub async fn pass(&self) -> anyhow::Result<usize> {
        self.pass_with(Leases::TakeBackExpired).await
    }

    async fn pass_with(&self, leases: Leases) -> anyhow::Result<usize> {
        let client = self
            .pool
            .get()
            .await
            .context("the relay could not get a database connection")?;
        let mut requeued = 0;
        let mut failed = Vec::new();
        let mut jobs = Vec::new();
        for table in JobTable::ALL {
            if matches!(leases, Leases::TakeBackExpired) {
                let (back, exhausted) =
                    job_rows::reclaim_expired(&client, table, self.max_attempts)
                        .await
                        .context("taking back expired leases")?;
                requeued += back.len();
                failed.extend(exhausted.into_iter().map(|id| job(table, id)));
            }
            let unpublished =
                job_rows::take_unpublished(&client, table, UNCONFIRMED_AFTER, STALE_AFTER, 100)
                    .await
                    .context("finding unpublished jobs")?;
            jobs.extend(unpublished.into_iter().map(|id| job(table, id)));
        }
        metrics::counter!(crate::metrics::LEASE_TAKEBACKS).increment(requeued as u64);
        metrics::counter!(crate::metrics::ATTEMPTS_EXHAUSTED).increment(failed.len() as u64);
        if requeued > 0 {
            tracing::warn!(
                count = requeued,
                "took back jobs whose worker lease expired"
            );
        }
        for job in failed {
            self.announce_failed(&job).await;
        }
        let mut published = 0;
        for (n, job) in jobs.iter().enumerate() {
            match self.publisher.publish_job(job).await {
                Ok(()) => published += 1,
                Err(e) => {
                    // The broker is away or blocked: give this one and the rest of the batch
                    // back for the next pass, rather than leaving them marked published until
                    // STALE_AFTER.
                    tracing::warn!(?job, error = %e, "relay could not publish; will retry");
                    for job in &jobs[n..] {
                        let (table, id) = row(job);
                        job_rows::mark_unpublished(&client, table, id)
                            .await
                            .context("giving an unpublished job back")?;
                    }
                    break;
                }
            }
        }
        metrics::counter!(crate::metrics::RELAY_REPUBLISHED).increment(published as u64);
        if published > 0 {
            tracing::info!(published, "relay republished queued jobs");
        }
        self.watch_dead_letters().await;
        Ok(published)
    }
}

/// The job message of a row.
fn job(table: JobTable, id: uuid::Uuid) -> Job {
    match table {
        JobTable::Generations => Job::Generate { generation_id: id },
        JobTable::CopilotMessages => Job::CopilotTurn { message_id: id },
    }
}

/// The row of a job message.
fn row(job: &Job) -> (JobTable, uuid::Uuid) {
    match *job {
        Job::Generate { generation_id } => (JobTable::Generations, generation_id),
        Job::CopilotTurn { message_id } => (JobTable::CopilotMessages, message_id),
    }
}
