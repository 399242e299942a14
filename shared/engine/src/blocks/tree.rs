//! The tree itself: a process, its steps, and the blocks they hold.

use crate::model::TaskKind;

/// A whole process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub name: String,
    pub start: Start,
    pub steps: Vec<Step>,
    /// The name of the end event the main path reaches.
    pub end: String,
}

/// What starts the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    pub name: String,
    pub trigger: StartTrigger,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartTrigger {
    #[default]
    None,
    Message,
    Timer,
}

/// One step of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Task(Task),
    /// An exclusive choice: exactly one branch runs. The last of two or more branches is the
    /// default, taken when no other's condition holds; a single branch runs only when its
    /// condition holds, and otherwise nothing does.
    Choice {
        question: String,
        branches: Vec<Branch>,
    },
    /// An inclusive choice: every branch whose condition holds runs, at the same time.
    Inclusive {
        question: String,
        branches: Vec<Branch>,
    },
    /// Blocks that run at the same time.
    Parallel(Vec<Vec<Step>>),
    /// A block that runs, and runs again, until `until` holds.
    Repeat {
        steps: Vec<Step>,
        until: String,
    },
    /// A block that runs only when the answer to `question` is yes.
    Optional {
        question: String,
        steps: Vec<Step>,
    },
    /// A group of steps shown as one activity, open with its steps inside.
    SubProcess {
        name: String,
        actor: Option<String>,
        steps: Vec<Step>,
    },
    /// Waiting for a time or a message.
    Wait {
        name: String,
        trigger: WaitFor,
    },
    /// The process ends here on this path; what follows in the same block never runs.
    End {
        name: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub name: String,
    pub kind: TaskKind,
    /// Who performs it; actors become lanes in the lane-per-actor option.
    pub actor: Option<String>,
    /// A time limit, with what happens when it passes.
    pub deadline: Option<Deadline>,
}

/// A timer on a task's border and the path it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    /// How long the task may take, as the description says it ("3 days").
    pub after: String,
    /// True when the time limit cancels the task; false when the task goes on (a reminder).
    pub interrupting: bool,
    pub steps: Vec<Step>,
}

/// One branch of a choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branch {
    /// The answer that leads here, drawn on the flow ("Yes", "Above 1000 EUR").
    pub when: String,
    /// The condition written on the flow, when it is not `when` itself; the builtin modeler
    /// labels branches "Yes" and "No" and gives the question as the condition.
    pub condition: Option<String>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    Timer,
    Message,
}

impl Step {
    /// The first actor named anywhere in `steps`, in reading order.
    pub fn first_actor(steps: &[Step]) -> Option<&str> {
        steps.iter().find_map(|step| match step {
            Step::Task(task) => task.actor.as_deref(),
            Step::Choice { branches, .. } | Step::Inclusive { branches, .. } => {
                branches.iter().find_map(|b| Step::first_actor(&b.steps))
            }
            Step::Parallel(blocks) => blocks.iter().find_map(|b| Step::first_actor(b)),
            Step::Repeat { steps, .. } | Step::Optional { steps, .. } => Step::first_actor(steps),
            Step::SubProcess { actor, steps, .. } => {
                actor.as_deref().or_else(|| Step::first_actor(steps))
            }
            Step::Wait { .. } | Step::End { .. } => None,
        })
    }
}
