//! Accepting a generation: the idempotency record and the `queued` row in one transaction, then
//! a confirmed publish of its job.
//!
//! If the publish fails, the row stays with `published_at` NULL and the relay republishes it, so
//! a crash or broker outage between commit and publish loses nothing.

use anyhow::Context;
use procmap_core::{
    db::{
        api_keys::ApiKey,
        generations::{self, Generation, NewGeneration},
        idempotency::{self, Claim},
        limits, GenericClient,
    },
    domain::{new_generation_id, GenerationRequest},
    messages::Job,
};
use sha2::{Digest, Sha256};
use tokio_postgres::error::SqlState;

use crate::{error::ApiError, state::AppState};

/// How long a request waits for a concurrent one holding the same Idempotency-Key.
const IDEMPOTENCY_LOCK_TIMEOUT: &str = "10s";

pub struct Accepted {
    pub generation: Generation,
    /// True when an earlier request with the same Idempotency-Key created it.
    pub replayed: bool,
}

/// Accepts a generation: an earlier one when the Idempotency-Key names it, else a new
/// `queued` one with its quota counted, committed, then published.
pub async fn accept(
    state: &AppState,
    key: &ApiKey,
    request: &GenerationRequest,
    idempotency_key: Option<&str>,
    request_id: &str,
) -> Result<Accepted, ApiError> {
    let mut client = state.db().await?;
    let tx = client
        .transaction()
        .await
        .context("opening a transaction")?;
    let id = new_generation_id();
    if let Some(idempotency_key) = idempotency_key {
        if let Some(earlier) = claim_key(&tx, key, idempotency_key, request, id).await? {
            tx.rollback().await.context("rolling back a replay")?;
            let generation = generations::get(&client, earlier)
                .await
                .context("reading the generation an Idempotency-Key names")?
                .ok_or_else(|| {
                    anyhow::anyhow!("idempotency record points at missing generation {earlier}")
                })?;
            return Ok(Accepted {
                generation,
                replayed: true,
            });
        }
    }
    // Only a new generation spends quota; a replay returned before this point.
    let config = &state.config;
    let quota = limits::quota_use(&tx, key.id, config.generation_quota_window)
        .await
        .context("counting the key's quota")?;
    if quota.used >= config.generation_quota {
        return Err(ApiError::QuotaExceeded {
            quota: config.generation_quota,
            window_days: config.generation_quota_window.as_secs() / 86_400,
            retry_after: quota.frees_in,
        });
    }
    let generation = generations::insert(
        &tx,
        &NewGeneration {
            id,
            owner: &key.owner,
            api_key_id: key.id,
            request,
            request_id,
            livemode: key.livemode,
        },
    )
    .await
    .context("storing the generation")?;
    limits::record_generation(&tx, key.id, id)
        .await
        .context("recording the generation against the quota")?;
    tx.commit().await.context("committing the generation")?;
    metrics::counter!(
        procmap_core::metrics::GENERATIONS_ACCEPTED,
        "mode" => generation.mode.as_str(),
        "livemode" => if key.livemode { "true" } else { "false" },
    )
    .increment(1);

    match state
        .publisher
        .publish_job(&Job::Generate { generation_id: id })
        .await
    {
        Ok(()) => generations::mark_published(&client, id)
            .await
            .context("marking the job published")?,
        Err(e) => {
            tracing::warn!(generation_id = %id, error = %e, "job not published; the relay will retry")
        }
    }
    Ok(Accepted {
        generation,
        replayed: false,
    })
}

/// Claims an Idempotency-Key for generation `id` inside the accepting transaction. Answers the
/// generation an earlier request with the same key and body created, if there is one; the
/// same key with another body is refused.
async fn claim_key(
    tx: &impl GenericClient,
    key: &ApiKey,
    idempotency_key: &str,
    request: &GenerationRequest,
    id: uuid::Uuid,
) -> Result<Option<uuid::Uuid>, ApiError> {
    tx.batch_execute(&format!(
        "SET LOCAL lock_timeout = '{IDEMPOTENCY_LOCK_TIMEOUT}'"
    ))
    .await
    .context("bounding the wait for the Idempotency-Key")?;
    let hash = request_hash(request);
    let claim = idempotency::claim(tx, &key.owner, idempotency_key, &hash, id)
        .await
        .map_err(|e| {
            if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) {
                ApiError::Conflict {
                    code: "request_in_progress",
                    message:
                        "a request with this Idempotency-Key is still being accepted; retry shortly"
                            .into(),
                }
            } else {
                anyhow::Error::new(e)
                    .context("claiming the Idempotency-Key")
                    .into()
            }
        })?;
    match claim {
        Claim::Fresh => Ok(None),
        Claim::Existing { request_hash, .. } if request_hash != hash => {
            Err(ApiError::ValidationFailed {
                param: Some("Idempotency-Key".into()),
                message: "this Idempotency-Key was already used with a different request body"
                    .into(),
                problems: Vec::new(),
            })
        }
        Claim::Existing { generation_id, .. } => Ok(Some(generation_id)),
    }
}

/// The fingerprint an Idempotency-Key is bound to: the request after defaults are applied, so
/// `{"language": "english"}` and an omitted language count as the same body.
fn request_hash(request: &GenerationRequest) -> Vec<u8> {
    let canonical = serde_json::to_vec(request).unwrap_or_default();
    Sha256::digest(&canonical).to_vec()
}
