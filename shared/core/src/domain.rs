//! Domain types that both sides speak: generations, their statuses, requests and results.
//!
//! Requests are parsed once, at the API's edge, into these types; after that they cannot hold
//! invalid values, so the worker never re-validates what it reads back.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest prompt accepted, in characters.
pub const MAX_PROMPT_CHARS: usize = 20_000;
/// Largest inline `bpmn_xml` accepted, in bytes.
pub const MAX_BPMN_XML_BYTES: usize = 2 * 1024 * 1024;
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

/// What a generation was asked to do. Maps one-to-one to `generations.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Initial,
    Refinement,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "initial",
            Self::Refinement => "refinement",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "initial" => Some(Self::Initial),
            "refinement" => Some(Self::Refinement),
            _ => None,
        }
    }
}

/// Languages a prompt may be written in; labels follow the prompt's own words.
pub const LANGUAGES: &[&str] = &[
    "english",
    "german",
    "french",
    "spanish",
    "portuguese",
    "italian",
    "dutch",
    "polish",
    "swedish",
    "danish",
    "norwegian",
    "finnish",
    "czech",
    "turkish",
    "japanese",
    "chinese",
    "korean",
];

/// The diagram a refinement starts from: a stored option's version, or a diagram sent inline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum RefinementSource {
    /// A version stored by an earlier generation of the same owner.
    Stored {
        generation_id: Uuid,
        #[schema(minimum = 1)]
        option_number: i32,
        #[schema(minimum = 1)]
        version_number: i32,
    },
    /// A diagram sent inline, possibly drawn in another tool.
    Inline {
        /// BPMN 2.0 XML from any tool, at most 2 MiB.
        #[schema(min_length = 1, max_length = 2097152)]
        bpmn_xml: String,
    },
}

/// A validated generation request, as stored in `generations.request`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum GenerationRequest {
    Initial {
        prompt: String,
        language: String,
    },
    Refinement {
        prompt: String,
        source: RefinementSource,
    },
}

impl GenerationRequest {
    pub fn mode(&self) -> Mode {
        match self {
            Self::Initial { .. } => Mode::Initial,
            Self::Refinement { .. } => Mode::Refinement,
        }
    }

    pub fn prompt(&self) -> &str {
        match self {
            Self::Initial { prompt, .. } | Self::Refinement { prompt, .. } => prompt,
        }
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
            prompt: "Add an escalation path".into(),
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
