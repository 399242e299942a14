//! The application state, built once and shared by every handler and background task.

use std::sync::Arc;

use anyhow::Context;
use procmap_core::{
    broker::{EventHub, Publisher},
    db::{Client, Pool},
    relay::Relay,
};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::{
    config::ApiConfig,
    generations::{inserts::GenerationInserts, published::JobPublisher, quota_tokens::QuotaTokens},
    http::{key_cache::KeyCache, rate_tokens::RateTokens},
};

/// What every handler shares, behind one `Arc`: axum clones the state for each extractor and
/// middleware of every request, and a clone of this many fields (each an `Arc` or holding
/// several) cost the API about 2% of its CPU under load, where one `Arc` costs one increment.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub config: Arc<ApiConfig>,
    pub pool: Pool,
    /// Connections for the per-key rate-limit and quota counters, whose commits do not wait
    /// for the WAL flush (see `procmap_core::db::limits`).
    pub budget_pool: Pool,
    /// Authenticated keys, dropped when a key is revoked anywhere.
    pub keys: KeyCache,
    /// The rate-limit tokens this replica leased, per key.
    pub rate_tokens: RateTokens,
    /// The generation quota this replica reserved, per key.
    pub quota_tokens: QuotaTokens,
    /// Stores the generations of the requests accepted at once with one commit.
    pub inserts: GenerationInserts,
    /// Publishes jobs with confirms, reconnecting when the broker comes back.
    pub publisher: Publisher,
    /// Publishes accepted generations' jobs in the background, under shared windows of
    /// confirms, and marks the confirmed ones published.
    pub jobs: JobPublisher,
    /// Wakes `wait=true` requests when a worker reports a status change.
    pub events: EventHub,
    /// Republishes lost jobs and takes back expired leases; one runs in every replica.
    pub relay: Relay,
    /// Cancelled when the replica begins to shut down: readiness answers 503 so the load
    /// balancer stops sending, and `wait=true` requests are answered 202 at once.
    pub draining: CancellationToken,
    /// Pictures drawn at once: one per core, so a burst of image requests queues instead of
    /// taking every blocking thread and core from the rest of the API.
    pub renders: Arc<Semaphore>,
    /// One permit per `/api/v1` request being worked on ([`crate::http::admission`]).
    pub in_flight: Arc<Semaphore>,
}

impl Shared {
    /// A connection from the pool.
    pub async fn db(&self) -> anyhow::Result<Client> {
        self.pool
            .get()
            .await
            .context("getting a database connection")
    }

    /// A connection for the per-key budgets.
    pub async fn budgets(&self) -> anyhow::Result<Client> {
        self.budget_pool
            .get()
            .await
            .context("getting a database connection for the rate limit")
    }

    /// The absolute URL of a generation, for `links.self`.
    pub fn generation_url(&self, id: uuid::Uuid) -> String {
        format!(
            "{}/api/v1/process-maps/generations/{id}",
            self.config.public_base_url
        )
    }

    /// The absolute URL of a diagram.
    pub fn diagram_url(&self, id: uuid::Uuid) -> String {
        format!("{}/api/v1/diagrams/{id}", self.config.public_base_url)
    }

    /// The absolute URL of a copilot session.
    pub fn copilot_session_url(&self, id: uuid::Uuid) -> String {
        format!(
            "{}/api/v1/copilot/sessions/{id}",
            self.config.public_base_url
        )
    }

    /// The absolute URL of a folder.
    pub fn folder_url(&self, id: uuid::Uuid) -> String {
        format!("{}/api/v1/folders/{id}", self.config.public_base_url)
    }
}
