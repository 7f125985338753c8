//! The snapshot the HTTP service reads. The daemon (or `serve`) builds it and replaces parts of
//! it after each cycle; handlers only read, so requests never wait on polling or the store.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use axum::body::Bytes;
use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;
use xxhash_rust::xxh3::xxh3_128;

use crate::config::FeedFormat;
use crate::emit::RenderedFeed;
use crate::model::{StoryId, StoryView};
use crate::wire::StoryLine;

use super::metrics::{Metrics, PollResult};

/// The state shared between the updater and the handlers.
pub type SharedState = Arc<RwLock<ServiceState>>;

/// Read access that survives a panicked writer: the snapshot is replaced whole, so it is never
/// half-updated in a way that matters to readers.
pub fn read(state: &SharedState) -> RwLockReadGuard<'_, ServiceState> {
    state.read().unwrap_or_else(|e| e.into_inner())
}

/// Write access; see [`read`].
pub fn write(state: &SharedState) -> RwLockWriteGuard<'_, ServiceState> {
    state.write().unwrap_or_else(|e| e.into_inner())
}

/// One rendered feed as served.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedBody {
    pub bytes: Bytes,
    /// The same bytes gzipped once at publication, so the hot path of feed readers (which
    /// nearly all accept gzip) does not compress the same feed on every request.
    pub gzip: Bytes,
    /// A weak validator derived from the bytes: the same feed has the same ETag across restarts.
    pub etag: String,
    /// When these bytes were first served (whole seconds, as HTTP dates carry).
    pub last_modified: DateTime<Utc>,
}

/// A story as the JSON API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoryRecord {
    pub view: StoryView,
    /// The `canonical` object of the JSON shape.
    pub canonical: Value,
    /// When the story last changed (a copy joined or the canonical changed); `since=` filters on it.
    pub updated: DateTime<Utc>,
}

impl StoryRecord {
    /// A record whose `canonical` object is the canonical article's metadata.
    pub fn from_view(view: StoryView, updated: DateTime<Utc>) -> Self {
        StoryRecord {
            canonical: serde_json::to_value(crate::wire::Meta::from(&view.canonical))
                .unwrap_or(Value::Null),
            view,
            updated,
        }
    }

    /// A record dated by its latest copy (`published`), or `fallback` when no copy has a date.
    pub fn latest(view: StoryView, fallback: DateTime<Utc>) -> Self {
        let updated = view
            .copies
            .iter()
            .filter_map(|c| c.published)
            .max()
            .map(|p| p.with_timezone(&Utc))
            .unwrap_or(fallback);
        StoryRecord::from_view(view, updated)
    }

    /// The story as the API writes it (see [`crate::wire::StoryLine`]).
    pub fn wire(&self) -> StoryLine<'_, &Value> {
        StoryLine {
            story: self.view.story,
            update: false,
            canonical: &self.canonical,
            copies: crate::wire::Copy::all(&self.view),
        }
    }

    /// [`StoryRecord::wire`] as a JSON value.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.wire()).unwrap_or(Value::Null)
    }

    pub fn has_outlet(&self, outlet: &str) -> bool {
        self.view
            .copies
            .iter()
            .any(|c| c.outlet.as_deref() == Some(outlet))
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4 + 64),
        flate2::Compression::best(),
    );
    // Writing into a Vec cannot fail.
    let _ = std::io::Write::write_all(&mut enc, bytes);
    enc.finish().unwrap_or_default()
}

/// One outlet's row on the status page.
#[derive(Debug, Clone, PartialEq)]
pub struct OutletStatus {
    pub name: String,
    pub last_poll: Option<DateTime<Utc>>,
    /// `None` before the first poll.
    pub result: Option<PollResult>,
    /// The last poll's error, when it failed.
    pub error: Option<String>,
    /// Items in the last successful fetch.
    pub items: u64,
    pub next_poll: Option<DateTime<Utc>>,
    /// What was repaired to read the last document fetched (see
    /// [`crate::poll::ParsedFeed::repairs`]).
    pub repairs: Vec<String>,
    /// Article pages for full text since the daemon started.
    pub full_text: crate::poll::FullTextCounts,
}

impl OutletStatus {
    /// An outlet not polled yet.
    pub fn new(name: impl Into<String>) -> Self {
        OutletStatus {
            name: name.into(),
            last_poll: None,
            result: None,
            error: None,
            items: 0,
            next_poll: None,
            repairs: Vec::new(),
            full_text: crate::poll::FullTextCounts::default(),
        }
    }
}

/// What `/healthz` reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Health {
    pub store_reachable: bool,
    /// When the last poll-dedup-emit cycle finished.
    pub last_cycle: Option<DateTime<Utc>>,
    /// Why the store is not reachable, when it is not.
    pub store_error: Option<String>,
}

/// Everything the service shows.
#[derive(Debug, Clone, Default)]
pub struct ServiceState {
    feeds: HashMap<(String, FeedFormat), FeedBody>,
    /// Newest first.
    stories: Vec<StoryRecord>,
    by_id: HashMap<StoryId, usize>,
    outlets: BTreeMap<String, OutletStatus>,
    pub health: Health,
    pub metrics: Metrics,
    /// Where `/stories/{id}` reads texts from; `None`: the page says there is no store.
    story_pages: Option<super::story_page::StoryPages>,
}

impl ServiceState {
    pub fn new() -> Self {
        ServiceState::default()
    }

    /// A state with a row for every enabled `[[outlet]]`, so the status page lists outlets
    /// before their first poll.
    pub fn for_config(config: &crate::config::Config) -> Self {
        let mut state = ServiceState::new();
        for outlet in config.outlets.iter().filter(|o| o.enabled) {
            state.set_outlet(OutletStatus::new(outlet.name.clone()));
        }
        state
    }

    pub fn shared(self) -> SharedState {
        Arc::new(RwLock::new(self))
    }

    /// Publishes a rendered feed. Unchanged bytes keep their ETag and Last-Modified, so
    /// conditional requests keep answering 304. Returns true when the content changed.
    pub fn set_feed(
        &mut self,
        name: &str,
        format: FeedFormat,
        bytes: Vec<u8>,
        now: DateTime<Utc>,
    ) -> bool {
        // Weak, because the compression layer may serve the same content gzipped: the two
        // encodings are not byte-identical, which a strong validator would promise.
        let etag = format!("W/\"{:032x}\"", xxh3_128(&bytes));
        let key = (name.to_string(), format);
        if self.feeds.get(&key).is_some_and(|f| f.etag == etag) {
            return false;
        }
        let gzip = gzip(&bytes);
        self.feeds.insert(
            key,
            FeedBody {
                gzip: Bytes::from(gzip),
                bytes: Bytes::from(bytes),
                etag,
                last_modified: now.trunc_subsecs(0),
            },
        );
        true
    }

    /// Publishes every format of each rendered feed (see [`crate::emit::publish`]); returns how
    /// many bodies changed.
    pub fn set_feeds(&mut self, feeds: Vec<RenderedFeed>, now: DateTime<Utc>) -> usize {
        let mut changed = 0;
        for feed in feeds {
            for (format, bytes) in feed.formats {
                changed += usize::from(self.set_feed(&feed.name, format, bytes, now));
            }
        }
        changed
    }

    pub fn feed(&self, name: &str, format: FeedFormat) -> Option<&FeedBody> {
        self.feeds.get(&(name.to_string(), format))
    }

    /// Names of the feeds published, sorted.
    pub fn feed_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.feeds.keys().map(|(n, _)| n.clone()).collect();
        names.sort();
        names.dedup();
        names
    }

    /// Replaces the story list (any order: it is sorted newest first, then by id).
    pub fn set_stories(&mut self, mut stories: Vec<StoryRecord>) {
        stories.sort_by(|a, b| {
            b.updated
                .cmp(&a.updated)
                .then(b.view.story.cmp(&a.view.story))
        });
        self.by_id = stories
            .iter()
            .enumerate()
            .map(|(i, s)| (s.view.story, i))
            .collect();
        self.stories = stories;
    }

    /// Newest first.
    pub fn stories(&self) -> &[StoryRecord] {
        &self.stories
    }

    pub fn story(&self, id: StoryId) -> Option<&StoryRecord> {
        self.by_id.get(&id).map(|&i| &self.stories[i])
    }

    /// Lets `/stories/{id}` read the store (`run` and `serve` set this).
    pub fn set_story_pages(&mut self, pages: super::story_page::StoryPages) {
        self.story_pages = Some(pages);
    }

    pub fn story_pages(&self) -> Option<&super::story_page::StoryPages> {
        self.story_pages.as_ref()
    }

    /// Adds or replaces an outlet's row.
    pub fn set_outlet(&mut self, status: OutletStatus) {
        self.outlets.insert(status.name.clone(), status);
    }

    /// Records one poll in the outlet's row and in the metrics together.
    pub fn record_poll(
        &mut self,
        outlet: &str,
        result: PollResult,
        latency: std::time::Duration,
        at: DateTime<Utc>,
        items: u64,
        error: Option<String>,
    ) {
        self.metrics.record_poll(outlet, result, latency);
        let row = self
            .outlets
            .entry(outlet.to_string())
            .or_insert_with(|| OutletStatus::new(outlet));
        row.last_poll = Some(at);
        row.result = Some(result);
        row.error = error;
        if result == PollResult::Ok {
            row.items = items;
        }
    }

    /// Sets what was repaired to read the outlet's last document.
    pub fn set_repairs(&mut self, outlet: &str, repairs: Vec<String>) {
        self.outlets
            .entry(outlet.to_string())
            .or_insert_with(|| OutletStatus::new(outlet))
            .repairs = repairs;
    }

    /// Adds one poll's full-text counts to the outlet's row and the metrics.
    pub fn record_full_text(&mut self, outlet: &str, counts: &crate::poll::FullTextCounts) {
        if counts.is_zero() {
            return;
        }
        self.metrics.add_full_text(outlet, counts);
        self.outlets
            .entry(outlet.to_string())
            .or_insert_with(|| OutletStatus::new(outlet))
            .full_text
            .add(counts);
    }

    /// Changes an outlet's row (added when missing).
    pub fn update_outlet(&mut self, outlet: &str, change: impl FnOnce(&mut OutletStatus)) {
        change(
            self.outlets
                .entry(outlet.to_string())
                .or_insert_with(|| OutletStatus::new(outlet)),
        );
    }

    /// Sets when an outlet is next polled (the poller decides after each poll).
    pub fn set_next_poll(&mut self, outlet: &str, at: DateTime<Utc>) {
        self.outlets
            .entry(outlet.to_string())
            .or_insert_with(|| OutletStatus::new(outlet))
            .next_poll = Some(at);
    }

    /// Sorted by name.
    pub fn outlets(&self) -> impl Iterator<Item = &OutletStatus> {
        self.outlets.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn unchanged_feed_keeps_its_validators() {
        let mut s = ServiceState::new();
        let t0 = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let t1 = Utc.with_ymd_and_hms(2024, 1, 1, 0, 5, 0).unwrap();
        assert!(s.set_feed("world", FeedFormat::Atom, b"<feed/>".to_vec(), t0));
        let etag = s.feed("world", FeedFormat::Atom).unwrap().etag.clone();
        assert!(!s.set_feed("world", FeedFormat::Atom, b"<feed/>".to_vec(), t1));
        let f = s.feed("world", FeedFormat::Atom).unwrap();
        assert_eq!((f.etag.as_str(), f.last_modified), (etag.as_str(), t0));
        assert!(s.set_feed("world", FeedFormat::Atom, b"<feed></feed>".to_vec(), t1));
        let f = s.feed("world", FeedFormat::Atom).unwrap();
        assert_ne!(f.etag, etag);
        assert_eq!(f.last_modified, t1);
    }

    #[test]
    fn the_status_page_shows_repairs_unless_the_poll_failed() {
        let mut s = ServiceState::new();
        let t0 = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let ms = std::time::Duration::from_millis(5);
        s.record_poll("Heise", PollResult::Ok, ms, t0, 60, None);
        s.set_repairs("Heise", vec!["RSS 0.90 read as RSS 1.0".to_string()]);
        s.record_poll(
            "Cut",
            PollResult::Error,
            ms,
            t0,
            0,
            Some("no items: x".to_string()),
        );
        let page = super::super::status::render(&s);
        let row = |name: &str| {
            page.lines()
                .find(|l| l.contains(&format!("<td>{name}</td>")))
                .unwrap_or_default()
                .to_string()
        };
        assert!(
            row("Heise").contains("repaired: RSS 0.90 read as RSS 1.0"),
            "{page}"
        );
        assert!(
            row("Cut").contains("no items: x") && row("Cut").contains(">error<"),
            "{page}"
        );
    }
}
