//! The copilot service (seed 002): a diagram's one session, its chat turns and their streams,
//! snapshots of their proposals, and the model a workspace's copilot runs.
//!
//! A chat turn is a job. The API stores the user's message and the answer that awaits it in one
//! commit, subscribes to the answer's progress, then publishes the job; any worker runs it and
//! stores its steps as it goes. [`TurnStream`] reads those steps from Postgres whenever the
//! events exchange says there are more, so whichever replica holds the client's connection
//! serves it, and a client that goes away loses nothing: the stored messages are the truth.

use std::{collections::VecDeque, time::Duration};

use anyhow::Context;
use procmap_core::{
    broker::Subscription,
    db::{
        copilot::{self, Created, Session},
        copilot_turns::{self, Asked, Message, Question, Snapshot},
        diagrams,
        job_rows::{self, JobTable},
    },
    domain::{Workspace, MAX_PROMPT_CHARS},
    messages::Job,
};
use serde_json::{json, Value};
use tokio::time::Instant;
use uuid::Uuid;

use crate::{error::ApiError, state::AppState};

/// How often a stream looks at its turn when no progress event came: the hints are
/// fire-and-forget, so a lost one costs at most this.
const STREAM_POLL: Duration = Duration::from_secs(1);

/// The model every workspace has, whatever else the operator offers: the builtin modeler,
/// which needs no model server.
pub const BUILTIN: &str = "builtin";

/// Starts the session of one of the workspace's diagrams: 404 when the diagram is not there,
/// 409 `session_exists` naming the session it has already.
pub async fn create(
    state: &AppState,
    workspace: &Workspace,
    diagram_id: Uuid,
) -> Result<Session, ApiError> {
    let client = state.db().await?;
    diagrams::get(&client, workspace, diagram_id)
        .await
        .context("reading the diagram")?
        .ok_or_else(|| {
            ApiError::not_found(
                Some("diagram_id"),
                format!("no diagram with id \"{diagram_id}\""),
            )
        })?;
    match copilot::create(&client, workspace, diagram_id)
        .await
        .context("creating the session")?
    {
        Created::New(session) => Ok(session),
        Created::Existing(session) => Err(ApiError::Conflict {
            code: "session_exists",
            message: format!(
                "diagram {diagram_id} has a copilot session already: {}",
                session.id
            ),
        }),
    }
}

pub async fn of_diagram(
    state: &AppState,
    workspace: &Workspace,
    diagram_id: Uuid,
) -> Result<Option<Session>, ApiError> {
    let client = state.db().await?;
    Ok(copilot::of_diagram(&client, workspace, diagram_id)
        .await
        .context("reading the session")?)
}

pub async fn get(
    state: &AppState,
    workspace: &Workspace,
    id: Uuid,
) -> Result<Option<Session>, ApiError> {
    let client = state.db().await?;
    Ok(copilot::get(&client, workspace, id)
        .await
        .context("reading the session")?)
}

pub async fn delete(state: &AppState, workspace: &Workspace, id: Uuid) -> Result<bool, ApiError> {
    let client = state.db().await?;
    Ok(copilot::delete(&client, workspace, id)
        .await
        .context("deleting the session")?)
}

/// The models a workspace may choose: the builtin modeler, then the operator's
/// (`PROCMAP_COPILOT_MODELS`).
pub fn choices(state: &AppState) -> Vec<String> {
    std::iter::once(BUILTIN.to_owned())
        .chain(
            state
                .config
                .copilot_models
                .iter()
                .filter(|m| m.as_str() != BUILTIN)
                .cloned(),
        )
        .collect()
}

/// The workspace's model. One the operator has since stopped offering reads as the builtin
/// modeler, which is what a turn would then run.
pub async fn model(state: &AppState, workspace: &Workspace) -> Result<String, ApiError> {
    let client = state.db().await?;
    let chosen = copilot::model(&client, workspace)
        .await
        .context("reading the copilot model")?;
    Ok(chosen
        .filter(|m| choices(state).contains(m))
        .unwrap_or_else(|| BUILTIN.to_owned()))
}

/// Chooses the workspace's model: 400 `invalid_parameter` naming the choices for any other.
pub async fn set_model(
    state: &AppState,
    workspace: &Workspace,
    model: &str,
) -> Result<(), ApiError> {
    let choices = choices(state);
    if !choices.iter().any(|c| c == model) {
        return Err(ApiError::invalid(
            "model",
            format!(
                "model must be one of {}; {model:?} is not offered",
                choices
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let client = state.db().await?;
    copilot::set_model(&client, workspace, model)
        .await
        .context("choosing the copilot model")?;
    Ok(())
}

/// A chat message, checked: present, at most [`MAX_PROMPT_CHARS`] characters, no control
/// characters but line breaks and tabs.
pub fn checked_message(message: &str) -> Result<String, ApiError> {
    let message = message.trim();
    if message.is_empty() {
        return Err(ApiError::missing("message"));
    }
    if message.chars().count() > MAX_PROMPT_CHARS {
        return Err(ApiError::invalid(
            "message",
            format!("message is longer than {MAX_PROMPT_CHARS} characters"),
        ));
    }
    if message
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ApiError::invalid(
            "message",
            "message contains a control character",
        ));
    }
    Ok(message.to_owned())
}

/// A chat turn, accepted: the copilot answer to stream, subscribed to before its job was
/// published (or its steps were first read), so no progress is missed.
pub struct Accepted {
    pub session_id: Uuid,
    pub answer_id: Uuid,
    subscription: Subscription,
    /// The last step the client has seen already.
    seen: i32,
}

/// Follows a copilot answer again, from any replica: for a client whose stream broke, or that
/// asked on another replica. `seen` is the last step it has (its `Last-Event-ID`).
pub async fn follow(
    state: &AppState,
    workspace: &Workspace,
    session_id: Uuid,
    message_id: Uuid,
    seen: i32,
) -> Result<Accepted, ApiError> {
    let subscription = state.events.subscribe(message_id);
    let client = state.db().await?;
    let missing = || {
        ApiError::not_found(
            Some("mid"),
            format!("no copilot answer with id \"{message_id}\" in session {session_id}"),
        )
    };
    copilot::get(&client, workspace, session_id)
        .await
        .context("reading the session")?
        .ok_or_else(missing)?;
    let answer = copilot_turns::message(&client, session_id, message_id)
        .await
        .context("reading the answer")?
        .ok_or_else(missing)?;
    if answer.role != "copilot" {
        return Err(missing());
    }
    Ok(Accepted {
        session_id,
        answer_id: message_id,
        subscription,
        seen,
    })
}

/// Asks the session's copilot: 404 for a session that is not the workspace's, 409
/// `diagram_not_ready` while the diagram has no version, 409 `turn_in_progress` while the
/// previous turn runs. The job is published with a confirm; a publish that fails is left to
/// the relay, and the stream waits for it all the same.
pub async fn chat(
    state: &AppState,
    workspace: &Workspace,
    session_id: Uuid,
    message: &str,
    diagram_state: Option<&str>,
) -> Result<Accepted, ApiError> {
    let mut client = state.db().await?;
    let session = copilot::get(&client, workspace, session_id)
        .await
        .context("reading the session")?
        .ok_or_else(|| {
            ApiError::not_found(None, format!("no copilot session with id \"{session_id}\""))
        })?;
    // The diagram's row says which version is latest; its BPMN is the worker's to read.
    let latest = diagrams::get(&client, workspace, session.diagram_id)
        .await
        .context("reading the diagram")?
        .and_then(|diagram| diagram.latest_version)
        .ok_or_else(|| ApiError::Conflict {
            code: "diagram_not_ready",
            message: format!(
                "diagram {} has no version yet for the copilot to read",
                session.diagram_id
            ),
        })?;
    let model = self::model(state, workspace).await?;
    let tx = client
        .transaction()
        .await
        .context("opening a transaction")?;
    let asked = copilot_turns::ask(
        &tx,
        &Question {
            session_id,
            message,
            diagram_state,
            model: &model,
            base_version: Some(latest),
        },
    )
    .await
    .context("storing the message")?;
    let answer_id = match asked {
        Asked::Queued { answer, .. } => answer,
        Asked::Busy(answer) => {
            return Err(ApiError::Conflict {
                code: "turn_in_progress",
                message: format!(
                    "the session's previous turn is still running (message {answer}); send the next message when it completes"
                ),
            })
        }
    };
    tx.commit().await.context("storing the message")?;
    let subscription = state.events.subscribe(answer_id);
    match state
        .publisher
        .publish_job(&Job::CopilotTurn {
            message_id: answer_id,
        })
        .await
    {
        Ok(()) => {
            if let Err(e) =
                job_rows::mark_published(&client, JobTable::CopilotMessages, answer_id).await
            {
                tracing::warn!(error = %e, "could not mark the copilot turn published; the relay publishes it again");
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not publish the copilot turn; the relay will")
        }
    }
    Ok(Accepted {
        session_id,
        answer_id,
        subscription,
        seen: 0,
    })
}

/// One server-sent event: its name, its JSON, and its id (the step's number) when it is a
/// stored step.
#[derive(Debug, Clone)]
pub struct StreamEvent {
    pub name: &'static str,
    pub data: Value,
    pub id: Option<i32>,
}

/// The events of one turn, read from Postgres as its worker stores them: the stored steps in
/// order, then `complete` or `error`; or, when the wait window passes first, a `status` saying
/// the turn goes on in the background.
pub struct TurnStream {
    state: AppState,
    accepted: Accepted,
    seq: i32,
    pending: VecDeque<StreamEvent>,
    ended: bool,
    deadline: Instant,
}

impl TurnStream {
    pub fn new(state: AppState, accepted: Accepted) -> Self {
        let deadline = Instant::now() + state.config.wait_timeout;
        TurnStream {
            state,
            seq: accepted.seen,
            accepted,
            pending: VecDeque::new(),
            ended: false,
            deadline,
        }
    }

    /// The next event; `None` after the last.
    pub async fn next(&mut self) -> Option<StreamEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.ended {
                return None;
            }
            if let Err(e) = self.read().await {
                tracing::warn!(error = format!("{e:#}"), "could not read the copilot turn");
                self.end_in_background(
                    "The stream could not read the turn; it goes on in the background.",
                );
                continue;
            }
            if !self.pending.is_empty() || self.ended {
                continue;
            }
            tokio::select! {
                () = self.accepted.subscription.changed() => {}
                () = tokio::time::sleep(STREAM_POLL) => {}
                () = tokio::time::sleep_until(self.deadline) => {
                    self.end_in_background("The copilot is still working; the turn goes on in the background.");
                }
                () = self.state.draining.cancelled() => {
                    self.end_in_background("This server is restarting; the turn goes on in the background.");
                }
            }
        }
    }

    fn end_in_background(&mut self, why: &str) {
        let messages = format!(
            "{}/api/v1/copilot/sessions/{}/messages",
            self.state.config.public_base_url, self.accepted.session_id
        );
        self.pending.push_back(StreamEvent {
            name: "status",
            data: json!({
                "message": format!("{why} Its answer appears in GET {messages}."),
                "message_id": self.accepted.answer_id,
                "background": true,
            }),
            id: None,
        });
        self.ended = true;
    }

    /// Queues the steps stored since the last read, and the end when the answer is finished.
    /// The answer's row is read before its steps: its last steps are committed with it, so a
    /// finished row means every step is there to read.
    async fn read(&mut self) -> anyhow::Result<()> {
        let client = self.state.db().await?;
        let answer =
            copilot_turns::message(&client, self.accepted.session_id, self.accepted.answer_id)
                .await?;
        let steps = copilot_turns::events_after(&client, self.accepted.answer_id, self.seq).await?;
        for step in steps {
            self.seq = step.seq;
            self.pending.push_back(StreamEvent {
                name: match step.event.as_str() {
                    "status" => "status",
                    "tool_call" => "tool_call",
                    "tool_result" => "tool_result",
                    _ => "content_delta",
                },
                data: step.data,
                id: Some(step.seq),
            });
        }
        let Some(answer) = answer else {
            // The session was deleted while the turn ran.
            self.pending.push_back(StreamEvent {
                name: "error",
                data: json!({ "error": "the copilot session was deleted", "code": "session_deleted" }),
                id: None,
            });
            self.ended = true;
            return Ok(());
        };
        if answer.is_finished() {
            self.pending.push_back(final_event(&self.state, &answer));
            self.ended = true;
        }
        Ok(())
    }
}

/// `complete` for an answer that succeeded, `error` for one that failed.
fn final_event(state: &AppState, answer: &Message) -> StreamEvent {
    match &answer.error {
        Some(error) => StreamEvent {
            name: "error",
            data: json!({ "error": error.message, "code": error.code, "message_id": answer.id }),
            id: None,
        },
        None => StreamEvent {
            name: "complete",
            data: json!({
                "message_id": answer.id,
                "content": answer.content,
                "diagram_diff": answer.diagram_diff,
                "has_proposal": answer.proposed_bpmn.is_some(),
                "base_version": answer.base_version,
                "links": {
                    "snapshot": format!(
                        "{}/api/v1/copilot/sessions/{}/messages/{}/snapshot",
                        state.config.public_base_url, answer.session_id, answer.id
                    ),
                },
            }),
            id: None,
        },
    }
}

/// A page of the session's conversation, oldest first, after message `after`.
pub async fn messages(
    state: &AppState,
    workspace: &Workspace,
    session_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Option<Vec<Message>>, ApiError> {
    let client = state.db().await?;
    if copilot::get(&client, workspace, session_id)
        .await
        .context("reading the session")?
        .is_none()
    {
        return Ok(None);
    }
    Ok(Some(
        copilot_turns::messages(&client, session_id, after, limit)
            .await
            .context("reading the conversation")?,
    ))
}

/// Applies an answer's proposal as the diagram's next version: 404 for a message not in the
/// session, 409 `no_proposal`, `already_applied` or `stale_proposal`.
pub async fn snapshot(
    state: &AppState,
    workspace: &Workspace,
    session_id: Uuid,
    message_id: Uuid,
) -> Result<(Uuid, i32), ApiError> {
    let mut client = state.db().await?;
    let missing = || {
        ApiError::not_found(
            Some("mid"),
            format!("no message with id \"{message_id}\" in copilot session {session_id}"),
        )
    };
    if copilot::get(&client, workspace, session_id)
        .await
        .context("reading the session")?
        .is_none()
    {
        return Err(ApiError::not_found(
            None,
            format!("no copilot session with id \"{session_id}\""),
        ));
    }
    let tx = client
        .transaction()
        .await
        .context("opening a transaction")?;
    let applied = copilot_turns::snapshot(&tx, workspace, session_id, message_id)
        .await
        .context("applying the proposal")?;
    let conflict = |code, message: String| ApiError::Conflict { code, message };
    let (diagram_id, version_number) = match applied {
        Snapshot::Applied {
            diagram_id,
            version_number,
        } => (diagram_id, version_number),
        Snapshot::NoSuchMessage => return Err(missing()),
        Snapshot::NoProposal => {
            return Err(conflict(
                "no_proposal",
                format!("message {message_id} proposes no change to apply: it is the user's, still running, failed, or left the diagram as it was"),
            ))
        }
        Snapshot::AlreadyApplied(version) => {
            return Err(conflict(
                "already_applied",
                format!("message {message_id}'s proposal was applied already, as version {version}"),
            ))
        }
        Snapshot::Stale { base, latest } => {
            return Err(conflict(
                "stale_proposal",
                format!(
                    "message {message_id}'s proposal is based on version {}, but the diagram's latest is version {}; ask the copilot again",
                    base.map_or("none".into(), |v| v.to_string()),
                    latest.map_or("none".into(), |v| v.to_string()),
                ),
            ))
        }
    };
    tx.commit().await.context("storing the version")?;
    Ok((diagram_id, version_number))
}
