//! Boilerplate that must not count when comparing texts: syndication trailers, paywall and
//! subscription blocks, credit lines, and per-outlet site chrome.
//!
//! Three sources, all deciding per paragraph (one line of normalised text):
//! - [`BuiltinList`]: a documented list of phrases (see `BUILTIN_PHRASES`), matched on word
//!   hashes so they survive punctuation and case changes. A *cut* phrase (a paywall starts here)
//!   drops its paragraph and every later one.
//! - [`PatternSet`]: regular expressions from the config, global and per outlet.
//! - [`Learner`]: paragraphs that recur across many items of the same outlet.
//!
//! Boilerplate is only ignored for matching; the stored and emitted text keeps it.

use std::collections::{HashMap, VecDeque};

use crate::hash::{KeyMap, SpreadMap, SpreadSet};

use regex::RegexSet;

use super::text::{for_each_word, word_hash};

/// What to do with a paragraph that contains a built-in phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Ignore this paragraph wherever the phrase sits in it.
    Drop,
    /// Ignore this paragraph only when it is short: at most the phrase plus this many words.
    DropShort(u8),
    /// A paywall or subscription block starts here: ignore this and every later paragraph.
    Cut,
}

/// The built-in phrases. Each is tokenised like article text, so punctuation and case do not matter.
pub const BUILTIN_PHRASES: &[(&str, Action)] = &[
    // Syndication trailers and disclaimers.
    (
        "Only the headline and picture of this report may have been reworked",
        Action::Drop,
    ),
    (
        "the rest of the content is auto-generated from a syndicated feed",
        Action::Drop,
    ),
    ("auto-generated from a syndicated feed", Action::Drop),
    ("This story has not been edited by", Action::Drop),
    ("this story has not been edited by", Action::Drop),
    (
        "published from a wire agency feed without modifications to the text",
        Action::Drop,
    ),
    (
        "This story is auto-aggregated by a computer program",
        Action::Drop,
    ),
    ("has been published from a syndicated feed", Action::Drop),
    (
        "This material may not be published, broadcast, rewritten or redistributed",
        Action::Drop,
    ),
    (
        "Our Standards: The Thomson Reuters Trust Principles",
        Action::Drop,
    ),
    (
        "Catch all the Business News, Market News, Breaking News",
        Action::Drop,
    ),
    ("With inputs from", Action::DropShort(4)),
    ("All rights reserved", Action::DropShort(8)),
    ("Reporting by", Action::DropShort(16)),
    ("Additional reporting by", Action::DropShort(16)),
    ("Writing by", Action::DropShort(12)),
    ("Editing by", Action::DropShort(12)),
    ("Compiled by", Action::DropShort(8)),
    ("First published on", Action::DropShort(8)),
    ("Disclaimer", Action::DropShort(0)),
    // Page widgets.
    ("Advertisement", Action::DropShort(0)),
    ("Story continues below", Action::DropShort(2)),
    ("Follow us on", Action::DropShort(8)),
    ("Click here to", Action::DropShort(10)),
    ("Sign up for", Action::DropShort(12)),
    ("Also read", Action::DropShort(20)),
    ("Read more", Action::DropShort(20)),
    ("Share this article", Action::DropShort(4)),
    ("Download the app", Action::DropShort(10)),
    // Paywalls and subscription blocks: everything after these is not the article.
    ("You've reached your limit of", Action::Cut),
    ("Subscribe to read the full story", Action::Cut),
    ("Subscribe now for unlimited access", Action::Cut),
    ("Subscribe to continue reading", Action::Cut),
    ("This article is for subscribers only", Action::Cut),
    ("Already subscribed? Log in", Action::Cut),
    ("Already a subscriber? Sign in", Action::Cut),
];

struct Phrase {
    words: Vec<u64>,
    action: Action,
}

/// The built-in phrase list, compiled to word hashes.
pub struct BuiltinList {
    phrases: Vec<Phrase>,
    /// Phrases of two or more words by their first two words ([`pair_key`]), in list order.
    by_pair: SpreadMap<u64, Vec<usize>>,
    /// One-word phrases by their word, in list order.
    by_word: SpreadMap<u64, Vec<usize>>,
    /// 4096-bit filters on [`pair_key`]s and on one-word phrases: most words skip the maps. A
    /// filter on first words alone let every "the" through to a map lookup.
    pair_filter: Box<[u64; 64]>,
    word_filter: Box<[u64; 64]>,
}

fn phrase_hashes(text: &str) -> Vec<u64> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    for_each_word(text, &mut buf, |w| out.push(word_hash(w)));
    out
}

/// The key of two consecutive words.
#[inline]
fn pair_key(first: u64, second: u64) -> u64 {
    (first ^ second.rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[inline]
fn filter_has(filter: &[u64; 64], key: u64) -> bool {
    let bit = (key >> 52) as usize;
    filter[bit / 64] & (1 << (bit % 64)) != 0
}

fn filter_add(filter: &mut [u64; 64], key: u64) {
    let bit = (key >> 52) as usize;
    filter[bit / 64] |= 1 << (bit % 64);
}

impl BuiltinList {
    pub fn new(enabled: bool) -> Self {
        let mut list = BuiltinList {
            phrases: Vec::new(),
            by_pair: SpreadMap::default(),
            by_word: SpreadMap::default(),
            pair_filter: Box::new([0; 64]),
            word_filter: Box::new([0; 64]),
        };
        if enabled {
            for (text, action) in BUILTIN_PHRASES {
                let words = phrase_hashes(text);
                let id = list.phrases.len();
                match words[..] {
                    [] => continue,
                    [only] => {
                        list.by_word.entry(only).or_default().push(id);
                        filter_add(&mut list.word_filter, only);
                    }
                    [first, second, ..] => {
                        let key = pair_key(first, second);
                        list.by_pair.entry(key).or_default().push(id);
                        filter_add(&mut list.pair_filter, key);
                    }
                }
                list.phrases.push(Phrase {
                    words,
                    action: *action,
                });
            }
        }
        list
    }

    /// Classifies one paragraph by its word hashes. `None`: keep it.
    pub fn classify(&self, words: &[u64]) -> Option<Action> {
        if self.phrases.is_empty() {
            return None;
        }
        let mut verdict = None;
        let no_ids: &[usize] = &[];
        for (start, &w) in words.iter().enumerate() {
            let next = words.get(start + 1);
            let pair = next.map(|&n| pair_key(w, n));
            let by_pair = match pair {
                Some(key) if filter_has(&self.pair_filter, key) => {
                    self.by_pair.get(&key).map_or(no_ids, Vec::as_slice)
                }
                _ => no_ids,
            };
            let by_word = if filter_has(&self.word_filter, w) {
                self.by_word.get(&w).map_or(no_ids, Vec::as_slice)
            } else {
                no_ids
            };
            if by_pair.is_empty() && by_word.is_empty() {
                continue;
            }
            // The phrases starting here, in list order (as one list by first word would give).
            let (mut p, mut q) = (by_pair.iter().peekable(), by_word.iter().peekable());
            while let Some(&id) = match (p.peek(), q.peek()) {
                (Some(&&a), Some(&&b)) if b < a => q.next(),
                (Some(_), _) => p.next(),
                (None, _) => q.next(),
            } {
                let phrase = &self.phrases[id];
                let end = start + phrase.words.len();
                if end > words.len() || words[start..end] != phrase.words[..] {
                    continue;
                }
                match phrase.action {
                    Action::Cut => return Some(Action::Cut),
                    Action::Drop => verdict = Some(Action::Drop),
                    Action::DropShort(extra) => {
                        if words.len() <= phrase.words.len() + extra as usize {
                            verdict = verdict.or(Some(Action::DropShort(extra)));
                        }
                    }
                }
            }
        }
        verdict
    }
}

/// Regular expressions from the config, matched against each paragraph's raw text.
#[derive(Clone, Default)]
pub struct PatternSet {
    global: Option<RegexSet>,
    per_outlet: HashMap<String, RegexSet>,
}

impl PatternSet {
    /// Builds the set; patterns were checked by config validation, so errors here name the pattern.
    pub fn new(
        global: &[String],
        per_outlet: impl IntoIterator<Item = (String, Vec<String>)>,
    ) -> Result<Self, String> {
        let compile = |patterns: &[String]| -> Result<Option<RegexSet>, String> {
            if patterns.is_empty() {
                return Ok(None);
            }
            RegexSet::new(patterns)
                .map(Some)
                .map_err(|e| format!("invalid boilerplate pattern: {e}"))
        };
        let mut set = PatternSet {
            global: compile(global)?,
            per_outlet: HashMap::new(),
        };
        for (outlet, patterns) in per_outlet {
            if let Some(rs) = compile(&patterns)? {
                set.per_outlet.insert(outlet, rs);
            }
        }
        Ok(set)
    }

    pub fn is_empty(&self) -> bool {
        self.global.is_none() && self.per_outlet.is_empty()
    }

    /// True when the paragraph matches a global pattern or one of the outlet's.
    pub fn matches(&self, outlet: Option<&str>, paragraph: &str) -> bool {
        if self.global.as_ref().is_some_and(|g| g.is_match(paragraph)) {
            return true;
        }
        outlet
            .and_then(|o| self.per_outlet.get(o))
            .is_some_and(|rs| rs.is_match(paragraph))
    }
}

/// Settings of the boilerplate learner.
#[derive(Debug, Clone, Copy)]
pub struct LearnerSettings {
    /// A paragraph is boilerplate once seen in at least this share of the outlet's recent items...
    pub min_share: f64,
    /// ...and in at least this many of them.
    pub min_items: usize,
    /// Recent items remembered per outlet.
    pub window: usize,
}

#[derive(Default, Clone)]
struct OutletStats {
    recent: VecDeque<Vec<u64>>,
    /// Per paragraph key: how many recent entries hold it, and the entry that last took it.
    /// One map, not two: each key's lookups are cache misses once many outlets are remembered.
    keys: KeyMap<KeyStats>,
    /// Content hashes of the recent items: a re-post of the same text is not counted twice.
    seen_texts: SpreadSet<u64>,
    text_order: VecDeque<u64>,
    /// The key list of the item that last left the window, emptied: the next item's list
    /// reuses its memory.
    spare: Vec<u64>,
    /// `recent[0]` is entry number `first_entry`.
    first_entry: u64,
}

/// What an outlet's learner knows of one paragraph key.
#[derive(Debug, Clone, Copy, Default)]
struct KeyStats {
    /// The recent entries holding the key.
    count: u32,
    /// The number of the entry of `recent` that last took the key ([`NO_ENTRY`] once that
    /// entry left the window). Finds the earlier version of an article in one lookup per
    /// paragraph.
    last: u64,
}

const NO_ENTRY: u64 = u64::MAX;

/// Paragraphs of at least this many words are prose enough to tell one article from another.
pub const VERSION_MIN_WORDS: u32 = 20;
/// An item that shares at least this many prose paragraphs ([`VERSION_MIN_WORDS`])...
pub const VERSION_MIN_SHARED: usize = 3;
/// ...and at least this share of its own prose paragraphs with one recent item of the outlet is
/// a version of that item (a write-thru, a correction, a re-post with new chrome).
pub const VERSION_MIN_SHARE: f64 = 0.5;

impl OutletStats {
    /// The entry number of the recent item of which an item with these paragraphs is a version.
    fn earlier_version(&self, paragraphs: &[(u64, u32)]) -> Option<u64> {
        let mut votes: Vec<(u64, usize)> = Vec::new();
        let mut prose = 0usize;
        for &(key, words) in paragraphs {
            if words < VERSION_MIN_WORDS {
                continue;
            }
            prose += 1;
            if let Some(entry) = self
                .keys
                .get(key)
                .map(|k| k.last)
                .filter(|&e| e != NO_ENTRY)
            {
                match votes.iter_mut().find(|(e, _)| *e == entry) {
                    Some((_, n)) => *n += 1,
                    None => votes.push((entry, 1)),
                }
            }
        }
        let (entry, shared) = votes.into_iter().max_by_key(|&(e, n)| (n, e))?;
        (shared >= VERSION_MIN_SHARED && shared as f64 >= VERSION_MIN_SHARE * prose as f64)
            .then_some(entry)
    }

    /// Adds the keys of a later version (sorted, distinct) to entry number `entry`.
    fn extend_entry(&mut self, entry: u64, keys: &[u64]) {
        let Some(list) = entry
            .checked_sub(self.first_entry)
            .and_then(|i| self.recent.get_mut(i as usize))
        else {
            return;
        };
        let before = list.len();
        for &k in keys {
            let fresh = list[..before].binary_search(&k).is_err();
            if fresh {
                list.push(k);
            }
            let stats = self.keys.get_or_insert_with(k, || KeyStats {
                count: 0,
                last: NO_ENTRY,
            });
            stats.count += u32::from(fresh);
            stats.last = entry;
        }
        list.sort_unstable();
    }

    /// Appends a new item's entry (keys sorted, distinct), dropping the oldest past `window`.
    fn push_entry(&mut self, keys: Vec<u64>, window: usize) {
        let entry = self.first_entry + self.recent.len() as u64;
        for &k in &keys {
            let stats = self.keys.get_or_insert_with(k, || KeyStats {
                count: 0,
                last: NO_ENTRY,
            });
            stats.count += 1;
            stats.last = entry;
        }
        self.recent.push_back(keys);
        if self.recent.len() > window {
            if let Some(old) = self.recent.pop_front() {
                for &k in &old {
                    if let Some(stats) = self.keys.get_mut(k) {
                        stats.count = stats.count.saturating_sub(1);
                        if stats.last == self.first_entry {
                            stats.last = NO_ENTRY;
                        }
                        if stats.count == 0 {
                            self.keys.remove(k);
                        }
                    }
                }
                self.first_entry += 1;
                self.spare = old;
            }
        }
    }
}

/// Learns, per outlet, which paragraphs recur across items (site chrome, widgets, pleas).
#[derive(Clone)]
pub struct Learner {
    settings: LearnerSettings,
    outlets: HashMap<String, OutletStats>,
}

impl Learner {
    pub fn new(settings: LearnerSettings) -> Self {
        Learner {
            settings,
            outlets: HashMap::new(),
        }
    }

    pub fn settings(&self) -> LearnerSettings {
        self.settings
    }

    /// Records one item of `outlet`: the identity hash and word count of each of its
    /// paragraphs, and the hash of its whole text.
    ///
    /// Chrome recurs across an outlet's *different* articles; the paragraphs of one article
    /// recur across its versions (write-thrus, corrections, re-posts). So an item that shares
    /// most of its prose paragraphs with a recent item of the outlet (see
    /// [`VERSION_MIN_SHARE`]) is taken for a version of it: its new paragraphs join that item's
    /// entry instead of making a new one, and four versions of one story do not teach the
    /// learner that the story is boilerplate. A re-post of the same text is not counted at all.
    pub fn observe(&mut self, outlet: &str, paragraphs: &[(u64, u32)], text_hash: u64) {
        let window = self.settings.window.max(1);
        // The name is copied only for an outlet seen for the first time.
        if !self.outlets.contains_key(outlet) {
            self.outlets
                .insert(outlet.to_string(), OutletStats::default());
        }
        let Some(stats) = self.outlets.get_mut(outlet) else {
            return;
        };
        if !stats.seen_texts.insert(text_hash) {
            return;
        }
        // The keys' slots, and those of the item that may leave the window, are fetched
        // together before any is looked up: their misses overlap.
        for &(key, _) in paragraphs {
            stats.keys.prefetch(key);
        }
        if stats.recent.len() >= window {
            if let Some(oldest) = stats.recent.front() {
                oldest.iter().for_each(|&key| stats.keys.prefetch(key));
            }
        }
        stats.text_order.push_back(text_hash);
        if stats.text_order.len() > window {
            if let Some(old) = stats.text_order.pop_front() {
                stats.seen_texts.remove(&old);
            }
        }
        let mut distinct = std::mem::take(&mut stats.spare);
        distinct.clear();
        distinct.extend(paragraphs.iter().map(|&(key, _)| key));
        distinct.sort_unstable();
        distinct.dedup();
        if let Some(entry) = stats.earlier_version(paragraphs) {
            stats.extend_entry(entry, &distinct);
            stats.spare = distinct;
            return;
        }
        stats.push_entry(distinct, window);
    }

    /// True when the paragraph recurs often enough in `outlet`'s recent items.
    pub fn is_boilerplate(&self, outlet: &str, paragraph_key: u64) -> bool {
        self.boilerplate_of(outlet)(paragraph_key)
    }

    /// [`Learner::is_boilerplate`] for one outlet, looked up once: for the paragraphs of a text.
    pub fn boilerplate_of(&self, outlet: &str) -> impl Fn(u64) -> bool + '_ {
        let stats = self.outlets.get(outlet);
        move |paragraph_key| {
            let Some(stats) = stats else {
                return false;
            };
            let count = stats.keys.get(paragraph_key).map_or(0, |k| k.count) as usize;
            count >= self.settings.min_items
                && count as f64 >= self.settings.min_share * stats.recent.len() as f64
        }
    }

    /// The learned boilerplate of every outlet: (outlet, paragraph key, count, items remembered).
    pub fn learned(&self) -> Vec<(String, u64, usize, usize)> {
        let mut out = Vec::new();
        for (outlet, stats) in &self.outlets {
            for (key, k) in stats.keys.iter() {
                if self.is_boilerplate(outlet, key) {
                    out.push((outlet.clone(), key, k.count as usize, stats.recent.len()));
                }
            }
        }
        // The key last: the map's order is no order.
        out.sort_by(|a, b| {
            b.2.cmp(&a.2)
                .then_with(|| a.0.cmp(&b.0))
                .then_with(|| a.1.cmp(&b.1))
        });
        out
    }

    /// The recent items of every outlet, oldest first, for persisting what was learned.
    pub fn export(&self) -> Vec<(String, Vec<Vec<u64>>)> {
        self.outlets
            .iter()
            .map(|(o, s)| (o.clone(), s.recent.iter().cloned().collect()))
            .collect()
    }

    /// One outlet's recent items, oldest first (what [`Learner::export`] gives for it).
    pub fn export_outlet(&self, outlet: &str) -> Option<Vec<Vec<u64>>> {
        self.outlets
            .get(outlet)
            .map(|s| s.recent.iter().cloned().collect())
    }

    /// A learner holding only `outlet`'s memory (the same settings): what a guess about one
    /// outlet's items needs, without copying every outlet's.
    pub fn clone_outlet(&self, outlet: &str) -> Learner {
        let mut outlets = HashMap::new();
        if let Some(stats) = self.outlets.get(outlet) {
            outlets.insert(outlet.to_string(), stats.clone());
        }
        Learner {
            settings: self.settings,
            outlets,
        }
    }

    /// Restores an outlet's recent items (as returned by [`Learner::export`]).
    pub fn import(&mut self, outlet: &str, items: Vec<Vec<u64>>) {
        for (i, keys) in items.into_iter().enumerate() {
            // Word counts are not persisted: the entries come back as they were exported (each
            // already one article with its versions), never joined to each other; the text
            // hashes are not persisted either, and item order numbers keep re-posts apart.
            let paragraphs: Vec<(u64, u32)> = keys.iter().map(|&k| (k, 0)).collect();
            self.observe(outlet, &paragraphs, u64::MAX - i as u64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashes(text: &str) -> Vec<u64> {
        phrase_hashes(text)
    }

    /// Every phrase tried at every start, in list order: what the indexed lookup must equal.
    fn classify_by_brute_force(list: &BuiltinList, words: &[u64]) -> Option<Action> {
        let mut verdict = None;
        for start in 0..words.len() {
            for phrase in &list.phrases {
                let end = start + phrase.words.len();
                if end > words.len() || words[start..end] != phrase.words[..] {
                    continue;
                }
                match phrase.action {
                    Action::Cut => return Some(Action::Cut),
                    Action::Drop => verdict = Some(Action::Drop),
                    Action::DropShort(extra) => {
                        if words.len() <= phrase.words.len() + extra as usize {
                            verdict = verdict.or(Some(Action::DropShort(extra)));
                        }
                    }
                }
            }
        }
        verdict
    }

    proptest::proptest! {
        /// Paragraphs made of pieces of the phrases and other words classify as trying every
        /// phrase everywhere does.
        #[test]
        fn indexed_phrases_agree_with_brute_force(
            pieces in proptest::collection::vec((0usize..64, 0usize..12, 1usize..14), 0..8),
        ) {
            let list = BuiltinList::new(true);
            let filler = hashes("the minister said on monday that talks would start again soon");
            let mut words = Vec::new();
            for (pick, from, len) in pieces {
                let source = match BUILTIN_PHRASES.get(pick) {
                    Some((text, _)) => hashes(text),
                    None => filler.clone(),
                };
                let from = from.min(source.len());
                words.extend_from_slice(&source[from..(from + len).min(source.len())]);
            }
            proptest::prop_assert_eq!(list.classify(&words), classify_by_brute_force(&list, &words));
        }
    }

    #[test]
    fn business_standard_trailer_and_paywall() {
        let list = BuiltinList::new(true);
        let trailer = "(Only the headline and picture of this report may have been reworked by the Business Standard staff; the rest of the content is auto-generated from a syndicated feed.)";
        assert_eq!(list.classify(&hashes(trailer)), Some(Action::Drop));
        assert_eq!(
            list.classify(&hashes(
                "You’ve reached your limit of {{free_limit}} free articles this month."
            )),
            Some(Action::Cut)
        );
        assert_eq!(
            list.classify(&hashes("Lavrov said Monday that talks will start.")),
            None
        );
    }

    #[test]
    fn short_only_phrases_spare_long_paragraphs() {
        let list = BuiltinList::new(true);
        assert_eq!(
            list.classify(&hashes("Reporting by Jane Doe; Editing by John Roe")),
            Some(Action::DropShort(16))
        );
        let long = "Reporting by the central bank found that inflation rose faster than expected in every region of the country last quarter, driven by food and energy prices.";
        assert_eq!(list.classify(&hashes(long)), None);
        assert_eq!(
            BuiltinList::new(false).classify(&hashes("Advertisement")),
            None
        );
    }

    #[test]
    fn learner_flags_frequent_paragraphs_only() {
        let mut l = Learner::new(LearnerSettings {
            min_share: 0.25,
            min_items: 4,
            window: 200,
        });
        let chrome = 1u64;
        let rare = 2u64;
        for i in 0..40u64 {
            let mut keys = vec![1000 + i];
            if i < 30 {
                keys.push(chrome);
            }
            if i < 2 {
                keys.push(rare);
            }
            let keys: Vec<(u64, u32)> = keys.iter().map(|&k| (k, 30)).collect();
            l.observe("outlet", &keys, i);
        }
        assert!(l.is_boilerplate("outlet", chrome));
        assert!(!l.is_boilerplate("outlet", rare));
        assert!(!l.is_boilerplate("other", chrome));
        assert_eq!(l.learned().len(), 1);
    }

    #[test]
    fn reposts_of_one_text_are_counted_once() {
        let mut l = Learner::new(LearnerSettings {
            min_share: 0.25,
            min_items: 4,
            window: 200,
        });
        for _ in 0..10 {
            l.observe("o", &[(7, 30)], 42);
        }
        assert!(!l.is_boilerplate("o", 7));
    }

    #[test]
    fn versions_of_one_article_are_one_item_chrome_across_articles_is_learned() {
        let settings = LearnerSettings {
            min_share: 0.25,
            min_items: 3,
            window: 200,
        };
        let mut l = Learner::new(settings);
        let chrome = (1u64, 25u32);
        // One story, posted four times with a paragraph added each time (a write-thru), and
        // three other articles; every page carries the same long chrome paragraph.
        let story: Vec<(u64, u32)> = (100..106).map(|k| (k, 40)).collect();
        for version in 0..4u64 {
            let mut page = story.clone();
            page.push((200 + version, 40));
            page.push(chrome);
            l.observe("fox", &page, version);
        }
        for article in 0..3u64 {
            let page = [(300 + 10 * article, 40), (301 + 10 * article, 40), chrome];
            l.observe("fox", &page, 10 + article);
        }
        assert!(l.is_boilerplate("fox", chrome.0), "in 4 of 4 articles");
        assert!(
            !l.is_boilerplate("fox", 100),
            "the story's paragraphs are in one article, however many versions"
        );
        // What was learned survives export and import, and a later version still joins its
        // article after a restart.
        let mut restored = Learner::new(settings);
        for (outlet, items) in l.export() {
            restored.import(&outlet, items);
        }
        let mut page = story.clone();
        page.push(chrome);
        page.push((250, 40));
        l.observe("fox", &page, 99);
        restored.observe("fox", &page, 99);
        assert_eq!(l.export(), restored.export());
        assert!(!restored.is_boilerplate("fox", 100));
        assert!(restored.is_boilerplate("fox", chrome.0));
    }

    #[test]
    fn patterns_global_and_per_outlet() {
        let set = PatternSet::new(
            &["^Photo:".to_string()],
            [("bs".to_string(), vec!["(?i)subscribe".to_string()])],
        )
        .expect("valid");
        assert!(set.matches(None, "Photo: Reuters"));
        assert!(set.matches(Some("bs"), "Please SUBSCRIBE"));
        assert!(!set.matches(Some("other"), "Please SUBSCRIBE"));
    }
}
