//! What a generation spent on a language model: tokens, requests and repair rounds.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// Tokens and requests one generation spent, recorded with it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    /// Chat requests sent, retries included.
    pub requests: u32,
    /// Rounds in which validation problems were sent back for repair.
    pub repair_rounds: u32,
}

impl Usage {
    /// What two spends add up to; `None` when neither spent anything on a model.
    pub fn sum(a: Option<Usage>, b: Option<Usage>) -> Option<Usage> {
        match (a, b) {
            (Some(a), Some(b)) => Some(Usage {
                prompt_tokens: a.prompt_tokens + b.prompt_tokens,
                completion_tokens: a.completion_tokens + b.completion_tokens,
                total_tokens: a.total_tokens + b.total_tokens,
                requests: a.requests + b.requests,
                repair_rounds: a.repair_rounds + b.repair_rounds,
            }),
            (a, b) => a.or(b),
        }
    }
}

/// What one generation has spent so far, shared by its concurrent conversations.
///
/// Every answered request is entered as it arrives, so the total is right even when the
/// generation fails, or stops its other conversations early: tokens spent on a failed
/// generation are still spent.
#[derive(Debug, Default)]
pub struct Ledger(Mutex<Usage>);

impl Ledger {
    pub(crate) fn enter(&self, entry: impl FnOnce(&mut Usage)) {
        // A poisoned lock only means another conversation panicked mid-entry; the counts stay usable.
        let mut usage = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        entry(&mut usage);
    }

    pub fn total(&self) -> Usage {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}
