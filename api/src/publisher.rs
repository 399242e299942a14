//! A lazily connected, self-healing publisher of jobs.
//!
//! A failed publish never loses a job: the row is already committed, and the relay republishes
//! it. So the publisher only needs to drop a broken connection and reconnect on the next use.

use std::sync::Arc;

use lapin::{Channel, Connection};
use procmap_core::{
    broker::{self, PublishError, Topology},
    messages::{Job, StatusEvent},
};
use tokio::sync::Mutex;

#[derive(Clone)]
pub struct Publisher {
    amqp_url: String,
    topology: Topology,
    link: Arc<Mutex<Option<(Connection, Channel)>>>,
}

impl Publisher {
    pub fn new(amqp_url: String, topology: Topology) -> Self {
        Publisher {
            amqp_url,
            topology,
            link: Arc::new(Mutex::new(None)),
        }
    }

    /// A connected confirm channel, opening one (and declaring the topology) if needed.
    pub async fn channel(&self) -> lapin::Result<Channel> {
        let mut link = self.link.lock().await;
        if let Some((connection, channel)) = link.as_ref() {
            if connection.status().connected() && channel.status().connected() {
                return Ok(channel.clone());
            }
        }
        *link = None;
        let connection =
            Connection::connect(&self.amqp_url, lapin::ConnectionProperties::default()).await?;
        let channel = broker::confirm_channel(&connection).await?;
        broker::declare(&channel, &self.topology).await?;
        *link = Some((connection, channel.clone()));
        Ok(channel)
    }

    async fn forget(&self) {
        *self.link.lock().await = None;
    }

    pub async fn publish_job(&self, job: &Job) -> Result<(), PublishError> {
        let result = match self.channel().await {
            Ok(channel) => broker::publish_job(&channel, &self.topology, job).await,
            Err(e) => Err(e.into()),
        };
        if matches!(result, Err(PublishError::Broker(_))) {
            self.forget().await;
        }
        result
    }

    pub async fn publish_event(&self, event: &StatusEvent) -> Result<(), PublishError> {
        let channel = self.channel().await?;
        broker::publish_event(&channel, &self.topology, event).await
    }
}
