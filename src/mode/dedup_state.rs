//! `syndedup dedup --state FILE`: the JSON Lines stage on top of a store, so consecutive runs
//! over overlapping inputs behave as one long stream.
//!
//! The stage lives on the stream's clock (the latest `published` seen), not the wall clock:
//! the window and retention count back from it, and it is each item's first/last-seen time.
//!
//! The store session (open, signature settings, expiry, load, restore, the emitted set and
//! the batch) is [`ingest::Session`], the one `run` uses; what is kept here is the JSON
//! Lines stage's own: the seen check of the uncommitted batch, the stories this run touched,
//! and the keys of stories' first items.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use crate::dedup::{Engine, Fingerprint};
use crate::ingest::{self, EngineIds, Session};
use crate::model::{ArticleMeta, Decision, StoryId};
use crate::store::{content_hash, EmissionKind, ItemKey, ItemRecord, SqliteStore, Store};

/// Input lines per transaction: large enough that commits cost little, small enough that an
/// interrupted run loses little work.
const COMMIT_EVERY: usize = 1000;

pub struct State {
    store: SqliteStore,
    /// Stories emitted as new (in earlier runs or this one) and the uncommitted batch.
    session: Session,
    /// Content hashes of the items in the uncommitted batch (the store cannot see them yet).
    pending: HashMap<ItemKey, u64>,
    /// Stories emitted before this run started.
    emitted_before: HashSet<StoryId>,
    /// Stories that got an item in this run, in order of first touch.
    touched: Vec<StoryId>,
    touched_set: HashSet<StoryId>,
    /// How long records are kept, counted back from the stream's clock.
    retention: Duration,
    /// The first item of each story, by key: a decision names its story's first article by
    /// its bare id (`duplicate_of`), and the store keeps that as a key with its outlet.
    firsts: HashMap<StoryId, ItemKey>,
}

impl State {
    /// Opens the store, deletes what is past retention and rebuilds the engine's index from
    /// the items inside the window.
    pub fn open(path: &Path, engine: &mut Engine) -> anyhow::Result<State> {
        let mut store = ingest::open_store(path, engine.config())?;
        // The stream's clock: the latest item time stored.
        let clock = store.load(i64::MAX)?.clock;
        let (session, snapshot) =
            Session::resume(&mut store, engine, clock, EngineIds::Bare, false)
                .with_context(|| format!("cannot load the state from {}", path.display()))?;
        let mut firsts = HashMap::new();
        for item in &snapshot.items {
            firsts
                .entry(engine.resolve(item.story))
                .or_insert_with(|| ItemKey::of(&item.meta));
        }
        tracing::info!(path = %path.display(), items = snapshot.items.len(), stories = engine.story_count(), "state restored");
        Ok(State {
            store,
            emitted_before: session.emitted.clone(),
            session,
            pending: HashMap::new(),
            touched: Vec::new(),
            touched_set: HashSet::new(),
            retention: engine.config().dedup.retention,
            firsts,
        })
    }

    /// The content hash of an input article, and whether that exact content was seen already
    /// (in an earlier run or earlier in this one).
    pub fn check(&mut self, meta: &ArticleMeta, body: &str) -> anyhow::Result<(u64, bool)> {
        let hash = content_hash(body);
        let key = ItemKey::of(meta);
        let stored = match self.pending.get(&key) {
            Some(&h) => Some(h),
            None => self.store.seen(&key)?,
        };
        let seen = stored == Some(hash);
        if seen {
            self.session.batch.seen.push(key);
        }
        Ok((hash, seen))
    }

    /// Queues a decided article for the next commit.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &mut self,
        meta: &ArticleMeta,
        hash: u64,
        time: i64,
        clock: i64,
        fingerprint: &Fingerprint,
        decision: &Decision,
        raw: &[u8],
    ) {
        let key = ItemKey::of(meta);
        let duplicate_of = self.duplicate_key(meta, decision);
        if decision.duplicate_of.is_none() {
            self.firsts.insert(decision.story, key.clone());
        }
        self.pending.insert(key, hash);
        if self.touched_set.insert(decision.story) {
            self.touched.push(decision.story);
        }
        self.session.batch.seen_at = clock;
        self.session.record(ItemRecord {
            meta: meta.clone(),
            content_hash: hash,
            time,
            seen_at: clock,
            fingerprint: fingerprint.clone(),
            decision: decision.clone(),
            duplicate_of,
            payload: Some(String::from_utf8_lossy(raw).into_owned()),
        });
    }

    /// The key of the item a decision names as its story's first: the first item recorded
    /// for the story (or for a story it merged), when its id is the one named. When the
    /// engine's first member changed otherwise (it expired), the outlet is not known here:
    /// the key then carries the id alone.
    fn duplicate_key(&mut self, meta: &ArticleMeta, decision: &Decision) -> Option<ItemKey> {
        let id = decision.duplicate_of.as_deref()?;
        let found = std::iter::once(&decision.story)
            .chain(&decision.merged)
            .filter_map(|s| self.firsts.get(s))
            .find(|k| k.id == id)
            .cloned();
        if let Some(key) = &found {
            self.firsts.insert(decision.story, key.clone());
        }
        Some(found.unwrap_or_else(|| {
            tracing::debug!(item = %meta.id, duplicate_of = id, "the outlet of the story's first item is not known");
            ItemKey {
                outlet: None,
                id: id.to_string(),
            }
        }))
    }

    /// True (and recorded) when a story was not emitted before: `--emit unique` writes it.
    pub fn emit_new(&mut self, story: StoryId, item: &ArticleMeta, at: i64) -> bool {
        self.session.emit_new(story, ItemKey::of(item), at)
    }

    /// Records a `--emit stories` line; true when the story was emitted in an earlier run
    /// (the line is then an update).
    pub fn emit_story(&mut self, story: StoryId, canonical: &ArticleMeta, at: i64) -> bool {
        let update = self.emitted_before.contains(&story);
        let kind = if update {
            EmissionKind::Update
        } else {
            EmissionKind::New
        };
        self.session.emit(story, kind, ItemKey::of(canonical), at);
        update
    }

    /// Stories that got an item in this run.
    pub fn touched(&self) -> &[StoryId] {
        &self.touched
    }

    /// The stored input line of a story's canonical version (from an earlier run).
    pub fn canonical_payload(&self, story: StoryId) -> anyhow::Result<Option<String>> {
        Ok(self.store.story(story)?.and_then(|s| s.canonical_payload))
    }

    /// True when the queued batch is full and should be committed.
    pub fn due(&self) -> bool {
        let batch = &self.session.batch;
        batch.items.len() + batch.seen.len() >= COMMIT_EVERY
    }

    /// Commits whatever is queued, in one transaction.
    pub fn commit(&mut self) -> anyhow::Result<()> {
        let batch = self.session.take_batch();
        self.pending.clear();
        self.store.commit(&batch)?;
        Ok(())
    }

    /// Commits the rest and deletes records past retention of the stream's final clock.
    pub fn finish(mut self, clock: i64) -> anyhow::Result<()> {
        self.commit()?;
        self.store
            .expire(ingest::retention_cutoff(clock, self.retention))?;
        Ok(())
    }
}
