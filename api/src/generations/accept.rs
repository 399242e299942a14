//! Accepting a generation: its quota reserved, the `queued` row committed (with the
//! idempotency record, when the request has one), then a confirmed publish of its job.
//!
//! What each guarantee rests on:
//! - **The quota holds across replicas**: `reserve_generation` locks the key's counter row for
//!   one statement, so reservations are counted one after another whichever replica makes them.
//!   Its commit does not wait for the disk, but the generation's commit does, and WAL is written
//!   in order, so a stored generation's reservation is never lost in a crash. A reservation whose
//!   generation was not stored is refunded; if the refund fails too (the database went away),
//!   the key is charged for a generation it does not have until that use leaves the window.
//! - **An idempotent retry never creates a second generation**: the Idempotency-Key's row is
//!   claimed in the transaction that stores the generation; a concurrent claim waits for that
//!   transaction and then finds the generation.
//! - **A crash between commit and publish loses nothing**: the row is committed before the
//!   publish, and a queued row without `published_at` is republished by the relay after
//!   `UNCONFIRMED_AFTER`. Jobs are published, and confirmed publishes marked, in batches
//!   ([`super::published`]).
//!
//! A request without an Idempotency-Key costs the database one durable commit (the row) plus
//! the reservation and the rate-limit count, which do not wait for the disk.

use anyhow::Context;
use procmap_core::{
    broker::{OutgoingJob, CONFIRM_TIMEOUT},
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
use uuid::Uuid;

use crate::{error::ApiError, state::AppState};

/// How long a request waits for a concurrent one holding the same Idempotency-Key.
const IDEMPOTENCY_LOCK_TIMEOUT: &str = "10s";

pub struct Accepted {
    pub generation: Generation,
    /// True when an earlier request with the same Idempotency-Key created it.
    pub replayed: bool,
}

/// Accepts a generation: an earlier one when the Idempotency-Key names it, else a new
/// `queued` one with its quota reserved, committed, then published.
pub async fn accept(
    state: &AppState,
    key: &ApiKey,
    request: &GenerationRequest,
    idempotency_key: Option<&str>,
    request_id: &str,
) -> Result<Accepted, ApiError> {
    let id = new_generation_id();
    let new = NewGeneration {
        id,
        owner: &key.owner,
        api_key_id: key.id,
        request,
        request_id,
        livemode: key.livemode,
    };
    let generation = match idempotency_key {
        None => {
            reserve(state, key, id).await?;
            let stored = async {
                let client = state.db().await?;
                anyhow::Ok(generations::insert(&client, &new).await?)
            }
            .await;
            refund_unless_stored(state, key, id, stored.context("storing the generation")).await?
        }
        Some(idempotency_key) => {
            let mut client = state.db().await?;
            let tx = client
                .transaction()
                .await
                .context("opening a transaction")?;
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
            // Only a new generation spends quota; a replay returned above. If the quota is
            // spent, dropping the transaction rolls the claim back.
            reserve(state, key, id).await?;
            let stored = async {
                let generation = generations::insert(&tx, &new).await?;
                tx.commit().await?;
                anyhow::Ok(generation)
            }
            .await;
            refund_unless_stored(state, key, id, stored.context("storing the generation")).await?
        }
    };
    metrics::counter!(
        procmap_core::metrics::GENERATIONS_ACCEPTED,
        "mode" => generation.mode.as_str(),
        "livemode" => if key.livemode { "true" } else { "false" },
    )
    .increment(1);

    // Bounded here as well as in the batch: a request that queued behind a batch the broker
    // holds still answers within one confirm timeout. Its job is committed, and is published
    // by its batch later or by the relay.
    let job = OutgoingJob::new(Job::Generate { generation_id: id });
    let published = tokio::time::timeout(CONFIRM_TIMEOUT, state.jobs.write(job)).await;
    match published {
        Ok(Ok(Ok(()))) => state.published.confirmed(id),
        Ok(Ok(Err(e))) => {
            tracing::warn!(generation_id = %id, error = %e, "job not published; the relay will retry")
        }
        Ok(Err(e)) => {
            tracing::warn!(generation_id = %id, error = format!("{e:#}"), "job not published; the relay will retry")
        }
        Err(_) => {
            tracing::warn!(generation_id = %id, "job not confirmed in time; the relay will retry")
        }
    }
    Ok(Accepted {
        generation,
        replayed: false,
    })
}

/// Reserves one generation of the key's quota for generation `id`, or refuses the request.
async fn reserve(state: &AppState, key: &ApiKey, id: Uuid) -> Result<(), ApiError> {
    let config = &state.config;
    let client = state.budgets().await?;
    let reservation = limits::reserve_generation(
        &client,
        key.id,
        id,
        config.generation_quota,
        config.generation_quota_window,
    )
    .await
    .context("reserving the key's quota")?;
    if reservation.reserved {
        Ok(())
    } else {
        Err(ApiError::QuotaExceeded {
            quota: config.generation_quota,
            window_days: config.generation_quota_window.as_secs() / 86_400,
            retry_after: reservation.frees_in,
        })
    }
}

/// Passes a stored generation through; when storing failed, hands its reservation back first.
async fn refund_unless_stored(
    state: &AppState,
    key: &ApiKey,
    id: Uuid,
    stored: anyhow::Result<Generation>,
) -> Result<Generation, ApiError> {
    let error = match stored {
        Ok(generation) => return Ok(generation),
        Err(error) => error,
    };
    let refunded = async {
        let client = state.budgets().await?;
        anyhow::Ok(limits::refund_generation(&client, key.id, id).await?)
    }
    .await;
    if let Err(e) = refunded {
        tracing::warn!(generation_id = %id, error = format!("{e:#}"), "could not refund a quota reservation");
    }
    Err(error.into())
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
