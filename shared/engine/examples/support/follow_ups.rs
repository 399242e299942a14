//! A follow-up of each kind the builtin modeler understands, for the conformance run and the
//! round-trip tests.

use procmap_engine::{bpmn::reader, model::NodeKind};

pub const FOLLOW_UP_KINDS: usize = 9;

/// A follow-up of each kind the builtin modeler understands, aimed at the source's own tasks.
pub fn follow_up(i: usize, source: &str) -> String {
    let tasks: Vec<String> = reader::read(source)
        .map(|d| {
            d.model
                .nodes
                .into_iter()
                // Tasks: a call activity or a sub-process cannot be broken down.
                .filter(|n| matches!(n.kind, NodeKind::Task(_)))
                // As a person types the name: a label drawn on two lines is one line here.
                .map(|n| n.name.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|name| !name.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let task = tasks
        .get(1)
        .or(tasks.first())
        .cloned()
        .unwrap_or_else(|| "the first step".into());
    match i % FOLLOW_UP_KINDS {
        0 => "Add an escalation path for urgent cases.".to_owned(),
        1 => format!("Add an approval step before {task}."),
        2 => format!("Add a step to notify the customer after {task}."),
        3 => format!("Add a decision whether the case is complex after {task}."),
        4 => format!("Remove {task}."),
        5 => format!("Rename {task} to Double-check everything."),
        6 => format!("Add a deadline of 2 days to {task}."),
        7 => format!(
            "Break {task} down into check the input, record the result and report the outcome."
        ),
        _ => format!("Put {task} in lane Quality team."),
    }
}
