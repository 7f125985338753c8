//! The store's own vocabulary: what it persists of the poller (per-outlet fetch state, host
//! blocks, seen items) and of full text (cached pages). Plain data with no behaviour, so the
//! store depends on nothing above it; `poll` imports these types, never the reverse.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::ArticleMeta;

/// An outlet, by its configured name (`[[outlet]] name`, unique in a config).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OutletId(pub String);

impl OutletId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OutletId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for OutletId {
    fn from(name: &str) -> Self {
        OutletId(name.to_string())
    }
}

impl From<String> for OutletId {
    fn from(name: String) -> Self {
        OutletId(name)
    }
}

/// The identity of an item: its outlet (`None` for JSON Lines input without one) and the
/// outlet's id for it. A feed repeating an id means the same item, possibly edited.
///
/// The engine knows an article by one string ([`ItemKey::engine_id`]); that string maps back
/// to the key without knowing the outlet names ([`ItemKey::from_engine_id`]), so outlets
/// "Reuters" and "Reuters:World" never share ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ItemKey {
    pub outlet: Option<OutletId>,
    pub id: String,
}

impl ItemKey {
    pub fn new(outlet: &str, id: &str) -> Self {
        ItemKey {
            outlet: Some(OutletId::from(outlet)),
            id: id.to_string(),
        }
    }

    /// The key of an article's metadata (outlet and the caller's id as they are).
    pub fn of(meta: &ArticleMeta) -> Self {
        ItemKey {
            outlet: meta.outlet.clone().map(OutletId),
            id: meta.id.clone(),
        }
    }

    /// The daemon's engine id: `<outlet>:<id>`, a `:` or backslash in the outlet's name escaped with a backslash
    /// (names without them, nearly all, read as before); the bare id without an outlet.
    pub fn engine_id(&self) -> String {
        match &self.outlet {
            None => self.id.clone(),
            Some(outlet) => {
                let name = outlet.as_str();
                let mut out = String::with_capacity(name.len() + self.id.len() + 1);
                for c in name.chars() {
                    if c == ':' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push(':');
                out.push_str(&self.id);
                out
            }
        }
    }

    /// The key an [`ItemKey::engine_id`] with an outlet was made from; `None` for a string
    /// without the outlet separator.
    pub fn from_engine_id(engine_id: &str) -> Option<ItemKey> {
        let mut outlet = String::new();
        let mut chars = engine_id.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => outlet.push(chars.next()?.1),
                ':' => {
                    return Some(ItemKey {
                        outlet: Some(OutletId(outlet)),
                        id: engine_id[i + 1..].to_string(),
                    })
                }
                c => outlet.push(c),
            }
        }
        None
    }

    /// The outlet's name, if any.
    pub fn outlet_name(&self) -> Option<&str> {
        self.outlet.as_ref().map(OutletId::as_str)
    }
}

/// An HTTP status code, kept with its decimal text so a [`PollStatus`] can lend it as `&str`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HttpCode {
    code: u16,
    digits: [u8; 5],
    len: u8,
}

impl HttpCode {
    pub fn new(code: u16) -> HttpCode {
        let mut digits = [0u8; 5];
        let mut len = 0;
        let mut n = code;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        digits[..len].reverse();
        HttpCode {
            code,
            digits,
            len: len as u8,
        }
    }

    pub fn get(self) -> u16 {
        self.code
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever written.
        std::str::from_utf8(&self.digits[..self.len as usize]).unwrap_or("")
    }
}

impl fmt::Debug for HttpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)
    }
}

/// How one poll of an outlet ended. Shown (and stored) as the HTTP status, or for what has
/// none: `file` (a local file read), `unchanged` (a local file not modified), `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollStatus {
    /// The document was fetched: its HTTP status, `None` for a local file.
    Fresh(Option<HttpCode>),
    /// Not modified since the last poll: 304, `None` for a local file.
    NotModified(Option<HttpCode>),
    /// The fetch failed: the HTTP status when there was a response.
    Failed(Option<HttpCode>),
}

impl PollStatus {
    /// The status of a fetch: `fresh`/`not_modified`/`failed` with an optional HTTP code.
    pub fn fresh(http: Option<u16>) -> PollStatus {
        PollStatus::Fresh(http.map(HttpCode::new))
    }

    pub fn not_modified(http: Option<u16>) -> PollStatus {
        PollStatus::NotModified(http.map(HttpCode::new))
    }

    pub fn failed(http: Option<u16>) -> PollStatus {
        PollStatus::Failed(http.map(HttpCode::new))
    }

    pub fn as_str(&self) -> &str {
        match self {
            PollStatus::Fresh(None) => "file",
            PollStatus::NotModified(None) => "unchanged",
            PollStatus::Failed(None) => "error",
            PollStatus::Fresh(Some(code))
            | PollStatus::NotModified(Some(code))
            | PollStatus::Failed(Some(code)) => code.as_str(),
        }
    }

    /// The HTTP status, if the poll got a response.
    pub fn http(&self) -> Option<u16> {
        match self {
            PollStatus::Fresh(c) | PollStatus::NotModified(c) | PollStatus::Failed(c) => {
                c.map(HttpCode::get)
            }
        }
    }

    pub fn is_failure(&self) -> bool {
        matches!(self, PollStatus::Failed(_))
    }

    pub fn is_not_modified(&self) -> bool {
        matches!(self, PollStatus::NotModified(_))
    }

    /// Reads a stored status back from its text. The text is what is kept, so a failure
    /// with a 2xx status (a body over the size cap, say) reads back as `Fresh`: whether a
    /// poll failed is told by its error (`OutletState::last_error`), as it always was.
    pub fn from_stored(text: &str) -> PollStatus {
        match (text, text.parse::<u16>().ok()) {
            ("file", _) => PollStatus::Fresh(None),
            ("unchanged", _) => PollStatus::NotModified(None),
            (_, Some(304)) => PollStatus::not_modified(Some(304)),
            (_, Some(code)) if code < 400 => PollStatus::fresh(Some(code)),
            (_, code) => PollStatus::failed(code),
        }
    }
}

impl fmt::Display for PollStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for PollStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PollStatus {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(PollStatus::from_stored(&text))
    }
}

impl PartialEq<&str> for PollStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for PollStatus {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

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
    /// How the last poll ended (stored as its text: an HTTP status, `file`, `unchanged`, `error`).
    pub last_status: Option<PollStatus>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlets_whose_names_prefix_each_other_keep_their_items_apart() {
        let plain = ItemKey::new("Reuters", "World:1");
        let world = ItemKey::new("Reuters:World", "1");
        assert_eq!(
            plain.engine_id(),
            "Reuters:World:1",
            "plain names read as before"
        );
        assert_ne!(plain.engine_id(), world.engine_id());
        for key in [&plain, &world, &ItemKey::new("a\\b:", ":x\\")] {
            assert_eq!(
                ItemKey::from_engine_id(&key.engine_id()).as_ref(),
                Some(key)
            );
        }
        assert_eq!(ItemKey::from_engine_id("no-outlet"), None);
        let json = serde_json::to_string(&world).expect("serialise");
        assert_eq!(json, r#"{"outlet":"Reuters:World","id":"1"}"#);
        assert_eq!(
            serde_json::from_str::<ItemKey>(&json).expect("parse"),
            world
        );
    }

    #[test]
    fn poll_statuses_read_back_as_they_were_written() {
        for status in [
            PollStatus::fresh(Some(200)),
            PollStatus::fresh(None),
            PollStatus::not_modified(Some(304)),
            PollStatus::not_modified(None),
            PollStatus::failed(Some(503)),
            PollStatus::failed(Some(65535)),
            PollStatus::failed(None),
        ] {
            assert_eq!(PollStatus::from_stored(status.as_str()), status);
        }
        let capped = PollStatus::failed(Some(200));
        assert_eq!(PollStatus::from_stored(capped.as_str()).as_str(), "200");
        assert_eq!(PollStatus::fresh(Some(200)), "200");
        assert_eq!(PollStatus::NotModified(None).to_string(), "unchanged");
    }
}
