//! What reading a description yields: steps in order, with where the process starts and ends.

use crate::model::TaskKind;

/// Who does a task that names no actor, by its label: what a folder's context says (see
/// `builtin::steering`). `None` leaves the task to the actor before it.
pub type Duties = Box<dyn Fn(&str) -> Option<String> + Send>;

/// One thing the description says happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Task {
        actor: Option<String>,
        label: String,
        kind: TaskKind,
    },
    Decision {
        question: String,
        yes: Vec<Step>,
        no: Vec<Step>,
    },
    Parallel {
        branches: Vec<Vec<Step>>,
    },
    /// The body runs, then runs again until the question is answered yes ("… until …").
    Loop {
        body: Vec<Step>,
        question: String,
    },
    /// The description ends this branch of the process here ("… and the process ends").
    End {
        label: String,
    },
}

/// A description read into steps, plus what it says about where the process starts and ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    pub title: String,
    pub start_label: String,
    pub end_label: String,
    pub steps: Vec<Step>,
}

/// Counts the tasks anywhere in a list of steps.
pub fn task_count(steps: &[Step]) -> usize {
    steps
        .iter()
        .map(|s| match s {
            Step::Task { .. } => 1,
            Step::Decision { yes, no, .. } => task_count(yes) + task_count(no),
            Step::Parallel { branches } => branches.iter().map(|b| task_count(b)).sum(),
            Step::Loop { body, .. } => task_count(body),
            Step::End { .. } => 0,
        })
        .sum()
}
