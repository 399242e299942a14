//! Waiting for a generation to finish, woken by status events rather than polling Postgres.

use std::time::Duration;

use anyhow::Context;
use procmap_core::db::generations::{self, Generation};
use tokio::time::Instant;

use crate::{error::ApiError, state::AppState};

/// Waits until `generation` is terminal, `window` ends, or the replica begins to shut down,
/// and answers its latest state.
pub async fn wait_for(
    state: &AppState,
    generation: Generation,
    window: Duration,
) -> Result<Generation, ApiError> {
    if generation.status.is_terminal() || window.is_zero() {
        return Ok(generation);
    }
    // Subscribe before re-reading, so an event between the read and the wait is not missed.
    let mut subscription = state.events.subscribe(generation.id);
    let deadline = Instant::now() + window;
    loop {
        let client = state.db().await?;
        let latest = generations::get(&client, generation.id)
            .await
            .context("re-reading a waited-for generation")?
            .ok_or_else(|| {
                anyhow::anyhow!("generation {} vanished while waited for", generation.id)
            })?;
        drop(client);
        if latest.status.is_terminal() {
            return Ok(latest);
        }
        let woken = tokio::select! {
            woken = tokio::time::timeout_at(deadline, subscription.changed()) => woken.is_ok(),
            () = state.draining.cancelled() => false,
        };
        if !woken {
            return Ok(latest);
        }
    }
}
