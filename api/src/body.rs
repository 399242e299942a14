//! Request-body extraction that answers in the error envelope, never axum's plain text.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::header,
};

use crate::error::ApiError;

/// Largest request body accepted: room for the largest inline diagram after JSON escaping.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// A JSON request body, parsed to a generic value so each field can be checked with its own error.
pub struct JsonBody(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(content_type) = req.headers().get(header::CONTENT_TYPE) {
            let is_json = content_type
                .to_str()
                .ok()
                .and_then(|v| v.split(';').next())
                .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
            if !is_json {
                return Err(ApiError::InvalidJson(
                    "the body must be JSON, sent with Content-Type: application/json".into(),
                ));
            }
        }
        let bytes: Bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|e| {
                // axum reports an over-long body as a `LengthLimitError` somewhere in the source chain.
                let mut source: Option<&dyn std::error::Error> = Some(&e);
                let mut too_large = false;
                while let Some(s) = source {
                    too_large |= s.to_string().contains("length limit");
                    source = s.source();
                }
                if too_large {
                    ApiError::PayloadTooLarge(format!(
                        "the request body is larger than {MAX_BODY_BYTES} bytes"
                    ))
                } else {
                    ApiError::InvalidJson(format!("the request body could not be read: {e}"))
                }
            })?;
        if bytes.is_empty() {
            return Err(ApiError::InvalidJson(
                "the request body is empty; send a JSON object".into(),
            ));
        }
        let value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::InvalidJson(format!("the body is not valid JSON: {e}")))?;
        Ok(JsonBody(value))
    }
}
