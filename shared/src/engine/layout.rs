//! A layered, left-to-right layout for process models, lanes included.
//!
//! Nodes are placed in columns by their longest distance from a start (loops ignored), and in
//! rows by the branch they sit on. Each (lane, column, row) cell holds one node, so shapes never
//! overlap. Edges are orthogonal.

use std::collections::{HashMap, HashSet, VecDeque};

use super::model::{NodeKind, ProcessModel};

pub const COLUMN_WIDTH: i64 = 160;
pub const ROW_HEIGHT: i64 = 130;
/// Room on the left of a pool for its name.
pub const POOL_HEADER: i64 = 30;
const ORIGIN_X: i64 = 160;
const ORIGIN_Y: i64 = 80;

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

#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub nodes: HashMap<String, Bounds>,
    pub flows: HashMap<String, Vec<(i64, i64)>>,
    pub lanes: HashMap<String, Bounds>,
    /// The pool around the lanes, when the model has lanes.
    pub pool: Option<Bounds>,
}

pub fn size_of(kind: &NodeKind) -> (i64, i64) {
    match kind {
        k if k.is_event() => (36, 36),
        k if k.is_gateway() => (50, 50),
        _ => (100, 80),
    }
}

pub fn layout(model: &ProcessModel) -> Layout {
    let mut layout = place_scope(model, None);
    route_flows(
        model,
        &mut layout,
        &back_edges(&without_boundary_events(model)),
        None,
    );
    layout
}

/// Room inside an expanded sub-process's box around its content; more below, where loops run.
const SUB_PROCESS_PADDING: i64 = 30;
const SUB_PROCESS_PADDING_BELOW: i64 = 60;

/// Places the nodes directly inside `scope` (the top level for `None`, with the lanes) on a
/// grid. An expanded sub-process is laid out first, on a grid of its own, and takes as many
/// cells as its content needs; the content is then moved into its box.
fn place_scope(model: &ProcessModel, scope: Option<&str>) -> Layout {
    let in_scope = |id: &str| model.parent_of(id) == scope;
    let mut contents: Vec<(String, Layout)> = Vec::new();
    let mut sizes: HashMap<String, (i64, i64)> = HashMap::new();
    for node in model
        .nodes
        .iter()
        .filter(|n| in_scope(&n.id) && model.is_expanded(&n.id))
    {
        let content = place_scope(model, Some(&node.id));
        if let Some(size) = box_size(&content) {
            sizes.insert(node.id.clone(), size);
        }
        contents.push((node.id.clone(), content));
    }
    let scoped = ProcessModel {
        id: model.id.clone(),
        name: model.name.clone(),
        lanes: if scope.is_none() {
            model.lanes.clone()
        } else {
            Vec::new()
        },
        nodes: model
            .nodes
            .iter()
            .filter(|n| in_scope(&n.id))
            .cloned()
            .collect(),
        flows: model
            .flows
            .iter()
            .filter(|f| in_scope(&f.source))
            .cloned()
            .collect(),
    };
    let mut layout = place_on_grid(&without_boundary_events(&scoped), &sizes);
    for node in &scoped.nodes {
        if let Some(host) = node.kind.host() {
            let bounds = on_border(&layout, model, host);
            layout.nodes.insert(node.id.clone(), bounds);
        }
    }
    for (id, content) in contents {
        if let Some(b) = layout.nodes.get(&id).copied() {
            move_into(&mut layout, content, b);
        }
    }
    layout
}

/// The size of a sub-process's box around its content, laid out on its own.
fn box_size(content: &Layout) -> Option<(i64, i64)> {
    let e = extent(content.nodes.values())?;
    Some((
        e.width + 2 * SUB_PROCESS_PADDING,
        e.height + SUB_PROCESS_PADDING + SUB_PROCESS_PADDING_BELOW,
    ))
}

/// Adds a sub-process's content, laid out on its own, to `layout` inside the box `b`.
fn move_into(layout: &mut Layout, content: Layout, b: Bounds) {
    let Some(e) = extent(content.nodes.values()) else {
        return;
    };
    let (dx, dy) = (
        b.x + SUB_PROCESS_PADDING - e.x,
        b.y + SUB_PROCESS_PADDING - e.y,
    );
    for (child, c) in content.nodes {
        layout.nodes.insert(
            child,
            Bounds {
                x: c.x + dx,
                y: c.y + dy,
                ..c
            },
        );
    }
}

/// The smallest box around some shapes.
fn extent<'a>(shapes: impl Iterator<Item = &'a Bounds> + Clone) -> Option<Bounds> {
    let x = shapes.clone().map(|b| b.x).min()?;
    let y = shapes.clone().map(|b| b.y).min()?;
    let right = shapes.clone().map(Bounds::right).max()?;
    let bottom = shapes.map(Bounds::bottom).max()?;
    Some(Bounds {
        x,
        y,
        width: right - x,
        height: bottom - y,
    })
}

/// The model the grid is computed for: boundary events sit on their activity's border rather
/// than in a cell, so the paths they start leave from the activity, after its own flows, and
/// take the rows below it.
fn without_boundary_events(model: &ProcessModel) -> ProcessModel {
    let host_of = |id: &str| model.node(id).and_then(|n| n.kind.host());
    let (mut flows, exceptional): (Vec<_>, Vec<_>) = model
        .flows
        .iter()
        .cloned()
        .partition(|f| host_of(&f.source).is_none());
    flows.extend(exceptional.into_iter().map(|mut f| {
        f.source = host_of(&f.source).unwrap_or_default().to_owned();
        f
    }));
    ProcessModel {
        nodes: model
            .nodes
            .iter()
            .filter(|n| n.kind.host().is_none())
            .cloned()
            .collect(),
        flows,
        ..model.clone()
    }
}

/// A free spot for a boundary event on its activity's bottom edge, from the right; when that
/// edge is full, along the top edge.
fn on_border(layout: &Layout, model: &ProcessModel, host: &str) -> Bounds {
    const SIZE: i64 = 36;
    let Some(h) = layout.nodes.get(host).copied() else {
        return Bounds {
            x: ORIGIN_X,
            y: ORIGIN_Y,
            width: SIZE,
            height: SIZE,
        };
    };
    let taken: Vec<Bounds> = model
        .boundary_events_of(host)
        .iter()
        .filter_map(|id| layout.nodes.get(id).copied())
        .collect();
    let slots_per_edge = ((h.width - 10) / (SIZE + 10)).max(1);
    (0..)
        .map(|slot: i64| {
            let along = slot % slots_per_edge;
            let edge_y = if (slot / slots_per_edge) % 2 == 0 {
                h.bottom()
            } else {
                h.y
            };
            Bounds {
                x: h.right() - 10 - SIZE - along * (SIZE + 10),
                y: edge_y - SIZE / 2,
                width: SIZE,
                height: SIZE,
            }
        })
        .take(64)
        .find(|b| !taken.iter().any(|t| overlap(t, b)))
        .unwrap_or(Bounds {
            x: h.right() - 10 - SIZE,
            y: h.bottom() - SIZE / 2,
            width: SIZE,
            height: SIZE,
        })
}

/// Places every node of a model without boundary events in its (lane, column, row) cell, and
/// sizes the lanes and the pool around them. A node with a size in `large` (an expanded
/// sub-process) takes as many columns and rows as it needs.
fn place_on_grid(model: &ProcessModel, large: &HashMap<String, (i64, i64)>) -> Layout {
    let back_edges = back_edges(model);
    // Cells a node spans: (columns, rows).
    let span = |id: &str| {
        large.get(id).map_or((1, 1), |(w, h)| {
            (
                (w + COLUMN_WIDTH - 100 + COLUMN_WIDTH - 1) / COLUMN_WIDTH,
                (h + ROW_HEIGHT - 80 + ROW_HEIGHT - 1) / ROW_HEIGHT,
            )
        })
    };
    let forward = |id: &str| -> Vec<String> {
        model
            .outgoing(id)
            .filter(|f| !back_edges.contains(f.id.as_str()))
            .map(|f| f.target.clone())
            .collect()
    };

    // Columns: longest path over forward edges, in topological order (Kahn).
    let mut indegree: HashMap<&str, usize> =
        model.nodes.iter().map(|n| (n.id.as_str(), 0)).collect();
    for f in model
        .flows
        .iter()
        .filter(|f| !back_edges.contains(f.id.as_str()))
    {
        if let Some(d) = indegree.get_mut(f.target.as_str()) {
            *d += 1;
        }
    }
    let mut queue: VecDeque<&str> = model
        .nodes
        .iter()
        .map(|n| n.id.as_str())
        .filter(|id| indegree[id] == 0)
        .collect();
    let mut order: Vec<&str> = Vec::new();
    let mut column: HashMap<&str, i64> = HashMap::new();
    while let Some(id) = queue.pop_front() {
        order.push(id);
        let c = *column.entry(id).or_insert(0);
        for target in forward(id) {
            let Some(t) = model.node(&target).map(|n| n.id.as_str()) else {
                continue;
            };
            let entry = column.entry(t).or_insert(0);
            *entry = (*entry).max(c + span(id).0);
            if let Some(d) = indegree.get_mut(t) {
                *d -= 1;
                if *d == 0 {
                    queue.push_back(t);
                }
            }
        }
    }
    // Nodes on a cycle not broken by the DFS (unreachable ones) still get a place.
    for n in &model.nodes {
        if !order.contains(&n.id.as_str()) {
            order.push(&n.id);
            column.entry(&n.id).or_insert(0);
        }
    }

    // Rows: a branch leaving a split takes the next row down; a join takes its highest input.
    let lane_index: HashMap<&str, usize> = model
        .lanes
        .iter()
        .enumerate()
        .map(|(i, l)| (l.id.as_str(), i))
        .collect();
    let lane_of = |id: &str| {
        model
            .node(id)
            .and_then(|n| n.lane.as_deref())
            .and_then(|l| lane_index.get(l).copied())
            .unwrap_or(0)
    };
    let mut row: HashMap<&str, i64> = HashMap::new();
    let mut taken: HashSet<(usize, i64, i64)> = HashSet::new();
    for &id in &order {
        let preds: Vec<(&str, usize)> = model
            .flows
            .iter()
            .filter(|f| f.target == id && !back_edges.contains(f.id.as_str()))
            .filter_map(|f| {
                let branch = model
                    .outgoing(&f.source)
                    .filter(|o| !back_edges.contains(o.id.as_str()))
                    .position(|o| o.id == f.id)?;
                Some((f.source.as_str(), branch))
            })
            .collect();
        let same_lane_preds: Vec<&(&str, usize)> = preds
            .iter()
            .filter(|(p, _)| lane_of(p) == lane_of(id))
            .collect();
        let mut wanted = match same_lane_preds.as_slice() {
            [] => 0,
            [(p, branch)] => row.get(p).copied().unwrap_or(0) + *branch as i64,
            many => many
                .iter()
                .filter_map(|(p, _)| row.get(p).copied())
                .min()
                .unwrap_or(0),
        };
        let (columns, rows) = span(id);
        let cells = |r: i64| (0..columns).flat_map(move |c| (0..rows).map(move |dr| (c, r + dr)));
        let lane = lane_of(id);
        let first = column[id];
        while cells(wanted).any(|(c, r)| taken.contains(&(lane, first + c, r))) {
            wanted += 1;
        }
        taken.extend(cells(wanted).map(|(c, r)| (lane, first + c, r)));
        row.insert(id, wanted);
    }

    // Lane bands: as many rows as their lowest node needs.
    let mut layout = Layout::default();
    let has_lanes = !model.lanes.is_empty();
    let left = if has_lanes {
        ORIGIN_X + POOL_HEADER
    } else {
        ORIGIN_X
    };
    let mut lane_top: Vec<i64> = Vec::new();
    let mut y = ORIGIN_Y;
    let lane_count = model.lanes.len().max(1);
    for lane in 0..lane_count {
        lane_top.push(y);
        let rows = order
            .iter()
            .filter(|id| lane_of(id) == lane)
            .map(|id| row[id] + span(id).1)
            .max()
            .unwrap_or(1);
        y += rows * ROW_HEIGHT;
    }
    let total_width = column
        .iter()
        .map(|(id, c)| c + span(id).0)
        .max()
        .unwrap_or(1)
        * COLUMN_WIDTH
        + 40;
    if has_lanes {
        for (i, lane) in model.lanes.iter().enumerate() {
            let bottom = lane_top.get(i + 1).copied().unwrap_or(y);
            layout.lanes.insert(
                lane.id.clone(),
                Bounds {
                    x: left,
                    y: lane_top[i],
                    width: total_width,
                    height: bottom - lane_top[i],
                },
            );
        }
        layout.pool = Some(Bounds {
            x: ORIGIN_X,
            y: ORIGIN_Y,
            width: total_width + POOL_HEADER,
            height: y - ORIGIN_Y,
        });
    }

    for n in &model.nodes {
        let (column, row) = (column[n.id.as_str()], row[n.id.as_str()]);
        let top = lane_top[lane_of(&n.id)] + row * ROW_HEIGHT;
        let bounds = match large.get(&n.id) {
            // Where a task of its cell would start, stretching right and down.
            Some(&(width, height)) => Bounds {
                x: left + 10 + column * COLUMN_WIDTH,
                y: top + (ROW_HEIGHT - 80) / 2,
                width,
                height,
            },
            None => {
                let (w, h) = size_of(&n.kind);
                let (cx, cy) = (left + 60 + column * COLUMN_WIDTH, top + ROW_HEIGHT / 2);
                Bounds {
                    x: cx - w / 2,
                    y: cy - h / 2,
                    width: w,
                    height: h,
                }
            }
        };
        layout.nodes.insert(n.id.clone(), bounds);
    }
    layout
}

/// Routes every flow between its placed ends. A flow drawn in `previous` keeps that route while
/// both its ends still touch the shapes they join.
fn route_flows(
    model: &ProcessModel,
    layout: &mut Layout,
    back_edges: &HashSet<&str>,
    previous: Option<&HashMap<String, Vec<(i64, i64)>>>,
) {
    // Loops run under everything in their scope: inside a sub-process's box, under its content.
    let mut lowest: HashMap<Option<&str>, i64> = HashMap::new();
    for n in &model.nodes {
        if let Some(b) = layout.nodes.get(&n.id) {
            let deepest = lowest.entry(n.parent.as_deref()).or_insert(b.bottom());
            *deepest = (*deepest).max(b.bottom());
        }
    }
    for f in &model.flows {
        let (Some(s), Some(t)) = (layout.nodes.get(&f.source), layout.nodes.get(&f.target)) else {
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
        layout.flows.insert(f.id.clone(), points);
    }
}

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
pub fn extend(model: &ProcessModel, source: &Layout) -> Layout {
    let lanes_drawn =
        model.lanes.is_empty() || model.lanes.iter().any(|l| source.lanes.contains_key(&l.id));
    if source.nodes.is_empty() || !lanes_drawn {
        return layout(model);
    }
    let mut out = Layout {
        lanes: add_new_lanes(model, source),
        pool: source.pool,
        ..Layout::default()
    };
    let lane_of = |out: &Layout, id: &str| {
        model
            .node(id)
            .and_then(|n| n.lane.as_ref())
            .and_then(|lane| out.lanes.get(lane))
            .copied()
    };
    for node in &model.nodes {
        if node.kind.host().is_some() {
            continue;
        }
        if let Some(b) = source.nodes.get(&node.id) {
            let (cx, cy) = b.centre();
            let in_its_lane = lane_of(&out, &node.id)
                .is_none_or(|l| cy >= l.y && cy <= l.bottom() && cx >= l.x && cx <= l.right());
            if in_its_lane {
                out.nodes.insert(node.id.clone(), *b);
            }
        }
    }
    // A task broken down into steps: its content is laid out inside it, and the box grows,
    // pushing what lies to its right further right and what lies below it further down.
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
        make_room(&mut out, id, old, grown);
        out.nodes.insert(id.to_owned(), grown);
        move_into(&mut out, content, grown);
    }
    // New nodes in flow order, so that each finds its predecessor already placed. A boundary
    // event goes once its activity is placed: where the source drew it if the activity has not
    // moved, else on the activity's border.
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
                .unwrap_or_else(|| on_border(&out, model, host)),
            Some(host) => on_border(&out, model, host),
            None => place(model, &out, id, lane_of(&out, id)),
        };
        out.nodes.insert(id.to_owned(), bounds);
    }
    // A sub-process's box holds its content. Where new content does not fit in it (or the box
    // itself moved), the diagram is laid out afresh rather than drawn with content outside.
    let escaped = model.nodes.iter().any(|n| {
        let parent = n.parent.as_ref().and_then(|p| out.nodes.get(p));
        match (parent, out.nodes.get(&n.id)) {
            (Some(p), Some(b)) => {
                b.x < p.x || b.y < p.y || b.right() > p.right() || b.bottom() > p.bottom()
            }
            _ => false,
        }
    });
    if escaped {
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

/// Moves what lies right of a box that grows from `old` to `grown` right by as much, and what
/// lies below it down; the lane holding it grows and the lanes below it move down.
fn make_room(out: &mut Layout, id: &str, old: Bounds, grown: Bounds) {
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
fn add_new_lanes(model: &ProcessModel, source: &Layout) -> HashMap<String, Bounds> {
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
fn place(model: &ProcessModel, out: &Layout, id: &str, lane: Option<Bounds>) -> Bounds {
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
fn widen_containers(out: &mut Layout) {
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

fn overlap(a: &Bounds, b: &Bounds) -> bool {
    a.x < b.right() && b.x < a.right() && a.y < b.bottom() && b.y < a.bottom()
}

/// Whether a waypoint lies on (or within) a shape's outline, give or take a pixel of rounding.
fn touches(b: &Bounds, (x, y): (i64, i64)) -> bool {
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
fn back_edges(model: &ProcessModel) -> HashSet<&str> {
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
            let out: Vec<&super::model::Flow> = model.outgoing(node).collect();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::builder::{build, describe, OptionStyle};

    fn overlaps(a: &Bounds, b: &Bounds) -> bool {
        a.x < b.right() && b.x < a.right() && a.y < b.bottom() && b.y < a.bottom()
    }

    #[test]
    fn no_two_shapes_overlap_and_every_flow_is_routed() {
        let prompts = [
            "Map the customer support ticket triage process from intake to resolution.",
            "Map the order fulfilment process.",
            "The clerk logs the claim. If the claim is large, the manager reviews it and the director signs it; otherwise the clerk approves it. Meanwhile, the system archives the documents. Finance pays the claim.",
        ];
        for prompt in prompts {
            for style in OptionStyle::ALL {
                let model = build(&describe(prompt), style);
                let layout = layout(&model);
                let shapes: Vec<&Bounds> = layout.nodes.values().collect();
                for (i, a) in shapes.iter().enumerate() {
                    for b in &shapes[i + 1..] {
                        assert!(!overlaps(a, b), "{prompt} {style:?}: {a:?} overlaps {b:?}");
                    }
                }
                assert_eq!(layout.flows.len(), model.flows.len());
                for points in layout.flows.values() {
                    for pair in points.windows(2) {
                        assert!(
                            pair[0].0 == pair[1].0 || pair[0].1 == pair[1].1,
                            "edge segment is not orthogonal"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn nodes_sit_inside_their_lane() {
        let model = build(
            &describe(
                "The clerk receives the order. The manager approves the order. The clerk ships it.",
            ),
            OptionStyle::LanePerActor,
        );
        let layout = layout(&model);
        for node in &model.nodes {
            let lane = &layout.lanes[node.lane.as_deref().expect("every node has a lane")];
            let b = layout.nodes[&node.id];
            assert!(
                b.y >= lane.y && b.bottom() <= lane.bottom(),
                "{} is outside its lane",
                node.name
            );
        }
    }

    #[test]
    fn extending_a_drawing_keeps_untouched_shapes_and_fits_new_ones_into_their_lane() {
        let mut model = build(
            &describe(
                "The clerk receives the order. The manager approves the order. The clerk ships it.",
            ),
            OptionStyle::LanePerActor,
        );
        let before = layout(&model);
        let edits = crate::engine::refine::apply(
            &mut model,
            "Add a step to check the address after Receive order.",
        );
        assert!(!edits.is_empty());
        let after = extend(&model, &before);
        let new: Vec<_> = model
            .nodes
            .iter()
            .filter(|n| !before.nodes.contains_key(&n.id))
            .collect();
        assert_eq!(new.len(), 1, "one step was added");
        for (id, b) in &before.nodes {
            assert_eq!(after.nodes.get(id), Some(b), "{id} moved");
        }
        let shapes: Vec<&Bounds> = after.nodes.values().collect();
        for (i, a) in shapes.iter().enumerate() {
            for b in &shapes[i + 1..] {
                assert!(!overlaps(a, b), "{a:?} overlaps {b:?}");
            }
        }
        let lane = after.lanes[new[0].lane.as_deref().expect("in a lane")];
        let placed = after.nodes[&new[0].id];
        assert!(
            placed.y >= lane.y
                && placed.bottom() <= lane.bottom()
                && placed.right() <= lane.right()
        );
        let pool = after.pool.expect("pool");
        assert!(after.lanes.values().all(|l| l.right() == pool.right()));
        assert_eq!(after.flows.len(), model.flows.len());
    }

    #[test]
    fn a_boundary_event_sits_on_its_activitys_bottom_edge_and_its_path_runs_below() {
        use crate::engine::model::{EventTrigger, TaskKind};
        let mut model = build(
            &describe("Receive the order. Approve the order. Ship the order."),
            OptionStyle::Concise,
        );
        let approve = model
            .nodes
            .iter()
            .find(|n| n.name == "Approve order")
            .map(|n| n.id.clone())
            .expect("approve");
        let mut timers = Vec::new();
        for interrupting in [false, true] {
            let timer = model.add_node(
                NodeKind::BoundaryEvent {
                    trigger: EventTrigger::Timer,
                    host: approve.clone(),
                    interrupting,
                },
                "2 days",
                None,
            );
            let remind = model.add_node(NodeKind::Task(TaskKind::User), "Remind", None);
            let end = model.add_node(NodeKind::EndEvent(EventTrigger::None), "", None);
            model.connect(&timer, &remind, "");
            model.connect(&remind, &end, "");
            timers.push((timer, remind));
        }
        let placed = layout(&model);
        let host = placed.nodes[&approve];
        let (first, second) = (placed.nodes[&timers[0].0], placed.nodes[&timers[1].0]);
        assert_eq!(first.centre().1, host.bottom());
        assert!(first.x >= host.x - first.width / 2 && first.right() <= host.right());
        assert!(!overlap(&first, &second), "two timers share a spot");
        for (timer, remind) in &timers {
            let t = placed.nodes[timer];
            let r = placed.nodes[remind];
            assert!(
                r.y > host.bottom() && r.x > host.right(),
                "the path runs below and on"
            );
            let flow = model
                .flows
                .iter()
                .find(|f| &f.source == timer)
                .expect("flow");
            let points = &placed.flows[&flow.id];
            assert_eq!(points[0], (t.centre().0, t.bottom()), "it leaves downwards");
        }
        let host_of = |id: &str| model.node(id).and_then(|n| n.kind.host());
        let ids: Vec<&String> = placed.nodes.keys().collect();
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                let on_border = host_of(a) == Some(b.as_str()) || host_of(b) == Some(a.as_str());
                assert!(
                    on_border || !overlap(&placed.nodes[*a], &placed.nodes[*b]),
                    "{a} overlaps {b}"
                );
            }
        }
    }

    #[test]
    fn a_source_without_a_drawing_is_laid_out_afresh() {
        let model = build(
            &describe("Receive the order. Ship it."),
            OptionStyle::Concise,
        );
        let fresh = layout(&model);
        let extended = extend(&model, &Layout::default());
        assert_eq!(extended.nodes, fresh.nodes);
        assert_eq!(extended.flows, fresh.flows);
    }
}
