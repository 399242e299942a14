//! Publishing the jobs of accepted generations and marking them published, both in batches,
//! behind the requests that accepted them.
//!
//! A request answers `202` once its generation is committed; its job is published afterwards
//! ([`JobPublisher::publish`]). The answer never depended on the publish: a job the broker did
//! not confirm was already left to the relay. Waiting for the confirm only added the broker's
//! disk write to every request's latency. Postgres is the truth, so the guarantees stay:
//! - a job is still published with a confirm, and only a confirmed job is marked published;
//! - a job whose publish fails, times out, or never starts (the replica died, or too many
//!   publishes were under way) keeps `published_at` empty, and the relay publishes it after
//!   `UNCONFIRMED_AFTER`;
//! - a replica that stops waits for the publishes under way before it writes its last marks.
//!
//! The jobs waiting at once are published under one window of confirms: the broker persists and
//! confirms them together, where one publish per request cost it a disk write and a confirm each.
//!
//! `published_at` tells the relay which queued generations it must not republish. Writing it
//! per request would cost the accept path a second commit, so confirmed ids are collected and
//! written by one statement per batch. A mark that never lands (the replica dies first, or the
//! database is away) costs only a duplicate job message: the relay republishes the generation
//! after `UNCONFIRMED_AFTER`, and a worker's claim of an already-claimed job does nothing.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::{Duration, Instant},
};

use procmap_core::{
    batch::Batcher,
    broker::{OutgoingJob, PublishError, Publisher, CONFIRM_TIMEOUT},
    db::{generations, Pool},
    messages::Job,
};
use tokio::sync::mpsc;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::Instrument;
use uuid::Uuid;

/// Jobs published under one window of confirms at most.
const PUBLISH_WINDOW: usize = 256;

/// Publishes under way at most. Beyond it (a broker that stopped confirming, under load) a job
/// is left to the relay at once instead of holding memory for the whole confirm timeout.
const MAX_PUBLISHING: usize = 4_096;

/// Publishes the jobs of accepted generations in the background, and marks the confirmed ones.
#[derive(Clone)]
pub struct JobPublisher {
    batches: Batcher<OutgoingJob, Result<(), PublishError>>,
    marks: PublishedMarks,
    publishing: TaskTracker,
    left: Arc<LeftToRelay>,
}

impl JobPublisher {
    /// Starts the publishing and marking tasks. The marks are written until `shutdown`; call
    /// [`JobPublisher::finish`] before it, so the last confirms are marked too.
    pub fn start(
        publisher: Publisher,
        pool: Pool,
        shutdown: CancellationToken,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let batches = Batcher::start("publish", PUBLISH_WINDOW, move |jobs: Vec<OutgoingJob>| {
            let publisher = publisher.clone();
            async move { Ok(publisher.publish_jobs(&jobs).await?) }
        });
        let left = Arc::new(LeftToRelay::default());
        tokio::spawn(report_left(left.clone(), shutdown.clone()));
        let (marks, marks_task) = PublishedMarks::start(pool, shutdown);
        let publisher = JobPublisher {
            batches,
            marks,
            publishing: TaskTracker::new(),
            left,
        };
        (publisher, marks_task)
    }

    /// Publishes generation `id`'s job with a confirm, without holding up the request that
    /// committed it. The job carries the current span's trace.
    pub fn publish(&self, id: Uuid) {
        if self.publishing.len() >= MAX_PUBLISHING {
            self.left.record(LeftBecause::Busy, None);
            return;
        }
        let job = OutgoingJob::new(Job::Generate { generation_id: id });
        let (batches, marks, left) = (self.batches.clone(), self.marks.clone(), self.left.clone());
        let publish = async move {
            // Bounded here as well as in the batch: a job queued behind a batch the broker
            // holds gives up within one confirm timeout.
            match tokio::time::timeout(CONFIRM_TIMEOUT, batches.write(job)).await {
                Ok(Ok(Ok(()))) => marks.confirmed(id),
                Ok(Ok(Err(e))) => left.record(LeftBecause::Failed, Some(e.to_string())),
                Ok(Err(e)) => left.record(LeftBecause::Failed, Some(format!("{e:#}"))),
                Err(_) => left.record(LeftBecause::Unconfirmed, None),
            }
        };
        self.publishing.spawn(publish.in_current_span());
    }

    /// Waits for the publishes under way to be confirmed or to give up, so a replica that stops
    /// marks what it published. Later publishes are not waited for.
    pub async fn finish(&self) {
        self.publishing.close();
        let waited = Duration::from_secs(1) + CONFIRM_TIMEOUT;
        if tokio::time::timeout(waited, self.publishing.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "publishes still under way at shutdown; the relay will publish their jobs"
            );
        }
    }
}

/// Why a job was left for the relay to publish.
#[derive(Debug, Clone, Copy)]
enum LeftBecause {
    /// `MAX_PUBLISHING` publishes were under way.
    Busy,
    /// The broker refused the job, or could not be reached.
    Failed,
    /// No confirm came within `CONFIRM_TIMEOUT`.
    Unconfirmed,
}

impl LeftBecause {
    fn as_str(self) -> &'static str {
        match self {
            LeftBecause::Busy => "busy",
            LeftBecause::Failed => "failed",
            LeftBecause::Unconfirmed => "unconfirmed",
        }
    }
}

/// The jobs left for the relay: each counted in a metric, and logged together at most once per
/// `LOG_EVERY`: the first at once, the next in one line when `LOG_EVERY` has passed (by the
/// next one left, or by [`report_left`]). A broker that stops confirming under load leaves
/// every request's job, and a line for each would be thousands a second.
#[derive(Default)]
struct LeftToRelay {
    since_logged: AtomicU64,
    /// When the last line was logged; `None` before the first.
    logged_at: Mutex<Option<Instant>>,
}

/// How often at most the jobs left for the relay are logged.
const LOG_EVERY: Duration = Duration::from_secs(10);

impl LeftToRelay {
    fn record(&self, because: LeftBecause, error: Option<String>) {
        metrics::counter!(procmap_core::metrics::JOBS_LEFT_TO_RELAY, "reason" => because.as_str())
            .increment(1);
        self.since_logged.fetch_add(1, Ordering::Relaxed);
        self.log_if_due(Some(because), error);
    }

    /// Logs the jobs left since the last line, if there are any and `LOG_EVERY` has passed.
    fn log_if_due(&self, because: Option<LeftBecause>, error: Option<String>) {
        let mut logged_at = self
            .logged_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if logged_at.is_some_and(|at| at.elapsed() < LOG_EVERY) {
            return;
        }
        let jobs = self.since_logged.swap(0, Ordering::Relaxed);
        if jobs == 0 {
            return;
        }
        *logged_at = Some(Instant::now());
        tracing::warn!(
            jobs,
            reason = because.map(LeftBecause::as_str),
            error,
            "jobs not published at once; the relay publishes them after {} s (by reason in {}; \
             logged at most every {} s)",
            procmap_core::relay::UNCONFIRMED_AFTER.as_secs(),
            procmap_core::metrics::JOBS_LEFT_TO_RELAY,
            LOG_EVERY.as_secs(),
        );
    }
}

/// Logs the jobs left for the relay that no later one has logged: every `LOG_EVERY`, and once
/// more at `shutdown`.
async fn report_left(left: Arc<LeftToRelay>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(LOG_EVERY) => left.log_if_due(None, None),
            () = shutdown.cancelled() => break,
        }
    }
    *left
        .logged_at
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = None;
    left.log_if_due(None, None);
}

/// Ids marked by one statement at most.
const BATCH: usize = 1_000;
/// How long a batch waits for more ids after its first one.
const LINGER: Duration = Duration::from_millis(20);

/// The sending side of the task that writes the marks.
#[derive(Clone)]
struct PublishedMarks {
    confirmed: mpsc::UnboundedSender<Uuid>,
}

impl PublishedMarks {
    /// Starts the task that writes the marks; it writes what it holds and ends at `shutdown`.
    fn start(pool: Pool, shutdown: CancellationToken) -> (Self, tokio::task::JoinHandle<()>) {
        let (confirmed, receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(write_marks(pool, receiver, shutdown));
        (PublishedMarks { confirmed }, task)
    }

    /// Records that the broker confirmed generation `id`'s job.
    fn confirmed(&self, id: Uuid) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_job_left_is_logged_at_once_and_the_next_are_counted_for_a_later_line() {
        let left = LeftToRelay::default();
        left.record(LeftBecause::Busy, None);
        assert_eq!(left.since_logged.load(Ordering::Relaxed), 0, "logged");
        left.record(LeftBecause::Busy, None);
        left.record(LeftBecause::Failed, Some("connection reset".into()));
        assert_eq!(
            left.since_logged.load(Ordering::Relaxed),
            2,
            "held for the next line, within LOG_EVERY"
        );
        // Within LOG_EVERY, the periodic report holds them too.
        left.log_if_due(None, None);
        assert_eq!(left.since_logged.load(Ordering::Relaxed), 2, "held");
        // Once LOG_EVERY has passed, the next one logs all that were held.
        *left.logged_at.lock().expect("lock") = Instant::now().checked_sub(LOG_EVERY);
        left.record(LeftBecause::Unconfirmed, None);
        assert_eq!(left.since_logged.load(Ordering::Relaxed), 0, "logged");
    }

    #[tokio::test]
    async fn jobs_left_after_the_last_line_are_logged_at_shutdown() {
        let left = Arc::new(LeftToRelay::default());
        left.record(LeftBecause::Busy, None);
        left.record(LeftBecause::Busy, None);
        let shutdown = CancellationToken::new();
        let reporting = tokio::spawn(report_left(left.clone(), shutdown.clone()));
        shutdown.cancel();
        reporting.await.expect("report");
        assert_eq!(left.since_logged.load(Ordering::Relaxed), 0, "logged");
    }
}
