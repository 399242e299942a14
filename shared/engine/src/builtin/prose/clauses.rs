//! Reading clauses: a stretch of text split on sequence words into steps, each with its actor,
//! its label in an analyst's words and its kind of task.

use super::steps::{Duties, Step};
use super::text::split_ci;
use crate::builtin::wording::{
    base_verb, capitalise, clean_label, is_conditional_start, participle_base, strip_prefix_ci,
};
use crate::model::TaskKind;

const SEQUENCE_SPLITS: &[&str] = &[
    ", and then ",
    " and then ",
    ", then ",
    "; then ",
    " then ",
    ", after that ",
    ", after which ",
    ", afterwards ",
    ", and finally ",
    ", finally ",
    ", before finally ",
];
const LEADING_FILLER: &[&str] = &[
    "first of all",
    "firstly",
    "first",
    "secondly",
    "thirdly",
    "next",
    "then",
    "finally",
    "lastly",
    "after that",
    "afterwards",
    "subsequently",
    "and",
    "also",
    "step",
];
const PRONOUNS: &[&str] = &[
    "he",
    "she",
    "they",
    "it",
    "who",
    "this person",
    "someone",
    "we",
    "i",
    "you",
];

#[derive(Default)]
pub(super) struct ClauseReader {
    /// The actor of the latest step, so "he", "they" or an actorless sentence can refer back.
    last_actor: Option<String>,
    pub(super) start_label: Option<String>,
    /// Who does a task that names no actor, before the actor of the latest step is assumed.
    pub(super) duties: Option<Duties>,
}

impl ClauseReader {
    /// "If COND, ACTION[, otherwise ELSE]".
    pub(super) fn decision(&mut self, unit: &str) -> Step {
        let lower = unit.to_lowercase();
        let prefix_len = [
            "in the event that ",
            "in case of ",
            "in case ",
            "if ",
            "should ",
            "whether ",
        ]
        .iter()
        .find(|p| lower.starts_with(*p))
        .map_or(0, |p| p.len());
        let rest = &unit[prefix_len..];
        let rest_lower = rest.to_lowercase();
        let (condition, action) = match [", then ", " then ", ","]
            .iter()
            .find_map(|sep| rest_lower.find(sep).map(|i| (i, sep.len())))
        {
            Some((i, len)) => (&rest[..i], &rest[i + len..]),
            None => match unmarked_action(rest) {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, ""),
            },
        };
        let action_lower = action.to_lowercase();
        let (yes_text, no_text) = match [
            ", otherwise",
            "; otherwise",
            " otherwise",
            ", else ",
            ", if not,",
            ", or else ",
        ]
        .iter()
        .find_map(|sep| action_lower.find(sep).map(|i| (i, sep.len())))
        {
            Some((i, len)) => (
                &action[..i],
                action[i + len..].trim_start_matches([',', ' ']),
            ),
            None => (action, ""),
        };
        let question = format!("{}?", capitalise(&clean_label(condition)));
        Step::Decision {
            question,
            yes: self.clauses(yes_text),
            no: self.clauses(no_text),
        }
    }

    /// "When/Once/After X, Y" → (X, Y).
    pub(super) fn subordinate<'a>(&self, unit: &'a str) -> Option<(&'a str, &'a str)> {
        let lower = unit.to_lowercase();
        let conj = [
            "as soon as ",
            "when ",
            "once ",
            "after ",
            "upon ",
            "whenever ",
        ]
        .into_iter()
        .find(|c| lower.starts_with(c))?;
        let comma = unit.find(',')?;
        Some((unit[conj.len()..comma].trim(), unit[comma + 1..].trim()))
    }

    /// Splits a stretch of text on sequence words and verb-led "and"s into steps.
    pub(super) fn clauses(&mut self, text: &str) -> Vec<Step> {
        let mut pieces = vec![text.to_owned()];
        for sep in SEQUENCE_SPLITS {
            pieces = pieces.iter().flat_map(|p| split_ci(p, sep)).collect();
        }
        let mut steps = Vec::new();
        for piece in pieces.iter().flat_map(|p| split_and_clauses(p)) {
            let lower = piece.to_lowercase();
            if is_conditional_start(lower.trim()) {
                steps.push(self.decision(piece.trim()));
            } else if let Some(i) = lower.find(" until ") {
                // "The agent asks for details until the ticket is complete."
                let body: Vec<Step> = self.task(&piece[..i]).into_iter().collect();
                if body.is_empty() {
                    continue;
                }
                steps.push(Step::Loop {
                    body,
                    question: question(&piece[i + 7..]),
                });
            } else if let Some(rest) = optional_step(&piece) {
                // "The shopper may also leave a review": a step taken only sometimes.
                if let Some(task) = self.task(&rest) {
                    let Step::Task { label, .. } = &task else {
                        continue;
                    };
                    steps.push(Step::Decision {
                        question: format!("{label}?"),
                        yes: vec![task],
                        no: Vec::new(),
                    });
                }
            } else if let Some(end) = end_phrase(&lower) {
                steps.push(Step::End { label: end });
            } else if let Some(task) = self.task(&piece) {
                steps.push(task);
            }
        }
        steps
    }

    /// One clause → one task with its actor.
    fn task(&mut self, clause: &str) -> Option<Step> {
        let mut text = clause
            .trim()
            .trim_matches(|c: char| c == ',' || c == '.' || c == ';' || c == ':')
            .trim();
        loop {
            let before = text;
            for filler in LEADING_FILLER {
                if let Some(rest) = strip_prefix_ci(text, filler) {
                    text = rest;
                }
            }
            text = text.trim_start_matches([',', ' ', ':', '-']);
            if text == before {
                break;
            }
        }
        if text.is_empty() {
            return None;
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        let lower: Vec<String> = words
            .iter()
            .map(|w| {
                w.to_lowercase()
                    .trim_matches(|c: char| !c.is_alphanumeric() && c != '-')
                    .to_owned()
            })
            .collect();

        let (actor, label) = self
            .actor_and_label(&words, &lower)
            .unwrap_or_else(|| (None, clean_label(text)));
        if label.is_empty() {
            return None;
        }
        let actor = match actor {
            // "IT" is a department, "it" a pronoun.
            Some(a) if PRONOUNS.contains(&a.to_lowercase().as_str()) && a != a.to_uppercase() => {
                self.last_actor.clone()
            }
            Some(a) if !a.is_empty() => Some(a),
            _ => self
                .duties
                .as_ref()
                .and_then(|duty_of| duty_of(&label))
                .or_else(|| self.last_actor.clone()),
        };
        if actor.is_some() {
            self.last_actor.clone_from(&actor);
        }
        let kind = task_kind(&label, actor.as_deref());
        Some(Step::Task {
            actor,
            label: capitalise(&label),
            kind,
        })
    }

    fn actor_and_label(
        &self,
        words: &[&str],
        lower: &[String],
    ) -> Option<(Option<String>, String)> {
        // Imperative ("Review the ticket"), or a verb whose subject came earlier ("… then checks the stock").
        if let Some(base) = base_verb(&lower[0]) {
            return Some((
                None,
                clean_label(&format!("{base} {}", words[1..].join(" "))),
            ));
        }
        for i in 1..lower.len().min(7) {
            let w = lower[i].as_str();
            // Active voice: "The support agent classifies the ticket".
            if let Some(base) = base_verb(w).filter(|base| w.ends_with('s') && *base != w) {
                let object = words[i + 1..].join(" ");
                return Some((
                    Some(actor_name(&words[..i])),
                    clean_label(&format!("{base} {object}")),
                ));
            }
            // Modal: "The manager must approve the request".
            if ["must", "will", "can", "should", "may", "needs", "has"].contains(&w) {
                let next = lower.get(i + 1).map(String::as_str).map(|n| {
                    if n == "to" {
                        lower.get(i + 2).map_or("", String::as_str)
                    } else {
                        n
                    }
                });
                let skip = if lower.get(i + 1).map(String::as_str) == Some("to") {
                    2
                } else {
                    1
                };
                if let Some(base) = next.and_then(base_verb) {
                    let object = words
                        .get(i + skip + 1..)
                        .map(|w| w.join(" "))
                        .unwrap_or_default();
                    return Some((
                        Some(actor_name(&words[..i])),
                        clean_label(&format!("{base} {object}")),
                    ));
                }
            }
            // Passive: "The invoice is approved by the finance team".
            if ["is", "are", "gets", "get", "was", "were", "be"].contains(&w) {
                if let Some(base) = lower.get(i + 1).and_then(|p| participle_base(p)) {
                    let rest = &words[i + 2..];
                    let by = rest.iter().position(|w| w.eq_ignore_ascii_case("by"));
                    let (tail, actor) = match by {
                        Some(b) => (&rest[..b], Some(actor_name(&rest[b + 1..]))),
                        None => (rest, None),
                    };
                    let object = words[..i].join(" ");
                    let label = clean_label(&format!("{base} {object} {}", tail.join(" ")));
                    return Some((actor.filter(|a| !a.is_empty()), label));
                }
            }
        }
        None
    }
}

/// A condition as a gateway's question: "the ticket is complete" → "Ticket is complete?".
pub(super) fn question(condition: &str) -> String {
    format!("{}?", capitalise(&clean_label(condition)))
}

/// The clause without its "may also" / "optionally" / "can also", if it is an optional step.
fn optional_step(clause: &str) -> Option<String> {
    let lower = clause.to_lowercase();
    // Keep the modal: "may rate" reads like "must approve", which the task rules know.
    let markers = [
        (" may also ", " may "),
        (" may optionally ", " may "),
        (" can optionally ", " can "),
        (" can also ", " can "),
        (" optionally ", " "),
    ];
    for (marker, keep) in markers {
        if let Some(i) = lower.find(marker) {
            return Some(format!(
                "{}{keep}{}",
                &clause[..i],
                &clause[i + marker.len()..]
            ));
        }
    }
    strip_prefix_ci(clause.trim(), "optionally").map(str::to_owned)
}

/// Names an actor from the words before its verb: "The support agent" → "Support agent".
fn actor_name(words: &[&str]) -> String {
    capitalise(&clean_label(&words.join(" ")))
}

fn task_kind(label: &str, actor: Option<&str>) -> TaskKind {
    let lower = label.to_lowercase();
    let verb = lower.split_whitespace().next().unwrap_or("");
    let automated = actor.is_some_and(|a| {
        let a = a.to_lowercase();
        a.contains("system")
            || a.contains("software")
            || a.contains("platform")
            || a.contains("application")
            || a.contains("erp")
            || a.contains("crm")
    });
    match verb {
        "send" | "notify" | "email" | "inform" | "publish" | "forward" => TaskKind::Send,
        "receive" | "await" => TaskKind::Receive,
        _ if automated => TaskKind::Service,
        "approve" | "review" | "check" | "decide" | "assess" | "evaluate" | "verify"
        | "confirm" | "sign" | "inspect" => TaskKind::User,
        _ => TaskKind::Plain,
    }
}

fn end_phrase(lower: &str) -> Option<String> {
    let lower = lower.trim();
    let ends = [
        "the process ends",
        "process ends",
        "the process stops",
        "end the process",
        "the process is complete",
        "the process terminates",
        "the case is closed",
        "stop the process",
    ];
    ends.iter()
        .find(|e| lower.ends_with(*e) || lower == **e)
        .map(|_| "Process ended".to_owned())
}

/// Splits on " and " where the next word is a verb: "reviews the ticket and assigns a priority".
pub(super) fn split_and_clauses(text: &str) -> Vec<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut clauses = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let is_and = w.eq_ignore_ascii_case("and") || w.eq_ignore_ascii_case("and,");
        let next_is_verb = words.get(i + 1).is_some_and(|n| {
            let n = n.to_lowercase();
            let n = n.trim_matches(|c: char| !c.is_alphanumeric());
            base_verb(n).is_some()
                || (words.get(i + 2).is_some_and(|m| {
                    base_verb(&m.to_lowercase()).is_some_and(|_| m.ends_with('s'))
                }) && (n == "the" || n == "a"))
        });
        if is_and && next_is_verb && !current.is_empty() {
            clauses.push(current.join(" "));
            current.clear();
        } else {
            current.push(w);
        }
    }
    if !current.is_empty() {
        clauses.push(current.join(" "));
    }
    clauses
}

/// Where the action of a condition written without a comma or "then" starts, as in "if the
/// amount is above 100 euros the manager approves it": at a later "the|a|an <word> <verb>"
/// whose verb is one the modeler knows as an action, in the third person ("approves"), since a
/// base form is as often a participle or a noun ("the limit set by finance"). Without this, the
/// action was read as part of the question, and the decision had no task on either branch.
fn unmarked_action(rest: &str) -> Option<usize> {
    let words: Vec<(usize, &str)> = rest
        .split(' ')
        .scan(0, |at, word| {
            let start = *at;
            *at += word.len() + 1;
            Some((start, word))
        })
        .filter(|(_, word)| !word.is_empty())
        .collect();
    words.windows(3).skip(1).find_map(|window| {
        let [(at, article), _, (_, verb)] = window else {
            return None;
        };
        let (article, verb) = (article.to_lowercase(), verb.to_lowercase());
        let is_article = matches!(article.as_str(), "the" | "a" | "an");
        let acts = verb.ends_with('s') && base_verb(&verb).is_some();
        (is_article && acts).then_some(*at)
    })
}
