//! What clients see of a generation (seed 000's shapes), and the list page around them.

use chrono::{DateTime, SecondsFormat, Utc};
use procmap_core::domain::{
    GenerationError, GenerationRequest, GenerationStatus, Mode, RefinementSource, SteeringContext,
};
use procmap_engine::Usage;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{generations::WithVersions, state::AppState};

/// A generation as clients see it (seed 000).
#[derive(Debug, Serialize, ToSchema)]
pub struct GenerationView {
    pub id: Uuid,
    pub status: GenerationStatus,
    pub mode: Mode,
    /// The `X-Request-Id` of the request that created the generation.
    pub request_id: String,
    /// RFC 3339, UTC, with milliseconds.
    #[schema(format = DateTime, example = "2025-01-15T12:34:56.000Z")]
    pub created_at: String,
    /// When it succeeded, failed or was canceled; null while queued or running.
    #[schema(format = DateTime)]
    pub completed_at: Option<String>,
    pub links: Links,
    /// False for a generation made with a test-mode key, which always uses the builtin modeler.
    pub livemode: bool,
    /// The three options of a succeeded initial generation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<OptionView>>,
    /// The one result of a succeeded refinement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<RefinementResultView>,
    /// What a language model spent: tokens, requests and repair rounds, whether the generation
    /// succeeded or failed. Absent for the builtin modeler.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Why a failed generation failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<GenerationError>,
    /// What a refinement could not carry over from its source diagram, such as elements the
    /// process model has no place for. Absent when there is nothing to report.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The diagram whose next version the result becomes, for a generation made for a diagram.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagram_id: Option<Uuid>,
    /// The folder contexts that steered it, outermost first. Absent when its diagram is in no
    /// folder, or its folders have no context.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<SteeringContext>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Links {
    #[serde(rename = "self")]
    pub self_: String,
    /// The diagram the generation is for, when it is for one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagram: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OptionView {
    pub option_number: i32,
    pub versions: Vec<VersionView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionView {
    pub version_number: i32,
    pub bpmn_xml: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RefinementResultView {
    pub option_number: i32,
    pub version_number: i32,
    pub bpmn_xml: String,
    /// The source, echoed as the request gave it.
    pub source: RefinementSource,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GenerationList {
    pub data: Vec<GenerationView>,
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

/// RFC 3339, UTC, with milliseconds, as in the seed: `2025-01-15T12:34:56.000Z`.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl GenerationView {
    pub fn new(state: &AppState, found: WithVersions) -> Self {
        let WithVersions {
            generation,
            versions,
        } = found;
        let succeeded = generation.status == GenerationStatus::Succeeded;
        let (options, result) = match (&generation.request, succeeded) {
            (GenerationRequest::Initial { .. }, true) => {
                let mut options: Vec<OptionView> = Vec::new();
                for v in versions {
                    let version = VersionView {
                        version_number: v.version_number,
                        bpmn_xml: v.bpmn_xml,
                    };
                    match options.last_mut() {
                        Some(o) if o.option_number == v.option_number => o.versions.push(version),
                        _ => options.push(OptionView {
                            option_number: v.option_number,
                            versions: vec![version],
                        }),
                    }
                }
                (Some(options), None)
            }
            (GenerationRequest::Refinement { source, .. }, true) => {
                let result = versions.into_iter().next().map(|v| RefinementResultView {
                    option_number: v.option_number,
                    version_number: v.version_number,
                    bpmn_xml: v.bpmn_xml,
                    source: source.clone(),
                });
                (None, result)
            }
            _ => (None, None),
        };
        GenerationView {
            links: Links {
                self_: state.generation_url(generation.id),
                diagram: generation.diagram_id.map(|id| state.diagram_url(id)),
            },
            diagram_id: generation.diagram_id,
            context: generation.context,
            livemode: generation.livemode,
            usage: generation.usage,
            id: generation.id,
            status: generation.status,
            mode: generation.mode,
            request_id: generation.request_id,
            created_at: timestamp(generation.created_at),
            completed_at: generation.completed_at.map(timestamp),
            options,
            result,
            error: generation.error,
            warnings: generation.warnings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_milliseconds_and_a_z() {
        let at = DateTime::from_timestamp_micros(1_736_944_496_000_000).expect("valid time");
        assert_eq!(timestamp(at), "2025-01-15T12:34:56.000Z");
    }
}
