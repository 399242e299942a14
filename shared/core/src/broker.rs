//! RabbitMQ: the topology procmap declares, and publishing jobs and status events.
//!
//! Jobs go to a durable quorum queue, persistent and publisher-confirmed, so an accepted job
//! survives a broker restart. Status events are fire-and-forget: a lost event only delays a
//! `wait=true` answer until its window ends, and Postgres still has the truth.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use lapin::{
    options::{
        BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, ExchangeDeleteOptions,
        QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
    },
    publisher_confirm::Confirmation,
    types::{AMQPValue, FieldTable},
    BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind,
};

use crate::messages::{Job, StatusEvent};

/// How many times RabbitMQ delivers one job before dead-lettering it as poison.
const JOB_DELIVERY_LIMIT: i32 = 5;

/// The names of everything procmap declares on the broker, all under one prefix.
#[derive(Debug, Clone)]
pub struct Topology {
    /// Durable quorum queue of jobs.
    pub jobs_queue: String,
    /// Where poison jobs go after `JOB_DELIVERY_LIMIT` deliveries.
    pub dead_letter_exchange: String,
    pub dead_letter_queue: String,
    /// Topic exchange of status events, routed by `generation.<status>`.
    pub events_exchange: String,
}

impl Topology {
    pub fn new(prefix: &str) -> Self {
        Topology {
            jobs_queue: format!("{prefix}.jobs"),
            dead_letter_exchange: format!("{prefix}.jobs.dlx"),
            dead_letter_queue: format!("{prefix}.jobs.dead"),
            events_exchange: format!("{prefix}.events"),
        }
    }
}

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
}

/// Connects, retrying with backoff for about half a minute, so a process started together with
/// its broker does not give up while the broker is still booting.
pub async fn connect(url: &str) -> lapin::Result<Connection> {
    let attempt = || Connection::connect(url, ConnectionProperties::default());
    attempt
        .retry(
            ExponentialBuilder::default()
                .with_max_delay(Duration::from_secs(5))
                .with_max_times(8)
                .with_jitter(),
        )
        .notify(|e, wait| tracing::warn!(error = %e, ?wait, "RabbitMQ not reachable yet; retrying"))
        .await
}

/// Opens a channel in publisher-confirm mode.
pub async fn confirm_channel(connection: &Connection) -> lapin::Result<Channel> {
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Ok(channel)
}

/// Declares the exchanges and queues. Idempotent, so every process runs it at start-up.
pub async fn declare(channel: &Channel, topology: &Topology) -> lapin::Result<()> {
    let durable_exchange = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    // Quorum queues must be durable; they replicate and survive broker restarts.
    let durable_queue = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };

    channel
        .exchange_declare(
            &topology.dead_letter_exchange,
            ExchangeKind::Fanout,
            durable_exchange,
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_declare(&topology.dead_letter_queue, durable_queue, quorum_args())
        .await?;
    channel
        .queue_bind(
            &topology.dead_letter_queue,
            &topology.dead_letter_exchange,
            "",
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;

    let mut job_args = quorum_args();
    // A job that keeps crashing its worker is dead-lettered instead of looping forever.
    job_args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongInt(JOB_DELIVERY_LIMIT),
    );
    job_args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(topology.dead_letter_exchange.clone().into()),
    );
    channel
        .queue_declare(&topology.jobs_queue, durable_queue, job_args)
        .await?;

    channel
        .exchange_declare(
            &topology.events_exchange,
            ExchangeKind::Topic,
            durable_exchange,
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

/// Deletes everything `declare` made. Tests use it to leave the broker as they found it.
pub async fn delete(channel: &Channel, topology: &Topology) -> lapin::Result<()> {
    for queue in [&topology.jobs_queue, &topology.dead_letter_queue] {
        channel
            .queue_delete(queue, QueueDeleteOptions::default())
            .await?;
    }
    for exchange in [&topology.events_exchange, &topology.dead_letter_exchange] {
        channel
            .exchange_delete(exchange, ExchangeDeleteOptions::default())
            .await?;
    }
    Ok(())
}

fn quorum_args() -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    args
}

/// Publishes a job and waits for the broker's confirm; only then is the job safe.
pub async fn publish_job(
    channel: &Channel,
    topology: &Topology,
    job: &Job,
) -> Result<(), PublishError> {
    let payload = serde_json::to_vec(job)?;
    let confirmation = channel
        .basic_publish(
            "",
            &topology.jobs_queue,
            // Mandatory: an unroutable job (queue deleted) comes back instead of vanishing.
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            &payload,
            BasicProperties::default()
                // 2 = persistent: written to disk before the confirm.
                .with_delivery_mode(2)
                .with_content_type("application/json".into()),
        )
        .await?
        .await?;
    match confirmation {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(_returned)) => Err(PublishError::Unroutable),
        Confirmation::Nack(_) => Err(PublishError::Nacked),
        // Only reachable on a channel without confirms, which we never open for jobs.
        Confirmation::NotRequested => Ok(()),
    }
}

/// Routing key of a status event; API instances bind `generation.*`.
pub fn event_routing_key(event: &StatusEvent) -> String {
    format!("generation.{}", event.status())
}

/// Publishes a status event. Transient: events only speed up answers, they carry no state.
pub async fn publish_event(
    channel: &Channel,
    topology: &Topology,
    event: &StatusEvent,
) -> Result<(), PublishError> {
    let payload = serde_json::to_vec(event)?;
    channel
        .basic_publish(
            &topology.events_exchange,
            &event_routing_key(event),
            BasicPublishOptions::default(),
            &payload,
            BasicProperties::default()
                .with_delivery_mode(1)
                .with_content_type("application/json".into()),
        )
        .await?
        .await?;
    Ok(())
}
