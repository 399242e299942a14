//! A fresh drawing of a model: each scope (the process, and each expanded sub-process inside
//! it) placed on a grid of its own, innermost first, boundary events on their activities'
//! borders, then every flow routed.

use foldhash::{HashMap, HashMapExt};

use super::grid::{place_on_grid, ORIGIN_X, ORIGIN_Y};
use super::route::{back_edges, route_flows};
use crate::bpmn::drawing::{Bounds, Drawing};
use crate::model::ProcessModel;

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
    // Each boundary event's host, by the event's id: one lookup per flow rather than a search
    // of the nodes, and none at all in a model without boundary events.
    let hosts: HashMap<&str, &str> = model
        .nodes
        .iter()
        .filter_map(|n| Some((n.id.as_str(), n.kind.host()?)))
        .collect();
    let host_of = |id: &str| hosts.get(id).copied();
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
        id: model.id.clone(),
        name: model.name.clone(),
        lanes: model.lanes.clone(),
        nodes: model
            .nodes
            .iter()
            .filter(|n| n.kind.host().is_none())
            .cloned()
            .collect(),
        flows,
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

pub(super) fn overlap(a: &Bounds, b: &Bounds) -> bool {
    a.x < b.right() && b.x < a.right() && a.y < b.bottom() && b.y < a.bottom()
}
