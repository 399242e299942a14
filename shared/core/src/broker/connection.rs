//! The one connection policy: every connection to RabbitMQ is opened by a [`Broker`], named
//! after the process that holds it, and every long-lived session runs inside [`reconnecting`].

use std::{future::Future, time::Duration};

use lapin::{options::ConfirmSelectOptions, Channel, Connection, ConnectionProperties};
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;

use super::topology::{self, Topology};

/// How long closing a connection may take in all: a broker that no longer answers must not
/// hold up a shutdown.
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Closes `connection` and waits until lapin's IO thread for it has ended, for at most
/// [`CLOSE_TIMEOUT`] in all.
///
/// lapin's IO runs on tokio's reactor (see [`Broker::connect`]), so a connection must be done
/// with it before the runtime stops, or its thread's next read or write fails with "A Tokio
/// 1.x context was found, but it is being shutdown", logged as an error for every channel.
/// `close` returns when the broker's Close-Ok arrives, while the IO thread still finishes its
/// last turn of the loop, which raced the runtime's stop on about a third of shutdowns.
/// `Connection::run` joins that thread; it runs on a plain thread of its own, because the
/// runtime waits for its blocking tasks when it stops, and this one may wait on a broker that
/// never answers.
pub(crate) async fn close_connection(connection: Connection, reason: &str) {
    let deadline = tokio::time::Instant::now() + CLOSE_TIMEOUT;
    let _ = tokio::time::timeout_at(deadline, connection.close(200, reason)).await;
    let (ended, io_ended) = tokio::sync::oneshot::channel();
    let joining = std::thread::Builder::new()
        .name("lapin-close".into())
        .spawn(move || {
            let _ = connection.run();
            let _ = ended.send(());
        });
    if joining.is_ok() {
        let _ = tokio::time::timeout_at(deadline, io_ended).await;
    }
}

/// Where the broker is, what procmap declares on it, and who is connecting.
#[derive(Debug, Clone)]
pub struct Broker {
    url: SecretString,
    pub(super) topology: Topology,
    /// Shown as the connection's name in the broker's management UI, so operators see which
    /// process holds which connection.
    process: &'static str,
}

impl Broker {
    pub fn new(url: SecretString, queue_prefix: &str, process: &'static str) -> Self {
        Broker {
            url,
            topology: Topology::new(queue_prefix),
            process,
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// One attempt at a connection. Callers that must keep trying use [`reconnecting`].
    pub async fn connect(&self) -> lapin::Result<Connection> {
        // lapin's TLS for `amqps://` builds its rustls config on the process-wide crypto
        // provider. With both ring and aws-lc-rs compiled in (reqwest brings the second),
        // rustls cannot choose one and panics, so ring, which the Postgres TLS uses too, is
        // made the default. Only the first call installs it.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // On tokio's executor and reactor: lapin's defaults run their own threads, so each
        // frame the broker sent woke the async-io thread, which woke lapin's io loop, which
        // woke the tokio task waiting for it; that was about a fifth of the API's CPU under
        // load, most of it switching threads.
        let properties = ConnectionProperties::default()
            .with_connection_name(self.process.into())
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio);
        Connection::connect(self.url.expose_secret(), properties).await
    }

    /// A connection and a channel on it, with the topology declared (it is idempotent, so
    /// every session declares it rather than trusting an earlier one).
    pub(super) async fn open(&self) -> lapin::Result<(Connection, Channel)> {
        let connection = self.connect().await?;
        let channel = connection.create_channel().await?;
        topology::declare(&channel, &self.topology).await?;
        Ok((connection, channel))
    }

    /// Like [`Broker::open`], with the channel in publisher-confirm mode.
    pub(super) async fn open_confirmed(&self) -> lapin::Result<(Connection, Channel)> {
        let (connection, channel) = self.open().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok((connection, channel))
    }

    /// Deletes everything procmap declared. Tests use it to leave the broker as they found it.
    pub async fn delete_topology(&self) -> lapin::Result<()> {
        let connection = self.connect().await?;
        let channel = connection.create_channel().await?;
        let deleted = topology::delete(&channel, &self.topology).await;
        close_connection(connection, "topology deleted").await;
        deleted
    }
}

/// Runs `session` again and again until `shutdown`: each session connects, works, and ends
/// when the broker drops it or when `shutdown` is cancelled (it must watch `shutdown` itself,
/// so that it can finish what it holds). The pause before the next attempt starts at 0.2 s
/// and doubles to 10 s; `after_drop` runs after each lost session, before the pause.
pub async fn reconnecting<F, Fut>(
    what: &str,
    shutdown: &CancellationToken,
    mut session: F,
    mut after_drop: impl FnMut(),
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut delay = Duration::from_millis(200);
    loop {
        let outcome = session().await;
        if shutdown.is_cancelled() {
            return;
        }
        match outcome {
            Ok(()) => tracing::warn!(?delay, "{what}: the broker ended the session; reconnecting"),
            Err(e) => tracing::warn!(
                error = format!("{e:#}"),
                ?delay,
                "{what} lost the broker; reconnecting"
            ),
        }
        after_drop();
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}
