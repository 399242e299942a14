//! A layered, left-to-right layout for process models, lanes included.
//!
//! Nodes are placed in columns by their longest distance from a start (loops ignored), and in
//! rows by the branch they sit on. Each (lane, column, row) cell holds one node, so shapes never
//! overlap. Edges are orthogonal.
//!
//! - [`layout`]: a fresh drawing of a model; [`grid`] places the nodes, [`route`] the edges.
//! - [`extend`]: a refined model drawn inside the drawing of its source.

mod extend;
mod grid;
mod route;

use std::collections::HashMap;

pub use extend::extend;
use grid::place_on_grid;
use route::{back_edges, route_flows};

use super::drawing::{Bounds, Drawing};
use crate::model::{NodeKind, ProcessModel};

pub const COLUMN_WIDTH: i64 = 160;
pub const ROW_HEIGHT: i64 = 130;
/// Room on the left of a pool for its name.
pub const POOL_HEADER: i64 = 30;
pub(crate) const ORIGIN_X: i64 = 160;
pub(crate) const ORIGIN_Y: i64 = 80;

pub fn size_of(kind: &NodeKind) -> (i64, i64) {
    match kind {
        k if k.is_event() => (36, 36),
        k if k.is_gateway() => (50, 50),
        _ => (100, 80),
    }
}

/// A fresh drawing of a model.
pub fn layout(model: &ProcessModel) -> Drawing {
    let mut drawing = place_scope(model, None);
    route_flows(
        model,
        &mut drawing,
        &back_edges(&without_boundary_events(model)),
        None,
    );
    drawing
}

/// Room inside an expanded sub-process's box around its content; more below, where loops run.
const SUB_PROCESS_PADDING: i64 = 30;
const SUB_PROCESS_PADDING_BELOW: i64 = 60;

/// Places the nodes directly inside `scope` (the top level for `None`, with the lanes) on a
/// grid. An expanded sub-process is laid out first, on a grid of its own, and takes as many
/// cells as its content needs; the content is then moved into its box.
pub(super) fn place_scope(model: &ProcessModel, scope: Option<&str>) -> Drawing {
    let in_scope = |id: &str| model.parent_of(id) == scope;
    let mut contents: Vec<(String, Drawing)> = Vec::new();
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
    let mut drawing = place_on_grid(&without_boundary_events(&scoped), &sizes);
    for node in &scoped.nodes {
        if let Some(host) = node.kind.host() {
            let bounds = on_border(&drawing, model, host);
            drawing.nodes.insert(node.id.clone(), bounds);
        }
    }
    for (id, content) in contents {
        if let Some(b) = drawing.nodes.get(&id).copied() {
            move_into(&mut drawing, content, b);
        }
    }
    drawing
}

/// The size of a sub-process's box around its content, laid out on its own.
pub(super) fn box_size(content: &Drawing) -> Option<(i64, i64)> {
    let e = extent(content.nodes.values())?;
    Some((
        e.width + 2 * SUB_PROCESS_PADDING,
        e.height + SUB_PROCESS_PADDING + SUB_PROCESS_PADDING_BELOW,
    ))
}

/// Adds a sub-process's content, laid out on its own, to `drawing` inside the box `b`.
pub(super) fn move_into(drawing: &mut Drawing, content: Drawing, b: Bounds) {
    let Some(e) = extent(content.nodes.values()) else {
        return;
    };
    let (dx, dy) = (
        b.x + SUB_PROCESS_PADDING - e.x,
        b.y + SUB_PROCESS_PADDING - e.y,
    );
    for (child, c) in content.nodes {
        drawing.nodes.insert(
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
pub(super) fn without_boundary_events(model: &ProcessModel) -> ProcessModel {
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
pub(super) fn on_border(drawing: &Drawing, model: &ProcessModel, host: &str) -> Bounds {
    const SIZE: i64 = 36;
    let Some(h) = drawing.nodes.get(host).copied() else {
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
        .filter_map(|id| drawing.nodes.get(id).copied())
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

fn overlap(a: &Bounds, b: &Bounds) -> bool {
    a.x < b.right() && b.x < a.right() && a.y < b.bottom() && b.y < a.bottom()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::builder::{build, describe};
    use crate::options::OptionStyle;

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
        let edits = crate::builtin::follow_ups::apply(
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
        use crate::model::{EventTrigger, TaskKind};
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
        let extended = extend(&model, &Drawing::default());
        assert_eq!(extended.nodes, fresh.nodes);
        assert_eq!(extended.flows, fresh.flows);
    }
}
