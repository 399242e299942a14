//! What the procmap API and worker both speak. The modeling engine is a crate of its own,
//! `procmap-engine`.
//!
//! # Layout
//!
//! - [`config`]: `PROCMAP_*` configuration, parsed once at start-up.
//! - [`domain`]: generations, statuses, requests and their limits.
//! - [`messages`]: the job and status-event messages carried by RabbitMQ.
//! - [`db`]: the Postgres pool, migrations and one module per table.
//! - [`broker`]: the RabbitMQ topology, confirmed job publishing and status events.
//! - [`telemetry`]: logging set-up.

pub mod broker;
pub mod config;
pub mod db;
pub mod domain;
pub mod messages;
pub mod telemetry;
