//! The application state, built once and shared by every handler and background task.

use std::sync::Arc;

use anyhow::Context;
use procmap_core::{
    broker::{EventHub, Publisher},
    db::{Client, Pool},
    relay::Relay,
};

use tokio_util::sync::CancellationToken;

use crate::config::ApiConfig;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<ApiConfig>,
    pub pool: Pool,
    /// Publishes jobs with confirms, reconnecting when the broker comes back.
    pub publisher: Publisher,
    /// Wakes `wait=true` requests when a worker reports a status change.
    pub events: EventHub,
    /// Republishes lost jobs and takes back expired leases; one runs in every replica.
    pub relay: Relay,
    /// Cancelled when the replica begins to shut down: readiness answers 503 so the load
    /// balancer stops sending, and `wait=true` requests are answered 202 at once.
    pub draining: CancellationToken,
}

impl AppState {
    /// A connection from the pool.
    pub async fn db(&self) -> anyhow::Result<Client> {
        self.pool
            .get()
            .await
            .context("getting a database connection")
    }

    /// The absolute URL of a generation, for `links.self`.
    pub fn generation_url(&self, id: uuid::Uuid) -> String {
        format!(
            "{}/api/v1/process-maps/generations/{id}",
            self.config.public_base_url
        )
    }
}
