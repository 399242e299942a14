//! The diagrams service: what the handlers of `/diagrams` call.
//!
//! A diagram's version 1 comes from an import, a stored option, or a generation made for it;
//! each upload or refinement adds the next. A generation made for a diagram adds its result in
//! the worker's own commit (`db::generations::complete_many`), so no result is ever stored
//! without its version.

use anyhow::Context;
use procmap_core::{
    db::{
        diagrams::{self, Diagram, DiagramChanges, DiagramVersion, NewDiagram},
        generations::{self as generation_rows, SourceLookup},
    },
    domain::{GenerationRequest, Name, Workspace},
};
use procmap_engine::Problem;
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use crate::{
    error::ApiError,
    folders,
    generations::{self, Created, DiagramToCreate, ForDiagram},
    http::{params::Position, ListParams},
    state::AppState,
};

/// A diagram with the version a read asked for, when it has one.
pub struct WithVersion {
    pub diagram: Diagram,
    pub version: Option<DiagramVersion>,
}

/// What an imported or uploaded document became.
pub struct Stored {
    pub diagram: WithVersion,
    /// True when shapes were laid out because the document had no drawing for them.
    pub laid_out: bool,
}

fn invalid_bpmn(param: &str, problems: Vec<Problem>) -> ApiError {
    ApiError::ValidationFailed {
        param: Some(param.into()),
        message: format!(
            "{param} is not a usable BPMN 2.0 diagram: {}",
            problems
                .first()
                .map_or("it could not be read", |p| p.message.as_str())
        ),
        problems,
    }
}

/// Imports a BPMN 2.0 document as a new diagram whose version 1 it is.
pub async fn import(
    state: &AppState,
    workspace: &Workspace,
    name: &Name,
    folder_id: Option<Uuid>,
    bpmn_xml: &str,
) -> Result<Stored, ApiError> {
    let imported = procmap_engine::import(bpmn_xml).map_err(|p| invalid_bpmn("bpmn_xml", p))?;
    folders::check_exists(state, workspace, "folder_id", folder_id).await?;
    let diagram = store_new(state, workspace, name, folder_id, &imported.bpmn_xml, None).await?;
    Ok(Stored {
        diagram,
        laid_out: imported.laid_out,
    })
}

/// Saves a stored option's version as a new diagram, named after its prompt unless `name`
/// is given.
pub async fn from_generation(
    state: &AppState,
    workspace: &Workspace,
    name: Option<Name>,
    folder_id: Option<Uuid>,
    (generation_id, option_number, version_number): (Uuid, i32, i32),
) -> Result<WithVersion, ApiError> {
    let client = state.db().await?;
    let lookup = generation_rows::find_source(
        &client,
        workspace,
        generation_id,
        option_number,
        version_number,
    )
    .await
    .context("looking up the generation")?;
    let xml = match lookup {
        SourceLookup::Found(xml) => xml,
        SourceLookup::NoGeneration => {
            return Err(ApiError::not_found(
                Some("from_generation.generation_id"),
                format!("no generation with id {generation_id}"),
            ))
        }
        SourceLookup::NotSucceeded(status) => {
            return Err(ApiError::ValidationFailed {
                param: Some("from_generation.generation_id".into()),
                message: format!(
                    "generation {generation_id} is {status}; only a succeeded generation's option can be saved"
                ),
                problems: Vec::new(),
            })
        }
        SourceLookup::NoVersion => {
            return Err(ApiError::not_found(
                Some("from_generation.option_number"),
                format!(
                    "generation {generation_id} has no option {option_number} version {version_number}"
                ),
            ))
        }
    };
    let name = match name {
        Some(name) => name,
        None => generation_rows::get_for_owner(&client, workspace, generation_id)
            .await
            .context("reading the generation's prompt")?
            .and_then(|g| Name::from_text(g.request.prompt().as_str()))
            .unwrap_or_else(untitled),
    };
    drop(client);
    folders::check_exists(state, workspace, "folder_id", folder_id).await?;
    store_new(
        state,
        workspace,
        &name,
        folder_id,
        &xml,
        Some(generation_id),
    )
    .await
}

fn untitled() -> Name {
    Name::parse("Untitled diagram").expect("a valid name")
}

/// A diagram and its version 1, in one transaction.
async fn store_new(
    state: &AppState,
    workspace: &Workspace,
    name: &Name,
    folder_id: Option<Uuid>,
    bpmn_xml: &str,
    generation_id: Option<Uuid>,
) -> Result<WithVersion, ApiError> {
    let id = Uuid::now_v7();
    let mut client = state.db().await?;
    let tx = client
        .transaction()
        .await
        .context("opening a transaction")?;
    let new = NewDiagram {
        id,
        folder_id,
        name,
        generation_id,
    };
    diagrams::insert(&tx, workspace, &new)
        .await
        .map_err(|e| folder_race(e, folder_id))?;
    diagrams::add_version(&tx, workspace, id, bpmn_xml, generation_id)
        .await
        .context("storing version 1")?;
    tx.commit().await.context("storing the diagram")?;
    drop(client);
    get(state, workspace, id, None)
        .await?
        .ok_or_else(|| anyhow::anyhow!("diagram {id} vanished after it was stored").into())
}

/// A folder deleted between the check and the write is the client's 404.
fn folder_race(e: tokio_postgres::Error, folder_id: Option<Uuid>) -> ApiError {
    if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) {
        folders::folder_gone("folder_id", folder_id)
    } else {
        anyhow::Error::new(e).context("storing the diagram").into()
    }
}

/// A new diagram whose version 1 is option `option_number` of a generation made from
/// `request`. Honours `wait` and the Idempotency-Key as `POST /generations` does; a replay
/// answers the diagram the first request made.
#[allow(clippy::too_many_arguments)]
pub async fn from_prompt(
    state: &AppState,
    key: &procmap_core::db::api_keys::ApiKey,
    name: Name,
    folder_id: Option<Uuid>,
    request: GenerationRequest,
    option_number: i32,
    idempotency_key: Option<&str>,
    request_id: &str,
    wait: bool,
) -> Result<(WithVersion, Created), ApiError> {
    let workspace = key.workspace();
    folders::check_exists(state, &workspace, "folder_id", folder_id).await?;
    let target = ForDiagram {
        diagram_id: Uuid::now_v7(),
        option_number,
        create: Some(DiagramToCreate { name, folder_id }),
    };
    let created = generations::create(
        state,
        key,
        request,
        Some(target),
        idempotency_key,
        request_id,
        wait,
    )
    .await?;
    let diagram_id =
        created
            .generation
            .generation
            .diagram_id
            .ok_or_else(|| ApiError::Conflict {
                code: "diagram_deleted",
                message: "the diagram this Idempotency-Key created has since been deleted".into(),
            })?;
    let diagram = get(state, &workspace, diagram_id, None)
        .await?
        .ok_or_else(|| ApiError::Conflict {
            code: "diagram_deleted",
            message: "the diagram this Idempotency-Key created has since been deleted".into(),
        })?;
    Ok((diagram, created))
}

/// One diagram of `workspace` with version `version` (its latest when `None`).
pub async fn get(
    state: &AppState,
    workspace: &Workspace,
    id: Uuid,
    version: Option<i32>,
) -> Result<Option<WithVersion>, ApiError> {
    let client = state.db().await?;
    let Some(diagram) = diagrams::get(&client, workspace, id)
        .await
        .context("reading a diagram")?
    else {
        return Ok(None);
    };
    let version = diagrams::version(&client, id, version)
        .await
        .context("reading a diagram's version")?;
    Ok(Some(WithVersion { diagram, version }))
}

/// A page of diagrams, newest first, and where the next page starts.
pub async fn list(
    state: &AppState,
    workspace: &Workspace,
    folder_id: Option<Uuid>,
    page: ListParams,
) -> Result<(Vec<Diagram>, Option<Position>), ApiError> {
    let client = state.db().await?;
    let mut found = diagrams::list(
        &client,
        workspace,
        folder_id,
        page.after,
        page.rows_to_fetch(),
    )
    .await
    .context("listing diagrams")?;
    let next = page.cut(&mut found, |d| (d.created_at, d.id));
    Ok((found, next))
}

/// Renames a diagram or moves it to another folder (or out of any, with `Some(None)`).
pub async fn update(
    state: &AppState,
    workspace: &Workspace,
    id: Uuid,
    changes: &DiagramChanges<'_>,
) -> Result<Option<WithVersion>, ApiError> {
    if let Some(folder_id) = changes.folder_id {
        folders::check_exists(state, workspace, "folder_id", folder_id).await?;
    }
    let client = state.db().await?;
    let updated = diagrams::update(&client, workspace, id, changes)
        .await
        .map_err(|e| folder_race(e, changes.folder_id.flatten()))?;
    drop(client);
    if !updated {
        return Ok(None);
    }
    get(state, workspace, id, None).await
}

pub async fn delete(state: &AppState, workspace: &Workspace, id: Uuid) -> Result<bool, ApiError> {
    let client = state.db().await?;
    Ok(diagrams::delete(&client, workspace, id)
        .await
        .context("deleting a diagram")?)
}

/// Adds an uploaded document as the diagram's next version, checked and laid out as an import
/// is. `None` when there is no such diagram.
pub async fn add_version(
    state: &AppState,
    workspace: &Workspace,
    id: Uuid,
    bpmn_xml: &str,
) -> Result<Option<(DiagramVersion, bool)>, ApiError> {
    let imported = procmap_engine::import(bpmn_xml).map_err(|p| invalid_bpmn("bpmn_xml", p))?;
    let mut client = state.db().await?;
    let tx = client
        .transaction()
        .await
        .context("opening a transaction")?;
    let Some(version) = diagrams::add_version(&tx, workspace, id, &imported.bpmn_xml, None)
        .await
        .context("storing the version")?
    else {
        return Ok(None);
    };
    tx.commit().await.context("storing the version")?;
    Ok(Some((version, imported.laid_out)))
}

/// A page of a diagram's versions, newest first, below version `before`. `None` when there is
/// no such diagram.
pub async fn versions(
    state: &AppState,
    workspace: &Workspace,
    id: Uuid,
    before: Option<i32>,
    limit: i64,
) -> Result<Option<(Vec<DiagramVersion>, bool)>, ApiError> {
    let client = state.db().await?;
    if diagrams::get(&client, workspace, id)
        .await
        .context("reading a diagram")?
        .is_none()
    {
        return Ok(None);
    }
    let mut found = diagrams::versions(&client, id, before, limit + 1)
        .await
        .context("listing versions")?;
    let has_more = found.len() as i64 > limit;
    found.truncate(limit as usize);
    Ok(Some((found, has_more)))
}

/// Refines a diagram in place: a refinement of its latest version whose result becomes its
/// next version.
pub async fn refine(
    state: &AppState,
    key: &procmap_core::db::api_keys::ApiKey,
    id: Uuid,
    prompt: procmap_core::domain::Prompt,
    idempotency_key: Option<&str>,
    request_id: &str,
    wait: bool,
) -> Result<Created, ApiError> {
    let request = GenerationRequest::Refinement {
        prompt,
        source: procmap_core::domain::RefinementSource::Diagram {
            diagram_id: id,
            version_number: None,
        },
    };
    let target = ForDiagram {
        diagram_id: id,
        option_number: 1,
        create: None,
    };
    generations::create(
        state,
        key,
        request,
        Some(target),
        idempotency_key,
        request_id,
        wait,
    )
    .await
}
