//! Property tests: any process the builtin modeler can describe, in any option style and after
//! any follow-up it understands, compiles to BPMN that the independent validator accepts, with
//! no overlapping shapes and every element id kept across a read-back.

use procmap_engine::{
    bpmn::{self, layout, reader, validate},
    builtin::{
        builder, follow_ups,
        prose::{Description, Step},
    },
    model::{ProcessModel, TaskKind},
    options::OptionStyle,
};
use proptest::prelude::*;

const ACTORS: &[&str] = &["Clerk", "Manager", "System", "Customer", "Finance team"];
const VERBS: &[&str] = &[
    "Review", "Approve", "Send", "Check", "Record", "Ship", "Prepare", "Notify",
];
const OBJECTS: &[&str] = &["order", "claim", "invoice", "ticket", "contract", "report"];

fn task() -> impl Strategy<Value = Step> {
    (
        prop::option::of(prop::sample::select(ACTORS)),
        prop::sample::select(VERBS),
        prop::sample::select(OBJECTS),
    )
        .prop_map(|(actor, verb, object)| Step::Task {
            actor: actor.map(str::to_owned),
            label: format!("{verb} {object}"),
            kind: TaskKind::Plain,
        })
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let leaf = prop::collection::vec(task(), 1..4);
    leaf.prop_recursive(3, 24, 3, |inner| {
        prop::collection::vec(
            prop_oneof![
                3 => task().prop_map(|t| vec![t]),
                1 => (inner.clone(), prop::collection::vec(task(), 0..2), any::<bool>()).prop_map(|(yes, mut no, ends)| {
                    if ends {
                        no.push(Step::End { label: "Process ended".into() });
                    }
                    vec![Step::Decision { question: "Condition holds?".into(), yes, no }]
                }),
                1 => prop::collection::vec(inner.clone(), 2..4).prop_map(|branches| vec![Step::Parallel { branches }]),
                1 => inner.clone().prop_map(|body| vec![Step::Loop { body, question: "Done?".into() }]),
            ],
            1..4,
        )
        .prop_map(|nested| nested.into_iter().flatten().collect())
    })
}

fn style() -> impl Strategy<Value = OptionStyle> {
    prop::sample::select(OptionStyle::ALL.to_vec())
}

fn description(steps: Vec<Step>) -> Description {
    Description {
        title: "Random process".into(),
        start_label: "Start".into(),
        end_label: "Done".into(),
        steps,
    }
}

fn ids(model: &ProcessModel) -> Vec<String> {
    let mut ids: Vec<String> = model
        .nodes
        .iter()
        .map(|n| n.id.clone())
        .chain(model.flows.iter().map(|f| f.id.clone()))
        .collect();
    ids.sort();
    ids
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_described_process_compiles_to_valid_bpmn(steps in steps(), style in style()) {
        let model = builder::build(&description(steps), style);
        let xml = bpmn::compile(&model);
        prop_assert_eq!(validate::validate(&xml), vec![]);
        let back = reader::read(&xml).expect("the compiler's output reads back");
        prop_assert_eq!(ids(&back.model), ids(&model));

        let placed = layout::layout(&model);
        let shapes: Vec<_> = placed.nodes.values().collect();
        for (i, a) in shapes.iter().enumerate() {
            for b in &shapes[i + 1..] {
                let overlap = a.x < b.right() && b.x < a.right() && a.y < b.bottom() && b.y < a.bottom();
                prop_assert!(!overlap, "{:?} overlaps {:?}", a, b);
            }
        }
    }

    #[test]
    fn every_understood_follow_up_keeps_the_diagram_valid(steps in steps(), style in style(), pick in 0usize..9, target in 0usize..8) {
        let model = builder::build(&description(steps), style);
        let tasks: Vec<String> = model.nodes.iter().filter(|n| n.kind.is_activity()).map(|n| n.name.clone()).collect();
        let task = &tasks[target % tasks.len()];
        let follow_up = match pick {
            0 => "Add an escalation path for urgent cases.".to_owned(),
            1 => format!("Add an approval step before {task}."),
            2 => format!("Add a step to notify the customer after {task}."),
            3 => format!("Add a decision whether the case is complex after {task}."),
            4 => format!("Remove {task}."),
            5 => format!("Rename {task} to Something else."),
            6 => format!("Add a deadline of 2 days to {task}."),
            7 => format!("Break {task} down into check the input, record the result and report the outcome."),
            _ => format!("Put {task} in lane Quality team."),
        };
        let source = bpmn::compile(&model);
        let refined = procmap_engine::refine(&source, &follow_up);
        let refined = refined.map_err(|e| TestCaseError::fail(format!("{follow_up}: {e}")))?;
        let understood = !refined.edits.iter().any(|e| matches!(e, follow_ups::Edit::NotUnderstood { .. }));
        prop_assert!(understood, "{} was not understood", follow_up);
        prop_assert_eq!(validate::validate(&refined.bpmn_xml), vec![]);

        // What the follow-up did not touch stays where it was drawn (a task broken down grows,
        // and moves what lies right of it and below it), and nothing overlaps.
        let before = reader::read(&source).expect("source reads back");
        let after = reader::read(&refined.bpmn_xml).expect("refinement reads back");
        for node in &after.model.nodes {
            let Some(old) = before.model.node(&node.id) else { continue };
            if old.lane == node.lane && pick != 7 {
                prop_assert_eq!(after.layout.nodes.get(&node.id), before.layout.nodes.get(&node.id), "{} moved: {}", node.id, follow_up);
            }
        }
        // A boundary event sits on its activity's border, so only those two may overlap.
        let on_border = |a: &str, b: &str| {
            after.model.node(a).and_then(|n| n.kind.host()) == Some(b)
                || after.model.node(b).and_then(|n| n.kind.host()) == Some(a)
        };
        let inside = |a: &str, b: &str| {
            let within = |child: &str, sub: &str| {
                std::iter::successors(after.model.parent_of(child), |p| after.model.parent_of(p)).any(|p| p == sub)
            };
            within(a, b) || within(b, a)
        };
        let shapes: Vec<_> = after.layout.nodes.iter().collect();
        for (i, (a_id, a)) in shapes.iter().enumerate() {
            for (b_id, b) in &shapes[i + 1..] {
                let overlap = a.x < b.right() && b.x < a.right() && a.y < b.bottom() && b.y < a.bottom();
                prop_assert!(!overlap || on_border(a_id, b_id) || inside(a_id, b_id), "{}: {:?} overlaps {:?}", follow_up, a, b);
            }
        }
    }
}
