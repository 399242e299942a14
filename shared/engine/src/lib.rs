//! The modeling engine: turns prompts into validated BPMN 2.0, and refines any diagram.
//!
//! It has no database and no broker: text and XML in, XML and warnings out.
//!
//! # Layout
//!
//! Data flows one way: text → [`model`] → layout → XML → validator, and XML → [`model`] for
//! refinement.
//!
//! - [`model`]: the process model every diagram is compiled from and read back into.
//! - [`blocks`]: the block-structured process a modeler writes, and its compiler into a model,
//!   sound by construction.
//! - [`bpmn`]: BPMN 2.0 XML both ways: layout, writer, reader, validator, and what a
//!   refinement copies through from its source.
//! - [`builtin`]: the offline modeler: prose reading, wording, the builder, follow-ups.
//! - [`llm`]: language models behind an OpenAI-compatible endpoint: the chat client, the wire
//!   form they write, edit operations and prompts.
//! - [`options`]: the three option styles of an initial generation.
//! - [`copilot`]: a chat turn on one diagram: the steps, the reply and the proposal's diff.
//!
//! # Public surface
//!
//! A service needs only what is re-exported here: a [`Modeler`] built from an [`LlmProvider`]
//! generates or refines into an [`Output`], or fails with a [`Failure`] carrying an
//! [`EngineError`] and the [`Usage`] spent; [`check_source`] tells whether a diagram can be
//! refined, listing every [`Problem`], and [`import`] takes in a diagram from any tool. The
//! stage modules are public for the conformance tools and the tests, which check each stage on
//! its own.

pub mod blocks;
pub mod bpmn;
pub mod builtin;
pub mod copilot;
mod error;
pub mod llm;
pub mod model;
mod modeler;
pub mod options;
mod usage;

pub use bpmn::{check_source, import, Imported, Problem};
pub use builtin::{generate_options, refine, Refined};
pub use error::{EngineError, Failure};
pub use llm::OpenAiConfig;
pub use modeler::{LlmProvider, Modeler, Output};
pub use usage::{Ledger, Usage};
