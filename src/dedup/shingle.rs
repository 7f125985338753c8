//! Word shingles: every run of `k` consecutive words inside a paragraph. Words are hashed with
//! xxh3; a shingle's hash is a polynomial over its words' hashes, rolled from one shingle to the
//! next in a few multiplications and finished with a 64-bit mixer (hashing `k` word hashes
//! again with xxh3 per position cost more than all the rest of shingling). Shingles never cross a paragraph boundary, so a paragraph can be
//! ignored (boilerplate) without leaving half-shingles behind. A paragraph shorter than `k`
//! words yields one shingle of all its words, so short texts still get a usable signature.

use std::sync::Arc;

use xxhash_rust::xxh3::xxh3_64;

use crate::normalize::boilerplate::{Action, BuiltinList, PatternSet};
use crate::normalize::chrome::{ChromeRules, SetAside, REPEATED_MAX_WORDS};
use crate::normalize::{body_text, for_each_word, word_hash};

/// One paragraph of a prepared text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParagraphSpan {
    /// Range of this paragraph's shingles in [`Prepared::shingles`].
    pub start: u32,
    pub end: u32,
    /// Words in the paragraph.
    pub words: u32,
    /// Identity of the paragraph's words (for learned boilerplate).
    pub key: u64,
    /// Built-in phrase or configured pattern: ignored for matching.
    pub boilerplate: bool,
    /// Why the paragraph is set aside for matching, as far as the text alone tells
    /// (built-in phrase, pattern or structural chrome); `None`: article text.
    pub set_aside: Option<SetAside>,
}

/// A text turned into shingle hashes, paragraph by paragraph. The stateless, parallel stage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prepared {
    pub shingles: Vec<u64>,
    pub paragraphs: Vec<ParagraphSpan>,
    /// Identity of the whole text (all paragraphs, boilerplate included).
    pub text_hash: u64,
    /// Paragraphs of at least [`TEASER_MIN_WORDS`] words that end in an ellipsis: the teasers
    /// of a digest or aggregator page (see [`DIGEST_TEASERS`]).
    pub teasers: u32,
    /// Lines that are a post's time stamp ("34 min ago", "10:32 BST"): the posts of a live
    /// blog (see [`LIVE_BLOG_STAMPS`]).
    pub post_stamps: u32,
}

/// A paragraph this long that ends in "..." or "…" is a teaser of another story.
pub const TEASER_MIN_WORDS: usize = 8;
/// A page with at least this many teasers is a digest: a round-up or aggregator page that
/// abridges many stories. It matches another page only as a whole (see
/// [`super::profile::Profile::with_digest_page`]).
pub const DIGEST_TEASERS: u32 = 10;
/// A page with at least this many post time stamps, and not a digest, is a live blog: a page of
/// time-stamped posts, newest first, that later captures extend (see
/// [`super::profile::Profile::with_live_blog`]).
pub const LIVE_BLOG_STAMPS: u32 = 3;

impl Prepared {
    /// Whether the text is a digest page (see [`DIGEST_TEASERS`]).
    pub fn is_digest_page(&self) -> bool {
        self.teasers >= DIGEST_TEASERS
    }

    /// Whether the text is a live blog (see [`LIVE_BLOG_STAMPS`]). An aggregator's list of
    /// teasers with their ages is a digest, not a live blog.
    pub fn is_live_blog(&self) -> bool {
        self.post_stamps >= LIVE_BLOG_STAMPS && !self.is_digest_page()
    }
}

impl Prepared {
    /// Total words, boilerplate included.
    pub fn words(&self) -> u32 {
        self.paragraphs.iter().map(|p| p.words).sum()
    }
}

const BASE: u64 = 0x9E37_79B9_7F4A_7C15;

#[inline]
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// Shingles a paragraph given as word hashes: one hash per run of `k` words, or one for the
/// whole paragraph when it is shorter than `k`.
pub fn shingle_words(words: &[u64], k: usize, out: &mut Vec<u64>) {
    let n = words.len();
    if n == 0 {
        return;
    }
    let k = k.max(1);
    if n < k {
        let s = words
            .iter()
            .fold(0u64, |s, &w| s.wrapping_mul(BASE).wrapping_add(w));
        out.push(fmix64(s));
        return;
    }
    // s = Σ w[i+j]·BASE^(k-1-j); rolling drops the oldest word and appends the next.
    let top = (1..k).fold(1u64, |p, _| p.wrapping_mul(BASE));
    let mut s = words[..k]
        .iter()
        .fold(0u64, |s, &w| s.wrapping_mul(BASE).wrapping_add(w));
    out.reserve(n + 1 - k);
    out.push(fmix64(s));
    for i in k..n {
        s = s
            .wrapping_sub(words[i - k].wrapping_mul(top))
            .wrapping_mul(BASE)
            .wrapping_add(words[i]);
        out.push(fmix64(s));
    }
}

/// The identity of a paragraph: its words in order.
fn paragraph_key(words: &[u64]) -> u64 {
    let s = words.iter().fold(0x2545_F491_4F6C_DD1Du64, |s, &w| {
        (s ^ w).wrapping_mul(0x0000_0100_0000_01B3).rotate_left(23)
    });
    fmix64(s ^ words.len() as u64)
}

/// Turns article bodies into [`Prepared`] texts. Cheap to clone and safe to share across threads.
#[derive(Clone)]
pub struct Preparer {
    k: usize,
    builtin: Arc<BuiltinList>,
    patterns: Arc<PatternSet>,
    chrome: Arc<ChromeRules>,
}

impl Preparer {
    /// A preparer with the default structural chrome rules.
    pub fn new(k: usize, builtin: BuiltinList, patterns: PatternSet) -> Self {
        Self::with_chrome(k, builtin, patterns, ChromeRules::new(true, 8))
    }

    pub fn with_chrome(
        k: usize,
        builtin: BuiltinList,
        patterns: PatternSet,
        chrome: ChromeRules,
    ) -> Self {
        Preparer {
            k: k.max(1),
            builtin: Arc::new(builtin),
            patterns: Arc::new(patterns),
            chrome: Arc::new(chrome),
        }
    }

    pub fn chrome(&self) -> &ChromeRules {
        &self.chrome
    }

    pub fn shingle_size(&self) -> usize {
        self.k
    }

    /// The identity key of one line of text, as [`ParagraphSpan::key`] computes it (`None` when
    /// the line has no words). Lets diagnostics map learned boilerplate keys back to text.
    pub fn paragraph_key(line: &str) -> Option<u64> {
        let mut words = Vec::new();
        let mut buf = Vec::new();
        for_each_word(line, &mut buf, |w| words.push(word_hash(w)));
        (!words.is_empty()).then(|| paragraph_key(&words))
    }

    /// Normalises `body` (plain text or HTML) and shingles it, marking built-in and configured
    /// boilerplate. `outlet` selects the outlet's own patterns.
    pub fn prepare(&self, outlet: Option<&str>, body: &str) -> Prepared {
        let text = body_text(body);
        // Sized up front: growing these a few times per article cost more than the guess.
        let lines = memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1;
        let mut out = Prepared {
            shingles: Vec::with_capacity(text.len() / 5),
            paragraphs: Vec::with_capacity(lines),
            text_hash: 0,
            teasers: 0,
            post_stamps: 0,
        };
        let mut words: Vec<u64> = Vec::with_capacity(256);
        // Holds one lower-cased line at a time (see `for_each_word`).
        let mut buf: Vec<u8> = Vec::with_capacity(1024);
        let mut keys: Vec<u8> = Vec::with_capacity(8 * lines);
        let mut cut = false;
        // Lines as `text.split('\n')` gives them, found with memchr.
        let ends = memchr::memchr_iter(b'\n', text.as_bytes()).chain(std::iter::once(text.len()));
        let mut from = 0;
        for end in ends {
            let line = &text[from..end];
            from = end + 1;
            words.clear();
            for_each_word(line, &mut buf, |w| words.push(word_hash(w)));
            if words.is_empty() {
                continue;
            }
            let mut boilerplate = cut;
            if !cut {
                match self.builtin.classify(&words) {
                    Some(Action::Cut) => {
                        cut = true;
                        boilerplate = true;
                    }
                    Some(_) => boilerplate = true,
                    None => {}
                }
            }
            let mut set_aside = boilerplate.then_some(SetAside::Builtin);
            if !boilerplate && !self.patterns.is_empty() {
                boilerplate = self.patterns.matches(outlet, line.trim());
                set_aside = boilerplate.then_some(SetAside::Pattern);
            }
            if set_aside.is_none() {
                set_aside = self.chrome.classify(line, words.len() as u32);
            }
            if words.len() >= TEASER_MIN_WORDS && ends_in_ellipsis(line) {
                out.teasers += 1;
            }
            if self.chrome.is_post_stamp(line, words.len() as u32) {
                out.post_stamps += 1;
            }
            let key = paragraph_key(&words);
            keys.extend_from_slice(&key.to_le_bytes());
            let start = out.shingles.len() as u32;
            shingle_words(&words, self.k, &mut out.shingles);
            out.paragraphs.push(ParagraphSpan {
                start,
                end: out.shingles.len() as u32,
                words: words.len() as u32,
                key,
                boilerplate,
                set_aside,
            });
        }
        out.text_hash = xxh3_64(&keys);
        if self.chrome.enabled() {
            mark_repeated(&mut out.paragraphs);
        }
        out
    }
}

/// True when the line ends with "..." or "…" (trailing spaces aside).
fn ends_in_ellipsis(line: &str) -> bool {
    let t = line.trim_end();
    t.ends_with("...") || t.ends_with('…')
}

/// Sets aside paragraphs that occur twice or more in one text (gallery captions, a repeated
/// headline), unless long enough to be prose quoted on purpose.
fn mark_repeated(paragraphs: &mut [ParagraphSpan]) {
    if paragraphs.len() < 2 {
        return;
    }
    let mut keys: Vec<u64> = paragraphs
        .iter()
        .filter(|p| p.set_aside.is_none())
        .map(|p| p.key)
        .collect();
    keys.sort_unstable();
    let repeated: Vec<u64> = keys
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0])
        .collect();
    if repeated.is_empty() {
        return;
    }
    for p in paragraphs.iter_mut() {
        if p.set_aside.is_none()
            && p.words <= REPEATED_MAX_WORDS
            && repeated.binary_search(&p.key).is_ok()
        {
            p.set_aside = Some(SetAside::Repeated);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preparer(k: usize) -> Preparer {
        Preparer::new(k, BuiltinList::new(true), PatternSet::default())
    }

    #[test]
    fn shingle_counts() {
        let p = preparer(3).prepare(None, "one two three four five\nsix seven");
        assert_eq!(p.paragraphs.len(), 2);
        assert_eq!(p.paragraphs[0].end - p.paragraphs[0].start, 3);
        // A paragraph shorter than k still yields one shingle.
        assert_eq!(p.paragraphs[1].end - p.paragraphs[1].start, 1);
        assert_eq!(p.words(), 7);
    }

    #[test]
    fn same_words_same_shingles_regardless_of_case_and_punctuation() {
        let a = preparer(5).prepare(
            None,
            "The minister said, on Monday, that talks would start.",
        );
        let b = preparer(5).prepare(None, "the MINISTER said on monday that talks would start");
        assert_eq!(a.shingles, b.shingles);
        assert_eq!(a.text_hash, b.text_hash);
    }

    #[test]
    fn html_and_text_agree() {
        let a = preparer(5).prepare(
            None,
            "<p>First paragraph here &amp; more.</p><p>Second one.</p>",
        );
        let b = preparer(5).prepare(None, "First paragraph here & more.\nSecond one.");
        assert_eq!(a, b);
    }

    #[test]
    fn paragraph_keys_match_prepared_keys() {
        let p = preparer(5).prepare(None, "Share this article\nReal text here.");
        assert_eq!(
            Preparer::paragraph_key("SHARE this article!"),
            Some(p.paragraphs[0].key)
        );
        assert_eq!(Preparer::paragraph_key(" ... "), None);
    }

    #[test]
    fn paywall_cuts_the_rest() {
        let p = preparer(5).prepare(
            None,
            "Real news paragraph.\nYou've reached your limit of 5 free articles.\nSmart Quarterly\n₹900",
        );
        let flags: Vec<bool> = p.paragraphs.iter().map(|s| s.boilerplate).collect();
        assert_eq!(flags, vec![false, true, true, true]);
    }

    #[test]
    fn teasers_make_a_digest_page() {
        let teaser = "Leaders met in the capital on Monday for talks that lasted hours...";
        let short = "Leaders met on Monday…";
        let mut page: Vec<&str> = vec![teaser; DIGEST_TEASERS as usize - 1];
        page.push(short);
        page.push("The talks were the first in years, officials said on Monday evening.");
        let p = preparer(5).prepare(None, &page.join("\n"));
        assert_eq!(p.teasers, DIGEST_TEASERS - 1);
        assert!(!p.is_digest_page());
        page.push("The talks ended late, and both sides said they would meet again…");
        assert!(preparer(5).prepare(None, &page.join("\n")).is_digest_page());
    }
}
