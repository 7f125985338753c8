//! The feed poller: fetches every enabled outlet on its schedule, turns new items into
//! articles, runs them through the [`Engine`], and appends decisions to the output.
//!
//! - [`fetch`]: one polite fetch (validators, compression, caps, timeouts, redirects, `Retry-After`).
//! - [`feed`]: bytes to items through feed-rs, leniently: [`decode`] finds the encoding and
//!   [`repair`] fixes ill-formed XML and converts old formats first.
//! - [`identity`]: our own item ids.
//! - [`schedule`]: intervals, backoff, jitter; the per-outlet and per-host state a store persists.
//! - [`fulltext`]: which items need their linked page, the page's main text, the page cache.
//! - `pages`: fetching those pages for a poll's fresh items (cache, host gates, deadline).
//! - [`guard`]: the SSRF guard on article links (schemes, addresses, redirects, DNS).
//!
//! Full text: new items of an outlet with `full_text = "auto"` (short items) or `"always"`
//! get their linked page fetched (through the same host limits, `Retry-After` blocks and
//! caps as feeds, cached in the store) before they go to the engine, which matches on the
//! page's main text. A page that cannot be fetched or extracted leaves the item as the feed
//! gave it; it is counted per outlet and logged.
//!
//! Concurrency: fetches run as tokio tasks, at most `fetch.concurrency` at once and at most
//! `fetch.per_host_concurrency` per host. Parsing, the engine ([`crate::ingest::decide`]) and
//! the store's commit, outbox write and expiry run on the blocking pool; the engine and the
//! store are sequential state, so each moves into one blocking task at a time and back.
//!
//! What a poll's outcome does to the outlet's state is [`schedule::apply`]; every poll's
//! batch commits to the store (a [`crate::store::MemoryStore`] unless one was given).

pub mod decode;
pub mod feed;
pub mod fetch;
pub mod fulltext;
mod generic;
pub mod guard;
pub mod identity;
mod pages;
pub mod repair;
pub mod schedule;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::config::{Config, FullTextMode, OutletConfig, OutputKind};
use crate::dedup::{Engine, EngineConfig};
use crate::error::{Error, Result};
use crate::model::StoryId;
use schedule::PollOutcome;

use crate::ingest::{self, engine_id, Decided, FreshItem, Session};

use crate::store::{
    catch_up_engine, flush_outbox, Batch, HostState as StoredHost, Leases, MemoryStore, Store,
};

pub use crate::store::{
    CachedPage, HostState, ItemKey, OutletId, OutletState, PollState, PollStatus, SeenItem,
    SeenItems,
};
pub use feed::{parse_feed, parse_feed_with, repairs_note, FeedItem, ParseError, ParsedFeed};
pub use fetch::{FetchOutcome, Fetcher, Source, Validators};
pub use fulltext::FullTextCounts;
pub use guard::Guard;

/// What one poll of one outlet gave: a row of the `run --once` table.
#[derive(Debug, Clone, PartialEq)]
pub struct OutletReport {
    pub outlet: String,
    /// How the fetch ended: shown as the HTTP status ("200", "304"), "file" or "unchanged"
    /// for local files, or "error". A feed that was fetched but could not be read keeps the
    /// fetch's status; `error` says what went wrong.
    pub status: PollStatus,
    pub error: Option<String>,
    /// What was repaired to read the document (see [`ParsedFeed::repairs`]); empty when it
    /// was clean or was not read.
    pub repairs: Vec<String>,
    /// Items in the feed document.
    pub items: usize,
    /// Items processed: never seen before, or seen with a different body.
    pub new: usize,
    /// Processed items the engine filed into an existing story.
    pub duplicates: usize,
    /// Time of the fetch.
    pub elapsed: Duration,
    /// Time the engine spent on this poll's new items.
    pub engine: Duration,
    /// What full text did for this poll's new items.
    pub full_text: FullTextCounts,
}

impl OutletReport {
    /// A report of nothing yet: failed without an error, no items.
    fn blank(outlet: String, elapsed: Duration) -> OutletReport {
        OutletReport {
            outlet,
            status: PollStatus::Failed(None),
            error: None,
            repairs: Vec::new(),
            items: 0,
            new: 0,
            duplicates: 0,
            elapsed,
            engine: Duration::ZERO,
            full_text: FullTextCounts::default(),
        }
    }

    /// What this poll adds to the outlet's stored counters (see [`Store::counters`]).
    pub fn tally(&self) -> crate::store::PollTally {
        crate::store::PollTally {
            outlet: self.outlet.clone(),
            result: crate::store::PollResult::from_status(self.status, self.error.as_deref()),
            fetch: self.elapsed,
            items: self.items as u64,
            new: self.new as u64,
            duplicates: self.duplicates as u64,
            engine: self.engine,
            repairs: self.repairs.clone(),
            full_text: self.full_text.labelled().to_vec(),
        }
    }
}

/// Counters over a cycle (every poll between two moments when nothing was in flight).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CycleTotals {
    pub polls: u64,
    pub fresh: u64,
    pub unchanged: u64,
    pub failed: u64,
    pub items: u64,
    pub new: u64,
    pub duplicates: u64,
}

impl CycleTotals {
    fn add(&mut self, t: &CycleTotals) {
        self.polls += t.polls;
        self.fresh += t.fresh;
        self.unchanged += t.unchanged;
        self.failed += t.failed;
        self.items += t.items;
        self.new += t.new;
        self.duplicates += t.duplicates;
    }
}

struct HostGate {
    permits: Arc<Semaphore>,
    blocked_until: Mutex<Option<Instant>>,
}

impl HostGate {
    fn new(per_host: usize) -> Arc<HostGate> {
        Arc::new(HostGate {
            permits: Arc::new(Semaphore::new(per_host)),
            blocked_until: Mutex::new(None),
        })
    }

    fn blocked_until(&self) -> Option<Instant> {
        self.blocked_until.lock().map(|g| *g).unwrap_or(None)
    }

    fn block_until(&self, until: Instant) {
        if let Ok(mut g) = self.blocked_until.lock() {
            *g = Some(g.map_or(until, |b| b.max(until)));
        }
    }
}

struct OutletRt {
    cfg: OutletConfig,
    source: std::result::Result<Source, String>,
    host: String,
    due: Instant,
    in_flight: bool,
    state: OutletState,
    /// Repairs of the last document read, so a change is logged once (not every poll).
    repairs: Vec<String>,
    /// Which addresses this outlet's article links may reach.
    guard: Guard,
    /// Full-text counters since the poller started.
    full_text: FullTextCounts,
}

enum TaskResult {
    Done {
        outcome: FetchOutcome,
        elapsed: Duration,
        /// With outlet leases: the worker's slot for one claimed outlet, held until the poll
        /// is handled (so a worker claims no more outlets than it can process).
        slot: Option<tokio::sync::OwnedSemaphorePermit>,
    },
    /// The host asked us to wait (Retry-After) while this fetch was queued.
    Deferred,
    /// Another worker holds the outlet's lease (a store shared by several workers).
    Leased,
}

/// Where decision or story lines go (`[output] jsonl`), written from the store's outbox.
struct Output {
    path: PathBuf,
    kind: OutputKind,
}

/// Called at the end of every cycle with the poller and the reports of that cycle's polls
/// (see [`Poller::on_cycle`]).
pub type CycleHook = Box<dyn FnMut(&Poller, &[OutletReport]) + Send>;

/// The poller. Build it from a config, optionally restore a [`PollState`], then call
/// [`Poller::run_once`] or [`Poller::run_until`].
pub struct Poller {
    config: Config,
    fetcher: Fetcher,
    outlets: Vec<OutletRt>,
    hosts: HashMap<String, Arc<HostGate>>,
    global: Arc<Semaphore>,
    seen: SeenItems,
    engine: Option<Engine>,
    output: Option<Output>,
    totals: CycleTotals,
    cycle_started: Option<Instant>,
    /// Body of every article the engine holds, by engine id, for output feeds.
    bodies: HashMap<String, String>,
    cycle_hook: Option<CycleHook>,
    /// The store every processed batch commits to: a [`MemoryStore`] unless the caller gave
    /// one. `None` only while a blocking task holds it (or after such a task panicked).
    store: Option<Box<dyn Store + Send>>,
    /// The store session: stories emitted as new (this run or, with a store, earlier ones
    /// inside the window) and the batch of the poll being handled, committed at the end of
    /// [`Poller::handle`].
    session: Session,
    last_expire: Option<Instant>,
    /// Clients for article pages, one per distinct guard among the outlets.
    page_fetchers: HashMap<Guard, Fetcher>,
    /// Set when a blocking store task panicked and took the store with it.
    store_lost: bool,
    /// Outlet leases of a store shared by several workers, and the outlets this worker
    /// claimed (released when the run ends).
    leases: Option<Arc<Leases>>,
    claimed: Arc<Mutex<HashSet<String>>>,
    /// Claimed outlets fetched but not yet handled, at most `fetch.concurrency` (leases only).
    backlog: Arc<Semaphore>,
    /// When this poller was built (Unix seconds): a `run --once` does not take outlets that
    /// another `--once` run finished after this.
    run_started: i64,
}

/// How soon at most an outlet another worker holds is tried again (at its interval when
/// that is shorter), in case that worker died.
const LEASED_RETRY: Duration = Duration::from_secs(60);

/// How often the daemon deletes records past retention from the store.
const EXPIRE_EVERY: Duration = Duration::from_secs(3600);

impl Poller {
    /// Builds the poller and its engine from a validated config. Every enabled outlet is due now.
    pub fn new(config: Config) -> Result<Poller> {
        let engine = Engine::new(EngineConfig::from_config(&config))?;
        Poller::with_engine(config, engine)
    }

    /// Like [`Poller::new`] with an engine built (or restored) by the caller.
    pub fn with_engine(config: Config, engine: Engine) -> Result<Poller> {
        let fetcher = Fetcher::new(&config.fetch)?;
        let now = Instant::now();
        let mut hosts: HashMap<String, Arc<HostGate>> = HashMap::new();
        let per_host = config.fetch.per_host_concurrency.get();
        let outlets = config
            .outlets
            .iter()
            .map(|o| {
                let source = Source::parse(&o.url).map_err(|e| e.to_string());
                let host = match &source {
                    Ok(s) => s.host_key(),
                    Err(_) => String::new(),
                };
                let feed_url = match &source {
                    Ok(Source::Http(u)) => Some(u),
                    _ => None,
                };
                let guard = Guard::for_outlet(feed_url, config.fetch.allow_private);
                hosts
                    .entry(host.clone())
                    .or_insert_with(|| HostGate::new(per_host));
                OutletRt {
                    cfg: o.clone(),
                    source,
                    host,
                    due: now,
                    in_flight: false,
                    state: OutletState::default(),
                    repairs: Vec::new(),
                    guard,
                    full_text: FullTextCounts::default(),
                }
            })
            .collect::<Vec<_>>();
        let mut page_fetchers = HashMap::new();
        for o in outlets
            .iter()
            .filter(|o| o.cfg.full_text != FullTextMode::Off)
        {
            if let std::collections::hash_map::Entry::Vacant(slot) = page_fetchers.entry(o.guard) {
                slot.insert(Fetcher::for_pages(&config.fetch, o.guard)?);
            }
        }
        let output = config.output.jsonl.clone().map(|path| Output {
            path,
            kind: config.output.kind,
        });
        let backlog = Arc::new(Semaphore::new(config.fetch.concurrency.get()));
        Ok(Poller {
            global: Arc::new(Semaphore::new(config.fetch.concurrency.get())),
            config,
            fetcher,
            outlets,
            hosts,
            seen: SeenItems::default(),
            engine: Some(engine),
            output,
            totals: CycleTotals::default(),
            cycle_started: None,
            bodies: HashMap::new(),
            cycle_hook: None,
            store: Some(Box::new(MemoryStore::new())),
            session: Session::default(),
            last_expire: None,
            page_fetchers,
            store_lost: false,
            leases: None,
            claimed: Arc::new(Mutex::new(HashSet::new())),
            backlog,
            run_started: schedule::unix_now(),
        })
    }

    /// Builds the poller on a store: deletes records past retention, rebuilds the engine's
    /// index from the stored items inside the window, restores the fetch state, seen items and
    /// emitted stories, and writes output lines a crash left in the outbox. From then on every
    /// processed poll commits to the store in one transaction.
    pub fn with_store(config: Config, mut store: Box<dyn Store + Send>) -> Result<Poller> {
        let started = std::time::Instant::now();
        let mut engine = Engine::new(EngineConfig::from_config(&config))?;
        let now = schedule::unix_now();
        let (session, snapshot) = Session::resume(
            store.as_mut(),
            &mut engine,
            Some(now),
            ingest::EngineIds::Keyed,
            true,
        )?;
        let state = store.poll_state()?;
        // Output feeds need the bodies of restored articles; the store keeps each story's
        // canonical item (with its body) as payload.
        let mut bodies = HashMap::new();
        let canonical: HashSet<StoryId> = snapshot
            .items
            .iter()
            .filter(|i| i.canonical)
            .map(|i| i.story)
            .collect();
        for id in canonical {
            let Some(story) = store.story(id)? else {
                continue;
            };
            let (Some(meta), Some(payload)) = (story.canonical_meta(), &story.canonical_payload)
            else {
                continue;
            };
            let body = serde_json::from_str::<serde_json::Value>(payload)
                .ok()
                .and_then(|v| fulltext::payload_display_body(&v));
            if let (Some(body), Some(outlet)) = (body, &meta.outlet) {
                bodies.insert(engine_id(outlet, &meta.id), body);
            }
        }
        let mut poller = Poller::with_engine(config, engine)?;
        poller.bodies = bodies;
        poller.restore(state);
        poller.session = session;
        poller.leases = store.leases();
        poller.store = Some(store);
        poller.last_expire = Some(Instant::now());
        let written = poller.flush_output()?;
        info!(
            items = snapshot.items.len(),
            stories = poller.engine.as_ref().map(|e| e.story_count()).unwrap_or(0),
            seen = poller.seen.len(),
            output_lines_recovered = written,
            seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
            "state restored from the store"
        );
        Ok(poller)
    }

    /// Appends committed outbox lines to the output file (store mode only; at start-up).
    fn flush_output(&mut self) -> Result<usize> {
        match (self.store.as_mut(), self.output.as_ref()) {
            (Some(store), Some(out)) => flush_outbox(store.as_mut(), &out.path),
            _ => Ok(0),
        }
    }

    /// Commits the batch of the poll just handled, then writes its output lines.
    async fn commit_batch(&mut self) -> Result<()> {
        let batch = self.session.take_batch();
        let Some(mut store) = self.store.take() else {
            return Ok(());
        };
        let output = self.output.as_ref().map(|o| o.path.clone());
        // The commit (synchronous=FULL), the outbox append and its fsync block for
        // milliseconds: they run on the blocking pool, not on a runtime worker.
        let joined = tokio::task::spawn_blocking(move || {
            let result = store.commit(&batch).and_then(|()| match &output {
                Some(path) if !batch.lines.is_empty() => {
                    flush_outbox(store.as_mut(), path).map(|_| ())
                }
                _ => Ok(()),
            });
            (store, result)
        })
        .await;
        self.store_back(joined, "the store commit")?;
        self.catch_up_foreign()
    }

    /// Applies what other workers committed (a store shared by several workers) and the
    /// store handed over since the last time: the engine, emitted stories, seen items,
    /// outlet schedules, host blocks and bodies. Nothing with a store of one writer.
    fn catch_up_foreign(&mut self) -> Result<()> {
        let Some(store) = self.store.as_mut() else {
            return Ok(());
        };
        let foreign = store.take_foreign();
        if foreign.is_empty() {
            return Ok(());
        }
        if let Some(engine) = self.engine.as_mut() {
            let window = engine.config().dedup.window.as_secs().min(i64::MAX as u64) as i64;
            let start = schedule::unix_now().saturating_sub(window);
            catch_up_engine(
                store.as_ref(),
                engine,
                &mut self.session.emitted,
                &foreign,
                start,
                ItemKey::engine_id,
            )?;
        }
        self.apply_foreign(&foreign);
        if foreign.iter().any(|b| !b.lines.is_empty()) {
            self.flush_output()?;
        }
        Ok(())
    }

    /// The poller's side of other workers' batches: their seen items, the schedule of the
    /// outlets they polled, host blocks, and the bodies of their items for output feeds.
    fn apply_foreign(&mut self, foreign: &[Arc<Batch>]) {
        let now_unix = schedule::unix_now();
        let now = Instant::now();
        let later =
            |unix: i64| now + Duration::from_secs(unix.saturating_sub(now_unix).max(0) as u64);
        for b in foreign {
            for item in &b.items {
                let outlet = item.meta.outlet.clone().unwrap_or_default();
                let seen = self.seen.outlets.entry(outlet.clone()).or_default();
                let first = seen
                    .get(&item.meta.id)
                    .map_or(item.seen_at, |s| s.first_seen);
                seen.insert(
                    item.meta.id.clone(),
                    crate::store::SeenItem {
                        content: item.content_hash,
                        first_seen: first,
                        last_seen: item.seen_at,
                    },
                );
                let body = item
                    .payload
                    .as_deref()
                    .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
                    .and_then(|v| fulltext::payload_display_body(&v));
                if let Some(body) = body {
                    self.bodies.insert(engine_id(&outlet, &item.meta.id), body);
                }
            }
            for key in &b.seen {
                let (Some(outlet), id) = (key.outlet_name(), &key.id) else {
                    continue;
                };
                if let Some(s) = self
                    .seen
                    .outlets
                    .get_mut(outlet)
                    .and_then(|m| m.get_mut(id))
                {
                    s.last_seen = s.last_seen.max(b.seen_at);
                }
            }
            if let Some((name, state)) = &b.outlet {
                if let Some(o) = self.outlets.iter_mut().find(|o| &o.cfg.name == name) {
                    if !o.in_flight {
                        o.state = state.clone();
                        if let Some(due) = state.next_due {
                            o.due = later(due);
                        }
                    }
                }
            }
            for (host, h) in &b.hosts {
                if let (Some(gate), Some(until)) = (self.hosts.get(host), h.blocked_until) {
                    if until > now_unix {
                        gate.block_until(later(until));
                    }
                }
            }
        }
    }

    /// Releases the outlet leases this worker claimed (the run is over).
    async fn release_leases(&mut self, once: bool) {
        let Some(leases) = self.leases.clone() else {
            return;
        };
        let names: Vec<String> = self
            .claimed
            .lock()
            .map(|mut c| c.drain().collect())
            .unwrap_or_default();
        let _ = tokio::task::spawn_blocking(move || {
            for name in names {
                let done = once.then(schedule::unix_now);
                if let Err(e) = leases.release(&name, done) {
                    warn!(outlet = %name, error = %e, "An outlet lease could not be released; it expires by itself.");
                }
            }
        })
        .await;
    }

    /// Deletes store records past retention, on the blocking pool.
    async fn expire_store(&mut self, before: i64) -> Result<()> {
        let Some(mut store) = self.store.take() else {
            return Ok(());
        };
        let joined = tokio::task::spawn_blocking(move || {
            let result = store.expire(before).map(|_| ());
            (store, result)
        })
        .await;
        self.store_back(joined, "the store expiry")
    }

    /// Takes the store back from a blocking task. A task that panicked took the store with
    /// it: the poller then refuses to run on rather than go on without its store.
    fn store_back(
        &mut self,
        joined: std::result::Result<(Box<dyn Store + Send>, Result<()>), tokio::task::JoinError>,
        what: &'static str,
    ) -> Result<()> {
        match joined {
            Ok((store, result)) => {
                self.store = Some(store);
                result
            }
            Err(source) => {
                self.store_lost = true;
                Err(Error::Task { what, source })
            }
        }
    }

    /// Outlets that are enabled in the config.
    pub fn enabled_outlets(&self) -> usize {
        self.outlets.iter().filter(|o| o.cfg.enabled).count()
    }

    /// The engine (stories so far). `None` only while a blocking task holds it.
    pub fn engine(&self) -> Option<&Engine> {
        self.engine.as_ref()
    }

    /// The body (HTML or text, as the feed gave it) of every article the engine holds, keyed
    /// by engine id (`<outlet>:<item id>`, as in [`Engine::stories`]); output feeds take their
    /// content from it. Bodies leave with their articles when the engine expires them.
    pub fn bodies(&self) -> &HashMap<String, String> {
        &self.bodies
    }

    /// One outlet's full-text counters since the poller started, by name.
    pub fn full_text_counts(&self, outlet: &str) -> Option<FullTextCounts> {
        self.outlets
            .iter()
            .find(|o| o.cfg.name == outlet)
            .map(|o| o.full_text)
    }

    /// One outlet's fetch state (last poll, status, error, next due time), by name.
    pub fn outlet_state(&self, outlet: &str) -> Option<&OutletState> {
        self.outlets
            .iter()
            .find(|o| o.cfg.name == outlet)
            .map(|o| &o.state)
    }

    /// Runs `hook` at the end of every cycle (after expiry and the cycle log line), with the
    /// reports of the polls in that cycle; `run` publishes feeds and the HTTP state from it.
    /// It runs on the poller's task, so it should be quick.
    pub fn on_cycle(&mut self, hook: impl FnMut(&Poller, &[OutletReport]) + Send + 'static) {
        self.cycle_hook = Some(Box::new(hook));
    }

    /// A snapshot of the fetch state and the seen items, for a store.
    pub fn state(&self) -> PollState {
        let now_unix = schedule::unix_now();
        let now = Instant::now();
        PollState {
            outlets: self
                .outlets
                .iter()
                .map(|o| (o.cfg.name.clone(), o.state.clone()))
                .collect(),
            hosts: self
                .hosts
                .iter()
                .filter_map(|(h, g)| {
                    let until = g.blocked_until()?.checked_duration_since(now)?;
                    Some((
                        h.clone(),
                        HostState {
                            blocked_until: Some(now_unix + until.as_secs() as i64),
                        },
                    ))
                })
                .collect(),
            seen: self.seen.clone(),
        }
    }

    /// Restores what [`Poller::state`] saved: validators, backoff, next due times, host blocks,
    /// seen items. Outlets no longer in the config are ignored.
    pub fn restore(&mut self, state: PollState) {
        let now_unix = schedule::unix_now();
        let now = Instant::now();
        let later =
            |unix: i64| now + Duration::from_secs(unix.saturating_sub(now_unix).max(0) as u64);
        for o in &mut self.outlets {
            if let Some(s) = state.outlets.get(&o.cfg.name) {
                o.state = s.clone();
                if let Some(due) = s.next_due {
                    o.due = later(due);
                }
            }
        }
        for (host, h) in &state.hosts {
            if let (Some(gate), Some(until)) = (self.hosts.get(host), h.blocked_until) {
                if until > now_unix {
                    gate.block_until(later(until));
                }
            }
        }
        self.seen = state.seen;
    }

    /// When an outlet is next due (host blocks included); `None` for unknown or disabled ones.
    pub fn next_due(&self, outlet: &str) -> Option<Instant> {
        let o = self.outlets.iter().find(|o| o.cfg.name == outlet)?;
        if !o.cfg.enabled || o.source.is_err() {
            return None;
        }
        Some(self.effective_due(o))
    }

    /// Until when a host (as in [`Source::host_key`]) is blocked by `Retry-After`.
    pub fn host_blocked_until(&self, host: &str) -> Option<Instant> {
        self.hosts.get(host)?.blocked_until()
    }

    fn effective_due(&self, o: &OutletRt) -> Instant {
        let blocked = self.hosts.get(&o.host).and_then(|g| g.blocked_until());
        match blocked {
            Some(b) if b > o.due => b,
            _ => o.due,
        }
    }

    /// One poll of every enabled outlet, processed and written; returns one report per outlet
    /// in config order. Host blocks and due times are ignored: `--once` polls everything.
    pub async fn run_once(&mut self) -> Result<Vec<OutletReport>> {
        let mut reports = Vec::new();
        self.drive(true, std::future::pending::<()>(), &mut reports)
            .await?;
        let order: HashMap<&str, usize> = self
            .outlets
            .iter()
            .enumerate()
            .map(|(i, o)| (o.cfg.name.as_str(), i))
            .collect();
        reports.sort_by_key(|r| order.get(r.outlet.as_str()).copied().unwrap_or(usize::MAX));
        Ok(reports)
    }

    /// Polls each outlet on its schedule until `shutdown` completes, then finishes the polls in
    /// flight, flushes the output and returns the totals of the whole run.
    pub async fn run_until(&mut self, shutdown: impl Future<Output = ()>) -> Result<CycleTotals> {
        let mut reports = Vec::new();
        self.drive(false, shutdown, &mut reports).await
    }

    async fn drive(
        &mut self,
        once: bool,
        shutdown: impl Future<Output = ()>,
        reports: &mut Vec<OutletReport>,
    ) -> Result<CycleTotals> {
        if self.store_lost {
            return Err(Error::Store {
                path: crate::store::store_path(&self.config.store),
                message: "was lost when a store task failed earlier; start again".to_string(),
            });
        }
        tokio::pin!(shutdown);
        let mut tasks: JoinSet<(usize, TaskResult)> = JoinSet::new();
        let mut stopping = false;
        let mut run_totals = CycleTotals::default();
        // Reports before this index belong to earlier cycles.
        let mut cycle_from = reports.len();
        for o in &self.outlets {
            if let Err(e) = &o.source {
                warn!(outlet = %o.cfg.name, error = %e, "outlet has an unusable url; it is not polled");
            }
        }
        if once {
            for i in 0..self.outlets.len() {
                if self.outlets[i].cfg.enabled {
                    if let Some(report) = self.spawn(i, &mut tasks, true) {
                        reports.push(report);
                    }
                }
            }
        }
        loop {
            if !once && !stopping {
                self.spawn_due(&mut tasks);
            }
            if tasks.is_empty() {
                if self.cycle_started.is_some() {
                    let t = self.end_cycle().await?;
                    run_totals.add(&t);
                    if let Some(mut hook) = self.cycle_hook.take() {
                        hook(self, &reports[cycle_from..]);
                        self.cycle_hook = Some(hook);
                    }
                    if !once {
                        // The daemon keeps no reports across cycles.
                        reports.clear();
                    }
                    cycle_from = reports.len();
                }
                if once || stopping {
                    break;
                }
            }
            let next_due = if once || stopping {
                None
            } else {
                self.outlets
                    .iter()
                    .filter(|o| o.cfg.enabled && !o.in_flight && o.source.is_ok())
                    .map(|o| self.effective_due(o))
                    .min()
            };
            tokio::select! {
                biased;
                _ = &mut shutdown, if !stopping => {
                    stopping = true;
                    info!(in_flight = tasks.len(), "stopping: finishing the polls in flight");
                }
                joined = tasks.join_next(), if !tasks.is_empty() => {
                    match joined {
                        Some(Ok((i, result))) => {
                            if let Some(report) = self.handle(i, result).await? {
                                reports.push(report);
                            }
                        }
                        Some(Err(e)) => {
                            // A fetch task cannot panic on input (errors are values), so this
                            // is a bug; it must not take the daemon down.
                            warn!(error = %e, "a fetch task failed");
                        }
                        None => {}
                    }
                }
                _ = sleep_until_opt(next_due), if next_due.is_some() => {}
            }
        }
        if once || stopping {
            self.release_leases(once).await;
            if self.leases.is_some() {
                // A shared store: bring the output file up to what the others committed.
                self.flush_output()?;
            }
        }
        Ok(run_totals)
    }

    /// Starts a fetch for every enabled outlet that is due and not in flight.
    fn spawn_due(&mut self, tasks: &mut JoinSet<(usize, TaskResult)>) {
        let now = Instant::now();
        for i in 0..self.outlets.len() {
            let o = &self.outlets[i];
            if o.cfg.enabled && !o.in_flight && o.source.is_ok() && self.effective_due(o) <= now {
                self.spawn(i, tasks, false);
            }
        }
    }

    /// Starts a fetch; for an outlet that cannot be fetched at all, returns its report instead.
    fn spawn(
        &mut self,
        i: usize,
        tasks: &mut JoinSet<(usize, TaskResult)>,
        ignore_blocks: bool,
    ) -> Option<OutletReport> {
        let o = &mut self.outlets[i];
        let source = match &o.source {
            Ok(s) => s.clone(),
            Err(e) => {
                return Some(OutletReport {
                    error: Some(e.clone()),
                    ..OutletReport::blank(o.cfg.name.clone(), Duration::ZERO)
                })
            }
        };
        o.in_flight = true;
        self.cycle_started.get_or_insert_with(Instant::now);
        let gate = self.hosts.get(&o.host).cloned();
        let global = self.global.clone();
        let fetcher = self.fetcher.clone();
        let validators = Validators {
            etag: o.state.etag.clone(),
            last_modified: o.state.last_modified.clone(),
        };
        // `ignore_blocks` is set for `run --once` only.
        let once_since = ignore_blocks.then_some(self.run_started);
        let lease = self.leases.clone().map(|l| {
            (
                l,
                o.cfg.name.clone(),
                self.claimed.clone(),
                self.backlog.clone(),
            )
        });
        tasks.spawn(async move {
            let _host = match &gate {
                Some(g) => g.permits.clone().acquire_owned().await.ok(),
                None => None,
            };
            if !ignore_blocks {
                if let Some(until) = gate.as_ref().and_then(|g| g.blocked_until()) {
                    if until > Instant::now() {
                        return (i, TaskResult::Deferred);
                    }
                }
            }
            // A shared store: poll only outlets whose lease this worker holds, claimed when
            // the worker has room to process one more (so workers share the outlets as they
            // go, rather than the first to start claiming them all).
            let mut slot = None;
            if let Some((leases, name, claimed, backlog)) = lease {
                slot = backlog.acquire_owned().await.ok();
                let n = name.clone();
                let got = tokio::task::spawn_blocking(move || leases.claim(&n, once_since)).await;
                match got {
                    Ok(Ok(true)) => {
                        if let Ok(mut c) = claimed.lock() {
                            c.insert(name);
                        }
                    }
                    Ok(Ok(false)) => return (i, TaskResult::Leased),
                    Ok(Err(e)) => {
                        warn!(outlet = %name, error = %e, "The outlet's lease could not be claimed; it is not polled now.");
                        return (i, TaskResult::Leased);
                    }
                    Err(e) => {
                        warn!(outlet = %name, error = %e, "The lease task failed; the outlet is not polled now.");
                        return (i, TaskResult::Leased);
                    }
                }
            }
            let _global = global.acquire_owned().await.ok();
            let start = Instant::now();
            let outcome = fetcher.fetch(&source, &validators).await;
            (
                i,
                TaskResult::Done {
                    outcome,
                    elapsed: start.elapsed(),
                    slot,
                },
            )
        });
        None
    }

    /// Applies one fetch result: state, schedule, items through the engine, output.
    async fn handle(&mut self, i: usize, result: TaskResult) -> Result<Option<OutletReport>> {
        self.outlets[i].in_flight = false;
        let _slot: Option<tokio::sync::OwnedSemaphorePermit>;
        let (outcome, elapsed) = match result {
            TaskResult::Deferred => {
                // The host's block decides when this outlet runs; nothing happened.
                return Ok(None);
            }
            TaskResult::Leased => {
                // Another worker polls it; its commits move this outlet's schedule
                // (see `apply_foreign`). Try again later in case that worker dies.
                let sched = &self.config.schedule;
                let o = &mut self.outlets[i];
                let interval = o.cfg.interval.unwrap_or(sched.default_interval);
                o.due = Instant::now() + interval.max(sched.min_interval).min(LEASED_RETRY);
                return Ok(None);
            }
            TaskResult::Done {
                outcome,
                elapsed,
                slot,
            } => {
                // Released when this poll has been handled (end of this function).
                _slot = slot;
                (outcome, elapsed)
            }
        };
        let now_unix = schedule::unix_now();
        let name = self.outlets[i].cfg.name.clone();
        let mut report = OutletReport::blank(name.clone(), elapsed);
        self.totals.polls += 1;
        let outcome = match outcome {
            FetchOutcome::NotModified { status, max_age } => {
                self.totals.unchanged += 1;
                PollOutcome::NotModified { status, max_age }
            }
            FetchOutcome::Failed(f) => PollOutcome::Failed {
                status: PollStatus::failed(f.status),
                message: f.message,
                retry_after: f.retry_after,
            },
            FetchOutcome::Fresh(fresh) => self.read_fresh(i, fresh, now_unix, &mut report).await?,
        };
        self.apply_outcome(i, outcome, now_unix, &mut report);
        self.queue_poll_state(i, now_unix, &report);
        self.commit_batch().await?;
        debug!(
            outlet = %name,
            status = %report.status,
            items = report.items,
            new = report.new,
            duplicates = report.duplicates,
            ms = elapsed.as_millis() as u64,
            "polled"
        );
        Ok(Some(report))
    }

    /// A fetched document: parsed on the blocking pool, its items through the engine. A
    /// document that cannot be read (including "no items": `<item>`/`<entry>` elements of
    /// which none could be read, never "ok, 0 items") is a failed poll.
    async fn read_fresh(
        &mut self,
        i: usize,
        fresh: fetch::Fresh,
        now_unix: i64,
        report: &mut OutletReport,
    ) -> Result<PollOutcome> {
        let base = fresh.final_url.clone();
        let content_type = fresh.content_type.clone();
        let body = fresh.body;
        let parsed = tokio::task::spawn_blocking(move || {
            parse_feed_with(&body, base.as_deref(), content_type.as_deref())
        })
        .await
        .map_err(|e| Error::Feed {
            url: self.outlets[i].cfg.url.clone(),
            message: format!("the parse task failed: {e}"),
        })?;
        let feed = match parsed {
            Ok(feed) => feed,
            Err(e) => {
                return Ok(PollOutcome::Failed {
                    status: PollStatus::fresh(fresh.status),
                    message: e.to_string(),
                    retry_after: None,
                })
            }
        };
        self.note_repairs(i, &feed);
        report.repairs = feed.repairs.clone();
        self.totals.fresh += 1;
        if feed.disambiguated > 0 {
            debug!(outlet = %self.outlets[i].cfg.name, items = feed.disambiguated, "repeated item ids made unique");
        }
        let (new, dups) = self.process_items(i, feed.items, now_unix, report).await?;
        report.new = new;
        report.duplicates = dups;
        Ok(PollOutcome::Read {
            status: fresh.status,
            validators: fresh.validators,
            hint: [feed.ttl, fresh.max_age].into_iter().flatten().max(),
        })
    }

    /// Logs what had to be repaired to read an outlet's document: at INFO when it changed
    /// since the outlet's last document, at DEBUG when it is the same again.
    fn note_repairs(&mut self, i: usize, feed: &ParsedFeed) {
        let o = &mut self.outlets[i];
        if feed.repairs != o.repairs {
            if !feed.repairs.is_empty() {
                info!(
                    outlet = %o.cfg.name,
                    url = %o.cfg.url,
                    encoding = feed.encoding,
                    repairs = %feed.repairs.join("; "),
                    "feed read after repairs"
                );
            }
            o.repairs = feed.repairs.clone();
        } else if !feed.repairs.is_empty() {
            debug!(outlet = %o.cfg.name, repairs = %feed.repairs.join("; "), "feed read after repairs");
        }
    }

    /// What the poll's outcome does to the outlet ([`schedule::apply`]): its state, when it
    /// is next due, a host block; a failure is counted and logged.
    fn apply_outcome(
        &mut self,
        i: usize,
        outcome: PollOutcome,
        now_unix: i64,
        report: &mut OutletReport,
    ) {
        let sched = self.config.schedule.clone();
        let o = &mut self.outlets[i];
        let applied = schedule::apply(
            &mut o.state,
            outcome,
            o.cfg.interval,
            &o.cfg.name,
            &sched,
            now_unix,
        );
        report.status = applied.status;
        let now = Instant::now();
        o.due = now + applied.delay;
        if let Some(message) = applied.error {
            report.error = Some(message.clone());
            self.totals.failed += 1;
            if let Some(block) = applied.block_host {
                if let Some(gate) = self.hosts.get(&o.host) {
                    gate.block_until(now + block);
                }
            }
            warn!(
                outlet = %o.cfg.name,
                url = %o.cfg.url,
                status = %report.status,
                failures = o.state.failures,
                retry_in = %humantime::format_duration(Duration::from_secs(applied.delay.as_secs())),
                error = %message,
                "poll failed"
            );
        }
    }

    /// Queues the outlet's new fetch state, its host's block and the poll's tally in the
    /// poll's batch.
    fn queue_poll_state(&mut self, i: usize, now_unix: i64, report: &OutletReport) {
        let o = &self.outlets[i];
        let batch = &mut self.session.batch;
        batch.outlet = Some((o.cfg.name.clone(), o.state.clone()));
        batch.seen_at = now_unix;
        if let Some(until) = self.hosts.get(&o.host).and_then(|g| g.blocked_until()) {
            let left = until.saturating_duration_since(Instant::now()).as_secs() as i64;
            batch.hosts.push((
                o.host.clone(),
                StoredHost {
                    blocked_until: Some(now_unix + left),
                },
            ));
        }
        batch.tally = Some(report.tally());
    }

    /// Filters seen items, runs the rest through the engine on the blocking pool, and writes
    /// output (with a store: queues records, emissions and output lines in the poll's batch).
    async fn process_items(
        &mut self,
        i: usize,
        items: Vec<FeedItem>,
        now_unix: i64,
        report: &mut OutletReport,
    ) -> Result<(usize, usize)> {
        let outlet = self.outlets[i].cfg.name.clone();
        report.items = items.len();
        self.totals.items += items.len() as u64;
        let seen = self.seen.outlets.entry(outlet.clone()).or_default();
        let (mut fresh, unchanged) = ingest::filter_seen(seen, &outlet, items, now_unix);
        self.session.batch.seen.extend(unchanged);
        if fresh.is_empty() {
            return Ok((0, 0));
        }
        report.full_text = self.full_texts(i, &mut fresh, now_unix).await?;
        self.outlets[i].full_text.add(&report.full_text);
        let Some(mut engine) = self.engine.take() else {
            return Err(Error::Feed {
                url: self.outlets[i].cfg.url.clone(),
                message: "the engine is unavailable".to_string(),
            });
        };
        let kind = self.output.as_ref().map(|o| o.kind);
        let mut session = std::mem::take(&mut self.session);
        let mut store = self.store.take();
        let joined = tokio::task::spawn_blocking(move || {
            // A shared store: catch up on what other workers committed, prepare and guess
            // the fingerprints of this poll's items outside the decision lock, then take
            // the lock and catch up on what was committed meanwhile, so this batch is
            // decided knowing all of it.
            let foreign = match store.as_mut() {
                Some(s) if s.is_shared() => shared_catch_up(
                    s.as_mut(),
                    &mut engine,
                    &mut session.emitted,
                    now_unix,
                    |engine| ingest::prepare_ahead(engine, &outlet, &mut fresh),
                ),
                _ => Ok(Vec::new()),
            };
            let decided = foreign.and_then(|foreign| {
                let fresh = drop_taken(fresh, &outlet, &foreign);
                ingest::decide(
                    &mut engine,
                    &mut session,
                    &outlet,
                    fresh,
                    kind,
                    true,
                    now_unix,
                    pages::display_body,
                )
                .map(|d| (d, foreign))
            });
            if decided.is_err() {
                if let Some(s) = store.as_mut() {
                    s.abandon_decide();
                }
            }
            (store, engine, session, decided)
        })
        .await;
        let (store, engine, session, decided) = match joined {
            Ok(v) => v,
            Err(source) => {
                self.store_lost = true;
                return Err(Error::Task {
                    what: "the dedup task",
                    source,
                });
            }
        };
        // The engine comes back whatever happened, so it is never lost.
        self.engine = Some(engine);
        self.session = session;
        self.store = store;
        let (decided, foreign) = decided?;
        self.apply_foreign(&foreign);
        let Decided {
            bodies,
            new: n,
            duplicates: dups,
            elapsed: engine_time,
        } = decided;
        self.bodies.extend(bodies);
        report.engine = engine_time;
        self.totals.new += n as u64;
        self.totals.duplicates += dups as u64;
        Ok((n, dups))
    }

    async fn end_cycle(&mut self) -> Result<CycleTotals> {
        let t = std::mem::take(&mut self.totals);
        let elapsed = self
            .cycle_started
            .take()
            .map(|s| s.elapsed())
            .unwrap_or_default();
        let now = schedule::unix_now();
        let cutoff = ingest::retention_cutoff(now, self.config.dedup.retention);
        let forgotten_items = self.seen.expire(cutoff);
        let expire_due = self
            .last_expire
            .is_none_or(|at| at.elapsed() >= EXPIRE_EVERY);
        if expire_due && self.store.is_some() {
            self.expire_store(cutoff).await?;
            self.last_expire = Some(Instant::now());
        }
        let mut forgotten_stories = 0;
        if let Some(engine) = self.engine.as_mut() {
            let held = engine.len();
            forgotten_stories = engine.expire(now).len();
            if engine.len() != held {
                let live: std::collections::HashSet<String> = engine
                    .stories()
                    .into_iter()
                    .flat_map(|v| v.copies.into_iter().map(|c| c.id))
                    .collect();
                self.bodies.retain(|id, _| live.contains(id));
            }
        }
        info!(
            polls = t.polls,
            fresh = t.fresh,
            unchanged = t.unchanged,
            failed = t.failed,
            items = t.items,
            new = t.new,
            duplicates = t.duplicates,
            stories = self.engine.as_ref().map(|e| e.story_count()).unwrap_or(0),
            speculated_kept = self
                .engine
                .as_ref()
                .map(|e| e.stats().speculated_kept)
                .unwrap_or(0),
            forgotten_items,
            forgotten_stories,
            seconds = format!("{:.2}", elapsed.as_secs_f64()),
            "poll cycle done"
        );
        Ok(t)
    }
}

async fn sleep_until_opt(when: Option<Instant>) {
    match when {
        Some(w) => tokio::time::sleep_until(w).await,
        None => std::future::pending().await,
    }
}

/// Takes the decision lock of a shared store and feeds what other workers committed to the
/// engine; returns those batches for the poller's own state. `ahead` runs between the
/// catch-up without the lock and taking it: the work on this poll's items that does not
/// need the shared state (see [`ingest::prepare_ahead`]), so the lock is held for the
/// decisions only.
fn shared_catch_up(
    store: &mut dyn Store,
    engine: &mut Engine,
    emitted: &mut HashSet<StoryId>,
    now_unix: i64,
    ahead: impl FnOnce(&Engine),
) -> Result<Vec<Arc<Batch>>> {
    let window = engine.config().dedup.window.as_secs().min(i64::MAX as u64) as i64;
    let mut feed = |store: &mut dyn Store,
                    engine: &mut Engine,
                    before_lock: bool|
     -> Result<Vec<Arc<Batch>>> {
        let foreign = store.take_foreign();
        if !foreign.is_empty() {
            let caught = catch_up_engine(
                store,
                engine,
                emitted,
                &foreign,
                now_unix.saturating_sub(window),
                ItemKey::engine_id,
            )?;
            debug!(
                batches = foreign.len(),
                items = caught.items,
                rebuilt = caught.rebuilt,
                before_lock,
                "Caught up on other workers' commits."
            );
        }
        Ok(foreign)
    };
    // Most of what the others committed is read and fed to the engine before the lock is
    // taken; under the lock only what was committed meanwhile.
    store.catch_up()?;
    let mut foreign = feed(store, engine, true)?;
    ahead(engine);
    store.begin_decide()?;
    match feed(store, engine, false) {
        Ok(more) => foreign.extend(more),
        Err(e) => {
            store.abandon_decide();
            return Err(e);
        }
    }
    Ok(foreign)
}

/// Drops fresh items another worker already processed with the same body (found in the
/// batches just caught up on): an item is processed once, whichever worker sees it.
fn drop_taken(fresh: Vec<FreshItem>, outlet: &str, foreign: &[Arc<Batch>]) -> Vec<FreshItem> {
    if foreign.is_empty() {
        return fresh;
    }
    let taken: HashSet<(&str, &str, u64)> = foreign
        .iter()
        .flat_map(|b| b.items.iter())
        .map(|i| {
            (
                i.meta.outlet.as_deref().unwrap_or(""),
                i.meta.id.as_str(),
                i.content_hash,
            )
        })
        .collect();
    fresh
        .into_iter()
        .filter(|f| !taken.contains(&(outlet, f.item.id.as_str(), f.content)))
        .collect()
}
