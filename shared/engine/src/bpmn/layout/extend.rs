//! Refinement's layout: a refined model drawn inside the drawing it came from, so that what the
//! refinement did not touch stays where the source drew it.

use foldhash::HashMap;

use super::fresh::{box_size, layout, move_into, on_border, place_scope, without_boundary_events};
use super::grid::{size_of, COLUMN_WIDTH, ORIGIN_X, ORIGIN_Y, POOL_HEADER, ROW_HEIGHT};
use super::route::{back_edges, route_flows};
use crate::bpmn::drawing::{Bounds, Drawing};
use crate::model::ProcessModel;

/// Space kept free around a shape placed into an existing drawing.
const MARGIN: i64 = 20;

/// Lays out a refined model inside the drawing it came from, so that what the refinement did
/// not touch stays where the reader of the diagram left it.
///
/// Nodes and lanes keep their source bounds; a node is placed anew only when it is new, had no
/// shape, or moved into another lane. Such a node goes beside its neighbour in the flow, in the
/// first free spot of its lane, further right if need be, where there is always room. Flows keep
/// their waypoints while both ends still touch the shapes they join; others are routed afresh.
/// Lanes and the pool widen to hold everything. A source without a drawing, or one whose lanes
/// are all new, is laid out from scratch.
pub fn extend(model: &ProcessModel, source: &Drawing) -> Drawing {
    let lanes_drawn =
        model.lanes.is_empty() || model.lanes.iter().any(|l| source.lanes.contains_key(&l.id));
    if source.nodes.is_empty() || !lanes_drawn {
        return layout(model);
    }
    let mut out = Drawing {
        lanes: add_new_lanes(model, source),
        pool: source.pool,
        ..Drawing::default()
    };
    keep_source_shapes(model, source, &mut out);
    grow_broken_down_tasks(model, source, &mut out);
    place_new_nodes(model, source, &mut out);
    // A sub-process's box holds its content. Where new content does not fit in it (or the box
    // itself moved), the diagram is laid out afresh rather than drawn with content outside.
    if content_escaped(model, &out) {
        return layout(model);
    }
    widen_containers(&mut out);
    let grid_model = without_boundary_events(model);
    route_flows(
        model,
        &mut out,
        &back_edges(&grid_model),
        Some(&source.flows),
    );
    out
}

/// The bounds of a node's lane in `out`, when it has one.
fn lane_bounds(model: &ProcessModel, out: &Drawing, id: &str) -> Option<Bounds> {
    model
        .node(id)
        .and_then(|n| n.lane.as_ref())
        .and_then(|lane| out.lanes.get(lane))
        .copied()
}

/// Every node the source drew, where it drew it, unless it has moved into another lane.
/// Boundary events are placed later, once their activity is.
fn keep_source_shapes(model: &ProcessModel, source: &Drawing, out: &mut Drawing) {
    for node in &model.nodes {
        if node.kind.host().is_some() {
            continue;
        }
        if let Some(b) = source.nodes.get(&node.id) {
            let (cx, cy) = b.centre();
            let in_its_lane = lane_bounds(model, out, &node.id)
                .is_none_or(|l| cy >= l.y && cy <= l.bottom() && cx >= l.x && cx <= l.right());
            if in_its_lane {
                out.nodes.insert(node.id.clone(), *b);
            }
        }
    }
}

/// A task broken down into steps: its content is laid out inside it, and the box grows,
/// pushing what lies to its right further right and what lies below it further down.
fn grow_broken_down_tasks(model: &ProcessModel, source: &Drawing, out: &mut Drawing) {
    let newly_expanded: Vec<&str> = model
        .nodes
        .iter()
        .map(|n| n.id.as_str())
        .filter(|id| {
            model.is_expanded(id)
                && out.nodes.contains_key(*id)
                && !model.children(id).any(|c| source.nodes.contains_key(&c.id))
        })
        .collect();
    for id in newly_expanded {
        let content = place_scope(model, Some(id));
        let (Some((width, height)), Some(old)) = (box_size(&content), out.nodes.get(id).copied())
        else {
            continue;
        };
        let grown = Bounds {
            width: old.width.max(width),
            height: old.height.max(height),
            ..old
        };
        make_room(out, id, old, grown);
        out.nodes.insert(id.to_owned(), grown);
        move_into(out, content, grown);
    }
}

/// New nodes in flow order, so that each finds its predecessor already placed. A boundary
/// event goes once its activity is placed: where the source drew it if the activity has not
/// moved, else on the activity's border.
fn place_new_nodes(model: &ProcessModel, source: &Drawing, out: &mut Drawing) {
    let mut waiting: Vec<&str> = model
        .nodes
        .iter()
        .map(|n| n.id.as_str())
        .filter(|id| !out.nodes.contains_key(*id))
        .collect();
    let host_of = |id: &str| model.node(id).and_then(|n| n.kind.host());
    while !waiting.is_empty() {
        let ready = |id: &&str| match host_of(id) {
            Some(host) => out.nodes.contains_key(host),
            None => model
                .incoming(id)
                .any(|f| out.nodes.contains_key(&f.source)),
        };
        let next = waiting
            .iter()
            .position(ready)
            .or_else(|| waiting.iter().position(|id| host_of(id).is_none()))
            .unwrap_or(0);
        let id = waiting.remove(next);
        let bounds = match host_of(id) {
            Some(host) if out.nodes.get(host) == source.nodes.get(host) => source
                .nodes
                .get(id)
                .copied()
                .unwrap_or_else(|| on_border(out, model, host)),
            Some(host) => on_border(out, model, host),
            None => place(model, out, id, lane_bounds(model, out, id)),
        };
        out.nodes.insert(id.to_owned(), bounds);
    }
}

/// Whether any node lies outside the box of the sub-process it is inside.
fn content_escaped(model: &ProcessModel, out: &Drawing) -> bool {
    model.nodes.iter().any(|n| {
        let parent = n.parent.as_ref().and_then(|p| out.nodes.get(p));
        match (parent, out.nodes.get(&n.id)) {
            (Some(p), Some(b)) => {
                b.x < p.x || b.y < p.y || b.right() > p.right() || b.bottom() > p.bottom()
            }
            _ => false,
        }
    })
}

/// Moves what lies right of a box that grows from `old` to `grown` right by as much, and what
/// lies below it down; the lane holding it grows and the lanes below it move down.
fn make_room(out: &mut Drawing, id: &str, old: Bounds, grown: Bounds) {
    let (dx, dy) = (grown.right() - old.right(), grown.bottom() - old.bottom());
    let holding_lane = out
        .lanes
        .iter()
        .find(|(_, l)| l.y <= old.y && old.bottom() <= l.bottom())
        .map(|(lane, l)| (lane.clone(), l.bottom()));
    let below = holding_lane
        .as_ref()
        .map_or(old.bottom(), |(_, bottom)| *bottom);
    for b in out
        .nodes
        .iter_mut()
        .filter(|(other, _)| *other != id)
        .map(|(_, b)| b)
    {
        if dx > 0 && b.x >= old.right() {
            b.x += dx;
        }
        let under_the_box = b.y >= old.bottom() && b.x < grown.right() && b.right() > grown.x;
        if dy > 0 && (b.y >= below || under_the_box) {
            b.y += dy;
        }
    }
    if dy > 0 {
        for (lane, l) in out.lanes.iter_mut() {
            if holding_lane
                .as_ref()
                .is_some_and(|(holding, _)| holding == lane)
            {
                l.height += dy;
            } else if l.y >= below {
                l.y += dy;
            }
        }
        if let Some(pool) = out.pool.as_mut() {
            pool.height += dy;
        }
    }
}

/// The source's lanes, and a band below them for each lane the refinement added.
fn add_new_lanes(model: &ProcessModel, source: &Drawing) -> HashMap<String, Bounds> {
    let mut lanes: HashMap<String, Bounds> = model
        .lanes
        .iter()
        .filter_map(|l| source.lanes.get(&l.id).map(|b| (l.id.clone(), *b)))
        .collect();
    for lane in &model.lanes {
        if lanes.contains_key(&lane.id) {
            continue;
        }
        let (x, width) = lanes.values().next().map_or((0, 600), |b| (b.x, b.width));
        let bottom = lanes.values().map(Bounds::bottom).max().unwrap_or(0);
        lanes.insert(
            lane.id.clone(),
            Bounds {
                x,
                y: bottom,
                width,
                height: ROW_HEIGHT,
            },
        );
    }
    lanes
}

/// A free spot for a node: right of a placed predecessor (or left of a placed successor), level
/// with it, else lower down in the same lane, else further right. A node inside a sub-process
/// looks for its spot inside the sub-process's box.
fn place(model: &ProcessModel, out: &Drawing, id: &str, lane: Option<Bounds>) -> Bounds {
    let (w, h) = model.node(id).map_or((100, 80), |n| size_of(&n.kind));
    let ancestors: Vec<&str> =
        std::iter::successors(model.parent_of(id), |p| model.parent_of(p)).collect();
    let container = ancestors.first().and_then(|p| out.nodes.get(*p)).copied();
    let predecessor = model.incoming(id).find_map(|f| out.nodes.get(&f.source));
    let successor = model.outgoing(id).find_map(|f| out.nodes.get(&f.target));
    let rightmost = out.nodes.values().max_by_key(|b| b.right());
    let (cx, mut cy) = match (predecessor, successor, rightmost) {
        (Some(p), _, _) => (p.right() + COLUMN_WIDTH - 100 + w / 2, p.centre().1),
        (None, Some(s), _) => (s.x - (COLUMN_WIDTH - 100) - w / 2, s.centre().1),
        (None, None, Some(r)) => (r.right() + COLUMN_WIDTH - 100 + w / 2, r.centre().1),
        (None, None, None) => (ORIGIN_X + 60, ORIGIN_Y + ROW_HEIGHT / 2),
    };
    if let Some(l) = lane {
        if cy < l.y || cy > l.bottom() {
            cy = l.y + l.height / 2;
        }
    }
    let at = |cx: i64, cy: i64| Bounds {
        x: cx - w / 2,
        y: cy - h / 2,
        width: w,
        height: h,
    };
    let free = |b: &Bounds| {
        let inside = match container {
            Some(c) => {
                b.x >= c.x + MARGIN
                    && b.right() + MARGIN <= c.right()
                    && b.y >= c.y + MARGIN
                    && b.bottom() + MARGIN <= c.bottom()
            }
            None => lane.is_none_or(|l| b.y >= l.y && b.bottom() <= l.bottom()),
        };
        inside
            && out
                .nodes
                .iter()
                .filter(|(other, _)| !ancestors.contains(&other.as_str()))
                .all(|(_, o)| {
                    b.right() + MARGIN <= o.x
                        || o.right() + MARGIN <= b.x
                        || b.bottom() + MARGIN <= o.y
                        || o.bottom() + MARGIN <= b.y
                })
    };
    // Down the lane first (a branch below the flow), then step right: past the rightmost shape
    // every spot is free, so this ends.
    let right_edge = out.nodes.values().map(Bounds::right).max().unwrap_or(cx);
    let columns = (right_edge - cx).max(0) / COLUMN_WIDTH + 2;
    for column in 0..=columns {
        let x = cx + column * COLUMN_WIDTH;
        for row in 0..4 {
            let candidate = at(x, cy + row * ROW_HEIGHT);
            if free(&candidate) {
                return candidate;
            }
        }
    }
    at(right_edge + COLUMN_WIDTH, cy)
}

/// Lanes reach as far right as the rightmost shape, all to the same edge, and the pool holds them.
fn widen_containers(out: &mut Drawing) {
    if out.lanes.is_empty() {
        // A pool without lanes (one of several in a collaboration) grows around what was added.
        if let Some(pool) = out.pool.as_mut() {
            for b in out.nodes.values() {
                let (right, bottom) = (
                    pool.right().max(b.right() + 40),
                    pool.bottom().max(b.bottom() + 40),
                );
                pool.x = pool.x.min(b.x - 40);
                pool.y = pool.y.min(b.y - 40);
                pool.width = right - pool.x;
                pool.height = bottom - pool.y;
            }
        }
        return;
    }
    let right = out
        .nodes
        .values()
        .map(|b| b.right() + 40)
        .chain(out.lanes.values().map(Bounds::right))
        .max()
        .unwrap_or(0);
    for lane in out.lanes.values_mut() {
        lane.width = right - lane.x;
    }
    let top = out.lanes.values().map(|b| b.y).min().unwrap_or(0);
    let bottom = out.lanes.values().map(Bounds::bottom).max().unwrap_or(0);
    let left = out.lanes.values().map(|b| b.x).min().unwrap_or(0);
    let pool = out.pool.get_or_insert(Bounds {
        x: left - POOL_HEADER,
        y: top,
        width: 0,
        height: 0,
    });
    pool.x = pool.x.min(left - POOL_HEADER);
    pool.y = pool.y.min(top);
    pool.width = right - pool.x;
    pool.height = pool.height.max(bottom - pool.y);
}
