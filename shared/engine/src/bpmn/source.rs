//! A diagram being refined: read and validated once, then compiled again after the model is
//! edited, with what the refinement did not touch left where the source drew it.

use foldhash::HashSet;
use std::borrow::Cow;

use super::drawing::Drawing;
use super::kept::Kept;
use super::validate::{self, summarise, Problem};
use super::{layout, reader, writer};
use crate::model::{NodeKind, ProcessModel, TaskKind};

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
        // Flows to nowhere stay as the source wrote them, outside what the refinement edits.
        let model = validate::connected(&diagram.model);
        let mut kept = diagram.kept;
        kept.broken_flows = diagram
            .model
            .flows
            .into_iter()
            .filter(|f| model.flows.iter().all(|g| g.id != f.id))
            .collect();
        Ok(SourceDiagram {
            model,
            drawing: diagram.layout,
            kept,
            warnings: diagram.warnings,
            known_problems: problems.into_iter().map(|p| (p.code, p.element)).collect(),
        })
    }

    /// Compiles a refinement of this source, leaving what it did not touch where it was drawn
    /// and copying through what the model has no place for. Answers the document and the
    /// warnings of the whole refinement: the source's, and what could not be carried over.
    pub fn compile(&self, refined: &ProcessModel) -> (String, Vec<String>) {
        let (refined, plain) = self.for_its_engine(refined);
        let drawing = layout::extend(&refined, &self.drawing);
        let (kept, dropped) = self.kept.for_model(&refined, &drawing);
        let xml = writer::write(&refined, &drawing, &kept);
        let warnings = self.warnings.iter().cloned().chain(dropped).chain(plain);
        (xml, warnings.collect())
    }

    /// A source an engine runs (`isExecutable="true"`) gets its new tasks as plain tasks: a
    /// service, send, script, rule or receive task needs an implementation (a job type, a
    /// class, a message) that only the diagram's owner can give, and an engine refuses it
    /// without one. A warning names them.
    fn for_its_engine<'m>(
        &self,
        refined: &'m ProcessModel,
    ) -> (Cow<'m, ProcessModel>, Option<String>) {
        let executable = self
            .kept
            .carried_on(&self.model.id)
            .attributes
            .iter()
            .any(|(name, value)| name == "isExecutable" && value.trim() == "true");
        let needs_implementation = |n: &crate::model::Node| {
            self.model.node(&n.id).is_none()
                && matches!(
                    n.kind,
                    NodeKind::Task(
                        TaskKind::Service
                            | TaskKind::Send
                            | TaskKind::Script
                            | TaskKind::BusinessRule
                            | TaskKind::Receive
                    )
                )
        };
        if !executable || !refined.nodes.iter().any(needs_implementation) {
            return (Cow::Borrowed(refined), None);
        }
        let mut plain = refined.clone();
        let mut named = Vec::new();
        for node in plain.nodes.iter_mut().filter(|n| needs_implementation(n)) {
            node.kind = NodeKind::Task(TaskKind::Plain);
            named.push(format!("{} ({:?})", node.id, node.name));
        }
        let warning = format!(
            "the diagram is executable, so new tasks that would need an implementation are plain tasks until one is given: {}",
            named.join(", ")
        );
        (Cow::Owned(plain), Some(warning))
    }

    /// Checks `xml`, the document compiled from `refined`: the problems the refinement brought
    /// fail it. The source's own problems, still there, come back as warnings, and so do those
    /// of new work joined only to a part of the source that already had them.
    pub fn check(&self, refined: &ProcessModel, xml: &str) -> Result<Vec<String>, Vec<Problem>> {
        let mut introduced = Vec::new();
        let mut warnings = Vec::new();
        for problem in validate::validate(xml) {
            if self.had(problem.code, problem.element.as_deref()) {
                warnings.push(format!(
                    "the source already had this problem: {}",
                    problem.message
                ));
            } else if let Some(why) = self.inherited(refined, &problem) {
                warnings.push(format!("{}, {why}", problem.message));
            } else {
                introduced.push(problem);
            }
        }
        if introduced.is_empty() {
            Ok(warnings)
        } else {
            Err(introduced)
        }
    }

    fn had(&self, code: &'static str, element: Option<&str>) -> bool {
        self.known_problems
            .contains(&(code, element.map(str::to_owned)))
    }

    /// Whether a node cannot finish (or cannot be reached) only because the source could not:
    /// the source had no end (or start) event in that scope, or the node is new and joins a
    /// part of the source that could not either (a step added after a task that led nowhere
    /// leads nowhere too): a source node it is joined to, directly or through other new nodes,
    /// had the same problem. A source node newly broken otherwise is the refinement's doing.
    fn inherited(&self, refined: &ProcessModel, problem: &Problem) -> Option<&'static str> {
        let node = problem.element.as_deref()?;
        // A source with no end event had nowhere to finish; once a refinement adds one, what
        // cannot reach it is still the source's doing. Likewise with no start.
        let (missing, because) = match problem.code {
            "dead_end" => ("missing_end_event", "as the source had no end event there"),
            "unreachable" => (
                "missing_start_event",
                "as the source had no start event there",
            ),
            _ => return None,
        };
        let scope = refined.parent_of(node).unwrap_or(&refined.id);
        if self.had(missing, Some(scope)) {
            return Some(because);
        }
        if self.model.node(node).is_some() {
            return None;
        }
        let mut seen: HashSet<&str> = [node].into_iter().collect();
        let mut queue = vec![node];
        while let Some(here) = queue.pop() {
            let neighbours = refined.flows.iter().filter_map(|f| {
                if f.source == here {
                    Some(f.target.as_str())
                } else if f.target == here {
                    Some(f.source.as_str())
                } else {
                    None
                }
            });
            for next in neighbours {
                if !seen.insert(next) {
                    continue;
                }
                if self.model.node(next).is_none() {
                    queue.push(next);
                } else if self.had(problem.code, Some(next)) {
                    return Some("as the part of the source it joins already had");
                }
            }
        }
        None
    }
}

/// Why a source cannot be refined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unusable(pub String);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventTrigger;

    /// Start → Review → End, and an orphan task the start never reaches.
    fn sketch() -> SourceDiagram {
        let mut model = ProcessModel {
            id: "Process_1".into(),
            ..ProcessModel::default()
        };
        let start = model.add_node(NodeKind::StartEvent(EventTrigger::None), "Opened", None);
        let review = model.add_node(NodeKind::Task(TaskKind::Plain), "Review", None);
        let end = model.add_node(NodeKind::EndEvent(EventTrigger::None), "Closed", None);
        model.add_node(NodeKind::Task(TaskKind::Plain), "Orphan", None);
        model.connect(&start, &review, "");
        model.connect(&review, &end, "");
        let xml = super::super::compile(&model);
        SourceDiagram::read(&xml).expect("readable")
    }

    #[test]
    fn the_sources_own_flaws_are_warnings_and_new_ones_fail() {
        let source = sketch();
        let unchanged = source.model.clone();
        let (xml, _) = source.compile(&unchanged);
        let warnings = source.check(&unchanged, &xml).expect("nothing new");
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("the source already had this problem")
                    && w.contains("Activity_2")),
            "{warnings:?}"
        );

        // Cutting the way to the end breaks what worked: that is the refinement's doing.
        let mut broken = source.model.clone();
        broken.flows.retain(|f| f.target != "EndEvent_1");
        let (xml, _) = source.compile(&broken);
        let introduced = source.check(&broken, &xml).expect_err("a new dead end");
        assert!(introduced
            .iter()
            .any(|p| p.code == "dead_end" && p.element.as_deref() == Some("Activity_1")));
        assert!(introduced
            .iter()
            .all(|p| p.element.as_deref() != Some("Activity_2")));
    }

    #[test]
    fn a_new_node_joined_to_nothing_broken_is_the_refinements_fault() {
        let source = sketch();
        let mut refined = source.model.clone();
        // A new task after Review that leads nowhere: Review could finish before.
        let new = refined.add_node(NodeKind::Task(TaskKind::Plain), "Archive", None);
        refined.connect("Activity_1", &new, "");
        let (xml, _) = source.compile(&refined);
        let introduced = source.check(&refined, &xml).expect_err("a new dead end");
        assert!(introduced
            .iter()
            .any(|p| p.code == "dead_end" && p.element.as_deref() == Some(new.as_str())));

        // The same task after the orphan only continues what the source already had.
        let mut refined = source.model.clone();
        let new = refined.add_node(NodeKind::Task(TaskKind::Plain), "Archive", None);
        refined.connect("Activity_2", &new, "");
        let (xml, _) = source.compile(&refined);
        let warnings = source.check(&refined, &xml).expect("inherited");
        assert!(
            warnings
                .iter()
                .any(|w| w.contains(&new) && w.contains("already had")),
            "{warnings:?}"
        );
    }
}
