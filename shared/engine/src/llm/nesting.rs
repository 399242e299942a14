//! A depth limit for the grammar a model writes under.
//!
//! A block holds steps that hold blocks, so the generated schema is recursive, and a grammar
//! made from it lets a small model open block after block until it runs out of tokens: one
//! refinement by Qwen2.5-Coder-1.5B nested until serde_json's recursion limit, three times,
//! 2,048 tokens each. Bounding every list does not stop that; bounding the depth does. The
//! schema is unrolled: each definition on the cycle through `Step` is copied once per level,
//! and at the last level a step may only be one that holds no steps. The Rust types stay
//! recursive, so an answer from a provider without constrained decoding still parses.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// The definition the recursion goes through.
const STEP: &str = "Step";

/// `schema` with steps nested at most `depth` deep: a step inside `depth` blocks can hold no
/// further steps.
pub fn bounded(mut schema: Value, depth: usize) -> Value {
    let Some(Value::Object(defs)) = schema.get("$defs").cloned() else {
        return schema;
    };
    if !defs.contains_key(STEP) {
        return schema;
    }
    let cycle = on_cycle_through_step(&defs);
    let mut unrolled: Map<String, Value> = defs
        .iter()
        .filter(|(name, _)| !cycle.contains(name.as_str()))
        .map(|(name, def)| (name.clone(), retarget(def.clone(), &cycle, 0, depth)))
        .collect();
    for level in 1..=depth {
        for name in &cycle {
            let def = retarget(defs[name.as_str()].clone(), &cycle, level, depth);
            unrolled.insert(at_level(name, level), def);
        }
    }
    unrolled.insert(leaf_name(), leaf_step(&defs[STEP], &cycle));
    if let Value::Object(root) = &mut schema {
        root.remove("$defs");
        let rest = retarget(Value::Object(std::mem::take(root)), &cycle, 0, depth);
        if let Value::Object(rest) = rest {
            *root = rest;
        }
        root.insert("$defs".into(), Value::Object(unrolled));
    }
    schema
}

fn at_level(name: &str, level: usize) -> String {
    format!("{name}{level}")
}

fn leaf_name() -> String {
    format!("{STEP}Leaf")
}

fn reference(name: &str) -> String {
    format!("#/$defs/{name}")
}

/// The definitions `$ref`ed anywhere inside `value`.
fn refs(value: &Value, into: &mut BTreeSet<String>) {
    match value {
        Value::Object(fields) => {
            if let Some(Value::String(r)) = fields.get("$ref") {
                if let Some(name) = r.strip_prefix("#/$defs/") {
                    into.insert(name.to_owned());
                }
            }
            fields.values().for_each(|v| refs(v, into));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, into)),
        _ => {}
    }
}

/// Every definition reachable from `from` through `$ref`s, `from` included.
fn reachable(defs: &Map<String, Value>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::from([from.to_owned()]);
    let mut queue = vec![from.to_owned()];
    while let Some(name) = queue.pop() {
        let mut next = BTreeSet::new();
        if let Some(def) = defs.get(&name) {
            refs(def, &mut next);
        }
        for n in next {
            if seen.insert(n.clone()) {
                queue.push(n);
            }
        }
    }
    seen
}

/// The definitions that `Step` reaches and that reach `Step` back.
fn on_cycle_through_step(defs: &Map<String, Value>) -> BTreeSet<String> {
    reachable(defs, STEP)
        .into_iter()
        .filter(|name| reachable(defs, name).contains(STEP))
        .collect()
}

/// Points the `$ref`s inside a definition of level `level` (0 for one outside the cycle) at the
/// copies of the right level: within a level, to the same level; a `Step` inside a block, to
/// the next level, or to the leaf step past the last.
fn retarget(value: Value, cycle: &BTreeSet<String>, level: usize, depth: usize) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(key, v)| match (key.as_str(), &v) {
                    ("$ref", Value::String(r)) => {
                        let name = r.strip_prefix("#/$defs/").unwrap_or_default();
                        let target = if !cycle.contains(name) {
                            name.to_owned()
                        } else if name == STEP && level + 1 > depth {
                            leaf_name()
                        } else if name == STEP || level == 0 {
                            at_level(name, level + 1)
                        } else {
                            at_level(name, level)
                        };
                        (key, Value::String(reference(&target)))
                    }
                    _ => (key, retarget(v, cycle, level, depth)),
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| retarget(v, cycle, level, depth))
                .collect(),
        ),
        other => other,
    }
}

/// `Step` with only the alternatives that hold no further steps.
fn leaf_step(step: &Value, cycle: &BTreeSet<String>) -> Value {
    let mut leaf = step.clone();
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(alternatives)) = leaf.get_mut(key) {
            alternatives.retain(|alternative| {
                let mut named = BTreeSet::new();
                refs(alternative, &mut named);
                named.is_disjoint(cycle)
            });
        }
    }
    leaf
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A step is a task or a choice whose branches hold steps.
    fn recursive() -> Value {
        json!({
            "type": "object",
            "properties": {"steps": {"type": "array", "items": {"$ref": "#/$defs/Step"}}},
            "$defs": {
                "Step": {"anyOf": [{"$ref": "#/$defs/Task"}, {"$ref": "#/$defs/Choice"}]},
                "Task": {"type": "object", "properties": {"task": {"type": "string"}}},
                "Choice": {"type": "object", "properties": {
                    "branches": {"type": "array", "items": {"$ref": "#/$defs/Branch"}}}},
                "Branch": {"type": "object", "properties": {
                    "steps": {"type": "array", "items": {"$ref": "#/$defs/Step"}}}}
            }
        })
    }

    /// How deep `$ref`s can go from the root; `None` when they loop.
    fn longest_chain(schema: &Value) -> Option<usize> {
        fn from(defs: &Map<String, Value>, name: &str, path: &mut Vec<String>) -> Option<usize> {
            if path.iter().any(|p| p == name) {
                return None;
            }
            path.push(name.to_owned());
            let mut next = BTreeSet::new();
            refs(&defs[name], &mut next);
            let mut longest = 0;
            for n in next {
                longest = longest.max(from(defs, &n, path)? + 1);
            }
            path.pop();
            Some(longest)
        }
        let defs = schema["$defs"].as_object()?;
        let mut roots = BTreeSet::new();
        refs(&schema["properties"], &mut roots);
        roots
            .iter()
            .map(|r| from(defs, r, &mut Vec::new()))
            .try_fold(0, |a, b| Some(a.max(b?)))
    }

    #[test]
    fn an_unrolled_schema_has_no_cycle_and_ends_in_steps_that_hold_none() {
        assert_eq!(longest_chain(&recursive()), None, "the input does loop");
        let bounded = bounded(recursive(), 2);
        let chain = longest_chain(&bounded).expect("no cycle left");
        // Step1 → Choice1 → Branch1 → Step2 → Choice2 → Branch2 → StepLeaf → Task
        assert_eq!(chain, 7);
        let defs = bounded["$defs"].as_object().expect("defs");
        assert_eq!(
            defs["StepLeaf"],
            json!({"anyOf": [{"$ref": "#/$defs/Task"}]})
        );
        assert_eq!(
            bounded["properties"]["steps"]["items"]["$ref"],
            "#/$defs/Step1"
        );
        assert!(!defs.contains_key("Step") && !defs.contains_key("Branch"));
    }

    /// Every schema a model writes under: a new process, a refinement's edits, and a copilot
    /// step (whose edits are a refinement's).
    #[test]
    fn every_schema_a_model_writes_under_is_bounded() {
        for (name, schema) in [
            ("process", crate::llm::answer::schema()),
            ("edit plan", crate::llm::operations::schema()),
            ("copilot step", crate::llm::copilot::schema()),
        ] {
            assert!(longest_chain(&schema).is_some(), "{name}: its $refs loop");
            assert!(
                schema["$defs"].get("StepLeaf").is_some(),
                "{name}: holds steps"
            );
        }
    }

    #[test]
    fn a_schema_without_steps_is_left_alone() {
        let plain = json!({"type": "object", "$defs": {"Other": {"type": "string"}}});
        assert_eq!(bounded(plain.clone(), 3), plain);
    }
}
