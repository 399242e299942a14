//! The reader's state machine: one method per kind of XML event, building the processes' nodes,
//! flows and lanes as their elements open, fill with text and close.

use foldhash::{HashMap, HashMapExt};
use std::ops::Range;

use quick_xml::events::BytesStart;

use super::attributes::Attributes;
use super::copier::{Copier, Tag};
use super::di::DiInProgress;
use super::diagram::{Diagram, ProcessInProgress, ReadError};
use crate::bpmn::carried::Slot;
use crate::bpmn::kept::{EventDefinition, Place};
use crate::bpmn::vocabulary::{is_flow_node, node_kind, trigger, BPMN_NS};
use crate::model::{EventTrigger, Flow, Lane, Node, NodeKind};

/// Deepest element nesting accepted; real diagrams stay far below this.
pub(super) const MAX_DEPTH: usize = 100;
/// Most elements accepted in one document.
const MAX_ELEMENTS: usize = 200_000;

/// Whose text the reader is collecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextTarget {
    /// A sequence flow's `conditionExpression`.
    Condition,
    /// A lane's `flowNodeRef`.
    FlowNodeRef,
}

/// The outermost sub-process being read.
pub(super) struct OuterSubProcess {
    pub(super) id: String,
    /// Whether everything inside it has a place in the model.
    pub(super) modelable: bool,
    /// The warnings before it; those about its content count only if the content is modeled.
    warnings_before: Vec<String>,
}

/// Everything the reader knows part-way through a document.
pub(super) struct Elements<'x> {
    pub(super) xml: &'x str,
    pub(super) diagram: Diagram,
    pub(super) processes: Vec<ProcessInProgress>,
    /// Pool names and ids, by the process they hold.
    pub(super) participant_names: HashMap<String, String>,
    pub(super) participant_ids: HashMap<String, String>,
    pub(super) collaboration_id: Option<String>,
    pub(super) di: DiInProgress,
    pub(super) copier: Copier<'x>,
    /// Outer sub-processes whose content the model can hold, with the warnings about it.
    pub(super) modelable: HashMap<String, Vec<String>>,
    /// Local names of the open elements, outermost first.
    stack: Vec<String>,
    saw_definitions: bool,
    elements: usize,
    /// Inside a process: the index of an open flow node, flow or lane.
    open_node: Option<usize>,
    pub(super) open_flow: Option<usize>,
    open_lane: Option<usize>,
    /// The depth of an element whose content is passed over.
    pub(super) skip_depth: Option<usize>,
    text_target: Option<TextTarget>,
    /// An event definition being copied: (its definition so far, the byte it starts at, depth).
    open_definition: Option<(EventDefinition, usize, usize)>,
    /// The sub-processes open around what is being read, outermost first: (id, depth).
    scopes: Vec<(String, usize)>,
    /// The outermost one: its content is modeled unless something in it has no place in the
    /// model, in which case it is kept as the source wrote it.
    pub(super) outer: Option<OuterSubProcess>,
    /// The open elements that carry what the model has no place for, innermost last: (id,
    /// local name, depth); `<definitions>` has the id "".
    pub(super) carriers: Vec<(String, String, usize)>,
    /// A child being carried: (its carrier's id and local name, slot, start byte, depth).
    pub(super) open_carry: Option<(String, String, Slot, usize, usize)>,
    /// Where the open `conditionExpression` starts, to keep it as the source wrote it.
    pub(super) open_condition: Option<usize>,
}

impl<'x> Elements<'x> {
    pub(super) fn new(xml: &'x str) -> Self {
        Elements {
            xml,
            diagram: Diagram::default(),
            processes: Vec::new(),
            participant_names: HashMap::new(),
            participant_ids: HashMap::new(),
            collaboration_id: None,
            di: DiInProgress::default(),
            copier: Copier::new(xml),
            modelable: HashMap::new(),
            stack: Vec::new(),
            saw_definitions: false,
            elements: 0,
            open_node: None,
            open_flow: None,
            open_lane: None,
            skip_depth: None,
            text_target: None,
            open_definition: None,
            scopes: Vec::new(),
            outer: None,
            carriers: Vec::new(),
            open_carry: None,
            open_condition: None,
        }
    }

    /// A start tag (or an empty element) spanning `bytes` of the document.
    pub(super) fn start(
        &mut self,
        e: &BytesStart<'_>,
        is_empty: bool,
        bytes: Range<usize>,
    ) -> Result<(), ReadError> {
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            return Err(ReadError::Refused(format!(
                "more than {MAX_ELEMENTS} elements"
            )));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(ReadError::Refused(format!(
                "elements nested deeper than {MAX_DEPTH}"
            )));
        }
        let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
        let attrs = Attributes::of(e)?;
        if let Some(id) = attrs.get("id") {
            self.diagram.ids.push(id.to_owned());
        }
        if self.stack.is_empty() {
            self.root(e, &local, &attrs)?;
            self.carry_attributes(e, "", &local, !is_empty, 0);
        }
        let parent = self.stack.last().cloned().unwrap_or_default();
        let tag = Tag {
            local: &local,
            parent: &parent,
            attrs: &attrs,
            depth: self.stack.len(),
            is_empty,
            start: bytes.start,
            end: bytes.end,
        };
        let copying_whole = self.copier.start(
            &tag,
            self.skip_depth.is_some() || self.outer.is_some(),
            self.di.planes,
            &mut self.diagram.warnings,
            &mut self.processes,
        );
        if !copying_whole {
            match self.di.start(&local, &attrs, is_empty) {
                Some(drawn) if local == "BPMNShape" => {
                    self.diagram.shapes.insert(drawn);
                }
                Some(drawn) => {
                    self.diagram.edges.insert(drawn);
                }
                None => {}
            }
        }
        if self.skip_depth.is_none() && !copying_whole {
            self.model_element(e, &tag)?;
        }
        if !is_empty {
            self.stack.push(local);
        } else if self.open_node.is_some() && is_flow_node(&local) {
            self.open_node = None;
        } else if local == "sequenceFlow" {
            self.open_flow = None;
        }
        Ok(())
    }

    /// The root element must be BPMN's `definitions`; its namespace declarations are kept.
    fn root(
        &mut self,
        e: &BytesStart<'_>,
        local: &str,
        attrs: &Attributes<'_>,
    ) -> Result<(), ReadError> {
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
        if attrs.get(&ns_attr) != Some(BPMN_NS) {
            return Err(ReadError::NotBpmn(format!(
                "<definitions> is not in the namespace {BPMN_NS}"
            )));
        }
        self.saw_definitions = true;
        // In the source's own order, so that a refinement writes them the same way each time.
        let declared = e
            .attributes()
            .flatten()
            .map(|a| String::from_utf8_lossy(a.key.as_ref()).into_owned())
            .filter(|name| name.starts_with("xmlns"));
        for name in declared {
            if let Some(uri) = attrs.get(&name) {
                self.diagram.kept.declare(&name, uri);
            }
        }
        Ok(())
    }

    /// An element the model may have a place for: a process, a pool, or what is inside a process.
    fn model_element(&mut self, e: &BytesStart<'_>, tag: &Tag<'_>) -> Result<(), ReadError> {
        let attrs = tag.attrs;
        match tag.local {
            "process" => {
                let id = attrs.get("id").unwrap_or_default().to_owned();
                self.processes.push(ProcessInProgress {
                    id: id.clone(),
                    name: attrs.get("name").unwrap_or_default().to_owned(),
                    ..Default::default()
                });
                self.carry_attributes(e, &id, tag.local, !tag.is_empty, tag.depth);
            }
            "import" | "extension" | "relationship" if tag.parent == "definitions" => {
                self.carry_child(tag);
            }
            "collaboration" => self.collaboration_id = attrs.get("id").map(str::to_owned),
            "participant" => {
                if let (Some(p), Some(name)) = (attrs.get("processRef"), attrs.get("name")) {
                    self.participant_names.insert(p.to_owned(), name.to_owned());
                }
                if let (Some(p), Some(id)) = (attrs.get("processRef"), attrs.get("id")) {
                    self.participant_ids.insert(p.to_owned(), id.to_owned());
                }
            }
            _ if self.stack.iter().any(|s| s == "process") => self.process_content(e, tag)?,
            _ => {}
        }
        Ok(())
    }

    fn process(&mut self) -> Result<&mut ProcessInProgress, ReadError> {
        self.processes
            .last_mut()
            .ok_or_else(|| ReadError::NotBpmn("content outside a process".into()))
    }

    /// An element inside a process.
    fn process_content(&mut self, e: &BytesStart<'_>, tag: &Tag<'_>) -> Result<(), ReadError> {
        self.process()?;
        let local = tag.local;
        let kept_here = Place::of(local, tag.parent).is_some() || local == "laneSet";
        if let Some(sub) = self.outer.as_mut().filter(|_| kept_here) {
            // Annotations, data or lanes inside a sub-process: its content is kept whole instead.
            sub.modelable = false;
            self.skip_unless_empty(tag);
        } else if let Some(mut kind) = node_kind(local) {
            // What a boundary event is attached to, and whether it interrupts, are attributes.
            if let NodeKind::BoundaryEvent {
                host, interrupting, ..
            } = &mut kind
            {
                host.push_str(tag.attrs.get("attachedToRef").unwrap_or_default());
                *interrupting = tag.attrs.get("cancelActivity") != Some("false");
            }
            self.flow_node(e, tag, kind)?;
        } else if local == "sequenceFlow" {
            self.sequence_flow(e, tag)?;
        } else if local == "conditionExpression" && self.open_flow.is_some() {
            self.text_target = Some(TextTarget::Condition);
            self.open_condition = (!tag.is_empty).then_some(tag.start);
            let open_flow = self.open_flow;
            if let Some(f) = open_flow.and_then(|i| self.processes.last_mut()?.flows.get_mut(i)) {
                f.condition = Some(String::new());
            }
        } else if local == "lane" {
            let lane = Lane {
                id: tag.attrs.get("id").unwrap_or_default().to_owned(),
                name: tag.attrs.get("name").unwrap_or_default().to_owned(),
            };
            self.carry_attributes(e, &lane.id, local, !tag.is_empty, tag.depth);
            let process = self.process()?;
            process.lanes.push((lane, Vec::new()));
            self.open_lane = Some(process.lanes.len() - 1);
        } else if local == "laneSet" && tag.parent == "process" {
            self.process()?.lane_set_id = tag.attrs.get("id").map(str::to_owned);
        } else if local == "flowNodeRef" && self.open_lane.is_some() {
            self.text_target = Some(TextTarget::FlowNodeRef);
        } else if let Some(trigger) = trigger(local) {
            self.event_definition(tag, trigger)?;
        } else if !matches!(local, "incoming" | "outgoing" | "laneSet" | "childLaneSet") {
            self.not_modeled(tag)?;
        }
        Ok(())
    }

    fn skip_unless_empty(&mut self, tag: &Tag<'_>) {
        if !tag.is_empty {
            self.skip_depth = Some(tag.depth);
        }
    }

    fn flow_node(
        &mut self,
        e: &BytesStart<'_>,
        tag: &Tag<'_>,
        kind: NodeKind,
    ) -> Result<(), ReadError> {
        let id = tag.attrs.get("id").unwrap_or_default().to_owned();
        self.carry_attributes(e, &id, tag.local, !tag.is_empty, tag.depth);
        if let Some(d) = tag.attrs.get("default") {
            self.diagram.defaults.push((id.clone(), d.to_owned()));
        }
        let node = Node {
            id: id.clone(),
            kind,
            name: tag.attrs.get("name").unwrap_or_default().to_owned(),
            lane: None,
            parent: self.scopes.last().map(|(s, _)| s.clone()),
        };
        let process = self.process()?;
        process.nodes.push(node);
        self.open_node = Some(process.nodes.len() - 1);
        let has_content =
            !tag.is_empty && matches!(tag.local, "subProcess" | "transaction" | "adHocSubProcess");
        if has_content && tag.local == "subProcess" {
            if self.outer.is_none() {
                self.copier.start_sub_process(id.clone(), tag.depth, true);
                self.outer = Some(OuterSubProcess {
                    id: id.clone(),
                    modelable: true,
                    warnings_before: std::mem::take(&mut self.diagram.warnings),
                });
            }
            self.scopes.push((id, tag.depth));
        } else if has_content {
            // A transaction's or ad-hoc sub-process's content is copied through as it was: the
            // model has no such scopes.
            match self.outer.as_mut() {
                Some(sub) => sub.modelable = false,
                None => {
                    self.diagram.warnings.push(kept_content_warning(&id));
                    self.copier.start_sub_process(id, tag.depth, false);
                }
            }
            self.skip_depth = Some(tag.depth);
        }
        Ok(())
    }

    fn sequence_flow(&mut self, e: &BytesStart<'_>, tag: &Tag<'_>) -> Result<(), ReadError> {
        let attr = |name: &str| tag.attrs.get(name).unwrap_or_default().to_owned();
        let flow = Flow {
            id: attr("id"),
            source: attr("sourceRef"),
            target: attr("targetRef"),
            name: attr("name"),
            condition: None,
            is_default: false,
        };
        self.carry_attributes(e, &flow.id, tag.local, !tag.is_empty, tag.depth);
        let process = self.process()?;
        process.flows.push(flow);
        self.open_flow = Some(process.flows.len() - 1);
        Ok(())
    }

    /// An event definition sets its event's trigger; its details (a timer's duration, a
    /// message's reference) are copied through as they were.
    fn event_definition(&mut self, tag: &Tag<'_>, trigger: EventTrigger) -> Result<(), ReadError> {
        let (open_node, xml) = (self.open_node, self.xml);
        let process = self.process()?;
        let Some(node) = open_node.and_then(|i| process.nodes.get_mut(i)) else {
            return Ok(());
        };
        node.kind.set_trigger(trigger);
        let definition = EventDefinition {
            node: node.id.clone(),
            trigger,
            xml: String::new(),
        };
        if tag.is_empty {
            process.event_definitions.push(EventDefinition {
                xml: slice(xml, tag.start, tag.end),
                ..definition
            });
        } else {
            self.open_definition = Some((definition, tag.start, tag.depth));
            self.skip_depth = Some(tag.depth);
        }
        Ok(())
    }

    /// Documentation, extension elements, data associations...: carried by the element they
    /// are in. Deeper inside a sub-process, its content is kept whole instead; anywhere else,
    /// not modeled, so not in a refinement, which is said once for the element and everything
    /// inside it.
    fn not_modeled(&mut self, tag: &Tag<'_>) -> Result<(), ReadError> {
        if self.carries(tag) {
            self.carry_child(tag);
            return Ok(());
        }
        if let Some(sub) = self.outer.as_mut() {
            sub.modelable = false;
        }
        let (open_node, open_flow) = (self.open_node, self.open_flow);
        let process = self.process()?;
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
        self.diagram.warnings.push(format!(
            "<{}>{}{owner} is not part of the process model and is not kept",
            tag.local,
            tag.attrs
                .get("id")
                .map(|id| format!(" {id}"))
                .unwrap_or_default()
        ));
        self.skip_unless_empty(tag);
        Ok(())
    }

    /// An end tag; the document has been read up to byte `end`.
    pub(super) fn end(&mut self, end: usize) {
        let local = self.stack.pop().unwrap_or_default();
        let depth = self.stack.len();
        self.copier.end(depth, end, &mut self.processes);
        if self.carriers.last().is_some_and(|(_, _, d)| *d == depth) {
            self.carriers.pop();
        }
        if let Some((id, carrier, slot, start, _)) =
            self.open_carry.take_if(|(_, _, _, _, d)| *d == depth)
        {
            let xml = slice(self.xml, start, end);
            if let Some(carried) = self.carried_mut(&id, &carrier) {
                carried.child(slot, xml);
            }
        }
        if self.skip_depth == Some(depth) {
            self.skip_depth = None;
        }
        if self.scopes.last().is_some_and(|(_, d)| *d == depth) {
            self.scopes.pop();
            if self.scopes.is_empty() {
                self.close_outer_sub_process();
            }
        }
        if self
            .open_definition
            .as_ref()
            .is_some_and(|(_, _, d)| *d == depth)
        {
            if let (Some((definition, start, _)), Some(process)) =
                (self.open_definition.take(), self.processes.last_mut())
            {
                process.event_definitions.push(EventDefinition {
                    xml: slice(self.xml, start, end),
                    ..definition
                });
            }
        }
        self.di.end(&local);
        if self.skip_depth.is_none() {
            match local.as_str() {
                "sequenceFlow" => self.open_flow = None,
                "lane" => self.open_lane = None,
                "conditionExpression" => {
                    self.text_target = None;
                    self.keep_condition_as_written(end);
                }
                "flowNodeRef" => self.text_target = None,
                l if is_flow_node(l) => self.open_node = None,
                _ => {}
            }
        }
    }

    /// The outermost sub-process closed: its content is modeled, with the warnings about it,
    /// or kept as the source wrote it.
    fn close_outer_sub_process(&mut self) {
        if let Some(sub) = self.outer.take() {
            let inside = std::mem::replace(&mut self.diagram.warnings, sub.warnings_before);
            if sub.modelable {
                self.modelable.insert(sub.id, inside);
            } else {
                self.diagram.warnings.push(kept_content_warning(&sub.id));
            }
        }
    }

    /// Whether text here may belong to the model, rather than to something passed over or
    /// copied whole.
    pub(super) fn wants_text(&self) -> bool {
        self.skip_depth.is_none() && !self.copier.copying_whole()
    }

    pub(super) fn text(&mut self, text: &str) {
        let (open_flow, open_lane) = (self.open_flow, self.open_lane);
        let Some(process) = self.processes.last_mut() else {
            return;
        };
        match self.text_target {
            Some(TextTarget::Condition) => {
                if let Some(Some(c)) = open_flow
                    .and_then(|i| process.flows.get_mut(i))
                    .map(|f| f.condition.as_mut())
                {
                    c.push_str(text);
                }
            }
            Some(TextTarget::FlowNodeRef) => {
                if let Some((_, refs)) = open_lane.and_then(|i| process.lanes.get_mut(i)) {
                    refs.push(text.trim().to_owned());
                }
            }
            None => {}
        }
    }

    /// The document has been read to its end: it must have been a whole BPMN document.
    pub(super) fn finish(self) -> Result<Diagram, ReadError> {
        if !self.saw_definitions {
            return Err(ReadError::NotBpmn("the document is empty".into()));
        }
        if !self.stack.is_empty() {
            return Err(ReadError::Malformed(
                "the document ends inside an element".into(),
            ));
        }
        self.assemble()
    }
}

pub(super) fn kept_content_warning(id: &str) -> String {
    format!(
        "the content of sub-process {id} is not part of the process model; it is kept as it was"
    )
}

pub(super) fn slice(xml: &str, start: usize, end: usize) -> String {
    xml.get(start..end).unwrap_or_default().trim().to_owned()
}
