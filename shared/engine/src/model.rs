//! The process model: lanes, typed nodes and sequence flows, and the edits refinement makes.
//!
//! Every diagram procmap emits is compiled from one of these, and every diagram it refines is
//! read back into one. Edits keep the ids of everything they do not touch.

use foldhash::{HashSet, HashSetExt};

/// A whole process: what a modeler produces and the compiler turns into BPMN.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcessModel {
    /// Id of the `bpmn:process` element.
    pub id: String,
    pub name: String,
    /// Lanes, in top-to-bottom order. Empty means a process without a pool.
    pub lanes: Vec<Lane>,
    pub nodes: Vec<Node>,
    pub flows: Vec<Flow>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub id: String,
    pub kind: NodeKind,
    pub name: String,
    /// Id of the lane the node sits in, when the model has lanes. Nodes inside a sub-process
    /// have none: they sit in the sub-process, and it sits in a lane.
    pub lane: Option<String>,
    /// The sub-process the node is inside, or `None` at the process's top level. A sub-process
    /// with nodes inside is drawn expanded, its content in its box; one without is collapsed.
    pub parent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    StartEvent(EventTrigger),
    EndEvent(EventTrigger),
    IntermediateCatchEvent(EventTrigger),
    IntermediateThrowEvent(EventTrigger),
    /// An event on the border of an activity (`host`): while the activity runs, the trigger
    /// starts the event's outgoing path. An interrupting one cancels the activity.
    BoundaryEvent {
        trigger: EventTrigger,
        host: String,
        interrupting: bool,
    },
    Task(TaskKind),
    ExclusiveGateway,
    ParallelGateway,
    InclusiveGateway,
    EventBasedGateway,
    /// A sub-process: expanded when nodes name it as their parent, collapsed otherwise.
    SubProcess,
    /// A flow node this model has no type for, kept under its BPMN element name.
    Other(String),
}

/// What an event waits for or signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventTrigger {
    None,
    Message,
    Timer,
    Signal,
    Error,
    Terminate,
    Escalation,
    Conditional,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    Plain,
    User,
    Service,
    Manual,
    Send,
    Receive,
    Script,
    BusinessRule,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub id: String,
    pub source: String,
    pub target: String,
    /// The label drawn on the flow, such as a branch's answer.
    pub name: String,
    /// The condition of a branch leaving an exclusive or inclusive gateway.
    pub condition: Option<String>,
    /// Taken when no other branch's condition holds.
    pub is_default: bool,
}

impl NodeKind {
    pub fn is_gateway(&self) -> bool {
        matches!(
            self,
            Self::ExclusiveGateway
                | Self::ParallelGateway
                | Self::InclusiveGateway
                | Self::EventBasedGateway
        )
    }

    pub fn is_event(&self) -> bool {
        matches!(
            self,
            Self::StartEvent(_)
                | Self::EndEvent(_)
                | Self::IntermediateCatchEvent(_)
                | Self::IntermediateThrowEvent(_)
                | Self::BoundaryEvent { .. }
        )
    }

    /// The activity a boundary event sits on.
    pub fn host(&self) -> Option<&str> {
        match self {
            Self::BoundaryEvent { host, .. } => Some(host),
            _ => None,
        }
    }

    /// What an event waits for or signals; `None` for everything that is not an event.
    pub fn trigger(&self) -> Option<EventTrigger> {
        match self {
            Self::StartEvent(t)
            | Self::EndEvent(t)
            | Self::IntermediateCatchEvent(t)
            | Self::IntermediateThrowEvent(t)
            | Self::BoundaryEvent { trigger: t, .. } => Some(*t),
            _ => None,
        }
    }

    pub fn is_activity(&self) -> bool {
        matches!(self, Self::Task(_) | Self::SubProcess | Self::Other(_))
    }

    /// Gives an event this trigger; a node that is not an event is left as it is.
    pub fn set_trigger(&mut self, trigger: EventTrigger) {
        match self {
            Self::StartEvent(t)
            | Self::EndEvent(t)
            | Self::IntermediateCatchEvent(t)
            | Self::IntermediateThrowEvent(t)
            | Self::BoundaryEvent { trigger: t, .. } => *t = trigger,
            _ => {}
        }
    }
}

impl ProcessModel {
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    pub fn node_mut(&mut self, id: &str) -> Option<&mut Node> {
        self.nodes.iter_mut().find(|n| n.id == id)
    }

    /// The nodes directly inside a sub-process.
    pub fn children<'a>(&'a self, sub_process: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.nodes
            .iter()
            .filter(move |n| n.parent.as_deref() == Some(sub_process))
    }

    /// Whether a node is a sub-process with modeled content, drawn open around it.
    pub fn is_expanded(&self, id: &str) -> bool {
        self.node(id)
            .is_some_and(|n| n.kind == NodeKind::SubProcess)
            && self.children(id).next().is_some()
    }

    /// The sub-process a node is inside, or `None` at the top level (or for no such node).
    pub fn parent_of(&self, id: &str) -> Option<&str> {
        self.node(id).and_then(|n| n.parent.as_deref())
    }

    pub fn outgoing<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Flow> + 'a {
        self.flows.iter().filter(move |f| f.source == id)
    }

    pub fn incoming<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Flow> + 'a {
        self.flows.iter().filter(move |f| f.target == id)
    }

    fn all_ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.id.as_str())
            .chain(self.lanes.iter().map(|l| l.id.as_str()))
            .chain(self.nodes.iter().map(|n| n.id.as_str()))
            .chain(self.flows.iter().map(|f| f.id.as_str()))
    }

    /// An id starting with `prefix` that nothing in the model uses yet: one past the highest
    /// `{prefix}_{n}` in use. One pass over the ids, where looking for the lowest free number
    /// built a set of them all for every element added, a tenth of the builtin modeler's time.
    /// A removed element's number is not handed out again, so a new element is never taken
    /// for the old one.
    pub fn fresh_id(&self, prefix: &str) -> String {
        let highest = self
            .all_ids()
            .filter_map(|id| {
                id.strip_prefix(prefix)?
                    .strip_prefix('_')?
                    .parse::<u64>()
                    .ok()
            })
            .max()
            .unwrap_or(0);
        match highest.checked_add(1) {
            Some(next) => format!("{prefix}_{next}"),
            // Only a source that numbers an id u64::MAX gets here: look for a free number.
            None => {
                let ids: HashSet<&str> = self.all_ids().collect();
                (1..)
                    .map(|n| format!("{prefix}_{n}"))
                    .find(|id| !ids.contains(id.as_str()))
                    .unwrap_or_default()
            }
        }
    }

    /// Adds a node and answers its id.
    pub fn add_node(&mut self, kind: NodeKind, name: &str, lane: Option<String>) -> String {
        let prefix = match &kind {
            NodeKind::StartEvent(_) => "StartEvent",
            NodeKind::EndEvent(_) => "EndEvent",
            NodeKind::IntermediateCatchEvent(_)
            | NodeKind::IntermediateThrowEvent(_)
            | NodeKind::BoundaryEvent { .. } => "Event",
            NodeKind::Task(_) | NodeKind::SubProcess | NodeKind::Other(_) => "Activity",
            _ => "Gateway",
        };
        let id = self.fresh_id(prefix);
        self.nodes.push(Node {
            id: id.clone(),
            kind,
            name: name.to_owned(),
            lane,
            parent: None,
        });
        id
    }

    /// Adds a plain sequence flow and answers its id.
    pub fn connect(&mut self, source: &str, target: &str, name: &str) -> String {
        let id = self.fresh_id("Flow");
        self.flows.push(Flow {
            id: id.clone(),
            source: source.to_owned(),
            target: target.to_owned(),
            name: name.to_owned(),
            condition: None,
            is_default: false,
        });
        id
    }

    /// Adds a conditional branch leaving a gateway.
    pub fn connect_branch(
        &mut self,
        source: &str,
        target: &str,
        label: &str,
        condition: &str,
    ) -> String {
        let id = self.connect(source, target, label);
        if let Some(flow) = self.flows.iter_mut().find(|f| f.id == id) {
            flow.condition = Some(condition.to_owned());
        }
        id
    }

    /// Adds the default branch leaving a gateway.
    pub fn connect_default(&mut self, source: &str, target: &str, label: &str) -> String {
        let id = self.connect(source, target, label);
        if let Some(flow) = self.flows.iter_mut().find(|f| f.id == id) {
            flow.is_default = true;
        }
        id
    }

    /// Points every flow leaving `from` at `new_source` instead; answers the moved flows' ids.
    pub fn move_outgoing(&mut self, from: &str, new_source: &str) -> Vec<String> {
        let mut moved = Vec::new();
        for flow in self.flows.iter_mut().filter(|f| f.source == from) {
            flow.source = new_source.to_owned();
            moved.push(flow.id.clone());
        }
        moved
    }

    /// Points every flow entering `to` at `new_target` instead.
    pub fn move_incoming(&mut self, to: &str, new_target: &str) {
        for flow in self.flows.iter_mut().filter(|f| f.target == to) {
            flow.target = new_target.to_owned();
        }
    }

    /// Removes a node, joining its predecessors straight to its successors so the process stays
    /// connected. Answers false when there is no such node.
    ///
    /// A boundary event has no predecessor to join, so removing one (or the activity it sits
    /// on) removes the path it starts as well, up to where that path joins the rest of the
    /// process.
    pub fn remove_node(&mut self, id: &str) -> bool {
        let Some(node) = self.node(id) else {
            return false;
        };
        if node.kind.host().is_some() {
            self.remove_exception_path(id);
            return true;
        }
        let boundaries = self.boundary_events_of(id);
        self.remove_content(id);
        self.splice_out(id);
        for boundary in boundaries {
            self.remove_exception_path(&boundary);
        }
        true
    }

    /// Removes everything inside a sub-process, at any depth, with the flows between it.
    pub fn remove_content(&mut self, sub_process: &str) {
        let mut gone: HashSet<String> = HashSet::new();
        let mut inside: Vec<String> = self.children(sub_process).map(|n| n.id.clone()).collect();
        while let Some(child) = inside.pop() {
            inside.extend(self.children(&child).map(|n| n.id.clone()));
            gone.insert(child);
        }
        self.nodes.retain(|n| !gone.contains(&n.id));
        self.flows
            .retain(|f| !gone.contains(&f.source) && !gone.contains(&f.target));
    }

    /// The ids of the boundary events on an activity.
    pub fn boundary_events_of(&self, host: &str) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| n.kind.host() == Some(host))
            .map(|n| n.id.clone())
            .collect()
    }

    /// Removes a boundary event, and every node that no flow reaches once it is gone.
    fn remove_exception_path(&mut self, boundary: &str) {
        let mut doomed = vec![boundary.to_owned()];
        while let Some(id) = doomed.pop() {
            if self.node(&id).is_none() {
                continue;
            }
            let successors: Vec<String> = self.outgoing(&id).map(|f| f.target.clone()).collect();
            doomed.extend(self.boundary_events_of(&id));
            self.flows.retain(|f| f.source != id && f.target != id);
            self.nodes.retain(|n| n.id != id);
            for next in successors {
                let orphaned = self.incoming(&next).next().is_none()
                    && self
                        .node(&next)
                        .is_some_and(|n| !matches!(n.kind, NodeKind::StartEvent(_)));
                if orphaned {
                    doomed.push(next);
                }
            }
        }
    }

    /// Removes a node that flows pass through, joining its predecessors to its successors.
    fn splice_out(&mut self, id: &str) {
        let incoming: Vec<Flow> = self.incoming(id).cloned().collect();
        let outgoing: Vec<Flow> = self.outgoing(id).cloned().collect();
        self.flows.retain(|f| f.source != id && f.target != id);
        self.nodes.retain(|n| n.id != id);
        // Keep the incoming flows (their ids, labels and conditions) and re-aim them at the first
        // successor; further successors (the node was a split) are reached from the first predecessor.
        let Some(first_out) = outgoing.first() else {
            return;
        };
        let first_pred = incoming.first().map(|f| f.source.clone());
        for mut flow in incoming {
            flow.target = first_out.target.clone();
            self.flows.push(flow);
        }
        if let Some(pred) = first_pred {
            for out in outgoing.iter().skip(1) {
                self.connect(&pred, &out.target, &out.name);
            }
        }
    }

    /// The lane of `node`, or the first lane when it has none.
    pub fn lane_of(&self, node: &str) -> Option<String> {
        self.node(node)
            .and_then(|n| n.lane.clone())
            .or_else(|| self.lanes.first().map(|l| l.id.clone()))
    }

    /// Finds a lane by name, adding one when there is none.
    pub fn lane_named(&mut self, name: &str) -> String {
        if let Some(lane) = self
            .lanes
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(name))
        {
            return lane.id.clone();
        }
        let id = self.fresh_id("Lane");
        self.lanes.push(Lane {
            id: id.clone(),
            name: name.to_owned(),
        });
        id
    }

    /// Puts a node in the lane with this name, creating the lane if needed. A model's first lane
    /// puts every other node into a "Process owner" lane, so no node floats outside the pool.
    /// A node inside a sub-process cannot leave it for a lane: the whole sub-process moves.
    /// Answers the lane's id, or `None` when there is no such node.
    pub fn put_in_lane(&mut self, node: &str, lane_name: &str) -> Option<String> {
        let mut node = node.to_owned();
        while let Some(parent) = self.parent_of(&node) {
            node = parent.to_owned();
        }
        self.node(&node)?;
        if self.lanes.is_empty() {
            let owner = self.lane_named("Process owner");
            for n in self.nodes.iter_mut().filter(|n| n.parent.is_none()) {
                n.lane = Some(owner.clone());
            }
        }
        let lane = self.lane_named(lane_name);
        // A boundary event is drawn on its activity, so it sits in the activity's lane.
        let node = match self.node(&node)?.kind.host() {
            Some(host) => host.to_owned(),
            None => node,
        };
        for id in self.boundary_events_of(&node).into_iter().chain([node]) {
            if let Some(n) = self.node_mut(&id) {
                n.lane = Some(lane.clone());
            }
        }
        Some(lane)
    }

    pub fn start_events(&self) -> impl Iterator<Item = &Node> {
        self.nodes
            .iter()
            .filter(|n| matches!(n.kind, NodeKind::StartEvent(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> ProcessModel {
        let mut m = ProcessModel {
            id: "Process_1".into(),
            ..Default::default()
        };
        let s = m.add_node(NodeKind::StartEvent(EventTrigger::None), "Start", None);
        let a = m.add_node(NodeKind::Task(TaskKind::Plain), "A", None);
        let b = m.add_node(NodeKind::Task(TaskKind::Plain), "B", None);
        let e = m.add_node(NodeKind::EndEvent(EventTrigger::None), "End", None);
        m.connect(&s, &a, "");
        m.connect(&a, &b, "");
        m.connect(&b, &e, "");
        m
    }

    #[test]
    fn fresh_ids_never_collide() {
        let m = line();
        let id = m.fresh_id("Activity");
        assert!(m.node(&id).is_none());
        assert_eq!(id, "Activity_3");
    }

    #[test]
    fn a_removed_elements_id_is_not_handed_out_again() {
        let mut m = line();
        assert!(m.remove_node("Activity_1"));
        let id = m.add_node(NodeKind::Task(TaskKind::Plain), "New", None);
        assert_eq!(id, "Activity_3");
    }

    #[test]
    fn an_id_numbered_past_the_counter_still_gets_a_free_id() {
        let mut m = line();
        m.nodes[1].id = format!("Activity_{}", u64::MAX);
        let id = m.fresh_id("Activity");
        assert!(m.node(&id).is_none());
        assert_eq!(id, "Activity_1");
    }

    #[test]
    fn removing_a_node_reconnects_its_neighbours() {
        let mut m = line();
        assert!(m.remove_node("Activity_1"));
        assert_eq!(m.nodes.len(), 3);
        assert_eq!(m.flows.len(), 2);
        let into_b: Vec<_> = m.incoming("Activity_2").collect();
        assert_eq!(into_b.len(), 1);
        assert_eq!(into_b[0].source, "StartEvent_1");
        assert!(!m.remove_node("nope"));
    }
}
