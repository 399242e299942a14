//! Everything procmap says to a language model, in one place: the system prompt, the request for
//! each option style, the request for a refinement, and the message that sends problems back.

use crate::bpmn::Problem;
use crate::options::OptionStyle;

pub const SYSTEM_PROMPT: &str = "You are a senior business process analyst. You model processes as BPMN 2.0 and answer \
only with compact JSON (no indentation, no line breaks) matching the given schema. Keep names short. Rules: exactly one start event and at least one end event; every node is \
reachable from the start and can reach an end; tasks are named verb-first (\"Review claim\"); a splitting exclusive \
or inclusive gateway is named as a question and each outgoing flow has a label and a condition, except one flow \
marked is_default; branches split by an exclusive gateway are joined by an exclusive gateway, branches split by a \
parallel gateway by a parallel gateway; ids start with a letter and use only letters, digits, _, - and .; when \
there are lanes, every node names its lane; a deadline or failure while a task runs is a boundary event (timer_boundary_event, error_boundary_event, ...) with attached_to naming the task, no incoming flow, and an outgoing flow to its own path; a group of steps that belongs together may be a sub_process whose steps name it as \
in_sub_process, with a start_event and an end_event of their own inside it, and no flow crossing its border.";

fn style_instruction(style: OptionStyle) -> &'static str {
    match style {
        OptionStyle::Concise => "Model the process as described, concisely, without lanes.",
        OptionStyle::WithExceptionHandling => {
            "Model the process without lanes and with exception handling: add checks where things can go wrong, \
             and give each failure its own path to an error end event (type error_end_event). Where a task can \
             overrun or fail while it runs, attach a timer or error boundary event to it."
        }
        OptionStyle::LanePerActor => {
            "Model the process with one lane per actor or role, every node in the lane of who performs it."
        }
    }
}

/// Asks for one option of an initial generation.
pub fn generation(prompt: &str, language: &str, style: OptionStyle) -> String {
    format!(
        "Describe this process as a process model. {}\nWrite names in {language}.\n\nProcess description:\n{prompt}",
        style_instruction(style)
    )
}

/// Asks for edit operations on `current`, the source's model in its wire form.
pub fn refinement(current: &str, prompt: &str) -> String {
    format!(
        "Here is a process model:\n{current}\n\nChange it as asked, answering only with edit operations. \
         Keep every element you do not need to change. New ids must not collide with existing ones.\n\nRequest: {prompt}"
    )
}

/// Sends an answer's problems back for repair.
pub fn repair(problems: &[Problem]) -> String {
    let list: Vec<String> = problems
        .iter()
        .map(|p| format!("- {}", p.message))
        .collect();
    format!(
        "That answer has these problems:\n{}\nAnswer again with the whole corrected JSON.",
        list.join("\n")
    )
}
