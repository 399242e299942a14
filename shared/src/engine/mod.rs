//! The modeling engine: turns prompts into validated BPMN.
//!
//! - [`model`]: the process model every diagram is compiled from.
//! - [`prose`] and [`wording`]: the builtin modeler's reading of descriptions.
//! - [`builder`]: description → process model, in the three option styles.
//! - [`layout`] and [`writer`]: process model → BPMN 2.0 XML with BPMNDI.
//! - [`reader`]: BPMN XML from any tool → process model.
//! - [`validate`]: an independent check of any BPMN document.
//! - [`refine`]: follow-up prompt → edit operations on a model.

pub mod builder;
pub mod layout;
pub mod model;
pub mod prose;
pub mod reader;
pub mod refine;
pub mod validate;
pub mod wording;
pub mod writer;

use std::collections::HashSet;

use validate::Problem;

/// Why the engine could not produce a diagram. The variant says whether trying again may help.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// The source diagram cannot be refined; trying again gives the same answer.
    #[error("the source diagram cannot be used: {0}")]
    InvalidSource(String),
    /// The follow-up asks for something this engine cannot do; rephrasing may help, retrying won't.
    #[error("the builtin modeler did not understand {0:?}; it understands: {understood}", understood = refine::UNDERSTOOD)]
    UnsupportedInstruction(String),
    /// The engine produced a diagram that failed validation; a defect, not a transient fault.
    #[error("the generated diagram failed validation: {}", summarise(.0))]
    InvalidOutput(Vec<Problem>),
}

impl EngineError {
    /// Stable code shown in a failed generation's `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidSource(_) => "invalid_source",
            Self::UnsupportedInstruction(_) => "unsupported_instruction",
            Self::InvalidOutput(_) => "invalid_output",
        }
    }
}

fn summarise(problems: &[Problem]) -> String {
    problems
        .iter()
        .take(5)
        .map(|p| p.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A refined diagram and what the refinement could not carry over.
#[derive(Debug, Clone)]
pub struct Refined {
    pub bpmn_xml: String,
    pub edits: Vec<refine::Edit>,
    pub warnings: Vec<String>,
}

/// The three options of an initial generation, with the builtin modeler, each validated.
pub fn generate_options(prompt: &str) -> Result<Vec<String>, EngineError> {
    let description = builder::describe(prompt);
    builder::OptionStyle::ALL
        .iter()
        .map(|style| {
            let xml = writer::compile(&builder::build(&description, *style));
            let problems = validate::validate(&xml);
            if problems.is_empty() {
                Ok(xml)
            } else {
                Err(EngineError::InvalidOutput(problems))
            }
        })
        .collect()
}

/// Applies a follow-up prompt to a source diagram with the builtin modeler.
pub fn refine(source_xml: &str, prompt: &str) -> Result<Refined, EngineError> {
    let diagram =
        reader::read(source_xml).map_err(|e| EngineError::InvalidSource(e.to_string()))?;
    let before: HashSet<(&'static str, Option<String>)> = validate::validate_diagram(&diagram)
        .into_iter()
        .map(|p| (p.code, p.element))
        .collect();
    let structural: Vec<Problem> = validate::validate_diagram(&diagram)
        .into_iter()
        .filter(Problem::is_structural)
        .collect();
    if !structural.is_empty() {
        return Err(EngineError::InvalidSource(summarise(&structural)));
    }
    let mut model = diagram.model;
    let edits = refine::apply(&mut model, prompt);
    if let Some(refine::Edit::NotUnderstood { instruction }) = edits
        .iter()
        .find(|e| matches!(e, refine::Edit::NotUnderstood { .. }))
    {
        return Err(EngineError::UnsupportedInstruction(instruction.clone()));
    }
    let bpmn_xml = writer::compile(&model);
    // Flaws the source already had are the source's; only new ones are the engine's fault.
    let introduced: Vec<Problem> = validate::validate(&bpmn_xml)
        .into_iter()
        .filter(|p| !before.contains(&(p.code, p.element.clone())))
        .collect();
    if !introduced.is_empty() {
        return Err(EngineError::InvalidOutput(introduced));
    }
    Ok(Refined {
        bpmn_xml,
        edits,
        warnings: diagram.warnings,
    })
}

/// Checks that a diagram sent inline can be refined, listing every problem if not.
pub fn check_source(xml: &str) -> Result<(), Vec<Problem>> {
    let problems: Vec<Problem> = validate::validate(xml)
        .into_iter()
        .filter(Problem::is_structural)
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
