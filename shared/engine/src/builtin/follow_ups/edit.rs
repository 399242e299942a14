//! The record of a refinement: one entry per edit it made.

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
        /// Where the step went, when the follow-up named no place and the process gave a choice.
        placement: Option<String>,
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
    /// A step taken out of its place in the flow and put before or after another node.
    Moved {
        node: String,
        /// "before" or "after".
        relation: &'static str,
        anchor: String,
    },
    /// An instruction the builtin modeler cannot read; the model is left unchanged by it.
    NotUnderstood {
        instruction: String,
    },
}

impl Edit {
    /// What the refinement should tell its reader about this edit beyond the diagram itself.
    pub fn note(&self) -> Option<&str> {
        match self {
            Edit::AddedStep { placement, .. } => placement.as_deref(),
            _ => None,
        }
    }
}
