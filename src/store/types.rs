//! The store's own vocabulary: what it persists of the poller (per-outlet fetch state, host
//! blocks, seen items) and of full text (cached pages). Plain data with no behaviour, so the
//! store depends on nothing above it; `poll` imports these types, never the reverse.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// Per-outlet fetch state: what a store persists and restores between runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutletState {
    /// `ETag` of the last successful response (for files: mtime and size).
    pub etag: Option<String>,
    /// `Last-Modified` of the last successful response.
    pub last_modified: Option<String>,
    /// Failures since the last success; drives the backoff.
    pub failures: u32,
    /// Publisher's hint (RSS `<ttl>` or `Cache-Control: max-age`), seconds; a floor on the interval.
    pub hint_secs: Option<u64>,
    /// Next poll due, Unix seconds.
    pub next_due: Option<i64>,
    /// Last poll, Unix seconds.
    pub last_poll: Option<i64>,
    /// Last outcome shown to the user: an HTTP status, "unchanged" or the error.
    pub last_status: Option<String>,
    pub last_error: Option<String>,
    /// Polls so far.
    pub polls: u64,
}

/// Per-host state: a host that answered 429/503 with `Retry-After` is left alone until then.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostState {
    /// Unix seconds before which no outlet on the host is polled.
    pub blocked_until: Option<i64>,
}

/// A page's main text as the cache keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedPage {
    /// The item's link (the cache key).
    pub url: String,
    /// The URL after redirects.
    pub final_url: String,
    /// Unix seconds of the fetch.
    pub fetched_at: i64,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// The extracted main text as simple HTML (paragraphs kept), not yet sanitised.
    pub html: String,
}

/// One item the poller has seen, per outlet and item id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenItem {
    /// xxh3 of the body: a changed body is processed again, an edited title alone is not.
    pub content: u64,
    /// Unix seconds; stands in for `published` when the feed gives no date.
    pub first_seen: i64,
    /// Unix seconds of the last poll that listed the item; old entries are forgotten.
    pub last_seen: i64,
}

/// The "seen items" set: outlet name to item id to [`SeenItem`]. A store persists it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeenItems {
    pub outlets: BTreeMap<String, HashMap<String, SeenItem>>,
}

impl SeenItems {
    pub fn get(&self, outlet: &str, id: &str) -> Option<&SeenItem> {
        self.outlets.get(outlet).and_then(|m| m.get(id))
    }

    pub fn len(&self) -> usize {
        self.outlets.values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets items no poll has listed since `before` (Unix seconds).
    pub fn expire(&mut self, before: i64) -> usize {
        let mut dropped = 0;
        for items in self.outlets.values_mut() {
            let n = items.len();
            items.retain(|_, s| s.last_seen >= before);
            dropped += n - items.len();
        }
        dropped
    }
}

/// Everything the poller knows between runs; a store saves and restores it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PollState {
    pub outlets: BTreeMap<String, OutletState>,
    pub hosts: BTreeMap<String, HostState>,
    pub seen: SeenItems,
}
