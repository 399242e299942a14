//! Consuming jobs: manual acks, bounded prefetch, and deliveries that say what they carry.

use futures_util::StreamExt;
use lapin::{
    message::Delivery,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions,
    },
    types::FieldTable,
    Channel, Connection,
};

use super::connection::{close_connection, Broker};
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

    /// Closes the session; what is still unacked is redelivered.
    pub async fn close(self, reason: &str) {
        drop((self.channel, self.consumer));
        close_connection(self.connection, reason).await;
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
