//! Labels, measured with the embedded font and wrapped as diagram-js wraps them.
//!
//! bpmn-js lays text out in the browser with Arial; Liberation Sans has Arial's metrics, so the
//! widths measured here are the ones bpmn-js measures, and a label breaks where it breaks there.

use std::sync::LazyLock;

/// Liberation Sans Regular (SIL Open Font License 1.1, see `fonts/`), metric-compatible with
/// Arial, the font bpmn-js draws labels in.
pub const FONT: &[u8] = include_bytes!("../fonts/LiberationSans-Regular.ttf");

/// The font family the SVG names. Browsers use Arial; the PNG renderer maps the generic
/// family to the embedded font.
pub const FONT_FAMILY: &str = "Arial, sans-serif";

/// bpmn-js's label sizes and line height.
pub const EMBEDDED_SIZE: f64 = 12.0;
pub const EXTERNAL_SIZE: f64 = 11.0;
const LINE_HEIGHT_RATIO: f64 = 1.2;

/// Advance widths in font units, for the characters of Basic Latin and Latin-1; others are
/// looked up in the font as they come.
struct Metrics {
    units_per_em: f64,
    latin: Vec<f64>,
    fallback: f64,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let face = ttf_parser::Face::parse(FONT, 0).ok();
    let units_per_em = face
        .as_ref()
        .map_or(2048.0, |f| f64::from(f.units_per_em()));
    let advance = |c: char| -> Option<f64> {
        let face = face.as_ref()?;
        let glyph = face.glyph_index(c)?;
        face.glyph_hor_advance(glyph).map(f64::from)
    };
    // An average lower-case letter stands in for a character the font lacks.
    let fallback = advance('n').unwrap_or(units_per_em * 0.55);
    let latin = (0u32..256)
        .map(|code| char::from_u32(code).and_then(advance).unwrap_or(fallback))
        .collect();
    Metrics {
        units_per_em,
        latin,
        fallback,
    }
});

/// The width of `text` at `size` pixels.
pub fn width(text: &str, size: f64) -> f64 {
    let metrics = &*METRICS;
    let units: f64 = text
        .chars()
        .map(|c| match metrics.latin.get(c as usize) {
            Some(w) => *w,
            None => wide_advance(c).unwrap_or(metrics.fallback),
        })
        .sum();
    units * size / metrics.units_per_em
}

fn wide_advance(c: char) -> Option<f64> {
    let face = ttf_parser::Face::parse(FONT, 0).ok()?;
    let glyph = face.glyph_index(c)?;
    face.glyph_hor_advance(glyph).map(f64::from)
}

pub fn line_height(size: f64) -> f64 {
    size * LINE_HEIGHT_RATIO
}

/// One laid-out line: its text and width.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub text: String,
    pub width: f64,
}

/// Breaks `text` into lines no wider than `max_width`, as diagram-js's `Text` does: at
/// spaces and hyphens where it can, inside a word where it must; explicit line breaks stay.
pub fn wrap(text: &str, max_width: f64, size: f64) -> Vec<Line> {
    let mut pending: Vec<String> = text
        .split('\n')
        .map(|l| l.trim_end_matches(['\r', '\u{AD}']).to_owned())
        .collect();
    pending.reverse();
    let mut lines = Vec::new();
    // Each pass takes at least one character off, so this ends; the bound is a second guard.
    let mut budget = text.chars().count() * 4 + 8;
    while let Some(original) = pending.pop() {
        let mut fit = original.clone();
        loop {
            budget = budget.saturating_sub(1);
            let w = width(&fit, size);
            if fit.trim().is_empty()
                || w < max_width.round()
                || fit.chars().count() < 2
                || budget == 0
            {
                let w = if fit.is_empty() { 0.0 } else { w };
                if fit.len() < original.len() {
                    let rest = original[fit.len()..].trim().to_owned();
                    pending.push(rest);
                }
                lines.push(Line {
                    text: fit,
                    width: w,
                });
                break;
            }
            fit = shorten(&fit, w, max_width);
        }
    }
    lines
}

/// A shorter start of `line`, ending at a word boundary when one fits.
fn shorten(line: &str, width: f64, max_width: f64) -> String {
    let chars = line.chars().count();
    let target = (chars as f64 * (max_width / width)).max(1.0);
    let semantic = semantic_shorten(line, target);
    if !semantic.is_empty() {
        return semantic;
    }
    let keep = ((target - 1.0).round() as usize).max(1);
    line.chars().take(keep).collect()
}

/// The longest run of whole parts (words, spaces and hyphens) shorter than `max_len`.
fn semantic_shorten(line: &str, max_len: f64) -> String {
    let parts = split_keeping(line);
    if parts.len() < 2 {
        return String::new();
    }
    let mut kept: Vec<&str> = Vec::new();
    let mut length = 0usize;
    for part in parts {
        let n = part.chars().count();
        if ((n + length) as f64) < max_len {
            kept.push(part);
            length += n;
        } else {
            if part == "-" || part == "\u{AD}" {
                kept.pop();
            }
            break;
        }
    }
    if kept.last() == Some(&"\u{AD}") {
        kept.pop();
        kept.push("-");
    }
    kept.concat()
}

/// Splits at whitespace, hyphens and soft hyphens, keeping each separator as a part.
fn split_keeping(line: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, c) in line.char_indices() {
        if c.is_whitespace() || c == '-' || c == '\u{AD}' {
            if start < i {
                parts.push(&line[start..i]);
            }
            parts.push(&line[i..i + c.len_utf8()]);
            start = i + c.len_utf8();
        }
    }
    if start < line.len() {
        parts.push(&line[start..]);
    }
    parts
}

/// Where each line of a block of text goes.
pub struct Placed {
    pub lines: Vec<(Line, f64, f64)>,
    pub size: f64,
}

pub enum Align {
    CentreMiddle,
    CentreTop,
    LeftTop,
}

/// Lays `text` out in a box, as diagram-js does: `padding` on every side, lines centred on the
/// box (or on the widest line, for `fit_box`), the first baseline a quarter line up from where
/// the line box would put it.
pub fn layout(
    text: &str,
    (x, y, w, h): (f64, f64, f64, f64),
    padding: f64,
    align: Align,
    size: f64,
    fit_box: bool,
) -> Placed {
    let max_width = (w - 2.0 * padding).max(1.0);
    let lines = wrap(text, max_width, size);
    let lh = line_height(size);
    let total = lh * lines.len() as f64;
    let widest = lines.iter().fold(0.0f64, |m, l| m.max(l.width));
    let mut cy = y + padding;
    if matches!(align, Align::CentreMiddle) {
        cy += (h - 2.0 * padding - total) / 2.0;
    }
    cy -= lh / 4.0;
    let span = if fit_box { widest } else { max_width };
    let placed = lines
        .into_iter()
        .map(|line| {
            cy += lh;
            let lx = match align {
                Align::LeftTop => x + padding,
                _ => x + ((span - line.width) / 2.0 + padding).max(0.0),
            };
            (line, lx, cy)
        })
        .collect();
    Placed {
        lines: placed,
        size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_are_arials() {
        // Arial's advance for "M" is 1706/2048 em; Liberation Sans matches it.
        let m = width("M", 12.0);
        assert!((m - 1706.0 * 12.0 / 2048.0).abs() < 0.01, "{m}");
        assert!(width("Review the order", 12.0) > width("Review", 12.0));
    }

    #[test]
    fn wraps_at_word_boundaries_within_the_width() {
        let lines = wrap("Check the customer's credit history", 86.0, 12.0);
        assert!(lines.len() >= 2, "{lines:?}");
        for line in &lines {
            assert!(line.width < 86.0, "{line:?}");
            assert!(!line.text.starts_with(' '), "{line:?}");
        }
        let joined: Vec<&str> = lines.iter().map(|l| l.text.trim()).collect();
        assert_eq!(
            joined.join(" "),
            "Check the customer's credit history",
            "no word lost or split"
        );
    }

    #[test]
    fn splits_a_word_longer_than_the_box() {
        let lines = wrap("Antidisestablishmentarianism", 40.0, 12.0);
        assert!(lines.len() > 1);
        let joined: String = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(joined, "Antidisestablishmentarianism");
    }

    #[test]
    fn keeps_explicit_line_breaks_and_ends_on_anything() {
        assert_eq!(wrap("a\nb", 100.0, 12.0).len(), 2);
        assert_eq!(wrap("", 100.0, 12.0).len(), 1);
        assert!(!wrap("x".repeat(500).as_str(), 1.0, 12.0).is_empty());
        assert!(!wrap("名前の長いタスク", 10.0, 12.0).is_empty());
    }
}
