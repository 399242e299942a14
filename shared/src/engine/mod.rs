//! The modeling engine: turns prompts into validated BPMN.
//!
//! - [`model`]: the process model every diagram is compiled from.
//! - [`prose`] and [`wording`]: the builtin modeler's reading of descriptions.
//! - [`builder`]: description → process model, in the three option styles.
//! - [`layout`] and [`writer`]: process model → BPMN 2.0 XML with BPMNDI.
//! - [`reader`]: BPMN XML from any tool → process model, and [`kept`]: what it copies through.
//! - [`validate`]: an independent check of any BPMN document.
//! - [`refine`]: follow-up prompt → edit operations on a model (builtin).
//! - [`spec`] and [`operations`]: what a language model writes: a process model, or edit operations.
//! - [`openai`]: the OpenAI-compatible provider, with repair rounds and retries.
//! - [`Modeler`]: the provider a worker uses, builtin or OpenAI-compatible.

pub mod builder;
pub mod kept;
pub mod layout;
pub mod model;
pub mod openai;
pub mod operations;
pub mod prose;
pub mod reader;
pub mod refine;
pub mod spec;
pub mod validate;
pub mod wording;
pub mod writer;

use std::{collections::HashSet, sync::Arc};

use model::ProcessModel;
use openai::{Ledger, OpenAiModeler, Usage};
use validate::Problem;

use crate::config::LlmProvider;

/// Why the engine could not produce a diagram. The variant says whether trying again may help.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// The source diagram cannot be refined; trying again gives the same answer.
    #[error("the source diagram cannot be used: {0}")]
    InvalidSource(String),
    /// The follow-up asks for something this engine cannot do; rephrasing may help, retrying won't.
    #[error("the builtin modeler did not understand {0:?}; it understands: {understood}", understood = refine::UNDERSTOOD)]
    UnsupportedInstruction(String),
    /// The engine produced a diagram that failed validation, after any repair rounds.
    #[error("the generated diagram failed validation: {}", summarise(.0))]
    InvalidOutput(Vec<Problem>),
    /// The model server could not be used, after retries.
    #[error("the model provider is unavailable: {0}")]
    ProviderUnavailable(String),
}

impl EngineError {
    /// Stable code shown in a failed generation's `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidSource(_) => "invalid_source",
            Self::UnsupportedInstruction(_) => "unsupported_instruction",
            Self::InvalidOutput(_) => "invalid_output",
            Self::ProviderUnavailable(_) => "provider_unavailable",
        }
    }
}

/// A generation the engine gave up on, with what the provider had spent by then.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{error}")]
pub struct Failure {
    pub error: EngineError,
    /// `None` for the builtin modeler, which spends nothing.
    pub usage: Option<Usage>,
}

impl Failure {
    pub fn code(&self) -> &'static str {
        self.error.code()
    }
}

impl From<EngineError> for Failure {
    fn from(error: EngineError) -> Self {
        Failure { error, usage: None }
    }
}

fn summarise(problems: &[Problem]) -> String {
    problems
        .iter()
        .take(5)
        .map(|p| p.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// A refined diagram and what the refinement could not carry over.
#[derive(Debug, Clone)]
pub struct Refined {
    pub bpmn_xml: String,
    pub edits: Vec<refine::Edit>,
    pub warnings: Vec<String>,
}

/// The three options of an initial generation, with the builtin modeler, each validated.
pub fn generate_options(prompt: &str) -> Result<Vec<String>, EngineError> {
    let description = builder::describe(prompt);
    builder::OptionStyle::ALL
        .iter()
        .map(|style| {
            let xml = writer::compile(&builder::build(&description, *style));
            let problems = validate::validate(&xml);
            if problems.is_empty() {
                Ok(xml)
            } else {
                Err(EngineError::InvalidOutput(problems))
            }
        })
        .collect()
}

/// A diagram being refined, read and validated once. Flaws it already had are the source's;
/// only problems a refinement adds are the engine's fault.
struct SourceDiagram {
    model: ProcessModel,
    layout: layout::Layout,
    kept: kept::Kept,
    warnings: Vec<String>,
    known_problems: HashSet<(&'static str, Option<String>)>,
}

impl SourceDiagram {
    /// Reads a source, refusing one whose structure (ids, references) cannot be refined.
    fn read(xml: &str) -> Result<Self, EngineError> {
        let diagram = reader::read(xml).map_err(|e| EngineError::InvalidSource(e.to_string()))?;
        let problems = validate::validate_diagram(&diagram);
        let structural: Vec<Problem> = problems
            .iter()
            .filter(|p| p.is_structural())
            .cloned()
            .collect();
        if !structural.is_empty() {
            return Err(EngineError::InvalidSource(summarise(&structural)));
        }
        Ok(SourceDiagram {
            model: diagram.model,
            layout: diagram.layout,
            kept: diagram.kept,
            warnings: diagram.warnings,
            known_problems: problems.into_iter().map(|p| (p.code, p.element)).collect(),
        })
    }

    /// Compiles a refinement of this source, leaving what it did not touch where it was drawn
    /// and copying through what the model has no place for. Answers the document and the
    /// warnings of the whole refinement: the source's, and what could not be carried over.
    fn compile(&self, refined: &ProcessModel) -> (String, Vec<String>) {
        let layout = layout::extend(refined, &self.layout);
        let (kept, dropped) = self.kept.for_model(refined, &layout);
        let xml = writer::compile_keeping(refined, &layout, &kept);
        (xml, self.warnings.iter().cloned().chain(dropped).collect())
    }

    /// The problems of a refined document that the source did not have.
    fn new_problems(&self, xml: &str) -> Vec<Problem> {
        validate::validate(xml)
            .into_iter()
            .filter(|p| !self.known_problems.contains(&(p.code, p.element.clone())))
            .collect()
    }
}

/// Applies a follow-up prompt to a source diagram with the builtin modeler.
pub fn refine(source_xml: &str, prompt: &str) -> Result<Refined, EngineError> {
    let source = SourceDiagram::read(source_xml)?;
    let mut model = source.model.clone();
    let edits = refine::apply(&mut model, prompt);
    if let Some(refine::Edit::NotUnderstood { instruction }) = edits
        .iter()
        .find(|e| matches!(e, refine::Edit::NotUnderstood { .. }))
    {
        return Err(EngineError::UnsupportedInstruction(instruction.clone()));
    }
    let (bpmn_xml, warnings) = source.compile(&model);
    let introduced = source.new_problems(&bpmn_xml);
    if !introduced.is_empty() {
        return Err(EngineError::InvalidOutput(introduced));
    }
    Ok(Refined {
        bpmn_xml,
        edits,
        warnings,
    })
}

/// Checks that a diagram sent inline can be refined, listing every problem if not.
pub fn check_source(xml: &str) -> Result<(), Vec<Problem>> {
    let problems: Vec<Problem> = validate::validate(xml)
        .into_iter()
        .filter(Problem::is_structural)
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The provider a worker generates with.
#[derive(Clone)]
pub enum Modeler {
    Builtin,
    OpenAi(Arc<OpenAiModeler>),
}

/// What a generation produced: one BPMN document per option (or one for a refinement), and
/// what the provider spent, when it is a language model.
#[derive(Debug, Clone)]
pub struct Output {
    pub bpmn_xml: Vec<String>,
    pub usage: Option<Usage>,
    pub warnings: Vec<String>,
}

impl Modeler {
    pub fn from_config(provider: &LlmProvider) -> Result<Self, EngineError> {
        Ok(match provider {
            LlmProvider::Builtin => Modeler::Builtin,
            LlmProvider::OpenAi(config) => {
                Modeler::OpenAi(Arc::new(OpenAiModeler::new(config.clone())?))
            }
        })
    }

    /// The three options of an initial generation.
    pub async fn generate(&self, prompt: &str, language: &str) -> Result<Output, Failure> {
        match self {
            Modeler::Builtin => {
                let prompt = prompt.to_owned();
                let bpmn_xml = tokio::task::spawn_blocking(move || generate_options(&prompt))
                    .await
                    .map_err(|e| {
                        EngineError::ProviderUnavailable(format!(
                            "the builtin modeler stopped: {e}"
                        ))
                    })??;
                Ok(Output {
                    bpmn_xml,
                    usage: None,
                    warnings: Vec::new(),
                })
            }
            Modeler::OpenAi(llm) => {
                let ledger = Ledger::default();
                let compiled =
                    llm.generate(prompt, language, &ledger)
                        .await
                        .and_then(|mut models| {
                            ensure_distinct(&mut models);
                            models
                                .iter()
                                .map(|model| {
                                    let xml = writer::compile(model);
                                    let problems = validate::validate(&xml);
                                    if problems.is_empty() {
                                        Ok(xml)
                                    } else {
                                        Err(EngineError::InvalidOutput(problems))
                                    }
                                })
                                .collect::<Result<Vec<_>, _>>()
                        });
                let usage = Some(ledger.total());
                match compiled {
                    Ok(bpmn_xml) => Ok(Output {
                        bpmn_xml,
                        usage,
                        warnings: Vec::new(),
                    }),
                    Err(error) => Err(Failure { error, usage }),
                }
            }
        }
    }

    /// Applies a follow-up to a source diagram.
    pub async fn refine(&self, source_xml: &str, prompt: &str) -> Result<Output, Failure> {
        match self {
            Modeler::Builtin => {
                let (source, prompt) = (source_xml.to_owned(), prompt.to_owned());
                let refined = tokio::task::spawn_blocking(move || refine(&source, &prompt))
                    .await
                    .map_err(|e| {
                        EngineError::ProviderUnavailable(format!(
                            "the builtin modeler stopped: {e}"
                        ))
                    })??;
                Ok(Output {
                    bpmn_xml: vec![refined.bpmn_xml],
                    usage: None,
                    warnings: refined.warnings,
                })
            }
            Modeler::OpenAi(llm) => {
                let source = SourceDiagram::read(source_xml)?;
                let current =
                    serde_json::to_string_pretty(&spec::ProcessSpec::from_model(&source.model))
                        .unwrap_or_default();
                let user = format!(
                    "Here is a process model:\n{current}\n\nChange it as asked, answering only with edit operations. \
                     Keep every element you do not need to change. New ids must not collide with existing ones.\n\nRequest: {prompt}"
                );
                let ledger = Ledger::default();
                let refined = llm
                    .converse(
                        user,
                        "edit_plan",
                        operations::schema(),
                        &ledger,
                        |content| {
                            let plan: operations::EditPlan = serde_json::from_str(content)
                                .map_err(|e| {
                                    vec![Problem {
                                        code: "schema_violation",
                                        message: format!(
                                            "the answer does not match the schema: {e}"
                                        ),
                                        element: None,
                                    }]
                                })?;
                            let mut model = source.model.clone();
                            operations::apply(&mut model, &plan.operations)?;
                            let (xml, warnings) = source.compile(&model);
                            let introduced = source.new_problems(&xml);
                            if introduced.is_empty() {
                                Ok((xml, warnings))
                            } else {
                                Err(introduced)
                            }
                        },
                    )
                    .await;
                let usage = Some(ledger.total());
                match refined {
                    Ok((bpmn_xml, warnings)) => Ok(Output {
                        bpmn_xml: vec![bpmn_xml],
                        usage,
                        warnings,
                    }),
                    Err(error) => Err(Failure { error, usage }),
                }
            }
        }
    }
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

/// The three options must be different modeling choices. When a provider returns two with the
/// same structure, the later one is given what its style promises and the first lacks: exception
/// handling, or a lane per actor.
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
            builder::add_input_check(&mut models[i]);
        }
    }
}
