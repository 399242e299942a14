//! `/api/v1/process-maps/generations`: create, retrieve and list generations.

use std::collections::HashMap;

use axum::{
    extract::{FromRequestParts, Path, State},
    http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};
use procmap_core::{
    db::generations::{self, SourceLookup},
    domain::{GenerationRequest, GenerationStatus, RefinementSource, StoredVersion},
    messages::StatusEvent,
};
use uuid::Uuid;

use super::{
    request::{self, CreateGeneration},
    views::{view, GenerationList, GenerationView},
};
use crate::{
    accept,
    auth::Authenticated,
    body::JsonBody,
    error::{ApiError, ErrorEnvelope},
    openapi::CommonErrors,
    state::AppState,
    waiting,
};

const READ_SCOPES: &[&str] = &["generate", "diagrams:read"];
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

// ---- query parameters -----------------------------------------------------------------------

/// Query parameters, parsed without axum's plain-text rejection.
pub struct QueryParams(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(map) =
            axum::extract::Query::<HashMap<String, String>>::try_from_uri(&parts.uri).map_err(
                |e| ApiError::invalid("query", format!("the query string is malformed: {e}")),
            )?;
        Ok(QueryParams(map))
    }
}

impl QueryParams {
    fn bool(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.0.get(name).map(String::as_str) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err(ApiError::invalid(
                name,
                format!("{name} must be true or false"),
            )),
        }
    }
}

// ---- handlers -------------------------------------------------------------------------------

/// `POST /api/v1/process-maps/generations`
#[utoipa::path(
    post,
    path = "/api/v1/process-maps/generations",
    tag = "generations",
    operation_id = "createGeneration",
    summary = "Generate three BPMN options from a prompt, or refine a diagram",
    description = "Needs scope `generate`. With `wait=true` (the default) the answer is 200 with the finished \
                   generation when it finishes within the wait window, else 202; with `wait=false` it is 202 at once. \
                   Poll `links.self` after a 202.",
    params(
        ("wait" = Option<bool>, Query, description = "Wait for the result (default true)."),
        ("Idempotency-Key" = Option<String>, Header, max_length = 255, min_length = 1,
            description = "Makes retries safe for 24 hours: the same key and body answer the same generation."),
    ),
    request_body(content = CreateGeneration, examples(
        ("initial" = (summary = "Three options from a description", value = json!({
            "mode": "initial",
            "prompt": "Map the customer support ticket triage process from intake to resolution.",
            "language": "english"
        }))),
        ("refinement" = (summary = "Refine a stored option", value = json!({
            "mode": "refinement",
            "prompt": "Add an escalation path for high-severity tickets.",
            "source": {"generation_id": "33333333-3333-4333-8333-333333333333", "option_number": 2, "version_number": 1}
        }))),
    )),
    responses(
        (status = 200, description = "The finished generation (succeeded, failed or canceled).", body = GenerationView,
            headers(
                ("X-Request-Id" = String, description = "Identifies this request; yours is kept if you send one."),
                ("RateLimit-Limit" = u32, description = "Requests allowed per window for this key."),
                ("RateLimit-Remaining" = u32, description = "Requests left in this window."),
                ("RateLimit-Reset" = u32, description = "Seconds until the window resets."),
                ("Location" = String, description = "The generation's URL."),
                ("Idempotent-Replayed" = String, description = "`true` when an earlier request with this Idempotency-Key created it."),
            ),
            example = json!({
                "id": "33333333-3333-4333-8333-333333333333", "status": "succeeded", "mode": "initial",
                "request_id": "0d6cf3b1-9e07-4a6a-8b1f-3c2c0e9a7c54",
                "created_at": "2025-01-15T12:34:56.000Z", "completed_at": "2025-01-15T12:35:08.000Z",
                "links": {"self": "https://procmap.example/api/v1/process-maps/generations/33333333-3333-4333-8333-333333333333"},
                "livemode": true,
                "options": [
                    {"option_number": 1, "versions": [{"version_number": 1, "bpmn_xml": "<?xml version=\"1.0\"?>..."}]},
                    {"option_number": 2, "versions": [{"version_number": 1, "bpmn_xml": "<?xml version=\"1.0\"?>..."}]},
                    {"option_number": 3, "versions": [{"version_number": 1, "bpmn_xml": "<?xml version=\"1.0\"?>..."}]}
                ]
            })),
        (status = 202, description = "Accepted and not finished yet: poll `links.self`.", body = GenerationView,
            headers(
                ("X-Request-Id" = String, description = "Identifies this request; yours is kept if you send one."),
                ("RateLimit-Limit" = u32, description = "Requests allowed per window for this key."),
                ("RateLimit-Remaining" = u32, description = "Requests left in this window."),
                ("RateLimit-Reset" = u32, description = "Seconds until the window resets."),
                ("Location" = String, description = "The generation's URL."),
                ("Idempotent-Replayed" = String, description = "`true` when an earlier request with this Idempotency-Key created it."),
            ),
            example = json!({
                "id": "22222222-2222-4222-8222-222222222222", "status": "running", "mode": "initial",
                "request_id": "8a3b1e6c-5f48-4c2b-a1e8-9b3d2f0c7e11",
                "created_at": "2025-01-15T12:34:56.000Z", "completed_at": null, "livemode": true,
                "links": {"self": "https://procmap.example/api/v1/process-maps/generations/22222222-2222-4222-8222-222222222222"}
            })),
        (status = 409, description = "The same Idempotency-Key is still being accepted (`request_in_progress`).", body = ErrorEnvelope),
        (status = 422, description = "An inline diagram that is not usable BPMN, an unfinished source, or an Idempotency-Key reused with another body (`validation_failed`).", body = ErrorEnvelope),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    query: QueryParams,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    auth.require_any(&["generate"])?;
    let wait = query.bool("wait", true)?;
    let idempotency_key = idempotency_key(&headers)?;
    let request = request::parse(&body)?;
    check_source(&state, &auth.0.owner, &request).await?;
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();

    let accepted = accept::accept(
        &state,
        &auth.0,
        &request,
        idempotency_key.as_deref(),
        &request_id,
    )
    .await?;
    let window = if wait {
        state.config.wait_timeout
    } else {
        std::time::Duration::ZERO
    };
    let generation = waiting::wait_for(&state, accepted.generation, window).await?;
    let status = if generation.status.is_terminal() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let view = view(&state, generation).await?;
    let mut response = (status, Json(&view)).into_response();
    if let Ok(location) = HeaderValue::from_str(&view.links.self_) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    if accepted.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// `GET /api/v1/process-maps/generations/{id}`
#[utoipa::path(
    get,
    path = "/api/v1/process-maps/generations/{id}",
    tag = "generations",
    operation_id = "getGeneration",
    summary = "Retrieve one generation",
    description = "Needs scope `generate` or `diagrams:read`. Another owner's generation is 404.",
    params(("id" = String, Path, description = "The generation's id.")),
    responses(
        (status = 200, description = "The generation in its current state.", body = GenerationView,
            headers(
                ("X-Request-Id" = String, description = "Identifies this request; yours is kept if you send one."),
                ("RateLimit-Limit" = u32, description = "Requests allowed per window for this key."),
                ("RateLimit-Remaining" = u32, description = "Requests left in this window."),
                ("RateLimit-Reset" = u32, description = "Seconds until the window resets."),
            )),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn retrieve(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<GenerationView>, ApiError> {
    auth.require_any(READ_SCOPES)?;
    let uuid = parse_id(&id)?;
    let client = state.pool.get().await?;
    let generation = generations::get_for_owner(&client, &auth.0.owner, uuid)
        .await?
        .ok_or_else(|| not_found(&id))?;
    drop(client);
    Ok(Json(view(&state, generation).await?))
}

/// `GET /api/v1/process-maps/generations`
#[utoipa::path(
    get,
    path = "/api/v1/process-maps/generations",
    tag = "generations",
    operation_id = "listGenerations",
    summary = "List the owner's generations, newest first",
    description = "Needs scope `generate` or `diagrams:read`. Cursor-paginated: pass `next_cursor` as `cursor`.",
    params(
        ("limit" = Option<u8>, Query, minimum = 1, maximum = 100, description = "Page size, 1-100 (default 20)."),
        ("cursor" = Option<String>, Query, description = "Opaque cursor from `next_cursor`; a bad one is 400 `invalid_cursor`."),
    ),
    responses(
        (status = 200, description = "A page of generations.", body = GenerationList,
            headers(
                ("X-Request-Id" = String, description = "Identifies this request; yours is kept if you send one."),
                ("RateLimit-Limit" = u32, description = "Requests allowed per window for this key."),
                ("RateLimit-Remaining" = u32, description = "Requests left in this window."),
                ("RateLimit-Reset" = u32, description = "Seconds until the window resets."),
            )),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    auth: Authenticated,
    query: QueryParams,
) -> Result<Json<GenerationList>, ApiError> {
    auth.require_any(READ_SCOPES)?;
    let limit = match query.0.get("limit") {
        None => 20,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                ApiError::invalid("limit", "limit must be a whole number from 1 to 100")
            })?,
    };
    // An empty cursor is no cursor: the first page.
    let after = query
        .0
        .get("cursor")
        .filter(|c| !c.is_empty())
        .map(|c| decode_cursor(c))
        .transpose()?;
    let client = state.pool.get().await?;
    let mut page = generations::list_for_owner(&client, &auth.0.owner, after, limit + 1).await?;
    let has_more = page.len() as i64 > limit;
    page.truncate(limit as usize);
    let next_cursor = has_more
        .then(|| page.last().map(|g| encode_cursor(g.created_at, g.id)))
        .flatten();

    let succeeded: Vec<Uuid> = page
        .iter()
        .filter(|g| g.status == GenerationStatus::Succeeded)
        .map(|g| g.id)
        .collect();
    let mut versions: HashMap<Uuid, Vec<StoredVersion>> = HashMap::new();
    for (id, v) in generations::versions(&client, &succeeded).await? {
        versions.entry(id).or_default().push(v);
    }
    let data = page
        .into_iter()
        .map(|g| {
            let v = versions.remove(&g.id).unwrap_or_default();
            GenerationView::new(&state, g, v)
        })
        .collect();
    Ok(Json(GenerationList {
        data,
        has_more,
        next_cursor,
    }))
}

/// `POST /api/v1/process-maps/generations/{id}/cancel`: stops a queued or running generation.
#[utoipa::path(
    post,
    path = "/api/v1/process-maps/generations/{id}/cancel",
    tag = "generations",
    operation_id = "cancelGeneration",
    summary = "Cancel a queued or running generation",
    description = "Needs scope `generate`. A canceled generation is never completed by a worker later.",
    params(("id" = String, Path, description = "The generation's id.")),
    responses(
        (status = 200, description = "The canceled generation.", body = GenerationView,
            headers(
                ("X-Request-Id" = String, description = "Identifies this request; yours is kept if you send one."),
                ("RateLimit-Limit" = u32, description = "Requests allowed per window for this key."),
                ("RateLimit-Remaining" = u32, description = "Requests left in this window."),
                ("RateLimit-Reset" = u32, description = "Seconds until the window resets."),
            )),
        (status = 409, description = "It already finished (`generation_not_cancelable`).", body = ErrorEnvelope),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn cancel(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<GenerationView>, ApiError> {
    auth.require_any(&["generate"])?;
    let uuid = parse_id(&id)?;
    let client = state.pool.get().await?;
    let Some(canceled) = generations::cancel(&client, &auth.0.owner, uuid).await? else {
        return match generations::get_for_owner(&client, &auth.0.owner, uuid).await? {
            Some(done) => Err(ApiError::Conflict {
                code: "generation_not_cancelable",
                message: format!("generation {uuid} is already {}; only a queued or running generation can be canceled", done.status),
            }),
            None => Err(not_found(&id)),
        };
    };
    drop(client);
    if let Some(event) = StatusEvent::new(uuid, GenerationStatus::Canceled) {
        // Wakes wait=true requests on every replica; they re-read the row.
        if let Err(e) = state.publisher.publish_event(&event).await {
            tracing::warn!(generation_id = %uuid, error = %e, "could not publish the cancel event");
        }
    }
    Ok(Json(view(&state, canceled).await?))
}

/// `DELETE /api/v1/process-maps/generations/{id}`: removes a generation and its diagrams.
#[utoipa::path(
    delete,
    path = "/api/v1/process-maps/generations/{id}",
    tag = "generations",
    operation_id = "deleteGeneration",
    summary = "Delete a generation and its diagrams",
    description = "Needs scope `generate`. Deleting does not refund the generation quota.",
    params(("id" = String, Path, description = "The generation's id.")),
    responses(
        (status = 204, description = "Deleted.",
            headers(
                ("X-Request-Id" = String, description = "Identifies this request; yours is kept if you send one."),
                ("RateLimit-Limit" = u32, description = "Requests allowed per window for this key."),
                ("RateLimit-Remaining" = u32, description = "Requests left in this window."),
                ("RateLimit-Reset" = u32, description = "Seconds until the window resets."),
            )),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    auth.require_any(&["generate"])?;
    let uuid = parse_id(&id)?;
    let client = state.pool.get().await?;
    if generations::delete(&client, &auth.0.owner, uuid).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(&id))
    }
}

// ---- helpers -------------------------------------------------------------------------------

/// An id that is not a UUID names nothing, so it is "not found", like any unknown id.
fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| not_found(id))
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(Some("id"), format!("no generation with id {id:?}"))
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().ok().map(str::trim).unwrap_or_default();
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY_LEN
        || !key.chars().all(|c| c.is_ascii_graphic())
    {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            format!(
                "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} printable ASCII characters"
            ),
        ));
    }
    Ok(Some(key.to_owned()))
}

/// Refuses a refinement whose source cannot be used, before anything is stored.
async fn check_source(
    state: &AppState,
    owner: &str,
    request: &GenerationRequest,
) -> Result<(), ApiError> {
    let GenerationRequest::Refinement { source, .. } = request else {
        return Ok(());
    };
    match source {
        RefinementSource::Inline { bpmn_xml } => {
            procmap_engine::check_source(bpmn_xml).map_err(|problems| ApiError::ValidationFailed {
                param: Some("source.bpmn_xml".into()),
                message: format!(
                    "source.bpmn_xml is not a usable BPMN 2.0 diagram: {}",
                    problems[0].message
                ),
                problems,
            })
        }
        RefinementSource::Stored {
            generation_id,
            option_number,
            version_number,
        } => {
            let client = state.pool.get().await?;
            match generations::find_source(&client, owner, *generation_id, *option_number, *version_number).await? {
                SourceLookup::Found(_) => Ok(()),
                SourceLookup::NoGeneration => Err(ApiError::not_found(
                    Some("source.generation_id"),
                    format!("no generation with id {generation_id}"),
                )),
                SourceLookup::NotSucceeded(status) => Err(ApiError::ValidationFailed {
                    param: Some("source.generation_id".into()),
                    message: format!("generation {generation_id} is {status}; only a succeeded generation can be refined"),
                    problems: Vec::new(),
                }),
                SourceLookup::NoVersion => Err(ApiError::not_found(
                    Some("source.option_number"),
                    format!("generation {generation_id} has no option {option_number} version {version_number}"),
                )),
            }
        }
    }
}

/// Cursors are opaque to clients: `v1:<created_at µs>:<id>`, base64url-encoded.
fn encode_cursor(created_at: DateTime<Utc>, id: Uuid) -> String {
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
