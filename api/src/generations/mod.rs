//! The generations service: what the handlers of `/process-maps/generations` call. Each
//! function takes parsed domain values and answers generations with their stored BPMN.
//!
//! - [`accept`]: the quota reserved, the idempotency record and the `queued` row in one
//!   transaction, then the confirmed publish.
//! - [`inserts`]: storing the rows of requests accepted at once, in batches.
//! - [`published`]: marking confirmed jobs published, in batches.
//! - [`waiting`]: answering `wait=true` from status events.
//! - [`found`]: a generation as answered, with its BPMN.

mod accept;
mod found;
pub mod inserts;
pub mod published;
pub mod quota_tokens;
mod waiting;

pub use accept::{hand_back_idle, DiagramToCreate, ForDiagram};
pub use found::WithVersions;

use found::with_versions;

use std::{collections::HashMap, time::Duration};

use anyhow::Context;
use procmap_core::{
    db::{
        api_keys::ApiKey,
        diagrams,
        generations::{self, SourceLookup},
    },
    domain::{
        new_generation_id, GenerationRequest, GenerationStatus, RefinementSource, StoredVersion,
        Workspace,
    },
    messages::StatusEvent,
};
use uuid::Uuid;

use crate::{
    error::ApiError,
    http::{params::Position, ListParams},
    state::AppState,
};

/// A generation just accepted, or found again by its Idempotency-Key.
pub struct Created {
    pub generation: WithVersions,
    /// True when an earlier request with the same Idempotency-Key created it.
    pub replayed: bool,
}

/// Accepts a generation for `key` and, with `wait`, waits up to the wait window for it to
/// finish. A refinement whose source cannot be used is refused before anything is stored.
/// With `diagram`, the result becomes that diagram's next version.
///
/// The generation is steered by the contexts of the folder its diagram is in: the folder of
/// the diagram being made, or of the diagram a refinement starts from.
pub async fn create(
    state: &AppState,
    key: &ApiKey,
    request: GenerationRequest,
    diagram: Option<ForDiagram>,
    idempotency_key: Option<&str>,
    request_id: &str,
    wait: bool,
) -> Result<Created, ApiError> {
    let workspace = key.workspace();
    let (request, source_folder) = prepare_source(state, &workspace, request).await?;
    let folder = diagram
        .as_ref()
        .and_then(|d| d.create.as_ref())
        .map_or(source_folder, |create| create.folder_id);
    let context = crate::folders::steering(state, &workspace, folder).await?;
    let acceptance = accept::Acceptance {
        request: &request,
        diagram: diagram.as_ref(),
        context: &context,
    };
    let id = new_generation_id();
    // Subscribed before the job is published, so none of its status events can be missed and
    // the wait need not re-read the row it was just given.
    let subscription = wait.then(|| state.events.subscribe(id));
    let accepted = accept::accept(state, key, &acceptance, idempotency_key, request_id, id).await?;
    tracing::Span::current().record(
        "generation_id",
        tracing::field::display(accepted.generation.id),
    );
    let window = if wait {
        state.config.wait_timeout
    } else {
        Duration::ZERO
    };
    let generation = match subscription {
        // A replay answers an earlier generation, which the subscription is not for.
        Some(subscription) if accepted.generation.id == id => {
            waiting::wait_subscribed(state, accepted.generation, subscription, window).await?
        }
        _ => waiting::wait_for(state, accepted.generation, window).await?,
    };
    Ok(Created {
        generation,
        replayed: accepted.replayed,
    })
}

/// One generation of `workspace`; `None` for another's, which looks like a missing one.
pub async fn get(
    state: &AppState,
    workspace: &Workspace,
    id: Uuid,
) -> Result<Option<WithVersions>, ApiError> {
    let client = state.db().await?;
    let found = generations::get_for_owner_with_versions(&client, workspace, id)
        .await
        .context("reading a generation")?;
    Ok(found.map(|(generation, versions)| WithVersions {
        generation,
        versions,
    }))
}

/// A page of `owner`'s generations, newest first.
pub struct Page {
    pub generations: Vec<WithVersions>,
    /// Where the next page starts, when there is one.
    pub next: Option<Position>,
}

pub async fn list(
    state: &AppState,
    workspace: &Workspace,
    page: ListParams,
) -> Result<Page, ApiError> {
    let client = state.db().await?;
    let mut found =
        generations::list_for_owner(&client, workspace, page.after, page.rows_to_fetch())
            .await
            .context("listing generations")?;
    let next = page.cut(&mut found, |g| (g.created_at, g.id));
    let succeeded: Vec<Uuid> = found
        .iter()
        .filter(|g| g.status == GenerationStatus::Succeeded)
        .map(|g| g.id)
        .collect();
    let mut versions: HashMap<Uuid, Vec<StoredVersion>> = HashMap::new();
    for (id, v) in generations::versions(&client, &succeeded)
        .await
        .context("reading the page's BPMN")?
    {
        versions.entry(id).or_default().push(v);
    }
    let generations = found
        .into_iter()
        .map(|generation| WithVersions {
            versions: versions.remove(&generation.id).unwrap_or_default(),
            generation,
        })
        .collect();
    Ok(Page { generations, next })
}

/// Stops a queued or running generation of `workspace`, and tells every replica. `None` when
/// there is no such generation; a finished one is `generation_not_cancelable`.
pub async fn cancel(
    state: &AppState,
    workspace: &Workspace,
    id: Uuid,
) -> Result<Option<WithVersions>, ApiError> {
    let client = state.db().await?;
    let Some(canceled) = generations::cancel(&client, workspace, id)
        .await
        .context("canceling a generation")?
    else {
        let current = generations::get_for_owner(&client, workspace, id)
            .await
            .context("reading a generation that was not canceled")?;
        return match current {
            Some(done) => Err(ApiError::Conflict {
                code: "generation_not_cancelable",
                message: format!("generation {id} is already {}; only a queued or running generation can be canceled", done.status),
            }),
            None => Ok(None),
        };
    };
    drop(client);
    if let Some(event) = StatusEvent::new(id, GenerationStatus::Canceled) {
        // Wakes wait=true requests on every replica; they re-read the row.
        if let Err(e) = state.publisher.publish_event(&event).await {
            tracing::warn!(generation_id = %id, error = %e, "could not publish the cancel event");
        }
    }
    Ok(Some(with_versions(state, canceled).await?))
}

/// Removes a generation of `workspace` with its BPMN and idempotency record; answers whether it
/// existed.
pub async fn delete(state: &AppState, workspace: &Workspace, id: Uuid) -> Result<bool, ApiError> {
    let mut client = state.db().await?;
    let tx = client
        .transaction()
        .await
        .context("opening a transaction")?;
    let deleted = generations::delete(&tx, workspace, id)
        .await
        .context("deleting a generation")?;
    tx.commit().await.context("deleting a generation")?;
    Ok(deleted)
}

/// Refuses a refinement whose source cannot be used, before anything is stored. Answers the
/// request with a diagram source pinned to the version found, so the worker refines what the
/// client saw, and the folder of that diagram.
async fn prepare_source(
    state: &AppState,
    workspace: &Workspace,
    request: GenerationRequest,
) -> Result<(GenerationRequest, Option<Uuid>), ApiError> {
    let GenerationRequest::Refinement { prompt, source } = request else {
        return Ok((request, None));
    };
    match source {
        RefinementSource::Inline { ref bpmn_xml } => {
            procmap_engine::check_source(bpmn_xml).map_err(|problems| {
                ApiError::ValidationFailed {
                    param: Some("source.bpmn_xml".into()),
                    message: format!(
                        "source.bpmn_xml is not a usable BPMN 2.0 diagram: {}",
                        problems[0].message
                    ),
                    problems,
                }
            })?;
            Ok((GenerationRequest::Refinement { prompt, source }, None))
        }
        RefinementSource::Diagram {
            diagram_id,
            version_number,
        } => {
            let client = state.db().await?;
            let diagram = diagrams::get(&client, workspace, diagram_id)
                .await
                .context("looking up the source diagram")?
                .ok_or_else(|| {
                    ApiError::not_found(
                        Some("source.diagram_id"),
                        format!("no diagram with id {diagram_id}"),
                    )
                })?;
            let version = diagrams::version(&client, diagram_id, version_number)
                .await
                .context("looking up the source version")?
                .ok_or_else(|| match version_number {
                    Some(n) => ApiError::not_found(
                        Some("source.version_number"),
                        format!("diagram {diagram_id} has no version {n}"),
                    ),
                    None => ApiError::ValidationFailed {
                        param: Some("source.diagram_id".into()),
                        message: format!(
                            "diagram {diagram_id} has no version yet: its generation has not succeeded"
                        ),
                        problems: Vec::new(),
                    },
                })?;
            let source = RefinementSource::Diagram {
                diagram_id,
                version_number: Some(version.version_number),
            };
            Ok((
                GenerationRequest::Refinement { prompt, source },
                diagram.folder_id,
            ))
        }
        RefinementSource::Stored {
            generation_id,
            option_number,
            version_number,
        } => {
            let client = state.db().await?;
            let lookup = generations::find_source(
                &client,
                workspace,
                generation_id,
                option_number,
                version_number,
            )
            .await
            .context("looking up the source")?;
            match lookup {
                SourceLookup::Found(_) => Ok((GenerationRequest::Refinement { prompt, source }, None)),
                SourceLookup::NoGeneration => Err(ApiError::not_found(
                    Some("source.generation_id"),
                    format!("no generation with id {generation_id}"),
                )),
                SourceLookup::NotSucceeded(status) => Err(ApiError::ValidationFailed {
                    param: Some("source.generation_id".into()),
                    message: format!("generation {generation_id} is {status}; only a succeeded generation can be refined"),
                    problems: Vec::new(),
                }),
                SourceLookup::NoVersion => Err(ApiError::not_found(
                    Some("source.option_number"),
                    format!("generation {generation_id} has no option {option_number} version {version_number}"),
                )),
            }
        }
    }
}
