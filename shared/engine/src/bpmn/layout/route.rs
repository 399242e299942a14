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
            None => {
                let ends = Ends {
                    source: &f.source,
                    target: &f.target,
                    s: *s,
                    t: *t,
                };
                let back = back_edges.contains(f.id.as_str());
                let boundary = model
                    .node(&f.source)
                    .is_some_and(|n| n.kind.host().is_some());
                let straight = (!back && !boundary)
                    .then(|| stacked(*s, *t))
                    .flatten()
                    .filter(|route| !runs_through_another(drawing, &ends, route));
                if let Some(points) = straight {
                    drawing.flows.insert(f.id.clone(), points);
                    continue;
                }
                let points = route(
                    model,
                    &ends,
                    back_edges.contains(f.id.as_str()),
                    lowest
                        .get(&model.parent_of(&f.source))
                        .copied()
                        .unwrap_or(0),
                    blocking(drawing, &ends),
                );
                // Where branches share rows and columns, the first choice can meet a shape
                // of another branch: then through the gap between the columns, or else
                // under everything between the two.
                if back || boundary || t.x <= s.right() {
                    points
                } else {
                    [points, via_gap(*s, *t), under_all(drawing, &ends)]
                        .into_iter()
                        .find(|route| !runs_through_another(drawing, &ends, route))
                        .unwrap_or_else(|| via_gap(*s, *t))
                }
            }
        };
        drawing.flows.insert(f.id.clone(), points);
    }
}

/// A straight vertical line between two shapes stacked in one column (a refinement put a step
/// above or below its neighbour, in another lane): down from the source's bottom to the
/// target's top, or up from its top to the target's bottom, where their widths overlap.
fn stacked(s: Bounds, t: Bounds) -> Option<Vec<(i64, i64)>> {
    let (left, right) = (s.x.max(t.x), s.right().min(t.right()));
    if left >= right {
        return None;
    }
    let x = if s.centre().0 == t.centre().0 {
        s.centre().0
    } else {
        (left + right) / 2
    };
    if t.y >= s.bottom() {
        Some(vec![(x, s.bottom()), (x, t.y)])
    } else if t.bottom() <= s.y {
        Some(vec![(x, s.y), (x, t.bottom())])
    } else {
        None
    }
}

/// Whether a waypoint lies on (or within) a shape's outline, give or take a pixel of rounding.
pub(super) fn touches(b: &Bounds, (x, y): (i64, i64)) -> bool {
    x >= b.x - 2 && x <= b.right() + 2 && y >= b.y - 2 && y <= b.bottom() + 2
}

/// The two shapes a flow joins.
struct Ends<'a> {
    source: &'a str,
    target: &'a str,
    s: Bounds,
    t: Bounds,
}

/// The shapes a flow must not run through: all but its two ends and what holds them (an
/// expanded sub-process's box around its content).
fn others<'d>(drawing: &'d Drawing, ends: &'d Ends<'_>) -> impl Iterator<Item = &'d Bounds> {
    let holds = |b: &Bounds, inner: &Bounds| {
        b.x <= inner.x
            && b.y <= inner.y
            && b.right() >= inner.right()
            && b.bottom() >= inner.bottom()
    };
    drawing
        .nodes
        .iter()
        .filter(|(id, _)| id.as_str() != ends.source && id.as_str() != ends.target)
        .map(|(_, b)| b)
        .filter(move |b| !holds(b, &ends.s) && !holds(b, &ends.t))
}

/// How far a detour runs from the shapes it passes: within the margin a row leaves around them
/// (a quarter of the 50 px between the tasks of two rows, `grid::ROW_HEIGHT` less a task).
const CLEARANCE: i64 = 12;

/// The highest top of the shapes a straight line between two shapes on one row would cross,
/// if any. An optional branch (a split straight to its join) has tasks on its row between them.
fn blocking(drawing: &Drawing, ends: &Ends<'_>) -> Option<i64> {
    let (s, t) = (ends.s, ends.t);
    let y = s.centre().1;
    if y != t.centre().1 || t.x <= s.x {
        return None;
    }
    others(drawing, ends)
        .filter(|b| b.x < t.x && b.right() > s.right() && b.y < y && b.bottom() > y)
        .map(|b| b.y)
        .min()
}

/// Whether a route passes through the inside of a shape other than the two it joins.
fn runs_through_another(drawing: &Drawing, ends: &Ends<'_>, points: &[(i64, i64)]) -> bool {
    others(drawing, ends).any(|b| {
        points.windows(2).any(|pair| {
            let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
            x0.min(x1) < b.right()
                && x0.max(x1) > b.x
                && y0.min(y1) < b.bottom()
                && y0.max(y1) > b.y
        })
    })
}

/// Out of the source's right side, along the gap between the columns, into the target's left.
fn via_gap(s: Bounds, t: Bounds) -> Vec<(i64, i64)> {
    let (scy, tcy) = (s.centre().1, t.centre().1);
    let mid = (s.right() + t.x) / 2;
    vec![(s.right(), scy), (mid, scy), (mid, tcy), (t.x, tcy)]
}

/// Out of the source's right side, down below every shape between the two, along, and up into
/// the target's left side.
fn under_all(drawing: &Drawing, ends: &Ends<'_>) -> Vec<(i64, i64)> {
    let (s, t) = (ends.s, ends.t);
    let between = others(drawing, ends)
        .filter(|b| b.right() > s.right() && b.x < t.x)
        .map(|b| b.bottom());
    let under = between
        .chain([s.bottom(), t.bottom()])
        .max()
        .unwrap_or(s.bottom())
        + CLEARANCE;
    let (scy, tcy) = (s.centre().1, t.centre().1);
    let (out, into) = (s.right() + 20, t.x - 20);
    vec![
        (s.right(), scy),
        (out, scy),
        (out, under),
        (into, under),
        (into, tcy),
        (t.x, tcy),
    ]
}

/// Orthogonal route between two shapes; `blocked` is the top of what lies between them on
/// their row, which the route then passes over.
fn route(
    model: &ProcessModel,
    ends: &Ends<'_>,
    back: bool,
    lowest: i64,
    blocked: Option<i64>,
) -> Vec<(i64, i64)> {
    let (source, target, s, t) = (ends.source, ends.target, ends.s, ends.t);
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
    if let Some(top) = blocked {
        // Over the branch's shapes, inside the margin of their lane, clear of the labels
        // that events and gateways carry below them.
        let over = top - CLEARANCE;
        let (start, leave_x) = if is_gateway(source) {
            (vec![(scx, s.y)], scx)
        } else {
            let x = s.right() + 20;
            (vec![(s.right(), scy), (x, scy)], x)
        };
        let mut points = start;
        points.push((leave_x, over));
        if is_gateway(target) {
            points.extend([(tcx, over), (tcx, t.y)]);
        } else {
            let x = t.x - 20;
            points.extend([(x, over), (x, tcy), (t.x, tcy)]);
        }
        return points;
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
    via_gap(s, t)
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
