//! How the builtin modeler reads a description: steps, actors, decisions and parallel branches.
//!
//! This is deliberately rule-based and deterministic: it recognises numbered lists, sentences,
//! sequence words ("then", "after that"), conditions ("if … otherwise …", "in case"), parallel
//! markers ("meanwhile", "in parallel", "at the same time") and the actor doing each step.

use super::model::TaskKind;
use super::wording::{
    base_verb, capitalise, clean_label, is_conditional_start, participle_base, strip_prefix_ci,
};

/// One thing the description says happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Task {
        actor: Option<String>,
        label: String,
        kind: TaskKind,
    },
    Decision {
        question: String,
        yes: Vec<Step>,
        no: Vec<Step>,
    },
    Parallel {
        branches: Vec<Vec<Step>>,
    },
    /// The body runs, then runs again until the question is answered yes ("… until …").
    Loop {
        body: Vec<Step>,
        question: String,
    },
    /// The description ends this branch of the process here ("… and the process ends").
    End {
        label: String,
    },
}

/// A description read into steps, plus what it says about where the process starts and ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    pub title: String,
    pub start_label: String,
    pub end_label: String,
    pub steps: Vec<Step>,
}

const OTHERWISE: &[&str] = &[
    "otherwise",
    "else",
    "if not",
    "if no",
    "in all other cases",
    "if this is not the case",
    "if that is not the case",
];
const PARALLEL_WITH_PREVIOUS: &[&str] = &[
    "meanwhile",
    "in the meantime",
    "at the same time",
    "simultaneously",
    "concurrently",
    "while this happens",
];
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

/// Reads a description. Never fails: text it cannot structure becomes plain tasks.
pub fn read(prompt: &str) -> Description {
    let mut reader = Reader::default();
    let units = split_units(prompt);
    let mut steps: Vec<Step> = Vec::new();
    for (i, unit) in units.iter().enumerate() {
        let unit = unit.trim().trim_end_matches(['.', '!', ';', ':']).trim();
        if unit.is_empty() {
            continue;
        }
        let lower = unit.to_lowercase();

        // "Otherwise …" completes the decision just before it.
        if let Some(rest) = OTHERWISE.iter().find_map(|p| strip_prefix_ci(unit, p)) {
            if let Some(Step::Decision { no, .. }) = steps.last_mut() {
                if no.is_empty() {
                    *no = reader.clauses(rest);
                    continue;
                }
            }
        }
        if is_conditional_start(&lower) {
            steps.push(reader.decision(unit));
            continue;
        }
        // "Repeat (this / these steps) until C" loops over the step before it.
        if lower.starts_with("repeat") {
            if let (Some(i), Some(previous)) = (lower.find(" until "), steps.pop()) {
                steps.push(Step::Loop {
                    body: vec![previous],
                    question: question(&unit[i + 7..]),
                });
                continue;
            }
        }
        if let Some(rest) = PARALLEL_WITH_PREVIOUS
            .iter()
            .find_map(|p| strip_prefix_ci(unit, p))
        {
            let branch = reader.clauses(rest);
            match steps.pop() {
                Some(Step::Parallel { mut branches }) => {
                    branches.push(branch);
                    steps.push(Step::Parallel { branches });
                }
                Some(previous) => steps.push(Step::Parallel {
                    branches: vec![vec![previous], branch],
                }),
                None => steps.extend(branch),
            }
            continue;
        }
        if lower.contains("in parallel") || lower.contains("at the same time") {
            let stripped = remove_phrases(
                unit,
                &[
                    "in parallel",
                    "at the same time",
                    "happen",
                    "are done",
                    "are performed",
                ],
            );
            let branches: Vec<Vec<Step>> = split_and_clauses(&stripped)
                .iter()
                .map(|c| reader.clauses(c))
                .collect();
            if branches.len() >= 2 {
                steps.push(Step::Parallel { branches });
                continue;
            }
            if let Some(previous) = steps.pop() {
                steps.push(Step::Parallel {
                    branches: vec![vec![previous], reader.clauses(&stripped)],
                });
                continue;
            }
        }
        // "When a ticket arrives, …" at the very start names the start event.
        let body = match reader.subordinate(unit) {
            Some((trigger, main)) => {
                if i == 0 && reader.start_label.is_none() {
                    reader.start_label = Some(capitalise(&clean_label(trigger)));
                }
                main
            }
            None => unit,
        };
        steps.extend(reader.clauses(body));
    }

    let (from, to) = from_to(prompt);
    Description {
        title: title(prompt),
        start_label: reader
            .start_label
            .or(from)
            .unwrap_or_else(|| "Process started".into()),
        end_label: to.unwrap_or_else(|| "Process completed".into()),
        steps,
    }
}

/// Counts the tasks anywhere in a list of steps.
pub fn task_count(steps: &[Step]) -> usize {
    steps
        .iter()
        .map(|s| match s {
            Step::Task { .. } => 1,
            Step::Decision { yes, no, .. } => task_count(yes) + task_count(no),
            Step::Parallel { branches } => branches.iter().map(|b| task_count(b)).sum(),
            Step::Loop { body, .. } => task_count(body),
            Step::End { .. } => 0,
        })
        .sum()
}

#[derive(Default)]
struct Reader {
    /// The actor of the latest step, so "he", "they" or an actorless sentence can refer back.
    last_actor: Option<String>,
    start_label: Option<String>,
}

impl Reader {
    /// "If COND, ACTION[, otherwise ELSE]".
    fn decision(&mut self, unit: &str) -> Step {
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
            None => (rest, ""),
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
    fn subordinate<'a>(&self, unit: &'a str) -> Option<(&'a str, &'a str)> {
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
    fn clauses(&mut self, text: &str) -> Vec<Step> {
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
            _ => self.last_actor.clone(),
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
fn question(condition: &str) -> String {
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
fn split_and_clauses(text: &str) -> Vec<String> {
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

fn split_ci(text: &str, sep: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut out = Vec::new();
    let mut start = 0;
    // Lowercasing can change byte lengths outside ASCII; only split where offsets still agree.
    if lower.len() != text.len() {
        return vec![text.to_owned()];
    }
    while let Some(i) = lower[start..].find(sep) {
        out.push(text[start..start + i].to_owned());
        start += i + sep.len();
    }
    out.push(text[start..].to_owned());
    out.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

fn remove_phrases(text: &str, phrases: &[&str]) -> String {
    let mut out = text.to_owned();
    for p in phrases {
        let parts = split_ci(&out, p);
        out = parts.join(" ");
    }
    out.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_matches([',', ' '])
        .to_owned()
}

/// Splits a description into units: list items when it is a list, sentences otherwise.
fn split_units(prompt: &str) -> Vec<String> {
    let lines: Vec<&str> = prompt
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let item = |l: &str| list_item(l).is_some();
    if lines.iter().filter(|l| item(l)).count() >= 2 {
        let mut units: Vec<String> = Vec::new();
        for line in lines {
            match list_item(line) {
                Some(text) => units.push(text.to_owned()),
                // A continuation line belongs to the item above; text before the list is a title.
                None => {
                    if let Some(last) = units.last_mut() {
                        last.push(' ');
                        last.push_str(line);
                    }
                }
            }
        }
        return units.iter().flat_map(|u| split_sentences(u)).collect();
    }
    split_sentences(&lines.join(" "))
}

/// The text of a list item ("1. ", "2) ", "- ", "* ", "Step 3: "), if the line is one.
fn list_item(line: &str) -> Option<&str> {
    for bullet in ["- ", "* ", "• ", "– "] {
        if let Some(rest) = line.strip_prefix(bullet) {
            return Some(rest.trim());
        }
    }
    let rest = strip_prefix_ci(line, "step").unwrap_or(line);
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && digits < 4 {
        let after = &rest[digits..];
        for mark in [". ", ") ", ": ", " - "] {
            if let Some(text) = after.strip_prefix(mark) {
                return Some(text.trim());
            }
        }
    }
    None
}

fn split_sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        current.push(c);
        let at_break = matches!(c, '.' | '!' | '?' | ';')
            && chars.get(i + 1).is_none_or(|n| n.is_whitespace());
        // "e.g." and "i.e." are not sentence ends.
        let abbreviation =
            current.to_lowercase().ends_with("e.g.") || current.to_lowercase().ends_with("i.e.");
        if at_break && !abbreviation {
            out.push(std::mem::take(&mut current));
        }
    }
    out.push(current);
    out.into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// "… from intake to resolution" → ("Intake", "Resolution").
fn from_to(prompt: &str) -> (Option<String>, Option<String>) {
    let lower = prompt.to_lowercase();
    let Some(from) = lower.find(" from ") else {
        return (None, None);
    };
    let Some(to_rel) = lower[from + 6..].find(" to ") else {
        return (None, None);
    };
    let to = from + 6 + to_rel;
    if lower.len() != prompt.len() {
        return (None, None);
    }
    let start = &prompt[from + 6..to];
    let end_text = &prompt[to + 4..];
    let end = end_text.split(['.', ',', ';', '\n']).next().unwrap_or("");
    let short = |s: &str| {
        (!s.trim().is_empty() && s.split_whitespace().count() <= 4)
            .then(|| capitalise(&clean_label(s)))
    };
    (short(start), short(end))
}

/// A short name for the process: "Map the customer support ticket triage process …" →
/// "Customer support ticket triage process".
fn title(prompt: &str) -> String {
    let first = split_sentences(prompt.lines().next().unwrap_or(""))
        .into_iter()
        .next()
        .unwrap_or_default();
    let lower = first.to_lowercase();
    let mut text = first.as_str();
    for verb in [
        "map ",
        "model ",
        "draw ",
        "diagram ",
        "describe ",
        "create ",
        "show ",
    ] {
        if lower.starts_with(verb) {
            text = &first[verb.len()..];
        }
    }
    if let Some(i) = text.to_lowercase().find(" from ") {
        text = &text[..i];
    }
    let cleaned = clean_label(text);
    let short: Vec<&str> = cleaned.split_whitespace().take(8).collect();
    let name = capitalise(&short.join(" "));
    if name.is_empty() {
        "Process".into()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| match s {
                Step::Task { label, .. } => label.clone(),
                Step::Decision { question, .. } => question.clone(),
                Step::Parallel { .. } => "<parallel>".into(),
                Step::Loop { question, .. } => format!("<loop until {question}>"),
                Step::End { .. } => "<end>".into(),
            })
            .collect()
    }

    #[test]
    fn numbered_lists_become_steps_in_order() {
        let d = read("Onboarding:\n1. HR prepares the contract.\n2. The new hire signs the contract.\n3. IT sets up the laptop.");
        assert_eq!(
            labels(&d.steps),
            ["Prepare contract", "Sign contract", "Set up laptop"]
        );
        let actors: Vec<_> = d
            .steps
            .iter()
            .map(|s| match s {
                Step::Task { actor, .. } => actor.clone(),
                _ => None,
            })
            .collect();
        assert_eq!(
            actors,
            [
                Some("HR".into()),
                Some("New hire".into()),
                Some("IT".into())
            ]
        );
    }

    #[test]
    fn sentences_and_then_split_into_tasks() {
        let d = read("The clerk receives the order, then checks the stock and reserves the items. Finally the clerk ships the order.");
        assert_eq!(
            labels(&d.steps),
            [
                "Receive order",
                "Check stock",
                "Reserve items",
                "Ship order"
            ]
        );
    }

    #[test]
    fn if_otherwise_becomes_a_decision_with_two_branches() {
        let d = read("The manager reviews the request. If the amount exceeds 1000 EUR, the director approves it; otherwise the manager approves it. Finance pays the claim.");
        assert_eq!(
            labels(&d.steps),
            ["Review request", "Amount exceeds 1000 EUR?", "Pay claim"]
        );
        let Step::Decision { yes, no, .. } = &d.steps[1] else {
            panic!("not a decision")
        };
        assert_eq!(labels(yes), ["Approve it"]);
        assert_eq!(labels(no), ["Approve it"]);
    }

    #[test]
    fn meanwhile_runs_in_parallel_with_the_previous_step() {
        let d = read("The warehouse packs the goods. Meanwhile, accounting prepares the invoice. The courier delivers the parcel.");
        assert_eq!(labels(&d.steps), ["<parallel>", "Deliver parcel"]);
        let Step::Parallel { branches } = &d.steps[0] else {
            panic!("not parallel")
        };
        assert_eq!(branches.len(), 2);
    }

    #[test]
    fn passive_voice_names_the_actor_after_by() {
        let d = read("The invoice is approved by the finance team.");
        assert_eq!(
            d.steps,
            vec![Step::Task {
                actor: Some("Finance team".into()),
                label: "Approve invoice".into(),
                kind: TaskKind::User
            }]
        );
    }

    #[test]
    fn a_noun_that_is_also_a_verb_does_not_end_the_subject() {
        let d = read("The process owner reviews the request. The sales team processes the order.");
        let tasks: Vec<(Option<String>, String)> = d
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Task { actor, label, .. } => Some((actor.clone(), label.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(
            tasks,
            [
                (Some("Process owner".into()), "Review request".into()),
                (Some("Sales team".into()), "Process order".into())
            ]
        );
    }

    #[test]
    fn until_makes_a_loop_and_may_also_an_optional_step() {
        let d = read("The agent asks the customer for details until the ticket is complete. The agent solves the issue. The customer may also rate the support.");
        assert_eq!(
            labels(&d.steps),
            [
                "<loop until Ticket is complete?>",
                "Solve issue",
                "Rate support?"
            ]
        );
        let Step::Loop { body, .. } = &d.steps[0] else {
            panic!("not a loop")
        };
        assert_eq!(labels(body), ["Ask customer for details"]);
        let Step::Decision { yes, no, .. } = &d.steps[2] else {
            panic!("not a decision")
        };
        assert_eq!(
            (labels(yes), no.len()),
            (vec!["Rate support".to_owned()], 0)
        );

        let d = read("The clerk checks the form. Repeat until the form is complete. The clerk files the form.");
        assert_eq!(
            labels(&d.steps),
            ["<loop until Form is complete?>", "File form"]
        );
    }

    #[test]
    fn from_and_to_name_the_start_and_end() {
        let d = read("Map the customer support ticket triage process from intake to resolution.");
        assert_eq!(d.start_label, "Intake");
        assert_eq!(d.end_label, "Resolution");
        assert_eq!(d.title, "Customer support ticket triage process");
    }
}
