//! The `rate_limits` and `generation_quota_usage` tables: per-key request and generation budgets.

use std::time::Duration;

use uuid::Uuid;

use super::GenericClient;

/// Where a key stands in its current rate-limit window after counting one more request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    /// Requests in this window, including the one just counted.
    pub count: i64,
    /// Whole seconds until the window ends (at least 1).
    pub resets_in: u64,
}

/// Counts one request for `api_key_id`. The window starts at the first request after the
/// previous window ended. One atomic upsert, so every replica sees the same count.
pub async fn count_request(
    client: &impl GenericClient,
    api_key_id: Uuid,
    window: Duration,
) -> Result<WindowCount, tokio_postgres::Error> {
    let row = client
        .query_one(
            "INSERT INTO rate_limits AS r (api_key_id, window_start, request_count)
             VALUES ($1, clock_timestamp(), 1)
             ON CONFLICT (api_key_id) DO UPDATE SET
                 window_start = CASE WHEN r.window_start <= clock_timestamp() - make_interval(secs => $2)
                                     THEN clock_timestamp() ELSE r.window_start END,
                 request_count = CASE WHEN r.window_start <= clock_timestamp() - make_interval(secs => $2)
                                      THEN 1 ELSE r.request_count + 1 END
             RETURNING request_count::bigint,
                       ceil(extract(epoch FROM r.window_start + make_interval(secs => $2) - clock_timestamp()))::bigint",
            &[&api_key_id, &window.as_secs_f64()],
        )
        .await?;
    let resets_in: i64 = row.get(1);
    Ok(WindowCount {
        count: row.get(0),
        resets_in: resets_in.max(1) as u64,
    })
}

/// Where a key stands against its generation quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaUse {
    pub used: i64,
    /// Whole seconds until the oldest counted generation leaves the window.
    pub frees_in: u64,
}

/// Generations `api_key_id` created within `window`. Locks the key's row first, so concurrent
/// requests of one key are counted one after another and the quota cannot be overshot.
pub async fn quota_use(
    client: &impl GenericClient,
    api_key_id: Uuid,
    window: Duration,
) -> Result<QuotaUse, tokio_postgres::Error> {
    client
        .execute(
            "SELECT 1 FROM api_keys WHERE id = $1 FOR UPDATE",
            &[&api_key_id],
        )
        .await?;
    let row = client
        .query_one(
            "SELECT count(*)::bigint,
                    coalesce(ceil(extract(epoch FROM min(created_at) + make_interval(secs => $2) - now())), 0)::bigint
             FROM generation_quota_usage
             WHERE api_key_id = $1 AND created_at > now() - make_interval(secs => $2)",
            &[&api_key_id, &window.as_secs_f64()],
        )
        .await?;
    let frees_in: i64 = row.get(1);
    Ok(QuotaUse {
        used: row.get(0),
        frees_in: frees_in.max(1) as u64,
    })
}

pub async fn record_generation(
    client: &impl GenericClient,
    api_key_id: Uuid,
    generation_id: Uuid,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO generation_quota_usage (api_key_id, generation_id) VALUES ($1, $2)",
            &[&api_key_id, &generation_id],
        )
        .await?;
    Ok(())
}
