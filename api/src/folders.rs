//! The folders service: what the handlers of `/folders` call, and the folder contexts that
//! steer a generation.
//!
//! A workspace's folders form a tree at most [`MAX_FOLDER_DEPTH`] deep. Every change to its
//! shape takes the workspace's tree lock in its transaction, so the checks for cycles and depth
//! see a tree no one else is changing.

use anyhow::Context;
use procmap_core::{
    db::folders::{self, Deletion, Folder, FolderChanges},
    domain::{FolderContext, Name, SteeringContext, Workspace, MAX_FOLDER_DEPTH},
};
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use crate::{
    error::ApiError,
    http::{params::Position, ListParams},
    state::AppState,
};

/// The 404 for a folder named in field `param` that is not the workspace's.
pub fn folder_gone(param: &str, id: Option<Uuid>) -> ApiError {
    let id = id.map(|id| id.to_string()).unwrap_or_default();
    ApiError::not_found(Some(param), format!("no folder with id {id:?}"))
}

fn too_deep(depth: usize) -> ApiError {
    ApiError::Conflict {
        code: "folder_too_deep",
        message: format!(
            "folders nest at most {MAX_FOLDER_DEPTH} levels deep; this would make {depth}"
        ),
    }
}

pub async fn create(
    state: &AppState,
    workspace: &Workspace,
    name: &Name,
    parent_id: Option<Uuid>,
    context: Option<&FolderContext>,
) -> Result<Folder, ApiError> {
    let mut client = state.db().await?;
    let tx = client
        .transaction()
        .await
        .context("opening a transaction")?;
    if let Some(parent) = parent_id {
        folders::lock_tree(&tx, workspace)
            .await
            .context("locking the folder tree")?;
        let path = folders::path_to(&tx, workspace, parent)
            .await
            .context("reading the parent folder")?;
        if path.is_empty() {
            return Err(folder_gone("parent_id", parent_id));
        }
        if path.len() + 1 > MAX_FOLDER_DEPTH as usize {
            return Err(too_deep(path.len() + 1));
        }
    }
    let folder = folders::insert(&tx, workspace, Uuid::now_v7(), parent_id, name, context)
        .await
        .context("storing the folder")?;
    tx.commit().await.context("storing the folder")?;
    Ok(folder)
}

pub async fn get(
    state: &AppState,
    workspace: &Workspace,
    id: Uuid,
) -> Result<Option<Folder>, ApiError> {
    let client = state.db().await?;
    Ok(folders::get(&client, workspace, id)
        .await
        .context("reading a folder")?)
}

/// A page of folders, newest first, and where the next page starts.
pub async fn list(
    state: &AppState,
    workspace: &Workspace,
    parent_id: Option<Uuid>,
    page: ListParams,
) -> Result<(Vec<Folder>, Option<Position>), ApiError> {
    let client = state.db().await?;
    let mut found = folders::list(
        &client,
        workspace,
        parent_id,
        page.after,
        page.rows_to_fetch(),
    )
    .await
    .context("listing folders")?;
    let next = page.cut(&mut found, |f| (f.created_at, f.id));
    Ok((found, next))
}

/// Renames, moves or changes the context of a folder. A move under itself or one of its own
/// sub-folders is `folder_cycle`; one that would nest deeper than the cap is `folder_too_deep`.
pub async fn update(
    state: &AppState,
    workspace: &Workspace,
    id: Uuid,
    changes: &FolderChanges<'_>,
) -> Result<Option<Folder>, ApiError> {
    let mut client = state.db().await?;
    let tx = client
        .transaction()
        .await
        .context("opening a transaction")?;
    if let Some(parent) = changes.parent_id {
        folders::lock_tree(&tx, workspace)
            .await
            .context("locking the folder tree")?;
        if folders::get(&tx, workspace, id)
            .await
            .context("reading a folder")?
            .is_none()
        {
            return Ok(None);
        }
        if let Some(parent) = parent {
            let path = folders::path_to(&tx, workspace, parent)
                .await
                .context("reading the new parent folder")?;
            if path.is_empty() {
                return Err(folder_gone("parent_id", Some(parent)));
            }
            if path.iter().any(|f| f.id == id) {
                return Err(ApiError::Conflict {
                    code: "folder_cycle",
                    message: format!(
                        "folder {parent} is {id} itself or inside it, so {id} cannot move into it"
                    ),
                });
            }
            let height = folders::height(&tx, id)
                .await
                .context("measuring the folder's sub-tree")?;
            let depth = path.len() + height as usize;
            if depth > MAX_FOLDER_DEPTH as usize {
                return Err(too_deep(depth));
            }
        }
    }
    let updated = folders::update(&tx, workspace, id, changes)
        .await
        .context("updating a folder")?;
    tx.commit().await.context("updating a folder")?;
    Ok(updated)
}

/// Deletes an empty folder; one holding folders or diagrams is `folder_not_empty`. Answers
/// whether it was there.
pub async fn delete(state: &AppState, workspace: &Workspace, id: Uuid) -> Result<bool, ApiError> {
    let mut client = state.db().await?;
    let tx = client
        .transaction()
        .await
        .context("opening a transaction")?;
    let deletion = folders::delete(&tx, workspace, id).await;
    let deletion = match deletion {
        // A sub-folder or diagram added after the count, by a transaction that committed first.
        Err(e) if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) => Deletion::NotEmpty {
            folders: 0,
            diagrams: 0,
        },
        other => other.context("deleting a folder")?,
    };
    match deletion {
        Deletion::Deleted => {
            tx.commit().await.context("deleting a folder")?;
            Ok(true)
        }
        Deletion::NotFound => Ok(false),
        Deletion::NotEmpty { folders, diagrams } => Err(ApiError::Conflict {
            code: "folder_not_empty",
            message: format!(
                "folder {id} holds {folders} folder(s) and {diagrams} diagram(s); move or delete them first"
            ),
        }),
    }
}

/// The contexts that steer a generation of a diagram in `folder`: that folder's and its
/// ancestors', outermost first, leaving out folders with none.
pub async fn steering(
    state: &AppState,
    workspace: &Workspace,
    folder: Option<Uuid>,
) -> Result<Vec<SteeringContext>, ApiError> {
    let Some(folder) = folder else {
        return Ok(Vec::new());
    };
    let client = state.db().await?;
    let path = folders::path_to(&client, workspace, folder)
        .await
        .context("reading the folder contexts")?;
    Ok(path
        .into_iter()
        .filter_map(|f| {
            f.context.map(|context| SteeringContext {
                folder_id: f.id,
                folder_name: f.name,
                context,
            })
        })
        .collect())
}

/// Checks that `folder_id`, named in field `param`, is one of the workspace's folders.
pub async fn check_exists(
    state: &AppState,
    workspace: &Workspace,
    param: &str,
    folder_id: Option<Uuid>,
) -> Result<(), ApiError> {
    let Some(id) = folder_id else {
        return Ok(());
    };
    match get(state, workspace, id).await? {
        Some(_) => Ok(()),
        None => Err(folder_gone(param, folder_id)),
    }
}
