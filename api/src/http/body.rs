//! JSON request bodies, parsed with serde into the very types the OpenAPI document shows. Every
//! rejection is in the error envelope, with the `param` at fault taken from serde's path.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::header,
};
use serde::{de::DeserializeOwned, Deserialize, Deserializer};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::ApiError;

/// Largest request body accepted: room for the largest inline diagram after JSON escaping.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// A request body type. Most are one call to [`deserialize`]; a body with several shapes picks
/// the shape first, so that a mistake is reported against the shape the client meant.
pub trait FromJson: Sized {
    fn from_json(value: Value) -> Result<Self, ApiError>;
}

/// A JSON request body of type `T`.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: FromJson> FromRequest<S> for Body<T> {
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
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::InvalidJson(format!("the body is not valid JSON: {e}")))?;
        Ok(Body(T::from_json(value)?))
    }
}

/// Deserializes `value`, found at `at` in the body ("" for the whole body), into `T`. A
/// mistake names its field: `missing_parameter` for a missing one, `invalid_parameter` for an
/// unknown or malformed one.
pub fn deserialize<T: DeserializeOwned>(value: Value, at: &str) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        field_error(&join(at, &path), &inner.to_string())
    })
}

/// A UUID written as text.
pub fn uuid<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Uuid, D::Error> {
    let text = String::deserialize(deserializer)?;
    Uuid::parse_str(&text).map_err(|_| serde::de::Error::custom("must be a UUID"))
}

/// A whole number of at least 1, or null or absent.
pub fn optional_at_least_one<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i32>, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(value) => at_least_one(value)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// A whole number of at least 1.
pub fn at_least_one<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
    let number = i64::deserialize(deserializer)
        .map_err(|_| serde::de::Error::custom("must be a whole number of at least 1"))?;
    i32::try_from(number)
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| serde::de::Error::custom("must be a whole number of at least 1"))
}

/// A UUID written as text, or null or absent.
pub fn optional_uuid<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Uuid>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) => Uuid::parse_str(&text)
            .map(Some)
            .map_err(|_| serde::de::Error::custom("must be a UUID")),
    }
}

/// Maps serde's message to the envelope. serde words a missing field "missing field `x`" at the
/// path of the object that lacks it (its `de::Error::missing_field`); every other mistake is
/// reported at the field itself.
fn field_error(path: &str, message: &str) -> ApiError {
    if let Some(field) = quoted_after(message, "missing field `") {
        let param = join(path, field);
        return ApiError::MissingParameter {
            message: format!("{param} is required"),
            param,
        };
    }
    let param = if path.is_empty() { "body" } else { path };
    ApiError::invalid(param, format!("{param}: {message}"))
}

/// The text between `prefix` and the next backquote.
fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    message.strip_prefix(prefix)?.split('`').next()
}

/// A dotted path, where serde writes the root as ".".
fn join(prefix: &str, path: &str) -> String {
    let path = path.trim_start_matches('.');
    match (prefix.is_empty(), path.is_empty()) {
        (_, true) => prefix.to_owned(),
        (true, false) => path.to_owned(),
        (false, false) => format!("{prefix}.{path}"),
    }
}

// Fields of a `PATCH` body, read one by one: there, an absent field (no change) differs from a
// null one (clear it), which serde's derive cannot tell apart.

/// A text field that may be absent (`None`), and when `nullable`, null (`Some(None)`).
pub fn string_field(
    fields: &Map<String, Value>,
    name: &str,
    nullable: bool,
) -> Result<Option<Option<String>>, ApiError> {
    match fields.get(name) {
        None => Ok(None),
        Some(Value::Null) if nullable => Ok(Some(None)),
        Some(Value::String(text)) => Ok(Some(Some(text.clone()))),
        Some(_) => Err(ApiError::invalid(name, format!("{name} must be a string"))),
    }
}

/// A UUID field that may be absent (`None`) or null (`Some(None)`).
pub fn uuid_field(
    fields: &Map<String, Value>,
    name: &str,
) -> Result<Option<Option<Uuid>>, ApiError> {
    match fields.get(name) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(text)) => Uuid::parse_str(text)
            .map(|id| Some(Some(id)))
            .map_err(|_| ApiError::invalid(name, format!("{name} must be a UUID"))),
        Some(_) => Err(ApiError::invalid(name, format!("{name} must be a UUID"))),
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        #[allow(dead_code)]
        count: i32,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        #[allow(dead_code)]
        name: String,
        #[allow(dead_code)]
        inner: Inner,
    }

    fn param(value: Value) -> (String, String) {
        match deserialize::<Outer>(value, "").expect_err("refused") {
            ApiError::MissingParameter { param, .. } => ("missing_parameter".into(), param),
            ApiError::InvalidParameter { param, .. } => ("invalid_parameter".into(), param),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn serdes_mistakes_name_their_field() {
        let cases = [
            (json!({"inner": {"count": 1}}), "missing_parameter", "name"),
            (
                json!({"name": "x", "inner": {}}),
                "missing_parameter",
                "inner.count",
            ),
            (
                json!({"name": 3, "inner": {"count": 1}}),
                "invalid_parameter",
                "name",
            ),
            (
                json!({"name": "x", "inner": {"count": "many"}}),
                "invalid_parameter",
                "inner.count",
            ),
            (
                json!({"name": "x", "inner": {"count": 1}, "colour": 1}),
                "invalid_parameter",
                "colour",
            ),
        ];
        for (body, code, field) in cases {
            assert_eq!(param(body.clone()), (code.into(), field.into()), "{body}");
        }
    }
}
