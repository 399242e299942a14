//! BPMN 2.0 XML, both ways: the process model written as a diagram, and any tool's diagram
//! read back into a model.
//!
//! Data flows one way through the stages: model → [`layout`] → drawing → [`writer`] → XML →
//! [`validate`], which re-reads the XML through the [`reader`] rather than trusting the writer.
//! A refinement reads its source with the [`reader`] ([`source`]), extends the source's drawing
//! instead of laying out afresh, and copies through what the model has no place for: whole
//! elements beside the model ([`kept`]), and what each element of the model carries beyond it,
//! such as a vendor's execution settings ([`carried`]).
//!
//! - [`drawing`]: the BPMNDI geometry every stage exchanges: shape bounds and edge waypoints.
//! - [`vocabulary`]: BPMN's names for the model's kinds of node and event triggers, and the
//!   namespaces of a document.

pub mod carried;
pub mod drawing;
mod duration;
pub mod kept;
pub mod layout;
pub mod reader;
pub(crate) mod source;
pub mod validate;
pub(crate) mod vocabulary;
mod writer;

pub use drawing::{Bounds, Drawing};
pub use validate::{validate, Problem};

use crate::model::ProcessModel;
use kept::Kept;

/// A new diagram of `model`: laid out afresh and written, with nothing kept from a source.
pub fn compile(model: &ProcessModel) -> String {
    writer::write(model, &layout::layout(model), &Kept::default())
}

/// A new diagram of `model` that the validator accepts, or every problem the validator found:
/// a modeler's own output must pass before anyone sees it.
#[tracing::instrument(name = "engine.compile_and_validate", skip_all)]
pub fn compile_checked(model: &ProcessModel) -> Result<String, Vec<Problem>> {
    let xml = compile(model);
    let problems = validate(&xml);
    if problems.is_empty() {
        Ok(xml)
    } else {
        Err(problems)
    }
}

/// What a refinement that changes nothing answers for `xml`: the diagram read and written again
/// through the refinement path, keeping what the model does not hold and where the source drew
/// everything. Fidelity tests compare it with the source; the reason is given when the diagram
/// cannot be refined.
pub fn recompile(xml: &str) -> Result<String, String> {
    let source = source::SourceDiagram::read(xml).map_err(|e| e.to_string())?;
    Ok(source.compile(&source.model).0)
}

/// A diagram brought in from another tool, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The document as it came when it draws every element, so that export gives back exactly
    /// what was imported; otherwise the same diagram with what was not drawn laid out.
    pub bpmn_xml: String,
    /// True when shapes were laid out because the document lacked them.
    pub laid_out: bool,
}

/// Takes in a diagram from any tool: refused with every problem when its structure is unusable
/// (as a refinement's source would be), laid out when it has no drawing or draws only part of
/// its elements, and otherwise kept byte for byte.
pub fn import(xml: &str) -> Result<Imported, Vec<Problem>> {
    check_source(xml)?;
    let diagram = match reader::read(xml) {
        Ok(diagram) => diagram,
        Err(e) => return Err(vec![Problem::unreadable(e.to_string())]),
    };
    let drawn = diagram
        .model
        .nodes
        .iter()
        .all(|n| diagram.shapes.contains(&n.id))
        && diagram
            .model
            .flows
            .iter()
            .all(|f| diagram.edges.contains(&f.id));
    if drawn {
        return Ok(Imported {
            bpmn_xml: xml.to_owned(),
            laid_out: false,
        });
    }
    let bpmn_xml = recompile(xml).map_err(|e| vec![Problem::unreadable(e)])?;
    Ok(Imported {
        bpmn_xml,
        laid_out: true,
    })
}

/// Checks that a diagram sent inline can be refined, listing every problem if not. Modeling
/// flaws are the source's own and do not stop a refinement; unusable structure does.
pub fn check_source(xml: &str) -> Result<(), Vec<Problem>> {
    let problems: Vec<Problem> = validate(xml)
        .into_iter()
        .filter(Problem::is_structural)
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
