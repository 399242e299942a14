//! The topology procmap declares on RabbitMQ, all under one prefix: the durable quorum queue of
//! jobs with its dead-letter queue, and the topic exchange of status events.

use lapin::{
    options::{
        ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
        QueueDeleteOptions,
    },
    types::{AMQPValue, FieldTable},
    Channel, ExchangeKind,
};

use crate::messages::StatusEvent;

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

/// Declares the exchanges and queues. Idempotent, so every process runs it at start-up.
pub(crate) async fn declare(channel: &Channel, topology: &Topology) -> lapin::Result<()> {
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
pub(crate) async fn delete(channel: &Channel, topology: &Topology) -> lapin::Result<()> {
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

/// Routing key of a key revocation on the events exchange; API instances bind it.
pub const KEY_REVOKED_ROUTING_KEY: &str = "key.revoked";

/// Routing key of a copilot answer's progress; API instances bind it.
pub const TURN_PROGRESS_ROUTING_KEY: &str = "copilot.turn";

/// Routing key of a status event, `generation.<status>`; API instances bind the terminal ones.
pub fn event_routing_key(event: &StatusEvent) -> String {
    format!("generation.{}", event.status())
}
