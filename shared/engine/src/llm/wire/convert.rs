//! Converting a language model's answer into a process model: ids that are plainly meant are
//! mended, every reference is checked, and what cannot be guessed goes back for repair.

use std::collections::{HashMap, HashSet};

use super::{is_valid_id, NodeType, ProcessSpec, MAX_FLOWS, MAX_ID, MAX_LANES, MAX_NODES};
use crate::bpmn::Problem;
use crate::model::{Flow, Lane, Node, ProcessModel};

impl ProcessSpec {
    /// Turns lane and node ids that are not XML ids ("Review claim", "1st check") into ones that
    /// are ("Review_claim", "n1st_check"), everywhere they are named. Small models often use a
    /// node's name as its id; what they mean is plain, so it is no reason to spend a repair round.
    fn mend_ids(&mut self) {
        let ids = self
            .lanes
            .iter()
            .map(|l| &l.id)
            .chain(self.nodes.iter().map(|n| &n.id));
        let mut taken: HashSet<String> =
            ids.clone().filter(|id| is_valid_id(id)).cloned().collect();
        let mut mended: HashMap<String, String> = HashMap::new();
        for id in ids {
            if is_valid_id(id) || mended.contains_key(id) {
                continue;
            }
            let mut base: String = id
                .trim()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                        c
                    } else {
                        '_'
                    }
                })
                .take(MAX_ID as usize - 8)
                .collect();
            if !base.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                base.insert(0, 'n');
            }
            let mut candidate = base.clone();
            let mut n = 2;
            while taken.contains(&candidate) {
                candidate = format!("{base}_{n}");
                n += 1;
            }
            taken.insert(candidate.clone());
            mended.insert(id.clone(), candidate);
        }
        if mended.is_empty() {
            return;
        }
        let mend = |id: &mut String| {
            if let Some(new) = mended.get(id.as_str()) {
                id.clone_from(new);
            }
        };
        for lane in &mut self.lanes {
            mend(&mut lane.id);
        }
        for node in &mut self.nodes {
            mend(&mut node.id);
            for reference in [&mut node.lane, &mut node.parent, &mut node.attached_to]
                .into_iter()
                .flatten()
            {
                mend(reference);
            }
        }
        for flow in &mut self.flows {
            mend(&mut flow.source);
            mend(&mut flow.target);
        }
    }

    /// Gives every flow whose id is missing, malformed or already taken a fresh `Flow_n`.
    /// Language models often reuse a node's id for the flow that leaves it; that is no reason to
    /// spend a repair round.
    fn number_flows(&mut self) {
        let mut taken: HashSet<String> = self
            .lanes
            .iter()
            .map(|l| l.id.clone())
            .chain(self.nodes.iter().map(|n| n.id.clone()))
            .collect();
        let mut next = 1;
        for flow in &mut self.flows {
            if is_valid_id(&flow.id) && !taken.contains(&flow.id) {
                taken.insert(flow.id.clone());
                continue;
            }
            while taken.contains(&format!("Flow_{next}")) {
                next += 1;
            }
            flow.id = format!("Flow_{next}");
            taken.insert(flow.id.clone());
        }
    }

    /// The sub-process each node is inside, where a boundary event is inside its host's.
    fn scopes(&self) -> HashMap<&str, Option<&str>> {
        let parent_of = |id: &str| {
            self.nodes
                .iter()
                .find(|n| n.id == id)
                .and_then(|n| n.parent.as_deref())
        };
        self.nodes
            .iter()
            .map(|n| {
                let scope = match (n.node_type.kind(None, true).host(), &n.attached_to) {
                    (Some(_), Some(host)) => parent_of(host),
                    _ => n.parent.as_deref(),
                };
                (n.id.as_str(), scope)
            })
            .collect()
    }

    /// Checks every id and reference, and converts. Problems name what is wrong, for repair.
    pub fn into_model(mut self) -> Result<ProcessModel, Vec<Problem>> {
        self.mend_ids();
        self.number_flows();
        let mut problems = Problems::default();
        self.check_sizes(&mut problems);
        self.check_ids(&mut problems);
        self.check_parents(&mut problems);
        self.check_attachments_and_lanes(&mut problems);
        self.check_flows(&mut problems);
        if !problems.0.is_empty() {
            return Err(problems.0);
        }
        Ok(self.build())
    }

    fn check_sizes(&self, problems: &mut Problems) {
        for (what, count, max) in [
            ("lanes", self.lanes.len(), MAX_LANES),
            ("nodes", self.nodes.len(), MAX_NODES),
            ("flows", self.flows.len(), MAX_FLOWS),
        ] {
            if count > max as usize {
                problems.add(
                    "too_large",
                    "process",
                    format!("the process has {count} {what}; at most {max} are allowed"),
                );
            }
        }
    }

    /// Every id is a valid one by now (mended or numbered); only clashes remain.
    fn check_ids(&self, problems: &mut Problems) {
        let mut seen = HashSet::new();
        let all_ids = self
            .lanes
            .iter()
            .map(|l| &l.id)
            .chain(self.nodes.iter().map(|n| &n.id))
            .chain(self.flows.iter().map(|f| &f.id));
        for id in all_ids {
            if !seen.insert(id.clone()) {
                problems.add(
                    "duplicate_id",
                    id,
                    format!("the id {id} is used more than once"),
                );
            }
        }
    }

    /// A node is inside a sub-process that exists, and walking up from it reaches the top level.
    fn check_parents(&self, problems: &mut Problems) {
        for n in &self.nodes {
            let Some(parent) = n.parent.as_deref() else {
                continue;
            };
            match self.nodes.iter().find(|p| p.id == parent) {
                None => problems.add(
                    "dangling_reference",
                    &n.id,
                    format!("node {} is inside {parent:?}, which is not a node", n.id),
                ),
                Some(p) if p.node_type != NodeType::SubProcess => problems.add(
                    "invalid_parent",
                    &n.id,
                    format!(
                        "node {} is inside {parent}, which is not a sub_process",
                        n.id
                    ),
                ),
                Some(_) => {
                    let mut seen = HashSet::from([n.id.as_str()]);
                    let mut up = Some(parent);
                    while let Some(id) = up {
                        if !seen.insert(id) {
                            problems.add(
                                "invalid_parent",
                                &n.id,
                                format!("node {} is inside itself through {id}", n.id),
                            );
                            break;
                        }
                        up = self
                            .nodes
                            .iter()
                            .find(|p| p.id == id)
                            .and_then(|p| p.parent.as_deref());
                    }
                }
            }
        }
    }

    /// A boundary event sits on an activity (and in its lane, whatever lane it names); any other
    /// top-level node names an existing lane when the process has lanes.
    fn check_attachments_and_lanes(&self, problems: &mut Problems) {
        let lane_ids: HashSet<&str> = self.lanes.iter().map(|l| l.id.as_str()).collect();
        for n in &self.nodes {
            let kind = n.node_type.kind(None, true);
            if kind.host().is_some() {
                match n.attached_to.as_deref().map(|host| self.nodes.iter().find(|h| h.id == host)) {
                    None => problems.add("missing_attachment", &n.id, format!("boundary event {} needs attached_to: the id of the task or sub-process it sits on", n.id)),
                    Some(None) => problems.add("dangling_reference", &n.id, format!("boundary event {} is attached to {:?}, which is not a node", n.id, n.attached_to.as_deref().unwrap_or_default())),
                    Some(Some(host)) if !host.node_type.kind(None, true).is_activity() => problems.add("misplaced_boundary_event", &n.id, format!("boundary event {} is attached to {}, which is not a task or sub-process", n.id, host.id)),
                    Some(Some(_)) => {}
                }
                continue;
            }
            if n.parent.is_some() {
                continue;
            }
            if let Some(lane) = &n.lane {
                if !lane_ids.contains(lane.as_str()) {
                    problems.add(
                        "dangling_reference",
                        &n.id,
                        format!("node {} names lane {lane:?}, which does not exist", n.id),
                    );
                }
            } else if !self.lanes.is_empty() {
                problems.add(
                    "missing_lane",
                    &n.id,
                    format!("node {} has no lane, but the process has lanes", n.id),
                );
            }
        }
    }

    /// A flow joins two nodes in the same scope.
    fn check_flows(&self, problems: &mut Problems) {
        let node_ids: HashSet<&str> = self.nodes.iter().map(|n| n.id.as_str()).collect();
        let scopes = self.scopes();
        let scope = |id: &str| scopes.get(id).copied().flatten();
        for f in &self.flows {
            for (end, r) in [("source", &f.source), ("target", &f.target)] {
                if !node_ids.contains(r.as_str()) {
                    problems.add(
                        "dangling_reference",
                        &f.id,
                        format!("flow {} has {end} {r:?}, which is not a node", f.id),
                    );
                }
            }
            if node_ids.contains(f.source.as_str())
                && node_ids.contains(f.target.as_str())
                && scope(&f.source) != scope(&f.target)
            {
                let place = |id: &str| {
                    scope(id).map_or("the top level".to_owned(), |s| format!("sub-process {s}"))
                };
                problems.add(
                    "cross_scope_flow",
                    &f.id,
                    format!(
                        "flow {} joins {} in {} to {} in {}; a flow stays inside one sub-process or at the top level",
                        f.id, f.source, place(&f.source), f.target, place(&f.target)
                    ),
                );
            }
        }
    }

    /// The model of a checked answer.
    fn build(self) -> ProcessModel {
        let lane_of: HashMap<String, Option<String>> = self
            .nodes
            .iter()
            .map(|n| (n.id.clone(), n.lane.clone().filter(|_| n.parent.is_none())))
            .collect();
        let scopes: HashMap<String, Option<String>> = self
            .scopes()
            .into_iter()
            .map(|(id, scope)| (id.to_owned(), scope.map(str::to_owned)))
            .collect();
        ProcessModel {
            id: "Process_1".into(),
            name: self.name,
            lanes: self
                .lanes
                .into_iter()
                .map(|l| Lane {
                    id: l.id,
                    name: l.name,
                })
                .collect(),
            nodes: self
                .nodes
                .into_iter()
                .map(|n| {
                    let kind = n.node_type.kind(n.attached_to.as_deref(), n.interrupting);
                    let lane = match kind.host() {
                        Some(host) => lane_of.get(host).cloned().flatten(),
                        None => lane_of.get(&n.id).cloned().flatten(),
                    };
                    Node {
                        parent: scopes.get(&n.id).cloned().flatten(),
                        id: n.id,
                        kind,
                        name: n.name,
                        lane,
                    }
                })
                .collect(),
            flows: self
                .flows
                .into_iter()
                .map(|f| Flow {
                    id: f.id,
                    source: f.source,
                    target: f.target,
                    name: f.label.unwrap_or_default(),
                    condition: f.condition.filter(|c| !c.trim().is_empty()),
                    is_default: f.is_default,
                })
                .collect(),
        }
    }
}

/// The problems found in an answer, each naming the element at fault.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, code: &'static str, element: &str, message: String) {
        self.0.push(Problem {
            code,
            message,
            element: Some(element.to_owned()),
        });
    }
}
