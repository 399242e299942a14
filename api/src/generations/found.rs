//! A generation as the service answers it: with the BPMN it produced.

use anyhow::Context;
use procmap_core::{
    db::generations::{self, Generation},
    domain::{GenerationStatus, StoredVersion},
};

use crate::{error::ApiError, state::AppState};

/// A generation with the BPMN it produced (none until it succeeds).
pub struct WithVersions {
    pub generation: Generation,
    pub versions: Vec<StoredVersion>,
}

/// A generation with its stored BPMN, read only when it succeeded.
pub(super) async fn with_versions(
    state: &AppState,
    generation: Generation,
) -> Result<WithVersions, ApiError> {
    let versions = if generation.status == GenerationStatus::Succeeded {
        let client = state.db().await?;
        generations::versions(&client, &[generation.id])
            .await
            .context("reading a generation's BPMN")?
            .into_iter()
            .map(|(_, v)| v)
            .collect()
    } else {
        Vec::new()
    };
    Ok(WithVersions {
        generation,
        versions,
    })
}
