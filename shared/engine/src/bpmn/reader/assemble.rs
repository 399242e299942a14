//! The reader's last step: from everything read, the process to refine with its lanes,
//! defaults and sub-process content, and what is kept beside it.

use foldhash::HashMap;

use super::diagram::{Diagram, ProcessInProgress, ReadError};
use super::elements::{kept_content_warning, Elements};
use crate::bpmn::kept::{KeptElement, Place, SubProcessContent};
use crate::model::ProcessModel;

impl Elements<'_> {
    pub(super) fn assemble(mut self) -> Result<Diagram, ReadError> {
        // Several pools: refine the largest, and say what is left as it was.
        let mut processes = std::mem::take(&mut self.processes);
        processes.sort_by_key(|p| std::cmp::Reverse(p.nodes.len()));
        let mut processes = processes.into_iter();
        let Some(main) = processes.next() else {
            return Err(ReadError::NotBpmn("the document has no <process>".into()));
        };
        // The other pools stay as the source wrote them, with their own participants and
        // message flows; the refined process keeps its participant's id, which they may name.
        let other_processes: Vec<KeptElement> = std::mem::take(&mut self.copier.processes)
            .into_iter()
            .filter(|p| p.id != main.id)
            .collect();
        for other in processes {
            self.diagram.warnings.push(format!(
                "process {} is another pool, not refined; it is kept as it was",
                other.id
            ));
        }
        let main_participant = self.participant_ids.get(&main.id).cloned();
        let ProcessInProgress {
            id,
            name,
            nodes,
            flows,
            lanes,
            kept,
            sub_processes,
            event_definitions,
            mut carried,
            lane_set_id,
        } = main;
        let mut model = ProcessModel {
            name: self.participant_names.get(&id).cloned().unwrap_or(name),
            id,
            nodes,
            flows,
            lanes: Vec::new(),
        };
        assign_lanes(&mut model, lanes);
        for (_, flow_id) in &self.diagram.defaults {
            if let Some(f) = model.flows.iter_mut().find(|f| &f.id == flow_id) {
                f.is_default = true;
            }
        }
        let sub_processes = self.settle_sub_processes(&mut model, sub_processes);
        self.diagram
            .defaults
            .retain(|(gateway, _)| model.node(gateway).is_some());
        for node in model.nodes.iter_mut().filter(|n| n.parent.is_some()) {
            node.lane = None;
        }
        // Elements inside content kept whole carry nothing of their own: the content has it all.
        carried.retain(|id, _| {
            *id == model.id
                || model.node(id).is_some()
                || model.flows.iter().any(|f| f.id == *id)
                || model.lanes.iter().any(|l| l.id == *id)
        });
        let mut diagram = self.diagram;
        diagram.kept.carried = carried;
        diagram.kept.lane_set_id = lane_set_id;
        diagram.kept.event_definitions = event_definitions;
        diagram.kept.sub_processes = sub_processes;
        // Root elements first, then the process's own, then drawings and further diagrams.
        let (root, rest) = self.copier.into_outside();
        diagram.kept.elements = root
            .into_iter()
            .chain(other_processes)
            .chain(kept)
            .chain(rest.into_iter().filter(|e| {
                !(e.place == Place::Participant && Some(&e.id) == main_participant.as_ref())
            }))
            .collect();
        diagram.layout = self.di.layout_of(&model, main_participant.as_ref());
        diagram.kept.participant_id = main_participant;
        diagram.kept.collaboration_id = self.collaboration_id;
        diagram.model = model;
        Ok(diagram)
    }

    /// Content is modeled where the source drew it open around it (or drew nothing); drawn
    /// collapsed, its shapes are on a plane of their own, so it is kept as it was with them.
    /// Answers the content that is kept, with where the source drew it open.
    fn settle_sub_processes(
        &mut self,
        model: &mut ProcessModel,
        mut sub_processes: Vec<SubProcessContent>,
    ) -> Vec<SubProcessContent> {
        let di = &self.di;
        sub_processes.retain(|content| {
            let drawn_open =
                di.expanded.contains(&content.id) || !di.shapes.contains_key(&content.id);
            match self.modelable.remove(&content.id) {
                Some(inside) if drawn_open => {
                    self.diagram.warnings.extend(inside);
                    false
                }
                Some(_) => {
                    self.diagram
                        .warnings
                        .push(kept_content_warning(&content.id));
                    true
                }
                None => true,
            }
        });
        for content in &sub_processes {
            // Its content is kept as the source wrote it, so it is not the model's.
            model.remove_content(&content.id);
        }
        sub_processes
            .into_iter()
            .map(|mut content| {
                content.expanded_at = di
                    .expanded
                    .contains(&content.id)
                    .then(|| di.shapes.get(&content.id).copied())
                    .flatten();
                content
            })
            .collect()
    }
}

/// Puts each node in the lane that lists it, keeping only lanes that hold nodes directly
/// (parent lanes of nested lane sets are frames).
fn assign_lanes(model: &mut ProcessModel, lanes: Vec<(crate::model::Lane, Vec<String>)>) {
    for (lane, refs) in lanes {
        for r in &refs {
            if let Some(node) = model.node_mut(r) {
                node.lane = Some(lane.id.clone());
            }
        }
        if !refs.is_empty() {
            model.lanes.push(lane);
        }
    }
    // Tools disagree on whether a boundary event is listed in a lane; it is drawn on its
    // activity, so it belongs to the activity's lane.
    let host_lanes: HashMap<String, Option<String>> = model
        .nodes
        .iter()
        .map(|n| (n.id.clone(), n.lane.clone()))
        .collect();
    for node in &mut model.nodes {
        if let Some(lane) = node.kind.host().and_then(|h| host_lanes.get(h)) {
            node.lane = lane.clone();
        }
    }
}
