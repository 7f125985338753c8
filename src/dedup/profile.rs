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
//! Memory: 5 bytes per distinct shingle (a 32-bit hash and the number of its paragraph in one
//! byte; 2 or 4 bytes when the text has more than 256 or 65,536 paragraphs), at most
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
/// Smallest page hashes compared by [`Profile::page_jaccard_estimate`].
pub const PAGE_SKETCH: usize = 32;
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
///
/// Serialised (serde) as it was when the entries were one `u64` each (`entries`:
/// `hash << 32 | paragraph`), so stored or exchanged profiles read back either way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "ProfileRepr", try_from = "ProfileRepr")]
pub struct Profile {
    /// The high 32 bits of each distinct shingle hash, sorted.
    hashes: Vec<u32>,
    /// The (first) paragraph of each of `hashes`, by position.
    paragraph_of: ParagraphOf,
    paragraphs: Vec<ProfileParagraph>,
    /// Sampled shingles of the first [`ANCHOR_SPAN`] lead shingles, distinct.
    anchors: Vec<u32>,
    /// [`Profile::digest`], computed once.
    digest: u64,
    /// Shingles (high 32 bits, sorted, distinct) of the paragraphs set aside for matching that
    /// are not among `entries`: with them, the whole page can be compared (see
    /// [`Profile::page_jaccard`]).
    aside: Vec<u32>,
    /// The page is a digest or aggregator page (see [`Profile::with_digest_page`]).
    digest_page: bool,
    /// The page is a live blog (see [`Profile::with_live_blog`]).
    live_blog: bool,
}

/// [`Profile`] as serde sees it: the layout from before the hashes and paragraph numbers were
/// stored apart.
#[derive(Serialize, Deserialize)]
struct ProfileRepr {
    /// `hash << 32 | paragraph`, sorted, one entry per distinct 32-bit hash.
    entries: Vec<u64>,
    paragraphs: Vec<ProfileParagraph>,
    anchors: Vec<u32>,
    digest: u64,
    aside: Vec<u32>,
    #[serde(default)]
    digest_page: bool,
    #[serde(default)]
    live_blog: bool,
}

impl From<Profile> for ProfileRepr {
    fn from(p: Profile) -> Self {
        ProfileRepr {
            entries: p.entries().collect(),
            paragraphs: p.paragraphs,
            anchors: p.anchors,
            digest: p.digest,
            aside: p.aside,
            digest_page: p.digest_page,
            live_blog: p.live_blog,
        }
    }
}

impl TryFrom<ProfileRepr> for Profile {
    type Error = String;
    fn try_from(r: ProfileRepr) -> Result<Self, String> {
        let np = r.paragraphs.len();
        if r.entries.iter().any(|&e| (e & LOW) as usize >= np) {
            return Err(format!("a profile entry names a paragraph past its {np}"));
        }
        Ok(Profile {
            hashes: r.entries.iter().map(|&e| (e >> 32) as u32).collect(),
            paragraph_of: ParagraphOf::new(np, r.entries.iter().map(|&e| e as u32)),
            paragraphs: r.paragraphs,
            anchors: r.anchors,
            digest: r.digest,
            aside: r.aside,
            digest_page: r.digest_page,
            live_blog: r.live_blog,
        })
    }
}

/// The paragraph number of each entry of a profile, in the narrowest width its paragraph count
/// allows: one byte for almost every text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ParagraphOf {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
}

impl Default for ParagraphOf {
    fn default() -> Self {
        ParagraphOf::U8(Vec::new())
    }
}

impl ParagraphOf {
    /// The numbers (each below `paragraphs`) in the width `paragraphs` needs.
    fn new(paragraphs: usize, numbers: impl ExactSizeIterator<Item = u32>) -> Self {
        if paragraphs <= 1 << 8 {
            ParagraphOf::U8(numbers.map(|p| p as u8).collect())
        } else if paragraphs <= 1 << 16 {
            ParagraphOf::U16(numbers.map(|p| p as u16).collect())
        } else {
            ParagraphOf::U32(numbers.collect())
        }
    }

    /// The paragraph of entry `i`.
    #[inline]
    fn get(&self, i: usize) -> usize {
        match self {
            ParagraphOf::U8(v) => v[i] as usize,
            ParagraphOf::U16(v) => v[i] as usize,
            ParagraphOf::U32(v) => v[i] as usize,
        }
    }

    /// Adds one to `counts` at the paragraph of each entry `base + i` for `i` in `at`.
    fn count(&self, base: usize, at: impl Iterator<Item = usize>, counts: &mut [u32]) {
        match self {
            ParagraphOf::U8(v) => at.for_each(|i| counts[v[base + i] as usize] += 1),
            ParagraphOf::U16(v) => at.for_each(|i| counts[v[base + i] as usize] += 1),
            ParagraphOf::U32(v) => at.for_each(|i| counts[v[base + i] as usize] += 1),
        }
    }

    /// Asks for every cache line of the numbers (see [`prefetch`]).
    #[cfg(target_arch = "x86_64")]
    fn prefetch(&self) {
        let (start, bytes) = match self {
            ParagraphOf::U8(v) => (v.as_ptr().cast::<u8>(), v.len()),
            ParagraphOf::U16(v) => (v.as_ptr().cast::<u8>(), v.len() * 2),
            ParagraphOf::U32(v) => (v.as_ptr().cast::<u8>(), v.len() * 4),
        };
        for offset in (0..bytes).step_by(64) {
            prefetch(start.wrapping_add(offset));
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            ParagraphOf::U8(v) => v.capacity(),
            ParagraphOf::U16(v) => v.capacity() * 2,
            ParagraphOf::U32(v) => v.capacity() * 4,
        }
    }
}

/// One side of an intersection: sorted distinct hashes and their paragraphs.
#[derive(Clone, Copy)]
struct Side<'a> {
    hashes: &'a [u32],
    paragraph_of: &'a ParagraphOf,
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
    /// Either text is a digest (see [`Profile::with_digest_page`]).
    pub digest_page: bool,
    /// Both texts are live blogs (see [`Profile::with_live_blog`]).
    pub live_blogs: bool,
}

impl Profile {
    /// Builds a profile from the matched paragraphs in text order: each one's shingle hashes
    /// and word count.
    pub fn build(paragraphs: &[(&[u64], u32)]) -> Profile {
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut scratch) => Self::build_with(paragraphs, &mut scratch),
            Err(_) => Self::build_with(paragraphs, &mut Scratch::default()),
        })
    }

    fn build_with(paragraphs: &[(&[u64], u32)], scratch: &mut Scratch) -> Profile {
        let any_long = paragraphs.iter().any(|&(_, w)| w >= LEAD_MIN_WORDS);
        // A text without a long paragraph (a list, a stub) leads with what it has.
        let is_lead = |words: u32| words >= LEAD_MIN_WORDS || !any_long;
        let mut anchors: Vec<u32> = Vec::with_capacity(MAX_ANCHORS);
        let mut lead_seen = 0usize;
        // Every shingle in text order, up to the cap: `hash's high half << 32 | paragraph`.
        let raw = &mut scratch.raw;
        raw.clear();
        for (index, &(shingles, words)) in paragraphs.iter().enumerate() {
            let room = MAX_PROFILE_SHINGLES - raw.len();
            if room == 0 {
                break;
            }
            let taken = &shingles[..shingles.len().min(room)];
            let low = index as u64;
            raw.extend(taken.iter().map(|&h| h & HIGH | low));
            if lead_seen < ANCHOR_SPAN && is_lead(words) {
                let span = taken.len().min(ANCHOR_SPAN - lead_seen);
                lead_seen += span;
                for &h in &taken[..span] {
                    let high = (h >> 32) as u32;
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
        // Keep each hash once, with the first paragraph it appears in. Paragraph numbers grow in
        // text order, so sorting whole entries puts the earliest paragraph first in each run of
        // one hash: the same result as a stable sort on the hash alone.
        // Sorted in a reused buffer, then copied out at their exact size (a vector sorted in
        // place would keep the capacity of the repeats it dropped).
        let sorted = &mut scratch.sorted;
        sorted.clear();
        sorted.resize(raw.len(), 0);
        if sort_entries(raw, sorted, &mut scratch.counts) {
            sorted.dedup_by(|later, first| *later >> 32 == *first >> 32);
        }
        let hashes: Vec<u32> = sorted.iter().map(|&e| (e >> 32) as u32).collect();
        let paragraph_of = ParagraphOf::new(paragraphs.len(), sorted.iter().map(|&e| e as u32));
        let mut counts = vec![0u32; paragraphs.len()];
        for &e in sorted.iter() {
            counts[(e & LOW) as usize] += 1;
        }
        let paragraphs: Vec<ProfileParagraph> = paragraphs
            .iter()
            .zip(counts)
            .map(|(&(_, words), shingles)| ProfileParagraph {
                shingles,
                lead: is_lead(words),
            })
            .collect();
        let digest = digest_with(&hashes, &mut scratch.bytes);
        Profile {
            hashes,
            paragraph_of,
            paragraphs,
            anchors,
            digest,
            aside: Vec::new(),
            digest_page: false,
            live_blog: false,
        }
    }

    /// Adds the shingles of the paragraphs set aside for matching, for the whole-page
    /// comparison (at most [`MAX_PROFILE_SHINGLES`] in all).
    pub fn with_aside<'a>(mut self, set_aside: impl Iterator<Item = &'a [u64]>) -> Profile {
        let room = MAX_PROFILE_SHINGLES.saturating_sub(self.hashes.len());
        let mut aside: Vec<u32> = set_aside
            .flatten()
            .map(|&h| (h >> 32) as u32)
            .filter(|&h| !self.contains(h))
            .take(room)
            .collect();
        aside.sort_unstable();
        aside.dedup();
        // Collected through a filter, so grown by doubling: kept for the engine's lifetime.
        aside.shrink_to_fit();
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

    /// Marks the page as a digest: a list of many stories' teasers (an aggregator or news
    /// round-up page). Such a page holds a lead of each story it abridges, so containment
    /// says nothing about it; it is one story with another page only when the two are alike
    /// as a whole.
    pub fn with_digest_page(mut self, digest_page: bool) -> Profile {
        self.digest_page = digest_page;
        self
    }

    /// See [`Profile::with_digest_page`].
    pub fn is_digest_page(&self) -> bool {
        self.digest_page
    }

    /// Marks the page as a live blog: time-stamped posts, newest first. A later capture of the
    /// page adds posts on top and drops old ones at the bottom, so two versions share a run of
    /// posts in their middles, which the lead test alone would read as a page quoting another.
    pub fn with_live_blog(mut self, live_blog: bool) -> Profile {
        self.live_blog = live_blog;
        self
    }

    /// See [`Profile::with_live_blog`].
    pub fn is_live_blog(&self) -> bool {
        self.live_blog
    }

    /// The set-aside shingles (see [`Profile::with_aside`]).
    pub fn aside(&self) -> &[u32] {
        &self.aside
    }

    /// Distinct shingles of the whole page, set-aside paragraphs included.
    pub fn page_len(&self) -> usize {
        self.hashes.len() + self.aside.len()
    }

    fn contains(&self, high: u32) -> bool {
        self.hashes.binary_search(&high).is_ok()
    }

    /// The entries as they were stored before: `hash << 32 | paragraph`, ascending.
    fn entries(&self) -> impl Iterator<Item = u64> + '_ {
        self.hashes
            .iter()
            .enumerate()
            .map(|(i, &h)| (h as u64) << 32 | self.paragraph_of.get(i) as u64)
    }

    fn side(&self) -> Side<'_> {
        Side {
            hashes: &self.hashes,
            paragraph_of: &self.paragraph_of,
        }
    }

    /// A quick estimate of [`Profile::page_jaccard`] from the [`PAGE_SKETCH`] smallest hashes of
    /// each page (a bottom-k sketch: of the smallest hashes of the union, the share in both).
    pub fn page_jaccard_estimate(&self, other: &Profile) -> f32 {
        let mut x = PageShingles::new(self).take(PAGE_SKETCH).peekable();
        let mut y = PageShingles::new(other).take(PAGE_SKETCH).peekable();
        let (mut seen, mut both) = (0usize, 0usize);
        while seen < PAGE_SKETCH {
            match (x.peek().copied(), y.peek().copied()) {
                (Some(u), Some(v)) if u == v => {
                    both += 1;
                    x.next();
                    y.next();
                }
                (Some(u), Some(v)) if u < v => {
                    x.next();
                }
                (Some(_), Some(_)) => {
                    y.next();
                }
                (Some(_), None) => {
                    x.next();
                }
                (None, Some(_)) => {
                    y.next();
                }
                (None, None) => break,
            }
            seen += 1;
        }
        if seen == 0 {
            0.0
        } else {
            both as f32 / seen as f32
        }
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
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
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
        self.hashes.capacity() * 4
            + self.paragraph_of.heap_bytes()
            + self.paragraphs.capacity() * 8
            + self.anchors.capacity() * 4
            + self.aside.capacity() * 4
    }

    /// Exact overlap of two profiles: one merge pass over the sorted entries (galloping through
    /// the longer one when their sizes differ widely).
    pub fn overlap(&self, other: &Profile) -> Overlap {
        let (np, nq) = (self.paragraphs.len(), other.paragraphs.len());
        let mut stack = [0u32; 2 * STACK_PARAGRAPHS];
        let mut heap = Vec::new();
        let counts: &mut [u32] = if np + nq <= stack.len() {
            &mut stack[..np + nq]
        } else {
            heap.resize(np + nq, 0);
            &mut heap
        };
        let (shared_a, shared_b) = counts.split_at_mut(np);
        let (a, b) = (self.side(), other.side());
        let shared = if a.hashes.len() <= b.hashes.len() {
            intersect(a, b, shared_a, shared_b)
        } else {
            intersect(b, a, shared_b, shared_a)
        };
        let (lead_offset_a, lead_coverage_a) = lead_span(&self.paragraphs, shared_a);
        let (lead_offset_b, lead_coverage_b) = lead_span(&other.paragraphs, shared_b);
        Overlap {
            shared,
            a: a.hashes.len() as u32,
            b: b.hashes.len() as u32,
            lead_offset_a,
            lead_offset_b,
            lead_coverage_a,
            lead_coverage_b,
            digest_page: self.digest_page || other.digest_page,
            live_blogs: self.live_blog && other.live_blog,
        }
    }

    /// Serialises: paragraph count, entry count, anchor count, then the paragraphs (shingles
    /// with the lead flag in the top bit), entries and anchors; all little-endian.
    pub fn write_bytes(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.paragraphs.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.hashes.len() as u32).to_le_bytes());
        out.extend_from_slice(&(self.anchors.len() as u32).to_le_bytes());
        for p in &self.paragraphs {
            let v = p.shingles.min(0x7FFF_FFFF) | if p.lead { 0x8000_0000 } else { 0 };
            out.extend_from_slice(&v.to_le_bytes());
        }
        for e in self.entries() {
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
        let (mut hashes, mut numbers) = (Vec::with_capacity(ne), Vec::with_capacity(ne));
        for _ in 0..ne {
            let b = bytes.get(at..at + 8)?;
            let e = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            if (e & 0xFFFF_FFFF) as usize >= np {
                return None;
            }
            hashes.push((e >> 32) as u32);
            numbers.push(e as u32);
            at += 8;
        }
        let mut anchors = Vec::with_capacity(na);
        for _ in 0..na {
            anchors.push(u32_at(at)?);
            at += 4;
        }
        if hashes.windows(2).any(|w| w[0] >= w[1]) {
            return None;
        }
        let digest = digest_of(&hashes);
        Some((
            Profile {
                hashes,
                paragraph_of: ParagraphOf::new(np, numbers.into_iter()),
                paragraphs,
                anchors,
                digest,
                aside: Vec::new(),
                digest_page: false,
                live_blog: false,
            },
            at,
        ))
    }
}

fn digest_of(hashes: &[u32]) -> u64 {
    digest_with(hashes, &mut Vec::new())
}

/// xxh3 of the hashes as little-endian `u32`s, written into `bytes` (reused).
fn digest_with(hashes: &[u32], bytes: &mut Vec<u8>) -> u64 {
    // The empty profile's digest is the default's, so an empty profile reads back equal.
    if hashes.is_empty() {
        return 0;
    }
    // Every byte hashed is written first, so the buffer is only grown, never cleared (zeroing
    // it was a memset per profile).
    let len = hashes.len() * 4;
    if bytes.len() < len {
        bytes.resize(len, 0);
    }
    let bytes = &mut bytes[..len];
    for (out, h) in bytes.chunks_exact_mut(4).zip(hashes) {
        out.copy_from_slice(&h.to_le_bytes());
    }
    xxhash_rust::xxh3::xxh3_64(bytes)
}

const HIGH: u64 = 0xFFFF_FFFF_0000_0000;
const LOW: u64 = 0xFFFF_FFFF;

/// Buffers reused from one profile build to the next (per thread).
#[derive(Default)]
struct Scratch {
    raw: Vec<u64>,
    sorted: Vec<u64>,
    counts: Vec<u32>,
    bytes: Vec<u8>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// A bucket holding more than this many entries means the hashes are not spread (crafted or
/// degenerate input): the sort falls back to a comparison sort instead of insertion sorting it.
const BUCKET_LIMIT: u32 = 48;

/// Sorts `raw` into `out` (ascending `u64`; as long as `raw`, all zero). Returns false when no
/// two entries share a hash (no dedup needed), true when some may. Profiles are sorted once per
/// article, so this is on the hot path. The hashes are uniform, so one counting pass on their
/// top bits gives one or two buckets per entry, and each entry is then inserted in order into its
/// bucket: two passes, against eight for an LSD radix sort of 8-bit digits.
fn sort_entries(raw: &[u64], out: &mut [u64], counts: &mut Vec<u32>) -> bool {
    let n = raw.len();
    debug_assert_eq!(out.len(), n);
    if n < 64 {
        out.copy_from_slice(raw);
        out.sort_unstable();
        return true;
    }
    // floor(log2 n) + 1 bits: between n and 2n buckets, so most entries land in an empty
    // bucket and the insertion below rarely shifts (its loop mispredicts when it does).
    let bits = (usize::BITS - n.leading_zeros()).min(16);
    let shift = 64 - bits;
    // The buffer keeps its length between builds; only the part used is zeroed (a memset).
    let size = 1usize << bits;
    if counts.len() < size {
        counts.resize(size, 0);
    }
    let counts = &mut counts[..size];
    counts.fill(0);
    let mut most = 0u32;
    for &e in raw {
        let c = &mut counts[(e >> shift) as usize];
        *c += 1;
        most = most.max(*c);
    }
    if most > BUCKET_LIMIT {
        out.copy_from_slice(raw);
        out.sort_unstable();
        return true;
    }
    let mut sum = 0u32;
    for c in counts.iter_mut() {
        let k = *c;
        *c = sum;
        sum += k;
    }
    // Each entry is inserted in order into its bucket: entries of lower buckets are smaller and
    // the slots not yet filled hold 0, so the shifting stops at the bucket's start. Entries come
    // in text order, so an earlier entry with the same hash is at or below the new one's
    // paragraph: right before it once inserted.
    let mut repeats = false;
    for &e in raw {
        let c = &mut counts[(e >> shift) as usize];
        let mut j = *c as usize;
        *c += 1;
        while j > 0 && out[j - 1] > e {
            out[j] = out[j - 1];
            j -= 1;
        }
        out[j] = e;
        // (An unfilled slot before a hash whose high half is 0 only costs a needless dedup.)
        repeats |= j > 0 && out[j - 1] >> 32 == e >> 32;
    }
    repeats
}

/// Sizes differing by more than this factor are intersected by galloping.
const GALLOP_RATIO: usize = 16;

/// Paragraph counts of both texts of a pair fit on the stack up to this many paragraphs each.
const STACK_PARAGRAPHS: usize = 96;

/// Counts the hashes `small` and `large` share (both sorted, distinct hashes), adding one to the
/// paragraph of each side per shared hash. Returns how many are shared.
fn intersect(small: Side, large: Side, at_small: &mut [u32], at_large: &mut [u32]) -> u32 {
    let mut shared = 0u32;
    if small.hashes.len() * GALLOP_RATIO < large.hashes.len() {
        // Each hash of the short side is searched for in the rest of the long one.
        let mut start = 0usize;
        for (i, &x) in small.hashes.iter().enumerate() {
            let rest = &large.hashes[start..];
            // Exponential search: the first entry not below `x` is in `lo..end`.
            let mut bound = 1;
            while bound < rest.len() && rest[bound - 1] < x {
                bound *= 2;
            }
            let (lo, end) = (bound / 2, bound.min(rest.len()));
            start += lo + rest[lo..end].partition_point(|&y| y < x);
            match large.hashes.get(start) {
                None => break,
                Some(&y) if y == x => {
                    shared += 1;
                    at_small[small.paragraph_of.get(i)] += 1;
                    at_large[large.paragraph_of.get(start)] += 1;
                    start += 1;
                }
                Some(_) => {}
            }
        }
        return shared;
    }
    #[cfg(target_arch = "x86_64")]
    {
        MERGE_FOUND.with(|found| match found.try_borrow_mut() {
            Ok(mut found) => {
                let (fs, fl) = &mut *found;
                merge_blocks(small, large, at_small, at_large, fs, fl)
            }
            Err(_) => merge_blocks(
                small,
                large,
                at_small,
                at_large,
                &mut Vec::new(),
                &mut Vec::new(),
            ),
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    MERGE_PAIRS.with(|pairs| match pairs.try_borrow_mut() {
        Ok(mut pairs) => merge_chains(small, large, at_small, at_large, &mut pairs),
        Err(_) => merge_chains(small, large, at_small, at_large, &mut Vec::new()),
    })
}

thread_local! {
    /// The positions of shared hashes on each side, reused from one merge to the next.
    static MERGE_FOUND: std::cell::RefCell<(Vec<u32>, Vec<u32>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// The merge of two sorted, distinct hash lists by blocks of four a side, counting shared
/// hashes per paragraph: one SSE2 step compares a block of each side all against all (four
/// compares of one block with the rotations of the other) and moves past the block (or both)
/// whose last hash is smaller, without a branch. A step covers up to eight hashes where a
/// scalar merge step covers one or two, and its outcome (which side moves) is data, so it does
/// not mispredict. Blocks are compared in the order a merge meets them, so a shared hash is seen
/// in exactly one step. The positions of the shared hashes are gathered per side and their
/// paragraphs counted afterwards; the last blocks (fewer than four hashes) are merged one by one.
#[cfg(target_arch = "x86_64")]
fn merge_blocks(
    small: Side,
    large: Side,
    at_small: &mut [u32],
    at_large: &mut [u32],
    found_small: &mut Vec<u32>,
    found_large: &mut Vec<u32>,
) -> u32 {
    use std::arch::x86_64::{
        _mm_castsi128_ps, _mm_cmpeq_epi32, _mm_loadu_si128, _mm_movemask_ps, _mm_or_si128,
        _mm_shuffle_epi32,
    };
    let (a, b) = (small.hashes, large.hashes);
    // A step writes four positions a side and keeps those of the shared hashes (no branch on
    // how many): room for the shared hashes and one step more. Every slot read back was written
    // first, so the buffers are only grown, never cleared.
    let room = a.len().min(b.len()) + 4;
    for found in [&mut *found_small, &mut *found_large] {
        if found.len() < room {
            found.resize(room, 0);
        }
    }
    let (fs, fl) = (&mut found_small[..room], &mut found_large[..room]);
    // `n` and `m`: positions gathered on each side (equal after a whole step).
    let (mut i, mut j, mut n, mut m) = (0usize, 0usize, 0usize, 0usize);
    // One side is usually a profile indexed long ago and out of the caches, and each step waits
    // on its loads: its paragraph numbers (read after the merge) are asked for now, and its
    // hashes a few lines ahead of each step.
    small.paragraph_of.prefetch();
    large.paragraph_of.prefetch();
    while let (Some(x), Some(y)) = (a.get(i..i + 4), b.get(j..j + 4)) {
        prefetch(a.as_ptr().wrapping_add(i + PREFETCH_AHEAD));
        prefetch(b.as_ptr().wrapping_add(j + PREFETCH_AHEAD));
        // SAFETY: SSE2 is part of every x86_64 CPU; each load reads the four `u32`s of a slice
        // of length four (unaligned loads).
        let (ma, mb) = unsafe {
            let va = _mm_loadu_si128(x.as_ptr().cast());
            let vb = _mm_loadu_si128(y.as_ptr().cast());
            // `ck` lane l: a[l] == b[(l + k) % 4].
            let c0 = _mm_cmpeq_epi32(va, vb);
            let c1 = _mm_cmpeq_epi32(va, _mm_shuffle_epi32::<0x39>(vb));
            let c2 = _mm_cmpeq_epi32(va, _mm_shuffle_epi32::<0x4E>(vb));
            let c3 = _mm_cmpeq_epi32(va, _mm_shuffle_epi32::<0x93>(vb));
            let on_a = _mm_or_si128(_mm_or_si128(c0, c1), _mm_or_si128(c2, c3));
            // The same compares in b's lanes: lane m of `ck` rotated back by k.
            let on_b = _mm_or_si128(
                _mm_or_si128(c0, _mm_shuffle_epi32::<0x93>(c1)),
                _mm_or_si128(_mm_shuffle_epi32::<0x4E>(c2), _mm_shuffle_epi32::<0x39>(c3)),
            );
            (
                _mm_movemask_ps(_mm_castsi128_ps(on_a)) as u32,
                _mm_movemask_ps(_mm_castsi128_ps(on_b)) as u32,
            )
        };
        // At most `min(i, j)` hashes were shared so far: `n + 4 <= room` and `m + 4 <= room`.
        if let (Some(ws), Some(wl)) = (fs.get_mut(n..n + 4), fl.get_mut(m..m + 4)) {
            n += compact(ws, i, ma);
            m += compact(wl, j, mb);
        }
        let (x3, y3) = (x[3], y[3]);
        i += 4 * (x3 <= y3) as usize;
        j += 4 * (y3 <= x3) as usize;
    }
    debug_assert_eq!(n, m);
    while let (Some(&x), Some(&y)) = (a.get(i), b.get(j)) {
        if let (Some(ws), Some(wl)) = (fs.get_mut(n), fl.get_mut(n)) {
            (*ws, *wl) = (i as u32, j as u32);
        }
        n += (x == y) as usize;
        i += (x <= y) as usize;
        j += (y <= x) as usize;
    }
    let m = n.min(room);
    small
        .paragraph_of
        .count(0, fs[..m].iter().map(|&p| p as usize), at_small);
    large
        .paragraph_of
        .count(0, fl[..m].iter().map(|&p| p as usize), at_large);
    m as u32
}

/// Hashes ahead of a merge step whose cache line [`merge_blocks`] asks for (four lines).
#[cfg(target_arch = "x86_64")]
const PREFETCH_AHEAD: usize = 64;

/// Asks the CPU to fetch the cache line holding `p` (a hint: nothing is read, and an address
/// past the end of the data does not fault).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn prefetch<T>(p: *const T) {
    // SAFETY: a prefetch never faults and reads nothing into the program.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
}

/// Writes `base + k` for each bit k set in the four-bit `mask` to the front of `window`, without
/// a branch (every lane is written, the cursor moves only past the kept ones); returns how many.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn compact(window: &mut [u32], base: usize, mask: u32) -> usize {
    let mut at = 0usize;
    for k in 0..4 {
        if let Some(slot) = window.get_mut(at) {
            *slot = (base + k) as u32;
        }
        at += (mask >> k & 1) as usize;
    }
    at
}

#[cfg(any(test, not(target_arch = "x86_64")))]
thread_local! {
    /// The positions of shared entries, reused from one merge to the next (per thread).
    static MERGE_PAIRS: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(any(test, not(target_arch = "x86_64")))]
/// Independent merges [`merge_chains`] runs side by side, one per range of hash values.
const CHAINS: usize = 4;

#[cfg(any(test, not(target_arch = "x86_64")))]
/// The merge of two sorted, distinct hash lists, counting shared hashes per paragraph.
///
/// A merge step depends on the one before (which side moved), so one merge runs at the speed of
/// a load and a compare per step. The hash range is split in [`CHAINS`] parts instead (hashes
/// are uniform, so the parts are about equal) and the parts are merged in one loop, their steps
/// independent of each other. Each step is branch-free: which side moves and whether the hashes
/// are equal are data (the outcome of each comparison is random, so branches would mispredict).
/// A step writes the positions it is at, in its chain, at the chain's end of `pairs` and keeps
/// them only when the hashes are equal; the paragraph counts are added afterwards (adding them
/// in the loop would chain the steps through loads and stores of the same counters).
fn merge_chains(
    small: Side,
    large: Side,
    at_small: &mut [u32],
    at_large: &mut [u32],
    pairs: &mut Vec<u64>,
) -> u32 {
    let (sh, lh) = (small.hashes, large.hashes);
    // Every slot a chain reads back was written by it first, so the buffer is only grown, never
    // cleared (zeroing it took a tenth of the merge).
    if pairs.len() < sh.len() {
        pairs.resize(sh.len(), 0);
    }
    // Chain `c` merges the hashes in `[c, c + 1) << 30`: `sh[si[c]..si[c + 1]]` with
    // `lh[lj[c]..lj[c + 1]]`, its pairs written from `pairs[si[c]]` on (a chain finds at
    // most as many pairs as it has small entries, so the chains never overlap).
    // Hashes are uniform, so the split of `v` at `c << 30` is near `c / CHAINS` of its length:
    // a short walk from there (a binary search would miss the cache at every step of it).
    let split = |v: &[u32], c: usize| {
        let bound = (c as u64) << 30;
        let mut p = v.len() * c / CHAINS;
        while p > 0 && v[p - 1] as u64 >= bound {
            p -= 1;
        }
        while p < v.len() && (v[p] as u64) < bound {
            p += 1;
        }
        p
    };
    let (mut si, mut lj) = ([0usize; CHAINS + 1], [0usize; CHAINS + 1]);
    (si[CHAINS], lj[CHAINS]) = (sh.len(), lh.len());
    for c in 1..CHAINS {
        si[c] = split(sh, c);
        lj[c] = split(lh, c);
    }
    // Each chain on its own slices: the check that a chain has entries left is then the bounds
    // check of its loads (indexing the whole lists cost two more compares and branches a step).
    let (s0, s1, s2, s3) = (
        &sh[si[0]..si[1]],
        &sh[si[1]..si[2]],
        &sh[si[2]..si[3]],
        &sh[si[3]..si[4]],
    );
    let (l0, l1, l2, l3) = (
        &lh[lj[0]..lj[1]],
        &lh[lj[1]..lj[2]],
        &lh[lj[2]..lj[3]],
        &lh[lj[3]..lj[4]],
    );
    let (p0, rest) = pairs[..sh.len()].split_at_mut(si[1]);
    let (p1, rest) = rest.split_at_mut(si[2] - si[1]);
    let (p2, p3) = rest.split_at_mut(si[3] - si[2]);
    // The chains' cursors as plain locals (kept in registers): `(i, j, found)` per chain.
    let (mut c0, mut c1, mut c2, mut c3) = ((0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0));
    // All chains in step while every one has entries left on both sides. A step that ran while
    // another chain had ended is not kept: the tail below runs it again from the same cursor,
    // writing the same pair into the same slot.
    while let (Some(n0), Some(n1), Some(n2), Some(n3)) = (
        merge_step(s0, l0, p0, c0),
        merge_step(s1, l1, p1, c1),
        merge_step(s2, l2, p2, c2),
        merge_step(s3, l3, p3, c3),
    ) {
        (c0, c1, c2, c3) = (n0, n1, n2, n3);
    }
    // ...then each one to its end.
    let mut shared = 0u32;
    for (k, (s, l, p, mut c)) in [
        (s0, l0, p0, c0),
        (s1, l1, p1, c1),
        (s2, l2, p2, c2),
        (s3, l3, p3, c3),
    ]
    .into_iter()
    .enumerate()
    {
        while let Some(next) = merge_step(s, l, p, c) {
            c = next;
        }
        let found = &p[..c.2];
        let at = |shift: u32| {
            found
                .iter()
                .map(move |&pair| (pair >> shift & LOW) as usize)
        };
        small.paragraph_of.count(si[k], at(32), at_small);
        large.paragraph_of.count(lj[k], at(0), at_large);
        shared += c.2 as u32;
    }
    shared
}

#[cfg(any(test, not(target_arch = "x86_64")))]
/// One step of a chain of [`merge_chains`] from cursor `(i, j, found)`: branch-free, which
/// side moves and whether the hashes are equal are data (the outcome of each comparison is
/// random, so branches would mispredict). `None` once either side is used up.
#[inline(always)]
fn merge_step(
    small: &[u32],
    large: &[u32],
    pairs: &mut [u64],
    (i, j, f): (usize, usize, usize),
) -> Option<(usize, usize, usize)> {
    let (&x, &y) = (small.get(i)?, large.get(j)?);
    // `f <= i < small.len() == pairs.len()`: the slot is always there.
    if let Some(slot) = pairs.get_mut(f) {
        *slot = (i as u64) << 32 | j as u64;
    }
    Some((
        i + (x <= y) as usize,
        j + (y <= x) as usize,
        f + (x == y) as usize,
    ))
}

/// A page's shingles in ascending order: the matched entries and the set-aside ones merged.
struct PageShingles<'a> {
    entries: &'a [u32],
    aside: &'a [u32],
}

impl<'a> PageShingles<'a> {
    fn new(p: &'a Profile) -> Self {
        PageShingles {
            entries: &p.hashes,
            aside: &p.aside,
        }
    }
}

impl Iterator for PageShingles<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        let e = self.entries.first().copied();
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
        assert!((first.page_jaccard_estimate(&second) - 1.0).abs() < 1e-6);
        assert!(first.page_jaccard_estimate(&other) < 0.1);
    }

    /// What the build did before the bucket sort: a stable sort on the hash, then the first of
    /// each run of one hash.
    fn stable_first(v: &[u64]) -> Vec<u64> {
        let mut expected = v.to_vec();
        expected.sort_by_key(|e| e >> 32);
        expected.dedup_by(|later, first| *later >> 32 == *first >> 32);
        expected
    }

    #[test]
    fn bucket_sort_keeps_the_first_paragraph_of_each_hash() {
        let mut state = 99u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state
        };
        for n in [0usize, 1, 63, 64, 65, 700, 5000, MAX_PROFILE_SHINGLES] {
            // Paragraph numbers grow in text order; some hashes repeat in later paragraphs.
            let mut v: Vec<u64> = Vec::with_capacity(n);
            for i in 0..n {
                let h = if i > 10 && next() % 7 == 0 {
                    v[(next() % i as u64) as usize] & HIGH
                } else {
                    next() & HIGH
                };
                v.push(h | (i / 9) as u64);
            }
            let (mut out, mut counts) = (vec![0; v.len()], Vec::new());
            let repeats = sort_entries(&v, &mut out, &mut counts);
            let before = out.len();
            out.dedup_by(|later, first| *later >> 32 == *first >> 32);
            assert!(
                repeats || out.len() == before,
                "n = {n}: a repeat went unseen"
            );
            assert_eq!(out, stable_first(&v), "n = {n}");
        }
        // Degenerate hashes (all in one bucket) take the comparison sort.
        let v: Vec<u64> = (0..3000u64)
            .map(|i| ((i * 7919) % 3001) << 32 | i)
            .collect();
        let (mut out, mut counts) = (vec![0; v.len()], Vec::new());
        assert!(sort_entries(&v, &mut out, &mut counts));
        out.dedup_by(|later, first| *later >> 32 == *first >> 32);
        assert_eq!(out, stable_first(&v));
    }

    /// The merge pass as it was: both sides walked in step, paragraph counts in vectors.
    fn overlap_by_merge(p: &Profile, q: &Profile) -> (u32, Vec<u32>, Vec<u32>) {
        let (mut sa, mut sb) = (
            vec![0u32; p.paragraphs.len()],
            vec![0u32; q.paragraphs.len()],
        );
        let (a, b): (Vec<u64>, Vec<u64>) = (p.entries().collect(), q.entries().collect());
        let (mut i, mut j, mut shared) = (0, 0, 0);
        while i < a.len() && j < b.len() {
            let (x, y) = (a[i] >> 32, b[j] >> 32);
            if x < y {
                i += 1;
            } else if y < x {
                j += 1;
            } else {
                shared += 1;
                sa[(a[i] & LOW) as usize] += 1;
                sb[(b[j] & LOW) as usize] += 1;
                i += 1;
                j += 1;
            }
        }
        (shared, sa, sb)
    }

    #[test]
    fn galloping_and_merging_agree_with_the_plain_merge() {
        // Sizes from equal to 1:60, paragraph counts below and above the stack buffers.
        for (small, large, per) in [(40, 40, 10), (300, 1000, 25), (20, 1200, 6), (5, 300, 1)] {
            let story: Vec<Vec<u64>> = (0..large / per).map(|i| para(i * 1000, per)).collect();
            let mut stub: Vec<Vec<u64>> =
                (0..small / per).map(|i| para(i * 1000 + 3, per)).collect();
            stub.push(para(999_999, 7));
            let (p, q) = (profile(&stub), profile(&story));
            for (x, y) in [(&p, &q), (&q, &p), (&p, &p)] {
                let o = x.overlap(y);
                let (shared, sa, sb) = overlap_by_merge(x, y);
                assert_eq!(o.shared, shared);
                assert_eq!(o.lead_offset_a, lead_span(&x.paragraphs, &sa).0);
                assert_eq!(o.lead_offset_b, lead_span(&y.paragraphs, &sb).0);
            }
        }
    }

    /// `merge_chains` (the merge off x86_64) against the plain merge.
    fn chains_count(p: &Profile, q: &Profile) -> (u32, Vec<u32>, Vec<u32>) {
        let (mut sa, mut sb) = (
            vec![0u32; p.paragraphs.len()],
            vec![0u32; q.paragraphs.len()],
        );
        let shared = merge_chains(p.side(), q.side(), &mut sa, &mut sb, &mut Vec::new());
        (shared, sa, sb)
    }

    proptest::proptest! {
        /// The block merge, the chained merge and galloping give the plain merge's counts on
        /// random texts that share random paragraphs.
        #[test]
        fn overlap_agrees_with_the_plain_merge(
            a in proptest::collection::vec((0u64..40, 1u64..60), 0..40),
            b in proptest::collection::vec((0u64..40, 1u64..60), 0..40),
        ) {
            let paras = |v: &[(u64, u64)]| -> Vec<Vec<u64>> {
                v.iter().map(|&(base, n)| para(base * 1000, n)).collect()
            };
            let (p, q) = (profile(&paras(&a)), profile(&paras(&b)));
            for (x, y) in [(&p, &q), (&q, &p), (&p, &p)] {
                let o = x.overlap(y);
                let expected = overlap_by_merge(x, y);
                // Both merges, whichever one `overlap` uses on this machine.
                proptest::prop_assert_eq!(chains_count(x, y), expected.clone());
                #[cfg(target_arch = "x86_64")]
                {
                    let (mut sa, mut sb) = (
                        vec![0u32; x.paragraphs.len()],
                        vec![0u32; y.paragraphs.len()],
                    );
                    let shared = merge_blocks(
                        x.side(), y.side(), &mut sa, &mut sb, &mut Vec::new(), &mut Vec::new(),
                    );
                    proptest::prop_assert_eq!((shared, sa, sb), expected.clone());
                }
                let (shared, sa, sb) = expected;
                proptest::prop_assert_eq!(o.shared, shared);
                proptest::prop_assert_eq!(
                    (o.lead_offset_a, o.lead_coverage_a),
                    lead_span(&x.paragraphs, &sa)
                );
                proptest::prop_assert_eq!(
                    (o.lead_offset_b, o.lead_coverage_b),
                    lead_span(&y.paragraphs, &sb)
                );
            }
        }
    }

    #[test]
    fn paragraph_numbers_take_the_width_the_paragraph_count_needs() {
        // A shared paragraph after 300 or 70,000 empty ones: numbers past one or two bytes.
        for empty in [0usize, 255, 300, 70_000] {
            let (lead, body) = (para(0, 30), para(100, 30));
            let mut parts: Vec<(&[u64], u32)> = vec![(&lead[..], 34)];
            parts.extend(std::iter::repeat_n((&[][..], 2), empty));
            parts.push((&body[..], 34));
            let p = Profile::build(&parts);
            let width = match p.paragraph_of {
                ParagraphOf::U8(_) => 1,
                ParagraphOf::U16(_) => 2,
                ParagraphOf::U32(_) => 4,
            };
            let expected = match empty + 2 {
                n if n <= 256 => 1,
                n if n <= 65_536 => 2,
                _ => 4,
            };
            assert_eq!(width, expected, "{empty} empty paragraphs");
            assert_eq!(p.paragraphs()[0].shingles, 30);
            assert_eq!(p.paragraphs()[empty + 1].shingles, 30);
            assert!(p.entries().any(|e| (e & LOW) as usize == empty + 1));
            let q = profile(std::slice::from_ref(&body));
            let o = q.overlap(&p);
            let (shared, sa, sb) = overlap_by_merge(&q, &p);
            assert_eq!((o.shared, o.lead_offset_a), (shared, Some(0)));
            assert_eq!(o.lead_offset_b, lead_span(&p.paragraphs, &sb).0);
            assert_eq!(sa, vec![30]);
            assert_eq!(sb[empty + 1], 30);
            // (Stored profiles hold at most `4 * MAX_PROFILE_SHINGLES` paragraphs.)
            if empty + 2 <= 4 * MAX_PROFILE_SHINGLES {
                let mut bytes = Vec::new();
                p.write_bytes(&mut bytes);
                let back = Profile::read_bytes(&bytes).map(|(b, _)| b);
                assert!(back.as_ref() == Some(&p), "{empty} empty paragraphs");
            }
        }
    }

    #[test]
    fn serde_keeps_the_layout_of_one_u64_per_entry() {
        let p = profile(&[para(0, 30), para(40, 10)]).with_digest_page(true);
        let json = serde_json::to_value(&p).expect("serialises");
        let entries: Vec<u64> = serde_json::from_value(json["entries"].clone()).expect("entries");
        assert_eq!(entries, p.entries().collect::<Vec<_>>());
        assert_eq!(entries[0] >> 32, p.hashes[0] as u64);
        let back: Profile = serde_json::from_value(json.clone()).expect("deserialises");
        assert_eq!(back, p);
        // A paragraph number past the paragraphs is refused, not kept to panic later.
        let mut bad = json;
        bad["entries"][0] = serde_json::json!(entries[0] | 7);
        assert!(serde_json::from_value::<Profile>(bad).is_err());
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
