//! Import: diagrams saved by other tools refine with everything the process model cannot
//! represent copied through as it was, and every such element reported.

use procmap_engine::bpmn::{kept::Place, reader, validate, Bounds};
use procmap_engine::model::{EventTrigger, NodeKind};
use procmap_engine::{self as engine};

const SIGNAVIO: &str = include_str!("../../../conformance/foreign/signavio_claims.bpmn");
const CAMUNDA: &str = include_str!("../../../conformance/foreign/camunda_tickets.bpmn");
const DEADLINES: &str = include_str!("../../../conformance/foreign/camunda_deadlines.bpmn");

/// Whether a shape lies inside a sub-process's box.
fn within(b: Bounds, box_: Bounds) -> bool {
    b.x > box_.x && b.right() < box_.right() && b.y > box_.y && b.bottom() < box_.bottom()
}

fn kept_ids(xml: &str, place: Place) -> Vec<String> {
    reader::read(xml)
        .expect("reads")
        .kept
        .at(place)
        .map(|e| e.id.clone())
        .collect()
}

#[test]
fn annotations_data_and_messages_survive_a_refinement_as_they_were() {
    let refined = engine::refine(
        SIGNAVIO,
        "Add a step to check the policy after Review claim.",
    )
    .expect("refined");
    assert_eq!(validate::validate(&refined.bpmn_xml), vec![]);
    // Copied through byte for byte, in the source's own (default) namespace.
    for original in [
        r#"<message id="sid-msg-claim" name="Claim form"/>"#,
        r#"<dataObjectReference id="sid-claim-ref" name="Claim file" dataObjectRef="sid-claim-data"/>"#,
        r#"<association id="sid-assoc" sourceRef="sid-review" targetRef="sid-note" associationDirection="None"/>"#,
        "<text>Checked daily by the claims desk</text>",
        r#"<omgdc:Bounds height="50.0" width="160.0" x="135.0" y="20.0"/>"#,
    ] {
        assert!(
            refined.bpmn_xml.contains(original),
            "{original} was not kept"
        );
    }
    assert!(refined
        .bpmn_xml
        .contains(r#"xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL""#));
    assert_eq!(
        kept_ids(&refined.bpmn_xml, Place::Artifact),
        vec!["sid-note", "sid-assoc"]
    );
    assert_eq!(
        kept_ids(&refined.bpmn_xml, Place::FlowElement),
        vec!["sid-claim-data", "sid-claim-ref"]
    );
    // Each kept element is reported, and nothing is reported as dropped.
    for id in ["sid-note", "sid-assoc", "sid-claim-data", "sid-claim-ref"] {
        assert!(
            refined
                .warnings
                .iter()
                .any(|w| w.contains(id) && w.contains("kept as it was")),
            "{id}: {:?}",
            refined.warnings
        );
    }
    assert!(!refined.warnings.iter().any(|w| w.contains("removed")));
}

#[test]
fn an_association_goes_with_the_task_it_annotated_and_says_so() {
    let refined = engine::refine(SIGNAVIO, "Remove Review claim.").expect("refined");
    assert_eq!(validate::validate(&refined.bpmn_xml), vec![]);
    assert!(
        !refined.bpmn_xml.contains("sid-assoc"),
        "association and its edge are gone"
    );
    assert!(refined
        .bpmn_xml
        .contains("Checked daily by the claims desk"));
    assert!(
        refined
            .warnings
            .iter()
            .any(|w| w == "sid-assoc was removed with sid-review, which it connected"),
        "{:?}",
        refined.warnings
    );
}

#[test]
fn a_camunda_collaboration_keeps_its_lanes_annotation_and_drawing() {
    let refined = engine::refine(
        CAMUNDA,
        "Add a step to notify the customer after Resolve ticket.",
    )
    .expect("refined");
    assert_eq!(validate::validate(&refined.bpmn_xml), vec![]);
    assert!(refined.bpmn_xml.contains("<bpmn2:text>SLA 4h</bpmn2:text>"));
    assert!(refined
        .bpmn_xml
        .contains(r#"xmlns:bpmn2="http://www.omg.org/spec/BPMN/20100524/MODEL""#));
    let after = reader::read(&refined.bpmn_xml).expect("reads");
    let before = reader::read(CAMUNDA).expect("reads");
    assert_eq!(after.model.lanes, before.model.lanes);
    for id in ["Start_Ticket", "Task_Triage", "Task_Resolve", "End_Ticket"] {
        assert_eq!(
            after.layout.nodes[id], before.layout.nodes[id],
            "{id} moved"
        );
    }
    assert_eq!(after.layout.lanes["Lane_Agent"].y, 40);
    let drawn_note = after
        .kept
        .at(Place::Drawing)
        .any(|e| e.id == "Note_1" && e.xml.contains(r#"x="330""#));
    assert!(drawn_note, "the annotation's shape is where it was");
    // A tool's own settings have no place in the model, so the element carries them as they
    // were, and nothing needs saying.
    assert!(
        refined
            .bpmn_xml
            .contains(r#"id="Task_Triage" name="Triage ticket" camunda:assignee="agent">"#),
        "{}",
        refined.bpmn_xml
    );
    assert!(
        refined.warnings.iter().all(|w| !w.contains("assignee")),
        "{:?}",
        refined.warnings
    );
}

#[test]
fn a_process_keeps_its_extension_elements_and_its_own_attributes() {
    let refined = engine::refine(SIGNAVIO, "Rename Pay claim to Settle claim.").expect("refined");
    assert!(refined.bpmn_xml.contains(
        r#"<extensionElements><signavio:signavioDiagramMetaData metaKey="revisionid" metaValue="abc"/></extensionElements>"#
    ));
    assert!(refined
        .bpmn_xml
        .contains(r#"<bpmn:process id="sid-claims" name="Claims" isExecutable="false">"#));
    assert!(
        refined
            .warnings
            .iter()
            .all(|w| !w.contains("extensionElements") && !w.contains("signavio")),
        "{:?}",
        refined.warnings
    );
}

#[test]
fn a_source_that_binds_the_compilers_prefixes_elsewhere_keeps_its_model_and_says_what_it_lost() {
    let clashing = SIGNAVIO.replace(
        r#"xmlns:signavio="http://www.signavio.com""#,
        r#"xmlns:signavio="http://www.signavio.com" xmlns:dc="urn:not-dc""#,
    );
    let refined = engine::refine(&clashing, "Rename Pay claim to Settle claim.").expect("refined");
    assert_eq!(validate::validate(&refined.bpmn_xml), vec![]);
    assert!(!refined.bpmn_xml.contains("Checked daily"));
    assert!(
        refined
            .warnings
            .iter()
            .any(|w| w.contains("could not be kept") && w.contains("dc")),
        "{:?}",
        refined.warnings
    );
}

const BPMN_IO: &str = include_str!("../../../conformance/foreign/bpmnio_orders.bpmn");

#[test]
fn an_open_sub_processs_content_is_modeled_and_a_collapsed_ones_is_kept_with_its_plane() {
    let refined = engine::refine(
        BPMN_IO,
        "Add a step to notify the customer after Ship order.",
    )
    .expect("refined");
    assert_eq!(validate::validate(&refined.bpmn_xml), vec![]);
    let xml = &refined.bpmn_xml;
    // The expanded one is part of the model: open, with its content inside it where it was.
    assert!(
        xml.contains(r#"bpmnElement="Sub_Pick" isExpanded="true""#),
        "{xml}"
    );
    assert!(xml.contains(r#"<bpmn:task id="Task_Pick" name="Pick items">"#));
    let before = reader::read(BPMN_IO).expect("reads");
    let back = reader::read(xml).expect("reads");
    let children: Vec<&str> = back
        .model
        .children("Sub_Pick")
        .map(|n| n.id.as_str())
        .collect();
    assert_eq!(children, ["Sub_Pick_Start", "Task_Pick", "Sub_Pick_End"]);
    for id in ["Sub_Pick", "Sub_Pick_Start", "Task_Pick", "Sub_Pick_End"] {
        assert_eq!(back.layout.nodes[id], before.layout.nodes[id], "{id} moved");
    }
    assert!(
        !refined.warnings.iter().any(|w| w.contains("Sub_Pick")),
        "{:?}",
        refined.warnings
    );
    // The collapsed one keeps its content as it was, and the plane that draws it.
    assert!(xml.contains(r#"<bpmndi:BPMNPlane id="BPMNPlane_Ship" bpmnElement="Sub_Ship">"#));
    assert_eq!(
        xml.matches("<bpmn:incoming>Flow_1</bpmn:incoming>").count(),
        1,
        "the compiler's own incoming, once"
    );
    assert_eq!(back.kept.sub_processes.len(), 1);
    assert!(back.kept.content_of("Sub_Ship").is_some());
}

#[test]
fn a_step_added_inside_an_open_sub_process_stays_inside_it() {
    let refined = engine::refine(BPMN_IO, "Add a step to check the parcel after Pick items.")
        .expect("refined");
    assert_eq!(validate::validate(&refined.bpmn_xml), vec![]);
    let back = reader::read(&refined.bpmn_xml).expect("reads");
    let added = back
        .model
        .nodes
        .iter()
        .find(|n| n.name == "Check parcel")
        .expect("added");
    assert_eq!(added.parent.as_deref(), Some("Sub_Pick"));
    assert!(within(
        back.layout.nodes[&added.id],
        back.layout.nodes["Sub_Pick"]
    ));
}

/// The bpmn.io fixture with documentation in its open sub-process, which the model has no
/// place for: that content is kept whole.
fn bpmn_io_with_documented_content() -> String {
    BPMN_IO.replace(
        r#"<bpmn:task id="Task_Pick" name="Pick items">"#,
        r#"<bpmn:task id="Task_Pick" name="Pick items"><bpmn:documentation>Use the scanner</bpmn:documentation>"#,
    )
}

#[test]
fn an_open_sub_process_with_content_the_model_cannot_hold_is_kept_whole() {
    let source = bpmn_io_with_documented_content();
    let refined = engine::refine(
        &source,
        "Add a step to notify the customer after Ship order.",
    )
    .expect("refined");
    assert_eq!(validate::validate(&refined.bpmn_xml), vec![]);
    assert!(refined
        .bpmn_xml
        .contains("<bpmn:documentation>Use the scanner</bpmn:documentation>"));
    let back = reader::read(&refined.bpmn_xml).expect("reads");
    assert_eq!(back.kept.sub_processes.len(), 2);
    assert_eq!(
        back.kept.content_of("Sub_Pick").and_then(|c| c.expanded_at),
        back.layout.nodes.get("Sub_Pick").copied()
    );
    assert!(refined.warnings.iter().any(|w| w
        == "the content of sub-process Sub_Pick is not part of the process model; it is kept as it was"));
    assert!(
        !refined.warnings.iter().any(|w| w.contains("documentation")),
        "kept, so not reported as lost: {:?}",
        refined.warnings
    );
}

#[test]
fn a_modeled_sub_process_moved_into_a_lane_is_laid_out_with_its_content_inside() {
    let refined = engine::refine(BPMN_IO, "Put Pick and pack in lane Warehouse.").expect("refined");
    assert_eq!(validate::validate(&refined.bpmn_xml), vec![]);
    assert!(refined
        .bpmn_xml
        .contains(r#"bpmnElement="Sub_Pick" isExpanded="true""#));
    let back = reader::read(&refined.bpmn_xml).expect("reads");
    let box_ = back.layout.nodes["Sub_Pick"];
    let lane = back
        .model
        .node("Sub_Pick")
        .and_then(|n| n.lane.clone())
        .expect("in a lane");
    let lane = back.layout.lanes[&lane];
    assert!(box_.y >= lane.y && box_.bottom() <= lane.bottom());
    for child in back.model.children("Sub_Pick") {
        assert!(
            within(back.layout.nodes[&child.id], box_),
            "{} is outside its sub-process",
            child.id
        );
        assert_eq!(child.lane, None);
    }
}

#[test]
fn a_removed_sub_process_takes_its_content_and_its_plane_with_it() {
    let refined = engine::refine(BPMN_IO, "Remove Ship order.").expect("refined");
    assert_eq!(validate::validate(&refined.bpmn_xml), vec![]);
    assert!(!refined.bpmn_xml.contains("Sub_Ship"));
    assert!(refined
        .warnings
        .iter()
        .any(|w| w == "the content of sub-process Sub_Ship was removed with it"));
}

#[test]
fn an_open_sub_process_the_refinement_moves_is_drawn_collapsed_with_its_content_on_its_own_plane() {
    // Lanes are new, so the diagram is laid out afresh and the open sub-process moves.
    let source = bpmn_io_with_documented_content();
    let refined = engine::refine(&source, "Put Pick and pack in lane Warehouse.").expect("refined");
    assert_eq!(validate::validate(&refined.bpmn_xml), vec![]);
    let xml = &refined.bpmn_xml;
    assert!(!xml.contains("isExpanded"), "{xml}");
    assert!(xml.contains(r#"<bpmndi:BPMNPlane id="BPMNPlane_Sub_Pick" bpmnElement="Sub_Pick">"#));
    assert!(xml.contains(r#"<bpmndi:BPMNShape id="Task_Pick_di" bpmnElement="Task_Pick">"#));
    assert!(refined
        .warnings
        .iter()
        .any(|w| w.contains("Sub_Pick is now drawn collapsed")));
}

const COLLABORATION: &str =
    include_str!("../../../conformance/foreign/camunda_orders_collaboration.bpmn");

#[test]
fn the_other_pools_and_message_flows_of_a_collaboration_stay_as_they_were() {
    let refined = engine::refine(
        COLLABORATION,
        "Add a step to pack the goods after Check stock.",
    )
    .expect("refined");
    assert_eq!(validate::validate(&refined.bpmn_xml), vec![]);
    let xml = &refined.bpmn_xml;
    for original in [
        r#"<bpmn:process id="Process_Customer" name="Customer" isExecutable="false">"#,
        r#"<bpmn:participant id="Participant_Customer" name="Customer" processRef="Process_Customer" />"#,
        r#"<bpmn:messageFlow id="Message_Order" name="Order" sourceRef="Task_Send_Order" targetRef="Start_Shop" />"#,
        r#"<bpmndi:BPMNShape id="Task_Send_Order_di" bpmnElement="Task_Send_Order"><dc:Bounds x="270" y="100" width="100" height="80" /></bpmndi:BPMNShape>"#,
        r#"<bpmndi:BPMNEdge id="Message_Invoice_di" bpmnElement="Message_Invoice">"#,
    ] {
        assert!(xml.contains(original), "{original} was not kept");
    }
    // The refined pool keeps its participant's id, which the message flows name.
    assert!(
        xml.contains(
            r#"<bpmn:participant id="Participant_Shop" name="Shop" processRef="Process_Shop" />"#
        ),
        "{xml}"
    );
    assert!(xml.contains(r#"<bpmn:collaboration id="Collaboration_Orders">"#));
    assert_eq!(xml.matches(r#"bpmnElement="Participant_Shop""#).count(), 1);
    let back = reader::read(xml).expect("reads");
    assert_eq!(back.model.id, "Process_Shop");
    let pool = back.layout.pool.expect("the refined pool is drawn");
    for b in back.layout.nodes.values() {
        assert!(
            b.x >= pool.x
                && b.right() <= pool.right()
                && b.y >= pool.y
                && b.bottom() <= pool.bottom(),
            "{b:?} is outside {pool:?}"
        );
    }
    assert!(refined.warnings.iter().any(
        |w| w == "process Process_Customer is another pool, not refined; it is kept as it was"
    ));
}

#[test]
fn a_message_flow_goes_with_the_task_it_left() {
    let refined = engine::refine(COLLABORATION, "Remove Send invoice.").expect("refined");
    assert_eq!(validate::validate(&refined.bpmn_xml), vec![]);
    assert!(!refined.bpmn_xml.contains("Message_Invoice"));
    assert!(refined.bpmn_xml.contains(r#"id="Message_Order""#));
    assert!(refined
        .warnings
        .iter()
        .any(|w| w == "Message_Invoice was removed with Task_Invoice, which it connected"));
}

#[test]
fn boundary_events_stay_on_their_activity_with_their_paths_and_drawing() {
    let refined =
        engine::refine(DEADLINES, "Rename Book payment to Pay supplier.").expect("refined");
    assert_eq!(validate::validate(&refined.bpmn_xml), vec![]);
    let before = reader::read(DEADLINES).expect("reads");
    let after = reader::read(&refined.bpmn_xml).expect("reads");
    assert_eq!(
        after.model.node("Timer_Reminder").map(|n| &n.kind),
        Some(&NodeKind::BoundaryEvent {
            trigger: EventTrigger::Timer,
            host: "Task_Approve".into(),
            interrupting: false
        })
    );
    assert_eq!(
        after.model.node("Error_Payment").map(|n| &n.kind),
        Some(&NodeKind::BoundaryEvent {
            trigger: EventTrigger::Error,
            host: "Task_Book".into(),
            interrupting: true
        })
    );
    assert!(refined
        .bpmn_xml
        .contains(r#"<bpmn:boundaryEvent id="Timer_Reminder" name="3 days" attachedToRef="Task_Approve" cancelActivity="false">"#));
    for id in [
        "Timer_Reminder",
        "Error_Payment",
        "Task_Remind",
        "Task_Refund",
    ] {
        assert_eq!(
            after.layout.nodes[id], before.layout.nodes[id],
            "{id} moved"
        );
    }
    assert_eq!(after.layout.flows["Flow_6"], before.layout.flows["Flow_6"]);
    // The timer's duration is the source's, copied through with its definition's id.
    assert!(refined.bpmn_xml.contains(
        r#"<bpmn:timerEventDefinition id="TimerEventDefinition_1">
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">P3D</bpmn:timeDuration>
      </bpmn:timerEventDefinition>"#
    ));
    assert!(refined
        .bpmn_xml
        .contains(r#"<bpmn:errorEventDefinition id="ErrorEventDefinition_1" />"#));
    assert!(
        !refined.warnings.iter().any(|w| w.contains("timeDuration")),
        "{:?}",
        refined.warnings
    );
}

#[test]
fn removing_an_activity_removes_its_boundary_events_and_the_paths_only_they_reach() {
    let refined = engine::refine(DEADLINES, "Remove Approve request.").expect("refined");
    assert_eq!(validate::validate(&refined.bpmn_xml), vec![]);
    let after = reader::read(&refined.bpmn_xml).expect("reads");
    for gone in [
        "Task_Approve",
        "Timer_Reminder",
        "Task_Remind",
        "End_Reminded",
    ] {
        assert!(after.model.node(gone).is_none(), "{gone} is still there");
    }
    for kept in ["Task_Book", "Error_Payment", "Task_Refund", "End_Failed"] {
        assert!(after.model.node(kept).is_some(), "{kept} went too");
    }
}

#[test]
fn a_flow_into_a_boundary_event_or_one_attached_to_nothing_is_reported() {
    let entered = DEADLINES.replace(
        r#"sourceRef="Task_Remind" targetRef="End_Reminded""#,
        r#"sourceRef="Task_Remind" targetRef="Error_Payment""#,
    );
    let problems = validate::validate(&entered);
    assert!(
        problems
            .iter()
            .any(|p| p.code == "invalid_boundary_event"
                && p.element.as_deref() == Some("Error_Payment")),
        "{problems:?}"
    );
    let on_nothing =
        DEADLINES.replace(r#"attachedToRef="Task_Book""#, r#"attachedToRef="Nowhere""#);
    let error = engine::refine(&on_nothing, "Rename Book payment to Pay supplier.")
        .expect_err("a boundary event on nothing cannot be refined");
    assert_eq!(error.code(), "invalid_source");
    assert!(error.to_string().contains("Error_Payment"), "{error}");
}

#[test]
fn a_refinement_writes_the_same_document_every_time_with_the_sources_namespaces_in_order() {
    let refine = || {
        engine::refine(DEADLINES, "Rename Book payment to Pay supplier.")
            .expect("refined")
            .bpmn_xml
    };
    let first = refine();
    for _ in 0..8 {
        assert_eq!(
            refine(),
            first,
            "the same refinement wrote another document"
        );
    }
    let position = |xml: &str, prefix: &str| xml.find(&format!("xmlns:{prefix}=")).expect(prefix);
    for xml in [DEADLINES, first.as_str()] {
        assert!(
            position(xml, "camunda") < position(xml, "modeler"),
            "namespace declarations keep the source's order"
        );
    }
}

/// One pool without lanes, as bpmn.io saves a process drawn in a participant.
const SINGLE_POOL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="D1" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:collaboration id="Collab_1">
    <bpmn:participant id="Pool_1" name="Shop" processRef="P1" />
  </bpmn:collaboration>
  <bpmn:process id="P1" isExecutable="false">
    <bpmn:startEvent id="S"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:task id="T" name="Pack order"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:task>
    <bpmn:endEvent id="E"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="T" />
    <bpmn:sequenceFlow id="F2" sourceRef="T" targetRef="E" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Dia"><bpmndi:BPMNPlane id="Pl" bpmnElement="Collab_1">
    <bpmndi:BPMNShape id="Pool_1_di" bpmnElement="Pool_1" isHorizontal="true"><dc:Bounds x="100" y="50" width="600" height="200" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="S_di" bpmnElement="S"><dc:Bounds x="150" y="130" width="36" height="36" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="T_di" bpmnElement="T"><dc:Bounds x="250" y="108" width="100" height="80" /></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="E_di" bpmnElement="E"><dc:Bounds x="420" y="130" width="36" height="36" /></bpmndi:BPMNShape>
    <bpmndi:BPMNEdge id="F1_di" bpmnElement="F1"><di:waypoint x="186" y="148" /><di:waypoint x="250" y="148" /></bpmndi:BPMNEdge>
    <bpmndi:BPMNEdge id="F2_di" bpmnElement="F2"><di:waypoint x="350" y="148" /><di:waypoint x="420" y="148" /></bpmndi:BPMNEdge>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>"#;

#[test]
fn a_single_pool_without_lanes_stays_a_pool_and_every_shape_draws_an_element() {
    let refined =
        engine::refine(SINGLE_POOL, "Rename Pack order to Pack parcel.").expect("refined");
    assert_eq!(validate::validate(&refined.bpmn_xml), vec![]);
    assert!(
        refined
            .bpmn_xml
            .contains(r#"<bpmn:participant id="Pool_1" name="Shop" processRef="P1""#),
        "{}",
        refined.bpmn_xml
    );
    let ids = reader::read(&refined.bpmn_xml).expect("reads").ids;
    for drawn in refined.bpmn_xml.split(r#"bpmnElement=""#).skip(1) {
        let drawn = drawn.split('"').next().unwrap_or_default();
        assert!(
            ids.iter().any(|id| id == drawn),
            "a shape draws {drawn}, which is not in the document"
        );
    }
}
