//! The broker's own limit for what procmap's accept path needs: persistent messages published
//! to a durable quorum queue, each confirmed, with a window of confirms outstanding. Prints
//! confirmed publishes per second, the figure procmap's accept rate is compared with.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use futures_util::{stream::FuturesUnordered, StreamExt};
use lapin::{
    options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions},
    publisher_confirm::Confirmation,
    types::{AMQPValue, FieldTable},
    BasicProperties, Connection, ConnectionProperties,
};

#[derive(Parser)]
#[command(about = "Measures RabbitMQ's confirmed-publish rate to a quorum queue")]
struct Args {
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    amqp_url: String,
    /// How long to publish.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Publishes awaiting their confirm at once.
    #[arg(long, default_value_t = 256)]
    window: usize,
    /// Message size in bytes (a procmap job message is about 60).
    #[arg(long, default_value_t = 64)]
    size: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let connection = Connection::connect(&args.amqp_url, ConnectionProperties::default())
        .await
        .context("connecting to the broker")?;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let queue = format!("procmap_publish_limit_{}", std::process::id());
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    channel
        .queue_declare(
            &queue,
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            arguments,
        )
        .await
        .context("declaring the scratch queue")?;

    let payload = vec![b'x'; args.size];
    let length = Duration::from_secs(args.seconds);
    let started = Instant::now();
    let mut pending = FuturesUnordered::new();
    let (mut confirmed, mut refused) = (0u64, 0u64);
    while started.elapsed() < length || !pending.is_empty() {
        if started.elapsed() < length && pending.len() < args.window {
            let confirm = channel
                .basic_publish(
                    "",
                    &queue,
                    BasicPublishOptions::default(),
                    &payload,
                    // 2 = persistent, as procmap's jobs are.
                    BasicProperties::default().with_delivery_mode(2),
                )
                .await?;
            pending.push(confirm);
            continue;
        }
        match pending.next().await {
            Some(Ok(Confirmation::Ack(_))) => confirmed += 1,
            Some(Ok(_)) => refused += 1,
            Some(Err(e)) => return Err(e).context("waiting for a confirm"),
            None => {}
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    channel
        .queue_delete(&queue, QueueDeleteOptions::default())
        .await
        .context("deleting the scratch queue")?;
    let _ = connection.close(200, "done").await;
    println!(
        "confirmed publishes/s: {:.0} ({confirmed} confirmed, {refused} refused, window {}, {} bytes, {elapsed:.1} s)",
        confirmed as f64 / elapsed,
        args.window,
        args.size
    );
    Ok(())
}
