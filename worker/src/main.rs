//! `procmap-worker`: consumes generation jobs until SIGINT or SIGTERM.

use std::process::ExitCode;

use procmap_core::{shutdown, telemetry};
use procmap_worker::WorkerConfig;

#[tokio::main]
async fn main() -> ExitCode {
    if let Err(e) = telemetry::init() {
        eprintln!("procmap-worker: {e}");
        return ExitCode::FAILURE;
    }
    let config = match WorkerConfig::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("procmap-worker: {e}");
            return ExitCode::FAILURE;
        }
    };
    match procmap_worker::run(config, shutdown::on_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("procmap-worker: {e:#}");
            ExitCode::FAILURE
        }
    }
}
