//! The `folders` table: a tree per workspace, each folder with an optional context.
//!
//! Changes to the shape of a workspace's tree (a folder made under a parent, a move) hold the
//! workspace's tree lock ([`lock_tree`]) for their transaction, so two moves at once can never
//! make a cycle or pass the depth cap between them.

use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

use super::{GenericClient, RowError};
use crate::domain::{FolderContext, Name, Workspace};

#[derive(Debug, Clone)]
pub struct Folder {
    pub id: Uuid,
    pub parent_id: Option<Uuid>,
    pub name: String,
    pub context: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, parent_id, name, context, created_at, updated_at";

impl Folder {
    fn from_row(row: &Row) -> Result<Self, RowError> {
        Ok(Folder {
            id: row.try_get("id")?,
            parent_id: row.try_get("parent_id")?,
            name: row.try_get("name")?,
            context: row.try_get("context")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// Serialises changes to the shape of `workspace`'s tree until the transaction ends.
pub async fn lock_tree(
    client: &impl GenericClient,
    workspace: &Workspace,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('folders:' || $1::text || ':' || ($2::boolean)::text, 0))",
            &[&workspace.owner.as_str(), &workspace.livemode],
        )
        .await?;
    Ok(())
}

pub async fn insert(
    client: &impl GenericClient,
    workspace: &Workspace,
    id: Uuid,
    parent_id: Option<Uuid>,
    name: &Name,
    context: Option<&FolderContext>,
) -> Result<Folder, RowError> {
    let row = client
        .query_one(
            &format!(
                "INSERT INTO folders (id, owner, livemode, parent_id, name, context)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
            ),
            &[
                &id,
                &workspace.owner.as_str(),
                &workspace.livemode,
                &parent_id,
                &name.as_str(),
                &context.map(FolderContext::as_str),
            ],
        )
        .await?;
    Folder::from_row(&row)
}

/// One folder of `workspace`; another workspace's id looks exactly like a missing one.
pub async fn get(
    client: &impl GenericClient,
    workspace: &Workspace,
    id: Uuid,
) -> Result<Option<Folder>, RowError> {
    let row = client
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM folders WHERE id = $1 AND owner = $2 AND livemode = $3"
            ),
            &[&id, &workspace.owner.as_str(), &workspace.livemode],
        )
        .await?;
    row.as_ref().map(Folder::from_row).transpose()
}

/// A page of `workspace`'s folders, newest first, after the keyset position `after`; only the
/// children of `parent_id` when it is given.
pub async fn list(
    client: &impl GenericClient,
    workspace: &Workspace,
    parent_id: Option<Uuid>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Folder>, RowError> {
    let (after_at, after_id) = after.unzip();
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM folders
                 WHERE owner = $1 AND livemode = $2
                   AND ($3::uuid IS NULL OR parent_id = $3)
                   AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5::uuid))
                 ORDER BY created_at DESC, id DESC LIMIT $6"
            ),
            &[
                &workspace.owner.as_str(),
                &workspace.livemode,
                &parent_id,
                &after_at,
                &after_id,
                &limit,
            ],
        )
        .await?;
    rows.iter().map(Folder::from_row).collect()
}

/// `id` and its ancestors, outermost first; empty when `id` is not in `workspace`.
pub async fn path_to(
    client: &impl GenericClient,
    workspace: &Workspace,
    id: Uuid,
) -> Result<Vec<Folder>, RowError> {
    // The depth guard stops the walk even if a cycle were ever written by hand.
    let rows = client
        .query(
            &format!(
                "WITH RECURSIVE up AS (
                     SELECT {COLUMNS}, 0 AS level FROM folders
                     WHERE id = $1 AND owner = $2 AND livemode = $3
                     UNION ALL
                     SELECT f.id, f.parent_id, f.name, f.context, f.created_at, f.updated_at, up.level + 1
                     FROM folders f JOIN up ON f.id = up.parent_id
                     WHERE up.level < 64
                 )
                 SELECT {COLUMNS} FROM up ORDER BY level DESC"
            ),
            &[&id, &workspace.owner.as_str(), &workspace.livemode],
        )
        .await?;
    rows.iter().map(Folder::from_row).collect()
}

/// How many levels `id` and the folders below it span: 1 for a folder with no sub-folders.
pub async fn height(client: &impl GenericClient, id: Uuid) -> Result<i32, tokio_postgres::Error> {
    let row = client
        .query_one(
            "WITH RECURSIVE down AS (
                 SELECT id, 1 AS level FROM folders WHERE id = $1
                 UNION ALL
                 SELECT f.id, down.level + 1 FROM folders f JOIN down ON f.parent_id = down.id
                 WHERE down.level < 64
             )
             SELECT coalesce(max(level), 0) FROM down",
            &[&id],
        )
        .await?;
    row.try_get(0)
}

/// What a `PATCH` changes; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct FolderChanges<'a> {
    pub name: Option<&'a Name>,
    /// `Some(None)` moves the folder to the top level.
    pub parent_id: Option<Option<Uuid>>,
    /// `Some(None)` clears the context.
    pub context: Option<Option<&'a FolderContext>>,
}

pub async fn update(
    client: &impl GenericClient,
    workspace: &Workspace,
    id: Uuid,
    changes: &FolderChanges<'_>,
) -> Result<Option<Folder>, RowError> {
    let row = client
        .query_opt(
            &format!(
                "UPDATE folders SET
                     name = coalesce($4, name),
                     parent_id = CASE WHEN $5 THEN $6 ELSE parent_id END,
                     context = CASE WHEN $7 THEN $8 ELSE context END,
                     updated_at = now()
                 WHERE id = $1 AND owner = $2 AND livemode = $3
                 RETURNING {COLUMNS}"
            ),
            &[
                &id,
                &workspace.owner.as_str(),
                &workspace.livemode,
                &changes.name.map(Name::as_str),
                &changes.parent_id.is_some(),
                &changes.parent_id.flatten(),
                &changes.context.is_some(),
                &changes.context.flatten().map(FolderContext::as_str),
            ],
        )
        .await?;
    row.as_ref().map(Folder::from_row).transpose()
}

/// The outcome of deleting a folder.
#[derive(Debug, PartialEq, Eq)]
pub enum Deletion {
    Deleted,
    NotFound,
    /// It holds sub-folders or diagrams.
    NotEmpty {
        folders: i64,
        diagrams: i64,
    },
}

/// Deletes an empty folder of `workspace`. The folder's row is locked first, so a diagram or
/// sub-folder added at the same moment either is counted here or fails its own foreign key.
pub async fn delete(
    client: &impl GenericClient,
    workspace: &Workspace,
    id: Uuid,
) -> Result<Deletion, tokio_postgres::Error> {
    let found = client
        .query_opt(
            "SELECT id FROM folders WHERE id = $1 AND owner = $2 AND livemode = $3 FOR UPDATE",
            &[&id, &workspace.owner.as_str(), &workspace.livemode],
        )
        .await?;
    if found.is_none() {
        return Ok(Deletion::NotFound);
    }
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM folders WHERE parent_id = $1),
                    (SELECT count(*) FROM diagrams WHERE folder_id = $1)",
            &[&id],
        )
        .await?;
    let (folders, diagrams): (i64, i64) = (row.get(0), row.get(1));
    if folders > 0 || diagrams > 0 {
        return Ok(Deletion::NotEmpty { folders, diagrams });
    }
    client
        .execute("DELETE FROM folders WHERE id = $1", &[&id])
        .await?;
    Ok(Deletion::Deleted)
}
