//! Tracing set-up shared by both binaries: human-readable logs, filtered by `RUST_LOG`.

use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global subscriber. `RUST_LOG` overrides the default `info` level.
pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,lapin=warn"));
    // Logs go to stderr so commands whose stdout is machine-readable (`keys create --json`) stay clean.
    let _ = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
