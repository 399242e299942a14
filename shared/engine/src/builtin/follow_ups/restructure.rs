//! Follow-ups that change the structure around existing steps: a task broken down into a
//! sub-process, a deadline or timeout on an activity, a renamed step, a step moved to a lane.

use super::anchor::{find_node, phrase_after};
use super::edit::Edit;
use crate::builtin::prose;
use crate::builtin::wording::{capitalise, clean_label, strip_prefix_ci};
use crate::model::{EventTrigger, NodeKind, ProcessModel, TaskKind};

/// "Break Pack order down into pick the items, pack the box and print the label": the task
/// becomes an expanded sub-process, keeping its id, flows and lane, with the steps inside it
/// from a start event to an end event.
pub(super) fn break_down(model: &mut ProcessModel, instruction: &str) -> Option<Edit> {
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
        .map(|part| match prose::parse(part).steps.first() {
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
pub(super) fn add_deadline(model: &mut ProcessModel, instruction: &str) -> Option<Edit> {
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

pub(super) fn rename(model: &mut ProcessModel, rest: &str) -> Option<Edit> {
    let lower = rest.to_lowercase();
    let i = lower.rfind(" to ").or_else(|| lower.rfind(" as "))?;
    let (old, new) = (&rest[..i], &rest[i + 4..]);
    let id = find_node(model, old)?;
    let name = capitalise(new.trim().trim_matches(['"', '\'', '“', '”']).trim());
    let node = model.node_mut(&id)?;
    node.name.clone_from(&name);
    Some(Edit::Renamed { node: id, name })
}

pub(super) fn move_to_lane(model: &mut ProcessModel, rest: &str) -> Option<Edit> {
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
