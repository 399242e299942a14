//! `/api/v1/diagrams`: diagrams made by import, from a stored option or from a prompt; their
//! versions, export, and refinement in place (seed 001).

use axum::{
    extract::State,
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use procmap_core::{
    db::diagrams::{Diagram, DiagramChanges, DiagramVersion},
    domain::{GenerationError, GenerationRequest, GenerationStatus, Name, Scope, Workspace},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    folders::name,
    generations::{
        checked_bpmn_xml, created_response, language, prompt, suggest_next_poll, timestamp,
        CreateParams, GenerationView,
    },
};
use crate::{
    diagrams::{self, WithVersion},
    error::{ApiError, CommonErrors, ErrorEnvelope},
    http::{
        body::{
            at_least_one, optional_at_least_one, optional_uuid, string_field, uuid, uuid_field,
        },
        deserialize,
        params::optional_positive,
        Body, Caller, FromJson, IdempotencyKey, PathId, Query, ReadDiagrams, RequestId, Resource,
        WriteDiagrams,
    },
    state::AppState,
};

pub struct Diagrams;

impl Resource for Diagrams {
    const NAME: &'static str = "diagram";
    const SPAN_FIELD: &'static str = "diagram_id";
}

/// Where a diagram is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DiagramStatus {
    /// It has at least one version.
    Ready,
    /// Its version 1 is being generated.
    Generating,
    /// The generation of its version 1 failed or was canceled: it has no version.
    Failed,
}

/// A diagram as clients see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiagramView {
    pub id: Uuid,
    pub name: String,
    /// Its folder; null when it is in none.
    pub folder_id: Option<Uuid>,
    pub status: DiagramStatus,
    /// Its newest version's number; null until it has one.
    pub latest_version: Option<i32>,
    /// The generation it was made from, if any.
    pub generation_id: Option<Uuid>,
    /// Why its version 1 could not be generated, when `status` is `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<GenerationError>,
    /// False for a test-mode key's diagram.
    pub livemode: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    pub links: DiagramLinks,
    /// The BPMN 2.0 XML of the version shown (`version_number`): the latest, or the one asked
    /// for. Absent in lists and while the diagram has no version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_number: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bpmn_xml: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DiagramLinks {
    #[serde(rename = "self")]
    pub self_: String,
    pub versions: String,
    /// The BPMN 2.0 file of the latest version.
    pub export: String,
    /// Its picture: add `?format=png` or `&theme=dark`.
    pub image: String,
    /// The generation it was made from, to poll while it is `generating`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<String>,
    /// Its copilot session, when it has one; shown when one diagram is retrieved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copilot_session: Option<String>,
}

impl DiagramView {
    fn new(state: &AppState, workspace: &Workspace, diagram: Diagram) -> Self {
        let url = state.diagram_url(diagram.id);
        let status = match (diagram.latest_version, diagram.generation_status) {
            (Some(_), _) => DiagramStatus::Ready,
            (None, Some(s)) if !s.is_terminal() => DiagramStatus::Generating,
            // A succeeded generation whose version is not there yet is still being stored.
            (None, Some(GenerationStatus::Succeeded)) => DiagramStatus::Generating,
            (None, _) => DiagramStatus::Failed,
        };
        let error = (status == DiagramStatus::Failed)
            .then(|| {
                diagram.generation_error.clone().or_else(|| {
                    (diagram.generation_status == Some(GenerationStatus::Canceled)).then(|| {
                        GenerationError {
                            code: "canceled".into(),
                            message: "its generation was canceled".into(),
                        }
                    })
                })
            })
            .flatten();
        DiagramView {
            links: DiagramLinks {
                versions: format!("{url}/versions"),
                export: format!("{url}/export"),
                image: format!("{url}/image"),
                generation: diagram.generation_id.map(|id| state.generation_url(id)),
                copilot_session: None,
                self_: url,
            },
            id: diagram.id,
            name: diagram.name,
            folder_id: diagram.folder_id,
            status,
            latest_version: diagram.latest_version,
            generation_id: diagram.generation_id,
            error,
            livemode: workspace.livemode,
            created_at: timestamp(diagram.created_at),
            updated_at: timestamp(diagram.updated_at),
            version_number: None,
            bpmn_xml: None,
        }
    }

    fn with_version(state: &AppState, workspace: &Workspace, found: WithVersion) -> Self {
        let mut view = DiagramView::new(state, workspace, found.diagram);
        if let Some(version) = found.version {
            view.version_number = Some(version.version_number);
            view.bpmn_xml = Some(version.bpmn_xml);
        }
        view
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DiagramList {
    pub data: Vec<DiagramView>,
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

/// One version of a diagram.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiagramVersionView {
    pub version_number: i32,
    pub bpmn_xml: String,
    /// The generation whose result it is; null for an import or an upload.
    pub generation_id: Option<Uuid>,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// True when procmap laid out shapes the uploaded document did not draw. Only on upload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub laid_out: Option<bool>,
}

impl DiagramVersionView {
    fn new(version: DiagramVersion) -> Self {
        DiagramVersionView {
            version_number: version.version_number,
            bpmn_xml: version.bpmn_xml,
            generation_id: version.generation_id,
            created_at: timestamp(version.created_at),
            laid_out: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DiagramVersionList {
    pub data: Vec<DiagramVersionView>,
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

/// The body of `POST /diagrams`: which of `bpmn_xml`, `prompt` or `from_generation` it has
/// picks the way the diagram is made.
#[derive(Debug, ToSchema)]
#[serde(untagged)]
pub enum CreateDiagram {
    Import(ImportDiagram),
    Generate(GenerateDiagram),
    Save(SaveOption),
}

/// Imports a BPMN 2.0 document from any tool. One without a drawing is laid out.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportDiagram {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[serde(default, deserialize_with = "optional_uuid")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub folder_id: Option<Uuid>,
    /// BPMN 2.0 XML, at most 2 MiB.
    #[schema(min_length = 1, max_length = 2097152)]
    pub bpmn_xml: String,
}

/// Generates the diagram from a prompt: its version 1 is the chosen option. Also needs scope
/// `generate`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateDiagram {
    /// Default: the prompt's first line.
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "optional_uuid")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub folder_id: Option<Uuid>,
    #[schema(min_length = 1, max_length = 20000)]
    pub prompt: String,
    pub language: Option<String>,
    /// Which of the three options becomes version 1 (default 1).
    #[serde(default, deserialize_with = "optional_at_least_one")]
    #[schema(value_type = Option<i32>, minimum = 1, maximum = 3)]
    pub option_number: Option<i32>,
}

/// Saves a stored option's version as a new diagram.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveOption {
    /// Default: the generation's prompt's first line.
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "optional_uuid")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub folder_id: Option<Uuid>,
    pub from_generation: OptionReference,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionReference {
    #[serde(deserialize_with = "uuid")]
    #[schema(value_type = String, format = Uuid)]
    pub generation_id: Uuid,
    #[serde(deserialize_with = "at_least_one")]
    #[schema(minimum = 1)]
    pub option_number: i32,
    #[serde(deserialize_with = "at_least_one")]
    #[schema(minimum = 1)]
    pub version_number: i32,
}

impl FromJson for CreateDiagram {
    fn from_json(value: Value) -> Result<Self, ApiError> {
        let Value::Object(fields) = &value else {
            return Err(ApiError::InvalidJson(
                "the body must be a JSON object".into(),
            ));
        };
        let ways = ["bpmn_xml", "prompt", "from_generation"];
        let given: Vec<&str> = ways
            .into_iter()
            .filter(|k| fields.contains_key(*k))
            .collect();
        match given.as_slice() {
            [] => Err(ApiError::MissingParameter {
                param: "bpmn_xml".into(),
                message: "give bpmn_xml to import a diagram, prompt to generate one, or from_generation to save an option".into(),
            }),
            ["bpmn_xml"] => Ok(Self::Import(deserialize(value, "")?)),
            ["prompt"] => Ok(Self::Generate(deserialize(value, "")?)),
            ["from_generation"] => Ok(Self::Save(deserialize(value, "")?)),
            _ => Err(ApiError::invalid(
                given[1],
                format!("give only one of {}", given.join(", ")),
            )),
        }
    }
}

/// The body of `PATCH /diagrams/{id}`: a new name, a folder, or both; null `folder_id` takes
/// the diagram out of its folder.
#[derive(Debug, ToSchema)]
pub struct UpdateDiagram {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub folder_id: Option<Option<Uuid>>,
}

impl FromJson for UpdateDiagram {
    fn from_json(value: Value) -> Result<Self, ApiError> {
        let Value::Object(fields) = value else {
            return Err(ApiError::InvalidJson(
                "the body must be a JSON object".into(),
            ));
        };
        if let Some(unknown) = fields
            .keys()
            .find(|k| !["name", "folder_id"].contains(&k.as_str()))
        {
            return Err(ApiError::invalid(
                unknown,
                format!("{unknown}: unknown field"),
            ));
        }
        Ok(UpdateDiagram {
            name: string_field(&fields, "name", false)?.flatten(),
            folder_id: uuid_field(&fields, "folder_id")?,
        })
    }
}

/// The body of `POST /diagrams/{id}/versions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddVersion {
    /// BPMN 2.0 XML, at most 2 MiB. One without a drawing is laid out.
    #[schema(min_length = 1, max_length = 2097152)]
    pub bpmn_xml: String,
}

impl FromJson for AddVersion {
    fn from_json(value: Value) -> Result<Self, ApiError> {
        deserialize(value, "")
    }
}

/// The body of `POST /diagrams/{id}/refinements`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefineDiagram {
    /// The follow-up (at most 20,000 characters).
    #[schema(
        min_length = 1,
        max_length = 20000,
        example = "Add an escalation path for high-severity tickets."
    )]
    pub prompt: String,
    pub language: Option<String>,
}

impl FromJson for RefineDiagram {
    fn from_json(value: Value) -> Result<Self, ApiError> {
        deserialize(value, "")
    }
}

fn with_location(mut response: Response, url: &str) -> Response {
    if let Ok(location) = HeaderValue::from_str(url) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// `POST /api/v1/diagrams`
#[utoipa::path(
    post,
    path = "/api/v1/diagrams",
    tag = "diagrams",
    operation_id = "createDiagram",
    summary = "Create a diagram: import BPMN, generate from a prompt, or save a generation's option",
    description = "Needs scope `diagrams:write`; generating from a prompt also needs `generate`, and honours `wait` \
                   and `Idempotency-Key` as `POST /process-maps/generations` does. Answers 201 once the diagram has its \
                   version 1 (or its generation failed), and 202 while it is still being generated: poll `links.self`.",
    params(
        ("wait" = Option<bool>, Query, description = "With `prompt`: wait for the generation (default true)."),
        ("Idempotency-Key" = Option<String>, Header, max_length = 255, min_length = 1,
            description = "With `prompt`: makes retries safe for 24 hours."),
    ),
    request_body(content = CreateDiagram, examples(
        ("import" = (summary = "Import BPMN 2.0", value = json!({"name": "Ticket triage", "bpmn_xml": "<?xml version=\"1.0\"?>..."}))),
        ("prompt" = (summary = "Generate from a prompt", value = json!({"prompt": "Map the customer support ticket triage process from intake to resolution."}))),
        ("option" = (summary = "Save a generation's option", value = json!({"from_generation": {"generation_id": "33333333-3333-4333-8333-333333333333", "option_number": 2, "version_number": 1}}))),
    )),
    responses(
        (status = 201, description = "The diagram, with the BPMN of its version 1.", body = DiagramView,
            headers(("Location" = String, description = "The diagram's URL."))),
        (status = 202, description = "Made from a prompt, still generating: poll `links.self`.", body = DiagramView,
            headers(("Location" = String, description = "The diagram's URL."),
                    ("Retry-After" = u64, description = "Seconds to wait before polling."))),
        (status = 409, description = "The same Idempotency-Key is still being accepted.", body = ErrorEnvelope),
        (status = 422, description = "`bpmn_xml` is not usable BPMN 2.0, the generation has not succeeded, or an Idempotency-Key was reused with another body (`validation_failed`).", body = ErrorEnvelope),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller<WriteDiagrams>,
    Query(params): Query<CreateParams>,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    RequestId(request_id): RequestId,
    Body(body): Body<CreateDiagram>,
) -> Result<Response, ApiError> {
    let workspace = caller.key.workspace();
    let (status, found, replayed) = match body {
        CreateDiagram::Import(body) => {
            let name = name("name", &body.name)?;
            let bpmn_xml = checked_bpmn_xml("bpmn_xml", body.bpmn_xml)?;
            let stored =
                diagrams::import(&state, &workspace, &name, body.folder_id, &bpmn_xml).await?;
            (StatusCode::CREATED, stored.diagram, false)
        }
        CreateDiagram::Save(body) => {
            let name = body.name.as_deref().map(|n| name("name", n)).transpose()?;
            let option = &body.from_generation;
            let found = diagrams::from_generation(
                &state,
                &workspace,
                name,
                body.folder_id,
                (
                    option.generation_id,
                    option.option_number,
                    option.version_number,
                ),
            )
            .await?;
            (StatusCode::CREATED, found, false)
        }
        CreateDiagram::Generate(body) => {
            caller.also_needs(Scope::Generate)?;
            let prompt = prompt(&body.prompt)?;
            let language = language(body.language.as_deref())?;
            let option_number = body.option_number.unwrap_or(1);
            if option_number > procmap_core::domain::INITIAL_OPTION_COUNT {
                return Err(ApiError::invalid(
                    "option_number",
                    "option_number must be 1, 2 or 3",
                ));
            }
            let name = match body.name.as_deref() {
                Some(text) => name("name", text)?,
                None => Name::from_text(prompt.as_str())
                    .unwrap_or_else(|| Name::parse("Untitled diagram").expect("a valid name")),
            };
            let request = GenerationRequest::Initial { prompt, language };
            let (found, created) = diagrams::from_prompt(
                &state,
                &caller.key,
                name,
                body.folder_id,
                request,
                option_number,
                idempotency_key.as_deref(),
                &request_id,
                params.wait,
            )
            .await?;
            let status = if created.generation.generation.status.is_terminal() {
                StatusCode::CREATED
            } else {
                StatusCode::ACCEPTED
            };
            (status, found, created.replayed)
        }
    };
    let view = DiagramView::with_version(&state, &workspace, found);
    let url = view.links.self_.clone();
    let mut response = with_location((status, Json(view)).into_response(), &url);
    suggest_next_poll(&mut response, status == StatusCode::ACCEPTED);
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The query of `GET /diagrams`.
#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default, deserialize_with = "optional_uuid")]
    folder_id: Option<Uuid>,
}

/// `GET /api/v1/diagrams`
#[utoipa::path(
    get,
    path = "/api/v1/diagrams",
    tag = "diagrams",
    operation_id = "listDiagrams",
    summary = "List diagrams, newest first",
    description = "Needs scope `diagrams:read`. With `folder_id`, only the diagrams in that folder. Items carry no BPMN: \
                   get a diagram, or its export, for that.",
    params(
        ("folder_id" = Option<String>, Query, format = Uuid, description = "Only the diagrams in this folder."),
        ("limit" = Option<u8>, Query, minimum = 1, maximum = 100, description = "Page size, 1-100 (default 20)."),
        ("cursor" = Option<String>, Query, description = "Opaque cursor from `next_cursor`; a bad one is 400 `invalid_cursor`."),
    ),
    responses(
        (status = 200, description = "A page of diagrams.", body = DiagramList),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller<ReadDiagrams>,
    Query(query): Query<ListQuery>,
    page: crate::http::ListParams,
) -> Result<Json<DiagramList>, ApiError> {
    let workspace = caller.key.workspace();
    let (found, next) = diagrams::list(&state, &workspace, query.folder_id, page).await?;
    Ok(Json(DiagramList {
        has_more: next.is_some(),
        next_cursor: next.map(|(at, id)| crate::http::params::encode_cursor(at, id)),
        data: found
            .into_iter()
            .map(|d| DiagramView::new(&state, &workspace, d))
            .collect(),
    }))
}

/// The query of reads that pick a version.
#[derive(Deserialize)]
pub struct VersionQuery {
    #[serde(default, deserialize_with = "optional_positive")]
    version: Option<i32>,
}

/// `GET /api/v1/diagrams/{id}`
#[utoipa::path(
    get,
    path = "/api/v1/diagrams/{id}",
    tag = "diagrams",
    operation_id = "getDiagram",
    summary = "Retrieve a diagram with the BPMN of its latest version",
    description = "Needs scope `diagrams:read`. While it is `generating`, the answer carries `Retry-After`.",
    params(
        ("id" = String, Path, description = "The diagram's id."),
        ("version" = Option<i32>, Query, minimum = 1, description = "Show this version instead of the latest."),
    ),
    responses(
        (status = 200, description = "The diagram.", body = DiagramView),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn retrieve(
    State(state): State<AppState>,
    caller: Caller<ReadDiagrams>,
    id: PathId<Diagrams>,
    Query(query): Query<VersionQuery>,
) -> Result<Response, ApiError> {
    let workspace = caller.key.workspace();
    let found = diagrams::get(&state, &workspace, id.id, query.version)
        .await?
        .ok_or_else(|| id.not_found())?;
    if let (Some(n), None) = (query.version, &found.version) {
        return Err(no_version(id.id, n));
    }
    let mut view = DiagramView::with_version(&state, &workspace, found);
    view.links.copilot_session = crate::copilot::of_diagram(&state, &workspace, id.id)
        .await?
        .map(|session| state.copilot_session_url(session.id));
    let generating = view.status == DiagramStatus::Generating;
    let mut response = Json(view).into_response();
    suggest_next_poll(&mut response, generating);
    Ok(response)
}

fn no_version(id: Uuid, number: i32) -> ApiError {
    ApiError::not_found(
        Some("version"),
        format!("diagram {id} has no version {number}"),
    )
}

/// `PATCH /api/v1/diagrams/{id}`
#[utoipa::path(
    patch,
    path = "/api/v1/diagrams/{id}",
    tag = "diagrams",
    operation_id = "updateDiagram",
    summary = "Rename a diagram or move it to another folder",
    description = "Needs scope `diagrams:write`. A null `folder_id` takes it out of its folder.",
    params(("id" = String, Path, description = "The diagram's id.")),
    request_body = UpdateDiagram,
    responses(
        (status = 200, description = "The changed diagram.", body = DiagramView),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller<WriteDiagrams>,
    id: PathId<Diagrams>,
    Body(body): Body<UpdateDiagram>,
) -> Result<Json<DiagramView>, ApiError> {
    let name = body.name.as_deref().map(|n| name("name", n)).transpose()?;
    let changes = DiagramChanges {
        name: name.as_ref(),
        folder_id: body.folder_id,
    };
    let workspace = caller.key.workspace();
    let found = diagrams::update(&state, &workspace, id.id, &changes)
        .await?
        .ok_or_else(|| id.not_found())?;
    Ok(Json(DiagramView::with_version(&state, &workspace, found)))
}

/// `DELETE /api/v1/diagrams/{id}`
#[utoipa::path(
    delete,
    path = "/api/v1/diagrams/{id}",
    tag = "diagrams",
    operation_id = "deleteDiagram",
    summary = "Delete a diagram and its versions",
    description = "Needs scope `diagrams:write`. The generations it was made from stay.",
    params(("id" = String, Path, description = "The diagram's id.")),
    responses(
        (status = 204, description = "Deleted."),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller<WriteDiagrams>,
    id: PathId<Diagrams>,
) -> Result<StatusCode, ApiError> {
    if diagrams::delete(&state, &caller.key.workspace(), id.id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(id.not_found())
    }
}

/// `POST /api/v1/diagrams/{id}/versions`
#[utoipa::path(
    post,
    path = "/api/v1/diagrams/{id}/versions",
    tag = "diagrams",
    operation_id = "addDiagramVersion",
    summary = "Add a BPMN document as the diagram's next version",
    description = "Needs scope `diagrams:write`. The document is checked as an import is, and laid out when it has no drawing.",
    params(("id" = String, Path, description = "The diagram's id.")),
    request_body = AddVersion,
    responses(
        (status = 201, description = "The new version.", body = DiagramVersionView),
        (status = 422, description = "`bpmn_xml` is not usable BPMN 2.0 (`validation_failed`).", body = ErrorEnvelope),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn add_version(
    State(state): State<AppState>,
    caller: Caller<WriteDiagrams>,
    id: PathId<Diagrams>,
    Body(body): Body<AddVersion>,
) -> Result<Response, ApiError> {
    let bpmn_xml = checked_bpmn_xml("bpmn_xml", body.bpmn_xml)?;
    let (version, laid_out) =
        diagrams::add_version(&state, &caller.key.workspace(), id.id, &bpmn_xml)
            .await?
            .ok_or_else(|| id.not_found())?;
    let url = format!(
        "{}?version={}",
        state.diagram_url(id.id),
        version.version_number
    );
    let mut view = DiagramVersionView::new(version);
    view.laid_out = Some(laid_out);
    Ok(with_location(
        (StatusCode::CREATED, Json(view)).into_response(),
        &url,
    ))
}

/// The query of `GET /diagrams/{id}/versions`: a page of versions, newest first.
#[derive(Deserialize)]
pub struct VersionsQuery {
    #[serde(default, deserialize_with = "optional_positive")]
    limit: Option<i32>,
    #[serde(default)]
    cursor: Option<String>,
}

/// Version cursors are opaque too: `v1:<version number>`, base64url-encoded.
fn version_cursor(number: i32) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("v1:{number}"))
}

fn decode_version_cursor(cursor: &str) -> Result<i32, ApiError> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| ApiError::InvalidCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| ApiError::InvalidCursor)?;
    text.strip_prefix("v1:")
        .and_then(|n| n.parse::<i32>().ok())
        .filter(|n| *n >= 1)
        .ok_or(ApiError::InvalidCursor)
}

/// `GET /api/v1/diagrams/{id}/versions`
#[utoipa::path(
    get,
    path = "/api/v1/diagrams/{id}/versions",
    tag = "diagrams",
    operation_id = "listDiagramVersions",
    summary = "List a diagram's versions, newest first",
    description = "Needs scope `diagrams:read`. Cursor-paginated like every list.",
    params(
        ("id" = String, Path, description = "The diagram's id."),
        ("limit" = Option<u8>, Query, minimum = 1, maximum = 100, description = "Page size, 1-100 (default 20)."),
        ("cursor" = Option<String>, Query, description = "Opaque cursor from `next_cursor`; a bad one is 400 `invalid_cursor`."),
    ),
    responses(
        (status = 200, description = "A page of versions.", body = DiagramVersionList),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn versions(
    State(state): State<AppState>,
    caller: Caller<ReadDiagrams>,
    id: PathId<Diagrams>,
    Query(query): Query<VersionsQuery>,
) -> Result<Json<DiagramVersionList>, ApiError> {
    let limit = query.limit.unwrap_or(20);
    if limit > 100 {
        return Err(ApiError::invalid(
            "limit",
            "limit: must be a whole number from 1 to 100",
        ));
    }
    let before = query
        .cursor
        .filter(|c| !c.is_empty())
        .map(|c| decode_version_cursor(&c))
        .transpose()?;
    let (found, has_more) = diagrams::versions(
        &state,
        &caller.key.workspace(),
        id.id,
        before,
        i64::from(limit),
    )
    .await?
    .ok_or_else(|| id.not_found())?;
    let next_cursor = has_more
        .then(|| found.last().map(|v| version_cursor(v.version_number)))
        .flatten();
    Ok(Json(DiagramVersionList {
        has_more: next_cursor.is_some(),
        next_cursor,
        data: found.into_iter().map(DiagramVersionView::new).collect(),
    }))
}

/// `GET /api/v1/diagrams/{id}/export`
#[utoipa::path(
    get,
    path = "/api/v1/diagrams/{id}/export",
    tag = "diagrams",
    operation_id = "exportDiagram",
    summary = "Download a version as a BPMN 2.0 file",
    description = "Needs scope `diagrams:read`. The XML is stored as it was imported or generated, so it opens in \
                   Camunda Modeler and bpmn.io.",
    params(
        ("id" = String, Path, description = "The diagram's id."),
        ("version" = Option<i32>, Query, minimum = 1, description = "The version (default: the latest)."),
    ),
    responses(
        (status = 200, description = "The BPMN 2.0 XML.", content_type = "application/xml", body = String,
            headers(("Content-Disposition" = String, description = "`attachment` with a `.bpmn` file name."))),
        (status = 409, description = "The diagram has no version yet (`diagram_not_ready`).", body = ErrorEnvelope),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller<ReadDiagrams>,
    id: PathId<Diagrams>,
    Query(query): Query<VersionQuery>,
) -> Result<Response, ApiError> {
    let (diagram, version) =
        version_to_show(&state, &caller.key.workspace(), &id, query.version).await?;
    let filename = format!(
        "{}-v{}.bpmn",
        file_stem(&diagram.name),
        version.version_number
    );
    let disposition = format!("attachment; filename=\"{filename}\"");
    let mut response = version.bpmn_xml.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// The version a read shows: the one asked for, or the latest. 404 when the diagram or that
/// version is not there, 409 `diagram_not_ready` when the diagram has no version yet.
pub(super) async fn version_to_show(
    state: &AppState,
    workspace: &Workspace,
    id: &PathId<Diagrams>,
    number: Option<i32>,
) -> Result<(Diagram, DiagramVersion), ApiError> {
    let found = diagrams::get(state, workspace, id.id, number)
        .await?
        .ok_or_else(|| id.not_found())?;
    match found.version {
        Some(version) => Ok((found.diagram, version)),
        None => Err(match number {
            Some(n) => no_version(id.id, n),
            None => ApiError::Conflict {
                code: "diagram_not_ready",
                message: format!("diagram {} has no version yet", id.id),
            },
        }),
    }
}

/// A file name from a diagram's name: letters and digits kept, runs of anything else one dash.
fn file_stem(name: &str) -> String {
    let mut stem = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            stem.push(c.to_ascii_lowercase());
        } else if !stem.ends_with('-') && !stem.is_empty() {
            stem.push('-');
        }
    }
    let stem = stem.trim_end_matches('-');
    if stem.is_empty() {
        "diagram".into()
    } else {
        // Cut to 80 characters, and not left ending in the dash of a cut word gap.
        let cut: String = stem.chars().take(80).collect();
        cut.trim_end_matches('-').to_owned()
    }
}

/// `POST /api/v1/diagrams/{id}/refinements`
#[utoipa::path(
    post,
    path = "/api/v1/diagrams/{id}/refinements",
    tag = "diagrams",
    operation_id = "refineDiagram",
    summary = "Refine a diagram in place: its result becomes the next version",
    description = "Needs scopes `diagrams:write` and `generate`. Refines the latest version, steered by the diagram's \
                   folder contexts. Answers the generation as `POST /process-maps/generations` does (200 when finished \
                   within the wait window, else 202); once it succeeds, the diagram has its result as the next version.",
    params(
        ("id" = String, Path, description = "The diagram's id."),
        ("wait" = Option<bool>, Query, description = "Wait for the result (default true)."),
        ("Idempotency-Key" = Option<String>, Header, max_length = 255, min_length = 1,
            description = "Makes retries safe for 24 hours."),
    ),
    request_body = RefineDiagram,
    responses(
        (status = 200, description = "The finished refinement.", body = GenerationView),
        (status = 202, description = "Accepted: poll `links.self`.", body = GenerationView),
        (status = 422, description = "The diagram has no version yet (`validation_failed`).", body = ErrorEnvelope),
        CommonErrors,
    ),
    security(("bearer" = []))
)]
pub async fn refine(
    State(state): State<AppState>,
    caller: Caller<WriteDiagrams>,
    id: PathId<Diagrams>,
    Query(params): Query<CreateParams>,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    RequestId(request_id): RequestId,
    Body(body): Body<RefineDiagram>,
) -> Result<Response, ApiError> {
    caller.also_needs(Scope::Generate)?;
    let prompt = prompt(&body.prompt)?;
    language(body.language.as_deref())?;
    let workspace = caller.key.workspace();
    if diagrams::get(&state, &workspace, id.id, None)
        .await?
        .is_none()
    {
        return Err(id.not_found());
    }
    let created = diagrams::refine(
        &state,
        &caller.key,
        id.id,
        prompt,
        idempotency_key.as_deref(),
        &request_id,
        params.wait,
    )
    .await?;
    Ok(created_response(&state, created))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_tame() {
        assert_eq!(file_stem("Ticket triage (v2)!"), "ticket-triage-v2");
        assert_eq!(file_stem("Überweisung"), "berweisung");
        assert_eq!(file_stem("«»"), "diagram");
    }

    #[test]
    fn version_cursors_round_trip_and_garbage_is_refused() {
        assert_eq!(decode_version_cursor(&version_cursor(7)).ok(), Some(7));
        assert!(decode_version_cursor("nope").is_err());
        assert!(decode_version_cursor(&version_cursor(0)).is_err());
    }
}
