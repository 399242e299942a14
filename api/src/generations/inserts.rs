//! Storing the generations of requests accepted at once with one statement and one commit.
//!
//! A request without an Idempotency-Key, whose diagram (if any) already exists, stores one row
//! and nothing else. Each such request used to commit alone: a round trip, a transaction and a
//! wait for the WAL flush per request. Their rows are now handed to one task, which inserts
//! every row waiting with one `INSERT … SELECT FROM unnest(…)` ([`generations::insert_many`]).
//! Nothing waits for a batch to fill (see [`Batcher`]), so a lone request is stored at once.
//!
//! A row that cannot be stored fails its whole statement; the batch is then stored row by row,
//! so only that request fails, as it did alone. Every answer still means the row is committed.

use anyhow::Context;
use procmap_core::{
    batch::Batcher,
    db::{
        generations::{self, Generation, NewGeneration},
        Pool,
    },
    domain::{GenerationRequest, Owner, SteeringContext},
};
use uuid::Uuid;

use crate::error::ApiError;

/// Rows stored by one statement at most.
const BATCH: usize = 256;

/// A generation to store: [`NewGeneration`], owned, to cross to the inserting task.
struct ToInsert {
    id: Uuid,
    owner: Owner,
    api_key_id: Uuid,
    request: GenerationRequest,
    request_id: String,
    livemode: bool,
    diagram: Option<(Uuid, i32)>,
    context: Vec<SteeringContext>,
}

impl ToInsert {
    fn new(new: &NewGeneration<'_>) -> Self {
        ToInsert {
            id: new.id,
            owner: new.owner.clone(),
            api_key_id: new.api_key_id,
            request: new.request.clone(),
            request_id: new.request_id.to_owned(),
            livemode: new.livemode,
            diagram: new.diagram,
            context: new.context.to_vec(),
        }
    }

    fn as_new(&self) -> NewGeneration<'_> {
        NewGeneration {
            id: self.id,
            owner: &self.owner,
            api_key_id: self.api_key_id,
            request: &self.request,
            request_id: &self.request_id,
            livemode: self.livemode,
            diagram: self.diagram,
            context: &self.context,
        }
    }
}

/// Stores each request's row together with the others waiting.
#[derive(Clone)]
pub struct GenerationInserts(Batcher<ToInsert, anyhow::Result<Generation>>);

impl GenerationInserts {
    /// Starts the task that stores the rows handed to it.
    pub fn start(pool: Pool) -> Self {
        GenerationInserts(Batcher::start(
            "insert",
            BATCH,
            move |batch: Vec<ToInsert>| {
                let pool = pool.clone();
                async move { insert(&pool, &batch).await }
            },
        ))
    }

    /// Stores one generation; answers once its row is committed.
    pub async fn store(&self, new: &NewGeneration<'_>) -> Result<Generation, ApiError> {
        match self.0.write(ToInsert::new(new)).await {
            Ok(stored) => stored
                .context("storing the generation")
                .map_err(ApiError::from),
            // A batch fails whole only when it got no database connection (or the task is
            // gone): the database is out of reach, which the client may wait out.
            Err(e) => Err(ApiError::Unavailable(e.context("storing the generation"))),
        }
    }
}

async fn insert(
    pool: &Pool,
    batch: &[ToInsert],
) -> anyhow::Result<Vec<anyhow::Result<Generation>>> {
    let client = pool.get().await.context("getting a database connection")?;
    let news: Vec<NewGeneration<'_>> = batch.iter().map(|row| row.as_new()).collect();
    let together = generations::insert_many(&client, &news).await;
    match together {
        Ok(stored) => Ok(stored.into_iter().map(Ok).collect()),
        Err(e) if news.len() == 1 => Ok(vec![Err(e.into())]),
        Err(e) => {
            tracing::debug!(rows = news.len(), error = %e, "a batch of generations failed; storing its rows one by one");
            let mut answers = Vec::with_capacity(news.len());
            for new in &news {
                answers.push(generations::insert(&client, new).await.map_err(Into::into));
            }
            Ok(answers)
        }
    }
}
