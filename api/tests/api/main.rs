//! Integration tests: the API, the worker and the binaries against real Postgres and RabbitMQ.

mod auth;
mod broker_tls;
mod copilot;
mod database_tls;
mod e2e;
mod generations;
mod helpers;
mod idempotency;
mod lifecycle;
mod messaging;
mod platform;
mod platform_diagrams;
mod platform_limits;
mod processes;
mod providers;
mod real_model;
mod traces;
