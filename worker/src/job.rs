//! Running one generation job. Postgres is the truth and every delivery may be a duplicate: the
//! job is claimed with a conditional update, its lease is renewed while it runs, and the result
//! is written only if this attempt still holds it. The caller's span carries the generation id,
//! so log lines here do not.
//!
//! Nothing outside the job's control fails it: a database outage is waited out here, holding
//! the message, and a model server that is down is tried again later within a time budget.

use std::{collections::HashMap, future::Future, sync::Arc, time::Duration};

use anyhow::Context;
use backon::{BackoffBuilder, ExponentialBuilder};
use procmap_core::broker::Publisher;
use procmap_core::metrics as metrics_names;
use procmap_core::{
    db::{
        diagrams,
        generations::{self, Completion, Generation, SourceLookup},
    },
    domain::{GenerationError, GenerationRequest, RefinementSource, StoredVersion},
};
use procmap_engine::{EngineError, Failure, Modeler, Output, Usage};
use tokio::time::Instant;
use tokio_util::{sync::CancellationToken, task::AbortOnDropHandle};
use tracing::Instrument;
use uuid::Uuid;

use crate::config::WorkerConfig;
use procmap_core::batch::Batcher;

/// What every job needs, built once per worker process.
#[derive(Clone)]
pub(crate) struct JobContext {
    pub(crate) pool: procmap_core::db::Pool,
    pub(crate) config: Arc<WorkerConfig>,
    /// The configured provider; test-mode generations use the builtin modeler regardless.
    pub(crate) modeler: Modeler,
    /// Announces status changes to the API replicas.
    pub(crate) events: Publisher,
    /// The copilot's language models by name, built on first use from the worker's provider.
    pub(crate) copilot_modelers: Arc<std::sync::Mutex<HashMap<String, Modeler>>>,
    /// Claims of the jobs starting now, written together.
    claims: Batcher<Uuid, Option<Generation>>,
    /// Results of the jobs finishing now, committed together.
    results: Batcher<Arc<Finished>, bool>,
}

/// A successful attempt's result, waiting to be committed.
struct Finished {
    id: Uuid,
    attempt: i32,
    for_diagram: bool,
    versions: Vec<StoredVersion>,
    output: Output,
}

impl JobContext {
    /// Starts the claim and result batchers. A batch holds at most one request per job slot.
    pub(crate) fn new(
        pool: procmap_core::db::Pool,
        modeler: Modeler,
        events: Publisher,
        config: Arc<WorkerConfig>,
    ) -> Self {
        let max_batch = usize::from(config.worker_concurrency);
        let lease = config.job_lease;
        let claims = {
            let pool = pool.clone();
            Batcher::start("claim", max_batch, move |ids: Vec<Uuid>| {
                let pool = pool.clone();
                async move {
                    let client = pool.get().await.context("getting a database connection")?;
                    Ok(generations::claim_many(&client, &ids, lease).await?)
                }
            })
        };
        let results = {
            let pool = pool.clone();
            Batcher::start("result", max_batch, move |finished: Vec<Arc<Finished>>| {
                let pool = pool.clone();
                async move { commit_results(&pool, &finished).await }
            })
        };
        JobContext {
            pool,
            config,
            modeler,
            events,
            copilot_modelers: Arc::default(),
            claims,
            results,
        }
    }
}

/// Commits the results of many attempts at once; answers whether each was stored.
async fn commit_results(
    pool: &procmap_core::db::Pool,
    finished: &[Arc<Finished>],
) -> anyhow::Result<Vec<bool>> {
    let completions: Vec<Completion> = finished
        .iter()
        .map(|f| Completion {
            id: f.id,
            attempt: f.attempt,
            for_diagram: f.for_diagram,
            versions: &f.versions,
            usage: f.output.usage.as_ref(),
            warnings: &f.output.warnings,
        })
        .collect();
    let mut client = pool.get().await.context("getting a database connection")?;
    if !completions.iter().any(|c| c.for_diagram) {
        // One statement, committed alone (see `complete_many`).
        return Ok(generations::complete_many(&client, &completions).await?);
    }
    let tx = client
        .transaction()
        .await
        .context("opening a transaction")?;
    let stored = generations::complete_many(&tx, &completions).await?;
    tx.commit().await.context("committing the results")?;
    Ok(stored)
}

/// What became of a delivery.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Someone else has it, it is finished, or it no longer exists: ack, nothing to do.
    Skipped,
    Succeeded,
    Failed,
    /// The worker is stopping before the job finished. The job is back in `queued` with its
    /// attempt returned (when the database could be told), and the delivery goes back to the
    /// queue for another worker.
    Released,
}

impl Outcome {
    /// The status event to announce, if any.
    pub fn status(&self) -> Option<procmap_core::domain::GenerationStatus> {
        use procmap_core::domain::GenerationStatus;
        match self {
            Outcome::Skipped | Outcome::Released => None,
            Outcome::Succeeded => Some(GenerationStatus::Succeeded),
            Outcome::Failed => Some(GenerationStatus::Failed),
        }
    }
}

/// The worker gave up waiting for the database because it is stopping.
pub(crate) struct Stopping;

/// Runs one job. `stop` is cancelled when the worker will wait no longer: whatever the job is
/// doing then, it gives the job back.
pub(crate) async fn process(
    context: &JobContext,
    generation_id: Uuid,
    stop: &CancellationToken,
    on_running: impl FnOnce(),
) -> Outcome {
    let pool = &context.pool;
    let lease = context.config.job_lease;
    let claimed = until_done(stop, "claiming the job", || {
        context.claims.write(generation_id)
    })
    .instrument(tracing::info_span!("claim"))
    .await;
    let generation = match claimed {
        Err(Stopping) => return Outcome::Released,
        Ok(None) => {
            tracing::info!("job already claimed or finished; skipping duplicate delivery");
            return Outcome::Skipped;
        }
        Ok(Some(generation)) => generation,
    };
    on_running();
    let attempt = generation.attempts;
    let mode = generation.mode.as_str();
    let waited = (chrono::Utc::now() - generation.created_at)
        .to_std()
        .unwrap_or_default();
    metrics::histogram!(metrics_names::QUEUE_WAIT, "mode" => mode).record(waited.as_secs_f64());
    let claimed_at = Instant::now();
    let provider = modeler_for(context, &generation).name();

    // The lease is renewed while the job runs; if it is lost all the same (the relay took the
    // job back after the database was away longer than the lease), the job stops, since
    // another attempt now owns it.
    let lost = CancellationToken::new();
    let renewing = pool.clone();
    let _heartbeat =
        AbortOnDropHandle::new(tokio::spawn(keep_leased(lease, lost.clone(), move || {
            let pool = renewing.clone();
            async move {
                let client = pool.get().await.context("getting a database connection")?;
                Ok(generations::renew_lease(&client, generation_id, attempt, lease).await?)
            }
        })));

    let result = tokio::select! {
        result = run(context, &generation, stop) => result,
        () = stop.cancelled() => {
            release(pool, generation_id, attempt).await;
            return Outcome::Released;
        }
        () = lost.cancelled() => {
            tracing::warn!(attempt, "the job's lease was taken back; this attempt stops");
            metrics::counter!(metrics_names::LEASES_LOST).increment(1);
            return Outcome::Skipped;
        }
    };
    let (usage, code) = match &result {
        Ok((_, output)) => (output.usage.clone(), None),
        Err(RunError::Engine(failure)) => (failure.usage.clone(), Some(failure.code())),
        Err(RunError::Stopping) => (None, None),
    };
    record_usage(provider, usage.as_ref());
    let stored = match result {
        Err(RunError::Stopping) => {
            release(pool, generation_id, attempt).await;
            return Outcome::Released;
        }
        Ok((versions, output)) => {
            let finished = Arc::new(Finished {
                id: generation_id,
                attempt,
                for_diagram: generation.diagram_id.is_some(),
                versions,
                output,
            });
            until_done(stop, "storing the result", || async {
                let stored = context.results.write(finished.clone()).await?;
                Ok(stored.then_some(Outcome::Succeeded))
            })
            .instrument(tracing::info_span!("commit result"))
            .await
        }
        Err(RunError::Engine(e)) => {
            tracing::warn!(error = %e, "generation failed");
            let error = GenerationError {
                code: e.code().to_owned(),
                message: e.to_string(),
            };
            let (error, usage) = (&error, e.usage.as_ref());
            until_done(stop, "storing the failure", || async move {
                let client = pool.get().await.context("getting a database connection")?;
                let stored =
                    generations::fail(&client, generation_id, attempt, error, usage).await?;
                Ok(stored.then_some(Outcome::Failed))
            })
            .instrument(tracing::info_span!("commit failure"))
            .await
        }
    };
    match stored {
        Ok(Some(outcome)) => {
            let finished = if outcome == Outcome::Succeeded {
                "succeeded"
            } else {
                "failed"
            };
            metrics::counter!(
                metrics_names::GENERATIONS_FINISHED,
                "mode" => mode,
                "provider" => provider,
                "outcome" => finished,
                "code" => code.unwrap_or(""),
            )
            .increment(1);
            metrics::histogram!(
                metrics_names::RUN_TIME,
                "mode" => mode,
                "provider" => provider,
                "outcome" => finished,
            )
            .record(claimed_at.elapsed().as_secs_f64());
            outcome
        }
        Ok(None) => {
            tracing::warn!(
                attempt,
                "attempt no longer holds the generation; result discarded"
            );
            Outcome::Skipped
        }
        // The database is still away: the row says `running` until the lease runs out, then
        // the relay takes the job back.
        Err(Stopping) => Outcome::Released,
    }
}

/// Runs a database step until it succeeds. An outage of Postgres is not the job's fault, and
/// redelivering the message would spend the queue's delivery limit on it, so the worker waits
/// it out here, holding the message, with backoff. It gives up only when `stop` is cancelled.
pub(crate) async fn until_done<T, Step>(
    stop: &CancellationToken,
    doing: &'static str,
    step: impl Fn() -> Step,
) -> Result<T, Stopping>
where
    Step: Future<Output = anyhow::Result<T>>,
{
    let mut waits = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(500))
        // Short enough that the jobs go on within seconds of the database's return.
        .with_max_delay(Duration::from_secs(5))
        .with_jitter()
        .without_max_times()
        .build();
    loop {
        match step().await {
            Ok(value) => return Ok(value),
            Err(e) => {
                let wait = waits.next().unwrap_or(Duration::from_secs(5));
                tracing::warn!(
                    error = format!("{e:#}"),
                    ?wait,
                    "{doing} failed; trying again"
                );
                metrics::counter!(metrics_names::DATABASE_RETRIES, "step" => doing).increment(1);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = stop.cancelled() => return Err(Stopping),
                }
            }
        }
    }
}

/// Gives the job back to the queue without spending its attempt, so the next worker starts it
/// at once rather than after the lease. Tried briefly: the worker is on its way out.
async fn release(pool: &procmap_core::db::Pool, generation_id: Uuid, attempt: i32) {
    let released = tokio::time::timeout(Duration::from_secs(5), async {
        let client = pool.get().await.context("getting a database connection")?;
        anyhow::Ok(generations::release(&client, generation_id, attempt).await?)
    })
    .await;
    match released {
        Ok(Ok(true)) => {
            tracing::info!("worker stopping; job released to the queue");
            metrics::counter!(metrics_names::JOBS_RELEASED).increment(1);
        }
        Ok(Ok(false)) => {}
        Ok(Err(e)) => tracing::warn!(
            error = format!("{e:#}"),
            "could not release the job; it is taken back when its lease runs out"
        ),
        Err(_) => {
            tracing::warn!("releasing the job timed out; it is taken back when its lease runs out")
        }
    }
}

/// Renews a job's lease at a third of its length until aborted. Cancels `lost` when `renew`
/// says the attempt no longer holds the job; a renewal that fails is tried at the next beat,
/// since the lease has two more beats before it runs out.
pub(crate) async fn keep_leased<Renew, Renewal>(
    lease: Duration,
    lost: CancellationToken,
    renew: Renew,
) where
    Renew: Fn() -> Renewal,
    Renewal: Future<Output = anyhow::Result<bool>>,
{
    loop {
        tokio::time::sleep(lease / 3).await;
        match renew().await {
            Ok(true) => {}
            Ok(false) => {
                lost.cancel();
                return;
            }
            Err(e) => tracing::warn!(error = format!("{e:#}"), "could not renew the job's lease"),
        }
    }
}

enum RunError {
    /// The engine's answer is final for this input.
    Engine(Failure),
    /// The worker is stopping while the job waited for the database or the model server.
    Stopping,
}

/// Runs the engine on the job's request. A model server that is unavailable is tried again,
/// with backoff and jitter, until the job has run for the configured budget; the usage of every
/// try is added up.
async fn run(
    context: &JobContext,
    generation: &Generation,
    stop: &CancellationToken,
) -> Result<(Vec<StoredVersion>, Output), RunError> {
    let modeler = modeler_for(context, generation);
    let source = match &generation.request {
        GenerationRequest::Initial { .. } => None,
        GenerationRequest::Refinement { source, .. } => {
            match source_xml(context, generation, source, stop).await {
                Ok(xml) => Some(xml),
                Err(SourceError::Stopping) => return Err(RunError::Stopping),
                Err(SourceError::Gone(e)) => return Err(RunError::Engine(e)),
            }
        }
    };
    let budget = context.config.provider_retry_budget;
    let started = Instant::now();
    let mut waits = ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(2))
        // Each try already spends the provider's own retries; a short cap lets the jobs
        // resume within seconds of the model server's return.
        .with_max_delay(Duration::from_secs(10))
        .with_jitter()
        .without_max_times()
        .build();
    let mut spent: Option<Usage> = None;
    loop {
        let result = run_engine(modeler, generation, source.as_deref()).await;
        match result {
            Ok((versions, mut output)) => {
                output.usage = Usage::sum(spent, output.usage);
                return Ok((versions, output));
            }
            Err(mut failure) => {
                let wait = waits.next().unwrap_or(Duration::from_secs(10));
                let retry = failure.error.may_pass_later() && started.elapsed() + wait <= budget;
                spent = Usage::sum(spent, failure.usage.take());
                if !retry {
                    failure.usage = spent;
                    return Err(RunError::Engine(failure));
                }
                tracing::warn!(error = %failure, ?wait, "model server unavailable; trying the job again");
                metrics::counter!(metrics_names::PROVIDER_RETRIES).increment(1);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = stop.cancelled() => return Err(RunError::Stopping),
                }
            }
        }
    }
}

/// The modeler a generation runs on. Test-mode keys always use the builtin modeler, so
/// integrators build against procmap at no LLM cost.
fn modeler_for<'c>(context: &'c JobContext, generation: &Generation) -> &'c Modeler {
    static BUILTIN: Modeler = Modeler::Builtin;
    if generation.livemode {
        &context.modeler
    } else {
        &BUILTIN
    }
}

/// Adds what a model spent to the provider's token, request and repair counters.
pub(crate) fn record_usage(provider: &'static str, usage: Option<&Usage>) {
    let Some(usage) = usage else {
        return;
    };
    metrics::counter!(metrics_names::MODEL_TOKENS, "provider" => provider, "kind" => "prompt")
        .increment(usage.prompt_tokens);
    metrics::counter!(metrics_names::MODEL_TOKENS, "provider" => provider, "kind" => "completion")
        .increment(usage.completion_tokens);
    metrics::counter!(metrics_names::MODEL_REQUESTS, "provider" => provider)
        .increment(u64::from(usage.requests));
    metrics::counter!(metrics_names::REPAIR_ROUNDS, "provider" => provider)
        .increment(u64::from(usage.repair_rounds));
}

async fn run_engine(
    modeler: &Modeler,
    generation: &Generation,
    source: Option<&str>,
) -> Result<(Vec<StoredVersion>, Output), Failure> {
    match (&generation.request, source) {
        (GenerationRequest::Refinement { prompt, .. }, Some(source)) => {
            let output = modeler
                .refine_steered(source, prompt.as_str(), &steering(generation))
                .await?;
            let versions = output
                .bpmn_xml
                .first()
                .map(|xml| {
                    vec![StoredVersion {
                        option_number: 1,
                        version_number: 1,
                        bpmn_xml: xml.clone(),
                    }]
                })
                .unwrap_or_default();
            Ok((versions, output))
        }
        (GenerationRequest::Initial { prompt, language }, _) => {
            let output = modeler
                .generate_steered(prompt.as_str(), language.as_str(), &steering(generation))
                .await?;
            let versions = output
                .bpmn_xml
                .iter()
                .zip(1..)
                .map(|(xml, option_number)| StoredVersion {
                    option_number,
                    version_number: 1,
                    bpmn_xml: xml.clone(),
                })
                .collect();
            Ok((versions, output))
        }
        (GenerationRequest::Refinement { .. }, None) => {
            Err(EngineError::InvalidSource("the refinement has no source diagram".into()).into())
        }
    }
}

/// The texts of the folder contexts the API recorded on the generation, outermost first.
fn steering(generation: &Generation) -> Vec<String> {
    generation
        .context
        .iter()
        .map(|c| c.context.clone())
        .collect()
}

enum SourceError {
    Stopping,
    /// The stored source is gone: final for this job.
    Gone(Failure),
}

/// The diagram a refinement starts from: sent inline, or stored by an earlier generation.
async fn source_xml(
    context: &JobContext,
    generation: &Generation,
    source: &RefinementSource,
    stop: &CancellationToken,
) -> Result<String, SourceError> {
    let (generation_id, option_number, version_number) = match source {
        RefinementSource::Inline { bpmn_xml } => return Ok(bpmn_xml.clone()),
        RefinementSource::Diagram {
            diagram_id,
            version_number,
        } => return diagram_source(context, generation, *diagram_id, *version_number, stop).await,
        RefinementSource::Stored {
            generation_id,
            option_number,
            version_number,
        } => (*generation_id, *option_number, *version_number),
    };
    let pool = &context.pool;
    let workspace = &generation.workspace();
    let lookup = until_done(stop, "reading the source diagram", || async move {
        let client = pool.get().await.context("getting a database connection")?;
        Ok(generations::find_source(
            &client,
            workspace,
            generation_id,
            option_number,
            version_number,
        )
        .await?)
    })
    .await
    .map_err(|Stopping| SourceError::Stopping)?;
    match lookup {
        SourceLookup::Found(xml) => Ok(xml),
        other => Err(SourceError::Gone(
            EngineError::InvalidSource(format!(
                "the source generation is no longer available ({other:?})"
            ))
            .into(),
        )),
    }
}

/// A version of one of the owner's diagrams, as a refinement's source. The API stored the
/// version it found at accept time; the latest is read only for a request stored without one.
async fn diagram_source(
    context: &JobContext,
    generation: &Generation,
    diagram_id: Uuid,
    version_number: Option<i32>,
    stop: &CancellationToken,
) -> Result<String, SourceError> {
    let pool = &context.pool;
    let workspace = &generation.workspace();
    let found = until_done(stop, "reading the source diagram", || async move {
        let client = pool.get().await.context("getting a database connection")?;
        if diagrams::get(&client, workspace, diagram_id)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        Ok(diagrams::version(&client, diagram_id, version_number).await?)
    })
    .await
    .map_err(|Stopping| SourceError::Stopping)?;
    found.map(|version| version.bpmn_xml).ok_or_else(|| {
        SourceError::Gone(
            EngineError::InvalidSource(format!(
                "diagram {diagram_id} or its version is no longer available"
            ))
            .into(),
        )
    })
}
