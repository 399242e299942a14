//! `/api/v1/process-maps/generations`: create, retrieve, list, cancel and delete generations.
//!
//! Each handler takes typed extractors (the caller's key with its scope, the query, headers,
//! the body), calls one function of the [generations service](crate::generations) and maps its
//! answer into the response types beside it ([`request`], [`view`]). The response headers every
//! authenticated operation shares are declared once, in [`crate::openapi`].

mod request;
mod view;

use axum::{
    extract::State,
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;

pub use request::{
    checked_bpmn_xml, language, parse, prompt, CreateGeneration, InitialRequest, RefinementRequest,
};
pub use view::{timestamp, GenerationList, GenerationView};

use crate::{
    error::{ApiError, CommonErrors, ErrorEnvelope},
    generations,
    http::{
        params::encode_cursor, true_or_false, Body, Caller, Generate, IdempotencyKey, ListParams,
        PathId, Query, ReadGenerations, RequestId, Resource,
    },
    state::AppState,
};

/// Generations, as paths name them: `PathId<Generations>` is a generation's `{id}`.
pub struct Generations;

impl Resource for Generations {
    const NAME: &'static str = "generation";
    const SPAN_FIELD: &'static str = "generation_id";
}

/// The query of `POST /generations`.
#[derive(Deserialize)]
pub struct CreateParams {
    /// Wait for the result (default true).
    #[serde(default = "yes", deserialize_with = "true_or_false")]
    pub wait: bool,
}

fn yes() -> bool {
    true
}

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
                ("Location" = String, description = "The generation's URL."),
                ("Retry-After" = u64, description = "Seconds to wait before polling `links.self`."),
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
    caller: Caller<Generate>,
    Query(params): Query<CreateParams>,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    RequestId(request_id): RequestId,
    Body(body): Body<CreateGeneration>,
) -> Result<Response, ApiError> {
    let request = body.into_request()?;
    let created = generations::create(
        &state,
        &caller.key,
        request,
        None,
        idempotency_key.as_deref(),
        &request_id,
        params.wait,
    )
    .await?;
    Ok(created_response(&state, created))
}

/// The answer to a request that accepted a generation: 200 with the finished generation, or
/// 202 with a hint of when to poll; with its URL, and whether an Idempotency-Key replayed it.
pub(crate) fn created_response(state: &AppState, created: generations::Created) -> Response {
    let status = if created.generation.generation.status.is_terminal() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let view = GenerationView::new(state, created.generation);
    let mut response = (status, Json(&view)).into_response();
    suggest_next_poll(&mut response, status == StatusCode::ACCEPTED);
    if let Ok(location) = HeaderValue::from_str(&view.links.self_) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    if created.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
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
            headers(("Retry-After" = u64, description = "While it is `queued` or `running`: seconds to wait before polling again."))),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn retrieve(
    State(state): State<AppState>,
    caller: Caller<ReadGenerations>,
    id: PathId<Generations>,
) -> Result<Response, ApiError> {
    let found = generations::get(&state, &caller.key.workspace(), id.id)
        .await?
        .ok_or_else(|| id.not_found())?;
    let unfinished = !found.generation.status.is_terminal();
    let mut response = Json(GenerationView::new(&state, found)).into_response();
    suggest_next_poll(&mut response, unfinished);
    Ok(response)
}

/// Seconds a poller is asked to wait before asking about an unfinished generation again.
const POLL_AFTER_SECS: u32 = 2;

/// `Retry-After` on an answer about an unfinished generation: when to poll `links.self` next.
pub(crate) fn suggest_next_poll(response: &mut Response, unfinished: bool) {
    if unfinished {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(POLL_AFTER_SECS));
    }
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
        (status = 200, description = "A page of generations.", body = GenerationList),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller<ReadGenerations>,
    page: ListParams,
) -> Result<Json<GenerationList>, ApiError> {
    let page = generations::list(&state, &caller.key.workspace(), page).await?;
    Ok(Json(GenerationList {
        has_more: page.next.is_some(),
        next_cursor: page.next.map(|(at, id)| encode_cursor(at, id)),
        data: page
            .generations
            .into_iter()
            .map(|found| GenerationView::new(&state, found))
            .collect(),
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
        (status = 200, description = "The canceled generation.", body = GenerationView),
        (status = 409, description = "It already finished (`generation_not_cancelable`).", body = ErrorEnvelope),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller<Generate>,
    id: PathId<Generations>,
) -> Result<Json<GenerationView>, ApiError> {
    let canceled = generations::cancel(&state, &caller.key.workspace(), id.id)
        .await?
        .ok_or_else(|| id.not_found())?;
    Ok(Json(GenerationView::new(&state, canceled)))
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
        (status = 204, description = "Deleted."),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller<Generate>,
    id: PathId<Generations>,
) -> Result<StatusCode, ApiError> {
    if generations::delete(&state, &caller.key.workspace(), id.id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(id.not_found())
    }
}
