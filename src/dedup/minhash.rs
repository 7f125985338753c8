//! MinHash signatures over shingle hashes.
//!
//! Two schemes, chosen by `dedup.scheme` and measured side by side in `benches/engine.rs`:
//! - **OPH** (default): one permutation hashing with optimal densification (Shrivastava, ICML
//!   2017). Each shingle hash is touched once: its high bits pick a slot, its low bits compete
//!   for that slot's minimum; empty slots borrow from a pseudo-randomly probed filled slot, the
//!   same probe sequence for every text, so equal slots still mean "same minimum".
//! - **Multiply-shift**: classic MinHash, one `(a·h + b) >> 32` hash per slot per shingle.
//!
//! Both give an unbiased estimate of the Jaccard similarity of the shingle sets: the share of
//! equal slots.

use serde::{Deserialize, Serialize};

use crate::config::SignatureScheme;

use std::sync::Arc;

use super::profile::Profile;

/// The signature of one text plus what the match rule needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// One minimum per slot.
    pub sig: Vec<u32>,
    /// Shingles that went into the signature (set-aside paragraphs excluded).
    pub shingles: u32,
    /// Words of matched text: "fullest text" when choosing a canonical.
    pub words: u32,
    /// The exact shingle set with paragraph positions (empty in signatures stored by versions
    /// before profiles existed: those pairs fall back to the MinHash estimate). Shared, so the
    /// engine keeps it without copying.
    pub profile: Arc<Profile>,
    /// Identity keys of the text's paragraphs long enough to count as prose, for the engine's
    /// cross-story recurrence counts (persisted, so a restart rebuilds the counts).
    pub paragraph_keys: Vec<u64>,
}

/// Set in the slot-count word of [`Fingerprint::to_bytes`] when a profile follows the slots.
const PROFILE_FLAG: u32 = 0x8000_0000;
/// Set as well when the paragraph keys follow the profile.
const KEYS_FLAG: u32 = 0x4000_0000;
/// Set as well when the profile's set-aside shingles follow the keys.
const ASIDE_FLAG: u32 = 0x2000_0000;
/// Set when the text is a digest page ([`Profile::with_digest_page`]); no payload.
const DIGEST_FLAG: u32 = 0x1000_0000;
/// Set when the text is a live blog ([`Profile::with_live_blog`]); no payload.
const LIVE_FLAG: u32 = 0x0800_0000;

impl Fingerprint {
    /// True when the text had no words: such a text matches nothing.
    pub fn is_empty(&self) -> bool {
        self.shingles == 0
    }

    /// Estimated Jaccard similarity of two fingerprints' shingle sets.
    pub fn jaccard(&self, other: &Fingerprint) -> f32 {
        self.equal_share(other, |a, b| a == b)
    }

    /// The same estimate over 16-bit truncated slots, as the engine keeps them in memory.
    pub fn jaccard16(&self, other: &Fingerprint) -> f32 {
        self.equal_share(other, |a, b| a as u16 == b as u16)
    }

    /// Share of slots that `equal` calls equal (0 when either text is empty).
    fn equal_share(&self, other: &Fingerprint, equal: impl Fn(u32, u32) -> bool) -> f32 {
        if self.is_empty() || other.is_empty() || self.sig.len() != other.sig.len() {
            return 0.0;
        }
        let n = self
            .sig
            .iter()
            .zip(&other.sig)
            .filter(|(a, b)| equal(**a, **b))
            .count();
        n as f32 / self.sig.len() as f32
    }

    /// Serialises to bytes for storage, all little-endian: shingles, words, slot count (with
    /// flag bits: a profile follows, paragraph keys follow), the slots, the profile, then the
    /// number of paragraph keys and the keys.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + 4 * self.sig.len() + 8 * self.profile.len() + 64);
        out.extend_from_slice(&self.shingles.to_le_bytes());
        out.extend_from_slice(&self.words.to_le_bytes());
        let mut flags = PROFILE_FLAG | KEYS_FLAG | ASIDE_FLAG;
        if self.profile.is_digest_page() {
            flags |= DIGEST_FLAG;
        }
        if self.profile.is_live_blog() {
            flags |= LIVE_FLAG;
        }
        out.extend_from_slice(&(self.sig.len() as u32 | flags).to_le_bytes());
        for v in &self.sig {
            out.extend_from_slice(&v.to_le_bytes());
        }
        self.profile.write_bytes(&mut out);
        out.extend_from_slice(&(self.paragraph_keys.len() as u32).to_le_bytes());
        for k in &self.paragraph_keys {
            out.extend_from_slice(&k.to_le_bytes());
        }
        let aside = self.profile.aside();
        out.extend_from_slice(&(aside.len() as u32).to_le_bytes());
        for h in aside {
            out.extend_from_slice(&h.to_le_bytes());
        }
        out
    }

    /// The inverse of [`Fingerprint::to_bytes`]; `None` if the bytes are not a fingerprint.
    /// Also reads the older layout (slots followed by a lead sketch, no profile).
    pub fn from_bytes(bytes: &[u8]) -> Option<Fingerprint> {
        if bytes.len() < 12 || bytes.len() % 4 != 0 {
            return None;
        }
        let word =
            |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let flagged = word(8);
        let slots =
            (flagged & !(PROFILE_FLAG | KEYS_FLAG | ASIDE_FLAG | DIGEST_FLAG | LIVE_FLAG)) as usize;
        let sig_end = 12usize.checked_add(slots.checked_mul(4)?)?;
        if bytes.len() < sig_end {
            return None;
        }
        let sig: Vec<u32> = (12..sig_end).step_by(4).map(word).collect();
        let mut at = sig_end;
        let mut profile = if flagged & PROFILE_FLAG != 0 {
            let (profile, used) = Profile::read_bytes(&bytes[sig_end..])?;
            at += used;
            Some(profile)
        } else {
            None
        };
        let mut paragraph_keys = Vec::new();
        if flagged & KEYS_FLAG != 0 {
            let n = bytes.get(at..at + 4).map(|_| word(at))? as usize;
            at += 4;
            let end = at.checked_add(n.checked_mul(8)?)?;
            let keys = bytes.get(at..end)?;
            paragraph_keys = keys
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect();
            at = end;
        }
        if flagged & ASIDE_FLAG != 0 {
            let n = bytes.get(at..at + 4).map(|_| word(at))? as usize;
            at += 4;
            let end = at.checked_add(n.checked_mul(4)?)?;
            let aside: Vec<u32> = bytes
                .get(at..end)?
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            profile = Some(profile?.with_aside_sorted(aside)?);
            at = end;
        }
        if flagged & PROFILE_FLAG != 0 && at != bytes.len() {
            return None;
        }
        let profile = profile
            .unwrap_or_default()
            .with_digest_page(flagged & DIGEST_FLAG != 0)
            .with_live_blog(flagged & LIVE_FLAG != 0);
        let profile = Arc::new(profile);
        Some(Fingerprint {
            shingles: word(0),
            words: word(4),
            sig,
            profile,
            paragraph_keys,
        })
    }
}

const EMPTY: u32 = u32::MAX;

/// splitmix64: a fixed, well-mixed sequence for the hash family's parameters.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[inline]
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// Computes signatures. Deterministic: the same settings give the same signature on any machine.
#[derive(Debug, Clone)]
pub struct Signer {
    scheme: SignatureScheme,
    slots: usize,
    a: Vec<u64>,
    b: Vec<u64>,
}

impl Signer {
    pub fn new(scheme: SignatureScheme, slots: usize) -> Self {
        let slots = slots.max(1);
        let mut state = 0x5EED_5EED_5EED_5EEDu64;
        let (a, b) = match scheme {
            SignatureScheme::Oph => (Vec::new(), Vec::new()),
            SignatureScheme::MultiplyShift => (0..slots)
                .map(|_| (splitmix64(&mut state) | 1, splitmix64(&mut state)))
                .unzip(),
        };
        Signer {
            scheme,
            slots,
            a,
            b,
        }
    }

    pub fn slots(&self) -> usize {
        self.slots
    }

    pub fn scheme(&self) -> SignatureScheme {
        self.scheme
    }

    /// Signs the union of the given shingle slices. `words` is recorded for canonical selection.
    /// The fingerprint has no profile; [`super::Engine::fingerprint`] adds it.
    pub fn sign<'a>(&self, parts: impl IntoIterator<Item = &'a [u64]>, words: u32) -> Fingerprint {
        let mut sig = vec![EMPTY; self.slots];
        let mut count = 0usize;
        match self.scheme {
            SignatureScheme::Oph => {
                let k = self.slots as u64;
                for part in parts {
                    count += part.len();
                    for &h in part {
                        let slot = (((h >> 32) * k) >> 32) as usize;
                        // A branchless min: about a third of the compares lower the slot, in no
                        // pattern a branch predictor can follow.
                        if let Some(s) = sig.get_mut(slot) {
                            *s = (*s).min(h as u32);
                        }
                    }
                }
                if count > 0 {
                    densify(&mut sig);
                }
            }
            SignatureScheme::MultiplyShift => {
                for part in parts {
                    count += part.len();
                    for &h in part {
                        for ((slot, &a), &b) in sig.iter_mut().zip(&self.a).zip(&self.b) {
                            let v = (a.wrapping_mul(h).wrapping_add(b) >> 32) as u32;
                            *slot = (*slot).min(v);
                        }
                    }
                }
            }
        }
        Fingerprint {
            sig,
            shingles: count.min(u32::MAX as usize) as u32,
            words,
            profile: Arc::default(),
            paragraph_keys: Vec::new(),
        }
    }
}

/// Optimal densification: each empty slot takes the value of the first filled slot on its own
/// fixed pseudo-random probe sequence (probing the original, not the already densified, slots).
fn densify(sig: &mut [u32]) {
    let k = sig.len() as u64;
    let filled: Vec<bool> = sig.iter().map(|&v| v != EMPTY).collect();
    if filled.iter().all(|&f| f) {
        return;
    }
    let original = sig.to_vec();
    for (i, slot) in sig.iter_mut().enumerate() {
        if filled[i] {
            continue;
        }
        let mut attempt = 0u64;
        loop {
            let h = fmix64((i as u64) << 32 ^ attempt ^ 0xD1B5_4A32_D192_ED03);
            let j = (((h >> 32) * k) >> 32) as usize;
            if filled[j] {
                *slot = original[j];
                break;
            }
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn set(range: std::ops::Range<u64>) -> Vec<u64> {
        range.map(|i| fmix64(i ^ 0xABCD)).collect()
    }

    fn exact_jaccard(a: &[u64], b: &[u64]) -> f64 {
        let sa: HashSet<_> = a.iter().collect();
        let sb: HashSet<_> = b.iter().collect();
        sa.intersection(&sb).count() as f64 / sa.union(&sb).count() as f64
    }

    /// Estimates within ±0.1 of the exact Jaccard on random pairs across the whole 0..1 range,
    /// for both schemes, on large and small sets.
    #[test]
    fn estimate_is_honest_across_the_range() {
        let mut rng = 7u64;
        for scheme in [SignatureScheme::Oph, SignatureScheme::MultiplyShift] {
            let signer = Signer::new(scheme, 128);
            let mut within = 0;
            let mut total = 0;
            let mut worst: f64 = 0.0;
            for trial in 0..400u64 {
                let size = 20 + splitmix64(&mut rng) % 1500;
                let overlap = splitmix64(&mut rng) % (size + 1);
                let base = trial * 1_000_000;
                let a = set(base..base + size);
                let b = set(base + size - overlap..base + 2 * size - overlap);
                let exact = exact_jaccard(&a, &b);
                let est = signer.sign([&a[..]], 0).jaccard(&signer.sign([&b[..]], 0)) as f64;
                let err = (est - exact).abs();
                worst = worst.max(err);
                if err <= 0.1 {
                    within += 1;
                }
                total += 1;
            }
            // 0.1 is about 2.3 standard deviations at J = 0.5 with 128 slots.
            assert!(
                within as f64 >= 0.97 * total as f64,
                "{scheme:?}: {within}/{total}"
            );
            assert!(worst < 0.2, "{scheme:?}: worst error {worst}");
        }
    }

    #[test]
    fn identical_and_disjoint() {
        let s = Signer::new(SignatureScheme::Oph, 128);
        let a = s.sign([&set(0..500)[..]], 0);
        let b = s.sign([&set(0..500)[..]], 0);
        let c = s.sign([&set(1000..1500)[..]], 0);
        assert_eq!(a.jaccard(&b), 1.0);
        assert!(a.jaccard(&c) < 0.05);
    }

    #[test]
    fn tiny_sets_get_a_usable_signature() {
        let s = Signer::new(SignatureScheme::Oph, 128);
        let one = s.sign([&set(0..1)[..]], 1);
        assert!(one.sig.iter().all(|&v| v != EMPTY));
        assert_eq!(one.jaccard(&s.sign([&set(0..1)[..]], 1)), 1.0);
        assert_eq!(one.jaccard(&s.sign([&set(5..6)[..]], 1)), 0.0);
        let empty = s.sign(std::iter::empty::<&[u64]>(), 0);
        assert!(empty.is_empty());
        assert_eq!(empty.jaccard(&empty), 0.0);
    }

    #[test]
    fn bytes_round_trip() {
        let s = Signer::new(SignatureScheme::Oph, 64);
        let f = s.sign([&set(0..50)[..]], 50);
        assert_eq!(Fingerprint::from_bytes(&f.to_bytes()), Some(f.clone()));
        assert_eq!(Fingerprint::from_bytes(&[1, 2, 3]), None);
        let mut with_profile = f.clone();
        let shingles = set(0..50);
        with_profile.profile = Arc::new(Profile::build(&[(&shingles[..], 50)]));
        with_profile.paragraph_keys = vec![7, u64::MAX];
        assert_eq!(
            Fingerprint::from_bytes(&with_profile.to_bytes()),
            Some(with_profile.clone())
        );
        // The layout before set-aside shingles were kept: no flag, no count at the end.
        let mut before_aside = with_profile.to_bytes();
        before_aside.truncate(before_aside.len() - 4);
        let flags = u32::from_le_bytes([
            before_aside[8],
            before_aside[9],
            before_aside[10],
            before_aside[11],
        ]);
        before_aside[8..12].copy_from_slice(&(flags & !ASIDE_FLAG).to_le_bytes());
        assert_eq!(
            Fingerprint::from_bytes(&before_aside),
            Some(with_profile.clone())
        );
        let mut digest_page = with_profile.clone();
        digest_page.profile =
            Arc::new(Profile::build(&[(&shingles[..], 50)]).with_digest_page(true));
        let read = Fingerprint::from_bytes(&digest_page.to_bytes()).expect("reads back");
        assert!(read.profile.is_digest_page());
        assert_eq!(read, digest_page);
        let mut live_blog = with_profile.clone();
        live_blog.profile = Arc::new(Profile::build(&[(&shingles[..], 50)]).with_live_blog(true));
        let read = Fingerprint::from_bytes(&live_blog.to_bytes()).expect("reads back");
        assert!(read.profile.is_live_blog() && !read.profile.is_digest_page());
        assert_eq!(read, live_blog);
        let other = set(100..140);
        let mut with_aside = with_profile.clone();
        with_aside.profile =
            Arc::new(Profile::build(&[(&shingles[..], 50)]).with_aside([&other[..]].into_iter()));
        assert_eq!(with_aside.profile.aside().len(), 40);
        assert_eq!(
            Fingerprint::from_bytes(&with_aside.to_bytes()),
            Some(with_aside.clone())
        );
        // The older layout: slots then a 16-slot lead sketch, no profile.
        let mut old = Vec::new();
        old.extend_from_slice(&f.shingles.to_le_bytes());
        old.extend_from_slice(&f.words.to_le_bytes());
        old.extend_from_slice(&(f.sig.len() as u32).to_le_bytes());
        for v in f.sig.iter().chain(&[7u32; 16]) {
            old.extend_from_slice(&v.to_le_bytes());
        }
        assert_eq!(Fingerprint::from_bytes(&old), Some(f));
    }
}
