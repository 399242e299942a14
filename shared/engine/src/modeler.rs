//! The modeler a worker generates with: the builtin one, or a language model behind an
//! OpenAI-compatible endpoint. Both answer in the same shape, with what they spent.

use std::sync::Arc;

use crate::bpmn::source::SourceDiagram;
use crate::builtin;
use crate::error::{EngineError, Failure};
use crate::llm::{OpenAiConfig, OpenAiModeler};
use crate::usage::{Ledger, Usage};

/// Which engine turns prompts into process models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LlmProvider {
    /// The deterministic, offline modeler built into procmap.
    Builtin,
    /// Any OpenAI-compatible chat completions endpoint (OpenAI, vLLM, Ollama, llama.cpp).
    OpenAi(OpenAiConfig),
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
    /// The provider's name, as metrics label it: `builtin` or `openai`.
    pub fn name(&self) -> &'static str {
        match self {
            Modeler::Builtin => "builtin",
            Modeler::OpenAi(_) => "openai",
        }
    }

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
        self.generate_steered(prompt, language, &[]).await
    }

    /// The three options of an initial generation, steered by the contexts of the diagram's
    /// folders, outermost first: a language model reads them with the prompt; the builtin
    /// modeler takes the roles and duties it can read ([`builtin::steering`]).
    #[tracing::instrument(name = "engine.generate", skip_all, fields(provider = self.name()))]
    pub async fn generate_steered(
        &self,
        prompt: &str,
        language: &str,
        context: &[String],
    ) -> Result<Output, Failure> {
        match self {
            Modeler::Builtin => {
                let (prompt, context) = (prompt.to_owned(), context.to_vec());
                let bpmn_xml =
                    off_the_runtime(move || builtin::generate_steered_options(&prompt, &context))
                        .await??;
                Ok(Output {
                    bpmn_xml,
                    usage: None,
                    warnings: Vec::new(),
                })
            }
            Modeler::OpenAi(llm) => {
                let ledger = Ledger::default();
                let diagrams = llm.diagrams(prompt, language, context, &ledger).await;
                spent(&ledger, diagrams.map(|bpmn_xml| (bpmn_xml, Vec::new())))
            }
        }
    }

    /// Applies a follow-up to a source diagram.
    pub async fn refine(&self, source_xml: &str, prompt: &str) -> Result<Output, Failure> {
        self.refine_steered(source_xml, prompt, &[]).await
    }

    /// Applies a follow-up to a source diagram, steered by its folders' contexts. The builtin
    /// modeler's follow-ups name what they change, so only a language model reads them.
    #[tracing::instrument(name = "engine.refine", skip_all, fields(provider = self.name()))]
    pub async fn refine_steered(
        &self,
        source_xml: &str,
        prompt: &str,
        context: &[String],
    ) -> Result<Output, Failure> {
        match self {
            Modeler::Builtin => {
                let (source, prompt) = (source_xml.to_owned(), prompt.to_owned());
                let refined = off_the_runtime(move || builtin::refine(&source, &prompt)).await??;
                Ok(Output {
                    bpmn_xml: vec![refined.bpmn_xml],
                    usage: None,
                    warnings: refined.warnings,
                })
            }
            Modeler::OpenAi(llm) => {
                let source = SourceDiagram::read(source_xml).map_err(EngineError::from)?;
                let ledger = Ledger::default();
                let refined = llm.refine(&source, prompt, context, &ledger).await;
                spent(
                    &ledger,
                    refined.map(|(xml, warnings)| (vec![xml], warnings)),
                )
            }
        }
    }
}

/// Runs the builtin modeler's CPU-bound work on the blocking pool, so it never stalls the
/// runtime's other tasks, and at most one piece of work per core at once: more would only take
/// turns on the cores, and each extra blocking thread keeps its own allocator cache.
async fn off_the_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, EngineError> {
    static CORES: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let cores = CORES.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        tokio::sync::Semaphore::new(cores)
    });
    let stopped = |e: &dyn std::fmt::Display| {
        EngineError::ProviderRejected(format!("the builtin modeler stopped: {e}"))
    };
    let _core = cores.acquire().await.map_err(|e| stopped(&e))?;
    // The blocking pool's thread does not inherit the span; carry it over.
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work))
        .await
        .map_err(|e| stopped(&e))
}

/// A language model's answer, with what it spent whether it succeeded or not.
fn spent(
    ledger: &Ledger,
    result: Result<(Vec<String>, Vec<String>), EngineError>,
) -> Result<Output, Failure> {
    let usage = Some(ledger.total());
    match result {
        Ok((bpmn_xml, warnings)) => Ok(Output {
            bpmn_xml,
            usage,
            warnings,
        }),
        Err(error) => Err(Failure { error, usage }),
    }
}
