//! The replica's cache of API keys, so a request is authenticated without a database round
//! trip.
//!
//! What a revocation rests on: `keys revoke` commits the revocation, then announces it on the
//! events exchange; every replica hears it and bumps its key epoch ([`EventHub::keys_changed`]),
//! which makes every cached key stale. A replica whose event listener was disconnected bumps the
//! epoch too, since it may have missed one. If the announcement itself could not be sent (the
//! broker was down when the key was revoked), the revoked key is refused once its entry reaches
//! its time to live (`PROCMAP_KEY_CACHE_TTL_SECS`). Expiry needs no announcement: it is checked
//! on every request.

use std::time::Duration;

use moka::sync::Cache;
use procmap_core::{broker::EventHub, db::api_keys::ApiKey};

/// Keys held at most; the least used go first. One entry is a few hundred bytes.
const CAPACITY: u64 = 10_000;

/// Keys by the SHA-256 of their secret, each with the key epoch it was read in.
#[derive(Clone)]
pub struct KeyCache {
    keys: Cache<Vec<u8>, (ApiKey, u64)>,
    events: EventHub,
}

impl KeyCache {
    /// `time_to_live` is the longest a revoked key may still be accepted, if its revocation
    /// was never heard.
    pub fn new(events: EventHub, time_to_live: Duration) -> Self {
        KeyCache {
            keys: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(time_to_live)
                .build(),
            events,
        }
    }

    /// The key with this secret hash, if read since the last revocation anywhere.
    pub fn get(&self, secret_hash: &[u8]) -> Option<ApiKey> {
        let (key, epoch) = self.keys.get(secret_hash)?;
        (epoch == self.events.key_epoch()).then_some(key)
    }

    /// Remembers a key read from the database. `epoch` is [`KeyCache::epoch`] taken before the
    /// read, so a revocation heard while reading leaves the entry already stale.
    pub fn insert(&self, secret_hash: Vec<u8>, key: ApiKey, epoch: u64) {
        self.keys.insert(secret_hash, (key, epoch));
    }

    pub fn epoch(&self) -> u64 {
        self.events.key_epoch()
    }
}
