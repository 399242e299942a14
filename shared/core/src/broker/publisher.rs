//! A lazily connected, self-healing publisher of jobs and status events.
//!
//! A failed publish never loses a job: the row is already committed, and the relay republishes
//! it. So the publisher only needs to drop a broken connection and connect again on the next
//! use; it never waits for a broker that is down, so a request that publishes fails fast.
//! Nor does it wait long for one that is up but blocked by a memory or disk alarm, which takes
//! publishes and confirms nothing until the alarm clears.

use std::{sync::Arc, time::Duration};

use lapin::{
    options::BasicPublishOptions,
    publisher_confirm::{Confirmation, PublisherConfirm},
    types::{AMQPValue, FieldTable},
    BasicProperties, Channel, Connection,
};
use tokio::sync::Mutex;

use super::connection::{close_connection, Broker};
use super::topology::{event_routing_key, KEY_REVOKED_ROUTING_KEY, TURN_PROGRESS_ROUTING_KEY};
use crate::messages::{Job, KeyRevoked, StatusEvent, TurnProgress};

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("broker error: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker refused the message (nack)")]
    Nacked,
    #[error("the broker could not route the message to any queue")]
    Unroutable,
    #[error("message could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("the broker did not confirm within {} s (a resource alarm may block publishers)", CONFIRM_TIMEOUT.as_secs())]
    Unconfirmed,
}

/// How long a publish waits for the broker's confirm. What is published is safe in Postgres
/// already, so the caller goes on and the relay publishes it later.
pub const CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);

impl Broker {
    /// A publisher that connects on first use.
    pub fn publisher(&self) -> Publisher {
        Publisher::new(self.clone())
    }
}

#[derive(Clone)]
pub struct Publisher {
    broker: Broker,
    link: Arc<Mutex<Option<(Connection, Channel)>>>,
}

impl Publisher {
    fn new(broker: Broker) -> Self {
        Publisher {
            broker,
            link: Arc::new(Mutex::new(None)),
        }
    }

    /// A connected confirm channel, opening one (and declaring the topology) if needed.
    pub async fn channel(&self) -> lapin::Result<Channel> {
        let mut link = self.link.lock().await;
        if let Some((connection, channel)) = link.as_ref() {
            if connection.status().connected() && channel.status().connected() {
                return Ok(channel.clone());
            }
        }
        Self::close_in_background(link.take());
        let (connection, channel) = self.broker.open_confirmed().await?;
        *link = Some((connection, channel.clone()));
        Ok(channel)
    }

    /// Whether the broker can be reached now; for readiness probes.
    pub async fn is_reachable(&self) -> bool {
        self.channel().await.is_ok()
    }

    /// The names of what the publisher publishes to.
    pub fn topology(&self) -> &super::topology::Topology {
        &self.broker.topology
    }

    /// How many messages wait in the dead-letter queue.
    pub async fn dead_lettered(&self) -> lapin::Result<u32> {
        let channel = self.channel().await?;
        let queue = channel
            .queue_declare(
                &self.broker.topology.dead_letter_queue,
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await;
        if queue.is_err() {
            // A failed passive declare closes the channel; open a fresh one next time.
            self.forget().await;
        }
        Ok(queue?.message_count())
    }

    /// Closes the connection, if one is open; the next publish opens another. Called at
    /// shutdown, before the runtime stops (see `close_connection`).
    pub async fn close(&self) {
        // The channel is dropped after the close (see `JobConsumer::close`).
        if let Some((connection, _channel)) = self.link.lock().await.take() {
            close_connection(connection, "shutting down").await;
        }
    }

    async fn forget(&self) {
        Self::close_in_background(self.link.lock().await.take());
    }

    /// Closes a link that is being replaced. Its channel may be broken while its connection is
    /// not, and a connection merely dropped stays open, its IO thread running, until the
    /// process ends.
    fn close_in_background(link: Option<(Connection, Channel)>) {
        if let Some((connection, channel)) = link {
            if connection.status().connected() {
                tokio::spawn(async move {
                    close_connection(connection, "replaced").await;
                    drop(channel);
                });
            }
        }
    }

    /// Publishes a job and waits for the broker's confirm; only then is the job safe.
    pub async fn publish_job(&self, job: &Job) -> Result<(), PublishError> {
        let job = OutgoingJob::new(job.clone());
        let mut answers = self.publish_jobs(std::slice::from_ref(&job)).await?;
        answers.pop().unwrap_or(Err(PublishError::Unconfirmed))
    }

    /// Publishes jobs back to back on one channel, then waits for all their confirms: one
    /// window of confirms for many jobs, which the broker persists and confirms together, as
    /// its own limit is measured. Answers each job's confirm, in order; fails as a whole when
    /// no channel could be had or the confirms did not come within [`CONFIRM_TIMEOUT`].
    pub async fn publish_jobs(
        &self,
        jobs: &[OutgoingJob],
    ) -> Result<Vec<Result<(), PublishError>>, PublishError> {
        let queue = &self.broker.topology.jobs_queue;
        let answers = self
            .confirmed(async {
                let channel = self.channel().await?;
                let mut sent = Vec::with_capacity(jobs.len());
                for job in jobs {
                    sent.push(send_job(&channel, queue, job).await);
                }
                let mut answers = Vec::with_capacity(jobs.len());
                for confirm in sent {
                    answers.push(match confirm {
                        Ok(confirm) => confirmed_job(confirm.await),
                        Err(e) => Err(e),
                    });
                }
                Ok(answers)
            })
            .await?;
        if answers
            .iter()
            .any(|answer| matches!(answer, Err(PublishError::Broker(_))))
        {
            // The channel broke under this batch: the next one starts on a fresh connection.
            self.forget().await;
        }
        Ok(answers)
    }

    /// Publishes a status event. Transient: events only speed up answers, they carry no state.
    pub async fn publish_event(&self, event: &StatusEvent) -> Result<(), PublishError> {
        self.publish_hint(&event_routing_key(event), &serde_json::to_vec(event)?)
            .await
    }

    /// Tells the API replicas that a copilot answer has new steps, or finished.
    pub async fn publish_turn_progress(&self, progress: &TurnProgress) -> Result<(), PublishError> {
        self.publish_hint(TURN_PROGRESS_ROUTING_KEY, &serde_json::to_vec(progress)?)
            .await
    }

    /// Tells every API replica that a key was revoked, so they drop their cached keys.
    pub async fn publish_key_revoked(&self, revoked: &KeyRevoked) -> Result<(), PublishError> {
        self.publish_hint(KEY_REVOKED_ROUTING_KEY, &serde_json::to_vec(revoked)?)
            .await
    }

    /// Publishes a transient message on the events exchange and waits for its confirm.
    async fn publish_hint(&self, routing_key: &str, payload: &[u8]) -> Result<(), PublishError> {
        self.confirmed(async {
            let channel = self.channel().await?;
            let confirm = channel
                .basic_publish(
                    &self.broker.topology.events_exchange,
                    routing_key,
                    BasicPublishOptions::default(),
                    payload,
                    BasicProperties::default()
                        // 1 = transient: an event is a hint, not worth a disk write.
                        .with_delivery_mode(1)
                        .with_content_type("application/json".into())
                        .with_headers(trace_headers()),
                )
                .await?;
            confirm.await?;
            Ok(())
        })
        .await
    }

    /// Runs one publish within [`CONFIRM_TIMEOUT`]. After a broker error or a timeout the link
    /// is dropped, so the next publish starts on a fresh connection rather than behind a
    /// broken or blocked one.
    async fn confirmed<T>(
        &self,
        publish: impl std::future::Future<Output = Result<T, PublishError>>,
    ) -> Result<T, PublishError> {
        let result = tokio::time::timeout(CONFIRM_TIMEOUT, publish)
            .await
            .unwrap_or(Err(PublishError::Unconfirmed));
        if matches!(
            result,
            Err(PublishError::Broker(_) | PublishError::Unconfirmed)
        ) {
            self.forget().await;
        }
        result
    }
}

/// The current trace's W3C headers, so the consumer's spans join the publisher's trace.
fn trace_headers() -> FieldTable {
    let mut headers = FieldTable::default();
    for (name, value) in crate::telemetry::trace_headers() {
        headers.insert(name.into(), AMQPValue::LongString(value.into()));
    }
    headers
}

/// A job to publish, with the trace of the request that made it, so that a batch published
/// by another task still continues each request's trace.
pub struct OutgoingJob {
    job: Job,
    headers: FieldTable,
}

impl OutgoingJob {
    /// Takes the current span's trace context.
    pub fn new(job: Job) -> Self {
        OutgoingJob {
            job,
            headers: trace_headers(),
        }
    }
}

/// Sends one job; the answer is its confirm to wait for.
async fn send_job(
    channel: &Channel,
    queue: &str,
    job: &OutgoingJob,
) -> Result<PublisherConfirm, PublishError> {
    let payload = serde_json::to_vec(&job.job)?;
    Ok(channel
        .basic_publish(
            "",
            queue,
            // Mandatory: an unroutable job (queue deleted) comes back instead of vanishing.
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            &payload,
            BasicProperties::default()
                // 2 = persistent: written to disk before the confirm.
                .with_delivery_mode(2)
                .with_content_type("application/json".into())
                .with_headers(job.headers.clone()),
        )
        .await?)
}

fn confirmed_job(confirmation: lapin::Result<Confirmation>) -> Result<(), PublishError> {
    match confirmation? {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(_returned)) => Err(PublishError::Unroutable),
        Confirmation::Nack(_) => Err(PublishError::Nacked),
        // Only reachable on a channel without confirms, which the publisher never opens.
        Confirmation::NotRequested => Ok(()),
    }
}
