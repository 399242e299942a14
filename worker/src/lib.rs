//! The procmap worker: consumes generation jobs, runs the modeling engine and stores results.
//!
//! # Layout
//!
//! - [`config`]: the worker's `PROCMAP_*` variables.
//! - [`consumer`]: taking jobs from the broker: bounded concurrency, acks after commit, a
//!   graceful drain, and reconnecting after the broker drops it.
//! - [`job`]: one job, start to finish: claim, run the engine, commit, report.

pub mod config;
pub mod consumer;
pub mod job;

pub use config::WorkerConfig;
pub use consumer::run;
