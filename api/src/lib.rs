//! The procmap HTTP API.
//!
//! # Layout
//!
//! A request goes through [`routes`] (the router and one handler per operation, with its
//! request and response types), whose handlers take what they need through the typed
//! extractors of [`http`], call one function of a service ([`generations`], [`diagrams`],
//! [`folders`], [`copilot`]), and answer in the envelope of [`error`]. Storage and the broker are `procmap-core`'s.
//!
//! - [`config`]: the API's `PROCMAP_*` variables.
//! - [`state`]: what every handler shares, built once.
//! - [`openapi`]: the OpenAPI document, from the handlers' own types.
//! - [`keys`]: minting API keys, and the `keys` commands.
//! - [`cli`]: the `serve`, `migrate` and `keys` commands of `procmap-api`.

pub mod cli;
pub mod config;
pub mod copilot;
pub mod diagrams;
pub mod error;
pub mod folders;
pub mod generations;
pub mod http;
pub mod keys;
pub mod openapi;
pub mod routes;
pub mod state;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use procmap_core::{
    broker::{Broker, EventHub},
    db,
    relay::Relay,
};
use secrecy::ExposeSecret;
use tokio::{
    net::TcpListener,
    sync::{watch, Semaphore},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

pub use config::ApiConfig;
pub use state::{AppState, Shared};

use generations::{
    hand_back_idle, inserts::GenerationInserts, published::JobPublisher, quota_tokens::QuotaTokens,
};
use http::{connections::BoundedListener, key_cache::KeyCache, rate_tokens::RateTokens};

/// A built API: listening, with its background tasks running, not yet serving.
pub struct Application {
    listener: BoundedListener,
    state: AppState,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    events_ready: watch::Receiver<bool>,
}

impl Application {
    /// Binds `config.bind` (port 0 picks a free port) and starts the event listener and relay.
    pub async fn build(config: ApiConfig) -> anyhow::Result<Self> {
        procmap_core::metrics::install();
        let infrastructure = &config.infrastructure;
        let pool = db::pool(
            infrastructure.database_url.expose_secret(),
            infrastructure.database_pool_size,
        )?;
        // Budget statements are short, so half the connections serve them.
        let budget_pool = db::budget_pool(
            infrastructure.database_url.expose_secret(),
            (infrastructure.database_pool_size / 2).max(2),
        )?;
        let broker = Broker::new(
            infrastructure.amqp_url.clone(),
            &infrastructure.queue_prefix,
            "procmap-api",
        );
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("listening on {}", config.bind))?;
        let listener = BoundedListener::new(listener, config.max_connections);
        let publisher = broker.publisher();
        let events = EventHub::default();
        let shutdown = CancellationToken::new();
        let (jobs, marks_task) =
            JobPublisher::start(publisher.clone(), pool.clone(), shutdown.clone());
        let in_flight = Arc::new(Semaphore::new(config.max_in_flight));
        let state = AppState::new(Shared {
            inserts: GenerationInserts::start(pool.clone()),
            jobs,
            relay: Relay {
                pool: pool.clone(),
                publisher: publisher.clone(),
                max_attempts: config.max_attempts,
            },
            publisher,
            keys: KeyCache::new(events.clone(), config.key_cache_ttl),
            rate_tokens: RateTokens::new(config.rate_limit_window),
            quota_tokens: QuotaTokens::default(),
            events,
            config: Arc::new(config),
            pool,
            budget_pool,
            draining: CancellationToken::new(),
            renders: Arc::new(Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
            in_flight,
        });
        let (ready_tx, events_ready) = watch::channel(false);
        let events = state.events.clone();
        let listener_stop = shutdown.clone();
        let tasks = vec![
            tokio::spawn(async move {
                broker
                    .listen_for_events(events, ready_tx, listener_stop)
                    .await
            }),
            tokio::spawn(state.relay.clone().run(shutdown.clone())),
            marks_task,
            tokio::spawn(hand_back_idle(state.clone(), shutdown.clone())),
        ];
        Ok(Application {
            listener,
            state,
            shutdown,
            tasks,
            events_ready,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        axum::serve::Listener::local_addr(&self.listener)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Waits until the status event listener is consuming, so `wait=true` answers promptly.
    pub async fn events_ready(&mut self, within: Duration) -> bool {
        tokio::time::timeout(within, self.events_ready.wait_for(|r| *r))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Serves until `stop` is cancelled, then drains in-flight requests (answering waiting
    /// ones 202 at once) and stops background tasks.
    pub async fn run_until(self, stop: CancellationToken) -> anyhow::Result<()> {
        // Built once and shared. Served as a bare `Router`, axum would rebuild the whole route
        // tree for every connection (`Router::with_state` on a shared router clones it): about
        // 150 KB a connection, which made an overload's many connections the API's largest cost
        // in memory. `into_make_service` hands each connection a clone of one `Arc`.
        let router = routes::router(self.state.clone())
            .with_state(())
            .into_make_service();
        let draining = self.state.draining.clone();
        let result = axum::serve(self.listener, router)
            .with_graceful_shutdown(async move {
                stop.cancelled().await;
                tracing::info!("shutting down: answering waiting requests and draining");
                draining.cancel();
            })
            .await;
        // The last requests' jobs are published and marked before the background tasks stop.
        self.state.jobs.finish().await;
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        self.state.publisher.close().await;
        result.map_err(Into::into)
    }
}
