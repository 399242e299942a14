//! The block-structured process: what a modeler writes when it writes a whole process.
//!
//! A process is a sequence of steps, and every step that branches holds blocks of its own
//! (choices, parallel splits, loops, sub-processes, a deadline's path). There are no ids and no
//! flows: [`compile`] assigns the ids and draws the flows, so every tree compiles to a process
//! model that the validator accepts and that is sound: every split is joined by its own kind of
//! gateway, every path ends, and no join waits for a branch that cannot come.
//!
//! The builtin modeler reads prose into this tree, and a language model writes it through the
//! bounded wire form of `llm::answer`. A refinement may restate part of an existing process as
//! steps ([`insert_after`], [`insert_before`], [`add_deadline`]).

mod compile;
mod edit;
mod tree;

pub use compile::{compile, Lanes};
pub use edit::{add_deadline, insert_after, insert_before};
pub use tree::{Branch, Deadline, Process, Start, StartTrigger, Step, Task, WaitFor};
