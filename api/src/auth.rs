//! API keys: minting secrets, and the extractor that authenticates each request.
//!
//! Secrets are `pm_sk_live_` or `pm_sk_test_` followed by 32 random base62 characters (about
//! 190 bits). Only their SHA-256 is stored; a request's key is found by hashing what it sent and
//! looking the hash up, so no secret is ever compared byte by byte and response timing reveals
//! nothing about a stored secret. Keys are never logged: the request span records no headers.

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{request::Parts, HeaderMap, HeaderValue},
    middleware::Next,
    response::{IntoResponse, Response},
};
use chrono::Utc;
use procmap_core::db::{
    api_keys::{self, ApiKey},
    limits,
};
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

/// A request whose API key is valid: present, known, not revoked and not expired. Put in the
/// request's extensions by [`authenticate`]; handlers take it as an extractor.
#[derive(Clone)]
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

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Authenticated>()
            .cloned()
            .ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!(
                    "route is missing the authenticate middleware"
                ))
            })
    }
}

/// Middleware for every `/api/v1` resource: authenticates the key, counts the request against the
/// key's rate limit (shared by all replicas), and adds the `RateLimit-*` headers to the answer.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let key = match key_of(&state, request.headers()).await {
        Ok(key) => key,
        Err(e) => return e.into_response(),
    };
    let window = state.config.rate_limit_window;
    let limit = state.config.rate_limit;
    let counted = async {
        let client = state.pool.get().await?;
        Ok::<_, ApiError>(limits::count_request(&client, key.id, window).await?)
    }
    .await;
    let counted = match counted {
        Ok(counted) => counted,
        Err(e) => return e.into_response(),
    };
    let mut response = if counted.count > limit {
        ApiError::RateLimited {
            limit,
            window_secs: window.as_secs(),
            retry_after: counted.resets_in,
        }
        .into_response()
    } else {
        request.extensions_mut().insert(Authenticated(key));
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert("ratelimit-limit", HeaderValue::from(limit));
    headers.insert(
        "ratelimit-remaining",
        HeaderValue::from((limit - counted.count).max(0)),
    );
    headers.insert("ratelimit-reset", HeaderValue::from(counted.resets_in));
    response
}

async fn key_of(state: &AppState, headers: &HeaderMap) -> Result<ApiKey, ApiError> {
    let header = headers
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
    Ok(key)
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
