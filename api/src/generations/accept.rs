//! Accepting a generation: its quota reserved, the `queued` row committed (with the
//! idempotency record, when the request has one), then a confirmed publish of its job.
//!
//! What each guarantee rests on:
//! - **The quota holds across replicas**: a replica reserves a key's quota in blocks
//!   ([`super::quota_tokens`], which says what a block may cost) through
//!   `reserve_generations`, which locks the key's counter row for one statement, so blocks are
//!   counted one after another whichever replica reserves them. Its commit does not wait for
//!   the disk, but the generation's commit does, and WAL is written in order, so a stored
//!   generation's reservation is never lost in a crash. A reservation whose generation was not
//!   stored goes back to its lease, or is refunded; if the refund fails too (the database went
//!   away), the key is charged for a generation it does not have until that use leaves the
//!   window.
//! - **An idempotent retry never creates a second generation**: the Idempotency-Key's row is
//!   claimed in the transaction that stores the generation; a concurrent claim waits for that
//!   transaction and then finds the generation.
//! - **A crash between commit and publish loses nothing**: the row is committed before the
//!   publish, and a queued row without `published_at` is republished by the relay after
//!   `UNCONFIRMED_AFTER`. Jobs are published, and confirmed publishes marked, in batches
//!   ([`super::published`]).
//!
//! A request without an Idempotency-Key costs the database a share of one durable commit: its
//! row is stored with those of the requests accepted at once ([`super::inserts`]). For a busy
//! key, the quota and the rate limit are counted once per block of requests, on connections
//! that do not wait for the disk.

use anyhow::Context;
use procmap_core::{
    db::{
        api_keys::ApiKey,
        diagrams::{self, NewDiagram},
        generations::{self, Generation, NewGeneration},
        idempotency::{self, Claim},
        limits, GenericClient,
    },
    domain::{GenerationRequest, Name, SteeringContext},
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_postgres::error::SqlState;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::quota_tokens::{self, Taken};
use crate::{error::ApiError, state::AppState};

/// How long a request waits for a concurrent one holding the same Idempotency-Key.
const IDEMPOTENCY_LOCK_TIMEOUT: &str = "10s";

/// A generation made for a diagram: its result becomes the diagram's next version.
#[derive(Debug, Clone, Serialize)]
pub struct ForDiagram {
    pub diagram_id: Uuid,
    /// Which option becomes the version (1 for a refinement, which has one).
    pub option_number: i32,
    /// The diagram to create with the generation, in its transaction; `None` for an existing one.
    pub create: Option<DiagramToCreate>,
}

/// A diagram made from a prompt: stored with its generation, its version 1 still to come.
#[derive(Debug, Clone, Serialize)]
pub struct DiagramToCreate {
    pub name: Name,
    pub folder_id: Option<Uuid>,
}

/// What to accept: the request, the diagram it is for, and the contexts that steer it.
pub struct Acceptance<'a> {
    pub request: &'a GenerationRequest,
    pub diagram: Option<&'a ForDiagram>,
    pub context: &'a [SteeringContext],
}

pub struct Accepted {
    pub generation: Generation,
    /// True when an earlier request with the same Idempotency-Key created it.
    pub replayed: bool,
}

/// Accepts a generation: an earlier one when the Idempotency-Key names it, else a new
/// `queued` one, `id`, with its quota reserved, committed, then published.
pub async fn accept(
    state: &AppState,
    key: &ApiKey,
    acceptance: &Acceptance<'_>,
    idempotency_key: Option<&str>,
    request_id: &str,
    id: Uuid,
) -> Result<Accepted, ApiError> {
    let new = NewGeneration {
        id,
        owner: &key.owner,
        api_key_id: key.id,
        request: acceptance.request,
        request_id,
        livemode: key.livemode,
        diagram: acceptance.diagram.map(|d| (d.diagram_id, d.option_number)),
        context: acceptance.context,
    };
    let creates_diagram = acceptance
        .diagram
        .and_then(|d| d.create.as_ref().map(|c| (d.diagram_id, c)));
    let generation = match (idempotency_key, creates_diagram) {
        (None, Some((diagram_id, create))) => {
            let lease = reserve(state, key).await?;
            let stored = async {
                let mut client = state.db().await?;
                let tx = client
                    .transaction()
                    .await
                    .context("opening a transaction")?;
                insert_diagram(&tx, key, diagram_id, create, id).await?;
                let generation = generations::insert(&tx, &new)
                    .await
                    .context("storing the generation")?;
                tx.commit().await.context("storing the generation")?;
                Ok::<_, ApiError>(generation)
            }
            .await;
            refund_unless_stored(state, key, lease, stored).await?
        }
        (None, None) => {
            let lease = reserve(state, key).await?;
            // Stored with the other requests' rows waiting, one commit for them all.
            let stored = state.inserts.store(&new).await;
            refund_unless_stored(state, key, lease, stored).await?
        }
        (Some(idempotency_key), creates_diagram) => {
            let mut client = state.db().await?;
            let tx = client
                .transaction()
                .await
                .context("opening a transaction")?;
            if let Some(earlier) = claim_key(&tx, key, idempotency_key, acceptance, id).await? {
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
            let lease = reserve(state, key).await?;
            let stored = async {
                if let Some((diagram_id, create)) = creates_diagram {
                    insert_diagram(&tx, key, diagram_id, create, id).await?;
                }
                let generation = generations::insert(&tx, &new)
                    .await
                    .context("storing the generation")?;
                tx.commit().await.context("storing the generation")?;
                Ok::<_, ApiError>(generation)
            }
            .await;
            refund_unless_stored(state, key, lease, stored).await?
        }
    };
    metrics::counter!(
        procmap_core::metrics::GENERATIONS_ACCEPTED,
        "mode" => generation.mode.as_str(),
        "livemode" => if key.livemode { "true" } else { "false" },
    )
    .increment(1);

    // Answered without waiting for the broker: the row is committed, so the job is safe.
    state.jobs.publish(id);
    Ok(Accepted {
        generation,
        replayed: false,
    })
}

/// Takes one generation of the key's quota, or refuses the request. Answers the lease it came
/// from, to hand it back if the generation is not stored.
async fn reserve(state: &AppState, key: &ApiKey) -> Result<Uuid, ApiError> {
    let config = &state.config;
    let taken = state
        .quota_tokens
        .take(key.id, config.generation_quota, |lease, units| async move {
            let client = state.budgets().await?;
            let reservation = limits::reserve_generations(
                &client,
                key.id,
                lease,
                units,
                config.generation_quota,
                config.generation_quota_window,
            )
            .await
            .context("reserving the key's quota")?;
            Ok::<_, ApiError>(reservation)
        })
        .await?;
    match taken {
        Taken::Granted { lease } => Ok(lease),
        Taken::Spent { frees_in } => Err(ApiError::QuotaExceeded {
            quota: config.generation_quota,
            window_days: config.generation_quota_window.as_secs() / 86_400,
            retry_after: frees_in,
        }),
    }
}

/// Stores the diagram a generation is made for, in the generation's transaction. A folder
/// deleted since the request was checked is the client's 404, not a failure of ours.
async fn insert_diagram(
    tx: &impl GenericClient,
    key: &ApiKey,
    diagram_id: Uuid,
    create: &DiagramToCreate,
    generation_id: Uuid,
) -> Result<(), ApiError> {
    let new = NewDiagram {
        id: diagram_id,
        folder_id: create.folder_id,
        name: &create.name,
        generation_id: Some(generation_id),
    };
    diagrams::insert(tx, &key.workspace(), &new)
        .await
        .map_err(|e| {
            if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) {
                crate::folders::folder_gone("folder_id", create.folder_id)
            } else {
                anyhow::Error::new(e).context("storing the diagram").into()
            }
        })
}

/// Passes a stored generation through; when storing failed, hands its reservation back to
/// its lease first, or to the shared count if that lease is gone.
async fn refund_unless_stored(
    state: &AppState,
    key: &ApiKey,
    lease: Uuid,
    stored: Result<Generation, ApiError>,
) -> Result<Generation, ApiError> {
    let error = match stored {
        Ok(generation) => return Ok(generation),
        Err(error) => error,
    };
    if state.quota_tokens.give_back(key.id, lease).await {
        return Err(error);
    }
    let refunded = async {
        let client = state.budgets().await?;
        anyhow::Ok(limits::refund_generations(&client, key.id, lease, 1).await?)
    }
    .await;
    if let Err(e) = refunded {
        tracing::warn!(%lease, error = format!("{e:#}"), "could not refund a quota reservation");
    }
    Err(error)
}

/// Claims an Idempotency-Key for generation `id` inside the accepting transaction. Answers the
/// generation an earlier request with the same key and body created, if there is one; the
/// same key with another body is refused.
async fn claim_key(
    tx: &impl GenericClient,
    key: &ApiKey,
    idempotency_key: &str,
    acceptance: &Acceptance<'_>,
    id: uuid::Uuid,
) -> Result<Option<uuid::Uuid>, ApiError> {
    tx.batch_execute(&format!(
        "SET LOCAL lock_timeout = '{IDEMPOTENCY_LOCK_TIMEOUT}'"
    ))
    .await
    .context("bounding the wait for the Idempotency-Key")?;
    let hash = request_hash(acceptance);
    let claim = idempotency::claim(tx, &key.workspace(), idempotency_key, &hash, id)
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
/// `{"language": "english"}` and an omitted language count as the same body. A request that
/// makes a diagram adds the diagram's name, folder and option, but not its id, which is new on
/// every attempt.
fn request_hash(acceptance: &Acceptance<'_>) -> Vec<u8> {
    let mut canonical = serde_json::to_vec(acceptance.request).unwrap_or_default();
    if let Some(diagram) = acceptance.diagram {
        let target = match &diagram.create {
            Some(create) => {
                serde_json::json!({"create": create, "option_number": diagram.option_number})
            }
            None => serde_json::json!({"diagram_id": diagram.diagram_id}),
        };
        canonical.extend_from_slice(target.to_string().as_bytes());
    }
    Sha256::digest(&canonical).to_vec()
}

/// Hands back the quota leases idle for [`quota_tokens::IDLE`], every `IDLE`, until
/// `shutdown`; then every lease's units.
pub async fn hand_back_idle(state: AppState, shutdown: CancellationToken) {
    let refund = |key: Uuid, lease: Uuid, units: i64| {
        let state = &state;
        async move {
            let client = state.budgets().await?;
            limits::refund_generations(&client, key, lease, units)
                .await
                .context("handing back unused quota")?;
            anyhow::Ok(())
        }
    };
    loop {
        tokio::select! {
            () = tokio::time::sleep(quota_tokens::IDLE) => {}
            () = shutdown.cancelled() => break,
        }
        state.quota_tokens.return_idle(false, &refund).await;
    }
    // Serving has stopped, so no lease is taken from any more.
    state.quota_tokens.return_idle(true, refund).await;
}
