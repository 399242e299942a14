//! Builds process models from a read description, in the three styles of an initial generation
//! (see [`OptionStyle`]): the description's steps become a block tree, which
//! [`blocks::compile`] turns into a model, as it does a language model's answer.

use super::prose::{self, Description, Step};
use super::wording::capitalise;
use crate::blocks::{self, Lanes};
use crate::model::{EventTrigger, NodeKind, ProcessModel, TaskKind};
use crate::options::OptionStyle;

/// Descriptions used when a prompt only names a well-known process ("Map the ticket triage
/// process"), so that even a title yields a diagram worth refining. Each is ordinary prose read
/// by the same rules as a user's text.
const TEMPLATES: &[(&[&str], &str)] = &[
    (
        &["ticket", "support", "triage", "helpdesk", "help desk", "incident"],
        "When a customer submits a support ticket, the support agent logs the ticket. The support agent classifies the ticket by severity and product area. If the issue is known, the support agent sends the documented solution to the customer; otherwise the support engineer investigates the issue and develops a fix. The support agent resolves the ticket. The customer confirms the resolution. The support agent closes the ticket.",
    ),
    (
        &["order", "fulfil", "fulfill", "shipping", "e-commerce", "ecommerce"],
        "When a customer places an order, the sales clerk checks the order. If the items are in stock, the warehouse reserves the items; otherwise the purchasing team orders the items from the supplier. The warehouse packs the goods. Meanwhile, accounting prepares the invoice. The courier ships the order. The customer receives the goods.",
    ),
    (
        &["onboard", "hiring", "new hire", "new employee"],
        "When a candidate accepts the offer, HR prepares the contract. The new hire signs the contract. IT sets up the accounts and the laptop. Meanwhile, the manager prepares the training plan. The manager welcomes the new hire. HR completes the onboarding checklist.",
    ),
    (
        &["invoice", "expense", "reimburse", "accounts payable", "payment"],
        "When an employee submits an expense claim, the manager reviews the claim. If the claim is approved, finance validates the receipts and pays the claim; otherwise the manager returns the claim to the employee and the process ends. Finance records the payment.",
    ),
    (
        &["loan", "credit", "mortgage", "application"],
        "When an applicant submits an application, the loan officer checks the documents. The system calculates the credit score. If the score is sufficient, the underwriter approves the loan and the loan officer sends the contract; otherwise the loan officer rejects the application and the process ends. The applicant signs the contract. The bank pays out the loan.",
    ),
    (
        &["return", "refund", "complaint"],
        "When a customer requests a return, the service agent checks the return policy. If the return is eligible, the customer ships the item back and the warehouse inspects the item; otherwise the service agent declines the request and the process ends. Finance refunds the customer. The service agent closes the case.",
    ),
];

/// Reads a prompt, falling back to a known process or a generic request flow when the prompt
/// is only a title.
pub fn describe(prompt: &str) -> Description {
    describe_with(prompt, None)
}

/// [`describe`], with a task that names no actor given to the role `duties` names for it.
pub fn describe_with(prompt: &str, duties: Option<prose::Duties>) -> Description {
    let described = prose::parse_with(prompt, duties);
    if prose::task_count(&described.steps) >= 2 {
        return described;
    }
    let lower = prompt.to_lowercase();
    let template = TEMPLATES
        .iter()
        .find(|(keywords, _)| keywords.iter().any(|k| lower.contains(k)))
        .map(|(_, text)| (*text).to_owned())
        .unwrap_or_else(|| {
            "When a request is received, the process owner reviews the request. If the request is complete, the process owner processes the request; otherwise the process owner returns the request to the requester and the process ends. The process owner records the outcome. The process owner notifies the requester.".to_owned()
        });
    let mut templated = prose::parse(&template);
    templated.title = described.title;
    if described.end_label != "Process completed" {
        templated.end_label = described.end_label;
    }
    templated
}

/// Builds one option's model: the description's block tree, compiled with lanes for the
/// lane-per-actor option, with exception handling added for the exception-handling one.
pub fn build(description: &Description, style: OptionStyle) -> ProcessModel {
    let process = blocks::Process {
        name: description.title.clone(),
        start: blocks::Start {
            name: description.start_label.clone(),
            trigger: blocks::StartTrigger::None,
        },
        steps: block(&description.steps),
        end: description.end_label.clone(),
    };
    let lanes = match style {
        OptionStyle::LanePerActor => Lanes::PerActor,
        OptionStyle::Concise | OptionStyle::WithExceptionHandling => Lanes::None,
    };
    let mut model = blocks::compile(&process, lanes);
    if style == OptionStyle::WithExceptionHandling {
        add_input_check(&mut model);
    }
    model
}

/// The block tree of steps read from prose. A decision's yes-branch is conditioned on its
/// question and its no-branch is the default, as an analyst would draw it.
fn block(steps: &[Step]) -> Vec<blocks::Step> {
    steps
        .iter()
        .map(|step| match step {
            Step::Task { actor, label, kind } => blocks::Step::Task(blocks::Task {
                name: label.clone(),
                kind: *kind,
                actor: actor.clone(),
                deadline: None,
            }),
            Step::Decision { question, yes, no } => blocks::Step::Choice {
                question: question.clone(),
                branches: vec![
                    blocks::Branch {
                        when: "Yes".into(),
                        condition: Some(question.trim_end_matches('?').to_owned()),
                        steps: block(yes),
                    },
                    blocks::Branch {
                        when: "No".into(),
                        condition: None,
                        steps: block(no),
                    },
                ],
            },
            Step::Parallel { branches } => {
                blocks::Step::Parallel(branches.iter().map(|b| block(b)).collect())
            }
            Step::Loop { body, question } => blocks::Step::Repeat {
                steps: block(body),
                until: question.clone(),
            },
            Step::End { label } => blocks::Step::End {
                name: label.clone(),
            },
        })
        .collect()
}

/// Exception handling: after the first task, check that its result is complete and valid; a
/// failed check is handled and ends the process on its own path.
pub fn add_input_check(model: &mut ProcessModel) {
    let Some(first_task) = model
        .nodes
        .iter()
        .find(|n| matches!(n.kind, NodeKind::Task(_)))
        .cloned()
    else {
        return;
    };
    let subject = first_task
        .name
        .split_whitespace()
        .skip(1)
        .collect::<Vec<_>>()
        .join(" ");
    let subject = if subject.is_empty() {
        "Input".to_owned()
    } else {
        capitalise(&subject)
    };
    let question = format!("{subject} complete and valid?");
    let lane = first_task.lane.clone();
    let check = model.add_node(NodeKind::ExclusiveGateway, &question, lane.clone());
    model.move_outgoing(&first_task.id, &check);
    let moved: Vec<String> = model.outgoing(&check).map(|f| f.id.clone()).collect();
    for flow in model.flows.iter_mut().filter(|f| moved.contains(&f.id)) {
        flow.name = "Yes".into();
        flow.condition = Some(format!("{subject} complete and valid"));
    }
    model.connect(&first_task.id, &check, "");
    let handle = model.add_node(
        NodeKind::Task(TaskKind::User),
        "Handle exception",
        lane.clone(),
    );
    model.connect_default(&check, &handle, "No");
    let notify = model.add_node(
        NodeKind::Task(TaskKind::Send),
        "Notify requester of the problem",
        lane.clone(),
    );
    model.connect(&handle, &notify, "");
    let end = model.add_node(
        NodeKind::EndEvent(EventTrigger::Error),
        "Ended with exception",
        lane,
    );
    model.connect(&notify, &end, "");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(model: &ProcessModel, pred: fn(&NodeKind) -> bool) -> usize {
        model.nodes.iter().filter(|n| pred(&n.kind)).count()
    }

    #[test]
    fn a_title_only_prompt_uses_the_matching_known_process() {
        let d =
            describe("Map the customer support ticket triage process from intake to resolution.");
        assert!(prose::task_count(&d.steps) >= 5);
        assert_eq!(d.end_label, "Resolution");
    }

    #[test]
    fn the_three_styles_differ_in_structure() {
        let d = describe("The clerk receives the order. If the order is urgent, the manager approves it. The warehouse ships the order.");
        let concise = build(&d, OptionStyle::Concise);
        let checked = build(&d, OptionStyle::WithExceptionHandling);
        let lanes = build(&d, OptionStyle::LanePerActor);
        assert!(concise.lanes.is_empty());
        assert_eq!(
            kinds(&checked, NodeKind::is_gateway),
            kinds(&concise, NodeKind::is_gateway) + 1
        );
        assert_eq!(
            lanes
                .lanes
                .iter()
                .map(|l| l.name.as_str())
                .collect::<Vec<_>>(),
            ["Clerk", "Manager", "Warehouse"]
        );
        assert!(lanes.nodes.iter().all(|n| n.lane.is_some()));
    }

    #[test]
    fn a_branch_that_ends_the_process_gets_its_own_end_event() {
        let d = describe("The manager reviews the claim. If the claim is invalid, the manager rejects it and the process ends. Finance pays the claim.");
        let model = build(&d, OptionStyle::Concise);
        assert_eq!(kinds(&model, |k| matches!(k, NodeKind::EndEvent(_))), 2);
        // No join is needed when one branch ended.
        assert_eq!(kinds(&model, NodeKind::is_gateway), 1);
    }
}
