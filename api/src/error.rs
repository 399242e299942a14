//! The API's one error type. Every failure, including malformed JSON, unknown routes and wrong
//! methods, answers in seed 001's envelope: `{"error": {"type", "code", "message", "param"?}}`.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use procmap_engine::Problem;
use serde::Serialize;
use utoipa::ToSchema;

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
    /// Anything unexpected. Logged with its cause chain; the client sees only `internal_error`.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
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

    fn parts(&self) -> (StatusCode, &'static str, &'static str, Option<&str>) {
        use ApiError::*;
        match self {
            InvalidJson(_) => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "invalid_json",
                None,
            ),
            MissingParameter { param, .. } => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "missing_parameter",
                Some(param),
            ),
            InvalidParameter { param, .. } => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "invalid_parameter",
                Some(param),
            ),
            // Seed 001 files payload_too_large under invalid_request_error, which is a 400.
            PayloadTooLarge(_) => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "payload_too_large",
                None,
            ),
            InvalidCursor => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "invalid_cursor",
                Some("cursor"),
            ),
            MissingApiKey => (
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "missing_api_key",
                None,
            ),
            InvalidApiKey(_) => (
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "invalid_api_key",
                None,
            ),
            RevokedApiKey => (
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "revoked_api_key",
                None,
            ),
            ExpiredApiKey => (
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "expired_api_key",
                None,
            ),
            InsufficientScope(_) => (
                StatusCode::FORBIDDEN,
                "permission_error",
                "insufficient_scope",
                None,
            ),
            NotFound { param, .. } => (
                StatusCode::NOT_FOUND,
                "not_found_error",
                "resource_not_found",
                param.as_deref(),
            ),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request_error",
                "method_not_allowed",
                None,
            ),
            Conflict { code, .. } => (StatusCode::CONFLICT, "conflict_error", code, None),
            RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "rate_limit_exceeded",
                None,
            ),
            QuotaExceeded { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "quota_exceeded",
                None,
            ),
            ValidationFailed { param, .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_error",
                "validation_failed",
                param.as_deref(),
            ),
            Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "api_error",
                "internal_error",
                None,
            ),
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
        let (status, r#type, code, param) = self.parts();
        let message = match &self {
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                "an internal error occurred; retry later or quote the X-Request-Id to support"
                    .to_owned()
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
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(e: tokio_postgres::Error) -> Self {
        ApiError::Internal(e.into())
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        ApiError::Internal(e.into())
    }
}

impl From<procmap_core::db::generations::RowError> for ApiError {
    fn from(e: procmap_core::db::generations::RowError) -> Self {
        ApiError::Internal(e.into())
    }
}
