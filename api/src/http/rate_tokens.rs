//! Rate-limit tokens leased from the shared count in blocks, so a busy key's requests do not
//! each wait for a database round trip on the key's one counter row.
//!
//! The count of a key's requests in its window lives in Postgres (`rate_limits`), shared by
//! every replica. Counting every request there serialised a key's requests on that row: with
//! 32 clients on one key, the count and the quota were three quarters of the database's work
//! per accepted generation. A replica now counts a block of requests at once and hands the
//! tokens out locally until they run out or the window ends.
//!
//! What the limit rests on:
//! - **Never more than the limit.** A block is counted before any of its tokens is used, and a
//!   replica only uses the part of a block that fitted under the limit, so all replicas
//!   together admit at most `limit` requests per window. Tokens do not outlive the window they
//!   were counted in.
//! - **At most a little less.** Tokens a replica leased but did not use are lost at the end of
//!   the window, and meanwhile other replicas are refused them. A block is 1/64 of what was
//!   left of the window's limit (at most 64, at least 1), so blocks shrink as the limit nears
//!   and each replica strands at most a 1/64 of what it saw left. Below 128 requests per
//!   window every block is one request, and the limit is exact across replicas.
//! - **The headers.** `RateLimit-Remaining` is the shared count's remainder plus this
//!   replica's unused tokens: exact for one replica, and off by the other replicas' unused
//!   tokens for several.

use std::{sync::Arc, time::Duration};

use moka::sync::Cache;
use tokio::{sync::Mutex, time::Instant};
use uuid::Uuid;

/// Most tokens leased at once.
const MAX_BLOCK: i64 = 64;
/// A block is this fraction of what is left of the window's limit.
const SHARE: i64 = 64;
/// Keys whose leases are remembered; an idle key's lease goes first.
const CAPACITY: u64 = 100_000;

/// Where a request stands against its key's limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Admission {
    pub admitted: bool,
    /// Requests left in the window, as far as this replica knows.
    pub remaining: i64,
    /// Time until the window ends.
    pub resets_in: Duration,
}

/// One key's lease in this replica.
#[derive(Debug)]
struct Lease {
    /// Tokens counted in the shared count and not used yet.
    tokens: i64,
    /// The shared count after this replica's last block.
    counted: i64,
    /// When the window the tokens were counted in ends.
    ends: Instant,
}

/// The replica's leases, one per key.
#[derive(Clone)]
pub struct RateTokens {
    leases: Cache<Uuid, Arc<Mutex<Lease>>>,
}

impl RateTokens {
    /// `window` is the rate-limit window: an entry idle that long has no token left to use.
    pub fn new(window: Duration) -> Self {
        RateTokens {
            leases: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_idle(window)
                .build(),
        }
    }

    /// Takes one token for `key`, counting a new block through `count` when this replica has
    /// none left. `count(n)` adds `n` requests to the shared count and answers it afterwards.
    pub async fn take<F, Fut, E>(&self, key: Uuid, limit: i64, count: F) -> Result<Admission, E>
    where
        F: FnOnce(i64) -> Fut,
        Fut: std::future::Future<Output = Result<procmap_core::db::limits::WindowCount, E>>,
    {
        let lease = self.leases.get_with(key, || {
            Arc::new(Mutex::new(Lease {
                tokens: 0,
                counted: 0,
                ends: Instant::now(),
            }))
        });
        // Held across the count: the key's other requests wait for this block rather than
        // each counting one of their own.
        let mut lease = lease.lock().await;
        let now = Instant::now();
        if lease.ends <= now {
            // A new window: what was counted belongs to the old one.
            lease.tokens = 0;
            lease.counted = 0;
        }
        // Once the shared count has reached the limit, it cannot fall before the window ends:
        // a key past its limit is refused here, without a round trip per refused request.
        let spent = lease.counted >= limit;
        if lease.tokens == 0 && !spent {
            let block = block(limit, lease.counted);
            let counted = count(block).await?;
            let before = counted.count - block;
            lease.tokens = (limit - before).clamp(0, block);
            lease.counted = counted.count;
            lease.ends = now + counted.resets_in;
        }
        let admitted = lease.tokens > 0;
        if admitted {
            lease.tokens -= 1;
        }
        Ok(Admission {
            admitted,
            remaining: (limit - lease.counted).max(0) + lease.tokens,
            resets_in: lease.ends.saturating_duration_since(now),
        })
    }
}

/// How many requests to count at once, given the shared count this replica last saw.
fn block(limit: i64, counted: i64) -> i64 {
    ((limit - counted) / SHARE).clamp(1, MAX_BLOCK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use procmap_core::db::limits::WindowCount;
    use std::sync::atomic::{AtomicI64, Ordering};

    /// A shared count of a window that does not end during the test.
    struct Shared(AtomicI64);

    impl Shared {
        async fn count(&self, n: i64) -> Result<WindowCount, ()> {
            Ok(WindowCount {
                count: self.0.fetch_add(n, Ordering::SeqCst) + n,
                resets_in: Duration::from_secs(60),
            })
        }
    }

    #[test]
    fn blocks_shrink_as_the_limit_nears_and_are_single_below_128() {
        assert_eq!(block(1_000_000, 0), 64);
        assert_eq!(block(6_400, 6_000), 6);
        assert_eq!(block(6_400, 6_399), 1);
        assert_eq!(block(127, 0), 1);
        assert_eq!(block(10, 50), 1);
    }

    #[tokio::test]
    async fn replicas_leasing_blocks_never_admit_more_than_the_limit() {
        let shared = Shared(AtomicI64::new(0));
        let replicas = [
            RateTokens::new(Duration::from_secs(60)),
            RateTokens::new(Duration::from_secs(60)),
        ];
        let key = Uuid::new_v4();
        let limit = 1_000;
        let mut admitted = 0;
        for i in 0..1_200 {
            let replica = &replicas[i % 2];
            let admission = replica
                .take(key, limit, |n| shared.count(n))
                .await
                .expect("counted");
            admitted += i64::from(admission.admitted);
        }
        assert!(admitted <= limit, "{admitted} admitted");
        // Stranded: at most the last lease of each replica, each 1/64 of what was left.
        assert!(admitted >= limit - 2 * 2, "{admitted} admitted");
    }

    #[tokio::test]
    async fn a_key_past_its_limit_is_refused_without_counting_again() {
        let shared = Shared(AtomicI64::new(0));
        let tokens = RateTokens::new(Duration::from_secs(60));
        let key = Uuid::new_v4();
        for _ in 0..10 {
            let admission = tokens
                .take(key, 3, |n| shared.count(n))
                .await
                .expect("counted");
            assert_eq!(
                admission.remaining,
                (3 - shared.0.load(Ordering::SeqCst)).max(0)
            );
        }
        // Three admitted one at a time; once the count reached the limit, the other seven were
        // refused without counting.
        assert_eq!(shared.0.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn one_replica_counts_once_per_block_and_reports_the_exact_remainder() {
        let shared = Shared(AtomicI64::new(0));
        let tokens = RateTokens::new(Duration::from_secs(60));
        let key = Uuid::new_v4();
        let limit = 100_000;
        for used in 1..=100 {
            let admission = tokens
                .take(key, limit, |n| shared.count(n))
                .await
                .expect("counted");
            assert!(admission.admitted);
            assert_eq!(admission.remaining, limit - used);
        }
        // Two blocks of 64 counted for 100 requests.
        assert_eq!(shared.0.load(Ordering::SeqCst), 128);
    }
}
