//! Stopping gracefully: one token, cancelled on SIGINT or SIGTERM, that every task watches.

use tokio_util::sync::CancellationToken;

/// A token cancelled when the process is asked to stop (Ctrl-C or SIGTERM).
pub fn on_signal() -> CancellationToken {
    let stop = CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(async move {
        signalled().await;
        tracing::info!("shutting down");
        token.cancel();
    });
    stop
}

/// Resolves at the first SIGINT or SIGTERM.
async fn signalled() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
