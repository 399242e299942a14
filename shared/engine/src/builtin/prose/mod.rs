//! How the builtin modeler reads a description: steps, actors, decisions and parallel branches.
//!
//! This is deliberately rule-based and deterministic: it recognises numbered lists, sentences,
//! sequence words ("then", "after that"), conditions ("if … otherwise …", "in case"), parallel
//! markers ("meanwhile", "in parallel", "at the same time") and the actor doing each step.

mod clauses;
mod steps;
mod text;

pub use steps::{task_count, Description, Duties, Step};

use clauses::{question, split_and_clauses, ClauseReader};
use text::{from_to, remove_phrases, split_units, title};

use super::wording::{capitalise, clean_label, is_conditional_start, strip_prefix_ci};

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
/// Reads a description. Never fails: text it cannot structure becomes plain tasks.
pub fn parse(prompt: &str) -> Description {
    parse_with(prompt, None)
}

/// Reads a description, giving a task that names no actor to the role `duties` names for it.
pub fn parse_with(prompt: &str, duties: Option<Duties>) -> Description {
    let mut reader = ClauseReader::default();
    reader.duties = duties;
    let mut steps: Vec<Step> = Vec::new();
    for (i, unit) in split_units(prompt).iter().enumerate() {
        let unit = unit.trim().trim_end_matches(['.', '!', ';', ':']).trim();
        if !unit.is_empty() {
            read_unit(&mut reader, &mut steps, unit, i == 0);
        }
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

/// Reads one sentence or list item into `steps`. It may instead complete the step before it
/// ("Otherwise …"), loop over it ("Repeat until …") or run beside it ("Meanwhile …").
fn read_unit(reader: &mut ClauseReader, steps: &mut Vec<Step>, unit: &str, first: bool) {
    let lower = unit.to_lowercase();
    // "Otherwise …" completes the decision just before it.
    if let Some(rest) = OTHERWISE.iter().find_map(|p| strip_prefix_ci(unit, p)) {
        if let Some(Step::Decision { no, .. }) = steps.last_mut() {
            if no.is_empty() {
                *no = reader.clauses(rest);
                return;
            }
        }
    }
    if is_conditional_start(&lower) {
        steps.push(reader.decision(unit));
        return;
    }
    // "Repeat (this / these steps) until C" loops over the step before it.
    if let Some(i) = lower
        .find(" until ")
        .filter(|_| lower.starts_with("repeat"))
    {
        if let Some(previous) = steps.pop() {
            steps.push(Step::Loop {
                body: vec![previous],
                question: question(&unit[i + 7..]),
            });
            return;
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
        return;
    }
    if (lower.contains("in parallel") || lower.contains("at the same time"))
        && read_in_parallel(reader, steps, unit)
    {
        return;
    }
    // "When a ticket arrives, …" at the very start names the start event.
    let body = match reader.subordinate(unit) {
        Some((trigger, main)) => {
            if first && reader.start_label.is_none() {
                reader.start_label = Some(capitalise(&clean_label(trigger)));
            }
            main
        }
        None => unit,
    };
    steps.extend(reader.clauses(body));
}

/// "A and B happen in parallel": two branches; "… at the same time" with one: a branch beside
/// the step before it. Answers false when there is nothing to run in parallel with.
fn read_in_parallel(reader: &mut ClauseReader, steps: &mut Vec<Step>, unit: &str) -> bool {
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
        return true;
    }
    if let Some(previous) = steps.pop() {
        steps.push(Step::Parallel {
            branches: vec![vec![previous], reader.clauses(&stripped)],
        });
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TaskKind;

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
        let d = parse("Onboarding:\n1. HR prepares the contract.\n2. The new hire signs the contract.\n3. IT sets up the laptop.");
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
        let d = parse("The clerk receives the order, then checks the stock and reserves the items. Finally the clerk ships the order.");
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
        let d = parse("The manager reviews the request. If the amount exceeds 1000 EUR, the director approves it; otherwise the manager approves it. Finance pays the claim.");
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
    fn a_condition_without_a_comma_still_has_its_action_on_the_yes_branch() {
        let d = parse("The clerk checks the receipt. If the amount is above 100 euros the manager approves it. Finance pays the refund.");
        assert_eq!(
            labels(&d.steps),
            ["Check receipt", "Amount is above 100 euros?", "Pay refund"]
        );
        let Step::Decision { yes, no, .. } = &d.steps[1] else {
            panic!("not a decision")
        };
        assert_eq!(labels(yes), ["Approve it"]);
        assert!(no.is_empty());
        // A condition with no action after it keeps its whole text as the question, and a
        // base form after an article ("the limit set") is not taken for the action.
        let d = parse("If the amount is above 100 euros. Finance pays the refund.");
        assert_eq!(labels(&d.steps)[0], "Amount is above 100 euros?");
        let d = parse("If the amount exceeds the limit set by finance. Finance pays the refund.");
        assert_eq!(labels(&d.steps)[0], "Amount exceeds limit set by finance?");
    }

    #[test]
    fn meanwhile_runs_in_parallel_with_the_previous_step() {
        let d = parse("The warehouse packs the goods. Meanwhile, accounting prepares the invoice. The courier delivers the parcel.");
        assert_eq!(labels(&d.steps), ["<parallel>", "Deliver parcel"]);
        let Step::Parallel { branches } = &d.steps[0] else {
            panic!("not parallel")
        };
        assert_eq!(branches.len(), 2);
    }

    #[test]
    fn passive_voice_names_the_actor_after_by() {
        let d = parse("The invoice is approved by the finance team.");
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
        let d = parse("The process owner reviews the request. The sales team processes the order.");
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
        let d = parse("The agent asks the customer for details until the ticket is complete. The agent solves the issue. The customer may also rate the support.");
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

        let d = parse("The clerk checks the form. Repeat until the form is complete. The clerk files the form.");
        assert_eq!(
            labels(&d.steps),
            ["<loop until Form is complete?>", "File form"]
        );
    }

    #[test]
    fn from_and_to_name_the_start_and_end() {
        let d = parse("Map the customer support ticket triage process from intake to resolution.");
        assert_eq!(d.start_label, "Intake");
        assert_eq!(d.end_label, "Resolution");
        assert_eq!(d.title, "Customer support ticket triage process");
    }

    #[test]
    fn repeat_without_until_keeps_the_step_before_it() {
        let d = parse("The clerk checks the form. Repeat the check. The clerk files the form.");
        assert_eq!(
            labels(&d.steps),
            ["Check form", "Repeat check", "File form"]
        );
    }
}
