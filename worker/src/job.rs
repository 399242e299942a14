//! Running one generation job. Postgres is the truth and every delivery may be a duplicate: the
//! job is claimed with a conditional update, and the result is written only if this attempt
//! still holds it.

use procmap_core::{
    config::Config,
    db::{
        self,
        generations::{self, Generation, SourceLookup},
    },
    domain::{
        GenerationError, GenerationRequest, GenerationStatus, RefinementSource, StoredVersion,
    },
};
use procmap_engine::{EngineError, Failure, Modeler, Output};
use uuid::Uuid;

/// What became of a delivery; the consumer acks every outcome, and requeues on [`Retry`].
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Someone else has it, it is finished, or it no longer exists: nothing to do.
    Skipped,
    Succeeded,
    Failed,
}

/// A failure of our own infrastructure, not of the job: the delivery should be retried.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Retry(#[from] anyhow::Error);

pub async fn process(
    pool: &db::Pool,
    config: &Config,
    modeler: &Modeler,
    generation_id: Uuid,
    on_running: impl AsyncFnOnce(),
) -> Result<Outcome, Retry> {
    let client = pool.get().await.map_err(anyhow::Error::from)?;
    let Some(generation) = generations::claim(&client, generation_id, config.job_lease)
        .await
        .map_err(anyhow::Error::from)?
    else {
        tracing::info!(%generation_id, "job already claimed or finished; skipping duplicate delivery");
        return Ok(Outcome::Skipped);
    };
    drop(client);
    on_running().await;
    let attempt = generation.attempts;

    // Test-mode keys always use the builtin modeler, so integrators build against procmap at no LLM cost.
    let modeler = if generation.livemode {
        modeler
    } else {
        &Modeler::Builtin
    };
    let result = run_engine(pool, modeler, &generation).await;
    let mut client = pool.get().await.map_err(anyhow::Error::from)?;
    match result {
        Ok((versions, output)) => {
            let tx = client.transaction().await.map_err(anyhow::Error::from)?;
            let stored = generations::complete(
                &tx,
                generation_id,
                attempt,
                &versions,
                output.usage.as_ref(),
                &output.warnings,
            )
            .await
            .map_err(anyhow::Error::from)?;
            tx.commit().await.map_err(anyhow::Error::from)?;
            if stored {
                Ok(Outcome::Succeeded)
            } else {
                tracing::warn!(%generation_id, attempt, "attempt no longer holds the generation; result discarded");
                Ok(Outcome::Skipped)
            }
        }
        Err(JobError::Engine(e)) => {
            tracing::warn!(%generation_id, error = %e, "generation failed");
            let error = GenerationError {
                code: e.code().to_owned(),
                message: e.to_string(),
            };
            let stored =
                generations::fail(&client, generation_id, attempt, &error, e.usage.as_ref())
                    .await
                    .map_err(anyhow::Error::from)?;
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
    pool: &db::Pool,
    modeler: &Modeler,
    generation: &Generation,
) -> Result<(Vec<StoredVersion>, Output), JobError> {
    match &generation.request {
        GenerationRequest::Initial { prompt, language } => {
            let output = modeler
                .generate(prompt, language)
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
            let source_xml = match source {
                RefinementSource::Inline { bpmn_xml } => bpmn_xml.clone(),
                RefinementSource::Stored {
                    generation_id,
                    option_number,
                    version_number,
                } => {
                    let client = pool
                        .get()
                        .await
                        .map_err(|e| JobError::Infrastructure(e.into()))?;
                    match generations::find_source(
                        &client,
                        &generation.owner,
                        *generation_id,
                        *option_number,
                        *version_number,
                    )
                    .await
                    .map_err(|e| JobError::Infrastructure(e.into()))?
                    {
                        SourceLookup::Found(xml) => xml,
                        other => {
                            return Err(JobError::Engine(
                                EngineError::InvalidSource(format!(
                                    "the source generation is no longer available ({other:?})"
                                ))
                                .into(),
                            ))
                        }
                    }
                }
            };
            let output = modeler
                .refine(&source_xml, prompt)
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
