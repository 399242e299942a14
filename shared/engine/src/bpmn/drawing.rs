//! The drawing of a diagram (its BPMNDI): where each shape sits and how each edge runs.
//!
//! The layout computes one, the reader reads one from a source, and the writer writes one; it
//! is its own module so that none of them needs another for these types.

use foldhash::HashMap;

/// A shape's box, in whole pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
}

impl Bounds {
    pub fn centre(&self) -> (i64, i64) {
        (self.x + self.width / 2, self.y + self.height / 2)
    }
    pub fn right(&self) -> i64 {
        self.x + self.width
    }
    pub fn bottom(&self) -> i64 {
        self.y + self.height
    }
}

/// Every shape and edge of one process's diagram, by the id of the element drawn.
#[derive(Debug, Clone, Default)]
pub struct Drawing {
    pub nodes: HashMap<String, Bounds>,
    /// Each flow's waypoints, from source to target.
    pub flows: HashMap<String, Vec<(i64, i64)>>,
    pub lanes: HashMap<String, Bounds>,
    /// The pool around the lanes, when the model has lanes.
    pub pool: Option<Bounds>,
}
