//! What a language model writes when it writes a whole process: the block tree in a compact
//! JSON form with a generated JSON Schema, used through structured output.
//!
//! There are no ids and no flows to keep consistent, so any answer that parses compiles to a
//! valid, sound process ([`crate::blocks`]). Each step is an object named by its first key
//! (`{"task": "Review claim"}`, `{"choice": "Approved?", …}`), which reads naturally and keeps
//! answers short. Every string and list is bounded, so a model under constrained decoding that
//! starts repeating itself is stopped by the grammar rather than by running out of tokens, and
//! the schema is made compact ([`schema`]) so that it and the system prompt stay near 1,000
//! tokens.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::blocks;
use crate::model::TaskKind;

/// Longest name, question or condition: a few words, never a sentence.
const MAX_TEXT: u32 = 60;
/// Most steps in the process's own sequence, and in a block nested inside it.
const MAX_STEPS: u32 = 12;
const MAX_NESTED_STEPS: u32 = 6;
/// Most branches of a choice, and blocks of a parallel split.
const MAX_BRANCHES: u32 = 4;

/// A whole process.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessAnswer {
    /// A short name for the process.
    #[schemars(length(max = MAX_TEXT))]
    pub process: String,
    /// What starts it ("Claim submitted").
    #[schemars(length(max = MAX_TEXT))]
    pub start: String,
    /// What the start waits for, when it is a message or a time.
    #[serde(default)]
    pub start_on: Option<Trigger>,
    #[schemars(length(max = MAX_STEPS))]
    pub steps: Vec<Step>,
    /// The outcome when the main path finishes ("Claim paid").
    #[schemars(length(max = MAX_TEXT))]
    pub end: String,
}

/// One step; the blocks it holds are steps too.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Step {
    Task(TaskStep),
    Choice(ChoiceStep),
    Inclusive(InclusiveStep),
    Parallel(ParallelStep),
    Repeat(RepeatStep),
    Optional(OptionalStep),
    Subprocess(SubprocessStep),
    Wait(WaitStep),
    End(EndStep),
}

/// `{"task": "Review claim", "actor": "Manager"}`
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskStep {
    /// Verb first: "Review claim".
    #[schemars(length(max = MAX_TEXT))]
    pub task: String,
    /// Who does it.
    #[serde(default)]
    #[schemars(length(max = MAX_TEXT))]
    pub actor: Option<String>,
    #[serde(default)]
    pub kind: Option<Kind>,
    /// What happens when the task takes too long.
    #[serde(default)]
    pub deadline: Option<DeadlineAnswer>,
}

/// `"deadline": {"after": "3 days", "steps": […]}`
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadlineAnswer {
    /// How long the task may take: "3 days".
    #[schemars(length(max = MAX_TEXT))]
    pub after: String,
    /// True when the time limit cancels the task; false (the default) when it goes on.
    #[serde(default)]
    pub cancel: bool,
    #[schemars(length(max = MAX_NESTED_STEPS))]
    pub steps: Vec<Step>,
}

/// `{"choice": "Approved?", "branches": [{"when": "Yes", "steps": […]}, …]}`: one branch runs.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChoiceStep {
    #[schemars(length(max = MAX_TEXT))]
    pub choice: String,
    #[schemars(length(max = MAX_BRANCHES))]
    pub branches: Vec<BranchAnswer>,
}

/// `{"inclusive": "Which checks?", "branches": […]}`: every branch whose case holds runs.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InclusiveStep {
    #[schemars(length(max = MAX_TEXT))]
    pub inclusive: String,
    #[schemars(length(max = MAX_BRANCHES))]
    pub branches: Vec<BranchAnswer>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BranchAnswer {
    /// The answer or case that leads here: "Yes", "Above 1000 EUR".
    #[schemars(length(max = MAX_TEXT))]
    pub when: String,
    #[schemars(length(max = MAX_NESTED_STEPS))]
    pub steps: Vec<Step>,
}

/// `{"parallel": [[…], […]]}`: blocks that run at the same time.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParallelStep {
    #[schemars(length(max = MAX_BRANCHES))]
    pub parallel: Vec<Block>,
}

/// A block: steps one after another.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Block(#[schemars(length(max = MAX_NESTED_STEPS))] pub Vec<Step>);

/// `{"repeat": […], "until": "Form complete"}`
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepeatStep {
    #[schemars(length(max = MAX_NESTED_STEPS))]
    pub repeat: Vec<Step>,
    #[schemars(length(max = MAX_TEXT))]
    pub until: String,
}

/// `{"optional": "Review wanted?", "steps": […]}`
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionalStep {
    #[schemars(length(max = MAX_TEXT))]
    pub optional: String,
    #[schemars(length(max = MAX_NESTED_STEPS))]
    pub steps: Vec<Step>,
}

/// `{"subprocess": "Pack order", "steps": […]}`
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubprocessStep {
    #[schemars(length(max = MAX_TEXT))]
    pub subprocess: String,
    #[serde(default)]
    #[schemars(length(max = MAX_TEXT))]
    pub actor: Option<String>,
    #[schemars(length(max = MAX_NESTED_STEPS))]
    pub steps: Vec<Step>,
}

/// `{"wait": "Payment received", "for": "message"}`
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitStep {
    #[schemars(length(max = MAX_TEXT))]
    pub wait: String,
    #[serde(rename = "for")]
    pub trigger: Trigger,
}

/// `{"end": "Claim rejected"}`: the process ends here on this path.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndStep {
    #[schemars(length(max = MAX_TEXT))]
    pub end: String,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Message,
    Timer,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    User,
    Service,
    Manual,
    Send,
    Receive,
    Script,
    Rule,
}

/// How deep a whole process's blocks may nest under constrained decoding: a choice in a loop
/// in a parallel split, and the steps inside that.
const MAX_DEPTH: usize = 3;

/// The JSON Schema of [`ProcessAnswer`], for structured output, made compact and with its
/// nesting bounded ([`super::nesting`]).
pub fn schema() -> serde_json::Value {
    super::nesting::bounded(
        compact(serde_json::to_value(schemars::schema_for!(ProcessAnswer)).unwrap_or_default()),
        MAX_DEPTH,
    )
}

/// A schema with what a grammar does not need left out: descriptions (the system prompt says
/// what each step means), defaults, and the `null` that an optional field may also be, since
/// leaving the field out says the same in fewer tokens.
pub fn compact(schema: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match schema {
        Value::Object(fields) => {
            let mut fields: serde_json::Map<String, Value> = fields
                .into_iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "description" | "$schema" | "title" | "default")
                })
                .map(|(k, v)| (k, compact(v)))
                .collect();
            if let Some(Value::Array(types)) = fields.get("type") {
                let types: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
                if let [only] = types.as_slice() {
                    fields.insert("type".into(), only.clone());
                }
            }
            if let Some(Value::Array(alternatives)) = fields.remove("anyOf") {
                let null = serde_json::json!({"type": "null"});
                let mut alternatives: Vec<Value> =
                    alternatives.into_iter().filter(|a| *a != null).collect();
                if alternatives.len() == 1 && fields.is_empty() {
                    return alternatives.remove(0);
                }
                fields.insert("anyOf".into(), Value::Array(alternatives));
            }
            Value::Object(fields)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(compact).collect()),
        other => other,
    }
}

impl ProcessAnswer {
    /// The block tree the answer describes.
    pub fn into_process(self) -> blocks::Process {
        blocks::Process {
            name: text(self.process, "Process"),
            start: blocks::Start {
                name: text(self.start, "Process started"),
                trigger: match self.start_on {
                    None => blocks::StartTrigger::None,
                    Some(Trigger::Message) => blocks::StartTrigger::Message,
                    Some(Trigger::Timer) => blocks::StartTrigger::Timer,
                },
            },
            steps: block(self.steps),
            end: text(self.end, "Process completed"),
        }
    }
}

/// A step of any level, as a step of the block tree.
pub trait IntoStep {
    fn into_step(self) -> blocks::Step;
}

/// The steps of a block, each once: a step that repeats an earlier one of the same block word
/// for word is left out. Small models decoding near-greedily fall into loops ("Send offer
/// letter" ten times over) that the schema's bounds stop but do not prevent, and a process
/// that does exactly the same thing twice in one sequence reads as that loop anyway.
pub fn block<S: IntoStep>(steps: Vec<S>) -> Vec<blocks::Step> {
    let mut kept: Vec<blocks::Step> = Vec::new();
    for step in steps.into_iter().map(IntoStep::into_step) {
        if !kept.contains(&step) {
            kept.push(step);
        }
    }
    kept
}

impl IntoStep for Step {
    fn into_step(self) -> blocks::Step {
        match self {
            Step::Task(t) => blocks::Step::Task(blocks::Task {
                name: text(t.task, "Task"),
                kind: kind(t.kind),
                actor: actor(t.actor),
                deadline: t.deadline.map(|d| blocks::Deadline {
                    after: text(d.after, "Deadline"),
                    interrupting: d.cancel,
                    steps: block(d.steps),
                }),
            }),
            Step::Choice(c) => blocks::Step::Choice {
                question: text(c.choice, "Which way?"),
                branches: branches(c.branches),
            },
            Step::Inclusive(c) => blocks::Step::Inclusive {
                question: text(c.inclusive, "Which apply?"),
                branches: branches(c.branches),
            },
            Step::Parallel(p) => {
                blocks::Step::Parallel(p.parallel.into_iter().map(|b| block(b.0)).collect())
            }
            Step::Repeat(r) => blocks::Step::Repeat {
                steps: block(r.repeat),
                until: text(r.until, "Done"),
            },
            Step::Optional(o) => blocks::Step::Optional {
                question: text(o.optional, "Needed?"),
                steps: block(o.steps),
            },
            Step::Subprocess(s) => blocks::Step::SubProcess {
                name: text(s.subprocess, "Sub-process"),
                actor: actor(s.actor),
                steps: block(s.steps),
            },
            Step::Wait(w) => w.into_step(),
            Step::End(e) => e.into_step(),
        }
    }
}

impl IntoStep for WaitStep {
    fn into_step(self) -> blocks::Step {
        blocks::Step::Wait {
            name: text(self.wait, "Wait"),
            trigger: match self.trigger {
                Trigger::Message => blocks::WaitFor::Message,
                Trigger::Timer => blocks::WaitFor::Timer,
            },
        }
    }
}

impl IntoStep for EndStep {
    fn into_step(self) -> blocks::Step {
        blocks::Step::End {
            name: text(self.end, "Process ended"),
        }
    }
}

fn branches(branches: Vec<BranchAnswer>) -> Vec<blocks::Branch> {
    branches
        .into_iter()
        .map(|b| blocks::Branch {
            when: text(b.when, "Otherwise"),
            condition: None,
            steps: block(b.steps),
        })
        .collect()
}

/// A name as written, trimmed; `default` when there is nothing left.
fn text(written: String, default: &str) -> String {
    let trimmed = written.trim();
    if trimmed.is_empty() {
        default.to_owned()
    } else {
        trimmed.to_owned()
    }
}

fn actor(written: Option<String>) -> Option<String> {
    written
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
}

fn kind(kind: Option<Kind>) -> TaskKind {
    match kind {
        None => TaskKind::Plain,
        Some(Kind::User) => TaskKind::User,
        Some(Kind::Service) => TaskKind::Service,
        Some(Kind::Manual) => TaskKind::Manual,
        Some(Kind::Send) => TaskKind::Send,
        Some(Kind::Receive) => TaskKind::Receive,
        Some(Kind::Script) => TaskKind::Script,
        Some(Kind::Rule) => TaskKind::BusinessRule,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(answer: serde_json::Value) -> blocks::Process {
        serde_json::from_value::<ProcessAnswer>(answer)
            .expect("in the schema")
            .into_process()
    }

    fn names(steps: &[blocks::Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| match s {
                blocks::Step::Task(t) => t.name.clone(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_step_repeated_word_for_word_in_its_block_is_kept_once() {
        let looped = process(
            serde_json::json!({"process": "Onboarding", "start": "Hired",
            "steps": [{"task": "Review application"}, {"task": "Send offer letter"},
                {"task": "Send offer letter"}, {"task": "Sign contract"}, {"task": "Send offer letter"},
                {"choice": "Accepted?", "branches": [{"when": "No", "steps": [
                    {"task": "Call candidate"}, {"task": "Call candidate"}]}]}],
            "end": "Started"}),
        );
        assert_eq!(
            names(&looped.steps[..3]),
            ["Review application", "Send offer letter", "Sign contract"]
        );
        let blocks::Step::Choice { branches, .. } = &looped.steps[3] else {
            panic!("the choice follows: {:?}", looped.steps);
        };
        assert_eq!(names(&branches[0].steps), ["Call candidate"]);
        // The same task by another actor is another step.
        let two_actors = process(serde_json::json!({"process": "Claim", "start": "Filed",
            "steps": [{"task": "Approve claim", "actor": "Manager"}, {"task": "Approve claim", "actor": "Director"}],
            "end": "Approved"}));
        assert_eq!(two_actors.steps.len(), 2);
    }
}
