//! What the procmap API and worker share. The modeling engine is a crate of its own,
//! `procmap-engine`; this crate stores and carries what it produces.
//!
//! # Layout
//!
//! - [`config`]: reading `PROCMAP_*` variables, and where Postgres and RabbitMQ are.
//! - [`domain`]: generations, their statuses, what a client asks for, and who may ask.
//! - [`messages`]: the job and status-event messages carried by RabbitMQ.
//! - [`db`]: the Postgres pool, migrations and one module per table.
//! - [`batch`]: group commit: the requests waiting at once, written as one batch.
//! - [`broker`]: RabbitMQ behind one connection policy: publishing, consuming jobs, hearing
//!   status events, and the one reconnect loop.
//! - [`relay`]: job lifecycle beyond one worker: republishing lost jobs, taking back expired
//!   leases.
//! - [`metrics`]: the Prometheus metrics of both binaries, and the recorder behind `/metrics`.
//! - [`shutdown`]: the token both binaries stop on.
//! - [`telemetry`]: logging set-up.

pub mod batch;
pub mod broker;
pub mod config;
pub mod db;
pub mod domain;
pub mod messages;
pub mod metrics;
pub mod relay;
pub mod shutdown;
pub mod telemetry;
