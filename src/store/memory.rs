//! [`Store`] in memory: the same batches and answers as [`super::SqliteStore`], kept for the
//! life of the process. The poller without a database runs on it, so there is one path from
//! a poll to its output (batch, commit, outbox, output file) with or without a database.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::dedup::Fingerprint;
use crate::error::Result;
use crate::model::{ArticleMeta, StoryId};

use super::{
    Batch, CachedPage, EmissionKind, Expired, HostState, ItemKey, OutletCounters, OutletState,
    OutputMark, PollResult, PollState, RestoreItem, SeenItem, Snapshot, Store, StoredCopy,
    StoredStory, StoryMerge, StoryQuery,
};

/// Pages the memory store caches before it starts over (a database expires them instead).
const MAX_PAGES: usize = 10_000;

#[derive(Debug, Clone)]
struct Row {
    meta: ArticleMeta,
    content_hash: u64,
    time: i64,
    first_seen: i64,
    last_seen: i64,
    fingerprint: Fingerprint,
    story: u64,
    payload: Option<String>,
}

#[derive(Debug, Clone, Copy)]
struct StoryRow {
    /// Sequence number of the canonical item.
    canonical: u64,
    first_seen: i64,
    last_seen: i64,
}

/// The in-memory store. `MemoryStore::default()` is empty.
#[derive(Debug, Default)]
pub struct MemoryStore {
    /// Items by sequence number (the order first stored).
    items: BTreeMap<u64, Row>,
    by_key: HashMap<ItemKey, u64>,
    /// Each story's items by sequence number, so a batch's bookkeeping costs the stories it
    /// touches, not a scan of every stored item.
    members: HashMap<u64, BTreeSet<u64>>,
    next_seq: u64,
    stories: BTreeMap<u64, StoryRow>,
    aliases: BTreeMap<u64, u64>,
    /// Stories emitted as new.
    emitted: HashSet<u64>,
    outlets: BTreeMap<String, OutletState>,
    hosts: BTreeMap<String, HostState>,
    learner: BTreeMap<String, Vec<Vec<u64>>>,
    pages: HashMap<String, CachedPage>,
    outbox: BTreeMap<i64, String>,
    next_line: i64,
    mark: Option<OutputMark>,
    next_story: u64,
    /// The polls' tallies summed by outlet and counter name, as SQLite's `outlet_counter`.
    counter_sums: BTreeMap<String, BTreeMap<String, i64>>,
    /// The last successful fetch's item count and repairs by outlet, as `outlet_fetch`.
    last_fetch: BTreeMap<String, (u64, Vec<String>)>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn key(meta: &ArticleMeta) -> ItemKey {
        ItemKey::of(meta)
    }

    /// Recounts `stories`, drops those left empty and re-points a canonical that left its
    /// story at the story's first member, as the SQLite store does. Returns how many dropped.
    fn settle(&mut self, touched: &BTreeSet<u64>) -> u64 {
        let mut dropped = 0;
        for &s in touched {
            let first = self.members.get(&s).and_then(|m| m.first().copied());
            match first {
                None => {
                    if self.stories.remove(&s).is_some() {
                        dropped += 1;
                    }
                }
                Some(first) => {
                    if let Some(row) = self.stories.get_mut(&s) {
                        let canonical_here =
                            self.items.get(&row.canonical).is_some_and(|r| r.story == s);
                        if !canonical_here {
                            row.canonical = first;
                        }
                    }
                }
            }
        }
        dropped
    }

    /// Moves item `seq` from story `from` (if any) to story `to` in the members index.
    fn file_member(&mut self, seq: u64, from: Option<u64>, to: u64) {
        if let Some(from) = from.filter(|&f| f != to) {
            self.unfile_member(seq, from);
        }
        self.members.entry(to).or_default().insert(seq);
    }

    fn unfile_member(&mut self, seq: u64, story: u64) {
        if let Some(m) = self.members.get_mut(&story) {
            m.remove(&seq);
            if m.is_empty() {
                self.members.remove(&story);
            }
        }
    }

    fn resolve(&self, id: StoryId) -> StoryId {
        self.aliases.get(&id.0).map_or(id, |&s| StoryId(s))
    }

    fn stored_story(&self, id: u64, row: &StoryRow) -> StoredStory {
        let mut members: Vec<(u64, &Row)> = self
            .members
            .get(&id)
            .into_iter()
            .flatten()
            .filter_map(|seq| self.items.get(seq).map(|r| (*seq, r)))
            .collect();
        members.sort_by_key(|(seq, r)| (r.first_seen, *seq));
        let canonical = members
            .iter()
            .position(|(seq, _)| *seq == row.canonical)
            .unwrap_or(0);
        StoredStory {
            story: StoryId(id),
            canonical,
            canonical_payload: members.get(canonical).and_then(|(_, r)| r.payload.clone()),
            first_seen: row.first_seen,
            last_seen: row.last_seen,
            copies: members
                .iter()
                .map(|(_, r)| StoredCopy {
                    meta: r.meta.clone(),
                    first_seen: r.first_seen,
                    fingerprint: Some(r.fingerprint.clone()),
                    payload: r.payload.clone(),
                })
                .collect(),
            emitted: self.emitted.contains(&id),
        }
    }
}

/// The story `id` stands for after the batch's merges.
fn merged_into(merges: &[StoryMerge], mut id: StoryId) -> StoryId {
    for _ in 0..=merges.len() {
        match merges.iter().find(|m| m.absorbed == id) {
            Some(m) => id = m.survivor,
            None => break,
        }
    }
    id
}

impl Store for MemoryStore {
    fn load(&self, since: i64) -> Result<Snapshot> {
        let items: Vec<RestoreItem> = self
            .items
            .iter()
            .filter(|(_, r)| r.time >= since)
            .map(|(&seq, r)| RestoreItem {
                meta: r.meta.clone(),
                fingerprint: r.fingerprint.clone(),
                time: r.time,
                story: StoryId(r.story),
                canonical: self
                    .stories
                    .get(&r.story)
                    .is_some_and(|s| s.canonical == seq),
            })
            .collect();
        let windowed: HashSet<u64> = items.iter().map(|i| i.story.0).collect();
        let max_story = self.stories.keys().next_back().map_or(1, |m| m + 1);
        Ok(Snapshot {
            items,
            emitted: self
                .emitted
                .iter()
                .filter(|s| windowed.contains(s))
                .map(|&s| StoryId(s))
                .collect(),
            next_story: self.next_story.max(max_story).max(1),
            clock: self.items.values().map(|r| r.time).max(),
            learner: self
                .learner
                .iter()
                .map(|(o, r)| (o.clone(), r.clone()))
                .collect(),
            aliases: self
                .aliases
                .iter()
                .map(|(&a, &s)| StoryMerge {
                    absorbed: StoryId(a),
                    survivor: StoryId(s),
                })
                .collect(),
        })
    }

    fn seen(&self, key: &ItemKey) -> Result<Option<u64>> {
        Ok(self
            .by_key
            .get(key)
            .and_then(|seq| self.items.get(seq))
            .map(|r| r.content_hash))
    }

    fn commit(&mut self, batch: &Batch) -> Result<()> {
        if let Some((name, o)) = &batch.outlet {
            self.outlets.insert(name.clone(), o.clone());
        }
        for (name, h) in &batch.hosts {
            self.hosts.insert(name.clone(), h.clone());
        }
        let mut touched = BTreeSet::new();
        let mut max_story = 0u64;
        for m in &batch.merges {
            let (absorbed, survivor) = (m.absorbed.0, m.survivor.0);
            if absorbed == survivor {
                continue;
            }
            for seq in self.members.remove(&absorbed).unwrap_or_default() {
                if let Some(r) = self.items.get_mut(&seq) {
                    r.story = survivor;
                }
                self.members.entry(survivor).or_default().insert(seq);
            }
            if let Some(gone) = self.stories.get(&absorbed).copied() {
                if let Some(s) = self.stories.get_mut(&survivor) {
                    s.first_seen = s.first_seen.min(gone.first_seen);
                    s.last_seen = s.last_seen.max(gone.last_seen);
                }
            }
            for s in self.aliases.values_mut().filter(|s| **s == absorbed) {
                *s = survivor;
            }
            self.aliases.insert(absorbed, survivor);
            touched.insert(absorbed);
            touched.insert(survivor);
            max_story = max_story.max(absorbed).max(survivor);
        }
        for item in &batch.items {
            let key = MemoryStore::key(&item.meta);
            let story = merged_into(&batch.merges, item.decision.story).0;
            let seq = match self.by_key.get(&key) {
                Some(&seq) => seq,
                None => {
                    self.next_seq += 1;
                    self.by_key.insert(key, self.next_seq);
                    self.next_seq
                }
            };
            let old_story = self.items.get(&seq).map(|old| old.story);
            let first_seen = match self.items.get(&seq) {
                Some(old) => {
                    if old.story != story {
                        touched.insert(old.story);
                    }
                    old.first_seen
                }
                None => item.seen_at,
            };
            self.file_member(seq, old_story, story);
            self.items.insert(
                seq,
                Row {
                    meta: item.meta.clone(),
                    content_hash: item.content_hash,
                    time: item.time,
                    first_seen,
                    last_seen: item.seen_at,
                    fingerprint: item.fingerprint.clone(),
                    story,
                    payload: item.payload.clone(),
                },
            );
            let canonical = item.decision.became_canonical
                && (story == item.decision.story.0 || batch.merges.is_empty());
            let row = self.stories.entry(story).or_insert(StoryRow {
                canonical: seq,
                first_seen: item.seen_at,
                last_seen: item.seen_at,
            });
            row.first_seen = row.first_seen.min(item.seen_at);
            row.last_seen = row.last_seen.max(item.seen_at);
            if canonical {
                row.canonical = seq;
            }
            touched.insert(story);
            max_story = max_story.max(item.decision.story.0);
        }
        self.settle(&touched);
        for key in &batch.seen {
            if let Some(r) = self.by_key.get(key).and_then(|s| self.items.get_mut(s)) {
                r.last_seen = r.last_seen.max(batch.seen_at);
            }
        }
        for e in &batch.emissions {
            if e.kind == EmissionKind::New {
                self.emitted.insert(merged_into(&batch.merges, e.story).0);
            }
            max_story = max_story.max(e.story.0);
        }
        for (outlet, recent) in &batch.learner {
            self.learner.insert(outlet.clone(), recent.clone());
        }
        for p in &batch.pages {
            if self.pages.len() >= MAX_PAGES {
                self.pages.clear();
            }
            self.pages.insert(p.url.clone(), p.clone());
        }
        if let Some(tally) = &batch.tally {
            let sums = self.counter_sums.entry(tally.outlet.clone()).or_default();
            for (name, n) in tally.increments() {
                let v = sums.entry(name).or_insert(0);
                *v = v.saturating_add(n);
            }
            if tally.result == PollResult::Ok {
                self.last_fetch.insert(
                    tally.outlet.clone(),
                    (tally.items.min(i64::MAX as u64), tally.repairs.clone()),
                );
            }
        }
        for line in &batch.lines {
            self.next_line += 1;
            self.outbox.insert(self.next_line, line.clone());
        }
        if max_story > 0 {
            self.next_story = self.next_story.max(max_story + 1);
        }
        Ok(())
    }

    fn expire(&mut self, before: i64) -> Result<Expired> {
        let old: Vec<u64> = self
            .items
            .iter()
            .filter(|(_, r)| r.last_seen < before)
            .map(|(&seq, _)| seq)
            .collect();
        let mut touched = BTreeSet::new();
        for seq in &old {
            if let Some(r) = self.items.remove(seq) {
                self.by_key.remove(&MemoryStore::key(&r.meta));
                self.unfile_member(*seq, r.story);
                touched.insert(r.story);
            }
        }
        let dropped = self.settle(&touched);
        self.pages.retain(|_, p| p.fetched_at >= before);
        let live: HashSet<u64> = self.stories.keys().copied().collect();
        self.emitted.retain(|s| live.contains(s));
        Ok(Expired {
            items: old.len() as u64,
            stories: dropped,
        })
    }

    fn stories(&self, query: &StoryQuery) -> Result<Vec<StoredStory>> {
        let since = query.since.unwrap_or(i64::MIN);
        let mut heads: Vec<(&u64, &StoryRow)> = self
            .stories
            .iter()
            .filter(|(_, r)| r.first_seen >= since)
            .collect();
        heads.sort_by(|a, b| b.1.first_seen.cmp(&a.1.first_seen).then(b.0.cmp(a.0)));
        Ok(heads
            .into_iter()
            .take(query.limit.unwrap_or(usize::MAX))
            .map(|(&id, row)| self.stored_story(id, row))
            .collect())
    }

    fn story(&self, id: StoryId) -> Result<Option<StoredStory>> {
        let id = self.resolve(id).0;
        Ok(self.stories.get(&id).map(|row| self.stored_story(id, row)))
    }

    fn poll_state(&self) -> Result<PollState> {
        let mut state = PollState {
            outlets: self.outlets.clone(),
            hosts: self.hosts.clone(),
            ..PollState::default()
        };
        for r in self.items.values() {
            state
                .seen
                .outlets
                .entry(r.meta.outlet.clone().unwrap_or_default())
                .or_default()
                .insert(
                    r.meta.id.clone(),
                    SeenItem {
                        content: r.content_hash,
                        first_seen: r.first_seen,
                        last_seen: r.last_seen,
                    },
                );
        }
        Ok(state)
    }

    fn output_pending(&self) -> Result<Vec<(i64, String)>> {
        Ok(self.outbox.iter().map(|(&s, l)| (s, l.clone())).collect())
    }

    fn output_mark(&self) -> Result<Option<OutputMark>> {
        Ok(self.mark.clone())
    }

    fn output_written(&mut self, seq: i64, mark: &OutputMark) -> Result<()> {
        self.outbox.retain(|&s, _| s > seq);
        self.mark = Some(mark.clone());
        Ok(())
    }

    fn page(&self, url: &str) -> Result<Option<CachedPage>> {
        Ok(self.pages.get(url).cloned())
    }

    fn counters(&self) -> Result<BTreeMap<String, OutletCounters>> {
        let mut out: BTreeMap<String, OutletCounters> = BTreeMap::new();
        for (outlet, sums) in &self.counter_sums {
            let c = out.entry(outlet.clone()).or_default();
            for (name, &value) in sums {
                c.set(name, value);
            }
        }
        for (outlet, (items, repairs)) in &self.last_fetch {
            let c = out.entry(outlet.clone()).or_default();
            c.items = *items;
            c.repairs = repairs.clone();
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::Engine;
    use crate::model::Article;
    use crate::store::{content_hash, Emission, ItemRecord, SqliteStore};

    const TALKS: &str = "Talks between Russia and the United States will start immediately \
        after the New Year holidays, the top diplomat announced on Monday in a televised \
        interview with reporters in the capital.";
    const RATES: &str = "The central bank raised its key interest rate by half a percentage \
        point on Thursday, the largest increase in two decades, to fight inflation that shows \
        no sign of slowing this year.";

    fn batch(engine: &mut Engine, items: &[(&str, &str, &str, i64)]) -> Batch {
        let mut batch = Batch::default();
        for &(outlet, id, body, at) in items {
            let a = Article::new(id, body).with_outlet(outlet);
            let prepared = engine.prepare(&a);
            let fp = engine.fingerprint(Some(outlet), &prepared);
            let decision = engine.insert(a.meta.clone(), &fp, at);
            if decision.became_canonical && decision.duplicate_of.is_none() {
                batch.emissions.push(Emission {
                    story: decision.story,
                    kind: EmissionKind::New,
                    item: ItemKey::of(&a.meta),
                    at,
                });
            }
            batch.items.push(ItemRecord {
                meta: a.meta.clone(),
                content_hash: content_hash(body),
                time: at,
                seen_at: at,
                fingerprint: fp,
                duplicate_of: None,
                decision,
                payload: Some(format!("{{\"id\":\"{id}\"}}")),
            });
        }
        batch.lines = vec!["{\"n\":1}".to_string()];
        let outlet = items.first().map_or("", |i| i.0);
        batch.tally = Some(crate::store::PollTally {
            outlet: outlet.to_string(),
            result: PollResult::Ok,
            fetch: std::time::Duration::from_millis(120),
            items: items.len() as u64,
            new: items.len() as u64,
            duplicates: 0,
            engine: std::time::Duration::from_micros(700),
            repairs: vec!["entities".to_string()],
            full_text: vec![("fetched", 1)],
        });
        batch
    }

    /// The memory store answers as the SQLite store does for the same batches.
    #[test]
    fn it_answers_like_the_sqlite_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut sqlite = SqliteStore::open(&dir.path().join("s.db")).expect("open");
        let mut memory = MemoryStore::new();
        let mut engine = Engine::with_defaults();
        let first = batch(
            &mut engine,
            &[("Wire", "a1", TALKS, 100), ("Wire", "r1", RATES, 110)],
        );
        let copy = format!("{TALKS}\nRead more on our site.");
        let second = batch(&mut engine, &[("Paper", "b1", &copy, 200)]);
        for b in [&first, &second] {
            sqlite.commit(b).expect("sqlite");
            memory.commit(b).expect("memory");
        }
        let shape = |stories: Vec<StoredStory>| -> Vec<(u64, usize, Vec<String>, bool)> {
            stories
                .into_iter()
                .map(|s| {
                    let ids = s.copies.iter().map(|c| c.meta.id.clone()).collect();
                    (s.story.0, s.canonical, ids, s.emitted)
                })
                .collect()
        };
        let q = StoryQuery::default();
        assert_eq!(
            shape(memory.stories(&q).expect("m")),
            shape(sqlite.stories(&q).expect("s"))
        );
        let (m, s) = (memory.load(150).expect("m"), sqlite.load(150).expect("s"));
        assert_eq!(
            (m.items.len(), m.next_story, m.clock),
            (s.items.len(), s.next_story, s.clock)
        );
        assert_eq!(m.emitted, s.emitted);
        let key = ItemKey::new("Paper", "b1");
        assert_eq!(memory.seen(&key).expect("m"), sqlite.seen(&key).expect("s"));
        assert_eq!(memory.output_pending().expect("m").len(), 2);
        let counters = memory.counters().expect("m");
        assert_eq!(counters, sqlite.counters().expect("s"));
        let wire = counters.get("Wire").expect("Wire counted");
        assert_eq!(
            (wire.polls(PollResult::Ok), wire.new, wire.items),
            (1, 2, 2)
        );
        assert_eq!(wire.repairs, ["entities"]);
        let (me, se) = (
            memory.expire(150).expect("m"),
            sqlite.expire(150).expect("s"),
        );
        assert_eq!(me, se);
        assert_eq!(
            shape(memory.stories(&q).expect("m")),
            shape(sqlite.stories(&q).expect("s"))
        );
    }

    /// A merge moves the absorbed story's items to the survivor, in both stores alike, and
    /// expiry takes them out of the story they ended in.
    #[test]
    fn merges_and_expiry_keep_the_story_members_like_the_sqlite_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut sqlite = SqliteStore::open(&dir.path().join("s.db")).expect("open");
        let mut memory = MemoryStore::new();
        let mut engine = Engine::with_defaults();
        let first = batch(
            &mut engine,
            &[("Wire", "a1", TALKS, 100), ("Wire", "r1", RATES, 110)],
        );
        let (talks, rates) = (first.items[0].decision.story, first.items[1].decision.story);
        assert_ne!(talks, rates);
        let mut bridge = batch(&mut engine, &[("Paper", "b1", TALKS, 200)]);
        bridge.merges = vec![StoryMerge {
            absorbed: rates,
            survivor: talks,
        }];
        bridge.items[0].decision.story = talks;
        for b in [&first, &bridge] {
            sqlite.commit(b).expect("sqlite");
            memory.commit(b).expect("memory");
        }
        let ids = |s: Option<StoredStory>| -> Vec<String> {
            let mut ids: Vec<String> = s
                .expect("story")
                .copies
                .iter()
                .map(|c| c.meta.id.clone())
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(ids(memory.story(talks).expect("m")), ["a1", "b1", "r1"]);
        assert_eq!(
            ids(memory.story(rates).expect("m")),
            ids(sqlite.story(rates).expect("s")),
            "the absorbed id resolves to the survivor"
        );
        assert_eq!(
            memory.expire(150).expect("m"),
            sqlite.expire(150).expect("s")
        );
        assert_eq!(ids(memory.story(talks).expect("m")), ["b1"]);
        assert_eq!(
            ids(memory.story(talks).expect("m")),
            ids(sqlite.story(talks).expect("s"))
        );
    }
}
