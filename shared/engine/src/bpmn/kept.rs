//! What a refinement carries over from a source diagram without modeling it: text annotations,
//! associations and groups, data objects and stores, root elements such as messages, the other
//! pools of a collaboration with their message flows, the content of sub-processes, and the
//! shapes that draw them. They are copied through exactly as the source wrote them.

use foldhash::HashSet;
use std::collections::BTreeMap;

use super::carried::Carried;
use super::drawing::{Bounds, Drawing};
use super::vocabulary::{BPMNDI_NS, BPMN_NS, DC_NS, DI_NS, XSI_NS};
use crate::model::{EventTrigger, Flow, ProcessModel};

/// The prefixes the compiler binds itself; a source that binds one of them to another namespace
/// cannot have its XML copied into procmap's document.
const COMPILER_PREFIXES: [(&str, &str); 5] = [
    ("xmlns:bpmn", BPMN_NS),
    ("xmlns:bpmndi", BPMNDI_NS),
    ("xmlns:dc", DC_NS),
    ("xmlns:di", DI_NS),
    ("xmlns:xsi", XSI_NS),
];

static NOTHING_CARRIED: Carried = Carried::NOTHING;

/// Where in the document a kept element belongs; BPMN's schema orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A child of `<definitions>`, such as a message or a category.
    Root,
    /// A data object or store of the process, ordered among its flow elements.
    FlowElement,
    /// An annotation, association or group of the process, ordered after its flow elements.
    Artifact,
    /// A `BPMNShape` or `BPMNEdge`.
    Drawing,
    /// A `BPMNDiagram` after the first: the inside of a collapsed sub-process, on a plane of its
    /// own. Its id is that sub-process's.
    Diagram,
    /// Another pool of the collaboration.
    Participant,
    /// A message flow of the collaboration.
    MessageFlow,
}

impl Place {
    /// Where an element with this local name would be kept, if it is kept at all.
    pub fn of(local: &str, parent: &str) -> Option<Place> {
        match (parent, local) {
            ("definitions", "BPMNDiagram") => Some(Place::Diagram),
            ("definitions", "process" | "collaboration") => None,
            // Imports and extensions come before root elements, relationships after diagrams.
            ("definitions", "import" | "extension" | "relationship") => None,
            ("definitions", _) => Some(Place::Root),
            ("process", "dataObject" | "dataObjectReference" | "dataStoreReference") => {
                Some(Place::FlowElement)
            }
            ("process", "textAnnotation" | "association" | "group") => Some(Place::Artifact),
            ("collaboration", "participant") => Some(Place::Participant),
            ("collaboration", "messageFlow") => Some(Place::MessageFlow),
            ("BPMNPlane", "BPMNShape" | "BPMNEdge") => Some(Place::Drawing),
            _ => None,
        }
    }

    /// Whether an element kept here is copied whole, so that the reader leaves its inside alone.
    /// Shapes and participants are also read: for the drawing, and for the pool's name.
    pub fn copies_whole(self) -> bool {
        !matches!(self, Place::Drawing | Place::Participant)
    }
}

/// One element copied through whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptElement {
    /// Where it goes in the compiled document.
    pub place: Place,
    /// The element's id; for a drawing, the id of the element it draws.
    pub id: String,
    /// The element as the source wrote it.
    pub xml: String,
    /// Flow elements it connects (an association's or message flow's ends): it stays only
    /// while they do.
    pub connects: Vec<String>,
    /// Ids inside it (another pool's process holds its own nodes), whose shapes go with it.
    pub contains: Vec<String>,
}

/// What a sub-process holds. The process model treats a sub-process as one activity; what is
/// inside stays the source's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubProcessContent {
    /// The sub-process node's id.
    pub id: String,
    /// Its children other than `incoming` and `outgoing`, as the source wrote them.
    pub xml: String,
    /// Every id inside it, so that their shapes go where it goes.
    pub contains: Vec<String>,
    /// Where the source drew it open, with its content inside; `None` when drawn collapsed.
    pub expanded_at: Option<Bounds>,
}

/// An event's definition as the source wrote it: a timer's duration or date, a message's
/// reference, an error's code. The model knows only the trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDefinition {
    /// The event node's id.
    pub node: String,
    pub trigger: EventTrigger,
    pub xml: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kept {
    /// Namespace declarations of the source's `<definitions>` beyond the compiler's own.
    pub namespaces: Vec<(String, String)>,
    /// Everything copied through whole, in document order within each place.
    pub elements: Vec<KeptElement>,
    /// What each sub-process holds, by the sub-process's id.
    pub sub_processes: Vec<SubProcessContent>,
    /// Event definitions, written again for as long as their event keeps its trigger.
    pub event_definitions: Vec<EventDefinition>,
    /// What `<definitions>` carries beyond namespaces: its attributes (`exporter`,
    /// `modeler:executionPlatform`), imports and extensions.
    pub definitions: Carried,
    /// What each element of the model carries beyond the model, by the element's id: the
    /// process, its nodes, flows and lanes.
    pub carried: BTreeMap<String, Carried>,
    /// The source's ids for its collaboration and for the pool of the refined process, which
    /// kept message flows and shapes may name.
    pub collaboration_id: Option<String>,
    pub participant_id: Option<String>,
    /// The source's id for the process's lane set.
    pub lane_set_id: Option<String>,
    /// The source's flows that name something other than a flow node: written again as they
    /// were, never refined.
    pub broken_flows: Vec<Flow>,
    /// Why nothing can be kept, when the source's prefixes clash with the compiler's.
    pub clash: Option<String>,
}

impl Kept {
    /// Records a namespace declaration of the source's `<definitions>`.
    pub fn declare(&mut self, name: &str, uri: &str) {
        match COMPILER_PREFIXES.iter().find(|(n, _)| *n == name) {
            Some((_, ours)) if *ours == uri => {}
            Some(_) => {
                self.clash = Some(format!(
                    "the source binds {} to {uri}",
                    name.trim_start_matches("xmlns:")
                ));
            }
            None => self.namespaces.push((name.to_owned(), uri.to_owned())),
        }
    }

    /// What of this can stay in `model`, a refinement of the source drawn as `drawing`, and a
    /// warning for each element that cannot: an association whose end was removed goes with it,
    /// and so does the drawing of anything that went. A sub-process drawn open stays open only
    /// where it still has the place its content was drawn in.
    pub fn for_model(&self, model: &ProcessModel, drawing: &Drawing) -> (Kept, Vec<String>) {
        let mut warnings = Vec::new();
        if let Some(clash) = &self.clash {
            if self.elements.iter().any(|e| e.place != Place::Drawing)
                || !self.sub_processes.is_empty()
                || !self.event_definitions.is_empty()
                || !self.carried.is_empty()
                || !self.definitions.is_empty()
            {
                warnings.push(format!(
                    "elements outside the process model could not be kept: {clash}"
                ));
            }
            return (Kept::default(), warnings);
        }
        let mut elements = self.still_connected(model, &mut warnings);
        let sub_processes = self.sub_processes_in(model, drawing, &mut elements, &mut warnings);
        let kept_ids: HashSet<String> = elements
            .iter()
            .filter(|e| e.place != Place::Diagram)
            .flat_map(|e| std::iter::once(&e.id).chain(&e.contains).cloned())
            .chain(self.broken_flows.iter().map(|f| f.id.clone()))
            .chain(
                sub_processes
                    .iter()
                    .filter(|c| c.expanded_at.is_some())
                    .flat_map(|c| c.contains.iter().cloned()),
            )
            .collect();
        let drawings = self
            .elements
            .iter()
            .filter(|e| e.place == Place::Drawing && kept_ids.contains(&e.id));
        elements.extend(drawings.cloned());
        // A definition goes with its event, and gives way to a new one when the event is retyped.
        let mut event_definitions = Vec::new();
        for definition in &self.event_definitions {
            match model.node(&definition.node) {
                Some(n) if n.kind.trigger() == Some(definition.trigger) => {
                    event_definitions.push(definition.clone());
                }
                Some(_) => warnings.push(format!(
                    "{} has a new trigger; its definition as the source wrote it is not kept",
                    definition.node
                )),
                None => warnings.push(format!(
                    "{} was removed, and with it its event definition",
                    definition.node
                )),
            }
        }
        let carried = self.carried_by(model, &mut warnings);
        let kept = Kept {
            namespaces: self.namespaces.clone(),
            elements,
            sub_processes,
            event_definitions,
            definitions: self.definitions.clone(),
            carried,
            collaboration_id: self.collaboration_id.clone(),
            participant_id: self.participant_id.clone(),
            lane_set_id: self.lane_set_id.clone(),
            broken_flows: self.broken_flows.clone(),
            clash: None,
        };
        (kept, warnings)
    }

    /// What each element still in `model` carries; what a removed element carried goes with
    /// it, and a warning names it.
    fn carried_by(
        &self,
        model: &ProcessModel,
        warnings: &mut Vec<String>,
    ) -> BTreeMap<String, Carried> {
        let mut kept = BTreeMap::new();
        for (id, carried) in &self.carried {
            let is_there = *id == model.id
                || model.flows.iter().any(|f| f.id == *id)
                || self.broken_flows.iter().any(|f| f.id == *id)
                || model.lanes.iter().any(|l| l.id == *id);
            if is_there {
                kept.insert(id.clone(), carried.clone());
            } else if let Some(node) = model.node(id) {
                let (fits, dropped) = carried.fitting(node);
                warnings.extend(dropped);
                kept.insert(id.clone(), fits);
            } else if !carried.describe().is_empty() {
                warnings.push(format!(
                    "{id} was removed, and with it what it carried: {}",
                    carried.describe()
                ));
            }
        }
        kept
    }

    /// What the element `id` carries; nothing for most elements.
    pub fn carried_on(&self, id: &str) -> &Carried {
        self.carried.get(id).unwrap_or(&NOTHING_CARRIED)
    }

    /// The kept elements (drawings and planes aside) whose ends are all still there, in the
    /// model or among what is kept; the others are warned about.
    fn still_connected(
        &self,
        model: &ProcessModel,
        warnings: &mut Vec<String>,
    ) -> Vec<KeptElement> {
        let semantic = || {
            self.elements
                .iter()
                .filter(|e| !matches!(e.place, Place::Drawing | Place::Diagram))
        };
        let mut present: HashSet<&str> = model
            .nodes
            .iter()
            .map(|n| n.id.as_str())
            .chain(model.flows.iter().map(|f| f.id.as_str()))
            .chain(model.lanes.iter().map(|l| l.id.as_str()))
            .chain(self.participant_id.iter().map(String::as_str))
            .chain(
                semantic()
                    .flat_map(|e| std::iter::once(&e.id).chain(&e.contains))
                    .map(String::as_str),
            )
            .collect();
        let mut elements = Vec::new();
        for element in semantic() {
            match element
                .connects
                .iter()
                .find(|id| !present.contains(id.as_str()))
            {
                Some(gone) => {
                    warnings.push(format!(
                        "{} was removed with {gone}, which it connected",
                        element.id
                    ));
                    present.remove(element.id.as_str());
                }
                None => elements.push(element.clone()),
            }
        }
        elements
    }

    /// The content of each sub-process still in the model. One the refinement moved is drawn
    /// collapsed from now on, its content on a plane of its own, added to `elements`; so is the
    /// plane of one that was collapsed already.
    fn sub_processes_in(
        &self,
        model: &ProcessModel,
        drawing: &Drawing,
        elements: &mut Vec<KeptElement>,
        warnings: &mut Vec<String>,
    ) -> Vec<SubProcessContent> {
        let mut sub_processes = Vec::new();
        for content in &self.sub_processes {
            if model.node(&content.id).is_none() {
                warnings.push(format!(
                    "the content of sub-process {} was removed with it",
                    content.id
                ));
                continue;
            }
            let mut content = content.clone();
            if content.expanded_at.is_some()
                && content.expanded_at != drawing.nodes.get(&content.id).copied()
            {
                warnings.push(format!(
                    "sub-process {} is now drawn collapsed, its content on a plane of its own: the refinement moved it",
                    content.id
                ));
                elements.push(self.own_plane(&content));
                content.expanded_at = None;
            } else if content.expanded_at.is_none() {
                elements.extend(
                    self.at(Place::Diagram)
                        .filter(|d| d.id == content.id)
                        .cloned(),
                );
            }
            sub_processes.push(content);
        }
        sub_processes
    }

    pub fn at(&self, place: Place) -> impl Iterator<Item = &KeptElement> {
        self.elements.iter().filter(move |e| e.place == place)
    }

    /// A `BPMNDiagram` drawing a sub-process's content, made of the shapes the source drew
    /// inside it; a plane has coordinates of its own, so they can stay as they were.
    fn own_plane(&self, content: &SubProcessContent) -> KeptElement {
        let drawings: Vec<&str> = self
            .at(Place::Drawing)
            .filter(|d| content.contains.contains(&d.id))
            .map(|d| d.xml.as_str())
            .collect();
        let id = quick_xml::escape::escape(content.id.as_str());
        KeptElement {
            place: Place::Diagram,
            id: content.id.clone(),
            xml: format!(
                "<bpmndi:BPMNDiagram id=\"BPMNDiagram_{id}\">\n    <bpmndi:BPMNPlane id=\"BPMNPlane_{id}\" bpmnElement=\"{id}\">\n      {}\n    </bpmndi:BPMNPlane>\n  </bpmndi:BPMNDiagram>",
                drawings.join("\n      ")
            ),
            connects: Vec::new(),
            contains: Vec::new(),
        }
    }

    /// Whether the compiled document needs a collaboration: for lanes, or for other pools.
    pub fn has_other_pools(&self) -> bool {
        self.at(Place::Participant).next().is_some()
    }

    pub fn content_of(&self, sub_process: &str) -> Option<&SubProcessContent> {
        self.sub_processes.iter().find(|c| c.id == sub_process)
    }

    /// The source's definition of an event, as it wrote it.
    pub fn definition_of(&self, node: &str) -> Option<&EventDefinition> {
        self.event_definitions.iter().find(|d| d.node == node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Flow, Node, NodeKind, TaskKind};

    fn element(place: Place, id: &str, connects: &[&str]) -> KeptElement {
        KeptElement {
            place,
            id: id.into(),
            xml: format!("<x id=\"{id}\"/>"),
            connects: connects.iter().map(|c| (*c).to_owned()).collect(),
            contains: Vec::new(),
        }
    }

    fn model_with(ids: &[&str]) -> ProcessModel {
        ProcessModel {
            nodes: ids
                .iter()
                .map(|id| Node {
                    id: (*id).into(),
                    kind: NodeKind::Task(TaskKind::Plain),
                    name: String::new(),
                    lane: None,
                    parent: None,
                })
                .collect(),
            flows: vec![Flow {
                id: "f1".into(),
                source: ids[0].into(),
                target: ids[0].into(),
                name: String::new(),
                condition: None,
                is_default: false,
            }],
            ..ProcessModel::default()
        }
    }

    #[test]
    fn an_association_goes_with_the_task_it_annotated_and_so_does_its_drawing() {
        let kept = Kept {
            elements: vec![
                element(Place::Artifact, "Note", &[]),
                element(Place::Artifact, "Link", &["Note", "Task_B"]),
                element(Place::Drawing, "Note", &[]),
                element(Place::Drawing, "Link", &[]),
            ],
            ..Kept::default()
        };
        let (with_b, warnings) =
            kept.for_model(&model_with(&["Task_A", "Task_B"]), &Drawing::default());
        assert_eq!(with_b.elements.len(), 4);
        assert!(warnings.is_empty());

        let (without_b, warnings) = kept.for_model(&model_with(&["Task_A"]), &Drawing::default());
        let ids: Vec<_> = without_b
            .elements
            .iter()
            .map(|e| (e.place, e.id.as_str()))
            .collect();
        assert_eq!(
            ids,
            vec![(Place::Artifact, "Note"), (Place::Drawing, "Note")]
        );
        assert_eq!(
            warnings,
            vec!["Link was removed with Task_B, which it connected"]
        );
    }

    #[test]
    fn a_prefix_bound_elsewhere_keeps_nothing_and_says_why() {
        let mut kept = Kept {
            elements: vec![element(Place::Artifact, "Note", &[])],
            ..Kept::default()
        };
        kept.declare("xmlns:bpmn", "http://www.omg.org/spec/BPMN/20100524/MODEL");
        kept.declare("xmlns:camunda", "http://camunda.org/schema/1.0/bpmn");
        assert_eq!(
            kept.namespaces.len(),
            1,
            "the compiler's own binding is not repeated"
        );
        kept.declare("xmlns:di", "urn:something-else");
        let (nothing, warnings) = kept.for_model(&model_with(&["Task_A"]), &Drawing::default());
        assert!(nothing.elements.is_empty());
        assert!(warnings[0].contains("di"), "{warnings:?}");
    }
}
