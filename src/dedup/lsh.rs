//! Locality-sensitive hashing over signatures: `bands` bands of `rows` slots each. Two texts
//! become candidates when all slots of at least one band agree; every candidate is then verified
//! by the match rule, so the index only has to not miss.
//!
//! Memory is what bounds a long-running index, so buckets are intrusive linked lists: one
//! `u32 → u32` map per band holds the newest document of each bucket, and one `u32` per
//! (document, band) links to the next older one.

/// The band count and rows per band that minimise the (equally weighted) area of false
/// positives below `threshold` plus false negatives above it, for `slots` slots: the rule
/// datasketch uses.
pub fn optimal_bands(threshold: f64, slots: usize) -> (usize, usize) {
    let integrate = |f: &dyn Fn(f64) -> f64, a: f64, b: f64| {
        let steps = 200;
        let h = (b - a) / steps as f64;
        (0..steps)
            .map(|i| {
                let x = a + (i as f64 + 0.5) * h;
                f(x) * h
            })
            .sum::<f64>()
    };
    let mut best = (1, slots);
    let mut best_err = f64::MAX;
    for b in 1..=slots {
        for r in 1..=slots / b {
            let p = |s: f64| 1.0 - (1.0 - s.powi(r as i32)).powi(b as i32);
            let fp = integrate(&p, 0.0, threshold);
            let fnr = integrate(&|s| 1.0 - p(s), threshold, 1.0);
            let err = 0.5 * fp + 0.5 * fnr;
            if err < best_err - 1e-12 {
                best_err = err;
                best = (b, r);
            }
        }
    }
    best
}

use crate::hash::SpreadMap;

const NONE: u32 = u32::MAX;

/// The banded index. Documents are dense `u32` numbers given by the caller in increasing order.
pub struct LshIndex {
    bands: usize,
    rows: usize,
    heads: Vec<SpreadMap<u32, u32>>,
    next: Vec<u32>,
}

impl LshIndex {
    pub fn new(bands: usize, rows: usize) -> Self {
        LshIndex {
            bands: bands.max(1),
            rows: rows.max(1),
            heads: (0..bands.max(1)).map(|_| SpreadMap::default()).collect(),
            next: Vec::new(),
        }
    }

    pub fn bands(&self) -> usize {
        self.bands
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The bucket key of every band of a (16-bit truncated) signature.
    pub fn keys(&self, sig: &[u16], out: &mut Vec<u32>) {
        out.clear();
        for band in 0..self.bands {
            let start = band * self.rows;
            let mut h = 0x243F_6A88_85A3_08D3u64 ^ band as u64;
            for &v in sig.get(start..start + self.rows).unwrap_or(&[]) {
                h = (h ^ v as u64).wrapping_mul(0x0000_0100_0000_01B3);
                h ^= h >> 29;
            }
            h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
            out.push((h >> 32) as u32);
        }
    }

    /// Adds document `doc` (must be one past the last document added, or later).
    pub fn insert(&mut self, doc: u32, keys: &[u32]) {
        let base = doc as usize * self.bands;
        if self.next.len() < base + self.bands {
            self.next.resize(base + self.bands, NONE);
        }
        for (band, &key) in keys.iter().enumerate().take(self.bands) {
            let previous = self.heads[band].insert(key, doc).unwrap_or(NONE);
            self.next[base + band] = previous;
        }
    }

    /// Calls `visit` for the documents sharing a bucket with `keys`, newest first within a band,
    /// at most `per_band` per band. A document may be visited once per shared band.
    pub fn candidates(&self, keys: &[u32], per_band: usize, mut visit: impl FnMut(u32)) {
        for (band, &key) in keys.iter().enumerate().take(self.bands) {
            let mut doc = self.heads[band].get(&key).copied().unwrap_or(NONE);
            let mut walked = 0;
            while doc != NONE && walked < per_band {
                visit(doc);
                walked += 1;
                doc = self
                    .next
                    .get(doc as usize * self.bands + band)
                    .copied()
                    .unwrap_or(NONE);
            }
        }
    }

    /// Forgets every document.
    pub fn clear(&mut self) {
        for h in &mut self.heads {
            h.clear();
        }
        self.next.clear();
    }

    /// Approximate heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        let maps: usize = self
            .heads
            .iter()
            .map(|m| m.capacity() * (std::mem::size_of::<(u32, u32)>() + 1))
            .sum();
        maps + self.next.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optimal_bands_use_the_slots_and_move_with_threshold() {
        let (b, r) = optimal_bands(0.5, 128);
        assert!(b * r <= 128);
        let (b_low, r_low) = optimal_bands(0.3, 128);
        let (b_high, r_high) = optimal_bands(0.8, 128);
        // Lower thresholds need more, shorter bands.
        assert!(b_low > b_high, "{b_low}x{r_low} vs {b_high}x{r_high}");
        assert!(r_low < r_high);
    }

    #[test]
    fn finds_documents_sharing_a_band() {
        let mut idx = LshIndex::new(4, 2);
        let mut keys = Vec::new();
        idx.keys(&[1, 2, 3, 4, 5, 6, 7, 8], &mut keys);
        idx.insert(0, &keys);
        let mut other = Vec::new();
        idx.keys(&[1, 2, 9, 9, 9, 9, 9, 9], &mut other);
        idx.insert(1, &other);
        let mut seen = Vec::new();
        idx.candidates(&keys, 10, |d| seen.push(d));
        seen.sort();
        assert_eq!(seen, vec![0, 0, 0, 0, 1]);
        let mut none = Vec::new();
        idx.keys(&[7, 7, 7, 7, 7, 7, 7, 7], &mut none);
        let mut seen = Vec::new();
        idx.candidates(&none, 10, |d| seen.push(d));
        assert!(seen.is_empty());
    }
}
