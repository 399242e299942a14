//! Logging set-up shared by both binaries: text for people or JSON lines for a log pipeline
//! (`PROCMAP_LOG_FORMAT`), filtered by `RUST_LOG`.

use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global subscriber. `RUST_LOG` overrides the default `info` level. Fails, naming
/// the variable, when `PROCMAP_LOG_FORMAT` is neither `text` nor `json`.
pub fn init() -> Result<(), String> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,lapin=warn"));
    // Logs go to stderr so commands whose stdout is machine-readable (`keys create --json`) stay clean.
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let format = std::env::var("PROCMAP_LOG_FORMAT").unwrap_or_else(|_| "text".into());
    // `try_init` fails only when a subscriber is already installed, as in tests; that one stays.
    match format.as_str() {
        "text" => {
            let _ = builder.try_init();
        }
        "json" => {
            // One object per line: the event's fields at the top level, and the fields of the
            // span it happened in (the request id, the generation id) under `span`.
            let _ = builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .try_init();
        }
        other => {
            return Err(format!(
                "PROCMAP_LOG_FORMAT={other:?} is not a log format; use text or json"
            ))
        }
    }
    Ok(())
}
