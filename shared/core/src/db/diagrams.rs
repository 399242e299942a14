//! The `diagrams` and `diagram_versions` tables: named diagrams in a workspace, each with its
//! numbered BPMN versions.
//!
//! A version's number is the diagram's highest plus one, taken with the diagram's row locked, so
//! an upload and a generation's result finishing at once get consecutive numbers.

use chrono::{DateTime, Utc};
use tokio_postgres::{types::Json, Row};
use uuid::Uuid;

use super::{GenericClient, RowError};
use crate::domain::{GenerationError, GenerationStatus, Name, Workspace};

/// A diagram as stored, with what its listing shows about its versions and generation.
#[derive(Debug, Clone)]
pub struct Diagram {
    pub id: Uuid,
    pub folder_id: Option<Uuid>,
    pub name: String,
    /// The generation it was made from, if any.
    pub generation_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Its newest version's number; `None` while its first version is being generated, or when
    /// that generation failed.
    pub latest_version: Option<i32>,
    /// The status of the generation it was made from.
    pub generation_status: Option<GenerationStatus>,
    /// Why that generation failed, when it did.
    pub generation_error: Option<GenerationError>,
}

const COLUMNS: &str = "d.id, d.folder_id, d.name, d.generation_id, d.created_at, d.updated_at,
     (SELECT max(v.version_number) FROM diagram_versions v WHERE v.diagram_id = d.id) AS latest_version,
     g.status AS generation_status, g.error AS generation_error";

const FROM: &str = "diagrams d LEFT JOIN generations g ON g.id = d.generation_id";

impl Diagram {
    fn from_row(row: &Row) -> Result<Self, RowError> {
        let id: Uuid = row.try_get("id")?;
        let status = row
            .try_get::<_, Option<String>>("generation_status")?
            .map(|text| {
                GenerationStatus::parse(&text).ok_or(RowError::Corrupt {
                    id,
                    column: "generation_status",
                    value: text,
                })
            })
            .transpose()?;
        Ok(Diagram {
            id,
            folder_id: row.try_get("folder_id")?,
            name: row.try_get("name")?,
            generation_id: row.try_get("generation_id")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            latest_version: row.try_get("latest_version")?,
            generation_status: status,
            generation_error: row
                .try_get::<_, Option<Json<GenerationError>>>("generation_error")?
                .map(|Json(e)| e),
        })
    }
}

/// One BPMN version of a diagram.
#[derive(Debug, Clone)]
pub struct DiagramVersion {
    pub version_number: i32,
    pub bpmn_xml: String,
    /// The generation whose result it is; none for an import or an upload.
    pub generation_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl DiagramVersion {
    fn from_row(row: &Row) -> Result<Self, RowError> {
        Ok(DiagramVersion {
            version_number: row.try_get("version_number")?,
            bpmn_xml: row.try_get("bpmn_xml")?,
            generation_id: row.try_get("generation_id")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

pub struct NewDiagram<'a> {
    pub id: Uuid,
    pub folder_id: Option<Uuid>,
    pub name: &'a Name,
    pub generation_id: Option<Uuid>,
}

/// Stores a diagram with no versions yet.
pub async fn insert(
    client: &impl GenericClient,
    workspace: &Workspace,
    new: &NewDiagram<'_>,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO diagrams (id, owner, livemode, folder_id, name, generation_id)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &new.id,
                &workspace.owner.as_str(),
                &workspace.livemode,
                &new.folder_id,
                &new.name.as_str(),
                &new.generation_id,
            ],
        )
        .await?;
    Ok(())
}

/// One diagram of `workspace`; another workspace's id looks exactly like a missing one.
pub async fn get(
    client: &impl GenericClient,
    workspace: &Workspace,
    id: Uuid,
) -> Result<Option<Diagram>, RowError> {
    let row = client
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM {FROM} WHERE d.id = $1 AND d.owner = $2 AND d.livemode = $3"
            ),
            &[&id, &workspace.owner.as_str(), &workspace.livemode],
        )
        .await?;
    row.as_ref().map(Diagram::from_row).transpose()
}

/// A page of `workspace`'s diagrams, newest first, after the keyset position `after`; only
/// those in `folder_id` when it is given.
pub async fn list(
    client: &impl GenericClient,
    workspace: &Workspace,
    folder_id: Option<Uuid>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Diagram>, RowError> {
    let (after_at, after_id) = after.unzip();
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM {FROM}
                 WHERE d.owner = $1 AND d.livemode = $2
                   AND ($3::uuid IS NULL OR d.folder_id = $3)
                   AND ($4::timestamptz IS NULL OR (d.created_at, d.id) < ($4, $5::uuid))
                 ORDER BY d.created_at DESC, d.id DESC LIMIT $6"
            ),
            &[
                &workspace.owner.as_str(),
                &workspace.livemode,
                &folder_id,
                &after_at,
                &after_id,
                &limit,
            ],
        )
        .await?;
    rows.iter().map(Diagram::from_row).collect()
}

/// What a `PATCH` changes; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct DiagramChanges<'a> {
    pub name: Option<&'a Name>,
    /// `Some(None)` takes the diagram out of any folder.
    pub folder_id: Option<Option<Uuid>>,
}

/// Applies `changes`; answers whether the diagram was there.
pub async fn update(
    client: &impl GenericClient,
    workspace: &Workspace,
    id: Uuid,
    changes: &DiagramChanges<'_>,
) -> Result<bool, tokio_postgres::Error> {
    let updated = client
        .execute(
            "UPDATE diagrams SET
                 name = coalesce($4, name),
                 folder_id = CASE WHEN $5 THEN $6 ELSE folder_id END,
                 updated_at = now()
             WHERE id = $1 AND owner = $2 AND livemode = $3",
            &[
                &id,
                &workspace.owner.as_str(),
                &workspace.livemode,
                &changes.name.map(Name::as_str),
                &changes.folder_id.is_some(),
                &changes.folder_id.flatten(),
            ],
        )
        .await?;
    Ok(updated == 1)
}

/// Deletes a diagram of `workspace` with its versions; answers whether it was there.
pub async fn delete(
    client: &impl GenericClient,
    workspace: &Workspace,
    id: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    Ok(client
        .execute(
            "DELETE FROM diagrams WHERE id = $1 AND owner = $2 AND livemode = $3",
            &[&id, &workspace.owner.as_str(), &workspace.livemode],
        )
        .await?
        == 1)
}

/// Adds `bpmn_xml` as the next version of `workspace`'s diagram `id`, for the caller to commit.
/// `None` when there is no such diagram.
pub async fn add_version(
    client: &impl GenericClient,
    workspace: &Workspace,
    id: Uuid,
    bpmn_xml: &str,
    generation_id: Option<Uuid>,
) -> Result<Option<DiagramVersion>, RowError> {
    let locked = client
        .query_opt(
            "UPDATE diagrams SET updated_at = now()
             WHERE id = $1 AND owner = $2 AND livemode = $3 RETURNING id",
            &[&id, &workspace.owner.as_str(), &workspace.livemode],
        )
        .await?;
    if locked.is_none() {
        return Ok(None);
    }
    let row = client
        .query_one(
            "INSERT INTO diagram_versions (diagram_id, version_number, bpmn_xml, generation_id)
             SELECT $1, coalesce(max(version_number), 0) + 1, $2, $3
             FROM diagram_versions WHERE diagram_id = $1
             RETURNING version_number, bpmn_xml, generation_id, created_at",
            &[&id, &bpmn_xml, &generation_id],
        )
        .await?;
    DiagramVersion::from_row(&row).map(Some)
}

/// Version `number` of diagram `id`, or its latest when `number` is `None`. The caller has
/// already checked that the diagram is the workspace's.
pub async fn version(
    client: &impl GenericClient,
    id: Uuid,
    number: Option<i32>,
) -> Result<Option<DiagramVersion>, RowError> {
    let row = client
        .query_opt(
            "SELECT version_number, bpmn_xml, generation_id, created_at FROM diagram_versions
             WHERE diagram_id = $1 AND ($2::int IS NULL OR version_number = $2)
             ORDER BY version_number DESC LIMIT 1",
            &[&id, &number],
        )
        .await?;
    row.as_ref().map(DiagramVersion::from_row).transpose()
}

/// A page of diagram `id`'s versions, newest first, below version `before` when it is given.
pub async fn versions(
    client: &impl GenericClient,
    id: Uuid,
    before: Option<i32>,
    limit: i64,
) -> Result<Vec<DiagramVersion>, RowError> {
    let rows = client
        .query(
            "SELECT version_number, bpmn_xml, generation_id, created_at FROM diagram_versions
             WHERE diagram_id = $1 AND ($2::int IS NULL OR version_number < $2)
             ORDER BY version_number DESC LIMIT $3",
            &[&id, &before, &limit],
        )
        .await?;
    rows.iter().map(DiagramVersion::from_row).collect()
}
