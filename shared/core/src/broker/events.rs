//! Status events, as an API replica hears them, and the waiters they wake; and key
//! revocations, which age the replica's cached keys.
//!
//! Each replica binds its own exclusive queue to the events exchange, so every replica hears
//! every event that ends a generation (and every copilot step and key revocation), and any
//! replica can answer any `wait=true` request. An event only says "look again": the waiter
//! re-reads Postgres, which stays the truth.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use anyhow::Context;
use futures_util::StreamExt;
use lapin::{
    options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions},
    types::FieldTable,
    Channel,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    connection::{close_connection, reconnecting, Broker},
    topology::{KEY_REVOKED_ROUTING_KEY, TURN_PROGRESS_ROUTING_KEY},
};
use crate::{
    domain::GenerationStatus,
    messages::{StatusEvent, TurnProgress},
};

/// Waiters by generation, or by copilot answer (ids never collide: both are UUIDv7). A `watch` channel per waited-for generation: its value is bumped on
/// every event, so a waiter that subscribed before the event cannot miss it.
///
/// Also the replica's key epoch: bumped when a key is revoked anywhere, and whenever
/// revocations may have been missed (the listener was disconnected). A key cached in an
/// earlier epoch is looked up again.
#[derive(Clone, Default)]
pub struct EventHub {
    waiters: Arc<std::sync::Mutex<HashMap<Uuid, watch::Sender<u64>>>>,
    key_epoch: Arc<AtomicU64>,
}

/// A subscription to one generation's events; unsubscribes when dropped.
pub struct Subscription {
    hub: EventHub,
    id: Uuid,
    receiver: Option<watch::Receiver<u64>>,
}

impl Subscription {
    /// Resolves at the next event for this generation (or a resync of every waiter).
    pub async fn changed(&mut self) {
        match self.receiver.as_mut() {
            Some(rx) => {
                if rx.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending::<()>().await,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        drop(self.receiver.take());
        let mut waiters = self.hub.waiters.lock().unwrap_or_else(|p| p.into_inner());
        if waiters
            .get(&self.id)
            .is_some_and(|tx| tx.receiver_count() == 0)
        {
            waiters.remove(&self.id);
        }
    }
}

impl EventHub {
    pub fn subscribe(&self, id: Uuid) -> Subscription {
        let mut waiters = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        let receiver = waiters
            .entry(id)
            .or_insert_with(|| watch::channel(0).0)
            .subscribe();
        Subscription {
            hub: self.clone(),
            id,
            receiver: Some(receiver),
        }
    }

    pub fn notify(&self, id: Uuid) {
        let waiters = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = waiters.get(&id) {
            tx.send_modify(|n| *n += 1);
        }
    }

    /// Wakes every waiter to re-read its generation, after events may have been missed.
    pub fn notify_all(&self) {
        let waiters = self.waiters.lock().unwrap_or_else(|p| p.into_inner());
        for tx in waiters.values() {
            tx.send_modify(|n| *n += 1);
        }
    }

    /// The current key epoch; see [`EventHub`].
    pub fn key_epoch(&self) -> u64 {
        self.key_epoch.load(Ordering::Acquire)
    }

    /// Makes every cached key stale: one was revoked, or a revocation may have been missed.
    pub fn keys_changed(&self) {
        self.key_epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// How many generations are being waited for; for tests and metrics.
    pub fn waiting(&self) -> usize {
        self.waiters.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl Broker {
    /// Hears status events until `shutdown`, waking `hub`'s waiters, and reconnects after any
    /// broker failure. `ready` says whether it is consuming right now.
    pub async fn listen_for_events(
        &self,
        hub: EventHub,
        ready: watch::Sender<bool>,
        shutdown: CancellationToken,
    ) {
        reconnecting(
            "the status event listener",
            &shutdown,
            || self.hear_events(&hub, &ready, &shutdown),
            || {
                let _ = ready.send(false);
                // Events may have been missed while disconnected; let every waiter look again,
                // and look every cached key up again.
                hub.notify_all();
                hub.keys_changed();
            },
        )
        .await;
    }

    async fn hear_events(
        &self,
        hub: &EventHub,
        ready: &watch::Sender<bool>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        let opened = tokio::select! {
            opened = self.open() => opened,
            () = shutdown.cancelled() => return Ok(()),
        };
        let (connection, channel) = opened.context("connecting to hear status events")?;
        let heard = self.relay_events(&channel, hub, ready, shutdown).await;
        // Closed before the runtime stops (see `close_connection`).
        close_connection(connection, "the event listener stopped").await;
        heard
    }

    /// Declares this replica's event queue and wakes `hub` for each event until `shutdown` or
    /// until the broker drops the consumer.
    async fn relay_events(
        &self,
        channel: &Channel,
        hub: &EventHub,
        ready: &watch::Sender<bool>,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        // Server-named, exclusive and auto-deleted: this instance's private copy of the event stream,
        // gone when the instance goes. Events are hints, so a classic non-durable queue is right.
        let queue = channel
            .queue_declare(
                "",
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .context("declaring this replica's event queue")?;
        // Only the events that end a generation: a waiter waits for the end, and each other
        // event would only make it read the row again to find it still unfinished.
        for status in [
            GenerationStatus::Succeeded,
            GenerationStatus::Failed,
            GenerationStatus::Canceled,
        ] {
            channel
                .queue_bind(
                    queue.name().as_str(),
                    &self.topology.events_exchange,
                    &format!("generation.{status}"),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await
                .context("binding this replica's event queue")?;
        }
        channel
            .queue_bind(
                queue.name().as_str(),
                &self.topology.events_exchange,
                KEY_REVOKED_ROUTING_KEY,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .context("binding this replica's event queue to key revocations")?;
        channel
            .queue_bind(
                queue.name().as_str(),
                &self.topology.events_exchange,
                TURN_PROGRESS_ROUTING_KEY,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .context("binding this replica's event queue to copilot progress")?;
        // no_ack: a lost event costs at most a wait window, and acks would only add round trips.
        let mut consumer = channel
            .basic_consume(
                queue.name().as_str(),
                "procmap-api-events",
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .context("consuming status events")?;
        let _ = ready.send(true);
        // Anything that finished, or was revoked, while we were connecting is picked up by a
        // re-read.
        hub.notify_all();
        hub.keys_changed();
        loop {
            let next = tokio::select! {
                next = consumer.next() => next,
                () = shutdown.cancelled() => return Ok(()),
            };
            let Some(delivery) = next else {
                return Ok(());
            };
            let delivery = delivery.context("hearing a status event")?;
            if delivery.routing_key.as_str() == KEY_REVOKED_ROUTING_KEY {
                hub.keys_changed();
                continue;
            }
            if delivery.routing_key.as_str() == TURN_PROGRESS_ROUTING_KEY {
                match serde_json::from_slice::<TurnProgress>(&delivery.data) {
                    Ok(progress) => hub.notify(progress.message_id),
                    Err(e) => {
                        tracing::warn!(error = %e, "ignoring copilot progress that does not parse")
                    }
                }
                continue;
            }
            match serde_json::from_slice::<StatusEvent>(&delivery.data) {
                Ok(event) => hub.notify(event.generation_id()),
                Err(e) => tracing::warn!(error = %e, "ignoring a status event that does not parse"),
            }
        }
    }
}
