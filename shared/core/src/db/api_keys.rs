//! The `api_keys` table: hashed secrets with their owner, scopes and lifetime.

use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

use super::{GenericClient, RowError};
use crate::domain::{Owner, Scope, Workspace};

/// A key as stored. The secret itself is never stored, only its hash.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: Uuid,
    /// Whose generations this key creates and reads.
    pub owner: Owner,
    pub scopes: Vec<Scope>,
    /// Live keys use the deployment's provider; test keys always use the builtin modeler.
    pub livemode: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    fn from_row(row: &Row) -> Result<Self, RowError> {
        let id: Uuid = row.try_get("id")?;
        let corrupt = |column, value: String| RowError::Corrupt { id, column, value };
        let owner: String = row.try_get("owner")?;
        let scopes = row
            .try_get::<_, Vec<String>>("scopes")?
            .into_iter()
            .map(|s| Scope::parse(&s).ok_or_else(|| corrupt("scopes", s.clone())))
            .collect::<Result<_, _>>()?;
        Ok(ApiKey {
            id,
            owner: Owner::parse(&owner).map_err(|_| corrupt("owner", owner.clone()))?,
            scopes,
            livemode: row.try_get("livemode")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            revoked_at: row.try_get("revoked_at")?,
        })
    }

    /// The data this key acts on: its owner's, in its mode.
    pub fn workspace(&self) -> Workspace {
        Workspace {
            owner: self.owner.clone(),
            livemode: self.livemode,
        }
    }

    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

pub struct NewApiKey<'a> {
    pub id: Uuid,
    pub owner: &'a Owner,
    pub secret_hash: &'a [u8],
    pub scopes: &'a [Scope],
    pub livemode: bool,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn insert(client: &impl GenericClient, key: &NewApiKey<'_>) -> Result<ApiKey, RowError> {
    let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
    let row = client
        .query_one(
            "INSERT INTO api_keys (id, owner, secret_hash, scopes, livemode, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING id, owner, scopes, livemode, created_at, expires_at, revoked_at",
            &[
                &key.id,
                &key.owner.as_str(),
                &key.secret_hash,
                &scopes,
                &key.livemode,
                &key.expires_at,
            ],
        )
        .await?;
    ApiKey::from_row(&row)
}

pub async fn find_by_hash(
    client: &impl GenericClient,
    secret_hash: &[u8],
) -> Result<Option<ApiKey>, RowError> {
    let row = client
        .query_opt(
            "SELECT id, owner, scopes, livemode, created_at, expires_at, revoked_at
             FROM api_keys WHERE secret_hash = $1",
            &[&secret_hash],
        )
        .await?;
    row.as_ref().map(ApiKey::from_row).transpose()
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
