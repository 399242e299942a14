//! Consuming jobs: manual acks, bounded prefetch, and deliveries that say what they carry.

use futures_util::StreamExt;
use lapin::{
    message::Delivery,
    options::{
        BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions,
        BasicQosOptions, BasicRejectOptions,
    },
    types::FieldTable,
    Channel, Connection,
};

use super::connection::{close_connection, Broker, CLOSE_TIMEOUT};
use crate::messages::Job;

/// A session consuming the jobs queue; dropped or closed, its unacked jobs go back to the queue.
pub struct JobConsumer {
    connection: Connection,
    channel: Channel,
    consumer: lapin::Consumer,
}

impl Broker {
    /// Starts consuming jobs, holding at most `prefetch` unacked at a time.
    pub async fn consume_jobs(&self, prefetch: u16) -> lapin::Result<JobConsumer> {
        let (connection, channel) = self.open().await?;
        // Prefetch bounds how many unacked jobs this consumer holds, and so how many run at once.
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await?;
        let consumer = channel
            .basic_consume(
                &self.topology.jobs_queue,
                "",
                // Manual acks (no_ack false): a job is acked only after its result is committed.
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(JobConsumer {
            connection,
            channel,
            consumer,
        })
    }
}

impl JobConsumer {
    /// The next delivery; `None` when the broker closed the consumer.
    pub async fn next(&mut self) -> Option<lapin::Result<JobDelivery>> {
        let delivery = self.consumer.next().await?;
        Some(delivery.map(|delivery| JobDelivery { delivery }))
    }

    /// Asks the broker to deliver no more jobs. The jobs already delivered can still be acked
    /// or requeued; a worker that stops calls this before it drains, or the broker would send
    /// a new job for every one it acks, only to have it back at the close. Bounded by the close's
    /// own timeout, for a broker that no longer answers.
    pub async fn cancel(&self) {
        let tag = self.consumer.tag();
        let cancel = self
            .channel
            .basic_cancel(tag.as_str(), BasicCancelOptions::default());
        match tokio::time::timeout(CLOSE_TIMEOUT, cancel).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(error = %e, "could not cancel the consumer"),
            Err(_) => tracing::debug!("the broker did not confirm the consumer's cancel"),
        }
    }

    /// Closes the session; what is still unacked is redelivered.
    pub async fn close(self, reason: &str) {
        let JobConsumer {
            connection,
            channel,
            consumer,
        } = self;
        close_connection(connection, reason).await;
        // Only now: lapin closes a channel whose last handle is dropped while it is open, and
        // that close, sent while the connection's own was under way, failed and was logged as
        // a connection error.
        drop((channel, consumer));
    }
}

/// One delivered job message. Every delivery may be a duplicate; the database decides.
pub struct JobDelivery {
    delivery: Delivery,
}

impl JobDelivery {
    /// The job, or why no code version can read it.
    pub fn job(&self) -> Result<Job, serde_json::Error> {
        serde_json::from_slice(&self.delivery.data)
    }

    /// A text header of the message, such as the `traceparent` its publisher sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        let headers = self.delivery.properties.headers().as_ref()?;
        match headers.inner().get(name)? {
            lapin::types::AMQPValue::LongString(value) => {
                std::str::from_utf8(value.as_bytes()).ok()
            }
            _ => None,
        }
    }

    /// Done with: the result (or the failure) is committed.
    pub async fn ack(&self) -> lapin::Result<()> {
        self.delivery.ack(BasicAckOptions::default()).await
    }

    /// Back to the queue, for another try. Counts toward the queue's delivery limit.
    pub async fn requeue(&self) -> lapin::Result<()> {
        self.delivery
            .nack(BasicNackOptions {
                requeue: true,
                ..Default::default()
            })
            .await
    }

    /// To the dead-letter queue, without requeueing: a message no code version can run.
    pub async fn dead_letter(&self) -> lapin::Result<()> {
        self.delivery
            .reject(BasicRejectOptions { requeue: false })
            .await
    }
}
