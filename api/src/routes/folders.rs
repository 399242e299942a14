//! `/api/v1/folders`: create, list, retrieve, change and delete folders (seed 001).

use axum::{
    extract::State,
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use procmap_core::{
    db::folders::{Folder, FolderChanges},
    domain::{FolderContext, Name, Workspace, MAX_CONTEXT_CHARS},
};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::generations::timestamp;
use crate::{
    error::{ApiError, CommonErrors, ErrorEnvelope},
    folders,
    http::{
        body::{optional_uuid, string_field, uuid_field},
        deserialize,
        params::encode_cursor,
        Body, Caller, FromJson, ListParams, PathId, Query, ReadFolders, Resource, WriteFolders,
    },
    state::AppState,
};

pub struct Folders;

impl Resource for Folders {
    const NAME: &'static str = "folder";
    const SPAN_FIELD: &'static str = "folder_id";
}

/// A folder as clients see it.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct FolderView {
    pub id: Uuid,
    pub name: String,
    /// The folder it is in; null at the top level.
    pub parent_id: Option<Uuid>,
    /// What steers generation of the diagrams in it and in its sub-folders.
    pub context: Option<String>,
    /// False for a test-mode key's folder.
    pub livemode: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub links: FolderLinks,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct FolderLinks {
    #[serde(rename = "self")]
    pub self_: String,
    /// Its diagrams.
    pub diagrams: String,
}

impl FolderView {
    fn new(state: &AppState, workspace: &Workspace, folder: Folder) -> Self {
        FolderView {
            links: FolderLinks {
                self_: state.folder_url(folder.id),
                diagrams: format!(
                    "{}/api/v1/diagrams?folder_id={}",
                    state.config.public_base_url, folder.id
                ),
            },
            id: folder.id,
            name: folder.name,
            parent_id: folder.parent_id,
            context: folder.context,
            livemode: workspace.livemode,
            created_at: timestamp(folder.created_at),
            updated_at: timestamp(folder.updated_at),
        }
    }
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct FolderList {
    pub data: Vec<FolderView>,
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

/// The body of `POST /folders`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFolder {
    #[schema(min_length = 1, max_length = 200, example = "Customer service")]
    pub name: String,
    /// The folder to create it in; the top level when absent or null.
    #[serde(default, deserialize_with = "optional_uuid")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub parent_id: Option<Uuid>,
    /// What steers generation inside it, at most 4,000 characters.
    #[schema(
        max_length = 4000,
        example = "Our support team has three tiers: agent, specialist and manager."
    )]
    pub context: Option<String>,
}

impl FromJson for CreateFolder {
    fn from_json(value: Value) -> Result<Self, ApiError> {
        deserialize(value, "")
    }
}

/// The body of `PATCH /folders/{id}`: any of the fields; null `parent_id` moves the folder
/// to the top level, and null `context` clears it.
#[derive(Debug, ToSchema)]
pub struct UpdateFolder {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub parent_id: Option<Option<Uuid>>,
    #[schema(max_length = 4000)]
    pub context: Option<Option<String>>,
}

impl FromJson for UpdateFolder {
    fn from_json(value: Value) -> Result<Self, ApiError> {
        let Value::Object(fields) = value else {
            return Err(ApiError::InvalidJson(
                "the body must be a JSON object".into(),
            ));
        };
        if let Some(unknown) = fields
            .keys()
            .find(|k| !["name", "parent_id", "context"].contains(&k.as_str()))
        {
            return Err(ApiError::invalid(
                unknown,
                format!("{unknown}: unknown field"),
            ));
        }
        Ok(UpdateFolder {
            name: string_field(&fields, "name", false)?.flatten(),
            parent_id: uuid_field(&fields, "parent_id")?,
            context: string_field(&fields, "context", true)?,
        })
    }
}

pub(super) fn name(param: &str, text: &str) -> Result<Name, ApiError> {
    Name::parse(text).map_err(|e| match e {
        procmap_core::domain::InvalidName::Empty => ApiError::missing(param),
        e => ApiError::invalid(param, format!("{param} {e}")),
    })
}

fn context(text: &str) -> Result<Option<FolderContext>, ApiError> {
    FolderContext::parse(text).map_err(|_| {
        ApiError::invalid(
            "context",
            format!("context must be at most {MAX_CONTEXT_CHARS} characters"),
        )
    })
}

/// `POST /api/v1/folders`
#[utoipa::path(
    post,
    path = "/api/v1/folders",
    tag = "folders",
    operation_id = "createFolder",
    summary = "Create a folder",
    description = "Needs scope `folders:write`. Folders nest at most 10 levels deep.",
    request_body = CreateFolder,
    responses(
        (status = 201, description = "The folder.", body = FolderView,
            headers(("Location" = String, description = "The folder's URL."))),
        (status = 409, description = "It would nest deeper than 10 levels (`folder_too_deep`).", body = ErrorEnvelope),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller<WriteFolders>,
    Body(body): Body<CreateFolder>,
) -> Result<Response, ApiError> {
    let name = name("name", &body.name)?;
    let context = body.context.as_deref().map(context).transpose()?.flatten();
    let workspace = caller.key.workspace();
    let folder =
        folders::create(&state, &workspace, &name, body.parent_id, context.as_ref()).await?;
    let view = FolderView::new(&state, &workspace, folder);
    let mut response = (StatusCode::CREATED, Json(&view)).into_response();
    if let Ok(location) = HeaderValue::from_str(&view.links.self_) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// The query of `GET /folders`.
#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default, deserialize_with = "optional_uuid")]
    parent_id: Option<Uuid>,
}

/// `GET /api/v1/folders`
#[utoipa::path(
    get,
    path = "/api/v1/folders",
    tag = "folders",
    operation_id = "listFolders",
    summary = "List folders, newest first",
    description = "Needs scope `folders:read`. With `parent_id`, only that folder's sub-folders.",
    params(
        ("parent_id" = Option<String>, Query, format = Uuid, description = "Only the sub-folders of this folder."),
        ("limit" = Option<u8>, Query, minimum = 1, maximum = 100, description = "Page size, 1-100 (default 20)."),
        ("cursor" = Option<String>, Query, description = "Opaque cursor from `next_cursor`; a bad one is 400 `invalid_cursor`."),
    ),
    responses(
        (status = 200, description = "A page of folders.", body = FolderList),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller<ReadFolders>,
    Query(query): Query<ListQuery>,
    page: ListParams,
) -> Result<Json<FolderList>, ApiError> {
    let workspace = caller.key.workspace();
    let (found, next) = folders::list(&state, &workspace, query.parent_id, page).await?;
    Ok(Json(FolderList {
        has_more: next.is_some(),
        next_cursor: next.map(|(at, id)| encode_cursor(at, id)),
        data: found
            .into_iter()
            .map(|f| FolderView::new(&state, &workspace, f))
            .collect(),
    }))
}

/// `GET /api/v1/folders/{id}`
#[utoipa::path(
    get,
    path = "/api/v1/folders/{id}",
    tag = "folders",
    operation_id = "getFolder",
    summary = "Retrieve a folder",
    description = "Needs scope `folders:read`.",
    params(("id" = String, Path, description = "The folder's id.")),
    responses(
        (status = 200, description = "The folder.", body = FolderView),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn retrieve(
    State(state): State<AppState>,
    caller: Caller<ReadFolders>,
    id: PathId<Folders>,
) -> Result<Json<FolderView>, ApiError> {
    let workspace = caller.key.workspace();
    let folder = folders::get(&state, &workspace, id.id)
        .await?
        .ok_or_else(|| id.not_found())?;
    Ok(Json(FolderView::new(&state, &workspace, folder)))
}

/// `PATCH /api/v1/folders/{id}`
#[utoipa::path(
    patch,
    path = "/api/v1/folders/{id}",
    tag = "folders",
    operation_id = "updateFolder",
    summary = "Rename, move, or change the context of a folder",
    description = "Needs scope `folders:write`. A null `parent_id` moves the folder to the top level; a null `context` clears it.",
    params(("id" = String, Path, description = "The folder's id.")),
    request_body = UpdateFolder,
    responses(
        (status = 200, description = "The changed folder.", body = FolderView),
        (status = 409, description = "The move would make a cycle (`folder_cycle`) or nest deeper than 10 levels (`folder_too_deep`).", body = ErrorEnvelope),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller<WriteFolders>,
    id: PathId<Folders>,
    Body(body): Body<UpdateFolder>,
) -> Result<Json<FolderView>, ApiError> {
    let name = body.name.as_deref().map(|n| name("name", n)).transpose()?;
    let context = match &body.context {
        None => None,
        Some(None) => Some(None),
        Some(Some(text)) => Some(context(text)?),
    };
    let changes = FolderChanges {
        name: name.as_ref(),
        parent_id: body.parent_id,
        context: context.as_ref().map(Option::as_ref),
    };
    let workspace = caller.key.workspace();
    let folder = folders::update(&state, &workspace, id.id, &changes)
        .await?
        .ok_or_else(|| id.not_found())?;
    Ok(Json(FolderView::new(&state, &workspace, folder)))
}

/// `DELETE /api/v1/folders/{id}`
#[utoipa::path(
    delete,
    path = "/api/v1/folders/{id}",
    tag = "folders",
    operation_id = "deleteFolder",
    summary = "Delete an empty folder",
    description = "Needs scope `folders:write`. A folder that holds folders or diagrams is 409 `folder_not_empty`.",
    params(("id" = String, Path, description = "The folder's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 409, description = "It is not empty (`folder_not_empty`).", body = ErrorEnvelope),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller<WriteFolders>,
    id: PathId<Folders>,
) -> Result<StatusCode, ApiError> {
    if folders::delete(&state, &caller.key.workspace(), id.id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(id.not_found())
    }
}
