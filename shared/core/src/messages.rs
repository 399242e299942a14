//! The messages that cross RabbitMQ: jobs for workers, and status events and key revocations
//! for API instances.
//!
//! Each is one tagged serde enum, so a message that does not match a known shape is rejected as
//! a whole instead of being half-understood.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::GenerationStatus;

/// Work for a worker. The row in Postgres holds everything else; the message only points at it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Job {
    /// Run the modeling engine for one generation.
    Generate { generation_id: Uuid },
    /// Answer one copilot chat message: `message_id` is the answer's row.
    CopilotTurn { message_id: Uuid },
}

/// A copilot answer has new steps stored, or finished. The API replica streaming it reads them
/// from Postgres; like a status event, it only says "look again".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnProgress {
    pub message_id: Uuid,
}

/// A generation changed status. API instances use these to answer `wait=true` requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StatusEvent {
    Running { generation_id: Uuid },
    Succeeded { generation_id: Uuid },
    Failed { generation_id: Uuid },
    Canceled { generation_id: Uuid },
}

/// An API key was revoked: every API replica drops the keys it has cached, so the revocation
/// takes effect at once rather than when the cache entry ages out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRevoked {
    pub api_key_id: Uuid,
}

impl StatusEvent {
    pub fn new(generation_id: Uuid, status: GenerationStatus) -> Option<Self> {
        match status {
            GenerationStatus::Queued => None,
            GenerationStatus::Running => Some(Self::Running { generation_id }),
            GenerationStatus::Succeeded => Some(Self::Succeeded { generation_id }),
            GenerationStatus::Failed => Some(Self::Failed { generation_id }),
            GenerationStatus::Canceled => Some(Self::Canceled { generation_id }),
        }
    }

    pub fn generation_id(&self) -> Uuid {
        match self {
            Self::Running { generation_id }
            | Self::Succeeded { generation_id }
            | Self::Failed { generation_id }
            | Self::Canceled { generation_id } => *generation_id,
        }
    }

    pub fn status(&self) -> GenerationStatus {
        match self {
            Self::Running { .. } => GenerationStatus::Running,
            Self::Succeeded { .. } => GenerationStatus::Succeeded,
            Self::Failed { .. } => GenerationStatus::Failed,
            Self::Canceled { .. } => GenerationStatus::Canceled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_a_tagged_object() {
        let job = Job::Generate {
            generation_id: Uuid::nil(),
        };
        let json = serde_json::to_string(&job).expect("serialises");
        assert_eq!(
            json,
            r#"{"type":"generate","generation_id":"00000000-0000-0000-0000-000000000000"}"#
        );
        assert_eq!(serde_json::from_str::<Job>(&json).expect("parses"), job);
        assert!(serde_json::from_str::<Job>(r#"{"type":"explode"}"#).is_err());
    }
}
