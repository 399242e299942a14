//! The `idempotency_keys` table: which generation a workspace's `Idempotency-Key` created.
//!
//! Records are kept 24 hours; after that the same key may create a new generation.

use uuid::Uuid;

use super::GenericClient;
use crate::domain::Workspace;

/// The outcome of claiming a key inside the accepting transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours; the caller must write `generation_id` in the same transaction.
    Fresh,
    /// The key already names a generation created by an earlier request.
    Existing {
        generation_id: Uuid,
        request_hash: Vec<u8>,
    },
}

/// Claims `key` for `generation_id`. A concurrent claim of the same key waits for the first
/// transaction to end, so exactly one of them ever sees `Fresh`.
pub async fn claim(
    client: &impl GenericClient,
    workspace: &Workspace,
    key: &str,
    request_hash: &[u8],
    generation_id: Uuid,
) -> Result<Claim, tokio_postgres::Error> {
    let inserted = client
        .query_opt(
            "INSERT INTO idempotency_keys (owner, livemode, key, request_hash, generation_id)
             VALUES ($1, $5, $2, $3, $4)
             ON CONFLICT (owner, livemode, key) DO UPDATE
                 SET request_hash = EXCLUDED.request_hash,
                     generation_id = EXCLUDED.generation_id,
                     created_at = now()
                 WHERE idempotency_keys.created_at < now() - interval '24 hours'
             RETURNING generation_id",
            &[
                &workspace.owner.as_str(),
                &key,
                &request_hash,
                &generation_id,
                &workspace.livemode,
            ],
        )
        .await?;
    if inserted.is_some() {
        return Ok(Claim::Fresh);
    }
    let row = client
        .query_one(
            "SELECT generation_id, request_hash FROM idempotency_keys
             WHERE owner = $1 AND livemode = $3 AND key = $2",
            &[&workspace.owner.as_str(), &key, &workspace.livemode],
        )
        .await?;
    Ok(Claim::Existing {
        generation_id: row.get(0),
        request_hash: row.get(1),
    })
}
