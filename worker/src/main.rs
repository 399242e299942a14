//! `procmap-worker`: consumes generation jobs until SIGINT or SIGTERM.

use std::process::ExitCode;

use procmap_core::{config::Config, telemetry};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("procmap-worker: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stop = CancellationToken::new();
    let signal_stop = stop.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down; draining in-flight jobs");
        signal_stop.cancel();
    });
    match procmap_worker::run(config, stop).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("procmap-worker: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
