//! The two themes. Dark is a palette of its own, chosen for contrast on a dark canvas, not the
//! light picture inverted: fills stay darker than their strokes, and filled markers keep
//! reading as filled.

use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Theme {
    #[default]
    Light,
    Dark,
}

impl FromStr for Theme {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "light" => Ok(Theme::Light),
            "dark" => Ok(Theme::Dark),
            _ => Err(()),
        }
    }
}

pub struct Palette {
    pub background: &'static str,
    /// Inside of shapes.
    pub fill: &'static str,
    /// Outlines, flows and markers.
    pub stroke: &'static str,
    pub label: &'static str,
    /// Pools and lanes, a shade off the background so nested shapes stand out.
    pub container: &'static str,
    /// Text annotations and associations, quieter than the process itself.
    pub quiet: &'static str,
}

impl Theme {
    pub fn palette(self) -> Palette {
        match self {
            // bpmn-js's own colours: black on white.
            Theme::Light => Palette {
                background: "#ffffff",
                fill: "#ffffff",
                stroke: "#22242a",
                label: "#22242a",
                container: "#ffffff",
                quiet: "#52565e",
            },
            Theme::Dark => Palette {
                background: "#17191e",
                fill: "#23262d",
                stroke: "#c8ccd4",
                label: "#e8eaee",
                container: "#1c1f25",
                quiet: "#9aa0aa",
            },
        }
    }
}
