//! Running one copilot chat turn (seed 002). Like a generation, the turn is claimed with a
//! conditional update, leased while it runs, and finished only by the attempt that holds it;
//! the caller acks after that.
//!
//! Its steps are stored as they happen, by one writer, and each store is announced on the
//! events exchange, so the API replica that holds the client's stream reads them from Postgres
//! while the modeler works on. The answer is committed after its last step is stored, so an
//! answer that reads as finished has all its steps.

use std::time::Duration;

use anyhow::Context;
use procmap_core::{
    db::{
        copilot_turns::{self, Answer, Claimed, Message},
        diagrams, folders,
    },
    domain::GenerationError,
    messages::TurnProgress,
};
use procmap_engine::{
    copilot::{self, DiagramDiff, History, Turn, TurnEvent},
    EngineError, Failure, LlmProvider, Modeler,
};
use tokio_util::{sync::CancellationToken, task::AbortOnDropHandle};
use uuid::Uuid;

use crate::job::{keep_leased, record_usage, until_done, JobContext, Outcome, Stopping};

/// How many earlier messages a turn reads; a language model gets as many of them as fit
/// [`copilot::HISTORY_BUDGET`].
const HISTORY_MESSAGES: i64 = 40;

/// Runs one turn. `stop` is cancelled when the worker will wait no longer.
pub(crate) async fn process(
    context: &JobContext,
    message_id: Uuid,
    stop: &CancellationToken,
) -> Outcome {
    let pool = &context.pool;
    let lease = context.config.job_lease;
    let claimed = until_done(stop, "claiming the copilot turn", || async {
        let client = pool.get().await.context("getting a database connection")?;
        Ok(copilot_turns::claim(&client, message_id, lease).await?)
    })
    .await;
    let claimed = match claimed {
        Err(Stopping) => return Outcome::Released,
        Ok(None) => {
            tracing::info!("copilot turn already claimed or finished; skipping duplicate delivery");
            return Outcome::Skipped;
        }
        Ok(Some(claimed)) => claimed,
    };
    let attempt = claimed.answer.attempts;
    let lost = CancellationToken::new();
    let renewing = pool.clone();
    let _heartbeat =
        AbortOnDropHandle::new(tokio::spawn(keep_leased(lease, lost.clone(), move || {
            let pool = renewing.clone();
            async move {
                let client = pool.get().await.context("getting a database connection")?;
                Ok(copilot_turns::renew_lease(&client, message_id, attempt, lease).await?)
            }
        })));
    let result = tokio::select! {
        result = run(context, &claimed, stop) => result,
        () = stop.cancelled() => Err(RunError::Stopping),
        () = lost.cancelled() => {
            tracing::warn!(attempt, "the copilot turn's lease was taken back; this attempt stops");
            return Outcome::Skipped;
        }
    };
    let stored = match result {
        Err(RunError::Stopping) => {
            let released = tokio::time::timeout(Duration::from_secs(5), async {
                let client = pool.get().await?;
                anyhow::Ok(copilot_turns::release(&client, message_id, attempt).await?)
            })
            .await;
            if !matches!(released, Ok(Ok(true))) {
                tracing::warn!("could not release the copilot turn; its lease runs out instead");
            }
            return Outcome::Released;
        }
        Err(RunError::Lost) => return Outcome::Skipped,
        Ok(Ok(())) => Ok(Some(Outcome::Succeeded)),
        Ok(Err(failure)) => {
            tracing::warn!(error = %failure, "copilot turn failed");
            let error = GenerationError {
                code: failure.code().to_owned(),
                message: failure.to_string(),
            };
            until_done(stop, "storing the copilot turn's failure", || async {
                let client = pool.get().await.context("getting a database connection")?;
                let stored = copilot_turns::fail(&client, message_id, attempt, &error).await?;
                Ok(stored.then_some(Outcome::Failed))
            })
            .await
        }
    };
    match stored {
        Ok(Some(outcome)) => {
            announce(context, message_id);
            outcome
        }
        Ok(None) => Outcome::Skipped,
        Err(Stopping) => Outcome::Released,
    }
}

enum RunError {
    Stopping,
    /// Another attempt holds the turn now.
    Lost,
}

/// Runs the turn: `Ok(Ok(()))` when its answer is stored, `Ok(Err(_))` when the copilot failed
/// and the failure is for the caller to store.
async fn run(
    context: &JobContext,
    claimed: &Claimed,
    stop: &CancellationToken,
) -> Result<Result<(), Failure>, RunError> {
    let pool = &context.pool;
    let message_id = claimed.answer.id;
    let attempt = claimed.answer.attempts;
    let inputs = until_done(stop, "reading the copilot turn's diagram", || async {
        let client = pool.get().await.context("getting a database connection")?;
        Inputs::read(&client, claimed).await
    })
    .await
    .map_err(|Stopping| RunError::Stopping)?;
    let Some(inputs) = inputs else {
        return Ok(Err(EngineError::InvalidSource(
            "the diagram has no version for the copilot to read".into(),
        )
        .into()));
    };
    let turn = Turn {
        message: &claimed.question.content,
        working_xml: &inputs.working_xml,
        base_xml: &inputs.base_xml,
        history: &inputs.history,
        context: &inputs.context,
    };
    // The steps are stored as they come, by one writer, so the stream shows a model's loop
    // step by step; the answer is committed once the writer has stored the last of them.
    let (events, steps) = tokio::sync::mpsc::unbounded_channel();
    let writer = tokio::spawn(store_steps(
        context.clone(),
        message_id,
        attempt,
        steps,
        stop.clone(),
    ));
    let proposal = async {
        for step in copilot::inspect(&turn)? {
            let _ = events.send(step);
        }
        let modeler = modeler_for(context, claimed)?;
        let proposal = copilot::modify(&modeler, &turn, &events).await;
        let usage = match &proposal {
            Ok(proposal) => proposal.usage.as_ref(),
            Err(failure) => failure.usage.as_ref(),
        };
        record_usage(modeler.name(), usage);
        proposal
    }
    .await;
    drop(events);
    match writer.await {
        Ok(StepsStored::All) => {}
        Ok(StepsStored::Lost) => return Err(RunError::Lost),
        Ok(StepsStored::Stopping) | Err(_) => return Err(RunError::Stopping),
    }
    let proposal = match proposal {
        Ok(proposal) => proposal,
        Err(failure) => return Ok(Err(failure)),
    };
    let diff = serde_json::to_value(&proposal.diff).unwrap_or_default();
    let answer = Answer {
        content: &proposal.reply,
        proposed_bpmn: proposal.bpmn_xml.as_deref(),
        diagram_diff: &diff,
    };
    let stored = until_done(stop, "storing the copilot turn's answer", || async {
        let client = pool.get().await.context("getting a database connection")?;
        Ok(copilot_turns::succeed(&client, message_id, attempt, &answer).await?)
    })
    .await
    .map_err(|Stopping| RunError::Stopping)?;
    if stored {
        Ok(Ok(()))
    } else {
        Err(RunError::Lost)
    }
}

/// What became of a turn's steps.
enum StepsStored {
    All,
    /// Another attempt holds the turn now.
    Lost,
    Stopping,
}

/// Stores the steps a turn sends, each batch as it finds them waiting, and announces each
/// store, until the turn closes the channel.
async fn store_steps(
    context: JobContext,
    message_id: Uuid,
    attempt: i32,
    mut steps: tokio::sync::mpsc::UnboundedReceiver<TurnEvent>,
    stop: CancellationToken,
) -> StepsStored {
    while let Some(first) = steps.recv().await {
        let mut batch = vec![first];
        while let Ok(next) = steps.try_recv() {
            batch.push(next);
        }
        let rows = rows(&batch);
        let pool = &context.pool;
        let stored = until_done(&stop, "storing the copilot turn's steps", || async {
            let client = pool.get().await.context("getting a database connection")?;
            Ok(copilot_turns::append_events(&client, message_id, attempt, &rows).await?)
        })
        .await;
        match stored {
            Ok(true) => announce(&context, message_id),
            Ok(false) => return StepsStored::Lost,
            Err(Stopping) => return StepsStored::Stopping,
        }
    }
    StepsStored::All
}

fn rows(events: &[TurnEvent]) -> Vec<(&'static str, serde_json::Value)> {
    events.iter().map(|e| (e.name(), e.data())).collect()
}

/// What a turn reads besides its message.
struct Inputs {
    working_xml: String,
    base_xml: String,
    history: History,
    context: Vec<String>,
}

impl Inputs {
    /// `None` when the diagram, or the version the turn was asked on, is gone.
    async fn read(
        client: &procmap_core::db::Client,
        claimed: &Claimed,
    ) -> anyhow::Result<Option<Inputs>> {
        let Some(diagram) = diagrams::get(client, &claimed.workspace, claimed.diagram_id).await?
        else {
            return Ok(None);
        };
        // The version that was latest when the turn was asked: its proposal applies over it.
        let Some(base) =
            diagrams::version(client, claimed.diagram_id, claimed.answer.base_version).await?
        else {
            return Ok(None);
        };
        let context = match diagram.folder_id {
            Some(folder) => folders::path_to(client, &claimed.workspace, folder)
                .await?
                .into_iter()
                .filter_map(|f| f.context)
                .collect(),
            None => Vec::new(),
        };
        let earlier = copilot_turns::history(
            client,
            claimed.answer.session_id,
            claimed.question.id,
            HISTORY_MESSAGES,
        )
        .await?;
        let last_answer = earlier
            .iter()
            .rev()
            .find(|m| m.role == "copilot" && m.status.as_deref() == Some("succeeded"));
        let working_xml = claimed
            .question
            .diagram_state
            .clone()
            .or_else(|| draft(last_answer, claimed.answer.base_version))
            .unwrap_or_else(|| base.bpmn_xml.clone());
        let history = History {
            messages: earlier
                .iter()
                .filter(|m| !m.content.is_empty())
                .map(|m| (m.role == "user", m.content.clone()))
                .collect(),
            last_diff: last_answer
                .and_then(|m| m.diagram_diff.clone())
                .and_then(|d| serde_json::from_value::<DiagramDiff>(d).ok()),
        };
        Ok(Some(Inputs {
            working_xml,
            base_xml: base.bpmn_xml,
            history,
            context,
        }))
    }
}

/// The conversation's draft: the previous answer's proposal, while it is not applied and the
/// diagram has not moved on since. A follow-up builds on it ("now also add…", "no, put it
/// before…") rather than starting again from the stored version.
fn draft(last_answer: Option<&Message>, base_version: Option<i32>) -> Option<String> {
    let answer = last_answer?;
    (answer.applied_version.is_none() && answer.base_version == base_version)
        .then(|| answer.proposed_bpmn.clone())
        .flatten()
}

/// The modeler a turn runs on: the builtin one for a test-mode workspace or the `builtin`
/// model; otherwise the worker's language-model provider, asked for the chosen model.
fn modeler_for(context: &JobContext, claimed: &Claimed) -> Result<Modeler, EngineError> {
    let model = claimed.answer.model.as_deref().unwrap_or("builtin");
    if !claimed.workspace.livemode || model == "builtin" {
        return Ok(Modeler::Builtin);
    }
    let LlmProvider::OpenAi(config) = &context.config.llm_provider else {
        return Err(EngineError::ProviderRejected(format!(
            "the copilot model `{model}` needs workers with PROCMAP_LLM_PROVIDER=openai; these run the builtin modeler"
        )));
    };
    let mut modelers = context
        .copilot_modelers
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(modeler) = modelers.get(model) {
        return Ok(modeler.clone());
    }
    let mut config = config.clone();
    config.model = model.to_owned();
    let modeler = Modeler::from_config(&LlmProvider::OpenAi(config))?;
    modelers.insert(model.to_owned(), modeler.clone());
    Ok(modeler)
}

/// Tells the API replicas to look at the turn again. Not awaited by the turn: a lost hint costs
/// the stream at most its poll interval.
fn announce(context: &JobContext, message_id: Uuid) {
    let events = context.events.clone();
    tokio::spawn(async move {
        if let Err(e) = events
            .publish_turn_progress(&TurnProgress { message_id })
            .await
        {
            tracing::warn!(error = %e, "could not announce the copilot turn's progress");
        }
    });
}
