//! A layered, left-to-right layout for process models, lanes included.
//!
//! Nodes are placed in columns by their longest distance from a start (loops ignored), and in
//! rows by the branch they sit on. Each (lane, column, row) cell holds one node, so shapes never
//! overlap. Edges are orthogonal.
//!
//! - [`layout`] ([`fresh`]): a fresh drawing of a model; [`grid`] places the nodes of each
//!   scope, [`route`] the edges.
//! - [`extend`]: a refined model drawn inside the drawing of its source.

mod extend;
mod fresh;
mod grid;
mod route;

pub use extend::extend;
pub use fresh::layout;
pub use grid::{size_of, COLUMN_WIDTH, POOL_HEADER, ROW_HEIGHT};

#[cfg(test)]
mod tests {
    use super::fresh::overlap;
    use super::*;
    use crate::bpmn::drawing::{Bounds, Drawing};
    use crate::builtin::builder::{build, describe};
    use crate::model::NodeKind;
    use crate::options::OptionStyle;

    fn overlaps(a: &Bounds, b: &Bounds) -> bool {
        a.x < b.right() && b.x < a.right() && a.y < b.bottom() && b.y < a.bottom()
    }

    /// Whether a segment of an orthogonal route runs through the inside of a shape.
    fn crosses(b: &Bounds, (x0, y0): (i64, i64), (x1, y1): (i64, i64)) -> bool {
        let (left, right) = (x0.min(x1), x0.max(x1));
        let (top, bottom) = (y0.min(y1), y0.max(y1));
        left < b.right() && right > b.x && top < b.bottom() && bottom > b.y
    }

    #[test]
    fn no_flow_runs_through_a_shape_it_does_not_join() {
        // An optional branch: the split goes straight to its join past the branch's task.
        let prompts = [
            "The clerk sends the invoice. If no payment arrives within 30 days, finance sends a reminder. Finance books the payment.",
            "The clerk receives the order. If the order is large, the manager approves it and the director signs it. The warehouse ships the goods.",
            "The clerk logs the claim. If the claim is large, the manager reviews it and the director signs it; otherwise the clerk approves it. Meanwhile, the system archives the documents. Finance pays the claim.",
            "For each damage, the adjuster inspects the damage and estimates the cost. If the cost is high, the manager approves it. The clerk pays the claim.",
        ];
        for prompt in prompts {
            for style in OptionStyle::ALL {
                let model = build(&describe(prompt), style);
                let layout = layout(&model);
                for flow in &model.flows {
                    let points = &layout.flows[&flow.id];
                    let (s, t) = (&layout.nodes[&flow.source], &layout.nodes[&flow.target]);
                    let holds = |b: &Bounds, inner: &Bounds| {
                        b.x <= inner.x
                            && b.y <= inner.y
                            && b.right() >= inner.right()
                            && b.bottom() >= inner.bottom()
                    };
                    for (id, b) in &layout.nodes {
                        if *id == flow.source || *id == flow.target || holds(b, s) || holds(b, t) {
                            continue;
                        }
                        for pair in points.windows(2) {
                            assert!(
                                !crosses(b, pair[0], pair[1]),
                                "{prompt} {style:?}: {} ({} to {}, {:?} to {:?}) runs through {id} {b:?}: {points:?}",
                                flow.id,
                                flow.source,
                                flow.target,
                                layout.nodes[&flow.source],
                                layout.nodes[&flow.target],
                            );
                        }
                    }
                }
            }
        }
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
