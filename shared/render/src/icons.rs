//! The markers inside shapes: event definitions, gateway types, task types and activity
//! markers. Their sizes and places follow bpmn-js's; the geometry is drawn here, scaled to the
//! shape, so an event of any size keeps its marker in proportion.

use std::f64::consts::PI;
use std::fmt::Write;

use crate::palette::Palette;
use crate::scene::{Looping, Rect, Semantic};
use crate::svg::{n, Paint, Svg};

/// A closed polygon through `points`.
fn polygon(points: &[(f64, f64)]) -> String {
    let mut d = String::new();
    for (i, (x, y)) in points.iter().enumerate() {
        let _ = write!(d, "{}{},{}", if i == 0 { "M" } else { "L" }, n(*x), n(*y));
    }
    d.push('Z');
    d
}

/// Points of a regular polygon of `sides` around (cx, cy), the first straight up.
fn regular(cx: f64, cy: f64, r: f64, sides: usize) -> Vec<(f64, f64)> {
    (0..sides)
        .map(|i| {
            let a = -PI / 2.0 + 2.0 * PI * i as f64 / sides as f64;
            (cx + r * a.cos(), cy + r * a.sin())
        })
        .collect()
}

/// The marker of an event's first definition. Throwing events draw it filled.
pub fn event_marker(svg: &mut Svg, b: Rect, semantic: &Semantic, p: &Palette) {
    let (cx, cy) = (b.centre_x(), b.centre_y());
    // bpmn-js draws markers for a 36-pixel event.
    let s = b.width.min(b.height) / 36.0;
    let throwing = semantic.is_throwing();
    let solid = Paint::new(p.stroke, 1.0, if throwing { p.stroke } else { "none" });
    let defs = &semantic.definitions;
    if defs.len() > 1 {
        // Several triggers: a pentagon, or a cross when all must happen.
        if semantic.attr("parallelMultiple") == Some("true") {
            let d = cross(cx, cy, 9.0 * s, 2.5 * s);
            svg.path(&d, Paint::new(p.stroke, 1.0, "none"), "marker");
        } else {
            let d = polygon(&regular(cx, cy + 0.5 * s, 9.5 * s, 5));
            svg.path(&d, solid, "marker");
        }
        return;
    }
    let Some(definition) = defs.first() else {
        return;
    };
    match definition.as_str() {
        "messageEventDefinition" => {
            let (w, h) = (19.0 * s, 13.0 * s);
            envelope(
                svg,
                Rect::new(cx - w / 2.0, cy - h / 2.0, w, h),
                throwing,
                "marker",
                p,
            );
        }
        "timerEventDefinition" => {
            let r = ((b.width + b.height) / 4.0 - 0.2 * b.height).round();
            svg.circle(cx, cy, r, Paint::new(p.stroke, 2.0, p.fill), "marker");
            let mut d = String::new();
            for i in 0..12 {
                let a = 2.0 * PI * f64::from(i) / 12.0;
                let (c, sn) = (a.cos(), a.sin());
                let _ = write!(
                    d,
                    "M{},{}L{},{}",
                    n(cx + c * r * 0.72),
                    n(cy + sn * r * 0.72),
                    n(cx + c * r * 0.9),
                    n(cy + sn * r * 0.9)
                );
            }
            let _ = write!(
                d,
                "M{},{}L{},{}M{},{}L{},{}",
                n(cx),
                n(cy),
                n(cx + 2.0 * s),
                n(cy - 7.0 * s),
                n(cx),
                n(cy),
                n(cx + 5.5 * s),
                n(cy + 1.5 * s)
            );
            svg.path(&d, Paint::new(p.stroke, 1.0, "none"), "marker");
        }
        "conditionalEventDefinition" => {
            let (w, h) = (13.0 * s, 17.0 * s);
            let (x, y) = (cx - w / 2.0, cy - h / 2.0);
            svg.rect(
                Rect::new(x, y, w, h),
                0.0,
                Paint::new(p.stroke, 1.0, "none"),
                "marker",
            );
            let mut d = String::new();
            for i in 1..=4 {
                let ly = y + h * f64::from(i) / 5.0;
                let _ = write!(d, "M{},{}H{}", n(x + 2.5 * s), n(ly), n(x + w - 2.5 * s));
            }
            svg.path(&d, Paint::new(p.stroke, 1.0, "none"), "marker");
        }
        "signalEventDefinition" => {
            let d = polygon(&[
                (cx, cy - 9.0 * s),
                (cx + 8.5 * s, cy + 6.0 * s),
                (cx - 8.5 * s, cy + 6.0 * s),
            ]);
            svg.path(&d, solid, "marker");
        }
        "escalationEventDefinition" => {
            let d = polygon(&[
                (cx, cy - 9.0 * s),
                (cx + 7.0 * s, cy + 8.0 * s),
                (cx, cy + 1.5 * s),
                (cx - 7.0 * s, cy + 8.0 * s),
            ]);
            svg.path(&d, solid, "marker");
        }
        "errorEventDefinition" => {
            let d = polygon(&[
                (cx - 9.0 * s, cy + 8.0 * s),
                (cx - 4.0 * s, cy - 8.0 * s),
                (cx + 2.0 * s, cy + 1.0 * s),
                (cx + 9.0 * s, cy - 8.0 * s),
                (cx + 4.0 * s, cy + 8.0 * s),
                (cx - 2.0 * s, cy - 1.0 * s),
            ]);
            svg.path(&d, solid, "marker");
        }
        "compensateEventDefinition" => {
            let d = format!(
                "{}{}",
                polygon(&[
                    (cx - 10.0 * s, cy),
                    (cx - 1.0 * s, cy - 6.5 * s),
                    (cx - 1.0 * s, cy + 6.5 * s)
                ]),
                polygon(&[
                    (cx - 1.0 * s, cy),
                    (cx + 8.0 * s, cy - 6.5 * s),
                    (cx + 8.0 * s, cy + 6.5 * s)
                ])
            );
            svg.path(&d, solid, "marker");
        }
        "linkEventDefinition" => {
            let d = polygon(&[
                (cx - 8.0 * s, cy - 3.0 * s),
                (cx + 1.0 * s, cy - 3.0 * s),
                (cx + 1.0 * s, cy - 8.0 * s),
                (cx + 9.0 * s, cy),
                (cx + 1.0 * s, cy + 8.0 * s),
                (cx + 1.0 * s, cy + 3.0 * s),
                (cx - 8.0 * s, cy + 3.0 * s),
            ]);
            svg.path(&d, solid, "marker");
        }
        "terminateEventDefinition" => {
            let r = ((b.width + b.height) / 4.0 - 8.0).round();
            svg.circle(cx, cy, r, Paint::new(p.stroke, 4.0, p.stroke), "marker");
        }
        "cancelEventDefinition" => {
            let k = 7.0 * s;
            let d = format!(
                "M{},{}L{},{}M{},{}L{},{}",
                n(cx - k),
                n(cy - k),
                n(cx + k),
                n(cy + k),
                n(cx + k),
                n(cy - k),
                n(cx - k),
                n(cy + k)
            );
            svg.path(&d, Paint::new(p.stroke, 4.0 * s, "none"), "marker");
        }
        _ => {}
    }
}

/// An envelope: filled for what is sent, open for what is received.
fn envelope(svg: &mut Svg, b: Rect, filled: bool, class: &str, p: &Palette) {
    let (body, flap) = if filled {
        (p.stroke, p.fill)
    } else {
        (p.fill, p.stroke)
    };
    svg.rect(b, 0.0, Paint::new(p.stroke, 1.0, body), class);
    let d = format!(
        "M{},{}L{},{}L{},{}",
        n(b.x),
        n(b.y),
        n(b.centre_x()),
        n(b.y + b.height * 0.55),
        n(b.right()),
        n(b.y)
    );
    svg.path(&d, Paint::new(flap, 1.0, "none"), class);
}

/// A plus sign as one outline: arms of half-length `arm` and half-width `half`.
fn cross(cx: f64, cy: f64, arm: f64, half: f64) -> String {
    polygon(&[
        (cx - half, cy - arm),
        (cx + half, cy - arm),
        (cx + half, cy - half),
        (cx + arm, cy - half),
        (cx + arm, cy + half),
        (cx + half, cy + half),
        (cx + half, cy + arm),
        (cx - half, cy + arm),
        (cx - half, cy + half),
        (cx - arm, cy + half),
        (cx - arm, cy - half),
        (cx - half, cy - half),
    ])
}

/// A gateway's marker. An exclusive gateway shows its X only where the DI asks for it
/// (`isMarkerVisible`), as in bpmn-js.
pub fn gateway_marker(
    svg: &mut Svg,
    b: Rect,
    semantic: &Semantic,
    marker_visible: bool,
    p: &Palette,
) {
    let (cx, cy) = (b.centre_x(), b.centre_y());
    let s = b.width.min(b.height) / 50.0;
    let filled = Paint::new(p.stroke, 1.0, p.stroke);
    match semantic.kind.as_str() {
        "exclusiveGateway" if marker_visible => {
            let (dx, dy) = (7.5 * s, 10.0 * s);
            let d = format!(
                "M{},{}L{},{}M{},{}L{},{}",
                n(cx - dx),
                n(cy - dy),
                n(cx + dx),
                n(cy + dy),
                n(cx + dx),
                n(cy - dy),
                n(cx - dx),
                n(cy + dy)
            );
            svg.path(&d, Paint::new(p.stroke, 4.0 * s, "none"), "marker");
        }
        "parallelGateway" => {
            svg.path(&cross(cx, cy, 14.0 * s, 2.5 * s), filled, "marker");
        }
        "inclusiveGateway" => {
            let r = ((b.width + b.height) / 4.0 - b.height * 0.24).round();
            svg.circle(cx, cy, r, Paint::new(p.stroke, 2.5, "none"), "marker");
        }
        "complexGateway" => {
            let arm = 13.0 * s;
            let diag = arm * std::f64::consts::FRAC_1_SQRT_2;
            let d = format!(
                "M{},{}L{},{}M{},{}L{},{}M{},{}L{},{}M{},{}L{},{}",
                n(cx),
                n(cy - arm),
                n(cx),
                n(cy + arm),
                n(cx - arm),
                n(cy),
                n(cx + arm),
                n(cy),
                n(cx - diag),
                n(cy - diag),
                n(cx + diag),
                n(cy + diag),
                n(cx + diag),
                n(cy - diag),
                n(cx - diag),
                n(cy + diag)
            );
            svg.path(&d, Paint::new(p.stroke, 4.0 * s, "none"), "marker");
        }
        "eventBasedGateway" => {
            let r = ((b.width + b.height) / 4.0 - b.height * 0.2).round();
            let none = Paint::new(p.stroke, 1.0, "none");
            svg.circle(cx, cy, r, none, "marker");
            if semantic.attr("eventGatewayType") == Some("Parallel") {
                svg.path(&cross(cx, cy, 8.0 * s, 2.0 * s), none, "marker");
            } else {
                if semantic.attr("instantiate") == Some("true") {
                    // An instantiating gateway has no inner circle, as in bpmn-js.
                } else {
                    svg.circle(cx, cy, r - 3.0, none, "marker");
                }
                svg.path(
                    &polygon(&regular(cx, cy + 0.5 * s, 7.0 * s, 5)),
                    none,
                    "marker",
                );
            }
        }
        _ => {}
    }
}

/// The icon at the top left of a typed task.
pub fn task_icon(svg: &mut Svg, b: Rect, kind: &str, p: &Palette) {
    let (x, y) = (b.x, b.y);
    let line = Paint::new(p.stroke, 1.0, "none");
    match kind {
        "userTask" => {
            // Head and shoulders.
            svg.circle(
                x + 15.0,
                y + 11.5,
                4.0,
                Paint::new(p.stroke, 1.0, p.fill),
                "icon",
            );
            let d = format!(
                "M{},{}C{},{} {},{} {},{}Z",
                n(x + 6.0),
                n(y + 27.0),
                n(x + 6.0),
                n(y + 15.0),
                n(x + 24.0),
                n(y + 15.0),
                n(x + 24.0),
                n(y + 27.0)
            );
            svg.path(&d, Paint::new(p.stroke, 1.0, p.fill), "icon");
        }
        "serviceTask" => {
            gear(svg, x + 13.0, y + 13.0, 6.5, p);
            gear(svg, x + 19.0, y + 19.0, 6.5, p);
        }
        "sendTask" => envelope(
            svg,
            Rect::new(x + 7.0, y + 8.0, 18.0, 12.0),
            true,
            "icon",
            p,
        ),
        "receiveTask" => envelope(
            svg,
            Rect::new(x + 7.0, y + 8.0, 18.0, 12.0),
            false,
            "icon",
            p,
        ),
        "manualTask" => {
            // An open hand: palm and four fingers.
            let d = format!(
                "M{x0},{y2}V{y1}Q{x0},{y0} {x1},{y0}H{x4}Q{x5},{y0} {x5},{ya}Q{x5},{yb} {x4},{yb}H{x3}\
                 M{x4},{yb}Q{x5},{yb} {x5},{yc}Q{x5},{yd} {x4},{yd}H{x3}\
                 M{x4},{yd}Q{x5},{yd} {x5},{ye}Q{x5},{yf} {x4},{yf}H{x2}\
                 M{x3},{yf}Q{x3},{y2} {x2},{y2}H{x0}",
                x0 = n(x + 6.0),
                x1 = n(x + 10.0),
                x2 = n(x + 14.0),
                x3 = n(x + 17.0),
                x4 = n(x + 22.0),
                x5 = n(x + 24.0),
                y0 = n(y + 9.0),
                y1 = n(y + 13.0),
                ya = n(y + 10.5),
                yb = n(y + 12.0),
                yc = n(y + 13.5),
                yd = n(y + 15.0),
                ye = n(y + 16.5),
                yf = n(y + 18.0),
                y2 = n(y + 21.0),
            );
            svg.path(&d, line, "icon");
        }
        "businessRuleTask" => {
            let (tx, ty, w, h) = (x + 8.0, y + 8.0, 17.0, 12.0);
            svg.rect(
                Rect::new(tx, ty, w, h),
                0.0,
                Paint::new(p.stroke, 1.0, p.fill),
                "icon",
            );
            svg.rect(
                Rect::new(tx, ty, w, 3.5),
                0.0,
                Paint::new(p.stroke, 1.0, p.stroke),
                "icon",
            );
            let d = format!(
                "M{},{}H{}M{},{}V{}",
                n(tx),
                n(ty + 7.75),
                n(tx + w),
                n(tx + 5.0),
                n(ty + 3.5),
                n(ty + h)
            );
            svg.path(&d, line, "icon");
        }
        "scriptTask" => {
            // A scroll: a page with wavy sides and lines of script.
            let d = format!(
                "M{a},{t}H{b}C{c},{m1} {d},{m2} {e},{bt}H{f}C{g},{m2} {h},{m1} {a},{t}Z",
                a = n(x + 9.0),
                b = n(x + 21.0),
                c = n(x + 17.0),
                d = n(x + 25.0),
                e = n(x + 21.0),
                f = n(x + 9.0),
                g = n(x + 13.0),
                h = n(x + 5.0),
                t = n(y + 7.0),
                m1 = n(y + 12.0),
                m2 = n(y + 17.0),
                bt = n(y + 23.0),
            );
            svg.path(&d, Paint::new(p.stroke, 1.0, p.fill), "icon");
            let mut lines = String::new();
            for (i, dy) in [11.0, 15.0, 19.0].iter().enumerate() {
                let shift = if i == 1 { 1.5 } else { 0.5 };
                let _ = write!(
                    lines,
                    "M{},{}H{}",
                    n(x + 11.0 + shift),
                    n(y + dy),
                    n(x + 18.0 + shift)
                );
            }
            svg.path(&lines, line, "icon");
        }
        _ => {}
    }
}

/// A gear of eight teeth around (cx, cy), with a hole.
fn gear(svg: &mut Svg, cx: f64, cy: f64, r: f64, p: &Palette) {
    let teeth = 8;
    let mut points = Vec::with_capacity(teeth * 4);
    for i in 0..teeth {
        let a = 2.0 * PI * i as f64 / teeth as f64;
        let step = 2.0 * PI / teeth as f64;
        for (offset, radius) in [(-0.3, r * 0.72), (-0.16, r), (0.16, r), (0.3, r * 0.72)] {
            let t = a + offset * step * 1.2;
            points.push((cx + radius * t.cos(), cy + radius * t.sin()));
        }
    }
    svg.path(&polygon(&points), Paint::new(p.stroke, 1.0, p.fill), "icon");
    svg.circle(cx, cy, r * 0.3, Paint::new(p.stroke, 1.0, p.fill), "icon");
}

/// The markers along an activity's bottom edge, centred as bpmn-js centres them: collapsed
/// sub-process, loops, ad-hoc and compensation.
pub fn activity_markers(svg: &mut Svg, b: Rect, semantic: &Semantic, collapsed: bool, p: &Palette) {
    let mut markers: Vec<&str> = Vec::new();
    if semantic.is_for_compensation() {
        markers.push("compensation");
    }
    match semantic.looping {
        Some(Looping::Standard) => markers.push("loop"),
        Some(Looping::Parallel) => markers.push("parallel"),
        Some(Looping::Sequential) => markers.push("sequential"),
        None => {}
    }
    if collapsed {
        markers.push("collapsed");
    }
    if semantic.kind == "adHocSubProcess" {
        markers.push("adhoc");
    }
    if markers.is_empty() {
        return;
    }
    let size = 14.0;
    let gap = 4.0;
    let total = markers.len() as f64 * size + (markers.len() - 1) as f64 * gap;
    let mut x = b.centre_x() - total / 2.0;
    let y = b.bottom() - size - 4.0;
    let line = Paint::new(p.stroke, 1.5, "none");
    for marker in markers {
        match marker {
            "collapsed" => {
                svg.rect(
                    Rect::new(x, y, size, size),
                    0.0,
                    Paint::new(p.stroke, 1.0, p.fill),
                    "marker",
                );
                let d = format!(
                    "M{},{}H{}M{},{}V{}",
                    n(x + 3.0),
                    n(y + 7.0),
                    n(x + 11.0),
                    n(x + 7.0),
                    n(y + 3.0),
                    n(y + 11.0)
                );
                svg.path(&d, line, "marker");
            }
            "loop" => {
                // Most of a circle, with an arrowhead at its open end.
                let (cx, cy, r) = (x + 7.0, y + 7.5, 5.5);
                let start = (cx - r * 0.7, cy + r * 0.7);
                let d = format!(
                    "M{},{}A{r},{r} 0 1 1 {},{}M{},{}L{},{}L{},{}",
                    n(start.0),
                    n(start.1),
                    n(cx + r * 0.7),
                    n(cy + r * 0.7),
                    n(cx + r * 0.7 - 3.5),
                    n(cy + r * 0.7 - 0.5),
                    n(cx + r * 0.7),
                    n(cy + r * 0.7),
                    n(cx + r * 0.7 + 0.5),
                    n(cy + r * 0.7 - 3.5),
                    r = n(r)
                );
                svg.path(&d, line, "marker");
            }
            "parallel" | "sequential" => {
                let mut d = String::new();
                for i in 0..3 {
                    let o = 2.0 + 5.0 * f64::from(i);
                    if marker == "parallel" {
                        let _ = write!(d, "M{},{}V{}", n(x + o), n(y + 1.0), n(y + 13.0));
                    } else {
                        let _ = write!(d, "M{},{}H{}", n(x + 1.0), n(y + o), n(x + 13.0));
                    }
                }
                svg.path(&d, Paint::new(p.stroke, 2.0, "none"), "marker");
            }
            "adhoc" => {
                let d = format!(
                    "M{},{}C{},{} {},{} {},{}S{},{} {},{}",
                    n(x),
                    n(y + 9.0),
                    n(x + 2.0),
                    n(y + 4.0),
                    n(x + 5.0),
                    n(y + 5.0),
                    n(x + 7.0),
                    n(y + 7.0),
                    n(x + 12.0),
                    n(y + 10.0),
                    n(x + 14.0),
                    n(y + 5.0)
                );
                svg.path(&d, line, "marker");
            }
            "compensation" => {
                let d = format!(
                    "{}{}",
                    polygon(&[(x, y + 7.0), (x + 7.0, y + 2.0), (x + 7.0, y + 12.0)]),
                    polygon(&[
                        (x + 7.0, y + 7.0),
                        (x + 14.0, y + 2.0),
                        (x + 14.0, y + 12.0)
                    ])
                );
                svg.path(&d, Paint::new(p.stroke, 1.0, "none"), "marker");
            }
            _ => {}
        }
        x += size + gap;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_pentagon_starts_at_the_top() {
        let points = regular(0.0, 0.0, 10.0, 5);
        assert_eq!(points.len(), 5);
        assert!((points[0].0).abs() < 1e-9 && (points[0].1 + 10.0).abs() < 1e-9);
    }
}
