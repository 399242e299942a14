//! The process model as a language model writes it: plain JSON with a JSON Schema generated
//! from these types (schemars), used for structured output. It is the only thing an LLM is asked
//! to produce, and it is converted to a [`ProcessModel`] only after every reference is checked.

mod convert;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::{EventTrigger, NodeKind, ProcessModel, TaskKind};

/// A whole process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessSpec {
    /// A short name for the process.
    #[schemars(length(max = MAX_TEXT))]
    pub name: String,
    /// Lanes (one per actor or role), top to bottom. Empty for a process without lanes.
    #[serde(default)]
    #[schemars(length(max = MAX_LANES))]
    pub lanes: Vec<LaneSpec>,
    #[schemars(length(min = 2, max = MAX_NODES))]
    pub nodes: Vec<NodeSpec>,
    #[schemars(length(min = 1, max = MAX_FLOWS))]
    pub flows: Vec<FlowSpec>,
}

/// Bounds on what one process may hold. A diagram stays readable well inside them (the builtin
/// modeler's largest corpus diagram has 21 nodes), and at the limits an answer still fits in
/// the default 4096 tokens, so a model under constrained decoding that starts repeating itself
/// is stopped by them instead of writing until it runs out of tokens.
pub const MAX_LANES: u32 = 8;
pub const MAX_NODES: u32 = 40;
pub const MAX_FLOWS: u32 = 60;
/// Longest name, label or condition: a few words, never a paragraph.
pub const MAX_TEXT: u32 = 120;
/// Longest id (see [`is_valid_id`]).
pub const MAX_ID: u32 = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LaneSpec {
    /// Unique id: a letter, then letters, digits, `_`, `-` or `.`.
    #[schemars(length(max = MAX_ID))]
    pub id: String,
    #[schemars(length(max = MAX_TEXT))]
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Unique id: a letter, then letters, digits, `_`, `-` or `.`.
    #[schemars(length(max = MAX_ID))]
    pub id: String,
    #[serde(rename = "type")]
    pub node_type: NodeType,
    /// Verb-first for tasks ("Review claim"), a question for splitting gateways ("Approved?").
    #[serde(default)]
    #[schemars(length(max = MAX_TEXT))]
    pub name: String,
    /// The id of the node's lane, when the process has lanes.
    #[serde(default)]
    #[schemars(length(max = MAX_ID))]
    pub lane: Option<String>,
    /// The id of the sub_process this node is inside; omit at the top level. A sub-process with
    /// nodes inside is drawn expanded, and its content has its own start and end events. Nodes
    /// inside have no lane: the sub-process sits in one. (Named for what it says: Qwen2.5-Coder
    /// read a field called `parent` as "the step before".)
    #[serde(
        default,
        rename = "in_sub_process",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(length(max = MAX_ID))]
    pub parent: Option<String>,
    /// Boundary events only: the id of the task or sub-process the event sits on. Its path
    /// starts with the event's outgoing flow; no flow enters it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_ID))]
    pub attached_to: Option<String>,
    /// Boundary events only: false when the activity goes on after the event fires (a reminder),
    /// true (the default) when the event cancels it (a timeout).
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    pub interrupting: bool,
}

fn yes() -> bool {
    true
}

fn is_yes(value: &bool) -> bool {
    *value
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowSpec {
    /// Optional. A flow without a usable id of its own (missing, or taken by a node or another
    /// flow) is numbered by procmap, since no reader of the diagram ever sees flow ids.
    #[serde(default)]
    #[schemars(length(max = MAX_ID))]
    pub id: String,
    /// Id of the node the flow leaves.
    #[schemars(length(max = MAX_ID))]
    pub source: String,
    /// Id of the node the flow enters.
    #[schemars(length(max = MAX_ID))]
    pub target: String,
    /// Text on the flow, such as a branch's answer ("Yes").
    #[serde(default)]
    #[schemars(length(max = MAX_TEXT))]
    pub label: Option<String>,
    /// For a branch leaving an exclusive or inclusive gateway: when it is taken.
    #[serde(default)]
    #[schemars(length(max = MAX_TEXT))]
    pub condition: Option<String>,
    /// The branch taken when no other branch's condition holds.
    #[serde(default)]
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

/// The JSON Schema of [`ProcessSpec`], for structured output.
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(ProcessSpec)).unwrap_or_default()
}

/// Whether an id can be used as an XML id (an NCName, kept to ASCII).
pub fn is_valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && id.len() <= MAX_ID as usize
}

impl ProcessSpec {
    /// The wire form of a model, for a language model to edit or to compare with.
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
    use crate::model::{EventTrigger, NodeKind, ProcessModel};
    use crate::options::OptionStyle;

    #[test]
    fn a_model_round_trips_through_its_wire_form() {
        for style in OptionStyle::ALL {
            let model = build(
                &describe("Map the customer support ticket triage process."),
                style,
            );
            let spec = ProcessSpec::from_model(&model);
            let json = serde_json::to_string(&spec).expect("serialises");
            let back: ProcessSpec = serde_json::from_str(&json).expect("parses");
            assert_eq!(
                back.into_model().expect("valid"),
                ProcessModel {
                    id: "Process_1".into(),
                    ..model
                }
            );
        }
    }

    #[test]
    fn the_schema_names_every_node_type() {
        let schema = schema().to_string();
        for t in [
            "start_event",
            "user_task",
            "exclusive_gateway",
            "timer_catch_event",
            "sub_process",
            "timer_boundary_event",
            "attached_to",
            "in_sub_process",
        ] {
            assert!(schema.contains(t), "{t} missing from the schema");
        }
        // Bounds that stop a model repeating itself under constrained decoding.
        for bound in [
            format!(r#""maxItems":{MAX_NODES}"#),
            format!(r#""maxLength":{MAX_TEXT}"#),
        ] {
            assert!(schema.contains(&bound), "{bound} missing from {schema}");
        }
    }

    #[test]
    fn clashing_ids_and_dangling_references_are_reported_for_repair() {
        // "1bad" is mended to "n1bad"; a clash or a missing node cannot be guessed at.
        let codes = refused(serde_json::json!({
            "name": "p",
            "nodes": [{"id": "1bad", "type": "task", "name": "x"}, {"id": "a", "type": "task", "name": "y"}, {"id": "a", "type": "end_event"}],
            "flows": [{"id": "f", "source": "a", "target": "nowhere"}]
        }));
        assert_eq!(codes, ["duplicate_id", "dangling_reference"]);
    }

    #[test]
    fn a_boundary_event_sits_on_its_activity_and_in_its_lane() {
        let spec: ProcessSpec = serde_json::from_value(serde_json::json!({
            "name": "p",
            "lanes": [{"id": "clerk", "name": "Clerk"}, {"id": "boss", "name": "Boss"}],
            "nodes": [
                {"id": "start", "type": "start_event", "lane": "clerk"},
                {"id": "approve", "type": "user_task", "name": "Approve", "lane": "boss"},
                {"id": "late", "type": "timer_boundary_event", "name": "2 days", "attached_to": "approve", "interrupting": false},
                {"id": "remind", "type": "send_task", "name": "Remind boss", "lane": "clerk"},
                {"id": "end", "type": "end_event", "lane": "clerk"}
            ],
            "flows": [
                {"source": "start", "target": "approve"},
                {"source": "approve", "target": "end"},
                {"source": "late", "target": "remind"},
                {"source": "remind", "target": "end"}
            ]
        }))
        .expect("parses");
        let model = spec.into_model().expect("valid");
        let late = model.node("late").expect("late");
        assert_eq!(
            late.kind,
            NodeKind::BoundaryEvent {
                trigger: EventTrigger::Timer,
                host: "approve".into(),
                interrupting: false
            }
        );
        assert_eq!(late.lane.as_deref(), Some("boss"));
        let back = ProcessSpec::from_model(&model);
        assert_eq!(back.nodes[2].attached_to.as_deref(), Some("approve"));
        assert!(!back.nodes[2].interrupting);
    }

    #[test]
    fn a_boundary_event_on_nothing_or_on_a_gateway_goes_back_for_repair() {
        let spec = |attached: serde_json::Value| {
            serde_json::json!({
                "name": "p",
                "nodes": [
                    {"id": "start", "type": "start_event"},
                    {"id": "x", "type": "exclusive_gateway"},
                    {"id": "late", "type": "timer_boundary_event", "attached_to": attached},
                    {"id": "end", "type": "end_event"}
                ],
                "flows": []
            })
        };
        assert_eq!(
            refused(spec(serde_json::Value::Null)),
            ["missing_attachment"]
        );
        assert_eq!(refused(spec("nowhere".into())), ["dangling_reference"]);
        assert_eq!(refused(spec("x".into())), ["misplaced_boundary_event"]);
    }

    fn with_expanded_sub_process() -> serde_json::Value {
        serde_json::json!({
            "name": "Orders",
            "lanes": [{"id": "shop", "name": "Shop"}],
            "nodes": [
                {"id": "start", "type": "start_event", "lane": "shop"},
                {"id": "pack", "type": "sub_process", "name": "Pack order", "lane": "shop"},
                {"id": "pack_start", "type": "start_event", "in_sub_process": "pack"},
                {"id": "pick", "type": "task", "name": "Pick items", "in_sub_process": "pack"},
                {"id": "ok", "type": "exclusive_gateway", "name": "Complete?", "in_sub_process": "pack"},
                {"id": "box", "type": "task", "name": "Box items", "in_sub_process": "pack"},
                {"id": "pack_end", "type": "end_event", "in_sub_process": "pack"},
                {"id": "ship", "type": "task", "name": "Ship order", "lane": "shop"},
                {"id": "end", "type": "end_event", "lane": "shop"}
            ],
            "flows": [
                {"source": "start", "target": "pack"},
                {"source": "pack_start", "target": "pick"},
                {"source": "pick", "target": "ok"},
                {"source": "ok", "target": "box", "label": "Yes", "condition": "complete"},
                {"source": "ok", "target": "pick", "label": "No", "is_default": true},
                {"source": "box", "target": "pack_end"},
                {"source": "pack", "target": "ship"},
                {"source": "ship", "target": "end"}
            ]
        })
    }

    #[test]
    fn an_expanded_sub_process_compiles_with_its_content_inside_it() {
        use crate::bpmn::{self, layout, reader, validate};
        let spec: ProcessSpec =
            serde_json::from_value(with_expanded_sub_process()).expect("parses");
        let model = spec.into_model().expect("valid");
        assert!(model.is_expanded("pack"));
        assert_eq!(model.node("pick").and_then(|n| n.lane.clone()), None);
        let xml = bpmn::compile(&model);
        assert_eq!(validate::validate(&xml), vec![]);
        assert!(xml.contains(r#"bpmnElement="pack" isExpanded="true""#));
        let back = reader::read(&xml).expect("reads");
        assert_eq!(back.model.parent_of("box"), Some("pack"));
        // The content sits inside the box, and the box in its lane, clear of the rest.
        let placed = layout::layout(&model);
        let sub = placed.nodes["pack"];
        for child in model.children("pack") {
            let b = placed.nodes[&child.id];
            assert!(
                b.x > sub.x && b.right() < sub.right() && b.y > sub.y && b.bottom() < sub.bottom(),
                "{} is outside its sub-process",
                child.id
            );
        }
        for id in ["start", "ship", "end"] {
            let b = placed.nodes[id];
            let apart = b.right() <= sub.x
                || sub.right() <= b.x
                || b.bottom() <= sub.y
                || sub.bottom() <= b.y;
            assert!(apart, "{id} overlaps the sub-process");
        }
        let lane = placed.lanes["shop"];
        assert!(sub.y >= lane.y && sub.bottom() <= lane.bottom());
        // The loop inside runs inside the box.
        let back_flow = model
            .flows
            .iter()
            .find(|f| f.source == "ok" && f.target == "pick")
            .expect("loop");
        assert!(placed.flows[&back_flow.id]
            .iter()
            .all(|&(_, y)| y < sub.bottom()));
    }

    /// The codes of the problems converting a wire-form process finds.
    fn refused(spec: serde_json::Value) -> Vec<&'static str> {
        let spec: ProcessSpec = serde_json::from_value(spec).expect("parses");
        spec.into_model()
            .expect_err("invalid")
            .iter()
            .map(|p| p.code)
            .collect()
    }

    #[test]
    fn content_without_a_start_or_flows_across_its_border_go_back_for_repair() {
        let mut crossing = with_expanded_sub_process();
        crossing["flows"][6]["source"] = "box".into();
        assert_eq!(refused(crossing), ["cross_scope_flow"]);

        let mut no_start = with_expanded_sub_process();
        no_start["nodes"][2]["type"] = "task".into();
        let spec: ProcessSpec = serde_json::from_value(no_start).expect("parses");
        let model = spec.into_model().expect("well-formed");
        let problems = crate::bpmn::validate(&crate::bpmn::compile(&model));
        assert!(
            problems
                .iter()
                .any(|p| p.code == "missing_start_event" && p.element.as_deref() == Some("pack")),
            "{problems:?}"
        );

        let mut in_a_task = with_expanded_sub_process();
        in_a_task["nodes"][3]["in_sub_process"] = "ship".into();
        let codes = refused(in_a_task);
        assert!(codes.contains(&"invalid_parent"), "{codes:?}");
    }

    #[test]
    fn names_used_as_ids_are_mended_everywhere_they_are_named() {
        // As Qwen2.5-Coder answered corpus description d01.
        let spec: ProcessSpec = serde_json::from_value(serde_json::json!({
            "name": "Claims",
            "lanes": [{"id": "Claims desk", "name": "Claims desk"}],
            "nodes": [
                {"id": "start", "type": "start_event", "lane": "Claims desk"},
                {"id": "Review claim", "type": "user_task", "name": "Review claim", "lane": "Claims desk"},
                {"id": "1st check", "type": "task", "name": "Check policy", "lane": "Claims desk"},
                {"id": "Review_claim", "type": "task", "name": "Taken already", "lane": "Claims desk"},
                {"id": "end", "type": "end_event", "lane": "Claims desk"}
            ],
            "flows": [
                {"source": "start", "target": "Review claim"},
                {"source": "Review claim", "target": "1st check"},
                {"source": "1st check", "target": "Review_claim"},
                {"source": "Review_claim", "target": "end"}
            ]
        }))
        .expect("parses");
        let model = spec.into_model().expect("mended, not sent back");
        let ids: Vec<&str> = model.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "start",
                "Review_claim_2",
                "n1st_check",
                "Review_claim",
                "end"
            ]
        );
        assert_eq!(model.lanes[0].id, "Claims_desk");
        assert!(model
            .nodes
            .iter()
            .all(|n| n.lane.as_deref() == Some("Claims_desk")));
        let path: Vec<(&str, &str)> = model
            .flows
            .iter()
            .map(|f| (f.source.as_str(), f.target.as_str()))
            .collect();
        assert_eq!(
            path,
            [
                ("start", "Review_claim_2"),
                ("Review_claim_2", "n1st_check"),
                ("n1st_check", "Review_claim"),
                ("Review_claim", "end")
            ]
        );
    }

    #[test]
    fn flows_without_a_usable_id_of_their_own_are_numbered() {
        // As Qwen2.5-Coder answered: each flow named after the node it leaves, one with none.
        let spec: ProcessSpec = serde_json::from_value(serde_json::json!({
            "name": "p",
            "nodes": [
                {"id": "start", "type": "start_event"},
                {"id": "work", "type": "task", "name": "Do work"},
                {"id": "end", "type": "end_event"}
            ],
            "flows": [
                {"id": "start", "source": "start", "target": "work"},
                {"source": "work", "target": "end"}
            ]
        }))
        .expect("parses without flow ids");
        let model = spec.into_model().expect("valid once numbered");
        let ids: Vec<&str> = model.flows.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["Flow_1", "Flow_2"]);
    }
}
