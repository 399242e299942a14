//! Compiling a block tree into a process model. Each kind of step opens and closes its own
//! structure, so what comes out is sound whatever went in: every split has a join of its kind
//! (or a default, so no choice can stall), every open path reaches an end event, and a path
//! that ends inside a parallel block ends the whole process, so that no join waits for it. A
//! parallel block with a block that always ends never completes, so nothing follows it.

use super::tree::{Branch, Deadline, Process, StartTrigger, Step, Task, WaitFor};
use crate::model::{EventTrigger, Node, NodeKind, ProcessModel};

/// Whether actors become lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lanes {
    /// No lanes: who does what is left out.
    None,
    /// A lane per actor; a step without one stays in the lane of the step before it.
    PerActor,
}

/// The process model of a block tree, with ids in the usual style (`Activity_1`, `Gateway_1`…).
pub fn compile(process: &Process, lanes: Lanes) -> ProcessModel {
    let mut compiler = Compiler {
        model: ProcessModel {
            id: "Process_1".into(),
            name: process.name.clone(),
            ..Default::default()
        },
        lanes,
        current_lane: None,
        parent: None,
        concurrent: 0,
    };
    compiler.current_lane = compiler.lane_for(Step::first_actor(&process.steps));
    let trigger = match process.start.trigger {
        StartTrigger::None => EventTrigger::None,
        StartTrigger::Message => EventTrigger::Message,
        StartTrigger::Timer => EventTrigger::Timer,
    };
    let start = compiler.add(NodeKind::StartEvent(trigger), &process.start.name);
    if let Some(tail) = compiler.steps(&process.steps, Tail::from(start)) {
        let end = compiler.add(NodeKind::EndEvent(EventTrigger::None), &process.end);
        compiler.link(&tail, &end);
    }
    compiler.model
}

/// Where the next node attaches: a node, and the branch label if it leaves a gateway.
#[derive(Debug, Clone)]
pub(super) struct Tail {
    pub(super) node: String,
    pub(super) flow: Flow,
}

/// The flow that will leave a tail.
#[derive(Debug, Clone)]
pub(super) enum Flow {
    Plain,
    Conditional { label: String, condition: String },
    Default { label: String },
}

impl From<String> for Tail {
    fn from(node: String) -> Self {
        Tail {
            node,
            flow: Flow::Plain,
        }
    }
}

pub(super) struct Compiler {
    pub(super) model: ProcessModel,
    lanes: Lanes,
    /// The lane new nodes go into, when there are lanes.
    current_lane: Option<String>,
    /// The sub-process new nodes go into; `None` at the process's top level.
    parent: Option<String>,
    /// How many parallel blocks enclose what is being compiled, within its sub-process. A path
    /// that ends inside one ends the whole process, so that the join does not wait for it.
    concurrent: usize,
}

impl Compiler {
    /// A compiler that adds to an existing model, in the lane and sub-process of `context`.
    /// Whether what it adds runs beside something else is not known from the block structure
    /// there, so a scope with a parallel split counts as concurrent: an end added in it
    /// terminates, which is sound wherever the steps land.
    pub(super) fn within(model: ProcessModel, context: &Node) -> Compiler {
        let concurrent = model
            .nodes
            .iter()
            .any(|n| n.kind == NodeKind::ParallelGateway && n.parent == context.parent);
        Compiler {
            lanes: if model.lanes.is_empty() {
                Lanes::None
            } else {
                Lanes::PerActor
            },
            model,
            current_lane: context.lane.clone(),
            parent: context.parent.clone(),
            concurrent: usize::from(concurrent),
        }
    }

    fn lane_for(&mut self, actor: Option<&str>) -> Option<String> {
        if self.lanes == Lanes::None {
            return None;
        }
        Some(self.model.lane_named(actor.unwrap_or("Process owner")))
    }

    fn add(&mut self, kind: NodeKind, name: &str) -> String {
        // Nodes inside a sub-process sit in the sub-process, which sits in a lane.
        let lane = match self.parent {
            Some(_) => None,
            None => self.current_lane.clone(),
        };
        let id = self.model.add_node(kind, name, lane);
        if let (Some(parent), Some(node)) = (self.parent.clone(), self.model.node_mut(&id)) {
            node.parent = Some(parent);
        }
        id
    }

    fn link(&mut self, tail: &Tail, target: &str) {
        match &tail.flow {
            Flow::Plain => self.model.connect(&tail.node, target, ""),
            Flow::Conditional { label, condition } => self
                .model
                .connect_branch(&tail.node, target, label, condition),
            Flow::Default { label } => self.model.connect_default(&tail.node, target, label),
        };
    }

    /// A step's actor takes over the lane, at the top level.
    fn enter_lane_of(&mut self, actor: Option<&str>) {
        if self.lanes == Lanes::PerActor && self.parent.is_none() && actor.is_some() {
            self.current_lane = self.lane_for(actor);
        }
    }

    /// Compiles `steps` after `tail`; answers the new tail, or `None` when every path ended.
    pub(super) fn steps(&mut self, steps: &[Step], mut tail: Tail) -> Option<Tail> {
        for step in steps {
            tail = self.step(step, tail)?;
        }
        Some(tail)
    }

    fn step(&mut self, step: &Step, tail: Tail) -> Option<Tail> {
        match step {
            Step::Task(task) => Some(self.task(task, tail)),
            Step::Choice { question, branches } => {
                self.choice(NodeKind::ExclusiveGateway, question, branches, tail)
            }
            Step::Inclusive { question, branches } => {
                self.choice(NodeKind::InclusiveGateway, question, branches, tail)
            }
            Step::Optional { question, steps } => {
                let branches = [
                    Branch {
                        when: "Yes".into(),
                        condition: Some(question.trim_end_matches('?').to_owned()),
                        steps: steps.clone(),
                    },
                    Branch {
                        when: "No".into(),
                        condition: None,
                        steps: Vec::new(),
                    },
                ];
                self.choice(NodeKind::ExclusiveGateway, question, &branches, tail)
            }
            Step::Parallel(blocks) => self.parallel(blocks, tail),
            Step::Repeat { steps, until } => self.repeat(steps, until, tail),
            Step::SubProcess { name, actor, steps } => {
                Some(self.sub_process(name, actor.as_deref(), steps, tail))
            }
            Step::Wait { name, trigger } => {
                let trigger = match trigger {
                    WaitFor::Timer => EventTrigger::Timer,
                    WaitFor::Message => EventTrigger::Message,
                };
                let event = self.add(NodeKind::IntermediateCatchEvent(trigger), name);
                self.link(&tail, &event);
                Some(Tail::from(event))
            }
            Step::End { name } => {
                self.end(name, &tail);
                None
            }
        }
    }

    fn task(&mut self, task: &Task, tail: Tail) -> Tail {
        self.enter_lane_of(task.actor.as_deref());
        let id = self.add(NodeKind::Task(task.kind), &task.name);
        self.link(&tail, &id);
        if let Some(deadline) = &task.deadline {
            self.deadline(&id, deadline);
        }
        Tail::from(id)
    }

    /// An end event; inside a parallel block it terminates the process, so no join waits.
    pub(super) fn end(&mut self, name: &str, tail: &Tail) {
        let trigger = if self.concurrent > 0 {
            EventTrigger::Terminate
        } else {
            EventTrigger::None
        };
        let end = self.add(NodeKind::EndEvent(trigger), name);
        self.link(tail, &end);
    }

    /// A timer on the task's border, and its path to an end of its own. A reminder's path is not
    /// joined with anything, so a plain end is sound on it. A deadline that cancels the task
    /// takes the task's token: inside a parallel block its path must terminate, or the join
    /// would wait for the cancelled task for ever.
    pub(super) fn deadline(&mut self, host: &str, deadline: &Deadline) {
        let timer = self.add(
            NodeKind::BoundaryEvent {
                trigger: EventTrigger::Timer,
                host: host.to_owned(),
                interrupting: deadline.interrupting,
            },
            &deadline.after,
        );
        let (lane, concurrent) = (self.current_lane.clone(), self.concurrent);
        if !deadline.interrupting {
            self.concurrent = 0;
        }
        if let Some(tail) = self.steps(&deadline.steps, Tail::from(timer)) {
            let name = if deadline.interrupting {
                "Timed out"
            } else {
                "Deadline passed"
            };
            self.end(name, &tail);
        }
        self.current_lane = lane;
        self.concurrent = concurrent;
    }

    /// A split with one path per branch, joined again by a gateway of the same kind. The last
    /// of two or more branches is the default; a single branch gets an empty default beside it.
    fn choice(
        &mut self,
        kind: NodeKind,
        question: &str,
        branches: &[Branch],
        tail: Tail,
    ) -> Option<Tail> {
        let split = self.add(kind.clone(), question);
        self.link(&tail, &split);
        let lane = self.current_lane.clone();
        let count = branches.len();
        let mut tails = Vec::new();
        for (i, branch) in branches.iter().enumerate() {
            let flow = if count >= 2 && i == count - 1 {
                Flow::Default {
                    label: branch.when.clone(),
                }
            } else {
                Flow::Conditional {
                    label: branch.when.clone(),
                    condition: branch.condition.clone().unwrap_or(branch.when.clone()),
                }
            };
            let start = Tail {
                node: split.clone(),
                flow,
            };
            tails.push(self.steps(&branch.steps, start));
            self.current_lane = lane.clone();
        }
        if count < 2 {
            tails.push(Some(Tail {
                node: split,
                flow: Flow::Default {
                    label: "Otherwise".into(),
                },
            }));
        }
        self.current_lane = lane;
        self.join(kind, tails)
    }

    /// Blocks that run at the same time, between a parallel split and join. Empty blocks add
    /// nothing, and a single block needs no gateways.
    fn parallel(&mut self, blocks: &[Vec<Step>], tail: Tail) -> Option<Tail> {
        let blocks: Vec<&Vec<Step>> = blocks.iter().filter(|b| !b.is_empty()).collect();
        match blocks.as_slice() {
            [] => return Some(tail),
            [only] => return self.steps(only, tail),
            _ => {}
        }
        let split = self.add(NodeKind::ParallelGateway, "");
        self.link(&tail, &split);
        let lane = self.current_lane.clone();
        self.concurrent += 1;
        let mut tails = Vec::new();
        for block in blocks {
            self.current_lane = lane.clone();
            tails.push(self.steps(block, Tail::from(split.clone())));
        }
        // A block that ends on every path ends the process, so the parallel block can never
        // complete: the other blocks end where they finish instead of going on without it
        // (inside a loop they would go round again while it was still running).
        if tails.iter().any(Option::is_none) {
            for tail in tails.into_iter().flatten() {
                self.end("Process ended", &tail);
            }
            self.concurrent -= 1;
            self.current_lane = lane;
            return None;
        }
        self.concurrent -= 1;
        self.current_lane = lane;
        self.join(NodeKind::ParallelGateway, tails)
    }

    /// merge → steps → "until?": yes goes on, no goes back to the merge.
    fn repeat(&mut self, steps: &[Step], until: &str, tail: Tail) -> Option<Tail> {
        let merge = self.add(NodeKind::ExclusiveGateway, "");
        self.link(&tail, &merge);
        let body = self.steps(steps, Tail::from(merge.clone()))?;
        let question = if until.ends_with('?') {
            until.to_owned()
        } else {
            format!("{until}?")
        };
        let check = self.add(NodeKind::ExclusiveGateway, &question);
        self.link(&body, &check);
        let condition = question.trim_end_matches('?');
        self.model
            .connect_branch(&check, &merge, "No", &format!("not ({condition})"));
        Some(Tail {
            node: check,
            flow: Flow::Default {
                label: "Yes".into(),
            },
        })
    }

    /// An expanded sub-process with its steps inside, from a start to an end of their own.
    fn sub_process(&mut self, name: &str, actor: Option<&str>, steps: &[Step], tail: Tail) -> Tail {
        self.enter_lane_of(actor);
        let sub = self.add(NodeKind::SubProcess, name);
        self.link(&tail, &sub);
        let outer = (self.parent.replace(sub.clone()), self.concurrent);
        self.concurrent = 0;
        let start = self.add(
            NodeKind::StartEvent(EventTrigger::None),
            &format!("{name} started"),
        );
        if let Some(tail) = self.steps(steps, Tail::from(start)) {
            let end = self.add(
                NodeKind::EndEvent(EventTrigger::None),
                &format!("{name} done"),
            );
            self.link(&tail, &end);
        }
        (self.parent, self.concurrent) = outer;
        Tail::from(sub)
    }

    /// Merges the branches that did not end. One survivor needs no join gateway.
    fn join(&mut self, kind: NodeKind, tails: Vec<Option<Tail>>) -> Option<Tail> {
        let open: Vec<Tail> = tails.into_iter().flatten().collect();
        match open.len() {
            0 => None,
            1 => open.into_iter().next(),
            _ => {
                let join = self.add(kind, "");
                for tail in &open {
                    self.link(tail, &join);
                }
                Some(Tail::from(join))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::tree::Start;
    use crate::bpmn;
    use crate::model::TaskKind;

    fn task(name: &str) -> Step {
        Step::Task(Task {
            name: name.into(),
            kind: TaskKind::Plain,
            actor: None,
            deadline: None,
        })
    }

    fn by(actor: &str, name: &str) -> Step {
        Step::Task(Task {
            actor: Some(actor.into()),
            ..as_task(task(name))
        })
    }

    fn as_task(step: Step) -> Task {
        match step {
            Step::Task(task) => task,
            _ => unreachable!("a task"),
        }
    }

    fn branch(when: &str, steps: Vec<Step>) -> Branch {
        Branch {
            when: when.into(),
            condition: None,
            steps,
        }
    }

    fn process(steps: Vec<Step>) -> Process {
        Process {
            name: "Claims".into(),
            start: Start {
                name: "Claim received".into(),
                trigger: StartTrigger::None,
            },
            steps,
            end: "Claim settled".into(),
        }
    }

    /// Compiles, checks that the validator accepts the diagram, and answers the model.
    fn compiled(steps: Vec<Step>, lanes: Lanes) -> ProcessModel {
        let model = compile(&process(steps), lanes);
        assert_eq!(bpmn::validate(&bpmn::compile(&model)), vec![], "{model:#?}");
        model
    }

    fn count(model: &ProcessModel, kind: &NodeKind) -> usize {
        model.nodes.iter().filter(|n| &n.kind == kind).count()
    }

    #[test]
    fn a_sequence_runs_from_its_start_to_its_end() {
        let model = compiled(vec![task("Check claim"), task("Pay claim")], Lanes::None);
        let names: Vec<&str> = model.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Claim received",
                "Check claim",
                "Pay claim",
                "Claim settled"
            ]
        );
        assert_eq!(model.flows.len(), 3);
    }

    #[test]
    fn a_choice_has_conditions_a_default_and_a_join_and_an_early_end() {
        let model = compiled(
            vec![Step::Choice {
                question: "Claim amount?".into(),
                branches: vec![
                    branch("Above 1000 EUR", vec![task("Ask director")]),
                    branch(
                        "Fraud suspected",
                        vec![Step::End {
                            name: "Rejected".into(),
                        }],
                    ),
                    branch("Up to 1000 EUR", vec![]),
                ],
            }],
            Lanes::None,
        );
        let split = model
            .nodes
            .iter()
            .find(|n| n.name == "Claim amount?")
            .expect("split");
        let out: Vec<_> = model.outgoing(&split.id).collect();
        assert_eq!(out.len(), 3);
        assert_eq!(out.iter().filter(|f| f.is_default).count(), 1);
        assert!(out[0].condition.as_deref() == Some("Above 1000 EUR") && out[2].is_default);
        assert_eq!(
            count(&model, &NodeKind::ExclusiveGateway),
            2,
            "a split and its join"
        );
        assert_eq!(count(&model, &NodeKind::EndEvent(EventTrigger::None)), 2);
    }

    #[test]
    fn a_single_branch_runs_only_when_its_condition_holds() {
        let model = compiled(
            vec![Step::Choice {
                question: "Urgent?".into(),
                branches: vec![branch("Yes", vec![task("Call customer")])],
            }],
            Lanes::None,
        );
        let split = model
            .nodes
            .iter()
            .find(|n| n.name == "Urgent?")
            .expect("split");
        let out: Vec<_> = model.outgoing(&split.id).collect();
        assert_eq!(out.len(), 2);
        assert!(out[1].is_default && out[1].name == "Otherwise");
    }

    #[test]
    fn an_inclusive_choice_is_split_and_joined_by_inclusive_gateways() {
        let model = compiled(
            vec![Step::Inclusive {
                question: "Which documents are missing?".into(),
                branches: vec![
                    branch("Receipt", vec![task("Request receipt")]),
                    branch("Signature", vec![task("Request signature")]),
                ],
            }],
            Lanes::None,
        );
        assert_eq!(count(&model, &NodeKind::InclusiveGateway), 2);
    }

    #[test]
    fn an_end_inside_a_parallel_block_terminates_so_the_join_never_waits() {
        let model = compiled(
            vec![Step::Parallel(vec![
                vec![task("Pack goods")],
                vec![Step::Choice {
                    question: "Paid?".into(),
                    branches: vec![
                        branch(
                            "No",
                            vec![Step::End {
                                name: "Cancelled".into(),
                            }],
                        ),
                        branch("Yes", vec![task("Print invoice")]),
                    ],
                }],
                vec![],
            ])],
            Lanes::None,
        );
        assert_eq!(count(&model, &NodeKind::ParallelGateway), 2);
        assert_eq!(
            count(&model, &NodeKind::EndEvent(EventTrigger::Terminate)),
            1
        );
        let join = model
            .nodes
            .iter()
            .rfind(|n| n.kind == NodeKind::ParallelGateway)
            .expect("join");
        assert_eq!(
            model.incoming(&join.id).count(),
            2,
            "the empty block adds nothing"
        );
    }

    #[test]
    fn a_parallel_block_with_a_block_that_always_ends_never_completes() {
        let model = compiled(
            vec![Step::Repeat {
                steps: vec![Step::Parallel(vec![
                    vec![Step::End {
                        name: "Withdrawn".into(),
                    }],
                    vec![task("Check claim")],
                ])],
                until: "Done".into(),
            }],
            Lanes::None,
        );
        assert_eq!(
            count(&model, &NodeKind::EndEvent(EventTrigger::Terminate)),
            2
        );
        assert!(
            model
                .nodes
                .iter()
                .all(|n| n.name != "Done?" && n.name != "Claim settled"),
            "nothing follows a block that cannot complete"
        );
    }

    #[test]
    fn a_repeat_goes_back_until_its_condition_holds() {
        let model = compiled(
            vec![Step::Repeat {
                steps: vec![task("Ask for details")],
                until: "Ticket complete".into(),
            }],
            Lanes::None,
        );
        let check = model
            .nodes
            .iter()
            .find(|n| n.name == "Ticket complete?")
            .expect("check");
        let back = model
            .outgoing(&check.id)
            .find(|f| !f.is_default)
            .expect("back");
        assert_eq!(back.condition.as_deref(), Some("not (Ticket complete)"));
        assert_eq!(model.node(&back.target).map(|n| n.name.as_str()), Some(""));
    }

    #[test]
    fn an_optional_step_can_be_skipped() {
        let model = compiled(
            vec![Step::Optional {
                question: "Review wanted?".into(),
                steps: vec![task("Rate support")],
            }],
            Lanes::None,
        );
        assert_eq!(count(&model, &NodeKind::ExclusiveGateway), 2);
    }

    #[test]
    fn a_sub_process_holds_its_steps_between_a_start_and_an_end_of_its_own() {
        let model = compiled(
            vec![
                by("Warehouse", "Receive order"),
                Step::SubProcess {
                    name: "Pack order".into(),
                    actor: Some("Packer".into()),
                    steps: vec![task("Pick items"), task("Box items")],
                },
            ],
            Lanes::PerActor,
        );
        let sub = model
            .nodes
            .iter()
            .find(|n| n.name == "Pack order")
            .expect("sub");
        assert!(model.is_expanded(&sub.id));
        assert_eq!(model.children(&sub.id).count(), 4);
        assert!(model.children(&sub.id).all(|n| n.lane.is_none()));
        let lane = sub
            .lane
            .as_deref()
            .and_then(|l| model.lanes.iter().find(|x| x.id == l));
        assert_eq!(lane.map(|l| l.name.as_str()), Some("Packer"));
    }

    #[test]
    fn waits_and_start_triggers_become_events() {
        let mut tree = process(vec![
            Step::Wait {
                name: "Payment received".into(),
                trigger: WaitFor::Message,
            },
            Step::Wait {
                name: "2 days".into(),
                trigger: WaitFor::Timer,
            },
        ]);
        tree.start.trigger = StartTrigger::Timer;
        let model = compile(&tree, Lanes::None);
        assert_eq!(bpmn::validate(&bpmn::compile(&model)), vec![]);
        assert_eq!(count(&model, &NodeKind::StartEvent(EventTrigger::Timer)), 1);
        assert_eq!(
            count(
                &model,
                &NodeKind::IntermediateCatchEvent(EventTrigger::Message)
            ),
            1
        );
        assert_eq!(
            count(
                &model,
                &NodeKind::IntermediateCatchEvent(EventTrigger::Timer)
            ),
            1
        );
    }

    #[test]
    fn a_deadline_is_a_timer_on_the_task_with_a_path_to_an_end_of_its_own() {
        let mut approve = as_task(task("Approve claim"));
        approve.deadline = Some(Deadline {
            after: "3 days".into(),
            interrupting: false,
            steps: vec![task("Send reminder")],
        });
        let model = compiled(vec![Step::Task(approve), task("Pay claim")], Lanes::None);
        let timer = model
            .nodes
            .iter()
            .find(|n| n.name == "3 days")
            .expect("timer");
        assert!(matches!(
            &timer.kind,
            NodeKind::BoundaryEvent {
                interrupting: false,
                ..
            }
        ));
        assert_eq!(model.incoming(&timer.id).count(), 0);
        assert_eq!(count(&model, &NodeKind::EndEvent(EventTrigger::None)), 2);
    }

    #[test]
    fn actors_become_lanes_and_every_node_sits_in_one() {
        let model = compiled(
            vec![
                by("Clerk", "Check claim"),
                Step::Choice {
                    question: "Large?".into(),
                    branches: vec![
                        branch("Yes", vec![by("Manager", "Approve claim")]),
                        branch("No", vec![]),
                    ],
                },
                task("Pay claim"),
            ],
            Lanes::PerActor,
        );
        let lanes: Vec<&str> = model.lanes.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(lanes, ["Clerk", "Manager"]);
        assert!(model.nodes.iter().all(|n| n.lane.is_some()));
        assert!(compiled(vec![by("Clerk", "Check claim")], Lanes::None)
            .lanes
            .is_empty());
    }

    #[test]
    fn an_empty_process_still_starts_and_ends() {
        let model = compiled(Vec::new(), Lanes::None);
        assert_eq!(model.nodes.len(), 2);
        let model = compiled(
            vec![
                Step::End {
                    name: "Done".into(),
                },
                task("Never"),
            ],
            Lanes::None,
        );
        assert!(
            model.nodes.iter().all(|n| n.name != "Never"),
            "nothing runs after an end"
        );
    }

    #[test]
    fn a_sub_process_is_drawn_open_with_its_content_and_its_loop_inside_its_box() {
        use crate::bpmn::{layout, reader};
        let model = compiled(
            vec![
                by("Shop", "Receive order"),
                Step::SubProcess {
                    name: "Pack order".into(),
                    actor: None,
                    steps: vec![Step::Repeat {
                        steps: vec![task("Pick items")],
                        until: "Complete".into(),
                    }],
                },
                task("Ship order"),
            ],
            Lanes::PerActor,
        );
        let sub = model
            .nodes
            .iter()
            .find(|n| n.name == "Pack order")
            .expect("sub")
            .id
            .clone();
        let xml = bpmn::compile(&model);
        assert!(xml.contains(&format!(r#"bpmnElement="{sub}" isExpanded="true""#)));
        let back = reader::read(&xml).expect("reads");
        let pick = model
            .nodes
            .iter()
            .find(|n| n.name == "Pick items")
            .expect("pick");
        assert_eq!(back.model.parent_of(&pick.id), Some(sub.as_str()));
        // The content sits inside the box, and the box in its lane, clear of the rest.
        let placed = layout::layout(&model);
        let b = placed.nodes[&sub];
        for child in model.children(&sub) {
            let c = placed.nodes[&child.id];
            assert!(
                c.x > b.x && c.right() < b.right() && c.y > b.y && c.bottom() < b.bottom(),
                "{} is outside its sub-process",
                child.id
            );
        }
        for other in model
            .nodes
            .iter()
            .filter(|n| n.parent.is_none() && n.id != sub)
        {
            let o = placed.nodes[&other.id];
            let apart =
                o.right() <= b.x || b.right() <= o.x || o.bottom() <= b.y || b.bottom() <= o.y;
            assert!(apart, "{} overlaps the sub-process", other.id);
        }
        let lane = placed.lanes.values().next().expect("a lane");
        assert!(b.y >= lane.y && b.bottom() <= lane.bottom());
        let back_flow = model
            .flows
            .iter()
            .find(|f| {
                f.target.starts_with("Gateway") && f.condition.as_deref() == Some("not (Complete)")
            })
            .expect("the loop's way back");
        assert!(placed.flows[&back_flow.id]
            .iter()
            .all(|&(_, y)| y < b.bottom()));
    }
}
