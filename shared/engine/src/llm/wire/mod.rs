//! How a language model sees an existing diagram when it refines it: the process model as plain
//! JSON, every node and flow with its id, so that edit operations can name them. Only the
//! model reads this form; what it writes is a block tree (`llm::answer`) or edit operations.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{EventTrigger, NodeKind, ProcessModel, TaskKind};

/// A whole process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessSpec {
    pub name: String,
    /// Lanes, top to bottom; none for a process without lanes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lanes: Vec<LaneSpec>,
    pub nodes: Vec<NodeSpec>,
    pub flows: Vec<FlowSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LaneSpec {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeSpec {
    pub id: String,
    #[serde(rename = "type")]
    pub node_type: NodeType,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lane: Option<String>,
    /// The sub-process the node is inside.
    #[serde(rename = "in_sub_process", skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Boundary events only: the task or sub-process the event sits on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attached_to: Option<String>,
    /// Boundary events only: false when the activity goes on after the event fires.
    #[serde(skip_serializing_if = "is_yes")]
    pub interrupting: bool,
}

fn is_yes(value: &bool) -> bool {
    *value
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowSpec {
    pub id: String,
    pub source: String,
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_default: bool,
}

/// Every kind of node the model knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NodeType {
    StartEvent,
    MessageStartEvent,
    TimerStartEvent,
    EndEvent,
    ErrorEndEvent,
    MessageEndEvent,
    TerminateEndEvent,
    TimerCatchEvent,
    MessageCatchEvent,
    MessageThrowEvent,
    TimerBoundaryEvent,
    MessageBoundaryEvent,
    ErrorBoundaryEvent,
    EscalationBoundaryEvent,
    SignalBoundaryEvent,
    ConditionalBoundaryEvent,
    Task,
    UserTask,
    ServiceTask,
    ManualTask,
    SendTask,
    ReceiveTask,
    ScriptTask,
    BusinessRuleTask,
    ExclusiveGateway,
    ParallelGateway,
    InclusiveGateway,
    EventBasedGateway,
    SubProcess,
}

impl NodeType {
    /// The node kind of this type; a boundary event sits on `host`.
    pub fn kind(self, host: Option<&str>, interrupting: bool) -> NodeKind {
        use EventTrigger as T;
        let boundary = |trigger| NodeKind::BoundaryEvent {
            trigger,
            host: host.unwrap_or_default().to_owned(),
            interrupting,
        };
        match self {
            Self::TimerBoundaryEvent => boundary(T::Timer),
            Self::MessageBoundaryEvent => boundary(T::Message),
            Self::ErrorBoundaryEvent => boundary(T::Error),
            Self::EscalationBoundaryEvent => boundary(T::Escalation),
            Self::SignalBoundaryEvent => boundary(T::Signal),
            Self::ConditionalBoundaryEvent => boundary(T::Conditional),
            Self::StartEvent => NodeKind::StartEvent(T::None),
            Self::MessageStartEvent => NodeKind::StartEvent(T::Message),
            Self::TimerStartEvent => NodeKind::StartEvent(T::Timer),
            Self::EndEvent => NodeKind::EndEvent(T::None),
            Self::ErrorEndEvent => NodeKind::EndEvent(T::Error),
            Self::MessageEndEvent => NodeKind::EndEvent(T::Message),
            Self::TerminateEndEvent => NodeKind::EndEvent(T::Terminate),
            Self::TimerCatchEvent => NodeKind::IntermediateCatchEvent(T::Timer),
            Self::MessageCatchEvent => NodeKind::IntermediateCatchEvent(T::Message),
            Self::MessageThrowEvent => NodeKind::IntermediateThrowEvent(T::Message),
            Self::Task => NodeKind::Task(TaskKind::Plain),
            Self::UserTask => NodeKind::Task(TaskKind::User),
            Self::ServiceTask => NodeKind::Task(TaskKind::Service),
            Self::ManualTask => NodeKind::Task(TaskKind::Manual),
            Self::SendTask => NodeKind::Task(TaskKind::Send),
            Self::ReceiveTask => NodeKind::Task(TaskKind::Receive),
            Self::ScriptTask => NodeKind::Task(TaskKind::Script),
            Self::BusinessRuleTask => NodeKind::Task(TaskKind::BusinessRule),
            Self::ExclusiveGateway => NodeKind::ExclusiveGateway,
            Self::ParallelGateway => NodeKind::ParallelGateway,
            Self::InclusiveGateway => NodeKind::InclusiveGateway,
            Self::EventBasedGateway => NodeKind::EventBasedGateway,
            Self::SubProcess => NodeKind::SubProcess,
        }
    }

    /// The closest type for a node kind; kinds the wire form lacks map to a plain task.
    pub fn of(kind: &NodeKind) -> NodeType {
        use EventTrigger as T;
        match kind {
            NodeKind::StartEvent(T::Message) => Self::MessageStartEvent,
            NodeKind::StartEvent(T::Timer) => Self::TimerStartEvent,
            NodeKind::StartEvent(_) => Self::StartEvent,
            NodeKind::EndEvent(T::Error) => Self::ErrorEndEvent,
            NodeKind::EndEvent(T::Message) => Self::MessageEndEvent,
            NodeKind::EndEvent(T::Terminate) => Self::TerminateEndEvent,
            NodeKind::EndEvent(_) => Self::EndEvent,
            NodeKind::IntermediateCatchEvent(T::Message) => Self::MessageCatchEvent,
            NodeKind::IntermediateCatchEvent(_) => Self::TimerCatchEvent,
            NodeKind::IntermediateThrowEvent(_) => Self::MessageThrowEvent,
            NodeKind::BoundaryEvent { trigger, .. } => match trigger {
                T::Message => Self::MessageBoundaryEvent,
                T::Error => Self::ErrorBoundaryEvent,
                T::Escalation => Self::EscalationBoundaryEvent,
                T::Signal => Self::SignalBoundaryEvent,
                T::Conditional => Self::ConditionalBoundaryEvent,
                _ => Self::TimerBoundaryEvent,
            },
            NodeKind::Task(TaskKind::Plain) => Self::Task,
            NodeKind::Task(TaskKind::User) => Self::UserTask,
            NodeKind::Task(TaskKind::Service) => Self::ServiceTask,
            NodeKind::Task(TaskKind::Manual) => Self::ManualTask,
            NodeKind::Task(TaskKind::Send) => Self::SendTask,
            NodeKind::Task(TaskKind::Receive) => Self::ReceiveTask,
            NodeKind::Task(TaskKind::Script) => Self::ScriptTask,
            NodeKind::Task(TaskKind::BusinessRule) => Self::BusinessRuleTask,
            NodeKind::ExclusiveGateway => Self::ExclusiveGateway,
            NodeKind::ParallelGateway => Self::ParallelGateway,
            NodeKind::InclusiveGateway => Self::InclusiveGateway,
            NodeKind::EventBasedGateway => Self::EventBasedGateway,
            NodeKind::SubProcess => Self::SubProcess,
            NodeKind::Other(_) => Self::Task,
        }
    }
}

impl ProcessSpec {
    /// The wire form of a model, for a language model to read before it edits it.
    pub fn from_model(model: &ProcessModel) -> ProcessSpec {
        ProcessSpec {
            name: model.name.clone(),
            lanes: model
                .lanes
                .iter()
                .map(|l| LaneSpec {
                    id: l.id.clone(),
                    name: l.name.clone(),
                })
                .collect(),
            nodes: model
                .nodes
                .iter()
                .map(|n| NodeSpec {
                    id: n.id.clone(),
                    node_type: NodeType::of(&n.kind),
                    name: n.name.clone(),
                    lane: n.lane.clone(),
                    parent: n.parent.clone(),
                    attached_to: n.kind.host().map(str::to_owned),
                    interrupting: !matches!(
                        n.kind,
                        NodeKind::BoundaryEvent {
                            interrupting: false,
                            ..
                        }
                    ),
                })
                .collect(),
            flows: model
                .flows
                .iter()
                .map(|f| FlowSpec {
                    id: f.id.clone(),
                    source: f.source.clone(),
                    target: f.target.clone(),
                    label: (!f.name.is_empty()).then(|| f.name.clone()),
                    condition: f.condition.clone(),
                    is_default: f.is_default,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::builder::{build, describe};
    use crate::options::OptionStyle;

    #[test]
    fn the_wire_form_names_every_node_and_flow_by_id_and_leaves_out_what_is_empty() {
        let model = build(
            &describe("The clerk receives the order. The manager approves it."),
            OptionStyle::LanePerActor,
        );
        let spec = ProcessSpec::from_model(&model);
        assert_eq!(spec.nodes.len(), model.nodes.len());
        assert_eq!(spec.flows.len(), model.flows.len());
        let json = serde_json::to_string(&spec).expect("serialises");
        assert!(json.contains(r#""type":"start_event""#), "{json}");
        assert!(
            json.contains(r#""lanes":[{"id":"Lane_1","name":"Clerk"}"#),
            "{json}"
        );
        assert!(!json.contains("\"interrupting\"") && !json.contains("\"is_default\":false"));
    }
}
