//! What the source wrote on an element the model holds, beyond what the model holds of it:
//! attributes in any namespace (`camunda:assignee`, `zeebe:modelerTemplate`, `isExecutable`,
//! `calledElement`) and children (`documentation`, `extensionElements`, `ioSpecification`, data
//! associations, loop characteristics, event definitions the model does not know, a script).
//! Executable diagrams live in exactly these places, so a refinement writes them again, as the
//! source wrote them, on the same element for as long as the element is there.
//!
//! One opaque payload per element, whatever the tag, rather than one special case per tag: the
//! engine never needs to understand a vendor's extensions to keep them.

use super::vocabulary::element_name;
use crate::model::Node;

/// Where a carried child goes among the children the compiler writes itself. BPMN's schema
/// orders an element's children: documentation and extensions come before a flow node's
/// `incoming` and `outgoing` (a process's lane set, a flow's condition, a lane's node
/// references); data, resources and loop characteristics come after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Head,
    Tail,
}

impl Slot {
    /// The slot of a child element `child` of a `carrier` element, both local names.
    pub fn of(carrier: &str, child: &str) -> Slot {
        let head = match carrier {
            // A process's own children all precede its lane set and flow elements, except the
            // few that follow its artifacts.
            "process" => !matches!(
                child,
                "resourceRole"
                    | "performer"
                    | "humanPerformer"
                    | "potentialOwner"
                    | "correlationSubscription"
                    | "supports"
            ),
            // Imports and extensions precede the root elements; relationships follow diagrams.
            "definitions" => child != "relationship",
            _ => matches!(
                child,
                "documentation"
                    | "extensionElements"
                    | "auditing"
                    | "monitoring"
                    | "categoryValueRef"
            ),
        };
        if head {
            Slot::Head
        } else {
            Slot::Tail
        }
    }
}

/// The children an activity has of its own, beside the flow elements a sub-process holds:
/// carried on the activity, never part of a sub-process's content.
pub fn is_activity_child(local: &str) -> bool {
    matches!(
        local,
        "documentation"
            | "extensionElements"
            | "auditing"
            | "monitoring"
            | "categoryValueRef"
            | "ioSpecification"
            | "property"
            | "dataInputAssociation"
            | "dataOutputAssociation"
            | "resourceRole"
            | "performer"
            | "humanPerformer"
            | "potentialOwner"
            | "standardLoopCharacteristics"
            | "multiInstanceLoopCharacteristics"
    )
}

/// Whether the compiler writes attribute `name` of a `element` itself, from the model.
pub fn is_modeled_attribute(element: &str, name: &str) -> bool {
    match element {
        "definitions" => false,
        "sequenceFlow" => matches!(name, "id" | "name" | "sourceRef" | "targetRef"),
        // A process's own name is the source's: the model's is its pool's when it has one.
        "process" => name == "id",
        "lane" => matches!(name, "id" | "name"),
        _ => matches!(
            name,
            "id" | "name" | "default" | "attachedToRef" | "cancelActivity"
        ),
    }
}

/// What one element carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Carried {
    /// The element's local name in the source (`serviceTask`): what it carries fits that element.
    pub element: String,
    /// Attributes as the source wrote them: the qualified name, and the value escaped for a
    /// double-quoted attribute.
    pub attributes: Vec<(String, String)>,
    /// Children written before the compiler's own, as the source wrote them.
    pub head: Vec<String>,
    /// Children written after the compiler's own, as the source wrote them.
    pub tail: Vec<String>,
    /// A flow's condition as the source wrote it (with its own id, language or type), written
    /// again for as long as the condition reads the same.
    pub condition: Option<WrittenCondition>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenCondition {
    /// The condition's text, as the model holds it.
    pub text: String,
    /// The `conditionExpression` element as the source wrote it.
    pub xml: String,
}

impl Carried {
    pub const NOTHING: Carried = Carried {
        element: String::new(),
        attributes: Vec::new(),
        head: Vec::new(),
        tail: Vec::new(),
        condition: None,
    };

    pub fn new(element: &str) -> Self {
        Carried {
            element: element.to_owned(),
            ..Carried::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.head.is_empty() && self.tail.is_empty()
    }

    /// Records an attribute, raw as it stood in the source between its quotes.
    pub fn attribute(&mut self, name: &str, raw_value: &str) {
        // The source may have quoted with apostrophes around a double quote.
        self.attributes
            .push((name.to_owned(), raw_value.replace('"', "&quot;")));
    }

    pub fn child(&mut self, slot: Slot, xml: String) {
        match slot {
            Slot::Head => self.head.push(xml),
            Slot::Tail => self.tail.push(xml),
        }
    }

    /// The source's `conditionExpression`, if `condition` still reads as it did there.
    pub fn condition_as_written(&self, condition: &str) -> Option<&str> {
        self.condition
            .as_ref()
            .filter(|c| c.text == condition)
            .map(|c| c.xml.as_str())
    }

    /// The attributes, each with its leading space, ready for a start tag.
    pub fn attributes_xml(&self) -> String {
        self.attributes
            .iter()
            .map(|(name, value)| format!(r#" {name}="{value}""#))
            .collect()
    }

    pub fn has_attribute(&self, name: &str) -> bool {
        self.attributes.iter().any(|(n, _)| n == name)
    }

    /// What it carries in a few words, for a warning: `camunda:expression, extensionElements`.
    pub fn describe(&self) -> String {
        let children = self.head.iter().chain(&self.tail).map(|xml| tag_name(xml));
        let names: Vec<&str> = self
            .attributes
            .iter()
            .map(|(n, _)| n.as_str())
            .chain(children)
            .collect();
        names.join(", ")
    }

    /// What still fits `node` after a refinement. A node that is now another kind of element
    /// (a task broken down into a sub-process) keeps its documentation, which BPMN allows on
    /// any element. The rest was written for the old kind: a vendor's settings for a service
    /// task (`camunda:type`, `zeebe:taskDefinition`) do not configure a sub-process, and an
    /// engine may refuse them there. It goes, and the answer names it.
    pub fn fitting(&self, node: &Node) -> (Carried, Option<String>) {
        if element_name(&node.kind) == self.element {
            return (self.clone(), None);
        }
        let (documentation, other_head): (Vec<_>, Vec<_>) = self
            .head
            .iter()
            .cloned()
            .partition(|xml| local_name(tag_name(xml)) == "documentation");
        let fits = Carried {
            element: element_name(&node.kind).to_owned(),
            head: documentation,
            ..Carried::default()
        };
        let dropped = Carried {
            attributes: self.attributes.clone(),
            head: other_head,
            tail: self.tail.clone(),
            ..Carried::default()
        };
        let warning = (!dropped.is_empty()).then(|| {
            format!(
                "{} is now a {} rather than a {}; what only a {} has is not kept: {}",
                node.id,
                fits.element,
                self.element,
                self.element,
                dropped.describe()
            )
        });
        (fits, warning)
    }
}

fn local_name(qualified: &str) -> &str {
    qualified.rsplit(':').next().unwrap_or(qualified)
}

/// The qualified name of the element an XML fragment starts with.
fn tag_name(xml: &str) -> &str {
    let rest = xml.trim_start().trim_start_matches('<');
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .unwrap_or(rest.len());
    &rest[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NodeKind, TaskKind};

    fn service_task() -> Carried {
        let mut carried = Carried::new("serviceTask");
        carried.attribute("camunda:expression", "${mailer.send(order)}");
        carried.attribute("implementation", "##WebService");
        carried.child(
            Slot::Head,
            "<bpmn:extensionElements><camunda:inputOutput/></bpmn:extensionElements>".into(),
        );
        carried.child(
            Slot::Tail,
            r#"<bpmn:multiInstanceLoopCharacteristics isSequential="true"/>"#.into(),
        );
        carried
    }

    fn node(kind: NodeKind) -> Node {
        Node {
            id: "Task_Mail".into(),
            kind,
            name: String::new(),
            lane: None,
            parent: None,
        }
    }

    #[test]
    fn children_go_where_the_schema_orders_them() {
        assert_eq!(Slot::of("serviceTask", "extensionElements"), Slot::Head);
        assert_eq!(Slot::of("serviceTask", "ioSpecification"), Slot::Tail);
        assert_eq!(
            Slot::of("boundaryEvent", "cancelEventDefinition"),
            Slot::Tail
        );
        assert_eq!(Slot::of("process", "property"), Slot::Head);
        assert_eq!(Slot::of("process", "resourceRole"), Slot::Tail);
        assert_eq!(Slot::of("definitions", "import"), Slot::Head);
    }

    #[test]
    fn an_element_of_the_same_kind_keeps_everything() {
        let carried = service_task();
        let (fits, warning) = carried.fitting(&node(NodeKind::Task(TaskKind::Service)));
        assert_eq!(fits, carried);
        assert_eq!(warning, None);
    }

    #[test]
    fn a_retyped_element_keeps_its_documentation_and_names_what_it_no_longer_carries() {
        let mut carried = service_task();
        carried.child(
            Slot::Head,
            "<bpmn:documentation>Mails the order.</bpmn:documentation>".into(),
        );
        let (fits, warning) = carried.fitting(&node(NodeKind::SubProcess));
        assert_eq!(fits.element, "subProcess");
        assert_eq!(fits.attributes_xml(), "");
        assert_eq!(
            fits.head,
            ["<bpmn:documentation>Mails the order.</bpmn:documentation>"]
        );
        assert!(fits.tail.is_empty());
        assert_eq!(
            warning.as_deref(),
            Some("Task_Mail is now a subProcess rather than a serviceTask; what only a serviceTask has is not kept: camunda:expression, implementation, bpmn:extensionElements, bpmn:multiInstanceLoopCharacteristics")
        );
    }

    #[test]
    fn a_value_quoted_with_apostrophes_is_written_with_double_quotes() {
        let mut carried = Carried::new("task");
        carried.attribute("camunda:expression", r#"${say("hi")}"#);
        assert_eq!(
            carried.attributes_xml(),
            r#" camunda:expression="${say(&quot;hi&quot;)}""#
        );
    }
}
