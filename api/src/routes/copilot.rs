//! `/api/v1/copilot`: a diagram's copilot session, and the model the copilot runs (seed 002).
//!
//! Everything here needs `diagrams:write` and `generate`, since the copilot proposes new
//! versions of a diagram by generating them. Errors use procmap's envelope (seed 001), not
//! seed 002's bare `{"error"}`.

use axum::{
    extract::{Path, State},
    http::{header, HeaderValue, StatusCode},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
    Json,
};
use procmap_core::{
    db::{copilot::Session, copilot_turns::Message},
    domain::Scope,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::generations::timestamp;
use crate::{
    copilot,
    error::{ApiError, CommonErrors, ErrorEnvelope},
    http::{
        body::{optional_uuid, uuid},
        deserialize, Body, Caller, FromJson, ListParams, PathId, Query, Resource, WriteDiagrams,
    },
    state::AppState,
};

pub struct Sessions;

impl Resource for Sessions {
    const NAME: &'static str = "copilot session";
    const SPAN_FIELD: &'static str = "session_id";
}

/// A copilot session as clients see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub id: Uuid,
    /// The diagram the conversation is about; it has no other session.
    pub diagram_id: Uuid,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub links: SessionLinks,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionLinks {
    #[serde(rename = "self")]
    pub self_: String,
    pub diagram: String,
}

impl SessionView {
    fn new(state: &AppState, session: Session) -> Self {
        SessionView {
            links: SessionLinks {
                self_: state.copilot_session_url(session.id),
                diagram: state.diagram_url(session.diagram_id),
            },
            id: session.id,
            diagram_id: session.diagram_id,
            created_at: timestamp(session.created_at),
        }
    }
}

/// The body of `POST /copilot/sessions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    /// The diagram to talk about.
    #[serde(deserialize_with = "uuid")]
    #[schema(value_type = String, format = Uuid)]
    pub diagram_id: Uuid,
}

impl FromJson for CreateSession {
    fn from_json(value: Value) -> Result<Self, ApiError> {
        deserialize(value, "")
    }
}

/// Both scopes every copilot operation needs.
fn may_use_copilot(caller: &Caller<WriteDiagrams>) -> Result<(), ApiError> {
    caller.also_needs(Scope::Generate)
}

/// `POST /api/v1/copilot/sessions`
#[utoipa::path(
    post,
    path = "/api/v1/copilot/sessions",
    tag = "copilot",
    operation_id = "createCopilotSession",
    summary = "Start the copilot session of a diagram",
    description = "Needs scopes `diagrams:write` and `generate`. A diagram has at most one session: a second \
                   create is 409 `session_exists`, and its message names the session.",
    request_body = CreateSession,
    responses(
        (status = 201, description = "The session.", body = SessionView,
            headers(("Location" = String, description = "The session's URL."))),
        (status = 409, description = "The diagram has a session already (`session_exists`).", body = ErrorEnvelope),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller<WriteDiagrams>,
    Body(body): Body<CreateSession>,
) -> Result<Response, ApiError> {
    may_use_copilot(&caller)?;
    let session = copilot::create(&state, &caller.key.workspace(), body.diagram_id).await?;
    let view = SessionView::new(&state, session);
    let mut response = (StatusCode::CREATED, Json(&view)).into_response();
    if let Ok(location) = HeaderValue::from_str(&view.links.self_) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// The query of `GET /copilot/sessions`.
#[derive(Deserialize)]
pub struct SessionQuery {
    #[serde(default, deserialize_with = "optional_uuid")]
    diagram_id: Option<Uuid>,
}

/// `GET /api/v1/copilot/sessions`
#[utoipa::path(
    get,
    path = "/api/v1/copilot/sessions",
    tag = "copilot",
    operation_id = "getCopilotSessionOfDiagram",
    summary = "The copilot session of a diagram",
    description = "Needs scopes `diagrams:write` and `generate`. `diagram_id` is required; a diagram with no \
                   session (or not the caller's) is 404.",
    params(("diagram_id" = String, Query, format = Uuid, description = "The diagram.")),
    responses(
        (status = 200, description = "The session.", body = SessionView),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn of_diagram(
    State(state): State<AppState>,
    caller: Caller<WriteDiagrams>,
    Query(query): Query<SessionQuery>,
) -> Result<Json<SessionView>, ApiError> {
    may_use_copilot(&caller)?;
    let diagram_id = query
        .diagram_id
        .ok_or_else(|| ApiError::missing("diagram_id"))?;
    let session = copilot::of_diagram(&state, &caller.key.workspace(), diagram_id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                Some("diagram_id"),
                format!("diagram {diagram_id} has no copilot session"),
            )
        })?;
    Ok(Json(SessionView::new(&state, session)))
}

/// `GET /api/v1/copilot/sessions/{id}`
#[utoipa::path(
    get,
    path = "/api/v1/copilot/sessions/{id}",
    tag = "copilot",
    operation_id = "getCopilotSession",
    summary = "Retrieve a copilot session",
    description = "Needs scopes `diagrams:write` and `generate`.",
    params(("id" = String, Path, description = "The session's id.")),
    responses(
        (status = 200, description = "The session.", body = SessionView),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn retrieve(
    State(state): State<AppState>,
    caller: Caller<WriteDiagrams>,
    id: PathId<Sessions>,
) -> Result<Json<SessionView>, ApiError> {
    may_use_copilot(&caller)?;
    let session = copilot::get(&state, &caller.key.workspace(), id.id)
        .await?
        .ok_or_else(|| id.not_found())?;
    Ok(Json(SessionView::new(&state, session)))
}

/// `DELETE /api/v1/copilot/sessions/{id}`
#[utoipa::path(
    delete,
    path = "/api/v1/copilot/sessions/{id}",
    tag = "copilot",
    operation_id = "deleteCopilotSession",
    summary = "Delete a copilot session",
    description = "Needs scopes `diagrams:write` and `generate`. The diagram and its versions stay.",
    params(("id" = String, Path, description = "The session's id.")),
    responses(
        (status = 204, description = "Deleted."),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller<WriteDiagrams>,
    id: PathId<Sessions>,
) -> Result<StatusCode, ApiError> {
    may_use_copilot(&caller)?;
    if copilot::delete(&state, &caller.key.workspace(), id.id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(id.not_found())
    }
}

/// The copilot's model, and what may be chosen.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelSetting {
    /// The model the copilot runs for this workspace (test and live keys choose apart).
    #[schema(example = "builtin")]
    pub model: String,
    /// What `PUT` accepts: `builtin`, then the models the operator offers.
    pub choices: Vec<String>,
}

/// The body of `PUT /copilot/settings/model`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetModel {
    #[schema(example = "builtin")]
    pub model: String,
}

impl FromJson for SetModel {
    fn from_json(value: Value) -> Result<Self, ApiError> {
        deserialize(value, "")
    }
}

/// `GET /api/v1/copilot/settings/model`
#[utoipa::path(
    get,
    path = "/api/v1/copilot/settings/model",
    tag = "copilot",
    operation_id = "getCopilotModel",
    summary = "The copilot's model",
    description = "Needs scopes `diagrams:write` and `generate`. `builtin` until another is chosen.",
    responses(
        (status = 200, description = "The model and the choices.", body = ModelSetting),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn model(
    State(state): State<AppState>,
    caller: Caller<WriteDiagrams>,
) -> Result<Json<ModelSetting>, ApiError> {
    may_use_copilot(&caller)?;
    let model = copilot::model(&state, &caller.key.workspace()).await?;
    Ok(Json(ModelSetting {
        model,
        choices: copilot::choices(&state),
    }))
}

/// `PUT /api/v1/copilot/settings/model`
#[utoipa::path(
    put,
    path = "/api/v1/copilot/settings/model",
    tag = "copilot",
    operation_id = "setCopilotModel",
    summary = "Choose the copilot's model",
    description = "Needs scopes `diagrams:write` and `generate`. The choices are `builtin` and those in \
                   `PROCMAP_COPILOT_MODELS`; any other is 400 `invalid_parameter`, naming them.",
    request_body = SetModel,
    responses(
        (status = 200, description = "The model now chosen, and the choices.", body = ModelSetting),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn set_model(
    State(state): State<AppState>,
    caller: Caller<WriteDiagrams>,
    Body(body): Body<SetModel>,
) -> Result<Json<ModelSetting>, ApiError> {
    may_use_copilot(&caller)?;
    copilot::set_model(&state, &caller.key.workspace(), &body.model).await?;
    Ok(Json(ModelSetting {
        model: body.model,
        choices: copilot::choices(&state),
    }))
}

/// The body of `POST /copilot/sessions/{id}/chat`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Chat {
    /// What the user asks, in plain language.
    #[schema(example = "Add a step to notify the customer after Approve the claim")]
    pub message: String,
    /// The BPMN XML in the client's editor, when it differs from the stored latest version:
    /// the turn edits it instead. A proposal still applies over the version that was latest
    /// when the turn was asked.
    pub diagram_state: Option<String>,
}

impl FromJson for Chat {
    fn from_json(value: Value) -> Result<Self, ApiError> {
        deserialize(value, "")
    }
}

/// `POST /api/v1/copilot/sessions/{id}/chat`
#[utoipa::path(
    post,
    path = "/api/v1/copilot/sessions/{id}/chat",
    tag = "copilot",
    operation_id = "copilotChat",
    summary = "Send a message and stream the copilot's answer (SSE)",
    description = "Needs scopes `diagrams:write` and `generate`. Answers `text/event-stream`: `status` \
                   {message}, `tool_call` {name, arguments}, `tool_result` {name, result}, `content_delta` \
                   {delta}, then `complete` {message_id, content, diagram_diff} or `error` {error}. The turn \
                   runs as a job: a client that disconnects loses nothing, and the answer appears in \
                   `GET …/messages`. After the wait window the stream ends with a `status` event whose \
                   `background` is true. One turn runs at a time in a session: 409 `turn_in_progress`.",
    params(("id" = String, Path, description = "The session's id.")),
    request_body = Chat,
    responses(
        (status = 200, description = "The answer's events.", content_type = "text/event-stream", body = String),
        (status = 409, description = "`turn_in_progress`, or `diagram_not_ready` while the diagram has no version.", body = ErrorEnvelope),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn chat(
    State(state): State<AppState>,
    caller: Caller<WriteDiagrams>,
    id: PathId<Sessions>,
    Body(body): Body<Chat>,
) -> Result<Response, ApiError> {
    may_use_copilot(&caller)?;
    let message = copilot::checked_message(&body.message)?;
    let diagram_state = body
        .diagram_state
        .map(|xml| super::generations::checked_bpmn_xml("diagram_state", xml))
        .transpose()?;
    if let Some(xml) = &diagram_state {
        procmap_engine::bpmn::reader::read(xml).map_err(|e| {
            ApiError::invalid(
                "diagram_state",
                format!("diagram_state is not a BPMN diagram procmap can read: {e}"),
            )
        })?;
    }
    let accepted = copilot::chat(
        &state,
        &caller.key.workspace(),
        id.id,
        &message,
        diagram_state.as_deref(),
    )
    .await
    .map_err(|e| match e {
        ApiError::NotFound { .. } => id.not_found(),
        other => other,
    })?;
    Ok(event_stream(copilot::TurnStream::new(state, accepted)))
}

/// A turn's events as `text/event-stream`.
fn event_stream(turn: copilot::TurnStream) -> Response {
    let events = futures_util::stream::unfold(turn, |mut turn| async move {
        let event = turn.next().await?;
        let mut sse = Event::default().event(event.name);
        if let Some(id) = event.id {
            sse = sse.id(id.to_string());
        }
        let sse = sse
            .json_data(&event.data)
            .unwrap_or_else(|_| Event::default().event("error").data("{}"));
        Some((Ok::<_, std::convert::Infallible>(sse), turn))
    });
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response();
    // Proxies such as nginx would otherwise hold the events back in their buffers.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// `GET /api/v1/copilot/sessions/{id}/messages/{mid}/events`
#[utoipa::path(
    get,
    path = "/api/v1/copilot/sessions/{id}/messages/{mid}/events",
    tag = "copilot",
    operation_id = "followCopilotAnswer",
    summary = "Stream a copilot answer again (SSE)",
    description = "Needs scopes `diagrams:write` and `generate`. The same events as the chat stream, for                    a client whose stream broke, from any API replica: each stored step carries an `id`,                    and a `Last-Event-ID` header resumes after it. A finished answer's stream replays its                    steps and ends with `complete` or `error`.",
    params(
        ("id" = String, Path, description = "The session's id."),
        ("mid" = String, Path, description = "The copilot answer's id."),
        ("Last-Event-ID" = Option<i32>, Header, description = "The last step already seen."),
    ),
    responses(
        (status = 200, description = "The answer's events.", content_type = "text/event-stream", body = String),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn follow(
    State(state): State<AppState>,
    caller: Caller<WriteDiagrams>,
    Path((session, message)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    may_use_copilot(&caller)?;
    let (session_id, message_id) = session_and_message(&session, &message)?;
    let seen = match headers.get("last-event-id") {
        None => 0,
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<i32>().ok())
            .filter(|n| *n >= 0)
            .ok_or_else(|| {
                ApiError::invalid(
                    "Last-Event-ID",
                    "Last-Event-ID must be the id of an event this stream sent: a whole number",
                )
            })?,
    };
    let accepted = copilot::follow(
        &state,
        &caller.key.workspace(),
        session_id,
        message_id,
        seen,
    )
    .await?;
    Ok(event_stream(copilot::TurnStream::new(state, accepted)))
}

/// The `{id}` and `{mid}` of a message's path; one that is not a UUID names nothing (404).
fn session_and_message(session: &str, message: &str) -> Result<(Uuid, Uuid), ApiError> {
    let not_found = |what: &str, param: &str, raw: &str| {
        ApiError::not_found(Some(param), format!("no {what} with id {raw:?}"))
    };
    Ok((
        Uuid::parse_str(session).map_err(|_| not_found("copilot session", "id", session))?,
        Uuid::parse_str(message).map_err(|_| not_found("message", "mid", message))?,
    ))
}

/// One message of a conversation.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    pub id: Uuid,
    /// `user` or `copilot`.
    pub role: String,
    /// The user's text, or the copilot's reply (empty until it finishes).
    pub content: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// A copilot answer: `queued`, `running`, `succeeded` or `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// A copilot answer: the user message it answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<Uuid>,
    /// A copilot answer: the model that answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// A copilot answer: the diagram version it was asked on, which a snapshot needs to be
    /// latest still.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_version: Option<i32>,
    /// A copilot answer: what its proposal adds, removes and changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagram_diff: Option<Value>,
    /// A copilot answer: the BPMN XML it proposes; null when it proposes no change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proposed_bpmn_xml: Option<String>,
    /// A copilot answer: the version a snapshot made of its proposal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied_version: Option<i32>,
    /// A copilot answer that failed: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<procmap_core::domain::GenerationError>,
    /// A user message: whether it came with the editor's diagram state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_diagram_state: Option<bool>,
}

impl MessageView {
    fn new(message: Message) -> Self {
        let user = message.role == "user";
        MessageView {
            id: message.id,
            content: message.content,
            created_at: timestamp(message.created_at),
            status: message.status,
            reply_to: message.reply_to,
            model: message.model,
            base_version: message.base_version,
            diagram_diff: message.diagram_diff,
            proposed_bpmn_xml: message.proposed_bpmn,
            applied_version: message.applied_version,
            error: message.error,
            sent_diagram_state: user.then_some(message.diagram_state.is_some()),
            role: message.role,
        }
    }
}

/// A page of a conversation, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessagePage {
    pub data: Vec<MessageView>,
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

/// `GET /api/v1/copilot/sessions/{id}/messages`
#[utoipa::path(
    get,
    path = "/api/v1/copilot/sessions/{id}/messages",
    tag = "copilot",
    operation_id = "listCopilotMessages",
    summary = "The conversation, oldest first",
    description = "Needs scopes `diagrams:write` and `generate`. The user's messages and the copilot's \
                   answers, each answer with its status, its diff and the BPMN it proposes. Paginated \
                   forward: `limit` 1–100 (default 20) and `cursor` from `next_cursor`.",
    params(
        ("id" = String, Path, description = "The session's id."),
        ("limit" = Option<i64>, Query, description = "Page size, 1–100; default 20."),
        ("cursor" = Option<String>, Query, description = "Opaque cursor from `next_cursor`; a bad one is 400 `invalid_cursor`."),
    ),
    responses(
        (status = 200, description = "A page of the conversation.", body = MessagePage),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn messages(
    State(state): State<AppState>,
    caller: Caller<WriteDiagrams>,
    id: PathId<Sessions>,
    page: ListParams,
) -> Result<Json<MessagePage>, ApiError> {
    may_use_copilot(&caller)?;
    let mut fetched = copilot::messages(
        &state,
        &caller.key.workspace(),
        id.id,
        page.after.map(|(_, id)| id),
        page.rows_to_fetch(),
    )
    .await?
    .ok_or_else(|| id.not_found())?;
    let next = page.cut(&mut fetched, |m| (m.created_at, m.id));
    Ok(Json(MessagePage {
        has_more: next.is_some(),
        next_cursor: next.map(|(at, id)| crate::http::params::encode_cursor(at, id)),
        data: fetched.into_iter().map(MessageView::new).collect(),
    }))
}

/// What a snapshot made.
#[derive(Debug, Serialize, ToSchema)]
pub struct SnapshotView {
    pub diagram_id: Uuid,
    pub version_number: i32,
    pub links: SnapshotLinks,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SnapshotLinks {
    /// The new version.
    pub version: String,
}

/// `POST /api/v1/copilot/sessions/{id}/messages/{mid}/snapshot`
#[utoipa::path(
    post,
    path = "/api/v1/copilot/sessions/{id}/messages/{mid}/snapshot",
    tag = "copilot",
    operation_id = "snapshotCopilotMessage",
    summary = "Apply an answer's proposal as the diagram's next version",
    description = "Needs scopes `diagrams:write` and `generate`. 409 `already_applied` for a proposal \
                   applied before, `stale_proposal` when the diagram has a newer version than the one the \
                   turn read, and `no_proposal` for a message that proposes nothing (a user message, an \
                   answer still running or failed, or one that changed nothing).",
    params(
        ("id" = String, Path, description = "The session's id."),
        ("mid" = String, Path, description = "The copilot answer's id."),
    ),
    responses(
        (status = 201, description = "The new version.", body = SnapshotView,
            headers(("Location" = String, description = "The new version's URL."))),
        (status = 409, description = "`already_applied`, `stale_proposal` or `no_proposal`.", body = ErrorEnvelope),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn snapshot(
    State(state): State<AppState>,
    caller: Caller<WriteDiagrams>,
    Path((session, message)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    may_use_copilot(&caller)?;
    let (session_id, message_id) = session_and_message(&session, &message)?;
    let (diagram_id, version_number) =
        copilot::snapshot(&state, &caller.key.workspace(), session_id, message_id).await?;
    let view = SnapshotView {
        links: SnapshotLinks {
            version: format!("{}?version={version_number}", state.diagram_url(diagram_id)),
        },
        diagram_id,
        version_number,
    };
    let mut response = (StatusCode::CREATED, Json(&view)).into_response();
    if let Ok(location) = HeaderValue::from_str(&view.links.version) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}
