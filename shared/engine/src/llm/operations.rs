//! Typed edit operations: how a language model refines a diagram. It answers with operations
//! on the source's model, never with a new diagram, so untouched elements keep their ids.
//!
//! Where a change is more than one node, the model restates that part as a block of steps
//! (`insert_steps`, `replace_with_steps`), which compiles like a new process's steps, so it
//! cannot be structurally wrong. Existing nodes may be named by id or by name: small models
//! handle names better than ids.

use schemars::JsonSchema;
use serde::Deserialize;

use super::answer::{IntoStep, Step};
use super::wire::{is_valid_id, NodeType};
use crate::blocks;
use crate::bpmn::Problem;
use crate::builtin::follow_ups::find_node;
use crate::model::{Flow, Node, NodeKind, ProcessModel};

/// What the model answers for a refinement.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EditPlan {
    /// A follow-up is a few edits; the bound stops a model repeating itself.
    #[schemars(length(max = 40))]
    pub operations: Vec<Operation>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Operation {
    /// Adds steps after a node (its id or name): what followed it follows the steps.
    InsertSteps {
        after: String,
        #[schemars(length(max = 8))]
        steps: Vec<Step>,
    },
    /// Replaces a node (its id or name) with steps, between what came before and after it.
    ReplaceWithSteps {
        node: String,
        #[schemars(length(max = 8))]
        steps: Vec<Step>,
    },
    /// Adds a node; connect it with `add_flow` and `reconnect`.
    AddNode {
        id: String,
        #[serde(rename = "type")]
        node_type: NodeType,
        name: String,
        #[serde(default)]
        lane: Option<String>,
        /// The id of the sub-process to add the node inside; omit at the top level.
        #[serde(default, rename = "in_sub_process")]
        parent: Option<String>,
        /// Boundary events only: the id of the task or sub-process the event sits on.
        #[serde(default)]
        attached_to: Option<String>,
        /// Boundary events only: false when the activity goes on after the event fires.
        #[serde(default = "yes")]
        interrupting: bool,
    },
    /// Removes a node, joining its predecessors to its successors. Removing a boundary event, or
    /// the activity it sits on, removes the path the event starts.
    RemoveNode {
        id: String,
    },
    Rename {
        id: String,
        name: String,
    },
    /// Changes a node's type, keeping its id and flows.
    Retype {
        id: String,
        #[serde(rename = "type")]
        node_type: NodeType,
    },
    AddFlow {
        id: String,
        source: String,
        target: String,
        #[serde(default)]
        label: Option<String>,
        #[serde(default)]
        condition: Option<String>,
        #[serde(default)]
        is_default: bool,
    },
    RemoveFlow {
        id: String,
    },
    /// Points an existing flow at a new source and/or target.
    Reconnect {
        id: String,
        #[serde(default)]
        source: Option<String>,
        #[serde(default)]
        target: Option<String>,
    },
    /// Moves a node into the lane with this name, creating the lane if needed.
    MoveToLane {
        id: String,
        lane: String,
    },
}

fn yes() -> bool {
    true
}

/// The JSON Schema of [`EditPlan`], for structured output.
pub fn schema() -> serde_json::Value {
    super::answer::compact(
        serde_json::to_value(schemars::schema_for!(EditPlan)).unwrap_or_default(),
    )
}

/// Applies operations in order; an operation naming something that does not exist is a problem.
pub fn apply(model: &mut ProcessModel, operations: &[Operation]) -> Result<(), Vec<Problem>> {
    let mut problems = Vec::new();
    for (i, operation) in operations.iter().enumerate() {
        if let Err(message) = apply_one(model, operation) {
            problems.push(Problem {
                code: "invalid_operation",
                message: format!("operation {}: {message}", i + 1),
                element: None,
            });
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn apply_one(model: &mut ProcessModel, operation: &Operation) -> Result<(), String> {
    let node = |model: &ProcessModel, reference: &str| node_named(model, reference);
    match operation {
        Operation::InsertSteps { after, steps } => {
            let after = node(model, after)?;
            blocks::insert_after(model, &after, &steps_of(steps))
        }
        Operation::ReplaceWithSteps { node: named, steps } => {
            let replaced = node(model, named)?;
            blocks::insert_after(model, &replaced, &steps_of(steps))?;
            model.remove_node(&replaced);
            Ok(())
        }
        Operation::AddNode {
            id,
            node_type,
            name,
            lane,
            parent,
            attached_to,
            interrupting,
        } => {
            fresh(model, id)?;
            let attached_to = attached_to.as_deref().map(|a| node(model, a)).transpose()?;
            let parent = parent.as_deref().map(|p| node(model, p)).transpose()?;
            let kind = node_type.kind(attached_to.as_deref(), *interrupting);
            add_node(model, id, kind, name, lane.as_deref(), parent.as_deref())
        }
        Operation::RemoveNode { id } => {
            let id = node(model, id)?;
            model.remove_node(&id);
            Ok(())
        }
        Operation::Rename { id, name } => {
            let id = node(model, id)?;
            if let Some(n) = model.node_mut(&id) {
                n.name.clone_from(name);
            }
            Ok(())
        }
        Operation::Retype { id, node_type } => {
            let id = node(model, id)?;
            retype(model, &id, *node_type)
        }
        Operation::AddFlow {
            id,
            source,
            target,
            label,
            condition,
            is_default,
        } => {
            fresh(model, id)?;
            let (source, target) = (node(model, source)?, node(model, target)?);
            model.flows.push(Flow {
                id: id.clone(),
                source,
                target,
                name: label.clone().unwrap_or_default(),
                condition: condition.clone().filter(|c| !c.trim().is_empty()),
                is_default: *is_default,
            });
            Ok(())
        }
        Operation::RemoveFlow { id } => {
            let before = model.flows.len();
            model.flows.retain(|f| &f.id != id);
            if model.flows.len() == before {
                return Err(format!("there is no flow {id}"));
            }
            Ok(())
        }
        Operation::Reconnect { id, source, target } => {
            let source = source.as_deref().map(|s| node(model, s)).transpose()?;
            let target = target.as_deref().map(|t| node(model, t)).transpose()?;
            let flow = model
                .flows
                .iter_mut()
                .find(|f| &f.id == id)
                .ok_or(format!("there is no flow {id}"))?;
            if let Some(s) = source {
                flow.source = s;
            }
            if let Some(t) = target {
                flow.target = t;
            }
            Ok(())
        }
        Operation::MoveToLane { id, lane } => {
            let id = node(model, id)?;
            model
                .put_in_lane(&id, lane)
                .ok_or(format!("there is no node {id}"))?;
            Ok(())
        }
    }
}

/// The id of the node a reference names: its id, its exact name (in any case), or failing
/// those the node whose name shares the most words with it.
fn node_named(model: &ProcessModel, reference: &str) -> Result<String, String> {
    let reference = reference.trim();
    if model.node(reference).is_some() {
        return Ok(reference.to_owned());
    }
    let named: Vec<&Node> = model
        .nodes
        .iter()
        .filter(|n| n.name.trim().eq_ignore_ascii_case(reference))
        .collect();
    match named.as_slice() {
        [only] => return Ok(only.id.clone()),
        [_, _, ..] => {
            return Err(format!(
                "several nodes are named {reference:?}; name one by its id"
            ))
        }
        [] => {}
    }
    find_node(model, reference).ok_or_else(|| format!("there is no node {reference}"))
}

fn steps_of(steps: &[Step]) -> Vec<blocks::Step> {
    steps.iter().cloned().map(IntoStep::into_step).collect()
}

/// An id a new element can take: valid, and used by nothing yet.
fn fresh(model: &ProcessModel, id: &str) -> Result<(), String> {
    if !is_valid_id(id) {
        return Err(format!("{id:?} is not a valid id"));
    }
    let taken = model.node(id).is_some()
        || model.flows.iter().any(|f| f.id == id)
        || model.lanes.iter().any(|l| l.id == id);
    if taken {
        return Err(format!("the id {id} is already used"));
    }
    Ok(())
}

/// Adds a node: a boundary event where its activity is, a node inside a sub-process without a
/// lane, any other in the lane it names (or the first lane).
fn add_node(
    model: &mut ProcessModel,
    id: &str,
    kind: NodeKind,
    name: &str,
    lane: Option<&str>,
    parent: Option<&str>,
) -> Result<(), String> {
    if let Some(parent) = parent {
        if !model
            .node(parent)
            .is_some_and(|p| p.kind == NodeKind::SubProcess)
        {
            return Err(format!(
                "{parent:?} is not a sub-process to add {id} inside"
            ));
        }
    }
    let (lane, parent) = match (kind.host(), lane, parent) {
        (Some(host), _, _) => {
            let host = model.node(host).ok_or_else(|| {
                format!("a boundary event needs attached_to naming an existing task, not {host:?}")
            })?;
            (host.lane.clone(), host.parent.clone())
        }
        (None, _, Some(parent)) => (None, Some(parent.to_owned())),
        (None, Some(name), None) => (Some(model.lane_named(name)), None),
        (None, None, None) => (model.lanes.first().map(|l| l.id.clone()), None),
    };
    model.nodes.push(Node {
        id: id.to_owned(),
        kind,
        name: name.to_owned(),
        lane,
        parent,
    });
    Ok(())
}

/// Changes a node's type, keeping its id and flows. A sub-process with content stays one, and
/// a boundary event stays one.
fn retype(model: &mut ProcessModel, id: &str, node_type: NodeType) -> Result<(), String> {
    let node = model.node(id).ok_or(format!("there is no node {id}"))?;
    let kind = match &node.kind {
        NodeKind::BoundaryEvent {
            host, interrupting, ..
        } => node_type.kind(Some(host), *interrupting),
        _ => node_type.kind(None, true),
    };
    if kind != NodeKind::SubProcess && model.children(id).next().is_some() {
        return Err(format!(
            "{id} holds other nodes, so it stays a sub-process; remove them first"
        ));
    }
    let node = model.node_mut(id).ok_or(format!("there is no node {id}"))?;
    if kind.host().is_some() != node.kind.host().is_some() {
        return Err(format!(
            "{id} cannot become or stop being a boundary event; remove it and add a node instead"
        ));
    }
    node.kind = kind;
    Ok(())
}
