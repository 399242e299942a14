//! Property tests of the block tree: any tree, of any kinds of step nested in any way, compiles to
//! BPMN that the independent validator accepts and that is sound: every split that can choose
//! has a way out when no condition holds, every path ends, and a path that ends inside a parallel
//! block terminates the process instead of leaving its join waiting. And any such diagram,
//! refined with an empty edit plan, comes back as it was apart from its drawing.

use procmap_engine::{
    blocks::{self, Branch, Deadline, Lanes, Process, Start, StartTrigger, Step, Task, WaitFor},
    bpmn::{self, reader, validate},
    model::{EventTrigger, NodeKind, ProcessModel, TaskKind},
};
use proptest::prelude::*;

#[path = "support/canonical.rs"]
mod canonical;

const NAMES: &[&str] = &[
    "Check claim",
    "Pay claim",
    "Ask for details",
    "Call customer",
];
const ACTORS: &[&str] = &["Clerk", "Manager", "Finance"];

fn task() -> impl Strategy<Value = Step> {
    (
        prop::sample::select(NAMES),
        prop::option::of(prop::sample::select(ACTORS)),
        prop::sample::select(vec![TaskKind::Plain, TaskKind::User, TaskKind::Send]),
    )
        .prop_map(|(name, actor, kind)| {
            Step::Task(Task {
                name: name.into(),
                kind,
                actor: actor.map(str::to_owned),
                deadline: None,
            })
        })
}

fn leaf() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => task(),
        1 => Just(Step::End { name: "Ended early".into() }),
        1 => prop::sample::select(vec![WaitFor::Timer, WaitFor::Message])
            .prop_map(|trigger| Step::Wait { name: "Wait".into(), trigger }),
    ]
}

fn branches(block: BoxedStrategy<Vec<Step>>) -> impl Strategy<Value = Vec<Branch>> {
    prop::collection::vec(
        (prop::sample::select(vec!["Yes", "No", "Maybe"]), block).prop_map(|(when, steps)| {
            Branch {
                when: when.into(),
                condition: None,
                steps,
            }
        }),
        0..4,
    )
}

/// Blocks of any kinds of step, nested up to four levels.
fn block() -> impl Strategy<Value = Vec<Step>> {
    let leaves = prop::collection::vec(leaf(), 0..4);
    leaves.prop_recursive(4, 48, 4, |inner| {
        let inner = inner.boxed();
        let step = prop_oneof![
            4 => leaf(),
            1 => ("Which way?", branches(inner.clone()))
                .prop_map(|(q, branches)| Step::Choice { question: q, branches }),
            1 => ("Which ones?", branches(inner.clone()))
                .prop_map(|(q, branches)| Step::Inclusive { question: q, branches }),
            1 => prop::collection::vec(inner.clone(), 0..4).prop_map(Step::Parallel),
            1 => inner.clone().prop_map(|steps| Step::Repeat { steps, until: "Done".into() }),
            1 => inner.clone().prop_map(|steps| Step::Optional { question: "Needed?".into(), steps }),
            1 => (inner.clone(), prop::option::of(prop::sample::select(ACTORS))).prop_map(|(steps, actor)| {
                Step::SubProcess { name: "Group".into(), actor: actor.map(str::to_owned), steps }
            }),
            1 => (inner.clone(), any::<bool>()).prop_map(|(steps, interrupting)| {
                Step::Task(Task {
                    name: "Approve claim".into(),
                    kind: TaskKind::User,
                    actor: None,
                    deadline: Some(Deadline { after: "2 days".into(), interrupting, steps }),
                })
            }),
        ];
        prop::collection::vec(step, 0..5)
    })
}

fn process(steps: Vec<Step>, trigger: StartTrigger) -> Process {
    Process {
        name: "Random".into(),
        start: Start {
            name: "Start".into(),
            trigger,
        },
        steps,
        end: "Done".into(),
    }
}

/// Soundness by playing the token game on each scope (the process, and each sub-process): from
/// every state that can be reached, all tokens can still be consumed, and no state is stuck
/// with tokens left. Choices take one branch (inclusive ones too, which only removes states),
/// a parallel split sends a token down every branch and its join waits for all of them, and a
/// terminate end clears every token. An interrupting boundary event may take the token of the
/// activity it sits on (one waiting on the activity's incoming flow) and send it down its own
/// path. A reminder's path (a boundary event that does not interrupt) is a scope of its own
/// here, since it takes no token and nothing joins it.
fn sound(model: &ProcessModel) -> Result<(), String> {
    let scopes = std::iter::once(None).chain(
        model
            .nodes
            .iter()
            .filter(|n| model.is_expanded(&n.id))
            .map(|n| Some(n.id.as_str())),
    );
    for scope in scopes {
        let starts = model.nodes.iter().filter(|n| {
            n.parent.as_deref() == scope
                && (matches!(n.kind, NodeKind::StartEvent(_))
                    || matches!(
                        n.kind,
                        NodeKind::BoundaryEvent {
                            interrupting: false,
                            ..
                        }
                    ))
        });
        for start in starts {
            let first: Vec<usize> = flows_of(model, |f| f.source == start.id);
            play(model, first).map_err(|e| format!("from {}: {e}", start.id))?;
        }
    }
    Ok(())
}

fn flows_of(
    model: &ProcessModel,
    which: impl Fn(&procmap_engine::model::Flow) -> bool,
) -> Vec<usize> {
    (0..model.flows.len())
        .filter(|i| which(&model.flows[*i]))
        .collect()
}

/// Explores every marking (tokens by flow) reachable from `initial`.
fn play(model: &ProcessModel, initial: Vec<usize>) -> Result<(), String> {
    use std::collections::{BTreeMap, HashSet, VecDeque};
    type Marking = BTreeMap<usize, u32>;
    let mark = |flows: &[usize]| -> Marking {
        let mut m = Marking::new();
        for f in flows {
            *m.entry(*f).or_default() += 1;
        }
        m
    };
    let moves = |m: &Marking| -> Vec<Marking> {
        let mut next = Vec::new();
        for node in &model.nodes {
            let incoming = match &node.kind {
                NodeKind::BoundaryEvent {
                    host,
                    interrupting: true,
                    ..
                } => flows_of(model, |f| &f.target == host),
                NodeKind::BoundaryEvent { .. } => continue,
                _ => flows_of(model, |f| f.target == node.id),
            };
            let outgoing = flows_of(model, |f| f.source == node.id);
            let has = |f: &usize| m.get(f).copied().unwrap_or(0) > 0;
            let consume = |m: &Marking, flows: &[usize]| {
                let mut m = m.clone();
                for f in flows {
                    if let Some(n) = m.get_mut(f) {
                        *n -= 1;
                        if *n == 0 {
                            m.remove(f);
                        }
                    }
                }
                m
            };
            let produce = |mut m: Marking, flows: &[usize]| {
                for f in flows {
                    *m.entry(*f).or_default() += 1;
                }
                m
            };
            let waits_for_all = node.kind == NodeKind::ParallelGateway;
            let inputs: Vec<Vec<usize>> = if waits_for_all {
                if incoming.iter().all(has) {
                    vec![incoming.clone()]
                } else {
                    vec![]
                }
            } else {
                incoming
                    .iter()
                    .filter(|f| has(f))
                    .map(|f| vec![*f])
                    .collect()
            };
            for input in inputs {
                let after = consume(m, &input);
                match &node.kind {
                    NodeKind::EndEvent(EventTrigger::Terminate) => next.push(Marking::new()),
                    NodeKind::ExclusiveGateway | NodeKind::InclusiveGateway
                        if outgoing.len() > 1 =>
                    {
                        for f in &outgoing {
                            next.push(produce(after.clone(), &[*f]));
                        }
                    }
                    _ => next.push(produce(after, &outgoing)),
                }
            }
        }
        next
    };
    let start = mark(&initial);
    let mut seen: HashSet<Marking> = HashSet::from([start.clone()]);
    let mut queue = VecDeque::from([start]);
    let mut edges: Vec<(Marking, Marking)> = Vec::new();
    while let Some(m) = queue.pop_front() {
        if seen.len() > 50_000 {
            return Err("more than 50,000 states: tokens pile up".into());
        }
        let next = moves(&m);
        if next.is_empty() && !m.is_empty() {
            return Err(format!(
                "stuck with tokens on {:?}",
                m.keys().map(|f| &model.flows[*f].id).collect::<Vec<_>>()
            ));
        }
        for n in next {
            edges.push((m.clone(), n.clone()));
            if seen.insert(n.clone()) {
                queue.push_back(n);
            }
        }
    }
    // Option to complete: the empty marking is reachable from every reachable marking.
    let mut can_finish: HashSet<Marking> = HashSet::from([Marking::new()]);
    loop {
        let before = can_finish.len();
        for (from, to) in &edges {
            if can_finish.contains(to) {
                can_finish.insert(from.clone());
            }
        }
        if can_finish.len() == before {
            break;
        }
    }
    match seen.iter().find(|m| !can_finish.contains(*m)) {
        Some(m) => Err(format!(
            "cannot finish from tokens on {:?}",
            m.keys().collect::<Vec<_>>()
        )),
        None => Ok(()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_block_tree_compiles_to_valid_sound_bpmn(
        steps in block(),
        lanes in prop::sample::select(vec![Lanes::None, Lanes::PerActor]),
        trigger in prop::sample::select(vec![StartTrigger::None, StartTrigger::Message, StartTrigger::Timer]),
    ) {
        let model = blocks::compile(&process(steps, trigger), lanes);
        let xml = bpmn::compile(&model);
        prop_assert_eq!(validate::validate(&xml), vec![]);
        let soundness = sound(&model);
        prop_assert!(soundness.is_ok(), "{:?}", soundness);
        let back = reader::read(&xml).expect("reads back");
        prop_assert_eq!(back.model.nodes.len(), model.nodes.len());
        // Refined with an empty edit plan, it comes back as it was, apart from its drawing.
        let again = bpmn::recompile(&xml).expect("refinable");
        prop_assert_eq!(
            canonical::semantics(&again).canonical(),
            canonical::semantics(&xml).canonical()
        );
        if lanes == Lanes::PerActor {
            prop_assert!(model.nodes.iter().all(|n| n.lane.is_some() != n.parent.is_some()));
        }
    }
}

/// Whether every path through a block ends the process, so that nothing can follow it.
fn always_ends(steps: &[Step]) -> bool {
    steps.iter().any(|step| match step {
        Step::End { .. } => true,
        Step::Choice { branches, .. } | Step::Inclusive { branches, .. } => {
            branches.len() >= 2 && branches.iter().all(|b| always_ends(&b.steps))
        }
        Step::Parallel(blocks) => blocks.iter().any(|b| always_ends(b)),
        Step::Repeat { steps, .. } => always_ends(steps),
        Step::Task(_) | Step::Optional { .. } | Step::SubProcess { .. } | Step::Wait { .. } => {
            false
        }
    })
}

/// Where a refinement restates steps into an existing diagram.
#[derive(Debug, Clone, Copy)]
enum Place {
    After,
    Before,
    Deadline { interrupting: bool },
}

fn place() -> impl Strategy<Value = Place> {
    prop_oneof![
        Just(Place::After),
        Just(Place::Before),
        any::<bool>().prop_map(|interrupting| Place::Deadline { interrupting }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    /// Steps a refinement restates go in after any node that does not split the flow, before
    /// any node that one flow leads to, or on any activity's border as a deadline, and the
    /// diagram stays valid and sound. Steps that end every path are left out before and after
    /// a node: they make what followed unreachable on purpose, which the validator reports.
    #[test]
    fn steps_restated_into_a_diagram_keep_it_valid_and_sound(
        steps in block(),
        inserted in block().prop_filter("goes on", |b| !always_ends(b)),
        lanes in prop::sample::select(vec![Lanes::None, Lanes::PerActor]),
        place in place(),
        pick in any::<prop::sample::Index>(),
    ) {
        let mut model = blocks::compile(&process(steps, StartTrigger::None), lanes);
        let fits = |n: &procmap_engine::model::Node| match place {
            Place::After => {
                !matches!(n.kind, NodeKind::EndEvent(_)) && model.outgoing(&n.id).count() == 1
            }
            Place::Before => model.incoming(&n.id).count() == 1,
            Place::Deadline { .. } => n.kind.is_activity(),
        };
        let anchors: Vec<String> = model
            .nodes
            .iter()
            .filter(|n| fits(n))
            .map(|n| n.id.clone())
            .collect();
        prop_assume!(!anchors.is_empty());
        let anchor = pick.get(&anchors).clone();
        match place {
            Place::After => blocks::insert_after(&mut model, &anchor, &inserted),
            Place::Before => blocks::insert_before(&mut model, &anchor, &inserted),
            Place::Deadline { interrupting } => blocks::add_deadline(
                &mut model,
                &anchor,
                &Deadline { after: "2 days".into(), interrupting, steps: inserted },
            ),
        }
        .expect("restated");
        prop_assert_eq!(validate::validate(&bpmn::compile(&model)), vec![]);
        let soundness = sound(&model);
        prop_assert!(soundness.is_ok(), "{:?}", soundness);
    }
}
