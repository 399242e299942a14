//! Waiting for a generation to finish, woken by status events rather than polling Postgres.

use std::time::Duration;

use anyhow::Context;
use procmap_core::{
    broker::Subscription,
    db::generations::{self, Generation},
};
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
    let subscription = state.events.subscribe(generation.id);
    let latest = reread(state, &generation).await?;
    wait_subscribed(state, latest, subscription, window).await
}

/// [`wait_for`] on a subscription taken before `generation` was read, or before its job was
/// published: no event since can have been missed, so the row need not be read again first.
/// A `wait=true` request subscribes before it accepts, which saves that read.
pub async fn wait_subscribed(
    state: &AppState,
    generation: Generation,
    mut subscription: Subscription,
    window: Duration,
) -> Result<Generation, ApiError> {
    let deadline = Instant::now() + window;
    let mut latest = generation;
    while !latest.status.is_terminal() {
        let woken = tokio::select! {
            woken = tokio::time::timeout_at(deadline, subscription.changed()) => woken.is_ok(),
            () = state.draining.cancelled() => false,
        };
        if !woken {
            break;
        }
        latest = reread(state, &latest).await?;
    }
    Ok(latest)
}

async fn reread(state: &AppState, generation: &Generation) -> Result<Generation, ApiError> {
    let client = state.db().await?;
    let latest = generations::get(&client, generation.id)
        .await
        .context("re-reading a waited-for generation")?
        .ok_or_else(|| anyhow::anyhow!("generation {} vanished while waited for", generation.id))?;
    Ok(latest)
}
