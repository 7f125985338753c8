//! Word shingles: every run of `k` consecutive words inside a paragraph, hashed with xxh3 over
//! the words' own xxh3 hashes. Shingles never cross a paragraph boundary, so a paragraph can be
//! ignored (boilerplate) without leaving half-shingles behind. A paragraph shorter than `k`
//! words yields one shingle of all its words, so short texts still get a usable signature.

use std::sync::Arc;

use xxhash_rust::xxh3::xxh3_64;

use crate::normalize::boilerplate::{Action, BuiltinList, PatternSet};
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
}

/// A text turned into shingle hashes, paragraph by paragraph. The stateless, parallel stage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prepared {
    pub shingles: Vec<u64>,
    pub paragraphs: Vec<ParagraphSpan>,
    /// Identity of the whole text (all paragraphs, boilerplate included).
    pub text_hash: u64,
}

impl Prepared {
    /// Total words, boilerplate included.
    pub fn words(&self) -> u32 {
        self.paragraphs.iter().map(|p| p.words).sum()
    }
}

/// Shingles `n` words whose hashes are laid out little-endian in `bytes`.
pub fn shingle_words(bytes: &[u8], n: usize, k: usize, out: &mut Vec<u64>) {
    if n == 0 {
        return;
    }
    if n < k {
        out.push(xxh3_64(&bytes[..8 * n]));
        return;
    }
    out.reserve(n + 1 - k);
    for i in 0..=n - k {
        out.push(xxh3_64(&bytes[8 * i..8 * (i + k)]));
    }
}

/// Turns article bodies into [`Prepared`] texts. Cheap to clone and safe to share across threads.
#[derive(Clone)]
pub struct Preparer {
    k: usize,
    builtin: Arc<BuiltinList>,
    patterns: Arc<PatternSet>,
}

impl Preparer {
    pub fn new(k: usize, builtin: BuiltinList, patterns: PatternSet) -> Self {
        Preparer {
            k: k.max(1),
            builtin: Arc::new(builtin),
            patterns: Arc::new(patterns),
        }
    }

    pub fn shingle_size(&self) -> usize {
        self.k
    }

    /// Normalises `body` (plain text or HTML) and shingles it, marking built-in and configured
    /// boilerplate. `outlet` selects the outlet's own patterns.
    pub fn prepare(&self, outlet: Option<&str>, body: &str) -> Prepared {
        let text = body_text(body);
        let mut out = Prepared {
            shingles: Vec::with_capacity(text.len() / 5),
            paragraphs: Vec::new(),
            text_hash: 0,
        };
        let mut words: Vec<u64> = Vec::with_capacity(64);
        let mut bytes: Vec<u8> = Vec::with_capacity(512);
        let mut buf: Vec<u8> = Vec::with_capacity(32);
        let mut keys: Vec<u8> = Vec::new();
        let mut cut = false;
        for line in text.split('\n') {
            words.clear();
            bytes.clear();
            for_each_word(line, &mut buf, |w| {
                let h = word_hash(w);
                words.push(h);
                bytes.extend_from_slice(&h.to_le_bytes());
            });
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
            if !boilerplate && !self.patterns.is_empty() {
                boilerplate = self.patterns.matches(outlet, line.trim());
            }
            let key = xxh3_64(&bytes);
            keys.extend_from_slice(&key.to_le_bytes());
            let start = out.shingles.len() as u32;
            shingle_words(&bytes, words.len(), self.k, &mut out.shingles);
            out.paragraphs.push(ParagraphSpan {
                start,
                end: out.shingles.len() as u32,
                words: words.len() as u32,
                key,
                boilerplate,
            });
        }
        out.text_hash = xxh3_64(&keys);
        out
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
    fn paywall_cuts_the_rest() {
        let p = preparer(5).prepare(
            None,
            "Real news paragraph.\nYou've reached your limit of 5 free articles.\nSmart Quarterly\n₹900",
        );
        let flags: Vec<bool> = p.paragraphs.iter().map(|s| s.boilerplate).collect();
        assert_eq!(flags, vec![false, true, true, true]);
    }
}
