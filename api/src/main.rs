//! `procmap-api`: serve the API, migrate the database, and manage API keys.

use std::process::ExitCode;

use clap::Parser;
use procmap_api::cli::{self, Cli};
use procmap_core::telemetry;

#[tokio::main]
async fn main() -> ExitCode {
    // Held to the end of `main`: dropping it sends the traces still buffered.
    let _telemetry = match telemetry::init("procmap-api") {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("procmap-api: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli::run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("procmap-api: {e:#}");
            ExitCode::FAILURE
        }
    }
}
