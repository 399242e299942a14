//! What every job's row shares, whatever the job runs. Generations and copilot answers are
//! both queued, published, claimed under a lease, and taken back by the relay, and their tables
//! have the same lifecycle columns (`status`, `attempts`, `lease_expires_at`, `published_at`,
//! `created_at`, `completed_at`, `error`), so the relay's queries serve both.

use std::time::Duration;

use tokio_postgres::types::Json;
use uuid::Uuid;

use super::GenericClient;
use crate::domain::GenerationError;

/// A table whose rows are jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobTable {
    Generations,
    /// The copilot's answers; the user's messages in the same table have no status.
    CopilotMessages,
}

impl JobTable {
    pub const ALL: [JobTable; 2] = [JobTable::Generations, JobTable::CopilotMessages];

    fn name(self) -> &'static str {
        match self {
            JobTable::Generations => "generations",
            JobTable::CopilotMessages => "copilot_messages",
        }
    }

    /// What a job that ran out of attempts says, for a person.
    fn exhausted(self, max_attempts: i32) -> String {
        match self {
            JobTable::Generations => {
                format!("The generation did not finish within {max_attempts} attempts.")
            }
            JobTable::CopilotMessages => {
                format!("The copilot did not finish this turn within {max_attempts} attempts.")
            }
        }
    }
}

/// Queued jobs whose message may be lost: never confirmed after `unconfirmed_after`, or
/// confirmed but not picked up for `stale_after`. Marks them published again so another relay
/// pass (or replica) skips them.
pub async fn take_unpublished(
    client: &impl GenericClient,
    table: JobTable,
    unconfirmed_after: Duration,
    stale_after: Duration,
    limit: i64,
) -> Result<Vec<Uuid>, tokio_postgres::Error> {
    let table = table.name();
    let rows = client
        .query(
            &format!(
                "UPDATE {table} SET published_at = now()
                 WHERE id IN (
                     SELECT id FROM {table}
                     WHERE status = 'queued'
                       AND ((published_at IS NULL AND created_at < now() - make_interval(secs => $1))
                            OR published_at < now() - make_interval(secs => $2))
                     ORDER BY created_at
                     LIMIT $3
                     FOR UPDATE SKIP LOCKED)
                 RETURNING id"
            ),
            &[
                &unconfirmed_after.as_secs_f64(),
                &stale_after.as_secs_f64(),
                &limit,
            ],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The job's message was confirmed by the broker: the relay leaves it until `stale_after`.
pub async fn mark_published(
    client: &impl GenericClient,
    table: JobTable,
    id: Uuid,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            &format!(
                "UPDATE {} SET published_at = now() WHERE id = $1 AND status = 'queued'",
                table.name()
            ),
            &[&id],
        )
        .await?;
    Ok(())
}

/// Undoes a publish mark after a failed publish, so the relay retries on its next pass.
pub async fn mark_unpublished(
    client: &impl GenericClient,
    table: JobTable,
    id: Uuid,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            &format!(
                "UPDATE {} SET published_at = NULL WHERE id = $1 AND status = 'queued'",
                table.name()
            ),
            &[&id],
        )
        .await?;
    Ok(())
}

/// Jobs whose worker's lease ran out (it crashed or hung). Those with attempts left go back to
/// `queued` for the relay to republish; the others fail. Answers (requeued, failed).
pub async fn reclaim_expired(
    client: &impl GenericClient,
    table: JobTable,
    max_attempts: i32,
) -> Result<(Vec<Uuid>, Vec<Uuid>), tokio_postgres::Error> {
    let error = GenerationError {
        code: "attempts_exhausted".into(),
        message: table.exhausted(max_attempts),
    };
    let table = table.name();
    let requeued = client
        .query(
            &format!(
                "UPDATE {table} SET status = 'queued', lease_expires_at = NULL, published_at = NULL
                 WHERE status = 'running' AND lease_expires_at < now() AND attempts < $1
                 RETURNING id"
            ),
            &[&max_attempts],
        )
        .await?;
    let failed = client
        .query(
            &format!(
                "UPDATE {table}
                 SET status = 'failed', completed_at = now(), lease_expires_at = NULL, error = $2
                 WHERE status = 'running' AND lease_expires_at < now() AND attempts >= $1
                 RETURNING id"
            ),
            &[&max_attempts, &Json(&error)],
        )
        .await?;
    Ok((
        requeued.iter().map(|r| r.get(0)).collect(),
        failed.iter().map(|r| r.get(0)).collect(),
    ))
}
