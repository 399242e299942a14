//! Writes a process model to BPMN 2.0 XML: the semantic part, then the BPMNDI of its drawing,
//! with what the source held beyond the model copied through where it belongs.
//!
//! The writer decides nothing about geometry: the drawing is computed (or kept) beforehand.

use std::fmt::Write as _;

use quick_xml::escape::escape;

use super::carried::Carried;
use super::drawing::{Bounds, Drawing};
use super::duration::iso_8601;
use super::kept::{Kept, Place};
use super::layout::POOL_HEADER;
use super::vocabulary::{element_name, event_definition, BPMNDI_NS, BPMN_NS, DC_NS, DI_NS, XSI_NS};
use crate::model::{EventTrigger, Flow, Node, NodeKind, ProcessModel};

/// Writes `model` drawn as `drawing`, with `kept` copied through.
pub fn write(model: &ProcessModel, drawing: &Drawing, kept: &Kept) -> String {
    let mut x = String::with_capacity(8 * 1024);
    // A pool is drawn for lanes, and whenever the source drew the process in one.
    let has_pool =
        !model.lanes.is_empty() || kept.has_other_pools() || kept.participant_id.is_some();
    let ids = PoolIds {
        collaboration: kept
            .collaboration_id
            .clone()
            .unwrap_or_else(|| format!("Collaboration_{}", model.id)),
        participant: kept
            .participant_id
            .clone()
            .unwrap_or_else(|| format!("Participant_{}", model.id)),
    };
    let _ = writeln!(x, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        x,
        r#"<bpmn:definitions xmlns:bpmn="{BPMN_NS}" xmlns:bpmndi="{BPMNDI_NS}" xmlns:dc="{DC_NS}" xmlns:di="{DI_NS}" xmlns:xsi="{XSI_NS}"{}{}>"#,
        kept.namespaces
            .iter()
            .map(|(name, uri)| format!(r#" {name}="{}""#, esc(uri)))
            .collect::<String>(),
        definitions_attributes(model, &kept.definitions),
    );
    write_children(&mut x, &kept.definitions.head, "  ");
    write_kept(&mut x, kept, Place::Root, "  ");
    if has_pool {
        write_collaboration(&mut x, model, kept, &ids);
    }
    write_process(&mut x, model, kept);
    let plane_element = if has_pool {
        &ids.collaboration
    } else {
        &model.id
    };
    write_diagram(&mut x, model, drawing, kept, plane_element, &ids, has_pool);
    write_kept(&mut x, kept, Place::Diagram, "  ");
    write_children(&mut x, &kept.definitions.tail, "  ");
    let _ = writeln!(x, "</bpmn:definitions>");
    x
}

/// The source's attributes of `<definitions>`, and the compiler's own for those it lacked.
fn definitions_attributes(model: &ProcessModel, source: &Carried) -> String {
    let id = format!("Definitions_{}", esc(&model.id));
    let defaults = [
        ("id", id.as_str()),
        ("targetNamespace", "http://bpmn.io/schema/bpmn"),
        ("exporter", "procmap"),
        ("exporterVersion", env!("CARGO_PKG_VERSION")),
    ];
    let mut attributes = source.attributes_xml();
    for (name, value) in defaults {
        if !source.has_attribute(name) {
            let _ = write!(attributes, r#" {name}="{value}""#);
        }
    }
    attributes
}

/// Children an element carries, one per line.
fn write_children(x: &mut String, children: &[String], indent: &str) {
    for child in children {
        let _ = writeln!(x, "{indent}{child}");
    }
}

/// The ids of the collaboration and of the refined process's pool: the source's, when it had
/// them, since kept message flows and shapes may name them.
struct PoolIds {
    collaboration: String,
    participant: String,
}

fn write_collaboration(x: &mut String, model: &ProcessModel, kept: &Kept, ids: &PoolIds) {
    let _ = writeln!(
        x,
        r#"  <bpmn:collaboration id="{}">"#,
        esc(&ids.collaboration)
    );
    let _ = writeln!(
        x,
        r#"    <bpmn:participant id="{}" name="{}" processRef="{}" />"#,
        esc(&ids.participant),
        // A pool needs a name to be read; a source process may have none.
        esc(if model.name.trim().is_empty() {
            "Process"
        } else {
            &model.name
        }),
        esc(&model.id)
    );
    write_kept(x, kept, Place::Participant, "    ");
    write_kept(x, kept, Place::MessageFlow, "    ");
    let _ = writeln!(x, "  </bpmn:collaboration>");
}

fn write_process(x: &mut String, model: &ProcessModel, kept: &Kept) {
    let carried = kept.carried_on(&model.id);
    let executable = if carried.has_attribute("isExecutable") {
        ""
    } else {
        r#" isExecutable="false""#
    };
    // A source's process keeps the name it had, or none; its pool shows the model's.
    let from_source = carried.has_attribute("name") || kept.participant_id.is_some();
    let name = if from_source || model.name.is_empty() {
        String::new()
    } else {
        format!(r#" name="{}""#, esc(&model.name))
    };
    let _ = writeln!(
        x,
        r#"  <bpmn:process id="{}"{name}{executable}{}>"#,
        esc(&model.id),
        carried.attributes_xml()
    );
    write_children(x, &carried.head, "    ");
    if !model.lanes.is_empty() {
        let lane_set = kept
            .lane_set_id
            .clone()
            .unwrap_or_else(|| format!("LaneSet_{}", model.id));
        let _ = writeln!(x, r#"    <bpmn:laneSet id="{}">"#, esc(&lane_set));
        for lane in &model.lanes {
            let carried = kept.carried_on(&lane.id);
            let _ = writeln!(
                x,
                r#"      <bpmn:lane id="{}" name="{}"{}>"#,
                esc(&lane.id),
                esc(&lane.name),
                carried.attributes_xml()
            );
            write_children(x, &carried.head, "        ");
            for node in model
                .nodes
                .iter()
                .filter(|n| n.lane.as_deref() == Some(lane.id.as_str()))
            {
                let _ = writeln!(
                    x,
                    "        <bpmn:flowNodeRef>{}</bpmn:flowNodeRef>",
                    esc(&node.id)
                );
            }
            let _ = writeln!(x, "      </bpmn:lane>");
        }
        let _ = writeln!(x, "    </bpmn:laneSet>");
    }
    write_scope(x, model, None, kept, "    ");
    write_kept(x, kept, Place::FlowElement, "    ");
    write_kept(x, kept, Place::Artifact, "    ");
    write_children(x, &carried.tail, "    ");
    let _ = writeln!(x, "  </bpmn:process>");
}

/// The BPMNDI: the pool and lanes, every node's shape, outer ones first, and every flow's edge.
fn write_diagram(
    x: &mut String,
    model: &ProcessModel,
    drawing: &Drawing,
    kept: &Kept,
    plane_element: &str,
    ids: &PoolIds,
    has_pool: bool,
) {
    let _ = writeln!(
        x,
        r#"  <bpmndi:BPMNDiagram id="BPMNDiagram_{}">"#,
        esc(&model.id)
    );
    let _ = writeln!(
        x,
        r#"    <bpmndi:BPMNPlane id="BPMNPlane_{}" bpmnElement="{}">"#,
        esc(&model.id),
        esc(plane_element)
    );
    if let Some(pool) = drawing
        .pool
        .or_else(|| has_pool.then(|| enclosing(drawing)).flatten())
    {
        shape(x, &ids.participant, pool, HORIZONTAL, None);
        for lane in &model.lanes {
            if let Some(b) = drawing.lanes.get(&lane.id) {
                shape(x, &lane.id, *b, HORIZONTAL, None);
            }
        }
    }
    // Outer shapes first, so that a sub-process's content is drawn over its box.
    let mut nodes: Vec<&Node> = model.nodes.iter().collect();
    nodes.sort_by_key(|n| depth(model, &n.id));
    for node in nodes {
        if let Some(b) = drawing.nodes.get(&node.id) {
            node_shape(x, model, kept, node, *b);
        }
    }
    for flow in &model.flows {
        if let Some(points) = drawing.flows.get(&flow.id) {
            edge(x, &flow.id, &flow.name, points);
        }
    }
    write_kept(x, kept, Place::Drawing, "      ");
    let _ = writeln!(x, "    </bpmndi:BPMNPlane>");
    let _ = writeln!(x, "  </bpmndi:BPMNDiagram>");
}

fn node_shape(x: &mut String, model: &ProcessModel, kept: &Kept, node: &Node, b: Bounds) {
    // Events and gateways carry their names outside the shape: an event's below it, a
    // gateway's above and to the left, where no branch leaves or joins it.
    let label = (!node.name.is_empty() && !node.kind.is_activity()).then(|| {
        if node.kind.is_gateway() {
            Bounds {
                x: b.x - 95,
                y: b.y - 30,
                width: 90,
                height: 27,
            }
        } else {
            Bounds {
                x: b.x - 25,
                y: b.bottom() + 5,
                width: b.width + 50,
                height: 27,
            }
        }
    });
    // A sub-process whose content is drawn inside it must say so, or tools draw it closed.
    let open = model.is_expanded(&node.id)
        || kept
            .content_of(&node.id)
            .is_some_and(|c| c.expanded_at.is_some());
    // bpmn.io and Camunda Modeler draw an exclusive gateway's X only where the DI asks.
    let attributes = if open {
        r#" isExpanded="true""#
    } else if node.kind == NodeKind::ExclusiveGateway {
        r#" isMarkerVisible="true""#
    } else {
        ""
    };
    shape(x, &node.id, b, attributes, label);
}

fn edge(x: &mut String, flow: &str, name: &str, points: &[(i64, i64)]) {
    let _ = writeln!(
        x,
        r#"      <bpmndi:BPMNEdge id="{}_di" bpmnElement="{}">"#,
        esc(flow),
        esc(flow)
    );
    for (px, py) in points {
        let _ = writeln!(x, r#"        <di:waypoint x="{px}" y="{py}" />"#);
    }
    if !name.is_empty() {
        // Beside the start of the flow; where it first runs down or up out of a gateway, past
        // the bend (under the line going down, over it going up), clear of the gateway's name.
        // A flow that leaves sideways only to turn down or up (around a shape in its way)
        // shares its start with the branch that goes straight on: its name goes beside the
        // line it turns into, clear of that branch.
        let at = match points {
            [(x0, y0), (x1, y1), ..] if x0 == x1 && y1 > y0 => Some((x1 + 8, y1 + 2)),
            [(x0, _), (x1, y1), ..] if x0 == x1 => Some((x1 + 8, y1 - 16)),
            [(_, y0), (x1, y1), (x2, y2), ..] if y0 == y1 && x1 == x2 && y2 > y1 => {
                Some((x1 + 6, y1 + 6))
            }
            [(_, y0), (x1, y1), (x2, _), ..] if y0 == y1 && x1 == x2 => Some((x1 + 6, y1 - 20)),
            [(lx, ly), ..] => Some((lx + 5, ly + 4)),
            [] => None,
        };
        if let Some((lx, ly)) = at {
            let _ = writeln!(
                x,
                r#"        <bpmndi:BPMNLabel><dc:Bounds x="{lx}" y="{ly}" width="40" height="14" /></bpmndi:BPMNLabel>"#,
            );
        }
    }
    let _ = writeln!(x, "      </bpmndi:BPMNEdge>");
}

/// How many sub-processes a node is inside.
fn depth(model: &ProcessModel, id: &str) -> usize {
    std::iter::successors(model.parent_of(id), |p| model.parent_of(p))
        .take(model.nodes.len())
        .count()
}

/// The nodes and flows directly inside `scope` (the process's top level for `None`); a
/// sub-process's own content is written inside its element.
fn write_scope(
    x: &mut String,
    model: &ProcessModel,
    scope: Option<&str>,
    kept: &Kept,
    indent: &str,
) {
    for node in model.nodes.iter().filter(|n| n.parent.as_deref() == scope) {
        write_node(x, model, node, kept, indent);
    }
    for flow in model
        .flows
        .iter()
        .filter(|f| model.parent_of(&f.source) == scope)
    {
        write_flow(x, flow, kept, indent);
    }
    if scope.is_none() {
        for flow in &kept.broken_flows {
            write_flow(x, flow, kept, indent);
        }
    }
}

/// One sequence flow, with what it carries.
fn write_flow(x: &mut String, flow: &Flow, kept: &Kept, indent: &str) {
    let name = if flow.name.is_empty() {
        String::new()
    } else {
        format!(r#" name="{}""#, esc(&flow.name))
    };
    let carried = kept.carried_on(&flow.id);
    let head = format!(
        r#"{indent}<bpmn:sequenceFlow id="{}"{name} sourceRef="{}" targetRef="{}"{}"#,
        esc(&flow.id),
        esc(&flow.source),
        esc(&flow.target),
        carried.attributes_xml()
    );
    let condition = flow.condition.as_ref().filter(|_| !flow.is_default);
    if condition.is_none() && carried.head.is_empty() && carried.tail.is_empty() {
        let _ = writeln!(x, "{head} />");
        return;
    }
    let _ = writeln!(x, "{head}>");
    let inner = format!("{indent}  ");
    write_children(x, &carried.head, &inner);
    match condition.map(|c| (c, carried.condition_as_written(c))) {
        Some((_, Some(as_written))) => {
            let _ = writeln!(x, "{inner}{as_written}");
        }
        Some((condition, None)) => {
            let _ = writeln!(
                x,
                r#"{inner}<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{}</bpmn:conditionExpression>"#,
                esc(condition)
            );
        }
        None => {}
    }
    write_children(x, &carried.tail, &inner);
    let _ = writeln!(x, "{indent}</bpmn:sequenceFlow>");
}

/// A pool around every shape, for a process drawn without one whose collaboration needs it.
fn enclosing(drawing: &Drawing) -> Option<Bounds> {
    let shapes = drawing.nodes.values();
    let left = shapes.clone().map(|b| b.x).min()? - 30 - POOL_HEADER;
    let top = shapes.clone().map(|b| b.y).min()? - 40;
    let right = shapes.clone().map(Bounds::right).max()? + 40;
    let bottom = shapes.map(Bounds::bottom).max()? + 50;
    Some(Bounds {
        x: left,
        y: top,
        width: right - left,
        height: bottom - top,
    })
}

const HORIZONTAL: &str = r#" isHorizontal="true""#;

fn write_kept(x: &mut String, kept: &Kept, place: Place, indent: &str) {
    for element in kept.at(place) {
        let _ = writeln!(x, "{indent}{}", element.xml);
    }
}

/// One `BPMNShape`; `attributes` are extra ones such as ` isHorizontal="true"`.
fn shape(x: &mut String, element: &str, b: Bounds, attributes: &str, label: Option<Bounds>) {
    let _ = writeln!(
        x,
        r#"      <bpmndi:BPMNShape id="{}_di" bpmnElement="{}"{attributes}>"#,
        esc(element),
        esc(element)
    );
    let _ = writeln!(
        x,
        r#"        <dc:Bounds x="{}" y="{}" width="{}" height="{}" />"#,
        b.x, b.y, b.width, b.height
    );
    if let Some(l) = label {
        let _ = writeln!(
            x,
            r#"        <bpmndi:BPMNLabel><dc:Bounds x="{}" y="{}" width="{}" height="{}" /></bpmndi:BPMNLabel>"#,
            l.x, l.y, l.width, l.height
        );
    }
    let _ = writeln!(x, "      </bpmndi:BPMNShape>");
}

fn write_node(x: &mut String, model: &ProcessModel, node: &Node, kept: &Kept, indent: &str) {
    let tag = element_name(&node.kind);
    let name = if node.name.is_empty() {
        String::new()
    } else {
        format!(r#" name="{}""#, esc(&node.name))
    };
    let default = model
        .outgoing(&node.id)
        .find(|f| f.is_default)
        .filter(|_| {
            matches!(
                node.kind,
                NodeKind::ExclusiveGateway | NodeKind::InclusiveGateway
            ) || node.kind.is_activity()
        })
        .map(|f| format!(r#" default="{}""#, esc(&f.id)))
        .unwrap_or_default();
    let attachment = match &node.kind {
        NodeKind::BoundaryEvent {
            host, interrupting, ..
        } => format!(
            r#" attachedToRef="{}"{}"#,
            esc(host),
            if *interrupting {
                ""
            } else {
                r#" cancelActivity="false""#
            }
        ),
        _ => String::new(),
    };
    let carried = kept.carried_on(&node.id);
    let _ = writeln!(
        x,
        r#"{indent}<bpmn:{tag} id="{}"{name}{default}{attachment}{}>"#,
        esc(&node.id),
        carried.attributes_xml()
    );
    let inner = format!("{indent}  ");
    write_children(x, &carried.head, &inner);
    for flow in model.incoming(&node.id) {
        let _ = writeln!(
            x,
            "{indent}  <bpmn:incoming>{}</bpmn:incoming>",
            esc(&flow.id)
        );
    }
    for flow in model.outgoing(&node.id) {
        let _ = writeln!(
            x,
            "{indent}  <bpmn:outgoing>{}</bpmn:outgoing>",
            esc(&flow.id)
        );
    }
    write_children(x, &carried.tail, &inner);
    if let Some(kept) = kept.definition_of(&node.id) {
        let _ = writeln!(x, "{indent}  {}", kept.xml);
    } else if let Some(definition) = node.kind.trigger().and_then(event_definition) {
        // A timer runs only with its duration, which its name usually states.
        match iso_8601(&node.name).filter(|_| node.kind.trigger() == Some(EventTrigger::Timer)) {
            Some(duration) => {
                let _ = writeln!(
                    x,
                    r#"{indent}  <bpmn:{definition} id="{}_definition">"#,
                    esc(&node.id)
                );
                let _ = writeln!(
                    x,
                    r#"{indent}    <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">{duration}</bpmn:timeDuration>"#
                );
                let _ = writeln!(x, "{indent}  </bpmn:{definition}>");
            }
            None => {
                let _ = writeln!(
                    x,
                    r#"{indent}  <bpmn:{definition} id="{}_definition" />"#,
                    esc(&node.id)
                );
            }
        }
    }
    if let Some(content) = kept.content_of(&node.id) {
        let _ = writeln!(x, "{indent}  {}", content.xml);
    }
    if model.is_expanded(&node.id) {
        write_scope(x, model, Some(&node.id), kept, &format!("{indent}  "));
    }
    let _ = writeln!(x, "{indent}</bpmn:{tag}>");
}

fn esc(text: &str) -> std::borrow::Cow<'_, str> {
    escape(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label_of(points: &[(i64, i64)]) -> String {
        let mut x = String::new();
        edge(&mut x, "Flow_1", "No", points);
        let start = x.find("<dc:Bounds").expect("a label");
        x[start..].lines().next().unwrap_or_default().to_owned()
    }

    #[test]
    fn a_branch_that_turns_after_leaving_sideways_is_named_beside_its_turn() {
        // Beside the start, the name would lie on the sibling branch's, which leaves from the
        // same point and goes straight on.
        assert!(label_of(&[(885, 145), (927, 145), (927, 275), (970, 275)])
            .starts_with(r#"<dc:Bounds x="933" y="151""#));
        assert!(label_of(&[(885, 145), (927, 145), (927, 40), (970, 40)])
            .starts_with(r#"<dc:Bounds x="933" y="125""#));
        // Straight on, and straight down out of a gateway, as before.
        assert!(label_of(&[(885, 145), (970, 145)]).starts_with(r#"<dc:Bounds x="890" y="149""#));
        assert!(label_of(&[(540, 170), (540, 275), (650, 275)])
            .starts_with(r#"<dc:Bounds x="548" y="277""#));
    }
}
