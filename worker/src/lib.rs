//! The procmap worker: consumes generation jobs and copilot turns, runs the modeling engine and
//! stores results.
//!
//! # Layout
//!
//! - [`config`]: the worker's `PROCMAP_*` variables.
//! - [`consumer`]: taking jobs from the broker: a semaphore of job slots, acks after commit,
//!   a drain that releases what does not finish, and reconnecting after the broker drops it.
//! - `http`: the port with `/healthz`, `/readyz` and `/metrics`.
//! - [`job`]: one job, start to finish: claim, renew the lease, run the engine (again, later,
//!   while the model server is down), commit, report; a database outage is waited out.
//! - `turn`: one copilot chat turn: claim, read the diagram and the conversation, store the
//!   steps as they happen, commit the answer.

pub mod config;
pub mod consumer;
mod http;
pub mod job;
mod turn;

pub use config::WorkerConfig;
pub use consumer::run;
