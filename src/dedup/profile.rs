//! The article profile: the exact set of shingles that matching compares, and for each shingle
//! the paragraph it first appears in. MinHash ([`super::minhash`]) only estimates Jaccard
//! similarity; a truncated copy, a stub that holds only the lead, or a copy wrapped in a page's
//! chrome has a low Jaccard similarity but is almost wholly *contained* in its original, and only
//! exact counts tell containment apart from noise when the two texts differ ten times in length.
//!
//! The profile also answers "do the two *articles* start alike?" ([`Overlap::lead_offset_a`]):
//! walking a text's lead paragraphs (matched paragraphs of at least [`LEAD_MIN_WORDS`] words:
//! headlines, bylines and widget lines are too short to count), how many shingles come before the
//! first paragraph that is mostly found in the other text. A chrome-wrapped or truncated copy
//! starts where its original starts (offset near 0 on both sides); a live blog or digest holds
//! the item in its middle, and a page quoting an item has its own opening.
//!
//! Memory: 8 bytes per distinct shingle (a 32-bit hash and a paragraph number), at most
//! [`MAX_PROFILE_SHINGLES`] per text.

use serde::{Deserialize, Serialize};

/// Distinct shingles a profile keeps (the first ones in text order); bounds memory per article.
pub const MAX_PROFILE_SHINGLES: usize = 8192;
/// A matched paragraph of at least this many words can carry the article's lead.
pub const LEAD_MIN_WORDS: u32 = 15;
/// Anchors: sampled shingles of the start of the article text, indexed to find containment
/// candidates that MinHash banding cannot (a stub is a tenth of its original's length).
pub const ANCHOR_SPAN: usize = 256;
/// One shingle in this many (by hash) is an anchor, so two texts pick the same ones.
pub const ANCHOR_SAMPLING: u32 = 8;
/// Anchors kept per text at most (the first ones in text order).
pub const MAX_ANCHORS: usize = 24;

/// One matched paragraph of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileParagraph {
    /// Distinct shingles that first appear in this paragraph.
    pub shingles: u32,
    /// Long enough to carry the article's lead.
    pub lead: bool,
}

/// The exact shingle set of a text's matched paragraphs. See the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// `(hash >> 32) << 32 | paragraph`, sorted, one entry per distinct 32-bit hash.
    entries: Vec<u64>,
    paragraphs: Vec<ProfileParagraph>,
    /// Sampled shingles of the first [`ANCHOR_SPAN`] lead shingles, distinct.
    anchors: Vec<u32>,
    /// [`Profile::digest`], computed once.
    digest: u64,
    /// Shingles (high 32 bits, sorted, distinct) of the paragraphs set aside for matching that
    /// are not among `entries`: with them, the whole page can be compared (see
    /// [`Profile::page_jaccard`]).
    aside: Vec<u32>,
}

/// How two profiles overlap.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Overlap {
    /// Distinct shingles in both.
    pub shared: u32,
    /// Distinct shingles of each text.
    pub a: u32,
    pub b: u32,
    /// Lead shingles of `a` before its first lead paragraph that is mostly (at least half) in
    /// `b`; `None` when no lead paragraph of `a` is.
    pub lead_offset_a: Option<u32>,
    /// The same for `b` against `a`.
    pub lead_offset_b: Option<u32>,
    /// Of `a`'s lead shingles from its first to its last lead paragraph mostly in `b`, the share
    /// that is in `b` (1 when no lead paragraph of `a` is in `b`). A truncated or wrapped copy
    /// carries its original's article as one run; a page quoting a story picks paragraphs out
    /// of it and skips the ones between.
    pub lead_coverage_a: f32,
    /// The same for `b` against `a`.
    pub lead_coverage_b: f32,
}

impl Profile {
    /// Builds a profile from the matched paragraphs in text order: each one's shingle hashes
    /// and word count.
    pub fn build(paragraphs: &[(&[u64], u32)]) -> Profile {
        let total: usize = paragraphs.iter().map(|(s, _)| s.len()).sum();
        let mut entries: Vec<u64> = Vec::with_capacity(total.min(MAX_PROFILE_SHINGLES));
        let any_long = paragraphs.iter().any(|&(_, w)| w >= LEAD_MIN_WORDS);
        // A text without a long paragraph (a list, a stub) leads with what it has.
        let is_lead = |words: u32| words >= LEAD_MIN_WORDS || !any_long;
        let mut anchors: Vec<u32> = Vec::with_capacity(MAX_ANCHORS);
        let mut lead_seen = 0usize;
        for (index, &(shingles, words)) in paragraphs.iter().enumerate() {
            let lead = is_lead(words);
            for &h in shingles {
                if entries.len() >= MAX_PROFILE_SHINGLES {
                    break;
                }
                let high = (h >> 32) as u32;
                entries.push((high as u64) << 32 | index as u64);
                if lead && lead_seen < ANCHOR_SPAN {
                    lead_seen += 1;
                    if high % ANCHOR_SAMPLING == 0
                        && anchors.len() < MAX_ANCHORS
                        && !anchors.contains(&high)
                    {
                        anchors.push(high);
                    }
                }
            }
        }
        anchors.sort_unstable();
        // Keep each hash once, with the first paragraph it appears in: a stable sort on the hash
        // keeps text order within one hash, so the first of a run is the earliest.
        radix_sort_by_high_half(&mut entries);
        entries.dedup_by(|later, first| *later >> 32 == *first >> 32);
        let mut counts = vec![0u32; paragraphs.len()];
        for &e in &entries {
            counts[(e & 0xFFFF_FFFF) as usize] += 1;
        }
        let paragraphs: Vec<ProfileParagraph> = paragraphs
            .iter()
            .zip(counts)
            .map(|(&(_, words), shingles)| ProfileParagraph {
                shingles,
                lead: is_lead(words),
            })
            .collect();
        let digest = digest_of(&entries);
        Profile {
            entries,
            paragraphs,
            anchors,
            digest,
            aside: Vec::new(),
        }
    }

    /// Adds the shingles of the paragraphs set aside for matching, for the whole-page
    /// comparison (at most [`MAX_PROFILE_SHINGLES`] in all).
    pub fn with_aside<'a>(mut self, set_aside: impl Iterator<Item = &'a [u64]>) -> Profile {
        let room = MAX_PROFILE_SHINGLES.saturating_sub(self.entries.len());
        let mut aside: Vec<u32> = set_aside
            .flatten()
            .map(|&h| (h >> 32) as u32)
            .filter(|&h| !self.contains(h))
            .take(room)
            .collect();
        aside.sort_unstable();
        aside.dedup();
        self.aside = aside;
        self
    }

    /// The inverse of [`Profile::aside`] as stored: sorted, distinct and not among the entries,
    /// or `None`.
    pub fn with_aside_sorted(mut self, aside: Vec<u32>) -> Option<Profile> {
        if aside.windows(2).any(|w| w[0] >= w[1]) || aside.iter().any(|&h| self.contains(h)) {
            return None;
        }
        self.aside = aside;
        Some(self)
    }

    /// The set-aside shingles (see [`Profile::with_aside`]).
    pub fn aside(&self) -> &[u32] {
        &self.aside
    }

    /// Distinct shingles of the whole page, set-aside paragraphs included.
    pub fn page_len(&self) -> usize {
        self.entries.len() + self.aside.len()
    }

    fn contains(&self, high: u32) -> bool {
        self.entries
            .binary_search_by(|e| ((e >> 32) as u32).cmp(&high))
            .is_ok()
    }

    /// Jaccard similarity of the two whole pages (matched and set-aside shingles together):
    /// near-identical pages are one story whatever each side set aside. A page's chrome is
    /// learned as it recurs, so two snapshots of one page can set aside different paragraphs
    /// and compare poorly on their matched text alone.
    pub fn page_jaccard(&self, other: &Profile) -> f32 {
        let (a, b) = (self.page_len(), other.page_len());
        if a == 0 || b == 0 {
            return 0.0;
        }
        let mut x = PageShingles::new(self);
        let mut y = PageShingles::new(other);
        let (mut p, mut q) = (x.next(), y.next());
        let mut shared = 0usize;
        while let (Some(u), Some(v)) = (p, q) {
            match u.cmp(&v) {
                std::cmp::Ordering::Less => p = x.next(),
                std::cmp::Ordering::Greater => q = y.next(),
                std::cmp::Ordering::Equal => {
                    shared += 1;
                    p = x.next();
                    q = y.next();
                }
            }
        }
        shared as f32 / (a + b - shared) as f32
    }

    /// Distinct shingles.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn paragraphs(&self) -> &[ProfileParagraph] {
        &self.paragraphs
    }

    /// The sampled lead shingles that the engine indexes for containment candidates.
    pub fn anchors(&self) -> &[u32] {
        &self.anchors
    }

    /// A hash of the exact shingle set: equal for texts whose matched shingles are equal.
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.entries.capacity() * 8
            + self.paragraphs.capacity() * 8
            + self.anchors.capacity() * 4
            + self.aside.capacity() * 4
    }

    /// Exact overlap of two profiles: one merge pass over the sorted entries.
    pub fn overlap(&self, other: &Profile) -> Overlap {
        let mut shared_a = vec![0u32; self.paragraphs.len()];
        let mut shared_b = vec![0u32; other.paragraphs.len()];
        let (a, b) = (&self.entries, &other.entries);
        let (mut i, mut j, mut shared) = (0, 0, 0u32);
        while i < a.len() && j < b.len() {
            let (x, y) = (a[i] >> 32, b[j] >> 32);
            if x < y {
                i += 1;
            } else if y < x {
                j += 1;
            } else {
                shared += 1;
                shared_a[(a[i] & 0xFFFF_FFFF) as usize] += 1;
                shared_b[(b[j] & 0xFFFF_FFFF) as usize] += 1;
                i += 1;
                j += 1;
            }
        }
        let (lead_offset_a, lead_coverage_a) = lead_span(&self.paragraphs, &shared_a);
        let (lead_offset_b, lead_coverage_b) = lead_span(&other.paragraphs, &shared_b);
        Overlap {
            shared,
            a: a.len() as u32,
            b: b.len() as u32,
            lead_offset_a,
            lead_offset_b,
            lead_coverage_a,
            lead_coverage_b,
        }
    }

    /// Serialises: paragraph count, entry count, anchor count, then the paragraphs (shingles
    /// with the lead flag in the top bit), entries and anchors; all little-endian.
    pub fn write_bytes(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.paragraphs.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.anchors.len() as u32).to_le_bytes());
        for p in &self.paragraphs {
            let v = p.shingles.min(0x7FFF_FFFF) | if p.lead { 0x8000_0000 } else { 0 };
            out.extend_from_slice(&v.to_le_bytes());
        }
        for e in &self.entries {
            out.extend_from_slice(&e.to_le_bytes());
        }
        for a in &self.anchors {
            out.extend_from_slice(&a.to_le_bytes());
        }
    }

    /// The inverse of [`Profile::write_bytes`]: the profile and the bytes it used, or `None`
    /// when the bytes are not a well-formed profile.
    pub fn read_bytes(bytes: &[u8]) -> Option<(Profile, usize)> {
        let u32_at = |i: usize| -> Option<u32> {
            bytes
                .get(i..i + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        let (np, ne, na) = (
            u32_at(0)? as usize,
            u32_at(4)? as usize,
            u32_at(8)? as usize,
        );
        if np > MAX_PROFILE_SHINGLES * 4 || ne > MAX_PROFILE_SHINGLES || na > MAX_ANCHORS {
            return None;
        }
        let mut at = 12;
        let mut paragraphs = Vec::with_capacity(np);
        for _ in 0..np {
            let v = u32_at(at)?;
            paragraphs.push(ProfileParagraph {
                shingles: v & 0x7FFF_FFFF,
                lead: v & 0x8000_0000 != 0,
            });
            at += 4;
        }
        let mut entries = Vec::with_capacity(ne);
        for _ in 0..ne {
            let b = bytes.get(at..at + 8)?;
            let e = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            if (e & 0xFFFF_FFFF) as usize >= np {
                return None;
            }
            entries.push(e);
            at += 8;
        }
        let mut anchors = Vec::with_capacity(na);
        for _ in 0..na {
            anchors.push(u32_at(at)?);
            at += 4;
        }
        if entries.windows(2).any(|w| w[0] >> 32 >= w[1] >> 32) {
            return None;
        }
        let digest = digest_of(&entries);
        Some((
            Profile {
                entries,
                paragraphs,
                anchors,
                digest,
                aside: Vec::new(),
            },
            at,
        ))
    }
}

fn digest_of(entries: &[u64]) -> u64 {
    // The empty profile's digest is the default's, so an empty profile reads back equal.
    if entries.is_empty() {
        return 0;
    }
    let mut bytes = Vec::with_capacity(entries.len() * 4);
    for e in entries {
        bytes.extend_from_slice(&((e >> 32) as u32).to_le_bytes());
    }
    xxhash_rust::xxh3::xxh3_64(&bytes)
}

/// LSD radix sort of `v` by its high 32 bits, 8 bits a pass; stable. Profiles are sorted once
/// per article, so this is on the hot path (about 4x faster than a comparison sort here).
fn radix_sort_by_high_half(v: &mut Vec<u64>) {
    if v.len() < 64 {
        v.sort_by_key(|e| e >> 32);
        return;
    }
    let mut buf = vec![0u64; v.len()];
    for pass in 0..4 {
        let shift = 32 + pass * 8;
        let mut counts = [0usize; 256];
        for &e in v.iter() {
            counts[((e >> shift) & 0xFF) as usize] += 1;
        }
        let mut sum = 0;
        for c in counts.iter_mut() {
            let n = *c;
            *c = sum;
            sum += n;
        }
        for &e in v.iter() {
            let b = ((e >> shift) & 0xFF) as usize;
            buf[counts[b]] = e;
            counts[b] += 1;
        }
        std::mem::swap(v, &mut buf);
    }
}

/// A page's shingles in ascending order: the matched entries and the set-aside ones merged.
struct PageShingles<'a> {
    entries: &'a [u64],
    aside: &'a [u32],
}

impl<'a> PageShingles<'a> {
    fn new(p: &'a Profile) -> Self {
        PageShingles {
            entries: &p.entries,
            aside: &p.aside,
        }
    }
}

impl Iterator for PageShingles<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        let e = self.entries.first().map(|&e| (e >> 32) as u32);
        let a = self.aside.first().copied();
        match (e, a) {
            (Some(e), Some(a)) if a < e => {
                self.aside = &self.aside[1..];
                Some(a)
            }
            (Some(e), _) => {
                self.entries = &self.entries[1..];
                Some(e)
            }
            (None, Some(a)) => {
                self.aside = &self.aside[1..];
                Some(a)
            }
            (None, None) => None,
        }
    }
}

/// Lead shingles before the first lead paragraph at least half of whose shingles are shared,
/// and the shared share of the lead shingles from that paragraph to the last such one.
fn lead_span(paragraphs: &[ProfileParagraph], shared: &[u32]) -> (Option<u32>, f32) {
    let mut before = 0u32;
    let mut offset = None;
    // Totals over the span so far, and up to the last mostly shared paragraph.
    let (mut run_total, mut run_shared) = (0u32, 0u32);
    let (mut span_total, mut span_shared) = (0u32, 0u32);
    for (p, &s) in paragraphs.iter().zip(shared) {
        if !p.lead || p.shingles == 0 {
            continue;
        }
        let mostly = s * 2 >= p.shingles;
        if offset.is_none() {
            if !mostly {
                before += p.shingles;
                continue;
            }
            offset = Some(before);
        }
        run_total += p.shingles;
        run_shared += s.min(p.shingles);
        if mostly {
            (span_total, span_shared) = (run_total, run_shared);
        }
    }
    let coverage = if span_total > 0 {
        span_shared as f32 / span_total as f32
    } else {
        1.0
    };
    (offset, coverage)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn para(base: u64, n: u64) -> Vec<u64> {
        (base..base + n)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect()
    }

    fn profile(paras: &[Vec<u64>]) -> Profile {
        let parts: Vec<(&[u64], u32)> =
            paras.iter().map(|p| (&p[..], p.len() as u32 + 4)).collect();
        Profile::build(&parts)
    }

    #[test]
    fn a_stub_is_contained_and_starts_where_its_original_starts() {
        let story = vec![para(0, 40), para(100, 40), para(200, 40), para(300, 40)];
        let stub = vec![para(0, 40)];
        let o = profile(&stub).overlap(&profile(&story));
        assert_eq!((o.shared, o.a, o.b), (40, 40, 160));
        assert_eq!(o.lead_offset_a, Some(0));
        assert_eq!(o.lead_offset_b, Some(0));
    }

    #[test]
    fn an_item_inside_a_live_blog_is_not_at_its_start() {
        let item = vec![para(500, 40), para(600, 40)];
        let blog = vec![para(0, 40), para(100, 40), para(500, 40), para(600, 40)];
        let o = profile(&item).overlap(&profile(&blog));
        assert_eq!(o.shared, 80);
        assert_eq!(o.lead_offset_a, Some(0));
        assert_eq!(o.lead_offset_b, Some(80));
        let other = vec![para(900, 40)];
        assert_eq!(profile(&item).overlap(&profile(&other)).lead_offset_a, None);
    }

    #[test]
    fn a_quote_skips_paragraphs_and_an_abridged_copy_starts_at_the_lead() {
        let story: Vec<Vec<u64>> = (0..6).map(|i| para(i * 100, 40)).collect();
        // A blog quoting the second and fifth paragraphs.
        let quote = vec![story[1].clone(), story[4].clone()];
        let o = profile(&quote).overlap(&profile(&story));
        assert_eq!(o.lead_offset_b, Some(40));
        assert!((o.lead_coverage_b - 0.5).abs() < 1e-6, "{o:?}");
        assert!((o.lead_coverage_a - 1.0).abs() < 1e-6, "{o:?}");
        // An abridged copy: the lead, then the fourth paragraph.
        let abridged = vec![story[0].clone(), story[3].clone()];
        let o = profile(&abridged).overlap(&profile(&story));
        assert_eq!(o.lead_offset_b, Some(0));
        assert!((o.lead_coverage_b - 0.5).abs() < 1e-6, "{o:?}");
        // A truncated copy carries its original's lead as one run.
        let truncated = story[..3].to_vec();
        let o = profile(&truncated).overlap(&profile(&story));
        assert!((o.lead_coverage_b - 1.0).abs() < 1e-6, "{o:?}");
    }

    #[test]
    fn pages_compare_whole_whatever_each_set_aside() {
        let (chrome, caption, article) = (para(0, 60), para(100, 60), para(200, 20));
        // One snapshot set the captions aside, the other the chrome.
        let first = Profile::build(&[(&chrome[..], 64), (&article[..], 24)])
            .with_aside([&caption[..]].into_iter());
        let second = Profile::build(&[(&caption[..], 64), (&article[..], 24)])
            .with_aside([&chrome[..]].into_iter());
        let matched = first.overlap(&second);
        assert!(matched.shared * 3 < matched.a + matched.b, "{matched:?}");
        assert_eq!(first.page_len(), 140);
        assert!((first.page_jaccard(&second) - 1.0).abs() < 1e-6);
        // A shingle both matched and set aside counts once.
        let again = Profile::build(&[(&article[..], 24)]).with_aside([&article[..]].into_iter());
        assert!(again.aside().is_empty());
        assert_eq!(again.clone().with_aside_sorted(vec![5, 3]), None);
        let other = Profile::build(&[(&para(900, 40)[..], 44)]);
        assert_eq!(first.page_jaccard(&other), 0.0);
    }

    #[test]
    fn radix_sort_is_a_stable_sort_on_the_hash() {
        let mut state = 99u64;
        let mut v: Vec<u64> = (0..5000u64)
            .map(|i| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 40) << 32 | i
            })
            .collect();
        let mut expected = v.clone();
        expected.sort_by_key(|e| e >> 32);
        radix_sort_by_high_half(&mut v);
        assert_eq!(v, expected);
    }

    #[test]
    fn repeated_shingles_count_once_and_bytes_round_trip() {
        let p = profile(&[para(0, 30), para(0, 30), para(40, 10)]);
        assert_eq!(p.len(), 40);
        assert_eq!(p.paragraphs()[1].shingles, 0);
        let mut bytes = Vec::new();
        p.write_bytes(&mut bytes);
        let (back, used) = Profile::read_bytes(&bytes).expect("round trip");
        assert_eq!(back, p);
        assert_eq!(used, bytes.len());
        assert!(Profile::read_bytes(&bytes[..bytes.len() - 1]).is_none());
        assert!(!p.anchors().is_empty());
    }
}
