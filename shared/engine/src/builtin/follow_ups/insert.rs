//! Follow-ups that add work to the flow: an escalation path, an approval, a decision, a step.
//! Each goes into one flow (after or before a named step, or before the end) and joins it again.

use foldhash::{HashMap, HashMapExt};
use std::collections::VecDeque;

use super::anchor::{find_node, phrase_after};
use super::edit::Edit;
use crate::builtin::prose;
use crate::builtin::wording::{base_verb, capitalise, clean_label, strip_prefix_ci};
use crate::model::{EventTrigger, Node, NodeKind, ProcessModel, TaskKind};

/// The flow after which new work goes: after a named node, before a named node, or by default
/// into the flow that enters the end of the main path ([`main_end`]).
fn insertion_flow(
    model: &ProcessModel,
    instruction: &str,
    default_anchor: Option<String>,
) -> Option<String> {
    if let Some(flow) = named_place(model, instruction) {
        return flow;
    }
    if let Some(anchor) = default_anchor {
        return model.outgoing(&anchor).next().map(|f| f.id.clone());
    }
    let end = main_end(model)?;
    model.incoming(&end.id).next().map(|f| f.id.clone())
}

/// The flow after or before the node the instruction names, if it names one the model has:
/// `Some(None)` when that node has no such flow.
fn named_place(model: &ProcessModel, instruction: &str) -> Option<Option<String>> {
    if let Some(after) = phrase_after(instruction, "after").and_then(|p| find_node(model, p)) {
        return Some(model.outgoing(&after).next().map(|f| f.id.clone()));
    }
    let before = phrase_after(instruction, "before").and_then(|p| find_node(model, p))?;
    let flow = model.incoming(&before).next().map(|f| f.id.clone());
    Some(flow)
}

/// The end event that work added "at the end" goes before: of the process's own end events
/// (not a sub-process's), those the start reaches, the one furthest along, which ends the main
/// path; the first in the document among equals. Work put before an end the start cannot
/// reach would be unreachable too. With no end the start reaches, the first end event.
fn main_end(model: &ProcessModel) -> Option<&Node> {
    let steps = steps_from_start(model);
    let ends = || {
        model
            .nodes
            .iter()
            .filter(|n| n.parent.is_none() && matches!(n.kind, NodeKind::EndEvent(_)))
    };
    ends()
        .filter_map(|n| Some((n, *steps.get(n.id.as_str())?)))
        .rev()
        .max_by_key(|(_, steps)| *steps)
        .map(|(n, _)| n)
        .or_else(|| ends().next())
}

/// How many flows from a start event of the process each node is, at the fewest; a boundary
/// event is one step from its activity. Nodes the start cannot reach are absent.
fn steps_from_start(model: &ProcessModel) -> HashMap<&str, usize> {
    let mut steps: HashMap<&str, usize> = HashMap::new();
    let mut queue: VecDeque<&str> = VecDeque::new();
    for start in model.start_events().filter(|n| n.parent.is_none()) {
        steps.insert(&start.id, 0);
        queue.push_back(&start.id);
    }
    while let Some(node) = queue.pop_front() {
        let next = steps[node] + 1;
        let targets = model.outgoing(node).map(|f| f.target.as_str());
        let boundary = model
            .nodes
            .iter()
            .filter(|n| n.kind.host() == Some(node))
            .map(|n| n.id.as_str());
        for target in targets.chain(boundary) {
            if !steps.contains_key(target) {
                steps.insert(target, next);
                queue.push_back(target);
            }
        }
    }
    steps
}

/// Where a step asked for without a place goes, when the process gives a choice: said in the
/// refinement's warnings, so that no one has to search the diagram for it.
fn placement_note(model: &ProcessModel) -> Option<String> {
    let ends: Vec<&Node> = model
        .nodes
        .iter()
        .filter(|n| n.parent.is_none() && matches!(n.kind, NodeKind::EndEvent(_)))
        .collect();
    let reached = steps_from_start(model);
    let unreachable = ends
        .iter()
        .filter(|n| !reached.contains_key(n.id.as_str()))
        .count();
    if ends.len() < 2 && unreachable == 0 {
        return None;
    }
    let end = main_end(model)?;
    let mut note = format!(
        "the new step goes before end event {} (\"{}\"), where the main path ends; the process has {} end events",
        end.id,
        end.name,
        ends.len()
    );
    if unreachable > 0 {
        note.push_str(&format!(", {unreachable} of which the start cannot reach"));
    }
    Some(note)
}

/// Re-aims flow `flow_id` at `node` and continues from `exit` to the flow's old target.
fn splice(model: &mut ProcessModel, flow_id: &str, entry: &str, exit: &str) {
    let Some(flow) = model.flows.iter_mut().find(|f| f.id == flow_id) else {
        return;
    };
    let old_target = std::mem::replace(&mut flow.target, entry.to_owned());
    model.connect(exit, &old_target, "");
}

fn lane_near(model: &ProcessModel, flow_id: Option<&str>) -> Option<String> {
    let flow = flow_id.and_then(|id| model.flows.iter().find(|f| f.id == id))?;
    model
        .node(&flow.source)
        .and_then(|n| n.lane.clone())
        .or_else(|| model.lane_of(&flow.target))
}

pub(super) fn add_escalation(model: &mut ProcessModel, instruction: &str) -> Edit {
    const TRIAGE_VERBS: &[&str] = &[
        "classify",
        "triage",
        "assess",
        "categorise",
        "categorize",
        "prioritise",
        "prioritize",
        "review",
        "evaluate",
        "check",
        "investigate",
        "log",
    ];
    let default_anchor = TRIAGE_VERBS
        .iter()
        .find_map(|v| {
            model.nodes.iter().find(|n| {
                matches!(n.kind, NodeKind::Task(_)) && n.name.to_lowercase().starts_with(v)
            })
        })
        .or_else(|| {
            model
                .nodes
                .iter()
                .find(|n| matches!(n.kind, NodeKind::Task(_)))
        })
        .map(|n| n.id.clone());
    let flow = insertion_flow(model, instruction, default_anchor);
    let lane = lane_near(model, flow.as_deref());

    let subject =
        phrase_after(instruction, "for").map(|p| clean_label(p.split(" to ").next().unwrap_or(p)));
    let question = match &subject {
        Some(s) if !s.is_empty() => format!("{}?", capitalise(&singular_last(s))),
        _ => "Escalation needed?".to_owned(),
    };
    let target = phrase_after(instruction, "to")
        .map(clean_label)
        .filter(|t| !t.is_empty());
    let task_name = match (target, &subject) {
        (Some(t), _) => format!("Escalate to {t}"),
        (None, Some(s)) => format!(
            "Escalate {}",
            s.split_whitespace()
                .last()
                .map(|w| singular(&w.to_lowercase()))
                .unwrap_or_else(|| "case".into())
        ),
        (None, None) => "Escalate case".to_owned(),
    };
    let decision = model.add_node(NodeKind::ExclusiveGateway, &question, lane.clone());
    let task = model.add_node(NodeKind::Task(TaskKind::User), &task_name, lane.clone());
    let join = model.add_node(NodeKind::ExclusiveGateway, "", lane);
    match flow {
        Some(flow) => splice(model, &flow, &decision, &join),
        None => attach_at_end(model, &decision, &join),
    }
    model.connect_branch(&decision, &task, "Yes", question.trim_end_matches('?'));
    model.connect_default(&decision, &join, "No");
    model.connect(&task, &join, "");
    Edit::AddedEscalation { decision, task }
}

pub(super) fn add_approval(model: &mut ProcessModel, instruction: &str) -> Edit {
    let flow = insertion_flow(model, instruction, None);
    let lane = lane_near(model, flow.as_deref());
    let object = model
        .nodes
        .iter()
        .find(|n| matches!(n.kind, NodeKind::Task(_)))
        .and_then(|n| n.name.split_whitespace().last().map(str::to_lowercase))
        .unwrap_or_else(|| "request".into());
    let task = model.add_node(
        NodeKind::Task(TaskKind::User),
        &format!("Approve {object}"),
        lane.clone(),
    );
    let decision = model.add_node(NodeKind::ExclusiveGateway, "Approved?", lane.clone());
    match flow {
        Some(flow) => splice(model, &flow, &task, &decision),
        None => attach_at_end(model, &task, &decision),
    }
    model.connect(&task, &decision, "");
    // splice continued from the decision without a label; that flow is the approved branch.
    if let Some(approved) = model.flows.iter_mut().find(|f| f.source == decision) {
        approved.name = "Yes".into();
        approved.condition = Some("Approved".into());
    }
    let notify = model.add_node(
        NodeKind::Task(TaskKind::Send),
        "Notify rejection",
        lane.clone(),
    );
    let end = model.add_node(NodeKind::EndEvent(EventTrigger::None), "Rejected", lane);
    model.connect_default(&decision, &notify, "No");
    model.connect(&notify, &end, "");
    Edit::AddedApproval { task, decision }
}

pub(super) fn add_decision(model: &mut ProcessModel, instruction: &str) -> Edit {
    let flow = insertion_flow(model, instruction, None);
    let lane = lane_near(model, flow.as_deref());
    let lower = instruction.to_lowercase();
    let condition = ["whether ", " if "]
        .iter()
        .find_map(|m| lower.find(m).map(|i| &instruction[i + m.len()..]))
        .map(|c| {
            c.split(" after ")
                .next()
                .unwrap_or(c)
                .split(" before ")
                .next()
                .unwrap_or(c)
        })
        .map(clean_label)
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "condition holds".into());
    let question = format!("{}?", capitalise(&condition));
    let decision = model.add_node(NodeKind::ExclusiveGateway, &question, lane.clone());
    let handle = model.add_node(
        NodeKind::Task(TaskKind::Plain),
        &format!("Handle {}", condition.to_lowercase()),
        lane.clone(),
    );
    let join = model.add_node(NodeKind::ExclusiveGateway, "", lane);
    match flow {
        Some(flow) => splice(model, &flow, &decision, &join),
        None => attach_at_end(model, &decision, &join),
    }
    model.connect_branch(&decision, &handle, "Yes", &capitalise(&condition));
    model.connect_default(&decision, &join, "No");
    model.connect(&handle, &join, "");
    Edit::AddedDecision { decision }
}

pub(super) fn add_step(model: &mut ProcessModel, instruction: &str) -> Edit {
    let flow = insertion_flow(model, instruction, None);
    let placement = named_place(model, instruction)
        .is_none()
        .then(|| placement_note(model))
        .flatten();
    let lane = lane_near(model, flow.as_deref());
    let mut text = instruction;
    for prefix in ["add", "insert", "include", "also"] {
        text = strip_prefix_ci(text, prefix).unwrap_or(text);
    }
    for filler in [
        "a", "an", "new", "final", "extra", "step", "task", "activity", "to", "that", "which",
        "called", "named", ":",
    ] {
        text = strip_prefix_ci(text.trim(), filler).unwrap_or(text);
    }
    let text = [" after ", " before ", " at the end", " at the start"]
        .iter()
        .fold(text, |t, m| t.to_lowercase().find(m).map_or(t, |i| &t[..i]));
    // Read the phrase like a description step, so "the agent notifies the customer" gets a verb-first label.
    let label = match prose::parse(text).steps.first() {
        Some(prose::Step::Task { label, .. }) => label.clone(),
        _ => capitalise(&clean_label(text)),
    };
    let verb = label
        .split_whitespace()
        .next()
        .map(str::to_lowercase)
        .unwrap_or_default();
    // A step is an action; text that does not lead with a verb is not one, and guessing would
    // put the user's words on a task they never asked for.
    let kind = match base_verb(&verb) {
        _ if acts_on_the_whole_diagram(&label) => {
            return Edit::NotUnderstood {
                instruction: instruction.to_owned(),
            }
        }
        Some("send" | "notify" | "email" | "inform") => TaskKind::Send,
        Some(_) => TaskKind::Plain,
        None => {
            return Edit::NotUnderstood {
                instruction: instruction.to_owned(),
            }
        }
    };
    let task = model.add_node(NodeKind::Task(kind), &label, lane);
    match flow {
        Some(flow) => splice(model, &flow, &task, &task),
        None => attach_at_end(model, &task, &task),
    }
    Edit::AddedStep { task, placement }
}

/// "Move Notify customer before Review": takes a step out of its flow (joining what was before
/// it to what was after it) and splices it, keeping its id, before or after another node. Only
/// a plain step moves: one with a boundary event or content would take a whole structure along.
pub(super) fn move_step(model: &mut ProcessModel, rest: &str) -> Option<Edit> {
    let lower = rest.to_lowercase();
    let (relation, at) = [("before", " before "), ("after", " after ")]
        .into_iter()
        .filter_map(|(relation, marker)| Some((relation, lower.find(marker)?)))
        .min_by_key(|(_, at)| *at)?;
    let id = find_node(model, &rest[..at])?;
    let anchor = find_node(model, &rest[at + relation.len() + 2..])?;
    let node = model.node(&id)?.clone();
    let single = model.incoming(&id).count() == 1 && model.outgoing(&id).count() == 1;
    if anchor == id
        || !node.kind.is_activity()
        || !single
        || model.is_expanded(&id)
        || !model.boundary_events_of(&id).is_empty()
    {
        return None;
    }
    model.remove_node(&id);
    let flow = named_place(model, &rest[at..])??;
    let lane = lane_near(model, Some(&flow)).or(node.lane.clone());
    let parent = model
        .flows
        .iter()
        .find(|f| f.id == flow)
        .and_then(|f| model.node(&f.source))
        .and_then(|n| n.parent.clone());
    model.nodes.push(crate::model::Node {
        lane: if parent.is_some() { None } else { lane },
        parent,
        ..node
    });
    splice(model, &flow, &id, &id);
    Some(Edit::Moved {
        node: id,
        relation,
        anchor,
    })
}

/// "Make it nicer", "improve the diagram", "clean this up": a verb that reworks something,
/// whose object is the diagram itself, asks for no step of the process.
fn acts_on_the_whole_diagram(label: &str) -> bool {
    const REWORK: &[&str] = &[
        "make",
        "improve",
        "fix",
        "clean",
        "tidy",
        "polish",
        "simplify",
        "optimize",
        "optimise",
        "beautify",
        "redo",
        "rework",
        "enhance",
        "refine",
        "streamline",
        "prettify",
        "reorganize",
        "reorganise",
        "rearrange",
        "restructure",
    ];
    let words: Vec<String> = label
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !matches!(w.as_str(), "up" | "a" | "bit" | "little"))
        .collect();
    let [verb, object, rest @ ..] = words.as_slice() else {
        return false;
    };
    let is_the_diagram = |w: &String| {
        matches!(
            w.as_str(),
            "diagram" | "process" | "model" | "map" | "workflow" | "layout" | "chart" | "flow"
        )
    };
    REWORK.contains(&verb.as_str())
        && match object.as_str() {
            "it" | "this" | "that" | "everything" | "things" | "all" => true,
            "the" | "our" | "my" | "whole" | "entire" => rest.iter().take(2).any(is_the_diagram),
            _ => false,
        }
}

/// A model with no end event (or no flows) gets the new piece after its last node.
fn attach_at_end(model: &mut ProcessModel, entry: &str, exit: &str) {
    let last = model
        .nodes
        .iter()
        .rev()
        .find(|n| {
            n.id != entry
                && n.id != exit
                && model.outgoing(&n.id).next().is_none()
                && !matches!(n.kind, NodeKind::EndEvent(_))
        })
        .map(|n| n.id.clone());
    if let Some(last) = last {
        model.connect(&last, entry, "");
    }
    let end = model.add_node(
        NodeKind::EndEvent(EventTrigger::None),
        "Process completed",
        model.lane_of(exit),
    );
    model.connect(exit, &end, "");
}

fn singular(word: &str) -> String {
    if word.len() > 3 && word.ends_with('s') && !word.ends_with("ss") {
        word[..word.len() - 1].to_owned()
    } else {
        word.to_owned()
    }
}

fn singular_last(phrase: &str) -> String {
    let mut words: Vec<String> = phrase.split_whitespace().map(str::to_owned).collect();
    if let Some(last) = words.last_mut() {
        *last = singular(last);
    }
    words.join(" ")
}
