//! Composes the picture: containers first, then shapes, flows, boundary events and labels, so
//! nothing is hidden behind what it sits in.

use std::fmt::Write;

use crate::icons;
use crate::palette::Palette;
use crate::scene::{Edge, Rect, Scene, Semantic, Shape};
use crate::svg::{escape, n, rounded_polyline, Paint, Svg};
use crate::text::{self, Align, EMBEDDED_SIZE, EXTERNAL_SIZE, FONT_FAMILY};

/// Space around the drawing.
const MARGIN: f64 = 20.0;
/// bpmn-js's corner radius of activities and of connection bends.
const TASK_RADIUS: f64 = 10.0;
const BEND_RADIUS: f64 = 5.0;
/// Distance between the outer and inner circle of intermediate events.
const INNER_OUTER: f64 = 3.0;
/// The width bpmn-js wraps external labels to.
const EXTERNAL_LABEL_WIDTH: f64 = 90.0;

/// The order shapes are drawn in: lower first.
fn layer(semantic: &Semantic, shape: &Shape) -> u8 {
    match semantic.kind.as_str() {
        "participant" => 0,
        "lane" => 1,
        "group" => 5,
        "boundaryEvent" => 4,
        _ if is_expanded(semantic, shape) => 2,
        _ => 3,
    }
}

fn is_expanded(semantic: &Semantic, shape: &Shape) -> bool {
    matches!(
        semantic.kind.as_str(),
        "subProcess" | "transaction" | "adHocSubProcess"
    ) && shape.expanded.unwrap_or(false)
}

/// The extent of everything drawn, labels included.
fn extent(scene: &Scene, labels: impl Iterator<Item = Rect>) -> Rect {
    let mut min = (f64::INFINITY, f64::INFINITY);
    let mut max = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let mut take = |x: f64, y: f64| {
        min = (min.0.min(x), min.1.min(y));
        max = (max.0.max(x), max.1.max(y));
    };
    for shape in &scene.shapes {
        take(shape.bounds.x, shape.bounds.y);
        take(shape.bounds.right(), shape.bounds.bottom());
    }
    for edge in &scene.edges {
        for &(x, y) in &edge.waypoints {
            take(x, y);
        }
    }
    for label in labels {
        take(label.x, label.y);
        take(label.right(), label.bottom());
    }
    if !min.0.is_finite() {
        return Rect::new(0.0, 0.0, 0.0, 0.0);
    }
    Rect {
        x: min.0 - MARGIN,
        y: min.1 - MARGIN,
        width: max.0 - min.0 + 2.0 * MARGIN,
        height: max.1 - min.1 + 2.0 * MARGIN,
    }
}

/// The whole SVG document, and the size it declares.
pub fn document(scene: &Scene, p: &Palette) -> (String, Rect) {
    let labels = external_labels(scene);
    let view = extent(scene, labels.iter().map(|(_, _, b)| *b));
    let mut svg = Svg::new();
    let _ = write!(
        svg.out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="{x} {y} {w} {h}" font-family="{FONT_FAMILY}">"#,
        x = n(view.x),
        y = n(view.y),
        w = n(view.width),
        h = n(view.height),
    );
    defs(&mut svg, p);
    svg.rect(
        Rect::new(view.x, view.y, view.width, view.height),
        0.0,
        Paint::new("none", 0.0, p.background),
        "background",
    );

    let mut shapes: Vec<(&Shape, &Semantic)> = scene
        .shapes
        .iter()
        .filter_map(|shape| Some((shape, scene.semantic(&shape.element)?)))
        .collect();
    // Containers by layer; nested expanded sub-processes after the ones holding them.
    shapes.sort_by(|(a, sa), (b, sb)| {
        layer(sa, a).cmp(&layer(sb, b)).then_with(|| {
            let area = |s: &Shape| s.bounds.width * s.bounds.height;
            if layer(sa, a) == 2 {
                area(b).total_cmp(&area(a))
            } else {
                std::cmp::Ordering::Equal
            }
        })
    });
    for &(shape, semantic) in shapes.iter().filter(|(s, sem)| layer(sem, s) < 4) {
        draw_shape(&mut svg, scene, shape, semantic, p);
    }
    for edge in &scene.edges {
        if let Some(semantic) = scene.semantic(&edge.element) {
            draw_edge(&mut svg, scene, edge, semantic, p);
        }
    }
    for &(shape, semantic) in shapes.iter().filter(|(s, sem)| layer(sem, s) >= 4) {
        draw_shape(&mut svg, scene, shape, semantic, p);
    }
    // External labels last, above every line that might cross them.
    for (id, name, b) in labels {
        external_label(&mut svg, id, name, b, p);
    }
    svg.raw("</svg>");
    (svg.out, view)
}

/// Arrowheads and flow markers, in the theme's colours. Sizes are bpmn-js's, and as there they
/// scale with the width of the line they end.
fn defs(svg: &mut Svg, p: &Palette) {
    let _ = write!(
        svg.out,
        concat!(
            "<defs>",
            r#"<marker id="sequenceflow-end" viewBox="0 0 20 20" refX="11" refY="10" markerWidth="10" markerHeight="10" orient="auto"><path d="M 1 5 L 11 10 L 1 15 Z" fill="{s}" stroke="{s}" stroke-width="1" stroke-linecap="round"/></marker>"#,
            r#"<marker id="messageflow-start" viewBox="0 0 20 20" refX="6" refY="6" markerWidth="20" markerHeight="20" orient="auto"><circle cx="6" cy="6" r="3.5" fill="{f}" stroke="{s}" stroke-width="1"/></marker>"#,
            r#"<marker id="messageflow-end" viewBox="0 0 20 20" refX="8.5" refY="5" markerWidth="20" markerHeight="20" orient="auto"><path d="m 1 1 l 0 8 l 8 -4 z" fill="{f}" stroke="{s}" stroke-width="1" stroke-linecap="round"/></marker>"#,
            r#"<marker id="association-end" viewBox="0 0 20 20" refX="11" refY="10" markerWidth="10" markerHeight="10" orient="auto"><path d="M 1 5 L 11 10 L 1 15" fill="none" stroke="{q}" stroke-width="1.5" stroke-linecap="round"/></marker>"#,
            r#"<marker id="association-start" viewBox="0 0 20 20" refX="1" refY="10" markerWidth="10" markerHeight="10" orient="auto"><path d="M 11 5 L 1 10 L 11 15" fill="none" stroke="{q}" stroke-width="1.5" stroke-linecap="round"/></marker>"#,
            r#"<marker id="conditional-flow-marker" viewBox="0 0 20 20" refX="-1" refY="10" markerWidth="10" markerHeight="10" orient="auto"><path d="M 0 10 L 8 6 L 16 10 L 8 14 Z" fill="{f}" stroke="{s}" stroke-width="1"/></marker>"#,
            r#"<marker id="conditional-default-flow-marker" viewBox="0 0 20 20" refX="-5" refY="10" markerWidth="10" markerHeight="10" orient="auto"><path d="M 6 4 L 10 16" fill="none" stroke="{s}" stroke-width="1"/></marker>"#,
            "</defs>"
        ),
        s = p.stroke,
        f = p.fill,
        q = p.quiet,
    );
}

fn has_external_label(semantic: &Semantic) -> bool {
    semantic.is_event()
        || semantic.is_gateway()
        || matches!(
            semantic.kind.as_str(),
            "dataObjectReference" | "dataStoreReference" | "dataInput" | "dataOutput" | "group"
        )
}

fn draw_shape(svg: &mut Svg, scene: &Scene, shape: &Shape, semantic: &Semantic, p: &Palette) {
    let b = shape.bounds;
    let kind = semantic.kind.as_str();
    svg.open_element(&shape.element, &class_of(kind));
    let name = semantic.name.as_deref().unwrap_or("");
    let solid = |width: f64| Paint::new(p.stroke, width, p.fill);
    if semantic.is_event() {
        let (cx, cy) = (b.centre_x(), b.centre_y());
        let r = ((b.width + b.height) / 4.0).round();
        let mut outer = match kind {
            "startEvent" => solid(2.0),
            "endEvent" => solid(4.0),
            _ => solid(1.5),
        };
        if semantic.is_non_interrupting() {
            outer = outer.dashed("6");
        }
        svg.circle(cx, cy, r, outer, "outline");
        if matches!(
            kind,
            "intermediateCatchEvent" | "intermediateThrowEvent" | "boundaryEvent"
        ) {
            let mut inner = Paint::new(p.stroke, 1.5, "none");
            if semantic.is_non_interrupting() {
                inner = inner.dashed("6");
            }
            svg.circle(cx, cy, r - INNER_OUTER, inner, "");
        }
        icons::event_marker(svg, b, semantic, p);
    } else if semantic.is_gateway() {
        let (cx, cy) = (b.centre_x(), b.centre_y());
        let d = format!(
            "M{},{}L{},{}L{},{}L{},{}Z",
            n(cx),
            n(b.y),
            n(b.right()),
            n(cy),
            n(cx),
            n(b.bottom()),
            n(b.x),
            n(cy)
        );
        svg.path(&d, solid(2.0), "outline");
        icons::gateway_marker(svg, b, semantic, shape.marker_visible, p);
    } else if semantic.is_activity() {
        draw_activity(svg, shape, semantic, p);
    } else {
        match kind {
            "participant" => draw_pool(svg, scene, shape, semantic, p),
            "lane" => {
                svg.rect(
                    Rect::new(b.x, b.y, b.width, b.height),
                    0.0,
                    Paint::new(p.stroke, 1.5, p.container),
                    "outline",
                );
                band_label(svg, b, name, shape.horizontal != Some(false), p);
            }
            "dataObjectReference" | "dataObject" | "dataInput" | "dataOutput" => {
                let fold = (b.width * 0.28).min(b.height * 0.2);
                let d = format!(
                    "M{},{}H{}L{},{}V{}H{}Z",
                    n(b.x),
                    n(b.y),
                    n(b.right() - fold),
                    n(b.right()),
                    n(b.y + fold),
                    n(b.bottom()),
                    n(b.x)
                );
                svg.path(&d, solid(2.0), "outline");
                let corner = format!(
                    "M{},{}V{}H{}",
                    n(b.right() - fold),
                    n(b.y),
                    n(b.y + fold),
                    n(b.right())
                );
                svg.path(&corner, Paint::new(p.stroke, 2.0, "none"), "");
                if kind != "dataObjectReference" && kind != "dataObject" {
                    // An input's arrow is hollow, an output's filled.
                    let fill = if kind == "dataOutput" {
                        p.stroke
                    } else {
                        "none"
                    };
                    let (ax, ay) = (b.x + 4.0, b.y + 4.0);
                    let d = format!("M{},{}h7v-3l6,6l-6,6v-3h-7z", n(ax), n(ay + 3.0));
                    svg.path(&d, Paint::new(p.stroke, 1.0, fill), "icon");
                }
            }
            "dataStoreReference" | "dataStore" => {
                let ry = (b.height * 0.12).min(10.0);
                let d = format!(
                    "M{x0},{top}A{rx},{ry} 0 0 0 {x1},{top}A{rx},{ry} 0 0 0 {x0},{top}V{bot}A{rx},{ry} 0 0 0 {x1},{bot}V{top}",
                    x0 = n(b.x),
                    x1 = n(b.right()),
                    top = n(b.y + ry),
                    bot = n(b.bottom() - ry),
                    rx = n(b.width / 2.0),
                    ry = n(ry),
                );
                svg.path(&d, solid(2.0), "outline");
                let mut rings = String::new();
                for k in 1..=2 {
                    let y = b.y + ry + 5.0 * f64::from(k);
                    let _ = write!(
                        rings,
                        "M{},{}A{},{} 0 0 0 {},{}",
                        n(b.x),
                        n(y),
                        n(b.width / 2.0),
                        n(ry),
                        n(b.right()),
                        n(y)
                    );
                }
                svg.path(&rings, Paint::new(p.stroke, 2.0, "none"), "");
            }
            "textAnnotation" => {
                let d = format!(
                    "M{},{}H{}V{}H{}",
                    n(b.x + 10.0),
                    n(b.y),
                    n(b.x),
                    n(b.bottom()),
                    n(b.x + 10.0)
                );
                // An invisible box keeps the annotation's whole area for hit-testing tools.
                svg.rect(
                    Rect::new(b.x, b.y, b.width, b.height),
                    0.0,
                    Paint::new("none", 0.0, "none"),
                    "outline",
                );
                svg.path(&d, Paint::new(p.quiet, 1.5, "none"), "");
                let text = semantic.text.as_deref().unwrap_or("").trim();
                svg.embedded_label(text, b, Align::LeftTop, p);
            }
            "group" => {
                svg.rect(
                    Rect::new(b.x, b.y, b.width, b.height),
                    TASK_RADIUS,
                    Paint::new(p.quiet, 1.5, "none").dashed("10, 6, 0, 6"),
                    "outline",
                );
            }
            // Anything else drawn in DI (a choreography, an extension) is shown as a box, so
            // no shape of the source goes missing from its picture.
            _ => {
                svg.rect(
                    Rect::new(b.x, b.y, b.width, b.height),
                    0.0,
                    solid(1.0).dashed("4"),
                    "outline",
                );
                svg.embedded_label(name, b, Align::CentreMiddle, p);
            }
        }
    }
    svg.close();
}

fn class_of(kind: &str) -> String {
    format!("bpmn-{}", escape(kind))
}

fn draw_activity(svg: &mut Svg, shape: &Shape, semantic: &Semantic, p: &Palette) {
    let b = shape.bounds;
    let kind = semantic.kind.as_str();
    let name = semantic.name.as_deref().unwrap_or("");
    let is_sub_process = matches!(kind, "subProcess" | "transaction" | "adHocSubProcess");
    let expanded = is_expanded(semantic, shape);
    let width = if kind == "callActivity" { 5.0 } else { 2.0 };
    let mut outline = Paint::new(p.stroke, width, if expanded { p.container } else { p.fill });
    if semantic.attr("triggeredByEvent") == Some("true") {
        outline = outline.dashed("1, 2");
    }
    svg.rect(
        Rect::new(b.x, b.y, b.width, b.height),
        TASK_RADIUS,
        outline,
        "outline",
    );
    if kind == "transaction" {
        svg.rect(
            Rect::new(
                b.x + INNER_OUTER,
                b.y + INNER_OUTER,
                b.width - 2.0 * INNER_OUTER,
                b.height - 2.0 * INNER_OUTER,
            ),
            TASK_RADIUS - INNER_OUTER,
            Paint::new(p.stroke, 1.5, "none"),
            "",
        );
    }
    if expanded {
        svg.embedded_label(name, b, Align::CentreTop, p);
    } else {
        // A task's icon takes the top left; its label stays in the middle, as in bpmn-js.
        svg.embedded_label(name, b, Align::CentreMiddle, p);
        icons::task_icon(svg, b, kind, p);
    }
    // bpmn-js draws a call activity as a collapsed sub-process with a thick border.
    let collapsed = (is_sub_process || kind == "callActivity") && !expanded;
    icons::activity_markers(svg, b, semantic, collapsed, p);
}

fn draw_pool(svg: &mut Svg, scene: &Scene, shape: &Shape, semantic: &Semantic, p: &Palette) {
    let b = shape.bounds;
    let name = semantic.name.as_deref().unwrap_or("");
    let horizontal = shape.horizontal != Some(false);
    svg.rect(
        Rect::new(b.x, b.y, b.width, b.height),
        0.0,
        Paint::new(p.stroke, 1.5, p.container),
        "outline",
    );
    // A pool with no process drawn inside it (a "black box") has its name in the middle.
    let expanded = semantic
        .attr("processRef")
        .is_some_and(|process| scene.semantics.contains_key(process))
        && shape.expanded != Some(false);
    if expanded {
        let d = if horizontal {
            format!("M{},{}V{}", n(b.x + 30.0), n(b.y), n(b.bottom()))
        } else {
            format!("M{},{}H{}", n(b.x), n(b.y + 30.0), n(b.right()))
        };
        svg.path(&d, Paint::new(p.stroke, 1.5, "none"), "");
        band_label(svg, b, name, horizontal, p);
    } else {
        svg.embedded_label(name, b, Align::CentreMiddle, p);
    }
}

/// The name of a pool or lane, in its 30-pixel band: turned a quarter for a horizontal one.
fn band_label(svg: &mut Svg, b: Rect, name: &str, horizontal: bool, p: &Palette) {
    if name.trim().is_empty() {
        return;
    }
    if horizontal {
        // Laid out in a box as long as the band, then rotated into it about the band's corner.
        let _ = write!(
            svg.out,
            r#"<g transform="translate({},{}) rotate(-90)">"#,
            n(b.x),
            n(b.bottom())
        );
        svg.label(
            name,
            (0.0, 0.0, b.height, 30.0),
            5.0,
            Align::CentreMiddle,
            EMBEDDED_SIZE,
            false,
            p,
        );
        svg.raw("</g>");
    } else {
        svg.label(
            name,
            (b.x, b.y, b.width, 30.0),
            5.0,
            Align::CentreMiddle,
            EMBEDDED_SIZE,
            false,
            p,
        );
    }
}

fn draw_edge(svg: &mut Svg, scene: &Scene, edge: &Edge, semantic: &Semantic, p: &Palette) {
    svg.open_element(&edge.element, &class_of(&semantic.kind));
    let d = rounded_polyline(&edge.waypoints, BEND_RADIUS);
    match semantic.kind.as_str() {
        "sequenceFlow" => {
            let source = semantic.attr("sourceRef").and_then(|id| scene.semantic(id));
            let is_default = source
                .and_then(|s| s.attr("default"))
                .is_some_and(|default| Some(default) == semantic.attr("id"));
            let from_activity = source.is_some_and(Semantic::is_activity);
            let from_gateway = source.is_some_and(Semantic::is_gateway);
            let start = if is_default && (from_activity || from_gateway) {
                Some("conditional-default-flow-marker")
            } else if semantic.conditional && from_activity {
                Some("conditional-flow-marker")
            } else {
                None
            };
            svg.flow(
                &d,
                Paint::new(p.stroke, 2.0, "none"),
                start,
                Some("sequenceflow-end"),
            );
        }
        "messageFlow" => {
            svg.flow(
                &d,
                Paint::new(p.stroke, 1.5, "none").dashed("10, 11"),
                Some("messageflow-start"),
                Some("messageflow-end"),
            );
        }
        "association" => {
            let direction = semantic.attr("associationDirection").unwrap_or("None");
            let end = matches!(direction, "One" | "Both").then_some("association-end");
            let start = (direction == "Both").then_some("association-start");
            svg.flow(
                &d,
                Paint::new(p.quiet, 1.5, "none").dashed("0, 5"),
                start,
                end,
            );
        }
        "dataInputAssociation" | "dataOutputAssociation" => {
            svg.flow(
                &d,
                Paint::new(p.quiet, 1.5, "none").dashed("0, 5"),
                None,
                Some("association-end"),
            );
        }
        _ => {
            svg.flow(&d, Paint::new(p.stroke, 1.5, "none"), None, None);
        }
    }
    svg.close();
}

fn midpoint(points: &[(f64, f64)]) -> (f64, f64) {
    let length: f64 = points
        .windows(2)
        .map(|w| (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1))
        .sum();
    let mut left = length / 2.0;
    for w in points.windows(2) {
        let segment = (w[1].0 - w[0].0).hypot(w[1].1 - w[0].1);
        if segment >= left && segment > 0.0 {
            let t = left / segment;
            return (
                w[0].0 + (w[1].0 - w[0].0) * t,
                w[0].1 + (w[1].1 - w[0].1) * t,
            );
        }
        left -= segment;
    }
    points.first().copied().unwrap_or((0.0, 0.0))
}

enum Anchor {
    /// Below a shape, where bpmn-js puts a label the DI does not place.
    Below(Rect),
    /// Centred on a point of a flow.
    At((f64, f64)),
}

/// Where a label outside its element goes, and how big it is: at the DI's label bounds, or
/// where bpmn-js would put it. The text may be wider than the bounds a tool wrote.
fn external_label_box(name: &str, placed: Option<Rect>, anchor: &Anchor) -> Rect {
    let lines = text::wrap(name, EXTERNAL_LABEL_WIDTH, EXTERNAL_SIZE);
    let widest = lines.iter().fold(0.0f64, |m, l| m.max(l.width));
    let height = text::line_height(EXTERNAL_SIZE) * lines.len() as f64;
    // bpmn-js centres the lines on the widest, and the block on the label's bounds.
    let (x, y) = match placed {
        Some(label) => (label.centre_x() - widest / 2.0, label.y),
        None => match *anchor {
            Anchor::Below(b) => (b.centre_x() - widest / 2.0, b.bottom() + 5.0),
            Anchor::At((mx, my)) => (mx - widest / 2.0, my - height / 2.0),
        },
    };
    Rect::new(x, y, widest, height)
}

/// Every external label: the element's id, its name, and its box.
fn external_labels(scene: &Scene) -> Vec<(&str, &str, Rect)> {
    let mut labels = Vec::new();
    for shape in &scene.shapes {
        let Some(semantic) = scene.semantic(&shape.element) else {
            continue;
        };
        if let (true, Some(name)) = (has_external_label(semantic), semantic.name.as_deref()) {
            if !name.trim().is_empty() {
                let anchor = Anchor::Below(shape.bounds);
                labels.push((
                    shape.element.as_str(),
                    name,
                    external_label_box(name, shape.label, &anchor),
                ));
            }
        }
    }
    for edge in &scene.edges {
        if let Some(name) = scene
            .semantic(&edge.element)
            .and_then(|s| s.name.as_deref())
        {
            if !name.trim().is_empty() {
                let anchor = Anchor::At(midpoint(&edge.waypoints));
                labels.push((
                    edge.element.as_str(),
                    name,
                    external_label_box(name, edge.label, &anchor),
                ));
            }
        }
    }
    labels
}

fn external_label(svg: &mut Svg, id: &str, name: &str, b: Rect, p: &Palette) {
    let _ = write!(
        svg.out,
        r#"<g data-label-for="{}" class="external-label">"#,
        escape(id)
    );
    svg.label(
        name,
        (b.x, b.y, EXTERNAL_LABEL_WIDTH, b.height),
        0.0,
        Align::CentreTop,
        EXTERNAL_SIZE,
        true,
        p,
    );
    svg.raw("</g>");
}
