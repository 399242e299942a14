//! The procmap worker: consumes generation jobs, runs the modeling engine and stores results.
//!
//! # Layout
//!
//! - [`consumer`]: the RabbitMQ side: connection, prefetch, manual acks, graceful drain.
//! - [`job`]: one job, start to finish: claim, run the engine, commit, report.

pub mod consumer;
pub mod job;

pub use consumer::run;
