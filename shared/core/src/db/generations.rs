//! The `generations` and `generation_versions` tables: each generation's life and its BPMN.
//!
//! Status changes are conditional updates, so a duplicate delivery or a worker whose lease ran
//! out can never overwrite a result another attempt already wrote.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_postgres::{types::Json, Row};
use uuid::Uuid;

use super::{GenericClient, RowError};
use crate::domain::{
    GenerationError, GenerationRequest, GenerationStatus, Mode, Owner, SteeringContext,
    StoredVersion, Workspace,
};
use procmap_engine::Usage;

/// A generation as stored.
#[derive(Debug, Clone)]
pub struct Generation {
    pub id: Uuid,
    pub owner: Owner,
    pub mode: Mode,
    pub status: GenerationStatus,
    pub request: GenerationRequest,
    /// The `X-Request-Id` of the request that created it.
    pub request_id: String,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub error: Option<GenerationError>,
    /// How many times a worker has claimed it.
    pub attempts: i32,
    /// False when made with a test-mode key.
    pub livemode: bool,
    /// What a language model spent on it; none for the builtin modeler.
    pub usage: Option<Usage>,
    /// What a refinement could not carry over from its source diagram.
    pub warnings: Vec<String>,
    /// The diagram whose next version this generation's result becomes, if any.
    pub diagram_id: Option<Uuid>,
    /// The folder contexts that steered it, outermost first.
    pub context: Vec<SteeringContext>,
}

impl Generation {
    /// The data this generation belongs to, and may read.
    pub fn workspace(&self) -> Workspace {
        Workspace {
            owner: self.owner.clone(),
            livemode: self.livemode,
        }
    }
}

const COLUMNS: &str =
    "id, owner, mode, status, request, request_id, created_at, completed_at, error, attempts, livemode, usage, warnings, diagram_id, context";

impl Generation {
    fn from_row(row: &Row) -> Result<Self, RowError> {
        let id: Uuid = row.try_get("id")?;
        let mode_text: String = row.try_get("mode")?;
        let status_text: String = row.try_get("status")?;
        let corrupt = |column, value: String| RowError::Corrupt { id, column, value };
        let mode = Mode::parse(&mode_text).ok_or_else(|| corrupt("mode", mode_text.clone()))?;
        let status = GenerationStatus::parse(&status_text)
            .ok_or_else(|| corrupt("status", status_text.clone()))?;
        let Json(request) = row.try_get::<_, Json<GenerationRequest>>("request")?;
        let error = row
            .try_get::<_, Option<Json<GenerationError>>>("error")?
            .map(|Json(e)| e);
        let owner_text: String = row.try_get("owner")?;
        let owner = Owner::parse(&owner_text).map_err(|_| corrupt("owner", owner_text.clone()))?;
        Ok(Generation {
            id,
            owner,
            mode,
            status,
            request,
            request_id: row.try_get("request_id")?,
            created_at: row.try_get("created_at")?,
            completed_at: row.try_get("completed_at")?,
            error,
            attempts: row.try_get("attempts")?,
            livemode: row.try_get("livemode")?,
            usage: row
                .try_get::<_, Option<Json<Usage>>>("usage")?
                .map(|Json(u)| u),
            warnings: row.try_get::<_, Json<Vec<String>>>("warnings")?.0,
            diagram_id: row.try_get("diagram_id")?,
            context: row.try_get::<_, Json<Vec<SteeringContext>>>("context")?.0,
        })
    }
}

pub struct NewGeneration<'a> {
    pub id: Uuid,
    pub owner: &'a Owner,
    pub api_key_id: Uuid,
    pub request: &'a GenerationRequest,
    pub request_id: &'a str,
    pub livemode: bool,
    /// The diagram whose next version the result becomes, and which option (see [`complete_many`]).
    pub diagram: Option<(Uuid, i32)>,
    pub context: &'a [SteeringContext],
}

pub async fn insert(
    client: &impl GenericClient,
    new: &NewGeneration<'_>,
) -> Result<Generation, RowError> {
    let statement = client
        .prepare_cached(&format!(
            "INSERT INTO generations (id, owner, api_key_id, mode, status, request, request_id, livemode,
                                      diagram_id, diagram_option, context)
             VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $9, $10)
             RETURNING {COLUMNS}"
        ))
        .await?;
    let row = client
        .query_one(
            &statement,
            &[
                &new.id,
                &new.owner.as_str(),
                &new.api_key_id,
                &new.request.mode().as_str(),
                &Json(new.request),
                &new.request_id,
                &new.livemode,
                &new.diagram.map(|(id, _)| id),
                &new.diagram.map(|(_, option)| option),
                &Json(new.context),
            ],
        )
        .await?;
    Generation::from_row(&row)
}

/// Inserts `queued` generations with one statement, so with one commit outside a transaction:
/// the API stores the generations of requests accepted at once together. One row that cannot
/// be stored fails the statement, and so all of them. Answers them in the order given.
pub async fn insert_many(
    client: &impl GenericClient,
    news: &[NewGeneration<'_>],
) -> Result<Vec<Generation>, RowError> {
    let statement = client
        .prepare_cached(&format!(
            "INSERT INTO generations (id, owner, api_key_id, mode, status, request, request_id, livemode,
                                      diagram_id, diagram_option, context)
             SELECT id, owner, api_key_id, mode, 'queued', request, request_id, livemode,
                    diagram_id, diagram_option, context
             FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::jsonb[], $6::text[],
                         $7::boolean[], $8::uuid[], $9::integer[], $10::jsonb[])
                  AS new (id, owner, api_key_id, mode, request, request_id, livemode,
                          diagram_id, diagram_option, context)
             RETURNING {COLUMNS}"
        ))
        .await?;
    let ids: Vec<Uuid> = news.iter().map(|n| n.id).collect();
    let owners: Vec<&str> = news.iter().map(|n| n.owner.as_str()).collect();
    let key_ids: Vec<Uuid> = news.iter().map(|n| n.api_key_id).collect();
    let modes: Vec<&str> = news.iter().map(|n| n.request.mode().as_str()).collect();
    let requests: Vec<Json<&GenerationRequest>> = news.iter().map(|n| Json(n.request)).collect();
    let request_ids: Vec<&str> = news.iter().map(|n| n.request_id).collect();
    let livemodes: Vec<bool> = news.iter().map(|n| n.livemode).collect();
    let diagram_ids: Vec<Option<Uuid>> = news.iter().map(|n| n.diagram.map(|d| d.0)).collect();
    let diagram_options: Vec<Option<i32>> = news.iter().map(|n| n.diagram.map(|d| d.1)).collect();
    let contexts: Vec<Json<&[SteeringContext]>> = news.iter().map(|n| Json(n.context)).collect();
    let rows = client
        .query(
            &statement,
            &[
                &ids,
                &owners,
                &key_ids,
                &modes,
                &requests,
                &request_ids,
                &livemodes,
                &diagram_ids,
                &diagram_options,
                &contexts,
            ],
        )
        .await?;
    // RETURNING's order is not promised to be the input's.
    let mut stored = rows
        .iter()
        .map(Generation::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let order: std::collections::HashMap<Uuid, usize> =
        ids.iter().enumerate().map(|(at, id)| (*id, at)).collect();
    stored.sort_by_key(|generation| order.get(&generation.id).copied());
    Ok(stored)
}

/// Records that the broker confirmed these jobs: one statement and one commit for a batch, so
/// the accept path does not pay a commit per request for it.
pub async fn mark_many_published(
    client: &impl GenericClient,
    ids: &[Uuid],
) -> Result<(), tokio_postgres::Error> {
    let statement = super::prepare_for_now(
        client,
        "UPDATE generations SET published_at = now() WHERE id = ANY($1)",
    )
    .await?;
    client.execute(&statement, &[&ids]).await?;
    Ok(())
}

pub async fn get(client: &impl GenericClient, id: Uuid) -> Result<Option<Generation>, RowError> {
    let statement = client
        .prepare_cached(&format!("SELECT {COLUMNS} FROM generations WHERE id = $1"))
        .await?;
    let row = client.query_opt(&statement, &[&id]).await?;
    row.as_ref().map(Generation::from_row).transpose()
}

/// One generation, only if it is in `workspace`: another owner's id, or the other mode's, looks
/// exactly like a missing one.
pub async fn get_for_owner(
    client: &impl GenericClient,
    workspace: &Workspace,
    id: Uuid,
) -> Result<Option<Generation>, RowError> {
    let statement = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM generations WHERE id = $1 AND owner = $2 AND livemode = $3"
        ))
        .await?;
    let row = client
        .query_opt(
            &statement,
            &[&id, &workspace.owner.as_str(), &workspace.livemode],
        )
        .await?;
    row.as_ref().map(Generation::from_row).transpose()
}

/// A generation with its stored BPMN, in one round trip rather than two.
pub async fn get_with_versions(
    client: &impl GenericClient,
    id: Uuid,
) -> Result<Option<(Generation, Vec<StoredVersion>)>, RowError> {
    read_with_versions(client, "g.id = $1", &[&id]).await
}

/// [`get_with_versions`], only if the generation is in `workspace`, as [`get_for_owner`].
pub async fn get_for_owner_with_versions(
    client: &impl GenericClient,
    workspace: &Workspace,
    id: Uuid,
) -> Result<Option<(Generation, Vec<StoredVersion>)>, RowError> {
    read_with_versions(
        client,
        "g.id = $1 AND g.owner = $2 AND g.livemode = $3",
        &[&id, &workspace.owner.as_str(), &workspace.livemode],
    )
    .await
}

/// The generation matching `condition` on `g`, its versions (a succeeded generation's only)
/// joined on as further rows, ordered by option and version.
async fn read_with_versions(
    client: &impl GenericClient,
    condition: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Option<(Generation, Vec<StoredVersion>)>, RowError> {
    static QUALIFIED: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        COLUMNS
            .split(", ")
            .map(|column| format!("g.{column}"))
            .collect::<Vec<_>>()
            .join(", ")
    });
    let columns = &*QUALIFIED;
    let statement = client
        .prepare_cached(&format!(
            "SELECT {columns}, v.option_number, v.version_number, v.bpmn_xml
             FROM generations g LEFT JOIN generation_versions v
                 ON v.generation_id = g.id AND g.status = 'succeeded'
             WHERE {condition}
             ORDER BY v.option_number, v.version_number"
        ))
        .await?;
    let rows = client.query(&statement, params).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let generation = Generation::from_row(first)?;
    let mut versions = Vec::new();
    for row in &rows {
        if let Some(option_number) = row.try_get("option_number")? {
            versions.push(StoredVersion {
                option_number,
                version_number: row.try_get("version_number")?,
                bpmn_xml: row.try_get("bpmn_xml")?,
            });
        }
    }
    Ok(Some((generation, versions)))
}

/// A page of the generations in `workspace`, newest first, strictly after the keyset position
/// `after`.
pub async fn list_for_owner(
    client: &impl GenericClient,
    workspace: &Workspace,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<Generation>, RowError> {
    let rows = match after {
        None => {
            client
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM generations WHERE owner = $1 AND livemode = $2
                         ORDER BY created_at DESC, id DESC LIMIT $3"
                    ),
                    &[&workspace.owner.as_str(), &workspace.livemode, &limit],
                )
                .await?
        }
        Some((created_at, id)) => {
            client
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM generations WHERE owner = $1 AND livemode = $2
                         AND (created_at, id) < ($3, $4)
                         ORDER BY created_at DESC, id DESC LIMIT $5"
                    ),
                    &[
                        &workspace.owner.as_str(),
                        &workspace.livemode,
                        &created_at,
                        &id,
                        &limit,
                    ],
                )
                .await?
        }
    };
    rows.iter().map(Generation::from_row).collect()
}

/// The stored BPMN of several generations, ordered by generation, option and version.
pub async fn versions(
    client: &impl GenericClient,
    generation_ids: &[Uuid],
) -> Result<Vec<(Uuid, StoredVersion)>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT generation_id, option_number, version_number, bpmn_xml FROM generation_versions
             WHERE generation_id = ANY($1) ORDER BY generation_id, option_number, version_number",
            &[&generation_ids],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let version = StoredVersion {
                option_number: row.get(1),
                version_number: row.get(2),
                bpmn_xml: row.get(3),
            };
            (row.get(0), version)
        })
        .collect())
}

/// Cancels a generation of `workspace` if it is still queued or running. `None` when there is no
/// such generation or it already finished; the caller tells the two apart with `get_for_owner`.
pub async fn cancel(
    client: &impl GenericClient,
    workspace: &Workspace,
    id: Uuid,
) -> Result<Option<Generation>, RowError> {
    let row = client
        .query_opt(
            &format!(
                "UPDATE generations SET status = 'canceled', completed_at = now(), lease_expires_at = NULL
                 WHERE id = $1 AND owner = $2 AND livemode = $3 AND status IN ('queued', 'running')
                 RETURNING {COLUMNS}"
            ),
            &[&id, &workspace.owner.as_str(), &workspace.livemode],
        )
        .await?;
    row.as_ref().map(Generation::from_row).transpose()
}

/// Deletes a generation of `workspace` with its BPMN and idempotency record. Answers whether it
/// existed. Diagram versions made from it stay: they are the diagram's now. Run it in a
/// transaction: the delete's cascade clears the generation from the diagram made from it, so
/// that diagram's row, and the row of the diagram it refines, are locked first (the lock order
/// of the `db` module).
pub async fn delete(
    client: &impl GenericClient,
    workspace: &Workspace,
    id: Uuid,
) -> Result<bool, tokio_postgres::Error> {
    client
        .execute(
            "SELECT 1 FROM diagrams
             WHERE (generation_id = $1 OR id = (SELECT diagram_id FROM generations WHERE id = $1))
               AND owner = $2 AND livemode = $3
             ORDER BY id FOR UPDATE",
            &[&id, &workspace.owner.as_str(), &workspace.livemode],
        )
        .await?;
    Ok(client
        .execute(
            "DELETE FROM generations WHERE id = $1 AND owner = $2 AND livemode = $3",
            &[&id, &workspace.owner.as_str(), &workspace.livemode],
        )
        .await?
        == 1)
}

/// Looking up a refinement's stored source.
#[derive(Debug)]
pub enum SourceLookup {
    Found(String),
    /// No generation with that id belongs to the owner.
    NoGeneration,
    /// The generation exists but has not succeeded, so it has no BPMN yet.
    NotSucceeded(GenerationStatus),
    /// The generation has no such option or version.
    NoVersion,
}

pub async fn find_source(
    client: &impl GenericClient,
    workspace: &Workspace,
    generation_id: Uuid,
    option_number: i32,
    version_number: i32,
) -> Result<SourceLookup, RowError> {
    let Some(generation) = get_for_owner(client, workspace, generation_id).await? else {
        return Ok(SourceLookup::NoGeneration);
    };
    if generation.status != GenerationStatus::Succeeded {
        return Ok(SourceLookup::NotSucceeded(generation.status));
    }
    let row = client
        .query_opt(
            "SELECT bpmn_xml FROM generation_versions
             WHERE generation_id = $1 AND option_number = $2 AND version_number = $3",
            &[&generation_id, &option_number, &version_number],
        )
        .await?;
    Ok(match row {
        Some(row) => SourceLookup::Found(row.get(0)),
        None => SourceLookup::NoVersion,
    })
}

/// Takes a queued generation for one attempt. `None` means someone else has it or it is done,
/// which is what a duplicate delivery sees.
pub async fn claim(
    client: &impl GenericClient,
    id: Uuid,
    lease: Duration,
) -> Result<Option<Generation>, RowError> {
    Ok(claim_many(client, &[id], lease).await?.pop().flatten())
}

/// Takes each of the queued generations `ids` for one attempt, in one statement: what a worker
/// running many jobs at once claims together. Answers in the order of `ids`, `None` where
/// someone else has it or it is done. An id given twice is claimed once: only its first place
/// gets the row, so two deliveries of one job never both run it.
///
/// The rows are found by primary key alone, whatever the statistics say. The status is tested
/// with `IS NOT DISTINCT FROM` (the same as `=` on a column that is never null) because no index
/// can serve that test. With `status = 'queued'`, a table that filled up since autovacuum's
/// last look (a burst of accepts) has statistics saying that almost no row is queued, and the
/// planner read the unfinished-jobs index instead: each claim then visited the index entry of
/// every queued job, and draining a backlog took time in proportion to its square.
pub async fn claim_many(
    client: &impl GenericClient,
    ids: &[Uuid],
    lease: Duration,
) -> Result<Vec<Option<Generation>>, RowError> {
    let statement = super::prepare_for_now(
        client,
        &format!(
            "UPDATE generations
             SET status = 'running', attempts = attempts + 1,
                 started_at = coalesce(started_at, now()),
                 lease_expires_at = now() + make_interval(secs => $2)
             WHERE id = ANY($1) AND status IS NOT DISTINCT FROM 'queued'
             RETURNING {COLUMNS}"
        ),
    )
    .await?;
    let rows = client
        .query(&statement, &[&ids, &lease.as_secs_f64()])
        .await?;
    let mut claimed = std::collections::HashMap::with_capacity(rows.len());
    for row in &rows {
        let generation = Generation::from_row(row)?;
        claimed.insert(generation.id, generation);
    }
    Ok(ids.iter().map(|id| claimed.remove(id)).collect())
}

/// The result of one attempt, to be stored by [`complete_many`].
pub struct Completion<'a> {
    pub id: Uuid,
    pub attempt: i32,
    /// Whether the generation was made for a diagram, whose next version its result becomes
    /// (the claimed row's `diagram_id`); see [`complete_many`] for what that asks of the caller.
    pub for_diagram: bool,
    pub versions: &'a [StoredVersion],
    pub usage: Option<&'a Usage>,
    pub warnings: &'a [String],
}

/// Stores the result of attempt `attempt`. Answers false, writing nothing, when that attempt no
/// longer holds the generation. Run it in a transaction, as [`complete_many`] asks of a
/// completion for a diagram.
pub async fn complete(
    client: &impl GenericClient,
    id: Uuid,
    attempt: i32,
    versions: &[StoredVersion],
    usage: Option<&Usage>,
    warnings: &[String],
) -> Result<bool, tokio_postgres::Error> {
    let completion = Completion {
        id,
        attempt,
        // Not known here: the diagram step runs, and finds nothing for a generation made
        // without a diagram.
        for_diagram: true,
        versions,
        usage,
        warnings,
    };
    Ok(complete_many(client, &[completion]).await?[0])
}

/// Stores the results of many attempts. Answers, in order, whether each was stored: false, with
/// nothing written, when that attempt no longer holds the generation.
///
/// The results and their versions are one statement, which commits alone when no completion
/// is for a diagram: the worker's usual result costs one round trip and one commit, where a
/// transaction of its statements cost five round trips. A completion for a diagram adds the
/// diagram's version in further statements, so the caller must then run this in a transaction
/// and commit it, keeping the generation's result and the diagram's version one commit.
///
/// The attempt still holds it when the relay took the job back (its lease ran out while the
/// database was away) but no later attempt has claimed it yet: the row is `queued` with the
/// same attempt count, and a finished result is worth more than a run started afresh.
pub async fn complete_many(
    client: &impl GenericClient,
    completions: &[Completion<'_>],
) -> Result<Vec<bool>, tokio_postgres::Error> {
    let for_diagrams: Vec<Uuid> = completions
        .iter()
        .filter(|c| c.for_diagram)
        .map(|c| c.id)
        .collect();
    // The diagrams' rows before the generations' rows, as everything that locks both does (see
    // the crate's `db` module): deleting a diagram locks its row, then its generations' rows.
    let diagrams_locked = !for_diagrams.is_empty() && lock_diagrams(client, &for_diagrams).await?;
    let ids: Vec<Uuid> = completions.iter().map(|c| c.id).collect();
    let attempts: Vec<i32> = completions.iter().map(|c| c.attempt).collect();
    let usages: Vec<Option<Json<&Usage>>> = completions.iter().map(|c| c.usage.map(Json)).collect();
    let warnings: Vec<Json<&[String]>> = completions.iter().map(|c| Json(c.warnings)).collect();
    let (mut generation_ids, mut options, mut numbers, mut xml) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for completion in completions {
        for version in completion.versions {
            generation_ids.push(completion.id);
            options.push(version.option_number);
            numbers.push(version.version_number);
            xml.push(version.bpmn_xml.as_str());
        }
    }
    // A data-modifying CTE sees the rows its sibling's RETURNING names, so only the versions of
    // the attempts that still held their generation are inserted.
    let finish = super::prepare_for_now(
        client,
        "WITH finished AS (
             UPDATE generations g
             SET status = 'succeeded', completed_at = now(), lease_expires_at = NULL,
                 usage = r.usage, warnings = r.warnings
             FROM unnest($1::uuid[], $2::int[], $3::jsonb[], $4::jsonb[]) AS r(id, attempt, usage, warnings)
             WHERE g.id = r.id AND g.status IN ('running', 'queued') AND g.attempts = r.attempt
             RETURNING g.id
         ), versions AS (
             INSERT INTO generation_versions (generation_id, option_number, version_number, bpmn_xml)
             SELECT v.* FROM unnest($5::uuid[], $6::int[], $7::int[], $8::text[])
                 AS v(generation_id, option_number, version_number, bpmn_xml)
             WHERE v.generation_id IN (SELECT id FROM finished)
         )
         SELECT id FROM finished",
    )
    .await?;
    let finished: std::collections::HashSet<Uuid> = client
        .query(
            &finish,
            &[
                &ids,
                &attempts,
                &usages,
                &warnings,
                &generation_ids,
                &options,
                &numbers,
                &xml,
            ],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let for_diagrams: Vec<Uuid> = completions
        .iter()
        .filter(|c| c.for_diagram && finished.contains(&c.id))
        .map(|c| c.id)
        .collect();
    if diagrams_locked && !for_diagrams.is_empty() {
        add_diagram_versions(client, &for_diagrams).await?;
    }
    Ok(completions
        .iter()
        .map(|c| finished.contains(&c.id))
        .collect())
}

/// Locks the rows of the diagrams the generations `ids` were made for, in id order, so versions
/// numbered at once by another completion or an upload are counted one after the other.
/// Answers whether there is any such diagram still.
async fn lock_diagrams(
    client: &impl GenericClient,
    ids: &[Uuid],
) -> Result<bool, tokio_postgres::Error> {
    let lock = super::prepare_for_now(
        client,
        "SELECT d.id FROM diagrams d
         WHERE d.id IN (SELECT diagram_id FROM generations WHERE id = ANY($1))
         ORDER BY d.id FOR UPDATE OF d",
    )
    .await?;
    Ok(!client.query(&lock, &[&ids]).await?.is_empty())
}

/// Makes the result of each of the generations `ids` that was made for a diagram that
/// diagram's next version: the last version of its `diagram_option`. Runs in the transaction
/// that stores the results, so a diagram's version and its generation's result are one commit,
/// after [`lock_diagrams`]. Two results for one diagram in the same batch are numbered in the
/// order their generations were created.
async fn add_diagram_versions(
    client: &impl GenericClient,
    ids: &[Uuid],
) -> Result<(), tokio_postgres::Error> {
    let insert = super::prepare_for_now(
        client,
        "WITH results AS (
             SELECT g.diagram_id, g.id AS generation_id, g.created_at,
                    (SELECT v.bpmn_xml FROM generation_versions v
                     WHERE v.generation_id = g.id AND v.option_number = g.diagram_option
                     ORDER BY v.version_number DESC LIMIT 1) AS bpmn_xml
             FROM generations g
             WHERE g.id = ANY($1) AND g.diagram_id IS NOT NULL
         ), numbered AS (
             SELECT r.*,
                    coalesce((SELECT max(version_number) FROM diagram_versions dv
                              WHERE dv.diagram_id = r.diagram_id), 0)
                    + row_number() OVER (PARTITION BY r.diagram_id
                                         ORDER BY r.created_at, r.generation_id) AS version_number
             FROM results r WHERE r.bpmn_xml IS NOT NULL
         ), touched AS (
             UPDATE diagrams SET updated_at = now()
             WHERE id IN (SELECT diagram_id FROM numbered)
         )
         INSERT INTO diagram_versions (diagram_id, version_number, bpmn_xml, generation_id)
         SELECT diagram_id, version_number, bpmn_xml, generation_id FROM numbered",
    )
    .await?;
    client.execute(&insert, &[&ids]).await?;
    Ok(())
}

/// Marks attempt `attempt` failed for good, with what the provider spent trying. Answers false
/// when that attempt no longer holds it (see [`complete`]).
pub async fn fail(
    client: &impl GenericClient,
    id: Uuid,
    attempt: i32,
    error: &GenerationError,
    usage: Option<&Usage>,
) -> Result<bool, tokio_postgres::Error> {
    let statement = client
        .prepare_cached(
            "UPDATE generations SET status = 'failed', completed_at = now(), lease_expires_at = NULL, error = $3, usage = $4
             WHERE id = $1 AND status IN ('running', 'queued') AND attempts = $2",
        )
        .await?;
    let updated = client
        .execute(&statement, &[&id, &attempt, &Json(error), &usage.map(Json)])
        .await?;
    Ok(updated == 1)
}

/// Gives attempt `attempt` back to the queue unspent: its worker is stopping, which is not the
/// job's fault. The worker puts the message back in the queue too, so the job counts as
/// published. Answers false when that attempt no longer holds the generation.
pub async fn release(
    client: &impl GenericClient,
    id: Uuid,
    attempt: i32,
) -> Result<bool, tokio_postgres::Error> {
    let updated = client
        .execute(
            "UPDATE generations SET status = 'queued', attempts = attempts - 1, lease_expires_at = NULL, published_at = now()
             WHERE id = $1 AND status = 'running' AND attempts = $2",
            &[&id, &attempt],
        )
        .await?;
    Ok(updated == 1)
}

/// Extends attempt `attempt`'s lease to `lease` from now, while its worker is still at it.
/// Answers false when that attempt no longer holds the generation: a later attempt claimed it,
/// or it was canceled or finished. A job the relay took back while the database was away, and
/// no one has claimed since, is running again (see [`complete`]).
pub async fn renew_lease(
    client: &impl GenericClient,
    id: Uuid,
    attempt: i32,
    lease: Duration,
) -> Result<bool, tokio_postgres::Error> {
    let updated = client
        .execute(
            "UPDATE generations SET status = 'running', lease_expires_at = now() + make_interval(secs => $3)
             WHERE id = $1 AND status IN ('running', 'queued') AND attempts = $2",
            &[&id, &attempt, &lease.as_secs_f64()],
        )
        .await?;
    Ok(updated == 1)
}
