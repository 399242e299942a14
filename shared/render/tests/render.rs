//! The renderer on real documents: procmap's own, other tools' (conformance/), and small
//! hand-written ones for each kind of marker.

use std::path::PathBuf;

use procmap_render::{RenderError, SceneError, Theme};

fn fixtures() -> Vec<(String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../conformance");
    let mut files = Vec::new();
    for dir in ["foreign", "executable"] {
        let mut paths: Vec<_> = std::fs::read_dir(root.join(dir))
            .expect("conformance fixtures")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "bpmn"))
            .collect();
        paths.sort();
        for path in paths {
            let xml = std::fs::read_to_string(&path).expect("fixture");
            files.push((path.display().to_string(), xml));
        }
    }
    assert!(files.len() >= 10, "the fixtures are where they were");
    files
}

/// The ids of the elements the first plane draws, read with a plain scan.
fn drawn_ids(xml: &str) -> Vec<String> {
    let first_plane = xml.split("BPMNPlane").nth(1).unwrap_or("");
    // Past the plane's own start tag, which names the process it draws.
    let inside = first_plane.split_once('>').map_or("", |(_, rest)| rest);
    inside
        .split("bpmnElement=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

fn group_of<'a>(svg: &'a str, id: &str) -> &'a str {
    let start = svg
        .find(&format!("<g data-element-id=\"{id}\""))
        .unwrap_or_else(|| panic!("no group for {id}"));
    let rest = &svg[start..];
    &rest[..rest.find("</g>").unwrap_or(rest.len())]
}

#[test]
fn every_element_of_other_tools_diagrams_is_drawn_in_both_themes() {
    for (name, xml) in fixtures() {
        for theme in [Theme::Light, Theme::Dark] {
            let svg = procmap_render::svg(&xml, theme).unwrap_or_else(|e| panic!("{name}: {e}"));
            for id in drawn_ids(&xml) {
                assert!(
                    svg.contains(&format!("data-element-id=\"{id}\"")),
                    "{name}: {id} is not drawn"
                );
            }
        }
    }
}

#[test]
fn the_builtin_modelers_diagrams_are_drawn_with_their_labels() {
    let options = procmap_engine::generate_options(
        "The clerk receives the order. If the order is large, the manager approves it. \
         The warehouse ships the goods.",
    )
    .expect("builtin options");
    for xml in &options {
        let svg = procmap_render::svg(xml, Theme::Light).expect("svg");
        for id in drawn_ids(xml) {
            assert!(svg.contains(&format!("data-element-id=\"{id}\"")), "{id}");
        }
        assert!(
            svg.contains(">receive the order<") || svg.contains("order</tspan>"),
            "{svg}"
        );
        assert!(svg.contains(r#"marker-end="url(#sequenceflow-end)""#));
    }
}

const MARKERS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="d" targetNamespace="t">
  <process id="p">
    <startEvent id="timer"><timerEventDefinition /></startEvent>
    <intermediateCatchEvent id="message"><messageEventDefinition /></intermediateCatchEvent>
    <endEvent id="error"><errorEventDefinition /></endEvent>
    <intermediateThrowEvent id="escalation"><escalationEventDefinition /></intermediateThrowEvent>
    <intermediateThrowEvent id="signal"><signalEventDefinition /></intermediateThrowEvent>
    <startEvent id="conditional"><conditionalEventDefinition /></startEvent>
    <exclusiveGateway id="xor" default="f1" />
    <parallelGateway id="and" />
    <userTask id="user" name="Approve &amp; sign the very long contract for the customer" />
    <serviceTask id="service" name="Charge" />
    <subProcess id="collapsed" name="Collapsed" />
    <boundaryEvent id="late" attachedToRef="user" cancelActivity="false"><timerEventDefinition /></boundaryEvent>
    <sequenceFlow id="f1" sourceRef="xor" targetRef="user" />
    <sequenceFlow id="f2" sourceRef="user" targetRef="service"><conditionExpression>${ok}</conditionExpression></sequenceFlow>
    <textAnnotation id="note"><text>Checked twice</text></textAnnotation>
  </process>
  <bpmndi:BPMNDiagram id="dia">
    <bpmndi:BPMNPlane id="plane" bpmnElement="p">
      <bpmndi:BPMNShape id="s1" bpmnElement="timer"><dc:Bounds x="0" y="0" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="s2" bpmnElement="message"><dc:Bounds x="50" y="0" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="s3" bpmnElement="error"><dc:Bounds x="100" y="0" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="s4" bpmnElement="escalation"><dc:Bounds x="150" y="0" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="s5" bpmnElement="signal"><dc:Bounds x="200" y="0" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="s6" bpmnElement="conditional"><dc:Bounds x="250" y="0" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="s7" bpmnElement="xor" isMarkerVisible="true"><dc:Bounds x="0" y="100" width="50" height="50" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="s8" bpmnElement="and"><dc:Bounds x="0" y="200" width="50" height="50" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="s9" bpmnElement="user"><dc:Bounds x="100" y="85" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="s10" bpmnElement="service"><dc:Bounds x="250" y="85" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="s11" bpmnElement="collapsed" isExpanded="false"><dc:Bounds x="400" y="85" width="100" height="80" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="s12" bpmnElement="late"><dc:Bounds x="132" y="147" width="36" height="36" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="s13" bpmnElement="note"><dc:Bounds x="400" y="0" width="100" height="30" /></bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="e1" bpmnElement="f1"><di:waypoint x="50" y="125" /><di:waypoint x="100" y="125" /></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="e2" bpmnElement="f2"><di:waypoint x="200" y="125" /><di:waypoint x="250" y="125" /></bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</definitions>"#;

#[test]
fn each_kind_of_marker_is_drawn() {
    let svg = procmap_render::svg(MARKERS, Theme::Light).expect("svg");
    for id in [
        "timer",
        "message",
        "error",
        "escalation",
        "signal",
        "conditional",
        "xor",
        "and",
    ] {
        assert!(
            group_of(&svg, id).contains("class=\"marker\""),
            "{id} has no marker"
        );
    }
    for id in ["user", "service"] {
        assert!(
            group_of(&svg, id).contains("class=\"icon\""),
            "{id} has no icon"
        );
    }
    assert!(group_of(&svg, "collapsed").contains("class=\"marker\""));
    // A non-interrupting boundary event is dashed; the default and conditional flows are marked.
    assert!(group_of(&svg, "late").contains("stroke-dasharray=\"6\""));
    assert!(group_of(&svg, "f1").contains("conditional-default-flow-marker"));
    assert!(group_of(&svg, "f2").contains("conditional-flow-marker"));
    // Escaped once, wrapped into several lines inside the task.
    let user = group_of(&svg, "user");
    assert!(user.contains("Approve &amp; sign"), "{user}");
    assert!(user.matches("<tspan").count() >= 3, "{user}");
    assert!(group_of(&svg, "note").contains("Checked twice"));
}

#[test]
fn the_dark_theme_is_a_palette_not_an_inversion() {
    let light = procmap_render::svg(MARKERS, Theme::Light).expect("light");
    let dark = procmap_render::svg(MARKERS, Theme::Dark).expect("dark");
    assert!(light.contains(r##"fill="#ffffff" class="background""##) || light.contains("#ffffff"));
    assert!(dark.contains("#17191e"), "a dark canvas");
    assert!(
        !dark.contains("#ffffff"),
        "no white left in the dark picture"
    );
    assert!(!dark.contains("filter"), "no inverting filter");
}

#[test]
fn a_png_is_twice_the_svg_and_carries_text() {
    let png = procmap_render::png(MARKERS, Theme::Light).expect("png");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // IHDR: width and height, big-endian, at bytes 16..24.
    let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
    let height = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
    let svg = procmap_render::svg(MARKERS, Theme::Light).expect("svg");
    let declared: f64 = svg
        .split("width=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .and_then(|w| w.parse().ok())
        .expect("declared width");
    assert_eq!(f64::from(width), (declared * 2.0).ceil());
    assert!(height > 100);
    // Text made it into the raster: the same picture without names is a smaller file.
    let unnamed =
        procmap_render::png(&MARKERS.replace("name=\"", "data-x=\""), Theme::Light).expect("png");
    assert!(png.len() > unnamed.len());
}

#[test]
fn what_cannot_be_drawn_is_refused_with_a_reason() {
    let no_di = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p"><task id="t"/></process></definitions>"#;
    assert!(matches!(
        procmap_render::svg(no_di, Theme::Light),
        Err(RenderError::Scene(SceneError::NoDiagram))
    ));
    let dtd = r#"<!DOCTYPE x [<!ENTITY a "b">]><definitions/>"#;
    assert!(matches!(
        procmap_render::svg(dtd, Theme::Light),
        Err(RenderError::Scene(SceneError::Dtd))
    ));
    assert!(procmap_render::svg("<definitions><a></b></definitions>", Theme::Light).is_err());
    let deep = format!("{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000));
    assert!(matches!(
        procmap_render::svg(&deep, Theme::Light),
        Err(RenderError::Scene(SceneError::TooDeep))
    ));
}
