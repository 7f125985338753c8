//! The engine: ties preparation, signing, the index, the match rule and the merge policy
//! together, one article at a time. Pure and synchronous: no I/O, no clock (callers pass times).

use std::collections::HashMap;

use xxhash_rust::xxh3::xxh3_64;

use crate::config::{BoilerplateConfig, Config, DedupConfig, MergeConfig};
use crate::error::{Error, Result};
use crate::hash::{KeyMap, SpreadMap};
use crate::model::{Article, ArticleMeta, Copy, Decision, StoryId, StoryView};
use crate::normalize::boilerplate::{BuiltinList, Learner, LearnerSettings, PatternSet};
use crate::normalize::chrome::{ChromeRules, SetAside};

use super::cluster::{MatchRule, PairScore, MERGE_MAJORITY};
use super::lsh::{optimal_bands, HeadMap, LshIndex};
use super::merge::{Candidate, MergePolicy};
use super::minhash::{Fingerprint, Signer};
use super::profile::{Profile, MAX_ANCHORS};
use super::shingle::{ParagraphSpan, Prepared, Preparer};

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
    /// Fingerprints made ahead by a [`Speculator`] that were kept.
    pub speculated_kept: u64,
}

/// Candidates walked per band bucket at most: bounds the work of one query when thousands of
/// near-identical copies share a bucket.
const BUCKET_WALK: usize = 64;
/// Newest documents kept per lead anchor.
const ANCHOR_BUCKET: usize = 64;
/// Members of a story compared with a bridging article before a merge, at most.
const MERGE_CHECK: usize = 64;
/// Paragraph keys whose recurrence is tracked, at most; past it the counts start afresh.
const RECURRENCE_CAP: usize = 4_000_000;
/// Recent documents per outlet compared page to page (see [`MatchRule`]'s page rule).
const PAGE_RECENT: usize = 16;
/// Recent live blogs per outlet compared with a new live blog (see [`MatchRule`]'s live-blog
/// rule): captures of one live file are often far apart among the outlet's other pages.
const LIVE_RECENT: usize = 16;
const NO_DOC: u32 = u32::MAX;

/// In how many different stories a paragraph was seen (up to a few), and the last two.
#[derive(Debug, Clone, Copy, Default)]
struct Recurrence {
    stories: u8,
    last: [u64; 2],
}

/// How the engine's indexes reach one text from another (see [`Engine::proposes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CandidatePaths {
    /// A MinHash band agrees (Jaccard candidates).
    pub band: bool,
    /// A lead anchor is shared (containment candidates).
    pub anchor: bool,
    /// The signed texts are identical (found without the index).
    pub identical: bool,
    /// Both are live blogs: compared when they are of one outlet and among its
    /// recent live blogs.
    pub live_blog: bool,
}

impl CandidatePaths {
    pub fn any(&self) -> bool {
        self.band || self.anchor || self.identical || self.live_blog
    }
}

/// What the engine set aside in one text, paragraph by paragraph, and what it matched on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Classified {
    /// Why each paragraph of [`Prepared::paragraphs`] is set aside, or `None` for article text.
    pub reasons: Vec<Option<SetAside>>,
    /// Whether each paragraph went into the signature and profile. Usually the paragraphs
    /// without a reason, and on a bullet-point page the `no_sentence` lines too (see
    /// `is_bullet_page`); when that would leave (almost) nothing, set-aside ones are taken back
    /// (structural chrome first, then learned, then everything), so a short item made only of
    /// recurring lines is still a text.
    pub matched: Vec<bool>,
}

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
    /// [`Profile::page_len`] and [`page_worthy`] of the profile, kept here so the page rule's
    /// candidate filter does not reach into every recent profile.
    page_len: u32,
    page_worthy: bool,
}

impl Doc {
    fn of(fp: &Fingerprint, time: i64, published: Option<i64>, rank: i64, arrival: u64) -> Doc {
        Doc {
            story: u32::MAX,
            shingles: fp.shingles,
            words: fp.words,
            time,
            published,
            rank,
            arrival,
            indexed: false,
            page_len: fp.profile.page_len() as u32,
            page_worthy: page_worthy(&fp.profile),
        }
    }
}

#[derive(Debug, Clone)]
struct Story {
    id: StoryId,
    members: Vec<u32>,
    canonical: u32,
    /// False once merged into another story.
    alive: bool,
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
    /// Exact shingle sets, one per document (empty for signatures restored without one).
    profiles: Vec<std::sync::Arc<Profile>>,
    /// Lead anchor → newest node carrying it (containment candidates); a node is
    /// `doc * MAX_ANCHORS + slot`, and `anchor_next` links each node to the next older one.
    anchor_heads: HeadMap,
    anchor_next: Vec<u32>,
    /// Outlet (hashed) → its newest indexed documents, newest first: the candidates of the
    /// whole-page comparison, which is about snapshots of one outlet's page.
    outlet_recent: SpreadMap<u64, std::collections::VecDeque<u32>>,
    /// Outlet (hashed) → its newest indexed live blogs, newest first.
    outlet_live: SpreadMap<u64, std::collections::VecDeque<u32>>,
    /// Paragraph key → the stories it was seen in (cross-story recurring chrome).
    recurrence: KeyMap<Recurrence>,
    /// Absorbed story → the story it was merged into.
    aliases: HashMap<StoryId, StoryId>,
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
    /// Scratch: one text's paragraph keys for the learner.
    paragraph_keys: Vec<(u64, u32)>,
}

impl Engine {
    /// Builds an engine. Fails only on invalid boilerplate patterns.
    pub fn new(config: EngineConfig) -> Result<Self> {
        let d = &config.dedup;
        let slots = d.permutations.get();
        let rule = MatchRule::from_config(d);
        let (bands, rows) = optimal_bands(rule.lowest_jaccard() as f64, slots);
        let patterns = PatternSet::new(
            &config.boilerplate.patterns,
            config.outlet_patterns.iter().cloned(),
        )
        .map_err(|message| Error::ConfigInvalid {
            origin: "boilerplate".to_string(),
            problems: vec![message],
        })?;
        let preparer = Preparer::with_chrome(
            d.shingle_size.get(),
            BuiltinList::new(config.boilerplate.builtin),
            patterns,
            ChromeRules::new(
                config.boilerplate.chrome,
                config.boilerplate.chrome_min_words.get() as u32,
            ),
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
            profiles: Vec::new(),
            anchor_heads: HeadMap::default(),
            anchor_next: Vec::new(),
            outlet_recent: SpreadMap::default(),
            outlet_live: SpreadMap::default(),
            recurrence: KeyMap::default(),
            aliases: HashMap::new(),
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
            paragraph_keys: Vec::new(),
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

    /// Stage 2: learn the outlet's boilerplate from this text, set aside what is not article
    /// text (see [`Classified`]), sign the rest and build its profile.
    pub fn fingerprint(&mut self, outlet: Option<&str>, prepared: &Prepared) -> Fingerprint {
        self.fingerprint_classified(outlet, prepared).0
    }

    /// [`Engine::fingerprint`], also returning what was set aside and why.
    pub fn fingerprint_classified(
        &mut self,
        outlet: Option<&str>,
        prepared: &Prepared,
    ) -> (Fingerprint, Classified) {
        self.fingerprint_speculated(outlet, prepared, None)
    }

    /// A [`Speculator`] for this engine's settings, for the preparing threads.
    pub fn speculator(&self) -> Speculator {
        Speculator {
            signer: self.signer.clone(),
            k: self.preparer.shingle_size() as u32,
            learner: self.learner.clone(),
        }
    }

    /// [`Engine::speculator`] with the learner's memory of one outlet only (cheap to make
    /// for each poll of a feed: the other outlets' memory is not copied).
    pub fn speculator_for(&self, outlet: Option<&str>) -> Speculator {
        Speculator {
            signer: self.signer.clone(),
            k: self.preparer.shingle_size() as u32,
            learner: match (&self.learner, outlet) {
                (Some(l), Some(o)) => Some(l.clone_outlet(o)),
                (Some(l), None) => Some(Learner::new(l.settings())),
                (None, _) => None,
            },
        }
    }

    /// [`Engine::fingerprint_classified`], taking the fingerprint of `speculated` (made from
    /// the same `prepared`) when this text's matched paragraphs turn out to be the ones it
    /// guessed, so the signing and profile sort are not done again.
    pub fn fingerprint_speculated(
        &mut self,
        outlet: Option<&str>,
        prepared: &Prepared,
        speculated: Option<Speculated>,
    ) -> (Fingerprint, Classified) {
        let paragraphs = &prepared.paragraphs;
        if self.config.boilerplate.recurring_min_stories > 0 {
            // Fetched while the learner works; looked up below and again once inserted.
            for p in paragraphs {
                self.recurrence.prefetch(p.key);
            }
        }
        if let (Some(learner), Some(outlet)) = (&mut self.learner, outlet) {
            let mut keys = std::mem::take(&mut self.paragraph_keys);
            keys.clear();
            keys.extend(paragraphs.iter().map(|p| (p.key, p.words)));
            learner.observe(outlet, &keys, prepared.text_hash);
            self.paragraph_keys = keys;
        }
        let min_prose = self.preparer.chrome().min_words();
        let min_stories = self.config.boilerplate.recurring_min_stories;
        // The outlet is looked up once, not once per paragraph.
        let learned = match (&self.learner, outlet) {
            (Some(l), Some(o)) => Some(l.boilerplate_of(o)),
            _ => None,
        };
        let reasons: Vec<Option<SetAside>> = paragraphs
            .iter()
            .map(|p| {
                p.set_aside
                    .or_else(|| {
                        let learned = learned.as_ref().is_some_and(|is| is(p.key));
                        learned.then_some(SetAside::Learned)
                    })
                    .or_else(|| {
                        let recurs = min_stories > 0
                            && self
                                .recurrence
                                .get(p.key)
                                .is_some_and(|r| r.stories as usize >= min_stories);
                        recurs.then_some(SetAside::Recurring)
                    })
            })
            .collect();
        let k = self.preparer.shingle_size() as u32;
        let (matched, words) = matched_paragraphs(paragraphs, &reasons, k);
        let mut fp = match speculated {
            Some(s) if s.matched == matched => {
                self.stats.speculated_kept += 1;
                s.fp
            }
            _ => matched_fingerprint(&self.signer, prepared, &matched, words),
        };
        if min_stories > 0 {
            fp.paragraph_keys = Vec::with_capacity(paragraphs.len());
            fp.paragraph_keys.extend(
                paragraphs
                    .iter()
                    .zip(&reasons)
                    .filter(|(p, r)| {
                        p.words >= min_prose
                            && !matches!(
                                r,
                                Some(SetAside::Builtin | SetAside::Pattern | SetAside::Learned)
                            )
                    })
                    .map(|(p, _)| p.key),
            );
        }
        (fp, Classified { reasons, matched })
    }

    /// Counts the story an article joined for each of its prose paragraphs.
    fn record_recurrence(&mut self, keys: &[u64], story: StoryId) {
        if self.recurrence.len() > RECURRENCE_CAP {
            self.recurrence.clear();
        }
        for &key in keys {
            let r = self.recurrence.get_or_insert_with(key, Recurrence::default);
            if r.last.contains(&story.0) {
                continue;
            }
            r.stories = r.stories.saturating_add(1);
            r.last = [story.0, r.last[0]];
        }
    }

    /// The pair similarity of two documents held, as [`super::cluster::pair_score`] computes
    /// it for fingerprints (exact from profiles, else from the 16-bit slots).
    fn pair(&self, a: u32, b: u32) -> PairScore {
        let (pa, pb) = (&self.profiles[a as usize], &self.profiles[b as usize]);
        if !pa.is_empty() && !pb.is_empty() {
            return PairScore::from_overlap(&pa.overlap(pb));
        }
        let slots = self.signer.slots();
        let sa = &self.sigs[a as usize * slots..(a as usize + 1) * slots];
        let sb = &self.sigs[b as usize * slots..(b as usize + 1) * slots];
        let equal = sa.iter().zip(sb).filter(|(x, y)| x == y).count();
        let (da, db) = (&self.docs[a as usize], &self.docs[b as usize]);
        PairScore::estimated(equal as f32 / slots as f32, da.shingles, db.shingles)
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

    /// Stage 3: finds the best match for a signed article and files it into a story, merging
    /// stories it bridges (see [`super::cluster`]). `time` (Unix seconds) places it in the
    /// dedup window.
    pub fn insert(&mut self, meta: ArticleMeta, fp: &Fingerprint, time: i64) -> Decision {
        self.stats.articles += 1;
        self.clock = self.clock.max(time);
        let doc = self.docs.len() as u32;
        self.sig16.clear();
        self.sig16.extend(fp.sig.iter().map(|&v| v as u16));
        let exact_key = exact_key(fp);
        let outlet = outlet_key(meta.outlet.as_deref());

        // The new document goes in first (unindexed) so pairs can be scored by document number.
        let published = meta.published.map(|p| p.timestamp());
        let rank = self.policy.rank(meta.outlet.as_deref());
        let arrival = self.arrivals;
        self.arrivals += 1;
        self.docs.push(Doc::of(fp, time, published, rank, arrival));
        self.sigs.extend_from_slice(&self.sig16);
        self.profiles.push(fp.profile.clone());
        self.metas.push(meta);

        let mut best: Option<(u32, f32)> = None;
        let mut identical = false;
        // Best score per matched story slot.
        let mut matched: Vec<(u32, f32)> = Vec::new();
        if fp.is_empty() {
            self.stats.empty_texts += 1;
        } else if let Some(&other) = self.exact.get(&exact_key) {
            // Identical text is always one story, whatever the window.
            best = Some((other, 1.0));
            identical = true;
        } else {
            let found = self.candidates(fp, outlet);
            for c in found {
                let other = &self.docs[c as usize];
                if !other.indexed || (other.time - time).abs() > self.window {
                    continue;
                }
                self.stats.candidates_checked += 1;
                let Some(score) = self.judge(doc, c).1 else {
                    continue;
                };
                let story = self.docs[c as usize].story;
                match matched.iter_mut().find(|(s, _)| *s == story) {
                    Some(m) => m.1 = m.1.max(score),
                    None => matched.push((story, score)),
                }
                // Equal scores go to the older story: when an early copy missed its original
                // and started a story of its own, later copies that match both rejoin the
                // original story instead of splitting it further.
                let better = match best {
                    None => true,
                    Some((b, s)) => {
                        score > s + 1e-6
                            || (score > s - 1e-6 && story < self.docs[b as usize].story)
                    }
                };
                if better {
                    best = Some((c, score));
                }
            }
        }

        let story_slot = match best {
            Some((other, _)) => self.docs[other as usize].story,
            None => self.new_story(),
        };
        if best.is_some() {
            self.stats.duplicates += 1;
        }
        let indexed = !fp.is_empty() && !identical;
        self.docs[doc as usize].story = story_slot;
        self.docs[doc as usize].indexed = indexed;
        if indexed {
            let keys = self.keys_for_insert();
            self.index.insert(doc, &keys);
            self.keys = keys;
            self.exact.insert(exact_key, doc);
            self.index_anchors(doc);
            self.index_outlet(doc, outlet);
        }
        let mut became_canonical = self.join(story_slot, doc);
        let duplicate_of = best.map(|_| {
            let first = self.stories[story_slot as usize].members[0];
            self.metas[first as usize].id.clone()
        });
        let mut merged = Vec::new();
        let mut story_slot = story_slot;
        if self.config.dedup.merge_stories && matched.len() > 1 {
            let (survivor, absorbed) = self.merge_bridged(doc, &matched);
            story_slot = survivor;
            merged = absorbed;
            became_canonical = self.stories[survivor as usize].canonical == doc;
        }
        let story = self.stories[story_slot as usize].id;
        if !fp.paragraph_keys.is_empty() {
            self.record_recurrence(&fp.paragraph_keys, story);
        }
        Decision {
            story,
            duplicate_of,
            score: best.map(|(_, s)| s),
            became_canonical,
            merged,
        }
    }

    fn new_story(&mut self) -> u32 {
        let id = StoryId(self.next_story);
        self.next_story += 1;
        let slot = self.stories.len() as u32;
        self.stories.push(Story {
            id,
            members: Vec::new(),
            canonical: NO_DOC,
            alive: true,
        });
        self.story_slot.insert(id, slot);
        self.stats.stories += 1;
        slot
    }

    /// Candidates from MinHash banding (Jaccard), from the lead anchors (containment) and,
    /// for a page with much set aside, the outlet's recent pages of a similar size (the page
    /// rule).
    fn candidates(&mut self, fp: &Fingerprint, outlet: Option<u64>) -> Vec<u32> {
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
        let mut visit = |c: u32| {
            if let Some(s) = stamp.get_mut(c as usize) {
                if *s != epoch {
                    *s = epoch;
                    found.push(c);
                }
            }
        };
        // The anchors' heads are fetched while the bands are looked up.
        for &anchor in fp.profile.anchors() {
            self.anchor_heads.prefetch(anchor);
        }
        self.index.candidates(&self.keys, BUCKET_WALK, &mut visit);
        // The heads first (independent loads, their misses overlap), then the walks.
        let anchors = fp.profile.anchors();
        let mut heads = [NO_DOC; MAX_ANCHORS];
        for (head, &anchor) in heads.iter_mut().zip(anchors) {
            *head = self.anchor_heads.get(anchor).unwrap_or(NO_DOC);
        }
        for (i, &anchor) in anchors.iter().enumerate() {
            let mut node = match heads.get(i) {
                Some(&h) => h,
                None => self.anchor_heads.get(anchor).unwrap_or(NO_DOC),
            };
            let mut walked = 0;
            while node != NO_DOC && walked < ANCHOR_BUCKET {
                visit(node / MAX_ANCHORS as u32);
                walked += 1;
                node = self
                    .anchor_next
                    .get(node as usize)
                    .copied()
                    .unwrap_or(NO_DOC);
            }
        }
        if let Some(recent) = outlet.and_then(|o| self.outlet_recent.get(&o)) {
            let worthy = page_worthy(&fp.profile);
            let page_len = fp.profile.page_len();
            for &c in recent {
                // Worthiness and sizes from the document first: most recent pages stop there.
                let d = &self.docs[c as usize];
                if (worthy || d.page_worthy)
                    && self.rule.page_sizes_allow(page_len, d.page_len as usize)
                    && page_may_match(&self.rule, &fp.profile, &self.profiles[c as usize])
                {
                    visit(c);
                }
            }
        }
        if fp.profile.is_live_blog() && self.rule.live_blog_containment > 0.0 {
            if let Some(live) = outlet.and_then(|o| self.outlet_live.get(&o)) {
                live.iter().for_each(|&c| visit(c));
            }
        }
        found
    }

    fn index_outlet(&mut self, doc: u32, outlet: Option<u64>) {
        if let Some(o) = outlet {
            let recent = self.outlet_recent.entry(o).or_default();
            recent.push_front(doc);
            recent.truncate(PAGE_RECENT);
            if self.profiles[doc as usize].is_live_blog() {
                let live = self.outlet_live.entry(o).or_default();
                live.push_front(doc);
                live.truncate(LIVE_RECENT);
            }
        }
    }

    /// The pair similarity and the rule's score; the whole-page comparison only when the rest of
    /// the rule does not match and the sizes allow it.
    fn judge(&self, a: u32, b: u32) -> (PairScore, Option<f32>) {
        let mut pair = self.pair(a, b);
        let mut score = self.rule.score(&pair);
        let (pa, pb) = (&self.profiles[a as usize], &self.profiles[b as usize]);
        if score.is_none() && page_may_match(&self.rule, pa, pb) {
            pair.page_jaccard = Some(pa.page_jaccard(pb));
            score = self.rule.score(&pair);
        }
        (pair, score)
    }

    fn index_anchors(&mut self, doc: u32) {
        let base = doc as usize * MAX_ANCHORS;
        if self.anchor_next.len() < base + MAX_ANCHORS {
            self.anchor_next.resize(base + MAX_ANCHORS, NO_DOC);
        }
        let profile = &self.profiles[doc as usize];
        for (slot, &a) in profile.anchors().iter().take(MAX_ANCHORS).enumerate() {
            let node = (base + slot) as u32;
            let previous = self.anchor_heads.insert(a, node).unwrap_or(NO_DOC);
            self.anchor_next[node as usize] = previous;
        }
    }

    /// Merges the stories `doc` matched into the oldest of them, each only when `doc` matches
    /// at least [`MERGE_MAJORITY`] of its members. Returns the surviving slot and the absorbed ids.
    fn merge_bridged(&mut self, doc: u32, matched: &[(u32, f32)]) -> (u32, Vec<StoryId>) {
        let home = self.docs[doc as usize].story;
        let mut qualified: Vec<u32> = Vec::new();
        for &(slot, _) in matched {
            let members: Vec<u32> = self.stories[slot as usize]
                .members
                .iter()
                .copied()
                .filter(|&m| m != doc && self.docs[m as usize].indexed)
                .take(MERGE_CHECK)
                .collect();
            if members.is_empty() {
                continue;
            }
            let hits = members
                .iter()
                .filter(|&&m| self.judge(doc, m).1.is_some())
                .count();
            if hits as f32 >= MERGE_MAJORITY * members.len() as f32 {
                qualified.push(slot);
            }
        }
        if !qualified.contains(&home) || qualified.len() < 2 {
            return (home, Vec::new());
        }
        let survivor = *qualified
            .iter()
            .min_by_key(|&&s| self.stories[s as usize].id)
            .expect("two or more qualified stories");
        let mut absorbed = Vec::new();
        for &slot in &qualified {
            if slot == survivor {
                continue;
            }
            let members = std::mem::take(&mut self.stories[slot as usize].members);
            let id = self.stories[slot as usize].id;
            self.stories[slot as usize].alive = false;
            self.stories[slot as usize].canonical = NO_DOC;
            for &m in &members {
                self.docs[m as usize].story = survivor;
            }
            for m in members {
                self.join(survivor, m);
            }
            self.aliases.insert(id, self.stories[survivor as usize].id);
            self.story_slot.insert(id, survivor);
            absorbed.push(id);
        }
        let survivor_id = self.stories[survivor as usize].id;
        for target in self.aliases.values_mut() {
            if absorbed.contains(target) {
                *target = survivor_id;
            }
        }
        (survivor, absorbed)
    }

    /// Whether the indexes would propose `a` and `b` to each other as candidates (before the
    /// window and the match rule): by a shared MinHash band, by a shared lead anchor.
    pub fn proposes(&self, a: &Fingerprint, b: &Fingerprint) -> CandidatePaths {
        let low = |f: &Fingerprint| -> Vec<u16> { f.sig.iter().map(|&v| v as u16).collect() };
        let (mut ka, mut kb) = (Vec::new(), Vec::new());
        self.index.keys(&low(a), &mut ka);
        self.index.keys(&low(b), &mut kb);
        let band = !a.is_empty() && !b.is_empty() && ka.iter().zip(&kb).any(|(x, y)| x == y);
        let anchor = a
            .profile
            .anchors()
            .iter()
            .any(|x| b.profile.anchors().binary_search(x).is_ok());
        CandidatePaths {
            band,
            anchor,
            identical: !a.is_empty() && exact_key(a) == exact_key(b),
            live_blog: self.rule.live_blog_containment > 0.0
                && a.profile.is_live_blog()
                && b.profile.is_live_blog(),
        }
    }

    /// The story an id now stands for: itself, or the story it was merged into.
    pub fn resolve(&self, id: StoryId) -> StoryId {
        self.aliases.get(&id).copied().unwrap_or(id)
    }

    /// Absorbed story ids and the stories they were merged into.
    pub fn aliases(&self) -> impl Iterator<Item = (StoryId, StoryId)> + '_ {
        self.aliases.iter().map(|(a, b)| (*a, *b))
    }

    /// Records that `absorbed` was merged into `survivor` in an earlier run (when rebuilding
    /// from a store), so [`Engine::resolve`] knows it.
    pub fn restore_alias(&mut self, absorbed: StoryId, survivor: StoryId) {
        if absorbed != survivor {
            self.aliases.insert(absorbed, survivor);
            self.next_story = self.next_story.max(absorbed.0 + 1);
        }
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
    /// `story` (or the story that id was merged into) without being matched. `canonical` marks
    /// the story's current canonical version.
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
        let story = self.resolve(story);
        self.next_story = self.next_story.max(story.0 + 1);
        let story_slot = match self.story_slot.get(&story) {
            Some(&s) => s,
            None => {
                let slot = self.stories.len() as u32;
                self.stories.push(Story {
                    id: story,
                    members: Vec::new(),
                    canonical: NO_DOC,
                    alive: true,
                });
                self.story_slot.insert(story, slot);
                slot
            }
        };
        let doc = self.docs.len() as u32;
        self.sig16.clear();
        self.sig16.extend(fp.sig.iter().map(|&v| v as u16));
        let exact_key = exact_key(fp);
        let identical = self.exact.contains_key(&exact_key);
        let indexed = !fp.is_empty() && !identical;
        self.docs.push(Doc {
            story: story_slot,
            indexed,
            ..Doc::of(
                fp,
                time,
                meta.published.map(|p| p.timestamp()),
                self.policy.rank(meta.outlet.as_deref()),
                self.arrivals,
            )
        });
        self.arrivals += 1;
        self.sigs.extend_from_slice(&self.sig16);
        self.profiles.push(fp.profile.clone());
        self.metas.push(meta);
        if indexed {
            self.index.keys(&self.sig16, &mut self.keys);
            let keys = std::mem::take(&mut self.keys);
            self.index.insert(doc, &keys);
            self.keys = keys;
            self.exact.insert(exact_key, doc);
            self.index_anchors(doc);
            let outlet = outlet_key(self.metas[doc as usize].outlet.as_deref());
            self.index_outlet(doc, outlet);
        }
        let s = &mut self.stories[story_slot as usize];
        s.members.push(doc);
        if canonical || s.canonical == NO_DOC {
            s.canonical = doc;
        }
        if self.config.boilerplate.recurring_min_stories > 0 && !fp.paragraph_keys.is_empty() {
            self.record_recurrence(&fp.paragraph_keys, story);
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
        let mut old_profiles = std::mem::take(&mut self.profiles);
        let old_stories = std::mem::take(&mut self.stories);
        self.index.clear();
        self.anchor_heads.clear();
        self.anchor_next.clear();
        self.outlet_recent.clear();
        self.outlet_live.clear();
        self.exact.clear();
        self.story_slot.clear();
        self.stamp.clear();
        let mut remap = vec![NO_DOC; old_docs.len()];
        let mut forgotten = Vec::new();
        for story in old_stories {
            if !story.alive {
                continue;
            }
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
                self.profiles
                    .push(std::mem::take(&mut old_profiles[m as usize]));
                if d.indexed {
                    self.index.keys(sig, &mut self.keys);
                    let keys = std::mem::take(&mut self.keys);
                    self.index.insert(new, &keys);
                    self.keys = keys;
                    self.index_anchors(new);
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
                alive: true,
            });
        }
        // The outlets' recent pages again, oldest first so the newest end up in front.
        let mut by_arrival: Vec<u32> = (0..self.docs.len() as u32)
            .filter(|&d| self.docs[d as usize].indexed)
            .collect();
        by_arrival.sort_unstable_by_key(|&d| self.docs[d as usize].arrival);
        for d in by_arrival {
            let outlet = outlet_key(self.metas[d as usize].outlet.as_deref());
            self.index_outlet(d, outlet);
        }
        // Aliases of forgotten stories go with them; the rest point at live stories again.
        let live: std::collections::HashSet<StoryId> = self.stories.iter().map(|s| s.id).collect();
        self.aliases.retain(|_, target| live.contains(target));
        for (&alias, target) in &self.aliases {
            if let Some(&slot) = self.story_slot.get(target) {
                self.story_slot.insert(alias, slot);
            }
        }
        // The exact map was keyed on full signatures; it is not rebuilt from the truncated
        // ones: identical texts still match through the index.
        forgotten
    }

    /// Articles held.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Stories held (merged-away stories not counted).
    pub fn story_count(&self) -> usize {
        self.stories.iter().filter(|s| s.alive).count()
    }

    /// The story an article id belongs to now (first article with that id).
    pub fn story_of(&self, id: &str) -> Option<StoryId> {
        self.metas
            .iter()
            .position(|m| m.id == id)
            .map(|i| self.stories[self.docs[i].story as usize].id)
    }

    /// The story of every article held, in arrival order (after expiry: of those still held).
    pub fn article_stories(&self) -> impl Iterator<Item = (&ArticleMeta, StoryId)> + '_ {
        self.metas
            .iter()
            .zip(&self.docs)
            .map(|(m, d)| (m, self.stories[d.story as usize].id))
    }

    /// One story with its canonical version and every copy, scored against the canonical. An
    /// absorbed id gives the story it was merged into.
    pub fn story(&self, id: StoryId) -> Option<StoryView> {
        self.story_slot
            .get(&self.resolve(id))
            .map(|&slot| self.view(&self.stories[slot as usize]))
    }

    /// Every live story, in order of creation.
    pub fn stories(&self) -> Vec<StoryView> {
        self.stories
            .iter()
            .filter(|s| s.alive)
            .map(|s| self.view(s))
            .collect()
    }

    /// Approximate heap bytes of the index and signatures (metadata excluded).
    pub fn index_bytes(&self) -> usize {
        self.index.heap_bytes()
            + self.profiles.iter().map(|p| p.heap_bytes()).sum::<usize>()
            + self.anchor_heads.heap_bytes()
            + self.anchor_next.capacity() * 4
            + self.recurrence.heap_bytes()
            + self.sigs.capacity() * 2
            + self.docs.capacity() * std::mem::size_of::<Doc>()
            + self.exact.capacity() * 13
    }

    /// A copy's score against its canonical: the match score, or Jaccard when the rule would not
    /// match the two directly (a copy can join through another member).
    fn similarity(&self, a: u32, b: u32) -> f32 {
        if a == b {
            return 1.0;
        }
        let (pair, score) = self.judge(a, b);
        score.unwrap_or(pair.jaccard)
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

/// The identity of a signed text: identical texts have equal keys.
/// Of a text's paragraphs with their reasons to be set aside, which ones are matched on (see
/// [`Classified::matched`]) and how many words those have.
fn matched_paragraphs(
    paragraphs: &[ParagraphSpan],
    reasons: &[Option<SetAside>],
    k: u32,
) -> (Vec<bool>, u32) {
    let bullets = is_bullet_page(paragraphs, reasons);
    let words_where = |keep: &dyn Fn(Option<SetAside>) -> bool| -> u32 {
        paragraphs
            .iter()
            .zip(reasons)
            .filter(|(_, r)| keep(**r))
            .map(|(p, _)| p.words)
            .sum()
    };
    let phrases = |r: Option<SetAside>| matches!(r, Some(SetAside::Builtin | SetAside::Pattern));
    let builtin_kept = words_where(&|r| !phrases(r));
    let enough = k.max(builtin_kept / 10);
    // Tiers, strictest first: everything set aside; phrases and memory only; phrases only.
    let tiers: [&dyn Fn(Option<SetAside>) -> bool; 3] = [
        &|r| r.is_none() || (bullets && r == Some(SetAside::NoSentence)),
        &|r| r.is_none_or(|r| r.is_structural() || r == SetAside::Recurring),
        &|r| !phrases(r),
    ];
    let keep: &dyn Fn(Option<SetAside>) -> bool = tiers
        .iter()
        .find(|t| words_where(*t) >= enough)
        .copied()
        .unwrap_or(if builtin_kept > 0 {
            tiers[2]
        } else {
            &|_| true
        });
    let matched: Vec<bool> = reasons.iter().map(|r| keep(*r)).collect();
    (matched, words_where(keep))
}

/// The signature and profile of a text's matched paragraphs (`words` of them); the rest go
/// into the profile's set-aside shingles. Depends on nothing but its arguments.
fn matched_fingerprint(
    signer: &Signer,
    prepared: &Prepared,
    matched: &[bool],
    words: u32,
) -> Fingerprint {
    let paragraphs = &prepared.paragraphs;
    let shingles_of = |p: &ParagraphSpan| &prepared.shingles[p.start as usize..p.end as usize];
    let mut parts: Vec<(&[u64], u32)> = Vec::with_capacity(paragraphs.len());
    parts.extend(
        paragraphs
            .iter()
            .zip(matched)
            .filter(|(_, m)| **m)
            .map(|(p, _)| (shingles_of(p), p.words)),
    );
    let mut fp = signer.sign(parts.iter().map(|(s, _)| *s), words);
    let aside = paragraphs
        .iter()
        .zip(matched)
        .filter(|(_, m)| !**m)
        .map(|(p, _)| shingles_of(p));
    fp.profile = std::sync::Arc::new(
        Profile::build(&parts)
            .with_aside(aside)
            .with_digest_page(prepared.is_digest_page())
            .with_live_blog(prepared.is_live_blog()),
    );
    fp
}

/// Signs texts in the preparing threads ahead of the engine. Which paragraphs are matched on
/// depends on what the engine remembers, so a preparing thread guesses: with the text's own
/// reasons, and with outlet boilerplate learned from the texts that thread has seen (about the
/// same chrome as the engine learns from all of them; without it, a third of the guesses on the
/// bench corpus missed). Recurring paragraphs are not guessed. The engine keeps a guess only
/// when its own classification matches the same paragraphs (see
/// [`Engine::fingerprint_speculated`]), so decisions never depend on it. Signing and the
/// profile sort are a third of the engine's share of the work, and the one thread that inserts
/// in input order is what bounds `--threads`.
#[derive(Clone)]
pub struct Speculator {
    signer: Signer,
    k: u32,
    learner: Option<Learner>,
}

/// A guessed fingerprint and the matched paragraphs it was made from (see [`Speculator`]).
#[derive(Debug, Clone)]
pub struct Speculated {
    matched: Vec<bool>,
    fp: Fingerprint,
}

impl Speculator {
    pub fn speculate(&mut self, outlet: Option<&str>, prepared: &Prepared) -> Speculated {
        let paragraphs = &prepared.paragraphs;
        let learned = match (&mut self.learner, outlet) {
            (Some(learner), Some(outlet)) => {
                let keys: Vec<(u64, u32)> = paragraphs.iter().map(|p| (p.key, p.words)).collect();
                learner.observe(outlet, &keys, prepared.text_hash);
                Some(learner.boilerplate_of(outlet))
            }
            _ => None,
        };
        let reasons: Vec<Option<SetAside>> = paragraphs
            .iter()
            .map(|p| {
                p.set_aside.or_else(|| {
                    let learned = learned.as_ref().is_some_and(|is| is(p.key));
                    learned.then_some(SetAside::Learned)
                })
            })
            .collect();
        let (matched, words) = matched_paragraphs(paragraphs, &reasons, self.k);
        let fp = matched_fingerprint(&self.signer, prepared, &matched, words);
        Speculated { matched, fp }
    }
}

/// The outlet as a key of [`Engine::outlet_recent`]; a collision only adds candidates.
/// A page whose headline-like lines (no sentence end) outnumber its sentences in words is a
/// bullet-point article (a summary list, a fact box): there the lines are the article, and they
/// are matched on. On a page of prose, the same lines are headlines, link lists and teasers
/// around it.
fn is_bullet_page(paragraphs: &[ParagraphSpan], reasons: &[Option<SetAside>]) -> bool {
    let (mut bullets, mut sentences) = (0u32, 0u32);
    for (p, r) in paragraphs.iter().zip(reasons) {
        match r {
            Some(SetAside::NoSentence) => bullets += p.words,
            None => sentences += p.words,
            Some(_) => {}
        }
    }
    bullets > sentences
}

fn outlet_key(outlet: Option<&str>) -> Option<u64> {
    outlet.map(|o| xxhash_rust::xxh3::xxh3_64(o.as_bytes()))
}

/// Whether two pages could reach the page threshold: sizes, then a sketch estimate with a wide
/// margin (the estimate's standard error near the threshold is about 0.07), before the exact
/// comparison.
fn page_may_match(rule: &MatchRule, a: &Profile, b: &Profile) -> bool {
    rule.page_sizes_allow(a.page_len(), b.page_len())
        && a.page_jaccard_estimate(b) >= rule.page_threshold - PAGE_ESTIMATE_MARGIN
}

/// How far below the page threshold a sketch estimate may be and still get the exact comparison.
const PAGE_ESTIMATE_MARGIN: f32 = 0.3;

/// A page with a tenth or more of its shingles set aside: its matched text alone may compare
/// poorly with another snapshot of the same page.
fn page_worthy(p: &Profile) -> bool {
    !p.aside().is_empty() && p.aside().len() * 10 >= p.page_len()
}

fn exact_key(fp: &Fingerprint) -> u64 {
    let mut bytes = Vec::with_capacity(16 + 4 * fp.sig.len());
    bytes.extend_from_slice(&fp.shingles.to_le_bytes());
    bytes.extend_from_slice(&fp.words.to_le_bytes());
    for v in &fp.sig {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    // Signatures alone agree for texts one word apart; the profile tells them apart.
    if !fp.profile.is_empty() {
        bytes.extend_from_slice(&fp.profile.digest().to_le_bytes());
    }
    xxh3_64(&bytes)
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
