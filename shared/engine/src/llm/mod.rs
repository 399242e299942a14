//! Language models as modelers, through any OpenAI-compatible endpoint.
//!
//! The model never writes XML, ids or flows. For a new diagram it writes a block tree
//! ([`answer`]), which compiles to a valid, sound process whatever it holds; for a refinement
//! it writes typed edit operations on the source's model ([`operations`]), which may restate a
//! part of the process as a block. The source is shown to it in the wire form ([`wire`]). Both
//! answers are asked for through JSON-schema structured output, parsed, compiled and validated,
//! and what is wrong goes back to the model for repair ([`provider`]). What is said to the
//! model is in [`prompts`].

pub mod answer;
pub mod copilot;
mod nesting;
pub mod operations;
pub mod prompts;
mod provider;
pub mod wire;

use futures_util::future::try_join_all;

pub use provider::{ChatClient, Dialogue, OpenAiConfig};

use crate::blocks::{self, Lanes};
use crate::bpmn::{self, source::SourceDiagram, Problem};
use crate::builtin::builder::add_input_check;
use crate::error::EngineError;
use crate::model::ProcessModel;
use crate::options::OptionStyle;
use crate::usage::Ledger;
use answer::ProcessAnswer;
use wire::ProcessSpec;

/// The OpenAI-compatible modeler.
pub struct OpenAiModeler {
    client: ChatClient,
}

impl OpenAiModeler {
    pub fn new(config: OpenAiConfig) -> Result<Self, EngineError> {
        Ok(OpenAiModeler {
            client: ChatClient::new(config)?,
        })
    }

    /// The three options of an initial generation as validated BPMN, different from each other.
    pub async fn diagrams(
        &self,
        prompt: &str,
        language: &str,
        context: &[String],
        ledger: &Ledger,
    ) -> Result<Vec<String>, EngineError> {
        let mut models = self.generate(prompt, language, context, ledger).await?;
        ensure_distinct(&mut models);
        models
            .iter()
            .map(|model| bpmn::compile_checked(model).map_err(EngineError::InvalidOutput))
            .collect()
    }

    /// Three options, one per modeling style, asked for concurrently. The first option that
    /// cannot be had ends the generation; the others stop where they are.
    pub async fn generate(
        &self,
        prompt: &str,
        language: &str,
        context: &[String],
        ledger: &Ledger,
    ) -> Result<Vec<ProcessModel>, EngineError> {
        try_join_all(
            OptionStyle::ALL
                .iter()
                .map(|style| self.option(prompt, language, context, *style, ledger)),
        )
        .await
    }

    async fn option(
        &self,
        prompt: &str,
        language: &str,
        context: &[String],
        style: OptionStyle,
        ledger: &Ledger,
    ) -> Result<ProcessModel, EngineError> {
        let user = prompts::with_context(context, prompts::generation(prompt, language, style));
        let lanes = match style {
            OptionStyle::LanePerActor => Lanes::PerActor,
            OptionStyle::Concise | OptionStyle::WithExceptionHandling => Lanes::None,
        };
        self.client
            .converse(
                prompts::generation_system(),
                user,
                "process",
                answer::schema(),
                ledger,
                |content| {
                    let answer: ProcessAnswer = parse_answer(content)?;
                    let model = blocks::compile(&answer.into_process(), lanes);
                    // Sound by construction; were it not, the model would be told what is wrong.
                    bpmn::compile_checked(&model)?;
                    Ok(model)
                },
            )
            .await
    }

    /// Applies a follow-up to a source diagram: the model answers with edit operations on the
    /// source's model, so untouched elements keep their ids and places. Answers the refined
    /// document and the refinement's warnings.
    pub(crate) async fn refine(
        &self,
        source: &SourceDiagram,
        prompt: &str,
        context: &[String],
        ledger: &Ledger,
    ) -> Result<(String, Vec<String>), EngineError> {
        let current =
            serde_json::to_string(&ProcessSpec::from_model(&source.model)).unwrap_or_default();
        let user = prompts::with_context(context, prompts::refinement(&current, prompt));
        self.client
            .converse(
                prompts::refinement_system(),
                user,
                "edit_plan",
                operations::schema(),
                ledger,
                |content| {
                    let plan: operations::EditPlan = parse_answer(content)?;
                    let mut model = source.model.clone();
                    operations::apply(&mut model, &plan.operations)?;
                    let (xml, mut warnings) = source.compile(&model);
                    warnings.extend(source.check(&model, &xml)?);
                    Ok((xml, warnings))
                },
            )
            .await
    }
}

/// An answer in the schema's shape, or the problem that sends it back.
fn parse_answer<T: serde::de::DeserializeOwned>(content: &str) -> Result<T, Vec<Problem>> {
    serde_json::from_str(content).map_err(|e| {
        vec![Problem {
            code: "schema_violation",
            message: format!("the answer does not match the schema: {e}"),
            element: None,
        }]
    })
}

/// The structure of a model, ignoring names: what "the same diagram" means for options.
fn fingerprint(model: &ProcessModel) -> (Vec<String>, usize, usize) {
    let mut kinds: Vec<String> = model
        .nodes
        .iter()
        .map(|n| format!("{:?}", n.kind))
        .collect();
    kinds.sort();
    (kinds, model.flows.len(), model.lanes.len())
}

/// The three options must be different modeling choices. When a model returns two with the same
/// structure, the later one is given what its style promises and the first lacks: exception
/// handling (as the builtin modeler adds it), or a lane per actor.
pub fn ensure_distinct(models: &mut [ProcessModel]) {
    for i in 1..models.len() {
        let clashes = |models: &[ProcessModel]| {
            (0..i).any(|j| fingerprint(&models[j]) == fingerprint(&models[i]))
        };
        if !clashes(models) {
            continue;
        }
        if models[i].lanes.is_empty() && i == 2 {
            let lane = models[i].lane_named("Process owner");
            for n in &mut models[i].nodes {
                n.lane = Some(lane.clone());
            }
        }
        if clashes(models) {
            add_input_check(&mut models[i]);
        }
    }
}
