//! The builtin modeler: deterministic, offline, and what test-mode keys always use.
//!
//! It reads a description's own words ([`prose`], [`wording`]) into steps, actors, decisions,
//! parallel branches and loops, builds one process model per option style from them
//! ([`builder`]), and reads follow-ups as edit operations on a source's model
//! ([`follow_ups`]). It takes the roles and duties a diagram's folder contexts name
//! ([`steering`]). Its sentence rules are English.

pub mod builder;
pub mod follow_ups;
pub mod prose;
pub mod steering;
pub(crate) mod wording;

use crate::bpmn::{self, source::SourceDiagram};
use crate::error::EngineError;
use crate::options::OptionStyle;
use follow_ups::Edit;

/// The three options of an initial generation, each validated.
pub fn generate_options(prompt: &str) -> Result<Vec<String>, EngineError> {
    generate_steered_options(prompt, &[])
}

/// The three options of a prompt, with the roles and duties its folders' contexts name
/// (outermost first) applied to what the prompt says.
pub fn generate_steered_options(
    prompt: &str,
    context: &[String],
) -> Result<Vec<String>, EngineError> {
    let steering = steering::Steering::read(context);
    let mut description = builder::describe_with(prompt, steering.duties());
    steering.apply(&mut description);
    OptionStyle::ALL
        .iter()
        .map(|style| {
            bpmn::compile_checked(&builder::build(&description, *style))
                .map_err(EngineError::InvalidOutput)
        })
        .collect()
}

/// A refined diagram, what the refinement did, and what it could not carry over.
#[derive(Debug, Clone)]
pub struct Refined {
    pub bpmn_xml: String,
    pub edits: Vec<Edit>,
    pub warnings: Vec<String>,
}

/// Applies a follow-up prompt to a source diagram.
pub fn refine(source_xml: &str, prompt: &str) -> Result<Refined, EngineError> {
    let source = SourceDiagram::read(source_xml)?;
    let mut model = source.model.clone();
    let edits = follow_ups::apply(&mut model, prompt);
    if let Some(Edit::NotUnderstood { instruction }) = edits
        .iter()
        .find(|e| matches!(e, Edit::NotUnderstood { .. }))
    {
        return Err(EngineError::UnsupportedInstruction(instruction.clone()));
    }
    let (bpmn_xml, mut warnings) = source.compile(&model);
    warnings.extend(edits.iter().filter_map(Edit::note).map(str::to_owned));
    let source_problems = source
        .check(&model, &bpmn_xml)
        .map_err(EngineError::InvalidOutput)?;
    warnings.extend(source_problems);
    Ok(Refined {
        bpmn_xml,
        edits,
        warnings,
    })
}
