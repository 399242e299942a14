//! Running one generation job. Postgres is the truth and every delivery may be a duplicate: the
//! job is claimed with a conditional update, and the result is written only if this attempt
//! still holds it. The caller's span carries the generation id, so log lines here do not.

use std::sync::Arc;

use anyhow::Context;
use procmap_core::broker::Publisher;
use procmap_core::{
    db::generations::{self, Generation, SourceLookup},
    domain::{
        GenerationError, GenerationRequest, GenerationStatus, RefinementSource, StoredVersion,
    },
};
use procmap_engine::{EngineError, Failure, Modeler, Output};
use uuid::Uuid;

use crate::config::WorkerConfig;

/// What every job needs, built once per worker process.
#[derive(Clone)]
pub(crate) struct JobContext {
    pub(crate) pool: procmap_core::db::Pool,
    pub(crate) config: Arc<WorkerConfig>,
    /// The configured provider; test-mode generations use the builtin modeler regardless.
    pub(crate) modeler: Modeler,
    /// Announces status changes to the API replicas.
    pub(crate) events: Publisher,
}

/// What became of a delivery; the consumer acks every outcome, and requeues on [`Retry`].
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Someone else has it, it is finished, or it no longer exists: nothing to do.
    Skipped,
    Succeeded,
    Failed,
}

impl Outcome {
    /// The status event to announce, if any.
    pub fn status(&self) -> Option<GenerationStatus> {
        match self {
            Outcome::Skipped => None,
            Outcome::Succeeded => Some(GenerationStatus::Succeeded),
            Outcome::Failed => Some(GenerationStatus::Failed),
        }
    }
}

/// A failure of our own infrastructure, not of the job: the delivery should be retried.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Retry(#[from] pub anyhow::Error);

pub(crate) async fn process(
    context: &JobContext,
    generation_id: Uuid,
    on_running: impl AsyncFnOnce(),
) -> Result<Outcome, Retry> {
    let pool = &context.pool;
    let client = pool.get().await.context("getting a database connection")?;
    let Some(generation) = generations::claim(&client, generation_id, context.config.job_lease)
        .await
        .context("claiming the job")?
    else {
        tracing::info!("job already claimed or finished; skipping duplicate delivery");
        return Ok(Outcome::Skipped);
    };
    drop(client);
    on_running().await;
    let attempt = generation.attempts;

    // Test-mode keys always use the builtin modeler, so integrators build against procmap at no LLM cost.
    let modeler = if generation.livemode {
        &context.modeler
    } else {
        &Modeler::Builtin
    };
    let result = run_engine(pool, modeler, &generation).await;
    let mut client = pool
        .get()
        .await
        .context("getting a database connection to store the result")?;
    match result {
        Ok((versions, output)) => {
            let tx = client
                .transaction()
                .await
                .context("opening a transaction")?;
            let stored = generations::complete(
                &tx,
                generation_id,
                attempt,
                &versions,
                output.usage.as_ref(),
                &output.warnings,
            )
            .await
            .context("storing the result")?;
            tx.commit().await.context("committing the result")?;
            if stored {
                Ok(Outcome::Succeeded)
            } else {
                tracing::warn!(
                    attempt,
                    "attempt no longer holds the generation; result discarded"
                );
                Ok(Outcome::Skipped)
            }
        }
        Err(JobError::Engine(e)) => {
            tracing::warn!(error = %e, "generation failed");
            let error = GenerationError {
                code: e.code().to_owned(),
                message: e.to_string(),
            };
            let stored =
                generations::fail(&client, generation_id, attempt, &error, e.usage.as_ref())
                    .await
                    .context("storing the failure")?;
            Ok(if stored {
                Outcome::Failed
            } else {
                Outcome::Skipped
            })
        }
        Err(JobError::Infrastructure(e)) => {
            // Give the job back so the redelivery can claim it at once.
            let _ = generations::release(&client, generation_id, attempt).await;
            Err(Retry(e))
        }
    }
}

enum JobError {
    /// The engine's answer is final for this input (retries already happened inside it).
    Engine(Failure),
    Infrastructure(anyhow::Error),
}

async fn run_engine(
    pool: &procmap_core::db::Pool,
    modeler: &Modeler,
    generation: &Generation,
) -> Result<(Vec<StoredVersion>, Output), JobError> {
    match &generation.request {
        GenerationRequest::Initial { prompt, language } => {
            let output = modeler
                .generate(prompt.as_str(), language.as_str())
                .await
                .map_err(JobError::Engine)?;
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
        GenerationRequest::Refinement { prompt, source } => {
            let source_xml = source_xml(pool, generation, source).await?;
            let output = modeler
                .refine(&source_xml, prompt.as_str())
                .await
                .map_err(JobError::Engine)?;
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
    }
}

/// The diagram a refinement starts from: sent inline, or stored by an earlier generation.
async fn source_xml(
    pool: &procmap_core::db::Pool,
    generation: &Generation,
    source: &RefinementSource,
) -> Result<String, JobError> {
    let (generation_id, option_number, version_number) = match source {
        RefinementSource::Inline { bpmn_xml } => return Ok(bpmn_xml.clone()),
        RefinementSource::Stored {
            generation_id,
            option_number,
            version_number,
        } => (*generation_id, *option_number, *version_number),
    };
    let client = pool
        .get()
        .await
        .context("getting a database connection to read the source")
        .map_err(JobError::Infrastructure)?;
    let lookup = generations::find_source(
        &client,
        &generation.owner,
        generation_id,
        option_number,
        version_number,
    )
    .await
    .context("reading the source diagram")
    .map_err(JobError::Infrastructure)?;
    match lookup {
        SourceLookup::Found(xml) => Ok(xml),
        other => Err(JobError::Engine(
            EngineError::InvalidSource(format!(
                "the source generation is no longer available ({other:?})"
            ))
            .into(),
        )),
    }
}
