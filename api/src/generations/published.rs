//! Publishing jobs and marking them published, both in batches.
//!
//! The jobs of the requests accepted at once are published under one window of confirms
//! ([`JobPublisher`]): the broker persists and confirms them together, where one publish per
//! request cost it a disk write and a confirm each.
//!
//! `published_at` tells the relay which queued generations it must not republish. Writing it
//! per request would cost the accept path a second commit, so confirmed ids are collected and
//! written by one statement per batch. A mark that never lands (the replica dies first, or the
//! database is away) costs only a duplicate job message: the relay republishes the generation
//! after `UNCONFIRMED_AFTER`, and a worker's claim of an already-claimed job does nothing.

use std::time::Duration;

use procmap_core::{
    batch::Batcher,
    broker::{OutgoingJob, PublishError, Publisher},
    db::{generations, Pool},
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Jobs published under one window of confirms at most.
const PUBLISH_WINDOW: usize = 256;

/// Publishes each request's job together with the others waiting.
pub type JobPublisher = Batcher<OutgoingJob, Result<(), PublishError>>;

/// Starts the task that publishes the jobs handed to it.
pub fn start_job_publisher(publisher: Publisher) -> JobPublisher {
    Batcher::start("publish", PUBLISH_WINDOW, move |jobs: Vec<OutgoingJob>| {
        let publisher = publisher.clone();
        async move { Ok(publisher.publish_jobs(&jobs).await?) }
    })
}

/// Ids marked by one statement at most.
const BATCH: usize = 1_000;
/// How long a batch waits for more ids after its first one.
const LINGER: Duration = Duration::from_millis(20);

/// The sending side, kept in the application state.
#[derive(Clone)]
pub struct PublishedMarks {
    confirmed: mpsc::UnboundedSender<Uuid>,
}

impl PublishedMarks {
    /// Starts the task that writes the marks; it writes what it holds and ends at `shutdown`.
    pub fn start(pool: Pool, shutdown: CancellationToken) -> (Self, tokio::task::JoinHandle<()>) {
        let (confirmed, receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(write_marks(pool, receiver, shutdown));
        (PublishedMarks { confirmed }, task)
    }

    /// Records that the broker confirmed generation `id`'s job.
    pub fn confirmed(&self, id: Uuid) {
        // Only fails once the writer has stopped at shutdown; the relay covers that case.
        let _ = self.confirmed.send(id);
    }
}

async fn write_marks(
    pool: Pool,
    mut receiver: mpsc::UnboundedReceiver<Uuid>,
    shutdown: CancellationToken,
) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let first = tokio::select! {
            id = receiver.recv() => id,
            () = shutdown.cancelled() => None,
        };
        let Some(first) = first else {
            // Write what arrived before the shutdown, then stop.
            while let Ok(id) = receiver.try_recv() {
                batch.push(id);
            }
            write(&pool, &mut batch).await;
            return;
        };
        batch.push(first);
        let until = tokio::time::Instant::now() + LINGER;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(until, receiver.recv()).await {
                Ok(Some(id)) => batch.push(id),
                Ok(None) | Err(_) => break,
            }
        }
        write(&pool, &mut batch).await;
    }
}

async fn write(pool: &Pool, batch: &mut Vec<Uuid>) {
    if batch.is_empty() {
        return;
    }
    let result = async {
        let client = pool.get().await?;
        generations::mark_many_published(&client, batch).await?;
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(
            count = batch.len(),
            error = format!("{e:#}"),
            "could not mark confirmed jobs published; the relay will publish them again"
        );
    }
    batch.clear();
}
