//! The engine: ties preparation, signing, the index, the match rule and the merge policy
//! together, one article at a time. Pure and synchronous: no I/O, no clock (callers pass times).

use std::collections::HashMap;

use xxhash_rust::xxh3::xxh3_64;

use crate::config::{BoilerplateConfig, Config, DedupConfig, MergeConfig};
use crate::error::{Error, Result};
use crate::model::{Article, ArticleMeta, Copy, Decision, StoryId, StoryView};
use crate::normalize::boilerplate::{BuiltinList, Learner, LearnerSettings, PatternSet};

use super::cluster::{MatchRule, PairScore};
use super::lsh::{optimal_bands, LshIndex};
use super::merge::{Candidate, MergePolicy};
use super::minhash::{lead_similarity, Fingerprint, Signer, LEAD_SLOTS};
use super::shingle::{Prepared, Preparer};

/// Everything the engine needs from the configuration.
#[derive(Debug, Clone, Default)]
pub struct EngineConfig {
    pub dedup: DedupConfig,
    pub merge: MergeConfig,
    pub boilerplate: BoilerplateConfig,
    /// `[[outlet]] priority` values.
    pub outlet_priority: Vec<(String, i32)>,
    /// `[[outlet]] boilerplate` patterns.
    pub outlet_patterns: Vec<(String, Vec<String>)>,
}

impl EngineConfig {
    pub fn from_config(config: &Config) -> Self {
        EngineConfig {
            dedup: config.dedup.clone(),
            merge: config.merge.clone(),
            boilerplate: config.boilerplate.clone(),
            outlet_priority: config
                .outlets
                .iter()
                .map(|o| (o.name.clone(), o.priority))
                .collect(),
            outlet_patterns: config
                .outlets
                .iter()
                .filter(|o| !o.boilerplate.is_empty())
                .map(|o| (o.name.clone(), o.boilerplate.clone()))
                .collect(),
        }
    }
}

/// Counters for summaries and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    pub articles: u64,
    pub duplicates: u64,
    pub stories: u64,
    pub candidates_checked: u64,
    pub empty_texts: u64,
}

/// Candidates walked per band bucket at most: bounds the work of one query when thousands of
/// near-identical copies share a bucket.
const BUCKET_WALK: usize = 64;
const NO_DOC: u32 = u32::MAX;

#[derive(Debug, Clone)]
struct Doc {
    story: u32,
    shingles: u32,
    words: u32,
    time: i64,
    published: Option<i64>,
    rank: i64,
    arrival: u64,
    /// Still in the index (inside the dedup window).
    indexed: bool,
}

#[derive(Debug, Clone)]
struct Story {
    id: StoryId,
    members: Vec<u32>,
    canonical: u32,
}

/// The online dedup engine. See the crate docs for the data flow.
pub struct Engine {
    config: EngineConfig,
    preparer: Preparer,
    signer: Signer,
    learner: Option<Learner>,
    rule: MatchRule,
    policy: MergePolicy,
    window: i64,
    index: LshIndex,
    /// 16-bit truncated signatures, `slots` per document (equal-slot counting needs no more).
    sigs: Vec<u16>,
    /// 16-bit truncated lead sketches, `LEAD_SLOTS` per document.
    leads: Vec<u16>,
    docs: Vec<Doc>,
    metas: Vec<ArticleMeta>,
    stories: Vec<Story>,
    story_slot: HashMap<StoryId, u32>,
    next_story: u64,
    exact: HashMap<u64, u32>,
    stamp: Vec<u32>,
    epoch: u32,
    clock: i64,
    arrivals: u64,
    stats: EngineStats,
    keys: Vec<u32>,
    sig16: Vec<u16>,
}

impl Engine {
    /// Builds an engine. Fails only on invalid boilerplate patterns.
    pub fn new(config: EngineConfig) -> Result<Self> {
        let d = &config.dedup;
        let slots = d.permutations.get();
        let rule = MatchRule {
            threshold: d.threshold as f32,
            containment: d.containment as f32,
            min_length_ratio: d.min_length_ratio as f32,
        };
        let (bands, rows) = optimal_bands(rule.lowest_jaccard() as f64, slots);
        let patterns = PatternSet::new(
            &config.boilerplate.patterns,
            config.outlet_patterns.iter().cloned(),
        )
        .map_err(|message| Error::ConfigInvalid {
            origin: "boilerplate".to_string(),
            problems: vec![message],
        })?;
        let preparer = Preparer::new(
            d.shingle_size.get(),
            BuiltinList::new(config.boilerplate.builtin),
            patterns,
        );
        let learner = config.boilerplate.learn.then(|| {
            Learner::new(LearnerSettings {
                min_share: config.boilerplate.learn_min_share,
                min_items: config.boilerplate.learn_min_items.get(),
                window: config.boilerplate.learn_window.get(),
            })
        });
        let policy = MergePolicy::new(
            config.merge.order.clone(),
            &config.merge.outlet_priority,
            config.outlet_priority.iter().cloned(),
        );
        Ok(Engine {
            signer: Signer::new(d.scheme, slots),
            window: d.window.as_secs().min(i64::MAX as u64) as i64,
            index: LshIndex::new(bands, rows),
            config,
            preparer,
            learner,
            rule,
            policy,
            sigs: Vec::new(),
            leads: Vec::new(),
            docs: Vec::new(),
            metas: Vec::new(),
            stories: Vec::new(),
            story_slot: HashMap::new(),
            next_story: 1,
            exact: HashMap::new(),
            stamp: Vec::new(),
            epoch: 0,
            clock: 0,
            arrivals: 0,
            stats: EngineStats::default(),
            keys: Vec::new(),
            sig16: Vec::new(),
        })
    }

    /// An engine with the default configuration.
    pub fn with_defaults() -> Self {
        Engine::new(EngineConfig::default()).expect("the default config has no patterns")
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The stateless first stage, shareable across threads.
    pub fn preparer(&self) -> &Preparer {
        &self.preparer
    }

    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    pub fn rule(&self) -> MatchRule {
        self.rule
    }

    /// (bands, rows) of the LSH index.
    pub fn bands(&self) -> (usize, usize) {
        (self.index.bands(), self.index.rows())
    }

    /// The latest time (Unix seconds) seen so far: the stream's clock.
    pub fn clock(&self) -> i64 {
        self.clock
    }

    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    pub fn learner(&self) -> Option<&Learner> {
        self.learner.as_ref()
    }

    pub fn learner_mut(&mut self) -> Option<&mut Learner> {
        self.learner.as_mut()
    }

    /// Stage 1: normalise and shingle (pure; see [`Preparer`]).
    pub fn prepare(&self, article: &Article) -> Prepared {
        self.preparer
            .prepare(article.meta.outlet.as_deref(), &article.body)
    }

    /// Stage 2: learn the outlet's boilerplate from this text, drop what is boilerplate, sign.
    /// If dropping would leave (almost) nothing, the text is signed whole: a short item made
    /// only of recurring lines is still a text.
    pub fn fingerprint(&mut self, outlet: Option<&str>, prepared: &Prepared) -> Fingerprint {
        let paragraphs = &prepared.paragraphs;
        let learned: Vec<bool> = match (&mut self.learner, outlet) {
            (Some(learner), Some(outlet)) => {
                let keys: Vec<u64> = paragraphs.iter().map(|p| p.key).collect();
                learner.observe(outlet, &keys, prepared.text_hash);
                paragraphs
                    .iter()
                    .map(|p| learner.is_boilerplate(outlet, p.key))
                    .collect()
            }
            _ => vec![false; paragraphs.len()],
        };
        let k = self.preparer.shingle_size() as u32;
        let words_where = |keep: &dyn Fn(usize) -> bool| -> u32 {
            (0..paragraphs.len())
                .filter(|&i| keep(i))
                .map(|i| paragraphs[i].words)
                .sum()
        };
        let builtin_kept = words_where(&|i| !paragraphs[i].boilerplate);
        let all_kept = words_where(&|i| !paragraphs[i].boilerplate && !learned[i]);
        let keep: Box<dyn Fn(usize) -> bool> = if all_kept >= k.max(builtin_kept / 10) {
            Box::new(|i| !paragraphs[i].boilerplate && !learned[i])
        } else if builtin_kept > 0 {
            Box::new(|i| !paragraphs[i].boilerplate)
        } else {
            Box::new(|_| true)
        };
        let words = words_where(&keep);
        let parts = (0..paragraphs.len())
            .filter(|&i| keep(i))
            .map(|i| &prepared.shingles[paragraphs[i].start as usize..paragraphs[i].end as usize]);
        self.signer.sign(parts, words)
    }

    /// Both stages and the decision, with the article's `published` time (or the stream's
    /// latest time when it has none) as its time for the dedup window.
    pub fn add(&mut self, article: &Article) -> Decision {
        let prepared = self.prepare(article);
        let fp = self.fingerprint(article.meta.outlet.as_deref(), &prepared);
        let time = article
            .meta
            .published
            .map(|p| p.timestamp())
            .unwrap_or(self.clock);
        self.insert(article.meta.clone(), &fp, time)
    }

    /// Stage 3: finds the best match for a signed article and files it into a story.
    /// `time` (Unix seconds) places it in the dedup window.
    pub fn insert(&mut self, meta: ArticleMeta, fp: &Fingerprint, time: i64) -> Decision {
        self.stats.articles += 1;
        self.clock = self.clock.max(time);
        let doc = self.docs.len() as u32;
        let slots = self.signer.slots();
        self.sig16.clear();
        self.sig16.extend(fp.sig.iter().map(|&v| v as u16));
        let exact_key = xxh3_64(&fp.to_bytes());

        let mut best: Option<(u32, f32)> = None;
        let mut identical = false;
        if fp.is_empty() {
            self.stats.empty_texts += 1;
        } else if let Some(&other) = self.exact.get(&exact_key) {
            // Identical text is always one story, whatever the window.
            best = Some((other, 1.0));
            identical = true;
        } else {
            self.index.keys(&self.sig16, &mut self.keys);
            self.epoch = self.epoch.wrapping_add(1);
            if self.epoch == 0 {
                self.stamp.iter_mut().for_each(|s| *s = 0);
                self.epoch = 1;
            }
            self.stamp.resize(self.docs.len(), 0);
            let mut found: Vec<u32> = Vec::new();
            let stamp = &mut self.stamp;
            let epoch = self.epoch;
            self.index.candidates(&self.keys, BUCKET_WALK, |c| {
                if let Some(s) = stamp.get_mut(c as usize) {
                    if *s != epoch {
                        *s = epoch;
                        found.push(c);
                    }
                }
            });
            for c in found {
                let other = &self.docs[c as usize];
                if !other.indexed || (other.time - time).abs() > self.window {
                    continue;
                }
                self.stats.candidates_checked += 1;
                let theirs = &self.sigs[c as usize * slots..(c as usize + 1) * slots];
                let equal = theirs
                    .iter()
                    .zip(&self.sig16)
                    .filter(|(a, b)| a == b)
                    .count();
                let mut pair =
                    PairScore::new(equal as f32 / slots as f32, fp.shingles, other.shingles);
                if self.rule.containment_applies(&pair) {
                    let theirs =
                        &self.leads[c as usize * LEAD_SLOTS..(c as usize + 1) * LEAD_SLOTS];
                    let mine: Vec<u16> = fp.lead.iter().map(|&v| v as u16).collect();
                    pair = pair.with_lead(lead_similarity(&mine, theirs));
                }
                if let Some(score) = self.rule.score(pair) {
                    // Equal scores go to the older story: when an early copy missed its
                    // original and started a story of its own, later copies that match both
                    // rejoin the original story instead of splitting it further.
                    let better = match best {
                        None => true,
                        Some((b, s)) => {
                            score > s + 1e-6
                                || (score > s - 1e-6
                                    && self.docs[c as usize].story < self.docs[b as usize].story)
                        }
                    };
                    if better {
                        best = Some((c, score));
                    }
                }
            }
        }

        let published = meta.published.map(|p| p.timestamp());
        let rank = self.policy.rank(meta.outlet.as_deref());
        let arrival = self.arrivals;
        self.arrivals += 1;
        let story_slot = match best {
            Some((other, _)) => self.docs[other as usize].story,
            None => {
                let id = StoryId(self.next_story);
                self.next_story += 1;
                let slot = self.stories.len() as u32;
                self.stories.push(Story {
                    id,
                    members: Vec::new(),
                    canonical: NO_DOC,
                });
                self.story_slot.insert(id, slot);
                self.stats.stories += 1;
                slot
            }
        };
        if best.is_some() {
            self.stats.duplicates += 1;
        }
        let indexed = !fp.is_empty() && !identical;
        self.docs.push(Doc {
            story: story_slot,
            shingles: fp.shingles,
            words: fp.words,
            time,
            published,
            rank,
            arrival,
            indexed,
        });
        self.sigs.extend_from_slice(&self.sig16);
        self.push_lead(fp);
        self.metas.push(meta);
        if indexed {
            let keys = self.keys_for_insert();
            self.index.insert(doc, &keys);
            self.keys = keys;
            self.exact.insert(exact_key, doc);
        }
        let became_canonical = self.join(story_slot, doc);
        let story = &self.stories[story_slot as usize];
        Decision {
            story: story.id,
            duplicate_of: best.map(|_| self.metas[story.members[0] as usize].id.clone()),
            score: best.map(|(_, s)| s),
            became_canonical,
        }
    }

    fn push_lead(&mut self, fp: &Fingerprint) {
        let start = self.leads.len();
        self.leads
            .extend(fp.lead.iter().take(LEAD_SLOTS).map(|&v| v as u16));
        self.leads.resize(start + LEAD_SLOTS, u16::MAX);
    }

    fn keys_for_insert(&mut self) -> Vec<u32> {
        // The query above already computed the keys unless the text was identical or empty.
        let mut keys = std::mem::take(&mut self.keys);
        if keys.len() != self.index.bands() {
            self.index.keys(&self.sig16, &mut keys);
        }
        keys
    }

    /// Adds `doc` to a story; true when it became the canonical version.
    fn join(&mut self, story_slot: u32, doc: u32) -> bool {
        let candidate = |d: u32, docs: &[Doc]| {
            let d = &docs[d as usize];
            Candidate {
                rank: d.rank,
                words: d.words,
                published: d.published,
                arrival: d.arrival,
            }
        };
        let story = &mut self.stories[story_slot as usize];
        story.members.push(doc);
        let wins = story.canonical == NO_DOC
            || self.policy.compare(
                &candidate(doc, &self.docs),
                &candidate(story.canonical, &self.docs),
            ) == std::cmp::Ordering::Greater;
        if wins {
            story.canonical = doc;
        }
        wins
    }

    /// Makes new stories start at `next` or later, so ids a store used for stories that are
    /// no longer in the index (outside the window, or deleted) are never handed out again.
    /// Never moves the counter back.
    pub fn reserve_story_ids(&mut self, next: u64) {
        self.next_story = self.next_story.max(next);
    }

    /// Re-adds an article decided in an earlier run (when rebuilding from a store): it joins
    /// `story` without being matched. `canonical` marks the story's current canonical version.
    pub fn restore(
        &mut self,
        meta: ArticleMeta,
        fp: &Fingerprint,
        time: i64,
        story: StoryId,
        canonical: bool,
    ) {
        self.clock = self.clock.max(time);
        self.next_story = self.next_story.max(story.0 + 1);
        let story_slot = match self.story_slot.get(&story) {
            Some(&s) => s,
            None => {
                let slot = self.stories.len() as u32;
                self.stories.push(Story {
                    id: story,
                    members: Vec::new(),
                    canonical: NO_DOC,
                });
                self.story_slot.insert(story, slot);
                slot
            }
        };
        let doc = self.docs.len() as u32;
        self.sig16.clear();
        self.sig16.extend(fp.sig.iter().map(|&v| v as u16));
        let exact_key = xxh3_64(&fp.to_bytes());
        let identical = self.exact.contains_key(&exact_key);
        let indexed = !fp.is_empty() && !identical;
        self.docs.push(Doc {
            story: story_slot,
            shingles: fp.shingles,
            words: fp.words,
            time,
            published: meta.published.map(|p| p.timestamp()),
            rank: self.policy.rank(meta.outlet.as_deref()),
            arrival: self.arrivals,
            indexed,
        });
        self.arrivals += 1;
        self.sigs.extend_from_slice(&self.sig16);
        self.push_lead(fp);
        self.metas.push(meta);
        if indexed {
            self.index.keys(&self.sig16, &mut self.keys);
            let keys = std::mem::take(&mut self.keys);
            self.index.insert(doc, &keys);
            self.keys = keys;
            self.exact.insert(exact_key, doc);
        }
        let s = &mut self.stories[story_slot as usize];
        s.members.push(doc);
        if canonical || s.canonical == NO_DOC {
            s.canonical = doc;
        }
    }

    /// Drops from the index every article older than the window before `now` (Unix seconds),
    /// and forgets stories all of whose articles are gone. Returns the forgotten stories.
    /// Call it now and then from long-running processes; the store keeps the records.
    pub fn expire(&mut self, now: i64) -> Vec<StoryId> {
        let horizon = now.saturating_sub(self.window);
        let keep: Vec<bool> = self.docs.iter().map(|d| d.time >= horizon).collect();
        if keep.iter().all(|&k| k) {
            return Vec::new();
        }
        let slots = self.signer.slots();
        let old_docs = std::mem::take(&mut self.docs);
        let old_metas = std::mem::take(&mut self.metas);
        let old_sigs = std::mem::take(&mut self.sigs);
        let old_leads = std::mem::take(&mut self.leads);
        let old_stories = std::mem::take(&mut self.stories);
        self.index.clear();
        self.exact.clear();
        self.story_slot.clear();
        self.stamp.clear();
        let mut remap = vec![NO_DOC; old_docs.len()];
        let mut forgotten = Vec::new();
        for story in old_stories {
            let live: Vec<u32> = story
                .members
                .iter()
                .copied()
                .filter(|&m| keep[m as usize])
                .collect();
            if live.is_empty() {
                forgotten.push(story.id);
                continue;
            }
            let slot = self.stories.len() as u32;
            let mut members = Vec::with_capacity(live.len());
            for m in live {
                let new = self.docs.len() as u32;
                remap[m as usize] = new;
                let mut d = old_docs[m as usize].clone();
                d.story = slot;
                let sig = &old_sigs[m as usize * slots..(m as usize + 1) * slots];
                self.sigs.extend_from_slice(sig);
                self.leads.extend_from_slice(
                    &old_leads[m as usize * LEAD_SLOTS..(m as usize + 1) * LEAD_SLOTS],
                );
                if d.indexed {
                    let key = xxh3_64(
                        &sig.iter()
                            .flat_map(|v| v.to_le_bytes())
                            .collect::<Vec<u8>>(),
                    );
                    self.index.keys(sig, &mut self.keys);
                    let keys = std::mem::take(&mut self.keys);
                    self.index.insert(new, &keys);
                    self.keys = keys;
                    self.exact.entry(key).or_insert(new);
                }
                self.docs.push(d);
                self.metas.push(old_metas[m as usize].clone());
                members.push(new);
            }
            let canonical = match remap[story.canonical as usize] {
                NO_DOC => members[0],
                c => c,
            };
            self.story_slot.insert(story.id, slot);
            self.stories.push(Story {
                id: story.id,
                members,
                canonical,
            });
        }
        // The exact map was keyed on full signatures; after a rebuild it is keyed on the
        // truncated ones, which only narrows it: identical texts still match through the index.
        self.exact.clear();
        forgotten
    }

    /// Articles held.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Stories held.
    pub fn story_count(&self) -> usize {
        self.stories.len()
    }

    /// The story an article id belongs to (first article with that id).
    pub fn story_of(&self, id: &str) -> Option<StoryId> {
        self.metas
            .iter()
            .position(|m| m.id == id)
            .map(|i| self.stories[self.docs[i].story as usize].id)
    }

    /// One story with its canonical version and every copy, scored against the canonical.
    pub fn story(&self, id: StoryId) -> Option<StoryView> {
        self.story_slot
            .get(&id)
            .map(|&slot| self.view(&self.stories[slot as usize]))
    }

    /// Every story, in order of creation.
    pub fn stories(&self) -> Vec<StoryView> {
        self.stories.iter().map(|s| self.view(s)).collect()
    }

    /// Approximate heap bytes of the index and signatures (metadata excluded).
    pub fn index_bytes(&self) -> usize {
        self.index.heap_bytes()
            + self.sigs.capacity() * 2
            + self.docs.capacity() * std::mem::size_of::<Doc>()
            + self.exact.capacity() * 13
    }

    fn similarity(&self, a: u32, b: u32) -> f32 {
        if a == b {
            return 1.0;
        }
        let slots = self.signer.slots();
        let (da, db) = (&self.docs[a as usize], &self.docs[b as usize]);
        let sa = &self.sigs[a as usize * slots..(a as usize + 1) * slots];
        let sb = &self.sigs[b as usize * slots..(b as usize + 1) * slots];
        let equal = sa.iter().zip(sb).filter(|(x, y)| x == y).count();
        let pair = PairScore::new(equal as f32 / slots as f32, da.shingles, db.shingles);
        let la = &self.leads[a as usize * LEAD_SLOTS..(a as usize + 1) * LEAD_SLOTS];
        let lb = &self.leads[b as usize * LEAD_SLOTS..(b as usize + 1) * LEAD_SLOTS];
        let contained = pair.length_ratio >= self.rule.min_length_ratio
            && lead_similarity(la, lb) >= super::cluster::MIN_LEAD_SIMILARITY;
        if contained {
            pair.jaccard.max(pair.containment)
        } else {
            pair.jaccard
        }
    }

    fn view(&self, story: &Story) -> StoryView {
        let copies = story
            .members
            .iter()
            .map(|&m| {
                let meta = &self.metas[m as usize];
                Copy {
                    id: meta.id.clone(),
                    outlet: meta.outlet.clone(),
                    url: meta.url.clone(),
                    title: meta.title.clone(),
                    published: meta.published,
                    score: self.similarity(m, story.canonical),
                }
            })
            .collect();
        StoryView {
            story: story.id,
            canonical: self.metas[story.canonical as usize].clone(),
            copies,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_story_ids_are_not_reused_and_never_move_back() {
        let mut engine = Engine::with_defaults();
        engine.reserve_story_ids(42);
        engine.reserve_story_ids(7);
        let d = engine.add(&Article::new(
            "a",
            "one story about a river dam and the talks on its water rights",
        ));
        assert_eq!(d.story, StoryId(42));
        let e = engine.add(&Article::new(
            "b",
            "an unrelated report on the city budget and school funding plans",
        ));
        assert_eq!(e.story, StoryId(43));
    }
}
