//! The procmap HTTP API.
//!
//! # Layout
//!
//! - [`routes`]: the router, one file per resource with its request and response types.
//! - [`accept`]: accepting a generation (idempotency, the `queued` row, the confirmed publish).
//! - [`waiting`]: answering `wait=true` from status events.
//! - [`events`]: the per-instance status event listener and its waiters.
//! - [`publisher`]: the self-healing job publisher.
//! - [`relay`]: republishing lost jobs and taking back jobs whose worker died.
//! - [`auth`]: API key secrets and the authenticating extractor.
//! - [`keys`]: the `keys create` and `keys revoke` commands.
//! - [`body`] and [`error`]: the JSON body extractor and the one error type.

pub mod accept;
pub mod auth;
pub mod body;
pub mod error;
pub mod events;
pub mod keys;
pub mod openapi;
pub mod publisher;
pub mod relay;
pub mod routes;
pub mod state;
pub mod waiting;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use procmap_core::{broker::Topology, config::Config, db};
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};
use tokio_util::sync::CancellationToken;

pub use state::AppState;

/// A built API: listening, with its background tasks running, not yet serving.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    events_ready: watch::Receiver<bool>,
}

impl Application {
    /// Binds `config.bind` (port 0 picks a free port) and starts the event listener and relay.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let pool = db::pool(&config.database_url, config.database_pool_size)?;
        let topology = Topology::new(&config.queue_prefix);
        let listener = TcpListener::bind(config.bind).await?;
        let shutdown = CancellationToken::new();
        let state = AppState {
            publisher: publisher::Publisher::new(config.amqp_url.clone(), topology.clone()),
            events: events::EventHub::default(),
            config: Arc::new(config),
            pool,
            topology,
        };
        let (ready_tx, events_ready) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(events::listen(
                state.config.amqp_url.clone(),
                state.topology.clone(),
                state.events.clone(),
                ready_tx,
                shutdown.clone(),
            )),
            tokio::spawn(relay::run(state.clone(), shutdown.clone())),
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
        self.listener.local_addr()
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

    /// Serves until `stop` is cancelled, then drains in-flight requests and stops background tasks.
    pub async fn run_until(self, stop: CancellationToken) -> anyhow::Result<()> {
        let router = routes::router(self.state.clone());
        let result = axum::serve(self.listener, router)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        result.map_err(Into::into)
    }
}
