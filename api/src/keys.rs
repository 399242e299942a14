//! `procmap-api keys create` and `keys revoke`: minting and revoking API keys.

use chrono::{DateTime, Utc};
use procmap_core::db::{self, api_keys};
use serde::Serialize;
use uuid::Uuid;

use crate::auth::{hash_secret, new_secret, SCOPES};

/// A key just created: the only time its secret is ever shown.
#[derive(Debug, Serialize)]
pub struct CreatedKey {
    pub id: Uuid,
    pub key: String,
    pub owner: String,
    pub scopes: Vec<String>,
    pub livemode: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("unknown scope {0:?}; scopes are: {scopes}", scopes = SCOPES.join(", "))]
    UnknownScope(String),
    #[error("a key needs at least one scope")]
    NoScopes,
    #[error("the owner must be 1 to 200 characters")]
    BadOwner,
    #[error("no API key with id {0}")]
    NotFound(Uuid),
    #[error(transparent)]
    Database(#[from] anyhow::Error),
}

pub fn parse_scopes(list: &str) -> Result<Vec<String>, KeyError> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !SCOPES.contains(&scope) {
            return Err(KeyError::UnknownScope(scope.to_owned()));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    if scopes.is_empty() {
        return Err(KeyError::NoScopes);
    }
    Ok(scopes)
}

pub async fn create(
    pool: &deadpool_postgres::Pool,
    owner: &str,
    scopes: Vec<String>,
    livemode: bool,
    expires_at: Option<DateTime<Utc>>,
) -> Result<CreatedKey, KeyError> {
    let owner = owner.trim();
    if owner.is_empty() || owner.chars().count() > 200 {
        return Err(KeyError::BadOwner);
    }
    let secret = new_secret(livemode);
    let client = pool.get().await.map_err(anyhow::Error::from)?;
    let stored = api_keys::insert(
        &client,
        &api_keys::NewApiKey {
            id: Uuid::now_v7(),
            owner,
            secret_hash: &hash_secret(&secret),
            scopes: &scopes,
            livemode,
            expires_at,
        },
    )
    .await
    .map_err(anyhow::Error::from)?;
    Ok(CreatedKey {
        id: stored.id,
        key: secret,
        owner: stored.owner,
        scopes: stored.scopes,
        livemode: stored.livemode,
        created_at: stored.created_at,
        expires_at: stored.expires_at,
    })
}

pub async fn revoke(pool: &deadpool_postgres::Pool, id: Uuid) -> Result<(), KeyError> {
    let client = pool.get().await.map_err(anyhow::Error::from)?;
    if db::api_keys::revoke(&client, id)
        .await
        .map_err(anyhow::Error::from)?
    {
        Ok(())
    } else {
        Err(KeyError::NotFound(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_checked_against_seed_001() {
        assert_eq!(
            parse_scopes("generate, diagrams:read,generate").expect("valid"),
            ["generate", "diagrams:read"]
        );
        assert!(
            matches!(parse_scopes("generate,admin"), Err(KeyError::UnknownScope(s)) if s == "admin")
        );
        assert!(matches!(parse_scopes(" , "), Err(KeyError::NoScopes)));
    }
}
