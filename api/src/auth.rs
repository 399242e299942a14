//! API keys: minting secrets, and the extractor that authenticates each request.
//!
//! Secrets are `pm_sk_live_` or `pm_sk_test_` followed by 32 random base62 characters (about
//! 190 bits). Only their SHA-256 is stored; a request's key is found by hashing what it sent,
//! so no stored secret is ever compared byte by byte.

use axum::{extract::FromRequestParts, http::request::Parts};
use chrono::Utc;
use procmap_shared::db::api_keys::{self, ApiKey};
use rand::{distributions::Alphanumeric, rngs::OsRng, Rng};
use sha2::{Digest, Sha256};

use crate::{error::ApiError, state::AppState};

pub const LIVE_PREFIX: &str = "pm_sk_live_";
pub const TEST_PREFIX: &str = "pm_sk_test_";
const SECRET_CHARS: usize = 32;

/// Scopes of seed 001.
pub const SCOPES: &[&str] = &[
    "diagrams:read",
    "diagrams:write",
    "folders:read",
    "folders:write",
    "generate",
];

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

/// A request whose API key is valid: present, known, not revoked and not expired.
pub struct Authenticated(pub ApiKey);

impl Authenticated {
    /// Fails with `insufficient_scope` unless the key holds one of `scopes`.
    pub fn require_any(&self, scopes: &[&str]) -> Result<(), ApiError> {
        if scopes.iter().any(|s| self.0.has_scope(s)) {
            Ok(())
        } else {
            Err(ApiError::InsufficientScope(scopes.join(" or ")))
        }
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or(ApiError::MissingApiKey)?;
        let value = header
            .to_str()
            .map_err(|_| ApiError::InvalidApiKey("the Authorization header is not valid text"))?;
        let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::InvalidApiKey(
                "use the Bearer scheme: `Authorization: Bearer pm_sk_…`",
            ));
        }
        let token = token.trim();
        if token.is_empty() {
            return Err(ApiError::MissingApiKey);
        }
        if !(token.starts_with(LIVE_PREFIX) || token.starts_with(TEST_PREFIX)) {
            return Err(ApiError::InvalidApiKey("the API key is not valid"));
        }
        let client = state.pool.get().await?;
        let key = api_keys::find_by_hash(&client, &hash_secret(token))
            .await?
            .ok_or(ApiError::InvalidApiKey("the API key is not valid"))?;
        if key.revoked_at.is_some() {
            return Err(ApiError::RevokedApiKey);
        }
        if key.expires_at.is_some_and(|at| at <= Utc::now()) {
            return Err(ApiError::ExpiredApiKey);
        }
        Ok(Authenticated(key))
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
}
