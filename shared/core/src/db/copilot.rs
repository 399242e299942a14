//! The `copilot_sessions` and `copilot_settings` tables: one conversation per diagram, and the
//! model a workspace's copilot runs.

use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

use super::{GenericClient, RowError};
use crate::domain::Workspace;

#[derive(Debug, Clone)]
pub struct Session {
    pub id: Uuid,
    pub diagram_id: Uuid,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, diagram_id, created_at";

impl Session {
    fn from_row(row: &Row) -> Result<Self, RowError> {
        Ok(Session {
            id: row.try_get("id")?,
            diagram_id: row.try_get("diagram_id")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

/// What creating a session found.
#[derive(Debug)]
pub enum Created {
    New(Session),
    /// The diagram has a session already; this one.
    Existing(Session),
}

/// Starts the session of a diagram the caller has checked is `workspace`'s, unless it has one.
/// Two creates at once make one session: the unique diagram id decides, and the other finds it.
pub async fn create(
    client: &impl GenericClient,
    workspace: &Workspace,
    diagram_id: Uuid,
) -> Result<Created, RowError> {
    let inserted = client
        .query_opt(
            &format!(
                "INSERT INTO copilot_sessions (id, owner, livemode, diagram_id)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (diagram_id) DO NOTHING
                 RETURNING {COLUMNS}"
            ),
            &[
                &Uuid::now_v7(),
                &workspace.owner.as_str(),
                &workspace.livemode,
                &diagram_id,
            ],
        )
        .await?;
    if let Some(row) = inserted {
        return Ok(Created::New(Session::from_row(&row)?));
    }
    let row = client
        .query_one(
            &format!("SELECT {COLUMNS} FROM copilot_sessions WHERE diagram_id = $1"),
            &[&diagram_id],
        )
        .await?;
    Ok(Created::Existing(Session::from_row(&row)?))
}

/// The session of one of `workspace`'s diagrams.
pub async fn of_diagram(
    client: &impl GenericClient,
    workspace: &Workspace,
    diagram_id: Uuid,
) -> Result<Option<Session>, RowError> {
    let row = client
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM copilot_sessions
                 WHERE diagram_id = $1 AND owner = $2 AND livemode = $3"
            ),
            &[&diagram_id, &workspace.owner.as_str(), &workspace.livemode],
        )
        .await?;
    row.as_ref().map(Session::from_row).transpose()
}

/// One of `workspace`'s sessions; another workspace's id looks exactly like a missing one.
pub async fn get(
    client: &impl GenericClient,
    workspace: &Workspace,
    id: Uuid,
) -> Result<Option<Session>, RowError> {
    let row = client
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM copilot_sessions
                 WHERE id = $1 AND owner = $2 AND livemode = $3"
            ),
            &[&id, &workspace.owner.as_str(), &workspace.livemode],
        )
        .await?;
    row.as_ref().map(Session::from_row).transpose()
}

/// Deletes one of `workspace`'s sessions; false when there was none.
pub async fn delete(
    client: &impl GenericClient,
    workspace: &Workspace,
    id: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    let deleted = client
        .execute(
            "DELETE FROM copilot_sessions WHERE id = $1 AND owner = $2 AND livemode = $3",
            &[&id, &workspace.owner.as_str(), &workspace.livemode],
        )
        .await?;
    Ok(deleted > 0)
}

/// The model `workspace`'s copilot runs, if one was chosen.
pub async fn model(
    client: &impl GenericClient,
    workspace: &Workspace,
) -> Result<Option<String>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT model FROM copilot_settings WHERE owner = $1 AND livemode = $2",
            &[&workspace.owner.as_str(), &workspace.livemode],
        )
        .await?;
    row.map(|r| r.try_get("model")).transpose()
}

/// Chooses the model `workspace`'s copilot runs.
pub async fn set_model(
    client: &impl GenericClient,
    workspace: &Workspace,
    model: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO copilot_settings (owner, livemode, model) VALUES ($1, $2, $3)
             ON CONFLICT (owner, livemode) DO UPDATE SET model = EXCLUDED.model, updated_at = now()",
            &[&workspace.owner.as_str(), &workspace.livemode, &model],
        )
        .await?;
    Ok(())
}
