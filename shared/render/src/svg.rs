//! A small SVG writer: numbers rounded to what a screen shows, text escaped, and the
//! primitives the drawing uses. Every element is closed where it is opened.

use std::fmt::Write;

use crate::palette::Palette;
use crate::scene::Rect;
use crate::text::{self, Align};

/// Formats a coordinate with at most two decimals and no trailing zeros.
pub fn n(v: f64) -> String {
    let v = if v.is_finite() { v } else { 0.0 };
    let rounded = (v * 100.0).round() / 100.0;
    let mut s = format!("{rounded:.2}");
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// Stroke and fill of one primitive.
#[derive(Clone, Copy)]
pub struct Paint<'a> {
    pub stroke: &'a str,
    pub width: f64,
    pub fill: &'a str,
    pub dash: Option<&'a str>,
}

impl<'a> Paint<'a> {
    pub fn new(stroke: &'a str, width: f64, fill: &'a str) -> Self {
        Paint {
            stroke,
            width,
            fill,
            dash: None,
        }
    }

    pub fn dashed(mut self, dash: &'a str) -> Self {
        self.dash = Some(dash);
        self
    }

    fn attrs(&self) -> String {
        let mut s = format!(
            r#"stroke="{}" stroke-width="{}" fill="{}""#,
            self.stroke,
            n(self.width),
            self.fill
        );
        if let Some(dash) = self.dash {
            let _ = write!(s, r#" stroke-dasharray="{dash}""#);
        }
        s
    }
}

/// The document being written.
pub struct Svg {
    pub out: String,
}

impl Svg {
    pub fn new() -> Self {
        Svg {
            out: String::with_capacity(16 * 1024),
        }
    }

    pub fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    /// Opens a group for one diagram element; `class` says what it is, for styling and tests.
    pub fn open_element(&mut self, id: &str, class: &str) {
        let _ = write!(
            self.out,
            r#"<g data-element-id="{}" class="{}">"#,
            escape(id),
            class
        );
    }

    pub fn close(&mut self) {
        self.out.push_str("</g>");
    }

    pub fn rect(&mut self, b: Rect, r: f64, paint: Paint<'_>, class: &str) {
        let Rect {
            x,
            y,
            width: w,
            height: h,
        } = b;
        let _ = write!(
            self.out,
            r#"<rect{} x="{}" y="{}" width="{}" height="{}" rx="{}" {}/>"#,
            class_attr(class),
            n(x),
            n(y),
            n(w.max(0.0)),
            n(h.max(0.0)),
            n(r),
            paint.attrs()
        );
    }

    pub fn circle(&mut self, cx: f64, cy: f64, r: f64, paint: Paint<'_>, class: &str) {
        let _ = write!(
            self.out,
            r#"<circle{} cx="{}" cy="{}" r="{}" {}/>"#,
            class_attr(class),
            n(cx),
            n(cy),
            n(r.max(0.0)),
            paint.attrs()
        );
    }

    pub fn path(&mut self, d: &str, paint: Paint<'_>, class: &str) {
        let _ = write!(
            self.out,
            r#"<path{} d="{}" {}/>"#,
            class_attr(class),
            d,
            paint.attrs()
        );
    }

    /// A path with markers at its ends (`url(#…)` ids of the document's `defs`).
    pub fn flow(&mut self, d: &str, paint: Paint<'_>, start: Option<&str>, end: Option<&str>) {
        let mut markers = String::new();
        if let Some(start) = start {
            let _ = write!(markers, r#" marker-start="url(#{start})""#);
        }
        if let Some(end) = end {
            let _ = write!(markers, r#" marker-end="url(#{end})""#);
        }
        let _ = write!(
            self.out,
            r#"<path class="outline" d="{}" {} stroke-linejoin="round" stroke-linecap="round"{}/>"#,
            d,
            paint.attrs(),
            markers
        );
    }

    /// A name inside its shape, as bpmn-js puts it: 12 px, 7 px from every side.
    pub fn embedded_label(&mut self, content: &str, b: Rect, align: Align, palette: &Palette) {
        self.label(
            content,
            (b.x, b.y, b.width, b.height),
            7.0,
            align,
            text::EMBEDDED_SIZE,
            false,
            palette,
        );
    }

    /// Text laid out in a box, as bpmn-js lays out labels.
    #[allow(clippy::too_many_arguments)]
    pub fn label(
        &mut self,
        content: &str,
        bounds: (f64, f64, f64, f64),
        padding: f64,
        align: Align,
        size: f64,
        fit_box: bool,
        palette: &Palette,
    ) {
        if content.trim().is_empty() {
            return;
        }
        let placed = text::layout(content, bounds, padding, align, size, fit_box);
        let _ = write!(
            self.out,
            r#"<text class="label" font-size="{}" fill="{}">"#,
            n(placed.size),
            palette.label
        );
        for (line, x, y) in &placed.lines {
            let _ = write!(
                self.out,
                r#"<tspan x="{}" y="{}">{}</tspan>"#,
                n(*x),
                n(*y),
                escape(&line.text)
            );
        }
        self.out.push_str("</text>");
    }
}

fn class_attr(class: &str) -> String {
    if class.is_empty() {
        String::new()
    } else {
        format!(r#" class="{class}""#)
    }
}

/// A polyline through `points` with corners rounded by up to `radius`, as bpmn-js draws
/// connections.
pub fn rounded_polyline(points: &[(f64, f64)], radius: f64) -> String {
    let mut d = String::new();
    let Some(&(x0, y0)) = points.first() else {
        return d;
    };
    let _ = write!(d, "M{},{}", n(x0), n(y0));
    for i in 1..points.len() {
        let (x, y) = points[i];
        if i + 1 < points.len() {
            let (px, py) = points[i - 1];
            let (nx, ny) = points[i + 1];
            let before = ((x - px).hypot(y - py) / 2.0).min(radius);
            let after = ((nx - x).hypot(ny - y) / 2.0).min(radius);
            let r = before.min(after);
            if r > 0.5 {
                let (ax, ay) = towards((x, y), (px, py), r);
                let (bx, by) = towards((x, y), (nx, ny), r);
                let _ = write!(
                    d,
                    "L{},{}Q{},{} {},{}",
                    n(ax),
                    n(ay),
                    n(x),
                    n(y),
                    n(bx),
                    n(by)
                );
                continue;
            }
        }
        let _ = write!(d, "L{},{}", n(x), n(y));
    }
    d
}

/// The point `distance` from `from` on the way to `to`.
fn towards(from: (f64, f64), to: (f64, f64), distance: f64) -> (f64, f64) {
    let len = (to.0 - from.0).hypot(to.1 - from.1);
    if len == 0.0 {
        return from;
    }
    (
        from.0 + (to.0 - from.0) * distance / len,
        from.1 + (to.1 - from.1) * distance / len,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(n(10.0), "10");
        assert_eq!(n(10.5), "10.5");
        assert_eq!(n(1.0 / 3.0), "0.33");
        assert_eq!(n(-0.001), "0");
        assert_eq!(n(f64::NAN), "0");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape(r#"<a & "b">"#), "&lt;a &amp; &quot;b&quot;&gt;");
        assert_eq!(escape("a\u{1}b"), "ab");
    }

    #[test]
    fn corners_are_rounded_but_ends_stay() {
        let d = rounded_polyline(&[(0.0, 0.0), (100.0, 0.0), (100.0, 100.0)], 5.0);
        assert_eq!(d, "M0,0L95,0Q100,0 100,5L100,100");
    }
}
