//! RabbitMQ, behind one connection policy: neither binary touches lapin.
//!
//! - [`Broker`]: where the broker is and what procmap declares on it ([`Topology`]); every
//!   connection is opened by it, named after the process that holds it.
//! - [`Publisher`]: confirmed job publishing and status events over one self-healing channel.
//! - [`JobConsumer`]: jobs delivered with manual acks and bounded prefetch.
//! - [`EventHub`] and [`Broker::listen_for_events`]: the status events an API replica hears,
//!   and the waiters they wake.
//! - [`reconnecting`]: the one loop that opens a session again after the broker drops it.
//!
//! Jobs go to a durable quorum queue, persistent and publisher-confirmed, so an accepted job
//! survives a broker restart. Status events are fire-and-forget: a lost event only delays a
//! `wait=true` answer until its window ends, and Postgres still has the truth.

mod connection;
mod events;
mod jobs;
mod publisher;
mod topology;

pub use connection::{reconnecting, Broker};
pub use events::{EventHub, Subscription};
pub use jobs::{JobConsumer, JobDelivery};
pub use publisher::{OutgoingJob, PublishError, Publisher, CONFIRM_TIMEOUT};
pub use topology::{event_routing_key, Topology};
