//! Restating part of an existing process as steps: the steps compile into the model where they
//! go, exactly as a new process's steps compile, and the nodes around them keep their ids and
//! flows. A refinement uses this when a change is more than one node.

use super::compile::{Compiler, Flow, Tail};
use super::tree::{Deadline, Step};
use crate::model::{NodeKind, ProcessModel};

/// Compiles `steps` into `model` right after `node`, which keeps its place: the flow that left
/// it now leaves the last of the steps. The steps go into the node's lane and sub-process (an
/// actor takes them into the lane of that name, when the model has lanes).
pub fn insert_after(model: &mut ProcessModel, node: &str, steps: &[Step]) -> Result<(), String> {
    let anchor = model
        .node(node)
        .ok_or_else(|| format!("there is no node {node}"))?;
    if matches!(anchor.kind, NodeKind::EndEvent(_)) {
        return Err(format!("{node} is an end event; nothing follows it"));
    }
    let leaving: Vec<String> = model.outgoing(node).map(|f| f.id.clone()).collect();
    if leaving.len() > 1 {
        return Err(format!(
            "{node} splits the flow; insert the steps after one of the steps that follow it"
        ));
    }
    splice(
        model,
        node,
        Tail::from(node.to_owned()),
        leaving.first(),
        steps,
    )
}

/// Compiles `steps` into `model` right before `node`: the flow that reached it now reaches the
/// first of the steps, with its label and condition, and the last of them leads to `node`.
pub fn insert_before(model: &mut ProcessModel, node: &str, steps: &[Step]) -> Result<(), String> {
    model
        .node(node)
        .ok_or_else(|| format!("there is no node {node}"))?;
    let reaching: Vec<usize> = (0..model.flows.len())
        .filter(|i| model.flows[*i].target == node)
        .collect();
    let &[index] = reaching.as_slice() else {
        return Err(if reaching.is_empty() {
            format!("nothing leads to {node}; insert the steps after a node instead")
        } else {
            format!(
                "several flows lead to {node}; insert the steps after one of the nodes before it"
            )
        });
    };
    // The flow is cut where the steps go: its source and branch label start the steps, and
    // the flow itself, now plain, leaves the last of them.
    let flow = &mut model.flows[index];
    let start = Tail {
        node: flow.source.clone(),
        flow: if flow.is_default {
            Flow::Default {
                label: std::mem::take(&mut flow.name),
            }
        } else if let Some(condition) = flow.condition.take() {
            Flow::Conditional {
                label: std::mem::take(&mut flow.name),
                condition,
            }
        } else {
            Flow::Plain
        },
    };
    flow.is_default = false;
    let id = flow.id.clone();
    splice(model, node, start, Some(&id), steps)
}

/// Puts a deadline on an existing task or sub-process: a timer on its border and the path it
/// starts, to an end of its own.
pub fn add_deadline(
    model: &mut ProcessModel,
    host: &str,
    deadline: &Deadline,
) -> Result<(), String> {
    let activity = model
        .node(host)
        .ok_or_else(|| format!("there is no node {host}"))?
        .clone();
    if !activity.kind.is_activity() {
        return Err(format!(
            "{host} is not a task or sub-process, so it cannot have a deadline"
        ));
    }
    let mut compiler = Compiler::within(std::mem::take(model), &activity);
    compiler.deadline(host, deadline);
    *model = compiler.model;
    Ok(())
}

/// Compiles `steps` from `start`, in the lane and sub-process of `context`, and makes
/// `continuing` (the flow that went on from where the steps go) leave the last of them.
fn splice(
    model: &mut ProcessModel,
    context: &str,
    start: Tail,
    continuing: Option<&String>,
    steps: &[Step],
) -> Result<(), String> {
    let context = model
        .node(context)
        .ok_or_else(|| format!("there is no node {context}"))?
        .clone();
    // The continuing flow stays in the model while the steps are compiled, so that no new
    // flow takes its id.
    let mut compiler = Compiler::within(std::mem::take(model), &context);
    let tail = compiler.steps(steps, start);
    let flows = &mut compiler.model.flows;
    let index = continuing.and_then(|id| flows.iter().position(|f| &f.id == id));
    match (index, tail) {
        (Some(i), Some(tail)) => {
            let flow = &mut flows[i];
            flow.source.clone_from(&tail.node);
            match tail.flow {
                Flow::Plain => {}
                Flow::Conditional { label, condition } => {
                    flow.name = label;
                    flow.condition = Some(condition);
                }
                Flow::Default { label } => {
                    flow.name = label;
                    flow.condition = None;
                    flow.is_default = true;
                }
            }
        }
        // Every path of the steps ends: what followed them follows nothing now.
        (Some(i), None) => {
            flows.remove(i);
        }
        // The node led nowhere (an unfinished sketch): the steps end the process.
        (None, Some(tail)) => compiler.end("Process completed", &tail),
        (None, None) => {}
    }
    *model = compiler.model;
    Ok(())
}
