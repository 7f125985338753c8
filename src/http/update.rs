//! Filling the service's [`ServiceState`](super::ServiceState) (and the `[[feed]]` files) from real data:
//! - [`Publisher`]: `syndedup run` calls it after every poll cycle with what the poller holds in
//!   memory (the engine's stories, the bodies, the cycle's poll reports);
//! - [`load_from_store`]: `syndedup serve` reads the same things from the store, read-only.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::config::Config;
use crate::emit::{self, ContentLookup};
use crate::model::{ArticleMeta, StoryView};
use crate::poll::{FullTextCounts, OutletReport, OutletState, Poller};
use crate::store::{OutletCounters, PollStatus, Store, StoredStory, StoryQuery};

use super::metrics::PollResult;
use super::state::{write, OutletStatus, SharedState, StoryRecord};
use super::MAX_LIMIT;

fn unix(secs: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
}

/// How a poll ended, for metrics and the status page, from the poller's status.
pub fn poll_result(status: PollStatus, error: Option<&str>) -> PollResult {
    PollResult::from_status(status, error)
}

/// What one cycle's publication did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Published {
    /// Feed bodies (one per feed and format) whose bytes changed.
    pub changed: usize,
    /// Feed files or directories that could not be written (each logged with its path).
    pub write_errors: usize,
}

/// Publishes the daemon's state after each cycle: writes every `[[feed]]` atomically and
/// replaces the feeds, stories, outlet rows, metrics and health of the HTTP state.
#[derive(Debug, Clone)]
pub struct Publisher {
    config: Config,
    base: PathBuf,
    state: SharedState,
}

impl Publisher {
    /// `base` is the config file's directory (where `feeds/` goes when a feed has no `dir`).
    pub fn new(config: Config, base: impl Into<PathBuf>, state: SharedState) -> Self {
        Publisher {
            config,
            base: base.into(),
            state,
        }
    }

    /// The publisher of `syndedup run` for the config at `config_path`, with a fresh state that
    /// lists every enabled outlet as not polled yet.
    pub fn for_run(config: &Config, config_path: &Path) -> Self {
        let state = super::ServiceState::for_config(config);
        let state = state.shared();
        // `run` keeps its stories in memory here; a store wired into it reports failures
        // through [`store_failed`].
        write(&state).health.store_reachable = true;
        Publisher::new(config.clone(), config_base(config_path), state)
    }

    pub fn state(&self) -> &SharedState {
        &self.state
    }

    /// One cycle: `reports` are the polls of the cycle that just ended.
    pub fn cycle(
        &self,
        poller: &Poller,
        reports: &[OutletReport],
        now: DateTime<Utc>,
    ) -> Published {
        let Some(engine) = poller.engine() else {
            return Published::default();
        };
        let started = std::time::Instant::now();
        let views = engine.stories();
        let (rendered, errors) =
            emit::publish(&self.config, &self.base, &views, poller.bodies(), now);
        for e in &errors {
            tracing::warn!(error = %e, "Feed file not written; the HTTP service still serves it.");
        }
        let records: Vec<StoryRecord> = views
            .into_iter()
            .map(|view| {
                let canonical = item_json(&view.canonical, poller.bodies());
                let view = api_view(view);
                let mut record = StoryRecord::latest(view, now);
                record.canonical = canonical;
                record
            })
            .collect();
        let story_count = records.len() as u64;
        let mut s = write(&self.state);
        let changed = s.set_feeds(rendered, now);
        s.set_stories(records);
        for r in reports {
            let st = poller.outlet_state(&r.outlet);
            let at = st.and_then(|st| st.last_poll).and_then(unix).unwrap_or(now);
            let result = poll_result(r.status, r.error.as_deref());
            s.record_poll(
                &r.outlet,
                result,
                r.elapsed,
                at,
                r.items as u64,
                r.error.clone(),
            );
            if result == PollResult::Ok {
                s.set_repairs(&r.outlet, r.repairs.clone());
            }
            if let Some(next) = st.and_then(|st| st.next_due).and_then(unix) {
                s.set_next_poll(&r.outlet, next);
            }
            s.record_full_text(&r.outlet, &r.full_text);
            s.metrics.add_items_ingested(r.new as u64);
            s.metrics.add_duplicates(r.duplicates as u64);
            if r.new > 0 {
                s.metrics.record_engine(r.new as u64, r.engine);
            }
        }
        s.metrics.set_stories(story_count);
        s.health.last_cycle = Some(now);
        drop(s);
        tracing::debug!(
            stories = story_count,
            feeds_changed = changed,
            ms = started.elapsed().as_millis() as u64,
            "Cycle published."
        );
        Published {
            changed,
            write_errors: errors.len(),
        }
    }
}

/// The canonical object of the stories API for the daemon: the item as the poller writes it to
/// `[output] jsonl` (id, outlet, url, title, published, body), ids without the outlet prefix.
fn item_json(meta: &ArticleMeta, bodies: &HashMap<String, String>) -> Value {
    let (outlet, id) = split_id(meta.outlet.as_deref(), &meta.id);
    let item = crate::wire::Item {
        id: &id,
        outlet: outlet.as_deref(),
        url: meta.url.as_deref(),
        title: meta.title.as_deref(),
        published: meta.published,
        body: bodies.get(&meta.id).map(String::as_str),
        full_text: None,
        full_text_url: None,
        dedup: None,
    };
    serde_json::to_value(item).unwrap_or(Value::Null)
}

/// Engine ids are item keys ([`crate::store::ItemKey::engine_id`]); the API shows the item id
/// as the feed gave it.
fn split_id(outlet: Option<&str>, id: &str) -> (Option<String>, String) {
    match crate::store::ItemKey::from_engine_id(id) {
        Some(key) if key.outlet_name() == outlet => (outlet.map(str::to_string), key.id),
        _ => (outlet.map(str::to_string), id.to_string()),
    }
}

fn api_view(mut view: StoryView) -> StoryView {
    let strip = |outlet: Option<&str>, id: &str| split_id(outlet, id).1.to_string();
    view.canonical.id = strip(view.canonical.outlet.as_deref(), &view.canonical.id);
    for c in &mut view.copies {
        c.id = strip(c.outlet.as_deref(), &c.id);
    }
    view
}

/// Bodies and first-seen times of stored items, keyed as the views built from the store are.
/// The canonical items' bodies are read up front; any other copy's body is read from its
/// payload when a feed asks for it (a feed whose outlets leave the canonical out).
struct StoreContent<'a> {
    bodies: HashMap<String, String>,
    payloads: HashMap<String, &'a str>,
    seen: HashMap<String, DateTime<Utc>>,
}

impl ContentLookup for StoreContent<'_> {
    fn body(&self, article_id: &str) -> Option<Cow<'_, str>> {
        if let Some(b) = self.bodies.get(article_id) {
            return Some(Cow::Borrowed(b.as_str()));
        }
        let payload = serde_json::from_str::<Value>(self.payloads.get(article_id)?).ok()?;
        crate::poll::fulltext::payload_display_body(&payload).map(Cow::Owned)
    }
    fn seen(&self, article_id: &str) -> Option<DateTime<Utc>> {
        self.seen.get(article_id).copied()
    }
}

/// Key of a stored item in feed views: outlet and id, as the daemon's engine ids.
fn feed_key(meta: &ArticleMeta) -> String {
    match &meta.outlet {
        Some(_) => crate::store::ItemKey::of(meta).engine_id(),
        // What the daemon's engine ids never are; kept as the key always was.
        None => format!(":{}", meta.id),
    }
}

/// What the store holds, as the HTTP service shows it.
#[derive(Debug, Clone)]
pub struct StoreSnapshot {
    pub feeds: Vec<emit::RenderedFeed>,
    pub stories: Vec<StoryRecord>,
    pub outlets: Vec<OutletStatus>,
    /// The latest poll of any outlet: the writer's last cycle, as near as the store tells.
    pub last_poll: Option<DateTime<Utc>>,
    /// Stories in the store (all of them, not only those loaded).
    pub story_total: Option<u64>,
    /// What `run` counted per outlet (polls, items, duplicates, fetch times, full text).
    pub counters: BTreeMap<String, OutletCounters>,
}

/// Stories loaded from the store: enough for the API's largest page and the largest feed.
pub fn store_story_limit(config: &Config) -> usize {
    config
        .feeds
        .iter()
        .map(|f| f.size.get())
        .max()
        .unwrap_or(0)
        .max(MAX_LIMIT)
}

/// Reads the newest stories and the outlets' poll state from `store` and renders every
/// `[[feed]]` from them (nothing is written to disk: the writer does that). A story's feed
/// entry takes its content from the stored canonical item; a feed whose scope leaves the
/// canonical out uses the best in-scope copy, its title, link and stored body.
pub fn load_from_store(
    config: &Config,
    store: &dyn Store,
    now: DateTime<Utc>,
) -> crate::error::Result<StoreSnapshot> {
    let stored = store.stories(&StoryQuery {
        since: None,
        limit: Some(store_story_limit(config)),
    })?;
    let rule = crate::dedup::MatchRule::from_config(&config.dedup);
    let mut content = StoreContent {
        bodies: HashMap::new(),
        payloads: HashMap::new(),
        seen: HashMap::new(),
    };
    let mut feed_views = Vec::with_capacity(stored.len());
    let mut stories = Vec::with_capacity(stored.len());
    for story in &stored {
        let (api, feed_view) = views(story, &rule);
        for (i, c) in story.copies.iter().enumerate() {
            let key = feed_key(&c.meta);
            if let Some(t) = unix(c.first_seen) {
                content.seen.insert(key.clone(), t);
            }
            if let Some(p) = c.payload.as_deref().filter(|_| i != story.canonical) {
                content.payloads.insert(key, p);
            }
        }
        let canonical = serde_json::from_str::<Value>(crate::wire::stored_canonical(story).get())
            .unwrap_or(Value::Null);
        if let Some(body) = crate::poll::fulltext::payload_display_body(&canonical) {
            content.bodies.insert(feed_view.canonical.id.clone(), body);
        }
        let fallback = unix(story.first_seen).unwrap_or(now);
        let mut record = StoryRecord::latest(api, fallback);
        record.canonical = canonical;
        stories.push(record);
        feed_views.push(feed_view);
    }
    let feeds = config
        .feeds
        .iter()
        .map(|feed| {
            let doc = emit::FeedBuilder::new(feed, config).build(&feed_views, &content, now);
            emit::RenderedFeed {
                name: feed.name.clone(),
                formats: feed.formats.iter().map(|&f| (f, doc.render(f))).collect(),
            }
        })
        .collect();
    let poll = store.poll_state()?;
    let counters = store.counters()?;
    let outlets: Vec<OutletStatus> = config
        .outlets
        .iter()
        .filter(|o| o.enabled)
        .map(|o| {
            let mut row = match poll.outlets.get(&o.name) {
                Some(st) => outlet_status(&o.name, st),
                None => OutletStatus::new(o.name.clone()),
            };
            if let Some(c) = counters.get(&o.name) {
                counted(&mut row, c);
            }
            row
        })
        .collect();
    let last_poll = outlets.iter().filter_map(|o| o.last_poll).max();
    Ok(StoreSnapshot {
        feeds,
        stories,
        outlets,
        last_poll,
        story_total: None,
        counters,
    })
}

/// The stored counters' part of an outlet's status row: the last fetch's item count and
/// repairs, and the full-text pages so far.
fn counted(row: &mut OutletStatus, c: &OutletCounters) {
    row.items = c.items;
    row.repairs = c.repairs.clone();
    row.full_text =
        FullTextCounts::from_labelled(c.full_text.iter().map(|(k, &n)| (k.as_str(), n)));
}

/// Starts the daemon's counters (metrics, and each outlet's item count, repairs and
/// full-text pages) from what the store kept, so `run` after a restart and `serve` show the
/// same numbers; each cycle then adds its polls.
pub fn seed_counters(state: &SharedState, counters: &BTreeMap<String, OutletCounters>) {
    let mut s = write(state);
    s.metrics.set_counters(counters);
    for (outlet, c) in counters {
        // Outlets no longer configured keep their metrics but get no status row.
        if s.outlets().any(|row| row.name == *outlet) {
            s.update_outlet(outlet, |row| counted(row, c));
        }
    }
}

fn outlet_status(name: &str, st: &OutletState) -> OutletStatus {
    let mut row = OutletStatus::new(name);
    row.last_poll = st.last_poll.and_then(unix);
    row.next_poll = st.next_due.and_then(unix);
    row.error = st.last_error.clone();
    row.result = st
        .last_status
        .map(|s| poll_result(s, st.last_error.as_deref()));
    row
}

/// The story as the API shows it (item ids as stored) and as feeds are built from it (ids
/// keyed by outlet, so two outlets' item "1" do not share a body).
fn views(story: &StoredStory, rule: &crate::dedup::MatchRule) -> (StoryView, StoryView) {
    let api = story.view(rule);
    let mut feed = api.clone();
    feed.canonical.id = feed_key(&feed.canonical);
    for (c, stored) in feed.copies.iter_mut().zip(&story.copies) {
        c.id = feed_key(&stored.meta);
    }
    (api, feed)
}

/// Replaces what the service shows with `snapshot` (feeds keep their validators when their
/// bytes did not change). Returns how many feed bodies changed.
pub fn apply_snapshot(state: &SharedState, snapshot: StoreSnapshot, now: DateTime<Utc>) -> usize {
    let mut s = write(state);
    let changed = s.set_feeds(snapshot.feeds, now);
    let count = snapshot
        .story_total
        .unwrap_or(snapshot.stories.len() as u64);
    s.set_stories(snapshot.stories);
    for row in snapshot.outlets {
        s.set_outlet(row);
    }
    s.metrics.set_counters(&snapshot.counters);
    s.metrics.set_stories(count);
    s.health.store_reachable = true;
    s.health.store_error = None;
    s.health.last_cycle = snapshot.last_poll;
    changed
}

/// Records that the store could not be read: `/healthz` answers 503 with the reason, and the
/// last good data stays served.
pub fn store_failed(state: &SharedState, error: &str) {
    let mut s = write(state);
    s.health.store_reachable = false;
    s.health.store_error = Some(error.to_string());
    s.metrics.add_store_error();
}

/// Where a config's relative outputs go: the directory of the config file.
pub fn config_base(config_path: &Path) -> PathBuf {
    match config_path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
