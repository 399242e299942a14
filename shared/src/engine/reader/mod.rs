//! Reads BPMN 2.0 XML from any tool into a process model, trusting nothing.
//!
//! DTDs are refused outright (no entity can be declared, so none can be expanded or fetched),
//! nesting is bounded, and anything the process model has no place for is reported as a warning
//! rather than dropped in silence.

use std::collections::{HashMap, HashSet};

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

mod copier;
mod drawing;

use super::kept::{EventDefinition, Kept, KeptElement, Place, SubProcessContent};
use super::layout::Layout;
use super::model::{EventTrigger, Flow, Lane, Node, NodeKind, ProcessModel, TaskKind};
use super::writer::BPMN_NS;
use copier::{Copier, Tag};
use drawing::DrawingInProgress;

/// Deepest element nesting accepted; real diagrams stay far below this.
const MAX_DEPTH: usize = 100;
/// Most elements accepted in one document.
const MAX_ELEMENTS: usize = 200_000;
/// Most attributes accepted on one element.
const MAX_ATTRIBUTES: usize = 64;

/// What reading a document found, for refinement and for the validator.
#[derive(Debug, Clone, Default)]
pub struct Diagram {
    pub model: ProcessModel,
    /// Every `id` attribute in document order, to find duplicates.
    pub ids: Vec<String>,
    /// Elements that have a `BPMNShape`.
    pub shapes: HashSet<String>,
    /// Elements that have a `BPMNEdge`.
    pub edges: HashSet<String>,
    /// `default` attributes that name a flow: (gateway, flow).
    pub defaults: Vec<(String, String)>,
    /// Where the source drew the model's nodes, flows, lanes and pool, so that a refinement can
    /// leave what it does not touch where it was.
    pub layout: Layout,
    /// What the model has no place for but a refinement copies through as it was.
    pub kept: Kept,
    /// What the model could not represent.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("the document is not well-formed XML: {0}")]
    Malformed(String),
    #[error("the document is not BPMN 2.0: {0}")]
    NotBpmn(String),
    #[error("the document is refused: {0}")]
    Refused(String),
}

/// One `process` element being read.
#[derive(Default)]
struct ProcessInProgress {
    id: String,
    name: String,
    nodes: Vec<Node>,
    flows: Vec<Flow>,
    lanes: Vec<(Lane, Vec<String>)>,
    /// Its data elements and artifacts, kept as they were.
    kept: Vec<KeptElement>,
    sub_processes: Vec<SubProcessContent>,
    event_definitions: Vec<EventDefinition>,
}

pub fn read(xml: &str) -> Result<Diagram, ReadError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut diagram = Diagram::default();
    let mut processes: Vec<ProcessInProgress> = Vec::new();
    let mut participant_names: HashMap<String, String> = HashMap::new();
    let mut participant_ids: HashMap<String, String> = HashMap::new();
    let mut collaboration_id: Option<String> = None;
    let mut drawing = DrawingInProgress::default();
    let mut stack: Vec<String> = Vec::new();
    let mut saw_definitions = false;
    let mut elements = 0usize;
    // Inside a process: (node index, element depth) of an open flow node, flow or lane.
    let mut open_node: Option<usize> = None;
    let mut open_flow: Option<usize> = None;
    let mut open_lane: Option<usize> = None;
    let mut skip_depth: Option<usize> = None;
    let mut text_target: Option<&'static str> = None;
    // An event definition being copied: (its definition so far, the byte it starts at, depth).
    let mut open_definition: Option<(EventDefinition, usize, usize)> = None;
    // The sub-processes open around what is being read, outermost first: (id, depth).
    let mut scopes: Vec<(String, usize)> = Vec::new();
    // The outermost one: its content is modeled unless something in it has no place in the
    // model, in which case it is kept as the source wrote it.
    let mut outer: Option<OuterSubProcess> = None;
    let mut modelable: HashMap<String, Vec<String>> = HashMap::new();
    let mut copier = Copier::new(xml);

    loop {
        let event_start = reader.buffer_position() as usize;
        let event = reader
            .read_event()
            .map_err(|e| ReadError::Malformed(e.to_string()))?;
        match event {
            Event::DocType(_) => {
                return Err(ReadError::Refused(
                    "DTDs and entity declarations are not allowed".into(),
                ))
            }
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_empty = matches!(event, Event::Empty(_));
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(ReadError::Refused(format!(
                        "more than {MAX_ELEMENTS} elements"
                    )));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(ReadError::Refused(format!(
                        "elements nested deeper than {MAX_DEPTH}"
                    )));
                }
                let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let attrs = attributes(e)?;
                if let Some(id) = attrs.get("id") {
                    diagram.ids.push(id.clone());
                }
                if stack.is_empty() {
                    if local != "definitions" {
                        return Err(ReadError::NotBpmn(format!(
                            "the root element is <{local}>, not <definitions>"
                        )));
                    }
                    let prefix = e
                        .name()
                        .prefix()
                        .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned());
                    let ns_attr = prefix.map_or("xmlns".to_owned(), |p| format!("xmlns:{p}"));
                    if attrs.get(&ns_attr).map(String::as_str) != Some(BPMN_NS) {
                        return Err(ReadError::NotBpmn(format!(
                            "<definitions> is not in the namespace {BPMN_NS}"
                        )));
                    }
                    saw_definitions = true;
                    for (name, uri) in attrs.iter().filter(|(n, _)| n.starts_with("xmlns")) {
                        diagram.kept.declare(name, uri);
                    }
                }
                let depth = stack.len();
                let in_process = stack.iter().any(|s| s == "process");

                let tag = Tag {
                    local: &local,
                    parent: stack.last().map_or("", String::as_str),
                    attrs: &attrs,
                    depth,
                    is_empty,
                    start: event_start,
                    end: reader.buffer_position() as usize,
                };
                let copying_whole = copier.start(
                    &tag,
                    skip_depth.is_some() || outer.is_some(),
                    drawing.planes,
                    &mut diagram.warnings,
                    &mut processes,
                );
                if !copying_whole {
                    match drawing.start(&local, &attrs, is_empty) {
                        Some(drawn) if local == "BPMNShape" => {
                            diagram.shapes.insert(drawn);
                        }
                        Some(drawn) => {
                            diagram.edges.insert(drawn);
                        }
                        None => {}
                    }
                }

                if skip_depth.is_none() && !copying_whole {
                    match local.as_str() {
                        "process" => processes.push(ProcessInProgress {
                            id: attrs.get("id").cloned().unwrap_or_default(),
                            name: attrs.get("name").cloned().unwrap_or_default(),
                            ..Default::default()
                        }),
                        "collaboration" => collaboration_id = attrs.get("id").cloned(),
                        "participant" => {
                            if let (Some(p), Some(name)) =
                                (attrs.get("processRef"), attrs.get("name"))
                            {
                                participant_names.insert(p.clone(), name.clone());
                            }
                            if let (Some(p), Some(id)) = (attrs.get("processRef"), attrs.get("id"))
                            {
                                participant_ids.insert(p.clone(), id.clone());
                            }
                        }
                        _ if in_process => {
                            let process = processes.last_mut().ok_or_else(|| {
                                ReadError::NotBpmn("content outside a process".into())
                            })?;
                            let parent = tag.parent;
                            if let Some(sub) = outer.as_mut().filter(|_| {
                                Place::of(&local, parent).is_some() || local == "laneSet"
                            }) {
                                // Annotations, data or lanes inside a sub-process: its content
                                // is kept whole instead.
                                sub.modelable = false;
                                if !is_empty {
                                    skip_depth = Some(depth);
                                }
                            } else if let Some(kind) = node_kind(&local, &attrs) {
                                let id = attrs.get("id").cloned().unwrap_or_default();
                                report_extension_attributes(e, &id, &mut diagram.warnings);
                                if let Some(d) = attrs.get("default") {
                                    diagram.defaults.push((id.clone(), d.clone()));
                                }
                                process.nodes.push(Node {
                                    id: id.clone(),
                                    kind,
                                    name: attrs.get("name").cloned().unwrap_or_default(),
                                    lane: None,
                                    parent: scopes.last().map(|(s, _)| s.clone()),
                                });
                                open_node = Some(process.nodes.len() - 1);
                                let content = matches!(
                                    local.as_str(),
                                    "subProcess" | "transaction" | "adHocSubProcess"
                                ) && !is_empty;
                                if content && local == "subProcess" {
                                    if outer.is_none() {
                                        copier.start_sub_process(id.clone(), depth);
                                        outer = Some(OuterSubProcess {
                                            id: id.clone(),
                                            modelable: true,
                                            warnings_before: std::mem::take(&mut diagram.warnings),
                                        });
                                    }
                                    scopes.push((id, depth));
                                } else if content {
                                    // A transaction's or ad-hoc sub-process's content is copied
                                    // through as it was: the model has no such scopes.
                                    match outer.as_mut() {
                                        Some(sub) => sub.modelable = false,
                                        None => {
                                            diagram.warnings.push(format!(
                                                "the content of sub-process {id} is not part of the process model; it is kept as it was"
                                            ));
                                            copier.start_sub_process(id, depth);
                                        }
                                    }
                                    skip_depth = Some(depth);
                                }
                            } else if local == "sequenceFlow" {
                                let id = attrs.get("id").map_or("", String::as_str);
                                report_extension_attributes(e, id, &mut diagram.warnings);
                                process.flows.push(Flow {
                                    id: attrs.get("id").cloned().unwrap_or_default(),
                                    source: attrs.get("sourceRef").cloned().unwrap_or_default(),
                                    target: attrs.get("targetRef").cloned().unwrap_or_default(),
                                    name: attrs.get("name").cloned().unwrap_or_default(),
                                    condition: None,
                                    is_default: false,
                                });
                                open_flow = Some(process.flows.len() - 1);
                            } else if local == "conditionExpression" && open_flow.is_some() {
                                text_target = Some("condition");
                                if let Some(f) = open_flow.and_then(|i| process.flows.get_mut(i)) {
                                    f.condition = Some(String::new());
                                }
                            } else if local == "lane" {
                                let lane = Lane {
                                    id: attrs.get("id").cloned().unwrap_or_default(),
                                    name: attrs.get("name").cloned().unwrap_or_default(),
                                };
                                process.lanes.push((lane, Vec::new()));
                                open_lane = Some(process.lanes.len() - 1);
                            } else if local == "flowNodeRef" && open_lane.is_some() {
                                text_target = Some("flowNodeRef");
                            } else if let Some(trigger) = trigger(&local) {
                                if let Some(node) = open_node.and_then(|i| process.nodes.get_mut(i))
                                {
                                    set_trigger(&mut node.kind, trigger);
                                    // Its details (a timer's duration, a message's reference)
                                    // are copied through as they were.
                                    let definition = EventDefinition {
                                        node: node.id.clone(),
                                        trigger,
                                        xml: String::new(),
                                    };
                                    if is_empty {
                                        process.event_definitions.push(EventDefinition {
                                            xml: slice(
                                                xml,
                                                event_start,
                                                reader.buffer_position() as usize,
                                            ),
                                            ..definition
                                        });
                                    } else {
                                        open_definition = Some((definition, event_start, depth));
                                        skip_depth = Some(depth);
                                    }
                                }
                            } else if !matches!(
                                local.as_str(),
                                "incoming" | "outgoing" | "laneSet" | "childLaneSet"
                            ) {
                                // Documentation, extension elements, data associations, timer
                                // details...: not modeled, so not in a refinement. Say so once,
                                // for the element and everything inside it. Inside a
                                // sub-process, the content is kept whole instead.
                                if let Some(sub) = outer.as_mut() {
                                    sub.modelable = false;
                                }
                                let owner = open_node
                                    .and_then(|i| process.nodes.get(i))
                                    .map(|n| n.id.clone())
                                    .or_else(|| {
                                        open_flow
                                            .and_then(|i| process.flows.get(i))
                                            .map(|f| f.id.clone())
                                    })
                                    .map(|owner| format!(" inside {owner}"))
                                    .unwrap_or_default();
                                diagram.warnings.push(format!(
                                    "<{local}>{}{owner} is not part of the process model and is not kept",
                                    attrs.get("id").map(|id| format!(" {id}")).unwrap_or_default()
                                ));
                                if !is_empty {
                                    skip_depth = Some(depth);
                                }
                            }
                        }
                        _ => {}
                    }
                }
                if !is_empty {
                    stack.push(local);
                } else if open_node.is_some() && is_flow_node(&local) {
                    open_node = None;
                } else if local == "sequenceFlow" {
                    open_flow = None;
                }
            }
            Event::End(_) => {
                let local = stack.pop().unwrap_or_default();
                copier.end(
                    stack.len(),
                    reader.buffer_position() as usize,
                    &mut processes,
                );
                if skip_depth == Some(stack.len()) {
                    skip_depth = None;
                }
                if scopes.last().is_some_and(|(_, d)| *d == stack.len()) {
                    scopes.pop();
                    if let Some(sub) = outer.take_if(|_| scopes.is_empty()) {
                        let inside = std::mem::replace(&mut diagram.warnings, sub.warnings_before);
                        if sub.modelable {
                            modelable.insert(sub.id, inside);
                        } else {
                            diagram.warnings.push(kept_content_warning(&sub.id));
                        }
                    }
                }
                if open_definition
                    .as_ref()
                    .is_some_and(|(_, _, depth)| *depth == stack.len())
                {
                    if let (Some((definition, start, _)), Some(process)) =
                        (open_definition.take(), processes.last_mut())
                    {
                        process.event_definitions.push(EventDefinition {
                            xml: slice(xml, start, reader.buffer_position() as usize),
                            ..definition
                        });
                    }
                }
                drawing.end(&local);
                if skip_depth.is_none() {
                    match local.as_str() {
                        "sequenceFlow" => open_flow = None,
                        "lane" => open_lane = None,
                        "conditionExpression" | "flowNodeRef" => text_target = None,
                        l if is_flow_node(l) => open_node = None,
                        _ => {}
                    }
                }
            }
            Event::Text(t) => {
                if skip_depth.is_some() || copier.copying_whole() {
                    continue;
                }
                let text = t
                    .unescape()
                    .map_err(|e| ReadError::Malformed(e.to_string()))?
                    .into_owned();
                let Some(process) = processes.last_mut() else {
                    continue;
                };
                match text_target {
                    Some("condition") => {
                        if let Some(Some(c)) = open_flow
                            .and_then(|i| process.flows.get_mut(i))
                            .map(|f| f.condition.as_mut())
                        {
                            c.push_str(&text);
                        }
                    }
                    Some("flowNodeRef") => {
                        if let Some((_, refs)) = open_lane.and_then(|i| process.lanes.get_mut(i)) {
                            refs.push(text.trim().to_owned());
                        }
                    }
                    _ => {}
                }
            }
            Event::CData(_) | Event::Comment(_) | Event::PI(_) | Event::Decl(_) => {}
            Event::Eof => break,
        }
    }
    if !saw_definitions {
        return Err(ReadError::NotBpmn("the document is empty".into()));
    }
    if !stack.is_empty() {
        return Err(ReadError::Malformed(
            "the document ends inside an element".into(),
        ));
    }

    // Several pools: refine the largest, and say what is left as it was.
    processes.sort_by_key(|p| std::cmp::Reverse(p.nodes.len()));
    let mut processes = processes.into_iter();
    let Some(main) = processes.next() else {
        return Err(ReadError::NotBpmn("the document has no <process>".into()));
    };
    // The other pools stay as the source wrote them, with their own participants and message
    // flows; the refined process keeps its participant's id, which they may name.
    let other_processes: Vec<KeptElement> = std::mem::take(&mut copier.processes)
        .into_iter()
        .filter(|p| p.id != main.id)
        .collect();
    for other in processes {
        diagram.warnings.push(format!(
            "process {} is another pool, not refined; it is kept as it was",
            other.id
        ));
    }
    let main_participant = participant_ids.get(&main.id).cloned();
    let mut model = ProcessModel {
        name: participant_names
            .get(&main.id)
            .cloned()
            .unwrap_or(main.name),
        id: main.id,
        nodes: main.nodes,
        flows: main.flows,
        lanes: Vec::new(),
    };
    for (lane, refs) in main.lanes {
        for r in &refs {
            if let Some(node) = model.node_mut(r) {
                node.lane = Some(lane.id.clone());
            }
        }
        // Keep only lanes that hold nodes directly; parent lanes of nested lane sets are frames.
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
    for (_, flow_id) in &diagram.defaults {
        if let Some(f) = model.flows.iter_mut().find(|f| &f.id == flow_id) {
            f.is_default = true;
        }
    }
    // Content is modeled where the source drew it open around it (or drew nothing); drawn
    // collapsed, its shapes are on a plane of their own, so it is kept as it was with them.
    let mut sub_processes = main.sub_processes;
    sub_processes.retain(|content| {
        let drawn_open =
            drawing.expanded.contains(&content.id) || !drawing.shapes.contains_key(&content.id);
        match modelable.remove(&content.id) {
            Some(inside) if drawn_open => {
                diagram.warnings.extend(inside);
                false
            }
            Some(_) => {
                diagram.warnings.push(kept_content_warning(&content.id));
                true
            }
            None => true,
        }
    });
    for content in &sub_processes {
        // Its content is kept as the source wrote it, so it is not the model's.
        model.remove_content(&content.id);
    }
    diagram
        .defaults
        .retain(|(gateway, _)| model.node(gateway).is_some());
    for node in model.nodes.iter_mut().filter(|n| n.parent.is_some()) {
        node.lane = None;
    }
    diagram.kept.event_definitions = main.event_definitions;
    diagram.kept.sub_processes = sub_processes
        .into_iter()
        .map(|mut content| {
            content.expanded_at = drawing
                .expanded
                .contains(&content.id)
                .then(|| drawing.shapes.get(&content.id).copied())
                .flatten();
            content
        })
        .collect();
    // Root elements first, then the process's own, then drawings and further diagrams.
    let (root, rest) = copier.into_outside();
    diagram.kept.elements = root
        .into_iter()
        .chain(other_processes)
        .chain(main.kept)
        .chain(rest.into_iter().filter(|e| {
            !(e.place == Place::Participant && Some(&e.id) == main_participant.as_ref())
        }))
        .collect();
    diagram.layout = drawing.layout_of(&model, main_participant.as_ref());
    diagram.kept.participant_id = main_participant;
    diagram.kept.collaboration_id = collaboration_id;
    diagram.model = model;
    Ok(diagram)
}

/// The outermost sub-process being read.
struct OuterSubProcess {
    id: String,
    /// Whether everything inside it has a place in the model.
    modelable: bool,
    /// The warnings before it; those about its content count only if the content is modeled.
    warnings_before: Vec<String>,
}

fn kept_content_warning(id: &str) -> String {
    format!(
        "the content of sub-process {id} is not part of the process model; it is kept as it was"
    )
}

fn slice(xml: &str, start: usize, end: usize) -> String {
    xml.get(start..end).unwrap_or_default().trim().to_owned()
}

/// Tools put their own settings in attributes of their own namespace (`camunda:assignee`); the
/// model has no place for them, so each is reported.
fn report_extension_attributes(e: &BytesStart<'_>, owner: &str, warnings: &mut Vec<String>) {
    for attr in e.attributes().flatten() {
        let key = attr.key.as_ref();
        if key.contains(&b':') && !key.starts_with(b"xmlns") {
            warnings.push(format!(
                "attribute {} on {owner} is not part of the process model and is not kept",
                String::from_utf8_lossy(key)
            ));
        }
    }
}

fn attributes(e: &BytesStart<'_>) -> Result<HashMap<String, String>, ReadError> {
    let mut map = HashMap::new();
    for (count, attr) in e.attributes().enumerate() {
        if count >= MAX_ATTRIBUTES {
            return Err(ReadError::Refused(format!(
                "an element has more than {MAX_ATTRIBUTES} attributes"
            )));
        }
        let attr = attr.map_err(|e| ReadError::Malformed(e.to_string()))?;
        let key = attr.key.as_ref();
        // Namespace declarations keep their prefix; every other attribute is known by its local name.
        let name = if key.starts_with(b"xmlns") {
            String::from_utf8_lossy(key).into_owned()
        } else {
            String::from_utf8_lossy(attr.key.local_name().as_ref()).into_owned()
        };
        let value = attr
            .unescape_value()
            .map_err(|e| ReadError::Malformed(e.to_string()))?
            .into_owned();
        map.insert(name, value);
    }
    Ok(map)
}

fn is_flow_node(local: &str) -> bool {
    node_kind(local, &HashMap::new()).is_some()
}

fn node_kind(local: &str, attrs: &HashMap<String, String>) -> Option<NodeKind> {
    Some(match local {
        "boundaryEvent" => NodeKind::BoundaryEvent {
            trigger: EventTrigger::None,
            host: attrs.get("attachedToRef").cloned().unwrap_or_default(),
            interrupting: attrs.get("cancelActivity").map(String::as_str) != Some("false"),
        },
        "startEvent" => NodeKind::StartEvent(EventTrigger::None),
        "endEvent" => NodeKind::EndEvent(EventTrigger::None),
        "intermediateCatchEvent" => NodeKind::IntermediateCatchEvent(EventTrigger::None),
        "intermediateThrowEvent" => NodeKind::IntermediateThrowEvent(EventTrigger::None),
        "task" => NodeKind::Task(TaskKind::Plain),
        "userTask" => NodeKind::Task(TaskKind::User),
        "serviceTask" => NodeKind::Task(TaskKind::Service),
        "manualTask" => NodeKind::Task(TaskKind::Manual),
        "sendTask" => NodeKind::Task(TaskKind::Send),
        "receiveTask" => NodeKind::Task(TaskKind::Receive),
        "scriptTask" => NodeKind::Task(TaskKind::Script),
        "businessRuleTask" => NodeKind::Task(TaskKind::BusinessRule),
        "exclusiveGateway" => NodeKind::ExclusiveGateway,
        "parallelGateway" => NodeKind::ParallelGateway,
        "inclusiveGateway" => NodeKind::InclusiveGateway,
        "eventBasedGateway" => NodeKind::EventBasedGateway,
        "subProcess" => NodeKind::SubProcess,
        "callActivity" | "complexGateway" | "transaction" | "adHocSubProcess" => {
            NodeKind::Other(local.to_owned())
        }
        _ => return None,
    })
}

fn trigger(local: &str) -> Option<EventTrigger> {
    Some(match local {
        "messageEventDefinition" => EventTrigger::Message,
        "timerEventDefinition" => EventTrigger::Timer,
        "signalEventDefinition" => EventTrigger::Signal,
        "errorEventDefinition" => EventTrigger::Error,
        "terminateEventDefinition" => EventTrigger::Terminate,
        "escalationEventDefinition" => EventTrigger::Escalation,
        "conditionalEventDefinition" => EventTrigger::Conditional,
        _ => return None,
    })
}

fn set_trigger(kind: &mut NodeKind, trigger: EventTrigger) {
    match kind {
        NodeKind::StartEvent(t)
        | NodeKind::EndEvent(t)
        | NodeKind::IntermediateCatchEvent(t)
        | NodeKind::IntermediateThrowEvent(t)
        | NodeKind::BoundaryEvent { trigger: t, .. } => *t = trigger,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dtd_is_refused_before_any_entity_is_read() {
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">&x;</definitions>"#;
        assert!(matches!(read(xxe), Err(ReadError::Refused(_))));
    }

    #[test]
    fn absurd_nesting_is_refused() {
        let deep = format!(
            r#"<definitions xmlns="{BPMN_NS}">{}{}</definitions>"#,
            "<a>".repeat(MAX_DEPTH + 5),
            "</a>".repeat(MAX_DEPTH + 5)
        );
        assert!(matches!(read(&deep), Err(ReadError::Refused(_))));
    }

    #[test]
    fn other_xml_is_not_bpmn() {
        assert!(matches!(
            read("<html><body/></html>"),
            Err(ReadError::NotBpmn(_))
        ));
        assert!(read("not xml at all <").is_err());
        assert!(matches!(
            read(r#"<definitions xmlns="urn:other"/>"#),
            Err(ReadError::NotBpmn(_))
        ));
    }
}
