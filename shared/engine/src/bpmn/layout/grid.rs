//! The grid of a fresh layout: every node in a (lane, column, row) cell, lanes and the pool
//! sized around them.
//!
//! Columns come from the longest path from a start (loops ignored), rows from the branch a node
//! sits on. Each cell holds one node, so shapes never overlap.

use foldhash::{HashMap, HashMapExt, HashSet};
use std::collections::VecDeque;

use super::route::back_edges;
use crate::bpmn::drawing::{Bounds, Drawing};
use crate::model::{NodeKind, ProcessModel};

pub const COLUMN_WIDTH: i64 = 160;
pub const ROW_HEIGHT: i64 = 130;
/// Room on the left of a pool for its name.
pub const POOL_HEADER: i64 = 30;
pub(super) const ORIGIN_X: i64 = 160;
pub(super) const ORIGIN_Y: i64 = 80;

pub fn size_of(kind: &NodeKind) -> (i64, i64) {
    match kind {
        k if k.is_event() => (36, 36),
        k if k.is_gateway() => (50, 50),
        _ => (100, 80),
    }
}

/// Places every node of a model without boundary events in its (lane, column, row) cell, and
/// sizes the lanes and the pool around them. A node with a size in `large` (an expanded
/// sub-process) takes as many columns and rows as it needs.
pub(super) fn place_on_grid(model: &ProcessModel, large: &HashMap<String, (i64, i64)>) -> Drawing {
    let back_edges = back_edges(model);
    let grid = Grid::new(model, large, &back_edges);
    let (order, column) = grid.columns();
    let row = grid.rows(&order, &column);
    grid.draw(&order, &column, &row)
}

struct Grid<'a> {
    model: &'a ProcessModel,
    large: &'a HashMap<String, (i64, i64)>,
    /// Flows that close a loop; they do not count for columns and rows.
    back_edges: &'a HashSet<&'a str>,
    /// Each node's lane index; nodes outside any lane are in lane 0.
    lane: HashMap<&'a str, usize>,
    /// Each node's predecessors over forward flows, with the branch it takes from each: the
    /// position of the flow among the predecessor's forward outgoing flows.
    preds: HashMap<&'a str, Vec<(&'a str, usize)>>,
    /// Each node's successors over forward flows, in the order of its outgoing flows.
    succ: HashMap<&'a str, Vec<&'a str>>,
}

impl<'a> Grid<'a> {
    /// Indexes what placing asks about every node, so a large diagram is placed in about
    /// linear time rather than scanning every node and flow for each node.
    fn new(
        model: &'a ProcessModel,
        large: &'a HashMap<String, (i64, i64)>,
        back_edges: &'a HashSet<&'a str>,
    ) -> Self {
        let lane_index: HashMap<&str, usize> = model
            .lanes
            .iter()
            .enumerate()
            .map(|(i, l)| (l.id.as_str(), i))
            .collect();
        let lane = model
            .nodes
            .iter()
            .map(|n| {
                let index = n.lane.as_deref().and_then(|l| lane_index.get(l).copied());
                (n.id.as_str(), index.unwrap_or(0))
            })
            .collect();
        let mut succ: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut preds: HashMap<&str, Vec<(&str, usize)>> = HashMap::new();
        for f in model
            .flows
            .iter()
            .filter(|f| !back_edges.contains(f.id.as_str()))
        {
            let targets = succ.entry(f.source.as_str()).or_default();
            preds
                .entry(f.target.as_str())
                .or_default()
                .push((f.source.as_str(), targets.len()));
            targets.push(f.target.as_str());
        }
        Grid {
            model,
            large,
            back_edges,
            lane,
            preds,
            succ,
        }
    }

    /// Cells a node spans: (columns, rows).
    fn span(&self, id: &str) -> (i64, i64) {
        self.large.get(id).map_or((1, 1), |(w, h)| {
            (
                (w + COLUMN_WIDTH - 100 + COLUMN_WIDTH - 1) / COLUMN_WIDTH,
                (h + ROW_HEIGHT - 80 + ROW_HEIGHT - 1) / ROW_HEIGHT,
            )
        })
    }

    /// The index of a node's lane; 0 without lanes.
    fn lane_of(&self, id: &str) -> usize {
        self.lane.get(id).copied().unwrap_or(0)
    }

    /// Every node in topological order (Kahn), with its column: the longest path to it over
    /// forward flows.
    fn columns(&self) -> (Vec<&'a str>, HashMap<&'a str, i64>) {
        let model = self.model;
        let mut indegree: HashMap<&str, usize> =
            model.nodes.iter().map(|n| (n.id.as_str(), 0)).collect();
        for f in model
            .flows
            .iter()
            .filter(|f| !self.back_edges.contains(f.id.as_str()))
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
            for &t in self.succ.get(id).into_iter().flatten() {
                if !indegree.contains_key(t) {
                    continue;
                }
                let entry = column.entry(t).or_insert(0);
                *entry = (*entry).max(c + self.span(id).0);
                if let Some(d) = indegree.get_mut(t) {
                    *d -= 1;
                    if *d == 0 {
                        queue.push_back(t);
                    }
                }
            }
        }
        // Nodes on a cycle not broken by the DFS (unreachable ones) still get a place.
        let placed: HashSet<&str> = order.iter().copied().collect();
        for n in &model.nodes {
            if !placed.contains(n.id.as_str()) {
                order.push(&n.id);
                column.entry(&n.id).or_insert(0);
            }
        }
        (order, column)
    }

    /// Each node's row within its lane: a branch leaving a split takes the next row down; a
    /// join takes its highest input. A node whose cells are taken moves down until they are free.
    fn rows(&self, order: &[&'a str], column: &HashMap<&str, i64>) -> HashMap<&'a str, i64> {
        let mut row: HashMap<&str, i64> = HashMap::new();
        let mut taken = TakenCells::default();
        for &id in order {
            let (columns, rows) = self.span(id);
            let lane = self.lane_of(id);
            let first = column[id];
            let mut wanted = self.wanted_row(id, &row);
            // Down to the first row where every cell the node spans is free.
            loop {
                let free = (0..columns)
                    .map(|c| taken.first_free(lane, first + c, wanted, rows))
                    .max()
                    .unwrap_or(wanted);
                if free == wanted {
                    break;
                }
                wanted = free;
            }
            for c in 0..columns {
                for r in 0..rows {
                    taken.take(lane, first + c, wanted + r);
                }
            }
            row.insert(id, wanted);
        }
        row
    }

    /// The row a node would like, from its predecessors in the same lane.
    fn wanted_row(&self, id: &str, row: &HashMap<&str, i64>) -> i64 {
        let same_lane_preds: Vec<(&str, usize)> = self
            .preds
            .get(id)
            .into_iter()
            .flatten()
            .filter(|(p, _)| self.lane_of(p) == self.lane_of(id))
            .copied()
            .collect();
        match same_lane_preds.as_slice() {
            [] => 0,
            [(p, branch)] => row.get(p).copied().unwrap_or(0) + *branch as i64,
            many => many
                .iter()
                .filter_map(|(p, _)| row.get(p).copied())
                .min()
                .unwrap_or(0),
        }
    }

    /// Lane bands as deep as their lowest node needs, the pool around them, and every node's
    /// box in its cell.
    fn draw(
        &self,
        order: &[&str],
        column: &HashMap<&str, i64>,
        row: &HashMap<&str, i64>,
    ) -> Drawing {
        let model = self.model;
        let mut drawing = Drawing::default();
        let has_lanes = !model.lanes.is_empty();
        let left = if has_lanes {
            ORIGIN_X + POOL_HEADER
        } else {
            ORIGIN_X
        };
        let mut lane_top: Vec<i64> = Vec::new();
        let mut y = ORIGIN_Y;
        for lane in 0..model.lanes.len().max(1) {
            lane_top.push(y);
            let rows = order
                .iter()
                .filter(|id| self.lane_of(id) == lane)
                .map(|id| row[id] + self.span(id).1)
                .max()
                .unwrap_or(1);
            y += rows * ROW_HEIGHT;
        }
        if has_lanes {
            let total_width = column
                .iter()
                .map(|(id, c)| c + self.span(id).0)
                .max()
                .unwrap_or(1)
                * COLUMN_WIDTH
                + 40;
            for (i, lane) in model.lanes.iter().enumerate() {
                let bottom = lane_top.get(i + 1).copied().unwrap_or(y);
                drawing.lanes.insert(
                    lane.id.clone(),
                    Bounds {
                        x: left,
                        y: lane_top[i],
                        width: total_width,
                        height: bottom - lane_top[i],
                    },
                );
            }
            drawing.pool = Some(Bounds {
                x: ORIGIN_X,
                y: ORIGIN_Y,
                width: total_width + POOL_HEADER,
                height: y - ORIGIN_Y,
            });
        }
        for n in &model.nodes {
            let top = lane_top[self.lane_of(&n.id)] + row[n.id.as_str()] * ROW_HEIGHT;
            let x = left + column[n.id.as_str()] * COLUMN_WIDTH;
            let bounds = match self.large.get(&n.id) {
                // Where a task of its cell would start, stretching right and down.
                Some(&(width, height)) => Bounds {
                    x: x + 10,
                    y: top + (ROW_HEIGHT - 80) / 2,
                    width,
                    height,
                },
                None => {
                    let (w, h) = size_of(&n.kind);
                    let (cx, cy) = (x + 60, top + ROW_HEIGHT / 2);
                    Bounds {
                        x: cx - w / 2,
                        y: cy - h / 2,
                        width: w,
                        height: h,
                    }
                }
            };
            drawing.nodes.insert(n.id.clone(), bounds);
        }
        drawing
    }
}

/// The cells that hold a node. Each taken cell points to a row further down its column, with
/// every row between taken too, so finding room in a crowded column skips the nodes already
/// stacked there instead of testing each one again (a union-find with path compression).
#[derive(Default)]
struct TakenCells {
    below: HashMap<(usize, i64, i64), i64>,
}

impl TakenCells {
    fn take(&mut self, lane: usize, column: i64, row: i64) {
        self.below.insert((lane, column, row), row + 1);
    }

    /// The first free row at or below `row`.
    fn free_from(&mut self, lane: usize, column: i64, row: i64) -> i64 {
        let mut free = row;
        let mut path = Vec::new();
        while let Some(&next) = self.below.get(&(lane, column, free)) {
            path.push(free);
            free = next;
        }
        for taken in path {
            self.below.insert((lane, column, taken), free);
        }
        free
    }

    /// The first row at or below `from` where `height` rows in a row are free.
    fn first_free(&mut self, lane: usize, column: i64, from: i64, height: i64) -> i64 {
        let mut top = self.free_from(lane, column, from);
        while let Some(dr) =
            (1..height).find(|dr| self.below.contains_key(&(lane, column, top + dr)))
        {
            top = self.free_from(lane, column, top + dr);
        }
        top
    }
}
