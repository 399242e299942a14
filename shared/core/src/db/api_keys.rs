//! The `api_keys` table: hashed secrets with their owner, scopes and lifetime.

use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

use super::GenericClient;

/// A key as stored. The secret itself is never stored, only its hash.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: Uuid,
    /// Whose generations this key creates and reads.
    pub owner: String,
    pub scopes: Vec<String>,
    /// Live keys use the deployment's provider; test keys always use the builtin modeler.
    pub livemode: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    fn from_row(row: &Row) -> Self {
        ApiKey {
            id: row.get("id"),
            owner: row.get("owner"),
            scopes: row.get("scopes"),
            livemode: row.get("livemode"),
            created_at: row.get("created_at"),
            expires_at: row.get("expires_at"),
            revoked_at: row.get("revoked_at"),
        }
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

pub struct NewApiKey<'a> {
    pub id: Uuid,
    pub owner: &'a str,
    pub secret_hash: &'a [u8],
    pub scopes: &'a [String],
    pub livemode: bool,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn insert(
    client: &impl GenericClient,
    key: &NewApiKey<'_>,
) -> Result<ApiKey, tokio_postgres::Error> {
    let row = client
        .query_one(
            "INSERT INTO api_keys (id, owner, secret_hash, scopes, livemode, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING id, owner, scopes, livemode, created_at, expires_at, revoked_at",
            &[
                &key.id,
                &key.owner,
                &key.secret_hash,
                &key.scopes,
                &key.livemode,
                &key.expires_at,
            ],
        )
        .await?;
    Ok(ApiKey::from_row(&row))
}

pub async fn find_by_hash(
    client: &impl GenericClient,
    secret_hash: &[u8],
) -> Result<Option<ApiKey>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT id, owner, scopes, livemode, created_at, expires_at, revoked_at
             FROM api_keys WHERE secret_hash = $1",
            &[&secret_hash],
        )
        .await?;
    Ok(row.as_ref().map(ApiKey::from_row))
}

/// Revokes a key; answers whether a key with that id exists. Revoking twice keeps the first time.
pub async fn revoke(client: &impl GenericClient, id: Uuid) -> Result<bool, tokio_postgres::Error> {
    let n = client
        .execute(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1",
            &[&id],
        )
        .await?;
    Ok(n == 1)
}
