//! Persistent state: what was fetched, seen, decided and emitted, so a restart resumes where
//! the last run stopped.
//!
//! The pipeline talks to the state through the narrow [`Store`] trait; [`SqliteStore`] is the
//! default implementation (one file, WAL, one writer), [`RedisStore`] the one several workers
//! share. The daemon calls [`Store::commit`] once per
//! processed batch (one feed poll): the outlet's fetch state, the items with their decisions,
//! the story updates derived from them and the emissions commit together or not at all.
//!
//! ## How each method maps to Redis ([`RedisStore`], `[store] kind = "redis"`)
//!
//! The Redis store is a log, not a set of per-item keys: every committed batch is one entry
//! of the stream `{p}:log` (`p` = `[store] prefix`), and each worker answers every method
//! from an in-memory replica ([`MemoryStore`]) that replays the log. Every key the commit
//! touches carries the hash tag `{p}`, so it lives in one cluster slot and the commit can be
//! one Lua script. The design, its guarantees and limits are in `docs/redis.md`.
//!
//! | method | SQLite | Redis (single node or cluster) |
//! |---|---|---|
//! | [`Store::load`], [`Store::seen`], [`Store::stories`], [`Store::story`], [`Store::poll_state`], [`Store::counters`], [`Store::output_pending`] | queries | `XRANGE {p}:log (<last applied> +` into the replica, then the replica's answer |
//! | [`Store::commit`] | one `BEGIN IMMEDIATE` transaction | one `EVAL` on `{p}:decide`, `{p}:log`, `{p}:outbox`, `{p}:committed`: fenced by the lock token and the log's tip; `XADD` of the batch and of each output line; lock released |
//! | [`Store::expire`] | `DELETE ... WHERE last_seen < before` | an `expire` entry in the log (the same `EVAL`), applied by every replica |
//! | [`Store::output_mark`], [`Store::output_written`] | two `setting` rows | `HGET`/`HSET {p}:marks <output path>` |
//! | [`Store::page`] | point query on `page (url)` | the worker's own replica (pages are not shared) |
//! | [`Store::begin_decide`] | nothing (one writer) | `SET {p}:decide <token> NX PX lock_ttl`, then the catch-up |
//! | [`Store::leases`] | none | `p:lease:<outlet>` (`EVAL`: set if free or ours, `PX lease`) |
//!
//! ## Times
//!
//! Every time is Unix seconds chosen by the caller, so the store has no clock: the daemon passes
//! the wall clock, `syndedup dedup --state` the stream's latest time. An item's `time` places it
//! in the dedup window (its published time, or the caller's clock when it has none);
//! `first_seen`/`last_seen` are when the caller saw it, and retention counts from `last_seen`.

mod counters;
mod memory;
mod outbox;
mod redis_store;
mod sqlite;
mod types;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};

use crate::config::StoreConfig;
use crate::dedup::{pair_score, Engine, EngineConfig, Fingerprint, MatchRule};
use crate::error::Result;
use crate::model::{ArticleMeta, Copy, Decision, StoryId, StoryView};

pub use counters::{OutletCounters, PollResult, PollTally, FETCH_BUCKETS};
pub use memory::MemoryStore;
pub use outbox::flush_outbox;
pub use redis_store::{probe as probe_redis, Leases, RedisSettings, RedisStore};
pub use sqlite::{SqliteStore, SCHEMA_VERSION};
pub use types::{
    CachedPage, HostState, HttpCode, ItemKey, OutletId, OutletState, PollState, PollStatus,
    SeenItem, SeenItems,
};

/// One processed item as it is stored.
#[derive(Debug, Clone)]
pub struct ItemRecord {
    pub meta: ArticleMeta,
    /// Identity of the item's content (see [`content_hash`]): a repeated item with another
    /// hash was edited and is evaluated again.
    pub content_hash: u64,
    /// Where the item sits in the dedup window (Unix seconds).
    pub time: i64,
    /// When the caller saw it (Unix seconds).
    pub seen_at: i64,
    pub fingerprint: Fingerprint,
    pub decision: Decision,
    /// The item the decision names as the story's first (`decision.duplicate_of`), as a key:
    /// stored (as the key's JSON, `{"outlet":..,"id":..}`) in one form whether the engine ids
    /// were the daemon's or a JSON Lines stream's. Rows written before this field existed hold
    /// the engine id as text; the column is kept for inspection and never read back.
    pub duplicate_of: Option<ItemKey>,
    /// What output needs to render the item again: for `dedup --state` the input line as it
    /// came in, for the daemon its JSON rendering.
    pub payload: Option<String>,
}

/// What was written to the output about a story.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmissionKind {
    /// The story's first appearance.
    New,
    /// A better copy became canonical after the story was emitted.
    Update,
}

impl EmissionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EmissionKind::New => "new",
            EmissionKind::Update => "update",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emission {
    pub story: StoryId,
    pub kind: EmissionKind,
    /// The canonical item at the time of emission.
    pub item: ItemKey,
    pub at: i64,
}

/// Everything one processed batch changes; [`Store::commit`] writes it in one transaction.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// The polled outlet's name and new fetch state: validators, last status and error, next
    /// due time, failures (the backoff). None for JSON Lines input.
    pub outlet: Option<(String, OutletState)>,
    /// Hosts whose `Retry-After` block changed in this batch.
    pub hosts: Vec<(String, HostState)>,
    /// New and edited items with their decisions. Story rows (canonical, first and last seen,
    /// copy count) are derived from these.
    pub items: Vec<ItemRecord>,
    /// Items seen again unchanged: their `last_seen` moves to `seen_at`, so retention counts
    /// from the last time a feed still carried them.
    pub seen: Vec<ItemKey>,
    pub seen_at: i64,
    pub emissions: Vec<Emission>,
    /// Output lines (JSON, no newline) this batch produces, queued in the store's outbox and
    /// appended to the output file after the commit (see [`Store::output_pending`]).
    pub lines: Vec<String>,
    /// What the boilerplate learner remembers of the polled outlets (see
    /// [`crate::normalize::boilerplate::Learner::export`]), replacing what was stored for them.
    pub learner: Vec<(String, Vec<Vec<u64>>)>,
    /// Stories merged by a bridging article (see [`crate::dedup::cluster`]), applied before
    /// `items`: the absorbed story's items move to the survivor and its id becomes an alias.
    pub merges: Vec<StoryMerge>,
    /// Article pages fetched for full text in this batch, replacing what was cached for
    /// their URLs (see [`Store::page`]).
    pub pages: Vec<CachedPage>,
    /// What the poll adds to its outlet's counters (see [`Store::counters`]); `None` for
    /// JSON Lines input.
    pub tally: Option<PollTally>,
}

/// One story merged into another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoryMerge {
    pub absorbed: StoryId,
    pub survivor: StoryId,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.outlet.is_none()
            && self.hosts.is_empty()
            && self.items.is_empty()
            && self.seen.is_empty()
            && self.emissions.is_empty()
            && self.lines.is_empty()
            && self.learner.is_empty()
            && self.merges.is_empty()
            && self.pages.is_empty()
            && self.tally.is_none()
    }
}

/// One item to give back to [`Engine::restore`].
#[derive(Debug, Clone)]
pub struct RestoreItem {
    pub meta: ArticleMeta,
    pub fingerprint: Fingerprint,
    pub time: i64,
    pub story: StoryId,
    /// The story's canonical version.
    pub canonical: bool,
}

/// What a restart needs, from [`Store::load`].
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Items inside the window, in the order they were first stored.
    pub items: Vec<RestoreItem>,
    /// Stories emitted so far (among those with items inside the window).
    pub emitted: HashSet<StoryId>,
    /// The next story id never used by this store.
    pub next_story: u64,
    /// The latest item time stored (the stream's clock), if any item is stored.
    pub clock: Option<i64>,
    /// The boilerplate learner's memory per outlet, for `Learner::import`.
    pub learner: Vec<(String, Vec<Vec<u64>>)>,
    /// Merged-away story ids and the stories they now stand for, for `Engine::restore_alias`.
    pub aliases: Vec<StoryMerge>,
}

/// How far the output file is known to be written: its path and length right after the last
/// outbox line was appended and synced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputMark {
    pub path: PathBuf,
    pub len: u64,
}

/// What [`Store::expire`] deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expired {
    pub items: u64,
    pub stories: u64,
}

/// Which stories [`Store::stories`] lists.
#[derive(Debug, Clone, Default)]
pub struct StoryQuery {
    /// Only stories first seen at or after this time.
    pub since: Option<i64>,
    /// At most this many, newest first.
    pub limit: Option<usize>,
}

/// One member of a stored story.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCopy {
    pub meta: ArticleMeta,
    pub first_seen: i64,
    /// `None` when the stored signature is damaged.
    pub fingerprint: Option<Fingerprint>,
    /// The item's payload (see [`ItemRecord::payload`]): for the daemon its JSON rendering,
    /// whose `body` holds the text; `None` when none was stored.
    pub payload: Option<String>,
}

/// A story as the store holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredStory {
    pub story: StoryId,
    /// Index of the canonical version in `copies`.
    pub canonical: usize,
    /// The canonical item's payload (see [`ItemRecord::payload`]).
    pub canonical_payload: Option<String>,
    pub first_seen: i64,
    pub last_seen: i64,
    /// Every member, canonical included, in the order first seen.
    pub copies: Vec<StoredCopy>,
    /// Whether the story was emitted (as new) at least once.
    pub emitted: bool,
}

impl StoredStory {
    pub fn canonical_meta(&self) -> Option<&ArticleMeta> {
        self.copies.get(self.canonical).map(|c| &c.meta)
    }

    /// The story as seen from outside: the canonical's metadata and every copy (ids as
    /// stored, without the outlet) with its score under `rule` (see [`StoredStory::scores`]).
    /// The one place a [`StoryView`] is built from a stored story.
    pub fn view(&self, rule: &MatchRule) -> StoryView {
        StoryView {
            story: self.story,
            canonical: self.canonical_meta().cloned().unwrap_or_default(),
            copies: self
                .copies
                .iter()
                .zip(self.scores(rule))
                .map(|(c, score)| Copy {
                    id: c.meta.id.clone(),
                    outlet: c.meta.outlet.clone(),
                    url: c.meta.url.clone(),
                    title: c.meta.title.clone(),
                    published: c.meta.published,
                    score,
                })
                .collect(),
        }
    }

    /// Each copy's similarity to the canonical version, computed as the engine does
    /// ([`crate::dedup::pair_score`] under `rule`): the match score, or Jaccard when the rule
    /// does not match the two directly.
    pub fn scores(&self, rule: &MatchRule) -> Vec<f32> {
        let canonical = self.copies.get(self.canonical);
        self.copies
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == self.canonical {
                    return 1.0;
                }
                match (
                    c.fingerprint.as_ref(),
                    canonical.and_then(|k| k.fingerprint.as_ref()),
                ) {
                    (Some(a), Some(b)) => {
                        let pair = pair_score(a, b);
                        rule.score(&pair).unwrap_or(pair.jaccard)
                    }
                    _ => 0.0,
                }
            })
            .collect()
    }
}

/// Names the settings signatures depend on; a store refuses signatures made with others
/// (see [`SqliteStore::check_settings`]). The scheme is written with its config name
/// ([`crate::config::SignatureScheme::name`]), which never changes with the code.
pub fn signature_settings(config: &EngineConfig) -> String {
    let d = &config.dedup;
    format!(
        "scheme={} permutations={} shingle_size={}",
        d.scheme.name(),
        d.permutations,
        d.shingle_size
    )
}

/// Old builds wrote the scheme as its Rust variant name (`scheme=Oph`,
/// `scheme=MultiplyShift`); this gives a stored value in today's form, other values as they are.
pub fn migrate_signature_settings(stored: &str) -> String {
    const RENAMED: [(&str, &str); 2] = [
        ("scheme=Oph", "scheme=oph"),
        ("scheme=MultiplyShift", "scheme=multiply-shift"),
    ];
    stored
        .split(' ')
        .map(|part| {
            RENAMED
                .iter()
                .find(|(old, _)| *old == part)
                .map_or(part, |(_, new)| new)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The persistent state behind the pipeline. See the module docs for the Redis mapping.
pub trait Store {
    /// Items with `time >= since` (the dedup window) and what was emitted, for a restart.
    fn load(&self, since: i64) -> Result<Snapshot>;
    /// The content hash stored for an item, if it was seen.
    fn seen(&self, key: &ItemKey) -> Result<Option<u64>>;
    /// Writes one batch atomically.
    fn commit(&mut self, batch: &Batch) -> Result<()>;
    /// Deletes items last seen before `before`, and stories left without items.
    fn expire(&mut self, before: i64) -> Result<Expired>;
    /// Recent stories, newest (first seen) first.
    fn stories(&self, query: &StoryQuery) -> Result<Vec<StoredStory>>;
    /// One story.
    fn story(&self, id: StoryId) -> Result<Option<StoredStory>>;
    /// What the poller resumes from: every outlet's fetch state, host blocks, and the seen
    /// set (content hash, first and last seen of every stored item).
    fn poll_state(&self) -> Result<PollState>;
    /// Outbox lines committed but not yet marked as written, oldest first, with their sequence.
    fn output_pending(&self) -> Result<Vec<(i64, String)>>;
    /// Where the output file stood after the last marked write, if anything was written.
    fn output_mark(&self) -> Result<Option<OutputMark>>;
    /// Marks outbox lines up to `seq` as written (they leave the outbox) and records the
    /// output file's length after them, in one transaction.
    fn output_written(&mut self, seq: i64, mark: &OutputMark) -> Result<()>;
    /// The cached main text of an article page, by the item's link. Pages expire with
    /// [`Store::expire`] (counted from when they were fetched).
    fn page(&self, url: &str) -> Result<Option<CachedPage>>;
    /// Every outlet's counters as the polls' tallies added them up ([`Batch::tally`]), by
    /// outlet name: what `run` shows on its status page and `/metrics`, for `serve`.
    fn counters(&self) -> Result<BTreeMap<String, OutletCounters>>;

    /// Before deciding a batch (running its items through the engine), a store shared by
    /// several workers takes its decision lock and reads what the others committed; the
    /// batch's [`Store::commit`] then releases it. Others do nothing.
    fn begin_decide(&mut self) -> Result<()> {
        Ok(())
    }
    /// Reads what other workers committed, without the lock (a shared store), so that most
    /// of the catch-up happens before [`Store::begin_decide`]. Others do nothing.
    fn catch_up(&mut self) -> Result<()> {
        Ok(())
    }
    /// Batches other workers committed since the last call, oldest first, which the caller
    /// has to feed to its engine (see [`catch_up_engine`]) before deciding. Empty for a store
    /// with one writer.
    fn take_foreign(&mut self) -> Vec<Arc<Batch>> {
        Vec::new()
    }
    /// Gives up the decision lock without committing (a shared store; it expires anyway).
    fn abandon_decide(&mut self) {}
    /// Outlet leases, for a store shared by several workers.
    fn leases(&self) -> Option<Arc<Leases>> {
        None
    }
    /// Shared by several workers (decisions are serialised by a lock): the poller then does
    /// the engine work that does not need the shared state before taking it.
    fn is_shared(&self) -> bool {
        self.leases().is_some()
    }
}

/// What [`catch_up_engine`] found in other workers' batches.
#[derive(Debug, Default)]
pub struct CaughtUp {
    /// Items filed by other workers.
    pub items: usize,
    /// The engine was rebuilt from the store (a merge or an edited item came in, which
    /// cannot be replayed onto the index in place).
    pub rebuilt: bool,
}

/// Feeds batches committed by other workers (from [`Store::take_foreign`]) to `engine` as
/// [`restore_engine`] feeds a snapshot: their items join their stories, their new stories
/// count as emitted, their learner memory replaces the outlet's. A batch with a merge, or an
/// item the engine already holds (an edit), rebuilds the engine from `store` instead
/// (`window_start` on), which gives the same index a restart would. `engine_id` turns a
/// stored key into the engine's id.
pub fn catch_up_engine(
    store: &dyn Store,
    engine: &mut Engine,
    emitted: &mut HashSet<StoryId>,
    foreign: &[Arc<Batch>],
    window_start: i64,
    engine_id: fn(&ItemKey) -> String,
) -> Result<CaughtUp> {
    let mut out = CaughtUp::default();
    let rebuild = foreign.iter().any(|b| {
        !b.merges.is_empty()
            || b.items
                .iter()
                .any(|i| engine.story_of(&engine_id(&ItemKey::of(&i.meta))).is_some())
    });
    for b in foreign {
        out.items += b.items.len();
        for e in &b.emissions {
            if e.kind == EmissionKind::New {
                emitted.insert(e.story);
            }
        }
        if let Some(learner) = engine.learner_mut() {
            for (outlet, recent) in &b.learner {
                learner.import(outlet, recent.clone());
            }
        }
    }
    if rebuild {
        let mut snapshot = store.load(window_start)?;
        for item in &mut snapshot.items {
            item.meta.id = engine_id(&ItemKey::of(&item.meta));
        }
        let mut fresh = Engine::new(engine.config().clone())?;
        restore_engine(&mut fresh, &snapshot);
        if let (Some(new), Some(old)) = (fresh.learner_mut(), engine.learner()) {
            for (outlet, recent) in old.export() {
                new.import(&outlet, recent);
            }
        }
        *engine = fresh;
        out.rebuilt = true;
        return Ok(out);
    }
    for b in foreign {
        for i in &b.items {
            let mut meta = i.meta.clone();
            meta.id = engine_id(&ItemKey::of(&i.meta));
            engine.restore(
                meta,
                &i.fingerprint,
                i.time,
                i.decision.story,
                i.decision.became_canonical,
            );
        }
    }
    Ok(out)
}

/// The identity of an item's content, as the poller computes it: xxh3 of the body. An edited
/// body re-evaluates the item; an edited title alone does not.
pub fn content_hash(body: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(body.as_bytes())
}

/// Rebuilds a fresh engine's index from a snapshot, and makes it number new stories after
/// every id the store ever used (stories outside the window included). An engine that already
/// holds articles only gets the snapshot's items.
pub fn restore_engine(engine: &mut Engine, snapshot: &Snapshot) {
    if engine.is_empty() {
        engine.reserve_story_ids(snapshot.next_story);
    }
    for m in &snapshot.aliases {
        engine.restore_alias(m.absorbed, m.survivor);
    }
    for item in &snapshot.items {
        engine.restore(
            item.meta.clone(),
            &item.fingerprint,
            item.time,
            item.story,
            item.canonical,
        );
    }
}

/// The database path: `[store] path`, else `syndedup.db` in `$XDG_DATA_HOME/syndedup`, else in
/// `~/.local/share/syndedup`, else in the working directory.
pub fn store_path(config: &StoreConfig) -> PathBuf {
    if let Some(p) = &config.path {
        return p.clone();
    }
    let env_dir = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if let Some(dir) = env_dir("XDG_DATA_HOME") {
        return dir.join("syndedup").join("syndedup.db");
    }
    if let Some(home) = env_dir("HOME") {
        return home
            .join(".local")
            .join("share")
            .join("syndedup")
            .join("syndedup.db");
    }
    Path::new("syndedup.db").to_path_buf()
}

/// Renders a Unix time for humans and JSON.
pub fn rfc3339(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| secs.to_string())
}

pub(crate) fn parse_published(text: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(text).ok()
}
