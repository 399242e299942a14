//! BPMN's own words for what the process model holds: the namespaces of a document, the element
//! name of each kind of node, and the event definition of each trigger. The reader and the
//! writer translate through this one table, so the two directions cannot disagree.

use crate::model::{EventTrigger, NodeKind, TaskKind};

pub const BPMN_NS: &str = "http://www.omg.org/spec/BPMN/20100524/MODEL";
pub const BPMNDI_NS: &str = "http://www.omg.org/spec/BPMN/20100524/DI";
pub const DC_NS: &str = "http://www.omg.org/spec/DD/20100524/DC";
pub const DI_NS: &str = "http://www.omg.org/spec/DD/20100524/DI";
pub const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// The BPMN element name of a node kind.
pub fn element_name(kind: &NodeKind) -> &str {
    match kind {
        NodeKind::StartEvent(_) => "startEvent",
        NodeKind::EndEvent(_) => "endEvent",
        NodeKind::IntermediateCatchEvent(_) => "intermediateCatchEvent",
        NodeKind::IntermediateThrowEvent(_) => "intermediateThrowEvent",
        NodeKind::BoundaryEvent { .. } => "boundaryEvent",
        NodeKind::Task(TaskKind::Plain) => "task",
        NodeKind::Task(TaskKind::User) => "userTask",
        NodeKind::Task(TaskKind::Service) => "serviceTask",
        NodeKind::Task(TaskKind::Manual) => "manualTask",
        NodeKind::Task(TaskKind::Send) => "sendTask",
        NodeKind::Task(TaskKind::Receive) => "receiveTask",
        NodeKind::Task(TaskKind::Script) => "scriptTask",
        NodeKind::Task(TaskKind::BusinessRule) => "businessRuleTask",
        NodeKind::ExclusiveGateway => "exclusiveGateway",
        NodeKind::ParallelGateway => "parallelGateway",
        NodeKind::InclusiveGateway => "inclusiveGateway",
        NodeKind::EventBasedGateway => "eventBasedGateway",
        NodeKind::SubProcess => "subProcess",
        NodeKind::Other(name) => name,
    }
}

/// The node kind of a BPMN element, or `None` for an element that is not a flow node. Events
/// start without a trigger: their event definition, a child element, sets it. A boundary event
/// starts interrupting and attached to nothing: its attributes say otherwise.
pub fn node_kind(local: &str) -> Option<NodeKind> {
    Some(match local {
        "boundaryEvent" => NodeKind::BoundaryEvent {
            trigger: EventTrigger::None,
            host: String::new(),
            interrupting: true,
        },
        "startEvent" => NodeKind::StartEvent(EventTrigger::None),
        "endEvent" => NodeKind::EndEvent(EventTrigger::None),
        "intermediateCatchEvent" => NodeKind::IntermediateCatchEvent(EventTrigger::None),
        "intermediateThrowEvent" => NodeKind::IntermediateThrowEvent(EventTrigger::None),
        "task" => NodeKind::Task(TaskKind::Plain),
        "userTask" => NodeKind::Task(TaskKind::User),
        "serviceTask" => NodeKind::Task(TaskKind::Service),
        "manualTask" => NodeKind::Task(TaskKind::Manual),
        "sendTask" => NodeKind::Task(TaskKind::Send),
        "receiveTask" => NodeKind::Task(TaskKind::Receive),
        "scriptTask" => NodeKind::Task(TaskKind::Script),
        "businessRuleTask" => NodeKind::Task(TaskKind::BusinessRule),
        "exclusiveGateway" => NodeKind::ExclusiveGateway,
        "parallelGateway" => NodeKind::ParallelGateway,
        "inclusiveGateway" => NodeKind::InclusiveGateway,
        "eventBasedGateway" => NodeKind::EventBasedGateway,
        "subProcess" => NodeKind::SubProcess,
        "callActivity" | "complexGateway" | "transaction" | "adHocSubProcess" => {
            NodeKind::Other(local.to_owned())
        }
        _ => return None,
    })
}

pub fn is_flow_node(local: &str) -> bool {
    node_kind(local).is_some()
}

/// The element that defines an event with this trigger; `None` for a plain event.
pub fn event_definition(trigger: EventTrigger) -> Option<&'static str> {
    match trigger {
        EventTrigger::None => None,
        EventTrigger::Message => Some("messageEventDefinition"),
        EventTrigger::Timer => Some("timerEventDefinition"),
        EventTrigger::Signal => Some("signalEventDefinition"),
        EventTrigger::Error => Some("errorEventDefinition"),
        EventTrigger::Terminate => Some("terminateEventDefinition"),
        EventTrigger::Escalation => Some("escalationEventDefinition"),
        EventTrigger::Conditional => Some("conditionalEventDefinition"),
    }
}

/// The trigger an event definition element stands for.
pub fn trigger(local: &str) -> Option<EventTrigger> {
    Some(match local {
        "messageEventDefinition" => EventTrigger::Message,
        "timerEventDefinition" => EventTrigger::Timer,
        "signalEventDefinition" => EventTrigger::Signal,
        "errorEventDefinition" => EventTrigger::Error,
        "terminateEventDefinition" => EventTrigger::Terminate,
        "escalationEventDefinition" => EventTrigger::Escalation,
        "conditionalEventDefinition" => EventTrigger::Conditional,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_element_name_reads_back_as_its_kind() {
        for kind in [
            NodeKind::StartEvent(EventTrigger::None),
            NodeKind::Task(TaskKind::BusinessRule),
            NodeKind::InclusiveGateway,
            NodeKind::SubProcess,
        ] {
            assert_eq!(node_kind(element_name(&kind)), Some(kind));
        }
        for trigger_ in [EventTrigger::Message, EventTrigger::Conditional] {
            assert_eq!(event_definition(trigger_).and_then(trigger), Some(trigger_));
        }
    }
}
