//! The `copilot_messages` and `copilot_events` tables: a session's conversation, and the steps
//! of each answer as they were streamed.
//!
//! A copilot answer is a job with a generation's lifecycle: queued with the user's message in
//! one commit, claimed by a conditional update (so a duplicate delivery does nothing), leased
//! while it runs, and finished only by the attempt that holds it. The relay publishes what was
//! never confirmed and takes back what a dead worker held.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_postgres::{types::Json, Row};
use uuid::Uuid;

use super::{GenericClient, RowError};
use crate::domain::{GenerationError, Owner, Workspace};

/// One message of a conversation: the user's, or the copilot's answer.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: Uuid,
    pub session_id: Uuid,
    /// `user` or `copilot`.
    pub role: String,
    pub content: String,
    pub created_at: DateTime<Utc>,
    /// A user message: whether it came with the client's editor state.
    pub diagram_state: Option<String>,
    /// A copilot answer: the message it answers.
    pub reply_to: Option<Uuid>,
    pub model: Option<String>,
    /// A copilot answer: `queued`, `running`, `succeeded` or `failed`.
    pub status: Option<String>,
    pub base_version: Option<i32>,
    pub proposed_bpmn: Option<String>,
    pub diagram_diff: Option<Value>,
    pub applied_version: Option<i32>,
    pub error: Option<GenerationError>,
    pub attempts: i32,
    pub completed_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, session_id, role, content, created_at, diagram_state, reply_to, model, \
    status, base_version, proposed_bpmn, diagram_diff, applied_version, error, attempts, completed_at";

impl Message {
    fn from_row(row: &Row) -> Result<Self, RowError> {
        Ok(Message {
            id: row.try_get("id")?,
            session_id: row.try_get("session_id")?,
            role: row.try_get("role")?,
            content: row.try_get("content")?,
            created_at: row.try_get("created_at")?,
            diagram_state: row.try_get("diagram_state")?,
            reply_to: row.try_get("reply_to")?,
            model: row.try_get("model")?,
            status: row.try_get("status")?,
            base_version: row.try_get("base_version")?,
            proposed_bpmn: row.try_get("proposed_bpmn")?,
            diagram_diff: row.try_get("diagram_diff")?,
            applied_version: row.try_get("applied_version")?,
            error: row
                .try_get::<_, Option<Json<GenerationError>>>("error")?
                .map(|Json(e)| e),
            attempts: row.try_get("attempts")?,
            completed_at: row.try_get("completed_at")?,
        })
    }

    /// Whether the answer is done, one way or the other.
    pub fn is_finished(&self) -> bool {
        matches!(self.status.as_deref(), Some("succeeded" | "failed"))
    }
}

/// What asking found.
#[derive(Debug)]
pub enum Asked {
    /// The user's message and the answer that awaits it, queued.
    Queued { question: Uuid, answer: Uuid },
    /// The session's previous turn is still running: this answer.
    Busy(Uuid),
}

/// A user's turn, for [`ask`].
pub struct Question<'a> {
    pub session_id: Uuid,
    pub message: &'a str,
    pub diagram_state: Option<&'a str>,
    pub model: &'a str,
    /// The diagram's latest version now.
    pub base_version: Option<i32>,
}

/// Stores a user's message and the copilot answer it awaits, for the caller to commit. One turn
/// runs at a time in a session, since each reads the one before: the session's row is locked,
/// and a turn still open makes this one [`Asked::Busy`].
pub async fn ask(client: &impl GenericClient, question: &Question<'_>) -> Result<Asked, RowError> {
    client
        .execute(
            "SELECT 1 FROM copilot_sessions WHERE id = $1 FOR UPDATE",
            &[&question.session_id],
        )
        .await?;
    let open = client
        .query_opt(
            "SELECT id FROM copilot_messages
             WHERE session_id = $1 AND status IN ('queued', 'running') LIMIT 1",
            &[&question.session_id],
        )
        .await?;
    if let Some(row) = open {
        return Ok(Asked::Busy(row.try_get(0)?));
    }
    let (asked, answer) = (Uuid::now_v7(), Uuid::now_v7());
    client
        .execute(
            "INSERT INTO copilot_messages (id, session_id, role, content, diagram_state)
             VALUES ($1, $2, 'user', $3, $4)",
            &[
                &asked,
                &question.session_id,
                &question.message,
                &question.diagram_state,
            ],
        )
        .await?;
    client
        .execute(
            "INSERT INTO copilot_messages (id, session_id, role, reply_to, model, status, base_version)
             VALUES ($1, $2, 'copilot', $3, $4, 'queued', $5)",
            &[
                &answer,
                &question.session_id,
                &asked,
                &question.model,
                &question.base_version,
            ],
        )
        .await?;
    Ok(Asked::Queued {
        question: asked,
        answer,
    })
}

/// A page of a session's conversation, oldest first, after message `after` when given.
pub async fn messages(
    client: &impl GenericClient,
    session_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Message>, RowError> {
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM copilot_messages
                 WHERE session_id = $1 AND ($2::uuid IS NULL OR id > $2)
                 ORDER BY id LIMIT $3"
            ),
            &[&session_id, &after, &limit],
        )
        .await?;
    rows.iter().map(Message::from_row).collect()
}

/// One message of a session.
pub async fn message(
    client: &impl GenericClient,
    session_id: Uuid,
    id: Uuid,
) -> Result<Option<Message>, RowError> {
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM copilot_messages WHERE id = $1 AND session_id = $2"),
            &[&id, &session_id],
        )
        .await?;
    row.as_ref().map(Message::from_row).transpose()
}

/// One streamed step of an answer.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: i32,
    pub event: String,
    pub data: Value,
}

/// The steps of an answer after step `after_seq`, in order.
pub async fn events_after(
    client: &impl GenericClient,
    message_id: Uuid,
    after_seq: i32,
) -> Result<Vec<StoredEvent>, RowError> {
    let rows = client
        .query(
            "SELECT seq, event, data FROM copilot_events
             WHERE message_id = $1 AND seq > $2 ORDER BY seq",
            &[&message_id, &after_seq],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(StoredEvent {
                seq: row.try_get("seq")?,
                event: row.try_get("event")?,
                data: row.try_get("data")?,
            })
        })
        .collect()
}

/// A claimed answer, with what its worker needs to run it.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub answer: Message,
    pub question: Message,
    pub diagram_id: Uuid,
    pub workspace: Workspace,
}

/// Claims a queued answer for a new attempt, leased for `lease`. `None` when it is not queued
/// (another worker has it, it is finished, or it is gone): a duplicate delivery does nothing.
pub async fn claim(
    client: &impl GenericClient,
    id: Uuid,
    lease: Duration,
) -> Result<Option<Claimed>, RowError> {
    let Some(row) = client
        .query_opt(
            &format!(
                "UPDATE copilot_messages
                 SET status = 'running', attempts = attempts + 1,
                     lease_expires_at = now() + make_interval(secs => $2)
                 WHERE id = $1 AND status = 'queued'
                 RETURNING {COLUMNS}"
            ),
            &[&id, &lease.as_secs_f64()],
        )
        .await?
    else {
        return Ok(None);
    };
    let answer = Message::from_row(&row)?;
    let corrupt = |column, value: String| RowError::Corrupt { id, column, value };
    let question = message(
        client,
        answer.session_id,
        answer.reply_to.unwrap_or_default(),
    )
    .await?
    .ok_or_else(|| corrupt("reply_to", format!("{:?}", answer.reply_to)))?;
    let session = client
        .query_one(
            "SELECT diagram_id, owner, livemode FROM copilot_sessions WHERE id = $1",
            &[&answer.session_id],
        )
        .await?;
    let owner: String = session.try_get("owner")?;
    let owner = Owner::parse(&owner).map_err(|_| corrupt("owner", owner.clone()))?;
    Ok(Some(Claimed {
        diagram_id: session.try_get("diagram_id")?,
        workspace: Workspace {
            owner,
            livemode: session.try_get("livemode")?,
        },
        answer,
        question,
    }))
}

/// The conversation before message `before`, oldest first, at most `limit` messages (the
/// newest).
pub async fn history(
    client: &impl GenericClient,
    session_id: Uuid,
    before: Uuid,
    limit: i64,
) -> Result<Vec<Message>, RowError> {
    let rows = client
        .query(
            &format!(
                "SELECT * FROM (
                     SELECT {COLUMNS} FROM copilot_messages
                     WHERE session_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3
                 ) newest ORDER BY id"
            ),
            &[&session_id, &before, &limit],
        )
        .await?;
    rows.iter().map(Message::from_row).collect()
}

/// Appends steps to an answer while `attempt` holds it; false when it no longer does.
pub async fn append_events(
    client: &impl GenericClient,
    id: Uuid,
    attempt: i32,
    events: &[(&str, Value)],
) -> Result<bool, tokio_postgres::Error> {
    let names: Vec<&str> = events.iter().map(|(name, _)| *name).collect();
    let data: Vec<String> = events.iter().map(|(_, data)| data.to_string()).collect();
    let appended = client
        .execute(
            "INSERT INTO copilot_events (message_id, seq, event, data)
             SELECT $1, last.seq + e.n, e.event, e.data::jsonb
             FROM (SELECT coalesce(max(seq), 0) AS seq FROM copilot_events WHERE message_id = $1) last,
                  unnest($3::text[], $4::text[]) WITH ORDINALITY AS e(event, data, n)
             WHERE EXISTS (SELECT 1 FROM copilot_messages
                           WHERE id = $1 AND status = 'running' AND attempts = $2)",
            &[&id, &attempt, &names, &data],
        )
        .await?;
    Ok(appended > 0 || events.is_empty())
}

/// What a finished attempt stores.
pub struct Answer<'a> {
    pub content: &'a str,
    pub proposed_bpmn: Option<&'a str>,
    pub diagram_diff: &'a Value,
}

/// Stores a successful attempt's answer; false when `attempt` no longer holds it.
pub async fn succeed(
    client: &impl GenericClient,
    id: Uuid,
    attempt: i32,
    answer: &Answer<'_>,
) -> Result<bool, tokio_postgres::Error> {
    let stored = client
        .execute(
            "UPDATE copilot_messages
             SET status = 'succeeded', content = $3, proposed_bpmn = $4, diagram_diff = $5,
                 completed_at = now(), lease_expires_at = NULL
             WHERE id = $1 AND status = 'running' AND attempts = $2",
            &[
                &id,
                &attempt,
                &answer.content,
                &answer.proposed_bpmn,
                &answer.diagram_diff,
            ],
        )
        .await?;
    Ok(stored > 0)
}

/// Stores a failed attempt's error; false when `attempt` no longer holds the answer.
pub async fn fail(
    client: &impl GenericClient,
    id: Uuid,
    attempt: i32,
    error: &GenerationError,
) -> Result<bool, tokio_postgres::Error> {
    let stored = client
        .execute(
            "UPDATE copilot_messages
             SET status = 'failed', error = $3, completed_at = now(), lease_expires_at = NULL
             WHERE id = $1 AND status = 'running' AND attempts = $2",
            &[&id, &attempt, &Json(error)],
        )
        .await?;
    Ok(stored > 0)
}

/// Extends the running attempt's lease; false when `attempt` no longer holds the answer.
pub async fn renew_lease(
    client: &impl GenericClient,
    id: Uuid,
    attempt: i32,
    lease: Duration,
) -> Result<bool, tokio_postgres::Error> {
    let renewed = client
        .execute(
            "UPDATE copilot_messages SET lease_expires_at = now() + make_interval(secs => $3)
             WHERE id = $1 AND status = 'running' AND attempts = $2",
            &[&id, &attempt, &lease.as_secs_f64()],
        )
        .await?;
    Ok(renewed > 0)
}

/// Gives a running answer back to the queue with its attempt returned: the worker is stopping.
pub async fn release(
    client: &impl GenericClient,
    id: Uuid,
    attempt: i32,
) -> Result<bool, tokio_postgres::Error> {
    let released = client
        .execute(
            "UPDATE copilot_messages
             SET status = 'queued', attempts = attempts - 1, lease_expires_at = NULL, published_at = now()
             WHERE id = $1 AND status = 'running' AND attempts = $2",
            &[&id, &attempt],
        )
        .await?;
    Ok(released > 0)
}

/// What applying an answer's proposal found.
#[derive(Debug)]
pub enum Snapshot {
    /// Stored as this version of the diagram.
    Applied {
        diagram_id: Uuid,
        version_number: i32,
    },
    NoSuchMessage,
    /// The message is the user's, is not finished, failed, or proposed no change.
    NoProposal,
    AlreadyApplied(i32),
    /// The diagram has moved on since the turn read it.
    Stale {
        base: Option<i32>,
        latest: Option<i32>,
    },
}

/// Applies an answer's proposal as the next version of the session's diagram, for the caller
/// to commit. The answer's row is locked, so two snapshots of it make one version, and the
/// diagram's latest version must still be the one the turn was based on.
pub async fn snapshot(
    client: &impl GenericClient,
    workspace: &Workspace,
    session_id: Uuid,
    message_id: Uuid,
) -> Result<Snapshot, RowError> {
    // The diagram's row before the answer's, the lock order of the `db` module (deleting the
    // diagram deletes the session's messages). `add_version` locks it too; locked from here on,
    // the latest version read below is the one the new version follows.
    let Some(diagram) = client
        .query_opt(
            "SELECT d.id FROM copilot_sessions s JOIN diagrams d ON d.id = s.diagram_id
             WHERE s.id = $1 FOR UPDATE OF d",
            &[&session_id],
        )
        .await?
    else {
        return Ok(Snapshot::NoSuchMessage);
    };
    let diagram_id: Uuid = diagram.try_get(0)?;
    let Some(row) = client
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM copilot_messages WHERE id = $1 AND session_id = $2 FOR UPDATE"
            ),
            &[&message_id, &session_id],
        )
        .await?
    else {
        return Ok(Snapshot::NoSuchMessage);
    };
    let answer = Message::from_row(&row)?;
    if let Some(version) = answer.applied_version {
        return Ok(Snapshot::AlreadyApplied(version));
    }
    let (Some("succeeded"), Some(xml)) =
        (answer.status.as_deref(), answer.proposed_bpmn.as_deref())
    else {
        return Ok(Snapshot::NoProposal);
    };
    let latest: Option<i32> = client
        .query_one(
            "SELECT max(version_number) FROM diagram_versions WHERE diagram_id = $1",
            &[&diagram_id],
        )
        .await?
        .try_get(0)?;
    if latest != answer.base_version {
        return Ok(Snapshot::Stale {
            base: answer.base_version,
            latest,
        });
    }
    let Some(version) =
        super::diagrams::add_version(client, workspace, diagram_id, xml, None).await?
    else {
        return Ok(Snapshot::NoSuchMessage);
    };
    client
        .execute(
            "UPDATE copilot_messages SET applied_version = $2 WHERE id = $1",
            &[&message_id, &version.version_number],
        )
        .await?;
    Ok(Snapshot::Applied {
        diagram_id,
        version_number: version.version_number,
    })
}
