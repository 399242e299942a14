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
    db::{generations, Pool},
    domain::GenerationStatus,
    messages::{Job, StatusEvent},
};

/// How often the relay looks for lost work.
const INTERVAL: Duration = Duration::from_secs(5);
/// A job never confirmed after this long is republished.
const UNCONFIRMED_AFTER: Duration = Duration::from_secs(10);
/// A confirmed job still queued after this long is republished, in case the broker lost it.
const STALE_AFTER: Duration = Duration::from_secs(300);

#[derive(Clone)]
pub struct Relay {
    pub pool: Pool,
    pub publisher: Publisher,
    /// Attempts after which a job whose worker keeps dying is failed instead of taken back.
    pub max_attempts: i32,
}

impl Relay {
    /// Makes a pass every few seconds until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(INTERVAL) => {}
            }
            if let Err(e) = self.pass().await {
                tracing::warn!(error = format!("{e:#}"), "relay pass failed; will retry");
            }
        }
    }

    /// One pass: takes back expired leases, then republishes what may be lost. Answers how
    /// many jobs it published.
    pub async fn pass(&self) -> anyhow::Result<usize> {
        let client = self
            .pool
            .get()
            .await
            .context("the relay could not get a database connection")?;
        let (requeued, failed) = generations::reclaim_expired(&client, self.max_attempts)
            .await
            .context("taking back expired leases")?;
        if !requeued.is_empty() {
            tracing::warn!(
                count = requeued.len(),
                "took back jobs whose worker lease expired"
            );
        }
        for id in failed {
            if let Some(event) = StatusEvent::new(id, GenerationStatus::Failed) {
                let _ = self.publisher.publish_event(&event).await;
            }
        }
        let ids = generations::take_unpublished(&client, UNCONFIRMED_AFTER, STALE_AFTER, 100)
            .await
            .context("finding unpublished jobs")?;
        let mut published = 0;
        for id in ids {
            match self
                .publisher
                .publish_job(&Job::Generate { generation_id: id })
                .await
            {
                Ok(()) => published += 1,
                Err(e) => {
                    // Leave it for the next pass rather than waiting out STALE_AFTER.
                    generations::mark_unpublished(&client, id)
                        .await
                        .context("giving an unpublished job back")?;
                    tracing::warn!(generation_id = %id, error = %e, "relay could not publish; will retry");
                    break;
                }
            }
        }
        if published > 0 {
            tracing::info!(published, "relay republished queued jobs");
        }
        Ok(published)
    }
}
