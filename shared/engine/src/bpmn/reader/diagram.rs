//! What reading a document produces, and what it holds part-way through.

use foldhash::HashSet;
use std::collections::BTreeMap;

use crate::bpmn::carried::Carried;
use crate::bpmn::drawing::Drawing;
use crate::bpmn::kept::{EventDefinition, Kept, KeptElement, SubProcessContent};
use crate::model::{Flow, Lane, Node, ProcessModel};

/// What reading a document found, for refinement and for the validator.
#[derive(Debug, Clone, Default)]
pub struct Diagram {
    pub model: ProcessModel,
    /// Every `id` attribute in document order, to find duplicates.
    pub ids: Vec<String>,
    /// Elements that have a `BPMNShape`.
    pub shapes: HashSet<String>,
    /// Elements that have a `BPMNEdge`.
    pub edges: HashSet<String>,
    /// `default` attributes that name a flow: (gateway, flow).
    pub defaults: Vec<(String, String)>,
    /// Where the source drew the model's nodes, flows, lanes and pool, so that a refinement can
    /// leave what it does not touch where it was.
    pub layout: Drawing,
    /// What the model has no place for but a refinement copies through as it was.
    pub kept: Kept,
    /// What the model could not represent.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("the document is not well-formed XML: {0}")]
    Malformed(String),
    #[error("the document is not BPMN 2.0: {0}")]
    NotBpmn(String),
    #[error("the document is refused: {0}")]
    Refused(String),
}

/// One `process` element being read.
#[derive(Default)]
pub(super) struct ProcessInProgress {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) nodes: Vec<Node>,
    pub(super) flows: Vec<Flow>,
    pub(super) lanes: Vec<(Lane, Vec<String>)>,
    /// Its data elements and artifacts, kept as they were.
    pub(super) kept: Vec<KeptElement>,
    pub(super) sub_processes: Vec<SubProcessContent>,
    pub(super) event_definitions: Vec<EventDefinition>,
    pub(super) lane_set_id: Option<String>,
    /// What its elements carry beyond the model, by id.
    pub(super) carried: BTreeMap<String, Carried>,
}
