//! Reading the diagram interchange (BPMNDI): where the source drew each shape and edge.

use foldhash::{HashMap, HashSet};

use super::attributes::Attributes;
use crate::bpmn::drawing::{Bounds, Drawing};
use crate::model::ProcessModel;

/// Every shape's bounds and every edge's waypoints on the first plane, by the id of the element
/// drawn.
#[derive(Default)]
pub(super) struct DiInProgress {
    pub(super) shapes: HashMap<String, Bounds>,
    edges: HashMap<String, Vec<(i64, i64)>>,
    /// Shapes marked `isExpanded="true"`.
    pub(super) expanded: HashSet<String>,
    open_shape: Option<String>,
    open_edge: Option<String>,
    in_label: bool,
    /// Planes seen so far. Only the first draws the process; later ones draw the insides of
    /// collapsed sub-processes, in coordinates of their own.
    pub(super) planes: usize,
}

impl DiInProgress {
    pub(super) fn on_first_plane(&self) -> bool {
        self.planes <= 1
    }

    /// Takes in a DI element's start tag. Answers the element drawn, for a shape or an edge, so
    /// the validator can tell what has DI.
    pub(super) fn start(
        &mut self,
        local: &str,
        attrs: &Attributes<'_>,
        is_empty: bool,
    ) -> Option<String> {
        let first_plane = self.on_first_plane();
        match local {
            "BPMNPlane" => self.planes += 1,
            "BPMNShape" => {
                let element = attrs.get("bpmnElement")?;
                self.open_shape = (!is_empty && first_plane).then(|| element.to_owned());
                if first_plane && attrs.get("isExpanded").is_some_and(|v| v == "true") {
                    self.expanded.insert(element.to_owned());
                }
                return Some(element.to_owned());
            }
            "BPMNEdge" => {
                let element = attrs.get("bpmnElement")?;
                self.open_edge = (!is_empty && first_plane).then(|| element.to_owned());
                return Some(element.to_owned());
            }
            "BPMNLabel" => self.in_label = !is_empty,
            // A shape's own bounds, not its label's; the first one counts.
            "Bounds" if !self.in_label => {
                if let (Some(element), Some(b)) = (&self.open_shape, bounds(attrs)) {
                    self.shapes.entry(element.clone()).or_insert(b);
                }
            }
            "waypoint" => {
                if let (Some(element), Some(x), Some(y)) = (
                    &self.open_edge,
                    coordinate(attrs, "x"),
                    coordinate(attrs, "y"),
                ) {
                    self.edges.entry(element.clone()).or_default().push((x, y));
                }
            }
            _ => {}
        }
        None
    }

    pub(super) fn end(&mut self, local: &str) {
        match local {
            "BPMNShape" => self.open_shape = None,
            "BPMNEdge" => self.open_edge = None,
            "BPMNLabel" => self.in_label = false,
            _ => {}
        }
    }

    /// Where the source drew `model`'s nodes, flows and lanes, and its pool.
    pub(super) fn layout_of(&self, model: &ProcessModel, pool: Option<&String>) -> Drawing {
        Drawing {
            nodes: pick(&self.shapes, model.nodes.iter().map(|n| &n.id)),
            flows: pick(&self.edges, model.flows.iter().map(|f| &f.id)),
            lanes: pick(&self.shapes, model.lanes.iter().map(|l| &l.id)),
            pool: pool.and_then(|p| self.shapes.get(p)).copied(),
        }
    }
}

fn pick<'a, T: Clone>(
    drawn: &HashMap<String, T>,
    ids: impl Iterator<Item = &'a String>,
) -> HashMap<String, T> {
    ids.filter_map(|id| drawn.get(id).map(|v| (id.clone(), v.clone())))
        .collect()
}

/// A DI coordinate, rounded to whole pixels; tools write fractions.
fn coordinate(attrs: &Attributes<'_>, name: &str) -> Option<i64> {
    let value: f64 = attrs.get(name)?.trim().parse().ok()?;
    // Anything beyond a few million pixels is not a drawing anyone made; ignore it.
    (value.is_finite() && value.abs() < 1e7).then(|| value.round() as i64)
}

fn bounds(attrs: &Attributes<'_>) -> Option<Bounds> {
    Some(Bounds {
        x: coordinate(attrs, "x")?,
        y: coordinate(attrs, "y")?,
        width: coordinate(attrs, "width")?,
        height: coordinate(attrs, "height")?,
    })
}
