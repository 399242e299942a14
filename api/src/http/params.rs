//! Query strings and path ids: the query parsed with serde into a type, the list parameters
//! every collection shares, and resource ids that name nothing when they are not UUIDs.

use std::marker::PhantomData;

use axum::{extract::FromRequestParts, http::request::Parts};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Deserializer};
use uuid::Uuid;

use crate::error::ApiError;

/// The query string parsed into `T`; a malformed parameter is `invalid_parameter` naming it.
/// Parameters `T` does not know are ignored, as clients and proxies add their own.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let pairs = form_urlencoded::parse(query.as_bytes());
        serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(pairs))
            .map(Query)
            .map_err(|e| {
                let param = e.path().to_string();
                let message = e.into_inner().to_string();
                if param == "." {
                    ApiError::invalid("query", format!("the query string is malformed: {message}"))
                } else {
                    ApiError::invalid(&param, format!("{param}: {message}"))
                }
            })
    }
}

/// `true` or `false`, and nothing else, in a query string.
pub fn true_or_false<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    match String::deserialize(deserializer)?.as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(serde::de::Error::custom("must be true or false")),
    }
}

/// A page of a collection: cursor-paginated, newest first (seed 001).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListParams {
    /// Page size, 1–100.
    pub limit: i64,
    /// The keyset position the page starts after; `None` for the first page.
    pub after: Option<Position>,
}

/// Where a page starts or ends in a newest-first listing: a row's creation time and id.
pub type Position = (DateTime<Utc>, Uuid);

impl ListParams {
    /// Rows to fetch for a page: one more than it holds, which tells whether there is more.
    pub fn rows_to_fetch(&self) -> i64 {
        self.limit + 1
    }

    /// Cuts what was fetched with [`Self::rows_to_fetch`] down to the page, and answers where
    /// the next page starts, if there is one: the position (`key`) of the page's last row.
    pub fn cut<T>(&self, fetched: &mut Vec<T>, key: impl Fn(&T) -> Position) -> Option<Position> {
        let has_more = fetched.len() as i64 > self.limit;
        fetched.truncate(self.limit as usize);
        has_more.then(|| fetched.last().map(key)).flatten()
    }
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default, deserialize_with = "limit")]
    limit: Option<i64>,
    #[serde(default)]
    cursor: Option<String>,
}

/// A whole number of at least 1 in a query string, or absent.
pub fn optional_positive<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i32>, D::Error> {
    let raw = String::deserialize(deserializer)?;
    raw.parse::<i32>()
        .ok()
        .filter(|n| *n >= 1)
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom("must be a whole number of at least 1"))
}

fn limit<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    let raw = String::deserialize(deserializer)?;
    raw.parse::<i64>()
        .ok()
        .filter(|n| (1..=100).contains(n))
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom("must be a whole number from 1 to 100"))
}

impl<S: Send + Sync> FromRequestParts<S> for ListParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(query) = Query::<ListQuery>::from_request_parts(parts, state).await?;
        Ok(ListParams {
            limit: query.limit.unwrap_or(20),
            // An empty cursor is no cursor: the first page.
            after: query
                .cursor
                .filter(|c| !c.is_empty())
                .map(|c| decode_cursor(&c))
                .transpose()?,
        })
    }
}

/// Cursors are opaque to clients: `v1:<created_at µs>:<id>`, base64url-encoded.
pub fn encode_cursor(created_at: DateTime<Utc>, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{}:{id}", created_at.timestamp_micros()))
}

fn decode_cursor(cursor: &str) -> Result<(DateTime<Utc>, Uuid), ApiError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| ApiError::InvalidCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| ApiError::InvalidCursor)?;
    let mut parts = text.splitn(3, ':');
    let (Some("v1"), Some(micros), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ApiError::InvalidCursor);
    };
    let micros: i64 = micros.parse().map_err(|_| ApiError::InvalidCursor)?;
    let at = DateTime::from_timestamp_micros(micros).ok_or(ApiError::InvalidCursor)?;
    let id = Uuid::parse_str(id).map_err(|_| ApiError::InvalidCursor)?;
    Ok((at, id))
}

/// A kind of resource that a path names by id.
pub trait Resource: Send + Sync + 'static {
    /// How an error message names it: "no generation with id …".
    const NAME: &'static str;
    /// The request span's field that records the id, so every log line of the request has it.
    const SPAN_FIELD: &'static str;
}

/// The `{id}` of a path. An id that is not a UUID names nothing, so it answers 404
/// `resource_not_found`, like any unknown id.
pub struct PathId<R> {
    pub id: Uuid,
    resource: PhantomData<R>,
}

impl<R: Resource> PathId<R> {
    /// The 404 for this id: the resource does not exist, or belongs to another owner.
    pub fn not_found(&self) -> ApiError {
        not_found::<R>(&self.id.to_string())
    }
}

fn not_found<R: Resource>(id: &str) -> ApiError {
    ApiError::not_found(Some("id"), format!("no {} with id {id:?}", R::NAME))
}

impl<S: Send + Sync, R: Resource> FromRequestParts<S> for PathId<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::Internal(anyhow::anyhow!("no {{id}} in the route: {e}")))?;
        let id = Uuid::parse_str(&raw).map_err(|_| not_found::<R>(&raw))?;
        tracing::Span::current().record(R::SPAN_FIELD, tracing::field::display(id));
        Ok(PathId {
            id,
            resource: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).expect("valid time");
        let id = Uuid::now_v7();
        assert_eq!(
            decode_cursor(&encode_cursor(at, id)).expect("round trip"),
            (at, id)
        );
        for bad in ["", "!!!", "djE6eHh4", &URL_SAFE_NO_PAD.encode("v2:1:x")] {
            assert!(
                matches!(decode_cursor(bad), Err(ApiError::InvalidCursor)),
                "{bad}"
            );
        }
    }
}
