//! Edges: orthogonal routes between placed shapes, and the flows that close loops.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use crate::bpmn::drawing::{Bounds, Drawing};
use crate::model::{Flow, ProcessModel};

/// Routes every flow between its placed ends. A flow drawn in `previous` keeps that route while
/// both its ends still touch the shapes they join.
pub(super) fn route_flows(
    model: &ProcessModel,
    drawing: &mut Drawing,
    back_edges: &HashSet<&str>,
    previous: Option<&HashMap<String, Vec<(i64, i64)>>>,
) {
    // Loops run under everything in their scope: inside a sub-process's box, under its content.
    let mut lowest: HashMap<Option<&str>, i64> = HashMap::new();
    for n in &model.nodes {
        if let Some(b) = drawing.nodes.get(&n.id) {
            let deepest = lowest.entry(n.parent.as_deref()).or_insert(b.bottom());
            *deepest = (*deepest).max(b.bottom());
        }
    }
    for f in &model.flows {
        let (Some(s), Some(t)) = (drawing.nodes.get(&f.source), drawing.nodes.get(&f.target))
        else {
            continue;
        };
        let kept = previous.and_then(|p| p.get(&f.id)).filter(|points| {
            points.len() >= 2 && touches(s, points[0]) && touches(t, points[points.len() - 1])
        });
        let points = match kept {
            Some(points) => points.clone(),
            None => route(
                model,
                &f.source,
                &f.target,
                *s,
                *t,
                back_edges.contains(f.id.as_str()),
                lowest
                    .get(&model.parent_of(&f.source))
                    .copied()
                    .unwrap_or(0),
            ),
        };
        drawing.flows.insert(f.id.clone(), points);
    }
}

/// Whether a waypoint lies on (or within) a shape's outline, give or take a pixel of rounding.
pub(super) fn touches(b: &Bounds, (x, y): (i64, i64)) -> bool {
    x >= b.x - 2 && x <= b.right() + 2 && y >= b.y - 2 && y <= b.bottom() + 2
}

/// Orthogonal route between two shapes.
fn route(
    model: &ProcessModel,
    source: &str,
    target: &str,
    s: Bounds,
    t: Bounds,
    back: bool,
    lowest: i64,
) -> Vec<(i64, i64)> {
    let (scx, scy) = s.centre();
    let (tcx, tcy) = t.centre();
    let is_gateway = |id: &str| model.node(id).is_some_and(|n| n.kind.is_gateway());
    if back || t.x <= s.x {
        // Loops run underneath everything, entering the target from below.
        let below = lowest + 30;
        return vec![
            (scx, s.bottom()),
            (scx, below),
            (tcx, below),
            (tcx, t.bottom()),
        ];
    }
    if model.node(source).is_some_and(|n| n.kind.host().is_some()) {
        // A boundary event's path leaves downwards, away from the activity it sits on.
        if tcy > s.bottom() {
            return vec![(scx, s.bottom()), (scx, tcy), (t.x, tcy)];
        }
        let under = s.bottom() + 20;
        let mid = (s.right() + t.x) / 2;
        return vec![
            (scx, s.bottom()),
            (scx, under),
            (mid, under),
            (mid, tcy),
            (t.x, tcy),
        ];
    }
    if scy == tcy {
        return vec![(s.right(), scy), (t.x, tcy)];
    }
    if is_gateway(source) {
        let exit_y = if tcy > scy { s.bottom() } else { s.y };
        return vec![(scx, exit_y), (scx, tcy), (t.x, tcy)];
    }
    if is_gateway(target) {
        let entry_y = if scy > tcy { t.bottom() } else { t.y };
        return vec![(s.right(), scy), (tcx, scy), (tcx, entry_y)];
    }
    let mid = (s.right() + t.x) / 2;
    vec![(s.right(), scy), (mid, scy), (mid, tcy), (t.x, tcy)]
}

/// Flows that close a loop, found by depth-first search from the start events.
pub(super) fn back_edges(model: &ProcessModel) -> HashSet<&str> {
    let mut back = HashSet::new();
    let mut state: HashMap<&str, u8> = HashMap::new(); // 1 = on the stack, 2 = done
    let roots: Vec<&str> = model
        .start_events()
        .map(|n| n.id.as_str())
        .chain(model.nodes.iter().map(|n| n.id.as_str()))
        .collect();
    for root in roots {
        if state.contains_key(root) {
            continue;
        }
        // Iterative DFS: (node, index of the next outgoing flow to visit).
        let mut stack: Vec<(&str, usize)> = vec![(root, 0)];
        state.insert(root, 1);
        while let Some((node, next)) = stack.pop() {
            let out: Vec<&Flow> = model.outgoing(node).collect();
            if let Some(flow) = out.get(next) {
                stack.push((node, next + 1));
                match state.get(flow.target.as_str()) {
                    Some(1) => {
                        back.insert(flow.id.as_str());
                    }
                    Some(_) => {}
                    None => {
                        state.insert(&flow.target, 1);
                        stack.push((&flow.target, 0));
                    }
                }
            } else {
                state.insert(node, 2);
            }
        }
    }
    back
}
