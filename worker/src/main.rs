//! `procmap-worker`: consumes generation jobs until SIGINT or SIGTERM.

use std::process::ExitCode;

use procmap_core::{shutdown, telemetry};
use procmap_worker::WorkerConfig;

/// mimalloc instead of the system allocator: the builtin modeler allocates many small strings,
/// which it serves faster (a generation costs 502 µs of CPU with glibc's, 382 µs with it; see
/// the engine's `builtin_speed` example). The API keeps the system allocator: it gained no
/// throughput from mimalloc and held more memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // Held to the end of `main`: dropping it sends the traces still buffered.
    let _telemetry = match telemetry::init("procmap-worker") {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("procmap-worker: {e}");
            return ExitCode::FAILURE;
        }
    };
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
