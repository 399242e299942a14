//! The validator: reads BPMN XML back through the reader (it does not trust the writer) and
//! reports every structural and semantic problem it finds, not just the first.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::collections::VecDeque;

use serde::Serialize;

use super::reader::{read, Diagram};
use crate::model::{EventTrigger, NodeKind, ProcessModel};

/// One thing wrong with a diagram.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Stable machine-readable kind of problem.
    pub code: &'static str,
    pub message: String,
    /// The id of the element at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub element: Option<String>,
}

impl Problem {
    /// A document that could not be read at all.
    pub(crate) fn unreadable(message: String) -> Self {
        Problem::new("unreadable", None, message)
    }

    fn new(code: &'static str, element: Option<&str>, message: String) -> Self {
        Problem {
            code,
            message,
            element: element.map(str::to_owned),
        }
    }

    /// Problems that make a document unusable as a source, as opposed to modeling flaws that a
    /// refinement may leave as it found them.
    pub fn is_structural(&self) -> bool {
        matches!(
            self.code,
            "unreadable"
                | "duplicate_id"
                | "dangling_reference"
                | "empty_process"
                | "misplaced_boundary_event"
                | "cross_scope_flow"
                | "too_large"
        )
    }
}

/// The first few problems' messages, joined: enough to say what is wrong in one line.
pub fn summarise(problems: &[Problem]) -> String {
    problems
        .iter()
        .take(5)
        .map(|p| p.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Validates a document.
pub fn validate(xml: &str) -> Vec<Problem> {
    match read(xml) {
        Ok(diagram) => validate_diagram(&diagram),
        Err(e) => vec![Problem::new("unreadable", None, e.to_string())],
    }
}

/// The most flow nodes and sequence flows a diagram may have. Reading, placing and checking a
/// diagram cost time that grows faster than its size: without this bound a chain of 18,000
/// tasks (1.9 MB, inside the request limit) took 5 s to check and 40 s to refine, past any
/// reasonable wait; at the bound, about a second (`cargo run --release -p procmap-engine
/// --example large_source -- 2500 5000 10000 18000`). Diagrams people read are far smaller.
pub const MAX_FLOW_ELEMENTS: usize = 10_000;

/// Validates a document already read: structure and references first, and only when those
/// hold, the process's semantics and its drawing.
pub fn validate_diagram(diagram: &Diagram) -> Vec<Problem> {
    let mut problems = Vec::new();
    let model = &diagram.model;
    let elements = model.nodes.len() + model.flows.len();
    if elements > MAX_FLOW_ELEMENTS {
        problems.push(Problem::new(
            "too_large",
            Some(&model.id),
            format!(
                "the process has {elements} flow nodes and sequence flows; procmap works on at most {MAX_FLOW_ELEMENTS}"
            ),
        ));
        return problems;
    }
    duplicate_ids(diagram, &mut problems);
    if model.nodes.is_empty() {
        problems.push(Problem::new(
            "empty_process",
            Some(&model.id),
            "the process has no flow nodes".into(),
        ));
        return problems;
    }
    references(diagram, &mut problems);
    if problems.iter().any(Problem::is_structural) {
        return problems;
    }
    let without_dangling_flows;
    let model = if problems.is_empty() {
        model
    } else {
        without_dangling_flows = connected(model);
        &without_dangling_flows
    };
    boundary_events(model, &mut problems);
    // The process, and the content of each expanded sub-process, runs from its own start events
    // to its own end events.
    let scopes = std::iter::once(None).chain(
        model
            .nodes
            .iter()
            .filter(|n| model.is_expanded(&n.id))
            .map(|n| Some(n.id.as_str())),
    );
    for scope in scopes {
        check_scope(model, scope, &mut problems);
    }
    gateways(model, &mut problems);
    drawing(diagram, &mut problems);
    problems
}

/// The model without the flows that name something other than one of its nodes.
pub(crate) fn connected(model: &ProcessModel) -> ProcessModel {
    let mut connected = model.clone();
    connected
        .flows
        .retain(|f| model.node(&f.source).is_some() && model.node(&f.target).is_some());
    connected
}

fn duplicate_ids(diagram: &Diagram, problems: &mut Vec<Problem>) {
    let mut seen = HashSet::new();
    for id in &diagram.ids {
        if !seen.insert(id) {
            problems.push(Problem::new(
                "duplicate_id",
                Some(id),
                format!("the id {id} is used more than once"),
            ));
        }
    }
}

/// Flows that name no node or cross a sub-process's border, boundary events on nothing or on
/// what is not an activity, and defaults that are not the gateway's own flows.
fn references(diagram: &Diagram, problems: &mut Vec<Problem>) {
    let model = &diagram.model;
    let node_ids: HashSet<&str> = model.nodes.iter().map(|n| n.id.as_str()).collect();
    for f in &model.flows {
        // A flow to nowhere is the source's flaw, not a reason to refuse the rest: it is kept
        // as it was, out of the model, and the semantics are checked without it.
        let mut dangling = false;
        for (end, r) in [("sourceRef", &f.source), ("targetRef", &f.target)] {
            if !node_ids.contains(r.as_str()) {
                dangling = true;
                problems.push(Problem::new(
                    "dangling_flow",
                    Some(&f.id),
                    format!("{end} {r:?} of flow {} names no flow node", f.id),
                ));
            }
        }
        if dangling {
            continue;
        }
        if model.parent_of(&f.source) != model.parent_of(&f.target) {
            problems.push(Problem::new(
                "cross_scope_flow",
                Some(&f.id),
                format!(
                    "flow {} crosses the border of a sub-process; a sequence flow stays inside one",
                    f.id
                ),
            ));
        }
    }
    for n in &model.nodes {
        let Some(host) = n.kind.host() else {
            continue;
        };
        match model.node(host) {
            None => problems.push(Problem::new(
                "dangling_reference",
                Some(&n.id),
                format!(
                    "boundary event {} is attached to {host:?}, which is not a flow node",
                    n.id
                ),
            )),
            Some(h) if !h.kind.is_activity() => problems.push(Problem::new(
                "misplaced_boundary_event",
                Some(&n.id),
                format!(
                    "boundary event {} is attached to {}, which is not a task or sub-process",
                    n.id,
                    describe(model, host)
                ),
            )),
            Some(_) => {}
        }
    }
    for (gateway, flow) in &diagram.defaults {
        if !model
            .flows
            .iter()
            .any(|f| &f.id == flow && &f.source == gateway)
        {
            problems.push(Problem::new(
                "dangling_reference",
                Some(gateway),
                format!("default flow {flow} of {gateway} is not one of its outgoing flows"),
            ));
        }
    }
}

/// A boundary event starts a path: nothing flows into it, and an error always interrupts.
fn boundary_events(model: &ProcessModel, problems: &mut Vec<Problem>) {
    for n in &model.nodes {
        let NodeKind::BoundaryEvent {
            trigger,
            interrupting,
            ..
        } = n.kind
        else {
            continue;
        };
        if let Some(f) = model.incoming(&n.id).next() {
            problems.push(Problem::new(
                "invalid_boundary_event",
                Some(&n.id),
                format!(
                    "flow {} enters the boundary event {}; a boundary event starts a path and has no incoming flow",
                    f.id, n.id
                ),
            ));
        }
        if trigger == EventTrigger::Error && !interrupting {
            problems.push(Problem::new(
                "invalid_boundary_event",
                Some(&n.id),
                format!(
                    "the error boundary event {} does not interrupt its activity; an error always does",
                    n.id
                ),
            ));
        }
    }
}

/// Every branch of a split has a condition or is its default; no parallel join waits for
/// branches of an exclusive split.
fn gateways(model: &ProcessModel, problems: &mut Vec<Problem>) {
    for n in &model.nodes {
        let out: Vec<_> = model.outgoing(&n.id).collect();
        if matches!(
            n.kind,
            NodeKind::ExclusiveGateway | NodeKind::InclusiveGateway
        ) && out.len() > 1
        {
            for f in out.iter().filter(|f| {
                !f.is_default && f.condition.as_deref().is_none_or(|c| c.trim().is_empty())
            }) {
                problems.push(Problem::new(
                    "missing_condition",
                    Some(&f.id),
                    format!(
                        "flow {} leaves the split {} without a condition and is not its default",
                        f.id,
                        describe(model, &n.id)
                    ),
                ));
            }
        }
        if matches!(n.kind, NodeKind::ParallelGateway) && model.incoming(&n.id).count() > 1 {
            if let Some(split) = exclusive_split_closed_by(model, &n.id) {
                problems.push(Problem::new("deadlock", Some(&n.id), format!("the parallel join {} waits for every branch of the exclusive split {}, which takes only one: the process would deadlock", n.id, split)));
            }
        }
    }
}

/// Every node has a shape and every flow an edge.
fn drawing(diagram: &Diagram, problems: &mut Vec<Problem>) {
    let model = &diagram.model;
    for n in &model.nodes {
        if !diagram.shapes.contains(&n.id) {
            problems.push(Problem::new(
                "missing_shape",
                Some(&n.id),
                format!("{} has no BPMNShape", describe(model, &n.id)),
            ));
        }
    }
    for f in &model.flows {
        if !diagram.edges.contains(&f.id) {
            problems.push(Problem::new(
                "missing_edge",
                Some(&f.id),
                format!("flow {} has no BPMNEdge", f.id),
            ));
        }
    }
}

/// Start and end events, and reachability, among the nodes directly inside `scope` (the
/// process's top level for `None`).
fn check_scope(model: &ProcessModel, scope: Option<&str>, problems: &mut Vec<Problem>) {
    let in_scope = |kind: fn(&NodeKind) -> bool| -> Vec<&str> {
        model
            .nodes
            .iter()
            .filter(|n| n.parent.as_deref() == scope && kind(&n.kind))
            .map(|n| n.id.as_str())
            .collect()
    };
    let starts = in_scope(|k| matches!(k, NodeKind::StartEvent(_)));
    let ends = in_scope(|k| matches!(k, NodeKind::EndEvent(_)));
    let (owner, whole) = match scope {
        None => (model.id.as_str(), "the process".to_owned()),
        Some(s) => (s, format!("sub-process {}", describe(model, s))),
    };
    if starts.is_empty() {
        problems.push(Problem::new(
            "missing_start_event",
            Some(owner),
            format!("{whole} has no start event"),
        ));
    }
    if ends.is_empty() {
        problems.push(Problem::new(
            "missing_end_event",
            Some(owner),
            format!("{whole} has no end event"),
        ));
    }
    let forward = reach(model, &starts, true);
    let backward = reach(model, &ends, false);
    for n in model.nodes.iter().filter(|n| n.parent.as_deref() == scope) {
        if !starts.is_empty() && !forward.contains(n.id.as_str()) {
            problems.push(Problem::new(
                "unreachable",
                Some(&n.id),
                format!(
                    "{} cannot be reached from a start event",
                    describe(model, &n.id)
                ),
            ));
        }
        if !ends.is_empty() && !backward.contains(n.id.as_str()) {
            problems.push(Problem::new(
                "dead_end",
                Some(&n.id),
                format!(
                    "no end event can be reached from {}",
                    describe(model, &n.id)
                ),
            ));
        }
    }
}

fn describe(model: &ProcessModel, id: &str) -> String {
    match model.node(id) {
        Some(n) if !n.name.is_empty() => format!("{} ({:?})", n.id, n.name),
        _ => id.to_owned(),
    }
}

/// What can be reached from `from` along flows (or against them), where a boundary event is
/// reached from its activity: it can fire whenever the activity runs.
fn reach<'a>(model: &'a ProcessModel, from: &[&'a str], forward: bool) -> HashSet<&'a str> {
    let attachments = model
        .nodes
        .iter()
        .filter_map(|n| Some((n.kind.host()?, n.id.as_str())));
    let steps: Vec<(&str, &str)> = model
        .flows
        .iter()
        .map(|f| (f.source.as_str(), f.target.as_str()))
        .chain(attachments)
        .map(|(from, to)| if forward { (from, to) } else { (to, from) })
        .collect();
    let mut seen: HashSet<&str> = from.iter().copied().collect();
    let mut queue: VecDeque<&str> = from.iter().copied().collect();
    while let Some(id) = queue.pop_front() {
        for &(here, next) in &steps {
            if here == id && seen.insert(next) {
                queue.push_back(next);
            }
        }
    }
    seen
}

/// Walks back from each input of a parallel join to the first split on its path; when two
/// inputs meet at the same exclusive split, only one of them will ever arrive.
fn exclusive_split_closed_by(model: &ProcessModel, join: &str) -> Option<String> {
    let mut first_split: HashMap<String, usize> = HashMap::new();
    for (i, flow) in model.incoming(join).enumerate() {
        let mut current = flow.source.clone();
        let mut visited = HashSet::new();
        while visited.insert(current.clone()) {
            let Some(node) = model.node(&current) else {
                break;
            };
            if model.outgoing(&current).count() > 1 && node.kind.is_gateway() {
                if node.kind == NodeKind::ExclusiveGateway
                    && first_split.insert(current.clone(), i).is_some()
                {
                    return Some(current);
                }
                break;
            }
            let preds: Vec<_> = model.incoming(&current).collect();
            if preds.len() != 1 {
                break;
            }
            current = preds[0].source.clone();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpmn::compile;
    use crate::model::TaskKind;

    fn base() -> ProcessModel {
        let mut m = ProcessModel {
            id: "P".into(),
            name: "p".into(),
            ..Default::default()
        };
        let s = m.add_node(NodeKind::StartEvent(EventTrigger::None), "s", None);
        let t = m.add_node(NodeKind::Task(TaskKind::Plain), "t", None);
        let e = m.add_node(NodeKind::EndEvent(EventTrigger::None), "e", None);
        m.connect(&s, &t, "");
        m.connect(&t, &e, "");
        m
    }

    fn codes(xml: &str) -> Vec<&'static str> {
        validate(xml).into_iter().map(|p| p.code).collect()
    }

    #[test]
    fn a_compiled_simple_process_is_valid() {
        assert_eq!(validate(&compile(&base())), vec![]);
    }

    #[test]
    fn unreachable_nodes_and_dead_ends_are_reported() {
        let mut m = base();
        let orphan = m.add_node(NodeKind::Task(TaskKind::Plain), "orphan", None);
        let _ = orphan;
        let found = codes(&compile(&m));
        assert!(
            found.contains(&"unreachable") && found.contains(&"dead_end"),
            "{found:?}"
        );
    }

    #[test]
    fn a_missing_end_event_is_reported() {
        let mut m = base();
        m.remove_node("EndEvent_1");
        assert!(codes(&compile(&m)).contains(&"missing_end_event"));
    }

    #[test]
    fn an_exclusive_split_closed_by_a_parallel_join_is_a_deadlock() {
        let mut m = ProcessModel {
            id: "P".into(),
            ..Default::default()
        };
        let s = m.add_node(NodeKind::StartEvent(EventTrigger::None), "", None);
        let x = m.add_node(NodeKind::ExclusiveGateway, "?", None);
        let a = m.add_node(NodeKind::Task(TaskKind::Plain), "a", None);
        let b = m.add_node(NodeKind::Task(TaskKind::Plain), "b", None);
        let j = m.add_node(NodeKind::ParallelGateway, "", None);
        let e = m.add_node(NodeKind::EndEvent(EventTrigger::None), "", None);
        m.connect(&s, &x, "");
        m.connect_branch(&x, &a, "yes", "c");
        m.connect_default(&x, &b, "no");
        m.connect(&a, &j, "");
        m.connect(&b, &j, "");
        m.connect(&j, &e, "");
        assert!(codes(&compile(&m)).contains(&"deadlock"));
    }

    #[test]
    fn a_split_branch_without_condition_or_default_is_reported() {
        let mut m = ProcessModel {
            id: "P".into(),
            ..Default::default()
        };
        let s = m.add_node(NodeKind::StartEvent(EventTrigger::None), "", None);
        let x = m.add_node(NodeKind::ExclusiveGateway, "?", None);
        let e1 = m.add_node(NodeKind::EndEvent(EventTrigger::None), "", None);
        let e2 = m.add_node(NodeKind::EndEvent(EventTrigger::None), "", None);
        m.connect(&s, &x, "");
        m.connect(&x, &e1, "");
        m.connect(&x, &e2, "");
        assert_eq!(
            codes(&compile(&m)),
            ["missing_condition", "missing_condition"]
        );
    }

    fn with_boundary_event(trigger: EventTrigger, interrupting: bool) -> (ProcessModel, String) {
        let mut m = base();
        let timer = m.add_node(
            NodeKind::BoundaryEvent {
                trigger,
                host: "Activity_1".into(),
                interrupting,
            },
            "",
            None,
        );
        let end = m.add_node(NodeKind::EndEvent(EventTrigger::None), "", None);
        m.connect(&timer, &end, "");
        (m, timer)
    }

    #[test]
    fn a_boundary_events_path_is_reached_through_its_activity() {
        let (m, _) = with_boundary_event(EventTrigger::Timer, false);
        let xml = compile(&m);
        assert!(xml.contains(r#"attachedToRef="Activity_1" cancelActivity="false""#));
        assert_eq!(validate(&xml), vec![]);
        // Without its path to an end, the event is a dead end like any other node.
        let mut dead = m.clone();
        dead.flows.retain(|f| f.source != "Event_1");
        assert!(codes(&compile(&dead)).contains(&"dead_end"));
    }

    #[test]
    fn misplaced_entered_or_non_interrupting_error_boundary_events_are_reported() {
        let (m, timer) = with_boundary_event(EventTrigger::Error, false);
        assert_eq!(codes(&compile(&m)), ["invalid_boundary_event"]);

        let (mut m, timer2) = with_boundary_event(EventTrigger::Timer, true);
        assert_eq!(timer, timer2);
        m.connect("StartEvent_1", &timer, "");
        assert!(codes(&compile(&m)).contains(&"invalid_boundary_event"));

        let (mut m, _) = with_boundary_event(EventTrigger::Timer, true);
        if let Some(NodeKind::BoundaryEvent { host, .. }) = m.node_mut(&timer).map(|n| &mut n.kind)
        {
            *host = "StartEvent_1".into();
        }
        let problems = validate(&compile(&m));
        assert!(
            problems
                .iter()
                .any(|p| p.code == "misplaced_boundary_event" && p.is_structural()),
            "{problems:?}"
        );
    }

    #[test]
    fn duplicate_ids_dangling_references_and_missing_di_are_reported() {
        let xml = compile(&base());
        let dup = xml.replacen(r#"id="Activity_1""#, r#"id="StartEvent_1""#, 1);
        assert!(codes(&dup).contains(&"duplicate_id"));
        let dangling = xml.replace(r#"targetRef="EndEvent_1""#, r#"targetRef="Nowhere""#);
        // Reported, but not structural: the rest of such a diagram can still be refined.
        assert!(codes(&dangling).contains(&"dangling_flow"));
        assert!(validate(&dangling).iter().all(|p| !p.is_structural()));
        let no_di = xml.replace(r#"bpmnElement="Activity_1""#, r#"bpmnElement="Other""#);
        assert!(codes(&no_di).contains(&"missing_shape"));
    }
}
