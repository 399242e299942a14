//! Builtin refinement: reads a follow-up prompt as edit operations on the source's model.
//!
//! Understood follow-ups: add an escalation path, add an approval step, add a decision, add a
//! step before/after X, remove X, rename X to Y, put X in lane Y. Each edit touches only what it
//! names, so every other element keeps its id.

use std::collections::HashSet;

use super::model::{EventTrigger, NodeKind, ProcessModel, TaskKind};
use super::prose;
use super::wording::{base_verb, capitalise, clean_label, strip_prefix_ci};

/// One edit, as applied; the list is the refinement's record of what it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    AddedEscalation {
        decision: String,
        task: String,
    },
    AddedApproval {
        task: String,
        decision: String,
    },
    AddedDecision {
        decision: String,
    },
    /// A task turned into an expanded sub-process holding the steps it was broken down into.
    BrokeDown {
        sub_process: String,
        steps: Vec<String>,
    },
    /// A timer on an activity's border, and the path it starts when the time is up.
    AddedDeadline {
        timer: String,
        task: String,
    },
    AddedStep {
        task: String,
    },
    Removed {
        node: String,
    },
    Renamed {
        node: String,
        name: String,
    },
    MovedToLane {
        node: String,
        lane: String,
    },
    /// An instruction the builtin modeler cannot read; the model is left unchanged by it.
    NotUnderstood {
        instruction: String,
    },
}

/// What the builtin modeler understands, for the error that explains a `NotUnderstood`.
pub const UNDERSTOOD: &str = "add an escalation path, add an approval step, add a decision, add a step \
(\"add a step to notify the customer after Resolve ticket\"), add a deadline (\"add a deadline of 3 days to \
Approve order\", \"add a timeout of 2 hours to Call supplier\"), break X down into A, B and C, remove X, \
rename X to Y, put X in lane Y";

/// Applies every instruction in `prompt` to `model`, in order.
pub fn apply(model: &mut ProcessModel, prompt: &str) -> Vec<Edit> {
    let mut edits = Vec::new();
    for instruction in instructions(prompt) {
        let before: HashSet<String> = model.nodes.iter().map(|n| n.id.clone()).collect();
        edits.push(apply_one(model, &instruction));
        adopt_new_nodes(model, &before);
    }
    edits
}

/// New nodes go where the nodes they are connected to are: a step added after a task inside a
/// sub-process is inside it too, and a boundary event is where its activity is. A new node
/// joined to two places at once is left for the validator to report.
fn adopt_new_nodes(model: &mut ProcessModel, before: &HashSet<String>) {
    for _ in 0..=model.nodes.len() {
        let boundary = model.nodes.iter().find_map(|n| {
            let host = model.node(n.kind.host()?)?;
            (!before.contains(&n.id) && n.parent != host.parent)
                .then(|| (n.id.clone(), host.id.clone()))
        });
        let joined = || {
            model.flows.iter().find_map(|f| {
                let (s, t) = (model.node(&f.source)?, model.node(&f.target)?);
                if s.parent == t.parent {
                    None
                } else if !before.contains(&t.id) {
                    Some((t.id.clone(), s.id.clone()))
                } else if !before.contains(&s.id) {
                    Some((s.id.clone(), t.id.clone()))
                } else {
                    None
                }
            })
        };
        let Some((new, beside)) = boundary.or_else(joined) else {
            return;
        };
        let (parent, lane) = model
            .node(&beside)
            .map(|b| (b.parent.clone(), b.lane.clone()))
            .unwrap_or_default();
        if let Some(node) = model.node_mut(&new) {
            node.parent = parent;
            node.lane = lane;
        }
    }
}

fn instructions(prompt: &str) -> Vec<String> {
    prompt
        .split(['.', ';', '\n'])
        .flat_map(|s| s.split(" and then "))
        .map(|s| {
            s.trim()
                .trim_start_matches(|c: char| {
                    c == '-' || c == '*' || c.is_ascii_digit() || c == ')'
                })
                .trim()
                .to_owned()
        })
        .filter(|s| s.split_whitespace().count() >= 2)
        .collect()
}

fn apply_one(model: &mut ProcessModel, instruction: &str) -> Edit {
    let lower = instruction.to_lowercase();
    if let Some(rest) =
        strip_prefix_ci(instruction, "rename").or_else(|| strip_prefix_ci(instruction, "relabel"))
    {
        if let Some(edit) = rename(model, rest) {
            return edit;
        }
    }
    for verb in ["remove", "delete", "drop", "skip", "eliminate"] {
        if let Some(rest) = strip_prefix_ci(instruction, verb) {
            if let Some(id) = find_node(model, rest) {
                model.remove_node(&id);
                return Edit::Removed { node: id };
            }
        }
    }
    for verb in ["put", "move", "assign"] {
        if let Some(rest) = strip_prefix_ci(instruction, verb) {
            if let Some(edit) = move_to_lane(model, rest) {
                return edit;
            }
        }
    }
    if let Some(edit) = break_down(model, instruction) {
        return edit;
    }
    if let Some(edit) = add_deadline(model, instruction) {
        return edit;
    }
    if lower.contains("escalat") {
        return add_escalation(model, instruction);
    }
    if lower.contains("approv") && !lower.starts_with("rename") {
        return add_approval(model, instruction);
    }
    if lower.contains("decision") || lower.contains("check whether") || lower.contains("check if") {
        return add_decision(model, instruction);
    }
    add_step(model, instruction)
}

/// The phrase after a marker word: "… after Log ticket" → "Log ticket".
fn phrase_after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let lower = text.to_lowercase();
    let needle = format!(" {marker} ");
    let i = lower.find(&needle)?;
    Some(text[i + needle.len()..].trim())
}

/// The flow after which new work goes: after a named node, before a named node, or by default
/// into the flow that enters the first end event.
fn insertion_flow(
    model: &ProcessModel,
    instruction: &str,
    default_anchor: Option<String>,
) -> Option<String> {
    if let Some(after) = phrase_after(instruction, "after").and_then(|p| find_node(model, p)) {
        return model.outgoing(&after).next().map(|f| f.id.clone());
    }
    if let Some(before) = phrase_after(instruction, "before").and_then(|p| find_node(model, p)) {
        return model.incoming(&before).next().map(|f| f.id.clone());
    }
    if let Some(anchor) = default_anchor {
        return model.outgoing(&anchor).next().map(|f| f.id.clone());
    }
    let end = model
        .nodes
        .iter()
        .find(|n| matches!(n.kind, NodeKind::EndEvent(_)))?;
    model.incoming(&end.id).next().map(|f| f.id.clone())
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

fn add_escalation(model: &mut ProcessModel, instruction: &str) -> Edit {
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

/// "Break Pack order down into pick the items, pack the box and print the label": the task
/// becomes an expanded sub-process, keeping its id, flows and lane, with the steps inside it
/// from a start event to an end event.
fn break_down(model: &mut ProcessModel, instruction: &str) -> Option<Edit> {
    let lower = instruction.to_lowercase();
    if !["break", "expand", "split", "detail"]
        .iter()
        .any(|verb| lower.starts_with(verb))
    {
        return None;
    }
    let into = lower.find(" into ")?;
    let named = instruction[..into]
        .split_whitespace()
        .skip(1)
        .collect::<Vec<_>>()
        .join(" ");
    let named = named.trim_end_matches(" down");
    let named = strip_prefix_ci(named, "down").unwrap_or(named);
    let id = find_node(model, named)?;
    let node = model.node(&id)?;
    if !matches!(node.kind, NodeKind::Task(_) | NodeKind::SubProcess) || model.is_expanded(&id) {
        return None;
    }
    let labels: Vec<String> = instruction[into + " into ".len()..]
        .split([',', ';'])
        .flat_map(|part| part.split(" and "))
        .flat_map(|part| part.split(" then "))
        .map(|part| part.trim().trim_start_matches("and ").trim())
        .filter(|part| !part.is_empty())
        .map(|part| match prose::read(part).steps.first() {
            Some(prose::Step::Task { label, .. }) => label.clone(),
            _ => capitalise(&clean_label(part)),
        })
        .collect();
    if labels.len() < 2 {
        return None;
    }
    let inside = |model: &mut ProcessModel, kind: NodeKind, name: &str| {
        let child = model.add_node(kind, name, None);
        if let Some(n) = model.node_mut(&child) {
            n.parent = Some(id.clone());
        }
        child
    };
    let name = model.node(&id).map(|n| n.name.clone()).unwrap_or_default();
    let mut previous = inside(
        model,
        NodeKind::StartEvent(EventTrigger::None),
        &format!("{name} started"),
    );
    let mut steps = Vec::new();
    for label in &labels {
        let step = inside(model, NodeKind::Task(TaskKind::Plain), label);
        model.connect(&previous, &step, "");
        steps.push(step.clone());
        previous = step;
    }
    let end = inside(
        model,
        NodeKind::EndEvent(EventTrigger::None),
        &format!("{name} done"),
    );
    model.connect(&previous, &end, "");
    if let Some(n) = model.node_mut(&id) {
        n.kind = NodeKind::SubProcess;
    }
    Some(Edit::BrokeDown {
        sub_process: id,
        steps,
    })
}

/// Words that say how long something may take, and the units such a time is given in.
const DEADLINE_WORDS: &[&str] = &[
    "deadline",
    "timeout",
    "time out",
    "time limit",
    "reminder",
    "within",
    "longer than",
];
const TIME_UNITS: &[&str] = &["minute", "hour", "day", "week", "month"];

/// "Add a deadline of 3 days to Approve order": a non-interrupting timer on the activity that
/// starts a reminder (or, with "escalate to X", an escalation) while the work goes on. "Add a
/// timeout of 2 hours to Call supplier": the timer cancels the activity and the case takes a
/// path of its own. Not a deadline when the instruction gives no time or names no activity.
fn add_deadline(model: &mut ProcessModel, instruction: &str) -> Option<Edit> {
    let lower = instruction.to_lowercase();
    if !DEADLINE_WORDS.iter().any(|w| lower.contains(w)) {
        return None;
    }
    let words: Vec<&str> = instruction.split_whitespace().collect();
    let duration = words.windows(2).find_map(|pair| {
        let amount = pair[0];
        let unit = pair[1]
            .trim_matches(|c: char| !c.is_alphabetic())
            .to_lowercase();
        let is_amount = amount.chars().all(|c| c.is_ascii_digit())
            || [
                "one", "two", "three", "four", "five", "six", "seven", "ten", "a", "an",
            ]
            .contains(&amount.to_lowercase().as_str());
        (is_amount && TIME_UNITS.iter().any(|u| unit.starts_with(u)))
            .then(|| format!("{amount} {unit}"))
    })?;
    let host = ["to", "on", "for", "if", "when"]
        .iter()
        .filter_map(|marker| phrase_after(instruction, marker))
        .chain([instruction])
        .filter_map(|phrase| find_node(model, phrase))
        .find(|id| model.node(id).is_some_and(|n| n.kind.is_activity()))?;
    let lane = model.node(&host).and_then(|n| n.lane.clone());
    let interrupting = ["timeout", "time out", "cancel", "abort"]
        .iter()
        .any(|w| lower.contains(w));
    let escalate_to = lower
        .contains("escalat")
        .then(|| {
            phrase_after(instruction, "escalate to").or_else(|| phrase_after(instruction, "to"))
        })
        .flatten()
        .map(|t| clean_label(t.split(" if ").next().unwrap_or(t)))
        .filter(|t| !t.is_empty() && find_node(model, t).as_deref() != Some(host.as_str()));
    let host_name = model
        .node(&host)
        .map(|n| n.name.clone())
        .unwrap_or_default();
    let (task_name, end_name) = match (&escalate_to, interrupting) {
        (Some(to), _) => (format!("Escalate to {to}"), "Escalated".to_owned()),
        (None, true) => (
            format!("Handle timeout of {}", host_name.to_lowercase()),
            "Timed out".to_owned(),
        ),
        (None, false) => (
            format!("Send reminder to {}", host_name.to_lowercase()),
            "Reminder sent".to_owned(),
        ),
    };
    let timer = model.add_node(
        NodeKind::BoundaryEvent {
            trigger: EventTrigger::Timer,
            host: host.clone(),
            interrupting,
        },
        &duration,
        lane.clone(),
    );
    let task = model.add_node(NodeKind::Task(TaskKind::User), &task_name, lane.clone());
    let end = model.add_node(NodeKind::EndEvent(EventTrigger::None), &end_name, lane);
    model.connect(&timer, &task, "");
    model.connect(&task, &end, "");
    Some(Edit::AddedDeadline { timer, task })
}

fn add_approval(model: &mut ProcessModel, instruction: &str) -> Edit {
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

fn add_decision(model: &mut ProcessModel, instruction: &str) -> Edit {
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

fn add_step(model: &mut ProcessModel, instruction: &str) -> Edit {
    let flow = insertion_flow(model, instruction, None);
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
    let label = match prose::read(text).steps.first() {
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
    Edit::AddedStep { task }
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

fn rename(model: &mut ProcessModel, rest: &str) -> Option<Edit> {
    let lower = rest.to_lowercase();
    let i = lower.rfind(" to ").or_else(|| lower.rfind(" as "))?;
    let (old, new) = (&rest[..i], &rest[i + 4..]);
    let id = find_node(model, old)?;
    let name = capitalise(new.trim().trim_matches(['"', '\'', '“', '”']).trim());
    let node = model.node_mut(&id)?;
    node.name.clone_from(&name);
    Some(Edit::Renamed { node: id, name })
}

fn move_to_lane(model: &mut ProcessModel, rest: &str) -> Option<Edit> {
    let lower = rest.to_lowercase();
    let (i, len) = [" into ", " in ", " to "]
        .iter()
        .find_map(|m| lower.rfind(m).map(|i| (i, m.len())))?;
    let id = find_node(model, &rest[..i])?;
    let lane_text = clean_label(&rest[i + len..]);
    let lane_name = lane_text
        .trim_end_matches(" lane")
        .trim_start_matches("lane ")
        .trim();
    let lane_name = lane_name.strip_suffix(" lane").unwrap_or(lane_name);
    if lane_name.is_empty() {
        return None;
    }
    let lane = model.put_in_lane(&id, &capitalise(lane_name))?;
    Some(Edit::MovedToLane { node: id, lane })
}

const STOPWORDS: &[&str] = &[
    "the", "a", "an", "step", "task", "activity", "node", "and", "for", "with", "from", "into",
    "lane", "of", "to",
];

/// Finds the node a phrase names: the one sharing the most words with it, tasks first.
pub fn find_node(model: &ProcessModel, phrase: &str) -> Option<String> {
    let words: Vec<String> = phrase
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .map(str::to_lowercase)
        .filter(|w| w.len() >= 3 && !STOPWORDS.contains(&w.as_str()))
        .collect();
    if words.is_empty() {
        return None;
    }
    let stem = |w: &str| w.chars().take(5).collect::<String>();
    model
        .nodes
        .iter()
        .filter(|n| !n.name.is_empty())
        .map(|n| {
            let name = n.name.to_lowercase();
            let name_words: Vec<String> = name
                .split(|c: char| !c.is_alphanumeric() && c != '-')
                .map(stem)
                .collect();
            let score = words
                .iter()
                .filter(|w| name_words.contains(&stem(w)))
                .count()
                * 2
                + usize::from(n.kind.is_activity());
            (score, n)
        })
        .filter(|(score, _)| *score >= 2)
        .max_by_key(|(score, n)| {
            (
                *score,
                std::cmp::Reverse(model.nodes.iter().position(|m| m.id == n.id)),
            )
        })
        .map(|(_, n)| n.id.clone())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{builder, reader, validate, writer};

    fn option(prompt: &str, style: builder::OptionStyle) -> ProcessModel {
        builder::build(&builder::describe(prompt), style)
    }

    const FOLLOW_UPS: &[&str] = &[
        "Add an escalation path for high-severity tickets.",
        "Add an approval step before Close ticket.",
        "Add an approval step.",
        "Add a decision whether the customer is a VIP after Log ticket.",
        "Add a step to notify the customer after Resolve ticket.",
        "Add a step to archive the ticket before Log ticket.",
        "Remove Develop fix.",
        "Rename Log ticket to Register ticket.",
        "Put Resolve ticket in lane Second line.",
        "Add a deadline of 3 days to Resolve ticket.",
        "Add a timeout of 2 hours to Log ticket.",
        "Add a deadline of 1 week to Resolve ticket and escalate to the team lead.",
        "Break Resolve ticket down into reproduce the problem, apply the fix and confirm with the customer.",
    ];

    #[test]
    fn every_follow_up_on_every_option_keeps_the_diagram_valid_and_the_ids() {
        for style in builder::OptionStyle::ALL {
            for follow_up in FOLLOW_UPS {
                let mut model = option("Map the customer support ticket triage process.", style);
                let before: Vec<String> = model.nodes.iter().map(|n| n.id.clone()).collect();
                let edits = apply(&mut model, follow_up);
                let xml = writer::compile(&model);
                assert_eq!(
                    validate::validate(&xml),
                    vec![],
                    "{style:?} / {follow_up} / {edits:?}"
                );
                let after = reader::read(&xml).expect("readable").model;
                let removed: Vec<&String> = before
                    .iter()
                    .filter(|id| after.node(id).is_none())
                    .collect();
                let expected_removed = usize::from(follow_up.starts_with("Remove"));
                assert_eq!(
                    removed.len(),
                    expected_removed,
                    "{style:?} / {follow_up}: lost {removed:?}"
                );
            }
        }
    }

    #[test]
    fn follow_ups_do_what_they_say() {
        let base = || {
            option(
                "Map the customer support ticket triage process.",
                builder::OptionStyle::Concise,
            )
        };
        let id_named = |m: &ProcessModel, name: &str| {
            m.nodes
                .iter()
                .find(|n| n.name == name)
                .map(|n| n.id.clone())
        };

        let mut m = base();
        let log = id_named(&m, "Log ticket");
        assert_eq!(
            apply(&mut m, "Rename Log ticket to Register ticket"),
            [Edit::Renamed {
                node: log.clone().expect("log"),
                name: "Register ticket".into()
            }]
        );
        assert_eq!(id_named(&m, "Register ticket"), log);

        let mut m = base();
        let fix = id_named(&m, "Develop fix").expect("fix");
        assert_eq!(
            apply(&mut m, "Remove Develop fix"),
            [Edit::Removed { node: fix.clone() }]
        );
        assert!(m.node(&fix).is_none());

        let mut m = base();
        match apply(&mut m, "Add an approval step before Close ticket").as_slice() {
            [Edit::AddedApproval { task, decision }] => {
                let close = id_named(&m, "Close ticket").expect("close");
                assert_eq!(
                    m.outgoing(task)
                        .map(|f| f.target.as_str())
                        .collect::<Vec<_>>(),
                    [decision.as_str()]
                );
                assert!(m
                    .outgoing(decision)
                    .any(|f| f.target == close && f.name == "Yes"));
            }
            other => panic!("unexpected edits {other:?}"),
        }

        let mut m = base();
        match apply(
            &mut m,
            "Add a step to notify the customer after Resolve ticket",
        )
        .as_slice()
        {
            [Edit::AddedStep { task }] => {
                let resolve = id_named(&m, "Resolve ticket").expect("resolve");
                assert_eq!(
                    m.node(task).map(|n| n.name.as_str()),
                    Some("Notify customer")
                );
                assert_eq!(
                    m.outgoing(&resolve)
                        .map(|f| f.target.as_str())
                        .collect::<Vec<_>>(),
                    [task.as_str()]
                );
            }
            other => panic!("unexpected edits {other:?}"),
        }

        let mut m = base();
        match apply(&mut m, "Put Resolve ticket in lane Second line").as_slice() {
            [Edit::MovedToLane { node, lane }] => {
                assert_eq!(
                    m.node(node).and_then(|n| n.lane.clone()),
                    Some(lane.clone())
                );
                assert!(m
                    .lanes
                    .iter()
                    .any(|l| &l.id == lane && l.name == "Second line"));
                assert!(
                    m.nodes.iter().all(|n| n.lane.is_some()),
                    "a first lane puts every node in a lane"
                );
            }
            other => panic!("unexpected edits {other:?}"),
        }

        let mut m = base();
        let resolve = id_named(&m, "Resolve ticket").expect("resolve");
        match apply(
            &mut m,
            "Break Resolve ticket down into reproduce the problem, apply the fix and confirm with the customer",
        )
        .as_slice()
        {
            [Edit::BrokeDown { sub_process, steps }] => {
                assert_eq!(sub_process, &resolve, "it keeps its id");
                assert_eq!(m.node(&resolve).map(|n| &n.kind), Some(&NodeKind::SubProcess));
                let names: Vec<&str> = steps
                    .iter()
                    .filter_map(|s| m.node(s).map(|n| n.name.as_str()))
                    .collect();
                assert_eq!(names, ["Reproduce problem", "Apply fix", "Confirm with customer"]);
                assert_eq!(m.children(&resolve).count(), 5, "a start, three steps, an end");
                assert!(m.is_expanded(&resolve));
            }
            other => panic!("unexpected edits {other:?}"),
        }

        let mut m = base();
        match apply(&mut m, "Add a deadline of 3 days to Resolve ticket").as_slice() {
            [Edit::AddedDeadline { timer, task }] => {
                let resolve = id_named(&m, "Resolve ticket").expect("resolve");
                let timer_node = m.node(timer).expect("timer");
                assert_eq!(
                    timer_node.kind,
                    NodeKind::BoundaryEvent {
                        trigger: EventTrigger::Timer,
                        host: resolve.clone(),
                        interrupting: false
                    }
                );
                assert_eq!(timer_node.name, "3 days");
                assert_eq!(
                    m.node(task).map(|n| n.name.as_str()),
                    Some("Send reminder to resolve ticket")
                );
                assert!(m.outgoing(timer).any(|f| &f.target == task));
                assert!(m.incoming(timer).next().is_none());
            }
            other => panic!("unexpected edits {other:?}"),
        }

        let mut m = base();
        match apply(
            &mut m,
            "Add a timeout of 2 hours to Log ticket and escalate to the duty manager",
        )
        .as_slice()
        {
            [Edit::AddedDeadline { timer, task }] => {
                assert!(matches!(
                    m.node(timer).map(|n| &n.kind),
                    Some(NodeKind::BoundaryEvent {
                        interrupting: true,
                        ..
                    })
                ));
                assert_eq!(
                    m.node(task).map(|n| n.name.as_str()),
                    Some("Escalate to duty manager")
                );
            }
            other => panic!("unexpected edits {other:?}"),
        }
        // Removing the activity takes its timer and the path the timer started with it.
        let log = id_named(&m, "Log ticket").expect("log");
        let count = m.nodes.len();
        m.remove_node(&log);
        assert_eq!(m.nodes.len(), count - 4);
        assert!(m.nodes.iter().all(|n| n.kind.host().is_none()));

        let mut m = base();
        let before = m.clone();
        assert_eq!(
            apply(&mut m, "Please make it nicer."),
            [Edit::NotUnderstood {
                instruction: "Please make it nicer".into()
            }]
        );
        assert_eq!(
            m, before,
            "an instruction that is not understood changes nothing"
        );
    }
}
