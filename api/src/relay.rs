//! The relay: republishes jobs whose publish was lost and takes back jobs whose worker died.
//!
//! Every API instance runs one. `FOR UPDATE SKIP LOCKED` keeps instances from taking the same
//! rows at once, and a job published twice is harmless because workers claim conditionally.

use std::time::Duration;

use procmap_core::{
    db::generations,
    domain::GenerationStatus,
    messages::{Job, StatusEvent},
};
use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// How often the relay looks for lost work.
const INTERVAL: Duration = Duration::from_secs(5);
/// A job never confirmed after this long is republished.
const UNCONFIRMED_AFTER: Duration = Duration::from_secs(10);
/// A confirmed job still queued after this long is republished, in case the broker lost it.
const STALE_AFTER: Duration = Duration::from_secs(300);

pub async fn run(state: AppState, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
        if let Err(e) = pass(&state).await {
            tracing::warn!(error = %e, "relay pass failed; will retry");
        }
    }
}

/// One pass; public so tests can run it without waiting for the timer.
pub async fn pass(state: &AppState) -> anyhow::Result<usize> {
    let client = state.pool.get().await?;
    let (requeued, failed) =
        generations::reclaim_expired(&client, state.config.max_attempts).await?;
    if !requeued.is_empty() {
        tracing::warn!(
            count = requeued.len(),
            "took back jobs whose worker lease expired"
        );
    }
    for id in failed {
        if let Some(event) = StatusEvent::new(id, GenerationStatus::Failed) {
            let _ = state.publisher.publish_event(&event).await;
        }
    }
    let ids = generations::take_unpublished(&client, UNCONFIRMED_AFTER, STALE_AFTER, 100).await?;
    let mut published = 0;
    for id in ids {
        match state
            .publisher
            .publish_job(&Job::Generate { generation_id: id })
            .await
        {
            Ok(()) => published += 1,
            Err(e) => {
                // Leave it for the next pass rather than waiting out STALE_AFTER.
                generations::mark_unpublished(&client, id).await?;
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
