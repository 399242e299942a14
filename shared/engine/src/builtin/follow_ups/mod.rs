//! Builtin refinement: reads a follow-up prompt as edit operations on the source's model.
//!
//! Understood follow-ups: add an escalation path, add an approval step, add a decision, add a
//! step before/after X, remove X, rename X to Y, put X in lane Y. Each edit touches only what it
//! names, so every other element keeps its id.

use foldhash::HashSet;

mod anchor;
mod edit;
mod insert;
mod restructure;

pub use anchor::{find_node, nodes_meant_by};
pub use edit::Edit;

use insert::{add_approval, add_decision, add_escalation, add_step, move_step};
use restructure::{add_deadline, break_down, move_to_lane, rename};

use super::wording::strip_prefix_ci;
use crate::model::ProcessModel;

/// What the builtin modeler understands, for the error that explains a `NotUnderstood`.
pub const UNDERSTOOD: &str = "add an escalation path, add an approval step, add a decision, add a step \
(\"add a step to notify the customer after Resolve ticket\"), add a deadline (\"add a deadline of 3 days to \
Approve order\", \"add a timeout of 2 hours to Call supplier\"), break X down into A, B and C, remove X, \
rename X to Y, put X in lane Y, move X before (or after) Y";

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
            if let Some(edit) = move_step(model, rest).or_else(|| move_to_lane(model, rest)) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpmn::{self, reader, validate};
    use crate::builtin::builder;
    use crate::model::{EventTrigger, NodeKind};
    use crate::options::OptionStyle;

    fn option(prompt: &str, style: OptionStyle) -> ProcessModel {
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
        "Move Close ticket before Log ticket.",
        "Add a deadline of 3 days to Resolve ticket.",
        "Add a timeout of 2 hours to Log ticket.",
        "Add a deadline of 1 week to Resolve ticket and escalate to the team lead.",
        "Break Resolve ticket down into reproduce the problem, apply the fix and confirm with the customer.",
    ];

    #[test]
    fn every_follow_up_on_every_option_keeps_the_diagram_valid_and_the_ids() {
        for style in OptionStyle::ALL {
            for follow_up in FOLLOW_UPS {
                let mut model = option("Map the customer support ticket triage process.", style);
                let before: Vec<String> = model.nodes.iter().map(|n| n.id.clone()).collect();
                let edits = apply(&mut model, follow_up);
                let xml = bpmn::compile(&model);
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
    fn a_step_is_found_by_its_whole_name_even_when_its_words_are_too_common_to_match() {
        let mut model = option("Task A is done. Then task B is done.", OptionStyle::Concise);
        let names = |m: &ProcessModel| m.nodes.iter().map(|n| n.name.clone()).collect::<Vec<_>>();
        for (i, name) in ["Task A", "Task\nB"].into_iter().enumerate() {
            let task = model
                .nodes
                .iter_mut()
                .filter(|n| n.kind.is_activity())
                .nth(i)
                .expect("two tasks");
            task.name = name.into();
        }
        let edits = apply(&mut model, "Rename task B to Check the case.");
        assert!(
            matches!(edits.as_slice(), [Edit::Renamed { .. }]),
            "{edits:?}"
        );
        assert!(
            names(&model).contains(&"Check the case".to_owned()),
            "{:?}",
            names(&model)
        );
        assert!(names(&model).contains(&"Task A".to_owned()));
    }

    #[test]
    fn follow_ups_do_what_they_say() {
        let base = || {
            option(
                "Map the customer support ticket triage process.",
                OptionStyle::Concise,
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
            [Edit::AddedStep { task, .. }] => {
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

        for vague in [
            "Please make it nicer",
            "Make it nicer",
            "make it better",
            "Improve the diagram",
            "Clean up the whole process",
            "Tidy this up",
        ] {
            let mut m = base();
            let before = m.clone();
            assert_eq!(
                apply(&mut m, &format!("{vague}.")),
                [Edit::NotUnderstood {
                    instruction: vague.into()
                }]
            );
            assert_eq!(
                m, before,
                "an instruction that is not understood changes nothing"
            );
        }
        // A step whose object merely starts like one is still a step.
        let mut m = base();
        assert!(matches!(
            apply(&mut m, "Add a step that makes the payment.").as_slice(),
            [Edit::AddedStep { .. }]
        ));

        // A moved step keeps its id and sits right before its anchor, joined in again.
        let mut m = base();
        let close = id_named(&m, "Close ticket").expect("close");
        let log = id_named(&m, "Log ticket").expect("log");
        let nodes = m.nodes.len();
        assert_eq!(
            apply(&mut m, "Move Close ticket before Log ticket."),
            [Edit::Moved {
                node: close.clone(),
                relation: "before",
                anchor: log.clone(),
            }]
        );
        assert_eq!(m.nodes.len(), nodes);
        let into_log: Vec<&str> = m.incoming(&log).map(|f| f.source.as_str()).collect();
        assert_eq!(into_log, [close.as_str()]);
        assert_eq!(validate::validate(&bpmn::compile(&m)), vec![]);
    }
}
