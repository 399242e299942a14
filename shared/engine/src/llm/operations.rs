//! Typed edit operations: how a language model refines a diagram. It answers with operations
//! on the source's model, never with a new diagram, so untouched elements keep their ids.
//!
//! Where a change is more than one node, the model restates that part as a block of steps
//! (`insert_after`, `insert_before`, `replace_with_steps`, `add_deadline`), which compiles like a new process's
//! steps, so it cannot be structurally wrong. Existing nodes may be named by id or by name, and
//! new elements need no id: small models handle names better than ids, and invent ids that
//! clash.

use foldhash::{HashMap, HashMapExt};

use schemars::JsonSchema;
use serde::Deserialize;

use super::answer::{self, Step};
use super::wire::NodeType;
use crate::blocks;
use crate::bpmn::Problem;
use crate::builtin::follow_ups::nodes_meant_by;
use crate::model::{Flow, Node, NodeKind, ProcessModel};

/// Longest name an answer gives a new element or a deadline, as in a new process's steps.
const NAME: u32 = 60;
/// Longest reference to an existing node, flow or lane, or condition: a source drawn in another
/// tool may have long names.
const REFERENCE: u32 = 200;

/// What the model answers for a refinement.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EditPlan {
    /// A follow-up is a few edits; the bound stops a model repeating itself.
    #[schemars(length(max = 40))]
    pub operations: Vec<Operation>,
}

/// One edit. A field naming an existing node takes its id or its name. The ids an answer gives
/// new nodes and flows are optional, and name them within the answer only: the diagram gives
/// every new element a fresh id in its own style, so a model cannot clash with an id in use.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Operation {
    /// Adds steps after a node: what followed it follows the steps.
    InsertAfter {
        #[schemars(length(max = REFERENCE))]
        node: String,
        #[schemars(length(max = 8))]
        steps: Vec<Step>,
    },
    /// Adds steps before a node: what led to it leads to the steps.
    InsertBefore {
        #[schemars(length(max = REFERENCE))]
        node: String,
        #[schemars(length(max = 8))]
        steps: Vec<Step>,
    },
    /// Replaces a node with steps, between what came before and after it.
    ReplaceWithSteps {
        #[schemars(length(max = REFERENCE))]
        node: String,
        #[schemars(length(max = 8))]
        steps: Vec<Step>,
    },
    /// Puts a time limit on a task: a timer on its border and the steps it starts. `cancel`
    /// stops the task; without it the task goes on (a reminder).
    AddDeadline {
        #[schemars(length(max = REFERENCE))]
        task: String,
        #[schemars(length(max = NAME))]
        after: String,
        #[serde(default)]
        cancel: bool,
        #[schemars(length(max = 6))]
        steps: Vec<Step>,
    },
    /// Removes a node, joining its predecessors to its successors. Removing a boundary event, or
    /// the activity it sits on, removes the path the event starts.
    RemoveNode {
        #[serde(alias = "id")]
        #[schemars(length(max = REFERENCE))]
        node: String,
    },
    Rename {
        #[serde(alias = "id")]
        #[schemars(length(max = REFERENCE))]
        node: String,
        #[schemars(length(max = NAME))]
        name: String,
    },
    /// Changes a node's type, keeping its id and flows.
    Retype {
        #[serde(alias = "id")]
        #[schemars(length(max = REFERENCE))]
        node: String,
        #[serde(rename = "type")]
        node_type: NodeType,
    },
    /// Moves a node into the lane with this name, creating the lane if needed.
    MoveToLane {
        #[serde(alias = "id")]
        #[schemars(length(max = REFERENCE))]
        node: String,
        #[schemars(length(max = REFERENCE))]
        lane: String,
    },
    /// Adds a node; connect it with `add_flow` and `reconnect`.
    AddNode(NewNode),
    AddFlow {
        #[serde(default)]
        #[schemars(length(max = REFERENCE))]
        id: Option<String>,
        #[schemars(length(max = REFERENCE))]
        source: String,
        #[schemars(length(max = REFERENCE))]
        target: String,
        #[serde(default)]
        #[schemars(length(max = NAME))]
        label: Option<String>,
        #[serde(default)]
        #[schemars(length(max = REFERENCE))]
        condition: Option<String>,
        #[serde(default)]
        is_default: bool,
    },
    RemoveFlow {
        #[schemars(length(max = REFERENCE))]
        id: String,
    },
    /// Points an existing flow at a new source and/or target.
    Reconnect {
        #[schemars(length(max = REFERENCE))]
        id: String,
        #[serde(default)]
        #[schemars(length(max = REFERENCE))]
        source: Option<String>,
        #[serde(default)]
        #[schemars(length(max = REFERENCE))]
        target: Option<String>,
    },
}

/// A node an answer adds by itself, with `add_node`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNode {
    #[serde(default)]
    #[schemars(length(max = REFERENCE))]
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub node_type: NodeType,
    #[schemars(length(max = NAME))]
    pub name: String,
    #[serde(default)]
    #[schemars(length(max = REFERENCE))]
    pub lane: Option<String>,
    /// The sub-process to add the node inside; omit at the top level.
    #[serde(default, rename = "in_sub_process")]
    #[schemars(length(max = REFERENCE))]
    pub parent: Option<String>,
    /// Boundary events only: the task or sub-process the event sits on.
    #[serde(default)]
    #[schemars(length(max = REFERENCE))]
    pub attached_to: Option<String>,
    /// Boundary events only: false when the activity goes on after the event fires.
    #[serde(default = "yes")]
    pub interrupting: bool,
}

fn yes() -> bool {
    true
}

/// How deep the steps an edit adds may nest: they go into a diagram that has its own depth.
pub(super) const MAX_DEPTH: usize = 2;

/// The JSON Schema of [`EditPlan`], for structured output, with its nesting bounded.
pub fn schema() -> serde_json::Value {
    super::nesting::bounded(
        super::answer::compact(
            serde_json::to_value(schemars::schema_for!(EditPlan)).unwrap_or_default(),
        ),
        MAX_DEPTH,
    )
}

/// Applies operations in order; an operation naming something that does not exist is a problem.
pub fn apply(model: &mut ProcessModel, operations: &[Operation]) -> Result<(), Vec<Problem>> {
    let mut edit = Edit {
        model,
        given: HashMap::new(),
    };
    let mut problems = Vec::new();
    for (i, operation) in operations.iter().enumerate() {
        if let Err(message) = edit.apply(operation) {
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

/// A refinement's operations being applied to a model.
struct Edit<'a> {
    model: &'a mut ProcessModel,
    /// The ids the answer gave new elements, and the ids they got.
    given: HashMap<String, String>,
}

impl Edit<'_> {
    fn apply(&mut self, operation: &Operation) -> Result<(), String> {
        match operation {
            Operation::InsertAfter { node, steps } => {
                let node = self.node(node)?;
                // Steps "after the end" are meant as the new last steps, before it.
                let is_end = self
                    .model
                    .node(&node)
                    .is_some_and(|n| matches!(n.kind, NodeKind::EndEvent(_)));
                let insert = if is_end {
                    blocks::insert_before
                } else {
                    blocks::insert_after
                };
                insert(self.model, &node, &steps_of(steps))
            }
            Operation::InsertBefore { node, steps } => {
                let node = self.node(node)?;
                blocks::insert_before(self.model, &node, &steps_of(steps))
            }
            Operation::ReplaceWithSteps { node, steps } => {
                let replaced = self.node(node)?;
                blocks::insert_after(self.model, &replaced, &steps_of(steps))?;
                self.model.remove_node(&replaced);
                Ok(())
            }
            Operation::AddDeadline {
                task,
                after,
                cancel,
                steps,
            } => {
                let task = self.node(task)?;
                let deadline = blocks::Deadline {
                    after: after.clone(),
                    interrupting: *cancel,
                    steps: steps_of(steps),
                };
                blocks::add_deadline(self.model, &task, &deadline)
            }
            Operation::RemoveNode { node } => {
                let node = self.node(node)?;
                self.model.remove_node(&node);
                Ok(())
            }
            Operation::Rename { node, name } => {
                let node = self.node(node)?;
                if let Some(n) = self.model.node_mut(&node) {
                    n.name.clone_from(name);
                }
                Ok(())
            }
            Operation::Retype { node, node_type } => {
                let node = self.node(node)?;
                retype(self.model, &node, *node_type)
            }
            Operation::MoveToLane { node, lane } => {
                let node = self.node(node)?;
                self.model
                    .put_in_lane(&node, lane)
                    .ok_or(format!("there is no node {node}"))?;
                Ok(())
            }
            Operation::AddNode(new) => self.add_node(new),
            Operation::AddFlow {
                id,
                source,
                target,
                label,
                condition,
                is_default,
            } => {
                let flow = Flow {
                    id: self.model.fresh_id("Flow"),
                    source: self.node(source)?,
                    target: self.node(target)?,
                    name: label.clone().unwrap_or_default(),
                    condition: condition.clone().filter(|c| !c.trim().is_empty()),
                    is_default: *is_default,
                };
                self.remember(id.as_deref(), flow.id.clone());
                self.model.flows.push(flow);
                Ok(())
            }
            Operation::RemoveFlow { id } => {
                let id = self.flow(id)?;
                self.model.flows.retain(|f| f.id != id);
                Ok(())
            }
            Operation::Reconnect { id, source, target } => self.reconnect(id, source, target),
        }
    }

    fn add_node(&mut self, new: &NewNode) -> Result<(), String> {
        let attached_to = new
            .attached_to
            .as_deref()
            .map(|a| self.node(a))
            .transpose()?;
        let parent = new.parent.as_deref().map(|p| self.node(p)).transpose()?;
        let kind = new.node_type.kind(attached_to.as_deref(), new.interrupting);
        let lane = new.lane.as_deref();
        let id = add_node(self.model, kind, &new.name, lane, parent.as_deref())?;
        self.remember(new.id.as_deref(), id);
        Ok(())
    }

    /// Points a flow at a new source and/or target.
    fn reconnect(
        &mut self,
        flow: &str,
        source: &Option<String>,
        target: &Option<String>,
    ) -> Result<(), String> {
        let id = self.flow(flow)?;
        let source = source.as_deref().map(|s| self.node(s)).transpose()?;
        let target = target.as_deref().map(|t| self.node(t)).transpose()?;
        if let Some(flow) = self.model.flows.iter_mut().find(|f| f.id == id) {
            if let Some(s) = source {
                flow.source = s;
            }
            if let Some(t) = target {
                flow.target = t;
            }
        }
        Ok(())
    }

    /// Records the id an answer gave a new element, so that later operations can name it so.
    fn remember(&mut self, given: Option<&str>, assigned: String) {
        if let Some(given) = given.map(str::trim).filter(|g| !g.is_empty()) {
            self.given.insert(given.to_owned(), assigned);
        }
    }

    fn node(&self, reference: &str) -> Result<String, String> {
        match self.given.get(reference.trim()) {
            Some(id) => Ok(id.clone()),
            None => node_named(self.model, reference),
        }
    }

    fn flow(&self, reference: &str) -> Result<String, String> {
        let reference = reference.trim();
        let id = self.given.get(reference).map_or(reference, String::as_str);
        if self.model.flows.iter().any(|f| f.id == id) {
            Ok(id.to_owned())
        } else {
            Err(format!("there is no flow {reference}"))
        }
    }
}

/// The id of the node a reference names: its id, its exact name (in any case), or the one node
/// whose name means it loosely ("check the payment"). Anything else is a problem that lists
/// the names there are, for the model's next attempt.
fn node_named(model: &ProcessModel, reference: &str) -> Result<String, String> {
    let reference = reference.trim();
    if model.node(reference).is_some() {
        return Ok(reference.to_owned());
    }
    let exact: Vec<&Node> = model
        .nodes
        .iter()
        .filter(|n| n.name.trim().eq_ignore_ascii_case(reference))
        .collect();
    let candidates = if exact.is_empty() {
        nodes_meant_by(model, reference)
    } else {
        exact
    };
    match candidates.as_slice() {
        [only] => Ok(only.id.clone()),
        [] => {
            let names: Vec<String> = model
                .nodes
                .iter()
                .filter(|n| !n.name.is_empty())
                .map(|n| format!("{:?}", n.name))
                .collect();
            Err(format!(
                "there is no node {reference:?}; the nodes are named {}",
                names.join(", ")
            ))
        }
        several => {
            let ids: Vec<&str> = several.iter().map(|n| n.id.as_str()).collect();
            Err(format!(
                "{reference:?} could be any of {}; name one by its id",
                ids.join(", ")
            ))
        }
    }
}

fn steps_of(steps: &[Step]) -> Vec<blocks::Step> {
    answer::block(steps.to_vec())
}

/// Adds a node, with a fresh id, and answers the id: a boundary event where its activity is, a
/// node inside a sub-process without a lane, any other in the lane it names (or the first lane).
fn add_node(
    model: &mut ProcessModel,
    kind: NodeKind,
    name: &str,
    lane: Option<&str>,
    parent: Option<&str>,
) -> Result<String, String> {
    if let Some(parent) = parent {
        if !model
            .node(parent)
            .is_some_and(|p| p.kind == NodeKind::SubProcess)
        {
            return Err(format!(
                "{parent:?} is not a sub-process to add {name:?} inside"
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
    let id = model.add_node(kind, name, lane);
    if let Some(node) = model.node_mut(&id) {
        node.parent = parent;
    }
    Ok(id)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::{Lanes, Process, Start, StartTrigger, Task};
    use crate::bpmn::{self, validate::validate};
    use crate::model::{EventTrigger, TaskKind};

    /// Order placed → Check payment → Ship goods → Goods shipped.
    fn order() -> ProcessModel {
        let task = |name: &str| {
            blocks::Step::Task(Task {
                name: name.into(),
                kind: TaskKind::Plain,
                actor: None,
                deadline: None,
            })
        };
        blocks::compile(
            &Process {
                name: "Online order".into(),
                start: Start {
                    name: "Order placed".into(),
                    trigger: StartTrigger::None,
                },
                steps: vec![task("Check payment"), task("Ship goods")],
                end: "Goods shipped".into(),
            },
            Lanes::None,
        )
    }

    fn edited(model: &ProcessModel, plan: serde_json::Value) -> Result<ProcessModel, Vec<Problem>> {
        let plan: EditPlan = serde_json::from_value(plan).expect("an answer in the schema");
        let mut model = model.clone();
        apply(&mut model, &plan.operations)?;
        assert_eq!(validate(&bpmn::compile(&model)), vec![]);
        Ok(model)
    }

    fn id_of(model: &ProcessModel, name: &str) -> String {
        let node = model.nodes.iter().find(|n| n.name == name);
        node.map(|n| n.id.clone()).unwrap_or_default()
    }

    fn follows(model: &ProcessModel, first: &str, second: &str) -> bool {
        let (first, second) = (id_of(model, first), id_of(model, second));
        let leads = model.outgoing(&first).any(|f| f.target == second);
        leads
    }

    #[test]
    fn steps_go_in_before_a_node_named_by_its_name() {
        let source = order();
        let model = edited(
            &source,
            serde_json::json!({"operations": [{"op": "insert_before", "node": "ship goods",
                "steps": [{"task": "Approve order"}]}]}),
        )
        .expect("applied");
        assert!(follows(&model, "Check payment", "Approve order"));
        assert!(follows(&model, "Approve order", "Ship goods"));
        for node in &source.nodes {
            assert!(model.node(&node.id).is_some(), "{} kept", node.id);
        }
    }

    /// The places in a schema where a string or a list has no bound.
    fn unbounded(schema: &serde_json::Value, path: &str, found: &mut Vec<String>) {
        match schema {
            serde_json::Value::Object(fields) => {
                let free_string = fields.get("type").is_some_and(|t| t == "string")
                    && !fields.contains_key("enum")
                    && !fields.contains_key("const")
                    && !fields.contains_key("maxLength");
                let free_list = fields.get("type").is_some_and(|t| t == "array")
                    && !fields.contains_key("maxItems");
                if free_string || free_list {
                    found.push(path.to_owned());
                }
                for (key, value) in fields {
                    unbounded(value, &format!("{path}/{key}"), found);
                }
            }
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    unbounded(item, &format!("{path}/{i}"), found);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn every_string_and_list_a_model_writes_is_bounded() {
        for schema in [schema(), answer::schema()] {
            let mut found = Vec::new();
            unbounded(&schema, "", &mut found);
            assert_eq!(found, Vec::<String>::new());
        }
    }

    #[test]
    fn steps_after_the_end_are_the_new_last_steps() {
        let model = edited(
            &order(),
            serde_json::json!({"operations": [{"op": "insert_after", "node": "Goods shipped",
                "steps": [{"task": "Archive order"}]}]}),
        )
        .expect("applied");
        assert!(follows(&model, "Ship goods", "Archive order"));
        assert!(follows(&model, "Archive order", "Goods shipped"));
    }

    #[test]
    fn a_deadline_goes_on_an_existing_task_which_keeps_its_id() {
        let source = order();
        let model = edited(
            &source,
            serde_json::json!({"operations": [{"op": "add_deadline", "task": "Ship goods",
                "after": "2 days", "steps": [{"task": "Remind warehouse"}]}]}),
        )
        .expect("applied");
        let ship = id_of(&source, "Ship goods");
        let timer = model
            .nodes
            .iter()
            .find(|n| n.kind.host() == Some(ship.as_str()))
            .expect("a timer on the task");
        assert!(matches!(
            timer.kind,
            NodeKind::BoundaryEvent {
                trigger: EventTrigger::Timer,
                interrupting: false,
                ..
            }
        ));
        assert!(follows(&model, "2 days", "Remind warehouse"));
    }

    #[test]
    fn ids_an_answer_gives_new_elements_name_them_within_the_answer_only() {
        let source = order();
        let check = id_of(&source, "Check payment");
        let ship = id_of(&source, "Ship goods");
        let leaving = source.outgoing(&check).next().expect("a flow").id.clone();
        // The model reuses ids the diagram already has, for a new task and a new flow.
        let model = edited(
            &source,
            serde_json::json!({"operations": [
                {"op": "add_node", "id": check, "type": "user_task", "name": "Approve order"},
                {"op": "reconnect", "id": leaving, "target": check},
                {"op": "add_flow", "id": leaving, "source": check, "target": ship}
            ]}),
        )
        .expect("applied");
        let approve = id_of(&model, "Approve order");
        assert_ne!(approve, check, "a fresh id");
        assert_eq!(
            model.node(&check).map(|n| n.name.as_str()),
            Some("Check payment")
        );
        assert!(follows(&model, "Check payment", "Approve order"));
        assert!(follows(&model, "Approve order", "Ship goods"));
        assert_eq!(model.flows.len(), source.flows.len() + 1);
    }

    #[test]
    fn a_node_that_does_not_exist_is_a_problem_naming_the_operation() {
        let problems = edited(
            &order(),
            serde_json::json!({"operations": [{"op": "rename", "node": "Check payment", "name": "Verify payment"},
                {"op": "remove_node", "id": "Refund payment"}]}),
        )
        .expect_err("no such node");
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].message.starts_with("operation 2:"),
            "{problems:?}"
        );
        assert!(
            problems[0].message.contains("\"Verify payment\""),
            "the names there are: {problems:?}"
        );
    }
}
