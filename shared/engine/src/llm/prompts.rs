//! Everything procmap says to a language model, in one place: what a process is written as, what
//! each option asks for, what a refinement may do, and the message that sends problems back.
//!
//! Prompts are short, since a small model on two CPU cores reads every token of them: the format
//! is shown by example, and the schema behind structured output keeps the answer to it.

use crate::bpmn::Problem;
use crate::options::OptionStyle;

/// The steps a process is written in, for both kinds of answer.
const STEPS: &str = r#"Each step is one of:
{"task":"Verb object","actor":"who does it","kind":"user|service|send|receive|manual"} (actor and kind are optional)
{"choice":"Question?","branches":[{"when":"answer","steps":[...]}]} (one branch runs; the last one runs when no other applies)
{"inclusive":"Question?","branches":[{"when":"case","steps":[...]}]} (every branch that applies runs)
{"parallel":[[steps],[steps]]} (blocks that run at the same time)
{"repeat":[steps],"until":"condition"}
{"optional":"Question?","steps":[...]}
{"subprocess":"Name","steps":[...]}
{"wait":"3 days","for":"timer"} or {"wait":"Payment received","for":"message"}
{"end":"Outcome"} (the process ends here on this path)
A task may have "deadline":{"after":"2 days","steps":[...]}: what happens when it takes longer."#;

/// A description and the process written for it, so that a small model sees a whole answer.
const EXAMPLE: &str = r#"Example. Description: "A customer orders online. The shop checks the payment; if it fails, the order is cancelled. The warehouse ships the goods."
Answer: {"process":"Online order","start":"Order placed","steps":[{"task":"Check payment","actor":"Shop"},{"choice":"Payment OK?","branches":[{"when":"No","steps":[{"end":"Order cancelled"}]},{"when":"Yes","steps":[]}]},{"task":"Ship goods","actor":"Warehouse"}],"end":"Goods shipped"}"#;

/// The system prompt of a new process.
pub fn generation_system() -> String {
    format!(
        "You are a business process analyst. You write a process as one compact JSON object, \
         with no indentation and no line breaks: \
         {{\"process\":\"name\",\"start\":\"what starts it\",\"steps\":[...],\"end\":\"the outcome\"}}\n\
         {STEPS}\n\
         Name tasks verb first in two to four words (\"Review claim\"). Put the steps in the order \
         they happen, each step once. Use what the description says; when it only names a \
         process, write that process's usual four to eight steps.\n\
         {EXAMPLE}"
    )
}

fn style_instruction(style: OptionStyle) -> &'static str {
    match style {
        OptionStyle::Concise => {
            "Model only the main path, in as few steps as the description allows. Leave out actors."
        }
        OptionStyle::WithExceptionHandling => {
            "Model the main path and every exception or alternative the description mentions, each \
             with its own choice and its own outcome. Leave out actors."
        }
        OptionStyle::LanePerActor => "Give every task the actor who performs it.",
    }
}

/// Asks for one option of an initial generation. The description comes first, so that the three
/// options' requests share their start and a server can reuse what it already read.
pub fn generation(prompt: &str, language: &str, style: OptionStyle) -> String {
    format!(
        "Process description:\n{prompt}\n\n{} Write the names in {language}.",
        style_instruction(style)
    )
}

/// The system prompt of a refinement. Every operation is shown as it would be written, with a
/// node named by its name: small models copy a shape they have seen far better than they
/// follow a description of one.
pub fn refinement_system() -> String {
    format!(
        "You change business process diagrams. You answer with one compact JSON object, with no \
         indentation: {{\"operations\":[...]}}, one operation per change and nothing else. Name \
         a node by its name.\n\
         Operations:\n\
         {{\"op\":\"insert_after\",\"node\":\"Check payment\",\"steps\":[...]}}\n\
         {{\"op\":\"insert_before\",\"node\":\"Ship goods\",\"steps\":[...]}}\n\
         {{\"op\":\"replace_with_steps\",\"node\":\"Ship goods\",\"steps\":[...]}}\n\
         {{\"op\":\"add_deadline\",\"task\":\"Ship goods\",\"after\":\"2 days\",\"steps\":[...]}} what happens when a task takes longer (\"cancel\":true stops the task)\n\
         {{\"op\":\"remove_node\",\"node\":\"Ship goods\"}}\n\
         {{\"op\":\"rename\",\"node\":\"Ship goods\",\"name\":\"Send parcel\"}}\n\
         {{\"op\":\"retype\",\"node\":\"Ship goods\",\"type\":\"user_task\"}}\n\
         {{\"op\":\"move_to_lane\",\"node\":\"Ship goods\",\"lane\":\"Warehouse\"}}\n\
         add_node, add_flow, remove_flow and reconnect change single nodes and flows; use them \
         only for what the operations above cannot say.\n\
         {STEPS}\n\
         Change only what is asked; everything else stays as it is.\n\
         Example. Change: \"Add an approval by a manager before shipping.\"\n\
         Answer: {{\"operations\":[{{\"op\":\"insert_before\",\"node\":\"Ship goods\",\"steps\":[{{\"task\":\"Approve order\",\"actor\":\"Manager\"}}]}}]}}"
    )
}

/// Asks for edit operations on `current`, the source's model in its wire form.
pub fn refinement(current: &str, prompt: &str) -> String {
    format!("The process now:\n{current}\n\nChange it as asked: {prompt}")
}

/// A user message preceded by the contexts of the diagram's folders, outermost first, when
/// there are any: what the organisation calls its roles and things, for the model to follow.
pub fn with_context(context: &[String], message: String) -> String {
    if context.is_empty() {
        return message;
    }
    let lines: Vec<String> = context.iter().map(|c| format!("- {}", c.trim())).collect();
    format!(
        "Organisation context, from the outermost folder to the innermost. Use its roles as the \
         actors and its terms in the names:\n{}\n\n{message}",
        lines.join("\n")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_contexts_come_first_outermost_first() {
        let message = with_context(
            &[
                "Roles: agent, manager.".into(),
                "Tickets arrive by email.".into(),
            ],
            "Process description:\nx".into(),
        );
        let outer = message.find("Roles: agent").expect("outer");
        let inner = message.find("Tickets arrive").expect("inner");
        let prompt = message.find("Process description").expect("prompt");
        assert!(outer < inner && inner < prompt, "{message}");
        assert_eq!(with_context(&[], "as is".into()), "as is");
    }
}
