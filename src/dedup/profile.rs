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
}

/// How two profiles overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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
        }
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
        self.entries.capacity() * 8 + self.paragraphs.capacity() * 8 + self.anchors.capacity() * 4
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
        Overlap {
            shared,
            a: a.len() as u32,
            b: b.len() as u32,
            lead_offset_a: lead_offset(&self.paragraphs, &shared_a),
            lead_offset_b: lead_offset(&other.paragraphs, &shared_b),
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

/// Lead shingles before the first lead paragraph at least half of whose shingles are shared.
fn lead_offset(paragraphs: &[ProfileParagraph], shared: &[u32]) -> Option<u32> {
    let mut before = 0u32;
    for (p, &s) in paragraphs.iter().zip(shared) {
        if !p.lead || p.shingles == 0 {
            continue;
        }
        if s * 2 >= p.shingles {
            return Some(before);
        }
        before += p.shingles;
    }
    None
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
