//! API keys: minting secrets, and the `keys create` and `keys revoke` commands.
//!
//! Secrets are `pm_sk_live_` or `pm_sk_test_` followed by 32 random base62 characters (about
//! 190 bits). Only their SHA-256 is stored; a request's key is found by hashing what it sent and
//! looking the hash up, so no secret is ever compared byte by byte and response timing reveals
//! nothing about a stored secret.

use anyhow::Context;
use chrono::{DateTime, Utc};
use procmap_core::{
    db::{self, api_keys},
    domain::{InvalidOwner, Owner, Scope},
};
use rand::{distributions::Alphanumeric, rngs::OsRng, Rng};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const LIVE_PREFIX: &str = "pm_sk_live_";
pub const TEST_PREFIX: &str = "pm_sk_test_";
const SECRET_CHARS: usize = 32;

pub fn new_secret(livemode: bool) -> String {
    let random: String = OsRng
        .sample_iter(&Alphanumeric)
        .take(SECRET_CHARS)
        .map(char::from)
        .collect();
    format!(
        "{}{random}",
        if livemode { LIVE_PREFIX } else { TEST_PREFIX }
    )
}

pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// A key just created: the only time its secret is ever shown.
#[derive(Debug, Serialize)]
pub struct CreatedKey {
    pub id: Uuid,
    pub key: String,
    pub owner: Owner,
    pub scopes: Vec<Scope>,
    pub livemode: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("unknown scope {0:?}; scopes are: {scopes}", scopes = scope_names())]
    UnknownScope(String),
    #[error("a key needs at least one scope")]
    NoScopes,
    #[error(transparent)]
    BadOwner(#[from] InvalidOwner),
    #[error("no API key with id {0}")]
    NotFound(Uuid),
    #[error(transparent)]
    Database(#[from] anyhow::Error),
}

fn scope_names() -> String {
    Scope::ALL.map(Scope::as_str).join(", ")
}

/// A comma-separated list of seed 001's scopes, without repeats.
pub fn parse_scopes(list: &str) -> Result<Vec<Scope>, KeyError> {
    let mut scopes: Vec<Scope> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let scope = Scope::parse(name).ok_or_else(|| KeyError::UnknownScope(name.to_owned()))?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    if scopes.is_empty() {
        return Err(KeyError::NoScopes);
    }
    Ok(scopes)
}

pub async fn create(
    pool: &db::Pool,
    owner: &Owner,
    scopes: Vec<Scope>,
    livemode: bool,
    expires_at: Option<DateTime<Utc>>,
) -> Result<CreatedKey, KeyError> {
    let secret = new_secret(livemode);
    let client = pool.get().await.context("getting a database connection")?;
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
    .context("storing the key")?;
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

pub async fn revoke(pool: &db::Pool, id: Uuid) -> Result<(), KeyError> {
    let client = pool.get().await.context("getting a database connection")?;
    if api_keys::revoke(&client, id)
        .await
        .context("revoking the key")?
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
    fn secrets_carry_their_mode_and_enough_randomness() {
        let live = new_secret(true);
        assert!(live.starts_with(LIVE_PREFIX));
        assert_eq!(live.len(), LIVE_PREFIX.len() + SECRET_CHARS);
        assert!(new_secret(false).starts_with(TEST_PREFIX));
        assert_ne!(new_secret(true), new_secret(true));
        assert_eq!(hash_secret("x").len(), 32);
    }

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
