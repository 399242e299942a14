//! The copilot's tool loop with a language model. Each step the model answers one JSON action,
//! asked for through structured output like every other answer: a tool to run, or the reply
//! that ends the turn. Tools that edit take the typed edit operations of a refinement
//! ([`super::operations`]), so an edit is valid by construction here too. Structured output
//! rather than the API's function calling, because every OpenAI-compatible server procmap
//! supports (vLLM, Ollama, llama.cpp) constrains JSON, and not all of them call functions.

use schemars::JsonSchema;
use serde::Deserialize;

use super::operations::Operation;
use super::{parse_answer, Dialogue, OpenAiModeler};
use crate::bpmn::Problem;
use crate::error::EngineError;
use crate::usage::Ledger;

/// The longest reply the model may write.
const REPLY: u32 = 2_000;

/// One step of the loop.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub action: Action,
}

/// What the model does next.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(tag = "tool", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Every element of the diagram as it is now, with its id, name, type and lane.
    ListDiagramElements {},
    /// One element: its type, lane, and what flows in and out.
    GetElementInfo {
        #[schemars(length(max = 200))]
        element: String,
    },
    /// The contexts of the diagram's folders: the organisation's roles and terms.
    GetFolderContext {},
    /// Edits the diagram with the operations of a refinement; all of them apply, or none.
    ModifyDiagram {
        #[schemars(length(max = 40))]
        operations: Vec<Operation>,
    },
    /// Checks the diagram as it is now.
    ValidateDiagram {},
    /// Ends the turn with what to tell the user.
    Reply {
        #[schemars(length(min = 1, max = REPLY))]
        content: String,
    },
}

impl Action {
    /// The tool's name, as the stream shows it.
    pub fn name(&self) -> &'static str {
        match self {
            Action::ListDiagramElements {} => "list_diagram_elements",
            Action::GetElementInfo { .. } => "get_element_info",
            Action::GetFolderContext {} => "get_folder_context",
            Action::ModifyDiagram { .. } => "modify_diagram",
            Action::ValidateDiagram {} => "validate_diagram",
            Action::Reply { .. } => "reply",
        }
    }
}

/// The schema of a step: the operations' schema inside, nested no deeper than a refinement's,
/// so edits are as constrained as there. Unbounded, a small model opened block after block
/// until serde_json's recursion limit and failed the turn.
pub fn schema() -> serde_json::Value {
    super::nesting::bounded(
        super::answer::compact(
            serde_json::to_value(schemars::schema_for!(Step)).unwrap_or_default(),
        ),
        super::operations::MAX_DEPTH,
    )
}

/// The system prompt of the copilot's loop.
pub fn system() -> String {
    format!(
        "You are the copilot of a business process diagram. You work in steps: each answer is \
         one compact JSON object {{\"action\":{{\"tool\":...}}}}, and you are told what the \
         tool answered. Tools:\n\
         {{\"tool\":\"list_diagram_elements\"}} every element with its id, name, type and lane\n\
         {{\"tool\":\"get_element_info\",\"element\":\"Ship goods\"}} one element and its flows\n\
         {{\"tool\":\"get_folder_context\"}} the organisation's roles and terms\n\
         {{\"tool\":\"modify_diagram\",\"operations\":[...]}} change the diagram; the operations \
         are those of this list, all applied or none:\n{}\n\
         {{\"tool\":\"validate_diagram\"}} check the diagram\n\
         {{\"tool\":\"reply\",\"content\":\"...\"}} end the turn, telling the user in one or two \
         sentences what you changed, or why you changed nothing.\n\
         Change only what the user asks. When the request is not about this diagram, reply \
         without changing it. Earlier messages of the conversation may say what \"it\" or \
         \"that\" means.",
        operations_help()
    )
}

/// The operations part of the refinement prompt, which shows each operation as written.
fn operations_help() -> String {
    let refinement = super::prompts::refinement_system();
    let start = refinement
        .find("Operations:")
        .map_or(0, |i| i + "Operations:".len());
    let end = refinement
        .find("Change only what is asked")
        .unwrap_or(refinement.len());
    refinement[start..end].trim().to_owned()
}

impl OpenAiModeler {
    /// The model's next step in the copilot's dialogue: the action, and its arguments as the
    /// model wrote them (for the stream's `tool_call`).
    pub async fn copilot_step(
        &self,
        dialogue: &mut Dialogue,
        ledger: &Ledger,
    ) -> Result<(Action, serde_json::Value), EngineError> {
        self.client
            .step(dialogue, "copilot_step", &schema(), ledger, |content| {
                let step: Step = parse_answer(content)?;
                if let Action::Reply { content } = &step.action {
                    if content.trim().is_empty() {
                        return Err(vec![Problem {
                            code: "schema_violation",
                            message: "the reply is empty".into(),
                            element: None,
                        }]);
                    }
                }
                let mut arguments: serde_json::Value =
                    serde_json::from_str(content).unwrap_or_default();
                let mut arguments = arguments["action"].take();
                if let Some(fields) = arguments.as_object_mut() {
                    fields.remove("tool");
                }
                Ok((step.action, arguments))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_reads_as_the_prompt_shows_it() {
        for (text, name) in [
            (
                r#"{"action":{"tool":"list_diagram_elements"}}"#,
                "list_diagram_elements",
            ),
            (
                r#"{"action":{"tool":"get_element_info","element":"Ship goods"}}"#,
                "get_element_info",
            ),
            (
                r#"{"action":{"tool":"get_folder_context"}}"#,
                "get_folder_context",
            ),
            (
                r#"{"action":{"tool":"modify_diagram","operations":[{"op":"remove_node","node":"Ship goods"}]}}"#,
                "modify_diagram",
            ),
            (
                r#"{"action":{"tool":"validate_diagram"}}"#,
                "validate_diagram",
            ),
            (r#"{"action":{"tool":"reply","content":"Done."}}"#, "reply"),
        ] {
            let step: Step = serde_json::from_str(text).expect(text);
            assert_eq!(step.action.name(), name);
        }
        assert!(serde_json::from_str::<Step>(r#"{"action":{"tool":"explode"}}"#).is_err());
        assert!(system().contains("\"op\":\"insert_after\""));
        assert!(schema().to_string().contains("modify_diagram"));
    }
}
