//! Why the engine could not produce a diagram, and what it had spent by then.

use crate::bpmn::source::Unusable;
use crate::bpmn::validate::{summarise, Problem};
use crate::builtin::follow_ups::UNDERSTOOD;
use crate::usage::Usage;

/// Why the engine could not produce a diagram. The variant says whether trying again may help.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// The source diagram cannot be refined; trying again gives the same answer.
    #[error("the source diagram cannot be used: {0}")]
    InvalidSource(String),
    /// The follow-up asks for something this engine cannot do; rephrasing may help, retrying won't.
    #[error("the builtin modeler did not understand {0:?}; it understands: {UNDERSTOOD}")]
    UnsupportedInstruction(String),
    /// The engine produced a diagram that failed validation, after any repair rounds.
    #[error("the generated diagram failed validation: {}", summarise(.0))]
    InvalidOutput(Vec<Problem>),
    /// The model server could not be reached, or was overloaded or failing, after retries.
    /// It may well be back later, so the worker tries the job again within its budget.
    #[error("the model provider is unavailable: {0}")]
    ProviderUnavailable(String),
    /// The model server answered, but refused the request: a wrong key, an unknown model, a
    /// request it cannot take. Trying later gives the same answer. Same public code as
    /// [`EngineError::ProviderUnavailable`]: to a client, the provider could not be used.
    #[error("the model provider is unavailable: {0}")]
    ProviderRejected(String),
}

impl EngineError {
    /// Stable code shown in a failed generation's `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidSource(_) => "invalid_source",
            Self::UnsupportedInstruction(_) => "unsupported_instruction",
            Self::InvalidOutput(_) => "invalid_output",
            Self::ProviderUnavailable(_) | Self::ProviderRejected(_) => "provider_unavailable",
        }
    }

    /// Whether the same job may succeed if tried again later, with nothing changed.
    pub fn may_pass_later(&self) -> bool {
        matches!(self, Self::ProviderUnavailable(_))
    }
}

impl From<Unusable> for EngineError {
    fn from(Unusable(why): Unusable) -> Self {
        EngineError::InvalidSource(why)
    }
}

/// A generation the engine gave up on, with what the provider had spent by then.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{error}")]
pub struct Failure {
    pub error: EngineError,
    /// `None` for the builtin modeler, which spends nothing.
    pub usage: Option<Usage>,
}

impl Failure {
    pub fn code(&self) -> &'static str {
        self.error.code()
    }
}

impl From<EngineError> for Failure {
    fn from(error: EngineError) -> Self {
        Failure { error, usage: None }
    }
}
