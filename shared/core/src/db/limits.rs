//! The `rate_limits`, `quota_counters` and `generation_quota_usage` tables: per-key request
//! and generation budgets.
//!
//! Both are written through [`super::budget_pool`], whose commits do not wait for the WAL
//! flush: a key's row is then locked for one statement, not for a disk write, so one busy key's
//! requests are not queued behind each other's fsyncs. What a crash can cost: the counts of the
//! last moments before it (a few extra requests let through). It cannot lose a quota use whose
//! generation was stored, because the generation's durable commit flushes the WAL written
//! before it, which holds the reservation.

use std::time::Duration;

use uuid::Uuid;

use super::GenericClient;

/// Where a key stands in its current rate-limit window after counting more requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowCount {
    /// Requests in this window, including those just counted.
    pub count: i64,
    /// Time until the window ends.
    pub resets_in: Duration,
}

/// Counts `requests` requests for `api_key_id` (a replica counts a block of them at once when
/// it leases them; see the API's `rate_tokens`). The window starts at the first request after
/// the previous window ended. One atomic upsert, so every replica sees the same count.
pub async fn count_requests(
    client: &impl GenericClient,
    api_key_id: Uuid,
    window: Duration,
    requests: i64,
) -> Result<WindowCount, tokio_postgres::Error> {
    let statement = client
        .prepare_cached(
            "INSERT INTO rate_limits AS r (api_key_id, window_start, request_count)
             VALUES ($1, clock_timestamp(), $3::bigint)
             ON CONFLICT (api_key_id) DO UPDATE SET
                 window_start = CASE WHEN r.window_start <= clock_timestamp() - make_interval(secs => $2)
                                     THEN clock_timestamp() ELSE r.window_start END,
                 request_count = CASE WHEN r.window_start <= clock_timestamp() - make_interval(secs => $2)
                                      THEN $3::bigint ELSE r.request_count + $3::bigint END
             RETURNING request_count::bigint,
                       extract(epoch FROM r.window_start + make_interval(secs => $2) - clock_timestamp())::float8",
        )
        .await?;
    let row = client
        .query_one(&statement, &[&api_key_id, &window.as_secs_f64(), &requests])
        .await?;
    let resets_in: f64 = row.get(1);
    Ok(WindowCount {
        count: row.get(0),
        resets_in: Duration::try_from_secs_f64(resets_in).unwrap_or_default(),
    })
}

/// The outcome of reserving generations of a key's quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    /// How many were reserved: fewer than asked when the quota is nearly spent, none when it
    /// is spent (then nothing was recorded).
    pub granted: i64,
    /// Generations in the rolling window, including those just reserved.
    pub used: i64,
    /// Whole seconds until the oldest counted generation leaves the window (at least 1).
    pub frees_in: u64,
}

/// Reserves up to `units` of `quota` generations per rolling `window` for `api_key_id`, recorded
/// as `lease` (migration 0009's `reserve_generations`). The key's counter row is locked for this
/// one statement, so concurrent reservations of one key, from any replica, are counted one
/// after another and the quota cannot be overshot.
pub async fn reserve_generations(
    client: &impl GenericClient,
    api_key_id: Uuid,
    lease: Uuid,
    units: i64,
    quota: i64,
    window: Duration,
) -> Result<Reservation, tokio_postgres::Error> {
    let statement = client
        .prepare_cached(
            "SELECT granted, used, frees_in
             FROM reserve_generations($1, $2, $3, $4, make_interval(secs => $5))",
        )
        .await?;
    let row = client
        .query_one(
            &statement,
            &[&api_key_id, &lease, &units, &quota, &window.as_secs_f64()],
        )
        .await?;
    let frees_in: f64 = row.get(2);
    Ok(Reservation {
        granted: row.get(0),
        used: row.get(1),
        frees_in: frees_in.ceil().max(1.0) as u64,
    })
}

/// Hands back `units` of `lease` that were not used.
pub async fn refund_generations(
    client: &impl GenericClient,
    api_key_id: Uuid,
    lease: Uuid,
    units: i64,
) -> Result<(), tokio_postgres::Error> {
    let statement = client
        .prepare_cached("SELECT refund_generations($1, $2, $3)")
        .await?;
    client
        .execute(&statement, &[&api_key_id, &lease, &units])
        .await?;
    Ok(())
}
