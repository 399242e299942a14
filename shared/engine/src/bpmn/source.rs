//! A diagram being refined: read and validated once, then compiled again after the model is
//! edited, with what the refinement did not touch left where the source drew it.

use std::collections::HashSet;

use super::drawing::Drawing;
use super::kept::Kept;
use super::validate::{self, summarise, Problem};
use super::{layout, reader, writer};
use crate::model::ProcessModel;

/// A source diagram. Flaws it already had are the source's; only problems a refinement adds
/// are the refinement's fault.
pub struct SourceDiagram {
    pub model: ProcessModel,
    drawing: Drawing,
    kept: Kept,
    warnings: Vec<String>,
    known_problems: HashSet<(&'static str, Option<String>)>,
}

impl SourceDiagram {
    /// Reads a source, refusing one whose structure (ids, references) cannot be refined: the
    /// answer is then every structural problem.
    pub fn read(xml: &str) -> Result<Self, Unusable> {
        let diagram = reader::read(xml).map_err(|e| Unusable(e.to_string()))?;
        let problems = validate::validate_diagram(&diagram);
        let structural: Vec<Problem> = problems
            .iter()
            .filter(|p| p.is_structural())
            .cloned()
            .collect();
        if !structural.is_empty() {
            return Err(Unusable(summarise(&structural)));
        }
        Ok(SourceDiagram {
            model: diagram.model,
            drawing: diagram.layout,
            kept: diagram.kept,
            warnings: diagram.warnings,
            known_problems: problems.into_iter().map(|p| (p.code, p.element)).collect(),
        })
    }

    /// Compiles a refinement of this source, leaving what it did not touch where it was drawn
    /// and copying through what the model has no place for. Answers the document and the
    /// warnings of the whole refinement: the source's, and what could not be carried over.
    pub fn compile(&self, refined: &ProcessModel) -> (String, Vec<String>) {
        let drawing = layout::extend(refined, &self.drawing);
        let (kept, dropped) = self.kept.for_model(refined, &drawing);
        let xml = writer::write(refined, &drawing, &kept);
        (xml, self.warnings.iter().cloned().chain(dropped).collect())
    }

    /// The problems of a refined document that the source did not have.
    pub fn new_problems(&self, xml: &str) -> Vec<Problem> {
        validate::validate(xml)
            .into_iter()
            .filter(|p| !self.known_problems.contains(&(p.code, p.element.clone())))
            .collect()
    }
}

/// Why a source cannot be refined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unusable(pub String);
