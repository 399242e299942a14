//! Waiting for a generation to finish, woken by status events rather than polling Postgres.

use std::time::Duration;

use anyhow::Context;
use procmap_core::{
    broker::Subscription,
    db::generations::{self, Generation},
};
use tokio::time::Instant;
use uuid::Uuid;

use super::found::{with_versions, WithVersions};
use crate::{error::ApiError, state::AppState};

/// Waits until `generation` is terminal, `window` ends, or the replica begins to shut down,
/// and answers its latest state with its BPMN.
pub async fn wait_for(
    state: &AppState,
    generation: Generation,
    window: Duration,
) -> Result<WithVersions, ApiError> {
    if generation.status.is_terminal() || window.is_zero() {
        return with_versions(state, generation).await;
    }
    // Subscribe before re-reading, so an event between the read and the wait is not missed.
    let subscription = state.events.subscribe(generation.id);
    let latest = reread(state, generation.id).await?;
    wait_on(state, latest, subscription, window).await
}

/// [`wait_for`] on a subscription taken before `generation` was read, or before its job was
/// published: no event since can have been missed, so the row need not be read again first.
/// A `wait=true` request subscribes before it accepts, which saves that read.
pub async fn wait_subscribed(
    state: &AppState,
    generation: Generation,
    subscription: Subscription,
    window: Duration,
) -> Result<WithVersions, ApiError> {
    let latest = with_versions(state, generation).await?;
    wait_on(state, latest, subscription, window).await
}

/// Re-reads the generation each time its subscription says it changed, until it is terminal,
/// `window` ends, or the replica begins to shut down.
async fn wait_on(
    state: &AppState,
    generation: WithVersions,
    mut subscription: Subscription,
    window: Duration,
) -> Result<WithVersions, ApiError> {
    let deadline = Instant::now() + window;
    let mut latest = generation;
    while !latest.generation.status.is_terminal() {
        let woken = tokio::select! {
            woken = tokio::time::timeout_at(deadline, subscription.changed()) => woken.is_ok(),
            () = state.draining.cancelled() => false,
        };
        if !woken {
            break;
        }
        latest = reread(state, latest.generation.id).await?;
    }
    Ok(latest)
}

/// The generation as it is now, with its BPMN once it has succeeded: one round trip, so the
/// answer to a wait that ends in success costs no second read.
async fn reread(state: &AppState, id: Uuid) -> Result<WithVersions, ApiError> {
    let client = state.db().await?;
    let (generation, versions) = generations::get_with_versions(&client, id)
        .await
        .context("re-reading a waited-for generation")?
        .ok_or_else(|| anyhow::anyhow!("generation {id} vanished while waited for"))?;
    Ok(WithVersions {
        generation,
        versions,
    })
}
