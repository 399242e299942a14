//! Domain types that both binaries speak: generations, their statuses and results, what a
//! client asks for ([`request`]) and who may ask ([`access`]).

mod access;
mod platform;
mod request;

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use access::{InvalidOwner, Owner, Scope, Workspace, MAX_OWNER_CHARS};
pub use platform::{
    FolderContext, InvalidName, Name, SteeringContext, TooLongContext, MAX_CONTEXT_CHARS,
    MAX_FOLDER_DEPTH, MAX_NAME_CHARS,
};
pub use request::{
    GenerationRequest, InvalidPrompt, Language, Mode, Prompt, RefinementSource, UnknownLanguage,
    LANGUAGES, MAX_BPMN_XML_BYTES, MAX_PROMPT_CHARS,
};
/// How many options an initial generation produces.
pub const INITIAL_OPTION_COUNT: i32 = 3;

/// Where a generation is in its life. Maps one-to-one to `generations.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GenerationStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    /// Stopped by its owner while queued or running; no worker completes it afterwards.
    Canceled,
}

impl GenerationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "canceled" => Self::Canceled,
            _ => return None,
        })
    }

    /// A terminal status never changes again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Canceled)
    }
}

impl fmt::Display for GenerationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a generation failed, shown to the client as its `error` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GenerationError {
    /// Machine-readable reason, stable across releases.
    pub code: String,
    /// What happened, for a person.
    pub message: String,
}

/// One stored BPMN document: an option's version, or a refinement's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVersion {
    pub option_number: i32,
    pub version_number: i32,
    pub bpmn_xml: String,
}

/// Identifier of a generation; a UUIDv7 so ids sort roughly by creation time.
pub fn new_generation_id() -> Uuid {
    Uuid::now_v7()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_column_text() {
        for status in [
            GenerationStatus::Queued,
            GenerationStatus::Running,
            GenerationStatus::Succeeded,
            GenerationStatus::Failed,
            GenerationStatus::Canceled,
        ] {
            assert_eq!(GenerationStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(GenerationStatus::parse("done"), None);
    }

    #[test]
    fn a_request_round_trips_through_its_stored_json() {
        let request = GenerationRequest::Refinement {
            prompt: Prompt::parse("Add an escalation path").expect("valid"),
            source: RefinementSource::Stored {
                generation_id: Uuid::nil(),
                option_number: 2,
                version_number: 1,
            },
        };
        let json = serde_json::to_value(&request).expect("serialises");
        assert_eq!(json["mode"], "refinement");
        assert_eq!(
            serde_json::from_value::<GenerationRequest>(json).expect("parses"),
            request
        );
    }
}
