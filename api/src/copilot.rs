//! The copilot service: a diagram's one session, and the model a workspace's copilot runs
//! (seed 002). The chat turns themselves are not built yet.

use anyhow::Context;
use procmap_core::{
    db::{
        copilot::{self, Created, Session},
        diagrams,
    },
    domain::Workspace,
};
use uuid::Uuid;

use crate::{error::ApiError, state::AppState};

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
