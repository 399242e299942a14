//! The API's one error type. Every failure, including malformed JSON, unknown routes and wrong
//! methods, answers in seed 001's envelope: `{"error": {"type", "code", "message", "param"?}}`.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use procmap_engine::Problem;
use serde::Serialize;
use utoipa::{IntoResponses, ToSchema};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidJson(String),
    #[error("{message}")]
    MissingParameter { param: String, message: String },
    #[error("{message}")]
    InvalidParameter { param: String, message: String },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("the cursor is invalid or expired")]
    InvalidCursor,
    #[error("no API key was sent; send `Authorization: Bearer pm_sk_…`")]
    MissingApiKey,
    #[error("{0}")]
    InvalidApiKey(&'static str),
    #[error("this API key has been revoked")]
    RevokedApiKey,
    #[error("this API key has expired")]
    ExpiredApiKey,
    #[error("this API key lacks the scope {0}")]
    InsufficientScope(String),
    #[error("{message}")]
    NotFound {
        param: Option<String>,
        message: String,
    },
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error(
        "rate limit of {limit} requests per {window_secs} s exceeded; retry after {retry_after} s"
    )]
    RateLimited {
        limit: i64,
        window_secs: u64,
        retry_after: u64,
    },
    #[error("generation quota of {quota} per {window_days} days used up; the next frees up in {retry_after} s")]
    QuotaExceeded {
        quota: i64,
        window_days: u64,
        retry_after: u64,
    },
    #[error("{message}")]
    ValidationFailed {
        param: Option<String>,
        message: String,
        problems: Vec<Problem>,
    },
    /// The replica already works on its `PROCMAP_MAX_IN_FLIGHT` requests: 503 with
    /// `Retry-After`, answered before any work, so a retry (here or on another replica) is
    /// safe.
    #[error("this replica is at its limit of {limit} requests at once; retry in {OVERLOAD_RETRY_AFTER_SECS} s")]
    Overloaded { limit: usize },
    /// Postgres cannot be reached or used right now: 503 with `Retry-After`, since the same
    /// request will work once it is back. Logged with its cause chain.
    #[error(transparent)]
    Unavailable(anyhow::Error),
    /// Anything unexpected. Logged with its cause chain; the client sees only `internal_error`.
    #[error(transparent)]
    Internal(anyhow::Error),
}

/// Seconds a client is asked to wait before retrying during an outage.
const OUTAGE_RETRY_AFTER_SECS: u32 = 5;
/// Seconds a client is asked to wait when a replica is at its limit: a burst passes quickly.
const OVERLOAD_RETRY_AFTER_SECS: u32 = 1;

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        if procmap_core::db::is_outage(&error) {
            ApiError::Unavailable(error)
        } else {
            ApiError::Internal(error)
        }
    }
}

impl ApiError {
    pub fn missing(param: &str) -> Self {
        ApiError::MissingParameter {
            param: param.to_owned(),
            message: format!("{param} is required"),
        }
    }

    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        ApiError::InvalidParameter {
            param: param.to_owned(),
            message: message.into(),
        }
    }

    pub fn not_found(param: Option<&str>, message: impl Into<String>) -> Self {
        ApiError::NotFound {
            param: param.map(str::to_owned),
            message: message.into(),
        }
    }

    /// The HTTP status and seed 001's error type of this family of errors.
    fn family(&self) -> (StatusCode, &'static str) {
        use ApiError::*;
        match self {
            // Seed 001 files payload_too_large under invalid_request_error, which is a 400.
            InvalidJson(_)
            | MissingParameter { .. }
            | InvalidParameter { .. }
            | PayloadTooLarge(_)
            | InvalidCursor => (StatusCode::BAD_REQUEST, "invalid_request_error"),
            MissingApiKey | InvalidApiKey(_) | RevokedApiKey | ExpiredApiKey => {
                (StatusCode::UNAUTHORIZED, "authentication_error")
            }
            InsufficientScope(_) => (StatusCode::FORBIDDEN, "permission_error"),
            NotFound { .. } => (StatusCode::NOT_FOUND, "not_found_error"),
            MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "invalid_request_error"),
            Conflict { .. } => (StatusCode::CONFLICT, "conflict_error"),
            RateLimited { .. } | QuotaExceeded { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "rate_limit_error")
            }
            ValidationFailed { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "validation_error"),
            Unavailable(_) | Overloaded { .. } => (StatusCode::SERVICE_UNAVAILABLE, "api_error"),
            Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "api_error"),
        }
    }

    /// The machine-readable code, stable across releases.
    fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            InvalidJson(_) => "invalid_json",
            MissingParameter { .. } => "missing_parameter",
            InvalidParameter { .. } => "invalid_parameter",
            PayloadTooLarge(_) => "payload_too_large",
            InvalidCursor => "invalid_cursor",
            MissingApiKey => "missing_api_key",
            InvalidApiKey(_) => "invalid_api_key",
            RevokedApiKey => "revoked_api_key",
            ExpiredApiKey => "expired_api_key",
            InsufficientScope(_) => "insufficient_scope",
            NotFound { .. } => "resource_not_found",
            MethodNotAllowed => "method_not_allowed",
            Conflict { code, .. } => code,
            RateLimited { .. } => "rate_limit_exceeded",
            QuotaExceeded { .. } => "quota_exceeded",
            ValidationFailed { .. } => "validation_failed",
            Unavailable(_) => "service_unavailable",
            Overloaded { .. } => "overloaded",
            Internal(_) => "internal_error",
        }
    }

    /// The body field, query parameter or header at fault, when there is one.
    fn param(&self) -> Option<&str> {
        match self {
            ApiError::MissingParameter { param, .. } | ApiError::InvalidParameter { param, .. } => {
                Some(param)
            }
            ApiError::InvalidCursor => Some("cursor"),
            ApiError::NotFound { param, .. } | ApiError::ValidationFailed { param, .. } => {
                param.as_deref()
            }
            _ => None,
        }
    }
}

/// Seed 001's error envelope.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": {"type": "invalid_request_error", "code": "missing_parameter", "message": "prompt is required", "param": "prompt"}}))]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error's family: `invalid_request_error`, `authentication_error`, `permission_error`,
    /// `not_found_error`, `conflict_error`, `validation_error`, `rate_limit_error` or `api_error`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Machine-readable reason, such as `missing_parameter` or `rate_limit_exceeded`.
    pub code: &'static str,
    /// What went wrong, for a person.
    pub message: String,
    /// The body field, query parameter or header at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    /// For `validation_failed` on a diagram: every problem found, not just the first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let ((status, r#type), code, param) = (self.family(), self.code(), self.param());
        let message = match &self {
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                "an internal error occurred; retry later or quote the X-Request-Id to support"
                    .to_owned()
            }
            ApiError::Unavailable(e) => {
                tracing::warn!(error = format!("{e:#}"), "the database is unavailable");
                format!("the service is briefly unavailable; retry in {OUTAGE_RETRY_AFTER_SECS} s")
            }
            other => other.to_string(),
        };
        let param = param.map(str::to_owned);
        let problems = match self {
            ApiError::ValidationFailed { ref problems, .. } => problems.clone(),
            _ => Vec::new(),
        };
        let body = ErrorEnvelope {
            error: ErrorBody {
                kind: r#type,
                code,
                message,
                param,
                problems,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let ApiError::RateLimited { retry_after, .. }
        | ApiError::QuotaExceeded { retry_after, .. } = &self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        if let ApiError::Unavailable(_) = &self {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(OUTAGE_RETRY_AFTER_SECS),
            );
        }
        if let ApiError::Overloaded { .. } = &self {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(OVERLOAD_RETRY_AFTER_SECS),
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Error answers every authenticated operation can give.
#[derive(IntoResponses)]
pub enum CommonErrors {
    /// Malformed JSON, a missing or invalid parameter, an oversized body, or a bad cursor.
    #[response(status = 400)]
    BadRequest(ErrorEnvelope),
    /// No key, an unknown key, or a revoked or expired one. Carries `WWW-Authenticate: Bearer`.
    #[response(status = 401)]
    Unauthorized(ErrorEnvelope),
    /// The key lacks the scope the operation needs (`insufficient_scope`).
    #[response(status = 403)]
    Forbidden(ErrorEnvelope),
    /// No such generation for this key's owner (`resource_not_found`), or no such route.
    #[response(status = 404)]
    NotFound(ErrorEnvelope),
    /// Wrong method for this path (`method_not_allowed`).
    #[response(status = 405)]
    MethodNotAllowed(ErrorEnvelope),
    /// The key's rate limit or generation quota is used up; see `Retry-After`.
    #[response(status = 429, headers(("Retry-After" = u64, description = "Seconds until a retry can succeed.")))]
    TooManyRequests(ErrorEnvelope),
    /// An internal error; quote the `X-Request-Id` to support.
    #[response(status = 500)]
    Internal(ErrorEnvelope),
    /// The database is briefly unreachable (`service_unavailable`); see `Retry-After`.
    #[response(status = 503, headers(("Retry-After" = u64, description = "Seconds until a retry can succeed.")))]
    Unavailable(ErrorEnvelope),
}
