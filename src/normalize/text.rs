//! Text folding and tokenisation.
//!
//! A word is a Unicode word (UAX #29 boundaries) after NFKC normalisation, lower-cased
//! (with ß → ss and final sigma folded), with every character that is not a letter, mark or
//! number removed ("don't" → "dont", "1,000" → "1000"). Each line of the input is one paragraph.
//!
//! Most news text is ASCII, and NFKC and UAX #29 reduce to simple byte rules there, so ASCII
//! lines take a byte-level fast path. `tests::ascii_fast_path_agrees_with_unicode_path` and the
//! property test keep the two paths identical.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};
use unicode_segmentation::UnicodeSegmentation;
use xxhash_rust::xxh3::xxh3_64;

/// Calls `f` with each folded word of one line (no line breaks inside).
pub fn for_each_word(line: &str, buf: &mut Vec<u8>, mut f: impl FnMut(&[u8])) {
    if line.is_ascii() {
        ascii_words(line.as_bytes(), buf, &mut f);
    } else if let Some(ascii) = ascii_equivalent(line) {
        ascii_words(ascii.as_bytes(), buf, &mut f);
    } else {
        unicode_words(line, buf, &mut f);
    }
}

/// English news is ASCII but for typographic punctuation: curly quotes, dashes, ellipses,
/// no-break spaces. Those have ASCII stand-ins with the same NFKC and UAX #29 behaviour (a curly
/// apostrophe joins letters like `'`; dashes and double quotes separate like a space), so such
/// lines can take the fast path too. `None` when the line has any other non-ASCII character.
fn ascii_equivalent(line: &str) -> Option<String> {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            _ if c.is_ascii() => out.push(c),
            '\u{2018}' | '\u{2019}' => out.push('\''),
            '\u{2026}' => out.push_str("..."),
            '\u{00A0}' | '\u{201C}' | '\u{201D}' | '\u{2013}' | '\u{2014}' | '\u{00AB}'
            | '\u{00BB}' | '\u{2022}' => out.push(' '),
            _ => return None,
        }
    }
    Some(out)
}

/// Byte classes for the ASCII fast path.
const SEP: u8 = 0;
const LETTER: u8 = 1;
const DIGIT: u8 = 2;
const UNDERSCORE: u8 = 3;
const MID: u8 = 4;

const fn ascii_classes() -> [u8; 256] {
    let mut t = [SEP; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphabetic() {
            LETTER
        } else if c.is_ascii_digit() {
            DIGIT
        } else if c == b'_' {
            UNDERSCORE
        } else if matches!(c, b':' | b'.' | b'\'' | b',' | b';') {
            MID
        } else {
            SEP
        };
        b += 1;
    }
    t
}

static CLASS: [u8; 256] = ascii_classes();

const fn class_set(classes: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let mut k = 0;
        while k < classes.len() {
            if CLASS[b] == classes[k] {
                t[b] = true;
            }
            k += 1;
        }
        b += 1;
    }
    t
}

/// Bytes kept in a word (letters and digits) and bytes that start one (those and `_`; the
/// scan uses [`Blocks`], the tests the table).
static KEPT: [bool; 256] = class_set(&[LETTER, DIGIT]);
#[cfg(test)]
static STARTS: [bool; 256] = class_set(&[LETTER, DIGIT, UNDERSCORE]);

/// Whether the byte at `i` (after a letter or digit, or an underscore) continues the word: an
/// underscore, or a joiner between the right classes. `s` is the line.
#[inline]
fn continues(s: &[u8], i: usize) -> bool {
    let Some(&c) = s.get(i) else {
        return false;
    };
    match CLASS[c as usize] {
        UNDERSCORE => true,
        MID => {
            // Inside a word, the byte before is the last one consumed.
            let prev = CLASS[s[i - 1] as usize];
            let next = CLASS[s.get(i + 1).copied().unwrap_or(0) as usize];
            match c {
                b':' => prev == LETTER && next == LETTER,
                b'.' | b'\'' => prev == next && (prev == LETTER || prev == DIGIT),
                _ => prev == DIGIT && next == DIGIT,
            }
        }
        _ => false,
    }
}

/// Bytes of padding after the lower-cased line in `buf`: separators, so the 64-byte blocks of
/// [`Blocks`] and the eight-byte reads of [`run_end`] never pass the end and stop there.
const PAD: usize = 64;

/// The byte classes of one 64-byte block of a lower-cased, padded line as bit masks (bit `j`:
/// byte `base + j`), loaded once for all the words that start in it. Finding a word's start
/// and end is then a count of trailing zeros, not a loop with a hard-to-predict exit per word.
struct Blocks {
    base: usize,
    /// Letters and digits.
    kept: u64,
    /// Those and `_` (the bytes a word starts at).
    starts: u64,
}

/// The `kept` and `starts` masks of [`Blocks`] for 64 lower-cased ASCII bytes: SSE2, which
/// every x86-64 processor has, sixteen bytes per compare.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn block_masks(block: &[u8; 64]) -> (u64, u64) {
    use std::arch::x86_64::*;
    let (mut kept, mut starts) = (0u64, 0u64);
    for (c, chunk) in block.chunks_exact(16).enumerate() {
        // SAFETY: SSE2 is part of the x86-64 baseline; the load is unaligned and reads the
        // sixteen bytes of `chunk`.
        unsafe {
            let x = _mm_loadu_si128(chunk.as_ptr().cast());
            let within = |lo: u8, hi: u8| {
                _mm_and_si128(
                    _mm_cmpgt_epi8(x, _mm_set1_epi8(lo as i8 - 1)),
                    _mm_cmplt_epi8(x, _mm_set1_epi8(hi as i8 + 1)),
                )
            };
            let k = _mm_or_si128(within(b'a', b'z'), within(b'0', b'9'));
            let u = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'_' as i8));
            kept |= (_mm_movemask_epi8(k) as u32 as u64) << (16 * c);
            starts |= (_mm_movemask_epi8(_mm_or_si128(k, u)) as u32 as u64) << (16 * c);
        }
    }
    (kept, starts)
}

#[cfg(not(target_arch = "x86_64"))]
fn block_masks(block: &[u8; 64]) -> (u64, u64) {
    block_masks_swar(block)
}

/// [`block_masks`] eight bytes at a time in a `u64` (the other architectures; tested everywhere).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn block_masks_swar(block: &[u8; 64]) -> (u64, u64) {
    const fn splat(b: u8) -> u64 {
        0x0101_0101_0101_0101 * b as u64
    }
    const HIGH: u64 = splat(0x80);
    const LOW7: u64 = splat(0x7F);
    let in_range = |x: u64, lo: u8, hi: u8| {
        x.wrapping_add(splat(0x80 - lo)) & !x.wrapping_add(splat(0x7F - hi))
    };
    // Bit 7 of each byte into bit j of one byte (every byte is ASCII: no carries).
    let bits = |hi: u64| (hi >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56;
    let (mut kept, mut starts) = (0u64, 0u64);
    for (c, chunk) in block.chunks_exact(8).enumerate() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let k = (in_range(x, b'a', b'z') | in_range(x, b'0', b'9')) & HIGH;
        // Exact per-byte equality with `_`: no borrow crosses bytes.
        let y = x ^ splat(b'_');
        let underscore = !((y & LOW7).wrapping_add(LOW7) | y) & HIGH;
        kept |= bits(k) << (8 * c);
        starts |= bits(k | underscore) << (8 * c);
    }
    (kept, starts)
}

impl Blocks {
    fn new() -> Self {
        Blocks {
            base: usize::MAX,
            kept: 0,
            starts: 0,
        }
    }

    /// Loads the block at `base` (a multiple of 64, at most the line's length: with the pad,
    /// 64 bytes from there are in `s`).
    #[inline(always)]
    fn load(&mut self, s: &[u8], base: usize) {
        let (kept, starts) = match s.get(base..base + 64).and_then(|b| b.try_into().ok()) {
            Some(block) => block_masks(block),
            None => (0, 0),
        };
        self.base = base;
        self.kept = kept;
        self.starts = starts;
    }

    /// The first byte at or after `i` (below `n`) that starts a word.
    #[inline(always)]
    fn next_start(&mut self, s: &[u8], n: usize, i: usize) -> Option<usize> {
        let mut base = i & !63;
        if base != self.base {
            self.load(s, base);
        }
        let m = self.starts >> (i & 63);
        if m != 0 {
            return Some(i + m.trailing_zeros() as usize).filter(|&at| at < n);
        }
        loop {
            base += 64;
            if base >= n {
                return None;
            }
            self.load(s, base);
            if self.starts != 0 {
                return Some(base + self.starts.trailing_zeros() as usize).filter(|&at| at < n);
            }
        }
    }

    /// The end of the run of letters and digits from `i` (the pad stops every run).
    #[inline(always)]
    fn run_end(&mut self, s: &[u8], i: usize) -> usize {
        let mut base = i & !63;
        if base != self.base {
            self.load(s, base);
        }
        let m = !self.kept >> (i & 63);
        if m != 0 {
            return i + m.trailing_zeros() as usize;
        }
        loop {
            base += 64;
            self.load(s, base);
            if self.kept != u64::MAX {
                return base + (!self.kept).trailing_zeros() as usize;
            }
        }
    }
}

/// The end of the run of letters and digits from `i` in a lower-cased, padded line: eight bytes
/// at a time (bit 7 of each byte marks `a..=z` or `0..=9`; every byte is ASCII, so the adds
/// never carry into the next byte).
#[inline]
fn run_end(s: &[u8], mut i: usize) -> usize {
    const fn splat(b: u8) -> u64 {
        0x0101_0101_0101_0101 * b as u64
    }
    const HIGH: u64 = splat(0x80);
    let in_range = |x: u64, lo: u8, hi: u8| {
        x.wrapping_add(splat(0x80 - lo)) & !x.wrapping_add(splat(0x7F - hi))
    };
    while let Some(chunk) = s.get(i..i + 8) {
        let x = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let kept = (in_range(x, b'a', b'z') | in_range(x, b'0', b'9')) & HIGH;
        let stop = !kept & HIGH;
        if stop != 0 {
            return i + (stop.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < s.len() && KEPT[s[i] as usize] {
        i += 1;
    }
    i
}

/// The byte-level equivalent of [`unicode_words`] for ASCII input. The line is lower-cased
/// into `buf` at once (then a separator pad); a word that is one run of letters and digits
/// (nearly all) is then a slice of it, its end found eight bytes at a time. Joiners (`'`, `.`,
/// `:` between letters, `,` `;` between digits) and underscores continue a word without being
/// kept: such a word is put together after the pad in `buf`.
fn ascii_words(line: &[u8], buf: &mut Vec<u8>, f: &mut impl FnMut(&[u8])) {
    let n = line.len();
    buf.clear();
    buf.extend(line.iter().map(u8::to_ascii_lowercase));
    buf.extend_from_slice(&[b' '; PAD]);
    let padded = n + PAD;
    let mut blocks = Blocks::new();
    let mut i = 0;
    while i < n {
        match blocks.next_start(&buf[..padded], n, i) {
            Some(at) => i = at,
            None => break,
        }
        let start = i;
        i = blocks.run_end(&buf[..padded], i);
        // The pad is a separator: `continues` sees the line as if it ended at `n`.
        if !continues(&buf[..padded], i) {
            if i > start {
                f(&buf[start..i]);
            }
            continue;
        }
        // A joined word: its runs are copied after the pad.
        buf.extend_from_within(start..i);
        while continues(&buf[..padded], i) {
            let run = i + 1;
            i = run_end(&buf[..padded], run);
            buf.extend_from_within(run..i);
        }
        if buf.len() > padded {
            f(&buf[padded..]);
        }
        buf.truncate(padded);
    }
}

fn keep_char(c: char) -> bool {
    matches!(
        c.general_category_group(),
        GeneralCategoryGroup::Letter | GeneralCategoryGroup::Mark | GeneralCategoryGroup::Number
    )
}

/// The general path: NFKC, UAX #29 words, case folding, punctuation removed.
fn unicode_words(line: &str, buf: &mut Vec<u8>, f: &mut impl FnMut(&[u8])) {
    let normalised: String = line.nfkc().collect();
    for word in normalised.unicode_words() {
        buf.clear();
        for c in word.chars().filter(|&c| keep_char(c)) {
            match c {
                'ß' | 'ẞ' => buf.extend_from_slice(b"ss"),
                'ς' => buf.extend_from_slice("σ".as_bytes()),
                _ => {
                    for lower in c.to_lowercase() {
                        let mut utf8 = [0u8; 4];
                        buf.extend_from_slice(lower.encode_utf8(&mut utf8).as_bytes());
                    }
                }
            }
        }
        if !buf.is_empty() {
            f(buf);
        }
    }
}

/// The hash of one folded word. Shingles are built from these.
#[inline]
pub fn word_hash(word: &[u8]) -> u64 {
    xxh3_64(word)
}

/// The folded words of a text, for display, tests and debugging (the engine uses hashes).
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    for line in text.lines() {
        for_each_word(line, &mut buf, |w| {
            out.push(String::from_utf8_lossy(w).into_owned());
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The byte-level equivalent of [`unicode_words`] for ASCII input: one table lookup per byte,
    /// letters lower-cased into a stack buffer. A word longer than the buffer is folded again from
    /// its byte range into `buf` (its folded form is just its letters and digits, lower-cased).
    fn ascii_words_before(line: &[u8], buf: &mut Vec<u8>, f: &mut impl FnMut(&[u8])) {
        const STACK: usize = 64;
        let n = line.len();
        let mut word = [0u8; STACK];
        let mut i = 0;
        while i < n {
            while i < n && !matches!(CLASS[line[i] as usize], LETTER | DIGIT | UNDERSCORE) {
                i += 1;
            }
            if i >= n {
                break;
            }
            let start = i;
            let mut len = 0usize;
            while i < n {
                let c = line[i];
                let class = CLASS[c as usize];
                if class == LETTER || class == DIGIT {
                    word[len % STACK] = c.to_ascii_lowercase();
                    len += 1;
                } else if class == MID {
                    // Inside a word, the byte before is the last one consumed.
                    let prev = CLASS[line[i - 1] as usize];
                    let next = CLASS[line.get(i + 1).copied().unwrap_or(0) as usize];
                    let joins = match c {
                        b':' => prev == LETTER && next == LETTER,
                        b'.' | b'\'' => prev == next && (prev == LETTER || prev == DIGIT),
                        _ => prev == DIGIT && next == DIGIT,
                    };
                    if !joins {
                        break;
                    }
                } else if class != UNDERSCORE {
                    break;
                }
                i += 1;
            }
            if len > STACK {
                buf.clear();
                buf.extend(
                    line[start..i]
                        .iter()
                        .filter(|c| c.is_ascii_alphanumeric())
                        .map(u8::to_ascii_lowercase),
                );
                f(buf);
            } else if len > 0 {
                f(&word[..len]);
            }
        }
    }

    fn via_unicode(line: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        unicode_words(line, &mut buf, &mut |w: &[u8]| {
            out.push(String::from_utf8_lossy(w).into_owned())
        });
        out
    }

    fn via_ascii(line: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        ascii_words(line.as_bytes(), &mut buf, &mut |w: &[u8]| {
            out.push(String::from_utf8_lossy(w).into_owned())
        });
        out
    }

    #[test]
    fn folds_case_punctuation_and_width() {
        assert_eq!(
            words("Don't PANIC: the U.S. paid $1,000.50 (approx.)"),
            vec!["dont", "panic", "the", "us", "paid", "100050", "approx"]
        );
        assert_eq!(words("Straße STRASSE"), vec!["strasse", "strasse"]);
        // NFKC folds full-width forms and ligatures.
        assert_eq!(words("ＡＢＣ ﬁle"), vec!["abc", "file"]);
    }

    #[test]
    fn non_latin_scripts_tokenise() {
        // Hindi: vowel signs (marks) stay inside the word.
        assert_eq!(words("भारत ने कहा।"), vec!["भारत", "ने", "कहा"]);
        // Urdu: Arabic letters, Urdu full stop dropped.
        assert_eq!(words("پاکستان نے کہا۔"), vec!["پاکستان", "نے", "کہا"]);
        assert_eq!(words("Größe „Zitat“"), vec!["grösse", "zitat"]);
    }

    #[test]
    fn ascii_fast_path_agrees_with_unicode_path() {
        for s in [
            "Hello, world! It's 3.14 or 1,000;000 a:b a.1 1.a __x__ x_y _ ' . ,",
            "e-mail: foo@bar.com http://x.y/z?a=1&b=2 #tag @user",
            "U.S.A. isn't 'quoted' \"double\" (paren) [bracket] {brace}",
            "a'b'c 1'2 a:1 1:2 9,a a,9 ...a... 'tis rock'n'roll",
            &format!("short {} tail {}x", "Ab1_".repeat(30), "Z".repeat(63)),
        ] {
            assert_eq!(via_ascii(s), via_unicode(s), "{s}");
            assert_eq!(via_ascii(s).concat(), via_unicode(s).concat());
        }
    }

    fn via_public(line: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        for_each_word(line, &mut buf, |w| {
            out.push(String::from_utf8_lossy(w).into_owned())
        });
        out
    }

    proptest! {
        #[test]
        fn run_by_run_scan_agrees_with_the_byte_by_byte_one(
            s in "([a-zA-Z0-9]{0,70}|[ .,:;'_A-Z0-9a-z]{0,3}|[ -~]{0,2}){0,12}"
        ) {
            let (mut ours, mut before) = (Vec::new(), Vec::new());
            let mut buf = Vec::new();
            ascii_words(s.as_bytes(), &mut buf, &mut |w: &[u8]| ours.push(w.to_vec()));
            ascii_words_before(s.as_bytes(), &mut buf, &mut |w: &[u8]| before.push(w.to_vec()));
            prop_assert_eq!(ours, before);
        }

        #[test]
        fn block_masks_agree_with_the_byte_tables(bytes in proptest::collection::vec(0u8..128, 64..200)) {
            // The blocks are of lower-cased lines.
            let bytes: Vec<u8> = bytes.iter().map(u8::to_ascii_lowercase).collect();
            let mut blocks = Blocks::new();
            blocks.load(&bytes, 0);
            let block: &[u8; 64] = bytes[..64].try_into().expect("64 bytes");
            prop_assert_eq!(block_masks_swar(block), (blocks.kept, blocks.starts));
            for (j, &b) in bytes[..64].iter().enumerate() {
                prop_assert_eq!(blocks.kept >> j & 1 == 1, KEPT[b as usize], "kept at {}", j);
                prop_assert_eq!(blocks.starts >> j & 1 == 1, STARTS[b as usize], "starts at {}", j);
            }
        }

        #[test]
        fn long_runs_across_blocks_split_as_before(
            s in "([a-z0-9]{50,140}[ ._']{1,2}){1,6}"
        ) {
            let (mut ours, mut before) = (Vec::new(), Vec::new());
            let mut buf = Vec::new();
            ascii_words(s.as_bytes(), &mut buf, &mut |w: &[u8]| ours.push(w.to_vec()));
            ascii_words_before(s.as_bytes(), &mut buf, &mut |w: &[u8]| before.push(w.to_vec()));
            prop_assert_eq!(ours, before);
        }

        #[test]
        fn ascii_paths_agree(s in "[ -~]{0,80}") {
            prop_assert_eq!(via_ascii(&s), via_unicode(&s));
        }

        #[test]
        fn typographic_punctuation_takes_the_fast_path_faithfully(
            s in "[a-c1-2 .,:;'_\u{2018}\u{2019}\u{201C}\u{201D}\u{2013}\u{2014}\u{2026}\u{00A0}\u{00AB}\u{00BB}\u{2022}]{0,60}"
        ) {
            prop_assert!(ascii_equivalent(&s).is_some());
            prop_assert_eq!(via_public(&s), via_unicode(&s));
        }

        #[test]
        fn any_text_tokenises_without_panic(s in "\\PC{0,200}") {
            let _ = words(&s);
        }
    }
}
