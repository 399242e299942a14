//! Authentication and scopes: the middleware that finds each request's key (in the replica's
//! [`KeyCache`](super::key_cache::KeyCache), else in Postgres) and counts it against the key's
//! rate limit, and the [`Caller`] extractor that requires a scope.
//!
//! Keys are never logged: the request span records no headers.

use std::marker::PhantomData;

use anyhow::Context;
use axum::{
    extract::{FromRequestParts, Request, State},
    http::{request::Parts, HeaderMap, HeaderValue},
    middleware::Next,
    response::{IntoResponse, Response},
};
use chrono::Utc;
use procmap_core::{
    db::{api_keys, api_keys::ApiKey, limits},
    domain::Scope,
};

use crate::{
    error::ApiError,
    keys::{hash_secret, LIVE_PREFIX, TEST_PREFIX},
    state::AppState,
};

/// A request whose API key is valid: present, known, not revoked and not expired. Put in the
/// request's extensions by [`authenticate`].
#[derive(Clone)]
struct Authenticated(ApiKey);

/// What an operation needs its caller's key to hold: any one of [`Permission::SCOPES`].
pub trait Permission: Send + Sync + 'static {
    const SCOPES: &'static [Scope];
}

/// Creating, canceling and deleting generations.
pub struct Generate;

impl Permission for Generate {
    const SCOPES: &'static [Scope] = &[Scope::Generate];
}

/// Reading generations: who may generate, or read diagrams.
pub struct ReadGenerations;

impl Permission for ReadGenerations {
    const SCOPES: &'static [Scope] = &[Scope::Generate, Scope::DiagramsRead];
}

/// Reading diagrams, their versions, exports and images.
pub struct ReadDiagrams;

impl Permission for ReadDiagrams {
    const SCOPES: &'static [Scope] = &[Scope::DiagramsRead];
}

/// Creating, changing and deleting diagrams. Making one from a prompt or refining one also
/// needs `generate`, which the handler checks with [`Caller::also_needs`].
pub struct WriteDiagrams;

impl Permission for WriteDiagrams {
    const SCOPES: &'static [Scope] = &[Scope::DiagramsWrite];
}

pub struct ReadFolders;

impl Permission for ReadFolders {
    const SCOPES: &'static [Scope] = &[Scope::FoldersRead];
}

pub struct WriteFolders;

impl Permission for WriteFolders {
    const SCOPES: &'static [Scope] = &[Scope::FoldersWrite];
}

/// The authenticated key of a request, holding permission `P`; otherwise the request is
/// refused with `insufficient_scope`.
pub struct Caller<P> {
    pub key: ApiKey,
    permission: PhantomData<P>,
}

impl<P> Caller<P> {
    /// Refuses the request with `insufficient_scope` unless the key also holds `scope`, for an
    /// operation that needs two scopes.
    pub fn also_needs(&self, scope: Scope) -> Result<(), ApiError> {
        if self.key.has_scope(scope) {
            Ok(())
        } else {
            Err(ApiError::InsufficientScope(scope.as_str().to_owned()))
        }
    }
}

impl<S: Send + Sync, P: Permission> FromRequestParts<S> for Caller<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Authenticated(key) = parts
            .extensions
            .get::<Authenticated>()
            .cloned()
            .ok_or_else(|| {
                ApiError::Internal(anyhow::anyhow!(
                    "route is missing the authenticate middleware"
                ))
            })?;
        if !P::SCOPES.iter().any(|s| key.has_scope(*s)) {
            let names: Vec<&str> = P::SCOPES.iter().map(|s| s.as_str()).collect();
            return Err(ApiError::InsufficientScope(names.join(" or ")));
        }
        Ok(Caller {
            key,
            permission: PhantomData,
        })
    }
}

/// Middleware for every `/api/v1` resource: authenticates the key, counts the request against the
/// key's rate limit (shared by all replicas, in leased blocks: [`super::rate_tokens`]), and adds
/// the `RateLimit-*` headers to the answer.
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
    let (state_ref, key_id) = (&state, key.id);
    let admission = state
        .rate_tokens
        .take(key_id, limit, |requests| async move {
            let client = state_ref.budgets().await?;
            let counted = limits::count_requests(&client, key_id, window, requests)
                .await
                .context("counting requests against the rate limit")?;
            Ok::<_, ApiError>(counted)
        })
        .await;
    let admission = match admission {
        Ok(admission) => admission,
        Err(e) => return e.into_response(),
    };
    // Whole seconds, rounded up: a client that waits this long is in the next window.
    let resets_in = admission.resets_in.as_secs_f64().ceil().max(1.0) as u64;
    let mut response = if admission.admitted {
        request.extensions_mut().insert(Authenticated(key));
        next.run(request).await
    } else {
        ApiError::RateLimited {
            limit,
            window_secs: window.as_secs(),
            retry_after: resets_in,
        }
        .into_response()
    };
    let headers = response.headers_mut();
    headers.insert("ratelimit-limit", HeaderValue::from(limit));
    headers.insert(
        "ratelimit-remaining",
        HeaderValue::from(admission.remaining),
    );
    headers.insert("ratelimit-reset", HeaderValue::from(resets_in));
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
    let secret_hash = hash_secret(token);
    let key = match state.keys.get(&secret_hash) {
        Some(key) => key,
        None => {
            let epoch = state.keys.epoch();
            let client = state.db().await?;
            let key = api_keys::find_by_hash(&client, &secret_hash)
                .await
                .context("finding the key")?
                .ok_or(ApiError::InvalidApiKey("the API key is not valid"))?;
            state.keys.insert(secret_hash, key.clone(), epoch);
            key
        }
    };
    if key.revoked_at.is_some() {
        return Err(ApiError::RevokedApiKey);
    }
    if key.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::ExpiredApiKey);
    }
    Ok(key)
}
