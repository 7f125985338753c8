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

const NONE: u32 = u32::MAX;

/// An empty slot of a [`HeadMap`]: key and value both `u32::MAX` (no value is `u32::MAX`).
const EMPTY_SLOT: u64 = u64::MAX;

/// A map from `u32` keys to `u32` values, for the heads of the index's bucket lists: open
/// addressing with linear probing, each entry one `u64` (key in the high half), so a lookup is
/// one cache line, not hashbrown's control byte plus slot. Lookups of one query are made in a
/// pass of their own before the lists are walked, so their cache misses overlap.
/// The value `u32::MAX` is reserved (it marks empty slots); callers store document numbers.
#[derive(Debug, Clone, Default)]
pub struct HeadMap {
    slots: Vec<u64>,
    len: usize,
}

impl HeadMap {
    /// The slot a key's probe starts at (`slots` is a power of two, not empty).
    #[inline]
    fn home(&self, key: u32) -> usize {
        let mixed = (key as u64 ^ 0x5851_F42D).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        mixed as usize & (self.slots.len() - 1)
    }

    /// Probes from `at` for `key`.
    #[inline]
    fn find_from(&self, key: u32, mut at: usize) -> Option<u32> {
        let mask = self.slots.len() - 1;
        loop {
            let s = self.slots[at];
            if s == EMPTY_SLOT {
                return None;
            }
            if (s >> 32) as u32 == key {
                return Some(s as u32);
            }
            at = (at + 1) & mask;
        }
    }

    /// Asks the CPU to fetch the line of `key`'s home slot (a hint: nothing is read). A query
    /// prefetches every key it will look up first, so the misses overlap.
    #[inline]
    pub fn prefetch(&self, key: u32) {
        if self.len == 0 {
            return;
        }
        let slot: *const u64 = &self.slots[self.home(key)];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch never faults and reads nothing into the program; `slot` points into
        // `self.slots` anyway.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(slot.cast());
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = slot;
    }

    pub fn get(&self, key: u32) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        self.find_from(key, self.home(key))
    }

    /// Sets `key` to `value` (not `u32::MAX`); returns the value it had.
    pub fn insert(&mut self, key: u32, value: u32) -> Option<u32> {
        debug_assert_ne!(value, NONE, "u32::MAX marks empty slots");
        // At most three quarters full.
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let entry = (key as u64) << 32 | value as u64;
        let mut at = self.home(key);
        loop {
            let s = self.slots[at];
            if s == EMPTY_SLOT {
                self.slots[at] = entry;
                self.len += 1;
                return None;
            }
            if (s >> 32) as u32 == key {
                self.slots[at] = entry;
                return Some(s as u32);
            }
            at = (at + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY_SLOT; size]);
        let mask = size - 1;
        for s in old.into_iter().filter(|&s| s != EMPTY_SLOT) {
            let mut at = self.home((s >> 32) as u32);
            while self.slots[at] != EMPTY_SLOT {
                at = (at + 1) & mask;
            }
            self.slots[at] = s;
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Empties the map, keeping its memory.
    pub fn clear(&mut self) {
        self.slots.fill(EMPTY_SLOT);
        self.len = 0;
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * 8
    }
}

/// The banded index. Documents are dense `u32` numbers given by the caller in increasing order.
pub struct LshIndex {
    bands: usize,
    rows: usize,
    heads: Vec<HeadMap>,
    next: Vec<u32>,
}

impl LshIndex {
    pub fn new(bands: usize, rows: usize) -> Self {
        LshIndex {
            bands: bands.max(1),
            rows: rows.max(1),
            heads: (0..bands.max(1)).map(|_| HeadMap::default()).collect(),
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
        // The heads first, prefetched, then one load per band, so the misses overlap; then the
        // walks.
        for (band, &key) in keys.iter().enumerate().take(self.bands) {
            self.heads[band].prefetch(key);
        }
        let mut heads = [NONE; 64];
        let firsts = heads.len().min(keys.len()).min(self.bands);
        for (band, (head, &key)) in heads.iter_mut().zip(keys).enumerate().take(firsts) {
            *head = self.heads[band].get(key).unwrap_or(NONE);
        }
        for (band, &key) in keys.iter().enumerate().take(self.bands) {
            let mut doc = match heads.get(band) {
                Some(&h) if band < firsts => h,
                _ => self.heads[band].get(key).unwrap_or(NONE),
            };
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
        let maps: usize = self.heads.iter().map(HeadMap::heap_bytes).sum();
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

    proptest::proptest! {
        /// The head map behaves as a `HashMap` under inserts, overwrites, lookups and clears,
        /// through growth and with colliding keys (few distinct low bits).
        #[test]
        fn head_map_agrees_with_a_hash_map(
            ops in proptest::collection::vec((0u32..4, 0u32..3000, 0u32..1_000_000), 0..3000),
            spread in proptest::bool::ANY,
        ) {
            let mut map = HeadMap::default();
            let mut reference = std::collections::HashMap::new();
            for (op, key, value) in ops {
                let key = if spread { key.wrapping_mul(0x9E37_79B9) } else { key << 3 };
                match op {
                    0 | 1 => proptest::prop_assert_eq!(
                        map.insert(key, value),
                        reference.insert(key, value)
                    ),
                    2 => proptest::prop_assert_eq!(map.get(key), reference.get(&key).copied()),
                    _ if value % 50 == 0 => {
                        map.clear();
                        reference.clear();
                    }
                    _ => {}
                }
                proptest::prop_assert_eq!(map.len(), reference.len());
            }
            for (&k, &v) in &reference {
                proptest::prop_assert_eq!(map.get(k), Some(v));
            }
            proptest::prop_assert_eq!(map.get(u32::MAX), reference.get(&u32::MAX).copied());
        }
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
