//! `/api/v1/copilot`: a diagram's copilot session, and the model the copilot runs (seed 002).
//!
//! Everything here needs `diagrams:write` and `generate`, since the copilot proposes new
//! versions of a diagram by generating them. Errors use procmap's envelope (seed 001), not
//! seed 002's bare `{"error"}`.

use axum::{
    extract::State,
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use procmap_core::{db::copilot::Session, domain::Scope};
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
        deserialize, Body, Caller, FromJson, PathId, Query, Resource, WriteDiagrams,
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
                self_: format!(
                    "{}/api/v1/copilot/sessions/{}",
                    state.config.public_base_url, session.id
                ),
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
